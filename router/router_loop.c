/*
 * router_loop.c - the loop thread and the life of a message.
 *
 * SUMMARY
 *	One struct rmsg per message moves through enum msg_stage, driven by
 *	msg_step(), which every callback re-enters after it recorded what
 *	happened (bytes arrived, a scan or a commit came back, a deadline):
 *
 *	  REQUEST   admitted (go-ahead sent); the request brings fds 0 and 1;
 *	            a queue is chosen and the mess file begun (Received line);
 *	            whether a remote queue takes the message is decided too
 *	  RECEIVE   fd 0 read non-blocking straight into the mess file
 *	  ENVELOPE  fd 1 read with qmail-queue's rules
 *	  POLICY    which scanners run and what each verdict does: the
 *	            per-domain policy (control/) or the daemon's settings
 *	  SCAN      the scan pool (or parked while its queue is full)
 *	  DECIDE    verdict -> action and status (client_decide)
 *	  COMMIT    an action thread: quarantine, tag, a pin's move; the
 *	            sync thread: intd, group commit;
 *	            or, for a remote queue, the QMQP relay on this thread
 *	            (router_remote.c), the server's K/Z/D the answer
 *	  ANSWER    answered; freed on the next loop iteration
 *
 *	Each stage's function is entered once when the message reaches it
 *	(m->entered is 0) and again for each event while it is there; it
 *	returns 1 when the stage is done (msg_step runs the next one at once)
 *	or 0 to wait.  msg_finish() is the one exit: it removes an uncommitted
 *	message, answers with the status's exit code and text (client_answer,
 *	the only place either is chosen), logs one line and queues the context
 *	for reaping; contexts are freed in an ev_prepare callback, never
 *	inside their own watchers' callbacks.
 *
 *	router_admit() is the backpressure valve: over a limit the accept
 *	watcher stops and the kernel's listen backlog holds new clients, whose
 *	sluice-queue gives up with 71 after SLUICE_ACCEPT_TIMEOUT, still
 *	holding qmail-smtpd's pipes (they are passed only once admitted).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "router_int.h"
#include "queue/diag.h"

#define READ_CHUNK 65536
#define READS_PER_CALLBACK 4	/* fairness between slow and fast senders */
#define REQUEST_TIMEOUT_MS 10000

static char iobuf[READ_CHUNK];	/* loop thread only */

int64_t router_now_ms(void)
{
	return scan_now_ms();
}

