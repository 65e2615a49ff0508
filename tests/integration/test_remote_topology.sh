#!/bin/bash
# test_remote_topology.sh - three hosts on loopback, all of them sluice:
#
#   qqsim -> sluice-queue -> edgeA sluiced --QMQP--\
#                                                   tcpserver + sluice-qmqpd
#   qqsim -> sluice-queue -> edgeB sluiced --QMQP--/   -> central sluiced -> central queues
#
# edgeA and edgeB are edge relays with no local queue of their own
# (SLUICE_LOCAL_QUEUES=spool: a tree made by sluice-mkqueue that no
# qmail-send serves); edgeA scans with libclamav and the shipped DB, edgeB
# scans nothing; the central host scans with libclamav too.  Each edge
# lists the central QMQP server and a second one that is down.
#
#   clean      100 messages through each edge at once: every one 0; the
#              central queues hold the 200, each exactly once and whole
#              (check_queues --qmqp: sluiced's Received line, qmail-qmqpd's,
#              then qqsim's message byte for byte); both spools empty; the
#              down server was tried and rests
#   EICAR      through edgeA: refused at the edge ("D...virus" under
#              notqmail), the central host never sees it; through edgeB:
#              the central host refuses it and edgeB passes its D text on,
#              the same text
#   kill -9    twice: during a load of 800 messages through both edges the
#              central sluiced is killed once it committed some of them,
#              then started again (recovery);
#              clients get 0, or a temporary code (71-74), never a
#              permanent one; every message a client got 0 for is in the
#              central queues, none twice, nothing partial; the spools
#              are empty
#   edge kill  edgeA killed under load: what its spool held is removed by
#              its recovery at the restart (the count it logs is the
#              files left), every message acknowledged is at the centre
. "$(dirname "$0")/lib.sh"
lib_init
. "$(dirname "$0")/remote_lib.sh"

command -v tcpserver >/dev/null || fail "tcpserver (ucspi-tcp) is not installed"
DATA=$SLUICE_SRC/tests/scan/data
EICAR=$DATA/clamav_eicar_plain.eml
VIRUS="DYour email was rejected because it contains the Sluice.Test.EICAR.UNOFFICIAL virus (#5.7.1)"
SCAN=(SLUICE_SCANNERS=clamav "SLUICE_CLAMDB=$SLUICE_SRC/scan/db" SLUICE_RELOAD_CHECK=0)
make_ref 4000

central() {
	host_start central 2 "${SCAN[@]}" SLUICE_CUSTOM_ERROR=notqmail
}
central
qmqpd_start central central
DEAD=$(dead_port)
SERVERS="127.0.0.1:${QPORT[central]} 127.0.0.1:$DEAD"
EDGE=(SLUICE_LOCAL_QUEUES=spool SLUICE_CUSTOM_ERROR=notqmail "SLUICE_QMQP=$SERVERS"
	SLUICE_QMQP_CONNECT_TIMEOUT=2 SLUICE_QMQP_IO_TIMEOUT=10 SLUICE_QMQP_TIMEOUT=30
	SLUICE_QMQP_RETRY=2)
host_start edgeA 1 "${EDGE[@]}" "${SCAN[@]}"
host_start edgeB 1 "${EDGE[@]}"

# --------------------------------------------------------------- clean
say "clean mail through both edges: committed once at the centre"
load_at edgeA "$WORK/clean.A" -n 100 -k 8 -s 4000 -i A -v &
la=$!
load_at edgeB "$WORK/clean.B" -n 100 -k 8 -s 4000 -i B -v
wait "$la" || fail "the load through edgeA failed"
for e in A B; do
	s=$(grep '^msgs=' "$WORK/clean.$e")
	[ "${s##*exits=}" = "0:100," ] || fail "clean through edge$e: $s"
