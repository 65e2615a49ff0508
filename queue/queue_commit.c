/*
 * queue_commit.c - crash-safe write and commit of messages, in batches.
 *
 *	queue_msg_begin() creates the pid/ marker exclusively, locks it with
 *	flock() (a live writer's marker is never recovered), and links it to
 *	mess/<id % split>/<id>; the marker's inode number is the message id.
 *	queue_msg_write() appends to the mess file.  queue_msg_intd() creates
 *	intd/<id> with the envelope and renames the marker from ".r" to ".c".
 *	queue_commit() commits a batch with two rounds of fsyncs (data and
 *	directories, then the todo/ links and todo/ directories);
 *	queue_commit_step() is one round of the pipeline, on a round of its
 *	own (queue_round.c holds the round itself).
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
