/*
 * test_router_config.c - router/router_config.c: sluiced's settings from
 * the environment.
 *
 *	defaults      every field as router_config_help() documents it, with
 *	              no variable set (socket paths from QUEUE_BASE, workers =
 *	              cores, clamav + attach, reject / defer, no quarantine)
 *	numbers       each numeric variable: a good value is taken; letters,
 *	              a trailing word, a sign, leading blanks, out of range and
 *	              overflowing values are -1 with a text naming the variable
 *	              (never a silent default); an empty value is the default
 *	REJECTVIRUS   0 -> tag (IndiMail's accept and tag), 1 -> reject,
 *	              2 -> drop; it wins over SLUICE_ON_VIRUS; 3 -> error
 *	actions       every name for SLUICE_ON_VIRUS / _BANNED / _SPAM;
 *	              SLUICE_ON_ERROR only defer or accept; unknown -> error
 *	quarantine    an action without SLUICE_QUARANTINE -> error; with it the
 *	              log defaults inside it; SLUICE_QUARANTINE_THEN parses
 *	scanners      names and separators; "null" yields none; unknown -> error
 *	              naming it; more than ROUTER_MAX_SCANNERS -> error
 *	others        SLUICE_SYNC, SLUICE_CUSTOM_ERROR, SLUICE_SOCKET_MODE,
 *	              SLUICE_SOCKET_GROUP, QUEUEDIR / QUEUE_COUNT, CONFSPLIT, QHPSI*
 *	envdir        SLUICE_ENVDIR at start: first line, trailing blanks cut,
 *	              an empty file unsets, a missing dir is an error naming it;
 *	              reload: live settings applied and named old -> new, a
 *	              restart-only change named and not applied, a bad value
 *	              applies nothing, no SLUICE_ENVDIR changes nothing
 */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "router/router.h"

/* every variable router_config_env() reads */
static const char *const vars[] = {
	"QUEUE_BASE", "QUEUE_COUNT", "QUEUE_START", "QUEUEDIR", "CONFSPLIT", "SLUICE_SOCKET",
	"SLUICE_STATS_SOCKET", "SLUICE_SOCKET_MODE", "SLUICE_SOCKET_GROUP", "SLUICE_USER",
	"SLUICE_MAX_INFLIGHT", "SLUICE_MAX_BYTES", "SLUICE_SCAN_QUEUE", "SLUICE_WORKERS",
	"SLUICE_READ_TIMEOUT", "SLUICE_MESSAGE_TIMEOUT", "SLUICE_SCAN_TIMEOUT",
	"SLUICE_DRAIN_TIMEOUT", "SLUICE_RELOAD_CHECK", "SLUICE_SYNC", "SLUICE_BATCH",
	"SLUICE_FSYNC_THREADS", "MIN_FREE", "SLUICE_MAX_BACKLOG", "SLUICE_SCANNERS",
	"SLUICE_ON_VIRUS", "SLUICE_ON_BANNED", "SLUICE_ON_SPAM", "SLUICE_ON_ERROR",
	"REJECTVIRUS", "SLUICE_TAG_CLEAN", "SLUICE_QUARANTINE", "SLUICE_QUARANTINE_LOG",
	"SLUICE_QUARANTINE_THEN", "SLUICE_CUSTOM_ERROR", "ERROR_FD", "SLUICE_CLAMDB",
	"SLUICE_BANNED", "SLUICE_ENCRYPTED", "QHPSI", "QHPSIARG1", "QHPSIARG2", "QHPSIARG3", "QHPSIMINSIZE",
	"QHPSIMAXSIZE", "QHPSIRC", "QHPSIRN", "SLUICE_ENVDIR",
};

static char *tmp;

static int setup(void **unused)
{
	size_t i;

	for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	tmp = tu_tmpdir("rconfig");
	setenv("QUEUE_BASE", tmp, 1);
	return 0;
}

/* the last load()'s configuration: its strings stay valid until the next
 * load() or the end of the test */
static struct router_config held;
static int holding;

static void release(void)
{
	if (holding)
		router_config_free(&held);
	holding = 0;
}

static int teardown(void **unused)
{
	release();
	tu_rmtree(tmp);
	free(tmp);
	tmp = NULL;
	return 0;
}

/* load - router_config_env(); its return value, the text in err.  What c
 * points to is freed by the next load() (or the teardown). */
static int load(struct router_config *c, char *err, size_t errlen)
{
	int rc;

	release();
	err[0] = 0;
	rc = router_config_env(c, err, errlen);
	held = *c;
	holding = 1;
	if (rc == 0)
		assert_string_equal(err, "");
	else
		assert_true(err[0] != 0);
	return rc;
}

