#!/usr/bin/env bash
# bench_report_summary.sh RAW OUTDIR - the report of bench_report.sh from its
# report.raw.tsv alone (run it again on a kept file to redo the tables):
# Markdown on stdout, OUTDIR/report.png (gnuplot, when installed) and
# OUTDIR/report.tsv (the medians).  See bench_report.sh for the modes.
set -euo pipefail
RAW=$1 OUT=$2
mkdir -p "$OUT"
[ -r "$RAW" ] || { echo "bench_report_summary: cannot read $RAW" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"	# AWKLIB
# cells: medians per (size, K, mode) over the measured rounds
awk -F'\t' "$AWKLIB"'
$1 ~ /^[0-9]+$/ && $1 > 0 {
	k = $2 SUBSEP $3 SUBSEP $4
	if (!(k in seen)) { seen[k] = 1; order[++n] = k }
	rate[k] = rate[k] " " $7; cc[k] = cc[k] " " $10; sc[k] = sc[k] " " $11; mc[k] = mc[k] " " $14; idle[k] = idle[k] " " $15
	if ($8 != "-") { p50[k] = p50[k] " " $8; p99[k] = p99[k] " " $9 }
	if ($12 + 0 > rss[k]) rss[k] = $12 + 0
	if ($13 != "-" && $13 + 0 > hwm[k]) hwm[k] = $13 + 0
	if ($16 == 0) bad[k]++
	r[$1, $2, $3, $4] = $7; if ($1 > nr) nr = $1
}
END {
	for (i = 1; i <= n; i++) {
		k = order[i]; split(k, a, SUBSEP)
		# ratio to direct of the same cell and round (raw and half-load: none)
		s = ""
		for (q = 1; q <= nr; q++) if (((q SUBSEP a[1] SUBSEP a[2] SUBSEP "direct") in r) && ((q SUBSEP a[1] SUBSEP a[2] SUBSEP a[3]) in r))
			s = s " " r[q, a[1], a[2], a[3]] / r[q, a[1], a[2], "direct"]
		printf "cell\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%s\t%s\t%s\t%.3f\t%.3f\t%.3f\t%s\t%d\t%s\t%d\n", a[1], a[2], a[3],
			med(rate[k]), mn(rate[k]), mx(rate[k]), s == "" ? "-" : sprintf("%.2f", med(s)),
			p50[k] == "" ? "-" : sprintf("%.2f", med(p50[k])), p99[k] == "" ? "-" : sprintf("%.2f", med(p99[k])),
			med(cc[k]), med(sc[k]), med(mc[k]), med(idle[k]), rss[k], (k in hwm) ? hwm[k] : "-", bad[k] + 0
	}
	# per-round ratios used by the targets: 200 KB daemon+clamav* / raw-lib, raw-walker
	for (q = 1; q <= nr; q++) for (key in r) {
		split(key, b, SUBSEP)
		if (b[1] != q || b[2] != "200k" || b[4] !~ /^daemon\+clamav/) continue
		for (raw in rr) delete rr[raw]
		for (k2 in r) { split(k2, c, SUBSEP); if (c[1] == q && c[2] == "200k" && c[4] ~ /^raw-/) rr[c[4]] = r[k2] }
		for (raw in rr) if (rr[raw] > 0) x[b[4] " / " raw] = x[b[4] " / " raw] " " r[key] / rr[raw]
	}
	for (t in x) printf "ratio200\t%s\t%.2f\t%.2f\t%.2f\n", t, med(x[t]), mn(x[t]), mx(x[t])
}' "$RAW" >"$OUT/report.tsv"

cell() { awk -F'\t' -v s="$1" -v k="$2" -v m="$3" -v f="$4" '$1 == "cell" && $2 == s && $3 == k && $4 == m { print $f }' "$OUT/report.tsv"; }
SCANK=$(awk -F'\t' '$1 == "cell" && $2 == "200k" { print $3; exit }' "$OUT/report.tsv")
KMAX=$(awk -F'\t' '$1 == "cell" && $2 == "4k" && $4 == "daemon" && $3 > m { m = $3 } END { print m + 0 }' "$OUT/report.tsv")
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "not measured"; else print (a + 0 <= b + 0 ? "**met**" : "**NOT met**") }'; }

