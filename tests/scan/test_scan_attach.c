/*
 * test_scan_attach.c - the attach backend end to end (scan/scan_attach.c):
 * the mail corpus in data/attach, limits (never clean: SCAN_LIMIT),
 * large messages, deadline and cancel, four threads sharing one state,
 * and the name normalisation behind the match.
 */
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scan/scan_mime.h"

#define CORPUS TEST_DATA_DIR "/attach"

struct expect {
	const char *file;
	enum scan_kind kind;
	const char *name;
};

static const struct expect banned[] = {
	{ "banned/exe_plain.eml", SCAN_BANNED, "setup.exe" },
	{ "banned/rfc2231_encoded.eml", SCAN_BANNED, "invoice.exe" },
	{ "banned/rfc2231_continued.eml", SCAN_BANNED, "Rechnung M??rz.exe" },
	{ "banned/rfc2231_nul.eml", SCAN_BANNED, "notes.exe?.txt" },
	{ "banned/rfc2047_b.eml", SCAN_BANNED, "??berweisung.exe" },
	{ "banned/rfc2047_q.eml", SCAN_BANNED, "Rechnung_2024.scr" },
	{ "banned/uuencode.eml", SCAN_BANNED, "payment.exe" },
	{ "banned/yenc.eml", SCAN_BANNED, "update.exe" },
	{ "banned/zip_evil.eml", SCAN_BANNED, "evil.exe" },
	{ "banned/zip_sniffed.eml", SCAN_BANNED, "export/tool.js" },
	{ "banned/zip_unicode_path.eml", SCAN_BANNED, "safe.vbs" },
	{ "banned/zip_corrupt_cdir.eml", SCAN_BANNED, "evil.exe" },
	{ "banned/double_ext.eml", SCAN_BANNED, "invoice.pdf.exe" },
	{ "banned/trailing_dot.eml", SCAN_BANNED, "invoice.exe." },
	{ "banned/trailing_space.eml", SCAN_BANNED, "invoice.exe " },
	{ "banned/upper_exe.eml", SCAN_BANNED, "SETUP.EXE" },
	{ "banned/path_name.eml", SCAN_BANNED, "../../run.cmd" },
	{ "banned/ctype_name_only.eml", SCAN_BANNED, "setup.com" },
	{ "banned/no_semicolon.eml", SCAN_BANNED, "receipt.pif" },
	{ "banned/nested_alternative.eml", SCAN_BANNED, "report.bat" },
	{ "banned/rfc822_scr.eml", SCAN_BANNED, "screensaver.scr" },
	{ "banned/same_boundary.eml", SCAN_BANNED, "x.exe" },
	{ "banned/crlf_exe.eml", SCAN_BANNED, "setup.exe" },
	{ "banned/unterminated_exe.eml", SCAN_BANNED, "late.exe" },
};

static const struct expect clean[] = {
	{ "clean/plain_text.eml", SCAN_CLEAN, "" },
	{ "clean/html_alternative.eml", SCAN_CLEAN, "" },
	{ "clean/pdf_attachment.eml", SCAN_CLEAN, "" },
	{ "clean/inline_image.eml", SCAN_CLEAN, "" },
	{ "clean/forwarded_docx.eml", SCAN_CLEAN, "" },
	{ "clean/digest.eml", SCAN_CLEAN, "" },
	{ "clean/no_mime.eml", SCAN_CLEAN, "" },
	{ "clean/exe_pdf.eml", SCAN_CLEAN, "" },
	{ "clean/zip_txt.eml", SCAN_CLEAN, "" },
	{ "clean/signed.eml", SCAN_CLEAN, "" },
};

#define DEPTH_WHY "MIME structure too deep: more than 18 nested multiparts"
#define ZIP_WHY "zip attachment data.zip: corrupt central directory"

/* malformed input: clean where nothing was left unread, else SCAN_LIMIT */
static const struct expect limits[] = {
	{ "limit/truncated_header.eml", SCAN_CLEAN, "" },
	{ "limit/unterminated.eml", SCAN_CLEAN, "" },
	{ "limit/empty_boundary.eml", SCAN_CLEAN, "" },
	{ "limit/garbage.eml", SCAN_CLEAN, "" },
	{ "limit/depth_bomb.eml", SCAN_LIMIT, DEPTH_WHY },
	{ "limit/zip_corrupt.eml", SCAN_LIMIT, ZIP_WHY },
};

#define N(a) (sizeof (a) / sizeof (a)[0])

