/*
 * test_queue_layout.c - queue_layout_make(): a fresh tree has the stock
 * layout, a second run changes nothing, broken trees are repaired without
 * touching messages, a dry run changes nothing, wrong types are errors.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

#define SPLIT 7
/* the queue dir, 9 directories in it, 4 split parents, 3 files in lock/ */
#define ENTRIES (1 + 9 + 4 * SPLIT + 3)

struct said {
	unsigned lines;
	char text[16384];
};

static void collect(void *ctx, const char *line)
{
	struct said *s = ctx;
	size_t len = strlen(s->text);

	s->lines++;
	snprintf(s->text + len, sizeof s->text - len, "%s\n", line);
}

struct fixture {
	char *dir;		/* temp dir */
	char q[4096];		/* the queue tree in it */
	struct queue_owners own;
	struct said said;
	struct queue_layout_report rep;
	struct queue_err err;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	f->dir = tu_tmpdir("layout");
	snprintf(f->q, sizeof f->q, "%s/queue1", f->dir);
	/* the tests run as whoever runs them: the fallback owners */
	f->own.qmailq = f->own.qmails = f->own.qmailr = getuid();
	f->own.qmail = getgid();
	f->own.fallback = 1;
	f->rep.say = collect;
	f->rep.ctx = &f->said;
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

static enum queue_status run(struct fixture *f, unsigned split, int dry_run)
{
	memset(&f->said, 0, sizeof f->said);
	memset(&f->err, 0, sizeof f->err);
	return queue_layout_make(f->q, split, &f->own, dry_run, &f->rep, &f->err);
}

static void check_entry(const char *q, const char *rel, mode_t type, mode_t mode)
{
	const char *p = tu_path(q, "%s", rel);
	struct stat st;

	if (lstat(p, &st) < 0)
		fail_msg("%s: %s", p, strerror(errno));
	if ((st.st_mode & S_IFMT) != type)
		fail_msg("%s: type %o, want %o", p, st.st_mode & S_IFMT, type);
	if ((st.st_mode & 07777) != mode)
		fail_msg("%s: mode %04o, want %04o", p, st.st_mode & 07777, mode);
	if (st.st_uid != getuid() || st.st_gid != getgid())
		fail_msg("%s: owner %u:%u", p, (unsigned)st.st_uid, (unsigned)st.st_gid);
}

/* check_tree - the stock layout (REFERENCE §3), written out independently */
static void check_tree(const char *q, unsigned split)
{
	static const struct {
		const char *name;
		mode_t mode;
		int split;
	} dirs[] = {
		{ ".", 0750, 0 }, { "pid", 0700, 0 }, { "mess", 0750, 1 },
		{ "intd", 0700, 0 }, { "todo", 0750, 0 }, { "info", 0700, 1 },
		{ "local", 0700, 1 }, { "remote", 0700, 1 }, { "bounce", 0700, 0 },
		{ "lock", 0750, 0 },
	};
	unsigned i, j;
	size_t len;
	char *tcpto;

	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		check_entry(q, dirs[i].name, S_IFDIR, dirs[i].mode);
		for (j = 0; dirs[i].split && j < split; j++) {
			char rel[64];

			snprintf(rel, sizeof rel, "%s/%u", dirs[i].name, j);
			check_entry(q, rel, S_IFDIR, dirs[i].mode);
		}
	}
	check_entry(q, "lock/sendmutex", S_IFREG, 0600);
	check_entry(q, "lock/trigger", S_IFIFO, 0622);
	check_entry(q, "lock/tcpto", S_IFREG, 0644);
	tcpto = tu_read(tu_path(q, "lock/tcpto"), &len);
	assert_int_equal(len, 1024);
	for (i = 0; i < len; i++)
		assert_int_equal(tcpto[i], 0);
	free(tcpto);
	{
		struct stat st;

		assert_int_equal(stat(tu_path(q, "lock/sendmutex"), &st), 0);
		assert_int_equal(st.st_size, 0);
	}
}

