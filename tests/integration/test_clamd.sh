#!/bin/bash
# test_clamd.sh - the clamd scanner end to end: the real sluiced with
# SLUICE_SCANNERS=clamd, real clamd servers started here (temp clamd.conf,
# unix socket and loopback port, a copy of scan/db), the real sluice-queue
# driven by qqsim as qmail-smtpd drives it.  77 (skipped) without clamd.
#
#   eicar       EICAR over the unix socket: 31, nothing queued; under
#               SLUICE_CUSTOM_ERROR=notqmail 82 with simscan's virus text on
#               fd 6; over TCP and by FILDES too; clean mail committed byte
#               for byte (mess = Received line + the mail)
#   concurrent  SLUICE_SCANNERS=clamav,clamd: both scan each message (the
#               in-process engine and clamd on a network thread); EICAR 31
#   failover    a dead server listed first: 6 messages all scanned right;
#               the stats name the dead one down and the live one's answers
#   limit       clamd's StreamMaxLength 100K, a 300 KB message: the limit
#               verdict (SLUICE_ON_LIMIT, default reject: 31)
#   sigstop     clamd stopped: SLUICE_SCAN_TIMEOUT=2 holds: 71 within the
#               deadline (+ grace), nothing queued; SIGCONT: scanning again
#               (the server was retried after SLUICE_NET_RETRY)
. "$(dirname "$0")/lib.sh"
lib_init
need_server /usr/sbin/clamd clamav-daemon

DATA=$SLUICE_SRC/tests/scan/data
EICAR=Sluice.Test.EICAR.UNOFFICIAL
VIRUS_TEXT="DYour email was rejected because it contains the $EICAR virus (#5.7.1)"
make_queues 2
start_clamd c1
C1=$WORK/c1/clamd.sock
C1_PID=$CLAMD_PID
C1_PORT=$CLAMD_PORT

# committed_as_is WHAT FILE - 0; one todo entry; mess = Received + FILE
committed_as_is() {
	run_qq -m "$2"
	expect "$1" 0
	[ "$(count todo)" = 1 ] || fail "$1: $(count todo) todo entries, want 1"
	local mess
	mess=$(mess_of "$(todo_files)")
	tail -n +2 "$mess" | cmp -s - "$2" || fail "$1: mess is not Received line + the mail"
	clear_queues
}

say "--- eicar over the unix socket"
daemon_start SLUICE_SCANNERS=clamd "SLUICE_CLAMD=unix:$C1"
run_qq -m "$DATA/clamav_eicar_plain.eml"
expect "EICAR via clamd" 31
wait_queue_empty "EICAR via clamd"
committed_as_is "clean via clamd" "$DATA/clamav_clean_plain.eml"
run_qq -m "$DATA/clamav_eicar_zip.eml"
expect "EICAR in a zip via clamd" 31
grep -q "clamd: $EICAR" "$DLOG" || fail "the log does not name clamd and $EICAR"
daemon_stop
say "ok: EICAR 31, clean committed"

say "--- notqmail custom error, TCP, FILDES"
for how in "SLUICE_CLAMD=127.0.0.1:$C1_PORT" "SLUICE_CLAMD=unix:$C1 SLUICE_CLAMD_FILDES=1"; do
	# shellcheck disable=SC2086
	daemon_start SLUICE_SCANNERS=clamd SLUICE_CUSTOM_ERROR=notqmail $how
	run_qq -m "$DATA/clamav_eicar_base64.eml" -e 6
	expect "notqmail EICAR ($how)" 82 "$VIRUS_TEXT"
	wait_queue_empty "notqmail EICAR ($how)"
	committed_as_is "clean ($how)" "$DATA/clamav_clean_html.eml"
	daemon_stop
done
say "ok: 82 with the text on fd 6, over TCP and by FILDES"

say "--- clamav and clamd at once"
daemon_start SLUICE_SCANNERS=clamav,clamd "SLUICE_CLAMDB=$SLUICE_SRC/scan/db" \
	SLUICE_RELOAD_CHECK=0 "SLUICE_CLAMD=unix:$C1"
run_qq -m "$DATA/clamav_eicar_plain.eml"
expect "EICAR, clamav + clamd" 31
committed_as_is "clean, clamav + clamd" "$DATA/clamav_clean_plain.eml"
[ "$(stat_get clamav_scans)" = 2 ] || fail "clamav_scans $(stat_get clamav_scans), want 2"
[ "$(stat_get clamd_scans)" -ge 1 ] || fail "clamd_scans $(stat_get clamd_scans), want >= 1"
daemon_stop
say "ok: both scanners ran"

say "--- failover: a dead server first"
daemon_start SLUICE_SCANNERS=clamd "SLUICE_CLAMD=unix:$WORK/dead.sock,unix:$C1"
for i in 1 2 3; do
	run_qq -m "$DATA/clamav_eicar_plain.eml"
	expect "failover EICAR $i" 31
	committed_as_is "failover clean $i" "$DATA/clamav_clean_plain.eml"
done
SLUICE_SOCKET=$SOCK "$QSTAT" --live -b "$WORK" -c "$NQ" >"$WORK/live" 2>&1
grep -q "^sluiced: clamd_server unix:$WORK/dead.sock ok 0 failed 1 .* down 1$" "$WORK/live" ||
	fail "stats do not show the dead server down: $(grep clamd "$WORK/live")"
grep -q "^sluiced: clamd_server unix:$C1 ok 6 failed 0 " "$WORK/live" ||
	fail "stats do not show 6 answers of the live server: $(grep clamd "$WORK/live")"
daemon_stop
say "ok: every message scanned, the dead server counted down"

say "--- clamd's stream limit"
start_clamd c2 100K
daemon_start SLUICE_SCANNERS=clamd "SLUICE_CLAMD=unix:$WORK/c2/clamd.sock"
head -c 300000 /dev/urandom | base64 >"$WORK/big.body"
mkmsg "$WORK/big.eml"
cat "$WORK/big.body" >>"$WORK/big.eml"
run_qq -m "$WORK/big.eml"
expect "300 KB over clamd's 100K" 31
grep -q "clamd stream limit exceeded" "$DLOG" || fail "the log does not say the stream limit"
wait_queue_empty "over the stream limit"
daemon_stop
say "ok: a limit verdict"

say "--- clamd stopped: the deadline holds"
daemon_start SLUICE_SCANNERS=clamd "SLUICE_CLAMD=unix:$C1" SLUICE_SCAN_TIMEOUT=2 SLUICE_NET_RETRY=1
kill -STOP "$C1_PID"
run_qq -m "$DATA/clamav_eicar_plain.eml"
kill -CONT "$C1_PID"
expect "clamd stopped" 71
STOPPED_MS=$QQ_MS
[ "$STOPPED_MS" -ge 1900 ] || fail "clamd stopped: answered after $STOPPED_MS ms, before the deadline?"
[ "$STOPPED_MS" -lt 5000 ] || fail "clamd stopped: answered after $STOPPED_MS ms, deadline 2 s"
grep -q "verdict scan-timeout action defer exit 71 .*no answer: timed out" "$DLOG" ||
	fail "the log does not say clamd timed out"
wait_queue_empty "clamd stopped"
sleep 1.2	# SLUICE_NET_RETRY: the server rests, then a PING brings it back
run_qq -m "$DATA/clamav_eicar_plain.eml"
expect "clamd continued" 31
daemon_stop
say "ok: 71 after ${STOPPED_MS} ms, then scanning again"
