/*
 * queue_envdir.c - the installed settings, read the way sluiced reads them.
 *
 *	An installed relay records its settings once, in an envdir(8)
 *	directory (sysconfdir/sluice, written by sluice-install-services):
 *	QUEUE_BASE, QUEUE_COUNT, QUEUE_START or QUEUEDIR, SLUICE_SOCKET,
 *	SLUICE_STATS_SOCKET and every other setting of sluiced, whose run
 *	script names it in SLUICE_ENVDIR.  The admin's tools read the same
 *	directory, so they find the queues and the sockets by themselves.
 *
 *	queue_envdir_find() chooses the directory: the one given on the
 *	command line, else $SLUICE_ENVDIR, else the compiled default when it
 *	exists; an empty string at either of the first two means none.
 *	queue_envdir_apply() puts its files into the environment as envdir(8)
 *	and sluiced do: the file's first line, trailing blanks cut, NULs made
 *	newlines; an empty file unsets the variable.  Names starting with a
 *	dot, holding '=', and subdirectories are skipped.  Settings in the
 *	directory override the environment, as they do for sluiced.
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

enum queue_status queue_envdir_apply(const char *dir, struct queue_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return queue_errset(err, QUEUE_ECONFIG, errno, "cannot open settings directory %s", dir);
	while ((errno = 0, e = readdir(d))) {
		char buf[4096], *p;
		struct stat st;
		ssize_t len;
		int fd;

		if (e->d_name[0] == '.' || strchr(e->d_name, '='))
			continue;
		/* envdir follows symlinks; a directory is no setting */
		if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode))
			continue;
		if ((fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC)) < 0 ||
		    (len = read(fd, buf, sizeof buf - 1)) < 0) {
			int e_no = errno;

			if (fd >= 0)
				close(fd);
			queue_errset(err, QUEUE_ECONFIG, e_no, "cannot read %s/%s", dir, e->d_name);
			closedir(d);
			return QUEUE_ECONFIG;
		}
		close(fd);
		buf[len] = 0;
		if ((p = memchr(buf, '\n', (size_t)len)))
			len = p - buf;
		while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
			len--;
		buf[len] = 0;
		for (p = buf; p < buf + len; p++)
			if (!*p)
				*p = '\n';
		if (len ? setenv(e->d_name, buf, 1) : unsetenv(e->d_name)) {
			closedir(d);
			return queue_errset(err, QUEUE_ENOMEM, errno, "cannot set %s", e->d_name);
		}
	}
	if (errno) {
		int e_no = errno;

		closedir(d);
		return queue_errset(err, QUEUE_ECONFIG, e_no, "cannot list %s", dir);
	}
	closedir(d);
	return QUEUE_OK;
}
