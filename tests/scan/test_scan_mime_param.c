/*
 * test_scan_mime_param.c - Content-Type / Content-Disposition values:
 * types, parameters, RFC 2231 and RFC 2047 (scan/scan_mime_param.c).
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "scan/scan_mime.h"

struct vals {
	char all[1024];		/* "value|value|", non-printables as '?' */
	unsigned n, stop_at;
};

static int collect(void *ctx, const char *v, size_t len)
{
	struct vals *c = ctx;
	size_t at = strlen(c->all), i;

	for (i = 0; i < len && at + 2 < sizeof c->all; i++)
		c->all[at++] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	c->all[at++] = '|';
	c->all[at] = 0;
	return ++c->n == c->stop_at;
}

/* values - every value of attr in field, as "a|b|" (static buffer) */
static const char *values(const char *field, const char *attr, int decode)
{
	static struct vals c;
	size_t len = strlen(field);
	char *scratch = malloc(2 * len + 2);

	assert_non_null(scratch);
	memset(&c, 0, sizeof c);
	scan_mime_param(field, len, attr, decode, scratch, collect, &c);
	free(scratch);
	return c.all;
}

static void test_ctype(void **unused)
{
	char t[16], s[16];

	scan_mime_ctype(" Multipart/Mixed ; boundary=x", 29, t, sizeof t, s, sizeof s);
	assert_string_equal(t, "multipart");
	assert_string_equal(s, "mixed");
	scan_mime_ctype("(a comment) text / plain", 24, t, sizeof t, s, sizeof s);
	assert_string_equal(t, "text");
	assert_string_equal(s, "plain");
	scan_mime_ctype("text", 4, t, sizeof t, s, sizeof s);
	assert_string_equal(t, "");
	assert_string_equal(s, "");
	scan_mime_ctype("", 0, t, sizeof t, s, sizeof s);
	assert_string_equal(t, "");
	scan_mime_ctype("application/vnd.a-very-long-subtype-name", 40, t, sizeof t, s, sizeof s);
	assert_string_equal(t, "application");
	assert_string_equal(s, "vnd.a-very-long");	/* truncated, never overrun */
	scan_mime_token("  BASE64 (comment)", 18, t, sizeof t);
	assert_string_equal(t, "base64");
	scan_mime_token("\"quoted\"", 8, t, sizeof t);
	assert_string_equal(t, "");
}

static void test_plain_values(void **unused)
{
	assert_string_equal(values("attachment; filename=\"a b.exe\"", "filename", 1), "a b.exe|");
	assert_string_equal(values("attachment; filename=a.exe", "filename", 1), "a.exe|");
	assert_string_equal(values("attachment; FileName = \"a.exe\" ; size=3", "filename", 1), "a.exe|");
	/* escapes: the unescaped reading and the raw one */
	assert_string_equal(values("attachment; filename=\"C:\\\\x\\\\a.ex\\e\"", "filename", 1),
			    "C:\\x\\a.exe|C:\\\\x\\\\a.ex\\e|");
	assert_string_equal(values("attachment; filename=\"say \\\"hi\\\".txt\"", "filename", 1),
			    "say \"hi\".txt|say \\\"hi\\\".txt|");
	/* unquoted with spaces: the token and the reading up to ';' */
	assert_string_equal(values("attachment; filename=my invoice.exe; x=1", "filename", 1),
			    "my|my invoice.exe|");
	/* but not across another parameter */
	assert_string_equal(values("attachment; filename=b.exe name=a.txt", "filename", 1), "b.exe|");
	assert_string_equal(values("attachment; filename=b.exe name=a.txt", "name", 1), "a.txt|");
	/* "name" is not "filename", a value is not a name */
	assert_string_equal(values("attachment; filename=a.exe", "name", 1), "");
	assert_string_equal(values("a; x=\"name=b.exe\"; y=(name=c.exe)", "name", 1), "");
	assert_string_equal(values("a; (name=c.exe) name=d.exe", "name", 1), "d.exe|");
	/* a missing ';' and several values */
	assert_string_equal(values("attachment filename=\"a.txt\"filename=\"b.exe\"", "filename", 1),
			    "a.txt|b.exe|");
	/* unterminated quote and empty values */
	assert_string_equal(values("attachment; filename=\"a.exe", "filename", 1), "a.exe|");
	assert_string_equal(values("attachment; filename=", "filename", 1), "|");
	assert_string_equal(values("attachment; filename=\"\"", "filename", 1), "|");
	assert_string_equal(values("", "filename", 1), "");
	assert_string_equal(values(";;;=;=\"", "filename", 1), "");
}