echo "### Machine and run"
echo
echo '```'
sed -n 's/^# //p' "$RAW"
echo '```'
for size in 4k 200k; do
	echo
	echo "### ${size/k/ KB} messages (medians over the rounds)"
	echo
	echo "| K | mode | msgs/s | min–max | vs direct | p50 ms | p99 ms | CPU ms/msg client | server | machine | idle % | client max RSS KB | server VmHWM KB | failed |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' -v s="$size" '$1 == "cell" && $2 == s {
		printf "| %s | %s | %.0f | %.0f–%.0f | %s | %s | %s | %.3f | %s | %.3f | %s | %s | %s | %s |\n", $3, $4, $5, $6, $7, $8, $9, $10,
			$11, ($4 ~ /^(daemon|direct\+qhpsi|simscan|half|qmqp)/) ? sprintf("%.3f", $12) : "-", $13, $14, $15, $16, $17 }' "$OUT/report.tsv"
done
echo
echo "raw-lib / raw-walker: bench_scan on the same corpus, libclamav's own mail path / clamav+attach as sluiced runs them"
echo "(4 KB: one thread; 200 KB: as many threads as sluiced's scan workers); their CPU is per scan, in the client column,"
echo "machine = the whole machine's busy CPU per message or scan (/proc/stat); half-load = daemon+clamav at the rate in the"
echo "machine notes; server = sluiced (clamd for direct+qhpsi and simscan; for qmqp-relay both sluiced and sluice-qmqpd;"
echo "for daemon+clamd sluiced and clamd; for daemon+spamd sluiced and spamd with its children)."
if awk -F'\t' '$1 == "cell" && ($4 == "daemon+clamd" || $4 == "daemon+spamd") { f = 1 } END { exit !f }' "$OUT/report.tsv"; then
	echo
	echo "### Network scanners against the in-process scan (4 KB, medians)"
	echo
	echo "daemon+clamd: sluiced streams each message to clamd (INSTREAM, unix socket, same DB) and walks it for"
	echo "banned names itself; daemon+clamav: libclamav in sluiced.  daemon+spamd: SpamAssassin's spamd (-L) checks"
	echo "every message (SYMBOLS).  Server CPU: sluiced plus the scanning server."
	echo
	echo "| K | daemon+clamav msgs/s | daemon+clamd msgs/s | clamd / in-process | p99 ms clamav / clamd | server CPU ms/msg clamav / clamd | daemon+spamd msgs/s | spamd p99 ms | spamd server CPU ms/msg |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' '$1 == "cell" && $2 == "4k" { r[$3, $4] = $5; p[$3, $4] = $10; c[$3, $4] = $12; k[$3] = 1 }
		END { for (x in k) if ((x, "daemon+clamav") in r) {
			cd = ((x, "daemon+clamd") in r); sp = ((x, "daemon+spamd") in r)
			printf "%d | %.0f | %s | %s | %s / %s | %.3f / %s | %s | %s | %s\n", x, r[x, "daemon+clamav"],
				cd ? sprintf("%.0f", r[x, "daemon+clamd"]) : "-",
				cd ? sprintf("%.2f", r[x, "daemon+clamd"] / r[x, "daemon+clamav"]) : "-",
				p[x, "daemon+clamav"], cd ? p[x, "daemon+clamd"] : "-", c[x, "daemon+clamav"],
				cd ? sprintf("%.3f", c[x, "daemon+clamd"]) : "-",
				sp ? sprintf("%.0f", r[x, "daemon+spamd"]) : "-", sp ? p[x, "daemon+spamd"] : "-",
				sp ? sprintf("%.3f", c[x, "daemon+spamd"]) : "-" } }' \
		"$OUT/report.tsv" | sort -n | sed 's/^/| /; s/$/ |/'
