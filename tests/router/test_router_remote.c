/*
 * test_router_remote.c - router/router_remote.c: remote queues.
 *
 *	The test plays the loop's side: a struct router of its own with one
 *	temp queue (the spool), a real libev loop, and messages prepared as
 *	the loop prepares them (mess file with a Received line, envelope read,
 *	action decided) handed to router_remote_relay() as the COMMIT stage
 *	does.  The QMQP servers are threads here on 127.0.0.1, written from
 *	the protocol text; a closed port is a server that refuses.
 *
 *	want      a spool sends every message remote; with local queues
 *	          SLUICE_QMQP_WEIGHT percent of them (0, 30 within 2 points
 *	          over 10000 messages, 100), none while every server rests;
 *	          no remote queue, none
 *	answers   K: answered 0, the spool's files removed, the server got
 *	          the file from the Received line's end and the envelope
 *	          exactly; a tagged message's verdict headers come first, its
 *	          own X-Spam-* / X-Sluice-* fields are left out (forged 3); Z
 *	          and D: 71 and 31, and under notqmail 82 with "Z"/"D" + the
 *	          server's text, CR and LF made harmless
 *	next      a refused server then a good one: K from the good one, the
 *	          refused one down, resting SLUICE_QMQP_RETRY, not tried by the
 *	          next messages while it rests, tried again (one connection at
 *	          a time) once rested
 *	spool     every server failing: 73 when all refused, 74 when one
 *	          conversation broke (worst first), each named in why; no
 *	          server left at all (all resting): the worst of their last
 *	          failures at once
 *	failover  with local queues, a message no server took goes to the
 *	          sync thread as a local one, its spool file kept
 *	wait      SLUICE_QMQP_CONNS=1: the second message waits in the FIFO
 *	          while the first is held, goes when it ends; a wait past
 *	          SLUICE_QMQP_TIMEOUT is 71; a waiting message takes a server
 *	          whose rest ends while it waits
 *	deadline  a server that hangs: the message ends at SLUICE_QMQP_TIMEOUT
 *	          with 74; the server is slow, not resting
 *	slow      a server answering after SLUICE_QMQP_SLOW ms is avoided while
 *	          the other can take messages
 *	stats     one "remote <server> ..." line each with the counts
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "router/router_int.h"

#define SPLIT 23
#define MAXMSG 64
#define RECEIVED "Received: (qmail 5678 invoked from network); 2 Nov 2026 02:45:04 -0000\n"
#define BODY "From: a@example.org\nSubject: remote\n\nHello,\nworld.\n"
/* BODY with the sender's own fields of the tag's names: a tagged message
 * is sent as BODY */
#define FORGED "X-Spam-Status: No\nFrom: a@example.org\nX-Spam-Flag: NO\n\tfolded\n" \
	"Subject: remote\nX-Sluice-Verdict: clean\n\nHello,\nworld.\n"
static const char *msg_body = BODY;	/* what message() writes */

/* ------------------------------------------------------------- servers */

enum mode { S_K, S_Z, S_D, S_HOLD, S_HANG, S_SLOW };

struct server {
	int lsock, port;
	enum mode mode;
	const char *text;	/* the reply's payload */
	unsigned delay_ms;	/* S_SLOW */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, release;	/* S_HOLD: answer once released */
	int accepted, requests, held;
	char last[8192];	/* the last whole request */
	size_t last_len;
};

/* request_whole - buf holds one whole netstring */
static int request_whole(const char *buf, size_t len)
{
	size_t i = 0, n = 0;

	while (i < len && buf[i] >= '0' && buf[i] <= '9')
		n = n * 10 + (size_t)(buf[i++] - '0');
	return i < len && buf[i] == ':' && len >= i + 1 + n + 1;
}

