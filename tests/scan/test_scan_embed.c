/*
 * test_scan_embed.c - the gzip, TNEF, tar and ISO 9660 name readers, and
 * the UDF test
 * (scan/scan_embed.c): names found, fed whole and a byte at a time, cut
 * streams, garbage, and a naming attribute longer than what is kept.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/scan_mime.h"

static char got[4096];

static int on_name(void *ctx, const char *name, size_t len, enum mime_origin o)
{
	size_t n = strlen(got);

	assert_int_equal(o, MIME_NAME_EMBED);
	snprintf(got + n, sizeof got - n, "%.*s|", (int)len, name);
	return ctx != NULL;	/* a non-NULL ctx asks to stop at the first name */
}

static void le16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *p, uint32_t v)
{
	le16(p, v & 0xffff);
	le16(p + 2, v >> 16);
}

/* attr - one TNEF attribute at p; returns its length */
static size_t attr(unsigned char *p, int level, uint32_t id, const void *data, size_t len)
{
	unsigned sum = 0;
	size_t i;

	p[0] = (unsigned char)level;
	le32(p + 1, id);
	le32(p + 5, (uint32_t)len);
	memcpy(p + 9, data, len);
	for (i = 0; i < len; i++)
		sum += ((const unsigned char *)data)[i];
	le16(p + 9 + len, sum & 0xffff);
	return 9 + len + 2;
}

/* tnef - a stream: a title "a.txt", data, a MAPI list with a long file name */
static size_t tnef(unsigned char *s, const char *long_name, size_t data_len)
{
	unsigned char mapi[512], *data = calloc(1, data_len + 1);
	size_t n = 0, m = 0, ln = strlen(long_name);

	assert_non_null(data);
	le32(s, 0x223E9F78);
	le16(s + 4, 1);
	n = 6;
	n += attr(s + n, 1, 0x00089006, "\0\0\1\0", 4);
	n += attr(s + n, 2, 0x00069002, "\1\0\377\377\377\377\0\0\0\0\0\0\0\0", 14);
	n += attr(s + n, 2, 0x00018010, "a.txt", 6);
	n += attr(s + n, 2, 0x0006800F, data, data_len);
	/* MAPI: 3 properties: a long, PR_ATTACH_LONG_FILENAME (PT_STRING8), PR_DISPLAY_NAME (PT_UNICODE) */
	le32(mapi, 3);
	m = 4;
	le16(mapi + m, 0x0003), le16(mapi + m + 2, 0x0E20), le32(mapi + m + 4, 42);
	m += 8;
	le16(mapi + m, 0x001E), le16(mapi + m + 2, 0x3707), le32(mapi + m + 4, 1), le32(mapi + m + 8, (uint32_t)ln + 1);
	m += 12;
	memcpy(mapi + m, long_name, ln + 1);
	m += (ln + 1 + 3) & ~(size_t)3;
	le16(mapi + m, 0x001F), le16(mapi + m + 2, 0x3001), le32(mapi + m + 4, 1), le32(mapi + m + 8, 8);
	m += 12;
	memcpy(mapi + m, "x\0.\0j\0s\0", 8);
	m += 8;
	n += attr(s + n, 2, 0x00069005, mapi, m);
	free(data);
	return n;
}

static void tnef_feed(const unsigned char *s, size_t n, size_t piece, int want_end)
{
	struct embed_tnef t;
	size_t i;

	got[0] = 0;
	scan_embed_tnef_init(&t);
	for (i = 0; i < n; i += piece)
		assert_int_equal(scan_embed_tnef(&t, s + i, n - i < piece ? n - i : piece, on_name, NULL), 0);
	assert_int_equal(scan_embed_tnef_end(&t), want_end);
	scan_embed_tnef_free(&t);
}

static void test_tnef(void **unused)
{
	unsigned char *s = malloc(400000);
	size_t n, piece, cut;
	struct embed_tnef t;

	assert_non_null(s);
	n = tnef(s, "Quarterly report.exe", 3000);
	for (piece = 1; piece <= n; piece = piece * 3 + 1) {
		tnef_feed(s, n, piece, 0);
		assert_string_equal(got, "a.txt|Quarterly report.exe|x.js|");
	}
	/* cut inside the MAPI list: what was read counts, and it is a limit */
	cut = n - 20;
	tnef_feed(s, cut, 7, -1);
	assert_string_equal(got, "a.txt|");
	/* cut inside the attachment data: no naming attribute open, no limit */
	tnef_feed(s, 200, 7, 0);
	assert_string_equal(got, "a.txt|");
	/* not TNEF: nothing, no limit */
	tnef_feed((const unsigned char *)"PK\3\4 not tnef at all", 21, 3, 0);
	assert_string_equal(got, "");
	/* the callback stops the read */
	got[0] = 0;
	scan_embed_tnef_init(&t);
	assert_int_equal(scan_embed_tnef(&t, s, n, on_name, (void *)1), 1);
	assert_string_equal(got, "a.txt|");
	scan_embed_tnef_free(&t);
	/* a naming attribute longer than what is kept: a limit */
	{
		size_t big = EMBED_TNEF_KEEP + 100;
		unsigned char *title = malloc(big);

		assert_non_null(title);
		memset(title, 'a', big);
		memcpy(title + big - 5, ".exe", 5);
		n = 6;
		le32(s, 0x223E9F78);
		le16(s + 4, 1);
		n += attr(s + n, 2, 0x00018010, title, big);
		tnef_feed(s, n, 4096, -1);
		free(title);
	}
	free(s);
}

