/*
 * test_control_settings_read.c - control/control_settings_read.c: the one
 * parser and the one lookup.
 *
 *	parse     table-driven, every type: numbers in range, bounds, garbage
 *	          (blanks, signs, hex, fractions, exponents, overflow past
 *	          2^64), empty = unset = the default; octal modes; ENUM words
 *	          exactly, synonyms, the error listing the words shown; SCORE;
 *	          LIST items among the words (a hidden one allowed, not named);
 *	          the exact messages sluiced, sluice-queue and tests rely on
 *	lookup    the envdir over the environment: its value wins, an empty
 *	          file unsets, a name not in it falls back to what the
 *	          environment held before the directory was applied, else the
 *	          environment
 *	unknown   a directory's files named SLUICE_* or QHPSI* that are no
 *	          setting (a typo, a control file's name) are named; others
 *	          (PATH) and real settings are not
 *	read      only the settings the readers read (a bad value of another
 *	          program's setting is not an error); copies of the texts; the
 *	          first bad value named; text, word and the derivations (queue
 *	          set, socket, policy options)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "control/control.h"
#include "queue/queue_set.h"

#define BAD 0xbadbadu

static const struct {
	enum control_setting_id id;
	const char *text;
	uint64_t want;		/* u (for a SCORE: d * 10); BAD: an error */
	const char *msg;	/* NULL, or the error's exact text */
} cases[] = {
	/* NUMBER: CONFSPLIT 1 to 1000, default 23 */
	{ CONTROL_S_CONFSPLIT, NULL, 23, NULL },
	{ CONTROL_S_CONFSPLIT, "", 23, NULL },
	{ CONTROL_S_CONFSPLIT, "1", 1, NULL },
	{ CONTROL_S_CONFSPLIT, "1000", 1000, NULL },
	{ CONTROL_S_CONFSPLIT, "023", 23, NULL },
	{ CONTROL_S_CONFSPLIT, "0", BAD, "CONFSPLIT=0: want a number from 1 to 1000" },
	{ CONTROL_S_CONFSPLIT, "1001", BAD, "CONFSPLIT=1001: want a number from 1 to 1000" },
	{ CONTROL_S_CONFSPLIT, "23x", BAD, NULL },
	{ CONTROL_S_CONFSPLIT, " 23", BAD, NULL },
	{ CONTROL_S_CONFSPLIT, "23 ", BAD, NULL },
	{ CONTROL_S_CONFSPLIT, "+23", BAD, NULL },
	{ CONTROL_S_CONFSPLIT, "-1", BAD, NULL },
	{ CONTROL_S_CONFSPLIT, "0x10", BAD, NULL },
	{ CONTROL_S_CONFSPLIT, "1.5", BAD, NULL },
	{ CONTROL_S_CONFSPLIT, "1e2", BAD, NULL },
	{ CONTROL_S_CONFSPLIT, "23\r", BAD, NULL },	/* a file saved with CRLF */
	{ CONTROL_S_CONFSPLIT, "twenty", BAD, NULL },
	/* BYTES: the whole 64 bits, and not one more */
	{ CONTROL_S_MIN_FREE, "18446744073709551615", UINT64_MAX, NULL },
	{ CONTROL_S_MIN_FREE, "18446744073709551616", BAD,
	  "MIN_FREE=18446744073709551616: want a number from 0 to 18446744073709551615" },
	{ CONTROL_S_MIN_FREE, "99999999999999999999999", BAD, NULL },
	{ CONTROL_S_MIN_FREE, "0", 0, NULL },
	{ CONTROL_S_SLUICE_MAX_BYTES, "0", BAD, NULL },
	/* SECONDS */
	{ CONTROL_S_SLUICE_SCANNER_TIMEOUT, "0", 0, NULL },
	{ CONTROL_S_SLUICE_SCANNER_TIMEOUT, "86400", 86400, NULL },
	{ CONTROL_S_SLUICE_SCANNER_TIMEOUT, "86401", BAD, NULL },
	{ CONTROL_S_SLUICE_ACCEPT_TIMEOUT, "0", BAD, NULL },
	{ CONTROL_S_SLUICE_ACCEPT_TIMEOUT, NULL, 10, NULL },
	{ CONTROL_S_SLUICE_TIMEOUT, "10000000", 10000000, NULL },
	{ CONTROL_S_SLUICE_TIMEOUT, "10000001", BAD, NULL },
	/* MODE: octal, at most 0777 */
	{ CONTROL_S_SLUICE_SOCKET_MODE, NULL, 0660, NULL },
	{ CONTROL_S_SLUICE_SOCKET_MODE, "0660", 0660, NULL },
	{ CONTROL_S_SLUICE_SOCKET_MODE, "660", 0660, NULL },
	{ CONTROL_S_SLUICE_SOCKET_MODE, "0", 0, NULL },
	{ CONTROL_S_SLUICE_SOCKET_MODE, "777", 0777, NULL },
	{ CONTROL_S_SLUICE_SOCKET_MODE, "1777", BAD, NULL },
	{ CONTROL_S_SLUICE_SOCKET_MODE, "01777", BAD, NULL },
	{ CONTROL_S_SLUICE_SOCKET_MODE, "0999", BAD, "SLUICE_SOCKET_MODE=0999: want an octal mode" },
	{ CONTROL_S_SLUICE_SOCKET_MODE, "8", BAD, NULL },
	{ CONTROL_S_SLUICE_SOCKET_MODE, "rw-rw----", BAD, NULL },
	{ CONTROL_S_SLUICE_SOCKET_MODE, "-660", BAD, NULL },
	{ CONTROL_S_SLUICE_SOCKET_MODE, " 660", BAD, NULL },
	/* ENUM: exactly one of the words; the value is its index */
	{ CONTROL_S_SLUICE_SYNC, NULL, 0, NULL },
	{ CONTROL_S_SLUICE_SYNC, "fs", 2, NULL },
	{ CONTROL_S_SLUICE_SYNC, "none", 3, NULL },
	{ CONTROL_S_SLUICE_SYNC, "fast", BAD, "SLUICE_SYNC=fast: want full, data, fs or none" },
	{ CONTROL_S_SLUICE_SYNC, "FULL", BAD, NULL },
	{ CONTROL_S_SLUICE_SYNC, "full ", BAD, NULL },
	{ CONTROL_S_SLUICE_SYNC, "ful", BAD, NULL },
	{ CONTROL_S_SLUICE_SYNC, "fulll", BAD, NULL },
	{ CONTROL_S_SLUICE_ON_VIRUS, "quarantine", 5, NULL },
	{ CONTROL_S_SLUICE_ON_VIRUS, "bounce", BAD,
	  "SLUICE_ON_VIRUS=bounce: want reject, defer, drop, accept, tag or quarantine" },
	{ CONTROL_S_SLUICE_ON_ERROR, "reject", BAD, "SLUICE_ON_ERROR=reject: want defer or accept" },
	{ CONTROL_S_REJECTVIRUS, "2", 2, NULL },
	{ CONTROL_S_REJECTVIRUS, "01", BAD, "REJECTVIRUS=01: want 0, 1 or 2" },
	{ CONTROL_S_REJECTVIRUS, "3", BAD, NULL },
	/* a synonym gives its word's index and is not offered */
	{ CONTROL_S_SLUICE_QUARANTINE_THEN, "accept", 1, NULL },
	{ CONTROL_S_SLUICE_QUARANTINE_THEN, "drop", 1, NULL },
	{ CONTROL_S_SLUICE_QUARANTINE_THEN, "defer", BAD,
	  "SLUICE_QUARANTINE_THEN=defer: want reject or drop" },
	{ CONTROL_S_SLUICE_CUSTOM_ERROR, "fd9", BAD,
	  "SLUICE_CUSTOM_ERROR=fd9: want none, notqmail, simscan or indimail" },
	{ CONTROL_S_SLUICE_POLICY_SENDER, "sometimes", BAD,
	  "SLUICE_POLICY_SENDER=sometimes: want relay, always or never" },
	{ CONTROL_S_SLUICE_MODE, "Direct", BAD, "SLUICE_MODE=Direct: want daemon or direct" },
	/* SCORE: 10 * the score here */
	{ CONTROL_S_SLUICE_SPAM_HITS, NULL, 0, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, "5", 50, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, "20.1", 201, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, "0.5", 5, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, "999999999", 9999999990ull, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, "1000000000", BAD, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, "five", BAD,
	  "SLUICE_SPAM_HITS=five: want a score such as 5 or 20.1" },
	{ CONTROL_S_SLUICE_SPAM_HITS, "-1", BAD, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, "+5", BAD, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, "5x", BAD, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, "1e3", BAD, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, "inf", BAD, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, "nan", BAD, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, ".", BAD, NULL },
	{ CONTROL_S_SLUICE_SPAM_HITS, " 5", BAD, NULL },
	/* LIST of words: items separated by commas, blanks, colons */
	{ CONTROL_S_SLUICE_SCANNERS, "clamav,attach", 0, NULL },
	{ CONTROL_S_SLUICE_SCANNERS, " attach clamav:exec,null ", 0, NULL },
	{ CONTROL_S_SLUICE_SCANNERS, ", ,", 0, NULL },
	{ CONTROL_S_SLUICE_SCANNERS, "test", 0, NULL },	/* allowed, never offered */
	{ CONTROL_S_SLUICE_SCANNERS, "clamav,spamassassin", BAD,
	  "SLUICE_SCANNERS: unknown spamassassin; want clamav, attach, exec, clamd, spamd, rspamd or "
	  "null" },
	{ CONTROL_S_SLUICE_SCANNERS, "ClamAV", BAD, NULL },
	{ CONTROL_S_SLUICE_SCANNERS, "clamavattach", BAD, NULL },
	/* LIST without words, STRING, PATH: anything */
	{ CONTROL_S_SLUICE_CLAMD, "unix:/run/clamd.ctl, 127.0.0.1:3310", 0, NULL },
	{ CONTROL_S_QHPSI, "/usr/bin/scan --x %s", 0, NULL },
	{ CONTROL_S_QUEUE_BASE, "relative/path with blanks", 0, NULL },
};

