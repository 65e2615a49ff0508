/*
 * test_router_loop.c - router/router_loop.c: the life of a message in the
 * loop thread, in-process: router_run() on a thread of the test with a temp
 * queue, the "test" scanner (its verdict from an X-Sluice-Test: line) or
 * none, and a client written here that speaks the wire protocol as
 * sluice-queue does (go-ahead, request with two pipes, reply).
 *
 *	clean        0; one message in todo/; mess = Received line + message
 *	verdicts     virus (31, notqmail: 82 + the text on fd 6), banned,
 *	             limit, spam under reject; drop (0, nothing queued); defer
 *	             (71 + Z text); an error under SLUICE_ON_ERROR=accept (0)
 *	envelope     cut short (54), an address too long (11), a record of
 *	             the wrong type (91): nothing queued
 *	deadlines    a hanging scanner past SLUICE_SCAN_TIMEOUT (71 "in
 *	             time"); qmail-smtpd silent past SLUICE_READ_TIMEOUT (52)
 *	client gone  sluice-queue closes while its message is scanned: the
 *	             message is removed, the next one is served
 *	stop         SIGTERM: router_run() returns 0
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "router/router.h"

static char *tmp, sock[300], qdir[300];
static struct router_config cfg;
static pthread_t thread;
static int rc;

static void *run(void *arg)
{
	rc = router_run(&cfg);
	return NULL;
}

/* start - sluiced on one temp queue with the settings given (NULL-ended
 * NAME, VALUE pairs), until stop() */
static void start(const char *const *kv)
{
	char err[600];
	int i;

	tmp = tu_tmpdir("loop");
	snprintf(qdir, sizeof qdir, "%s/queue1", tmp);
	tu_queue_tree(qdir, 23);
	snprintf(sock, sizeof sock, "%s/s.sock", tmp);
	clearenv();
	setenv("QUEUE_BASE", tmp, 1);
	setenv("QUEUE_COUNT", "1", 1);
	setenv("SLUICE_SOCKET", sock, 1);
	setenv("SLUICE_SCANNERS", "test", 1);
	setenv("SLUICE_CONTROL", tmp, 1);	/* no policy files there */
	setenv("SLUICE_FSYNC_THREADS", "0", 1);
	if (geteuid() == 0)
		setenv("SLUICE_USER", "root", 1);
	for (i = 0; kv && kv[i]; i += 2)
		setenv(kv[i], kv[i + 1], 1);
	if (router_config_env(&cfg, err, sizeof err) < 0)
		fail_msg("settings: %s", err);
	assert_int_equal(pthread_create(&thread, NULL, run, NULL), 0);
	if (tu_wait_unix(sock, 10000) < 0)
		fail_msg("sluiced did not listen on %s", sock);
}

static void stop(void)
{
	kill(getpid(), SIGTERM);
	pthread_join(thread, NULL);
	assert_int_equal(rc, 0);
	router_config_free(&cfg);
	tu_rmtree(tmp);
	free(tmp);
}

struct answer {
	int plain, code, fd;
	char text[300];
	int replied;	/* 0: the daemon closed without a reply */
};

/*
 * submit - one message as qmail-smtpd gives it to sluice-queue: msg on fd 0,
 * env (len bytes) on fd 1.  hold_ms > 0: the message pipe stays open that
 * long before it is closed (a slow sender); gone: the client closes its
 * connection once the message is sent, without waiting for the answer.
 */
static struct answer submit(const char *msg, const char *env, size_t envlen, int hold_ms, int gone)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct answer a = { .fd = -1 };
	int s, m[2], e[2], fds[2];
	char buf[512], go, req[WIRE_REQ_MAX];
	size_t len, got = 0;
	struct wire_reply r;

	strcpy(sa.sun_path, sock);
	assert_true((s = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(read(s, &go, 1), 1);
	assert_int_equal(go, WIRE_GO);
	assert_int_equal(pipe(m), 0);
	assert_int_equal(pipe(e), 0);
	fds[0] = m[0];
	fds[1] = e[0];
	len = wire_env(req, sizeof req);
	assert_int_equal(wire_send_request(s, fds, req, len), 0);
	close(m[0]);
	close(e[0]);
	assert_int_equal(write(m[1], msg, strlen(msg)), (ssize_t)strlen(msg));
	if (hold_ms > 0)
		poll(NULL, 0, hold_ms);
	close(m[1]);
	/* after a long silence the daemon may have given up: EPIPE then */
	if (envlen && write(e[1], env, envlen) != (ssize_t)envlen && !(hold_ms > 0 && errno == EPIPE))
		fail_msg("cannot write the envelope: %s", strerror(errno));
	close(e[1]);
	if (gone) {
		poll(NULL, 0, 200);
		close(s);
		return a;
	}
	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 20000) != 1)
			fail_msg("no answer within 20 s");
		if ((n = read(s, buf + got, sizeof buf - got)) <= 0)
			break;
		got += (size_t)n;
		if (wire_reply_decode(buf, got, &r) == 1) {
			a.replied = 1;
			a.plain = r.plain;
			a.code = r.code;
			a.fd = r.fd;
			snprintf(a.text, sizeof a.text, "%.*s", r.len, r.text);
			break;
		}
	}
	close(s);
	return a;
}

#define ENV "Fs@example.org\0Tr@example.net\0"	/* + the final NUL of the literal */
#define MSG(h) "From: s@example.org\n" h "Subject: t\n\nbody\n"

static long queued(void)
{
	return tu_count(tu_path(qdir, "todo"));
}

