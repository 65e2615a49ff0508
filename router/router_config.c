/*
 * router_config.c - sluiced's settings: a configuration from the table.
 *
 *	Every variable comes through control/'s settings table
 *	(control_settings_read(): the parser, the bounds, the messages);
 *	here the values become the fields the daemon uses (derive()), and
 *	nothing else reads the environment.  router_config_help() prints the
 *	table's entries for sluiced.
 *
 *	SLUICE_ENVDIR names a directory in daemontools envdir(8) format,
 *	read by queue/'s one reader.  router_envdir_start() puts it into the
 *	environment at start, remembering what it replaced.
 *	router_config_load() builds a complete new configuration, with the
 *	directory read afresh over the environment (never writing to the
 *	environment other threads may read; a file removed since the start
 *	gives back the environment's own value), as a reference-counted
 *	snapshot.  router_config_compare() sets it against the running one:
 *	which values changed, which of them a running daemon applies (the
 *	table's live flags: limits, time-outs, actions, custom-error
 *	convention, MIN_FREE, SLUICE_MAX_BACKLOG), and which wait for a
 *	restart; the latter keep their running values in the new snapshot.
 *	A bad value anywhere refuses the whole new snapshot.  A file of the
 *	directory named like a setting that is none (SLUICE_ON_VIRSU) is
 *	named in c->unknown, for the log.
 *
 *	router_config_reload() is SIGHUP on a configuration used in place:
 *	load, compare, then copy the fields that differ (only those derived
 *	from live settings can) into the running one.
 *
 * DIAGNOSTICS
 *	-1 with one line naming the variable and the problem, as the table's
 *	parser words it, or the setting two others disagree about.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"

#define V(name) (c->settings.v[CONTROL_S_##name])
#define TEXT(name) control_settings_text(&c->settings, CONTROL_S_##name)
#define WORD(name) control_settings_word(&c->settings, CONTROL_S_##name)

void router_config_help(void)
{
	printf("usage: sluiced [--help] [--version]\n\n"
	       "The sluice daemon.  Runs in the foreground; every setting comes from the\n"
	       "environment (default in brackets):\n\n");
	control_settings_help(stdout, CONTROL_P_SLUICED, 0);
	printf("\nSignals: TERM drains and exits, HUP reloads the settings of SLUICE_ENVDIR\n"
	       "that can change in a running daemon, and the scanners.\n"
	       "See sluiced(8) and sluice-control(5).\n");
}

/* The environment's values, from before router_envdir_start(), of the names
 * the directory set: what a later read of the directory falls back to when
 * a file is gone.  Written once at start, before any thread. */
static struct queue_envdir before;
static char start_unknown[256];	/* the directory's misspelt names at start */

/* envdir_read - SLUICE_ENVDIR (dir) as it is now; -1 with err */
static int envdir_read(const char *dir, struct queue_envdir *ed, char *err, size_t errlen)
{
	struct queue_err qe;

	if (queue_envdir_read(dir, ed, &qe) != QUEUE_OK) {
		snprintf(err, errlen, "SLUICE_ENVDIR=%s: %s", dir, qe.text);
		return -1;
	}
	return 0;
}

int router_envdir_start(char *err, size_t errlen)
{
	const char *dir = getenv("SLUICE_ENVDIR");
	struct queue_envdir ed;
	size_t i;

	if (!dir || !*dir)
		return 0;
	if (envdir_read(dir, &ed, err, errlen) < 0)
		return -1;
	control_settings_unknown(&ed, start_unknown, sizeof start_unknown);
	queue_envdir_free(&before);
	if (ed.n && !(before.v = calloc(ed.n, sizeof *before.v)))
		goto nomem;
	for (i = 0; i < ed.n; i++) {	/* at start, before any thread: the environment is ours */
		const char *was = getenv(ed.v[i].name);

		if (!(before.v[i].name = strdup(ed.v[i].name)) ||
		    (was && !(before.v[i].value = strdup(was)))) {
			before.n = i + 1;
			goto nomem;
		}
		before.n = i + 1;
		if (ed.v[i].value ? setenv(ed.v[i].name, ed.v[i].value, 1) : unsetenv(ed.v[i].name))
			goto nomem;
	}
	queue_envdir_free(&ed);
	return 0;
nomem:
	snprintf(err, errlen, "SLUICE_ENVDIR=%s: out of memory", dir);
	queue_envdir_free(&ed);
	return -1;
}

