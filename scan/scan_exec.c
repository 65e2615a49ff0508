/*
 * scan_exec.c - the exec backend: a QHPSI scanner command run per message.
 *
 * SUMMARY
 *	What qmail-queue's QHPSI does, inside the daemon, with the same
 *	settings as direct mode (router/client_direct.c builds the same argv):
 *	the command in QHPSI is split on spaces and tabs (no shell, no
 *	quoting), the non-empty QHPSIARG1..3 follow as one word each, and
 *	every word that is exactly "%s" becomes the message's path; with no
 *	such word the path is appended last.  The exit code decides: QHPSIRC
 *	(default 1) infected, QHPSIRN (default 0) clean, any other code or a
 *	signal a scanner failure.  A message whose size is outside
 *	[QHPSIMINSIZE, QHPSIMAXSIZE] (0 = no bound, both inclusive) is not
 *	scanned: clean, named "not scanned: size <n> below QHPSIMINSIZE <min>"
 *	(or "above QHPSIMAXSIZE <max>").
 *
 *	It exists for compatibility: a site keeps the QHPSI scanner it has.
 *	A process per message costs milliseconds where the clamav backend
 *	costs microseconds; STYLE.md's rule against exec'ing per message
 *	stands for everything else.
 *
 *	init() splits the command once into a read-only template, so any
 *	number of workers may scan() at once; each scan() spawns, waits for
 *	and reaps its own child.  There is nothing to reload (the command is
 *	looked up on PATH at each run).  stats() reports counters.
 *
 * THE MESSAGE
 *	A worker has the mess file as an fd (in->fd) and its path only when
 *	the daemon sets in->path.  The child gets the message on its fd 0,
 *	opened afresh, read-only, through /proc/self/fd/N: an open file
 *	description of its own, so the scanner can neither move the daemon's
 *	file offset nor write through the daemon's O_RDWR fd (hygiene, not a
 *	boundary: it runs as the queue owner).  "%s" is then "/dev/fd/0",
 *	which the child opens as its own fd.  fd 0 rather than a fixed
 *	higher number because every program keeps its stdin open while some
 *	close every fd above 2 when they start, and because a scanner told to
 *	read stdin ("-") then works as well; no magic fd number appears
 *	anywhere else.
 *	/dev/fd/0 is useless to a scanner that hands the name to another
 *	process: plain clamdscan sends the path to clamd, which would open its
 *	own fd 0.  So when in->path is set, "%s" is that path (clamd must be
 *	allowed to read the queue); /dev/fd/0 serves scanners that open the
 *	file themselves (clamscan, clamdscan --fdpass or --stream, scripts).
 *
 * THE CHILD
 *	posix_spawnp(): glibc runs the child with clone(CLONE_VFORK) and no
 *	code of ours between clone and exec, which is what a multi-threaded
 *	process needs (fork() would copy other threads' held locks).  The
 *	file actions put the message on 0, one pipe on 1 and 2, and close
 *	every other fd (posix_spawn_file_actions_addclosefrom_np, glibc 2.34):
 *	the daemon's fds are not all close-on-exec (dup() clears the flag), so
 *	relying on O_CLOEXEC alone would leak mess files and sockets into
 *	scanners.  Our own fds are made with O_CLOEXEC all the same, so that a
 *	child another thread spawns meanwhile cannot hold our pipe open.  The
 *	child gets an empty signal mask and every signal at its default (the
 *	daemon blocks some and ignores SIGPIPE; both survive exec), and a
 *	process group of its own, so that a kill reaches what it started.
 *	stdout and stderr: the first EXEC_KEEP bytes are kept for the verdict,
 *	the rest is read and dropped so that a talkative scanner never blocks.
 *
 *	The wait: poll() on the pipe and on a pidfd (woken when the child
 *	exits; without pidfd_open() the EXEC_TICK_MS tick notices), waitpid()
 *	on that pid only, never a SIGCHLD handler.  Once the deadline passes
 *	or the cancel flag is set, the whole process group gets SIGKILL and
 *	the child is reaped before scan() returns: no zombies.  The daemon
 *	must leave SIGCHLD at SIG_DFL and never wait for "any child": either
 *	would steal the exit code (the scan then fails).  Without a deadline,
 *	EXEC_NODEADLINE_MS applies.
 *
 * DIAGNOSTICS
 *	init() fails when QHPSI is unset or empty, holds more than
 *	EXEC_MAX_WORDS words, or QHPSIRC equals QHPSIRN or is outside 0..255.
 *	scan(): exit QHPSIRC gives SCAN_INFECTED named after the virus when
 *	the output has a clamdscan-style "<path>: <name> FOUND" line, else
 *	no name (the reject text then says "a virus").  SCAN_ERROR texts: "exec: <cmd> exited
 *	<n>: <first output line>", "exec: <cmd> killed by signal <n>: ...",
 *	"exec: <cmd> killed after <n> ms" (deadline; ", cancelled" when
 *	cancelled), "exec: cannot run <cmd>: <errno text>" (not found, not
 *	executable), "exec: cannot reopen the message: ...", and "cancelled"
 *	or "deadline passed" when that was so before the scanner started.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scan.h"

#define SCANNER "exec"
#define EXEC_MAX_WORDS	32	/* words of QHPSI plus QHPSIARG1..3 */
#define EXEC_KEEP	512	/* bytes of the scanner's output kept */
#define EXEC_TICK_MS	20	/* how often the cancel flag is looked at */
#define EXEC_NODEADLINE_MS (300 * 1000)	/* direct mode's QHPSI limit too */
#define EXEC_FD_PATH	"/dev/fd/0"
#define EXEC_READS	16	/* pipe reads per wakeup, so a flood cannot starve the deadline */

