/*
 * queue_sys.c - the system-call table every queue change goes through.
 *
 *	Production uses libc.  Fault-injection tests replace single entries
 *	(fail the 3rd fsync, the todo link, ...) and call queue_sys_reset().
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

static int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat(dirfd, path, flags, mode);
}

static const struct queue_sys libc_sys = {
	.openat = sys_openat,
	.linkat = linkat,
	.unlinkat = unlinkat,
	.write = write,
	.fsync = fsync,
	.fstat = fstat,
	.ftruncate = ftruncate,
	.renameat = renameat,
};

struct queue_sys queue_sys = libc_sys;

void queue_sys_reset(void)
{
	queue_sys = libc_sys;
}
