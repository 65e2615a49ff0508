/*
 * test_queue_commit.c - queue/queue_commit.c: write and commit, in batches.
 *
 *	golden           mess = Received line + message, intd = todo = the
 *	                 stock u p F T records (tests/queue/data: .in, .ref);
 *	                 id = inode, mess/<id % split>/<id>, mess and intd mode
 *	                 0644 under any umask, one NUL on lock/trigger per batch, pid/ empty
 *	markers          pid/<pid>.<time>.<seq>.r, then .c, then gone
 *	group commit     64 messages over 2 queues in one call; fsyncs counted
 *	                 through queue_sys: FULL = 2 per message + each distinct
 *	                 directory once, DATA = files only, NONE = nothing
 *	faults           every queue_sys call a commit makes (openat, fstat,
 *	                 linkat, write, renameat, fsync) failed in turn with
 *	                 ENOSPC / EIO: the right status, nothing left behind, a
 *	                 todo/ entry only for a complete message; in a batch a
 *	                 failing message does not touch the others; a todo/
 *	                 fsync failure keeps the message and reports an error
 *	steps            queue_commit_step(): each step links the batch the
 *	                 previous one synced and syncs the next in one round;
 *	                 a fault in one batch does not touch the other
 *	writes           short writes and EINTR are retried
 *	abort            removes everything, is a no-op when nothing or committed
 *	move             queue_msg_move() (a policy's queue=): same id, fd and
 *	                 marker lock in the other queue, nothing left in the
 *	                 first, committed there; across filesystems (EXDEV
 *	                 injected) a copy under a new id; each failing call
 *	                 leaves the message whole in its first queue and
 *	                 nothing in the other; refused after intd/; a writer
 *	                 that dies at any point of the move leaves what both
 *	                 queues' recoveries (either order) remove whole, with
 *	                 at most one message counted removed; the first
 *	                 queue's leftovers (marker, mess name) of a message
 *	                 committed in the other are removed and the message
 *	                 stays whole; a failing clean-up leaves a stray marker
 *	                 its recovery removes; a 200 KB copy under umask 077
 *	                 is exact and 0644, a failing create or write leaves
 *	                 the message where it was
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "queue.h"

#define SPLIT 23
#define GOLDEN_NOW 1793587504	/* 2 Nov 2026 02:45:04 GMT */
#define GOLDEN_PID 5678
#define GOLDEN_UID 7791		/* qmaild in golden_uids: "invoked from network" */

static const struct queue_uids golden_uids = { .alias = 7790, .qmaild = 7791, .qmails = 7794 };

/* ---------------------------------------------------------------- fixture */

struct fx {
	char *tmp;
	char *path[2];
	struct queue q[2];
	int fifo[2];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct queue_err e;
	int i;

	queue_sys_reset();
	f->tmp = tu_tmpdir("commit");
	for (i = 0; i < 2; i++) {
		if (asprintf(&f->path[i], "%s/queue%d", f->tmp, i + 1) < 0)
			fail();
		tu_queue_tree(f->path[i], SPLIT);
		if (queue_open(&f->q[i], f->path[i], SPLIT, &e) != QUEUE_OK)
			fail_msg("queue_open: %s", e.text);
		f->fifo[i] = -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int i;

	queue_sys_reset();
	for (i = 0; i < 2; i++) {
		if (f->fifo[i] >= 0)
			close(f->fifo[i]);
		queue_close(&f->q[i]);
		free(f->path[i]);
	}
	tu_rmtree(f->tmp);
	free(f->tmp);
	free(f);
	return 0;
}

/* fifo_open - be qmail-send: read lock/trigger without blocking */
static void fifo_open(struct fx *f, int i)
{
	f->fifo[i] = open(tu_path(f->path[i], "lock/trigger"), O_RDONLY | O_NONBLOCK);
	assert_true(f->fifo[i] >= 0);
}

/* fifo_bytes - bytes waiting on the trigger; each must be NUL */
static int fifo_bytes(struct fx *f, int i)
{
	char buf[64];
	ssize_t r = read(f->fifo[i], buf, sizeof buf);
	ssize_t k;

	if (r < 0 && errno == EAGAIN)
		return 0;
	assert_true(r >= 0);
	for (k = 0; k < r; k++)
		assert_int_equal(buf[k], 0);
	return (int)r;
}

/* empty_dir - unlink every entry of a directory (the directory stays: the
 * open queue holds an fd on it) */
static void empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			assert_int_equal(unlinkat(dirfd(d), de->d_name, 0), 0);
	closedir(d);
}

/* drain - be qmail-send and qmail-clean: remove every message file */
static void drain(const char *q)
{
	unsigned i;

	empty_dir(tu_path(q, "pid"));
	empty_dir(tu_path(q, "intd"));
	empty_dir(tu_path(q, "todo"));
	for (i = 0; i < SPLIT; i++)
		empty_dir(tu_path(q, "mess/%u", i));
}

/* ------------------------------------------------------- message helpers */

struct input {
	const char *body;
	size_t blen;
	const char *env;	/* intd records */
	size_t elen;
	const char *received;
};

#define RECEIVED "Received: (qmail 5678 invoked from network); 2 Nov 2026 02:45:04 -0000\n"

/* put - begin, write Received line + body, intd; aborts on failure */
static enum queue_status put(struct queue *q, struct queue_msg *m, const struct input *in,
			     struct queue_err *e)
{
	const char *rcv = in->received ? in->received : RECEIVED;
	enum queue_status st;

	if ((st = queue_msg_begin(q, m, e)) != QUEUE_OK)
		return st;
	if ((st = queue_msg_write(m, rcv, strlen(rcv), e)) != QUEUE_OK ||
	    (st = queue_msg_write(m, in->body, in->blen, e)) != QUEUE_OK ||
	    (st = queue_msg_intd(m, in->env, in->elen, e)) != QUEUE_OK)
		queue_msg_abort(m);
	return st;
}

/* commit_one - put + a batch of one; *e gets whichever error applies */
static enum queue_status commit_one(struct queue *q, struct queue_msg *m, const struct input *in,
				    enum queue_sync mode, struct queue_err *e)
{
	enum queue_status st;
	struct queue_msg *v[1] = { m };

	memset(e, 0, sizeof *e);
	if ((st = put(q, m, in, e)) != QUEUE_OK)
		return st;
	if (queue_commit(v, 1, mode, 0) == 1) {
		assert_int_equal(m->err.status, QUEUE_OK);
		return QUEUE_OK;
	}
	*e = m->err;
	assert_int_not_equal(e->status, QUEUE_OK);
	return e->status;
}

static void assert_bytes(const char *path, const void *want, size_t wlen)
{
	size_t len;
	char *got = tu_read(path, &len);

	if (!got)
		fail_msg("%s missing", path);
	if (len != wlen || memcmp(got, want, len))
		fail_msg("%s: %zu bytes differ from the %zu expected", path, len, wlen);
	free(got);
}

/* check_committed - message id is in todo/ with exactly these bytes */
static void check_committed(const char *q, ino_t id, const void *mess, size_t mlen,
			    const void *intd, size_t ilen)
{
	const char *mp = tu_path(q, "mess/%lu/%lu", (unsigned long)id % SPLIT, (unsigned long)id);
	const char *ip = tu_path(q, "intd/%lu", (unsigned long)id);
	const char *tp = tu_path(q, "todo/%lu", (unsigned long)id);
	struct stat sm, si, st;

	assert_bytes(mp, mess, mlen);
	assert_bytes(ip, intd, ilen);
	assert_bytes(tp, intd, ilen);
	assert_int_equal(stat(mp, &sm), 0);
	assert_int_equal(stat(ip, &si), 0);
	assert_int_equal(stat(tp, &st), 0);
	assert_int_equal(sm.st_ino, id);	/* id = inode of the mess file */
	assert_int_equal(sm.st_mode & 07777, 0644);
	assert_int_equal(sm.st_nlink, 1);	/* the pid/ marker is gone */
	assert_int_equal(si.st_ino, st.st_ino);	/* todo is a link of intd */
	assert_int_equal(si.st_mode & 07777, 0644);	/* qmail-send (qmails) reads it */
	assert_int_equal(si.st_nlink, 2);
}

/* gone - nothing of message id is left anywhere in q */
static void assert_gone(const char *q, unsigned long id)
{
	assert_false(tu_exists(tu_path(q, "mess/%lu/%lu", id % SPLIT, id)));
	assert_false(tu_exists(tu_path(q, "intd/%lu", id)));
	assert_false(tu_exists(tu_path(q, "todo/%lu", id)));
}

/* --------------------------------------------------- the queue_sys wrapper */

enum sc { SC_OPENAT, SC_LINKAT, SC_UNLINKAT, SC_WRITE, SC_FSYNC, SC_FSTAT, SC_FTRUNCATE,
	  SC_RENAMEAT, SC_N };

