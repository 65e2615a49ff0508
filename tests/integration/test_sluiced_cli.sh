#!/bin/bash
# test_sluiced_cli.sh - sluiced's and sluice-queue's command line and settings.
#
#   sluiced --help lists every variable of the settings table it reads
#   (control/control_settings.c) and every variable its sources read
#   (router/, scan/, queue/ looked up with grep),
#   exit 0; --version; an unknown argument exits 100.
#   A bad setting exits 111 within 10 s with a message naming the variable,
#   and leaves no socket: SLUICE_MAX_INFLIGHT=abc / 0 / -1 / 12x,
#   SLUICE_SYNC=bogus, and one bad value for each other kind of setting.
#   A missing queue exits 111 naming the queue's path (QUEUE_BASE and
#   QUEUEDIR), no socket left.  As root: no SLUICE_USER, or an unknown one,
#   exits 111 naming SLUICE_USER; as another user it starts without one.
#   sluice-queue --help exits 0 and names its variables.
#   Under valgrind (memcheck): a SLUICE_ENVDIR that does not exist exits 111
#   naming it, with no memory error (the settings are never freed before
#   they were read).
. "$(dirname "$0")/lib.sh"
lib_init

make_queues 2
S=$WORK/cli.sock

# run_d WANT [VAR=VALUE]... [-- ARG...] - sluiced on the queues (10 s at most;
# as root with SLUICE_USER=root unless given); D_OUT / D_ERR hold its output
run_d() {
	local want=$1 rc=0 envs=() args=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	if [ $# -gt 0 ]; then
		shift
		args=("$@")
	fi
	env QUEUE_BASE="$WORK" QUEUE_COUNT="$NQ" SLUICE_SOCKET="$S" SLUICE_SCANNERS=null $AS_USER \
		"${envs[@]}" timeout -k 2 10 "$SLUICED" "${args[@]}" >"$WORK/d.out" 2>"$WORK/d.err" </dev/null ||
		rc=$?
	D_OUT=$(cat "$WORK/d.out")
	D_ERR=$(cat "$WORK/d.err")
	[ "$rc" != 124 ] || fail "sluiced ${envs[*]} ${args[*]} did not exit within 10 s"
	[ "$rc" = "$want" ] ||
		fail "sluiced ${envs[*]} ${args[*]}: exit $rc, want $want; stderr: $D_ERR"
}

say "--- sluiced --help"
run_d 0 -- --help
echo "$D_OUT" >"$WORK/help"
src=$SLUICE_SRC
# the table's entries sluiced reads (programs include D, the sluiced flag)
table=$(grep -ohE '^\s*S\([A-Z][A-Z_0-9]*,.*\.programs = [^,]*\bD\b' "$src/control/control_settings.c" |
	grep -oE 'S\([A-Z][A-Z_0-9]*' | cut -c3- | sort -u)
read_vars=$(cat "$src"/router/router_*.c "$src"/router/sluiced.c "$src"/scan/*.c "$src"/queue/queue_*.c |
	grep -ohE '\b(get|getenv|num|NUM|action|V|TEXT|WORD)\("?[A-Z][A-Z_0-9]*"?\)?' |
	grep -oE '\("?[A-Z][A-Z_0-9]*' | tr -d '("' | sort -u)
[ "$(echo "$table" | wc -w)" -ge 60 ] || fail "cannot read the settings table of control_settings.c"
n=0
for v in $table $read_vars QUEUE_BASE QUEUE_COUNT QUEUE_START QUEUEDIR CONFSPLIT SLUICE_SOCKET \
	SLUICE_STATS_SOCKET SLUICE_USER SLUICE_MAX_INFLIGHT SLUICE_MAX_BYTES SLUICE_SCAN_QUEUE \
	SLUICE_READ_TIMEOUT SLUICE_SCAN_TIMEOUT SLUICE_DRAIN_TIMEOUT SLUICE_SYNC SLUICE_SCANNERS \
	SLUICE_CUSTOM_ERROR ERROR_FD MIN_FREE REJECTVIRUS; do
	grep -qE "^  $v( |\$)" "$WORK/help" || fail "sluiced --help does not list $v"
	n=$((n + 1))
done
grep -q '^usage: sluiced' "$WORK/help" || fail "sluiced --help: no usage line"
[ -z "$D_ERR" ] || fail "sluiced --help wrote on stderr: $D_ERR"
say "ok: --help lists all $(echo "$table" | wc -w) settings, including every variable the sources read"
run_d 0 -- --version
[[ $D_OUT =~ ^sluiced\ [0-9] ]] || fail "sluiced --version: '$D_OUT'"
run_d 100 -- --frobnicate
[[ $D_ERR == *--frobnicate* ]] || fail "unknown argument not named: $D_ERR"
[ ! -e "$S" ] || fail "socket created for an unknown argument"
say "ok: --version; unknown argument -> 100"

say "--- bad settings: exit 111 naming the variable"
bad() {
	local var=${1%%=*}
	run_d 111 "$@"
	[[ $D_ERR == *"$var"* ]] || fail "$1: message does not name $var: $D_ERR"
	[ ! -e "$S" ] && [ ! -e "$S.stats" ] || fail "$1: socket left behind"
	say "ok: $1 -> 111: $D_ERR"
}
bad SLUICE_MAX_INFLIGHT=abc
bad SLUICE_MAX_INFLIGHT=0
bad SLUICE_MAX_INFLIGHT=-1
bad SLUICE_MAX_INFLIGHT=12x
bad SLUICE_SYNC=bogus
bad SLUICE_MAX_BYTES=lots
bad SLUICE_READ_TIMEOUT=0
bad SLUICE_SCAN_TIMEOUT=1.5
bad SLUICE_BATCH=65
bad SLUICE_ON_VIRUS=maybe
bad SLUICE_ON_ERROR=reject
bad SLUICE_CUSTOM_ERROR=fd9
bad SLUICE_SCANNERS=nosuchscanner
bad SLUICE_SOCKET_MODE=999
bad SLUICE_SOCKET_GROUP=no-such-group-sluice
bad REJECTVIRUS=3
bad ERROR_FD=200
run_d 111 SLUICE_ON_VIRUS=quarantine
[[ $D_ERR == *SLUICE_QUARANTINE* ]] || fail "quarantine without SLUICE_QUARANTINE: $D_ERR"
say "ok: SLUICE_ON_VIRUS=quarantine without SLUICE_QUARANTINE -> 111: $D_ERR"

say "--- missing queues: exit 111 naming the path"
run_d 111 QUEUE_BASE="$WORK/nowhere"
[[ $D_ERR == *"$WORK/nowhere/queue1"* ]] || fail "missing QUEUE_BASE queue not named: $D_ERR"
[ ! -e "$S" ] || fail "socket left after a missing queue"
say "ok: missing queue -> 111: $D_ERR"
run_d 111 QUEUEDIR="$WORK/lonely"
[[ $D_ERR == *"$WORK/lonely"* ]] || fail "missing QUEUEDIR not named: $D_ERR"
say "ok: missing QUEUEDIR -> 111: $D_ERR"
rm -rf "$WORK/queue2/todo"
run_d 111
[[ $D_ERR == *"$WORK/queue2"* ]] || fail "broken queue2 not named: $D_ERR"
say "ok: queue without todo/ -> 111: $D_ERR"
"$MKQ" -q -b "$WORK" -c 2 || fail "cannot repair the queues"

say "--- the user to run as"
if [ "$(id -u)" = 0 ]; then
	run_d 111 SLUICE_USER=
	[[ $D_ERR == *SLUICE_USER* ]] || fail "root without SLUICE_USER: $D_ERR"
	[ ! -e "$S" ] || fail "socket left after refusing to run as root"
	say "ok: root without SLUICE_USER -> 111: $D_ERR"
	run_d 111 SLUICE_USER=no-such-user-sluice
	[[ $D_ERR == *no-such-user-sluice* ]] || fail "unknown SLUICE_USER not named: $D_ERR"
	say "ok: unknown SLUICE_USER -> 111: $D_ERR"
else
	daemon_start
	daemon_stop
	say "ok: not root: starts without SLUICE_USER"
fi

say "--- sluice-queue --help"
rc=0
"$SQ" --help >"$WORK/sq.help" 2>"$WORK/sq.err" </dev/null || rc=$?
[ "$rc" = 0 ] || fail "sluice-queue --help exit $rc"
grep -q '^usage: sluice-queue' "$WORK/sq.help" || fail "sluice-queue --help: no usage line"
sq_table=$(grep -ohE '^\s*S\([A-Z][A-Z_0-9]*,.*\.programs = [^,]*\b(Q|DM)\b' "$src/control/control_settings.c" |
	grep -oE 'S\([A-Z][A-Z_0-9]*' | cut -c3- | sort -u)
[ "$(echo "$sq_table" | wc -w)" -ge 15 ] || fail "cannot read sluice-queue's settings in control_settings.c"
for v in SLUICE_SOCKET SLUICE_MODE SLUICE_FALLBACK SLUICE_ACCEPT_TIMEOUT SLUICE_TIMEOUT QHPSI REJECTVIRUS \
	MIN_FREE SLUICE_CUSTOM_ERROR $sq_table \
	$(grep -ohE '(getenv|env_long)\("[A-Z][A-Z_0-9]*"' "$src/router/sluice-queue.c" | grep -oE '[A-Z][A-Z_0-9]+' | sort -u); do
	grep -qE "^  $v( |\$)" "$WORK/sq.help" || fail "sluice-queue --help does not list $v"
done
! grep -qE '^  SLUICE_WORKERS ' "$WORK/sq.help" || fail "sluice-queue --help lists sluiced's SLUICE_WORKERS"
say "ok: sluice-queue --help"

say "--- sluiced with a missing SLUICE_ENVDIR, under valgrind"
if command -v valgrind >/dev/null; then
	rc=0
	env QUEUE_BASE="$WORK" QUEUE_COUNT="$NQ" SLUICE_SOCKET="$S" SLUICE_SCANNERS=null $AS_USER \
		SLUICE_ENVDIR="$WORK/no-such-envdir" timeout -k 2 120 valgrind -q --error-exitcode=99 \
		--track-origins=yes "$SLUICED" >"$WORK/v.out" 2>"$WORK/v.err" </dev/null || rc=$?
	[ "$rc" = 111 ] || fail "missing SLUICE_ENVDIR under valgrind: exit $rc, want 111: $(head -20 "$WORK/v.err")"
	grep -q "no-such-envdir" "$WORK/v.err" || fail "the missing SLUICE_ENVDIR is not named: $(cat "$WORK/v.err")"
	! grep -q '^==[0-9]*==' "$WORK/v.err" || fail "valgrind reports: $(grep -m 5 '^==' "$WORK/v.err")"
	say "ok: $(grep sluiced "$WORK/v.err")"
else
	say "skipped: no valgrind"
fi
say "ok"