static void stop_io(struct rmsg *m)
{
	struct ev_loop *loop = m->r->loop;

	ev_io_stop(loop, &m->in_w);
	ev_io_stop(loop, &m->conn_w);
	ev_timer_stop(loop, &m->timer);
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

void router_admit(struct router *r)
{
	const struct router_config *c = r->cfg;
	int ok = !r->stopping && r->inflight < c->max_inflight &&
		 r->bytes_inflight < c->max_bytes && !r->scan_wait_head;

	if (ok && !r->accepting && !ev_is_active(&r->pause_w)) {
		ev_io_start(r->loop, &r->accept_w);
		r->accepting = 1;
	} else if (!ok && r->accepting) {
		ev_io_stop(r->loop, &r->accept_w);
		r->accepting = 0;
	}
}

static void msg_free(struct rmsg *m)
{
	struct router *r = m->r;

	if (m->prev)
		m->prev->next = m->next;
	else
		r->all = m->next;
	if (m->next)
		m->next->prev = m->prev;
	close_fd(&m->conn);
	close_fd(&m->fd0);
	close_fd(&m->fd1);
	if (m->have_qm) {
		close_fd(&m->qm.fd);
		close_fd(&m->qm.intdfd);
	}
	router_remote_free(m);
	router_policy_fini(m);
	queue_env_free(&m->env);
	free(m->rcpts);
	free(m->messpath);
	free(m);
}

/* reap - free answered contexts, outside any of their callbacks */
static void on_reap(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct router *r = w->data;

	router_sync_flush(r);	/* this iteration's commits, in one hand-over */
	while (r->reap) {
		struct rmsg *m = r->reap;

		r->reap = m->reap_next;
		msg_free(m);
	}
	if (r->stopping && r->inflight == 0)
		ev_break(loop, EVBREAK_ALL);
}

void router_reap_later(struct rmsg *m)
{
	m->reap_next = m->r->reap;
	m->r->reap = m;
}

/*
 * msg_finish - the one way out: status st is the answer (name and score
 * fill its text: the virus, file or reason; the spam score), what is the
 * log's verdict word, why the cause for the log (NULL: keep m->why).
 */
void msg_finish(struct rmsg *m, enum sq_status st, const char *what, const char *name,
		const char *why)
{
	struct router *r = m->r;
	char buf[8 + 256];
	size_t len;
	int64_t ms = router_now_ms() - m->t0;

	if (m->stage == ST_ANSWER)
		return;
	if (m->parked)
		router_scan_unpark(r, m);
	if (m->have_qm && !(m->qm.flags & QUEUE_MSG_TODO)) {
		if (m->in_pool)
			m->abort_pending = 1;	/* a worker still reads the file */
		else
			queue_msg_abort(&m->qm);
	}
	stop_io(m);
	m->status = st;
	client_answer(&m->reply, st, name, m->v.score, r->cfg->custom, r->cfg->error_fd);
	m->verdict = what;
	if (why)
		snprintf(m->why, sizeof m->why, "%s", why);
	if (m->conn >= 0) {
		len = wire_reply_encode(&m->reply, buf);
		(void)!send(m->conn, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		close_fd(&m->conn);
	}
	close_fd(&m->fd0);
	close_fd(&m->fd1);
	router_log(m, ms);
	router_stats_answer(r, m, ms);
	if (m->rq)
		m->rq->inflight--;
	r->inflight--;
	r->bytes_inflight -= m->counted;
	m->stage = ST_ANSWER;
	if (!m->in_pool)
		router_reap_later(m);
	router_admit(r);
}

/* router_queue_error - answer a message whose queue operation failed.
 * Running out of descriptors or memory is the daemon's own pressure: 71,
 * and the queue stays in service (marking it failing would take every
 * queue out at once).  Any other write error marks the queue failing for
 * a moment and answers qmail-queue's code for the step. */
void router_queue_error(struct rmsg *m, const struct queue_err *e)
{
	if (e->errnum == EMFILE || e->errnum == ENFILE || e->errnum == ENOMEM) {
		msg_finish(m, SQ_TEMP_BUSY, "error", NULL, e->text);
		return;
	}
	if (m->rq && (e->status == QUEUE_EWRITE || e->status == QUEUE_EPID ||
		      e->status == QUEUE_EMESS || e->status == QUEUE_EINTD || e->status == QUEUE_ETODO))
		router_queue_failed(m->r, m->rq);
	msg_finish(m, client_queue_status(e->status), "error", NULL, e->text);
}

static void arm_timer(struct rmsg *m, int64_t ms)
{
	m->timer.repeat = (double)ms / 1000.0;
	ev_timer_again(m->r->loop, &m->timer);
}

/* readable_type - what qmail-smtpd and qmail-inject pass: a pipe (or FIFO)
 * or a regular file; never a socket, a tty or a device.  0 for anything
 * else, else the S_IFMT type */
static mode_t readable_type(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode)))
		return 0;
	return st.st_mode & S_IFMT;
}

/* nonblock - a pipe's read end never blocks the loop: one F_SETFL, no
 * F_GETFL first (of the status flags F_SETFL sets, only O_NONBLOCK means
 * anything to a pipe's reader).  A regular file is left alone: O_NONBLOCK
 * changes nothing for it, and it is always ready. */
static int nonblock(int fd, mode_t type)
{
	return type == S_IFIFO ? fcntl(fd, F_SETFL, O_NONBLOCK) : 0;
}

static void on_in(struct ev_loop *loop, ev_io *w, int revents);

/* ------------------------------------------------------------------ stages */

