/*
 * testutil.c - see testutil.h.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&p, "%s/sluice-test-%s-XXXXXX", base, tag) < 0)
		fail_msg("asprintf");
	if (!mkdtemp(p))
		fail_msg("mkdtemp %s: %s", p, strerror(errno));
	return p;
}

void tu_rmtree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d) {
		unlink(path);
		return;
	}
	while ((e = readdir(d))) {
		char *sub;
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (asprintf(&sub, "%s/%s", path, e->d_name) < 0)
			fail_msg("asprintf");
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
			chmod(sub, 0700);
			tu_rmtree(sub);
		} else
			unlink(sub);
		free(sub);
	}
	closedir(d);
	rmdir(path);
}

const char *tu_path(const char *dir, const char *fmt, ...)
{
	static char slots[8][4096];
	static unsigned next;
	char *buf = slots[next++ % 8];
	int n = snprintf(buf, sizeof slots[0], "%s/", dir);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof slots[0] - n, fmt, ap);
	va_end(ap);
	return buf;
}

char *tu_read(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		fail_msg("fstat %s: %s", path, strerror(errno));
	buf = malloc(st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, st.st_size - got);
		if (r <= 0)
			fail_msg("read %s: %s", path, r ? strerror(errno) : "short");
		got += r;
	}
	close(fd);
	buf[got] = 0;
	if (len)
		*len = got;
	return buf;
}

void tu_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		fail_msg("write %s: %s", path, strerror(errno));
	close(fd);
}

long tu_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

int tu_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}
