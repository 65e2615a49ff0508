/*
 * scan_mime.c - the streaming MIME walker of the attach backend.
 *
 *	scan_mime_walk() reads the message with pread() into one buffer of
 *	lim->chunk bytes and hands it on line by line; a line longer than the
 *	buffer comes in pieces, the later ones marked as not starting a line.
 *	One loop drives a small machine:
 *	- a stack of frames, one per multipart (with its boundary) or
 *	  message/rfc822 encapsulation, at most lim->max_depth deep;
 *	- the current part: its header (Content-Type, Content-Disposition and
 *	  Content-Transfer-Encoding unfolded into one buffer of lim->max_header
 *	  bytes), then its body: ignored, text (looked at for uuencode and yEnc
 *	  begin lines) or base64 (decoded only to find and read zip archives).
 *	A delimiter line of any open multipart ends the part, and every frame
 *	above that multipart, so a missing close delimiter costs nothing.
 *	scan_mime_walk_mem() feeds the same machine from memory.
 *	scan_mime_printable() makes decoded names safe for logs.
 *
 * DIAGNOSTICS
 *	Memory is the read buffer, the header and decode buffers, the frame
 *	stack, and the zip tail (at most lim->max_zip), whatever the message.
 *	Work is linear in the message size.  Limits reached are recorded in
 *	struct mime_result and the walk goes on where it can; only the part
 *	limit ends it.  The deadline and the cancel flag are checked for every
 *	chunk read.
 *
 * BUGS
 *	Not looked into: base64-encoded message/rfc822 and text parts (no
 *	begin lines searched there), TNEF (winmail.dat), archives other than
 *	zip, and zip members themselves (a zip inside a zip is listed by name
 *	only, unless it is stored uncompressed: then its local headers show).
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
enum body { B_IGNORE, B_TEXT, B_B64 };

struct frame {
	int multi;		/* else message/rfc822 */
	int digest;		/* multipart/digest: parts default to message/rfc822 */
	size_t blen;
	char boundary[MIME_BOUNDARY_MAX + 1];
};

struct part {
	int in_body;
	enum body body;
	int digest_part;
	enum field field;	/* the Content-* field being gathered */
	size_t flen;
	int ftrunc;
	char type[32], sub[64];
	char boundary[MIME_BOUNDARY_MAX + 1];
	size_t blen;
	int btoolong;
	int b64;
	int zip;		/* collect the decoded body as a zip */
	char what[64];		/* the part's name, for the reasons */
	unsigned char head[4];	/* first decoded bytes, to recognise a zip */
	unsigned nhead;
	struct mime_b64 dec;
};

struct reader {
	int fd;
	const unsigned char *mem;
	uint64_t size, off;
	unsigned char *buf;
	size_t cap, beg, end, seen;	/* seen: bytes after beg known to hold no LF */
	int bol, eof;
};

struct walk {
	struct mime_limits lim;
	mime_name_fn fn;
	void *ctx;
	struct mime_result *res;
	struct reader rd;
	struct frame *frames;
	unsigned nframes;
	struct part p;
	char *field, *scratch;
	unsigned char *dec;
	struct mime_tail tail;
	int stop;		/* callback said so, or the part limit */
	enum mime_status status;
};

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

/* next_piece - a line, or a piece of a long one; 1, 0 at the end, -1 on error */
static int next_piece(struct walk *w, const char **s, size_t *n, int *bol)
{
	struct reader *r = &w->rd;

	for (;;) {
		size_t avail = r->end - r->beg;
		unsigned char *nl = memchr(r->buf + r->beg + r->seen, '\n', avail - r->seen);

		if (nl || avail == r->cap || (r->eof && avail)) {
			size_t len = nl ? (size_t)(nl - (r->buf + r->beg)) + 1 : avail;

			*s = (const char *)r->buf + r->beg;
			*n = len;
			*bol = r->bol;
			r->bol = nl != NULL;
			r->beg += len;
			r->seen = 0;
			return 1;
		}
		if (r->eof)
			return 0;
		r->seen = avail;
		memmove(r->buf, r->buf + r->beg, avail);
		r->beg = 0;
		r->end = avail;
		if (fill(w) < 0)
			return -1;
	}
}

