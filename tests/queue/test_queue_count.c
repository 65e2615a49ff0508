/*
 * test_queue_count.c - queue_count() counts mess/ (every split directory),
 * todo/ and intd/ like qmail-qstat, on empty and filled trees and fast on
 * many files; queue_backlog() counts todo + intd of an open queue without
 * disturbing the queue's directory fds.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"

#define SPLIT 5

struct fixture {
	char *dir;
	char q[4096];
	struct queue_err err;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct queue_owners own = { getuid(), getuid(), getuid(), getgid(), 1 };

	f->dir = tu_tmpdir("count");
	snprintf(f->q, sizeof f->q, "%s/queue1", f->dir);
	if (queue_layout_make(f->q, SPLIT, &own, 0, NULL, &f->err) != QUEUE_OK)
		fail_msg("layout: %s", f->err.text);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void touch(struct fixture *f, const char *rel)
{
	tu_write(tu_path(f->q, "%s", rel), "", 0);
}

static void test_empty(void **state)
{
	struct fixture *f = *state;
	struct queue_counts c = { 9, 9, 9 };

	assert_int_equal(queue_count(f->q, &c, &f->err), QUEUE_OK);
	assert_int_equal(c.mess, 0);
	assert_int_equal(c.todo, 0);
	assert_int_equal(c.intd, 0);
}

static void test_files(void **state)
{
	struct fixture *f = *state;
	struct queue_counts c;

	touch(f, "mess/0/100");
	touch(f, "mess/0/105");
	touch(f, "mess/3/103");
	touch(f, "mess/4/104");
	touch(f, "mess/4/109");
	touch(f, "todo/100");
	touch(f, "todo/103");
	touch(f, "intd/100");
	touch(f, "intd/103");
	touch(f, "intd/109");
	/* info/ local/ remote/ pid/ are not messages to qmail-qstat */
	touch(f, "info/0/105");
	touch(f, "remote/0/105");
	touch(f, "pid/77.1.1");
	assert_int_equal(queue_count(f->q, &c, &f->err), QUEUE_OK);
	assert_int_equal(c.mess, 5);
	assert_int_equal(c.todo, 2);
	assert_int_equal(c.intd, 3);

	/* whatever the split: a split directory beyond the configured one */
	assert_int_equal(mkdir(tu_path(f->q, "mess/17"), 0750), 0);
	touch(f, "mess/17/117");
	/* IndiMail's BIGTODO splits todo/ too */
	assert_int_equal(mkdir(tu_path(f->q, "todo/2"), 0750), 0);
	touch(f, "todo/2/117");
	touch(f, "todo/2/122");
	assert_int_equal(queue_count(f->q, &c, &f->err), QUEUE_OK);
	assert_int_equal(c.mess, 6);
	assert_int_equal(c.todo, 4);
	assert_int_equal(c.intd, 3);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	struct queue_counts c;
	char missing[4200];

	snprintf(missing, sizeof missing, "%s/queue9", f->dir);
	assert_int_equal(queue_count(missing, &c, &f->err), QUEUE_EHOME);
	assert_non_null(strstr(f->err.text, "/queue9: No such file or directory"));
	assert_int_equal(f->err.errnum, ENOENT);

	assert_int_equal(rmdir(tu_path(f->q, "todo")), 0);
	assert_int_equal(queue_count(f->q, &c, &f->err), QUEUE_ELAYOUT);
	assert_non_null(strstr(f->err.text, "cannot list "));
	assert_non_null(strstr(f->err.text, "/queue1/todo: No such file or directory"));
}

static void test_many(void **state)
{
	struct fixture *f = *state;
	enum { N = 20000 };
	struct queue_counts c;
	struct timespec t0, t1;
	double secs;
	unsigned i;

	for (i = 0; i < N; i++) {
		char rel[64];
		int fd;

		snprintf(rel, sizeof rel, "mess/%u/%u", i % SPLIT, 1000000 + i);
		fd = open(tu_path(f->q, "%s", rel), O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			fail_msg("%s: %s", rel, strerror(errno));
		close(fd);
		if (i % 10 == 0) {
			snprintf(rel, sizeof rel, "todo/%u", 1000000 + i);
			touch(f, rel);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(queue_count(f->q, &c, &f->err), QUEUE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(c.mess, N);
	assert_int_equal(c.todo, N / 10);
	assert_int_equal(c.intd, 0);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("counted %u files in %.3f s\n", N + N / 10, secs);
	/* directory listings only: well under a second even with sanitizers */
	assert_true(secs < 2.0);
}

/* listed - entries seen through a separate listing of fd's directory */
static long listed(int fd)
{
	DIR *d;
	struct dirent *e;
	long n = 0;
	int copy = dup(fd);

	assert_true(copy >= 0);
	d = fdopendir(copy);
	assert_non_null(d);
	rewinddir(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_backlog(void **state)
{
	struct fixture *f = *state;
	struct queue q;
	off_t before;

	memset(&q, 0, sizeof q);
	q.dirfd = q.pidfd = q.lockfd = -1;
	q.todofd = open(tu_path(f->q, "todo"), O_RDONLY | O_DIRECTORY);
	q.intdfd = open(tu_path(f->q, "intd"), O_RDONLY | O_DIRECTORY);
	assert_true(q.todofd >= 0 && q.intdfd >= 0);
	assert_int_equal(queue_backlog(&q), 0);

	touch(f, "todo/1");
	touch(f, "todo/2");
	touch(f, "intd/2");
	touch(f, "intd/3");
	touch(f, "intd/4");
	before = lseek(q.todofd, 0, SEEK_CUR);
	assert_int_equal(queue_backlog(&q), 5);
	assert_int_equal(queue_backlog(&q), 5);
	/* the queue's own fds are neither closed nor moved */
	assert_int_equal(lseek(q.todofd, 0, SEEK_CUR), before);
	assert_int_equal(fcntl(q.todofd, F_GETFD), 0);
	assert_int_equal(listed(q.todofd), 2);
	assert_int_equal(listed(q.intdfd), 3);

	/* an O_PATH fd is enough */
	close(q.todofd);
	q.todofd = open(tu_path(f->q, "todo"), O_PATH | O_DIRECTORY);
	assert_true(q.todofd >= 0);
	assert_int_equal(queue_backlog(&q), 5);

	/* a directory that cannot be listed counts 0 */
	close(q.intdfd);
	q.intdfd = -1;
	assert_int_equal(queue_backlog(&q), 2);
	close(q.todofd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
