/*
 * test_scan_mime.c - the streaming MIME walker (scan/scan_mime.c): which
 * names it reports, from where, under which limits, for any chunk size.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scan/scan_mime.h"

#define CORPUS TEST_DATA_DIR "/attach"

struct names {
	char all[4096];		/* "H:name|Z:name|", non-printables as '?' */
	unsigned n, stop_at;
};

static int collect(void *ctx, const char *name, size_t len, enum mime_origin o)
{
	struct names *c = ctx;
	size_t at = strlen(c->all), i;

	if (at + 4 + len < sizeof c->all) {
		c->all[at++] = "HUZ"[o];
		c->all[at++] = ':';
		for (i = 0; i < len; i++)
			c->all[at++] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
		c->all[at++] = '|';
		c->all[at] = 0;
	}
	return ++c->n == c->stop_at;
}

static struct mime_result res;
static struct names got;

/* walk - names in text as "H:a|Z:b|" (static), with limits lim (NULL: defaults) */
static const char *walk_len(const char *text, size_t len, const struct mime_limits *lim,
			    enum mime_status want)
{
	static const struct mime_limits none;

	memset(&got, 0, sizeof got);
	assert_int_equal(scan_mime_walk_mem(text, len, lim ? lim : &none, collect, &got, &res), want);
	return got.all;
}

static const char *walk(const char *text, const struct mime_limits *lim)
{
	return walk_len(text, strlen(text), lim, MIME_OK);
}

static char *corpus(const char *rel, size_t *len)
{
	char *p = tu_read(tu_path(CORPUS, "%s", rel), len);

	if (!p)
		fail_msg("cannot read %s/%s", CORPUS, rel);
	return p;
}

static void test_corpus_names(void **unused)
{
	static const struct {
		const char *file, *names;
	} t[] = {
		{ "banned/exe_plain.eml", "H:setup.exe|H:setup.exe|" },
		{ "banned/rfc2231_continued.eml", "H:Rechnung M??rz.exe|" },
		{ "banned/rfc2047_q.eml", "H:Rechnung_2024.scr|" },
		{ "banned/uuencode.eml", "U:payment.exe|" },
		{ "banned/yenc.eml", "U:update.exe|" },
		{ "banned/zip_evil.eml", "H:documents.zip|H:documents.zip|Z:readme.txt|Z:evil.exe|"
					 "Z:readme.txt|Z:evil.exe|" },
		{ "banned/zip_sniffed.eml", "H:export.dat|H:export.dat|Z:export/report.csv|Z:export/tool.js|"
					    "Z:export/report.csv|Z:export/tool.js|" },
		{ "banned/zip_unicode_path.eml", "H:archive.zip|H:archive.zip|Z:safe.txt|Z:safe.vbs|"
						 "Z:safe.txt|Z:safe.vbs|" },
		{ "banned/rfc822_scr.eml", "H:screensaver.scr|H:screensaver.scr|" },
		{ "banned/nested_alternative.eml", "H:report.bat|H:report.bat|" },
		{ "banned/same_boundary.eml", "H:x.exe|H:x.exe|" },
		{ "banned/crlf_exe.eml", "H:setup.exe|H:setup.exe|" },
		{ "banned/unterminated_exe.eml", "H:late.exe|H:late.exe|" },
		{ "banned/rfc2231_nul.eml", "H:notes.exe?.txt|" },
		{ "clean/forwarded_docx.eml", "H:minutes.docx|H:minutes.docx|Z:[Content_Types].xml|"
					      "Z:_rels/.rels|Z:word/document.xml|Z:[Content_Types].xml|"
					      "Z:_rels/.rels|Z:word/document.xml|" },
		{ "clean/digest.eml", "H:agenda.txt|H:agenda.txt|" },
		{ "clean/inline_image.eml", "H:logo.png|H:logo.png|" },
		{ "clean/no_mime.eml", "" },
		{ "clean/plain_text.eml", "" },
		{ "limit/depth_bomb.eml", "" },
		{ "limit/empty_boundary.eml", "" },
		{ "limit/truncated_header.eml", "" },
	};
	static const size_t chunks[] = { 0, MIME_CHUNK_MIN, 1000, 4096 };
	size_t i, k;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t len;
		char *text = corpus(t[i].file, &len);

		/* the answer never depends on how the message is cut in chunks */
		for (k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
			struct mime_limits lim = { .chunk = chunks[k] };
			const char *names = walk_len(text, len, &lim, MIME_OK);

			if (strcmp(names, t[i].names))
				fail_msg("%s (chunk %zu): got \"%s\", want \"%s\"", t[i].file, chunks[k],
					 names, t[i].names);
		}
		free(text);
	}
}

