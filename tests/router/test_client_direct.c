/*
 * test_client_direct.c - router/client_direct.c: direct mode, run the way
 * qmail-smtpd runs qmail-queue.  Each case forks a child whose fd 0 (the
 * message) and fd 1 (the envelope) are pipes the parent writes, in
 * qmail-smtpd's order, and which calls client_direct_run() on a temp queue
 * tree; QHPSI scanners are small /bin/sh scripts.
 *
 *	commit        exit 0; one todo/ entry, the same inode as intd/<id>;
 *	              mess/<id % split>/<id> = qmail's Received line (the
 *	              child's pid, "invoked from network" for qmaild's uid, the
 *	              date of the run) + the message byte for byte (text, 200 KB
 *	              binary with NULs, empty); intd = u p F T records only;
 *	              pid/ empty afterwards
 *	envelope      1003-byte sender or recipient -> 11, first record not F or
 *	              later not T -> 91, cut short or empty -> 54; a missing
 *	              queue -> 61; never anything left in the queue
 *	QHPSI         the scanner gets the mess file path (appended, or where
 *	              %s stands, after QHPSIARG1..3) while the file holds the
 *	              whole message; clean -> committed; infected with
 *	              REJECTVIRUS=1 -> 31, =2 -> 0 with nothing queued, =0 ->
 *	              committed tagged, the sender's own X-QHPSI, X-Sluice-*,
 *	              X-Spam-* fields (folds too) removed, the body's kept; exit neither QHPSIRC nor QHPSIRN, a signal, a
 *	              missing program -> 71; QHPSIRC/QHPSIRN honoured;
 *	              QHPSIMINSIZE/QHPSIMAXSIZE skip the scan; a Q record skips
 *	              it and is not written to intd; the longest argv (4 command
 *	              words + 3 arguments + the path) is passed whole
 *	custom text   SLUICE_CUSTOM_ERROR=notqmail: 82 with the exact text on
 *	              fd 6, plain 31 when fd 6 is closed; simscan (fd 4) and
 *	              indimail (ERROR_FD) likewise
 *	settings      client_direct_env(): QUEUEDIR, QHPSI*, REJECTVIRUS,
 *	              SLUICE_CUSTOM_ERROR, ERROR_FD, SLUICE_SYNC and their
 *	              defaults; bad SLUICE_CUSTOM_ERROR / SLUICE_SYNC -> -1
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "router/client.h"

#define SPLIT 7
#define MSG "From: a@example.org\nTo: b@example.net\nSubject: direct\n\nHello.\n"
#define ENV2 "Fsender@example.org\0Ta@example.net\0Tb@example.net\0"	/* + final \0 */
#define VIRUS_TEXT "DYour email was rejected because it contains a virus (#5.7.1)"

static char *tmp, *qdir, *passwd;

static int setup(void **unused)
{
	char line[256];
	int n;

	tmp = tu_tmpdir("direct");
	qdir = strdup(tu_path(tmp, "queue"));
	tu_queue_tree(qdir, SPLIT);
	/* our uid is qmaild's: the Received line says "invoked from network" */
	passwd = strdup(tu_path(tmp, "passwd"));
	n = snprintf(line, sizeof line,
		     "alias:x:%u:%u::/var/qmail/alias:/bin/true\n"
		     "qmaild:x:%u:%u::/var/qmail:/bin/true\n"
		     "qmails:x:%u:%u::/var/qmail:/bin/true\n",
		     (unsigned)getuid() + 1, (unsigned)getgid(), (unsigned)getuid(),
		     (unsigned)getgid(), (unsigned)getuid() + 2, (unsigned)getgid());
	tu_write(passwd, line, (size_t)n);
	return 0;
}

static int teardown(void **unused)
{
	tu_rmtree(tmp);
	free(tmp);
	free(qdir);
	free(passwd);
	tmp = qdir = passwd = NULL;
	return 0;
}

static struct client_direct base(void)
{
	struct client_direct d;

	memset(&d, 0, sizeof d);
	d.queuedir = qdir;
	d.split = SPLIT;
	d.sync = QUEUE_SYNC_FULL;
	d.qhpsi_rc = 1;
	d.qhpsi_rn = 0;
	d.reject_virus = 1;
	d.custom = CUSTOM_NONE;
	d.error_fd = 2;
	d.passwd = passwd;
	return d;
}

