/*
 * router_pick.c - which queue a message goes to, and the queues' health.
 *
 *	router_pick() weighs two candidate queues, one hashed and one taken
 *	in turn (every queue is weighed within as many choices as there are
 *	queues), and takes the less loaded (our messages in flight + its
 *	todo/intd backlog) of those that are usable; when neither is, it
 *	tries the others in turn.  The choice holds
 *	for the messages that arrive during one commit round of the sync
 *	thread (they are committed together: fewer directories to fsync).
 *	A queue is unusable while a "down" file exists in it, while its
 *	filesystem has less than MIN_FREE bytes, while its backlog exceeds
 *	SLUICE_MAX_BACKLOG, for a moment after a write error (1 s, doubling
 *	with each further error up to 10 s, back to 1 s after a commit: a
 *	queue whose disk filled and emptied again is tried soon), and, with
 *	SLUICE_REQUIRE_SEND=1, while no qmail-send holds its lock/sendmutex.
 *	A health thread measures those figures once a second (listing todo/
 *	and intd/ is slow with a large backlog: never on the loop thread);
 *	router_health_apply() hands its latest figures to the loop thread.
 *
 *	qmail-send holds flock() on lock/sendmutex (qmails 0600: we cannot
 *	open it); fcntl(F_GETLK) cannot see flock locks, so the check looks the
 *	file's device and inode up in /proc/locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "router_int.h"
#include "queue/diag.h"

#define FAILING_MS 1000		/* first skip after a write error */
#define FAILING_MAX_MS 10000

static int usable(const struct router *r, const struct rqueue *q, int64_t now)
{
	return !q->down && now >= q->failing_until && (!r->cfg->require_send || q->send_running) &&
	       (!r->cfg->min_free || q->free_bytes >= r->cfg->min_free) &&
	       q->backlog <= r->cfg->max_backlog;
}

int router_queue_usable(const struct router *r, const struct rqueue *q)
{
	return usable(r, q, router_now_ms());
}

static unsigned long load(const struct rqueue *q)
{
	return q->inflight + q->backlog;
}

static struct rqueue *pick_fresh(struct router *r, pid_t pid, int64_t now)
{
	uint64_t h = ((uint64_t)pid << 32 | ++r->pick_seq) * 0x9E3779B97F4A7C15ull;
	unsigned a, b, i;

	if (r->nq == 1)
		return usable(r, &r->queues[0], now) ? &r->queues[0] : NULL;
	a = (unsigned)((h >> 32) % r->nq);
	/* the second candidate takes every queue in turn: within nq fresh
	 * choices each queue is weighed at least once, so one left idle is
	 * found however many messages each choice is held for (a round's) */
	b = (unsigned)(r->pick_seq % r->nq);
	if (b == a)
		b = (b + 1) % r->nq;	/* two distinct candidates */
	if (usable(r, &r->queues[a], now) && usable(r, &r->queues[b], now))
		return load(&r->queues[b]) < load(&r->queues[a]) ? &r->queues[b] : &r->queues[a];
	if (usable(r, &r->queues[a], now))
		return &r->queues[a];
	if (usable(r, &r->queues[b], now))
		return &r->queues[b];
	for (i = 1; i < r->nq; i++) {
		struct rqueue *q = &r->queues[(a + i) % r->nq];

		if (usable(r, q, now))
			return q;
	}
	return NULL;
}

/* router_pick - one choice per commit round: the messages that arrive while
 * the sync thread's round runs go together into the next round, and if they
 * share a queue that round fsyncs its intd/, pid/ and todo/ once for all of
 * them instead of once per queue.  The choice is made again for each round,
 * and after SLUICE_BATCH messages (a round that stalls on a slow disk does
 * not send everything to one queue), so the load still spreads. */
struct rqueue *router_pick(struct router *r, uid_t uid, pid_t pid)
{
	unsigned long round = __atomic_load_n(&r->rounds, __ATOMIC_RELAXED);
	int64_t now = router_now_ms();

	(void)uid;
	if (r->pick_last && r->pick_round == round && r->pick_uses < r->cfg->batch_max &&
	    usable(r, r->pick_last, now)) {
		r->pick_uses++;
		return r->pick_last;
	}
	r->pick_round = round;
	r->pick_uses = 1;
	return r->pick_last = pick_fresh(r, pid, now);
}

int router_all_short_of_space(const struct router *r)
{
	unsigned i;

	if (!r->cfg->min_free)
		return 0;
	for (i = 0; i < r->nq; i++)
		if (r->queues[i].free_bytes >= r->cfg->min_free)
			return 0;
	return 1;
}

void router_queue_failed(struct router *r, struct rqueue *q)
{
	int64_t ms = FAILING_MS;
	unsigned i;

	for (i = 0; i < q->fail_streak && ms < FAILING_MAX_MS; i++)
		ms *= 2;
	q->failed++;
	q->fail_streak++;
	q->failing_until = router_now_ms() + (ms < FAILING_MAX_MS ? ms : FAILING_MAX_MS);
}

/* locks_load - the FLOCK entries of /proc/locks as "maj:min:ino" strings, in buf */
static size_t locks_load(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	size_t n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		char kind[16], dev[64];

		if (sscanf(line, "%*s %15s %*s %*s %*s %63s", kind, dev) == 2 && !strcmp(kind, "FLOCK") &&
		    n + strlen(dev) + 2 < cap)
			n += (size_t)snprintf(buf + n, cap - n, " %s ", dev);
	}
	fclose(f);
	return n;
}

