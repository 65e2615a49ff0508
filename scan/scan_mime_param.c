/*
 * scan_mime_param.c - the values of Content-Type and Content-Disposition.
 *
 *	scan_mime_ctype() and scan_mime_token() read the leading type/subtype
 *	or token.  scan_mime_param() finds every value of one parameter: as
 *	a quoted string or a token, RFC 2231 sections (attr*=, attr*N=,
 *	attr*N*=, in any order, percent-encoded with charset'language'), and
 *	RFC 2047 encoded words inside any of them, because mailers put them
 *	there although the RFC forbids it.  scan_mime_2047() decodes words,
 *	base64 ones with or without their padding.  Values declared UTF-16,
 *	UTF-32 or UTF-7 (RFC 2152; scan_mime_utf7()) are folded to ASCII,
 *	'?' for the rest, so that ".exe" stays visible to the suffix match.
 *	RFC 2231 sections are kept however many there are (one entry each,
 *	on the stack up to 64, then on the heap; out of memory, the first 64).
 *
 *	Parsing is deliberately lenient: a banned name must be found however
 *	a receiving mail client would read the field, so where readings
 *	differ (a missing ';', an unquoted value with spaces, backslashes in
 *	a quoted path) every reading is reported.
 *
 * DIAGNOSTICS
 *	None: every input gives some answer.  Output never grows beyond the
 *	input, which is how the callers size their buffers.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scan_mime.h"

#define STACK_SECTIONS	64	/* RFC 2231 sections held without malloc */

struct section {
	unsigned num;
	int ext;		/* attr*N*= : percent-encoded */
	const char *v;
	size_t vlen;
	int quoted;
};

static int is_wsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_tspecial(int c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static int is_token(int c)
{
	return c > ' ' && c < 127 && !is_tspecial(c);
}

/* skip_cfws - white space and (nested (comments)) */
static size_t skip_cfws(const char *s, size_t len, size_t i)
{
	unsigned depth = 0;

	for (; i < len; i++) {
		if (depth) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '(')
				depth++;
			else if (s[i] == ')')
				depth--;
		} else if (s[i] == '(')
			depth = 1;
		else if (!is_wsp((unsigned char)s[i]))
			break;
	}
	return i < len ? i : len;
}

static size_t copy_token(const char *s, size_t len, size_t i, char *out, size_t outlen)
{
	size_t o = 0;

	for (; i < len && is_token((unsigned char)s[i]); i++)
		if (o + 1 < outlen)
			out[o++] = (char)tolower((unsigned char)s[i]);
	if (outlen)
		out[o] = 0;
	return i;
}

void scan_mime_token(const char *val, size_t len, char *out, size_t outlen)
{
	copy_token(val, len, skip_cfws(val, len, 0), out, outlen);
}

