/*
 * test_scan_zip.c - member names of zip archives (scan/scan_zip.c).
 *
 *	Archives are built here byte by byte (stored members, CRC left 0: the
 *	lister never checks it) so that each test can break exactly one thing.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "scan/scan_mime.h"

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put16(struct buf *b, unsigned v)
{
	unsigned char c[2] = { (unsigned char)v, (unsigned char)(v >> 8) };

	put(b, c, 2);
}

static void put32(struct buf *b, uint32_t v)
{
	put16(b, v & 0xffff);
	put16(b, v >> 16);
}

static void put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b, (uint32_t)(v >> 32));
}

struct member {
	const char *name;
	const char *data;
	const char *unicode;	/* Info-ZIP Unicode path, or NULL */
	const char *local_name;	/* name in the local header when it differs */
};

enum { Z_PLAIN, Z_ZIP64 };

/* mkzip - prefix, local headers and data, central directory, EOCD (+ comment) */
static struct buf mkzip(const struct member *m, size_t n, const char *prefix, const char *comment,
			int flavour)
{
	struct buf b = { 0 }, cd = { 0 };
	uint32_t off[16];
	size_t i, cdstart;

	if (prefix)
		put(&b, prefix, strlen(prefix));
	for (i = 0; i < n; i++) {
		const char *ln = m[i].local_name ? m[i].local_name : m[i].name;
		size_t xlen = m[i].unicode ? 9 + strlen(m[i].unicode) : 0;

		off[i] = (uint32_t)(b.len - (prefix ? strlen(prefix) : 0));
		put(&b, "PK\3\4", 4);
		put16(&b, 20);
		put16(&b, 0);
		put16(&b, 0);	/* stored */
		put32(&b, 0);	/* time, date */
		put32(&b, 0);	/* crc */
		put32(&b, (uint32_t)strlen(m[i].data));
		put32(&b, (uint32_t)strlen(m[i].data));
		put16(&b, (unsigned)strlen(ln));
		put16(&b, (unsigned)xlen);
		put(&b, ln, strlen(ln));
		if (xlen) {
			put16(&b, 0x7075);
			put16(&b, (unsigned)xlen - 4);
			put(&b, "\1\0\0\0\0", 5);
			put(&b, m[i].unicode, strlen(m[i].unicode));
		}
		put(&b, m[i].data, strlen(m[i].data));
	}
	cdstart = b.len - (prefix ? strlen(prefix) : 0);
	for (i = 0; i < n; i++) {
		size_t xlen = m[i].unicode ? 9 + strlen(m[i].unicode) : 0;

		put(&cd, "PK\1\2", 4);
		put16(&cd, 20);
		put16(&cd, 20);
		put16(&cd, 0);
		put16(&cd, 0);
		put32(&cd, 0);
		put32(&cd, 0);
		put32(&cd, (uint32_t)strlen(m[i].data));
		put32(&cd, (uint32_t)strlen(m[i].data));
		put16(&cd, (unsigned)strlen(m[i].name));
		put16(&cd, (unsigned)xlen);
		put16(&cd, 0);	/* comment */
		put16(&cd, 0);
		put16(&cd, 0);
		put32(&cd, 0);
		put32(&cd, off[i]);
		put(&cd, m[i].name, strlen(m[i].name));
		if (xlen) {
			put16(&cd, 0x7075);
			put16(&cd, (unsigned)xlen - 4);
			put(&cd, "\1\0\0\0\0", 5);
			put(&cd, m[i].unicode, strlen(m[i].unicode));
		}
	}
	put(&b, cd.p, cd.len);
	if (flavour == Z_ZIP64) {
		size_t rec = b.len - (prefix ? strlen(prefix) : 0);

		put(&b, "PK\6\6", 4);
		put64(&b, 44);
		put16(&b, 45);
		put16(&b, 45);
		put32(&b, 0);
		put32(&b, 0);
		put64(&b, n);
		put64(&b, n);
		put64(&b, cd.len);
		put64(&b, cdstart);
		put(&b, "PK\6\7", 4);
		put32(&b, 0);
		put64(&b, rec);
		put32(&b, 1);
	}
	put(&b, "PK\5\6", 4);
	put16(&b, 0);
	put16(&b, 0);
	put16(&b, flavour == Z_ZIP64 ? 0xffff : (unsigned)n);
	put16(&b, flavour == Z_ZIP64 ? 0xffff : (unsigned)n);
	put32(&b, flavour == Z_ZIP64 ? 0xffffffff : (uint32_t)cd.len);
	put32(&b, flavour == Z_ZIP64 ? 0xffffffff : (uint32_t)cdstart);
	put16(&b, comment ? (unsigned)strlen(comment) : 0);
	if (comment)
		put(&b, comment, strlen(comment));
	free(cd.p);
	return b;
}

