/*
 * test_scan_clamav.c - the clamav backend (scan/scan_clamav.c) against the
 * real libclamav, the shipped starter DB (scan/db) and DBs written by
 * sluice-sigdb.  Every DB a test changes is a copy in a temp dir.
 *
 * The mails are tests/scan/data/clamav_*.eml: EICAR in a plain body, in a
 * base64 attachment, quoted-printable (every byte encoded, so the raw file
 * does not hold the string), in a zip attachment and in a nested
 * message/rfc822; and a clean corpus (text, HTML newsletter, PDF, inline
 * PNG, zip of text, docx, bounce, calendar invitation).  They were written
 * once with python3; the test needs no python.
 */
#include "testutil.h"

#include <clamav.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scan/scan_int.h"

#define SHIPPED_DB	SLUICE_SOURCE_DIR "/scan/db"
#define SIGDB		SLUICE_BINARY_DIR "/scan/sluice-sigdb"
#define DATA(name)	TEST_DATA_DIR "/" name
#define EICAR_NDB	"Sluice.Test.EICAR.UNOFFICIAL"
#define EICAR_HDB	"Sluice.Test.EICAR.Hash.UNOFFICIAL"

static const char *const eicar_mails[] = {
	"clamav_eicar_plain.eml", "clamav_eicar_base64.eml", "clamav_eicar_qp.eml",
	"clamav_eicar_zip.eml", "clamav_eicar_rfc822.eml",
};

static const struct scan_backend *clam = &scan_backend_clamav;

static void *load(const char *dir)
{
	struct scan_config cfg = { .clamdb = dir };
	char err[1024] = "";
	void *state = NULL;

	if (clam->init(&state, &cfg, err, sizeof err) != 0)
		fail_msg("init %s: %s", dir, err);
	assert_non_null(state);
	return state;
}

static void scan_fd(void *state, int fd, struct scan_verdict *v, int64_t deadline,
		    atomic_int *cancel)
{
	struct scan_input in = { .fd = fd, .deadline_ms = deadline, .cancel = cancel };
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	in.size = st.st_size;
	memset(v, 0x55, sizeof *v);
	clam->scan(state, &in, v);
}

static void scan_path(void *state, const char *path, struct scan_verdict *v)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		fail_msg("open %s", path);
	scan_fd(state, fd, v, 0, NULL);
	close(fd);
}

/* stat_value - one figure from the backend's stats text */
static char *stat_value(void *state, const char *key)
{
	static char val[512];
	char buf[4096], *p;
	size_t n = clam->stats(state, buf, sizeof buf), klen = strlen(key);

	assert_true(n > 0 && n < sizeof buf);
	buf[n] = 0;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
			size_t vlen = strcspn(p + klen + 1, "\n");

			snprintf(val, sizeof val, "%.*s", (int)vlen, p + klen + 1);
			return val;
		}
	fail_msg("no %s in stats:\n%s", key, buf);
	return NULL;
}

static unsigned long stat_num(void *state, const char *key)
{
	return strtoul(stat_value(state, key), NULL, 10);
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = tu_read(from, &len);

	if (!data)
		fail_msg("read %s", from);
	tu_write(to, data, len);
	free(data);
}

/* shipped_copy - a temp dir holding the starter DB (or only its .hdb) */
static char *shipped_copy(int hdb_only)
{
	char *dir = tu_tmpdir("clamdb");

	if (!hdb_only)
		copy_file(SHIPPED_DB "/sluice-eicar.ndb", tu_path(dir, "sluice-eicar.ndb"));
	copy_file(SHIPPED_DB "/sluice-eicar.hdb", tu_path(dir, "sluice-eicar.hdb"));
	return dir;
}

