#!/bin/bash
# test_reload_settings.sh - SLUICE_ENVDIR: read at start; on SIGHUP read
# again and applied to the running daemon (actions, the custom-error
# convention, limits), a bad value keeps every running setting, a setting
# that needs a restart is named as such, a misspelt file is named; no
# message is lost meanwhile.
. "$(dirname "$0")/lib.sh"
lib_init

make_queues 1
ENV=$WORK/env
mkdir "$ENV"
mkmsg "$WORK/virus.eml" "X-Sluice-Test: virus Test.Reload"
mkmsg "$WORK/clean.eml"

# hup_and_wait N - SIGHUP, then wait for the Nth "SIGHUP: settings" log line
hup_and_wait() {
	kill -HUP "$DPID"
	wait_until 10 "reload $1 logged" eval "[ \$(grep -c 'SIGHUP: settings' \"\$DLOG\") -ge $1 ]"
}
last_reload() { grep 'SIGHUP: settings' "$DLOG" | tail -n 1; }

# at start: the envdir's value wins over the process environment
echo defer >"$ENV/SLUICE_ON_VIRUS"
daemon_start SLUICE_ENVDIR="$ENV" SLUICE_SCANNERS=test SLUICE_ON_VIRUS=reject
run_qq -m "$WORK/virus.eml"
expect "virus, SLUICE_ON_VIRUS=defer from the envdir at start" 71

# SIGHUP: reject, with notqmail's custom text on fd 6
echo reject >"$ENV/SLUICE_ON_VIRUS"
echo notqmail >"$ENV/SLUICE_CUSTOM_ERROR"
hup_and_wait 1
last_reload | grep -q 'SLUICE_ON_VIRUS defer -> reject' || fail "reload did not name SLUICE_ON_VIRUS: $(last_reload)"
last_reload | grep -q 'SLUICE_CUSTOM_ERROR none -> notqmail' || fail "reload did not name SLUICE_CUSTOM_ERROR"
run_qq -e 6 -m "$WORK/virus.eml"
expect "virus after the reload" 82 "DYour email was rejected because it contains the Test.Reload virus (#5.7.1)"
run_qq -m "$WORK/clean.eml"
expect "clean mail after the reload" 0

# a bad value: nothing of the file is applied, the old settings serve on
echo defer >"$ENV/SLUICE_ON_VIRUS"
echo 12x >"$ENV/SLUICE_MAX_INFLIGHT"
hup_and_wait 2
last_reload | grep -q 'SLUICE_MAX_INFLIGHT=12x: want a number.*running settings kept' ||
	fail "bad value not reported: $(last_reload)"
run_qq -e 6 -m "$WORK/virus.eml"
expect "virus after a failed reload (still reject)" 82

# a setting that needs a restart is reported, the rest applied
rm "$ENV/SLUICE_MAX_INFLIGHT"
echo 7 >"$ENV/SLUICE_WORKERS"
hup_and_wait 3
last_reload | grep -q 'SLUICE_WORKERS changed: takes effect at restart' ||
	fail "restart-only setting not reported: $(last_reload)"
run_qq -m "$WORK/virus.eml"
expect "virus: SLUICE_ON_VIRUS=defer applied with the reload" 71

# a misspelt name is named, not ignored in silence
echo 1 >"$ENV/SLUICE_TAG_CLAEN"
hup_and_wait 4
last_reload | grep -q 'SLUICE_ENVDIR: SLUICE_TAG_CLAEN: no such setting, ignored' ||
	fail "misspelt setting not reported: $(last_reload)"
rm "$ENV/SLUICE_TAG_CLAEN"

# an empty file unsets: back to the default (reject, no custom text)
: >"$ENV/SLUICE_ON_VIRUS"
: >"$ENV/SLUICE_CUSTOM_ERROR"
hup_and_wait 5
run_qq -m "$WORK/virus.eml"
expect "virus with both settings unset: the defaults" 31
daemon_running || fail "sluiced died during the reloads"
[ "$(count todo)" = 1 ] || fail "$(count todo) messages committed, want the 1 clean one"

# SIGHUP with no live setting changed (a cron job's) keeps the running snapshot:
# 300 of them leave the daemon's memory where it was
n=$(grep -c 'SIGHUP: settings' "$DLOG")
rss0=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DPID/status")
for i in $(seq 1 300); do
	kill -HUP "$DPID"
	wait_until 10 "reload $((n + i))" eval "[ \$(grep -c 'SIGHUP: settings' \"\$DLOG\") -ge $((n + i)) ]"
done
rss1=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DPID/status")
! last_reload | grep -q ' -> ' || fail "the last reload changed a live setting: $(last_reload)"
[ $((rss1 - rss0)) -lt 1024 ] || fail "300 reloads with nothing changed grew RSS from $rss0 to $rss1 kB"
say "ok: 300 reloads with nothing changed: RSS $rss0 -> $rss1 kB"
check_queues >/dev/null || fail "queue inconsistent after the reloads"
daemon_stop

# start with an unreadable envdir: exit 111 naming it
rm -rf "$ENV"
out=$(env QUEUE_BASE="$WORK" QUEUE_COUNT=1 SLUICE_ENVDIR="$ENV" SLUICE_SCANNERS=null \
	timeout 10 "$SLUICED" 2>&1) && fail "sluiced started with a missing SLUICE_ENVDIR"
[[ $out == *"SLUICE_ENVDIR=$ENV: cannot open"* ]] || fail "missing envdir not named: $out"
say "ok"