static void *serve(void *arg)
{
	struct server *s = arg;

	for (;;) {
		struct pollfd p = { .fd = s->lsock, .events = POLLIN };
		char buf[8192], reply[600];
		size_t len = 0;
		int c, stop;

		pthread_mutex_lock(&s->mu);
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		if (poll(&p, 1, 50) <= 0 || (c = accept(s->lsock, NULL, NULL)) < 0)
			continue;
		pthread_mutex_lock(&s->mu);
		s->accepted++;
		pthread_mutex_unlock(&s->mu);
		while (!request_whole(buf, len) && len < sizeof buf) {
			ssize_t n = read(c, buf + len, sizeof buf - len);

			if (n <= 0)
				break;
			len += (size_t)n;
		}
		pthread_mutex_lock(&s->mu);
		if (request_whole(buf, len)) {
			s->requests++;
			memcpy(s->last, buf, len);
			s->last_len = len;
		}
		if (s->mode == S_HOLD) {
			s->held = 1;
			pthread_cond_broadcast(&s->cv);
			while (!s->release && !s->stop)
				pthread_cond_wait(&s->cv, &s->mu);
			s->release = 0;
			s->held = 0;
		}
		pthread_mutex_unlock(&s->mu);
		if (s->mode == S_HANG) {
			while (read(c, buf, sizeof buf) > 0)	/* until the client leaves */
				;
		} else {
			if (s->mode == S_SLOW)
				usleep(s->delay_ms * 1000);
			snprintf(reply, sizeof reply, "%zu:%s,", strlen(s->text), s->text);
			(void)!write(c, reply, strlen(reply));
		}
		close(c);
	}
	return NULL;
}

static void server_start(struct server *s, enum mode mode, const char *text)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;

	memset(s, 0, sizeof *s);
	s->mode = mode;
	s->text = text ? text : mode == S_Z ? "Zlater" : mode == S_D ? "Dno" : "Kok 1700000000 qp 4242";
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	assert_true((s->lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(s->lsock, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(s->lsock, 16), 0);
	assert_int_equal(getsockname(s->lsock, (struct sockaddr *)&sa, &sl), 0);
	s->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	close(s->lsock);
}

static int server_get(struct server *s, int *what)
{
	int v;

	pthread_mutex_lock(&s->mu);
	v = *what;
	pthread_mutex_unlock(&s->mu);
	return v;
}

static void server_release(struct server *s)
{
	pthread_mutex_lock(&s->mu);
	s->release = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------- fixture */

struct fx {
	char *tmp;
	struct router r;
	struct router_config c;
	struct rqueue q;
	struct rmsg *sent[MAXMSG];
	int nsent;
	ev_timer tick;
};

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ONE);
}

/* spin - run the loop for about ms */
static void spin(struct fx *f, unsigned ms)
{
	ev_timer_set(&f->tick, ms / 1000.0, 0.);
	ev_timer_start(f->r.loop, &f->tick);
	ev_run(f->r.loop, 0);
	ev_timer_stop(f->r.loop, &f->tick);
}

/* done - m was answered, or handed to the sync thread */
static int done(const struct rmsg *m)
{
	return m->stage == ST_ANSWER || !m->remote;
}

/* settle - run the loop until every message sent is done (20 s at most) */
static void settle(struct fx *f)
{
	int64_t end = router_now_ms() + 20000;
	int i;

	for (;;) {
		for (i = 0; i < f->nsent && done(f->sent[i]); i++)
			;
		if (i == f->nsent)
			return;
		if (router_now_ms() > end)
			fail_msg("message %d not done after 20 s", i);
		spin(f, 10);
	}
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct queue_err e;

	f->tmp = tu_tmpdir("rremote");
	tu_queue_tree(tu_path(f->tmp, "queue1"), SPLIT);
	if (queue_open(&f->q.q, tu_path(f->tmp, "queue1"), SPLIT, &e) != QUEUE_OK)
		fail_msg("queue_open: %s", e.text);
	f->q.name = "queue1";
	f->c.local_spool = 1;
	f->c.qmqp_weight = 100;
	f->c.qmqp_conns = 16;
	f->c.qmqp_connect_ms = 2000;
	f->c.qmqp_io_ms = 5000;
	f->c.qmqp_timeout_ms = 15000;
	f->c.qmqp_retry_ms = 10000;
	f->c.qmqp_slow_ms = 5000;
	f->c.message_timeout = 86400;
	f->c.max_inflight = 100;
	f->r.cfg = &f->c;
	f->r.nq = 1;
	f->r.queues = &f->q;
	f->r.stopping = 1;	/* router_admit() leaves the (absent) listener alone */
	pthread_mutex_init(&f->r.sync_mu, NULL);
	pthread_cond_init(&f->r.sync_cv, NULL);
	snprintf(f->r.scanned_by, sizeof f->r.scanned_by, "sluice test");
	assert_non_null(f->r.loop = ev_loop_new(EVFLAG_AUTO));
	ev_init(&f->tick, on_tick);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int i;

	for (i = 0; i < f->nsent; i++) {
		struct rmsg *m = f->sent[i];

		router_remote_free(m);
		if (m->have_qm && !(m->qm.flags & QUEUE_MSG_TODO))
			queue_msg_abort(&m->qm);	/* handed over for a local commit: not here */
		queue_env_free(&m->env);
		free(m->rcpts);
		free(m);
	}
	router_remote_stop(&f->r);
	ev_loop_destroy(f->r.loop);
	queue_close(&f->q.q);
	tu_rmtree(f->tmp);
	free(f->tmp);
	free(f);
	return 0;
}

