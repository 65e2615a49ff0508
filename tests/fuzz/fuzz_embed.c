/*
 * fuzz_embed.c - libFuzzer target for the gzip, TNEF, tar and ISO 9660
 * name readers (scan/scan_embed.c).
 *
 *	The first byte picks the reader and a piece size; the rest is the
 *	stream.  The streaming readers (TNEF, tar) are fed twice, whole and in
 *	pieces of that size, and must report the same names in the same order
 *	both times; every name must be inside the input or the reader's own
 *	buffer, and no longer than the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan/scan_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	size_t len;
	unsigned names;
	uint64_t sum;		/* of the names' bytes and lengths, in order */
};

static int on_name(void *arg, const char *name, size_t len, enum mime_origin o)
{
	struct ctx *c = arg;
	size_t i;

	if (o != MIME_NAME_EMBED || !len || len > c->len)
		abort();
	for (i = 0; i < len; i++)
		c->sum = c->sum * 131 + (unsigned char)name[i];
	c->sum = c->sum * 131 + len;
	return ++c->names > 100000;
}

static void feed(int which, const uint8_t *p, size_t n, size_t piece, struct ctx *c)
{
	struct embed_tnef t;
	struct embed_tar a;
	size_t i;

	scan_embed_tnef_init(&t);
	scan_embed_tar_init(&a);
	for (i = 0; i < n; i += piece) {
		size_t k = n - i < piece ? n - i : piece;

		if (which ? scan_embed_tar(&a, p + i, k, on_name, c) : scan_embed_tnef(&t, p + i, k, on_name, c))
			break;
	}
	if (!which)
		(void)scan_embed_tnef_end(&t);
	scan_embed_tnef_free(&t);
	scan_embed_tar_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx whole = { 0 }, pieces = { 0 };
	size_t piece;
	int which;

	if (!size)
		return 0;
	which = data[0] & 3;
	piece = (size_t)(data[0] >> 2) + 1;
	data++;
	size--;
	whole.len = pieces.len = size;
	if (which == 3) {	/* an ISO image, whole (names may join NM pieces read again) */
		int r;

		whole.len = 1024;
		r = scan_embed_iso(data, size, on_name, &whole);
		if (r < 0 || r > 2)
			abort();
		return 0;
	}
	if (which == 2) {	/* gzip: the header only */
		int r = scan_embed_gzip(data, size, on_name, &whole);

		if (r < -1 || r > 1 || (r == 1) != (whole.names == 1))
			abort();
		return 0;
	}
	feed(which, data, size, size ? size : 1, &whole);
	feed(which, data, size, piece, &pieces);
	if (whole.names != pieces.names || whole.sum != pieces.sum)
		abort();	/* a reader that depends on how the bytes came */
	return 0;
}
