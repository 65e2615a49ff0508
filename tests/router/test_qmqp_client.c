/*
 * test_qmqp_client.c - router/qmqp_client.c against servers written here
 * from the protocol text (threads on 127.0.0.1 and ::1).
 *
 *	addresses    IPv4 / IPv6 with and without a port are parsed; names,
 *	             port 0 or 65536, junk are refused with a reason
 *	request      the bytes the server receives are exactly
 *	             netstring(netstring(message) netstring(sender)
 *	             netstring(rcpt)...), the message being the file from the
 *	             offset on (the local Received line skipped); a 3 MB
 *	             message and a bounce with no recipients too; the file's
 *	             offset is not moved (pread); with a prefix (a tagged
 *	             message's verdict headers) the message is the prefix then
 *	             the file from the offset on; skip ranges (its forged
 *	             fields) are left out, across chunks and at the end, and
 *	             ranges out of order or past the file are refused
 *	replies      K, Z, D: QMQP_OK / TEMP / PERM with the server's text;
 *	             over IPv6 too
 *	failures     a closed port: EREFUSED; a full listen backlog: ETIMEOUT
 *	             after connect_ms; a server that hangs after the message:
 *	             ECONV after io_ms; closes without a reply, sends a
 *	             truncated reply, or answers garbage containing "OK":
 *	             ECONV, never OK; a server that answers D after reading a
 *	             little of a large message and then drains: PERM
 *	file         an offset past the end: EREAD, nothing connected; an fd
 *	             pread fails on (a directory): EREAD with its errno; a
 *	             file truncated while it is sent: EREAD "shrank"; the
 *	             server never sees a whole request
 *	deadline     a deadline already passed: ETIMEOUT at once; a deadline
 *	             shorter than io_ms ends a hanging exchange at the deadline
 *	state machine  every call returns at once: with a server that reads
 *	             nothing, step() returns WANT_WRITE (the socket is
 *	             non-blocking) long before io_ms; free() in the middle
 *	             cuts the exchange and the server sees no final comma
 *	list         refused, refused, then a good server: OK from the third;
 *	             a connected server's Z is final (the next is not tried);
 *	             all refused: EREFUSED
 *	fds          no descriptor is left open by any of the above
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "router/qmqp.h"

static char *tmp;

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ------------------------------------------------------------ servers */

enum mode {
	M_REPLY,	/* read the request, send reply, close */
	M_HANG,		/* read the request, then wait for the client to leave */
	M_CLOSE,	/* read the request, close without a word */
	M_EARLY,	/* read a little, send reply, shut down writing, drain */
	M_NOREAD,	/* read nothing; close when the gate opens */
	M_GATE,		/* as M_HANG, but read nothing before the gate opens */
};

struct server {
	int lsock, port, family;
	enum mode mode;
	const char *reply;
	size_t reply_len;
	char *got;		/* the raw request */
	size_t got_len;
	int complete;		/* the request's final comma arrived */
	int gate[2];		/* M_GATE: a byte on gate[1] lets it read */
	pthread_t th;
};

/* wait_in - poll for input, 10 s at most (a broken test must not hang) */
static int wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 10000) > 0;
}

/* whole - 1 when got holds a whole "<n>:<n bytes>," */
static int whole(const char *b, size_t len)
{
	size_t i = 0, n = 0;

	for (; i < len && b[i] >= '0' && b[i] <= '9'; i++)
		n = n * 10 + (size_t)(b[i] - '0');
	return i < len && b[i] == ':' && len >= i + 1 + n + 1 && b[i + 1 + n] == ',';
}

