/*
 * queue_commit.c - crash-safe write and commit of messages, in batches.
 *
 *	queue_msg_begin() creates the pid/ marker exclusively, locks it with
 *	flock() (a live writer's marker is never recovered), and links it to
 *	mess/<id % split>/<id>; the marker's inode number is the message id.
 *	queue_msg_write() appends to the mess file.  queue_msg_intd() creates
 *	intd/<id> with the envelope and renames the marker from ".r" to ".c".
 *	queue_commit() commits a batch with one round of fsyncs; see its comment.
 *	queue_msg_abort() removes intd, mess and marker, in that order.
 *	queue_trigger() writes one byte to lock/trigger.
 *
 *	Stock qmail-queue order (REFERENCE §3), plus the directory fsyncs stock
 *	qmail leaves out and a marker kept until the commit.  The states and the
 *	operations between them are in queue/INTERNALS.md.
 *
 * DIAGNOSTICS
 *	QUEUE_EPID, QUEUE_EMESS, QUEUE_EINTD, QUEUE_ETODO, QUEUE_EWRITE with a
 *	text naming the file; a failing message leaves nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "queue_int.h"

#define MARKER_TRIES 10

static void marker_name(struct queue *q, char *buf, size_t len, const char *suffix)
{
	unsigned long seq = __atomic_add_fetch(&q->seq, 1, __ATOMIC_RELAXED);

	snprintf(buf, len, "%ld.%ld.%lu%s", (long)getpid(), (long)time(NULL), seq, suffix);
}

/* marker_create - exclusive create + flock; a concurrent recovery that locked
 * the new file first wins, and we simply try another name.  It may also have
 * removed the file and let go of the lock before our flock(): the lock is
 * then ours but the name is gone, so check the name still is this inode. */
