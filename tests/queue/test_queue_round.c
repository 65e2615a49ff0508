/*
 * test_queue_round.c - queue/queue_round.c: a commit round owned by its caller.
 *
 *	busy             a begin on an open round is refused with EBUSY and
 *	                 touches neither that round nor the messages it was
 *	                 given; an end on a closed round returns 0; the round
 *	                 is reused for the next begin
 *	two open rounds  one thread holds two rounds open at once and ends
 *	                 them in the reverse order (FULL and FS, without and
 *	                 with helper threads, the helpers held at a gate while
 *	                 both are open): each round fsyncs its own files once,
 *	                 an FS round one syncfs of its own, and every message
 *	                 of both is committed
 *	threads          four threads, each with its own round, run pipelined
 *	                 commits on their own queues at the same time through
 *	                 the same helper threads: every message committed
 *	                 exactly once, nothing left in pid/
 *	The helper threads are process-wide and never stop, so the tests
 *	without them run first.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "queue.h"

#define MAXFD 4096

/* fsync and syncfs through queue_sys: counted per fd, held while the gate is set */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int gate;
	unsigned calls[MAXFD];
	unsigned syncfs_calls;
} w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void count(int fd, int is_syncfs)
{
	pthread_mutex_lock(&w.mu);
	while (w.gate)
		pthread_cond_wait(&w.cv, &w.mu);
	if (fd >= 0 && fd < MAXFD)
		w.calls[fd]++;
	if (is_syncfs)
		w.syncfs_calls++;
	pthread_mutex_unlock(&w.mu);
}

static int w_fsync(int fd)
{
	count(fd, 0);
	return fsync(fd);
}

static int w_syncfs(int fd)
{
	count(fd, 1);
	return syncfs(fd);
}

static void w_install(void)
{
	queue_sys_reset();
	pthread_mutex_lock(&w.mu);
	memset(w.calls, 0, sizeof w.calls);
	w.syncfs_calls = 0;
	w.gate = 0;
	pthread_mutex_unlock(&w.mu);
	queue_sys.fsync = w_fsync;
	queue_sys.syncfs = w_syncfs;
}

static void gate_set(int on)
{
	pthread_mutex_lock(&w.mu);
	w.gate = on;
	pthread_cond_broadcast(&w.cv);
	pthread_mutex_unlock(&w.mu);
}

static unsigned calls(int fd)
{
	unsigned n;

	pthread_mutex_lock(&w.mu);
	n = w.calls[fd];
	pthread_mutex_unlock(&w.mu);
	return n;
}

/* put - one message written through intd/ (not yet synced) */
static void put(struct queue *q, struct queue_msg *m, size_t i)
{
	struct queue_err e;
	char body[64], env[64];
	size_t blen = (size_t)snprintf(body, sizeof body, "Subject: %zu\n\nbody %zu\n", i, i);
	size_t elen = (size_t)snprintf(env, sizeof env, "u1%cp2%cFs%zu@x%cTr@y", 0, 0, i, 0) + 1;

	assert_int_equal(queue_msg_begin(q, m, &e), QUEUE_OK);
	assert_int_equal(queue_msg_write(m, body, blen, &e), QUEUE_OK);
	assert_int_equal(queue_msg_intd(m, env, elen, &e), QUEUE_OK);
}

struct fx {
	char *tmp;
	struct queue q;
	struct queue_msg m[16];
	struct queue_msg *v[16];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct queue_err e;
	size_t i;

	queue_sys_reset();
	f->tmp = tu_tmpdir("round");
	tu_queue_tree(tu_path(f->tmp, "queue1"), 23);
	if (queue_open(&f->q, tu_path(f->tmp, "queue1"), 23, &e) != QUEUE_OK)
		fail_msg("queue_open: %s", e.text);
	for (i = 0; i < 16; i++)
		f->v[i] = &f->m[i];
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
	free(f);
	return 0;
}

static long todo(struct fx *f)
{
	return tu_count(tu_path(f->q.path, "todo"));
}

