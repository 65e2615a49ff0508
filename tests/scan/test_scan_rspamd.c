/*
 * test_scan_rspamd.c - scan/scan_rspamd.c.
 *
 *	without a server
 *	  json        every action mapped: reject -> spam, soft reject -> spam
 *	              + SCAN_F_DEFER, add header / rewrite subject -> spam +
 *	              SCAN_F_TAG with the milter add_headers (string, {value},
 *	              array forms; "X-Spam: Yes" when there are none),
 *	              greylist and no action -> clean; score and required
 *	              kept; smtp_message or the scoring symbols as the name;
 *	              an unknown action, no action, broken JSON -> error (-1)
 *	  init        URLs and unix: sockets taken; anything else refused
 *	  request     a fake rspamd (a thread speaking HTTP/1.1 on a loopback
 *	              port): POST /checkv2 with From, Rcpt per recipient, IP,
 *	              Helo, Queue-Id, the body byte for byte; an Rcpt with a
 *	              CR LF in it left out; three checks from one thread share
 *	              one kept-alive connection; a reply that is not 200 is a
 *	              server failure
 *	with the real rspamd (tests/util/rspamd-conf.sh; 77 when rspamd is not
 *	installed; its hyperscan cache is kept in the build tree)
 *	  gtube       GTUBE -> spam (reject, smtp_message "Gtube pattern")
 *	  actions     a plain mail: clean; Subject sluice-tag-me: spam + tag with
 *	              X-Spam-Status: Yes from the milter block; sluice-soft: spam
 *	              + defer, name "try later"
 *	  failover    a dead server first: every message judged by the real one;
 *	              the dead one counted failed and down
 *	  sigstop     rspamd stopped: SCAN_ERROR at the 1.5 s deadline
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "scan/scan_int.h"

#define RSPAMD "/usr/bin/rspamd"
#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

static const char *const rcpts[] = { "rcpt@example.net", "second@example.net", NULL };

static void *init_rspamd(const char *servers)
{
	struct scan_config cfg = { .rspamd = servers, .net_retry_ms = 60000 };
	char err[512] = "";
	void *st = NULL;

	if (scan_backend_rspamd.init(&st, &cfg, err, sizeof err) < 0)
		fail_msg("rspamd init: %s", err);
	return st;
}

static struct scan_verdict scan1(void *st, int fd, struct scan_headers *h, int64_t deadline)
{
	struct scan_input in = { .fd = fd, .sender = "a@example.org", .rcpts = rcpts,
				 .deadline_ms = deadline, .hdr = h, .want_headers = 1,
				 .remote_ip = "192.0.2.1", .helo = "mail.example.org",
				 .queue_id = "queue1/123" };
	struct scan_verdict v;
	struct stat sb;

	fstat(fd, &sb);
	in.size = sb.st_size;
	memset(&v, 0, sizeof v);
	if (h)
		h->len = 0, h->buf[0] = 0;
	scan_backend_rspamd.scan(st, &in, &v);
	return v;
}

static void json(const char *js, int rc, enum scan_kind kind, unsigned flags, const char *name,
		 const char *headers)
{
	struct scan_verdict v;
	struct scan_headers h = { 0 };

	memset(&v, 0x55, sizeof v);
	assert_int_equal(scan_rspamd_json(js, strlen(js), &v, &h), rc);
	assert_int_equal(v.kind, kind);
	if (rc == 0)
		assert_int_equal(v.flags, flags);
	if (name)
		assert_string_equal(v.name, name);
	if (headers)
		assert_string_equal(h.buf, headers);
}

static void test_json(void **unused)
{
	json("{\"is_skipped\":true,\"score\":15.0,\"required_score\":15.0,\"action\":\"reject\","
	     "\"symbols\":{\"GTUBE\":{\"name\":\"GTUBE\",\"score\":0.0}},"
	     "\"messages\":{\"smtp_message\":\"Gtube pattern\"}}",
	     0, SCAN_SPAM, 0, "reject 15.00/15.00 Gtube pattern", "X-Spam: Yes\n");
	json("{\"score\":7.5,\"required_score\":15.0,\"action\":\"soft reject\","
	     "\"messages\":{\"smtp_message\":\"try later\"}}",
	     0, SCAN_SPAM, SCAN_F_DEFER, "soft reject 7.50/15.00 try later", NULL);
	json("{\"score\":56.0,\"required_score\":150.0,\"action\":\"add header\","
	     "\"symbols\":{\"A\":{\"score\":50.0},\"B\":{\"score\":0.0},\"C\":{\"score\":6.0}},"
	     "\"milter\":{\"remove_headers\":{\"X-Spam\":0},\"add_headers\":{"
	     "\"X-Spam-Status\":{\"order\":-1,\"value\":\"Yes, score=56.00\"},"
	     "\"X-Spamd-Bar\":\"+++\",\"X-Two\":[\"one\",{\"value\":\"two\"}],"
	     "\"X-Evil\":\"a\\r\\nInjected: yes\"}}}",
	     0, SCAN_SPAM, SCAN_F_TAG, "add header 56.00/150.00 A,C",
	     "X-Spam-Status: Yes, score=56.00\nX-Spamd-Bar: +++\nX-Two: one\nX-Two: two\n"
	     "X-Evil: a  Injected: yes\n");
	json("{\"score\":9,\"required_score\":15,\"action\":\"rewrite subject\",\"subject\":\"***SPAM***\"}",
	     0, SCAN_SPAM, SCAN_F_TAG, NULL, "X-Spam: Yes\n");
	json("{\"score\":5.1,\"required_score\":15,\"action\":\"greylist\"}", 0, SCAN_CLEAN, 0,
	     "greylist 5.10/15.00", "");
	json("{\"score\":-1,\"required_score\":15,\"action\":\"no action\","
	     "\"milter\":{\"add_headers\":{\"X-Spam-Status\":{\"value\":\"No, score=-1.00\"}}}}",
	     0, SCAN_CLEAN, 0, NULL, "X-Spam-Status: No, score=-1.00\n");
	json("{\"score\":1,\"action\":\"discard\"}", -1, SCAN_ERROR, 0, NULL, NULL);
	json("{\"score\":1}", -1, SCAN_ERROR, 0, NULL, NULL);
	json("{\"action\":\"reject\"", -1, SCAN_ERROR, 0, NULL, NULL);
	json("<html>502 Bad Gateway</html>", -1, SCAN_ERROR, 0, NULL, NULL);
	json("[\"reject\"]", -1, SCAN_ERROR, 0, NULL, NULL);
	json("{\"action\":7}", -1, SCAN_ERROR, 0, NULL, NULL);
}

static void test_init(void **unused)
{
	struct scan_config cfg = { 0 };
	static const char *const bad[] = { "127.0.0.1:11333", "ftp://x", "unix:relative", "", NULL };
	char err[512];
	void *st;
	int i;

	cfg.rspamd = "http://127.0.0.1:11333, https://[::1]:11333/checkv2,unix:/run/rspamd.sock";
	assert_int_equal(scan_backend_rspamd.init(&st, &cfg, err, sizeof err), 0);
	scan_backend_rspamd.fini(st);
	for (i = 0; bad[i]; i++) {
		cfg.rspamd = bad[i];
		err[0] = 0;
		assert_int_equal(scan_backend_rspamd.init(&st, &cfg, err, sizeof err), -1);
		assert_true(err[0]);
	}
}

/* A fake rspamd: serves HTTP/1.1 on a loopback port, keeps connections,
 * records the requests, answers n_ok times 200 with a reject, then 503. */
