#!/bin/bash
# test_remote.sh - remote queues: the real sluiced relaying by QMQP to
# tests/integration/qmqp_peer.py (a QMQP server written from the protocol
# text, sharing no code with sluice), messages sent by qqsim through the
# real sluice-queue exactly as qmail-smtpd sends them.  The edge relay is a
# sluiced whose one local queue is a spool (SLUICE_LOCAL_QUEUES=spool),
# unless said otherwise; SLUICE_CUSTOM_ERROR=notqmail.
#
#   settings   --help lists every remote setting; a bad server, a spool
#              without servers, a missing qmqpservers file stop sluiced
#              (111) with a line naming the setting
#   K          exit 0; the peer got qqsim's message byte for byte (sluiced's
#              Received line not sent) and the envelope; the log line says
#              "action relay ... remote <server> why K..."; the spool is empty
#   Z, D       71 / 31 plainly, and 82 with "Z<text>" / "D<text>" under
#              notqmail; CR LF in a text made harmless, a long text cut to
#              qmail-smtpd's 254 bytes
#   alone      one server that refuses -> 73, times out connecting (a full
#              accept queue) -> 72, hangs after the message, closes without
#              a reply, answers garbage or half a reply -> 74; each within
#              its time-out; nothing left in the spool
#   next       each of refusing, timing out, hanging, garbage together with
#              a good server: every message 0 from the good one, the bad one
#              tried (its failure counted), resting afterwards
#   worst      refused + hang -> 74, refused + time-out -> 72
#   deadline   a hanging server with a 60 s I/O time-out: SLUICE_QMQP_TIMEOUT
#              (2 s) ends the message with 74
#   IPv6       a server on [::1]: 0 (skipped when the host has no ::1)
#   qmqpservers  SLUICE_QMQP naming a file in qmail-qmqpc's form
#   mixed      a local queue (SLUICE_LOCAL_QUEUES=queue) and the peer with
#              SLUICE_QMQP_WEIGHT=25: of 200 messages 50 +- 25 at the peer,
#              the rest committed locally, each once, all exit 0; weight 0:
#              none at the peer; a refusing server with weight 100: every
#              message committed locally (failover), exit 0
#   figures    sluice-qstat --live shows the per-server lines; --prometheus
#              has sluice_remote_sent_total per server and passes promcheck
. "$(dirname "$0")/lib.sh"
lib_init
. "$(dirname "$0")/remote_lib.sh"

command -v python3 >/dev/null || fail "python3 is not installed"
make_ref 3000
E=(SLUICE_LOCAL_QUEUES=spool SLUICE_CUSTOM_ERROR=notqmail SLUICE_QMQP_CONNECT_TIMEOUT=1
	SLUICE_QMQP_IO_TIMEOUT=2 SLUICE_QMQP_TIMEOUT=20 SLUICE_QMQP_RETRY=1)

# edge SERVERS [VAR=VALUE]... - (re)start the edge relay with these servers
edge() {
	if [ -n "${HPID[edge]:-}" ] && kill -0 "${HPID[edge]}" 2>/dev/null; then
		host_stop edge
	fi
	host_start edge 1 "${E[@]}" "SLUICE_QMQP=$1" "${@:2}"
}

# send WHAT [VAR=VALUE]... [QQSIM ARGS] - one 3000-byte message to the edge
send() {
	local what=$1
	shift
	at edge "$@" -s 3000 -e 6
	say "$what: exit $QQ_RC${QQ_TEXT:+ text '$QQ_TEXT'} in $QQ_MS ms"
}

# --------------------------------------------------------------- settings
say "settings: --help lists them; bad values stop sluiced naming them"
"$SLUICED" --help >"$WORK/help"
for v in SLUICE_QMQP SLUICE_QMQP_WEIGHT SLUICE_LOCAL_QUEUES SLUICE_QMQP_CONNS \
	SLUICE_QMQP_CONNECT_TIMEOUT SLUICE_QMQP_IO_TIMEOUT SLUICE_QMQP_TIMEOUT SLUICE_QMQP_RETRY \
	SLUICE_QMQP_SLOW; do
	grep -q "^  $v " "$WORK/help" || fail "--help does not list $v"
