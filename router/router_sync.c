/*
 * router_sync.c - the sync thread: group commit.
 *
 *	router_sync_submit() (loop thread) hands a message over.  The sync
 *	thread takes everything waiting, up to SLUICE_BATCH messages, writes
 *	each intd/ file, and commits the batch with queue_commit(): one round
 *	of fsyncs for all of them (queue/INTERNALS.md).  The batch goes back
 *	to the loop through an ev_async; router_sync_done() answers every
 *	client of the batch.  While the thread fsyncs, the next batch gathers,
 *	so batches grow with load and shrink to one message when idle.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "router_int.h"

static void *sync_main(void *arg)
{
	struct router *r = arg;
	struct queue_msg *v[64];
	struct rmsg *batch[64];

	pthread_mutex_lock(&r->sync_mu);
	for (;;) {
		size_t n = 0, i;

		while (!r->sync_in && !r->sync_stop)
			pthread_cond_wait(&r->sync_cv, &r->sync_mu);
		if (!r->sync_in)
			break;
		/* sync_in is newest first: take the oldest batch_max */
		{
			struct rmsg *m, *rev = NULL;

			while ((m = r->sync_in)) {
				r->sync_in = m->sync_next;
				m->sync_next = rev;
				rev = m;
			}
			while (rev && n < r->cfg->batch_max) {
				batch[n++] = rev;
				rev = rev->sync_next;
			}
			while (rev) {	/* the rest waits for the next round, in order */
				m = rev;
				rev = rev->sync_next;
				m->sync_next = r->sync_in;
				r->sync_in = m;
			}
		}
		pthread_mutex_unlock(&r->sync_mu);

		{
			size_t k = 0;

			for (i = 0; i < n; i++) {
				struct rmsg *m = batch[i];

				if (m->action == ACTION_QUARANTINE) {
					m->action_failed = router_quarantine(m) < 0;
					continue;	/* never committed */
				}
				if (m->action == ACTION_TAG && router_tag(m) < 0) {
					queue_errset(&m->qm.err, QUEUE_EWRITE, errno,
						     "cannot add the verdict headers");
					queue_msg_abort(&m->qm);
					continue;
				}
				if (queue_msg_intd(&m->qm, m->env.buf, m->env.len, &m->qm.err) != QUEUE_OK)
					queue_msg_abort(&m->qm);
				else
					v[k++] = &m->qm;
			}
			queue_commit(v, k, r->cfg->sync, 1);
		}

		pthread_mutex_lock(&r->sync_mu);
		r->st.batches++;
		r->st.batch_msgs += n;
		if (n > r->st.batch_max)
			r->st.batch_max = n;
		for (i = 0; i < n; i++) {
			batch[i]->sync_next = r->sync_out;
			r->sync_out = batch[i];
		}
		pthread_mutex_unlock(&r->sync_mu);
		ev_async_send(r->loop, &r->sync_async);
		pthread_mutex_lock(&r->sync_mu);
	}
	pthread_mutex_unlock(&r->sync_mu);
	return NULL;
}

int router_sync_start(struct router *r)
{
	pthread_mutex_init(&r->sync_mu, NULL);
	pthread_cond_init(&r->sync_cv, NULL);
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
				msg_answer(m, QQ_TEMP, "quarantine-failed", NULL, NULL);
			else if (r->cfg->quarantine_then == ACTION_DROP)
				msg_answer(m, QQ_OK, m->verdict, NULL, NULL);
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
