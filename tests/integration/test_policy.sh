#!/bin/bash
# test_policy.sh - per-domain and per-user policy (simscan's simcontrol) end
# to end: the real sluiced with clamav + attach and the shipped EICAR DB,
# sluice-queue driven by qqsim, SLUICE_CONTROL a directory of the test's,
# simcontrol.cdb compiled by sluice-cdb as an admin would.
#
#   domains     a.example has clam=no: EICAR to it is committed; b.example
#               rejects it (31, the virus text under notqmail); a user-level
#               entry (vip@b.example: clam=no) beats its domain; the
#               default line's attach= bans .exe for everyone, and c.example's
#               attach=.pdf replaces the list for it (.pdf banned, .exe not)
#   several     a.example + b.example in one message: the scanners are the
#               union, so EICAR is rejected (no recipient loses its scanning)
#   actions     d.example: action_virus=defer -> 71, text with (#4.7.1);
#               e.example: action_virus=drop -> 0, nothing queued
#   regex       f.example: regex=^X-Evil -> banned (31) naming the pattern
#   log         each message's line names the entries that applied
#   reload      a new simcontrol.cdb (a.example: clam=yes now) compiled
#               while 200 messages from 8 sessions are in flight, picked up
#               by the reload timer without a restart: every message of the
#               load exits 0 and is queued, and EICAR to a.example is then
#               rejected
#   ssattach    without a simcontrol, ssattach's list bans for everyone and
#               replaces SLUICE_BANNED; the settings' scanners run
#   broken      a broken simcontrol.cdb at reload is logged with the cause,
#               the last good policy keeps serving; a broken simcontrol at
#               start stops sluiced (111) naming the file and line
. "$(dirname "$0")/lib.sh"
lib_init

DATA=$SLUICE_SRC/tests/scan/data
CDB=$SLUICE_BIN/control/sluice-cdb
[ -x "$CDB" ] || fail "$CDB is not built"
make_queues 2
CTL=$WORK/control
mkdir "$CTL"
EICAR_MSG=$DATA/clamav_eicar_plain.eml
[ -f "$EICAR_MSG" ] || fail "no $EICAR_MSG"
SCAN=(SLUICE_SCANNERS=clamav,attach "SLUICE_CLAMDB=$SLUICE_SRC/scan/db" "SLUICE_CONTROL=$CTL"
	SLUICE_RELOAD_CHECK=1 SLUICE_CUSTOM_ERROR=notqmail)

# attachment MAIL NAME - a mail with a base64 attachment called NAME
attachment() {
	{
		printf 'From: s@example.org\nSubject: file\nMIME-Version: 1.0\n'
		printf 'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nsee attached\n'
		printf -- '--b1\nContent-Type: application/octet-stream; name="%s"\n' "$2"
		printf 'Content-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQK\n--b1--\n'
	} >"$1"
}
attachment "$WORK/exe.eml" setup.exe
attachment "$WORK/pdf.eml" report.pdf
mkmsg "$WORK/clean.eml"
mkmsg "$WORK/evil.eml" "X-Evil: yes"

cat >"$CTL/simcontrol" <<'EOT'
:clam=yes,attach=.exe
a.example:clam=no
b.example:clam=yes
vip@b.example:clam=no
c.example:attach=.pdf
d.example:action_virus=defer
e.example:action_virus=drop
f.example:regex=^X-Evil
EOT
"$CDB" -c "$CTL" || fail "sluice-cdb could not compile the test's simcontrol"
[ -s "$CTL/simcontrol.cdb" ] || fail "no simcontrol.cdb"

daemon_start "${SCAN[@]}"
grep -q "^sluiced: policy: simcontrol.cdb in $CTL" "$DLOG" || fail "the policy was not opened: $(grep policy "$DLOG")"

# to RCPT... - send MAIL to the recipients; QQ_RC / QQ_TEXT set
to() {
	local mail=$1 args=()
	shift
	for r; do args+=(-r "$r"); done
	run_qq -m "$mail" -e 6 "${args[@]}"
}
queued_then_clear() {
	wait_idle
	[ "$(count todo)" = "$1" ] || fail "$2: $(count todo) queued, want $1"
	clear_queues
}

say "--- domains"
to "$EICAR_MSG" x@a.example
expect "EICAR to a.example (clam=no)" 0
queued_then_clear 1 "a.example"
to "$EICAR_MSG" x@b.example
expect "EICAR to b.example" 82 "DYour email was rejected because it contains the Sluice.Test.EICAR.UNOFFICIAL virus (#5.7.1)"
queued_then_clear 0 "b.example"
to "$EICAR_MSG" vip@b.example
expect "EICAR to vip@b.example (user beats domain)" 0
queued_then_clear 1 "vip@b.example"
to "$WORK/exe.eml" x@a.example
expect ".exe to a.example (default attach list)" 82 "DYour email was rejected because it contains a bad attachment: setup.exe (#5.7.1)"
to "$WORK/pdf.eml" x@c.example
expect ".pdf to c.example (its attach list)" 82 "DYour email was rejected because it contains a bad attachment: report.pdf (#5.7.1)"
to "$WORK/exe.eml" x@c.example
expect ".exe to c.example (its list replaces the default)" 0
to "$WORK/pdf.eml" x@a.example
expect ".pdf to a.example" 0
queued_then_clear 2 "attachments"
say "ok: per-domain and per-user scanners and attach lists"

