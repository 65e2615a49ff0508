#!/bin/bash
# test_actions.sh - every verdict action end to end: the real sluiced with
# the real scanners (SLUICE_SCANNERS=clamav,attach, libclamav with the
# shipped EICAR DB), the real sluice-queue driven by qqsim as qmail-smtpd
# drives QMAILQUEUE, and the files on disk checked.  The mails are the scan
# corpus under tests/scan/data.
#
#   reject      EICAR in a plain body, base64, quoted-printable, a zip, a
#               nested rfc822 message -> 31; under SLUICE_CUSTOM_ERROR=notqmail
#               82 with the exact text on fd 6; nothing left in the queues
#   banned      each mail of attach/banned -> 31; under notqmail 82 with the
#               banned file's name in the text
#   clean       clamav_clean_* and attach/clean/* -> 0, committed, mess =
#               Received line + the mail byte for byte
#   tag         SLUICE_ON_VIRUS=tag and REJECTVIRUS=0: 0; X-QHPSI: Virus found,
#               X-Sluice-Verdict, X-Virus-Scanned right after the Received
#               line, the rest byte-identical; intd only u p F T; clean mail
#               untouched (also a 300 KB mail: the in-place shift in chunks);
#               SLUICE_TAG_CLEAN=1: X-QHPSI: clean on clean mail
#   quarantine  31 (THEN=reject, the default) or 0 (THEN=drop): one file in
#               quar/new = X-Sluice-Quarantine (queue, sender, verdict, name,
#               recipients) + the original mess bytes; one tab-separated
#               quarantine.log line naming that file; quar/tmp and the queues
#               empty; banned mail quarantined too (SLUICE_ON_BANNED); a
#               Maildir that breaks under the daemon -> 71, nothing kept
#   drop        SLUICE_ON_VIRUS=drop and REJECTVIRUS=2: 0, nothing queued
#   defer       SLUICE_ON_VIRUS=defer: 71; notqmail: 82 + "Z...(#4.7.1)"
#   reload      400 mails (200 clean, 200 EICAR, 8 sessions) while 5 reloads
#               of a synthetic 21k-signature DB run one after another
#               (SIGHUP, and "reload" on the stats socket): every clean mail
#               0, every EICAR 31, no scanner error; 5 "clamav reloaded"
#   sigterm     SIGTERM while a reload builds its engine: exit 0, the scanners
#               freed only after the reload thread is done with them
#   corrupt DB  a garbage line in the .ndb, SIGHUP: "reload of clamav
#               failed", the old engine still rejects EICAR; repaired, the
#               next reload succeeds
. "$(dirname "$0")/lib.sh"
lib_init

DATA=$SLUICE_SRC/tests/scan/data
[ -d "$DATA/attach/banned" ] || fail "no scan corpus under $DATA"
make_queues 2
# The timer reload stays off unless a test wants it: reloads happen when
# the test says so.
SCAN=(SLUICE_SCANNERS=clamav,attach "SLUICE_CLAMDB=$SLUICE_SRC/scan/db" SLUICE_RELOAD_CHECK=0)
EICAR=Sluice.Test.EICAR.UNOFFICIAL
VIRUS_TEXT="DYour email was rejected because it contains the $EICAR virus (#5.7.1)"
EICARS=(plain base64 qp zip rfc822)
CLEAN=$DATA/clamav_clean_plain.eml

# The name the attach scanner reports for each banned mail (non-ASCII bytes
# come out as '?'); tests/scan/test_scan_attach.c holds the same table.
declare -A BANNED=(
	[exe_plain]="setup.exe" [rfc2231_encoded]="invoice.exe"
	[rfc2231_continued]="Rechnung M??rz.exe" [rfc2231_nul]="notes.exe?.txt"
	[rfc2047_b]="??berweisung.exe" [rfc2047_q]="Rechnung_2024.scr"
	[uuencode]="payment.exe" [yenc]="update.exe" [zip_evil]="evil.exe"
	[zip_sniffed]="export/tool.js" [zip_unicode_path]="safe.vbs"
	[zip_corrupt_cdir]="evil.exe" [double_ext]="invoice.pdf.exe"
	[trailing_dot]="invoice.exe." [trailing_space]="invoice.exe "
	[upper_exe]="SETUP.EXE" [path_name]="../../run.cmd" [ctype_name_only]="setup.com"
	[no_semicolon]="receipt.pif" [nested_alternative]="report.bat"
	[rfc822_scr]="screensaver.scr" [same_boundary]="x.exe" [crlf_exe]="setup.exe"
	[unterminated_exe]="late.exe"
)

