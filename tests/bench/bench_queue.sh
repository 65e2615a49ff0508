#!/usr/bin/env bash
# bench_queue.sh - the issue-3 and issue-4 benchmark: what qmail-smtpd gets
# from each way of queueing a message, measured side by side in one run.
#
# SYNOPSIS
#	tests/bench/bench_queue.sh [-b BUILD] [-r ROUNDS] [-n MSGS] [-t SECS]
#		[-k "1 2 16 64"] [-K SCANK] [-d DIR] [-o OUT.tsv] [-q QUEUES]
#		[-S SETTLE] [--quick] [--keep] [--allow-tmpfs]
#	tests/bench/bench_queue.sh --summarize RAW.raw.tsv [-o OUT.tsv]
#
# DESCRIPTION
#	Builds nothing.  BUILD (default build/release under the source tree)
#	must hold a Release build:
#		cmake --preset release && cmake --build --preset release
#	(or any build dir: cmake -S . -B build-bench -G Ninja
#	-DCMAKE_BUILD_TYPE=Release && ninja -C build-bench; then -b build-bench).
#
#	Makes a work dir on disk under DIR (default /var/tmp; a tmpfs makes
#	fsync free and is refused unless --allow-tmpfs), prints `df -T` for it,
#	writes a synthetic signature DB there (sluice-sigdb -H 100000
#	-B 10000: EICAR plus 110k random signatures), a 200 KB multipart
#	message with a 150 KB base64 attachment, one queue tree (QUEUES
#	queues, default 4) per mode, starts what the modes need, and drives
#	each mode with qqsim (tests/util/qqsim.c: K concurrent sessions, each
#	forking and exec'ing the QMAILQUEUE program with the message on fd 0
#	and the envelope on fd 1, exactly as qmail-smtpd).  qqsim runs with -u:
#	every message's bytes differ (a real attachment is not the one before),
#	so libclamav's clean-file cache cannot answer for a repeated part.
#
#	Modes:
#	  exec            qq-null: reads both pipes, exits 0 (the exec ceiling)
#	  direct          SLUICE_MODE=direct sluice-queue, SLUICE_SYNC=full
#	                  (stock qmail-queue's job, crash-safe)
#	  daemon          sluice-queue -> sluiced, SLUICE_SCANNERS=null, SYNC=full
#	  daemon+clamav   sluiced, SLUICE_SCANNERS=clamav on the synthetic DB
#	  direct+qhpsi    direct mode, QHPSI="clamdscan --no-summary
#	                  --config-file=<ours> %s" against a clamd this script
#	                  starts on its own socket with the same DB
#	  raw-engine      bench_scan: libclamav through sluiced's own clamav
#	                  backend, as many threads as sluiced has scan workers,
#	                  on copies of the 200 KB message whose attachment
#	                  differs per scan (-V part): the raw engine rate
#	  raw-engine-cached  the same with only the Received line varied (the
#	                  attachment is answered from libclamav's cache after
#	                  its first scan): for information
#	Cells: 4 KB (qqsim -s 4096) and 200 KB, K in -k; exec, direct and
#	daemon everywhere; the scanning modes at 4 KB for every K and at
#	200 KB for K = SCANK (16) only; the raw engine beside them.
#
#	A warm-up round (not counted) times each cell and sizes its message
#	count to about SECS (2) seconds; -n MSGS fixes the count instead.  Then
#	ROUNDS (5) rounds, the modes of each cell in an order rotated every
#	round, so that the machine's noise hits every mode alike.  After each
#	run the committed messages' mess files are truncated to 0 bytes (their
#	disk space back) but no file is deleted until the end: on ext4 WITHOUT
#	a journal every file creation scans the inodes deleted in the last
#	minute or more (a check ext4 makes only without a journal), so a run
#	following a deletion pays for it and the modes would not be measured
#	alike.  For the same reason, on such a filesystem the script first
#	syncs and waits SETTLE seconds (-S, default 65) for earlier deletions
#	to age.  The daemons run with SLUICE_MAX_BACKLOG high enough for
#	what accumulates.
#
#	Prints the work dir, the machine and the filesystem, then a Markdown
#	table per message size: per mode the median msgs/s over the rounds
#	(min-max), the median p50 and p99 latency, CPU ms per message of the
#	client (the QMAILQUEUE program and its children, e.g. clamdscan) and of
#	the server (sluiced, or clamd for direct+qhpsi), the client's max RSS
#	(never below that of the fork qqsim makes before exec: compare with the
#	exec row), the server's VmHWM, the mean commit batch of the daemon, and
#	failed runs.  Then the ratios (median over the rounds of the per-round
#	ratio, min-max) and the issues' targets, met or not.
#	Then what each message costs in CPU (client + server), as ratios: the
#	share of this machine a run gets changes, the cost per message less.
#	OUT (default ./bench_queue.tsv) gets the same as tab-separated rows;
#	OUT's name with .raw.tsv gets every single run (and, as "# " lines,
#	the machine); --summarize prints the tables of such a file again.
#
#	--quick: one round, K = 1 and 2, 10 messages a run, a small DB: proves
#	the script works (the "bench" CTest label), measures nothing.
#
# DIAGNOSTICS
#	Exit 1 when something cannot be set up, a scanner does not catch EICAR
#	at set-up, or a run fails (its qqsim line and the daemon log's tail
#	are printed); the targets never change the exit code.  Every process
#	started here is killed and the work dir removed at exit (--keep keeps
#	the dir).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$SRC/tests/bench/machine_cpu.sh"
. "$SRC/tests/bench/bench_lib.sh"
BUILD=$SRC/build/release
ROUNDS=5
MSGS=0
SECS=2
KS="1 2 16 64"
SCANK=16
DIR=/var/tmp
OUT=$PWD/bench_queue.tsv
NQ=4
HASH=100000
BODY=10000
QUICK=0
KEEP=0
SETTLE=65
ALLOW_TMPFS=0
ARGS="$*"
SUMMARIZE=""
OUT_SET=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case $1 in
	-b) BUILD=$2; shift ;;
	-r) ROUNDS=$2; shift ;;
	-n) MSGS=$2; shift ;;
	-t) SECS=$2; shift ;;
	-k) KS=$2; shift ;;
	-K) SCANK=$2; shift ;;
	-d) DIR=$2; shift ;;
	-o) OUT=$2; OUT_SET=1; shift ;;
	--summarize) SUMMARIZE=$2; shift ;;
	-q) NQ=$2; shift ;;
	-S) SETTLE=$2; shift ;;
	--quick) QUICK=1 ;;
	--keep) KEEP=1 ;;
	--allow-tmpfs) ALLOW_TMPFS=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench_queue: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ "$QUICK" = 1 ]; then
	ROUNDS=1 KS="1 2" SCANK=2 HASH=1000 BODY=100 ALLOW_TMPFS=1 SETTLE=0
	[ "$MSGS" != 0 ] || MSGS=10
