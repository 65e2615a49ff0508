#!/bin/bash
# test_require_send.sh - SLUICE_REQUIRE_SEND=1: a queue takes new messages
# only while some process holds flock() on its lock/sendmutex, as qmail-send
# does (seen through /proc/locks).
#   No lock anywhere: 71 (no queue).  A lock on queue2's sendmutex: every
#   message goes to queue2, none to queue1.  The lock released: 71 again
#   within the daemon's one-second health check.
. "$(dirname "$0")/lib.sh"
lib_init

command -v flock >/dev/null || skip "no flock(1)"
[ -r /proc/locks ] || skip "no /proc/locks"
make_queues 2
daemon_start SLUICE_REQUIRE_SEND=1

say "no qmail-send: deferred"
run_qq -s 2000
expect "no qmail-send" 71
assert_queue_empty "no qmail-send"

say "a qmail-send stand-in holds queue2's lock/sendmutex"
flock -x "$WORK/queue2/lock/sendmutex" sleep 30 &
LOCKER=$!
track "$LOCKER"
wait_until 5 "the daemon to see queue2's qmail-send" grep -q "queue2: qmail-send is running" "$DLOG"
for i in 1 2 3 4 5 6; do
	run_qq -s 2000
	expect "message $i with queue2's qmail-send up" 0
done
[ "$(find "$WORK/queue2/todo" -type f | wc -l)" = 6 ] || fail "queue2 does not hold the 6 messages"
[ "$(find "$WORK/queue1/todo" -type f | wc -l)" = 0 ] || fail "queue1 got a message without its qmail-send"

say "the lock released: deferred again"
# flock(1)'s child (sleep) shares the locked file: end both
pkill -P "$LOCKER" sleep 2>/dev/null || true
kill "$LOCKER" 2>/dev/null || true
wait "$LOCKER" 2>/dev/null || true
wait_until 5 "the daemon to notice queue2's qmail-send stopped" \
	grep -q "queue2: no qmail-send holds lock/sendmutex" "$DLOG"
run_qq -s 2000
expect "qmail-send gone" 71
daemon_stop
say "ok"