struct names {
	char all[2048];		/* "name|name|" */
	unsigned n, stop_at;
};

static int collect(void *ctx, const char *name, size_t len, enum mime_origin o)
{
	struct names *c = ctx;

	assert_int_equal(o, MIME_NAME_ZIP);
	if (strlen(c->all) + len + 2 < sizeof c->all) {
		strncat(c->all, name, len);
		strcat(c->all, "|");
	}
	return ++c->n == c->stop_at;
}

static enum zip_status list(const struct buf *b, size_t skip, struct names *c)
{
	return scan_zip_names(b->p + skip, b->len - skip, b->len, collect, c);
}

static const struct member two[] = {
	{ "readme.txt", "read me\n", NULL, NULL },
	{ "bin/evil.exe", "MZ", NULL, NULL },
};

static void test_plain(void **unused)
{
	struct buf b = mkzip(two, 2, NULL, NULL, Z_PLAIN);
	struct names c = { "", 0, 0 };

	/* the central directory first, then the local headers */
	assert_int_equal(list(&b, 0, &c), ZIP_OK);
	assert_string_equal(c.all, "readme.txt|bin/evil.exe|readme.txt|bin/evil.exe|");
	free(b.p);
}

static void test_prefix_and_comment(void **unused)
{
	struct buf b = mkzip(two, 2, "#!/bin/sh\nexec unzip \"$0\"\nMZ stub of a self-extractor\n",
			     "archive comment with PK\5\6 inside", Z_PLAIN);
	struct names c = { "", 0, 0 };

	assert_int_equal(list(&b, 0, &c), ZIP_OK);
	assert_string_equal(c.all, "readme.txt|bin/evil.exe|readme.txt|bin/evil.exe|");
	free(b.p);
}

static void test_unicode_and_local_names(void **unused)
{
	static const struct member m[] = {
		{ "safe.txt", "x", "safe.vbs", NULL },
		{ "harmless.txt", "y", NULL, "harmless.scr" },
	};
	struct buf b = mkzip(m, 2, NULL, NULL, Z_PLAIN);
	struct names c = { "", 0, 0 };

	assert_int_equal(list(&b, 0, &c), ZIP_OK);
	assert_string_equal(c.all, "safe.txt|safe.vbs|harmless.txt|safe.txt|safe.vbs|harmless.scr|");
	free(b.p);
}

static void test_zip64(void **unused)
{
	struct buf b = mkzip(two, 2, "prefix", NULL, Z_ZIP64);
	struct names c = { "", 0, 0 };

	assert_int_equal(list(&b, 0, &c), ZIP_OK);
	assert_string_equal(c.all, "readme.txt|bin/evil.exe|readme.txt|bin/evil.exe|");
	/* zip64 markers without the zip64 records: corrupt, locals still listed */
	memcpy(b.p + b.len - 22 - 20, "XXXX", 4);
	memset(&c, 0, sizeof c);
	assert_int_equal(list(&b, 0, &c), ZIP_CORRUPT);
	assert_string_equal(c.all, "readme.txt|bin/evil.exe|");
	free(b.p);
}

static void test_tail_only(void **unused)
{
	struct buf b = mkzip(two, 2, NULL, NULL, Z_PLAIN);
	size_t cdlen = 2 * 46 + strlen("readme.txt") + strlen("bin/evil.exe");
	struct names c = { "", 0, 0 };

	/* exactly the central directory and the EOCD kept: enough */
	assert_int_equal(list(&b, b.len - cdlen - 22, &c), ZIP_OK);
	assert_string_equal(c.all, "readme.txt|bin/evil.exe|");
	/* one byte less: the directory starts before what is kept */
	memset(&c, 0, sizeof c);
	assert_int_equal(list(&b, b.len - cdlen - 22 + 1, &c), ZIP_CDIR_OUTSIDE);
	assert_string_equal(c.all, "");
	free(b.p);
}