fi
case " $KS " in *" $SCANK "*) ;; *) KS="$KS $SCANK" ;; esac
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
RAW=${OUT%.tsv}.raw.tsv

say() { echo "bench_queue: $*" >&2; }
die() { echo "bench_queue: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# summary: from RAW alone (also what --summarize RAW runs)


# runs - the measured rows of RAW (no comments, no header, no warm-up)
runs() { awk -F'\t' '$1 ~ /^[0-9]+$/ && $1 > 0' "$RAW"; }

summarize() {
	local rounds ks scank sq_rss exec_rss
	rounds=$(runs | awk -F'\t' '$1 > m { m = $1 } END { print m + 0 }')
	ks=$(runs | cut -f3 | sort -nu | tr '\n' ' ')
	scank=$(runs | awk -F'\t' '!found && ($4 == "raw-engine" || ($2 == "200k" && $4 == "daemon+clamav")) { print $3; found = 1 }')
	scank=${scank:-16}
	{
		printf 'type\tsize\tK\tmode\trate_median\trate_min\trate_max\tp50_ms\tp99_ms\tclient_cpu_ms\tserver_cpu_ms\ttotal_cpu_ms\tclient_maxrss_kb\tserver_hwm_kb\tbatch_avg\truns\tfailed_runs\tmachine_cpu_ms\tidle_pct\n'
		runs | awk -F'\t' "$AWKLIB"'
		{
			key = $2 SUBSEP $3 SUBSEP $4
			if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
			rate[key] = rate[key] " " $7; nruns[key]++
			if ($8 != "-") { p50[key] = p50[key] " " $8; p99[key] = p99[key] " " $9 }
			cc[key] = cc[key] " " $10; sc[key] = sc[key] " " $11; tc[key] = tc[key] " " ($10 + $11)
			if ($12 + 0 > rss[key]) rss[key] = $12 + 0
			if ($13 != "-" && $13 + 0 > hwm[key]) hwm[key] = $13 + 0
			if ($14 != "-") bat[key] = bat[key] " " $14
			if ($15 == 0) bad[key]++
			if ($17 != "" && $17 != "-") mc[key] = mc[key] " " $17
			if ($18 != "" && $18 != "-") mi[key] = mi[key] " " $18
		}
		END {
			for (i = 1; i <= nk; i++) {
				k = order[i]; split(k, a, SUBSEP)
				printf "cell\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%s\t%s\t%.3f\t%.3f\t%.3f\t%d\t%s\t%s\t%d\t%d\t%s\t%s\n",
					a[1], a[2], a[3], med(rate[k]), mn(rate[k]), mx(rate[k]),
					p50[k] == "" ? "-" : sprintf("%.2f", med(p50[k])), p99[k] == "" ? "-" : sprintf("%.2f", med(p99[k])),
					med(cc[k]), med(sc[k]), med(tc[k]), rss[k], (k in hwm) ? hwm[k] : "-",
					bat[k] == "" ? "-" : sprintf("%.1f", med(bat[k])), nruns[k], bad[k] + 0,
					mc[k] == "" ? "-" : sprintf("%.2f", med(mc[k])), mi[k] == "" ? "-" : sprintf("%.0f", med(mi[k]))
			}
		}'
	} >"$OUT.cells"

	# (no reader above may exit early: its writer would die of SIGPIPE under pipefail)
	# throughput ratios: per round NUM/DEN (the two ran minutes apart at
	# most), then median, min, max over the rounds
	runs | awk -F'\t' -v scank="$scank" -v ks="$ks" "$AWKLIB"'
	{ rate[$1 SUBSEP $2 SUBSEP $3 SUBSEP $4] = $7; if ($1 > nr) nr = $1 }
	function ratio(num, den, size, k, target, what,    r, s, q, verdict) {
		s = ""
		for (r = 1; r <= nr; r++) {
			if (!((r SUBSEP size SUBSEP k SUBSEP num) in rate) || !((r SUBSEP size SUBSEP k SUBSEP den) in rate)) continue
			if (rate[r, size, k, den] <= 0) continue
			s = s " " rate[r, size, k, num] / rate[r, size, k, den]
		}
		if (s == "") return
		q = med(s)
		verdict = target == "" ? "-" : (q >= target ? "met" : "NOT met")
		printf "ratio\t%s\t%s\t%s / %s\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\n", size, k, num, den, q, mn(s), mx(s),
			target == "" ? "-" : ">= " target, verdict, what
	}
	END {
		n = split(ks, K, " ")
		for (i = 1; i <= n; i++) {
			ratio("daemon", "direct", "4k", K[i], K[i] == scank ? 1.5 : "", K[i] == scank ? "issue 3: daemon >= 1.5x direct, full crash safety" : "")
			ratio("daemon", "direct", "200k", K[i], "", "")
		}
		for (i = 1; i <= n; i++) { ratio("daemon", "exec", "4k", K[i], "", "share of the exec ceiling"); ratio("direct", "exec", "4k", K[i], "", "share of the exec ceiling") }
		for (i = 1; i <= n; i++) ratio("daemon+clamav", "direct+qhpsi", "4k", K[i], K[i] == scank ? 5 : "", K[i] == scank ? "issue 4: in-process clamav >= 5x QHPSI clamdscan" : "")
		for (i = 1; i <= n; i++) ratio("daemon+clamav", "direct", "4k", K[i], K[i] == scank ? 1.5 : "", K[i] == scank ? "issue 4: scanning daemon >= 1.5x unscanned direct" : "")
		ratio("daemon+clamav", "direct+qhpsi", "200k", scank, "", "")
		ratio("daemon+clamav", "direct", "200k", scank, "", "")
		ratio("daemon+clamav", "raw-engine", "200k", scank, 0.9, "issue 4: 200 KB >= 90% of the raw engine rate")
		ratio("daemon+clamav", "raw-engine-cached", "200k", scank, "", "attachment from libclamav cache (information)")
	}' >"$OUT.ratios"

	# CPU per message (client + server, medians): what each message costs
	# the machine, whatever share of it the benchmark got
	awk -F'\t' -v scank="$scank" '
	$1 == "cell" { cpu[$2 SUBSEP $3 SUBSEP $4] = $12 }
	function c(a, b, size, k, what) {
		if (!((size SUBSEP k SUBSEP a) in cpu) || !((size SUBSEP k SUBSEP b) in cpu) || cpu[size, k, b] <= 0) return
		printf "cpu\t%s\t%s\t%s / %s\t%.2f\t%.3f\t%.3f\t%s\n", size, k, a, b, cpu[size, k, a] / cpu[size, k, b],
			cpu[size, k, a], cpu[size, k, b], what
	}
	END {
		c("direct", "daemon", "4k", scank, "CPU per message: direct costs this many times the daemon")
		c("direct", "daemon", "200k", scank, "")
		c("direct+qhpsi", "daemon+clamav", "4k", scank, "QHPSI clamdscan against in-process clamav")
		c("direct", "daemon+clamav", "4k", scank, "unscanned direct against scanning daemon")
		c("direct+qhpsi", "daemon+clamav", "200k", scank, "")
		c("raw-engine", "daemon+clamav", "200k", scank, "the scan alone against everything a scanned message costs through the daemon")
	}' "$OUT.cells" >"$OUT.cpu"

	# sluice-queue's max RSS (daemon modes: the program is sluice-queue alone)
	sq_rss=$(runs | awk -F'\t' '($4 == "daemon" || $4 == "daemon+clamav") && $12 + 0 > m { m = $12 + 0 } END { print m + 0 }')
	exec_rss=$(runs | awk -F'\t' '$4 == "exec" && $12 + 0 > m { m = $12 + 0 } END { print m + 0 }')
	{
		cat "$OUT.cells"
		printf 'type\tsize\tK\tratio\tmedian\tmin\tmax\ttarget\tverdict\tnote\n'
		cat "$OUT.ratios"
		printf 'type\tsize\tK\tcpu_ratio\tvalue\tcpu_ms_a\tcpu_ms_b\tnote\n'
		cat "$OUT.cpu"
		printf 'type\twhat\tvalue_kb\ttarget\tverdict\tnote\n'
		printf 'rss\tsluice-queue max RSS (daemon modes)\t%s\t<= 1536\t%s\tincludes the pre-exec fork of qqsim: exec ceiling row %s KB\n' \
			"$sq_rss" "$([ "$sq_rss" -le 1536 ] && echo met || echo 'NOT met')" "$exec_rss"
	} >"$OUT"
	rm -f "$OUT.cells" "$OUT.ratios" "$OUT.cpu"

	# Markdown on stdout
	echo
	echo "### Machine"
	echo
	echo '```'
	sed -n 's/^# //p' "$RAW"
	echo '```'
	for size in 4k 200k; do
		echo
		echo "### ${size/k/ KB} messages (median of $rounds rounds)"
		echo
		echo "| K | mode | msgs/s | min–max | p50 ms | p99 ms | CPU ms/msg client | server | total | machine | idle % | client max RSS KB | server VmHWM KB | commit batch | failed runs |"
		echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		awk -F'\t' -v size="$size" '$1 == "cell" && $2 == size {
			srv = ($4 ~ /^(daemon|direct\+qhpsi)/)
			printf "| %s | %s | %.0f | %.0f–%.0f | %s | %s | %.2f | %s | %.2f | %s | %s | %s | %s | %s | %s |\n", $3, $4, $5, $6, $7, $8, $9,
				$10, srv ? sprintf("%.2f", $11) : "-", $12, ($18 == "" ? "-" : $18), ($19 == "" ? "-" : $19),
				$13, $14, $15, $17 }' "$OUT"
	done
	echo
	echo "client = the QMAILQUEUE program and its children (sluice-queue; + clamdscan for QHPSI; for the raw engine"
	echo "bench_scan itself, per scan); server = sluiced, or clamd for direct+qhpsi; machine = busy CPU ms of the whole"
	echo "machine per message (every process and kernel thread, /proc/stat, steal excluded) and idle % = CPU share left idle"
	echo "during the run (near 0: bound by CPU); commit batch = messages per group commit."
	echo
	echo "### Ratios of msgs/s (median of the per-round ratios, min–max) and targets"
	echo
	echo "| size | K | ratio | median | min–max | target | verdict | note |"
	echo "|---|---:|---|---:|---:|---|---|---|"
	awk -F'\t' '$1 == "ratio" { printf "| %s | %s | %s | %.2f | %.2f–%.2f | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7, $8, $9, $10 }' "$OUT"
	awk -F'\t' '$1 == "rss" { printf "| – | – | %s | %s KB | – | %s KB | %s | %s |\n", $2, $3, $4, $5, $6 }' "$OUT"
	echo
	echo "### CPU per message (client + server, medians)"
	echo
	echo "| size | K | ratio | value | CPU ms a | CPU ms b | note |"
	echo "|---|---:|---|---:|---:|---:|---|"
	awk -F'\t' '$1 == "cpu" { printf "| %s | %s | %s | %.2f | %.2f | %.2f | %s |\n", $2, $3, $4, $5, $6, $7, $8 }' "$OUT"
	echo
	echo "TSV: $OUT (summary), $RAW (every run)."
}

