/*
 * test_queue_owners.c - queue_owners_load() reads the passwd and group
 * files it is given (tests/queue/data/owners-*), and falls back to the
 * running user when any of qmailq, qmails, qmailr or qmail is missing.
 */
#include "testutil.h"

#include <unistd.h>

#include "queue.h"

static void load(struct queue_owners *o, const char *passwd, const char *group)
{
	o->qmailq = o->qmails = o->qmailr = 424242;
	o->qmail = 424242;
	o->fallback = -1;
	queue_owners_load(o, passwd, group);
}

static void assert_fallback(const struct queue_owners *o)
{
	assert_int_equal(o->fallback, 1);
	assert_int_equal(o->qmailq, getuid());
	assert_int_equal(o->qmails, getuid());
	assert_int_equal(o->qmailr, getuid());
	assert_int_equal(o->qmail, getgid());
}

static void test_found(void **state)
{
	struct queue_owners o;

	/* a broken line and a longer name sharing the prefix are skipped */
	load(&o, TEST_DATA_DIR "/owners-passwd", TEST_DATA_DIR "/owners-group");
	assert_int_equal(o.fallback, 0);
	assert_int_equal(o.qmailq, 7794);
	assert_int_equal(o.qmailr, 7795);
	assert_int_equal(o.qmails, 7796);
	assert_int_equal(o.qmail, 2107);
}

static void test_user_missing(void **state)
{
	struct queue_owners o;

	load(&o, TEST_DATA_DIR "/owners-passwd-noqmailr", TEST_DATA_DIR "/owners-group");
	assert_fallback(&o);
}

static void test_group_missing(void **state)
{
	struct queue_owners o;

	load(&o, TEST_DATA_DIR "/owners-passwd", TEST_DATA_DIR "/owners-group-noqmail");
	assert_fallback(&o);
}

static void test_no_files(void **state)
{
	struct queue_owners o;

	load(&o, TEST_DATA_DIR "/does-not-exist", TEST_DATA_DIR "/owners-group");
	assert_fallback(&o);
	load(&o, TEST_DATA_DIR "/owners-passwd", TEST_DATA_DIR "/does-not-exist");
	assert_fallback(&o);
}

static void test_defaults(void **state)
{
	struct queue_owners o;

	/* /etc/passwd and /etc/group: whatever they hold, the result is whole */
	load(&o, NULL, NULL);
	assert_true(o.fallback == 0 || o.fallback == 1);
	assert_int_not_equal(o.qmailq, 424242);
	assert_int_not_equal(o.qmail, 424242);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found),
		cmocka_unit_test(test_user_missing),
		cmocka_unit_test(test_group_missing),
		cmocka_unit_test(test_no_files),
		cmocka_unit_test(test_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
