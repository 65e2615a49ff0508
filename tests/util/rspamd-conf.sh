#!/bin/sh
# rspamd-conf.sh DIR PORT CACHEDIR - write a test rspamd configuration in DIR:
# one normal worker on 127.0.0.1:PORT, no controller, no network checks (the
# resolver points at 127.0.0.1:1, where nothing answers, so DNS fails at once
# instead of waiting), logs in DIR.  Test rules: a Subject containing
# "sluice-tag-me" scores 50 (add header at 30), "sluice-soft" is a soft
# reject with the message "try later", a Helo header (the request's, the
# client's HELO) of helo.sluice-test.example scores 50; milter headers X-Spam-Status and
# X-Spamd-Bar.  GTUBE is rspamd's own reject.
#
# Start:  rspamd -f -i -u USER -g GROUP -c DIR/rspamd.conf --var=CONFDIR=/etc/rspamd \
#           --var=LOCAL_CONFDIR=DIR --var=DBDIR=DIR/db --var=RUNDIR=DIR/run --var=LOGDIR=DIR
# rspamd compiles hyperscan tables at start and keeps them in its DBDIR:
# about 20 s the first time on a small VM, about 1.5 s when DBDIR already
# holds them.  So DIR/db starts as a copy of CACHEDIR (kept across runs in
# the build tree), and
#   rspamd-conf.sh --save DIR CACHEDIR
# (after a successful start) fills CACHEDIR from DIR/db when it is empty.
set -eu
if [ "$1" = --save ]; then
	dir=$2 cache=$3
	mkdir -p "$cache"
	if [ -z "$(ls -A "$cache")" ]; then
		# one writer wins; a half-copied cache only costs a slow start
		tmp=$(mktemp -d "$cache.XXXXXX")
		cp "$dir"/db/*.hs* "$tmp"/ 2>/dev/null || true
		mv "$tmp"/* "$cache"/ 2>/dev/null || true
		rm -rf "$tmp"
	fi
	exit 0
fi
dir=$1 port=$2 cache=$3
mkdir -p "$dir/db" "$dir/run" "$dir/local.d" "$cache"
cp "$cache"/* "$dir/db/" 2>/dev/null || true
cat >"$dir/rspamd.conf" <<EOT
.include "\$CONFDIR/common.conf"
options {
    pidfile = "\$RUNDIR/rspamd.pid";
    .include "\$CONFDIR/options.inc"
    disable_hyperscan = true;
    dns { nameserver = ["127.0.0.1:1"]; timeout = 0.2s; retransmits = 1; sockets = 1; }
}
logging { type = "file"; filename = "\$LOGDIR/rspamd.log"; level = "warning"; }
worker "normal" { bind_socket = "127.0.0.1:$port"; count = 1; mime = true; }
EOT
cat >"$dir/local.d/actions.conf" <<'EOT'
reject = 150;
add_header = 30;
greylist = null;
rewrite_subject = null;
EOT
cat >"$dir/local.d/multimap.conf" <<'EOT'
SLUICE_TAG { type = "header"; header = "Subject"; regexp = true; map = "${LOCAL_CONFDIR}/tag.map"; score = 50.0; }
SLUICE_SOFT { type = "header"; header = "Subject"; regexp = true; map = "${LOCAL_CONFDIR}/soft.map"; action = "soft reject"; message = "try later"; }
SLUICE_HELO { type = "helo"; map = "${LOCAL_CONFDIR}/helo.map"; score = 50.0; }
EOT
echo 'helo.sluice-test.example' >"$dir/helo.map"
echo '/sluice-tag-me/' >"$dir/tag.map"
echo '/sluice-soft/' >"$dir/soft.map"
cat >"$dir/local.d/milter_headers.conf" <<'EOT'
use = ["x-spam-status", "x-spamd-bar"];
skip_local = false;
skip_authenticated = false;
EOT
