/*
 * queue_fsync.c - fsync many files at once.
 *
 *	queue_fsync_all() fsyncs a set of fds and reports each one's errno.
 *	With queue_fsync_threads(n) > 0 it issues them from n helper threads
 *	and the caller at the same time.  queue_fsync_start() and
 *	queue_fsync_wait() are its two halves, on a round (struct
 *	queue_fsync) the caller owns: the helpers start on the round and the
 *	caller is free until it waits (then it helps with what is left); an
 *	optional callback tells it when the round is done.  A round may be of
 *	syncfs() calls instead, one fd per filesystem.
 *
 *	Concurrent fsyncs are what a journalling filesystem batches into one
 *	journal commit; issued one after another by one thread, each can cost
 *	a commit of its own when other work keeps dirtying the same
 *	directories (the daemon's loop creates files in mess/ all the time).
 *	This is how a group commit stays cheap while every directory is still
 *	fsynced.
 *
 *	The helper threads are process-wide: sluiced starts them once.  Without
 *	them (sluice-queue, tests) the caller does the fsyncs in turn.  The
 *	pool keeps no round of its own: it holds a list of the posted rounds
 *	that still have fds to claim, oldest first, so that rounds of several
 *	owners (or several rounds of one thread) run side by side, each
 *	finished by its own waiter.  A round is never posted twice: a start on
 *	an open round fails with EBUSY.
 *
 * DIAGNOSTICS
 *	Each fd's errno in its slot of errs[]; nothing is logged.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "queue_int.h"

static struct {
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned nthreads;
	unsigned idle;		/* helpers waiting on go */
	unsigned waking;	/* of those, signalled and not yet running */
	struct queue_fsync *head, *tail;	/* posted rounds with fds left to claim */
} pool = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
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

/* unlist - take a round whose every fd is claimed off the pool's list; mu held */
static void unlist(struct queue_fsync *r)
{
	struct queue_fsync **pp, *prev = NULL;

	for (pp = &pool.head; *pp; prev = *pp, pp = &(*pp)->link)
		if (*pp == r) {
			*pp = r->link;
			if (pool.tail == r)
				pool.tail = prev;
			break;
		}
	r->link = NULL;
}

/*
 * claim - sync the next fd of round r; mu held, released meanwhile.  The
 * round stays valid while one of its fds is claimed and not done: its
 * waiter waits for left to reach 0, and nothing here touches the round
 * after that.
 */
static void claim(struct queue_fsync *r)
{
	size_t i = r->next++;
	int e;

	if (r->next == r->n)
		unlist(r);
	pthread_mutex_unlock(&pool.mu);
	e = sync_one(r->fds[i], r->syncfs);
	pthread_mutex_lock(&pool.mu);
	r->errs[i] = e;
	if (--r->left == 0) {
		pthread_cond_broadcast(&pool.done);
		if (r->done)
			r->done(r->arg);
	}
}

static void *helper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		while (!pool.head) {
			pool.idle++;
			pthread_cond_wait(&pool.go, &pool.mu);
			pool.idle--;
			if (pool.waking)
				pool.waking--;
		}
		claim(pool.head);
	}
	return NULL;
}

/*
 * wake - start as many idle helpers as the new round has fds (mu held): a
 * broadcast woke every helper for every round, and those that found nothing
 * to claim only contended for the lock.  Helpers already running, or
 * signalled and on their way, take fds of the new round too; whatever none
 * takes, the round's waiter does itself.
 */
static void wake(size_t n)
{
	while (n-- && pool.idle > pool.waking) {
		pool.waking++;
		pthread_cond_signal(&pool.go);
	}
}

int queue_fsync_threads(unsigned n)
{
	pthread_attr_t a;
	unsigned have;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 * 1024);
	pthread_mutex_lock(&pool.mu);
	while (pool.nthreads < n) {
		pthread_t t;

		if (pthread_create(&t, &a, helper, NULL) != 0)
			break;
		__atomic_add_fetch(&pool.nthreads, 1, __ATOMIC_RELEASE);
	}
	have = pool.nthreads;
	pthread_mutex_unlock(&pool.mu);
	pthread_attr_destroy(&a);
	return have >= n ? 0 : -1;
}

int queue_fsync_start(struct queue_fsync *r, const int *fds, size_t n, int *errs, int syncfs,
		      void (*done)(void *), void *arg)
{
	if (r->open) {		/* posting it again would lose its fsyncs */
		errno = EBUSY;
		return -1;
	}
	r->open = 1;
	r->fds = fds;
	r->errs = errs;
	r->n = n;
	r->next = 0;
	r->left = n;
	r->syncfs = syncfs;
	r->posted = 0;
	r->done = done;
	r->arg = arg;
	r->link = NULL;
	if (n == 0 || __atomic_load_n(&pool.nthreads, __ATOMIC_ACQUIRE) == 0) {
		if (done)	/* nothing runs before the wait: do not wait for it */
			done(arg);
		return 0;	/* done by queue_fsync_wait(), in turn */
	}
	pthread_mutex_lock(&pool.mu);
	if (pool.tail)
		pool.tail->link = r;
	else
		pool.head = r;
	pool.tail = r;
	r->posted = 1;
	wake(n);
	pthread_mutex_unlock(&pool.mu);
	return 0;
}

void queue_fsync_wait(struct queue_fsync *r)
{
	if (!r->open)
		return;
	if (!r->posted)
		in_turn(r->fds, r->n, r->errs, r->syncfs);
	else {
		pthread_mutex_lock(&pool.mu);
		while (r->next < r->n)	/* help with what no helper took yet */
			claim(r);
		while (r->left)
			pthread_cond_wait(&pool.done, &pool.mu);
		pthread_mutex_unlock(&pool.mu);
	}
	r->open = r->posted = 0;
	r->n = 0;
}

void queue_fsync_all(const int *fds, size_t n, int *errs)
{
	struct queue_fsync r = { 0 };

	if (n == 1) {		/* one: no helper to wake */
		in_turn(fds, n, errs, 0);
		return;
	}
	queue_fsync_start(&r, fds, n, errs, 0, NULL, NULL);	/* r is closed: cannot fail */
	queue_fsync_wait(&r);
}
