/*
 * test_sluice-cdb.c - control/sluice-cdb.c, the program: arguments, output
 *	and exit codes as sluice-cdb(8) documents them.
 *
 *	help        --help exits 0 and names the options and exit codes
 *	compile     no FILE: $SLUICE_CONTROL/simcontrol -> simcontrol.cdb and
 *	            ssattach checked; -c DIR the same; FILE -> FILE.cdb
 *	-n          checks, writes nothing
 *	errors      exit 1, every error on stderr as "file:line: ...",
 *	            warnings marked, nothing written, no temp file
 *	ssattach    a bad ssattach makes the whole run exit 1
 *	-d          prints the records; a non-CDB exits 1, a missing file 111
 *	usage       unknown options, -d with files: exit 100
 *	I/O         a CDB path that is a directory: exit 111, no temp file
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

struct out {
	int rc;
	char *out, *err;
};

/* run - sluice-cdb with args (NULL-terminated), env SLUICE_CONTROL=dir */
static struct out run(const char *dir, const char *const *args)
{
	char prog[4096], o[4096], e[4096];
	const char *argv[16];
	struct out r;
	pid_t pid;
	int st, i;

	snprintf(prog, sizeof prog, "%s/control/sluice-cdb", SLUICE_BINARY_DIR);
	snprintf(o, sizeof o, "%s/.stdout", dir);
	snprintf(e, sizeof e, "%s/.stderr", dir);
	argv[0] = prog;
	for (i = 0; args[i]; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fo, 1);
		dup2(fe, 2);
		setenv("SLUICE_CONTROL", dir, 1);
		unsetenv("SLUICE_POLICY_SENDER");
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	r.rc = WEXITSTATUS(st);
	r.out = tu_read(o, NULL);
	r.err = tu_read(e, NULL);
	unlink(o);
	unlink(e);
	return r;
}

static void done(struct out *r)
{
	free(r->out);
	free(r->err);
}

static void put(const char *path, const char *text)
{
	tu_write(path, text, strlen(text));
}

static void test_help(void **state)
{
	char *dir = tu_tmpdir("cdbcli");
	const char *a[] = { "--help", NULL };
	struct out r = run(dir, a);

	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "usage: sluice-cdb [-n] [-c DIR] [FILE ...]"));
	assert_non_null(strstr(r.out, "-d FILE"));
	assert_non_null(strstr(r.out, "111 temporary failure"));
	done(&r);
	tu_rmtree(dir);
	free(dir);
}

static void test_compile(void **state)
{
	char *dir = tu_tmpdir("cdbcli"), *sub;
	const char *none[] = { NULL };
	struct out r;

	put(tu_path(dir, "simcontrol"), ":clam=yes\nexample.com:clam=no,trophie=yes\n");
	put(tu_path(dir, "ssattach"), ".exe\n");
	r = run(dir, none);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "simcontrol: compiled"));
	assert_non_null(strstr(r.out, "ssattach: ok"));
	assert_non_null(strstr(r.err, "sluice-cdb: warning: "));
	assert_non_null(strstr(r.err, "simcontrol:2: trophie= ignored"));
	assert_true(tu_exists(tu_path(dir, "simcontrol.cdb")));
	done(&r);
	{
		const char *a[] = { "-d", tu_path(dir, "simcontrol.cdb"), NULL };

		r = run(dir, a);
		assert_int_equal(r.rc, 0);
		assert_string_equal(r.out, ":clam=yes\nexample.com:clam=no,trophie=yes\n");
		done(&r);
	}
	/* -c DIR, and a FILE argument */
	sub = strdup(tu_path(dir, "sub"));
	mkdir(sub, 0755);
	put(tu_path(sub, "simcontrol"), ":spam=yes\n");
	{
		const char *a[] = { "-c", sub, NULL };

		r = run(dir, a);
		assert_int_equal(r.rc, 0);
		assert_true(tu_exists(tu_path(sub, "simcontrol.cdb")));
		done(&r);
	}
	put(tu_path(sub, "other"), ":clam=no\n");
	{
		const char *a[] = { tu_path(sub, "other"), NULL };

		r = run(dir, a);
		assert_int_equal(r.rc, 0);
		assert_true(tu_exists(tu_path(sub, "other.cdb")));
		done(&r);
	}
	free(sub);
	tu_rmtree(dir);
	free(dir);
}