if [ -n "$SUMMARIZE" ]; then
	RAW=$SUMMARIZE
	[ -r "$RAW" ] || die "cannot read $RAW"
	[ "$OUT_SET" = 1 ] || OUT=${RAW%.raw.tsv}.tsv
	[ "$OUT" != "$RAW" ] || OUT=$RAW.summary.tsv
	summarize
	exit 0
fi

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "no build dir $BUILD (cmake --preset release && cmake --build --preset release)"
SQ=$BUILD/router/sluice-queue
SLUICED=$BUILD/router/sluiced
MKQ=$BUILD/queue/sluice-mkqueue
QSTAT=$BUILD/queue/sluice-qstat
SIGDB=$BUILD/scan/sluice-sigdb
QQSIM=$BUILD/tests/qqsim
QQNULL=$BUILD/tests/bench/qq-null
BSCAN=$BUILD/tests/bench/bench_scan
for p in "$SQ" "$SLUICED" "$MKQ" "$QSTAT" "$SIGDB" "$QQSIM" "$QQNULL" "$BSCAN"; do
	[ -x "$p" ] || die "$p is not built (build $BUILD first)"
done
BTYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
[ "$BTYPE" = Release ] || [ "$QUICK" = 1 ] || say "warning: $BUILD is a '${BTYPE:-?}' build, not Release"
CLAMD=$(command -v clamd || echo /usr/sbin/clamd)
CLAMDSCAN=$(command -v clamdscan || true)
HAVE_CLAMD=1
if [ ! -x "$CLAMD" ] || [ -z "$CLAMDSCAN" ]; then
	HAVE_CLAMD=0
	say "clamd or clamdscan missing (services/install-deps test): direct+qhpsi is skipped"
