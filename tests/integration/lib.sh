# lib.sh - helpers shared by the integration tests (sourced, not run).
#
# Each test_*.sh does:  . "$(dirname "$0")/lib.sh"; lib_init
# and then drives the REAL sluiced and the REAL sluice-queue through qqsim,
# exactly as qmail-smtpd would run them.  CTest sets SLUICE_BIN (build dir)
# and SLUICE_SRC (source dir).
#
# What lib_init sets up:
#   WORK        a fresh temp dir (removed at exit; SLUICE_KEEP=1 keeps it)
#   (the environment is cleaned of QUEUE*, SLUICE_*, QHPSI*, ... except
#   SLUICE_BIN, SLUICE_SRC, SLUICE_KEEP and SLUICE_TEST_* knobs of the tests)
#   T           the test's name, prefix of every line printed
#   SLUICED SQ MKQ QSTAT QQSIM   the programs under test
#   AS_USER     SLUICE_USER=root when running as root (sluiced insists), else ""
# and a trap that, at exit, kills every sluiced and background job started
# through these helpers, then removes WORK.
#
# Conventions: say() prints what is checked; fail() prints a clear reason
# (and the tail of the current daemon log) and exits 1.  Every wait polls
# with a timeout; nothing relies on a fixed sleep.

set -eu

T=$(basename "$0" .sh)

say() { echo "$T: $*"; }

fail() {
	echo "$T: FAIL: $*" >&2
	if [ -n "${DLOG:-}" ] && [ -s "$DLOG" ]; then
		echo "$T: --- last lines of $DLOG ---" >&2
		tail -n 25 "$DLOG" >&2
	fi
	exit 1
}

skip() {
	echo "$T: skipped: $*"
	exit 0
}

# ---------------------------------------------------------------------------
# set-up and clean-up

DPID=""			# the sluiced currently running (started by daemon_start)
DLOG=""			# its log (stderr)
ALL_PIDS=""		# every daemon and background job we started
NSTART=0

lib_cleanup() {
	local p st ppid pgrp
	for p in $ALL_PIDS; do
		# only a child of ours that still runs (its pid cannot have been
		# reused while it is our unreaped child)
		st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
		read -r _ ppid pgrp _ <<<"$st"
		[ "$ppid" = $$ ] || continue
		# a background "timeout qqsim ..." leads its own process group:
		# take qqsim's sessions and their sluice-queues with it
		if [ "$pgrp" = "$p" ]; then
			kill -9 -- "-$p" 2>/dev/null || true
		fi
		kill -9 "$p" 2>/dev/null || true
	done
	for p in $ALL_PIDS; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
		if [ "${SLUICE_KEEP:-0}" = 1 ]; then
			echo "$T: kept $WORK" >&2
		else
			chmod -R u+rwx "$WORK" 2>/dev/null || true
			rm -rf "$WORK"
		fi
	fi
}

# track PID - kill PID (and its process group, if it leads one) at exit
track() { ALL_PIDS="$ALL_PIDS $1"; }

lib_init() {
	: "${SLUICE_BIN:?set SLUICE_BIN to the build directory}"
	: "${SLUICE_SRC:?set SLUICE_SRC to the source directory}"
	SLUICED=$SLUICE_BIN/router/sluiced
	SQ=$SLUICE_BIN/router/sluice-queue
	MKQ=$SLUICE_BIN/queue/sluice-mkqueue
	QSTAT=$SLUICE_BIN/queue/sluice-qstat
	QQSIM=$SLUICE_BIN/tests/qqsim
	local p
	for p in "$SLUICED" "$SQ" "$MKQ" "$QSTAT" "$QQSIM"; do
		[ -x "$p" ] || fail "$p is not built"
	done
	# With real qmail users only root may hand queue trees to them.
	if [ "$(id -u)" != 0 ] && grep -q '^qmailq:' /etc/passwd; then
		skip "qmail users exist and we are not root"
	fi
	AS_USER=""
	if [ "$(id -u)" = 0 ]; then
		AS_USER="SLUICE_USER=root"
	fi
	# Nothing from the caller's environment may steer the programs.
	local v
	for v in $(compgen -e); do
		case $v in
		SLUICE_BIN | SLUICE_SRC | SLUICE_KEEP | SLUICE_TEST_*) ;;
		SLUICE_* | QHPSI* | QUEUE_* | QUEUEDIR | CONFSPLIT | MIN_FREE | REJECTVIRUS | \
			ERROR_FD | TCPREMOTE* | RELAYCLIENT)
			unset "$v" ;;
		esac
	done
	# Nor an installed relay's settings (sluice-qstat and sluice-mkqueue read
	# them when SLUICE_ENVDIR is unset; empty means none).
	export SLUICE_ENVDIR=
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-$T.XXXXXX") || fail "mktemp"
	trap lib_cleanup EXIT
	trap 'exit 130' INT TERM
	SOCK=$WORK/sluiced.sock
	NQ=0
}

