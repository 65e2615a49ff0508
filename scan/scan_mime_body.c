/*
 * scan_mime_body.c - what the MIME walker needs from body lines.
 *
 *	scan_mime_b64() is a streaming base64 decoder that skips anything
 *	outside the alphabet and restarts after padding, as mail clients do
 *	with sloppy encoders; scan_mime_b64_end() flushes an unpadded end.
 *	scan_mime_qp() decodes quoted-printable a line piece at a time,
 *	scan_mime_uu() one uuencoded line.  scan_mime_begin() recognises the
 *	line that opens a uuencoded ("begin 644 name", any octal mode up to
 *	six digits, any run of blanks: uudecode reads it with scanf),
 *	"begin-base64 644 name" or yEnc ("=ybegin ... name=name") file inside
 *	a text body.  scan_mime_hqx() decodes BinHex 4.0's six-bit text
 *	(its run-length coding is the walker's: scan_mime.c).
 *	scan_mime_tail_*() keep the last bytes of a decoded attachment: a zip
 *	is read from its end, so the tail is all that is needed of it however
 *	large the attachment is.
 *
 * DIAGNOSTICS
 *	scan_mime_tail_add() returns -1 when memory runs out.
 */
#include <stdlib.h>
#include <string.h>

#include "scan_mime.h"

/* BinHex 4.0's alphabet: a character's place in it is its six bits */
static const char hqx_alphabet[] = "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

size_t scan_mime_hqx(struct mime_hqx *h, const char *in, size_t len, unsigned char *out)
{
	size_t i, o = 0;

	for (i = 0; i < len && !h->end; i++) {
		unsigned char c = (unsigned char)in[i];
		const char *at;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == 0 || !(at = strchr(hqx_alphabet, c))) {
			h->end = 1;	/* the closing ':', or no BinHex */
			break;
		}
		h->acc = h->acc << 6 | (uint32_t)(at - hqx_alphabet);
		if (++h->n == 4) {
			out[o++] = (unsigned char)(h->acc >> 16);
			out[o++] = (unsigned char)(h->acc >> 8);
			out[o++] = (unsigned char)h->acc;
			h->n = 0;
			h->acc = 0;
		}
	}
	if (h->end && h->n >= 2) {	/* a last group of two or three characters */
		uint32_t acc = h->acc << (6 * (4 - h->n));

		out[o++] = (unsigned char)(acc >> 16);
		if (h->n == 3)
			out[o++] = (unsigned char)(acc >> 8);
		h->n = 0;
	}
	return o;
}