/* st_request - the request with the fds: choose a queue, begin the mess file */
static int st_request(struct rmsg *m)
{
	struct router *r = m->r;
	struct ucred cred;
	socklen_t clen = sizeof cred;
	struct queue_err e;
	mode_t t0 = 0, t1 = 0;
	int fds[2];
	ssize_t n;

	if (!m->entered) {
		m->entered = 1;
		arm_timer(m, REQUEST_TIMEOUT_MS);
		return 0;	/* on_conn re-enters when the request is there */
	}
	n = wire_recv_request(m->conn, fds, m->payload, WIRE_REQ_MAX);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		/* n == 0: the client gave up while it waited in the listen
		 * backlog; it still held qmail-smtpd's pipes and has exited */
		msg_finish(m, SQ_TEMP_BUSY, n == 0 ? "client-gone" : "error", NULL,
			   n == 0 ? "sluice-queue gave up before it was admitted"
			   : "malformed request (a sluice-queue of another version?)");
		return 0;
	}
	m->payload_len = (size_t)n;
	m->payload[n] = 0;
	m->fd0 = fds[0];
	m->fd1 = fds[1];
	if (getsockopt(m->conn, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		msg_finish(m, SQ_BUG, "error", NULL, "no SO_PEERCRED");
		return 0;
	}
	m->uid = cred.uid;
	m->pid = cred.pid;
	if (!(t0 = readable_type(m->fd0)) || !(t1 = readable_type(m->fd1))) {
		/* e.g. sluice-queue started with fd 0 closed passes its own
		 * socket: reading it would hold a slot until the read timeout */
		msg_finish(m, SQ_TEMP_READ, "error", NULL, !t0
			   ? "the message fd is not a pipe or a file" : "the envelope fd is not a pipe or a file");
		return 0;
	}
	if (nonblock(m->fd0, t0) < 0 || nonblock(m->fd1, t1) < 0) {
		msg_finish(m, SQ_TEMP_READ, "error", NULL, "cannot make the pipes non-blocking");
		return 0;
	}
	if (!(m->rq = router_pick(r, m->uid, m->pid))) {
		/* IndiMail's qmail-queue answers 53 below MIN_FREE */
		if (router_all_short_of_space(r))
			msg_finish(m, SQ_TEMP_DISK, "no-queue", NULL, "every queue is below MIN_FREE");
		else
			msg_finish(m, SQ_TEMP_BUSY, "no-queue", NULL,
				   "no queue available (down, full or failing)");
		return 0;
	}
	m->rq->inflight++;
	/* a remote queue or this local one; either way the local queue's
	 * mess file receives it (router_remote.c) */
	m->remote = router_remote_want(r, m->pid);
	if (queue_msg_begin(&m->rq->q, &m->qm, &e) != QUEUE_OK) {
		router_queue_error(m, &e);
		return 0;
	}
	m->have_qm = 1;
	return 1;	/* st_receive writes the Received line, with the first bytes */
}

/* watch - wait for fd to be readable (the watcher is started once: libev
 * changes the epoll set only when a watcher's fd or events change) */
static void watch(struct rmsg *m, int fd)
{
	if (!ev_is_active(&m->in_w)) {
		if (m->in_w.fd != fd)
			ev_io_set(&m->in_w, fd, EV_READ);
		ev_io_start(m->r->loop, &m->in_w);
	}
}

/*
 * st_receive - fd 0 into the mess file, until EOF.  The pipe is read at
 * once on entry and watched only when it runs dry: a message already
 * written (a small one, or a file) costs no epoll change at all.  The
 * Received line goes out with the first bytes read, in one write.
 */