/* script - an executable /bin/sh script under tmp; returns its path, valid
 * for the whole test */
static const char *script(const char *name, const char *body)
{
	static char paths[16][4200];
	static unsigned next;
	char *path = paths[next++ % 16], text[4096];
	int n = snprintf(text, sizeof text, "#!/bin/sh\n%s\n", body);

	snprintf(path, sizeof paths[0], "%s/%s", tmp, name);
	assert_true(n > 0 && (size_t)n < sizeof text);
	tu_write(path, text, (size_t)n);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

/* child_log - what the children wrote on stderr (static buffer) */
static const char *child_log(void)
{
	static char buf[4096];
	char *s = tu_read(tu_path(tmp, "stderr.log"), NULL);

	snprintf(buf, sizeof buf, "%s", s ? s : "");
	free(s);
	return buf;
}

static void writeall(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* the child is gone: EPIPE, as qmail-smtpd sees it */
		p += w;
		n -= (size_t)w;
	}
}

struct run {
	int code;		/* exit code, -1 when killed */
	pid_t pid;		/* the child: the p record and the Received line */
	time_t t0, t1;		/* around the run */
	char text[512];		/* read from errfd */
	size_t textlen;
};

/*
 * run - fork; the child has the message pipe on fd 0, the envelope pipe on
 * fd 1, the write end of an error pipe on errfd (-1: none) and nothing else
 * above fd 2; it runs client_direct_run(d).  The parent writes msg, closes,
 * writes env, closes, reads the error pipe to EOF and reaps the child.
 */
static struct run run(const struct client_direct *d, const char *msg, size_t msglen,
		      const char *env, size_t envlen, int errfd)
{
	struct run r;
	int pm[2], pe[2], perr[2] = { -1, -1 }, status;
	const char *log = tu_path(tmp, "stderr.log");

	memset(&r, 0, sizeof r);
	assert_int_equal(pipe(pm), 0);
	assert_int_equal(pipe(pe), 0);
	if (errfd >= 0)
		assert_int_equal(pipe(perr), 0);
	r.t0 = time(NULL);
	r.pid = fork();
	assert_true(r.pid >= 0);
	if (r.pid == 0) {
		int fd, lfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (dup2(pm[0], 0) < 0 || dup2(pe[0], 1) < 0 || lfd < 0 || dup2(lfd, 2) < 0)
			_exit(120);
		if (errfd >= 0) {
			if (perr[1] == errfd) {
				int keep = dup(perr[1]);

				perr[1] = keep;
			}
			if (dup2(perr[1], errfd) < 0)
				_exit(120);
		}
		for (fd = 3; fd < 1024; fd++)
			if (fd != errfd)
				close(fd);
		signal(SIGPIPE, SIG_DFL);
		_exit(client_direct_run(d));
	}
	close(pm[0]);
	close(pe[0]);
	if (errfd >= 0)
		close(perr[1]);
	writeall(pm[1], msg, msglen);
	close(pm[1]);
	writeall(pe[1], env, envlen);
	close(pe[1]);
	if (errfd >= 0) {
		ssize_t n;

		while (r.textlen + 1 < sizeof r.text &&
		       (n = read(perr[0], r.text + r.textlen, sizeof r.text - 1 - r.textlen)) > 0)
			r.textlen += (size_t)n;
		r.text[r.textlen] = 0;
		close(perr[0]);
	}
	while (waitpid(r.pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	r.t1 = time(NULL);
	r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return r;
}

/* run_msg - MSG with the two-recipient envelope */
static struct run run_msg(const struct client_direct *d, int errfd)
{
	return run(d, MSG, strlen(MSG), ENV2, sizeof ENV2, errfd);
}

/* the one committed message: its id, or fails */
static unsigned long only_todo(void)
{
	const char *todo = tu_path(qdir, "todo");
	char cmd[4200], line[64];
	FILE *f;
	unsigned long id = 0;

	assert_int_equal(tu_count(todo), 1);
	snprintf(cmd, sizeof cmd, "ls '%s'", todo);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof line, f));
	pclose(f);
	id = strtoul(line, NULL, 10);
	assert_true(id > 0);
	return id;
}

static void assert_nothing_queued(const char *what)
{
	long n = tu_queue_files(qdir);

	if (n != 0)
		fail_msg("%s: %ld file(s) left in pid/ mess/ intd/ todo/", what, n);
}

