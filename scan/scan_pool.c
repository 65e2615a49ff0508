/*
 * scan_pool.c - the scan workers: CPU threads, network threads, one queue each.
 *
 *	scan_pool_new() starts N CPU workers (the in-process scanners: one per
 *	core is all the CPU there is).  Network threads are started as jobs
 *	with SCAN_NET scanners need them, up to scan_pool_net_threads() (64 by
 *	default): a spam check waits 40-100 ms on its server, so each network
 *	thread spends its life blocked in poll() under a deadline, and many of
 *	them cost no CPU while the CPU workers go on scanning.
 *
 *	scan_pool_submit() splits a job into tasks: one for its SCAN_CPU
 *	scanners (run in order on one CPU worker) and one per SCAN_NET scanner,
 *	or refuses the job when max_depth jobs already wait for a worker (the
 *	caller parks it).  Tasks of one job run at once.  Each merges its
 *	verdict into the job under the pool's lock as it ends (the strictest
 *	stays, and the headers of the scanner whose verdict the job takes); a
 *	decisive verdict (banned, infected) sets job->cancel, which the other
 *	tasks' scanners watch.  When the job's last task ends it goes to the
 *	done list and notify() runs (the daemon's ev_async): the loop takes
 *	finished jobs with scan_pool_done().  scan_pool_free() runs what is
 *	queued and joins every thread.
 *
 *	Deadlines: each scanner gets the message's deadline, or its own
 *	(job->scanner_timeout_ms from when it starts) when sooner; a scanner
 *	whose turn comes after the message's deadline does not run and the job
 *	says error naming it.
 *
 *	A job belongs to the pool from submit until scan_pool_done() returns
 *	it; its owner must keep it alive that long, even if it gave up waiting.
 *
 * DIAGNOSTICS
 *	scan_pool_new() returns NULL with errno set when threads cannot start.
 *	When no network thread can be started, CPU workers run network tasks
 *	too (slower, never lost).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scan_int.h"

#define NET_THREADS_DEFAULT 64
#define NET_THREADS_MAX 1024

struct tq {
	struct scan_task *head, *tail;
	unsigned len;
};

struct scan_pool {
	pthread_mutex_t mu;
	pthread_cond_t cpu_cv, net_cv;
	struct tq cpu, net;		/* waiting tasks */
	struct scan_job *done;		/* finished, newest first */
	unsigned depth, max_depth;	/* jobs no worker has touched yet */
	unsigned busy;			/* jobs started, not finished */
	int stopping;
	unsigned nthreads;
	pthread_t *threads;
	unsigned nnet, net_max, net_idle;
	pthread_t *net_threads;
	void (*notify)(void *);
	void *notify_arg;
};


/* run_one - scanner i of the job in the calling thread; the verdict in *v,
 * its headers in *h; 0, or -1 when the message's deadline had passed */
static int run_one(struct scan_job *job, unsigned i, struct scan_verdict *v, struct scan_headers *h)
{
	struct scan_input in = job->in;
	int64_t own;

	memset(v, 0, sizeof *v);
	h->len = 0;
	h->buf[0] = 0;
	if (job->in.deadline_ms && scan_now_ms() >= job->in.deadline_ms) {
		scan_verdict_set(v, SCAN_ERROR, job->scanners[i]->name,
				 "deadline passed before %s ran", job->scanners[i]->name);
		return -1;
	}
	/* each scanner: the message's deadline, or its own when sooner */
	own = job->scanner_timeout_ms ? scan_now_ms() + job->scanner_timeout_ms : 0;
	if (own && (!in.deadline_ms || own < in.deadline_ms))
		in.deadline_ms = own;
	in.cancel = &job->cancel;
	in.hdr = h;
	job->scanners[i]->scan(job->states[i], &in, v);
	if (!v->scanner)
		v->scanner = job->scanners[i]->name;
	return 0;
}

/* take - merge a scanner's verdict into the job (caller holds the lock, if
 * any); the headers follow the verdict, or fill a job that has none yet
 * from a scanner of the same verdict */
