/*
 * test_queue_received.c - queue/queue_received.c: qmail-queue's Received
 * line, byte for byte, and the passwd lookup that picks its wording.
 *
 *	wording     "from network" (qmaild), "by alias", "for bounce" (qmails),
 *	            "by uid N" for anyone else or when the users are unknown
 *	date        day of month not padded ("2 Nov 2026"), hh:mm:ss padded,
 *	            GMT whatever TZ says, "-0000"; the epoch, 2038, leap day
 *	buffer      the exact size fits, one byte less gives 0
 *	passwd      uids read from a given file; missing users are -1 and so
 *	            never match a real uid; decoy names do not match
 *	helo        qmail-smtpd's line read back: "(HELO x)" -> x; no HELO part
 *	            -> the remote host ("unknown" -> none); REMOTEINFO@ (with
 *	            '@' of its own) before the IP; the IP must be the client's
 *	            (mismatch, no TCPREMOTEIP, the IP only in the ident part ->
 *	            none); the line must be first (a forged one below another
 *	            line -> none); qmail's '?' or other bytes outside a host
 *	            name, a bad literal, 254 bytes -> none; 253 bytes and
 *	            address literals pass; QMQP, CRLF, a cut line -> none
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "queue.h"

static const struct queue_uids uids = { .alias = 7790, .qmaild = 7791, .qmails = 7794 };

static void expect_line(unsigned long pid, uid_t uid, const struct queue_uids *u, time_t now,
			const char *want)
{
	char buf[QUEUE_RECEIVED_MAX];
	size_t n = queue_received(buf, sizeof buf, pid, uid, u, now);

	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void test_wording(void **state)
{
	expect_line(5678, 7791, &uids, 1793587504,
		    "Received: (qmail 5678 invoked from network); 2 Nov 2026 02:45:04 -0000\n");
	expect_line(5678, 7790, &uids, 1793587504,
		    "Received: (qmail 5678 invoked by alias); 2 Nov 2026 02:45:04 -0000\n");
	expect_line(5678, 7794, &uids, 1793587504,
		    "Received: (qmail 5678 invoked for bounce); 2 Nov 2026 02:45:04 -0000\n");
	expect_line(5678, 1000, &uids, 1793587504,
		    "Received: (qmail 5678 invoked by uid 1000); 2 Nov 2026 02:45:04 -0000\n");
	expect_line(1, 0, &uids, 1793587504,
		    "Received: (qmail 1 invoked by uid 0); 2 Nov 2026 02:45:04 -0000\n");
	expect_line(4194304, 7791, NULL, 1793587504,
		    "Received: (qmail 4194304 invoked by uid 7791); 2 Nov 2026 02:45:04 -0000\n");
}

static void test_dates(void **state)
{
	expect_line(9, 7791, &uids, 0,
		    "Received: (qmail 9 invoked from network); 1 Jan 1970 00:00:00 -0000\n");
	expect_line(9, 7791, &uids, 1794488709,
		    "Received: (qmail 9 invoked from network); 12 Nov 2026 13:05:09 -0000\n");
	expect_line(9, 7791, &uids, 1798761599,
		    "Received: (qmail 9 invoked from network); 31 Dec 2026 23:59:59 -0000\n");
	expect_line(9, 7791, &uids, 1835428087,
		    "Received: (qmail 9 invoked from network); 29 Feb 2028 09:08:07 -0000\n");
	expect_line(9, 7791, &uids, 2147483647,
		    "Received: (qmail 9 invoked from network); 19 Jan 2038 03:14:07 -0000\n");
	expect_line(9, 7791, &uids, 2147483648,
		    "Received: (qmail 9 invoked from network); 19 Jan 2038 03:14:08 -0000\n");
}

static void test_gmt_whatever_tz(void **state)
{
	const char *zones[] = { "Asia/Tokyo", "America/Los_Angeles", "EST5EDT", "UTC-14" };
	unsigned i;

	for (i = 0; i < sizeof zones / sizeof zones[0]; i++) {
		setenv("TZ", zones[i], 1);
		tzset();
		expect_line(5678, 7791, &uids, 1793587504,
			    "Received: (qmail 5678 invoked from network); 2 Nov 2026 02:45:04 -0000\n");
	}
	unsetenv("TZ");
	tzset();
}

static void test_buffer_size(void **state)
{
	const char *want = "Received: (qmail 5678 invoked from network); 2 Nov 2026 02:45:04 -0000\n";
	size_t len = strlen(want);
	char buf[QUEUE_RECEIVED_MAX];

	assert_int_equal(queue_received(buf, len + 1, 5678, 7791, &uids, 1793587504), len);
	assert_string_equal(buf, want);
	assert_int_equal(queue_received(buf, len, 5678, 7791, &uids, 1793587504), 0);
	assert_int_equal(queue_received(buf, 0, 5678, 7791, &uids, 1793587504), 0);
	/* the longest line there can be fits QUEUE_RECEIVED_MAX */
	assert_true(queue_received(buf, sizeof buf, (unsigned long)-1, (uid_t)-2, NULL,
				   253402300799) > 0);	/* 31 Dec 9999 23:59:59 */
}

