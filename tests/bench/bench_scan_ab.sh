#!/usr/bin/env bash
# bench_scan_ab.sh - the scan path of two builds side by side: bench_scan
# (the clamav backend) of BUILD with SLUICE_CLAMAV_MIME walker and
# libclamav, and of OTHER_BUILD (an earlier commit), on the same message
# (a gen_corpus.py message of size S; -f, the Received line varied each scan,
# as every build's bench_scan can), one thread, interleaved over rounds (the
# order rotated each round).
# Prints every run, then per mode the median CPU ms per scan and the median
# of the per-round ratios against OTHER_BUILD.
#
# usage: tests/bench/bench_scan_ab.sh -b BUILD -a OTHER_BUILD [-s 4k|200k] [-n SCANS] [-r ROUNDS] [-d DIR]
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$SRC/tests/bench/bench_lib.sh"
B=$SRC/build/release A="" S=4k N=2000 R=5 D=/var/tmp
while getopts b:a:s:n:r:d: o; do
	case $o in b) B=$OPTARG ;; a) A=$OPTARG ;; s) S=$OPTARG ;; n) N=$OPTARG ;; r) R=$OPTARG ;; d) D=$OPTARG ;;
	*) sed -n '2,9p' "$0"; exit 2 ;; esac
done
[ -n "$A" ] || { sed -n '2,9p' "$0"; exit 2; }
W=$(mktemp -d "$D/sluice-scanab.XXXXXX")
trap 'rm -rf "$W"' EXIT
"$B/scan/sluice-sigdb" -o "$W/db" -H 100000 -B 10000 >/dev/null
python3 "$SRC/tests/bench/gen_corpus.py" -o "$W/c" -n 2 -s "$S"
echo "load $(cut -d' ' -f1-3 /proc/loadavg); message $S ($(wc -c <"$W/c/00001.eml") bytes); $N scans a run; one thread; clamav backend"
modes="walker libclamav other"
for ((r = 1; r <= R; r++)); do
	set -- $modes
	for ((i = 0; i < r - 1; i++)); do set -- "${@:2}" "$1"; done
	for m; do
		case $m in
		other) out=$("$A/tests/bench/bench_scan" -f "$W/c/00001.eml" -D "$W/db" -t 1 -n "$N" -d "$W") ;;
		*) out=$("$B/tests/bench/bench_scan" -f "$W/c/00001.eml" -D "$W/db" -t 1 -n "$N" -d "$W" -M "$m") ;;
		esac
		echo "$m round=$r $out" | tee -a "$W/raw"
	done
done
echo
echo "| mode | CPU ms per scan (median) | / other build, per round (median, min–max) |"
echo "|---|---:|---:|"
for m in $modes; do
	awk -v m="$m" "$AWKLIB"'
	{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } c[$1, v["round"]] = v["cpu_ms_per_scan"]; if (v["round"] > nr) nr = v["round"] }
	END {
		for (r = 1; r <= nr; r++) { s = s " " c[m, r]; q = q " " c[m, r] / c["other", r] }
		printf "| %s | %.3f | %.2f (%.2f–%.2f) |\n", m, med(s), med(q), mn(q), mx(q)
	}' "$W/raw"
done