static void test_fresh(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_int_equal(f->rep.created, ENTRIES);
	assert_int_equal(f->rep.fixed, 0);
	assert_int_equal(f->said.lines, ENTRIES);
	assert_non_null(strstr(f->said.text, "create directory "));
	assert_non_null(strstr(f->said.text, "/queue1/mess/6\n"));
	assert_non_null(strstr(f->said.text, "create FIFO "));
	assert_null(strstr(f->said.text, "/mess/7\n"));
	check_tree(f->q, SPLIT);
}

static void test_again_changes_nothing(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_int_equal(f->rep.created, 0);
	assert_int_equal(f->rep.fixed, 0);
	assert_int_equal(f->said.lines, 0);
	/* a trailing slash names the same tree */
	strcat(f->q, "/");
	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_int_equal(f->said.lines, 0);
	/* without a report at all */
	assert_int_equal(queue_layout_make(f->q, SPLIT, &f->own, 0, NULL, &f->err), QUEUE_OK);
}

/* a message file the layout code must never touch */
struct msgfile {
	const char *rel;
	struct stat st;
};

static void put_message(struct fixture *f, struct msgfile *m, mode_t mode)
{
	const char *p = tu_path(f->q, "%s", m->rel);

	tu_write(p, "Received: test\n\nbody\n", 21);
	assert_int_equal(chmod(p, mode), 0);
	assert_int_equal(lstat(p, &m->st), 0);
}

static void check_message(struct fixture *f, const struct msgfile *m)
{
	struct stat st;
	char *data;

	assert_int_equal(lstat(tu_path(f->q, "%s", m->rel), &st), 0);
	assert_int_equal(st.st_ino, m->st.st_ino);
	assert_int_equal(st.st_mode, m->st.st_mode);
	assert_int_equal(st.st_uid, m->st.st_uid);
	assert_int_equal(st.st_size, m->st.st_size);
	assert_int_equal(st.st_mtim.tv_nsec, m->st.st_mtim.tv_nsec);
	data = tu_read(tu_path(f->q, "%s", m->rel), NULL);
	assert_string_equal(data, "Received: test\n\nbody\n");
	free(data);
}

/* breakage - two entries missing, three repairs; see the expected lines */
static void breakage(struct fixture *f)
{
	assert_int_equal(rmdir(tu_path(f->q, "mess/5")), 0);
	assert_int_equal(unlink(tu_path(f->q, "lock/sendmutex")), 0);
	assert_int_equal(unlink(tu_path(f->q, "lock/trigger")), 0);
	tu_write(tu_path(f->q, "lock/trigger"), "x", 1);
	assert_int_equal(chmod(tu_path(f->q, "pid"), 0755), 0);
	assert_int_equal(chmod(tu_path(f->q, "lock/tcpto"), 0600), 0);
}

static void test_repair(void **state)
{
	struct fixture *f = *state;
	struct msgfile m[] = {
		{ "mess/3/4242", { 0 } }, { "todo/4242", { 0 } }, { "intd/4242", { 0 } },
		{ "info/3/4242", { 0 } }, { "remote/3/4242", { 0 } },
	};
	unsigned i;

	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	for (i = 0; i < sizeof m / sizeof m[0]; i++)
		put_message(f, &m[i], i ? 0600 : 0644);
	/* a message file with an odd mode is not the layout's business */
	assert_int_equal(chmod(tu_path(f->q, "mess/3/4242"), 0400), 0);
	assert_int_equal(lstat(tu_path(f->q, "mess/3/4242"), &m[0].st), 0);
	breakage(f);

	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_int_equal(f->rep.created, 2);
	assert_int_equal(f->rep.fixed, 3);
	assert_int_equal(f->said.lines, 5);
	assert_non_null(strstr(f->said.text, "/queue1/pid: 0755 -> 0700\n"));
	assert_non_null(strstr(f->said.text, "fix mode of "));
	assert_non_null(strstr(f->said.text, "/queue1/lock/tcpto: 0600 -> 0644\n"));
	assert_non_null(strstr(f->said.text, "/queue1/mess/5\n"));
	assert_non_null(strstr(f->said.text, "create file "));
	assert_non_null(strstr(f->said.text, "/lock/trigger (a regular file) with a FIFO\n"));
	check_tree(f->q, SPLIT);
	for (i = 0; i < sizeof m / sizeof m[0]; i++)
		check_message(f, &m[i]);
	assert_int_equal(tu_count(tu_path(f->q, "mess/3")), 1);

	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_int_equal(f->rep.created + f->rep.fixed, 0);
}