static void *start(const struct scan_config *cfg)
{
	void *st;
	char err[256];

	assert_int_equal(scan_backend_attach.init(&st, cfg, err, sizeof err), 0);
	assert_non_null(st);
	return st;
}

/* scan_fd - one scan of fd; returns the verdict */
static struct scan_verdict scan_fd(void *st, int fd, off_t size, int64_t deadline, atomic_int *cancel)
{
	static const char *const rcpts[] = { "bob@example.com", NULL };
	struct scan_input in = { .fd = fd, .size = size, .sender = "accounts@example.net",
				 .rcpts = rcpts, .deadline_ms = deadline, .cancel = cancel };
	struct scan_verdict v;

	memset(&v, 0x55, sizeof v);
	scan_backend_attach.scan(st, &in, &v);
	return v;
}

/* scan_file - a corpus file; thread-safe (no tu_path: its buffers are shared) */
static struct scan_verdict scan_file(void *st, const char *rel)
{
	char path[512];
	int fd;
	off_t size;
	struct scan_verdict v;

	snprintf(path, sizeof path, "%s/%s", CORPUS, rel);
	if ((fd = open(path, O_RDONLY)) < 0) {
		memset(&v, 0, sizeof v);
		v.kind = SCAN_INFECTED;	/* never expected: shows up as a mismatch */
		snprintf(v.name, sizeof v.name, "cannot open %s", path);
		return v;
	}
	size = lseek(fd, 0, SEEK_END);
	v = scan_fd(st, fd, size, 0, NULL);
	close(fd);
	return v;
}

/* check - the verdict for each file; 0 or the number that differ (quiet when counting) */
static int check(void *st, const struct expect *e, size_t n, int quiet)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < n; i++) {
		struct scan_verdict v = scan_file(st, e[i].file);

		if (v.kind == e[i].kind && !strcmp(v.name, e[i].name) && v.scanner &&
		    !strcmp(v.scanner, "attach"))
			continue;
		bad++;
		if (!quiet)
			print_error("%s: got %s \"%s\", want %s \"%s\"\n", e[i].file, scan_kind_name(v.kind),
				    v.name, scan_kind_name(e[i].kind), e[i].name);
	}
	return bad;
}

static void test_banned(void **unused)
{
	void *st = start(&(struct scan_config){ 0 });

	assert_int_equal(check(st, banned, N(banned), 0), 0);
	scan_backend_attach.fini(st);
}

static void test_clean(void **unused)
{
	void *st = start(&(struct scan_config){ 0 });

	assert_int_equal(check(st, clean, N(clean), 0), 0);
	scan_backend_attach.fini(st);
}

/* message - an unlinked file with text in it */
static int message(const char *text, size_t len)
{
	int fd = memfd_create("attach", 0);
	size_t done = 0;

	assert_true(fd >= 0);
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);

		assert_true(w > 0);
		done += (size_t)w;
	}
	return fd;
}

/* field - a message whose part has a Content-Type of about len bytes, name where asked */
static int field(size_t len, int where, const char *name, size_t *mlen)
{
	char *text = malloc(len + 4096), *pad = malloc(len / 2 + 1);
	size_t o;
	int fd;

	assert_non_null(text);
	assert_non_null(pad);
	memset(pad, 'A', len / 2);
	pad[len / 2] = 0;
	o = (size_t)sprintf(text, "Received: (qmail 1 invoked from network); 3 Mar 2025 10:15:02 -0000\n"
			    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"f\"\n\n--f\n"
			    "Content-Type: application/octet-stream; %s%s%s; a=\"%s\";\n b=\"%s\"%s%s\n"
			    "Content-Transfer-Encoding: base64\n\nTVo=\n--f--\n",
			    where == 0 ? "name=\"" : "", where == 0 ? name : "", where == 0 ? "\"" : "x=1",
			    pad, pad, where == 2 ? "; name=" : "", where == 2 ? name : "");
	if (where == 1) {	/* in the middle: between the two pads */
		char *mid = strstr(text, "\";\n b=");

		assert_non_null(mid);
		memmove(mid + 2 + strlen(name) + 8, mid + 2, strlen(mid + 2) + 1);
		memcpy(mid + 2, " name=\"", 7);
		memcpy(mid + 9, name, strlen(name));
		mid[9 + strlen(name)] = '"';
		mid[10 + strlen(name)] = ';';
	}
	o = strlen(text);
	fd = message(text, o);
	free(text);
	free(pad);
	*mlen = o;
	return fd;
}

