#!/bin/bash
# test_qstat.sh - sluice-qstat golden output over several queues, and
# sluice-mkqueue on the trees it counts.
#
# Lays out three queues with sluice-mkqueue in a temp dir, drops message
# files into them, and compares sluice-qstat's output (per queue, single
# QUEUEDIR, --json, a missing queue) with tests/integration/data/qstat*.ref,
# the temp dir written as @TMP@.  The installed settings (-C, SLUICE_ENVDIR)
# find the queues and the stats socket; --prometheus without a daemon is
# valid (promcheck.pl, and python's prometheus_client when installed) with
# sluice_up 0; --list matches data/qstat-list*.ref (todo, preprocessed with
# done and pending recipients, a message being queued left out); as nobody
# owning the trees (the queue user's view) the counts and a --list whose
# preprocessed messages are hidden (info/ is root's, as qmails').
# Also: sluice-mkqueue -n on a good tree
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
unset QUEUEDIR QUEUE_BASE QUEUE_COUNT QUEUE_START CONFSPLIT SLUICE_SOCKET SLUICE_STATS_SOCKET
export SLUICE_ENVDIR=	# not an installed relay's settings, unless a test says
base=$tmp/queue

# check NAME REF FILE - FILE (temp dir as @TMP@) must equal data/REF
check() {
	sed "s|$tmp|@TMP@|g" "$3" >"$3.norm"
	[ -n "${SLUICE_TEST_WRITE_REF-}" ] && [ ! -e "$ref/$2" ] && cp "$3.norm" "$ref/$2"
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

# --- the installed settings (-C, SLUICE_ENVDIR): queues and stats socket
# from an envdir, overriding the environment; options override both.
# Fresh trees with the messages of the first part.
base=$tmp/fresh
run "mkqueue fresh" 0 "$mk" -q -b "$base" -c 3 -s 5
drop queue1 mess/0/1000 mess/2/1002 mess/4/1004 todo/1004 intd/1004
drop queue3 mess/0/3000 mess/0/3005 mess/1/3001 mess/2/3002 mess/3/3003 mess/4/3004 \
	mess/4/3009 todo/3000 todo/3009 intd/3009
conf=$tmp/conf
mkdir "$conf"
echo "$base" >"$conf/QUEUE_BASE"
echo 3 >"$conf/QUEUE_COUNT"
echo "$tmp/run/sluiced.sock" >"$conf/SLUICE_SOCKET"
run "qstat -C" 0 env QUEUE_BASE=/nonexistent QUEUE_COUNT=9 "$qs" -C "$conf"
check "qstat -C" qstat.ref "$tmp/out"
run "qstat SLUICE_ENVDIR" 0 env SLUICE_ENVDIR="$conf" "$qs"
check "qstat SLUICE_ENVDIR" qstat.ref "$tmp/out"
run "qstat -C over SLUICE_ENVDIR" 2 env SLUICE_ENVDIR="$conf" "$qs" -C "$tmp/nothing"
run "qstat -C missing" 2 "$qs" -C "$tmp/nothing"
grep -qx "sluice-qstat: cannot open settings directory $tmp/nothing: No such file or directory" \
	"$tmp/err" || fail "qstat -C missing: $(cat "$tmp/err")"
run "qstat -C and -c" 1 "$qs" -C "$conf" -c 4	# queue4 does not exist
run "qstat --live -C" 1 "$qs" -C "$conf" --live
grep -qx "sluice-qstat: sluiced does not answer on $tmp/run/sluiced.sock.stats: No such file or directory" \
	"$tmp/err" || fail "qstat --live -C: the socket is not the settings': $(cat "$tmp/err")"
echo 5 >"$conf/CONFSPLIT"	# the settings' split is sluice-mkqueue's default too
run "mkqueue -C -n" 0 "$mk" -C "$conf" -n
grep -qx 'queue3: would create 0, would fix 0' "$tmp/out" || fail "mkqueue -C: $(tail -3 "$tmp/out")"
# a CONFSPLIT typo is an error, never a layout with the default split
echo 5x >"$conf/CONFSPLIT"
run "mkqueue CONFSPLIT=5x" 2 "$mk" -C "$conf" -n
grep -qx 'sluice-mkqueue: CONFSPLIT=5x: want a number from 1 to 1000' "$tmp/err" ||
	fail "mkqueue CONFSPLIT=5x: $(cat "$tmp/err")"
run "mkqueue CONFSPLIT=0" 2 env CONFSPLIT=0 "$mk" -b "$base" -c 3 -n
echo 5 >"$conf/CONFSPLIT"

# --- --prometheus without a daemon: the counts, sluice_up 0, exit 0 (so a
# textfile is still replaced), and valid for a strict reader
run "qstat --prometheus" 0 "$qs" -C "$conf" --prometheus
perl "$SLUICE_SRC/tests/integration/promcheck.pl" "$tmp/out" >/dev/null ||
	fail "qstat --prometheus: not valid: $(perl "$SLUICE_SRC/tests/integration/promcheck.pl" "$tmp/out" 2>&1)"
grep -qx 'sluice_up 0' "$tmp/out" || fail "qstat --prometheus: no sluice_up 0"
grep -qx 'sluice_queue_messages{queue="queue3"} 7' "$tmp/out" || fail "qstat --prometheus: counts"
grep -q 'does not answer' "$tmp/err" || fail "qstat --prometheus: the daemon's absence not said"
run "qstat --prometheus missing queue" 0 "$qs" -C "$conf" -c 4 --prometheus
grep -qx 'sluice_queue_count_ok{queue="queue4"} 0' "$tmp/out" || fail "--prometheus: queue4"
for r in "$SLUICE_SRC"/tests/queue/data/stats-*.ref; do	# the unit test's golden files
	perl "$SLUICE_SRC/tests/integration/promcheck.pl" "$r" >/dev/null || fail "${r##*/} is not valid"
done
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
	/usr/bin/python3 - "$tmp/out" "$SLUICE_SRC"/tests/queue/data/stats-full.ref <<-'EOF' ||
	import sys
	from prometheus_client.parser import text_string_to_metric_families as parse
	for f in sys.argv[1:]:
	    fams = list(parse(open(f).read()))
	    assert fams, f
	EOF
		fail "prometheus_client cannot parse the output"
fi
run "qstat --prometheus --json" 2 "$qs" --prometheus --json

# --- --list (qmail-qread's format): a message in todo/, one preprocessed
# with a done and a pending recipient, one being queued (left out)
q2=$base/queue2
printf 'u0\0p7\0Falice@example.org\0Tbob@example.net\0' >"$q2/todo/2005"
printf 'x' >"$q2/mess/0/2005"
printf 'hello world\n' >"$q2/mess/3/2003"
printf 'Fcarol@example.com\0' >"$q2/info/3/2003"
printf 'Tdan@example.net\0Ddone@example.net\0' >"$q2/remote/3/2003"
printf 'x' >"$q2/mess/1/2001"
printf 'u0\0p7\0Fe@x\0Tf@y\0' >"$q2/intd/2001"
find "$base" -type f -exec touch -d '2026-11-02 02:45:04 UTC' {} +
run "qstat --list" 0 "$qs" -C "$conf" --list
check "qstat --list" qstat-list.ref "$tmp/out"
run "qstat --list -d" 0 "$qs" -d "$q2" --list
check "qstat --list -d" qstat-list-single.ref "$tmp/out"

# --- as the queue user: the trees are nobody's as they are qmailq's;
# qmail-send's info/ local/ remote/ stay root's (qmails' own, 0700)
if [ "$(id -u)" = 0 ]; then
	chmod 0711 "$tmp"
	for q in "$base"/queue1 "$base"/queue2 "$base"/queue3; do
		chown nobody "$q" "$q/mess" "$q"/mess/* "$q/todo" "$q/todo"/* "$q/intd" "$q/intd"/* \
			"$q"/mess/*/* 2>/dev/null
	done
	chown nobody "$base"/queue*/mess/*/* "$base"/queue*/todo/* "$base"/queue*/intd/* 2>/dev/null
	as_nobody() { setpriv --reuid nobody --regid nogroup --clear-groups "$@"; }
	run "qstat as root" 0 "$qs" -C "$conf"
	mv "$tmp/out" "$tmp/root.out"
	run "qstat as nobody" 0 as_nobody "$qs" -C "$conf"
	cmp -s "$tmp/root.out" "$tmp/out" || fail "qstat as nobody: not root's figures: $(cat "$tmp/out")"
	run "qstat --json as nobody" 0 as_nobody "$qs" -C "$conf" --json
	run "qstat --prometheus as nobody" 0 as_nobody "$qs" -C "$conf" --prometheus
	grep -qx 'sluice_queue_count_ok{queue="queue2"} 1' "$tmp/out" || fail "--prometheus as nobody"
	run "qstat --list as nobody" 0 as_nobody "$qs" -C "$conf" --list
	check "qstat --list as nobody" qstat-list-hidden.ref "$tmp/out"
	grep -q "$q2: info/ is not readable by this user" "$tmp/err" ||
		fail "qstat --list as nobody: no note: $(cat "$tmp/err")"
fi

echo "test_qstat: ok"
