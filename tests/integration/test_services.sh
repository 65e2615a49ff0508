#!/bin/bash
# test_services.sh - services/sluice-install-services and the run scripts
# it installs.
#
# Installs into a temp dir for three queues: a dry run (-n) changes nothing
# and announces exactly what the real run then makes; the real run makes
# sluiced/ and qmail-send-queue1..3/ with executable run scripts, sluiced's
# env from the queue settings and the templates, each qmail-send's
# QUEUEDIR; a second run changes nothing; an administrator's env file is
# kept, an edited run script restored, a changed queue count updated.
# Every run script passes sh -n.  Then the installed sluiced/run starts the
# real sluiced (sockets, stats, SIGTERM drain), and - as root, where mount
# namespaces work - the installed qmail-send-queue1/run bind-mounts its
# queue on the "compiled" path for a stand-in rc, invisibly to the host.
# Needs SLUICE_BIN (build dir) and SLUICE_SRC (source dir), as CTest sets.
set -u

: "${SLUICE_BIN:?set SLUICE_BIN to the build directory}"
: "${SLUICE_SRC:?set SLUICE_SRC to the source directory}"
inst=$SLUICE_SRC/services/sluice-install-services
sluiced=$SLUICE_BIN/router/sluiced
mk=$SLUICE_BIN/queue/sluice-mkqueue
qs=$SLUICE_BIN/queue/sluice-qstat

fail() {
	echo "test_services: FAIL: $*" >&2
	exit 1
}

[ -x "$inst" ] || fail "$inst is missing or not executable"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-services.XXXXXX") || fail "mktemp"
daemon=
cleanup() {
	[ -n "$daemon" ] && kill -KILL "$daemon" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
unset QUEUEDIR QUEUE_BASE QUEUE_START CONFSPLIT
export QUEUE_COUNT=3
svc=$tmp/service
base=$tmp/queues

# run NAME EXIT CMD... - run, keep stdout in $tmp/out and stderr in $tmp/err
run() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = "$want" ] || { cat "$tmp/out" "$tmp/err" >&2; fail "$name: exit $rc, want $want"; }
}

# snapshot FILE - every entry under $svc with type, mode, size, mtime, content
snapshot() {
	(cd "$svc" && find . -printf '%y %m %s %T@ %p\n' | sort -k5) >"$1"
	(cd "$svc" && find . -type f -print | sort | xargs cat) >>"$1"
}

# --- syntax of everything that gets installed, and of the installer
for f in "$inst" "$SLUICE_SRC"/services/*/run "$SLUICE_SRC"/services/*/log/run; do
	sh -n "$f" || fail "sh -n $f"
done

# --- dry run: prints the plan, makes nothing
run "install -n" 0 "$inst" -n -d "$svc" -b "$base"
[ -e "$svc" ] && fail "install -n made $svc"
grep -qx "$svc: would create 35, would update 0, would remove 0" "$tmp/out" ||
	fail "install -n summary: $(tail -1 "$tmp/out")"
grep -v '^/' "$tmp/out" | sort >"$tmp/plan"

# --- the real run makes exactly what the dry run announced
run "install" 0 "$inst" -d "$svc" -b "$base"
grep -qx "$svc: created 35, updated 0, removed 0" "$tmp/out" ||
	fail "install summary: $(tail -1 "$tmp/out")"
grep -v '^/' "$tmp/out" | sort | diff -u "$tmp/plan" - >&2 ||
	fail "install did not do what install -n announced"
[ -s "$tmp/err" ] && fail "install: unexpected stderr: $(cat "$tmp/err")"
ls -A "$svc" | grep -q '^\.' && fail "install left a dot directory: $(ls -A "$svc")"

for s in sluiced qmail-send-queue1 qmail-send-queue2 qmail-send-queue3; do
	for f in run log/run; do
		[ -f "$svc/$s/$f" ] && [ -x "$svc/$s/$f" ] || fail "$s/$f missing or not executable"
		[ "$(stat -c %a "$svc/$s/$f")" = 755 ] || fail "$s/$f mode $(stat -c %a "$svc/$s/$f")"
		sh -n "$svc/$s/$f" || fail "sh -n $s/$f"
	done
	[ -d "$svc/$s/log/main" ] || fail "$s/log/main missing"
	[ -d "$svc/$s/env" ] || fail "$s/env missing"
