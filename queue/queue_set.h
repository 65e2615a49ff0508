/*
 * queue_set.h - the admin tools' part of queue/ (sluice-mkqueue,
 * sluice-qstat): which queue trees a command works on (IndiMail's
 * QUEUEDIR, or QUEUE_BASE/queue<N> for N = QUEUE_START ...
 * QUEUE_START+QUEUE_COUNT-1), the installed settings directory they read
 * (queue_envdir_*, also the reader of sluiced's SLUICE_ENVDIR), the
 * qmail-qread-like listing (queue_list) and the Prometheus form of the
 * counts and of sluiced's live figures (queue_prom_*).
 *
 * Kept out of queue.h so that queue.h stays the message-path API.
 */
#ifndef SLUICE_QUEUE_SET_H
#define SLUICE_QUEUE_SET_H

#include <stdio.h>

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

/*
 * envdir(8) directories (queue_envdir.c), the project's one reader: sluiced
 * reads SLUICE_ENVDIR with it (through control/'s settings), the admin's
 * tools their installed settings.
 *
 * queue_envdir_read - every variable of the directory: a file's first line,
 *	trailing blanks cut, NULs made newlines; value NULL for an empty file
 *	(the variable unset).  Symlinks followed; dot names, names with '='
 *	and subdirectories skipped; a FIFO, a device, or a first line over
 *	QUEUE_ENVDIR_LINE_MAX bytes is QUEUE_ECONFIG naming the file.
 * queue_envdir_lookup - the variable name as read, or NULL when the
 *	directory has no such file.
 * queue_envdir_find - the settings directory to read: opt (the command
 *	line's) if not NULL, else $SLUICE_ENVDIR if set, else compiled when it
 *	is a directory; an empty opt or SLUICE_ENVDIR means none (NULL).
 * queue_envdir_apply - read it and put it into the environment, as
 *	envdir(8) and sluiced do (it overrides the environment; an empty file
 *	unsets).
 */
#define QUEUE_ENVDIR_LINE_MAX 16384
struct queue_envvar {
	char *name;
	char *value;		/* NULL: an empty file, the variable unset */
};
struct queue_envdir {
	size_t n;
	struct queue_envvar *v;
};
enum queue_status queue_envdir_read(const char *dir, struct queue_envdir *, struct queue_err *);
const struct queue_envvar *queue_envdir_lookup(const struct queue_envdir *, const char *name);
void queue_envdir_free(struct queue_envdir *);
const char *queue_envdir_find(const char *opt, const char *compiled);
enum queue_status queue_envdir_apply(const char *dir, struct queue_err *);

/*
 * One message of a queue, as qmail-qread shows it, and where it stands:
 * TODO committed, not yet preprocessed by qmail-send (envelope in todo/);
 * SEND preprocessed (info/, local/, remote/); HIDDEN preprocessed, but
 * info/ cannot be read by this user (qmails' own, mode 0700).
 */
enum queue_item_state { QUEUE_ITEM_TODO, QUEUE_ITEM_SEND, QUEUE_ITEM_HIDDEN };
struct queue_rcpt {
	char channel;		/* 'l' local, 'r' remote, 't' todo (not yet sorted) */
	int done;
	const char *addr;
};
struct queue_item {
	unsigned long id;
	off_t size;		/* of the mess file */
	time_t time;		/* info/ (else todo/, else mess/) file's mtime */
	enum queue_item_state state;
	int bouncing;		/* bounce/<id> exists */
	const char *sender;	/* NULL when HIDDEN */
	const struct queue_rcpt *rcpt;
	size_t nrcpt;
};
/*
 * queue_list - call each(ctx, item) for every committed message of the
 *	queue tree at path, in id order; messages still being queued (mess
 *	with a pid/ link, or intd/ without todo/) are left out.  *hidden is
 *	set when info/ was closed to us (the messages are HIDDEN).  each()
 *	returning non-zero stops the walk.  QUEUE_EHOME / QUEUE_ELAYOUT when
 *	the tree or mess/ cannot be read, QUEUE_ENOMEM.
 */
enum queue_status queue_list(const char *path, int (*each)(void *ctx, const struct queue_item *),
			     void *ctx, int *hidden, struct queue_err *);
/* queue_list_format - qmail-qread's lines for one item, each after prefix */
void queue_list_format(FILE *, const char *prefix, const struct queue_item *);

/*
 * Prometheus text exposition (version 0.0.4): queue_prom_counts() adds one
 * queue's counts (NULL: it could not be counted), queue_prom_stats() sluiced's stats-socket text (known
 * lines by name and type; "key number", "key_version text" and "kind name
 * key value ..." lines generically; anything else is left out) and
 * queue_prom_up() whether the daemon answered; queue_prom_write() prints
 * every family once, HELP and TYPE first, in the order first added.
 */
struct queue_prom;
struct queue_prom *queue_prom_new(void);
void queue_prom_counts(struct queue_prom *, const char *queue, const struct queue_counts *);
void queue_prom_stats(struct queue_prom *, const char *text);
void queue_prom_up(struct queue_prom *, int up);
int queue_prom_write(struct queue_prom *, FILE *);
void queue_prom_free(struct queue_prom *);

#endif