static int st_receive(struct rmsg *m)
{
	struct router *r = m->r;
	const struct router_config *c = r->cfg;
	struct queue_err e;
	size_t head = 0;	/* Received line bytes in front of iobuf */
	int i;

	if (!m->entered) {
		m->entered = 1;
		m->last_io = router_now_ms();
		ev_io_init(&m->in_w, on_in, m->fd0, EV_READ);
		m->in_w.data = m;
		/* the sooner of the two: an idle pipe, or the whole message's time */
		arm_timer(m, (int64_t)(c->read_timeout < c->message_timeout ? c->read_timeout
								     : c->message_timeout) * 1000);
		head = queue_received(iobuf, QUEUE_RECEIVED_MAX, (unsigned long)m->pid, m->uid,
				      &r->uids, time(NULL));
		m->rlen = head;
		r->bytes_inflight += head;
		m->counted += head;
	}
	for (i = 0; i < READS_PER_CALLBACK; i++) {
		ssize_t n = read(m->fd0, iobuf + head, sizeof iobuf - head);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			queue_errset(&e, QUEUE_EREAD, errno, "cannot read the message");
			router_queue_error(m, &e);
			return 0;
		}
		if (n > 0)
			m->last_io = router_now_ms();
		if ((n > 0 || head) &&
		    queue_msg_write(&m->qm, iobuf, head + (size_t)(n > 0 ? n : 0), &e) != QUEUE_OK) {
			router_queue_error(m, &e);
			return 0;
		}
		head = 0;
		if (n < 0) {	/* EAGAIN */
			watch(m, m->fd0);
			return 0;
		}
		if (n == 0) {
			close_fd(&m->fd0);
			ev_io_stop(r->loop, &m->in_w);
			return 1;
		}
		r->bytes_inflight += (uint64_t)n;
		m->counted += (uint64_t)n;
		r->st.bytes += (uint64_t)n;
	}
	watch(m, m->fd0);	/* more to read: in a later callback (fairness) */
	router_admit(r);
	return 0;
}

/* st_envelope - fd 1 with qmail-queue's rules; then the recipients' list */
static int st_envelope(struct rmsg *m)
{
	struct queue_err e;
	enum queue_status st;
	size_t used;
	ssize_t n;
	const char *p;
	unsigned i = 0;

	if (!m->entered) {	/* read at once: qmail-smtpd writes it right after the message */
		m->entered = 1;
		queue_env_init(&m->env, m->uid, (unsigned long)m->pid);
	}
	for (;;) {
		n = read(m->fd1, iobuf, sizeof iobuf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			watch(m, m->fd1);
			return 0;
		}
		if (n < 0) {
			queue_errset(&e, QUEUE_EREAD, errno, "cannot read the envelope");
			router_queue_error(m, &e);
			return 0;
		}
		m->last_io = router_now_ms();
		st = n ? queue_env_feed(&m->env, iobuf, (size_t)n, &used) : queue_env_eof(&m->env);
		if (st == QUEUE_AGAIN)
			continue;
		if (st == QUEUE_OK)
			break;
		if (st == QUEUE_EREAD) {
			/* qmail-smtpd closes fd 1 early to cancel a message */
			msg_finish(m, SQ_TEMP_READ, "aborted", NULL, "envelope cut short: message aborted");
			return 0;
		}
		queue_errset(&e, st, 0, "%s", st == QUEUE_EADDR ? "envelope address too long"
			     : st == QUEUE_EFORMAT ? "envelope record of the wrong type"
			     : "envelope too large");
		router_queue_error(m, &e);
		return 0;
	}
	close_fd(&m->fd1);
	ev_io_stop(m->r->loop, &m->in_w);
	ev_timer_stop(m->r->loop, &m->timer);
	if (!(m->rcpts = calloc(m->env.nrcpt + 1, sizeof *m->rcpts))) {
		queue_errset(&e, QUEUE_ENOMEM, ENOMEM, "no memory for recipients");
		router_queue_error(m, &e);
		return 0;
	}
	for (p = queue_env_rcpt(&m->env, NULL); p && i < m->env.nrcpt; p = queue_env_rcpt(&m->env, p))
		m->rcpts[i++] = p;
	return 1;
}

/* st_policy - the scanners and actions of this message (router_policy.c) */
static int st_policy(struct rmsg *m)
{
	m->entered = 1;
	return router_policy_apply(m) == 0;
}

/* st_scan - hand the message to the pool; done when the verdict is back
 * (or the deadline set a verdict of its own) */
