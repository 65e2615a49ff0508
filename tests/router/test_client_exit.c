/*
 * test_client_exit.c - router/client_exit.c: the one status-to-exit-code
 * table, qmail-smtpd's replies, and custom reject texts.
 *
 *	exit codes    every enum queue_status maps to its qmail-queue code
 *	              (REFERENCE §2/§3); the non-errors (AGAIN, EBUSY, NSTATUS)
 *	              and anything out of range are 81 "internal bug"
 *	replies       client_exit_reply() for every code of REFERENCE §2,
 *	              exact strings, and the "other 11-40" / "anything else" rows
 *	reject text   D / Z prefix; CR, LF, TAB, other control characters and
 *	              DEL become spaces; a NUL ends the text; at most 254 bytes
 *	              after the letter, whatever the buffer; small buffers
 *	conventions   client_custom_parse() names and aliases, unknown -> -1;
 *	              client_reply_make() for none / notqmail / simscan /
 *	              indimail (ERROR_FD and its out-of-range fallback to 2)
 *	delivery      client_deliver_reply() writes the text on a pipe set up at
 *	              a chosen fd (>= 40, free) and closes that fd, returns the
 *	              custom code;
 *	              a closed fd, fd -1, an empty text or a write error
 *	              (EPIPE) give the plain code and write nothing
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "router/client.h"

/* ----------------------------------------------------------- exit codes */

static void test_exit_code_table(void **unused)
{
	static const struct {
		enum queue_status st;
		int code;
	} tab[] = {
		{ QUEUE_OK, 0 },
		{ QUEUE_AGAIN, 81 },	/* not an outcome: a bug if it gets here */
		{ QUEUE_ENOMEM, 51 },
		{ QUEUE_EHOME, 61 },
		{ QUEUE_EPID, 63 },
		{ QUEUE_EMESS, 64 },
		{ QUEUE_EINTD, 65 },
		{ QUEUE_ETODO, 66 },
		{ QUEUE_EWRITE, 53 },
		{ QUEUE_ESPACE, 53 },
		{ QUEUE_EREAD, 54 },
		{ QUEUE_EADDR, 11 },
		{ QUEUE_EFORMAT, 91 },
		{ QUEUE_ECONFIG, 55 },
		{ QUEUE_ELAYOUT, 61 },
		{ QUEUE_EBUSY, 81 },
		{ QUEUE_NSTATUS, 81 },
	};
	unsigned seen[QUEUE_NSTATUS + 1] = { 0 };
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		if (client_exit_code(tab[i].st) != tab[i].code)
			fail_msg("status %d (%s): exit %d, want %d", (int)tab[i].st,
				 queue_status_name(tab[i].st), client_exit_code(tab[i].st), tab[i].code);
		seen[tab[i].st]++;
	}
	/* the table above covers every status exactly once */
	for (i = 0; i <= QUEUE_NSTATUS; i++)
		if (seen[i] != 1)
			fail_msg("status %zu listed %u times in the test table", i, seen[i]);
	/* a value no enum member has is a bug too */
	assert_int_equal(client_exit_code((enum queue_status)(QUEUE_NSTATUS + 7)), QQ_BUG);
	/* the named constants are qmail-queue's numbers */
	assert_int_equal(QQ_ADDR, 11);
	assert_int_equal(QQ_PERM, 31);
	assert_int_equal(QQ_TEMP, 71);
	assert_int_equal(QQ_CUSTOM, 82);
	assert_int_equal(QQ_CUSTOM_INDI, 88);
	assert_int_equal(QQ_FORMAT, 91);
}

/* ------------------------------------------------------------- replies */

