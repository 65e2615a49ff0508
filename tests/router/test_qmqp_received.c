/*
 * test_qmqp_received.c - router/qmqp_received.c: qmail-qmqpd's Received
 * line, byte for byte.
 *
 *	format      every field given: the exact two lines notqmail's
 *	            received() writes for qmail-qmqpd (no HELO), GMT date,
 *	            day not zero-padded, time zero-padded
 *	defaults    no remote host / IP / local name: "unknown"; no
 *	            remoteinfo: no "@"
 *	safety      bytes outside the safe set (space, CR, LF, parentheses,
 *	            quotes, 8-bit) become '?'; IPv6 brackets and colons stay
 *	length      a 5000-byte field is cut at 256 bytes; a short buffer
 *	            gives 0, QMQP_RECEIVED_MAX is always enough
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "router/qmqp.h"

/* 2026-11-02 02:45:04 UTC */
#define T1 ((time_t)1793587504)
/* 2001-09-09 01:46:40 UTC */
#define T2 ((time_t)1000000000)

static void check(const char *host, const char *info, const char *ip, const char *local, time_t t,
		  const char *want)
{
	char buf[QMQP_RECEIVED_MAX];
	size_t n = qmqp_received(buf, sizeof buf, host, info, ip, local, t);

	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
}

static void test_format(void **unused)
{
	check("mx1.example.org", "joe", "192.0.2.7", "relay.example.net", T1,
	      "Received: from mx1.example.org (joe@192.0.2.7)\n"
	      "  by relay.example.net with QMQP; 2 Nov 2026 02:45:04 -0000\n");
	check("mx1.example.org", NULL, "192.0.2.7", "relay.example.net", T2,
	      "Received: from mx1.example.org (192.0.2.7)\n"
	      "  by relay.example.net with QMQP; 9 Sep 2001 01:46:40 -0000\n");
}

static void test_defaults(void **unused)
{
	check(NULL, NULL, NULL, NULL, T2,
	      "Received: from unknown (unknown)\n"
	      "  by unknown with QMQP; 9 Sep 2001 01:46:40 -0000\n");
}

static void test_safety(void **unused)
{
	check("evil host\r\nX-Injected: yes", "a(b)\"c", "2001:db8::[7]", "r\xc3\xa9lay", T2,
	      "Received: from evil?host??X-Injected:?yes (a?b??c@2001:db8::[7])\n"
	      "  by r??lay with QMQP; 9 Sep 2001 01:46:40 -0000\n");
	check("a.b%c+d/e=f:g-h@i", NULL, "1.2.3.4", "x", T2,
	      "Received: from a.b%c+d/e=f:g-h@i (1.2.3.4)\n"
	      "  by x with QMQP; 9 Sep 2001 01:46:40 -0000\n");
}

static void test_length(void **unused)
{
	char *host = malloc(5001), buf[QMQP_RECEIVED_MAX], want[2000];
	size_t n;

	assert_non_null(host);
	memset(host, 'h', 5000);
	host[5000] = 0;
	n = qmqp_received(buf, sizeof buf, host, host, host, host, T2);
	snprintf(want, sizeof want, "Received: from %.256s (%.256s@%.256s)\n  by %.256s with QMQP; "
		 "9 Sep 2001 01:46:40 -0000\n", host, host, host, host);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
	assert_int_equal(qmqp_received(buf, 50, "h", NULL, "1.2.3.4", "l", T2), 0);
	free(host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_safety),
		cmocka_unit_test(test_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
