/*
 * test_scan_exec.c - the exec backend (scan/scan_exec.c) with real
 * processes: each test writes small /bin/sh scanners into its own temp
 * directory and runs them on real message files.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scan/scan.h"

#define CLEAN_TEXT "Received: from test\nSubject: hello\n\nJust a letter.\n"
#define VIRUS_TEXT "Received: from test\nSubject: hello\n\nEICAR test body\n"

static char *dir;		/* this test's temp tree */

static int setup(void **unused)
{
	dir = tu_tmpdir("exec");
	return 0;
}

static int teardown(void **unused)
{
	tu_rmtree(dir);
	free(dir);
	dir = NULL;
	return 0;
}

/* script - write an executable /bin/sh script; caller frees the path */
static char *script(const char *name, const char *body)
{
	char *path = strdup(tu_path(dir, "%s", name)), text[4096];
	int n = snprintf(text, sizeof text, "#!/bin/sh\n%s\n", body);

	assert_true(n > 0 && (size_t)n < sizeof text);
	tu_write(path, text, (size_t)n);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

/* message - a mess file holding text, opened read-only without O_CLOEXEC
 * (the daemon's fd comes from dup()); caller closes */
static int message(const char *name, const char *text)
{
	const char *path = tu_path(dir, "%s", name);
	int fd;

	tu_write(path, text, strlen(text));
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	return fd;
}

static struct scan_config config(const char *qhpsi)
{
	struct scan_config c = { 0 };

	c.qhpsi = qhpsi;
	c.qhpsi_rc = 1;
	c.qhpsi_rn = 0;
	return c;
}

static void *start(const struct scan_config *c)
{
	const struct scan_backend *b = scan_backend_find("exec");
	void *state = NULL;
	char err[256] = "";

	assert_non_null(b);
	if (b->init(&state, c, err, sizeof err) != 0)
		fail_msg("init: %s", err);
	return state;
}

/* scan - one scan of a message file's text; returns its wall time in ms */
static int64_t scan(void *state, const char *text, const char *path, int64_t deadline_ms,
		    atomic_int *cancel, struct scan_verdict *v)
{
	struct scan_input in = { .deadline_ms = deadline_ms, .cancel = cancel, .path = path };
	int64_t t0 = scan_now_ms();

	in.fd = message("mess", text);
	in.size = (off_t)strlen(text);
	memset(v, 0x55, sizeof *v);
	scan_backend_exec.scan(state, &in, v);
	close(in.fd);
	assert_string_equal(v->scanner, "exec");
	return scan_now_ms() - t0;
}

/* once - init, one scan with a 10 s deadline, fini */
static void once(const struct scan_config *c, const char *text, struct scan_verdict *v)
{
	void *state = start(c);

	scan(state, text, NULL, scan_now_ms() + 10000, NULL, v);
	scan_backend_exec.fini(state);
}

/* run_cmd - QHPSI = "<dir>/<name><rest>" over a script body */
static void run_cmd(const char *name, const char *body, const char *rest, const char *text,
		    struct scan_verdict *v)
{
	char *path = script(name, body), cmd[4096];
	struct scan_config c;

	snprintf(cmd, sizeof cmd, "%s%s", path, rest);
	c = config(cmd);
	once(&c, text, v);
	free(path);
}

static void test_find(void **unused)
{
	const struct scan_backend *b = scan_backend_find("exec");

	assert_ptr_equal(b, &scan_backend_exec);
	assert_string_equal(b->name, "exec");
	assert_non_null(b->stats);
	assert_null(b->reload);
}

static void test_init_errors(void **unused)
{
	static const char *const bad[] = { NULL, "", " \t ",
		"a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7 8" };
	struct scan_config c;
	void *state;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = config(bad[i]);
		state = (void *)1;
		assert_int_equal(scan_backend_exec.init(&state, &c, err, sizeof err), -1);
		assert_null(state);
		assert_true(strlen(err) > 0);
	}
	c = config("/bin/true");
	c.qhpsi_rc = c.qhpsi_rn = 0;	/* a zeroed config: refused */
	assert_int_equal(scan_backend_exec.init(&state, &c, err, sizeof err), -1);
	assert_non_null(strstr(err, "QHPSIRC and QHPSIRN"));
	c.qhpsi_rc = 256;
	assert_int_equal(scan_backend_exec.init(&state, &c, err, sizeof err), -1);
	c = config("/bin/true");
	c.qhpsi_arg[0] = "x";	/* 32 words exactly is fine */
	c.qhpsi = "a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5";
	assert_int_equal(scan_backend_exec.init(&state, &c, err, sizeof err), 0);
	scan_backend_exec.fini(state);
	c.qhpsi_arg[1] = "y";	/* 33 */
	assert_int_equal(scan_backend_exec.init(&state, &c, err, sizeof err), -1);
}