static void test_exit_reply_table(void **unused)
{
	static const struct {
		int code;
		const char *reply;
	} tab[] = {
		{ 0, "250 ok" },
		{ 11, "554 envelope address too long for qq (#5.1.3)" },
		{ 31, "554 mail server permanently rejected message (#5.3.0)" },
		{ 51, "451 qq out of memory (#4.3.0)" },
		{ 52, "451 qq timeout (#4.3.0)" },
		{ 53, "451 qq write error or disk full (#4.3.0)" },
		{ 54, "451 qq read error (#4.3.0)" },
		{ 55, "451 qq unable to read configuration (#4.3.0)" },
		{ 56, "451 qq trouble making network connection (#4.3.0)" },
		{ 61, "451 qq trouble in home directory (#4.3.0)" },
		{ 62, "451 qq trouble creating files in queue (#4.3.0)" },
		{ 63, "451 qq trouble creating files in queue (#4.3.0)" },
		{ 64, "451 qq trouble creating files in queue (#4.3.0)" },
		{ 65, "451 qq trouble creating files in queue (#4.3.0)" },
		{ 66, "451 qq trouble creating files in queue (#4.3.0)" },
		{ 71, "451 mail server temporarily rejected message (#4.3.0)" },
		{ 72, "451 connection to mail server timed out (#4.4.1)" },
		{ 73, "451 connection to mail server rejected (#4.4.1)" },
		{ 74, "451 communication with mail server failed (#4.4.2)" },
		{ 81, "451 qq internal bug (#4.3.0)" },
		{ 91, "451 qq internal bug (#4.3.0)" },
		/* other 11-40: IndiMail's 32 spam, 33 virus, 34 banned among them */
		{ 12, "554 qq permanent problem (#5.3.0)" },
		{ 32, "554 qq permanent problem (#5.3.0)" },
		{ 33, "554 qq permanent problem (#5.3.0)" },
		{ 34, "554 qq permanent problem (#5.3.0)" },
		{ 40, "554 qq permanent problem (#5.3.0)" },
		/* anything else, including 82/88 without a usable text */
		{ 1, "451 qq temporary problem (#4.3.0)" },
		{ 10, "451 qq temporary problem (#4.3.0)" },
		{ 41, "451 qq temporary problem (#4.3.0)" },
		{ 50, "451 qq temporary problem (#4.3.0)" },
		{ 57, "451 qq temporary problem (#4.3.0)" },
		{ 60, "451 qq temporary problem (#4.3.0)" },
		{ 67, "451 qq temporary problem (#4.3.0)" },
		{ 75, "451 qq temporary problem (#4.3.0)" },
		{ 82, "451 qq temporary problem (#4.3.0)" },
		{ 88, "451 qq temporary problem (#4.3.0)" },
		{ 100, "451 qq temporary problem (#4.3.0)" },
		{ 111, "451 qq temporary problem (#4.3.0)" },
		{ 255, "451 qq temporary problem (#4.3.0)" },
		{ -1, "451 qq temporary problem (#4.3.0)" },
	};
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcmp(client_exit_reply(tab[i].code), tab[i].reply))
			fail_msg("exit %d: \"%s\", want \"%s\"", tab[i].code,
				 client_exit_reply(tab[i].code), tab[i].reply);
}

/* every code the status table can produce has a specific reply */
static void test_exit_codes_have_replies(void **unused)
{
	int st;

	for (st = 0; st <= QUEUE_NSTATUS; st++) {
		int code = client_exit_code((enum queue_status)st);

		if (code && strstr(client_exit_reply(code), "temporary problem"))
			fail_msg("status %d -> exit %d has only the catch-all reply", st, code);
	}
}

/* --------------------------------------------------------- reject texts */

static void test_reject_text_prefix(void **unused)
{
	char out[300];

	assert_int_equal(client_reject_text(out, sizeof out, 1, "no thanks (#5.7.1)"), 19);
	assert_string_equal(out, "Dno thanks (#5.7.1)");
	assert_int_equal(client_reject_text(out, sizeof out, 0, "later (#4.3.0)"), 15);
	assert_string_equal(out, "Zlater (#4.3.0)");
	/* an empty text is just the letter */
	assert_int_equal(client_reject_text(out, sizeof out, 1, ""), 1);
	assert_string_equal(out, "D");
}

static void test_reject_text_sanitise(void **unused)
{
	char out[300];
	size_t n;

	/* CR and LF would inject SMTP replies: qmail-smtpd passes them on */
	n = client_reject_text(out, sizeof out, 1, "virus\r\n250 ok fake\r\n");
	assert_int_equal(n, 21);
	assert_string_equal(out, "Dvirus  250 ok fake  ");
	/* every other control character, and DEL */
	n = client_reject_text(out, sizeof out, 0, "a\tb\001c\033d\177e\x1f" "f");
	assert_string_equal(out, "Za b c d e f");
	assert_int_equal(n, 12);
	/* a NUL ends the text: nothing after it reaches the client */
	n = client_reject_text(out, sizeof out, 1, "before\0after");
	assert_string_equal(out, "Dbefore");
	assert_int_equal(n, 7);
	/* bytes >= 0x80 (UTF-8 names) pass: qmail-smtpd sends them as they are */
	client_reject_text(out, sizeof out, 1, "M\xc3\xa4rz");
	assert_string_equal(out, "DM\xc3\xa4rz");
	for (n = 0; out[n]; n++)
		assert_false(out[n] == '\r' || out[n] == '\n');
}