RECEIVED_RE='^Received: \(qmail [0-9]+ invoked (from network|by uid [0-9]+)\); [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} -0000$'

# rejected WHAT CODE TEXT QQSIM-ARGS... - exit CODE with TEXT; nothing queued
rejected() {
	local what=$1 code=$2 text=$3
	shift 3
	run_qq "$@"
	expect "$what" "$code" "$text"
	wait_queue_empty "$what"
}

# the_mess WHAT - exactly one committed message: sets TODO, MESS, Q, ID
the_mess() {
	[ "$(count todo)" = 1 ] || fail "$1: $(count todo) todo entries, want 1"
	TODO=$(todo_files)
	MESS=$(mess_of "$TODO")
	Q=${TODO%/todo/*}
	ID=${TODO##*/}
	[ -f "$MESS" ] || fail "$1: no mess file $MESS"
	check_queues >/dev/null || fail "$1: queue inconsistent"
}

# check_intd WHAT - intd holds u, p, F, then T records only
check_intd() {
	local types
	types=$(tr '\0' '\n' <"$Q/intd/$ID" | cut -c1 | tr -d '\n')
	[[ $types =~ ^upFT+$ ]] || fail "$1: intd record types '$types', want u p F T..."
}

# committed_as_is WHAT FILE QQSIM-ARGS... - 0; mess = Received + FILE exactly
committed_as_is() {
	local what=$1 file=$2
	shift 2
	run_qq -m "$file" "$@"
	expect "$what" 0
	the_mess "$what"
	[[ $(head -n 1 "$MESS") =~ $RECEIVED_RE ]] || fail "$what: first line is not qmail's Received line"
	tail -n +2 "$MESS" | cmp -s - "$file" || fail "$what: mess is not Received line + the mail"
	check_intd "$what"
	clear_queues
}

# committed_tagged WHAT FILE QHPSI VERDICT - 0; the three headers right after
# the Received line; the rest byte for byte the mail
committed_tagged() {
	local what=$1 file=$2 qhpsi=$3 verdict=$4 l
	run_qq -m "$file"
	expect "$what" 0
	the_mess "$what"
	[[ $(sed -n 1p "$MESS") =~ $RECEIVED_RE ]] || fail "$what: first line is not qmail's Received line"
	l=$(sed -n 2p "$MESS")
	[ "$l" = "X-QHPSI: $qhpsi" ] || fail "$what: line 2 '$l', want 'X-QHPSI: $qhpsi'"
	l=$(sed -n 3p "$MESS")
	[ "$l" = "X-Sluice-Verdict: $verdict" ] || fail "$what: line 3 '$l', want 'X-Sluice-Verdict: $verdict'"
	l=$(sed -n 4p "$MESS")
	[[ $l =~ ^X-Virus-Scanned:\ sluice\ [0-9.]+\ \(clamav\ [0-9.]+,\ attach\)$ ]] ||
		fail "$what: line 4 '$l' is not an X-Virus-Scanned header naming sluice and clamav"
	tail -n +5 "$MESS" | cmp -s - "$file" || fail "$what: the mail after the headers is not byte-identical"
	[ "$(stat -c %s "$MESS")" = $(($(head -n 4 "$MESS" | wc -c) + $(stat -c %s "$file"))) ] ||
		fail "$what: mess size is not Received + headers + mail"
	check_intd "$what"
	clear_queues
}

# ---------------------------------------------------------------------------
say "--- reject (SLUICE_CUSTOM_ERROR=none): EICAR and banned -> 31; clean -> 0"
daemon_start "${SCAN[@]}"
for e in "${EICARS[@]}"; do
	rejected "EICAR $e" 31 "" -m "$DATA/clamav_eicar_$e.eml" -e 6
	grep -q "verdict infected action reject exit 31 .* why clamav: $EICAR\$" "$DLOG" ||
		fail "EICAR $e: no log line naming $EICAR"