/* action_of - an action word of the table (SLUICE_ON_*, _THEN) */
static enum router_action action_of(const char *w)
{
	static const struct {
		const char *w;
		enum router_action a;
	} map[] = {
		{ "reject", ACTION_REJECT }, { "defer", ACTION_DEFER }, { "drop", ACTION_DROP },
		{ "accept", ACTION_ACCEPT }, { "tag", ACTION_TAG }, { "quarantine", ACTION_QUARANTINE },
	};
	size_t i;

	for (i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strcmp(map[i].w, w))
			return map[i].a;
	abort();	/* the table has a word this map lacks: a bug */
}

static int scanners(struct router_config *c, char *err, size_t errlen)
{
	const char *s = TEXT(SLUICE_SCANNERS);
	size_t n;

	c->nscanners = 0;
	for (s += strspn(s, ", \t:"); *s; s += n, s += strspn(s, ", \t:")) {
		const struct scan_backend *b;
		char name[32];

		n = strcspn(s, ", \t:");
		snprintf(name, sizeof name, "%.*s", (int)n, s);
		if (!(b = scan_backend_find(name))) {	/* the table's words and scan/ disagree */
			snprintf(err, errlen, "SLUICE_SCANNERS: unknown scanner %s", name);
			return -1;
		}
		if (!strcmp(b->name, "null"))
			continue;
		if (c->nscanners == ROUTER_MAX_SCANNERS) {
			snprintf(err, errlen, "SLUICE_SCANNERS: more than %d scanners", ROUTER_MAX_SCANNERS);
			return -1;
		}
		c->scanners[c->nscanners++] = b;
	}
	return 0;
}

/* socket_group - the sockets' group: SLUICE_SOCKET_GROUP by name, else
 * qmail-smtpd's group nofiles when started as root (it runs the queue
 * program as qmaild, group nofiles) */
static int socket_group(struct router_config *c, char *err, size_t errlen)
{
	const char *s = V(SLUICE_SOCKET_GROUP).text;
	struct group gr, *g = NULL;
	char buf[16384];	/* getgrnam_r: a reload may run on any thread */

	c->socket_gid = (gid_t)-1;
	if (s) {
		if (getgrnam_r(s, &gr, buf, sizeof buf, &g) != 0 || !g) {
			snprintf(err, errlen, "SLUICE_SOCKET_GROUP=%s: no such group", s);
			return -1;
		}
		c->socket_gid = g->gr_gid;
	} else if (geteuid() == 0 && getgrnam_r("nofiles", &gr, buf, sizeof buf, &g) == 0 && g) {
		c->socket_gid = g->gr_gid;
	}
	return 0;
}

/*
 * derive - every field from c->settings (and c->max_inflight_auto, which
 *	router_run() measures): the same values give the same configuration,
 *	so a snapshot whose restart-only values are the running ones derives
 *	the running fields for them.
 */
