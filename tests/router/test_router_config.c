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
 *	remote        SLUICE_QMQP as a list (IPv4, IPv6, ports; commas or
 *	              blanks) and as a qmqpservers file (comments, blank lines,
 *	              CR LF); names, duplicates, more than ROUTER_MAX_REMOTE,
 *	              an empty list or file, a missing file are errors naming
 *	              it (and the file's line); the other remote settings'
 *	              defaults and values; spool without SLUICE_QMQP, or with
 *	              SLUICE_REQUIRE_SEND=1, is refused
 *	others        SLUICE_SYNC, SLUICE_CUSTOM_ERROR, SLUICE_SOCKET_MODE,
 *	              SLUICE_SOCKET_GROUP, QUEUEDIR / QUEUE_COUNT, CONFSPLIT, QHPSI*
 *	envdir        SLUICE_ENVDIR at start: first line, trailing blanks cut,
 *	              an empty file unsets, a missing dir is an error naming it;
 *	              reload: live settings applied and named old -> new, a
 *	              restart-only change named and not applied, a bad value
 *	              applies nothing, no SLUICE_ENVDIR changes nothing; a file
 *	              removed gives back the start-time environment's value
 *	every         each setting sluiced reads, from the table, changed in the
 *	              envdir and reloaded: a live one is named "old -> new" and
 *	              changes the running configuration, a restart-only one is
 *	              named as such and changes not one byte of it; then back
 *	snapshot      router_config_load() / _compare() / _ref() / _unref():
 *	              the new snapshot takes live values, keeps restart-only
 *	              ones (also an externally derived one: the workers), carries
 *	              the derived in-flight limit, is refused whole when bad, and
 *	              frees on the last reference without touching the running one
 *	direct        sluiced and direct mode take the same QHPSI*, REJECTVIRUS,
 *	              SLUICE_CUSTOM_ERROR, ERROR_FD, SLUICE_SYNC, MIN_FREE,
 *	              CONFSPLIT and queue values the same way, and refuse the
 *	              same ones with the same words
 *	table         what the table says fits the daemon: scanner words are
 *	              scan/'s backends, SLUICE_BANNED's default is scan/'s, the
 *	              in-flight default is ROUTER_INFLIGHT_DEFAULT, every live
 *	              setting is a number or a word (reload in place copies no
 *	              string)
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
	"QHPSIMAXSIZE", "QHPSIRC", "QHPSIRN", "SLUICE_ENVDIR", "SLUICE_CONTROL",
	"SLUICE_POLICY_SENDER", "SLUICE_ON_LIMIT", "SLUICE_STATS_MODE",
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

/* Snapshots SIGHUP swapped out, kept alive as sluiced keeps them (the new
 * one shares their restart-only values) and freed at the end of a test. */
static struct router_config *retired[512];
static size_t nretired;

/* reload - SIGHUP as sluiced does it: the new snapshot replaces *cp */
static int reload(struct router_config **cp, char *msg, size_t cap)
{
	struct router_config *old = NULL;
	int rc = router_config_reload(cp, msg, cap, &old);

	if (old)
		retired[nretired++] = old;
	assert_true(nretired < sizeof retired / sizeof retired[0]);
	return rc;
}

/* reload_done - free every snapshot but the first (the test's own) */
static void reload_done(struct router_config *first, struct router_config *cur)
{
	size_t i;

	for (i = 0; i < nretired; i++)
		if (retired[i] != first)
			router_config_unref(retired[i]);
	if (cur != first)
		router_config_unref(cur);
	nretired = 0;
}

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

/* ---------------------------------------------------------------- remote */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_remote(void **unused)
{
	struct router_config *c, cc;
	char err[600], list[2048], *path;
	size_t n, i;

	c = ok1("QUEUE_COUNT", "2");	/* the defaults */
	assert_int_equal(c->nqmqp, 0);
	assert_int_equal(c->qmqp_weight, 100);
	assert_int_equal(c->local_spool, 0);
	assert_int_equal(c->qmqp_conns, 16);
	assert_int_equal(c->qmqp_connect_ms, 10000);	/* qmail-qmqpc's */
	assert_int_equal(c->qmqp_io_ms, 60000);
	assert_int_equal(c->qmqp_timeout_ms, 300000);
	assert_int_equal(c->qmqp_retry_ms, 10000);
	assert_int_equal(c->qmqp_slow_ms, 5000);

	c = ok1("SLUICE_QMQP", " 192.0.2.7, [2001:db8::7]:6628\t192.0.2.8:7000,,2001:db8::9 ");
	assert_int_equal(c->nqmqp, 4);
	assert_string_equal(c->qmqp[0].name, "192.0.2.7:628");
	assert_string_equal(c->qmqp[1].name, "[2001:db8::7]:6628");
	assert_string_equal(c->qmqp[2].name, "192.0.2.8:7000");
	assert_string_equal(c->qmqp[3].name, "[2001:db8::9]:628");
	assert_int_equal(c->qmqp[1].sa.ss_family, AF_INET6);

	/* qmail-qmqpc's control file */
	path = strdup(tu_path(tmp, "qmqpservers"));
	write_file(path, "# central hosts\n192.0.2.7\r\n\n  192.0.2.8:6628  \n#192.0.2.9\n[::1]:1234\n");
	c = ok1("SLUICE_QMQP", path);
	assert_int_equal(c->nqmqp, 3);
	assert_string_equal(c->qmqp[0].name, "192.0.2.7:628");
	assert_string_equal(c->qmqp[1].name, "192.0.2.8:6628");
	assert_string_equal(c->qmqp[2].name, "[::1]:1234");
	write_file(path, "192.0.2.7\nmx.example.org\n");
	setenv("SLUICE_QMQP", path, 1);
	assert_int_equal(load(&cc, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 2"));
	assert_non_null(strstr(err, "mx.example.org"));
	write_file(path, "# nothing\n\n");
	assert_int_equal(load(&cc, err, sizeof err), -1);
	assert_non_null(strstr(err, "no server in the file"));
	unlink(path);
	assert_int_equal(load(&cc, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot open"));
	assert_non_null(strstr(err, path));
	unsetenv("SLUICE_QMQP");
	free(path);

	bad1("SLUICE_QMQP", "mx.example.org");
	bad1("SLUICE_QMQP", "192.0.2.7:0");
	bad1("SLUICE_QMQP", "192.0.2.7, 192.0.2.7:628");	/* the same server twice */
	bad1("SLUICE_QMQP", ", ,");
	bad1("SLUICE_QMQP", "relative/qmqpservers");
	for (i = 0, n = 0; i <= ROUTER_MAX_REMOTE; i++)
		n += (size_t)snprintf(list + n, sizeof list - n, "192.0.2.%zu ", i + 1);
	bad1("SLUICE_QMQP", list);
	list[n - strlen("192.0.2.65 ")] = 0;
	assert_int_equal(ok1("SLUICE_QMQP", list)->nqmqp, ROUTER_MAX_REMOTE);

	c = ok1("SLUICE_QMQP_WEIGHT", "0");
	assert_int_equal(c->qmqp_weight, 0);
	bad1("SLUICE_QMQP_WEIGHT", "101");
	assert_int_equal(ok1("SLUICE_QMQP_CONNS", "3")->qmqp_conns, 3);
	bad1("SLUICE_QMQP_CONNS", "0");
	assert_int_equal(ok1("SLUICE_QMQP_CONNECT_TIMEOUT", "2")->qmqp_connect_ms, 2000);
	assert_int_equal(ok1("SLUICE_QMQP_IO_TIMEOUT", "3")->qmqp_io_ms, 3000);
	assert_int_equal(ok1("SLUICE_QMQP_TIMEOUT", "4")->qmqp_timeout_ms, 4000);
	assert_int_equal(ok1("SLUICE_QMQP_RETRY", "5")->qmqp_retry_ms, 5000);
	assert_int_equal(ok1("SLUICE_QMQP_SLOW", "0")->qmqp_slow_ms, 0);
	bad1("SLUICE_QMQP_TIMEOUT", "0");
	bad1("SLUICE_LOCAL_QUEUES", "none");

	/* a spool needs remote queues, and has no qmail-send */
	bad1("SLUICE_LOCAL_QUEUES", "spool");
	setenv("SLUICE_QMQP", "192.0.2.7", 1);
	c = ok1("SLUICE_LOCAL_QUEUES", "spool");
	assert_int_equal(c->local_spool, 1);
	assert_int_equal(c->nqmqp, 1);
	setenv("SLUICE_LOCAL_QUEUES", "spool", 1);
	bad1("SLUICE_REQUIRE_SEND", "1");
	unsetenv("SLUICE_LOCAL_QUEUES");
	unsetenv("SLUICE_QMQP");
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
	struct router_config *cp = &c;
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
	assert_int_equal(reload(&cp, msg, sizeof msg), 0);
	assert_int_equal(cp->max_inflight, 40);
	assert_int_equal(cp->on_virus, ACTION_TAG);
	assert_int_equal(cp->scan_timeout_ms, 7000);
	assert_non_null(strstr(msg, "SLUICE_MAX_INFLIGHT 300 -> 40"));
	assert_non_null(strstr(msg, "SLUICE_ON_VIRUS defer -> tag"));
	assert_non_null(strstr(msg, "SLUICE_SCAN_TIMEOUT 60 -> 7"));
	assert_string_equal(getenv("SLUICE_MAX_INFLIGHT"), "300");

	/* nothing changed */
	assert_int_equal(reload(&cp, msg, sizeof msg), 0);
	assert_string_equal(msg, "settings unchanged");

	/* restart-only: named, not applied */
	envput(d, "SLUICE_WORKERS", "13\n");
	envput(d, "SLUICE_SYNC", "fs\n");
	assert_int_equal(reload(&cp, msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "SLUICE_WORKERS changed: takes effect at restart"));
	assert_non_null(strstr(msg, "SLUICE_SYNC changed: takes effect at restart"));
	assert_int_not_equal(cp->workers, 13);
	assert_int_equal(cp->sync, QUEUE_SYNC_FULL);
	envput(d, "SLUICE_WORKERS", NULL);
	envput(d, "SLUICE_SYNC", NULL);

	/* a bad value: nothing applied, the cause named */
	envput(d, "SLUICE_MAX_INFLIGHT", "5\n");
	envput(d, "SLUICE_MAX_BYTES", "12x\n");
	assert_int_equal(reload(&cp, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "SLUICE_MAX_BYTES=12x"));
	assert_non_null(strstr(msg, "running settings kept"));
	assert_int_equal(cp->max_inflight, 40);

	/* quarantine: its Maildir is made at start, so a reload cannot add it */
	envput(d, "SLUICE_MAX_BYTES", NULL);
	envput(d, "SLUICE_QUARANTINE", "/var/spool/sluice-quarantine\n");
	envput(d, "SLUICE_ON_BANNED", "quarantine\n");
	assert_int_equal(reload(&cp, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "needs SLUICE_QUARANTINE"));
	assert_non_null(strstr(msg, "settings that change at restart as they run"));
	assert_non_null(strstr(msg, "running settings kept"));
	assert_int_equal(cp->on_banned, ACTION_REJECT);
	assert_int_equal(cp->max_inflight, 40);

	/* the directory gone: an error naming it, nothing applied */
	tu_rmtree(d);
	assert_int_equal(reload(&cp, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "cannot open"));
	assert_int_equal(router_envdir_start(err, sizeof err), -1);
	assert_non_null(strstr(err, d));

	/* no SLUICE_ENVDIR: SIGHUP changes no setting */
	unsetenv("SLUICE_ENVDIR");
	assert_int_equal(reload(&cp, msg, sizeof msg), 0);
	assert_string_equal(msg, "no SLUICE_ENVDIR: settings unchanged");
	reload_done(&c, cp);
	router_config_free(&c);
	free(d);
}

/* ------------------------------------------------------------- every one */

/* other_value - a valid value of setting e other than what it has now
 * (cur), or NULL when the test cannot make one up */
static const char *other_value(const struct control_setting *e, const struct control_value *cur)
{
	static char buf[4200];
	struct group *g;
	size_t i, n;

	switch (e->type) {
	case CONTROL_T_NUMBER:
	case CONTROL_T_SECONDS:
	case CONTROL_T_BYTES:
		snprintf(buf, sizeof buf, "%llu",
			 (unsigned long long)(cur->u != e->lo ? e->lo : e->lo + 1));
		return buf;
	case CONTROL_T_MODE:
		return cur->u == 0600 ? "0640" : "0600";
	case CONTROL_T_SCORE:
		return "7.5";
	case CONTROL_T_ENUM:
		/* the last word that is not the current one (REJECTVIRUS: 2,
		 * drop, not 1, which means what SLUICE_ON_VIRUS's default does);
		 * not quarantine, which needs the Maildir made at start */
		for (n = 0; e->words[n]; n++)
			;
		for (i = n; i-- > 0;)
			if (!strchr(e->words[i], '=') && strcmp(e->words[i], "quarantine") &&
			    i != cur->u)
				return e->words[i];
		return NULL;
	case CONTROL_T_STRING:
		if (!strcmp(e->name, "SLUICE_SOCKET_GROUP"))
			return (g = getgrgid(getgid())) ? g->gr_name : NULL;
		return "some-value";
	case CONTROL_T_LIST:
		if (!strcmp(e->name, "SLUICE_SCANNERS"))
			return "attach";
		if (!strcmp(e->name, "SLUICE_QMQP"))	/* the test's start has 127.0.0.1:6628 */
			return "[::1]:6628";
		return "unix:/nowhere";
	case CONTROL_T_PATH:
		snprintf(buf, sizeof buf, "%s/other", tmp);
		return buf;
	case CONTROL_T_FILE:
		break;
	}
	return NULL;
}

static void tail(char *buf, size_t cap)
{
	size_t n = strnlen(buf, cap);

	memset(buf + n, 0, cap - n);
}

/* without_values - c's bytes with the settings' values left out, and what
 * a new snapshot holds in storage of its own (the queue set's arrays, the
 * reference count): a reload swaps in a new snapshot, and what must not
 * change for a restart-only setting is every value, not every pointer */
static void without_values(const struct router_config *c, struct router_config *out)
{
	memcpy(out, c, sizeof *out);
	memset(&out->settings, 0, sizeof out->settings);
	memset(&out->set, 0, sizeof out->set);
	out->refs = 0;
	/* text fields: what follows the NUL is no value */
	tail(out->socket_path, sizeof out->socket_path);
	tail(out->stats_path, sizeof out->stats_path);
	tail(out->quarantine_log, sizeof out->quarantine_log);
	tail(out->unknown, sizeof out->unknown);
}

/* same_queues - a and b describe the same queue trees */
static int same_queues(const struct router_config *a, const struct router_config *b)
{
	unsigned i;

	if (a->set.n != b->set.n)
		return 0;
	for (i = 0; i < a->set.n; i++)
		if (strcmp(a->set.v[i].path, b->set.v[i].path) || strcmp(a->set.v[i].name, b->set.v[i].name))
			return 0;
	return 1;
}

static void test_every_setting(void **unused)
{
	static struct router_config c, before, after;
	struct router_config *cp = &c, *old;
	char err[600], msg[2048], want[300];
	const char *dir = tu_path(tmp, "env");
	char *d = strdup(dir);
	size_t i, live = 0, restart = 0;

	assert_int_equal(mkdir(d, 0755), 0);
	setenv("SLUICE_ENVDIR", d, 1);
	/* remote queues from the start: SLUICE_LOCAL_QUEUES=spool needs them */
	setenv("SLUICE_QMQP", "127.0.0.1:6628", 1);
	assert_int_equal(router_envdir_start(err, sizeof err), 0);
	assert_int_equal(router_config_env(&c, err, sizeof err), 0);
	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		const struct control_setting *e = &control_settings_table[i];
		const char *v;
		int changed;

		if (!(e->programs & CONTROL_P_SLUICED) || e->type == CONTROL_T_FILE)
			continue;
		if (!(v = other_value(e, &c.settings.v[i])))
			fail_msg("no other value for %s", e->name);
		envput(d, e->name, v);
		without_values(cp, &before);
		old = cp;
		if (reload(&cp, msg, sizeof msg) != 0)
			fail_msg("%s=%s: reload refused: %s", e->name, v, msg);
		without_values(cp, &after);
		changed = memcmp(&before, &after, sizeof before) != 0 || !same_queues(old, cp);
		if (e->live) {
			snprintf(want, sizeof want, "%s ", e->name);
			if (strncmp(msg, want, strlen(want)) || !strstr(msg, " -> ") || strchr(msg, ';'))
				fail_msg("%s=%s (live): \"%s\"", e->name, v, msg);
			if (!changed)
				fail_msg("%s=%s (live): the running configuration did not change", e->name,
					 v);
			live++;
		} else {
			snprintf(want, sizeof want, "%s changed: takes effect at restart", e->name);
			if (strcmp(msg, want))
				fail_msg("%s=%s (restart): \"%s\"", e->name, v, msg);
			if (changed)
				fail_msg("%s=%s (restart): the running configuration changed", e->name, v);
			restart++;
		}
		/* back: the file removed, the start's value again */
		envput(d, e->name, NULL);
		if (reload(&cp, msg, sizeof msg) != 0)
			fail_msg("%s back: %s", e->name, msg);
		if (!e->live && strcmp(msg, "settings unchanged"))
			fail_msg("%s back: \"%s\"", e->name, msg);
		assert_int_equal(reload(&cp, msg, sizeof msg), 0);
		if (strcmp(msg, "settings unchanged"))
			fail_msg("%s back, twice: \"%s\"", e->name, msg);
		without_values(cp, &after);
		if (e->live && memcmp(&before, &after, sizeof before))
			fail_msg("%s back: the running configuration is not what it was", e->name);
	}
	print_message("%zu live and %zu restart-only settings reloaded\n", live, restart);
	reload_done(&c, cp);
	router_config_free(&c);
	unsetenv("SLUICE_ENVDIR");
	unsetenv("SLUICE_QMQP");
	free(d);
}

/* -------------------------------------------------------------- snapshot */

static void test_snapshot(void **unused)
{
	struct router_config *rp;
	static struct router_config run;
	struct router_config *n, *m;
	char err[600], msg[2048];
	const char *dir = tu_path(tmp, "env");
	char *d = strdup(dir);

	assert_int_equal(mkdir(d, 0755), 0);
	setenv("SLUICE_ENVDIR", d, 1);
	assert_int_equal(router_envdir_start(err, sizeof err), 0);
	assert_int_equal(router_config_env(&run, err, sizeof err), 0);
	run.max_inflight = run.max_inflight_auto = 77;	/* as router_run() derives it */

	/* a whole new snapshot: live values taken, restart-only ones kept */
	envput(d, "SLUICE_ON_SPAM", "tag\n");
	envput(d, "SLUICE_READ_TIMEOUT", "30\n");
	envput(d, "SLUICE_SYNC", "none\n");
	envput(d, "QUEUE_COUNT", "2\n");
	envput(d, "SLUICE_BANNED", ".zip\n");
	n = router_config_load(err, sizeof err);
	assert_non_null(n);
	/* as read, before the comparison */
	assert_int_equal(n->sync, QUEUE_SYNC_NONE);
	assert_int_equal(n->set.n, 2);
	assert_int_equal(n->max_inflight, ROUTER_INFLIGHT_DEFAULT);
	assert_int_equal(router_config_compare(&run, n, msg, sizeof msg), 0);
	assert_string_equal(msg, "QUEUE_COUNT changed: takes effect at restart; "
				 "SLUICE_READ_TIMEOUT 1200 -> 30; SLUICE_SYNC changed: takes effect "
				 "at restart; SLUICE_ON_SPAM reject -> tag; SLUICE_BANNED changed: "
				 "takes effect at restart");
	assert_int_equal(n->on_spam, ACTION_TAG);
	assert_int_equal(n->read_timeout, 30);
	assert_int_equal(n->sync, QUEUE_SYNC_FULL);
	assert_int_equal(n->set.n, 5);
	assert_string_equal(n->set.v[4].path, run.set.v[4].path);
	assert_ptr_not_equal(n->set.v[4].path, run.set.v[4].path);	/* its own copy */
	assert_string_equal(n->scan.banned, SCAN_BANNED_DEFAULT);
	assert_int_equal(n->workers, run.workers);
	/* the in-flight limit router_run() derived carries over while unset */
	assert_int_equal(n->max_inflight, 77);
	assert_int_equal(n->max_inflight_auto, 77);
	/* a reference held elsewhere keeps it alive; the last one frees it and
	 * nothing of the running one (valgrind checks the rest) */
	router_config_ref(n);
	router_config_unref(n);
	assert_int_equal(n->read_timeout, 30);
	router_config_unref(n);
	assert_int_equal(run.set.n, 5);
	assert_non_null(run.set.v[4].path);

	/* the workers are derived from the processors: a different count (a
	 * CPU brought online) is a restart-only change like any other */
	n = router_config_load(err, sizeof err);
	assert_non_null(n);
	n->settings.v[CONTROL_S_SLUICE_WORKERS].u = run.workers + 1;
	assert_int_equal(router_config_compare(&run, n, msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "SLUICE_WORKERS changed: takes effect at restart"));
	assert_int_equal(n->workers, run.workers);
	router_config_unref(n);

	/* a bad value: no snapshot at all */
	envput(d, "SLUICE_NET_CONNS", "0\n");
	assert_null(router_config_load(err, sizeof err));
	assert_string_equal(err, "SLUICE_NET_CONNS=0: want a number from 1 to 10000");
	envput(d, "SLUICE_NET_CONNS", NULL);
	/* valid alone, invalid with the restart-only values as they run */
	envput(d, "SLUICE_QUARANTINE", "/var/spool/q\n");
	envput(d, "SLUICE_ON_VIRUS", "quarantine\n");
	m = router_config_load(err, sizeof err);
	assert_non_null(m);
	assert_int_equal(router_config_compare(&run, m, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "needs SLUICE_QUARANTINE"));
	assert_non_null(strstr(msg, "running settings kept"));
	router_config_unref(m);
	envput(d, "SLUICE_QUARANTINE", NULL);
	envput(d, "SLUICE_ON_VIRUS", NULL);

	/* a misspelt file: named at start and in what a reload says */
	envput(d, "SLUICE_ON_VIRSU", "quarantine\n");
	router_config_free(&run);
	assert_int_equal(router_envdir_start(err, sizeof err), 0);
	assert_int_equal(router_config_env(&run, err, sizeof err), 0);
	assert_string_equal(run.unknown, "SLUICE_ON_VIRSU");
	rp = &run;
	assert_int_equal(reload(&rp, msg, sizeof msg), 0);
	assert_string_equal(msg, "settings unchanged; SLUICE_ENVDIR: SLUICE_ON_VIRSU: no such "
				 "setting, ignored");
	envput(d, "SLUICE_ON_VIRSU", NULL);
	assert_int_equal(reload(&rp, msg, sizeof msg), 0);
	assert_string_equal(msg, "settings unchanged");

	/* a file removed since the start gives back the environment's value
	 * from before the directory was applied, not the directory's */
	envput(d, "SLUICE_TAG_CLEAN", "1\n");
	setenv("SLUICE_DRAIN_TIMEOUT", "5", 1);
	envput(d, "SLUICE_DRAIN_TIMEOUT", "9\n");
	reload_done(&run, rp);
	router_config_free(&run);
	assert_int_equal(router_envdir_start(err, sizeof err), 0);
	assert_string_equal(getenv("SLUICE_DRAIN_TIMEOUT"), "9");
	assert_int_equal(router_config_env(&run, err, sizeof err), 0);
	assert_int_equal(run.tag_clean, 1);
	assert_int_equal(run.drain_timeout, 9);
	rp = &run;
	envput(d, "SLUICE_TAG_CLEAN", NULL);
	envput(d, "SLUICE_DRAIN_TIMEOUT", NULL);
	assert_int_equal(reload(&rp, msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "SLUICE_TAG_CLEAN 1 -> 0"));
	assert_non_null(strstr(msg, "SLUICE_DRAIN_TIMEOUT 9 -> 5"));
	assert_int_equal(rp->tag_clean, 0);
	assert_int_equal(rp->drain_timeout, 5);
	reload_done(&run, rp);
	unsetenv("SLUICE_DRAIN_TIMEOUT");
	unsetenv("SLUICE_TAG_CLEAN");
	router_config_free(&run);
	unsetenv("SLUICE_ENVDIR");
	free(d);
}

/* ---------------------------------------------------------------- direct */

static void test_direct_same(void **unused)
{
	static const char *const cases[][2] = {
		{ "QHPSIRC", "3" }, { "QHPSIRC", "255" }, { "QHPSIRC", "256" }, { "QHPSIRC", "1x" },
		{ "QHPSIRN", "7" }, { "QHPSIRN", "-1" }, { "QHPSIRN", " 0" },
		{ "QHPSIMINSIZE", "100" }, { "QHPSIMINSIZE", "1e3" },
		{ "QHPSIMAXSIZE", "18446744073709551615" }, { "QHPSIMAXSIZE", "18446744073709551616" },
		{ "QHPSIARG1", "--fdpass" }, { "QHPSIARG3", "%s" },
		{ "REJECTVIRUS", "0" }, { "REJECTVIRUS", "1" }, { "REJECTVIRUS", "2" },
		{ "REJECTVIRUS", "3" }, { "REJECTVIRUS", "01" }, { "REJECTVIRUS", "yes" },
		{ "REJECTVIRUS", "" },
		{ "SLUICE_CUSTOM_ERROR", "notqmail" }, { "SLUICE_CUSTOM_ERROR", "simscan" },
		{ "SLUICE_CUSTOM_ERROR", "indimail" }, { "SLUICE_CUSTOM_ERROR", "none" },
		{ "SLUICE_CUSTOM_ERROR", "qmail" }, { "SLUICE_CUSTOM_ERROR", "Indimail" },
		{ "ERROR_FD", "5" }, { "ERROR_FD", "127" }, { "ERROR_FD", "128" }, { "ERROR_FD", "fd5" },
		{ "SLUICE_SYNC", "fs" }, { "SLUICE_SYNC", "data" }, { "SLUICE_SYNC", "fast" },
		{ "MIN_FREE", "1000000" }, { "MIN_FREE", "-5" },
		{ "CONFSPLIT", "101" }, { "CONFSPLIT", "0" }, { "CONFSPLIT", "23x" },
		{ "QUEUE_COUNT", "3" }, { "QUEUE_COUNT", "0" }, { "QUEUE_COUNT", "many" },
		{ "QUEUE_START", "0" }, { "QUEUE_START", "-1" },
	};
	static const enum router_action rv_action[] = { ACTION_TAG, ACTION_REJECT, ACTION_DROP };
	size_t i;

	setenv("QHPSI", "/bin/scan %s", 1);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *name = cases[i][0], *value = cases[i][1];
		struct router_config c;
		struct client_direct dm;
		char e1[600] = "", e2[600] = "";
		int r1, r2;

		setenv(name, value, 1);
		r1 = load(&c, e1, sizeof e1);
		r2 = client_direct_env(&dm, e2, sizeof e2);
		unsetenv(name);
		if (r1 != r2)
			fail_msg("%s=\"%s\": sluiced %d (%s), direct mode %d (%s)", name, value, r1, e1, r2,
				 e2);
		if (r1 < 0) {
			if (strcmp(e1, e2))
				fail_msg("%s=\"%s\": sluiced says \"%s\", direct mode \"%s\"", name, value, e1,
					 e2);
			if (!strstr(e1, name))
				fail_msg("%s=\"%s\": \"%s\" does not name it", name, value, e1);
			continue;
		}
		assert_string_equal(c.scan.qhpsi, dm.qhpsi);
		assert_true((!c.scan.qhpsi_arg[0] && !dm.qhpsi_arg[0]) ||
			    !strcmp(c.scan.qhpsi_arg[0], dm.qhpsi_arg[0]));
		assert_true((!c.scan.qhpsi_arg[2] && !dm.qhpsi_arg[2]) ||
			    !strcmp(c.scan.qhpsi_arg[2], dm.qhpsi_arg[2]));
		assert_int_equal(c.scan.qhpsi_min, dm.qhpsi_min);
		assert_int_equal(c.scan.qhpsi_max, dm.qhpsi_max);
		assert_int_equal(c.scan.qhpsi_rc, dm.qhpsi_rc);
		assert_int_equal(c.scan.qhpsi_rn, dm.qhpsi_rn);
		assert_int_equal(c.custom, dm.custom);
		assert_int_equal(c.error_fd, dm.error_fd);
		assert_int_equal(c.sync, dm.sync);
		assert_int_equal(c.min_free, dm.min_free);
		assert_int_equal(c.split, dm.split);
		/* REJECTVIRUS: IndiMail's 0, 1, 2; unset is reject for both */
		assert_int_equal(c.on_virus, rv_action[dm.reject_virus]);
		/* the queue direct mode picks is one of sluiced's */
		{
			unsigned q;

			for (q = 0; q < c.set.n && strcmp(c.set.v[q].path, dm.queuedir); q++)
				;
			if (q == c.set.n)
				fail_msg("%s=%s: direct mode's queue %s is not sluiced's", name, value,
					 dm.queuedir);
		}
	}
	/* one exit code cannot mean infected and clean: direct mode refuses it
	 * as sluiced's exec scanner does at start */
	setenv("QHPSIRC", "4", 1);
	setenv("QHPSIRN", "4", 1);
	{
		struct client_direct dm;
		char e[600] = "";

		assert_int_equal(client_direct_env(&dm, e, sizeof e), -1);
		assert_string_equal(e, "QHPSIRC and QHPSIRN are both 4");
	}
	unsetenv("QHPSIRC");
	unsetenv("QHPSIRN");
	unsetenv("QHPSI");
}

/* ----------------------------------------------------------------- table */

static void test_table_fits(void **unused)
{
	const struct control_setting *e = &control_settings_table[CONTROL_S_SLUICE_SCANNERS];
	char buf[32];
	size_t i;

	for (i = 0; e->words[i]; i++) {
		snprintf(buf, sizeof buf, "%.*s", (int)strcspn(e->words[i], "="), e->words[i]);
		if (!scan_backend_find(buf))
			fail_msg("SLUICE_SCANNERS word %s is no scanner", buf);
	}
	assert_string_equal(control_settings_table[CONTROL_S_SLUICE_BANNED].def, SCAN_BANNED_DEFAULT);
	snprintf(buf, sizeof buf, "%d", ROUTER_INFLIGHT_DEFAULT);
	assert_string_equal(control_settings_table[CONTROL_S_SLUICE_MAX_INFLIGHT].def, buf);
	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		e = &control_settings_table[i];
		if (e->live && (e->type == CONTROL_T_STRING || e->type == CONTROL_T_PATH ||
				e->type == CONTROL_T_LIST))
			fail_msg("%s is live and a string: router_config_reload() cannot apply it",
				 e->name);
	}
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
		cmocka_unit_test_setup_teardown(test_remote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_setting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_same, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_fits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
