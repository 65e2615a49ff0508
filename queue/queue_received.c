/*
 * queue_received.c - qmail-queue's Received line, and the users it names.
 *
 *	queue_received() formats, byte for byte as qmail-queue does,
 *	"Received: (qmail <pid> invoked <how>); <d Mon yyyy hh:mm:ss> -0000\n"
 *	with <how> = "by alias" | "from network" | "for bounce" | "by uid N"
 *	by the caller's uid (day of month not zero-padded, time in GMT).
 *	queue_uids_load() finds the uids of alias, qmaild and qmails in a
 *	passwd file read directly: no NSS modules on the per-message path.
 *	queue_received_helo() reads the client's HELO name back from the
 *	Received line qmail-smtpd writes first into the message, when the
 *	line's IP is the client's (rspamd's Helo header).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_int.h"

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

size_t queue_received(char *buf, size_t cap, unsigned long pid, uid_t uid,
		      const struct queue_uids *u, time_t now)
{
	struct tm tm;
	char how[32];
	int n;

	gmtime_r(&now, &tm);
	if (u && uid == u->alias)
		snprintf(how, sizeof how, "by alias");
	else if (u && uid == u->qmaild)
		snprintf(how, sizeof how, "from network");
	else if (u && uid == u->qmails)
		snprintf(how, sizeof how, "for bounce");
	else
		snprintf(how, sizeof how, "by uid %lu", (unsigned long)uid);
	n = snprintf(buf, cap, "Received: (qmail %lu invoked %s); %d %s %d %02d:%02d:%02d -0000\n",
		     pid, how, tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		     tm.tm_min, tm.tm_sec);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

void queue_uids_load(struct queue_uids *u, const char *path)
{
	char line[1024];
	FILE *f;

	u->alias = u->qmaild = u->qmails = (uid_t)-1;
	if (!(f = fopen(path ? path : "/etc/passwd", "re")))
		return;
	while (fgets(line, sizeof line, f)) {
		char *name = line, *p = strchr(line, ':'), *uidp;

		if (!p)
			continue;
		*p++ = 0;
		if (!(uidp = strchr(p, ':')))
			continue;
		uidp++;
		if (!strcmp(name, "alias"))
			u->alias = (uid_t)strtoul(uidp, NULL, 10);
		else if (!strcmp(name, "qmaild"))
			u->qmaild = (uid_t)strtoul(uidp, NULL, 10);
		else if (!strcmp(name, "qmails"))
			u->qmails = (uid_t)strtoul(uidp, NULL, 10);
	}
	fclose(f);
}

/*
 * qmail-smtpd's Received line, as its received() writes it:
 *	"Received: from REMOTEHOST (HELO HELONAME) (REMOTEINFO@REMOTEIP)\n"
 *	"  by LOCALHOST with SMTP; DATE\n"
 * every name through safeput(): a byte outside qmail's safe set (letters,
 * digits, . @ % + / = : -; notqmail adds [ ]) becomes '?', so no name
 * holds a blank or a parenthesis and the parts split exactly.
 */

/* token - the bytes from p up to stop (not included), within end; NULL if
 * there is no stop, or a blank or parenthesis comes first */
static const char *token(const char *p, const char *end, char stop)
{
	for (; p < end && *p != stop; p++)
		if (*p == ' ' || *p == '(' || *p == ')' || *p == '\n' || *p == '\r' || *p == '\t')
			return NULL;
	return p < end ? p : NULL;
}

/* hostish - a name fit for a Helo header: letters, digits, '.', '-', '_',
 * or an address literal "[...]" of hex digits, '.', ':' (and "IPv6:") */
static int hostish(const char *p, size_t n)
{
	size_t i;

	if (!n || n > QUEUE_HELO_MAX)
		return 0;
	if (p[0] == '[') {
		if (n < 3 || p[n - 1] != ']')
			return 0;
		p++;
		n -= 2;
		if (n > 5 && !strncmp(p, "IPv6:", 5)) {
			p += 5;
			n -= 5;
		}
		for (i = 0; i < n; i++)
			if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') ||
			      (p[i] >= 'A' && p[i] <= 'F') || p[i] == '.' || p[i] == ':'))
				return 0;
		return 1;
	}
	for (i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= 'A' && p[i] <= 'Z') || p[i] == '.' || p[i] == '-' || p[i] == '_'))
			return 0;
	return 1;
}

size_t queue_received_helo(const char *buf, size_t len, const char *remoteip, char *out,
			   size_t cap)
{
	const char *p = buf, *end = buf + len, *host, *hend, *helo = NULL, *heloend = NULL, *grp,
		   *gend, *ip, *proto;
	size_t n;

	out[0] = 0;
	if (!remoteip || !*remoteip || cap < QUEUE_HELO_MAX + 1)
		return 0;
#define TAKE(s) (end - p >= (ptrdiff_t)(sizeof s - 1) && !memcmp(p, s, sizeof s - 1) ? (p += sizeof s - 1, 1) : 0)
	if (!TAKE("Received: from "))
		return 0;
	host = p;
	if (!(hend = token(p, end, ' ')) || hend == host)
		return 0;
	p = hend;
	if (TAKE(" (HELO ")) {
		helo = p;
		if (!(heloend = token(p, end, ')')) || heloend == helo)
			return 0;
		p = heloend + 1;
	}
	if (!TAKE(" ("))
		return 0;
	grp = p;
	if (!(gend = token(p, end, ')')))
		return 0;
	p = gend;
	if (!TAKE(")\n  by "))
		return 0;
	/* the IP: after the last '@' (REMOTEINFO, the client's ident answer,
	 * may hold '@' itself) */
	for (ip = gend; ip > grp && ip[-1] != '@'; ip--)
		;
	n = strlen(remoteip);
	if ((size_t)(gend - ip) != n || memcmp(ip, remoteip, n))
		return 0;
	/* "  by LOCALHOST with <protocol>;": qmail-smtpd's SMTP (patched
	 * ones: ESMTP, ESMTPS, ESMTPA ...), not qmail-qmqpd's QMQP */
	if (!(p = token(p, end, ' ')) || !TAKE(" with "))
		return 0;
	proto = p;
	while (p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
		p++;
	if (p == end || *p != ';' || !memmem(proto, (size_t)(p - proto), "SMTP", 4))
		return 0;
#undef TAKE
	/* no "(HELO x)": the client's HELO was the remote host's name (or it
	 * gave none); "unknown" is qmail-smtpd's word for no name at all */
	if (!helo) {
		helo = host;
		heloend = hend;
		if (heloend - helo == 7 && !memcmp(helo, "unknown", 7))
			return 0;
	}
	n = (size_t)(heloend - helo);
	if (!hostish(helo, n))
		return 0;
	memcpy(out, helo, n);
	out[n] = 0;
	return n;
}
