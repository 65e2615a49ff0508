/*
 * test_router_sync.c - router/router_sync.c: the sync thread's group commit.
 *
 *	The test is the loop's side: it starts the sync thread on a struct
 *	router of its own (two temp queue trees, no scanner), hands it messages
 *	the way the loop does (struct rmsg with the mess file written through
 *	queue_msg_begin/write and the envelope read by queue_env_feed, action
 *	accept) and takes them back from r->sync_out in its own sync_async
 *	callback on a real libev loop, where sluiced's loop calls
 *	router_sync_done() (the answers are router_loop.c's business).
 *
 *	commit     every message comes back committed: todo/<id> holds u p F T
 *	           exactly, the mess file the message, pid/ empty; the first
 *	           round held at a gate lets the rest pile up, so that ten
 *	           messages take four rounds of at most SLUICE_BATCH (4);
 *	           todo/ links and the hand-back are in submission order
 *	flush      what the loop submits in one iteration stays the loop's
 *	           until router_sync_flush(), then goes in one hand-over: six
 *	           messages, one round, in order
 *	threads    the same with the fsync helper threads, FULL and FS: no
 *	           round above SLUICE_BATCH, order kept
 *	failing    a queue that cannot create intd/ files (EACCES), whose
 *	           fsyncs fail (EIO) or whose todo/ links fail (EMLINK): its
 *	           messages come back with the error (EINTD, EWRITE, ETODO,
 *	           the errno, a text naming the file) and leave nothing in it,
 *	           while the other queue's messages of the same rounds commit
 *	actions    a pinned message whose move (queue=, on an action thread)
 *	           is held at a gate does not hold up the commit of six
 *	           plain messages submitted after it: they come back
 *	           committed first; released, it is committed in queue 2
 *	           with its id; a stop with a held move waits for it, then
 *	           commits it
 *	stop       router_sync_stop() with messages submitted and a round held
 *	           at the gate does not return before the gate opens, and then
 *	           every one is committed and handed back; stopping right
 *	           after submitting too
 *
 *	Faults come through queue_sys (directory modes do not stop root, and
 *	CI runs as root).  The helper threads are process-wide and never stop,
 *	so the tests without them run first.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "router/router_int.h"

#define SPLIT 23
#define MAXMSG 64

/* ----------------------------------------------------------- queue_sys */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int gate;		/* fsyncs wait while set */
	int at_gate;		/* fsyncs waiting at it */
	int fail_intd, fail_fsync, fail_todo;	/* the errno for queue 2's */
	int q1_intd, q1_todo;	/* queue 2's directory fds */
	char q1_root[4200];	/* "<queue 2>/": its files' paths begin so */
	unsigned long linked[MAXMSG];	/* ids linked into todo/, in order */
	int nlinked;
	int (*real_fsync)(int);
	int (*real_linkat)(int, const char *, int, const char *, int);
	int (*real_openat)(int, const char *, int, mode_t);
	int todofd[2];
	int q1_pid;		/* queue 2's pid/: a move's first link */
	int hold_move, at_move;	/* moves wait while hold_move is set */
} sy = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* in_q1_file - fd is a file (mess or intd) of queue 2, by its path: fd
 * numbers are reused as the sync thread closes and opens files.  A mess
 * file was opened as its pid/ marker, whose name /proc shows. */
static int in_q1_file(int fd)
{
	char link[64], path[4200];
	struct stat st;
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||	/* not its directories */
	    (n = readlink(link, path, sizeof path - 1)) < 0)
		return 0;
	path[n] = 0;
	return !strncmp(path, sy.q1_root, strlen(sy.q1_root));
}

static int w_fsync(int fd)
{
	pthread_mutex_lock(&sy.mu);
	sy.at_gate++;
	pthread_cond_broadcast(&sy.cv);
	while (sy.gate)
		pthread_cond_wait(&sy.cv, &sy.mu);
	sy.at_gate--;
	pthread_mutex_unlock(&sy.mu);
	if (sy.fail_fsync && in_q1_file(fd)) {
		errno = sy.fail_fsync;
		return -1;
	}
	return sy.real_fsync(fd);
}