done
mkdir -p "$WORK/bad"
"$MKQ" -q -b "$WORK/bad" -c 1
for bad in SLUICE_QMQP=mx.example.org "SLUICE_QMQP=127.0.0.1:628 127.0.0.1" \
	"SLUICE_QMQP=$WORK/no-qmqpservers" SLUICE_LOCAL_QUEUES=spool SLUICE_QMQP_WEIGHT=200; do
	rc=0
	env QUEUE_BASE="$WORK/bad" QUEUE_COUNT=1 SLUICE_SCANNERS=null $AS_USER "$bad" "$SLUICED" \
		2>"$WORK/bad.err" </dev/null || rc=$?
	[ "$rc" = 111 ] || fail "$bad: sluiced exited $rc, want 111"
	grep -q "^sluiced: fatal: .*${bad%%=*}" "$WORK/bad.err" ||
		fail "$bad: no fatal line naming it: $(cat "$WORK/bad.err")"
done

# --------------------------------------------------------------- K
say "K: relayed byte for byte, the spool emptied"
peer_start good K
edge "127.0.0.1:${PPORT[good]}"
send K -f alice@example.org -r bob@example.net -r carol@example.net
expect K 0
cmp -s "$WORK/peer.good/message.1" "$WORK/ref.3000" ||
	fail "K: the peer did not get the message byte for byte (or got sluiced's Received line)"
printf 'Falice@example.org\0Tbob@example.net\0Tcarol@example.net\0' | cmp -s - "$WORK/peer.good/envelope.1" ||
	fail "K: envelope $(od -c "$WORK/peer.good/envelope.1" | head -3)"
grep -q "^msg queue1 .* verdict clean action relay exit 0 ms [0-9]* remote 127.0.0.1:${PPORT[good]} why Kok 1700000000 qp 4242\$" \
	"${HLOG[edge]}" || fail "K: log line: $(grep '^msg ' "${HLOG[edge]}")"
host_spool_empty edge "after K"
peer_stop good

# --------------------------------------------------------------- Z, D
say "Z and D: the server's answer with its text"
peer_start z Z
edge "127.0.0.1:${PPORT[z]}" SLUICE_CUSTOM_ERROR=none
send "Z, no convention"
expect "Z plain" 71
host_stop edge
edge "127.0.0.1:${PPORT[z]}"
send "Z, notqmail"
expect "Z notqmail" 82 "Zpeer says: try again later (#4.3.0)"
peer_stop z
peer_start d D
edge "127.0.0.1:${PPORT[d]}"
send "D, notqmail"
expect "D notqmail" 82 "Dpeer says: no such user (#5.1.1)"
host_stop edge
edge "127.0.0.1:${PPORT[d]}" SLUICE_CUSTOM_ERROR=none
send "D, no convention"
expect "D plain" 31
peer_stop d
peer_start crlf D --text 'Dno such user\r\n250 ok fake (#5.1.1)'
edge "127.0.0.1:${PPORT[crlf]}"
send "D with CR LF"
expect "D CR LF" 82 "Dno such user??250 ok fake (#5.1.1)"
peer_stop crlf
long=$(printf 'x%.0s' $(seq 1 400))
peer_start long D --text "D$long"
edge "127.0.0.1:${PPORT[long]}"
send "D with 400 bytes of text"
[ "$QQ_RC" = 82 ] && [ "${#QQ_TEXT}" = 255 ] && [ "${QQ_TEXT:0:4}" = Dxxx ] ||
	fail "long D: exit $QQ_RC, text of ${#QQ_TEXT} bytes, want 82 and 255 (D + 254)"
peer_stop long
host_spool_empty edge "after Z and D"

# --------------------------------------------------------------- alone
say "one failing server alone: 73, 72, 74 as qmail-qmqpc answers"
for c in "refused 73" "blackhole 72" "hang 74" "close 74" "garbage 74" "truncated 74"; do
	set -- $c
	if [ "$1" = refused ]; then
		port=$(dead_port)
	else
		peer_start bad "$1"
		port=${PPORT[bad]}
	fi
	edge "127.0.0.1:$port"
	send "$1 alone"
	expect "$1 alone" "$2"
	[ "$QQ_MS" -lt 15000 ] || fail "$1 alone: took $QQ_MS ms"
	host_spool_empty edge "$1 alone"
	[ "$1" = refused ] || peer_stop bad
done

