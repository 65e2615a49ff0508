/*
 * tu_queue.c - minimal stock queue trees for the queue core's tests.
 *
 *	tu_queue_tree() lays out what qmail-queue and qmail-send expect, with
 *	the running user's ids and stock modes; tu_queue_files() and
 *	tu_queue_mess() count what a test left behind.  Failures fail the
 *	running cmocka test.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void mk(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", path, strerror(errno));
	chmod(path, mode);	/* umask-proof */
}

static void mksplit(const char *q, const char *sub, unsigned split, mode_t mode)
{
	unsigned i;

	mk(tu_path(q, "%s", sub), mode);
	for (i = 0; i < split; i++)
		mk(tu_path(q, "%s/%u", sub, i), mode);
}

void tu_queue_tree(const char *path, unsigned split)
{
	char q[4096], trigger[4096 + 16];
	int fd;

	/* path may be a tu_path() slot, which the calls below reuse */
	snprintf(q, sizeof q, "%s", path);

	mk(q, 0750);
	mk(tu_path(q, "pid"), 0700);
	mksplit(q, "mess", split, 0750);
	mk(tu_path(q, "intd"), 0700);
	mk(tu_path(q, "todo"), 0750);
	mk(tu_path(q, "lock"), 0750);
	snprintf(trigger, sizeof trigger, "%s/lock/trigger", q);
	if (mkfifo(trigger, 0622) < 0 && errno != EEXIST)
		fail_msg("mkfifo %s: %s", trigger, strerror(errno));
	chmod(trigger, 0622);
	if ((fd = open(tu_path(q, "lock/sendmutex"), O_WRONLY | O_CREAT, 0600)) < 0)
		fail_msg("sendmutex: %s", strerror(errno));
	close(fd);
	mksplit(q, "info", split, 0700);
	mksplit(q, "local", split, 0700);
	mksplit(q, "remote", split, 0700);
	mk(tu_path(q, "bounce"), 0700);
}

long tu_queue_mess(const char *q)
{
	long n = 0, k;
	unsigned i;

	for (i = 0; (k = tu_count(tu_path(q, "mess/%u", i))) >= 0; i++)
		n += k;
	return n;
}

long tu_queue_files(const char *q)
{
	return tu_count(tu_path(q, "pid")) + tu_count(tu_path(q, "intd")) +
	       tu_count(tu_path(q, "todo")) + tu_queue_mess(q);
}
