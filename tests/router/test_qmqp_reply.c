/*
 * test_qmqp_reply.c - router/qmqp_reply.c: the reply texts and netstrings.
 *
 *	exit table   qmail-qmqpd's text for every exit code 1..255 is
 *	             qmail-smtpd's (client_exit_reply()) with Z for 451 and D
 *	             for 554, except 115 (= 11) and 120 ("unable to exec
 *	             qq"); 0 is ""; a few spelled out byte for byte
 *	ok           "Kok <time> qp <pid>"
 *	custom       a text of 2 bytes or less, or not starting with D or Z,
 *	             is no custom text; CR, LF, TAB, DEL become spaces; cut
 *	             at the letter + 254 bytes
 *	encode       "<len>:<text>,"; a short buffer gives 0
 *	decode       K / Z / D with their text; every prefix of a reply is
 *	             "more" (0); garbage ("HTTP/1.0 200 OK", a K outside a
 *	             netstring), a length of 0 or over 1024, a missing comma,
 *	             a first byte other than K/Z/D are -1 with a reason;
 *	             control bytes in the text become '?'
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "router/qmqp.h"

static void test_exit_table(void **unused)
{
	int code;

	assert_string_equal(qmqp_reply_exit(0), "");
	for (code = 1; code < 256; code++) {
		const char *q = qmqp_reply_exit(code), *s = client_exit_reply(code);

		if (code == 115)
			s = client_exit_reply(11);
		if (code == 120) {
			assert_string_equal(q, "Zunable to exec qq (#4.3.0)");
			continue;
		}
		assert_true(q[0] == 'Z' || q[0] == 'D');
		assert_memory_equal(s, q[0] == 'Z' ? "451 " : "554 ", 4);
		assert_string_equal(q + 1, s + 4);
	}
	assert_string_equal(qmqp_reply_exit(53), "Zqq write error or disk full (#4.3.0)");
	assert_string_equal(qmqp_reply_exit(31), "Dmail server permanently rejected message (#5.3.0)");
	assert_string_equal(qmqp_reply_exit(71), "Zmail server temporarily rejected message (#4.3.0)");
	assert_string_equal(qmqp_reply_exit(33), "Dqq permanent problem (#5.3.0)");
	assert_string_equal(qmqp_reply_exit(82), "Zqq temporary problem (#4.3.0)");
}

static void test_ok(void **unused)
{
	char buf[64];

	assert_int_equal(qmqp_reply_ok(buf, sizeof buf, 1793587504, 4242), 22);
	assert_string_equal(buf, "Kok 1793587504 qp 4242");
	assert_int_equal(qmqp_reply_ok(buf, 10, 1793587504, 4242), 0);
}

static void test_custom(void **unused)
{
	char out[400], in[400];

	assert_int_equal(qmqp_reply_custom(out, sizeof out, "Dx", 2), 0);
	assert_int_equal(qmqp_reply_custom(out, sizeof out, "Xabc", 4), 0);
	assert_int_equal(qmqp_reply_custom(out, sizeof out, "", 0), 0);
	assert_int_equal(qmqp_reply_custom(out, sizeof out, "Zno\r\nway\t\x7f", 10), 10);
	assert_string_equal(out, "Zno  way  ");
	memset(in, 'a', sizeof in);
	in[0] = 'D';
	assert_int_equal(qmqp_reply_custom(out, sizeof out, in, sizeof in), 255);
	assert_int_equal(strlen(out), 255);
	assert_int_equal(out[0], 'D');
}

static void test_encode(void **unused)
{
	char out[64];

	assert_int_equal(qmqp_reply_encode(out, sizeof out, "Kok 1 qp 2"), 14);
	assert_memory_equal(out, "10:Kok 1 qp 2,", 14);
	assert_int_equal(qmqp_reply_encode(out, 10, "Kok 1 qp 2"), 0);
	assert_int_equal(qmqp_reply_encode(out, sizeof out, ""), 3);
	assert_memory_equal(out, "0:,", 3);
}

static void decodes(const char *buf, int want, enum qmqp_status st, const char *text)
{
	struct qmqp_result r;
	size_t len = strlen(buf), i;

	memset(&r, 0, sizeof r);
	assert_int_equal(qmqp_reply_decode(buf, len, &r), want);
	if (want == 1) {
		assert_int_equal(r.status, st);
		if (text)
			assert_string_equal(r.text, text);
		size_t end = strchr(buf, ':') - buf + 1 + strtoul(buf, NULL, 10) + 1;

		for (i = 0; i < end; i++) {	/* every prefix asks for more */
			struct qmqp_result p;

			memset(&p, 0, sizeof p);
			assert_int_equal(qmqp_reply_decode(buf, i, &p), 0);
		}
	} else if (want < 0)
		assert_true(r.text[0] != 0);
}

static void test_decode(void **unused)
{
	char big[1100];

	decodes("22:Kok 1793587504 qp 4242,", 1, QMQP_OK, "ok 1793587504 qp 4242");
	decodes("28:Zqq write error or disk full,", 1, QMQP_TEMP, "qq write error or disk full");
	decodes("2:Dx,trailing", 1, QMQP_PERM, "x");
	decodes("1:K,", 1, QMQP_OK, "");
	decodes("5:Da\rb\n,", 1, QMQP_PERM, "a?b?");
	decodes("HTTP/1.0 200 OK\r\n", -1, 0, NULL);
	decodes("OK", -1, 0, NULL);
	decodes(":K,", -1, 0, NULL);
	decodes("0:,", -1, 0, NULL);
	decodes("3:Kok!", -1, 0, NULL);
	decodes("3:Xok,", -1, 0, NULL);
	decodes("1025:", -1, 0, NULL);
	decodes("0000000001:K,", -1, 0, NULL);	/* more than 9 digits */
	decodes("5:Kok", 0, 0, NULL);
	snprintf(big, sizeof big, "1024:Z%01023d,", 0);
	decodes(big, 1, QMQP_TEMP, NULL);
	{
		struct qmqp_result r;

		assert_int_equal(qmqp_reply_decode(big, strlen(big), &r), 1);
		assert_int_equal(strlen(r.text), sizeof r.text - 1);	/* cut, never overrun */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_table),
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_custom),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
