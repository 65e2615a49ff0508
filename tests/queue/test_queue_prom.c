/*
 * test_queue_prom.c - queue/queue_prom.c: counts and live figures in the
 * Prometheus text format.
 *
 *	golden       data/stats-full.in (every line sluiced writes today, the
 *	             remote queues' lines as typed metrics, a duplicate queue
 *	             line, generic lines of a queue of another kind, a
 *	             scanner pool and an engine version, lines that fit no
 *	             form) with two queues' counts, one failed ->
 *	             data/stats-full.ref; an empty answer and a daemon that
 *	             did not answer -> data/stats-down.ref
 *	histogram    buckets cumulative, le in seconds exact, +Inf == _count,
 *	             _sum in seconds; without latency_sum_ms no _sum
 *	escaping     a label value with " \ and a newline
 * The integration test test_qstat.sh checks the .ref files with
 * promcheck.pl, a strict reader of the format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "queue_set.h"

/* render - what queue_prom_write() prints for p, as a heap string */
static char *render(struct queue_prom *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(queue_prom_write(p, f), 0);
	fclose(f);
	return buf;
}

static void golden(const char *in, const char *ref, int up)
{
	struct queue_counts c1 = { 12, 3, 1 };
	struct queue_prom *p = queue_prom_new();
	char *text = tu_read(tu_path(TEST_DATA_DIR, "%s", in), NULL), *out, *want;

	assert_non_null(p);
	assert_non_null(text);
	queue_prom_counts(p, "queue1", &c1);
	queue_prom_counts(p, "queue2", NULL);
	queue_prom_up(p, up);
	if (up)
		queue_prom_stats(p, text);
	out = render(p);
	want = tu_read(tu_path(TEST_DATA_DIR, "%s", ref), NULL);
	if (!want || strcmp(out, want)) {
		if (getenv("SLUICE_TEST_WRITE_REF"))
			tu_write(tu_path(TEST_DATA_DIR, "%s", ref), out, strlen(out));
		fail_msg("%s differs from %s; got:\n%s", in, ref, out);
	}
	free(want);
	free(out);
	free(text);
	queue_prom_free(p);
}

static void test_golden_full(void **state)
{
	golden("stats-full.in", "stats-full.ref", 1);
}

static void test_golden_down(void **state)
{
	golden("stats-empty.in", "stats-down.ref", 0);
}

static void test_histogram(void **state)
{
	struct queue_prom *p = queue_prom_new();
	char *out;

	queue_prom_stats(p, "latency_hist_ms 1 0 2 5\n");	/* no sum: no _sum */
	out = render(p);
	assert_non_null(strstr(out, "# TYPE sluice_answer_latency_seconds histogram\n"
				    "sluice_answer_latency_seconds_bucket{le=\"0.001\"} 1\n"
				    "sluice_answer_latency_seconds_bucket{le=\"0.002\"} 1\n"
				    "sluice_answer_latency_seconds_bucket{le=\"0.004\"} 3\n"
				    "sluice_answer_latency_seconds_bucket{le=\"+Inf\"} 8\n"
				    "sluice_answer_latency_seconds_count 8\n"));
	assert_null(strstr(out, "_sum"));
	free(out);
	queue_prom_free(p);

	p = queue_prom_new();
	queue_prom_stats(p, "latency_sum_ms 1500\nlatency_hist_ms 0 x 1\n");	/* not numbers */
	out = render(p);
	assert_null(strstr(out, "latency"));
	free(out);
	queue_prom_free(p);
}

static void test_escaping(void **state)
{
	struct queue_prom *p = queue_prom_new();
	struct queue_counts c = { 1, 0, 0 };
	char *out;

	queue_prom_counts(p, "q\"1\\\nx", &c);
	out = render(p);
	assert_non_null(strstr(out, "sluice_queue_messages{queue=\"q\\\"1\\\\\\nx\"} 1\n"));
	free(out);
	queue_prom_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_full),
		cmocka_unit_test(test_golden_down),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
