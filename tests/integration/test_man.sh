#!/bin/bash
# test_man.sh - every man page in man/ is clean troff: no control bytes
# other than newline and tab (a "\f" written through a language's string
# escapes becomes a form feed and breaks the fonts that follow), and groff
# formats it without a warning (-ww: all warnings).
set -u
: "${SLUICE_SRC:?set SLUICE_SRC to the source directory}"
T=test_man
fail() { echo "$T: FAIL: $*" >&2; exit 1; }
command -v groff >/dev/null || fail "groff is not installed (Debian's groff-base)"
n=0
for f in "$SLUICE_SRC"/man/*.[1-9]; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	if LC_ALL=C grep -nP '[\x00-\x08\x0b-\x1f\x7f]' "$f" >/dev/null; then
		fail "${f##*/}: control bytes at line(s) $(LC_ALL=C grep -nP '[\x00-\x08\x0b-\x1f\x7f]' "$f" | cut -d: -f1 | tr '\n' ' ')"
	fi
	out=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$f" 2>&1)
	[ -z "$out" ] || fail "${f##*/}: groff warns: $(echo "$out" | head -3)"
done
[ "$n" -gt 5 ] || fail "only $n man pages found in $SLUICE_SRC/man"
echo "$T: ok: $n pages"
