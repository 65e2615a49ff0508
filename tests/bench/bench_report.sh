#!/usr/bin/env bash
# bench_report.sh - one command, one report: what a message costs through
# every way of queueing and scanning it, modes interleaved in one run.
#
# SYNOPSIS
#	tests/bench/bench_report.sh [-b BUILD] [-A OTHER_BUILD] [-r ROUNDS]
#		[-t SECS] [-k "1 16 64"] [-K 16] [-d DIR] [-o OUTDIR] [-m MODES]
#		[--quick]
#
# DESCRIPTION
#	Builds nothing: BUILD (build/release) must hold a Release build
#	(cmake --preset release && cmake --build --preset release).  Makes a
#	work dir under DIR (/var/tmp; tmpfs refused unless --quick), writes
#	a synthetic DB (sluice-sigdb -H 100000 -B 10000) and two corpora of
#	realistic mail with gen_corpus.py (4 KB text+HTML; 200 KB with a pdf,
#	zip or docx-like base64 attachment; every message different), starts
#	the servers, checks that every scanning mode rejects EICAR and passes
#	a clean message, then runs ROUNDS rounds (3), the modes of each cell
#	in an order rotated every round.  Every message goes through qqsim
#	(tests/util/qqsim.c -M: K sessions forking and exec'ing the QMAILQUEUE
#	program as qmail-smtpd does).
#
#	Modes (a mode whose programs or settings the build lacks is skipped
#	with a note):
#	  exec           qq-null: the exec ceiling (linked like sluice-queue)
#	  direct         SLUICE_MODE=direct sluice-queue, SLUICE_SYNC=full
#	                 (qmail-queue's job, crash-safe)
#	  direct+qhpsi   direct mode, QHPSI=clamdscan against a clamd started
#	                 here on a temp socket with the same DB
#	  simscan        simscan_sim.sh per message: work dir, ripmime,
#	                 clamdscan on the dir, then direct mode (baseline only)
#	  daemon         sluice-queue -> sluiced, SLUICE_SCANNERS=null
#	  daemon+clamav  sluiced, SLUICE_SCANNERS=clamav,attach (the default
#	                 SLUICE_CLAMAV_MIME=walker)
#	  daemon+clamav-lib  the same with SLUICE_CLAMAV_MIME=libclamav
#	  daemon+clamav@A    -A: sluiced and sluice-queue of OTHER_BUILD with
#	                 clamav,attach (an earlier commit: before/after)
#	  qmqp-relay     sluice-queue -> sluiced with a remote queue only
#	                 (SLUICE_LOCAL_QUEUES=spool, no scanner) -> QMQP over
#	                 loopback -> tcpserver + sluice-qmqpd -> a second
#	                 sluiced (no scanner, SLUICE_SYNC=full) -> its queue:
#	                 a relay to a loopback sluice host, against daemon's
#	                 local commit (needs tcpserver, Debian's ucspi-tcp);
#	                 its server CPU is both sluiced and sluice-qmqpd's
#	                 (the edge keeps the default SLUICE_QMQP_CONNS, 16: more
#	                 than tcpserver's listen backlog of 20 overflows it)
#	  daemon+clamd   sluiced, SLUICE_SCANNERS=clamd,attach: INSTREAM to
#	                 the clamd above (same DB) on its unix socket; server
#	                 CPU is sluiced's and clamd's
#	  daemon+spamd   sluiced, SLUICE_SCANNERS=spamd: SpamAssassin's spamd
#	                 (-L, 4 children) started here on a unix socket; server
#	                 CPU is sluiced's and spamd's (its children included);
#	                 its set-up check is GTUBE rejected, not EICAR;
#	                 SLUICE_SPAM_HITS=1000: the synthetic corpus scores 5-8
#	                 under the local rules, and every message is to be
#	                 checked whole and committed
#	  raw-lib, raw-walker  bench_scan on the same corpus (200 KB: as many
#	                 threads as sluiced's workers; 4 KB: one thread):
#	                 libclamav's own mail path, and clamav+attach as the
#	                 daemon runs them, without queue or client
#	  half-load      daemon+clamav at K = SCANK with qqsim -R at half the
#	                 peak rate the warm-up measured: p99 under load
#	Cells: 4 KB at every K of -k; 200 KB at K = -K (exec, direct, daemon,
#	the daemon's clamav modes, raw engines).  -m "MODE ..." runs only those
#	modes (the others' servers still start).
#
#	Per run: msgs/s, p50/p99, CPU of client and server per message, the
#	whole machine's busy CPU per message (/proc/stat, every process and
#	kernel thread) and its idle share, client max RSS and server VmHWM.
#	Printed (and written to OUTDIR/report.md): per cell the medians,
#	ratios to direct (median of per-round ratios), the targets, the RSS
#	the daemons have beyond their idle size per in-flight message, and
#	OUTDIR/report.png (gnuplot: msgs/s and p99 against K, 4 KB).
#	OUTDIR/report.raw.tsv has every run.
#
#	--quick: one round, K 1 and 2, small corpora and DB, a few messages
#	per run: proves the script works (CTest label bench), measures nothing.
#
# DIAGNOSTICS
#	Exit 1 when set-up fails, a scanner misses EICAR at set-up, or a run
#	fails (qqsim's exits are not all 0); the targets never change the exit
#	code.  Every process started here is killed and the work dir removed.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$SRC/tests/bench/machine_cpu.sh"
. "$SRC/tests/bench/bench_lib.sh"
BUILD=$SRC/build/release OTHER="" ROUNDS=3 SECS=2 KS="1 16 64" SCANK=16 DIR=/var/tmp OUTDIR=$PWD/bench-report
QUICK=0 HASH=100000 BODY=10000 N4=1000 N200=120 NQ=4 ONLY=""
ARGS="$*"
while [ $# -gt 0 ]; do
	case $1 in
	-b) BUILD=$2; shift ;; -A) OTHER=$2; shift ;; -r) ROUNDS=$2; shift ;; -t) SECS=$2; shift ;;
	-k) KS=$2; shift ;; -K) SCANK=$2; shift ;; -d) DIR=$2; shift ;; -o) OUTDIR=$2; shift ;;
	-m) ONLY=$2; shift ;;
	--quick) QUICK=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_report: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ "$QUICK" = 0 ] || { ROUNDS=1 KS="1 2" SCANK=2 HASH=1000 BODY=100 N4=12 N200=6 SECS=0; }
