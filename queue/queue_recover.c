/*
 * queue_recover.c - remove what dead writers of ours left behind.
 *
 *	queue_recover() walks pid/ for markers of ours ("<pid>.<time>.<seq>.r"
 *	or ".c"; stock qmail-queue's names have no suffix and are left to
 *	qmail-clean).  A marker whose flock() is held belongs to a live writer
 *	and is skipped.  For the others, with id = the marker's inode:
 *
 *	  ".r"                         intd/ may exist, todo/ never linked:
 *	                               remove intd/<id>, mess/<id>, marker
 *	  ".c" and todo/<id>           committed: remove the marker
 *	  ".c", no todo/, intd/<id>    not committed: remove intd, mess, marker
 *	  ".c", no todo/, no intd/     qmail-send took it (qmail-clean removes
 *	                               intd/ before todo/): remove the marker
 *
 *	A marker of a message moved to another queue (queue_msg_move), whose
 *	inode has more names than the marker and this queue's mess/<id>,
 *	counts as kept: this queue's names are removed, the message is the
 *	other queue's.
 *
 *	The ".r" -> ".c" rename happens after intd/ is created, and pid/ is
 *	fsynced before any todo link, so a ".r" marker proves there is no
 *	todo/ link.  mess/<id> is removed only when it is the marker's inode.
 *
 * DIAGNOSTICS
 *	QUEUE_EHOME when pid/ cannot be listed; single entries that cannot be
 *	handled are skipped (and stay for the next start or qmail-clean).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "queue_int.h"

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return n > k && !memcmp(s + n - k, suf, k);
}

static int exists_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* mess_is - mess/<id> of this queue is inode ino */
static int mess_is(const struct queue *q, const char *id, ino_t ino)
{
	struct stat st;

	return fstatat(queue_mess_fd(q, ino), id, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == ino;
}

/* remove_whole - intd, then mess if it is this inode, then the marker */
static void remove_whole(struct queue *q, const char *marker, ino_t ino)
{
	struct stat st;
	char id[24];
	int mfd = queue_mess_fd(q, ino);

	queue_fmt_id(id, ino);
	queue_sys.unlinkat(q->intdfd, id, 0);
	if (fstatat(mfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == ino)
		queue_sys.unlinkat(mfd, id, 0);
	queue_sys.unlinkat(q->pidfd, marker, 0);
}

enum queue_status queue_recover(struct queue *q, unsigned *kept, unsigned *removed,
				struct queue_err *e)
{
	unsigned nkept = 0, nremoved = 0;
	struct dirent *d;
	DIR *dir;
	int dfd = dup(q->pidfd);

	if (dfd < 0 || !(dir = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return queue_errset(e, QUEUE_EHOME, errno, "cannot list %s/pid", q->path);
	}
	rewinddir(dir);
	while ((d = readdir(dir))) {
		struct stat st, st2;
		char id[24];
		int recv, fd;

		recv = has_suffix(d->d_name, QUEUE_MARK_RECV);
		if (!recv && !has_suffix(d->d_name, QUEUE_MARK_COMMIT))
			continue;
		fd = openat(q->pidfd, d->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 ||
		    fstatat(q->pidfd, d->d_name, &st2, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_ino != st2.st_ino || !S_ISREG(st.st_mode)) {
			close(fd);	/* live writer, or gone meanwhile */
			continue;
		}
		queue_fmt_id(id, st.st_ino);
		if (!recv && exists_at(q->todofd, id)) {
			queue_sys.unlinkat(q->pidfd, d->d_name, 0);
			nkept++;
		} else if (recv || exists_at(q->intdfd, id)) {
			/* a message moved to another queue (queue_msg_move) has
			 * names there too, or none left here but the marker:
			 * only this queue's names go, and no message is lost */
			int elsewhere = st.st_nlink > 1 + (nlink_t)mess_is(q, id, st.st_ino);

			remove_whole(q, d->d_name, st.st_ino);
			if (elsewhere)
				nkept++;
			else
				nremoved++;
		} else {
			queue_sys.unlinkat(q->pidfd, d->d_name, 0);
			nkept++;
		}
		close(fd);
	}
	closedir(dir);
	if (kept)
		*kept = nkept;
	if (removed)
		*removed = nremoved;
	if (nremoved && queue_sys.fsync(q->pidfd) < 0)
		return queue_errset(e, QUEUE_EWRITE, errno, "cannot fsync %s/pid", q->path);
	return QUEUE_OK;
}