static void test_clean(void **unused)
{
	struct scan_verdict v;

	run_cmd("scanner", "echo stream: OK; exit 0", "", CLEAN_TEXT, &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_string_equal(v.name, "");
}

static void test_infected(void **unused)
{
	struct scan_verdict v;

	run_cmd("scanner", "echo 'stream: Eicar FOUND'; exit 1", "", VIRUS_TEXT, &v);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, "Eicar");

	/* clamdscan's real shape: path, CRLF, a summary after it */
	run_cmd("scanner2",
		"printf '/dev/fd/0: Win.Test.EICAR_HDB-1 FOUND\\r\\n\\n"
		"----------- SCAN SUMMARY -----------\\nInfected files: 1\\n'; exit 1",
		"", VIRUS_TEXT, &v);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, "Win.Test.EICAR_HDB-1");

	/* a scanner that does not name the virus */
	run_cmd("scanner3", "echo 'virus!'; exit 1", "", VIRUS_TEXT, &v);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, "");	/* unnamed: "a virus" */

	/* no output at all */
	run_cmd("scanner4", "exit 1", "", VIRUS_TEXT, &v);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, "");	/* unnamed: "a virus" */
}

static void test_custom_codes(void **unused)
{
	static const struct {
		int code;
		enum scan_kind kind;
	} cases[] = { { 5, SCAN_INFECTED }, { 7, SCAN_CLEAN }, { 0, SCAN_ERROR }, { 1, SCAN_ERROR } };
	char body[64], *path;
	struct scan_config c;
	struct scan_verdict v;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(body, sizeof body, "exit %d", cases[i].code);
		path = script("scanner", body);
		c = config(path);
		c.qhpsi_rc = 5;
		c.qhpsi_rn = 7;
		once(&c, VIRUS_TEXT, &v);
		assert_int_equal(v.kind, cases[i].kind);
		if (cases[i].kind == SCAN_INFECTED)
			assert_string_equal(v.name, "");
		if (cases[i].kind == SCAN_ERROR) {
			snprintf(body, sizeof body, "exited %d", cases[i].code);
			assert_non_null(strstr(v.name, body));
		}
		free(path);
	}
}

static void test_other_exit(void **unused)
{
	struct scan_verdict v;

	run_cmd("scanner", "echo; echo 'ERROR: Could not connect to clamd'; echo more; exit 2", "",
		CLEAN_TEXT, &v);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_non_null(strstr(v.name, "exec: "));
	assert_non_null(strstr(v.name, "scanner exited 2: ERROR: Could not connect to clamd"));
	assert_null(strstr(v.name, "more"));

	run_cmd("scanner2", "echo dying >&2; kill -TERM $$; sleep 5", "", CLEAN_TEXT, &v);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_non_null(strstr(v.name, "killed by signal 15: dying"));
}

