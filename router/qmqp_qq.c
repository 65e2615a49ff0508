/*
 * qmqp_qq.c - the queue program behind a sluice-qmqpd connection.
 *
 *	The calls are qmail.c's (qmail_open, _put, _from, _to, _fail,
 *	_close) so that the server reads like qmail-qmqpd.  Two ways to
 *	queue, chosen by the configuration:
 *	- daemon: two pipes, their read ends handed to sluiced with client.h's
 *	  wire protocol (exactly what sluice-queue hands it: message on the
 *	  first, envelope on the second), then the ack; the reply's code (or
 *	  its custom text) is the outcome.  The "qp" is our own pid: sluiced
 *	  learns it by SO_PEERCRED and writes it into its Received line.
 *	- exec: fork and exec the program (QMAILQUEUE) with the message pipe
 *	  on fd 0, the envelope pipe on fd 1 and, under a custom-error
 *	  convention, a third pipe on that convention's fd; its exit code is
 *	  the outcome, as qmail-qmqpd's qmail_close() reads it.
 *
 *	Every write waits at most io_ms and never past the connection's
 *	deadline.  A write that fails (the program is gone) or times out
 *	marks the queue broken: later data is dropped and the envelope is
 *	never terminated, so the program can queue nothing.
 *
 * DIAGNOSTICS
 *	qmqp_qq_open(): -1 with q->why.  q->why also keeps the first
 *	problem of a write or of the wait for the outcome.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qmqp.h"

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void why(struct qmqp_qq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why(struct qmqp_qq *q, const char *fmt, ...)
{
	va_list ap;

	if (q->why[0])
		return;	/* the first problem is the cause */
	va_start(ap, fmt);
	vsnprintf(q->why, sizeof q->why, fmt, ap);
	va_end(ap);
}

/* left_ms - how long the next wait may be: io_ms, within the deadline */
static int left_ms(const struct qmqp_qq *q)
{
	int64_t left = q->deadline_ms - qmqp_now_ms();

	if (left > q->cfg->io_ms)
		left = q->cfg->io_ms;
	return left < 0 ? 0 : (int)left;
}

/* put_fd - all of buf into fd (non-blocking) within the limits */
static void put_fd(struct qmqp_qq *q, int fd, const char *buf, size_t len)
{
	while (len && !q->broken) {
		ssize_t n = write(fd, buf, len);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int ms = left_ms(q), r;

			if (ms > 0 && ((r = poll(&p, 1, ms)) > 0 || (r < 0 && errno == EINTR)))
				continue;
			why(q, "the queue program took nothing for %d ms", ms);
		} else
			why(q, "writing to the queue program: %s", strerror(n < 0 ? errno : EIO));
		q->broken = 1;
	}
}

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int open_daemon(struct qmqp_qq *q, int pm[2], int pe[2])
{
	const struct qmqp_qq_cfg *c = q->cfg;
	long secs = (long)((c->accept_ms + 999) / 1000);
	char req[WIRE_REQ_MAX], go;
	int fds[2] = { pm[0], pe[0] };
	size_t len;
	ssize_t n;

	if ((q->sock = client_conn_open(c->socket, secs)) < 0) {
		why(q, "cannot connect to %s: %s", c->socket, strerror(errno));
		return -1;
	}
	/* the daemon's go-ahead first: over its limits it does not accept,
	 * and giving up then leaves the pipes ours alone */
	n = client_conn_wait(q->sock, &go, 1, 1, secs);
	if (n != 1 || go != WIRE_GO) {
		if (n == -2)
			why(q, "%s did not admit the message within %ld s", c->socket, secs);
		else
			why(q, "%s closed the connection before admitting the message", c->socket);
		return -1;
	}
	len = wire_env(req, sizeof req);
	if (wire_send_request(q->sock, fds, req, len) < 0) {
		why(q, "cannot pass the message to %s: %s", c->socket, strerror(errno));
		return -1;
	}
	/* sluiced holds the read ends now: without our copies a dead daemon
	 * means EPIPE here, not a full pipe we wait on */
	close_fd(&pm[0]);
	close_fd(&pe[0]);
	q->qp = (unsigned long)getpid();
	return 0;
}

