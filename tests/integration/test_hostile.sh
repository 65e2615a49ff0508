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
# 3. The sockets: under strace, sluiced sets their mode, owner and group
#    without a single chmod/chown by name (the mode from the umask at
#    bind, owner and group with AT_SYMLINK_NOFOLLOW), so a link planted in
#    the socket directory is never followed; both sockets come out with
#    the configured mode and group; the defaults are 0660.
# 4. The stats socket: "reload" from a user other than root or the
#    daemon's own is refused ("permission denied", logged, no reload); the
#    figures are still served to that user when the mode lets it in; with
#    the default mode 0660 that user cannot connect at all; root's reload
#    is taken.
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

say "--- 3. socket modes without following links"
STRACE_LOG=$WORK/strace.log
NSTART=$((NSTART + 1))
DLOG=$WORK/sluiced.$NSTART.log
grp=$(id -gn nobody 2>/dev/null || echo nogroup)
env QUEUE_BASE="$WORK" QUEUE_COUNT="$NQ" SLUICE_SCANNERS=null $AS_USER SLUICE_SOCKET_MODE=0620 \
	SLUICE_STATS_MODE=0604 SLUICE_SOCKET_GROUP="$grp" \
	strace -f -o "$STRACE_LOG" -e trace=chmod,fchmod,fchmodat,chown,fchown,lchown,fchownat,bind,umask \
	"$SLUICED" 2>>"$DLOG" </dev/null &
DPID=$!
track "$DPID"
wait_until 10 "sluiced to listen" eval 'grep -q "^sluiced: listening on " "$DLOG"'
[ "$(stat -c '%a %G %F' "$SOCK")" = "620 $grp socket" ] ||
	fail "message socket: $(stat -c '%a %G %F' "$SOCK"), want 620 $grp socket"
[ "$(stat -c '%a %G %F' "$SOCK.stats")" = "604 $grp socket" ] ||
	fail "stats socket: $(stat -c '%a %G %F' "$SOCK.stats"), want 604 $grp socket"
grep -q 'bind(.*sluiced.sock' "$STRACE_LOG" || fail "strace saw no bind: $(head -3 "$STRACE_LOG")"
if grep -E '(^|[^a-z])(chmod|chown|lchown|fchmodat)\(' "$STRACE_LOG" | grep -v 'AT_SYMLINK_NOFOLLOW' | grep -q .; then
	fail "a mode or owner set by name, following links: $(grep -E 'chmod|chown' "$STRACE_LOG" | head -3)"
fi
grep -q 'fchownat(.*"sluiced.sock".*AT_SYMLINK_NOFOLLOW' "$STRACE_LOG" ||
	fail "the group was not set with AT_SYMLINK_NOFOLLOW: $(grep chown "$STRACE_LOG" | head -3)"
say "ok: $(grep -cE 'bind|umask|chown' "$STRACE_LOG") calls seen; no chmod/chown follows a link"
# SIGTERM to sluiced itself (strace would detach and leave it running)
spid=$(pgrep -P "$DPID" -f "$SLUICED") || fail "no sluiced under strace"
kill -TERM "$spid"
wait_until 20 "sluiced to stop" eval '! kill -0 "$spid" 2>/dev/null && ! daemon_running'
DPID=""
daemon_start
[ "$(stat -c '%a' "$SOCK")" = 660 ] || fail "default message socket mode $(stat -c '%a' "$SOCK"), want 660"
[ "$(stat -c '%a' "$SOCK.stats")" = 660 ] || fail "default stats socket mode $(stat -c '%a' "$SOCK.stats"), want 660"
say "ok: default modes 0660"

say "--- 4. the stats socket: reload only for root and the daemon's user"
# stats_cmd [AS-USER] CMD - send CMD on the stats socket, print the answer
stats_cmd() {
	local pre=()
	if [ $# = 2 ]; then
		pre=(setpriv --reuid="$1" --regid="$(id -g "$1")" --clear-groups)
		shift
	fi
	"${pre[@]}" /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect:", e.strerror); sys.exit(0)
s.sendall(sys.argv[2].encode()); s.shutdown(socket.SHUT_WR)
print(s.makefile().read().strip())' "$SOCK.stats" "$1"
}
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 755 "$WORK"	# the socket's mode alone decides
	r=$(stats_cmd nobody reload)
	[ "$r" = "connect: Permission denied" ] || fail "nobody on a 0660 stats socket: '$r'"
	say "ok: default mode: nobody cannot connect ($r)"
	daemon_stop
	daemon_start SLUICE_STATS_MODE=0666
	r=$(stats_cmd nobody reload)
	[ "$r" = "permission denied" ] || fail "reload by nobody: '$r', want 'permission denied'"
	grep -q "stats socket: reload refused for uid $(id -u nobody)" "$DLOG" || fail "refusal not logged"
	! grep -q 'reloading scanners\|reloaded' "$DLOG" || fail "a reload ran for nobody"
	r=$(stats_cmd nobody "")
	case $r in *inflight*) ;; *) fail "nobody did not get the figures: '$r'" ;; esac
	for i in $(seq 1 50); do stats_cmd nobody reload; done | sort | uniq -c | grep -q '50 permission denied' ||
		fail "50 reloads by nobody were not all refused"
	r=$(stats_cmd reload)
	[ "$r" = reloading ] || fail "reload by root: '$r', want 'reloading'"
	say "ok: nobody's reloads refused (51 times), figures served; root's reload taken"
else
	say "skipped: needs root and the user nobody"
fi
daemon_stop
say "ok"
