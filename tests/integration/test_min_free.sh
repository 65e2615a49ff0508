#!/bin/bash
# test_min_free.sh - MIN_FREE as IndiMail has it: below it, exit 53 (qq write
# error or disk full) and nothing queued, in daemon and in direct mode; a
# MIN_FREE the filesystem satisfies changes nothing.
. "$(dirname "$0")/lib.sh"
lib_init

make_queues 2
HUGE=1000000000000000000	# 10^18 bytes: no test filesystem has that free

daemon_start MIN_FREE=$HUGE
run_qq -s 2000
expect "daemon, every queue below MIN_FREE" 53
grep -q 'verdict no-queue action fail exit 53 .*every queue is below MIN_FREE' "$DLOG" ||
	fail "no log line for the MIN_FREE deferral"
assert_queue_empty "daemon below MIN_FREE"
daemon_stop

daemon_start MIN_FREE=1
run_qq -s 2000
expect "daemon, MIN_FREE=1" 0
daemon_stop
clear_queues

run_qq SLUICE_MODE=direct QUEUEDIR="$WORK/queue1" MIN_FREE=$HUGE -s 2000
expect "direct mode below MIN_FREE" 53
assert_queue_empty "direct below MIN_FREE"
run_qq SLUICE_MODE=direct QUEUEDIR="$WORK/queue1" MIN_FREE=1 -s 2000
expect "direct mode, MIN_FREE=1" 0
say "ok"