static void test_gzip(void **unused)
{
	unsigned char h[64] = { 0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3 };

	memcpy(h + 10, "invoice.exe", 12);
	got[0] = 0;
	assert_int_equal(scan_embed_gzip(h, 22, on_name, NULL), 1);
	assert_string_equal(got, "invoice.exe|");
	assert_int_equal(scan_embed_gzip(h, 21, on_name, NULL), -1);	/* name not ended */
	assert_int_equal(scan_embed_gzip(h, 9, on_name, NULL), -1);
	/* FEXTRA first: 4 bytes of extra field, then the name */
	h[3] = 0x0c;
	le16(h + 10, 4);
	memcpy(h + 12, "XXXX", 4);
	memcpy(h + 16, "b.scr", 6);
	got[0] = 0;
	assert_int_equal(scan_embed_gzip(h, 22, on_name, NULL), 1);
	assert_string_equal(got, "b.scr|");
	h[3] = 0;		/* no FNAME */
	assert_int_equal(scan_embed_gzip(h, 22, on_name, NULL), 0);
	h[0] = 'x';		/* not gzip */
	assert_int_equal(scan_embed_gzip(h, 22, on_name, NULL), 0);
}

/* header - a ustar header for name of size bytes, type typ */
static void header(unsigned char *b, const char *name, const char *prefix, size_t size, char typ)
{
	unsigned sum = 0;
	size_t i;

	memset(b, 0, 512);
	memcpy(b, name, strlen(name) < 100 ? strlen(name) : 100);
	snprintf((char *)b + 124, 12, "%011zo", size);
	b[156] = (unsigned char)typ;
	memcpy(b + 257, "ustar\00000", 8);
	if (prefix)
		memcpy(b + 345, prefix, strlen(prefix));
	memset(b + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += b[i];
	snprintf((char *)b + 148, 8, "%06o", sum);
}

static void test_tar(void **unused)
{
	unsigned char *t = calloc(1, 512 * 20);
	char rec[64];
	size_t n = 0, piece;
	struct embed_tar a;

	assert_non_null(t);
	header(t + n, "readme.txt", NULL, 5, '0');
	memcpy(t + n + 512, "hello", 5);
	n += 1024;
	header(t + n, "run.exe", "some/dir", 0, '0');
	n += 512;
	header(t + n, "././@LongLink", NULL, 200, 'L');
	memset(t + n + 512, 'L', 199);
	n += 1024;
	header(t + n, "LLLLLLLL", NULL, 0, '0');
	n += 512;
	snprintf(rec, sizeof rec, "%d path=docs/long-name.exe\n", 27);	/* 27 bytes in all */
	header(t + n, "PaxHeaders/x", NULL, strlen(rec), 'x');
	memcpy(t + n + 512, rec, strlen(rec));
	n += 1024;
	header(t + n, "docs/long-na", NULL, 0, '0');
	n += 512;
	n += 1024;		/* the end blocks */
	for (piece = 1; piece <= n; piece = piece * 5 + 1) {
		size_t i;

		got[0] = 0;
		scan_embed_tar_init(&a);
		for (i = 0; i < n; i += piece)
			assert_int_equal(scan_embed_tar(&a, t + i, n - i < piece ? n - i : piece, on_name, NULL), 0);
		assert_true(a.done);
		assert_int_equal(a.limit, 0);
		scan_embed_tar_free(&a);
		assert_int_equal(strlen(got), 11 + 17 + 200 + 9 + 19 + 13);
		assert_memory_equal(got, "readme.txt|some/dir/run.exe|LLL", 31);
		assert_non_null(strstr(got, "L|LLLLLLLL|docs/long-name.exe|docs/long-na|"));
	}
	assert_true(scan_embed_tar_is(t, n));
	/* a wrong checksum ends the read */
	t[0] ^= 1;
	got[0] = 0;
	scan_embed_tar_init(&a);
	assert_int_equal(scan_embed_tar(&a, t, n, on_name, NULL), 0);
	assert_true(a.done);
	assert_string_equal(got, "");
	scan_embed_tar_free(&a);
	assert_false(scan_embed_tar_is((const unsigned char *)"short", 5));
	free(t);
}

/* iso_rec - a directory record at p: extent, length, flags, name, System Use bytes; returns its length */
static size_t iso_rec(unsigned char *p, uint32_t extent, uint32_t len, int dir, const char *name, size_t nlen,
		      const unsigned char *su, size_t sulen)
{
	size_t rl = 33 + nlen + !(nlen & 1) + sulen;

	rl += rl & 1;
	memset(p, 0, rl);
	p[0] = (unsigned char)rl;
	le32(p + 2, extent);
	le32(p + 10, len);
	p[25] = dir ? 2 : 0;
	p[32] = (unsigned char)nlen;
	memcpy(p + 33, name, nlen);
	memcpy(p + 33 + nlen + !(nlen & 1), su, sulen);
	return rl;
}

/*
 * An image: volume descriptors at 16 (primary, root at 18) and 17 (end),
 * the root at 18 (".", "..", a file whose Rock Ridge name comes in two NM
 * pieces, a subdirectory at 19), the subdirectory (a file whose NM is in a
 * continuation area at sector 20, a record pointing past the image).
 */
static void test_iso(void **unused)
{
	size_t n = 21 * 2048, at, far;
	unsigned char *img = calloc(1, n), su[64];

	assert_non_null(img);
	memcpy(img + 16 * 2048, "\1CD001\1", 7);
	iso_rec(img + 16 * 2048 + 156, 18, 2048, 1, "\0", 1, NULL, 0);
	memcpy(img + 17 * 2048, "\377CD001\1", 7);
	at = 18 * 2048;
	at += iso_rec(img + at, 18, 2048, 1, "\0", 1, (const unsigned char *)"NM\6\1\0x", 6);
	at += iso_rec(img + at, 18, 2048, 1, "\1", 1, NULL, 0);
	/* "ev" (CONTINUE) + "il.exe" */
	at += iso_rec(img + at, 30, 10, 0, "NOTE.TXT;1", 10,
		      (const unsigned char *)"NM\7\1\1evNM\13\1\0il.exe", 18);
	at += iso_rec(img + at, 19, 2048, 1, "SUB", 3, (const unsigned char *)"NM\10\1\0sub", 8);
	at = 19 * 2048;
	at += iso_rec(img + at, 19, 2048, 1, "\0", 1, NULL, 0);
	memset(su, 0, sizeof su);
	memcpy(su, "CE\34\1", 4);
	le32(su + 4, 20);	/* block (both byte orders: the little-endian half is read) */
	le32(su + 12, 100);	/* offset */
	le32(su + 20, 13);	/* length */
	at += iso_rec(img + at, 31, 10, 0, "A.TXT;1", 7, su, 28);
	far = at;
	at += iso_rec(img + at, 4000000, 2048, 1, "FAR", 3, NULL, 0);	/* past the end: skipped */
	memcpy(img + 20 * 2048 + 100, "NM\15\1\0tool.scr", 13);
	got[0] = 0;
	assert_int_equal(scan_embed_iso(img, n, on_name, NULL), 0);
	assert_string_equal(got, "evil.exe|sub|tool.scr|");	/* "." and ".." are no names */
	/* the callback stops the walk */
	got[0] = 0;
	assert_int_equal(scan_embed_iso(img, n, on_name, img), 1);
	assert_string_equal(got, "evil.exe|");
	/* cut anywhere: never out of bounds, names up to the cut */
	for (at = 0; at <= n; at += 512) {
		unsigned char *cut = malloc(at ? at : 1);

		assert_non_null(cut);
		memcpy(cut, img, at);
		got[0] = 0;
		assert_int_equal(scan_embed_iso(cut, at, on_name, NULL), 0);
		free(cut);
	}
	assert_int_equal(scan_embed_udf_is(img, n), 0);	/* ISO 9660 alone */
	{			/* a UDF bridge: NSR03 after BEA01 in the volume recognition sequence */
		unsigned char *u = calloc(1, 20 * 2048);

		assert_non_null(u);
		memcpy(u + 16 * 2048, "\1CD001\1", 7);
		memcpy(u + 17 * 2048, "\0BEA01\1", 7);
		memcpy(u + 18 * 2048, "\0NSR03\1", 7);
		assert_int_equal(scan_embed_udf_is(u, 20 * 2048), 1);
		assert_int_equal(scan_embed_udf_is(u, 18 * 2048 + 5), 0);	/* cut inside it */
		memcpy(u + 18 * 2048, "\0NSR02\1", 7);
		assert_int_equal(scan_embed_udf_is(u, 20 * 2048), 1);
		memcpy(u + 17 * 2048, "\0XXXXX\1", 7);	/* the sequence ends before it */
		assert_int_equal(scan_embed_udf_is(u, 20 * 2048), 0);
		free(u);
	}
	/* a directory holding itself: the walk gives up, "not read whole" */
	iso_rec(img + far, 19, 2048, 1, "LOOP", 4, NULL, 0);
	got[0] = 0;
	assert_int_equal(scan_embed_iso(img, n, on_name, NULL), 2);
	/* not an image */
	got[0] = 0;
	memset(img + 16 * 2048, 0, 8);
	assert_int_equal(scan_embed_iso(img, n, on_name, NULL), 0);
	assert_string_equal(got, "");
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tnef),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_tar),
		cmocka_unit_test(test_iso),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
