#!/bin/bash
# test_qstat.sh - sluice-qstat golden output over several queues, and
# sluice-mkqueue on the trees it counts.
#
# Lays out three queues with sluice-mkqueue in a temp dir, drops message
# files into them, and compares sluice-qstat's output (per queue, single
# QUEUEDIR, --json, a missing queue) with tests/integration/data/qstat*.ref,
# the temp dir written as @TMP@.  Also: sluice-mkqueue -n on a good tree
# prints no change, a repair keeps the messages, a wrong type fails with
# the path named, bad usage exits 2.
# Needs SLUICE_BIN (build dir) and SLUICE_SRC (source dir), as CTest sets.
set -u

: "${SLUICE_BIN:?set SLUICE_BIN to the build directory}"
: "${SLUICE_SRC:?set SLUICE_SRC to the source directory}"
mk=$SLUICE_BIN/queue/sluice-mkqueue
qs=$SLUICE_BIN/queue/sluice-qstat
ref=$SLUICE_SRC/tests/integration/data

fail() {
	echo "test_qstat: FAIL: $*" >&2
	exit 1
}

[ -x "$mk" ] && [ -x "$qs" ] || fail "sluice-mkqueue or sluice-qstat not built in $SLUICE_BIN/queue"
# With real qmail users only root may hand the trees to them.
if [ "$(id -u)" != 0 ] && grep -q '^qmailq:' /etc/passwd; then
	echo "test_qstat: skipped: qmail users exist and we are not root"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-qstat.XXXXXX") || fail "mktemp"
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
unset QUEUEDIR QUEUE_BASE QUEUE_COUNT QUEUE_START CONFSPLIT
base=$tmp/queue

# check NAME REF FILE - FILE (temp dir as @TMP@) must equal data/REF
check() {
	sed "s|$tmp|@TMP@|g" "$3" >"$3.norm"
	diff -u "$ref/$2" "$3.norm" >&2 || fail "$1: output differs from data/$2"
}

# run NAME EXIT CMD... - run, keep stdout in $tmp/out and stderr in $tmp/err
run() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = "$want" ] || { cat "$tmp/err" >&2; fail "$name: exit $rc, want $want"; }
}

drop() {	# drop QUEUE FILE... - empty message files
	local q=$1 f
	shift
	for f; do : >"$base/$q/$f" || fail "cannot create $base/$q/$f"; done
}

run "mkqueue" 0 "$mk" -b "$base" -c 3 -s 5
grep -q '^queue3: created 33, fixed 0$' "$tmp/out" || fail "mkqueue: no summary for queue3"
drop queue1 mess/0/1000 mess/2/1002 mess/4/1004 todo/1004 intd/1004
drop queue3 mess/0/3000 mess/0/3005 mess/1/3001 mess/2/3002 mess/3/3003 mess/4/3004 \
	mess/4/3009 todo/3000 todo/3009 intd/3009

run "qstat" 0 "$qs" -b "$base" -c 3
check "qstat" qstat.ref "$tmp/out"
[ -s "$tmp/err" ] && fail "qstat: unexpected stderr: $(cat "$tmp/err")"

run "qstat env" 0 env QUEUE_BASE="$base" QUEUE_COUNT=3 "$qs"
check "qstat env" qstat.ref "$tmp/out"

run "qstat --json" 0 env QUEUE_BASE="$base" QUEUE_COUNT=3 QUEUE_START=1 "$qs" --json
check "qstat --json" qstat-json.ref "$tmp/out"

run "qstat QUEUEDIR" 0 env QUEUEDIR="$base/queue3" QUEUE_COUNT=2 "$qs"
check "qstat QUEUEDIR" qstat-single.ref "$tmp/out"
run "qstat -d" 0 "$qs" -d "$base/queue3"
check "qstat -d" qstat-single.ref "$tmp/out"

run "qstat missing queue" 1 "$qs" -b "$base" -c 4
check "qstat missing queue" qstat-missing.ref "$tmp/out"
grep -qx "sluice-qstat: cannot open $base/queue4: No such file or directory" "$tmp/err" ||
	fail "qstat missing queue: stderr does not name the queue: $(cat "$tmp/err")"

run "qstat --json missing queue" 1 "$qs" --json -b "$base" -c 4
check "qstat --json missing queue" qstat-missing-json.ref "$tmp/out"

run "mkqueue -n good" 0 "$mk" -n -b "$base" -c 3 -s 5
check "mkqueue -n good" mkqueue-good.ref "$tmp/out"

# break queue2 and queue3; a dry run shows it, a real run repairs it
rmdir "$base/queue2/mess/3" "$base/queue2/bounce" || fail "rmdir"
chmod 0755 "$base/queue3/pid" "$base/queue3/mess/4"
rm "$base/queue3/lock/trigger"
run "mkqueue -n broken" 0 "$mk" -n -b "$base" -c 3 -s 5
check "mkqueue -n broken" mkqueue-broken.ref "$tmp/out"
[ -d "$base/queue2/bounce" ] && fail "mkqueue -n made a directory"
run "mkqueue repair" 0 "$mk" -b "$base" -c 3 -s 5
sed 's/would create/created/; s/would fix/fixed/' "$ref/mkqueue-broken.ref" >"$tmp/repair.ref"
sed "s|$tmp|@TMP@|g" "$tmp/out" | diff -u "$tmp/repair.ref" - >&2 || fail "mkqueue repair: output"
[ -p "$base/queue3/lock/trigger" ] || fail "mkqueue repair: no trigger FIFO"
run "mkqueue -n repaired" 0 "$mk" -n -b "$base" -c 3 -s 5
check "mkqueue -n repaired" mkqueue-good.ref "$tmp/out"
run "qstat after repair" 0 "$qs" -b "$base" -c 3
check "qstat after repair" qstat.ref "$tmp/out"

# a wrong type is an error naming the path; the other queues are done
rmdir "$base/queue2/mess/1" && : >"$base/queue2/mess/1"
run "mkqueue wrong type" 1 "$mk" -q -b "$base" -c 3 -s 5
grep -qx "sluice-mkqueue: $base/queue2/mess/1: exists and is not a directory" "$tmp/err" ||
	fail "mkqueue wrong type: stderr: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "mkqueue -q printed: $(cat "$tmp/out")"

# QUEUEDIR for mkqueue: one queue, made where it says
run "mkqueue QUEUEDIR" 0 env QUEUEDIR="$tmp/solo" "$mk" -s 2
grep -qx 'solo: created 21, fixed 0' "$tmp/out" || fail "mkqueue QUEUEDIR: $(tail -1 "$tmp/out")"

run "qstat usage" 2 "$qs" -x
run "qstat extra argument" 2 "$qs" extra
run "mkqueue bad split" 2 "$mk" -s 0
run "mkqueue bad count" 2 "$mk" -c many
run "qstat --help" 0 "$qs" --help
grep -q '^usage: sluice-qstat' "$tmp/out" || fail "qstat --help"
run "mkqueue --version" 0 "$mk" --version
grep -q '^sluice-mkqueue [0-9]' "$tmp/out" || fail "mkqueue --version"

echo "test_qstat: ok"
