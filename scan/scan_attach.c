/*
 * scan_attach.c - the attach backend: banned attachment names.
 *
 * SUMMARY
 *	What simscan's ssattach and attach= do, more thoroughly: every file
 *	name the MIME walker (scan_mime.c) finds is matched, case-insensitively,
 *	as a suffix against the banned list (SLUICE_BANNED; default
 *	SCAN_BANNED_DEFAULT), one entry an extension (".exe") or any name
 *	suffix.  Names are normalised first the way Windows opens them:
 *	trailing dots and spaces and a "::$DATA" stream suffix go, any path
 *	goes, and a name with a NUL in it is matched up to the NUL as well.
 *
 *	init() parses the list once into a state that stays read-only, so any
 *	number of workers may scan() with it at once; per-scan state lives in
 *	the call.  There is nothing to reload.  stats() reports counters.
 *
 *	Nesting is allowed as deep as libclamav allows it (scan_mime.h):
 *	max_recursion (libclamav's MaxRecursion, default 17) message/rfc822
 *	encapsulations, and attach_max_depth (default max_recursion + 1)
 *	multiparts inside one message.
 *
 * DIAGNOSTICS
 *	A banned name gives SCAN_BANNED with the name as decoded, made
 *	printable: a banned name wins over a limit.  A walker limit (nesting,
 *	parts, a header field too long, a boundary too long, a zip or TNEF
 *	stream that cannot be read whole, two transfer encodings) is never
 *	clean: it gives SCAN_LIMIT with the limit in words ("MIME structure
 *	too deep: ..."), and the daemon's SLUICE_ON_LIMIT decides.  A read
 *	error, no memory, the deadline or a cancel give SCAN_ERROR.  stats()
 *	counts scans, banned, limits and errors.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan_mime.h"

#define SCANNER "attach"

struct attach_ban {
	size_t n;
	struct {
		const char *s;	/* lowercased */
		size_t len;
	} *e;
	char *store;
};

struct attach_state {
	struct attach_ban *ban;
	unsigned max_depth, max_messages;
	atomic_ulong scans, banned, limited, errors;
};

struct hit {
	const struct attach_ban *ban;
	const struct scan_input *in;
	int found;
	char name[sizeof ((struct scan_verdict *)0)->name];
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

static int is_sep(int c)
{
	return c == ' ' || c == '\t' || c == ',' || c == ':' || c == '\r' || c == '\n';
}

struct attach_ban *scan_attach_ban_parse(const char *list)
{
	struct attach_ban *b = calloc(1, sizeof *b);
	size_t i, n = 0, len = strlen(list);

