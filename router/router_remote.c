/*
 * router_remote.c - remote queues: QMQP servers taken as queues of sluiced.
 *
 * SUMMARY
 *	router_remote_parse() reads SLUICE_QMQP: a list of servers, or the
 *	absolute path of a file in qmail-qmqpc's qmqpservers form (one server
 *	a line).  router_remote_start() makes them the daemon's remote queues.
 *
 *	router_remote_want() decides at REQUEST, once per message, whether
 *	it goes to a remote queue: always with SLUICE_LOCAL_QUEUES=spool (an
 *	edge relay), else for SLUICE_QMQP_WEIGHT percent of the messages (a
 *	hash of the client's pid and a sequence number) while some server is
 *	not resting.  Either way the message is received into a local queue's
 *	mess file as any other - its spool - and scanned from there.
 *
 *	router_remote_relay() runs at COMMIT, on the loop thread: the
 *	non-blocking QMQP exchange of qmqp_client.c driven by an ev_io and an
 *	ev_timer embedded in the message, streaming [Received line's end, EOF)
 *	of the mess file (what qmail-qmqpc sends: the server adds its own
 *	Received line), with the verdict headers of a tagged message sent
 *	first and the sender's own fields of their names left out (one read
 *	of the header block finds them: queue_insert_fields).  The server is chosen then, by the hashed two choices: two
 *	servers of those the message has not tried and that are not resting;
 *	the one with a free connection slot (SLUICE_QMQP_CONNS), not slow,
 *	with the lower cost ((connections + 1) x recent latency) wins; when
 *	neither has a slot the others are tried in turn; when every server
 *	that could take it is at its limit, the message waits in a FIFO until
 *	a connection ends or a server it has not tried ends its rest.  The server's answer is the message's: K commits
 *	it (the spool's files are removed: the message was never committed
 *	locally), Z answers 71 and D 31 with the server's text under a
 *	custom-error convention.  A connection that is refused, times out or
 *	breaks (EOF, an I/O error or time-out, a reply that is not one)
 *	makes the message try the next server, until none is left or
 *	SLUICE_QMQP_TIMEOUT (from COMMIT, never past SLUICE_MESSAGE_TIMEOUT)
 *	has passed.  Then: with local queues, the message is committed in its
 *	spool queue after all (failover: the sync thread takes it like any
 *	other); with a spool, it is answered with the worst failure met, as
 *	qmail-qmqpc's codes go: 74 if a conversation broke (the server may
 *	have the message), else 72 if a connect timed out, else 73; 71 when
 *	the deadline passed while every server was busy.
 *
 *	Health: a server that failed rests SLUICE_QMQP_RETRY seconds (no
 *	message is given to it), then takes one connection at a time until
 *	it answers again (a probe: a server that still fails costs one
 *	message one attempt).  A server whose answer took more than
 *	SLUICE_QMQP_SLOW ms is slow for SLUICE_QMQP_RETRY seconds: avoided
 *	while another server can take the message.  Changes are logged.
 *
 *	router_remote_stats() adds one "remote <server> key value ..." line
 *	per server to the stats socket's figures.
 *
 * DIAGNOSTICS
 *	router_remote_parse() returns -1 naming the setting (and the file and
 *	line) and what is wrong.  A relay's failures go to the message's log
 *	line (why ...), one per server tried; a server going down, resting,
 *	answering again, slow or back to speed gets a line of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router_int.h"
#include "queue/diag.h"

#define FILE_MAX 65536		/* bytes of a qmqpservers file read */
#define EWMA_NEW 0.3		/* weight of an answer's latency in the running figure */

/* ------------------------------------------------------------ settings */

