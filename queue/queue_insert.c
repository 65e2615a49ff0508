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
 *	queue_insert_strip() first removes, from the header block that begins
 *	at the same offset (up to its first empty line, or the end of the file
 *	when there is none), every field whose name the caller's drop() names,
 *	with its continuation lines: one pass reads the block and notes the
 *	fields, a second moves everything after the first of them down over
 *	them (reading always ahead of writing) and ftruncate() cuts the file
 *	to its new size; then queue_insert().  The body is never read as
 *	header lines, and a message where nothing is to go is only read.
 *	queue_insert_fields() only finds those fields (byte ranges, adjacent
 *	ones joined), for a caller that sends the file elsewhere without them.
 *
 * DIAGNOSTICS
 *	QUEUE_OK, or QUEUE_EWRITE (or QUEUE_ENOMEM) with the cause in e.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "queue.h"

#define CHUNK 65536

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

		if (queue_pread_full(m->fd, buf, n, from) < 0 || queue_pwrite_full(m->fd, buf, n, from + (off_t)len) < 0) {
			free(buf);
			return queue_errset(e, QUEUE_EWRITE, errno, "cannot shift message %lu",
					    (unsigned long)m->id);
		}
		end = from;
	}
	free(buf);
	if (queue_pwrite_full(m->fd, p, len, at) < 0)
		return queue_errset(e, QUEUE_EWRITE, errno, "cannot insert into message %lu",
				    (unsigned long)m->id);
	m->size += (off_t)len;
	return QUEUE_OK;
}

/*
 * The header block's fields, read from the file in chunks: a field is its
 * first line ("name:" with optional blanks before the colon, RFC 5322's
 * obsolete form) and every continuation line (one that begins with a space
 * or a tab).  The block ends at its first empty line ("\n" or "\r\n") or at
 * the end of the file.  A line that is neither a field nor a continuation
 * ends the field before it and is kept.
 */
struct ranges {
	struct queue_range *v;
	size_t n, cap;
};

static int range_add(struct ranges *r, off_t from, off_t to)
{
	if (r->n && r->v[r->n - 1].to == from) {	/* adjacent fields: one range */
		r->v[r->n - 1].to = to;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct queue_range *v = realloc(r->v, cap * sizeof *v);

		if (!v)
			return -1;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = (struct queue_range){ from, to };
	return 0;
}

/* fields - the ranges of the fields drop() names, in the block from at of
 * the size bytes of fd (id: for the texts) */
static enum queue_status fields(int fd, off_t size, unsigned long id, off_t at, char *buf,
				int (*drop)(void *, const char *, size_t), void *arg,
				struct ranges *out, unsigned *count, struct queue_err *e)
{
	enum { LINE_START, NAME, BLANKS, CR, REST } st = LINE_START;
	char name[QUEUE_NAME_MAX];
	size_t nl = 0;
	off_t pos = at, line = at, field = -1;	/* field: start of a field to drop */

	while (pos < size) {
		size_t n = (size_t)(size - pos) < CHUNK ? (size_t)(size - pos) : CHUNK, i;

		if (queue_pread_full(fd, buf, n, pos) < 0)
			return queue_errset(e, QUEUE_EWRITE, errno, "cannot read message %lu", id);
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)buf[i];
			off_t off = pos + (off_t)i;

			switch (st) {
			case LINE_START:
				if (c == ' ' || c == '\t') {	/* a continuation: its field's */
					st = REST;
					break;
				}
				if (field >= 0) {
					if (range_add(out, field, off) < 0)
						goto nomem;
					field = -1;
				}
				line = off;
				nl = 0;
				if (c == '\n')
					return QUEUE_OK;	/* the empty line: the body follows */
				st = c == '\r' ? CR : NAME;
				if (st == NAME)
					goto name;
				break;
			case CR:
				if (c == '\n')
					return QUEUE_OK;	/* "\r\n": the empty line */
				st = REST;	/* a line that is no field */
				break;
			case NAME:
name:
				if (c == ':')
					goto colon;
				if (c == ' ' || c == '\t')
					st = BLANKS;
				else if (c > 32 && c < 127) {
					if (nl < sizeof name)
						name[nl] = (char)c;
					nl++;
				} else
					st = c == '\n' ? LINE_START : REST;	/* no field */
				break;
			case BLANKS:
				if (c == ':')
					goto colon;
				if (c != ' ' && c != '\t')
					st = c == '\n' ? LINE_START : REST;	/* no field */
				break;
colon:
				st = REST;
				if (drop(arg, name, nl < sizeof name ? nl : sizeof name)) {
					field = line;
					(*count)++;
				}
				break;
			case REST:
				if (c == '\n')
					st = LINE_START;
				break;
			}
		}
		pos += (off_t)n;
	}
	/* no empty line: the last field ends with the file */
	if (field >= 0 && range_add(out, field, size) < 0)
		goto nomem;
	return QUEUE_OK;