extern char **environ;

struct exec_state {
	char *store;		/* the words, NUL-separated */
	char *argv[EXEC_MAX_WORDS + 2];	/* template; NULL-terminated */
	unsigned char is_path[EXEC_MAX_WORDS + 1];	/* word replaced by the path */
	int argc;
	unsigned long min, max;
	int rc, rn;
	atomic_ulong scans, clean, infected, skipped, errors, killed;
};

/* What the child wrote: the head of it, and how much there was. */
struct exec_out {
	char keep[EXEC_KEEP];
	size_t kept;
	unsigned long long total;
};

static int exec_word(struct exec_state *st, char *w, char *err, size_t errlen)
{
	if (st->argc == EXEC_MAX_WORDS) {
		snprintf(err, errlen, "QHPSI and QHPSIARG1..3: more than %d words", EXEC_MAX_WORDS);
		return -1;
	}
	st->is_path[st->argc] = strcmp(w, "%s") == 0;
	st->argv[st->argc++] = w;
	return 0;
}

static void exec_fini(void *state)
{
	struct exec_state *st = state;

	if (!st)
		return;
	free(st->store);
	free(st);
}

static int exec_init(void **state, const struct scan_config *cfg, char *err, size_t errlen)
{
	struct exec_state *st;
	size_t len, at;
	char *w, *save;
	int i, path = 0;

	*state = NULL;
	if (!cfg->qhpsi || !*cfg->qhpsi) {
		snprintf(err, errlen, "QHPSI is not set: the exec scanner has no command");
		return -1;
	}
	if (cfg->qhpsi_rc < 0 || cfg->qhpsi_rc > 255 || cfg->qhpsi_rn < 0 || cfg->qhpsi_rn > 255) {
		snprintf(err, errlen, "QHPSIRC=%d QHPSIRN=%d: exit codes are 0 to 255",
			 cfg->qhpsi_rc, cfg->qhpsi_rn);
		return -1;
	}
	/* also what a zeroed scan_config would give: every exit 0 "infected" */
	if (cfg->qhpsi_rc == cfg->qhpsi_rn) {
		snprintf(err, errlen, "QHPSIRC and QHPSIRN are both %d", cfg->qhpsi_rc);
		return -1;
	}
	len = strlen(cfg->qhpsi) + 1;
	for (i = 0; i < 3; i++)
		if (cfg->qhpsi_arg[i])
			len += strlen(cfg->qhpsi_arg[i]) + 1;
	if (!(st = calloc(1, sizeof *st)) || !(st->store = malloc(len))) {
		free(st);
		snprintf(err, errlen, "exec: out of memory");
		return -1;
	}
	st->min = cfg->qhpsi_min;
	st->max = cfg->qhpsi_max;
	st->rc = cfg->qhpsi_rc;
	st->rn = cfg->qhpsi_rn;
	at = strlen(cfg->qhpsi) + 1;
	memcpy(st->store, cfg->qhpsi, at);
	for (w = strtok_r(st->store, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (exec_word(st, w, err, errlen) < 0)
			goto fail;
	if (st->argc == 0) {
		snprintf(err, errlen, "QHPSI=\"%s\" names no command", cfg->qhpsi);
		goto fail;
	}
	for (i = 0; i < 3; i++) {
		const char *a = cfg->qhpsi_arg[i];

		if (!a || !*a)
			continue;
		memcpy(st->store + at, a, strlen(a) + 1);
		if (exec_word(st, st->store + at, err, errlen) < 0)
			goto fail;
		at += strlen(a) + 1;
	}
	for (i = 0; i < st->argc; i++)
		path |= st->is_path[i];
	if (!path) {		/* appended; argv has room for it */
		st->is_path[st->argc] = 1;
		st->argv[st->argc++] = NULL;
	}
	*state = st;
	return 0;
fail:
	exec_fini(st);
	return -1;
}

/* exec_high - fd moved above 0..2 (close-on-exec), so the child's dup2s
 * onto 0..2 cannot overwrite one another; -1 on error */
static int exec_high(int fd)
{
	int n, e;

	if (fd < 0 || fd > 2)
		return fd;
	n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	e = errno;
	close(fd);
	errno = e;
	return n;
}

/* exec_pidfd - a pidfd for pid (Linux 5.3), or -1: the tick then notices
 * the exit.  By syscall number: musl, which sluice-queue's direct mode is
 * linked with, has no pidfd_open() wrapper. */
static int exec_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/* exec_closefrom - a file action closing every fd from 3 on.  glibc has
 * posix_spawn_file_actions_addclosefrom_np(); elsewhere (musl: direct mode,
 * one thread) each fd open now is closed by name, from /proc/self/fd. */
static int exec_closefrom(posix_spawn_file_actions_t *fa)
{
#ifdef __GLIBC__
	return posix_spawn_file_actions_addclosefrom_np(fa, 3);
#else
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int rc = 0, self = d ? dirfd(d) : -1;

	if (!d)
		return errno;
	while (!rc && (e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd > 2 && fd != self)
			rc = posix_spawn_file_actions_addclose(fa, fd);
	}
	closedir(d);
	return rc;
#endif
}

/* exec_spawn - start the child; 0 with *pid and *out (the pipe's read end), else -1 and v set */
static int exec_spawn(const struct exec_state *st, const struct scan_input *in, pid_t *pid,
		      int *out, struct scan_verdict *v)
{
	char *argv[EXEC_MAX_WORDS + 2], proc[64];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int p[2] = { -1, -1 }, msg, rc, i;

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", in->fd);
	msg = exec_high(open(proc, O_RDONLY | O_NOCTTY | O_CLOEXEC));
	if (msg < 0 && !in->path) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "exec: cannot reopen the message: %s",
				 strerror(errno));
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) < 0 || (p[0] = exec_high(p[0])) < 0 ||
	    (p[1] = exec_high(p[1])) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "exec: pipe: %s", strerror(errno));
		if (p[0] >= 0)
			close(p[0]);
		if (p[1] >= 0)
			close(p[1]);
		if (msg >= 0)
			close(msg);
		return -1;
	}
	for (i = 0; i < st->argc; i++)
		argv[i] = st->is_path[i] ? (char *)(in->path ? in->path : EXEC_FD_PATH) : st->argv[i];
	argv[i] = NULL;

	sigemptyset(&none);
	sigfillset(&all);	/* glibc skips what cannot be reset (KILL, STOP) */
	rc = posix_spawn_file_actions_init(&fa);
	if (rc == 0) {
		rc = msg >= 0 ? posix_spawn_file_actions_adddup2(&fa, msg, 0)
			      : posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, p[1], 1);
		rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, p[1], 2);
		rc = rc ? rc : exec_closefrom(&fa);
		if (rc == 0 && (rc = posix_spawnattr_init(&at)) == 0) {
			rc = posix_spawnattr_setsigmask(&at, &none);
			rc = rc ? rc : posix_spawnattr_setsigdefault(&at, &all);
			rc = rc ? rc : posix_spawnattr_setpgroup(&at, 0);
			rc = rc ? rc : posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
								POSIX_SPAWN_SETSIGDEF |
								POSIX_SPAWN_SETPGROUP);
			/* glibc reaps the child itself when the exec fails */
			rc = rc ? rc : posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
			posix_spawnattr_destroy(&at);
		}
		posix_spawn_file_actions_destroy(&fa);
	}
	close(p[1]);
	if (msg >= 0)
		close(msg);
	if (rc) {
		close(p[0]);
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "exec: cannot run %s: %s", argv[0],
				 strerror(rc));
		return -1;
	}
	*out = p[0];
	return 0;
}

