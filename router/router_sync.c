/*
 * router_sync.c - the sync thread: pipelined group commit.
 *
 *	router_sync_submit() (loop thread) hands a message over; the loop's
 *	router_sync_flush(), before it waits for events, passes what it
 *	submitted in that iteration in one go (one wake-up).  The sync
 *	thread creates intd/ ("prepare").  The
 *	thread owns one commit round (struct queue_round, a local of
 *	sync_main) for its life.  Each round, queue_round_begin() links the
 *	todo/ entries of the previous round's batch and starts ONE round of
 *	fsyncs for those todo/ directories together with the prepared batch's
 *	data and directories (queue/INTERNALS.md), up to SLUICE_BATCH
 *	messages.  While the helper threads wait for the disk, the sync thread
 *	prepares what arrived meanwhile, so the next round starts as soon as
 *	queue_round_end() has finished this one.  The previous batch is then
 *	committed and goes back to the loop through an ev_async;
 *	router_sync_done() answers its clients.  Under load one journal commit
 *	serves two batches; when idle a message takes two quick rounds.
 *
 *	The verdict actions that touch the disk run on ACTION_THREADS threads
 *	of their own, never on the sync thread: quarantine (a copy into a
 *	Maildir and two fsyncs), the move of a queue= pin (a copy when it
 *	crosses filesystems) and tag (a rewrite of the file).  In a virus
 *	storm with quarantine they would otherwise hold up every queue's
 *	commit rounds.  router_commit_submit() (loop thread) sends a message
 *	that needs one to them (FIFO), any other straight to the sync thread;
 *	an action thread hands it on to the sync thread (sync_in) or, done or
 *	failed, back to the loop (sync_out).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "router_int.h"

#define BATCH_MAX 64
#define ACTION_THREADS ROUTER_ACTION_THREADS

/* take - up to max messages, oldest first, from sync_in (mu held) */
static size_t take(struct router *r, struct rmsg **batch, size_t max)
{
	struct rmsg *m, *rev = NULL;
	size_t n = 0;

	while ((m = r->sync_in)) {	/* sync_in is newest first */
		r->sync_in = m->sync_next;
		m->sync_next = rev;
		rev = m;
	}
	while (rev && n < max) {
		batch[n++] = rev;
		rev = rev->sync_next;
	}
	while (rev) {		/* the rest waits for the next round, in order */
		m = rev;
		rev = rev->sync_next;
		m->sync_next = r->sync_in;
		r->sync_in = m;
	}
	return n;
}

/* prepare - the sync thread's disk work before the commit (the action
 * threads did the rest); 1 if the message goes on to commit */
static int prepare(struct rmsg *m)
{
	if (queue_msg_intd(&m->qm, m->env.buf, m->env.len, &m->qm.err) != QUEUE_OK) {
		queue_msg_abort(&m->qm);
		return 0;
	}
	return 1;
}

/* post2 - hand v[] then w[] back to the loop: one lock, one ev_async */
static void post2(struct router *r, struct rmsg **v, size_t n, struct rmsg **w, size_t nw)
{
	size_t i;

	if (!n && !nw)
		return;
	pthread_mutex_lock(&r->sync_mu);
	for (i = 0; i < n + nw; i++) {
		struct rmsg *m = i < n ? v[i] : w[i - n];

		m->sync_next = r->sync_out;
		r->sync_out = m;
	}
	pthread_mutex_unlock(&r->sync_mu);
	ev_async_send(r->loop, &r->sync_async);
}

/* out_add - m is done with (not committed): to out[], handed back when full */
static void out_add(struct router *r, struct rmsg **out, size_t *nout, struct rmsg *m)
{
	if (*nout == BATCH_MAX) {
		post2(r, out, *nout, NULL, 0);
		*nout = 0;
	}
	out[(*nout)++] = m;
}

/* prepare_some - prepare messages taken from sync_in: those ready for a round
 * go to ready[], the others (failed, quarantined) to out[] */
static void prepare_some(struct router *r, struct rmsg **v, size_t n, struct rmsg **ready,
			 size_t *nready, struct rmsg **out, size_t *nout)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (prepare(v[i]))
			ready[(*nready)++] = v[i];
		else
			out_add(r, out, nout, v[i]);
}

/* round_done - the round's last fsync is done (called by the thread that did it,
 * with the fsync pool's lock held; or at once when no helper runs the round) */
