/*
 * test_qmqp_server.c - router/qmqp_server.c and router/qmqp_qq.c: one
 * sluice-qmqpd connection over a socketpair, the queue program a shell
 * script (exec mode) or a daemon written here that speaks client.h's wire
 * protocol (daemon mode).
 *
 *	accepted     "<len>:Kok <time> qp <pid>," with the program's pid; it
 *	             read the Received line then the message byte for byte on
 *	             fd 0, and "F<s>\0T<r1>\0T<r2>\0\0" on fd 1
 *	exit codes   31 -> D, 53 / 71 -> Z in qmail-qmqpd's words; 82 with a
 *	             text on fd 6 (notqmail) and 88 on ERROR_FD (indimail): the
 *	             text, CR/LF made spaces; 82 with 2 bytes: "Zqq temporary
 *	             problem"; a crash, a program that cannot be exec'd, a home
 *	             that cannot be entered: qmail's texts
 *	early exit   a program that exits 0 without reading a 1 MB message:
 *	             "Zqq read error" (never K)
 *	stuck        a program that reads nothing: its pipe stalls io_ms, the
 *	             rest of the request is still read, it is killed at the
 *	             deadline: "Zqq timeout"
 *	addresses    a 1000-byte sender or a recipient with a NUL: "Dsorry, I
 *	             can't accept addresses like that (#5.1.3)", the envelope
 *	             the program saw never terminated
 *	malformed    a missing comma, a length over 200000000, a client that
 *	             leaves or stalls: no reply at all, MALFORMED / LIMIT /
 *	             GONE, the envelope never terminated (BIG: no program run)
 *	streaming    the program holds the first megabyte of a message while
 *	             the client has not sent the rest
 *	refuse       a configuration error: the request is read and answered
 *	             "Zqq unable to read configuration", no program run
 *	daemon       the wire request carries both pipes and the tcpserver
 *	             variables; reply 0 -> K with our pid as qp; 53 -> Z; 82
 *	             with a text -> that text; no daemon, no go-ahead, no verdict:
 *	             "Zmail server temporarily rejected message"
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"
#include "router/qmqp.h"

static char *tmp;
static char sink[4200];

static const char sink_sh[] =
	"#!/bin/sh\n"
	"echo $$ >\"$SINK_DIR/pid\"\n"
	"[ -n \"$SINK_NOREAD\" ] && exec sleep 60\n"
	"[ -n \"$SINK_EARLY\" ] && exit 0\n"
	"cat >\"$SINK_DIR/msg\"\n"
	"cat <&1 >\"$SINK_DIR/env\"\n"
	"[ -n \"$SINK_CRASH\" ] && kill -SEGV $$\n"
	"[ -n \"$SINK_TEXT\" ] && printf '%s' \"$SINK_TEXT\" >&\"$SINK_FD\"\n"
	"exit ${SINK_EXIT:-0}\n";

static void reset_sink(void)
{
	unlink(tu_path(tmp, "pid"));
	unlink(tu_path(tmp, "msg"));
	unlink(tu_path(tmp, "env"));
	unsetenv("SINK_NOREAD");
	unsetenv("SINK_EARLY");
	unsetenv("SINK_CRASH");
	unsetenv("SINK_TEXT");
	unsetenv("SINK_FD");
	unsetenv("SINK_EXIT");
}

static void cfg_exec(struct qmqp_server_cfg *c, int sock)
{
	memset(c, 0, sizeof *c);
	c->in = c->out = sock;
	c->qq.mode = QMQP_QQ_EXEC;
	c->qq.program = sink;
	c->qq.home = tmp;
	c->qq.custom = CUSTOM_NONE;
	c->qq.error_fd = 2;
	c->qq.accept_ms = 2000;
	c->timeout_ms = 20000;
	c->io_ms = c->qq.io_ms = 5000;
	c->remotehost = "mx.example.org";
	c->remoteip = "192.0.2.7";
	c->localhost = "relay.example.net";
}

/* ------------------------------------------------------- requests */