# now_ms - wall clock in milliseconds
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# wait_until SECONDS WHAT CMD... - poll CMD every 50 ms until it succeeds
wait_until() {
	local secs=$1 what=$2 i n
	shift 2
	n=$((secs * 20))
	for ((i = 0; i < n; i++)); do
		if "$@"; then
			return 0
		fi
		sleep 0.05
	done
	fail "timed out after ${secs}s waiting for $what"
}

# ---------------------------------------------------------------------------
# queues

# make_queues N - N queues WORK/queue1..N, empty
make_queues() {
	NQ=$1
	"$MKQ" -q -b "$WORK" -c "$NQ" || fail "sluice-mkqueue -b $WORK -c $NQ failed"
}

# count SUB - files under WORK/queue*/SUB (mess, intd, todo, pid, ...)
count() {
	find "$WORK"/queue*/"$1" -type f 2>/dev/null | wc -l
}

# assert_queue_empty WHAT - mess/ intd/ todo/ pid/ of every queue are empty
assert_queue_empty() {
	local sub n
	for sub in mess intd todo pid; do
		n=$(find "$WORK"/queue*/$sub -mindepth 1 ! -type d | wc -l)
		if [ "$n" != 0 ]; then
			find "$WORK"/queue*/$sub -mindepth 1 ! -type d -printf '  %p\n' | head >&2
			fail "$1: $n file(s) left in $sub/"
		fi
	done
}

queue_is_empty() {
	[ "$(find "$WORK"/queue*/mess "$WORK"/queue*/intd "$WORK"/queue*/todo \
		"$WORK"/queue*/pid -mindepth 1 ! -type d | wc -l)" = 0 ]
}

# wait_queue_empty WHAT - as assert_queue_empty, for removals that may follow
# the reply by a moment (a scan worker still held the file)
wait_queue_empty() {
	local i
	for ((i = 0; i < 60; i++)); do
		if queue_is_empty; then
			return 0
		fi
		sleep 0.05
	done
	assert_queue_empty "$1"
}

# clear_queues - remove committed messages (what qmail-send would deliver)
clear_queues() {
	find "$WORK"/queue*/mess "$WORK"/queue*/intd "$WORK"/queue*/todo -mindepth 1 \
		-type f -delete
}

# todo_files - paths of the todo/ entries, one a line
todo_files() {
	find "$WORK"/queue*/todo -type f | sort
}

# mess_of TODOPATH - the mess file of a todo/ entry
mess_of() {
	local q=${1%/todo/*} id=${1##*/} n
	n=$(find "$q/mess" -mindepth 1 -maxdepth 1 -type d | wc -l)
	echo "$q/mess/$((id % n))/$id"
}

# check_queues [REF...] - the on-disk consistency of every queue, with no
# writer running: see check_queues.pl.  Prints one line per message.
check_queues() {
	perl "$SLUICE_SRC/tests/integration/check_queues.pl" "$WORK" "$@"
}

# ---------------------------------------------------------------------------
# the daemon

