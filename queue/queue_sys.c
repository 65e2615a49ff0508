/*
 * queue_sys.c - the system-call table every queue change goes through.
 *
 *	Production uses libc.  Fault-injection tests replace single entries
 *	(fail the 3rd fsync, the todo link, ...) and call queue_sys_reset().
 */
#include <fcntl.h>
#include <stdio.h>		/* renameat */
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

static int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat(dirfd, path, flags, mode);
}

/* A macro, not a const object: C needs a constant expression to initialise
 * the global table, and reset must restore exactly the same entries. */
#define LIBC_SYS { \
	.openat = sys_openat, \
	.linkat = linkat, \
	.unlinkat = unlinkat, \
	.write = write, \
	.fsync = fsync, \
	.fstat = fstat, \
	.ftruncate = ftruncate, \
	.renameat = renameat, \
	.syncfs = syncfs, \
}

struct queue_sys queue_sys = LIBC_SYS;

void queue_sys_reset(void)
{
	static const struct queue_sys libc_sys = LIBC_SYS;

	queue_sys = libc_sys;
}
