/*
 * router_int.h - sluiced's private state: the daemon, its queues, and the
 * per-message context that moves through an explicit stage enum.
 */
#ifndef SLUICE_ROUTER_INT_H
#define SLUICE_ROUTER_INT_H

#include <ev.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "router.h"

/* threads that run the verdict actions touching the disk (router_sync.c) */
#define ROUTER_ACTION_THREADS 2

/* A message's stages, in order; msg_step() (router_loop.c) runs them. */
enum msg_stage {
	ST_REQUEST,		/* admitted; waiting for the request with the fds */
	ST_RECEIVE,		/* reading fd 0 into the mess file */
	ST_ENVELOPE,		/* reading the envelope from fd 1 */
	ST_POLICY,		/* choosing the scanners and actions */
	ST_SCAN,		/* waiting for a scan worker, or scanning */
	ST_DECIDE,		/* verdict -> action and status */
	ST_COMMIT,		/* with the sync thread */
	ST_ANSWER,		/* answered; to be reaped */
};

struct qhealth {		/* what the health thread measures of a queue */
	unsigned long backlog;	/* todo + intd */
	uint64_t free_bytes;
	int down;		/* a "down" file exists */
	int send_running;	/* a qmail-send holds lock/sendmutex */
};

struct rqueue {			/* one queue and its health */
	struct queue q;
	const char *name;
	unsigned inflight;	/* our messages in it, not yet answered */
	unsigned long backlog;	/* todo + intd at the last check */
	uint64_t free_bytes;
	int down;		/* a "down" file exists */
	int send_running;	/* a qmail-send holds lock/sendmutex */
	int over_backlog;	/* backlog > SLUICE_MAX_BACKLOG (logged on change) */
	int64_t failing_until;	/* ms: skip after a write error */
	unsigned fail_streak;	/* write errors since the last commit: the skip doubles */
	unsigned long committed, failed;
};

/* A remote queue: one QMQP server and its health (router_remote.c). */
struct rremote {
	struct qmqp_addr addr;	/* addr.name: "192.0.2.7:628", for the log and stats */
	unsigned active;	/* connections open to it now */
	unsigned long sent, temp, perm;	/* its answers: K, Z, D */
	unsigned long failed;	/* exchanges that failed: connect, conversation */
	uint64_t latency_sum_ms;	/* over its answers */
	unsigned last_ms;	/* the last answer's latency */
	double ewma_ms;		/* recent latency, for the choice */
	int down;		/* failed; 1 until it answers again */
	int64_t down_until;	/* ms: rests until then, then one probe at a time */
	int64_t slow_until;	/* ms: avoided while another server can take the message */
	enum sq_status last_fail;	/* how it failed last: 72, 73 or 74 */
};

/* One message's relay to a remote queue (router_remote.c), on the loop
 * thread: the non-blocking QMQP exchange, its watchers, what was tried. */
struct rrelay {
	struct qmqp_client c;
	int connected;		/* c is in use (its fd open) */
	ev_io io;
	ev_timer timer;
	struct rremote *server;	/* the exchange's server; after it, the last one tried */
	uint64_t tried;		/* bit i: remotes[i] failed this message */
	int64_t deadline, t_start;	/* ms: the whole relay's end, this exchange's start */
	enum sq_status fail;	/* the worst failure so far (SQ_OK: none) */
	int waited;		/* every server was at SLUICE_QMQP_CONNS at some point */
	int waiting;		/* in the router's wait list */
	struct rmsg *wait_next;
	char *prefix;		/* a tagged message's verdict headers, sent first */
	size_t prefix_len;
	off_t *skip;		/* a tagged message's forged fields: pairs not sent */
	size_t nskip;
};

struct router;

