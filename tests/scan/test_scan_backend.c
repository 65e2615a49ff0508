/*
 * test_scan_backend.c - the backend table (names, classes, and what the
 * daemon asks of each: flags, changed, version), verdict helpers, null and
 * test backends (scan/scan_backend.c).
 */
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scan/scan.h"

/* message - an unlinked temp file holding text; caller closes */
static int message(const char *text, size_t len)
{
	char *dir = tu_tmpdir("backend");
	const char *path = tu_path(dir, "mess");
	int fd;

	tu_write(path, text, len);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	tu_rmtree(dir);
	free(dir);
	return fd;
}

static void scan_text(const char *text, struct scan_verdict *v, int64_t deadline,
		      atomic_int *cancel)
{
	const struct scan_backend *b = scan_backend_find("test");
	struct scan_input in = { .deadline_ms = deadline, .cancel = cancel };
	void *state;
	char err[256];

	assert_non_null(b);
	assert_int_equal(b->init(&state, &(struct scan_config){ 0 }, err, sizeof err), 0);
	in.fd = message(text, strlen(text));
	in.size = strlen(text);
	memset(v, 0x55, sizeof *v);
	b->scan(state, &in, v);
	close(in.fd);
	b->fini(state);
}

static void test_find(void **unused)
{
	static const char *const names[] = { "null", "attach", "clamav", "test", "clamd", "spamd",
					     "rspamd", "exec" };
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		const struct scan_backend *b = scan_backend_find(names[i]);

		assert_non_null(b);
		assert_string_equal(b->name, names[i]);
		assert_non_null(b->init);
		assert_non_null(b->scan);
		assert_non_null(b->fini);
	}
	assert_ptr_equal(scan_backend_find("clamav"), &scan_backend_clamav);
	assert_ptr_equal(scan_backend_find("null"), &scan_backend_null);
	assert_null(scan_backend_find("clamd-nope"));
	/* where the pool runs them */
	assert_int_equal(scan_backend_find("clamav")->class, SCAN_CPU);
	assert_int_equal(scan_backend_find("attach")->class, SCAN_CPU);
	assert_int_equal(scan_backend_find("exec")->class, SCAN_CPU);
	assert_int_equal(scan_backend_find("clamd")->class, SCAN_NET);
	assert_int_equal(scan_backend_find("spamd")->class, SCAN_NET);
	assert_int_equal(scan_backend_find("rspamd")->class, SCAN_NET);
	assert_null(scan_backend_find(""));
	assert_null(scan_backend_find("NULL"));
	assert_null(scan_backend_find(NULL));
}

/* test_table_asks - what the daemon asks a backend is in its table: exec
 * alone needs the mess file's path; clamav alone has a directory to watch
 * and an engine version to name (test_scan_clamav checks their values) */
static void test_table_asks(void **unused)
{
	static const char *const names[] = { "null", "attach", "clamav", "test", "clamd", "spamd",
					     "rspamd", "exec" };
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		const struct scan_backend *b = scan_backend_find(names[i]);
		int exec = !strcmp(names[i], "exec"), clamav = !strcmp(names[i], "clamav");

		assert_non_null(b);
		assert_int_equal(b->flags, exec ? SCAN_B_NEEDS_PATH : 0);
		assert_int_equal(b->changed != NULL, clamav);
		assert_int_equal(b->version != NULL, clamav);
	}
}

static void test_kind_name(void **unused)
{
	assert_string_equal(scan_kind_name(SCAN_CLEAN), "clean");
	assert_string_equal(scan_kind_name(SCAN_ERROR), "error");
	assert_string_equal(scan_kind_name(SCAN_SPAM), "spam");
	assert_string_equal(scan_kind_name(SCAN_LIMIT), "limit");
	assert_string_equal(scan_kind_name(SCAN_BANNED), "banned");
	assert_string_equal(scan_kind_name(SCAN_INFECTED), "infected");
	assert_string_equal(scan_kind_name((enum scan_kind)42), "unknown");
}

static void test_verdict_set(void **unused)
{
	struct scan_verdict v;

	memset(&v, 0x55, sizeof v);
	scan_verdict_set(&v, SCAN_INFECTED, "clamav", "%s.%d", "Eicar", 7);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, "Eicar.7");
	assert_string_equal(v.scanner, "clamav");
	assert_true(v.score == 0 && v.required == 0);

	scan_verdict_set(&v, SCAN_CLEAN, "null", NULL);
	assert_string_equal(v.name, "");

	/* a long name is cut, never overflows */
	scan_verdict_set(&v, SCAN_ERROR, "x", "%0400d", 1);
	assert_int_equal(strlen(v.name), sizeof v.name - 1);
}

