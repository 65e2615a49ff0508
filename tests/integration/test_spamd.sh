#!/bin/bash
# test_spamd.sh - the spamd scanner end to end: the real sluiced with
# SLUICE_SCANNERS=spamd, a real spamd -L started here on a temp socket, the
# real sluice-queue driven by qqsim.  77 (skipped) without spamd.
#
#   gtube       GTUBE: 31; under SLUICE_CUSTOM_ERROR=notqmail 82 with
#               simscan's text "Your email is considered spam (N spam-hits)"
#               and N >= 1000 on fd 6; nothing queued; a clean mail committed
#               byte for byte
#   tag         SLUICE_ON_SPAM=tag: GTUBE 0, the committed mess carries
#               X-Spam-Flag: YES and X-Spam-Status: Yes after sluice's
#               headers, then the mail byte for byte; intd only u p F T;
#               a GTUBE mail carrying its own X-Spam-Status: No (folded),
#               X-Spam-Flag, X-Spam, X-Sluice-Verdict, X-Spamd-Result,
#               X-Rspamd-Action: committed with exactly SpamAssassin's and
#               sluice's lines, the mail without those six byte for byte
#               (its body's X-Spam-Status line kept), "forged 6" logged
#   relay       RELAYCLIENT set: not checked (0); SLUICE_SPAM_RELAYCLIENT=1:
#               checked (31)
#   failover    a dead server first (TCP to a closed port): GTUBE still 31
#   concurrent  SLUICE_SCANNERS=clamav,spamd with a mail that is both EICAR
#               and GTUBE: the virus verdict decides (31, virus text)
. "$(dirname "$0")/lib.sh"
lib_init
need_server /usr/sbin/spamd spamd

DATA=$SLUICE_SRC/tests/scan/data
GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
make_queues 2
start_spamd s1
S1=$WORK/s1/spamd.sock
mkmsg "$WORK/gtube.eml"
echo "$GTUBE" >>"$WORK/gtube.eml"
CLEAN=$DATA/clamav_clean_plain.eml