static void test_rfc2231(void **unused)
{
	assert_string_equal(values("attachment; filename*=utf-8''inv%6Fice.exe", "filename", 1),
			    "invoice.exe|");
	assert_string_equal(values("attachment; filename*=''a%2", "filename", 1), "a%2|");
	/* sections in any order, extended and not, with charset and language */
	assert_string_equal(values("attachment; filename*1*=%2Eexe; filename*0*=utf-8'de'Rechnung%20M%C3%A4rz",
				   "filename", 1), "Rechnung M??rz.exe|");
	assert_string_equal(values("a; filename*2=\"c.exe\"; filename*0=\"a\"; filename*1=b", "filename", 1),
			    "abc.exe|");
	/* a repeated section counts once; a gap is skipped */
	assert_string_equal(values("a; name*0=x; name*0=y; name*3=.exe", "name", 1), "x.exe|");
	/* a plain value and RFC 2231 sections: both */
	assert_string_equal(values("a; filename=\"old.txt\"; filename*=utf-8''new.exe", "filename", 1),
			    "old.txt|new.exe|");
	/* UTF-16 names fold to ASCII */
	assert_string_equal(values("a; filename*=utf-16le''a%00.%00e%00x%00e%00", "filename", 1), "a.exe|");
	/* not sections */
	assert_string_equal(values("a; filename*x=1; filename*=; filename**=2", "filename", 1), "|");
	assert_string_equal(values("a; filename*99999999999=1", "filename", 1), "");
}

#define D(s) scan_mime_2047(s, strlen(s), out)

static void test_rfc2047(void **unused)
{
	static const char notword[] = "=?utf-8?x?a?= =?utf-8?q =??q?x?= =?a b?q?c?= =?x?q?unended";
	char out[256];
	size_t n;

	assert_string_equal(values("a; filename=\"=?UTF-8?B?w5xiZXJ3ZWlzdW5nLmV4ZQ==?=\"", "filename", 1),
			    "??berweisung.exe|");
	/* adjacent words join, the space between them goes */
	assert_string_equal(values("a; filename=\"=?iso-8859-1?Q?Rechnung=5F2024?= =?iso-8859-1?Q?=2Escr?=\"",
				   "filename", 1), "Rechnung_2024.scr|");
	/* no decoding asked (boundaries) */
	assert_string_equal(values("a; boundary=\"=?x?q?y?=\"", "boundary", 0), "=?x?q?y?=|");
	n = D("a =?us-ascii?q?b_c?= d");
	assert_int_equal(n, 7);
	assert_memory_equal(out, "a b c d", 7);
	n = D("=?utf-8?q?a?=  \t =?utf-8?b?Lg==?=\t=?utf-8*en?Q?exe?=");
	assert_int_equal(n, 5);
	assert_memory_equal(out, "a.exe", 5);
	/* not words: left alone */
	n = D(notword);
	assert_int_equal(n, strlen(notword));
	assert_memory_equal(out, notword, n);
	/* spaces inside a word's text are tolerated, as sloppy mailers send them */
	n = D("=?utf-8?q?my file.exe?=");
	assert_int_equal(n, 11);
	assert_memory_equal(out, "my file.exe", 11);
	n = D("=?utf-16be?b?AGEALgBlAHgAZQ==?=");
	assert_int_equal(n, 5);
	assert_memory_equal(out, "a.exe", 5);
	n = D("=?utf-16?b?//5hAC4AZQB4AGUA?=");
	assert_int_equal(n, 5);
	assert_memory_equal(out, "a.exe", 5);
	n = D("=?x?q?=4=?=");
	assert_int_equal(n, 3);
	assert_memory_equal(out, "=4=", 3);
	n = D("=");
	assert_int_equal(n, 1);
}

static void test_stop(void **unused)
{
	const char *f = "a; name=1; name=2; name*=x''3";
	char scratch[128];
	struct vals c = { "", 0, 2 };

	assert_int_equal(scan_mime_param(f, strlen(f), "name", 1, scratch, collect, &c), 1);
	assert_string_equal(c.all, "1|2|");
	memset(&c, 0, sizeof c);
	c.stop_at = 3;
	assert_int_equal(scan_mime_param(f, strlen(f), "name", 1, scratch, collect, &c), 1);
	assert_string_equal(c.all, "1|2|3|");
	memset(&c, 0, sizeof c);
	assert_int_equal(scan_mime_param(f, strlen(f), "name", 1, scratch, collect, &c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctype),
		cmocka_unit_test(test_plain_values),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
