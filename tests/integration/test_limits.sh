#!/bin/bash
# test_limits.sh - backpressure: limits hit give a fast 71, never a hang, and
# the daemon's memory stays bounded.
#
# 1. SLUICE_MAX_INFLIGHT=4, 20 slow senders (qqsim -w 3000: a 3 s pause in
#    the middle of each message), clients with SLUICE_ACCEPT_TIMEOUT=1: the
#    daemon never has more than 4 messages in flight (sampled on its stats
#    socket); the other 16 clients wait in the listen backlog and exit 71
#    after about 1 s (each client's own run time is measured by a wrapper,
#    well before the 3 s pause ends); the 4 exit 0; afterwards exactly those
#    4 are in the queue (the 16 given up are not committed later, when the
#    daemon reaches their connections) and nothing else is left.
# 2. The same limit with the default accept timeout and 1 s pauses: the 16
#    wait in the backlog and are served in turn; all 20 exit 0.
# 3. Memory: 400 messages of 200 KB from 100 concurrent clients, then 64
#    slow senders of 2 MB pausing after 1 MB each (64 MB in flight at once):
#    all exit 0 and the daemon's VmHWM stays under 64 MB (relaxed under
#    AddressSanitizer, whose shadow memory and quarantine dominate).
# 4. SLUICE_READ_TIMEOUT=1 with a sender pausing 3 s: exit 52 ("qq timeout")
#    after about 1 s, nothing left in the queue, the log naming the read
#    timeout; then SLUICE_MESSAGE_TIMEOUT=1: 52, the log naming that one.
# 5. SLUICE_MAX_INFLIGHT=1 held by a sender pausing 6 s; a 1 MB message
#    (far more than a pipe holds) from a client with SLUICE_ACCEPT_TIMEOUT=1:
#    qmail-smtpd's side (qqsim) is done within about 1 s with 71 - its
#    write() is not left blocked on a pipe whose read end waits, unread,
#    in a connection the daemon has not accepted.
# 6. Open files: sluiced under a hard limit of 400 descriptors that it may
#    not raise (CAP_SYS_RESOURCE dropped).  Without SLUICE_MAX_INFLIGHT it
#    derives a smaller in-flight limit from it and logs both: 300 messages
#    from 64 sessions all exit 0.  With SLUICE_MAX_INFLIGHT=300 it warns,
#    runs out of descriptors under 128 slow senders, answers those messages
#    71 (never a queue error code), takes no queue out of service, and a
#    message right after the load is committed at once.
. "$(dirname "$0")/lib.sh"
lib_init

make_queues 2
timed_sq

# monitor - sample the daemon's in-flight count every 20 ms into
# WORK/inflight until WORK/monitor.stop exists
monitor() {
	rm -f "$WORK/monitor.stop"
	: >"$WORK/inflight"
	(
		while [ ! -e "$WORK/monitor.stop" ]; do
			stat_get inflight >>"$WORK/inflight"
			sleep 0.02
		done
	) &
	MON=$!
	track "$MON"
}
monitor_end() {
	: >"$WORK/monitor.stop"
	wait "$MON" || true
	MAXIN=$(sort -n "$WORK/inflight" | tail -n 1)
}

say "--- 1. SLUICE_MAX_INFLIGHT=4, 20 slow senders, SLUICE_ACCEPT_TIMEOUT=1"
daemon_start SLUICE_MAX_INFLIGHT=4
monitor
QQ_PROG=$WORK/sq-timed load_qq "$WORK/load1.out" SLUICE_ACCEPT_TIMEOUT=1 \
	-n 20 -k 20 -w 3000 -i lim -v
monitor_end
say "qqsim: $LOAD_SUMMARY"
say "most messages in flight seen: $MAXIN"
[ "$MAXIN" -le 4 ] || fail "$MAXIN messages in flight with SLUICE_MAX_INFLIGHT=4"
[ "$MAXIN" = 4 ] || fail "never 4 messages in flight: the limit was not reached ($MAXIN)"
[ "$LOAD_EXITS" = "0:4,71:16," ] || fail "exit codes $LOAD_EXITS, want 0:4,71:16,"
[ "$(wc -l <"$WORK/times")" = 20 ] || fail "$(wc -l <"$WORK/times") clients timed, want 20"
while read -r pid start end rc; do
	ms=$(((end - start) / 1000))
	case $rc in
	71) [ "$ms" -lt 2500 ] ||
		fail "client $pid exited 71 after $ms ms: not fast (pause is 3000 ms)" ;;
	0) [ "$ms" -ge 2500 ] ||
		fail "client $pid exited 0 after $ms ms, before its sender finished" ;;
	*) fail "client $pid exited $rc" ;;
	esac
