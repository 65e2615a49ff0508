/*
 * scan_clamd.c - the clamd backend: INSTREAM (or FILDES) to a pool of clamd servers.
 *
 * SUMMARY
 *	SLUICE_CLAMD lists the servers ("unix:/run/clamav/clamd.ctl,
 *	10.0.0.5:3310,[2001:db8::5]:3310"); scan_net.c picks one round-robin,
 *	rests a failed one and probes it with PING before using it again.  A
 *	scan tries the servers in turn until one answers (failover) or the
 *	deadline passes.
 *
 *	The message goes as clamd's INSTREAM: "zINSTREAM\0", then chunks of
 *	at most CHUNK bytes read with pread() from the mess file, each behind
 *	its 4-byte big-endian length, then a zero length.  Never the whole
 *	message in memory.  With SLUICE_CLAMD_FILDES=1 a unix-socket server
 *	gets the mess fd itself ("zFILDES\0" + SCM_RIGHTS) and reads the file
 *	in place; TCP servers still get INSTREAM.
 *
 *	Connections are clamd sessions (zIDSESSION): after an answer the
 *	connection is kept open (at most SCAN_NET_IDLE_MAX per server, for at
 *	most SCAN_NET_IDLE_MS) and the next job reuses it; replies then carry
 *	the command's number ("3: stream: OK").  A kept connection that turns
 *	out closed before its first reply byte is replaced by a new one once,
 *	without blaming the server.
 *
 *	Verdicts: "OK" clean; "<name> FOUND" infected, except the names
 *	clamd gives a limit hit (Heuristics.Limits.Exceeded.*), which are
 *	SCAN_LIMIT; "... size limit exceeded ... ERROR" (clamd's
 *	StreamMaxLength) SCAN_LIMIT "clamd stream limit exceeded"; any other
 *	ERROR: the next server, else SCAN_ERROR with clamd's text.
 *	A message larger than SLUICE_CLAMD_MAXSTREAM is SCAN_LIMIT without
 *	being sent (a truncated stream would be a partial scan).  When clamd
 *	resets the connection while the message is being sent, the server is
 *	PINGed: if it answers, it refused the stream (its StreamMaxLength is
 *	below ours): SCAN_LIMIT "clamd stream limit exceeded"; if not, it
 *	died: failover, else SCAN_ERROR.
 *
 * DIAGNOSTICS
 *	init: -1 with the bad server named.  scan: SCAN_ERROR naming the
 *	server and the cause (connect refused, timed out, connection lost,
 *	clamd's own ERROR text), after every server was tried.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "scan_int.h"

#define SCANNER "clamd"
#define CHUNK 65536
#define MAXSTREAM_DEFAULT (25ULL * 1024 * 1024)	/* clamd's StreamMaxLength default */
#define REPLY_MAX 1024
#define LIMIT_PREFIX "Heuristics.Limits.Exceeded"

struct clamd {
	struct scan_servers set;
	int fildes;
	uint64_t maxstream;
	unsigned long infected, limits, errors;	/* atomic */
};

/* outcomes of one try on one server */
enum {
	TRY_DONE,		/* a verdict */
	TRY_SERVER,		/* the server failed: the next one */
	TRY_STALE,		/* a kept connection was closed: a new one */
	TRY_OVER,		/* cancelled or our own failure: a verdict, stop */
	TRY_TIMEOUT,		/* the deadline passed: a verdict, the server rests */
};

int scan_clamd_reply(const char *reply, struct scan_verdict *v)
{
	const char *p = reply, *sep;
	size_t len;

	/* a session's reply starts with the command's number */
	if (*p >= '0' && *p <= '9') {
		p += strspn(p, "0123456789");
		if (p[0] == ':' && p[1] == ' ')
			p += 2;
		else
			p = reply;
	}
	/* then the object: "stream: " (INSTREAM) or "fd[N]: " (FILDES) */
	if (!strncmp(p, "stream: ", 8))
		p += 8;
	else if (!strncmp(p, "fd[", 3) && (sep = strstr(p, "]: ")))
		p = sep + 3;
	len = strlen(p);
	while (len && (p[len - 1] == '\n' || p[len - 1] == ' '))
		len--;
	if (len == 2 && !memcmp(p, "OK", 2)) {
		scan_verdict_set(v, SCAN_CLEAN, SCANNER, NULL);
		return 0;
	}
	if (len > 6 && !memcmp(p + len - 6, " FOUND", 6)) {
		int n = (int)(len - 6);

		if (!strncmp(p, LIMIT_PREFIX, strlen(LIMIT_PREFIX)))
			scan_verdict_set(v, SCAN_LIMIT, SCANNER, "clamd: %.*s", n, p);
		else
			scan_verdict_set(v, SCAN_INFECTED, SCANNER, "%.*s", n, p);
		return 0;
	}
	if (len >= 6 && !memcmp(p + len - 6, " ERROR", 6)) {
		if (strstr(p, "size limit exceeded"))
			scan_verdict_set(v, SCAN_LIMIT, SCANNER, "clamd stream limit exceeded");
		else
			scan_verdict_set(v, SCAN_ERROR, SCANNER, "clamd: %.*s", (int)(len - 6), p);
		return 0;
	}
	scan_verdict_set(v, SCAN_ERROR, SCANNER, "clamd: unexpected reply \"%.100s\"", reply);
	return -1;
}

