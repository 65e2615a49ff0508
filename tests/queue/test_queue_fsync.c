/*
 * test_queue_fsync.c - queue/queue_fsync.c: many fsyncs issued together.
 *
 *	Without helper threads queue_fsync_all() fsyncs every fd once, in turn;
 *	with them, still every fd exactly once and each fd's own errno in its
 *	slot, from more than one thread, over many rounds and from concurrent
 *	callers.  A group commit through helper threads writes the same bytes
 *	and fsyncs each directory once.  queue_fsync_start/wait, on a round the
 *	test owns: without helpers the round is done by the wait (the done
 *	callback comes at once); with them the helpers finish the round and
 *	call back while the caller does something else, and a syncfs round
 *	calls syncfs, never fsync.  A start on an open round is refused
 *	(EBUSY); two rounds of one thread run side by side.
 *	queue_round_begin/end with helpers, the round held at a gate while the
 *	next batch is written (FULL and FS): that batch is in no fsync of the
 *	round and is not SYNCED by it.  The helper threads are process-wide
 *	and never stop, so the tests without them run first.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "queue.h"

#define NFD 200
#define MAXFD 4096

/* A thread-safe fsync wrapper: calls per fd, distinct threads, failures. */
static struct {
	int (*real)(int);
	unsigned calls[MAXFD];
	int fail[MAXFD];	/* errno to fail this fd with */
	unsigned delay_us;
	pthread_t tid[16];
	unsigned ntid;
	unsigned file_calls, dir_calls;
	int gate;		/* fsync and syncfs wait while it is set */
	pthread_mutex_t mu;
	pthread_cond_t gate_cv;
} w = { .mu = PTHREAD_MUTEX_INITIALIZER, .gate_cv = PTHREAD_COND_INITIALIZER };

static void gate_wait(void)
{
	pthread_mutex_lock(&w.mu);
	while (w.gate)
		pthread_cond_wait(&w.gate_cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
}

static void gate_set(int on)
{
	pthread_mutex_lock(&w.mu);
	w.gate = on;
	pthread_cond_broadcast(&w.gate_cv);
	pthread_mutex_unlock(&w.mu);
}

static int w_fsync(int fd)
{
	pthread_t self = pthread_self();
	struct stat st;
	unsigned i;
	int isdir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);

	gate_wait();
	if (w.delay_us)
		usleep(w.delay_us);
	pthread_mutex_lock(&w.mu);
	if (fd >= 0 && fd < MAXFD)
		w.calls[fd]++;
	if (isdir)
		w.dir_calls++;
	else
		w.file_calls++;
	for (i = 0; i < w.ntid && !pthread_equal(w.tid[i], self); i++)
		;
	if (i == w.ntid && w.ntid < 16)
		w.tid[w.ntid++] = self;
	pthread_mutex_unlock(&w.mu);
	if (fd >= 0 && fd < MAXFD && w.fail[fd]) {
		errno = w.fail[fd];
		return -1;
	}
	return w.real(fd);
}

static unsigned syncfs_calls;

static int w_syncfs(int fd)
{
	gate_wait();
	pthread_mutex_lock(&w.mu);
	if (fd >= 0 && fd < MAXFD)
		w.calls[fd]++;
	syncfs_calls++;
	pthread_mutex_unlock(&w.mu);
	if (fd >= 0 && fd < MAXFD && w.fail[fd]) {
		errno = w.fail[fd];
		return -1;
	}
	return syncfs(fd);
}

static void w_install(void)
{
	queue_sys_reset();
	pthread_mutex_lock(&w.mu);
	memset(w.calls, 0, sizeof w.calls);
	memset(w.fail, 0, sizeof w.fail);
	w.delay_us = 0;
	w.gate = 0;
	w.ntid = 0;
	w.file_calls = w.dir_calls = 0;
	w.real = queue_sys.fsync;
	syncfs_calls = 0;
	pthread_mutex_unlock(&w.mu);
	queue_sys.fsync = w_fsync;
	queue_sys.syncfs = w_syncfs;
}