# --------------------------------------------------------------- next
say "a failing server and a good one: every message 0, the bad one tried"
peer_start good K
for mode in refused blackhole hang garbage; do
	if [ "$mode" = refused ]; then
		port=$(dead_port)
	else
		peer_start bad "$mode"
		port=${PPORT[bad]}
	fi
	edge "127.0.0.1:$port 127.0.0.1:${PPORT[good]}"
	before=$(peer_got good)
	for ((i = 1; i <= 20; i++)); do
		send "$mode + good, message $i"
		expect "$mode + good" 0
		[ "$(host_remote edge "127.0.0.1:$port" failed)" = 0 ] || break
	done
	[ "$(host_remote edge "127.0.0.1:$port" failed)" = 1 ] ||
		fail "$mode + good: the failing server was never tried in 20 messages"
	[ "$(host_remote edge "127.0.0.1:$port" down)" = 1 ] || fail "$mode + good: not resting after its failure"
	[ "$(host_remote edge "127.0.0.1:${PPORT[good]}" sent)" = "$i" ] ||
		fail "$mode + good: the good server took $(host_remote edge "127.0.0.1:${PPORT[good]}" sent) of $i"
	# the peer writes its records before it answers
	[ "$(peer_got good)" = $((before + i)) ] || fail "$mode + good: the peer recorded $(($(peer_got good) - before)) of $i"
	grep -q "why 127.0.0.1:$port: .*; Kok" "${HLOG[edge]}" || fail "$mode + good: the log does not say the failure"
	host_spool_empty edge "$mode + good"
	[ "$mode" = refused ] || peer_stop bad
done
peer_stop good

# --------------------------------------------------------------- worst
say "several failures: the worst answers (74 over 72 over 73)"
peer_start hang hang
edge "$(dead_port | sed 's/^/127.0.0.1:/') 127.0.0.1:${PPORT[hang]}"
send "refused + hang"
expect "refused + hang" 74
peer_stop hang
peer_start bh blackhole
edge "$(dead_port | sed 's/^/127.0.0.1:/') 127.0.0.1:${PPORT[bh]}"
send "refused + time-out"
expect "refused + time-out" 72
grep -q 'connect timed out' "${HLOG[edge]}" || fail "refused + time-out: the log does not say it"
peer_stop bh

# --------------------------------------------------------------- deadline
say "SLUICE_QMQP_TIMEOUT ends a relay to a hanging server"
peer_start hang hang
edge "127.0.0.1:${PPORT[hang]}" SLUICE_QMQP_IO_TIMEOUT=60 SLUICE_QMQP_TIMEOUT=2
send "hang, 2 s deadline"
expect "hang, deadline" 74
[ "$QQ_MS" -ge 1500 ] && [ "$QQ_MS" -lt 12000 ] || fail "hang, deadline: answered after $QQ_MS ms, want about 2000"
grep -q "remote 127.0.0.1:${PPORT[hang]}: slow: no answer within" "${HLOG[edge]}" ||
	fail "hang, deadline: the server is not marked slow"
peer_stop hang

# --------------------------------------------------------------- IPv6
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	say "a server on [::1]"
	peer_start six K --host ::1
	edge "[::1]:${PPORT[six]}"
	send "IPv6"
	expect IPv6 0
	grep -q "remote \[::1\]:${PPORT[six]} why K" "${HLOG[edge]}" || fail "IPv6: log line"
	peer_stop six
else
	say "IPv6: skipped (no ::1 here)"
fi

# --------------------------------------------------------------- file
say "SLUICE_QMQP naming a qmqpservers file"
peer_start good K
printf '# the central hosts\n\n127.0.0.1:%s\n' "${PPORT[good]}" >"$WORK/qmqpservers"
edge "$WORK/qmqpservers"
send "qmqpservers"
expect qmqpservers 0
grep -q "^sluiced: remote queue 127.0.0.1:${PPORT[good]}\$" "${HLOG[edge]}" || fail "qmqpservers: not listed at start"

# --------------------------------------------------------------- figures
say "sluice-qstat --live and --prometheus show each server"
SLUICE_SOCKET=$WORK/edge/sluiced.sock "$QSTAT" --live -b "$WORK/edge" -c 1 >"$WORK/live" ||
	fail "sluice-qstat --live failed"
