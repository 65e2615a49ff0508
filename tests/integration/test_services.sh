#!/bin/bash
# test_services.sh - sluice-install-services, the trees it writes, and the
# services it makes running under daemontools.
#
#   layouts     the settings directory and service tree for stock qmail
#               (notqmail's convention detected), a non-default qmail home
#               (older qmail: no convention; control/defaultdelivery taken
#               into the rc) and IndiMail (qmail-send knows QUEUEDIR: no
#               namespace, base <home>/queue, convention 88/ERROR_FD), each
#               compared with data/install-*.ref (temp dir as @TMP@); run
#               scripts equal their template with this install's paths.
#               The convention is found by running the home's qmail-smtpd
#               (here a stand-in that implements one convention) on a stub
#               queue program.
#   idempotent  a dry run (-n) announces exactly what the real run makes and
#               makes nothing; a second run changes nothing (and takes the
#               queues from the settings directory); the administrator's
#               settings stay, edited run scripts are restored, -e and -c
#               update what they decide; -Q one queue; -r the site's rc
#   usage       bad numbers, relative paths, -r with -D, missing templates
#   supervise   (root) svscan starts the installed services: the real
#               sluiced with the real libclamav and the shipped DB, from the
#               settings directory, and a qmail-send stand-in per queue
#               (an rc holding lock/sendmutex with flock, as qmail-send
#               does), each in its mount namespace; sluiced sees both
#               qmail-sends (SLUICE_REQUIRE_SEND); mail through sluice-queue
#               gets 250 and the notqmail custom 554; the logs reach
#               multilog; the sockets belong to SLUICE_USER with mode 0660;
#               ERROR_FD with notqmail draws sluiced's warning; a user
#               outside the socket's group gets exit 71 and the message that
#               says why; sluice-qstat finds everything through the settings
#               directory alone; svc -dx stops it all, nothing is left.
# Needs SLUICE_BIN (build dir) and SLUICE_SRC (source dir), as CTest sets.
set -u

: "${SLUICE_BIN:?set SLUICE_BIN to the build directory}"
: "${SLUICE_SRC:?set SLUICE_SRC to the source directory}"
inst=$SLUICE_SRC/services/sluice-install-services
tpl=$SLUICE_SRC/services
ref=$SLUICE_SRC/tests/integration/data
sluiced=$SLUICE_BIN/router/sluiced
mk=$SLUICE_BIN/queue/sluice-mkqueue
qs=$SLUICE_BIN/queue/sluice-qstat
qqsim=$SLUICE_BIN/tests/qqsim
BIN=/opt/sluice/sbin	# -B: the run scripts' PATH, fixed for the golden trees

fail() {
	echo "test_services: FAIL: $*" >&2
	exit 1
}

[ -x "$inst" ] || fail "$inst is missing or not executable"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-services.XXXXXX") || fail "mktemp"
svscan_pid=
cleanup() {
	if [ -n "$svscan_pid" ]; then
		kill "$svscan_pid" 2>/dev/null
		for d in "$tmp"/sv/service/*/ "$tmp"/sv/service/*/log/; do
			svc -dx "$d" 2>/dev/null
		done
		sleep 1
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
for v in $(compgen -e); do
	case $v in
	SLUICE_BIN | SLUICE_SRC | SLUICE_TEST_*) ;;
	SLUICE_* | QUEUE_* | QUEUEDIR | CONFSPLIT | ERROR_FD) unset "$v" ;;
	esac
done

# run NAME EXIT CMD... - run, keep stdout in $tmp/out and stderr in $tmp/err
run() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = "$want" ] || { cat "$tmp/out" "$tmp/err" >&2; fail "$name: exit $rc, want $want"; }
}

