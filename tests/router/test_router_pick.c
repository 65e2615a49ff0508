/*
 * test_router_pick.c - router/router_pick.c: which queue a message goes to.
 *
 *	round      within one commit round every message gets the same queue
 *	           (they are fsynced together); a new round chooses again, and
 *	           so does the SLUICE_BATCH+1-th message of a round (a stalled
 *	           round must not send everything to one loaded queue)
 *	spread     over many rounds, with the chosen queue's load going up, the
 *	           less loaded of two candidates spreads the load over every
 *	           queue
 *	idle       with one queue idle and the others loaded, the idle one is
 *	           chosen within every 4 fresh choices (the second candidate
 *	           takes every queue in turn)
 *	unusable   a chosen queue that goes down, fails or is over its backlog
 *	           is left within the same round; none usable -> NULL
 *	one        QUEUEDIR / QUEUE_COUNT=1: that queue or NULL
 *	backoff    a write error skips the queue for 1 s, doubling with each
 *	           further error up to 10 s; a commit resets it to 1 s
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "router/router_int.h"

struct fx {
	struct router r;
	struct router_config c;
	struct rqueue q[4];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	f->c.max_backlog = 1000;
	f->c.batch_max = 64;
	f->r.cfg = &f->c;
	f->r.nq = 4;
	f->r.queues = f->q;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void test_round(void **state)
{
	struct fx *f = *state;
	struct rqueue *first;
	int i, changed = 0;

	first = router_pick(&f->r, 0, 100);
	assert_non_null(first);
	for (i = 0; i < 50; i++) {
		struct rqueue *q = router_pick(&f->r, 0, 100 + i);

		assert_ptr_equal(q, first);
		q->inflight++;	/* its load grows: still the round's queue */
	}
	for (i = 0; i < 20; i++) {
		f->r.rounds++;
		changed += router_pick(&f->r, 0, 1) != first;
	}
	assert_true(changed > 0);
}

/* skipped_ms - for how long the last failure takes the queue out (ms) */
static int64_t skipped_ms(struct fx *f, struct rqueue *q)
{
	int64_t now = router_now_ms();

	router_queue_failed(&f->r, q);
	return q->failing_until - now;
}

static void test_backoff(void **state)
{
	struct fx *f = *state;
	struct rqueue *q = &f->q[2];
	static const int64_t want[] = { 1000, 2000, 4000, 8000, 10000, 10000 };
	unsigned i;

	f->r.nq = 1;
	f->r.queues = q;
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		int64_t ms = skipped_ms(f, q);

		assert_true(ms >= want[i] - 50 && ms <= want[i]);
		assert_null(router_pick(&f->r, 0, 1));	/* skipped meanwhile */
	}
	assert_int_equal(q->failed, 6);
	/* a commit resets the streak (router_sync.c): the next skip is 1 s */
	q->fail_streak = 0;
	assert_true(skipped_ms(f, q) <= 1000);
	q->failing_until = router_now_ms() - 1;
	f->r.rounds++;
	assert_ptr_equal(router_pick(&f->r, 0, 1), q);
}

static void test_batch_limit(void **state)
{
	struct fx *f = *state;
	struct rqueue *first;
	int i;

	f->c.batch_max = 8;
	first = router_pick(&f->r, 0, 5);
	first->inflight++;
	for (i = 1; i < 8; i++) {
		assert_ptr_equal(router_pick(&f->r, 0, 5 + i), first);
		first->inflight++;
	}
	/* the 9th in the same round: chosen again, by load: another queue */
	assert_ptr_not_equal(router_pick(&f->r, 0, 20), first);
}

static void test_spread(void **state)
{
	struct fx *f = *state;
	unsigned got[4] = { 0 };
	int round, k, i;

	for (round = 0; round < 400; round++) {
		f->r.rounds++;
		for (k = 0; k < 4; k++) {
			struct rqueue *q = router_pick(&f->r, 0, 1000 + k);

			q->inflight++;
			got[q - f->q]++;
		}
		for (i = 0; i < 4; i++)	/* answered: half the load goes */
			f->q[i].inflight /= 2;
	}
	for (i = 0; i < 4; i++)
		if (got[i] < 200)
			fail_msg("queue %d got %u of 1600 messages", i, got[i]);
}

/*
 * test_idle_found - one queue idle, the others loaded, each choice fresh (a
 * new round): the idle queue is chosen within every 4 choices, wherever it
 * is and whatever the pids hash to.  Two hashed candidates miss a given
 * queue with probability 1/4 per choice: 100 windows would not all pass.
 */
static void test_idle_found(void **state)
{
	struct fx *f = *state;
	int w, k, i;

	for (w = 0; w < 100; w++) {
		int idle = w % 4, found = 0;

		for (i = 0; i < 4; i++)
			f->q[i].inflight = i == idle ? 0 : 100;
		for (k = 0; k < 4; k++) {
			f->r.rounds++;
			found |= router_pick(&f->r, 0, (pid_t)(7919 * w + 31 * k)) == &f->q[idle];
		}
		if (!found)
			fail_msg("window %d: the idle queue %d was not chosen in 4 choices", w, idle);
	}
}

static void test_unusable(void **state)
{
	struct fx *f = *state;
	struct rqueue *a, *b;
	int i;

	a = router_pick(&f->r, 0, 7);
	a->down = 1;
	b = router_pick(&f->r, 0, 7);	/* same round */
	assert_non_null(b);
	assert_ptr_not_equal(b, a);
	b->backlog = 1001;
	a = router_pick(&f->r, 0, 7);
	assert_non_null(a);
	assert_false(a->down);
	assert_ptr_not_equal(a, b);
	a->failing_until = router_now_ms() + 60000;
	b = router_pick(&f->r, 0, 7);
	assert_non_null(b);
	assert_true(!b->down && b->backlog <= 1000 && b->failing_until == 0);
	for (i = 0; i < 4; i++)
		f->q[i].down = 1;
	assert_null(router_pick(&f->r, 0, 7));
	f->q[2].down = 0;
	assert_ptr_equal(router_pick(&f->r, 0, 7), &f->q[2]);
}

static void test_one(void **state)
{
	struct fx *f = *state;

	f->r.nq = 1;
	assert_ptr_equal(router_pick(&f->r, 0, 1), &f->q[0]);
	f->r.rounds++;
	assert_ptr_equal(router_pick(&f->r, 0, 2), &f->q[0]);
	f->q[0].down = 1;
	assert_null(router_pick(&f->r, 0, 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