static void sigdb(const char *dir, const char *args)
{
	char cmd[8192];

	snprintf(cmd, sizeof cmd, "'%s' -o '%s' %s", SIGDB, dir, args);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

static void test_dbdir(void **unused)
{
	char *sys = tu_tmpdir("sysdb");

	assert_string_equal(scan_clamav_dbdir("/c", "/e", sys, "/s"), "/c");
	assert_string_equal(scan_clamav_dbdir("", "/e", sys, "/s"), "/e");
	assert_string_equal(scan_clamav_dbdir(NULL, NULL, sys, "/s"), "/s");
	/* freshclam's state file alone is no database */
	tu_write(tu_path(sys, "freshclam.dat"), "x", 1);
	assert_string_equal(scan_clamav_dbdir(NULL, "", sys, "/s"), "/s");
	tu_write(tu_path(sys, "daily.cld"), "x", 1);
	assert_string_equal(scan_clamav_dbdir(NULL, "", sys, "/s"), sys);
	assert_string_equal(scan_clamav_dbdir(NULL, NULL, "/nonexistent/sluice", "/s"), "/s");
	tu_rmtree(sys);
	free(sys);
}

static void test_load_shipped(void **unused)
{
	void *st = load(SHIPPED_DB);

	assert_int_equal(stat_num(st, "clamav_signatures"), 4);
	assert_string_equal(stat_value(st, "clamav_engine"), cl_retver());
	assert_string_equal(stat_value(st, "clamav_db"), SHIPPED_DB);
	assert_int_equal(stat_num(st, "clamav_reloads"), 0);
	assert_int_equal(scan_clamav_changed(st), 0);
	assert_int_equal(clam->changed(st), 0);
	clam->fini(st);
}

/* test_version - the table's version(): libclamav's, the stats' engine
 * line, NUL-terminated when cut */
static void test_version(void **unused)
{
	void *st = load(SHIPPED_DB);
	char ver[64], tiny[3];

	memset(ver, 'x', sizeof ver);
	assert_int_equal(clam->version(st, ver, sizeof ver), strlen(cl_retver()));
	assert_string_equal(ver, cl_retver());
	assert_string_equal(ver, stat_value(st, "clamav_engine"));
	memset(tiny, 'x', sizeof tiny);
	assert_int_equal(clam->version(st, tiny, sizeof tiny), 2);
	assert_int_equal(tiny[2], 0);
	assert_memory_equal(tiny, cl_retver(), 2);
	assert_int_equal(clam->version(st, tiny, 0), 0);
	clam->fini(st);
}

static void test_load_errors(void **unused)
{
	struct scan_config cfg = { .clamdb = "/nonexistent/sluice-db" };
	char err[1024], *empty = tu_tmpdir("emptydb");
	void *st = (void *)1;

	assert_int_equal(clam->init(&st, &cfg, err, sizeof err), -1);
	assert_null(st);
	assert_non_null(strstr(err, "/nonexistent/sluice-db"));

	cfg.clamdb = empty;
	assert_int_equal(clam->init(&st, &cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, empty));

	cfg.clamdb = SHIPPED_DB;
	cfg.tmpdir = "/nonexistent/sluice-tmp";
	assert_int_equal(clam->init(&st, &cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/sluice-tmp"));
	tu_rmtree(empty);
	free(empty);
}

static void test_eicar(void **unused)
{
	void *st = load(SHIPPED_DB);
	struct scan_verdict v;
	size_t i;

	for (i = 0; i < sizeof eicar_mails / sizeof eicar_mails[0]; i++) {
		scan_path(st, tu_path(TEST_DATA_DIR, "%s", eicar_mails[i]), &v);
		if (v.kind != SCAN_INFECTED || strcmp(v.name, EICAR_NDB) != 0)
			fail_msg("%s: %s %s", eicar_mails[i], scan_kind_name(v.kind), v.name);
		assert_string_equal(v.scanner, "clamav");
	}
	scan_path(st, DATA("clamav_eicar.com"), &v);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, EICAR_NDB);
	assert_int_equal(stat_num(st, "clamav_infected"), 6);
	assert_int_equal(stat_num(st, "clamav_scans"), 6);
	clam->fini(st);
}

/* The hash signatures alone: the decoded attachment is the EICAR file. */
static void test_eicar_hash(void **unused)
{
	static const char *const files[] = {
		"clamav_eicar.com", "clamav_eicar_base64.eml", "clamav_eicar_zip.eml",
		"clamav_eicar_rfc822.eml",
	};
	char *dir = shipped_copy(1);
	void *st = load(dir);
	struct scan_verdict v;
	size_t i;

	assert_int_equal(stat_num(st, "clamav_signatures"), 3);
	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		scan_path(st, tu_path(TEST_DATA_DIR, "%s", files[i]), &v);
		if (v.kind != SCAN_INFECTED || strcmp(v.name, EICAR_HDB) != 0)
			fail_msg("%s: %s %s", files[i], scan_kind_name(v.kind), v.name);
	}
	/* in running text the file's hash is not the EICAR file's */
	scan_path(st, DATA("clamav_eicar_plain.eml"), &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	clam->fini(st);
	tu_rmtree(dir);
	free(dir);
}

/* clean_corpus - scan every clamav_clean_*.eml; returns how many */
static int clean_corpus(void *st)
{
	DIR *d = opendir(TEST_DATA_DIR);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		struct scan_verdict v;

		if (strncmp(e->d_name, "clamav_clean_", 13) != 0)
			continue;
		scan_path(st, tu_path(TEST_DATA_DIR, "%s", e->d_name), &v);
		if (v.kind != SCAN_CLEAN)
			fail_msg("%s: %s %s", e->d_name, scan_kind_name(v.kind), v.name);
		assert_string_equal(v.scanner, "clamav");
		n++;
	}
	closedir(d);
	return n;
}

static void test_clean(void **unused)
{
	void *st = load(SHIPPED_DB);

	assert_true(clean_corpus(st) >= 8);
	assert_int_equal(stat_num(st, "clamav_infected"), 0);
	assert_int_equal(stat_num(st, "clamav_errors"), 0);
	clam->fini(st);
}

/* libclamav moves the offset of the fd it scans: ours must not move. */
static void test_fd_offset(void **unused)
{
	void *st = load(SHIPPED_DB);
	struct scan_verdict v;
	int fd = open(DATA("clamav_eicar_zip.eml"), O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 123, SEEK_SET), 123);
	scan_fd(st, fd, &v, 0, NULL);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 123);
	close(fd);
	clam->fini(st);
}