void scan_mime_ctype(const char *val, size_t len, char *type, size_t tlen, char *sub, size_t slen)
{
	size_t i = copy_token(val, len, skip_cfws(val, len, 0), type, tlen);

	i = skip_cfws(val, len, i);
	if (i < len && val[i] == '/')
		copy_token(val, len, skip_cfws(val, len, i + 1), sub, slen);
	else if (slen)
		*sub = 0;
	if (!*sub && tlen)
		*type = 0;	/* "text" alone is no type: use the default */
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

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

size_t scan_mime_utf7(char *s, size_t n)
{
	size_t i = 0, o = 0;

	while (i < n) {
		uint32_t acc = 0;
		unsigned bits = 0;

		if (s[i] != '+') {
			s[o++] = s[i++];
			continue;
		}
		if (i + 1 < n && s[i + 1] == '-') {	/* "+-" is a plus sign */
			s[o++] = '+';
			i += 2;
			continue;
		}
		/* modified base64 of UTF-16BE, to '-' (taken) or any other character */
		for (i++; i < n && b64val((unsigned char)s[i]) >= 0; i++) {
			acc = (acc << 6 | (uint32_t)b64val((unsigned char)s[i])) & 0xffffff;
			bits += 6;
			if (bits >= 16) {
				unsigned c = (acc >> (bits - 16)) & 0xffff;

				bits -= 16;
				s[o++] = c < 0x80 ? (char)c : '?';	/* o <= i - 2 here */
			}
		}
		if (i < n && s[i] == '-')
			i++;
	}
	return o;
}

/*
 * fold_wide - names sent in UTF-16, UTF-32 or UTF-7 become ASCII with '?'
 * for the rest, so that ".exe" stays visible to the suffix match.
 */
static size_t fold_wide(const char *cs, size_t cslen, unsigned char *p, size_t n)
{
	unsigned unit, le = 0, i, o = 0;

	if ((cslen == 5 && !strncasecmp(cs, "utf-7", 5)) || (cslen == 17 && !strncasecmp(cs, "unicode-1-1-utf-7", 17)) ||
	    (cslen == 4 && !strncasecmp(cs, "utf7", 4)))
		return scan_mime_utf7((char *)p, n);
	if (cslen >= 6 && !strncasecmp(cs, "utf-16", 6))
		unit = 2;
	else if (cslen >= 5 && !strncasecmp(cs, "ucs-2", 5))
		unit = 2;
	else if ((cslen >= 6 && !strncasecmp(cs, "utf-32", 6)) || (cslen >= 5 && !strncasecmp(cs, "ucs-4", 5)))
		unit = 4;
	else
		return n;
	if (cslen >= 2 && !strncasecmp(cs + cslen - 2, "le", 2))
		le = 1;
	i = 0;
	if (n >= 2 && p[0] == 0xff && p[1] == 0xfe)
		le = 1, i = unit;
	else if (n >= 2 && p[0] == 0xfe && p[1] == 0xff)
		i = 2;
	else if (n >= 4 && unit == 4 && !p[0] && !p[1] && p[2] == 0xfe && p[3] == 0xff)
		i = 4;
	for (; i + unit <= n; i += unit) {
		uint32_t c = 0;
		unsigned k;

		for (k = 0; k < unit; k++)
			c |= (uint32_t)p[i + k] << (8 * (le ? k : unit - 1 - k));
		p[o++] = c < 0x80 ? (unsigned char)c : '?';
	}
	return o;
}

/* decode_word - one encoded word's text into out; returns length */
static size_t decode_word(int enc, const char *t, size_t tlen, unsigned char *out)
{
	size_t i, o = 0;
	struct mime_b64 b = { 0, 0 };

	if (enc == 'b') {	/* padding is often left out: what the quantum holds counts */
		o = scan_mime_b64(&b, t, tlen, out);
		return o + scan_mime_b64_end(&b, out + o);
	}
	for (i = 0; i < tlen; i++) {
		int h, l;

		if (t[i] == '_')
			out[o++] = ' ';
		else if (t[i] == '=' && i + 2 < tlen &&
			 (h = hexval((unsigned char)t[i + 1])) >= 0 &&
			 (l = hexval((unsigned char)t[i + 2])) >= 0) {
			out[o++] = (unsigned char)(h << 4 | l);
			i += 2;
		} else
			out[o++] = (unsigned char)t[i];
	}
	return o;
}

/*
 * try_word - an encoded word "=?charset?e?text?=" at in[i]; its decoding
 * goes to out, and the input it took is returned (0: not a word).
 */
static size_t try_word(const char *in, size_t len, size_t i, unsigned char *out, size_t *olen)
{
	size_t cs = i + 2, q1, t, e;
	int enc;

	if (i + 2 > len || in[i] != '=' || in[i + 1] != '?')
		return 0;
	for (q1 = cs; q1 < len && in[q1] != '?'; q1++)
		if (is_wsp((unsigned char)in[q1]) || q1 - cs > 64)
			return 0;
	if (q1 + 2 >= len || q1 == cs || in[q1 + 2] != '?')
		return 0;
	enc = tolower((unsigned char)in[q1 + 1]);
	if (enc != 'b' && enc != 'q')
		return 0;
	t = q1 + 3;
	for (e = t; e + 1 < len && !(in[e] == '?' && in[e + 1] == '='); e++)
		;
	if (e + 1 >= len)
		return 0;
	*olen = decode_word(enc, in + t, e - t, out);
	{
		size_t cslen = q1 - cs;
		const char *star = memchr(in + cs, '*', cslen);	/* RFC 2231 language */

		if (star)
			cslen = (size_t)(star - (in + cs));
		*olen = fold_wide(in + cs, cslen, out, *olen);
	}
	return e + 2 - i;
}

size_t scan_mime_2047(const char *in, size_t len, char *out)
{
	size_t i = 0, o = 0, after_word = 0;
	int only_ws = 0;	/* nothing but white space since the last word */

	while (i < len) {
		size_t olen, took;

		if (in[i] == '=' && (took = try_word(in, len, i, (unsigned char *)out + (only_ws ? after_word : o), &olen))) {
			o = (only_ws ? after_word : o) + olen;
			after_word = o;
			only_ws = 1;
			i += took;
			continue;
		}
		if (!is_wsp((unsigned char)in[i]))
			only_ws = 0;
		out[o++] = in[i++];
	}
	return o;
}

/* pct_decode - RFC 2231 %XX in place; returns the new length */
static size_t pct_decode(char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int h, l;

		if (s[i] == '%' && i + 2 < n && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)s[i + 2])) >= 0) {
			s[o++] = (char)(h << 4 | l);
			i += 2;
		} else
			s[o++] = s[i];
	}
	return o;
}

