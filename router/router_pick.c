/*
 * router_pick.c - which queue a message goes to, and the queues' health.
 *
 *	router_pick() hashes the message to two candidate queues and takes
 *	the less loaded (our messages in flight + its todo/intd backlog) of
 *	those that are usable; when neither is, it tries the others in turn.
 *	A queue is unusable while a "down" file exists in it, while its
 *	filesystem has less than MIN_FREE bytes, while its backlog exceeds
 *	SLUICE_MAX_BACKLOG, for 10 s after a write error, and, with
 *	SLUICE_REQUIRE_SEND=1, while no qmail-send holds its lock/sendmutex.
 *	router_health() refreshes those figures once a second.
 *
 *	qmail-send holds flock() on lock/sendmutex (qmails 0600: we cannot
 *	open it); fcntl(F_GETLK) cannot see flock locks, so the check looks the
 *	file's device and inode up in /proc/locks.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "router_int.h"

#define FAILING_MS 10000

static int usable(const struct router *r, const struct rqueue *q, int64_t now)
{
	return !q->down && now >= q->failing_until && (!r->cfg->require_send || q->send_running) &&
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
	q->failed++;
	q->failing_until = router_now_ms() + FAILING_MS;
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

void router_health(struct router *r)
{
	static char locks[65536];
	unsigned i;

	if (r->cfg->require_send)
		locks[locks_load(locks, sizeof locks)] = 0;

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
		if (r->cfg->require_send) {
			int run = send_running(q, locks);

			if (run != q->send_running)
				fprintf(stderr, "sluiced: %s: %s\n", q->name,
					run ? "qmail-send is running" : "no qmail-send holds lock/sendmutex: no new messages");
			q->send_running = run;
		}
	}
}