/* settled - nothing of ours left in pid/, mess/ beyond what todo/ holds */
static void settled(long want)
{
	int i;

	for (i = 0; i < 200 && (tu_queue_mess(qdir) != want || tu_count(tu_path(qdir, "pid")) != 0); i++)
		poll(NULL, 0, 25);
	assert_int_equal(queued(), want);
	assert_int_equal(tu_queue_mess(qdir), want);
	assert_int_equal(tu_count(tu_path(qdir, "pid")), 0);
}

/* only_mess - the committed message's mess file (exactly one in todo/) */
static char *only_mess(size_t *len)
{
	DIR *d = opendir(tu_path(qdir, "todo"));
	struct dirent *e;
	unsigned long id = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			id = strtoul(e->d_name, NULL, 10);
	closedir(d);
	assert_true(id != 0);
	return tu_read(tu_path(qdir, "mess/%lu/%lu", id % 23, id), len);
}

static void test_clean(void **unused)
{
	static const char msg[] = MSG("");
	struct answer a;
	char *mess, *nl;
	size_t len;

	start(NULL);
	a = submit(msg, ENV, sizeof ENV, 0, 0);
	assert_true(a.replied);
	assert_int_equal(a.plain, 0);
	assert_int_equal(a.fd, -1);
	settled(1);
	mess = only_mess(&len);
	assert_non_null(mess);
	assert_int_equal(strncmp(mess, "Received: (qmail ", 17), 0);
	nl = strchr(mess, '\n');
	assert_non_null(nl);
	assert_int_equal(len - (size_t)(nl + 1 - mess), strlen(msg));
	assert_memory_equal(nl + 1, msg, strlen(msg));
	free(mess);
	stop();
}

static void test_verdicts(void **unused)
{
	static const char *const kv[] = { "SLUICE_CUSTOM_ERROR", "notqmail", "SLUICE_ON_SPAM", "drop",
					  "SLUICE_ON_LIMIT", "defer", NULL };
	struct answer a;

	start(kv);
	a = submit(MSG("X-Sluice-Test: virus Evil.Test\n"), ENV, sizeof ENV, 0, 0);
	assert_int_equal(a.plain, 31);
	assert_int_equal(a.code, 82);
	assert_int_equal(a.fd, 6);
	assert_string_equal(a.text, "DYour email was rejected because it contains the Evil.Test virus (#5.7.1)");
	a = submit(MSG("X-Sluice-Test: banned bad.exe\n"), ENV, sizeof ENV, 0, 0);
	assert_int_equal(a.plain, 31);
	assert_string_equal(a.text, "DYour email was rejected because it contains a bad attachment: bad.exe (#5.7.1)");
	a = submit(MSG("X-Sluice-Test: limit too deep\n"), ENV, sizeof ENV, 0, 0);
	assert_int_equal(a.plain, 71);
	assert_string_equal(a.text, "ZYour email was rejected because it could not be scanned: too deep (#4.7.1)");
	a = submit(MSG("X-Sluice-Test: spam 12.5\n"), ENV, sizeof ENV, 0, 0);
	assert_int_equal(a.plain, 0);	/* dropped: answered 0, delivered to nobody */
	assert_int_equal(a.fd, -1);
	settled(0);
	a = submit(MSG("X-Sluice-Test: error backend on fire\n"), ENV, sizeof ENV, 0, 0);
	assert_int_equal(a.plain, 71);
	assert_string_equal(a.text, "ZMessage could not be scanned, try again later (#4.3.0)");
	settled(0);
	stop();

	{
		static const char *const acc[] = { "SLUICE_ON_ERROR", "accept", NULL };

		start(acc);
		a = submit(MSG("X-Sluice-Test: error backend on fire\n"), ENV, sizeof ENV, 0, 0);
		assert_int_equal(a.plain, 0);
		settled(1);
		stop();
	}
}

static void test_envelope(void **unused)
{
	static const char cut[] = "Fs@example.org\0Tr@example.net";	/* no final NUL */
	static const char wrong[] = "Fs@example.org\0Xr@example.net\0";
	char lng[1100];
	struct answer a;

	start(NULL);
	a = submit(MSG(""), cut, sizeof cut - 1, 0, 0);
	assert_int_equal(a.plain, 54);
	a = submit(MSG(""), wrong, sizeof wrong, 0, 0);
	assert_int_equal(a.plain, 91);
	lng[0] = 'F';
	memset(lng + 1, 'a', 1010);
	lng[1011] = 0;
	a = submit(MSG(""), lng, 1012, 0, 0);
	assert_int_equal(a.plain, 11);
	settled(0);
	stop();
}

static void test_deadlines(void **unused)
{
	static const char *const kv[] = { "SLUICE_SCAN_TIMEOUT", "1", "SLUICE_READ_TIMEOUT", "1",
					  "SLUICE_CUSTOM_ERROR", "notqmail", NULL };
	struct answer a;
	struct timespec t0, t1;

	start(kv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a = submit(MSG("X-Sluice-Test: hang\n"), ENV, sizeof ENV, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(a.plain, 71);
	assert_string_equal(a.text, "ZMessage could not be scanned in time, try again later (#4.3.0)");
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	a = submit(MSG(""), ENV, sizeof ENV, 3000, 0);	/* silent 3 s */
	assert_int_equal(a.plain, 52);
	settled(0);
	stop();
}

static void test_client_gone(void **unused)
{
	static const char *const kv[] = { "SLUICE_SCAN_TIMEOUT", "3", NULL };
	struct answer a;

	start(kv);
	submit(MSG("X-Sluice-Test: hang\n"), ENV, sizeof ENV, 0, 1);
	settled(0);	/* removed whole, before the scan deadline */
	a = submit(MSG(""), ENV, sizeof ENV, 0, 0);
	assert_int_equal(a.plain, 0);
	settled(1);
	stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_client_gone),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