static int w_syncfs(int fd)
{
	pthread_mutex_lock(&sy.mu);
	sy.at_gate++;
	pthread_cond_broadcast(&sy.cv);
	while (sy.gate)
		pthread_cond_wait(&sy.cv, &sy.mu);
	sy.at_gate--;
	pthread_mutex_unlock(&sy.mu);
	return syncfs(fd);
}

static int w_openat(int dfd, const char *name, int flags, mode_t mode)
{
	if (sy.fail_intd && dfd == sy.q1_intd) {
		errno = sy.fail_intd;
		return -1;
	}
	return sy.real_openat(dfd, name, flags, mode);
}

static int w_linkat(int ofd, const char *old, int nfd, const char *new, int flags)
{
	int r;

	if (nfd == sy.q1_todo && sy.fail_todo) {
		errno = sy.fail_todo;
		return -1;
	}
	if (nfd == sy.q1_pid) {	/* queue_msg_move() into queue 2 */
		pthread_mutex_lock(&sy.mu);
		sy.at_move++;
		pthread_cond_broadcast(&sy.cv);
		while (sy.hold_move)
			pthread_cond_wait(&sy.cv, &sy.mu);
		pthread_mutex_unlock(&sy.mu);
	}
	r = sy.real_linkat(ofd, old, nfd, new, flags);
	if (r == 0 && (nfd == sy.todofd[0] || nfd == sy.todofd[1])) {
		pthread_mutex_lock(&sy.mu);
		if (sy.nlinked < MAXMSG)
			sy.linked[sy.nlinked++] = strtoul(new, NULL, 10);
		pthread_mutex_unlock(&sy.mu);
	}
	return r;
}

static void gate_set(int on)
{
	pthread_mutex_lock(&sy.mu);
	sy.gate = on;
	pthread_cond_broadcast(&sy.cv);
	pthread_mutex_unlock(&sy.mu);
}

/* gate_reached - until an fsync (or syncfs) waits at the gate (10 s at most) */
static void gate_reached(void)
{
	struct timespec t;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 10;
	pthread_mutex_lock(&sy.mu);
	while (!sy.at_gate && r == 0)
		r = pthread_cond_timedwait(&sy.cv, &sy.mu, &t);
	pthread_mutex_unlock(&sy.mu);
	if (r)
		fail_msg("no fsync reached the gate in 10 s");
}

/* ------------------------------------------------------------- fixture */

struct fx {
	char *tmp;
	struct router r;
	struct router_config c;
	struct rqueue q[2];
	struct rmsg *sent[MAXMSG];
	int nsent;
	struct rmsg *back[MAXMSG];	/* in the order handed back */
	int nback, want;
	int started;
	ev_timer deadline;
	int timed_out;
	int stop_returned;	/* router_sync_stop() returned (atomic) */
};

/* on_back - the loop's side of r->sync_async: take what the sync thread
 * handed back (sync_out is newest first) */
static void on_back(struct ev_loop *loop, ev_async *w, int revents)
{
	struct fx *f = w->data;
	struct rmsg *list, *rev = NULL;

	(void)revents;
	pthread_mutex_lock(&f->r.sync_mu);
	list = f->r.sync_out;
	f->r.sync_out = NULL;
	pthread_mutex_unlock(&f->r.sync_mu);
	while (list) {
		struct rmsg *m = list;

		list = m->sync_next;
		m->sync_next = rev;
		rev = m;
	}
	for (; rev; rev = rev->sync_next)
		if (f->nback < MAXMSG)
			f->back[f->nback++] = rev;
	if (f->nback >= f->want)
		ev_break(loop, EVBREAK_ALL);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fx *f = w->data;

	(void)revents;
	f->timed_out = 1;
	ev_break(loop, EVBREAK_ALL);
}