/* check_committed - the queue holds exactly this message with this envelope */
static void check_committed(const struct run *r, const char *msg, size_t msglen,
			    const char *rcpts, size_t rcptlen)
{
	unsigned long id = only_todo();
	struct queue_uids u;
	char want[QUEUE_RECEIVED_MAX], ienv[8192];
	size_t mlen, ilen, rl = 0;
	char *mess, *intd;
	struct stat a, b;
	time_t t;
	int n;

	if (r->code != 0)
		fail_msg("exit %d, want 0; stderr: %s", r->code, child_log());
	assert_int_equal(tu_queue_mess(qdir), 1);
	assert_int_equal(tu_count(tu_path(qdir, "intd")), 1);
	assert_int_equal(tu_count(tu_path(qdir, "pid")), 0);
	mess = tu_read(tu_path(qdir, "mess/%lu/%lu", id % SPLIT, id), &mlen);
	assert_non_null(mess);
	/* qmail's Received line: the child's pid, qmaild's "from network" */
	queue_uids_load(&u, passwd);
	for (t = r->t0; t <= r->t1; t++) {
		rl = queue_received(want, sizeof want, (unsigned long)r->pid, getuid(), &u, t);
		if (mlen >= rl && !memcmp(mess, want, rl))
			break;
	}
	if (t > r->t1)
		fail_msg("mess does not start with qmail's Received line for pid %ld: %.80s",
			 (long)r->pid, mess);
	assert_non_null(strstr(want, "invoked from network"));
	assert_int_equal(mlen, rl + msglen);
	assert_memory_equal(mess + rl, msg, msglen);
	free(mess);
	/* intd: u p F T, nothing else, no final empty record */
	n = snprintf(ienv, sizeof ienv, "u%u", (unsigned)getuid());
	ilen = (size_t)n + 1;
	n = snprintf(ienv + ilen, sizeof ienv - ilen, "p%ld", (long)r->pid);
	ilen += (size_t)n + 1;
	memcpy(ienv + ilen, rcpts, rcptlen);
	ilen += rcptlen;
	intd = tu_read(tu_path(qdir, "intd/%lu", id), &mlen);
	assert_non_null(intd);
	assert_int_equal(mlen, ilen);
	assert_memory_equal(intd, ienv, ilen);
	free(intd);
	/* todo/<id> is intd/<id> */
	assert_int_equal(stat(tu_path(qdir, "intd/%lu", id), &a), 0);
	assert_int_equal(stat(tu_path(qdir, "todo/%lu", id), &b), 0);
	assert_true(a.st_ino == b.st_ino);
	/* the id is the mess file's inode number */
	assert_int_equal(stat(tu_path(qdir, "mess/%lu/%lu", id % SPLIT, id), &a), 0);
	assert_int_equal(a.st_ino, id);
}

/* clear - remove a committed message (qmail-send's job) */
static void clear(void)
{
	char cmd[4200];

	snprintf(cmd, sizeof cmd, "find '%s/mess' '%s/intd' '%s/todo' -type f -delete", qdir, qdir,
		 qdir);
	assert_int_equal(system(cmd), 0);
	assert_nothing_queued("clear");
}

/* ---------------------------------------------------------------- commit */

static void test_commit(void **unused)
{
	struct client_direct d = base();
	struct run r = run_msg(&d, -1);

	assert_int_equal(r.code, 0);
	check_committed(&r, MSG, strlen(MSG), ENV2 + 0, sizeof ENV2 - 1);
}

static void test_commit_binary(void **unused)
{
	struct client_direct d = base();
	static char msg[200 * 1024];
	size_t len = sizeof msg, i;
	struct run r;

	/* bigger than a pipe buffer, NULs and CRs inside, no final newline */
	for (i = 0; i < len; i++)
		msg[i] = (char)((i * 7 + i / 255) & 0xff);
	r = run(&d, msg, len, ENV2, sizeof ENV2, -1);
	assert_int_equal(r.code, 0);
	check_committed(&r, msg, len, ENV2, sizeof ENV2 - 1);
	clear();
	/* an empty message: the Received line alone */
	r = run(&d, "", 0, "Fs@x\0Tr@y\0", 11, -1);
	assert_int_equal(r.code, 0);
	check_committed(&r, "", 0, "Fs@x\0Tr@y\0", 10);
	clear();
	/* the bounce sender <> */
	r = run(&d, MSG, strlen(MSG), "F\0Tpostmaster@x\0", 17, -1);
	assert_int_equal(r.code, 0);
	check_committed(&r, MSG, strlen(MSG), "F\0Tpostmaster@x\0", 16);
}