static size_t ns(char *out, const char *s, size_t len)
{
	size_t n = (size_t)sprintf(out, "%zu:", len);

	memcpy(out + n, s, len);
	out[n + len] = ',';
	return n + len + 1;
}

/* request - the request for msg, sender and rcpts (lengths given: NULs) */
static char *request(const char *msg, size_t mlen, const char *const *addr, const size_t *alen,
		     size_t na, size_t *len)
{
	char *inner = malloc(mlen + 8192), *out = malloc(mlen + 8300);
	size_t in = 0, i;

	in += ns(inner, msg, mlen);
	for (i = 0; i < na; i++)
		in += ns(inner + in, addr[i], alen ? alen[i] : strlen(addr[i]));
	*len = ns(out, inner, in);
	free(inner);
	return out;
}

static const char msg1[] = "From: a@example.org\nSubject: via QMQP\n\nHello, world.\n";
static const char *const env3[] = { "a@example.org", "r1@example.net", "r2@example.net" };

/* ------------------------------------------------------- running */

struct run {
	const struct qmqp_server_cfg *cfg;
	struct qmqp_server_report rep;
	enum qmqp_served how;
	pthread_t th;
};

static void *run_server(void *arg)
{
	struct run *r = arg;

	r->how = qmqp_server_run(r->cfg, &r->rep);
	return NULL;
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* reply - what the server sent before the run ended ("" for nothing) */
static void reply(int fd, char *out, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (n < cap - 1 && (r = read(fd, out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
}

/* serve - one connection: send req (all of it, or cut at cut bytes and
 * then close when close_after), return the reply */
static enum qmqp_served serve(struct qmqp_server_cfg *c, const char *req, size_t len, size_t cut,
			      int close_after, struct qmqp_server_report *rep, char *out, size_t cap)
{
	int sv[2];
	struct run r = { .cfg = c };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	c->in = c->out = sv[1];
	assert_int_equal(pthread_create(&r.th, NULL, run_server, &r), 0);
	write_all(sv[0], req, cut ? cut : len);
	if (close_after)
		shutdown(sv[0], SHUT_WR);
	pthread_join(r.th, NULL);
	close(sv[1]);
	reply(sv[0], out, cap);
	close(sv[0]);
	*rep = r.rep;
	return r.how;
}

static char *slurp(const char *name, size_t *len)
{
	return tu_read(tu_path(tmp, "%s", name), len);
}

static long sink_pid(void)
{
	char *p = slurp("pid", NULL);
	long v;

	assert_non_null(p);
	v = strtol(p, NULL, 10);
	free(p);
	return v;
}

/* ------------------------------------------------------- exec mode */

static void test_accepted(void **unused)
{
	struct qmqp_server_cfg c;
	struct qmqp_server_report rep;
	char out[512], want[512], recv[QMQP_RECEIVED_MAX];
	size_t len, rl, ml, el;
	char *req = request(msg1, sizeof msg1 - 1, env3, NULL, 3, &len), *m, *e;
	time_t t0 = time(NULL), t;
	long pid;

	reset_sink();
	cfg_exec(&c, -1);
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	pid = sink_pid();
	assert_int_equal(sscanf(out, "%*d:Kok %ld qp", (long *)&t), 1);
	assert_true(t >= t0 && t <= time(NULL));
	snprintf(want, sizeof want, "Kok %ld qp %ld", (long)t, pid);
	snprintf(recv, sizeof recv, "%zu:%s,", strlen(want), want);
	assert_string_equal(out, recv);
	assert_string_equal(rep.answer, want);
	assert_int_equal(rep.qp, pid);
	assert_int_equal(rep.bytes, sizeof msg1 - 1);
	assert_int_equal(rep.nrcpt, 2);
	/* the Received line, then the message */
	m = slurp("msg", &ml);
	assert_non_null(m);
	rl = qmqp_received(recv, sizeof recv, "mx.example.org", NULL, "192.0.2.7",
			   "relay.example.net", t0);
	if (ml != rl + sizeof msg1 - 1 || memcmp(m, recv, rl))	/* the second may have turned */
		rl = qmqp_received(recv, sizeof recv, "mx.example.org", NULL, "192.0.2.7",
				   "relay.example.net", t0 + 1);
	assert_int_equal(ml, rl + sizeof msg1 - 1);
	assert_memory_equal(m, recv, rl);
	assert_memory_equal(m + rl, msg1, sizeof msg1 - 1);
	e = slurp("env", &el);
	assert_int_equal(el, 48);
	assert_memory_equal(e, "Fa@example.org\0Tr1@example.net\0Tr2@example.net\0\0", 48);
	free(m);
	free(e);
	free(req);
}

/* answer - the reply to msg1 under the sink's current settings */
static void answer(struct qmqp_server_cfg *c, const char *want)
{
	struct qmqp_server_report rep;
	char out[600], full[600];
	size_t len;
	char *req = request(msg1, sizeof msg1 - 1, env3, NULL, 3, &len);

	assert_int_equal(serve(c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	snprintf(full, sizeof full, "%zu:%s,", strlen(want), want);
	assert_string_equal(out, full);
	free(req);
}

static void test_exit_codes(void **unused)
{
	struct qmqp_server_cfg c;

	cfg_exec(&c, -1);
	reset_sink();
	setenv("SINK_EXIT", "31", 1);
	answer(&c, "Dmail server permanently rejected message (#5.3.0)");
	setenv("SINK_EXIT", "53", 1);
	answer(&c, "Zqq write error or disk full (#4.3.0)");
	setenv("SINK_EXIT", "71", 1);
	answer(&c, "Zmail server temporarily rejected message (#4.3.0)");
	/* custom texts */
	c.qq.custom = CUSTOM_NOTQMAIL;
	setenv("SINK_EXIT", "82", 1);
	setenv("SINK_FD", "6", 1);
	setenv("SINK_TEXT", "DYour email was rejected because it contains the EICAR virus\r\n(#5.7.1)", 1);
	answer(&c, "DYour email was rejected because it contains the EICAR virus  (#5.7.1)");
	setenv("SINK_TEXT", "Dx", 1);
	answer(&c, "Zqq temporary problem (#4.3.0)");
	c.qq.custom = CUSTOM_INDIMAIL;
	c.qq.error_fd = 5;
	setenv("SINK_EXIT", "88", 1);
	setenv("SINK_FD", "5", 1);
	setenv("SINK_TEXT", "Zgreylisted, try later (#4.7.1)", 1);
	answer(&c, "Zgreylisted, try later (#4.7.1)");
	reset_sink();
	c.qq.custom = CUSTOM_NONE;
	setenv("SINK_CRASH", "1", 1);
	answer(&c, "Zqq crashed (#4.3.0)");
	reset_sink();
	c.qq.program = "/nonexistent/qmail-queue";
	answer(&c, "Zunable to exec qq (#4.3.0)");
	c.qq.program = sink;
	c.qq.home = "/nonexistent";
	answer(&c, "Zqq trouble in home directory (#4.3.0)");
}

static void test_program_trouble(void **unused)
{
	struct qmqp_server_cfg c;
	struct qmqp_server_report rep;
	size_t big = 1u << 20, len;
	char *body = malloc(big), out[300], *req;
	int64_t t0;

	memset(body, 'b', big);
	req = request(body, big, env3, NULL, 3, &len);
	cfg_exec(&c, -1);
	reset_sink();
	setenv("SINK_EARLY", "1", 1);
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	assert_string_equal(out, "23:Zqq read error (#4.3.0),");
	assert_non_null(strstr(rep.why, "queue program"));
	reset_sink();
	setenv("SINK_NOREAD", "1", 1);
	c.io_ms = c.qq.io_ms = 300;
	c.timeout_ms = 3000;
	t0 = qmqp_now_ms();
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	assert_string_equal(out, "20:Zqq timeout (#4.3.0),");
	assert_true(qmqp_now_ms() - t0 >= 2500);
	assert_int_equal(rep.bytes, big);	/* the request was read to its end */
	assert_int_equal(kill((pid_t)sink_pid(), 0), -1);	/* killed and reaped */
	reset_sink();
	free(req);
	free(body);
}

static void test_addresses(void **unused)
{
	struct qmqp_server_cfg c;
	struct qmqp_server_report rep;
	char big[1000], out[300], *req, *e;
	const char *addr[3];
	size_t alen[3], len, el;
	static const char sorry[] = "51:Dsorry, I can't accept addresses like that (#5.1.3),";

	cfg_exec(&c, -1);
	reset_sink();
	memset(big, 's', sizeof big);
	addr[0] = big;
	alen[0] = 1000;
	addr[1] = "r1@example.net";
	alen[1] = 14;
	req = request(msg1, sizeof msg1 - 1, addr, alen, 2, &len);
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	assert_string_equal(out, sorry);
	e = slurp("env", &el);
	assert_int_equal(el, 2);
	assert_memory_equal(e, "F\0", 2);	/* no final record: nothing queued */
	free(e);
	free(req);
	reset_sink();
	addr[0] = "a@example.org";
	alen[0] = 13;
	addr[1] = "r1@example.net";
	alen[1] = 14;
	addr[2] = "r2@exa\0mple.net";
	alen[2] = 15;
	req = request(msg1, sizeof msg1 - 1, addr, alen, 3, &len);
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	assert_string_equal(out, sorry);
	e = slurp("env", &el);
	assert_int_equal(el, 31);
	assert_memory_equal(e, "Fa@example.org\0Tr1@example.net\0", 31);
	free(e);
	free(req);
	/* 999 bytes are fine */
	reset_sink();
	addr[0] = big;
	alen[0] = 999;
	req = request(msg1, sizeof msg1 - 1, addr, alen, 1, &len);
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	assert_non_null(strstr(out, ":Kok "));
	free(req);
}

static void test_malformed(void **unused)
{
	struct qmqp_server_cfg c;
	struct qmqp_server_report rep;
	char out[300], *req, *e;
	size_t len, el;

	cfg_exec(&c, -1);
	reset_sink();
	/* no comma after the message: the program saw the message, then an
	 * envelope cut short */
	req = request(msg1, sizeof msg1 - 1, env3, NULL, 3, &len);
	*(strchr(strchr(req, ':') + 1, ':') + 1 + sizeof msg1 - 1) = 'X';
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_MALFORMED);
	assert_string_equal(out, "");
	assert_string_equal(rep.answer, "");
	assert_non_null(strstr(rep.why, "no comma after the message"));
	e = slurp("env", &el);
	assert_int_equal(el, 0);
	free(e);
	free(req);
	/* over the limit: refused before any program runs */
	reset_sink();
	assert_int_equal(serve(&c, "200000001:", 10, 0, 1, &rep, out, sizeof out), QMQP_LIMIT);
	assert_string_equal(out, "");
	assert_false(tu_exists(tu_path(tmp, "pid")));
	/* the client leaves in the middle of the message */
	req = request(msg1, sizeof msg1 - 1, env3, NULL, 3, &len);
	assert_int_equal(serve(&c, req, len, 20, 1, &rep, out, sizeof out), QMQP_GONE);
	assert_string_equal(out, "");
	e = slurp("env", &el);
	assert_int_equal(el, 0);
	free(e);
	/* the client stalls */
	reset_sink();
	c.io_ms = 300;
	assert_int_equal(serve(&c, req, len, len - 5, 0, &rep, out, sizeof out), QMQP_LIMIT);
	assert_string_equal(out, "");
	assert_non_null(strstr(rep.why, "nothing for"));
	e = slurp("env", &el);
	assert_true(el < 2 || memcmp(e + el - 2, "\0\0", 2));	/* never terminated */
	free(e);
	free(req);
}

struct feeder {
	int fd;
	const char *req;
	size_t len, first;
	int held;		/* the program had the first MB before the rest was sent */
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	struct stat st;
	int i;

	write_all(f->fd, f->req, f->first);
	for (i = 0; i < 400; i++) {
		if (stat(tu_path(tmp, "msg"), &st) == 0 && st.st_size >= (off_t)(1u << 20)) {
			f->held = 1;
			break;
		}
		usleep(25000);
	}
	write_all(f->fd, f->req + f->first, f->len - f->first);
	return NULL;
}

static void test_streaming(void **unused)
{
	struct qmqp_server_cfg c;
	struct run r = { .cfg = &c };
	size_t big = 4u << 20, len, ml;
	char *body = malloc(big), *req, out[300], *m;
	struct feeder f;
	pthread_t th;
	int sv[2];

	memset(body, 'x', big);
	req = request(body, big, env3, NULL, 3, &len);
	cfg_exec(&c, -1);
	reset_sink();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	c.in = c.out = sv[1];
	f = (struct feeder){ .fd = sv[0], .req = req, .len = len, .first = (2u << 20) };
	assert_int_equal(pthread_create(&r.th, NULL, run_server, &r), 0);
	assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
	pthread_join(th, NULL);
	pthread_join(r.th, NULL);
	assert_true(f.held);
	assert_int_equal(r.how, QMQP_ANSWERED);
	close(sv[1]);
	reply(sv[0], out, sizeof out);
	close(sv[0]);
	assert_non_null(strstr(out, ":Kok "));
	m = slurp("msg", &ml);
	assert_true(ml > big);
	assert_memory_equal(m + ml - big, body, big);
	free(m);
	free(req);
	free(body);
}

static void test_refuse(void **unused)
{
	struct qmqp_server_cfg c;

	cfg_exec(&c, -1);
	reset_sink();
	c.refuse = qmqp_reply_exit(QQ_CONFIG);
	c.refuse_why = "SLUICE_QMQPD_MODE=x: want daemon or exec";
	answer(&c, "Zqq unable to read configuration (#4.3.0)");
	assert_false(tu_exists(tu_path(tmp, "pid")));
}

/* ------------------------------------------------------- daemon mode */

struct fake {
	int lsock;
	int ack, reply;		/* admit (send the go-ahead) / send a reply */
	struct wire_reply r;
	char payload[WIRE_REQ_MAX];
	size_t plen;
	char msg[4096], env[4096];
	size_t mlen, elen;
	pthread_t th;
};

static size_t drain(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while ((r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

static void *daemon_main(void *arg)
{
	struct fake *f = arg;
	int c = accept(f->lsock, NULL, NULL), fds[2];
	ssize_t n;
	char buf[300];

	if (c < 0)
		return NULL;
	if (!f->ack) {
		struct pollfd p = { .fd = c, .events = POLLIN };

		poll(&p, 1, 10000);	/* never admitted: until the client gives up */
		close(c);
		return NULL;
	}
	{
		char g = WIRE_GO;

		(void)!write(c, &g, 1);
	}
	n = wire_recv_request(c, fds, f->payload, sizeof f->payload);
	if (n > 0) {
		f->plen = (size_t)n;
		f->mlen = drain(fds[0], f->msg, sizeof f->msg);
		f->elen = drain(fds[1], f->env, sizeof f->env);
		if (f->reply)
			(void)!write(c, buf, wire_reply_encode(&f->r, buf));
		close(fds[0]);
		close(fds[1]);
	}
	close(c);
	return NULL;
}

static void fake_start(struct fake *f, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	unlink(path);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	f->lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(f->lsock, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(f->lsock, 4), 0);
	assert_int_equal(pthread_create(&f->th, NULL, daemon_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lsock);
}

static void test_daemon(void **unused)
{
	struct qmqp_server_cfg c;
	struct qmqp_server_report rep;
	struct fake f;
	char path[4200], out[400], want[200];
	size_t len;
	char *req = request(msg1, sizeof msg1 - 1, env3, NULL, 3, &len);
	const char *ip;
	static const char virus[] =
		"DYour email was rejected because it contains the EICAR virus (#5.7.1)";

	snprintf(path, sizeof path, "%s", tu_path(tmp, "sluiced.sock"));
	cfg_exec(&c, -1);
	c.qq.mode = QMQP_QQ_DAEMON;
	c.qq.socket = path;
	c.qq.accept_ms = 1000;
	c.timeout_ms = 5000;
	setenv("TCPREMOTEIP", "192.0.2.7", 1);

	/* accepted: K with our own pid (sluiced names it in its Received line) */
	memset(&f, 0, sizeof f);
	f.ack = f.reply = 1;
	client_reply_make(&f.r, 0, CUSTOM_NONE, 2, NULL);
	fake_start(&f, path);
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	fake_stop(&f);
	assert_non_null(strstr(out, ":Kok "));
	snprintf(want, sizeof want, " qp %ld,", (long)getpid());
	assert_non_null(strstr(out, want));
	assert_memory_equal(f.payload, WIRE_MAGIC, 4);
	ip = wire_env_get(f.payload, f.plen, "TCPREMOTEIP");
	assert_non_null(ip);
	assert_string_equal(ip, "192.0.2.7");
	assert_true(f.mlen > sizeof msg1 - 1);
	assert_memory_equal(f.msg, "Received: from mx.example.org (192.0.2.7)\n  by relay.example.net with QMQP; ", 76);
	assert_memory_equal(f.msg + f.mlen - (sizeof msg1 - 1), msg1, sizeof msg1 - 1);
	assert_int_equal(f.elen, 48);
	assert_memory_equal(f.env, "Fa@example.org\0Tr1@example.net\0Tr2@example.net\0\0", 48);

	/* a plain failure code */
	memset(&f, 0, sizeof f);
	f.ack = f.reply = 1;
	client_reply_make(&f.r, 53, CUSTOM_NONE, 2, NULL);
	fake_start(&f, path);
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	fake_stop(&f);
	assert_string_equal(out, "37:Zqq write error or disk full (#4.3.0),");

	/* a custom text (sluiced under SLUICE_CUSTOM_ERROR=notqmail) */
	memset(&f, 0, sizeof f);
	f.ack = f.reply = 1;
	client_reply_make(&f.r, 31, CUSTOM_NOTQMAIL, 2,
			  "Your email was rejected because it contains the EICAR virus (#5.7.1)");
	fake_start(&f, path);
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	fake_stop(&f);
	snprintf(want, sizeof want, "%zu:%s,", strlen(virus), virus);
	assert_string_equal(out, want);

	/* not admitted in time */
	memset(&f, 0, sizeof f);
	fake_start(&f, path);
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	fake_stop(&f);
	assert_string_equal(out, "50:Zmail server temporarily rejected message (#4.3.0),");
	assert_non_null(strstr(rep.why, "did not admit the message"));

	/* admitted, then no verdict (the daemon died) */
	memset(&f, 0, sizeof f);
	f.ack = 1;
	fake_start(&f, path);
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	fake_stop(&f);
	assert_string_equal(out, "50:Zmail server temporarily rejected message (#4.3.0),");
	assert_non_null(strstr(rep.why, "before its verdict"));

	/* no daemon at all: the whole request is read, then Z */
	unlink(path);
	assert_int_equal(serve(&c, req, len, 0, 0, &rep, out, sizeof out), QMQP_ANSWERED);
	assert_string_equal(out, "50:Zmail server temporarily rejected message (#4.3.0),");
	assert_non_null(strstr(rep.why, "cannot connect"));
	assert_int_equal(rep.nrcpt, 2);
	unsetenv("TCPREMOTEIP");
	free(req);
}

static int setup(void **unused)
{
	signal(SIGPIPE, SIG_IGN);
	tmp = tu_tmpdir("qmqp-server");
	snprintf(sink, sizeof sink, "%s", tu_path(tmp, "sink.sh"));
	tu_write(sink, sink_sh, sizeof sink_sh - 1);
	chmod(sink, 0755);
	setenv("SINK_DIR", tmp, 1);
	return 0;
}

static int teardown(void **unused)
{
	tu_rmtree(tmp);
	free(tmp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_program_trouble),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_streaming),
		cmocka_unit_test(test_refuse),
		cmocka_unit_test(test_daemon),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