fi

unset_sluice_env
AS_USER=()
[ "$(id -u)" != 0 ] || AS_USER=(SLUICE_USER=root)	# sluiced insists as root
WORKERS=$(nproc)

# ---------------------------------------------------------------------------
# work dir, clean-up

mkdir -p "$DIR"
W=$(mktemp -d "$DIR/sluice-bench.XXXXXX") || die "mktemp in $DIR"
PIDS=()
CLAMTMP=""
cleanup() {
	stop_servers
	if [ "$KEEP" = 1 ]; then
		say "kept $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FSTYPE=$(df --output=fstype "$W" 2>/dev/null | tail -n 1 || stat -f -c %T "$W")
# ext3/ext4 without a journal (some VM images) make fsync cheap and give no
# journal to fold concurrent fsyncs into: say so, it changes the picture.
FSNOTE=""
case $FSTYPE in
ext3 | ext4)
	dev=$(df --output=source "$W" 2>/dev/null | tail -n 1)
	dev=${dev##*/}
	if compgen -G "/proc/fs/jbd2/$dev-*" >/dev/null; then
		FSNOTE=", with a journal"
	elif [ -d "/proc/fs/ext4/$dev" ]; then
		FSNOTE=", WITHOUT a journal"
		if [ "$SETTLE" -gt 0 ]; then
			say "ext4 without a journal: sync, then ${SETTLE}s for earlier deletions to age (-S 0: no wait)"
			sync
			sleep "$SETTLE"
		fi
	fi
	FSNOTE="$FSNOTE; $(tr '\n' ' ' <"/proc/fs/ext4/$dev/options" 2>/dev/null | grep -o 'data=[a-z]*' || true)"
	FSNOTE=${FSNOTE%; }
	;;
esac
case $FSTYPE in
tmpfs | ramfs)
	[ "$ALLOW_TMPFS" = 1 ] || die "$W is on $FSTYPE: fsync is free there, the figures would mean nothing (-d DIR on disk, or --allow-tmpfs)" ;;