case " $KS " in *" $SCANK "*) ;; *) KS="$KS $SCANK" ;; esac
say() { echo "bench_report: $*" >&2; }
die() { echo "bench_report: $*" >&2; exit 1; }

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "no build dir $BUILD"
[ -z "$OTHER" ] || OTHER=$(cd "$OTHER" 2>/dev/null && pwd) || die "no build dir $OTHER"
SQ=$BUILD/router/sluice-queue SLUICED=$BUILD/router/sluiced QQSIM=$BUILD/tests/qqsim
QQNULL=$BUILD/tests/bench/qq-null BSCAN=$BUILD/tests/bench/bench_scan
for p in "$SQ" "$SLUICED" "$QQSIM" "$QQNULL" "$BSCAN" "$BUILD/scan/sluice-sigdb" "$BUILD/queue/sluice-mkqueue"; do
	[ -x "$p" ] || die "$p is not built"
done
unset_sluice_env
AS_USER=()
[ "$(id -u)" != 0 ] || AS_USER=(SLUICE_USER=root)
WORKERS=$(nproc)
HAVE_CLAMD=1 HAVE_RIPMIME=1 NOTES=()
command -v clamdscan >/dev/null && [ -x "$(command -v clamd || echo /usr/sbin/clamd)" ] || HAVE_CLAMD=0
command -v ripmime >/dev/null || HAVE_RIPMIME=0
[ "$HAVE_CLAMD" = 1 ] || NOTES+=("direct+qhpsi, simscan: skipped (no clamd/clamdscan)")
[ "$HAVE_RIPMIME" = 1 ] || NOTES+=("simscan: skipped (no ripmime)")
HELP=$("$SLUICED" --help 2>&1 || true)
HAVE_NETCLAMD=0 HAVE_SPAMD=0
if ! printf '%s\n' "$HELP" | grep -q '^ *SLUICE_CLAMD '; then
	NOTES+=("daemon+clamd: skipped (this build's sluiced has no clamd scanner)")