grep -qE "^sluiced: remote 127.0.0.1:${PPORT[good]} inflight 0 sent 1 temp 0 perm 0 failed 0 latency_ms [0-9]+ last_ms [0-9]+ down 0 slow 0\$" \
	"$WORK/live" || fail "--live: $(grep remote "$WORK/live")"
SLUICE_SOCKET=$WORK/edge/sluiced.sock "$QSTAT" --prometheus -b "$WORK/edge" -c 1 >"$WORK/prom" ||
	fail "sluice-qstat --prometheus failed"
grep -qx "sluice_remote_sent_total{remote=\"127.0.0.1:${PPORT[good]}\"} 1" "$WORK/prom" ||
	fail "--prometheus: $(grep remote "$WORK/prom")"
grep -qx "# TYPE sluice_remote_failures_total counter" "$WORK/prom" || fail "--prometheus: no typed failures"
perl "$SLUICE_SRC/tests/integration/promcheck.pl" "$WORK/prom" >/dev/null ||
	fail "--prometheus: not valid: $(perl "$SLUICE_SRC/tests/integration/promcheck.pl" "$WORK/prom" 2>&1)"
host_stop edge
host_spool_empty edge "at the end"

# --------------------------------------------------------------- mixed
say "local and remote queues with SLUICE_QMQP_WEIGHT=25"
M=(SLUICE_LOCAL_QUEUES=queue SLUICE_QMQP_WEIGHT=25 SLUICE_SYNC=none)
before=$(peer_got good)
host_start mixed 1 "${E[@]}" "${M[@]}" "SLUICE_QMQP=127.0.0.1:${PPORT[good]}"
load_at mixed "$WORK/mixed.out" -n 200 -k 8 -s 3000 -i w25 -v
[ "$LOAD_EXITS" = "0:200," ] || fail "weight 25: exits $LOAD_EXITS"
remote=$(($(peer_got good) - before))
local_n=$(host_todo mixed)
say "weight 25: $remote of 200 relayed, $local_n committed locally"
[ $((remote + local_n)) = 200 ] || fail "weight 25: $remote relayed + $local_n local is not 200"
[ "$remote" -ge 25 ] && [ "$remote" -le 75 ] || fail "weight 25: $remote of 200 relayed, want about 50"
# each message once, on one side or the other
{
	for f in "$WORK"/peer.good/message.*; do sed -n '1s/^X-Qqsim-Id: //p' "$f"; done
	perl "$SLUICE_SRC/tests/integration/check_queues.pl" "$WORK/mixed" "$WORK/ref.3000" | awk '{ print $4 }'
} | sort >"$WORK/ids"
[ "$(grep -c '^w25-' "$WORK/ids")" = 200 ] && [ -z "$(uniq -d "$WORK/ids")" ] ||
	fail "weight 25: messages missing or twice: $(uniq -d "$WORK/ids" | head -3)"
host_stop mixed
peer_stop good

say "weight 0: no message relayed"
peer_start good K
host_start mixed 1 "${E[@]}" "${M[@]}" SLUICE_QMQP_WEIGHT=0 "SLUICE_QMQP=127.0.0.1:${PPORT[good]}"
load_at mixed "$WORK/mixed0.out" -n 40 -k 4 -s 3000
[ "$LOAD_EXITS" = "0:40," ] || fail "weight 0: exits $LOAD_EXITS"
[ "$(peer_got good)" = 0 ] || fail "weight 0: the peer got $(peer_got good)"
host_stop mixed
peer_stop good

say "weight 100 and the server refusing: the local queue is the failover"
before=$(host_todo mixed)
host_start mixed 1 "${E[@]}" "${M[@]}" SLUICE_QMQP_WEIGHT=100 "SLUICE_QMQP=127.0.0.1:$(dead_port)"
load_at mixed "$WORK/mixed100.out" -n 40 -k 4 -s 3000
[ "$LOAD_EXITS" = "0:40," ] || fail "failover: exits $LOAD_EXITS"
[ $(($(host_todo mixed) - before)) = 40 ] || fail "failover: $(($(host_todo mixed) - before)) of 40 committed locally"
grep -q 'committed to the local queue' "${HLOG[mixed]}" || fail "failover: the log does not say it"
grep -q "^sluiced: remote 127.0.0.1:[0-9]*: down: " "${HLOG[mixed]}" || fail "failover: the server's failure not logged"
host_stop mixed
say "ok"