/* ok1 / bad1 - with NAME=VALUE set (alone among the variables tested) */
static struct router_config *ok1(const char *name, const char *value)
{
	static struct router_config c;
	char err[600];

	setenv(name, value, 1);
	if (load(&c, err, sizeof err) != 0)
		fail_msg("%s=%s refused: %s", name, value, err);
	unsetenv(name);
	return &c;
}

static void bad1(const char *name, const char *value)
{
	struct router_config c;
	char err[600], want[300];

	setenv(name, value, 1);
	if (load(&c, err, sizeof err) != -1)
		fail_msg("%s=\"%s\" accepted", name, value);
	snprintf(want, sizeof want, "%s", name);
	if (!strstr(err, want))
		fail_msg("%s=\"%s\": the error does not name the variable: %s", name, value, err);
	unsetenv(name);
}

/* -------------------------------------------------------------- defaults */

static void test_defaults(void **unused)
{
	struct router_config c;
	char err[600], want[4200];
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	assert_int_equal(load(&c, err, sizeof err), 0);
	snprintf(want, sizeof want, "%s/sluiced.sock", tmp);
	assert_string_equal(c.socket_path, want);
	snprintf(want, sizeof want, "%s/sluiced.sock.stats", tmp);
	assert_string_equal(c.stats_path, want);
	assert_int_equal(c.socket_mode, 0660);
	assert_int_equal(c.stats_mode, 0660);
	/* started as root on a qmail host: qmail-smtpd's group nofiles */
	assert_int_equal(c.socket_gid, geteuid() == 0 && getgrnam("nofiles") ? getgrnam("nofiles")->gr_gid
									     : (gid_t)-1);
	assert_null(c.user);
	assert_int_equal(c.split, 23);
	assert_int_equal(c.max_inflight, 512);
	assert_int_equal(c.max_bytes, 1ull << 30);
	assert_int_equal(c.scan_depth, 256);
	assert_int_equal(c.workers, cores > 0 ? (unsigned)cores : 2);
	assert_int_equal(c.read_timeout, 1200);
	assert_int_equal(c.message_timeout, 86400);
	assert_int_equal(c.scan_timeout_ms, 60000);
	assert_int_equal(c.drain_timeout, 60);
	assert_int_equal(c.reload_check, 60);
	assert_int_equal(c.sync, QUEUE_SYNC_FULL);
	assert_int_equal(c.batch_max, 64);
	assert_int_equal(c.fsync_threads, 8);
	assert_int_equal(c.min_free, 0);
	assert_int_equal(c.max_backlog, 100000);
	assert_int_equal(c.error_fd, 2);
	assert_int_equal(c.custom, CUSTOM_NONE);
	/* scanners: clamav then attach */
	assert_int_equal(c.nscanners, 2);
	assert_ptr_equal(c.scanners[0], &scan_backend_clamav);
	assert_ptr_equal(c.scanners[1], &scan_backend_attach);
	/* actions */
	assert_int_equal(c.on_virus, ACTION_REJECT);
	assert_int_equal(c.on_banned, ACTION_REJECT);
	assert_int_equal(c.on_spam, ACTION_REJECT);
	assert_int_equal(c.on_error, ACTION_DEFER);
	assert_int_equal(c.tag_clean, 0);
	assert_null(c.quarantine);
	assert_string_equal(c.quarantine_log, "");
	assert_int_equal(c.quarantine_then, ACTION_REJECT);
	/* scanner settings */
	assert_null(c.scan.clamdb);
	assert_string_equal(c.scan.banned, SCAN_BANNED_DEFAULT);
	assert_null(c.scan.qhpsi);
	assert_int_equal(c.scan.qhpsi_min, 0);
	assert_int_equal(c.scan.qhpsi_max, 0);
	assert_int_equal(c.scan.qhpsi_rc, 1);
	assert_int_equal(c.scan.qhpsi_rn, 0);
	/* the queues: QUEUE_BASE/queue1..5 */
	assert_int_equal(c.set.n, 5);
	snprintf(want, sizeof want, "%s/queue5", tmp);
	assert_string_equal(c.set.v[4].path, want);
	/* the policy: the control directory, the sender's entries for relay clients */
	assert_string_equal(c.policy.dir, "/var/qmail/control");
	assert_int_equal(c.policy.sender, CONTROL_SENDER_RELAY);
}