static void test_reject_text_cap(void **unused)
{
	char text[1000], out[1000], small[8];
	size_t n, i;

	memset(text, 'x', sizeof text - 1);
	text[sizeof text - 1] = 0;
	/* the letter + 254 bytes, whatever room the buffer has */
	n = client_reject_text(out, sizeof out, 1, text);
	assert_int_equal(n, 255);
	assert_int_equal(strlen(out), 255);
	assert_int_equal(out[0], 'D');
	for (i = 1; i < n; i++)
		assert_int_equal(out[i], 'x');
	/* exactly 254 bytes of text fit whole; 255 lose one */
	text[254] = 0;
	assert_int_equal(client_reject_text(out, sizeof out, 1, text), 255);
	text[254] = 'x';
	text[255] = 0;
	assert_int_equal(client_reject_text(out, sizeof out, 1, text), 255);
	/* a small buffer: truncated, still NUL-terminated */
	n = client_reject_text(small, sizeof small, 0, "abcdefghijk");
	assert_int_equal(n, 7);
	assert_string_equal(small, "Zabcdef");
	n = client_reject_text(small, 2, 1, "abc");
	assert_int_equal(n, 1);
	assert_string_equal(small, "D");
	/* no room for the letter and the NUL: nothing */
	assert_int_equal(client_reject_text(small, 1, 1, "abc"), 0);
	assert_int_equal(client_reject_text(small, 0, 1, "abc"), 0);
}

/* ---------------------------------------------------------- conventions */

static void test_custom_parse(void **unused)
{
	static const struct {
		const char *name;
		enum client_custom v;
	} ok[] = {
		{ "none", CUSTOM_NONE }, { "", CUSTOM_NONE },
		{ "notqmail", CUSTOM_NOTQMAIL }, { "fd6", CUSTOM_NOTQMAIL },
		{ "simscan", CUSTOM_SIMSCAN }, { "fd4", CUSTOM_SIMSCAN },
		{ "indimail", CUSTOM_INDIMAIL }, { "errorfd", CUSTOM_INDIMAIL },
	};
	static const char *const bad[] = {
		"NOTQMAIL", "notqmail ", " none", "fd5", "82", "qmail", "indi", "yes",
	};
	enum client_custom v;
	size_t i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		v = (enum client_custom)99;
		if (client_custom_parse(ok[i].name, &v) != 0 || v != ok[i].v)
			fail_msg("\"%s\": want %d, got %d", ok[i].name, (int)ok[i].v, (int)v);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = CUSTOM_SIMSCAN;
		if (client_custom_parse(bad[i], &v) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(v, CUSTOM_SIMSCAN);	/* untouched */
	}
}

#define VIRUS "Your email was rejected because it contains the EICAR virus (#5.7.1)"

static void test_reply_make_none(void **unused)
{
	struct wire_reply r;

	client_reply_make(&r, QQ_PERM, CUSTOM_NONE, 2, VIRUS);
	assert_int_equal(r.code, 31);
	assert_int_equal(r.plain, 31);
	assert_int_equal(r.fd, -1);
	assert_int_equal(r.len, 0);
	client_reply_make(&r, QQ_TEMP, CUSTOM_NONE, 2, "later");
	assert_int_equal(r.code, 71);
	assert_int_equal(r.plain, 71);
	assert_int_equal(r.fd, -1);
	assert_int_equal(r.len, 0);
}

static void test_reply_make_notqmail(void **unused)
{
	struct wire_reply r;

	client_reply_make(&r, QQ_PERM, CUSTOM_NOTQMAIL, 2, VIRUS);
	assert_int_equal(r.code, 82);
	assert_int_equal(r.plain, 31);
	assert_int_equal(r.fd, 6);
	assert_int_equal(r.len, strlen("D" VIRUS));
	assert_memory_equal(r.text, "D" VIRUS, r.len);
	/* a deferral: Z, still 82, plain 71 */
	client_reply_make(&r, QQ_TEMP, CUSTOM_NOTQMAIL, 2, "try later (#4.3.0)");
	assert_int_equal(r.code, 82);
	assert_int_equal(r.plain, 71);
	assert_int_equal(r.fd, 6);
	assert_int_equal(r.len, 19);
	assert_memory_equal(r.text, "Ztry later (#4.3.0)", 19);
	/* other permanent codes are D too */
	client_reply_make(&r, QQ_ADDR, CUSTOM_NOTQMAIL, 2, "too long");
	assert_int_equal(r.text[0], 'D');
	client_reply_make(&r, 54, CUSTOM_NOTQMAIL, 2, "cut");
	assert_int_equal(r.text[0], 'Z');
}