static void test_deadline_passed(void **unused)
{
	void *st = load(SHIPPED_DB);
	struct scan_verdict v;
	atomic_int cancel = 1;
	int fd = open(DATA("clamav_eicar_plain.eml"), O_RDONLY);

	scan_fd(st, fd, &v, scan_now_ms() - 1, NULL);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.name, "deadline passed");
	scan_fd(st, fd, &v, 0, &cancel);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.name, "cancelled");
	cancel = 0;
	scan_fd(st, fd, &v, scan_now_ms() + 60000, &cancel);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_int_equal(stat_num(st, "clamav_errors"), 2);
	close(fd);
	clam->fini(st);
}

/* eicar_part - EICAR as a part in quoted-printable, every byte encoded, so
 * that only a scanner that decodes the part sees it */
static void eicar_part(FILE *f)
{
	char *eicar = tu_read(DATA("clamav_eicar.com"), NULL);
	size_t i;

	assert_non_null(eicar);
	fputs("--b\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n", f);
	for (i = 0; eicar[i]; i++)
		fprintf(f, "=%02X%s", (unsigned char)eicar[i], i % 20 == 19 ? "=\n" : "");
	fputs("\n", f);
	free(eicar);
}

/* big_mail - dir/big.eml: parts text parts, EICAR first or last; an open fd */
static int big_mail(const char *dir, int parts, int eicar_first)
{
	const char *path = tu_path(dir, "big.eml");
	FILE *f = fopen(path, "w");
	int fd, i, j;

	assert_non_null(f);
	fputs("From: a@example.org\nSubject: many parts\nMIME-Version: 1.0\n"
	      "Content-Type: multipart/mixed; boundary=\"b\"\n\n", f);
	if (eicar_first)
		eicar_part(f);
	for (i = 0; i < parts; i++) {
		fprintf(f, "--b\nContent-Type: text/plain; name=\"p%d.txt\"\n"
			"Content-Disposition: attachment; filename=\"p%d.txt\"\n\n", i, i);
		for (j = 0; j < 10; j++)
			fprintf(f, "part %d line %d: the quick brown fox jumps over the lazy dog\n", i, j);
	}
	if (!eicar_first)
		eicar_part(f);
	fputs("--b--\n", f);
	fclose(f);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	return fd;
}

/*
 * A message of many parts with EICAR in the last one: a deadline that
 * passes during the scan stops it before the last part.
 */
static void test_deadline_midscan(void **unused)
{
	char *dir = tu_tmpdir("bigmail");
	int fd = big_mail(dir, 3000, 0);
	void *st = load(SHIPPED_DB);
	struct scan_verdict v;
	int64_t t0, full, cut, allow;

	t0 = scan_now_ms();
	scan_fd(st, fd, &v, 0, NULL);
	full = scan_now_ms() - t0;
	assert_int_equal(v.kind, SCAN_INFECTED);

	allow = full / 10 > 5 ? full / 10 : 5;
	t0 = scan_now_ms();
	scan_fd(st, fd, &v, t0 + allow, NULL);
	cut = scan_now_ms() - t0;
	print_message("  full scan %lld ms, with a %lld ms deadline %lld ms\n", (long long)full,
		      (long long)allow, (long long)cut);
	if (full >= 50) {	/* else the machine is too fast to tell */
		assert_int_equal(v.kind, SCAN_ERROR);
		assert_string_equal(v.name, "deadline passed");
		assert_true(cut < full / 2);
	}
	close(fd);
	clam->fini(st);
	tu_rmtree(dir);
	free(dir);
}

/*
 * A limit hit is SCAN_LIMIT with the limit in words, never a silent clean
 * and not an error; a virus found before the limit still wins.
 */
static void test_limits(void **unused)
{
	struct scan_config cfg = { .clamdb = SHIPPED_DB, .max_files = 20 };
	char *dir = tu_tmpdir("limits");
	struct scan_verdict v;
	char err[1024];
	void *st;
	int fd;

	if (clam->init(&st, &cfg, err, sizeof err) != 0)
		fail_msg("init: %s", err);
	fd = big_mail(dir, 100, 0);
	scan_fd(st, fd, &v, 0, NULL);
	close(fd);
	assert_int_equal(v.kind, SCAN_LIMIT);
	assert_string_equal(v.name, "too many files inside (Heuristics.Limits.Exceeded.MaxFiles)");
	assert_string_equal(v.scanner, "clamav");
	assert_int_equal(stat_num(st, "clamav_limits"), 1);
	assert_int_equal(stat_num(st, "clamav_errors"), 0);

	fd = big_mail(dir, 100, 1);
	scan_fd(st, fd, &v, 0, NULL);
	close(fd);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, EICAR_NDB);

	/* the clean corpus stays far below the limits */
	assert_true(clean_corpus(st) >= 8);
	clam->fini(st);
	tu_rmtree(dir);
	free(dir);
}