/* collect - run the loop until n messages in all came back (30 s at most) */
static void collect(struct fx *f, int n)
{
	f->want = n;
	f->timed_out = 0;
	if (f->nback < n) {
		ev_timer_set(&f->deadline, 30., 0.);
		ev_timer_start(f->r.loop, &f->deadline);
		ev_run(f->r.loop, 0);
		ev_timer_stop(f->r.loop, &f->deadline);
	}
	if (f->nback < n)
		fail_msg("%d of %d messages came back (timed out: %d)", f->nback, n, f->timed_out);
}

static void start_thread(struct fx *f, enum queue_sync mode, unsigned batch)
{
	f->c.sync = mode;
	f->c.batch_max = batch;
	assert_int_equal(router_sync_start(&f->r), 0);
	f->started = 1;
}

static void move_hold(int on)
{
	pthread_mutex_lock(&sy.mu);
	sy.hold_move = on;
	pthread_cond_broadcast(&sy.cv);
	pthread_mutex_unlock(&sy.mu);
}

static void stop_thread(struct fx *f)
{
	if (f->started) {
		gate_set(0);
		move_hold(0);
		router_sync_stop(&f->r);
		f->started = 0;
	}
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct queue_err e;
	int i;

	queue_sys_reset();
	f->tmp = tu_tmpdir("rsync");
	for (i = 0; i < 2; i++) {
		tu_queue_tree(tu_path(f->tmp, "queue%d", i + 1), SPLIT);
		if (queue_open(&f->q[i].q, tu_path(f->tmp, "queue%d", i + 1), SPLIT, &e) != QUEUE_OK)
			fail_msg("queue_open: %s", e.text);
		f->q[i].name = i ? "queue2" : "queue1";
	}
	f->r.cfg = &f->c;
	f->r.nq = 2;
	f->r.queues = f->q;
	assert_non_null(f->r.loop = ev_loop_new(EVFLAG_AUTO));
	ev_async_init(&f->r.sync_async, on_back);
	f->r.sync_async.data = f;
	ev_async_start(f->r.loop, &f->r.sync_async);
	ev_init(&f->deadline, on_deadline);
	f->deadline.data = f;

	pthread_mutex_lock(&sy.mu);
	sy.gate = sy.at_gate = 0;
	sy.fail_intd = sy.fail_fsync = sy.fail_todo = 0;
	sy.nlinked = 0;
	snprintf(sy.q1_root, sizeof sy.q1_root, "%s/", f->q[1].q.path);
	sy.q1_intd = f->q[1].q.intdfd;
	sy.q1_pid = f->q[1].q.pidfd;
	sy.hold_move = sy.at_move = 0;
	sy.q1_todo = f->q[1].q.todofd;
	sy.todofd[0] = f->q[0].q.todofd;
	sy.todofd[1] = f->q[1].q.todofd;
	sy.real_fsync = queue_sys.fsync;
	sy.real_linkat = queue_sys.linkat;
	sy.real_openat = queue_sys.openat;
	pthread_mutex_unlock(&sy.mu);
	queue_sys.fsync = w_fsync;
	queue_sys.syncfs = w_syncfs;
	queue_sys.linkat = w_linkat;
	queue_sys.openat = w_openat;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int i;

	stop_thread(f);
	queue_sys_reset();
	for (i = 0; i < f->nsent; i++) {
		struct rmsg *m = f->sent[i];

		if (m->qm.fd >= 0)
			close(m->qm.fd);
		if (m->qm.intdfd >= 0)
			close(m->qm.intdfd);
		queue_env_free(&m->env);
		free(m);
	}
	ev_loop_destroy(f->r.loop);
	for (i = 0; i < 2; i++)
		queue_close(&f->q[i].q);
	tu_rmtree(f->tmp);
	free(f->tmp);
	free(f);
	return 0;
}

/* ------------------------------------------------------------ messages */

static void body_of(int i, char *buf, size_t cap)
{
	snprintf(buf, cap, "Received: (qmail 1 invoked from network); test\n"
		 "Subject: message %d\n\nbody of message %d\n", i, i);
}

/* env_of - what qmail-smtpd writes on fd 1 for message i */
static size_t env_of(int i, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "Fs%d@example.com%cTr%d@example.org%cTx@example.net%c%c", i, 0,
			 i, 0, 0, 0);

	return (size_t)n;
}