fi
if awk -F'\t' '$1 == "cell" && $4 == "qmqp-relay" { f = 1 } END { exit !f }' "$OUT/report.tsv"; then
	echo
	echo "### QMQP relay to a loopback sluice host against a local commit (4 KB, medians)"
	echo
	echo "qmqp-relay: sluice-queue -> sluiced (a spool, no scanner) -> QMQP -> tcpserver + sluice-qmqpd -> sluiced"
	echo "(no scanner, SLUICE_SYNC=full) -> its queue, one connection per message; daemon: sluice-queue -> sluiced"
	echo "(no scanner, SLUICE_SYNC=full) -> its queue.  Both hosts share this machine's CPU and disk."
	echo
	echo "| K | daemon msgs/s | qmqp-relay msgs/s | relay / daemon | daemon p99 ms | relay p99 ms | server CPU ms/msg daemon | relay (both hosts) |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' '$1 == "cell" && $2 == "4k" && ($4 == "daemon" || $4 == "qmqp-relay") { r[$3, $4] = $5; p[$3, $4] = $10; c[$3, $4] = $12; k[$3] = 1 }
		END { for (x in k) if ((x, "daemon") in r && (x, "qmqp-relay") in r)
			printf "%d | %.0f | %.0f | %.2f | %s | %s | %.3f | %.3f\n", x, r[x, "daemon"], r[x, "qmqp-relay"],
				r[x, "qmqp-relay"] / r[x, "daemon"], p[x, "daemon"], p[x, "qmqp-relay"], c[x, "daemon"], c[x, "qmqp-relay"] }' \
		"$OUT/report.tsv" | sort -n | sed 's/^/| /; s/$/ |/'
fi

# CPU a message costs, attributable: client (the QMAILQUEUE program and its
# children) + server (sluiced's threads).  The machine figure (/proc/stat)
# also counts whatever else runs on a shared machine: shown, not judged.
tot() { awk -v c="$(cell 4k "$SCANK" "$1" 11)" -v s="$(cell 4k "$SCANK" "$1" 12)" 'BEGIN { if (c != "") printf "%.3f", c + s }'; }
E=$(tot exec) D=$(tot daemon) RAWL=$(cell 4k 1 raw-lib 11) RAWW=$(cell 4k 1 raw-walker 11)
Q=$(awk -v d="$D" -v e="$E" 'BEGIN { if (d != "" && e != "") printf "%.3f", d - e }')
echo
echo "### Targets (4 KB: K = $SCANK; CPU ms per message = client + server, medians of this run)"
echo
echo "| target | figure | limit | verdict |"
echo "|---|---:|---:|---|"
if [ -n "$Q" ]; then
	echo "| queue work: daemon (null) − exec ceiling | $D − $E = **$Q ms** (machine: $(cell 4k "$SCANK" daemon 13) − $(cell 4k "$SCANK" exec 13)) | 0.35 ms | $(verdict "$Q" 0.35) |"
else
	echo "| queue work: daemon (null) − exec ceiling | (daemon or exec not run) | 0.35 ms | not measured |"
fi
# scan work: sluiced's CPU with the scanners less sluiced's without (the
# client is the same sluice-queue in both: its share is noise here)
DS=$(cell 4k "$SCANK" daemon 12)
for m in daemon+clamav daemon+clamav-lib 'daemon+clamav@A'; do
	v=$(cell 4k "$SCANK" "$m" 12)
	[ -n "$v" ] || continue
	S=$(awk -v c="$v" -v d="$DS" 'BEGIN { printf "%.3f", c - d }')
	L=$(awk -v r="$RAWL" 'BEGIN { if (r != "") printf "%.3f", 1.5 * r }')
	echo "| scan work: sluiced's CPU, $m − daemon (null), against 1.5 × one raw libclamav scan ($RAWL ms; clamav+attach from memory: $RAWW ms) | $v − $DS = **$S ms** ($(awk -v s="$S" -v r="$RAWL" 'BEGIN { if (r > 0) printf "%.2f", s / r }') × raw; machine: $(awk -v a="$(cell 4k "$SCANK" "$m" 13)" -v b="$(cell 4k "$SCANK" daemon 13)" 'BEGIN { printf "%.3f", a - b }')) | $L ms | $(verdict "$S" "$L") |"
