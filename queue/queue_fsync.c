/*
 * queue_fsync.c - fsync many files at once.
 *
 *	queue_fsync_all() fsyncs a set of fds and reports each one's errno.
 *	With queue_fsync_threads(n) > 0 it issues them from n helper threads
 *	and the caller at the same time.  queue_fsync_start() and
 *	queue_fsync_wait() are its two halves: the helpers start on the round
 *	and the caller is free until it waits (then it helps with what is
 *	left); an optional callback tells it when the round is done.  A round
 *	may be of syncfs() calls instead, one fd per filesystem.
 *
 *	Concurrent fsyncs are what a journalling filesystem batches into one
 *	journal commit; issued one after another by one thread, each can cost
 *	a commit of its own when other work keeps dirtying the same
 *	directories (the daemon's loop creates files in mess/ all the time).
 *	This is how a group commit stays cheap while every directory is still
 *	fsynced.
 *
 *	The helper threads are process-wide: sluiced starts them once.  Without
 *	them (sluice-queue, tests) the caller does the fsyncs in turn.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "queue_int.h"

static struct {
	pthread_mutex_t mu, round_mu;
	pthread_cond_t go, done;
	unsigned nthreads;
	unsigned long gen;	/* bumped for each round */
	const int *fds;
	int *errs;
	int syncfs;		/* the round's fds are syncfs()ed, not fsync()ed */
	void (*done_fn)(void *);	/* called when the round's last fd is done */
	void *done_arg;
	size_t n, next, left;
} pool = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.round_mu = PTHREAD_MUTEX_INITIALIZER,
	.go = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

/* sync_one - fsync (or syncfs) one fd; 0 or its errno */
static int sync_one(int fd, int syncfs)
{
	int r = syncfs ? queue_sys.syncfs(fd) : queue_sys.fsync(fd);

	return r < 0 ? errno : 0;
}

/* in_turn - every fd of a round by the calling thread, one after another */
static void in_turn(const int *fds, size_t n, int *errs, int syncfs)
{
	size_t i;

	for (i = 0; i < n; i++)
		errs[i] = sync_one(fds[i], syncfs);
}

/* work - claim fds of the current round until none is left; mu held */
static void work(void)
{
	while (pool.next < pool.n) {
		size_t i = pool.next++;
		int e;

		pthread_mutex_unlock(&pool.mu);
		e = sync_one(pool.fds[i], pool.syncfs);
		pthread_mutex_lock(&pool.mu);
		pool.errs[i] = e;
		if (--pool.left == 0) {
			pthread_cond_broadcast(&pool.done);
			if (pool.done_fn)
				pool.done_fn(pool.done_arg);
		}
	}
}

static void *helper(void *arg)
{
	unsigned long seen = 0;

	(void)arg;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		while (pool.gen == seen)
			pthread_cond_wait(&pool.go, &pool.mu);
		seen = pool.gen;
		work();
	}
	return NULL;
}

int queue_fsync_threads(unsigned n)
{
	pthread_attr_t a;
	unsigned started = 0;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 * 1024);
	pthread_mutex_lock(&pool.mu);
	while (pool.nthreads < n) {
		pthread_t t;

		if (pthread_create(&t, &a, helper, NULL) != 0)
			break;
		pool.nthreads++;
		started++;
	}
	pthread_mutex_unlock(&pool.mu);
	pthread_attr_destroy(&a);
	return pool.nthreads >= n ? 0 : -1;
}

/* The round this thread started and has not yet waited for; when no helper
 * took it (posted 0), queue_fsync_wait() does its fsyncs. */
static __thread struct {
	const int *fds;
	int *errs;
	size_t n;
	int syncfs, posted;
	int open;		/* started, not yet waited for */
} mine;

void queue_fsync_start(const int *fds, size_t n, int *errs, int syncfs,
		       void (*done)(void *), void *arg)
{
	if (mine.open) {	/* would lose that round's fsyncs, or deadlock */
		fprintf(stderr, "queue_fsync_start: a round is already open on this thread\n");
		abort();
	}
	mine.open = 1;
	mine.fds = fds;
	mine.errs = errs;
	mine.n = n;
	mine.syncfs = syncfs;
	mine.posted = 0;
	if (n == 0 || pool.nthreads == 0) {
		if (done)	/* nothing runs before the wait: do not wait for it */
			done(arg);
		return;		/* done by queue_fsync_wait(), in turn */
	}
	pthread_mutex_lock(&pool.round_mu);	/* one round at a time */
	pthread_mutex_lock(&pool.mu);
	pool.fds = fds;
	pool.errs = errs;
	pool.syncfs = syncfs;
	pool.done_fn = done;
	pool.done_arg = arg;
	pool.n = n;
	pool.next = 0;
	pool.left = n;
	pool.gen++;
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.mu);
	mine.posted = 1;
}

void queue_fsync_wait(void)
{
	mine.open = 0;
	if (!mine.posted) {
		in_turn(mine.fds, mine.n, mine.errs, mine.syncfs);
		mine.n = 0;
		return;
	}
	pthread_mutex_lock(&pool.mu);
	work();
	while (pool.left)
		pthread_cond_wait(&pool.done, &pool.mu);
	pool.n = pool.next = 0;	/* late helpers find nothing to claim */
	pool.done_fn = NULL;
	pthread_mutex_unlock(&pool.mu);
	pthread_mutex_unlock(&pool.round_mu);
	mine.posted = 0;
	mine.n = 0;
}

void queue_fsync_all(const int *fds, size_t n, int *errs)
{
	if (n == 1 || mine.open) {	/* one: no helper to wake; nested: in turn */
		in_turn(fds, n, errs, 0);
		return;
	}
	queue_fsync_start(fds, n, errs, 0, NULL, NULL);
	queue_fsync_wait();
}
