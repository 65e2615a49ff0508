/*
 * test_scan_pool.c - scan/scan_pool.c: the worker pool and scan_run(), with
 * fake backends defined here (a table of function pointers, as the daemon's
 * scanners are) so that every verdict and every timing is the test's.
 *
 *	scan_run      no scanner -> clean; verdicts merged, the strictest wins
 *	              (infected > banned > spam > error > clean), on a tie the
 *	              first stays; a backend that names no scanner gets its
 *	              backend's name; infected or banned is decisive and the
 *	              rest do not run, spam and error are not; job->cancel set
 *	              by someone stops the rest; a deadline already past runs
 *	              nothing and says error naming the scanner
 *	pool          every job runs once, notify() once per job; the done
 *	              list comes oldest first; a full queue refuses (-1) until
 *	              a worker takes a job; scan_pool_load() counts waiting and
 *	              busy; scan_pool_free() runs what is queued before joining;
 *	              0 threads / depth 0 still give one of each
 *	load          4 workers x 1000 jobs with a small queue and retry on -1:
 *	              no job lost or run twice, each with its own verdict
 *	network       SCAN_NET scanners run on their own threads: with one CPU
 *	              worker, four jobs' network scanners wait at once while
 *	              every CPU scanner finishes; a decisive CPU verdict
 *	              cancels a job's waiting network scanner; the job keeps
 *	              the headers of the scanner whose verdict it took, and
 *	              drops them when a stricter verdict without headers wins
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "scan/scan.h"

/* ------------------------------------------------------- fake backends */

/* One fake scanner: its verdict, calls counted, optionally held at a gate. */
struct fake {
	enum scan_kind kind;
	const char *name;	/* verdict name */
	const char *scanner;	/* NULL: leave v->scanner unset */
	int set_cancel;		/* set *in->cancel, as the loop does on a decision */
	int gated;		/* wait at the gate before answering */
	atomic_int calls;
};

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open = 1;
static atomic_int at_gate;

static void gate_close(void)
{
	pthread_mutex_lock(&gate_mu);
	gate_open = 0;
	pthread_mutex_unlock(&gate_mu);
}

static void gate_release(void)
{
	pthread_mutex_lock(&gate_mu);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

static void fake_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	struct fake *f = state;

	atomic_fetch_add(&f->calls, 1);
	if (f->gated) {
		atomic_fetch_add(&at_gate, 1);
		pthread_mutex_lock(&gate_mu);
		while (!gate_open)
			pthread_cond_wait(&gate_cv, &gate_mu);
		pthread_mutex_unlock(&gate_mu);
		atomic_fetch_sub(&at_gate, 1);
	}
	if (f->set_cancel)
		*in->cancel = 1;
	v->kind = f->kind;
	snprintf(v->name, sizeof v->name, "%s", f->name ? f->name : "");
	v->scanner = f->scanner;
	if (f->kind == SCAN_SPAM) {
		v->score = 12.5;
		v->required = 5.0;
	}
}

/* the verdict from the input: size % 5 is the kind, "job<size>" the name */
static void by_size_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	atomic_int *calls = state;

	atomic_fetch_add(calls, 1);
	scan_verdict_set(v, (enum scan_kind)(in->size % 5), "bysize", "job%lld", (long long)in->size);
}

static int fake_init(void **state, const struct scan_config *c, char *err, size_t errlen)
{
	return 0;
}

static void fake_fini(void *state)
{
}

static const struct scan_backend fake_a = {
	.name = "fake-a", .init = fake_init, .scan = fake_scan, .fini = fake_fini,
};
static const struct scan_backend fake_b = {
	.name = "fake-b", .init = fake_init, .scan = fake_scan, .fini = fake_fini,
};
static const struct scan_backend fake_c = {
	.name = "fake-c", .init = fake_init, .scan = fake_scan, .fini = fake_fini,
};
static const struct scan_backend by_size = {
	.name = "bysize", .init = fake_init, .scan = by_size_scan, .fini = fake_fini,
};

/* ------------------------------------------------------------ scan_run */