struct rmsg {
	struct router *r;
	enum msg_stage stage;
	int entered;		/* the current stage's function has run once */
	int conn, fd0, fd1;
	ev_io conn_w, in_w;
	ev_timer timer;
	int64_t t0, last_io;	/* ms */
	uid_t uid;
	pid_t pid;
	struct rqueue *rq;
	struct queue_msg qm;
	int have_qm;
	size_t rlen;		/* length of the Received line */
	uint64_t counted;	/* bytes this message adds to bytes_inflight */
	/* POLICY: what this message runs and does (router_policy.c) */
	struct sq_actions act;
	unsigned nscanners;
	const struct scan_backend *scanners[ROUTER_MAX_SCANNERS];
	void *states[ROUTER_MAX_SCANNERS];
	struct control_result *pol;	/* the policy's result, when a policy is in use */
	const char *quarantine;	/* Maildir for ACTION_QUARANTINE */
	struct rqueue *pin;	/* queue=: an action thread moves the message there */
	int pin_failed;		/* ... and could not (pin_err says why) */
	struct queue_err pin_err;
	char pin_note[200];	/* for the log: "queue3", or why it was not */
	/* SCAN and DECIDE */
	struct scan_job job;
	struct scan_verdict v;	/* the verdict decided on (job.verdict, or the deadline's) */
	int skip_scan;		/* no scanner, or the envelope said not to scan */
	int scanned;		/* v holds the scan's verdict */
	int scan_timed_out;	/* ... which is the scan deadline's */
	int64_t scan_deadline;	/* ms: set when the message enters SCAN, parked or not */
	struct sq_decision dec;
	enum router_action action;	/* accept, or the action threads' tag, quarantine */
	int action_failed;	/* tag or quarantine failed (why[] says how) */
	unsigned forged;	/* tag: the sender's own fields of our names removed */
	enum sq_status status;	/* the answer */
	struct queue_env env;
	int in_pool;		/* the pool owns job: do not free */
	const char **rcpts;
	char *messpath;		/* for exec scanners, made on first use */
	char queue_id[80];	/* "<queue>/<id>" for the network scanners */
	char helo[QUEUE_HELO_MAX + 1];	/* the client's HELO name for rspamd, or "" */
	struct wire_reply reply;
	const char *verdict;	/* for the log: clean, virus, banned, ... */
	char why[300];		/* cause, for the log */
	char payload[WIRE_REQ_MAX + 1];
	size_t payload_len;
	struct rmsg *prev, *next;	/* all messages */
	struct rmsg *wait_next;	/* waiting for the scan pool */
	struct rmsg *sync_next;	/* sync thread's lists */
	struct rmsg *reap_next;	/* answered, to be freed */
	int parked;		/* in the scan wait FIFO */
	int abort_pending;	/* remove the files once the pool hands the job back */
	/* a remote queue was chosen at REQUEST; the local queue (rq) is its
	 * spool until the remote server answers, or its failover */
	int remote;
	struct rrelay relay;
};

#define ROUTER_NVERDICT 20

/* Latency histogram: bucket i counts answers within 2^i ms. */
#define HIST_BUCKETS 24

struct router_stats {
	unsigned long accepted, rejected, deferred, dropped, failed;
	unsigned long by_verdict[ROUTER_NVERDICT];	/* answers by m->verdict, see router_stats.c */
	unsigned long batches, batch_msgs, batch_max;
	unsigned long hist[HIST_BUCKETS];	/* [i]: answered in < 2^i ms; the last: the rest */
	uint64_t latency_ms_sum;
	uint64_t bytes;
};

struct router {
	struct router_config *cfg;	/* the loop thread's; others: router_cfg() */
	struct router_config **retired;	/* snapshots swapped out by SIGHUP, freed at exit */
	size_t nretired;
	struct ev_loop *loop;
	int lsock, ssock;
	ev_io accept_w, stats_w;
	ev_timer pause_w, drain_w;
	ev_async health_w;	/* the health thread has fresh figures */
	ev_signal term_w, hup_w, int_w;
	ev_async scan_async, sync_async;
	ev_prepare reap_w;
	int accepting, stopping;
	unsigned nq;
	struct rqueue *queues;
	/* remote queues (router_remote.c, loop thread) */
	unsigned nremote;
	struct rremote *remotes;
	unsigned long remote_seq;
	struct rmsg *relay_wait_head, *relay_wait_tail;	/* waiting for a connection slot */
	unsigned relay_waiting;
	int relay_waking, relay_rewake;
	unsigned long remote_fallbacks;	/* relays given up and committed locally */
	unsigned long pick_seq;
	unsigned long rounds;	/* commit rounds begun by the sync thread (atomic) */
	unsigned long pick_round;	/* router_pick()'s choice holds for this round */
	struct rqueue *pick_last;
	unsigned pick_uses;	/* messages given pick_last since it was chosen */
	struct queue_uids uids;
	char scanned_by[256];	/* X-Virus-Scanned: "sluice 0.1.0 (clamav 1.4.6, attach)" */
	int reloading;		/* a reload thread runs */
	int want_path;		/* a scanner needs the mess file's path (exec) */
	ev_timer reload_w;	/* SLUICE_RELOAD_CHECK: signature DB or policy changed? */
	struct control_policy *policy;	/* the control directory's, or NULL (router_policy.c) */
	char policy_dir[4096];
	int policy_failed;	/* the files as policy_bad failed to load: not again */
	struct stat policy_bad[3];
	unsigned inflight;
	uint64_t bytes_inflight;
	struct rmsg *all;
	struct rmsg *reap;
	struct rmsg *scan_wait_head, *scan_wait_tail;
	struct scan_pool *pool;
	void *states[ROUTER_MAX_SCANNERS];
	struct router_stats st;
	/* sync thread */
	pthread_t sync_thread;
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	struct rmsg *sync_in, *sync_out;	/* to commit / committed */
	struct rmsg *submit_head, *submit_tail;	/* loop thread: submitted, not yet flushed */
	int sync_stop;
	int round_done;	/* the fsync round started by the sync thread is over */
	/* action threads (router_sync.c): quarantine, tag, a pin's move */
	pthread_t action_threads[ROUTER_ACTION_THREADS];
	unsigned naction;
	pthread_mutex_t action_mu;
	pthread_cond_t action_cv;
	struct rmsg *action_head, *action_tail;	/* FIFO, sync_next links */
	int action_stop;
	/* health thread (router_pick.c) */
	pthread_t health_thread;
	pthread_mutex_t health_mu;
	pthread_cond_t health_cv;
	struct qhealth *health;	/* its latest figures, one per queue */
	int health_stop, health_fresh, health_started;
};