/* args - run QHPSI = "<args-script><rest>" with args a1..a3; return the argv it saw */
static char *args(const char *rest, const char *a1, const char *a2, const char *a3,
		  const char *path)
{
	char body[4096], cmd[4096], *s, *out;
	struct scan_config c;
	struct scan_verdict v;
	void *state;

	snprintf(body, sizeof body, "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done > %s/args",
		 dir);
	s = script("args.sh", body);
	snprintf(cmd, sizeof cmd, "%s%s", s, rest);
	c = config(cmd);
	c.qhpsi_arg[0] = a1;
	c.qhpsi_arg[1] = a2;
	c.qhpsi_arg[2] = a3;
	state = start(&c);
	unlink(tu_path(dir, "args"));
	scan(state, CLEAN_TEXT, path, scan_now_ms() + 10000, NULL, &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	scan_backend_exec.fini(state);
	free(s);
	out = tu_read(tu_path(dir, "args"), NULL);
	assert_non_null(out);
	return out;
}

static void expect_args(char *got, const char *want)
{
	assert_string_equal(got, want);
	free(got);
}

static void test_path_word(void **unused)
{
	expect_args(args(" -a %s -b", NULL, NULL, NULL, NULL), "-a\n/dev/fd/0\n-b\n");
	expect_args(args(" -a", NULL, NULL, NULL, NULL), "-a\n/dev/fd/0\n");
	expect_args(args("", NULL, NULL, NULL, NULL), "/dev/fd/0\n");
	/* spaces and tabs split; no quoting; "%s" only as a whole word */
	expect_args(args("\t-a   'b c'\t --x=%s ", NULL, NULL, NULL, NULL),
		    "-a\n'b\nc'\n--x=%s\n/dev/fd/0\n");
	expect_args(args(" %s %s", NULL, NULL, NULL, NULL), "/dev/fd/0\n/dev/fd/0\n");
	/* the daemon knows the path: it replaces %s */
	expect_args(args(" --fdpass %s", NULL, NULL, NULL, "/var/qmail/queue/mess/3/1234"),
		    "--fdpass\n/var/qmail/queue/mess/3/1234\n");
	expect_args(args("", NULL, NULL, NULL, "/q/mess/1/2"), "/q/mess/1/2\n");
}

static void test_qhpsiarg(void **unused)
{
	expect_args(args(" x", "A1", "A 2", "A3", NULL), "x\nA1\nA 2\nA3\n/dev/fd/0\n");
	/* empty ones are skipped; %s in one of them is the path, not appended */
	expect_args(args(" x", "", "--file", "%s", NULL), "x\n--file\n/dev/fd/0\n");
	expect_args(args("", NULL, NULL, "last", NULL), "last\n/dev/fd/0\n");
}

static void test_size_limits(void **unused)
{
	char body[256], *path;
	struct scan_config c;
	struct scan_verdict v;
	size_t len = strlen(VIRUS_TEXT);

	snprintf(body, sizeof body, "touch %s/ran; exit 1", dir);
	path = script("scanner", body);
	c = config(path);

	c.qhpsi_min = len + 1;
	once(&c, VIRUS_TEXT, &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_true(strncmp(v.name, "not scanned: size", 17) == 0);
	assert_non_null(strstr(v.name, "below QHPSIMINSIZE"));
	assert_false(tu_exists(tu_path(dir, "ran")));

	c.qhpsi_min = 0;
	c.qhpsi_max = len - 1;
	once(&c, VIRUS_TEXT, &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_non_null(strstr(v.name, "not scanned: size"));
	assert_non_null(strstr(v.name, "above QHPSIMAXSIZE"));
	assert_false(tu_exists(tu_path(dir, "ran")));

	/* both bounds are inclusive */
	c.qhpsi_min = c.qhpsi_max = len;
	once(&c, VIRUS_TEXT, &v);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_true(tu_exists(tu_path(dir, "ran")));
	free(path);
}

static long read_pid(const char *name)
{
	char *s = tu_read(tu_path(dir, "%s", name), NULL);
	long pid;

	assert_non_null(s);
	pid = strtol(s, NULL, 10);
	free(s);
	assert_true(pid > 1);
	return pid;
}

/* gone - the process no longer exists, or is a zombie of someone else's (init's) */
static int gone(long pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int zombie = 0;

	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "r")))
		return 1;
	if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')))
		zombie = p[1] == ' ' && p[2] == 'Z';
	fclose(f);
	return zombie;
}

