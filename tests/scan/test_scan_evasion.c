/*
 * test_scan_evasion.c - the attach backend (scan/scan_attach.c and the
 * MIME walker) and the clamav backend with the banned list applied to what
 * libclamav unpacks (scan/scan_clamav.c), against the evasion corpus.
 *
 * The corpus is written at test time by tests/scan/evasion/mkevasion.py
 * (python3; 7z, gcab, xorriso, genisoimage, arj and cpio for those
 * containers: a program missing fails the test, naming its package) into
 * a temp dir: one
 * class of evasion per group of messages, several variants each, and clean
 * look-alikes.  Its MANIFEST gives, per message, the verdict both
 * scanners together must reach, and what each alone must say where that
 * scanner is the one that catches the class ("-": not asserted).  The
 * table of who caught what is printed.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan/scan.h"

#define SHIPPED_DB	SLUICE_SOURCE_DIR "/scan/db"
#define GENERATOR	SLUICE_SOURCE_DIR "/tests/scan/evasion/mkevasion.py"

static char *dir;
static void *attach, *clamav;

static int setup(void **unused)
{
	char cmd[1024], err[1024];
	struct scan_config cfg = { .clamdb = SHIPPED_DB, .clamav_banned = 1 };

	dir = tu_tmpdir("evasion");
	snprintf(cmd, sizeof cmd, "python3 %s %s", GENERATOR, dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "%s failed\n", cmd);
		return -1;
	}
	if (scan_backend_attach.init(&attach, &cfg, err, sizeof err) != 0 ||
	    scan_backend_clamav.init(&clamav, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "init: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **unused)
{
	scan_backend_attach.fini(attach);
	scan_backend_clamav.fini(clamav);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static struct scan_verdict scan(const struct scan_backend *b, void *st, const char *path)
{
	struct scan_input in = { .fd = open(path, O_RDONLY) };
	struct scan_verdict v;
	struct stat sb;

	if (in.fd < 0 || fstat(in.fd, &sb) < 0)
		fail_msg("open %s", path);
	in.size = sb.st_size;
	memset(&v, 0x55, sizeof v);
	b->scan(st, &in, &v);
	close(in.fd);
	return v;
}

static enum scan_kind kind_of(const char *s)
{
	return !strcmp(s, "banned") ? SCAN_BANNED : !strcmp(s, "limit") ? SCAN_LIMIT : SCAN_CLEAN;
}

static void test_corpus(void **unused)
{
	char *manifest = tu_read(tu_path(dir, "MANIFEST"), NULL), *line, *save = NULL;
	int bad = 0, n = 0, missing = 0;

	assert_non_null(manifest);
	for (line = strtok_r(manifest, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], merged[16], walker[16], clam[16], path[1024];
		struct scan_verdict a, c, m;
		int what = 0, ok;

		if (line[0] == '#') {	/* a program the corpus needs is not installed */
			print_error("  %s\n", line);
			missing++;
			continue;
		}
		if (sscanf(line, "%127s %15s %15s %15s %n", name, merged, walker, clam, &what) != 4)
			fail_msg("MANIFEST: %s", line);
		snprintf(path, sizeof path, "%s/%s.eml", dir, name);
		a = scan(&scan_backend_attach, attach, path);
		c = scan(&scan_backend_clamav, clamav, path);
		m = a;
		scan_verdict_merge(&m, &c);
		ok = m.kind == kind_of(merged) && (*walker == '-' || a.kind == kind_of(walker)) &&
		     (*clam == '-' || c.kind == kind_of(clam));
		/* a verdict's reason is in words, never empty, for what stops mail */
		ok = ok && (m.kind == SCAN_CLEAN || m.name[0]);
		print_message("  %-24s %-6s walker %-6s %-40.40s clamav %-6s %.40s%s\n", name,
			      scan_kind_name(m.kind), scan_kind_name(a.kind), a.name,
			      scan_kind_name(c.kind), c.name, ok ? "" : "  <-- WRONG");
		if (!ok) {
			print_error("%s (%s): want %s (walker %s, clamav %s)\n", name, line + what, merged,
				    walker, clam);
			bad++;
		}
		n++;
	}
	free(manifest);
	print_message("  %d messages, %d wrong, %d not written\n", n, bad, missing);
	assert_true(n >= 100);
	assert_int_equal(bad, 0);
	/* services/install-deps installs every program mkevasion.py uses */
	assert_int_equal(missing, 0);
}

/*
 * Encrypted archives: their member names count when they show; with
 * clamav_encrypted (SLUICE_ENCRYPTED=limit) an archive nobody can open is
 * SCAN_LIMIT, without it the admin chose to let it pass.
 */
