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
#   soft reject Subject sluice-soft: 71 (451), nothing queued
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

say "--- soft reject: 451"
run_qq -m "$WORK/soft.eml"
expect "soft reject" 71
wait_queue_empty "soft reject"
daemon_stop
say "ok"

say "--- failover"
daemon_start SLUICE_SCANNERS=rspamd "SLUICE_RSPAMD=http://127.0.0.1:$(free_port),$URL"
for i in 1 2 3; do
	run_qq -m "$WORK/gtube.eml"
	expect "failover GTUBE $i" 31
done
[ "$(stat_get rspamd_down)" = 1 ] || fail "rspamd_down $(stat_get rspamd_down), want 1"
daemon_stop
say "ok: every message checked"