/* killed - the scanner and its child are gone, the scanner reaped by us */
static void assert_killed(void)
{
	long pid = read_pid("pid"), kid = read_pid("kid");
	int i;

	errno = 0;
	assert_int_equal(kill((pid_t)pid, 0), -1);	/* a zombie would still answer */
	assert_int_equal(errno, ESRCH);
	assert_int_equal(waitpid((pid_t)pid, NULL, WNOHANG), -1);
	/* the sleep got SIGKILL with its group; init reaps it */
	for (i = 0; i < 200 && !gone(kid); i++)
		usleep(10000);
	assert_true(gone(kid));
}

#define HANG_BODY "echo $$ > %s/pid; sleep 10 & echo $! > %s/kid; echo started; wait"

static void test_deadline(void **unused)
{
	char body[512], *path;
	struct scan_config c;
	struct scan_verdict v;
	void *state;
	int64_t took;

	snprintf(body, sizeof body, HANG_BODY, dir, dir);
	path = script("hang", body);
	c = config(path);
	state = start(&c);
	took = scan(state, CLEAN_TEXT, NULL, scan_now_ms() + 300, NULL, &v);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_non_null(strstr(v.name, "hang killed after"));
	assert_null(strstr(v.name, "cancelled"));
	assert_true(took >= 250);
	assert_true(took < 1000);
	assert_killed();
	scan_backend_exec.fini(state);
	free(path);
}

struct canceller {
	atomic_int *flag;
	int ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *k = arg;
	struct timespec ts = { 0, k->ms * 1000000L };

	nanosleep(&ts, NULL);
	*k->flag = 1;
	return NULL;
}

static void test_cancel(void **unused)
{
	char body[512], *path;
	struct scan_config c;
	struct scan_verdict v;
	atomic_int flag = 0;
	struct canceller k = { &flag, 200 };
	pthread_t t;
	void *state;
	int64_t took;

	snprintf(body, sizeof body, HANG_BODY, dir, dir);
	path = script("hang", body);
	c = config(path);
	state = start(&c);
	assert_int_equal(pthread_create(&t, NULL, cancel_later, &k), 0);
	took = scan(state, CLEAN_TEXT, NULL, scan_now_ms() + 10000, &flag, &v);
	pthread_join(t, NULL);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_non_null(strstr(v.name, "killed after"));
	assert_non_null(strstr(v.name, "cancelled"));
	assert_true(took < 1000);
	assert_killed();

	/* cancelled before it started: nothing runs */
	unlink(tu_path(dir, "pid"));
	took = scan(state, CLEAN_TEXT, NULL, scan_now_ms() + 10000, &flag, &v);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.name, "cancelled");
	assert_false(tu_exists(tu_path(dir, "pid")));
	/* nor past its deadline */
	flag = 0;
	scan(state, CLEAN_TEXT, NULL, scan_now_ms() - 1, &flag, &v);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.name, "deadline passed");
	assert_false(tu_exists(tu_path(dir, "pid")));
	scan_backend_exec.fini(state);
	free(path);
}

static void test_missing_command(void **unused)
{
	struct scan_config c;
	struct scan_verdict v;
	char cmd[4096];

	snprintf(cmd, sizeof cmd, "%s/no-such-scanner -x", dir);
	c = config(cmd);
	once(&c, CLEAN_TEXT, &v);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_non_null(strstr(v.name, "cannot run"));
	assert_non_null(strstr(v.name, "No such file"));

	c = config("sluice-no-such-scanner-on-path");	/* PATH search */
	once(&c, CLEAN_TEXT, &v);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_non_null(strstr(v.name, "cannot run sluice-no-such-scanner-on-path"));

	/* there but not executable */
	tu_write(tu_path(dir, "noexec"), "#!/bin/sh\nexit 0\n", 17);
	snprintf(cmd, sizeof cmd, "%s/noexec", dir);
	c = config(cmd);
	once(&c, CLEAN_TEXT, &v);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_non_null(strstr(v.name, "Permission denied"));
}