/* What a queue_sys call was doing, told from its fd's path. */
enum step {
	STEP_OTHER, STEP_PID_CREATE, STEP_FSTAT, STEP_MESS_LINK, STEP_MESS_WRITE,
	STEP_INTD_CREATE, STEP_INTD_WRITE, STEP_RENAME, STEP_FSYNC_MESS, STEP_FSYNC_INTD,
	STEP_FSYNC_DIR_MESS, STEP_FSYNC_DIR_INTD, STEP_FSYNC_DIR_PID, STEP_TODO_LINK,
	STEP_FSYNC_DIR_TODO, NSTEP
};

static const char *const step_name[NSTEP] = {
	"other", "create pid marker", "fstat marker", "link mess", "write mess",
	"create intd", "write intd", "rename marker", "fsync mess", "fsync intd",
	"fsync mess/<n>/", "fsync intd/", "fsync pid/", "link todo", "fsync todo/",
};

struct fault {
	enum sc kind;
	unsigned nth;		/* fail the nth matching call */
	int err;
	int fd;			/* match this fd (dirfd for *at calls), -1 any */
	const char *name;	/* match this name, NULL any */
	unsigned seen;
	int fired;
	enum step step;
};

static struct {
	struct queue_sys real;
	struct fault f[4];
	unsigned nf;
	unsigned fsync_file, fsync_dir;
	struct {
		dev_t dev;
		ino_t ino;
		unsigned n;
	} dir[128];
	unsigned ndir;
	int short_writes;	/* write at most 3 bytes, EINTR every other call */
	unsigned nwrite;
} fi;

static int ends(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return n >= k && !strcmp(s + n - k, suf);
}

static void fdpath(int fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	buf[n < 0 ? 0 : n] = 0;
}

static enum step classify(enum sc kind, int fd)
{
	char p[PATH_MAX];
	struct stat st;

	fdpath(fd, p, sizeof p);
	switch (kind) {
	case SC_OPENAT:
		return ends(p, "/pid") ? STEP_PID_CREATE : ends(p, "/intd") ? STEP_INTD_CREATE
									 : STEP_OTHER;
	case SC_FSTAT:
		return STEP_FSTAT;
	case SC_LINKAT:
		return ends(p, "/todo") ? STEP_TODO_LINK : strstr(p, "/mess/") ? STEP_MESS_LINK
									      : STEP_OTHER;
	case SC_WRITE:
		return strstr(p, "/pid/") ? STEP_MESS_WRITE : strstr(p, "/intd/") ? STEP_INTD_WRITE
										  : STEP_OTHER;
	case SC_RENAMEAT:
		return ends(p, "/pid") ? STEP_RENAME : STEP_OTHER;
	case SC_FSYNC:
		if (fstat(fd, &st) < 0)
			return STEP_OTHER;
		if (!S_ISDIR(st.st_mode))
			return strstr(p, "/pid/") ? STEP_FSYNC_MESS
			     : strstr(p, "/intd/") ? STEP_FSYNC_INTD : STEP_OTHER;
		return ends(p, "/pid") ? STEP_FSYNC_DIR_PID
		     : ends(p, "/intd") ? STEP_FSYNC_DIR_INTD
		     : ends(p, "/todo") ? STEP_FSYNC_DIR_TODO
		     : strstr(p, "/mess/") ? STEP_FSYNC_DIR_MESS : STEP_OTHER;
	default:
		return STEP_OTHER;
	}
}

/* inject - the errno this call must fail with, or 0 */
static int inject(enum sc kind, int fd, const char *name)
{
	unsigned i;

	for (i = 0; i < fi.nf; i++) {
		struct fault *f = &fi.f[i];

		if (f->kind != kind || f->fired || (f->fd >= 0 && f->fd != fd) ||
		    (f->name && (!name || strcmp(f->name, name))))
			continue;
		if (++f->seen != f->nth)
			continue;
		f->fired = 1;
		f->step = classify(kind, fd);
		return f->err;
	}
	return 0;
}

#define INJECT(kind, fd, name)                       \
	do {                                         \
		int err_ = inject(kind, fd, name);   \
		if (err_) {                          \
			errno = err_;                \
			return -1;                   \
		}                                    \
	} while (0)

static int w_openat(int dfd, const char *name, int flags, mode_t mode)
{
	INJECT(SC_OPENAT, dfd, name);
	return fi.real.openat(dfd, name, flags, mode);
}

static int w_linkat(int ofd, const char *old, int nfd, const char *new, int flags)
{
	INJECT(SC_LINKAT, nfd, new);
	return fi.real.linkat(ofd, old, nfd, new, flags);
}

static int w_unlinkat(int dfd, const char *name, int flags)
{
	INJECT(SC_UNLINKAT, dfd, name);
	return fi.real.unlinkat(dfd, name, flags);
}

static ssize_t w_write(int fd, const void *buf, size_t len)
{
	INJECT(SC_WRITE, fd, NULL);
	if (fi.short_writes) {
		if (fi.nwrite++ % 2 == 0) {
			errno = EINTR;
			return -1;
		}
		if (len > 3)
			len = 3;
	}
	return fi.real.write(fd, buf, len);
}

static int w_fsync(int fd)
{
	struct stat st;
	unsigned i;

	INJECT(SC_FSYNC, fd, NULL);
	assert_int_equal(fstat(fd, &st), 0);
	if (!S_ISDIR(st.st_mode))
		fi.fsync_file++;
	else {
		fi.fsync_dir++;
		for (i = 0; i < fi.ndir; i++)
			if (fi.dir[i].dev == st.st_dev && fi.dir[i].ino == st.st_ino)
				break;
		if (i == fi.ndir) {
			assert_true(fi.ndir < sizeof fi.dir / sizeof fi.dir[0]);
			fi.dir[fi.ndir].dev = st.st_dev;
			fi.dir[fi.ndir].ino = st.st_ino;
			fi.dir[fi.ndir++].n = 0;
		}
		fi.dir[i].n++;
	}
	return fi.real.fsync(fd);
}

static int w_fstat(int fd, struct stat *st)
{
	INJECT(SC_FSTAT, fd, NULL);
	return fi.real.fstat(fd, st);
}

static int w_ftruncate(int fd, off_t len)
{
	INJECT(SC_FTRUNCATE, fd, NULL);
	return fi.real.ftruncate(fd, len);
}

static int w_renameat(int ofd, const char *old, int nfd, const char *new)
{
	INJECT(SC_RENAMEAT, ofd, old);
	return fi.real.renameat(ofd, old, nfd, new);
}

/* fi_install - wrap every queue_sys entry; no faults, counters zero */
static void fi_install(void)
{
	queue_sys_reset();
	memset(&fi, 0, sizeof fi);
	fi.real = queue_sys;
	queue_sys.openat = w_openat;
	queue_sys.linkat = w_linkat;
	queue_sys.unlinkat = w_unlinkat;
	queue_sys.write = w_write;
	queue_sys.fsync = w_fsync;
	queue_sys.fstat = w_fstat;
	queue_sys.ftruncate = w_ftruncate;
	queue_sys.renameat = w_renameat;
}

static struct fault *fi_add(enum sc kind, unsigned nth, int err, int fd, const char *name)
{
	struct fault *f = &fi.f[fi.nf++];

	assert_true(fi.nf <= sizeof fi.f / sizeof fi.f[0]);
	*f = (struct fault){ .kind = kind, .nth = nth, .err = err, .fd = fd, .name = name };
	return f;
}

/* dir_syncs - how often the directory at path was fsynced */
static unsigned dir_syncs(const char *path)
{
	struct stat st;
	unsigned i;

	assert_int_equal(stat(path, &st), 0);
	for (i = 0; i < fi.ndir; i++)
		if (fi.dir[i].dev == st.st_dev && fi.dir[i].ino == st.st_ino)
			return fi.dir[i].n;
	return 0;
}

/* ----------------------------------------------------------------- golden */

