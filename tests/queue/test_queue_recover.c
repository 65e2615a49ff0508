/*
 * test_queue_recover.c - queue/queue_recover.c: what recovery does after a
 * writer died at each step.
 *
 *	A crash is a child process that runs the write/commit steps and calls
 *	_exit() at the chosen point: no cleanup runs, and its death releases
 *	the marker's flock() as a real crash would.  Then queue_recover() runs
 *	in the parent and the outcome must be exactly the one INTERNALS.md
 *	gives for that state:
 *	  after begin / write (".r")              message removed whole
 *	  after intd (".c", no todo/)             message removed whole
 *	  after the todo/ link (".c" + todo/)     kept, marker removed
 *	  ".c", no todo/, no intd/ (qmail-send    mess kept, marker removed
 *	  took it)
 *	  marker locked by a live writer          skipped (same process or not)
 *	  stock qmail-queue pid/ names, dirs,     untouched
 *	  symlinks
 *	  mess/<id> of another inode              untouched
 *	and, dying before and after every single queue_sys call of a commit,
 *	the message is either complete in todo/ or entirely gone, with the
 *	commit point exactly at the todo/ link.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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

struct fx {
	char *tmp, *path;
	struct queue q;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct queue_err e;

	queue_sys_reset();
	f->tmp = tu_tmpdir("recover");
	if (asprintf(&f->path, "%s/queue1", f->tmp) < 0)
		fail();
	tu_queue_tree(f->path, SPLIT);
	if (queue_open(&f->q, f->path, SPLIT, &e) != QUEUE_OK)
		fail_msg("queue_open: %s", e.text);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	queue_sys_reset();
	queue_close(&f->q);
	tu_rmtree(f->tmp);
	free(f->tmp);
	free(f->path);
	free(f);
	return 0;
}

static const char ENV[] = "u7791\0p5678\0Fa@example.com\0Tb@example.org";
#define ENV_LEN sizeof ENV
static const char MESS[] = "Received: (qmail 5678 invoked from network); "
			   "2 Nov 2026 02:45:04 -0000\nSubject: x\n\nbody\n";
#define MESS_LEN (sizeof MESS - 1)

enum stage { ST_BEGIN, ST_WRITE, ST_INTD, ST_TODO, ST_DONE };

/* ------------------------------------------------------------- children */

/* In a child, any surprise exits 2: cmocka must not run there. */
static int in_child;