/* The scanner really reads the message: by /dev/fd/0, by stdin, by path. */
static void test_reads_message(void **unused)
{
	static const char *const bodies[] = {
		"cat \"$1\" | grep -q EICAR && { echo \"$1: Eicar-Test FOUND\"; exit 1; }; exit 0",
		"grep -q EICAR \"$1\" && { echo \"$1: Eicar-Test FOUND\"; exit 1; }; exit 0",
		"grep -q EICAR && { echo \"stdin: Eicar-Test FOUND\"; exit 1; }; exit 0",
	};
	struct scan_config c;
	struct scan_verdict v;
	void *state;
	char *path, mess[4096];
	size_t i;

	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		path = script("reader", bodies[i]);
		c = config(path);
		state = start(&c);
		scan(state, VIRUS_TEXT, NULL, scan_now_ms() + 10000, NULL, &v);
		assert_int_equal(v.kind, SCAN_INFECTED);
		assert_string_equal(v.name, "Eicar-Test");
		scan(state, CLEAN_TEXT, NULL, scan_now_ms() + 10000, NULL, &v);
		assert_int_equal(v.kind, SCAN_CLEAN);
		/* the real path, as the daemon passes it for clamd */
		snprintf(mess, sizeof mess, "%s/mess", dir);
		scan(state, VIRUS_TEXT, mess, scan_now_ms() + 10000, NULL, &v);
		assert_int_equal(v.kind, SCAN_INFECTED);
		scan(state, CLEAN_TEXT, mess, scan_now_ms() + 10000, NULL, &v);
		assert_int_equal(v.kind, SCAN_CLEAN);
		scan_backend_exec.fini(state);
		free(path);
	}
}

/* The scanner gets a description of its own, read-only: the daemon's
 * offset does not move and nothing is written through it. */
static void test_message_fd(void **unused)
{
	char *path = script("eater", "cat > /dev/null; echo x >&0 && exit 3; exit 0");
	struct scan_config c = config(path);
	struct scan_input in = { 0 };
	struct scan_verdict v;
	void *state = start(&c);
	char *text;

	in.fd = message("mess", CLEAN_TEXT);
	in.size = (off_t)strlen(CLEAN_TEXT);
	in.deadline_ms = scan_now_ms() + 10000;
	scan_backend_exec.scan(state, &in, &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_int_equal(lseek(in.fd, 0, SEEK_CUR), 0);
	close(in.fd);
	text = tu_read(tu_path(dir, "mess"), NULL);
	assert_string_equal(text, CLEAN_TEXT);
	free(text);
	scan_backend_exec.fini(state);
	free(path);
}

/* Only 0, 1 and 2 reach the scanner: not the message's own fd, not an fd
 * the process left without O_CLOEXEC. */
static void test_no_fd_leak(void **unused)
{
	char *path = script("fds", "for n in \"$1\" \"$2\"; do [ -e /proc/$$/fd/$n ] && exit 3; done; "
				   "[ -e /proc/$$/fd/0 ] || exit 4; exit 0");
	struct scan_config c = config(path);
	struct scan_input in = { 0 };
	struct scan_verdict v;
	void *state;
	int nul = open("/dev/null", O_RDONLY), fd = message("mess", CLEAN_TEXT);

	assert_int_equal(dup2(nul, 200), 200);
	assert_int_equal(dup2(fd, 201), 201);
	close(nul);
	close(fd);
	c.qhpsi_arg[0] = "200";
	c.qhpsi_arg[1] = "201";
	state = start(&c);
	in.fd = 201;
	in.size = (off_t)strlen(CLEAN_TEXT);
	in.deadline_ms = scan_now_ms() + 10000;
	scan_backend_exec.scan(state, &in, &v);
	if (v.kind != SCAN_CLEAN)
		fail_msg("%s %s", scan_kind_name(v.kind), v.name);
	close(200);
	close(201);
	scan_backend_exec.fini(state);
	free(path);
}

/* The daemon ignores SIGPIPE and its workers may block signals; both
 * survive exec, and the scanner gets neither.  grep reports its own, for
 * signals 1..31 only: glibc's posix_spawn leaves its two internal signals
 * (32, 33) ignored in every child. */
static void test_signals(void **unused)
{
	struct scan_verdict v;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigset_t block, was;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	assert_int_equal(sigaction(SIGPIPE, &ign, &old), 0);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &block, &was), 0);
	run_cmd("sig", "grep -E '^Sig(Ign|Blk):' /proc/self/status | grep -v ':[[:space:]]*[0-9a-f]*[08]0000000$' && exit 3; "
		       "exit 0", "", CLEAN_TEXT, &v);
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	sigaction(SIGPIPE, &old, NULL);
	if (v.kind != SCAN_CLEAN)
		fail_msg("%s %s", scan_kind_name(v.kind), v.name);
}

