/*
 * qmqp_client.c - hand one queued message to a QMQP server.
 *
 *	The exchange is a state machine (CONNECT -> HEAD -> PREFIX -> BODY ->
 *	TAIL -> REPLY -> DONE) on a non-blocking socket, so that sluiced can drive
 *	it from its event loop (an ev_io on c->fd plus an ev_timer at
 *	qmqp_client_deadline()) without ever blocking the loop, or a worker
 *	thread can run qmqp_send(), which drives the same machine with
 *	poll().  One implementation serves both: the timeouts and the error
 *	classes cannot differ between them.
 *
 *	The request is streamed: its netstring lengths are computed up front
 *	from the file's size and the envelope, the header and the envelope
 *	are built in memory (the envelope is bounded by queue/'s 4 MiB), and
 *	the message is read from the file with pread() in 64 KiB chunks
 *	while the socket takes them.  What is sent is bytes [off, EOF) of the
 *	file: sluiced passes the offset past its own Received line, so the
 *	server receives what qmail-queue read on fd 0, exactly as
 *	qmail-qmqpc sends it; the server adds its own Received lines.  A
 *	tagged message is sent with its prefix (the tag lines) first and its
 *	skip ranges (the sender's fields of the tag's names) left out, the
 *	same bytes a local queue's rewritten file would hold.
 *
 *	Timeouts are qmail-qmqpc's: 10 s to connect, 60 s for each wait on
 *	the socket, plus an optional deadline for the whole exchange (the
 *	message's own deadline in sluiced).  Failures are classed as
 *	qmail-qmqpc classes them: connect timed out (72), connect failed
 *	(73), broken conversation once connected (74).
 *
 *	A message is never reported delivered unless a whole reply netstring
 *	starting with K arrived (qmqp_reply_decode()).  Whenever the exchange
 *	stops early the socket is closed before the request's final comma,
 *	so a QMQP server queues nothing.
 *
 * DIAGNOSTICS
 *	c->result: the status, errno, and a text naming the server and the
 *	cause ("192.0.2.7:628: connect: Connection refused").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qmqp.h"

#define CHUNK 65536

enum { C_CONNECT, C_HEAD, C_PREFIX, C_BODY, C_TAIL, C_REPLY, C_DONE };

int64_t qmqp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int qmqp_addr_parse(const char *s, struct qmqp_addr *a, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *h = s, *close_br;
	size_t hl;
	unsigned long p = QMQP_PORT;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->sa;

	memset(a, 0, sizeof *a);
	if (*s == '[') {
		if (!(close_br = strchr(s, ']')))
			goto bad;
		h = s + 1;
		hl = (size_t)(close_br - h);
		if (close_br[1] == ':')
			port = close_br + 2;
		else if (close_br[1])
			goto bad;
	} else if (strchr(s, ':') && strchr(s, ':') == strrchr(s, ':')) {
		port = strchr(s, ':') + 1;	/* one colon: IPv4 with a port */
		hl = (size_t)(port - 1 - s);
	} else
		hl = strlen(s);	/* no colon: IPv4; several: bare IPv6 */
	if (hl == 0 || hl >= sizeof host)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (port) {
		char *end;

		if (*port < '0' || *port > '9')
			goto bad;
		errno = 0;
		p = strtoul(port, &end, 10);
		if (*end || errno || p == 0 || p > 65535)
			goto bad;
	}
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1 && *s != '[') {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		a->salen = sizeof *v4;
		snprintf(a->name, sizeof a->name, "%s:%lu", host, p);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		a->salen = sizeof *v6;
		snprintf(a->name, sizeof a->name, "[%s]:%lu", host, p);
		return 0;
	}
bad:
	snprintf(err, errlen, "%s: not an IPv4 or IPv6 address with an optional port "
		 "(192.0.2.7, 192.0.2.7:628, [2001:db8::7]:628)", s);
	memset(a, 0, sizeof *a);
	return -1;
}

static void release(struct qmqp_client *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	free(c->head);
	free(c->tail);
	free(c->chunk);
	c->head = c->tail = c->chunk = NULL;
}

/* finish - the outcome; the socket is closed (before the final comma if
 * the request was not complete: the server then queues nothing) */