/* unquote - the quoted string's content with backslash escapes removed */
static size_t unquote(const char *v, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (v[i] == '\\' && i + 1 < n)
			i++;
		out[o++] = v[i];
	}
	return o;
}

struct emit {
	int decode;
	char *dec;		/* second half of scratch */
	mime_value_fn fn;
	void *ctx;
};

static int emit(struct emit *e, const char *v, size_t n)
{
	if (e->decode && memmem(v, n, "=?", 2)) {
		size_t d = scan_mime_2047(v, n, e->dec);

		return e->fn(e->ctx, e->dec, d);
	}
	return e->fn(e->ctx, v, n);
}

static int by_num(const void *a, const void *b)
{
	const struct section *x = a, *y = b;

	/* equal numbers keep their order: the first one counts */
	if (x->num != y->num)
		return x->num < y->num ? -1 : 1;
	return x->v < y->v ? -1 : x->v > y->v;
}

/* assemble - RFC 2231 sections in order into out; returns the length */
static size_t assemble(struct section *sec, unsigned n, char *out)
{
	unsigned i;
	size_t o = 0;
	const char *cs = NULL;
	size_t cslen = 0;

	qsort(sec, n, sizeof *sec, by_num);
	for (i = 0; i < n; i++) {
		size_t start = o, k;
		const char *v = sec[i].v;
		size_t vlen = sec[i].vlen;

		if (i && sec[i].num == sec[i - 1].num)
			continue;	/* a repeated section: the first one counts */
		if (sec[i].ext && i == 0) {
			const char *q1 = memchr(v, '\'', vlen), *q2;

			if (q1 && (q2 = memchr(q1 + 1, '\'', vlen - (size_t)(q1 + 1 - v)))) {
				cs = v;
				cslen = (size_t)(q1 - v);
				vlen -= (size_t)(q2 + 1 - v);
				v = q2 + 1;
			}
		}
		if (sec[i].quoted)
			o += unquote(v, vlen, out + o);
		else
			for (k = 0; k < vlen; k++)
				out[o++] = v[k];
		if (sec[i].ext)
			o = start + pct_decode(out + start, o - start);
	}
	if (cs)
		o = fold_wide(cs, cslen, (unsigned char *)out, o);
	return o;
}

/*
 * attr_match - does the name s[0..n) select attr?  Sets the RFC 2231
 * section (-1: plain) and whether it is extended.
 */