done
cmp -s "$svc/sluiced/run" "$SLUICE_SRC/services/sluiced/run" || fail "sluiced/run differs from the template"
cmp -s "$svc/qmail-send-queue2/run" "$SLUICE_SRC/services/qmail-send-queue/run" ||
	fail "qmail-send-queue2/run differs from the template"
[ -e "$svc/qmail-send-queue4" ] && fail "a fourth qmail-send for three queues"

# envval SERVICE VAR - the first line of an env file
envval() { head -n 1 "$svc/$1/env/$2"; }
[ "$(envval sluiced QUEUE_BASE)" = "$base" ] || fail "sluiced QUEUE_BASE: $(envval sluiced QUEUE_BASE)"
[ "$(envval sluiced QUEUE_COUNT)" = 3 ] || fail "sluiced QUEUE_COUNT: $(envval sluiced QUEUE_COUNT)"
[ "$(envval sluiced QUEUE_START)" = 1 ] || fail "sluiced QUEUE_START: $(envval sluiced QUEUE_START)"
[ -e "$svc/sluiced/env/QUEUEDIR" ] && fail "sluiced has a QUEUEDIR"
for f in "$SLUICE_SRC"/services/sluiced/env/SLUICE_*; do
	cmp -s "$f" "$svc/sluiced/env/${f##*/}" || fail "sluiced env/${f##*/} is not the template's"