static void *serve(void *arg)
{
	struct server *s = arg;
	size_t cap = 1 << 20;
	int c;

	s->got = malloc(cap);
	if (!wait_in(s->lsock) || (c = accept(s->lsock, NULL, NULL)) < 0)
		return NULL;
	if (s->mode == M_GATE || s->mode == M_NOREAD) {
		char g;

		(void)!(wait_in(s->gate[0]) && read(s->gate[0], &g, 1) == 1);
		if (s->mode == M_NOREAD) {
			close(c);
			return NULL;
		}
	}
	for (;;) {
		ssize_t n;

		if (s->got_len == cap)
			s->got = realloc(s->got, cap *= 2);
		if (!wait_in(c))
			break;
		n = read(c, s->got + s->got_len, s->mode == M_EARLY ? 100 : cap - s->got_len);
		if (n <= 0)
			break;
		s->got_len += (size_t)n;
		if (s->mode == M_EARLY)
			break;
		if (whole(s->got, s->got_len)) {
			s->complete = 1;
			break;
		}
	}
	if (s->mode == M_REPLY || s->mode == M_EARLY)
		(void)!write(c, s->reply, s->reply_len);
	if (s->mode == M_EARLY)
		shutdown(c, SHUT_WR);
	if (s->mode == M_HANG || s->mode == M_EARLY || s->mode == M_GATE) {
		char b[65536];

		while (wait_in(c) && read(c, b, sizeof b) > 0)
			;	/* until the client leaves */
	}
	close(c);
	return NULL;
}

static void server_start(struct server *s, int family, enum mode mode, const char *reply)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int one = 1;

	memset(s, 0, sizeof *s);
	s->family = family;
	s->mode = mode;
	s->reply = reply;
	s->reply_len = reply ? strlen(reply) : 0;
	s->lsock = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lsock >= 0);
	setsockopt(s->lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (mode == M_NOREAD || mode == M_GATE) {
		int small = 65536;	/* inherited: little of the request fits in flight */

		setsockopt(s->lsock, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	}
	if (mode == M_GATE || mode == M_NOREAD)
		assert_int_equal(pipe2(s->gate, O_CLOEXEC), 0);
	memset(&ss, 0, sizeof ss);
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	assert_int_equal(bind(s->lsock, (struct sockaddr *)&ss,
			      family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)), 0);
	assert_int_equal(listen(s->lsock, 8), 0);
	assert_int_equal(getsockname(s->lsock, (struct sockaddr *)&ss, &sl), 0);
	s->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	pthread_join(s->th, NULL);
	close(s->lsock);
	if (s->mode == M_GATE || s->mode == M_NOREAD) {
		close(s->gate[0]);
		close(s->gate[1]);
	}
	free(s->got);
}

static void addr_of(struct qmqp_addr *a, int family, int port)
{
	char spec[80], err[200];

	snprintf(spec, sizeof spec, family == AF_INET ? "127.0.0.1:%d" : "[::1]:%d", port);
	assert_int_equal(qmqp_addr_parse(spec, a, err, sizeof err), 0);
}

/* a port nothing listens on: bound, never listening */
static int dead_port(int *holder)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof sa;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(*holder, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(*holder, (struct sockaddr *)&sa, &sl), 0);
	return ntohs(sa.sin_port);
}

/* ------------------------------------------------------------ messages */

static const char received[] = "Received: (qmail 4242 invoked by uid 0); 2 Nov 2026 02:45:04 -0000\n";

/* mess_file - a file holding our Received line and then body; its fd */
static int mess_file(const char *body, size_t len)
{
	const char *path = tu_path(tmp, "mess.%d", rand());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, received, sizeof received - 1), (ssize_t)(sizeof received - 1));
	assert_int_equal(write(fd, body, len), (ssize_t)len);
	return fd;
}

static size_t ns(char *out, const char *s, size_t len)
{
	size_t n = (size_t)sprintf(out, "%zu:", len);

	memcpy(out + n, s, len);
	out[n + len] = ',';
	return n + len + 1;
}

/* expected - the request, built the simple way */
static char *expected(const char *body, size_t len, const char *sender, const char *const *rcpt,
		      size_t nrcpt, size_t *outlen)
{
	char *inner = malloc(len + 4096), *out = malloc(len + 4200);
	size_t in = 0, i;

	in += ns(inner, body, len);
	in += ns(inner + in, sender, strlen(sender));
	for (i = 0; i < nrcpt; i++)
		in += ns(inner + in, rcpt[i], strlen(rcpt[i]));
	*outlen = ns(out, inner, in);
	free(inner);
	return out;
}

static const char body1[] = "From: a@example.org\nSubject: qmqp, test: 1\n\nHello,\r\nworld\n";
static const char *const rcpts2[] = { "r1@example.net", "r2@example.net" };

