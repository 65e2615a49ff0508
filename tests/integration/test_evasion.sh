#!/bin/bash
# test_evasion.sh - the evasion corpus end to end: the real sluiced with the
# real scanners (SLUICE_SCANNERS=clamav,attach, libclamav with the shipped
# DB, the banned list applied by both), the real sluice-queue driven by
# qqsim as qmail-smtpd drives QMAILQUEUE.  The corpus is written now by
# tests/scan/evasion/mkevasion.py (each class of evasion in several
# variants, clean look-alikes; its MANIFEST says what each must end in).
#
#   default     banned and limit -> 31, nothing queued, a log line naming
#               the verdict and its reason; clean -> 0, committed
#   notqmail    SLUICE_CUSTOM_ERROR=notqmail: 82 and on fd 6 "DYour email
#               was rejected because it contains a bad attachment: <name>
#               (#5.7.1)" or "... could not be scanned: <reason> (#5.7.1)"
#   on_limit    SLUICE_ON_LIMIT=defer: every limit message 71, nothing
#               queued; SLUICE_ON_LIMIT=accept: committed (0); banned mail
#               still 31 under both
#   counters    verdict_limit and the scanners' banned/limit counters count
#   encrypted   SLUICE_ENCRYPTED=limit: encrypted archives -> 31 (limit);
#               the default lets those without a banned name through
. "$(dirname "$0")/lib.sh"
lib_init

command -v python3 >/dev/null || skip "no python3 to write the corpus"
EV=$WORK/evasion
python3 "$SLUICE_SRC/tests/scan/evasion/mkevasion.py" "$EV" || fail "mkevasion.py failed"
grep -q . "$EV/MANIFEST" || fail "empty MANIFEST"
# a program the corpus needs and does not find leaves its cases out: never a pass
if grep -h '^# missing' "$EV/MANIFEST" "$EV/ENCRYPTED"; then
	fail "mkevasion.py could not write every case (services/install-deps installs the programs)"
fi
make_queues 2
SCAN=(SLUICE_SCANNERS=clamav,attach "SLUICE_CLAMDB=$SLUICE_SRC/scan/db" SLUICE_RELOAD_CHECK=0)

# the corpus: NAME MERGED (walker and clamav verdicts are the unit test's)
mapfile -t CASES < <(grep -v '^#' "$EV/MANIFEST" | awk '{print $1, $2}')
nb=0 nl=0 nc=0
for c in "${CASES[@]}"; do
	case ${c#* } in banned) nb=$((nb + 1)) ;; limit) nl=$((nl + 1)) ;; clean) nc=$((nc + 1)) ;; esac
done
say "corpus: ${#CASES[@]} messages: $nb banned, $nl limit, $nc clean"
[ "$nb" -ge 50 ] && [ "$nl" -ge 10 ] && [ "$nc" -ge 8 ] || fail "corpus too small"

# ---------------------------------------------------------------------------
say "--- default: banned and limit -> 31, clean -> 0"
daemon_start "${SCAN[@]}"
for c in "${CASES[@]}"; do
	name=${c% *} want=${c#* }
	run_qq -m "$EV/$name.eml"
	case $want in
	banned | limit)
		expect "$name" 31
		wait_queue_empty "$name"
		grep -q "verdict $want action reject exit 31 .* why [a-z]*: ." "$DLOG" ||
			fail "$name: no log line 'verdict $want ... why <scanner>: <reason>'"
		;;
	clean)
		expect "$name" 0
		[ "$(count todo)" = 1 ] || fail "$name: $(count todo) todo entries, want 1"
		clear_queues
		;;
	esac
done
wait_idle
lim=$(stat_get verdict_limit)
[ "$lim" = "$nl" ] || fail "verdict_limit is '$lim', want $nl"
for k in attach_limits clamav_limits attach_banned clamav_banned; do
	v=$(stat_get "$k")
	[ -n "$v" ] && [ "$v" -gt 0 ] || fail "$k is '$v', want > 0"
done
# the nesting limit is logged with its reason, whichever scanner said it first
grep -Eq 'verdict limit action reject exit 31 .* why (attach: MIME structure too deep: more than 18 nested multiparts|clamav: MIME or archive nesting too deep \(Heuristics\.Limits\.Exceeded\.MaxRecursion\))$' "$DLOG" ||
	fail "no log line for the nesting limit"
grep -Eq 'verdict limit action reject exit 31 .* why (attach: zip attachment docs.zip: no central directory|clamav: ZIP archive docs.zip could not be opened)$' "$DLOG" ||
	fail "no log line for the truncated zip"
daemon_stop
say "ok: $nb banned and $nl limit -> 31 with nothing queued, $nc clean -> 0; verdict_limit $lim"

# ---------------------------------------------------------------------------
say "--- SLUICE_CUSTOM_ERROR=notqmail: 82 and the reason on fd 6"
daemon_start "${SCAN[@]}" SLUICE_CUSTOM_ERROR=notqmail
for c in "${CASES[@]}"; do
	name=${c% *} want=${c#* }
	[ "$want" = clean ] && continue
	run_qq -m "$EV/$name.eml" -e 6
	expect "$name" 82
	case $want in
	banned) re='^DYour email was rejected because it contains a bad attachment: .+ \(#5\.7\.1\)$' ;;
	limit) re='^DYour email was rejected because it could not be scanned: .+ \(#5\.7\.1\)$' ;;
	esac
	[[ $QQ_TEXT =~ $re ]] || fail "$name: text '$QQ_TEXT' does not match $re"
	wait_queue_empty "$name"
