/*
 * router_sync.c - the sync thread: pipelined group commit.
 *
 *	router_sync_submit() (loop thread) hands a message over.  Each round
 *	the sync thread takes what waits, up to SLUICE_BATCH messages, and
 *	does the disk work of its action: quarantine (router_quarantine), tag
 *	(router_tag), then intd/.  Then queue_commit_step() links the todo/
 *	entries of the previous round's batch and runs ONE round of fsyncs
 *	for those todo/ directories together with this batch's data and
 *	directories (queue/INTERNALS.md).  The previous batch is then
 *	committed and goes back to the loop through an ev_async;
 *	router_sync_done() answers its clients.  Under load one journal commit
 *	serves two batches; when idle a message takes two quick rounds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "router_int.h"

#define BATCH_MAX 64

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

/* prepare - the disk work before the commit; 1 if the message goes on to commit */
static int prepare(struct rmsg *m)
{
	if (m->action == ACTION_QUARANTINE) {
		m->action_failed = router_quarantine(m) < 0;
		return 0;	/* never committed */
	}
	if (m->action == ACTION_TAG && router_tag(m) < 0) {
		queue_errset(&m->qm.err, QUEUE_EWRITE, errno, "cannot add the verdict headers");
		queue_msg_abort(&m->qm);
		return 0;
	}
	if (queue_msg_intd(&m->qm, m->env.buf, m->env.len, &m->qm.err) != QUEUE_OK) {
		queue_msg_abort(&m->qm);
		return 0;
	}
	return 1;
}

static void post(struct router *r, struct rmsg **v, size_t n)
{
	size_t i;

	if (!n)
		return;
	pthread_mutex_lock(&r->sync_mu);
	for (i = 0; i < n; i++) {
		v[i]->sync_next = r->sync_out;
		r->sync_out = v[i];
	}
	pthread_mutex_unlock(&r->sync_mu);
	ev_async_send(r->loop, &r->sync_async);
}

static void *sync_main(void *arg)
{
	struct router *r = arg;
	struct rmsg *batch[BATCH_MAX], *prev[BATCH_MAX], *out[BATCH_MAX];
	struct queue_msg *cur_q[BATCH_MAX], *prev_q[BATCH_MAX];
	size_t nprev = 0;
	int incur[BATCH_MAX];

	for (;;) {
		size_t n, i, ncur = 0, nout = 0;

		pthread_mutex_lock(&r->sync_mu);
		while (!r->sync_in && !nprev && !r->sync_stop)
			pthread_cond_wait(&r->sync_cv, &r->sync_mu);
		if (!r->sync_in && !nprev) {
			pthread_mutex_unlock(&r->sync_mu);
			break;
		}
		n = take(r, batch, r->cfg->batch_max);
		r->st.batches += n > 0;
		r->st.batch_msgs += n;
		if (n > r->st.batch_max)
			r->st.batch_max = n;
		pthread_mutex_unlock(&r->sync_mu);

		for (i = 0; i < n; i++) {
			incur[i] = prepare(batch[i]);
			if (incur[i])
				cur_q[ncur++] = &batch[i]->qm;
			else
				out[nout++] = batch[i];
		}
		for (i = 0; i < nprev; i++)
			prev_q[i] = &prev[i]->qm;
		queue_commit_step(cur_q, ncur, prev_q, nprev, r->cfg->sync, 1);
		post(r, prev, nprev);
		nprev = 0;
		for (i = 0; i < n; i++) {
			struct rmsg *m = batch[i];

			if (!incur[i])
				continue;	/* already in out */
			if (m->qm.flags & QUEUE_MSG_SYNCED)
				prev[nprev++] = m;
			else
				out[nout++] = m;	/* failed in the fsync round */
		}
		post(r, out, nout);
	}
	return NULL;
}

int router_sync_start(struct router *r)
{
	pthread_mutex_init(&r->sync_mu, NULL);
	pthread_cond_init(&r->sync_cv, NULL);
	if (r->cfg->batch_max > BATCH_MAX)
		r->cfg->batch_max = BATCH_MAX;
	return pthread_create(&r->sync_thread, NULL, sync_main, r);
}

void router_sync_stop(struct router *r)
{
	pthread_mutex_lock(&r->sync_mu);
	r->sync_stop = 1;
	pthread_cond_signal(&r->sync_cv);
	pthread_mutex_unlock(&r->sync_mu);
	pthread_join(r->sync_thread, NULL);
}

void router_sync_submit(struct router *r, struct rmsg *m)
{
	pthread_mutex_lock(&r->sync_mu);
	m->sync_next = r->sync_in;
	r->sync_in = m;
	pthread_cond_signal(&r->sync_cv);
	pthread_mutex_unlock(&r->sync_mu);
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
		if (m->action == ACTION_QUARANTINE) {
			if (m->action_failed)
				msg_answer(m, QQ_TEMP, "quarantine-failed",
					   "Message could not be quarantined, try again later (#4.3.0)", NULL);
			else if (r->cfg->quarantine_then == ACTION_DROP) {
				m->dropped = 1;
				msg_answer(m, QQ_OK, m->verdict, NULL, NULL);
			}
			else
				msg_answer(m, QQ_PERM, m->verdict, m->reject_text, NULL);
			continue;
		}
		if (m->qm.flags & QUEUE_MSG_TODO && m->qm.err.status == QUEUE_OK) {
			m->rq->committed++;
			msg_answer(m, QQ_OK, m->verdict, NULL, NULL);
		} else {
			router_queue_failed(r, m->rq);
			msg_answer(m, client_exit_code(m->qm.err.status), "error", NULL, m->qm.err.text);
		}
	}
}
