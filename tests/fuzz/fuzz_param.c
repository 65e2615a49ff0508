/*
 * fuzz_param.c - libFuzzer target for the Content-* parameter decoding
 * (scan/scan_mime_param.c): RFC 2231 sections, RFC 2047 encoded words
 * (base64 padded or not, Q), UTF-16/32 and UTF-7 folding.
 *
 *	The first byte picks the parameter and whether encoded words are
 *	decoded; the rest is a field value.  Buffers are exactly as large as
 *	the header says they must be (ASan checks that nothing writes past
 *	them), every value reported must lie inside the input or the scratch
 *	buffer and be no longer than the input, and the decoders must shrink:
 *	scan_mime_2047() and scan_mime_utf7() never return more than they got.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan/scan_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	const char *in, *scratch;
	size_t len, values;
};

static int on_value(void *arg, const char *v, size_t n)
{
	struct ctx *c = arg;
	int inside = (v >= c->in && v + n <= c->in + c->len) ||
		     (v >= c->scratch && v + n <= c->scratch + 2 * c->len + 2);

	if (!inside || n > c->len)
		abort();
	if (n)
		(void)memchr(v, 0, n);	/* touch every byte: ASan checks they are ours */
	return ++c->values > 100000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const attrs[4] = { "filename", "name", "boundary", "x" };
	struct ctx c;
	char *in, *scratch, *out;
	size_t n;

	if (!size)
		return 0;
	in = malloc(size - 1 ? size - 1 : 1);
	scratch = malloc(2 * (size - 1) + 2);
	out = malloc(size - 1 ? size - 1 : 1);
	if (!in || !scratch || !out)
		abort();
	memcpy(in, data + 1, size - 1);
	c = (struct ctx){ in, scratch, size - 1, 0 };
	scan_mime_param(in, size - 1, attrs[data[0] & 3], data[0] & 4, scratch, on_value, &c);
	if ((n = scan_mime_2047(in, size - 1, out)) > size - 1)
		abort();
	if (scan_mime_utf7(out, n) > n)
		abort();
	free(in);
	free(scratch);
	free(out);
	return 0;
}