	if (!b || !(b->store = malloc(len + 1)) || !(b->e = calloc(len / 2 + 1, sizeof *b->e))) {
		scan_attach_ban_free(b);
		return NULL;
	}
	for (i = 0; i <= len; i++)
		b->store[i] = (char)lower((unsigned char)list[i]);
	for (i = 0; i < len;) {
		size_t start;

		while (i < len && is_sep((unsigned char)b->store[i]))
			i++;
		for (start = i; i < len && !is_sep((unsigned char)b->store[i]); i++)
			;
		if (i > start) {	/* entries are at least 1 byte + a separator apart */
			b->e[n].s = b->store + start;
			b->e[n++].len = i - start;
		}
	}
	b->n = n;
	return b;
}

void scan_attach_ban_free(struct attach_ban *b)
{
	if (!b)
		return;
	free(b->store);
	free(b->e);
	free(b);
}

static int ends_with(const char *s, size_t n, const char *suf, size_t slen)
{
	size_t i;

	if (n < slen)
		return 0;
	for (i = 0; i < slen; i++)
		if (lower((unsigned char)s[n - slen + i]) != (unsigned char)suf[i])
			return 0;
	return 1;
}

/* norm - what Windows opens of s[0..n): s[*start..*end) */
static void norm(const char *s, size_t n, size_t *start, size_t *end)
{
	size_t prev;

	do {			/* what Windows drops from the end of a name */
		prev = n;
		while (n && s[n - 1] && strchr(" .\t\r\n", s[n - 1]))
			n--;
		while (n && !s[n - 1])
			n--;
		if (ends_with(s, n, "::$data", 7))
			n -= 7;
	} while (n != prev);
	for (*start = n; *start && s[*start - 1] != '/' && s[*start - 1] != '\\'; (*start)--)
		;
	*end = n;
}

/* policy - the message's policy on the normalised s[0..n): 1 banned, 0
 * not, -1 the backend's own list decides */
static int policy(const struct scan_input *in, const char *s, size_t n)
{
	size_t start, end;

	norm(s, n, &start, &end);
	return in->banned(in->banned_arg, s + start, end - start);
}

int scan_attach_banned_for(const struct attach_ban *b, const struct scan_input *in, const char *name,
			   size_t len)
{
	const char *nul;
	int r;

	if (!in || !in->banned)
		return scan_attach_banned(b, name, len);
	if ((r = policy(in, name, len)) < 0)
		return scan_attach_banned(b, name, len);
	/* Windows APIs stop at a NUL: "a.exe\0.txt" opens as a.exe */
	if (!r && (nul = memchr(name, 0, len)))
		r = policy(in, name, (size_t)(nul - name)) > 0;
	return r;
}

/* match - the normalised s[0..n) against the list */
static int match(const struct attach_ban *b, const char *s, size_t n)
{
	size_t i, start;

	norm(s, n, &start, &n);
	for (i = 0; i < b->n; i++)
		if (ends_with(s + start, n - start, b->e[i].s, b->e[i].len))
			return 1;
	return 0;
}

int scan_attach_banned(const struct attach_ban *b, const char *name, size_t len)
{
	const char *nul;

	if (match(b, name, len))
		return 1;
	/* Windows APIs stop at a NUL: "a.exe\0.txt" opens as a.exe */
	return (nul = memchr(name, 0, len)) && match(b, name, (size_t)(nul - name));
}

static int on_name(void *ctx, const char *name, size_t len, enum mime_origin o)
{
	struct hit *h = ctx;

	if (!scan_attach_banned_for(h->ban, h->in, name, len))
		return 0;
	h->found = 1;
	scan_mime_printable(h->name, MIME_NAME_SHOWN + 1, name, len);
	return 1;
}

static int attach_init(void **state, const struct scan_config *cfg, char *err, size_t errlen)
{
	struct attach_state *st;
	const char *list = cfg && cfg->banned && *cfg->banned ? cfg->banned : SCAN_BANNED_DEFAULT;
	unsigned rec = cfg && cfg->max_recursion ? cfg->max_recursion : MIME_RECURSION_DEFAULT;

	*state = NULL;
	if (!(st = calloc(1, sizeof *st)) || !(st->ban = scan_attach_ban_parse(list))) {
		free(st);
		snprintf(err, errlen, "attach: %s", strerror(ENOMEM));
		return -1;
	}
	st->max_depth = cfg && cfg->attach_max_depth ? cfg->attach_max_depth : rec + 1;
	st->max_messages = rec;
	*state = st;
	return 0;
}

static void attach_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	struct attach_state *st = state;
	struct mime_limits lim = { .max_depth = st->max_depth, .max_messages = st->max_messages,
				   .deadline_ms = in->deadline_ms,
				   .cancel = in->cancel };
	struct mime_result res;
	struct hit h = { .ban = st->ban, .in = in };
	enum mime_status ms;

	atomic_fetch_add_explicit(&st->scans, 1, memory_order_relaxed);
	ms = scan_mime_walk(in->fd, in->size, &lim, on_name, &h, &res);
	if (h.found) {
		atomic_fetch_add_explicit(&st->banned, 1, memory_order_relaxed);
		scan_verdict_set(v, SCAN_BANNED, SCANNER, "%s", h.name);
		return;
	}
	switch (ms) {
	case MIME_OK:
	case MIME_STOPPED:
		break;
	case MIME_EIO:
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "attach: read: %s", strerror(res.err));
		goto error;
	case MIME_ENOMEM:
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "attach: %s", strerror(ENOMEM));
		goto error;
	case MIME_DEADLINE:
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "attach: deadline");
		goto error;
	case MIME_CANCELLED:
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "cancelled");
		goto error;
	}
	if (res.limits) {
		atomic_fetch_add_explicit(&st->limited, 1, memory_order_relaxed);
		scan_verdict_set(v, SCAN_LIMIT, SCANNER, "%s", res.why);
		return;
	}
	scan_verdict_set(v, SCAN_CLEAN, SCANNER, NULL);
	return;
error:
	atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
}

static size_t attach_stats(void *state, char *buf, size_t len)
{
	struct attach_state *st = state;
	int n = snprintf(buf, len, "attach_scans %lu\nattach_banned %lu\nattach_limits %lu\nattach_errors %lu\n",
			 atomic_load(&st->scans), atomic_load(&st->banned),
			 atomic_load(&st->limited), atomic_load(&st->errors));

	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : (len ? len - 1 : 0);
}

static void attach_fini(void *state)
{
	struct attach_state *st = state;

	if (!st)
		return;
	scan_attach_ban_free(st->ban);
	free(st);
}

const struct scan_backend scan_backend_attach = {
	.name = SCANNER,
	.init = attach_init,
	.scan = attach_scan,
	.reload = NULL,
	.stats = attach_stats,
	.fini = attach_fini,
};