static void report(struct walk *w, const char *name, size_t len, enum mime_origin o)
{
	w->res->names++;
	if (o == MIME_NAME_HEADER)
		scan_mime_printable(w->p.what, sizeof w->p.what, name, len);
	if (o == MIME_NAME_HEADER && len >= 4) {
		size_t n = len;

		while (n > 4 && (name[n - 1] == ' ' || name[n - 1] == '.'))
			n--;
		if (!strncasecmp(name + n - 4, ".zip", 4))
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

static int on_zip_name(void *ctx, const char *v, size_t n, enum mime_origin o)
{
	struct walk *w = ctx;

	report(w, v, n, o);
	return w->stop;
}

static int on_boundary(void *ctx, const char *v, size_t n)
{
	struct part *p = ctx;

	if (n > MIME_BOUNDARY_MAX)
		p->btoolong = 1;
	else {
		memcpy(p->boundary, v, n);
		p->blen = n;
	}
	return 1;		/* the first value counts */
}

/* field_done - act on the Content-* field just gathered */
static void field_done(struct walk *w)
{
	struct part *p = &w->p;
	const char *f = w->field;
	size_t n = p->flen;

	if (p->field == F_NONE)
		return;
	if (p->ftrunc)
		limit(w, MIME_LIMIT_HEADER, "MIME header field longer than %zu bytes", w->lim.max_header);
	if (p->field == F_CTE) {
		char tok[16];

		scan_mime_token(f, n, tok, sizeof tok);
		p->b64 = !strcmp(tok, "base64");
	} else if (p->field == F_CTYPE) {
		char type[sizeof p->type], sub[sizeof p->sub];

		scan_mime_ctype(f, n, type, sizeof type, sub, sizeof sub);
		/* the first type counts, unless a later one opens a multipart */
		if (*type && (!*p->type || (!strcmp(type, "multipart") && strcmp(p->type, "multipart")))) {
			strcpy(p->type, type);
			strcpy(p->sub, sub);
			if (!strcmp(type, "multipart"))
				scan_mime_param(f, n, "boundary", 0, w->scratch, on_boundary, p);
		}
		if (!strcmp(type, "application") && (!strcmp(sub, "zip") || !strcmp(sub, "x-zip") ||
		    !strcmp(sub, "x-zip-compressed") || !strcmp(sub, "zip-compressed")))
			p->zip = 1;
	}
	if (p->field == F_CTYPE || p->field == F_CDISP) {
		/* both names in both fields: mail clients look in either */
		if (!w->stop)
			scan_mime_param(f, n, "filename", 1, w->scratch, on_header_name, w);
		if (!w->stop)
			scan_mime_param(f, n, "name", 1, w->scratch, on_header_name, w);
	}
	p->field = F_NONE;
}

static void new_part(struct walk *w, int digest)
{
	memset(&w->p, 0, sizeof w->p);
	w->p.digest_part = digest;
	w->tail.len = w->tail.head = 0;
	w->tail.total = 0;
	if (++w->res->parts > w->lim.max_parts) {
		limit(w, MIME_LIMIT_PARTS, "more than %u MIME parts", w->lim.max_parts);
		w->stop = 2;
	}
}

/* part_done - the current part ends: read the zip it held */
static void part_done(struct walk *w)
{
	struct part *p = &w->p;
	enum zip_status st;
	size_t len;

	if (!p->in_body)
		field_done(w);
	if (!p->in_body || p->body != B_B64 || !p->zip || w->stop)
		return;
	len = scan_mime_tail_flat(&w->tail);
	st = scan_zip_names(w->tail.buf, len, w->tail.total, on_zip_name, w);
	if (st != ZIP_OK && st != ZIP_STOPPED)
		limit(w, MIME_LIMIT_ZIP, "zip attachment %s: %s", *p->what ? p->what : "(no name)",
		      scan_zip_strerror(st));
}

static int push(struct walk *w, int multi)
{
	struct frame *f;

	if (w->nframes >= w->lim.max_depth) {
		limit(w, MIME_LIMIT_DEPTH, "MIME nesting deeper than %u", w->lim.max_depth);
		return -1;
	}
	f = &w->frames[w->nframes++];
	f->multi = multi;
	f->digest = multi && !strcmp(w->p.sub, "digest");
	f->blen = w->p.blen;
	memcpy(f->boundary, w->p.boundary, w->p.blen);
	return 0;
}

/* headers_done - the blank line: choose what to do with the body */
static void headers_done(struct walk *w)
{
	struct part *p = &w->p;
	int rfc822;

	field_done(w);
	p->in_body = 1;
	p->body = B_TEXT;
	rfc822 = (!strcmp(p->type, "message") && (!strcmp(p->sub, "rfc822") || !strcmp(p->sub, "global")))
		|| (!*p->type && p->digest_part);
	if (!strcmp(p->type, "multipart") && (p->blen || p->btoolong)) {
		p->body = B_IGNORE;	/* the preamble */
		if (p->btoolong)
			limit(w, MIME_LIMIT_BOUNDARY, "MIME boundary longer than %d bytes", MIME_BOUNDARY_MAX);
		else
			push(w, 1);
	} else if (rfc822 && !p->b64) {
		if (push(w, 0) < 0)
			p->body = B_IGNORE;
		else
			new_part(w, 0);
	} else if (p->b64)
		p->body = B_B64;
}

static void header_line(struct walk *w, const char *s, size_t n, int bol)
{
	struct part *p = &w->p;
	size_t room;

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
			p->ftrunc = 0;
			n -= (size_t)(colon + 1 - s);
			s = colon + 1;
		}
	}
	if (p->field == F_NONE)
		return;
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;		/* unfolding: drop the line break, keep the white space */
	room = w->lim.max_header - p->flen;
	if (n > room) {
		n = room;
		p->ftrunc = 1;
	}
	memcpy(w->field + p->flen, s, n);
	p->flen += n;
}