static void golden_case(struct fx *f, const char *msgname, const char *envname)
{
	char path[PATH_MAX];
	size_t inlen, reflen, mlen, mreflen, used;
	char *envin, *envref, *msgin, *msgref, rcv[QUEUE_RECEIVED_MAX];
	struct queue_env env;
	struct queue_msg m;
	struct queue_err e;
	struct input in;

	snprintf(path, sizeof path, "%s/%s.in", TEST_DATA_DIR, envname);
	envin = tu_read(path, &inlen);
	snprintf(path, sizeof path, "%s/%s.ref", TEST_DATA_DIR, envname);
	envref = tu_read(path, &reflen);
	snprintf(path, sizeof path, "%s/%s.in", TEST_DATA_DIR, msgname);
	msgin = tu_read(path, &mlen);
	snprintf(path, sizeof path, "%s/%s.ref", TEST_DATA_DIR, msgname);
	msgref = tu_read(path, &mreflen);
	assert_non_null(envin);
	assert_non_null(envref);
	assert_non_null(msgin);
	assert_non_null(msgref);

	queue_env_init(&env, GOLDEN_UID, GOLDEN_PID);
	assert_int_equal(queue_env_feed(&env, envin, inlen, &used), QUEUE_OK);
	assert_int_equal(queue_env_eof(&env), QUEUE_OK);
	used = queue_received(rcv, sizeof rcv, GOLDEN_PID, GOLDEN_UID, &golden_uids, GOLDEN_NOW);
	assert_int_equal(used, strlen(rcv));

	in = (struct input){ msgin, mlen, env.buf, env.len, rcv };
	assert_int_equal(fifo_bytes(f, 0), 0);
	assert_int_equal(commit_one(&f->q[0], &m, &in, QUEUE_SYNC_FULL, &e), QUEUE_OK);
	check_committed(f->path[0], m.id, msgref, mreflen, envref, reflen);
	assert_int_equal(m.fd, -1);
	assert_int_equal(m.intdfd, -1);
	assert_int_equal(tu_count(tu_path(f->path[0], "pid")), 0);
	assert_int_equal(fifo_bytes(f, 0), 1);
	assert_int_equal(fifo_bytes(f, 1), 0);	/* the other queue was not woken */

	queue_env_free(&env);
	free(envin);
	free(envref);
	free(msgin);
	free(msgref);
	drain(f->path[0]);
}

static void test_golden(void **state)
{
	struct fx *f = *state;

	fifo_open(f, 0);
	fifo_open(f, 1);
	golden_case(f, "msg-basic", "env-basic");
	golden_case(f, "msg-empty", "env-bounce");
	golden_case(f, "msg-binary", "env-qrecord");
	golden_case(f, "msg-basic", "env-norcpt");
	golden_case(f, "msg-binary", "env-trailing");
}

static const char ENV1[] = "u7791\0p5678\0Fa@example.com\0Tb@example.org";
#define ENV1_LEN sizeof ENV1	/* includes the final NUL of the last record */
static const char BODY1[] = "Subject: x\n\nbody\n";

static struct input input1(void)
{
	return (struct input){ BODY1, sizeof BODY1 - 1, ENV1, ENV1_LEN, NULL };
}

static void mess1(char *buf, size_t *len)
{
	*len = (size_t)sprintf(buf, "%s%s", RECEIVED, BODY1);
}

/* test_umask - mess and intd are 0644 whatever the umask, as stock
 * qmail-queue's umask(033) makes them: qmail-remote (qmailr) reads mess,
 * qmail-send (qmails) reads todo/ */
static void test_umask(void **state)
{
	struct fx *f = *state;
	mode_t masks[] = { 077, 0, 022, 0777 };
	struct input in = input1();
	char want[256];
	size_t wlen;
	unsigned i;

	mess1(want, &wlen);
	for (i = 0; i < sizeof masks / sizeof masks[0]; i++) {
		mode_t old = umask(masks[i]);
		struct queue_msg m;
		struct queue_err e;

		assert_int_equal(commit_one(&f->q[0], &m, &in, QUEUE_SYNC_FULL, &e), QUEUE_OK);
		umask(old);
		check_committed(f->path[0], m.id, want, wlen, ENV1, ENV1_LEN);
		drain(f->path[0]);
	}
}

/* test_markers - pid/<pid>.<time>.<seq>.r, .c after intd, gone after commit */
static void test_markers(void **state)
{
	struct fx *f = *state;
	struct queue_msg m, *v[1] = { &m };
	struct queue_err e;
	struct stat st;
	char name[80];
	long t0 = (long)time(NULL);
	long pid, t;
	unsigned long seq;
	int n;

	assert_int_equal(queue_msg_begin(&f->q[0], &m, &e), QUEUE_OK);
	assert_int_equal(sscanf(m.pidname, "%ld.%ld.%lu.r%n", &pid, &t, &seq, &n), 3);
	assert_int_equal(m.pidname[n], 0);
	assert_int_equal(pid, getpid());
	assert_true(t >= t0 && t <= t0 + 5);
	assert_int_equal(stat(tu_path(f->path[0], "pid/%s", m.pidname), &st), 0);
	assert_int_equal(st.st_ino, m.id);
	assert_int_equal(st.st_nlink, 2);	/* marker + mess */
	assert_int_equal(m.flags, QUEUE_MSG_PID | QUEUE_MSG_MESS);
	assert_int_equal(queue_msg_write(&m, "x\n", 2, &e), QUEUE_OK);
	assert_int_equal(m.size, 2);
	assert_int_equal(queue_msg_intd(&m, ENV1, ENV1_LEN, &e), QUEUE_OK);
	snprintf(name, sizeof name, "%ld.%ld.%lu.c", pid, t, seq);
	assert_string_equal(m.pidname, name);
	assert_false(tu_exists(tu_path(f->path[0], "pid/%ld.%ld.%lu.r", pid, t, seq)));
	assert_true(tu_exists(tu_path(f->path[0], "pid/%s", name)));
	assert_int_equal(tu_count(tu_path(f->path[0], "pid")), 1);
	assert_int_equal(tu_count(tu_path(f->path[0], "todo")), 0);
	assert_int_equal(m.flags, QUEUE_MSG_PID | QUEUE_MSG_MESS | QUEUE_MSG_INTD);
	assert_int_equal(queue_commit(v, 1, QUEUE_SYNC_FULL, 0), 1);
	assert_int_equal(tu_count(tu_path(f->path[0], "pid")), 0);
	assert_true(m.flags & QUEUE_MSG_TODO);
	assert_false(m.flags & QUEUE_MSG_PID);

	/* the next marker has another name */
	assert_int_equal(queue_msg_begin(&f->q[0], &m, &e), QUEUE_OK);
	assert_string_not_equal(m.pidname, name);
	queue_msg_abort(&m);
	assert_int_equal(tu_count(tu_path(f->path[0], "pid")), 0);
}

/* test_keep_fd - keep_fd leaves the mess fd open for the scanners */
static void test_keep_fd(void **state)
{
	struct fx *f = *state;
	struct input in = input1();
	struct queue_msg m, *v[1] = { &m };
	struct queue_err e;
	char want[256], got[256];
	size_t wlen;

	mess1(want, &wlen);
	assert_int_equal(put(&f->q[0], &m, &in, &e), QUEUE_OK);
	assert_int_equal(queue_commit(v, 1, QUEUE_SYNC_DATA, 1), 1);
	assert_true(m.fd >= 0);
	assert_int_equal(m.intdfd, -1);
	assert_int_equal(pread(m.fd, got, sizeof got, 0), (ssize_t)wlen);
	assert_memory_equal(got, want, wlen);
	close(m.fd);
	check_committed(f->path[0], m.id, want, wlen, ENV1, ENV1_LEN);
}

/* test_trigger_per_batch - one NUL per committed batch per queue */
static void test_trigger_per_batch(void **state)
{
	struct fx *f = *state;
	struct input in = input1();
	struct queue_msg m[4], *v[4];
	struct queue_err e;
	int i;

	fifo_open(f, 0);
	fifo_open(f, 1);
	for (i = 0; i < 4; i++) {
		assert_int_equal(put(&f->q[0], &m[i], &in, &e), QUEUE_OK);
		v[i] = &m[i];
	}
	assert_int_equal(queue_commit(v, 2, QUEUE_SYNC_NONE, 0), 2);
	assert_int_equal(queue_commit(v + 2, 2, QUEUE_SYNC_NONE, 0), 2);
	assert_int_equal(fifo_bytes(f, 0), 2);
	assert_int_equal(fifo_bytes(f, 1), 0);
	/* a batch of nothing committed wakes nobody */
	assert_int_equal(queue_commit(v, 0, QUEUE_SYNC_FULL, 0), 0);
	assert_int_equal(fifo_bytes(f, 0), 0);
	/* no reader on the FIFO: the commit still succeeds */
	close(f->fifo[0]);
	f->fifo[0] = -1;
	assert_int_equal(commit_one(&f->q[0], &m[0], &in, QUEUE_SYNC_FULL, &e), QUEUE_OK);
	assert_int_equal(tu_count(tu_path(f->path[0], "todo")), 5);
}

/* ----------------------------------------------------------- group commit */

struct batch {
	struct queue_msg m[64];
	struct queue_msg *v[64];
	char body[64][64];
	char env[64][96];
	size_t elen[64];
	int qi[64];
};

/* batch_new - one static batch: cmocka's failures longjmp past any free() */
static struct batch *batch_new(void)
{
	static struct batch b;

	memset(&b, 0, sizeof b);
	return &b;
}