static void test_headers(void **unused)
{
	/* a single-part message with its name in the top header; two types */
	assert_string_equal(walk("Content-Type: text/plain; name=a.txt\n"
				 "Content-Type: application/octet-stream; name=b.exe\n"
				 "Content-Disposition: attachment;\n\tfilename=\"c\n .exe\"\n\nbody\n", NULL),
			    "H:a.txt|H:b.exe|H:c .exe|");
	/* field names: any case, blanks before the colon; other fields ignored */
	assert_string_equal(walk("CONTENT-DISPOSITION : attachment; filename=a.exe\n"
				 "X-Content-Disposition: attachment; filename=b.exe\n"
				 "Content-Dispositions: attachment; filename=c.exe\n"
				 "Subject: filename=d.exe\n\n", NULL),
			    "H:a.exe|");
	/* a header without a blank line before the end, and no final LF */
	assert_string_equal(walk("Content-Disposition: attachment; filename=a.exe", NULL), "H:a.exe|");
	/* headers after the blank line are body */
	assert_string_equal(walk("Subject: x\n\nContent-Disposition: attachment; filename=a.exe\n", NULL), "");
	assert_string_equal(walk("", NULL), "");
	assert_int_equal(res.parts, 1);
}

static void test_structure(void **unused)
{
	/* a later multipart type wins over an earlier plain one */
	assert_string_equal(walk("Content-Type: text/plain\nContent-Type: multipart/mixed; boundary=b\n\n"
				 "--b\nContent-Type: text/plain; name=a.exe\n\n--b--\n", NULL),
			    "H:a.exe|");
	/* an outer delimiter ends inner parts; the epilogue is ignored */
	assert_string_equal(walk("Content-Type: multipart/mixed; boundary=out\n\n"
				 "--out\nContent-Type: multipart/mixed; boundary=in\n\n"
				 "--in\nContent-Type: text/plain; name=1.txt\n\n"
				 "--out\nContent-Type: text/plain; name=2.txt\n\n"
				 "--out--\nContent-Type: text/plain; name=3.txt\n\n", NULL),
			    "H:1.txt|H:2.txt|");
	/* delimiters: trailing blanks allowed, anything else is not one */
	assert_string_equal(walk("Content-Type: multipart/mixed; boundary=b\n\n"
				 "--b \t\r\nContent-Type: text/plain; name=1.txt\n\n"
				 "--bx\nContent-Type: text/plain; name=2.txt\n\n"
				 "--b--x\n --b\n-b\n--b--\n", NULL),
			    "H:1.txt|");
	/* a boundary too long for the frame stack: a limit, body ignored */
	{
		char text[2400];

		snprintf(text, sizeof text, "Content-Type: multipart/mixed; boundary=%0999d\n\n--%0999d\n"
			 "Content-Type: text/plain; name=a.exe\n\n", 0, 0);
		assert_string_equal(walk(text, NULL), "");
		assert_int_equal(res.limits, MIME_LIMIT_BOUNDARY);
		assert_string_equal(res.why, "MIME boundary longer than 998 bytes");
		/* 998 bytes: a boundary like any other */
		snprintf(text, sizeof text, "Content-Type: multipart/mixed; boundary=%0998d\n\n--%0998d\n"
			 "Content-Type: text/plain; name=a.exe\n\n", 0, 0);
		assert_string_equal(walk(text, NULL), "H:a.exe|");
		assert_int_equal(res.limits, 0);
	}
	/* message/rfc822 inside a single-part message, then uuencode in its body */
	assert_string_equal(walk("Content-Type: message/rfc822\n\nSubject: inner\n"
				 "Content-Type: text/plain\n\nbegin 644 u.exe\n`\nend\n", NULL),
			    "U:u.exe|");
	/* base64 message/rfc822 is decoded and walked; junk in it is no name */
	assert_string_equal(walk("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
				 "begin 644 u.exe\n", NULL), "");
	/* "Content-Type: text/plain\n\nbegin 644 u.exe\n" */
	assert_string_equal(walk("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
				 "Q29udGVudC1UeXBlOiB0ZXh0L3BsYWluCgpiZWdpbiA2NDQgdS5leGUK\n", NULL), "U:u.exe|");
	/* a base64 text part is searched for begin lines: "x\r\nbegin 644 v.exe" */
	assert_string_equal(walk("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
				 "eA0KYmVnaW4gNjQ0IHYuZXhl\n", NULL), "U:v.exe|");
	/* multipart without boundary: text */
	assert_string_equal(walk("Content-Type: multipart/mixed\n\nbegin 644 u.exe\n", NULL), "U:u.exe|");
}