static void test_queue_set(void **unused)
{
	struct router_config c;
	char err[600], want[4200];

	setenv("QUEUE_COUNT", "3", 1);
	setenv("QUEUE_START", "2", 1);
	assert_int_equal(router_config_env(&c, err, sizeof err), 0);
	assert_int_equal(c.set.n, 3);
	snprintf(want, sizeof want, "%s/queue2", tmp);
	assert_string_equal(c.set.v[0].path, want);
	snprintf(want, sizeof want, "%s/queue4", tmp);
	assert_string_equal(c.set.v[2].path, want);
	router_config_free(&c);
	setenv("QUEUEDIR", "/var/qmail/queue", 1);
	assert_int_equal(router_config_env(&c, err, sizeof err), 0);
	assert_int_equal(c.set.n, 1);
	assert_string_equal(c.set.v[0].path, "/var/qmail/queue");
	router_config_free(&c);
	unsetenv("QUEUEDIR");
	setenv("QUEUE_COUNT", "many", 1);
	assert_int_equal(load(&c, err, sizeof err), -1);
	unsetenv("QUEUE_COUNT");
	unsetenv("QUEUE_START");
	/* CONFSPLIT */
	setenv("CONFSPLIT", "101", 1);
	assert_int_equal(load(&c, err, sizeof err), 0);
	assert_int_equal(c.split, 101);
	unsetenv("CONFSPLIT");
	bad1("CONFSPLIT", "0");
	bad1("CONFSPLIT", "1001");
	bad1("CONFSPLIT", "23x");
	bad1("CONFSPLIT", "-23");
}

/* --------------------------------------------------------------- numbers */

static const struct {
	const char *name;
	const char *good;	/* a valid value... */
	unsigned long long want;	/* ...and what the field holds then */
	const char *too_small, *too_big;	/* NULL: no such bound */
} nums[] = {
	{ "SLUICE_MAX_INFLIGHT", "7", 7, "0", "1000001" },
	{ "SLUICE_MAX_BYTES", "1048576", 1048576, "0", NULL },
	{ "SLUICE_SCAN_QUEUE", "9", 9, "0", "1000001" },
	{ "SLUICE_WORKERS", "3", 3, "0", "257" },
	{ "SLUICE_READ_TIMEOUT", "30", 30, "0", "604801" },
	{ "SLUICE_MESSAGE_TIMEOUT", "600", 600, "0", "604801" },
	{ "SLUICE_SCAN_TIMEOUT", "5", 5000, "0", "86401" },	/* seconds, kept in ms */
	{ "SLUICE_DRAIN_TIMEOUT", "0", 0, NULL, "86401" },
	{ "SLUICE_RELOAD_CHECK", "0", 0, NULL, "86401" },
	{ "SLUICE_BATCH", "16", 16, "0", "65" },
	{ "SLUICE_FSYNC_THREADS", "0", 0, NULL, "65" },
	{ "MIN_FREE", "100000000", 100000000, NULL, NULL },
	{ "SLUICE_MAX_BACKLOG", "50", 50, "0", NULL },
	{ "ERROR_FD", "5", 5, NULL, "128" },
	{ "SLUICE_TAG_CLEAN", "1", 1, NULL, "2" },
	{ "QHPSIMINSIZE", "100", 100, NULL, NULL },
	{ "QHPSIMAXSIZE", "2000000", 2000000, NULL, NULL },
	{ "QHPSIRC", "3", 3, NULL, "256" },
	{ "QHPSIRN", "4", 4, NULL, "256" },
};

static unsigned long long field(const struct router_config *c, const char *name)
{
#define F(var, expr) if (!strcmp(name, var)) return (unsigned long long)(expr)
	F("SLUICE_MAX_INFLIGHT", c->max_inflight);
	F("SLUICE_MAX_BYTES", c->max_bytes);
	F("SLUICE_SCAN_QUEUE", c->scan_depth);
	F("SLUICE_WORKERS", c->workers);
	F("SLUICE_READ_TIMEOUT", c->read_timeout);
	F("SLUICE_MESSAGE_TIMEOUT", c->message_timeout);
	F("SLUICE_SCAN_TIMEOUT", c->scan_timeout_ms);
	F("SLUICE_DRAIN_TIMEOUT", c->drain_timeout);
	F("SLUICE_RELOAD_CHECK", c->reload_check);
	F("SLUICE_BATCH", c->batch_max);
	F("SLUICE_FSYNC_THREADS", c->fsync_threads);
	F("MIN_FREE", c->min_free);
	F("SLUICE_MAX_BACKLOG", c->max_backlog);
	F("ERROR_FD", c->error_fd);
	F("SLUICE_TAG_CLEAN", c->tag_clean);
	F("QHPSIMINSIZE", c->scan.qhpsi_min);
	F("QHPSIMAXSIZE", c->scan.qhpsi_max);
	F("QHPSIRC", c->scan.qhpsi_rc);
	F("QHPSIRN", c->scan.qhpsi_rn);
#undef F
	fail_msg("no field for %s", name);
	return 0;
}

