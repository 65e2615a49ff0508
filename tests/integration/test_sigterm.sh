#!/bin/bash
# test_sigterm.sh - SIGTERM drains: no new messages, the ones in flight finish.
#
# 1. 20 slow senders (qqsim -w 3000: each pauses 3 s in the middle of its
#    message) are in flight (the daemon's stats say 20, its
#    SLUICE_MAX_INFLIGHT) and a 21st client waits in the listen backlog when
#    sluiced gets SIGTERM.  Then: the socket is gone at once and the log says
#    it drains 20; the client in the backlog exits 71 within 2 s (not after
#    its accept timeout); a new client exits 71 within 2 s, and one with
#    SLUICE_FALLBACK=direct
#    exits 0 with its message committed by sluice-queue itself; the daemon
#    keeps running until the senders finish; all 20 exit 0 (after their
#    pause) and are committed whole; the daemon exits 0 with its "stopped:
#    accepted 20" line and both sockets removed.
# 2. SLUICE_DRAIN_TIMEOUT=1 and 10 senders pausing 3 s: after 1 s the daemon
#    defers them (exit 71, about 1 s after the signal, long before their
#    pause ends), leaves nothing in the queue and exits 0.
. "$(dirname "$0")/lib.sh"
lib_init

make_queues 2
timed_sq

inflight_is() { [ "$(stat_get inflight)" = "$1" ]; }
sock_gone() { [ ! -e "$SOCK" ]; }

# connecting - a client waits in the listen backlog of the daemon's socket
# (/proc/net/unix: state 02, connecting)
connecting() { awk -v p="$SOCK" '$NF == p && $6 == "02"' /proc/net/unix | grep -q .; }

say "--- 1. SIGTERM with 20 slow senders in flight and one client in the backlog"
daemon_start SLUICE_MAX_INFLIGHT=20
env SLUICE_SOCKET="$SOCK" timeout -k 5 60 "$QQSIM" -p "$WORK/sq-timed" \
	-n 20 -k 20 -w 3000 -i term -v >"$WORK/load.out" &
lp=$!
track "$lp"
wait_until 5 "20 messages in flight" inflight_is 20
# the 21st client: over SLUICE_MAX_INFLIGHT, it waits in the backlog
env SLUICE_SOCKET="$SOCK" SLUICE_ACCEPT_TIMEOUT=20 timeout -k 5 60 "$QQSIM" -p "$WORK/sq-timed" \
	-i backlog >"$WORK/backlog.out" 2>/dev/null &
bp=$!
track "$bp"
wait_until 5 "a client in the listen backlog" connecting
t0=$(now_ms)
kill -TERM "$DPID"
wait_until 2 "the socket to be removed" sock_gone
grep -q '^sluiced: SIGTERM: no new messages; draining 20 in flight$' "$DLOG" ||
	fail "no 'draining 20 in flight' line"
say "ok: SIGTERM: socket removed, draining 20"
wait "$bp" || true
el=$(($(now_ms) - t0))
grep -q '^exit 71 ' "$WORK/backlog.out" || fail "client in the backlog: $(cat "$WORK/backlog.out")"
[ "$el" -lt 2000 ] || fail "client in the backlog exited 71 only $el ms after SIGTERM"
say "ok: the client waiting in the backlog exited 71 $el ms after SIGTERM"

run_qq -m /dev/null
expect "new client while draining" 71
[ "$QQ_MS" -lt 2000 ] || fail "new client while draining: exit 71 after $QQ_MS ms"
say "ok: new client while draining -> exit 71 in $QQ_MS ms"
run_qq SLUICE_FALLBACK=direct -s 4096 -i fallback
expect "new client with SLUICE_FALLBACK=direct" 0
say "ok: new client with SLUICE_FALLBACK=direct -> exit 0"
daemon_running || fail "sluiced exited before its messages in flight were done"
el=$(($(now_ms) - t0))
[ "$el" -lt 2500 ] || fail "checks while draining took $el ms: the senders may have finished"
say "ok: sluiced still draining $el ms after SIGTERM"

rc=0
wait "$lp" || rc=$?
[ "$rc" != 124 ] && [ "$rc" != 137 ] || fail "qqsim hung"
sum=$(grep '^msgs=' "$WORK/load.out") || fail "qqsim printed no summary"
say "qqsim: $sum"
[ "${sum##*exits=}" = "0:20," ] || fail "in-flight senders: exit codes ${sum##*exits=}, want 0:20,"
while read -r pid start end code; do
	[ "$code" = 0 ] || continue
	# (the wrapper takes its start time after bash starts: a few hundred
	# ms of the 3 s pause may have passed by then on a loaded machine)
	[ $(((end - start) / 1000)) -ge 2500 ] || fail "client $pid exited 0 before its sender finished"
