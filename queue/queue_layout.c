/*
 * queue_layout.c - create and repair qmail queue trees (sluice-mkqueue).
 *
 *	queue_layout_make() makes one tree match the stock layout (REFERENCE
 *	§3): every directory, lock/sendmutex, the lock/trigger FIFO and the
 *	1024-byte lock/tcpto, with their owners and modes.  It is idempotent:
 *	on a good tree it changes nothing and says nothing.  It corrects a
 *	mode or an owner only when it differs, creates what is missing, and
 *	never removes or opens anything inside the message directories.  With
 *	dry_run it inspects and reports, and changes nothing.  Each change (or
 *	would-be change) is one report->say() line and counts in
 *	report->created or report->fixed, both reset at the start.
 *
 *	Entries are inspected with fstatat() without following symbolic
 *	links, relative to an fd of their directory; every change goes
 *	through an fd opened with O_NOFOLLOW and checked against that
 *	inspection, so that the owner of the queue directory cannot steer
 *	root's chown or chmod elsewhere by swapping an entry for a symbolic
 *	link.  Only the queue directory itself may be a symbolic link.
 *
 * DIAGNOSTICS
 *	QUEUE_EHOME when the queue directory itself cannot be created, opened
 *	or is not a directory; QUEUE_ELAYOUT for anything below it.  An entry
 *	of the wrong type is an error naming the path and is left alone,
 *	except lock/trigger, which holds no mail and is replaced by a FIFO.
 *	After an error the rest of the tree is still repaired; the first
 *	error is the one returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

enum kind { K_DIR, K_FILE, K_FIFO };
enum who { W_Q, W_S, W_R };	/* qmailq, qmails, qmailr; group is always qmail */

struct node {
	const char *name;
	enum kind kind;
	enum who who;
	mode_t mode;
	int split;		/* has <0..split-1> subdirectories like itself */
	size_t size;		/* zero bytes a new file gets */
	int replace;		/* holds no mail: may be replaced if of the wrong type */
	const struct node *kids;	/* ends with a NULL name */
};

static const struct node lock_kids[] = {
	{ "sendmutex", K_FILE, W_S, 0600, 0, 0, 0, NULL },
	{ "trigger", K_FIFO, W_S, 0622, 0, 0, 1, NULL },
	{ "tcpto", K_FILE, W_R, 0644, 0, 1024, 0, NULL },
	{ NULL, 0, 0, 0, 0, 0, 0, NULL },
};

static const struct node top_kids[] = {
	{ "pid", K_DIR, W_Q, 0700, 0, 0, 0, NULL },
	{ "mess", K_DIR, W_Q, 0750, 1, 0, 0, NULL },
	{ "intd", K_DIR, W_Q, 0700, 0, 0, 0, NULL },
	{ "todo", K_DIR, W_Q, 0750, 0, 0, 0, NULL },
	{ "info", K_DIR, W_S, 0700, 1, 0, 0, NULL },
	{ "local", K_DIR, W_S, 0700, 1, 0, 0, NULL },
	{ "remote", K_DIR, W_S, 0700, 1, 0, 0, NULL },
	{ "bounce", K_DIR, W_S, 0700, 0, 0, 0, NULL },
	{ "lock", K_DIR, W_Q, 0750, 0, 0, 0, lock_kids },
	{ NULL, 0, 0, 0, 0, 0, 0, NULL },
};

static const struct node top = { "", K_DIR, W_Q, 0750, 0, 0, 0, top_kids };

/* One run of queue_layout_make(). */
struct walk {
	const struct queue_owners *own;
	unsigned split;
	int dry_run;
	struct queue_layout_report *rep;
	struct queue_err *err;
	enum queue_status first;	/* first error, QUEUE_OK if none */
	enum queue_status fail_as;	/* QUEUE_EHOME for the queue directory */
	char path[PATH_MAX];
	size_t plen;
};

static const char *const kind_name[] = { "directory", "file", "FIFO" };