/* intd_of - the u p F T records sluice must write for message i */
static size_t intd_of(int i, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "u7791%cp5678%cFs%d@example.com%cTr%d@example.org%c"
			 "Tx@example.net%c", 0, 0, i, 0, i, 0, 0);

	return (size_t)n;
}

/*
 * submit_held - message i for queue qi, prepared as the loop prepares one
 * (mess file written, envelope read, verdict clean, action accept) and
 * submitted as st_commit() does: held by the loop until router_sync_flush()
 */
static struct rmsg *submit_held(struct fx *f, int qi, int i)
{
	struct rmsg *m = calloc(1, sizeof *m);
	struct queue_err e;
	char body[256], env[256];
	size_t elen = env_of(i, env, sizeof env), used = 0;

	assert_non_null(m);
	assert_true(f->nsent < MAXMSG);
	f->sent[f->nsent++] = m;
	m->r = &f->r;
	m->rq = &f->q[qi];
	m->conn = m->fd0 = m->fd1 = -1;
	m->uid = 7791;
	m->pid = 5678;
	m->qm.fd = m->qm.intdfd = -1;
	body_of(i, body, sizeof body);
	assert_int_equal(queue_msg_begin(&m->rq->q, &m->qm, &e), QUEUE_OK);
	m->have_qm = 1;
	assert_int_equal(queue_msg_write(&m->qm, body, strlen(body), &e), QUEUE_OK);
	queue_env_init(&m->env, m->uid, (unsigned long)m->pid);
	assert_int_equal(queue_env_feed(&m->env, env, elen, &used), QUEUE_OK);
	m->action = ACTION_ACCEPT;
	m->verdict = "clean";
	m->stage = ST_COMMIT;
	router_sync_submit(&f->r, m);
	return m;
}

/* submit - submit_held, then handed over at once, as the loop does at the
 * end of an iteration that submitted only this one */
static struct rmsg *submit(struct fx *f, int qi, int i)
{
	struct rmsg *m = submit_held(f, qi, i);

	router_sync_flush(&f->r);
	return m;
}

/* check_committed - message i: todo/<id> = intd records, mess = body */
static void check_committed(struct fx *f, struct rmsg *m, int i)
{
	const char *qp = m->rq->q.path;
	unsigned long id = (unsigned long)m->qm.id;
	char want[256], *got;
	size_t wlen, len;

	if (m->qm.err.status != QUEUE_OK)
		fail_msg("message %d: %s", i, m->qm.err.text);
	assert_true(m->qm.flags & QUEUE_MSG_TODO);
	wlen = intd_of(i, want, sizeof want);
	got = tu_read(tu_path(qp, "todo/%lu", id), &len);
	assert_non_null(got);
	assert_int_equal(len, wlen);
	assert_memory_equal(got, want, len);
	free(got);
	got = tu_read(tu_path(qp, "intd/%lu", id), &len);	/* qmail-send removes it later */
	assert_non_null(got);
	free(got);
	body_of(i, want, sizeof want);
	got = tu_read(tu_path(qp, "mess/%lu/%lu", id % SPLIT, id), &len);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	(void)f;
}

/* index_of - position of m in sent[] */
static int index_of(struct fx *f, struct rmsg *m)
{
	int i;

	for (i = 0; i < f->nsent; i++)
		if (f->sent[i] == m)
			return i;
	fail_msg("a message that was never sent came back");
	return -1;
}

/*
 * check_order - of the messages that committed: the todo/ links in
 * submission order, and handed back in submission order; every message
 * handed back exactly once
 */
static void check_order(struct fx *f)
{
	int i, k = 0, last = -1, seen[MAXMSG] = { 0 };

	for (i = 0; i < f->nsent; i++) {
		if (!(f->sent[i]->qm.flags & QUEUE_MSG_TODO))
			continue;
		assert_true(k < sy.nlinked);
		assert_int_equal(sy.linked[k], (unsigned long)f->sent[i]->qm.id);
		k++;
	}
	assert_int_equal(k, sy.nlinked);
	assert_int_equal(f->nback, f->nsent);
	for (i = 0; i < f->nback; i++) {
		int j = index_of(f, f->back[i]);

		assert_int_equal(seen[j]++, 0);
		if (!(f->back[i]->qm.flags & QUEUE_MSG_TODO))
			continue;
		assert_true(j > last);
		last = j;
	}
}