/* -------------------------------------------------------------- envelope */

static void envelope_error(const char *what, const char *env, size_t envlen, int want)
{
	struct client_direct d = base();
	struct run r = run(&d, MSG, strlen(MSG), env, envlen, -1);

	if (r.code != want)
		fail_msg("%s: exit %d, want %d", what, r.code, want);
	assert_nothing_queued(what);
}

static void test_envelope_errors(void **unused)
{
	char env[4096];
	size_t n;

	/* 1003 bytes (qmail-queue's ADDR) -> 11; 1002 still passes */
	env[0] = 'F';
	memset(env + 1, 's', 1003);
	memcpy(env + 1004, "\0Tr@x\0", 7);
	envelope_error("1003-byte sender", env, 1011, 11);
	n = (size_t)snprintf(env, sizeof env, "Fs@x") + 1;
	env[n++] = 'T';
	memset(env + n, 'r', 1003);
	n += 1003;
	env[n++] = 0;
	env[n++] = 0;
	envelope_error("1003-byte recipient", env, n, 11);
	/* record types */
	envelope_error("first record not F", "Xs@x\0Tr@x\0", 11, 91);
	envelope_error("first record T", "Tr@x\0Tr@x\0", 11, 91);
	envelope_error("later record not T", "Fs@x\0Tr@x\0Zr@x\0", 16, 91);
	/* cut short: qmail-smtpd's abort */
	envelope_error("no final NUL", "Fs@x\0Tr@x\0", 10, 54);
	envelope_error("cut inside a record", "Fs@x\0Tr@", 8, 54);
	envelope_error("empty envelope", "", 0, 54);
	envelope_error("sender only", "Fs@x\0", 5, 54);
}

static void test_envelope_1002(void **unused)
{
	struct client_direct d = base();
	char env[2100];
	size_t n = 0;
	struct run r;

	env[n++] = 'F';
	memset(env + n, 's', 1002);
	n += 1002;
	env[n++] = 0;
	env[n++] = 'T';
	memset(env + n, 'r', 1002);
	n += 1002;
	env[n++] = 0;
	env[n++] = 0;
	r = run(&d, MSG, strlen(MSG), env, n, -1);
	assert_int_equal(r.code, 0);
	check_committed(&r, MSG, strlen(MSG), env, n - 1);
}

static void test_queue_missing(void **unused)
{
	struct client_direct d = base();
	struct run r;

	d.queuedir = tu_path(tmp, "no-such-queue");
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 61);
	assert_false(tu_exists(tu_path(tmp, "no-such-queue")));
	assert_nothing_queued("queue missing");
}

/* ----------------------------------------------------------------- QHPSI */

/* a scanner: logs its arguments, copies the mess file it was given (the
 * argument under the queue's mess/), says infected (1) when the file holds
 * the word VIRUS, clean (0) otherwise */
static const char *scanner(void)
{
	char body[2048];

	snprintf(body, sizeof body,
		 "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done >'%s/args'\n"
		 "for a in \"$@\"; do case $a in '%s'/mess/*) f=$a;; esac; done\n"
		 "cp \"$f\" '%s/seen' || exit 99\n"
		 "grep -q VIRUS \"$f\" && exit 1\n"
		 "exit 0", tmp, qdir, tmp);
	return script("scanner", body);
}

static char *args_seen(void)
{
	return tu_read(tu_path(tmp, "args"), NULL);
}

static void test_qhpsi_clean(void **unused)
{
	struct client_direct d = base();
	char *args, *seen, want[4200];
	unsigned long id;
	size_t len;
	struct run r;

	d.qhpsi = scanner();
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 0);
	check_committed(&r, MSG, strlen(MSG), ENV2, sizeof ENV2 - 1);
	id = only_todo();
	/* the path of the mess file, appended; the whole message was there */
	args = args_seen();
	snprintf(want, sizeof want, "%s/mess/%lu/%lu\n", qdir, id % SPLIT, id);
	assert_string_equal(args, want);
	free(args);
	seen = tu_read(tu_path(tmp, "seen"), &len);
	assert_true(len > strlen(MSG));
	assert_memory_equal(seen + len - strlen(MSG), MSG, strlen(MSG));
	assert_memory_equal(seen, "Received: (qmail ", 17);
	free(seen);
}

