/*
 * queue_envdir.c - envdir(8) directories: the one reader of the project.
 *
 *	An installed relay records its settings once, in an envdir(8)
 *	directory (sysconfdir/sluice, written by sluice-install-services):
 *	QUEUE_BASE, QUEUE_COUNT, QUEUE_START or QUEUEDIR, SLUICE_SOCKET,
 *	SLUICE_STATS_SOCKET and every other setting of sluiced, whose run
 *	script names it in SLUICE_ENVDIR.  The admin's tools read the same
 *	directory, so they find the queues and the sockets by themselves;
 *	sluiced reads it at start and again on SIGHUP (control/'s settings
 *	look values up in it).
 *
 *	queue_envdir_read() reads a directory as envdir(8) does: one
 *	variable per file, named after the file; its value the file's first
 *	line with trailing blanks (spaces, tabs) cut and NULs made newlines;
 *	an empty file (0 bytes) unsets the variable (value NULL).  Symbolic
 *	links are followed.  Names starting with a dot, names holding '=',
 *	and subdirectories are skipped; anything else that is not a regular
 *	file (a FIFO, a device) is an error, as is a first line longer than
 *	QUEUE_ENVDIR_LINE_MAX bytes: never a reload that hangs or a value cut
 *	short.
 *	queue_envdir_lookup() finds a name in what was read;
 *	queue_envdir_free() releases it.
 *
 *	queue_envdir_find() chooses the directory of the admin's tools: the
 *	one given on the command line, else $SLUICE_ENVDIR, else the compiled
 *	default when it exists; an empty string at either of the first two
 *	means none.  queue_envdir_apply() reads it and puts it into the
 *	environment (settings in the directory override the environment, as
 *	they do for sluiced).
 *
 * DIAGNOSTICS
 *	QUEUE_ECONFIG naming the directory or file and the cause; QUEUE_ENOMEM.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue_set.h"

const char *queue_envdir_find(const char *opt, const char *compiled)
{
	const char *env = getenv("SLUICE_ENVDIR");
	struct stat st;

	if (opt)
		return *opt ? opt : NULL;
	if (env)
		return *env ? env : NULL;
	if (compiled && *compiled && stat(compiled, &st) == 0 && S_ISDIR(st.st_mode))
		return compiled;
	return NULL;
}

void queue_envdir_free(struct queue_envdir *ed)
{
	size_t i;

	for (i = 0; i < ed->n; i++) {
		free(ed->v[i].name);
		free(ed->v[i].value);
	}
	free(ed->v);
	ed->v = NULL;
	ed->n = 0;
}

const struct queue_envvar *queue_envdir_lookup(const struct queue_envdir *ed, const char *name)
{
	size_t i;

	for (i = 0; ed && i < ed->n; i++)
		if (!strcmp(ed->v[i].name, name))
			return &ed->v[i];
	return NULL;
}

/*
 * first_line - the first line of fd (without its newline) into a new
 *	string, NULs made newlines and trailing blanks cut; *value NULL for
 *	an empty file.  0, or -1 with errno (EFBIG: the line is too long).
 */
static int first_line(int fd, char **value)
{
	char *buf = malloc(QUEUE_ENVDIR_LINE_MAX + 1), *nl = NULL;
	size_t len = 0, i;
	ssize_t r;

	*value = NULL;
	if (!buf)
		return -1;
	/* read until the first newline: a value is one line, the rest is
	 * the admin's notes, as envdir(8) has it */
	while (!nl && len <= QUEUE_ENVDIR_LINE_MAX) {
		r = read(fd, buf + len, QUEUE_ENVDIR_LINE_MAX + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		nl = memchr(buf + len, '\n', (size_t)r);
		len += (size_t)r;
		if (len == QUEUE_ENVDIR_LINE_MAX + 1)
			break;
	}
	if (len == 0) {		/* an empty file: the variable is unset */
		free(buf);
		return 0;
	}
	if (nl)
		len = (size_t)(nl - buf);
	else if (len > QUEUE_ENVDIR_LINE_MAX) {
		free(buf);
		errno = EFBIG;
		return -1;
	}
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = 0;
	for (i = 0; i < len; i++)
		if (!buf[i])
			buf[i] = '\n';
	*value = buf;
	return 0;
}

enum queue_status queue_envdir_read(const char *dir, struct queue_envdir *out,
				    struct queue_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int fd = -1;

	out->v = NULL;
	out->n = 0;
	if (!d)
		return queue_errset(err, QUEUE_ECONFIG, errno, "cannot open settings directory %s", dir);
	while ((errno = 0, e = readdir(d))) {
		struct queue_envvar *nv;
		struct stat st;
		char *value;

		if (e->d_name[0] == '.' || strchr(e->d_name, '='))
			continue;
		/* envdir follows symlinks; a directory is no setting */
		if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode))
			continue;
		/* O_NONBLOCK: a FIFO must not hang a reload; it is refused
		 * below, as is anything else that is not a plain file */
		if ((fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) >= 0 &&
		    (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
			queue_errset(err, QUEUE_ECONFIG, 0, "%s/%s: not a regular file", dir, e->d_name);
			goto fail;
		}
		if (fd < 0 || first_line(fd, &value) < 0) {
			int e_no = errno;

			if (e_no == EFBIG)
				queue_errset(err, QUEUE_ECONFIG, 0, "%s/%s: first line longer than %u bytes",
					     dir, e->d_name, QUEUE_ENVDIR_LINE_MAX);
			else
				queue_errset(err, e_no == ENOMEM ? QUEUE_ENOMEM : QUEUE_ECONFIG, e_no,
					     "cannot read %s/%s", dir, e->d_name);
			goto fail;
		}
		close(fd);
		fd = -1;
		if (!(nv = realloc(out->v, (out->n + 1) * sizeof *out->v)) ||
		    !(nv[out->n].name = strdup(e->d_name))) {
			if (nv)
				out->v = nv;
			free(value);
			closedir(d);
			queue_envdir_free(out);
			return queue_errset(err, QUEUE_ENOMEM, ENOMEM, "cannot read %s", dir);
		}
		out->v = nv;
		out->v[out->n++].value = value;
	}
	if (errno) {
		int e_no = errno;

		closedir(d);
		queue_envdir_free(out);
		return queue_errset(err, QUEUE_ECONFIG, e_no, "cannot list %s", dir);
	}
	closedir(d);
	return QUEUE_OK;
fail:	/* err set, naming the file (before closedir: e points into d) */
	if (fd >= 0)
		close(fd);
	closedir(d);
	queue_envdir_free(out);
	return err ? err->status : QUEUE_ECONFIG;
}

enum queue_status queue_envdir_apply(const char *dir, struct queue_err *err)
{
	struct queue_envdir ed;
	enum queue_status st;
	size_t i;

	if ((st = queue_envdir_read(dir, &ed, err)) != QUEUE_OK)
		return st;
	for (i = 0; i < ed.n; i++)
		if (ed.v[i].value ? setenv(ed.v[i].name, ed.v[i].value, 1)
				  : unsetenv(ed.v[i].name)) {
			st = queue_errset(err, QUEUE_ENOMEM, errno, "cannot set %s", ed.v[i].name);
			break;
		}
	queue_envdir_free(&ed);
	return st;
}