static void test_parse(void **unused)
{
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct control_setting *e = &control_settings_table[cases[i].id];
		struct control_value v;
		char err[300] = "";
		int rc = control_settings_parse(cases[i].id, cases[i].text, &v, err, sizeof err);
		uint64_t got;

		if (cases[i].want == BAD) {
			if (rc != -1)
				fail_msg("%s=\"%s\" accepted", e->name, cases[i].text);
			if (strncmp(err, e->name, strlen(e->name)))
				fail_msg("%s=\"%s\": the error does not start with the name: %s", e->name,
					 cases[i].text, err);
			if (cases[i].msg && strcmp(err, cases[i].msg))
				fail_msg("%s=\"%s\": \"%s\", want \"%s\"", e->name, cases[i].text, err,
					 cases[i].msg);
			continue;
		}
		if (rc != 0)
			fail_msg("%s=\"%s\" refused: %s", e->name, cases[i].text, err);
		if (cases[i].text && *cases[i].text)
			assert_ptr_equal(v.text, cases[i].text);
		else
			assert_null(v.text);
		if (e->type == CONTROL_T_LIST || e->type == CONTROL_T_STRING || e->type == CONTROL_T_PATH)
			continue;
		got = e->type == CONTROL_T_SCORE ? (uint64_t)(v.d * 10 + 0.5) : v.u;
		if (got != cases[i].want)
			fail_msg("%s=\"%s\": %llu, want %llu", e->name, cases[i].text,
				 (unsigned long long)got, (unsigned long long)cases[i].want);
	}
}