# fake_home DIR FLAVOUR CONVENTION - a qmail home with a qmail-send that
# knows QUEUEDIR or not, and a qmail-smtpd stand-in that passes its queue
# program's custom text under CONVENTION only (as the real ones do)
fake_home() {
	local h=$1
	mkdir -p "$h/bin" "$h/control" || fail "mkdir $h"
	if [ "$2" = indimail ]; then
		printf '\177ELF\0fake\0QUEUEDIR\0todo\0' >"$h/bin/qmail-send"
	else
		printf '\177ELF\0fake\0todo\0' >"$h/bin/qmail-send"
	fi
	chmod 0755 "$h/bin/qmail-send"
	sed "s/@CONV@/$3/" >"$h/bin/qmail-smtpd" <<-'EOF'
	#!/bin/bash
	# qmail-smtpd stand-in: SMTP in, the queue program run as qmail-smtpd
	# runs it, its custom text passed under one convention only
	conv=@CONV@
	t=$(mktemp -d) || exit 111
	trap 'rm -rf "$t"' EXIT
	: >"$t/env"
	data=0
	printf '220 fake\r\n'
	while IFS= read -r l; do
		l=${l%$'\r'}
		if [ $data = 1 ]; then
			if [ "$l" != . ]; then printf '%s\n' "$l" >>"$t/msg"; continue; fi
			data=0
			printf '\0' >>"$t/env"
			: >"$t/err"
			case $conv in
			notqmail) "$QMAILQUEUE" <"$t/msg" 1<"$t/env" 6>"$t/err"; code=$?; want=82 ;;
			simscan) "$QMAILQUEUE" <"$t/msg" 1<"$t/env" 4>"$t/err"; code=$?; want=82 ;;
			indimail) eval '"$QMAILQUEUE" <"$t/msg" 1<"$t/env" '"${ERROR_FD:-2}"'>"$t/err"'
				code=$?; want=88 ;;
			*) "$QMAILQUEUE" <"$t/msg" 1<"$t/env"; code=$?; want=none ;;
			esac
			text=$(cat "$t/err")
			if [ $code = 0 ]; then printf '250 ok\r\n'
			elif [ $code = "$want" ] && [ "${text#D}" != "$text" ]; then printf '554 %s\r\n' "${text#D}"
			elif [ $code = 31 ]; then printf '554 mail server permanently rejected message (#5.3.0)\r\n'
			else printf '451 qq temporary problem (#4.3.0)\r\n'
			fi
			continue
		fi
		case $l in
		MAIL\ FROM:*) a=${l#*<}; printf 'F%s\0' "${a%>*}" >>"$t/env"; printf '250 ok\r\n' ;;
		RCPT\ TO:*) a=${l#*<}; printf 'T%s\0' "${a%>*}" >>"$t/env"; printf '250 ok\r\n' ;;
		DATA) data=1; : >"$t/msg"; printf '354 go ahead\r\n' ;;
		QUIT) printf '221 bye\r\n'; exit 0 ;;
		*) printf '250 ok\r\n' ;;
		esac
	done
	EOF
	chmod 0755 "$h/bin/qmail-smtpd"
}

# dump ROOT... - every entry under each ROOT (type, mode, path) and every
# file's contents but the run scripts', the temp dir as @TMP@
dump() {
	local r f
	for r; do
		echo "## ${r#"$tmp"/}"
		(cd "$r" && find . -printf '%y %m %p\n' | LC_ALL=C sort -k3)
		(cd "$r" && find . -type f ! -name run -print | LC_ALL=C sort) | while read -r f; do
			echo "== $f"
			cat "$r/$f"
		done
	done | sed "s|$tmp|@TMP@|g"
}

# check_tree NAME REF ROOT... - the trees (and $tmp/out, the installer's
# output) must equal data/REF
check_tree() {
	local name=$1 r=$2
	shift 2
	{ sed "s|$tmp|@TMP@|g" "$tmp/out"; dump "$@"; } >"$tmp/$r"
	if [ -n "${SLUICE_TEST_WRITE_REF-}" ]; then
		cp "$tmp/$r" "$ref/$r"
	fi
	diff -u "$ref/$r" "$tmp/$r" >&2 || fail "$name: the tree differs from data/$r"
}