done <"$WORK/times"
say "ok: 16 clients over the limit exited 71 in $(awk '$4 == 71 { d = ($3 - $2) / 1000; if (d > m) m = d } END { printf "%d", m }' "$WORK/times") ms at most; 4 exited 0"
# the daemon reaches the 16 abandoned connections once slots free up
wait_until 20 "20 log lines" eval '[ "$(grep -c "^msg " "$DLOG")" -ge 20 ]'
wait_idle
[ "$(grep -c '^msg .* verdict client-gone .*exit 71 ' "$DLOG")" = 16 ] ||
	fail "not 16 abandoned connections logged as client-gone: $(grep '^msg ' "$DLOG" | grep -v 'exit 0 ' | head -3)"
[ "$(count todo)" = 4 ] || fail "$(count todo) messages queued, want the 4 acknowledged"
check_queues >"$WORK/check.out" || fail "queues inconsistent"
awk '{ print $4 }' "$WORK/check.out" | sort >"$WORK/ondisk"
awk '$1 == "id" && $4 == 0 { print $2 }' "$WORK/load1.out" | sort >"$WORK/acked"
cmp -s "$WORK/acked" "$WORK/ondisk" || fail "queued ids are not the acknowledged ones"
say "ok: exactly the 4 acknowledged messages queued; the 16 given up were not committed"
daemon_stop
clear_queues

say "--- 2. SLUICE_MAX_INFLIGHT=4, 20 senders pausing 1 s, default accept timeout"
daemon_start SLUICE_MAX_INFLIGHT=4
monitor
load_qq "$WORK/load2.out" -n 20 -k 20 -w 1000
monitor_end
say "qqsim: $LOAD_SUMMARY"
[ "$LOAD_EXITS" = "0:20," ] || fail "exit codes $LOAD_EXITS, want 0:20,"
[ "$MAXIN" -le 4 ] || fail "$MAXIN messages in flight with SLUICE_MAX_INFLIGHT=4"
[ "$MAXIN" = 4 ] || fail "never 4 messages in flight: the limit was not reached ($MAXIN)"
wait_idle
[ "$(count todo)" = 20 ] || fail "$(count todo) messages queued, want 20"
say "ok: never more than 4 in flight; the 16 beyond the limit waited in the backlog and were served"
daemon_stop
clear_queues

say "--- 3. memory: 200 KB messages, then 64 MB in flight"
daemon_start
load_qq "$WORK/load3.out" -n 400 -k 100 -s 200000 -D "$DPID"
say "qqsim: $LOAD_SUMMARY"
[ "$LOAD_EXITS" = "0:400," ] || fail "200 KB messages: exit codes $LOAD_EXITS"
monitor
: >"$WORK/bytes"
(
	while [ ! -e "$WORK/monitor.stop" ]; do
		stat_get bytes_inflight >>"$WORK/bytes"
		sleep 0.05
	done
) &
BMON=$!
track "$BMON"
load_qq "$WORK/load4.out" -n 64 -k 64 -s 2000000 -w 1000 -D "$DPID"
monitor_end
wait "$BMON" || true
say "qqsim: $LOAD_SUMMARY"
[ "$LOAD_EXITS" = "0:64," ] || fail "2 MB slow senders: exit codes $LOAD_EXITS"
peak=$(sort -n "$WORK/bytes" | tail -n 1)
hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$DPID/status")
[ -n "$hwm" ] || fail "cannot read VmHWM of sluiced (pid $DPID)"
say "daemon: at most $MAXIN messages and $((peak / 1048576)) MB in flight; VmHWM $((hwm / 1024)) MB (qqsim saw $(summary_get daemon_hwm_kb) kB)"
[ "$peak" -ge $((32 * 1048576)) ] || fail "only $peak bytes were ever in flight: the test did not load the daemon"
limit=$((64 * 1024))
if is_asan "$DPID"; then
	limit=$((256 * 1024))
	say "(AddressSanitizer build: bound relaxed to 256 MB)"
fi
[ "$hwm" -lt "$limit" ] || fail "daemon VmHWM $hwm kB, want < $limit kB"
wait_idle
[ "$(count todo)" = 464 ] || fail "$(count todo) messages queued, want 464"
check_queues >/dev/null || fail "queues inconsistent"
say "ok: memory bounded"
daemon_stop
clear_queues

say "--- 4. SLUICE_READ_TIMEOUT=1, sender pausing 3 s"
daemon_start SLUICE_READ_TIMEOUT=1
: >"$WORK/times"
QQ_PROG=$WORK/sq-timed run_qq -w 3000
expect "idle sender" 52
read -r pid start end rc <"$WORK/times"
ms=$(((end - start) / 1000))
[ "$ms" -lt 2500 ] || fail "idle sender: sluice-queue exited after $ms ms, want about 1000"
assert_queue_empty "idle sender"
grep -q '^msg .* verdict timeout .*exit 52 .*why qmail-smtpd sent nothing for SLUICE_READ_TIMEOUT (1 s)' "$DLOG" ||
	fail "no log line naming SLUICE_READ_TIMEOUT: $(grep '^msg ' "$DLOG")"