static void test_merge(void **unused)
{
	static const char *const who[] = { "a", "b", "c", "d", "e", "f" };
	int i, j;

	/* every pair: the stricter kind wins, in either order */
	for (i = SCAN_CLEAN; i <= SCAN_INFECTED; i++)
		for (j = SCAN_CLEAN; j <= SCAN_INFECTED; j++) {
			struct scan_verdict into, from;

			scan_verdict_set(&into, i, who[i], "first %d", i);
			scan_verdict_set(&from, j, "other", "second %d", j);
			from.score = 9.5;
			scan_verdict_merge(&into, &from);
			assert_int_equal(into.kind, i > j ? i : j);
			if (j > i) {
				assert_string_equal(into.scanner, "other");
				assert_true(into.score == 9.5);
			} else {
				/* equal kinds keep the first */
				assert_string_equal(into.scanner, who[i]);
				assert_true(into.score == 0);
			}
		}

	/* the documented order, end to end */
	{
		struct scan_verdict acc, v;

		scan_verdict_set(&acc, SCAN_CLEAN, "null", NULL);
		scan_verdict_set(&v, SCAN_ERROR, "clamd", "timeout");
		scan_verdict_merge(&acc, &v);
		assert_int_equal(acc.kind, SCAN_ERROR);
		scan_verdict_set(&v, SCAN_SPAM, "spamd", NULL);
		scan_verdict_merge(&acc, &v);
		assert_int_equal(acc.kind, SCAN_SPAM);
		scan_verdict_set(&v, SCAN_LIMIT, "attach", "MIME nesting deeper than 64");
		scan_verdict_merge(&acc, &v);
		assert_int_equal(acc.kind, SCAN_LIMIT);
		scan_verdict_set(&v, SCAN_SPAM, "spamd", NULL);
		scan_verdict_merge(&acc, &v);
		assert_int_equal(acc.kind, SCAN_LIMIT);
		scan_verdict_set(&v, SCAN_INFECTED, "clamav", "Eicar");
		scan_verdict_merge(&acc, &v);
		scan_verdict_set(&v, SCAN_BANNED, "attach", "a.exe");
		scan_verdict_merge(&acc, &v);
		scan_verdict_set(&v, SCAN_ERROR, "exec", "late");
		scan_verdict_merge(&acc, &v);
		assert_int_equal(acc.kind, SCAN_INFECTED);
		assert_string_equal(acc.name, "Eicar");
		assert_string_equal(acc.scanner, "clamav");
	}
}

/* spam verdicts of several scanners: plain > defer > tag, on a tie the first */
static void test_merge_spam_flags(void **unused)
{
	struct scan_verdict acc, tag, defer, plain;

	scan_verdict_set(&tag, SCAN_SPAM, "rspamd", "add header");
	tag.flags = SCAN_F_TAG;
	scan_verdict_set(&defer, SCAN_SPAM, "rspamd", "soft reject");
	defer.flags = SCAN_F_DEFER;
	scan_verdict_set(&plain, SCAN_SPAM, "spamd", "score 9");
	scan_verdict_set(&acc, SCAN_CLEAN, "none", NULL);
	assert_int_equal(scan_verdict_merge(&acc, &tag), 1);
	assert_int_equal(scan_verdict_merge(&acc, &defer), 1);
	assert_int_equal(acc.flags, SCAN_F_DEFER);
	assert_int_equal(scan_verdict_merge(&acc, &tag), 0);
	assert_int_equal(scan_verdict_merge(&acc, &plain), 1);
	assert_int_equal(acc.flags, 0);
	assert_string_equal(acc.scanner, "spamd");
	assert_int_equal(scan_verdict_merge(&acc, &defer), 0);
	assert_int_equal(scan_verdict_merge(&acc, &plain), 0);	/* a tie: the first stays */
	/* scan_verdict_set clears the flags */
	scan_verdict_set(&tag, SCAN_CLEAN, "x", NULL);
	assert_int_equal(tag.flags, 0);
}

static void test_headers_add(void **unused)
{
	struct scan_headers *h = calloc(1, sizeof *h);
	char big[SCAN_HEADERS_MAX];

	assert_int_equal(scan_headers_add(h, "X-Spam-Flag", "YES"), 0);
	/* a fold followed by text stays; CR LF becomes LF */
	assert_int_equal(scan_headers_add(h, "X-Spam-Status", "Yes, score=9\r\n\ttests=A"), 0);
	/* a bare line end, a blank continuation line, NUL-less controls: spaces */
	assert_int_equal(scan_headers_add(h, "X-Evil", "a\nInjected: 1\n \nb\x01" "c\x7f"), 0);
	assert_string_equal(h->buf, "X-Spam-Flag: YES\n"
			    "X-Spam-Status: Yes, score=9 \n\ttests=A\n"
			    "X-Evil: a Injected: 1   b c \n");
	assert_int_equal(h->len, strlen(h->buf));
	/* what does not fit whole is left out, and what is there stays */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_int_equal(scan_headers_add(h, "X-Big", big), -1);
	assert_int_equal(h->len, strlen(h->buf));
	assert_null(strstr(h->buf, "X-Big"));
	free(h);
}