/* send_running - whether some process holds flock on the queue's lock/sendmutex */
static int send_running(const struct rqueue *q, const char *locks)
{
	struct stat st;
	char key[80];

	if (fstatat(q->q.lockfd, "sendmutex", &st, 0) < 0)
		return 0;
	/* /proc/locks prints the device as hex major:minor and the inode in decimal */
	snprintf(key, sizeof key, " %02x:%02x:%lu ", major(st.st_dev), minor(st.st_dev),
		 (unsigned long)st.st_ino);
	return strstr(locks, key) != NULL;
}

/* probe - measure every queue into h[] (any thread: touches no field of the
 * loop thread's; a figure that cannot be measured keeps its value in h[]) */
static void probe(const struct router *r, struct qhealth *h)
{
	static char locks[65536];	/* only one thread probes at a time */
	unsigned i;

	int require_send = router_cfg(r)->require_send;	/* the health thread's */

	if (require_send)
		locks[locks_load(locks, sizeof locks)] = 0;
	for (i = 0; i < r->nq; i++) {
		const struct rqueue *q = &r->queues[i];
		struct statvfs sv;
		struct stat st;

		h[i].down = fstatat(q->q.dirfd, "down", &st, 0) == 0;
		if (fstatvfs(q->q.dirfd, &sv) == 0)
			h[i].free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
		h[i].backlog = queue_backlog((struct queue *)&q->q);
		h[i].send_running = require_send ? send_running(q, locks) : 0;
	}
}

/* apply - take h[] into the queues, logging each change (loop thread) */
static void apply(struct router *r, const struct qhealth *h)
{
	unsigned i;

	for (i = 0; i < r->nq; i++) {
		struct rqueue *q = &r->queues[i];

		if (h[i].down != q->down)
			diag_info("%s: %s", q->name,
				h[i].down ? "marked down: no new messages" : "no longer down");
		if (r->cfg->require_send && h[i].send_running != q->send_running)
			diag_info("%s: %s", q->name,
				h[i].send_running ? "qmail-send is running"
						  : "no qmail-send holds lock/sendmutex: no new messages");
		if ((h[i].backlog > r->cfg->max_backlog) != q->over_backlog) {
			q->over_backlog = !q->over_backlog;
			if (q->over_backlog)
				diag_info("%s: backlog %lu over SLUICE_MAX_BACKLOG %llu: "
					"no new messages", q->name, h[i].backlog,
					(unsigned long long)r->cfg->max_backlog);
			else
				diag_info("%s: backlog %lu, back under SLUICE_MAX_BACKLOG",
					q->name, h[i].backlog);
		}
		q->down = h[i].down;
		q->free_bytes = h[i].free_bytes;
		q->backlog = h[i].backlog;
		q->send_running = h[i].send_running;
	}
}

/* current - the figures the queues hold now (loop thread) */
static void current(const struct router *r, struct qhealth *h)
{
	unsigned i;

	for (i = 0; i < r->nq; i++) {
		h[i].down = r->queues[i].down;
		h[i].free_bytes = r->queues[i].free_bytes;
		h[i].backlog = r->queues[i].backlog;
		h[i].send_running = r->queues[i].send_running;
	}
}

void router_health(struct router *r)
{
	struct qhealth h[r->nq];

	current(r, h);
	probe(r, h);
	apply(r, h);
}

static void *health_main(void *arg)
{
	struct router *r = arg;
	struct qhealth h[r->nq];

	pthread_mutex_lock(&r->health_mu);
	memcpy(h, r->health, sizeof h);	/* the figures at start */
	while (!r->health_stop) {
		struct timespec t;

		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += 1;
		while (!r->health_stop &&
		       pthread_cond_timedwait(&r->health_cv, &r->health_mu, &t) != ETIMEDOUT)
			;
		if (r->health_stop)
			break;
		pthread_mutex_unlock(&r->health_mu);
		probe(r, h);
		pthread_mutex_lock(&r->health_mu);
		memcpy(r->health, h, sizeof h);
		r->health_fresh = 1;
		/* wake the loop now: a down file is honoured within the second */
		ev_async_send(r->loop, &r->health_w);
	}
	pthread_mutex_unlock(&r->health_mu);
	return NULL;
}

int router_health_start(struct router *r)
{
	pthread_condattr_t ca;

	if (!(r->health = calloc(r->nq, sizeof *r->health)))
		return -1;
	current(r, r->health);
	pthread_mutex_init(&r->health_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->health_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&r->health_thread, NULL, health_main, r) != 0)
		return -1;
	r->health_started = 1;
	return 0;
}

void router_health_stop(struct router *r)
{
	if (r->health_started) {
		pthread_mutex_lock(&r->health_mu);
		r->health_stop = 1;
		pthread_cond_signal(&r->health_cv);
		pthread_mutex_unlock(&r->health_mu);
		pthread_join(r->health_thread, NULL);
		r->health_started = 0;
	}
	free(r->health);
	r->health = NULL;
}

void router_health_apply(struct router *r)
{
	struct qhealth h[r->nq];
	int fresh;

	pthread_mutex_lock(&r->health_mu);
	fresh = r->health_fresh;
	if (fresh)
		memcpy(h, r->health, r->nq * sizeof *h);
	r->health_fresh = 0;
	pthread_mutex_unlock(&r->health_mu);
	if (fresh)
		apply(r, h);
}