/* command - send a z-command and read its NUL-terminated reply */
static int command(int fd, const char *cmd, char *reply, size_t cap, int64_t deadline,
		   atomic_int *cancel)
{
	size_t got = 0;

	if (scan_net_write(fd, cmd, strlen(cmd) + 1, deadline, cancel) < 0)
		return -1;
	while (got < cap - 1) {
		ssize_t r = scan_net_read(fd, reply + got, cap - 1 - got, deadline, cancel);

		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		got += (size_t)r;
		if (memchr(reply, 0, got))
			return 0;
	}
	errno = EPROTO;
	return -1;
}

/* clamd_probe - PING on a new connection: PONG? */
static int clamd_probe(void *ctx, struct scan_server *s, int64_t deadline)
{
	struct clamd *st = ctx;
	char reply[64];
	int fd = scan_net_connect(s, st->set.connect_ms, deadline, NULL), rc;

	if (fd < 0)
		return -1;
	rc = command(fd, "zPING", reply, sizeof reply, deadline, NULL);
	close(fd);
	return rc == 0 && !strcmp(reply, "PONG") ? 0 : -1;
}

/* read_reply - the reply to the scan command, NUL-terminated; got tells how
 * many bytes came (0: the connection ended before any) */
static int read_reply(int fd, char *reply, size_t cap, size_t *got, int64_t deadline,
		      atomic_int *cancel)
{
	*got = 0;
	while (*got < cap - 1) {
		ssize_t r = scan_net_read(fd, reply + *got, cap - 1 - *got, deadline, cancel);

		if (r < 0)
			return -1;
		if (r == 0) {
			errno = ECONNRESET;
			return -1;
		}
		*got += (size_t)r;
		if (memchr(reply, 0, *got))
			return 0;
	}
	errno = EPROTO;
	return -1;
}

/* stream - INSTREAM the mess file in chunks; 0, or -1 with errno */
static int stream(int fd, const struct scan_input *in, int64_t deadline, char *buf)
{
	off_t off = 0;

	if (scan_net_write(fd, "zINSTREAM", 10, deadline, in->cancel) < 0)
		return -1;
	for (;;) {
		ssize_t n = scan_net_pread(in->fd, buf + 4, CHUNK, off);
		uint32_t len;

		if (n < 0) {
			errno = EIO;	/* our file, not the server: see try_one */
			return -2;
		}
		len = (uint32_t)n;
		buf[0] = (char)(len >> 24);
		buf[1] = (char)(len >> 16);
		buf[2] = (char)(len >> 8);
		buf[3] = (char)len;
		if (scan_net_write(fd, buf, 4 + (size_t)n, deadline, in->cancel) < 0)
			return -1;
		if (n == 0)
			return 0;	/* the zero length ends the stream */
		off += n;
	}
}

/*
 * try_one - the message on server s over fd (a kept session when reused);
 *	TRY_DONE with *v set, TRY_SERVER (the server failed: cause in why),
 *	TRY_STALE (a kept connection was closed before its first reply byte),
 *	TRY_OVER (the deadline or a cancel ended it: *v set)
 */