say "--- GTUBE"
daemon_start SLUICE_SCANNERS=spamd "SLUICE_SPAMD=unix:$S1"
run_qq -m "$WORK/gtube.eml"
expect "GTUBE" 31
wait_queue_empty "GTUBE"
run_qq -m "$CLEAN"
expect "clean" 0
tail -n +2 "$(mess_of "$(todo_files)")" | cmp -s - "$CLEAN" || fail "clean: mess is not Received + the mail"
clear_queues
daemon_stop
daemon_start SLUICE_SCANNERS=spamd "SLUICE_SPAMD=unix:$S1" SLUICE_CUSTOM_ERROR=notqmail
run_qq -m "$WORK/gtube.eml" -e 6
expect "notqmail GTUBE" 82
[[ $QQ_TEXT =~ ^DYour\ email\ is\ considered\ spam\ \(([0-9]+)\.[0-9]+\ spam-hits\)\ \(#5\.7\.1\)$ ]] ||
	fail "notqmail GTUBE: text '$QQ_TEXT'"
[ "${BASH_REMATCH[1]}" -ge 1000 ] || fail "GTUBE scored ${BASH_REMATCH[1]}, want >= 1000"
wait_queue_empty "notqmail GTUBE"
daemon_stop
say "ok: 31, and 82 with '$QQ_TEXT'"

say "--- SLUICE_ON_SPAM=tag"
daemon_start SLUICE_SCANNERS=spamd "SLUICE_SPAMD=unix:$S1" SLUICE_ON_SPAM=tag
run_qq -m "$WORK/gtube.eml"
expect "tagged GTUBE" 0
[ "$(count todo)" = 1 ] || fail "tagged GTUBE: $(count todo) todo entries"
TODO=$(todo_files)
MESS=$(mess_of "$TODO")
Q=${TODO%/todo/*}
ID=${TODO##*/}
sed -n 2p "$MESS" | grep -q '^X-QHPSI: clean$' || fail "line 2 of the tagged mess: $(sed -n 2p "$MESS")"
sed -n 3p "$MESS" | grep -q '^X-Sluice-Verdict: spam ' || fail "line 3: $(sed -n 3p "$MESS")"
sed -n 4p "$MESS" | grep -q '^X-Virus-Scanned: sluice .*spamd' || fail "line 4: $(sed -n 4p "$MESS")"
# the X-Spam-* block, then the mail as it came
n=$(($(wc -l <"$WORK/gtube.eml")))
head -n -"$n" "$MESS" | tail -n +5 >"$WORK/xspam"
grep -q '^X-Spam-Flag: YES$' "$WORK/xspam" || fail "no X-Spam-Flag: YES in $(cat "$WORK/xspam")"
grep -q '^X-Spam-Status: Yes, score=10[0-9][0-9]' "$WORK/xspam" || fail "no X-Spam-Status: Yes"
grep -qv '^X-Spam-\|^[[:space:]]' "$WORK/xspam" && fail "not only X-Spam-* lines: $(cat "$WORK/xspam")"
tail -n "$n" "$MESS" | cmp -s - "$WORK/gtube.eml" || fail "tagged GTUBE: the mail below the headers changed"
types=$(tr '\0' '\n' <"$Q/intd/$ID" | cut -c1 | tr -d '\n')
[[ $types =~ ^upFT+$ ]] || fail "intd record types '$types', want u p F T..."
check_queues >/dev/null || fail "tagged GTUBE: queue inconsistent"
clear_queues
daemon_stop
say "ok: committed with $(wc -l <"$WORK/xspam") X-Spam-* lines, intd $types"

say "--- tag: the sender's own X-Spam-* lines go"
# a GTUBE mail that claims it was checked and found clean (folded, any
# case), with an X-Spam-Status line in its body that must stay
FOLD=$'X-Spam-Status: No, score=-10.0 required=5.0\n\ttests=ALL_TRUSTED autolearn=ham'
mkmsg "$WORK/forged.eml" "$FOLD" "x-spam-flag: NO" "X-Spam: No" "X-Sluice-Verdict: clean" \
	"X-Spamd-Result: default: False [-10.00 / 15.00]" "X-Rspamd-Action: no action"
{ echo "$GTUBE"; echo "X-Spam-Status: No (a body line)"; } >>"$WORK/forged.eml"
mkmsg "$WORK/forged.want"	# the same mail without the six forged fields
sed -n '/^Message-Id:/p' "$WORK/forged.eml" >"$WORK/mid"
sed -i "s/^Message-Id:.*/$(cat "$WORK/mid")/" "$WORK/forged.want"
{ echo "$GTUBE"; echo "X-Spam-Status: No (a body line)"; } >>"$WORK/forged.want"
daemon_start SLUICE_SCANNERS=spamd "SLUICE_SPAMD=unix:$S1" SLUICE_ON_SPAM=tag
run_qq -m "$WORK/forged.eml"
expect "tagged forged GTUBE" 0
MESS=$(mess_of "$(todo_files)")
# the header block: exactly SpamAssassin's own X-Spam-Status and -Flag
sed '/^$/q' "$MESS" >"$WORK/head"
[ "$(grep -ci '^X-Spam-Status:' "$WORK/head")" = 1 ] ||
	fail "forged: X-Spam-Status lines in the header block: $(grep -i '^X-Spam-Status' "$WORK/head")"
grep -q '^X-Spam-Status: Yes, score=10[0-9][0-9]' "$WORK/head" || fail "forged: no X-Spam-Status: Yes"
[ "$(grep -ci '^X-Spam-Flag:' "$WORK/head")" = 1 ] && grep -q '^X-Spam-Flag: YES$' "$WORK/head" ||
	fail "forged: X-Spam-Flag lines: $(grep -i '^X-Spam-Flag' "$WORK/head")"
grep -qi '^X-Spam: \|^X-Spamd-\|^X-Rspamd-\|tests=ALL_TRUSTED' "$WORK/head" &&
	fail "forged: a forged line is left: $(cat "$WORK/head")"
[ "$(grep -c '^X-Sluice-Verdict:' "$WORK/head")" = 1 ] && grep -q '^X-Sluice-Verdict: spam ' "$WORK/head" ||
	fail "forged: X-Sluice-Verdict lines: $(grep '^X-Sluice-Verdict' "$WORK/head")"
# below sluice's lines and SpamAssassin's: the mail without the forged
# fields, byte for byte, the body's X-Spam-Status line with it
n=$(wc -l <"$WORK/forged.want")
tail -n "$n" "$MESS" | cmp -s - "$WORK/forged.want" || fail "forged: the mail below the headers: $(tail -n "$n" "$MESS" | diff - "$WORK/forged.want")"
[ "$(stat -c %s "$MESS")" = "$(($(head -n -"$n" "$MESS" | wc -c) + $(stat -c %s "$WORK/forged.want")))" ] ||
	fail "forged: mess size is not its lines' (not cut to size?)"
grep -q ' action tag exit 0 .* forged 6' "$DLOG" || fail "forged: no 'forged 6' in the log: $(grep '^msg' "$DLOG")"
check_queues >/dev/null || fail "forged: queue inconsistent"
clear_queues
daemon_stop
say "ok: only SpamAssassin's lines, the mail as it came without the forged ones, forged 6 logged"

say "--- relay clients"
daemon_start SLUICE_SCANNERS=spamd "SLUICE_SPAMD=unix:$S1"
run_qq RELAYCLIENT= -m "$WORK/gtube.eml"
expect "GTUBE from a relay client" 0
[ "$(stat_get spamd_skipped)" = 1 ] || fail "spamd_skipped $(stat_get spamd_skipped), want 1"
clear_queues
daemon_stop
daemon_start SLUICE_SCANNERS=spamd "SLUICE_SPAMD=unix:$S1" SLUICE_SPAM_RELAYCLIENT=1
run_qq RELAYCLIENT= -m "$WORK/gtube.eml"
expect "GTUBE from a relay client, SLUICE_SPAM_RELAYCLIENT=1" 31
daemon_stop
say "ok: skipped, and checked when told"

say "--- failover"
daemon_start SLUICE_SCANNERS=spamd "SLUICE_SPAMD=127.0.0.1:$(free_port),127.0.0.1:$SPAMD_PORT"
for i in 1 2 3; do
	run_qq -m "$WORK/gtube.eml"
	expect "failover GTUBE $i" 31
done
[ "$(stat_get spamd_down)" = 1 ] || fail "spamd_down $(stat_get spamd_down), want 1"
daemon_stop
say "ok: every message checked"

say "--- clamav and spamd: the virus decides"
mkmsg "$WORK/both.eml"
{ echo "$GTUBE"; printf '%s\n' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'; } >>"$WORK/both.eml"
daemon_start SLUICE_SCANNERS=clamav,spamd "SLUICE_CLAMDB=$SLUICE_SRC/scan/db" SLUICE_RELOAD_CHECK=0 \
	"SLUICE_SPAMD=unix:$S1" SLUICE_CUSTOM_ERROR=notqmail
run_qq -m "$WORK/both.eml" -e 6
expect "EICAR + GTUBE" 82 "DYour email was rejected because it contains the Sluice.Test.EICAR.UNOFFICIAL virus (#5.7.1)"
wait_queue_empty "EICAR + GTUBE"
daemon_stop
say "ok: virus text"
