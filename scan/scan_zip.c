/*
 * scan_zip.c - the member names of a zip archive held in memory.
 *
 *	scan_zip_names() gets the last bytes of an archive (all of it when it
 *	is small) and reports, through the walker's name callback:
 *	- every entry of the central directory, found from the end of
 *	  central directory record (zip64 records followed when the 32-bit
 *	  fields say so), with the Info-ZIP Unicode path (extra field 0x7075)
 *	  when an entry carries one, since extractors prefer it;
 *	- every local file header in the bytes held, because some extractors
 *	  read those and a crafted archive can name a member differently there
 *	  or leave it out of the central directory.
 *	Sizes and offsets in the archive are never trusted: each record is
 *	checked to lie inside the bytes held before it is read, and the
 *	central directory is located from its own size, not its stated offset
 *	(self-extracting archives carry a prefix).
 *
 * DIAGNOSTICS
 *	A status says whether the central directory was read whole; the
 *	local headers are listed in every case.  The names reported add up to
 *	no more bytes than the archive, so the work stays linear.
 */
#include <string.h>

#include "scan_mime.h"

#define EOCD_LEN	22
#define EOCD64_LEN	56
#define LOC64_LEN	20
#define CDIR_LEN	46
#define LOCAL_LEN	30
#define COMMENT_MAX	65535

static unsigned le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

const char *scan_zip_strerror(enum zip_status st)
{
	switch (st) {
	case ZIP_OK:
		return "ok";
	case ZIP_STOPPED:
		return "stopped";
	case ZIP_NO_CDIR:
		return "no central directory";
	case ZIP_CDIR_OUTSIDE:
		return "central directory too far from the end";
	case ZIP_CORRUPT:
		return "corrupt central directory";
	}
	return "?";
}

/* unicode_path - report the name in an Info-ZIP Unicode path extra field */
static int unicode_path(const unsigned char *x, size_t xlen, mime_name_fn fn, void *ctx)
{
	size_t i = 0;

	while (i + 4 <= xlen) {
		unsigned id = le16(x + i), sz = le16(x + i + 2);

		if (sz > xlen - i - 4)
			break;
		/* version (1), CRC-32 of the plain name (4), then the UTF-8 name */
		if (id == 0x7075 && sz > 5 && fn(ctx, (const char *)x + i + 4 + 5, sz - 5, MIME_NAME_ZIP))
			return 1;
		i += 4 + (size_t)sz;
	}
	return 0;
}

/*
 * find_cdir - locate the central directory: its start and end in buf.
 * Returns ZIP_OK, ZIP_NO_CDIR, ZIP_CDIR_OUTSIDE or ZIP_CORRUPT.
 */
static enum zip_status find_cdir(const unsigned char *buf, size_t len, uint64_t total,
				 size_t *start, size_t *end)
{
	uint64_t base = total - len;
	size_t i, low;
	int seen = 0;

	if (len < EOCD_LEN)
		return ZIP_NO_CDIR;
	low = len > EOCD_LEN + COMMENT_MAX ? len - EOCD_LEN - COMMENT_MAX : 0;
	for (i = len - EOCD_LEN + 1; i-- > low;) {
		const unsigned char *e = buf + i;
		uint64_t size, eocd = i;

		if (memcmp(e, "PK\5\6", 4))
			continue;
		seen = 1;
		if (i + EOCD_LEN + le16(e + 20) > len)
			continue;	/* its comment would run past the end */
		size = le32(e + 12);
		if (size == 0xffffffff || le32(e + 16) == 0xffffffff || le16(e + 10) == 0xffff) {
			/* zip64: the locator sits just before, the record just before that */
			size_t loc = i >= LOC64_LEN ? i - LOC64_LEN : 0;

			if (i < LOC64_LEN + EOCD64_LEN || memcmp(buf + loc, "PK\6\7", 4) ||
			    memcmp(buf + loc - EOCD64_LEN, "PK\6\6", 4))
				return ZIP_CORRUPT;
			eocd = loc - EOCD64_LEN;
			size = le64(buf + eocd + 40);
		}
		if (size > base + eocd)
			continue;	/* larger than everything before it */
		if (size > eocd)
			return ZIP_CDIR_OUTSIDE;
		*start = (size_t)(eocd - size);
		*end = (size_t)eocd;
		return ZIP_OK;
	}
	return seen ? ZIP_CORRUPT : ZIP_NO_CDIR;
}

/* cdir_names - walk the central directory entries in buf[start, end) */
static enum zip_status cdir_names(const unsigned char *buf, size_t start, size_t end,
				  mime_name_fn fn, void *ctx)
{
	size_t i = start;

	while (i < end) {
		const unsigned char *c = buf + i;
		size_t nlen, xlen, clen;

		if (end - i < CDIR_LEN || memcmp(c, "PK\1\2", 4))
			return ZIP_CORRUPT;
		nlen = le16(c + 28);
		xlen = le16(c + 30);
		clen = le16(c + 32);
		if (end - i - CDIR_LEN < nlen + xlen + clen)
			return ZIP_CORRUPT;
		if (nlen && fn(ctx, (const char *)c + CDIR_LEN, nlen, MIME_NAME_ZIP))
			return ZIP_STOPPED;
		if (unicode_path(c + CDIR_LEN + nlen, xlen, fn, ctx))
			return ZIP_STOPPED;
		i += CDIR_LEN + nlen + xlen + clen;
	}
	return ZIP_OK;
}

/* local_names - every local file header in buf, skipping past each name */
static int local_names(const unsigned char *buf, size_t len, mime_name_fn fn, void *ctx)
{
	size_t i = 0;

	while (i + LOCAL_LEN <= len) {
		const unsigned char *p = memmem(buf + i, len - i, "PK\3\4", 4);
		size_t at, nlen, xlen;

		if (!p)
			break;
		at = (size_t)(p - buf);
		if (len - at < LOCAL_LEN)
			break;
		nlen = le16(p + 26);
		xlen = le16(p + 28);
		if (!nlen || len - at - LOCAL_LEN < nlen) {
			i = at + 4;
			continue;
		}
		if (fn(ctx, (const char *)p + LOCAL_LEN, nlen, MIME_NAME_ZIP))
			return 1;
		i = at + LOCAL_LEN + nlen;
		if (len - i >= xlen) {
			if (unicode_path(p + LOCAL_LEN + nlen, xlen, fn, ctx))
				return 1;
			i += xlen;
		}
	}
	return 0;
}

enum zip_status scan_zip_names(const unsigned char *buf, size_t len, uint64_t total,
			       mime_name_fn fn, void *ctx)
{
	size_t start = 0, end = 0;
	enum zip_status st;

	if (total < len)
		total = len;
	st = find_cdir(buf, len, total, &start, &end);
	if (st == ZIP_OK && (st = cdir_names(buf, start, end, fn, ctx)) == ZIP_STOPPED)
		return st;
	if (local_names(buf, len, fn, ctx))
		return ZIP_STOPPED;
	return st;
}
