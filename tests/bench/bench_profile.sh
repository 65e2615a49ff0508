#!/usr/bin/env bash
# bench_profile.sh - where a message's CPU goes: a machine-wide perf profile
# and syscall counts per message, for the daemon (null scanner, and clamav +
# attach) and for direct mode (qmail-queue's own sequence of calls).
#
# SYNOPSIS
#	tests/bench/bench_profile.sh [-b BUILD] [-k 16] [-n 3000] [-d /var/tmp] [-o OUTDIR]
#
# DESCRIPTION
#	Writes the synthetic DB and a 4 KB corpus (gen_corpus.py), then for
#	each of daemon (SLUICE_SCANNERS=null) and daemon+clamav
#	(clamav,attach): starts sluiced, runs qqsim -M at K sessions under
#	`perf record -a -g` (the whole machine: the filesystem, the
#	scheduler, the fsync helper threads and every process show), and prints
#	the top of `perf report` by process, by shared object and by symbol
#	(self time), saving perf-MODE.data in OUTDIR; then runs N messages
#	again with `strace -c -f` attached to sluiced and prints its system
#	calls per message.  Last, direct mode under `strace -c -f` on qqsim:
#	every call of every sluice-queue (and qqsim's own fork/pipe/write) per
#	message: stock qmail-queue's floor, since direct mode makes its calls.
#	Needs perf (linux-perf) and strace; root.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$SRC/tests/bench/bench_lib.sh"
BUILD=$SRC/build/release K=16 N=3000 DIR=/var/tmp OUT=$PWD/bench-profile
while getopts b:k:n:d:o: o; do
	case $o in b) BUILD=$OPTARG ;; k) K=$OPTARG ;; n) N=$OPTARG ;; d) DIR=$OPTARG ;; o) OUT=$OPTARG ;;
	*) sed -n '2,20p' "$0"; exit 2 ;; esac
done
say() { echo "bench_profile: $*" >&2; }
die() { echo "bench_profile: $*" >&2; exit 1; }
command -v perf >/dev/null && command -v strace >/dev/null || die "needs perf and strace"
BUILD=$(cd "$BUILD" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
unset_sluice_env
AS_USER=()
[ "$(id -u)" != 0 ] || AS_USER=(SLUICE_USER=root)
W=$(mktemp -d "$DIR/sluice-profile.XXXXXX")
PIDS=() CLAMTMP=""
trap 'stop_servers; rm -rf "$W"' EXIT
"$BUILD/scan/sluice-sigdb" -o "$W/db" -H 100000 -B 10000 >/dev/null
python3 "$SRC/tests/bench/gen_corpus.py" -o "$W/c4k" -n 1000 -s 4k
QQ=("$BUILD/tests/qqsim" -M "$W/c4k" -k "$K")
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg); K=$K; $N messages a run; $(nproc) cores"
for mode in daemon daemon+clamav; do
	mkdir "$W/q-$mode"
	"$BUILD/queue/sluice-mkqueue" -q -b "$W/q-$mode" -c 4
	sc=null
	[ "$mode" = daemon ] || sc=clamav,attach
	name=${mode//[^a-z]/_}
	start_sluiced "$name" "$BUILD/router/sluiced" "$W/q-$mode" 4 SLUICE_SCANNERS=$sc SLUICE_CLAMDB="$W/db"
	pidv=PID_$name
	pid=${!pidv}
	env QUEUE_BASE="$W/q-$mode" QUEUE_COUNT=4 "${QQ[@]}" -p "$BUILD/router/sluice-queue" -n 500 >/dev/null	# warm
	echo
	echo "## $mode: perf record -a -g, $N messages"
	perf record -q -a -g -o "$OUT/perf-$name.data" -- \
		env QUEUE_BASE="$W/q-$mode" QUEUE_COUNT=4 "${QQ[@]}" -p "$BUILD/router/sluice-queue" -n "$N" 2>/dev/null
	for sort in comm dso sym; do
		echo
		echo "### by $sort (self, % of all samples on the machine)"
		perf report -i "$OUT/perf-$name.data" --no-children --sort "$sort" --stdio -g none 2>/dev/null |
			grep -E '^ +[0-9.]+%' | sed -n '1,25p'
	done
	echo
	echo "## $mode: strace -c -f on sluiced, $N messages"
	strace -c -f -q -o "$W/strace-$name" -p "$pid" &
	spid=$!
	sleep 1
	env QUEUE_BASE="$W/q-$mode" QUEUE_COUNT=4 "${QQ[@]}" -p "$BUILD/router/sluice-queue" -n "$N" >/dev/null
	kill -INT "$spid"
	wait "$spid" 2>/dev/null || true
	awk -v n="$N" 'NF >= 5 && $(NF) ~ /^[a-z_0-9]+$/ && $(NF) != "total" && $1 ~ /^[0-9.]+$/ { calls = $4; printf "%-20s %8.2f per message\n", $(NF), calls / n; tot += calls }
		END { printf "%-20s %8.2f per message\n", "TOTAL", tot / n }' "$W/strace-$name" | sort -k2 -rn | sed -n '1,25p'
done
mkdir "$W/q-direct"
"$BUILD/queue/sluice-mkqueue" -q -b "$W/q-direct" -c 4
echo
echo "## direct mode (qmail-queue's sequence): strace -c -f on qqsim and every sluice-queue, 1000 messages"
env QUEUE_BASE="$W/q-direct" QUEUE_COUNT=4 SLUICE_MODE=direct SLUICE_SYNC=full \
	strace -c -f -q -o "$W/strace-direct" "${QQ[@]}" -p "$BUILD/router/sluice-queue" -n 1000 >/dev/null
awk -v n=1000 'NF >= 5 && $(NF) ~ /^[a-z_0-9]+$/ && $(NF) != "total" && $1 ~ /^[0-9.]+$/ { calls = $4; printf "%-20s %8.2f per message\n", $(NF), calls / n; tot += calls }
	END { printf "%-20s %8.2f per message\n", "TOTAL", tot / n }' "$W/strace-direct" | sort -k2 -rn | sed -n '1,25p'
echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg); perf data in $OUT"