/*
 * The banned list inside what libclamav unpacks: off unless asked for
 * (clamav_banned: the daemon sets it when attach runs too), then every
 * name it lists or scans counts, with the same list and match as attach.
 */
static void test_banned(void **unused)
{
	struct scan_config cfg = { .clamdb = SHIPPED_DB };
	struct scan_verdict v;
	char err[1024];
	void *st;

	/* a zip with evil.exe; a forwarded message with screensaver.scr */
	if (clam->init(&st, &cfg, err, sizeof err) != 0)
		fail_msg("init: %s", err);
	scan_path(st, TEST_DATA_DIR "/attach/banned/zip_evil.eml", &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_int_equal(stat_num(st, "clamav_banned"), 0);
	clam->fini(st);

	cfg.clamav_banned = 1;
	if (clam->init(&st, &cfg, err, sizeof err) != 0)
		fail_msg("init: %s", err);
	scan_path(st, TEST_DATA_DIR "/attach/banned/zip_evil.eml", &v);
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_string_equal(v.name, "evil.exe");
	assert_string_equal(v.scanner, "clamav");
	/* the names of MIME parts are the attach scanner's (libclamav mangles them) */
	scan_path(st, TEST_DATA_DIR "/attach/banned/rfc822_scr.eml", &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	/* a virus wins over a banned name, wherever it is: EICAR named eicar.com */
	scan_path(st, DATA("clamav_eicar_zip.eml"), &v);
	assert_int_equal(v.kind, SCAN_INFECTED);
	scan_path(st, DATA("clamav_eicar_base64.eml"), &v);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, EICAR_NDB);
	assert_int_equal(stat_num(st, "clamav_errors"), 0);
	/* the clean corpus has no banned name, not even libclamav's temp names */
	assert_true(clean_corpus(st) >= 8);
	clam->fini(st);

	/* the list is SLUICE_BANNED's: .txt banned, .exe not */
	cfg.banned = ".txt";
	if (clam->init(&st, &cfg, err, sizeof err) != 0)
		fail_msg("init: %s", err);
	scan_path(st, TEST_DATA_DIR "/attach/clean/zip_txt.eml", &v);
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_string_equal(v.name, "notes.txt");
	scan_path(st, TEST_DATA_DIR "/attach/banned/zip_evil.eml", &v);
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_string_equal(v.name, "readme.txt");
	assert_int_equal(stat_num(st, "clamav_banned"), 2);
	clam->fini(st);
}

/* Worker threads scanning the corpus in a loop, each verdict checked. */
struct hammer {
	void *st;
	atomic_int stop;
	atomic_long scans, failures;
	int rounds;		/* 0: until stop */
};

static void *hammer_run(void *arg)
{
	static const char *const files[] = {
		"clamav_eicar_plain.eml", "clamav_clean_plain.eml", "clamav_eicar_zip.eml",
		"clamav_clean_html.eml", "clamav_eicar_rfc822.eml", "clamav_clean_zip.eml",
		"clamav_eicar_qp.eml", "clamav_clean_pdf.eml", "clamav_eicar_base64.eml",
	};
	struct hammer *h = arg;
	int fds[sizeof files / sizeof files[0]];
	size_t i;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[4096];

		snprintf(path, sizeof path, "%s/%s", TEST_DATA_DIR, files[i]);
		fds[i] = open(path, O_RDONLY);
	}
	for (int round = 0; h->rounds ? round < h->rounds : !atomic_load(&h->stop); round++)
		for (i = 0; i < sizeof files / sizeof files[0]; i++) {
			struct scan_input in = { .fd = fds[i] };
			struct scan_verdict v;
			int infected = strstr(files[i], "eicar") != NULL;

			clam->scan(h->st, &in, &v);
			atomic_fetch_add(&h->scans, 1);
			if (infected ? v.kind != SCAN_INFECTED || strcmp(v.name, EICAR_NDB)
			    : v.kind != SCAN_CLEAN) {
				fprintf(stderr, "%s: %s %s\n", files[i], scan_kind_name(v.kind), v.name);
				atomic_fetch_add(&h->failures, 1);
			}
		}
	for (i = 0; i < sizeof files / sizeof files[0]; i++)
		close(fds[i]);
	return NULL;
}

static void test_threads(void **unused)
{
	struct hammer h = { .st = load(SHIPPED_DB), .rounds = 30 };
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h), 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&h.failures), 0);
	assert_int_equal(atomic_load(&h.scans), 4 * 30 * 9);
	assert_int_equal(stat_num(h.st, "clamav_scans"), 4 * 30 * 9);
	clam->fini(h.st);
}

