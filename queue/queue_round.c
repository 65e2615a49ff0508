/*
 * queue_round.c - one round of the pipelined group commit, owned by its caller.
 *
 *	queue_round_init() makes a closed round.  queue_round_begin() links
 *	the todo/ entries of messages an earlier round synced (the commit
 *	point, step 5 of queue/INTERNALS.md) and starts ONE round of fsyncs,
 *	on the helper threads (queue_fsync.c), covering their todo/
 *	directories (step 6) together with the files and directories of the
 *	next batch (step 4).  queue_round_end() waits for it and finishes:
 *	triggers, pid/ markers removed, the next batch QUEUE_MSG_SYNCED.
 *
 *	Everything a round needs between its two halves is in struct
 *	queue_round: the fd table, each message's entries in it, the syncfs
 *	table and the fsync round.  The caller owns it, so two rounds never
 *	share state: a begin on an open round is refused (EBUSY), and one
 *	thread may hold several rounds open at once.  Files written between
 *	begin and end are in no fd table of the round: they are never counted
 *	as synced by it.
 *
 * DIAGNOSTICS
 *	Per message, in m->err: QUEUE_ETODO (link), QUEUE_EWRITE (an fsync of
 *	its files or directories; E2BIG past QUEUE_ROUND_FDS), QUEUE_ENOMEM.
 *	A message failing before its link is aborted (nothing left); one whose
 *	todo/ fsync failed stays committed, with the error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue_int.h"

enum { F_MESS, F_INTD, D_MESS, D_INTD, D_PID, NIDX };

void queue_round_init(struct queue_round *rd)
{
	memset(rd, 0, sizeof *rd);
}

/* fd_add - index of fd in the round's table, added once; -1 when full */
static int fd_add(struct queue_round *rd, int fd, int dedupe)
{
	size_t i;

	if (dedupe)
		for (i = 0; i < rd->nfd; i++)
			if (rd->fd[i] == fd)
				return (int)i;
	if (rd->nfd == QUEUE_ROUND_FDS)
		return -1;
	rd->fd[rd->nfd] = fd;
	return (int)rd->nfd++;
}

/*
 * syncfs_start - QUEUE_SYNC_FS: one syncfs() per filesystem instead of an
 * fsync per file and directory.  It makes durable everything dirty on the
 * filesystem, ours included, with the writes merged into few requests: the
 * fewest I/O requests for a queue on a filesystem of its own, and a needless
 * cost where other programs dirty much data on the same one.  A failure is
 * every entry's failure (syncfs_end).
 */
static void syncfs_start(struct queue_round *rd, void (*done)(void *), void *arg)
{
	size_t i, j;

	for (i = 0; i < rd->np + rd->nl; i++) {
		struct queue_msg *m = i < rd->np ? rd->prep[i] : rd->link[i - rd->np];
		struct stat sb;

		if (!m->q || (i < rd->np ? m->err.status != QUEUE_OK : !(m->flags & QUEUE_MSG_TODO)) ||
		    fstat(m->q->dirfd, &sb) < 0)
			continue;
		for (j = 0; j < rd->nfs && rd->fsdev[j] != sb.st_dev; j++)
			;
		if (j < rd->nfs)
			continue;
		if (rd->nfs == QUEUE_ROUND_FS) {
			if (queue_sys.syncfs(m->q->dirfd) < 0)
				rd->fserr_more = errno;
			continue;
		}
		rd->fsdev[rd->nfs] = sb.st_dev;
		rd->fsfd[rd->nfs++] = m->q->dirfd;
	}
	queue_fsync_start(&rd->sync, rd->fsfd, rd->nfs, rd->fserr, 1, done, arg);
}

static void syncfs_end(struct queue_round *rd)
{
	size_t i;
	int err = rd->fserr_more;

	queue_fsync_wait(&rd->sync);
	for (i = 0; i < rd->nfs; i++)
		if (rd->fserr[i])
			err = rd->fserr[i];
	for (i = 0; i < rd->nfd; i++)
		rd->err[i] = err;
}

static void fail(struct queue_msg *m, enum queue_status status, int err, const char *what)
{
	queue_errset(&m->err, status, err, "cannot %s %s for message %lu", what, m->q->path,
		     (unsigned long)m->id);
	queue_msg_abort(m);
}