struct fakehttp {
	int lfd, port;
	int conns, reqs, n_ok;
	char req[3][4096];
	size_t reqlen[3];
};

static void *fakehttp_main(void *arg)
{
	struct fakehttp *f = arg;

	for (;;) {
		int fd = accept(f->lfd, NULL, NULL);
		char buf[65536];
		size_t have = 0;

		if (fd < 0)
			break;
		f->conns++;
		for (;;) {
			char *end = memmem(buf, have, "\r\n\r\n", 4), *cl;
			size_t hl, blen = 0;
			ssize_t r;

			if (!end) {
				if ((r = read(fd, buf + have, sizeof buf - 1 - have)) <= 0)
					break;
				have += (size_t)r;
				buf[have] = 0;
				continue;
			}
			hl = (size_t)(end - buf) + 4;
			if ((cl = strcasestr(buf, "Content-Length: ")) && cl < end)
				blen = strtoul(cl + 16, NULL, 10);
			while (have < hl + blen) {
				if ((r = read(fd, buf + have, sizeof buf - 1 - have)) <= 0)
					goto next;
				have += (size_t)r;
			}
			if (f->reqs < 3) {
				memcpy(f->req[f->reqs], buf, hl + blen < 4095 ? hl + blen : 4095);
				f->reqlen[f->reqs] = hl + blen;
			}
			{
				const char *js = "{\"score\":20,\"required_score\":15,\"action\":\"reject\"}";
				char out[512];
				int n = f->reqs < f->n_ok
					? snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
						   "Content-Type: application/json\r\n\r\n%s", strlen(js), js)
					: snprintf(out, sizeof out, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");

				f->reqs++;
				if (write(fd, out, (size_t)n) != n || f->reqs > f->n_ok) {
					close(fd);
					return NULL;	/* the test's requests are over */
				}
			}
			memmove(buf, buf + hl + blen, have - hl - blen);
			have -= hl + blen;
		}
next:
		close(fd);
	}
	return NULL;
}

