# bench_lib.sh - sourced by bench_queue.sh and bench_report.sh: what both
# need to run servers and read figures.  The caller sets W (work dir), PIDS
# (an array: every pid started here is added, for the caller's clean-up)
# and say/die.
#
# cpu_ticks PID - user + system ticks of PID (all its threads); 0 without PID
# start_sluiced NAME SLUICED QBASE NQ VAR=VALUE... - sluiced on QBASE with
#	NQ queues, full sync, a high backlog limit, log $W/sluiced-NAME.log;
#	sets PID_<NAME> (NAME: letters, digits, _)
# start_clamd DBDIR - clamd on $W/clamd.sock with its own $W/clamd.conf,
#	temp dir on /dev/shm when writable (as sluiced's CL_ENGINE_TMPDIR);
#	sets PID_clamd and CLAMTMP (remove it at exit)
# vm_kb PID FIELD - a VmRSS/VmHWM figure of PID in KB, or -
# stop_servers - TERM every pid in PIDS, KILL what is left after 2 s, and
#	remove CLAMTMP (the callers' EXIT trap calls it)
# unset_sluice_env - nothing from the caller's environment may steer the
#	programs: unset SLUICE_*, QHPSI*, QUEUE_* and qmail's queue variables
# AWKLIB - awk functions med(s), mn(s), mx(s) over space-separated numbers

cpu_ticks() {
	local line rest
	[ -n "$1" ] && read -r line <"/proc/$1/stat" || { echo 0; return; }
	rest=${line##*) }
	set -- $rest
	echo $((${12} + ${13}))
}

vm_kb() {
	awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print "-" }' "/proc/$1/status" 2>/dev/null || echo -
}

start_sluiced() {
	local name=$1 bin=$2 qb=$3 nq=$4 log=$W/sluiced-$1.log pid i
	shift 4
	env QUEUE_BASE="$qb" QUEUE_COUNT="$nq" SLUICE_SYNC=full SLUICE_MAX_BACKLOG=100000000 \
		"${AS_USER[@]}" "$@" "$bin" 2>>"$log" </dev/null &
	pid=$!
	PIDS+=("$pid")
	for ((i = 0; i < 1200; i++)); do
		if grep -q '^sluiced: listening on ' "$log" && [ -S "$qb/sluiced.sock" ]; then
			printf -v "PID_$name" %s "$pid"
			say "sluiced ($name) pid $pid: $(grep -m1 '^sluiced: listening on ' "$log")"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || die "sluiced ($name) exited at start: $(cat "$log")"
		sleep 0.05
	done
	die "sluiced ($name) did not listen within 60 s"
}

start_clamd() {
	local clamd i
	clamd=$(command -v clamd || echo /usr/sbin/clamd)
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		CLAMTMP=$(mktemp -d /dev/shm/sluice-bench-clamd.XXXXXX)
	else
		CLAMTMP=$W/clamd-tmp
		mkdir "$CLAMTMP"
	fi
	# No User line: clamd stays the user running this (root here), who can
	# read the queues' mess files.  Defaults otherwise (MaxThreads 10 ...).
	cat >"$W/clamd.conf" <<-CONF
		LocalSocket $W/clamd.sock
		LocalSocketMode 660
		FixStaleSocket yes
		DatabaseDirectory $1
		TemporaryDirectory $CLAMTMP
		PidFile $W/clamd.pid
		LogFile $W/clamd.log
		LogTime yes
		Foreground yes
		SelfCheck 0
	CONF
	"$clamd" -c "$W/clamd.conf" </dev/null >>"$W/clamd.out" 2>&1 &
	PID_clamd=$!
	PIDS+=("$PID_clamd")
	for ((i = 0; i < 1200; i++)); do
		[ -S "$W/clamd.sock" ] && break
		kill -0 "$PID_clamd" 2>/dev/null || die "clamd exited at start: $(tail -5 "$W/clamd.log" "$W/clamd.out" 2>/dev/null)"
		sleep 0.05
	done
	[ -S "$W/clamd.sock" ] || die "clamd did not listen within 60 s"
	say "clamd pid $PID_clamd: $(grep -m1 'Loaded .* signatures' "$W/clamd.log" || echo '?')"
}

stop_servers() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	[ -z "$CLAMTMP" ] || rm -rf "$CLAMTMP"
}

unset_sluice_env() {
	local v
	for v in $(compgen -e); do
		case $v in SLUICE_* | QHPSI* | QUEUE_* | QUEUEDIR | CONFSPLIT | MIN_FREE | REJECTVIRUS | ERROR_FD) unset "$v" ;; esac
	done
}

AWKLIB='
function med(s,    n, v, i, j, t) {	# median of the space-separated numbers in s
	n = split(s, v, " ")
	if (n == 0) return "-"
	for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function mn(s,    n, v, i, m) { n = split(s, v, " "); m = v[1] + 0; for (i = 2; i <= n; i++) if (v[i] + 0 < m) m = v[i] + 0; return m }
function mx(s,    n, v, i, m) { n = split(s, v, " "); m = v[1] + 0; for (i = 2; i <= n; i++) if (v[i] + 0 > m) m = v[i] + 0; return m }
'