/* custom_fd - the fd a queue program writes its custom text on, or -1 */
static int custom_fd(const struct qmqp_qq_cfg *c)
{
	switch (c->custom) {
	case CUSTOM_NOTQMAIL:
		return 6;
	case CUSTOM_SIMSCAN:
		return 4;
	case CUSTOM_INDIMAIL:
		return c->error_fd >= 0 ? c->error_fd : 2;
	case CUSTOM_NONE:
		break;
	}
	return -1;
}

static int open_exec(struct qmqp_qq *q, int pm[2], int pe[2])
{
	const struct qmqp_qq_cfg *c = q->cfg;
	int pc[2] = { -1, -1 }, target = custom_fd(c);

	if (target >= 0 && pipe2(pc, O_CLOEXEC) < 0) {
		why(q, "pipe: %s", strerror(errno));
		return -1;
	}
	q->pid = fork();
	if (q->pid < 0) {
		why(q, "fork: %s", strerror(errno));
		close_fd(&pc[0]);
		close_fd(&pc[1]);
		return -1;
	}
	if (q->pid == 0) {
		/* above every target first, so no dup2 overwrites a source */
		int m = fcntl(pm[0], F_DUPFD_CLOEXEC, 64), e = fcntl(pe[0], F_DUPFD_CLOEXEC, 64);
		int x = pc[1] >= 0 ? fcntl(pc[1], F_DUPFD_CLOEXEC, 64) : -1;

		if (m < 0 || e < 0 || (pc[1] >= 0 && x < 0) || dup2(m, 0) < 0 || dup2(e, 1) < 0 ||
		    (x >= 0 && dup2(x, target) < 0))
			_exit(120);
		signal(SIGPIPE, SIG_DFL);
		if (chdir(c->home) < 0)
			_exit(61);
		execl(c->program, c->program, (char *)NULL);
		_exit(120);
	}
	close_fd(&pc[1]);
	q->errfd = pc[0];
	close_fd(&pm[0]);
	close_fd(&pe[0]);
	q->qp = (unsigned long)q->pid;
	return 0;
}

