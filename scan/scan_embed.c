/*
 * scan_embed.c - file names stored inside gzip, TNEF (winmail.dat), tar
 * and ISO 9660 images.
 *
 *	Some containers carry the names of what they hold in their own
 *	structure, where neither MIME headers nor libclamav's member list show
 *	them whole: a gzip member's original name (FNAME, RFC 1952), the
 *	attachment titles and MAPI file names of a TNEF stream (MS-OXTNEF),
 *	and a tar member's long name (POSIX pax "path" records and GNU 'L'
 *	entries: libclamav lists only the 100-byte ustar name field).
 *	Both the MIME walker (decoded attachment bodies) and the clamav
 *	backend (every file libclamav unpacks, at any depth) read them here;
 *	an ISO image's Rock Ridge names (what Linux shows when it mounts the
 *	image: libclamav lists the ISO 9660 and Joliet names only) are read
 *	for the clamav backend.
 *
 *	scan_embed_gzip() reads the header of a gzip stream.
 *	scan_embed_tar() is a streaming tar reader: every header's name (with
 *	its ustar prefix), every GNU long name and pax path, each member's
 *	data skipped as it streams by; it stops at the end blocks or at the
 *	first header whose checksum is wrong.
 *	scan_embed_tnef() is a streaming TNEF reader: it takes the stream in
 *	pieces of any size and keeps only the attributes that name files
 *	(attAttachTitle, and attAttachment's PR_ATTACH_LONG_FILENAME,
 *	PR_ATTACH_FILENAME and PR_DISPLAY_NAME), at most EMBED_TNEF_KEEP bytes
 *	of each; every other attribute, attachment data included, is skipped
 *	as it streams by.
 *	scan_embed_iso() walks an ISO image held whole: the directory tree of
 *	its primary volume descriptor, and in every record's System Use area
 *	(and the continuation areas it points to) the Rock Ridge NM entries.
 *	A record or a tree out of the image's bounds ends that directory's
 *	walk.  The work is bounded: at most ISO_DIRS_MAX directories,
 *	ISO_TODO_MAX waiting, ISO_CE_MAX continuation areas of a sector each per record,
 *	and twice the image's size (plus 1 MiB) of bytes read in all; an
 *	image beyond that is "not read whole".
 *	scan_embed_udf_is() tells an image that carries a UDF file system (an
 *	NSR02 or NSR03 descriptor in its volume recognition sequence): its UDF
 *	names, the ones Windows shows first, are read by nobody here (nor by
 *	libclamav 1.4), so the clamav backend makes such an image a limit.
 *
 * DIAGNOSTICS
 *	scan_embed_iso() returns 0 (read whole, or not an image), 1 (the
 *	callback asked to stop) or 2 (not read whole: the caller's limit).
 *	scan_embed_gzip() returns 1 when it reported a name, 0 when the
 *	header holds none, -1 when the bytes end inside the header.
 *	scan_embed_tnef() returns non-zero when the callback asked to stop;
 *	scan_embed_tnef_end() says whether the stream was read whole: a
 *	naming attribute longer than EMBED_TNEF_KEEP or cut short is a limit
 *	(the caller decides), garbage after the signature just ends the read.
 */
#include <stdlib.h>
#include <string.h>

#include "scan_mime.h"

#define TNEF_SIGNATURE	0x223E9F78u
#define ATT_TITLE	0x00018010u	/* attAttachTitle: string */
#define ATT_MAPI	0x00069005u	/* attAttachment: MAPI properties */
#define PR_DISPLAY_NAME	0x3001
#define PR_ATTACH_FILENAME	0x3704
#define PR_ATTACH_LONG_FILENAME	0x3707
#define PR_ATTACH_LONG_PATHNAME	0x370D

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int scan_embed_gzip(const unsigned char *p, size_t n, mime_name_fn fn, void *ctx)
{
	size_t i = 10, e;
	unsigned flags;

	if (n < 10)
		return -1;
	if (p[0] != 0x1f || p[1] != 0x8b)
		return 0;
	flags = p[3];
	if (flags & 0x04) {	/* FEXTRA */
		if (n < 12)
			return -1;
		i = 12 + ((size_t)p[10] | (size_t)p[11] << 8);
	}
	if (!(flags & 0x08))	/* no FNAME */
		return 0;
	for (e = i; e < n && p[e]; e++)
		;
	if (e >= n)
		return -1;
	if (e == i)
		return 0;	/* an empty name is none */
	fn(ctx, (const char *)p + i, e - i, MIME_NAME_EMBED);
	return 1;
}

