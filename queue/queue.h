/*
 * queue.h - the on-disk qmail queue, and nothing else.
 *
 * SUMMARY
 *	A queue is one qmail queue directory (pid/ mess/ intd/ todo/ lock/ ...).
 *	A message moves through it in the stock qmail-queue order, with the
 *	directory fsyncs stock qmail leaves out:
 *
 *	queue_msg_begin()   pid/<name> (O_EXCL, flock'ed) -> link mess/<id%split>/<id>
 *	queue_msg_write()   Received line and message into the mess file
 *	queue_msg_move()    (a policy's queue=) the message into another queue
 *	queue_msg_intd()    intd/<id> with u p F T records (not yet synced)
 *	queue_commit()      for a whole batch: fsync data, fsync directories,
 *	                    link todo/<id> (the commit point), fsync todo/,
 *	                    trigger, remove pid/ markers
 *	queue_round_*()     the same as a pipeline of rounds, each owned by its
 *	                    caller: a round links the batch the previous one
 *	                    synced and syncs the next (sluiced's sync thread)
 *	queue_msg_abort()   remove whatever the message made
 *
 *	queue_recover() removes, at start, every message a dead writer of ours
 *	left uncommitted.  queue_count() counts like qmail-qstat.
 *	queue_layout_*() creates and repairs queue trees (sluice-mkqueue).
 *	queue_env_*() reads an envelope as qmail-queue does, incrementally.
 *	queue_received() formats qmail-queue's Received line.
 *
 * DIAGNOSTICS
 *	Functions return enum queue_status and fill a struct queue_err with a
 *	text naming the file and the cause.  Nothing here calls exit(); mapping
 *	a status to a qmail-queue exit code is the router's job.
 *	See queue/INTERNALS.md for the states a message can be in on disk.
 */
#ifndef SLUICE_QUEUE_H
#define SLUICE_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

enum queue_status {
	QUEUE_OK = 0,
	QUEUE_AGAIN,		/* envelope incomplete, feed more */
	QUEUE_ENOMEM,		/* out of memory (qq 51) */
	QUEUE_EHOME,		/* cannot open the queue directory (qq 61) */
	QUEUE_EPID,		/* cannot create pid/ file (qq 63) */
	QUEUE_EMESS,		/* cannot link mess/ file (qq 64) */
	QUEUE_EINTD,		/* cannot create intd/ file (qq 65) */
	QUEUE_ETODO,		/* cannot link todo/ file (qq 66) */
	QUEUE_EWRITE,		/* write or fsync failed, disk full (qq 53) */
	QUEUE_ESPACE,		/* queue below its free-space minimum (qq 53) */
	QUEUE_EREAD,		/* read error, or envelope cut short (qq 54) */
	QUEUE_EADDR,		/* envelope address too long (qq 11) */
	QUEUE_EFORMAT,		/* envelope record of the wrong type (qq 91) */
	QUEUE_ECONFIG,		/* bad settings (qq 55) */
	QUEUE_ELAYOUT,		/* queue tree missing or broken */
	QUEUE_EBUSY,		/* pid/ marker held by a live writer */
	QUEUE_NSTATUS
};

struct queue_err {
	enum queue_status status;
	int errnum;		/* errno of the failing call, 0 if none */
	char text[320];		/* "cannot link mess/3/1234: No space left on device" */
};

