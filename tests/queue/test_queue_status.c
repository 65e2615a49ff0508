/*
 * test_queue_status.c - queue/queue_status.c: status names and error texts.
 *
 *	Every status has its own name (the enum's name without QUEUE_); values
 *	out of range are "UNKNOWN"; queue_errset() fills status, errno and
 *	"<text>: <strerror>" (no suffix for errno 0), truncates safely and
 *	accepts a NULL error struct.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "queue.h"

static void test_names(void **state)
{
	static const struct {
		enum queue_status st;
		const char *name;
	} want[] = {
		{ QUEUE_OK, "OK" },	    { QUEUE_AGAIN, "AGAIN" },	  { QUEUE_ENOMEM, "ENOMEM" },
		{ QUEUE_EHOME, "EHOME" },   { QUEUE_EPID, "EPID" },	  { QUEUE_EMESS, "EMESS" },
		{ QUEUE_EINTD, "EINTD" },   { QUEUE_ETODO, "ETODO" },	  { QUEUE_EWRITE, "EWRITE" },
		{ QUEUE_ESPACE, "ESPACE" }, { QUEUE_EREAD, "EREAD" },	  { QUEUE_EADDR, "EADDR" },
		{ QUEUE_EFORMAT, "EFORMAT" }, { QUEUE_ECONFIG, "ECONFIG" },
		{ QUEUE_ELAYOUT, "ELAYOUT" }, { QUEUE_EBUSY, "EBUSY" },
	};
	unsigned i, j;

	/* the table above must list every status */
	assert_int_equal(sizeof want / sizeof want[0], QUEUE_NSTATUS);
	for (i = 0; i < sizeof want / sizeof want[0]; i++)
		assert_string_equal(queue_status_name(want[i].st), want[i].name);
	for (i = 0; i < QUEUE_NSTATUS; i++) {
		const char *n = queue_status_name((enum queue_status)i);

		assert_non_null(n);
		assert_string_not_equal(n, "UNKNOWN");
		for (j = 0; j < i; j++)
			assert_string_not_equal(n, queue_status_name((enum queue_status)j));
	}
	assert_string_equal(queue_status_name(QUEUE_NSTATUS), "UNKNOWN");
	assert_string_equal(queue_status_name((enum queue_status)-1), "UNKNOWN");
	assert_string_equal(queue_status_name((enum queue_status)1000), "UNKNOWN");
}

static void test_errset(void **state)
{
	struct queue_err e;
	char want[400];

	memset(&e, 0x55, sizeof e);
	assert_int_equal(queue_errset(&e, QUEUE_EMESS, ENOSPC, "cannot link %s/mess/%u/%lu",
				      "/q", 3u, 1234ul),
			 QUEUE_EMESS);
	assert_int_equal(e.status, QUEUE_EMESS);
	assert_int_equal(e.errnum, ENOSPC);
	snprintf(want, sizeof want, "cannot link /q/mess/3/1234: %s", strerror(ENOSPC));
	assert_string_equal(e.text, want);

	assert_int_equal(queue_errset(&e, QUEUE_ECONFIG, 0, "split %d out of range", 2000),
			 QUEUE_ECONFIG);
	assert_int_equal(e.errnum, 0);
	assert_string_equal(e.text, "split 2000 out of range");

	assert_int_equal(queue_errset(NULL, QUEUE_EWRITE, EIO, "x"),
			 QUEUE_EWRITE);
}

static void test_errset_truncates(void **state)
{
	struct queue_err e;
	char longtext[1000];

	memset(longtext, 'x', sizeof longtext - 1);
	longtext[sizeof longtext - 1] = 0;
	queue_errset(&e, QUEUE_EWRITE, EIO, "%s", longtext);
	assert_int_equal(strlen(e.text), sizeof e.text - 1);
	assert_int_equal(e.errnum, EIO);
	/* a text that just fits leaves what room there is for the errno text */
	memset(longtext, 'y', sizeof e.text - 4);
	longtext[sizeof e.text - 4] = 0;
	queue_errset(&e, QUEUE_EWRITE, EIO, "%s", longtext);
	assert_int_equal(strlen(e.text), sizeof e.text - 1);
	assert_memory_equal(e.text + sizeof e.text - 4, ": I", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_errset),
		cmocka_unit_test(test_errset_truncates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