static void test_limits(void **unused)
{
	void *st = start(&(struct scan_config){ 0 });
	struct scan_verdict v;
	size_t len;
	int fd, where;

	/* a limit is SCAN_LIMIT, whatever the configuration */
	assert_int_equal(check(st, limits, N(limits), 0), 0);
	/* a banned name beats a limit */
	assert_int_equal(check(st, banned, N(banned), 0), 0);
	/* a 10 KB file name is read whole */
	v = scan_file(st, "limit/long_header.eml");
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_true(strlen(v.name) > 4 && !strcmp(v.name + strlen(v.name) - 4, ".exe"));

	/* beyond the header buffer: a name at the start or the end is still read */
	for (where = 0; where < 3; where++) {
		fd = field(100000, where, "payload.exe", &len);
		v = scan_fd(st, fd, (off_t)len, 0, NULL);
		close(fd);
		if (where == 1) {	/* the middle was not kept: a limit */
			assert_int_equal(v.kind, SCAN_LIMIT);
			assert_string_equal(v.name, "MIME header field longer than 16384 bytes");
		} else {
			assert_int_equal(v.kind, SCAN_BANNED);
			assert_string_equal(v.name, "payload.exe");
		}
	}
	fd = field(100000, 0, "payload.txt", &len);
	v = scan_fd(st, fd, (off_t)len, 0, NULL);
	close(fd);
	assert_int_equal(v.kind, SCAN_LIMIT);
	scan_backend_attach.fini(st);

	/* deep enough: the bomb's innermost attachment is found */
	st = start(&(struct scan_config){ .attach_max_depth = 60 });
	v = scan_file(st, "limit/depth_bomb.eml");
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_string_equal(v.name, "deep.exe");
	scan_backend_attach.fini(st);
	st = start(&(struct scan_config){ .attach_max_depth = 2 });
	assert_int_equal(scan_file(st, "banned/nested_alternative.eml").kind, SCAN_BANNED);
	scan_backend_attach.fini(st);
	st = start(&(struct scan_config){ .attach_max_depth = 1 });
	v = scan_file(st, "banned/nested_alternative.eml");
	assert_int_equal(v.kind, SCAN_LIMIT);
	assert_string_equal(v.name, "MIME structure too deep: more than 1 nested multiparts");
	assert_string_equal(v.scanner, "attach");
	scan_backend_attach.fini(st);
	/* libclamav's MaxRecursion sets the depth: 49 + 1 multiparts need 49 */
	st = start(&(struct scan_config){ .max_recursion = 48 });
	assert_int_equal(scan_file(st, "limit/depth_bomb.eml").kind, SCAN_LIMIT);
	scan_backend_attach.fini(st);
	st = start(&(struct scan_config){ .max_recursion = 49 });
	assert_int_equal(scan_file(st, "limit/depth_bomb.eml").kind, SCAN_BANNED);
	scan_backend_attach.fini(st);
	/* and the message/rfc822 nesting: one forward needs 1 */
	st = start(&(struct scan_config){ .max_recursion = 1 });
	assert_int_equal(scan_file(st, "banned/rfc822_scr.eml").kind, SCAN_BANNED);
	scan_backend_attach.fini(st);
}

static void test_lists(void **unused)
{
	void *st = start(&(struct scan_config){ .banned = " .PDF,.docx:\tscreensaver.scr\n" });
	struct scan_verdict v;

	v = scan_file(st, "clean/pdf_attachment.eml");
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_string_equal(v.name, "invoice-4712.pdf");
	v = scan_file(st, "clean/forwarded_docx.eml");
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_string_equal(v.name, "minutes.docx");
	v = scan_file(st, "banned/rfc822_scr.eml");
	assert_int_equal(v.kind, SCAN_BANNED);
	v = scan_file(st, "banned/exe_plain.eml");
	assert_int_equal(v.kind, SCAN_CLEAN);
	scan_backend_attach.fini(st);
	/* an empty list means the default */
	st = start(&(struct scan_config){ .banned = "" });
	assert_int_equal(scan_file(st, "banned/exe_plain.eml").kind, SCAN_BANNED);
	scan_backend_attach.fini(st);
}

