/*
 * queue_status.c - status names and error texts for the queue library.
 *
 *	queue_status_name() names a status for logs ("EWRITE").
 *	queue_errset() fills a struct queue_err and returns the status, so a
 *	failing path reads "return queue_errset(e, QUEUE_EWRITE, errno, ...)".
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "queue.h"

static const char *const names[QUEUE_NSTATUS] = {
	[QUEUE_OK] = "OK",
	[QUEUE_AGAIN] = "AGAIN",
	[QUEUE_ENOMEM] = "ENOMEM",
	[QUEUE_EHOME] = "EHOME",
	[QUEUE_EPID] = "EPID",
	[QUEUE_EMESS] = "EMESS",
	[QUEUE_EINTD] = "EINTD",
	[QUEUE_ETODO] = "ETODO",
	[QUEUE_EWRITE] = "EWRITE",
	[QUEUE_ESPACE] = "ESPACE",
	[QUEUE_EREAD] = "EREAD",
	[QUEUE_EADDR] = "EADDR",
	[QUEUE_EFORMAT] = "EFORMAT",
	[QUEUE_ECONFIG] = "ECONFIG",
	[QUEUE_ELAYOUT] = "ELAYOUT",
	[QUEUE_EBUSY] = "EBUSY",
};

const char *queue_status_name(enum queue_status st)
{
	if ((unsigned)st >= QUEUE_NSTATUS || !names[st])
		return "UNKNOWN";
	return names[st];
}

enum queue_status queue_errset(struct queue_err *e, enum queue_status st, int errnum,
			       const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!e)
		return st;
	e->status = st;
	e->errnum = errnum;
	va_start(ap, fmt);
	n = vsnprintf(e->text, sizeof e->text, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (errnum && (size_t)n < sizeof e->text)
		snprintf(e->text + n, sizeof e->text - n, ": %s", strerror(errnum));
	return st;
}