static struct qmqp_limits quick = { .connect_ms = 3000, .io_ms = 3000 };

/* --------------------------------------------------------------- tests */

static void test_addr_parse(void **unused)
{
	struct qmqp_addr a;
	char err[300];

	assert_int_equal(qmqp_addr_parse("192.0.2.7", &a, err, sizeof err), 0);
	assert_string_equal(a.name, "192.0.2.7:628");
	assert_int_equal(a.sa.ss_family, AF_INET);
	assert_int_equal(qmqp_addr_parse("192.0.2.7:6628", &a, err, sizeof err), 0);
	assert_string_equal(a.name, "192.0.2.7:6628");
	assert_int_equal(qmqp_addr_parse("2001:db8::7", &a, err, sizeof err), 0);
	assert_string_equal(a.name, "[2001:db8::7]:628");
	assert_int_equal(a.sa.ss_family, AF_INET6);
	assert_int_equal(qmqp_addr_parse("[2001:db8::7]:6628", &a, err, sizeof err), 0);
	assert_string_equal(a.name, "[2001:db8::7]:6628");
	assert_int_equal(qmqp_addr_parse("[::1]", &a, err, sizeof err), 0);
	assert_string_equal(a.name, "[::1]:628");
	static const char *const bad[] = {
		"mx.example.org", "mx.example.org:628", "192.0.2.7:0", "192.0.2.7:65536",
		"192.0.2.7:", "192.0.2.7:+1", "[192.0.2.7]:628", "[::1", "[::1]x", "", ":628",
		"192.0.2.300", "[::1]:62a8",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		assert_int_equal(qmqp_addr_parse(bad[i], &a, err, sizeof err), -1);
		assert_non_null(strstr(err, "not an IPv4 or IPv6 address"));
	}
}