nomem:
	return queue_errset(e, QUEUE_ENOMEM, ENOMEM, "no memory to rewrite message %lu", id);
}

/* squeeze - move every byte outside the ranges down over them, in order
 * (the write offset never passes the read offset), and cut the file */
static enum queue_status squeeze(struct queue_msg *m, const struct ranges *r, char *buf,
				 struct queue_err *e)
{
	off_t wr = r->v[0].from;
	size_t k;

	for (k = 0; k < r->n; k++) {
		off_t rd = r->v[k].to, end = k + 1 < r->n ? r->v[k + 1].from : m->size;

		while (rd < end) {
			size_t n = (size_t)(end - rd) < CHUNK ? (size_t)(end - rd) : CHUNK;

			if (queue_pread_full(m->fd, buf, n, rd) < 0 || queue_pwrite_full(m->fd, buf, n, wr) < 0)
				return queue_errset(e, QUEUE_EWRITE, errno,
						    "cannot rewrite message %lu", (unsigned long)m->id);
			rd += (off_t)n;
			wr += (off_t)n;
		}
	}
	if (ftruncate(m->fd, wr) < 0)
		return queue_errset(e, QUEUE_EWRITE, errno, "cannot truncate message %lu",
				    (unsigned long)m->id);
	m->size = wr;
	return QUEUE_OK;
}

enum queue_status queue_insert_strip(struct queue_msg *m, off_t at, const void *p, size_t len,
				     int (*drop)(void *, const char *, size_t), void *arg,
				     unsigned *removed, struct queue_err *e)
{
	struct ranges r = { 0 };
	enum queue_status st;
	unsigned count = 0;
	char *buf;

	*removed = 0;
	if (at > m->size)
		return queue_errset(e, QUEUE_EWRITE, EINVAL, "insert past the end of message %lu",
				    (unsigned long)m->id);
	if (!(buf = malloc(CHUNK)))
		return queue_errset(e, QUEUE_ENOMEM, ENOMEM, "no memory to rewrite message %lu",
				    (unsigned long)m->id);
	st = fields(m->fd, m->size, (unsigned long)m->id, at, buf, drop, arg, &r, &count, e);
	if (st == QUEUE_OK && r.n)
		st = squeeze(m, &r, buf, e);
	free(buf);
	free(r.v);
	if (st != QUEUE_OK)
		return st;
	*removed = count;
	return queue_insert(m, at, p, len, e);
}

enum queue_status queue_insert_fields(const struct queue_msg *m, off_t at,
				      int (*drop)(void *, const char *, size_t), void *arg,
				      struct queue_range **v, size_t *n, unsigned *count,
				      struct queue_err *e)
{
	struct ranges r = { 0 };
	enum queue_status st;
	char *buf;

	*v = NULL;
	*n = 0;
	*count = 0;
	if (at > m->size)
		return queue_errset(e, QUEUE_EREAD, EINVAL, "offset past the end of message %lu",
				    (unsigned long)m->id);
	if (!(buf = malloc(CHUNK)))
		return queue_errset(e, QUEUE_ENOMEM, ENOMEM, "no memory to read message %lu",
				    (unsigned long)m->id);
	st = fields(m->fd, m->size, (unsigned long)m->id, at, buf, drop, arg, &r, count, e);
	free(buf);
	if (st != QUEUE_OK) {
		free(r.v);
		*count = 0;
		return st;
	}
	*v = r.v;
	*n = r.n;
	return QUEUE_OK;
}