esac

{
	echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "host:     $(uname -srm); $(nproc) cores; $(awk '/MemTotal/ {printf "%.1f GB RAM", $2/1048576}' /proc/meminfo)"
	echo "cpu:      $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
	echo "build:    $BUILD (${BTYPE:-?})"
	echo "work dir: $W ($FSTYPE$FSNOTE)"
	df -T "$W" | sed 's/^/          /'
	echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at start"
	echo "command:  tests/bench/bench_queue.sh $ARGS"
	echo "settings: rounds $ROUNDS; msgs ${MSGS/#0/auto (~$SECS s a run)}; K $KS; scanning K $SCANK; $NQ queues;" \
		"DB $HASH hash + $BODY body signatures; $WORKERS scan workers"
} | tee "$W/machine.txt" >&2

# ---------------------------------------------------------------------------
# inputs: signature DB, the 200 KB message, an EICAR message

"$SIGDB" -o "$W/db" -H "$HASH" -B "$BODY" >/dev/null || die "sluice-sigdb failed"

# m200k.eml: a covering note and a 150,000-byte attachment (pseudo-random
# bytes, like any compressed document or image; fixed seed), base64 in 76-
# character lines: 204,179 bytes in all.
{
	printf 'From: Alice Example <alice@example.org>\nTo: Bob Example <bob@example.net>\n'
	printf 'Subject: quarterly figures\nDate: Sat, 22 Nov 2025 03:00:00 +0000\n'
	printf 'Message-ID: <bench-200k@example.org>\nMIME-Version: 1.0\n'
	printf 'Content-Type: multipart/mixed; boundary="=_sluice_bench_0001"\n\n'
	printf 'This is a multi-part message in MIME format.\n\n--=_sluice_bench_0001\n'
	printf 'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n'
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		printf 'Hello Bob, here are the figures for this quarter, line %d of the covering note.\n' "$i"
	done
	printf '\n--=_sluice_bench_0001\n'
	printf 'Content-Type: application/octet-stream; name="figures.dat"\n'
	printf 'Content-Transfer-Encoding: base64\n'
	printf 'Content-Disposition: attachment; filename="figures.dat"\n\n'
	awk -v n=150000 'BEGIN { srand(20251122); for (i = 0; i < n; i++) printf "%02X", int(rand() * 256) }' |
		basenc --base16 -d | base64 -w 76
	printf '\n--=_sluice_bench_0001--\n'
} >"$W/m200k.eml"
[ "$(wc -c <"$W/m200k.eml")" -gt 200000 ] || die "could not write the 200 KB message (awk, basenc, base64)"