static void test_numbers(void **unused)
{
	static const char *const junk[] = {
		"abc", "12x", "1 ", " 1", "-1", "+1", "0x10", "1.5", "1e3", "--1",
		"99999999999999999999999",	/* past 2^64: not a silent maximum */
		"18446744073709551616",	/* 2^64 */
	};
	struct router_config c;
	char err[600];
	size_t i, j;

	for (i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		const char *name = nums[i].name;
		unsigned long long def, got;

		/* the default, and an empty value is the default too */
		assert_int_equal(load(&c, err, sizeof err), 0);
		def = field(&c, name);
		got = field(ok1(name, ""), name);
		if (got != def)
			fail_msg("%s=\"\": %llu, want the default %llu", name, got, def);
		got = field(ok1(name, nums[i].good), name);
		if (got != nums[i].want)
			fail_msg("%s=%s: %llu, want %llu", name, nums[i].good, got, nums[i].want);
		for (j = 0; j < sizeof junk / sizeof junk[0]; j++)
			bad1(name, junk[j]);
		if (nums[i].too_small)
			bad1(name, nums[i].too_small);
		if (nums[i].too_big)
			bad1(name, nums[i].too_big);
	}
}

/* the largest values the ranges allow are taken as they are */
static void test_numbers_limits(void **unused)
{
	assert_int_equal(ok1("SLUICE_MAX_BYTES", "18446744073709551615")->max_bytes, UINT64_MAX);
	assert_int_equal(ok1("MIN_FREE", "18446744073709551615")->min_free, UINT64_MAX);
	assert_int_equal(ok1("SLUICE_BATCH", "64")->batch_max, 64);
	assert_int_equal(ok1("SLUICE_BATCH", "1")->batch_max, 1);
	assert_int_equal(ok1("SLUICE_WORKERS", "256")->workers, 256);
	assert_int_equal(ok1("ERROR_FD", "127")->error_fd, 127);
	assert_int_equal(ok1("ERROR_FD", "0")->error_fd, 0);
	assert_int_equal(ok1("SLUICE_SCAN_TIMEOUT", "86400")->scan_timeout_ms, 86400000u);
	assert_int_equal(ok1("SLUICE_READ_TIMEOUT", "007")->read_timeout, 7);
}

/* ----------------------------------------------------------- REJECTVIRUS */

static void test_rejectvirus(void **unused)
{
	assert_int_equal(ok1("REJECTVIRUS", "0")->on_virus, ACTION_TAG);
	assert_int_equal(ok1("REJECTVIRUS", "1")->on_virus, ACTION_REJECT);
	assert_int_equal(ok1("REJECTVIRUS", "2")->on_virus, ACTION_DROP);
	/* only viruses: banned and spam keep their own settings */
	assert_int_equal(ok1("REJECTVIRUS", "2")->on_banned, ACTION_REJECT);
	assert_int_equal(ok1("REJECTVIRUS", "0")->on_spam, ACTION_REJECT);
	bad1("REJECTVIRUS", "3");
	bad1("REJECTVIRUS", "yes");
	bad1("REJECTVIRUS", "01");
	bad1("REJECTVIRUS", "-1");
	/* REJECTVIRUS, when set, wins over SLUICE_ON_VIRUS (it is read last) */
	setenv("SLUICE_ON_VIRUS", "quarantine", 1);
	setenv("SLUICE_QUARANTINE", tu_path(tmp, "quar"), 1);
	assert_int_equal(ok1("REJECTVIRUS", "1")->on_virus, ACTION_REJECT);
	unsetenv("SLUICE_ON_VIRUS");
	unsetenv("SLUICE_QUARANTINE");
	/* empty: unset */
	setenv("SLUICE_ON_VIRUS", "defer", 1);
	assert_int_equal(ok1("REJECTVIRUS", "")->on_virus, ACTION_DEFER);
	unsetenv("SLUICE_ON_VIRUS");
}

/* --------------------------------------------------------------- actions */

