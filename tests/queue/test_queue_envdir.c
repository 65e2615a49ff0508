/*
 * test_queue_envdir.c - queue/queue_envdir.c: the installed settings.
 *
 *	find     -C over SLUICE_ENVDIR over the compiled default; an empty
 *	         -C or SLUICE_ENVDIR means none; a compiled default that is
 *	         not a directory is none
 *	apply    envdir(8)'s rules: first line, trailing blanks cut, NUL as
 *	         newline; an empty file unsets; dot files, names with '=' and
 *	         subdirectories skipped; symlinks followed; settings override
 *	         the environment; a missing directory or an unreadable file is
 *	         ECONFIG naming it
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "queue_set.h"

static void test_find(void **state)
{
	char *d = tu_tmpdir("envdir");

	unsetenv("SLUICE_ENVDIR");
	assert_string_equal(queue_envdir_find("/opt", d), "/opt");
	assert_null(queue_envdir_find("", d));
	assert_string_equal(queue_envdir_find(NULL, d), d);
	assert_null(queue_envdir_find(NULL, "/nonexistent/sluice"));
	assert_null(queue_envdir_find(NULL, tu_path(d, "file")));	/* missing */
	tu_write(tu_path(d, "file"), "x", 1);
	assert_null(queue_envdir_find(NULL, tu_path(d, "file")));	/* not a dir */
	setenv("SLUICE_ENVDIR", "/env", 1);
	assert_string_equal(queue_envdir_find(NULL, d), "/env");
	assert_string_equal(queue_envdir_find("/opt", d), "/opt");
	setenv("SLUICE_ENVDIR", "", 1);
	assert_null(queue_envdir_find(NULL, d));
	unsetenv("SLUICE_ENVDIR");
	tu_rmtree(d);
	free(d);
}

static void test_apply(void **state)
{
	char *d = tu_tmpdir("envdir");
	struct queue_err err;

	tu_write(tu_path(d, "QUEUE_BASE"), "/var/qmail/queues  \t\nsecond line\n", 32);
	tu_write(tu_path(d, "NULS"), "a\0b\n", 4);
	tu_write(tu_path(d, "EMPTY"), "", 0);
	tu_write(tu_path(d, ".hidden"), "x\n", 2);
	tu_write(tu_path(d, "target"), "linked\n", 7);
	assert_int_equal(symlink("target", tu_path(d, "LINK")), 0);
	assert_int_equal(mkdir(tu_path(d, "SUBDIR"), 0755), 0);
	setenv("EMPTY", "was set", 1);
	setenv("QUEUE_BASE", "/from/the/environment", 1);
	unsetenv(".hidden");
	assert_int_equal(queue_envdir_apply(d, &err), QUEUE_OK);
	assert_string_equal(getenv("QUEUE_BASE"), "/var/qmail/queues");
	assert_string_equal(getenv("NULS"), "a\nb");
	assert_null(getenv("EMPTY"));
	assert_null(getenv(".hidden"));
	assert_string_equal(getenv("LINK"), "linked");
	assert_null(getenv("SUBDIR"));

	assert_int_equal(queue_envdir_apply(tu_path(d, "missing"), &err), QUEUE_ECONFIG);
	assert_non_null(strstr(err.text, "missing: No such file or directory"));
	assert_int_equal(symlink("nowhere", tu_path(d, "DANGLING")), 0);
	assert_int_equal(queue_envdir_apply(d, &err), QUEUE_ECONFIG);
	assert_non_null(strstr(err.text, "DANGLING"));
	tu_rmtree(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_apply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
