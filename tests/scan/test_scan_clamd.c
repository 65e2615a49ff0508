/*
 * test_scan_clamd.c - scan/scan_clamd.c and the scan_net.c it stands on.
 *
 *	without a server
 *	  reply       every clamd reply form: OK, FOUND (with a session
 *	              number, "stream:" or "fd[N]:"), the limit names
 *	              (Heuristics.Limits.Exceeded.*) -> SCAN_LIMIT, the
 *	              StreamMaxLength ERROR -> SCAN_LIMIT, other ERROR ->
 *	              error, garbage -> -1
 *	  servers     unix:/path, host:port, [v6]:port parsed; bad forms refused
 *	              with the entry named
 *	  framing     a fake clamd (a thread on a unix socket) reassembles the
 *	              INSTREAM chunks: the exact bytes of a 300 KB message,
 *	              every chunk at most 64 KiB, a zero length at the end;
 *	              zIDSESSION first; a second message reuses the connection
 *	  too big     a message over the stream limit is SCAN_LIMIT, not sent
 *	  all down    no server listening -> SCAN_ERROR at once, server named
 *	with the real clamd (/usr/sbin/clamd, a temp clamd.conf, a copy of
 *	scan/db; 77 when clamd is not installed)
 *	  eicar       EICAR infected over the unix socket, over TCP, and by
 *	              FILDES; a clean mail clean; the stats count them
 *	  limit       clamd's StreamMaxLength (100K) below the message -> SCAN_LIMIT
 *	              "clamd stream limit exceeded", and the server stays up
 *	  failover    two servers, one never listening: 10 messages all scanned
 *	              right; the dead one counted failed and down
 *	  sigstop     clamd stopped (SIGSTOP): the scan ends with SCAN_ERROR
 *	              at its 1.5 s deadline, not later
 *	  killed      clamd killed while a 12 MB message is being streamed:
 *	              SCAN_ERROR long before the deadline
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "scan/scan_int.h"

#define CLAMD "/usr/sbin/clamd"
#define EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

static const char *const rcpts[] = { "rcpt@example.net", NULL };

/* scan1 - one scan of fd through backend state st */
static struct scan_verdict scan1(void *st, int fd, int64_t deadline, atomic_int *cancel)
{
	struct scan_input in = { .fd = fd, .sender = "s@example.org", .rcpts = rcpts,
				 .deadline_ms = deadline, .cancel = cancel };
	struct scan_verdict v;
	struct stat sb;

	fstat(fd, &sb);
	in.size = sb.st_size;
	memset(&v, 0, sizeof v);
	scan_backend_clamd.scan(st, &in, &v);
	return v;
}

static void *init_clamd(const char *servers, int fildes, uint64_t maxstream)
{
	struct scan_config cfg = { .clamd = servers, .clamd_fildes = fildes,
				   .clamd_maxstream = maxstream, .net_retry_ms = 60000 };
	char err[512] = "";
	void *st = NULL;

	if (scan_backend_clamd.init(&st, &cfg, err, sizeof err) < 0)
		fail_msg("clamd init: %s", err);
	return st;
}

/* ------------------------------------------------------------ no server */

static void test_reply(void **unused)
{
	struct scan_verdict v;

	assert_int_equal(scan_clamd_reply("stream: OK", &v), 0);
	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_int_equal(scan_clamd_reply("12: stream: OK", &v), 0);
	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_int_equal(scan_clamd_reply("stream: Win.Test.EICAR_HDB-1 FOUND", &v), 0);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, "Win.Test.EICAR_HDB-1");
	assert_int_equal(scan_clamd_reply("3: fd[10]: Sluice.Test.EICAR.UNOFFICIAL FOUND", &v), 0);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, "Sluice.Test.EICAR.UNOFFICIAL");
	assert_int_equal(scan_clamd_reply("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND", &v), 0);
	assert_int_equal(v.kind, SCAN_LIMIT);
	assert_non_null(strstr(v.name, "Heuristics.Limits.Exceeded.MaxFileSize"));
	assert_int_equal(scan_clamd_reply("INSTREAM size limit exceeded. ERROR", &v), 0);
	assert_int_equal(v.kind, SCAN_LIMIT);
	assert_string_equal(v.name, "clamd stream limit exceeded");
	assert_int_equal(scan_clamd_reply("1: stream: Can't allocate memory ERROR", &v), 0);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_non_null(strstr(v.name, "Can't allocate memory"));
	assert_int_equal(scan_clamd_reply("UNKNOWN COMMAND", &v), -1);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_int_equal(scan_clamd_reply("", &v), -1);
	/* a name that merely ends in FOUND-like text is not trusted blindly */
	assert_int_equal(scan_clamd_reply("stream: FOUND", &v), -1);
}

