/*
 * test_control_parse.c - control/control_parse.c and control_file.c: what
 *	a control file may say, and how every mistake is reported.
 *
 *	errors      one table row per kind of error, each in a simcontrol
 *	            between good lines: the open fails, the first error names
 *	            the file and the line, says what is wrong, and nothing of
 *	            the file is used
 *	all-at-once several bad lines (line errors and value errors) are all
 *	            reported in one load
 *	warnings    accepted with a warning naming file:line: trophie=,
 *	            qmailqueue=, avira=, a duplicate key (the first wins, as in
 *	            simscan), no default line, attach= empty, regex= or
 *	            quarantine= the caller does not apply, a spam scanner it
 *	            does not run
 *	values      every param's accepted spellings (case, separators, both
 *	            spellings of pass) give the same entry
 *	ssattach    bad entries are errors with file:line; comments, several
 *	            per line, CRLF
 *	cdb         a CDB as simscanmk makes it: junk records of '#' lines are
 *	            warnings, capitals in a key (never matched) a warning, a
 *	            duplicate a warning, garbage and a truncated file errors
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cdb.h>

#include "testutil.h"
#include "control.h"

struct diags {
	char text[16384];
	size_t len;
	unsigned errors, warnings;
};

static void collect(void *arg, int error, const char *line)
{
	struct diags *d = arg;
	int n = snprintf(d->text + d->len, sizeof d->text - d->len, "%s %s\n",
			 error ? "E" : "W", line);

	if (n > 0 && (size_t)n < sizeof d->text - d->len)
		d->len += (size_t)n;
	if (error)
		d->errors++;
	else
		d->warnings++;
}

struct env {
	char *dir;
	struct diags d;
	struct control_options o;
	char err[2048];
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof *e);

	e->dir = tu_tmpdir("parse");
	e->o.dir = e->dir;
	e->o.applies = CONTROL_APPLY_ALL;
	e->o.diag = collect;
	e->o.diag_arg = &e->d;
	return e;
}

static void env_free(struct env *e)
{
	tu_rmtree(e->dir);
	free(e->dir);
	free(e);
}

static struct control_policy *load(struct env *e, const char *simcontrol)
{
	memset(&e->d, 0, sizeof e->d);
	e->err[0] = 0;
	if (simcontrol)
		tu_write(tu_path(e->dir, "simcontrol"), simcontrol, strlen(simcontrol));
	return control_policy_open(&e->o, e->err, sizeof e->err);
}

static const struct bad {
	const char *line;	/* put at line 3 of a good file */
	const char *want;	/* in the error text */
} bads[] = {
	{ "example.com:calm=yes", "unknown parameter 'calm'" },
	{ "example.com:clam=yse", "bad value 'yse' for clam= (want yes or no)" },
	{ "example.com:clam=1", "bad value '1' for clam=" },
	{ "example.com:spam=", "bad value '' for spam=" },
	{ "example.com:spam_passthru=maybe", "for spam_passthru=" },
	{ "example.com:spam_relay=on", "for spam_relay=" },
	{ "example.com:spam_hits=abc", "bad value 'abc' for spam_hits=" },
	{ "example.com:spam_hits=-5", "for spam_hits=" },
	{ "example.com:spam_hits=0", "for spam_hits=" },
	{ "example.com:spam_hits=5.5.5", "for spam_hits=" },
	{ "example.com:size_limit=10k", "bad value '10k' for size_limit=" },
	{ "example.com:size_limit=99999999999999999999999", "for size_limit=" },
	{ "example.com:spamuser=", "for spamuser=" },
	{ "example.com:spamuser=../etc", "for spamuser=" },
	{ "example.com:quarantine=relative/dir", "for quarantine= (want the absolute path" },
	{ "example.com:queue=x", "bad value 'x' for queue=" },
	{ "example.com:queue=9", "queue=9 is not one of the queues 1..4" },
	{ "example.com:action_virus=bounce", "bad value 'bounce' for action_virus=" },
	{ "example.com:action_error=reject", "for action_error= (want defer or pass" },
	{ "example.com:action_spam=", "for action_spam=" },
	{ "example.com:attach=.exe::.com", "empty name suffix in a list" },
	{ "example.com:attach=.exe:", "empty name suffix in a list" },
	{ "example.com:attach=a/b", "bad name suffix 'a/b'" },
	{ "example.com:regex=(unclosed", "bad regex '(unclosed'" },
	{ "example.com:regex=a:", "empty regex" },
	{ "example.com:clam", "malformed parameter 'clam' (want name=value)" },
	{ "example.com:=yes", "malformed parameter '=yes'" },
	{ "example.com clam=yes", "malformed line: no ':'" },
	{ "example.com clam=yes,attach=.exe:.com", "malformed key 'example.com clam=yes,attach=.exe'" },
	{ "exa#mple.com:clam=yes", "malformed key" },
	{ "@example.com:clam=yes", "neither a domain nor user@domain" },
	{ "joe@:clam=yes", "neither a domain nor user@domain" },
	{ "example.com:clamd=yes", "switches on clamd, which this daemon does not run" },
	{ "example.com:qhpsi=yes", "switches on qhpsi, which this daemon does not run" },
};

