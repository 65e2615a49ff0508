#!/bin/bash
# bench_sync.sh - the daemon's commit settings side by side with direct mode:
# SLUICE_SYNC=full (8 fsync threads), full with SLUICE_FSYNC_THREADS=0,
# SLUICE_SYNC=fs, direct mode (SLUICE_SYNC=full) and the exec ceiling
# (qq-null), null scanner, 4 KB messages, K concurrent qmail-smtpd-style
# submitters, modes interleaved over rounds.  Prints each run and the median
# msgs/s, p50, p99 per mode, and what a message costs the whole machine:
# busy CPU ms per message (all processes and kernel threads, /proc/stat) and
# the share of CPU left idle during the run (near 0: the run was bound by
# CPU, not by the disk), and the CPU of the benchmarked processes alone:
# client (the QMAILQUEUE program and its children, qqsim's rusage) and
# server (sluiced's threads, /proc/PID/stat).  Queue work = the daemon's
# client + server CPU per message minus the exec ceiling's client CPU, per
# round (median, min, max): what the queue path itself costs, whatever else
# runs on the machine.  -a BUILD adds the mode full-a: sluiced and
# sluice-queue of another build (an earlier commit, say) with SLUICE_SYNC=full,
# in the same rounds, and prints full / full-a per round.
# Every run gets a queue tree of its own; they are all removed at the end.
#
# usage: tests/bench/bench_sync.sh [-b BUILD] [-a OTHER_BUILD] [-k K] [-n MSGS] [-r ROUNDS] [-d DIR]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/machine_cpu.sh"
B=build/release A= K=16 N=2000 R=5 D=/var/tmp
while getopts b:a:k:n:r:d: o; do
	case $o in
	b) B=$OPTARG ;; a) A=$(cd "$OPTARG" && pwd) ;; k) K=$OPTARG ;; n) N=$OPTARG ;; r) R=$OPTARG ;; d) D=$OPTARG ;;
	*) sed -n '2,19p' "$0"; exit 2 ;;
	esac
done
B=$(cd "$B" && pwd)
W=$(mktemp -d "$D/sluice-bsync.XXXXXX")
DPID=
trap '[ -n "$DPID" ] && kill "$DPID" 2>/dev/null; rm -rf "$W"' EXIT
[ "$(id -u)" = 0 ] && export SLUICE_USER=root
df -T "$W" | tail -1
modes="full full-t0 fs direct exec"
[ -n "$A" ] && modes="$modes full-a"
# ticks - user + system clock ticks of PID, all its threads
ticks() { local l; read -r l <"/proc/$1/stat"; l=${l##*) }; set -- $l; echo $((${12} + ${13})); }
HZ=$(getconf CLK_TCK)
run() { # mode round
	local q=$W/$1.$2 out s0 s1 t0 t1 srv=-
	"$B/queue/sluice-mkqueue" -q -b "$q" -c 4
	s0=$(head -1 /proc/stat)
	case $1 in
	exec) out=$("$B/tests/qqsim" -p "$B/tests/bench/qq-null" -n "$N" -k "$K" -u 2>/dev/null) ;;
	direct) out=$(env QUEUE_BASE="$q" QUEUE_COUNT=4 SLUICE_MODE=direct SLUICE_SYNC=full \
			"$B/tests/qqsim" -p "$B/router/sluice-queue" -n "$N" -k "$K" -u 2>/dev/null) ;;
	*)
		local e=(SLUICE_SYNC=full) b=$B
		[ "$1" = full-a ] && b=$A
		[ "$1" = full-t0 ] && e=(SLUICE_SYNC=full SLUICE_FSYNC_THREADS=0)
		[ "$1" = fs ] && e=(SLUICE_SYNC=fs)
		env QUEUE_BASE="$q" QUEUE_COUNT=4 SLUICE_SCANNERS=null "${e[@]}" "$b/router/sluiced" \
			2>"$q.log" &
		DPID=$!
		while [ ! -S "$q/sluiced.sock" ]; do sleep 0.05; done
		s0=$(head -1 /proc/stat)
		t0=$(ticks "$DPID")
		out=$(env QUEUE_BASE="$q" QUEUE_COUNT=4 "$B/tests/qqsim" -p "$b/router/sluice-queue" \
			-n "$N" -k "$K" -u 2>/dev/null)
		t1=$(ticks "$DPID")
		srv=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v n="$N" 'BEGIN { printf "%.3f", (b - a) * 1000 / hz / n }')
		kill "$DPID"; wait "$DPID" || true; DPID= ;;
	esac
	s1=$(head -1 /proc/stat)
	out="$out server_ms=$srv $(machine_cpu "$s0" "$s1" "$N" | awk '{ printf "machine_ms=%s idle_pct=%s", $1, $2 }')"
	# no file is deleted before the end (see bench_queue.sh: on ext4 without
	# a journal the next run would pay for the deletion)
	echo "$1 round=$2 $out" | tee -a "$W/raw"
}
for ((r = 1; r <= R; r++)); do
	set -- $modes
	for ((s = 0; s < r - 1; s++)); do set -- "${@:2}" "$1"; done	# rotate
	for m in "$@"; do run "$m" "$r"; done
