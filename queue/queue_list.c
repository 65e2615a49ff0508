/*
 * queue_list.c - list a queue's messages as qmail-qread does.
 *
 *	queue_list() walks mess/ (every split subdirectory found), sorts the
 *	ids, and for each committed message reads what qmail-send knows of
 *	it: a message in todo/ (or todo/<split>/, IndiMail's BIGTODO) has its
 *	envelope there, u p F T records as qmail-queue wrote them; a
 *	preprocessed one has its sender in info/<s>/<id> ("F<sender>\0") and
 *	its recipients in local/<s>/<id> and remote/<s>/<id>, "T<addr>\0" not
 *	yet delivered, "D<addr>\0" done; bounce/<id> means it is bouncing.
 *	Walking mess/ rather than info/ (as qmail-qread does) also lists what
 *	qmail-send has not yet seen, and works as qmailq, to whom info/ is
 *	closed: such messages are listed HIDDEN, without sender and
 *	recipients.  Messages still being written are skipped: their mess
 *	file has a second link (sluiced's pid/ marker, qmail-queue's pid
 *	file) or they have an intd/ file and no todo/ one.
 *	queue_list_format() prints one item in qmail-qread's format:
 *	  "2 Nov 2026 02:45:04 GMT  #8201  1234  <sender@host> [ bouncing]"
 *	  "  done\tremote\tuser@host" / "\tlocal\tuser@host"
 *	with "\ttodo\t" for recipients qmail-send has not sorted yet, and "?"
 *	for the sender of a HIDDEN message.  Non-printable bytes are shown as
 *	'_', as qmail-qread does.
 *
 * DIAGNOSTICS
 *	QUEUE_EHOME when the queue cannot be opened, QUEUE_ELAYOUT when
 *	mess/ cannot be listed, QUEUE_ENOMEM.  A message that vanishes while
 *	it is read (qmail-send delivered it) is simply not listed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue_set.h"

#define LIST_FILE_MAX (16u << 20)	/* an envelope or recipient list longer is cut */

struct entry {
	unsigned long id;
	char sub[16];		/* mess/ subdirectory name */
};

