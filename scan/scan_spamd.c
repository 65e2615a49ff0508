/*
 * scan_spamd.c - the spamd backend: SpamAssassin's SPAMC/1.5 protocol.
 *
 * SUMMARY
 *	SLUICE_SPAMD lists the servers, as SLUICE_CLAMD does; scan_net.c
 *	picks, rests and probes them (PING -> PONG).  spamd answers one
 *	request per connection, so there is nothing to keep open.
 *
 *	Request: "<CMD> SPAMC/1.5", "Content-length: <size>", optionally
 *	"User: <name>" (SLUICE_SPAMD_USER; "%r" = the first recipient), a
 *	blank line, then the mess file read with pread() in chunks.  CMD is
 *	HEADERS when the message will be tagged (scan_input.want_headers: the
 *	reply's body is the message's header section as SpamAssassin rewrote
 *	it, from which the X-Spam-* lines are kept for the tag), else SYMBOLS
 *	(the body names the rules that hit, for the log).
 *
 *	Verdict: the "Spam: True|False ; <score> / <required>" header.  With
 *	SLUICE_SPAM_HITS set, spam means score >= that (simscan's spam_hits);
 *	else spamd's own judgement (its required_score).  Spam is SCAN_SPAM
 *	with the score and the threshold: the router's SLUICE_ON_SPAM decides
 *	(reject, tag for simscan's spam_passthru, ...).
 *
 *	Not checked, clean: messages larger than SLUICE_SPAM_MAXSIZE (simscan's
 *	size_limit; default 512000 bytes), and relay clients (RELAYCLIENT
 *	set) unless SLUICE_SPAM_RELAYCLIENT=1, as simscan does.
 *
 * DIAGNOSTICS
 *	SCAN_ERROR naming the server and the cause once every server was
 *	tried (connect, timeout, connection lost, a reply that is not
 *	SPAMD/1.x); spamd's own error code (EX_PROTOCOL, ...) is an error
 *	without failover: it is about this message, not the server.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "scan_int.h"

#define SCANNER "spamd"
#define CHUNK 65536
#define REPLY_MAX (256 * 1024)	/* HEADERS returns the header section: enough */
#define MAXSIZE_DEFAULT 512000

struct spamd {
	struct scan_servers set;
	const char *user;
	double hits;
	uint64_t maxsize;
	int relay;
	unsigned long spam, skipped, errors;	/* atomic */
};

enum { TRY_DONE, TRY_SERVER, TRY_OVER, TRY_TIMEOUT };

int scan_spamd_parse(const char *buf, size_t len, struct scan_spamd_reply *r)
{
	const char *p = buf, *end = buf + len, *eol;
	int first = 1;

	memset(r, 0, sizeof *r);
	while (p < end) {
		size_t ll;

		if (!(eol = memchr(p, '\n', (size_t)(end - p))))
			return -1;	/* the header part always ends in a line end */
		ll = (size_t)(eol - p);
		if (ll && p[ll - 1] == '\r')
			ll--;
		if (first) {
			char line[200];
			int n = 0;

			if (ll >= sizeof line || ll < 9 || strncmp(p, "SPAMD/1.", 8))
				return -1;
			memcpy(line, p, ll);
			line[ll] = 0;
			if (sscanf(line, "SPAMD/1.%*d %d %n", &r->code, &n) != 1 || n == 0)
				return -1;
			snprintf(r->msg, sizeof r->msg, "%s", line + n);
			first = 0;
		} else if (ll == 0) {
			r->body = eol + 1;
			r->body_len = (size_t)(end - r->body);
			return 0;
		} else if (ll > 5 && !strncasecmp(p, "Spam:", 5)) {
			char line[200], word[16];

			if (ll >= sizeof line)
				return -1;
			memcpy(line, p + 5, ll - 5);
			line[ll - 5] = 0;
			if (sscanf(line, " %15s ; %lf / %lf", word, &r->score, &r->required) != 3)
				return -1;
			r->have_spam = 1;
			r->spam = !strcasecmp(word, "True") || !strcasecmp(word, "Yes");
		}
		p = eol + 1;
	}
	/* CHECK: no body; the header part may end at EOF after the Spam: line */
	if (first)
		return -1;
	r->body = end;
	r->body_len = 0;
	return 0;
}

void scan_spamd_headers(const char *msg, size_t len, struct scan_headers *h)
{
	const char *p = msg, *end = msg + len;

	while (p < end) {
		const char *start = p, *colon, *vend;
		char name[80], *value;
		size_t nl;

		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			break;	/* end of the header section */
		/* one field: its line and its continuation lines */
		do {
			const char *eol = memchr(p, '\n', (size_t)(end - p));

			p = eol ? eol + 1 : end;
		} while (p < end && (*p == ' ' || *p == '\t'));
		vend = p;
		colon = memchr(start, ':', (size_t)(vend - start));
		if (!colon || (nl = (size_t)(colon - start)) >= sizeof name || nl < 7 ||
		    strncasecmp(start, "X-Spam-", 7))
			continue;
		memcpy(name, start, nl);
		name[nl] = 0;
		colon++;
		while (colon < vend && (*colon == ' ' || *colon == '\t'))
			colon++;
		while (vend > colon && (vend[-1] == '\n' || vend[-1] == '\r'))
			vend--;
		if (!(value = strndup(colon, (size_t)(vend - colon))))
			return;
		scan_headers_add(h, name, value);
		free(value);
	}
}

