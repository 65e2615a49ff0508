#!/bin/bash
# test_policy_queue.sh - a policy's queue= (simcontrol: pin a domain to a
# queue) end to end: the real sluiced with four queues, sluice-queue driven
# by qqsim, SLUICE_CONTROL a directory of the test's.
#
#   pinned      20 messages to pinned.example (queue=3) are all committed
#               in queue3, whatever queue each started in: todo/, intd/ and
#               mess/ of the other queues stay empty, pid/ everywhere, each
#               log line says "pin queue3", and some say they were moved
#               ("pin queue3(from-queueN/ID)"); the live stats count 20
#               committed in queue3 and nothing in flight in any queue
#   tagged      6 EICARs to tagged.example (queue=2, action_virus=tag) with
#               clamav: moved (at least one), then tagged, then committed
#               in queue2, the verdict header in each committed file
#   disagree    one message to pinned.example and other.example (queue=2):
#               no pin (the recipients disagree), committed, no "pin" field
#   down        queue3 down (its "down" file): pinned mail is committed in
#               another queue, logged "pin queue3-unavailable", not deferred
#   exdev       queue4 on a tmpfs of its own (root only): pinned mail is
#               copied across filesystems under a new id, complete
#   reload      a simcontrol.cdb with queue=9 picked up by the reload timer:
#               logged, the last good policy keeps pinning to queue3
#   range       queue=9 with four queues: sluiced does not start (111),
#               naming the file and line
#   layout      every committed message is whole (check_queues)
. "$(dirname "$0")/lib.sh"
lib_init

CDB=$SLUICE_BIN/control/sluice-cdb
[ -x "$CDB" ] || fail "$CDB is not built"
make_queues 4
CTL=$WORK/control
mkdir "$CTL"
EICAR_MSG=$SLUICE_SRC/tests/scan/data/clamav_eicar_plain.eml
[ -f "$EICAR_MSG" ] || fail "no $EICAR_MSG"
SCAN=(SLUICE_SCANNERS=clamav "SLUICE_CLAMDB=$SLUICE_SRC/scan/db" "SLUICE_CONTROL=$CTL"
	SLUICE_RELOAD_CHECK=1)
mkmsg "$WORK/clean.eml"

TMPFS=""
trap '[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null; [ -n "$TMPFS" ] && umount -l "$TMPFS" 2>/dev/null; lib_cleanup' EXIT

cat >"$CTL/simcontrol" <<'EOT'
:clam=yes
pinned.example:queue=3
other.example:queue=2
tagged.example:queue=2,action_virus=tag
far.example:queue=4
EOT
"$CDB" -c "$CTL" || fail "sluice-cdb could not compile the test's simcontrol"

# in Q SUB - files under WORK/Q/SUB
in_q() { find "$WORK/$1/$2" -type f | wc -l; }
# only_in Q N WHAT - N messages committed, all in queue Q, nothing else left
only_in() {
	local q=$1 n=$2 sub other
	wait_idle
	for sub in todo intd mess; do
		[ "$(in_q "$q" $sub)" = "$n" ] || fail "$3: $(in_q "$q" $sub) in $q/$sub, want $n"
	done
	for other in queue1 queue2 queue3 queue4; do
		[ "$other" = "$q" ] && continue
		for sub in todo intd mess; do
			[ "$(in_q $other $sub)" = 0 ] || fail "$3: $(in_q $other $sub) left in $other/$sub"
		done
	done
	[ "$(count pid)" = 0 ] || fail "$3: $(count pid) marker(s) left in pid/"
}

daemon_start "${SCAN[@]}"

say "--- pinned"
for i in $(seq 1 20); do
	run_qq -m "$WORK/clean.eml" -f "p$i@example.org" -r "u$i@pinned.example"
	expect "message $i to pinned.example" 0
done
only_in queue3 20 "pinned.example"
n=$(grep -c '^msg queue3 .* from <p[0-9]*@example.org> .* exit 0 .* pin queue3' "$DLOG" || true)
[ "$n" = 20 ] || fail "$n log lines say 'msg queue3 ... pin queue3', want 20: $(grep '^msg' "$DLOG" | head -3)"
moved=$(grep -c '^msg queue3 .* from <p[0-9]*@example.org> .* pin queue3(from-queue[124]/[0-9]*)' "$DLOG" || true)
[ "$moved" -ge 1 ] || fail "no pinned message was moved (all 20 started in queue3?)"
live=$(SLUICE_SOCKET=$SOCK "$QSTAT" --live -b "$WORK" -c "$NQ" 2>&1)
printf '%s\n' "$live" | grep -q '^sluiced: queue queue3 inflight 0 .* committed 20 ' ||
	fail "stats: queue3 does not count 20 committed: $(printf '%s\n' "$live" | grep queue3)"