/* wide - UTF-16LE into ASCII in place ('?' for the rest); returns the length */
static size_t wide(unsigned char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i + 1 < n; i += 2) {
		unsigned c = s[i] | (unsigned)s[i + 1] << 8;

		if (!c)
			break;
		s[o++] = c < 0x80 ? (unsigned char)c : '?';
	}
	return o;
}

/* str - report a PT_STRING8 / PT_UNICODE value */
static int str(unsigned char *v, size_t n, int unicode, mime_name_fn fn, void *ctx)
{
	if (unicode)
		n = wide(v, n);
	else
		n = strnlen((const char *)v, n);
	return n && fn(ctx, (const char *)v, n, MIME_NAME_EMBED);
}

/*
 * mapi - the names in an attAttachment property list.  Returns 1 when fn
 * stopped, 0 when read whole, -1 when the list ran past the bytes kept.
 */
static int mapi(unsigned char *b, size_t n, mime_name_fn fn, void *ctx)
{
	size_t i = 4, count, k;

	if (n < 4)
		return -1;
	count = le32(b);
	for (k = 0; k < count; k++) {
		unsigned type, id, base;
		size_t vals = 1, v;

		if (n - i < 4)
			return -1;
		type = b[i] | (unsigned)b[i + 1] << 8;
		id = b[i + 2] | (unsigned)b[i + 3] << 8;
		i += 4;
		if (id >= 0x8000) {	/* a named property: GUID, kind, then an id or a name */
			if (n - i < 20)
				return -1;
			if (le32(b + i + 16) == 0)
				i += 24;
			else {
				size_t len;

				if (n - i < 24)
					return -1;
				len = le32(b + i + 20);
				if (len > n - i - 24)
					return -1;
				i += 24 + ((len + 3) & ~(size_t)3);
			}
			if (i > n)
				return -1;
		}
		base = type & 0x0fff;
		if (type & 0x1000) {	/* multi-valued: a count first */
			if (n - i < 4)
				return -1;
			vals = le32(b + i);
			i += 4;
		}
		for (v = 0; v < vals; v++) {
			size_t len;

			switch (base) {
			case 0x0002: case 0x000B:	/* short, boolean: padded to 4 */
			case 0x0003: case 0x0004: case 0x000A:
				len = 4;
				break;
			case 0x0005: case 0x0006: case 0x0007: case 0x0014: case 0x0040:
				len = 8;
				break;
			case 0x0048:	/* CLSID */
				len = 16;
				break;
			case 0x001E: case 0x001F: case 0x0102: case 0x000D: {
				/* counted values: (number of values,) length, bytes padded to 4 */
				size_t m, j;

				if (!(type & 0x1000)) {
					if (n - i < 4)
						return -1;
					m = le32(b + i);
					i += 4;
				} else
					m = 1;
				for (j = 0; j < m; j++) {
					if (n - i < 4)
						return -1;
					len = le32(b + i);
					i += 4;
					if (len > n - i)
						return -1;
					if ((base == 0x001E || base == 0x001F) &&
					    (id == PR_ATTACH_LONG_FILENAME || id == PR_ATTACH_FILENAME ||
					     id == PR_DISPLAY_NAME || id == PR_ATTACH_LONG_PATHNAME) &&
					    str(b + i, len, base == 0x001F, fn, ctx))
						return 1;
					i += (len + 3) & ~(size_t)3;
					if (i > n)
						return -1;
				}
				continue;
			}
			default:	/* a type we cannot size: the rest is unreadable */
				return -1;
			}
			if (len > n - i)
				return -1;
			i += len;
		}
	}
	return 0;
}

void scan_embed_tnef_init(struct embed_tnef *t)
{
	memset(t, 0, sizeof *t);
}

void scan_embed_tnef_free(struct embed_tnef *t)
{
	free(t->keep);
	t->keep = NULL;
}

/* attr_done - an attribute we kept is complete: report its names */
static int attr_done(struct embed_tnef *t, mime_name_fn fn, void *ctx)
{
	int r = 0;

	if (t->kept < t->len)
		t->limit = 1;	/* longer than EMBED_TNEF_KEEP: names may be past it */
	if (t->id == ATT_TITLE)
		r = str(t->keep, t->kept, 0, fn, ctx);
	else if ((r = mapi(t->keep, t->kept, fn, ctx)) < 0) {
		t->limit = 1;
		r = 0;
	}
	return r;
}

