#!/bin/bash
# test_deb.sh - the Debian package, built and installed on this machine.
#
#   build     dpkg-buildpackage -us -uc -b on a copy of the tree (git's
#             files only), so the work tree gets no build output
#   contents  the programs, man pages, starter DB, templates, installer and
#             example unit with the modes a relay needs; nothing in /etc or
#             /var (the package creates no settings, queue or service)
#   install   dpkg -i: the maintainer scripts run and create nothing (no
#             /etc/sluice, no user, no service, no process started)
#   use       the demo against the installed programs and starter DB;
#             sluiced with no SLUICE_CLAMDB finds the DB where the package
#             put it; sluice-install-services from the package fills in
#             /usr/sbin and /etc/sluice (into a temp tree here)
#   remove    dpkg -r: every file of the package gone, the status
#             not-installed, and the same names under /etc /usr /var /opt
#             /srv /run as before the install
# Needs root and the build tools (services/install-deps test).  Skips when
# a package called sluice is already installed (it is not this test's to
# remove).  Takes about a minute and a half on 2 cores (a Release build).
set -u
src=${SLUICE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

fail() {
	echo "test_deb: FAIL: $*" >&2
	exit 1
}
skip() {
	echo "test_deb: skipped: $*"
	exit 0
}

[ "$(id -u)" = 0 ] || skip "not root (dpkg -i needs it)"
for p in dpkg-buildpackage dh fakeroot cmake ninja; do
	command -v $p >/dev/null || fail "$p is missing (services/install-deps test)"
done
st=$(dpkg-query -W -f='${Status}' sluice 2>/dev/null || true)
case $st in
*" installed" | *config-files*) skip "a package sluice is already installed ($st)" ;;
esac
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-deb.XXXXXX") || fail mktemp
installed=0
cleanup() {
	[ "$installed" = 1 ] && dpkg -r sluice >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

# snapshot FILE - the names under the system's directories (not dpkg's own
# records, logs and caches, which an install changes by design)
snapshot() {
	find /etc /usr /opt /srv /run /var -xdev \
		\( -path /var/lib/dpkg -o -path /var/log -o -path /var/cache -o -path /var/tmp \
		-o -path /run/user -o -path /var/lib/apt -o -path /var/lib/systemd -o -path /tmp \) -prune \
		-o -print 2>/dev/null | LC_ALL=C sort >"$1"
}

echo "test_deb: copying the tree"
mkdir "$work/sluice"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) |
		tar -C "$work/sluice" -xf - || fail "cannot copy the tree"
else
	(cd "$src" && tar --exclude=./build --exclude='./obj-*' -cf - .) | tar -C "$work/sluice" -xf - ||
		fail "cannot copy the tree"
fi

echo "test_deb: dpkg-buildpackage -us -uc -b"
t0=$(date +%s)
(cd "$work/sluice" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; fail "dpkg-buildpackage failed"; }
deb=$(ls "$work"/sluice_*.deb 2>/dev/null | head -1)
[ -f "$deb" ] || fail "no .deb built"
echo "test_deb: built ${deb##*/} in $(($(date +%s) - t0)) s"

# --- contents and modes
dpkg-deb -c "$deb" | awk '{ print $1, $6 }' | sed 's|^\(\S*\) \./|\1 /|' >"$work/contents"
want() {	# want MODE PATH
	grep -qxF -e "$1 $2" "$work/contents" || fail "package: want $1 $2, have: $(grep " $2\$" "$work/contents")"
}
want -rwxr-xr-x /usr/bin/sluice-queue
want -rwxr-xr-x /usr/bin/sluice-qstat
want -rwxr-xr-x /usr/bin/sluice-mkqueue
want -rwxr-xr-x /usr/sbin/sluiced
want -rwxr-xr-x /usr/sbin/sluice-install-services
want -rw-r--r-- /usr/share/sluice/db/sluice-eicar.ndb
want -rw-r--r-- /usr/share/sluice/db/sluice-eicar.hdb
want -rwxr-xr-x /usr/share/sluice/services/sluiced/run
want -rwxr-xr-x /usr/share/sluice/services/sluiced/log/run
want -rwxr-xr-x /usr/share/sluice/services/qmail-send-queue/run
want -rwxr-xr-x /usr/share/sluice/services/qmail-send-queue/rc
want -rw-r--r-- /usr/share/sluice/services/sluiced/env/SLUICE_SOCKET
want -rw-r--r-- /usr/share/sluice/systemd/sluiced.service
want -rwxr-xr-x /usr/share/sluice/demo/demo
want -rw-r--r-- /usr/share/man/man8/sluice-qstat.8.gz
want -rw-r--r-- /usr/share/man/man7/sluice.7.gz
grep -E ' /(etc|var|run|lib/systemd)/' "$work/contents" && fail "package: files outside /usr"
grep -q 'SLUICE_ENVDIR=/etc/sluice' <(dpkg-deb --fsys-tarfile "$deb" |
	tar -xOf - ./usr/share/sluice/systemd/sluiced.service) || fail "package: the unit's settings path"