/* add - one server s[0..len) into v; 0, or -1 with err */
static int add(const char *s, size_t len, struct qmqp_addr *v, unsigned *n, const char *where,
	       char *err, size_t errlen)
{
	char one[128], why[300];
	unsigned i;

	if (len >= sizeof one) {
		snprintf(err, errlen, "SLUICE_QMQP%s: %.40s...: not an address", where, s);
		return -1;
	}
	memcpy(one, s, len);
	one[len] = 0;
	if (*n == ROUTER_MAX_REMOTE) {
		snprintf(err, errlen, "SLUICE_QMQP%s: more than %d servers", where, ROUTER_MAX_REMOTE);
		return -1;
	}
	if (qmqp_addr_parse(one, &v[*n], why, sizeof why) < 0) {
		snprintf(err, errlen, "SLUICE_QMQP%s: %s", where, why);
		return -1;
	}
	for (i = 0; i < *n; i++)
		if (!strcmp(v[i].name, v[*n].name)) {
			snprintf(err, errlen, "SLUICE_QMQP%s: %s is listed twice", where, v[i].name);
			memset(&v[*n], 0, sizeof v[*n]);
			return -1;
		}
	(*n)++;
	return 0;
}

/* parse_file - qmail-qmqpc's control file: a server a line; blank lines
 * and lines starting with # are skipped, blanks around a line trimmed */