static void test_qhpsi_args(void **unused)
{
	struct client_direct d = base();
	char cmd[4200], *args, want[4200];
	unsigned long id;
	struct run r;

	/* %s in the command, extra arguments after it */
	snprintf(cmd, sizeof cmd, "%s --scan %s --quiet", scanner(), "%s");
	d.qhpsi = cmd;
	d.qhpsi_arg[0] = "one";
	d.qhpsi_arg[1] = "";	/* empty: skipped */
	d.qhpsi_arg[2] = "three";
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 0);
	id = only_todo();
	args = args_seen();
	snprintf(want, sizeof want, "--scan\n%s/mess/%lu/%lu\n--quiet\none\nthree\n", qdir,
		 id % SPLIT, id);
	assert_string_equal(args, want);
	free(args);
	clear();
	/* %s as an argument */
	d.qhpsi = scanner();
	d.qhpsi_arg[0] = "-f";
	d.qhpsi_arg[1] = "%s";
	d.qhpsi_arg[2] = "-v";
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 0);
	id = only_todo();
	args = args_seen();
	snprintf(want, sizeof want, "-f\n%s/mess/%lu/%lu\n-v\n", qdir, id % SPLIT, id);
	assert_string_equal(args, want);
	free(args);
}

/* the longest argv: 4 words of command, 3 arguments, the path appended */
static void test_qhpsi_args_longest(void **unused)
{
	struct client_direct d = base();
	char cmd[4200], *args, want[4200];
	unsigned long id;
	struct run r;

	snprintf(cmd, sizeof cmd, "%s w1 w2 w3", scanner());
	d.qhpsi = cmd;
	d.qhpsi_arg[0] = "a1";
	d.qhpsi_arg[1] = "a2";
	d.qhpsi_arg[2] = "a3";
	r = run_msg(&d, -1);
	if (r.code != 0)
		fail_msg("exit %d, want 0; stderr: %s", r.code, child_log());
	id = only_todo();
	args = args_seen();
	snprintf(want, sizeof want, "w1\nw2\nw3\na1\na2\na3\n%s/mess/%lu/%lu\n", qdir, id % SPLIT,
		 id);
	assert_string_equal(args, want);
	free(args);
}

static void test_qhpsi_infected(void **unused)
{
	struct client_direct d = base();
	struct run r;

	d.qhpsi = scanner();
	/* REJECTVIRUS=1: 554 */
	r = run(&d, MSG "VIRUS\n", strlen(MSG) + 6, ENV2, sizeof ENV2, 6);
	assert_int_equal(r.code, 31);
	assert_int_equal(r.textlen, 0);	/* no convention: fd 6 left alone */
	assert_nothing_queued("REJECTVIRUS=1");
	/* REJECTVIRUS=2: 250 and nothing delivered */
	d.reject_virus = 2;
	r = run(&d, MSG "VIRUS\n", strlen(MSG) + 6, ENV2, sizeof ENV2, -1);
	assert_int_equal(r.code, 0);
	assert_nothing_queued("REJECTVIRUS=2");
	/* REJECTVIRUS=0: accepted and tagged as IndiMail does, with the
	 * daemon's own headers after the Received line */
	d.reject_virus = 0;
	r = run(&d, MSG "VIRUS\n", strlen(MSG) + 6, ENV2, sizeof ENV2, -1);
	assert_int_equal(r.code, 0);
	{
		static const char tagged[] = "X-QHPSI: Virus found\nX-Sluice-Verdict: infected\n"
			"X-Virus-Scanned: sluice " SLUICE_VERSION " (exec)\n" MSG "VIRUS\n";

		check_committed(&r, tagged, sizeof tagged - 1, ENV2, sizeof ENV2 - 1);
	}
	clear();
	/* the sender's own X-QHPSI / X-Sluice-* / X-Spam-* go in the same
	 * rewrite (client_tag, as in the daemon); the body's stay */
	{
		static const char forged[] = "X-QHPSI: clean\nFrom: a@example.org\n"
			"X-Sluice-Verdict: clean\nX-Spam-Status: No,\n\tscore=-9\nSubject: s\n\n"
			"X-QHPSI: clean\nVIRUS\n";
		static const char tagged[] = "X-QHPSI: Virus found\nX-Sluice-Verdict: infected\n"
			"X-Virus-Scanned: sluice " SLUICE_VERSION " (exec)\n"
			"From: a@example.org\nSubject: s\n\nX-QHPSI: clean\nVIRUS\n";

		r = run(&d, forged, sizeof forged - 1, ENV2, sizeof ENV2, -1);
		check_committed(&r, tagged, sizeof tagged - 1, ENV2, sizeof ENV2 - 1);
	}
}