static void test_repair_owner(void **state)
{
	struct fixture *f = *state;

	if (geteuid() != 0)
		skip();
	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_int_equal(chown(tu_path(f->q, "todo"), 12345, 12346), 0);
	assert_int_equal(lchown(tu_path(f->q, "lock/trigger"), 12345, getgid()), 0);
	assert_int_equal(run(f, SPLIT, 1), QUEUE_OK);
	assert_int_equal(f->rep.fixed, 2);
	assert_non_null(strstr(f->said.text, "fix owner of "));
	assert_non_null(strstr(f->said.text, "/queue1/todo: 12345:12346 -> "));
	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_int_equal(f->rep.fixed, 2);
	check_tree(f->q, SPLIT);

	/* real owners: each entry gets its user, the group is qmail */
	f->own.qmailq = 2001;
	f->own.qmails = 2002;
	f->own.qmailr = 2003;
	f->own.qmail = 2000;
	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_int_equal(f->rep.fixed, ENTRIES);
	{
		static const struct {
			const char *rel;
			uid_t uid;
		} want[] = {
			{ ".", 2001 }, { "pid", 2001 }, { "mess/6", 2001 }, { "todo", 2001 },
			{ "info/0", 2002 }, { "bounce", 2002 }, { "lock", 2001 },
			{ "lock/sendmutex", 2002 }, { "lock/trigger", 2002 }, { "lock/tcpto", 2003 },
		};
		unsigned i;
		struct stat st;

		for (i = 0; i < sizeof want / sizeof want[0]; i++) {
			assert_int_equal(lstat(tu_path(f->q, "%s", want[i].rel), &st), 0);
			assert_int_equal(st.st_uid, want[i].uid);
			assert_int_equal(st.st_gid, 2000);
		}
	}
	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_int_equal(f->rep.created + f->rep.fixed, 0);
}