static void test_match(void **unused)
{
	struct attach_ban *b = scan_attach_ban_parse(".exe:.Com, .bat autorun.inf");
	static const struct {
		const char *name;
		size_t len;
		int banned;
	} t[] = {
		{ "a.exe", 5, 1 }, { "A.ExE", 5, 1 }, { "a.exe.", 6, 1 }, { "a.exe . .", 9, 1 },
		{ "a.exe\t", 6, 1 }, { "a.exe::$DATA", 12, 1 }, { "a.exe::$data. ", 14, 1 },
		{ "C:\\x\\a.exe", 10, 1 }, { "../a.exe", 8, 1 }, { "a.exe\0.txt", 10, 1 },
		{ "a.pdf.exe", 9, 1 }, { "x.COM", 5, 1 }, { "AUTORUN.INF", 11, 1 },
		{ "dir/autorun.inf", 15, 1 }, { "a.exe/", 6, 0 }, { "a.exe.pdf", 9, 0 },
		{ "a.exe_", 6, 0 }, { "exe", 3, 0 }, { ".exe", 4, 1 }, { "", 0, 0 },
		{ "\0\0\0", 3, 0 }, { "a.ex", 4, 0 }, { "a.ex\0e", 6, 0 }, { "....", 4, 0 },
	};
	size_t i;

	assert_non_null(b);
	for (i = 0; i < N(t); i++)
		if (scan_attach_banned(b, t[i].name, t[i].len) != t[i].banned)
			fail_msg("\"%.*s\" (%zu): want %d", (int)t[i].len, t[i].name, i, t[i].banned);
	scan_attach_ban_free(b);
	b = scan_attach_ban_parse(" ,:: ");
	assert_non_null(b);
	assert_int_equal(scan_attach_banned(b, "a.exe", 5), 0);
	scan_attach_ban_free(b);
}

static size_t put_b64(char *out, const unsigned char *in, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0, col = 0;

	for (i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
		if ((col += 4) == 76) {
			out[o++] = '\n';
			col = 0;
		}
	}
	out[o++] = '\n';
	return o;
}

static void le(unsigned char *p, uint64_t v, int n)
{
	while (n--) {
		*p++ = (unsigned char)v;
		v >>= 8;
	}
}

/* bigzip - a stored zip: big.bin of size bytes, then evil.exe */
static unsigned char *bigzip(size_t size, size_t *len)
{
	static const char *const names[2] = { "big.bin", "evil.exe" };
	size_t dlen[2] = { size, 2 }, off[2], at = 0, cd, i;
	unsigned char *z = calloc(1, size + 400);

	assert_non_null(z);
	for (i = 0; i < 2; i++) {
		off[i] = at;
		memcpy(z + at, "PK\3\4\24", 5);
		le(z + at + 18, dlen[i], 4);
		le(z + at + 22, dlen[i], 4);
		le(z + at + 26, strlen(names[i]), 2);
		memcpy(z + at + 30, names[i], strlen(names[i]));
		at += 30 + strlen(names[i]);
		memset(z + at, i ? 'M' : 'b', dlen[i]);
		at += dlen[i];
	}
	cd = at;
	for (i = 0; i < 2; i++) {
		memcpy(z + at, "PK\1\2\24\0\24", 7);
		le(z + at + 20, dlen[i], 4);
		le(z + at + 24, dlen[i], 4);
		le(z + at + 28, strlen(names[i]), 2);
		le(z + at + 42, off[i], 4);
		memcpy(z + at + 46, names[i], strlen(names[i]));
		at += 46 + strlen(names[i]);
	}
	memcpy(z + at, "PK\5\6", 4);
	le(z + at + 8, 2, 2);
	le(z + at + 10, 2, 2);
	le(z + at + 12, at - cd, 4);
	le(z + at + 16, cd, 4);
	*len = at + 22;
	return z;
}

/* big - a message with one base64 attachment of data, then one more named last */
static int big(const char *aname, const unsigned char *data, size_t n, const char *last, size_t *len)
{
	char *text = malloc(n * 2 + 4096);
	size_t o = 0;
	int fd;

	assert_non_null(text);
	o += (size_t)sprintf(text, "Received: (qmail 1 invoked from network); 3 Mar 2025 10:15:02 -0000\n"
			     "From: a@example.net\nTo: bob@example.com\nSubject: big\nMIME-Version: 1.0\n"
			     "Content-Type: multipart/mixed; boundary=\"big\"\n\n--big\nContent-Type: text/plain\n\n"
			     "Big file attached.\n\n--big\nContent-Type: application/octet-stream; name=\"%s\"\n"
			     "Content-Transfer-Encoding: base64\n\n", aname);
	o += put_b64(text + o, data, n);
	if (last)
		o += (size_t)sprintf(text + o, "--big\nContent-Type: application/octet-stream; name=\"%s\"\n"
				     "Content-Transfer-Encoding: base64\n\nTVo=\n", last);
	o += (size_t)sprintf(text + o, "--big--\n");
	fd = message(text, o);
	free(text);
	*len = o;
	return fd;
}