static int by_id(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* number - a message file name: digits only */
static int number(const char *s, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* collect - the ids under mess/ with their subdirectory */
static int collect(int top, struct entry **out, size_t *np)
{
	int mfd = openat(top, "mess", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	DIR *md;
	struct dirent *s;

	if (mfd < 0 || !(md = fdopendir(mfd))) {
		if (mfd >= 0)
			close(mfd);
		return -1;
	}
	while ((errno = 0, s = readdir(md))) {
		unsigned long sub;
		struct dirent *e;
		DIR *sd;
		int fd;

		if (number(s->d_name, &sub) < 0 || strlen(s->d_name) >= sizeof v->sub)
			continue;
		fd = openat(dirfd(md), s->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || !(sd = fdopendir(fd))) {
			if (fd >= 0)
				close(fd);
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			goto fail;
		}
		while ((errno = 0, e = readdir(sd))) {
			unsigned long id;

			if (number(e->d_name, &id) < 0)
				continue;
			if (n == cap) {
				struct entry *nv = realloc(v, (cap = cap ? 2 * cap : 256) * sizeof *v);

				if (!nv) {
					closedir(sd);
					errno = ENOMEM;
					goto fail;
				}
				v = nv;
			}
			v[n].id = id;
			snprintf(v[n++].sub, sizeof v->sub, "%s", s->d_name);
		}
		if (errno) {
			int e_no = errno;

			closedir(sd);
			errno = e_no;
			goto fail;
		}
		closedir(sd);
	}
	if (errno)
		goto fail;
	closedir(md);
	qsort(v, n, sizeof *v, by_id);
	*out = v;
	*np = n;
	return 0;
fail:
	{
		int e_no = errno;

		closedir(md);
		free(v);
		errno = e_no;
		return -1;
	}
}

/* slurp - a small file of the queue; NULL with errno (ENOENT: not there) */
static char *slurp(int top, const char *rel, size_t *len, struct stat *st)
{
	int fd = openat(top, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (fd < 0)
		return NULL;
	if (st && fstat(fd, st) < 0)
		goto fail;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *nb;

			if (cap >= LIST_FILE_MAX)
				break;
			if (!(nb = realloc(buf, cap = cap ? 2 * cap : 1024)))
				goto fail;
			buf = nb;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	*len = n;
	return buf;
fail:
	{
		int e_no = errno;

		close(fd);
		free(buf);
		errno = e_no;
		return NULL;
	}
}

struct rcpts {
	struct queue_rcpt *v;
	size_t n, cap;
};

static int rcpt_add(struct rcpts *r, char channel, int done, const char *addr)
{
	if (r->n == r->cap) {
		struct queue_rcpt *nv = realloc(r->v, (r->cap = r->cap ? 2 * r->cap : 8) * sizeof *nv);

		if (!nv)
			return -1;
		r->v = nv;
	}
	r->v[r->n++] = (struct queue_rcpt){ channel, done, addr };
	return 0;
}

/*
 * records - walk the NUL-ended records of buf: the F record sets *sender,
 *	T (and D) records are recipients of channel.  A record cut short by
 *	the end of the file is still taken (buf ends with a NUL).
 */
static int records(char *buf, size_t len, char channel, const char **sender, struct rcpts *r)
{
	char *p = buf, *end = buf + len;

	while (p < end) {
		size_t l = strlen(p);

		if (*p == 'F' && sender)
			*sender = p + 1;
		else if ((*p == 'T' || *p == 'D') && rcpt_add(r, channel, *p == 'D', p + 1) < 0)
			return -1;
		p += l + 1;
	}
	return 0;
}

/* one - read one message and hand it on; 1 to stop, -1 out of memory */
static int one(int top, const struct entry *en, int *hidden,
	       int (*each)(void *, const struct queue_item *), void *ctx)
{
	char rel[PATH_MAX], *todo = NULL, *info = NULL, *chan[2] = { NULL, NULL };
	struct queue_item it = { .id = en->id };
	struct rcpts r = { NULL, 0, 0 };
	struct stat st, ft;
	size_t len;
	int rc = 0, i;

	snprintf(rel, sizeof rel, "mess/%s/%lu", en->sub, en->id);
	if (fstatat(top, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_nlink > 1)
		return 0;	/* gone, or a writer still holds its pid/ link */
	it.size = st.st_size;
	it.time = st.st_mtime;
	snprintf(rel, sizeof rel, "todo/%lu", en->id);
	if (!(todo = slurp(top, rel, &len, &ft)) && errno == ENOENT) {
		snprintf(rel, sizeof rel, "todo/%s/%lu", en->sub, en->id);
		todo = slurp(top, rel, &len, &ft);
	}
	if (todo) {
		it.state = QUEUE_ITEM_TODO;
		it.time = ft.st_mtime;
		if (records(todo, len, 't', &it.sender, &r) < 0)
			goto nomem;
	} else {
		snprintf(rel, sizeof rel, "info/%s/%lu", en->sub, en->id);
		if ((info = slurp(top, rel, &len, &ft))) {
			it.state = QUEUE_ITEM_SEND;
			it.time = ft.st_mtime;
			if (records(info, len, 0, &it.sender, NULL) < 0)
				goto nomem;
			if (!it.sender)
				it.sender = "";
			for (i = 0; i < 2; i++) {
				snprintf(rel, sizeof rel, "%s/%s/%lu", i ? "remote" : "local", en->sub,
					 en->id);
				if ((chan[i] = slurp(top, rel, &len, NULL)) &&
				    records(chan[i], len, i ? 'r' : 'l', NULL, &r) < 0)
					goto nomem;
			}
			snprintf(rel, sizeof rel, "bounce/%lu", en->id);
			it.bouncing = fstatat(top, rel, &ft, AT_SYMLINK_NOFOLLOW) == 0;
		} else if (errno == EACCES) {
			/* info/ is qmails' own: preprocessed, unless still being queued */
			snprintf(rel, sizeof rel, "intd/%lu", en->id);
			if (fstatat(top, rel, &ft, AT_SYMLINK_NOFOLLOW) == 0)
				goto done;
			it.state = QUEUE_ITEM_HIDDEN;
			*hidden = 1;
		} else
			goto done;	/* being queued (intd/ only), or delivered meanwhile */
	}
	it.rcpt = r.v;
	it.nrcpt = r.n;
	rc = each(ctx, &it) ? 1 : 0;
done:
	free(todo);
	free(info);
	free(chan[0]);
	free(chan[1]);
	free(r.v);
	return rc;
nomem:
	rc = -1;
	goto done;
}

enum queue_status queue_list(const char *path, int (*each)(void *ctx, const struct queue_item *),
			     void *ctx, int *hidden, struct queue_err *err)
{
	struct entry *v = NULL;
	size_t n = 0, i;
	int top, rc = 0;

	*hidden = 0;
	if ((top = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return queue_errset(err, QUEUE_EHOME, errno, "cannot open %s", path);
	if (collect(top, &v, &n) < 0) {
		int e = errno;

		close(top);
		if (e == ENOMEM)
			return queue_errset(err, QUEUE_ENOMEM, e, "cannot list %s", path);
		return queue_errset(err, QUEUE_ELAYOUT, e, "cannot list %s/mess", path);
	}
	for (i = 0; i < n && rc == 0; i++)
		rc = one(top, &v[i], hidden, each, ctx);
	free(v);
	close(top);
	if (rc < 0)
		return queue_errset(err, QUEUE_ENOMEM, ENOMEM, "cannot list %s", path);
	return QUEUE_OK;
}

/* put - s with every byte outside 32..126 shown as '_' (qmail-qread's out()) */
static void put(FILE *f, const char *s)
{
	for (; *s; s++)
		putc(*s >= 32 && *s <= 126 ? *s : '_', f);
}

void queue_list_format(FILE *f, const char *prefix, const struct queue_item *it)
{
	static const char *const mon[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	size_t i;

	if (!gmtime_r(&it->time, &tm))
		memset(&tm, 0, sizeof tm);
	/* qmail's date822fmt without its " -0000", then " GMT" */
	fprintf(f, "%s%d %s %d %02d:%02d:%02d GMT  #%lu  %lld  ", prefix, tm.tm_mday,
		mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, it->id,
		(long long)it->size);
	if (it->sender) {
		putc('<', f);
		put(f, it->sender);
		fputs("> ", f);
	} else
		fputs("? ", f);
	if (it->bouncing)
		fputs(" bouncing", f);
	putc('\n', f);
	for (i = 0; i < it->nrcpt; i++) {
		const struct queue_rcpt *r = &it->rcpt[i];

		fprintf(f, "%s%s\t%s\t", prefix, r->done ? "  done" : "",
			r->channel == 'l' ? "local" : r->channel == 'r' ? "remote" : "todo");
		put(f, r->addr);
		putc('\n', f);
	}
}