static int parse_file(const char *path, struct qmqp_addr *v, unsigned *n, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf, where[4200];
	size_t len, line = 0;
	char *p, *end;

	if (!f) {
		snprintf(err, errlen, "SLUICE_QMQP=%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (!(buf = malloc(FILE_MAX + 1))) {
		fclose(f);
		snprintf(err, errlen, "SLUICE_QMQP=%s: out of memory", path);
		return -1;
	}
	len = fread(buf, 1, FILE_MAX + 1, f);
	if (ferror(f) || len > FILE_MAX) {
		snprintf(err, errlen, "SLUICE_QMQP=%s: %s", path,
			 ferror(f) ? "read error" : "longer than 64 KB");
		goto fail;
	}
	buf[len] = 0;
	for (p = buf; p < buf + len; p = end + 1) {
		size_t l;

		if (!(end = memchr(p, '\n', (size_t)(buf + len - p))))
			end = buf + len;
		line++;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		l = (size_t)(end - p);
		while (l && (p[l - 1] == ' ' || p[l - 1] == '\t' || p[l - 1] == '\r'))
			l--;
		if (!l || *p == '#')
			continue;
		if (memchr(p, 0, l)) {
			snprintf(err, errlen, "SLUICE_QMQP=%s line %zu: a NUL byte", path, line);
			goto fail;
		}
		snprintf(where, sizeof where, "=%s line %zu", path, line);
		if (add(p, l, v, n, where, err, errlen) < 0)
			goto fail;
	}
	if (!*n) {
		snprintf(err, errlen, "SLUICE_QMQP=%s: no server in the file", path);
		goto fail;
	}
	free(buf);
	fclose(f);
	return 0;
fail:
	free(buf);
	fclose(f);
	return -1;
}

int router_remote_parse(const char *text, struct qmqp_addr *v, unsigned *n, char *err,
			size_t errlen)
{
	const char *s = text;
	size_t l;

	*n = 0;
	if (*text == '/')
		return parse_file(text, v, n, err, errlen);
	/* a list: commas or blanks between servers (a colon is a port's) */
	for (s += strspn(s, ", \t\n"); *s; s += l, s += strspn(s, ", \t\n")) {
		l = strcspn(s, ", \t\n");
		if (add(s, l, v, n, "", err, errlen) < 0)
			return -1;
	}
	if (!*n) {
		snprintf(err, errlen, "SLUICE_QMQP=%s: no server", text);
		return -1;
	}
	return 0;
}

int router_remote_start(struct router *r, char *err, size_t errlen)
{
	const struct router_config *c = r->cfg;
	unsigned i;

	r->nremote = 0;
	if (!c->nqmqp)
		return 0;
	if (!(r->remotes = calloc(c->nqmqp, sizeof *r->remotes))) {
		snprintf(err, errlen, "out of memory for %u remote queues", c->nqmqp);
		return -1;
	}
	for (i = 0; i < c->nqmqp; i++)
		r->remotes[i].addr = c->qmqp[i];
	r->nremote = c->nqmqp;
	return 0;
}

void router_remote_stop(struct router *r)
{
	free(r->remotes);
	r->remotes = NULL;
	r->nremote = 0;
}

/* ------------------------------------------------------------ choice */

static uint64_t mix(struct router *r, pid_t pid)
{
	return ((uint64_t)(uint32_t)pid << 32 | (uint32_t)++r->remote_seq) * 0x9E3779B97F4A7C15ull;
}

/* candidate - may take a message now: not resting after a failure */
static int candidate(const struct rremote *s, int64_t now)
{
	return !s->down || now >= s->down_until;
}

/* has_slot - a connection may be opened: under SLUICE_QMQP_CONNS, or, for
 * a server that failed and rested, none open (one probe at a time) */
static int has_slot(const struct router *r, const struct rremote *s)
{
	return s->active < (s->down ? 1u : r->cfg->qmqp_conns);
}

static int slow(const struct rremote *s, int64_t now)
{
	return now < s->slow_until;
}

static double cost(const struct rremote *s)
{
	return (s->active + 1) * (s->ewma_ms > 1 ? s->ewma_ms : 1);
}

/* better - x or y: one with a free slot, then not slow, then the cheaper;
 * x on a tie */
static struct rremote *better(const struct router *r, struct rremote *x, struct rremote *y,
			      int64_t now)
{
	if (has_slot(r, x) != has_slot(r, y))
		return has_slot(r, x) ? x : y;
	if (slow(x, now) != slow(y, now))
		return slow(x, now) ? y : x;
	return cost(y) < cost(x) ? y : x;
}

/* choose - the server for m's next exchange, or NULL: *full is then 1
 * when servers remain that are only busy (m waits), 0 when none remains */
static struct rremote *choose(struct router *r, const struct rmsg *m, int64_t now, int *full)
{
	unsigned cand[ROUTER_MAX_REMOTE], nc = 0, a, b, i;
	struct rremote *best;
	uint64_t h;

	*full = 0;
	for (i = 0; i < r->nremote; i++)
		if (!(m->relay.tried & (1ull << i)) && candidate(&r->remotes[i], now))
			cand[nc++] = i;
	if (!nc)
		return NULL;
	h = mix(r, m->pid);
	a = (unsigned)((h >> 32) % nc);
	b = nc > 1 ? (unsigned)((h >> 8) % (nc - 1)) : a;
	if (nc > 1 && b >= a)
		b++;			/* two distinct candidates */
	best = better(r, &r->remotes[cand[a]], &r->remotes[cand[b]], now);
	if (has_slot(r, best))
		return best;
	/* neither has a free slot: the others in turn */
	best = NULL;
	for (i = 0; i < nc; i++) {
		struct rremote *s = &r->remotes[cand[(a + i) % nc]];

		if (has_slot(r, s) && (!best || better(r, best, s, now) == s))
			best = s;
	}
	*full = best == NULL;
	return best;
}

int router_remote_want(struct router *r, pid_t pid)
{
	const struct router_config *c = r->cfg;
	int64_t now;
	unsigned i;

	if (!r->nremote)
		return 0;
	if (c->local_spool)
		return 1;
	if (!c->qmqp_weight)
		return 0;
	now = router_now_ms();
	for (i = 0; i < r->nremote && !candidate(&r->remotes[i], now); i++)
		;
	if (i == r->nremote)
		return 0;	/* every server rests: the local queues take it */
	return c->qmqp_weight >= 100 || (mix(r, pid) >> 32) % 100 < c->qmqp_weight;
}

/* ------------------------------------------------------------ health */

static void server_failed(struct router *r, struct rremote *s, enum sq_status st,
			  const char *text, int64_t now)
{
	s->failed++;
	s->last_fail = st;
	if (!s->down || now >= s->down_until)
		diag_info("remote %s: %s: %s; resting %u s", s->addr.name,
			s->down ? "still failing" : "down", text, r->cfg->qmqp_retry_ms / 1000);
	s->down = 1;
	s->down_until = now + r->cfg->qmqp_retry_ms;
}

static void server_answered(struct router *r, struct rremote *s, int64_t ms, int64_t now)
{
	const struct router_config *c = r->cfg;

	if (s->down)
		diag_info("remote %s: answering again", s->addr.name);
	s->down = 0;
	s->latency_sum_ms += (uint64_t)ms;
	s->last_ms = (unsigned)ms;
	s->ewma_ms = s->sent + s->temp + s->perm ? EWMA_NEW * (double)ms + (1 - EWMA_NEW) * s->ewma_ms
						 : (double)ms;
	if (c->qmqp_slow_ms && ms > c->qmqp_slow_ms) {
		if (!slow(s, now))
			diag_info("remote %s: slow: answered in %lld ms "
				"(SLUICE_QMQP_SLOW %u); avoided for %u s", s->addr.name,
				(long long)ms, c->qmqp_slow_ms, c->qmqp_retry_ms / 1000);
		s->slow_until = now + c->qmqp_retry_ms;
	} else if (s->slow_until) {
		diag_info("remote %s: answered in %lld ms: no longer slow",
			s->addr.name, (long long)ms);
		s->slow_until = 0;
	}
}

/* worse - of two failures, the one answered: a broken conversation (the
 * server may hold the message) over a connect that timed out over one
 * that was refused */
static enum sq_status worse(enum sq_status a, enum sq_status b)
{
	static const enum sq_status order[] = {
		SQ_TEMP_CONN_BROKEN, SQ_TEMP_CONN_TIMEOUT, SQ_TEMP_CONN_REFUSED,
	};
	size_t i;

	for (i = 0; i < sizeof order / sizeof order[0]; i++)
		if (a == order[i] || b == order[i])
			return order[i];
	return a != SQ_OK ? a : b;
}

/* ------------------------------------------------------------ the relay */

static void on_relay_io(struct ev_loop *, ev_io *, int);
static void on_relay_timer(struct ev_loop *, ev_timer *, int);
static void attempt(struct rmsg *);
static void wake(struct router *);

/* why_add - one more cause for the log line */
static void why_add(struct rmsg *m, const char *text)
{
	size_t n = strlen(m->why);

	snprintf(m->why + n, sizeof m->why - n, "%s%s", n ? "; " : "", text);
}

static void wait_remove(struct rmsg *m)
{
	struct router *r = m->r;
	struct rmsg **pp;

	if (!m->relay.waiting)
		return;
	for (pp = &r->relay_wait_head; *pp; pp = &(*pp)->relay.wait_next)
		if (*pp == m) {
			*pp = m->relay.wait_next;
			if (r->relay_wait_tail == m) {
				struct rmsg *t = r->relay_wait_head;

				while (t && t->relay.wait_next)
					t = t->relay.wait_next;
				r->relay_wait_tail = t;
			}
			break;
		}
	m->relay.wait_next = NULL;
	m->relay.waiting = 0;
	r->relay_waiting--;
}

/* release - the relay's watchers stopped, its memory freed */
static void release(struct rmsg *m)
{
	struct rrelay *rl = &m->relay;

	ev_io_stop(m->r->loop, &rl->io);
	ev_timer_stop(m->r->loop, &rl->timer);
	wait_remove(m);
	if (rl->connected) {
		qmqp_client_free(&rl->c);
		rl->connected = 0;
	}
	free(rl->prefix);
	rl->prefix = NULL;
	rl->prefix_len = 0;
	free(rl->skip);
	rl->skip = NULL;
	rl->nskip = 0;
}

void router_remote_free(struct rmsg *m)
{
	if (m->relay.timer.data)	/* a relay began (its watchers are set up) */
		release(m);
}

/* arm - the relay's timer at ms (absolute, router_now_ms() time) */
static void arm(struct rmsg *m, int64_t at)
{
	int64_t left = at - router_now_ms();

	m->relay.timer.repeat = left > 1 ? (double)left / 1000.0 : 0.001;
	ev_timer_again(m->r->loop, &m->relay.timer);
}

/* give_up - no server took the message before the deadline, or none is
 * left: the local queue commits it (failover), or the worst failure
 * answers it (a spool) */
static void give_up(struct rmsg *m, const char *why)
{
	struct router *r = m->r;
	struct rrelay *rl = &m->relay;
	enum sq_status st = rl->fail;
	unsigned i;

	release(m);
	if (why)
		why_add(m, why);
	if (!r->cfg->local_spool) {
		r->remote_fallbacks++;
		m->remote = 0;
		why_add(m, "committed to the local queue");
		router_commit_submit(r, m);	/* the COMMIT stage goes on as for a local message */
		return;
	}
	if (st == SQ_OK && rl->waited)
		st = SQ_TEMP_BUSY;	/* every server busy until the deadline */
	for (i = 0; st == SQ_OK && i < r->nremote; i++)
		if (r->remotes[i].down)	/* none tried: every server rests */
			st = worse(st, r->remotes[i].last_fail);
	if (st == SQ_OK)
		st = SQ_TEMP_CONN_REFUSED;
	if (!rl->server && !why)
		why_add(m, "every QMQP server rests after a failure");
	msg_finish(m, st, m->verdict, NULL, NULL);
}

/* answered - the server's K, Z or D is the message's answer */
static void answered(struct rmsg *m, const struct qmqp_result *res)
{
	char why[300];
	enum sq_status st = res->status == QMQP_OK ? SQ_OK
			  : res->status == QMQP_TEMP ? SQ_TEMP_REMOTE : SQ_PERM_REMOTE;

	release(m);
	snprintf(why, sizeof why, "%c%s", res->status == QMQP_OK ? 'K' : res->status == QMQP_TEMP
		 ? 'Z' : 'D', res->text);
	why_add(m, why);
	/* K: the spool's files go (msg_finish removes what is not committed) */
	msg_finish(m, st, m->verdict, st == SQ_OK ? NULL : res->text, NULL);
}

/* outcome - the exchange with rl->server is over; 1 to try another server */
static int outcome(struct rmsg *m)
{
	struct router *r = m->r;
	struct rrelay *rl = &m->relay;
	struct rremote *s = rl->server;
	struct qmqp_result res = rl->c.result;
	int64_t now = router_now_ms(), ms = now - rl->t_start;
	enum sq_status st;

	ev_io_stop(r->loop, &rl->io);
	ev_timer_stop(r->loop, &rl->timer);
	qmqp_client_free(&rl->c);
	rl->connected = 0;
	s->active--;
	switch (res.status) {
	case QMQP_OK:
	case QMQP_TEMP:
	case QMQP_PERM:
		*(res.status == QMQP_OK ? &s->sent : res.status == QMQP_TEMP ? &s->temp : &s->perm) += 1;
		server_answered(r, s, ms, now);
		answered(m, &res);
		return 0;
	case QMQP_ETIMEOUT:
	case QMQP_EREFUSED:
	case QMQP_ECONV:
		st = res.status == QMQP_ETIMEOUT ? SQ_TEMP_CONN_TIMEOUT
		   : res.status == QMQP_EREFUSED ? SQ_TEMP_CONN_REFUSED : SQ_TEMP_CONN_BROKEN;
		if (res.errnum == ETIMEDOUT && now >= rl->deadline) {
			/* the message's time ran out, not the server's: slow,
			 * not resting */
			s->failed++;
			if (!slow(s, now))
				diag_info("remote %s: slow: no answer within the "
					"message's SLUICE_QMQP_TIMEOUT; avoided for %u s",
					s->addr.name, r->cfg->qmqp_retry_ms / 1000);
			s->slow_until = now + r->cfg->qmqp_retry_ms;
		} else
			server_failed(r, s, st, res.text, now);
		rl->fail = worse(rl->fail, st);
		rl->tried |= 1ull << (s - r->remotes);
		why_add(m, res.text);
		return 1;
	case QMQP_EREAD:	/* our file: no server would do better */
		release(m);
		why_add(m, res.text);
		msg_finish(m, SQ_TEMP_READ, "error", NULL, NULL);
		return 0;
	case QMQP_ESYS:		/* no socket or memory here: the daemon's pressure */
		release(m);
		why_add(m, res.text);
		msg_finish(m, res.errnum == ENOMEM ? SQ_TEMP_NOMEM : SQ_TEMP_BUSY, "error", NULL, NULL);
		return 0;
	}
	return 0;
}

/* watch - wait for what the exchange wants, or its deadline */
static void watch(struct rmsg *m, enum qmqp_want w)
{
	struct rrelay *rl = &m->relay;
	int ev = w == QMQP_WANT_READ ? EV_READ : EV_WRITE;

	if (!ev_is_active(&rl->io) || rl->io.fd != rl->c.fd || (rl->io.events & (EV_READ | EV_WRITE)) != ev) {
		ev_io_stop(m->r->loop, &rl->io);
		ev_io_set(&rl->io, rl->c.fd, ev);
		ev_io_start(m->r->loop, &rl->io);
	}
	arm(m, qmqp_client_deadline(&rl->c));
}

/* step - the exchange went on (readiness or its deadline) */
static void step(struct rmsg *m)
{
	struct rrelay *rl = &m->relay;
	enum qmqp_want w = qmqp_client_step(&rl->c, router_now_ms());

	if (w != QMQP_DONE) {
		watch(m, w);
		return;
	}
	if (outcome(m))
		attempt(m);
	wake(m->r);	/* a connection ended: its slot is free */
}

static void on_relay_io(struct ev_loop *loop, ev_io *w, int revents)
{
	step(w->data);
}

static void on_relay_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rmsg *m = w->data;

	if (m->relay.waiting) {
		wait_remove(m);
		if (router_now_ms() >= m->relay.deadline)
			give_up(m, "every QMQP server busy (SLUICE_QMQP_CONNS) until SLUICE_QMQP_TIMEOUT");
		else
			attempt(m);	/* a server rested: it may take it */
		return;
	}
	if (m->relay.connected)
		step(m);
}