done
say "ok: EICAR plain, base64, qp, zip, rfc822 -> 31, nothing queued"
n=0
for f in "$DATA"/attach/banned/*.eml; do
	rejected "banned ${f##*/}" 31 "" -m "$f"
	n=$((n + 1))
done
[ "$n" -ge 20 ] || fail "only $n banned mails in the corpus"
say "ok: $n banned mails -> 31, nothing queued"
n=0
for f in "$DATA"/clamav_clean_*.eml "$DATA"/attach/clean/*.eml; do
	committed_as_is "clean ${f##*/}" "$f"
	n=$((n + 1))
done
[ "$n" -ge 15 ] || fail "only $n clean mails in the corpus"
say "ok: $n clean mails -> 0, committed byte for byte"
daemon_stop

say "--- reject, SLUICE_CUSTOM_ERROR=notqmail: 82 and the text on fd 6"
daemon_start "${SCAN[@]}" SLUICE_CUSTOM_ERROR=notqmail
for e in "${EICARS[@]}"; do
	rejected "notqmail EICAR $e" 82 "$VIRUS_TEXT" -m "$DATA/clamav_eicar_$e.eml" -e 6
done
rejected "notqmail EICAR, fd 6 not open" 31 "" -m "$DATA/clamav_eicar_zip.eml"
say "ok: EICAR -> 82 '$VIRUS_TEXT'"
for f in "$DATA"/attach/banned/*.eml; do
	b=${f##*/}
	b=${b%.eml}
	run_qq -m "$f" -e 6
	expect "notqmail banned $b" 82
	if [ -n "${BANNED[$b]+set}" ]; then
		want="DYour email was rejected because it contains a bad attachment: ${BANNED[$b]} (#5.7.1)"
		[ "$QQ_TEXT" = "$want" ] || fail "notqmail banned $b: text '$QQ_TEXT', want '$want'"
	else
		# a mail added to the corpus after this table: the form only
		[[ $QQ_TEXT == "DYour email was rejected because it contains a bad attachment: "*" (#5.7.1)" ]] ||
			fail "notqmail banned $b: text '$QQ_TEXT'"
		say "note: $b is not in the name table; text '$QQ_TEXT'"
	fi
	wait_queue_empty "notqmail banned $b"
done
say "ok: banned mails -> 82 with the file name in the text"
committed_as_is "notqmail clean" "$CLEAN" -e 6
[ -z "$QQ_TEXT" ] || fail "notqmail clean: text '$QQ_TEXT' on fd 6"
daemon_stop

# ---------------------------------------------------------------------------
say "--- tag: SLUICE_ON_VIRUS=tag"
daemon_start "${SCAN[@]}" SLUICE_ON_VIRUS=tag
for e in "${EICARS[@]}"; do
	committed_tagged "tag EICAR $e" "$DATA/clamav_eicar_$e.eml" "Virus found" "infected $EICAR"
done
grep -q "verdict infected action tag exit 0 " "$DLOG" || fail "tag: no 'action tag' in the log"
# 300 KB: the headers go in by moving the message in several 64 KB chunks
{
	cat "$DATA/clamav_eicar_plain.eml"
	for ((i = 0; i < 4000; i++)); do
		printf 'padding line %05d abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRS\n' "$i"
	done
} >"$WORK/big-eicar.eml"
committed_tagged "tag 300 KB EICAR" "$WORK/big-eicar.eml" "Virus found" "infected $EICAR"
committed_as_is "tag: clean mail untouched" "$CLEAN"
rejected "tag: banned still rejected (SLUICE_ON_BANNED=reject)" 31 "" \
	-m "$DATA/attach/banned/exe_plain.eml"
say "ok: EICAR tagged and committed; clean untouched; banned rejected"
daemon_stop

say "--- tag: REJECTVIRUS=0 (IndiMail: accept and tag)"
daemon_start "${SCAN[@]}" REJECTVIRUS=0
committed_tagged "REJECTVIRUS=0 EICAR" "$DATA/clamav_eicar_base64.eml" "Virus found" "infected $EICAR"
committed_as_is "REJECTVIRUS=0 clean" "$CLEAN"
daemon_stop

