/*
 * test_queue_env.c - queue/queue_env.c: the envelope with qmail-queue's rules.
 *
 *	golden           tests/queue/data/env-*.in -> env-*.ref (intd bytes)
 *	splits           every valid envelope fed whole, a byte at a time, cut
 *	                 at every boundary and in random chunks: same bytes
 *	EOF              at every proper prefix: EREAD (qq 54), never OK
 *	addresses        1002 bytes OK, 1003 EADDR (qq 11), sender and rcpt
 *	format           first record not F, later not T/Q: EFORMAT (qq 91)
 *	Q record         sets noscan, is not copied, only the final NUL after it
 *	rest             zero recipients, bytes after the final NUL ignored,
 *	                 sender/recipient iteration, QUEUE_ENV_MAX -> ENOMEM
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "queue.h"

#define UID 7791
#define PID 5678

struct buf {
	char *p;
	size_t len;
};

/* B - a byte string literal with its embedded NULs */
#define B(lit) ((struct buf){ (char *)(lit), sizeof(lit) - 1 })

/* feed_chunks - feed in pieces of the given sizes (0 ends the list; the
 * last size repeats); returns the final status and the bytes consumed */
static enum queue_status feed_chunks(struct queue_env *env, struct buf in, const size_t *sizes,
				     size_t *consumed)
{
	enum queue_status st = QUEUE_AGAIN;
	size_t off = 0, k = 0, used;

	while (off < in.len) {
		size_t n = sizes[k];

		if (sizes[k + 1])
			k++;
		if (n > in.len - off)
			n = in.len - off;
		st = queue_env_feed(env, in.p + off, n, &used);
		assert_true(used <= n);
		off += used;
		if (st != QUEUE_AGAIN)
			break;
		assert_int_equal(used, n);	/* AGAIN consumed everything */
	}
	*consumed = off;
	return st;
}

static enum queue_status feed_all(struct queue_env *env, struct buf in, size_t *consumed)
{
	size_t sizes[] = { in.len ? in.len : 1, 0 };

	queue_env_init(env, UID, PID);
	return feed_chunks(env, in, sizes, consumed);
}

/* expect_env - in gives OK with exactly these intd bytes, however it is cut */
static void expect_env(struct buf in, struct buf want, size_t want_used)
{
	struct queue_env env;
	size_t used, cut, i;
	unsigned seed = 12345, round;

	assert_int_equal(feed_all(&env, in, &used), QUEUE_OK);
	assert_int_equal(used, want_used);
	assert_int_equal(queue_env_eof(&env), QUEUE_OK);
	assert_int_equal(env.len, want.len);
	assert_memory_equal(env.buf, want.p, want.len);
	queue_env_free(&env);

	{	/* one byte at a time */
		size_t ones[] = { 1, 0 };

		queue_env_init(&env, UID, PID);
		assert_int_equal(feed_chunks(&env, in, ones, &used), QUEUE_OK);
		assert_int_equal(used, want_used);
		assert_int_equal(env.len, want.len);
		assert_memory_equal(env.buf, want.p, want.len);
		queue_env_free(&env);
	}
	for (cut = 0; cut <= in.len; cut++) {	/* two pieces, cut anywhere */
		size_t two[] = { cut ? cut : in.len, in.len, 0 };

		queue_env_init(&env, UID, PID);
		assert_int_equal(feed_chunks(&env, in, two, &used), QUEUE_OK);
		assert_int_equal(env.len, want.len);
		assert_memory_equal(env.buf, want.p, want.len);
		queue_env_free(&env);
	}
	for (round = 0; round < 200; round++) {	/* random chunks */
		size_t sizes[64];

		for (i = 0; i < 63; i++)
			sizes[i] = 1 + (size_t)rand_r(&seed) % 7;
		sizes[63] = 0;
		queue_env_init(&env, UID, PID);
		assert_int_equal(feed_chunks(&env, in, sizes, &used), QUEUE_OK);
		assert_int_equal(used, want_used);
		assert_int_equal(env.len, want.len);
		assert_memory_equal(env.buf, want.p, want.len);
		queue_env_free(&env);
	}
}