static void test_request_exact(void **unused)
{
	struct server s;
	struct qmqp_addr a;
	struct qmqp_result r;
	struct qmqp_msg m = { .sender = "a@example.org", .rcpt = rcpts2, .nrcpt = 2 };
	size_t elen, big = 3u << 20, i;
	char *exp, *body = malloc(big);
	int before = open_fds();

	/* small message, two recipients */
	exp = expected(body1, sizeof body1 - 1, "a@example.org", rcpts2, 2, &elen);
	m.fd = mess_file(body1, sizeof body1 - 1);
	m.off = sizeof received - 1;
	assert_int_equal(lseek(m.fd, 7, SEEK_SET), 7);
	server_start(&s, AF_INET, M_REPLY, "22:Kok 1793587504 qp 4242,");
	addr_of(&a, AF_INET, s.port);
	assert_int_equal(qmqp_send(&a, &m, &quick, &r), QMQP_OK);
	assert_string_equal(r.text, "ok 1793587504 qp 4242");
	pthread_join(s.th, NULL);
	assert_true(s.complete);
	assert_int_equal(s.got_len, elen);
	assert_memory_equal(s.got, exp, elen);
	assert_int_equal(lseek(m.fd, 0, SEEK_CUR), 7);	/* pread only */
	close(s.lsock);
	free(s.got);
	free(exp);

	/* a prefix: sent first, counted in the message's length */
	{
		static const char pre[] = "X-Sluice-Verdict: clean\nX-Virus-Scanned: sluice\n";
		char whole[sizeof pre + sizeof body1];

		memcpy(whole, pre, sizeof pre - 1);
		memcpy(whole + sizeof pre - 1, body1, sizeof body1);
		exp = expected(whole, sizeof pre - 1 + sizeof body1 - 1, "a@example.org", rcpts2, 2,
			       &elen);
		m.prefix = pre;
		m.prefix_len = sizeof pre - 1;
		server_start(&s, AF_INET, M_REPLY, "1:K,");
		addr_of(&a, AF_INET, s.port);
		assert_int_equal(qmqp_send(&a, &m, &quick, &r), QMQP_OK);
		pthread_join(s.th, NULL);
		assert_true(s.complete);
		assert_int_equal(s.got_len, elen);
		assert_memory_equal(s.got, exp, elen);
		close(s.lsock);
		free(s.got);
		free(exp);
		m.prefix = NULL;
		m.prefix_len = 0;
	}
	close(m.fd);

	/* 3 MB of every byte value; a bounce to nobody */
	for (i = 0; i < big; i++)
		body[i] = (char)(i * 7 + i / 251);
	exp = expected(body, big, "", NULL, 0, &elen);
	m = (struct qmqp_msg){ .fd = mess_file(body, big), .off = sizeof received - 1, .sender = "" };
	server_start(&s, AF_INET6, M_REPLY, "1:K,");
	addr_of(&a, AF_INET6, s.port);
	assert_int_equal(qmqp_send(&a, &m, &quick, &r), QMQP_OK);
	pthread_join(s.th, NULL);
	assert_true(s.complete);
	assert_int_equal(s.got_len, elen);
	assert_memory_equal(s.got, exp, elen);
	close(s.lsock);
	free(s.got);
	free(exp);

	/* skip ranges (a tagged message's forged fields): left out, across the
	 * 64 KiB chunks, one at the file's end; a prefix too */
	{
		off_t o = (off_t)(sizeof received - 1), sk[8] = {
			o + 10, o + 20, o + 65530, o + 65546, o + 200000, o + 1000000,
			o + (off_t)big - 5, o + (off_t)big,
		};
		static const char pre[] = "X-Sluice-Verdict: clean\n";
		char *want = malloc(big + sizeof pre);
		size_t wl = 0, k;
		off_t at = o;

		memcpy(want, pre, sizeof pre - 1);
		wl = sizeof pre - 1;
		for (k = 0; k < 4; k++) {
			memcpy(want + wl, body + (at - o), (size_t)(sk[2 * k] - at));
			wl += (size_t)(sk[2 * k] - at);
			at = sk[2 * k + 1];
		}
		assert_int_equal(wl, sizeof pre - 1 + big - 10 - 16 - 800000 - 5);
		exp = expected(want, wl, "", NULL, 0, &elen);
		m.skip = sk;
		m.nskip = 4;
		m.prefix = pre;
		m.prefix_len = sizeof pre - 1;
		server_start(&s, AF_INET, M_REPLY, "1:K,");
		addr_of(&a, AF_INET, s.port);
		assert_int_equal(qmqp_send(&a, &m, &quick, &r), QMQP_OK);
		pthread_join(s.th, NULL);
		assert_true(s.complete);
		assert_int_equal(s.got_len, elen);
		assert_memory_equal(s.got, exp, elen);
		close(s.lsock);
		free(s.got);
		free(exp);
		free(want);
		/* ranges out of order or past the file: refused before connecting */
		sk[2] = o + 5;
		assert_int_equal(qmqp_send(&a, &m, &quick, &r), QMQP_EREAD);
		sk[2] = o + 65530;
		sk[7] = o + (off_t)big + 1;
		assert_int_equal(qmqp_send(&a, &m, &quick, &r), QMQP_EREAD);
	}
	close(m.fd);
	free(body);
	assert_int_equal(open_fds(), before);
}

/* outcome - one exchange with a server in the given mode */
static enum qmqp_status outcome(int family, enum mode mode, const char *reply,
				const struct qmqp_limits *lim, size_t size, struct qmqp_result *r)
{
	struct server s;
	struct qmqp_addr a;
	char *body = calloc(1, size + 1);
	struct qmqp_msg m = { .sender = "a@example.org", .rcpt = rcpts2, .nrcpt = 2 };

	memset(body, 'x', size);
	m.fd = mess_file(body, size);
	m.off = sizeof received - 1;
	server_start(&s, family, mode, reply);
	addr_of(&a, family, s.port);
	qmqp_send(&a, &m, lim, r);
	server_stop(&s);
	close(m.fd);
	free(body);
	return r->status;
}