done
wait_until 10 "the central host idle" eval '[ "$(host_stat central inflight)" = 0 ]'
host_stop central	# check_queues wants no writer
perl "$SLUICE_SRC/tests/integration/check_queues.pl" --qmqp "$WORK/central" "$WORK/ref.4000" \
	>"$WORK/check.out" || fail "central queues inconsistent"
n=$(wc -l <"$WORK/check.out")
[ "$n" = 200 ] || fail "the central queues hold $n messages, want 200"
awk '{ print $4 }' "$WORK/check.out" | sort >"$WORK/ids"
[ -z "$(uniq -d "$WORK/ids")" ] || fail "messages twice at the centre: $(uniq -d "$WORK/ids" | head -3)"
[ "$(grep -c '^[AB]-' "$WORK/ids")" = 200 ] || fail "ids at the centre: $(head -3 "$WORK/ids")"
host_spool_empty edgeA "clean"
host_spool_empty edgeB "clean"
for e in edgeA edgeB; do
	[ "$(host_remote $e "127.0.0.1:$DEAD" failed)" -ge 1 ] || fail "$e never tried the down server"
	[ "$(host_remote $e "127.0.0.1:${QPORT[central]}" sent)" = 100 ] ||
		fail "$e: $(host_remote $e "127.0.0.1:${QPORT[central]}" sent) sent to the centre, want 100"
done
say "clean: 200 messages at the centre, each once and whole; spools empty"

# --------------------------------------------------------------- EICAR
say "EICAR: refused at edgeA; through edgeB the centre's D is passed on"
central
conns=$(grep -c ' ok ' "$WORK/qmqpd.central.log" || true)
at edgeA -m "$EICAR" -e 6
expect "EICAR at edgeA" 82 "$VIRUS"
[ "$(grep -c ' ok ' "$WORK/qmqpd.central.log" || true)" = "$conns" ] ||
	fail "EICAR at edgeA: the edge connected to the centre"
grep -q "verdict infected action reject exit 31/82" "${HLOG[edgeA]}" || fail "EICAR at edgeA: log line"
at edgeB -m "$EICAR" -e 6
expect "EICAR through edgeB" 82 "$VIRUS"
grep -q "verdict infected action reject exit 31/82" "${HLOG[central]}" || fail "EICAR at the centre: log line"
grep -q "action reject exit 31/82 ms [0-9]* remote 127.0.0.1:${QPORT[central]} why DYour email" \
	"${HLOG[edgeB]}" || fail "EICAR through edgeB: its log line"
[ "$(host_todo central)" = 200 ] || fail "EICAR: the centre committed something"
host_spool_empty edgeA "EICAR"
host_spool_empty edgeB "EICAR"

# --------------------------------------------------------------- kill -9
: >"$WORK/acked"
for r in 1 2; do
	say "round $r: kill -9 of the central sluiced under load"
	before=$(host_todo central)
	load_at edgeA "$WORK/crash.$r.A" -n 400 -k 8 -s 4000 -i "r$r-A" -v &
	la=$!
	load_at edgeB "$WORK/crash.$r.B" -n 400 -k 8 -s 4000 -i "r$r-B" -v &
	lb=$!
	# in the middle of the load: once the centre committed some of it
	want=$((before + 20 + RANDOM % 60))
	wait_until 30 "the centre to commit part of the load" eval '[ "$(host_todo central)" -ge $want ]'
	host_kill9 central
	sleep 0.3
	central	# recovery of what the killed one left
	wait "$la" || fail "round $r: the load through edgeA failed"
	wait "$lb" || fail "round $r: the load through edgeB failed"
	grep -h '^id ' "$WORK/crash.$r.A" "$WORK/crash.$r.B" >"$WORK/crash.$r.ids"
	[ "$(wc -l <"$WORK/crash.$r.ids")" = 800 ] || fail "round $r: $(wc -l <"$WORK/crash.$r.ids") results, want 800"
	[ "$(awk '$4 != 0' "$WORK/crash.$r.ids" | wc -l)" -gt 0 ] ||
		fail "round $r: every message got 0: the kill came after the load"
	bad=$(awk '$4 != 0 && ($4 < 71 || $4 > 74) { print $2 " " $4 }' "$WORK/crash.$r.ids" | head -3)
	[ -z "$bad" ] || fail "round $r: exit codes other than 0 and 71-74: $bad"
	awk '$4 == 0 { print $2 }' "$WORK/crash.$r.ids" >>"$WORK/acked"
	say "round $r: $(awk '$4 == 0' "$WORK/crash.$r.ids" | wc -l) exit 0, others: $(awk '$4 != 0 { print $4 }' "$WORK/crash.$r.ids" | sort | uniq -c | tr -s ' \n' ' ')"
