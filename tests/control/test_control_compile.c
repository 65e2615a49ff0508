/*
 * test_control_compile.c - control/control_compile.c and control_cdb.c:
 *	simcontrol -> simcontrol.cdb and back.
 *
 *	roundtrip   data/compile-roundtrip.in compiled and dumped gives
 *	            data/compile-roundtrip.ref (written by hand: comments
 *	            gone, keys and values lowercased as simscanmk does except
 *	            regex= and quarantine=, the duplicate left out, CRLF gone);
 *	            that dump compiled and dumped again is the same
 *	tinycdb     tinycdb's own `cdb -q` finds the records (simscan reads
 *	            the file the same way), `cdb -d` lists exactly them, the
 *	            file is 0644
 *	check-only  compiling with check_only writes nothing, and leaves an
 *	            existing CDB as it was (same inode, same bytes)
 *	failed      a text with errors, and a write that fails (RLIMIT_FSIZE in
 *	            a child, so the disk "fills"), leave the old CDB in place,
 *	            readable and unchanged, and no temp file
 *	missing     no source: 1, nothing written
 *	dump        a CDB record no simcontrol line can express (':' in the
 *	            key, a newline) is refused, a non-CDB is refused
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cdb.h>

#include "testutil.h"
#include "control.h"

static void put(const char *path, const char *text)
{
	tu_write(path, text, strlen(text));
}

static struct control_options opts(const char *dir)
{
	struct control_options o = { .dir = dir, .applies = CONTROL_APPLY_ALL };

	return o;
}

/* dump - a CDB as text, through a temp file */
static char *dump(const char *dir, const char *cdb, int *rc)
{
	const char *out = tu_path(dir, "dump.out");
	char err[1024];
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char *text;

	assert_true(fd >= 0);
	*rc = control_cdb_dump(cdb, fd, err, sizeof err);
	close(fd);
	if (*rc)
		print_message("dump: %s\n", err);
	text = tu_read(out, NULL);
	unlink(out);
	return text;
}

/* no_temp - nothing but the names given in dir */
static void only(const char *dir, const char *const *names)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t i;

		if (e->d_name[0] == '.')
			continue;
		for (i = 0; names[i]; i++)
			if (!strcmp(e->d_name, names[i]))
				break;
		if (!names[i])
			fail_msg("unexpected file %s in %s", e->d_name, dir);
	}
	closedir(d);
}