/* every number of the table: its bounds taken, one past refused */
static void test_bounds(void **unused)
{
	size_t i;

	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		const struct control_setting *e = &control_settings_table[i];
		struct control_value v;
		char buf[32], err[300];

		if (e->type != CONTROL_T_NUMBER && e->type != CONTROL_T_SECONDS &&
		    e->type != CONTROL_T_BYTES)
			continue;
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)e->lo);
		assert_int_equal(control_settings_parse(i, buf, &v, err, sizeof err), 0);
		assert_int_equal(v.u, e->lo);
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)e->hi);
		assert_int_equal(control_settings_parse(i, buf, &v, err, sizeof err), 0);
		assert_int_equal(v.u, e->hi);
		if (e->lo > 0) {
			snprintf(buf, sizeof buf, "%llu", (unsigned long long)e->lo - 1);
			if (control_settings_parse(i, buf, &v, err, sizeof err) != -1)
				fail_msg("%s=%s accepted below its range", e->name, buf);
		}
		if (e->hi < UINT64_MAX) {
			snprintf(buf, sizeof buf, "%llu", (unsigned long long)e->hi + 1);
			if (control_settings_parse(i, buf, &v, err, sizeof err) != -1)
				fail_msg("%s=%s accepted above its range", e->name, buf);
		}
		if (control_settings_parse(i, "-0", &v, err, sizeof err) != -1)
			fail_msg("%s=-0 accepted", e->name);
	}
}