static void test_long_lines(void **unused)
{
	struct mime_limits lim = { .chunk = MIME_CHUNK_MIN };
	size_t big = 100000, n = 0;
	char *text = malloc(big + 1000);

	assert_non_null(text);
	n += (size_t)sprintf(text + n, "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
			     "Content-Type: text/plain\n\n");
	/*
	 * A 100 KB line: its second piece (with the smallest chunk) looks like
	 * a delimiter, its third like a begin line; neither starts a line.
	 */
	memset(text + n, 'x', big);
	memset(text + n + 256, ' ', 256);
	memcpy(text + n + 256, "--b", 3);
	memcpy(text + n + 512, "begin 644 a.exe", 15);
	n += big;
	n += (size_t)sprintf(text + n, "\n--b\nContent-Type: text/plain; name=ok.txt\n\n--b--\n");
	assert_string_equal(walk_len(text, n, &lim, MIME_OK), "H:ok.txt|");
	assert_string_equal(walk_len(text, n, NULL, MIME_OK), "H:ok.txt|");
	free(text);
}

static void test_limits(void **unused)
{
	struct mime_limits lim = { .max_parts = 3 };
	char *text = malloc(20000);
	size_t n = 0;
	int i;

	assert_non_null(text);
	n += (size_t)sprintf(text + n, "Content-Type: multipart/mixed; boundary=b\n\n");
	for (i = 0; i < 5; i++)
		n += (size_t)sprintf(text + n, "--b\nContent-Type: text/plain; name=%d.txt\n\n", i);
	/* parts: the message itself and two body parts fit */
	assert_string_equal(walk_len(text, n, &lim, MIME_OK), "H:0.txt|H:1.txt|");
	assert_int_equal(res.limits, MIME_LIMIT_PARTS);
	assert_string_equal(res.why, "more than 3 MIME parts");
	assert_int_equal(res.parts, 4);

	/* depth: max_depth multiparts in one message are fine, one more is a limit */
	lim = (struct mime_limits){ .max_depth = 1 };
	n = (size_t)sprintf(text, "Content-Type: multipart/mixed; boundary=0\n\n"
			    "--0\nContent-Type: message/rfc822\n\n"
			    "Content-Type: multipart/mixed; boundary=2\n\n"
			    "--2\nContent-Disposition: attachment; filename=a.exe\n"
			    "Content-Type: multipart/mixed; boundary=3\n\n"
			    "--3\nContent-Disposition: attachment; filename=b.exe\n\n"
			    "--2\nContent-Disposition: attachment; filename=c.exe\n\n");
	assert_string_equal(walk_len(text, n, &lim, MIME_OK), "H:a.exe|H:c.exe|");
	assert_int_equal(res.limits, MIME_LIMIT_DEPTH);
	assert_string_equal(res.why, "MIME structure too deep: more than 1 nested multiparts");
	lim.max_depth = 2;
	assert_string_equal(walk_len(text, n, &lim, MIME_OK), "H:a.exe|H:b.exe|H:c.exe|");
	assert_int_equal(res.limits, 0);
	/* and max_messages message/rfc822 encapsulations */
	lim = (struct mime_limits){ .max_messages = 1 };
	n = (size_t)sprintf(text, "Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n"
			    "Content-Disposition: attachment; filename=d.exe\n\n");
	assert_string_equal(walk_len(text, n, &lim, MIME_OK), "");
	assert_int_equal(res.limits, MIME_LIMIT_MESSAGES);
	assert_string_equal(res.why, "MIME structure too deep: more than 1 nested messages");
	lim.max_messages = 2;
	assert_string_equal(walk_len(text, n, &lim, MIME_OK), "H:d.exe|");

	/*
	 * an encoded message inside an encoded message: 141 bytes decoded
	 * hold 57 more; the inner walk gets what the outer one left of max_inner
	 */
	n = (size_t)sprintf(text, "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
			    "Q29udGVudC1UeXBlOiBtZXNzYWdlL3JmYzgyMgpDb250ZW50LVRyYW5zZmVyLUVuY29kaW5nOiBiYXNlNjQK"
			    "ClEyOXVkR1Z1ZEMxRWFYTndiM05wZEdsdmJqb2dZWFIwWVdOb2JXVnVkRHNnWm1sc1pXNWhiV1U5WkdWbGNDNWxlR1VLQ21KdlpIa0sK\n");
	lim = (struct mime_limits){ .max_inner = 198 };
	assert_string_equal(walk_len(text, n, &lim, MIME_OK), "H:deep.exe|");
	assert_int_equal(res.limits, 0);
	lim.max_inner = 197;
	assert_string_equal(walk_len(text, n, &lim, MIME_OK), "");
	assert_int_equal(res.limits, MIME_LIMIT_EMBED);
	assert_string_equal(res.why, "encoded message/rfc822 larger than 56 bytes");
	lim.max_inner = 140;
	assert_string_equal(walk_len(text, n, &lim, MIME_OK), "");
	assert_string_equal(res.why, "encoded message/rfc822 larger than 140 bytes");

	/* a Content-* field longer than max_header: cut, and a limit */
	lim = (struct mime_limits){ .max_header = 64 };
	n = (size_t)sprintf(text, "Content-Disposition: attachment; filename=\"%060d.exe\"\n"
			    "Subject: %0100d\n\n", 0, 0);
	/* its head and its tail are kept: the head alone, and both joined */
	assert_string_equal(walk_len(text, n, &lim, MIME_OK),
			    "H:000000000|H:00000000000000000000000000000000000.exe|");
	assert_int_equal(res.limits, MIME_LIMIT_HEADER);
	assert_string_equal(res.why, "MIME header field longer than 64 bytes");
	/* other fields may be as long as they like */
	lim.max_header = 128;
	assert_string_equal(walk_len(text, n, &lim, MIME_OK),
			    "H:000000000000000000000000000000000000000000000000000000000000.exe|");
	assert_int_equal(res.limits, 0);
	free(text);
}