/* run3 - scan_run with up to three fakes; returns the verdict */
static struct scan_verdict run3(struct fake *a, struct fake *b, struct fake *c)
{
	static const struct scan_backend *const bk[] = { &fake_a, &fake_b, &fake_c };
	void *st[3] = { a, b, c };
	struct scan_job job;

	memset(&job, 0, sizeof job);
	job.in.fd = -1;
	job.scanners = bk;
	job.states = st;
	job.nscanners = c ? 3 : b ? 2 : a ? 1 : 0;
	scan_run(&job);
	return job.verdict;
}

static void test_run_none(void **unused)
{
	struct scan_verdict v = run3(NULL, NULL, NULL);

	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_string_equal(v.name, "");
}

static void test_run_merge(void **unused)
{
	struct fake clean = { .kind = SCAN_CLEAN }, err = { .kind = SCAN_ERROR, .name = "timeout" };
	struct fake spam = { .kind = SCAN_SPAM, .name = "" };
	struct fake spam2 = { .kind = SCAN_SPAM, .name = "second", .scanner = "spamd" };
	struct scan_verdict v;

	/* error beats clean, whatever the order */
	v = run3(&clean, &err, NULL);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.name, "timeout");
	assert_string_equal(v.scanner, "fake-b");	/* named after its backend */
	v = run3(&err, &clean, NULL);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.scanner, "fake-a");
	/* spam beats error; spam is not decisive: all three ran */
	atomic_store(&clean.calls, 0);
	v = run3(&err, &spam, &clean);
	assert_int_equal(v.kind, SCAN_SPAM);
	assert_true(v.score == 12.5 && v.required == 5.0);
	assert_int_equal(atomic_load(&clean.calls), 1);
	/* a tie: the first stays */
	v = run3(&spam, &spam2, NULL);
	assert_string_equal(v.scanner, "fake-a");
	v = run3(&spam2, &spam, NULL);
	assert_string_equal(v.scanner, "spamd");	/* the backend's own name kept */
	assert_string_equal(v.name, "second");
	/* all clean */
	v = run3(&clean, &clean, &clean);
	assert_int_equal(v.kind, SCAN_CLEAN);
}

static void test_run_decisive(void **unused)
{
	struct fake virus = { .kind = SCAN_INFECTED, .name = "Eicar" };
	struct fake banned = { .kind = SCAN_BANNED, .name = "evil.exe" };
	struct fake spam = { .kind = SCAN_SPAM };
	struct fake after = { .kind = SCAN_CLEAN };
	struct scan_verdict v;

	v = run3(&virus, &after, NULL);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, "Eicar");
	assert_int_equal(atomic_load(&after.calls), 0);
	v = run3(&banned, &after, &virus);
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_string_equal(v.name, "evil.exe");
	assert_int_equal(atomic_load(&after.calls), 0);
	assert_int_equal(atomic_load(&virus.calls), 1);	/* from the first run only */
	/* spam first: not decisive, so a later virus is found and wins */
	v = run3(&spam, &virus, &after);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_int_equal(atomic_load(&virus.calls), 2);
	assert_int_equal(atomic_load(&after.calls), 0);
	/* banned, then infected is stricter but never runs */
	v = run3(&banned, &virus, NULL);
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_int_equal(atomic_load(&virus.calls), 2);
}

static void test_run_cancel(void **unused)
{
	struct fake canceller = { .kind = SCAN_CLEAN, .set_cancel = 1 };
	struct fake after = { .kind = SCAN_INFECTED, .name = "never" };
	struct scan_verdict v = run3(&canceller, &after, NULL);

	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_int_equal(atomic_load(&canceller.calls), 1);
	assert_int_equal(atomic_load(&after.calls), 0);
}

static void test_run_deadline(void **unused)
{
	static const struct scan_backend *const bk[] = { &fake_a, &fake_b };
	struct fake a = { .kind = SCAN_CLEAN }, b = { .kind = SCAN_CLEAN };
	void *st[2] = { &a, &b };
	struct scan_job job;

	memset(&job, 0, sizeof job);
	job.scanners = bk;
	job.states = st;
	job.nscanners = 2;
	job.in.deadline_ms = scan_now_ms() - 1;
	scan_run(&job);
	assert_int_equal(job.verdict.kind, SCAN_ERROR);
	assert_string_equal(job.verdict.scanner, "fake-a");
	assert_non_null(strstr(job.verdict.name, "deadline"));
	assert_non_null(strstr(job.verdict.name, "fake-a"));
	assert_int_equal(atomic_load(&a.calls), 0);
	assert_int_equal(atomic_load(&b.calls), 0);
	/* a deadline in the future does not stop anything */
	job.in.deadline_ms = scan_now_ms() + 60000;
	scan_run(&job);
	assert_int_equal(job.verdict.kind, SCAN_CLEAN);
	assert_int_equal(atomic_load(&b.calls), 1);
}