static char *passwd_file(const char *dir, const char *text)
{
	char *p;

	if (asprintf(&p, "%s/passwd", dir) < 0)
		fail();
	tu_write(p, text, strlen(text));
	return p;
}

static void test_uids_load(void **state)
{
	char *dir = tu_tmpdir("received");
	char *path = passwd_file(dir,
				 "root:x:0:0:root:/root:/bin/bash\n"
				 "#qmaild:x:1:1::/:/bin/false\n"
				 "qmaildx:x:2:2::/:/bin/false\n"
				 "xqmails:x:3:3::/:/bin/false\n"
				 "alias:x:7790:2108::/var/qmail/alias:/bin/false\n"
				 "qmaild:x:7791:2108::/var/qmail:/bin/false\n"
				 "qmaill:x:7792:2108::/var/qmail:/bin/false\n"
				 "qmailp:x:7793:2108::/var/qmail:/bin/false\n"
				 "qmailq:x:7795:2107::/var/qmail:/bin/false\n"
				 "qmailr:x:7796:2107::/var/qmail:/bin/false\n"
				 "qmails:x:7794:2107::/var/qmail:/bin/false\n"
				 "broken line without colons\n"
				 "alias\n");
	struct queue_uids u;

	queue_uids_load(&u, path);
	assert_int_equal(u.alias, 7790);
	assert_int_equal(u.qmaild, 7791);
	assert_int_equal(u.qmails, 7794);
	expect_line(77, 7791, &u, 1793587504,
		    "Received: (qmail 77 invoked from network); 2 Nov 2026 02:45:04 -0000\n");
	free(path);

	/* only some users: the missing ones are -1 */
	path = passwd_file(dir, "root:x:0:0:root:/root:/bin/bash\nqmails:x:64011:64010::/:/bin/false\n");
	queue_uids_load(&u, path);
	assert_int_equal(u.alias, (uid_t)-1);
	assert_int_equal(u.qmaild, (uid_t)-1);
	assert_int_equal(u.qmails, 64011);
	expect_line(77, 0, &u, 0, "Received: (qmail 77 invoked by uid 0); 1 Jan 1970 00:00:00 -0000\n");
	expect_line(77, 7791, &u, 0,
		    "Received: (qmail 77 invoked by uid 7791); 1 Jan 1970 00:00:00 -0000\n");
	expect_line(77, 64011, &u, 0,
		    "Received: (qmail 77 invoked for bounce); 1 Jan 1970 00:00:00 -0000\n");
	free(path);

	/* no file at all: nobody matches */
	if (asprintf(&path, "%s/nonexistent", dir) < 0)
		fail();
	u.alias = u.qmaild = u.qmails = 5;
	queue_uids_load(&u, path);
	assert_int_equal(u.alias, (uid_t)-1);
	assert_int_equal(u.qmaild, (uid_t)-1);
	assert_int_equal(u.qmails, (uid_t)-1);
	expect_line(77, 5, &u, 0, "Received: (qmail 77 invoked by uid 5); 1 Jan 1970 00:00:00 -0000\n");
	free(path);
	tu_rmtree(dir);
	free(dir);
}

static const char *helo(const char *line, const char *ip)
{
	static char out[QUEUE_HELO_MAX + 1];
	size_t n = queue_received_helo(line, strlen(line), ip, out, sizeof out);

	assert_int_equal(n, strlen(out));
	return n ? out : NULL;
}

#define TAIL "  by relay.example.net with SMTP; 2 Nov 2026 02:45:04 -0000\n"

