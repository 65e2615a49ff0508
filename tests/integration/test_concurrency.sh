#!/bin/bash
# test_concurrency.sh - 200 concurrent qmail-smtpd sessions through one sluiced.
#
# qqsim -n 400 -k 200 (each message tagged with an X-Qqsim-Id) against a
# daemon on 4 queues with full crash safety.  Checks: all 400 clients exit 0;
# then, with the daemon idle: 400 todo entries, pid/ empty, every message
# whole and consistent (check_queues.pl: mess = Received line + exactly the
# message qqsim sent, intd u/p/F/T with p = the Received line's pid), the set
# of ids on disk is exactly the set of ids acknowledged; every queue got
# messages; sluice-qstat's per-queue and total figures equal the files on
# disk; the daemon's live figures (sluice-qstat --live) say 400 accepted,
# nothing rejected, deferred or failed, nothing in flight, and some commit
# batch held several messages (group commit); SIGTERM then exits 0 with
# "stopped: accepted 400".  The daemon runs with the usual soft limit of
# 1024 open files.
. "$(dirname "$0")/lib.sh"
lib_init

N=400
K=200
make_queues 4
make_ref 4096
# the usual soft limit on open files, as under a supervisor: 200 messages in
# flight hold about 1000 descriptors
lim=$(ulimit -Sn)
if [ "$lim" = unlimited ] || [ "$lim" -gt 1024 ]; then
	ulimit -Sn 1024
fi
say "open files limit $(ulimit -Sn)"
daemon_start

say "$K concurrent clients, $N messages"
load_qq "$WORK/load.out" -n $N -k $K -s 4096 -i conc -v -D "$DPID"
say "qqsim: $LOAD_SUMMARY"
[ "$LOAD_EXITS" = "0:$N," ] || fail "exit codes $LOAD_EXITS, want 0:$N,"
grep '^id ' "$WORK/load.out" | awk '$4 == 0 { print $2 }' | sort >"$WORK/acked"
[ "$(wc -l <"$WORK/acked")" = $N ] || fail "$(wc -l <"$WORK/acked") ids acknowledged, want $N"
[ "$(sort -u "$WORK/acked" | wc -l)" = $N ] || fail "qqsim printed duplicate ids"

wait_idle
say "on disk: $(count todo) todo, $(count intd) intd, $(count mess) mess, $(count pid) pid"
[ "$(count todo)" = $N ] || fail "$(count todo) todo entries, want $N"
[ "$(count pid)" = 0 ] || fail "$(count pid) markers left in pid/"
check_queues "$WORK/ref.4096" >"$WORK/check.out" || fail "queues inconsistent"
awk '{ print $4 }' "$WORK/check.out" | sort >"$WORK/ondisk"
cmp -s "$WORK/acked" "$WORK/ondisk" ||
	fail "ids on disk differ from ids acknowledged: $(diff "$WORK/acked" "$WORK/ondisk" | head -5)"
say "ok: $N messages whole, each once, each the one its client was told 0 for"

for ((i = 1; i <= NQ; i++)); do
	n=$(find "$WORK/queue$i/todo" -type f | wc -l)
	[ "$n" -gt 0 ] || fail "queue$i got no message: the load is not spread"
	say "queue$i: $n messages"
done

"$QSTAT" -b "$WORK" -c "$NQ" >"$WORK/qstat.out" || fail "sluice-qstat failed"
for ((i = 1; i <= NQ; i++)); do
	n=$(find "$WORK/queue$i/mess" -type f | wc -l)
	t=$(find "$WORK/queue$i/todo" -type f | wc -l)
	grep -qx "queue$i: messages in queue: $n" "$WORK/qstat.out" ||
		fail "sluice-qstat: queue$i mess figure is not $n: $(cat "$WORK/qstat.out")"
	grep -qx "queue$i: messages in queue but not yet preprocessed: $t" "$WORK/qstat.out" ||
		fail "sluice-qstat: queue$i todo figure is not $t"
done
grep -qx "total: messages in queue: $N" "$WORK/qstat.out" ||
	fail "sluice-qstat total is not $N: $(cat "$WORK/qstat.out")"
grep -qx "total: messages in queue but not yet preprocessed: $N" "$WORK/qstat.out" ||
	fail "sluice-qstat total todo is not $N"
say "ok: sluice-qstat per queue and total = files on disk = $N"

for kv in "accepted $N" "rejected 0" "deferred 0" "failed 0" "inflight 0" "bytes_inflight 0"; do
	v=$(stat_get "${kv% *}")
	[ "$v" = "${kv#* }" ] || fail "sluice-qstat --live: ${kv% *} is '$v', want ${kv#* }"
done
say "ok: live figures: accepted $N, nothing rejected, deferred, failed or in flight"
bmax=$(stat_get batch_max)
say "commit batches: $(stat_get batches), largest $bmax"
[ "$bmax" -gt 1 ] || fail "no commit batch held more than one message under $K clients"

daemon_stop
grep -q "^sluiced: stopped: accepted $N rejected 0 deferred 0 failed 0" "$DLOG" ||
	fail "stop line: $(grep 'stopped' "$DLOG")"
[ "$(grep -c '^msg .* exit 0 ' "$DLOG")" = $N ] || fail "not $N log lines with exit 0"
say "ok"