{
	printf 'From: sender@example.org\nTo: rcpt@example.net\nSubject: eicar\n\n'
	printf '%s\n' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
} >"$W/eicar.eml"

# ---------------------------------------------------------------------------
# queues and servers

for q in direct daemon clamav qhpsi; do
	mkdir "$W/q-$q"
	"$MKQ" -q -b "$W/q-$q" -c "$NQ" || die "sluice-mkqueue -b $W/q-$q failed"
done

PID_daemon="" PID_clamav=""	# set by start_sluiced
start_sluiced daemon "$SLUICED" "$W/q-daemon" "$NQ" SLUICE_SCANNERS=null
start_sluiced clamav "$SLUICED" "$W/q-clamav" "$NQ" SLUICE_SCANNERS=clamav SLUICE_CLAMDB="$W/db" SLUICE_WORKERS="$WORKERS"

PID_clamd=""
[ "$HAVE_CLAMD" = 0 ] || start_clamd "$W/db"
QHPSI_CMD="$CLAMDSCAN --no-summary --config-file=$W/clamd.conf %s"

# mode_env MODE - the environment qqsim (and so the program) runs with
mode_env() {
	case $1 in
	exec) ENVS=() ;;
	direct) ENVS=(QUEUE_BASE="$W/q-direct" QUEUE_COUNT="$NQ" SLUICE_MODE=direct SLUICE_SYNC=full) ;;
	daemon) ENVS=(QUEUE_BASE="$W/q-daemon" QUEUE_COUNT="$NQ") ;;
	daemon+clamav) ENVS=(QUEUE_BASE="$W/q-clamav" QUEUE_COUNT="$NQ") ;;
	direct+qhpsi) ENVS=(QUEUE_BASE="$W/q-qhpsi" QUEUE_COUNT="$NQ" SLUICE_MODE=direct SLUICE_SYNC=full
		QHPSI="$QHPSI_CMD" QHPSIRC=1 QHPSIRN=0) ;;
	esac
}
mode_prog() { [ "$1" = exec ] && echo "$QQNULL" || echo "$SQ"; }
mode_qbase() {
	case $1 in
	direct) echo "$W/q-direct" ;; daemon) echo "$W/q-daemon" ;;
	daemon+clamav) echo "$W/q-clamav" ;; direct+qhpsi) echo "$W/q-qhpsi" ;; *) echo "" ;;
	esac
}
mode_server() {
	case $1 in
	daemon) echo "$PID_daemon" ;; daemon+clamav) echo "$PID_clamav" ;;
	direct+qhpsi) echo "$PID_clamd" ;; *) echo "" ;;
	esac
}

