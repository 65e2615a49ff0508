/*
 * test_client_wire.c - router/client_wire.c: the request (payload + fds 0
 * and 1 by SCM_RIGHTS), the environment payload and the reply, over real
 * socketpairs and pipes.
 *
 *	round trip    two pipes' read ends passed; the received fds are the
 *	              same pipes (bytes written to the originals come out of
 *	              them, same inodes); payload intact; close-on-exec set
 *	env payload   wire_env() passes exactly the qmail-smtpd variables that
 *	              are set, in its order, "KEY=VALUE\0" after the magic; a
 *	              long value is cut at 512 bytes; a full buffer stops it
 *	              cleanly; wire_env_get() finds each, not prefixes or
 *	              suffixes of names, not past len
 *	malformed     no fds, bad magic with 2 fds, 1 fd, 3 fds, a short
 *	              frame, EOF: -1 with EPROTO (0 for EOF) and not one fd
 *	              left open in this process (/proc/self/fd counted)
 *	reply         encode/decode for texts of 0..255 bytes and fd -1;
 *	              every partial buffer decodes as "short" (0); a wrong
 *	              first byte is -1
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "router/client.h"

/* open_fds - entries of /proc/self/fd (the count includes opendir's own) */
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

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* send_fds - one sendmsg with payload and n fds (n may be 0) */
static void send_fds(int sock, const char *payload, size_t len, const int *fds, size_t n)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(u.buf, 0, sizeof u.buf);
	if (n) {
		struct cmsghdr *c;

		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)len);
}