say "--- tag: SLUICE_TAG_CLEAN=1"
daemon_start "${SCAN[@]}" SLUICE_TAG_CLEAN=1
for f in "$CLEAN" "$DATA/clamav_clean_zip.eml" "$DATA/attach/clean/digest.eml"; do
	committed_tagged "tag clean ${f##*/}" "$f" "clean" "clean"
done
rejected "SLUICE_TAG_CLEAN=1: EICAR still rejected" 31 "" -m "$DATA/clamav_eicar_plain.eml"
say "ok: clean mail gets X-QHPSI: clean"
daemon_stop
daemon_start "${SCAN[@]}" SLUICE_TAG_CLEAN=1 SLUICE_ON_VIRUS=tag
committed_tagged "TAG_CLEAN + tag: EICAR" "$DATA/clamav_eicar_qp.eml" "Virus found" "infected $EICAR"
committed_tagged "TAG_CLEAN + tag: clean" "$CLEAN" "clean" "clean"
daemon_stop

# ---------------------------------------------------------------------------
# check_quarantine WHAT QUAR FILE VERDICT NAME - exactly one quarantined
# message, FILE's, with its header and log line; nothing in the queues
check_quarantine() {
	local what=$1 quar=$2 file=$3 verdict=$4 name=$5 qf hdr qn line now re
	local -a f
	wait_queue_empty "$what"
	[ "$(find "$quar/new" -type f | wc -l)" = 1 ] ||
		fail "$what: $(find "$quar/new" -type f | wc -l) files in quarantine new/, want 1"
	[ "$(find "$quar/tmp" "$quar/cur" -type f | wc -l)" = 0 ] || fail "$what: files left in tmp/ or cur/"
	qf=$(find "$quar/new" -type f)
	hdr=$(head -n 1 "$qf")
	re='^X-Sluice-Quarantine: queue=(queue[0-9]+); from=<sender@example\.org>; verdict='$verdict'; name=(.*); to=<a@example\.net>,<b@example\.net>$'
	[[ $hdr =~ $re ]] || fail "$what: quarantine header '$hdr'"
	qn=${BASH_REMATCH[1]}
	[ "${BASH_REMATCH[2]}" = "$name" ] || fail "$what: header names '${BASH_REMATCH[2]}', want '$name'"
	[[ $(sed -n 2p "$qf") =~ $RECEIVED_RE ]] || fail "$what: the Received line does not follow the header"
	tail -n +3 "$qf" | cmp -s - "$file" || fail "$what: the quarantined bytes are not the original mess"
	[ "$(wc -l <"$quar/quarantine.log")" = 1 ] || fail "$what: quarantine.log has $(wc -l <"$quar/quarantine.log") lines"
	line=$(cat "$quar/quarantine.log")
	IFS=$'\t' read -r -a f <<<"$line"
	[ "${#f[@]}" = 7 ] || fail "$what: quarantine.log line has ${#f[@]} fields: '$line'"
	now=$(date +%s)
	[[ ${f[0]} =~ ^[0-9]+$ ]] && [ $((now - f[0])) -lt 120 ] && [ $((f[0] - now)) -lt 5 ] ||
		fail "$what: log time '${f[0]}' is not now"
	[ "${f[1]}" = "$qn" ] || fail "$what: log queue '${f[1]}', header '$qn'"
	[ "${f[2]}" = "${qf##*/}" ] || fail "$what: log names file '${f[2]}', quarantined as '${qf##*/}'"
	[ "${f[3]}" = sender@example.org ] || fail "$what: log sender '${f[3]}'"
	[ "${f[4]}" = a@example.net,b@example.net ] || fail "$what: log recipients '${f[4]}'"
	[ "${f[5]}" = "$verdict" ] || fail "$what: log verdict '${f[5]}'"
	[ "${f[6]}" = "$name" ] || fail "$what: log name '${f[6]}'"
	grep -q "action quarantine .*quarantined as ${qf##*/}" "$DLOG" || fail "$what: the log line does not name ${qf##*/}"
}

