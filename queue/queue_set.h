/*
 * queue_set.h - which queue trees a command works on (sluice-mkqueue,
 * sluice-qstat): IndiMail's QUEUEDIR, or QUEUE_BASE/queue<N> for N =
 * QUEUE_START ... QUEUE_START+QUEUE_COUNT-1.
 *
 * Kept out of queue.h for now so that queue.h stays the message-path API;
 * it may move there when the daemon needs the same list.
 */
#ifndef SLUICE_QUEUE_SET_H
#define SLUICE_QUEUE_SET_H

#include "queue.h"

/* A directory of their own, not qmail's queue/: tools that walk the stock
 * queue (qmail-qread, qmail-qstat, queue-fix, qmHandle) would meet the
 * queue<N> trees there as strays, and see none of their messages. */
#define QUEUE_BASE_DEFAULT "/var/qmail/queues"
#define QUEUE_START_DEFAULT 1
#define QUEUE_COUNT_DEFAULT 5	/* IndiMail's */
#define QUEUE_COUNT_MAX 1000

struct queue_set_entry {
	char *name;		/* "queue3"; for a QUEUEDIR, its last component */
	char *path;		/* "/var/qmail/queue/queue3" */
};

struct queue_set {
	char *base;		/* QUEUE_BASE, NULL when a single QUEUEDIR was given */
	unsigned n;
	struct queue_set_entry *v;
};

/*
 * queue_set_make - the queue list.  A non-empty queuedir names the one
 *	queue; otherwise base, count and start (decimal strings; NULL or empty
 *	for the defaults) name QUEUE_COUNT queues.  QUEUE_ECONFIG for a bad
 *	number, QUEUE_ENOMEM.
 */
enum queue_status queue_set_make(struct queue_set *, const char *queuedir, const char *base,
				 const char *count, const char *start, struct queue_err *);

/*
 * queue_set_env - the queue list from command-line options over the
 *	environment: -d (opt->queuedir) names one queue; any of -b -c -S
 *	chooses QUEUE_BASE/queue<N> even when QUEUEDIR is set, taking what
 *	was not given from QUEUE_BASE, QUEUE_COUNT, QUEUE_START; else QUEUEDIR
 *	when set; else QUEUE_BASE, QUEUE_COUNT, QUEUE_START.  NULL fields of
 *	opt were not given.
 */
struct queue_set_opts {
	const char *queuedir, *base, *count, *start;
};
enum queue_status queue_set_env(struct queue_set *, const struct queue_set_opts *,
				struct queue_err *);
void queue_set_free(struct queue_set *);

#endif