int qmqp_qq_open(struct qmqp_qq *q, const struct qmqp_qq_cfg *c, int64_t deadline_ms)
{
	int pm[2] = { -1, -1 }, pe[2] = { -1, -1 }, r;

	memset(q, 0, sizeof *q);
	q->cfg = c;
	q->deadline_ms = deadline_ms;
	q->fdm = q->fde = q->sock = q->errfd = -1;
	q->pid = -1;
	if (pipe2(pm, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		why(q, "pipe: %s", strerror(errno));
		r = -1;
	} else
		r = c->mode == QMQP_QQ_DAEMON ? open_daemon(q, pm, pe) : open_exec(q, pm, pe);
	close_fd(&pm[0]);
	close_fd(&pe[0]);
	q->fdm = pm[1];
	q->fde = pe[1];
	if (r == 0 && (nonblock(q->fdm) < 0 || nonblock(q->fde) < 0)) {
		why(q, "fcntl: %s", strerror(errno));
		r = -1;
	}
	if (r < 0) {
		qmqp_qq_fail(q);
		close_fd(&q->fdm);
		close_fd(&q->sock);
		close_fd(&q->errfd);
		if (q->pid > 0)
			waitpid(q->pid, NULL, 0);	/* its pipes are closed: it exits */
		q->pid = -1;
		return -1;
	}
	return 0;
}

void qmqp_qq_put(struct qmqp_qq *q, const char *buf, size_t len)
{
	if (!q->failed && q->fdm >= 0)
		put_fd(q, q->fdm, buf, len);
}

static void record(struct qmqp_qq *q, char letter, const char *addr)
{
	if (q->failed || q->fde < 0)
		return;
	put_fd(q, q->fde, &letter, 1);
	put_fd(q, q->fde, addr, strlen(addr) + 1);
}

void qmqp_qq_from(struct qmqp_qq *q, const char *addr)
{
	close_fd(&q->fdm);	/* the message ends: EOF on the program's fd 0 */
	record(q, 'F', addr);
}

void qmqp_qq_to(struct qmqp_qq *q, const char *addr)
{
	record(q, 'T', addr);
}

/* qmqp_qq_fail - closing the envelope without its final empty record is
 * qmail-smtpd's own way of cancelling a message: nothing is queued */
void qmqp_qq_fail(struct qmqp_qq *q)
{
	q->failed = 1;
	close_fd(&q->fdm);
	close_fd(&q->fde);
}

static const char *daemon_outcome(struct qmqp_qq *q, char *buf, size_t cap)
{
	char rb[512];
	struct wire_reply r;
	int64_t left = q->deadline_ms - qmqp_now_ms();
	ssize_t n = client_conn_wait(q->sock, rb, sizeof rb, 0, left > 1000 ? (long)(left / 1000) : 1);

	if (n == -2) {
		why(q, "no verdict from %s in time", q->cfg->socket);
		return qmqp_reply_exit(QQ_TIMEOUT);	/* sluice-queue's alarm: 52 */
	}
	if (n <= 0 || wire_reply_decode(rb, (size_t)n, &r) != 1) {
		why(q, "%s closed the connection before its verdict", q->cfg->socket);
		return qmqp_reply_exit(QQ_TEMP);	/* what sluice-queue exits */
	}
	if (qmqp_reply_custom(buf, cap, r.text, r.len))
		return buf;
	if (r.plain == QQ_OK && q->broken)
		return qmqp_reply_exit(QQ_READ);	/* qmail_close(): 0 after a failed write */
	return qmqp_reply_exit(r.plain);
}

static const char *exec_outcome(struct qmqp_qq *q, char *buf, size_t cap)
{
	char text[256];
	size_t tl = 0;
	int st, delay = 1;
	pid_t w;

	/* the custom text first: a program blocked writing it would never exit */
	while (q->errfd >= 0 && tl < sizeof text - 1) {
		struct pollfd p = { .fd = q->errfd, .events = POLLIN };
		int ms = left_ms(q);
		ssize_t n;

		if (ms <= 0 || poll(&p, 1, ms) == 0)
			break;
		n = read(q->errfd, text + tl, sizeof text - 1 - tl);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		tl += (size_t)n;
	}
	close_fd(&q->errfd);
	while ((w = waitpid(q->pid, &st, WNOHANG)) == 0) {
		if (qmqp_now_ms() >= q->deadline_ms) {
			why(q, "the queue program (pid %ld) did not exit in time; killed",
			    (long)q->pid);
			kill(q->pid, SIGKILL);
			waitpid(q->pid, NULL, 0);
			q->pid = -1;
			return qmqp_reply_exit(QQ_TIMEOUT);
		}
		usleep((useconds_t)delay * 1000);
		if (delay < 50)
			delay *= 2;
	}
	q->pid = -1;
	if (w < 0)
		return "Zqq waitpid surprise (#4.3.0)";
	if (WIFSIGNALED(st))
		return "Zqq crashed (#4.3.0)";
	st = WEXITSTATUS(st);
	if ((st == QQ_CUSTOM || st == QQ_CUSTOM_INDI) && qmqp_reply_custom(buf, cap, text, tl))
		return buf;
	if (st == QQ_CUSTOM || st == QQ_CUSTOM_INDI)
		return "Zqq temporary problem (#4.3.0)";	/* no usable text (REFERENCE §2) */
	if (st == QQ_OK && q->broken)
		return qmqp_reply_exit(QQ_READ);
	return qmqp_reply_exit(st);
}

const char *qmqp_qq_close(struct qmqp_qq *q, char *buf, size_t cap)
{
	const char *out;

	close_fd(&q->fdm);
	if (!q->failed && !q->broken && q->fde >= 0)
		put_fd(q, q->fde, "", 1);	/* the final empty record */
	close_fd(&q->fde);
	out = q->cfg->mode == QMQP_QQ_DAEMON ? daemon_outcome(q, buf, cap) : exec_outcome(q, buf, cap);
	close_fd(&q->sock);
	return out;
}