#define CHILD_CHECK(x)                                       \
	do {                                                 \
		if (!(x)) {                                  \
			if (in_child)                        \
				_exit(2);                    \
			fail_msg("%s failed", #x);           \
		}                                            \
	} while (0)

static struct queue *crash_q;

/* unlinkat that dies when asked to remove a pid/ marker: the commit got
 * past its todo/ link and todo/ fsync */
static int die_on_marker_unlink(int dfd, const char *name, int flags)
{
	if (dfd == crash_q->pidfd)
		_exit(0);
	return unlinkat(dfd, name, flags);
}

/* run_to - in the current process: the steps up to and including k */
static void run_to(struct queue *q, struct queue_msg *m, enum stage k)
{
	struct queue_msg *v[1] = { m };
	struct queue_err e;

	CHILD_CHECK(queue_msg_begin(q, m, &e) == QUEUE_OK);
	if (k == ST_BEGIN)
		return;
	CHILD_CHECK(queue_msg_write(m, MESS, MESS_LEN, &e) == QUEUE_OK);
	if (k == ST_WRITE)
		return;
	CHILD_CHECK(queue_msg_intd(m, ENV, ENV_LEN, &e) == QUEUE_OK);
	if (k == ST_INTD)
		return;
	if (k == ST_TODO) {
		crash_q = q;
		queue_sys.unlinkat = die_on_marker_unlink;
	}
	CHILD_CHECK(queue_commit(v, 1, QUEUE_SYNC_FULL, 0) == 1);
}

static pid_t child_fork(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		in_child = 1;
	return pid;
}

static int child_wait(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("child died of signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* crash_after - a writer that dies (no cleanup) right after stage k */
static void crash_after(struct fx *f, enum stage k)
{
	pid_t pid = child_fork();

	if (pid == 0) {
		struct queue_msg m;

		run_to(&f->q, &m, k);
		_exit(0);	/* fds close, the flock goes, nothing is cleaned */
	}
	assert_int_equal(child_wait(pid), 0);
}

/* ------------------------------------------------------------- snapshots */

/* marker - the one entry of pid/, or 0 when pid/ is empty */
static int marker(struct fx *f, char *name, size_t len, ino_t *ino)
{
	DIR *d = opendir(tu_path(f->path, "pid"));
	struct dirent *de;
	struct stat st;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(name, len, "%s", de->d_name);
			assert_int_equal(fstatat(dirfd(d), de->d_name, &st, 0), 0);
			*ino = st.st_ino;
			n++;
		}
	closedir(d);
	assert_true(n <= 1);
	return n;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return n > k && !strcmp(s + n - k, suf);
}

static const char *mess_path(struct fx *f, unsigned long id)
{
	return tu_path(f->path, "mess/%lu/%lu", id % SPLIT, id);
}

/* assert_committed - id is complete in todo/ and its marker is gone */
static void assert_committed(struct fx *f, unsigned long id)
{
	size_t len;
	char *b;
	struct stat si, st;

	b = tu_read(mess_path(f, id), &len);
	assert_non_null(b);
	assert_int_equal(len, MESS_LEN);
	assert_memory_equal(b, MESS, len);
	free(b);
	b = tu_read(tu_path(f->path, "todo/%lu", id), &len);
	assert_non_null(b);
	assert_int_equal(len, ENV_LEN);
	assert_memory_equal(b, ENV, len);
	free(b);
	assert_int_equal(stat(tu_path(f->path, "todo/%lu", id), &st), 0);
	assert_int_equal(stat(tu_path(f->path, "intd/%lu", id), &si), 0);
	assert_int_equal(si.st_ino, st.st_ino);
	assert_int_equal(tu_count(tu_path(f->path, "pid")), 0);
}

static void recover(struct fx *f, unsigned want_kept, unsigned want_removed)
{
	unsigned kept = 99, removed = 99;
	struct queue_err e;

	assert_int_equal(queue_recover(&f->q, &kept, &removed, &e), QUEUE_OK);
	assert_int_equal(kept, want_kept);
	assert_int_equal(removed, want_removed);
}

/* ---------------------------------------------------------- named states */

static void crash_removed_whole(struct fx *f, enum stage k, const char *suffix)
{
	char name[256];
	ino_t id;

	crash_after(f, k);
	assert_int_equal(marker(f, name, sizeof name, &id), 1);
	assert_true(has_suffix(name, suffix));
	assert_true(tu_exists(mess_path(f, id)));
	assert_int_equal(tu_exists(tu_path(f->path, "intd/%lu", (unsigned long)id)), k >= ST_INTD);
	recover(f, 0, 1);
	assert_int_equal(tu_queue_files(f->path), 0);
	recover(f, 0, 0);	/* idempotent */
}

static void test_crash_after_begin(void **state)
{
	crash_removed_whole(*state, ST_BEGIN, ".r");
}

static void test_crash_after_write(void **state)
{
	crash_removed_whole(*state, ST_WRITE, ".r");
}

static void test_crash_after_intd(void **state)
{
	crash_removed_whole(*state, ST_INTD, ".c");
}

/* test_crash_after_todo - died between the commit point and marker removal */
static void test_crash_after_todo(void **state)
{
	struct fx *f = *state;
	char name[256];
	ino_t id;

	crash_after(f, ST_TODO);
	assert_int_equal(marker(f, name, sizeof name, &id), 1);
	assert_true(has_suffix(name, ".c"));
	assert_true(tu_exists(tu_path(f->path, "todo/%lu", (unsigned long)id)));
	recover(f, 1, 0);
	assert_committed(f, id);
	assert_int_equal(tu_queue_files(f->path), 3);
}

/* test_taken_by_qmail_send - ".c" marker, todo/ and intd/ gone: kept */
static void test_taken_by_qmail_send(void **state)
{
	struct fx *f = *state;
	char name[256];
	ino_t id;

	crash_after(f, ST_TODO);
	assert_int_equal(marker(f, name, sizeof name, &id), 1);
	/* qmail-send preprocessed it; qmail-clean removed intd/ and todo/ */
	assert_int_equal(unlink(tu_path(f->path, "intd/%lu", (unsigned long)id)), 0);
	assert_int_equal(unlink(tu_path(f->path, "todo/%lu", (unsigned long)id)), 0);
	tu_write(tu_path(f->path, "info/%lu/%lu", (unsigned long)id % SPLIT, (unsigned long)id),
		 "Fa@example.com", 15);
	recover(f, 1, 0);
	assert_int_equal(tu_count(tu_path(f->path, "pid")), 0);
	assert_true(tu_exists(mess_path(f, id)));
	assert_int_equal(tu_queue_files(f->path), 1);
}

/* test_live_writer_same_process - flock is per open file description: a
 * second open of the marker in the same process cannot lock it either */
static void test_live_writer_same_process(void **state)
{
	struct fx *f = *state;
	struct queue_msg m, *v[1] = { &m };
	struct queue_err e;
	char name[256];
	ino_t id;

	assert_int_equal(queue_msg_begin(&f->q, &m, &e), QUEUE_OK);
	assert_int_equal(queue_msg_write(&m, MESS, MESS_LEN, &e), QUEUE_OK);
	recover(f, 0, 0);
	assert_int_equal(marker(f, name, sizeof name, &id), 1);
	assert_string_equal(name, m.pidname);
	assert_true(tu_exists(mess_path(f, m.id)));
	assert_int_equal(queue_msg_intd(&m, ENV, ENV_LEN, &e), QUEUE_OK);
	recover(f, 0, 0);
	assert_int_equal(queue_commit(v, 1, QUEUE_SYNC_FULL, 0), 1);
	assert_committed(f, m.id);
	recover(f, 0, 0);
	assert_committed(f, m.id);
}

/* test_live_writer_child - another process holds the marker */
static void test_live_writer_child(void **state)
{
	struct fx *f = *state;
	int ready[2], go[2];
	char c, name[256];
	ino_t id;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = child_fork();
	if (pid == 0) {
		struct queue_msg m;

		close(ready[0]);
		close(go[1]);
		run_to(&f->q, &m, ST_INTD);
		CHILD_CHECK(write(ready[1], "r", 1) == 1);
		CHILD_CHECK(read(go[0], &c, 1) >= 0);
		_exit(0);	/* dies holding the message */
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	recover(f, 0, 0);
	assert_int_equal(marker(f, name, sizeof name, &id), 1);
	assert_true(has_suffix(name, ".c"));
	assert_int_equal(tu_queue_files(f->path), 3);	/* marker mess intd */
	close(go[1]);
	assert_int_equal(child_wait(pid), 0);
	close(ready[0]);
	recover(f, 0, 1);
	assert_int_equal(tu_queue_files(f->path), 0);
}

/* test_not_ours - stock qmail-queue names, directories, symlinks: untouched */
static void test_not_ours(void **state)
{
	struct fx *f = *state;
	const char *stock[] = { "12345.1793587504.1", "12345", "6789.1793587504.2.x" };
	unsigned i;

	for (i = 0; i < 3; i++)
		tu_write(tu_path(f->path, "pid/%s", stock[i]), "", 0);
	assert_int_equal(mkdir(tu_path(f->path, "pid/1.2.3.r"), 0700), 0);
	assert_int_equal(symlink("../todo", tu_path(f->path, "pid/1.2.4.c")), 0);
	recover(f, 0, 0);
	for (i = 0; i < 3; i++)
		assert_true(tu_exists(tu_path(f->path, "pid/%s", stock[i])));
	assert_true(tu_exists(tu_path(f->path, "pid/1.2.3.r")));
	assert_true(tu_exists(tu_path(f->path, "pid/1.2.4.c")));
	assert_int_equal(tu_count(tu_path(f->path, "pid")), 5);
}

/* test_mess_other_inode - mess/<id> is removed only when it is the marker */
static void test_mess_other_inode(void **state)
{
	struct fx *f = *state;
	struct stat st;
	const char *mp;

	tu_write(tu_path(f->path, "pid/1.1793587504.1.r"), "", 0);
	assert_int_equal(stat(tu_path(f->path, "pid/1.1793587504.1.r"), &st), 0);
	mp = mess_path(f, st.st_ino);
	tu_write(mp, "someone else's", 14);
	recover(f, 0, 1);
	assert_int_equal(tu_count(tu_path(f->path, "pid")), 0);
	assert_true(tu_exists(mess_path(f, st.st_ino)));
}

/*
 * test_crash_batch - a batch of 8 dies at its 5th todo/ link: the first 4
 * are committed (kept), the other 4 are removed whole.
 */
static unsigned todo_links;

static int die_at_fifth_todo(int ofd, const char *old, int nfd, const char *new, int flags)
{
	if (nfd == crash_q->todofd && ++todo_links == 5)
		_exit(0);
	return linkat(ofd, old, nfd, new, flags);
}

static void test_crash_batch(void **state)
{
	struct fx *f = *state;
	int ids[2];
	pid_t pid;
	unsigned long id[8];
	unsigned i;

	assert_int_equal(pipe(ids), 0);
	pid = child_fork();
	if (pid == 0) {
		struct queue_msg m[8], *v[8];

		for (i = 0; i < 8; i++) {
			v[i] = &m[i];
			run_to(&f->q, &m[i], ST_INTD);
			id[i] = m[i].id;
		}
		CHILD_CHECK(write(ids[1], id, sizeof id) == sizeof id);
		crash_q = &f->q;
		queue_sys.linkat = die_at_fifth_todo;
		queue_commit(v, 8, QUEUE_SYNC_FULL, 0);
		_exit(3);	/* should not get here */
	}
	close(ids[1]);
	assert_int_equal(child_wait(pid), 0);
	assert_int_equal(read(ids[0], id, sizeof id), sizeof id);
	close(ids[0]);
	assert_int_equal(tu_count(tu_path(f->path, "pid")), 8);
	recover(f, 4, 4);
	for (i = 0; i < 8; i++)
		if (i < 4) {
			assert_true(tu_exists(tu_path(f->path, "todo/%lu", id[i])));
			assert_true(tu_exists(mess_path(f, id[i])));
		} else {
			assert_false(tu_exists(mess_path(f, id[i])));
			assert_false(tu_exists(tu_path(f->path, "intd/%lu", id[i])));
		}
	assert_int_equal(tu_queue_files(f->path), 4 * 3);
}

/* test_mixed_counts - one recovery over every kind of leftover at once */
static void test_mixed_counts(void **state)
{
	struct fx *f = *state;
	struct queue_msg live;
	struct queue_err e;
	char name[256];

	crash_after(f, ST_BEGIN);
	crash_after(f, ST_WRITE);
	crash_after(f, ST_INTD);
	crash_after(f, ST_TODO);
	crash_after(f, ST_TODO);
	crash_after(f, ST_TODO);
	/* the last one was taken by qmail-send */
	{
		DIR *d = opendir(tu_path(f->path, "todo"));
		struct dirent *de;

		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				snprintf(name, sizeof name, "%s", de->d_name);
		closedir(d);
		unlink(tu_path(f->path, "intd/%s", name));
		unlink(tu_path(f->path, "todo/%s", name));
	}
	tu_write(tu_path(f->path, "pid/999.1793587504.7"), "", 0);
	assert_int_equal(queue_msg_begin(&f->q, &live, &e), QUEUE_OK);
	assert_int_equal(tu_count(tu_path(f->path, "pid")), 8);
	recover(f, 3, 3);
	assert_int_equal(tu_count(tu_path(f->path, "pid")), 2);	/* live + stock */
	assert_int_equal(tu_count(tu_path(f->path, "todo")), 2);
	assert_int_equal(tu_queue_mess(f->path), 4);	/* 2 in todo, 1 taken, live */
	queue_msg_abort(&live);
}

/* test_marker_unlink_fails - a marker the commit could not remove is
 * recovered as committed */
static int fail_pid_unlink(int dfd, const char *name, int flags)
{
	if (dfd == crash_q->pidfd) {
		errno = EIO;
		return -1;
	}
	return unlinkat(dfd, name, flags);
}

static void test_marker_unlink_fails(void **state)
{
	struct fx *f = *state;
	struct queue_msg m, *v[1] = { &m };

	run_to(&f->q, &m, ST_INTD);
	crash_q = &f->q;
	queue_sys.unlinkat = fail_pid_unlink;
	assert_int_equal(queue_commit(v, 1, QUEUE_SYNC_FULL, 0), 1);
	queue_sys_reset();
	assert_int_equal(m.err.status, QUEUE_OK);
	assert_int_equal(tu_count(tu_path(f->path, "pid")), 1);
	recover(f, 1, 0);
	assert_committed(f, m.id);
}

/*
 * test_crash_every_call - die before, and after, each queue_sys call of a
 * one-message commit.  Whatever the call, recovery leaves the message
 * complete in todo/ or entirely gone, and "complete" starts exactly at the
 * todo/ link and never stops after it.
 */
static unsigned crash_at, ncalls;
static int crash_late;
static struct queue_sys real;

#define CRASH_POINT(call)                          \
	do {                                       \
		if (++ncalls == crash_at) {        \
			if (!crash_late)           \
				_exit(0);          \
			(void)(call);              \
			_exit(0);                  \
		}                                  \
		return call;                       \
	} while (0)

static int c_openat(int d, const char *n, int fl, mode_t mo)
{
	CRASH_POINT(real.openat(d, n, fl, mo));
}

static int c_linkat(int od, const char *o, int nd, const char *n, int fl)
{
	CRASH_POINT(real.linkat(od, o, nd, n, fl));
}

static int c_unlinkat(int d, const char *n, int fl)
{
	CRASH_POINT(real.unlinkat(d, n, fl));
}

static ssize_t c_write(int fd, const void *b, size_t n)
{
	CRASH_POINT(real.write(fd, b, n));
}

static int c_fsync(int fd)
{
	CRASH_POINT(real.fsync(fd));
}

static int c_fstat(int fd, struct stat *st)
{
	CRASH_POINT(real.fstat(fd, st));
}

static int c_ftruncate(int fd, off_t len)
{
	CRASH_POINT(real.ftruncate(fd, len));
}

static int c_renameat(int od, const char *o, int nd, const char *n)
{
	CRASH_POINT(real.renameat(od, o, nd, n));
}

/* crash_run - one child dying at call n; returns 1 if it ran to the end */
static int crash_run(struct fx *f, unsigned n, int late)
{
	pid_t pid = child_fork();

	if (pid == 0) {
		struct queue_msg m;

		queue_sys_reset();
		real = queue_sys;
		crash_at = n;
		crash_late = late;
		ncalls = 0;
		queue_sys = (struct queue_sys){ c_openat, c_linkat, c_unlinkat, c_write,
						c_fsync, c_fstat, c_ftruncate, c_renameat,
						real.syncfs };
		run_to(&f->q, &m, ST_DONE);
		_exit(3);
	}
	switch (child_wait(pid)) {
	case 0:
		return 0;
	case 3:
		return 1;
	default:
		fail_msg("child failed before call %u", n);
	}
	return -1;
}

static void crash_every_call(struct fx *f, int late)
{
	int committed_seen = 0;
	unsigned n;

	for (n = 1;; n++) {
		int finished = crash_run(f, n, late);
		char name[256];
		ino_t id = 0;
		int has_marker = marker(f, name, sizeof name, &id);
		int in_todo = 0;
		unsigned want_kept = 0, want_removed = 0;

		if (has_marker) {
			in_todo = tu_exists(tu_path(f->path, "todo/%lu", (unsigned long)id));
			/* a ".r" marker proves there is no todo/ link */
			if (has_suffix(name, ".r"))
				assert_false(in_todo);
			else
				assert_true(has_suffix(name, ".c"));
			if (in_todo)
				want_kept = 1;
			else
				want_removed = 1;
		} else if (tu_count(tu_path(f->path, "todo")) == 1) {
			in_todo = 1;	/* committed and its marker removed */
		}
		recover(f, want_kept, want_removed);
		assert_int_equal(tu_count(tu_path(f->path, "pid")), 0);
		if (in_todo) {
			DIR *d = opendir(tu_path(f->path, "todo"));
			struct dirent *de;

			while ((de = readdir(d)))
				if (de->d_name[0] != '.')
					id = strtoul(de->d_name, NULL, 10);
			closedir(d);
			assert_committed(f, id);
			committed_seen = 1;
			/* qmail-send and qmail-clean take it */
			unlink(tu_path(f->path, "todo/%lu", (unsigned long)id));
			unlink(tu_path(f->path, "intd/%lu", (unsigned long)id));
			unlink(mess_path(f, id));
		} else {
			if (committed_seen)
				fail_msg("call %u (%s): committed earlier, lost now", n,
					 late ? "after" : "before");
			assert_false(finished);
		}
		assert_int_equal(tu_queue_files(f->path), 0);
		if (finished)
			break;
	}
	assert_true(committed_seen);
	/* begin 2, write 2, intd 2, rename, fsync 6, link, unlink: at least 14 */
	assert_true(n >= 14);
}

static void test_crash_every_call(void **state)
{
	crash_every_call(*state, 0);
	crash_every_call(*state, 1);
}

/*
 * test_recover_races_begin - a recovery that runs between a writer's
 * exclusive create and its flock() takes the fresh marker and removes it.
 * INTERNALS.md: "the writer retries under another name (it has linked
 * nothing yet)" - whether the recovery still holds the lock or has already
 * removed the file when the writer gets to flock().
 */
static unsigned race_recoveries, race_kept, race_removed;

static int openat_then_recover(int d, const char *n, int fl, mode_t mo)
{
	int fd = real.openat(d, n, fl, mo);

	if (fd >= 0 && d == crash_q->pidfd && race_recoveries++ == 0) {
		struct queue_err e;

		if (queue_recover(crash_q, &race_kept, &race_removed, &e) != QUEUE_OK)
			fail_msg("recover: %s", e.text);
	}
	return fd;
}

static void test_recover_races_begin(void **state)
{
	struct fx *f = *state;
	struct queue_msg m, *v[1] = { &m };
	struct queue_err e;

	queue_sys_reset();
	real = queue_sys;
	crash_q = &f->q;
	race_recoveries = 0;
	queue_sys.openat = openat_then_recover;
	assert_int_equal(queue_msg_begin(&f->q, &m, &e), QUEUE_OK);
	queue_sys_reset();
	assert_int_equal(race_recoveries, 2);	/* the second marker was not raced */
	assert_int_equal(race_kept, 0);
	assert_int_equal(race_removed, 1);	/* the first marker, taken by recovery */
	assert_int_equal(queue_msg_write(&m, MESS, MESS_LEN, &e), QUEUE_OK);
	assert_int_equal(queue_msg_intd(&m, ENV, ENV_LEN, &e), QUEUE_OK);
	assert_int_equal(queue_commit(v, 1, QUEUE_SYNC_FULL, 0), 1);
	assert_committed(f, m.id);
	assert_int_equal(tu_queue_files(f->path), 3);
}

/*
 * test_recover_holds_begin - the other half of the race: the recovery still
 * holds the fresh marker's lock when the writer gets to flock().  The writer
 * must give that name up (flock fails), never link it, and begin again under
 * another; the recovery then removes the abandoned marker.
 */
static int held_fd = -1;

static int openat_then_hold(int d, const char *n, int fl, mode_t mo)
{
	int fd = real.openat(d, n, fl, mo);

	if (fd >= 0 && d == crash_q->pidfd && held_fd < 0) {
		held_fd = openat(d, n, O_RDONLY | O_CLOEXEC);	/* a recovery's own open */
		if (held_fd < 0 || flock(held_fd, LOCK_EX | LOCK_NB) < 0)
			fail_msg("cannot lock the fresh marker %s", n);
	}
	return fd;
}

static void test_recover_holds_begin(void **state)
{
	struct fx *f = *state;
	struct queue_msg m, *v[1] = { &m };
	struct queue_err e;
	struct stat st;
	char first[256];

	queue_sys_reset();
	real = queue_sys;
	crash_q = &f->q;
	held_fd = -1;
	queue_sys.openat = openat_then_hold;
	assert_int_equal(queue_msg_begin(&f->q, &m, &e), QUEUE_OK);
	queue_sys_reset();
	assert_true(held_fd >= 0);
	assert_int_equal(fstat(held_fd, &st), 0);
	assert_int_equal(st.st_nlink, 1);	/* the abandoned marker: never linked to mess/ */
	assert_true(st.st_ino != m.id);
	assert_int_equal(tu_count(tu_path(f->path, "pid")), 2);
	recover(f, 0, 0);	/* still held: skipped */
	close(held_fd);		/* the "recovery" lets go */
	held_fd = -1;
	recover(f, 0, 1);	/* the abandoned marker goes, the live one stays */
	assert_int_equal(tu_count(tu_path(f->path, "pid")), 1);
	snprintf(first, sizeof first, "pid/%s", m.pidname);
	assert_true(tu_exists(tu_path(f->path, "%s", first)));
	assert_int_equal(queue_msg_write(&m, MESS, MESS_LEN, &e), QUEUE_OK);
	assert_int_equal(queue_msg_intd(&m, ENV, ENV_LEN, &e), QUEUE_OK);
	assert_int_equal(queue_commit(v, 1, QUEUE_SYNC_FULL, 0), 1);
	assert_committed(f, m.id);
	assert_int_equal(tu_queue_files(f->path), 3);
}

/* --------------------------------------------------------------- errors */

static void test_empty_and_errors(void **state)
{
	struct fx *f = *state;
	struct queue_err e;
	int saved;

	assert_int_equal(queue_recover(&f->q, NULL, NULL, &e), QUEUE_OK);
	recover(f, 0, 0);

	saved = f->q.pidfd;
	f->q.pidfd = -1;
	assert_int_equal(queue_recover(&f->q, NULL, NULL, &e), QUEUE_EHOME);
	assert_non_null(strstr(e.text, f->path));
	f->q.pidfd = saved;
}

static int fail_fsync(int fd)
{
	errno = EIO;
	return -1;
}

static void test_pid_fsync_fails(void **state)
{
	struct fx *f = *state;
	struct queue_err e;

	crash_after(f, ST_WRITE);
	queue_sys.fsync = fail_fsync;
	assert_int_equal(queue_recover(&f->q, NULL, NULL, &e), QUEUE_EWRITE);
	queue_sys_reset();
	assert_int_equal(e.errnum, EIO);
	assert_non_null(strstr(e.text, "pid"));
	assert_int_equal(tu_queue_files(f->path), 0);	/* removed all the same */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crash_after_begin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_after_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_after_intd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_after_todo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_taken_by_qmail_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_writer_same_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_writer_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_ours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mess_other_inode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_marker_unlink_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_every_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_races_begin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_holds_begin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pid_fsync_fails, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