static void test_roundtrip(void **state)
{
	char *dir = tu_tmpdir("compile"), err[1024], in[4096], ref[4096];
	struct control_options o = opts(dir);
	char *src, *want, *got, *again;
	int rc;

	snprintf(in, sizeof in, "%s/compile-roundtrip.in", TEST_DATA_DIR);
	snprintf(ref, sizeof ref, "%s/compile-roundtrip.ref", TEST_DATA_DIR);
	src = tu_read(in, NULL);
	want = tu_read(ref, NULL);
	assert_non_null(src);
	assert_non_null(want);
	tu_write(tu_path(dir, "simcontrol"), src, strlen(src));
	rc = control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"), 0, &o, err,
			     sizeof err);
	if (rc)
		fail_msg("compile: %s", err);
	got = dump(dir, tu_path(dir, "simcontrol.cdb"), &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(got, want);
	/* the dump is a simcontrol that compiles to the same records */
	tu_write(tu_path(dir, "again"), got, strlen(got));
	assert_int_equal(control_compile(tu_path(dir, "again"), tu_path(dir, "again.cdb"), 0, &o, err,
					 sizeof err), 0);
	again = dump(dir, tu_path(dir, "again.cdb"), &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(again, got);
	{
		const char *const names[] = { "simcontrol", "simcontrol.cdb", "again", "again.cdb", NULL };

		only(dir, names);
	}
	free(src);
	free(want);
	free(got);
	free(again);
	tu_rmtree(dir);
	free(dir);
}

static char *run(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	char buf[8192];
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	if (pclose(f) != 0)
		fail_msg("`%s` failed (is tinycdb's cdb installed?)", cmd);
	return strdup(buf);
}

static void test_tinycdb(void **state)
{
	char *dir = tu_tmpdir("compile"), err[1024], cmd[8192], *out;
	struct control_options o = opts(dir);
	const char text[] = ":clam=yes\nExample.com:clam=no,spam=yes\nA@Example.com:attach=.EXE\n";
	struct stat st;

	tu_write(tu_path(dir, "simcontrol"), text, strlen(text));
	assert_int_equal(control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"),
					 0, &o, err, sizeof err), 0);
	assert_int_equal(stat(tu_path(dir, "simcontrol.cdb"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	snprintf(cmd, sizeof cmd, "cdb -q '%s/simcontrol.cdb' example.com", dir);
	out = run(cmd);
	assert_string_equal(out, "clam=no,spam=yes");
	free(out);
	snprintf(cmd, sizeof cmd, "cdb -q '%s/simcontrol.cdb' a@example.com", dir);
	out = run(cmd);
	assert_string_equal(out, "attach=.exe");
	free(out);
	snprintf(cmd, sizeof cmd, "cdb -q '%s/simcontrol.cdb' ''", dir);
	out = run(cmd);
	assert_string_equal(out, "clam=yes");
	free(out);
	snprintf(cmd, sizeof cmd, "cdb -d '%s/simcontrol.cdb'", dir);
	out = run(cmd);
	assert_string_equal(out, "+0,8:->clam=yes\n+11,16:example.com->clam=no,spam=yes\n"
				 "+13,11:a@example.com->attach=.exe\n\n");
	free(out);
	tu_rmtree(dir);
	free(dir);
}

static void same_file(const char *path, const struct stat *before, const char *bytes, size_t len)
{
	struct stat st;
	size_t n;
	char *now;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_ino, before->st_ino);
	assert_int_equal(st.st_mtim.tv_nsec, before->st_mtim.tv_nsec);
	assert_int_equal(st.st_mtim.tv_sec, before->st_mtim.tv_sec);
	now = tu_read(path, &n);
	assert_int_equal(n, len);
	assert_memory_equal(now, bytes, len);
	free(now);
}

static void test_check_only(void **state)
{
	char *dir = tu_tmpdir("compile"), err[1024];
	struct control_options o = opts(dir);
	struct stat st;
	char *old;
	size_t oldlen;

	put(tu_path(dir, "simcontrol"), ":clam=yes\n");
	assert_int_equal(control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"),
					 1, &o, err, sizeof err), 0);
	assert_false(tu_exists(tu_path(dir, "simcontrol.cdb")));
	assert_int_equal(control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"),
					 0, &o, err, sizeof err), 0);
	assert_int_equal(stat(tu_path(dir, "simcontrol.cdb"), &st), 0);
	old = tu_read(tu_path(dir, "simcontrol.cdb"), &oldlen);
	put(tu_path(dir, "simcontrol"), ":clam=no\nnew.example:spam=yes\n");
	assert_int_equal(control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"),
					 1, &o, err, sizeof err), 0);
	same_file(tu_path(dir, "simcontrol.cdb"), &st, old, oldlen);
	/* check_only still finds the errors */
	put(tu_path(dir, "simcontrol"), ":clam=perhaps\n");
	assert_int_equal(control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"),
					 1, &o, err, sizeof err), 1);
	assert_non_null(strstr(err, "simcontrol:1: bad value 'perhaps'"));
	same_file(tu_path(dir, "simcontrol.cdb"), &st, old, oldlen);
	free(old);
	tu_rmtree(dir);
	free(dir);
}

/* big - a simcontrol whose CDB is far above 8 KiB */
static char *big(void)
{
	size_t cap = 200000, n = 0;
	char *t = malloc(cap);
	int i;

	n += (size_t)snprintf(t, cap, ":clam=yes\n");
	for (i = 0; i < 3000; i++)
		n += (size_t)snprintf(t + n, cap - n, "domain%d.example:clam=no,spam=yes\n", i);
	return t;
}

