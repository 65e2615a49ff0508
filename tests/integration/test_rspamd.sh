#!/bin/bash
# test_rspamd.sh - the rspamd scanner end to end: the real sluiced with
# SLUICE_SCANNERS=rspamd, a real rspamd started here
# (tests/util/rspamd-conf.sh: no DNS, test rules), the real sluice-queue
# driven by qqsim.  77 (skipped) without rspamd.
#
#   gtube       GTUBE: rspamd's reject -> 31, nothing queued; a plain mail
#               (no action) committed byte for byte
#   add header  Subject sluice-tag-me: rspamd says "add header": 0 whatever
#               SLUICE_ON_SPAM says, the mess tagged with the milter
#               block's X-Spam-Status: Yes; intd only u p F T
#               The sender's own X-Spam-Status, X-Spamd-Bar and
#               X-Rspamd-Server go: only rspamd's in the header block, the
#               mail otherwise byte for byte, "forged 3" logged
#   soft reject Subject sluice-soft: 71 (451), nothing queued
#   helo        a mail whose first line is qmail-smtpd's Received line with
#               (HELO helo.sluice-test.example) and the client's IP
#               (TCPREMOTEIP): rspamd gets the Helo (its test rule scores
#               it to "add header": tagged with SLUICE_HELO); another IP,
#               no TCPREMOTEIP, or the line below another: no Helo, the mail
#               committed untagged byte for byte
#   failover    a dead URL first: GTUBE still 31; rspamd_down 1
. "$(dirname "$0")/lib.sh"
lib_init
need_server /usr/bin/rspamd rspamd

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
make_queues 2
t0=$(now_ms)
start_rspamd r1
say "rspamd started in $(($(now_ms) - t0)) ms"
URL=http://127.0.0.1:$RSPAMD_PORT

mkmsg "$WORK/gtube.eml"
echo "$GTUBE" >>"$WORK/gtube.eml"
mkmsg "$WORK/plain.eml"
mkmsg "$WORK/tag.eml" "Subject: sluice-tag-me"
mkmsg "$WORK/soft.eml" "Subject: sluice-soft"

say "--- GTUBE and a plain mail"
daemon_start SLUICE_SCANNERS=rspamd "SLUICE_RSPAMD=$URL"
run_qq TCPREMOTEIP=192.0.2.1 -m "$WORK/gtube.eml"
expect "GTUBE" 31
wait_queue_empty "GTUBE"
grep -q "why rspamd: reject .*Gtube" "$DLOG" || fail "the log does not show rspamd's reject"
run_qq -m "$WORK/plain.eml"
expect "plain" 0
tail -n +2 "$(mess_of "$(todo_files)")" | cmp -s - "$WORK/plain.eml" || fail "plain: mess changed"
clear_queues
say "ok"

say "--- add header: tagged, accepted"
run_qq -m "$WORK/tag.eml"
expect "add header" 0
TODO=$(todo_files)
MESS=$(mess_of "$TODO")
Q=${TODO%/todo/*}
ID=${TODO##*/}
sed -n 3p "$MESS" | grep -q '^X-Sluice-Verdict: spam add header' || fail "line 3: $(sed -n 3p "$MESS")"
grep -q '^X-Spam-Status: Yes, score=' "$MESS" || fail "no X-Spam-Status: Yes in the mess"
tail -n "$(wc -l <"$WORK/tag.eml")" "$MESS" | cmp -s - "$WORK/tag.eml" || fail "the mail below the headers changed"
types=$(tr '\0' '\n' <"$Q/intd/$ID" | cut -c1 | tr -d '\n')
[[ $types =~ ^upFT+$ ]] || fail "intd record types '$types', want u p F T..."
clear_queues
say "ok"

say "--- add header: the sender's own X-Spam-Status and X-Spamd-Bar go"
mkmsg "$WORK/tagforged.eml" "Subject: sluice-tag-me" "X-Spam-Status: No, score=-5.00" \
	"X-Spamd-Bar: /" "X-Rspamd-Server: trusted"