static int attr_match(const char *s, size_t n, const char *attr, long *num, int *ext)
{
	size_t alen = strlen(attr), i;

	if (n < alen || strncasecmp(s, attr, alen))
		return 0;
	*num = -1;
	*ext = 0;
	if (n == alen)
		return 1;
	if (s[alen] != '*')
		return 0;
	i = alen + 1;
	if (i == n) {		/* attr*= */
		*num = 0;
		*ext = 1;
		return 1;
	}
	*num = 0;
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		if (*num > 100000)
			return 0;
		*num = *num * 10 + (s[i] - '0');
	}
	if (i == alen + 1)
		return 0;
	if (i < n && s[i] == '*')
		*ext = 1, i++;
	return i == n;
}

int scan_mime_param(const char *val, size_t len, const char *attr, int decode,
		    char *scratch, mime_value_fn fn, void *ctx)
{
	struct section stack[STACK_SECTIONS], *sec = stack;
	unsigned nsec = 0, cap = STACK_SECTIONS;
	struct emit e = { decode, scratch + len + 1, fn, ctx };
	size_t i = 0;
	int r = 0;

	while (i < len) {
		size_t a, aend, v, vend, tend;
		long num;
		int ext, quoted = 0;

		/* a parameter starts after ';' or white space, outside quotes */
		i = skip_cfws(val, len, i);
		for (a = i; i < len && is_token((unsigned char)val[i]); i++)
			;
		aend = i;
		i = skip_cfws(val, len, i);
		if (a == aend || i >= len || val[i] != '=') {
			/* not "attr=": after a token, go on; else step over a char or string */
			if (a == aend && i < len) {
				if (val[i] == '"')
					for (i++; i < len && val[i] != '"'; i++)
						if (val[i] == '\\')
							i++;
				i++;
			}
			continue;
		}
		i = v = skip_cfws(val, len, i + 1);
		if (i < len && val[i] == '"') {
			quoted = 1;
			for (v = ++i; i < len && val[i] != '"'; i++)
				if (val[i] == '\\')
					i++;
			vend = i < len ? i : len;
			tend = vend;
			if (i < len)
				i++;
		} else {
			for (; i < len && val[i] != ';' && !is_wsp((unsigned char)val[i]) && val[i] != '"'; i++)
				;
			/*
			 * The lenient reading runs to ';' (Outlook writes spaces
			 * unquoted), but not across another attr=: that one is
			 * read on its own, and stopping there keeps this linear.
			 */
			tend = i;
			for (vend = i; vend < len && val[vend] != ';' && val[vend] != '='; vend++)
				;
			if (vend < len && val[vend] == '=')
				vend = tend;
			while (vend > tend && is_wsp((unsigned char)val[vend - 1]))
				vend--;
		}
		if (!attr_match(val + a, aend - a, attr, &num, &ext))
			continue;
		if (num >= 0) {
			if (nsec == cap) {
				struct section *ns = malloc(2 * cap * sizeof *ns);

				if (!ns)
					continue;	/* keep what we have */
				memcpy(ns, sec, nsec * sizeof *ns);
				if (sec != stack)
					free(sec);
				sec = ns;
				cap *= 2;
			}
			sec[nsec++] = (struct section){ (unsigned)num, ext, val + v, tend - v, quoted };
			continue;
		}
		if (quoted) {
			size_t n = unquote(val + v, vend - v, scratch);

			if ((r = emit(&e, scratch, n)))
				goto out;
			if (n != vend - v && (r = emit(&e, val + v, vend - v)))
				goto out;	/* the reading that keeps backslashes */
		} else {
			if ((r = emit(&e, val + v, tend - v)))
				goto out;
			if (vend != tend && (r = emit(&e, val + v, vend - v)))
				goto out;	/* the reading up to ';' */
		}
	}
	if (nsec)
		r = emit(&e, scratch, assemble(sec, nsec, scratch));
out:
	if (sec != stack)
		free(sec);
	return r;
}