# Set-up check: each scanning path really scans with this DB.
check_one() {	# MODE FILE WANT
	local out
	mode_env "$1"
	out=$(env "${ENVS[@]}" "$QQSIM" -p "$(mode_prog "$1")" -m "$2" 2>>"$W/qqsim.err") || true
	case $out in
	"exit $3 "*) say "check: $1 $(basename "$2"): $out" ;;
	*) die "check: $1 on $(basename "$2"): '$out', want exit $3" ;;
	esac
}
for m in exec direct daemon daemon+clamav direct+qhpsi; do
	[ "$m" != direct+qhpsi ] || [ "$HAVE_CLAMD" = 1 ] || continue
	check_one "$m" "$W/m200k.eml" 0
done
check_one daemon+clamav "$W/eicar.eml" 31
[ "$HAVE_CLAMD" = 0 ] || check_one direct+qhpsi "$W/eicar.eml" 31

# ---------------------------------------------------------------------------
# one run

CLK_TCK=$(getconf CLK_TCK)
# batch_stats MODE - "batches batch_messages" of a daemon mode's sluiced
batch_stats() {
	local qb
	case $1 in daemon | daemon+clamav) ;; *) echo "0 0"; return ;; esac
	qb=$(mode_qbase "$1")
	SLUICE_SOCKET=$qb/sluiced.sock "$QSTAT" --live -b "$qb" -c "$NQ" 2>/dev/null |
		awk '/^sluiced: batches / { b = $3 } /^sluiced: batch_messages / { m = $3 } END { print b + 0, m + 0 }'
}
# retire_queue MODE - give the disk space of the run's messages back without
# deleting a file (see DESCRIPTION): truncate the mess files that have data
retire_queue() {
	local qb
	qb=$(mode_qbase "$1")
	[ -z "$qb" ] || find "$qb"/queue*/mess -type f -size +0c -print0 | xargs -0 -r truncate -s 0
}
size_args() { [ "$1" = 4k ] && echo "-s 4096" || echo "-m $W/m200k.eml"; }

sed 's/^/# /' "$W/machine.txt" >"$RAW"
printf 'round\tsize\tK\tmode\tmsgs\tseconds\trate\tp50_ms\tp99_ms\tclient_cpu_ms\tserver_cpu_ms\tclient_maxrss_kb\tserver_hwm_kb\tbatch_avg\tok\texits\tmachine_cpu_ms\tidle_pct\n' >>"$RAW"
LAST_RATE=0