echo "X-Spam-Status: No (a body line)" >>"$WORK/tagforged.eml"
run_qq -m "$WORK/tagforged.eml"
expect "add header, forged fields" 0
MESS=$(mess_of "$(todo_files)")
sed '/^$/q' "$MESS" >"$WORK/head"
[ "$(grep -c '^X-Spam-Status:' "$WORK/head")" = 1 ] && grep -q '^X-Spam-Status: Yes, score=' "$WORK/head" ||
	fail "forged: X-Spam-Status lines: $(grep '^X-Spam-Status' "$WORK/head")"
[ "$(grep -c '^X-Spamd-Bar:' "$WORK/head")" = 1 ] && ! grep -q '^X-Spamd-Bar: /$' "$WORK/head" ||
	fail "forged: X-Spamd-Bar lines: $(grep '^X-Spamd-Bar' "$WORK/head")"
grep -q '^X-Rspamd-Server: trusted' "$WORK/head" && fail "forged: X-Rspamd-Server left"
grep -v '^X-Spam-Status: No, score\|^X-Spamd-Bar: /$\|^X-Rspamd-Server: trusted$' "$WORK/tagforged.eml" >"$WORK/tagforged.want"
n=$(wc -l <"$WORK/tagforged.want")
tail -n "$n" "$MESS" | cmp -s - "$WORK/tagforged.want" || fail "forged: the mail below the headers"
tail -n 1 "$MESS" | grep -q '^X-Spam-Status: No (a body line)$' || fail "forged: the body's line"
grep -q ' forged 3' "$DLOG" || fail "forged: no 'forged 3' in the log"
clear_queues
say "ok"

say "--- soft reject: 451"
run_qq -m "$WORK/soft.eml"
expect "soft reject" 71
wait_queue_empty "soft reject"
daemon_stop
say "ok"

say "--- Helo: from qmail-smtpd's Received line, when it is the client's"
# rspamd scores a Helo of helo.sluice-test.example 50 (add header): the
# mail is tagged only when the Helo header reached rspamd
RCVD=$'Received: from mx.sender.example (HELO helo.sluice-test.example) (192.0.2.1)\n  by relay.example.net with SMTP; 2 Nov 2026 02:45:04 -0000'
{ echo "$RCVD"; cat "$WORK/plain.eml"; } >"$WORK/helo.eml"
{ echo "X-Early: 1"; echo "$RCVD"; cat "$WORK/plain.eml"; } >"$WORK/helo-late.eml"
daemon_start SLUICE_SCANNERS=rspamd "SLUICE_RSPAMD=$URL"
run_qq TCPREMOTEIP=192.0.2.1 -m "$WORK/helo.eml"
expect "helo" 0
MESS=$(mess_of "$(todo_files)")
grep -q '^X-Sluice-Verdict: spam add header .*SLUICE_HELO' "$MESS" ||
	fail "helo: rspamd did not see the Helo: $(sed -n 2,4p "$MESS")"
clear_queues
# the same line with another client IP, from a local injection (no
# TCPREMOTEIP), or below another line: no Helo, so no tag
for c in "TCPREMOTEIP=192.0.2.2 helo.eml" "NOIP=1 helo.eml" "TCPREMOTEIP=192.0.2.1 helo-late.eml"; do
	run_qq "${c% *}" -m "$WORK/${c#* }"
	expect "helo: $c" 0
	MESS=$(mess_of "$(todo_files)")
	tail -n +2 "$MESS" | cmp -s - "$WORK/${c#* }" || fail "helo: $c: tagged or changed: $(sed -n 2,4p "$MESS")"
	clear_queues
done
daemon_stop
say "ok: Helo sent only for the client's own line"

say "--- failover"
daemon_start SLUICE_SCANNERS=rspamd "SLUICE_RSPAMD=http://127.0.0.1:$(free_port),$URL"
for i in 1 2 3; do
	run_qq -m "$WORK/gtube.eml"
	expect "failover GTUBE $i" 31
done
[ "$(stat_get rspamd_down)" = 1 ] || fail "rspamd_down $(stat_get rspamd_down), want 1"
daemon_stop
say "ok: every message checked"