/* a scanner that waits until its deadline, recording the deadline it got */
static int64_t hang_deadline;
static void hang_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	hang_deadline = in->deadline_ms;
	while (scan_now_ms() < in->deadline_ms)
		usleep(2000);
	scan_verdict_set(v, SCAN_ERROR, "hang", "deadline passed");
}

static const struct scan_backend hang_backend = {
	.name = "hang", .init = fake_init, .scan = hang_scan, .fini = fake_fini,
};

static void test_run_scanner_timeout(void **unused)
{
	static const struct scan_backend *const bk[] = { &hang_backend, &fake_b };
	struct fake b = { .kind = SCAN_INFECTED, .name = "Found.After.Hang" };
	void *st[2] = { NULL, &b };
	struct scan_job job;
	int64_t t0 = scan_now_ms(), took;

	memset(&job, 0, sizeof job);
	job.scanners = bk;
	job.states = st;
	job.nscanners = 2;
	job.in.deadline_ms = t0 + 10000;
	job.scanner_timeout_ms = 100;
	scan_run(&job);
	took = scan_now_ms() - t0;
	/* the hanging scanner got its own 100 ms, not the message's 10 s ... */
	assert_true(hang_deadline <= t0 + 200);
	assert_true(took < 2000);
	/* ... and the next scanner still ran within the message's deadline */
	assert_int_equal(atomic_load(&b.calls), 1);
	assert_int_equal(job.verdict.kind, SCAN_INFECTED);
	assert_string_equal(job.verdict.name, "Found.After.Hang");
	/* the message's deadline wins when it is the sooner */
	job.in.deadline_ms = scan_now_ms() + 50;
	job.scanner_timeout_ms = 5000;
	scan_run(&job);
	assert_true(hang_deadline == job.in.deadline_ms);
}

/* ---------------------------------------------------------------- pool */

/* Notifications, counted; waiters woken. */
static pthread_mutex_t note_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t note_cv = PTHREAD_COND_INITIALIZER;
static int notes, bad_arg;

/* notify - runs in a worker: no cmocka assertion here, only counts */
static void notify(void *arg)
{
	pthread_mutex_lock(&note_mu);
	notes++;
	if (arg != &notes)
		bad_arg++;
	pthread_cond_broadcast(&note_cv);
	pthread_mutex_unlock(&note_mu);
}

static void reset_notes(void)
{
	pthread_mutex_lock(&note_mu);
	notes = 0;
	pthread_mutex_unlock(&note_mu);
}

/* wait_notes - until n notifications (10 s at most) */
static void wait_notes(int n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&note_mu);
	while (notes < n)
		if (pthread_cond_timedwait(&note_cv, &note_mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&note_mu);
			fail_msg("%d notifications after 10 s, want %d", notes, n);
		}
	pthread_mutex_unlock(&note_mu);
}

static int get_notes(void)
{
	int n;

	pthread_mutex_lock(&note_mu);
	n = notes;
	assert_int_equal(bad_arg, 0);	/* notify() got the pool's arg */
	pthread_mutex_unlock(&note_mu);
	return n;
}

/* wait_load - until the pool has these jobs waiting and running (10 s at most) */
static void wait_load(struct scan_pool *p, unsigned waiting, unsigned busy)
{
	unsigned w = 0, b = 0;
	int i;

	for (i = 0; i < 10000; i++) {
		scan_pool_load(p, &w, &b);
		if (w == waiting && b == busy)
			return;
		usleep(1000);
	}
	fail_msg("pool load %u waiting %u busy, want %u %u", w, b, waiting, busy);
}

static const struct scan_backend *const one_a[] = { &fake_a };

