/*
 * test_client_tag.c - router/client_tag.c: which of a tagged message's own
 * fields go, and the whole rewrite on a mess file.
 *
 *	names       X-Spam, X-Spam-*, X-Spamd-*, X-Rspamd-*, X-Sluice-*,
 *	            X-QHPSI, X-Virus-Scanned go, any case; look-alikes
 *	            (X-Spammer, X-Sluicer, X-QHPSI2, Spam-Status)
 *	            stay; an X- name that a line of the inserted set has goes
 *	            (X-Virus from rspamd's milter_headers), a non-X- one does
 *	            not (Authentication-Results), a continuation line of the set
 *	            names nothing
 *	rewrite     the tag lines after the Received line, the sender's forged
 *	            ones gone with their folds, CRLF lines, the body's
 *	            "X-Spam-Status:" lines kept, the file cut to its size
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "client.h"

static int forged(const char *set, const char *name)
{
	return client_tag_forged((void *)set, name, strlen(name));
}

static void test_names(void **unused)
{
	static const char *const gone[] = {
		"X-Spam", "x-spam", "X-Spam-Status", "X-SPAM-FLAG", "X-Spam-Level", "X-Spam-Report",
		"X-Spam-Checker-Version", "X-Spamd-Result", "x-spamd-bar", "X-Rspamd-Server",
		"X-Rspamd-Queue-Id", "X-Rspamd-Action", "X-Sluice-Verdict", "X-Sluice-Quarantine",
		"X-QHPSI", "x-qhpsi", "X-Virus-Scanned", "X-Spam-", "X-Sluice-",
	};
	static const char *const kept[] = {
		"X-Spammer", "X-Sluicer", "X-QHPSI2", "Spam-Status",
		"X-Virus", "Subject", "Received", "X-Rspamd", "X-", "X",
	};
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof gone / sizeof gone[0]; i++)
		if (!forged("", gone[i]))
			fail_msg("%s is kept", gone[i]);
	for (i = 0; i < sizeof kept / sizeof kept[0]; i++)
		if (forged("", kept[i]))
			fail_msg("%s goes", kept[i]);
	/* names of the inserted set's lines: X- ones only, first lines only */
	{
		static const char set[] = "X-QHPSI: clean\nX-Virus: EICAR\n\tX-Folded: x\n"
			"Authentication-Results: rspamd\nX-Last: 1";

		assert_true(forged(set, "X-Virus"));
		assert_true(forged(set, "x-virus"));
		assert_true(forged(set, "X-Last"));
		assert_false(forged(set, "X-Folded"));
		assert_false(forged(set, "Authentication-Results"));
		assert_false(forged(set, "X-Vir"));
		assert_false(forged(NULL, "X-Virus"));
	}
}

static void test_rewrite(void **unused)
{
	static const char in[] =
		"Received: (qmail 1 invoked from network); 1 Jan 2026 00:00:00 -0000\n"
		"Received: from h (HELO h) (1.2.3.4)\n  by me with SMTP; 1 Jan 2026 00:00:00 -0000\r\n"
		"X-Spam-Status: No, score=-20.0 required=5.0\r\n\ttests=ALL_TRUSTED\r\n"
		"X-Spam-Flag: NO\r\n"
		"Subject: offer\r\n"
		"X-Sluice-Verdict: clean\r\n"
		"X-Spamd-Result: default: False [0.00 / 15.00]\r\n"
		"X-Rspamd-Action: no action\r\n"
		"\r\n"
		"X-Spam-Status: No (a line of the body)\r\n";
	static const char set[] = "X-QHPSI: clean\nX-Sluice-Verdict: spam 1000\n"
		"X-Virus-Scanned: sluice\nX-Spam-Flag: YES\nX-Spam-Status: Yes, score=1000.0\n";
	static const char want[] =
		"Received: (qmail 1 invoked from network); 1 Jan 2026 00:00:00 -0000\n"
		"X-QHPSI: clean\nX-Sluice-Verdict: spam 1000\n"
		"X-Virus-Scanned: sluice\nX-Spam-Flag: YES\nX-Spam-Status: Yes, score=1000.0\n"
		"Received: from h (HELO h) (1.2.3.4)\n  by me with SMTP; 1 Jan 2026 00:00:00 -0000\r\n"
		"Subject: offer\r\n"
		"\r\n"
		"X-Spam-Status: No (a line of the body)\r\n";
	size_t rlen = strlen("Received: (qmail 1 invoked from network); 1 Jan 2026 00:00:00 -0000\n");
	struct queue_msg m = { .id = 7 };
	struct queue_err e;
	unsigned removed = 0;
	char got[sizeof want + 16];
	struct stat st;

	(void)unused;
	m.fd = tu_tmpmsg(in, sizeof in - 1);
	m.size = (off_t)(sizeof in - 1);
	assert_int_equal(client_tag(&m, (off_t)rlen, set, strlen(set), &removed, &e), QUEUE_OK);
	assert_int_equal(removed, 5);
	assert_int_equal(m.size, (off_t)(sizeof want - 1));
	assert_int_equal(fstat(m.fd, &st), 0);
	assert_int_equal(st.st_size, m.size);
	assert_int_equal(pread(m.fd, got, sizeof got, 0), (ssize_t)(sizeof want - 1));
	assert_memory_equal(got, want, sizeof want - 1);
	close(m.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_rewrite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