static void test_actions(void **unused)
{
	static const struct {
		const char *s;
		enum router_action a;
	} names[] = {
		{ "accept", ACTION_ACCEPT }, { "reject", ACTION_REJECT }, { "defer", ACTION_DEFER },
		{ "drop", ACTION_DROP }, { "tag", ACTION_TAG }, { "quarantine", ACTION_QUARANTINE },
	};
	static const char *const which[] = { "SLUICE_ON_VIRUS", "SLUICE_ON_BANNED", "SLUICE_ON_SPAM" };
	size_t i, j;

	setenv("SLUICE_QUARANTINE", tu_path(tmp, "quar"), 1);
	for (j = 0; j < 3; j++) {
		for (i = 0; i < sizeof names / sizeof names[0]; i++) {
			struct router_config *c = ok1(which[j], names[i].s);
			enum router_action got = j == 0 ? c->on_virus : j == 1 ? c->on_banned : c->on_spam;

			if (got != names[i].a)
				fail_msg("%s=%s: action %d, want %d", which[j], names[i].s, (int)got,
					 (int)names[i].a);
		}
		bad1(which[j], "bounce");
		bad1(which[j], "Reject");
		bad1(which[j], "reject ");
	}
	unsetenv("SLUICE_QUARANTINE");
	/* a scanner failure can only be deferred or accepted */
	assert_int_equal(ok1("SLUICE_ON_ERROR", "accept")->on_error, ACTION_ACCEPT);
	assert_int_equal(ok1("SLUICE_ON_ERROR", "defer")->on_error, ACTION_DEFER);
	bad1("SLUICE_ON_ERROR", "reject");
	bad1("SLUICE_ON_ERROR", "drop");
	bad1("SLUICE_ON_ERROR", "tag");
	bad1("SLUICE_ON_ERROR", "quarantine");
	bad1("SLUICE_ON_ERROR", "later");
}

/* ------------------------------------------------------------ quarantine */

static void test_quarantine(void **unused)
{
	struct router_config *c;
	char err[600], want[4200];
	struct router_config cc;
	const char *q = tu_path(tmp, "quar");
	char qdir[4200];

	snprintf(qdir, sizeof qdir, "%s", q);
	/* a quarantine action needs the Maildir */
	static const char *const which[] = { "SLUICE_ON_VIRUS", "SLUICE_ON_BANNED", "SLUICE_ON_SPAM" };
	for (size_t j = 0; j < 3; j++) {
		setenv(which[j], "quarantine", 1);
		assert_int_equal(load(&cc, err, sizeof err), -1);
		assert_non_null(strstr(err, "SLUICE_QUARANTINE"));
		unsetenv(which[j]);
	}
	/* with it: the log inside by default (sluiced makes the Maildir at
	 * start, as the user it runs as: router_run.c) */
	setenv("SLUICE_ON_VIRUS", "quarantine", 1);
	c = ok1("SLUICE_QUARANTINE", qdir);
	assert_int_equal(c->on_virus, ACTION_QUARANTINE);
	assert_string_equal(c->quarantine, qdir);
	assert_int_equal(c->quarantine_then, ACTION_REJECT);
	snprintf(want, sizeof want, "%s/quarantine.log", qdir);
	assert_string_equal(c->quarantine_log, want);
	/* an existing Maildir is fine */
	setenv("SLUICE_QUARANTINE", qdir, 1);
	assert_int_equal(load(&cc, err, sizeof err), 0);
	/* THEN */
	assert_int_equal(ok1("SLUICE_QUARANTINE_THEN", "drop")->quarantine_then, ACTION_DROP);
	assert_int_equal(ok1("SLUICE_QUARANTINE_THEN", "accept")->quarantine_then, ACTION_DROP);
	assert_int_equal(ok1("SLUICE_QUARANTINE_THEN", "reject")->quarantine_then, ACTION_REJECT);
	bad1("SLUICE_QUARANTINE_THEN", "defer");
	bad1("SLUICE_QUARANTINE_THEN", "tag");
	/* a log elsewhere */
	assert_string_equal(ok1("SLUICE_QUARANTINE_LOG", "/var/log/q.log")->quarantine_log,
			    "/var/log/q.log");
	unsetenv("SLUICE_QUARANTINE");
	unsetenv("SLUICE_ON_VIRUS");
}

/* -------------------------------------------------------------- scanners */