static void job_init(struct scan_job *j, struct fake *f, long long id)
{
	static void *states[64];

	memset(j, 0, sizeof *j);
	j->in.fd = -1;
	j->in.size = id;
	j->scanners = one_a;
	states[id % 64] = f;
	j->states = &states[id % 64];
	j->nscanners = 1;
	j->owner = j;
}

static void test_pool_basic(void **unused)
{
	struct fake virus = { .kind = SCAN_INFECTED, .name = "Eicar" };
	struct scan_job jobs[5], *done;
	struct scan_pool *p;
	int i, n = 0;

	reset_notes();
	p = scan_pool_new(2, 16, notify, &notes);
	assert_non_null(p);
	for (i = 0; i < 5; i++) {
		job_init(&jobs[i], &virus, i);
		jobs[i].cancel = 1;	/* a stale flag: submit clears it */
		assert_int_equal(scan_pool_submit(p, &jobs[i]), 0);
	}
	wait_notes(5);
	for (done = scan_pool_done(p); done; done = done->next) {
		assert_ptr_equal(done->owner, done);
		assert_int_equal(done->verdict.kind, SCAN_INFECTED);
		assert_string_equal(done->verdict.name, "Eicar");
		n++;
	}
	assert_int_equal(n, 5);
	assert_int_equal(atomic_load(&virus.calls), 5);
	assert_null(scan_pool_done(p));	/* taken once */
	scan_pool_free(p);
	assert_int_equal(get_notes(), 5);	/* once per job, no more */
}

/* one worker: jobs finish in submit order, done hands them oldest first */
static void test_pool_order(void **unused)
{
	struct fake f = { .kind = SCAN_CLEAN, .gated = 1 };
	struct scan_job jobs[8], *done;
	struct scan_pool *p;
	long long want = 0;

	reset_notes();
	gate_close();
	p = scan_pool_new(1, 8, notify, &notes);
	for (int i = 0; i < 8; i++) {
		job_init(&jobs[i], &f, i);
		assert_int_equal(scan_pool_submit(p, &jobs[i]), 0);
	}
	wait_load(p, 7, 1);	/* one running (held at the gate), seven waiting */
	gate_release();
	wait_notes(8);
	for (done = scan_pool_done(p); done; done = done->next)
		assert_int_equal(done->in.size, want++);
	assert_int_equal(want, 8);
	scan_pool_free(p);
}

static void test_pool_depth(void **unused)
{
	struct fake f = { .kind = SCAN_CLEAN, .gated = 1 };
	struct scan_job jobs[6], *done;
	struct scan_pool *p;
	unsigned w, b;
	int n = 0;

	reset_notes();
	gate_close();
	p = scan_pool_new(1, 3, notify, &notes);
	job_init(&jobs[0], &f, 0);
	assert_int_equal(scan_pool_submit(p, &jobs[0]), 0);
	wait_load(p, 0, 1);	/* the worker holds job 0: the queue is empty */
	job_init(&jobs[1], &f, 1);
	job_init(&jobs[2], &f, 2);
	job_init(&jobs[3], &f, 3);
	job_init(&jobs[4], &f, 4);
	assert_int_equal(scan_pool_submit(p, &jobs[1]), 0);
	assert_int_equal(scan_pool_submit(p, &jobs[2]), 0);
	assert_int_equal(scan_pool_submit(p, &jobs[3]), 0);
	/* three wait: the fourth is refused, and refused again */
	assert_int_equal(scan_pool_submit(p, &jobs[4]), -1);
	assert_int_equal(scan_pool_submit(p, &jobs[4]), -1);
	scan_pool_load(p, &w, &b);
	assert_int_equal(w, 3);
	assert_int_equal(b, 1);
	/* once the queue drained there is room again */
	gate_release();
	wait_notes(4);
	gate_close();
	assert_int_equal(scan_pool_submit(p, &jobs[4]), 0);
	gate_release();
	wait_notes(5);
	for (done = scan_pool_done(p); done; done = done->next)
		n++;
	assert_int_equal(n, 5);
	assert_int_equal(atomic_load(&f.calls), 5);
	scan_pool_free(p);
}

