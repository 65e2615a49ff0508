#!/bin/bash
# test_exit_paths.sh - every exit code of sluice-queue, with the real sluiced
# and the real sluice-queue driven by qqsim exactly as qmail-smtpd drives
# QMAILQUEUE (message on fd 0, envelope on fd 1, custom-error pipe on fd N).
#
#   0   committed: one todo entry; mess = Received line + the message, byte
#       for byte; intd = u<uid>\0p<pid>\0F..\0T..\0 where pid is sluice-queue's
#       (recorded by a wrapper that execs it) and the Received line's
#   11  1003-byte sender or recipient (1002 bytes still pass)
#   54  envelope cut short (qqsim -a, qmail-smtpd's cancel)
#   91  first record not F; later record not T
#   31  virus / banned / spam under SLUICE_CUSTOM_ERROR=none (nothing on fd 6)
#   82  text on fd 6 (notqmail) / fd 4 (simscan); 88 text on ERROR_FD (indimail,
#       fd 2 and ERROR_FD=5): exact "D...(#5.7.1)" text; plain 31 when the
#       convention's fd is not open; "Z..." + 71 for a deferral; CR and
#       control characters in a virus name are sanitised out
#   71  scanner error; scanner hang past SLUICE_SCAN_TIMEOUT=1 (within 3 s);
#       no daemon (socket missing, or stale) within 2 s
#   0   SLUICE_ON_ERROR=accept; REJECTVIRUS=2 (dropped: nothing queued);
#       REJECTVIRUS=0 (accepted, tagged X-QHPSI); SLUICE_FALLBACK=direct without a daemon;
#       s/qmail's Q record (not scanned; no Q in intd)
#   sluice-queue killed mid-message: the daemon drops the message
#   direct mode (SLUICE_MODE=direct, QHPSI=true/false as the scanner): 0, 11,
#       54, 91, 31, 71, REJECTVIRUS=2, and 82/88 on the right fd or plain 31
# Every rejected, deferred or dropped message leaves nothing in mess/, intd/,
# todo/ or pid/.
. "$(dirname "$0")/lib.sh"
lib_init

make_queues 2
M=$WORK/msgs
mkdir "$M"
mkmsg "$M/clean.eml"
mkmsg "$M/virus.eml" "X-Sluice-Test: virus Sluice.Test.EICAR"
mkmsg "$M/banned.eml" "X-Sluice-Test: banned evil.exe"
mkmsg "$M/spam.eml" "X-Sluice-Test: spam 15 5"
mkmsg "$M/error.eml" "X-Sluice-Test: error scanner on fire"
mkmsg "$M/hang.eml" "X-Sluice-Test: hang"
# a virus name with CR and TAB inside (the marker line ends at LF only)
mkmsg "$M/crlf.eml" $'X-Sluice-Test: virus Evil\r250 ok injected\tname'
mkmsg "$M/long.eml" "X-Sluice-Test: virus $(printf 'V%.0s' $(seq 1 400))"

VIRUS_TEXT="DYour email was rejected because it contains the Sluice.Test.EICAR virus (#5.7.1)"
BANNED_TEXT="DYour email was rejected because it contains a bad attachment: evil.exe (#5.7.1)"
SPAM_TEXT="DYour email is considered spam (15.00 spam-hits) (#5.7.1)"
ERROR_TEXT="ZMessage could not be scanned, try again later (#4.3.0)"

# rejected WHAT CODE TEXT QQSIM-ARGS... - exit CODE with TEXT, nothing queued
rejected() {
	local what=$1 code=$2 text=$3
	shift 3
	run_qq "$@"
	expect "$what" "$code" "$text"
	assert_queue_empty "$what"
	say "ok: $what -> exit $code${text:+ text '$text'}"
}

