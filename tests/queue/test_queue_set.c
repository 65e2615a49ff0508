/*
 * test_queue_set.c - queue_set_make() and queue_set_env(): the queue list
 * from QUEUEDIR or QUEUE_BASE / QUEUE_COUNT / QUEUE_START, defaults, bad
 * numbers, and options over the environment.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "queue_set.h"

static void clear_env(void)
{
	unsetenv("QUEUEDIR");
	unsetenv("QUEUE_BASE");
	unsetenv("QUEUE_COUNT");
	unsetenv("QUEUE_START");
}

static void test_defaults(void **state)
{
	struct queue_set s;
	struct queue_err err;

	assert_int_equal(queue_set_make(&s, NULL, NULL, NULL, NULL, &err), QUEUE_OK);
	assert_string_equal(s.base, "/var/qmail/queues");
	assert_int_equal(s.n, 5);
	assert_string_equal(s.v[0].name, "queue1");
	assert_string_equal(s.v[0].path, "/var/qmail/queues/queue1");
	assert_string_equal(s.v[4].path, "/var/qmail/queues/queue5");
	queue_set_free(&s);
	assert_int_equal(s.n, 0);

	/* empty strings are unset */
	assert_int_equal(queue_set_make(&s, "", "", "", "", &err), QUEUE_OK);
	assert_int_equal(s.n, 5);
	queue_set_free(&s);
}

static void test_numbered(void **state)
{
	struct queue_set s;
	struct queue_err err;

	assert_int_equal(queue_set_make(&s, NULL, "/srv/q//", "3", "0", &err), QUEUE_OK);
	assert_string_equal(s.base, "/srv/q");
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].name, "queue0");
	assert_string_equal(s.v[2].path, "/srv/q/queue2");
	queue_set_free(&s);

	assert_int_equal(queue_set_make(&s, NULL, "/", "1", "7", &err), QUEUE_OK);
	assert_string_equal(s.v[0].path, "/queue7");
	queue_set_free(&s);
}

static void test_queuedir(void **state)
{
	struct queue_set s;
	struct queue_err err;

	assert_int_equal(queue_set_make(&s, "/var/qmail/queue/", "/x", "9", "9", &err), QUEUE_OK);
	assert_null(s.base);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].path, "/var/qmail/queue");
	assert_string_equal(s.v[0].name, "queue");
	queue_set_free(&s);

	assert_int_equal(queue_set_make(&s, "relative", NULL, NULL, NULL, &err), QUEUE_OK);
	assert_string_equal(s.v[0].name, "relative");
	queue_set_free(&s);
}

static void test_bad_numbers(void **state)
{
	static const char *const bad[] = { "0", "-1", "abc", "5x", " 5", "1001",
					   "99999999999999999999999" };
	struct queue_set s;
	struct queue_err err;
	unsigned i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(queue_set_make(&s, NULL, NULL, bad[i], NULL, &err),
				 QUEUE_ECONFIG);
		assert_int_equal(s.n, 0);
		assert_non_null(strstr(err.text, "queue count"));
	}
	assert_int_equal(queue_set_make(&s, NULL, NULL, NULL, "x", &err), QUEUE_ECONFIG);
	assert_non_null(strstr(err.text, "\"x\""));
	assert_int_equal(queue_set_make(&s, NULL, NULL, "1000", "0", &err), QUEUE_OK);
	assert_int_equal(s.n, 1000);
	assert_string_equal(s.v[999].name, "queue999");
	queue_set_free(&s);
}

static void test_env(void **state)
{
	struct queue_set_opts none = { NULL, NULL, NULL, NULL };
	struct queue_set_opts opt = none;
	struct queue_set s;
	struct queue_err err;

	clear_env();
	setenv("QUEUE_BASE", "/e/base", 1);
	setenv("QUEUE_COUNT", "2", 1);
	setenv("QUEUE_START", "4", 1);
	assert_int_equal(queue_set_env(&s, &none, &err), QUEUE_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[1].path, "/e/base/queue5");
	queue_set_free(&s);

	/* QUEUEDIR pins one queue */
	setenv("QUEUEDIR", "/e/one", 1);
	assert_int_equal(queue_set_env(&s, &none, &err), QUEUE_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].path, "/e/one");
	queue_set_free(&s);

	/* an explicit -c asks for numbered queues; the rest from the environment */
	opt.count = "3";
	assert_int_equal(queue_set_env(&s, &opt, &err), QUEUE_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].path, "/e/base/queue4");
	queue_set_free(&s);

	/* -d wins over everything */
	opt.queuedir = "/o/dir";
	assert_int_equal(queue_set_env(&s, &opt, &err), QUEUE_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].path, "/o/dir");
	queue_set_free(&s);

	setenv("QUEUE_COUNT", "zero", 1);
	unsetenv("QUEUEDIR");
	assert_int_equal(queue_set_env(&s, &none, &err), QUEUE_ECONFIG);
	clear_env();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_numbered),
		cmocka_unit_test(test_queuedir),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