static void test_zip_limits(void **unused)
{
	struct mime_limits lim = { .max_zip = 100 };
	size_t len;
	char *text = corpus("banned/zip_evil.eml", &len);

	/* only the last 100 bytes kept: the central directory is farther back */
	assert_string_equal(walk_len(text, len, &lim, MIME_OK), "H:documents.zip|H:documents.zip|");
	assert_int_equal(res.limits, MIME_LIMIT_ZIP);
	assert_string_equal(res.why, "zip attachment documents.zip: central directory too far from the end");
	free(text);
	text = corpus("limit/zip_corrupt.eml", &len);
	assert_string_equal(walk_len(text, len, NULL, MIME_OK), "H:data.zip|H:data.zip|Z:readme.txt|");
	assert_string_equal(res.why, "zip attachment data.zip: corrupt central directory");
	free(text);
	/* named zip, not a zip */
	assert_string_equal(walk("Content-Type: application/zip\nContent-Transfer-Encoding: base64\n\n"
				 "aGVsbG8gd29ybGQ=\n", NULL), "");
	assert_string_equal(res.why, "zip attachment (no name): no central directory");
	/* not named a zip and not starting like one: not decoded further */
	assert_string_equal(walk("Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
				 "aGVsbG8gd29ybGQ=\n", NULL), "");
	assert_int_equal(res.limits, 0);
}