done
say "kill -9 of edgeA under load: its spool is recovered, nothing acknowledged lost"
before=$(host_todo central)
load_at edgeA "$WORK/crash.edge" -n 400 -k 8 -s 4000 -i "e-A" -v 2>"$WORK/crash.edge.err" &
la=$!
want=$((before + 20 + RANDOM % 60))
wait_until 30 "the centre to commit part of the load" eval '[ "$(host_todo central)" -ge $want ]'
host_kill9 edgeA
wait "$la" || fail "the load through edgeA failed"
# every unfinished spool message has its pid/ marker (a kill between the
# marker and the mess link, or inside the removal after the K, leaves a
# marker alone): recovery removes and counts each
left=$(find "$WORK/edgeA"/queue*/pid -type f | wc -l)
host_start edgeA 1 "${EDGE[@]}" "${SCAN[@]}"
host_spool_empty edgeA "after edgeA's restart"
[ "$left" = 0 ] || grep -q "^sluiced: queue1: recovery: 0 committed markers cleared, $left unfinished messages removed\$" \
	"${HLOG[edgeA]}" || fail "edgeA's recovery: $(grep recovery "${HLOG[edgeA]}") ($left spool markers were left)"
grep '^id ' "$WORK/crash.edge" >"$WORK/crash.edge.ids"
bad=$(awk '$4 != 0 && ($4 < 71 || $4 > 74) { print $2 " " $4 }' "$WORK/crash.edge.ids" | head -3)
[ -z "$bad" ] || fail "edgeA killed: exit codes other than 0 and 71-74: $bad"
awk '$4 == 0 { print $2 }' "$WORK/crash.edge.ids" >>"$WORK/acked"
say "edgeA killed: $(awk '$4 == 0' "$WORK/crash.edge.ids" | wc -l) exit 0 of 400; $left spool messages left, removed by its recovery"
wait_until 10 "the central host idle" eval '[ "$(host_stat central inflight)" = 0 ]'
for e in edgeA edgeB; do
	wait_until 10 "$e idle" eval '[ "$(host_stat $e inflight)" = 0 ]'
done
host_stop central
perl "$SLUICE_SRC/tests/integration/check_queues.pl" --qmqp "$WORK/central" "$WORK/ref.4000" \
	>"$WORK/check.out" || fail "central queues inconsistent after the kills"
awk '{ print $4 }' "$WORK/check.out" | sort >"$WORK/ids"
[ -z "$(uniq -d "$WORK/ids")" ] || fail "messages twice at the centre: $(uniq -d "$WORK/ids" | head -3)"
sort -u "$WORK/acked" >"$WORK/acked.sorted"
missing=$(comm -23 "$WORK/acked.sorted" "$WORK/ids" | head -5)
[ -z "$missing" ] || fail "acknowledged with 0 but not at the centre: $missing"
extra=$(comm -13 "$WORK/acked.sorted" "$WORK/ids" | grep -c '^r' || true)
host_spool_empty edgeA "after the kills"
host_spool_empty edgeB "after the kills"
say "kill -9: all $(wc -l <"$WORK/acked.sorted") acknowledged messages at the centre, none twice; $extra committed whose client saw no 0 (a possible duplicate, never a loss)"
host_stop edgeA
host_stop edgeB
qmqpd_stop central
say "ok"
