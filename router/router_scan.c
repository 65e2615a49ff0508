/*
 * router_scan.c - the router's side of the scan stage.
 *
 *	router_scan_start() initialises the configured scanners once and
 *	starts the pool; router_scan_submit() hands a message to the pool, or
 *	parks it in a FIFO while the pool's queue is full (and stops accepting
 *	new clients meanwhile); router_scan_done() takes finished jobs back on
 *	the loop thread and hands each verdict to its message's stage
 *	driver (msg_step); router_scan_reload() asks
 *	every scanner to reload (SIGHUP).
 *	A job scans a dup() of the mess fd: whatever the message's fate, the
 *	worker's fd stays valid until the pool hands the job back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router_int.h"
#include "queue/diag.h"

static void notify(void *arg)
{
	struct router *r = arg;

	ev_async_send(r->loop, &r->scan_async);
}

/* scanned_by - "sluice 0.1.0 (clamav 1.4.6, attach)" for X-Virus-Scanned,
 * with the engine's version of each backend that has one (version()) */
static void scanned_by(struct router *r)
{
	const struct router_config *c = r->cfg;
	size_t n;
	unsigned i;

	n = (size_t)snprintf(r->scanned_by, sizeof r->scanned_by, "sluice %s%s", SLUICE_VERSION,
			     c->nscanners ? " (" : "");
	for (i = 0; i < c->nscanners && n < sizeof r->scanned_by - 64; i++) {
		char ver[64] = "";
		size_t k;

		if (c->scanners[i]->version)
			c->scanners[i]->version(r->states[i], ver, sizeof ver);
		for (k = 0; ver[k] > ' ' && ver[k] < 0x7f; k++)
			;
		ver[k] = 0;	/* one word, header-safe: it goes into every tagged message */
		n += (size_t)snprintf(r->scanned_by + n, sizeof r->scanned_by - n, "%s%s%s%s",
				      i ? ", " : "", c->scanners[i]->name, *ver ? " " : "", ver);
	}
	if (c->nscanners && n < sizeof r->scanned_by - 2)
		snprintf(r->scanned_by + n, sizeof r->scanned_by - n, ")");
}

int router_scan_start(struct router *r, char *err, size_t errlen)
{
	const struct router_config *c = r->cfg;
	unsigned i;

	for (i = 0; i < c->nscanners; i++) {
		char e[512] = "";

		if (c->scanners[i]->flags & SCAN_B_NEEDS_PATH)
			r->want_path = 1;	/* exec's %s: every other reads the fd */
		if (c->scanners[i]->init(&r->states[i], &c->scan, e, sizeof e) < 0) {
			snprintf(err, errlen, "scanner %s: %s", c->scanners[i]->name, e);
			return -1;
		}
	}
	scanned_by(r);
	/* always: even with no scanner configured, a policy may add one
	 * (regex=) to a message */
	if (!(r->pool = scan_pool_new(c->workers, c->scan_depth, notify, r))) {
		snprintf(err, errlen, "cannot start %u scan workers", c->workers);
		return -1;
	}
	if (r->pool)
		scan_pool_net_threads(r->pool, c->net_threads);
	return 0;
}

