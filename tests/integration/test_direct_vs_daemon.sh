#!/bin/bash
# test_direct_vs_daemon.sh - direct mode and the daemon write the same bytes.
#
# The same message and envelope go once through sluice-queue in direct mode
# (SLUICE_MODE=direct: sluice-queue does qmail-queue's job itself) and once
# through sluiced.  The mess and intd files must be byte-identical once the
# Received line's pid and date and intd's p record are normalised (each
# checked first: the Received pid equals the p record).  Also equal: file
# modes and owners.  Cases: a plain text message with 3 recipients; 300 KB
# of binary data with CRLF, NULs and no final newline; an empty message; a
# bounce (empty sender); 60 recipients; an s/qmail Q record (not copied to
# intd).  The mess file must also be the Received line + the input exactly.
#
# Then the same answers: a QHPSI scanner (a script: exit 1 for a virus, 7 for
# a failure, 0 for clean) run by direct mode and by the daemon's exec backend
# (SLUICE_SCANNERS=exec), under every custom-error convention (none,
# notqmail, simscan, indimail) and REJECTVIRUS 0, 1 and 2: the same exit code
# and the same text for clean, infected and failing scans, and for a tagged
# message (REJECTVIRUS=0) the same committed bytes after the Received line.
. "$(dirname "$0")/lib.sh"
lib_init

make_queues 1
M=$WORK/msgs
O=$WORK/out
mkdir "$M" "$O"
mkmsg "$M/text.eml"
{
	printf 'From: a@example.org\r\nSubject: binary\r\n\r\n'
	head -c 300000 /dev/urandom
	printf 'tail\0with NUL and no final newline'
} >"$M/binary.eml"
: >"$M/empty.eml"
printf 'Fsender@example.org\0Trcpt@example.net\0Qnoscan\0\0' >"$WORK/q.env"
rcpts=()
for i in $(seq 1 60); do rcpts+=(-r "user$i@example.net"); done

daemon_start

