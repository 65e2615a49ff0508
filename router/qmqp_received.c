/*
 * qmqp_received.c - qmail-qmqpd's Received line.
 *
 *	qmqp_received() writes, byte for byte as notqmail's received() does
 *	for qmail-qmqpd (protocol "QMQP", no HELO):
 *	"Received: from <remotehost> (<remoteinfo>@<remoteip>)\n"
 *	"  by <local> with QMQP; <d Mon yyyy hh:mm:ss> -0000\n"
 *	"<remoteinfo>@" only when there is one; a missing remote host or IP
 *	is "unknown", a missing local host name falls back to the local IP,
 *	then "unknown".  Every byte outside [A-Za-z0-9.@%+/=:[]-] becomes
 *	'?', so a hostile PTR record or ident answer cannot break the header
 *	(netqmail 1.06 maps '[' and ']' to '?' too; notqmail keeps them).
 *	The date is GMT, the day not zero-padded (qmail's date822fmt).
 */
#include <string.h>

#include "qmqp.h"

#define FIELD_MAX 256	/* bytes of one field kept; longer ones are cut */

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static int safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr(".@%+/=:-[]", c));
}

/* put - append s (bytes outside the safe set as '?'), cut at FIELD_MAX */
static size_t put(char *p, const char *s)
{
	size_t n = 0;

	for (; *s && n < FIELD_MAX; s++)
		p[n++] = safe((unsigned char)*s) ? *s : '?';
	return n;
}

static size_t lit(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return n;
}

/* num - decimal, zero-padded to width digits */
static size_t num(char *p, unsigned long v, unsigned width)
{
	char t[24];
	size_t n = 0, i;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n < width)
		t[n++] = '0';
	for (i = 0; i < n; i++)
		p[i] = t[n - 1 - i];
	return n;
}

size_t qmqp_received(char *buf, size_t cap, const char *remotehost, const char *remoteinfo,
		     const char *remoteip, const char *local, time_t now)
{
	char tmp[QMQP_RECEIVED_MAX + 100];	/* 4 fields + 60 bytes of text + a date */
	struct tm tm;
	size_t n = 0;

	if (!remotehost)
		remotehost = "unknown";
	if (!remoteip)
		remoteip = "unknown";
	if (!local)
		local = "unknown";
	gmtime_r(&now, &tm);
	n += lit(tmp + n, "Received: from ");
	n += put(tmp + n, remotehost);
	n += lit(tmp + n, " (");
	if (remoteinfo) {
		n += put(tmp + n, remoteinfo);
		n += lit(tmp + n, "@");
	}
	n += put(tmp + n, remoteip);
	n += lit(tmp + n, ")\n  by ");
	n += put(tmp + n, local);
	n += lit(tmp + n, " with QMQP; ");
	n += num(tmp + n, (unsigned long)tm.tm_mday, 1);
	n += lit(tmp + n, " ");
	n += lit(tmp + n, months[tm.tm_mon]);
	n += lit(tmp + n, " ");
	n += num(tmp + n, (unsigned long)tm.tm_year + 1900, 1);
	n += lit(tmp + n, " ");
	n += num(tmp + n, (unsigned long)tm.tm_hour, 2);
	n += lit(tmp + n, ":");
	n += num(tmp + n, (unsigned long)tm.tm_min, 2);
	n += lit(tmp + n, ":");
	n += num(tmp + n, (unsigned long)tm.tm_sec, 2);
	n += lit(tmp + n, " -0000\n");
	if (n > cap)
		return 0;
	memcpy(buf, tmp, n);
	return n;
}