static void test_failed(void **state)
{
	char *dir = tu_tmpdir("compile"), err[1024];
	struct control_options o = opts(dir);
	const char *const names[] = { "simcontrol", "simcontrol.cdb", NULL };
	struct stat st;
	char *old, *text;
	size_t oldlen;
	pid_t pid;
	int status;

	put(tu_path(dir, "simcontrol"), ":clam=yes\nold.example:clam=no\n");
	assert_int_equal(control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"),
					 0, &o, err, sizeof err), 0);
	assert_int_equal(stat(tu_path(dir, "simcontrol.cdb"), &st), 0);
	old = tu_read(tu_path(dir, "simcontrol.cdb"), &oldlen);

	/* errors in the text: nothing written */
	put(tu_path(dir, "simcontrol"), ":clam=yes\nnew.example:clam=nope\n");
	assert_int_equal(control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"),
					 0, &o, err, sizeof err), 1);
	same_file(tu_path(dir, "simcontrol.cdb"), &st, old, oldlen);
	only(dir, names);

	/* the disk fills while writing: -1, the temp file removed */
	text = big();
	tu_write(tu_path(dir, "simcontrol"), text, strlen(text));
	free(text);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 8192, 8192 };
		char e2[1024];
		int r;

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		r = control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"), 0, &o,
				    e2, sizeof e2);
		fprintf(stderr, "child: compile %d: %s\n", r, e2);
		_exit(r == -1 && strstr(e2, ".tmp.") && strstr(e2, "File too large") ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	same_file(tu_path(dir, "simcontrol.cdb"), &st, old, oldlen);
	only(dir, names);
	/* and the old CDB still loads */
	unlink(tu_path(dir, "simcontrol"));
	{
		struct control_policy *p = control_policy_open(&o, err, sizeof err);

		assert_non_null(p);
		control_policy_unref(p);
	}
	free(old);
	tu_rmtree(dir);
	free(dir);
}

static void test_missing(void **state)
{
	char *dir = tu_tmpdir("compile"), err[1024];
	struct control_options o = opts(dir);

	assert_int_equal(control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"),
					 0, &o, err, sizeof err), 1);
	assert_non_null(strstr(err, "simcontrol: no such file"));
	assert_false(tu_exists(tu_path(dir, "simcontrol.cdb")));
	tu_rmtree(dir);
	free(dir);
}

static void test_dump_refused(void **state)
{
	char *dir = tu_tmpdir("compile"), *t;
	struct cdb_make cm;
	int fd, rc;

	fd = open(tu_path(dir, "x.cdb"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cdb_make_start(&cm, fd);
	cdb_make_add(&cm, "good", 4, "clam=yes", 8);
	cdb_make_add(&cm, "a:b", 3, "clam=yes", 8);
	cdb_make_finish(&cm);
	close(fd);
	t = dump(dir, tu_path(dir, "x.cdb"), &rc);
	assert_int_equal(rc, 1);
	free(t);
	fd = open(tu_path(dir, "y.cdb"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cdb_make_start(&cm, fd);
	cdb_make_add(&cm, "k", 1, "a\nb", 3);
	cdb_make_finish(&cm);
	close(fd);
	t = dump(dir, tu_path(dir, "y.cdb"), &rc);
	assert_int_equal(rc, 1);
	free(t);
	tu_write(tu_path(dir, "z.cdb"), "garbage", 7);
	t = dump(dir, tu_path(dir, "z.cdb"), &rc);
	assert_int_equal(rc, 1);
	free(t);
	t = dump(dir, tu_path(dir, "missing.cdb"), &rc);
	assert_int_equal(rc, -1);
	free(t);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_tinycdb),
		cmocka_unit_test(test_check_only),
		cmocka_unit_test(test_failed),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_dump_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