struct files {
	char *dir;
	int fd[NFD];
	int err[NFD];
};

static int setup(void **state)
{
	struct files *f = calloc(1, sizeof *f);
	int i;

	f->dir = tu_tmpdir("fsync");
	for (i = 0; i < NFD; i++) {
		f->fd[i] = open(tu_path(f->dir, "f%d", i), O_RDWR | O_CREAT | O_EXCL, 0600);
		assert_true(f->fd[i] >= 0 && f->fd[i] < MAXFD);
		assert_int_equal(write(f->fd[i], "x", 1), 1);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct files *f = *state;
	int i;

	queue_sys_reset();
	for (i = 0; i < NFD; i++)
		close(f->fd[i]);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* check_round - every fd once; failing fds report their errno, others 0 */
static void check_round(struct files *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int fd = f->fd[i];

		if (w.calls[fd] != 1)
			fail_msg("fd %d fsynced %u times", fd, w.calls[fd]);
		assert_int_equal(f->err[i], w.fail[fd]);
	}
}

static void mark_failures(struct files *f, size_t n, unsigned every, int err)
{
	size_t i;

	for (i = 0; i < n; i += every)
		w.fail[f->fd[i]] = err;
}

static void test_in_turn(void **state)
{
	struct files *f = *state;

	w_install();
	queue_fsync_all(f->fd, 0, f->err);	/* nothing */
	assert_int_equal(w.file_calls, 0);
	mark_failures(f, NFD, 7, EIO);
	memset(f->err, 0x7f, sizeof f->err);
	queue_fsync_all(f->fd, NFD, f->err);
	check_round(f, NFD);
	assert_int_equal(w.ntid, 1);	/* the caller alone */
	assert_true(pthread_equal(w.tid[0], pthread_self()));
}

static void test_threads(void **state)
{
	struct files *f = *state;
	unsigned round;

	assert_int_equal(queue_fsync_threads(4), 0);
	assert_int_equal(queue_fsync_threads(2), 0);	/* already there */
	for (round = 0; round < 50; round++) {
		size_t n = 1 + (round * 37) % NFD;

		w_install();
		mark_failures(f, n, 3 + round % 5, round % 2 ? EIO : ENOSPC);
		memset(f->err, 0x7f, sizeof f->err);
		queue_fsync_all(f->fd, n, f->err);
		check_round(f, n);
	}
	/* slow fsyncs: the helpers take their share */
	w_install();
	w.delay_us = 20000;
	queue_fsync_all(f->fd, 20, f->err);
	check_round(f, 20);
	assert_true(w.ntid >= 2);
}

static int done_calls;
static void *done_arg;
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;

static int done_now(void)
{
	int n;

	pthread_mutex_lock(&done_mu);
	n = done_calls;
	pthread_mutex_unlock(&done_mu);
	return n;
}

/* on_done - may run on a helper thread: records, never asserts */
static void on_done(void *arg)
{
	pthread_mutex_lock(&done_mu);
	done_calls++;
	done_arg = arg;
	pthread_mutex_unlock(&done_mu);
}

/* done_wait - until on_done has been called (5 s at most) */
static void done_wait(void)
{
	int k;

	for (k = 0; k < 500 && !done_now(); k++)
		usleep(10000);
}


/* test_halves_in_turn - no helpers: start does nothing but call back, the
 * wait does the whole round */
static void test_halves_in_turn(void **state)
{
	struct files *f = *state;
	struct queue_fsync fr = { 0 };
	size_t i;

	w_install();
	done_calls = 0;
	mark_failures(f, 30, 4, EIO);
	queue_fsync_start(&fr, f->fd, 30, f->err, 0, on_done, &done_calls);
	assert_int_equal(done_now(), 1);	/* the caller must not wait for it */
	for (i = 0; i < 30; i++)
		assert_int_equal(w.calls[f->fd[i]], 0);
	queue_fsync_wait(&fr);
	check_round(f, 30);
	assert_int_equal(w.ntid, 1);
	assert_int_equal(syncfs_calls, 0);
	queue_fsync_wait(&fr);	/* nothing started: nothing happens */
	check_round(f, 30);
}

/* test_halves_threads - the helpers do the round while the caller is away,
 * call back once, and the wait then only collects */
static void test_halves_threads(void **state)
{
	struct files *f = *state;
	struct queue_fsync fr = { 0 };

	assert_int_equal(queue_fsync_threads(4), 0);
	w_install();
	done_calls = 0;
	done_arg = NULL;
	mark_failures(f, 12, 5, ENOSPC);
	gate_set(1);
	queue_fsync_start(&fr, f->fd, 12, f->err, 0, on_done, &done_calls);
	usleep(20000);
	assert_int_equal(done_now(), 0);	/* the helpers wait at the gate */
	gate_set(0);
	done_wait();
	assert_int_equal(done_now(), 1);
	assert_ptr_equal(done_arg, &done_calls);
	check_round(f, 12);	/* all done without the caller */
	assert_false(pthread_equal(w.tid[0], pthread_self()));
	queue_fsync_wait(&fr);
	check_round(f, 12);
	assert_int_equal(done_now(), 1);

	/* a syncfs round: syncfs on each fd, no fsync, errors in their slots */
	w_install();
	done_calls = 0;
	mark_failures(f, 3, 2, EIO);
	queue_fsync_start(&fr, f->fd, 3, f->err, 1, on_done, &done_calls);
	queue_fsync_wait(&fr);
	check_round(f, 3);
	assert_int_equal(syncfs_calls, 3);
	assert_int_equal(w.file_calls + w.dir_calls, 0);
	assert_int_equal(done_now(), 1);

	/* an empty round calls back at once */
	done_calls = 0;
	queue_fsync_start(&fr, f->fd, 0, f->err, 0, on_done, &done_calls);
	assert_int_equal(done_now(), 1);
	queue_fsync_wait(&fr);
}

/*
 * test_rounds_one_thread - a start on an open round is refused (EBUSY) and
 * leaves it running; a second round of the same thread runs beside it (the
 * helpers held at the gate while both are posted); each fd of each round
 * is fsynced once, each error lands in its own round's slot, and the
 * rounds may be waited for in any order.
 */
static void test_rounds_one_thread(void **state)
{
	struct files *f = *state;
	struct queue_fsync r1 = { 0 }, r2 = { 0 };
	static int err2[NFD];
	size_t i;

	assert_int_equal(queue_fsync_threads(4), 0);
	w_install();
	mark_failures(f, 40, 3, EIO);
	memset(f->err, 0x7f, sizeof f->err);
	memset(err2, 0x7f, sizeof err2);
	gate_set(1);
	assert_int_equal(queue_fsync_start(&r1, f->fd, 20, f->err, 0, NULL, NULL), 0);
	errno = 0;
	assert_int_equal(queue_fsync_start(&r1, f->fd + 20, 20, err2, 0, NULL, NULL), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(queue_fsync_start(&r2, f->fd + 20, 20, err2, 0, NULL, NULL), 0);
	usleep(20000);
	for (i = 0; i < 40; i++)	/* all held at the gate */
		assert_int_equal(w.calls[f->fd[i]], 0);
	gate_set(0);
	queue_fsync_wait(&r2);
	queue_fsync_wait(&r1);
	check_round(f, 20);
	for (i = 20; i < 40; i++) {
		assert_int_equal(w.calls[f->fd[i]], 1);
		assert_int_equal(err2[i - 20], w.fail[f->fd[i]]);
	}
	queue_fsync_wait(&r1);	/* waited for: closed, nothing happens */
	check_round(f, 20);
}

/* put - one message of queue q, written through intd */
static void put_msg(struct queue *q, struct queue_msg *m, size_t i)
{
	struct queue_err e;
	char body[64], env[64];
	size_t blen = (size_t)snprintf(body, sizeof body, "Subject: %zu\n\nbody %zu\n", i, i);
	size_t elen = (size_t)snprintf(env, sizeof env, "u1%cp2%cFs%zu@x%cTr@y", 0, 0, i, 0) + 1;

	assert_int_equal(queue_msg_begin(q, m, &e), QUEUE_OK);
	assert_int_equal(queue_msg_write(m, body, blen, &e), QUEUE_OK);
	assert_int_equal(queue_msg_intd(m, env, elen, &e), QUEUE_OK);
}

/*
 * test_step_halves_threads - queue_round_begin/end with helper threads, as the
 * daemon's sync thread runs them: the round is held at a gate while the next
 * batch is written; that batch is in no fsync of the round and is not
 * SYNCED after it; the callback comes only once the round is through.
 * FULL: B's files fsynced once each; FS: one syncfs for the whole round.
 */
static void test_step_halves_threads(void **state)
{
	static const enum queue_sync modes[] = { QUEUE_SYNC_FULL, QUEUE_SYNC_FS };
	size_t mi;

	(void)state;
	assert_int_equal(queue_fsync_threads(4), 0);
	for (mi = 0; mi < 2; mi++) {
		static struct queue_msg m[12];
		static struct queue_round rd;
		struct queue_msg *A[4], *B[4], *C[4];
		struct queue q[2];
		struct queue_err e;
		char *tmp = tu_tmpdir("fsync-step");
		size_t i;
		int k;

		for (k = 0; k < 2; k++) {
			tu_queue_tree(tu_path(tmp, "queue%d", k), 23);
			assert_int_equal(queue_open(&q[k], tu_path(tmp, "queue%d", k), 23, &e), QUEUE_OK);
		}
		for (i = 0; i < 8; i++)
			put_msg(&q[i % 2], &m[i], i);
		for (i = 0; i < 4; i++) {
			A[i] = &m[i];
			B[i] = &m[4 + i];
			C[i] = &m[8 + i];
		}
		assert_int_equal(queue_commit_step(A, 4, NULL, 0, modes[mi], 0), 0);

		w_install();
		done_calls = 0;
		gate_set(1);
		queue_round_init(&rd);
		assert_int_equal(queue_round_begin(&rd, B, 4, A, 4, modes[mi], on_done, &done_calls),
				 0);
		assert_int_equal(tu_count(tu_path(q[0].path, "todo")) +
				 tu_count(tu_path(q[1].path, "todo")), 4);	/* A linked */
		for (i = 0; i < 4; i++)	/* meanwhile: the next batch */
			put_msg(&q[i % 2], C[i], 8 + i);
		usleep(20000);
		assert_int_equal(done_now(), 0);
		gate_set(0);
		done_wait();
		assert_int_equal(done_now(), 1);
		assert_int_equal(queue_round_end(&rd, 0), 4);
		for (i = 0; i < 4; i++) {
			assert_true(B[i]->flags & QUEUE_MSG_SYNCED);
			assert_false(C[i]->flags & QUEUE_MSG_SYNCED);
			assert_int_equal(w.calls[C[i]->fd], 0);
			assert_int_equal(w.calls[C[i]->intdfd], 0);
		}
		if (modes[mi] == QUEUE_SYNC_FULL) {
			assert_int_equal(w.file_calls, 8);	/* B's mess and intd */
			assert_int_equal(syncfs_calls, 0);
		} else {
			assert_int_equal(w.file_calls + w.dir_calls, 0);
			assert_int_equal(syncfs_calls, 1);	/* one filesystem */
		}
		assert_int_equal(queue_commit_step(C, 4, B, 4, modes[mi], 0), 4);
		assert_int_equal(queue_commit_step(NULL, 0, C, 4, modes[mi], 0), 4);
		queue_sys_reset();
		for (k = 0; k < 2; k++) {
			assert_int_equal(tu_count(tu_path(q[k].path, "todo")), 6);
			assert_int_equal(tu_count(tu_path(q[k].path, "pid")), 0);
			queue_close(&q[k]);
		}
		tu_rmtree(tmp);
		free(tmp);
	}
}

struct caller {
	struct files *f;
	size_t off, n;
	int err[NFD];
};

static void *call_all(void *arg)
{
	struct caller *c = arg;
	unsigned k;

	for (k = 0; k < 20; k++)
		queue_fsync_all(c->f->fd + c->off, c->n, c->err);
	return NULL;
}

/* test_concurrent_callers - rounds from two callers do not mix */
static void test_concurrent_callers(void **state)
{
	struct files *f = *state;
	struct caller a = { f, 0, NFD / 2, { 0 } }, b = { f, NFD / 2, NFD / 2, { 0 } };
	pthread_t ta, tb;
	size_t i;

	assert_int_equal(queue_fsync_threads(4), 0);
	w_install();
	mark_failures(f, NFD, 5, EIO);
	assert_int_equal(pthread_create(&ta, NULL, call_all, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, call_all, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	for (i = 0; i < NFD; i++) {
		int fd = f->fd[i];
		int got = i < NFD / 2 ? a.err[i] : b.err[i - NFD / 2];

		assert_int_equal(w.calls[fd], 20);
		assert_int_equal(got, w.fail[fd]);
	}
}

/* test_commit_with_threads - a group commit through the helper threads */
static void test_commit_with_threads(void **state)
{
	static struct queue_msg m[64];
	struct queue_msg *v[64];
	struct queue q[2];
	struct queue_err e;
	char *tmp = tu_tmpdir("fsync-commit");
	char body[64][64], env[64][64];
	size_t blen[64], elen[64], len, i;
	int used[2][23] = { { 0 } }, k, dirs = 0;

	assert_int_equal(queue_fsync_threads(4), 0);
	for (k = 0; k < 2; k++) {
		tu_queue_tree(tu_path(tmp, "queue%d", k), 23);
		assert_int_equal(queue_open(&q[k], tu_path(tmp, "queue%d", k), 23, &e), QUEUE_OK);
	}
	w_install();
	for (i = 0; i < 64; i++) {
		blen[i] = (size_t)snprintf(body[i], sizeof body[i], "Subject: %zu\n\nbody %zu\n", i, i);
		elen[i] = (size_t)snprintf(env[i], sizeof env[i], "u1%cp2%cFs%zu@x%cTr@y", 0, 0, i, 0)
			+ 1;
		assert_int_equal(queue_msg_begin(&q[i % 2], &m[i], &e), QUEUE_OK);
		assert_int_equal(queue_msg_write(&m[i], body[i], blen[i], &e), QUEUE_OK);
		assert_int_equal(queue_msg_intd(&m[i], env[i], elen[i], &e), QUEUE_OK);
		v[i] = &m[i];
	}
	assert_int_equal(queue_commit(v, 64, QUEUE_SYNC_FULL, 0), 64);
	queue_sys_reset();
	for (i = 0; i < 64; i++) {
		const char *qp = q[i % 2].path;
		unsigned long id = (unsigned long)m[i].id;
		char *b = tu_read(tu_path(qp, "mess/%lu/%lu", id % 23, id), &len);

		assert_non_null(b);
		assert_int_equal(len, blen[i]);
		assert_memory_equal(b, body[i], len);
		free(b);
		b = tu_read(tu_path(qp, "todo/%lu", id), &len);
		assert_non_null(b);
		assert_int_equal(len, elen[i]);
		assert_memory_equal(b, env[i], len);
		free(b);
		if (!used[i % 2][id % 23]++)
			dirs++;
	}
	assert_int_equal(w.file_calls, 128);
	assert_int_equal(w.dir_calls, dirs + 2 * 3);	/* + intd/ pid/ todo/ of each */
	for (k = 0; k < 2; k++) {
		assert_int_equal(w.calls[q[k].intdfd], 1);
		assert_int_equal(w.calls[q[k].pidfd], 1);
		assert_int_equal(w.calls[q[k].todofd], 1);
		assert_int_equal(tu_count(tu_path(q[k].path, "pid")), 0);
		queue_close(&q[k]);
	}
	tu_rmtree(tmp);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: no helper threads exist yet */
		cmocka_unit_test_setup_teardown(test_in_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_halves_in_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_halves_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_callers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rounds_one_thread, setup, teardown),
		cmocka_unit_test(test_commit_with_threads),
		cmocka_unit_test(test_step_halves_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