static int derive(struct router_config *c, char *err, size_t errlen)
{
	static const enum router_action rejectvirus[] = {	/* IndiMail's 0, 1, 2 */
		ACTION_TAG, ACTION_REJECT, ACTION_DROP,
	};
	size_t i;

	queue_set_free(&c->set);
	if (control_settings_queue_set(&c->settings, &c->set, err, errlen) < 0)
		return -1;
	c->split = (unsigned)V(CONFSPLIT).u;
	control_settings_socket(&c->settings, c->socket_path, sizeof c->socket_path);
	if (V(SLUICE_STATS_SOCKET).text)
		snprintf(c->stats_path, sizeof c->stats_path, "%s", V(SLUICE_STATS_SOCKET).text);
	else
		snprintf(c->stats_path, sizeof c->stats_path, "%.4089s.stats", c->socket_path);
	c->socket_mode = (mode_t)V(SLUICE_SOCKET_MODE).u;
	c->stats_mode = (mode_t)V(SLUICE_STATS_MODE).u;
	if (socket_group(c, err, errlen) < 0)
		return -1;
	c->user = V(SLUICE_USER).text;
	c->max_inflight_set = V(SLUICE_MAX_INFLIGHT).text != NULL;
	c->max_inflight = c->max_inflight_set ? (unsigned)V(SLUICE_MAX_INFLIGHT).u
					      : c->max_inflight_auto;
	c->max_bytes = V(SLUICE_MAX_BYTES).u;
	c->scan_depth = (unsigned)V(SLUICE_SCAN_QUEUE).u;
	c->workers = (unsigned)V(SLUICE_WORKERS).u;
	c->read_timeout = (unsigned)V(SLUICE_READ_TIMEOUT).u;
	c->message_timeout = (unsigned)V(SLUICE_MESSAGE_TIMEOUT).u;
	c->scan_timeout_ms = (unsigned)V(SLUICE_SCAN_TIMEOUT).u * 1000;
	c->scanner_timeout_ms = (unsigned)V(SLUICE_SCANNER_TIMEOUT).u * 1000;
	c->drain_timeout = (unsigned)V(SLUICE_DRAIN_TIMEOUT).u;
	c->reload_check = (unsigned)V(SLUICE_RELOAD_CHECK).u;
	if (queue_sync_parse(WORD(SLUICE_SYNC), &c->sync) < 0)
		abort();	/* the table's words and queue/'s disagree: a bug */
	c->batch_max = (unsigned)V(SLUICE_BATCH).u;
	c->fsync_threads = (unsigned)V(SLUICE_FSYNC_THREADS).u;
	c->min_free = V(MIN_FREE).u;
	c->require_send = (int)V(SLUICE_REQUIRE_SEND).u;
	c->max_backlog = (unsigned long)V(SLUICE_MAX_BACKLOG).u;
	c->error_fd = (int)V(ERROR_FD).u;
	/* remote queues: every listed server parsed (a qmqpservers file read) */
	memset(c->qmqp, 0, sizeof c->qmqp);
	c->nqmqp = 0;
	if (V(SLUICE_QMQP).text &&
	    router_remote_parse(V(SLUICE_QMQP).text, c->qmqp, &c->nqmqp, err, errlen) < 0)
		return -1;
	c->qmqp_weight = (unsigned)V(SLUICE_QMQP_WEIGHT).u;
	c->local_spool = !strcmp(WORD(SLUICE_LOCAL_QUEUES), "spool");
	c->qmqp_conns = (unsigned)V(SLUICE_QMQP_CONNS).u;
	c->qmqp_connect_ms = (unsigned)V(SLUICE_QMQP_CONNECT_TIMEOUT).u * 1000;
	c->qmqp_io_ms = (unsigned)V(SLUICE_QMQP_IO_TIMEOUT).u * 1000;
	c->qmqp_timeout_ms = (unsigned)V(SLUICE_QMQP_TIMEOUT).u * 1000;
	c->qmqp_retry_ms = (unsigned)V(SLUICE_QMQP_RETRY).u * 1000;
	c->qmqp_slow_ms = (unsigned)V(SLUICE_QMQP_SLOW).u;
	if (c->local_spool && !c->nqmqp) {
		snprintf(err, errlen, "SLUICE_LOCAL_QUEUES=spool needs remote queues (SLUICE_QMQP)");
		return -1;
	}
	if (c->local_spool && c->require_send) {
		snprintf(err, errlen, "SLUICE_REQUIRE_SEND=1 with SLUICE_LOCAL_QUEUES=spool: "
			 "no qmail-send serves a spool");
		return -1;
	}
	if (scanners(c, err, errlen) < 0)
		return -1;
	c->on_virus = action_of(WORD(SLUICE_ON_VIRUS));
	c->on_banned = action_of(WORD(SLUICE_ON_BANNED));
	c->on_spam = action_of(WORD(SLUICE_ON_SPAM));
	c->on_limit = action_of(WORD(SLUICE_ON_LIMIT));
	c->on_error = action_of(WORD(SLUICE_ON_ERROR));
	if (V(REJECTVIRUS).text)	/* IndiMail's variable, when set, decides */
		c->on_virus = rejectvirus[V(REJECTVIRUS).u];
	c->tag_clean = (int)V(SLUICE_TAG_CLEAN).u;
	c->quarantine = V(SLUICE_QUARANTINE).text;
	c->quarantine_log[0] = 0;
	if (V(SLUICE_QUARANTINE_LOG).text)
		snprintf(c->quarantine_log, sizeof c->quarantine_log, "%s",
			 V(SLUICE_QUARANTINE_LOG).text);
	else if (c->quarantine)
		snprintf(c->quarantine_log, sizeof c->quarantine_log, "%.4000s/quarantine.log",
			 c->quarantine);
	c->quarantine_then = action_of(WORD(SLUICE_QUARANTINE_THEN));
	if (!c->quarantine && (c->on_virus == ACTION_QUARANTINE || c->on_banned == ACTION_QUARANTINE ||
			       c->on_spam == ACTION_QUARANTINE || c->on_limit == ACTION_QUARANTINE)) {
		snprintf(err, errlen, "a quarantine action needs SLUICE_QUARANTINE (a Maildir)");
		return -1;
	}
	if (client_custom_parse(WORD(SLUICE_CUSTOM_ERROR), &c->custom) < 0)
		abort();	/* the table's words and client/'s disagree: a bug */
	/* the scanners */
	memset(&c->scan, 0, sizeof c->scan);
	c->scan.clamdb = V(SLUICE_CLAMDB).text;
	c->scan.banned = TEXT(SLUICE_BANNED);
	/* with attach, clamav applies the same banned list to what it unpacks */
	for (i = 0; i < c->nscanners; i++)
		c->scan.clamav_banned |= c->scanners[i] == &scan_backend_attach;
	c->scan.clamav_encrypted = !strcmp(WORD(SLUICE_ENCRYPTED), "limit");
	c->scan.clamav_libmime = !strcmp(WORD(SLUICE_CLAMAV_MIME), "libclamav");
	/* the exec scanner (scan/scan_exec.c): qmail's QHPSI settings, read as
	 * direct mode reads them (client_direct_env()) */
	c->scan.qhpsi = V(QHPSI).text;
	c->scan.qhpsi_arg[0] = V(QHPSIARG1).text;
	c->scan.qhpsi_arg[1] = V(QHPSIARG2).text;
	c->scan.qhpsi_arg[2] = V(QHPSIARG3).text;
	c->scan.qhpsi_min = (unsigned long)V(QHPSIMINSIZE).u;
	c->scan.qhpsi_max = (unsigned long)V(QHPSIMAXSIZE).u;
	c->scan.qhpsi_rc = (int)V(QHPSIRC).u;
	c->scan.qhpsi_rn = (int)V(QHPSIRN).u;
	/* the network scanners (scan/NETWORK.md) */
	c->scan.clamd = V(SLUICE_CLAMD).text;
	c->scan.spamd = V(SLUICE_SPAMD).text;
	c->scan.rspamd = V(SLUICE_RSPAMD).text;
	c->scan.spamd_user = V(SLUICE_SPAMD_USER).text;
	c->scan.clamd_fildes = (int)V(SLUICE_CLAMD_FILDES).u;
	c->scan.clamd_maxstream = V(SLUICE_CLAMD_MAXSTREAM).u;
	c->scan.spam_hits = V(SLUICE_SPAM_HITS).d;
	c->scan.spam_maxsize = V(SLUICE_SPAM_MAXSIZE).u;
	c->scan.spam_relayclient = (int)V(SLUICE_SPAM_RELAYCLIENT).u;
	c->net_threads = (unsigned)V(SLUICE_NET_THREADS).u;
	c->scan.net_conns = (unsigned)V(SLUICE_NET_CONNS).u;
	c->scan.net_connect_ms = (unsigned)V(SLUICE_NET_CONNECT_TIMEOUT).u * 1000;
	c->scan.net_retry_ms = (unsigned)V(SLUICE_NET_RETRY).u * 1000;
	/* the policy: what the POLICY stage opens */
	control_settings_options(&c->settings, &c->policy);
	return 0;
}