/* --------------------------------------------------------------- tests */

/*
 * test_commit_in_turn - no helper threads: the first round is held at the
 * gate, the nine messages that arrive meanwhile wait, and once it is let
 * go they go in rounds of SLUICE_BATCH: 1, 4, 4, 1 (and one more round that
 * only links the last).
 */
static void test_commit_in_turn(void **state)
{
	struct fx *f = *state;
	int i;

	start_thread(f, QUEUE_SYNC_FULL, 4);
	gate_set(1);
	submit(f, 0, 0);
	gate_reached();	/* round 1 is in its fsyncs */
	for (i = 1; i < 10; i++)
		submit(f, i % 2, i);
	assert_int_equal(tu_count(tu_path(f->q[0].q.path, "todo")), 0);
	gate_set(0);
	collect(f, 10);
	for (i = 0; i < 10; i++) {
		assert_ptr_equal(f->back[i], f->sent[i]);	/* handed back in order */
		check_committed(f, f->sent[i], i);
	}
	check_order(f);
	pthread_mutex_lock(&f->r.sync_mu);
	assert_int_equal(f->r.st.batches, 4);
	assert_int_equal(f->r.st.batch_msgs, 10);
	assert_int_equal(f->r.st.batch_max, 4);
	pthread_mutex_unlock(&f->r.sync_mu);
	assert_int_equal(__atomic_load_n(&f->r.rounds, __ATOMIC_RELAXED), 4);
	for (i = 0; i < 2; i++) {
		assert_int_equal(tu_count(tu_path(f->q[i].q.path, "todo")), 5);
		assert_int_equal(tu_count(tu_path(f->q[i].q.path, "pid")), 0);
	}
}

/*
 * test_flush_together - what the loop submits in one iteration reaches the
 * sync thread in one hand-over: nothing before the flush, then all six in
 * one round (one wake-up of the sync thread, not six), committed and handed
 * back in order.
 */
static void test_flush_together(void **state)
{
	struct fx *f = *state;
	int i;

	start_thread(f, QUEUE_SYNC_FULL, 8);
	for (i = 0; i < 6; i++)
		submit_held(f, i % 2, i);
	usleep(20000);
	pthread_mutex_lock(&f->r.sync_mu);
	assert_null(f->r.sync_in);	/* still the loop's */
	assert_int_equal(f->r.st.batches, 0);
	pthread_mutex_unlock(&f->r.sync_mu);
	router_sync_flush(&f->r);
	assert_null(f->r.submit_head);
	assert_null(f->r.submit_tail);
	router_sync_flush(&f->r);	/* nothing more: no-op */
	collect(f, 6);
	for (i = 0; i < 6; i++) {
		assert_ptr_equal(f->back[i], f->sent[i]);
		check_committed(f, f->sent[i], i);
	}
	check_order(f);
	pthread_mutex_lock(&f->r.sync_mu);
	assert_int_equal(f->r.st.batches, 1);
	assert_int_equal(f->r.st.batch_msgs, 6);
	pthread_mutex_unlock(&f->r.sync_mu);
}

/* threaded - the helpers run the rounds; the sync thread prepares what
 * arrives meanwhile */