elif [ "$HAVE_CLAMD" = 1 ]; then
	HAVE_NETCLAMD=1
fi
if ! printf '%s\n' "$HELP" | grep -q '^ *SLUICE_SPAMD '; then
	NOTES+=("daemon+spamd: skipped (this build's sluiced has no spamd scanner)")
elif [ ! -x /usr/sbin/spamd ]; then
	NOTES+=("daemon+spamd: skipped (no /usr/sbin/spamd: Debian's spamd)")
else
	HAVE_SPAMD=1
fi
HAVE_QMQP=1
if ! printf '%s\n' "$HELP" | grep -q '^ *SLUICE_QMQP '; then
	HAVE_QMQP=0 NOTES+=("qmqp-relay: skipped (this build's sluiced has no remote (QMQP) queues)")
elif ! command -v tcpserver >/dev/null || [ ! -x "$BUILD/router/sluice-qmqpd" ]; then
	HAVE_QMQP=0 NOTES+=("qmqp-relay: skipped (no tcpserver (Debian's ucspi-tcp) or no sluice-qmqpd)")
fi

mkdir -p "$DIR" "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
W=$(mktemp -d "$DIR/sluice-report.XXXXXX") || die "mktemp in $DIR"
PIDS=() CLAMTMP=""
cleanup() {
	stop_servers
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
FSTYPE=$(df --output=fstype "$W" | tail -n 1)
case $FSTYPE in tmpfs | ramfs) [ "$QUICK" = 1 ] || die "$W is on $FSTYPE: fsync is free there (-d DIR on disk)" ;; esac
RAW=$OUTDIR/report.raw.tsv
{
	echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "host:     $(uname -srm); $(nproc) cores; $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
	echo "build:    $BUILD${OTHER:+ (and $OTHER as @A)}"
	echo "work dir: $W ($FSTYPE)"
	echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at start"
	echo "command:  tests/bench/bench_report.sh $ARGS"
	echo "settings: rounds $ROUNDS; ~$SECS s a run; K $KS; scanning K $SCANK; $NQ queues; DB $HASH hash + $BODY body signatures; $WORKERS scan workers"
	for n in "${NOTES[@]}"; do echo "note:     $n"; done
} | tee "$W/machine.txt" >&2

# ---- inputs
"$BUILD/scan/sluice-sigdb" -o "$W/db" -H "$HASH" -B "$BODY" >/dev/null || die "sluice-sigdb failed"
python3 "$SRC/tests/bench/gen_corpus.py" -o "$W/c4k" -n "$N4" -s 4k --seed 1 || die "gen_corpus 4k"
python3 "$SRC/tests/bench/gen_corpus.py" -o "$W/c200k" -n "$N200" -s 200k --seed 2 || die "gen_corpus 200k"
python3 "$SRC/tests/bench/gen_corpus.py" -o "$W/cbad" -n 3 -s 4k --seed 3 --infected 100 || die "gen_corpus infected"

# ---- servers
for q in direct qhpsi simscan daemon clamav clamavlib clamavA central edge netclamd spamd; do
	mkdir "$W/q-$q"
	"$BUILD/queue/sluice-mkqueue" -q -b "$W/q-$q" -c "$NQ" || die "sluice-mkqueue $W/q-$q"