/* push - append "/name" to w->path; returns the old length for pop, or -1 */
static long push(struct walk *w, const char *name)
{
	size_t old = w->plen, n = strlen(name);

	if (old + 1 + n >= sizeof w->path)
		return -1;
	w->path[old] = '/';
	memcpy(w->path + old + 1, name, n + 1);
	w->plen = old + 1 + n;
	return (long)old;
}

static void pop(struct walk *w, long old)
{
	w->plen = (size_t)old;
	w->path[old] = 0;
}

static void say(struct walk *w, unsigned *counter, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(struct walk *w, unsigned *counter, const char *fmt, ...)
{
	char line[PATH_MAX + 128];
	va_list ap;

	++*counter;
	if (!w->rep->say)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	w->rep->say(w->rep->ctx, line);
}

/* fail - record an error (the first one wins); the walk goes on */
static void fail(struct walk *w, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct walk *w, int errnum, const char *fmt, ...)
{
	char text[sizeof w->err->text];
	va_list ap;

	if (w->first != QUEUE_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	w->first = queue_errset(w->err, w->fail_as, errnum, "%s", text);
}

static uid_t owner_uid(const struct walk *w, enum who who)
{
	return who == W_Q ? w->own->qmailq : who == W_S ? w->own->qmails : w->own->qmailr;
}

static int kind_ok(enum kind k, mode_t m)
{
	return k == K_DIR ? S_ISDIR(m) : k == K_FILE ? S_ISREG(m) : S_ISFIFO(m);
}

/*
 * settle - give an existing entry its owner and mode.  fd is the entry
 *	opened with O_NOFOLLOW, or -1 to open it here; st is what inspection
 *	saw.  quiet: the entry was just made, so this completes the creation
 *	and is not a repair of its own.
 */
static void settle(struct walk *w, int parent, const char *name, int fd,
		   const struct stat *st, const struct node *n, int quiet)
{
	uid_t uid = owner_uid(w, n->who);
	gid_t gid = w->own->qmail;
	int bad_owner = st->st_uid != uid || st->st_gid != gid;
	int bad_mode = (st->st_mode & 07777) != n->mode;
	int myfd = -1;
	struct stat now;

	if (!bad_owner && !bad_mode)
		return;
	if (!quiet && bad_owner)
		say(w, &w->rep->fixed, "fix owner of %s: %lu:%lu -> %lu:%lu", w->path,
		    (unsigned long)st->st_uid, (unsigned long)st->st_gid,
		    (unsigned long)uid, (unsigned long)gid);
	if (!quiet && bad_mode)
		say(w, &w->rep->fixed, "fix mode of %s: %04o -> %04o", w->path,
		    (unsigned)(st->st_mode & 07777), (unsigned)n->mode);
	if (w->dry_run)
		return;
	if (fd < 0) {
		/* O_NONBLOCK: opening the trigger FIFO must not wait for a writer */
		fd = myfd = openat(parent, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
				   O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			fail(w, errno, "cannot open %s", w->path);
			return;
		}
	}
	if (fstat(fd, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
		fail(w, 0, "%s: changed while being repaired", w->path);
		goto out;
	}
	/* owner first: chown may clear set-id bits, chmod then sets the mode */
	if (bad_owner && fchown(fd, uid, gid) < 0)
		fail(w, errno, "cannot change owner of %s", w->path);
	else if (bad_mode && fchmod(fd, n->mode) < 0)
		fail(w, errno, "cannot change mode of %s", w->path);
out:
	if (myfd >= 0)
		close(myfd);
}

/* make_file - create a regular file of n->size zero bytes; -1 with errno */
static int make_file(struct walk *w, int parent, const char *name, const struct node *n)
{
	static const char zero[1024];
	struct stat st;
	size_t left = n->size;
	int fd, e;

	fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (left > 0) {
		ssize_t r = write(fd, zero, left < sizeof zero ? left : sizeof zero);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			e = r < 0 ? errno : EIO;
			goto bad;
		}
		left -= (size_t)r;
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		goto bad;
	}
	settle(w, parent, name, fd, &st, n, 1);
	close(fd);
	return 0;
bad:
	/* a short tcpto is removed, so that the next run makes it whole */
	close(fd);
	unlinkat(parent, name, 0);
	errno = e;
	return -1;
}

/* make_fifo - create the trigger FIFO; -1 with errno */
static int make_fifo(struct walk *w, int parent, const char *name, const struct node *n)
{
	struct stat st;
	int fd;

	if (mkfifoat(parent, name, 0600) < 0)
		return -1;
	/* O_NONBLOCK: a FIFO opened for reading does not wait for a writer */
	fd = openat(parent, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0)
		settle(w, parent, name, fd, &st, n, 1);
	close(fd);
	return 0;
}

static void visit(struct walk *, int parent, const struct node *, const char *name);

/* visit_kids - the split subdirectories and the children of directory n */
static void visit_kids(struct walk *w, int dirfd, const struct node *n)
{
	const struct node *k;
	unsigned i;

	if (n->split) {
		struct node sub = *n;
		char name[16];

		sub.split = 0;
		sub.kids = NULL;
		for (i = 0; i < w->split; i++) {
			snprintf(name, sizeof name, "%u", i);
			visit(w, dirfd, &sub, name);
		}
	}
	for (k = n->kids; k && k->name; k++)
		visit(w, dirfd, k, k->name);
}

/* create - make a missing entry (dry run: say so); parent < 0: parent missing too */
static void create(struct walk *w, int parent, const struct node *n, const char *name)
{
	struct stat st;
	int fd;

	if (w->dry_run) {
		say(w, &w->rep->created, "create %s %s", kind_name[n->kind], w->path);
		if (n->kind == K_DIR)
			visit_kids(w, -1, n);
		return;
	}
	switch (n->kind) {
	case K_DIR:
		if (mkdirat(parent, name, 0700) < 0) {
			fail(w, errno, "cannot create directory %s", w->path);
			return;
		}
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			fail(w, errno, "cannot open %s", w->path);
			if (fd >= 0)
				close(fd);
			return;
		}
		settle(w, parent, name, fd, &st, n, 1);
		say(w, &w->rep->created, "create directory %s", w->path);
		visit_kids(w, fd, n);
		close(fd);
		return;
	case K_FILE:
		if (make_file(w, parent, name, n) < 0) {
			fail(w, errno, "cannot create %s", w->path);
			return;
		}
		break;
	case K_FIFO:
		if (make_fifo(w, parent, name, n) < 0) {
			fail(w, errno, "cannot create FIFO %s", w->path);
			return;
		}
		break;
	}
	say(w, &w->rep->created, "create %s %s", kind_name[n->kind], w->path);
}

static const char *type_name(mode_t m)
{
	if (S_ISREG(m))
		return "regular file";
	if (S_ISDIR(m))
		return "directory";
	if (S_ISLNK(m))
		return "symbolic link";
	if (S_ISFIFO(m))
		return "FIFO";
	if (S_ISSOCK(m))
		return "socket";
	return "device";
}

/* replace - swap an entry of the wrong type that holds no mail (lock/trigger) */
static void replace(struct walk *w, int parent, const struct node *n, const char *name,
		    const struct stat *st)
{
	say(w, &w->rep->fixed, "replace %s (a %s) with a %s", w->path,
	    type_name(st->st_mode), kind_name[n->kind]);
	if (w->dry_run)
		return;
	if (unlinkat(parent, name, S_ISDIR(st->st_mode) ? AT_REMOVEDIR : 0) < 0) {
		fail(w, errno, "cannot remove %s", w->path);
		return;
	}
	if (make_fifo(w, parent, name, n) < 0)
		fail(w, errno, "cannot create FIFO %s", w->path);
}

/* visit - check or make one entry below the queue directory */
static void visit(struct walk *w, int parent, const struct node *n, const char *name)
{
	struct stat st;
	long old = push(w, name);
	int fd;

	if (old < 0) {
		fail(w, ENAMETOOLONG, "cannot make %s/%s", w->path, name);
		return;
	}
	if (parent < 0) {
		create(w, parent, n, name);
		goto out;
	}
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			create(w, parent, n, name);
		else
			fail(w, errno, "cannot inspect %s", w->path);
		goto out;
	}
	if (!kind_ok(n->kind, st.st_mode)) {
		if (n->replace)
			replace(w, parent, n, name, &st);
		else
			fail(w, 0, "%s: exists and is not a %s", w->path, kind_name[n->kind]);
		goto out;
	}
	if (n->kind != K_DIR || (!n->split && !n->kids)) {
		settle(w, parent, name, -1, &st, n, 0);
		goto out;
	}
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		fail(w, errno, "cannot open %s", w->path);
		goto out;
	}
	settle(w, parent, name, fd, &st, n, 0);
	visit_kids(w, fd, n);
	close(fd);