void router_scan_stop(struct router *r)
{
	unsigned i;
	struct rmsg *m;

	scan_pool_free(r->pool);
	r->pool = NULL;
	/* messages answered while a worker still read them (client gone,
	 * deadline): the loop stopped before the pool handed them back, and
	 * only now may their files go */
	for (m = r->all; m; m = m->next)
		if (m->abort_pending) {
			queue_msg_abort(&m->qm);
			m->abort_pending = 0;
		}
	/* A reload thread (detached) may still be building an engine into the
	 * scanners' states: fini must not free them under it.  It touches
	 * nothing of ours after clearing r->reloading. */
	if (__atomic_load_n(&r->reloading, __ATOMIC_ACQUIRE))
		diag_info("waiting for the scanner reload to finish");
	for (i = 0; i < 6000 && __atomic_load_n(&r->reloading, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	if (__atomic_load_n(&r->reloading, __ATOMIC_ACQUIRE)) {
		/* 60 s: exit without freeing what the reload still uses */
		diag_info("reload still running after 60 s; not waiting");
		return;
	}
	for (i = 0; i < r->cfg->nscanners; i++)
		if (r->states[i])
			r->cfg->scanners[i]->fini(r->states[i]);
}

/*
 * helo - rspamd's Helo: the client's HELO name from the Received line
 *	qmail-smtpd wrote as the first line of its data, right after ours
 *	(queue_received_helo), and only when the line's IP is the client's
 *	TCPREMOTEIP; a local injection, or a line from elsewhere, gives none.
 *	One pread of the line's bytes (just written: in the page cache), only
 *	for a message rspamd checks: spamd's protocol has no place for it.
 */
static void helo(struct rmsg *m, struct scan_job *j)
{
	char buf[1024];
	ssize_t n;
	unsigned i;

	m->helo[0] = 0;
	for (i = 0; i < m->nscanners && m->scanners[i] != &scan_backend_rspamd; i++)
		;
	if (i == m->nscanners || !j->in.remote_ip)
		return;
	do
		n = pread(m->qm.fd, buf, sizeof buf, (off_t)m->rlen);
	while (n < 0 && errno == EINTR);
	if (n > 0 && queue_received_helo(buf, (size_t)n, j->in.remote_ip, m->helo, sizeof m->helo))
		j->in.helo = m->helo;
}

static int submit(struct router *r, struct rmsg *m)
{
	struct scan_job *j = &m->job;

	memset(j, 0, sizeof *j);
	if ((j->in.fd = fcntl(m->qm.fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -1;
	if (r->want_path && !m->messpath && asprintf(&m->messpath, "%s/mess/%lu/%lu", m->rq->q.path,
				     (unsigned long)m->qm.id % m->rq->q.split,
				     (unsigned long)m->qm.id) < 0) {
		/* an exec scanner without the path would read "/dev/fd/0":
		 * clamdscan would have clamd scan its own stdin */
		m->messpath = NULL;
		close(j->in.fd);
		return -1;
	}
	j->in.path = m->messpath;	/* for an exec scanner's %s (clamd opens it) */
	/* what qmail-smtpd's environment said of the client (network scanners) */
	j->in.remote_ip = wire_env_get(m->payload, m->payload_len, "TCPREMOTEIP");
	j->in.auth_user = wire_env_get(m->payload, m->payload_len, "SMTPAUTHUSER");
	j->in.relayclient = wire_env_get(m->payload, m->payload_len, "RELAYCLIENT") != NULL;
	helo(m, j);
	snprintf(m->queue_id, sizeof m->queue_id, "%s/%lu", m->rq->name, (unsigned long)m->qm.id);
	j->in.queue_id = m->queue_id;
	/* spamd sends its X-Spam-* headers only when they will be used */
	j->in.want_headers = m->act.on_spam == ACTION_TAG || m->act.tag_clean;
	j->in.size = m->qm.size;
	j->in.sender = queue_env_sender(&m->env);
	j->in.rcpts = m->rcpts;
	j->in.deadline_ms = m->scan_deadline;	/* from entering SCAN: waiting counts */
	j->scanner_timeout_ms = r->cfg->scanner_timeout_ms;
	router_policy_input(m, &j->in);
	j->scanners = m->scanners;	/* the message's own: router_policy.c */
	j->states = m->states;
	j->nscanners = m->nscanners;
	j->owner = m;
	if (scan_pool_submit(r->pool, j) < 0) {
		close(j->in.fd);
		return 1;
	}
	m->in_pool = 1;
	m->timer.repeat = (double)(m->scan_deadline - router_now_ms()) / 1000.0 + 1.0;
	if (m->timer.repeat < 0.001)	/* waited in the FIFO to the end */
		m->timer.repeat = 0.001;
	ev_timer_again(r->loop, &m->timer);
	return 0;
}

void router_scan_submit(struct router *r, struct rmsg *m)
{
	int rc;

	ev_timer_stop(r->loop, &m->timer);
	m->scan_deadline = router_now_ms() + r->cfg->scan_timeout_ms;
	if (r->scan_wait_head || (rc = submit(r, m)) == 1) {
		m->wait_next = NULL;
		if (r->scan_wait_tail)
			r->scan_wait_tail->wait_next = m;
		else
			r->scan_wait_head = m;
		r->scan_wait_tail = m;
		m->parked = 1;
		/* waiting for a worker counts against the scan deadline too */
		m->timer.repeat = r->cfg->scan_timeout_ms / 1000.0 + 1.0;
		ev_timer_again(r->loop, &m->timer);
		router_admit(r);
		return;
	}
	if (rc < 0)
		msg_finish(m, SQ_TEMP_BUSY, "error", NULL, "cannot dup the mess fd for the scanner");
}

/* drain_wait - move parked messages into the pool while it has room */
static void drain_wait(struct router *r)
{
	while (r->scan_wait_head) {
		struct rmsg *m = r->scan_wait_head;
		int rc;

		if ((rc = submit(r, m)) == 1)
			break;
		r->scan_wait_head = m->wait_next;
		m->parked = 0;
		if (rc < 0)
			msg_finish(m, SQ_TEMP_BUSY, "error", NULL, "cannot dup the mess fd for the scanner");
	}
	if (!r->scan_wait_head)
		r->scan_wait_tail = NULL;
	router_admit(r);
}

/* router_scan_unpark - take an answered message out of the wait FIFO */
void router_scan_unpark(struct router *r, struct rmsg *m)
{
	struct rmsg **pp, *prev = NULL;

	for (pp = &r->scan_wait_head; *pp; prev = *pp, pp = &(*pp)->wait_next)
		if (*pp == m) {
			*pp = m->wait_next;
			if (r->scan_wait_tail == m)
				r->scan_wait_tail = prev;
			break;
		}
	m->parked = 0;
}

void router_scan_done(struct router *r)
{
	struct scan_job *j = scan_pool_done(r->pool);

	while (j) {
		struct scan_job *next = j->next;
		struct rmsg *m = j->owner;

		close(j->in.fd);
		m->in_pool = 0;
		if (m->stage == ST_SCAN && !m->scanned) {
			m->v = j->verdict;
			m->scanned = 1;
			/* a scanner that gave up at the deadline: a scan time-out,
			 * whoever noticed it first */
			if (m->v.kind == SCAN_ERROR && router_now_ms() >= m->scan_deadline)
				m->scan_timed_out = 1;
			msg_step(m);
		} else if (m->stage == ST_ANSWER) {
			if (m->abort_pending)
				queue_msg_abort(&m->qm);
			router_reap_later(m);
		}
		/* past SCAN: the deadline decided (its verdict is m->v) and the
		 * message moved on; the sync thread may have it */
		j = next;
	}
	drain_wait(r);
}

/* reload_main - reload every scanner off the loop thread: building a new
 * clamav engine takes from a fraction of a second to many seconds */
static void *reload_main(void *arg)
{
	struct router *r = arg;
	const struct router_config *c = router_cfg(r);	/* the reload thread's */
	unsigned i;

	for (i = 0; i < c->nscanners; i++) {
		char e[512] = "";

		if (!c->scanners[i]->reload)
			continue;
		if (c->scanners[i]->reload(r->states[i], e, sizeof e) < 0)
			diag_warn("reload of %s failed, the old one serves: %s",
				c->scanners[i]->name, e);
		else
			diag_info("%s reloaded", c->scanners[i]->name);
	}
	__atomic_store_n(&r->reloading, 0, __ATOMIC_RELEASE);
	return NULL;
}

void router_scan_reload(struct router *r)
{
	pthread_t t;
	pthread_attr_t a;

	if (__atomic_exchange_n(&r->reloading, 1, __ATOMIC_ACQ_REL)) {
		diag_info("reload already running");
		return;
	}
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, reload_main, r) != 0) {
		diag_warn("cannot start the reload thread");
		__atomic_store_n(&r->reloading, 0, __ATOMIC_RELEASE);
	}
	pthread_attr_destroy(&a);
}

/* router_scan_check - the reload timer: reload when a signature DB changed */
void router_scan_check(struct router *r)
{
	unsigned i;

	for (i = 0; i < r->cfg->nscanners; i++)
		if (r->cfg->scanners[i]->changed && r->cfg->scanners[i]->changed(r->states[i])) {
			diag_info("%s signature directory changed: reloading",
				r->cfg->scanners[i]->name);
			router_scan_reload(r);
			return;
		}
}

/* router_scan_stats - every scanner's "key value" lines */
size_t router_scan_stats(struct router *r, char *buf, size_t len)
{
	size_t n = 0;
	unsigned i;

	for (i = 0; i < r->cfg->nscanners && n + 1 < len; i++)
		if (r->cfg->scanners[i]->stats)
			n += r->cfg->scanners[i]->stats(r->states[i], buf + n, len - n);
	return n;
}