/* scan_pool_free - with jobs still queued: they run before the join */
struct freer {
	struct scan_pool *p;
	atomic_int freed;
};

static void *free_main(void *arg)
{
	struct freer *fr = arg;

	scan_pool_free(fr->p);
	atomic_store(&fr->freed, 1);
	return NULL;
}

static void test_pool_free_drains(void **unused)
{
	struct fake f = { .kind = SCAN_SPAM, .gated = 1 };
	struct scan_job jobs[6];
	struct freer fr = { 0 };
	pthread_t t;
	int i;

	reset_notes();
	gate_close();
	fr.p = scan_pool_new(2, 8, notify, &notes);
	for (i = 0; i < 6; i++) {
		job_init(&jobs[i], &f, i);
		assert_int_equal(scan_pool_submit(fr.p, &jobs[i]), 0);
	}
	wait_load(fr.p, 4, 2);
	assert_int_equal(pthread_create(&t, NULL, free_main, &fr), 0);
	usleep(50000);
	assert_int_equal(atomic_load(&fr.freed), 0);	/* waits for the workers */
	gate_release();
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&fr.freed), 1);
	assert_int_equal(atomic_load(&f.calls), 6);	/* the queued four ran too */
	assert_int_equal(get_notes(), 6);
	for (i = 0; i < 6; i++)
		assert_int_equal(jobs[i].verdict.kind, SCAN_SPAM);
}

static void test_pool_minimums(void **unused)
{
	struct fake f = { .kind = SCAN_CLEAN, .gated = 1 };
	struct scan_job jobs[3];
	struct scan_pool *p;

	reset_notes();
	gate_close();
	/* 0 threads and depth 0: one worker, one waiting job */
	p = scan_pool_new(0, 0, notify, &notes);
	assert_non_null(p);
	job_init(&jobs[0], &f, 0);
	job_init(&jobs[1], &f, 1);
	job_init(&jobs[2], &f, 2);
	assert_int_equal(scan_pool_submit(p, &jobs[0]), 0);
	wait_load(p, 0, 1);
	assert_int_equal(scan_pool_submit(p, &jobs[1]), 0);
	assert_int_equal(scan_pool_submit(p, &jobs[2]), -1);
	gate_release();
	wait_notes(2);
	scan_pool_free(p);
	scan_pool_free(NULL);	/* harmless */
}

/* 4 workers x 1000 jobs through a queue of 16, retrying on a full queue */
static void test_pool_load(void **unused)
{
	enum { N = 1000 };
	static const struct scan_backend *const bk[] = { &by_size };
	static struct scan_job jobs[N];
	static int seen[N];
	atomic_int calls = 0;
	void *st[1] = { &calls };
	struct scan_pool *p;
	int i, got = 0, refused = 0;

	reset_notes();
	memset(seen, 0, sizeof seen);
	p = scan_pool_new(4, 16, notify, &notes);
	assert_non_null(p);
	for (i = 0; i < N; i++) {
		struct scan_job *j = &jobs[i];

		memset(j, 0, sizeof *j);
		j->in.fd = -1;
		j->in.size = i;
		j->scanners = bk;
		j->states = st;
		j->nscanners = 1;
		j->owner = j;
		while (scan_pool_submit(p, j) < 0) {
			refused++;
			/* the loop waits for its ev_async; here: any notification */
			pthread_mutex_lock(&note_mu);
			{
				struct timespec until;

				clock_gettime(CLOCK_REALTIME, &until);
				until.tv_nsec += 2000000;
				if (until.tv_nsec >= 1000000000) {
					until.tv_sec++;
					until.tv_nsec -= 1000000000;
				}
				pthread_cond_timedwait(&note_cv, &note_mu, &until);
			}
			pthread_mutex_unlock(&note_mu);
		}
		/* collect as the loop does, while submitting */
		for (struct scan_job *d = scan_pool_done(p); d; d = d->next) {
			long long id = d->in.size;

			assert_true(id >= 0 && id < N);
			seen[id]++;
			got++;
		}
	}
	wait_notes(N);
	for (struct scan_job *d = scan_pool_done(p); d; d = d->next) {
		seen[d->in.size]++;
		got++;
	}
	scan_pool_free(p);
	assert_int_equal(got, N);
	assert_int_equal(atomic_load(&calls), N);
	assert_int_equal(get_notes(), N);
	for (i = 0; i < N; i++) {
		char want[32];

		if (seen[i] != 1)
			fail_msg("job %d came back %d times", i, seen[i]);
		/* a clean verdict keeps scan_run's own clean one (no name) */
		snprintf(want, sizeof want, i % 5 ? "job%d" : "", i);
		assert_int_equal(jobs[i].verdict.kind, (enum scan_kind)(i % 5));
		assert_string_equal(jobs[i].verdict.name, want);
	}
	/* with 16 waiting at most and 1000 submitted fast, some were refused
	 * (not asserted: a fast machine may keep up) */
	print_message("  %d submissions refused and retried\n", refused);
}