static void test_servers(void **unused)
{
	struct scan_servers set;
	char err[512];

	scan_servers_init(&set, "clamd", NULL);
	assert_int_equal(scan_servers_parse(&set, "unix:/run/clamd.ctl, 127.0.0.1:3310,[::1]:3311",
					    err, sizeof err), 0);
	assert_int_equal(set.n, 3);
	assert_int_equal(set.srv[0].addr.ss_family, AF_UNIX);
	assert_int_equal(set.srv[1].addr.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&set.srv[1].addr)->sin_port), 3310);
	assert_int_equal(set.srv[2].addr.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&set.srv[2].addr)->sin6_port), 3311);
	assert_string_equal(set.srv[2].name, "[::1]:3311");
	scan_servers_free(&set);
	{
		static const char *const bad[] = { "unix:relative", "127.0.0.1", "127.0.0.1:0",
						   "127.0.0.1:99999", "::1:3310", "[::1]3310",
						   "127.0.0.1:33x", "", NULL };
		int i;

		for (i = 0; bad[i]; i++) {
			scan_servers_init(&set, "clamd", NULL);
			err[0] = 0;
			assert_int_equal(scan_servers_parse(&set, bad[i], err, sizeof err), -1);
			assert_true(err[0]);
			scan_servers_free(&set);
		}
	}
}

/* A fake clamd: accepts one connection, takes zIDSESSION and then up to two
 * INSTREAM commands, reassembling each stream. */
struct fake {
	int lfd;
	char *got[2];
	size_t len[2];
	size_t maxchunk;
	int cmds, conns, session;
};

static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return r;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL), k;
	char cmd[16];

	if (fd < 0)
		return NULL;
	f->conns++;
	if (read_full(fd, cmd, 11) != 11 || memcmp(cmd, "zIDSESSION", 11))
		goto out;
	f->session = 1;
	for (k = 0; k < 2; k++) {
		unsigned char lb[4];
		char reply[32];

		if (read_full(fd, cmd, 10) != 10 || memcmp(cmd, "zINSTREAM", 10))
			goto out;
		f->cmds++;
		for (;;) {
			uint32_t n;

			if (read_full(fd, lb, 4) != 4)
				goto out;
			n = (uint32_t)lb[0] << 24 | (uint32_t)lb[1] << 16 | (uint32_t)lb[2] << 8 | lb[3];
			if (!n)
				break;
			if (n > f->maxchunk)
				f->maxchunk = n;
			f->got[k] = realloc(f->got[k], f->len[k] + n);
			if (read_full(fd, f->got[k] + f->len[k], n) != (ssize_t)n)
				goto out;
			f->len[k] += n;
		}
		snprintf(reply, sizeof reply, "%d: stream: OK", k + 1);
		if (write(fd, reply, strlen(reply) + 1) < 0)
			goto out;
	}
out:
	close(fd);
	return NULL;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static void test_framing(void **unused)
{
	char *dir = tu_tmpdir("clamd-fake"), spec[300];
	size_t size = 300 * 1024, i;
	char *msg = malloc(size);
	struct fake f = { 0 };
	pthread_t t;
	struct scan_verdict v;
	void *st;
	int fd;

	for (i = 0; i < size; i++)
		msg[i] = (char)(i * 7 + i / 251);
	fd = tu_tmpmsg(msg, size);
	f.lfd = listen_unix(tu_path(dir, "sock"));
	pthread_create(&t, NULL, fake_main, &f);
	snprintf(spec, sizeof spec, "unix:%s", tu_path(dir, "sock"));
	st = init_clamd(spec, 0, 0);
	v = scan1(st, fd, scan_now_ms() + 10000, NULL);
	assert_int_equal(v.kind, SCAN_CLEAN);
	v = scan1(st, fd, scan_now_ms() + 10000, NULL);	/* the kept session */
	assert_int_equal(v.kind, SCAN_CLEAN);
	pthread_join(t, NULL);
	assert_int_equal(f.session, 1);
	assert_int_equal(f.conns, 1);
	assert_int_equal(f.cmds, 2);
	assert_int_equal(f.len[0], size);
	assert_memory_equal(f.got[0], msg, size);
	assert_int_equal(f.len[1], size);
	assert_memory_equal(f.got[1], msg, size);
	assert_true(f.maxchunk <= 65536);
	assert_true(f.maxchunk > 0);
	scan_backend_clamd.fini(st);
	close(f.lfd);
	close(fd);
	free(f.got[0]);
	free(f.got[1]);
	free(msg);
	tu_rmtree(dir);
	free(dir);
}

static void test_too_big(void **unused)
{
	char big[5000];
	struct scan_verdict v;
	void *st = init_clamd("unix:/nonexistent/clamd.sock", 0, 4096);
	int fd;

	memset(big, 'a', sizeof big);
	fd = tu_tmpmsg(big, sizeof big);
	v = scan1(st, fd, scan_now_ms() + 5000, NULL);
	assert_int_equal(v.kind, SCAN_LIMIT);
	assert_non_null(strstr(v.name, "stream limit"));
	scan_backend_clamd.fini(st);
	close(fd);
}

