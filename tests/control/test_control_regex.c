/*
 * test_control_regex.c - control/control_regex.c: regex= on a message.
 *
 *	match       case-insensitive, anchored per line, a CR before the LF is
 *	            not part of the line, a NUL inside a line neither ends nor
 *	            hides it, an empty file matches nothing
 *	offsets     off skips the Received line sluice puts first; size ends
 *	            the scan
 *	long lines  a match at the end of a 100 KB line, and one across a
 *	            window boundary within the overlap, are found; '^' does not
 *	            match inside a long line's later windows
 *	many blocks a match 300 KB in is found
 *	errors      a closed fd and a file shorter than size give -1 (EIO);
 *	            stop() ends the scan with -1 (ECANCELED)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "control.h"

struct fx {
	char *dir;
	struct control_policy *p;
	struct control_result r;
};

static struct fx *fx_new(const char *simcontrol, const char *rcpt)
{
	struct fx *f = calloc(1, sizeof *f);
	struct control_options o = { .applies = CONTROL_APPLY_ALL };
	const char *rc[] = { rcpt, NULL };
	struct control_msg m = { .sender = "", .rcpts = rc };
	struct control_defaults d = { 0 };
	char err[1024];

	f->dir = tu_tmpdir("regex");
	o.dir = f->dir;
	tu_write(tu_path(f->dir, "simcontrol"), simcontrol, strlen(simcontrol));
	if (!(f->p = control_policy_open(&o, err, sizeof err)))
		fail_msg("open: %s", err);
	control_result_init(&f->r);
	assert_int_equal(control_policy_lookup(f->p, &m, &d, &f->r), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	control_result_fini(&f->r);
	control_policy_unref(f->p);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
}

/* scan - the message in a file; returns the matched pattern or NULL */
static const char *scan(struct fx *f, const char *msg, size_t len, off_t off)
{
	const char *path = tu_path(f->dir, "mess");
	const struct control_regex *hit;
	int fd, r;

	tu_write(path, msg, len);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	r = control_regex_scan(&f->r, fd, off, (off_t)len - off, NULL, NULL, &hit);
	close(fd);
	assert_true(r >= 0);
	assert_int_equal(r == 1, hit != NULL);
	return hit ? control_regex_pattern(hit) : NULL;
}

static void test_match(void **state)
{
	struct fx *f = fx_new(":regex=^subject.*viagra:casino\n", "a@b.example");
	const char m1[] = "From: x\r\nSUBJECT: cheap VIAGRA\r\n\r\nbody\r\n";
	const char m2[] = "From: x\nSubject: hello\n\nvisit our CaSiNo today";
	const char m3[] = "From: x\nSubject: hello\n\nnothing here\n";
	const char m4[] = "From: x\nX: a\0 subject: viagra\n\nsubject\0casino\n";

	assert_int_equal(f->r.nregex, 2);
	assert_string_equal(scan(f, m1, sizeof m1 - 1, 0), "^subject.*viagra");
	assert_string_equal(scan(f, m2, sizeof m2 - 1, 0), "casino");	/* no final LF */
	assert_null(scan(f, m3, sizeof m3 - 1, 0));
	/* "subject" after a NUL is not at the start of the line: '^' does
	 * not match there; casino after a NUL is found */
	assert_string_equal(scan(f, m4, sizeof m4 - 1, 0), "casino");
	assert_null(scan(f, "", 0, 0));
	assert_non_null(control_regex_match(&f->r, "Subject: Viagra", 15));
	assert_null(control_regex_match(&f->r, "X-Subject: viagra", 17));
	assert_string_equal(control_regex_source(f->r.regex[0]) + strlen(f->dir),
			    "/simcontrol:1");
	fx_free(f);
}

static void test_offsets(void **state)
{
	struct fx *f = fx_new(":regex=^received\n", "a@b.example");
	const char m[] = "Received: (qmail 1 invoked from network); 1 Jan 2026\nFrom: x\n\nbody\n";
	size_t rl = strchr(m, '\n') - m + 1;

	assert_non_null(scan(f, m, sizeof m - 1, 0));
	assert_null(scan(f, m, sizeof m - 1, (off_t)rl));
	fx_free(f);
}

static void test_long_lines(void **state)
{
	struct fx *f = fx_new(":regex=needle:^start\n", "a@b.example");
	size_t n = 100000, i;
	char *m = malloc(n + 16);

	memset(m, 'a', n);
	memcpy(m + n - 6, "needle", 6);
	m[n] = '\n';
	assert_string_equal(scan(f, m, n + 1, 0), "needle");
	/* across the first window boundary (8192), inside the overlap */
	memset(m, 'a', n);
	memcpy(m + 8192 - 3, "needle", 6);
	assert_string_equal(scan(f, m, n + 1, 0), "needle");
	/* "start" right at a later window's beginning is not a line start */
	memset(m, 'a', n);
	for (i = 8192 - 1024; i + 5 < n; i += 8192 - 1024)
		memcpy(m + i, "start", 5);
	assert_null(scan(f, m, n + 1, 0));
	memcpy(m, "start", 5);
	assert_string_equal(scan(f, m, n + 1, 0), "^start");
	free(m);
	fx_free(f);
}

static void test_many_blocks(void **state)
{
	struct fx *f = fx_new(":regex=^x-bad.*yes$\n", "a@b.example");
	size_t n = 0, cap = 400000;
	char *m = malloc(cap);

	while (n < 300000)
		n += (size_t)snprintf(m + n, cap - n, "line %zu of the body, nothing to see\n", n);
	assert_null(scan(f, m, n, 0));
	n += (size_t)snprintf(m + n, cap - n, "X-Bad: yes\r\nmore\n");
	assert_string_equal(scan(f, m, n, 0), "^x-bad.*yes$");
	free(m);
	fx_free(f);
}

static int stop_now(void *arg)
{
	return ++*(int *)arg >= 2;
}

static void test_errors(void **state)
{
	struct fx *f = fx_new(":regex=zzz\n", "a@b.example");
	const struct control_regex *hit;
	const char *path = tu_path(f->dir, "mess");
	size_t n = 200000;
	char *m = malloc(n);
	int fd, calls = 0;

	memset(m, '\n', n);
	tu_write(path, m, n);
	fd = open(path, O_RDONLY);
	errno = 0;
	assert_int_equal(control_regex_scan(&f->r, fd, 0, (off_t)n + 10, NULL, NULL, &hit), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(control_regex_scan(&f->r, fd, 0, (off_t)n, stop_now, &calls, &hit), -1);
	assert_int_equal(errno, ECANCELED);
	assert_int_equal(calls, 2);
	assert_int_equal(control_regex_scan(&f->r, fd, 0, (off_t)n, NULL, NULL, &hit), 0);
	close(fd);
	assert_int_equal(control_regex_scan(&f->r, fd, 0, (off_t)n, NULL, NULL, &hit), -1);
	free(m);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_many_blocks),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
