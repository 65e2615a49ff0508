#!/bin/bash
# test_hostile.sh - local clients that lie, and local users that try to make
# the daemon do what it should not.
#
# 1. sluice-queue started with fd 0 closed, then with fd 1 closed: exit 54
#    at once (qmail-queue's reads would fail), nothing passed to the daemon.
# 2. A hand-made client (wire_client.py) passing a socket, the daemon's own
#    connection, /dev/zero or /dev/null as the message, or a socket as the
#    envelope: each answered 54 at once (not after SLUICE_READ_TIMEOUT);
#    70 such clients in a row leave no slot taken (in flight 0) and a real
#    message right after is committed.
. "$(dirname "$0")/lib.sh"
lib_init

make_queues 2
mkmsg "$WORK/m.eml"
daemon_start SLUICE_READ_TIMEOUT=1200 SLUICE_MAX_INFLIGHT=64

say "--- 1. sluice-queue with fd 0 or fd 1 closed"
for fd in 0 1; do
	rc=0
	t0=$(now_ms)
	if [ $fd = 0 ]; then
		env SLUICE_SOCKET="$SOCK" "$SQ" <&- >/dev/null 2>"$WORK/sq.err" || rc=$?
	else
		env SLUICE_SOCKET="$SOCK" "$SQ" </dev/null >&- 2>"$WORK/sq.err" || rc=$?
	fi
	ms=$(($(now_ms) - t0))
	[ "$rc" = 54 ] || fail "fd $fd closed: exit $rc, want 54 ($(cat "$WORK/sq.err"))"
	grep -q "fd $fd is not open" "$WORK/sq.err" || fail "fd $fd closed: no clear message: $(cat "$WORK/sq.err")"
	[ "$ms" -lt 2000 ] || fail "fd $fd closed: took $ms ms"
	say "ok: fd $fd closed -> 54 in $ms ms: $(cat "$WORK/sq.err")"
done
[ "$(grep -c '^msg ' "$DLOG")" = 0 ] || fail "the daemon saw a message: $(grep '^msg ' "$DLOG")"

say "--- 2. a client passing fds that are not pipes or files"
for kind in socket self devzero tty envsock; do
	out=$(timeout 20 python3 "$SLUICE_SRC/tests/integration/wire_client.py" "$SOCK" $kind) ||
		fail "$kind: the client failed or hung: $out"
	case $out in
	"reply 54 ms "*) ;;
	*) fail "$kind: '$out', want reply 54" ;;
	esac
	ms=${out##* }
	[ "$ms" -lt 2000 ] || fail "$kind: answered after $ms ms"
	say "ok: $kind -> $out"
done
grep -q 'message fd is not a pipe or a file' "$DLOG" || fail "no log line naming the message fd"
grep -q 'envelope fd is not a pipe or a file' "$DLOG" || fail "no log line naming the envelope fd"
timeout 60 python3 "$SLUICE_SRC/tests/integration/wire_client.py" "$SOCK" self 70 >"$WORK/70.out" ||
	fail "70 lying clients: the client failed"
[ "$(grep -c '^reply 54 ' "$WORK/70.out")" = 70 ] ||
	fail "70 lying clients: $(sort "$WORK/70.out" | uniq -c | head -3)"
wait_idle
run_qq -m "$WORK/m.eml"
expect "a real message after 70 lying clients" 0
[ "$QQ_MS" -lt 3000 ] || fail "the real message took $QQ_MS ms"
say "ok: 70 lying clients held no slot; a real message right after: 0 in $QQ_MS ms"
daemon_stop
say "ok"