static void threaded(struct fx *f, enum queue_sync mode)
{
	int i, n = 40;

	assert_int_equal(queue_fsync_threads(4), 0);
	start_thread(f, mode, 8);
	gate_set(1);
	submit(f, 0, 0);
	gate_reached();
	for (i = 1; i < n / 2; i++)
		submit(f, i % 2, i);
	gate_set(0);
	for (; i < n; i++) {	/* and more while rounds run */
		submit(f, i % 2, i);
		if (i % 5 == 0)
			usleep(1000);
	}
	collect(f, n);
	for (i = 0; i < n; i++) {
		assert_ptr_equal(f->back[i], f->sent[i]);
		check_committed(f, f->sent[i], i);
	}
	check_order(f);
	pthread_mutex_lock(&f->r.sync_mu);
	assert_int_equal(f->r.st.batch_msgs, n);
	assert_true(f->r.st.batch_max <= 8);
	assert_true(f->r.st.batches >= (unsigned long)n / 8);
	pthread_mutex_unlock(&f->r.sync_mu);
	for (i = 0; i < 2; i++) {
		assert_int_equal(tu_count(tu_path(f->q[i].q.path, "todo")), n / 2);
		assert_int_equal(tu_count(tu_path(f->q[i].q.path, "pid")), 0);
	}
}

static void test_commit_threads(void **state)
{
	threaded(*state, QUEUE_SYNC_FULL);
}

static void test_commit_threads_fs(void **state)
{
	threaded(*state, QUEUE_SYNC_FS);
}

/*
 * failing - queue 2 fails in one way; its messages come back with status,
 * errno and a text naming what, and leave nothing; queue 1's commit
 */
static void failing(struct fx *f, int *knob, int err, enum queue_status want, const char *what)
{
	int i, n = 12;

	start_thread(f, QUEUE_SYNC_FULL, 4);
	*knob = err;
	for (i = 0; i < n; i++)
		submit(f, i % 2, i);
	collect(f, n);
	for (i = 0; i < n; i++) {
		struct rmsg *m = f->sent[i];

		if (i % 2 == 0) {
			check_committed(f, m, i);
			continue;
		}
		assert_int_equal(m->qm.err.status, want);
		assert_int_equal(m->qm.err.errnum, err);
		if (!strstr(m->qm.err.text, what) || !strstr(m->qm.err.text, m->rq->q.path))
			fail_msg("message %d: error text \"%s\" names neither %s nor the queue", i,
				 m->qm.err.text, what);
		assert_false(m->qm.flags & QUEUE_MSG_TODO);
	}
	check_order(f);
	assert_int_equal(tu_count(tu_path(f->q[0].q.path, "todo")), n / 2);
	assert_int_equal(tu_count(tu_path(f->q[0].q.path, "pid")), 0);
	assert_int_equal(tu_queue_files(f->q[1].q.path), 0);	/* nothing left behind */
}

static void test_failing_intd(void **state)
{
	failing(*state, &sy.fail_intd, EACCES, QUEUE_EINTD, "intd");
}

static void test_failing_fsync(void **state)
{
	failing(*state, &sy.fail_fsync, EIO, QUEUE_EWRITE, "fsync mess file");
}

static void test_failing_todo(void **state)
{
	failing(*state, &sy.fail_todo, EMLINK, QUEUE_ETODO, "todo");
}