static void round_done(void *arg)
{
	struct router *r = arg;

	pthread_mutex_lock(&r->sync_mu);
	r->round_done = 1;
	pthread_cond_signal(&r->sync_cv);
	pthread_mutex_unlock(&r->sync_mu);
}

static void *sync_main(void *arg)
{
	struct router *r = arg;
	struct rmsg *in[BATCH_MAX], *ready[BATCH_MAX], *cur[BATCH_MAX], *prev[BATCH_MAX];
	struct rmsg *out[BATCH_MAX];
	struct queue_msg *cur_q[BATCH_MAX], *prev_q[BATCH_MAX];
	struct queue_round rd;	/* this thread's; ended before each next begin */
	size_t nprev = 0, nready = 0;

	queue_round_init(&rd);
	for (;;) {
		size_t n, i, ncur, nout = 0;

		pthread_mutex_lock(&r->sync_mu);
		while (!r->sync_in && !nprev && !nready && !r->sync_stop)
			pthread_cond_wait(&r->sync_cv, &r->sync_mu);
		if (!r->sync_in && !nprev && !nready) {
			pthread_mutex_unlock(&r->sync_mu);
			break;
		}
		n = take(r, in, router_cfg(r)->batch_max - nready);
		pthread_mutex_unlock(&r->sync_mu);
		prepare_some(r, in, n, ready, &nready, out, &nout);

		/* the round: link prev's todo/ entries, sync cur */
		ncur = nready;
		for (i = 0; i < ncur; i++) {
			cur[i] = ready[i];
			cur_q[i] = &cur[i]->qm;
		}
		nready = 0;
		for (i = 0; i < nprev; i++)
			prev_q[i] = &prev[i]->qm;
		pthread_mutex_lock(&r->sync_mu);
		r->round_done = 0;
		if (ncur) {
			r->st.batches++;
			r->st.batch_msgs += ncur;
			if (ncur > r->st.batch_max)
				r->st.batch_max = ncur;
			__atomic_add_fetch(&r->rounds, 1, __ATOMIC_RELAXED);	/* router_pick() chooses again */
		}
		pthread_mutex_unlock(&r->sync_mu);
		/* rd is closed here (ended below every time): the begin cannot fail */
		queue_round_begin(&rd, cur_q, ncur, prev_q, nprev, router_cfg(r)->sync, round_done, r);

		/* while the disk works: write the files of what comes meanwhile */
		for (;;) {
			int done;

			pthread_mutex_lock(&r->sync_mu);
			while (!r->sync_in && !r->round_done)
				pthread_cond_wait(&r->sync_cv, &r->sync_mu);
			done = r->round_done;
			/* once the round is over, answer its batch first: what
			 * waits is taken at the top of the loop */
			n = done ? 0 : take(r, in, router_cfg(r)->batch_max - nready);
			pthread_mutex_unlock(&r->sync_mu);
			prepare_some(r, in, n, ready, &nready, out, &nout);
			if (done || nready == router_cfg(r)->batch_max)
				break;
		}
		queue_round_end(&rd, 1);
		/* the round's answers (its committed batch, and what failed or
		 * was quarantined meanwhile) go back in one hand-over */
		for (i = 0; i < ncur; i++)
			if (!(cur[i]->qm.flags & QUEUE_MSG_SYNCED))
				out_add(r, out, &nout, cur[i]);	/* failed in the fsync round */
		post2(r, prev, nprev, out, nout);
		nprev = 0;
		for (i = 0; i < ncur; i++)
			if (cur[i]->qm.flags & QUEUE_MSG_SYNCED)
				prev[nprev++] = cur[i];
	}
	return NULL;
}

/* action - an action thread's work on m; 1 if it goes on to the commit */
static int action(struct rmsg *m)
{
	if (m->action == ACTION_QUARANTINE) {
		m->action_failed = router_quarantine(m) < 0;
		return 0;	/* never committed */
	}
	/* queue=: into the pinned queue first; failing that, it stays */
	if (m->pin && queue_msg_move(&m->qm, &m->pin->q, &m->pin_err) != QUEUE_OK)
		m->pin_failed = 1;
	if (m->action == ACTION_TAG && router_tag(m) < 0) {
		queue_errset(&m->qm.err, QUEUE_EWRITE, errno, "cannot add the verdict headers");
		queue_msg_abort(&m->qm);
		return 0;
	}
	return 1;
}