static void test_stop_and_checks(void **unused)
{
	static atomic_int cancel = 1;
	struct mime_limits lim = { .cancel = &cancel };
	const char *text = "Content-Type: text/plain; name=a.txt; filename=b.txt\n\n";

	memset(&got, 0, sizeof got);
	got.stop_at = 1;
	assert_int_equal(scan_mime_walk_mem(text, strlen(text), &(struct mime_limits){ 0 }, collect, &got, &res),
			 MIME_STOPPED);
	assert_string_equal(got.all, "H:b.txt|");
	walk_len(text, strlen(text), &lim, MIME_CANCELLED);
	cancel = 0;
	assert_string_equal(walk_len(text, strlen(text), &lim, MIME_OK), "H:b.txt|H:a.txt|");
	lim.deadline_ms = 1;	/* long past */
	walk_len(text, strlen(text), &lim, MIME_DEADLINE);
}

static void test_fd(void **unused)
{
	int fd = memfd_create("mime", 0);
	size_t len;
	char *text = corpus("banned/zip_evil.eml", &len);
	struct names a;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	memset(&got, 0, sizeof got);
	assert_int_equal(scan_mime_walk(fd, (off_t)len, &(struct mime_limits){ .chunk = 300 }, collect, &got, &res),
			 MIME_OK);
	a = got;
	assert_string_equal(walk_len(text, len, NULL, MIME_OK), a.all);
	/* a size larger than the file: what is there counts */
	memset(&got, 0, sizeof got);
	assert_int_equal(scan_mime_walk(fd, (off_t)len * 2, &(struct mime_limits){ 0 }, collect, &got, &res),
			 MIME_OK);
	assert_string_equal(got.all, a.all);
	close(fd);
	memset(&got, 0, sizeof got);
	assert_int_equal(scan_mime_walk(fd, 100, &(struct mime_limits){ 0 }, collect, &got, &res), MIME_EIO);
	assert_int_equal(res.err, EBADF);
	free(text);
}

static void test_printable(void **unused)
{
	char out[16];
	char longname[100];

	assert_int_equal(scan_mime_printable(out, sizeof out, "a\tb\x80\0c", 6), 6);
	assert_string_equal(out, "a?b??c");
	memset(longname, 'x', sizeof longname);
	memcpy(longname, "head", 4);
	memcpy(longname + sizeof longname - 4, ".exe", 4);
	assert_int_equal(scan_mime_printable(out, sizeof out, longname, sizeof longname), 15);
	assert_string_equal(out, "headxx...xx.exe");
	assert_int_equal(scan_mime_printable(out, 5, longname, sizeof longname), 4);
	assert_string_equal(out, "...e");
	assert_int_equal(scan_mime_printable(out, 4, longname, sizeof longname), 3);
	assert_string_equal(out, "hea");
	assert_int_equal(scan_mime_printable(out, 2, longname, sizeof longname), 1);
	assert_string_equal(out, "h");
	assert_int_equal(scan_mime_printable(out, sizeof out, "", 0), 0);
	assert_string_equal(out, "");
}

