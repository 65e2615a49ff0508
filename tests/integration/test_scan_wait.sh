#!/bin/bash
# test_scan_wait.sh - a message waiting for a scan worker is held to the scan
# deadline too.  One worker, a scan queue of one, SLUICE_SCAN_TIMEOUT=1, and
# 8 concurrent messages whose scanner hangs: each must be deferred (71) about
# a deadline after it asked for a worker, not after every message ahead of it
# (that would be 8+ s for the last one).  Nothing is left in the queue.
. "$(dirname "$0")/lib.sh"
lib_init

make_queues 2
mkmsg "$WORK/hang.eml" "X-Sluice-Test: hang"
daemon_start SLUICE_SCANNERS=test SLUICE_WORKERS=1 SLUICE_SCAN_QUEUE=1 SLUICE_SCAN_TIMEOUT=1
load_qq "$WORK/load.out" -m "$WORK/hang.eml" -n 8 -k 8
[ "$LOAD_EXITS" = "71:8," ] || fail "exits $LOAD_EXITS, want 71:8,"
max=$(summary_get p99_ms)
say "slowest deferral: $max ms"
awk "BEGIN { exit !($max < 6000) }" || fail "a waiting message was deferred after $max ms, want < 6000"
wait_idle
assert_queue_empty "after the deferrals"
daemon_stop
say "ok"
