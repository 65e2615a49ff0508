/*
 * test_queue_insert.c - queue/queue_insert.c: lines inserted into a mess
 * file in place, and the header fields removed in the same rewrite.
 *
 *	insert      bytes at an offset, the rest shifted, across 64 KiB chunks
 *	strip       the named fields go from the header block, continuation
 *	            lines with them; other fields, the empty line and the body
 *	            (which holds "X-Spam-Status:" lines) stay byte for byte;
 *	            the file is cut to its new size
 *	crlf        CRLF line ends: "\r\n" is the empty line; folds kept whole
 *	no body     no empty line: the block runs to the end of the file
 *	long        a 200 KiB forged field (across chunks) and a name longer
 *	            than QUEUE_NAME_MAX go
 *	not fields  a line with no colon, a name with a blank inside, blanks
 *	            before the colon (the obsolete form: a field, removed)
 *	before at   bytes before the offset are never looked at
 *	nothing     nothing named: the file is only grown by the insert
 *	fields      queue_insert_fields(): the ranges (adjacent fields joined)
 *	            and the count, the file only read; none: NULL
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "queue.h"

/* drop - the test's names: X-Spam-* and X-Spam itself */
static int drop(void *arg, const char *name, size_t len)
{
	(void)arg;
	return (len == 6 && !strncasecmp(name, "X-Spam", 6)) ||
	       (len > 7 && !strncasecmp(name, "X-Spam-", 7));
}

/* run - file `in`, insert ins at `at` with stripping: the result must be want */
static void run(const char *in, size_t inlen, size_t at, const char *ins, const char *want,
		size_t wantlen, unsigned want_removed)
{
	struct queue_msg m = { .id = 42 };
	struct queue_err e;
	unsigned removed = 99;
	char *got;
	struct stat st;
	ssize_t r;

	m.fd = tu_tmpmsg(in, inlen);
	m.size = (off_t)inlen;
	assert_int_equal(queue_insert_strip(&m, (off_t)at, ins, strlen(ins), drop, NULL,
					    &removed, &e), QUEUE_OK);
	assert_int_equal(removed, want_removed);
	assert_int_equal(m.size, (off_t)wantlen);
	assert_int_equal(fstat(m.fd, &st), 0);
	assert_int_equal(st.st_size, (off_t)wantlen);	/* cut, not only counted */
	got = malloc(wantlen + 1);
	r = pread(m.fd, got, wantlen + 1, 0);
	assert_int_equal(r, (ssize_t)wantlen);
	assert_memory_equal(got, want, wantlen);
	free(got);
	close(m.fd);
}

#define S(x) x, sizeof x - 1

static void test_insert_plain(void **state)
{
	struct queue_msg m = { .id = 1 };
	struct queue_err e;
	char *big = malloc(200000), *got = malloc(200010);
	size_t i;

	(void)state;
	for (i = 0; i < 200000; i++)
		big[i] = (char)('a' + i % 26);
	m.fd = tu_tmpmsg(big, 200000);
	m.size = 200000;
	assert_int_equal(queue_insert(&m, 5, "HELLO", 5, &e), QUEUE_OK);
	assert_int_equal(m.size, 200005);
	assert_int_equal(pread(m.fd, got, 200010, 0), 200005);
	assert_memory_equal(got, big, 5);
	assert_memory_equal(got + 5, "HELLO", 5);
	assert_memory_equal(got + 10, big + 5, 200000 - 5);
	assert_int_equal(queue_insert(&m, 300000, "x", 1, &e), QUEUE_EWRITE);
	close(m.fd);
	free(big);
	free(got);
}

static void test_strip(void **state)
{
	(void)state;
	run(S("Received: ours\n"
	      "Received: from x (1.2.3.4)\n  by y with SMTP; date\n"
	      "X-Spam-Status: No, score=-5.0\n\trequired=5.0\n"
	      "Subject: hi\n"
	      "x-spam-flag: NO\n"
	      "X-Spam: No\n"
	      "X-Spammy: kept\n"
	      "From: a@b\n"
	      "\n"
	      "X-Spam-Status: No\n"
	      "body\n"),
	    15, "X-Sluice: 1\n",
	    S("Received: ours\n"
	      "X-Sluice: 1\n"
	      "Received: from x (1.2.3.4)\n  by y with SMTP; date\n"
	      "Subject: hi\n"
	      "X-Spammy: kept\n"
	      "From: a@b\n"
	      "\n"
	      "X-Spam-Status: No\n"
	      "body\n"),
	    3);
}

static void test_crlf(void **state)
{
	(void)state;
	run(S("R: 1\n"
	      "X-Spam-Status: No,\r\n \r\n  more\r\n"	/* a whitespace-only fold is no empty line */
	      "Subject: s\r\n"
	      "X-Spam-Flag: NO\r\n"
	      "\r\n"
	      "X-Spam-Flag: NO\r\n"),
	    5, "",
	    S("R: 1\n"
	      "Subject: s\r\n"
	      "\r\n"
	      "X-Spam-Flag: NO\r\n"),
	    2);
}