static void test_corrupt(void **unused)
{
	struct buf b = mkzip(two, 2, NULL, NULL, Z_PLAIN);
	size_t eocd = b.len - 22;
	struct names c = { "", 0, 0 };
	unsigned char save;

	/* second central entry's name length runs past the directory */
	save = b.p[eocd - 12 - 46 + 28];
	b.p[eocd - 12 - 46 + 28] = 0xff;
	assert_int_equal(list(&b, 0, &c), ZIP_CORRUPT);
	assert_string_equal(c.all, "readme.txt|readme.txt|bin/evil.exe|");
	b.p[eocd - 12 - 46 + 28] = save;

	/* directory size larger than the archive: no usable EOCD */
	memset(&c, 0, sizeof c);
	b.p[eocd + 15] = 0x7f;
	assert_int_equal(list(&b, 0, &c), ZIP_CORRUPT);
	assert_string_equal(c.all, "readme.txt|bin/evil.exe|");

	/* no EOCD at all: the local headers are all there is */
	memset(&c, 0, sizeof c);
	assert_int_equal(scan_zip_names(b.p, eocd, eocd, collect, &c), ZIP_NO_CDIR);
	assert_string_equal(c.all, "readme.txt|bin/evil.exe|");

	/* a local header whose name runs past the end is skipped */
	memset(&c, 0, sizeof c);
	assert_int_equal(scan_zip_names(b.p, 40, 40, collect, &c), ZIP_NO_CDIR);
	assert_string_equal(c.all, "readme.txt|");
	memset(&c, 0, sizeof c);
	assert_int_equal(scan_zip_names(b.p, 39, 39, collect, &c), ZIP_NO_CDIR);
	assert_string_equal(c.all, "");
	free(b.p);
}

static void test_empty_and_garbage(void **unused)
{
	static const unsigned char empty[22] = "PK\5\6";
	unsigned char junk[4096];
	struct names c = { "", 0, 0 };
	size_t i;

	assert_int_equal(scan_zip_names(empty, sizeof empty, sizeof empty, collect, &c), ZIP_OK);
	assert_int_equal(scan_zip_names(empty, 0, 0, collect, &c), ZIP_NO_CDIR);
	assert_int_equal(scan_zip_names(NULL, 0, 0, collect, &c), ZIP_NO_CDIR);
	for (i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)(i * 7 + 3);
	assert_int_equal(scan_zip_names(junk, sizeof junk, sizeof junk, collect, &c), ZIP_NO_CDIR);
	/* signatures everywhere, lengths nonsense */
	for (i = 0; i + 4 <= sizeof junk; i += 4)
		memcpy(junk + i, i % 8 ? "PK\5\6" : "PK\3\4", 4);
	assert_int_equal(scan_zip_names(junk, sizeof junk, sizeof junk, collect, &c), ZIP_CORRUPT);
	assert_true(c.n <= sizeof junk / 30);	/* names never overlap */
}

static void test_stop(void **unused)
{
	struct buf b = mkzip(two, 2, NULL, NULL, Z_PLAIN);
	struct names c = { "", 0, 2 };

	assert_int_equal(list(&b, 0, &c), ZIP_STOPPED);
	assert_string_equal(c.all, "readme.txt|bin/evil.exe|");
	memset(&c, 0, sizeof c);
	c.stop_at = 3;
	assert_int_equal(list(&b, 0, &c), ZIP_STOPPED);
	assert_int_equal(c.n, 3);
	free(b.p);
	assert_string_equal(scan_zip_strerror(ZIP_CORRUPT), "corrupt central directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_prefix_and_comment),
		cmocka_unit_test(test_unicode_and_local_names),
		cmocka_unit_test(test_zip64),
		cmocka_unit_test(test_tail_only),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_empty_and_garbage),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