# committed WHAT QQSIM-ARGS... - exit 0 and exactly one whole message queued;
# the queues are emptied afterwards
committed() {
	local what=$1 out
	shift
	run_qq "$@"
	expect "$what" 0
	[ "$(count todo)" = 1 ] || fail "$what: $(count todo) todo entries, want 1"
	out=$(check_queues) || fail "$what: queue inconsistent"
	clear_queues
	say "ok: $what -> exit 0, committed"
}

say "--- daemon with the test scanner, SLUICE_CUSTOM_ERROR=none"
daemon_start SLUICE_SCANNERS=test SLUICE_SCAN_TIMEOUT=1

say "exit 0: committed bytes of mess and intd"
cat >"$WORK/sq-pid" <<EOF
#!/bin/sh
echo \$\$ >"$WORK/sq.pid"
exec "$SQ"
EOF
chmod +x "$WORK/sq-pid"
QQ_PROG=$WORK/sq-pid run_qq -m "$M/clean.eml" -f sender@example.org -r a@example.net -r b@example.net
expect "clean message" 0 ""
[ "$(count todo)" = 1 ] || fail "clean message: $(count todo) todo entries, want 1"
[ "$(count mess)" = 1 ] || fail "clean message: $(count mess) mess files, want 1"
[ "$(count pid)" = 0 ] || fail "clean message: marker left in pid/"
todo=$(todo_files)
id=${todo##*/}
q=${todo%/todo/*}
mess=$(mess_of "$todo")
[ -f "$mess" ] || fail "clean message: no mess file $mess"
sqpid=$(cat "$WORK/sq.pid")
recv=$(head -n 1 "$mess")
[[ $recv =~ ^Received:\ \(qmail\ ([0-9]+)\ invoked\ (from\ network|by\ uid\ [0-9]+)\)\;\ [0-9]{1,2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9:]{8}\ -0000$ ]] ||
	fail "clean message: first line of mess is not qmail's Received line: '$recv'"
rpid=${BASH_REMATCH[1]}
[ "$rpid" = "$sqpid" ] || fail "Received line names pid $rpid, sluice-queue ran as $sqpid"
tail -n +2 "$mess" | cmp -s - "$M/clean.eml" ||
	fail "mess file is not the Received line + the message byte for byte"
[ "$(stat -c %s "$mess")" = $(($(stat -c %s "$M/clean.eml") + ${#recv} + 1)) ] ||
	fail "mess file size is not Received line + message"
printf 'u%s\0p%s\0Fsender@example.org\0Ta@example.net\0Tb@example.net\0' "$(id -u)" "$sqpid" \
	>"$WORK/intd.want"
cmp -s "$WORK/intd.want" "$q/intd/$id" ||
	fail "intd/$id: $(od -c "$q/intd/$id" | head -5), want $(od -c "$WORK/intd.want" | head -5)"
[ "$(stat -c %i "$q/intd/$id")" = "$(stat -c %i "$todo")" ] || fail "todo/$id is not intd/$id"
grep -q "^msg ${q##*/} id $id qp $sqpid .* rcpts 2 .* exit 0 " "$DLOG" ||
	fail "no log line for the committed message"
check_queues >/dev/null || fail "clean message: queue inconsistent"
say "ok: exit 0, pid $sqpid in Received line = p record = sluice-queue's pid; bytes exact"
clear_queues

say "exit 11: address too long"
a1002=$(head -c 1002 /dev/zero | tr '\0' a)
a1003=${a1002}a
rejected "1003-byte sender" 11 "" -m "$M/clean.eml" -f "$a1003"
rejected "1003-byte recipient" 11 "" -m "$M/clean.eml" -r ok@example.net -r "$a1003"
committed "1002-byte recipient" -m "$M/clean.eml" -r "$a1002"

say "exit 54: abort"
rejected "envelope cut short (qqsim -a)" 54 "" -m "$M/clean.eml" -a

say "exit 91: envelope record of the wrong type"
printf 'Xsender@example.org\0Trcpt@example.net\0\0' >"$WORK/bad-first.env"
printf 'Fsender@example.org\0Trcpt@example.net\0Zoops\0\0' >"$WORK/bad-later.env"
rejected "first record not F" 91 "" -m "$M/clean.eml" -E "$WORK/bad-first.env"
rejected "later record not T" 91 "" -m "$M/clean.eml" -E "$WORK/bad-later.env"

say "s/qmail Q record: not scanned, committed without it"
printf 'Fsender@example.org\0Trcpt@example.net\0Qnoscan\0\0' >"$WORK/q.env"
committed "virus with a Q record" -m "$M/virus.eml" -E "$WORK/q.env"

say "exit 31: rejections without a custom-error convention (fd 6 open, left alone)"
rejected "virus" 31 "" -m "$M/virus.eml" -e 6
rejected "banned attachment" 31 "" -m "$M/banned.eml" -e 6
rejected "spam" 31 "" -m "$M/spam.eml" -e 6

say "exit 71: deferrals"
rejected "scanner error" 71 "" -m "$M/error.eml" -e 6
run_qq -m "$M/hang.eml"
expect "scanner hang" 71
[ "$QQ_MS" -lt 3000 ] || fail "scanner hang: exit 71 after $QQ_MS ms, want < 3000 (SLUICE_SCAN_TIMEOUT=1)"
wait_queue_empty "scanner hang"
say "ok: scanner hang -> exit 71 after $QQ_MS ms"
committed "clean message after the deferrals" -m "$M/clean.eml"

say "sluice-queue killed in the middle of a message: nothing queued"
rm -f "$WORK/sq.pid"
env SLUICE_SOCKET="$SOCK" timeout -k 5 60 "$QQSIM" -p "$WORK/sq-pid" -m "$M/clean.eml" -w 2000 \
	>"$WORK/killed.out" 2>&1 &
lp=$!
track "$lp"
inflight_one() { [ -s "$WORK/sq.pid" ] && [ "$(stat_get inflight)" = 1 ]; }
wait_until 5 "the message to be in flight" inflight_one
kill -9 "$(cat "$WORK/sq.pid")"
wait_until 5 "the daemon to notice" daemon_idle
wait "$lp" || true
grep -q '^exit -1 reply "451 qq crashed' "$WORK/killed.out" || fail "qqsim: $(cat "$WORK/killed.out")"
grep -q '^msg .* verdict client-gone .*exit 71 ' "$DLOG" || fail "no client-gone log line"
assert_queue_empty "sluice-queue killed"
say "ok: sluice-queue killed -> 451 qq crashed; the daemon removed the message"
daemon_stop

say "--- SLUICE_ON_ERROR=accept"
daemon_start SLUICE_SCANNERS=test SLUICE_SCAN_TIMEOUT=1 SLUICE_ON_ERROR=accept
committed "scanner error accepted" -m "$M/error.eml"
committed "scanner hang accepted" -m "$M/hang.eml"
daemon_stop

say "--- REJECTVIRUS=2 (drop) and REJECTVIRUS=0 (accept)"
daemon_start SLUICE_SCANNERS=test REJECTVIRUS=2
rejected "virus dropped" 0 "" -m "$M/virus.eml" -e 6
committed "clean message with REJECTVIRUS=2" -m "$M/clean.eml"
daemon_stop
daemon_start SLUICE_SCANNERS=test REJECTVIRUS=0
run_qq -m "$M/virus.eml"
expect "virus accepted" 0
[ "$(count todo)" = 1 ] || fail "virus accepted: $(count todo) todo entries, want 1"
sed -n 2p "$(mess_of "$(todo_files)")" | grep -qx 'X-QHPSI: Virus found' ||
	fail "REJECTVIRUS=0: no 'X-QHPSI: Virus found' right after the Received line"
check_queues >/dev/null || fail "virus accepted: queue inconsistent"
clear_queues
say "ok: virus accepted and tagged (X-QHPSI: Virus found)"
daemon_stop

say "--- SLUICE_CUSTOM_ERROR=notqmail: exit 82, text on fd 6"
daemon_start SLUICE_SCANNERS=test SLUICE_CUSTOM_ERROR=notqmail
rejected "notqmail virus" 82 "$VIRUS_TEXT" -m "$M/virus.eml" -e 6
rejected "notqmail banned" 82 "$BANNED_TEXT" -m "$M/banned.eml" -e 6
rejected "notqmail spam" 82 "$SPAM_TEXT" -m "$M/spam.eml" -e 6
rejected "notqmail scanner error" 82 "$ERROR_TEXT" -m "$M/error.eml" -e 6
rejected "notqmail virus, fd 6 not open" 31 "" -m "$M/virus.eml"
rejected "notqmail virus, only fd 4 open" 31 "" -m "$M/virus.eml" -e 4
rejected "notqmail scanner error, fd 6 not open" 71 "" -m "$M/error.eml"
grep -q 'verdict infected .*exit 31/82 ' "$DLOG" || fail "log does not show 'exit 31/82'"
run_qq -m "$M/crlf.eml" -e 6
expect "virus name with CR and TAB" 82 \
	"DYour email was rejected because it contains the Evil 250 ok injected name virus (#5.7.1)"
case $QQ_TEXT in *$'\r'* | *$'\t'*) fail "CR or TAB reached the custom text" ;; esac
assert_queue_empty "virus name with CR and TAB"
say "ok: CR and TAB in a virus name became spaces"
run_qq -m "$M/long.eml" -e 6
expect "400-byte virus name" 82
[ "${#QQ_TEXT}" -le 255 ] || fail "400-byte virus name: text of ${#QQ_TEXT} bytes, want <= 255"
[ "${QQ_TEXT:0:1}" = D ] || fail "400-byte virus name: text does not start with D"
assert_queue_empty "400-byte virus name"
say "ok: 400-byte virus name -> ${#QQ_TEXT}-byte text"
daemon_stop