static void test_errors(void **state)
{
	struct env *e = env_new();
	size_t i;

	e->o.queue_first = 1;
	e->o.queue_count = 4;
	e->o.available = CONTROL_SCAN_CLAM | CONTROL_SCAN_ATTACH;
	for (i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		char text[512], want[256];
		struct control_policy *p;

		snprintf(text, sizeof text, ":clam=yes\ngood.example:spam=no\n%s\nlast.example:clam=no\n",
			 bads[i].line);
		print_message("%s\n", bads[i].line);
		p = load(e, text);
		if (p)
			fail_msg("'%s' was accepted", bads[i].line);
		snprintf(want, sizeof want, "%s/simcontrol:3: ", e->dir);
		if (strncmp(e->err, want, strlen(want)) || !strstr(e->err, bads[i].want))
			fail_msg("'%s': error is '%s', want '%s...%s'", bads[i].line, e->err, want,
				 bads[i].want);
		assert_int_equal(e->d.errors, 1);
		assert_non_null(strstr(e->d.text, bads[i].want));
	}
	env_free(e);
}

static void test_line_errors(void **state)
{
	struct env *e = env_new();
	struct control_policy *p;
	char text[256];

	/* a NUL byte, a key of 1025 bytes: errors of the line itself */
	memcpy(text, ":clam=yes\nex\0mple.com:clam=no\n", 30);
	tu_write(tu_path(e->dir, "simcontrol"), text, 30);
	memset(&e->d, 0, sizeof e->d);
	assert_null(control_policy_open(&e->o, e->err, sizeof e->err));
	assert_non_null(strstr(e->err, "simcontrol:2: NUL byte"));
	{
		char *big = malloc(2000);

		memset(big, 'a', 1025);
		strcpy(big + 1025, ".example:clam=yes\n");
		p = load(e, big);
		assert_null(p);
		assert_non_null(strstr(e->err, "simcontrol:1: key or value too long"));
		free(big);
	}
	env_free(e);
}

static void test_all_at_once(void **state)
{
	struct env *e = env_new();
	const char *first, *second, *third;

	assert_null(load(e, ":clam=yes\n"
			    "a.example:calm=yes\n"
			    "b.example clam=no\n"
			    "c.example:clam=no\n"
			    "d.example:spam_hits=x,spam=maybe\n"));
	assert_int_equal(e->d.errors, 4);
	first = strstr(e->d.text, "simcontrol:2: unknown parameter 'calm'");
	second = strstr(e->d.text, "simcontrol:3: malformed line");
	third = strstr(e->d.text, "simcontrol:5: bad value 'x' for spam_hits=");
	assert_non_null(first);
	assert_non_null(second);
	assert_non_null(third);
	assert_non_null(strstr(e->d.text, "simcontrol:5: bad value 'maybe' for spam="));
	/* the error text: the first by line, and how many more */
	assert_non_null(strstr(e->err, "simcontrol:3: malformed line"));
	assert_non_null(strstr(e->err, "(and 3 more errors)"));
	env_free(e);
}