static void test_helo(void **state)
{
	char line[1200], name[300];

	/* the three forms qmail-smtpd writes */
	assert_string_equal(helo("Received: from mx.example.org (HELO mail.example.org) (192.0.2.7)\n"
				 TAIL "From: a@b\n", "192.0.2.7"), "mail.example.org");
	assert_string_equal(helo("Received: from mx.example.org (192.0.2.7)\n" TAIL, "192.0.2.7"),
			    "mx.example.org");
	assert_null(helo("Received: from unknown (192.0.2.7)\n" TAIL, "192.0.2.7"));
	assert_string_equal(helo("Received: from unknown (HELO pc17) (192.0.2.7)\n" TAIL, "192.0.2.7"),
			    "pc17");
	/* REMOTEINFO (the client's ident answer), '@' and all: the IP is last */
	assert_string_equal(helo("Received: from h (HELO x.test) (joe@192.0.2.7)\n" TAIL, "192.0.2.7"),
			    "x.test");
	assert_string_equal(helo("Received: from h (HELO x.test) (a@192.0.2.9@192.0.2.7)\n" TAIL,
				 "192.0.2.7"), "x.test");
	assert_null(helo("Received: from h (HELO x.test) (a@192.0.2.9@192.0.2.7)\n" TAIL, "192.0.2.9"));
	/* the IP must be the client's */
	assert_null(helo("Received: from h (HELO x.test) (192.0.2.7)\n" TAIL, "192.0.2.70"));
	assert_null(helo("Received: from h (HELO x.test) (192.0.2.70)\n" TAIL, "192.0.2.7"));
	assert_null(helo("Received: from h (HELO x.test) (192.0.2.7)\n" TAIL, ""));
	assert_null(helo("Received: from h (HELO x.test) (192.0.2.7)\n" TAIL, NULL));
	assert_string_equal(helo("Received: from h (HELO x.test) (::ffff:192.0.2.7)\n" TAIL,
				 "::ffff:192.0.2.7"), "x.test");
	/* only the first line counts: a forged line below another gives none */
	assert_null(helo("X-Any: 1\nReceived: from h (HELO x.test) (192.0.2.7)\n" TAIL, "192.0.2.7"));
	assert_null(helo("Received: from h (HELO x.test) (192.0.2.7) \n" TAIL, "192.0.2.7"));
	/* names: qmail's '?' (a byte it would not write), other bytes */
	assert_null(helo("Received: from h (HELO evil?host) (192.0.2.7)\n" TAIL, "192.0.2.7"));
	assert_null(helo("Received: from h (HELO a%b) (192.0.2.7)\n" TAIL, "192.0.2.7"));
	assert_null(helo("Received: from h (HELO a=b) (192.0.2.7)\n" TAIL, "192.0.2.7"));
	assert_null(helo("Received: from h (HELO a/b:c) (192.0.2.7)\n" TAIL, "192.0.2.7"));
	assert_null(helo("Received: from h (HELO a b) (192.0.2.7)\n" TAIL, "192.0.2.7"));
	assert_null(helo("Received: from h (HELO ) (192.0.2.7)\n" TAIL, "192.0.2.7"));
	assert_null(helo("Received: from h (HELO a\rb) (192.0.2.7)\n" TAIL, "192.0.2.7"));
	assert_string_equal(helo("Received: from h (HELO a_b-c.Example9) (192.0.2.7)\n" TAIL,
				 "192.0.2.7"), "a_b-c.Example9");
	assert_string_equal(helo("Received: from h (HELO [192.0.2.7]) (192.0.2.7)\n" TAIL, "192.0.2.7"),
			    "[192.0.2.7]");
	assert_string_equal(helo("Received: from h (HELO [IPv6:2001:db8::1]) (192.0.2.7)\n" TAIL,
				 "192.0.2.7"), "[IPv6:2001:db8::1]");
	assert_null(helo("Received: from h (HELO [x.y]) (192.0.2.7)\n" TAIL, "192.0.2.7"));
	assert_null(helo("Received: from h (HELO []) (192.0.2.7)\n" TAIL, "192.0.2.7"));
	assert_null(helo("Received: from h (HELO [1.2.3.4) (192.0.2.7)\n" TAIL, "192.0.2.7"));
	/* length: 253 bytes pass, 254 do not */
	memset(name, 'a', sizeof name);
	snprintf(line, sizeof line, "Received: from h (HELO %.253s) (192.0.2.7)\n" TAIL, name);
	assert_int_equal(strlen(helo(line, "192.0.2.7")), 253);
	snprintf(line, sizeof line, "Received: from h (HELO %.254s) (192.0.2.7)\n" TAIL, name);
	assert_null(helo(line, "192.0.2.7"));
	snprintf(line, sizeof line, "Received: from %.254s (192.0.2.7)\n" TAIL, name);
	assert_null(helo(line, "192.0.2.7"));
	/* other lines: qmail-qmqpd's (QMQP), patched qmail-smtpds' ESMTPS,
	 * CRLF, a line cut short, IndiMail's own form */
	assert_null(helo("Received: from h (192.0.2.7)\n  by me with QMQP; 2 Nov 2026 02:45:04 -0000\n",
			 "192.0.2.7"));
	assert_string_equal(helo("Received: from h (HELO x.test) (192.0.2.7)\n"
				 "  by me with ESMTPS; 2 Nov 2026\n", "192.0.2.7"), "x.test");
	assert_null(helo("Received: from h (HELO x.test) (192.0.2.7)\r\n" TAIL, "192.0.2.7"));
	assert_null(helo("Received: from h (HELO x.test) (192.0.2.7)\n  by me wi", "192.0.2.7"));
	assert_null(helo("Received: from h (HELO x.test) (192.0", "192.0.2.7"));
	assert_null(helo("Received: indimail-mta qmail-smtpd 1 from h (HELO x.test) (192.0.2.7)\n" TAIL,
			 "192.0.2.7"));
	/* a buffer too small for the longest name gives none */
	{
		char small[16];

		assert_int_equal(queue_received_helo("Received: from h (HELO x) (1.2.3.4)\n" TAIL,
						     strlen("Received: from h (HELO x) (1.2.3.4)\n" TAIL),
						     "1.2.3.4", small, sizeof small), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wording),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_gmt_whatever_tz),
		cmocka_unit_test(test_buffer_size),
		cmocka_unit_test(test_uids_load),
		cmocka_unit_test(test_helo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