static void test_big(void **unused)
{
	void *st = start(&(struct scan_config){ 0 });
	size_t n = 1536 * 1024, len, zlen, i;
	unsigned char *data = malloc(n), *z;
	struct scan_verdict v;
	int fd;

	assert_non_null(data);
	for (i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	/* a 2 MB message: the name after the long attachment counts */
	fd = big("data.bin", data, n, "run.exe", &len);
	assert_true(len > 2000000);
	v = scan_fd(st, fd, (off_t)len, 0, NULL);
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_string_equal(v.name, "run.exe");
	close(fd);
	fd = big("data.bin", data, n, "run.txt", &len);
	v = scan_fd(st, fd, (off_t)len, 0, NULL);
	assert_int_equal(v.kind, SCAN_CLEAN);
	assert_string_equal(v.name, "");
	close(fd);
	free(data);

	/* a zip larger than the 8 MiB kept: its central directory is in the tail */
	z = bigzip(10u << 20, &zlen);
	fd = big("big.zip", z, zlen, NULL, &len);
	v = scan_fd(st, fd, (off_t)len, 0, NULL);
	assert_int_equal(v.kind, SCAN_BANNED);
	assert_string_equal(v.name, "evil.exe");
	close(fd);
	free(z);
	scan_backend_attach.fini(st);
}

static void test_deadline_cancel(void **unused)
{
	void *st = start(&(struct scan_config){ 0 });
	atomic_int cancel = 1;
	int fd = open(CORPUS "/banned/exe_plain.eml", O_RDONLY);
	struct scan_verdict v;
	char stats[512];
	size_t n;

	assert_true(fd >= 0);
	v = scan_fd(st, fd, 4000, 1, NULL);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.name, "attach: deadline");
	assert_string_equal(v.scanner, "attach");
	v = scan_fd(st, fd, 4000, 0, &cancel);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.name, "cancelled");
	cancel = 0;
	v = scan_fd(st, fd, 4000, 0, &cancel);
	assert_int_equal(v.kind, SCAN_BANNED);
	close(fd);
	v = scan_fd(st, fd, 4000, 0, NULL);
	assert_int_equal(v.kind, SCAN_ERROR);
	assert_string_equal(v.name, "attach: read: Bad file descriptor");
	v = scan_fd(st, -1, 0, 0, NULL);	/* nothing to read: clean */
	assert_int_equal(v.kind, SCAN_CLEAN);

	n = scan_backend_attach.stats(st, stats, sizeof stats);
	assert_int_equal(n, strlen(stats));
	assert_string_equal(stats, "attach_scans 5\nattach_banned 1\nattach_limits 0\nattach_errors 3\n");
	assert_int_equal(scan_backend_attach.stats(st, stats, 10), 9);
	assert_string_equal(stats, "attach_sc");
	scan_backend_attach.fini(st);
}

static void test_init(void **unused)
{
	void *st = (void *)1;
	char err[128] = "";

	assert_int_equal(scan_backend_attach.init(&st, &(struct scan_config){ .max_recursion = 3 },
						  err, sizeof err), 0);
	assert_non_null(st);
	scan_backend_attach.fini(st);
	assert_string_equal(scan_backend_attach.name, "attach");
	assert_null(scan_backend_attach.reload);
	st = start(NULL);
	assert_int_equal(scan_file(st, "banned/upper_exe.eml").kind, SCAN_BANNED);
	scan_backend_attach.fini(st);
	scan_backend_attach.fini(NULL);
}

static atomic_int thread_bad;

static void *worker(void *st)
{
	int i;

	for (i = 0; i < 10; i++)
		atomic_fetch_add(&thread_bad, check(st, banned, N(banned), 1) + check(st, clean, N(clean), 1) +
				 check(st, limits, N(limits), 1));
	return NULL;
}

static void test_threads(void **unused)
{
	void *st = start(&(struct scan_config){ 0 });
	pthread_t t[4];
	char stats[512];
	int i;

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, st), 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&thread_bad), 0);
	scan_backend_attach.stats(st, stats, sizeof stats);
	assert_non_null(strstr(stats, "attach_scans 1600\nattach_banned 960\nattach_limits 80\n"));
	scan_backend_attach.fini(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_banned),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_deadline_cancel),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