static void batch_put(struct fx *f, struct batch *b, size_t n, int queues)
{
	struct queue_err e;
	size_t i;

	for (i = 0; i < n; i++) {
		struct input in;
		int k = snprintf(b->body[i], sizeof b->body[i], "Subject: %zu\n\nmessage %zu\n", i, i);

		b->elen[i] = (size_t)snprintf(b->env[i], sizeof b->env[i],
					      "u1\1p2\1Fs%zu@example.com\1Tr%zu@example.org\1Tx@y", i, i)
			   + 1;
		for (char *p = b->env[i]; *p; p++)
			if (*p == 1)
				*p = 0;
		b->qi[i] = (int)(i % (size_t)queues);
		in = (struct input){ b->body[i], (size_t)k, b->env[i], b->elen[i], NULL };
		assert_int_equal(put(&f->q[b->qi[i]], &b->m[i], &in, &e), QUEUE_OK);
		b->v[i] = &b->m[i];
	}
}

static void batch_check(struct fx *f, struct batch *b, size_t i)
{
	char want[256];
	size_t wlen = (size_t)snprintf(want, sizeof want, "%s%s", RECEIVED, b->body[i]);

	assert_int_equal(b->m[i].err.status, QUEUE_OK);
	check_committed(f->path[b->qi[i]], b->m[i].id, want, wlen, b->env[i], b->elen[i]);
}

/* expect_dirs - the distinct directories a batch's commit fsyncs in queue qi:
 * every mess/<id % split> used, intd/, pid/, todo/ - each exactly once */
static unsigned expect_dirs(struct fx *f, struct batch *b, size_t n, int qi)
{
	int used[SPLIT] = { 0 };
	unsigned k = 3, s;
	size_t i;

	for (i = 0; i < n; i++)
		if (b->qi[i] == qi && !used[b->m[i].id % SPLIT]++)
			k++;
	for (s = 0; s < SPLIT; s++)
		assert_int_equal(dir_syncs(tu_path(f->path[qi], "mess/%u", s)), used[s] ? 1 : 0);
	assert_int_equal(dir_syncs(tu_path(f->path[qi], "intd")), 1);
	assert_int_equal(dir_syncs(tu_path(f->path[qi], "pid")), 1);
	assert_int_equal(dir_syncs(tu_path(f->path[qi], "todo")), 1);
	return k;
}

static void test_group_commit_two_queues(void **state)
{
	struct fx *f = *state;
	struct batch *b = batch_new();
	unsigned dirs;
	size_t i;

	fifo_open(f, 0);
	fifo_open(f, 1);
	fi_install();
	batch_put(f, b, 64, 2);
	assert_int_equal(fi.fsync_file + fi.fsync_dir, 0);	/* nothing synced before commit */
	assert_int_equal(queue_commit(b->v, 64, QUEUE_SYNC_FULL, 0), 64);
	for (i = 0; i < 64; i++)
		batch_check(f, b, i);
	assert_int_equal(tu_count(tu_path(f->path[0], "todo")), 32);
	assert_int_equal(tu_count(tu_path(f->path[1], "todo")), 32);
	assert_int_equal(tu_count(tu_path(f->path[0], "pid")), 0);
	assert_int_equal(tu_count(tu_path(f->path[1], "pid")), 0);
	assert_int_equal(fifo_bytes(f, 0), 1);
	assert_int_equal(fifo_bytes(f, 1), 1);
	assert_int_equal(fi.fsync_file, 128);
	dirs = expect_dirs(f, b, 64, 0) + expect_dirs(f, b, 64, 1);
	assert_int_equal(fi.ndir, dirs);
	assert_int_equal(fi.fsync_dir, dirs);
}

static void sync_mode_case(struct fx *f, enum queue_sync mode)
{
	struct batch *b = batch_new();
	size_t i;

	fi_install();
	batch_put(f, b, 64, 1);
	assert_int_equal(queue_commit(b->v, 64, mode, 0), 64);
	for (i = 0; i < 64; i++)
		batch_check(f, b, i);
	switch (mode) {
	case QUEUE_SYNC_FULL:
		/* 2 files per message; each directory once, not 64 times */
		assert_int_equal(fi.fsync_file, 128);
		assert_int_equal(fi.fsync_dir, expect_dirs(f, b, 64, 0));
		assert_true(fi.fsync_dir <= SPLIT + 3);
		break;
	case QUEUE_SYNC_DATA:
		assert_int_equal(fi.fsync_file, 128);
		assert_int_equal(fi.fsync_dir, 0);
		break;
	case QUEUE_SYNC_NONE:
	case QUEUE_SYNC_FS:	/* syncfs instead: test_group_commit_syncfs */
		assert_int_equal(fi.fsync_file, 0);
		assert_int_equal(fi.fsync_dir, 0);
		break;
	}
	drain(f->path[0]);
}

static int syncfs_calls, syncfs_fail;
static int count_syncfs(int fd)
{
	syncfs_calls++;
	if (syncfs_fail) {
		errno = EIO;
		return -1;
	}
	return syncfs(fd);
}

/* QUEUE_SYNC_FS: one syncfs per step (both queues share a filesystem), and
 * a failing syncfs fails the batch before any todo link */
static void test_group_commit_syncfs(void **state)
{
	struct fx *f = *state;
	struct batch *b = batch_new();
	size_t i;

	fi_install();
	queue_sys.syncfs = count_syncfs;
	syncfs_calls = syncfs_fail = 0;
	batch_put(f, b, 16, 2);
	assert_int_equal(queue_commit(b->v, 16, QUEUE_SYNC_FS, 0), 16);
	for (i = 0; i < 16; i++)
		batch_check(f, b, i);
	assert_int_equal(syncfs_calls, 2);
	assert_int_equal(fi.fsync_file + fi.fsync_dir, 0);
	drain(f->path[0]);
	drain(f->path[1]);

	b = batch_new();
	syncfs_calls = 0;
	syncfs_fail = 1;
	batch_put(f, b, 8, 2);
	assert_int_equal(queue_commit(b->v, 8, QUEUE_SYNC_FS, 0), 0);
	for (i = 0; i < 8; i++) {
		assert_int_equal(b->v[i]->err.status, QUEUE_EWRITE);
		assert_int_equal(b->v[i]->err.errnum, EIO);
	}
	assert_int_equal(syncfs_calls, 1);	/* the second step has nothing to do */
	assert_int_equal(tu_queue_files(f->path[0]), 0);
	assert_int_equal(tu_queue_files(f->path[1]), 0);
	queue_sys_reset();
}

static void test_group_commit_sync_modes(void **state)
{
	struct fx *f = *state;

	sync_mode_case(f, QUEUE_SYNC_FULL);
	sync_mode_case(f, QUEUE_SYNC_DATA);
	sync_mode_case(f, QUEUE_SYNC_NONE);
}

static void test_sync_parse(void **state)
{
	enum queue_sync s = QUEUE_SYNC_NONE;

	assert_int_equal(queue_sync_parse("full", &s), 0);
	assert_int_equal(s, QUEUE_SYNC_FULL);
	assert_int_equal(queue_sync_parse("data", &s), 0);
	assert_int_equal(s, QUEUE_SYNC_DATA);
	assert_int_equal(queue_sync_parse("none", &s), 0);
	assert_int_equal(s, QUEUE_SYNC_NONE);
	assert_int_equal(queue_sync_parse("fs", &s), 0);
	assert_int_equal(s, QUEUE_SYNC_FS);
	s = QUEUE_SYNC_NONE;
	assert_int_equal(queue_sync_parse("Full", &s), -1);
	assert_int_equal(queue_sync_parse("", &s), -1);
	assert_int_equal(s, QUEUE_SYNC_NONE);
}

/* ------------------------------------------------------- fault injection */

static const struct {
	enum queue_status st;
	int committed;		/* the message stays in todo/ */
} expect[NSTEP] = {
	[STEP_PID_CREATE] = { QUEUE_EPID, 0 },
	[STEP_FSTAT] = { QUEUE_EPID, 0 },
	[STEP_MESS_LINK] = { QUEUE_EMESS, 0 },
	[STEP_MESS_WRITE] = { QUEUE_EWRITE, 0 },
	[STEP_INTD_CREATE] = { QUEUE_EINTD, 0 },
	[STEP_INTD_WRITE] = { QUEUE_EWRITE, 0 },
	[STEP_RENAME] = { QUEUE_EPID, 0 },
	[STEP_FSYNC_MESS] = { QUEUE_EWRITE, 0 },
	[STEP_FSYNC_INTD] = { QUEUE_EWRITE, 0 },
	[STEP_FSYNC_DIR_MESS] = { QUEUE_EWRITE, 0 },
	[STEP_FSYNC_DIR_INTD] = { QUEUE_EWRITE, 0 },
	[STEP_FSYNC_DIR_PID] = { QUEUE_EWRITE, 0 },
	[STEP_TODO_LINK] = { QUEUE_ETODO, 0 },
	/* documented choice: visible to qmail-send, so kept; the client is
	 * told "temporary" - a possible duplicate, never a loss */
	[STEP_FSYNC_DIR_TODO] = { QUEUE_EWRITE, 1 },
};