static void test_scanners(void **unused)
{
	struct router_config *c;
	struct router_config cc;
	char err[600];

	c = ok1("SLUICE_SCANNERS", "null");
	assert_int_equal(c->nscanners, 0);
	c = ok1("SLUICE_SCANNERS", "attach");
	assert_int_equal(c->nscanners, 1);
	assert_ptr_equal(c->scanners[0], &scan_backend_attach);
	/* separators: comma, blank, colon; null among others adds nothing */
	c = ok1("SLUICE_SCANNERS", "attach clamav:test,null");
	assert_int_equal(c->nscanners, 3);
	assert_ptr_equal(c->scanners[0], &scan_backend_attach);
	assert_ptr_equal(c->scanners[1], &scan_backend_clamav);
	assert_ptr_equal(c->scanners[2], &scan_backend_test);
	c = ok1("SLUICE_SCANNERS", "exec");
	assert_int_equal(c->nscanners, 1);
	assert_ptr_equal(c->scanners[0], &scan_backend_exec);
	c = ok1("SLUICE_SCANNERS", " , null ,");
	assert_int_equal(c->nscanners, 0);
	/* unknown: an error naming it */
	setenv("SLUICE_SCANNERS", "clamav,spamassassin", 1);
	assert_int_equal(load(&cc, err, sizeof err), -1);
	assert_non_null(strstr(err, "SLUICE_SCANNERS"));
	assert_non_null(strstr(err, "spamassassin"));
	/* the network scanners */
	c = ok1("SLUICE_SCANNERS", "clamd,spamd,rspamd");
	assert_int_equal(c->nscanners, 3);
	assert_ptr_equal(c->scanners[0], &scan_backend_clamd);
	assert_ptr_equal(c->scanners[1], &scan_backend_spamd);
	assert_ptr_equal(c->scanners[2], &scan_backend_rspamd);
	bad1("SLUICE_SCANNERS", "ClamAV");
	/* at most ROUTER_MAX_SCANNERS */
	c = ok1("SLUICE_SCANNERS", "test,test,test,test,test,test,test,test");
	assert_int_equal(c->nscanners, ROUTER_MAX_SCANNERS);
	bad1("SLUICE_SCANNERS", "test,test,test,test,test,test,test,test,test");
	/* nulls do not count towards the limit */
	c = ok1("SLUICE_SCANNERS", "null,null,null,null,null,null,null,null,null,attach");
	assert_int_equal(c->nscanners, 1);
}

/* the network scanners' settings: defaults, values, bad values refused */
static void test_network(void **unused)
{
	struct router_config *c;

	c = ok1("SLUICE_CLAMD", "unix:/run/clamd.ctl,127.0.0.1:3310");
	assert_string_equal(c->scan.clamd, "unix:/run/clamd.ctl,127.0.0.1:3310");
	assert_null(c->scan.spamd);
	assert_null(c->scan.rspamd);
	assert_int_equal(c->scan.clamd_fildes, 0);
	assert_int_equal(c->scan.clamd_maxstream, 26214400);
	assert_int_equal(c->scan.spam_maxsize, 512000);
	assert_int_equal(c->scan.spam_relayclient, 0);
	assert_true(c->scan.spam_hits == 0);
	assert_int_equal(c->net_threads, 64);
	assert_int_equal(c->scan.net_conns, 16);
	assert_int_equal(c->scan.net_connect_ms, 2000);
	assert_int_equal(c->scan.net_retry_ms, 10000);
	c = ok1("SLUICE_SPAM_HITS", "20.1");
	assert_true(c->scan.spam_hits > 20.09 && c->scan.spam_hits < 20.11);
	c = ok1("SLUICE_NET_RETRY", "3");
	assert_int_equal(c->scan.net_retry_ms, 3000);
	c = ok1("SLUICE_SPAMD_USER", "%r");
	assert_string_equal(c->scan.spamd_user, "%r");
	c = ok1("SLUICE_CLAMD_FILDES", "1");
	assert_int_equal(c->scan.clamd_fildes, 1);
	bad1("SLUICE_SPAM_HITS", "five");
	bad1("SLUICE_SPAM_HITS", "-1");
	bad1("SLUICE_SPAM_HITS", "5x");
	bad1("SLUICE_CLAMD_FILDES", "2");
	bad1("SLUICE_NET_THREADS", "0");
	bad1("SLUICE_NET_CONNS", "0");
	bad1("SLUICE_SPAM_MAXSIZE", "0");
}

/* ---------------------------------------------------------------- others */

