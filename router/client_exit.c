/*
 * client_exit.c - what qmail-smtpd answers for each exit code, the custom
 * reply for a convention, and reject texts.
 *
 *	(The status table, from which every exit code comes, is in
 *	client_decide.c.)  client_exit_reply() is
 *	qmail-smtpd's answer for a code (REFERENCE §2), for logs and the demo.
 *	client_reject_text() makes a custom text safe: qmail-smtpd passes CR
 *	and LF through, so they would inject SMTP replies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

const char *client_exit_reply(int code)
{
	switch (code) {
	case 0: return "250 ok";
	case 11: return "554 envelope address too long for qq (#5.1.3)";
	case 31: return "554 mail server permanently rejected message (#5.3.0)";
	case 51: return "451 qq out of memory (#4.3.0)";
	case 52: return "451 qq timeout (#4.3.0)";
	case 53: return "451 qq write error or disk full (#4.3.0)";
	case 54: return "451 qq read error (#4.3.0)";
	case 55: return "451 qq unable to read configuration (#4.3.0)";
	case 56: return "451 qq trouble making network connection (#4.3.0)";
	case 61: return "451 qq trouble in home directory (#4.3.0)";
	case 62: case 63: case 64: case 65: case 66:
		return "451 qq trouble creating files in queue (#4.3.0)";
	case 71: return "451 mail server temporarily rejected message (#4.3.0)";
	case 72: return "451 connection to mail server timed out (#4.4.1)";
	case 73: return "451 connection to mail server rejected (#4.4.1)";
	case 74: return "451 communication with mail server failed (#4.4.2)";
	case 81: case 91: return "451 qq internal bug (#4.3.0)";
	}
	if (code >= 11 && code <= 40)
		return "554 qq permanent problem (#5.3.0)";
	return "451 qq temporary problem (#4.3.0)";
}

int client_custom_parse(const char *s, enum client_custom *out)
{
	static const struct { const char *name; enum client_custom v; } tab[] = {
		{ "none", CUSTOM_NONE }, { "", CUSTOM_NONE },
		{ "notqmail", CUSTOM_NOTQMAIL }, { "fd6", CUSTOM_NOTQMAIL },
		{ "simscan", CUSTOM_SIMSCAN }, { "fd4", CUSTOM_SIMSCAN },
		{ "indimail", CUSTOM_INDIMAIL }, { "errorfd", CUSTOM_INDIMAIL },
	};
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (!strcmp(s, tab[i].name)) {
			*out = tab[i].v;
			return 0;
		}
	return -1;
}

size_t client_reject_text(char *out, size_t cap, int permanent, const char *text)
{
	size_t n = 0, max = cap - 1;

	if (cap < 2)
		return 0;
	if (max > 255)
		max = 255;	/* the letter + 254 bytes qmail-smtpd uses */
	out[n++] = permanent ? 'D' : 'Z';
	for (; *text && n < max; text++) {
		unsigned char c = (unsigned char)*text;

		out[n++] = (c == '\r' || c == '\n' || c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	out[n] = 0;
	return n;
}

/* client_deliver_reply - write the custom text where the reply says, when
 * that fd is open, and return the exit code to use */
int client_deliver_reply(const struct wire_reply *r)
{
	ssize_t w;

	if (r->fd < 0 || r->len == 0)
		return r->plain;
	if (fcntl(r->fd, F_GETFD) < 0)
		return r->plain;	/* convention fd not open: plain code */
	do
		w = write(r->fd, r->text, r->len);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)r->len)
		return r->plain;
	close(r->fd);	/* qmail-smtpd reads it to EOF before answering */
	return r->code;
}

/* client_reply_make - the reply for a rejection or deferral under a convention */
void client_reply_make(struct wire_reply *r, int plain, enum client_custom custom, int error_fd,
		       const char *text)
{
	int permanent = plain >= 11 && plain <= 40;
	char buf[260];

	memset(r, 0, sizeof *r);
	r->code = r->plain = (uint8_t)plain;
	r->fd = -1;
	if (!text || !*text || plain == QQ_OK || custom == CUSTOM_NONE)
		return;
	r->len = (uint8_t)client_reject_text(buf, sizeof buf, permanent, text);
	memcpy(r->text, buf, r->len);
	switch (custom) {
	case CUSTOM_NOTQMAIL:
		r->code = QQ_CUSTOM;
		r->fd = 6;
		break;
	case CUSTOM_SIMSCAN:
		r->code = QQ_CUSTOM;
		r->fd = 4;
		break;
	case CUSTOM_INDIMAIL:
		r->code = QQ_CUSTOM_INDI;
		r->fd = (int8_t)(error_fd >= 0 && error_fd < 128 ? error_fd : 2);
		break;
	case CUSTOM_NONE:
		break;
	}
}