/* attempt - exchanges with one server after another, until one answers,
 * m has to wait for a slot, or no server is left */
static void attempt(struct rmsg *m)
{
	struct router *r = m->r;
	struct rrelay *rl = &m->relay;
	const struct router_config *c = r->cfg;

	for (;;) {
		int64_t now = router_now_ms();
		struct rremote *s;
		struct qmqp_msg msg;
		struct qmqp_limits lim;
		enum qmqp_want w;
		int full;

		if (now >= rl->deadline) {
			give_up(m, "SLUICE_QMQP_TIMEOUT passed");
			return;
		}
		if (!(s = choose(r, m, now, &full))) {
			if (!full) {
				give_up(m, NULL);
				return;
			}
			int64_t until = rl->deadline;
			unsigned i;

			rl->waited = 1;
			rl->waiting = 1;	/* FIFO: woken when a connection ends */
			rl->wait_next = NULL;
			if (r->relay_wait_tail)
				r->relay_wait_tail->relay.wait_next = m;
			else
				r->relay_wait_head = m;
			r->relay_wait_tail = m;
			r->relay_waiting++;
			/* ... or when a server it has not tried ends its rest */
			for (i = 0; i < r->nremote; i++)
				if (!(rl->tried & (1ull << i)) && !candidate(&r->remotes[i], now) &&
				    r->remotes[i].down_until < until)
					until = r->remotes[i].down_until;
			arm(m, until);
			return;
		}
		msg = (struct qmqp_msg){
			.fd = m->qm.fd, .off = (off_t)m->rlen, .prefix = rl->prefix,
			.prefix_len = rl->prefix_len, .skip = rl->skip, .nskip = rl->nskip,
			.sender = queue_env_sender(&m->env),
			.rcpt = m->rcpts, .nrcpt = m->env.nrcpt,
		};
		lim = (struct qmqp_limits){
			.connect_ms = c->qmqp_connect_ms, .io_ms = c->qmqp_io_ms,
			.deadline_ms = rl->deadline,
		};
		rl->server = s;
		rl->t_start = now;
		s->active++;
		rl->connected = 1;
		w = qmqp_client_start(&rl->c, &s->addr, &msg, &lim, now);
		if (w != QMQP_DONE) {
			watch(m, w);
			return;
		}
		if (!outcome(m))
			return;
	}
}

