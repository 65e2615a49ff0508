/*
 * router.h - sluiced: the integrated daemon behind sluice-queue.
 *
 * SUMMARY
 *	router_config_env() reads every setting from the environment (the
 *	supervise way) as control/'s settings table says; router_config_help()
 *	prints them.  router_config_load() reads a whole new configuration
 *	(environment and SLUICE_ENVDIR afresh) as a reference-counted
 *	snapshot; router_config_compare() tells what differs from the running
 *	one and makes it what a running daemon can take (restart-only
 *	settings as they run).  router_run() serves
 *	until SIGTERM: one libev loop thread receives messages straight into
 *	their mess files and reads the envelopes, a scan pool inspects them,
 *	a sync thread commits them in batches (two pipelined rounds of
 *	fsyncs cover a batch: its data and directories, then its todo/ links
 *	together with the next batch's data) or the loop relays them to a
 *	remote queue (a QMQP server), and the loop answers each client with
 *	qmail-queue's exit code.
 *
 * DIAGNOSTICS
 *	router_config_env() returns -1 with a text naming the variable and the
 *	problem.  router_run() returns the daemon's exit status (0 after a
 *	clean SIGTERM drain, 111 when it cannot start) and logs why.
 */
#ifndef SLUICE_ROUTER_H
#define SLUICE_ROUTER_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "control/control.h"
#include "queue/queue.h"
#include "queue/queue_set.h"
#include "router/client.h"
#include "router/qmqp.h"
#include "scan/scan.h"

#define ROUTER_MAX_SCANNERS 8
#define ROUTER_MAX_REMOTE 64	/* QMQP servers (SLUICE_QMQP) at most */
#define ROUTER_INFLIGHT_DEFAULT 512	/* or less, when the open files limit is lower */

struct router_config {
	struct queue_set set;
	unsigned split;
	char socket_path[4096];
	char stats_path[4096];
	mode_t socket_mode, stats_mode;
	gid_t socket_gid;	/* (gid_t)-1: leave as is */
	const char *user;	/* SLUICE_USER: user to become when started as root */
	unsigned max_inflight;	/* messages accepted and not yet answered */
	int max_inflight_set;	/* SLUICE_MAX_INFLIGHT given; else derived from the fd limit */
	unsigned max_inflight_auto;	/* that derived value (router_run), kept over reloads */
	uint64_t max_bytes;	/* bytes of such messages written so far */
	unsigned scan_depth;	/* jobs waiting for a scan worker */
	unsigned workers;	/* scan threads */
	unsigned net_threads;	/* network scanner threads at most */
	unsigned read_timeout;	/* seconds without a byte from qmail-smtpd */
	unsigned message_timeout;	/* seconds for a whole message */
	unsigned scan_timeout_ms;	/* per message, all scanners together */
	unsigned scanner_timeout_ms;	/* per scanner; 0 = only the message's */
	unsigned drain_timeout;	/* seconds SIGTERM waits for in-flight messages */
	unsigned reload_check;	/* seconds between signature DB change checks; 0 = never */
	enum queue_sync sync;
	unsigned batch_max;	/* messages per commit batch */
	unsigned fsync_threads;	/* threads issuing a batch's fsyncs together */
	uint64_t min_free;	/* MIN_FREE: bytes a queue's filesystem must keep */
	unsigned long max_backlog;	/* todo + intd entries a queue may hold */
	int require_send;	/* skip queues whose qmail-send is not running */
	/* remote queues (router_remote.c): SLUICE_QMQP's servers, in order */
	struct qmqp_addr qmqp[ROUTER_MAX_REMOTE];
	unsigned nqmqp;
	unsigned qmqp_weight;	/* percent of messages to a remote queue */
	int local_spool;	/* SLUICE_LOCAL_QUEUES=spool: no message is committed locally */
	unsigned qmqp_conns;	/* connections at once to one server */
	unsigned qmqp_connect_ms, qmqp_io_ms, qmqp_timeout_ms, qmqp_retry_ms;
	unsigned qmqp_slow_ms;	/* 0: never slow */
	unsigned nscanners;
	const struct scan_backend *scanners[ROUTER_MAX_SCANNERS];
	enum router_action on_virus, on_banned, on_spam, on_limit, on_error;
	int tag_clean;		/* SLUICE_TAG_CLEAN: headers on clean mail too */
	const char *quarantine;	/* SLUICE_QUARANTINE: a Maildir */
	char quarantine_log[4200];	/* SLUICE_QUARANTINE_LOG */
	enum router_action quarantine_then;	/* ACTION_REJECT or ACTION_DROP */
	enum client_custom custom;
	int error_fd;
	const char *passwd;	/* for the Received line's users; NULL = /etc/passwd */
	struct scan_config scan;
	struct control_options policy;	/* SLUICE_CONTROL, SLUICE_POLICY_SENDER: opens the policy */
	/* the values everything above is derived from; it owns the strings
	 * the pointers above point at */
	struct control_settings settings;
	char unknown[256];	/* SLUICE_ENVDIR files named like a setting that is none */
	atomic_uint refs;	/* router_config_load()'s snapshots: _ref / _unref */
};