done
# every env file names a variable sluiced knows (sluiced --help lists them)
if [ -x "$sluiced" ]; then
	for f in "$svc"/sluiced/env/*; do
		"$sluiced" --help | grep -q "^  ${f##*/} " || fail "sluiced does not know env/${f##*/}"
	done
fi
for n in 1 2 3; do
	[ "$(envval qmail-send-queue$n QUEUEDIR)" = "$base/queue$n" ] ||
		fail "qmail-send-queue$n QUEUEDIR: $(envval qmail-send-queue$n QUEUEDIR)"
	[ "$(stat -c %a "$svc/qmail-send-queue$n/env/QUEUEDIR")" = 644 ] || fail "QUEUEDIR mode"
done

# --- a second run changes nothing
snapshot "$tmp/before"
sleep 1	# an mtime that changes would show
run "install again" 0 "$inst" -d "$svc" -b "$base"
[ "$(cat "$tmp/out")" = "$svc: created 0, updated 0, removed 0" ] ||
	fail "install again printed: $(cat "$tmp/out")"
snapshot "$tmp/after"
diff -u "$tmp/before" "$tmp/after" >&2 || fail "install again changed the tree"
run "install -n again" 0 "$inst" -n -d "$svc" -b "$base"
[ "$(cat "$tmp/out")" = "$svc: would create 0, would update 0, would remove 0" ] ||
	fail "install -n again printed: $(cat "$tmp/out")"

# --- the administrator's env file stays, a damaged run script is restored,
# the queue settings follow the options, a left-over queue is only named
echo alice >"$svc/sluiced/env/SLUICE_USER"
echo "# local edit" >>"$svc/sluiced/run"
chmod 0644 "$svc/qmail-send-queue1/log/run"
run "install 2 queues" 0 env QUEUE_COUNT=2 "$inst" -d "$svc" -b "$base" -S 1
[ "$(envval sluiced SLUICE_USER)" = alice ] || fail "install overwrote env/SLUICE_USER"
cmp -s "$svc/sluiced/run" "$SLUICE_SRC/services/sluiced/run" || fail "sluiced/run not restored"
[ -x "$svc/qmail-send-queue1/log/run" ] || fail "log/run mode not restored"
[ "$(envval sluiced QUEUE_COUNT)" = 2 ] || fail "QUEUE_COUNT not updated"
grep -qx "update $svc/sluiced/run" "$tmp/out" || fail "no update line for sluiced/run"
grep -qx "update $svc/sluiced/env/QUEUE_COUNT" "$tmp/out" || fail "no update line for QUEUE_COUNT"
grep -qx "fix mode of $svc/qmail-send-queue1/log/run to 0755" "$tmp/out" || fail "no fix mode line"
grep -qx "$svc: created 0, updated 3, removed 0" "$tmp/out" || fail "summary: $(tail -1 "$tmp/out")"
grep -q "qmail-send-queue3 is not one of the queues now" "$tmp/err" || fail "queue3 not named"
[ -d "$svc/qmail-send-queue3" ] || fail "install removed qmail-send-queue3"

# --- bad usage
run "bad count" 2 "$inst" -n -d "$svc" -c 0
run "bad start" 2 "$inst" -n -d "$svc" -S x
run "relative dir" 2 "$inst" -n -d service
run "bad option" 2 "$inst" -x
run "extra argument" 2 "$inst" -n -d "$svc" extra
run "--help" 0 "$inst" --help
grep -q '^usage: sluice-install-services' "$tmp/out" || fail "--help"
run "no templates" 1 "$inst" -n -d "$svc" -t "$tmp/nothing"

# --- the installed sluiced/run starts the real daemon
if [ -x "$sluiced" ] && [ -x "$mk" ] && [ -x "$qs" ]; then
	run "mkqueue" 0 "$mk" -q -b "$base" -c 2
	env=$svc/sluiced/env
	echo "$tmp/sock/sluiced.sock" >"$env/SLUICE_SOCKET"
	: >"$env/SLUICE_SOCKET_GROUP"	# empty: unset (the group may not exist here)
	echo null >"$env/SLUICE_SCANNERS"
	echo none >"$env/SLUICE_SYNC"
	id -un >"$env/SLUICE_USER"	# (ignored by sluiced unless root) the socket dir's owner
	(cd "$svc/sluiced" && PATH="$SLUICE_BIN/router:$PATH" exec ./run) >"$tmp/sluiced.log" 2>&1 &
	daemon=$!
	for _ in $(seq 100); do
		[ -S "$tmp/sock/sluiced.sock" ] && break
		kill -0 "$daemon" 2>/dev/null || break
		sleep 0.1
	done
	[ -S "$tmp/sock/sluiced.sock" ] || fail "sluiced/run: no socket: $(cat "$tmp/sluiced.log")"
	[ "$(stat -c %a "$tmp/sock")" = 755 ] || fail "socket dir mode $(stat -c %a "$tmp/sock")"
	[ "$(stat -c %a "$tmp/sock/sluiced.sock")" = 660 ] || fail "socket mode (SLUICE_SOCKET_MODE)"
	SLUICE_SOCKET=$tmp/sock/sluiced.sock run "qstat --live" 0 "$qs" --live -b "$base" -c 2
	grep -q '^sluiced: queue queue2 ' "$tmp/out" || fail "no live figures: $(cat "$tmp/out")"
	kill -TERM "$daemon"
	wait "$daemon"
	rc=$?
	daemon=
	[ "$rc" = 0 ] || fail "sluiced/run: exit $rc after SIGTERM: $(cat "$tmp/sluiced.log")"
	grep -q '^sluiced: listening on ' "$tmp/sluiced.log" || fail "sluiced log: $(cat "$tmp/sluiced.log")"
else
	echo "test_services: sluiced not built: its run script not started"
fi

# --- the installed qmail-send-queue1/run: the queue on the compiled path,
# in a namespace of its own (root only, where unshare -m works)
if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
	q=$svc/qmail-send-queue1
	mkdir -p "$tmp/compiled" "$base/queue1/todo"
	: >"$base/queue1/todo/4711"
	cat >"$tmp/rc" <<-EOF
	#!/bin/sh
	echo "cwd \$(pwd)"
	echo "sees \$(ls "$tmp/compiled/todo")"
	EOF
	chmod 0755 "$tmp/rc"
	echo "$tmp/compiled" >"$q/env/QMAIL_QUEUE"
	echo "$tmp/rc" >"$q/env/QMAIL_RC"
	run "qmail-send-queue1/run" 0 sh -c "cd '$q' && exec ./run"
	grep -qx 'cwd /' "$tmp/out" || fail "qmail-send-queue1/run: rc not started in /: $(cat "$tmp/out")"
	grep -qx 'sees 4711' "$tmp/out" || fail "qmail-send-queue1/run: queue not mounted: $(cat "$tmp/out")"
	[ -e "$tmp/compiled/todo" ] && fail "qmail-send-queue1/run: the bind mount leaked to the host"
	echo "$tmp/nothing" >"$q/env/QUEUEDIR"
	run "qmail-send-queue1/run without a queue" 111 sh -c "cd '$q' && exec ./run"
	grep -q 'is not a queue' "$tmp/out" || fail "qmail-send-queue1/run: no message for a missing queue"
else
	echo "test_services: not root or no mount namespaces: qmail-send-queue/run not started"
fi

echo "test_services: ok"