/* test_busy - a second begin on an open round is a plain error */
static void test_busy(void **state)
{
	struct fx *f = *state;
	static struct queue_round rd;
	struct queue_msg **A = f->v, **B = f->v + 4, **C = f->v + 8;
	size_t i;

	for (i = 0; i < 12; i++)
		put(&f->q, &f->m[i], i);
	queue_round_init(&rd);
	assert_int_equal(queue_round_end(&rd, 0), 0);	/* closed: nothing */
	assert_int_equal(queue_commit_step(A, 4, NULL, 0, QUEUE_SYNC_FULL, 0), 0);
	assert_int_equal(queue_commit_step(B, 4, NULL, 0, QUEUE_SYNC_FULL, 0), 0);

	w_install();
	assert_int_equal(queue_round_begin(&rd, C, 4, A, 4, QUEUE_SYNC_FULL, NULL, NULL), 0);
	assert_int_equal(todo(f), 4);
	errno = 0;
	assert_int_equal(queue_round_begin(&rd, NULL, 0, B, 4, QUEUE_SYNC_FULL, NULL, NULL), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(todo(f), 4);	/* B not linked */
	for (i = 0; i < 4; i++) {
		assert_int_equal(B[i]->err.status, QUEUE_OK);
		assert_int_equal(B[i]->flags & QUEUE_MSG_TODO, 0);
		assert_true(B[i]->flags & QUEUE_MSG_SYNCED);
	}
	/* the open round is intact: it ends as if nothing had happened */
	assert_int_equal(queue_round_end(&rd, 0), 4);
	for (i = 0; i < 4; i++) {
		assert_true(C[i]->flags & QUEUE_MSG_SYNCED);
		assert_int_equal(calls(C[i]->fd), 1);
		assert_int_equal(calls(C[i]->intdfd), 1);
	}
	assert_int_equal(queue_round_end(&rd, 0), 0);	/* ended: closed again */
	/* reused: B and C linked by the same round object */
	assert_int_equal(queue_round_begin(&rd, NULL, 0, B, 4, QUEUE_SYNC_FULL, NULL, NULL), 0);
	assert_int_equal(queue_round_end(&rd, 0), 4);
	assert_int_equal(queue_round_begin(&rd, NULL, 0, C, 4, QUEUE_SYNC_FULL, NULL, NULL), 0);
	assert_int_equal(queue_round_end(&rd, 0), 4);
	assert_int_equal(todo(f), 12);
	assert_int_equal(tu_count(tu_path(f->q.path, "pid")), 0);
}

/*
 * two_open - rounds X and Y open at once on this thread (X links A and
 * syncs B; Y links C and syncs D), ended Y first.  gated: the helpers are
 * held at the gate while both are open, so that both are posted at once.
 */
static void two_open(struct fx *f, enum queue_sync mode, int gated)
{
	static struct queue_round x, y;
	struct queue_msg **A = f->v, **B = f->v + 4, **C = f->v + 8, **D = f->v + 12;
	size_t i;

	for (i = 0; i < 16; i++)
		put(&f->q, &f->m[i], i);
	assert_int_equal(queue_commit_step(A, 4, NULL, 0, mode, 0), 0);
	assert_int_equal(queue_commit_step(C, 4, NULL, 0, mode, 0), 0);
	queue_round_init(&x);
	queue_round_init(&y);
	w_install();
	gate_set(gated);
	assert_int_equal(queue_round_begin(&x, B, 4, A, 4, mode, NULL, NULL), 0);
	assert_int_equal(queue_round_begin(&y, D, 4, C, 4, mode, NULL, NULL), 0);
	assert_int_equal(todo(f), 8);	/* both linked at their begin */
	if (gated) {
		usleep(20000);
		for (i = 0; i < 4; i++)	/* nothing got through the gate */
			assert_int_equal(calls(B[i]->fd) + calls(D[i]->fd), 0);
		gate_set(0);
	}
	assert_int_equal(queue_round_end(&y, 0), 4);
	assert_int_equal(queue_round_end(&x, 0), 4);
	for (i = 0; i < 4; i++) {
		assert_true(B[i]->flags & QUEUE_MSG_SYNCED);
		assert_true(D[i]->flags & QUEUE_MSG_SYNCED);
		if (mode == QUEUE_SYNC_FULL) {
			assert_int_equal(calls(B[i]->fd), 1);
			assert_int_equal(calls(B[i]->intdfd), 1);
			assert_int_equal(calls(D[i]->fd), 1);
			assert_int_equal(calls(D[i]->intdfd), 1);
		}
	}
	if (mode == QUEUE_SYNC_FULL) {
		assert_int_equal(calls(f->q.todofd), 2);	/* once per round */
		assert_int_equal(calls(f->q.intdfd), 2);
		assert_int_equal(w.syncfs_calls, 0);
	} else {
		assert_int_equal(w.syncfs_calls, 2);	/* one filesystem, once per round */
		assert_int_equal(calls(f->q.dirfd), 2);
	}
	assert_int_equal(queue_commit_step(NULL, 0, B, 4, mode, 0), 4);
	assert_int_equal(queue_commit_step(NULL, 0, D, 4, mode, 0), 4);
	assert_int_equal(todo(f), 16);
	assert_int_equal(tu_count(tu_path(f->q.path, "pid")), 0);
	queue_sys_reset();
}

static void test_two_open_in_turn(void **state)
{
	two_open(*state, QUEUE_SYNC_FULL, 0);
}

static void test_two_open_in_turn_fs(void **state)
{
	two_open(*state, QUEUE_SYNC_FS, 0);
}

static void test_two_open_threads(void **state)
{
	assert_int_equal(queue_fsync_threads(4), 0);
	two_open(*state, QUEUE_SYNC_FULL, 1);
}

static void test_two_open_threads_fs(void **state)
{
	assert_int_equal(queue_fsync_threads(4), 0);
	two_open(*state, QUEUE_SYNC_FS, 1);
}

#define NTHR 4
#define PER_THR 40
#define BATCH 4

struct worker {
	struct queue *q;
	struct queue_msg m[PER_THR];
	size_t committed;
	int failed;
};

/* pipeline - this thread's own round: each links the batch the previous synced */
static void *pipeline(void *arg)
{
	struct worker *wk = arg;
	struct queue_round rd;
	struct queue_msg *prev[BATCH], *cur[BATCH];
	size_t i, np = 0;

	queue_round_init(&rd);
	for (i = 0; i < PER_THR; i += BATCH) {
		size_t k;

		for (k = 0; k < BATCH; k++) {
			struct queue_err e;
			static const char env[] = "u1\0p2\0Fs@x\0Tr@y";

			if (queue_msg_begin(wk->q, &wk->m[i + k], &e) != QUEUE_OK ||
			    queue_msg_write(&wk->m[i + k], "x\n", 2, &e) != QUEUE_OK ||
			    queue_msg_intd(&wk->m[i + k], env, sizeof env, &e) != QUEUE_OK)
				wk->failed = 1;
			cur[k] = &wk->m[i + k];
		}
		if (queue_round_begin(&rd, cur, BATCH, prev, np, QUEUE_SYNC_FULL, NULL, NULL) < 0)
			wk->failed = 1;
		wk->committed += queue_round_end(&rd, 0);
		memcpy(prev, cur, sizeof prev);
		np = BATCH;
	}
	if (queue_round_begin(&rd, NULL, 0, prev, np, QUEUE_SYNC_FULL, NULL, NULL) < 0)
		wk->failed = 1;
	wk->committed += queue_round_end(&rd, 0);
	return NULL;
}

/* test_threads - several owners, several rounds at once, one helper pool */
static void test_threads(void **state)
{
	struct fx *f = *state;
	static struct worker wk[NTHR];
	struct queue q[NTHR];
	pthread_t t[NTHR];
	struct queue_err e;
	size_t i;

	assert_int_equal(queue_fsync_threads(4), 0);
	w_install();
	for (i = 0; i < NTHR; i++) {
		tu_queue_tree(tu_path(f->tmp, "t%zu", i), 23);
		assert_int_equal(queue_open(&q[i], tu_path(f->tmp, "t%zu", i), 23, &e), QUEUE_OK);
		memset(&wk[i], 0, sizeof wk[i]);
		wk[i].q = &q[i];
	}
	for (i = 0; i < NTHR; i++)
		assert_int_equal(pthread_create(&t[i], NULL, pipeline, &wk[i]), 0);
	for (i = 0; i < NTHR; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < NTHR; i++) {
		assert_false(wk[i].failed);
		assert_int_equal(wk[i].committed, PER_THR);
		assert_int_equal(tu_count(tu_path(q[i].path, "todo")), PER_THR);
		assert_int_equal(tu_count(tu_path(q[i].path, "pid")), 0);
		/* one todo/ fsync per round that linked something */
		assert_int_equal(calls(q[i].todofd), PER_THR / BATCH);
		queue_close(&q[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: no helper threads exist yet */
		cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_open_in_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_open_in_turn_fs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_open_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_open_threads_fs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