/* the base64 alphabet's values; -1 for every other byte ('=' included) */
static const signed char b64tab[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

size_t scan_mime_b64(struct mime_b64 *b, const char *in, size_t len, unsigned char *out)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t i = 0, o = 0;

	while (i < len) {
		signed char v;

		/* a whole quantum of alphabet characters: the common case, at once */
		if (b->n == 0 && len - i >= 4) {
			int q0 = b64tab[u[i]], q1 = b64tab[u[i + 1]], q2 = b64tab[u[i + 2]], q3 = b64tab[u[i + 3]];

			if ((q0 | q1 | q2 | q3) >= 0) {
				uint32_t acc = (uint32_t)q0 << 18 | (uint32_t)q1 << 12 | (uint32_t)q2 << 6 | (uint32_t)q3;

				out[o++] = (unsigned char)(acc >> 16);
				out[o++] = (unsigned char)(acc >> 8);
				out[o++] = (unsigned char)acc;
				i += 4;
				continue;
			}
		}
		if (u[i] == '=') {	/* padding: flush what the quantum holds */
			if (b->n == 2)
				out[o++] = (unsigned char)(b->acc >> 4);
			else if (b->n == 3) {
				out[o++] = (unsigned char)(b->acc >> 10);
				out[o++] = (unsigned char)(b->acc >> 2);
			}
			b->n = 0;
			b->acc = 0;
			i++;
			continue;
		}
		if ((v = b64tab[u[i++]]) < 0)
			continue;
		b->acc = (b->acc << 6 | (uint32_t)v) & 0xffffff;
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

size_t scan_mime_b64_end(struct mime_b64 *b, unsigned char *out)
{
	size_t o = 0;

	if (b->n == 2)
		out[o++] = (unsigned char)(b->acc >> 4);
	else if (b->n == 3) {
		out[o++] = (unsigned char)(b->acc >> 10);
		out[o++] = (unsigned char)(b->acc >> 2);
	}
	b->n = 0;
	b->acc = 0;
	return o;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* qp_flush - the pending "=XY": a byte, or the characters as they were */
static size_t qp_flush(struct mime_qp *q, unsigned char *out)
{
	size_t o = 0;
	int h, l;

	if (q->npend == 3 && (h = hexval((unsigned char)q->pend[1])) >= 0 &&
	    (l = hexval((unsigned char)q->pend[2])) >= 0) {
		out[o++] = (unsigned char)(h << 4 | l);
		q->npend = 0;
		return o;
	}
	/* not an escape: the '=' is literal, what followed is read again */
	out[o++] = '=';
	if (q->npend >= 2 && q->pend[1] == '=') {
		q->pend[1] = q->npend == 3 ? q->pend[2] : 0;
		q->npend--;
		return o;
	}
	if (q->npend >= 2)
		out[o++] = (unsigned char)q->pend[1];
	if (q->npend == 3 && q->pend[2] == '=') {
		q->pend[0] = '=';
		q->npend = 1;
		return o;
	}
	if (q->npend == 3)
		out[o++] = (unsigned char)q->pend[2];
	q->npend = 0;
	return o;
}

size_t scan_mime_qp(struct mime_qp *q, const char *in, size_t len, int eol, unsigned char *out)
{
	size_t i, o = 0, end = len;

	if (eol) {		/* the line break, and the white space before it, go */
		while (end && (in[end - 1] == '\n' || in[end - 1] == '\r'))
			end--;
		while (end && (in[end - 1] == ' ' || in[end - 1] == '\t'))
			end--;
	}
	for (i = 0; i < end; i++) {
		if (q->npend) {
			q->pend[q->npend++] = in[i];
			if (q->npend == 3)
				o += qp_flush(q, out + o);
		} else if (in[i] == '=') {
			q->pend[0] = '=';
			q->npend = 1;
		} else
			out[o++] = (unsigned char)in[i];
	}
	if (!eol)
		return o;
	if (q->npend == 1) {	/* "=" at the end: a soft line break */
		q->npend = 0;
		return o;
	}
	if (q->npend) {
		out[o++] = '=';
		if (q->npend == 2)
			out[o++] = (unsigned char)q->pend[1];
		q->npend = 0;
	}
	out[o++] = '\n';
	return o;
}

size_t scan_mime_uu(const char *in, size_t len, unsigned char *out)
{
	size_t want, i, o = 0;

	if (!len)
		return 0;
	want = (size_t)((in[0] - ' ') & 63);	/* the first character counts the bytes */
	for (i = 1; o < want && i < len; i += 4) {
		unsigned v[4], k;

		for (k = 0; k < 4; k++)
			v[k] = i + k < len ? (unsigned)((in[i + k] - ' ') & 63) : 0;
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (o < want)
			out[o++] = (unsigned char)(v[1] << 4 | v[2] >> 2);
		if (o < want)
			out[o++] = (unsigned char)(v[2] << 6 | v[3]);
	}
	return o;
}

static size_t after_mode(const char *s, size_t n, size_t i)
{
	size_t d;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	d = i;
	while (i < n && s[i] >= '0' && s[i] <= '7' && i - d < 6)
		i++;
	if (i == d || i >= n || (s[i] != ' ' && s[i] != '\t'))
		return 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

int scan_mime_begin(const char *s, size_t n, const char **name, size_t *nlen)
{
	size_t i = 0;
	int kind = 0;

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (n > 6 && !memcmp(s, "begin", 5) && (s[5] == ' ' || s[5] == '\t'))
		i = after_mode(s, n, 5), kind = 1;
	else if (n > 13 && !memcmp(s, "begin-base64", 12) && (s[12] == ' ' || s[12] == '\t'))
		i = after_mode(s, n, 12), kind = 2;
	else if (n > 8 && !memcmp(s, "=ybegin ", 8)) {
		/* name= is the last keyword and runs to the end of the line */
		const char *p = memmem(s + 7, n - 7, " name=", 6);

		if (p)
			i = (size_t)(p - s) + 6, kind = 3;
	}
	if (!i || i >= n)
		return 0;
	*name = s + i;
	*nlen = n - i;
	return kind;
}

int scan_mime_tail_add(struct mime_tail *t, const unsigned char *p, size_t n)
{
	size_t max = t->max ? t->max : MIME_ZIP_DEFAULT;

	t->total += n;
	if (t->len + n > t->cap && t->cap < max) {
		/* still linear (head == 0): grow by doubling up to max */
		size_t cap = t->cap ? t->cap : 65536;
		unsigned char *nb;

		while (cap < t->len + n && cap < max)
			cap *= 2;
		if (cap > max)
			cap = max;
		if (!(nb = realloc(t->buf, cap)))
			return -1;
		t->buf = nb;
		t->cap = cap;
	}
	if (n > t->cap) {	/* only the last cap bytes can be kept */
		p += n - t->cap;
		n = t->cap;
	}
	while (n) {
		size_t w = (t->head + t->len) % t->cap, k = t->cap - w;

		if (k > n)
			k = n;
		memcpy(t->buf + w, p, k);
		p += k;
		n -= k;
		if (t->len + k <= t->cap)
			t->len += k;
		else {
			t->head = (t->head + (t->len + k - t->cap)) % t->cap;
			t->len = t->cap;
		}
	}
	return 0;
}

static void reverse(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n / 2; i++) {
		unsigned char c = p[i];

		p[i] = p[n - 1 - i];
		p[n - 1 - i] = c;
	}
}

size_t scan_mime_tail_flat(struct mime_tail *t)
{
	if (t->head) {		/* rotate left by head: full, so len == cap */
		reverse(t->buf, t->head);
		reverse(t->buf + t->head, t->len - t->head);
		reverse(t->buf, t->len);
		t->head = 0;
	}
	return t->len;
}

void scan_mime_tail_free(struct mime_tail *t)
{
	free(t->buf);
	t->buf = NULL;
	t->cap = t->len = t->head = 0;
	t->total = 0;
}