static void test_warnings(void **state)
{
	struct env *e = env_new();
	struct control_policy *p;

	e->o.applies = 0;
	e->o.available = CONTROL_SCAN_CLAM | CONTROL_SCAN_ATTACH;
	p = load(e, "# a comment\n"
		    "example.com:trophie=yes,avira=no,qmailqueue=/var/qmail/bin/qmail-queue\n"
		    "example.com:clam=no\n"
		    "spam.example:spam=yes\n"
		    "rx.example:regex=casino\n"
		    "q.example:quarantine=/nowhere,queue=3,spamuser=joe\n"
		    "empty.example:attach=\n");
	assert_non_null(p);
	assert_int_equal(e->d.errors, 0);
	assert_non_null(strstr(e->d.text, "simcontrol:2: trophie= ignored"));
	assert_non_null(strstr(e->d.text, "simcontrol:2: avira= ignored"));
	assert_non_null(strstr(e->d.text, "simcontrol:2: qmailqueue= ignored"));
	assert_non_null(strstr(e->d.text, "simcontrol:3: duplicate key 'example.com' (first at line 2)"));
	assert_non_null(strstr(e->d.text, "simcontrol:4: switches on spam, which this daemon does not run"));
	assert_non_null(strstr(e->d.text, "simcontrol:5: regex= is NOT applied by this program: "
					  "messages it matches are delivered"));
	assert_non_null(strstr(e->d.text, "simcontrol:6: quarantine= is not applied"));
	assert_non_null(strstr(e->d.text, "simcontrol:6: queue= is not applied"));
	assert_non_null(strstr(e->d.text, "simcontrol:6: spamuser= is not applied"));
	assert_non_null(strstr(e->d.text, "simcontrol:7: attach= with an empty list"));
	assert_non_null(strstr(e->d.text, "has no default line"));
	/* the duplicate: the first line is what applies */
	{
		const char *rc[] = { "a@example.com", NULL };
		struct control_msg m = { .sender = "", .rcpts = rc };
		struct control_defaults d = { 0 };
		struct control_result r;

		control_result_init(&r);
		assert_int_equal(control_policy_lookup(p, &m, &d, &r), 0);
		assert_int_equal(r.scanners, 0);	/* not clam=no's doing: nothing set clam */
		assert_string_equal(r.applied, "example.com");
		control_result_fini(&r);
	}
	control_policy_unref(p);
	env_free(e);
}

/* one entry, written many ways, says the same */
static void test_values(void **state)
{
	static const char *const same[] = {
		"clam=yes,spam=no,attach=.exe:.com,action_virus=pass,spam_hits=5",
		"CLAM=YES spam=No\tattach=.EXE:.Com,,action_virus=accept  spam_hits=5.0",
		"clam=yes, spam=no, attach=.exe:.com, action_virus=PASS, spam_hits=05",
		"clam=no,clam=yes,spam=no,attach=.doc,attach=.exe:.com,action_virus=pass,spam_hits=5",
	};
	struct env *e = env_new();
	struct control_result r0, r;
	size_t i;

	control_result_init(&r0);
	control_result_init(&r);
	for (i = 0; i < sizeof same / sizeof same[0]; i++) {
		char text[512];
		const char *rc[] = { "a@example.com", NULL };
		struct control_msg m = { .sender = "", .rcpts = rc };
		struct control_defaults d = { .action = { CONTROL_ACT_REJECT } };
		struct control_policy *p;

		snprintf(text, sizeof text, "example.com:%s\n", same[i]);
		p = load(e, text);
		if (!p)
			fail_msg("'%s': %s", same[i], e->err);
		assert_int_equal(control_policy_lookup(p, &m, &d, i ? &r : &r0), 0);
		if (i) {
			assert_int_equal(r.scanners, r0.scanners);
			assert_int_equal(r.action[CONTROL_V_VIRUS], CONTROL_ACT_PASS);
			assert_int_equal(r.nattach, 1);
			assert_int_equal(r.attach[0]->n, 2);
			assert_string_equal(r.attach[0]->e[0].s, ".exe");
			assert_string_equal(r.attach[0]->e[1].s, ".com");
		}
		control_policy_unref(p);
	}
	assert_int_equal(r0.scanners, CONTROL_SCAN_CLAM | CONTROL_SCAN_ATTACH);
	control_result_fini(&r0);
	control_result_fini(&r);
	env_free(e);
}