# run ROUND SIZE K MODE N - one run; appends to RAW, sets LAST_RATE
run() {
	local round=$1 size=$2 k=$3 mode=$4 n=$5 out spid t0=0 t1=0 b0 b1 line
	local -A f=()
	if [ "${mode%%-*}" = raw ]; then
		local vary=part lim=(-s "$SECS")
		[ "$mode" = raw-engine ] || vary=header
		[ "$MSGS" = 0 ] || lim=(-n "$n")
		[ "$round" != 0 ] || lim=(-s 0.5)
		out=$("$BSCAN" -f "$W/m200k.eml" -D "$W/db" -t "$WORKERS" -d "$W" -V "$vary" "${lim[@]}" 2>>"$W/bench_scan.err") ||
			die "bench_scan failed: $out $(tail -3 "$W/bench_scan.err")"
		for kv in $out; do f[${kv%%=*}]=${kv#*=}; done
		LAST_RATE=${f[rate]}
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\t-\t%s\t0\t%s\t-\t-\t1\t-\n' "$round" "$size" "$k" "$mode" \
			"${f[scans]}" "${f[seconds]}" "${f[rate]}" "${f[cpu_ms_per_scan]}" "${f[maxrss_kb]}" >>"$RAW"
		return
	fi
	mode_env "$mode"
	spid=$(mode_server "$mode")
	read -r b0 bm0 < <(batch_stats "$mode")
	t0=$(cpu_ticks "$spid")
	read -r m0 </proc/stat
	# shellcheck disable=SC2046
	out=$(env "${ENVS[@]}" "$QQSIM" -p "$(mode_prog "$mode")" -u $(size_args "$size") -n "$n" -k "$k" \
		${spid:+-D "$spid"} 2>>"$W/qqsim.err") || true
	read -r m1 </proc/stat
	t1=$(cpu_ticks "$spid")
	read -r b1 bm1 < <(batch_stats "$mode")
	retire_queue "$mode"
	for kv in $out; do f[${kv%%=*}]=${kv#*=}; done
	[ -n "${f[rate]:-}" ] || die "qqsim gave no figures for $mode K=$k $size: '$out' $(tail -3 "$W/qqsim.err")"
	local ok=1 scpu=0 batch=-
	[ "${f[exits]}" = "0:${f[msgs]}," ] && [ "${f[msgs]}" = "$n" ] || ok=0
	if [ "$ok" = 0 ]; then
		say "FAILED RUN: $mode K=$k $size: $out"
		tail -3 "$W/qqsim.err" >&2
		case $mode in daemon*) tail -3 "$W/sluiced-${mode#daemon+}.log" >&2 || true ;; esac
	fi
	[ -z "$spid" ] || scpu=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.3f", t * 1000 / hz / n }')
	[ "$b1" = "$b0" ] || batch=$(awk -v b=$((b1 - b0)) -v m=$((bm1 - bm0)) 'BEGIN { printf "%.1f", m / b }')
	local mcpu midle
	read -r mcpu midle < <(machine_cpu "$m0" "$m1" "$n")	# the whole machine during the run
	LAST_RATE=${f[rate]}
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$size" "$k" "$mode" \
		"${f[msgs]}" "${f[seconds]}" "${f[rate]}" "${f[p50_ms]}" "${f[p99_ms]}" "${f[cpu_ms_per_msg]}" \
		"$scpu" "${f[client_maxrss_kb]}" "$([ -n "$spid" ] && echo "${f[daemon_hwm_kb]}" || echo -)" \
		"$batch" "$ok" "${f[exits]}" "$mcpu" "$midle" >>"$RAW"
	FAILED=$((FAILED + 1 - ok))
}
FAILED=0

# ---------------------------------------------------------------------------
# the plan: one cell per (size, K), each with its modes

CELLS=()
for size in 4k 200k; do
	for k in $KS; do
		m="exec direct daemon"
		if [ "$size" = 4k ] || [ "$k" = "$SCANK" ]; then
			m="$m daemon+clamav"
			[ "$HAVE_CLAMD" = 0 ] || m="$m direct+qhpsi"
		fi
		[ "$size" = 4k ] || [ "$k" != "$SCANK" ] || m="$m raw-engine raw-engine-cached"
		CELLS+=("$size $k $m")
	done
done

declare -A N=()
# count K N - N rounded up to a multiple of K, at least 4 messages a session
count() { local k=$1 n=$2; [ "$n" -ge $((4 * k)) ] || n=$((4 * k)); echo $(((n + k - 1) / k * k)); }

if [ "$MSGS" = 0 ]; then
	say "warm-up round: sizing each run to about $SECS s"
	for c in "${CELLS[@]}"; do
		set -- $c
		size=$1 k=$2
		shift 2
		for mode; do
			run 0 "$size" "$k" "$mode" "$(count "$k" 32)"
			N[$size/$k/$mode]=$(count "$k" "$(awk -v r="$LAST_RATE" -v s="$SECS" 'BEGIN { printf "%d", r * s }')")
		done
	done
fi

START=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
	say "round $r of $ROUNDS ($(($(date +%s) - START)) s so far; load $(cut -d' ' -f1 /proc/loadavg))"
	for c in "${CELLS[@]}"; do
		set -- $c
		size=$1 k=$2
		shift 2
		modes=("$@")
		nm=${#modes[@]}
		for ((j = 0; j < nm; j++)); do
			mode=${modes[$(((j + r - 1) % nm))]}
			n=${N[$size/$k/$mode]:-$(count "$k" "$MSGS")}
			run "$r" "$size" "$k" "$mode" "$n"
		done
	done
done
echo "# load:     $(cut -d' ' -f1-3 /proc/loadavg) at end; the $ROUNDS measured rounds took $(($(date +%s) - START)) s" >>"$RAW"

summarize
if [ "$FAILED" != 0 ]; then
	say "$FAILED run(s) failed (see the table)"
	exit 1
fi
exit 0