static void test_check_only(void **state)
{
	char *dir = tu_tmpdir("cdbcli");
	const char *a[] = { "-n", NULL };
	struct out r;

	put(tu_path(dir, "simcontrol"), ":clam=yes\n");
	r = run(dir, a);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "simcontrol: ok"));
	assert_false(tu_exists(tu_path(dir, "simcontrol.cdb")));
	done(&r);
	tu_rmtree(dir);
	free(dir);
}

static void test_errors(void **state)
{
	char *dir = tu_tmpdir("cdbcli");
	const char *none[] = { NULL }, *check[] = { "-n", NULL };
	struct out r;
	char want[4200];

	put(tu_path(dir, "simcontrol"), ":clam=yes\nexample.com:calm=yes\nbroken\n"
					 "x.example:spam_hits=high\n");
	r = run(dir, none);
	assert_int_equal(r.rc, 1);
	snprintf(want, sizeof want, "sluice-cdb: %s/simcontrol:2: unknown parameter 'calm'\n", dir);
	assert_non_null(strstr(r.err, want));
	snprintf(want, sizeof want, "sluice-cdb: %s/simcontrol:3: malformed line", dir);
	assert_non_null(strstr(r.err, want));
	snprintf(want, sizeof want, "sluice-cdb: %s/simcontrol:4: bad value 'high' for spam_hits=",
		 dir);
	assert_non_null(strstr(r.err, want));
	assert_false(tu_exists(tu_path(dir, "simcontrol.cdb")));
	assert_int_equal(tu_count(dir), 1);	/* simcontrol only: no temp file */
	done(&r);
	r = run(dir, check);
	assert_int_equal(r.rc, 1);
	done(&r);
	/* a good simcontrol and a bad ssattach: 1 */
	put(tu_path(dir, "simcontrol"), ":clam=yes\n");
	put(tu_path(dir, "ssattach"), ".exe\n.c/m\n");
	r = run(dir, none);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "ssattach:2: bad name suffix '.c/m'"));
	done(&r);
	/* no simcontrol: 1 */
	unlink(tu_path(dir, "simcontrol"));
	unlink(tu_path(dir, "simcontrol.cdb"));
	unlink(tu_path(dir, "ssattach"));
	r = run(dir, none);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "simcontrol: no such file"));
	done(&r);
	tu_rmtree(dir);
	free(dir);
}

static void test_dump_and_usage(void **state)
{
	char *dir = tu_tmpdir("cdbcli");
	struct out r;

	put(tu_path(dir, "junk.cdb"), "junk");
	{
		const char *a[] = { "-d", tu_path(dir, "junk.cdb"), NULL };

		r = run(dir, a);
		assert_int_equal(r.rc, 1);
		assert_non_null(strstr(r.err, "not a CDB"));
		done(&r);
	}
	{
		const char *a[] = { "-d", tu_path(dir, "missing.cdb"), NULL };

		r = run(dir, a);
		assert_int_equal(r.rc, 111);
		done(&r);
	}
	{
		const char *a[] = { "-x", NULL };

		r = run(dir, a);
		assert_int_equal(r.rc, 100);
		assert_non_null(strstr(r.err, "usage:"));
		done(&r);
	}
	{
		const char *a[] = { "-d", "a.cdb", "b", NULL };

		r = run(dir, a);
		assert_int_equal(r.rc, 100);
		done(&r);
	}
	tu_rmtree(dir);
	free(dir);
}

static void test_io(void **state)
{
	char *dir = tu_tmpdir("cdbcli");
	const char *none[] = { NULL };
	struct out r;

	put(tu_path(dir, "simcontrol"), ":clam=yes\n");
	assert_int_equal(mkdir(tu_path(dir, "simcontrol.cdb"), 0755), 0);
	r = run(dir, none);
	assert_int_equal(r.rc, 111);
	assert_non_null(strstr(r.err, "rename failed"));
	assert_int_equal(tu_count(dir), 2);	/* simcontrol and the directory: no temp */
	done(&r);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_compile),
		cmocka_unit_test(test_check_only),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_dump_and_usage),
		cmocka_unit_test(test_io),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