static void test_replies(void **unused)
{
	struct qmqp_result r;
	int before = open_fds();

	assert_int_equal(outcome(AF_INET, M_REPLY, "28:Zqq write error or disk full,", &quick, 10, &r),
			 QMQP_TEMP);
	assert_string_equal(r.text, "qq write error or disk full");
	assert_int_equal(outcome(AF_INET6, M_REPLY, "51:Dsorry, I can't accept addresses like that (#5.1.3),",
				 &quick, 10, &r), QMQP_PERM);
	assert_string_equal(r.text, "sorry, I can't accept addresses like that (#5.1.3)");
	assert_int_equal(outcome(AF_INET6, M_REPLY, "7:Kok 1 2,", &quick, 10, &r), QMQP_OK);
	assert_string_equal(r.text, "ok 1 2");
	assert_int_equal(open_fds(), before);
}

static void test_failures(void **unused)
{
	struct qmqp_limits fast = { .connect_ms = 3000, .io_ms = 400 };
	struct qmqp_result r;
	struct qmqp_addr a;
	struct qmqp_msg m = { .sender = "a@example.org", .rcpt = rcpts2, .nrcpt = 2 };
	int holder, port, before = open_fds();
	int64_t t0;

	/* refused */
	port = dead_port(&holder);
	addr_of(&a, AF_INET, port);
	m.fd = mess_file(body1, sizeof body1 - 1);
	m.off = sizeof received - 1;
	assert_int_equal(qmqp_send(&a, &m, &quick, &r), QMQP_EREFUSED);
	assert_int_equal(r.errnum, ECONNREFUSED);
	assert_non_null(strstr(r.text, a.name));
	close(holder);

	/* hangs after the message: ECONV after io_ms */
	t0 = qmqp_now_ms();
	assert_int_equal(outcome(AF_INET, M_HANG, NULL, &fast, 5000, &r), QMQP_ECONV);
	assert_true(qmqp_now_ms() - t0 >= 400);
	assert_non_null(strstr(r.text, "no reply in time"));
	/* closes without a reply */
	assert_int_equal(outcome(AF_INET, M_CLOSE, NULL, &quick, 5000, &r), QMQP_ECONV);
	assert_non_null(strstr(r.text, "without a reply"));
	/* truncated reply */
	assert_int_equal(outcome(AF_INET, M_REPLY, "30:Kok 1 qp", &quick, 10, &r), QMQP_ECONV);
	assert_non_null(strstr(r.text, "middle of the reply"));
	/* garbage with an OK in it: qmail-qmqpc would take the K */
	assert_int_equal(outcome(AF_INET, M_REPLY, "HTTP/1.0 200 OK\r\n\r\n", &quick, 10, &r),
			 QMQP_ECONV);
	assert_int_equal(outcome(AF_INET, M_REPLY, "OK", &quick, 10, &r), QMQP_ECONV);
	/* an early D, then the server drains the rest: the D is the answer */
	assert_int_equal(outcome(AF_INET, M_EARLY, "5:Dnope,", &quick, 4u << 20, &r), QMQP_PERM);
	assert_string_equal(r.text, "nope");
	close(m.fd);
	assert_int_equal(open_fds(), before);
}

static void test_connect_timeout(void **unused)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof sa;
	struct qmqp_limits lim = { .connect_ms = 500, .io_ms = 3000 };
	struct qmqp_result r;
	struct qmqp_addr a;
	struct qmqp_msg m = { .sender = "", .nrcpt = 0 };
	int l, fill[16], nf = 0, i, before = open_fds();
	int64_t t0;

	/* a listener with a full backlog: further SYNs are dropped */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(l, 0), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	for (;;) {
		struct pollfd p;

		assert_true(nf < 16);
		fill[nf] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (connect(fill[nf], (struct sockaddr *)&sa, sizeof sa) == 0) {
			nf++;
			continue;
		}
		assert_int_equal(errno, EINPROGRESS);
		p = (struct pollfd){ .fd = fill[nf++], .events = POLLOUT };
		if (poll(&p, 1, 300) == 0)
			break;	/* this one hangs: the backlog is full */
	}
	addr_of(&a, AF_INET, ntohs(sa.sin_port));
	m.fd = mess_file("x", 1);
	t0 = qmqp_now_ms();
	assert_int_equal(qmqp_send(&a, &m, &lim, &r), QMQP_ETIMEOUT);
	assert_true(qmqp_now_ms() - t0 >= 500);
	assert_true(qmqp_now_ms() - t0 < 5000);
	assert_non_null(strstr(r.text, "connect timed out"));
	/* the whole-exchange deadline cuts the connect wait too */
	lim.connect_ms = 60000;
	lim.deadline_ms = qmqp_now_ms() + 300;
	t0 = qmqp_now_ms();
	assert_int_equal(qmqp_send(&a, &m, &lim, &r), QMQP_ETIMEOUT);
	assert_true(qmqp_now_ms() - t0 < 5000);
	for (i = 0; i < nf; i++)
		close(fill[i]);
	close(l);
	close(m.fd);
	assert_int_equal(open_fds(), before);
}

