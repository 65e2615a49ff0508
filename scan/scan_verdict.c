/*
 * scan_verdict.c - verdicts and the clock of every deadline.
 *
 * SUMMARY
 *	scan_verdict_set() fills a verdict; scan_verdict_merge() keeps the
 *	stricter of two (enum order; on equal kinds the first one stays, so
 *	the log names the scanner that decided first, except that a plain
 *	spam verdict outranks a spam verdict asking for a deferral or a tag);
 *	scan_headers_add() appends a header line made header-safe;
 *	scan_kind_name() names a kind for logs and stats; scan_now_ms() is
 *	CLOCK_MONOTONIC in milliseconds.
 *
 *	With scan_exec.c this is the part of scan/ that sluice-queue's direct
 *	mode links (libc only, static, musl): the QHPSI scanner there is the
 *	daemon's exec backend, not a second copy.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "scan.h"

void scan_verdict_set(struct scan_verdict *v, enum scan_kind kind, const char *scanner,
		      const char *fmt, ...)
{
	va_list ap;

	v->kind = kind;
	v->scanner = scanner;
	v->score = v->required = 0;
	v->flags = 0;
	v->name[0] = 0;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(v->name, sizeof v->name, fmt, ap);
		va_end(ap);
	}
}

/* spam_rank - a plain spam verdict (the admin's action) outranks a deferral,
 * which outranks a request to tag */
static int spam_rank(const struct scan_verdict *v)
{
	return (v->flags & SCAN_F_TAG) ? 0 : (v->flags & SCAN_F_DEFER) ? 1 : 2;
}

int scan_verdict_merge(struct scan_verdict *into, const struct scan_verdict *from)
{
	if (from->kind > into->kind ||
	    (from->kind == SCAN_SPAM && into->kind == SCAN_SPAM && spam_rank(from) > spam_rank(into))) {
		*into = *from;
		return 1;
	}
	return 0;
}

/* folded - s starts with blanks followed by text on the same line */
static int folded(const char *s)
{
	if (*s != ' ' && *s != '\t')
		return 0;
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	return *s && *s != '\n';
}

int scan_headers_add(struct scan_headers *h, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), i;
	char *p;

	if (h->len + nl + 2 + vl + 1 > sizeof h->buf - 1)
		return -1;
	p = h->buf + h->len;
	memcpy(p, name, nl);
	memcpy(p + nl, ": ", 2);
	p += nl + 2;
	for (i = 0; i < vl; i++) {
		unsigned char c = (unsigned char)value[i];

		/* a folded value keeps its folding: "\n", blanks, then text
		 * (never a blank line, which would end the header) */
		if (c == '\r' && value[i + 1] == '\n')
			c = ' ';
		if (c == '\n' && folded(value + i + 1))
			;
		else if (c < 0x20 && c != '\t')
			c = ' ';
		else if (c == 0x7f)
			c = ' ';
		*p++ = (char)c;
	}
	*p++ = '\n';
	*p = 0;
	h->len = (size_t)(p - h->buf);
	return 0;
}

const char *scan_kind_name(enum scan_kind kind)
{
	switch (kind) {
	case SCAN_CLEAN:
		return "clean";
	case SCAN_ERROR:
		return "error";
	case SCAN_SPAM:
		return "spam";
	case SCAN_LIMIT:
		return "limit";
	case SCAN_BANNED:
		return "banned";
	case SCAN_INFECTED:
		return "infected";
	}
	return "unknown";
}

int64_t scan_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
