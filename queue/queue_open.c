/*
 * queue_open.c - open a queue tree for writing.
 *
 *	queue_open() opens the queue directory and the directories a writer
 *	needs (pid/ intd/ todo/ lock/ and every mess/<n>) once, so that every
 *	later operation is *at()-relative: no chdir(), many queues per process,
 *	safe from many threads.  queue_close() releases them.
 *	queue_split_default() is $CONFSPLIT when valid, else 23.
 *
 * DIAGNOSTICS
 *	QUEUE_EHOME when the tree or one of its directories cannot be opened,
 *	QUEUE_ECONFIG for a bad split, QUEUE_ENOMEM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue_int.h"

unsigned queue_split_default(void)
{
	const char *s = getenv("CONFSPLIT");
	char *end;
	unsigned long v;

	if (!s || !*s)
		return QUEUE_SPLIT_DEFAULT;
	v = strtoul(s, &end, 10);
	if (*end || v < 1 || v > QUEUE_SPLIT_MAX)
		return QUEUE_SPLIT_DEFAULT;
	return (unsigned)v;
}

static int opendirat(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

enum queue_status queue_open(struct queue *q, const char *path, unsigned split,
			     struct queue_err *e)
{
	static const struct {
		const char *name;
		size_t off;
	} dirs[] = {
		{ "pid", offsetof(struct queue, pidfd) },
		{ "intd", offsetof(struct queue, intdfd) },
		{ "todo", offsetof(struct queue, todofd) },
		{ "lock", offsetof(struct queue, lockfd) },
	};
	char name[32];
	unsigned i;

	memset(q, 0, sizeof *q);
	q->dirfd = q->pidfd = q->intdfd = q->todofd = q->lockfd = -1;
	if (split == 0)
		split = queue_split_default();
	if (split > QUEUE_SPLIT_MAX)
		return queue_errset(e, QUEUE_ECONFIG, 0, "%s: split %u out of range", path, split);
	q->split = split;
	q->pid = (long)getpid();	/* once: a name, not a check (recovery uses flock) */
	if (!(q->path = strdup(path)) || !(q->messfd = malloc(split * sizeof *q->messfd))) {
		queue_close(q);
		return queue_errset(e, QUEUE_ENOMEM, ENOMEM, "%s: cannot open queue", path);
	}
	for (i = 0; i < split; i++)
		q->messfd[i] = -1;
	if ((q->dirfd = opendirat(AT_FDCWD, path)) < 0)
		goto fail_top;
	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		int *fd = (int *)((char *)q + dirs[i].off);

		if ((*fd = opendirat(q->dirfd, dirs[i].name)) < 0) {
			snprintf(name, sizeof name, "%s", dirs[i].name);
			goto fail_sub;
		}
	}
	for (i = 0; i < split; i++) {
		snprintf(name, sizeof name, "mess/%u", i);
		if ((q->messfd[i] = opendirat(q->dirfd, name)) < 0)
			goto fail_sub;
	}
	return QUEUE_OK;

fail_top:
	queue_errset(e, QUEUE_EHOME, errno, "cannot open queue %s", path);
	queue_close(q);
	return QUEUE_EHOME;
fail_sub:
	queue_errset(e, QUEUE_EHOME, errno, "cannot open %s/%s", path, name);
	queue_close(q);
	return QUEUE_EHOME;
}

void queue_close(struct queue *q)
{
	int *fds[] = { &q->dirfd, &q->pidfd, &q->intdfd, &q->todofd, &q->lockfd };
	unsigned i;

	for (i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	if (q->messfd) {
		for (i = 0; i < q->split; i++)
			if (q->messfd[i] >= 0)
				close(q->messfd[i]);
		free(q->messfd);
		q->messfd = NULL;
	}
	free(q->path);
	q->path = NULL;
}

int queue_mess_fd(const struct queue *q, unsigned long id)
{
	return q->messfd[id % q->split];
}

char *queue_fmt_id(char *buf, unsigned long id)
{
	snprintf(buf, 24, "%lu", id);
	return buf;
}

int queue_pread_full(int fd, void *buf, size_t n, off_t off)
{
	char *p = buf;

	while (n) {
		ssize_t r = pread(fd, p, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			errno = EIO;	/* the file is shorter: an error too */
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

int queue_pwrite_full(int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;

	while (n) {
		ssize_t w = pwrite(fd, p, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0)
			errno = EIO;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

int queue_writeall(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = queue_sys.write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}
