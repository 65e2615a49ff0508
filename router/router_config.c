/*
 * router_config.c - sluiced's settings, from the environment.
 *
 *	router_config_env() reads every variable router_config_help() lists,
 *	with the defaults printed there, and checks them.  Numbers must be
 *	plain decimals; a bad value is an error naming the variable, never a
 *	silent default.
 *
 *	SLUICE_ENVDIR names a directory in daemontools envdir(8) format (a
 *	file per variable, its first line the value, an empty file unsets
 *	it).  router_envdir_start() puts it into the environment at start;
 *	router_config_reload() (SIGHUP) reads it again, without touching the
 *	environment other threads may read, and applies what can change in a
 *	running daemon: limits, timeouts, actions, custom-error convention,
 *	MIN_FREE, SLUICE_MAX_BACKLOG.  Other changes are reported as needing a
 *	restart.
 */
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"

static const struct {
	const char *name, *def, *help;
} vars[] = {
	{ "QUEUE_BASE", QUEUE_BASE_DEFAULT, "directory holding queue<N>" },
	{ "QUEUE_COUNT", "5", "number of queues" },
	{ "QUEUE_START", "1", "number of the first queue" },
	{ "QUEUEDIR", "", "use only this queue" },
	{ "CONFSPLIT", "23", "split of the queues' mess/ directories" },
	{ "SLUICE_SOCKET", "$QUEUE_BASE/sluiced.sock", "socket sluice-queue connects to" },
	{ "SLUICE_STATS_SOCKET", "$SLUICE_SOCKET.stats", "socket answering live figures" },
	{ "SLUICE_SOCKET_MODE", "0660", "mode of the message socket (octal)" },
	{ "SLUICE_STATS_MODE", "0660", "mode of the stats socket (octal)" },
	{ "SLUICE_SOCKET_GROUP", "nofiles when root", "group of both sockets" },
	{ "SLUICE_USER", "", "user to become when started as root (the queue owner)" },
	{ "SLUICE_ENVDIR", "", "envdir(8) directory read at start and again on SIGHUP" },
	{ "SLUICE_MAX_INFLIGHT", "512", "messages received and not yet answered" },
	{ "SLUICE_MAX_BYTES", "1073741824", "bytes of such messages" },
	{ "SLUICE_SCAN_QUEUE", "256", "messages waiting for a scan worker" },
	{ "SLUICE_WORKERS", "cores", "scan worker threads" },
	{ "SLUICE_READ_TIMEOUT", "1200", "seconds without a byte from qmail-smtpd" },
	{ "SLUICE_MESSAGE_TIMEOUT", "86400", "seconds for one whole message" },
	{ "SLUICE_SCAN_TIMEOUT", "60", "seconds for all scanners of one message" },
	{ "SLUICE_SCANNER_TIMEOUT", "0", "seconds for one scanner of one message (0: only SLUICE_SCAN_TIMEOUT)" },
	{ "SLUICE_DRAIN_TIMEOUT", "60", "seconds SIGTERM waits for messages in flight" },
	{ "SLUICE_RELOAD_CHECK", "60", "seconds between checks for a changed signature DB (0: never)" },
	{ "SLUICE_SYNC", "full", "full | data | fs | none: flushes before the commit" },
	{ "SLUICE_BATCH", "64", "messages per commit batch at most" },
	{ "SLUICE_FSYNC_THREADS", "8", "threads issuing a batch's fsyncs at once (0: one after another)" },
	{ "MIN_FREE", "0", "bytes a queue's filesystem must keep free" },
	{ "SLUICE_REQUIRE_SEND", "0", "1: skip a queue while no qmail-send holds its lock/sendmutex" },
	{ "SLUICE_MAX_BACKLOG", "100000", "todo + intd entries a queue may hold" },
	{ "SLUICE_SCANNERS", "clamav,attach", "scanners run on every message: clamav, attach, exec, clamd, spamd, rspamd, null (none), test" },
	{ "SLUICE_ON_VIRUS", "reject", "reject | defer | drop | accept | tag | quarantine" },
	{ "SLUICE_ON_BANNED", "reject", "reject | defer | drop | accept | tag | quarantine" },
	{ "SLUICE_ON_SPAM", "reject", "reject | defer | drop | accept | tag | quarantine" },
	{ "SLUICE_CONTROL", "/var/qmail/control", "simscan's policy files (simcontrol.cdb, simcontrol, ssattach)" },
	{ "SLUICE_POLICY_SENDER", "relay", "when the sender's policy entries count: relay | always | never" },
	{ "SLUICE_ON_LIMIT", "reject", "limit hit, unopenable structure: reject | defer | drop | accept | tag | quarantine" },
	{ "SLUICE_ON_ERROR", "defer", "scanner failure or timeout: defer | accept" },
	{ "REJECTVIRUS", "", "IndiMail: 0 accept and tag, 1 reject, 2 drop (sets SLUICE_ON_VIRUS)" },
	{ "SLUICE_TAG_CLEAN", "0", "1: X-QHPSI and X-Virus-Scanned headers on clean mail too" },
	{ "SLUICE_QUARANTINE", "", "Maildir for the quarantine action" },
	{ "SLUICE_QUARANTINE_LOG", "$SLUICE_QUARANTINE/quarantine.log", "tab-separated quarantine log" },
	{ "SLUICE_QUARANTINE_THEN", "reject", "after quarantining: reject (554) | drop (250)" },
	{ "SLUICE_CUSTOM_ERROR", "none", "none | notqmail (82, fd 6) | simscan (82, fd 4) | indimail (88, ERROR_FD)" },
	{ "ERROR_FD", "2", "fd of IndiMail's custom error text" },
	{ "SLUICE_CLAMDB", "", "signature directory of the clamav scanner" },
	{ "SLUICE_BANNED", "", "banned attachment suffixes of the attach scanner (clamav applies them too when attach runs)" },
	{ "SLUICE_ENCRYPTED", "pass", "encrypted archive (clamav scanner): pass | limit (SLUICE_ON_LIMIT decides)" },
	{ "SLUICE_CLAMAV_MIME", "walker", "clamav scanner's MIME parts: walker (decoded in memory) | libclamav (its mail parser, temp files)" },
	{ "QHPSI", "", "command of the exec scanner (%s = the message, else appended)" },
	{ "QHPSIARG1", "", "first extra argument of the exec scanner" },
	{ "QHPSIARG2", "", "second extra argument" },
	{ "QHPSIARG3", "", "third extra argument" },
	{ "QHPSIMINSIZE", "0", "exec scanner skips smaller messages (bytes; 0 = no bound)" },
	{ "QHPSIMAXSIZE", "0", "exec scanner skips larger messages (bytes; 0 = no bound)" },
	{ "QHPSIRC", "1", "exec scanner's exit code for infected" },
	{ "QHPSIRN", "0", "exec scanner's exit code for clean (any other: failure)" },
	{ "SLUICE_CLAMD", "", "clamd servers: unix:/path, host:port, [v6]:port, comma-separated" },
	{ "SLUICE_CLAMD_FILDES", "0", "1: pass the message's fd to clamd on a unix socket (FILDES)" },
	{ "SLUICE_CLAMD_MAXSTREAM", "26214400", "bytes streamed to clamd at most; larger: a limit verdict" },
	{ "SLUICE_SPAMD", "", "spamd servers: unix:/path, host:port, [v6]:port, comma-separated" },
	{ "SLUICE_SPAMD_USER", "", "spamd's User: (%r = the first recipient; unset: none)" },
	{ "SLUICE_SPAM_HITS", "0", "spamd: spam at this score or more (0: spamd's required score)" },
	{ "SLUICE_SPAM_MAXSIZE", "512000", "spamd and rspamd skip larger messages (bytes)" },
	{ "SLUICE_SPAM_RELAYCLIENT", "0", "1: spamd checks relay clients (RELAYCLIENT set) too" },
	{ "SLUICE_RSPAMD", "", "rspamd servers: http://host:port[/path] or unix:/path, comma-separated" },
	{ "SLUICE_NET_THREADS", "64", "threads for the network scanners (clamd, spamd, rspamd)" },
	{ "SLUICE_NET_CONNS", "16", "connections at once to one network scanner server" },
	{ "SLUICE_NET_CONNECT_TIMEOUT", "2", "seconds for one connect to a network scanner server" },
	{ "SLUICE_NET_RETRY", "10", "seconds a failed network scanner server rests before a probe" },
};