static enum qmqp_want finish(struct qmqp_client *c, enum qmqp_status st, int errnum,
			     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static enum qmqp_want finish(struct qmqp_client *c, enum qmqp_status st, int errnum,
			     const char *fmt, ...)
{
	va_list ap;

	c->result.status = st;
	c->result.errnum = errnum;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(c->result.text, sizeof c->result.text, fmt, ap);
		va_end(ap);
	}
	c->state = C_DONE;
	release(c);
	return QMQP_DONE;
}

/* arm - the next wait may last io_ms from now, never past the deadline */
static void arm(struct qmqp_client *c, int64_t now, unsigned ms)
{
	c->phase_end = now + ms;
	if (c->lim.deadline_ms && c->lim.deadline_ms < c->phase_end)
		c->phase_end = c->lim.deadline_ms;
}

static size_t put_netstring(char *p, const char *s, size_t len)
{
	int n = sprintf(p, "%zu:", len);

	memcpy(p + n, s, len);
	p[n + len] = ',';
	return (size_t)n + len + 1;
}

/* build - the request's head "<outer>:<msglen>:" and tail ",<env>," */
static int build(struct qmqp_client *c, const struct qmqp_msg *m, uint64_t msglen)
{
	size_t cap = 2 + 24 + strlen(m->sender), i, n = 0;
	char msghead[32];
	int mh;
	uint64_t outer;

	for (i = 0; i < m->nrcpt; i++)
		cap += 24 + strlen(m->rcpt[i]);
	if (!(c->tail = malloc(cap)) || !(c->head = malloc(64)) || !(c->chunk = malloc(CHUNK)))
		return -1;
	c->tail[n++] = ',';	/* the message's */
	n += put_netstring(c->tail + n, m->sender, strlen(m->sender));
	for (i = 0; i < m->nrcpt; i++)
		n += put_netstring(c->tail + n, m->rcpt[i], strlen(m->rcpt[i]));
	c->tail[n++] = ',';	/* the request's */
	c->tail_len = n;
	mh = snprintf(msghead, sizeof msghead, "%llu:", (unsigned long long)msglen);
	/* outer payload = "<msglen>:" message "," envelope; the tail holds
	 * the message's comma, the envelope and the request's own comma */
	outer = (uint64_t)mh + msglen + n - 1;
	c->head_len = (size_t)snprintf(c->head, 64, "%llu:%s", (unsigned long long)outer, msghead);
	return 0;
}

enum qmqp_want qmqp_client_start(struct qmqp_client *c, const struct qmqp_addr *a,
				 const struct qmqp_msg *m, const struct qmqp_limits *lim,
				 int64_t now)
{
	struct stat st;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->msgfd = m->fd;
	snprintf(c->server, sizeof c->server, "%s", a->name);
	c->state = C_CONNECT;
	if (lim)
		c->lim = *lim;
	if (!c->lim.connect_ms)
		c->lim.connect_ms = 10000;
	if (!c->lim.io_ms)
		c->lim.io_ms = 60000;
	if (fstat(m->fd, &st) < 0)
		return finish(c, QMQP_EREAD, errno, "%s: cannot stat the message: %s", a->name,
			      strerror(errno));
	if (m->off < 0 || st.st_size < m->off)
		return finish(c, QMQP_EREAD, 0, "%s: the message file is shorter than its offset",
			      a->name);
	c->pos = m->off;
	c->end = st.st_size;
	c->prefix = m->prefix_len ? m->prefix : NULL;
	c->prefix_len = c->prefix ? m->prefix_len : 0;
	c->skip = m->nskip ? m->skip : NULL;
	c->nskip = c->skip ? m->nskip : 0;
	{
		uint64_t skipped = 0;
		size_t k;

		for (k = 0; k < c->nskip; k++) {
			off_t from = c->skip[2 * k], to = c->skip[2 * k + 1];

			if (from < (k ? c->skip[2 * k - 1] : c->pos) || to < from || to > c->end)
				return finish(c, QMQP_EREAD, 0, "%s: a skipped range outside the message",
					      a->name);
			skipped += (uint64_t)(to - from);
		}
		if (build(c, m, c->prefix_len + (uint64_t)(c->end - c->pos) - skipped) < 0)
			return finish(c, QMQP_ESYS, ENOMEM, "%s: out of memory", a->name);
	}
	if (c->lim.deadline_ms && now >= c->lim.deadline_ms)
		return finish(c, QMQP_ETIMEOUT, ETIMEDOUT, "%s: no time left to connect", a->name);
	c->fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return finish(c, QMQP_ESYS, errno, "%s: socket: %s", a->name, strerror(errno));
	arm(c, now, c->lim.connect_ms);
	if (connect(c->fd, (const struct sockaddr *)&a->sa, a->salen) == 0) {
		c->state = C_HEAD;
		arm(c, now, c->lim.io_ms);
		return qmqp_client_step(c, now);
	}
	if (errno != EINPROGRESS)
		return finish(c, errno == ETIMEDOUT ? QMQP_ETIMEOUT : QMQP_EREFUSED, errno,
			      "%s: connect: %s", a->name, strerror(errno));
	return QMQP_WANT_WRITE;
}