static void test_encrypted(void **unused)
{
	char *list = tu_read(tu_path(dir, "ENCRYPTED"), NULL), *line, *save = NULL, err[1024];
	struct scan_config cfg = { .clamdb = SHIPPED_DB, .clamav_banned = 1, .clamav_encrypted = 1 };
	void *enc;
	int n = 0, bad = 0;

	assert_non_null(list);
	assert_int_equal(scan_backend_clamav.init(&enc, &cfg, err, sizeof err), 0);
	for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], plain[16], limit[16], path[1024];
		struct scan_verdict a, c, ce, m, me;

		if (line[0] == '#')
			fail_msg("%s (services/install-deps installs p7zip-full)", line);
		assert_int_equal(sscanf(line, "%127s %15s %15s", name, plain, limit), 3);
		snprintf(path, sizeof path, "%s/%s.eml", dir, name);
		a = scan(&scan_backend_attach, attach, path);
		c = scan(&scan_backend_clamav, clamav, path);
		ce = scan(&scan_backend_clamav, enc, path);
		m = a;
		scan_verdict_merge(&m, &c);
		me = a;
		scan_verdict_merge(&me, &ce);
		print_message("  %-16s pass: %-6s %-30.30s limit: %-6s %.50s\n", name, scan_kind_name(m.kind),
			      m.name, scan_kind_name(me.kind), me.name);
		if (m.kind != kind_of(plain) || me.kind != kind_of(limit)) {
			print_error("%s: want %s / %s\n", name, plain, limit);
			bad++;
		}
		n++;
	}
	scan_backend_clamav.fini(enc);
	free(list);
	assert_int_equal(bad, 0);
	assert_true(n >= 5);
}

/*
 * libclamav's clean-file cache must not turn a limit into clean: a message
 * too deep to scan whole stays SCAN_LIMIT after a message embedded in it
 * was scanned clean on its own, and on every later try.
 */
static void test_limit_cache(void **unused)
{
	/* (a text-only leaf is not nested as deep by libclamav: it needs an attachment) */
	const char *leaf = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"l\"\n\n--l\n"
			   "Content-Type: application/octet-stream; name=\"data.bin\"\n"
			   "Content-Transfer-Encoding: base64\n\nAAECAwQFBgcICQ==\n--l--\n";
	size_t cap = 1 << 16, len = strlen(leaf), i, inner_at = 0;
	char *msg = malloc(cap), *tmp = malloc(cap);
	const char *deep = tu_path(dir, "deep.eml");
	char deep_path[1024], inner_path[1024];
	struct scan_verdict v;
	int round;

	assert_non_null(msg);
	assert_non_null(tmp);
	strcpy(msg, leaf);
	/* 20 forwards: beyond MaxRecursion 17; remember the first embedded message */
	for (i = 1; i <= 20; i++) {
		int k = snprintf(tmp, cap, "Subject: fwd %zu\nMIME-Version: 1.0\n"
				 "Content-Type: multipart/mixed; boundary=\"f%zu\"\n\n--f%zu\n"
				 "Content-Type: text/plain\n\nforwarded\n\n--f%zu\n"
				 "Content-Type: message/rfc822\n\n%s\n--f%zu--\n", i, i, i, i, msg, i);

		assert_true(k > 0 && (size_t)k < cap);
		if (i == 20)
			inner_at = (size_t)(strstr(tmp, "rfc822\n\n") - tmp) + 8;
		memcpy(msg, tmp, (size_t)k + 1);
		len = (size_t)k;
	}
	snprintf(deep_path, sizeof deep_path, "%s", deep);
	tu_write(deep_path, msg, len);
	snprintf(inner_path, sizeof inner_path, "%s", tu_path(dir, "inner.eml"));
	tu_write(inner_path, msg + inner_at, strlen(msg + inner_at) - strlen("\n--f20--\n"));

	v = scan(&scan_backend_clamav, clamav, deep_path);
	assert_int_equal(v.kind, SCAN_LIMIT);
	assert_string_equal(v.name, "MIME or archive nesting too deep (Heuristics.Limits.Exceeded.MaxRecursion)");
	for (round = 0; round < 3; round++) {
		v = scan(&scan_backend_clamav, clamav, inner_path);	/* 19 deep: still too deep */
		assert_int_equal(v.kind, SCAN_LIMIT);
		v = scan(&scan_backend_clamav, clamav, deep_path);
		assert_int_equal(v.kind, SCAN_LIMIT);
	}
	/* the same with an embedded message shallow enough to be clean alone */
	{
		const char *p = msg;

		for (i = 0; i < 6; i++)	/* the 6th embedded message: 14 deep */
			p = strstr(p, "rfc822\n\n") + 8;
		snprintf(inner_path, sizeof inner_path, "%s", tu_path(dir, "inner14.eml"));
		tu_write(inner_path, p, strlen(p) - 6 * strlen("\n--fNN--\n"));
	}
	for (round = 0; round < 3; round++) {
		v = scan(&scan_backend_clamav, clamav, inner_path);
		assert_int_equal(v.kind, SCAN_CLEAN);
		v = scan(&scan_backend_clamav, clamav, deep_path);
		assert_int_equal(v.kind, SCAN_LIMIT);
	}
	free(msg);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_encrypted),
		cmocka_unit_test(test_limit_cache),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