/* a scanner that hangs is killed at the deadline: 71, nothing queued */
static void test_qhpsi_timeout(void **unused)
{
	struct client_direct d = base();
	struct timespec t0, t1;
	struct run r;

	d.qhpsi = script("hangs", "exec sleep 30");
	d.qhpsi_timeout = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = run_msg(&d, -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(r.code, 71);
	assert_nothing_queued("scanner killed at the deadline");
	assert_true(t1.tv_sec - t0.tv_sec < 10);	/* 1 s deadline, far below the 30 s sleep */
}

static void test_qhpsi_failure(void **unused)
{
	struct client_direct d = base();
	struct run r;

	/* an exit code that is neither QHPSIRC nor QHPSIRN */
	d.qhpsi = script("fails", "exit 7");
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 71);
	assert_nothing_queued("scanner exit 7");
	/* killed by a signal */
	d.qhpsi = script("crashes", "kill -KILL $$");
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 71);
	assert_nothing_queued("scanner killed");
	/* cannot be run at all */
	d.qhpsi = tu_path(tmp, "no-such-scanner");
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 71);
	assert_nothing_queued("scanner missing");
	/* a failure defers whatever REJECTVIRUS says */
	d.qhpsi = script("fails", "exit 7");
	d.reject_virus = 2;
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 71);
	assert_nothing_queued("scanner exit 7, REJECTVIRUS=2");
}

static void test_qhpsi_rc_rn(void **unused)
{
	struct client_direct d = base();
	struct run r;

	d.qhpsi_rc = 3;
	d.qhpsi_rn = 5;
	d.qhpsi = script("rc3", "exit 3");
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 31);
	assert_nothing_queued("QHPSIRC=3");
	d.qhpsi = script("rn5", "exit 5");
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 0);
	assert_int_equal(only_todo() > 0, 1);
	clear();
	/* 0 and 1 mean nothing now: failures */
	d.qhpsi = script("rc0", "exit 0");
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 71);
	d.qhpsi = script("rc1", "exit 1");
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 71);
	assert_nothing_queued("QHPSIRN=5, exit 0 / 1");
}

static void test_qhpsi_size_limits(void **unused)
{
	struct client_direct d = base();
	char msg[2048];
	struct run r;

	/* ~1.1 KB in the mess file with the Received line; always "infected" */
	memset(msg, 'm', sizeof msg);
	memcpy(msg, "Subject: big\n\n", 14);
	msg[999] = '\n';
	d.qhpsi = script("always", "exit 1");
	d.qhpsi_min = 5000;	/* smaller: not scanned */
	r = run(&d, msg, 1000, ENV2, sizeof ENV2, -1);
	assert_int_equal(r.code, 0);
	check_committed(&r, msg, 1000, ENV2, sizeof ENV2 - 1);
	clear();
	d.qhpsi_min = 0;
	d.qhpsi_max = 500;	/* larger: not scanned */
	r = run(&d, msg, 1000, ENV2, sizeof ENV2, -1);
	assert_int_equal(r.code, 0);
	clear();
	d.qhpsi_min = 1000;	/* inside [min, max]: scanned (the mess file counts) */
	d.qhpsi_max = 1200;
	r = run(&d, msg, 1000, ENV2, sizeof ENV2, -1);
	assert_int_equal(r.code, 31);
	assert_nothing_queued("inside the size limits");
	d.qhpsi_min = 1001;	/* the Received line counts: 1000 + it > 1001 */
	d.qhpsi_max = 0;
	r = run(&d, msg, 1000, ENV2, sizeof ENV2, -1);
	assert_int_equal(r.code, 31);
	assert_nothing_queued("min below the mess file size");
}