# daemon_start [VAR=VALUE]... - start sluiced on the queues in the background
# (SLUICE_SCANNERS=null unless given), stderr to a fresh log, and wait (5 s at
# most) until it listens
daemon_start() {
	NSTART=$((NSTART + 1))
	DLOG=$WORK/sluiced.$NSTART.log
	: >"$DLOG"
	# env execs sluiced: $! is the daemon's pid.  No scanner unless asked
	# (the default ones need a signature database).
	local wrap=() tries=100
	if [ "${SLUICE_TEST_VALGRIND:-0}" = 1 ]; then
		# memcheck: any error, or a definite leak at exit, makes the
		# daemon exit 99, which daemon_stop refuses; the report is in
		# WORK/valgrind.<pid> and is printed by fail()
		# (valgrind.supp: errors inside libclamav, each explained there)
		wrap=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
			--show-leak-kinds=definite --track-fds=no "--log-file=$WORK/valgrind.%p"
			"--suppressions=$SLUICE_SRC/tests/integration/valgrind.supp")
		tries=1200
	fi
	env QUEUE_BASE="$WORK" QUEUE_COUNT="$NQ" SLUICE_SCANNERS=null $AS_USER "$@" \
		"${wrap[@]}" "$SLUICED" 2>>"$DLOG" </dev/null &
	DPID=$!
	track "$DPID"
	local i
	for ((i = 0; i < tries; i++)); do
		if grep -q '^sluiced: listening on ' "$DLOG" && [ -S "$SOCK" ]; then
			return 0
		fi
		if ! kill -0 "$DPID" 2>/dev/null; then
			wait "$DPID" || true
			fail "sluiced exited at start: $(cat "$DLOG")"
		fi
		sleep 0.05
	done
	fail "sluiced did not listen within $((tries / 20)) s"
}

daemon_running() { kill -0 "$DPID" 2>/dev/null; }

# daemon_stop - SIGTERM; the daemon must exit 0 within 20 s
daemon_stop() {
	local rc=0
	kill -TERM "$DPID" || fail "sluiced (pid $DPID) is not running"
	wait_until 20 "sluiced to exit after SIGTERM" eval '! daemon_running'
	wait "$DPID" || rc=$?
	# errors are "==pid==" lines; "--pid-- WARNING: unhandled syscall"
	# (pidfd_open on valgrind 3.19: sluiced falls back) is not one
	if grep -q '^==' "$WORK/valgrind.$DPID" 2>/dev/null; then
		fail "valgrind: $(grep '^==' "$WORK/valgrind.$DPID" | head -c 3000)"
	fi
	[ "$rc" = 0 ] || fail "sluiced exited $rc after SIGTERM, want 0"
	grep -q '^sluiced: stopped: ' "$DLOG" || fail "no 'stopped' line in the log"
	DPID=""
}

# daemon_kill9 - kill -9 and reap
daemon_kill9() {
	kill -9 "$DPID" 2>/dev/null || true
	wait "$DPID" 2>/dev/null || true
	DPID=""
}

# stat_get KEY - a live figure from the daemon (sluice-qstat --live)
stat_get() {
	SLUICE_SOCKET=$SOCK "$QSTAT" --live -b "$WORK" -c "$NQ" 2>/dev/null |
		sed -n "s/^sluiced: $1 //p"
}

daemon_idle() { [ "$(stat_get inflight)" = 0 ]; }

# wait_idle - no message in flight in the daemon (10 s at most); its byte
# count of messages in flight must then be 0 too
wait_idle() {
	wait_until 10 "sluiced to have no message in flight" daemon_idle
	local b
	b=$(stat_get bytes_inflight)
	[ "$b" = 0 ] || fail "no message in flight but bytes_inflight is $b"
}

# ---------------------------------------------------------------------------
# clients

# run_qq [VAR=VALUE]... QQSIM-ARGS... - one message through sluice-queue as
# qmail-smtpd sends it (60 s at most).  Sets QQ_RC (exit code of
# sluice-queue), QQ_TEXT (what it wrote on the custom-error fd, with -e),
# QQ_OUT (qqsim's line) and QQ_MS (wall time in ms).
run_qq() {
	local envs=() t0 rc=0
	while [ $# -gt 0 ] && [[ $1 == [A-Z]*=* ]]; do
		envs+=("$1")
		shift
	done
	t0=$(now_ms)
	QQ_OUT=$(env SLUICE_SOCKET="$SOCK" QUEUE_BASE="$WORK" QUEUE_COUNT="$NQ" "${envs[@]}" \
		timeout -k 5 60 "$QQSIM" -p "${QQ_PROG:-$SQ}" "$@") || rc=$?
	QQ_MS=$(($(now_ms) - t0))
	[ "$rc" != 124 ] && [ "$rc" != 137 ] || fail "qqsim $* hung (killed after 60 s)"
	case $QQ_OUT in
	"exit "*) ;;
	*) fail "qqsim $*: unexpected output '$QQ_OUT' (exit $rc)" ;;
	esac
	QQ_RC=${QQ_OUT#exit }
	QQ_RC=${QQ_RC%% *}
	QQ_TEXT=$(printf '%s' "$QQ_OUT" | sed -n 's/.* text "\(.*\)" ms [0-9.]*$/\1/p')
}

