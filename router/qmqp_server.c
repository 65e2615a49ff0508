/*
 * qmqp_server.c - one connection of sluice-qmqpd, as qmail-qmqpd serves it.
 *
 *	qmqp_server_run() reads the request from cfg->in in 64 KiB reads and
 *	feeds qmqp_request_next(); once the message's length is known it
 *	opens the queue program (qmqp_qq_open()), writes qmail-qmqpd's
 *	Received line, and streams the message into it as it arrives; then
 *	the sender and the recipients; at the request's final comma it
 *	closes the queue program and answers one netstring on cfg->out:
 *	"Kok <time> qp <pid>", or the queue program's failure in
 *	qmail-qmqpd's words, or "Dsorry, I can't accept addresses like that
 *	(#5.1.3)" when any address was refused (then the envelope was never
 *	terminated: nothing was queued).
 *
 *	As qmail-qmqpd: a malformed request or a length over 200,000,000
 *	gets no reply at all and nothing is queued (the queue program sees
 *	its envelope cut short); nor does a client that leaves.  Unlike
 *	qmail-qmqpd, a queue program that cannot be started (sluiced down or
 *	too slow to take the message) does not drop the connection: the
 *	rest of the request is read and answered "Z" with the text
 *	sluice-queue's exit code would give, so the client gets a clear
 *	temporary failure.
 *
 *	Deadlines: cfg->timeout_ms for the whole connection (qmail-qmqpd's
 *	alarm(3600)), and cfg->io_ms for each wait for the client, for the
 *	queue program to take bytes, and for the reply to be sent.  The
 *	queue program's outcome is awaited until io_ms (10 s at most) before
 *	the connection's end, so that even "Zqq timeout" still reaches the
 *	client.
 *
 * DIAGNOSTICS
 *	The return value says how the connection ended; rep->why names the
 *	cause of anything that went wrong, for sluice-qmqpd's log line.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "qmqp.h"

#define READ_CHUNK 65536

static const char sorry[] = "Dsorry, I can't accept addresses like that (#5.1.3)";

static void note(struct qmqp_server_report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(struct qmqp_server_report *rep, const char *fmt, ...)
{
	va_list ap;

	if (rep->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(rep->why, sizeof rep->why, fmt, ap);
	va_end(ap);
}

/* wait_fd - poll fd for events within io_ms and the deadline; 1 ready,
 * 0 timed out (why noted) */
static int wait_fd(const struct qmqp_server_cfg *cfg, int64_t deadline, int fd, short events,
		   struct qmqp_server_report *rep, const char *what)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - qmqp_now_ms();
		int idle = left > cfg->io_ms;
		int r;

		if (left <= 0) {
			note(rep, "the connection's %u s ran out %s", cfg->timeout_ms / 1000, what);
			return 0;
		}
		r = poll(&p, 1, idle ? (int)cfg->io_ms : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 && !idle)
			continue;	/* the deadline itself: said above */
		note(rep, "nothing for %u s %s", cfg->io_ms / 1000, what);
		return 0;
	}
}

/* read_client - 1..n bytes, 0 at EOF, -1 on timeout or error (why noted) */
static ssize_t read_client(const struct qmqp_server_cfg *cfg, int64_t deadline, char *buf,
			   size_t cap, struct qmqp_server_report *rep)
{
	for (;;) {
		ssize_t n;

		if (!wait_fd(cfg, deadline, cfg->in, POLLIN, rep, "while reading the request"))
			return -1;
		n = read(cfg->in, buf, cap);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN) {
			note(rep, "reading the request: %s", strerror(errno));
			return -1;
		}
	}
}

