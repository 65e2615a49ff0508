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
 *	read     the same rules, into a list, the environment untouched: a
 *	         file of one newline is "" (set, empty), an empty file NULL
 *	         (unset); a CR stays (envdir cuts spaces and tabs only); a
 *	         first line of 16384 bytes is taken, one byte more is ECONFIG
 *	         naming the file (not a value cut short), also when the file
 *	         goes on after it; a FIFO or a device (a symlink to
 *	         /dev/zero) is ECONFIG naming it, at once; lookup finds by
 *	         exact name; a symlink to a directory is skipped, one to
 *	         nothing is an error; an empty directory is an empty list
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

/* value - the value of name as read (NULL: unset), failing when absent */
static const char *value(const struct queue_envdir *ed, const char *name)
{
	const struct queue_envvar *v = queue_envdir_lookup(ed, name);

	if (!v)
		fail_msg("%s not read", name);
	return v->value;
}

static void test_read(void **state)
{
	char *d = tu_tmpdir("envdir"), *big = malloc(QUEUE_ENVDIR_LINE_MAX + 10);
	struct queue_envdir ed;
	struct queue_err err;

	tu_write(tu_path(d, "FIRST"), "one \t \ntwo\n", 10);
	tu_write(tu_path(d, "NULS"), "a\0b\0\n", 5);
	tu_write(tu_path(d, "EMPTY"), "", 0);
	tu_write(tu_path(d, "NEWLINE"), "\n", 1);
	tu_write(tu_path(d, "BLANKS"), "  \t\n", 4);
	tu_write(tu_path(d, "NOEOL"), "60", 2);
	tu_write(tu_path(d, "CRLF"), "60\r\n", 4);
	tu_write(tu_path(d, ".hidden"), "x\n", 2);
	tu_write(tu_path(d, "A=B"), "x\n", 2);
	tu_write(tu_path(d, "target"), "linked\n", 7);
	assert_int_equal(symlink("target", tu_path(d, "LINK")), 0);
	assert_int_equal(mkdir(tu_path(d, "SUBDIR"), 0755), 0);
	assert_int_equal(symlink("SUBDIR", tu_path(d, "DIRLINK")), 0);
	memset(big, 'x', QUEUE_ENVDIR_LINE_MAX);
	big[QUEUE_ENVDIR_LINE_MAX] = '\n';
	tu_write(tu_path(d, "LONG"), big, QUEUE_ENVDIR_LINE_MAX + 1);
	setenv("FIRST", "from the environment", 1);
	assert_int_equal(queue_envdir_read(d, &ed, &err), QUEUE_OK);
	assert_string_equal(value(&ed, "FIRST"), "one");
	assert_memory_equal(value(&ed, "NULS"), "a\nb\n", 5);
	assert_null(value(&ed, "EMPTY"));
	assert_string_equal(value(&ed, "NEWLINE"), "");
	assert_string_equal(value(&ed, "BLANKS"), "");
	assert_string_equal(value(&ed, "NOEOL"), "60");
	assert_string_equal(value(&ed, "CRLF"), "60\r");
	assert_string_equal(value(&ed, "LINK"), "linked");
	assert_int_equal(strlen(value(&ed, "LONG")), QUEUE_ENVDIR_LINE_MAX);
	assert_null(queue_envdir_lookup(&ed, ".hidden"));
	assert_null(queue_envdir_lookup(&ed, "A=B"));
	assert_null(queue_envdir_lookup(&ed, "SUBDIR"));
	assert_null(queue_envdir_lookup(&ed, "DIRLINK"));
	assert_null(queue_envdir_lookup(&ed, "first"));
	assert_null(queue_envdir_lookup(&ed, "FIRS"));
	assert_null(queue_envdir_lookup(NULL, "FIRST"));
	assert_int_equal(ed.n, 10);	/* FIRST ... LONG, and target itself */
	/* read, not applied */
	assert_string_equal(getenv("FIRST"), "from the environment");
	unsetenv("FIRST");
	queue_envdir_free(&ed);
	assert_int_equal(ed.n, 0);

	/* one byte more than a first line may hold: an error naming the file,
	 * with or without more lines after it */
	big[QUEUE_ENVDIR_LINE_MAX] = 'x';
	tu_write(tu_path(d, "LONG"), big, QUEUE_ENVDIR_LINE_MAX + 1);
	assert_int_equal(queue_envdir_read(d, &ed, &err), QUEUE_ECONFIG);
	assert_non_null(strstr(err.text, "/LONG: first line longer than 16384 bytes"));
	assert_int_equal(ed.n, 0);
	big[QUEUE_ENVDIR_LINE_MAX + 1] = '\n';
	tu_write(tu_path(d, "LONG"), big, QUEUE_ENVDIR_LINE_MAX + 2);
	assert_int_equal(queue_envdir_read(d, &ed, &err), QUEUE_ECONFIG);
	unlink(tu_path(d, "LONG"));

	/* a FIFO (no writer: opening it for reading would wait for ever) and
	 * a device are refused, naming them */
	assert_int_equal(mkfifo(tu_path(d, "FIFO"), 0600), 0);
	assert_int_equal(queue_envdir_read(d, &ed, &err), QUEUE_ECONFIG);
	assert_non_null(strstr(err.text, "/FIFO: not a regular file"));
	unlink(tu_path(d, "FIFO"));
	assert_int_equal(symlink("/dev/zero", tu_path(d, "ZERO")), 0);
	assert_int_equal(queue_envdir_read(d, &ed, &err), QUEUE_ECONFIG);
	assert_non_null(strstr(err.text, "/ZERO: not a regular file"));
	unlink(tu_path(d, "ZERO"));

	/* a dangling symlink: an error naming it; a missing directory too */
	assert_int_equal(symlink("nowhere", tu_path(d, "DANGLING")), 0);
	assert_int_equal(queue_envdir_read(d, &ed, &err), QUEUE_ECONFIG);
	assert_non_null(strstr(err.text, "DANGLING: No such file or directory"));
	assert_int_equal(ed.n, 0);
	assert_int_equal(queue_envdir_read(tu_path(d, "missing"), &ed, &err), QUEUE_ECONFIG);
	assert_non_null(strstr(err.text, "cannot open settings directory"));
	assert_non_null(strstr(err.text, "missing: No such file or directory"));
	/* an empty directory: nothing, no error */
	assert_int_equal(queue_envdir_read(tu_path(d, "SUBDIR"), &ed, &err), QUEUE_OK);
	assert_int_equal(ed.n, 0);
	queue_envdir_free(&ed);
	tu_rmtree(d);
	free(d);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