static int st_scan(struct rmsg *m)
{
	if (!m->entered) {
		m->entered = 1;
		if (m->nscanners == 0 || m->env.noscan) {
			m->skip_scan = 1;
			/* clean only when nothing is configured to scan at all */
			m->verdict = m->env.noscan ? "noscan" : m->r->cfg->nscanners ? "unscanned" : "clean";
			return 1;
		}
		router_scan_submit(m->r, m);
		return 0;
	}
	return m->scanned;
}

/* st_decide - the verdict and the message's actions make the decision */
static int st_decide(struct rmsg *m)
{
	const struct scan_verdict *v = &m->v;
	char why[400];

	m->entered = 1;
	if (m->skip_scan) {	/* nothing scanned: committed as it came */
		m->dec.action = ACTION_ACCEPT;
		m->dec.status = SQ_OK;
	} else {
		client_decide(&m->act, v, m->scan_timed_out, &m->dec);
		m->verdict = m->scan_timed_out ? "scan-timeout" : scan_kind_name(v->kind);
		if (v->kind != SCAN_CLEAN) {
			snprintf(why, sizeof why, "%s%s%s", v->scanner ? v->scanner : "",
				 *v->name ? ": " : "", v->name);
			snprintf(m->why, sizeof m->why, "%s", why);
		}
	}
	m->action = m->dec.action;
	switch (m->dec.action) {
	case ACTION_ACCEPT:
	case ACTION_TAG:
	case ACTION_QUARANTINE:
		return 1;	/* committed, tagged then committed, or quarantined */
	case ACTION_DROP:
	case ACTION_REJECT:
	case ACTION_DEFER:
		break;
	}
	msg_finish(m, m->dec.status, m->verdict, v->name, NULL);
	return 0;
}

/* st_commit - the sync thread's work; its result answers the message.
 * A message for a remote queue is relayed instead (router_remote.c): the
 * server's answer is the message's, or, when no server took it and local
 * queues are queues, the relay hands it to the sync thread after all and
 * it comes back here as a local message. */
static int st_commit(struct rmsg *m)
{
	if (!m->entered) {
		m->entered = 1;
		/* nothing of the loop may touch it until router_sync_done() */
		stop_io(m);
		router_policy_pin(m);
		if (m->remote && m->action != ACTION_QUARANTINE)
			router_remote_relay(m);
		else
			router_commit_submit(m->r, m);
		return 0;
	}
	router_policy_pinned(m);
	if (m->action == ACTION_QUARANTINE) {
		if (m->action_failed)
			msg_finish(m, SQ_TEMP_QUARANTINE, "quarantine-failed", NULL, NULL);
		else
			msg_finish(m, m->dec.status, m->verdict, m->v.name, NULL);
	} else if (m->qm.flags & QUEUE_MSG_TODO && m->qm.err.status == QUEUE_OK) {
		m->rq->committed++;
		m->rq->fail_streak = 0;
		msg_finish(m, SQ_OK, m->verdict, NULL, NULL);
	} else
		router_queue_error(m, &m->qm.err);
	return 0;
}

/* msg_step - run the message's stages until one has to wait */
void msg_step(struct rmsg *m)
{
	static int (*const stage[])(struct rmsg *) = {
		[ST_REQUEST] = st_request, [ST_RECEIVE] = st_receive,
		[ST_ENVELOPE] = st_envelope, [ST_POLICY] = st_policy, [ST_SCAN] = st_scan,
		[ST_DECIDE] = st_decide, [ST_COMMIT] = st_commit,
	};

	while (m->stage < ST_ANSWER && stage[m->stage](m)) {
		m->stage++;
		m->entered = 0;
	}
}