/* config_read - c from src (NULL: the environment alone) */
static int config_read(struct router_config *c, const struct control_env *src, char *err,
		       size_t errlen)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof *c);
	c->max_inflight_auto = ROUTER_INFLIGHT_DEFAULT;	/* router_run() measures it */
	if (control_settings_read(&c->settings, CONTROL_P_SLUICED, src, err, errlen) < 0)
		return -1;
	if (src)
		control_settings_unknown(src->envdir, c->unknown, sizeof c->unknown);
	else	/* the directory is in the environment now: as read at start */
		snprintf(c->unknown, sizeof c->unknown, "%s", start_unknown);
	/* a default derived from outside the settings goes into the value, so
	 * that a reload compares it (a CPU brought online is a change) */
	if (!V(SLUICE_WORKERS).text)
		V(SLUICE_WORKERS).u = cores > 0 ? (uint64_t)cores : 2;
	return derive(c, err, errlen);
}

int router_config_env(struct router_config *c, char *err, size_t errlen)
{
	return config_read(c, NULL, err, errlen);
}

void router_config_free(struct router_config *c)
{
	queue_set_free(&c->set);
	control_settings_free(&c->settings);
}

struct router_config *router_config_load(char *err, size_t errlen)
{
	const char *dir = getenv("SLUICE_ENVDIR");
	struct queue_envdir ed = { 0 };
	struct control_env src = { &ed, &before };
	struct router_config *c = malloc(sizeof *c);
	int rc;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (dir && *dir && envdir_read(dir, &ed, err, errlen) < 0) {
		free(c);
		return NULL;
	}
	rc = config_read(c, &src, err, errlen);
	queue_envdir_free(&ed);
	if (rc < 0) {
		router_config_free(c);
		free(c);
		return NULL;
	}
	atomic_init(&c->refs, 1);
	return c;
}