int scan_embed_tnef(struct embed_tnef *t, const unsigned char *p, size_t n, mime_name_fn fn, void *ctx)
{
	while (n && !t->done) {
		if (t->hlen < (t->started ? 9u : 6u)) {	/* signature + key, or an attribute header */
			size_t want = (t->started ? 9u : 6u) - t->hlen, k = n < want ? n : want;

			memcpy(t->hdr + t->hlen, p, k);
			t->hlen += k;
			p += k;
			n -= k;
			if (t->hlen < (t->started ? 9u : 6u))
				break;
			if (!t->started) {
				if (le32(t->hdr) != TNEF_SIGNATURE) {
					t->done = 1;
					break;
				}
				t->started = 1;
				t->hlen = 0;
				continue;
			}
			t->id = le32(t->hdr + 1);
			t->len = le32(t->hdr + 5);
			t->pos = 0;
			t->kept = 0;
			t->want = t->hdr[0] == 2 && (t->id == ATT_TITLE || t->id == ATT_MAPI);
			if (t->hdr[0] != 1 && t->hdr[0] != 2) {
				t->done = 1;	/* not TNEF any more */
				break;
			}
			if (t->want && !t->keep && !(t->keep = malloc(EMBED_TNEF_KEEP))) {
				t->limit = 1;
				t->want = 0;
			}
			continue;
		}
		if (t->pos < (uint64_t)t->len + 2) {	/* the data, then a 2-byte checksum */
			uint64_t left = (uint64_t)t->len + 2 - t->pos;
			size_t k = left < n ? (size_t)left : n;

			if (t->want && t->pos < t->len) {
				size_t d = t->len - t->pos < k ? (size_t)(t->len - t->pos) : k;

				if (t->kept < EMBED_TNEF_KEEP) {
					size_t c = EMBED_TNEF_KEEP - t->kept < d ? EMBED_TNEF_KEEP - t->kept : d;

					memcpy(t->keep + t->kept, p, c);
					t->kept += c;
				}
			}
			t->pos += k;
			p += k;
			n -= k;
			if (t->pos < (uint64_t)t->len + 2)
				break;
			if (t->want && attr_done(t, fn, ctx))
				return 1;
			t->hlen = 0;
			t->attrs++;
		}
	}
	return 0;
}

int scan_embed_tnef_end(struct embed_tnef *t)
{
	/* cut inside a naming attribute: what it held was never read */
	if (t->started && !t->done && t->hlen == 9 && t->want && t->pos < (uint64_t)t->len + 2)
		t->limit = 1;
	return t->started && !t->limit ? 0 : t->started ? -1 : 0;
}

/* ---- tar ---- */

#define TAR_BLOCK	512

/* tar_num - an octal or base-256 header number */
static uint64_t tar_num(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;

	if (p[0] & 0x80) {	/* base-256: the rest of the field, big-endian */
		for (i = 1; i < n; i++)
			v = v << 8 | p[i];
		return v;
	}
	while (i < n && (p[i] == ' ' || p[i] == 0))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v << 3 | (uint64_t)(p[i] - '0');
	return v;
}

static int tar_header_ok(const unsigned char *h)
{
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i < TAR_BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	return sum == tar_num(h + 148, 8);
}

/* tar_pax - report every "path=" record of a pax extended header */
static int tar_pax(const unsigned char *d, size_t n, mime_name_fn fn, void *ctx)
{
	size_t i = 0;

	while (i < n) {
		size_t len = 0, j = i, k;

		while (j < n && d[j] >= '0' && d[j] <= '9' && len < n)
			len = len * 10 + (size_t)(d[j++] - '0');
		if (j >= n || d[j] != ' ' || len <= j - i || len > n - i)
			return 0;	/* cut or not a record: what was read counts */
		j++;
		k = i + len;	/* the record ends with '\n' at k - 1 */
		if (k - j > 6 && !memcmp(d + j, "path=", 5) && fn(ctx, (const char *)d + j + 5, k - 1 - j - 5, MIME_NAME_EMBED))
			return 1;
		i = k;
	}
	return 0;
}

void scan_embed_tar_init(struct embed_tar *t)
{
	memset(t, 0, sizeof *t);
}