static char *tmp;

static int setup(void **unused)
{
	tmp = tu_tmpdir("settings");
	return 0;
}

static int teardown(void **unused)
{
	tu_rmtree(tmp);
	free(tmp);
	return 0;
}

static void test_lookup(void **unused)
{
	struct queue_envdir ed, before = { 0 };
	struct queue_envvar was[2] = { { "SLUICE_ON_SPAM", NULL }, { "SLUICE_ON_BANNED", "drop" } };
	struct control_env src = { &ed, &before };
	struct queue_err qe;
	const char *d = tu_path(tmp, "env");
	char *dir = strdup(d);

	assert_int_equal(mkdir(dir, 0755), 0);
	tu_write(tu_path(dir, "SLUICE_ON_VIRUS"), "defer\n", 6);
	tu_write(tu_path(dir, "SLUICE_SYNC"), "", 0);	/* unsets */
	tu_write(tu_path(dir, "SLUICE_BATCH"), "\n", 1);	/* empty: unset too */
	assert_int_equal(queue_envdir_read(dir, &ed, &qe), QUEUE_OK);
	before.n = 2;
	before.v = was;
	setenv("SLUICE_ON_VIRUS", "tag", 1);
	setenv("SLUICE_SYNC", "none", 1);
	setenv("SLUICE_BATCH", "3", 1);
	setenv("SLUICE_ON_SPAM", "drop", 1);	/* put there by the directory at start */
	setenv("SLUICE_ON_BANNED", "accept", 1);
	setenv("SLUICE_ON_LIMIT", "defer", 1);
	setenv("SLUICE_ON_ERROR", "", 1);
	/* the directory first */
	assert_string_equal(control_settings_lookup(&src, "SLUICE_ON_VIRUS"), "defer");
	assert_null(control_settings_lookup(&src, "SLUICE_SYNC"));
	assert_null(control_settings_lookup(&src, "SLUICE_BATCH"));
	/* gone from it since the start: the environment from before */
	assert_null(control_settings_lookup(&src, "SLUICE_ON_SPAM"));
	assert_string_equal(control_settings_lookup(&src, "SLUICE_ON_BANNED"), "drop");
	/* never in it: the environment; empty is unset */
	assert_string_equal(control_settings_lookup(&src, "SLUICE_ON_LIMIT"), "defer");
	assert_null(control_settings_lookup(&src, "SLUICE_ON_ERROR"));
	/* no source: the environment alone */
	assert_string_equal(control_settings_lookup(NULL, "SLUICE_ON_VIRUS"), "tag");
	assert_string_equal(control_settings_lookup(NULL, "SLUICE_ON_SPAM"), "drop");
	queue_envdir_free(&ed);
	unsetenv("SLUICE_ON_VIRUS");
	unsetenv("SLUICE_SYNC");
	unsetenv("SLUICE_BATCH");
	unsetenv("SLUICE_ON_SPAM");
	unsetenv("SLUICE_ON_BANNED");
	unsetenv("SLUICE_ON_LIMIT");
	unsetenv("SLUICE_ON_ERROR");
	free(dir);
}