static void test_null(void **unused)
{
	const struct scan_backend *b = &scan_backend_null;
	struct scan_input in = { .fd = -1 };
	struct scan_verdict v;
	void *state = (void *)1;
	char err[64];

	assert_int_equal(b->init(&state, &(struct scan_config){ 0 }, err, sizeof err), 0);
	memset(&v, 0x55, sizeof v);
	b->scan(state, &in, &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_string_equal(v.scanner, "null");
	assert_string_equal(v.name, "");
	assert_null(b->reload);
	b->fini(state);
}

#define HDR "Received: (qmail 1 invoked from network); 14 Mar 2025 09:00:00 -0000\n" \
	"From: a@example.org\nSubject: t\n\n"

static void test_markers(void **unused)
{
	struct scan_verdict v;

	scan_text(HDR "hello\n", &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_string_equal(v.scanner, "test");

	scan_text(HDR "body\nX-Sluice-Test: virus Sluice.Test.Worm\nmore\n", &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, "Sluice.Test.Worm");
	assert_string_equal(v.scanner, "test");

	scan_text(HDR "x-sluice-test:   banned invoice.pdf.exe  \r\n", &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_string_equal(v.name, "invoice.pdf.exe");

	scan_text(HDR "X-Sluice-Test: spam 12.5\n", &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_SPAM);
	assert_true(v.score == 12.5 && v.required == 5.0);

	scan_text(HDR "X-Sluice-Test: spam 3 2.5\n", &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_SPAM);
	assert_true(v.score == 3 && v.required == 2.5);

	scan_text(HDR "X-Sluice-Test: limit MIME structure too deep\n", &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_LIMIT);
	assert_string_equal(v.name, "MIME structure too deep");

	scan_text(HDR "X-Sluice-Test: error backend on fire\n", &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.name, "backend on fire");

	/* no newline at the end of the file */
	scan_text(HDR "X-Sluice-Test: virus Last.Line", &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, "Last.Line");

	/* only at the start of a line; unknown verbs are clean */
	scan_text(HDR "quoted X-Sluice-Test: virus No\n", &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_CLEAN);
	scan_text(HDR "X-Sluice-Test: frobnicate\n", &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_CLEAN);
}

static void test_marker_past_64k(void **unused)
{
	size_t pad = 70 * 1024;
	char *text = malloc(pad + 100);
	struct scan_verdict v;

	memset(text, 'a', pad);
	for (size_t i = 79; i < pad; i += 80)
		text[i] = '\n';
	strcpy(text + pad, "\nX-Sluice-Test: virus Too.Late\n");
	scan_text(text, &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_CLEAN);
	free(text);
}

static void test_hang_deadline(void **unused)
{
	struct scan_verdict v;
	int64_t start = scan_now_ms(), took;

	scan_text(HDR "X-Sluice-Test: hang\n", &v, start + 200, NULL);
	took = scan_now_ms() - start;
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.name, "deadline passed");
	assert_true(took >= 200);
	assert_true(took < 200 + 300);	/* 10 ms ticks; generous for sanitizers */
}

static void *set_cancel(void *arg)
{
	struct timespec ts = { 0, 50 * 1000000L };

	nanosleep(&ts, NULL);
	atomic_store((atomic_int *)arg, 1);
	return NULL;
}

static void test_hang_cancel(void **unused)
{
	static atomic_int cancel;
	struct scan_verdict v;
	pthread_t t;
	int64_t start = scan_now_ms(), took;

	cancel = 0;
	assert_int_equal(pthread_create(&t, NULL, set_cancel, (void *)&cancel), 0);
	scan_text(HDR "X-Sluice-Test: hang\n", &v, start + 5000, &cancel);
	took = scan_now_ms() - start;
	pthread_join(t, NULL);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.name, "cancelled");
	assert_true(took < 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_table_asks),
		cmocka_unit_test(test_kind_name),
		cmocka_unit_test(test_verdict_set),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_spam_flags),
		cmocka_unit_test(test_headers_add),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_markers),
		cmocka_unit_test(test_marker_past_64k),
		cmocka_unit_test(test_hang_deadline),
		cmocka_unit_test(test_hang_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