say "--- several recipients"
to "$EICAR_MSG" x@a.example y@b.example
expect "EICAR to a.example and b.example" 82 "DYour email was rejected because it contains the Sluice.Test.EICAR.UNOFFICIAL virus (#5.7.1)"
queued_then_clear 0 "several"
say "ok: the scanners of every recipient run"

say "--- actions and regex"
to "$EICAR_MSG" x@d.example
expect "EICAR to d.example (defer)" 82 "ZYour email was rejected because it contains the Sluice.Test.EICAR.UNOFFICIAL virus (#4.7.1)"
to "$EICAR_MSG" x@e.example
expect "EICAR to e.example (drop)" 0
queued_then_clear 0 "drop"
to "$WORK/evil.eml" x@f.example
expect "X-Evil to f.example (regex)" 82 "DYour email was rejected because it contains a bad attachment: regex ^X-Evil (#5.7.1)"
to "$WORK/evil.eml" x@a.example
expect "X-Evil to a.example" 0
queued_then_clear 1 "regex"
say "ok: defer, drop, regex"

say "--- the log"
grep -q '^msg .*verdict infected action reject exit 31/82 .* policy (default),b.example why ' "$DLOG" ||
	fail "no log line naming b.example's entry: $(grep '^msg .*exit 31' "$DLOG" | head -2)"
grep -q '^msg .* policy (default),b.example,vip@b.example' "$DLOG" ||
	fail "no log line naming vip@b.example's entry"
say "ok: the entries that applied are logged"

say "--- a new simcontrol.cdb under load"
before=$(grep -c '^msg ' "$DLOG")
# each message pauses 150 ms half way: the load lasts about 4 s
load_qq "$WORK/load.out" -n 200 -k 8 -w 150 -m "$WORK/clean.eml" -r x@a.example &
lp=$!
sed -i 's/^a.example:clam=no$/a.example:clam=yes/' "$CTL/simcontrol"
wait_until 10 "the load to start" eval '[ "$(grep -c "^msg " "$DLOG")" -gt $((before + 10)) ]'
# (editing the text alone may already reload: the CDB is what counts)
reloads=$(grep -c '^sluiced: policy reloaded' "$DLOG" || true)
"$CDB" -c "$CTL" || fail "recompiling failed"
wait_until 10 "the policy to be reloaded" eval '[ "$(grep -c "^sluiced: policy reloaded" "$DLOG")" -gt "$reloads" ]'
wait "$lp" || fail "the load failed"
grep -q 'exits=0:200,$' "$WORK/load.out" || fail "load: $(grep '^msgs=' "$WORK/load.out")"
# the reload happened in the middle of the load, not after it
at=$(grep -n '^sluiced: policy reloaded' "$DLOG" | tail -1 | cut -d: -f1)
after=$(tail -n +"$at" "$DLOG" | grep -c '^msg .*policy (default),a.example$')
[ "$after" -gt 0 ] && [ "$after" -lt 200 ] ||
	fail "the reload was not during the load ($after of 200 answered after it)"
say "reloaded with $after of the load's 200 messages still to answer"
queued_then_clear 200 "the load"
to "$EICAR_MSG" x@a.example
expect "EICAR to a.example after the reload" 82 "DYour email was rejected because it contains the Sluice.Test.EICAR.UNOFFICIAL virus (#5.7.1)"
say "ok: 200 messages, none lost, while the new policy was picked up"

say "--- a broken simcontrol.cdb at reload"
printf 'garbage that is no cdb' >"$CTL/simcontrol.cdb.new"
mv "$CTL/simcontrol.cdb.new" "$CTL/simcontrol.cdb"
wait_until 10 "the broken policy to be refused" eval 'grep -q "policy not reloaded, the last good one serves" "$DLOG"'
to "$EICAR_MSG" x@a.example
expect "EICAR to a.example, broken CDB" 82
to "$EICAR_MSG" vip@b.example
expect "EICAR to vip@b.example, broken CDB" 0
queued_then_clear 1 "broken"
sleep 2.5	# two more ticks of the reload timer
[ "$(grep -c 'policy not reloaded' "$DLOG")" = 1 ] ||
	fail "the broken CDB was reported $(grep -c 'policy not reloaded' "$DLOG") times, want once"
say "ok (said once): $(grep -m 1 'policy not reloaded' "$DLOG")"
daemon_stop

say "--- ssattach alone (no simcontrol): its list for every message"
CTL2=$WORK/control2
mkdir "$CTL2"
printf '.pdf\n' >"$CTL2/ssattach"
daemon_start SLUICE_SCANNERS=clamav,attach "SLUICE_CLAMDB=$SLUICE_SRC/scan/db" "SLUICE_CONTROL=$CTL2" \
	SLUICE_CUSTOM_ERROR=notqmail