static void test_all_down(void **unused)
{
	struct scan_verdict v;
	void *st = init_clamd("unix:/nonexistent/clamd.sock,127.0.0.1:1", 0, 0);
	int64_t t0 = scan_now_ms();
	int fd = tu_tmpmsg("Subject: x\n\nhello\n", 18);

	v = scan1(st, fd, t0 + 5000, NULL);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_true(scan_now_ms() - t0 < 2000);
	/* both rest now: the next message does not even try */
	v = scan1(st, fd, scan_now_ms() + 5000, NULL);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_non_null(strstr(v.name, "down"));
	scan_backend_clamd.fini(st);
	close(fd);
}

/* ---------------------------------------------------------- real clamd */

struct clamd_srv {
	char *dir;
	char sock[300], spec_unix[320], spec_tcp[64];
	int port;
	pid_t pid;
};

/* start_clamd - a clamd on a temp unix socket and a loopback port */
static void start_clamd(struct clamd_srv *c, const char *streammax)
{
	char conf[2048], cmd[600];
	FILE *f;

	c->dir = tu_tmpdir("clamd");
	snprintf(cmd, sizeof cmd, "cp -r %s/scan/db %s/db", SLUICE_SOURCE_DIR, c->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(c->sock, sizeof c->sock, "%s/clamd.sock", c->dir);
	c->port = tu_free_port();
	snprintf(conf, sizeof conf,
		 "Foreground yes\nLocalSocket %s\nTCPSocket %d\nTCPAddr 127.0.0.1\n"
		 "DatabaseDirectory %s/db\nLogFile %s/clamd.log\nStreamMaxLength %s\n"
		 "MaxThreads 4\n%s",
		 c->sock, c->port, c->dir, c->dir, streammax, getuid() == 0 ? "User root\n" : "");
	f = fopen(tu_path(c->dir, "clamd.conf"), "w");
	fputs(conf, f);
	fclose(f);
	{
		char cf[400];
		char *argv[] = { CLAMD, "-c", cf, NULL };

		snprintf(cf, sizeof cf, "%s/clamd.conf", c->dir);
		c->pid = tu_spawn(argv, tu_path(c->dir, "clamd.out"));
	}
	if (tu_wait_unix(c->sock, 30000) < 0 || tu_wait_tcp(c->port, 10000) < 0)
		fail_msg("clamd did not start: see %s", c->dir);
	snprintf(c->spec_unix, sizeof c->spec_unix, "unix:%s", c->sock);
	snprintf(c->spec_tcp, sizeof c->spec_tcp, "127.0.0.1:%d", c->port);
}

static void stop_clamd(struct clamd_srv *c)
{
	tu_stop(c->pid);
	tu_rmtree(c->dir);
	free(c->dir);
}

static int eicar_fd(void)
{
	char m[512];
	int n = snprintf(m, sizeof m, "From: a@example.org\nSubject: eicar\n\n%s\n", EICAR);

	return tu_tmpmsg(m, (size_t)n);
}

static int clean_fd(void)
{
	size_t len;
	char *m = tu_read(TEST_DATA_DIR "/clamav_clean_plain.eml", &len);
	int fd;

	assert_non_null(m);
	fd = tu_tmpmsg(m, len);
	free(m);
	return fd;
}

static void test_real_eicar(void **unused)
{
	struct clamd_srv c;
	struct scan_verdict v;
	char stats[2048];
	int efd = eicar_fd(), cfd = clean_fd(), i;
	void *st;
	size_t n;

	start_clamd(&c, "25M");
	for (i = 0; i < 3; i++) {
		st = init_clamd(i == 1 ? c.spec_tcp : c.spec_unix, i == 2, 0);
		v = scan1(st, efd, scan_now_ms() + 10000, NULL);
		assert_int_equal(v.kind, SCAN_INFECTED);
		assert_string_equal(v.name, "Sluice.Test.EICAR.UNOFFICIAL");
		assert_string_equal(v.scanner, "clamd");
		v = scan1(st, cfd, scan_now_ms() + 10000, NULL);
		assert_int_equal(v.kind, SCAN_CLEAN);
		v = scan1(st, efd, scan_now_ms() + 10000, NULL);	/* the kept session */
		assert_int_equal(v.kind, SCAN_INFECTED);
		n = scan_backend_clamd.stats(st, stats, sizeof stats);
		stats[n] = 0;
		assert_non_null(strstr(stats, "clamd_scans 3\n"));
		assert_non_null(strstr(stats, "clamd_infected 2\n"));
		assert_non_null(strstr(stats, " ok 3 failed 0 "));
		scan_backend_clamd.fini(st);
	}
	stop_clamd(&c);
	close(efd);
	close(cfd);
}

static void test_real_limit(void **unused)
{
	struct clamd_srv c;
	struct scan_verdict v;
	size_t size = 300 * 1024;
	char *big = malloc(size);
	int fd, efd = eicar_fd(), i;
	void *st;

	memset(big, 'x', size);
	for (i = 0; i < 2; i++) {
		fd = tu_tmpmsg(big, size);
		start_clamd(&c, "100K");
		st = init_clamd(i ? c.spec_tcp : c.spec_unix, 0, 0);
		v = scan1(st, fd, scan_now_ms() + 10000, NULL);
		assert_int_equal(v.kind, SCAN_LIMIT);
		assert_string_equal(v.name, "clamd stream limit exceeded");
		/* the server is not blamed: the next message is scanned */
		v = scan1(st, efd, scan_now_ms() + 10000, NULL);
		assert_int_equal(v.kind, SCAN_INFECTED);
		scan_backend_clamd.fini(st);
		stop_clamd(&c);
		close(fd);
	}
	free(big);
	close(efd);
}

static void test_real_failover(void **unused)
{
	struct clamd_srv c;
	struct scan_verdict v;
	char spec[700], stats[4096];
	int efd = eicar_fd(), cfd = clean_fd(), i;
	void *st;
	size_t n;

	start_clamd(&c, "25M");
	snprintf(spec, sizeof spec, "unix:%s/nobody.sock,%s", c.dir, c.spec_tcp);
	st = init_clamd(spec, 0, 0);
	for (i = 0; i < 10; i++) {
		v = scan1(st, i % 2 ? efd : cfd, scan_now_ms() + 10000, NULL);
		assert_int_equal(v.kind, i % 2 ? SCAN_INFECTED : SCAN_CLEAN);
	}
	n = scan_backend_clamd.stats(st, stats, sizeof stats);
	stats[n] = 0;
	assert_non_null(strstr(stats, "nobody.sock ok 0 failed 1 latency_ms 0 down 1\n"));
	assert_non_null(strstr(stats, " ok 10 failed 0 "));
	assert_non_null(strstr(stats, "clamd_down 1\n"));
	scan_backend_clamd.fini(st);
	stop_clamd(&c);
	close(efd);
	close(cfd);
}

static void test_real_sigstop(void **unused)
{
	struct clamd_srv c;
	struct scan_verdict v;
	int efd = eicar_fd();
	int64_t t0, took;
	void *st;

	start_clamd(&c, "25M");
	st = init_clamd(c.spec_unix, 0, 0);
	kill(c.pid, SIGSTOP);
	t0 = scan_now_ms();
	v = scan1(st, efd, t0 + 1500, NULL);
	took = scan_now_ms() - t0;
	kill(c.pid, SIGCONT);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_true(took >= 1400);
	assert_true(took < 3000);
	scan_backend_clamd.fini(st);
	stop_clamd(&c);
	close(efd);
}

static void test_real_killed(void **unused)
{
	struct clamd_srv c;
	struct scan_verdict v;
	size_t size = 12 * 1024 * 1024;
	char *big = malloc(size);
	int fd;
	int64_t t0, took;
	void *st;
	pid_t killer;

	memset(big, 'y', size);
	fd = tu_tmpmsg(big, size);
	free(big);
	start_clamd(&c, "25M");
	st = init_clamd(c.spec_tcp, 0, 0);
	/* stopped, clamd takes no more of the stream once the socket buffers
	 * are full; killed a moment later, mid-stream */
	kill(c.pid, SIGSTOP);
	if ((killer = fork()) == 0) {
		usleep(700 * 1000);
		kill(c.pid, SIGKILL);
		_exit(0);
	}
	t0 = scan_now_ms();
	v = scan1(st, fd, t0 + 20000, NULL);
	took = scan_now_ms() - t0;
	waitpid(killer, NULL, 0);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_true(took < 10000);
	scan_backend_clamd.fini(st);
	stop_clamd(&c);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest local[] = {
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_servers),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_all_down),
	};
	const struct CMUnitTest real[] = {
		cmocka_unit_test(test_real_eicar),
		cmocka_unit_test(test_real_limit),
		cmocka_unit_test(test_real_failover),
		cmocka_unit_test(test_real_sigstop),
		cmocka_unit_test(test_real_killed),
	};
	int rc = cmocka_run_group_tests(local, NULL, NULL);

	signal(SIGPIPE, SIG_IGN);
	if (rc)
		return rc;
	if (access(CLAMD, X_OK) < 0) {
		printf("skipped: %s is not installed (Debian: clamav-daemon)\n", CLAMD);
		return 77;
	}
	return cmocka_run_group_tests(real, NULL, NULL);
}
