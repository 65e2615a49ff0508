/*
 * queue_commit.c - crash-safe write and commit of messages, in batches.
 *
 *	queue_msg_begin() creates the pid/ marker exclusively, locks it with
 *	flock() (a live writer's marker is never recovered), and links it to
 *	mess/<id % split>/<id>; the marker's inode number is the message id.
 *	Per message that is openat, flock, fstat, linkat (and fchmod only
 *	when the umask took bits off 0644).
 *	queue_msg_write() appends to the mess file.  queue_msg_intd() creates
 *	intd/<id> with the envelope and renames the marker from ".r" to ".c".
 *	queue_commit() commits a batch with two rounds of fsyncs (data and
 *	directories, then the todo/ links and todo/ directories);
 *	queue_commit_step() is one round of the pipeline, on a round of its
 *	own (queue_round.c holds the round itself).
 *	queue_msg_move() takes a message being written into another queue
 *	(a policy's queue=).
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

	snprintf(buf, len, "%ld.%ld.%lu%s", __atomic_load_n(&q->pid, __ATOMIC_RELAXED),
		 (long)time(NULL), seq, suffix);
}

/* marker_gone - linkat() of the marker said ENOENT: 1 if it is the marker's
 * name that is gone (a recovery took it), 0 if mess/<n> is the problem */