const char *queue_status_name(enum queue_status);
/* queue_errset - set status, errno and a formatted text; returns status */
enum queue_status queue_errset(struct queue_err *, enum queue_status, int errnum,
			       const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define QUEUE_SPLIT_DEFAULT 23
#define QUEUE_SPLIT_MAX 1000
#define QUEUE_ADDR_MAX 1003	/* qmail-queue's ADDR: 1002 bytes + NUL fit */

/*
 * An open queue.  Directory fds make every operation *at()-relative, so one
 * process serves many queues from many threads without chdir().
 */
struct queue {
	char *path;
	unsigned split;
	int dirfd;
	int pidfd, intdfd, todofd, lockfd;
	int *messfd;		/* split entries: mess/<n> */
	unsigned long seq;	/* pid/ name sequence (atomic) */
	long pid;		/* getpid() at queue_open: the markers' names */
};

/* queue_open - open an existing queue tree; split 0 means CONFSPLIT or 23 */
enum queue_status queue_open(struct queue *, const char *path, unsigned split,
			     struct queue_err *);
void queue_close(struct queue *);
/* queue_split_default - $CONFSPLIT if valid, else 23 */
unsigned queue_split_default(void);

/* One message on its way into a queue. */
enum {
	QUEUE_MSG_PID = 1,	/* pid/ marker exists */
	QUEUE_MSG_MESS = 2,	/* mess/ link exists */
	QUEUE_MSG_INTD = 4,	/* intd/ file exists */
	QUEUE_MSG_TODO = 8,	/* committed */
	QUEUE_MSG_SYNCED = 16,	/* data and directories durable: ready to link */
};

struct queue_msg {
	struct queue *q;
	ino_t id;		/* inode number = message id */
	int fd;			/* mess file, O_RDWR: scanners pread it */
	int intdfd;
	unsigned flags;		/* QUEUE_MSG_* */
	off_t size;		/* bytes written to mess */
	int umasked;		/* the umask took bits off 0644: fchmod intd/ too */
	char pidname[64];	/* marker inside pid/: <pid>.<time>.<seq>.r, then .c */
	struct queue_err err;	/* why queue_commit() failed this one */
};

/* queue_msg_begin - create the pid/ marker and the mess link; m->fd is open */
enum queue_status queue_msg_begin(struct queue *, struct queue_msg *, struct queue_err *);
/* queue_insert - len bytes at offset at of a mess file not yet committed,
 * the rest shifted in place (queue_insert.c) */
enum queue_status queue_insert(struct queue_msg *, off_t at, const void *, size_t,
			       struct queue_err *);
/* queue_insert_strip - queue_insert(), after removing from the header block
 * that begins at `at` (to its first empty line, or the end of the file) each
 * field, continuation lines too, for which drop(arg, name, len) is non-zero
 * (name: not NUL-terminated, its first QUEUE_NAME_MAX bytes); *removed is
 * how many (queue_insert.c) */
#define QUEUE_NAME_MAX 128
enum queue_status queue_insert_strip(struct queue_msg *, off_t at, const void *, size_t,
				     int (*drop)(void *arg, const char *name, size_t len),
				     void *arg, unsigned *removed, struct queue_err *);
/* queue_insert_fields - the byte ranges [from, to) of the fields
 * queue_insert_strip() would remove (adjacent ones joined, in order), the
 * file untouched; *v is malloc'ed (NULL when none), *count the fields */
struct queue_range {
	off_t from, to;
};
enum queue_status queue_insert_fields(const struct queue_msg *, off_t at,
				      int (*drop)(void *arg, const char *name, size_t len),
				      void *arg, struct queue_range **v, size_t *n,
				      unsigned *count, struct queue_err *);
/* queue_msg_write - append to the mess file, retrying short writes */
enum queue_status queue_msg_write(struct queue_msg *, const void *, size_t,
				  struct queue_err *);
/* queue_pread_full, queue_pwrite_full - exactly n bytes at offset off,
 * retrying EINTR and short transfers: 0, or -1 with errno (EIO when the
 * file ends first) (queue_open.c) */
int queue_pread_full(int fd, void *, size_t n, off_t off);
int queue_pwrite_full(int fd, const void *, size_t n, off_t off);
/* queue_msg_move - a message written but without intd/ into queue `to`:
 * the same id by links on one filesystem, else copied under a new id
 * (queue_commit.c); on failure it stays where it was */
enum queue_status queue_msg_move(struct queue_msg *, struct queue *to, struct queue_err *);
/* queue_msg_intd - create intd/<id> holding the given u p F T records */
enum queue_status queue_msg_intd(struct queue_msg *, const void *env, size_t len,
				 struct queue_err *);
/* queue_msg_abort - remove intd, mess and pid marker; close fds (never fails) */
void queue_msg_abort(struct queue_msg *);

enum queue_sync {
	QUEUE_SYNC_FULL,	/* fsync data and every directory touched (default) */
	QUEUE_SYNC_DATA,	/* fsync data only, like stock qmail-queue */
	QUEUE_SYNC_NONE,	/* no fsync at all (tests, throwaway queues) */
	QUEUE_SYNC_FS,		/* one syncfs() per filesystem per round, for a queue
				 * filesystem of its own: as safe as FULL */
};
/* queue_sync_parse - "full" | "data" | "none" | "fs" -> 0, else -1 */
int queue_sync_parse(const char *, enum queue_sync *);

/*
 * queue_commit - commit a batch of messages (each after queue_msg_intd())
 *	with two rounds of fsyncs: first the data of every message and each
 *	directory once; then the todo/ links, each todo/ directory once, and
 *	one trigger per queue.  Messages may belong to different queues.
 *	Returns the number committed; a message that failed is aborted (or,
 *	when only its todo/ fsync failed, kept) and its m->err says why.
 *	Committed messages have their fds closed except m->fd when keep_fd.
 */
size_t queue_commit(struct queue_msg **v, size_t n, enum queue_sync, int keep_fd);
/*
 * queue_commit_step - one whole round of the pipelined group commit: link
 *	the todo/ entries of `link` (synced by an earlier round), then one round
 *	of fsyncs for their todo/ directories together with the data and
 *	directories of `prep`, which become QUEUE_MSG_SYNCED.  Returns the
 *	number of `link` messages committed.  queue_round_begin() and
 *	queue_round_end() back to back on a round of its own.
 */
size_t queue_commit_step(struct queue_msg **prep, size_t np, struct queue_msg **link, size_t nl,
			 enum queue_sync, int keep_fd);

/*
 * A round of fsyncs issued together (queue_fsync.c).  The caller owns it (a
 * local, a member of its own state); zeroed, it is closed.  Its fields are
 * queue_fsync.c's: the pool's helper threads use them, under the pool's
 * lock, from queue_fsync_start() until queue_fsync_wait() returns.
 */
struct queue_fsync {
	const int *fds;
	int *errs;
	size_t n, next, left;	/* fds; the next to claim; not yet done */
	int syncfs;		/* syncfs() the fds, not fsync() */
	int open;		/* started, not yet waited for */
	int posted;		/* on the pool's list: helpers may take its fds */
	void (*done)(void *);
	void *arg;
	struct queue_fsync *link;	/* the pool's list of rounds with fds to claim */
};

/* queue_fsync_threads - issue a round's fsyncs from n threads at once (the
 * journal then commits them together); 0 until called.  -1 if fewer started */
int queue_fsync_threads(unsigned n);
/* queue_fsync_all - fsync each fd; errs[i] = 0 or its errno */
void queue_fsync_all(const int *fds, size_t n, int *errs);
/*
 * queue_fsync_start, queue_fsync_wait - queue_fsync_all() in two halves on
 *	a round the caller owns: the helpers start on it, the caller does other
 *	work, then waits (and helps with what no helper has taken).  syncfs:
 *	syncfs() each fd instead (one fd per filesystem).  done(arg), if not
 *	NULL, is called once the last fd is done, by whichever thread did it
 *	(a helper or the waiter), with the pool's lock held: it must only
 *	signal, and the waiter must not hold a lock done() takes.  Without
 *	helpers it is called at once: nothing runs before the wait, which then
 *	does every fsync.  Rounds of different owners (threads, or several
 *	rounds of one thread) run side by side.  start returns 0, or -1 with
 *	EBUSY when this round is open already (nothing started).  fds, errs
 *	and the round must stay valid until the wait; a wait on a closed round
 *	returns at once.
 */
int queue_fsync_start(struct queue_fsync *, const int *fds, size_t n, int *errs, int syncfs,
		      void (*done)(void *), void *arg);
void queue_fsync_wait(struct queue_fsync *);

/*
 * A round of the pipelined group commit (queue_round.c), owned by its
 * caller: sluiced's sync thread keeps one for its life.  It holds the
 * round's fd table, its syncfs table (QUEUE_SYNC_FS) and its fsync round;
 * zeroed (or queue_round_init()) it is closed.  Fields are queue_round.c's.
 */
#define QUEUE_ROUND_FDS 1024	/* distinct fds of one round; past them E2BIG */
#define QUEUE_ROUND_FS 64	/* filesystems of a syncfs round; more: synced at begin */
struct queue_round {
	int fd[QUEUE_ROUND_FDS], err[QUEUE_ROUND_FDS];
	size_t nfd;
	int *idx;		/* per prep message: its entries in fd[] */
	int *tidx;		/* per link message: its todo/ entry in fd[] */
	struct queue_msg **prep, **link;
	size_t np, nl;
	enum queue_sync mode;
	dev_t fsdev[QUEUE_ROUND_FS];	/* QUEUE_SYNC_FS: one fd per filesystem */
	int fsfd[QUEUE_ROUND_FS], fserr[QUEUE_ROUND_FS];
	size_t nfs;
	int fserr_more;		/* a filesystem past fsfd[]: its syncfs errno */
	int open;		/* begun, not yet ended */
	struct queue_fsync sync;
};
void queue_round_init(struct queue_round *);
/*
 * queue_round_begin - the first half of a round: `link` messages (each
 *	QUEUE_MSG_SYNCED by an earlier round) get their todo/ link, the commit
 *	point; then the round's fsyncs start on the helper threads: those
 *	todo/ directories and, for `prep`, the mess and intd files and their
 *	mess/<n>, intd/ and pid/ directories.  done(arg) as for
 *	queue_fsync_start().  Returns 0, or -1 with EBUSY when this round is
 *	open already (nothing is done, the messages are untouched).  Both
 *	arrays must stay valid until the end.
 * queue_round_end - waits for the round, then finishes it: one trigger per
 *	queue and the pid/ markers removed for the linked messages, and the
 *	`prep` messages QUEUE_MSG_SYNCED, ready to be linked by the next round.
 *	Returns the number of linked messages committed without error (0 for
 *	a closed round).
 *	Between the two the caller may write the next batch's files: the round
 *	does not cover them.  Under load each round's journal commit serves
 *	two batches.
 */
int queue_round_begin(struct queue_round *, struct queue_msg **prep, size_t np,
		      struct queue_msg **link, size_t nl, enum queue_sync,
		      void (*done)(void *), void *arg);
size_t queue_round_end(struct queue_round *, int keep_fd);

/* queue_trigger - wake the queue's qmail-send (lock/trigger); errors ignored */
void queue_trigger(struct queue *);

/*
 * queue_recover - at start: for each pid/ marker of ours that no live writer
 *	holds (flock), remove the marker if its message was committed, else
 *	remove the message whole (intd, mess, marker).  The rules are in
 *	queue/INTERNALS.md.  Counts go to *kept / *removed when not NULL
 *	(a message moved to another queue counts as kept: only this queue's
 *	names of it are removed).
 */
enum queue_status queue_recover(struct queue *, unsigned *kept, unsigned *removed,
				struct queue_err *);

/* qmail-qstat's two numbers for one queue tree (messages, not recipients). */
struct queue_counts {
	unsigned long mess;	/* files under mess/ */
	unsigned long todo;	/* files under todo/: not yet preprocessed */
	unsigned long intd;	/* files under intd/ */
};
enum queue_status queue_count(const char *path, struct queue_counts *, struct queue_err *);
/* queue_backlog - todo + intd entries of an open queue (queue choice) */
unsigned long queue_backlog(struct queue *);

/*
 * Received line, byte for byte as qmail-queue writes it:
 *	"Received: (qmail <pid> invoked from network); 2 Nov 2026 02:45:04 -0000\n"
 * The uids of alias, qmaild and qmails choose "by alias", "from network",
 * "for bounce", else "by uid N".
 */
struct queue_uids {
	uid_t alias, qmaild, qmails;
};
/* queue_uids_load - look the three users up in /etc/passwd (no NSS); missing = -1 */
void queue_uids_load(struct queue_uids *, const char *passwd_path);
#define QUEUE_RECEIVED_MAX 128
size_t queue_received(char *buf, size_t cap, unsigned long pid, uid_t uid,
		      const struct queue_uids *, time_t now);
/*
 * queue_received_helo - the client's HELO name from qmail-smtpd's Received
 *	line at the start of buf ("Received: from HOST (HELO NAME)
 *	(INFO@IP)\n  by LOCAL with SMTP; ..."), only when its IP is remoteip
 *	(the client's TCPREMOTEIP); without "(HELO x)" the HELO was HOST (an
 *	"unknown" HOST gives nothing).  Only letters, digits, '.', '-', '_' or
 *	an address literal, at most QUEUE_HELO_MAX bytes; else 0 and "" in out
 *	(cap: at least QUEUE_HELO_MAX + 1).  Returns its length.
 */
#define QUEUE_HELO_MAX 253
size_t queue_received_helo(const char *buf, size_t len, const char *remoteip, char *out,
			   size_t cap);

/*
 * Envelope reader with qmail-queue's rules.  Input is what qmail-smtpd writes
 * on fd 1: "F<sender>\0" "T<rcpt>\0"... "\0".  Output (env->buf) is the intd
 * body: "u<uid>\0p<pid>\0F<sender>\0T<rcpt>\0...".  s/qmail's "Q" record ends
 * the recipient list and sets noscan; it is not copied.
 */
#define QUEUE_ENV_MAX (4u << 20)	/* bytes of envelope held; past it QUEUE_ENOMEM */
struct queue_env {
	char *buf;
	size_t len, cap;
	size_t sender_off;	/* offset of the sender (after 'F') in buf */
	unsigned nrcpt;
	unsigned addrlen;
	int state;
	int noscan;		/* a Q record was seen */
};
void queue_env_init(struct queue_env *, uid_t uid, unsigned long pid);
/* queue_env_feed - returns QUEUE_OK when the envelope is complete (*used bytes
 * consumed; the rest is ignored, as qmail-queue ignores it), QUEUE_AGAIN for
 * more, else QUEUE_EADDR / QUEUE_EFORMAT / QUEUE_ENOMEM. */
enum queue_status queue_env_feed(struct queue_env *, const char *, size_t, size_t *used);
/* queue_env_eof - EOF seen: QUEUE_OK if complete, else QUEUE_EREAD (qq 54) */
enum queue_status queue_env_eof(const struct queue_env *);
const char *queue_env_sender(const struct queue_env *);
/* queue_env_rcpt - iterate recipients: pass NULL first, then the last result */
const char *queue_env_rcpt(const struct queue_env *, const char *prev);
void queue_env_free(struct queue_env *);

/*
 * Queue trees (sluice-mkqueue).  Owners come from the stock users; when they
 * do not exist the running user owns everything (owners.fallback is set).
 */
struct queue_owners {
	uid_t qmailq, qmails, qmailr;
	gid_t qmail;
	int fallback;
};
void queue_owners_load(struct queue_owners *, const char *passwd_path, const char *group_path);

struct queue_layout_report {
	unsigned created, fixed;	/* entries made / modes or owners corrected */
	void (*say)(void *ctx, const char *line);	/* one line per change */
	void *ctx;
};
/* queue_layout_make - create or repair one tree; dry_run only reports */
enum queue_status queue_layout_make(const char *path, unsigned split,
				    const struct queue_owners *, int dry_run,
				    struct queue_layout_report *, struct queue_err *);

/*
 * Fault injection: every system call that changes the queue goes through this
 * table.  Tests replace entries; production uses the libc ones.
 */
struct queue_sys {
	int (*openat)(int, const char *, int, mode_t);
	int (*linkat)(int, const char *, int, const char *, int);
	int (*unlinkat)(int, const char *, int);
	ssize_t (*write)(int, const void *, size_t);
	int (*fsync)(int);
	int (*fstat)(int, struct stat *);
	int (*ftruncate)(int, off_t);
	int (*renameat)(int, const char *, int, const char *);
	int (*syncfs)(int);
};
extern struct queue_sys queue_sys;
void queue_sys_reset(void);

#endif