void router_config_ref(struct router_config *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void router_config_unref(struct router_config *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
		router_config_free(c);
		free(c);
	}
}

int router_config_compare(const struct router_config *running, struct router_config *next,
			  char *msg, size_t cap)
{
	/* running's values as they are in effect: an unset in-flight limit is
	 * the one router_run() derived from the open files limit, and so is
	 * next's (read-only copy: the texts stay running's) */
	struct control_settings *view = malloc(sizeof *view);
	char err[600];
	int n;

	if (!view) {
		snprintf(msg, cap, "out of memory: running settings kept");
		return -1;
	}
	*view = running->settings;
	if (!view->v[CONTROL_S_SLUICE_MAX_INFLIGHT].text)
		view->v[CONTROL_S_SLUICE_MAX_INFLIGHT].u = running->max_inflight;
	next->max_inflight_auto = running->max_inflight_auto;
	if (!next->settings.v[CONTROL_S_SLUICE_MAX_INFLIGHT].text)
		next->settings.v[CONTROL_S_SLUICE_MAX_INFLIGHT].u = running->max_inflight_auto;
	n = control_settings_diff(view, &next->settings, CONTROL_P_SLUICED, msg, cap);
	free(view);
	if (n < 0) {
		snprintf(msg, cap, "out of memory: running settings kept");
		return -1;
	}
	/* the restart-only values are running's now: derive the fields again */
	if (derive(next, err, sizeof err) < 0) {
		snprintf(msg, cap, "%s, with the settings that change at restart as they run: "
			 "running settings kept", err);
		return -1;
	}
	if (n == 0)
		snprintf(msg, cap, "settings unchanged");
	if (next->unknown[0]) {
		size_t len = strlen(msg);

		snprintf(msg + len, cap - len, "; SLUICE_ENVDIR: %s: no such setting, ignored",
			 next->unknown);
	}
	return 0;
}

/* live_changes - how many live settings next changes against running (its
 * unset in-flight limit as router_run() derived it); 1 when unsure */
static int live_changes(const struct router_config *running, const struct router_config *next)
{
	struct control_settings *view = malloc(sizeof *view);
	int n;

	if (!view)
		return 1;
	*view = running->settings;
	if (!view->v[CONTROL_S_SLUICE_MAX_INFLIGHT].text)
		view->v[CONTROL_S_SLUICE_MAX_INFLIGHT].u = running->max_inflight;
	n = control_settings_live_changes(view, &next->settings, CONTROL_P_SLUICED);
	free(view);
	return n;
}

int router_config_reload(struct router_config **cur, char *msg, size_t cap,
			 struct router_config **old)
{
	const char *dir = getenv("SLUICE_ENVDIR");
	struct router_config *n;
	char err[600];

	msg[0] = 0;
	*old = NULL;
	if (!dir || !*dir) {
		snprintf(msg, cap, "no SLUICE_ENVDIR: settings unchanged");
		return 0;
	}
	if (!(n = router_config_load(err, sizeof err))) {
		snprintf(msg, cap, "%s: running settings kept", err);
		return -1;
	}
	if (router_config_compare(*cur, n, msg, cap) < 0) {
		router_config_unref(n);
		return -1;
	}
	if (!live_changes(*cur, n)) {
		/* nothing a running daemon takes: keep the running snapshot (a
		 * SIGHUP from cron must not pile snapshots up) */
		router_config_unref(n);
		return 0;
	}
	/* a snapshot is never patched: the new one replaces it */
	*old = *cur;
	__atomic_store_n(cur, n, __ATOMIC_RELEASE);
	return 0;
}
