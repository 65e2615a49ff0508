/*
 * router_stats.c - one log line per message, and the live figures.
 *
 *	router_log() writes the multilog-friendly line (no timestamp: multilog
 *	adds one):
 *	  msg queue1 id 123 qp 456 uid 7 from <a@b> rcpts 2 bytes 4211
 *	      verdict clean action commit exit 0 ms 12 [policy <entries>]
 *	      [forged N] [why ...]
 *	forged: a tagged message's own fields of sluice's header names, removed.
 *	exit shows "31/82" when a custom-error code replaces the plain one
 *	whenever the convention's fd is open.
 *	router_stats_answer() counts answers by outcome, by verdict and latency
 *	(a histogram of 2^i ms buckets and the sum);
 *	router_stats_serve() writes the figures on the stats socket as
 *	"key value" lines (sluice-qstat reads them).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "router_int.h"

/* safe - the printable part of an address, for the log */
static void safe(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; s && *s && n + 1 < cap; s++)
		out[n++] = (*s > 0x20 && *s < 0x7f) ? *s : '?';
	out[n] = 0;
}

/* outcome - what happened to the message, for the log line */
static const char *outcome(const struct rmsg *m)
{
	if (m->action == ACTION_QUARANTINE && !m->action_failed)
		return "quarantine";
	if (m->status == SQ_DROPPED)
		return "drop";
	switch (m->reply.plain) {
	case QQ_OK:
		if (m->remote)	/* a remote server's K */
			return "relay";
		return m->action == ACTION_TAG ? "tag" : "commit";
	case QQ_PERM:
		return "reject";
	case QQ_TEMP:
		return "defer";
	}
	return "fail";
}

void router_log(const struct rmsg *m, int64_t ms)
{
	char from[256], why[320], pol[760] = "", forged[24] = "";
	size_t pl;
	const char *applied = router_policy_applied(m);

	safe(from, sizeof from, m->env.buf ? queue_env_sender(&m->env) : NULL);
	if (applied) {
		memcpy(pol, " policy ", 8);
		safe(pol + 8, sizeof pol - 8, applied);
	}
	if (m->pin_note[0] && (pl = strlen(pol)) + 6 < sizeof pol) {
		memcpy(pol + pl, " pin ", 5);
		safe(pol + pl + 5, sizeof pol - pl - 5, m->pin_note);
	}
	if (m->forged)
		snprintf(forged, sizeof forged, " forged %u", m->forged);
	snprintf(why, sizeof why, "%s", m->why);
	for (char *p = why; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	/* "exit 31/82": plain code, and the custom one used when its fd is open;
	 * "remote <server>": the QMQP server that answered, or the last tried */
	fprintf(stderr, "msg %s id %lu qp %ld uid %ld from <%s> rcpts %u bytes %lld verdict %s action %s exit %d%s%.0d ms %lld%s%s%s%s%s%s\n",
		m->rq ? m->rq->name : "-", m->have_qm ? (unsigned long)m->qm.id : 0UL,
		(long)m->pid, (long)m->uid, from, m->env.nrcpt,
		m->have_qm ? (long long)m->qm.size : 0LL, m->verdict ? m->verdict : "none",
		outcome(m), m->reply.plain, m->reply.code != m->reply.plain ? "/" : "",
		m->reply.code != m->reply.plain ? m->reply.code : 0, (long long)ms,
		m->relay.server ? " remote " : "", m->relay.server ? m->relay.server->addr.name : "",
		pol, forged, *why ? " why " : "", why);
}

/* The verdict words of the log line, counted for the stats socket. */
static const char *const verdicts[ROUTER_NVERDICT] = {
	"clean", "infected", "banned", "spam", "limit", "error", "noscan", "scan-timeout", "timeout",
	"aborted", "client-gone", "no-queue", "shutdown", "quarantine-failed", "unscanned", "none",
};

void router_stats_answer(struct router *r, struct rmsg *m, int64_t ms)
{
	struct router_stats *s = &r->st;
	unsigned b = 0, i;

	switch (m->reply.plain) {
	case QQ_OK:
		if (m->status == SQ_DROPPED)
			s->dropped++;
		else
			s->accepted++;
		break;
	case QQ_PERM:
		s->rejected++;
		break;
	case QQ_TEMP:
		s->deferred++;
		break;
	default:
		s->failed++;
		break;
	}
	for (i = 0; i < ROUTER_NVERDICT && verdicts[i]; i++)
		if (m->verdict && !strcmp(m->verdict, verdicts[i])) {
			s->by_verdict[i]++;
			break;
		}
	while (b + 1 < HIST_BUCKETS && ms >= (1LL << b))
		b++;
	s->hist[b]++;
	s->latency_ms_sum += ms > 0 ? (uint64_t)ms : 0;
}

/* percentile - upper bound in ms of the bucket holding the p-th answer */
static long long percentile(const struct router_stats *s, double p)
{
	unsigned long total = 0, seen = 0;
	unsigned i;

	for (i = 0; i < HIST_BUCKETS; i++)
		total += s->hist[i];
	if (!total)
		return 0;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += s->hist[i];
		if ((double)seen >= p * (double)total)
			return 1LL << i;
	}
	return 1LL << (HIST_BUCKETS - 1);
}

void router_stats_serve(struct router *r, int fd)
{
	const struct router_stats *s = &r->st;
	char buf[32768];	/* up to 64 remote queues' lines besides the rest */
	size_t n = 0;
	unsigned i, waiting = 0, busy = 0;

	if (r->pool)
		scan_pool_load(r->pool, &waiting, &busy);
	pthread_mutex_lock(&r->sync_mu);
	n += (size_t)snprintf(buf + n, sizeof buf - n,
		"inflight %u\nbytes_inflight %llu\naccepted %lu\nrejected %lu\ndeferred %lu\n"
		"dropped %lu\nfailed %lu\nbytes %llu\nscan_waiting %u\nscan_busy %u\n"
		"batches %lu\nbatch_messages %lu\nbatch_max %lu\nlatency_p50_ms %lld\n"
		"latency_p99_ms %lld\n",
		r->inflight, (unsigned long long)r->bytes_inflight, s->accepted, s->rejected,
		s->deferred, s->dropped, s->failed, (unsigned long long)s->bytes, waiting, busy,
		s->batches, s->batch_msgs, s->batch_max, percentile(s, 0.5), percentile(s, 0.99));
	pthread_mutex_unlock(&r->sync_mu);
	/* the whole histogram, for monitoring (sluice-qstat --prometheus) */
	n += (size_t)snprintf(buf + n, sizeof buf - n, "latency_hist_ms");
	for (i = 0; i < HIST_BUCKETS; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, " %lu", s->hist[i]);
	n += (size_t)snprintf(buf + n, sizeof buf - n, "\nlatency_sum_ms %llu\n",
			      (unsigned long long)s->latency_ms_sum);
	for (i = 0; i < ROUTER_NVERDICT && verdicts[i]; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "verdict_%s %lu\n", verdicts[i],
				      s->by_verdict[i]);
	n += router_scan_stats(r, buf + n, sizeof buf - 256 - n);
	n += router_remote_stats(r, buf + n, sizeof buf - 256 - n);
	for (i = 0; i < r->nq && n < sizeof buf - 256; i++) {
		const struct rqueue *q = &r->queues[i];

		n += (size_t)snprintf(buf + n, sizeof buf - n,
			"queue %s inflight %u backlog %lu committed %lu failed %lu down %d send %d\n",
			q->name, q->inflight, q->backlog, q->committed, q->failed, q->down,
			q->send_running);
	}
	(void)!write(fd, buf, n);
}