# --- install: nothing created, nothing started
snapshot "$work/before"
had_conf=0
[ -e /etc/sluice ] && had_conf=1
dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1 || { cat "$work/dpkg-i.log" >&2; fail "dpkg -i failed"; }
installed=1
[ "$had_conf" = 0 ] && [ -e /etc/sluice ] && fail "install created /etc/sluice"
# (other sluiced may run on this machine, from build trees: look for ours)
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/exe" 2>/dev/null)" = /usr/sbin/sluiced ] && fail "install started sluiced (${p#/proc/})"
done
/usr/bin/sluice-qstat --help | grep -q "else /etc/sluice if it exists" ||
	fail "sluice-qstat: the compiled settings path is not /etc/sluice"

# --- use: the demo on the installed programs
echo "test_deb: the demo against the installed programs"
SLUICE_ENVDIR= /usr/share/sluice/demo/demo -i >"$work/demo.log" 2>&1 ||
	{ cat "$work/demo.log" >&2; fail "the demo failed on the installed programs"; }
grep -qE '^2-eicar-body.eml +exit 82 +554 .*EICAR' "$work/demo.log" || fail "demo: $(cat "$work/demo.log")"
grep -q "shipped DB: /usr/share/sluice/db" "$work/demo.log" || fail "demo: not the installed DB"

# sluiced without SLUICE_CLAMDB: the system's DB if freshclam filled one,
# else the starter DB at the path the build compiled in
sysdb=$(ls /var/lib/clamav/*.cvd /var/lib/clamav/*.cld /var/lib/clamav/*.ndb \
	/var/lib/clamav/*.hdb 2>/dev/null | head -1)
mkdir -p "$work/q"
/usr/bin/sluice-mkqueue -q -C '' -b "$work/q" -c 1 || fail "sluice-mkqueue"
env -i PATH=/usr/sbin:/usr/bin:/bin SLUICE_USER=root QUEUE_BASE="$work/q" QUEUE_COUNT=1 \
	SLUICE_SCANNERS=clamav /usr/sbin/sluiced 2>"$work/sluiced.log" &
dpid=$!
for _ in $(seq 100); do
	[ -S "$work/q/sluiced.sock.stats" ] && break
	kill -0 $dpid 2>/dev/null || break
	sleep 0.1
done
/usr/bin/sluice-qstat -C '' -b "$work/q" -c 1 --live >"$work/live" 2>&1
kill -TERM $dpid 2>/dev/null
wait $dpid
if [ -n "$sysdb" ]; then
	grep -qx 'sluiced: clamav_db /var/lib/clamav' "$work/live" || fail "sluiced's DB: $(cat "$work/live" "$work/sluiced.log")"
else
	grep -qx 'sluiced: clamav_db /usr/share/sluice/db' "$work/live" ||
		fail "sluiced's DB: $(cat "$work/live" "$work/sluiced.log")"
fi

# the installer from the package: its templates, /usr/sbin, /etc/sluice by default
/usr/sbin/sluice-install-services --help | grep -q '^usage: sluice-install-services' || fail "installer --help"
mkdir -p "$work/qmail/bin"
/usr/sbin/sluice-install-services -d "$work/service" -C "$work/conf" -H "$work/qmail" -c 1 \
	>"$work/inst.log" 2>&1 || { cat "$work/inst.log" >&2; fail "the installed installer failed"; }
grep -q '^PATH=/usr/sbin:/usr/bin:' "$work/service/sluiced/run" || fail "sluiced/run: PATH"
grep -qx "conf=$work/conf" "$work/service/sluiced/run" || fail "sluiced/run: the settings path"
SLUICE_ENVDIR= /usr/sbin/sluice-install-services -n -d "$work/service2" -H "$work/qmail" -c 1 \
	>"$work/inst2.log" 2>&1 || fail "installer -n: $(cat "$work/inst2.log")"
grep -qx 'create directory /etc/sluice' "$work/inst2.log" || [ "$had_conf" = 1 ] ||
	fail "the installed installer's default settings directory is not /etc/sluice"

# --- remove: nothing of the package left
dpkg -r sluice >"$work/dpkg-r.log" 2>&1 || { cat "$work/dpkg-r.log" >&2; fail "dpkg -r failed"; }
installed=0
st=$(dpkg-query -W -f='${Status}' sluice 2>/dev/null || true)
case $st in
*not-installed* | '') ;;
*) fail "after dpkg -r the status is \"$st\"" ;;
esac
awk '$1 !~ /^d/ { print $2 }' "$work/contents" | while read -r f; do
	[ -e "$f" ] && echo "$f"
done >"$work/left"
[ -s "$work/left" ] && fail "dpkg -r left: $(cat "$work/left")"
snapshot "$work/after"
diff "$work/before" "$work/after" >"$work/diff" || fail "the system's names changed: $(head -20 "$work/diff")"
echo "test_deb: ok"