# check_runs SVC CONF HOME - every run script is its template with this
# install's paths, passes sh -n, and no placeholder is left
check_runs() {
	local s t
	for s in "$1"/*/; do
		s=${s%/}
		case ${s##*/} in
		sluiced) t=sluiced ;;
		*) t=qmail-send-queue ;;
		esac
		sed -e "s|@SLUICE_SBINDIR@|$BIN|g" -e "s|@SLUICE_BINDIR@|$BIN|g" \
			-e "s|@SLUICE_CONFDIR@|$2|g" "$tpl/$t/run" | cmp -s - "$s/run" ||
			fail "${s##*/}/run is not its template with this install's paths"
		cmp -s "$tpl/$t/log/run" "$s/log/run" || fail "${s##*/}/log/run is not its template"
		for f in "$s/run" "$s/log/run" $( [ -f "$s/rc" ] && echo "$s/rc"); do
			sh -n "$f" || fail "sh -n $f"
			grep -q '@[A-Z_]*@' "$f" && fail "$f: a placeholder is left"
		done
	done
	return 0
}

# --- syntax of everything that gets installed, and of the installer
for f in "$inst" "$tpl"/*/run "$tpl"/*/log/run "$tpl"/qmail-send-queue/rc "$SLUICE_SRC/services/demo"; do
	sh -n "$f" || fail "sh -n $f"
done

# --- layout 1: stock qmail (notqmail) in a home of its own
fake_home "$tmp/qmail" stock notqmail
S1=$tmp/l1/service C1=$tmp/l1/sluice
run "install -n stock" 0 "$inst" -n -d "$S1" -C "$C1" -H "$tmp/qmail" -c 2 -B "$BIN"
[ -e "$S1" ] || [ -e "$C1" ] && fail "install -n made something"
grep -v '^/' "$tmp/out" | sort >"$tmp/plan"
grep -qx "$S1: would create 37, would update 0, would remove 0" "$tmp/out" ||
	fail "install -n summary: $(tail -1 "$tmp/out")"
run "install stock" 0 "$inst" -d "$S1" -C "$C1" -H "$tmp/qmail" -c 2 -B "$BIN"
grep -v '^/' "$tmp/out" | sort | diff -u "$tmp/plan" - >&2 ||
	fail "install did not do what install -n announced"