/* servers - SLUICE_QMQP "127.0.0.1:<port> ..." as the daemon starts them */
static void servers(struct fx *f, const int *ports, unsigned n)
{
	char list[512], err[300];
	size_t len = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "127.0.0.1:%d ", ports[i]);
	if (router_remote_parse(list, f->c.qmqp, &f->c.nqmqp, err, sizeof err) < 0)
		fail_msg("%s", err);
	assert_int_equal(router_remote_start(&f->r, err, sizeof err), 0);
	assert_int_equal(f->r.nremote, n);
}

/* message - one message as the loop has it at COMMIT (pid i) */
static struct rmsg *message(struct fx *f, int i, enum router_action act)
{
	struct rmsg *m = calloc(1, sizeof *m);
	struct queue_err e;
	char env[128];
	int elen = snprintf(env, sizeof env, "Fs%d@example.com%cTr@example.org%cTx@example.net%c%c",
			    i, 0, 0, 0, 0);
	size_t used = 0;
	const char *p;
	unsigned k = 0;

	assert_non_null(m);
	assert_true(f->nsent < MAXMSG);
	f->sent[f->nsent++] = m;
	m->r = &f->r;
	m->rq = &f->q;
	m->conn = m->fd0 = m->fd1 = -1;
	m->uid = 7791;
	m->pid = 5000 + i;
	m->t0 = router_now_ms();
	m->qm.fd = m->qm.intdfd = -1;
	assert_int_equal(queue_msg_begin(&m->rq->q, &m->qm, &e), QUEUE_OK);
	m->have_qm = 1;
	m->rlen = strlen(RECEIVED);
	assert_int_equal(queue_msg_write(&m->qm, RECEIVED, m->rlen, &e), QUEUE_OK);
	assert_int_equal(queue_msg_write(&m->qm, msg_body, strlen(msg_body), &e), QUEUE_OK);
	queue_env_init(&m->env, m->uid, (unsigned long)m->pid);
	assert_int_equal(queue_env_feed(&m->env, env, (size_t)elen, &used), QUEUE_OK);
	assert_non_null(m->rcpts = calloc(m->env.nrcpt + 1, sizeof *m->rcpts));
	for (p = queue_env_rcpt(&m->env, NULL); p; p = queue_env_rcpt(&m->env, p))
		m->rcpts[k++] = p;
	m->action = act;
	m->verdict = "clean";
	m->stage = ST_COMMIT;
	m->entered = 1;
	m->remote = 1;
	f->r.inflight++;
	f->q.inflight++;
	return m;
}

static struct rmsg *relay(struct fx *f, int i)
{
	struct rmsg *m = message(f, i, ACTION_ACCEPT);

	router_remote_relay(m);
	return m;
}

/* closed_port - a loopback port nobody listens on */
static int closed_port(void)
{
	return tu_free_port();
}

/* want_request - the request a server must get for message i (BODY
 * after prefix) */
