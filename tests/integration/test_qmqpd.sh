#!/bin/bash
# test_qmqpd.sh - QMQP end to end: sluice-qmqpd under the real tcpserver
# (access by a tcprules CDB) on a loopback port, feeding the real sluiced
# with the real libclamav and the shipped EICAR DB; the clients are
# tests/integration/qmqp_peer.py (written from the protocol text) and
# sluice's own QMQP client (tests/util/qmqpsend); sluice's client also
# talks to the Python server.
#
#   settings     --help and the man page's ENVIRONMENT list the same
#                variables; each bad value is answered "Zqq unable to read
#                configuration (#4.3.0)" with the variable named in the log
#   clean        K "Kok <time> qp <pid>"; one message committed; its mess is
#                sluiced's Received line (naming the same pid), then
#                qmail-qmqpd's "Received: from unknown (127.0.0.1)\n  by
#                relay.example with QMQP; <date>", then the message byte
#                for byte; intd holds the envelope
#   nullmailer   when nullmailer's qmqp module is installed (it is not
#                by default): a clean mail queued, EICAR refused as permanent
#   virus        EICAR: "DYour email was rejected because it contains the
#                ... virus (#5.7.1)" under SLUICE_CUSTOM_ERROR=notqmail;
#                "Dmail server permanently rejected message (#5.3.0)"
#                without a convention; nothing queued
#   addresses    a 1000-byte recipient, a NUL in one, a 1000-byte sender:
#                "Dsorry, I can't accept addresses like that (#5.1.3)",
#                nothing queued; 999 bytes: K
#   no reply     a length over 200000000, a missing comma, a client that
#                sends half and leaves: the connection closes with no
#                reply, nothing queued, the log line says why, tcpserver
#                reports exit 111 / 100
#   tcprules     a client from 127.0.0.2 is denied by the CDB: no reply,
#                sluice-qmqpd never runs
#   our client   qmqpsend -> sluice-qmqpd: K; the file's own first line
#                (a local Received line) is skipped with -o
#   vs python    qmqpsend -> qmqp_peer.py serve: the request byte for byte
#                what the peer encodes; K/Z/D -> ok/temp/perm with the
#                peer's text; garbage, a truncated reply, a close, a hang
#                (-i 1000) -> conversation (74); a closed port -> refused
#                (73); IPv6 ([::1]) too; a list of two refusing servers and
#                a good one -> K from the third
#   exec mode    SLUICE_QMQPD_MODE=exec with QMAILQUEUE=sluice-queue: K with
#                sluice-queue's pid; EICAR -> the virus text through fd 6
#   run script   services/sluice-qmqpd/run, copied and started as a
#                service would be (listening address, port and user from
#                the environment): builds tcp.cdb, serves a message, logs
#   no daemon    sluiced stopped: "Zmail server temporarily rejected
#                message (#4.3.0)"
. "$(dirname "$0")/lib.sh"
lib_init

command -v tcpserver >/dev/null || fail "tcpserver (ucspi-tcp) is not installed"
command -v tcprules >/dev/null || fail "tcprules (ucspi-tcp) is not installed"
command -v python3 >/dev/null || fail "python3 is not installed"
QMQPD=$SLUICE_BIN/router/sluice-qmqpd
QMQPSEND=$SLUICE_BIN/tests/qmqpsend
PEER="python3 $SLUICE_SRC/tests/integration/qmqp_peer.py"
[ -x "$QMQPD" ] || fail "$QMQPD is not built"
[ -x "$QMQPSEND" ] || fail "$QMQPSEND is not built"
DATA=$SLUICE_SRC/tests/scan/data
CLEAN=$DATA/clamav_clean_plain.eml
EICAR=$DATA/clamav_eicar_plain.eml
EICAR_NAME=Sluice.Test.EICAR.UNOFFICIAL
VIRUS="DYour email was rejected because it contains the $EICAR_NAME virus (#5.7.1)"
SORRY="Dsorry, I can't accept addresses like that (#5.1.3)"

make_queues 2
SCAN=(SLUICE_SCANNERS=clamav "SLUICE_CLAMDB=$SLUICE_SRC/scan/db" SLUICE_RELOAD_CHECK=0)

printf '127.0.0.1:allow\n:deny\n' >"$WORK/rules"
tcprules "$WORK/rules.cdb" "$WORK/rules.tmp" <"$WORK/rules" || fail "tcprules failed"

