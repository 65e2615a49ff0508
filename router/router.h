/*
 * router.h - sluiced: the integrated daemon behind sluice-queue.
 *
 * SUMMARY
 *	router_config_env() reads every setting from the environment (the
 *	supervise way); router_config_help() prints them.  router_run() serves
 *	until SIGTERM: one libev loop thread receives messages straight into
 *	their mess files and reads the envelopes, a scan pool inspects them,
 *	a sync thread commits them in batches with one round of fsyncs, and
 *	the loop answers each client with qmail-queue's exit code.
 *
 * DIAGNOSTICS
 *	router_config_env() returns -1 with a text naming the variable and the
 *	problem.  router_run() returns the daemon's exit status (0 after a
 *	clean SIGTERM drain, 111 when it cannot start) and logs why.
 */
#ifndef SLUICE_ROUTER_H
#define SLUICE_ROUTER_H

#include <stdint.h>
#include <sys/types.h>

#include "queue/queue.h"
#include "queue/queue_set.h"
#include "router/client.h"
#include "scan/scan.h"

#define ROUTER_MAX_SCANNERS 8
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
};

int router_config_env(struct router_config *, char *err, size_t errlen);
/* router_envdir_start - SLUICE_ENVDIR's variables into the environment
 * (at start, before any thread); -1 with the cause in err */
int router_envdir_start(char *err, size_t errlen);
/* router_config_reload - SIGHUP: read SLUICE_ENVDIR again and apply what a
 * running daemon can change (loop thread); msg tells what changed, what
 * needs a restart, or (-1) why nothing was applied */
int router_config_reload(struct router_config *, char *msg, size_t cap);
void router_config_free(struct router_config *);
void router_config_help(void);
int router_run(struct router_config *);

#endif