static size_t want_request(char *out, size_t cap, int i, const char *prefix)
{
	char inner[2048], msg[1024];
	size_t n = 0;
	int ml = snprintf(msg, sizeof msg, "%s%s", prefix, BODY);
	char s[64];
	int sl = snprintf(s, sizeof s, "s%d@example.com", i);

	n += (size_t)snprintf(inner + n, sizeof inner - n, "%d:%s,", ml, msg);
	n += (size_t)snprintf(inner + n, sizeof inner - n, "%d:%s,", sl, s);
	n += (size_t)snprintf(inner + n, sizeof inner - n, "13:r@example.org,13:x@example.net,");
	return (size_t)snprintf(out, cap, "%zu:%s,", n, inner);
}

/* --------------------------------------------------------------- tests */

static void test_want(void **state)
{
	struct fx *f = *state;
	int ports[2] = { closed_port(), closed_port() + 1 };
	int i, n = 0;

	assert_int_equal(router_remote_want(&f->r, 1), 0);	/* no remote queue */
	servers(f, ports, 2);
	for (i = 0; i < 100; i++)
		n += router_remote_want(&f->r, i);
	assert_int_equal(n, 100);	/* a spool: every message */
	f->c.local_spool = 0;
	f->c.qmqp_weight = 0;
	for (i = 0, n = 0; i < 100; i++)
		n += router_remote_want(&f->r, i);
	assert_int_equal(n, 0);
	f->c.qmqp_weight = 30;
	for (i = 0, n = 0; i < 10000; i++)
		n += router_remote_want(&f->r, 4242 + i % 7);
	print_message("weight 30: %d of 10000 remote\n", n);
	assert_true(n >= 2800 && n <= 3200);
	f->c.qmqp_weight = 100;
	/* every server resting: the local queues take them */
	f->r.remotes[0].down = f->r.remotes[1].down = 1;
	f->r.remotes[0].down_until = f->r.remotes[1].down_until = router_now_ms() + 60000;
	for (i = 0, n = 0; i < 100; i++)
		n += router_remote_want(&f->r, i);
	assert_int_equal(n, 0);
	f->r.remotes[1].down_until = router_now_ms() - 1;	/* rested: may be probed */
	assert_int_equal(router_remote_want(&f->r, 1), 1);
}

static void test_answers(void **state)
{
	struct fx *f = *state;
	struct server s;
	struct rmsg *m;
	char want[4096], hdr[2048];
	size_t wl;

	/* K */
	server_start(&s, S_K, NULL);
	servers(f, &s.port, 1);
	m = relay(f, 1);
	settle(f);
	assert_int_equal(m->stage, ST_ANSWER);
	assert_int_equal(m->status, SQ_OK);
	assert_int_equal(m->reply.plain, 0);
	assert_ptr_equal(m->relay.server, &f->r.remotes[0]);
	assert_non_null(strstr(m->why, "Kok 1700000000 qp 4242"));
	assert_int_equal(tu_queue_files(f->q.q.path), 0);	/* the spool's files went */
	wl = want_request(want, sizeof want, 1, "");
	assert_int_equal(s.last_len, wl);
	assert_memory_equal(s.last, want, wl);
	assert_int_equal(f->r.remotes[0].sent, 1);
	assert_int_equal(f->r.remotes[0].active, 0);
	assert_false(m->relay.connected);

	/* tagged: the verdict headers first, as a local queue's file has them */
	m = message(f, 2, ACTION_TAG);
	scan_verdict_set(&m->v, SCAN_CLEAN, "test", "%s", "");
	router_tag_headers(m, hdr, sizeof hdr);
	router_remote_relay(m);
	settle(f);
	assert_int_equal(m->reply.plain, 0);
	assert_non_null(strstr(hdr, "X-Virus-Scanned: sluice test\n"));
	wl = want_request(want, sizeof want, 2, hdr);
	assert_int_equal(s.last_len, wl);
	assert_memory_equal(s.last, want, wl);
	assert_int_equal(m->forged, 0);

	/* tagged, with the sender's own X-Spam-Status, X-Spam-Flag (folded)
	 * and X-Sluice-Verdict: sent without them, as a local queue's file
	 * would hold it */
	msg_body = FORGED;
	m = message(f, 2, ACTION_TAG);
	msg_body = BODY;
	scan_verdict_set(&m->v, SCAN_CLEAN, "test", "%s", "");
	router_tag_headers(m, hdr, sizeof hdr);
	assert_int_equal(m->qm.size, (off_t)(strlen(RECEIVED) + strlen(FORGED)));
	router_remote_relay(m);
	settle(f);
	assert_int_equal(m->reply.plain, 0);
	assert_int_equal(m->forged, 3);
	wl = want_request(want, sizeof want, 2, hdr);
	assert_int_equal(s.last_len, wl);
	assert_memory_equal(s.last, want, wl);
	server_stop(&s);
	router_remote_stop(&f->r);

	/* Z and D: 71 and 31; the text through a custom-error convention */
	server_start(&s, S_Z, "Zpeer says:\r\nwait (#4.3.0)");
	servers(f, &s.port, 1);
	m = relay(f, 3);
	settle(f);
	assert_int_equal(m->status, SQ_TEMP_REMOTE);
	assert_int_equal(m->reply.plain, 71);
	assert_int_equal(m->reply.code, 71);	/* no convention: no text */
	assert_int_equal(tu_queue_files(f->q.q.path), 0);
	f->c.custom = CUSTOM_NOTQMAIL;
	m = relay(f, 4);
	settle(f);
	assert_int_equal(m->reply.plain, 71);
	assert_int_equal(m->reply.code, 82);
	assert_int_equal(m->reply.fd, 6);
	assert_int_equal(m->reply.len, strlen("Zpeer says:??wait (#4.3.0)"));
	assert_memory_equal(m->reply.text, "Zpeer says:??wait (#4.3.0)", m->reply.len);
	assert_int_equal(f->r.remotes[0].temp, 2);
	assert_int_equal(f->r.remotes[0].down, 0);	/* an answer: the server works */
	server_stop(&s);
	router_remote_stop(&f->r);
	server_start(&s, S_D, "Dno such user (#5.1.1)");
	servers(f, &s.port, 1);
	m = relay(f, 5);
	settle(f);
	assert_int_equal(m->status, SQ_PERM_REMOTE);
	assert_int_equal(m->reply.plain, 31);
	assert_int_equal(m->reply.code, 82);
	assert_memory_equal(m->reply.text, "Dno such user (#5.1.1)", m->reply.len);
	assert_int_equal(f->r.remotes[0].perm, 1);
	server_stop(&s);
}