done
PID_daemon="" PID_clamav="" PID_clamavlib="" PID_clamavA="" PID_clamd="" PID_central="" PID_edge="" PID_tcpserver=""
PID_netclamd="" PID_spamd="" PID_spamdd=""
SCANS=(SLUICE_SCANNERS=clamav,attach SLUICE_CLAMDB="$W/db" SLUICE_WORKERS="$WORKERS")
start_sluiced daemon "$SLUICED" "$W/q-daemon" "$NQ" SLUICE_SCANNERS=null
start_sluiced clamav "$SLUICED" "$W/q-clamav" "$NQ" "${SCANS[@]}"
if printf '%s\n' "$HELP" | grep -q SLUICE_CLAMAV_MIME; then
	start_sluiced clamavlib "$SLUICED" "$W/q-clamavlib" "$NQ" "${SCANS[@]}" SLUICE_CLAMAV_MIME=libclamav
else
	NOTES+=("daemon+clamav-lib: skipped (no SLUICE_CLAMAV_MIME in this build)")
fi
[ -z "$OTHER" ] || start_sluiced clamavA "$OTHER/router/sluiced" "$W/q-clamavA" "$NQ" "${SCANS[@]}"
[ "$HAVE_CLAMD" = 0 ] || start_clamd "$W/db"
[ "$HAVE_NETCLAMD" = 0 ] || start_sluiced netclamd "$SLUICED" "$W/q-netclamd" "$NQ" \
	SLUICE_SCANNERS=clamd,attach "SLUICE_CLAMD=unix:$W/clamd.sock"
if [ "$HAVE_SPAMD" = 1 ]; then	# local tests only (-L): no network, no DNS
	setsid /usr/sbin/spamd -L -x -m 4 --max-conn-per-child=1000000 -s stderr -r "$W/spamd.pid" --listen="$W/spamd.sock" \
		>"$W/spamd.log" 2>&1 </dev/null &
	PID_spamdd=$!
	PIDS+=("$PID_spamdd")
	for ((i = 0; i < 1200; i++)); do [ -S "$W/spamd.sock" ] && break; sleep 0.05; done
	[ -S "$W/spamd.sock" ] || die "spamd did not listen within 60 s: $(tail -5 "$W/spamd.log")"
	say "spamd pid $PID_spamdd"
		# the corpus's synthetic mail scores 5-8 under spamd's local rules
	# (TEST-NET addresses, old Date: lines, random words): a threshold out
	# of reach commits it after the whole check, which is the cost measured
	start_sluiced spamd "$SLUICED" "$W/q-spamd" "$NQ" SLUICE_SCANNERS=spamd "SLUICE_SPAMD=unix:$W/spamd.sock" \
		SLUICE_SPAM_HITS=1000
fi
if [ "$HAVE_QMQP" = 1 ]; then	# the relay and the sluice host it relays to
	start_sluiced central "$SLUICED" "$W/q-central" "$NQ" SLUICE_SCANNERS=null
	env SLUICE_SOCKET="$W/q-central/sluiced.sock" tcpserver -1 -R -H -l central.bench -c 1000 \
		127.0.0.1 0 "$BUILD/router/sluice-qmqpd" >"$W/qmqpd.port" 2>>"$W/qmqpd.log" </dev/null &
	PID_tcpserver=$!
	PIDS+=("$PID_tcpserver")
	for ((i = 0; i < 200; i++)); do [ -s "$W/qmqpd.port" ] && break; sleep 0.05; done
	[ -s "$W/qmqpd.port" ] || die "tcpserver with sluice-qmqpd did not start: $(cat "$W/qmqpd.log")"
	start_sluiced edge "$SLUICED" "$W/q-edge" "$NQ" SLUICE_SCANNERS=null SLUICE_LOCAL_QUEUES=spool \
		"SLUICE_QMQP=127.0.0.1:$(head -n 1 "$W/qmqpd.port")"
fi
declare -A IDLE_RSS=()
for n in daemon clamav clamavlib clamavA netclamd spamd; do
	p=PID_$n
	[ -z "${!p}" ] || IDLE_RSS[$n]=$(vm_kb "${!p}" VmRSS)
done