/* s/qmail's Q record: not scanned, and not written to intd */
static void test_qhpsi_q_record(void **unused)
{
	struct client_direct d = base();
	static const char env[] = "Fs@x\0Tr@y\0Qnoscan\0";
	struct run r;

	d.qhpsi = script("always", "exit 1");
	r = run(&d, MSG, strlen(MSG), env, sizeof env, -1);
	assert_int_equal(r.code, 0);
	check_committed(&r, MSG, strlen(MSG), "Fs@x\0Tr@y\0", 10);
}

/* ----------------------------------------------------------- custom text */

static void test_custom_notqmail(void **unused)
{
	struct client_direct d = base();
	struct run r;

	d.qhpsi = script("always", "exit 1");
	d.custom = CUSTOM_NOTQMAIL;
	r = run_msg(&d, 6);
	assert_int_equal(r.code, 82);
	assert_string_equal(r.text, VIRUS_TEXT);
	assert_nothing_queued("notqmail");
	/* fd 6 not open: plain 31, nothing written anywhere */
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 31);
	r = run_msg(&d, 4);
	assert_int_equal(r.code, 31);
	assert_int_equal(r.textlen, 0);
	/* a scanner failure: the daemon's answer, 82 + "Z..." (4.3.0) */
	d.qhpsi = script("fails", "exit 7");
	r = run_msg(&d, 6);
	assert_int_equal(r.code, 82);
	assert_string_equal(r.text, "ZMessage could not be scanned, try again later (#4.3.0)");
	/* accepted: nothing on fd 6 */
	d.qhpsi = script("clean", "exit 0");
	r = run_msg(&d, 6);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.textlen, 0);
}

static void test_custom_simscan_indimail(void **unused)
{
	struct client_direct d = base();
	struct run r;

	d.qhpsi = script("always", "exit 1");
	d.custom = CUSTOM_SIMSCAN;
	r = run_msg(&d, 4);
	assert_int_equal(r.code, 82);
	assert_string_equal(r.text, VIRUS_TEXT);
	r = run_msg(&d, 6);
	assert_int_equal(r.code, 31);
	d.custom = CUSTOM_INDIMAIL;
	d.error_fd = 5;
	r = run_msg(&d, 5);
	assert_int_equal(r.code, 88);
	assert_string_equal(r.text, VIRUS_TEXT);
	r = run_msg(&d, -1);
	assert_int_equal(r.code, 31);
	assert_nothing_queued("simscan / indimail");
}

/* -------------------------------------------------------------- settings */

static const char *const direct_vars[] = {
	"QUEUEDIR", "QUEUE_BASE", "QUEUE_COUNT", "QUEUE_START", "CONFSPLIT", "SLUICE_SYNC",
	"QHPSI", "QHPSIARG1", "QHPSIARG2", "QHPSIARG3", "QHPSIMINSIZE", "QHPSIMAXSIZE",
	"QHPSIRC", "QHPSIRN", "REJECTVIRUS", "SLUICE_CUSTOM_ERROR", "ERROR_FD",
};

static void clear_env(void)
{
	size_t i;

	for (i = 0; i < sizeof direct_vars / sizeof direct_vars[0]; i++)
		unsetenv(direct_vars[i]);
}

static void test_env_defaults(void **unused)
{
	struct client_direct d;
	char err[256] = "";

	clear_env();
	setenv("QUEUEDIR", qdir, 1);
	assert_int_equal(client_direct_env(&d, err, sizeof err), 0);
	assert_string_equal(d.queuedir, qdir);
	assert_int_equal(d.split, 23);
	assert_int_equal(d.sync, QUEUE_SYNC_FULL);
	assert_null(d.qhpsi);
	assert_int_equal(d.reject_virus, 1);
	assert_int_equal(d.custom, CUSTOM_NONE);
	assert_int_equal(d.error_fd, 2);
	assert_null(d.passwd);
	clear_env();
}