static void test_next(void **state)
{
	struct fx *f = *state;
	struct server s;
	int ports[2], i;
	struct rmsg *m = NULL;

	server_start(&s, S_K, NULL);
	ports[0] = closed_port();
	ports[1] = s.port;
	servers(f, ports, 2);
	f->c.qmqp_retry_ms = 300;
	/* until a message meets the refused server first */
	for (i = 0; i < 40 && !f->r.remotes[0].failed; i++) {
		m = relay(f, i);
		settle(f);
		assert_int_equal(m->reply.plain, 0);
		assert_ptr_equal(m->relay.server, &f->r.remotes[1]);
	}
	assert_int_equal(f->r.remotes[0].failed, 1);
	assert_non_null(strstr(m->why, "connect: Connection refused; Kok"));
	assert_int_equal(f->r.remotes[0].down, 1);
	assert_int_equal(f->r.remotes[0].last_fail, SQ_TEMP_CONN_REFUSED);
	/* resting: not tried again */
	for (i = 0; i < 10; i++) {
		m = relay(f, 100 + i);
		settle(f);
		assert_int_equal(m->reply.plain, 0);
	}
	assert_int_equal(f->r.remotes[0].failed, 1);
	/* rested: tried again by some message (still refused) */
	spin(f, 350);
	for (i = 0; i < 40 && f->r.remotes[0].failed == 1; i++) {
		m = relay(f, 200 + i);
		settle(f);
		assert_int_equal(m->reply.plain, 0);
	}
	assert_int_equal(f->r.remotes[0].failed, 2);
	server_stop(&s);
}

