/*
 * scan_mime.c - the streaming MIME walker of the attach backend.
 *
 *	scan_mime_walk() reads the message with pread() into one buffer of
 *	lim->chunk bytes and hands it on line by line; a line longer than the
 *	buffer comes in pieces, the later ones marked as not starting a line.
 *	A line ends at LF, CRLF or a CR alone (mail clients split bare CRs).
 *	One loop drives a small machine:
 *	- a stack of frames, one per multipart (with its boundary) or
 *	  message/rfc822 encapsulation; nesting is counted as libclamav counts
 *	  it (scan_mime.h): multiparts per message, encapsulations overall;
 *	- the current part: its header (Content-Type, Content-Disposition and
 *	  Content-Transfer-Encoding unfolded into one buffer; beyond
 *	  lim->max_header bytes its head and its tail are kept, so a name at
 *	  either end of a padded field is still read), then its body:
 *	  - text (text/..., preambles, no type): lines are looked at for
 *	    uuencode and yEnc begin lines, after base64 or quoted-printable
 *	    decoding when the part is encoded; a uuencoded or begin-base64 file
 *	    is decoded in turn and read like an attachment, and so is the
 *	    data fork of a BinHex 4.0 file, whose header names it (also in
 *	    an application/mac-binhex40 part, with or without its first line);
 *	  - an attachment (any other type, or x-uuencode): decoded and read by
 *	    its first bytes: a zip's tail is kept and its members listed
 *	    (scan_zip.c), a gzip's stored name, a TNEF stream's attachment
 *	    names and a tar's member names read (scan_embed.c);
 *	  - an encoded message/rfc822: decoded into memory (at most
 *	    lim->max_inner bytes) and walked as a message of its own.
 *	A delimiter line of any open multipart ends the part, and every frame
 *	above that multipart, so a missing close delimiter costs nothing.
 *	A part with two different transfer encodings is read with the first
 *	that encodes, and counts as a limit: clients disagree on which wins;
 *	so does a multipart with two different boundaries.  A message/partial
 *	part is a limit: the rest of its message is in other messages.
 *	scan_mime_walk_mem() feeds the same machine from memory.
 *	scan_mime_printable() makes decoded names safe for logs.
 *
 * DIAGNOSTICS
 *	Memory is the read buffer, the header and decode buffers, the frame
 *	stack, the zip tail (at most lim->max_zip), a TNEF attribute (at most
 *	EMBED_TNEF_KEEP) and an encoded message (at most lim->max_inner),
 *	whatever the message.  Work is linear in the message size.  Limits
 *	reached are recorded in struct mime_result, the first one in words,
 *	and the walk goes on where it can; only the part limit ends it.  The
 *	deadline and the cancel flag are checked for every chunk read.
 *
 * BUGS
 *	Nothing compressed is inflated here: a tar.gz, a 7z, a rar, a cab, an
 *	ISO image, an arj, a cpio, an lzh, a zip
 *	inside a zip (unless stored uncompressed: then its local headers show)
 *	are listed by libclamav for the clamav backend (scan_clamav.c), which
 *	applies the same banned list to them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "scan_mime.h"

enum field { F_NONE, F_CTYPE, F_CDISP, F_CTE };
enum cte { CTE_NONE, CTE_B64, CTE_QP, CTE_UU };
enum body { B_IGNORE, B_TEXT, B_FILE, B_INNER };
enum sink_kind { K_SNIFF, K_ZIP, K_GZIP, K_TNEF, K_TAR, K_NONE };

#define SNIFF_HEAD	4096	/* bytes of a file kept to read a gzip header */

struct frame {
	int multi;		/* else message/rfc822 */
	int digest;		/* multipart/digest: parts default to message/rfc822 */
	unsigned mdepth;	/* multiparts nested in this frame's message, itself included */
	unsigned msgs;		/* encapsulations at and above this frame */
	size_t blen;
	char boundary[MIME_BOUNDARY_MAX + 1];
};

struct part {
	int in_body;
	enum body body;
	int digest_part;
	enum field field;	/* the Content-* field being gathered */
	size_t flen;		/* bytes in the field buffer */
	uint64_t ftotal;	/* bytes of the field in all */
	char type[32], sub[64];
	char boundary[MIME_BOUNDARY_MAX + 1];
	size_t blen;
	int btoolong, btwo;	/* a boundary too long; two different ones */
	enum cte cte;
	int zip;		/* named or typed a zip */
	char what[64];		/* the part's name, for the reasons */
	struct mime_b64 dec;
	struct mime_qp qp;
	/* uuencoded or begin-base64 file inside a text body */
	int uu;			/* 0 none, 1 uuencode, 2 base64 */
	struct mime_b64 uudec;
	/* a BinHex 4.0 file inside a text body or an application/mac-binhex40 part */
	int hqx;		/* 0 none, 1 waiting for the ':' line, 2 decoding */
	struct mime_hqx hqxd;
	int hqx_rle, hqx_prev;	/* after a 0x90 marker; the last byte (-1: none) */
	unsigned char hqx_hdr[1 + 255 + 21];	/* name length, name, 21 bytes of header */
	size_t hqx_nhdr;
	uint32_t hqx_left;	/* bytes of the data fork still to come */
	/* decoded text assembled into lines */
	char tl[MIME_LINE_MAX];
	size_t tlen;
	int tbol, tcr;
	int leaf;		/* the body is a leaf being collected */
};

struct sink {			/* the file being read: a part's body or a uuencoded file */
	int on;
	enum sink_kind kind;
	int named_zip;
	unsigned char head[SNIFF_HEAD];
	size_t nhead;
	struct embed_tnef tnef;
	struct embed_tar tar;
	char what[64];
};

struct reader {
	int fd;
	const unsigned char *mem;
	uint64_t size, off;
	unsigned char *buf;
	size_t cap, beg, end, seen;	/* seen: bytes after beg known to hold no line end */
	int bol, eof, skip_lf;
};