int64_t qmqp_client_deadline(const struct qmqp_client *c)
{
	return c->phase_end;
}

/* read_reply - take what the server sent; QMQP_DONE once decided.  early:
 * the errno of a send that failed (a server that answered before it read
 * the whole request), 0 in the reply state. */
static enum qmqp_want read_reply(struct qmqp_client *c, int64_t now, int early)
{
	const char *name = c->server;

	for (;;) {
		ssize_t n = recv(c->fd, c->reply + c->reply_len, sizeof c->reply - c->reply_len,
				 MSG_DONTWAIT);
		struct qmqp_result r;
		int d;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !early) {
			if (now >= c->phase_end)
				return finish(c, QMQP_ECONV, ETIMEDOUT, "%s: no reply in time",
					      name);
			return QMQP_WANT_READ;
		}
		if (n < 0 && early)
			return finish(c, QMQP_ECONV, early, "%s: sending: %s", name,
				      strerror(early));
		if (n < 0)
			return finish(c, QMQP_ECONV, errno, "%s: reading the reply: %s", name,
				      strerror(errno));
		if (n == 0)
			return finish(c, QMQP_ECONV, 0, "%s: the connection closed %s", name,
				      c->reply_len ? "in the middle of the reply" : "without a reply");
		c->reply_len += (size_t)n;
		arm(c, now, c->lim.io_ms);
		memset(&r, 0, sizeof r);
		d = qmqp_reply_decode(c->reply, c->reply_len, &r);
		if (d < 0)
			return finish(c, QMQP_ECONV, 0, "%s: %s", name, r.text);
		if (d > 0) {
			c->result.status = r.status;
			return finish(c, r.status, 0, "%s", r.text);
		}
		if (c->reply_len == sizeof c->reply)
			return finish(c, QMQP_ECONV, 0, "%s: the reply is too long", name);
	}
}

/* send_some - write from p[*sent..len); 1 when all is sent, 0 to wait,
 * -1 when the connection failed (errno set) */