/* A talkative scanner neither blocks nor floods the verdict. */
static void test_big_output(void **unused)
{
	struct scan_config c;
	struct scan_verdict v;
	char *path = script("talker", "i=0; while [ $i -lt 3000 ]; do "
				      "echo \"line $i of a scanner that talks too much\"; i=$((i+1)); done; "
				      "exit 3");
	void *state;
	int64_t took;

	c = config(path);
	state = start(&c);
	took = scan(state, CLEAN_TEXT, NULL, scan_now_ms() + 10000, NULL, &v);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_non_null(strstr(v.name, "exited 3: line 0 of a scanner that talks too much"));
	assert_true(took < 5000);
	scan_backend_exec.fini(state);
	free(path);
}

struct worker {
	void *state;
	int clean_fd, virus_fd, errors;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct scan_verdict v;
	int i;

	for (i = 0; i < 24; i++) {
		struct scan_input in = { .deadline_ms = scan_now_ms() + 20000 };
		int virus = i % 2;

		in.fd = virus ? w->virus_fd : w->clean_fd;
		in.size = (off_t)strlen(virus ? VIRUS_TEXT : CLEAN_TEXT);
		scan_backend_exec.scan(w->state, &in, &v);
		if (v.kind != (virus ? SCAN_INFECTED : SCAN_CLEAN) ||
		    (virus && strcmp(v.name, "Eicar-Test") != 0))
			w->errors++;
	}
	return NULL;
}

static void test_threads(void **unused)
{
	char *path = script("reader", "grep -q EICAR \"$1\" && { echo \"$1: Eicar-Test FOUND\"; exit 1; }; exit 0");
	struct scan_config c = config(path);
	struct worker w[4];
	pthread_t t[4];
	char stats[512];
	void *state = start(&c);
	int clean_fd = message("clean", CLEAN_TEXT), virus_fd = message("virus", VIRUS_TEXT), i;

	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ state, clean_fd, virus_fd, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
	assert_true(scan_backend_exec.stats(state, stats, sizeof stats) > 0);
	assert_non_null(strstr(stats, "exec_scans 96\n"));
	assert_non_null(strstr(stats, "exec_clean 48\n"));
	assert_non_null(strstr(stats, "exec_infected 48\n"));
	assert_non_null(strstr(stats, "exec_errors 0\n"));
	/* every child reaped */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	close(clean_fd);
	close(virus_fd);
	scan_backend_exec.fini(state);
	free(path);
}

static void test_stats(void **unused)
{
	char *path = script("s", "grep -q EICAR && exit 1; exit 0"), stats[512];
	struct scan_config c = config(path);
	struct scan_verdict v;
	void *state;

	c.qhpsi_max = 1000;
	state = start(&c);
	scan(state, CLEAN_TEXT, NULL, scan_now_ms() + 10000, NULL, &v);
	scan(state, VIRUS_TEXT, NULL, scan_now_ms() + 10000, NULL, &v);
	{
		char big[2000];

		memset(big, 'a', sizeof big - 1);
		big[sizeof big - 1] = 0;
		scan(state, big, NULL, scan_now_ms() + 10000, NULL, &v);
		assert_int_equal(v.kind, SCAN_CLEAN);
	}
	scan_backend_exec.stats(state, stats, sizeof stats);
	assert_string_equal(stats, "exec_scans 3\nexec_clean 1\nexec_infected 1\nexec_skipped 1\n"
				   "exec_errors 0\nexec_killed 0\n");
	assert_int_equal(scan_backend_exec.stats(state, stats, 10), 9);
	scan_backend_exec.fini(state);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_infected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_word, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qhpsiarg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_fd_leak, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