static int marker_gone(const struct queue *q, const char *name)
{
	struct stat st;

	return fstatat(q->pidfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
}

/*
 * begin_once - one try: exclusive create + flock + link to mess/<n>/<id>.
 *	Returns QUEUE_OK; QUEUE_EBUSY to try again under another name (the
 *	name exists, or a concurrent recovery locked the fresh marker first:
 *	while it holds the lock our flock() fails, and once it has removed the
 *	name our linkat() by that name finds nothing — the name is only ever
 *	ours, so linking it proves it still is this inode); else the error.
 */
static enum queue_status begin_once(struct queue *q, struct queue_msg *m, struct queue_err *e)
{
	struct stat st;
	char id[24];

	marker_name(q, m->pidname, sizeof m->pidname, QUEUE_MARK_RECV);
	m->fd = queue_sys.openat(q->pidfd, m->pidname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (m->fd < 0) {
		if (errno != EEXIST)
			return queue_errset(e, QUEUE_EPID, errno, "cannot create %s/pid/%s", q->path,
					    m->pidname);
		/* a process forked from the one that opened the queue shares
		 * its names: take our own pid for the next ones */
		__atomic_store_n(&q->pid, (long)getpid(), __ATOMIC_RELAXED);
		return QUEUE_EBUSY;
	}
	m->flags = QUEUE_MSG_PID;
	if (flock(m->fd, LOCK_EX | LOCK_NB) < 0) {
		close(m->fd);	/* a recovery holds it: it removes the marker */
		m->fd = -1;
		m->flags = 0;
		return QUEUE_EBUSY;
	}
	if (queue_sys.fstat(m->fd, &st) < 0) {
		queue_errset(e, QUEUE_EPID, errno, "cannot stat %s/pid/%s", q->path, m->pidname);
		queue_msg_abort(m);
		return QUEUE_EPID;
	}
	m->id = st.st_ino;
	/* qmail-remote runs as qmailr and must read the file: 0644 whatever
	 * umask; one that takes bits off here does so for intd/ too */
	if ((st.st_mode & 07777) != 0644) {
		m->umasked = 1;
		if (fchmod(m->fd, 0644) < 0) {
			queue_errset(e, QUEUE_EPID, errno, "cannot chmod %s/pid/%s", q->path,
				     m->pidname);
			queue_msg_abort(m);
			return QUEUE_EPID;
		}
	}
	queue_fmt_id(id, m->id);
	if (queue_sys.linkat(q->pidfd, m->pidname, queue_mess_fd(q, m->id), id, 0) < 0) {
		int err = errno;

		if (err == ENOENT && marker_gone(q, m->pidname)) {
			close(m->fd);	/* a recovery removed it: nothing else is ours */
			m->fd = -1;
			m->flags = 0;
			return QUEUE_EBUSY;
		}
		queue_errset(e, QUEUE_EMESS, err, "cannot link %s/mess/%lu/%s", q->path,
			     (unsigned long)m->id % q->split, id);
		queue_msg_abort(m);
		return QUEUE_EMESS;
	}
	m->flags |= QUEUE_MSG_MESS;
	return QUEUE_OK;
}

enum queue_status queue_msg_begin(struct queue *q, struct queue_msg *m, struct queue_err *e)
{
	enum queue_status st = QUEUE_EBUSY;
	int i;

	memset(m, 0, sizeof *m);
	m->q = q;
	m->fd = m->intdfd = -1;
	for (i = 0; i < MARKER_TRIES && st == QUEUE_EBUSY; i++)
		st = begin_once(q, m, e);
	if (st == QUEUE_EBUSY)	/* errno: the last try's */
		st = queue_errset(e, QUEUE_EPID, errno, "cannot create %s/pid/%s", q->path,
				  m->pidname);
	return st;
}

/* move_copy - across filesystems: a new message in to, the bytes copied */
static enum queue_status move_copy(struct queue_msg *m, struct queue *to, struct queue_err *e)
{
	struct queue_msg n;
	char buf[65536];
	off_t off = 0;
	enum queue_status st;

	if ((st = queue_msg_begin(to, &n, e)) != QUEUE_OK)
		return st;
	while (off < m->size) {
		size_t want = m->size - off < (off_t)sizeof buf ? (size_t)(m->size - off) : sizeof buf;

		if (queue_pread_full(m->fd, buf, want, off) < 0) {
			st = queue_errset(e, QUEUE_EREAD, errno, "cannot read %s/mess/%lu/%lu to move it",
					  m->q->path, (unsigned long)m->id % m->q->split, (unsigned long)m->id);
			queue_msg_abort(&n);
			return st;
		}
		if ((st = queue_msg_write(&n, buf, want, e)) != QUEUE_OK) {
			queue_msg_abort(&n);
			return st;
		}
		off += (off_t)want;
	}
	queue_msg_abort(m);
	*m = n;
	return QUEUE_OK;
}

/*
 * queue_msg_move - a message begun and written, before queue_msg_intd(),
 *	into queue to.  On the same filesystem its inode takes to's names
 *	(a marker, then mess/) before it loses the old ones (mess/, then the
 *	marker): the id, the fd and the marker's lock stay, and at every
 *	moment each name in either queue has its marker (a crash leaves it
 *	to both queues' recovery).  Across filesystems (EXDEV) the bytes are
 *	copied into a new message of to (a new id).  On failure m is in its
 *	old queue as it was.
 */
enum queue_status queue_msg_move(struct queue_msg *m, struct queue *to, struct queue_err *e)
{
	struct queue *from = m->q;
	char id[24], name[sizeof m->pidname];
	int i, err;

	if (to == from)
		return QUEUE_OK;
	if (!(m->flags & QUEUE_MSG_MESS) || (m->flags & (QUEUE_MSG_INTD | QUEUE_MSG_TODO)))
		return queue_errset(e, QUEUE_ECONFIG, EINVAL, "cannot move %s/mess/%lu/%lu: "
				    "not a message being written", from->path,
				    (unsigned long)m->id % from->split, (unsigned long)m->id);
	queue_fmt_id(id, m->id);
	for (i = 0; i < MARKER_TRIES; i++) {
		marker_name(to, name, sizeof name, QUEUE_MARK_RECV);
		if (queue_sys.linkat(from->pidfd, m->pidname, to->pidfd, name, 0) == 0)
			break;
		if (errno == EXDEV)
			return move_copy(m, to, e);
		if (errno != EEXIST)
			return queue_errset(e, QUEUE_EPID, errno, "cannot link %s/pid/%s", to->path,
					    name);
	}
	if (i == MARKER_TRIES)
		return queue_errset(e, QUEUE_EPID, EEXIST, "cannot link %s/pid/%s", to->path, name);
	if (queue_sys.linkat(queue_mess_fd(from, m->id), id, queue_mess_fd(to, m->id), id, 0) < 0) {
		err = errno;
		queue_sys.unlinkat(to->pidfd, name, 0);
		return queue_errset(e, QUEUE_EMESS, err, "cannot link %s/mess/%lu/%s", to->path,
				    (unsigned long)m->id % to->split, id);
	}
	if (queue_sys.unlinkat(queue_mess_fd(from, m->id), id, 0) < 0) {
		err = errno;
		queue_sys.unlinkat(queue_mess_fd(to, m->id), id, 0);
		queue_sys.unlinkat(to->pidfd, name, 0);
		return queue_errset(e, QUEUE_EMESS, err, "cannot unlink %s/mess/%lu/%s", from->path,
				    (unsigned long)m->id % from->split, id);
	}
	/* a marker left behind names no file of its queue: its recovery
	 * only removes the marker */
	queue_sys.unlinkat(from->pidfd, m->pidname, 0);
	memcpy(m->pidname, name, sizeof name);
	m->q = to;
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
	 * caller's umask, as stock qmail-queue's umask(033) makes it; the mess
	 * file's creation showed whether the umask takes any of those bits */
	if (m->umasked && fchmod(m->intdfd, 0644) < 0)
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

size_t queue_commit_step(struct queue_msg **prep, size_t np, struct queue_msg **link, size_t nl,
			 enum queue_sync mode, int keep_fd)
{
	struct queue_round rd;	/* about 9 KiB: callers run on full-size stacks */

	queue_round_init(&rd);
	queue_round_begin(&rd, prep, np, link, nl, mode, NULL, NULL);	/* closed: cannot fail */
	return queue_round_end(&rd, keep_fd);
}

/*
 * queue_commit - commit a batch with two rounds: data and directories of
 *	all, then all todo/ links and the todo/ directories.  A message whose
 *	todo/ fsync fails is already visible to qmail-send: it stays, and its
 *	error tells the caller to answer "temporary" (a possible duplicate,
 *	never a loss).
 */
size_t queue_commit(struct queue_msg **v, size_t n, enum queue_sync mode, int keep_fd)
{
	queue_commit_step(v, n, NULL, 0, mode, keep_fd);
	return queue_commit_step(NULL, 0, v, n, mode, keep_fd);
}