say "ok: idle sender -> exit 52 after $ms ms, nothing left"
daemon_stop
daemon_start SLUICE_MESSAGE_TIMEOUT=1 SLUICE_READ_TIMEOUT=10
run_qq -w 3000
expect "sender past SLUICE_MESSAGE_TIMEOUT" 52
grep -q '^msg .* verdict timeout .*exit 52 .*why the message took longer than SLUICE_MESSAGE_TIMEOUT (1 s)' "$DLOG" ||
	fail "no log line naming SLUICE_MESSAGE_TIMEOUT: $(grep '^msg ' "$DLOG")"
assert_queue_empty "message timeout"
say "ok: SLUICE_MESSAGE_TIMEOUT named in the log"
daemon_stop

say "--- 5. a 1 MB message over the in-flight limit: qmail-smtpd is not held"
daemon_start SLUICE_MAX_INFLIGHT=1
load_qq "$WORK/hold.out" -n 1 -k 1 -w 6000 &
HOLD=$!
track "$HOLD"
wait_until 5 "the slow sender to hold the only slot" eval '[ "$(stat_get inflight)" = 1 ]'
run_qq SLUICE_ACCEPT_TIMEOUT=1 -s 1000000
expect "1 MB message over the limit" 71
[ "$QQ_MS" -lt 3000 ] || fail "qmail-smtpd's side took $QQ_MS ms: held until the slot freed"
say "ok: 71 and qmail-smtpd free after $QQ_MS ms (the slot is held for 6 s)"
wait "$HOLD" || fail "the slow sender failed"
grep -q 'exits=0:1,$' "$WORK/hold.out" || fail "the slow sender: $(grep '^msgs=' "$WORK/hold.out")"
wait_idle
[ "$(count todo)" = 1 ] || fail "$(count todo) messages queued, want the slow sender's one"
daemon_stop

say "--- 6. a low open files limit"
# nofile_start VAR=VALUE... - sluiced with nofile 400:400 it cannot raise
nofile_start() {
	NSTART=$((NSTART + 1))
	DLOG=$WORK/sluiced.$NSTART.log
	env QUEUE_BASE="$WORK" QUEUE_COUNT="$NQ" SLUICE_SCANNERS=null $AS_USER "$@" \
		prlimit --nofile=400:400 setpriv --bounding-set=-sys_resource --inh-caps=-all \
		"$SLUICED" 2>>"$DLOG" </dev/null &
	DPID=$!
	track "$DPID"
	wait_until 5 "sluiced to listen" eval 'grep -q "^sluiced: listening on " "$DLOG" && [ -S "$SOCK" ]'
}
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && command -v prlimit >/dev/null; then
	nofile_start
	grep -q '^sluiced: open files limit 400; in-flight limit [0-9]* (derived from it)$' "$DLOG" ||
		fail "no log line with the derived in-flight limit: $(grep 'open files' "$DLOG")"
	say "$(grep 'open files' "$DLOG")"
	load_qq "$WORK/nofile1.out" -n 300 -k 64
	say "qqsim: $LOAD_SUMMARY"
	[ "$LOAD_EXITS" = "0:300," ] || fail "derived limit: exit codes $LOAD_EXITS, want 0:300,"
	wait_idle
	daemon_stop
	clear_queues

	nofile_start SLUICE_MAX_INFLIGHT=300
	grep -q 'warning: SLUICE_MAX_INFLIGHT=300 needs about' "$DLOG" || fail "no warning for SLUICE_MAX_INFLIGHT=300"
	load_qq "$WORK/nofile2.out" -n 256 -k 128 -w 500
	say "qqsim: $LOAD_SUMMARY"
	case $LOAD_EXITS in
	*5[0-9]:* | *6[0-9]:* | *8[0-9]:* | *9[0-9]:*) fail "queue error codes under fd pressure: $LOAD_EXITS" ;;
	esac
	wait_idle
	run_qq
	expect "a message right after the fd pressure" 0
	[ "$QQ_MS" -lt 900 ] || fail "the message after the load took $QQ_MS ms"
	grep -q "Too many open files" "$DLOG" || fail "the load never ran out of descriptors: the test did not test"
	say "ok: under fd pressure only 0 and 71 ($LOAD_EXITS); no queue taken out of service"
	daemon_stop
else
	say "skipped: needs root, prlimit and setpriv"
fi
say "ok"