static void test_maildir(void **state)
{
	struct env *e = env_new();
	struct control_policy *p;
	char text[1024];

	e->o.check_maildirs = 1;
	snprintf(text, sizeof text, ":clam=yes\nq.example:quarantine=%s/qdir\n", e->dir);
	assert_null(load(e, text));
	assert_non_null(strstr(e->err, "simcontrol:2: quarantine="));
	assert_non_null(strstr(e->err, "is not a Maildir"));
	mkdir(tu_path(e->dir, "qdir"), 0700);
	mkdir(tu_path(e->dir, "qdir/new"), 0700);
	mkdir(tu_path(e->dir, "qdir/cur"), 0700);
	assert_null(load(e, text));	/* no tmp/ yet */
	mkdir(tu_path(e->dir, "qdir/tmp"), 0700);
	p = load(e, text);
	assert_non_null(p);
	control_policy_unref(p);
	env_free(e);
}

static void test_ssattach(void **state)
{
	struct env *e = env_new();
	struct control_policy *p;
	const char good[] = "# banned\r\n.exe\r\n\r\n  .COM .scr:.pif\n#.zip\n";

	tu_write(tu_path(e->dir, "ssattach"), good, strlen(good));
	p = load(e, NULL);
	assert_non_null(p);
	{
		const char *rc[] = { "a@b.example", NULL };
		struct control_msg m = { .sender = "", .rcpts = rc };
		struct control_defaults d = { .scanners = CONTROL_SCAN_ATTACH };
		struct control_result r;

		control_result_init(&r);
		assert_int_equal(control_policy_lookup(p, &m, &d, &r), 0);
		assert_int_equal(r.nattach, 1);
		assert_int_equal(r.attach[0]->n, 4);
		assert_string_equal(r.attach[0]->e[1].s, ".com");
		assert_string_equal(r.attach[0]->e[3].s, ".pif");
		assert_null(control_result_banned(&r, "a.zip", 5));
		control_result_fini(&r);
	}
	control_policy_unref(p);
	tu_write(tu_path(e->dir, "ssattach"), ".exe\n../x\n", 10);
	assert_null(load(e, NULL));
	assert_non_null(strstr(e->err, "ssattach:2: bad name suffix '../x'"));
	env_free(e);
}

/* write a CDB from key/value pairs with tinycdb directly, as simscanmk
 * would (its records, duplicates and all) */
static void write_cdb(const char *path, const char *const *kv, size_t n)
{
	struct cdb_make cm;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t i;

	assert_true(fd >= 0);
	cdb_make_start(&cm, fd);
	for (i = 0; i < n; i += 2)
		assert_int_equal(cdb_make_add(&cm, kv[i], (unsigned)strlen(kv[i]), kv[i + 1],
					      (unsigned)strlen(kv[i + 1])), 0);
	assert_int_equal(cdb_make_finish(&cm), 0);
	close(fd);
}