int router_config_env(struct router_config *, char *err, size_t errlen);
/* router_remote_parse - SLUICE_QMQP's value (a list, or the absolute path
 * of a qmqpservers file) into v[ROUTER_MAX_REMOTE]; 0 with *n set, or -1
 * with the cause in err */
int router_remote_parse(const char *text, struct qmqp_addr *v, unsigned *n, char *err,
			size_t errlen);
/* router_envdir_start - SLUICE_ENVDIR's variables into the environment
 * (at start, before any thread); -1 with the cause in err */
int router_envdir_start(char *err, size_t errlen);
/* router_config_load - a new snapshot from the environment with
 * SLUICE_ENVDIR read again over it (one reference), or NULL with the first
 * bad value in err.  Any thread; it does not touch the environment. */
struct router_config *router_config_load(char *err, size_t errlen);
void router_config_ref(struct router_config *);
/* router_config_unref - drop a reference to a loaded snapshot; the last frees it */
void router_config_unref(struct router_config *);
/*
 * router_config_compare - what next changes against running, into msg
 *	("SLUICE_ON_VIRUS defer -> reject; SLUICE_WORKERS changed: takes
 *	effect at restart", or "settings unchanged"), as the settings table's
 *	live flags say; next's restart-only settings become running's and
 *	its derived fields follow, so that next can replace running as it is.
 *	0, or -1 when that merged snapshot is not valid (msg says why and
 *	that the running settings are kept; next must be dropped).
 */
int router_config_compare(const struct router_config *running, struct router_config *next,
			  char *msg, size_t cap);
/*
 * A reload by swapping snapshots (router_config_reload() does it):
 *	n = router_config_load(err, sizeof err);        NULL: log err, keep running
 *	router_config_compare(running, n, msg, cap);    -1: log msg, unref n, keep running
 *	log msg; publish n; keep the old one until exit (n shares its
 *	restart-only values: sluiced frees retired snapshots when it stops).
 * router_config_load() also serves at start (after router_envdir_start()):
 * it gives what router_config_env() gives, as a snapshot.
 */
/* router_config_reload - SIGHUP: load a new snapshot and, when it is good,
 * put it in *cur (atomically); *old is the snapshot it replaced, which the
 * caller keeps alive (the new one shares its restart-only values) - NULL
 * when nothing was swapped.  0, or -1 with msg saying why nothing changed;
 * msg says what changed and what needs a restart */
int router_config_reload(struct router_config **cur, char *msg, size_t cap,
			 struct router_config **old);
void router_config_free(struct router_config *);
void router_config_help(void);
int router_run(struct router_config *);

#endif