QR=(-r a@example.net -r b@example.net)
say "--- quarantine, THEN=reject (default)"
daemon_start "${SCAN[@]}" SLUICE_ON_VIRUS=quarantine "SLUICE_QUARANTINE=$WORK/quar"
rejected "quarantine EICAR zip" 31 "" -m "$DATA/clamav_eicar_zip.eml" "${QR[@]}"
check_quarantine "quarantine EICAR zip" "$WORK/quar" "$DATA/clamav_eicar_zip.eml" infected "$EICAR"
committed_as_is "quarantine: clean mail committed" "$CLEAN" "${QR[@]}"
[ "$(find "$WORK/quar/new" -type f | wc -l)" = 1 ] || fail "a clean mail was quarantined"
say "ok: EICAR -> 31, quarantined whole, logged"
daemon_stop

say "--- quarantine, THEN=drop; banned too"
daemon_start "${SCAN[@]}" SLUICE_ON_VIRUS=quarantine SLUICE_ON_BANNED=quarantine \
	"SLUICE_QUARANTINE=$WORK/quar2" SLUICE_QUARANTINE_THEN=drop SLUICE_CUSTOM_ERROR=notqmail
rejected "quarantine+drop EICAR rfc822" 0 "" -m "$DATA/clamav_eicar_rfc822.eml" "${QR[@]}" -e 6
check_quarantine "quarantine+drop EICAR rfc822" "$WORK/quar2" "$DATA/clamav_eicar_rfc822.eml" \
	infected "$EICAR"