static void take(struct scan_job *job, const struct scan_verdict *v, const struct scan_headers *h,
		 int cancel_others)
{
	int took = scan_verdict_merge(&job->verdict, v);

	if (h->len && (took || (!job->headers.len && v->kind == job->verdict.kind))) {
		memcpy(job->headers.buf, h->buf, h->len + 1);
		job->headers.len = h->len;
	} else if (took)
		job->headers.len = 0, job->headers.buf[0] = 0;
	if (cancel_others && job->verdict.kind >= SCAN_BANNED)
		job->cancel = 1;	/* decisive: the job's other tasks may stop */
}

static void job_reset(struct scan_job *job)
{
	scan_verdict_set(&job->verdict, SCAN_CLEAN, "none", "%s", "");
	job->headers.len = 0;
	job->headers.buf[0] = 0;
	job->in.cancel = &job->cancel;
}

/* scan_run - all a job's scanners in order in the calling thread */
void scan_run(struct scan_job *job)
{
	struct scan_headers *h = malloc(sizeof *h);
	unsigned i;

	job_reset(job);
	for (i = 0; i < job->nscanners && !job->cancel; i++) {
		struct scan_verdict v;
		struct scan_headers none;

		if (run_one(job, i, &v, h ? h : &none) < 0) {
			scan_verdict_merge(&job->verdict, &v);
			break;
		}
		take(job, &v, h ? h : &none, 0);
		if (job->verdict.kind >= SCAN_BANNED)
			break;
	}
	free(h);
}

static void tq_put(struct tq *q, struct scan_task *t)
{
	t->next = NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
	q->len++;
}

static struct scan_task *tq_get(struct tq *q)
{
	struct scan_task *t = q->head;

	if (t && !(q->head = t->next))
		q->tail = NULL;
	if (t)
		q->len--;
	return t;
}

/* run_task - a task's scanners in order; each verdict merged at once, so a
 * decisive one cancels the job's other tasks while this one goes on */
static void run_task(struct scan_pool *p, struct scan_task *t, struct scan_headers *h)
{
	struct scan_job *job = t->job;
	unsigned i;

	for (i = t->first; i < t->last; i++) {
		struct scan_verdict v;
		int late;

		if (job->scanners[i]->class != t->cls)
			continue;
		if (job->cancel)
			break;
		late = run_one(job, i, &v, h) < 0;
		pthread_mutex_lock(&p->mu);
		take(job, &v, h, 1);
		pthread_mutex_unlock(&p->mu);
		if (late || job->cancel)
			break;
	}
}

/* finish - the task's end: the job is done when it was its last (lock held);
 * 1 when notify() is due */
static int finish(struct scan_pool *p, struct scan_task *t)
{
	struct scan_job *job = t->job;

	if (--job->tasks_left)
		return 0;
	p->busy--;
	job->next = p->done;
	p->done = job;
	return 1;
}

struct worker_arg {
	struct scan_pool *p;
	enum scan_class cls;
};

static void *worker(void *arg)
{
	struct scan_pool *p = ((struct worker_arg *)arg)->p;
	enum scan_class cls = ((struct worker_arg *)arg)->cls;
	struct scan_headers *h = malloc(sizeof *h);	/* 4 KiB: not on the stack */
	struct scan_headers fallback;
	pthread_cond_t *cv = cls == SCAN_NET ? &p->net_cv : &p->cpu_cv;

	free(arg);
	if (!h)
		h = &fallback;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct scan_task *t;

		/* CPU workers take network tasks when no network thread runs */
		if (cls == SCAN_NET) {
			/* net_idle counts this thread from its creation on,
			 * except while it runs a task */
			while (!p->net.head && !p->stopping)
				pthread_cond_wait(cv, &p->mu);
			if ((t = tq_get(&p->net)))
				p->net_idle--;
		} else {
			while (!p->cpu.head && !(p->nnet == 0 && p->net.head) && !p->stopping)
				pthread_cond_wait(cv, &p->mu);
			if (!(t = tq_get(&p->cpu)) && p->nnet == 0)
				t = tq_get(&p->net);
		}
		if (!t)
			break;	/* stopping and nothing queued */
		if (!t->job->started) {
			t->job->started = 1;
			p->depth--;
			p->busy++;
		}
		pthread_mutex_unlock(&p->mu);

		run_task(p, t, h);

		pthread_mutex_lock(&p->mu);
		if (cls == SCAN_NET)
			p->net_idle++;
		if (finish(p, t)) {
			pthread_mutex_unlock(&p->mu);
			p->notify(p->notify_arg);
			pthread_mutex_lock(&p->mu);
		}
	}
	pthread_mutex_unlock(&p->mu);
	if (h != &fallback)
		free(h);
	return NULL;
}

