#!/bin/bash
# bench_actions.sh - a virus storm answered with quarantine: this build's
# sluiced against another build's (-a: an earlier commit, say) in the same
# interleaved rounds, both with clamav,attach and SLUICE_ON_VIRUS=quarantine
# into a Maildir on the same disk as the queues, SLUICE_SYNC=full.  The
# corpus is gen_corpus.py's 4 KB mail with P % EICAR (-p, 30 by default):
# clean mail is answered 0 (committed), infected 31 (quarantined: a copy
# kept, the sender refused); any other answer fails the run.  Prints each run
# and, per build, the median msgs/s, p50 and p99 (all messages) and the
# quarantined count; then this build / the other per round.
# What it shows: whether the quarantine's copies and flushes hold up the
# commits of the clean mail beside them.
#
# usage: tests/bench/bench_actions.sh [-b BUILD] -a OTHER_BUILD [-k K] [-n MSGS] [-p PERCENT]
#                                     [-r ROUNDS] [-d DIR]
set -euo pipefail
B=build/release A= K=16 N=1500 P=30 R=5 D=/var/tmp
while getopts b:a:k:n:p:r:d: o; do
	case $o in
	b) B=$OPTARG ;; a) A=$(cd "$OPTARG" && pwd) ;; k) K=$OPTARG ;; n) N=$OPTARG ;; p) P=$OPTARG ;;
	r) R=$OPTARG ;; d) D=$OPTARG ;;
	*) sed -n '2,14p' "$0"; exit 2 ;;
	esac
done
[ -n "$A" ] || { sed -n '2,14p' "$0"; exit 2; }
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=$(cd "$B" && pwd)
W=$(mktemp -d "$D/sluice-bactions.XXXXXX")
DPID=
trap '[ -n "$DPID" ] && kill "$DPID" 2>/dev/null; rm -rf "$W"' EXIT
[ "$(id -u)" = 0 ] && export SLUICE_USER=root
for v in $(compgen -e); do
	case $v in SLUICE_USER) ;; SLUICE_* | QHPSI* | QUEUE_* | QUEUEDIR | ERROR_FD) unset "$v" ;; esac
done
df -T "$W" | tail -1
python3 "$SRC/tests/bench/gen_corpus.py" -o "$W/corpus" -n 1000 -s 4k --seed 7 --infected "$P" >/dev/null
"$B/scan/sluice-sigdb" -o "$W/db" -H 100000 -B 10000 >/dev/null
run() { # build-name build-dir round
	local q=$W/$1.$3 out quar
	"$B/queue/sluice-mkqueue" -q -b "$q" -c 4
	mkdir -p "$q/Maildir/tmp" "$q/Maildir/new" "$q/Maildir/cur"
	env QUEUE_BASE="$q" QUEUE_COUNT=4 SLUICE_SYNC=full SLUICE_SCANNERS=clamav,attach \
		SLUICE_CLAMDB="$W/db" SLUICE_ON_VIRUS=quarantine SLUICE_QUARANTINE="$q/Maildir" \
		SLUICE_CONTROL="$W/nocontrol" "$2/router/sluiced" 2>"$q.log" >/dev/null &
	DPID=$!
	while [ ! -S "$q/sluiced.sock" ]; do
		kill -0 "$DPID" 2>/dev/null || { cat "$q.log" >&2; exit 1; }
		sleep 0.05
	done
	out=$(env QUEUE_BASE="$q" QUEUE_COUNT=4 "$B/tests/qqsim" -p "$2/router/sluice-queue" \
		-M "$W/corpus" -n "$N" -k "$K" 2>/dev/null) || true
	kill "$DPID"
	wait "$DPID" 2>/dev/null || true
	DPID=
	quar=$(find "$q/Maildir/new" -type f | wc -l)
	# clean mail 0, infected 31 (quarantine keeps a copy and refuses it)
	[[ $out =~ exits=(0:[0-9]+,)?(31:[0-9]+,)?( |$) ]] || { echo "FAILED RUN $1 round $3: $out" >&2; exit 1; }
	echo "$1 $3 $out quarantined=$quar" | tee -a "$W/runs"
	rm -rf "$q"
}
for ((r = 1; r <= R; r++)); do
	if ((r % 2)); then run this "$B" "$r"; run other "$A" "$r"; else run other "$A" "$r"; run this "$B" "$r"; fi
done
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
printf '%-6s %9s %8s %8s %12s\n' build msgs/s p50_ms p99_ms quarantined
for b in this other; do
	printf '%-6s %9s %8s %8s %12s\n' "$b" "$(grep "^$b " "$W/runs" | field rate | med)" \
		"$(grep "^$b " "$W/runs" | field p50_ms | med)" "$(grep "^$b " "$W/runs" | field p99_ms | med)" \
		"$(grep "^$b " "$W/runs" | field quarantined | med)"
done
echo "this / other msgs/s per round: $(for ((r = 1; r <= R; r++)); do
	t=$(grep "^this $r " "$W/runs" | field rate); o=$(grep "^other $r " "$W/runs" | field rate)
	awk -v t="$t" -v o="$o" 'BEGIN { printf "%.2f ", t / o }'; done)"
echo "this / other p99 per round: $(for ((r = 1; r <= R; r++)); do
	t=$(grep "^this $r " "$W/runs" | field p99_ms); o=$(grep "^other $r " "$W/runs" | field p99_ms)
	awk -v t="$t" -v o="$o" 'BEGIN { printf "%.2f ", t / o }'; done)"