/*
 * Leaves (lim.leaves, what the clamav backend scans from memory): every
 * leaf part's body decoded and whole, in order, with its name and depth,
 * at any chunk size; what the leaves do not carry counts in unwalked.
 */
struct leaves {
	char all[4096];		/* "depth:name:body|" */
	unsigned n;
};

static int leaf_collect(void *ctx, const unsigned char *body, size_t len, const char *name, unsigned depth)
{
	struct leaves *l = ctx;
	size_t at = strlen(l->all);

	snprintf(l->all + at, sizeof l->all - at, "%u:%s:%.*s|", depth, name, (int)len, (const char *)body);
	l->n++;
	return 0;
}

static void test_leaves(void **unused)
{
	static const char msg[] =
		"From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"o\"\n\n"
		"preamble is no leaf\n--o\nContent-Type: multipart/alternative; boundary=\"i\"\n\n"
		"--i\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nh=C3=A9llo =\nworld\n"
		"--i\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--i--\n"
		"--o\nContent-Type: application/octet-stream; name=\"a.bin\"\nContent-Transfer-Encoding: base64\n\n"
		"aGVsbG8g\nd29ybGQ\n--o--\nepilogue is no leaf\n";
	static const char want[] = "2::h\xc3\xa9llo world\n|2::<p>hi</p>\r\n|1:a.bin:hello world|";
	size_t chunks[] = { 256, 300, 65536 }, c;

	for (c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
		struct leaves l = { .n = 0 };
		struct mime_leaves lv = { .fn = leaf_collect, .ctx = &l, .max = 1 << 20 };
		struct mime_limits lim = { .chunk = chunks[c], .leaves = &lv };

		memset(&got, 0, sizeof got);
		assert_int_equal(scan_mime_walk_mem(msg, sizeof msg - 1, &lim, collect, &got, &res), MIME_OK);
		assert_string_equal(l.all, want);
		assert_int_equal(l.n, 3);
		assert_int_equal(res.unwalked, 0);
		assert_int_equal(res.limits, 0);
	}
	{			/* no MIME: the body is the one leaf */
		struct leaves l = { .n = 0 };
		struct mime_leaves lv = { .fn = leaf_collect, .ctx = &l, .max = 1 << 20 };
		static const char plain[] = "Subject: x\n\nbody line\n";

		assert_int_equal(scan_mime_walk_mem(plain, sizeof plain - 1, &(struct mime_limits){ .leaves = &lv },
						    collect, &got, &res), MIME_OK);
		assert_string_equal(l.all, "0::body line\n|");
	}
	{			/* what leaves do not carry: uuencode, message/rfc822, a leaf over max */
		static const char *const odd[] = {
			"Subject: x\n\nbegin 644 a.txt\n#86)C\n`\nend\n",
			"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n"
			"Subject: in\n\nhi\n--b--\n",
			"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n"
			"Content-Transfer-Encoding: base64\n\nU3ViamVjdDogaW4KCmhpCg==\n--b--\n",
			"Subject: x\n\n0123456789abcdef0123456789\n",
		};
		size_t i;

		for (i = 0; i < sizeof odd / sizeof odd[0]; i++) {
			struct leaves l = { .n = 0 };
			struct mime_leaves lv = { .fn = leaf_collect, .ctx = &l, .max = 16 };

			scan_mime_walk_mem(odd[i], strlen(odd[i]), &(struct mime_limits){ .leaves = &lv }, collect,
					   &got, &res);
			assert_true(res.unwalked > 0);
		}
	}
}

/* ---- BinHex 4.0, encoded here as the format describes it ---- */