static void test_reply_make_simscan(void **unused)
{
	struct wire_reply r;

	client_reply_make(&r, QQ_PERM, CUSTOM_SIMSCAN, 2, VIRUS);
	assert_int_equal(r.code, 82);
	assert_int_equal(r.plain, 31);
	assert_int_equal(r.fd, 4);
	assert_int_equal(r.len, strlen("D" VIRUS));
	assert_memory_equal(r.text, "D" VIRUS, r.len);
}

static void test_reply_make_indimail(void **unused)
{
	struct wire_reply r;

	client_reply_make(&r, QQ_PERM, CUSTOM_INDIMAIL, 2, VIRUS);
	assert_int_equal(r.code, 88);
	assert_int_equal(r.plain, 31);
	assert_int_equal(r.fd, 2);
	assert_memory_equal(r.text, "D" VIRUS, r.len);
	client_reply_make(&r, QQ_PERM, CUSTOM_INDIMAIL, 5, VIRUS);
	assert_int_equal(r.fd, 5);
	client_reply_make(&r, QQ_PERM, CUSTOM_INDIMAIL, 127, VIRUS);
	assert_int_equal(r.fd, 127);
	/* an ERROR_FD the wire cannot carry falls back to IndiMail's default */
	client_reply_make(&r, QQ_PERM, CUSTOM_INDIMAIL, 128, VIRUS);
	assert_int_equal(r.fd, 2);
	client_reply_make(&r, QQ_PERM, CUSTOM_INDIMAIL, -1, VIRUS);
	assert_int_equal(r.fd, 2);
}

static void test_reply_make_no_text(void **unused)
{
	static const enum client_custom all[] = {
		CUSTOM_NONE, CUSTOM_NOTQMAIL, CUSTOM_SIMSCAN, CUSTOM_INDIMAIL,
	};
	struct wire_reply r;
	size_t i;

	for (i = 0; i < 4; i++) {
		/* accepted: never a text, whatever the convention */
		client_reply_make(&r, QQ_OK, all[i], 2, "accepted");
		assert_int_equal(r.code, 0);
		assert_int_equal(r.plain, 0);
		assert_int_equal(r.fd, -1);
		assert_int_equal(r.len, 0);
		/* no text: the plain code */
		client_reply_make(&r, QQ_PERM, all[i], 2, NULL);
		assert_int_equal(r.code, 31);
		assert_int_equal(r.fd, -1);
		assert_int_equal(r.len, 0);
		client_reply_make(&r, QQ_TEMP, all[i], 2, "");
		assert_int_equal(r.code, 71);
		assert_int_equal(r.fd, -1);
		assert_int_equal(r.len, 0);
	}
}

static void test_reply_make_long_text(void **unused)
{
	char text[600];
	struct wire_reply r;
	size_t i;

	memset(text, 'v', sizeof text - 1);
	text[sizeof text - 1] = 0;
	text[10] = '\r';
	text[11] = '\n';
	client_reply_make(&r, QQ_PERM, CUSTOM_NOTQMAIL, 2, text);
	assert_int_equal(r.len, 255);
	assert_int_equal(r.text[0], 'D');
	for (i = 0; i < r.len; i++)
		assert_false(r.text[i] == '\r' || r.text[i] == '\n' || r.text[i] == 0);
}

/* ------------------------------------------------------------- delivery */

/* pipe_at - a pipe whose write end sits on the lowest free fd >= min (a
 * chosen number, as qmail-smtpd chooses 6 or 4); *at gets it; returns the
 * read end */
static int pipe_at(int min, int *at)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	*at = fcntl(p[1], F_DUPFD, min);
	assert_true(*at >= min && *at < 128);	/* the wire carries an int8 */
	close(p[1]);
	return p[0];
}

/* closed_fd - a number >= min that is surely not open */
static int closed_fd(int min)
{
	int fd = fcntl(2, F_DUPFD, min);

	assert_true(fd >= min && fd < 128);
	close(fd);
	assert_true(fcntl(fd, F_GETFD) < 0);
	return fd;
}