done
run_qq -m "$EV/long_ctype_middle.eml" -e 6
expect "long_ctype_middle" 82 \
	"DYour email was rejected because it could not be scanned: MIME header field longer than 16384 bytes (#5.7.1)"
run_qq -m "$EV/tnef_title.eml" -e 6
expect "tnef_title" 82 "DYour email was rejected because it contains a bad attachment: invoice.exe (#5.7.1)"
# the containers libclamav lists, BinHex read by the walker, a rar nobody can list
for c in cab_exe:evil.exe iso_exe:evil.exe iso_rr_only:evil.exe arj_exe:evil.exe cpio_newc_exe:evil.exe lzh_exe:evil.exe \
	zip_in_iso:evil.exe zip_in_cab:evil.exe binhex_part:evil.exe binhex_b64_text:tool.exe; do
	run_qq -m "$EV/${c%%:*}.eml" -e 6
	expect "${c%%:*}" 82 "DYour email was rejected because it contains a bad attachment: ${c#*:} (#5.7.1)"
done
run_qq -m "$EV/rar_exe.eml" -e 6
expect "rar_exe" 82 "DYour email was rejected because it could not be scanned: RAR archive docs.rar could not be opened (#5.7.1)"
run_qq -m "$EV/udf_only.eml" -e 6
expect "udf_only" 82 "DYour email was rejected because it could not be scanned: UDF archive docs.iso names not checked (#5.7.1)"
run_qq -m "$EV/binhex_cut.eml" -e 6
expect "binhex_cut" 82 "DYour email was rejected because it could not be scanned: BinHex file cut before its name (#5.7.1)"
wait_queue_empty "notqmail"
daemon_stop
say "ok: every banned and limit message -> 82 with its reason on fd 6"

# ---------------------------------------------------------------------------
say "--- SLUICE_ON_LIMIT=defer: limit -> 71; banned still 31"
daemon_start "${SCAN[@]}" SLUICE_ON_LIMIT=defer
for c in "${CASES[@]}"; do
	name=${c% *} want=${c#* }
	case $want in
	limit)
		run_qq -m "$EV/$name.eml"
		expect "$name" 71
		wait_queue_empty "$name"
		;;
	esac
done
if [ -f "$EV/sevenz_plain.eml" ]; then
	run_qq -m "$EV/sevenz_plain.eml"
	expect "7z under defer" 31
fi
run_qq -m "$EV/gzip_name.eml"
expect "gzip under defer" 31
wait_queue_empty "defer"
daemon_stop
say "ok: $nl limit messages -> 71, nothing queued"

say "--- SLUICE_ON_LIMIT=accept: limit -> 0, committed"
daemon_start "${SCAN[@]}" SLUICE_ON_LIMIT=accept
for c in "${CASES[@]}"; do
	name=${c% *} want=${c#* }
	[ "$want" = limit ] || continue
	run_qq -m "$EV/$name.eml"
	expect "$name" 0
	[ "$(count todo)" = 1 ] || fail "$name: $(count todo) todo entries, want 1"
	clear_queues
done
run_qq -m "$EV/tar_gz.eml"
expect "tar.gz under accept" 31
wait_queue_empty "accept"
daemon_stop
say "ok: $nl limit messages accepted and committed; banned still 31"

# ---------------------------------------------------------------------------
if grep -q '^enc_' "$EV/ENCRYPTED"; then
	say "--- SLUICE_ENCRYPTED=limit: archives nobody can open -> 31"
	daemon_start "${SCAN[@]}" SLUICE_ENCRYPTED=limit SLUICE_CUSTOM_ERROR=notqmail
	while read -r name plain limit what; do
		[ "${name:0:1}" = "#" ] && continue
		run_qq -m "$EV/$name.eml" -e 6
		expect "$name" 82
		case $limit in
		limit) [[ $QQ_TEXT == "DYour email was rejected because it could not be scanned: encrypted, cannot be opened ("* ]] ||
			fail "$name: text '$QQ_TEXT'" ;;
		banned) [[ $QQ_TEXT == "DYour email was rejected because it contains a bad attachment: "* ]] ||
			fail "$name: text '$QQ_TEXT'" ;;
		esac
		wait_queue_empty "$name"
	done <"$EV/ENCRYPTED"
	daemon_stop
	daemon_start "${SCAN[@]}"
	while read -r name plain limit what; do
		[ "${name:0:1}" = "#" ] && continue
		run_qq -m "$EV/$name.eml"
		if [ "$plain" = clean ]; then
			expect "$name (pass)" 0
			clear_queues
		else
			expect "$name (pass)" 31
			wait_queue_empty "$name"
		fi
	done <"$EV/ENCRYPTED"
	daemon_stop
	say "ok: encrypted archives -> limit under SLUICE_ENCRYPTED=limit; pass lets them through unless a name is banned"
else
	say "no 7z program: encrypted archives not tested"
fi
say "PASS"
