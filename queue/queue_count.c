/*
 * queue_count.c - count messages the way qmail-qstat does, fast.
 *
 *	queue_count() counts the files under mess/ (every split subdirectory
 *	found, whatever the split), todo/ and intd/ of one queue tree: the
 *	messages in the queue, those not yet preprocessed by qmail-send, and
 *	those half-queued.  queue_backlog() is todo + intd of an open queue,
 *	for queue choice.
 *
 *	Both read directories only: the entry type comes from readdir()'s
 *	d_type, and a file is stat'ed only on file systems that leave d_type
 *	DT_UNKNOWN.  100,000 messages are a few thousand getdents() calls.
 *	A directory found in todo/ or intd/ is counted into as well, for
 *	IndiMail's BIGTODO queues, which split those two like mess/.
 *	Counts are a snapshot: qmail-send and writers change the tree while
 *	it is read, so an entry that vanishes meanwhile is simply not counted.
 *
 * DIAGNOSTICS
 *	queue_count(): QUEUE_EHOME when the queue directory cannot be opened,
 *	QUEUE_ELAYOUT when one of its directories cannot be listed.
 *	queue_backlog() has no errors: a directory it cannot list counts 0.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

/*
 * count_fd - add the non-directory entries of the directory open on fd to
 *	*n, and those of its subdirectories while depth > 0.  Takes fd over.
 *	On failure returns -1 with errno and the failing subdirectory (empty:
 *	fd itself) in bad.
 */
static int count_fd(int fd, int depth, unsigned long *n, char *bad, size_t badlen)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	int e_no;

	if (!d) {
		e_no = errno;
		close(fd);
		errno = e_no;
		return -1;
	}
	for (;;) {
		unsigned char type;

		errno = 0;
		if (!(e = readdir(d)))
			break;
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		type = e->d_type;
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == ENOENT)
					continue;
				goto bad_entry;
			}
			type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
		}
		if (type != DT_DIR) {
			++*n;
			continue;
		}
		if (depth > 0) {
			int sub = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0) {
				if (errno == ENOENT)
					continue;
				goto bad_entry;
			}
			if (count_fd(sub, depth - 1, n, NULL, 0) < 0)
				goto bad_entry;
		}
	}
	e_no = errno;
	closedir(d);
	if (e_no) {
		if (bad)
			*bad = 0;
		errno = e_no;
		return -1;
	}
	if (bad)
		*bad = 0;
	return 0;
bad_entry:
	e_no = errno;
	if (bad)
		snprintf(bad, badlen, "/%s", e->d_name);
	closedir(d);
	errno = e_no;
	return -1;
}

enum queue_status queue_count(const char *path, struct queue_counts *c, struct queue_err *err)
{
	static const struct {
		const char *name;
		size_t off;
	} dirs[] = {
		{ "mess", offsetof(struct queue_counts, mess) },
		{ "todo", offsetof(struct queue_counts, todo) },
		{ "intd", offsetof(struct queue_counts, intd) },
	};
	char bad[NAME_MAX + 2];
	unsigned i;
	int top;

	memset(c, 0, sizeof *c);
	top = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return queue_errset(err, QUEUE_EHOME, errno, "cannot open %s", path);
	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		unsigned long *n = (unsigned long *)((char *)c + dirs[i].off);
		int fd = openat(top, dirs[i].name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		bad[0] = 0;
		if (fd < 0 || count_fd(fd, 1, n, bad, sizeof bad) < 0) {
			int e = errno;

			close(top);
			return queue_errset(err, QUEUE_ELAYOUT, e, "cannot list %s/%s%s", path,
					    dirs[i].name, bad);
		}
	}
	close(top);
	return QUEUE_OK;
}

/*
 * backlog_of - entries of one directory of an open queue.  A fresh open of
 *	"." gives a file offset of our own: a dup() would share the offset of
 *	the queue's fd, and listing through it would move that offset under
 *	whoever else uses the fd, from any thread.
 */
static unsigned long backlog_of(int dirfd)
{
	unsigned long n = 0;
	int fd;

	if (dirfd < 0)
		return 0;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || count_fd(fd, 1, &n, NULL, 0) < 0)
		return 0;
	return n;
}

unsigned long queue_backlog(struct queue *q)
{
	return backlog_of(q->todofd) + backlog_of(q->intdfd);
}