# capture MODE CASE - the one queued message's mess and intd into OUT,
# checked and normalised, then the queue emptied
capture() {
	local todo mess id q recv rpid ppid
	[ "$(count todo)" = 1 ] || fail "$2 ($1): $(count todo) messages queued, want 1"
	todo=$(todo_files)
	id=${todo##*/}
	q=${todo%/todo/*}
	mess=$(mess_of "$todo")
	recv=$(head -n 1 "$mess")
	[[ $recv =~ ^Received:\ \(qmail\ ([0-9]+)\ invoked\ [a-z0-9\ ]+\)\;\ [0-9]{1,2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9:]{8}\ -0000$ ]] ||
		fail "$2 ($1): not a Received line: '$recv'"
	rpid=${BASH_REMATCH[1]}
	ppid=$(tr '\0' '\n' <"$q/intd/$id" | sed -n 's/^p//p')
	[ "$rpid" = "$ppid" ] || fail "$2 ($1): Received line pid $rpid, intd p$ppid"
	tail -c +$((${#recv} + 2)) "$mess" | cmp -s - "$CUR_MSG" ||
		fail "$2 ($1): mess is not the Received line + the message"
	{
		head -n 1 "$mess" | sed -E 's/^(Received: \(qmail )[0-9]+( invoked [a-z0-9 ]+\); ).*$/\1PID\2DATE/'
		tail -c +$((${#recv} + 2)) "$mess"
	} >"$O/$2.$1.mess"
	perl -pe 's/^u(\d+)\0p\d+\0/u$1\0pPID\0/' "$q/intd/$id" >"$O/$2.$1.intd"
	stat -c '%a %U %G' "$mess" >"$O/$2.$1.mode"
	stat -c '%a %U %G' "$q/intd/$id" >>"$O/$2.$1.mode"
	check_queues >/dev/null || fail "$2 ($1): queue inconsistent"
	clear_queues
}

# same CASE MSG QQSIM-ARGS... - through both paths, then compare
same() {
	local c=$1 f
	CUR_MSG=$2
	shift 2
	run_qq SLUICE_MODE=direct -m "$CUR_MSG" "$@"
	expect "$c (direct)" 0
	capture direct "$c"
	run_qq -m "$CUR_MSG" "$@"
	expect "$c (daemon)" 0
	capture daemon "$c"
	for f in mess intd mode; do
		cmp -s "$O/$c.direct.$f" "$O/$c.daemon.$f" ||
			fail "$c: $f differs between direct mode and the daemon: $(cmp "$O/$c.direct.$f" "$O/$c.daemon.$f" 2>&1)"
	done
	say "ok: $c: same mess ($(stat -c %s "$O/$c.daemon.mess") bytes), intd and modes ($(head -n 1 "$O/$c.daemon.mode"))"
}

same text "$M/text.eml" -f sender@example.org -r a@example.net -r b@example.net -r c@example.net
same binary "$M/binary.eml" -f sender@example.org -r rcpt@example.net
same empty "$M/empty.eml" -f sender@example.org -r rcpt@example.net
same bounce "$M/text.eml" -f "" -r postmaster@example.net
same many-rcpts "$M/text.eml" -f sender@example.org "${rcpts[@]}"
same q-record "$M/text.eml" -E "$WORK/q.env"
grep -q "Tuser60@example.net" "$O/many-rcpts.daemon.intd" || fail "60th recipient missing"
if grep -q 'Q' <(tr '\0' '\n' <"$O/q-record.daemon.intd" | cut -c1); then
	fail "Q record copied to intd"
fi
daemon_stop

cat >"$WORK/qhpsi" <<'EOT'
#!/bin/sh
for f; do :; done
grep -q 'PARITY-VIRUS' "$f" && exit 1
grep -q 'PARITY-FAIL' "$f" && exit 7
exit 0
EOT
chmod +x "$WORK/qhpsi"
mkmsg "$M/p-clean.eml"
mkmsg "$M/p-virus.eml" "X-Payload: PARITY-VIRUS"
mkmsg "$M/p-fail.eml" "X-Payload: PARITY-FAIL"
# fd - the custom-error fd of a convention
fd() { case $1 in notqmail) echo 6 ;; simscan) echo 4 ;; indimail) echo 2 ;; *) echo 6 ;; esac; }
n=0
for conv in none notqmail simscan indimail; do
	for rv in 1 2 0; do
		S=(QHPSI="$WORK/qhpsi" REJECTVIRUS=$rv SLUICE_CUSTOM_ERROR=$conv)
		daemon_start SLUICE_SCANNERS=exec "${S[@]}"
		for kind in clean virus fail; do
			run_qq SLUICE_MODE=direct "${S[@]}" -m "$M/p-$kind.eml" -e "$(fd $conv)"
			d_rc=$QQ_RC d_text=$QQ_TEXT d_queued=$(count todo)
			if [ "$d_queued" = 1 ]; then
				tail -n +2 "$(mess_of "$(todo_files)")" >"$O/p.direct"
				[ "$kind" != virus ] || cp "$O/p.direct" "$O/p.tagged"
				clear_queues
			fi
			run_qq -m "$M/p-$kind.eml" -e "$(fd $conv)"
			[ "$QQ_RC" = "$d_rc" ] && [ "$QQ_TEXT" = "$d_text" ] ||
				fail "$conv REJECTVIRUS=$rv $kind: direct exit $d_rc '$d_text', daemon exit $QQ_RC '$QQ_TEXT'"
			wait_idle
			[ "$(count todo)" = "$d_queued" ] ||
				fail "$conv REJECTVIRUS=$rv $kind: direct mode queued $d_queued, the daemon $(count todo)"
			if [ "$d_queued" = 1 ]; then
				tail -n +2 "$(mess_of "$(todo_files)")" | cmp -s - "$O/p.direct" ||
					fail "$conv REJECTVIRUS=$rv $kind: committed bytes differ: $(tail -n +2 "$(mess_of "$(todo_files)")" | diff - "$O/p.direct" | head -5)"
				clear_queues
			fi
			n=$((n + 1))
		done
		daemon_stop
	done
done
grep -q 'X-QHPSI: Virus found' "$O/p.tagged" || fail "REJECTVIRUS=0 did not tag the infected message"
say "ok: $n cases, direct mode and the daemon answer alike (exit codes, texts, tagged bytes)"
say "ok"