[ -s "$tmp/err" ] && fail "install stock: unexpected stderr: $(cat "$tmp/err")"
ls -A "$S1" | grep -q '^\.' && fail "install left a dot directory: $(ls -A "$S1")"
check_tree "stock" install-stock.ref "$C1" "$S1"
check_runs "$S1" "$C1" "$tmp/qmail"
grep -qx "SLUICE_CUSTOM_ERROR" <(ls "$C1") || fail "no SLUICE_CUSTOM_ERROR"
# every setting names a variable sluiced knows (sluiced --help lists them)
for f in "$C1"/*; do
	"$sluiced" --help | grep -q "^  ${f##*/} " || fail "sluiced does not know ${f##*/}"
done

# --- the installer as "cmake --install" configures it (its paths filled
# in) makes the same trees, defaulting to the install's sbin
cinst=$SLUICE_BIN/services/sluice-install-services
if [ -x "$cinst" ]; then
	run "configured installer" 0 "$cinst" -d "$tmp/l1c/service" -C "$C1" -t "$tpl" -H "$tmp/qmail" -c 2 -n
	run "configured installer" 0 "$cinst" -d "$tmp/l1c/service" -C "$tmp/l1c/sluice" -t "$tpl" \
		-H "$tmp/qmail" -c 2 -B "$BIN"
	diff <(cd "$S1" && find . -printf '%y %m %p\n' | sort) \
		<(cd "$tmp/l1c/service" && find . -printf '%y %m %p\n' | sort) >&2 ||
		fail "the configured installer made another tree"
	grep -q '@[A-Z_]*@' "$tmp/l1c/service/sluiced/run" && fail "configured installer: a placeholder is left"
	grep -qx "conf=$tmp/l1c/sluice" "$tmp/l1c/service/sluiced/run" || fail "configured installer: conf"
	run "configured installer, default bindir" 0 "$cinst" -d "$tmp/l1d/service" -C "$tmp/l1d/sluice" \
		-t "$tpl" -H "$tmp/qmail" -c 1
	sbin=$(sed -n 's/^cf_sbindir=.\(.*\).$/\1/p' "$cinst")
	grep -q "^PATH=$sbin:" "$tmp/l1d/service/sluiced/run" ||
		fail "configured installer: sluiced/run's PATH: $(grep ^PATH "$tmp/l1d/service/sluiced/run")"
fi

# --- a staged install run before its starter DB is in place: the error
# says which variable to set
mkdir -p "$tmp/nodbq"
"$mk" -q -C '' -b "$tmp/nodbq" -c 1 || fail "mkqueue nodbq"
run "no DB" 111 env QUEUE_BASE="$tmp/nodbq" QUEUE_COUNT=1 SLUICE_USER=root SLUICE_SCANNERS=clamav \
	SLUICE_CLAMDB="$tmp/nodb" timeout 20 "$sluiced"
grep -q "clamav database $tmp/nodb: No such file or directory (set SLUICE_CLAMDB to a signature directory)" \
	"$tmp/err" || fail "no DB: $(cat "$tmp/err")"

# --- layout 2: an older qmail in /opt-like home, no custom errors, the
# site's default delivery from control/defaultdelivery
fake_home "$tmp/opt/qmail" stock none
echo ./Mailbox >"$tmp/opt/qmail/control/defaultdelivery"
S2=$tmp/l2/service C2=$tmp/l2/sluice
run "install home" 0 "$inst" -d "$S2" -C "$C2" -H "$tmp/opt/qmail" -b "$tmp/opt/qmail/queues" \
	-c 3 -S 2 -B "$BIN"
check_tree "non-default home" install-home.ref "$C2" "$S2"
check_runs "$S2" "$C2" "$tmp/opt/qmail"

# --- layout 3: IndiMail (its qmail-send reads QUEUEDIR; exit 88 on ERROR_FD)
fake_home "$tmp/indimail" indimail indimail
S3=$tmp/l3/service C3=$tmp/l3/sluice
run "install indimail" 0 "$inst" -d "$S3" -C "$C3" -H "$tmp/indimail" -c 2 -B "$BIN"
check_tree "indimail" install-indimail.ref "$C3" "$S3"
check_runs "$S3" "$C3" "$tmp/indimail"

# --- the same with simscan's convention, found the same way
fake_home "$tmp/sagredo" stock simscan
run "install simscan" 0 "$inst" -n -d "$tmp/l4/service" -C "$tmp/l4/sluice" -H "$tmp/sagredo" -B "$BIN"
grep -q '^sluice-install-services: qmail home .* (stock); custom errors: simscan (detected from' \
	"$tmp/out" || fail "simscan not detected: $(head -1 "$tmp/out")"

# --- a second run changes nothing, and finds the queues in the settings
snapshot() {
	(cd "$tmp/l1" && find . -printf '%y %m %s %T@ %p\n' | sort -k5) >"$1"
	(cd "$tmp/l1" && find . -type f -print | sort | xargs cat) >>"$1"
}
snapshot "$tmp/before"
sleep 1	# an mtime that changes would show
run "install again" 0 "$inst" -d "$S1" -C "$C1" -H "$tmp/qmail" -B "$BIN"
[ "$(tail -n +2 "$tmp/out")" = "$S1: created 0, updated 0, removed 0" ] ||
	fail "install again printed: $(cat "$tmp/out")"
grep -q "custom errors: notqmail (kept from $C1)" "$tmp/out" || fail "install again: $(head -1 "$tmp/out")"
snapshot "$tmp/after"
diff -u "$tmp/before" "$tmp/after" >&2 || fail "install again changed the tree"

# --- the administrator's settings stay; run scripts are restored; options
# update what they decide
echo alice >"$C1/SLUICE_USER"
echo 9 >"$C1/ERROR_FD"
echo "# local edit" >>"$S1/sluiced/run"
chmod 0644 "$S1/qmail-send-queue1/log/run"
run "install 3 queues" 0 "$inst" -d "$S1" -C "$C1" -H "$tmp/qmail" -B "$BIN" -c 3 -e simscan
[ "$(cat "$C1/SLUICE_USER")" = alice ] || fail "install overwrote SLUICE_USER"
[ "$(cat "$C1/SLUICE_CUSTOM_ERROR")" = simscan ] || fail "-e simscan not set"
[ -e "$C1/ERROR_FD" ] && fail "ERROR_FD kept with the simscan convention"
[ "$(cat "$C1/QUEUE_COUNT")" = 3 ] || fail "QUEUE_COUNT not updated"
[ "$(cat "$S1/qmail-send-queue3/env/QUEUEDIR")" = "$tmp/qmail/queues/queue3" ] || fail "queue3"
grep -qx "update $S1/sluiced/run" "$tmp/out" || fail "no update line for sluiced/run"
grep -qx "fix mode of $S1/qmail-send-queue1/log/run to 0755" "$tmp/out" || fail "no fix mode line"
grep -qx "remove $C1/ERROR_FD" "$tmp/out" || fail "no remove line for ERROR_FD"
run "install 2 queues" 0 "$inst" -d "$S1" -C "$C1" -H "$tmp/qmail" -B "$BIN" -c 2
grep -q "qmail-send-queue3 is not one of the queues now" "$tmp/err" || fail "queue3 not named"
[ -d "$S1/qmail-send-queue3" ] || fail "install removed qmail-send-queue3"

# --- one queue (-Q), and the site's rc (-r)
printf '#!/bin/sh\nexec qmail-start ./Maildir/ splogger qmail\n' >"$tmp/site-rc"
chmod 0755 "$tmp/site-rc"
run "install -Q -r" 0 "$inst" -d "$tmp/l5/service" -C "$tmp/l5/sluice" -H "$tmp/qmail" -B "$BIN" \
	-Q "$tmp/solo/" -r "$tmp/site-rc"
[ "$(cat "$tmp/l5/sluice/QUEUEDIR")" = "$tmp/solo" ] || fail "-Q: QUEUEDIR"
[ -e "$tmp/l5/sluice/QUEUE_BASE" ] && fail "-Q: QUEUE_BASE written"
[ "$(cat "$tmp/l5/service/qmail-send-solo/env/QMAIL_RC")" = "$tmp/site-rc" ] || fail "-r: QMAIL_RC"
[ -e "$tmp/l5/service/qmail-send-solo/rc" ] && fail "-r: an rc written anyway"
grep -q "logs through splogger" "$tmp/err" || fail "-r: no splogger warning"

# --- an edge relay (-R): remote queues only, no qmail-send services; a
# second run without -R finds it in the settings; an existing qmail-send
# service is left alone with a note
run "install -R" 0 "$inst" -d "$tmp/l7/service" -C "$tmp/l7/sluice" -H "$tmp/qmail" -B "$BIN" -c 2 \
	-R "192.0.2.1:628,[2001:db8::1]:628"
[ "$(cat "$tmp/l7/sluice/SLUICE_QMQP")" = "192.0.2.1:628,[2001:db8::1]:628" ] || fail "-R: SLUICE_QMQP"
[ "$(cat "$tmp/l7/sluice/SLUICE_LOCAL_QUEUES")" = spool ] || fail "-R: SLUICE_LOCAL_QUEUES"
[ -d "$tmp/l7/service/sluiced" ] || fail "-R: no sluiced service"
ls -d "$tmp/l7/service"/qmail-send-* 2>/dev/null && fail "-R: qmail-send services made"
grep -q "edge relay" "$tmp/err" || fail "-R: no note that it is an edge relay"
# the settings sluiced reads are the ones its --help lists
"$sluiced" --help 2>&1 | grep -q '^ *SLUICE_LOCAL_QUEUES ' || fail "sluiced --help lacks SLUICE_LOCAL_QUEUES"
run "install again, no -R" 0 "$inst" -d "$tmp/l7/service" -C "$tmp/l7/sluice" -H "$tmp/qmail" -B "$BIN"
ls -d "$tmp/l7/service"/qmail-send-* 2>/dev/null && fail "second run: qmail-send services made on an edge"
grep -qx "$tmp/l7/service: created 0, updated 0, removed 0" "$tmp/out" || fail "second run on an edge changed something: $(cat "$tmp/out")"
mkdir "$tmp/l7/service/qmail-send-queue1"
run "install again, an old qmail-send" 0 "$inst" -d "$tmp/l7/service" -C "$tmp/l7/sluice" -H "$tmp/qmail" -B "$BIN"
grep -q "qmail-send-queue1 is not needed on an edge relay" "$tmp/err" || fail "no note on the old qmail-send: $(cat "$tmp/err")"
run "-R two lines" 2 "$inst" -n -d "$S1" -C "$C1" -R "192.0.2.1:628
192.0.2.2:628"
run "-R a qmqpservers file" 0 "$inst" -d "$tmp/l8/service" -C "$tmp/l8/sluice" -H "$tmp/qmail" -B "$BIN" \
	-R /var/qmail/control/qmqpservers
[ "$(cat "$tmp/l8/sluice/SLUICE_QMQP")" = /var/qmail/control/qmqpservers ] || fail "-R file: SLUICE_QMQP"

# --- a base inside qmail's own queue: accepted, with a warning
run "base in queue/" 0 "$inst" -n -d "$tmp/l6/service" -C "$tmp/l6/sluice" -H "$tmp/qmail" \
	-B "$BIN" -b "$tmp/qmail/queue"
grep -q "is inside qmail's own queue" "$tmp/err" || fail "no warning for a base in queue/"

# --- bad usage
run "bad count" 2 "$inst" -n -d "$S1" -C "$C1" -c 0
run "bad start" 2 "$inst" -n -d "$S1" -C "$C1" -S x
run "relative dir" 2 "$inst" -n -d service -C "$C1"
run "relative confdir" 2 "$inst" -n -d "$S1" -C sluice
run "bad flavour" 2 "$inst" -n -d "$S1" -C "$C1" -m qmail
run "bad convention" 2 "$inst" -n -d "$S1" -C "$C1" -e fd5
run "-r with -D" 2 "$inst" -n -d "$S1" -C "$C1" -r "$tmp/site-rc" -D ./Mailbox
run "rc not executable" 1 "$inst" -n -d "$S1" -C "$C1" -r "$tmp/nothing"
run "bad option" 2 "$inst" -x
run "extra argument" 2 "$inst" -n -d "$S1" extra
run "--help" 0 "$inst" --help
grep -q '^usage: sluice-install-services' "$tmp/out" || fail "--help"
run "no templates" 1 "$inst" -n -d "$S1" -C "$C1" -t "$tmp/nothing"

# --- supervise: the installed services running (root: mount namespaces,
# sockets given to another user)
if [ "$(id -u)" != 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
	echo "test_services: not root or no mount namespaces: services not started"
	echo "test_services: ok"
	exit 0
fi
for p in svscan svc svok multilog envdir setpriv; do
	command -v $p >/dev/null || fail "$p is not installed (services/install-deps test)"
done
H=$tmp/sv/qmail SV=$tmp/sv/service C=$tmp/sv/sluice
mkdir -p "$H/queue" "$tmp/sv/run" || fail mkdir
fake_home "$H" stock notqmail
run "mkqueue" 0 "$mk" -q -C '' -b "$H/queues" -c 2
# the queue user: nobody (no qmail users here); qmail-send's own parts
# (info/ local/ remote/ bounce/ lock/sendmutex) stay root's, as qmails'
for q in "$H"/queues/queue1 "$H"/queues/queue2; do
	chown nobody:nogroup "$q" "$q"/pid "$q"/mess "$q"/mess/* "$q"/intd "$q"/todo "$q"/lock ||
		fail "chown $q"
done
# qmail-send's stand-in: takes the lock qmail-send takes and keeps it
cat >"$tmp/sv/fake-rc" <<-'EOF'
	#!/bin/sh
	cd "$QMAIL_QUEUE" || exit 111
	exec 9<lock/sendmutex
	flock -n 9 || { echo "fake qmail-send: sendmutex is taken"; exit 111; }
	echo "fake qmail-send: serving $QUEUEDIR on $QMAIL_QUEUE, $(ls todo | wc -l) in todo"
	exec sleep 600
EOF
chmod 0755 "$tmp/sv/fake-rc"
run "install sv" 0 "$inst" -d "$SV" -C "$C" -H "$H" -c 2 -r "$tmp/sv/fake-rc" -B "$SLUICE_BIN/router"
grep -q "custom errors: notqmail (detected from $H/bin/qmail-smtpd)" "$tmp/out" ||
	fail "sv: convention: $(head -1 "$tmp/out")"
echo nobody >"$C/SLUICE_USER"
echo nogroup >"$C/SLUICE_SOCKET_GROUP"
echo "$tmp/sv/run/sock/sluiced.sock" >"$C/SLUICE_SOCKET"
echo clamav,attach >"$C/SLUICE_SCANNERS"
echo "$SLUICE_SRC/scan/db" >"$C/SLUICE_CLAMDB"
echo 1 >"$C/SLUICE_REQUIRE_SEND"
echo 6 >"$C/ERROR_FD"	# a wrong guess: sluiced must say so
chmod 0711 "$tmp" "$tmp/sv" "$tmp/sv/run"	# nobody must reach the socket's directory
svscan "$SV" >"$tmp/svscan.log" 2>&1 &
svscan_pid=$!
sock=$tmp/sv/run/sock/sluiced.sock
live() { "$qs" -C "$C" --live 2>/dev/null; }
for _ in $(seq 150); do
	live | grep -q '^sluiced: queue queue1 .* send 1$' && live | grep -q '^sluiced: queue queue2 .* send 1$' &&
		break
	sleep 0.2
done
live >"$tmp/live" || fail "sv: sluiced does not answer: $(cat "$SV"/sluiced/log/main/current 2>&1)"
grep -q '^sluiced: queue queue1 .* send 1$' "$tmp/live" && grep -q '^sluiced: queue queue2 .* send 1$' "$tmp/live" ||
	fail "sv: sluiced does not see both qmail-sends: $(grep queue "$tmp/live"; cat "$SV"/qmail-send-queue*/log/main/current)"
[ "$(stat -c '%U %G %a' "$sock")" = "nobody nogroup 660" ] || fail "sv: socket $(stat -c '%U %G %a' "$sock")"
[ "$(stat -c '%U %G %a' "$sock.stats")" = "nobody nogroup 660" ] || fail "sv: stats socket"
[ "$(stat -c '%U %a' "$(dirname "$sock")")" = "nobody 755" ] || fail "sv: socket directory"
[ -e "$H/queue/todo" ] && fail "sv: a queue's bind mount leaked to the host"
# mail, as qmail-smtpd sends it
run "sv clean" 0 env SLUICE_SOCKET="$sock" "$qqsim" -p "$SLUICE_BIN/router/sluice-queue" \
	-m "$SLUICE_SRC/services/demo-mail/1-clean.eml" -e 6 -f alice@example.org -r bob@example.net
grep -q '^exit 0 reply "250 ok"' "$tmp/out" || fail "sv clean: $(cat "$tmp/out")"
run "sv eicar" 82 env SLUICE_SOCKET="$sock" "$qqsim" -p "$SLUICE_BIN/router/sluice-queue" \
	-m "$SLUICE_SRC/services/demo-mail/3-eicar-zip.eml" -e 6 -f alice@example.org -r bob@example.net
grep -q '^exit 82 reply "554 Your email was rejected because it contains the Sluice.Test.EICAR.UNOFFICIAL virus' \
	"$tmp/out" || fail "sv eicar: $(cat "$tmp/out")"
# a local user outside the socket's group
printf 'Fuser@localhost\0Troot@localhost\0\0' >"$tmp/sv/env"
run "sv local user" 71 setpriv --reuid 4242 --regid 4242 --clear-groups env SLUICE_SOCKET="$sock" \
	"$SLUICE_BIN/router/sluice-queue" <"$SLUICE_SRC/services/demo-mail/1-clean.eml" 1<"$tmp/sv/env"
grep -qx "sluice-queue: cannot connect to $sock: Permission denied (uid 4242 is not in group nogroup; local injection should use qmail-queue, see sluice-queue(8))" \
	"$tmp/err" || fail "sv local user: $(cat "$tmp/err")"
# sluice-qstat with nothing but the settings directory, as root and as nobody
for who in root nobody; do
	as=()
	[ $who = nobody ] && as=(setpriv --reuid nobody --regid nogroup --clear-groups)
	run "sv qstat $who" 0 "${as[@]}" "$qs" -C "$C"
	grep -qx 'total: messages in queue: 1' "$tmp/out" || fail "sv qstat $who: $(cat "$tmp/out")"
	run "sv qstat --json $who" 0 "${as[@]}" "$qs" -C "$C" --json
	grep -q '"total":{"messages":1,"todo":1,"intd":1}' "$tmp/out" || fail "sv qstat --json $who: $(cat "$tmp/out")"
	run "sv qstat --live $who" 0 "${as[@]}" "$qs" -C "$C" --live
	grep -qx 'sluiced: verdict_infected 1' "$tmp/out" || fail "sv qstat --live $who: $(cat "$tmp/out")"
	run "sv qstat --prometheus $who" 0 "${as[@]}" "$qs" -C "$C" --prometheus
	perl "$SLUICE_SRC/tests/integration/promcheck.pl" "$tmp/out" >/dev/null ||
		fail "sv qstat --prometheus $who: not valid"
	grep -qx 'sluice_up 1' "$tmp/out" && grep -qx 'sluice_queue_send_running{queue="queue1"} 1' "$tmp/out" &&
		grep -qx 'sluice_clamav_signatures 4' "$tmp/out" || fail "sv qstat --prometheus $who: figures"
	run "sv qstat --list $who" 0 "${as[@]}" "$qs" -C "$C" --list
	grep -qE '^queue[12]: [0-9]+ [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT  #[0-9]+  [0-9]+  <alice@example.org> $' \
		"$tmp/out" && grep -qP '^queue[12]: \ttodo\tbob@example.net$' "$tmp/out" ||
		fail "sv qstat --list $who: $(cat "$tmp/out")"
done
# the logs reached multilog
sleep 1
grep -q 'sluiced: warning: ERROR_FD=6 is ignored with SLUICE_CUSTOM_ERROR=notqmail' \
	"$SV/sluiced/log/main/current" || fail "sv: no ERROR_FD warning in sluiced's log"
grep -q 'msg queue[12] id [0-9]* .* verdict infected action reject exit 31/82' \
	"$SV/sluiced/log/main/current" || fail "sv: no message line in sluiced's log"
for n in 1 2; do
	grep -q "fake qmail-send: serving $H/queues/queue$n on $H/queue" \
		"$SV/qmail-send-queue$n/log/main/current" || fail "sv: qmail-send-queue$n's log"
done
# stop everything the way an admin does
pids=$(svstat "$SV"/*/ "$SV"/*/log/ | sed -n 's/.*(pid \([0-9]*\)).*/\1/p')
[ "$(echo $pids | wc -w)" = 6 ] || fail "sv: not every service is up: $(svstat "$SV"/*/ "$SV"/*/log/)"
kill "$svscan_pid"
wait "$svscan_pid" 2>/dev/null
svscan_pid=
# svc_down DIR... - svc -dx, then wait until no supervise answers
svc_down() {
	local d alive
	svc -dx "$@"
	for _ in $(seq 150); do
		alive=0
		for d; do
			svok "$d" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && return 0
		sleep 0.1
	done
	fail "sv: a supervise is still running in $*"
}
svc_down "$SV"/*/	# the services first, so their last lines reach the logs
svc_down "$SV"/*/log/
[ -S "$sock" ] && fail "sv: sluiced left its socket"
for p in $pids; do
	kill -0 "$p" 2>/dev/null && fail "sv: pid $p is still running: $(ps -o args= -p "$p")"
done
grep -q 'sluiced: stopped: accepted 1 rejected 1' "$SV/sluiced/log/main/current" ||
	fail "sv: sluiced did not drain and stop: $(tail -3 "$SV/sluiced/log/main/current")"

echo "test_services: ok"