static void test_read(void **unused)
{
	struct control_settings s;
	struct control_options o = { 0 };
	struct queue_set set;
	char err[300], buf[4200];

	/* a bad value of a setting the readers do not read is no error */
	setenv("SLUICE_WORKERS", "many", 1);
	setenv("SLUICE_MODE", "direct", 1);
	setenv("QUEUE_BASE", tmp, 1);
	setenv("QUEUE_COUNT", "3", 1);
	assert_int_equal(control_settings_read(&s, CONTROL_P_QUEUE, NULL, err, sizeof err), 0);
	assert_null(s.v[CONTROL_S_SLUICE_WORKERS].text);
	assert_null(s.v[CONTROL_S_QUEUE_COUNT].text);	/* direct mode's, not read */
	assert_string_equal(control_settings_word(&s, CONTROL_S_SLUICE_MODE), "direct");
	assert_string_equal(control_settings_word(&s, CONTROL_S_SLUICE_FALLBACK), "none");
	assert_int_equal(s.v[CONTROL_S_SLUICE_TIMEOUT].u, 86400);
	assert_int_equal(s.programs, CONTROL_P_QUEUE);
	/* the texts are copies */
	setenv("SLUICE_MODE", "daemon", 1);
	assert_string_equal(s.v[CONTROL_S_SLUICE_MODE].text, "direct");
	/* derived: the socket from QUEUE_BASE */
	snprintf(buf, sizeof buf, "%s/sluiced.sock", tmp);
	assert_string_equal(control_settings_socket(&s, buf + 2000, 2200), buf);
	control_settings_free(&s);

	/* sluiced's: the first bad value named */
	err[0] = 0;
	assert_int_equal(control_settings_read(&s, CONTROL_P_SLUICED, NULL, err, sizeof err), -1);
	assert_string_equal(err, "SLUICE_WORKERS=many: want a number from 1 to 256");
	unsetenv("SLUICE_WORKERS");
	setenv("SLUICE_SOCKET", "/run/s.sock", 1);
	setenv("SLUICE_QUARANTINE_THEN", "accept", 1);
	setenv("SLUICE_CONTROL", "/etc/sluice/control", 1);
	setenv("SLUICE_POLICY_SENDER", "never", 1);
	assert_int_equal(control_settings_read(&s, CONTROL_P_SLUICED, NULL, err, sizeof err), 0);
	assert_string_equal(control_settings_socket(&s, buf, sizeof buf), "/run/s.sock");
	assert_string_equal(control_settings_word(&s, CONTROL_S_SLUICE_QUARANTINE_THEN), "drop");
	assert_string_equal(control_settings_text(&s, CONTROL_S_SLUICE_QUARANTINE_THEN), "accept");
	assert_string_equal(control_settings_text(&s, CONTROL_S_SLUICE_SYNC), "full");	/* default */
	assert_null(control_settings_text(&s, CONTROL_S_QHPSI));
	assert_null(control_settings_word(&s, CONTROL_S_REJECTVIRUS));	/* unset, no default */
	assert_int_equal(s.v[CONTROL_S_CONFSPLIT].u, 23);
	control_settings_options(&s, &o);
	assert_string_equal(o.dir, "/etc/sluice/control");
	assert_int_equal(o.sender, CONTROL_SENDER_NEVER);
	/* the queues: QUEUE_BASE/queue1..3 */
	assert_int_equal(control_settings_queue_set(&s, &set, err, sizeof err), 0);
	assert_int_equal(set.n, 3);
	snprintf(buf, sizeof buf, "%s/queue3", tmp);
	assert_string_equal(set.v[2].path, buf);
	queue_set_free(&set);
	control_settings_free(&s);
	/* QUEUEDIR: that one */
	setenv("QUEUEDIR", "/var/qmail/queue/", 1);
	assert_int_equal(control_settings_read(&s, CONTROL_P_DIRECT, NULL, err, sizeof err), 0);
	assert_int_equal(control_settings_queue_set(&s, &set, err, sizeof err), 0);
	assert_int_equal(set.n, 1);
	assert_string_equal(set.v[0].path, "/var/qmail/queue");
	queue_set_free(&set);
	control_settings_free(&s);
	/* defaults of the policy */
	unsetenv("SLUICE_CONTROL");
	unsetenv("SLUICE_POLICY_SENDER");
	assert_int_equal(control_settings_read(&s, CONTROL_P_CDB, NULL, err, sizeof err), 0);
	control_settings_options(&s, &o);
	assert_string_equal(o.dir, CONTROL_DIR_DEFAULT);
	assert_int_equal(o.sender, CONTROL_SENDER_RELAY);
	control_settings_free(&s);
	/* sluiced's through a settings directory over the environment */
	{
		const char *d = tu_path(tmp, "envdir");
		char *dir = strdup(d);
		struct queue_envdir ed;
		struct control_env src = { &ed, NULL };
		struct queue_err qe;

		assert_int_equal(mkdir(dir, 0755), 0);
		tu_write(tu_path(dir, "SLUICE_BATCH"), "12\n", 3);
		tu_write(tu_path(dir, "SLUICE_SOCKET"), "", 0);
		assert_int_equal(queue_envdir_read(dir, &ed, &qe), QUEUE_OK);
		setenv("SLUICE_BATCH", "99", 1);	/* out of range, but the directory's wins */
		assert_int_equal(control_settings_read(&s, CONTROL_P_SLUICED, &src, err, sizeof err), 0);
		assert_int_equal(s.v[CONTROL_S_SLUICE_BATCH].u, 12);
		assert_null(s.v[CONTROL_S_SLUICE_SOCKET].text);
		control_settings_free(&s);
		assert_int_equal(control_settings_read(&s, CONTROL_P_SLUICED, NULL, err, sizeof err), -1);
		assert_string_equal(err, "SLUICE_BATCH=99: want a number from 1 to 64");
		queue_envdir_free(&ed);
		unsetenv("SLUICE_BATCH");
		free(dir);
	}
	unsetenv("SLUICE_MODE");
	unsetenv("QUEUE_BASE");
	unsetenv("QUEUE_COUNT");
	unsetenv("QUEUEDIR");
	unsetenv("SLUICE_SOCKET");
	unsetenv("SLUICE_QUARANTINE_THEN");
}

static void test_unknown(void **unused)
{
	struct queue_envvar v[] = {
		{ "SLUICE_ON_VIRSU", "quarantine" }, { "SLUICE_ON_VIRUS", "defer" }, { "PATH", "/bin" },
		{ "QHPSIARG4", "x" }, { "QHPSIARG3", "y" }, { "SLUICE_simcontrol", NULL },
		{ "simcontrol", NULL }, { "QUEUE_BASE", "/q" },
	};
	struct queue_envdir ed = { sizeof v / sizeof v[0], v };
	char buf[100], small[12];

	assert_int_equal(control_settings_unknown(&ed, buf, sizeof buf), 3);
	assert_string_equal(buf, "SLUICE_ON_VIRSU QHPSIARG4 SLUICE_simcontrol");
	assert_int_equal(control_settings_unknown(&ed, small, sizeof small), 3);
	assert_string_equal(small, "SLUICE_ON_V");	/* cut, terminated */
	assert_int_equal(control_settings_unknown(NULL, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