/* wake - a connection slot is free: the waiting messages, in order, try
 * again (those that still find none go back to the end, in order) */
static void wake(struct router *r)
{
	if (r->relay_waking) {	/* an attempt below ended a connection at once */
		r->relay_rewake = 1;
		return;
	}
	r->relay_waking = 1;
	do {
		struct rmsg *list = r->relay_wait_head;

		r->relay_rewake = 0;
		r->relay_wait_head = r->relay_wait_tail = NULL;
		r->relay_waiting = 0;
		while (list) {
			struct rmsg *m = list;

			list = m->relay.wait_next;
			m->relay.wait_next = NULL;
			m->relay.waiting = 0;
			ev_timer_stop(r->loop, &m->relay.timer);
			attempt(m);
		}
	} while (r->relay_rewake && r->relay_wait_head);
	r->relay_waking = 0;
}

void router_remote_relay(struct rmsg *m)
{
	struct router *r = m->r;
	const struct router_config *c = r->cfg;
	struct rrelay *rl = &m->relay;
	int64_t now = router_now_ms(), end = m->t0 + (int64_t)c->message_timeout * 1000;

	rl->tried = 0;
	rl->fail = SQ_OK;
	rl->server = NULL;
	rl->waited = 0;
	rl->deadline = now + c->qmqp_timeout_ms < end ? now + c->qmqp_timeout_ms : end;
	ev_init(&rl->io, on_relay_io);
	rl->io.data = m;
	ev_init(&rl->timer, on_relay_timer);
	rl->timer.data = m;
	if (m->action == ACTION_TAG) {
		/* what router_tag() would insert after the Received line, and
		 * the fields it would remove (client_tag): sent without them;
		 * the spool's file stays as received (a failover tags it then) */
		size_t cap = 1024 + SCAN_HEADERS_MAX, n, i;
		struct queue_range *v;
		struct queue_err e;

		if (!(rl->prefix = malloc(cap))) {
			msg_finish(m, SQ_TEMP_NOMEM, "error", NULL, "no memory for the verdict headers");
			return;
		}
		rl->prefix_len = router_tag_headers(m, rl->prefix, cap);
		if (rl->prefix_len) {
			if (queue_insert_fields(&m->qm, (off_t)m->rlen, client_tag_forged, rl->prefix,
						&v, &n, &m->forged, &e) != QUEUE_OK) {
				router_queue_error(m, &e);
				return;
			}
			if (n && !(rl->skip = malloc(2 * n * sizeof *rl->skip))) {
				free(v);
				msg_finish(m, SQ_TEMP_NOMEM, "error", NULL,
					   "no memory for the verdict headers");
				return;
			}
			for (i = 0; i < n; i++) {
				rl->skip[2 * i] = v[i].from;
				rl->skip[2 * i + 1] = v[i].to;
			}
			rl->nskip = n;
			free(v);
		}
	}
	attempt(m);
}

/* ------------------------------------------------------------ figures */

size_t router_remote_stats(struct router *r, char *buf, size_t len)
{
	int64_t now = router_now_ms();
	size_t n = 0;
	unsigned i;

	if (!r->nremote || len < 256)
		return 0;
	n += (size_t)snprintf(buf + n, len - n, "remote_waiting %u\nremote_fallbacks %lu\n",
			      r->relay_waiting, r->remote_fallbacks);
	for (i = 0; i < r->nremote && n + 256 < len; i++) {
		const struct rremote *s = &r->remotes[i];
		unsigned long answers = s->sent + s->temp + s->perm;

		n += (size_t)snprintf(buf + n, len - n,
			"remote %s inflight %u sent %lu temp %lu perm %lu failed %lu latency_ms %llu "
			"last_ms %u down %d slow %d\n", s->addr.name, s->active, s->sent, s->temp,
			s->perm, s->failed,
			answers ? (unsigned long long)(s->latency_sum_ms / answers) : 0ULL, s->last_ms,
			s->down, slow(s, now));
	}
	return n;
}