say "--- SLUICE_CUSTOM_ERROR=simscan: exit 82, text on fd 4"
daemon_start SLUICE_SCANNERS=test SLUICE_CUSTOM_ERROR=simscan
rejected "simscan virus" 82 "$VIRUS_TEXT" -m "$M/virus.eml" -e 4
rejected "simscan banned" 82 "$BANNED_TEXT" -m "$M/banned.eml" -e 4
rejected "simscan virus, fd 4 not open" 31 "" -m "$M/virus.eml"
rejected "simscan virus, only fd 6 open" 31 "" -m "$M/virus.eml" -e 6
daemon_stop

say "--- SLUICE_CUSTOM_ERROR=indimail: exit 88, text on ERROR_FD (default 2)"
daemon_start SLUICE_SCANNERS=test SLUICE_CUSTOM_ERROR=indimail
rejected "indimail virus on fd 2" 88 "$VIRUS_TEXT" -m "$M/virus.eml" -e 2
rejected "indimail scanner error on fd 2" 88 "$ERROR_TEXT" -m "$M/error.eml" -e 2
# fd 2 closed: qqsim and sluice-queue run without a stderr
for i in 1 2 3 4 5; do
	rejected "indimail virus, fd 2 not open (try $i)" 31 "" -m "$M/virus.eml" 2>&-
