#!/bin/bash
# test_exec_daemon.sh - the exec (QHPSI) scanner inside sluiced, under load.
#
# The scanner is a shell script, run per message as QHPSI runs it: exit 1
# when the mess file holds the marker, 0 otherwise.  Each worker must get
# its own child's exit status: nothing else in the daemon may reap it.
#
# 1. 120 clean and 120 infected messages from 16 concurrent sessions,
#    SLUICE_ON_ERROR=accept (a lost status would commit infected mail):
#    every clean message exits 0, every infected one 31, and exactly the
#    clean ones are in the queues; the log has no scanner error.
# 2. The same with the default SLUICE_ON_ERROR=defer: no 71 anywhere.
# 3. sluiced started with SIGCHLD ignored (as a careless supervisor might
#    leave it): still 31 for the infected message, 0 for the clean one.
. "$(dirname "$0")/lib.sh"
lib_init

make_queues 2
cat >"$WORK/qhpsi" <<'EOT'
#!/bin/sh
# a QHPSI scanner: the mess file's path is the last argument
for f; do :; done
grep -q 'EXEC-TEST-VIRUS-MARKER' "$f" && exit 1
exit 0
EOT
chmod +x "$WORK/qhpsi"
mkmsg "$WORK/clean.eml"
mkmsg "$WORK/virus.eml" "X-Payload: EXEC-TEST-VIRUS-MARKER"
EXEC=(SLUICE_SCANNERS=exec "QHPSI=$WORK/qhpsi" SLUICE_WORKERS=2)

# both MODE... - 120 clean and 120 infected messages at once (8 + 8 sessions)
both() {
	load_qq "$WORK/clean.out" -n 120 -k 8 -m "$WORK/clean.eml" -i clean -v &
	local cp=$!
	load_qq "$WORK/virus.out" -n 120 -k 8 -m "$WORK/virus.eml" -i virus -v
	VIRUS_EXITS=$LOAD_EXITS
	wait "$cp" || fail "the clean load failed"
	CLEAN_EXITS=$(sed -n 's/.*exits=//p' "$WORK/clean.out")
}

say "--- 1. SLUICE_ON_ERROR=accept: 120 clean + 120 infected, 16 sessions"
daemon_start "${EXEC[@]}" SLUICE_ON_ERROR=accept
both
say "clean: $CLEAN_EXITS infected: $VIRUS_EXITS"
[ "$CLEAN_EXITS" = "0:120," ] || fail "clean messages: exit codes $CLEAN_EXITS, want 0:120,"
[ "$VIRUS_EXITS" = "31:120," ] || fail "infected messages: exit codes $VIRUS_EXITS, want 31:120,"
wait_idle
[ "$(count todo)" = 120 ] || fail "$(count todo) messages queued, want the 120 clean ones"
! grep -rl 'EXEC-TEST-VIRUS-MARKER' "$WORK"/queue*/mess >/dev/null 2>&1 ||
	fail "an infected message was committed"
! grep -q 'verdict error\|verdict scan-timeout' "$DLOG" ||
	fail "scanner errors logged: $(grep -m 3 'verdict error\|verdict scan-timeout' "$DLOG")"
say "ok: every status reached its worker"
daemon_stop
clear_queues

say "--- 2. default SLUICE_ON_ERROR=defer"
daemon_start "${EXEC[@]}"
both
[ "$CLEAN_EXITS" = "0:120," ] || fail "clean messages: exit codes $CLEAN_EXITS, want 0:120,"
[ "$VIRUS_EXITS" = "31:120," ] || fail "infected messages: exit codes $VIRUS_EXITS, want 31:120,"
say "ok: no 71"
daemon_stop
clear_queues

say "--- 3. started with SIGCHLD ignored"
NSTART=$((NSTART + 1))
DLOG=$WORK/sluiced.$NSTART.log
perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV or die' env QUEUE_BASE="$WORK" QUEUE_COUNT="$NQ" \
	$AS_USER "${EXEC[@]}" "$SLUICED" 2>>"$DLOG" </dev/null &
DPID=$!
track "$DPID"
wait_until 5 "sluiced to listen" eval 'grep -q "^sluiced: listening on " "$DLOG" && [ -S "$SOCK" ]'
grep -q '^SigIgn:.*' "/proc/$DPID/status" || fail "no SigIgn line for sluiced"
run_qq -m "$WORK/virus.eml"
expect "infected, SIGCHLD ignored at start" 31
run_qq -m "$WORK/clean.eml"
expect "clean, SIGCHLD ignored at start" 0
say "ok"
daemon_stop
say "ok"