# expect WHAT CODE [TEXT] - the last run_qq exited CODE (and wrote TEXT)
expect() {
	[ "$QQ_RC" = "$2" ] || fail "$1: exit $QQ_RC, want $2 ($QQ_OUT)"
	if [ $# -ge 3 ]; then
		[ "$QQ_TEXT" = "$3" ] || fail "$1: custom text '$QQ_TEXT', want '$3'"
	fi
}

# mkmsg FILE [HEADER]... - a small message with the given extra header lines
mkmsg() {
	local f=$1 h
	shift
	{
		printf 'From: sender@example.org\nTo: rcpt@example.net\n'
		for h; do printf '%s\n' "$h"; done
		printf 'Subject: sluice integration test\nMessage-Id: <%s@example.org>\n\n' "$RANDOM"
		printf 'Hello,\n\nthis is line %d of the body.\n' $(seq 1 40)
	} >"$f"
}

# ldd_asan PID - true when PID runs with AddressSanitizer
is_asan() { grep -q 'libasan' "/proc/$1/maps" 2>/dev/null; }

# make_ref SIZE - WORK/ref.SIZE: the message qqsim generates with -s SIZE,
# captured by a sink program run the way qmail-smtpd runs QMAILQUEUE
make_ref() {
	local out=$WORK/ref.$1
	if [ ! -x "$WORK/sink" ]; then
		printf '#!/bin/sh\ncat >"$SINK_OUT" && cat <&1 >/dev/null\n' >"$WORK/sink"
		chmod +x "$WORK/sink"
	fi
	SINK_OUT=$out "$QQSIM" -p "$WORK/sink" -s "$1" >/dev/null ||
		fail "cannot capture qqsim's $1-byte message"
	[ -s "$out" ] || fail "no reference message $out"
}

# load_qq OUT [VAR=VALUE]... QQSIM-ARGS... - qqsim in load mode, its output in
# OUT (120 s at most); sets LOAD_SUMMARY (the key=value line) and LOAD_EXITS
# (e.g. "0:400,")
load_qq() {
	local out=$1 envs=() rc=0
	shift
	while [ $# -gt 0 ] && [[ $1 == [A-Z]*=* ]]; do
		envs+=("$1")
		shift
	done
	env SLUICE_SOCKET="$SOCK" QUEUE_BASE="$WORK" QUEUE_COUNT="$NQ" "${envs[@]}" \
		timeout -k 5 120 "$QQSIM" -p "${QQ_PROG:-$SQ}" "$@" >"$out" || rc=$?
	[ "$rc" != 124 ] && [ "$rc" != 137 ] || fail "qqsim $* hung (killed after 120 s)"
	LOAD_SUMMARY=$(grep '^msgs=' "$out") || fail "qqsim $*: no summary line (exit $rc)"
	LOAD_EXITS=${LOAD_SUMMARY##*exits=}
}

# summary_get KEY - a figure of LOAD_SUMMARY
summary_get() {
	local v=${LOAD_SUMMARY##*"$1"=}
	echo "${v%% *}"
}

# timed_sq - WORK/sq-timed: runs sluice-queue with qmail-smtpd's fds (it
# holds no copy of fds 0 and 1 itself) and appends "PID START END EXIT" to
# WORK/times (times in µs) - when the client itself exited, whatever qqsim
# still does after that
timed_sq() {
	cat >"$WORK/sq-timed" <<EOT
#!/bin/bash
s=\${EPOCHREALTIME/[.,]/}
"$SQ" <&0 >&1 &
p=\$!
exec 0<&- 1>&-
rc=0
wait \$p || rc=\$?
echo "\$p \$s \${EPOCHREALTIME/[.,]/} \$rc" >>"$WORK/times"
exit \$rc
EOT
	chmod +x "$WORK/sq-timed"
	: >"$WORK/times"
}

# ---------------------------------------------------------------------------
# real network scanners, started by the test and stopped by pid at exit

# need_server BINARY PACKAGE - exit 77 (CTest: skipped) when BINARY is missing
need_server() {
	if [ ! -x "$1" ]; then
		echo "$T: skipped: $1 is not installed (Debian package $2)"
		exit 77
	fi
}

# free_port - a loopback TCP port nobody listens on now
free_port() {
	perl -MIO::Socket::INET -e \
		'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport'
}

# wait_unix PATH SECS / wait_tcp PORT SECS - until a connect succeeds
unix_up() { perl -MIO::Socket::UNIX -e 'exit !IO::Socket::UNIX->new(Peer => $ARGV[0])' "$1"; }
tcp_up() { perl -MIO::Socket::INET -e 'exit !IO::Socket::INET->new("127.0.0.1:$ARGV[0]")' "$1"; }

# start_clamd NAME [STREAMMAX] - clamd with WORK/NAME/clamd.sock and a
# loopback port (CLAMD_PORT), a copy of scan/db; sets CLAMD_PID
start_clamd() {
	local d=$WORK/$1
	mkdir -p "$d"
	cp -r "$SLUICE_SRC/scan/db" "$d/db"
	CLAMD_PORT=$(free_port)
	{
		echo "Foreground yes"
		echo "LocalSocket $d/clamd.sock"
		echo "TCPSocket $CLAMD_PORT"
		echo "TCPAddr 127.0.0.1"
		echo "DatabaseDirectory $d/db"
		echo "LogFile $d/clamd.log"
		echo "StreamMaxLength ${2:-25M}"
		[ "$(id -u)" != 0 ] || echo "User root"
	} >"$d/clamd.conf"
	setsid /usr/sbin/clamd -c "$d/clamd.conf" >"$d/clamd.out" 2>&1 </dev/null &
	CLAMD_PID=$!
	track "$CLAMD_PID"
	wait_until 60 "clamd $1 to listen" unix_up "$d/clamd.sock"
	wait_until 10 "clamd $1 on port $CLAMD_PORT" tcp_up "$CLAMD_PORT"
}

# start_spamd NAME - spamd -L on WORK/NAME/spamd.sock and a loopback port
# (SPAMD_PORT); sets SPAMD_PID
start_spamd() {
	local d=$WORK/$1
	mkdir -p "$d"
	SPAMD_PORT=$(free_port)
	setsid /usr/sbin/spamd -L -x -m 3 -s stderr -r "$d/spamd.pid" \
		--listen="$d/spamd.sock" --listen="127.0.0.1:$SPAMD_PORT" \
		>"$d/spamd.log" 2>&1 </dev/null &
	SPAMD_PID=$!
	track "$SPAMD_PID"
	wait_until 60 "spamd $1 to listen" unix_up "$d/spamd.sock"
	wait_until 10 "spamd $1 on port $SPAMD_PORT" tcp_up "$SPAMD_PORT"
}

# start_rspamd NAME - rspamd (tests/util/rspamd-conf.sh) on a loopback port
# (RSPAMD_PORT); sets RSPAMD_PID.  A cold start builds hyperscan tables
# (~20 s); they are kept in the build tree for the next start.
start_rspamd() {
	local d=$WORK/$1 cache=$SLUICE_BIN/tests/rspamd-cache ug=()
	RSPAMD_PORT=$(free_port)
	sh "$SLUICE_SRC/tests/util/rspamd-conf.sh" "$d" "$RSPAMD_PORT" "$cache"
	[ "$(id -u)" != 0 ] || ug=(-u root -g root)
	setsid /usr/bin/rspamd -f -i "${ug[@]}" -c "$d/rspamd.conf" --var=CONFDIR=/etc/rspamd \
		--var=LOCAL_CONFDIR="$d" --var=DBDIR="$d/db" --var=RUNDIR="$d/run" \
		--var=LOGDIR="$d" >"$d/rspamd.out" 2>&1 </dev/null &
	RSPAMD_PID=$!
	track "$RSPAMD_PID"
	wait_until 120 "rspamd $1 on port $RSPAMD_PORT" tcp_up "$RSPAMD_PORT"
	sh "$SLUICE_SRC/tests/util/rspamd-conf.sh" --save "$d" "$cache"
}