/* expect_fail - in (fed whole and a byte at a time) fails with st */
static void expect_fail(struct buf in, enum queue_status st)
{
	size_t ones[] = { 1, 0 }, used;
	struct queue_env env;

	assert_int_equal(feed_all(&env, in, &used), st);
	assert_int_equal(queue_env_eof(&env), QUEUE_EREAD);
	queue_env_free(&env);
	queue_env_init(&env, UID, PID);
	assert_int_equal(feed_chunks(&env, in, ones, &used), st);
	queue_env_free(&env);
}

/* expect_eof_prefixes - every proper prefix of a valid envelope: EREAD */
static void expect_eof_prefixes(struct buf in)
{
	size_t p, used;

	for (p = 0; p < in.len; p++) {
		struct queue_env env;
		struct buf pre = { in.p, p };

		queue_env_init(&env, UID, PID);
		if (p) {
			size_t sizes[] = { p, 0 };

			assert_int_equal(feed_chunks(&env, pre, sizes, &used), QUEUE_AGAIN);
		}
		assert_int_equal(queue_env_eof(&env), QUEUE_EREAD);
		queue_env_free(&env);
	}
}

static struct buf readfile(const char *name)
{
	char path[PATH_MAX];
	struct buf b;

	snprintf(path, sizeof path, "%s/%s", TEST_DATA_DIR, name);
	b.p = tu_read(path, &b.len);
	if (!b.p)
		fail_msg("%s missing", path);
	return b;
}

static void test_golden(void **state)
{
	static const char *names[] = { "env-basic", "env-bounce", "env-norcpt", "env-qrecord",
				       "env-trailing" };
	unsigned i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		char n[64];
		struct buf in, ref;
		size_t end;

		snprintf(n, sizeof n, "%s.in", names[i]);
		in = readfile(n);
		snprintf(n, sizeof n, "%s.ref", names[i]);
		ref = readfile(n);
		/* the envelope ends at its first empty record */
		for (end = 1; end < in.len; end++)
			if (in.p[end - 1] == 0 && in.p[end] == 0)
				break;
		expect_env(in, ref, end + 1);
		free(in.p);
		free(ref.p);
	}
}

static void test_splits(void **state)
{
	expect_env(B("Fs@x\0Ta@y\0Tb@z\0\0"), B("u7791\0p5678\0Fs@x\0Ta@y\0Tb@z\0"), 16);
	expect_env(B("F\0T\0\0"), B("u7791\0p5678\0F\0T\0"), 5);	/* empty addresses */
	expect_env(B("F\0\0"), B("u7791\0p5678\0F\0"), 3);	/* zero recipients */
	expect_eof_prefixes(B("Fs@x\0Ta@y\0Tb@z\0\0"));
	expect_eof_prefixes(B("F\0\0"));
	expect_eof_prefixes(B("Fs\0Tr\0Qx\0\0"));
}

static void test_uid_pid_records(void **state)
{
	struct queue_env env;
	size_t used;

	queue_env_init(&env, 0, 1);
	assert_int_equal(queue_env_feed(&env, "F\0\0", 3, &used), QUEUE_OK);
	assert_int_equal(env.len, 8);
	assert_memory_equal(env.buf, "u0\0p1\0F", 8);
	queue_env_free(&env);
	queue_env_init(&env, 4294967294u, 4194304);
	assert_int_equal(queue_env_feed(&env, "F\0\0", 3, &used), QUEUE_OK);
	assert_int_equal(env.len, sizeof "u4294967294\0p4194304\0F");
	assert_memory_equal(env.buf, "u4294967294\0p4194304\0F", env.len);
	queue_env_free(&env);
}