static uint16_t hqx_crc(const unsigned char *p, size_t n)
{
	uint16_t crc = 0;
	size_t i;
	int b;

	for (i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)(crc << 1 ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

/* hqx - name and data as BinHex 4.0 text (":...:" lines of 64) appended to out */
static void hqx(char *out, size_t cap, const char *name, size_t nlen, const unsigned char *data, size_t dlen)
{
	static const char abc[] = "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";
	unsigned char raw[4096], rle[8192];
	size_t n = 0, r = 0, i, o = strlen(out), col = 1;
	uint16_t crc;

	raw[n++] = (unsigned char)nlen;
	memcpy(raw + n, name, nlen);
	n += nlen;
	memcpy(raw + n, "\0APPL????\0\0", 11);
	n += 11;
	raw[n++] = (unsigned char)(dlen >> 24);
	raw[n++] = (unsigned char)(dlen >> 16);
	raw[n++] = (unsigned char)(dlen >> 8);
	raw[n++] = (unsigned char)dlen;
	memset(raw + n, 0, 4);
	n += 4;
	crc = hqx_crc(raw, n);
	raw[n++] = (unsigned char)(crc >> 8);
	raw[n++] = (unsigned char)crc;
	memcpy(raw + n, data, dlen);
	n += dlen;
	crc = hqx_crc(data, dlen);
	raw[n++] = (unsigned char)(crc >> 8);
	raw[n++] = (unsigned char)crc;
	raw[n++] = 0;		/* an empty resource fork's CRC */
	raw[n++] = 0;
	for (i = 0; i < n;) {	/* runs of 4 or more: byte 0x90 count; 0x90 itself: 0x90 0 */
		size_t k = 1;

		while (i + k < n && raw[i + k] == raw[i] && k < 255)
			k++;
		if (raw[i] == 0x90) {
			rle[r++] = 0x90;
			rle[r++] = 0;
			i++;
		} else if (k >= 4) {
			rle[r++] = raw[i];
			rle[r++] = 0x90;
			rle[r++] = (unsigned char)k;
			i += k;
		} else
			rle[r++] = raw[i++];
	}
	out[o++] = ':';
	for (i = 0; i < r; i += 3) {
		unsigned long v = (unsigned long)rle[i] << 16 | (i + 1 < r ? (unsigned long)rle[i + 1] << 8 : 0) |
				  (i + 2 < r ? rle[i + 2] : 0);
		size_t k = i + 2 < r ? 4 : i + 1 < r ? 3 : 2, m;

		for (m = 0; m < k; m++) {
			out[o++] = abc[(v >> (18 - 6 * m)) & 63];
			if (++col == 64) {
				out[o++] = '\n';
				col = 0;
			}
		}
	}
	out[o++] = ':';
	out[o++] = '\n';
	out[o] = 0;
	assert_true(o < cap);
}

static void test_binhex(void **unused)
{
	static const unsigned char zip[] =	/* a stored zip of one empty member, "in.exe" */
		"PK\3\4\n\0\0\0\0\0\0\0!\0\0\0\0\0\0\0\0\0\0\0\0\0\6\0\0\0in.exe"
		"PK\1\2\24\3\n\0\0\0\0\0\0\0!\0\0\0\0\0\0\0\0\0\0\0\0\0\6\0\0\0\0\0\0\0\0\0\0\0\244\201\0\0\0\0in.exe"
		"PK\5\6\0\0\0\0\1\0\1\0\64\0\0\0\44\0\0\0\0\0";
	unsigned char data[600];
	char *text = malloc(65536);
	struct mime_limits lim = { .chunk = MIME_CHUNK_MIN };
	size_t n;

	assert_non_null(text);
	memset(data, 0x90, 300);	/* runs of the marker byte itself, runs of zeros */
	memset(data + 300, 0, 300);
	/* in a text body, after its first line: the name, origin "U" */
	strcpy(text, "Subject: x\n\nHere:\n(This file must be converted with BinHex 4.0)\n\n");
	hqx(text, 65536, "run.exe", 7, data, sizeof data);
	strcat(text, "\nBye\n");
	assert_string_equal(walk(text, NULL), "U:run.exe|");
	assert_int_equal(res.limits, 0);
	assert_true(res.unwalked > 0);	/* a file inside the text: libclamav's mail parser reads it */
	assert_string_equal(walk(text, &lim), "U:run.exe|");	/* lines in 256-byte pieces */
	/* a run and the marker byte inside the name */
	strcpy(text, "Subject: x\n\n(This file must be converted with BinHex 4.0)\n");
	hqx(text, 65536, "aaaaaa\x90.exe", 11, data, 10);
	assert_string_equal(walk(text, NULL), "U:aaaaaa?.exe|");
	/* a data fork that is a zip: its members listed */
	strcpy(text, "Subject: x\n\n(This file must be converted with BinHex 4.0)\n");
	hqx(text, 65536, "docs.bin", 8, zip, sizeof zip - 1);
	assert_string_equal(walk(text, NULL), "U:docs.bin|Z:in.exe|Z:in.exe|");
	assert_int_equal(res.limits, 0);
	/* application/mac-binhex40, base64, without the first line */
	{
		char hq[4096] = "", *b64 = malloc(8192);
		static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t i, o = 0, hl;

		assert_non_null(b64);
		hqx(hq, sizeof hq, "tool.scr", 8, data, 100);
		hl = strlen(hq);
		for (i = 0; i < hl; i += 3) {
			unsigned long v = (unsigned long)(unsigned char)hq[i] << 16 |
					  (i + 1 < hl ? (unsigned long)(unsigned char)hq[i + 1] << 8 : 0) |
					  (i + 2 < hl ? (unsigned char)hq[i + 2] : 0);

			b64[o++] = t[v >> 18 & 63];
			b64[o++] = t[v >> 12 & 63];
			b64[o++] = i + 1 < hl ? t[v >> 6 & 63] : '=';
			b64[o++] = i + 2 < hl ? t[v & 63] : '=';
		}
		b64[o] = 0;
		snprintf(text, 65536, "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
			 "Content-Type: application/mac-binhex40; name=docs.hqx\n"
			 "Content-Transfer-Encoding: base64\n\n%s\n--b--\n", b64);
		assert_string_equal(walk(text, NULL), "H:docs.hqx|U:tool.scr|");
		free(b64);
	}
	/* cut inside the name: a limit; the part's name in the reason */
	snprintf(text, 65536, "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		 "Content-Type: application/mac-binhex40; name=x.hqx\n\n");
	hqx(text, 65536, "a-long-name-for-a-file.exe", 26, data, 10);
	n = strlen(text);
	text[n - (n - strlen("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
			      "Content-Type: application/mac-binhex40; name=x.hqx\n\n")) + 12] = 0;
	strcat(text, ":\n--b--\n");
	assert_string_equal(walk(text, NULL), "H:x.hqx|");
	assert_int_equal(res.limits, MIME_LIMIT_EMBED);
	assert_string_equal(res.why, "BinHex file in x.hqx cut before its name");
	/* the first line alone, or quoted with no BinHex after it: nothing, no limit */
	assert_string_equal(walk("Subject: x\n\nOld tools said \"(This file must be converted with BinHex 4.0)\".\n"
				 "Nothing follows.\n", NULL), "");
	assert_int_equal(res.limits, 0);
	/* the first line does not hide a uuencoded file after it */
	assert_string_equal(walk("Subject: x\n\n(This file must be converted with BinHex 4.0)\n\n"
				 "begin 644 evil.exe\n#34UH\n`\nend\n", NULL), "U:evil.exe|");
	/* a clean file: its name, nothing banned is up to the caller */
	strcpy(text, "Subject: x\n\n(This file must be converted with BinHex 4.0)\n");
	hqx(text, 65536, "notes.txt", 9, (const unsigned char *)"hello\n", 6);
	assert_string_equal(walk(text, NULL), "U:notes.txt|");
	assert_int_equal(res.limits, 0);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_names),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_zip_limits),
		cmocka_unit_test(test_stop_and_checks),
		cmocka_unit_test(test_fd),
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_leaves),
		cmocka_unit_test(test_binhex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