static void *stopper(void *arg)
{
	struct fx *f = arg;

	router_sync_stop(&f->r);
	__atomic_store_n(&f->stop_returned, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * test_stop_in_flight - stop while the first round is held at the gate and
 * fifteen more messages wait: the stop does not return while they are not
 * committed, and when it returns every one is committed and handed back.
 */
static void test_stop_in_flight(void **state)
{
	struct fx *f = *state;
	pthread_t t;
	int i, n = 16;

	start_thread(f, QUEUE_SYNC_FULL, 4);
	gate_set(1);
	submit(f, 0, 0);
	gate_reached();
	for (i = 1; i < n; i++)
		submit(f, i % 2, i);
	assert_int_equal(pthread_create(&t, NULL, stopper, f), 0);
	usleep(100000);
	assert_int_equal(__atomic_load_n(&f->stop_returned, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(tu_count(tu_path(f->q[0].q.path, "todo")) +
			 tu_count(tu_path(f->q[1].q.path, "todo")), 0);
	gate_set(0);
	pthread_join(t, NULL);
	f->started = 0;
	/* the thread is gone: what it committed is all on sync_out already */
	for (i = 0; i < 2; i++) {
		assert_int_equal(tu_count(tu_path(f->q[i].q.path, "todo")), n / 2);
		assert_int_equal(tu_count(tu_path(f->q[i].q.path, "pid")), 0);
	}
	collect(f, n);
	for (i = 0; i < n; i++)
		check_committed(f, f->sent[i], i);
	check_order(f);
}

/* test_stop_at_once - router_sync_stop() right after the submissions */
static void test_stop_at_once(void **state)
{
	struct fx *f = *state;
	int i, n = 24;

	start_thread(f, QUEUE_SYNC_FULL, 4);
	for (i = 0; i < n; i++)
		submit(f, i % 2, i);
	router_sync_stop(&f->r);
	f->started = 0;
	collect(f, n);
	for (i = 0; i < n; i++)
		check_committed(f, f->sent[i], i);
	check_order(f);
	for (i = 0; i < 2; i++) {
		assert_int_equal(tu_count(tu_path(f->q[i].q.path, "todo")), n / 2);
		assert_int_equal(tu_count(tu_path(f->q[i].q.path, "pid")), 0);
	}
}

/*
 * test_action_no_hold - a message pinned to queue 2 (queue=) goes to an
 * action thread, whose move is held at a gate; six plain messages to queue
 * 1 submitted after it are committed and handed back while it waits.
 * Released, it is moved (same id) and committed in queue 2.
 */
static void test_action_no_hold(void **state)
{
	struct fx *f = *state;
	struct rmsg *p, *v[6];
	struct timespec t;
	ino_t id;
	int i, r = 0;

	start_thread(f, QUEUE_SYNC_FULL, 8);
	move_hold(1);
	p = submit_held(f, 0, 0);
	/* as st_commit does it: the pin chosen, then router_commit_submit
	 * (submit_held put it on the loop's list for the sync thread) */
	f->r.submit_head = f->r.submit_tail = NULL;
	id = p->qm.id;
	p->pin = &f->q[1];
	router_commit_submit(&f->r, p);
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 10;
	pthread_mutex_lock(&sy.mu);
	while (!sy.at_move && r == 0)
		r = pthread_cond_timedwait(&sy.cv, &sy.mu, &t);
	pthread_mutex_unlock(&sy.mu);
	assert_int_equal(r, 0);	/* the move is at the gate */
	for (i = 0; i < 6; i++)
		v[i] = submit_held(f, 0, i + 1);
	router_sync_flush(&f->r);
	collect(f, 6);
	for (i = 0; i < 6; i++) {
		assert_ptr_equal(f->back[i], v[i]);
		check_committed(f, v[i], i + 1);
	}
	assert_false(p->qm.flags & QUEUE_MSG_TODO);	/* still held */
	move_hold(0);
	collect(f, 7);
	assert_ptr_equal(f->back[6], p);
	assert_false(p->pin_failed);
	assert_ptr_equal(p->qm.q, &f->q[1].q);
	assert_int_equal(p->qm.id, id);
	p->rq = &f->q[1];	/* router_policy_pinned's part */
	check_committed(f, p, 0);
	assert_int_equal(tu_queue_mess(f->q[0].q.path), 6);
}

/* test_action_stop - router_sync_stop() with a move held waits for it and
 * commits the message before it returns */
static void *release_later(void *arg)
{
	(void)arg;
	usleep(200 * 1000);
	move_hold(0);
	return NULL;
}

static void test_action_stop(void **state)
{
	struct fx *f = *state;
	struct rmsg *p;
	pthread_t t;

	start_thread(f, QUEUE_SYNC_FULL, 8);
	move_hold(1);
	p = submit_held(f, 0, 0);
	f->r.submit_head = f->r.submit_tail = NULL;
	p->pin = &f->q[1];
	router_commit_submit(&f->r, p);
	assert_int_equal(pthread_create(&t, NULL, release_later, NULL), 0);
	router_sync_stop(&f->r);
	f->started = 0;
	pthread_join(t, NULL);
	assert_true(p->qm.flags & QUEUE_MSG_TODO);
	p->rq = &f->q[1];
	check_committed(f, p, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: no helper threads exist yet */
		cmocka_unit_test_setup_teardown(test_commit_in_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_together, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_intd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_fsync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_todo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_action_no_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_action_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_threads_fs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