/* spamd_probe - PING: a "SPAMD/1.x 0 PONG" line? */
static int spamd_probe(void *ctx, struct scan_server *s, int64_t deadline)
{
	struct spamd *st = ctx;
	char reply[128];
	size_t got = 0;
	int fd = scan_net_connect(s, st->set.connect_ms, deadline, NULL);

	if (fd < 0)
		return -1;
	if (scan_net_write(fd, "PING SPAMC/1.5\r\n\r\n", 18, deadline, NULL) < 0) {
		close(fd);
		return -1;
	}
	while (got < sizeof reply - 1) {
		ssize_t r = scan_net_read(fd, reply + got, sizeof reply - 1 - got, deadline, NULL);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	reply[got] = 0;
	return strstr(reply, " PONG") && !strncmp(reply, "SPAMD/1.", 8) ? 0 : -1;
}

/* user_of - the User: value, or NULL: a name of printable non-blank ASCII */
static const char *user_of(const struct spamd *st, const struct scan_input *in)
{
	const char *u = in->spam_user ? in->spam_user : st->user, *p;

	if (u && !strcmp(u, "%r"))
		u = in->rcpts ? in->rcpts[0] : NULL;
	if (!u || !*u || strlen(u) > 255)
		return NULL;
	for (p = u; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return NULL;
	return u;
}

static int try_one(struct spamd *st, struct scan_server *s, const struct scan_input *in,
		   struct scan_verdict *v, char *why, size_t whylen, char *buf)
{
	int64_t deadline = in->deadline_ms;
	const char *cmd = in->want_headers && in->hdr ? "HEADERS" : "SYMBOLS", *user = user_of(st, in);
	struct scan_spamd_reply r;
	size_t got = 0;
	off_t off = 0;
	int fd, n, e;

	if ((fd = scan_net_connect(s, st->set.connect_ms, deadline, in->cancel)) < 0) {
		e = errno;
		goto ioerr;
	}
	n = snprintf(buf, CHUNK, "%s SPAMC/1.5\r\nContent-length: %lld\r\n%s%s%s\r\n", cmd,
		     (long long)in->size, user ? "User: " : "", user ? user : "", user ? "\r\n" : "");
	if (scan_net_write(fd, buf, (size_t)n, deadline, in->cancel) < 0) {
		e = errno;
		goto ioerr;
	}
	while (off < in->size) {
		size_t want = (uint64_t)(in->size - off) < CHUNK ? (size_t)(in->size - off) : CHUNK;
		ssize_t k = scan_net_pread(in->fd, buf, want, off);

		if (k <= 0) {
			scan_verdict_set(v, SCAN_ERROR, SCANNER, "cannot read the message: %s",
					 k < 0 ? strerror(errno) : "shorter than its size");
			close(fd);
			return TRY_OVER;
		}
		if (scan_net_write(fd, buf, (size_t)k, deadline, in->cancel) < 0) {
			e = errno;
			goto ioerr;
		}
		off += k;
	}
	shutdown(fd, SHUT_WR);
	/* spamd answers and closes; what does not fit is not needed */
	for (;;) {
		ssize_t k = scan_net_read(fd, buf + got, REPLY_MAX - 1 - got, deadline, in->cancel);

		if (k < 0) {
			e = errno;
			goto ioerr;
		}
		if (k == 0 || (got += (size_t)k) >= REPLY_MAX - 1)
			break;
	}
	close(fd);
	buf[got] = 0;
	if (scan_spamd_parse(buf, got, &r) < 0) {
		snprintf(why, whylen, "spamd %s: %s", s->name,
			 got ? "a reply that is not SPAMD/1.x" : "connection closed before its answer");
		return TRY_SERVER;
	}
	if (r.code != 0 || !r.have_spam) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "spamd %s: %d %s%s", s->name, r.code, r.msg,
				 r.have_spam ? "" : " (no Spam: line)");
		return TRY_DONE;
	}
	{
		double hits = in->spam_hits > 0 ? in->spam_hits : st->hits;
		double threshold = hits > 0 ? hits : r.required;
		int spam = hits > 0 ? r.score >= hits : r.spam;
		char syms[200] = "";

		if (!strcmp(cmd, "SYMBOLS")) {
			size_t k = r.body_len < sizeof syms - 1 ? r.body_len : sizeof syms - 1;

			memcpy(syms, r.body, k);
			syms[k] = 0;
			syms[strcspn(syms, "\r\n")] = 0;
		} else if (in->hdr)
			scan_spamd_headers(r.body, r.body_len, in->hdr);
		scan_verdict_set(v, spam ? SCAN_SPAM : SCAN_CLEAN, SCANNER, "score %.1f/%.1f%s%s",
				 r.score, threshold, *syms ? " " : "", syms);
		v->score = r.score;
		v->required = threshold;
	}
	return TRY_DONE;
ioerr:
	if (fd >= 0)
		close(fd);
	if (e == ECANCELED || e == ETIMEDOUT) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "spamd %s: %s", s->name, scan_net_why(e));
		snprintf(why, whylen, "%s", v->name);
		return e == ECANCELED ? TRY_OVER : TRY_TIMEOUT;
	}
	snprintf(why, whylen, "spamd %s: %s", s->name, scan_net_why(e));
	return TRY_SERVER;
}