static int send_some(struct qmqp_client *c, const char *p, size_t len, size_t *sent, int64_t now)
{
	while (*sent < len) {
		ssize_t n = send(c->fd, p + *sent, len - *sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		*sent += (size_t)n;
		arm(c, now, c->lim.io_ms);
	}
	return 1;
}

enum qmqp_want qmqp_client_step(struct qmqp_client *c, int64_t now)
{
	const char *name = c->server;
	int r, e;
	socklen_t el = sizeof e;

	if (c->state == C_DONE)
		return QMQP_DONE;
	if (c->state == C_CONNECT) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		if (e == 0) {
			struct sockaddr_storage peer;
			socklen_t pl = sizeof peer;

			/* a wake-up before the handshake ended leaves the
			 * socket unconnected with no error yet */
			if (getpeername(c->fd, (struct sockaddr *)&peer, &pl) < 0) {
				if (now >= c->phase_end)
					return finish(c, QMQP_ETIMEOUT, ETIMEDOUT,
						      "%s: connect timed out", name);
				return QMQP_WANT_WRITE;
			}
			c->state = C_HEAD;
			arm(c, now, c->lim.io_ms);
		} else if (e == EINPROGRESS || e == EALREADY) {
			if (now >= c->phase_end)
				return finish(c, QMQP_ETIMEOUT, ETIMEDOUT, "%s: connect timed out", name);
			return QMQP_WANT_WRITE;
		} else
			return finish(c, e == ETIMEDOUT ? QMQP_ETIMEOUT : QMQP_EREFUSED, e,
				      "%s: connect: %s", name, strerror(e));
	}
	for (;;) {
		switch (c->state) {
		case C_HEAD:
			r = send_some(c, c->head, c->head_len, &c->head_sent, now);
			if (r > 0)
				c->state = C_PREFIX;
			break;
		case C_PREFIX:
			r = send_some(c, c->prefix, c->prefix_len, &c->prefix_sent, now);
			if (r > 0)
				c->state = C_BODY;
			break;
		case C_BODY:
			if (c->chunk_sent == c->chunk_len) {
				size_t want = CHUNK;
				ssize_t n;

				/* a skipped range that starts here: past it */
				while (c->next_skip < c->nskip && c->skip[2 * c->next_skip] <= c->pos) {
					if (c->skip[2 * c->next_skip + 1] > c->pos)
						c->pos = c->skip[2 * c->next_skip + 1];
					c->next_skip++;
				}
				if (c->pos == c->end) {
					c->state = C_TAIL;
					continue;
				}
				if ((off_t)want > c->end - c->pos)
					want = (size_t)(c->end - c->pos);
				if (c->next_skip < c->nskip &&
				    (off_t)want > c->skip[2 * c->next_skip] - c->pos)
					want = (size_t)(c->skip[2 * c->next_skip] - c->pos);
				do
					n = pread(c->msgfd, c->chunk, want, c->pos);
				while (n < 0 && errno == EINTR);
				if (n < 0)
					return finish(c, QMQP_EREAD, errno,
						      "%s: cannot read the message: %s", name,
						      strerror(errno));
				if (n == 0)
					return finish(c, QMQP_EREAD, 0,
						      "%s: the message file shrank while it was sent",
						      name);
				c->pos += n;
				c->chunk_len = (size_t)n;
				c->chunk_sent = 0;
			}
			r = send_some(c, c->chunk, c->chunk_len, &c->chunk_sent, now);
			break;
		case C_TAIL:
			r = send_some(c, c->tail, c->tail_len, &c->tail_sent, now);
			if (r > 0) {
				c->state = C_REPLY;
				arm(c, now, c->lim.io_ms);
			}
			break;
		case C_REPLY:
			return read_reply(c, now, 0);
		default:
			return QMQP_DONE;
		}
		if (r < 0) {
			/* A server that refuses early may have answered and
			 * closed: its reply, if whole, is the outcome. */
			if (errno == EPIPE || errno == ECONNRESET)
				return read_reply(c, now, errno);
			return finish(c, QMQP_ECONV, errno, "%s: sending: %s", name,
				      strerror(errno));
		}
		if (r == 0) {
			if (now >= c->phase_end)
				return finish(c, QMQP_ECONV, ETIMEDOUT,
					      "%s: the server took nothing in time", name);
			return QMQP_WANT_WRITE;
		}
	}
}

void qmqp_client_free(struct qmqp_client *c)
{
	release(c);
	c->state = C_DONE;
}

enum qmqp_status qmqp_send(const struct qmqp_addr *a, const struct qmqp_msg *m,
			   const struct qmqp_limits *lim, struct qmqp_result *res)
{
	struct qmqp_client c;
	enum qmqp_want w = qmqp_client_start(&c, a, m, lim, qmqp_now_ms());

	while (w != QMQP_DONE) {
		struct pollfd p = { .fd = c.fd, .events = w == QMQP_WANT_READ ? POLLIN : POLLOUT };
		int64_t left = qmqp_client_deadline(&c) - qmqp_now_ms();

		if (left > 0 && poll(&p, 1, left > 600000 ? 600000 : (int)left) < 0 &&
		    errno != EINTR) {
			int e = errno;

			qmqp_client_free(&c);
			c.result.status = QMQP_ESYS;
			c.result.errnum = e;
			snprintf(c.result.text, sizeof c.result.text, "%s: poll: %s", a->name,
				 strerror(e));
			break;
		}
		w = qmqp_client_step(&c, qmqp_now_ms());
	}
	qmqp_client_free(&c);
	*res = c.result;
	return res->status;
}

enum qmqp_status qmqp_send_list(const struct qmqp_addr *a, size_t n, const struct qmqp_msg *m,
				const struct qmqp_limits *lim, struct qmqp_result *res)
{
	size_t i;

	memset(res, 0, sizeof *res);
	res->status = QMQP_EREFUSED;
	snprintf(res->text, sizeof res->text, "no QMQP server");
	for (i = 0; i < n; i++) {
		qmqp_send(&a[i], m, lim, res);
		if (res->status != QMQP_ETIMEOUT && res->status != QMQP_EREFUSED)
			break;
		if (lim && lim->deadline_ms && qmqp_now_ms() >= lim->deadline_ms)
			break;
	}
	return res->status;
}