# mode_setup MODE - sets ENVS, PROG, SPID, QB, SNAME for a qqsim mode
mode_setup() {
	ENVS=() PROG=$SQ SPID="" QB="" SNAME=""
	case $1 in
	exec) PROG=$QQNULL ;;
	direct) QB=$W/q-direct; ENVS=(SLUICE_MODE=direct SLUICE_SYNC=full) ;;
	direct+qhpsi) QB=$W/q-qhpsi SPID=$PID_clamd
		ENVS=(SLUICE_MODE=direct SLUICE_SYNC=full QHPSIRC=1 QHPSIRN=0
			QHPSI="clamdscan --no-summary --config-file=$W/clamd.conf %s") ;;
	simscan) QB=$W/q-simscan SPID=$PID_clamd PROG=$SRC/tests/bench/simscan_sim.sh
		ENVS=(SLUICE_MODE=direct SLUICE_SYNC=full SIMSCAN_WORK="$W" SIMSCAN_CLAMD_CONF="$W/clamd.conf" SIMSCAN_QUEUE="$SQ") ;;
	daemon) QB=$W/q-daemon SPID=$PID_daemon SNAME=daemon ;;
	daemon+clamav | half-load) QB=$W/q-clamav SPID=$PID_clamav SNAME=clamav ;;
	daemon+clamav-lib) QB=$W/q-clamavlib SPID=$PID_clamavlib SNAME=clamavlib ;;
	daemon+clamav@A) QB=$W/q-clamavA SPID=$PID_clamavA SNAME=clamavA PROG=$OTHER/router/sluice-queue ;;
	qmqp-relay) QB=$W/q-edge SPID=$PID_edge SNAME=edge ;;
	daemon+clamd) QB=$W/q-netclamd SPID=$PID_netclamd SNAME=netclamd ;;
	daemon+spamd) QB=$W/q-spamd SPID=$PID_spamd SNAME=spamd ;;
	esac
	[ -z "$QB" ] || ENVS+=(QUEUE_BASE="$QB" QUEUE_COUNT="$NQ")
}
check() {	# MODE FILE WANT
	local out
	mode_setup "$1"
	out=$(env "${ENVS[@]}" "$QQSIM" -p "$PROG" -m "$2" 2>>"$W/qqsim.err") || true
	case $out in "exit $3 "*) ;; *) die "check: $1 on $(basename "$2"): '$out', want exit $3" ;; esac
}