/*
 * test_fault_every_call - fail the nth call of each kind, for every n a
 * commit makes, and check the outcome the step calls for.  The message is
 * large enough to need several writes when short writes are forced.
 */
static void fault_loop(struct fx *f, int short_writes, unsigned *covered)
{
	static const enum sc kinds[] = { SC_OPENAT, SC_FSTAT, SC_LINKAT, SC_WRITE, SC_RENAMEAT,
					 SC_FSYNC };
	struct input in = input1();
	char want[256];
	size_t wlen, k;

	mess1(want, &wlen);
	for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		unsigned nth;

		for (nth = 1;; nth++) {
			int err = nth % 2 ? ENOSPC : EIO;
			struct queue_msg m;
			struct queue_err e;
			enum queue_status st;
			struct fault *ft;
			enum step step;

			fi_install();
			fi.short_writes = short_writes;
			ft = fi_add(kinds[k], nth, err, -1, NULL);
			st = commit_one(&f->q[0], &m, &in, QUEUE_SYNC_FULL, &e);
			queue_sys_reset();
			if (!ft->fired) {
				/* past the last call of this kind: a clean commit */
				assert_int_equal(st, QUEUE_OK);
				check_committed(f->path[0], m.id, want, wlen, ENV1, ENV1_LEN);
				drain(f->path[0]);
				assert_true(nth > 1);
				break;
			}
			step = ft->step;
			if (step == STEP_OTHER)
				fail_msg("call %u of kind %zu hit an unknown step", nth, k);
			covered[step]++;
			if (st != expect[step].st)
				fail_msg("%s failing (call %u): status %s, want %s (%s)", step_name[step],
					 nth, queue_status_name(st), queue_status_name(expect[step].st),
					 e.text);
			assert_int_equal(e.status, st);
			assert_int_equal(e.errnum, err);
			assert_non_null(strstr(e.text, strerror(err)));
			assert_non_null(strstr(e.text, f->path[0]));
			assert_int_equal(tu_count(tu_path(f->path[0], "pid")), 0);
			if (expect[step].committed) {
				check_committed(f->path[0], m.id, want, wlen, ENV1, ENV1_LEN);
				assert_true(m.flags & QUEUE_MSG_TODO);
				drain(f->path[0]);
			} else {
				/* nothing left behind, and never a todo entry */
				if (tu_queue_files(f->path[0]) != 0)
					fail_msg("%s failing left files behind", step_name[step]);
				assert_int_equal(m.flags, 0);
			}
			assert_int_equal(m.fd, -1);
			assert_int_equal(m.intdfd, -1);
		}
	}
}

static void test_fault_every_call(void **state)
{
	struct fx *f = *state;
	unsigned covered[NSTEP] = { 0 };
	int s;

	fault_loop(f, 0, covered);
	fault_loop(f, 1, covered);
	for (s = STEP_OTHER + 1; s < NSTEP; s++)
		if (!covered[s])
			fail_msg("step \"%s\" was never failed", step_name[s]);
	/* the mess file's write failed more than once with forced short writes */
	assert_true(covered[STEP_MESS_WRITE] > 2);
}

/* test_short_writes - partial writes and EINTR are retried to the byte */
static void test_short_writes(void **state)
{
	struct fx *f = *state;
	struct input in = input1();
	struct queue_msg m;
	struct queue_err e;
	char want[256];
	size_t wlen;

	mess1(want, &wlen);
	fi_install();
	fi.short_writes = 1;
	assert_int_equal(commit_one(&f->q[0], &m, &in, QUEUE_SYNC_FULL, &e), QUEUE_OK);
	assert_true(fi.nwrite > 2 * (wlen + ENV1_LEN) / 3);
	check_committed(f->path[0], m.id, want, wlen, ENV1, ENV1_LEN);
}

static char *idstr(struct queue_msg *m)
{
	static char buf[4][24];
	static unsigned k;
	char *p = buf[k++ % 4];

	snprintf(p, 24, "%lu", (unsigned long)m->id);
	return p;
}

/* test_fault_batch_isolated - per-message failures touch only that message */
static void test_fault_batch_isolated(void **state)
{
	struct fx *f = *state;
	struct batch *b = batch_new();
	size_t i;

	fifo_open(f, 0);
	fifo_open(f, 1);
	batch_put(f, b, 6, 2);	/* queue1: 0 2 4, queue2: 1 3 5 */
	fi_install();
	fi_add(SC_FSYNC, 1, EIO, b->m[2].fd, NULL);		/* mess file of 2 */
	fi_add(SC_FSYNC, 1, ENOSPC, b->m[3].intdfd, NULL);	/* intd file of 3 */
	fi_add(SC_LINKAT, 1, EIO, f->q[0].todofd, idstr(&b->m[4]));	/* todo link of 4 */
	assert_int_equal(queue_commit(b->v, 6, QUEUE_SYNC_FULL, 0), 3);
	queue_sys_reset();
	for (i = 0; i < 3; i++)
		assert_true(fi.f[i].fired);
	assert_int_equal(b->m[2].err.status, QUEUE_EWRITE);
	assert_int_equal(b->m[2].err.errnum, EIO);
	assert_int_equal(b->m[3].err.status, QUEUE_EWRITE);
	assert_int_equal(b->m[3].err.errnum, ENOSPC);
	assert_int_equal(b->m[4].err.status, QUEUE_ETODO);
	assert_non_null(strstr(b->m[4].err.text, "todo/"));
	for (i = 2; i <= 4; i++)
		assert_gone(f->path[b->qi[i]], b->m[i].id);
	batch_check(f, b, 0);
	batch_check(f, b, 1);
	batch_check(f, b, 5);
	assert_int_equal(tu_queue_files(f->path[0]), 3);	/* mess intd todo of 0 */
	assert_int_equal(tu_queue_files(f->path[1]), 6);	/* of 1 and 5 */
	assert_int_equal(fifo_bytes(f, 0), 1);
	assert_int_equal(fifo_bytes(f, 1), 1);
}

/* test_fault_batch_dir - a directory fsync failure fails exactly the
 * messages that depend on that directory */
static void test_fault_batch_dir(void **state)
{
	struct fx *f = *state;
	struct batch *b = batch_new();
	size_t i;

	fifo_open(f, 0);
	fifo_open(f, 1);
	batch_put(f, b, 6, 2);
	fi_install();
	fi_add(SC_FSYNC, 1, EIO, f->q[0].intdfd, NULL);
	assert_int_equal(queue_commit(b->v, 6, QUEUE_SYNC_FULL, 0), 3);
	queue_sys_reset();
	for (i = 0; i < 6; i++)
		if (b->qi[i] == 0) {
			assert_int_equal(b->m[i].err.status, QUEUE_EWRITE);
			assert_int_equal(b->m[i].err.errnum, EIO);
			assert_gone(f->path[0], b->m[i].id);
		} else
			batch_check(f, b, i);
	assert_int_equal(tu_queue_files(f->path[0]), 0);
	assert_int_equal(fifo_bytes(f, 0), 0);	/* nothing committed there */
	assert_int_equal(fifo_bytes(f, 1), 1);
}

/* test_fault_todo_fsync - committed but todo/ not synced: kept, error */
static void test_fault_todo_fsync(void **state)
{
	struct fx *f = *state;
	struct batch *b = batch_new();
	size_t i;

	fifo_open(f, 0);
	fifo_open(f, 1);
	batch_put(f, b, 6, 2);
	fi_install();
	fi_add(SC_FSYNC, 1, EIO, f->q[1].todofd, NULL);
	assert_int_equal(queue_commit(b->v, 6, QUEUE_SYNC_FULL, 0), 3);
	queue_sys_reset();
	for (i = 0; i < 6; i++) {
		char want[256];
		size_t wlen = (size_t)snprintf(want, sizeof want, "%s%s", RECEIVED, b->body[i]);

		check_committed(f->path[b->qi[i]], b->m[i].id, want, wlen, b->env[i], b->elen[i]);
		assert_true(b->m[i].flags & QUEUE_MSG_TODO);
		if (b->qi[i] == 1) {
			assert_int_equal(b->m[i].err.status, QUEUE_EWRITE);
			assert_int_equal(b->m[i].err.errnum, EIO);
			assert_non_null(strstr(b->m[i].err.text, "todo"));
		} else
			assert_int_equal(b->m[i].err.status, QUEUE_OK);
		/* abort after the commit point never removes anything */
		queue_msg_abort(&b->m[i]);
	}
	assert_int_equal(tu_count(tu_path(f->path[0], "todo")), 3);
	assert_int_equal(tu_count(tu_path(f->path[1], "todo")), 3);
	assert_int_equal(tu_count(tu_path(f->path[1], "pid")), 0);
	assert_int_equal(fifo_bytes(f, 0), 1);
	assert_int_equal(fifo_bytes(f, 1), 1);	/* qmail-send is woken all the same */
}

/* ------------------------------------------------- pipelined commit steps */