void router_config_help(void)
{
	size_t i;

	printf("usage: sluiced [--help] [--version]\n\n"
	       "The sluice daemon.  Runs in the foreground; every setting comes from the\n"
	       "environment (default in brackets):\n\n");
	for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
		printf("  %-22s %s [%s]\n", vars[i].name, vars[i].help, vars[i].def);
	printf("\nSignals: TERM drains and exits, HUP reloads the settings of SLUICE_ENVDIR\n"
	       "that can change in a running daemon, and the scanners.\n"
	       "See sluiced(8).\n");
}

struct envvar {
	char *name, *value;	/* value NULL: an empty file, the variable unset */
};

/* the envdir as read on SIGHUP, consulted before the environment while a
 * reload parses it (loop thread only) */
static struct {
	struct envvar *v;
	size_t n;
} overlay;

static const char *get(const char *name)
{
	const char *s;
	size_t i;

	for (i = 0; i < overlay.n; i++)
		if (!strcmp(overlay.v[i].name, name))
			return overlay.v[i].value && *overlay.v[i].value ? overlay.v[i].value : NULL;
	s = getenv(name);
	return s && *s ? s : NULL;
}

/* num - setting name as client_env_num() reads it, through get() */
static int num(const char *name, uint64_t def, uint64_t lo, uint64_t hi, uint64_t *out, char *err,
	       size_t errlen)
{
	return client_num_parse(name, get(name), def, lo, hi, out, err, errlen);
}