MODES4="exec direct daemon daemon+clamav"
[ "$HAVE_QMQP" = 0 ] || MODES4="$MODES4 qmqp-relay"
[ -z "$PID_clamavlib" ] || MODES4="$MODES4 daemon+clamav-lib"
[ -z "$OTHER" ] || MODES4="$MODES4 daemon+clamav@A"
[ "$HAVE_CLAMD" = 0 ] || MODES4="$MODES4 direct+qhpsi"
[ "$HAVE_CLAMD" = 0 ] || [ "$HAVE_RIPMIME" = 0 ] || MODES4="$MODES4 simscan"
[ "$HAVE_NETCLAMD" = 0 ] || MODES4="$MODES4 daemon+clamd"
[ "$HAVE_SPAMD" = 0 ] || MODES4="$MODES4 daemon+spamd"
printf 'Subject: gtube\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n' >"$W/gtube.eml"
MODES200="exec direct daemon daemon+clamav${PID_clamavlib:+ daemon+clamav-lib}${OTHER:+ daemon+clamav@A} raw-lib raw-walker"
for m in $MODES4; do
	check "$m" "$W/c4k/00000.eml" 0
	case $m in
	exec | direct | daemon | qmqp-relay) ;;
	daemon+spamd) check "$m" "$W/gtube.eml" 31 ;;
	*) for f in "$W"/cbad/*.eml; do check "$m" "$f" 31; done ;;
	esac
done
say "checks passed: every virus-scanning mode rejects EICAR (zip, attachment, text), spamd GTUBE, and each passes clean mail"

# ---- runs
sed 's/^/# /' "$W/machine.txt" >"$RAW"
printf 'round\tsize\tK\tmode\tmsgs\tseconds\trate\tp50_ms\tp99_ms\tclient_cpu_ms\tserver_cpu_ms\tclient_maxrss_kb\tserver_hwm_kb\tmachine_cpu_ms\tidle_pct\tok\n' >>"$RAW"
CLK_TCK=$(getconf CLK_TCK)
# server_ticks MODE PID - the server side's CPU ticks: the daemon's; for
# qmqp-relay both sluiced and tcpserver's reaped children (sluice-qmqpd)
server_ticks() {
	local t line rest
	t=$(cpu_ticks "$2")
	[ "$1" != daemon+clamd ] || t=$((t + $(cpu_ticks "$PID_clamd")))
	if [ "$1" = daemon+spamd ]; then	# spamd and its preforked children
		for p in $PID_spamdd $(pgrep -P "$PID_spamdd" 2>/dev/null); do t=$((t + $(cpu_ticks "$p"))); done
	fi
	if [ "$1" = qmqp-relay ]; then
		t=$((t + $(cpu_ticks "$PID_central")))
		read -r line <"/proc/$PID_tcpserver/stat"
		rest=${line##*) }
		set -- $rest
		t=$((t + ${14} + ${15}))	# cutime + cstime
	fi
	echo "$t"
}
FAILED=0 LAST_RATE=0 HALF_RATE=0
run() {	# ROUND SIZE K MODE N
	local round=$1 size=$2 k=$3 mode=$4 n=$5 out kv t0 t1 m0 m1 ok=1 scpu mc mi
	local -A f=()
	if [ "${mode%%-*}" = raw ]; then
		local mime=libclamav extra=() th=$WORKERS
		[ "$mode" = raw-lib ] || { mime=walker; extra=(-a); }
		[ "$size" = 200k ] || th=1
		read -r m0 </proc/stat
		out=$("$BSCAN" -F "$W/c$size" -D "$W/db" -t "$th" -d "$W" -M "$mime" "${extra[@]}" -n "$n" 2>>"$W/bench_scan.err") ||
			die "bench_scan: $out $(tail -3 "$W/bench_scan.err")"
		read -r m1 </proc/stat
		for kv in $out; do f[${kv%%=*}]=${kv#*=}; done
		read -r mc mi < <(machine_cpu "$m0" "$m1" "${f[scans]}")
		LAST_RATE=${f[rate]}
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\t-\t%s\t0\t%s\t-\t%s\t%s\t1\n' "$round" "$size" "$th" "$mode" "${f[scans]}" \
			"${f[seconds]}" "${f[rate]}" "${f[cpu_ms_per_scan]}" "${f[maxrss_kb]}" "$mc" "$mi" >>"$RAW"
		return
	fi
	mode_setup "$mode"
	local rate=()
	[ "$mode" != half-load ] || rate=(-R "$HALF_RATE")
	t0=$(server_ticks "$mode" "$SPID")
	read -r m0 </proc/stat
	out=$(env "${ENVS[@]}" "$QQSIM" -p "$PROG" -M "$W/c$size" -n "$n" -k "$k" "${rate[@]}" ${SPID:+-D "$SPID"} 2>>"$W/qqsim.err") || true
	read -r m1 </proc/stat
	t1=$(server_ticks "$mode" "$SPID")
	[ -z "$QB" ] || find "$QB"/queue*/mess -type f -size +0c -print0 | xargs -0 -r truncate -s 0	# space back, no deletion
	[ "$mode" != qmqp-relay ] || find "$W/q-central"/queue*/mess -type f -size +0c -print0 | xargs -0 -r truncate -s 0
	for kv in $out; do f[${kv%%=*}]=${kv#*=}; done
	[ -n "${f[rate]:-}" ] || die "qqsim gave no figures for $mode K=$k $size: '$out' $(tail -3 "$W/qqsim.err")"
	[ "${f[exits]}" = "0:${f[msgs]}," ] && [ "${f[msgs]}" = "$n" ] || { ok=0; FAILED=$((FAILED + 1)); say "FAILED RUN $mode K=$k $size: $out"; }
	scpu=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.3f", t * 1000 / hz / n }')
	read -r mc mi < <(machine_cpu "$m0" "$m1" "$n")
	LAST_RATE=${f[rate]}
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$size" "$k" "$mode" "${f[msgs]}" \
		"${f[seconds]}" "${f[rate]}" "${f[p50_ms]}" "${f[p99_ms]}" "${f[cpu_ms_per_msg]}" "$scpu" "${f[client_maxrss_kb]}" \
		"$([ -n "$SPID" ] && vm_kb "$SPID" VmHWM || echo -)" "$mc" "$mi" "$ok" >>"$RAW"
}
CELLS=()
for k in $KS; do CELLS+=("4k $k $MODES4"); done
CELLS+=("4k $SCANK raw-lib raw-walker half-load" "200k $SCANK $MODES200")
if [ -n "$ONLY" ]; then	# -m: those modes only
	for i in "${!CELLS[@]}"; do
		set -- ${CELLS[$i]}
		c="$1 $2" n=0
		shift 2
		for m; do case " $ONLY " in *" $m "*) c="$c $m" n=$((n + 1)) ;; esac; done
		if [ "$n" = 0 ]; then unset "CELLS[$i]"; else CELLS[$i]=$c; fi
	done
	CELLS=("${CELLS[@]}")
	[ "${#CELLS[@]}" -gt 0 ] || die "-m $ONLY: no such mode in this run"
