/*
 * test_queue_list.c - queue/queue_list.c: a queue listed as qmail-qread
 * lists it.
 *
 *	states    a message in todo/ (its u p F T envelope), one preprocessed
 *	          (info/ local/ remote/, done and not, bouncing, the bounce
 *	          sender <>, a control byte shown as '_'), in id order; left
 *	          out: intd/ without todo/, a mess file with a second link (a
 *	          writer's pid/ marker), a mess file alone
 *	format    qmail-qread's lines exactly, with the prefix on each
 *	BIGTODO   todo/<split>/<id> is found too
 *	errors    a missing queue is EHOME naming it; the callback stops the walk
 * A queue whose info/ is closed to the user (HIDDEN) needs a non-root
 * user: tests/integration/test_qstat.sh lists one as nobody.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "queue_set.h"

#define T0 1796279434	/* 3 Dec 2026 06:30:34 GMT */

/* put - a queue file with fixed contents and mtime T0 + off */
static void put(const char *q, const char *rel, const char *data, size_t len, int off)
{
	struct timespec ts[2] = { { T0 + off, 0 }, { T0 + off, 0 } };

	tu_write(tu_path(q, "%s", rel), data, len);
	assert_int_equal(utimensat(AT_FDCWD, tu_path(q, "%s", rel), ts, 0), 0);
}
#define PUT(q, rel, lit, off) put(q, rel, lit, sizeof(lit) - 1, off)

struct out {
	FILE *f;
	char *buf;
	size_t len;
	int calls, stop_after;
};

static int each(void *ctx, const struct queue_item *it)
{
	struct out *o = ctx;

	queue_list_format(o->f, "q1: ", it);
	return ++o->calls == o->stop_after;
}

static char *list(const char *q, int stop_after, enum queue_status *st, int *calls)
{
	struct out o = { NULL, NULL, 0, 0, stop_after };
	struct queue_err err;
	int hidden = -1;

	o.f = open_memstream(&o.buf, &o.len);
	*st = queue_list(q, each, &o, &hidden, &err);
	fclose(o.f);
	if (*st == QUEUE_OK)
		assert_int_equal(hidden, 0);
	*calls = o.calls;
	return o.buf;
}

static void test_states(void **state)
{
	char *d = tu_tmpdir("qlist"), q[4096], *got;
	enum queue_status st;
	int calls;

	snprintf(q, sizeof q, "%s/queue1", d);
	tu_queue_tree(q, 23);
	/* 100: committed, in todo/ */
	PUT(q, "mess/8/100", "Subject: a\n\nbody\n", 0);
	PUT(q, "todo/100", "u0\0p77\0Falice@example.org\0Tbob@example.net\0Tcarol@example.com\0", 5);
	/* 200: preprocessed, one local done, bouncing */
	PUT(q, "mess/16/200", "0123456789", 0);
	PUT(q, "info/16/200", "Fdave@example.org\0", 65);
	PUT(q, "local/16/200", "Tloc@here\0Dgone@here\0", 0);
	PUT(q, "remote/16/200", "Trem@there\0", 0);
	PUT(q, "bounce/200", "", 0);
	/* 50: a bounce (sender <>), a control byte in a recipient */
	PUT(q, "mess/4/50", "x", 0);
	PUT(q, "info/4/50", "F\0", 3600 * 24 * 40);
	PUT(q, "remote/4/50", "Tweird\001addr@x\0", 0);
	/* left out: 300 being queued, 400 with a pid/ link, 500 a stray mess */
	PUT(q, "mess/1/300", "x", 0);
	PUT(q, "intd/300", "u0\0p1\0Fa@b\0Tc@d\0", 0);
	PUT(q, "mess/9/400", "x", 0);
	assert_int_equal(link(tu_path(q, "mess/9/400"), tu_path(q, "pid/123.456.1.r")), 0);
	PUT(q, "mess/17/500", "x", 0);

	got = list(q, 0, &st, &calls);
	assert_int_equal(st, QUEUE_OK);
	assert_string_equal(got,
		"q1: 12 Jan 2027 06:30:34 GMT  #50  1  <> \n"
		"q1: \tremote\tweird_addr@x\n"
		"q1: 3 Dec 2026 06:30:39 GMT  #100  17  <alice@example.org> \n"
		"q1: \ttodo\tbob@example.net\n"
		"q1: \ttodo\tcarol@example.com\n"
		"q1: 3 Dec 2026 06:31:39 GMT  #200  10  <dave@example.org>  bouncing\n"
		"q1: \tlocal\tloc@here\n"
		"q1:   done\tlocal\tgone@here\n"
		"q1: \tremote\trem@there\n");
	free(got);

	/* BIGTODO: todo/<split>/<id> */
	assert_int_equal(mkdir(tu_path(q, "todo/8"), 0750), 0);
	assert_int_equal(rename(tu_path(q, "todo/100"), tu_path(q, "todo/8/100")), 0);
	got = list(q, 2, &st, &calls);	/* and the walk stops when asked */
	assert_int_equal(calls, 2);
	assert_non_null(strstr(got, "\ttodo\tcarol@example.com\n"));
	assert_null(strstr(got, "#200"));
	free(got);
	tu_rmtree(d);
	free(d);
}

static void test_missing(void **state)
{
	struct queue_err err;
	int hidden;

	assert_int_equal(queue_list("/nonexistent/queue9", each, NULL, &hidden, &err), QUEUE_EHOME);
	assert_string_equal(err.text, "cannot open /nonexistent/queue9: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