static int try_one(struct clamd *st, struct scan_server *s, int fd, int reused,
		   const struct scan_input *in, struct scan_verdict *v, char *why, size_t whylen,
		   char *buf)
{
	int64_t deadline = in->deadline_ms;
	char reply[REPLY_MAX];
	size_t got;
	int rc;

	if (st->fildes && s->addr.ss_family == AF_UNIX) {
		rc = scan_net_write(fd, "zFILDES", 8, deadline, in->cancel);
		if (rc == 0)
			rc = scan_net_sendfd(fd, in->fd, deadline, in->cancel);
	} else
		rc = stream(fd, in, deadline, buf);
	if (rc == -2) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "cannot read the message: %s",
				 strerror(errno));
		return TRY_OVER;
	}
	if (rc < 0) {
		int e = errno;

		if (e == ETIMEDOUT || e == ECANCELED) {
			scan_verdict_set(v, SCAN_ERROR, SCANNER, "clamd %s: sending %s", s->name,
					 scan_net_why(e));
			snprintf(why, whylen, "%s", v->name);
			return e == ETIMEDOUT ? TRY_TIMEOUT : TRY_OVER;
		}
		if (reused)
			return TRY_STALE;
		/* clamd may have said why before it closed: its StreamMaxLength
		 * (a second at most, within the deadline) */
		int64_t until = scan_now_ms() + 1000;

		if (deadline && deadline < until)
			until = deadline;
		if (read_reply(fd, reply, sizeof reply, &got, until, in->cancel) == 0) {
			scan_clamd_reply(reply, v);
			if (v->kind == SCAN_LIMIT)
				return TRY_DONE;
		}
		/* a reset while sending: a refused stream if clamd still answers */
		if (clamd_probe(st, s, deadline) == 0) {
			scan_verdict_set(v, SCAN_LIMIT, SCANNER, "clamd stream limit exceeded");
			return TRY_DONE;
		}
		snprintf(why, whylen, "clamd %s: connection lost while sending: %s", s->name,
			 scan_net_why(e));
		return TRY_SERVER;
	}
	if (read_reply(fd, reply, sizeof reply, &got, deadline, in->cancel) < 0) {
		int e = errno;

		if (e == ETIMEDOUT || e == ECANCELED) {
			scan_verdict_set(v, SCAN_ERROR, SCANNER, "clamd %s: no answer: %s", s->name,
					 scan_net_why(e));
			snprintf(why, whylen, "%s", v->name);
			return e == ETIMEDOUT ? TRY_TIMEOUT : TRY_OVER;
		}
		if (reused && got == 0)
			return TRY_STALE;
		snprintf(why, whylen, "clamd %s: %s before its answer", s->name,
			 e == ECONNRESET ? "connection closed" : scan_net_why(e));
		return TRY_SERVER;
	}
	if (scan_clamd_reply(reply, v) < 0 ||
	    (v->kind == SCAN_ERROR && !strstr(reply, "size limit exceeded"))) {
		snprintf(why, whylen, "clamd %s: %s", s->name, v->name);
		return TRY_SERVER;
	}
	return TRY_DONE;
}