static void test_reload_under_load(void **unused)
{
	char *dir = tu_tmpdir("reloaddb");
	struct hammer h = { .rounds = 0 };
	struct timespec pause = { 0, 20 * 1000000L };
	pthread_t t[4];
	char err[1024];
	long before;
	int i;

	sigdb(dir, "-H 1000 -B 100 -s 3");
	h.st = load(dir);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h), 0);
	nanosleep(&pause, NULL);
	before = atomic_load(&h.scans);
	for (i = 0; i < 5; i++) {
		if (clam->reload(h.st, err, sizeof err) != 0)
			fail_msg("reload: %s", err);
		nanosleep(&pause, NULL);
	}
	atomic_store(&h.stop, 1);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	print_message("  %ld scans, %ld during the reloads\n", atomic_load(&h.scans),
		      atomic_load(&h.scans) - before);
	assert_int_equal(atomic_load(&h.failures), 0);
	assert_true(atomic_load(&h.scans) > before);
	assert_int_equal(stat_num(h.st, "clamav_reloads"), 5);
	assert_int_equal(stat_num(h.st, "clamav_signatures"), 1104);
	assert_int_equal(stat_num(h.st, "clamav_errors"), 0);
	clam->fini(h.st);
	tu_rmtree(dir);
	free(dir);
}

/*
 * SLUICE_CLAMAV_MIME: the walker's path (decoded parts scanned from memory)
 * and libclamav's own mail parser must reach the same verdict, name
 * included, on every message: the test data, the evasion corpus
 * (mkevasion.py), a mixed corpus of realistic mail (gen_corpus.py: 4 KB,
 * 20 KB and 200 KB, half of it carrying EICAR in a zip, as an attachment
 * or in the text) and EICAR hidden in the ways a MIME parser can be
 * fooled, written below.  Both run with the banned list on, as the daemon
 * runs clamav beside attach.
 */
#define EICAR_TXT "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

static void b64_lines(FILE *f, const char *data, size_t len, size_t width, const char *junk, const char *eol)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, col = 0;

	for (i = 0; i < len; i += 3) {
		unsigned v = (unsigned char)data[i] << 16 | (i + 1 < len ? (unsigned char)data[i + 1] << 8 : 0) |
			     (i + 2 < len ? (unsigned char)data[i + 2] : 0);
		char q[5] = { al[v >> 18 & 63], al[v >> 12 & 63], i + 1 < len ? al[v >> 6 & 63] : '=',
			      i + 2 < len ? al[v & 63] : '=', 0 };

		fputs(q, f);
		if (junk && i % 9 == 0)
			fputs(junk, f);
		if ((col += 4) >= width) {
			fputs(eol, f);
			col = 0;
		}
	}
	fputs(eol, f);
}

