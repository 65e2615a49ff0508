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

/* ref_b64 - the decoder one character at a time, as the walker's was first */
static size_t ref_b64(struct mime_b64 *b, const unsigned char *in, size_t len, unsigned char *out)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		const char *p = in[i] ? strchr(al, in[i]) : NULL;

		if (in[i] == '=') {
			if (b->n == 2)
				out[o++] = (unsigned char)(b->acc >> 4);
			else if (b->n == 3) {
				out[o++] = (unsigned char)(b->acc >> 10);
				out[o++] = (unsigned char)(b->acc >> 2);
			}
			b->n = 0;
			b->acc = 0;
			continue;
		}
		if (!p)
			continue;
		b->acc = (b->acc << 6 | (uint32_t)(p - al)) & 0xffffff;
		if (++b->n == 4) {
			out[o++] = (unsigned char)(b->acc >> 16);
			out[o++] = (unsigned char)(b->acc >> 8);
			out[o++] = (unsigned char)b->acc;
			b->n = 0;
			b->acc = 0;
		}
	}
	return o;
}

/*
 * The decoder's whole-quantum fast path gives what the one-character path
 * gives: random base64 with junk, padding in odd places, any byte value,
 * fed in random pieces.
 */
static void test_b64_same_as_reference(void **unused)
{
	static const char pick[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n\r !*-\x80\xff";
	unsigned seed = 12345;
	int round;

	for (round = 0; round < 2000; round++) {
		unsigned char in[300], a[400], b[400];
		struct mime_b64 da = { 0 }, db = { 0 };
		size_t len, i, na = 0, nb, at = 0;

		seed = seed * 1103515245u + 12345u;
		len = seed % sizeof in;
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = round % 3 ? (unsigned char)pick[(seed >> 8) % (sizeof pick - 1)] : (unsigned char)(seed >> 16);
		}
		while (at < len) {	/* pieces of 1 to 17 bytes */
			size_t piece;

			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 4) % 17;
			piece = piece < len - at ? piece : len - at;
			na += scan_mime_b64(&da, (const char *)in + at, piece, a + na);
			at += piece;
		}
		na += scan_mime_b64_end(&da, a + na);
		nb = ref_b64(&db, in, len, b);
		nb += scan_mime_b64_end(&db, b + nb);
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, na);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_same_as_reference),
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_begin),
		cmocka_unit_test(test_tail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