/*
 * test_step_pipeline - queue_commit_step() as the daemon's sync thread runs
 * it: each step links the batch the previous step synced, and syncs the
 * next one in the same round of fsyncs.
 */
static void test_step_pipeline(void **state)
{
	struct fx *f = *state;
	struct batch *b = batch_new();
	struct queue_msg **A = b->v, **B = b->v + 4, **C = b->v + 8;
	size_t i;

	fifo_open(f, 0);
	batch_put(f, b, 12, 1);
	fi_install();
	assert_int_equal(queue_commit_step(A, 4, NULL, 0, QUEUE_SYNC_FULL, 0), 0);
	for (i = 0; i < 4; i++)
		assert_true(A[i]->flags & QUEUE_MSG_SYNCED);
	assert_int_equal(tu_count(tu_path(f->path[0], "todo")), 0);	/* not yet */
	assert_int_equal(fi.fsync_file, 8);
	assert_int_equal(fifo_bytes(f, 0), 0);

	fi_install();
	assert_int_equal(queue_commit_step(B, 4, A, 4, QUEUE_SYNC_FULL, 0), 4);
	for (i = 0; i < 4; i++) {
		batch_check(f, b, i);
		assert_true(B[i]->flags & QUEUE_MSG_SYNCED);
		assert_false(B[i]->flags & QUEUE_MSG_TODO);
	}
	assert_int_equal(tu_count(tu_path(f->path[0], "todo")), 4);
	assert_int_equal(tu_count(tu_path(f->path[0], "pid")), 8);	/* B and C markers */
	/* one round: B's files and directories, and A's todo/, each once */
	assert_int_equal(fi.fsync_file, 8);
	assert_int_equal(dir_syncs(tu_path(f->path[0], "todo")), 1);
	assert_int_equal(dir_syncs(tu_path(f->path[0], "intd")), 1);
	assert_int_equal(dir_syncs(tu_path(f->path[0], "pid")), 1);
	assert_int_equal(fifo_bytes(f, 0), 1);

	assert_int_equal(queue_commit_step(C, 4, B, 4, QUEUE_SYNC_FULL, 0), 4);
	assert_int_equal(queue_commit_step(NULL, 0, C, 4, QUEUE_SYNC_FULL, 0), 4);
	assert_int_equal(queue_commit_step(NULL, 0, NULL, 0, QUEUE_SYNC_FULL, 0), 0);
	for (i = 0; i < 12; i++)
		batch_check(f, b, i);
	assert_int_equal(tu_count(tu_path(f->path[0], "pid")), 0);
	assert_int_equal(fifo_bytes(f, 0), 2);
}

static int step_done_calls;

static void step_done(void *arg)
{
	(*(int *)arg)++;
}

/*
 * test_step_halves - queue_round_begin/end as the sync thread runs them: the
 * next batch is written between the two and is not part of the round; the
 * done callback comes once (at once: no helper threads here).
 */
static void test_step_halves(void **state)
{
	struct fx *f = *state;
	static struct batch next;	/* batch_new() has one batch only */
	static struct queue_round rd;
	struct batch *b = batch_new(), *c = &next;
	struct queue_msg **A = b->v, **B = b->v + 4;
	size_t i;

	memset(&next, 0, sizeof next);
	batch_put(f, b, 8, 1);
	assert_int_equal(queue_commit_step(A, 4, NULL, 0, QUEUE_SYNC_FULL, 0), 0);
	fi_install();
	step_done_calls = 0;
	queue_round_init(&rd);
	assert_int_equal(queue_round_begin(&rd, B, 4, A, 4, QUEUE_SYNC_FULL, step_done,
					   &step_done_calls), 0);
	assert_int_equal(step_done_calls, 1);
	assert_int_equal(fi.fsync_file, 0);	/* no helpers: the end does the round */
	assert_int_equal(tu_count(tu_path(f->path[0], "todo")), 4);	/* linked at begin */
	batch_put(f, c, 4, 1);	/* meanwhile: the next batch's files */
	assert_int_equal(queue_round_end(&rd, 0), 4);
	assert_int_equal(step_done_calls, 1);
	assert_int_equal(fi.fsync_file, 8);	/* B's mess and intd files only */
	for (i = 0; i < 4; i++) {
		batch_check(f, b, i);
		assert_true(B[i]->flags & QUEUE_MSG_SYNCED);
		assert_false(c->v[i]->flags & QUEUE_MSG_SYNCED);
	}
	assert_int_equal(queue_commit_step(c->v, 4, B, 4, QUEUE_SYNC_FULL, 0), 4);
	assert_int_equal(queue_commit_step(NULL, 0, c->v, 4, QUEUE_SYNC_FULL, 0), 4);
	for (i = 0; i < 8; i++)
		batch_check(f, b, i);
	for (i = 0; i < 4; i++)
		batch_check(f, c, i);
	assert_int_equal(tu_count(tu_path(f->path[0], "todo")), 12);
	assert_int_equal(tu_count(tu_path(f->path[0], "pid")), 0);

	/* an empty step calls back too, and ends with nothing */
	step_done_calls = 0;
	assert_int_equal(queue_round_begin(&rd, NULL, 0, NULL, 0, QUEUE_SYNC_FULL, step_done,
					   &step_done_calls), 0);
	assert_int_equal(step_done_calls, 1);
	assert_int_equal(queue_round_end(&rd, 0), 0);
}

/* test_step_faults - in one step, a failing fsync of the next batch does not
 * touch the batch being linked, and a failing todo/ fsync of the linked
 * batch does not touch the next one */
static void test_step_faults(void **state)
{
	struct fx *f = *state;
	struct batch *b = batch_new();
	struct queue_msg **A = b->v, **B = b->v + 4;
	size_t i;

	batch_put(f, b, 8, 1);
	assert_int_equal(queue_commit_step(A, 4, NULL, 0, QUEUE_SYNC_FULL, 0), 0);
	fi_install();
	fi_add(SC_FSYNC, 1, EIO, B[1]->fd, NULL);
	fi_add(SC_FSYNC, 1, ENOSPC, f->q[0].todofd, NULL);
	assert_int_equal(queue_commit_step(B, 4, A, 4, QUEUE_SYNC_FULL, 0), 0);
	queue_sys_reset();
	for (i = 0; i < 4; i++) {
		char want[256];
		size_t wlen = (size_t)snprintf(want, sizeof want, "%s%s", RECEIVED, b->body[i]);

		/* linked, then todo/ not synced: kept, with an error */
		check_committed(f->path[0], A[i]->id, want, wlen, b->env[i], b->elen[i]);
		assert_int_equal(A[i]->err.status, QUEUE_EWRITE);
		assert_int_equal(A[i]->err.errnum, ENOSPC);
	}
	assert_int_equal(B[1]->err.status, QUEUE_EWRITE);
	assert_int_equal(B[1]->err.errnum, EIO);
	assert_gone(f->path[0], B[1]->id);
	assert_false(B[1]->flags & QUEUE_MSG_SYNCED);
	for (i = 0; i < 4; i++)
		if (i != 1)
			assert_true(B[i]->flags & QUEUE_MSG_SYNCED);
	/* the failed one is not linked by the next step; the others are */
	assert_int_equal(queue_commit_step(NULL, 0, B, 4, QUEUE_SYNC_FULL, 0), 3);
	for (i = 4; i < 8; i++)
		if (i != 5)
			batch_check(f, b, i);
	assert_gone(f->path[0], B[1]->id);
	assert_int_equal(tu_count(tu_path(f->path[0], "todo")), 7);
	assert_int_equal(tu_count(tu_path(f->path[0], "pid")), 0);
}

/* ------------------------------------------------------------------ abort */

static void test_abort(void **state)
{
	struct fx *f = *state;
	struct queue_msg m;
	struct queue_err e;

	memset(&m, 0, sizeof m);
	queue_msg_abort(&m);	/* never begun: nothing to do */

	assert_int_equal(queue_msg_begin(&f->q[0], &m, &e), QUEUE_OK);
	queue_msg_abort(&m);
	assert_int_equal(tu_queue_files(f->path[0]), 0);
	assert_int_equal(m.fd, -1);
	queue_msg_abort(&m);	/* twice is harmless */

	assert_int_equal(queue_msg_begin(&f->q[0], &m, &e), QUEUE_OK);
	assert_int_equal(queue_msg_write(&m, "hello\n", 6, &e), QUEUE_OK);
	assert_int_equal(queue_msg_intd(&m, ENV1, ENV1_LEN, &e), QUEUE_OK);
	assert_int_equal(tu_queue_files(f->path[0]), 3);
	errno = 4242;
	queue_msg_abort(&m);
	assert_int_equal(errno, 4242);	/* abort keeps errno for the caller */
	assert_int_equal(tu_queue_files(f->path[0]), 0);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.intdfd, -1);
}