done
awk -F'\t' '$1 == "ratio200" { printf "| 200 KB, K = '"$SCANK"': %s (msgs/s, median of per-round ratios) | **%.2f** (%.2f–%.2f) | ≥ 0.90 | %s |\n", $2, $3, $4, $5, ($2 ~ /raw-lib$/ ? ($3 >= 0.9 ? "**met**" : "**NOT met**") : "information") }' "$OUT/report.tsv" | sort
H=$(cell 4k "$SCANK" half-load 10) HR=$(sed -n 's/^# half-load target rate: \([0-9]*\).*/\1/p' "$RAW")
if [ -n "$H" ]; then
	echo "| p99 submit latency, daemon+clamav at half of peak ($HR msgs/s offered; $(cell 4k "$SCANK" half-load 5) achieved), K = $SCANK | **$H ms** | 20 ms | $(verdict "$H" 20) |"
else
	echo "| p99 submit latency, daemon+clamav at half of peak, K = $SCANK | (half-load not run) | 20 ms | not measured |"
fi
echo
echo "RSS: VmHWM is the daemon's peak; a scanning daemon's includes libclamav's working memory for the largest"
echo "message each scan worker had at once (a 200 KB message's decoded parts and libclamav's buffers), which is per"
echo "worker, not per message waiting; the null daemon's row is the queue path's own figure."
echo
echo "| RSS | figure | limit | verdict |"
echo "|---|---:|---:|---|"
sed -n 's/^# rss \([a-zA-Z]*\) idle_kb=\([0-9]*\) hwm_kb=\([0-9]*\)$/\1 \2 \3/p' "$RAW" | while read -r n idle hwm; do
	per=$(awk -v i="$idle" -v h="$hwm" -v k="$KMAX" 'BEGIN { printf "%.1f", (h - i) / k }')
	echo "| daemon RSS beyond its idle size (engine loaded) per in-flight message, sluiced ($n): (VmHWM $hwm − idle VmRSS $idle KB) / K = $KMAX | **$per KiB** | 64 KiB | $(verdict "$per" 64) |"
done

# the plot: msgs/s and p99 against K, 4 KB
if command -v gnuplot >/dev/null; then
	awk -F'\t' '$1 == "cell" && $2 == "4k" && $4 !~ /^(raw|half)/ { print $4, $3, $5, $10 }' "$OUT/report.tsv" | sort -k1,1 -k2,2n >"$OUT/report.dat"
	plot1="" plot2=""
	for m in $(cut -d' ' -f1 "$OUT/report.dat" | uniq); do
		f=$OUT/report-${m//[^a-zA-Z0-9]/_}.dat
		awk -v m="$m" '$1 == m { print $2, $3, $4 }' "$OUT/report.dat" >"$f"
		plot1="$plot1${plot1:+, }'$f' using 1:2 with linespoints title '$m'"
		plot2="$plot2${plot2:+, }'$f' using 1:3 with linespoints title '$m'"
	done
	gnuplot <<-GP 2>"$OUT/gnuplot.err" || echo "(gnuplot failed: $(head -3 "$OUT/gnuplot.err"))"
		set terminal pngcairo size 1200,520 font ",10" noenhanced
		set output '$OUT/report.png'
		set multiplot layout 1,2 title "sluice, 4 KB messages (gen_corpus.py), K concurrent qmail-smtpd-style sessions"
		set logscale x 2
		set xlabel 'K (concurrent sessions)'
		set key left top font ",8"
		set grid
		set ylabel 'msgs/s (median)'
		plot $plot1
		set logscale y
		set ylabel 'p99 latency, ms (median)'
		set key left top font ",8"
		plot $plot2
		unset multiplot
	GP
	rm -f "$OUT/gnuplot.err" "$OUT"/report*.dat
	[ -s "$OUT/report.png" ] && { echo; echo "Plot: $OUT/report.png"; }
else
	echo
	echo "(no gnuplot: no plot)"
fi