static int start_thread(struct scan_pool *p, pthread_t *t, enum scan_class cls)
{
	struct worker_arg *a = malloc(sizeof *a);
	int err;

	if (!a)
		return ENOMEM;
	a->p = p;
	a->cls = cls;
	if ((err = pthread_create(t, NULL, worker, a)))
		free(a);
	return err;
}

struct scan_pool *scan_pool_new(unsigned nthreads, unsigned max_depth,
				void (*notify)(void *), void *arg)
{
	struct scan_pool *p = calloc(1, sizeof *p);
	unsigned i;

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cpu_cv, NULL);
	pthread_cond_init(&p->net_cv, NULL);
	p->max_depth = max_depth ? max_depth : 1;
	p->net_max = NET_THREADS_DEFAULT;
	p->notify = notify;
	p->notify_arg = arg;
	if (!(p->threads = calloc(nthreads ? nthreads : 1, sizeof *p->threads))) {
		free(p);
		return NULL;
	}
	for (i = 0; i < (nthreads ? nthreads : 1); i++) {
		int err = start_thread(p, &p->threads[i], SCAN_CPU);

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

void scan_pool_net_threads(struct scan_pool *p, unsigned n)
{
	pthread_mutex_lock(&p->mu);
	if (!p->net_threads)
		p->net_max = n < 1 ? 1 : n > NET_THREADS_MAX ? NET_THREADS_MAX : n;
	pthread_mutex_unlock(&p->mu);
}

/* net_grow - one more network thread when tasks wait and none is idle (lock held) */
static void net_grow(struct scan_pool *p)
{
	if (p->net_idle >= p->net.len || p->nnet >= p->net_max)
		return;
	if (!p->net_threads && !(p->net_threads = calloc(p->net_max, sizeof *p->net_threads)))
		return;
	while (p->nnet < p->net_max && p->net_idle < p->net.len) {
		if (start_thread(p, &p->net_threads[p->nnet], SCAN_NET))
			return;	/* the CPU workers or the running ones take it */
		p->nnet++;
		p->net_idle++;
	}
}

int scan_pool_submit(struct scan_pool *p, struct scan_job *job)
{
	unsigned i, nnet = 0, ncpu = 0;

	if (job->nscanners > SCAN_JOB_MAX)
		return -1;
	job_reset(job);
	job->next = NULL;
	job->cancel = 0;
	job->started = 0;
	for (i = 0; i < job->nscanners; i++) {
		if (job->scanners[i]->class == SCAN_NET) {
			struct scan_task *t = &job->task[1 + nnet++];

			t->job = job;
			t->first = i;
			t->last = i + 1;
			t->cls = SCAN_NET;
		} else
			ncpu++;
	}
	job->task[0].job = job;
	job->task[0].first = 0;
	job->task[0].last = job->nscanners;
	job->task[0].cls = SCAN_CPU;
	pthread_mutex_lock(&p->mu);
	if (p->depth >= p->max_depth || p->stopping) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	/* a job with no scanner at all still passes through a CPU worker */
	job->tasks_left = nnet + (ncpu || !nnet);
	if (ncpu || !nnet)
		tq_put(&p->cpu, &job->task[0]);
	for (i = 0; i < nnet; i++)
		tq_put(&p->net, &job->task[1 + i]);
	p->depth++;
	if (nnet) {
		net_grow(p);
		pthread_cond_broadcast(&p->net_cv);
	}
	if (ncpu || !nnet || p->nnet == 0)
		pthread_cond_broadcast(&p->cpu_cv);
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
	pthread_cond_broadcast(&p->cpu_cv);
	pthread_cond_broadcast(&p->net_cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	/* no submit can come now: nnet is final */
	for (i = 0; i < p->nnet; i++)
		pthread_join(p->net_threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cpu_cv);
	pthread_cond_destroy(&p->net_cv);
	free(p->threads);
	free(p->net_threads);
	free(p);
}
