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
 * the new file first wins, and we simply try another name. */
static int marker_create(struct queue *q, struct queue_msg *m, struct queue_err *e)
{
	int i;

	for (i = 0; i < MARKER_TRIES; i++) {
		int fd;

		marker_name(q, m->pidname, sizeof m->pidname, QUEUE_MARK_RECV);
		fd = queue_sys.openat(q->pidfd, m->pidname,
				      O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			break;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
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
	else
		return -1;
	return 0;
}

/*
 * A batch touches few distinct directories: a small set of fds, each synced
 * once.  The set is bounded by the caller's batch size.
 */
struct dirset {
	int fd[256];
	size_t n;
};

static int dirset_add(struct dirset *s, int fd)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->fd[i] == fd)
			return 0;
	if (s->n == sizeof s->fd / sizeof s->fd[0])
		return -1;
	s->fd[s->n++] = fd;
	return 0;
}

static int dirset_has(const struct dirset *s, int fd)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->fd[i] == fd)
			return 1;
	return 0;
}

/* sync_dirs - fsync each directory once; failed ones are added to *bad */
static void sync_dirs(const struct dirset *s, struct dirset *bad, int *bad_errno)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (queue_sys.fsync(s->fd[i]) < 0) {
			*bad_errno = errno;
			dirset_add(bad, s->fd[i]);
		}
}

static void fail(struct queue_msg *m, enum queue_status st, int err, const char *what)
{
	queue_errset(&m->err, st, err, "cannot %s %s for message %lu", what, m->q->path,
		     (unsigned long)m->id);
	queue_msg_abort(m);
}

/* msg_dirs - the directories a message's durability depends on before commit */
static void msg_dirs(const struct queue_msg *m, int fds[3])
{
	fds[0] = queue_mess_fd(m->q, m->id);
	fds[1] = m->q->intdfd;
	fds[2] = m->q->pidfd;
}

/*
 * queue_commit - one round of fsyncs for the whole batch:
 *	1. fsync every mess and intd file (data);
 *	2. fsync each mess/<n>, intd/ and pid/ directory once (the links, and
 *	   the ".c" markers, are durable before any todo link exists);
 *	3. link intd/<id> to todo/<id> for each message: the commit point;
 *	4. fsync each todo/ once, then trigger each queue once;
 *	5. remove the markers (no fsync: a leftover ".c" marker whose todo/
 *	   entry exists is just removed by recovery).
 *	A message whose todo/ fsync fails is already visible to qmail-send: it
 *	stays, and its error tells the caller to answer "temporary" (a possible
 *	duplicate, never a loss).
 */
size_t queue_commit(struct queue_msg **v, size_t n, enum queue_sync mode, int keep_fd)
{
	struct dirset dirs = { .n = 0 }, bad = { .n = 0 }, todo = { .n = 0 };
	struct queue *queues[256];
	size_t i, nq = 0, done = 0;
	int bad_errno = 0, fds[3], k;

	/* Start writeback of every file first: their blocks are allocated in
	 * one journal transaction, so the first fsync commits it for all and
	 * the others find their data already on disk (one commit, not 2n). */
	for (i = 0; i < n && n > 1 && mode != QUEUE_SYNC_NONE; i++) {
		sync_file_range(v[i]->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		sync_file_range(v[i]->intdfd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	for (i = 0; i < n; i++) {
		struct queue_msg *m = v[i];

		m->err.status = QUEUE_OK;
		if (mode == QUEUE_SYNC_NONE)
			continue;
		if (queue_sys.fsync(m->fd) < 0) {
			fail(m, QUEUE_EWRITE, errno, "fsync mess file in");
			continue;
		}
		if (queue_sys.fsync(m->intdfd) < 0) {
			fail(m, QUEUE_EWRITE, errno, "fsync intd file in");
			continue;
		}
	}
	if (mode == QUEUE_SYNC_FULL) {
		for (i = 0; i < n; i++) {
			if (v[i]->err.status != QUEUE_OK)
				continue;
			msg_dirs(v[i], fds);
			for (k = 0; k < 3; k++)
				if (dirset_add(&dirs, fds[k]) < 0)
					fail(v[i], QUEUE_EWRITE, E2BIG, "batch (too many directories)");
		}
		sync_dirs(&dirs, &bad, &bad_errno);
	}
	for (i = 0; i < n; i++) {
		struct queue_msg *m = v[i];
		char id[24];

		if (m->err.status != QUEUE_OK)
			continue;
		msg_dirs(m, fds);
		if (dirset_has(&bad, fds[0]) || dirset_has(&bad, fds[1]) || dirset_has(&bad, fds[2])) {
			fail(m, QUEUE_EWRITE, bad_errno, "fsync a directory of");
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
		dirset_add(&todo, m->q->todofd);
		for (k = 0; k < (int)nq && queues[k] != m->q; k++)
			;
		if (k == (int)nq && nq < sizeof queues / sizeof queues[0])
			queues[nq++] = m->q;
	}
	bad.n = 0;
	if (mode == QUEUE_SYNC_FULL)
		sync_dirs(&todo, &bad, &bad_errno);
	for (i = 0; i < nq; i++)
		queue_trigger(queues[i]);
	for (i = 0; i < n; i++) {
		struct queue_msg *m = v[i];

		if (!(m->flags & QUEUE_MSG_TODO))
			continue;
		if (dirset_has(&bad, m->q->todofd))
			queue_errset(&m->err, QUEUE_EWRITE, bad_errno,
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
	return done;
}