/* hidden_eicar - write variant i (0..) into path; 0 when there is no such variant */
static int hidden_eicar(const char *path, int i)
{
	const char *e = EICAR_TXT, *eol = i == 2 ? "\r\n" : "\n";
	size_t el = strlen(e), k;
	FILE *f;

	if (i > 15)
		return 0;
	f = fopen(path, "wb");
	assert_non_null(f);
	fprintf(f, "From: a@example.org%sTo: b@example.net%sSubject: variant %d%sMIME-Version: 1.0%s", eol, eol, i,
		eol, eol);
	switch (i) {
	case 0:	/* junk characters inside the base64 */
	case 1:	/* 4-character lines */
	case 2:	/* CRLF throughout */
	case 3:	/* no padding */
		fprintf(f, "Content-Type: multipart/mixed; boundary=\"b\"%s%s--b%sContent-Type: application/octet-stream; "
			   "name=\"x.bin\"%sContent-Transfer-Encoding: base64%s%s", eol, eol, eol, eol, eol, eol);
		b64_lines(f, e, i == 3 ? el - 2 : el, i == 1 ? 4 : 76, i == 0 ? "!* " : NULL, eol);
		if (i == 3)	/* the last two bytes without '=' padding: "H*" */
			fputs("SCo", f);
		fprintf(f, "%s--b--%s", eol, eol);
		break;
	case 4:	/* three multiparts deep */
		fputs("Content-Type: multipart/mixed; boundary=\"o\"\n\n--o\nContent-Type: multipart/alternative; "
		      "boundary=\"m\"\n\n--m\nContent-Type: multipart/related; boundary=\"i\"\n\n--i\n"
		      "Content-Type: image/png\nContent-Transfer-Encoding: base64\n\n", f);
		b64_lines(f, e, el, 76, NULL, "\n");
		fputs("--i--\n--m--\n--o--\n", f);
		break;
	case 5:	/* a part with no Content-Type, upper-case encoding with a comment */
		fputs("Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
		      "Content-Transfer-Encoding: BASE64 (encoded)\n\n", f);
		b64_lines(f, e, el, 76, NULL, "\n");
		fputs("--b--\n", f);
		break;
	case 6:	/* HTML, every byte quoted-printable (the signature wants EICAR first) */
		fputs("Content-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n", f);
		for (k = 0; k < el; k++)
			fprintf(f, "=%02X%s", (unsigned char)e[k], k % 20 == 19 ? "=\n" : "");
		fputs("\n<html><body><p>hi</p></body></html>\n", f);
		break;
	case 7:	/* 7bit attachment */
		fprintf(f, "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: application/x-msdownload;"
			   " name=\"a.dat\"\n\n%s\n--b--\n", e);
		break;
	case 8:	/* no close delimiter, quoted boundary with white space after the delimiter */
		fputs("Content-Type: multipart/mixed;\n\tboundary=\"=_x y\"\n\n--=_x y  \nContent-Type: text/plain\n\nhi\n"
		      "--=_x y\t\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n", f);
		b64_lines(f, e, el, 76, NULL, "\n");
		break;
	case 9:	/* uuencoded in a text body */
		fputs("Content-Type: text/plain\n\nsee the file\nbegin 644 eicar.com\n", f);
		fputs("M6#5/(5`E0$%06S1<4%I8-30H4%XI-T-#*3=])$5)0T%2+5-404Y$05)$+4%.\n"
		      "75$E625)54RU415-4+49)3$4A)$@K2\"H`\n`\nend\n", f);
		break;
	case 10:	/* a base64 message/rfc822 holding it */
		fputs("Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: message/rfc822\n"
		      "Content-Transfer-Encoding: base64\n\n", f);
		{
			char inner[512];
			int n = snprintf(inner, sizeof inner, "From: c@example.org\nSubject: inner\n\n%s\n", e);

			b64_lines(f, inner, (size_t)n, 76, NULL, "\n");
		}
		fputs("--b--\n", f);
		break;
	case 11:	/* two transfer encodings */
		fputs("Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: application/octet-stream\n"
		      "Content-Transfer-Encoding: quoted-printable\nContent-Transfer-Encoding: base64\n\n", f);
		b64_lines(f, e, el, 76, NULL, "\n");
		fputs("--b--\n", f);
		break;
	case 12:	/* the plain body, no MIME at all, after a long header */
		fprintf(f, "X-Pad: %0900d\n\n%s\n", 0, e);
		break;
	case 13:	/* zip in a base64 part, named .txt */
		{
			char *zip;
			size_t zlen;

			zip = tu_read(DATA("clamav_eicar_zip.eml"), &zlen);	/* reuse its base64 zip part */
			assert_non_null(zip);
			fputs(strstr(zip, "Content-Type: multipart") ? strstr(zip, "Content-Type: multipart") : zip, f);
			free(zip);
		}
		break;
	case 14:	/* bare CR line ends */
		fputs("Content-Type: multipart/mixed; boundary=\"b\"\r\r--b\rContent-Type: application/octet-stream\r"
		      "Content-Transfer-Encoding: base64\r\r", f);
		b64_lines(f, e, el, 76, NULL, "\r");
		fputs("--b--\r", f);
		break;
	case 15:	/* BinHex announced in a text body */
		fprintf(f, "Content-Type: text/plain\n\n(This file must be converted with BinHex 4.0)\n\n%s\n", e);
		break;
	}
	fclose(f);
	return 1;
}

struct same {
	void *walker, *lib;
	unsigned files, infected, banned, limit, clean, differ, stricter;
};

static void same_one(struct same *s, const char *path, int want_infected)
{
	struct scan_verdict a, b;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	scan_fd(s->walker, fd, &a, 0, NULL);
	scan_fd(s->lib, fd, &b, 0, NULL);
	close(fd);
	s->files++;
	/* the walker may find more (it reads a part libclamav's parser misses), never less */
	if (a.kind > b.kind && b.kind == SCAN_CLEAN) {
		print_message("  stricter: %s: walker %s %s, libclamav %s\n", path, scan_kind_name(a.kind), a.name,
			      scan_kind_name(b.kind));
		s->stricter++;
	} else if (a.kind != b.kind || strcmp(a.name, b.name)) {
		print_error("  differ: %s: walker %s %s, libclamav %s %s\n", path, scan_kind_name(a.kind), a.name,
			    scan_kind_name(b.kind), b.name);
		s->differ++;
	}
	if (want_infected >= 0 && (a.kind == SCAN_INFECTED) != want_infected) {
		print_error("  %s: %s %s, want %s\n", path, scan_kind_name(a.kind), a.name,
			    want_infected ? "infected" : "not infected");
		s->differ++;
	}
	s->infected += a.kind == SCAN_INFECTED;
	s->banned += a.kind == SCAN_BANNED;
	s->limit += a.kind == SCAN_LIMIT;
	s->clean += a.kind == SCAN_CLEAN;
}

static void same_dir(struct same *s, const char *dir, const char *suffix)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort), i;

	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		size_t len = strlen(name);
		int want = !strncmp(name, "INFECTED-", 9) ? 1 : !strncmp(name, "CLEAN-", 6) ? 0 : -1;

		if (len > strlen(suffix) && !strcmp(name + len - strlen(suffix), suffix))
			same_one(s, tu_path(dir, "%s", name), want);
		free(ents[i]);
	}
	free(ents);
}