done
daemon_stop
daemon_start SLUICE_SCANNERS=test SLUICE_CUSTOM_ERROR=indimail ERROR_FD=5
rejected "indimail ERROR_FD=5 virus" 88 "$VIRUS_TEXT" -m "$M/virus.eml" -e 5
rejected "indimail ERROR_FD=5 banned" 88 "$BANNED_TEXT" -m "$M/banned.eml" -e 5
rejected "indimail ERROR_FD=5, fd 5 not open" 31 "" -m "$M/virus.eml"
rejected "indimail ERROR_FD=5, only fd 2 open" 31 "" -m "$M/virus.eml" -e 2
committed "indimail clean message" -m "$M/clean.eml" -e 5
daemon_stop

say "--- no daemon"
[ ! -e "$SOCK" ] || fail "socket $SOCK left after the daemon stopped"
run_qq -m "$M/clean.eml"
expect "no daemon, socket missing" 71
[ "$QQ_MS" -lt 2000 ] || fail "no daemon: exit 71 after $QQ_MS ms, want < 2000"
assert_queue_empty "no daemon"
say "ok: socket missing -> exit 71 in $QQ_MS ms"
committed "no daemon, SLUICE_FALLBACK=direct" SLUICE_FALLBACK=direct -m "$M/clean.eml"
daemon_start
daemon_kill9
[ -S "$SOCK" ] || fail "no stale socket after kill -9"
run_qq -m "$M/clean.eml"
expect "dead daemon, stale socket" 71
[ "$QQ_MS" -lt 2000 ] || fail "stale socket: exit 71 after $QQ_MS ms, want < 2000"
assert_queue_empty "dead daemon"
say "ok: stale socket -> exit 71 in $QQ_MS ms"
committed "stale socket, SLUICE_FALLBACK=direct" SLUICE_FALLBACK=direct -m "$M/clean.eml"