done
echo
echo "| mode | msgs/s median | p50 ms median | p99 ms median | CPU ms/msg client | server | machine | idle % | vs direct |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
dr=$(grep '^direct ' "$W/raw" | sed 's/.* rate=\([0-9.]*\).*/\1/' | med)
for m in $modes; do
	rate=$(grep "^$m " "$W/raw" | sed 's/.* rate=\([0-9.]*\).*/\1/' | med)
	p50=$(grep "^$m " "$W/raw" | sed 's/.* p50_ms=\([0-9.]*\).*/\1/' | med)
	p99=$(grep "^$m " "$W/raw" | sed 's/.* p99_ms=\([0-9.]*\).*/\1/' | med)
	mc=$(grep "^$m " "$W/raw" | sed 's/.* machine_ms=\([0-9.]*\).*/\1/' | med)
	idle=$(grep "^$m " "$W/raw" | sed 's/.* idle_pct=\([0-9.]*\).*/\1/' | med)
	cl=$(grep "^$m " "$W/raw" | sed 's/.* cpu_ms_per_msg=\([0-9.]*\).*/\1/' | med)
	sv=$(grep "^$m " "$W/raw" | sed -n 's/.* server_ms=\([0-9.]*\).*/\1/p' | med)
	echo "| $m | $rate | $p50 | $p99 | $cl | ${sv:--} | $mc | $idle | $(awk "BEGIN{printf \"%.2f\", $rate/$dr}") |"
done
# queue work per round: a daemon mode's client + server CPU minus exec's client CPU
qwork() { # mode
	awk -v m="$1" '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		if ($1 == "exec") e[v["round"]] = v["cpu_ms_per_msg"]
		if ($1 == m) d[v["round"]] = v["cpu_ms_per_msg"] + v["server_ms"] }
		END { for (r in d) if (r in e) printf "%.4f\n", d[r] - e[r] }' "$W/raw" |
		sort -n | awk -v m="$1" '{ x[NR] = $1 } END { if (NR)
			printf "queue work (%s client + server - exec client, ms/msg) per round: median %.3f, min %.3f, max %.3f\n",
				m, x[int((NR + 1) / 2)], x[1], x[NR] }'
}
echo
qwork full
[ -n "$A" ] && qwork full-a
if [ -n "$A" ]; then
	awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } r[$1, v["round"]] = v["rate"] }
	     END { for (k = 1; k <= '"$R"'; k++) printf "%.4f\n", r["full", k] / r["full-a", k] }' "$W/raw" |
		sort -n | awk -v a="$A" '{ x[NR] = $1 } END {
			printf "\nfull / full-a (%s) per round: median %.2f, min %.2f, max %.2f\n", a, x[int((NR + 1) / 2)], x[1], x[NR] }'
fi