[ "$(printf '%s\n' "$live" | grep -c '^sluiced: queue queue[1-4] inflight 0 ')" = 4 ] ||
	fail "stats: a queue counts messages in flight: $(printf '%s\n' "$live" | grep 'queue queue')"
check_queues
clear_queues
say "ok: 20 messages in queue3 only ($moved moved there)"

say "--- tagged"
for i in 1 2 3 4 5 6; do
	run_qq -m "$EICAR_MSG" -f "tag$i@example.org" -r x@tagged.example
	expect "EICAR $i to tagged.example" 0
done
only_in queue2 6 "tagged.example"
for f in $(find "$WORK/queue2/mess" -type f); do
	grep -q '^X-Sluice-Verdict: .*EICAR' "$f" ||
		fail "a committed message has no verdict header: $(head -5 "$f")"
	grep -q 'X5O!P%@AP' "$f" || fail "a committed message lost its body"
done
n=$(grep -c '^msg queue2 .* from <tag[0-9]@example.org> .* action tag exit 0 .* pin queue2' "$DLOG" || true)
[ "$n" = 6 ] || fail "$n of 6 logged as tagged in queue2: $(grep 'tag1@example.org' "$DLOG")"
grep -q '^msg queue2 .* from <tag[0-9]@example.org> .* pin queue2(from-queue' "$DLOG" ||
	fail "no tagged message was moved"
check_queues
clear_queues
say "ok: moved, tagged and committed in queue2"

say "--- disagree"
run_qq -m "$WORK/clean.eml" -f two@example.org -r a@pinned.example -r b@other.example
expect "two pinned recipients that disagree" 0
wait_idle
[ "$(count todo)" = 1 ] || fail "disagree: $(count todo) queued, want 1"
line=$(grep 'from <two@example.org>' "$DLOG")
case $line in *" pin "*) fail "disagreeing recipients were pinned: $line" ;; esac
clear_queues
say "ok: not pinned"

say "--- down"
touch "$WORK/queue3/down"
# the health thread looks once a second: until sluiced reports it down
q3_down() { SLUICE_SOCKET=$SOCK "$QSTAT" --live -b "$WORK" -c "$NQ" 2>/dev/null | grep -q 'queue3 .* down 1'; }
wait_until 10 "sluiced to see queue3 down" q3_down
for i in 1 2 3 4 5; do
	run_qq -m "$WORK/clean.eml" -f "d$i@example.org" -r "u$i@pinned.example"
	expect "pinned message $i with queue3 down" 0
done
wait_idle
[ "$(count todo)" = 5 ] || fail "down: $(count todo) queued, want 5"
[ "$(in_q queue3 todo)" = 0 ] || fail "down: $(in_q queue3 todo) committed in the down queue3"
n=$(grep -c 'from <d[0-9]@example.org> .* exit 0 .* pin queue3-unavailable' "$DLOG" || true)
[ "$n" = 5 ] || fail "down: $n lines say 'pin queue3-unavailable', want 5: $(grep 'from <d1@' "$DLOG")"
rm -f "$WORK/queue3/down"
check_queues
clear_queues
say "ok: committed elsewhere, logged"
daemon_stop

