/*
 * test_queue_open.c - queue/queue_open.c: opening a queue tree.
 *
 *	A good tree opens with every directory fd; split comes from the
 *	argument, else $CONFSPLIT (when valid), else 23.  Every failure is
 *	QUEUE_EHOME (ECONFIG for a split out of range) with a text naming the
 *	path that failed - "<queue>/mess/7" when mess/7 is missing - and leaks
 *	no fd.  queue_close() is safe twice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "queue.h"

struct fx {
	char *tmp, *path;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	unsetenv("CONFSPLIT");
	f->tmp = tu_tmpdir("open");
	if (asprintf(&f->path, "%s/queue1", f->tmp) < 0)
		fail();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unsetenv("CONFSPLIT");
	tu_rmtree(f->tmp);
	free(f->tmp);
	free(f->path);
	free(f);
	return 0;
}

static int nfds(void)
{
	return (int)tu_count("/proc/self/fd");
}

static void test_open_good(void **state)
{
	struct fx *f = *state;
	struct queue q;
	struct queue_err e;
	int before = nfds();
	unsigned i;

	tu_queue_tree(f->path, 23);
	assert_int_equal(queue_open(&q, f->path, 23, &e), QUEUE_OK);
	assert_string_equal(q.path, f->path);
	assert_int_equal(q.split, 23);
	assert_true(q.dirfd >= 0 && q.pidfd >= 0 && q.intdfd >= 0 && q.todofd >= 0 && q.lockfd >= 0);
	for (i = 0; i < 23; i++)
		assert_true(q.messfd[i] >= 0);
	assert_int_equal(nfds(), before + 5 + 23);
	queue_close(&q);
	assert_int_equal(nfds(), before);
	queue_close(&q);	/* twice is harmless */
	assert_null(q.path);
}

static void expect_ehome(struct fx *f, unsigned split, const char *name, int errnum)
{
	struct queue q;
	struct queue_err e;
	char want[4200];
	int before = nfds();

	assert_int_equal(queue_open(&q, f->path, split, &e), QUEUE_EHOME);
	assert_int_equal(e.status, QUEUE_EHOME);
	assert_int_equal(e.errnum, errnum);
	if (name)
		snprintf(want, sizeof want, "%s/%s: %s", f->path, name, strerror(errnum));
	else
		snprintf(want, sizeof want, "%s: %s", f->path, strerror(errnum));
	if (!strstr(e.text, want))
		fail_msg("\"%s\" does not name \"%s\"", e.text, want);
	assert_int_equal(nfds(), before);	/* nothing leaked */
	queue_close(&q);	/* safe after a failed open too */
}

static void test_open_missing(void **state)
{
	struct fx *f = *state;

	expect_ehome(f, 23, NULL, ENOENT);	/* no tree at all */
	tu_write(f->path, "", 0);
	expect_ehome(f, 23, NULL, ENOTDIR);	/* a file */
	unlink(f->path);

	tu_queue_tree(f->path, 23);
	assert_int_equal(rmdir(tu_path(f->path, "mess/7")), 0);
	expect_ehome(f, 23, "mess/7", ENOENT);
	assert_int_equal(rmdir(tu_path(f->path, "todo")), 0);
	expect_ehome(f, 23, "todo", ENOENT);
	assert_int_equal(rmdir(tu_path(f->path, "pid")), 0);
	expect_ehome(f, 23, "pid", ENOENT);
}

static void test_open_not_a_dir(void **state)
{
	struct fx *f = *state;

	tu_queue_tree(f->path, 23);
	assert_int_equal(rmdir(tu_path(f->path, "intd")), 0);
	tu_write(tu_path(f->path, "intd"), "", 0);
	expect_ehome(f, 23, "intd", ENOTDIR);
}

static void test_open_permission(void **state)
{
	struct fx *f = *state;

	if (geteuid() == 0)
		skip();	/* root opens anything */
	tu_queue_tree(f->path, 23);
	assert_int_equal(chmod(tu_path(f->path, "lock"), 0), 0);
	expect_ehome(f, 23, "lock", EACCES);
}

static void test_split_default(void **state)
{
	static const struct {
		const char *v;
		unsigned want;
	} cases[] = {
		{ NULL, 23 }, { "", 23 },    { "7", 7 },      { "1", 1 },	 { "1000", 1000 },
		{ "0", 23 },  { "1001", 23 }, { "7x", 23 },    { "x", 23 },	 { "-1", 23 },
		{ " 7", 7 },  { "99999999999999999999999", 23 },
	};
	unsigned i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (cases[i].v)
			setenv("CONFSPLIT", cases[i].v, 1);
		else
			unsetenv("CONFSPLIT");
		if (queue_split_default() != cases[i].want)
			fail_msg("CONFSPLIT=\"%s\": %u, want %u", cases[i].v ? cases[i].v : "(unset)",
				 queue_split_default(), cases[i].want);
	}
}

static void test_split_from_confsplit(void **state)
{
	struct fx *f = *state;
	struct queue q;
	struct queue_err e;

	tu_queue_tree(f->path, 7);
	setenv("CONFSPLIT", "7", 1);
	assert_int_equal(queue_open(&q, f->path, 0, &e), QUEUE_OK);
	assert_int_equal(q.split, 7);
	queue_close(&q);
	/* an explicit split wins; the tree has only mess/0..6 */
	expect_ehome(f, 8, "mess/7", ENOENT);
	/* CONFSPLIT unset: 23, and mess/7 is missing */
	unsetenv("CONFSPLIT");
	expect_ehome(f, 0, "mess/7", ENOENT);
	/* a bad CONFSPLIT is ignored, not fatal */
	setenv("CONFSPLIT", "banana", 1);
	expect_ehome(f, 0, "mess/7", ENOENT);
}

static void test_split_range(void **state)
{
	struct fx *f = *state;
	struct queue q;
	struct queue_err e;

	tu_queue_tree(f->path, 2);
	assert_int_equal(queue_open(&q, f->path, QUEUE_SPLIT_MAX + 1, &e), QUEUE_ECONFIG);
	assert_non_null(strstr(e.text, f->path));
	assert_non_null(strstr(e.text, "1001"));
	queue_close(&q);
	assert_int_equal(queue_open(&q, f->path, 1, &e), QUEUE_OK);
	assert_int_equal(q.split, 1);
	queue_close(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_not_a_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_permission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_from_confsplit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_range, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