struct walk {
	struct mime_limits lim;
	mime_name_fn fn;
	void *ctx;
	struct mime_result *res;
	struct reader rd;
	struct frame *frames;
	unsigned nframes, cap_frames, base_msgs;
	struct part p;
	char *field, *scratch, *join;
	unsigned char *dec;
	struct mime_tail tail;
	struct sink sink;
	unsigned char *inner;
	size_t ninner, cap_inner;
	int inner_over;
	unsigned char *leaf;	/* the current leaf's decoded body (lim.leaves) */
	size_t nleaf, cap_leaf;
	int leaf_over;
	int stop;		/* callback said so, or the part limit */
	enum mime_status status;
};

static enum mime_status walk(int fd, const unsigned char *mem, uint64_t size,
			     const struct mime_limits *lim, unsigned base_msgs, mime_name_fn fn,
			     void *ctx, struct mime_result *res);

size_t scan_mime_printable(char *out, size_t outlen, const char *in, size_t len)
{
	size_t i, o = 0, head = len, skip = 0;

	if (!outlen)
		return 0;
	if (len > outlen - 1 && outlen > 4) {	/* keep both ends: the extension matters */
		head = (outlen - 4) / 2;
		skip = len - (outlen - 4 - head);
	}
	for (i = 0; i < len && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)in[i];

		if (i == head && skip) {
			memcpy(out + o, "...", 3);
			o += 3;
			i = skip - 1;
			continue;
		}
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = 0;
	return o;
}