static int marker_create(struct queue *q, struct queue_msg *m, struct queue_err *e)
{
	int i;

	for (i = 0; i < MARKER_TRIES; i++) {
		struct stat st, st2;
		int fd;

		marker_name(q, m->pidname, sizeof m->pidname, QUEUE_MARK_RECV);
		fd = queue_sys.openat(q->pidfd, m->pidname,
				      O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			break;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 &&
		    fstatat(q->pidfd, m->pidname, &st2, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_ino == st2.st_ino)
			return fd;
		close(fd);
	}
	queue_errset(e, QUEUE_EPID, errno, "cannot create %s/pid/%s", q->path, m->pidname);
	return -1;
}

enum queue_status queue_msg_begin(struct queue *q, struct queue_msg *m, struct queue_err *e)
{
	struct stat st;
	char id[24];

	memset(m, 0, sizeof *m);
	m->q = q;
	m->fd = m->intdfd = -1;
	if ((m->fd = marker_create(q, m, e)) < 0)
		return QUEUE_EPID;
	m->flags = QUEUE_MSG_PID;
	if (queue_sys.fstat(m->fd, &st) < 0) {
		queue_errset(e, QUEUE_EPID, errno, "cannot stat %s/pid/%s", q->path, m->pidname);
		queue_msg_abort(m);
		return QUEUE_EPID;
	}
	m->id = st.st_ino;
	/* qmail-remote runs as qmailr and must read the file: 0644 whatever umask */
	if ((st.st_mode & 07777) != 0644 && fchmod(m->fd, 0644) < 0) {
		queue_errset(e, QUEUE_EPID, errno, "cannot chmod %s/pid/%s", q->path, m->pidname);
		queue_msg_abort(m);
		return QUEUE_EPID;
	}
	queue_fmt_id(id, m->id);
	if (queue_sys.linkat(q->pidfd, m->pidname, queue_mess_fd(q, m->id), id, 0) < 0) {
		queue_errset(e, QUEUE_EMESS, errno, "cannot link %s/mess/%lu/%s", q->path,
			     (unsigned long)m->id % q->split, id);
		queue_msg_abort(m);
		return QUEUE_EMESS;
	}
	m->flags |= QUEUE_MSG_MESS;
	return QUEUE_OK;
}

enum queue_status queue_msg_write(struct queue_msg *m, const void *buf, size_t len,
				  struct queue_err *e)
{
	if (queue_writeall(m->fd, buf, len) < 0)
		return queue_errset(e, QUEUE_EWRITE, errno, "cannot write %s/mess/%lu/%lu",
				    m->q->path, (unsigned long)m->id % m->q->split,
				    (unsigned long)m->id);
	m->size += (off_t)len;
	return QUEUE_OK;
}

enum queue_status queue_msg_intd(struct queue_msg *m, const void *env, size_t len,
				 struct queue_err *e)
{
	struct queue *q = m->q;
	char id[24], name[sizeof m->pidname];
	size_t n;

	queue_fmt_id(id, m->id);
	m->intdfd = queue_sys.openat(q->intdfd, id, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (m->intdfd < 0)
		return queue_errset(e, QUEUE_EINTD, errno, "cannot create %s/intd/%s", q->path, id);
	m->flags |= QUEUE_MSG_INTD;
	/* qmail-send runs as qmails and must read todo/<id>: 0644 whatever the
	 * caller's umask, as stock qmail-queue's umask(033) makes it */
	if (fchmod(m->intdfd, 0644) < 0)
		return queue_errset(e, QUEUE_EINTD, errno, "cannot chmod %s/intd/%s", q->path, id);
	if (queue_writeall(m->intdfd, env, len) < 0)
		return queue_errset(e, QUEUE_EWRITE, errno, "cannot write %s/intd/%s", q->path, id);
	/* ".r" -> ".c": from now on recovery needs todo/ or intd/ to decide */
	n = strlen(m->pidname) - strlen(QUEUE_MARK_RECV);
	snprintf(name, sizeof name, "%.*s%s", (int)n, m->pidname, QUEUE_MARK_COMMIT);
	if (queue_sys.renameat(q->pidfd, m->pidname, q->pidfd, name) < 0)
		return queue_errset(e, QUEUE_EPID, errno, "cannot rename %s/pid/%s", q->path,
				    m->pidname);
	memcpy(m->pidname, name, sizeof name);
	return QUEUE_OK;
}

void queue_msg_abort(struct queue_msg *m)
{
	struct queue *q = m->q;
	char id[24];
	int saved = errno;

	if (!q || (m->flags & QUEUE_MSG_TODO))
		return;		/* committed: qmail-send owns it now */
	queue_fmt_id(id, m->id);
	if (m->flags & QUEUE_MSG_INTD) {
		if (m->intdfd >= 0)
			queue_sys.ftruncate(m->intdfd, 0);
		queue_sys.unlinkat(q->intdfd, id, 0);
	}
	if (m->flags & QUEUE_MSG_MESS) {
		queue_sys.ftruncate(m->fd, 0);
		queue_sys.unlinkat(queue_mess_fd(q, m->id), id, 0);
	}
	if (m->flags & QUEUE_MSG_PID)
		queue_sys.unlinkat(q->pidfd, m->pidname, 0);
	if (m->intdfd >= 0)
		close(m->intdfd);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = m->intdfd = -1;
	m->flags = 0;
	errno = saved;
}

void queue_trigger(struct queue *q)
{
	int fd = openat(q->lockfd, "trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0) {
		(void)!write(fd, "", 1);
		close(fd);
	}
}

int queue_sync_parse(const char *s, enum queue_sync *out)
{
	if (!strcmp(s, "full"))
		*out = QUEUE_SYNC_FULL;
	else if (!strcmp(s, "data"))
		*out = QUEUE_SYNC_DATA;
	else if (!strcmp(s, "none"))
		*out = QUEUE_SYNC_NONE;
	else if (!strcmp(s, "fs"))
		*out = QUEUE_SYNC_FS;
	else
		return -1;
	return 0;
}

/*
 * One round of fsyncs: every fd once, issued together (queue_fsync_all), with
 * each message remembering which entries it depends on.
 */
#define ROUND_MAX 1024

struct round {
	int fd[ROUND_MAX];
	int err[ROUND_MAX];
	size_t n;
};

/* round_add - index of fd in the round, added once; -1 when full */
static int round_add(struct round *r, int fd, int dedupe)
{
	size_t i;

	if (dedupe)
		for (i = 0; i < r->n; i++)
			if (r->fd[i] == fd)
				return (int)i;
	if (r->n == ROUND_MAX)
		return -1;
	r->fd[r->n] = fd;
	return (int)r->n++;
}

enum { F_MESS, F_INTD, D_MESS, D_INTD, D_PID, NIDX };
#define SYNCFS_MAX 64		/* filesystems per round; more are synced at once */

/* The step this thread began and has not ended (queue_step_begin/end). */
static __thread struct {
	struct round rd;	/* 8 KiB: off the stack */
	int (*idx)[NIDX];	/* prep[i]'s entries in rd */
	int *tidx;		/* link[i]'s todo/ entry in rd */
	struct queue_msg **prep, **link;
	size_t np, nl;
	enum queue_sync mode;
	int sfd[SYNCFS_MAX], serr[SYNCFS_MAX];	/* QUEUE_SYNC_FS: one fd per filesystem */
	size_t ns;
	int serr_more;		/* filesystems beyond sfd[]: synced at once */
	int open;		/* begun, not yet ended */
} st;

/*
 * syncfs_start - QUEUE_SYNC_FS: one syncfs() per filesystem instead of an
 * fsync per file and directory.  It makes durable everything dirty on the
 * filesystem, ours included, with the writes merged into few requests: the
 * fewest I/O requests for a queue on a filesystem of its own, and a needless
 * cost where other programs dirty much data on the same one.  A failure is
 * every entry's failure (syncfs_end).
 */
static void syncfs_start(void (*done)(void *), void *arg)
{
	dev_t devs[SYNCFS_MAX];
	size_t i, j;

	for (i = 0; i < st.np + st.nl; i++) {
		struct queue_msg *m = i < st.np ? st.prep[i] : st.link[i - st.np];
		struct stat sb;

		if (!m->q || (i < st.np ? m->err.status != QUEUE_OK : !(m->flags & QUEUE_MSG_TODO)) ||
		    fstat(m->q->dirfd, &sb) < 0)
			continue;
		for (j = 0; j < st.ns && devs[j] != sb.st_dev; j++)
			;
		if (j < st.ns)
			continue;
		if (st.ns == sizeof devs / sizeof devs[0]) {
			if (queue_sys.syncfs(m->q->dirfd) < 0)
				st.serr_more = errno;
			continue;
		}
		devs[st.ns] = sb.st_dev;
		st.sfd[st.ns++] = m->q->dirfd;
	}
	queue_fsync_start(st.sfd, st.ns, st.serr, 1, done, arg);
}

static void syncfs_end(void)
{
	size_t i;
	int err = st.serr_more;

	queue_fsync_wait();
	for (i = 0; i < st.ns; i++)
		if (st.serr[i])
			err = st.serr[i];
	for (i = 0; i < st.rd.n; i++)
		st.rd.err[i] = err;
}

static void fail(struct queue_msg *m, enum queue_status status, int err, const char *what)
{
	queue_errset(&m->err, status, err, "cannot %s %s for message %lu", what, m->q->path,
		     (unsigned long)m->id);
	queue_msg_abort(m);
}

/*
 * queue_step_begin - the first half of one round of the pipelined group
 *	commit.  link: messages prepared by an earlier step get their todo/
 *	link (the commit point).  Then the round of fsyncs is started on the
 *	helper threads: the todo/ directories of those and, for prep, the mess
 *	and intd files and their mess/<n>, intd/ and pid/ directories.
 * queue_step_end - waits for the round.  Linked messages are then finished
 *	(trigger once per queue, marker removed); prep messages are
 *	QUEUE_MSG_SYNCED, ready to be linked by the next step.  Returns the
 *	number of linked messages committed without error.
 *	Between the two the caller may write the next batch's files: they are
 *	not part of this round.  Under load each round's single journal commit
 *	serves two batches.
 */
void queue_step_begin(struct queue_msg **prep, size_t np, struct queue_msg **link, size_t nl,
		      enum queue_sync mode, void (*done)(void *), void *arg)
{
	size_t i;
	int k;

	if (st.open) {		/* its state would be overwritten */
		fprintf(stderr, "queue_step_begin: a step is already open on this thread\n");
		abort();
	}
	st.open = 1;
	st.rd.n = 0;
	st.prep = prep;
	st.np = np;
	st.link = link;
	st.nl = nl;
	st.mode = mode;
	st.idx = NULL;
	st.tidx = NULL;
	st.ns = 0;
	st.serr_more = 0;
	if ((np && !(st.idx = malloc(np * sizeof *st.idx))) ||
	    (nl && !(st.tidx = malloc(nl * sizeof *st.tidx)))) {
		free(st.idx);
		st.idx = NULL;
		for (i = 0; i < np; i++)
			fail(prep[i], QUEUE_ENOMEM, ENOMEM, "commit (no memory)");
		for (i = 0; i < nl; i++)
			fail(link[i], QUEUE_ENOMEM, ENOMEM, "commit (no memory)");
		st.np = st.nl = 0;
		queue_fsync_start(st.rd.fd, 0, st.rd.err, 0, done, arg);	/* an empty round */
		return;
	}
	for (i = 0; i < nl; i++) {
		struct queue_msg *m = link[i];
		char id[24];

		st.tidx[i] = -1;
		if (m->err.status != QUEUE_OK)
			continue;
		if (!(m->flags & QUEUE_MSG_SYNCED)) {	/* caller's bug: never link unsynced data */
			fail(m, QUEUE_EWRITE, EINVAL, "link an unsynced message in");
			continue;
		}
		queue_fmt_id(id, m->id);
		if (queue_sys.linkat(m->q->intdfd, id, m->q->todofd, id, 0) < 0) {
			queue_errset(&m->err, QUEUE_ETODO, errno, "cannot link %s/todo/%s",
				     m->q->path, id);
			queue_msg_abort(m);
			continue;
		}
		m->flags |= QUEUE_MSG_TODO;
		if (mode == QUEUE_SYNC_FULL || mode == QUEUE_SYNC_FS)
			st.tidx[i] = round_add(&st.rd, m->q->todofd, 1);
	}
	/* Start writeback of every file first: their blocks are then allocated
	 * in one journal transaction that the round's first fsync commits. */
	for (i = 0; i < np && np > 1 && mode != QUEUE_SYNC_NONE && mode != QUEUE_SYNC_FS; i++) {
		sync_file_range(prep[i]->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		sync_file_range(prep[i]->intdfd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	for (i = 0; i < np; i++) {
		struct queue_msg *m = prep[i];

		m->err.status = QUEUE_OK;
		for (k = 0; k < NIDX; k++)
			st.idx[i][k] = -1;
		if (mode == QUEUE_SYNC_NONE)
			continue;
		st.idx[i][F_MESS] = round_add(&st.rd, m->fd, 0);
		st.idx[i][F_INTD] = round_add(&st.rd, m->intdfd, 0);
		if (mode == QUEUE_SYNC_FULL || mode == QUEUE_SYNC_FS) {
			st.idx[i][D_MESS] = round_add(&st.rd, queue_mess_fd(m->q, m->id), 1);
			st.idx[i][D_INTD] = round_add(&st.rd, m->q->intdfd, 1);
			st.idx[i][D_PID] = round_add(&st.rd, m->q->pidfd, 1);
		}
		for (k = 0; k < NIDX; k++)
			if (st.idx[i][k] < 0 && (k < D_MESS || mode != QUEUE_SYNC_DATA)) {
				fail(m, QUEUE_EWRITE, E2BIG, "commit (batch too large)");
				break;
			}
	}
	if (mode == QUEUE_SYNC_FS)
		syncfs_start(done, arg);
	else
		queue_fsync_start(st.rd.fd, st.rd.n, st.rd.err, 0, done, arg);
}

size_t queue_step_end(int keep_fd)
{
	struct queue *queues[256];
	size_t i, nq = 0, done = 0;
	int k;

	st.open = 0;
	if (st.mode == QUEUE_SYNC_FS)
		syncfs_end();
	else
		queue_fsync_wait();
	for (i = 0; i < st.np; i++) {
		struct queue_msg *m = st.prep[i];
		static const char *const what[NIDX] = {
			"fsync mess file in", "fsync intd file in", "fsync mess directory of",
			"fsync intd directory of", "fsync pid directory of",
		};

		if (m->err.status != QUEUE_OK)
			continue;
		for (k = 0; k < NIDX; k++)
			if (st.idx[i][k] >= 0 && st.rd.err[st.idx[i][k]]) {
				fail(m, QUEUE_EWRITE, st.rd.err[st.idx[i][k]], what[k]);
				break;
			}
		if (k == NIDX)
			m->flags |= QUEUE_MSG_SYNCED;
	}
	for (i = 0; i < st.nl; i++) {
		struct queue_msg *m = st.link[i];
		size_t j;

		if (!(m->flags & QUEUE_MSG_TODO))
			continue;
		for (j = 0; j < nq && queues[j] != m->q; j++)
			;
		if (j == nq && nq < sizeof queues / sizeof queues[0])
			queues[nq++] = m->q;
	}
	for (i = 0; i < nq; i++)
		queue_trigger(queues[i]);
	for (i = 0; i < st.nl; i++) {
		struct queue_msg *m = st.link[i];

		if (!(m->flags & QUEUE_MSG_TODO))
			continue;
		if (st.tidx[i] >= 0 && st.rd.err[st.tidx[i]])
			queue_errset(&m->err, QUEUE_EWRITE, st.rd.err[st.tidx[i]],
				     "committed %s/todo/%lu but cannot fsync todo/", m->q->path,
				     (unsigned long)m->id);
		else
			done++;
		queue_sys.unlinkat(m->q->pidfd, m->pidname, 0);
		m->flags &= ~QUEUE_MSG_PID;
		close(m->intdfd);
		m->intdfd = -1;
		if (!keep_fd) {
			close(m->fd);
			m->fd = -1;
		}
	}
	free(st.idx);
	free(st.tidx);
	st.idx = NULL;
	st.tidx = NULL;
	st.np = st.nl = 0;
	return done;
}

size_t queue_commit_step(struct queue_msg **prep, size_t np, struct queue_msg **link, size_t nl,
			 enum queue_sync mode, int keep_fd)
{
	queue_step_begin(prep, np, link, nl, mode, NULL, NULL);
	return queue_step_end(keep_fd);
}

/*
 * queue_commit - commit a batch with two steps: data and directories of all,
 *	then all todo/ links and the todo/ directories.  A message whose todo/
 *	fsync fails is already visible to qmail-send: it stays, and its error
 *	tells the caller to answer "temporary" (a possible duplicate, never a
 *	loss).
 */
size_t queue_commit(struct queue_msg **v, size_t n, enum queue_sync mode, int keep_fd)
{
	queue_commit_step(v, n, NULL, 0, mode, keep_fd);
	return queue_commit_step(NULL, 0, v, n, mode, keep_fd);
}