/* test_intd_exists - an intd/<id> left from elsewhere makes EINTD, cleanly */
static void test_intd_exists(void **state)
{
	struct fx *f = *state;
	struct queue_msg m;
	struct queue_err e;
	char stale[64];

	assert_int_equal(queue_msg_begin(&f->q[0], &m, &e), QUEUE_OK);
	snprintf(stale, sizeof stale, "intd/%lu", (unsigned long)m.id);
	tu_write(tu_path(f->path[0], "%s", stale), "x", 1);
	assert_int_equal(queue_msg_intd(&m, ENV1, ENV1_LEN, &e), QUEUE_EINTD);
	assert_int_equal(e.errnum, EEXIST);
	assert_non_null(strstr(e.text, stale));
	queue_msg_abort(&m);
	/* the stale file is not ours: it stays */
	assert_true(tu_exists(tu_path(f->path[0], "%s", stale)));
	assert_int_equal(tu_queue_files(f->path[0]), 1);
}

/* ------------------------------------------------------------------ move */

static const char MV_ENV[] = "u7791\0p5678\0Fa@example.com\0Tb@example.org";
static const char MV_MESS[] = "Received: (qmail 5678 invoked from network); "
			      "2 Nov 2026 02:45:04 -0000\nSubject: moved\n\nbody\n";

static void mv_begin(struct fx *f, int qi, struct queue_msg *m)
{
	struct queue_err e;

	assert_int_equal(queue_msg_begin(&f->q[qi], m, &e), QUEUE_OK);
	assert_int_equal(queue_msg_write(m, MV_MESS, sizeof MV_MESS - 1, &e), QUEUE_OK);
}

static void mv_commit(struct queue_msg *m)
{
	struct queue_msg *v[1] = { m };
	struct queue_err e;

	assert_int_equal(queue_msg_intd(m, MV_ENV, sizeof MV_ENV, &e), QUEUE_OK);
	assert_int_equal(queue_commit(v, 1, QUEUE_SYNC_FULL, 0), 1);
}

/* mv_check - queue qi holds exactly the committed message id, the other nothing */
static void mv_check(struct fx *f, int qi, unsigned long id)
{
	size_t len;
	char *got = tu_read(tu_path(f->path[qi], "mess/%lu/%lu", id % SPLIT, id), &len);

	assert_int_equal(len, sizeof MV_MESS - 1);
	assert_memory_equal(got, MV_MESS, len);
	free(got);
	assert_true(tu_exists(tu_path(f->path[qi], "todo/%lu", id)));
	assert_int_equal(tu_count(tu_path(f->path[qi], "pid")), 0);
	assert_int_equal(tu_queue_files(f->path[qi]), 3);	/* mess, intd, todo */
	assert_int_equal(tu_queue_files(f->path[!qi]), 0);
}

static void test_move(void **state)
{
	struct fx *f = *state;
	struct queue_msg m;
	struct queue_err e;
	ino_t id;
	int fd;

	mv_begin(f, 0, &m);
	id = m.id;
	fd = m.fd;
	assert_int_equal(queue_msg_move(&m, &f->q[0], &e), QUEUE_OK);	/* to its own: nothing */
	assert_ptr_equal(m.q, &f->q[0]);
	assert_int_equal(queue_msg_move(&m, &f->q[1], &e), QUEUE_OK);
	assert_ptr_equal(m.q, &f->q[1]);
	assert_int_equal(m.id, id);
	assert_int_equal(m.fd, fd);
	assert_int_equal(tu_queue_files(f->path[0]), 0);
	assert_int_equal(tu_count(tu_path(f->path[1], "pid")), 1);
	assert_true(tu_exists(tu_path(f->path[1], "pid/%s", m.pidname)));
	assert_true(tu_exists(tu_path(f->path[1], "mess/%lu/%lu", (unsigned long)id % SPLIT,
				      (unsigned long)id)));
	/* the new marker is held: another writer (a recovery) cannot lock it */
	{
		int other = open(tu_path(f->path[1], "pid/%s", m.pidname), O_RDONLY);

		assert_true(other >= 0);
		assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
		close(other);
	}
	mv_commit(&m);
	mv_check(f, 1, (unsigned long)id);
}

static int exdev_pidfd = -1;

static int linkat_exdev(int a, const char *an, int b, const char *bn, int flags)
{
	if (b == exdev_pidfd) {
		errno = EXDEV;
		return -1;
	}
	return linkat(a, an, b, bn, flags);
}

static void test_move_exdev(void **state)
{
	struct fx *f = *state;
	struct queue_msg m;
	struct queue_err e;
	ino_t id;

	mv_begin(f, 0, &m);
	id = m.id;
	exdev_pidfd = f->q[1].pidfd;
	queue_sys.linkat = linkat_exdev;
	assert_int_equal(queue_msg_move(&m, &f->q[1], &e), QUEUE_OK);
	queue_sys_reset();
	assert_ptr_equal(m.q, &f->q[1]);
	assert_int_not_equal(m.id, id);	/* a copy: another inode */
	assert_int_equal(m.size, (off_t)(sizeof MV_MESS - 1));
	assert_int_equal(tu_queue_files(f->path[0]), 0);
	mv_commit(&m);
	mv_check(f, 1, (unsigned long)m.id);
}

/* Each call of a move failed in turn: the message stays whole in queue1. */
static int fail_nth, fail_calls;

static int linkat_fail(int a, const char *an, int b, const char *bn, int flags)
{
	if (++fail_calls == fail_nth) {
		errno = EIO;
		return -1;
	}
	return linkat(a, an, b, bn, flags);
}

static int unlinkat_fail(int d, const char *n, int flags)
{
	if (++fail_calls == fail_nth) {
		errno = EIO;
		return -1;
	}
	return unlinkat(d, n, flags);
}

static void test_move_faults(void **state)
{
	struct fx *f = *state;
	int step;

	/* calls: linkat marker, linkat mess, unlinkat old mess (the last
	 * unlinkat, of the old marker, is not checked: see queue_commit.c) */
	for (step = 1; step <= 3; step++) {
		struct queue_msg m;
		struct queue_err e;
		ino_t id;
		const char *pidname;

		mv_begin(f, 0, &m);
		id = m.id;
		fail_calls = 0;
		fail_nth = step;
		queue_sys.linkat = linkat_fail;
		queue_sys.unlinkat = unlinkat_fail;
		assert_int_not_equal(queue_msg_move(&m, &f->q[1], &e), QUEUE_OK);
		queue_sys_reset();
		assert_int_equal(e.errnum, EIO);
		assert_non_null(strstr(e.text, step == 1 ? "pid/" : "mess/"));
		assert_ptr_equal(m.q, &f->q[0]);
		assert_int_equal(m.id, id);
		pidname = m.pidname;
		assert_true(tu_exists(tu_path(f->path[0], "pid/%s", pidname)));
		assert_int_equal(tu_queue_files(f->path[0]), 2);	/* marker, mess */
		assert_int_equal(tu_queue_files(f->path[1]), 0);
		mv_commit(&m);	/* committed where it was */
		mv_check(f, 0, (unsigned long)id);
		tu_rmtree(f->path[0]);	/* a fresh queue1 for the next step */
		queue_close(&f->q[0]);
		tu_queue_tree(f->path[0], SPLIT);
		assert_int_equal(queue_open(&f->q[0], f->path[0], SPLIT, &e), QUEUE_OK);
	}
}

static void test_move_refused(void **state)
{
	struct fx *f = *state;
	struct queue_msg m;
	struct queue_err e;

	mv_begin(f, 0, &m);
	assert_int_equal(queue_msg_intd(&m, MV_ENV, sizeof MV_ENV, &e), QUEUE_OK);
	assert_int_equal(queue_msg_move(&m, &f->q[1], &e), QUEUE_ECONFIG);
	assert_ptr_equal(m.q, &f->q[0]);
	assert_int_equal(tu_queue_files(f->path[1]), 0);
	queue_msg_abort(&m);
	assert_int_equal(tu_queue_files(f->path[0]), 0);
}

/*
 * A writer dies at each point of a move: after the new marker's link (the
 * other queue has a marker only), after both links, after the old mess
 * name's unlink (the first queue a marker only), after the whole move.
 * Both queues' recoveries, in either order, leave nothing, and at most one
 * unfinished message is counted as removed (the move's extra names count
 * as kept markers).
 */
static struct queue *die_q;
static int die_at, die_calls;

static int linkat_die(int a, const char *an, int b, const char *bn, int flags)
{
	if (++die_calls == die_at)
		_exit(0);
	return linkat(a, an, b, bn, flags);
}

static int unlinkat_die(int d, const char *n, int flags)
{
	if (++die_calls == die_at)
		_exit(0);
	return unlinkat(d, n, flags);
}

