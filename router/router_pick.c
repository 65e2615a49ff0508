/*
 * router_pick.c - which queue a message goes to, and the queues' health.
 *
 *	router_pick() hashes the message to two candidate queues and takes
 *	the less loaded (our messages in flight + its todo/intd backlog) of
 *	those that are usable; when neither is, it tries the others in turn.
 *	A queue is unusable while a "down" file exists in it, while its
 *	filesystem has less than MIN_FREE bytes, while its backlog exceeds
 *	SLUICE_MAX_BACKLOG, and for 10 s after a write error.
 *	router_health() refreshes those figures once a second.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "router_int.h"

#define FAILING_MS 10000

static int usable(const struct router *r, const struct rqueue *q, int64_t now)
{
	return !q->down && now >= q->failing_until &&
	       (!r->cfg->min_free || q->free_bytes >= r->cfg->min_free) &&
	       q->backlog <= r->cfg->max_backlog;
}

static unsigned long load(const struct rqueue *q)
{
	return q->inflight + q->backlog;
}

struct rqueue *router_pick(struct router *r, uid_t uid, pid_t pid)
{
	uint64_t h = ((uint64_t)pid << 32 | ++r->pick_seq) * 0x9E3779B97F4A7C15ull;
	unsigned a, b, i;
	int64_t now = router_now_ms();

	if (r->nq == 1)
		return usable(r, &r->queues[0], now) ? &r->queues[0] : NULL;
	a = (unsigned)((h >> 32) % r->nq);
	b = (unsigned)((h >> 8) % (r->nq - 1));
	b = b >= a ? b + 1 : b;		/* two distinct candidates */
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

void router_queue_failed(struct router *r, struct rqueue *q)
{
	q->failed++;
	q->failing_until = router_now_ms() + FAILING_MS;
}

void router_health(struct router *r)
{
	unsigned i;

	for (i = 0; i < r->nq; i++) {
		struct rqueue *q = &r->queues[i];
		struct statvfs sv;
		struct stat st;
		int down = fstatat(q->q.dirfd, "down", &st, 0) == 0;

		if (down != q->down)
			fprintf(stderr, "sluiced: %s: %s\n", q->name,
				down ? "marked down: no new messages" : "no longer down");
		q->down = down;
		if (fstatvfs(q->q.dirfd, &sv) == 0)
			q->free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
		q->backlog = queue_backlog(&q->q);
	}
}