out:
	pop(w, old);
}

enum queue_status queue_layout_make(const char *path, unsigned split,
				    const struct queue_owners *own, int dry_run,
				    struct queue_layout_report *rep, struct queue_err *err)
{
	struct queue_layout_report quiet = { 0, 0, NULL, NULL };
	struct walk *w;
	struct stat st;
	enum queue_status status;
	size_t len = strlen(path);
	int fd, made, e;

	if (!rep)
		rep = &quiet;
	rep->created = rep->fixed = 0;
	if (split < 1 || split > QUEUE_SPLIT_MAX)
		return queue_errset(err, QUEUE_ECONFIG, 0, "bad split %u (1 to %u)", split,
				    QUEUE_SPLIT_MAX);
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len == 0 || len >= PATH_MAX - 32)
		return queue_errset(err, QUEUE_EHOME, ENAMETOOLONG, "bad queue path \"%s\"", path);
	/* PATH_MAX bytes of path: too much for every stack a caller may have */
	if (!(w = calloc(1, sizeof *w)))
		return queue_errset(err, QUEUE_ENOMEM, ENOMEM, "cannot lay out %s", path);
	w->own = own;
	w->split = split;
	w->dry_run = dry_run;
	w->rep = rep;
	w->err = err;
	w->first = QUEUE_OK;
	w->fail_as = QUEUE_EHOME;
	memcpy(w->path, path, len);
	w->path[len] = 0;
	w->plen = len;

	/* the queue directory itself may be a symbolic link to where it lives */
	fd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	e = fd < 0 ? errno : 0;
	if (e == ENOTDIR && stat(w->path, &st) == 0) {
		fail(w, 0, "%s: exists and is not a directory", w->path);
		goto done;
	}
	if (e && e != ENOENT) {
		fail(w, e, "cannot open %s", w->path);
		goto done;
	}
	if (fd < 0 && dry_run) {
		say(w, &rep->created, "create directory %s", w->path);
		w->fail_as = QUEUE_ELAYOUT;
		visit_kids(w, -1, &top);
		goto done;
	}
	made = fd < 0;
	if (made) {
		if (mkdir(w->path, 0700) < 0) {
			fail(w, errno, "cannot create directory %s", w->path);
			goto done;
		}
		fd = open(w->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			fail(w, errno, "cannot open %s", w->path);
			goto done;
		}
		say(w, &rep->created, "create directory %s", w->path);
	}
	if (fstat(fd, &st) < 0)
		fail(w, errno, "cannot inspect %s", w->path);
	else
		settle(w, AT_FDCWD, w->path, fd, &st, &top, made);
	w->fail_as = QUEUE_ELAYOUT;
	visit_kids(w, fd, &top);
	close(fd);
done:
	status = w->first;
	free(w);
	return status;
}
