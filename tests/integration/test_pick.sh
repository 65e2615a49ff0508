#!/bin/bash
# test_pick.sh - queue choice skips unusable queues: a queue with a "down"
# file, a queue whose todo + intd backlog is over SLUICE_MAX_BACKLOG.  While
# another queue is usable every message lands there; when none is, exit 71
# (qmail-smtpd: 451) and nothing queued; once a queue is usable again,
# messages flow.  Each change is logged by the daemon (found by the health
# thread, off the loop thread).
. "$(dirname "$0")/lib.sh"
lib_init

make_queues 2

# log_has RE - the daemon log has a line matching RE
log_has() { grep -q "$1" "$DLOG"; }

# submit N WANT - N messages, each must exit WANT
submit() {
	local i
	for ((i = 0; i < $1; i++)); do
		run_qq -s 1500
		expect "message $i" "$2"
	done
}

todo_in() { find "$WORK/queue$1/todo" -type f | wc -l; }

# --- down files
daemon_start
t0=$(now_ms)
touch "$WORK/queue1/down"
wait_until 10 "queue1 marked down" log_has 'queue1: marked down: no new messages'
ms=$(($(now_ms) - t0))
# measured once a second by the health thread, which wakes the loop at once:
# a second plus the probe, never two
[ "$ms" -le 1700 ] || fail "the down file took $ms ms to be honoured, want about 1000 at most"
echo "$T: down file honoured after $ms ms"
submit 12 0
[ "$(todo_in 1)" = 0 ] || fail "queue1 is down but got $(todo_in 1) messages"
[ "$(todo_in 2)" = 12 ] || fail "queue2 got $(todo_in 2) messages, want 12"
check_queues

touch "$WORK/queue2/down"
wait_until 10 "queue2 marked down" log_has 'queue2: marked down: no new messages'
before=$(count todo)
submit 3 71
grep -q 'verdict no-queue action defer exit 71 .*no queue available' "$DLOG" ||
	fail "no log line for the no-queue deferral"
[ "$(count todo)" = "$before" ] || fail "a message was queued while every queue was down"
[ "$(count pid)" = 0 ] && [ "$(count intd)" = "$before" ] || fail "leftovers after the deferrals"

rm "$WORK/queue1/down" "$WORK/queue2/down"
wait_until 10 "queue1 back" log_has 'queue1: no longer down'
wait_until 10 "queue2 back" log_has 'queue2: no longer down'
submit 6 0
[ "$(count todo)" = $((before + 6)) ] || fail "messages did not flow once the queues were back"
daemon_stop
clear_queues

# --- backlog: queue1 holds 6 entries (as if qmail-send lagged), the limit is 5
daemon_start SLUICE_MAX_BACKLOG=5
for i in 1 2 3 4 5 6; do : >"$WORK/queue1/todo/90000$i"; done
wait_until 10 "queue1 over its backlog" log_has 'queue1: backlog 6 over SLUICE_MAX_BACKLOG 5: no new messages'
submit 3 0
[ "$(todo_in 1)" = 6 ] || fail "queue1 is over its backlog but got messages"
[ "$(todo_in 2)" = 3 ] || fail "queue2 got $(todo_in 2) messages, want 3"

# queue2 now holds 3 messages: 3 todo + 3 intd entries, over the limit too
wait_until 10 "queue2 over its backlog" log_has 'queue2: backlog 6 over SLUICE_MAX_BACKLOG 5'
submit 2 71

rm -f "$WORK"/queue1/todo/90000?
wait_until 10 "queue1 under its backlog" log_has 'queue1: backlog 0, back under SLUICE_MAX_BACKLOG'
submit 2 0
[ "$(todo_in 1)" = 2 ] || fail "queue1 got $(todo_in 1) messages once under its backlog, want 2"
daemon_stop
say "ok"
