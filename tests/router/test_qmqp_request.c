/*
 * test_qmqp_request.c - router/qmqp_request.c: the QMQP request parser.
 *
 *	split feeding  one request fed whole, one byte at a time, and cut at
 *	               every position into two parts: the same events, the
 *	               message bytes concatenated equal the message, the
 *	               sender and recipients in order, then END
 *	shapes         empty message, empty sender, no recipients, a binary
 *	               message with NULs and commas inside, leading zeros in
 *	               lengths (qmail-qmqpd takes them)
 *	addresses      999 bytes: ok; 1000 bytes, or a NUL inside: ok = 0,
 *	               not returned, and the request still parses to END
 *	limits         a request length of 200000000 is taken, 200000001 is
 *	               QMQP_EV_BIG (26 digits too, without overflow); an inner
 *	               length longer than the request is BAD as soon as its
 *	               digits say so; a header of more than 100 bytes (leading
 *	               zeros) is BAD, 100 bytes are taken
 *	malformed      no digits' colon, a non-digit, a message or an address
 *	               running past the request, a missing comma after the
 *	               message / an address / the request, no sender: BAD with
 *	               a reason, and BAD ever after; bytes after END are not
 *	               consumed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "router/qmqp.h"

/* ns - append the netstring of s[0..len) to out at *n */
static void ns(char *out, size_t *n, const char *s, size_t len)
{
	*n += (size_t)sprintf(out + *n, "%zu:", len);
	memcpy(out + *n, s, len);
	*n += len;
	out[(*n)++] = ',';
}

/* request - netstring(netstring(msg) netstring(addr)...) into out */
static size_t request(char *out, const char *msg, size_t mlen, const char *const *addr, size_t na)
{
	char *inner = malloc(mlen + 4096 + na * 1100);
	size_t in = 0, n = 0, i;

	assert_non_null(inner);
	ns(inner, &in, msg, mlen);
	for (i = 0; i < na; i++)
		ns(inner, &in, addr[i], strlen(addr[i]));
	ns(out, &n, inner, in);
	free(inner);
	return n;
}

/* What a whole parse produced. */
struct parsed {
	enum qmqp_event last;	/* END, BAD or BIG */
	int messages;		/* MESSAGE events */
	uint64_t size;
	char *msg;
	size_t mlen;
	char addr[8][1001];
	int ok[8];
	int naddr;		/* SENDER + RCPT events */
	int sender_first;
	size_t consumed;
	const char *why;
};

/* parse - feed buf in pieces of at most step bytes (0: cut once at cut) */
static void parse(const char *buf, size_t len, size_t step, size_t cut, struct parsed *p)
{
	struct qmqp_request q;
	struct qmqp_ev ev;
	size_t off = 0, end = 0;

	memset(p, 0, sizeof *p);
	p->msg = malloc(len + 1);
	assert_non_null(p->msg);
	qmqp_request_init(&q);
	for (;;) {
		size_t used;
		enum qmqp_event e;

		if (off == end) {
			if (end == len)
				end = len;	/* nothing more to give: parse what is left */
			else if (step)
				end = off + step < len ? off + step : len;
			else
				end = off < cut ? cut : len;
		}
		e = qmqp_request_next(&q, buf + off, end - off, &used, &ev);
		assert_true(used <= end - off);
		off += used;
		switch (e) {
		case QMQP_EV_MORE:
			assert_int_equal(off, end);
			if (end == len) {
				p->last = QMQP_EV_MORE;	/* ran out of input */
				p->consumed = off;
				return;
			}
			break;
		case QMQP_EV_MESSAGE:
			p->messages++;
			p->size = ev.size;
			break;
		case QMQP_EV_DATA:
			assert_true(ev.len > 0);
			memcpy(p->msg + p->mlen, ev.data, ev.len);
			p->mlen += ev.len;
			break;
		case QMQP_EV_SENDER:
		case QMQP_EV_RCPT:
			assert_true(p->naddr < 8);
			if (p->naddr == 0)
				p->sender_first = e == QMQP_EV_SENDER;
			else
				assert_int_equal(e, QMQP_EV_RCPT);
			assert_int_equal(strlen(ev.data), ev.len);
			memcpy(p->addr[p->naddr], ev.data, ev.len + 1);
			p->ok[p->naddr++] = ev.ok;
			break;
		case QMQP_EV_END:
		case QMQP_EV_BAD:
		case QMQP_EV_BIG:
			p->last = e;
			p->why = ev.why;
			p->consumed = off;
			return;
		}
	}
}

