#!/bin/sh
# simscan_sim.sh - the simscan-style pipeline, as a QMAILQUEUE program: a
# baseline for the benchmarks only (tests/bench/bench_report.sh), never for
# mail.  Per message, as simscan does: a work dir, the message copied from
# fd 0 into it, ripmime unpacking its MIME parts there, clamdscan asked to
# scan the dir (a clamd the benchmark runs), then the real queue program
# run with the saved message on fd 0 and the envelope still on fd 1, and
# the work dir removed.
#
# Environment: SIMSCAN_WORK (dir for the work dirs, default /tmp),
# SIMSCAN_CLAMD_CONF (clamd.conf for clamdscan), SIMSCAN_QUEUE (the queue
# program, e.g. sluice-queue with SLUICE_MODE=direct).
# Exit: the queue program's code; 31 when clamdscan finds a virus, 71 when
# a step fails (qmail-queue's "temporary" code).
d=$(mktemp -d "${SIMSCAN_WORK:-/tmp}/simscan.XXXXXX") || exit 71
cat >"$d/msg" || { rm -rf "$d"; exit 71; }
if ! ripmime -i "$d/msg" -d "$d" >/dev/null 2>&1; then
	rm -rf "$d"
	exit 71
fi
clamdscan --no-summary --config-file="$SIMSCAN_CLAMD_CONF" "$d" >/dev/null 2>&1
case $? in
0) "$SIMSCAN_QUEUE" <"$d/msg"; rc=$? ;;
1) rc=31 ;;
*) rc=71 ;;
esac
rm -rf "$d"
exit $rc
