/*
 * test_scan_mime_body.c - base64 decoding, uuencode / yEnc begin lines and
 * the zip tail buffer (scan/scan_mime_body.c).
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "scan/scan_mime.h"

static size_t b64(const char *in, unsigned char *out)
{
	struct mime_b64 b = { 0, 0 };

	return scan_mime_b64(&b, in, strlen(in), out);
}

static void test_b64(void **unused)
{
	static const char text[] = "TWFuIGlzIGRp\nc3Rpbmd1aXNo\r\nZWQsIG5vdCBvbmx5\n";
	unsigned char out[64], one[64];
	struct mime_b64 b = { 0, 0 };
	size_t n, i, k = 0;

	n = b64(text, out);
	assert_int_equal(n, 30);
	assert_memory_equal(out, "Man is distinguished, not only", 30);
	/* byte by byte: the same */
	for (i = 0; i < strlen(text); i++)
		k += scan_mime_b64(&b, text + i, 1, one + k);
	assert_int_equal(k, n);
	assert_memory_equal(one, out, n);
	/* padding, then more (concatenated encodings) */
	assert_int_equal(b64("YQ==YmM=ZGVm", out), 6);
	assert_memory_equal(out, "abcdef", 6);
	/* junk is skipped, lone chars and padding give nothing */
	assert_int_equal(b64("Y*W#J j", out), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(b64("Y=", out), 0);
	assert_int_equal(b64("====", out), 0);
	assert_int_equal(b64("", out), 0);
	assert_int_equal(b64("+/+/", out), 3);
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
}

static void begin(const char *line, const char *want)
{
	const char *name = NULL;
	size_t n = 0;
	int r = scan_mime_begin(line, strlen(line), &name, &n);

	if (!want) {
		if (r)
			fail_msg("\"%s\" taken as a begin line (%.*s)", line, (int)n, name);
		return;
	}
	if (!r)
		fail_msg("\"%s\" not taken as a begin line", line);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(name, want, n);
}

static void test_begin(void **unused)
{
	begin("begin 644 payment.exe\n", "payment.exe");
	begin("begin 0755 my file.exe\r\n", "my file.exe");
	begin("begin 6  x.exe", "x.exe");
	begin("begin-base64 644 b.scr\n", "b.scr");
	begin("=ybegin line=128 size=10 name=update.exe\n", "update.exe");
	begin("=ybegin part=1 line=128 size=10 name=a name=b.exe\n", "a name=b.exe");
	begin("begin at nine, as usual\n", NULL);
	begin("beginning 644 x.exe\n", NULL);
	begin("begin 644\n", NULL);
	begin("begin 644 \n", NULL);
	begin("begin 64477 x.exe\n", "x.exe");	/* uudecode reads any octal mode */
	begin("begin 100644 x.exe\n", "x.exe");
	begin("begin  644 two.exe\n", "two.exe");
	begin("begin\t0644\ttab.exe\n", "tab.exe");
	begin("begin 1006440 x.exe\n", NULL);
	begin("begin 9 x.exe\n", NULL);
	begin("=ybegin line=128 size=10\n", NULL);
	begin("=ybegin name=\n", NULL);
	begin("begin", NULL);
	begin("", NULL);
}

/* the tail must always equal the last bytes of the stream */
static void test_tail(void **unused)
{
	struct mime_tail t = { .max = 1000 };
	unsigned char *all = malloc(100000), *chunk = malloc(5000);
	size_t total = 0, len, i, step;

	assert_non_null(all);
	assert_non_null(chunk);
	for (step = 1; total < 90000; step = step * 7 % 4999 + 1) {
		for (i = 0; i < step; i++)
			chunk[i] = (unsigned char)(total + i) ^ (unsigned char)((total + i) >> 8);
		if (total + step > 100000)
			break;
		assert_int_equal(scan_mime_tail_add(&t, chunk, step), 0);
		memcpy(all + total, chunk, step);
		total += step;
		assert_true(t.cap <= 1000);
		if (step % 3 == 0) {	/* flatten now and then, then go on adding */
			len = scan_mime_tail_flat(&t);
			assert_int_equal(len, total < 1000 ? total : 1000);
			assert_memory_equal(t.buf, all + total - len, len);
		}
	}
	assert_int_equal(t.total, total);
	len = scan_mime_tail_flat(&t);
	assert_int_equal(len, 1000);
	assert_memory_equal(t.buf, all + total - 1000, 1000);
	scan_mime_tail_free(&t);
	assert_null(t.buf);

	/* small streams stay linear, and grow */
	t.max = 1 << 20;
	assert_int_equal(scan_mime_tail_add(&t, all, 70000), 0);
	assert_int_equal(t.cap, 131072);
	assert_int_equal(scan_mime_tail_flat(&t), 70000);
	assert_memory_equal(t.buf, all, 70000);
	scan_mime_tail_free(&t);
	free(all);
	free(chunk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_begin),
		cmocka_unit_test(test_tail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