static void test_spool(void **state)
{
	struct fx *f = *state;
	struct server h;
	int ports[2] = { closed_port(), 0 };
	struct rmsg *m;

	ports[1] = ports[0] + 1;
	while (tu_wait_tcp(ports[1], 0) == 0)
		ports[1]++;
	servers(f, ports, 2);
	m = relay(f, 1);
	settle(f);
	assert_int_equal(m->status, SQ_TEMP_CONN_REFUSED);
	assert_int_equal(m->reply.plain, 73);
	assert_int_equal(m->relay.tried, 3);	/* both */
	assert_non_null(strstr(m->why, "connect"));
	assert_non_null(strstr(m->why, "; "));
	assert_int_equal(tu_queue_files(f->q.q.path), 0);
	/* both resting now: answered at once with their last failure */
	m = relay(f, 2);
	settle(f);
	assert_int_equal(m->reply.plain, 73);
	assert_int_equal(m->relay.tried, 0);
	assert_non_null(strstr(m->why, "rests"));
	router_remote_stop(&f->r);

	/* refused and a conversation that breaks (a hang past io_ms): 74 */
	server_start(&h, S_HANG, NULL);
	ports[1] = h.port;
	servers(f, ports, 2);
	f->c.qmqp_io_ms = 500;
	m = relay(f, 3);
	settle(f);
	assert_int_equal(m->status, SQ_TEMP_CONN_BROKEN);
	assert_int_equal(m->reply.plain, 74);
	assert_non_null(strstr(m->why, "no reply in time"));
	assert_int_equal(f->r.remotes[1].down, 1);
	assert_int_equal(server_get(&h, &h.requests), 1);	/* it had the whole request */
	server_stop(&h);
}

static void test_failover(void **state)
{
	struct fx *f = *state;
	int port = closed_port();
	struct rmsg *m;

	f->c.local_spool = 0;
	servers(f, &port, 1);
	m = relay(f, 1);
	settle(f);
	assert_int_equal(m->remote, 0);	/* now a local message */
	assert_int_not_equal(m->stage, ST_ANSWER);
	/* held by the loop until its flush hands it to the sync thread */
	assert_ptr_equal(f->r.submit_head, m);
	assert_null(f->r.sync_in);
	assert_int_equal(f->r.remote_fallbacks, 1);
	assert_non_null(strstr(m->why, "committed to the local queue"));
	assert_int_equal(tu_queue_mess(f->q.q.path), 1);	/* kept for the commit */
	f->r.submit_head = f->r.submit_tail = NULL;
}

static void test_wait(void **state)
{
	struct fx *f = *state;
	struct server s;
	struct rmsg *a, *b;
	int64_t t;

	server_start(&s, S_HOLD, NULL);
	servers(f, &s.port, 1);
	f->c.qmqp_conns = 1;
	a = relay(f, 1);
	b = relay(f, 2);
	for (t = router_now_ms(); !server_get(&s, &s.held) && router_now_ms() - t < 5000;)
		spin(f, 10);
	spin(f, 100);
	assert_true(server_get(&s, &s.held));
	assert_true(b->relay.waiting);
	assert_int_equal(f->r.relay_waiting, 1);
	assert_int_equal(server_get(&s, &s.accepted), 1);
	assert_int_equal(f->r.remotes[0].active, 1);
	server_release(&s);
	for (t = router_now_ms(); !done(a) && router_now_ms() - t < 5000;)
		spin(f, 10);
	assert_int_equal(a->reply.plain, 0);
	for (t = router_now_ms(); !server_get(&s, &s.held) && router_now_ms() - t < 5000;)
		spin(f, 10);
	assert_false(b->relay.waiting);
	server_release(&s);
	settle(f);
	assert_int_equal(b->reply.plain, 0);
	assert_int_equal(server_get(&s, &s.requests), 2);

	/* the waiting one's deadline passes while the first holds the slot: 71 */
	f->c.qmqp_timeout_ms = 10000;
	a = relay(f, 3);
	f->c.qmqp_timeout_ms = 400;
	b = relay(f, 4);
	for (t = router_now_ms(); !done(b) && router_now_ms() - t < 5000;)
		spin(f, 10);
	assert_int_equal(b->status, SQ_TEMP_BUSY);
	assert_int_equal(b->reply.plain, 71);
	assert_non_null(strstr(b->why, "busy"));
	assert_int_equal(f->r.relay_waiting, 0);
	assert_false(done(a));
	server_release(&s);
	settle(f);
	assert_int_equal(a->reply.plain, 0);
	server_stop(&s);
}