static void test_request(void **unused)
{
	static const char *const r3[] = { "one@example.net", "evil@x\r\nInjected: 1", "two@example.net",
					  NULL };
	const char *body = "From: a@example.org\nSubject: hi\n\nbody line\n";
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	struct fakehttp f = { 0 };
	struct scan_input in = { .sender = "a@example.org", .rcpts = r3, .remote_ip = "192.0.2.7",
				 .helo = "mx.example.org", .queue_id = "queue2/4711" };
	struct scan_verdict v;
	char spec[64], stats[2048];
	pthread_t t;
	void *st;
	int i;
	size_t n;

	f.lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f.lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(f.lfd, 4), 0);
	getsockname(f.lfd, (struct sockaddr *)&a, &al);
	f.port = ntohs(a.sin_port);
	f.n_ok = 3;
	pthread_create(&t, NULL, fakehttp_main, &f);
	snprintf(spec, sizeof spec, "http://127.0.0.1:%d", f.port);
	st = init_rspamd(spec);
	in.fd = tu_tmpmsg(body, strlen(body));
	in.size = (off_t)strlen(body);
	for (i = 0; i < 3; i++) {
		in.deadline_ms = scan_now_ms() + 10000;
		memset(&v, 0, sizeof v);
		scan_backend_rspamd.scan(st, &in, &v);
		assert_int_equal(v.kind, SCAN_SPAM);
	}
	assert_int_equal(f.reqs, 3);
	assert_int_equal(f.conns, 1);	/* kept alive */
	f.req[0][f.reqlen[0] < 4095 ? f.reqlen[0] : 4095] = 0;
	assert_true(!strncmp(f.req[0], "POST /checkv2 HTTP/1.1\r\n", 24));
	assert_non_null(strstr(f.req[0], "\r\nFrom: a@example.org\r\n"));
	assert_non_null(strstr(f.req[0], "\r\nRcpt: one@example.net\r\n"));
	assert_non_null(strstr(f.req[0], "\r\nRcpt: two@example.net\r\n"));
	assert_null(strstr(f.req[0], "evil"));
	assert_null(strstr(f.req[0], "Injected"));
	assert_non_null(strstr(f.req[0], "\r\nIP: 192.0.2.7\r\n"));
	assert_non_null(strstr(f.req[0], "\r\nHelo: mx.example.org\r\n"));
	assert_non_null(strstr(f.req[0], "\r\nQueue-Id: queue2/4711\r\n"));
	assert_null(strstr(f.req[0], "\r\nUser:"));
	assert_string_equal(strstr(f.req[0], "\r\n\r\n") + 4, body);
	/* the fake answers 503 from now on: a server failure, and the only one */
	in.deadline_ms = scan_now_ms() + 10000;
	scan_backend_rspamd.scan(st, &in, &v);
	assert_int_equal(v.kind, SCAN_ERROR);
	n = scan_backend_rspamd.stats(st, stats, sizeof stats);
	stats[n] = 0;
	assert_non_null(strstr(stats, " ok 3 failed 1 "));
	assert_non_null(strstr(stats, "rspamd_down 1\n"));
	scan_backend_rspamd.fini(st);
	pthread_join(t, NULL);
	close(f.lfd);
	close(in.fd);
}

