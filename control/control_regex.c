/*
 * control_regex.c - simscan's regex= check on a message.
 *
 *	simscan matches every regex= pattern (PCRE) against every line of the
 *	message, headers and body alike, before any scanner, and rejects the
 *	message on the first match ("it matches a filter").  Here the
 *	patterns are POSIX extended expressions compiled case-insensitively
 *	at load (simscanmk lowercases them, so a case-sensitive match would
 *	miss what the admin meant), matched with REG_STARTEND so that a NUL
 *	byte in a line neither ends nor hides it.  A line longer than WINDOW
 *	is matched in windows that overlap by OVERLAP bytes (REG_NOTBOL after
 *	the first): a match longer than OVERLAP across a window boundary of
 *	such a line is the one thing missed.
 *
 * DIAGNOSTICS
 *	control_regex_scan(): -1 with errno on a read error (EIO for a file
 *	shorter than size) or when stop() asked to end (ECANCELED).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "control_int.h"

#define WINDOW 8192
#define OVERLAP 1024
#define BLOCK 16384

const char *control_regex_pattern(const struct control_regex *r)
{
	return r->pattern;
}

const char *control_regex_source(const struct control_regex *r)
{
	return r->source;
}

/* match - s[0..len) against every pattern; s[len] must be readable (a
 * checking regexec, as in AddressSanitizer, reads up to a NUL) */
static const struct control_regex *match(const struct control_result *res, const char *s,
					 size_t len, int notbol)
{
	size_t i;

	for (i = 0; i < res->nregex; i++) {
		regmatch_t pm[1];

		pm[0].rm_so = 0;
		pm[0].rm_eo = (regoff_t)len;
		if (regexec(&res->regex[i]->re, s, 1, pm, REG_STARTEND | (notbol ? REG_NOTBOL : 0)) == 0)
			return res->regex[i];
	}
	return NULL;
}

const struct control_regex *control_regex_match(const struct control_result *res,
						const char *line, size_t len)
{
	return match(res, line, len, 0);
}

int control_regex_scan(const struct control_result *res, int fd, off_t off, off_t size,
		       int (*stop)(void *), void *arg, const struct control_regex **hit)
{
	char block[BLOCK], line[WINDOW + 1];	/* + a NUL for regexec's sake */
	size_t llen = 0;
	int cont = 0;
	off_t end = off + size;

	*hit = NULL;
	if (!res->nregex)
		return 0;
	while (off < end) {
		size_t want = (size_t)(end - off) < BLOCK ? (size_t)(end - off) : BLOCK, i = 0;
		ssize_t got = pread(fd, block, want, off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0)
				errno = EIO;
			return -1;
		}
		off += got;
		while (i < (size_t)got) {
			const char *nl = memchr(block + i, '\n', (size_t)got - i);
			size_t n = nl ? (size_t)(nl - (block + i)) : (size_t)got - i;

			while (n) {	/* append, matching full windows of a long line */
				size_t take = n < WINDOW - llen ? n : WINDOW - llen;

				memcpy(line + llen, block + i, take);
				llen += take;
				i += take;
				n -= take;
				if (llen == WINDOW) {
					line[WINDOW] = 0;
					if ((*hit = match(res, line, llen, cont)))
						return 1;
					memmove(line, line + WINDOW - OVERLAP, OVERLAP);
					llen = OVERLAP;
					cont = 1;
				}
			}
			if (nl) {
				size_t l = llen && line[llen - 1] == '\r' ? llen - 1 : llen;

				line[l] = 0;
				if ((*hit = match(res, line, l, cont)))
					return 1;
				llen = 0;
				cont = 0;
				i++;
			}
		}
		if (stop && stop(arg)) {
			errno = ECANCELED;
			return -1;
		}
	}
	if (llen) {
		size_t l = line[llen - 1] == '\r' ? llen - 1 : llen;

		line[l] = 0;
		if ((*hit = match(res, line, l, cont)))
			return 1;
	}
	return 0;
}