static void test_no_body(void **state)
{
	(void)state;
	run(S("R\nSubject: s\nX-Spam-Flag: NO\n  folded"), 2, "T\n",
	    S("R\nT\nSubject: s\n"), 1);
	run(S("R\nX-Spam: a\nX-Spam: b"), 2, "", S("R\n"), 2);
	run(S("R\n"), 2, "T\n", S("R\nT\n"), 0);	/* nothing after the offset */
}

static void test_long(void **state)
{
	size_t n = 200000, i, len;
	char *in = malloc(n + 300), *want = malloc(300);
	char name[QUEUE_NAME_MAX + 40];

	(void)state;
	/* a 200 KiB field across the 64 KiB chunks, folded every 70 bytes */
	len = (size_t)sprintf(in, "R\nA: 1\nX-Spam-Report: ");
	for (i = 0; len < n; i++)
		in[len++] = i % 70 == 69 ? '\n' : i % 70 == 0 && i ? '\t' : 'y';
	in[len++] = '\n';
	len += (size_t)sprintf(in + len, "B: 2\n\nX-Spam-Report: body\n");
	run(in, len, 2, "", S("R\nA: 1\nB: 2\n\nX-Spam-Report: body\n"), 1);
	/* a name longer than QUEUE_NAME_MAX: its first bytes decide */
	memset(name, 'n', sizeof name);
	memcpy(name, "X-Spam-", 7);
	len = (size_t)sprintf(in, "R\n%.*s: v\nC: 3\n\n", (int)sizeof name, name);
	run(in, len, 2, "", S("R\nC: 3\n\n"), 1);
	free(in);
	free(want);
}

static void test_not_fields(void **state)
{
	(void)state;
	/* a line with no colon and a name with a blank inside are no fields
	 * (kept); blanks before the colon are RFC 5322's obsolete form */
	run(S("R\n"
	      "X-Spam-Flag NO\n"
	      "X-Spam Flag: NO\n"
	      "X-Spam-Flag \t: NO\n"
	      "\n"),
	    2, "",
	    S("R\n"
	      "X-Spam-Flag NO\n"
	      "X-Spam Flag: NO\n"
	      "\n"),
	    1);
	/* a fold that follows a kept non-field line is kept with it */
	run(S("R\nno colon here\n X-Spam-Flag: NO\nX-Spam-Flag: NO\n\n"), 2, "",
	    S("R\nno colon here\n X-Spam-Flag: NO\n\n"), 1);
	/* an 8-bit byte in a name: no field, kept; the next line still read */
	run(S("R\nX-Sp\xe4m: 1\nX-Spam: 2\n\n"), 2, "", S("R\nX-Sp\xe4m: 1\n\n"), 1);
}

static void test_before_at(void **state)
{
	(void)state;
	/* the bytes before the offset are not the message's: left alone */
	run(S("X-Spam: ours\nX-Spam: theirs\n\nb\n"), 13, "X-Spam-Flag: YES\n",
	    S("X-Spam: ours\nX-Spam-Flag: YES\n\nb\n"), 1);
	/* an empty line right at the offset: no header block at all */
	run(S("R\n\nX-Spam: b\n"), 2, "", S("R\n\nX-Spam: b\n"), 0);
}

static void test_fields(void **state)
{
	static const char in[] = "R\nX-Spam: 1\nX-Spam-Flag: NO\n\tfold\nA: 1\nX-Spam-Level: *\n\nX-Spam: b\n";
	struct queue_msg m = { .id = 3 };
	struct queue_range *v;
	struct queue_err e;
	struct stat st;
	unsigned count;
	size_t n;
	char got[sizeof in];

	(void)state;
	m.fd = tu_tmpmsg(in, sizeof in - 1);
	m.size = (off_t)(sizeof in - 1);
	assert_int_equal(queue_insert_fields(&m, 2, drop, NULL, &v, &n, &count, &e), QUEUE_OK);
	assert_int_equal(count, 3);
	assert_int_equal(n, 2);	/* the first two fields are adjacent: one range */
	assert_int_equal(v[0].from, 2);
	assert_int_equal(v[0].to, (off_t)strlen("R\nX-Spam: 1\nX-Spam-Flag: NO\n\tfold\n"));
	assert_int_equal(v[1].from, (off_t)strlen("R\nX-Spam: 1\nX-Spam-Flag: NO\n\tfold\nA: 1\n"));
	assert_int_equal(v[1].to, v[1].from + (off_t)strlen("X-Spam-Level: *\n"));
	free(v);
	/* the file is only read */
	assert_int_equal(fstat(m.fd, &st), 0);
	assert_int_equal(st.st_size, (off_t)(sizeof in - 1));
	assert_int_equal(pread(m.fd, got, sizeof got, 0), (ssize_t)(sizeof in - 1));
	assert_memory_equal(got, in, sizeof in - 1);
	/* none: NULL, 0 */
	assert_int_equal(queue_insert_fields(&m, m.size, drop, NULL, &v, &n, &count, &e), QUEUE_OK);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(count, 0);
	assert_int_equal(queue_insert_fields(&m, m.size + 1, drop, NULL, &v, &n, &count, &e),
			 QUEUE_EREAD);
	close(m.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_plain),
		cmocka_unit_test(test_strip),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_not_fields),
		cmocka_unit_test(test_before_at),
		cmocka_unit_test(test_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