static void test_cdb(void **state)
{
	static const char *const kv[] = {
		"", "clam=yes,spam=yes",
		"a", "comment line",	/* simscanmk's record of "# a comment line" */
		"Upper.example", "clam=no",
		"dup.example", "clam=no",
		"dup.example", "clam=yes,spam=no",
		"example.com", "trophie=yes",
	};
	struct env *e = env_new();
	struct control_policy *p;
	const char *cdbpath = tu_path(e->dir, "simcontrol.cdb");

	write_cdb(cdbpath, kv, sizeof kv / sizeof kv[0]);
	p = load(e, NULL);
	assert_non_null(p);
	assert_string_equal(control_policy_source(p), "simcontrol.cdb");
	assert_int_equal(e->d.errors, 0);
	assert_non_null(strstr(e->d.text, "key 'a': malformed parameter 'comment' (want name=value): "
					  "ignored, as simscan ignores it"));
	assert_non_null(strstr(e->d.text, "key 'Upper.example': capitals"));
	assert_non_null(strstr(e->d.text, "key 'dup.example': a duplicate of an earlier record"));
	assert_non_null(strstr(e->d.text, "key 'example.com': trophie= ignored"));
	{
		const char *rc[] = { "a@dup.example", NULL };
		struct control_msg m = { .sender = "", .rcpts = rc };
		struct control_defaults d = { 0 };
		struct control_result r;

		control_result_init(&r);
		assert_int_equal(control_policy_lookup(p, &m, &d, &r), 0);
		assert_int_equal(r.scanners, CONTROL_SCAN_SPAM);	/* the first dup.example */
		control_result_fini(&r);
	}
	control_policy_unref(p);

	/* a bad value in a CDB is an error naming the key */
	{
		static const char *const bad[] = { "", "clam=yes", "x.example", "clam=maybe" };

		write_cdb(cdbpath, bad, 4);
		assert_null(load(e, NULL));
		assert_non_null(strstr(e->err, "simcontrol.cdb: key 'x.example': bad value 'maybe'"));
	}
	/* garbage, and a CDB cut short */
	tu_write(cdbpath, "not a cdb", 9);
	assert_null(load(e, NULL));
	assert_non_null(strstr(e->err, "simcontrol.cdb: not a CDB file"));
	write_cdb(cdbpath, kv, sizeof kv / sizeof kv[0]);
	{
		struct stat st;

		assert_int_equal(stat(cdbpath, &st), 0);
		assert_int_equal(truncate(cdbpath, st.st_size - 40), 0);
	}
	assert_null(load(e, NULL));
	print_message("truncated: %s\n", e->err);
	assert_non_null(strstr(e->err, "simcontrol.cdb"));
	assert_non_null(strstr(e->err, "corrupt"));
	env_free(e);
}

/* the CDB wins over the text; a newer text is a warning */
static void test_which_file(void **state)
{
	struct env *e = env_new();
	struct control_policy *p;
	static const char *const kv[] = { "", "clam=yes" };
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	struct timespec later[2] = { { time(NULL) + 10, 0 }, { time(NULL) + 10, 0 } };

	write_cdb(tu_path(e->dir, "simcontrol.cdb"), kv, 2);
	/* never read: the CDB is used; edited after the CDB was made */
	tu_write(tu_path(e->dir, "simcontrol"), ":clam=no\nbroken line\n", 21);
	assert_int_equal(utimensat(AT_FDCWD, tu_path(e->dir, "simcontrol"), later, 0), 0);
	p = load(e, NULL);
	assert_non_null(p);
	assert_string_equal(control_policy_source(p), "simcontrol.cdb");
	assert_non_null(strstr(e->d.text, "simcontrol is newer than"));
	control_policy_unref(p);
	/* text older than the CDB: no warning */
	assert_int_equal(utimensat(AT_FDCWD, tu_path(e->dir, "simcontrol"), ts, 0), 0);
	memset(&e->d, 0, sizeof e->d);
	p = control_policy_open(&e->o, e->err, sizeof e->err);
	assert_non_null(p);
	assert_null(strstr(e->d.text, "newer"));
	control_policy_unref(p);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_line_errors),
		cmocka_unit_test(test_all_at_once),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_maildir),
		cmocka_unit_test(test_ssattach),
		cmocka_unit_test(test_cdb),
		cmocka_unit_test(test_which_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