static void test_move_crash(void **state)
{
	struct fx *f = *state;
	/* calls of a move: linkat marker (1), linkat mess (2), unlinkat old
	 * mess (3), unlinkat old marker (4); die before call k (5: after all) */
	int k, order;

	for (k = 2; k <= 5; k++)
		for (order = 0; order < 2; order++) {
			struct queue_err e;
			unsigned kept, removed, total = 0;
			pid_t pid;
			int st, i;

			fflush(NULL);
			pid = fork();
			assert_true(pid >= 0);
			if (pid == 0) {
				struct queue_msg m;

				if (queue_msg_begin(&f->q[0], &m, &e) != QUEUE_OK ||
				    queue_msg_write(&m, MV_MESS, sizeof MV_MESS - 1, &e) != QUEUE_OK)
					_exit(2);
				die_q = &f->q[0];
				die_calls = 0;
				die_at = k;
				queue_sys.linkat = linkat_die;
				queue_sys.unlinkat = unlinkat_die;
				if (queue_msg_move(&m, &f->q[1], &e) != QUEUE_OK)
					_exit(3);
				_exit(k == 5 ? 0 : 4);	/* k < 5: must have died inside */
			}
			assert_int_equal(waitpid(pid, &st, 0), pid);
			assert_true(WIFEXITED(st));
			assert_int_equal(WEXITSTATUS(st), 0);
			for (i = 0; i < 2; i++) {
				int qi = order ? 1 - i : i;

				assert_int_equal(queue_recover(&f->q[qi], &kept, &removed, &e), QUEUE_OK);
				total += removed;
				assert_int_equal(tu_queue_files(f->path[qi]), 0);
			}
			assert_int_equal(tu_queue_files(f->path[0]) + tu_queue_files(f->path[1]), 0);
			assert_true(total <= 1);
		}
}

/*
 * The first queue's leftovers of a message moved and committed in the
 * other: its marker (the last unlink failed), and also its mess name (a
 * crash lost that unlink).  Its recovery removes them, counts no removed
 * message, and the committed message stays whole.
 */
static int unlinkat_fail_pid(int d, const char *n, int flags)
{
	if (d == die_q->pidfd) {
		errno = EIO;
		return -1;
	}
	return unlinkat(d, n, flags);
}

static void test_move_leftovers(void **state)
{
	struct fx *f = *state;
	int with_mess;

	for (with_mess = 0; with_mess < 2; with_mess++) {
		struct queue_msg m;
		struct queue_err e;
		unsigned kept, removed;
		char old[sizeof m.pidname], id[24];
		ino_t ino;

		mv_begin(f, 0, &m);
		ino = m.id;
		memcpy(old, m.pidname, sizeof old);
		die_q = &f->q[0];
		queue_sys.unlinkat = unlinkat_fail_pid;
		assert_int_equal(queue_msg_move(&m, &f->q[1], &e), QUEUE_OK);
		queue_sys_reset();
		assert_true(tu_exists(tu_path(f->path[0], "pid/%s", old)));
		mv_commit(&m);	/* closes the fd: the old marker's lock is gone */
		snprintf(id, sizeof id, "%lu", (unsigned long)ino);
		if (with_mess)	/* the crash that lost the old mess unlink */
			assert_int_equal(link(tu_path(f->path[1], "mess/%lu/%s", (unsigned long)ino % SPLIT, id),
					      tu_path(f->path[0], "mess/%lu/%s", (unsigned long)ino % SPLIT, id)), 0);
		assert_int_equal(queue_recover(&f->q[0], &kept, &removed, &e), QUEUE_OK);
		assert_int_equal(kept, 1);
		assert_int_equal(removed, 0);
		assert_int_equal(queue_recover(&f->q[1], &kept, &removed, &e), QUEUE_OK);
		assert_int_equal(removed, 0);
		mv_check(f, 1, (unsigned long)ino);
		tu_rmtree(f->path[1]);	/* a fresh queue2 for the next round */
		queue_close(&f->q[1]);
		tu_queue_tree(f->path[1], SPLIT);
		assert_int_equal(queue_open(&f->q[1], f->path[1], SPLIT, &e), QUEUE_OK);
	}
}

/* The move's own clean-up fails too (the mess link fails, then the new
 * marker's unlink): the stray marker in the other queue is its recovery's,
 * and the message, committed where it was, stays whole. */
static void test_move_cleanup_fails(void **state)
{
	struct fx *f = *state;
	struct queue_msg m;
	struct queue_err e;
	unsigned kept, removed;
	ino_t id;

	mv_begin(f, 0, &m);
	id = m.id;
	fail_calls = 0;
	fail_nth = 2;	/* the mess link */
	queue_sys.linkat = linkat_fail;
	die_q = &f->q[1];
	queue_sys.unlinkat = unlinkat_fail_pid;	/* the new marker's removal */
	assert_int_equal(queue_msg_move(&m, &f->q[1], &e), QUEUE_EMESS);
	queue_sys_reset();
	assert_ptr_equal(m.q, &f->q[0]);
	assert_int_equal(tu_count(tu_path(f->path[1], "pid")), 1);	/* the stray marker */
	mv_commit(&m);
	assert_int_equal(queue_recover(&f->q[1], &kept, &removed, &e), QUEUE_OK);
	assert_int_equal(tu_queue_files(f->path[1]), 0);
	assert_int_equal(removed, 0);	/* a name of a message committed in queue1 */
	mv_check(f, 0, (unsigned long)id);
}

/* Across filesystems: a message of several chunks, under umask 077, is
 * copied byte for byte with mode 0644; a failing create or write in the
 * other queue leaves the message whole where it was and nothing there. */
static int openat_fail_to(int d, const char *n, int flags, mode_t mode)
{
	if (d == exdev_pidfd) {
		errno = ENOSPC;
		return -1;
	}
	return openat(d, n, flags, mode);
}

static ssize_t write_fail(int fd, const void *b, size_t n)
{
	(void)fd;
	(void)b;
	(void)n;
	errno = ENOSPC;
	return -1;
}

static void test_move_copy(void **state)
{
	struct fx *f = *state;
	struct queue_msg m;
	struct queue_err e;
	struct queue_msg *v[1] = { &m };
	size_t big = 200 * 1024 + 17, len, i;
	char *body = malloc(big), *got;
	struct stat st;
	mode_t old_umask;
	ino_t id;
	int step;

	assert_non_null(body);
	for (i = 0; i < big; i++)
		body[i] = (char)('a' + i % 26);
	exdev_pidfd = f->q[1].pidfd;
	for (step = 0; step < 2; step++) {	/* the create, then a write, fails */
		mv_begin(f, 0, &m);
		id = m.id;
		queue_sys.linkat = linkat_exdev;
		if (step == 0)
			queue_sys.openat = openat_fail_to;
		else
			queue_sys.write = write_fail;
		assert_int_not_equal(queue_msg_move(&m, &f->q[1], &e), QUEUE_OK);
		queue_sys_reset();
		assert_int_equal(e.errnum, ENOSPC);
		assert_ptr_equal(m.q, &f->q[0]);
		assert_int_equal(m.id, id);
		assert_int_equal(tu_queue_files(f->path[1]), 0);
		assert_int_equal(tu_queue_files(f->path[0]), 2);
		queue_msg_abort(&m);
	}
	old_umask = umask(077);
	mv_begin(f, 0, &m);
	assert_int_equal(queue_msg_write(&m, body, big, &e), QUEUE_OK);
	id = m.id;
	queue_sys.linkat = linkat_exdev;
	assert_int_equal(queue_msg_move(&m, &f->q[1], &e), QUEUE_OK);
	queue_sys_reset();
	assert_int_not_equal(m.id, id);
	assert_int_equal(m.size, (off_t)(sizeof MV_MESS - 1 + big));
	assert_int_equal(queue_msg_intd(&m, MV_ENV, sizeof MV_ENV, &e), QUEUE_OK);
	assert_int_equal(queue_commit(v, 1, QUEUE_SYNC_FULL, 0), 1);
	umask(old_umask);
	got = tu_read(tu_path(f->path[1], "mess/%lu/%lu", (unsigned long)m.id % SPLIT,
			      (unsigned long)m.id), &len);
	assert_int_equal(len, sizeof MV_MESS - 1 + big);
	assert_memory_equal(got, MV_MESS, sizeof MV_MESS - 1);
	assert_memory_equal(got + sizeof MV_MESS - 1, body, big);
	free(got);
	assert_int_equal(stat(tu_path(f->path[1], "mess/%lu/%lu", (unsigned long)m.id % SPLIT,
				      (unsigned long)m.id), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(stat(tu_path(f->path[1], "intd/%lu", (unsigned long)m.id), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(tu_queue_files(f->path[0]), 0);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_golden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_umask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_markers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trigger_per_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_two_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_sync_modes, setup, teardown),
		cmocka_unit_test(test_sync_parse),
		cmocka_unit_test_setup_teardown(test_group_commit_syncfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_every_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_batch_isolated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_batch_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_todo_fsync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_pipeline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_halves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intd_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_exdev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_leftovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_cleanup_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_copy, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