/* router_loop.c */
void msg_step(struct rmsg *);
void msg_finish(struct rmsg *, enum sq_status, const char *what, const char *name, const char *why);
void router_queue_error(struct rmsg *, const struct queue_err *);
void router_admit(struct router *);
/* router_reap_later - free an answered message from the next loop iteration */
void router_reap_later(struct rmsg *);

/* router_pick.c */
struct rqueue *router_pick(struct router *, uid_t, pid_t);
/* router_all_short_of_space - every queue below MIN_FREE (answer 53, not 71) */
int router_all_short_of_space(const struct router *);
/* router_health - measure now, on the calling thread (start-up) */
void router_health(struct router *);
/* router_health_start/_stop - the thread that measures once a second;
 * router_health_apply (loop thread) takes its latest figures */
int router_health_start(struct router *);
void router_health_stop(struct router *);
void router_health_apply(struct router *);
void router_queue_failed(struct router *, struct rqueue *);
/* router_queue_usable - q takes new messages now (not down, failing, full) */
int router_queue_usable(const struct router *, const struct rqueue *);

/* router_sync.c */
int router_sync_start(struct router *);
void router_sync_stop(struct router *);
void router_sync_submit(struct router *, struct rmsg *);
/* router_commit_submit - COMMIT: to an action thread or the sync thread */
void router_commit_submit(struct router *, struct rmsg *);
void router_sync_flush(struct router *);
void router_sync_done(struct router *);

/* router_scan.c */
int router_scan_start(struct router *, char *err, size_t errlen);
void router_scan_stop(struct router *);
void router_scan_submit(struct router *, struct rmsg *);
void router_scan_done(struct router *);
void router_scan_reload(struct router *);
void router_scan_unpark(struct router *, struct rmsg *);
void router_scan_check(struct router *);
size_t router_scan_stats(struct router *, char *buf, size_t len);

/* router_policy.c (loop thread) */
int router_policy_start(struct router *, char *err, size_t errlen);
void router_policy_stop(struct router *);
void router_policy_reload(struct router *);
/* router_policy_apply - m's scanners and actions; 0, or -1 when answered */
int router_policy_apply(struct rmsg *);
/* router_policy_input - the policy's hooks and spam settings into a job's input */
void router_policy_input(struct rmsg *, struct scan_input *);
/* router_policy_applied - "example.com,joe@example.com" for the log, or NULL */
const char *router_policy_applied(const struct rmsg *);
void router_policy_fini(struct rmsg *);
/* a pinned message bigger than this is not copied across filesystems */
#define ROUTER_PIN_COPY_MAX (4 << 20)
/* router_policy_pin - queue=: choose m->pin before COMMIT (loop thread);
 * router_policy_pinned - after the sync thread's move: m->rq follows */
void router_policy_pin(struct rmsg *);
void router_policy_pinned(struct rmsg *);

/* router_action.c (sync thread) */
size_t router_tag_headers(const struct rmsg *, char *buf, size_t cap);
int router_tag(struct rmsg *);
int router_quarantine(struct rmsg *);

/* router_remote.c (loop thread) */
/* router_remote_start - the servers of the settings as remote queues; -1 with err */
int router_remote_start(struct router *, char *err, size_t errlen);
void router_remote_stop(struct router *);
/* router_remote_want - at REQUEST: 1 when this message goes to a remote queue */
int router_remote_want(struct router *, pid_t);
/* router_remote_relay - at COMMIT: relay m; it answers m, or hands it to
 * the sync thread for a local commit (failover) */
void router_remote_relay(struct rmsg *);
/* router_remote_free - what a relay still holds (msg_free) */
void router_remote_free(struct rmsg *);
size_t router_remote_stats(struct router *, char *buf, size_t len);

/* router_stats.c */
void router_stats_answer(struct router *, struct rmsg *, int64_t ms);
void router_stats_serve(struct router *, int fd);
void router_log(const struct rmsg *, int64_t ms);

int64_t router_now_ms(void);

/*
 * router_cfg - the settings snapshot in effect, for threads other than the
 * loop's (the sync, health and reload threads).  SIGHUP swaps r->cfg on the
 * loop thread for a new snapshot (router_loop.c); a retired snapshot stays
 * alive until exit, since its successor shares the values that change only
 * at restart.  Those are all such a thread reads, so either snapshot gives
 * the same answer.
 */
static inline const struct router_config *router_cfg(const struct router *r)
{
	return __atomic_load_n(&r->cfg, __ATOMIC_ACQUIRE);
}

#endif