rm -f "$WORK"/quar2/new/* "$WORK/quar2/quarantine.log"
rejected "quarantine+drop banned" 0 "" -m "$DATA/attach/banned/double_ext.eml" "${QR[@]}" -e 6
check_quarantine "quarantine+drop banned" "$WORK/quar2" "$DATA/attach/banned/double_ext.eml" \
	banned invoice.pdf.exe
say "ok: quarantined and answered 0 with nothing queued"
daemon_stop
say "--- quarantine, THEN=reject with notqmail: the reject text"
daemon_start "${SCAN[@]}" SLUICE_ON_VIRUS=quarantine "SLUICE_QUARANTINE=$WORK/quar3" \
	SLUICE_CUSTOM_ERROR=notqmail
rejected "quarantine notqmail" 82 "$VIRUS_TEXT" -m "$DATA/clamav_eicar_plain.eml" "${QR[@]}" -e 6
check_quarantine "quarantine notqmail" "$WORK/quar3" "$DATA/clamav_eicar_plain.eml" infected "$EICAR"
# the Maildir broken under the running daemon: deferred, never committed
rm -rf "$WORK/quar3/new"
rejected "quarantine into a broken Maildir" 82 "ZMessage could not be quarantined, try again later (#4.3.0)" -m "$DATA/clamav_eicar_plain.eml" "${QR[@]}" -e 6
[ "$(find "$WORK/quar3/tmp" -type f | wc -l)" = 0 ] || fail "a failed quarantine left its file in tmp/"
grep -q 'verdict quarantine-failed .*exit 71/82 ' "$DLOG" || fail "no quarantine-failed line in the log"
say "ok: a failed quarantine -> 71, nothing queued, nothing left in tmp/"
daemon_stop

# ---------------------------------------------------------------------------
say "--- drop: SLUICE_ON_VIRUS=drop, REJECTVIRUS=2"
for how in SLUICE_ON_VIRUS=drop REJECTVIRUS=2; do
	daemon_start "${SCAN[@]}" "$how" SLUICE_CUSTOM_ERROR=notqmail
	for e in plain zip; do
		rejected "$how EICAR $e" 0 "" -m "$DATA/clamav_eicar_$e.eml" -e 6
	done
	grep -q "verdict infected action drop exit 0 " "$DLOG" || fail "$how: no 'action drop' in the log"
	[ "$(stat_get dropped)" = 2 ] || fail "$how: stats say dropped $(stat_get dropped), want 2"
	committed_as_is "$how clean" "$CLEAN"
	rejected "$how banned still rejected" 82 \
		"DYour email was rejected because it contains a bad attachment: setup.exe (#5.7.1)" \
		-m "$DATA/attach/banned/exe_plain.eml" -e 6
	daemon_stop
done
say "ok: dropped with 0, nothing queued"

say "--- defer: SLUICE_ON_VIRUS=defer"
daemon_start "${SCAN[@]}" SLUICE_ON_VIRUS=defer
rejected "defer EICAR" 71 "" -m "$DATA/clamav_eicar_base64.eml" -e 6
committed_as_is "defer: clean" "$CLEAN"
daemon_stop
daemon_start "${SCAN[@]}" SLUICE_ON_VIRUS=defer SLUICE_CUSTOM_ERROR=notqmail
rejected "defer EICAR, notqmail" 82 \
	"ZYour email was rejected because it contains the $EICAR virus (#4.7.1)" \
	-m "$DATA/clamav_eicar_qp.eml" -e 6
rejected "defer EICAR, notqmail, fd 6 not open" 71 "" -m "$DATA/clamav_eicar_qp.eml"
say "ok: deferred with 71 (82 + Z text under notqmail)"
daemon_stop

# ---------------------------------------------------------------------------
# stats_reload - "reload" on the stats socket, the writing side shut down;
# perl (core IO::Socket::UNIX) because bash has no unix sockets and perl is
# already what check_queues.pl needs
stats_reload() {
	perl -MIO::Socket::UNIX -MSocket -e '
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ARGV[0])
			or die "connect $ARGV[0]: $!\n";
		print $s "reload";
		shutdown($s, 1);
		local $/;
		my $r = <$s>;
		print defined $r ? $r : "";' "$SOCK.stats"
}

msgs_logged() { grep -c '^msg ' "$DLOG" || true; }
reloads_done() { grep -c -e '^sluiced: clamav reloaded' -e 'reload of clamav failed' "$DLOG" || true; }

say "--- reload under load: 200 clean + 200 EICAR, 8 sessions, 5 reloads"
# A synthetic DB (EICAR + 20k hash + 1k body signatures) so that each reload
# takes long enough (a few hundred ms) for many scans to run beside it on the
# old engine.  Each sender pauses 40 ms inside every message (qqsim -w) so
# that the load outlasts the five reloads, one after another, on any machine.
"$SLUICE_BIN/scan/sluice-sigdb" -o "$WORK/bigdb" -H 20000 -B 1000 >/dev/null ||
	fail "sluice-sigdb could not write a synthetic DB"
daemon_start SLUICE_SCANNERS=clamav,attach "SLUICE_CLAMDB=$WORK/bigdb" SLUICE_RELOAD_CHECK=0 \
	SLUICE_WORKERS=4
env SLUICE_SOCKET="$SOCK" timeout -k 5 300 "$QQSIM" -p "$SQ" -m "$CLEAN" -n 200 -k 4 -w 40 \
	>"$WORK/load-clean" 2>"$WORK/load-clean.err" &
pc=$!
track "$pc"
env SLUICE_SOCKET="$SOCK" timeout -k 5 300 "$QQSIM" -p "$SQ" -m "$DATA/clamav_eicar_zip.eml" \
	-n 200 -k 4 -w 40 >"$WORK/load-eicar" 2>"$WORK/load-eicar.err" &
pe=$!
track "$pe"
during=0
at=""
took=""
for i in 1 2 3 4 5; do
	# spread the reloads over the run: the i-th after i*50 answers
	# (wait_until has its own $i: the target goes in by value)
	target=$((i * 50))
	wait_until 120 "$target messages answered" eval '[ "$(msgs_logged)" -ge $target ]'
	if kill -0 "$pc" 2>/dev/null || kill -0 "$pe" 2>/dev/null; then
		during=$((during + 1))
	fi
	at="$at $(msgs_logged)"
	if [ $((i % 2)) = 1 ]; then
		kill -HUP "$DPID"
	else
		r=$(stats_reload) || fail "reload on the stats socket failed"
		[ "$r" = reloading ] || fail "stats socket answered '$r' to reload, want 'reloading'"
	fi
	# one reload at a time: the next one only after this one finished
	target=$i
	t0=$(now_ms)
	wait_until 60 "reload $i to finish" eval '[ "$(reloads_done)" -ge $target ]'
	took="$took $(($(now_ms) - t0))"
done
rc=0
wait "$pc" || rc=$?
[ "$rc" = 0 ] || fail "clean load: qqsim exited $rc: $(cat "$WORK/load-clean")"
wait "$pe" || true	# exits 1: not every message was accepted
ce=$(grep '^msgs=' "$WORK/load-clean") || fail "clean load: no summary"
ee=$(grep '^msgs=' "$WORK/load-eicar") || fail "EICAR load: no summary"
[ "${ce##*exits=}" = "0:200," ] || fail "clean mails during reloads: exits ${ce##*exits=}, want 0:200,"
[ "${ee##*exits=}" = "31:200," ] || fail "EICAR mails during reloads: exits ${ee##*exits=}, want 31:200,"
n=$(grep -c '^sluiced: clamav reloaded' "$DLOG" || true)
[ "$n" = 5 ] || fail "$n 'clamav reloaded' lines, want 5"
! grep -q 'reload of clamav failed' "$DLOG" || fail "a reload failed"
! grep -q 'verdict error\|verdict scan-timeout' "$DLOG" || fail "a scan failed during the reloads"
[ "$(stat_get verdict_error)" = 0 ] || fail "stats: verdict_error $(stat_get verdict_error)"
[ "$(grep -c '^msg .* verdict clean action commit exit 0 ' "$DLOG")" = 200 ] ||
	fail "not 200 clean commits in the log"
[ "$(grep -c '^msg .* verdict infected action reject exit 31 ' "$DLOG")" = 200 ] ||
	fail "not 200 infected rejections in the log"
[ "$during" = 5 ] || fail "only $during of the 5 reloads started while mail was flowing"
[ "$(count todo)" = 200 ] || fail "$(count todo) messages committed, want 200"
check_queues >/dev/null || fail "queues inconsistent after the reloads"
say "ok: 400 mails, 5 reloads (after$at answers, taking$took ms; $during during the load):"
say "ok: clean 0:200, EICAR 31:200, no scan failed"
daemon_stop
clear_queues

say "--- SIGTERM while a reload builds its engine"
daemon_start SLUICE_SCANNERS=clamav,attach "SLUICE_CLAMDB=$WORK/bigdb" SLUICE_RELOAD_CHECK=0
kill -HUP "$DPID"
wait_until 10 "the reload to start" grep -q '^sluiced: SIGHUP: reloading scanners' "$DLOG"
# daemon_stop: exit 0 and "stopped"; the scanners are freed only after the
# reload thread is done with them (a sanitizer build reports otherwise)
daemon_stop
! grep -q 'ERROR: AddressSanitizer\|runtime error' "$DLOG" || fail "sanitizer report at shutdown: $(grep -m1 -A3 ERROR "$DLOG")"
say "ok: SIGTERM during a reload exits 0 cleanly"

# ---------------------------------------------------------------------------
say "--- corrupt DB on reload: the old engine serves"
cp -r "$SLUICE_SRC/scan/db" "$WORK/db"
daemon_start SLUICE_SCANNERS=clamav,attach "SLUICE_CLAMDB=$WORK/db" SLUICE_RELOAD_CHECK=0
rejected "EICAR before the reload" 31 "" -m "$DATA/clamav_eicar_plain.eml"
cp "$WORK/db/sluice-eicar.ndb" "$WORK/ndb.good"
echo 'this line is no signature at all' >>"$WORK/db/sluice-eicar.ndb"
kill -HUP "$DPID"
wait_until 30 "the reload failure in the log" grep -q 'reload of clamav failed, the old one serves' "$DLOG"
! grep -q '^sluiced: clamav reloaded' "$DLOG" || fail "a corrupt DB was reported as reloaded"
daemon_running || fail "sluiced died on a corrupt DB"
for e in plain zip rfc822; do
	rejected "EICAR $e after the failed reload" 31 "" -m "$DATA/clamav_eicar_$e.eml"
done
committed_as_is "clean after the failed reload" "$CLEAN"
[ "$(stat_get clamav_reload_failures)" = 1 ] ||
	fail "stats: clamav_reload_failures $(stat_get clamav_reload_failures), want 1"
say "ok: reload failed, logged; the old engine still rejects EICAR"
cp "$WORK/ndb.good" "$WORK/db/sluice-eicar.ndb"
stats_reload >/dev/null || fail "reload on the stats socket failed"
wait_until 30 "the repaired DB to load" grep -q '^sluiced: clamav reloaded' "$DLOG"
rejected "EICAR after the repaired reload" 31 "" -m "$DATA/clamav_eicar_base64.eml"
say "ok: repaired DB reloaded"
daemon_stop

say "ok"