/*
 * exec_read - read what the pipe holds, at most EXEC_READS reads: -1 at EOF
 * (or an error), 0 when it is empty for now, 1 when there may be more
 */
static int exec_read(int fd, struct exec_out *o)
{
	char buf[4096];
	int i;

	for (i = 0; i < EXEC_READS; i++) {
		ssize_t r = read(fd, buf, sizeof buf);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EAGAIN ? 0 : -1;
		if (r == 0)
			return -1;
		if (o->kept < EXEC_KEEP) {
			size_t n = (size_t)r < EXEC_KEEP - o->kept ? (size_t)r : EXEC_KEEP - o->kept;

			memcpy(o->keep + o->kept, buf, n);
			o->kept += n;
		}
		o->total += (size_t)r;
	}
	return 1;
}

/*
 * exec_wait - collect the output until the child exits and reap it:
 * 0 with *status, or -1 with v set (killed, or the wait failed).
 * Output a grandchild writes after the child exited is not waited for.
 */
static int exec_wait(struct exec_state *st, const struct scan_input *in, pid_t pid, int out,
		     int *status, struct exec_out *o, struct scan_verdict *v)
{
	int64_t start = scan_now_ms();
	int64_t limit = in->deadline_ms ? in->deadline_ms : start + EXEC_NODEADLINE_MS;
	int pidfd = exec_pidfd(pid), piped = 1, rc = -1, i;

	for (;;) {
		struct pollfd pf[2] = { { piped ? out : -1, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
		pid_t w = waitpid(pid, status, WNOHANG);
		int werr = errno;
		int64_t now = scan_now_ms(), left;
		int cancelled = in->cancel && *in->cancel;

		if (w == pid) {
			/* what it wrote before it exited; a grandchild may write on */
			for (i = 0; piped && i < 64 && exec_read(out, o) == 1; i++)
				;
			rc = 0;
			break;
		}
		if (w < 0 && werr != EINTR) {
			scan_verdict_set(v, SCAN_ERROR, SCANNER, "exec: cannot wait for %s: %s",
					 st->argv[0], strerror(werr));
			break;
		}
		if (cancelled || now >= limit) {
			/* the unreaped child keeps its pid and group id ours */
			kill(-pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			atomic_fetch_add_explicit(&st->killed, 1, memory_order_relaxed);
			scan_verdict_set(v, SCAN_ERROR, SCANNER, "exec: %s killed after %lld ms%s",
					 st->argv[0], (long long)(now - start),
					 cancelled ? ", cancelled" : "");
			break;
		}
		left = limit - now;
		if (poll(pf, 2, left < EXEC_TICK_MS ? (int)left : EXEC_TICK_MS) > 0 && pf[0].revents)
			piped = exec_read(out, o) >= 0;
	}
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}

/* exec_line - the first non-empty line of the output, printable, for a log */
static void exec_line(const struct exec_out *o, char *line, size_t cap)
{
	const char *p = o->keep, *end = o->keep + o->kept, *e;
	size_t n = 0;

	while (p < end && (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t'))
		p++;
	e = memchr(p, '\n', (size_t)(end - p));
	for (e = e ? e : end; e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	for (; p < e && n + 1 < cap; p++)
		line[n++] = *p == '\t' ? ' ' : (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	line[n] = 0;
}

/*
 * exec_found - the virus name of a clamdscan/clamscan-style line
 * "<path>: <name> FOUND"; 1 when there is one.  Only whole lines count:
 * the last one only when the output was not cut.
 */
static int exec_found(const struct exec_out *o, char *name, size_t cap)
{
	const char *p = o->keep, *end = o->keep + o->kept;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end, *s;

		if (!nl && o->total > o->kept)
			break;
		while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e - p > 6 && memcmp(e - 6, " FOUND", 6) == 0) {
			e -= 6;
			for (s = e - 1; s > p && !(s[-1] == ':' && s[0] == ' '); s--)
				;
			if (s > p && s + 1 < e) {
				size_t n = 0;

				for (s++; s < e && n + 1 < cap; s++)
					name[n++] = (*s > 0x20 && *s < 0x7f) ? *s : '?';
				name[n] = 0;
				return 1;
			}
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static void exec_verdict(struct exec_state *st, int status, const struct exec_out *o,
			 struct scan_verdict *v)
{
	char line[200], name[sizeof v->name];

	exec_line(o, line, sizeof line);
	if (WIFEXITED(status) && WEXITSTATUS(status) == st->rc) {
		atomic_fetch_add_explicit(&st->infected, 1, memory_order_relaxed);
		if (exec_found(o, name, sizeof name))
			scan_verdict_set(v, SCAN_INFECTED, SCANNER, "%s", name);
		else
			scan_verdict_set(v, SCAN_INFECTED, SCANNER, NULL);	/* no name: "a virus" */
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == st->rn) {
		atomic_fetch_add_explicit(&st->clean, 1, memory_order_relaxed);
		scan_verdict_set(v, SCAN_CLEAN, SCANNER, NULL);
		return;
	}
	atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
	if (WIFEXITED(status))
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "exec: %s exited %d%s%s", st->argv[0],
				 WEXITSTATUS(status), *line ? ": " : "", line);
	else
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "exec: %s killed by signal %d%s%s",
				 st->argv[0], WIFSIGNALED(status) ? WTERMSIG(status) : 0,
				 *line ? ": " : "", line);
}

static void exec_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	struct exec_state *st = state;
	struct exec_out o = { .kept = 0 };
	unsigned long size = in->size > 0 ? (unsigned long)in->size : 0;
	int out, status;
	pid_t pid;

	atomic_fetch_add_explicit(&st->scans, 1, memory_order_relaxed);
	if ((st->min && size < st->min) || (st->max && size > st->max)) {
		atomic_fetch_add_explicit(&st->skipped, 1, memory_order_relaxed);
		scan_verdict_set(v, SCAN_CLEAN, SCANNER, "not scanned: size %lu %s %lu", size,
				 size < st->min ? "below QHPSIMINSIZE" : "above QHPSIMAXSIZE",
				 size < st->min ? st->min : st->max);
		return;
	}
	if ((in->cancel && *in->cancel) || (in->deadline_ms && scan_now_ms() >= in->deadline_ms)) {
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "%s",
				 in->cancel && *in->cancel ? "cancelled" : "deadline passed");
		return;
	}
	if (exec_spawn(st, in, &pid, &out, v) < 0) {
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
		return;
	}
	if (exec_wait(st, in, pid, out, &status, &o, v) < 0)
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
	else
		exec_verdict(st, status, &o, v);
	close(out);
}

static size_t exec_stats(void *state, char *buf, size_t len)
{
	struct exec_state *st = state;
	int n = snprintf(buf, len,
			 "exec_scans %lu\nexec_clean %lu\nexec_infected %lu\nexec_skipped %lu\n"
			 "exec_errors %lu\nexec_killed %lu\n",
			 atomic_load(&st->scans), atomic_load(&st->clean), atomic_load(&st->infected),
			 atomic_load(&st->skipped), atomic_load(&st->errors), atomic_load(&st->killed));

	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : (len ? len - 1 : 0);
}

const struct scan_backend scan_backend_exec = {
	.name = SCANNER,
	.flags = SCAN_B_NEEDS_PATH,	/* the QHPSI command's %s */
	.init = exec_init,
	.scan = exec_scan,
	.reload = NULL,
	.stats = exec_stats,
	.fini = exec_fini,
};