static void limit(struct walk *w, unsigned bit, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void limit(struct walk *w, unsigned bit, const char *fmt, ...)
{
	va_list ap;

	if (!w->res->limits) {
		va_start(ap, fmt);
		vsnprintf(w->res->why, sizeof w->res->why, fmt, ap);
		va_end(ap);
	}
	w->res->limits |= bit;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fill - more bytes after end; 0, or -1 with w->status set */
static int fill(struct walk *w)
{
	struct reader *r = &w->rd;
	size_t want = r->cap - r->end;
	ssize_t got;

	if (w->lim.cancel && *w->lim.cancel) {
		w->status = MIME_CANCELLED;
		return -1;
	}
	if (w->lim.deadline_ms && now_ms() >= w->lim.deadline_ms) {
		w->status = MIME_DEADLINE;
		return -1;
	}
	if (want > r->size - r->off)
		want = (size_t)(r->size - r->off);
	if (!want) {
		r->eof = 1;
		return 0;
	}
	if (r->mem) {
		memcpy(r->buf + r->end, r->mem + r->off, want);
		got = (ssize_t)want;
	} else {
		while ((got = pread(r->fd, r->buf + r->end, want, (off_t)r->off)) < 0 && errno == EINTR)
			;
		if (got < 0) {
			w->res->err = errno;
			w->status = MIME_EIO;
			return -1;
		}
		if (!got)	/* shorter than said: take what is there */
			r->eof = 1;
	}
	r->end += (size_t)got;
	r->off += (uint64_t)got;
	return 0;
}

/* refill - keep the bytes from beg, read more; 0 or -1 */
static int refill(struct walk *w)
{
	struct reader *r = &w->rd;
	size_t avail = r->end - r->beg;

	memmove(r->buf, r->buf + r->beg, avail);
	r->beg = 0;
	r->end = avail;
	return fill(w);
}

/*
 * next_piece - a line, or a piece of a long one; 1, 0 at the end, -1 on
 * error.  A line ends after LF, after CRLF, or after a CR alone.
 */
static int next_piece(struct walk *w, const char **s, size_t *n, int *bol)
{
	struct reader *r = &w->rd;

	for (;;) {
		size_t avail = r->end - r->beg, len = 0;
		unsigned char *b = r->buf + r->beg, *nl, *cr;
		int eol = 0;

		if (r->skip_lf && avail) {	/* a CR ended the last buffer: its LF */
			r->skip_lf = 0;
			if (*b == '\n') {
				r->beg++;
				continue;
			}
		}
		nl = memchr(b + r->seen, '\n', avail - r->seen);
		cr = memchr(b + r->seen, '\r', (nl ? (size_t)(nl - b) : avail) - r->seen);
		if (cr && cr + 1 < b + avail) {
			len = (size_t)(cr - b) + 1 + (cr[1] == '\n');
			eol = 1;
		} else if (cr && (r->eof || avail == r->cap)) {
			len = avail;	/* the CR is the last byte we can hold */
			eol = 1;
			r->skip_lf = !r->eof;
		} else if (!cr && nl) {
			len = (size_t)(nl - b) + 1;
			eol = 1;
		} else if (!cr && (avail == r->cap || (r->eof && avail)))
			len = avail;
		if (len) {
			*s = (const char *)b;
			*n = len;
			*bol = r->bol;
			r->bol = eol;
			r->beg += len;
			r->seen = 0;
			return 1;
		}
		if (r->eof)
			return 0;
		r->seen = cr ? (size_t)(cr - b) : avail;
		if (refill(w) < 0)
			return -1;
	}
}

static int ends_zip(const char *name, size_t len)
{
	while (len > 4 && (name[len - 1] == ' ' || name[len - 1] == '.'))
		len--;
	return len >= 4 && !strncasecmp(name + len - 4, ".zip", 4);
}

static void report(struct walk *w, const char *name, size_t len, enum mime_origin o)
{
	w->res->names++;
	if (o == MIME_NAME_HEADER) {
		scan_mime_printable(w->p.what, sizeof w->p.what, name, len);
		if (ends_zip(name, len))
			w->p.zip = 1;
	}
	if (!w->stop && w->fn(w->ctx, name, len, o))
		w->stop = 1;
}

static int on_header_name(void *ctx, const char *v, size_t n)
{
	struct walk *w = ctx;

	if (n)
		report(w, v, n, MIME_NAME_HEADER);
	return w->stop;
}

static int on_file_name(void *ctx, const char *v, size_t n, enum mime_origin o)
{
	struct walk *w = ctx;

	report(w, v, n, o);
	return w->stop;
}

static int on_boundary(void *ctx, const char *v, size_t n)
{
	struct part *p = ctx;

	if (p->blen || p->btoolong) {	/* the first value counts; another one is a limit */
		if (p->btoolong || n != p->blen || memcmp(v, p->boundary, n))
			p->btwo = 1;
		return p->btwo;
	}
	if (n > MIME_BOUNDARY_MAX)
		p->btoolong = 1;
	else {
		memcpy(p->boundary, v, n);
		p->blen = n;
	}
	return 0;
}

/* ---- files: a part's body or a uuencoded file, read by their first bytes ---- */

static void sink_start(struct walk *w, int named_zip, const char *what)
{
	struct sink *k = &w->sink;

	scan_embed_tnef_free(&k->tnef);
	scan_embed_tar_free(&k->tar);
	scan_embed_tar_init(&k->tar);
	k->on = 1;
	k->kind = named_zip ? K_ZIP : K_SNIFF;
	k->named_zip = named_zip;
	k->nhead = 0;
	snprintf(k->what, sizeof k->what, "%s", *what ? what : "(no name)");
	scan_embed_tnef_init(&k->tnef);
	w->tail.len = w->tail.head = 0;
	w->tail.total = 0;
}

static void sink_nomem(struct walk *w)
{
	w->status = MIME_ENOMEM;
	w->stop = 1;
}

static void sink_add(struct walk *w, const unsigned char *d, size_t n)
{
	struct sink *k = &w->sink;

	if (!k->on || !n || w->stop)
		return;
	if (k->kind == K_SNIFF || k->kind == K_GZIP) {
		size_t c = SNIFF_HEAD - k->nhead < n ? SNIFF_HEAD - k->nhead : n;

		memcpy(k->head + k->nhead, d, c);
		k->nhead += c;
		if (k->kind == K_SNIFF && k->nhead >= 4) {
			if (!memcmp(k->head, "PK\3\4", 4)) {
				k->kind = K_ZIP;
				if (scan_mime_tail_add(&w->tail, k->head, k->nhead) < 0)
					sink_nomem(w);
				d += c;
				n -= c;
			} else if (k->head[0] == 0x1f && k->head[1] == 0x8b)
				k->kind = K_GZIP;
			else if (!memcmp(k->head, "\x78\x9f\x3e\x22", 4)) {
				k->kind = K_TNEF;
				if (scan_embed_tnef(&k->tnef, k->head, k->nhead, on_file_name, w))
					w->stop = 1;
				d += c;
				n -= c;
			} else if (k->nhead >= 263) {	/* tar: "ustar" at 257 */
				k->kind = scan_embed_tar_is(k->head, k->nhead) ? K_TAR : K_NONE;
				if (k->kind == K_TAR && scan_embed_tar(&k->tar, k->head, k->nhead, on_file_name, w))
					w->stop = 1;
				d += c;
				n -= c;
			}
		}
		if (k->kind == K_GZIP && k->nhead == SNIFF_HEAD) {
			scan_embed_gzip(k->head, k->nhead, on_file_name, w);
			k->kind = K_NONE;
		}
		if (k->kind == K_SNIFF || k->kind == K_GZIP || k->kind == K_NONE)
			return;
		if (!n)
			return;
	}
	if (k->kind == K_ZIP) {
		if (scan_mime_tail_add(&w->tail, d, n) < 0)
			sink_nomem(w);
	} else if (k->kind == K_TNEF) {
		if (scan_embed_tnef(&k->tnef, d, n, on_file_name, w))
			w->stop = 1;
	} else if (k->kind == K_TAR) {
		if (scan_embed_tar(&k->tar, d, n, on_file_name, w))
			w->stop = 1;
	}
}

static void sink_end(struct walk *w)
{
	struct sink *k = &w->sink;
	enum zip_status st;

	if (!k->on)
		return;
	k->on = 0;
	if (w->stop)
		return;
	if (k->kind == K_SNIFF && k->named_zip)
		k->kind = K_ZIP;
	switch (k->kind) {
	case K_ZIP:
		st = scan_zip_names(w->tail.buf, scan_mime_tail_flat(&w->tail), w->tail.total,
				    on_file_name, w);
		if (st != ZIP_OK && st != ZIP_STOPPED)
			limit(w, MIME_LIMIT_ZIP, "zip attachment %s: %s", k->what, scan_zip_strerror(st));
		break;
	case K_GZIP:
		scan_embed_gzip(k->head, k->nhead, on_file_name, w);
		break;
	case K_TNEF:
		if (scan_embed_tnef_end(&k->tnef) < 0)
			limit(w, MIME_LIMIT_EMBED, "TNEF attachment %s not read whole", k->what);
		break;
	case K_TAR:
		if (k->tar.limit)
			limit(w, MIME_LIMIT_EMBED, "tar attachment %s: a long name not read whole", k->what);
		else if (!k->tar.done)
			limit(w, MIME_LIMIT_EMBED, "tar attachment %s cut short", k->what);
		break;
	default:
		break;
	}
	scan_embed_tnef_free(&k->tnef);
	scan_embed_tar_free(&k->tar);
}

/* ---- leaves: decoded bodies handed to lim.leaves ---- */

static void leaf_add(struct walk *w, const void *d, size_t n)
{
	if (!w->p.leaf || w->leaf_over || !n)
		return;
	if (w->nleaf + n > w->lim.leaves->max) {
		w->leaf_over = 1;
		return;
	}
	if (w->nleaf + n > w->cap_leaf) {
		size_t cap = w->cap_leaf ? w->cap_leaf : 16384;
		unsigned char *nb;

		while (cap < w->nleaf + n)
			cap *= 2;
		if (!(nb = realloc(w->leaf, cap))) {
			w->status = MIME_ENOMEM;
			w->stop = 1;
			return;
		}
		w->leaf = nb;
		w->cap_leaf = cap;
	}
	memcpy(w->leaf + w->nleaf, d, n);
	w->nleaf += n;
}

/* leaf_end - the part ends: hand its body on */
static void leaf_end(struct walk *w)
{
	if (!w->p.leaf)
		return;
	w->p.leaf = 0;
	if (w->leaf_over)
		w->res->unwalked++;
	else if (!w->stop && w->lim.leaves->fn(w->lim.leaves->ctx, w->leaf, w->nleaf, w->p.what, w->nframes))
		w->stop = 1;
	w->nleaf = 0;
	w->leaf_over = 0;
}

/* ---- text bodies: begin lines, and the files they open ---- */

/*
 * BinHex 4.0: after the "(This file must be converted with BinHex 4.0)"
 * line (or in an application/mac-binhex40 part), the first line opening
 * with ':' starts six-bit text up to the next ':'; its bytes, once the
 * run-length coding is expanded (0x90 n repeats the byte before it n - 1
 * times, 0x90 0 is 0x90 itself), are a header (name length, name, version,
 * type, creator, flags, data fork and resource fork lengths, CRC), the data
 * fork, the resource fork.  The name is reported; the data fork is read like
 * an attachment (a zip in it is listed).  A file cut before its name ends
 * is a limit.
 */
static void hqx_bytes(struct walk *w, unsigned char b, unsigned count)
{
	struct part *p = &w->p;

	while (count && p->hqx == 2 && !w->stop) {
		if (p->hqx_left) {
			unsigned char run[256];
			unsigned k = count < sizeof run ? count : sizeof run;

			if (k > p->hqx_left)
				k = p->hqx_left;
			memset(run, b, k);
			sink_add(w, run, k);
			count -= k;
			if ((p->hqx_left -= k) == 0) {
				sink_end(w);
				p->hqx = 0;	/* the resource fork is not read */
			}
			continue;
		}
		p->hqx_hdr[p->hqx_nhdr++] = b;
		count--;
		if (p->hqx_nhdr == 1u + p->hqx_hdr[0] && p->hqx_hdr[0])
			report(w, (const char *)p->hqx_hdr + 1, p->hqx_hdr[0], MIME_NAME_UUENCODE);
		if (p->hqx_nhdr == 1u + p->hqx_hdr[0] + 21) {
			const unsigned char *d = p->hqx_hdr + 1 + p->hqx_hdr[0] + 11;
			char what[64];

			p->hqx_left = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
			if (!p->hqx_left) {
				p->hqx = 0;
				continue;
			}
			scan_mime_printable(what, sizeof what, (const char *)p->hqx_hdr + 1, p->hqx_hdr[0]);
			sink_start(w, p->zip || ends_zip((const char *)p->hqx_hdr + 1, p->hqx_hdr[0]), what);
		}
	}
}

/* hqx_end - the BinHex text ended (its ':' or the part's end) */
static void hqx_end(struct walk *w)
{
	struct part *p = &w->p;

	if (p->hqx == 2 && (p->hqx_nhdr == 0 || p->hqx_nhdr < 1u + p->hqx_hdr[0]))
		limit(w, MIME_LIMIT_EMBED, "BinHex file%s%s cut before its name", *p->what ? " in " : "", p->what);
	if (p->hqx == 2 && w->sink.on)
		sink_end(w);	/* a data fork cut short: read as far as it goes */
	p->hqx = 0;
}

static void hqx_line(struct walk *w, const char *s, size_t n)
{
	struct part *p = &w->p;
	unsigned char out[MIME_LINE_MAX];
	size_t i;

	if (p->hqx == 1) {	/* text_line() saw the ':' opening the line */
		p->hqx = 2;
		memset(&p->hqxd, 0, sizeof p->hqxd);
		p->hqx_rle = 0;
		p->hqx_prev = -1;
		p->hqx_nhdr = 0;
		p->hqx_left = 0;
		w->res->unwalked++;	/* a file inside a leaf: the leaf is not the file */
		s++;
		n--;
	}
	for (i = 0; i < n && p->hqx == 2 && !p->hqxd.end && !w->stop; i += sizeof out - 4) {
		size_t c = n - i < sizeof out - 4 ? n - i : sizeof out - 4, k, j;

		k = scan_mime_hqx(&p->hqxd, s + i, c, out);
		for (j = 0; j < k && p->hqx == 2; j++) {
			unsigned char b = out[j];

			if (p->hqx_rle) {
				p->hqx_rle = 0;
				if (b == 0) {
					hqx_bytes(w, 0x90, 1);
					p->hqx_prev = 0x90;
				} else if (p->hqx_prev >= 0 && b > 1)
					hqx_bytes(w, (unsigned char)p->hqx_prev, b - 1u);
			} else if (b == 0x90)
				p->hqx_rle = 1;
			else {
				hqx_bytes(w, b, 1);
				p->hqx_prev = b;
			}
		}
	}
	if (p->hqx == 2 && p->hqxd.end)
		hqx_end(w);
}

static void text_line(struct walk *w, const char *s, size_t n, int bol)
{
	struct part *p = &w->p;
	const char *name;
	size_t nlen, k;
	int kind;

	if (p->hqx == 2 || (p->hqx == 1 && !p->uu && bol && n && s[0] == ':')) {
		hqx_line(w, s, n);
		return;
	}
	if (p->uu) {
		/* not w->dec: text_bytes() may be reading its input from there */
		unsigned char out[MIME_LINE_MAX];
		size_t e = n, i;

		if (!bol)
			return;	/* encoded lines are short: a long one is no file data */
		while (e && (s[e - 1] == '\n' || s[e - 1] == '\r'))
			e--;
		if ((p->uu == 1 && e >= 3 && !memcmp(s, "end", 3) && (e == 3 || s[3] == ' ')) ||
		    (p->uu == 2 && e >= 4 && !memcmp(s, "====", 4))) {
			sink_end(w);
			p->uu = 0;
			return;
		}
		if (p->uu == 1) {	/* a uuencoded line holds at most 63 bytes */
			k = scan_mime_uu(s, e < sizeof out ? e : sizeof out, out);
			sink_add(w, out, k);
			return;
		}
		for (i = 0; i < e; i += sizeof out - 4) {
			size_t c = e - i < sizeof out - 4 ? e - i : sizeof out - 4;

			k = scan_mime_b64(&p->uudec, s + i, c, out);
			sink_add(w, out, k);
		}
		return;
	}
	if (bol && n >= sizeof MIME_HQX_MARK - 1 && memmem(s, n, MIME_HQX_MARK, sizeof MIME_HQX_MARK - 1)) {
		p->hqx = 1;	/* begin lines still count until a ':' line opens the BinHex */
		return;
	}
	if (!bol || !n || (s[0] != 'b' && s[0] != '=') || !(kind = scan_mime_begin(s, n, &name, &nlen)))
		return;
	report(w, name, nlen, MIME_NAME_UUENCODE);
	w->res->unwalked++;	/* a file inside a leaf: the leaf is not the file */
	if (kind == 3 || w->stop)
		return;		/* yEnc: the name is all */
	{
		char what[64];

		scan_mime_printable(what, sizeof what, name, nlen);
		sink_start(w, p->zip || ends_zip(name, nlen), what);
	}
	p->uu = kind;
	memset(&p->uudec, 0, sizeof p->uudec);
}

/* text_bytes - decoded text, cut into lines for text_line() */
static void text_bytes(struct walk *w, const unsigned char *d, size_t n)
{
	struct part *p = &w->p;
	size_t i;

	for (i = 0; i < n && !w->stop; i++) {
		unsigned char c = d[i];

		if (p->tcr && c == '\n') {
			p->tcr = 0;
			continue;
		}
		p->tcr = 0;
		if (c == '\n' || c == '\r') {
			text_line(w, p->tl, p->tlen, p->tbol);
			p->tlen = 0;
			p->tbol = 1;
			p->tcr = c == '\r';
			continue;
		}
		p->tl[p->tlen++] = (char)c;
		if (p->tlen == sizeof p->tl) {
			text_line(w, p->tl, p->tlen, p->tbol);
			p->tlen = 0;
			p->tbol = 0;
		}
	}
}

/* ---- parts ---- */

/* cte_of - what a Content-Transfer-Encoding value says */
static enum cte cte_of(const char *f, size_t n)
{
	char tok[24];

	scan_mime_token(f, n, tok, sizeof tok);
	if (!strcmp(tok, "base64"))
		return CTE_B64;
	if (!strcmp(tok, "quoted-printable"))
		return CTE_QP;
	if (!strcmp(tok, "x-uuencode") || !strcmp(tok, "x-uue") || !strcmp(tok, "uuencode"))
		return CTE_UU;
	return CTE_NONE;
}

/*
 * field_values - the field as one or more values to parse: the whole of
 * it, or, when it was longer than the buffer, its head, its tail, the
 * tail read as if it began inside a quoted string (it may well), and head
 * and tail joined (one long value cut in its middle keeps both ends).
 */
static unsigned field_values(struct walk *w, const char **v, size_t *len)
{
	struct part *p = &w->p;
	size_t half = w->lim.max_header / 2;

	if (p->ftotal <= w->lim.max_header) {
		v[0] = w->field;
		len[0] = p->flen;
		return 1;
	}
	v[0] = w->field;
	len[0] = half;
	/* the tail sits at field + half + 1, after a '"' kept there */
	v[1] = w->field + half + 1;
	len[1] = p->flen - half - 1;
	v[2] = w->field + half;
	len[2] = p->flen - half;
	memcpy(w->join, w->field, half);
	memcpy(w->join + half, v[1], len[1]);
	v[3] = w->join;
	len[3] = half + len[1];
	return 4;
}

/* field_done - act on the Content-* field just gathered */
static void field_done(struct walk *w)
{
	struct part *p = &w->p;
	const char *v[4];
	size_t len[4];
	unsigned nv, i;

	if (p->field == F_NONE)
		return;
	if (p->ftotal > w->lim.max_header) {
		/* put the tail ring in order after the head and its '"' */
		size_t half = w->lim.max_header / 2, ring = w->lim.max_header - half - 1;
		size_t at = (size_t)((p->ftotal - half) % ring);	/* the oldest byte kept */
		char *t = w->field + half + 1;

		memcpy(w->scratch, t + at, ring - at);
		memcpy(w->scratch + (ring - at), t, at);
		memcpy(t, w->scratch, ring);
		p->flen = w->lim.max_header;
		limit(w, MIME_LIMIT_HEADER, "MIME header field longer than %zu bytes", w->lim.max_header);
	}
	nv = field_values(w, v, len);
	if (p->field == F_CTE) {
		enum cte c = cte_of(v[0], len[0]);

		if (c != CTE_NONE && p->cte != CTE_NONE && c != p->cte)
			limit(w, MIME_LIMIT_CTE, "two different Content-Transfer-Encoding fields");
		else if (c != CTE_NONE)
			p->cte = c;	/* encoded if any field says so */
	} else if (p->field == F_CTYPE) {
		char type[sizeof p->type], sub[sizeof p->sub];

		scan_mime_ctype(v[0], len[0], type, sizeof type, sub, sizeof sub);
		/* the first type counts, unless a later one opens a multipart */
		if (*type && (!*p->type || (!strcmp(type, "multipart") && strcmp(p->type, "multipart")))) {
			strcpy(p->type, type);
			strcpy(p->sub, sub);
			if (!strcmp(type, "multipart"))
				for (i = 0; i < nv && !p->btwo; i++)
					scan_mime_param(v[i], len[i], "boundary", 0, w->scratch, on_boundary, p);
		}
		if (!strcmp(type, "application") && (!strcmp(sub, "zip") || !strcmp(sub, "x-zip") ||
		    !strcmp(sub, "x-zip-compressed") || !strcmp(sub, "zip-compressed")))
			p->zip = 1;
	}
	if (p->field == F_CTYPE || p->field == F_CDISP) {
		/* both names in both fields: mail clients look in either */
		for (i = 0; i < nv && !w->stop; i++) {
			scan_mime_param(v[i], len[i], "filename", 1, w->scratch, on_header_name, w);
			if (!w->stop)
				scan_mime_param(v[i], len[i], "name", 1, w->scratch, on_header_name, w);
		}
	}
	p->field = F_NONE;
}

static void new_part(struct walk *w, int digest)
{
	memset(&w->p, 0, sizeof w->p);
	w->p.digest_part = digest;
	w->p.tbol = 1;
	if (++w->res->parts > w->lim.max_parts) {
		limit(w, MIME_LIMIT_PARTS, "more than %u MIME parts", w->lim.max_parts);
		w->stop = 2;
	}
}

/* inner_walk - an encoded message/rfc822, decoded: walk it as a message */
static void inner_walk(struct walk *w)
{
	struct mime_result r;
	enum mime_status st;
	unsigned parts = w->res->parts;

	if (w->inner_over)
		limit(w, MIME_LIMIT_EMBED, "encoded message/rfc822 larger than %zu bytes", w->lim.max_inner);
	if (!w->ninner || w->stop)
		return;
	if ((w->nframes ? w->frames[w->nframes - 1].msgs : w->base_msgs) + 1 > w->lim.max_messages) {
		limit(w, MIME_LIMIT_MESSAGES, "MIME structure too deep: more than %u nested messages",
		      w->lim.max_messages);
		return;
	}
	{
		struct mime_limits lim = w->lim;

		lim.max_parts = w->lim.max_parts > parts ? w->lim.max_parts - parts : 1;
		lim.leaves = NULL;	/* counted in unwalked instead */
		/*
		 * What this walk holds stays held while the inner one runs: the
		 * inner one gets what is left, so that messages encoded inside
		 * encoded messages never hold more than max_inner in all.
		 */
		lim.max_inner = w->lim.max_inner > w->ninner ? w->lim.max_inner - w->ninner : 1;
		st = walk(-1, w->inner, w->ninner, &lim,
			  (w->nframes ? w->frames[w->nframes - 1].msgs : w->base_msgs) + 1,
			  w->fn, w->ctx, &r);
	}
	w->res->parts += r.parts;
	w->res->names += r.names;
	w->res->unwalked += r.unwalked;
	if (r.limits)
		limit(w, r.limits, "%s", r.why);
	if (st == MIME_STOPPED)
		w->stop = 1;
	else if (st != MIME_OK) {
		w->status = st;
		w->stop = 1;
	}
}

/* part_done - the current part ends: finish what its body opened */
static void part_done(struct walk *w)
{
	struct part *p = &w->p;

	if (!p->in_body) {
		field_done(w);
		return;
	}
	if (p->cte == CTE_B64 && (p->body == B_FILE || p->body == B_TEXT)) {
		size_t k = scan_mime_b64_end(&p->dec, w->dec);	/* unpadded base64 */

		leaf_add(w, w->dec, k);
		if (p->body == B_FILE)
			sink_add(w, w->dec, k);
		else
			text_bytes(w, w->dec, k);
	}
	if (p->body == B_TEXT && p->tlen)
		text_bytes(w, (const unsigned char *)"\n", 1);
	if (p->hqx)
		hqx_end(w);
	if (w->sink.on)
		sink_end(w);
	leaf_end(w);
	if (p->body == B_INNER)
		inner_walk(w);
	w->ninner = 0;
	w->inner_over = 0;
}

static int push(struct walk *w, int multi)
{
	struct frame *f, *up = w->nframes ? &w->frames[w->nframes - 1] : NULL;
	unsigned mdepth = multi ? (up && up->multi ? up->mdepth : 0) + 1 : 0;
	unsigned msgs = (up ? up->msgs : w->base_msgs) + !multi;

	if (multi && mdepth > w->lim.max_depth) {
		limit(w, MIME_LIMIT_DEPTH, "MIME structure too deep: more than %u nested multiparts",
		      w->lim.max_depth);
		return -1;
	}
	if (!multi && msgs > w->lim.max_messages) {
		limit(w, MIME_LIMIT_MESSAGES, "MIME structure too deep: more than %u nested messages",
		      w->lim.max_messages);
		return -1;
	}
	if (w->nframes == w->cap_frames) {
		unsigned cap = w->cap_frames ? w->cap_frames * 2 : 8;
		struct frame *nf = realloc(w->frames, cap * sizeof *nf);

		if (!nf) {
			w->status = MIME_ENOMEM;
			w->stop = 1;
			return -1;
		}
		w->frames = nf;
		w->cap_frames = cap;
	}
	f = &w->frames[w->nframes++];
	f->multi = multi;
	f->digest = multi && !strcmp(w->p.sub, "digest");
	f->mdepth = mdepth;
	f->msgs = msgs;
	f->blen = multi ? w->p.blen : 0;
	memcpy(f->boundary, w->p.boundary, f->blen);
	return 0;
}

/* headers_done - the blank line: choose what to do with the body */
static void headers_done(struct walk *w)
{
	struct part *p = &w->p;
	int rfc822;

	field_done(w);
	p->in_body = 1;
	rfc822 = (!strcmp(p->type, "message") && (!strcmp(p->sub, "rfc822") || !strcmp(p->sub, "global")))
		|| (!*p->type && p->digest_part);
	if (!strcmp(p->type, "multipart") && (p->blen || p->btoolong)) {
		p->body = B_TEXT;	/* the preamble */
		p->cte = CTE_NONE;
		if (p->btoolong)
			limit(w, MIME_LIMIT_BOUNDARY, "MIME boundary longer than %d bytes", MIME_BOUNDARY_MAX);
		else
			push(w, 1);
		if (p->btwo)	/* mail clients differ on which one counts */
			limit(w, MIME_LIMIT_BOUNDARY, "two different MIME boundaries on one multipart");
	} else if (!strcmp(p->type, "message") && !strcmp(p->sub, "partial")) {
		/* a piece of a message sent in several: no scanner sees it whole */
		p->body = B_TEXT;
		w->res->unwalked++;
		limit(w, MIME_LIMIT_EMBED, "message/partial: a message in pieces cannot be scanned");
	} else if (rfc822 && (p->cte == CTE_B64 || p->cte == CTE_QP)) {
		w->res->unwalked++;
		p->body = B_INNER;
		w->ninner = 0;
		w->inner_over = 0;
	} else if (rfc822) {
		w->res->unwalked++;
		if (push(w, 0) < 0)
			p->body = B_IGNORE;
		else
			new_part(w, 0);
	} else if (p->cte == CTE_UU || !*p->type || !strcmp(p->type, "text") || !strcmp(p->type, "multipart") ||
		   (!strcmp(p->type, "application") && strstr(p->sub, "binhex"))) {
		p->body = B_TEXT;	/* x-uuencode has its begin line in the body */
		p->leaf = w->lim.leaves != NULL;
		if (!strcmp(p->type, "application") && strstr(p->sub, "binhex"))
			p->hqx = 1;	/* mac-binhex40: BinHex even without its first line */
	} else {
		p->body = B_FILE;
		p->leaf = w->lim.leaves != NULL;
		sink_start(w, p->zip, p->what);
	}
}

static void header_line(struct walk *w, const char *s, size_t n, int bol)
{
	struct part *p = &w->p;

	if (bol) {
		size_t e = n;

		while (e && (s[e - 1] == '\n' || s[e - 1] == '\r'))
			e--;
		if (!e) {
			headers_done(w);
			return;
		}
		if (s[0] != ' ' && s[0] != '\t') {
			const char *colon = memchr(s, ':', e);
			size_t nl;

			field_done(w);
			if (!colon)
				return;
			for (nl = (size_t)(colon - s); nl && (s[nl - 1] == ' ' || s[nl - 1] == '\t'); nl--)
				;
			if (nl == 12 && !strncasecmp(s, "content-type", nl))
				p->field = F_CTYPE;
			else if (nl == 19 && !strncasecmp(s, "content-disposition", nl))
				p->field = F_CDISP;
			else if (nl == 25 && !strncasecmp(s, "content-transfer-encoding", nl))
				p->field = F_CTE;
			else
				return;
			p->flen = 0;
			p->ftotal = 0;
			n -= (size_t)(colon + 1 - s);
			s = colon + 1;
		}
	}
	if (p->field == F_NONE)
		return;
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;		/* unfolding: drop the line break, keep the white space */
	{
		/*
		 * Up to max_header bytes the field is kept whole.  Beyond, the
		 * first half stays, then a '"', and the rest of the buffer is a
		 * ring holding the field's last bytes (field_done orders it).
		 */
		size_t half = w->lim.max_header / 2, ring = w->lim.max_header - half - 1;

		while (n) {
			size_t k;

			if (p->ftotal < w->lim.max_header) {
				k = w->lim.max_header - (size_t)p->ftotal;
				k = k < n ? k : n;
				memcpy(w->field + p->ftotal, s, k);
				p->flen = (size_t)p->ftotal + k;
			} else {
				size_t at;

				if (p->ftotal == w->lim.max_header) {
					/* first overflow: field byte j goes to ring slot (j - half) % ring */
					char last = w->field[w->lim.max_header - 1];

					memmove(w->field + half + 1, w->field + half, ring);
					w->field[half + 1] = last;
					w->field[half] = '"';
				}
				at = (size_t)((p->ftotal - half) % ring);
				k = ring - at < n ? ring - at : n;
				memcpy(w->field + half + 1 + at, s, k);
			}
			p->ftotal += k;
			s += k;
			n -= k;
		}
	}
}

static void body_line(struct walk *w, const char *s, size_t n, int bol)
{
	struct part *p = &w->p;
	size_t k = 0;
	int eol = n && (s[n - 1] == '\n' || s[n - 1] == '\r');

	if (p->body == B_IGNORE || (p->body == B_FILE && w->sink.kind == K_NONE && !p->leaf))
		return;		/* nothing more to learn from this body */
	if (p->body == B_TEXT && (p->cte == CTE_NONE || p->cte == CTE_UU)) {
		leaf_add(w, s, n);
		text_line(w, s, n, bol);
		return;
	}
	switch (p->cte) {
	case CTE_B64:
		k = scan_mime_b64(&p->dec, s, n, w->dec);
		break;
	case CTE_QP:
		k = scan_mime_qp(&p->qp, s, n, eol, w->dec);
		break;
	default:		/* 7bit, 8bit, binary: the bytes are the content */
		if (p->body == B_FILE) {
			leaf_add(w, s, n);
			sink_add(w, (const unsigned char *)s, n);
			return;
		}
		memcpy(w->dec, s, n);
		k = n;
		break;
	}
	if (p->body == B_TEXT || p->body == B_FILE)
		leaf_add(w, w->dec, k);
	if (p->body == B_TEXT)
		text_bytes(w, w->dec, k);
	else if (p->body == B_FILE)
		sink_add(w, w->dec, k);
	else if (p->body == B_INNER && !w->inner_over) {
		if (w->ninner + k > w->lim.max_inner) {
			w->inner_over = 1;
			return;
		}
		if (w->ninner + k > w->cap_inner) {
			size_t cap = w->cap_inner ? w->cap_inner : 65536;
			unsigned char *nb;

			while (cap < w->ninner + k)
				cap *= 2;
			if (!(nb = realloc(w->inner, cap))) {
				w->status = MIME_ENOMEM;
				w->stop = 1;
				return;
			}
			w->inner = nb;
			w->cap_inner = cap;
		}
		memcpy(w->inner + w->ninner, w->dec, k);
		w->ninner += k;
	}
}

/* delimiter - which open multipart, if any, this line delimits; -1 if none */
static int delimiter(struct walk *w, const char *s, size_t n, int *close)
{
	unsigned i;

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	for (i = w->nframes; i-- > 0;) {
		const struct frame *f = &w->frames[i];

		if (!f->multi || n < 2 + f->blen || memcmp(s + 2, f->boundary, f->blen))
			continue;
		if (n == 2 + f->blen)
			*close = 0;
		else if (n == 4 + f->blen && s[n - 2] == '-' && s[n - 1] == '-')
			*close = 1;
		else
			continue;
		return (int)i;
	}
	return -1;
}

static void line(struct walk *w, const char *s, size_t n, int bol)
{
	int close, i;

	if (bol && w->nframes && n > 2 && s[0] == '-' && s[1] == '-' &&
	    (i = delimiter(w, s, n, &close)) >= 0) {
		part_done(w);
		if (w->stop)
			return;
		w->nframes = (unsigned)i + 1;
		if (close) {	/* the epilogue, until an outer delimiter */
			memset(&w->p, 0, sizeof w->p);
			w->p.in_body = 1;
			w->p.body = B_TEXT;
			w->p.tbol = 1;
		} else
			new_part(w, w->frames[i].digest);
		return;
	}
	if (!w->p.in_body)
		header_line(w, s, n, bol);
	else
		body_line(w, s, n, bol);
}

static enum mime_status walk(int fd, const unsigned char *mem, uint64_t size,
			     const struct mime_limits *lim, unsigned base_msgs, mime_name_fn fn,
			     void *ctx, struct mime_result *res)
{
	struct mime_result dummy;
	struct walk w;
	const char *s;
	size_t n;
	int bol, r = 0;

	memset(&w, 0, sizeof w);
	w.lim = *lim;
	if (!w.lim.max_depth)
		w.lim.max_depth = MIME_DEPTH_DEFAULT;
	if (!w.lim.max_messages)
		w.lim.max_messages = MIME_MESSAGES_DEFAULT;
	if (!w.lim.max_parts)
		w.lim.max_parts = MIME_PARTS_DEFAULT;
	if (!w.lim.max_header)
		w.lim.max_header = MIME_HEADER_DEFAULT;
	if (w.lim.max_header < 64)
		w.lim.max_header = 64;
	if (!w.lim.max_inner)
		w.lim.max_inner = MIME_INNER_DEFAULT;
	if (!w.lim.chunk)
		w.lim.chunk = MIME_CHUNK_DEFAULT;
	if (w.lim.chunk < MIME_CHUNK_MIN)
		w.lim.chunk = MIME_CHUNK_MIN;
	w.tail.max = w.lim.max_zip ? w.lim.max_zip : MIME_ZIP_DEFAULT;
	w.base_msgs = base_msgs;
	w.fn = fn;
	w.ctx = ctx;
	w.res = res ? res : &dummy;
	memset(w.res, 0, sizeof *w.res);
	w.rd.fd = fd;
	w.rd.mem = mem;
	w.rd.size = size;
	w.rd.cap = w.lim.chunk;
	w.rd.bol = 1;
	w.rd.buf = malloc(w.lim.chunk);
	w.field = malloc(w.lim.max_header + 1);
	w.scratch = malloc(2 * w.lim.max_header + 2);
	w.join = malloc(w.lim.max_header);
	w.dec = malloc((w.lim.chunk > MIME_LINE_MAX ? w.lim.chunk : MIME_LINE_MAX) + 8);
	scan_embed_tnef_init(&w.sink.tnef);
	scan_embed_tar_init(&w.sink.tar);
	if (!w.rd.buf || !w.field || !w.scratch || !w.join || !w.dec) {
		w.status = MIME_ENOMEM;
		goto out;
	}
	/* the message itself is the first part, at depth 0 */
	new_part(&w, 0);
	while (!w.stop && (r = next_piece(&w, &s, &n, &bol)) > 0)
		line(&w, s, n, bol);
	if (r >= 0 && !w.stop)
		part_done(&w);
	if (w.status == MIME_OK && w.stop == 1)
		w.status = MIME_STOPPED;
out:
	free(w.rd.buf);
	free(w.field);
	free(w.scratch);
	free(w.join);
	free(w.dec);
	free(w.frames);
	free(w.inner);
	free(w.leaf);
	scan_embed_tnef_free(&w.sink.tnef);
	scan_embed_tar_free(&w.sink.tar);
	scan_mime_tail_free(&w.tail);
	return w.status;
}

enum mime_status scan_mime_walk(int fd, off_t size, const struct mime_limits *lim,
				mime_name_fn fn, void *ctx, struct mime_result *res)
{
	return walk(fd, NULL, size > 0 ? (uint64_t)size : 0, lim, 0, fn, ctx, res);
}

enum mime_status scan_mime_walk_mem(const void *buf, size_t len, const struct mime_limits *lim,
				    mime_name_fn fn, void *ctx, struct mime_result *res)
{
	return walk(-1, buf, len, lim, 0, fn, ctx, res);
}
