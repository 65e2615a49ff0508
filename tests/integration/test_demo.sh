#!/bin/bash
# test_demo.sh - README's first command, on this build: services/demo -B
# runs the real sluiced (libclamav, the shipped DB), submits the sample mail
# through sluice-queue as qmail-smtpd does, and must see 250 for the clean
# message and the notqmail custom 554 with the virus's or attachment's name
# for the three others (the demo itself exits 1 otherwise); its sluice-qstat
# --list shows the one accepted message.  tests/package/test_deb.sh runs the
# same demo against the installed Debian package (-i).
# Needs SLUICE_BIN (build dir) and SLUICE_SRC (source dir), as CTest sets.
set -u
: "${SLUICE_BIN:?set SLUICE_BIN to the build directory}"
: "${SLUICE_SRC:?set SLUICE_SRC to the source directory}"

fail() {
	echo "test_demo: FAIL: $*" >&2
	exit 1
}

out=$(mktemp "${TMPDIR:-/tmp}/sluice-demo-out.XXXXXX") || fail mktemp
trap 'rm -f "$out"; rm -rf "$SLUICE_BIN/demo"' EXIT
"$SLUICE_SRC/services/demo" -B "$SLUICE_BIN" >"$out" 2>&1 || { cat "$out" >&2; fail "the demo failed"; }
grep -qE '^1-clean.eml +exit 0 +250 ok$' "$out" || fail "clean: $(grep clean "$out")"
grep -qE '^2-eicar-body.eml +exit 82 +554 Your email was rejected because it contains the Sluice.Test.EICAR.UNOFFICIAL virus \(#5.7.1\)$' \
	"$out" || fail "eicar: $(grep eicar-body "$out")"
grep -qE '^4-banned-attachment.eml +exit 82 +554 .*bad attachment: invoice.pdf.exe' "$out" ||
	fail "banned: $(grep banned "$out")"
grep -qE '^queue[1-4]: [0-9]+ [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT  #[0-9]+  [0-9]+  <alice@example.org> $' "$out" ||
	fail "no --list line for the accepted message"
grep -q '^sluiced: stopped: accepted 1 rejected 3' "$out" || fail "the daemon did not stop cleanly"
echo "test_demo: ok"