static void spamd_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	struct spamd *st = state;
	unsigned long long tried = 0;
	char why[512] = "", *buf;
	uint64_t maxsize = in->spam_maxsize ? in->spam_maxsize : st->maxsize;

	__atomic_fetch_add(&st->set.scans, 1, __ATOMIC_RELAXED);
	if ((uint64_t)in->size > maxsize || (in->relayclient && !st->relay)) {
		scan_verdict_set(v, SCAN_CLEAN, SCANNER, "not checked: %s",
				 (uint64_t)in->size > maxsize ? "over the spam size limit" : "relay client");
		__atomic_fetch_add(&st->skipped, 1, __ATOMIC_RELAXED);
		return;
	}
	if (!(buf = malloc(REPLY_MAX > CHUNK ? REPLY_MAX : CHUNK))) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "out of memory");
		return;
	}
	for (;;) {
		struct scan_server *s = scan_servers_pick(&st->set, &tried, in->deadline_ms, in->cancel,
							  why, sizeof why);
		int64_t t0 = scan_now_ms();
		int rc;

		if (!s) {
			scan_verdict_set(v, SCAN_ERROR, SCANNER, "%s", why);
			break;
		}
		if (in->hdr)
			in->hdr->len = 0, in->hdr->buf[0] = 0;
		rc = try_one(st, s, in, v, why, sizeof why, buf);
		scan_servers_done(&st->set, s, rc != TRY_SERVER && rc != TRY_TIMEOUT,
				  scan_now_ms() - t0, why);
		if (rc != TRY_SERVER)
			break;
	}
	free(buf);
	if (v->kind == SCAN_SPAM)
		__atomic_fetch_add(&st->spam, 1, __ATOMIC_RELAXED);
	else if (v->kind == SCAN_ERROR)
		__atomic_fetch_add(&st->errors, 1, __ATOMIC_RELAXED);
}

static int spamd_init(void **state, const struct scan_config *cfg, char *err, size_t errlen)
{
	struct spamd *st = calloc(1, sizeof *st);
	char e[400];

	*state = NULL;
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	scan_servers_init(&st->set, SCANNER, cfg);
	st->set.probe = spamd_probe;
	st->set.ctx = st;
	st->user = cfg->spamd_user;
	st->hits = cfg->spam_hits;
	st->maxsize = cfg->spam_maxsize ? cfg->spam_maxsize : MAXSIZE_DEFAULT;
	st->relay = cfg->spam_relayclient;
	if (!cfg->spamd || !*cfg->spamd)
		snprintf(e, sizeof e, "names no server");
	if (!cfg->spamd || !*cfg->spamd || scan_servers_parse(&st->set, cfg->spamd, e, sizeof e) < 0) {
		snprintf(err, errlen, "SLUICE_SPAMD: %s", e);
		scan_servers_free(&st->set);
		free(st);
		return -1;
	}
	*state = st;
	return 0;
}

static size_t spamd_stats(void *state, char *buf, size_t len)
{
	struct spamd *st = state;
	size_t n = scan_servers_stats(&st->set, buf, len);
	int w;

	if (n + 1 >= len)
		return n;
	w = snprintf(buf + n, len - n, "spamd_spam %lu\nspamd_skipped %lu\nspamd_errors %lu\n",
		     __atomic_load_n(&st->spam, __ATOMIC_RELAXED),
		     __atomic_load_n(&st->skipped, __ATOMIC_RELAXED),
		     __atomic_load_n(&st->errors, __ATOMIC_RELAXED));
	return n + (w < 0 ? 0 : (size_t)w < len - n ? (size_t)w : len - n - 1);
}

static void spamd_fini(void *state)
{
	struct spamd *st = state;

	if (!st)
		return;
	scan_servers_free(&st->set);
	free(st);
}

const struct scan_backend scan_backend_spamd = {
	.name = SCANNER,
	.class = SCAN_NET,
	.init = spamd_init,
	.scan = spamd_scan,
	.stats = spamd_stats,
	.fini = spamd_fini,
};
