/*
 * queue_insert.c - lines inserted into a message not yet committed.
 *
 * SUMMARY
 *	queue_insert() puts len bytes at offset at of the mess file (the
 *	verdict headers go right after qmail's Received line), shifting the
 *	rest in place with pread/pwrite from the end backwards, 64 KiB at a
 *	time.  The message is not committed yet (no intd/ file), so a crash
 *	midway leaves an uncommitted message that recovery removes, never a
 *	torn committed one; the envelope is untouched.
 *
 * DIAGNOSTICS
 *	QUEUE_OK, or QUEUE_EWRITE (or QUEUE_ENOMEM) with the cause in e.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "queue.h"

#define CHUNK 65536

static int pwrite_all(int fd, const char *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static int pread_all(int fd, char *p, size_t n, off_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, p + got, n - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			errno = EIO;	/* the file is shorter than its size: an error too */
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

enum queue_status queue_insert(struct queue_msg *m, off_t at, const void *p, size_t len,
			       struct queue_err *e)
{
	off_t end = m->size;
	char *buf;

	if (!len)
		return QUEUE_OK;
	if (at > end)
		return queue_errset(e, QUEUE_EWRITE, EINVAL, "insert past the end of message %lu",
				    (unsigned long)m->id);
	if (!(buf = malloc(CHUNK)))
		return queue_errset(e, QUEUE_ENOMEM, ENOMEM, "no memory to insert into message %lu",
				    (unsigned long)m->id);
	/* move [at, end) to [at + len, end + len), last chunk first */
	while (end > at) {
		size_t n = (size_t)(end - at) < CHUNK ? (size_t)(end - at) : CHUNK;
		off_t from = end - (off_t)n;

		if (pread_all(m->fd, buf, n, from) < 0 || pwrite_all(m->fd, buf, n, from + (off_t)len) < 0) {
			free(buf);
			return queue_errset(e, QUEUE_EWRITE, errno, "cannot shift message %lu",
					    (unsigned long)m->id);
		}
		end = from;
	}
	free(buf);
	if (pwrite_all(m->fd, p, len, at) < 0)
		return queue_errset(e, QUEUE_EWRITE, errno, "cannot insert into message %lu",
				    (unsigned long)m->id);
	m->size += (off_t)len;
	return QUEUE_OK;
}