static const char *const addrs3[] = { "sender@example.org", "a@example.net", "b@example.net" };
static const char msg1[] = "From: x@example.org\nSubject: hi, there\n\nbody, with: colons\n";

static void check_good(const struct parsed *p, const char *msg, size_t mlen,
		       const char *const *addr, int na)
{
	int i;

	assert_int_equal(p->last, QMQP_EV_END);
	assert_int_equal(p->messages, 1);
	assert_int_equal(p->size, mlen);
	assert_int_equal(p->mlen, mlen);
	assert_memory_equal(p->msg, msg, mlen);
	assert_int_equal(p->naddr, na);
	assert_true(p->sender_first);
	for (i = 0; i < na; i++) {
		assert_string_equal(p->addr[i], addr[i]);
		assert_true(p->ok[i]);
	}
}

static void test_split_feeding(void **unused)
{
	char buf[4096];
	size_t len = request(buf, msg1, strlen(msg1), addrs3, 3), cut;
	struct parsed p;

	parse(buf, len, len, 0, &p);
	check_good(&p, msg1, strlen(msg1), addrs3, 3);
	assert_int_equal(p.consumed, len);
	free(p.msg);
	parse(buf, len, 1, 0, &p);
	check_good(&p, msg1, strlen(msg1), addrs3, 3);
	free(p.msg);
	for (cut = 0; cut <= len; cut++) {
		parse(buf, len, 0, cut, &p);
		check_good(&p, msg1, strlen(msg1), addrs3, 3);
		free(p.msg);
	}
}

static void test_shapes(void **unused)
{
	static const char bin[] = "a\0b,c:1:,\0\r\n";
	static const char *const bounce[] = { "", "postmaster@example.net" };
	static const char *const only_sender[] = { "s@example.org" };
	char buf[4096];
	size_t len;
	struct parsed p;

	len = request(buf, "", 0, bounce, 2);	/* empty message, bounce */
	parse(buf, len, 3, 0, &p);
	check_good(&p, "", 0, bounce, 2);
	free(p.msg);
	len = request(buf, bin, sizeof bin - 1, only_sender, 1);	/* no recipients */
	parse(buf, len, 2, 0, &p);
	check_good(&p, bin, sizeof bin - 1, only_sender, 1);
	free(p.msg);
	/* leading zeros, as qmail-qmqpd reads them */
	memcpy(buf, "0022:0003:abc,005:a@b.c,0:,,", 28);
	parse(buf, 28, 28, 0, &p);
	assert_int_equal(p.last, QMQP_EV_END);
	assert_int_equal(p.mlen, 3);
	assert_int_equal(p.naddr, 2);
	assert_string_equal(p.addr[0], "a@b.c");
	assert_string_equal(p.addr[1], "");
	free(p.msg);
}

static void test_addresses(void **unused)
{
	char *big = malloc(8192), a999[1000], a1000[1001];
	const char *addr[4];
	size_t len, n = 0, in = 0;
	char inner[4096];
	struct parsed p;

	assert_non_null(big);
	memset(a999, 'x', 999);
	a999[999] = 0;
	memset(a1000, 'y', 1000);
	a1000[1000] = 0;
	addr[0] = a999;
	addr[1] = a1000;
	addr[2] = "ok@example.net";
	len = request(big, "m", 1, addr, 3);
	parse(big, len, 7, 0, &p);
	assert_int_equal(p.last, QMQP_EV_END);
	assert_int_equal(p.naddr, 3);
	assert_true(p.ok[0]);
	assert_int_equal(strlen(p.addr[0]), 999);
	assert_false(p.ok[1]);
	assert_string_equal(p.addr[1], "");	/* never returned */
	assert_true(p.ok[2]);
	assert_string_equal(p.addr[2], "ok@example.net");
	free(p.msg);
	/* a sender with a NUL inside */
	ns(inner, &in, "m", 1);
	ns(inner, &in, "a@b\0c", 5);
	ns(inner, &in, "r@example.net", 13);
	ns(big, &n, inner, in);
	parse(big, n, 1, 0, &p);
	assert_int_equal(p.last, QMQP_EV_END);
	assert_int_equal(p.naddr, 2);
	assert_false(p.ok[0]);
	assert_string_equal(p.addr[0], "");
	assert_true(p.ok[1]);
	free(p.msg);
	free(big);
}