static void test_file(void **unused)
{
	struct qmqp_limits lim = { .connect_ms = 3000, .io_ms = 10000 };
	struct qmqp_client c;
	struct qmqp_result r;
	struct qmqp_addr a;
	struct qmqp_msg m = { .sender = "", .nrcpt = 0 };
	struct server s;
	size_t big = 16u << 20;
	char *body = calloc(1, big);
	enum qmqp_want w;
	int before = open_fds();

	/* an offset past the end: nothing is even connected */
	addr_of(&a, AF_INET, 9);
	m.fd = mess_file("x", 1);
	m.off = 1000;
	assert_int_equal(qmqp_send(&a, &m, &quick, &r), QMQP_EREAD);
	close(m.fd);
	/* pread fails (a directory): cut after the head, never complete */
	server_start(&s, AF_INET, M_HANG, NULL);
	addr_of(&a, AF_INET, s.port);
	m.fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	m.off = 0;
	assert_int_equal(qmqp_send(&a, &m, &quick, &r), QMQP_EREAD);
	assert_int_equal(r.errnum, EISDIR);
	server_stop(&s);
	assert_false(s.complete);
	close(m.fd);
	/* the file shrinks while it is sent */
	m.fd = mess_file(body, big);
	m.off = sizeof received - 1;
	server_start(&s, AF_INET, M_GATE, NULL);
	addr_of(&a, AF_INET, s.port);
	w = qmqp_client_start(&c, &a, &m, &lim, qmqp_now_ms());
	while (w == QMQP_WANT_WRITE) {
		struct pollfd p = { .fd = c.fd, .events = POLLOUT };

		if (poll(&p, 1, 500) == 0)
			break;	/* the server's window is closed */
		w = qmqp_client_step(&c, qmqp_now_ms());
	}
	assert_int_equal(w, QMQP_WANT_WRITE);
	assert_int_equal(ftruncate(m.fd, m.off + 100), 0);
	assert_int_equal(write(s.gate[1], "g", 1), 1);
	while (w != QMQP_DONE) {
		struct pollfd p = { .fd = c.fd, .events = w == QMQP_WANT_READ ? POLLIN : POLLOUT };

		poll(&p, 1, 1000);
		w = qmqp_client_step(&c, qmqp_now_ms());
	}
	assert_int_equal(c.result.status, QMQP_EREAD);
	assert_non_null(strstr(c.result.text, "shrank"));
	qmqp_client_free(&c);
	server_stop(&s);
	assert_false(s.complete);
	close(m.fd);
	free(body);
	assert_int_equal(open_fds(), before);
}

static void test_deadline(void **unused)
{
	struct qmqp_limits lim = { .connect_ms = 3000, .io_ms = 60000 };
	struct qmqp_result r;
	struct qmqp_addr a;
	struct qmqp_msg m = { .sender = "", .nrcpt = 0 };
	int64_t t0;

	addr_of(&a, AF_INET, 9);
	m.fd = mess_file("x", 1);
	lim.deadline_ms = qmqp_now_ms() - 1;
	assert_int_equal(qmqp_send(&a, &m, &lim, &r), QMQP_ETIMEOUT);
	close(m.fd);
	/* a hanging server: the deadline, not io_ms, ends it */
	lim.deadline_ms = qmqp_now_ms() + 500;
	t0 = qmqp_now_ms();
	assert_int_equal(outcome(AF_INET, M_HANG, NULL, &lim, 100, &r), QMQP_ECONV);
	assert_true(qmqp_now_ms() - t0 < 10000);
}