static void *action_main(void *arg)
{
	struct router *r = arg;

	for (;;) {
		struct rmsg *m;
		int go;

		pthread_mutex_lock(&r->action_mu);
		while (!r->action_head && !r->action_stop)
			pthread_cond_wait(&r->action_cv, &r->action_mu);
		if (!(m = r->action_head)) {	/* stopping, and nothing left */
			pthread_mutex_unlock(&r->action_mu);
			break;
		}
		if (!(r->action_head = m->sync_next))
			r->action_tail = NULL;
		pthread_mutex_unlock(&r->action_mu);
		go = action(m);
		pthread_mutex_lock(&r->sync_mu);
		if (go) {
			m->sync_next = r->sync_in;	/* newest first, as the loop's */
			r->sync_in = m;
			pthread_cond_signal(&r->sync_cv);
		} else {
			m->sync_next = r->sync_out;
			r->sync_out = m;
		}
		pthread_mutex_unlock(&r->sync_mu);
		if (!go)
			ev_async_send(r->loop, &r->sync_async);
	}
	return NULL;
}

/* router_commit_submit - the COMMIT stage hands m over: to an action
 * thread when its action touches the disk (quarantine, tag, a pin's move),
 * else to the sync thread with the loop iteration's other messages */
void router_commit_submit(struct router *r, struct rmsg *m)
{
	if (m->action != ACTION_QUARANTINE && m->action != ACTION_TAG && !m->pin) {
		router_sync_submit(r, m);
		return;
	}
	m->sync_next = NULL;
	pthread_mutex_lock(&r->action_mu);
	if (r->action_tail)
		r->action_tail->sync_next = m;
	else
		r->action_head = m;
	r->action_tail = m;
	pthread_cond_signal(&r->action_cv);
	pthread_mutex_unlock(&r->action_mu);
}

int router_sync_start(struct router *r)
{
	pthread_mutex_init(&r->sync_mu, NULL);
	pthread_cond_init(&r->sync_cv, NULL);
	pthread_mutex_init(&r->action_mu, NULL);
	pthread_cond_init(&r->action_cv, NULL);
	if (r->cfg->batch_max > BATCH_MAX)
		r->cfg->batch_max = BATCH_MAX;
	if (pthread_create(&r->sync_thread, NULL, sync_main, r) != 0)
		return -1;
	for (r->naction = 0; r->naction < ACTION_THREADS; r->naction++)
		if (pthread_create(&r->action_threads[r->naction], NULL, action_main, r) != 0)
			break;
	if (r->naction == 0) {
		router_sync_stop(r);
		return -1;
	}
	return 0;
}

void router_sync_stop(struct router *r)
{
	unsigned i;

	/* the action threads first: what they still hold goes to the sync
	 * thread, which commits it before it stops */
	pthread_mutex_lock(&r->action_mu);
	r->action_stop = 1;
	pthread_cond_broadcast(&r->action_cv);
	pthread_mutex_unlock(&r->action_mu);
	for (i = 0; i < r->naction; i++)
		pthread_join(r->action_threads[i], NULL);
	r->naction = 0;
	pthread_mutex_lock(&r->sync_mu);
	r->sync_stop = 1;
	pthread_cond_signal(&r->sync_cv);
	pthread_mutex_unlock(&r->sync_mu);
	pthread_join(r->sync_thread, NULL);
}

/* router_sync_submit - m goes to the sync thread with the others the loop
 * submits in this iteration: router_sync_flush() hands them over together */
void router_sync_submit(struct router *r, struct rmsg *m)
{
	m->sync_next = r->submit_head;	/* newest first, as sync_in */
	r->submit_head = m;
	if (!r->submit_tail)
		r->submit_tail = m;
}

/* router_sync_flush - before the loop waits for events: what it submitted
 * since the last flush, in one lock and at most one wake-up of the sync
 * thread instead of one per message */
void router_sync_flush(struct router *r)
{
	if (!r->submit_head)
		return;
	pthread_mutex_lock(&r->sync_mu);
	r->submit_tail->sync_next = r->sync_in;
	r->sync_in = r->submit_head;
	pthread_cond_signal(&r->sync_cv);
	pthread_mutex_unlock(&r->sync_mu);
	r->submit_head = r->submit_tail = NULL;
}

void router_sync_done(struct router *r)
{
	struct rmsg *list;

	pthread_mutex_lock(&r->sync_mu);
	list = r->sync_out;
	r->sync_out = NULL;
	pthread_mutex_unlock(&r->sync_mu);
	while (list) {
		struct rmsg *m = list;

		list = m->sync_next;
		msg_step(m);	/* the COMMIT stage answers from what the thread did */
	}
}