say "--- direct mode (SLUICE_MODE=direct), QHPSI scanner: true = clean, false = infected"
D="SLUICE_MODE=direct"
DT="DYour email was rejected because it contains a virus (#5.7.1)"
committed "direct clean" $D QHPSI=true -m "$M/clean.eml"
rejected "direct 1003-byte recipient" 11 "" $D -m "$M/clean.eml" -r "$a1003"
rejected "direct abort" 54 "" $D -m "$M/clean.eml" -a
rejected "direct record not F" 91 "" $D -m "$M/clean.eml" -E "$WORK/bad-first.env"
rejected "direct virus" 31 "" $D QHPSI=false -m "$M/clean.eml" -e 6
rejected "direct scanner failure" 71 "" $D QHPSI=false QHPSIRC=7 -m "$M/clean.eml"
rejected "direct REJECTVIRUS=2" 0 "" $D QHPSI=false REJECTVIRUS=2 -m "$M/clean.eml"
rejected "direct notqmail virus" 82 "$DT" $D QHPSI=false SLUICE_CUSTOM_ERROR=notqmail \
	-m "$M/clean.eml" -e 6
rejected "direct notqmail virus, fd 6 not open" 31 "" $D QHPSI=false \
	SLUICE_CUSTOM_ERROR=notqmail -m "$M/clean.eml"
rejected "direct simscan virus" 82 "$DT" $D QHPSI=false SLUICE_CUSTOM_ERROR=simscan \
	-m "$M/clean.eml" -e 4
rejected "direct simscan virus, fd 4 not open" 31 "" $D QHPSI=false \
	SLUICE_CUSTOM_ERROR=simscan -m "$M/clean.eml"
rejected "direct indimail virus" 88 "$DT" $D QHPSI=false SLUICE_CUSTOM_ERROR=indimail \
	-m "$M/clean.eml" -e 2
rejected "direct indimail virus, fd 2 not open" 31 "" $D QHPSI=false \
	SLUICE_CUSTOM_ERROR=indimail -m "$M/clean.eml" 2>&-

# the fallback to direct mode under IndiMail's convention with ERROR_FD=2:
# sluice-queue's own line about the missing daemon must not become part of
# the reply qmail-smtpd reads from fd 2
rejected "fallback indimail virus, no daemon" 88 "$DT" SLUICE_SOCKET="$WORK/nobody-home.sock" \
	SLUICE_FALLBACK=direct QHPSI=false SLUICE_CUSTOM_ERROR=indimail -m "$M/clean.eml" -e 2

say "ok"