/* addr - "<c><n bytes of 'a'>" */
static char *addr(char *p, char type, size_t n)
{
	*p++ = type;
	memset(p, 'a', n);
	p += n;
	*p++ = 0;
	return p;
}

static void test_address_length(void **state)
{
	static char in[4096], want[4096];
	char *p, *w;
	size_t used;
	struct queue_env env;

	/* 1002 bytes: the longest qmail-queue takes, sender and recipient */
	p = addr(in, 'F', 1002);
	p = addr(p, 'T', 1002);
	*p++ = 0;
	w = want + sizeof "u7791\0p5678";
	memcpy(want, "u7791\0p5678", sizeof "u7791\0p5678");
	w = addr(w, 'F', 1002);
	w = addr(w, 'T', 1002);
	expect_env((struct buf){ in, (size_t)(p - in) }, (struct buf){ want, (size_t)(w - want) },
		   (size_t)(p - in));

	/* 1003-byte sender: EADDR as soon as the 1003rd byte arrives */
	p = addr(in, 'F', 1003);
	p = addr(p, 'T', 1);
	*p++ = 0;
	expect_fail((struct buf){ in, (size_t)(p - in) }, QUEUE_EADDR);
	queue_env_init(&env, UID, PID);
	assert_int_equal(queue_env_feed(&env, in, (size_t)(p - in), &used), QUEUE_EADDR);
	assert_int_equal(used, 1 + 1003);
	queue_env_free(&env);

	/* 1003-byte recipient, after a good one */
	p = addr(in, 'F', 5);
	p = addr(p, 'T', 1002);
	p = addr(p, 'T', 1003);
	*p++ = 0;
	expect_fail((struct buf){ in, (size_t)(p - in) }, QUEUE_EADDR);

	/* a 1003-byte address cut off before its NUL is already too long */
	p = addr(in, 'F', 1003);
	queue_env_init(&env, UID, PID);
	assert_int_equal(queue_env_feed(&env, in, (size_t)(p - in) - 1, &used), QUEUE_EADDR);
	queue_env_free(&env);
}

static void test_format(void **state)
{
	expect_fail(B("Ts@x\0\0"), QUEUE_EFORMAT);	/* first record not F */
	expect_fail(B("\0"), QUEUE_EFORMAT);
	expect_fail(B("fs@x\0\0"), QUEUE_EFORMAT);
	expect_fail(B("Fs@x\0Xr@y\0\0"), QUEUE_EFORMAT);	/* later not T */
	expect_fail(B("Fs@x\0Fr@y\0\0"), QUEUE_EFORMAT);
	expect_fail(B("Fs@x\0Ta@y\0ub@z\0\0"), QUEUE_EFORMAT);
	expect_fail(B("Fs@x\0Tr@y\0Qx\0Tz@w\0\0"), QUEUE_EFORMAT);	/* only NUL after Q */
	expect_fail(B("Fs@x\0Qx\0Qy\0\0"), QUEUE_EFORMAT);
}

static void test_q_record(void **state)
{
	struct queue_env env;
	size_t used;

	expect_env(B("Fs@x\0Tr@y\0Qanything\0\0"), B("u7791\0p5678\0Fs@x\0Tr@y\0"), 21);
	expect_env(B("Fs@x\0Q\0\0"), B("u7791\0p5678\0Fs@x\0"), 8);
	assert_int_equal(feed_all(&env, B("Fs@x\0Tr@y\0Q\0\0"), &used), QUEUE_OK);
	assert_int_equal(env.noscan, 1);
	assert_int_equal(env.nrcpt, 1);
	queue_env_free(&env);
	assert_int_equal(feed_all(&env, B("Fs@x\0Tr@y\0\0"), &used), QUEUE_OK);
	assert_int_equal(env.noscan, 0);
	queue_env_free(&env);
}