fi
declare -A N=()
count() { local k=$1 n=$2; [ "$n" -ge $((4 * k)) ] || n=$((4 * k)); echo $(((n + k - 1) / k * k)); }
say "warm-up round: sizing each run to about $SECS s"
for c in "${CELLS[@]}"; do
	set -- $c
	size=$1 k=$2
	shift 2
	for mode; do
		if [ "$mode" = half-load ]; then	# half the peak of daemon+clamav over K
			HALF_RATE=$(awk -F'\t' '$1 == 0 && $2 == "4k" && $4 == "daemon+clamav" && $7 > m { m = $7 } END { printf "%.0f", m / 2 }' "$RAW")
			N[$size/$k/$mode]=$(count "$k" "$(awk -v r="$HALF_RATE" -v s="$SECS" 'BEGIN { printf "%d", r * s * 1.5 }')")
			continue
		fi
		run 0 "$size" "$k" "$mode" "$(count "$k" 16)"
		N[$size/$k/$mode]=$(count "$k" "$(awk -v r="$LAST_RATE" -v s="$SECS" 'BEGIN { printf "%d", r * s }')")
	done
done
if [[ " ${CELLS[*]} " == *" half-load"* ]]; then
	say "half-load: daemon+clamav at K=$SCANK, $HALF_RATE msgs/s (half the warm-up peak)"
	echo "# half-load target rate: $HALF_RATE msgs/s (half of daemon+clamav's best warm-up rate at 4 KB)" >>"$RAW"
fi
START=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
	say "round $r of $ROUNDS ($(($(date +%s) - START)) s so far; load $(cut -d' ' -f1 /proc/loadavg))"
	for c in "${CELLS[@]}"; do
		set -- $c
		size=$1 k=$2
		shift 2
		modes=("$@")
		for ((j = 0; j < ${#modes[@]}; j++)); do
			mode=${modes[$(((j + r - 1) % ${#modes[@]}))]}
			run "$r" "$size" "$k" "$mode" "${N[$size/$k/$mode]}"
		done
	done
done
{
	echo "# load:     $(cut -d' ' -f1-3 /proc/loadavg) at end; the $ROUNDS rounds took $(($(date +%s) - START)) s"
	for n in daemon clamav clamavlib clamavA netclamd spamd; do
		p=PID_$n
		[ -z "${!p}" ] || echo "# rss $n idle_kb=${IDLE_RSS[$n]} hwm_kb=$(vm_kb "${!p}" VmHWM)"
	done
} >>"$RAW"

# ---- report
bash "$SRC/tests/bench/bench_report_summary.sh" "$RAW" "$OUTDIR" | tee "$OUTDIR/report.md"
[ "$FAILED" = 0 ] || { say "$FAILED run(s) failed"; exit 1; }