static void body_line(struct walk *w, const char *s, size_t n, int bol)
{
	struct part *p = &w->p;
	const char *name;
	size_t nlen, k;
	unsigned char *d = w->dec;

	if (p->body == B_TEXT) {
		if (bol && (s[0] == 'b' || s[0] == '=') && scan_mime_begin(s, n, &name, &nlen))
			report(w, name, nlen, MIME_NAME_UUENCODE);
		return;
	}
	if (p->body != B_B64)
		return;
	k = scan_mime_b64(&p->dec, s, n, d);
	if (!p->zip) {		/* not named a zip: look at the first bytes */
		while (k && p->nhead < 4) {
			p->head[p->nhead++] = *d++;
			k--;
		}
		if (p->nhead < 4)
			return;
		if (memcmp(p->head, "PK\3\4", 4)) {
			p->body = B_IGNORE;
			return;
		}
		p->zip = 1;
		if (scan_mime_tail_add(&w->tail, p->head, 4) < 0)
			goto nomem;
	}
	if (k && scan_mime_tail_add(&w->tail, d, k) < 0)
		goto nomem;
	return;
nomem:
	w->status = MIME_ENOMEM;
	w->stop = 1;
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
			w->p.body = B_IGNORE;
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
			     const struct mime_limits *lim, mime_name_fn fn, void *ctx,
			     struct mime_result *res)
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
	if (!w.lim.max_parts)
		w.lim.max_parts = MIME_PARTS_DEFAULT;
	if (!w.lim.max_header)
		w.lim.max_header = MIME_HEADER_DEFAULT;
	if (!w.lim.chunk)
		w.lim.chunk = MIME_CHUNK_DEFAULT;
	if (w.lim.chunk < MIME_CHUNK_MIN)
		w.lim.chunk = MIME_CHUNK_MIN;
	w.tail.max = w.lim.max_zip ? w.lim.max_zip : MIME_ZIP_DEFAULT;
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
	w.dec = malloc(w.lim.chunk + 4);	/* base64 only shrinks */
	w.frames = calloc(w.lim.max_depth, sizeof *w.frames);
	if (!w.rd.buf || !w.field || !w.scratch || !w.dec || !w.frames) {
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
	free(w.dec);
	free(w.frames);
	scan_mime_tail_free(&w.tail);
	return w.status;
}

enum mime_status scan_mime_walk(int fd, off_t size, const struct mime_limits *lim,
				mime_name_fn fn, void *ctx, struct mime_result *res)
{
	return walk(fd, NULL, size > 0 ? (uint64_t)size : 0, lim, fn, ctx, res);
}

enum mime_status scan_mime_walk_mem(const void *buf, size_t len, const struct mime_limits *lim,
				    mime_name_fn fn, void *ctx, struct mime_result *res)
{
	return walk(-1, buf, len, lim, fn, ctx, res);
}