static void test_trailing_ignored(void **state)
{
	struct queue_env env;
	size_t used;

	expect_env(B("Fs\0Tr\0\0junk\0\0Tmore\0"), B("u7791\0p5678\0Fs\0Tr\0"), 7);
	assert_int_equal(feed_all(&env, B("Fs\0\0Xjunk"), &used), QUEUE_OK);
	assert_int_equal(used, 4);
	/* once complete, more input is ignored and consumes nothing */
	assert_int_equal(queue_env_feed(&env, "Tz\0\0", 4, &used), QUEUE_OK);
	assert_int_equal(used, 0);
	assert_int_equal(env.len, sizeof "u7791\0p5678\0Fs");
	assert_int_equal(queue_env_eof(&env), QUEUE_OK);
	queue_env_free(&env);
}

static void test_iterate(void **state)
{
	struct queue_env env;
	const char *r;
	size_t used;

	queue_env_init(&env, UID, PID);
	assert_null(queue_env_sender(&env));	/* nothing read yet */
	assert_int_equal(queue_env_feed(&env, "Fbounce", 7, &used), QUEUE_AGAIN);
	assert_int_equal(queue_env_feed(&env, "s@x\0Ta@y\0T\0Tc@w\0Qz\0\0", 20, &used), QUEUE_OK);
	assert_string_equal(queue_env_sender(&env), "bounces@x");
	assert_int_equal(env.nrcpt, 3);
	r = queue_env_rcpt(&env, NULL);
	assert_string_equal(r, "a@y");
	r = queue_env_rcpt(&env, r);
	assert_string_equal(r, "");
	r = queue_env_rcpt(&env, r);
	assert_string_equal(r, "c@w");
	assert_null(queue_env_rcpt(&env, r));
	queue_env_free(&env);

	assert_int_equal(feed_all(&env, B("F\0\0"), &used), QUEUE_OK);
	assert_string_equal(queue_env_sender(&env), "");
	assert_null(queue_env_rcpt(&env, NULL));
	assert_int_equal(env.nrcpt, 0);
	queue_env_free(&env);
}

/* test_cap - exactly QUEUE_ENV_MAX bytes of intd fit; one more is ENOMEM */
static void cap_case(size_t last, enum queue_status want)
{
	/* "u1\0p2\0" + "F\0" = 8 bytes, then 4185 recipients of 1000 bytes
	 * (1002 each) = 4193370, then one of 924 (926): 4194304 in all */
	size_t n = 2 + 4185 * 1002 + (last + 2) + 1, used;
	char *in = malloc(n), *p = in;
	struct queue_env env;
	unsigned i;

	p = addr(p, 'F', 0);
	for (i = 0; i < 4185; i++)
		p = addr(p, 'T', 1000);
	p = addr(p, 'T', last);
	*p++ = 0;
	assert_int_equal((size_t)(p - in), n);
	queue_env_init(&env, 1, 2);
	assert_int_equal(queue_env_feed(&env, in, n, &used), want);
	assert_true(env.len <= QUEUE_ENV_MAX);
	if (want == QUEUE_OK) {
		assert_int_equal(env.len, QUEUE_ENV_MAX);
		assert_int_equal(env.nrcpt, 4186);
	} else {
		assert_int_equal(used, n - 2);	/* stopped at the byte that did not fit */
		assert_int_equal(queue_env_eof(&env), QUEUE_EREAD);
	}
	queue_env_free(&env);
	free(in);
}

static void test_cap(void **state)
{
	cap_case(924, QUEUE_OK);
	cap_case(925, QUEUE_ENOMEM);
}

static void test_free_twice(void **state)
{
	struct queue_env env;

	queue_env_init(&env, UID, PID);
	queue_env_free(&env);
	queue_env_free(&env);
	assert_null(env.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_splits),
		cmocka_unit_test(test_uid_pid_records),
		cmocka_unit_test(test_address_length),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_q_record),
		cmocka_unit_test(test_trailing_ignored),
		cmocka_unit_test(test_iterate),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_free_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