int queue_round_begin(struct queue_round *rd, struct queue_msg **prep, size_t np,
		      struct queue_msg **link, size_t nl, enum queue_sync mode,
		      void (*done)(void *), void *arg)
{
	size_t i;
	int k;

	if (rd->open) {		/* its table and its messages are another round's */
		errno = EBUSY;
		return -1;
	}
	rd->open = 1;
	rd->nfd = 0;
	rd->prep = prep;
	rd->np = np;
	rd->link = link;
	rd->nl = nl;
	rd->mode = mode;
	rd->idx = NULL;
	rd->tidx = NULL;
	rd->nfs = 0;
	rd->fserr_more = 0;
	if ((np && !(rd->idx = malloc(np * NIDX * sizeof *rd->idx))) ||
	    (nl && !(rd->tidx = malloc(nl * sizeof *rd->tidx)))) {
		free(rd->idx);
		rd->idx = NULL;
		for (i = 0; i < np; i++)
			fail(prep[i], QUEUE_ENOMEM, ENOMEM, "commit (no memory)");
		for (i = 0; i < nl; i++)
			fail(link[i], QUEUE_ENOMEM, ENOMEM, "commit (no memory)");
		rd->np = rd->nl = 0;
		queue_fsync_start(&rd->sync, rd->fd, 0, rd->err, 0, done, arg);	/* an empty round */
		return 0;
	}
	for (i = 0; i < nl; i++) {
		struct queue_msg *m = link[i];
		char id[24];

		rd->tidx[i] = -1;
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
			rd->tidx[i] = fd_add(rd, m->q->todofd, 1);
	}
	/* Start writeback of every file first: their blocks are then allocated
	 * in one journal transaction that the round's first fsync commits. */
	for (i = 0; i < np && np > 1 && mode != QUEUE_SYNC_NONE && mode != QUEUE_SYNC_FS; i++) {
		sync_file_range(prep[i]->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		sync_file_range(prep[i]->intdfd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	for (i = 0; i < np; i++) {
		struct queue_msg *m = prep[i];
		int *idx = rd->idx + i * NIDX;

		m->err.status = QUEUE_OK;
		for (k = 0; k < NIDX; k++)
			idx[k] = -1;
		if (mode == QUEUE_SYNC_NONE)
			continue;
		idx[F_MESS] = fd_add(rd, m->fd, 0);
		idx[F_INTD] = fd_add(rd, m->intdfd, 0);
		if (mode == QUEUE_SYNC_FULL || mode == QUEUE_SYNC_FS) {
			idx[D_MESS] = fd_add(rd, queue_mess_fd(m->q, m->id), 1);
			idx[D_INTD] = fd_add(rd, m->q->intdfd, 1);
			idx[D_PID] = fd_add(rd, m->q->pidfd, 1);
		}
		for (k = 0; k < NIDX; k++)
			if (idx[k] < 0 && (k < D_MESS || mode != QUEUE_SYNC_DATA)) {
				fail(m, QUEUE_EWRITE, E2BIG, "commit (batch too large)");
				break;
			}
	}
	if (mode == QUEUE_SYNC_FS)
		syncfs_start(rd, done, arg);
	else
		queue_fsync_start(&rd->sync, rd->fd, rd->nfd, rd->err, 0, done, arg);
	return 0;
}

size_t queue_round_end(struct queue_round *rd, int keep_fd)
{
	struct queue *queues[256];
	size_t i, nq = 0, done = 0;
	int k;

	if (!rd->open)
		return 0;
	if (rd->mode == QUEUE_SYNC_FS)
		syncfs_end(rd);
	else
		queue_fsync_wait(&rd->sync);
	for (i = 0; i < rd->np; i++) {
		struct queue_msg *m = rd->prep[i];
		const int *idx = rd->idx + i * NIDX;
		static const char *const what[NIDX] = {
			"fsync mess file in", "fsync intd file in", "fsync mess directory of",
			"fsync intd directory of", "fsync pid directory of",
		};

		if (m->err.status != QUEUE_OK)
			continue;
		for (k = 0; k < NIDX; k++)
			if (idx[k] >= 0 && rd->err[idx[k]]) {
				fail(m, QUEUE_EWRITE, rd->err[idx[k]], what[k]);
				break;
			}
		if (k == NIDX)
			m->flags |= QUEUE_MSG_SYNCED;
	}
	for (i = 0; i < rd->nl; i++) {
		struct queue_msg *m = rd->link[i];
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
	for (i = 0; i < rd->nl; i++) {
		struct queue_msg *m = rd->link[i];

		if (!(m->flags & QUEUE_MSG_TODO))
			continue;
		if (rd->tidx[i] >= 0 && rd->err[rd->tidx[i]])
			queue_errset(&m->err, QUEUE_EWRITE, rd->err[rd->tidx[i]],
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
	free(rd->idx);
	free(rd->tidx);
	rd->idx = NULL;
	rd->tidx = NULL;
	rd->np = rd->nl = 0;
	rd->prep = rd->link = NULL;
	rd->open = 0;
	return done;
}