to "$WORK/pdf.eml" x@a.example
expect ".pdf with ssattach .pdf" 82 "DYour email was rejected because it contains a bad attachment: report.pdf (#5.7.1)"
to "$WORK/exe.eml" x@a.example
expect ".exe with ssattach .pdf (it replaces SLUICE_BANNED)" 0
to "$EICAR_MSG" x@a.example
expect "EICAR with ssattach alone (the settings' scanners)" 82
queued_then_clear 1 "ssattach"
! grep -q '^msg .* policy ' "$DLOG" || fail "a policy entry logged without a simcontrol"
daemon_stop
say "ok: ssattach alone"

say "--- review findings: regex with no scanner, clamav's fallback, quarantine with no Maildir, unscanned"
CTL3=$WORK/control3
mkdir "$CTL3"
cat >"$CTL3/simcontrol" <<'EOT'
:clam=yes,attach=.xyz
f.example:regex=^X-Evil
q.example:action_virus=quarantine
n.example:clam=no,attach=no
EOT
"$CDB" -c "$CTL3" || fail "sluice-cdb: control3"
# a regex= with no scanner configured: the pool still runs it
daemon_start SLUICE_SCANNERS=null "SLUICE_CONTROL=$CTL3" SLUICE_CUSTOM_ERROR=notqmail
to "$WORK/evil.eml" x@f.example
expect "regex with SLUICE_SCANNERS=null" 82 "DYour email was rejected because it contains a bad attachment: regex ^X-Evil (#5.7.1)"
daemon_running || fail "sluiced died"
daemon_stop
# a name inside an archive, when clamav falls back to libclamav's own mail
# parser (a BinHex line in a text part): still the policy's list
python3 - "$WORK" <<'EOT'
import io, sys, tarfile, base64
w = sys.argv[1]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    data = b"not really a program\n"
    ti = tarfile.TarInfo("evil.xyz"); ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
b64 = base64.encodebytes(buf.getvalue()).decode()
for name, extra in (("tgz.eml", ""), ("tgz-binhex.eml", "(This file must be converted with BinHex 4.0)\n")):
    with open(f"{w}/{name}", "w") as f:
        f.write('From: s@example.org\nSubject: t\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n'
                f'--b\nContent-Type: text/plain\n\nhello\n{extra}'
                '--b\nContent-Type: application/gzip; name="a.tgz"\nContent-Transfer-Encoding: base64\n\n'
                f'{b64}--b--\n')
EOT
for mode in walker libclamav; do
	daemon_start SLUICE_SCANNERS=clamav,attach "SLUICE_CLAMDB=$SLUICE_SRC/scan/db" "SLUICE_CONTROL=$CTL3" \
		SLUICE_CUSTOM_ERROR=notqmail SLUICE_CLAMAV_MIME=$mode
	for mail in tgz tgz-binhex; do
		to "$WORK/$mail.eml" x@a.example
		expect "evil.xyz in a.tgz ($mail, $mode)" 82 "DYour email was rejected because it contains a bad attachment: evil.xyz (#5.7.1)"
	done
	daemon_stop
done
# quarantine asked for by the policy with no Maildir anywhere: 71, named
daemon_start SLUICE_SCANNERS=clamav,attach "SLUICE_CLAMDB=$SLUICE_SRC/scan/db" "SLUICE_CONTROL=$CTL3"
to "$EICAR_MSG" x@q.example
expect "quarantine with no Maildir" 71
grep -q 'quarantine asked for and no Maildir given' "$DLOG" || fail "no clear log line: $(grep '^msg .*x@q\|quarantine' "$DLOG" | tail -2)"
! grep -q '(null)' "$DLOG" || fail "(null) in the log"
# every scanner off for a recipient: logged unscanned, not clean
to "$WORK/clean.eml" x@n.example
expect "n.example (nothing scans)" 0
grep -q '^msg .* verdict unscanned action commit exit 0 .* policy (default),n.example' "$DLOG" ||
	fail "not logged as unscanned: $(grep '^msg .*n.example' "$DLOG")"
queued_then_clear 1 "unscanned"
daemon_stop
say "ok: regex without scanners, the fallback's banned names, no-Maildir quarantine, unscanned"

say "--- a broken simcontrol at start"
rm -f "$CTL/simcontrol.cdb"
printf ':clam=yes\nbad.example:clam=perhaps\n' >"$CTL/simcontrol"
rc=0
env QUEUE_BASE="$WORK" QUEUE_COUNT="$NQ" $AS_USER "${SCAN[@]}" timeout 20 "$SLUICED" \
	>/dev/null 2>"$WORK/start.err" </dev/null || rc=$?
[ "$rc" = 111 ] || fail "broken simcontrol at start: exit $rc, want 111: $(cat "$WORK/start.err")"
grep -q "simcontrol:2" "$WORK/start.err" || fail "the error does not name simcontrol:2: $(cat "$WORK/start.err")"
say "ok: $(grep -m 1 'simcontrol:2' "$WORK/start.err")"
say "ok"