TSPID=""
# qmqpd_start [VAR=VALUE]... - tcpserver with sluice-qmqpd on a free
# loopback port (PORT), its log in TLOG
qmqpd_start() {
	TLOG=$WORK/tcpserver.$RANDOM.log
	: >"$TLOG"
	env SLUICE_SOCKET="$SOCK" "$@" tcpserver -1 -v -R -H -l relay.example -c 20 \
		-x "$WORK/rules.cdb" 127.0.0.1 0 "$QMQPD" >"$WORK/port" 2>"$TLOG" </dev/null &
	TSPID=$!
	track "$TSPID"
	wait_until 5 "tcpserver to listen" test -s "$WORK/port"
	PORT=$(head -n 1 "$WORK/port")
	: >"$WORK/port"
}

qmqpd_stop() {
	kill "$TSPID" 2>/dev/null || true
	wait "$TSPID" 2>/dev/null || true
	TSPID=""
}

# send WHAT [peer send args...] - one request by the Python peer; sets
# REPLY (the payload or "noreply ...") and SRC (its exit code)
send() {
	local what=$1 out
	shift
	SRC=0
	out=$(timeout -k 5 60 $PEER send 127.0.0.1 "$PORT" "$@") || SRC=$?
	[ "$SRC" != 124 ] && [ "$SRC" != 137 ] || fail "$what: the peer hung"
	case $out in
	"reply "*) REPLY=${out#reply } ;;
	*) REPLY=$out ;;
	esac
}

expect_reply() {
	[ "$REPLY" = "$2" ] || fail "$1: reply '$REPLY', want '$2'"
}

# log_has PATTERN - a sluice-qmqpd line in the tcpserver log (5 s at most:
# it is written when the connection ends)
log_has() {
	wait_until 5 "'$1' in $TLOG" grep -q -- "$1" "$TLOG"
}

# --------------------------------------------------------------- settings
say "--help and the man page list the same settings; a bad one is answered Z"
"$QMQPD" --help >"$WORK/help" || fail "--help exited $?"
sed -n '/^\.SH ENVIRONMENT/,/^\.SH EXIT/p' "$SLUICE_SRC/man/sluice-qmqpd.8" |
	grep -E '^\.(B|BR|RB|TP)' | grep -oE '\b[A-Z][A-Z_]{2,}\b' | sort -u >"$WORK/man.vars"
grep -oE '\b(SLUICE_[A-Z_]+|QUEUE_[A-Z_]+|QMAILQUEUE|ERROR_FD|TCP[A-Z]+)\b' "$WORK/help" |
	sort -u >"$WORK/help.vars"
[ -s "$WORK/man.vars" ] || fail "no settings found in the man page"
diff "$WORK/man.vars" "$WORK/help.vars" >&2 || fail "--help and sluice-qmqpd(8) list different settings"
$PEER encode --message "$CLEAN" --sender a@example.org --rcpt b@example.net >"$WORK/good.req"
for bad in SLUICE_QMQPD_MODE=bogus SLUICE_QMQPD_TIMEOUT=1h SLUICE_QMQPD_IO_TIMEOUT=0 \
	SLUICE_ACCEPT_TIMEOUT=-1 SLUICE_CUSTOM_ERROR=fd9 ERROR_FD=x QMAILQUEUE=bin/qmail-queue; do
	rc=0
	env SLUICE_SOCKET="$WORK/none.sock" SLUICE_QMQPD_MODE=exec "$bad" "$QMQPD" <"$WORK/good.req" \
		>"$WORK/bad.out" 2>"$WORK/bad.err" || rc=$?
	[ "$rc" = 0 ] || fail "$bad: exit $rc"
	[ "$(cat "$WORK/bad.out")" = "41:Zqq unable to read configuration (#4.3.0)," ] ||
		fail "$bad: answered '$(cat "$WORK/bad.out")'"
	grep -q "; ${bad%%=*}=" "$WORK/bad.err" || fail "$bad: the log does not name it: $(cat "$WORK/bad.err")"
done

daemon_start "${SCAN[@]}" SLUICE_CUSTOM_ERROR=notqmail
qmqpd_start

# --------------------------------------------------------------- clean
say "clean mail: K, committed with both Received lines"
send clean --message "$CLEAN" --sender alice@example.org --rcpt bob@example.net \
	--rcpt carol@example.net