static size_t drain(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap && (n = read(fd, buf + got, cap - got)) > 0)
		got += (size_t)n;
	return got;
}

static void test_deliver_open_fd(void **unused)
{
	struct wire_reply r;
	char buf[512];
	int rd, at, i;

	for (i = 0; i < 3; i++) {
		rd = pipe_at(40 + 10 * i, &at);
		client_reply_make(&r, QQ_PERM, CUSTOM_INDIMAIL, at, VIRUS);
		assert_int_equal(r.fd, at);
		assert_int_equal(client_deliver_reply(&r), 88);
		/* the fd is closed: qmail-smtpd reads the text to EOF */
		assert_true(fcntl(at, F_GETFD) < 0);
		assert_int_equal(drain(rd, buf, sizeof buf), strlen("D" VIRUS));
		assert_memory_equal(buf, "D" VIRUS, strlen("D" VIRUS));
		close(rd);
	}
	/* a deferral text */
	rd = pipe_at(40, &at);
	client_reply_make(&r, QQ_TEMP, CUSTOM_INDIMAIL, at, "scanner busy (#4.3.0)");
	assert_int_equal(client_deliver_reply(&r), 88);
	assert_int_equal(drain(rd, buf, sizeof buf), 22);
	assert_memory_equal(buf, "Zscanner busy (#4.3.0)", 22);
	close(rd);
}

static void test_deliver_closed_fd(void **unused)
{
	struct wire_reply r;
	int fd = closed_fd(40);

	client_reply_make(&r, QQ_PERM, CUSTOM_INDIMAIL, fd, VIRUS);
	assert_int_equal(client_deliver_reply(&r), 31);
	assert_true(fcntl(fd, F_GETFD) < 0);	/* not created by accident */
	client_reply_make(&r, QQ_TEMP, CUSTOM_INDIMAIL, fd, "later");
	assert_int_equal(client_deliver_reply(&r), 71);
}

static void test_deliver_no_text(void **unused)
{
	struct wire_reply r;
	char buf[16];
	int at, rd = pipe_at(40, &at);

	/* fd -1 (no convention) */
	client_reply_make(&r, QQ_PERM, CUSTOM_NONE, at, VIRUS);
	assert_int_equal(client_deliver_reply(&r), 31);
	/* an fd but an empty text: the plain code, the fd left alone */
	memset(&r, 0, sizeof r);
	r.code = 82;
	r.plain = 31;
	r.fd = (int8_t)at;
	r.len = 0;
	assert_int_equal(client_deliver_reply(&r), 31);
	assert_true(fcntl(at, F_GETFD) >= 0);
	close(at);
	assert_int_equal(drain(rd, buf, sizeof buf), 0);
	close(rd);
	/* accepted */
	client_reply_make(&r, QQ_OK, CUSTOM_NOTQMAIL, 2, NULL);
	assert_int_equal(client_deliver_reply(&r), 0);
}

static void test_deliver_write_error(void **unused)
{
	struct wire_reply r;
	int at, rd = pipe_at(40, &at);

	signal(SIGPIPE, SIG_IGN);
	close(rd);		/* nobody reads: EPIPE */
	client_reply_make(&r, QQ_PERM, CUSTOM_INDIMAIL, at, VIRUS);
	assert_int_equal(client_deliver_reply(&r), 31);
	close(at);
	signal(SIGPIPE, SIG_DFL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_code_table),
		cmocka_unit_test(test_exit_reply_table),
		cmocka_unit_test(test_exit_codes_have_replies),
		cmocka_unit_test(test_reject_text_prefix),
		cmocka_unit_test(test_reject_text_sanitise),
		cmocka_unit_test(test_reject_text_cap),
		cmocka_unit_test(test_custom_parse),
		cmocka_unit_test(test_reply_make_none),
		cmocka_unit_test(test_reply_make_notqmail),
		cmocka_unit_test(test_reply_make_simscan),
		cmocka_unit_test(test_reply_make_indimail),
		cmocka_unit_test(test_reply_make_no_text),
		cmocka_unit_test(test_reply_make_long_text),
		cmocka_unit_test(test_deliver_open_fd),
		cmocka_unit_test(test_deliver_closed_fd),
		cmocka_unit_test(test_deliver_no_text),
		cmocka_unit_test(test_deliver_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
