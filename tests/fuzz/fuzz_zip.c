/*
 * fuzz_zip.c - libFuzzer target for the zip lister (scan/scan_zip.c).
 *
 *	The input is the tail of an archive; its first byte says how much of
 *	the archive came before it, so that offsets pointing outside the bytes
 *	held are exercised.  Names must lie inside the input and add up to no
 *	more bytes than it holds, twice (central directory and local headers).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan/scan_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	const uint8_t *buf;
	size_t size, bytes;
};

static int on_name(void *arg, const char *name, size_t len, enum mime_origin o)
{
	struct ctx *c = arg;

	if (o != MIME_NAME_ZIP || !len || (const uint8_t *)name < c->buf ||
	    (const uint8_t *)name + len > c->buf + c->size)
		abort();
	c->bytes += len;
	if (c->bytes > 2 * c->size)
		abort();	/* names overlap: work would not stay linear */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c;
	uint64_t before;

	if (!size)
		return 0;
	before = (uint64_t)data[0] * 977;
	data++;
	size--;
	c = (struct ctx){ data, size, 0 };
	switch (scan_zip_names(data, size, size + before, on_name, &c)) {
	case ZIP_OK:
	case ZIP_NO_CDIR:
	case ZIP_CDIR_OUTSIDE:
	case ZIP_CORRUPT:
		break;
	default:
		abort();
	}
	return 0;
}
