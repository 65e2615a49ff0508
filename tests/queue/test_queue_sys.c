/*
 * test_queue_sys.c - queue/queue_sys.c: the system-call table.
 *
 *	The table starts as libc; a test may replace any entry; after
 *	queue_sys_reset() every entry is libc's again and works on real files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "queue.h"

static struct queue_sys pristine;

static int fake_openat(int d, const char *n, int f, mode_t m)
{
	errno = EROFS;
	return -1;
}

static int fake_linkat(int a, const char *b, int c, const char *d, int e)
{
	return -1;
}

static int fake_unlinkat(int a, const char *b, int c)
{
	return -1;
}

static ssize_t fake_write(int fd, const void *b, size_t n)
{
	return -1;
}

static int fake_fsync(int fd)
{
	return -1;
}

static int fake_fstat(int fd, struct stat *st)
{
	return -1;
}

static int fake_ftruncate(int fd, off_t l)
{
	return -1;
}

static int fake_renameat(int a, const char *b, int c, const char *d)
{
	return -1;
}

static void test_starts_as_libc(void **state)
{
	assert_ptr_equal(pristine.linkat, linkat);
	assert_ptr_equal(pristine.unlinkat, unlinkat);
	assert_ptr_equal(pristine.write, write);
	assert_ptr_equal(pristine.fsync, fsync);
	assert_ptr_equal(pristine.fstat, fstat);
	assert_ptr_equal(pristine.ftruncate, ftruncate);
	assert_ptr_equal(pristine.renameat, renameat);
	assert_ptr_equal(pristine.syncfs, syncfs);
	assert_non_null(pristine.openat);
}

static void test_reset_restores(void **state)
{
	queue_sys = (struct queue_sys){ fake_openat, fake_linkat, fake_unlinkat, fake_write,
					fake_fsync,  fake_fstat,  fake_ftruncate, fake_renameat,
					fake_fsync };
	assert_int_equal(queue_sys.openat(AT_FDCWD, "/", O_RDONLY, 0), -1);
	assert_int_equal(errno, EROFS);
	queue_sys_reset();
	assert_memory_equal(&queue_sys, &pristine, sizeof pristine);
	/* one entry at a time, as the fault-injection tests do */
	queue_sys.fsync = fake_fsync;
	queue_sys_reset();
	assert_memory_equal(&queue_sys, &pristine, sizeof pristine);
	queue_sys_reset();	/* idempotent */
	assert_memory_equal(&queue_sys, &pristine, sizeof pristine);
}

/* test_libc_works - after a reset every entry does the real thing */
static void test_libc_works(void **state)
{
	char *dir = tu_tmpdir("sys");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	mode_t old = umask(0);
	struct stat st;
	int fd;

	queue_sys.openat = fake_openat;
	queue_sys_reset();
	assert_true(dfd >= 0);
	fd = queue_sys.openat(dfd, "a", O_RDWR | O_CREAT | O_EXCL, 0640);
	umask(old);
	assert_true(fd >= 0);
	assert_int_equal(queue_sys.openat(dfd, "a", O_RDWR | O_CREAT | O_EXCL, 0640), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(queue_sys.write(fd, "hello", 5), 5);
	assert_int_equal(queue_sys.fsync(fd), 0);
	assert_int_equal(queue_sys.fsync(dfd), 0);
	assert_int_equal(queue_sys.fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(st.st_mode & 07777, 0640);	/* the mode argument is passed */
	assert_int_equal(queue_sys.ftruncate(fd, 2), 0);
	assert_int_equal(queue_sys.linkat(dfd, "a", dfd, "b", 0), 0);
	assert_int_equal(queue_sys.renameat(dfd, "b", dfd, "c"), 0);
	assert_int_equal(queue_sys.fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(queue_sys.unlinkat(dfd, "a", 0), 0);
	assert_int_equal(queue_sys.unlinkat(dfd, "c", 0), 0);
	assert_int_equal(tu_count(dir), 0);
	close(fd);
	close(dfd);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_as_libc),
		cmocka_unit_test(test_reset_restores),
		cmocka_unit_test(test_libc_works),
	};

	pristine = queue_sys;	/* before any test touches it */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
