/*
 * scan_pool.c - a fixed pool of scan worker threads behind a bounded queue.
 *
 *	scan_pool_new() starts N workers.  scan_pool_submit() queues a job, or
 *	refuses it when the queue is full (the caller defers or waits).  A
 *	worker runs the job's scanners in order, merging verdicts; an infected
 *	or banned verdict is decisive and skips the rest.  A finished job goes
 *	to the done list and the pool calls notify() (the daemon's ev_async), so
 *	results reach the loop thread without shared mutable state: the loop
 *	takes them with scan_pool_done().  scan_pool_free() drains and joins.
 *
 *	A job belongs to the pool from submit until scan_pool_done() returns
 *	it; its owner must keep it alive that long, even if it gave up waiting.
 *
 * DIAGNOSTICS
 *	scan_pool_new() returns NULL with errno set when threads cannot start.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scan_int.h"

struct scan_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct scan_job *head, *tail;	/* waiting jobs */
	struct scan_job *done;		/* finished, newest first */
	unsigned depth, max_depth, busy;
	int stopping;
	unsigned nthreads;
	pthread_t *threads;
	void (*notify)(void *);
	void *notify_arg;
};

int64_t scan_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* scan_run - run a job's scanners in the calling thread */
void scan_run(struct scan_job *job)
{
	unsigned i;

	scan_verdict_set(&job->verdict, SCAN_CLEAN, "none", "%s", "");
	job->in.cancel = &job->cancel;
	for (i = 0; i < job->nscanners; i++) {
		struct scan_verdict v;

		if (job->cancel)
			break;
		if (job->in.deadline_ms && scan_now_ms() >= job->in.deadline_ms) {
			scan_verdict_set(&v, SCAN_ERROR, job->scanners[i]->name,
					 "deadline passed before %s ran", job->scanners[i]->name);
			scan_verdict_merge(&job->verdict, &v);
			break;
		}
		memset(&v, 0, sizeof v);
		{
			/* each scanner: the message's deadline, or its own when sooner */
			struct scan_input in = job->in;
			int64_t own = job->scanner_timeout_ms ? scan_now_ms() + job->scanner_timeout_ms : 0;

			if (own && (!in.deadline_ms || own < in.deadline_ms))
				in.deadline_ms = own;
			job->scanners[i]->scan(job->states[i], &in, &v);
		}
		if (!v.scanner)
			v.scanner = job->scanners[i]->name;
		scan_verdict_merge(&job->verdict, &v);
		if (job->verdict.kind >= SCAN_BANNED)
			break;
	}
}

static void *worker(void *arg)
{
	struct scan_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct scan_job *job;

		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->head)
			break;
		job = p->head;
		if (!(p->head = job->next))
			p->tail = NULL;
		p->depth--;
		p->busy++;
		pthread_mutex_unlock(&p->mu);

		scan_run(job);

		pthread_mutex_lock(&p->mu);
		p->busy--;
		job->next = p->done;
		p->done = job;
		pthread_mutex_unlock(&p->mu);
		p->notify(p->notify_arg);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct scan_pool *scan_pool_new(unsigned nthreads, unsigned max_depth,
				void (*notify)(void *), void *arg)
{
	struct scan_pool *p = calloc(1, sizeof *p);
	unsigned i;

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->max_depth = max_depth ? max_depth : 1;
	p->notify = notify;
	p->notify_arg = arg;
	if (!(p->threads = calloc(nthreads ? nthreads : 1, sizeof *p->threads))) {
		free(p);
		return NULL;
	}
	for (i = 0; i < (nthreads ? nthreads : 1); i++) {
		int err = pthread_create(&p->threads[i], NULL, worker, p);

		if (err) {
			p->nthreads = i;
			scan_pool_free(p);
			errno = err;
			return NULL;
		}
	}
	p->nthreads = i;
	return p;
}

int scan_pool_submit(struct scan_pool *p, struct scan_job *job)
{
	pthread_mutex_lock(&p->mu);
	if (p->depth >= p->max_depth || p->stopping) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	job->next = NULL;
	job->cancel = 0;
	if (p->tail)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	p->depth++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

struct scan_job *scan_pool_done(struct scan_pool *p)
{
	struct scan_job *list, *rev = NULL;

	pthread_mutex_lock(&p->mu);
	list = p->done;
	p->done = NULL;
	pthread_mutex_unlock(&p->mu);
	while (list) {		/* oldest first */
		struct scan_job *next = list->next;

		list->next = rev;
		rev = list;
		list = next;
	}
	return rev;
}

void scan_pool_load(struct scan_pool *p, unsigned *waiting, unsigned *busy)
{
	pthread_mutex_lock(&p->mu);
	*waiting = p->depth;
	*busy = p->busy;
	pthread_mutex_unlock(&p->mu);
}

void scan_pool_free(struct scan_pool *p)
{
	unsigned i;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->threads);
	free(p);
}
