#!/bin/bash
# test_crash.sh - kill -9 of sluiced under load, in a loop: every message a
# client was told 0 for is whole in todo/, nothing partial survives a restart.
#
# Each round (10; SLUICE_TEST_CRASH_ROUNDS to change): start sluiced - its start
# runs the queue library's recovery on what the previous round left - then
# 16 concurrent qmail-smtpd sessions send 200 messages (4 KB in odd rounds,
# 100 KB in even ones, each with a unique X-Qqsim-Id, qqsim -i/-v printing
# every message's exit code), and after a random 0.05-0.5 s the daemon gets
# SIGKILL; every third round passes the messages through the scan pool (the
# test scanner: all clean).  Before the restart the markers left in pid/ are counted and
# split into committed (todo/ exists) and unfinished; the restarted daemon's
# "recovery:" log lines must report exactly those numbers.  After each
# restart, and after a final one, with the daemon idle:
#   - every id acknowledged with exit 0, in any round so far, is on disk;
#   - no id is on disk twice;
#   - check_queues.pl: pid/ empty, no intd/ or mess/ file without todo/, every
#     intd is u/p/F/T (F and T present), every mess file is the Received
#     line + exactly the message qqsim sent (nothing cut short);
# Committed messages whose client saw another code (the reply was lost with
# the daemon) are counted and reported: a possible duplicate, never a loss.
. "$(dirname "$0")/lib.sh"
lib_init

ROUNDS=${SLUICE_TEST_CRASH_ROUNDS:-10}
make_queues 4
make_ref 4096
make_ref 100000
: >"$WORK/acked"
: >"$WORK/committed_markers"
total_msgs=0
total_acked=0
total_killed_mid=0

# verify WHEN - the invariants above, with the daemon idle
verify() {
	check_queues "$WORK/ref.4096" "$WORK/ref.100000" >"$WORK/check.out" ||
		fail "$1: queues inconsistent after recovery"
	awk '{ print $4 }' "$WORK/check.out" | sort >"$WORK/ondisk"
	local dup missing
	dup=$(uniq -d "$WORK/ondisk" | head -3)
	[ -z "$dup" ] || fail "$1: messages on disk twice: $dup"
	sort -u "$WORK/acked" >"$WORK/acked.sorted"
	missing=$(comm -23 "$WORK/acked.sorted" "$WORK/ondisk" | head -5)
	[ -z "$missing" ] || fail "$1: acknowledged with 0 but not in the queue: $missing"
	say "$1: ok: $(wc -l <"$WORK/ondisk") messages whole in todo/, all $(wc -l <"$WORK/acked.sorted") acknowledged among them, pid/ empty, nothing partial"
}

# markers - count pid/ markers left by the killed daemon: committed ones
# (their todo/ entry exists) into MK_DONE, the others into MK_UNFIN
markers() {
	local q ino
	MK_DONE=0
	MK_UNFIN=0
	for q in "$WORK"/queue*; do
		for ino in $(find "$q/pid" -type f -printf '%i\n'); do
			if [ -e "$q/todo/$ino" ]; then
				MK_DONE=$((MK_DONE + 1))
			else
				MK_UNFIN=$((MK_UNFIN + 1))
			fi
		done
	done
}

# recovery_figures - sum of the restarted daemon's "recovery:" lines
recovery_figures() {
	awk '/: recovery: / { k += $4; r += $8 } END { printf "%d %d", k, r }' "$DLOG"
}

for ((r = 1; r <= ROUNDS; r++)); do
	if [ $((r % 3)) = 0 ]; then
		daemon_start SLUICE_SCANNERS=test	# through the scan pool (all clean)
	else
		daemon_start
	fi
	if [ "$r" -gt 1 ]; then
		read -r rk rr <<<"$(recovery_figures)"
		[ "$rk" = "$MK_DONE" ] && [ "$rr" = "$MK_UNFIN" ] ||
			fail "round $r: recovery reports $rk committed markers cleared and $rr unfinished removed; $MK_DONE and $MK_UNFIN were left"
		verify "after restart $r"
	fi
	size=4096
	if [ $((r % 2)) = 0 ]; then
		size=100000
	fi
	env SLUICE_SOCKET="$SOCK" timeout -k 5 120 "$QQSIM" -p "$SQ" -n 200 -k 16 -s $size \
		-i "r$r" -v >"$WORK/round.$r.out" 2>/dev/null &
	lp=$!
	track "$lp"
	ms=$((50 + RANDOM % 451))
	sleep "$(printf '0.%03d' "$ms")"
	daemon_kill9
	markers
	rc=0
	wait "$lp" || rc=$?
	[ "$rc" != 124 ] && [ "$rc" != 137 ] || fail "round $r: qqsim hung after the kill"
	sum=$(grep '^msgs=' "$WORK/round.$r.out") || fail "round $r: qqsim printed no summary"
	[ "$(grep -c '^id ' "$WORK/round.$r.out")" = 200 ] ||
		fail "round $r: qqsim reported $(grep -c '^id ' "$WORK/round.$r.out") messages, want 200"
	awk '$1 == "id" && $4 == 0 { print $2 }' "$WORK/round.$r.out" >>"$WORK/acked"
	n0=$(awk '$1 == "id" && $4 == 0' "$WORK/round.$r.out" | wc -l)
	bad=$(awk '$1 == "id" && $4 != 0 && $4 != 71 { print $2 " " $4 }' "$WORK/round.$r.out" | head -3)
	[ -z "$bad" ] || fail "round $r: exit codes other than 0 and 71: $bad"
	total_msgs=$((total_msgs + 200))
	total_acked=$((total_acked + n0))
	if [ "$n0" -gt 0 ] && [ "$n0" -lt 200 ]; then
		total_killed_mid=$((total_killed_mid + 1))
	fi
	say "round $r: ${size}-byte messages, SIGKILL after $ms ms: $n0 exit 0, $((200 - n0)) exit 71; left: $MK_DONE committed + $MK_UNFIN unfinished markers, $(count todo) todo, $(count mess) mess"
done

daemon_start
read -r rk rr <<<"$(recovery_figures)"
[ "$rk" = "$MK_DONE" ] && [ "$rr" = "$MK_UNFIN" ] ||
	fail "final restart: recovery reports $rk cleared and $rr removed; $MK_DONE and $MK_UNFIN were left"
verify "after the final restart"
[ "$(stat_get inflight)" = 0 ] || fail "messages in flight in an idle daemon"
lost_replies=$(comm -13 "$WORK/acked.sorted" "$WORK/ondisk" | wc -l)
say "$total_acked of $total_msgs messages acknowledged; $lost_replies committed without their client seeing 0 (possible duplicates, not losses); $total_killed_mid of $ROUNDS rounds killed mid-load"
[ "$total_killed_mid" -gt 0 ] || fail "no round was killed while messages were in flight"
daemon_stop
say "ok"