static void test_others(void **unused)
{
	struct router_config *c;
	struct group *g;

	assert_int_equal(ok1("SLUICE_SYNC", "data")->sync, QUEUE_SYNC_DATA);
	assert_int_equal(ok1("SLUICE_SYNC", "none")->sync, QUEUE_SYNC_NONE);
	assert_int_equal(ok1("SLUICE_SYNC", "full")->sync, QUEUE_SYNC_FULL);
	bad1("SLUICE_SYNC", "fast");
	assert_int_equal(ok1("SLUICE_CUSTOM_ERROR", "notqmail")->custom, CUSTOM_NOTQMAIL);
	assert_int_equal(ok1("SLUICE_CUSTOM_ERROR", "simscan")->custom, CUSTOM_SIMSCAN);
	assert_int_equal(ok1("SLUICE_CUSTOM_ERROR", "indimail")->custom, CUSTOM_INDIMAIL);
	assert_int_equal(ok1("SLUICE_CUSTOM_ERROR", "none")->custom, CUSTOM_NONE);
	bad1("SLUICE_CUSTOM_ERROR", "qmail");
	assert_int_equal(ok1("SLUICE_SOCKET_MODE", "0660")->socket_mode, 0660);
	assert_int_equal(ok1("SLUICE_SOCKET_MODE", "600")->socket_mode, 0600);
	bad1("SLUICE_SOCKET_MODE", "0999");
	bad1("SLUICE_SOCKET_MODE", "01777");
	bad1("SLUICE_SOCKET_MODE", "rw");
	bad1("SLUICE_SOCKET_GROUP", "no-such-group-sluice-test");
	if ((g = getgrgid(getgid())))
		assert_int_equal(ok1("SLUICE_SOCKET_GROUP", g->gr_name)->socket_gid, getgid());
	/* socket paths */
	c = ok1("SLUICE_SOCKET", "/run/sluice/s.sock");
	assert_string_equal(c->socket_path, "/run/sluice/s.sock");
	assert_string_equal(c->stats_path, "/run/sluice/s.sock.stats");
	assert_string_equal(ok1("SLUICE_STATS_SOCKET", "/run/st")->stats_path, "/run/st");
	assert_string_equal(ok1("SLUICE_USER", "qmailq")->user, "qmailq");
	/* scanner settings are passed through */
	assert_string_equal(ok1("SLUICE_CLAMDB", "/var/lib/clamav")->scan.clamdb, "/var/lib/clamav");
	assert_string_equal(ok1("SLUICE_BANNED", ".exe .zip")->scan.banned, ".exe .zip");
	/* clamav applies the banned list when attach runs too, and only then */
	assert_int_equal(ok1("SLUICE_SCANNERS", "clamav,attach")->scan.clamav_banned, 1);
	assert_int_equal(ok1("SLUICE_SCANNERS", "attach clamav")->scan.clamav_banned, 1);
	assert_int_equal(ok1("SLUICE_SCANNERS", "clamav")->scan.clamav_banned, 0);
	assert_int_equal(ok1("SLUICE_SCANNERS", "exec")->scan.clamav_banned, 0);
	/* encrypted archives: pass (default) or limit */
	assert_int_equal(ok1("SLUICE_ENCRYPTED", "limit")->scan.clamav_encrypted, 1);
	assert_int_equal(ok1("SLUICE_ENCRYPTED", "pass")->scan.clamav_encrypted, 0);
	bad1("SLUICE_ENCRYPTED", "reject");
	setenv("QHPSIARG1", "-a", 1);
	setenv("QHPSIARG3", "-c", 1);
	c = ok1("QHPSI", "/bin/scan %s");
	assert_string_equal(c->scan.qhpsi, "/bin/scan %s");
	assert_string_equal(c->scan.qhpsi_arg[0], "-a");
	assert_null(c->scan.qhpsi_arg[1]);
	assert_string_equal(c->scan.qhpsi_arg[2], "-c");
	unsetenv("QHPSIARG1");
	unsetenv("QHPSIARG3");
	assert_int_equal(ok1("SLUICE_TAG_CLEAN", "1")->tag_clean, 1);
}


/* envput - file NAME of the envdir holding TEXT (NULL: remove it) */
static void envput(const char *dir, const char *name, const char *text)
{
	const char *path = tu_path(dir, "%s", name);

	if (!text)
		unlink(path);
	else
		tu_write(path, text, strlen(text));
}