void scan_embed_tar_free(struct embed_tar *t)
{
	free(t->keep);
	t->keep = NULL;
}

/* tar_entry - a complete header block in t->hdr */
static int tar_entry(struct embed_tar *t, mime_name_fn fn, void *ctx)
{
	const unsigned char *h = t->hdr;
	char name[256 + 2];
	size_t n = 0, plen, nlen;
	uint64_t size;

	size_t i;

	for (i = 0; i < TAR_BLOCK && !h[i]; i++)
		;
	if (i == TAR_BLOCK || !tar_header_ok(h)) {	/* the end block, or not tar */
		t->done = 1;
		return 0;
	}
	t->members++;
	size = tar_num(h + 124, 12);
	t->skip = (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	t->kind = h[156];
	t->data = size;
	t->kept = 0;
	if (t->kind == 'L' || t->kind == 'x') {	/* the name of the next member */
		if (!t->keep && !(t->keep = malloc(EMBED_TNEF_KEEP)))
			t->limit = 1, t->kind = 0;
		return 0;
	}
	/* a member: its ustar prefix and name */
	if (!memcmp(h + 257, "ustar", 5) && h[345]) {
		plen = strnlen((const char *)h + 345, 155);
		memcpy(name, h + 345, plen);
		name[plen] = '/';
		n = plen + 1;
	}
	nlen = strnlen((const char *)h, 100);
	memcpy(name + n, h, nlen);
	n += nlen;
	return n && fn(ctx, name, n, MIME_NAME_EMBED);
}

int scan_embed_tar(struct embed_tar *t, const unsigned char *p, size_t n, mime_name_fn fn, void *ctx)
{
	while (n && !t->done) {
		if (t->skip) {	/* a member's data, in whole blocks */
			size_t k = t->skip < n ? (size_t)t->skip : n;

			if ((t->kind == 'L' || t->kind == 'x') && t->kept < t->data) {
				size_t want = t->data - t->kept < k ? (size_t)(t->data - t->kept) : k;
				size_t room = EMBED_TNEF_KEEP - t->kept < want ? EMBED_TNEF_KEEP - t->kept : want;

				memcpy(t->keep + t->kept, p, room);
				t->kept += room;
				if (room < want)
					t->limit = 1;
			}
			t->skip -= k;
			p += k;
			n -= k;
			if (!t->skip && (t->kind == 'L' || t->kind == 'x')) {
				size_t len = strnlen((const char *)t->keep, t->kept);
				int r = t->kind == 'L' ? len && fn(ctx, (const char *)t->keep, len, MIME_NAME_EMBED)
						      : tar_pax(t->keep, t->kept, fn, ctx);

				t->kind = 0;
				if (r)
					return 1;
			}
			continue;
		}
		{
			size_t k = TAR_BLOCK - t->hlen < n ? TAR_BLOCK - t->hlen : n;

			memcpy(t->hdr + t->hlen, p, k);
			t->hlen += k;
			p += k;
			n -= k;
		}
		if (t->hlen < TAR_BLOCK)
			break;
		t->hlen = 0;
		if (tar_entry(t, fn, ctx))
			return 1;
	}
	return 0;
}

int scan_embed_tar_is(const unsigned char *p, size_t n)
{
	return n >= 263 && !memcmp(p + 257, "ustar", 5);
}

/* ---- ISO 9660: Rock Ridge names ---- */

#define ISO_SECTOR	2048u
#define ISO_DIRS_MAX	4096u	/* directories walked in one image */
#define ISO_CE_MAX	8	/* continuation areas followed per record */
#define ISO_TODO_MAX	1024	/* directories waiting to be walked */

/*
 * iso_susp - the System Use entries of one directory record (and the
 * continuation areas they point to): every Rock Ridge NM name, its pieces
 * joined.  Returns non-zero when fn asked to stop.
 */
static int iso_susp(const unsigned char *img, size_t n, const unsigned char *su, size_t len,
		    size_t *budget, mime_name_fn fn, void *ctx)
{
	char name[1024];
	size_t nlen = 0;
	int hops = 0, stop = 0;

	while (len >= 4 && !stop) {
		size_t i = 0, next_off = 0, next_len = 0;

		if (len > *budget)
			return 2;
		*budget -= len;
		while (i + 4 <= len) {
			const unsigned char *e = su + i;
			size_t el = e[2];

			if (el < 4 || i + el > len)
				break;
			if (e[0] == 'N' && e[1] == 'M' && el >= 5) {
				size_t k = el - 5 < sizeof name - nlen ? el - 5 : sizeof name - nlen;

				memcpy(name + nlen, e + 5, k);
				nlen += k;
				if (!(e[4] & 1) && nlen) {	/* no CONTINUE: the name is whole */
					if ((stop = fn(ctx, name, nlen, MIME_NAME_EMBED)) != 0)
						return stop;
					nlen = 0;
				}
			} else if (e[0] == 'C' && e[1] == 'E' && el >= 28) {
				next_off = (size_t)le32(e + 4) * ISO_SECTOR + le32(e + 12);
				next_len = le32(e + 20);
			} else if (e[0] == 'S' && e[1] == 'T')
				break;
			i += el;
		}
		if (!next_len || next_len > ISO_SECTOR || ++hops > ISO_CE_MAX || next_off >= n ||
		    next_len > n - next_off)
			break;
		su = img + next_off;
		len = next_len;
	}
	if (nlen && !stop)	/* a CONTINUE with nothing after it: the name so far */
		stop = fn(ctx, name, nlen, MIME_NAME_EMBED);
	return stop;
}

int scan_embed_iso(const unsigned char *img, size_t n, mime_name_fn fn, void *ctx)
{
	uint32_t todo[ISO_TODO_MAX][2];	/* directories to walk: extent, length */
	unsigned ntodo = 0, dirs = 0, vd;
	size_t budget = 2 * n + (1u << 20);	/* bytes of records and System Use areas read */
	int st;

	for (vd = 16; vd < 48 && (size_t)(vd + 1) * ISO_SECTOR <= n; vd++) {
		const unsigned char *d = img + (size_t)vd * ISO_SECTOR;

		if (memcmp(d + 1, "CD001", 5) != 0 || d[0] == 255)
			break;
		if (d[0] == 1) {	/* the primary volume descriptor: its root directory */
			todo[ntodo][0] = le32(d + 156 + 2);
			todo[ntodo][1] = le32(d + 156 + 10);
			ntodo++;
			break;
		}
	}
	while (ntodo) {
		uint64_t at = (uint64_t)todo[ntodo - 1][0] * ISO_SECTOR, end = at + todo[ntodo - 1][1];

		ntodo--;
		if (++dirs > ISO_DIRS_MAX)
			return 2;
		if (end > n)
			end = n;
		if (end > at && end - at > budget)
			return 2;
		budget -= end > at ? end - at : 0;
		while (at + 34 <= end) {
			const unsigned char *r = img + at;
			size_t rl = r[0], nl;

			if (rl == 0) {	/* records do not cross sectors: the next one */
				at = (at / ISO_SECTOR + 1) * ISO_SECTOR;
				continue;
			}
			nl = r[32];
			if (rl < 34 || at + rl > end || 33 + nl > rl)
				break;
			if (!(nl == 1 && (r[33] == 0 || r[33] == 1))) {	/* not "." or ".." */
				size_t su = 33 + nl + !(nl & 1);

				if (su < rl && (st = iso_susp(img, n, r + su, rl - su, &budget, fn, ctx)) != 0)
					return st;
				if ((r[25] & 2) && ntodo == sizeof todo / sizeof todo[0])
					return 2;	/* deeper than the walk keeps */
				if (r[25] & 2) {
					todo[ntodo][0] = le32(r + 2);
					todo[ntodo][1] = le32(r + 10);
					ntodo++;
				}
			}
			at += rl;
		}
	}
	return 0;
}

int scan_embed_udf_is(const unsigned char *img, size_t n)
{
	unsigned s;

	/* the volume recognition sequence: 2048-byte descriptors from 32 KiB on */
	for (s = 16; s < 64 && (size_t)s * ISO_SECTOR + 6 <= n; s++) {
		const unsigned char *d = img + (size_t)s * ISO_SECTOR;

		if (memcmp(d + 1, "NSR02", 5) == 0 || memcmp(d + 1, "NSR03", 5) == 0)
			return 1;
		if (memcmp(d + 1, "CD001", 5) != 0 && memcmp(d + 1, "BEA01", 5) != 0 &&
		    memcmp(d + 1, "TEA01", 5) != 0 && memcmp(d + 1, "BOOT2", 5) != 0 &&
		    memcmp(d + 1, "CDW02", 5) != 0)
			return 0;
	}
	return 0;
}
