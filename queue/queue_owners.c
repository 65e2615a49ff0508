/*
 * queue_owners.c - who owns a queue tree.
 *
 *	queue_owners_load() finds the stock users qmailq, qmails, qmailr and
 *	the group qmail by reading the passwd and group files themselves
 *	(NULL: /etc/passwd, /etc/group).  No NSS: the answer must not depend
 *	on nsswitch.conf or a directory server being up.  When any of the
 *	four is missing (a demo, the tests), the running user and group own
 *	everything and owners->fallback is set.
 *
 * DIAGNOSTICS
 *	None: an unreadable file is the same as a missing user.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue.h"

/* lookup - the numeric third field of name's line in a passwd or group file */
static int lookup(const char *file, const char *name, unsigned long *id)
{
	FILE *f = fopen(file, "re");
	size_t nlen = strlen(name), cap = 0;
	char *line = NULL;
	int found = 0;

	if (!f)
		return 0;
	while (!found && getline(&line, &cap, f) >= 0) {
		char *p, *end;
		unsigned long v;

		if (strncmp(line, name, nlen) || line[nlen] != ':')
			continue;
		if (!(p = strchr(line + nlen + 1, ':')) || *++p < '0' || *p > '9')
			continue;
		errno = 0;
		v = strtoul(p, &end, 10);
		/* (uid_t)-1 means "no change" to chown(): never an owner */
		if (errno || *end != ':' || v >= (unsigned long)(uid_t)-1)
			continue;
		*id = v;
		found = 1;
	}
	free(line);
	fclose(f);
	return found;
}

void queue_owners_load(struct queue_owners *o, const char *passwd_path, const char *group_path)
{
	unsigned long q, s, r, g;

	if (!passwd_path)
		passwd_path = "/etc/passwd";
	if (!group_path)
		group_path = "/etc/group";
	if (lookup(passwd_path, "qmailq", &q) && lookup(passwd_path, "qmails", &s) &&
	    lookup(passwd_path, "qmailr", &r) && lookup(group_path, "qmail", &g)) {
		o->qmailq = (uid_t)q;
		o->qmails = (uid_t)s;
		o->qmailr = (uid_t)r;
		o->qmail = (gid_t)g;
		o->fallback = 0;
		return;
	}
	o->qmailq = o->qmails = o->qmailr = getuid();
	o->qmail = getgid();
	o->fallback = 1;
}