static int write_client(const struct qmqp_server_cfg *cfg, int64_t deadline, const char *buf,
			size_t len, struct qmqp_server_report *rep)
{
	while (len) {
		ssize_t n;

		if (!wait_fd(cfg, deadline, cfg->out, POLLOUT, rep, "while sending the reply"))
			return -1;
		n = write(cfg->out, buf, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			note(rep, "sending the reply: %s", n < 0 ? strerror(errno) : "nothing written");
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

enum qmqp_served qmqp_server_run(const struct qmqp_server_cfg *cfg, struct qmqp_server_report *rep)
{
	int64_t deadline = qmqp_now_ms() + cfg->timeout_ms;
	/* the queue program must be done early enough for its answer to be
	 * sent within the connection's time */
	int64_t qq_deadline = deadline - (cfg->io_ms < 10000 ? cfg->io_ms : 10000);
	char buf[READ_CHUNK];
	char out[QMQP_REPLY_MAX], custom[300], kok[64];
	struct qmqp_request req;
	struct qmqp_qq qq;
	struct qmqp_ev ev;
	size_t have = 0, off = 0, used;
	int opened = 0, flagok = 1;
	const char *result = NULL;
	enum qmqp_served how;

	memset(rep, 0, sizeof *rep);
	qmqp_request_init(&req);
	for (;;) {
		enum qmqp_event e;

		if (off == have) {
			ssize_t n = read_client(cfg, deadline, buf, sizeof buf, rep);

			if (n <= 0) {
				if (n == 0)
					note(rep, "the client left before the end of its request");
				how = n == 0 ? QMQP_GONE : QMQP_LIMIT;
				goto drop;
			}
			have = (size_t)n;
			off = 0;
		}
		e = qmqp_request_next(&req, buf + off, have - off, &used, &ev);
		off += used;
		switch (e) {
		case QMQP_EV_MORE:
			break;
		case QMQP_EV_MESSAGE:
			if (cfg->refuse) {
				note(rep, "%s", cfg->refuse_why ? cfg->refuse_why : "refused");
				result = cfg->refuse;
			} else if (qmqp_qq_open(&qq, &cfg->qq, qq_deadline) < 0) {
				note(rep, "%s", qq.why);
				result = qmqp_reply_exit(cfg->qq.mode == QMQP_QQ_DAEMON ? QQ_TEMP : 120);
			} else {
				char recv[QMQP_RECEIVED_MAX];
				const char *local = cfg->localhost ? cfg->localhost : cfg->localip;
				size_t rl = qmqp_received(recv, sizeof recv, cfg->remotehost,
							  cfg->remoteinfo, cfg->remoteip, local,
							  time(NULL));

				opened = 1;
				rep->qp = qq.qp;
				qmqp_qq_put(&qq, recv, rl);
			}
			break;
		case QMQP_EV_DATA:
			rep->bytes += ev.len;
			if (opened)
				qmqp_qq_put(&qq, ev.data, ev.len);
			break;
		case QMQP_EV_SENDER:
		case QMQP_EV_RCPT:
			if (e == QMQP_EV_RCPT)
				rep->nrcpt++;
			if (!ev.ok) {
				flagok = 0;
				note(rep, "refused an address of 1000 bytes or more, or with a NUL");
			}
			if (!opened)
				break;
			if (e == QMQP_EV_SENDER)
				qmqp_qq_from(&qq, ev.ok ? ev.data : "");
			else if (ev.ok)
				qmqp_qq_to(&qq, ev.data);
			if (!ev.ok)
				qmqp_qq_fail(&qq);
			break;
		case QMQP_EV_END:
			goto answer;
		case QMQP_EV_BAD:
		case QMQP_EV_BIG:
			note(rep, "%s request: %s", e == QMQP_EV_BAD ? "malformed" : "refused",
			     ev.why);
			how = e == QMQP_EV_BAD ? QMQP_MALFORMED : QMQP_LIMIT;
			goto drop;
		}
	}
answer:
	if (opened) {
		result = qmqp_qq_close(&qq, custom, sizeof custom);
		if (qq.why[0] && (*result != 0 || qq.broken))
			note(rep, "%s", qq.why);
		opened = 0;
	}
	if (!result)
		result = qmqp_reply_exit(QQ_BUG);	/* cannot happen: MESSAGE precedes END */
	if (!*result) {
		qmqp_reply_ok(kok, sizeof kok, time(NULL), rep->qp);
		result = kok;
	}
	if (!flagok)
		result = sorry;
	snprintf(rep->answer, sizeof rep->answer, "%s", result);
	used = qmqp_reply_encode(out, sizeof out, result);
	if (write_client(cfg, deadline, out, used, rep) < 0) {
		rep->answer[0] = 0;
		return QMQP_LIMIT;
	}
	return QMQP_ANSWERED;
drop:
	if (opened) {
		/* the envelope stays unterminated: nothing is queued */
		qmqp_qq_fail(&qq);
		qmqp_qq_close(&qq, custom, sizeof custom);
	}
	return how;
}