static void test_walker_same_verdicts(void **unused)
{
	struct scan_config cfg = { .clamdb = SHIPPED_DB, .clamav_banned = 1 };
	struct same s = { 0 };
	char *dir = tu_tmpdir("same"), err[1024], cmd[2048];
	static const char *const sizes[] = { "4k", "20k", "200k" };
	unsigned hidden_infected, walked;
	int i;

	if (clam->init(&s.walker, &cfg, err, sizeof err) != 0)
		fail_msg("init: %s", err);
	cfg.clamav_libmime = 1;
	if (clam->init(&s.lib, &cfg, err, sizeof err) != 0)
		fail_msg("init: %s", err);
	assert_string_equal(stat_value(s.walker, "clamav_mime"), "walker");
	assert_string_equal(stat_value(s.lib, "clamav_mime"), "libclamav");

	for (i = 0; hidden_eicar(tu_path(dir, "hidden-%02d.eml", i), i); i++)
		same_one(&s, tu_path(dir, "hidden-%02d.eml", i), i == 11 || i == 6 ? -1 : 1);
	hidden_infected = s.infected;
	print_message("  hidden EICAR: %u variants, %u infected\n", (unsigned)i, hidden_infected);
	/* all but two: two transfer encodings (may be a limit); EICAR in HTML, which
	 * libclamav matches only after normalising the HTML (lower case) */
	assert_true(hidden_infected >= 14);
	assert_true(s.stricter <= 1);	/* variant 8: white space after a delimiter (RFC 2046 allows it) */

	same_dir(&s, TEST_DATA_DIR, ".eml");
	for (i = 0; i < 3; i++) {
		char *sub = strdup(tu_path(dir, "%s", sizes[i]));	/* tu_path's buffers rotate */

		snprintf(cmd, sizeof cmd, "python3 %s/tests/bench/gen_corpus.py -o %s -n %d -s %s --seed 7 --infected 50",
			 SLUICE_SOURCE_DIR, sub, i == 2 ? 9 : 18, sizes[i]);
		assert_int_equal(system(cmd), 0);
		same_dir(&s, sub, ".eml");
		free(sub);
	}
	snprintf(cmd, sizeof cmd, "python3 %s/tests/scan/evasion/mkevasion.py %s/evasion >/dev/null",
		 SLUICE_SOURCE_DIR, dir);
	assert_int_equal(system(cmd), 0);
	{
		char *ev = strdup(tu_path(dir, "evasion"));

		same_dir(&s, ev, ".eml");
		free(ev);
	}

	walked = (unsigned)stat_num(s.walker, "clamav_walked");
	print_message("  %u messages: %u infected, %u banned, %u limit, %u clean; %u differ, %u stricter with the "
		      "walker; walker's path %u, fallbacks %lu\n", s.files, s.infected, s.banned, s.limit, s.clean,
		      s.differ, s.stricter, walked, stat_num(s.walker, "clamav_fallbacks"));
	assert_int_equal(s.differ, 0);
	assert_true(s.infected >= hidden_infected + 20);	/* the mixed corpus's half */
	assert_true(walked >= s.files / 2);	/* the fast path is the common one */
	assert_int_equal(stat_num(s.lib, "clamav_walked"), 0);
	clam->fini(s.walker);
	clam->fini(s.lib);
	tu_rmtree(dir);
	free(dir);
}

static void test_reload_corrupt(void **unused)
{
	char *dir = shipped_copy(0);
	void *st = load(dir);
	struct scan_verdict v;
	char err[1024] = "";
	static const char bad[] = "Broken.Sig:0:*:zzzz-not-hex\n";

	tu_write(tu_path(dir, "sluice-bad.ndb"), bad, strlen(bad));
	assert_int_equal(scan_clamav_changed(st), 1);
	assert_int_equal(clam->changed(st), 1);	/* the table's, for the daemon's timer */
	assert_int_equal(clam->reload(st, err, sizeof err), -1);
	print_message("  reload error: %s\n", err);
	assert_non_null(strstr(err, dir));
	assert_non_null(strstr(err, "sluice-bad.ndb"));
	/* the old engine still serves */
	scan_path(st, DATA("clamav_eicar_zip.eml"), &v);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, EICAR_NDB);
	assert_int_equal(stat_num(st, "clamav_reload_failures"), 1);
	assert_int_equal(stat_num(st, "clamav_reloads"), 0);
	assert_int_equal(stat_num(st, "clamav_signatures"), 4);
	/* no retry on every tick of the timer: only after the next change */
	assert_int_equal(scan_clamav_changed(st), 0);

	unlink(tu_path(dir, "sluice-bad.ndb"));
	assert_int_equal(scan_clamav_changed(st), 1);
	assert_int_equal(clam->reload(st, err, sizeof err), 0);
	assert_int_equal(scan_clamav_changed(st), 0);

	/* a garbage line appended to a file that loaded before */
	{
		FILE *f = fopen(tu_path(dir, "sluice-eicar.ndb"), "a");

		assert_non_null(f);
		fputs("this is not a signature\n", f);
		fclose(f);
	}
	assert_int_equal(clam->reload(st, err, sizeof err), -1);
	assert_non_null(strstr(err, "sluice-eicar.ndb"));
	scan_path(st, DATA("clamav_eicar_qp.eml"), &v);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, EICAR_NDB);
	assert_int_equal(stat_num(st, "clamav_reload_failures"), 2);
	assert_int_equal(stat_num(st, "clamav_reloads"), 1);
	clam->fini(st);
	tu_rmtree(dir);
	free(dir);
}