static void clamd_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	struct clamd *st = state;
	unsigned long long tried = 0;
	char why[512] = "", *buf;

	__atomic_fetch_add(&st->set.scans, 1, __ATOMIC_RELAXED);
	if (!st->fildes && (uint64_t)in->size > st->maxstream) {
		scan_verdict_set(v, SCAN_LIMIT, SCANNER,
				 "message of %lld bytes over the clamd stream limit (%llu)",
				 (long long)in->size, (unsigned long long)st->maxstream);
		__atomic_fetch_add(&st->limits, 1, __ATOMIC_RELAXED);
		return;
	}
	if (!(buf = malloc(CHUNK + 4))) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "out of memory");
		return;
	}
	for (;;) {
		struct scan_server *s = scan_servers_pick(&st->set, &tried, in->deadline_ms, in->cancel,
							  why, sizeof why);
		int64_t t0 = scan_now_ms();
		int fd, reused, rc = TRY_STALE, fresh_tries = 0;

		if (!s) {
			scan_verdict_set(v, SCAN_ERROR, SCANNER, "%s", why);
			break;
		}
		fd = scan_servers_idle_get(&st->set, s);
		reused = fd >= 0;
		while (rc == TRY_STALE && fresh_tries < 2) {
			if (fd < 0) {
				fresh_tries++;
				reused = 0;
				if ((fd = scan_net_connect(s, st->set.connect_ms, in->deadline_ms,
							   in->cancel)) < 0 ||
				    scan_net_write(fd, "zIDSESSION", 11, in->deadline_ms, in->cancel) < 0) {
					int e = errno;

					if (fd >= 0)
						close(fd);
					fd = -1;
					if (e == ECANCELED || (e == ETIMEDOUT && in->deadline_ms &&
							       scan_now_ms() >= in->deadline_ms)) {
						scan_verdict_set(v, SCAN_ERROR, SCANNER, "clamd %s: connect: %s",
								 s->name, scan_net_why(e));
						snprintf(why, sizeof why, "%s", v->name);
						rc = e == ECANCELED ? TRY_OVER : TRY_TIMEOUT;
					} else {
						snprintf(why, sizeof why, "clamd %s: connect: %s", s->name,
							 scan_net_why(e));
						rc = TRY_SERVER;
					}
					break;
				}
			}
			rc = try_one(st, s, fd, reused, in, v, why, sizeof why, buf);
			if (rc == TRY_STALE) {
				close(fd);
				fd = -1;
			}
		}
		if (rc == TRY_STALE) {
			snprintf(why, sizeof why, "clamd %s: connection closed at once", s->name);
			rc = TRY_SERVER;
		}
		if (rc == TRY_DONE && v->kind != SCAN_ERROR && fd >= 0 &&
		    (v->kind == SCAN_CLEAN || v->kind == SCAN_INFECTED) &&
		    scan_servers_idle_put(&st->set, s, fd) == 0)
			fd = -1;	/* kept for the next job */
		if (fd >= 0)
			close(fd);
		scan_servers_done(&st->set, s, rc != TRY_SERVER && rc != TRY_TIMEOUT,
				  scan_now_ms() - t0, why);
		if (rc != TRY_SERVER)
			break;
	}
	free(buf);
	if (v->kind == SCAN_INFECTED)
		__atomic_fetch_add(&st->infected, 1, __ATOMIC_RELAXED);
	else if (v->kind == SCAN_LIMIT)
		__atomic_fetch_add(&st->limits, 1, __ATOMIC_RELAXED);
	else if (v->kind == SCAN_ERROR)
		__atomic_fetch_add(&st->errors, 1, __ATOMIC_RELAXED);
}

static int clamd_init(void **state, const struct scan_config *cfg, char *err, size_t errlen)
{
	struct clamd *st = calloc(1, sizeof *st);
	char e[400];

	*state = NULL;
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	scan_servers_init(&st->set, SCANNER, cfg);
	st->set.probe = clamd_probe;
	st->set.ctx = st;
	st->fildes = cfg->clamd_fildes;
	st->maxstream = cfg->clamd_maxstream ? cfg->clamd_maxstream : MAXSTREAM_DEFAULT;
	if (!cfg->clamd || !*cfg->clamd) {
		snprintf(err, errlen, "SLUICE_CLAMD names no server");
		scan_servers_free(&st->set);
		free(st);
		return -1;
	}
	if (scan_servers_parse(&st->set, cfg->clamd, e, sizeof e) < 0) {
		snprintf(err, errlen, "SLUICE_CLAMD: %s", e);
		scan_servers_free(&st->set);
		free(st);
		return -1;
	}
	*state = st;
	return 0;
}

static size_t clamd_stats(void *state, char *buf, size_t len)
{
	struct clamd *st = state;
	size_t n = scan_servers_stats(&st->set, buf, len);
	int w;

	if (n + 1 >= len)
		return n;
	w = snprintf(buf + n, len - n, "clamd_infected %lu\nclamd_limits %lu\nclamd_errors %lu\n",
		     __atomic_load_n(&st->infected, __ATOMIC_RELAXED),
		     __atomic_load_n(&st->limits, __ATOMIC_RELAXED),
		     __atomic_load_n(&st->errors, __ATOMIC_RELAXED));
	return n + (w < 0 ? 0 : (size_t)w < len - n ? (size_t)w : len - n - 1);
}

static void clamd_fini(void *state)
{
	struct clamd *st = state;
	unsigned i;

	if (!st)
		return;
	/* end the kept sessions politely; clamd would time them out anyway */
	for (i = 0; i < st->set.n; i++) {
		int fd;

		while ((fd = scan_servers_idle_get(&st->set, &st->set.srv[i])) >= 0) {
			(void)!send(fd, "zEND", 5, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
		}
	}
	scan_servers_free(&st->set);
	free(st);
}

const struct scan_backend scan_backend_clamd = {
	.name = SCANNER,
	.class = SCAN_NET,
	.init = clamd_init,
	.scan = clamd_scan,
	.stats = clamd_stats,
	.fini = clamd_fini,
};