/* --------------------------------------------------------- real rspamd */

static char *rdir;
static char url[64];
static pid_t rpid;

static int start_rspamd(void **unused)
{
	char cmd[1200], conf[400], v1[400], v2[400], v3[400], v4[400];
	char *argv[16];
	int port = tu_free_port(), n = 0;

	rdir = tu_tmpdir("rspamd");
	snprintf(cmd, sizeof cmd, "sh %s/tests/util/rspamd-conf.sh %s %d %s/tests/rspamd-cache",
		 SLUICE_SOURCE_DIR, rdir, port, SLUICE_BINARY_DIR);
	if (system(cmd) != 0)
		return -1;
	snprintf(conf, sizeof conf, "%s/rspamd.conf", rdir);
	snprintf(v1, sizeof v1, "--var=LOCAL_CONFDIR=%s", rdir);
	snprintf(v2, sizeof v2, "--var=DBDIR=%s/db", rdir);
	snprintf(v3, sizeof v3, "--var=RUNDIR=%s/run", rdir);
	snprintf(v4, sizeof v4, "--var=LOGDIR=%s", rdir);
	argv[n++] = RSPAMD;
	argv[n++] = "-f";
	argv[n++] = "-i";
	if (getuid() == 0) {	/* -u/-g are for root; otherwise it runs as we are */
		argv[n++] = "-u", argv[n++] = "root";
		argv[n++] = "-g", argv[n++] = "root";
	}
	argv[n++] = "-c", argv[n++] = conf;
	argv[n++] = "--var=CONFDIR=/etc/rspamd";
	argv[n++] = v1, argv[n++] = v2, argv[n++] = v3, argv[n++] = v4;
	argv[n] = NULL;
	rpid = tu_spawn(argv, tu_path(rdir, "rspamd.out"));
	/* up to 20 s on a cold hyperscan cache: see rspamd-conf.sh */
	if (tu_wait_tcp(port, 120000) < 0) {
		fprintf(stderr, "rspamd did not start: see %s\n", rdir);
		return -1;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	snprintf(cmd, sizeof cmd, "sh %s/tests/util/rspamd-conf.sh --save %s %s/tests/rspamd-cache",
		 SLUICE_SOURCE_DIR, rdir, SLUICE_BINARY_DIR);
	return system(cmd) == 0 ? 0 : -1;
}

static int stop_rspamd(void **unused)
{
	tu_stop(rpid);
	tu_rmtree(rdir);
	free(rdir);
	return 0;
}

static int mail_fd(const char *subject, const char *body)
{
	char m[1024];
	int n = snprintf(m, sizeof m, "From: a@example.org\nTo: rcpt@example.net\nSubject: %s\n"
			 "Date: Thu, 03 Dec 2026 06:00:00 +0000\nMessage-Id: <m@example.org>\n\n%s\n",
			 subject, body);

	return tu_tmpmsg(m, (size_t)n);
}

static void test_real_gtube(void **unused)
{
	int fd = mail_fd("hello", GTUBE);
	void *st = init_rspamd(url);
	struct scan_headers *h = calloc(1, sizeof *h);
	struct scan_verdict v = scan1(st, fd, h, scan_now_ms() + 30000);

	assert_int_equal(v.kind, SCAN_SPAM);
	assert_int_equal(v.flags, 0);
	assert_non_null(strstr(v.name, "reject"));
	assert_non_null(strstr(v.name, "Gtube"));
	assert_string_equal(v.scanner, "rspamd");
	assert_true(h->len > 0);
	scan_backend_rspamd.fini(st);
	free(h);
	close(fd);
}

static void test_real_actions(void **unused)
{
	int cfd = mail_fd("hello", "just a line"), tfd = mail_fd("sluice-tag-me", "tag me"),
	    sfd = mail_fd("sluice-soft", "later");
	void *st = init_rspamd(url);
	struct scan_headers *h = calloc(1, sizeof *h);
	struct scan_verdict v;

	v = scan1(st, cfd, h, scan_now_ms() + 30000);
	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_non_null(strstr(h->buf, "X-Spam-Status: No, score="));
	v = scan1(st, tfd, h, scan_now_ms() + 30000);	/* a kept-alive connection */
	assert_int_equal(v.kind, SCAN_SPAM);
	assert_int_equal(v.flags, SCAN_F_TAG);
	assert_true(v.score >= 50);
	assert_non_null(strstr(h->buf, "X-Spam-Status: Yes, score="));
	assert_non_null(strstr(h->buf, "X-Spamd-Bar: +++"));
	v = scan1(st, sfd, h, scan_now_ms() + 30000);
	assert_int_equal(v.kind, SCAN_SPAM);
	assert_int_equal(v.flags, SCAN_F_DEFER);
	assert_non_null(strstr(v.name, "try later"));
	scan_backend_rspamd.fini(st);
	free(h);
	close(cfd);
	close(tfd);
	close(sfd);
}

static void test_real_failover(void **unused)
{
	char spec[200], stats[4096];
	int fd = mail_fd("hello", GTUBE), i;
	void *st;
	size_t n;

	snprintf(spec, sizeof spec, "http://127.0.0.1:%d,%s", tu_free_port(), url);
	st = init_rspamd(spec);
	for (i = 0; i < 4; i++) {
		struct scan_verdict v = scan1(st, fd, NULL, scan_now_ms() + 30000);

		assert_int_equal(v.kind, SCAN_SPAM);
	}
	n = scan_backend_rspamd.stats(st, stats, sizeof stats);
	stats[n] = 0;
	assert_non_null(strstr(stats, " ok 0 failed 1 latency_ms 0 down 1\n"));
	assert_non_null(strstr(stats, " ok 4 failed 0 "));
	assert_non_null(strstr(stats, "rspamd_spam 4\n"));
	scan_backend_rspamd.fini(st);
	close(fd);
}

static void test_real_sigstop(void **unused)
{
	int fd = mail_fd("hello", GTUBE);
	void *st = init_rspamd(url);
	int64_t t0 = scan_now_ms(), took;
	struct scan_verdict v;

	kill(-rpid, SIGSTOP);	/* the whole group: the worker too */
	v = scan1(st, fd, NULL, t0 + 1500);
	took = scan_now_ms() - t0;
	kill(-rpid, SIGCONT);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_true(took >= 1400 && took < 3000);
	scan_backend_rspamd.fini(st);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest local[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_request),
	};
	const struct CMUnitTest real[] = {
		cmocka_unit_test(test_real_gtube),
		cmocka_unit_test(test_real_actions),
		cmocka_unit_test(test_real_failover),
		cmocka_unit_test(test_real_sigstop),
	};
	int rc = cmocka_run_group_tests(local, NULL, NULL);

	if (rc)
		return rc;
	if (access(RSPAMD, X_OK) < 0) {
		printf("skipped: %s is not installed (Debian: rspamd)\n", RSPAMD);
		return 77;
	}
	return cmocka_run_group_tests(real, start_rspamd, stop_rspamd);
}