/* Added and removed signature files are noticed, and reload serves them. */
static void test_changed(void **unused)
{
	static const char marker[] = "sluice-extra-signature-marker";
	char *dir = shipped_copy(0), *mdir = tu_tmpdir("markermail");
	char line[256], hex[2 * sizeof marker], text[256];
	void *st = load(dir);
	struct scan_verdict v;
	char err[1024];
	size_t i;

	for (i = 0; i < strlen(marker); i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)marker[i]);
	snprintf(line, sizeof line, "Sluice.Test.Extra:0:*:%s\n", hex);
	snprintf(text, sizeof text, "Subject: x\n\nsee %s here\n", marker);
	tu_write(tu_path(mdir, "m.eml"), text, strlen(text));

	assert_int_equal(scan_clamav_changed(st), 0);
	tu_write(tu_path(dir, "sluice-extra.ndb"), line, strlen(line));
	assert_int_equal(scan_clamav_changed(st), 1);
	scan_path(st, tu_path(mdir, "m.eml"), &v);
	assert_int_equal(v.kind, SCAN_CLEAN);

	assert_int_equal(clam->reload(st, err, sizeof err), 0);
	assert_int_equal(scan_clamav_changed(st), 0);
	assert_int_equal(stat_num(st, "clamav_signatures"), 5);
	scan_path(st, tu_path(mdir, "m.eml"), &v);
	assert_int_equal(v.kind, SCAN_INFECTED);
	assert_string_equal(v.name, "Sluice.Test.Extra.UNOFFICIAL");

	unlink(tu_path(dir, "sluice-extra.ndb"));
	assert_int_equal(scan_clamav_changed(st), 1);
	assert_int_equal(clam->reload(st, err, sizeof err), 0);
	scan_path(st, tu_path(mdir, "m.eml"), &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	clam->fini(st);
	tu_rmtree(dir);
	tu_rmtree(mdir);
	free(dir);
	free(mdir);
}

static void test_sigdb(void **unused)
{
	char *dir = tu_tmpdir("sigdb");
	struct scan_verdict v;
	void *st;
	size_t i;

	sigdb(dir, "-H 1000 -B 100 -s 42");
	assert_int_equal(tu_count(dir), 4);
	st = load(dir);
	assert_int_equal(stat_num(st, "clamav_signatures"), 1000 + 100 + 4);
	for (i = 0; i < sizeof eicar_mails / sizeof eicar_mails[0]; i++) {
		scan_path(st, tu_path(TEST_DATA_DIR, "%s", eicar_mails[i]), &v);
		assert_int_equal(v.kind, SCAN_INFECTED);
		assert_string_equal(v.name, EICAR_NDB);
	}
	assert_true(clean_corpus(st) >= 8);
	clam->fini(st);
	tu_rmtree(dir);
	free(dir);
}

/* The shipped files are what the generator writes, byte for byte. */
static void test_sigdb_is_shipped(void **unused)
{
	static const char *const files[] = { "sluice-eicar.ndb", "sluice-eicar.hdb" };
	char *dir = tu_tmpdir("sigdb0");
	size_t i;

	sigdb(dir, "-H 0 -B 0");
	assert_int_equal(tu_count(dir), 2);
	for (i = 0; i < 2; i++) {
		size_t alen, blen;
		char *a = tu_read(tu_path(dir, "%s", files[i]), &alen);
		char *b = tu_read(tu_path(SHIPPED_DB, "%s", files[i]), &blen);

		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(alen, blen);
		assert_memory_equal(a, b, alen);
		free(a);
		free(b);
	}
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dbdir),
		cmocka_unit_test(test_load_shipped),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_eicar),
		cmocka_unit_test(test_eicar_hash),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_fd_offset),
		cmocka_unit_test(test_deadline_passed),
		cmocka_unit_test(test_deadline_midscan),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_banned),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_reload_under_load),
		cmocka_unit_test(test_reload_corrupt),
		cmocka_unit_test(test_walker_same_verdicts),
		cmocka_unit_test(test_changed),
		cmocka_unit_test(test_sigdb),
		cmocka_unit_test(test_sigdb_is_shipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
