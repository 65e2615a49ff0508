/*
 * scan_mime_body.c - what the MIME walker needs from body lines.
 *
 *	scan_mime_b64() is a streaming base64 decoder that skips anything
 *	outside the alphabet and restarts after padding, as mail clients do
 *	with sloppy encoders.  scan_mime_begin() recognises the line that
 *	opens a uuencoded ("begin 644 name", "begin-base64 644 name") or
 *	yEnc ("=ybegin ... name=name") file inside a text body.
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

static signed char b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (signed char)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (signed char)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (signed char)(c - '0' + 52);
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

size_t scan_mime_b64(struct mime_b64 *b, const char *in, size_t len, unsigned char *out)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		signed char v;

		if (in[i] == '=') {	/* padding: flush what the quantum holds */
			if (b->n == 2)
				out[o++] = (unsigned char)(b->acc >> 4);
			else if (b->n == 3) {
				out[o++] = (unsigned char)(b->acc >> 10);
				out[o++] = (unsigned char)(b->acc >> 2);
			}
			b->n = 0;
			b->acc = 0;
			continue;
		}
		if ((v = b64val((unsigned char)in[i])) < 0)
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

static size_t after_mode(const char *s, size_t n, size_t i)
{
	size_t d = i;

	while (i < n && s[i] >= '0' && s[i] <= '7' && i - d < 4)
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

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (n > 6 && !memcmp(s, "begin ", 6))
		i = after_mode(s, n, 6);
	else if (n > 13 && !memcmp(s, "begin-base64 ", 13))
		i = after_mode(s, n, 13);
	else if (n > 8 && !memcmp(s, "=ybegin ", 8)) {
		/* name= is the last keyword and runs to the end of the line */
		const char *p = memmem(s + 7, n - 7, " name=", 6);

		if (p)
			i = (size_t)(p - s) + 6;
	}
	if (!i || i >= n)
		return 0;
	*name = s + i;
	*nlen = n - i;
	return 1;
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