static void test_state_machine(void **unused)
{
	struct qmqp_limits lim = { .connect_ms = 3000, .io_ms = 60000 };
	struct qmqp_client c;
	struct server s;
	struct qmqp_addr a;
	struct qmqp_msg m = { .sender = "a@example.org", .rcpt = rcpts2, .nrcpt = 2 };
	size_t big = 8u << 20;
	char *body = calloc(1, big);
	enum qmqp_want w;
	int64_t t0 = qmqp_now_ms();
	int steps = 0, before = open_fds();

	m.fd = mess_file(body, big);
	m.off = sizeof received - 1;
	server_start(&s, AF_INET, M_NOREAD, NULL);
	addr_of(&a, AF_INET, s.port);
	w = qmqp_client_start(&c, &a, &m, &lim, qmqp_now_ms());
	assert_true(w == QMQP_WANT_WRITE);
	assert_true(c.fd >= 0);
	assert_true(fcntl(c.fd, F_GETFL) & O_NONBLOCK);
	/* drive until the socket buffers are full: the server reads nothing */
	while (w == QMQP_WANT_WRITE && steps < 10000) {
		struct pollfd p = { .fd = c.fd, .events = POLLOUT };

		if (poll(&p, 1, 500) == 0)
			break;	/* not writable: the peer's window is closed */
		w = qmqp_client_step(&c, qmqp_now_ms());
		steps++;
	}
	assert_int_equal(w, QMQP_WANT_WRITE);
	w = qmqp_client_step(&c, qmqp_now_ms());	/* nothing to do: returns at once */
	assert_int_equal(w, QMQP_WANT_WRITE);
	assert_true(qmqp_now_ms() - t0 < 20000);	/* far below io_ms: never blocked */
	assert_true(qmqp_client_deadline(&c) > qmqp_now_ms() + 30000);
	qmqp_client_free(&c);	/* cut in the middle */
	assert_int_equal(c.fd, -1);
	assert_int_equal(write(s.gate[1], "g", 1), 1);
	server_stop(&s);
	assert_false(s.complete);
	close(m.fd);
	free(body);
	assert_int_equal(open_fds(), before);
}

static void test_list(void **unused)
{
	struct qmqp_result r;
	struct qmqp_addr a[3];
	struct server s, z;
	struct qmqp_msg m = { .sender = "a@example.org", .rcpt = rcpts2, .nrcpt = 2 };
	int h1, h2, before = open_fds();

	m.fd = mess_file(body1, sizeof body1 - 1);
	m.off = sizeof received - 1;
	addr_of(&a[0], AF_INET, dead_port(&h1));
	addr_of(&a[1], AF_INET, dead_port(&h2));
	server_start(&s, AF_INET6, M_REPLY, "1:K,");
	addr_of(&a[2], AF_INET6, s.port);
	assert_int_equal(qmqp_send_list(a, 3, &m, &quick, &r), QMQP_OK);
	server_stop(&s);
	assert_true(s.complete);
	/* a connected server's Z is final */
	server_start(&z, AF_INET, M_REPLY, "2:Zx,");
	server_start(&s, AF_INET6, M_REPLY, "1:K,");
	addr_of(&a[1], AF_INET, z.port);
	addr_of(&a[2], AF_INET6, s.port);
	assert_int_equal(qmqp_send_list(a, 3, &m, &quick, &r), QMQP_TEMP);
	server_stop(&z);
	{
		/* the list stopped at the Z: the third server's first
		 * connection is this empty one of ours */
		int k = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

		assert_int_equal(connect(k, (struct sockaddr *)&a[2].sa, a[2].salen), 0);
		close(k);
	}
	server_stop(&s);
	assert_int_equal(s.got_len, 0);
	/* all refused */
	addr_of(&a[1], AF_INET, 9);
	assert_int_equal(qmqp_send_list(a, 2, &m, &quick, &r), QMQP_EREFUSED);
	assert_int_equal(qmqp_send_list(a, 0, &m, &quick, &r), QMQP_EREFUSED);
	close(h1);
	close(h2);
	close(m.fd);
	assert_int_equal(open_fds(), before);
}

static int setup(void **unused)
{
	tmp = tu_tmpdir("qmqp-client");
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
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_request_exact),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_state_machine),
		cmocka_unit_test(test_list),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