static void test_envdir(void **unused)
{
	static struct router_config c;
	char err[600], msg[2048];
	const char *dir = tu_path(tmp, "env");
	char *d = strdup(dir);

	assert_int_equal(mkdir(d, 0755), 0);
	setenv("SLUICE_ENVDIR", d, 1);

	/* at start: first line, blanks cut; an empty file unsets */
	envput(d, "SLUICE_MAX_INFLIGHT", "300 \t\nignored second line\n");
	envput(d, "SLUICE_ON_VIRUS", "defer\n");
	setenv("SLUICE_ON_SPAM", "drop", 1);
	envput(d, "SLUICE_ON_SPAM", "");
	assert_int_equal(router_envdir_start(err, sizeof err), 0);
	assert_string_equal(getenv("SLUICE_MAX_INFLIGHT"), "300");
	assert_null(getenv("SLUICE_ON_SPAM"));
	assert_int_equal(router_config_env(&c, err, sizeof err), 0);
	assert_int_equal(c.max_inflight, 300);
	assert_int_equal(c.on_virus, ACTION_DEFER);
	assert_int_equal(c.on_spam, ACTION_REJECT);

	/* reload: live settings applied and named; the environment untouched */
	envput(d, "SLUICE_MAX_INFLIGHT", "40\n");
	envput(d, "SLUICE_ON_VIRUS", "tag\n");
	envput(d, "SLUICE_SCAN_TIMEOUT", "7\n");
	assert_int_equal(router_config_reload(&c, msg, sizeof msg), 0);
	assert_int_equal(c.max_inflight, 40);
	assert_int_equal(c.on_virus, ACTION_TAG);
	assert_int_equal(c.scan_timeout_ms, 7000);
	assert_non_null(strstr(msg, "SLUICE_MAX_INFLIGHT 300 -> 40"));
	assert_non_null(strstr(msg, "SLUICE_ON_VIRUS defer -> tag"));
	assert_non_null(strstr(msg, "SLUICE_SCAN_TIMEOUT 60 -> 7"));
	assert_string_equal(getenv("SLUICE_MAX_INFLIGHT"), "300");

	/* nothing changed */
	assert_int_equal(router_config_reload(&c, msg, sizeof msg), 0);
	assert_string_equal(msg, "settings unchanged");

	/* restart-only: named, not applied */
	envput(d, "SLUICE_WORKERS", "13\n");
	envput(d, "SLUICE_SYNC", "fs\n");
	assert_int_equal(router_config_reload(&c, msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "SLUICE_WORKERS changed: takes effect at restart"));
	assert_non_null(strstr(msg, "SLUICE_SYNC changed: takes effect at restart"));
	assert_int_not_equal(c.workers, 13);
	assert_int_equal(c.sync, QUEUE_SYNC_FULL);
	envput(d, "SLUICE_WORKERS", NULL);
	envput(d, "SLUICE_SYNC", NULL);

	/* a bad value: nothing applied, the cause named */
	envput(d, "SLUICE_MAX_INFLIGHT", "5\n");
	envput(d, "SLUICE_MAX_BYTES", "12x\n");
	assert_int_equal(router_config_reload(&c, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "SLUICE_MAX_BYTES=12x"));
	assert_non_null(strstr(msg, "running settings kept"));
	assert_int_equal(c.max_inflight, 40);

	/* quarantine: its Maildir is made at start, so a reload cannot add it */
	envput(d, "SLUICE_MAX_BYTES", NULL);
	envput(d, "SLUICE_QUARANTINE", "/var/spool/sluice-quarantine\n");
	envput(d, "SLUICE_ON_BANNED", "quarantine\n");
	assert_int_equal(router_config_reload(&c, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "needs SLUICE_QUARANTINE"));
	assert_non_null(strstr(msg, "settings that change at restart as they run"));
	assert_non_null(strstr(msg, "running settings kept"));
	assert_int_equal(c.on_banned, ACTION_REJECT);
	assert_int_equal(c.max_inflight, 40);

	/* the directory gone: an error naming it, nothing applied */
	tu_rmtree(d);
	assert_int_equal(router_config_reload(&c, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "cannot open"));
	assert_int_equal(router_envdir_start(err, sizeof err), -1);
	assert_non_null(strstr(err, d));

	/* no SLUICE_ENVDIR: SIGHUP changes no setting */
	unsetenv("SLUICE_ENVDIR");
	assert_int_equal(router_config_reload(&c, msg, sizeof msg), 0);
	assert_string_equal(msg, "no SLUICE_ENVDIR: settings unchanged");
	router_config_free(&c);
	free(d);
}

/* the help lists every variable the tests set */
static void test_help(void **unused)
{
	char path[4200], *text;
	FILE *f;
	size_t i;
	int saved;

	snprintf(path, sizeof path, "%s/help.txt", tmp);
	fflush(stdout);
	saved = dup(1);
	f = fopen(path, "w");
	assert_non_null(f);
	dup2(fileno(f), 1);
	router_config_help();
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(f);
	text = tu_read(path, NULL);
	assert_non_null(text);
	for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
		if (!strstr(text, vars[i]))
			fail_msg("--help does not list %s", vars[i]);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numbers_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejectvirus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scanners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_network, setup, teardown),
		cmocka_unit_test_setup_teardown(test_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