static void envdir_free(struct envvar *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

/*
 * envdir_read - the variables of an envdir(8) directory: each file's name,
 *	and its first line with trailing blanks cut and NULs made newlines;
 *	an empty file gives value NULL.  Names starting with a dot are skipped.
 */
static int envdir_read(const char *dir, struct envvar **out, size_t *np, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct envvar *v = NULL;
	struct dirent *e;
	size_t n = 0;

	*out = NULL;
	*np = 0;
	if (!d) {
		snprintf(err, errlen, "SLUICE_ENVDIR=%s: cannot open: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char buf[4096], *nl;
		struct envvar *nv;
		ssize_t len;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		if ((fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC)) < 0 ||
		    (len = read(fd, buf, sizeof buf - 1)) < 0) {
			snprintf(err, errlen, "SLUICE_ENVDIR: cannot read %s/%s: %s", dir, e->d_name,
				 strerror(errno));
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		close(fd);
		buf[len] = 0;
		if ((nl = memchr(buf, '\n', (size_t)len))) {
			*nl = 0;
			len = nl - buf;
		}
		while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
			buf[--len] = 0;
		for (nl = buf; nl < buf + len; nl++)
			if (!*nl)
				*nl = '\n';
		if (!(nv = realloc(v, (n + 1) * sizeof *v)))
			goto nomem;
		v = nv;
		v[n].name = strdup(e->d_name);
		v[n].value = len ? strdup(buf) : NULL;	/* empty: unset (an empty value is unset to us) */
		if (!v[n++].name || (len && !v[n - 1].value))
			goto nomem;
	}
	closedir(d);
	*out = v;
	*np = n;
	return 0;
nomem:
	snprintf(err, errlen, "SLUICE_ENVDIR=%s: out of memory", dir);
fail:
	closedir(d);
	envdir_free(v, n);
	return -1;
}

int router_envdir_start(char *err, size_t errlen)
{
	const char *dir = getenv("SLUICE_ENVDIR");
	struct envvar *v;
	size_t n, i;

	if (!dir || !*dir)
		return 0;
	if (envdir_read(dir, &v, &n, err, errlen) < 0)
		return -1;
	for (i = 0; i < n; i++)	/* at start, before any thread: the environment is ours */
		if (v[i].value)
			setenv(v[i].name, v[i].value, 1);
		else
			unsetenv(v[i].name);
	envdir_free(v, n);
	return 0;
}

/* octal - a mode in octal, def when unset */
static int octal(const char *name, mode_t def, mode_t *out, char *err, size_t errlen)
{
	const char *s = get(name);
	char *end;
	unsigned long m;

	*out = def;
	if (!s)
		return 0;
	m = strtoul(s, &end, 8);
	if (*end || m > 0777) {
		snprintf(err, errlen, "%s=%s: want an octal mode", name, s);
		return -1;
	}
	*out = (mode_t)m;
	return 0;
}

static int action(const char *name, enum router_action def, int allow_reject,
		  enum router_action *out, char *err, size_t errlen)
{
	const char *s = get(name);

	*out = def;
	if (!s)
		return 0;
	if (!strcmp(s, "accept"))
		*out = ACTION_ACCEPT;
	else if (!strcmp(s, "defer"))
		*out = ACTION_DEFER;
	else if (allow_reject && !strcmp(s, "reject"))
		*out = ACTION_REJECT;
	else if (allow_reject && !strcmp(s, "drop"))
		*out = ACTION_DROP;
	else if (allow_reject && !strcmp(s, "tag"))
		*out = ACTION_TAG;
	else if (allow_reject && !strcmp(s, "quarantine"))
		*out = ACTION_QUARANTINE;
	else {
		snprintf(err, errlen, "%s=%s: want %s", name, s,
			 allow_reject ? "reject, defer, drop, accept, tag or quarantine" : "defer or accept");
		return -1;
	}
	return 0;
}

static int scanners(struct router_config *c, char *err, size_t errlen)
{
	const char *s = get("SLUICE_SCANNERS");
	char buf[512], *tok, *save;

	snprintf(buf, sizeof buf, "%s", s ? s : "clamav,attach");
	for (tok = strtok_r(buf, " ,:", &save); tok; tok = strtok_r(NULL, " ,:", &save)) {
		const struct scan_backend *b = scan_backend_find(tok);

		if (!b) {
			snprintf(err, errlen, "SLUICE_SCANNERS: unknown scanner %s", tok);
			return -1;
		}
		if (c->nscanners == ROUTER_MAX_SCANNERS) {
			snprintf(err, errlen, "SLUICE_SCANNERS: more than %d scanners", ROUTER_MAX_SCANNERS);
			return -1;
		}
		if (strcmp(b->name, "null"))
			c->scanners[c->nscanners++] = b;
	}
	return 0;
}

int router_config_env(struct router_config *c, char *err, size_t errlen)
{
	struct queue_set_opts opts = { 0 };
	struct queue_err qe;
	const char *s;
	uint64_t v;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof *c);
	if (queue_set_env(&c->set, &opts, &qe) != QUEUE_OK) {
		snprintf(err, errlen, "%s", qe.text);
		return -1;
	}
	c->split = queue_split_default();
	if ((s = get("CONFSPLIT")) && (num("CONFSPLIT", 23, 1, QUEUE_SPLIT_MAX, &v, err, errlen) < 0))
		return -1;
	if ((s = get("SLUICE_SOCKET")))
		snprintf(c->socket_path, sizeof c->socket_path, "%s", s);
	else
		snprintf(c->socket_path, sizeof c->socket_path, "%s/sluiced.sock",
			 get("QUEUE_BASE") ? get("QUEUE_BASE") : QUEUE_BASE_DEFAULT);
	if ((s = get("SLUICE_STATS_SOCKET")))
		snprintf(c->stats_path, sizeof c->stats_path, "%s", s);
	else
		snprintf(c->stats_path, sizeof c->stats_path, "%.4089s.stats", c->socket_path);
	if (octal("SLUICE_SOCKET_MODE", 0660, &c->socket_mode, err, errlen) < 0 ||
	    octal("SLUICE_STATS_MODE", 0660, &c->stats_mode, err, errlen) < 0)
		return -1;
	c->socket_gid = (gid_t)-1;
	if ((s = get("SLUICE_SOCKET_GROUP"))) {
		struct group *g = getgrnam(s);

		if (!g) {
			snprintf(err, errlen, "SLUICE_SOCKET_GROUP=%s: no such group", s);
			return -1;
		}
		c->socket_gid = g->gr_gid;
	} else if (geteuid() == 0) {
		/* qmail-smtpd runs the queue program as qmaild, group nofiles */
		struct group *g = getgrnam("nofiles");

		if (g)
			c->socket_gid = g->gr_gid;
	}
	c->user = get("SLUICE_USER");
#define NUM(var, field, def, lo, hi)                                  \
	do {                                                          \
		if (num(var, def, lo, hi, &v, err, errlen) < 0)       \
			return -1;                                    \
		c->field = v;                                         \
	} while (0)
	NUM("SLUICE_MAX_INFLIGHT", max_inflight, ROUTER_INFLIGHT_DEFAULT, 1, 1000000);
	c->max_inflight_set = get("SLUICE_MAX_INFLIGHT") != NULL;
	c->max_inflight_auto = ROUTER_INFLIGHT_DEFAULT;
	NUM("SLUICE_MAX_BYTES", max_bytes, 1ull << 30, 1, UINT64_MAX);
	NUM("SLUICE_SCAN_QUEUE", scan_depth, 256, 1, 1000000);
	NUM("SLUICE_WORKERS", workers, cores > 0 ? (uint64_t)cores : 2, 1, 256);
	NUM("SLUICE_READ_TIMEOUT", read_timeout, 1200, 1, 86400 * 7);
	NUM("SLUICE_MESSAGE_TIMEOUT", message_timeout, 86400, 1, 86400 * 7);
	NUM("SLUICE_SCAN_TIMEOUT", scan_timeout_ms, 60, 1, 86400);
	c->scan_timeout_ms *= 1000;
	NUM("SLUICE_SCANNER_TIMEOUT", scanner_timeout_ms, 0, 0, 86400);
	c->scanner_timeout_ms *= 1000;
	NUM("SLUICE_DRAIN_TIMEOUT", drain_timeout, 60, 0, 86400);
	NUM("SLUICE_BATCH", batch_max, 64, 1, 64);
	NUM("SLUICE_FSYNC_THREADS", fsync_threads, 8, 0, 64);
	NUM("SLUICE_RELOAD_CHECK", reload_check, 60, 0, 86400);
	NUM("MIN_FREE", min_free, 0, 0, UINT64_MAX);
	NUM("SLUICE_REQUIRE_SEND", require_send, 0, 0, 1);
	NUM("SLUICE_MAX_BACKLOG", max_backlog, 100000, 1, UINT64_MAX);
	NUM("ERROR_FD", error_fd, 2, 0, 127);
	c->sync = QUEUE_SYNC_FULL;
	if ((s = get("SLUICE_SYNC")) && queue_sync_parse(s, &c->sync) < 0) {
		snprintf(err, errlen, "SLUICE_SYNC=%s: want full, data, fs or none", s);
		return -1;
	}
	if (scanners(c, err, errlen) < 0)
		return -1;
	if (action("SLUICE_ON_VIRUS", ACTION_REJECT, 1, &c->on_virus, err, errlen) < 0 ||
	    action("SLUICE_ON_BANNED", ACTION_REJECT, 1, &c->on_banned, err, errlen) < 0 ||
	    action("SLUICE_ON_SPAM", ACTION_REJECT, 1, &c->on_spam, err, errlen) < 0 ||
	    action("SLUICE_ON_LIMIT", ACTION_REJECT, 1, &c->on_limit, err, errlen) < 0 ||
	    action("SLUICE_ON_ERROR", ACTION_DEFER, 0, &c->on_error, err, errlen) < 0)
		return -1;
	if ((s = get("REJECTVIRUS"))) {
		if (!strcmp(s, "0"))
			c->on_virus = ACTION_TAG;	/* IndiMail: accept, X-QHPSI header */
		else if (!strcmp(s, "1"))
			c->on_virus = ACTION_REJECT;
		else if (!strcmp(s, "2"))
			c->on_virus = ACTION_DROP;
		else {
			snprintf(err, errlen, "REJECTVIRUS=%s: want 0, 1 or 2", s);
			return -1;
		}
	}
	if (num("SLUICE_TAG_CLEAN", 0, 0, 1, &v, err, errlen) < 0)
		return -1;
	c->tag_clean = (int)v;
	c->quarantine = get("SLUICE_QUARANTINE");
	if ((s = get("SLUICE_QUARANTINE_LOG")))
		snprintf(c->quarantine_log, sizeof c->quarantine_log, "%s", s);
	else if (c->quarantine)
		snprintf(c->quarantine_log, sizeof c->quarantine_log, "%.4000s/quarantine.log",
			 c->quarantine);
	c->quarantine_then = ACTION_REJECT;
	if ((s = get("SLUICE_QUARANTINE_THEN"))) {
		if (!strcmp(s, "drop") || !strcmp(s, "accept"))
			c->quarantine_then = ACTION_DROP;
		else if (strcmp(s, "reject")) {
			snprintf(err, errlen, "SLUICE_QUARANTINE_THEN=%s: want reject or drop", s);
			return -1;
		}
	}
	if (!c->quarantine && (c->on_virus == ACTION_QUARANTINE || c->on_banned == ACTION_QUARANTINE ||
			       c->on_spam == ACTION_QUARANTINE || c->on_limit == ACTION_QUARANTINE)) {
		snprintf(err, errlen, "a quarantine action needs SLUICE_QUARANTINE (a Maildir)");
		return -1;
	}
	c->custom = CUSTOM_NONE;
	if ((s = get("SLUICE_CUSTOM_ERROR")) && client_custom_parse(s, &c->custom) < 0) {
		snprintf(err, errlen, "SLUICE_CUSTOM_ERROR=%s: want none, notqmail, simscan or indimail", s);
		return -1;
	}
	c->scan.clamdb = get("SLUICE_CLAMDB");
	c->scan.banned = get("SLUICE_BANNED") ? get("SLUICE_BANNED") : SCAN_BANNED_DEFAULT;
	/* with attach, clamav applies the same banned list to what it unpacks */
	for (v = 0; v < c->nscanners; v++)
		c->scan.clamav_banned |= c->scanners[v] == &scan_backend_attach;
	if ((s = get("SLUICE_ENCRYPTED")) && strcmp(s, "pass") && strcmp(s, "limit")) {
		snprintf(err, errlen, "SLUICE_ENCRYPTED=%s: want pass or limit", s);
		return -1;
	}
	c->scan.clamav_encrypted = s && !strcmp(s, "limit");
	if ((s = get("SLUICE_CLAMAV_MIME")) && strcmp(s, "walker") && strcmp(s, "libclamav")) {
		snprintf(err, errlen, "SLUICE_CLAMAV_MIME=%s: want walker or libclamav", s);
		return -1;
	}
	c->scan.clamav_libmime = s && !strcmp(s, "libclamav");
	/* the exec scanner (scan/scan_exec.c): qmail's QHPSI settings */
	c->scan.qhpsi = get("QHPSI");
	c->scan.qhpsi_arg[0] = get("QHPSIARG1");
	c->scan.qhpsi_arg[1] = get("QHPSIARG2");
	c->scan.qhpsi_arg[2] = get("QHPSIARG3");
	if (num("QHPSIMINSIZE", 0, 0, UINT64_MAX, &v, err, errlen) < 0)
		return -1;
	c->scan.qhpsi_min = v;
	if (num("QHPSIMAXSIZE", 0, 0, UINT64_MAX, &v, err, errlen) < 0)
		return -1;
	c->scan.qhpsi_max = v;
	if (num("QHPSIRC", 1, 0, 255, &v, err, errlen) < 0)
		return -1;
	c->scan.qhpsi_rc = (int)v;
	if (num("QHPSIRN", 0, 0, 255, &v, err, errlen) < 0)
		return -1;
	c->scan.qhpsi_rn = (int)v;
	/* the network scanners (scan/NETWORK.md) */
	c->scan.clamd = get("SLUICE_CLAMD");
	c->scan.spamd = get("SLUICE_SPAMD");
	c->scan.rspamd = get("SLUICE_RSPAMD");
	c->scan.spamd_user = get("SLUICE_SPAMD_USER");
	NUM("SLUICE_CLAMD_FILDES", scan.clamd_fildes, 0, 0, 1);
	NUM("SLUICE_CLAMD_MAXSTREAM", scan.clamd_maxstream, 26214400, 1, UINT64_MAX);
	NUM("SLUICE_SPAM_MAXSIZE", scan.spam_maxsize, 512000, 1, UINT64_MAX);
	NUM("SLUICE_SPAM_RELAYCLIENT", scan.spam_relayclient, 0, 0, 1);
	NUM("SLUICE_NET_THREADS", net_threads, 64, 1, 1024);
	NUM("SLUICE_NET_CONNS", scan.net_conns, 16, 1, 10000);
	NUM("SLUICE_NET_CONNECT_TIMEOUT", scan.net_connect_ms, 2, 1, 3600);
	c->scan.net_connect_ms *= 1000;
	NUM("SLUICE_NET_RETRY", scan.net_retry_ms, 10, 1, 86400);
	c->scan.net_retry_ms *= 1000;
	if ((s = get("SLUICE_SPAM_HITS"))) {
		char *end;

		c->scan.spam_hits = strtod(s, &end);
		if (end == s || *end || !(c->scan.spam_hits >= 0 && c->scan.spam_hits < 1e9)) {
			snprintf(err, errlen, "SLUICE_SPAM_HITS=%s: want a score such as 5 or 20.1", s);
			return -1;
		}
	}
#undef NUM
	return 0;
}

void router_config_free(struct router_config *c)
{
	queue_set_free(&c->set);
}

/* say - append "text" to msg, "; "-separated */
static void say(char *msg, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(char *msg, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(msg);
	va_list ap;

	if (len && len + 2 < cap) {
		memcpy(msg + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	if (len < cap)
		vsnprintf(msg + len, cap - len, fmt, ap);
	va_end(ap);
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* setting values as the admin writes them, by enum value */
static const char *const action_names[] = {
	[ACTION_ACCEPT] = "accept", [ACTION_REJECT] = "reject", [ACTION_DEFER] = "defer",
	[ACTION_DROP] = "drop", [ACTION_TAG] = "tag", [ACTION_QUARANTINE] = "quarantine",
};
static const char *const custom_names[] = {
	[CUSTOM_NONE] = "none", [CUSTOM_NOTQMAIL] = "notqmail", [CUSTOM_SIMSCAN] = "simscan",
	[CUSTOM_INDIMAIL] = "indimail",
};

int router_config_reload(struct router_config *c, char *msg, size_t cap)
{
	const char *dir = getenv("SLUICE_ENVDIR");
	struct router_config n;
	char err[600];
	int rc;

	msg[0] = 0;
	if (!dir || !*dir) {
		snprintf(msg, cap, "no SLUICE_ENVDIR: settings unchanged");
		return 0;
	}
	if (envdir_read(dir, &overlay.v, &overlay.n, msg, cap) < 0)
		return -1;
	rc = router_config_env(&n, err, sizeof err);
	if (rc < 0) {
		snprintf(msg, cap, "%s: running settings kept", err);
		goto out;
	}
	/* a quarantine action needs the Maildir sluiced made at start */
	if (!c->quarantine && (n.on_virus == ACTION_QUARANTINE || n.on_banned == ACTION_QUARANTINE ||
			       n.on_spam == ACTION_QUARANTINE || n.on_limit == ACTION_QUARANTINE)) {
		snprintf(msg, cap, "a quarantine action needs SLUICE_QUARANTINE at start: "
			 "running settings kept");
		rc = -1;
		goto out;
	}
	if (!n.max_inflight_set)	/* the value router_run() derived at start */
		n.max_inflight = c->max_inflight_auto;
	n.max_inflight_auto = c->max_inflight_auto;
	/* what a running daemon can take: read by the loop thread only */
#define LIVE_UNIT(var, field, unit)                                                           \
	do {                                                                                  \
		if (n.field != c->field) {                                                    \
			say(msg, cap, "%s %llu -> %llu", var,                                 \
			    (unsigned long long)c->field / (unit),                            \
			    (unsigned long long)n.field / (unit));                            \
			c->field = n.field;                                                   \
		}                                                                             \
	} while (0)
#define LIVE(var, field) LIVE_UNIT(var, field, 1)
	LIVE("SLUICE_MAX_INFLIGHT", max_inflight);
	LIVE("SLUICE_MAX_BYTES", max_bytes);
	LIVE("SLUICE_READ_TIMEOUT", read_timeout);
	LIVE("SLUICE_MESSAGE_TIMEOUT", message_timeout);
	LIVE_UNIT("SLUICE_SCAN_TIMEOUT", scan_timeout_ms, 1000);
	LIVE_UNIT("SLUICE_SCANNER_TIMEOUT", scanner_timeout_ms, 1000);
	LIVE("SLUICE_DRAIN_TIMEOUT", drain_timeout);
	LIVE("MIN_FREE", min_free);
	LIVE("SLUICE_MAX_BACKLOG", max_backlog);
	LIVE("SLUICE_TAG_CLEAN", tag_clean);
	LIVE("ERROR_FD", error_fd);
#undef LIVE
#undef LIVE_UNIT
#define LIVE_NAMED(var, field, names)                                                       \
	do {                                                                                  \
		if (n.field != c->field) {                                                    \
			say(msg, cap, "%s %s -> %s", var, names[c->field], names[n.field]);   \
			c->field = n.field;                                                   \
		}                                                                             \
	} while (0)
	LIVE_NAMED("SLUICE_ON_VIRUS", on_virus, action_names);
	LIVE_NAMED("SLUICE_ON_BANNED", on_banned, action_names);
	LIVE_NAMED("SLUICE_ON_SPAM", on_spam, action_names);
	LIVE_NAMED("SLUICE_ON_LIMIT", on_limit, action_names);
	LIVE_NAMED("SLUICE_ON_ERROR", on_error, action_names);
	LIVE_NAMED("SLUICE_CUSTOM_ERROR", custom, custom_names);
#undef LIVE_NAMED
	/* what needs a restart: threads, sockets, queues, scanners, the commit */
#define RESTART(var, cond)                                                                    \
	do {                                                                                  \
		if (cond)                                                                     \
			say(msg, cap, "%s changed: takes effect at restart", var);           \
	} while (0)
	RESTART("SLUICE_WORKERS", n.workers != c->workers);
	RESTART("SLUICE_SCAN_QUEUE", n.scan_depth != c->scan_depth);
	RESTART("SLUICE_SYNC", n.sync != c->sync);
	RESTART("SLUICE_BATCH", n.batch_max != c->batch_max);
	RESTART("SLUICE_FSYNC_THREADS", n.fsync_threads != c->fsync_threads);
	RESTART("SLUICE_REQUIRE_SEND", n.require_send != c->require_send);
	RESTART("SLUICE_RELOAD_CHECK", n.reload_check != c->reload_check);
	RESTART("SLUICE_SCANNERS", n.nscanners != c->nscanners ||
				   memcmp(n.scanners, c->scanners, sizeof n.scanners));
	RESTART("SLUICE_CLAMDB", !same_str(n.scan.clamdb, c->scan.clamdb));
	RESTART("SLUICE_BANNED", !same_str(n.scan.banned, c->scan.banned));
	RESTART("SLUICE_ENCRYPTED", n.scan.clamav_encrypted != c->scan.clamav_encrypted);
	RESTART("SLUICE_CLAMAV_MIME", n.scan.clamav_libmime != c->scan.clamav_libmime);
	RESTART("QHPSI", !same_str(n.scan.qhpsi, c->scan.qhpsi));
	RESTART("SLUICE_CLAMD", !same_str(n.scan.clamd, c->scan.clamd));
	RESTART("SLUICE_SPAMD", !same_str(n.scan.spamd, c->scan.spamd));
	RESTART("SLUICE_RSPAMD", !same_str(n.scan.rspamd, c->scan.rspamd));
	RESTART("SLUICE_SPAMD_USER", !same_str(n.scan.spamd_user, c->scan.spamd_user));
	RESTART("SLUICE_CLAMD_FILDES", n.scan.clamd_fildes != c->scan.clamd_fildes);
	RESTART("SLUICE_CLAMD_MAXSTREAM", n.scan.clamd_maxstream != c->scan.clamd_maxstream);
	RESTART("SLUICE_SPAM_HITS", n.scan.spam_hits != c->scan.spam_hits);
	RESTART("SLUICE_SPAM_MAXSIZE", n.scan.spam_maxsize != c->scan.spam_maxsize);
	RESTART("SLUICE_SPAM_RELAYCLIENT", n.scan.spam_relayclient != c->scan.spam_relayclient);
	RESTART("SLUICE_NET_THREADS", n.net_threads != c->net_threads);
	RESTART("SLUICE_NET_CONNS", n.scan.net_conns != c->scan.net_conns);
	RESTART("SLUICE_NET_CONNECT_TIMEOUT", n.scan.net_connect_ms != c->scan.net_connect_ms);
	RESTART("SLUICE_NET_RETRY", n.scan.net_retry_ms != c->scan.net_retry_ms);
	RESTART("SLUICE_QUARANTINE", !same_str(n.quarantine, c->quarantine));
	RESTART("SLUICE_QUARANTINE_THEN", n.quarantine_then != c->quarantine_then);
	RESTART("SLUICE_SOCKET", strcmp(n.socket_path, c->socket_path) != 0);
#undef RESTART
	if (!msg[0])
		snprintf(msg, cap, "settings unchanged");
out:
	router_config_free(&n);
	envdir_free(overlay.v, overlay.n);
	overlay.v = NULL;
	overlay.n = 0;
	return rc;
}