static void test_limits(void **unused)
{
	char head[200];
	struct parsed p;
	size_t n;

	n = (size_t)sprintf(head, "200000000:5:");
	parse(head, n, n, 0, &p);
	assert_int_equal(p.last, QMQP_EV_MORE);	/* taken; the message follows */
	free(p.msg);
	n = (size_t)sprintf(head, "200000001:");
	parse(head, n, n, 0, &p);
	assert_int_equal(p.last, QMQP_EV_BIG);
	assert_non_null(p.why);
	free(p.msg);
	n = (size_t)sprintf(head, "99999999999999999999999999:");	/* no overflow */
	parse(head, n, 1, 0, &p);
	assert_int_equal(p.last, QMQP_EV_BIG);
	free(p.msg);
	/* an inner length longer than the request: refused at its third digit */
	n = (size_t)sprintf(head, "100:300000000:");
	parse(head, n, n, 0, &p);
	assert_int_equal(p.last, QMQP_EV_BAD);
	assert_int_equal(p.consumed, 4 + 3);
	free(p.msg);
	/* 99 zeros then "5:" is 101 bytes: qmail-qmqpd's 100-byte budget */
	memset(head, '0', 99);
	memcpy(head + 99, "5:", 2);
	parse(head, 101, 101, 0, &p);
	assert_int_equal(p.last, QMQP_EV_BAD);
	free(p.msg);
	memset(head, '0', 98);
	memcpy(head + 98, "5:", 2);	/* 100 bytes: taken */
	parse(head, 100, 100, 0, &p);
	assert_int_equal(p.last, QMQP_EV_MORE);
	free(p.msg);
}

/* bad - the request is refused as malformed */
static void bad(const char *req, size_t consumed_max)
{
	struct parsed p;
	struct qmqp_request q;
	struct qmqp_ev ev;
	size_t used;
	size_t len = strlen(req);

	parse(req, len, len, 0, &p);
	assert_int_equal(p.last, QMQP_EV_BAD);
	assert_non_null(p.why);
	assert_true(p.consumed <= consumed_max);
	free(p.msg);
	parse(req, len, 1, 0, &p);
	assert_int_equal(p.last, QMQP_EV_BAD);
	free(p.msg);
	/* dead ever after */
	qmqp_request_init(&q);
	while (qmqp_request_next(&q, req, len, &used, &ev) != QMQP_EV_BAD) {
		req += used;
		len -= used;
	}
	assert_int_equal(qmqp_request_next(&q, "5:", 2, &used, &ev), QMQP_EV_BAD);
	assert_int_equal(used, 0);
}

static void test_malformed(void **unused)
{
	bad("x:", 1);				/* not a digit */
	bad("12 :", 3);
	bad("10:3:abcX", 99);			/* no comma after the message */
	bad("12:3:abc,3:a@bX", 99);		/* no comma after an address */
	bad("12:3:abc,3:a@b,X", 99);		/* no comma after the request */
	bad("10:9:abc,", 99);			/* the message runs past */
	bad("11:3:abc,9:a", 99);		/* an address runs past */
	bad("6:3:abc,,", 99);			/* no sender */
	bad("0:,", 99);				/* nothing at all */
	bad("-1:", 1);
}

static void test_after_end(void **unused)
{
	const char req[] = "12:3:abc,3:a@b,,TRAILING";
	struct parsed p;

	parse(req, sizeof req - 1, sizeof req - 1, 0, &p);
	assert_int_equal(p.last, QMQP_EV_END);
	assert_int_equal(p.consumed, 3 + 12 + 1);	/* "12:" + 12 bytes + "," */
	free(p.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_feeding),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_after_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