done <"$WORK/times"
[ "$(grep -c ' 0$' "$WORK/times")" = 20 ] && [ "$(grep -c ' 71$' "$WORK/times")" = 1 ] ||
	fail "client exit codes: $(awk '{ print $4 }' "$WORK/times" | sort | uniq -c | tr '\n' ' ')"
wait_until 10 "sluiced to exit" eval '! daemon_running'
rc=0
wait "$DPID" || rc=$?
[ "$rc" = 0 ] || fail "sluiced exited $rc after draining, want 0"
grep -q '^sluiced: stopped: accepted 20 ' "$DLOG" || fail "no 'stopped: accepted 20' line: $(tail -n 1 "$DLOG")"
[ ! -e "$SOCK" ] && [ ! -e "$SOCK.stats" ] || fail "a socket is left after the daemon exited"
[ "$(count todo)" = 21 ] || fail "$(count todo) messages queued, want 20 + 1 direct"
check_queues >"$WORK/check.out" || fail "queues inconsistent"
for i in $(seq 0 19); do
	grep -q " id term-$i-0 " "$WORK/check.out" || fail "message term-$i-0 not committed"
done
grep -q " id fallback-0-0 " "$WORK/check.out" || fail "the direct-mode message is not committed"
say "ok: 20 in-flight messages finished and committed; exit 0; sockets removed"
clear_queues

say "--- 2. SLUICE_DRAIN_TIMEOUT=1 with 10 senders pausing 3 s"
daemon_start SLUICE_DRAIN_TIMEOUT=1
: >"$WORK/times"
env SLUICE_SOCKET="$SOCK" timeout -k 5 60 "$QQSIM" -p "$WORK/sq-timed" \
	-n 10 -k 10 -w 3000 >"$WORK/load2.out" &
lp=$!
track "$lp"
wait_until 5 "10 messages in flight" inflight_is 10
t0=$(now_ms)
kill -TERM "$DPID"
wait_until 5 "sluiced to exit after the drain timeout" eval '! daemon_running'
el=$(($(now_ms) - t0))
rc=0
wait "$DPID" || rc=$?
[ "$rc" = 0 ] || fail "sluiced exited $rc after its drain timeout, want 0"
[ "$el" -lt 2800 ] || fail "sluiced took $el ms to exit with SLUICE_DRAIN_TIMEOUT=1"
grep -q 'drain time over: deferring 10 messages' "$DLOG" || fail "no 'drain time over' line"
rc=0
wait "$lp" || rc=$?
sum=$(grep '^msgs=' "$WORK/load2.out") || fail "qqsim printed no summary"
[ "${sum##*exits=}" = "71:10," ] || fail "deferred senders: exit codes ${sum##*exits=}, want 71:10,"
while read -r pid start end code; do
	[ $(((end - start) / 1000)) -lt 2500 ] || fail "client $pid exited $code only after its sender finished"
done <"$WORK/times"
assert_queue_empty "drain timeout"
say "ok: after 1 s the 10 were deferred (71), sluiced exited 0 in $el ms, nothing left"

say "--- 3. SIGTERM while an abandoned message is still being scanned"
# SIGTERM while a message is scanned, then its client goes away (the message
# is answered, the worker still reads it, nothing else is in flight): the
# daemon exits at once and leaves no file behind
daemon_start SLUICE_SCANNERS=test SLUICE_SCAN_TIMEOUT=3
mkmsg "$WORK/hang.eml" "X-Sluice-Test: hang"
env SLUICE_SOCKET="$SOCK" "$QQSIM" -p "$SQ" -m "$WORK/hang.eml" >/dev/null 2>&1 &
qp=$!
track "$qp"
wait_until 5 "the message to reach the scanner" eval '[ "$(find "$WORK"/queue*/mess -type f | wc -l)" = 1 ]'
sleep 0.3
kill -TERM "$DPID"	# draining: it waits for the message being scanned
wait_until 5 "the drain to begin" eval 'grep -q "SIGTERM: no new messages" "$DLOG"'
pkill -KILL -P "$qp" || fail "no sluice-queue under qqsim"
wait_until 10 "sluiced to exit" eval '! daemon_running'
rc=0
wait "$DPID" || rc=$?
[ "$rc" = 0 ] || fail "sluiced exited $rc"
DPID=""
left=$(find "$WORK"/queue*/pid "$WORK"/queue*/mess -type f | wc -l)
[ "$left" = 0 ] || fail "$left files left behind: $(find "$WORK"/queue*/pid "$WORK"/queue*/mess -type f)"
say "ok: no file left by a message answered while it was scanned"
say "ok"