/* ------------------------------------------------------------- network */

/* A network fake: waits until released or cancelled; says spam with a
 * header line, or "cancelled" as an error. */
static pthread_mutex_t net_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t net_cv = PTHREAD_COND_INITIALIZER;
static int net_open, net_waiting, net_cancelled, net_calls;

static void net_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	struct timespec tick = { 0, 5 * 1000000L };
	int released = 0;

	pthread_mutex_lock(&net_mu);
	net_waiting++;
	net_calls++;
	pthread_cond_broadcast(&net_cv);
	pthread_mutex_unlock(&net_mu);
	for (;;) {
		pthread_mutex_lock(&net_mu);
		released = net_open;
		pthread_mutex_unlock(&net_mu);
		if (released || *in->cancel)
			break;
		nanosleep(&tick, NULL);
	}
	pthread_mutex_lock(&net_mu);
	net_waiting--;
	if (!released)
		net_cancelled++;
	pthread_mutex_unlock(&net_mu);
	if (!released) {
		scan_verdict_set(v, SCAN_ERROR, "net", "cancelled");
		return;
	}
	scan_verdict_set(v, SCAN_SPAM, "net", "score 9");
	if (in->hdr)
		scan_headers_add(in->hdr, "X-Spam-Flag", "YES");
}

static const struct scan_backend fake_net = {
	.name = "net", .class = SCAN_NET, .init = fake_init, .scan = net_scan, .fini = fake_fini,
};

static void net_reset(int open)
{
	pthread_mutex_lock(&net_mu);
	net_open = open;
	net_cancelled = 0;
	net_calls = 0;
	pthread_mutex_unlock(&net_mu);
}

/* net_wait_for - until n network fakes wait at once (10 s at most) */
static void net_wait_for(int n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&net_mu);
	while (net_waiting < n)
		if (pthread_cond_timedwait(&net_cv, &net_mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&net_mu);
			fail_msg("%d network scanners waiting after 10 s, want %d", net_waiting, n);
		}
	pthread_mutex_unlock(&net_mu);
}

static void test_pool_network(void **unused)
{
	static const struct scan_backend *const bk[] = { &fake_a, &fake_net };
	struct fake clean = { .kind = SCAN_CLEAN };
	void *st[2] = { &clean, NULL };
	struct scan_job jobs[4];
	struct scan_pool *p;
	int i;

	net_reset(0);
	reset_notes();
	p = scan_pool_new(1, 16, notify, &notes);	/* one CPU worker */
	assert_non_null(p);
	memset(jobs, 0, sizeof jobs);
	for (i = 0; i < 4; i++) {
		jobs[i].scanners = bk;
		jobs[i].states = st;
		jobs[i].nscanners = 2;
		jobs[i].in.deadline_ms = scan_now_ms() + 20000;
		assert_int_equal(scan_pool_submit(p, &jobs[i]), 0);
	}
	/* all four network scanners wait at once, and the one CPU worker is
	 * free: it ran every job's CPU scanner */
	net_wait_for(4);
	for (i = 0; i < 200 && atomic_load(&clean.calls) < 4; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&clean.calls), 4);
	assert_int_equal(get_notes(), 0);	/* no job is done without its network part */
	pthread_mutex_lock(&net_mu);
	net_open = 1;
	pthread_mutex_unlock(&net_mu);
	wait_notes(4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(jobs[i].verdict.kind, SCAN_SPAM);
		assert_string_equal(jobs[i].verdict.scanner, "net");
		assert_string_equal(jobs[i].headers.buf, "X-Spam-Flag: YES\n");
	}
	{
		struct scan_job *j = scan_pool_done(p);

		for (i = 0; j; j = j->next)
			i++;
		assert_int_equal(i, 4);
	}
	scan_pool_free(p);
}