[ "$SRC" = 0 ] || fail "clean: exit $SRC, reply '$REPLY'"
[[ $REPLY =~ ^Kok\ ([0-9]+)\ qp\ ([0-9]+)$ ]] || fail "clean: reply '$REPLY' is not Kok <time> qp <pid>"
QP=${BASH_REMATCH[2]}
t=${BASH_REMATCH[1]}
now=$(date +%s)
[ "$t" -le "$now" ] && [ "$t" -ge $((now - 60)) ] || fail "clean: K time $t, now $now"
wait_until 5 "the message in todo/" test "$(count todo)" = 1
TODO=$(todo_files)
MESS=$(mess_of "$TODO")
ID=${TODO##*/}
INTD=${TODO%/todo/*}/intd/$ID
head -n 1 "$MESS" | grep -Eq "^Received: \(qmail $QP invoked (by uid [0-9]+|from network)\); [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} -0000$" ||
	fail "clean: first line '$(head -n 1 "$MESS")', want sluiced's naming qp $QP"
l2=$(sed -n 2p "$MESS")
l3=$(sed -n 3p "$MESS")
[ "$l2" = "Received: from unknown (127.0.0.1)" ] || fail "clean: line 2 '$l2'"
[[ $l3 =~ ^\ \ by\ relay\.example\ with\ QMQP\;\ [0-9]{1,2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9:]{8}\ -0000$ ]] ||
	fail "clean: line 3 '$l3'"
tail -n +4 "$MESS" | cmp -s - "$CLEAN" || fail "clean: the message is not byte for byte what was sent"
printf 'F%s\0T%s\0T%s\0' alice@example.org bob@example.net carol@example.net >"$WORK/env.want"
perl -0777 -ne 's/^u\d+\0p\d+\0//; print' "$INTD" >"$WORK/env.got"
cmp -s "$WORK/env.got" "$WORK/env.want" || fail "clean: intd envelope differs"
check_queues >/dev/null || fail "clean: the queues are not consistent"
log_has "sluice-qmqpd: 127.0.0.1 qp $QP: answered Kok "
clear_queues

# --------------------------------------------------------------- nullmailer
# A third client, when one is there: nullmailer's QMQP module (Debian's
# nullmailer package, or SLUICE_TEST_NULLMAILER_QMQP naming the program).
NMQ=${SLUICE_TEST_NULLMAILER_QMQP:-/usr/lib/nullmailer/qmqp}
if [ -x "$NMQ" ]; then
	say "nullmailer's qmqp -> sluice-qmqpd: clean mail queued, EICAR refused"
	{ printf 'alice@example.org\nbob@example.net\n\n'; cat "$CLEAN"; } >"$WORK/nm.clean"
	{ printf 'alice@example.org\nbob@example.net\n\n'; cat "$EICAR"; } >"$WORK/nm.eicar"
	rc=0
	out=$(timeout -k 5 60 "$NMQ" --host=127.0.0.1 --port="$PORT" </dev/null 3<"$WORK/nm.clean" 2>&1) || rc=$?
	[ "$rc" = 0 ] || fail "nullmailer clean: exit $rc: $out"
	wait_until 5 "nullmailer's message in todo/" test "$(count todo)" = 1
	tail -n +4 "$(mess_of "$(todo_files)")" | cmp -s - "$CLEAN" || fail "nullmailer clean: the message differs"
	clear_queues
	rc=0
	out=$(timeout -k 5 60 "$NMQ" --host=127.0.0.1 --port="$PORT" </dev/null 3<"$WORK/nm.eicar" 2>&1) || rc=$?
	[ "$rc" = 35 ] || fail "nullmailer EICAR: exit $rc (want 35, permanent): $out"
	[[ $out == *"${VIRUS#D}"* ]] || fail "nullmailer EICAR: '$out'"
	wait_queue_empty "nullmailer EICAR"
else
	say "nullmailer's qmqp is not installed: that third client is not tried"
fi

# --------------------------------------------------------------- virus
say "EICAR: D with the virus text (notqmail convention), nothing queued"
send eicar --message "$EICAR" --sender alice@example.org --rcpt bob@example.net
[ "$SRC" = 31 ] || fail "eicar: exit $SRC, reply '$REPLY'"
expect_reply eicar "$VIRUS"
wait_queue_empty eicar

# --------------------------------------------------------------- addresses
say "addresses: 1000 bytes or a NUL -> Dsorry, nothing queued; 999 bytes -> K"
A999=$(printf 'a%.0s' $(seq 1 987))@example.net	# 999 bytes
A1000=x$A999
[ ${#A999} = 999 ] && [ ${#A1000} = 1000 ] || fail "address lengths ${#A999} ${#A1000}"
send long-rcpt --message "$CLEAN" --sender alice@example.org --rcpt bob@example.net --rcpt "$A1000"
expect_reply long-rcpt "$SORRY"
[ "$SRC" = 31 ] || fail "long-rcpt: exit $SRC"
send nul-rcpt --message "$CLEAN" --sender alice@example.org --rcpt 'bob@exa\0mple.net'
expect_reply nul-rcpt "$SORRY"
send long-sender --message "$CLEAN" --sender "$A1000" --rcpt bob@example.net
expect_reply long-sender "$SORRY"
wait_queue_empty addresses
send rcpt-999 --message "$CLEAN" --sender alice@example.org --rcpt "$A999"
[ "$SRC" = 0 ] || fail "rcpt-999: exit $SRC, reply '$REPLY'"
wait_until 5 "the 999-byte message in todo/" test "$(count todo)" = 1
find "$WORK" -path '*/intd/*' -type f -exec grep -l -- "$A999" {} + | grep -q . ||
	fail "rcpt-999: the address is not in intd"
clear_queues

# --------------------------------------------------------------- no reply
say "malformed and oversized requests: no reply, nothing queued"
printf '200000001:' >"$WORK/big.req"
send big --raw "$WORK/big.req"
[ "$SRC" = 74 ] || fail "big: exit $SRC ($REPLY), want no reply"
log_has "no reply; 0 bytes, 0 recipients, [0-9]* ms; refused request: a length over 200000000"
log_has "status 28416"	# exit 111
$PEER encode --message "$CLEAN" --sender a@example.org --rcpt b@example.net >"$WORK/good.req"
python3 - "$WORK/good.req" "$WORK/nocomma.req" <<'EOF'
import sys
req = open(sys.argv[1], "rb").read()
inner_start = req.index(b":") + 1
msg_colon = req.index(b":", inner_start)
mlen = int(req[inner_start:msg_colon])
pos = msg_colon + 1 + mlen
assert req[pos:pos + 1] == b","
open(sys.argv[2], "wb").write(req[:pos] + b"X" + req[pos + 1:])
EOF
send nocomma --raw "$WORK/nocomma.req"
[ "$SRC" = 74 ] || fail "nocomma: exit $SRC ($REPLY), want no reply"
log_has "no reply; [0-9]* bytes, 0 recipients, [0-9]* ms; malformed request: no comma after the message$"
log_has "status 25600"	# exit 100
head -c 500 "$WORK/good.req" >"$WORK/half.req"
send half --raw "$WORK/half.req" --timeout 5
[ "$SRC" = 74 ] || fail "half: exit $SRC ($REPLY), want no reply"
wait_queue_empty "no reply"

# --------------------------------------------------------------- tcprules
say "tcprules: a client from 127.0.0.2 is denied"
n_before=$(grep -c '^sluice-qmqpd:' "$TLOG" || true)
send denied --message "$CLEAN" --sender a@example.org --rcpt b@example.net --source 127.0.0.2
[ "$SRC" = 74 ] || fail "denied: exit $SRC ($REPLY), want no reply"
log_has "tcpserver: deny [0-9]* relay.example:127.0.0.1:$PORT :127.0.0.2:"
[ "$(grep -c '^sluice-qmqpd:' "$TLOG" || true)" = "$n_before" ] || fail "denied: sluice-qmqpd ran"
wait_queue_empty denied

# --------------------------------------------------------------- our client
say "sluice's QMQP client -> sluice-qmqpd: K, the local Received line skipped"
{ printf 'Received: (qmail 1 invoked by uid 0); 1 Jan 2026 00:00:00 -0000\n'; cat "$CLEAN"; } >"$WORK/mess.local"
off=$(head -n 1 "$WORK/mess.local" | wc -c)
out=$("$QMQPSEND" -o "$off" "127.0.0.1:$PORT" "$WORK/mess.local" alice@example.org bob@example.net) ||
	fail "qmqpsend -> sluice-qmqpd: exit $?, '$out'"
[[ $out =~ ^ok\ ok\ [0-9]+\ qp\ [0-9]+$ ]] || fail "qmqpsend: '$out'"
wait_until 5 "the message in todo/" test "$(count todo)" = 1
MESS=$(mess_of "$(todo_files)")
sed -n 2p "$MESS" | grep -q '^Received: from unknown (127.0.0.1)$' || fail "qmqpsend: line 2 of mess"
tail -n +4 "$MESS" | cmp -s - "$CLEAN" || fail "qmqpsend: mess is not Received lines + the message"
grep -q '^Received: (qmail 1 invoked by uid 0); 1 Jan 2026' "$MESS" && fail "qmqpsend: the local Received line was sent"
clear_queues
out=$("$QMQPSEND" "127.0.0.1:$PORT" "$EICAR" alice@example.org bob@example.net) && fail "qmqpsend EICAR: exit 0"
[ "$out" = "perm ${VIRUS#D}" ] || fail "qmqpsend EICAR: '$out'"
wait_queue_empty "qmqpsend EICAR"

# --------------------------------------------------------------- vs python
say "sluice's QMQP client against the Python server"
peer_serve() {	# MODE [HOST] - the peer in the background; PPORT its port
	rm -f "$WORK/pport" "$WORK"/rec/*
	mkdir -p "$WORK/rec"
	$PEER serve --port-file "$WORK/pport" --record "$WORK/rec" --mode "$1" \
		--host "${2:-127.0.0.1}" --life 20 &
	PPID_=$!
	track "$PPID_"
	wait_until 5 "the Python server to listen" test -s "$WORK/pport"
	PPORT=$(cat "$WORK/pport")
}
peer_done() { wait "$PPID_" 2>/dev/null || true; }
# qsend WHAT WANT_EXIT WANT_OUT ARGS... - qmqpsend with ARGS
qsend() {
	local what=$1 want=$2 wout=$3 rc=0
	shift 3
	QOUT=$(timeout -k 5 60 "$QMQPSEND" "$@") || rc=$?
	[ "$rc" = "$want" ] || fail "$what: qmqpsend exit $rc, want $want ('$QOUT')"
	[[ $QOUT == $wout ]] || fail "$what: '$QOUT', want '$wout'"
}
peer_serve K
qsend "python K" 0 "ok ok 1700000000 qp 4242" -o "$off" "127.0.0.1:$PPORT" "$WORK/mess.local" \
	alice@example.org bob@example.net carol@example.net
peer_done
tail -n +2 "$WORK/mess.local" >"$WORK/msg.only"
$PEER encode --message "$WORK/msg.only" --sender alice@example.org --rcpt bob@example.net \
	--rcpt carol@example.net >"$WORK/want.req"
cmp -s "$WORK/rec/request.1" "$WORK/want.req" || fail "python K: the request is not what the protocol says"
cmp -s "$WORK/rec/message.1" "$WORK/msg.only" || fail "python K: the message differs"
peer_serve Z ::1
qsend "python Z" 71 "temp peer says: try again later (#4.3.0)" "[::1]:$PPORT" "$CLEAN" "" postmaster@example.net
peer_done
printf 'F\0Tpostmaster@example.net\0' | cmp -s - "$WORK/rec/envelope.1" || fail "python Z: envelope"
peer_serve D
qsend "python D" 31 "perm peer says: no such user (#5.1.1)" "127.0.0.1:$PPORT" "$CLEAN" a@example.org b@example.net
peer_done
for mode in garbage truncated close; do
	peer_serve $mode
	qsend "python $mode" 74 "conversation 127.0.0.1:$PPORT: *" "127.0.0.1:$PPORT" "$CLEAN" a@example.org b@example.net
	peer_done
done
peer_serve hang
t0=$(now_ms)
qsend "python hang" 74 "conversation 127.0.0.1:$PPORT: no reply in time" -i 1000 "127.0.0.1:$PPORT" "$CLEAN" a@example.org b@example.net
[ $(($(now_ms) - t0)) -ge 1000 ] || fail "python hang: gave up before io_ms"
peer_done
DEAD=$PPORT	# its server is gone: nothing listens there now
qsend "closed port" 73 "refused 127.0.0.1:$DEAD: connect: Connection refused" "127.0.0.1:$DEAD" "$CLEAN" a@example.org b@example.net
peer_serve K ::1
qsend "list" 0 "ok ok 1700000000 qp 4242" "127.0.0.1:$DEAD,[::1]:$DEAD,[::1]:$PPORT" \
	"$CLEAN" a@example.org b@example.net
peer_done
[ -s "$WORK/rec/request.1" ] || fail "list: the third server got nothing"
qmqpd_stop

# --------------------------------------------------------------- exec mode
say "exec mode: QMAILQUEUE=sluice-queue behind sluice-qmqpd"
qmqpd_start SLUICE_QMQPD_MODE=exec QMAILQUEUE="$SQ" SLUICE_QMAIL_HOME="$WORK" \
	SLUICE_CUSTOM_ERROR=notqmail
send exec-clean --message "$CLEAN" --sender alice@example.org --rcpt bob@example.net
[ "$SRC" = 0 ] || fail "exec-clean: exit $SRC, reply '$REPLY'"
[[ $REPLY =~ ^Kok\ [0-9]+\ qp\ ([0-9]+)$ ]] || fail "exec-clean: reply '$REPLY'"
QP=${BASH_REMATCH[1]}
wait_until 5 "the message in todo/" test "$(count todo)" = 1
MESS=$(mess_of "$(todo_files)")
head -n 1 "$MESS" | grep -q "^Received: (qmail $QP invoked " || fail "exec-clean: sluiced's line does not name sluice-queue's pid $QP"
sed -n 2p "$MESS" | grep -q '^Received: from unknown (127.0.0.1)$' || fail "exec-clean: line 2"
tail -n +4 "$MESS" | cmp -s - "$CLEAN" || fail "exec-clean: the message differs"
clear_queues
send exec-eicar --message "$EICAR" --sender alice@example.org --rcpt bob@example.net
expect_reply exec-eicar "$VIRUS"
wait_queue_empty exec-eicar
qmqpd_stop

# --------------------------------------------------------------- run script
say "services/sluice-qmqpd/run: the template serves a message"
cp -R "$SLUICE_SRC/services/sluice-qmqpd" "$WORK/svc"
echo "$SOCK" >"$WORK/svc/env/SLUICE_SOCKET"
sh -n "$WORK/svc/run" || fail "run script: syntax"
sh -n "$WORK/svc/log/run" || fail "log/run script: syntax"
SPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$WORK/svc" && exec env PATH="$SLUICE_BIN/router:$PATH" QMQPD_IP=127.0.0.1 QMQPD_PORT="$SPORT" \
	QMQPD_USER="$(id -un)" QMQPD_GROUP="$(id -gn)" QMQPD_LOCALNAME=svc.example ./run \
	>"$WORK/svc.log" 2>&1 </dev/null) &
SVCPID=$!
track "$SVCPID"
wait_until 5 "the run script's tcpserver to listen" grep -q 'tcpserver: status: 0/40' "$WORK/svc.log"
[ -s "$WORK/svc/tcp.cdb" ] || fail "run script: tcp.cdb was not built"
PORT_SAVE=$PORT
PORT=$SPORT
send svc --message "$CLEAN" --sender alice@example.org --rcpt bob@example.net
[ "$SRC" = 0 ] || fail "run script: exit $SRC, reply '$REPLY'"
wait_until 5 "the message in todo/" test "$(count todo)" = 1
MESS=$(mess_of "$(todo_files)")
sed -n 3p "$MESS" | grep -q '^  by svc.example with QMQP; ' || fail "run script: Received line: $(sed -n 3p "$MESS")"
wait_until 5 "sluice-qmqpd's line in the service log" grep -q '^sluice-qmqpd: 127.0.0.1 qp ' "$WORK/svc.log"
kill "$SVCPID"
wait "$SVCPID" 2>/dev/null || true
PORT=$PORT_SAVE
clear_queues

# --------------------------------------------------------------- conventions
say "without a custom-error convention: qmail-qmqpd's plain D"
daemon_stop
daemon_start "${SCAN[@]}"
qmqpd_start
send plain-eicar --message "$EICAR" --sender alice@example.org --rcpt bob@example.net
expect_reply plain-eicar "Dmail server permanently rejected message (#5.3.0)"
wait_queue_empty plain-eicar

say "no daemon: Z, after the whole request was read"
daemon_stop
send no-daemon --message "$CLEAN" --sender alice@example.org --rcpt bob@example.net
expect_reply no-daemon "Zmail server temporarily rejected message (#4.3.0)"
[ "$SRC" = 71 ] || fail "no-daemon: exit $SRC"
log_has "cannot connect to $SOCK"
qmqpd_stop
assert_queue_empty "end"
say "ok"