static void test_env_all(void **unused)
{
	struct client_direct d;
	char err[256] = "";

	clear_env();
	setenv("QUEUEDIR", qdir, 1);
	setenv("CONFSPLIT", "7", 1);
	setenv("SLUICE_SYNC", "none", 1);
	setenv("QHPSI", "/usr/bin/clamdscan --no-summary %s", 1);
	setenv("QHPSIARG1", "--fdpass", 1);
	setenv("QHPSIARG2", "-", 1);
	setenv("QHPSIARG3", "x", 1);
	setenv("QHPSIMINSIZE", "10", 1);
	setenv("QHPSIMAXSIZE", "2000000", 1);
	setenv("QHPSIRC", "3", 1);
	setenv("QHPSIRN", "4", 1);
	setenv("REJECTVIRUS", "2", 1);
	setenv("SLUICE_CUSTOM_ERROR", "indimail", 1);
	setenv("ERROR_FD", "5", 1);
	assert_int_equal(client_direct_env(&d, err, sizeof err), 0);
	assert_int_equal(d.split, 7);
	assert_int_equal(d.sync, QUEUE_SYNC_NONE);
	assert_string_equal(d.qhpsi, "/usr/bin/clamdscan --no-summary %s");
	assert_string_equal(d.qhpsi_arg[0], "--fdpass");
	assert_string_equal(d.qhpsi_arg[1], "-");
	assert_string_equal(d.qhpsi_arg[2], "x");
	assert_int_equal(d.qhpsi_min, 10);
	assert_int_equal(d.qhpsi_max, 2000000);
	assert_int_equal(d.qhpsi_rc, 3);
	assert_int_equal(d.qhpsi_rn, 4);
	assert_int_equal(d.reject_virus, 2);
	assert_int_equal(d.custom, CUSTOM_INDIMAIL);
	assert_int_equal(d.error_fd, 5);
	/* QHPSI unset: its companions do not matter */
	unsetenv("QHPSI");
	assert_int_equal(client_direct_env(&d, err, sizeof err), 0);
	assert_null(d.qhpsi);
	/* numbered queues: one of QUEUE_BASE/queue<N> */
	unsetenv("QUEUEDIR");
	setenv("QUEUE_BASE", tmp, 1);
	setenv("QUEUE_COUNT", "3", 1);
	setenv("QUEUE_START", "4", 1);
	assert_int_equal(client_direct_env(&d, err, sizeof err), 0);
	assert_true(!strcmp(d.queuedir, tu_path(tmp, "queue4")) ||
		    !strcmp(d.queuedir, tu_path(tmp, "queue5")) ||
		    !strcmp(d.queuedir, tu_path(tmp, "queue6")));
	clear_env();
}

static void test_env_bad(void **unused)
{
	struct client_direct d;
	char err[256];

	clear_env();
	setenv("QUEUEDIR", qdir, 1);
	setenv("SLUICE_CUSTOM_ERROR", "fd5", 1);
	err[0] = 0;
	assert_int_equal(client_direct_env(&d, err, sizeof err), -1);
	assert_non_null(strstr(err, "SLUICE_CUSTOM_ERROR=fd5"));
	unsetenv("SLUICE_CUSTOM_ERROR");
	setenv("SLUICE_SYNC", "sometimes", 1);
	err[0] = 0;
	assert_int_equal(client_direct_env(&d, err, sizeof err), -1);
	assert_non_null(strstr(err, "SLUICE_SYNC=sometimes"));
	unsetenv("SLUICE_SYNC");
	{
		/* numbers: a typo is an error naming the variable, never a default */
		static const char *const bad[][2] = {
			{ "REJECTVIRUS", "3" }, { "REJECTVIRUS", "one" }, { "ERROR_FD", "128" },
			{ "ERROR_FD", "-1" }, { "QHPSIRC", "256" }, { "QHPSIRN", "1x" },
			{ "QHPSIMINSIZE", " 5" }, { "QHPSIMAXSIZE", "99999999999999999999999" },
		};
		size_t i;

		setenv("QHPSI", "/bin/true", 1);
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			setenv(bad[i][0], bad[i][1], 1);
			err[0] = 0;
			assert_int_equal(client_direct_env(&d, err, sizeof err), -1);
			assert_non_null(strstr(err, bad[i][0]));
			unsetenv(bad[i][0]);
		}
		assert_int_equal(client_direct_env(&d, err, sizeof err), 0);
		unsetenv("QHPSI");
	}
	unsetenv("QUEUEDIR");
	setenv("QUEUE_COUNT", "zero", 1);
	err[0] = 0;
	assert_int_equal(client_direct_env(&d, err, sizeof err), -1);
	assert_true(err[0] != 0);
	clear_env();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_1002, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qhpsi_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qhpsi_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qhpsi_args_longest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qhpsi_infected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qhpsi_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qhpsi_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qhpsi_rc_rn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qhpsi_size_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qhpsi_q_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom_notqmail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom_simscan_indimail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_bad, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	clear_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