static void test_dry_run(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	/* nothing there at all: everything would be made, nothing is */
	assert_int_equal(run(f, SPLIT, 1), QUEUE_OK);
	assert_int_equal(f->rep.created, ENTRIES);
	assert_int_equal(f->said.lines, ENTRIES);
	assert_false(tu_exists(f->q));

	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	breakage(f);
	assert_int_equal(run(f, SPLIT, 1), QUEUE_OK);
	assert_int_equal(f->rep.created, 2);
	assert_int_equal(f->rep.fixed, 3);
	assert_non_null(strstr(f->said.text, "/queue1/pid: 0755 -> 0700\n"));
	assert_false(tu_exists(tu_path(f->q, "mess/5")));
	assert_false(tu_exists(tu_path(f->q, "lock/sendmutex")));
	assert_int_equal(lstat(tu_path(f->q, "lock/trigger"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(lstat(tu_path(f->q, "pid"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);

	/* a missing directory: its split subdirectories would be made too */
	assert_int_equal(rmdir(tu_path(f->q, "bounce")), 0);
	assert_int_equal(chmod(tu_path(f->q, "remote"), 0700), 0);
	tu_rmtree(tu_path(f->q, "remote"));
	assert_int_equal(run(f, SPLIT, 1), QUEUE_OK);
	assert_int_equal(f->rep.created, 2 + 1 + 1 + SPLIT);
	assert_non_null(strstr(f->said.text, "/queue1/remote/6\n"));
	assert_false(tu_exists(tu_path(f->q, "remote")));
}

static void test_wrong_type(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char *data;

	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_int_equal(rmdir(tu_path(f->q, "mess/6")), 0);
	tu_write(tu_path(f->q, "mess/6"), "keep", 4);
	assert_int_equal(unlink(tu_path(f->q, "lock/tcpto")), 0);
	assert_int_equal(symlink("/etc/passwd", tu_path(f->q, "lock/tcpto")), 0);
	assert_int_equal(chmod(tu_path(f->q, "pid"), 0755), 0);

	assert_int_equal(run(f, SPLIT, 0), QUEUE_ELAYOUT);
	assert_int_equal(f->err.status, QUEUE_ELAYOUT);
	assert_non_null(strstr(f->err.text, "/queue1/mess/6: exists and is not a directory"));
	/* the rest is still repaired, the odd entries are left alone */
	assert_int_equal(f->rep.fixed, 1);
	assert_int_equal(lstat(tu_path(f->q, "pid"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	data = tu_read(tu_path(f->q, "mess/6"), NULL);
	assert_string_equal(data, "keep");
	free(data);
	assert_int_equal(lstat(tu_path(f->q, "lock/tcpto"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	/* the first error is the one returned; the next run reports the other */
	assert_int_equal(unlink(tu_path(f->q, "mess/6")), 0);
	assert_int_equal(run(f, SPLIT, 0), QUEUE_ELAYOUT);
	assert_non_null(strstr(f->err.text, "/queue1/lock/tcpto: exists and is not a file"));
	assert_int_equal(f->rep.created, 1);

	/* a directory where the trigger FIFO goes is replaced: it holds no mail */
	assert_int_equal(unlink(tu_path(f->q, "lock/tcpto")), 0);
	assert_int_equal(unlink(tu_path(f->q, "lock/trigger")), 0);
	assert_int_equal(mkdir(tu_path(f->q, "lock/trigger"), 0755), 0);
	assert_int_equal(run(f, SPLIT, 0), QUEUE_OK);
	assert_non_null(strstr(f->said.text, "/lock/trigger (a directory) with a FIFO\n"));
	check_tree(f->q, SPLIT);
}

static void test_home_errors(void **state)
{
	struct fixture *f = *state;

	tu_write(f->q, "not a queue", 11);
	assert_int_equal(run(f, SPLIT, 0), QUEUE_EHOME);
	assert_non_null(strstr(f->err.text, "/queue1: exists and is not a directory"));
	assert_int_equal(run(f, SPLIT, 1), QUEUE_EHOME);
	unlink(f->q);

	snprintf(f->q, sizeof f->q, "%s/missing/queue1", f->dir);
	assert_int_equal(run(f, SPLIT, 0), QUEUE_EHOME);
	assert_non_null(strstr(f->err.text, "cannot create directory "));
	assert_non_null(strstr(f->err.text, "/missing/queue1: No such file or directory"));

	assert_int_equal(run(f, 0, 0), QUEUE_ECONFIG);
	assert_int_equal(run(f, QUEUE_SPLIT_MAX + 1, 0), QUEUE_ECONFIG);
}

static void test_split_change(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, 3, 0), QUEUE_OK);
	check_tree(f->q, 3);
	assert_int_equal(run(f, 5, 0), QUEUE_OK);
	assert_int_equal(f->rep.created, 4 * 2);
	check_tree(f->q, 5);
	/* a smaller split leaves the extra directories (they may hold mail) */
	assert_int_equal(run(f, 2, 0), QUEUE_OK);
	assert_int_equal(f->rep.created + f->rep.fixed, 0);
	assert_true(tu_exists(tu_path(f->q, "mess/4")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_again_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_change, setup, teardown),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