/* ------------------------------------------------------------------ events */

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rmsg *m = w->data;
	const struct router_config *c = m->r->cfg;
	int64_t now = router_now_ms(), until;

	switch (m->stage) {
	case ST_REQUEST:
		msg_finish(m, SQ_TEMP_BUSY, "error", NULL, "no request from the client in time");
		return;
	case ST_RECEIVE:
	case ST_ENVELOPE:
		until = m->last_io + (int64_t)c->read_timeout * 1000;
		if (m->t0 + (int64_t)c->message_timeout * 1000 < until)
			until = m->t0 + (int64_t)c->message_timeout * 1000;
		if (now >= until) {
			char why[120];

			/* qmail-queue's alarm gives 52 "qq timeout" */
			if (now >= m->t0 + (int64_t)c->message_timeout * 1000)
				snprintf(why, sizeof why, "the message took longer than "
					 "SLUICE_MESSAGE_TIMEOUT (%u s)", c->message_timeout);
			else
				snprintf(why, sizeof why, "qmail-smtpd sent nothing for "
					 "SLUICE_READ_TIMEOUT (%u s)", c->read_timeout);
			msg_finish(m, SQ_TEMP_TIMEOUT, "timeout", NULL, why);
			return;
		}
		break;
	case ST_SCAN:
		until = m->scan_deadline + 1000;	/* grace for the worker's own check */
		if (now >= until) {
			/* the verdict is the deadline's: SLUICE_ON_ERROR decides */
			m->job.cancel = 1;
			if (m->parked)	/* never got a worker */
				router_scan_unpark(m->r, m);
			/* the worker may still write job.verdict: ours is m->v */
			scan_verdict_set(&m->v, SCAN_ERROR, "sluiced", "scan deadline passed");
			m->scan_timed_out = 1;
			m->scanned = 1;
			msg_step(m);
			return;
		}
		break;
	default:
		return;
	}
	w->repeat = (double)(until - now) / 1000.0;
	ev_timer_again(loop, w);
}

static void on_in(struct ev_loop *loop, ev_io *w, int revents)
{
	msg_step(w->data);
}

static void on_conn(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rmsg *m = w->data;
	char c;
	ssize_t n;

	if (m->stage == ST_REQUEST) {
		msg_step(m);
		return;
	}
	n = recv(m->conn, &c, 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* sluice-queue writes nothing after its request: EOF means it died
	 * (qmail-smtpd gave up); it will not see a reply, so nothing is kept */
	if (m->stage == ST_SCAN)
		m->job.cancel = 1;
	close_fd(&m->conn);
	msg_finish(m, SQ_TEMP_BUSY, "client-gone", NULL, "sluice-queue went away before the verdict");
}

static void on_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	router_admit(w->data);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct router *r = w->data;
	int i;

	for (i = 0; i < 64 && r->accepting; i++) {
		struct rmsg *m;
		int fd = accept4(r->lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
				diag_warn("accept: %s; pausing 100 ms",
					strerror(errno));
				ev_io_stop(loop, &r->accept_w);
				r->accepting = 0;
				ev_timer_set(&r->pause_w, 0.1, 0.);
				ev_timer_start(loop, &r->pause_w);
			}
			return;
		}
		if (!(m = calloc(1, sizeof *m))) {
			close(fd);	/* sluice-queue sees EOF: 71 */
			return;
		}
		/* admitted: only now may the client pass qmail-smtpd's pipes */
		{
			char go = WIRE_GO;

			(void)!send(fd, &go, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		m->r = r;
		m->conn = fd;
		m->fd0 = m->fd1 = -1;
		m->qm.fd = m->qm.intdfd = -1;
		m->stage = ST_REQUEST;
		m->t0 = router_now_ms();
		m->verdict = "none";
		m->next = r->all;
		if (r->all)
			r->all->prev = m;
		r->all = m;
		r->inflight++;
		ev_io_init(&m->conn_w, on_conn, fd, EV_READ);
		m->conn_w.data = m;
		ev_io_start(loop, &m->conn_w);
		ev_init(&m->timer, on_timer);
		m->timer.data = m;
		msg_step(m);
		router_admit(r);
	}
}

/*
 * The stats socket: a client sends a command (or nothing) and shuts down its
 * writing side; "" answers the figures, "reload" starts a scanner reload
 * (for root and the daemon's user only: SO_PEERCRED).
 * One connection at a time is plenty for an admin's tool; a client that
 * sends nothing within a second gets the figures anyway.
 */
struct stats_conn {
	struct router *r;
	ev_io io;
	ev_timer timer;
	char cmd[64];
	size_t len;
};

static void stats_finish(struct stats_conn *sc)
{
	struct router *r = sc->r;

	ev_io_stop(r->loop, &sc->io);
	ev_timer_stop(r->loop, &sc->timer);
	while (sc->len && (sc->cmd[sc->len - 1] == '\n' || sc->cmd[sc->len - 1] == '\r'))
		sc->len--;
	sc->cmd[sc->len] = 0;
	if (!strcmp(sc->cmd, "reload")) {
		/* a command that changes state (a reload doubles the engine's
		 * memory while it runs): root and the daemon's own user only */
		struct ucred cred;
		socklen_t clen = sizeof cred;

		if (getsockopt(sc->io.fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
		    (cred.uid != 0 && cred.uid != geteuid())) {
			diag_info("stats socket: reload refused for uid %ld (pid %ld)",
				clen == sizeof cred ? (long)cred.uid : -1L, clen == sizeof cred ? (long)cred.pid : -1L);
			(void)!write(sc->io.fd, "permission denied\n", 18);
		} else {
			router_scan_reload(r);
			(void)!write(sc->io.fd, "reloading\n", 10);
		}
	} else if (sc->len)
		(void)!write(sc->io.fd, "unknown command\n", 16);
	else
		router_stats_serve(r, sc->io.fd);
	close(sc->io.fd);
	free(sc);
	ev_io_start(r->loop, &r->stats_w);
}

static void on_stats_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct stats_conn *sc = w->data;
	ssize_t n = read(w->fd, sc->cmd + sc->len, sizeof sc->cmd - 1 - sc->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		sc->len += (size_t)n;
		if (sc->len < sizeof sc->cmd - 1)
			return;	/* more may come until the client shuts down */
	}
	stats_finish(sc);
}

static void on_stats_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	stats_finish(w->data);
}

