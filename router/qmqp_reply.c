/*
 * qmqp_reply.c - QMQP replies: the texts sluice-qmqpd answers and the
 * client's reading of a server's answer.
 *
 *	qmqp_reply_exit() is qmail-qmqpd's table (qmail.c's qmail_close())
 *	from a qmail-queue exit code to the reply: the same words
 *	qmail-smtpd uses (client_exit_reply()) with Z for 451 and D for 554,
 *	plus the two codes only qmail_close() knows (115 = 11, 120 "unable to
 *	exec qq").  qmqp_reply_ok() is its "Kok <time> qp <pid>".
 *	qmqp_reply_custom() takes a queue program's custom error text the way
 *	the custom-error patch's qmail_close() does (more than 2 bytes, first
 *	byte D or Z), made safe: a QMQP client may pass it on to an SMTP
 *	client, so no CR, LF or other control byte survives.
 *
 *	qmqp_reply_decode() is stricter than qmail-qmqpc, which takes the
 *	first K, Z or D byte anywhere in the answer: a "K" inside garbage
 *	(an HTTP server's "200 OK") would make it drop the message as
 *	delivered.  Here only a whole netstring whose first byte is K, Z or
 *	D is an answer; anything else is a broken conversation (temporary).
 */
#include <stdio.h>
#include <string.h>

#include "qmqp.h"

const char *qmqp_reply_exit(int code)
{
	static const struct {
		int code;
		const char *text;
	} tab[] = {
		{ 0, "" },
		{ 11, "Denvelope address too long for qq (#5.1.3)" },
		{ 115, "Denvelope address too long for qq (#5.1.3)" },
		{ 31, "Dmail server permanently rejected message (#5.3.0)" },
		{ 51, "Zqq out of memory (#4.3.0)" },
		{ 52, "Zqq timeout (#4.3.0)" },
		{ 53, "Zqq write error or disk full (#4.3.0)" },
		{ 54, "Zqq read error (#4.3.0)" },
		{ 55, "Zqq unable to read configuration (#4.3.0)" },
		{ 56, "Zqq trouble making network connection (#4.3.0)" },
		{ 61, "Zqq trouble in home directory (#4.3.0)" },
		{ 62, "Zqq trouble creating files in queue (#4.3.0)" },
		{ 63, "Zqq trouble creating files in queue (#4.3.0)" },
		{ 64, "Zqq trouble creating files in queue (#4.3.0)" },
		{ 65, "Zqq trouble creating files in queue (#4.3.0)" },
		{ 66, "Zqq trouble creating files in queue (#4.3.0)" },
		{ 71, "Zmail server temporarily rejected message (#4.3.0)" },
		{ 72, "Zconnection to mail server timed out (#4.4.1)" },
		{ 73, "Zconnection to mail server rejected (#4.4.1)" },
		{ 74, "Zcommunication with mail server failed (#4.4.2)" },
		{ 81, "Zqq internal bug (#4.3.0)" },
		{ 91, "Zqq internal bug (#4.3.0)" },
		{ 120, "Zunable to exec qq (#4.3.0)" },
	};
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (tab[i].code == code)
			return tab[i].text;
	if (code >= 11 && code <= 40)
		return "Dqq permanent problem (#5.3.0)";
	return "Zqq temporary problem (#4.3.0)";
}

size_t qmqp_reply_ok(char *buf, size_t cap, time_t now, unsigned long qp)
{
	int n = snprintf(buf, cap, "Kok %llu qp %lu", (unsigned long long)now, qp);

	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t qmqp_reply_custom(char *out, size_t cap, const char *text, size_t len)
{
	size_t n, i;

	if (len <= 2 || (text[0] != 'D' && text[0] != 'Z') || cap < 2)
		return 0;
	if (len > 255)
		len = 255;	/* the letter and 254 bytes, as qmail-smtpd uses */
	if (len > cap - 1)
		len = cap - 1;
	for (n = 0, i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		out[n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	out[n] = 0;
	return n;
}

size_t qmqp_reply_encode(char *out, size_t cap, const char *result)
{
	size_t len = strlen(result);
	int n = snprintf(out, cap, "%zu:", len);

	if (n < 0 || (size_t)n + len + 1 > cap)
		return 0;
	memcpy(out + n, result, len);
	out[n + len] = ',';
	return (size_t)n + len + 1;
}

const char *qmqp_status_name(enum qmqp_status st)
{
	switch (st) {
	case QMQP_OK: return "ok";
	case QMQP_TEMP: return "temp";
	case QMQP_PERM: return "perm";
	case QMQP_ETIMEOUT: return "timeout";
	case QMQP_EREFUSED: return "refused";
	case QMQP_ECONV: return "conversation";
	case QMQP_EREAD: return "read";
	case QMQP_ESYS: return "system";
	}
	return "?";
}

int qmqp_reply_decode(const char *buf, size_t len, struct qmqp_result *r)
{
	size_t i = 0, n = 0, j, k;

	for (; i < len && buf[i] != ':'; i++) {
		if (buf[i] < '0' || buf[i] > '9' || i >= 9) {
			snprintf(r->text, sizeof r->text, "the reply is not a netstring");
			return -1;
		}
		n = n * 10 + (size_t)(buf[i] - '0');
	}
	if (i == len)
		return 0;
	if (i == 0 || n == 0 || n > QMQP_REPLY_MAX) {
		snprintf(r->text, sizeof r->text, "the reply has a length of %s", i ? "0 or over 1024" : "no digits");
		return -1;
	}
	if (len > i + 1 && buf[i + 1] != 'K' && buf[i + 1] != 'Z' && buf[i + 1] != 'D') {
		snprintf(r->text, sizeof r->text, "the reply does not start with K, Z or D");
		return -1;
	}
	if (len < i + 1 + n + 1)
		return 0;
	if (buf[i + 1 + n] != ',') {
		snprintf(r->text, sizeof r->text, "the reply has no comma at its end");
		return -1;
	}
	r->status = buf[i + 1] == 'K' ? QMQP_OK : buf[i + 1] == 'Z' ? QMQP_TEMP : QMQP_PERM;
	for (k = 0, j = i + 2; j < i + 1 + n && k < sizeof r->text - 1; j++) {
		unsigned char c = (unsigned char)buf[j];

		r->text[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	r->text[k] = 0;
	return 1;
}