static void test_pool_network_decisive(void **unused)
{
	static const struct scan_backend *const bk[] = { &fake_net, &fake_a };
	struct fake virus = { .kind = SCAN_INFECTED, .name = "Eicar" };
	void *st[2] = { NULL, &virus };
	struct scan_job job;
	struct scan_pool *p;
	int64_t t0;

	net_reset(0);
	reset_notes();
	p = scan_pool_new(1, 4, notify, &notes);
	memset(&job, 0, sizeof job);
	job.scanners = bk;
	job.states = st;
	job.nscanners = 2;
	job.in.deadline_ms = scan_now_ms() + 20000;
	t0 = scan_now_ms();
	assert_int_equal(scan_pool_submit(p, &job), 0);
	wait_notes(1);
	/* the network scanner, never released, was cancelled by the verdict
	 * (or, when the CPU task ended before it started, never ran) */
	assert_true(scan_now_ms() - t0 < 5000);
	assert_int_equal(job.verdict.kind, SCAN_INFECTED);
	assert_string_equal(job.verdict.name, "Eicar");
	assert_int_equal(job.headers.len, 0);
	pthread_mutex_lock(&net_mu);
	assert_int_equal(net_cancelled, net_calls);
	assert_int_equal(net_waiting, 0);
	pthread_mutex_unlock(&net_mu);
	scan_pool_free(p);

	/* released: the network spam verdict with its header came first or
	 * last; either way the infected verdict wins and takes no header */
	net_reset(1);
	reset_notes();
	p = scan_pool_new(1, 4, notify, &notes);
	assert_int_equal(scan_pool_submit(p, &job), 0);
	wait_notes(1);
	assert_int_equal(job.verdict.kind, SCAN_INFECTED);
	assert_int_equal(job.headers.len, 0);
	assert_string_equal(job.headers.buf, "");
	scan_pool_free(p);
}

/* a job of SCAN_JOB_MAX network scanners: one task each; one more: refused */
static void test_pool_network_max(void **unused)
{
	static const struct scan_backend *const bk[SCAN_JOB_MAX + 1] = {
		&fake_net, &fake_net, &fake_net, &fake_net, &fake_net, &fake_net, &fake_net,
		&fake_net, &fake_net,
	};
	void *st[SCAN_JOB_MAX + 1] = { NULL };
	struct scan_job job;
	struct scan_pool *p;

	net_reset(1);
	reset_notes();
	p = scan_pool_new(1, 4, notify, &notes);
	memset(&job, 0, sizeof job);
	job.scanners = bk;
	job.states = st;
	job.nscanners = SCAN_JOB_MAX + 1;
	assert_int_equal(scan_pool_submit(p, &job), -1);
	job.nscanners = SCAN_JOB_MAX;
	assert_int_equal(scan_pool_submit(p, &job), 0);
	wait_notes(1);
	assert_int_equal(job.verdict.kind, SCAN_SPAM);
	pthread_mutex_lock(&net_mu);
	assert_int_equal(net_calls, SCAN_JOB_MAX);
	pthread_mutex_unlock(&net_mu);
	scan_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_none),
		cmocka_unit_test(test_run_merge),
		cmocka_unit_test(test_run_decisive),
		cmocka_unit_test(test_run_cancel),
		cmocka_unit_test(test_run_deadline),
		cmocka_unit_test(test_run_scanner_timeout),
		cmocka_unit_test(test_pool_basic),
		cmocka_unit_test(test_pool_order),
		cmocka_unit_test(test_pool_depth),
		cmocka_unit_test(test_pool_free_drains),
		cmocka_unit_test(test_pool_minimums),
		cmocka_unit_test(test_pool_load),
		cmocka_unit_test(test_pool_network),
		cmocka_unit_test(test_pool_network_decisive),
		cmocka_unit_test(test_pool_network_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