static void on_stats(struct ev_loop *loop, ev_io *w, int revents)
{
	struct router *r = w->data;
	struct stats_conn *sc;
	int fd = accept4(r->ssock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (!(sc = calloc(1, sizeof *sc))) {
		close(fd);
		return;
	}
	sc->r = r;
	ev_io_init(&sc->io, on_stats_read, fd, EV_READ);
	sc->io.data = sc;
	ev_io_start(loop, &sc->io);
	ev_timer_init(&sc->timer, on_stats_timer, 1., 0.);
	sc->timer.data = sc;
	ev_timer_start(loop, &sc->timer);
	ev_io_stop(loop, &r->stats_w);	/* one at a time */
}

static void on_reload_check(struct ev_loop *loop, ev_timer *w, int revents)
{
	router_scan_check(w->data);
	router_policy_reload(w->data);	/* a new simcontrol.cdb, without a restart */
}

static void begin_stop(struct router *r, const char *why)
{
	if (r->stopping)
		return;
	diag_info("%s: no new messages; draining %u in flight", why, r->inflight);
	r->stopping = 1;
	router_admit(r);
	/* No listener: new clients get ECONNREFUSED at once (71, or their
	 * direct-mode fallback) instead of waiting in the backlog. */
	if (r->lsock >= 0) {
		ev_io_stop(r->loop, &r->accept_w);
		close(r->lsock);
		r->lsock = -1;
	}
	unlink(r->cfg->socket_path);	/* may fail after the privilege drop */
	if (r->cfg->drain_timeout) {
		ev_timer_set(&r->drain_w, r->cfg->drain_timeout, 0.);
		ev_timer_start(r->loop, &r->drain_w);
	}
	if (r->inflight == 0)
		ev_break(r->loop, EVBREAK_ALL);
}

static void on_term(struct ev_loop *loop, ev_signal *w, int revents)
{
	begin_stop(w->data, w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_drain(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct router *r = w->data;
	struct rmsg *m;

	diag_info("drain time over: deferring %u messages", r->inflight);
	for (m = r->all; m; m = m->next)
		if (m->stage < ST_SCAN)
			msg_finish(m, SQ_TEMP_BUSY, "shutdown", NULL, "daemon shutting down");
	/* messages being scanned or committed finish on their own */
}

/*
 * reload_settings - SIGHUP: a new snapshot of the settings, swapped for the
 * running one when it is good; the values that take effect at restart are
 * the running ones in it (router_config_compare), so only the loop thread
 * sees anything change.  msg says what changed, or why nothing did.
 */
static void reload_settings(struct router *r, char *msg, size_t cap)
{
	struct router_config **v, *old;

	/* room first: a swapped-out snapshot must never be lost track of */
	if (!(v = realloc(r->retired, (r->nretired + 1) * sizeof *v))) {
		snprintf(msg, cap, "out of memory: running settings kept");
		return;
	}
	r->retired = v;
	if (router_config_reload(&r->cfg, msg, cap, &old) == 0 && old)
		r->retired[r->nretired++] = old;
}

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct router *r = w->data;
	char msg[2048] = "";

	reload_settings(r, msg, sizeof msg);
	diag_info("SIGHUP: settings: %s", msg);
	router_admit(r);	/* the limits may have changed */
	diag_info("SIGHUP: reloading scanners");
	router_scan_reload(r);
	router_policy_reload(r);
}

/* on_health - the health thread has fresh figures (router_pick.c) */
static void on_health(struct ev_loop *loop, ev_async *w, int revents)
{
	router_health_apply(w->data);
}

static void on_scan_async(struct ev_loop *loop, ev_async *w, int revents)
{
	router_scan_done(w->data);
}

static void on_sync_async(struct ev_loop *loop, ev_async *w, int revents)
{
	router_sync_done(w->data);
}

/* router_loop_fini - the watchers that outlive the loop otherwise: a signal
 * belongs to one loop at a time, so a later loop (a test's next daemon)
 * could not take it */
void router_loop_fini(struct router *r);
void router_loop_fini(struct router *r)
{
	ev_signal_stop(r->loop, &r->term_w);
	ev_signal_stop(r->loop, &r->int_w);
	ev_signal_stop(r->loop, &r->hup_w);
}

/* router_loop_init - watchers of the daemon (sockets already listening) */
void router_loop_init(struct router *r);
void router_loop_init(struct router *r)
{
	struct ev_loop *loop = r->loop;

	ev_io_init(&r->accept_w, on_accept, r->lsock, EV_READ);
	r->accept_w.data = r;
	ev_io_init(&r->stats_w, on_stats, r->ssock, EV_READ);
	r->stats_w.data = r;
	if (r->ssock >= 0)
		ev_io_start(loop, &r->stats_w);
	ev_init(&r->pause_w, on_pause);
	r->pause_w.data = r;
	ev_init(&r->drain_w, on_drain);
	r->drain_w.data = r;
	ev_async_init(&r->health_w, on_health);
	r->health_w.data = r;
	ev_async_start(loop, &r->health_w);
	ev_signal_init(&r->term_w, on_term, SIGTERM);
	r->term_w.data = r;
	ev_signal_start(loop, &r->term_w);
	ev_signal_init(&r->int_w, on_term, SIGINT);
	r->int_w.data = r;
	ev_signal_start(loop, &r->int_w);
	ev_signal_init(&r->hup_w, on_hup, SIGHUP);
	r->hup_w.data = r;
	ev_signal_start(loop, &r->hup_w);
	ev_async_init(&r->scan_async, on_scan_async);
	r->scan_async.data = r;
	ev_async_start(loop, &r->scan_async);
	ev_async_init(&r->sync_async, on_sync_async);
	r->sync_async.data = r;
	ev_async_start(loop, &r->sync_async);
	if (r->cfg->reload_check) {
		ev_timer_init(&r->reload_w, on_reload_check, r->cfg->reload_check, r->cfg->reload_check);
		r->reload_w.data = r;
		ev_timer_start(loop, &r->reload_w);
	}
	ev_prepare_init(&r->reap_w, on_reap);
	r->reap_w.data = r;
	ev_prepare_start(loop, &r->reap_w);
	router_admit(r);
}
