# machine_cpu.sh - sourced by bench_queue.sh and bench_sync.sh.
#
# machine_cpu "LINE0" "LINE1" N - from two "cpu ..." lines of /proc/stat taken
# before and after a run of N messages, print "MS IDLE": the whole machine's
# busy CPU ms per message (user nice system irq softirq; steal excluded) and
# the percentage of CPU time left idle (idle + iowait) during the run.
machine_cpu() {
	printf '%s\n%s\n' "$1" "$2" | awk -v n="$3" -v hz="$(getconf CLK_TCK)" '
		{ b = $2 + $3 + $4 + $7 + $8; i = $5 + $6 }
		NR == 1 { b0 = b; i0 = i }
		NR == 2 {
			b -= b0; i -= i0
			printf "%.3f %.0f\n", b * 1000 / hz / n, (b + i > 0 ? 100 * i / (b + i) : 0)
		}'
}