say "--- exdev"
if [ "$(id -u)" = 0 ] && mkdir -p "$WORK/q4tmp" && mount -t tmpfs -o size=16m sluice-test "$WORK/q4tmp" 2>/dev/null; then
	TMPFS=$WORK/q4tmp
	# queue4 is a symlink to a queue tree on the tmpfs (another filesystem)
	rm -rf "$WORK/queue4"
	"$MKQ" -q -b "$TMPFS" -c 1 -S 4 || fail "sluice-mkqueue on the tmpfs failed"
	ln -s "$TMPFS/queue4" "$WORK/queue4"
	[ "$(stat -c %d "$WORK/queue1/mess")" != "$(stat -L -c %d "$WORK/queue4/mess")" ] ||
		fail "queue4 is on the same filesystem"
	daemon_start "${SCAN[@]}"
	for i in $(seq 1 8); do
		run_qq -m "$WORK/clean.eml" -f "x$i@example.org" -r "u$i@far.example"
		expect "message $i to far.example" 0
	done
	wait_idle
	[ "$(find -L "$WORK/queue4/todo" -type f | wc -l)" = 8 ] ||
		fail "exdev: $(find -L "$WORK/queue4/todo" -type f | wc -l) in queue4/todo, want 8"
	for q in queue1 queue2 queue3; do
		[ "$(in_q $q mess)" = 0 ] || fail "exdev: $(in_q $q mess) left in $q/mess"
	done
	for f in $(find -L "$WORK/queue4/mess" -type f); do
		cmp -s <(tail -c +"$(($(head -1 "$f" | wc -c) + 1))" "$f") "$WORK/clean.eml" ||
			fail "exdev: $f is not the message after its Received line"
	done
	[ "$(find -L "$WORK/queue4/pid" -type f | wc -l)" = 0 ] || fail "exdev: markers left in queue4/pid"
	bad=$(find -L "$WORK/queue4/mess" "$WORK/queue4/todo" -type f ! -perm 0644 | head -3)
	[ -z "$bad" ] || fail "exdev: not mode 0644: $bad"
	n=$(grep -c '^msg queue4 .* from <x[0-9]@example.org> .* pin queue4' "$DLOG" || true)
	[ "$n" = 8 ] || fail "exdev: $n of 8 logged as pinned to queue4"
	# a copy has a new id: the log names the old one
	moved=$(grep '^msg queue4 .* from <x[0-9]@example.org> .* pin queue4(from-queue[123]/' "$DLOG" |
		sed 's/^msg queue4 id \([0-9]*\) .*(from-queue[123]\/\([0-9]*\)).*/\1 \2/')
	[ -n "$moved" ] || fail "exdev: no message was copied (all 8 started in queue4?)"
	printf '%s\n' "$moved" | while read -r new old; do
		[ "$new" != "$old" ] || fail "exdev: a copy kept its id $old"
	done || exit 1
	daemon_stop
	rm -rf "$TMPFS/queue4"
	umount "$TMPFS" && TMPFS=""
	rm -f "$WORK/queue4"
	"$MKQ" -q -b "$WORK" -c 4 || fail "sluice-mkqueue could not remake queue4"
	say "ok: 8 messages pinned to queue4, $(printf "%s\n" "$moved" | wc -l) of them copied from another filesystem"
else
	say "skipped: not root, or no tmpfs mount here"
fi

say "--- reload"
daemon_start "${SCAN[@]}"
printf ':clam=yes\npinned.example:queue=9\n' >"$CTL/simcontrol"
"$CDB" -c "$CTL" || fail "sluice-cdb could not compile a simcontrol with queue=9"
wait_until 10 "sluiced to refuse the new policy" grep -q 'policy not reloaded, the last good one serves: .*queue=9 is not one of the queues 1..4' "$DLOG"
run_qq -m "$WORK/clean.eml" -f r1@example.org -r u@pinned.example
expect "pinned after the refused reload" 0
wait_idle
grep -q '^msg queue3 .* from <r1@example.org> .* pin queue3' "$DLOG" ||
	fail "the last good policy did not pin: $(grep 'r1@example.org' "$DLOG")"
daemon_stop
clear_queues
say "ok: queue=9 refused at reload, queue=3 still applies"

say "--- range"
printf ':clam=yes\nfar.example:queue=9\n' >"$CTL/simcontrol"
rm -f "$CTL/simcontrol.cdb"
rc=0
env QUEUE_BASE="$WORK" QUEUE_COUNT="$NQ" $AS_USER "${SCAN[@]}" timeout 20 "$SLUICED" \
	>/dev/null 2>"$WORK/start.err" </dev/null || rc=$?
[ "$rc" = 111 ] || fail "queue=9 with 4 queues: exit $rc, want 111: $(cat "$WORK/start.err")"
grep -q "simcontrol:2: .*queue=9 is not one of the queues 1..4" "$WORK/start.err" ||
	fail "the error does not name simcontrol:2 and the range: $(cat "$WORK/start.err")"
say "ok: $(grep -m 1 'queue=9' "$WORK/start.err")"
say "ok"
