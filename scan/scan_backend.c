/*
 * scan_backend.c - the backend table, the null and test backends.
 *
 * SUMMARY
 *	scan_backend_find() maps a scanner name from the settings to its
 *	backend.  (The verdict helpers are in scan_verdict.c.)
 *
 *	scan_backend_null always says clean.  scan_backend_test lets a test
 *	choose the verdict per message with a line in its first 64 KiB:
 *
 *		X-Sluice-Test: virus <name>	infected
 *		X-Sluice-Test: banned <file>	banned
 *		X-Sluice-Test: spam <score> [<required>]	spam (required 5.0)
 *		X-Sluice-Test: limit <text>	a limit hit
 *		X-Sluice-Test: error <text>	error
 *		X-Sluice-Test: hang		sleeps until the deadline or cancel
 *
 *	Without such a line the message is clean.  "hang" without a deadline
 *	gives up after TEST_HANG_MAX_MS so a broken test cannot hang for ever.
 *	Anyone able to send mail picks the verdict: never configure "test" on
 *	a real relay.
 *
 * DIAGNOSTICS
 *	The test backend answers SCAN_ERROR when it cannot read the message,
 *	and "deadline passed" / "cancelled" when a hang ends.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "scan.h"

#define TEST_READ_MAX	(64 * 1024)
#define TEST_MARKER	"X-Sluice-Test:"
#define TEST_TICK_MS	10
#define TEST_HANG_MAX_MS	60000

static const struct scan_backend *const backends[] = {
	&scan_backend_null,
	&scan_backend_attach,
	&scan_backend_clamav,
	&scan_backend_exec,
	&scan_backend_clamd,
	&scan_backend_spamd,
	&scan_backend_rspamd,
	&scan_backend_test,
};

const struct scan_backend *scan_backend_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof backends / sizeof backends[0]; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

/* The null backend: no state, always clean. */

static int null_init(void **state, const struct scan_config *cfg, char *err, size_t errlen)
{
	*state = NULL;
	return 0;
}

static void null_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	scan_verdict_set(v, SCAN_CLEAN, "null", NULL);
}

static void null_fini(void *state)
{
}

const struct scan_backend scan_backend_null = {
	.name = "null",
	.init = null_init,
	.scan = null_scan,
	.fini = null_fini,
};

/* The test backend: the message names its own verdict. */

/* test_hang - sleep in ticks until the deadline or cancel */
static void test_hang(const struct scan_input *in, struct scan_verdict *v)
{
	int64_t start = scan_now_ms();
	struct timespec tick = { 0, TEST_TICK_MS * 1000000L };

	for (;;) {
		int64_t now = scan_now_ms();

		if (in->cancel && *in->cancel) {
			scan_verdict_set(v, SCAN_ERROR, "test", "cancelled");
			return;
		}
		if (in->deadline_ms ? now >= in->deadline_ms : now - start >= TEST_HANG_MAX_MS) {
			scan_verdict_set(v, SCAN_ERROR, "test", "deadline passed");
			return;
		}
		nanosleep(&tick, NULL);
	}
}

/* test_marker - the value of the first marker line, NUL-terminated in place */
static char *test_marker(char *buf, size_t len)
{
	size_t mlen = strlen(TEST_MARKER);
	char *line = buf, *end = buf + len;

	while (line < end) {
		char *nl = memchr(line, '\n', end - line);
		char *stop = nl ? nl : end;

		if ((size_t)(stop - line) >= mlen && strncasecmp(line, TEST_MARKER, mlen) == 0) {
			char *val = line + mlen;

			while (stop > val && isspace((unsigned char)stop[-1]))
				stop--;
			*stop = 0;
			while (*val == ' ' || *val == '\t')
				val++;
			return val;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return NULL;
}

/* test_word - split "verb rest": terminate verb, return rest (maybe "") */
static char *test_word(char *s)
{
	while (*s && !isspace((unsigned char)*s))
		s++;
	if (*s) {
		*s++ = 0;
		while (isspace((unsigned char)*s))
			s++;
	}
	return s;
}

static void test_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	char *buf = malloc(TEST_READ_MAX + 1);
	size_t got = 0;
	char *verb, *arg;

	if (buf == NULL) {
		scan_verdict_set(v, SCAN_ERROR, "test", "out of memory");
		return;
	}
	while (got < TEST_READ_MAX) {
		ssize_t r = pread(in->fd, buf + got, TEST_READ_MAX - got, got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			scan_verdict_set(v, SCAN_ERROR, "test", "read: %s", strerror(errno));
			free(buf);
			return;
		}
		if (r == 0)
			break;
		got += r;
	}
	buf[got] = 0;
	verb = test_marker(buf, got);
	if (verb == NULL) {
		scan_verdict_set(v, SCAN_CLEAN, "test", NULL);
		free(buf);
		return;
	}
	arg = test_word(verb);
	if (strcasecmp(verb, "virus") == 0)
		scan_verdict_set(v, SCAN_INFECTED, "test", "%s", *arg ? arg : "Sluice.Test.Virus");
	else if (strcasecmp(verb, "banned") == 0)
		scan_verdict_set(v, SCAN_BANNED, "test", "%s", *arg ? arg : "banned.exe");
	else if (strcasecmp(verb, "spam") == 0) {
		char *end;
		double score = strtod(arg, &end), required = strtod(end, &end);

		scan_verdict_set(v, SCAN_SPAM, "test", NULL);
		v->score = score;
		v->required = required > 0 ? required : 5.0;
	} else if (strcasecmp(verb, "limit") == 0)
		scan_verdict_set(v, SCAN_LIMIT, "test", "%s", *arg ? arg : "test limit");
	else if (strcasecmp(verb, "error") == 0)
		scan_verdict_set(v, SCAN_ERROR, "test", "%s", *arg ? arg : "test error");
	else if (strcasecmp(verb, "hang") == 0)
		test_hang(in, v);
	else
		scan_verdict_set(v, SCAN_CLEAN, "test", NULL);
	free(buf);
}

const struct scan_backend scan_backend_test = {
	.name = "test",
	.init = null_init,
	.scan = test_scan,
	.fini = null_fini,
};