static void write_str(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void read_str(int fd, const char *want)
{
	char buf[256];
	size_t n = strlen(want), got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
	assert_memory_equal(buf, want, n);
}

/* ----------------------------------------------------------- round trip */

static void test_request_round_trip(void **unused)
{
	int sv[2], msg[2], env[2], got[2];
	char payload[WIRE_REQ_MAX], buf[WIRE_REQ_MAX];
	struct stat a, b;
	size_t len;
	ssize_t n;

	pair(sv);
	assert_int_equal(pipe(msg), 0);
	assert_int_equal(pipe(env), 0);
	memcpy(payload, WIRE_MAGIC "TCPREMOTEIP=192.0.2.1\0PROTO=TCP\0", 4 + 22 + 10);
	len = 4 + 22 + 10;
	/* sluice-queue passes the read ends: fd 0 (message) and fd 1 (envelope) */
	assert_int_equal(wire_send_request(sv[0], (int[2]){ msg[0], env[0] }, payload, len), 0);
	n = wire_recv_request(sv[1], got, buf, sizeof buf);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(buf, payload, len);
	assert_true(got[0] >= 0 && got[1] >= 0);
	assert_true(got[0] != msg[0] && got[1] != env[0]);	/* new descriptors... */
	assert_int_equal(fstat(got[0], &a), 0);
	assert_int_equal(fstat(msg[0], &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);	/* ...same pipes */
	assert_int_equal(fstat(got[1], &a), 0);
	assert_int_equal(fstat(env[0], &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	/* what qmail-smtpd writes comes out of the received fds, in order */
	write_str(msg[1], "Subject: hi\n\nbody\n");
	write_str(env[1], "Fa@b\0");
	read_str(got[0], "Subject: hi\n\nbody\n");
	read_str(got[1], "Fa@b");
	/* the sender's copies can go: the receiver alone holds the pipes */
	close(msg[0]);
	close(env[0]);
	write_str(msg[1], "more");
	read_str(got[0], "more");
	/* received fds are close-on-exec: no scanner child inherits them */
	assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(got[1], F_GETFD) & FD_CLOEXEC);
	/* EOF travels too */
	close(msg[1]);
	assert_int_equal(read(got[0], buf, 1), 0);
	close(got[0]);
	close(got[1]);
	close(env[1]);
	close(sv[0]);
	close(sv[1]);
}

/* the daemon leaves the request as it is when nothing arrived yet */
static void test_request_nothing_yet(void **unused)
{
	int sv[2], got[2] = { 7, 7 };
	char buf[64];

	pair(sv);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(wire_recv_request(sv[1], got, buf, sizeof buf), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	assert_int_equal(got[0], -1);
	assert_int_equal(got[1], -1);
	close(sv[0]);
	assert_int_equal(wire_recv_request(sv[1], got, buf, sizeof buf), 0);	/* EOF */
	close(sv[1]);
}

static void test_send_to_closed_peer(void **unused)
{
	int sv[2], p[2];
	char payload[8] = WIRE_MAGIC;

	pair(sv);
	assert_int_equal(pipe(p), 0);
	close(sv[1]);
	/* MSG_NOSIGNAL: EPIPE, not a SIGPIPE that would kill sluice-queue */
	assert_int_equal(wire_send_request(sv[0], p, payload, 4), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
	close(p[0]);
	close(p[1]);
}

/* ---------------------------------------------------------- env payload */

static const char *const all_vars[] = {
	"TCPREMOTEIP", "TCPREMOTEHOST", "TCPREMOTEINFO", "TCPLOCALIP", "RELAYCLIENT",
	"PROTO", "SMTPAUTHUSER", "TCPREMOTEPORT",
};

static void clear_vars(void)
{
	size_t i;

	for (i = 0; i < sizeof all_vars / sizeof all_vars[0]; i++)
		unsetenv(all_vars[i]);
	unsetenv("TCPLOCALPORT");
	unsetenv("PATH_NOT_PASSED");
}

static void test_env_payload(void **unused)
{
	char buf[WIRE_REQ_MAX];
	static const char want[] = WIRE_MAGIC "TCPREMOTEIP=192.0.2.7\0TCPLOCALIP=198.51.100.1\0"
				   "RELAYCLIENT=\0PROTO=SMTP\0TCPREMOTEPORT=40000\0";
	size_t n;

	clear_vars();
	setenv("PROTO", "SMTP", 1);
	setenv("TCPREMOTEIP", "192.0.2.7", 1);
	setenv("TCPLOCALIP", "198.51.100.1", 1);
	setenv("RELAYCLIENT", "", 1);	/* set but empty: tcprules' RELAYCLIENT="" */
	setenv("TCPREMOTEPORT", "40000", 1);
	setenv("TCPLOCALPORT", "25", 1);	/* not passed */
	n = wire_env(buf, sizeof buf);
	assert_int_equal(n, sizeof want - 1);
	assert_memory_equal(buf, want, n);

	assert_string_equal(wire_env_get(buf, n, "TCPREMOTEIP"), "192.0.2.7");
	assert_string_equal(wire_env_get(buf, n, "TCPLOCALIP"), "198.51.100.1");
	assert_string_equal(wire_env_get(buf, n, "PROTO"), "SMTP");
	assert_string_equal(wire_env_get(buf, n, "TCPREMOTEPORT"), "40000");
	assert_string_equal(wire_env_get(buf, n, "RELAYCLIENT"), "");
	assert_null(wire_env_get(buf, n, "TCPREMOTEHOST"));
	assert_null(wire_env_get(buf, n, "TCPLOCALPORT"));
	assert_null(wire_env_get(buf, n, "SMTPAUTHUSER"));
	/* neither a prefix nor a suffix of a name matches */
	assert_null(wire_env_get(buf, n, "TCPREMOTE"));
	assert_null(wire_env_get(buf, n, "REMOTEIP"));
	assert_null(wire_env_get(buf, n, "TCPREMOTEIPX"));
	assert_null(wire_env_get(buf, n, ""));
	/* a value that looks like KEY=VALUE is not a key */
	setenv("SMTPAUTHUSER", "PROTO=fake", 1);
	n = wire_env(buf, sizeof buf);
	assert_string_equal(wire_env_get(buf, n, "SMTPAUTHUSER"), "PROTO=fake");
	assert_string_equal(wire_env_get(buf, n, "PROTO"), "SMTP");
	/* nothing set: the magic alone */
	clear_vars();
	assert_int_equal(wire_env(buf, sizeof buf), 4);
	assert_memory_equal(buf, WIRE_MAGIC, 4);
	assert_null(wire_env_get(buf, 4, "PROTO"));
}

static void test_env_limits(void **unused)
{
	char buf[WIRE_REQ_MAX], big[700];
	size_t n, i;

	clear_vars();
	memset(big, 'h', sizeof big - 1);
	big[sizeof big - 1] = 0;
	setenv("TCPREMOTEHOST", big, 1);
	setenv("PROTO", "SMTP", 1);
	/* a value longer than 512 bytes is cut there */
	n = wire_env(buf, sizeof buf);
	assert_int_equal(strlen(wire_env_get(buf, n, "TCPREMOTEHOST")), 512);
	assert_string_equal(wire_env_get(buf, n, "PROTO"), "SMTP");
	/* all eight with 400-byte values fit a request */
	big[400] = 0;
	for (i = 0; i < sizeof all_vars / sizeof all_vars[0]; i++)
		setenv(all_vars[i], big, 1);
	n = wire_env(buf, sizeof buf);
	assert_true(n <= sizeof buf);
	for (i = 0; i < sizeof all_vars / sizeof all_vars[0]; i++) {
		const char *v = wire_env_get(buf, n, all_vars[i]);

		assert_non_null(v);
		assert_int_equal(strlen(v), 400);
	}
	/* at 512 each they do not: whole pairs up to the cap, then none */
	big[400] = 'h';
	for (i = 0; i < sizeof all_vars / sizeof all_vars[0]; i++)
		setenv(all_vars[i], big, 1);
	n = wire_env(buf, sizeof buf);
	assert_true(n <= sizeof buf);
	assert_int_equal(buf[n - 1], 0);
	assert_non_null(wire_env_get(buf, n, all_vars[0]));
	assert_null(wire_env_get(buf, n, all_vars[7]));
	for (i = 0; i < sizeof all_vars / sizeof all_vars[0]; i++) {
		const char *v = wire_env_get(buf, n, all_vars[i]);

		if (v)
			assert_int_equal(strlen(v), 512);
	}
	/* a small buffer: whole pairs only, never past cap */
	clear_vars();
	setenv("TCPREMOTEIP", "192.0.2.7", 1);	/* 22 bytes with its NUL */
	setenv("PROTO", "SMTP", 1);	/* 11 */
	memset(buf, 'Z', sizeof buf);
	n = wire_env(buf, 4 + 22 + 10);
	assert_int_equal(n, 4 + 22);
	assert_string_equal(wire_env_get(buf, n, "TCPREMOTEIP"), "192.0.2.7");
	assert_null(wire_env_get(buf, n, "PROTO"));
	assert_int_equal(buf[4 + 22], 'Z');
	n = wire_env(buf, 4 + 22 + 11);
	assert_int_equal(n, 4 + 22 + 11);
	assert_string_equal(wire_env_get(buf, n, "PROTO"), "SMTP");
	clear_vars();
}

/* wire_env_get never reads past len, even without a final NUL */
static void test_env_get_bounds(void **unused)
{
	static const char p[] = WIRE_MAGIC "A=1\0PROTO=SMTPXXXX";
	char *copy = malloc(4 + 4 + 10);	/* exactly "SLQ2A=1\0PROTO=SMTP" */

	memcpy(copy, p, 4 + 4 + 10);
	assert_string_equal(wire_env_get(copy, 8, "A"), "1");
	assert_null(wire_env_get(copy, 8, "PROTO"));
	/* the key and its '=' inside len, the value cut by len: found, the
	 * caller (the daemon NUL-terminates its buffer) reads it */
	assert_non_null(wire_env_get(copy, 4 + 4 + 10, "PROTO"));
	assert_null(wire_env_get(copy, 4 + 4 + 5, "PROTO"));
	assert_null(wire_env_get(copy, 4, "A"));
	free(copy);
}

/* ------------------------------------------------------------ malformed */

/* malformed - send a frame, expect -1/EPROTO and no fd left behind */
static void malformed(const char *what, const char *payload, size_t len, size_t nfds)
{
	int sv[2], p[2], fds[4], got[2], before, after;
	char buf[WIRE_REQ_MAX];
	size_t i;
	ssize_t n;

	pair(sv);
	assert_int_equal(pipe(p), 0);
	for (i = 0; i < nfds; i++)
		fds[i] = p[i % 2];
	send_fds(sv[0], payload, len, fds, nfds);
	before = open_fds();
	n = wire_recv_request(sv[1], got, buf, sizeof buf);
	if (n != -1 || errno != EPROTO)
		fail_msg("%s: returned %zd (%s), want -1 EPROTO", what, n, strerror(errno));
	after = open_fds();
	if (after != before)
		fail_msg("%s: %d fds open before, %d after: received fds leak", what, before, after);
	assert_int_equal(got[0], -1);
	assert_int_equal(got[1], -1);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_request_malformed(void **unused)
{
	static const char good[] = WIRE_MAGIC "PROTO=SMTP";
	static const char bad[] = "SLQ1PROTO=SMTP";	/* the protocol before the go-ahead byte */

	malformed("no fds", good, sizeof good, 0);
	malformed("bad magic, 2 fds", bad, sizeof bad, 2);
	malformed("1 fd", good, sizeof good, 1);
	malformed("short frame, 2 fds", "SL", 2, 2);
	malformed("bad magic, 1 fd", bad, sizeof bad, 1);
	malformed("HTTP, no fds", "GET / HTTP/1.0\r\n\r\n", 18, 0);
}

/* more fds than the two asked for: the extra ones are closed, the request
 * stands */
static void test_request_extra_fds(void **unused)
{
	static const char good[] = WIRE_MAGIC "PROTO=SMTP";
	int sv[2], p[2], q[2], got[2], before, after;
	char buf[WIRE_REQ_MAX];

	pair(sv);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	send_fds(sv[0], good, sizeof good, (int[3]){ p[0], q[0], q[1] }, 3);
	before = open_fds();
	assert_int_equal(wire_recv_request(sv[1], got, buf, sizeof buf), (ssize_t)sizeof good);
	after = open_fds();
	assert_int_equal(after, before + 2);	/* the two asked for, nothing more */
	close(got[0]);
	close(got[1]);
	/* too many for the control buffer (MSG_CTRUNC): refused, nothing kept */
	send_fds(sv[0], good, sizeof good, (int[8]){ p[0], p[1], q[0], q[1], p[0], p[1], q[0], q[1] },
		 8);
	before = open_fds();
	assert_int_equal(wire_recv_request(sv[1], got, buf, sizeof buf), -1);
	assert_int_equal(errno, EPROTO);
	after = open_fds();
	assert_int_equal(after, before);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	close(sv[0]);
	close(sv[1]);
}

/* ---------------------------------------------------------------- reply */

static void round_trip(const struct wire_reply *in)
{
	char buf[5 + 256];
	struct wire_reply out;
	size_t len = wire_reply_encode(in, buf), i;

	assert_int_equal(len, 5 + (size_t)in->len);
	assert_int_equal(buf[0], 'R');
	for (i = 0; i < len; i++) {
		memset(&out, 0x5a, sizeof out);
		if (wire_reply_decode(buf, i, &out) != 0)
			fail_msg("%zu of %zu bytes decoded as a whole reply", i, len);
	}
	memset(&out, 0x5a, sizeof out);
	assert_int_equal(wire_reply_decode(buf, len, &out), 1);
	assert_int_equal(out.code, in->code);
	assert_int_equal(out.plain, in->plain);
	assert_int_equal(out.fd, in->fd);
	assert_int_equal(out.len, in->len);
	assert_memory_equal(out.text, in->text, in->len);
	assert_int_equal(out.text[out.len], 0);
	/* bytes after a whole reply are ignored */
	buf[len] = 'x';
	assert_int_equal(wire_reply_decode(buf, len + 1, &out), 1);
	assert_int_equal(out.len, in->len);
}

static void test_reply_codec(void **unused)
{
	struct wire_reply r;
	size_t i;

	client_reply_make(&r, QQ_OK, CUSTOM_NONE, 2, NULL);
	round_trip(&r);
	client_reply_make(&r, QQ_PERM, CUSTOM_NOTQMAIL, 2, "virus (#5.7.1)");
	round_trip(&r);
	client_reply_make(&r, QQ_TEMP, CUSTOM_INDIMAIL, 127, "later (#4.3.0)");
	round_trip(&r);
	/* the longest text, every byte value the text may hold */
	memset(&r, 0, sizeof r);
	r.code = 82;
	r.plain = 31;
	r.fd = 6;
	r.len = 255;
	for (i = 0; i < 255; i++)
		r.text[i] = (char)(0x20 + i % 0x5f);
	round_trip(&r);
	/* codes above 127 survive the char in the frame */
	memset(&r, 0, sizeof r);
	r.code = r.plain = 200;
	r.fd = -1;
	round_trip(&r);
}

static void test_reply_bad(void **unused)
{
	struct wire_reply r;
	char buf[5 + 256];
	size_t len;

	client_reply_make(&r, QQ_PERM, CUSTOM_NOTQMAIL, 2, "virus");
	len = wire_reply_encode(&r, buf);
	buf[0] = 'A';		/* e.g. an ack where a reply belongs */
	assert_int_equal(wire_reply_decode(buf, len, &r), -1);
	assert_int_equal(wire_reply_decode("\0\0\0\0\0", 5, &r), -1);
	assert_int_equal(wire_reply_decode("", 0, &r), 0);
}

/* the reply over a real socket, read in pieces as sluice-queue reads it */
static void test_reply_over_socket(void **unused)
{
	int sv[2];
	struct wire_reply r, out;
	char buf[5 + 256], in[5 + 256];
	size_t len, got = 0;
	int rc = 0;

	pair(sv);
	client_reply_make(&r, QQ_PERM, CUSTOM_SIMSCAN, 2, "bad attachment: x.exe (#5.7.1)");
	len = wire_reply_encode(&r, buf);
	/* one byte at a time */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(write(sv[0], buf + i, 1), 1);
	while (rc == 0) {
		ssize_t n = read(sv[1], in + got, 1);

		assert_int_equal(n, 1);
		got++;
		rc = wire_reply_decode(in, got, &out);
	}
	assert_int_equal(rc, 1);
	assert_int_equal(got, len);
	assert_int_equal(out.code, 82);
	assert_int_equal(out.plain, 31);
	assert_int_equal(out.fd, 4);
	assert_string_equal(out.text, "Dbad attachment: x.exe (#5.7.1)");
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_nothing_yet),
		cmocka_unit_test(test_send_to_closed_peer),
		cmocka_unit_test(test_env_payload),
		cmocka_unit_test(test_env_limits),
		cmocka_unit_test(test_env_get_bounds),
		cmocka_unit_test(test_request_malformed),
		cmocka_unit_test(test_request_extra_fds),
		cmocka_unit_test(test_reply_codec),
		cmocka_unit_test(test_reply_bad),
		cmocka_unit_test(test_reply_over_socket),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
