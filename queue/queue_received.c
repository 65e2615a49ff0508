/*
 * queue_received.c - qmail-queue's Received line, and the users it names.
 *
 *	queue_received() formats, byte for byte as qmail-queue does,
 *	"Received: (qmail <pid> invoked <how>); <d Mon yyyy hh:mm:ss> -0000\n"
 *	with <how> = "by alias" | "from network" | "for bounce" | "by uid N"
 *	by the caller's uid (day of month not zero-padded, time in GMT).
 *	queue_uids_load() finds the uids of alias, qmaild and qmails in a
 *	passwd file read directly: no NSS modules on the per-message path.
 */
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