/* a message waiting for a slot takes a server whose rest ends meanwhile */
static void test_wait_rest(void **state)
{
	struct fx *f = *state;
	struct server s, q;
	int ports[2];
	struct rmsg *a, *b;
	int64_t t;

	server_start(&s, S_HOLD, NULL);
	server_start(&q, S_K, NULL);
	ports[0] = s.port;
	ports[1] = q.port;
	servers(f, ports, 2);
	f->c.qmqp_conns = 1;
	f->r.remotes[1].down = 1;	/* resting for 300 ms more */
	f->r.remotes[1].down_until = router_now_ms() + 300;
	a = relay(f, 1);
	b = relay(f, 2);
	assert_true(b->relay.waiting);
	for (t = router_now_ms(); !done(b) && router_now_ms() - t < 5000;)
		spin(f, 10);
	assert_int_equal(b->reply.plain, 0);
	assert_ptr_equal(b->relay.server, &f->r.remotes[1]);
	assert_true(router_now_ms() - t >= 250);
	assert_false(done(a));	/* still held */
	assert_int_equal(f->r.remotes[1].down, 0);	/* answered again */
	server_release(&s);
	settle(f);
	assert_int_equal(a->reply.plain, 0);
	server_stop(&s);
	server_stop(&q);
}

static void test_deadline(void **state)
{
	struct fx *f = *state;
	struct server h;
	struct rmsg *m;
	int64_t t0;

	server_start(&h, S_HANG, NULL);
	servers(f, &h.port, 1);
	f->c.qmqp_timeout_ms = 500;
	t0 = router_now_ms();
	m = relay(f, 1);
	settle(f);
	assert_int_equal(m->reply.plain, 74);
	assert_true(router_now_ms() - t0 >= 450);
	assert_true(router_now_ms() - t0 < 4000);
	assert_int_equal(f->r.remotes[0].down, 0);	/* the message's time, not the server's */
	assert_true(f->r.remotes[0].slow_until > router_now_ms());
	assert_int_equal(f->r.remotes[0].failed, 1);
	server_stop(&h);
}

static void test_slow(void **state)
{
	struct fx *f = *state;
	struct server s, q;
	int ports[2], i, before;
	struct rmsg *m = NULL;

	server_start(&s, S_SLOW, NULL);
	s.delay_ms = 150;
	server_start(&q, S_K, NULL);
	ports[0] = s.port;
	ports[1] = q.port;
	servers(f, ports, 2);
	f->c.qmqp_slow_ms = 50;
	for (i = 0; i < 40 && !f->r.remotes[0].sent; i++) {
		m = relay(f, i);
		settle(f);
		assert_int_equal(m->reply.plain, 0);
	}
	assert_int_equal(f->r.remotes[0].sent, 1);
	assert_true(f->r.remotes[0].slow_until > router_now_ms());
	before = server_get(&s, &s.requests);
	for (i = 0; i < 10; i++) {
		m = relay(f, 100 + i);
		settle(f);
		assert_ptr_equal(m->relay.server, &f->r.remotes[1]);
	}
	assert_int_equal(server_get(&s, &s.requests), before);
	server_stop(&s);
	server_stop(&q);
}

static void test_stats(void **state)
{
	struct fx *f = *state;
	struct server s;
	int ports[2];
	char buf[4096], want[300];

	server_start(&s, S_K, NULL);
	ports[0] = s.port;
	ports[1] = closed_port();
	servers(f, ports, 2);
	f->r.remotes[1].down = 1;
	f->r.remotes[1].down_until = router_now_ms() + 60000;
	relay(f, 1);
	relay(f, 2);
	settle(f);
	router_remote_stats(&f->r, buf, sizeof buf);
	snprintf(want, sizeof want, "remote 127.0.0.1:%d inflight 0 sent 2 temp 0 perm 0 failed 0 "
		 "latency_ms ", s.port);
	assert_non_null(strstr(buf, want));
	snprintf(want, sizeof want, "remote 127.0.0.1:%d inflight 0 sent 0 temp 0 perm 0 failed 0 "
		 "latency_ms 0 last_ms 0 down 1 slow 0\n", ports[1]);
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "remote_waiting 0\nremote_fallbacks 0\n"));
	server_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_want, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_rest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
