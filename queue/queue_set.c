/*
 * queue_set.c - the list of queue trees a command works on.
 *
 *	queue_set_make() turns IndiMail's settings (QUEUEDIR, or QUEUE_BASE,
 *	QUEUE_COUNT, QUEUE_START, given as strings from the environment or
 *	the command line) into names and paths.  queue_set_env() applies
 *	the commands' rule of options over environment and calls it.
 *	queue_set_free() releases the list.
 *
 * DIAGNOSTICS
 *	QUEUE_ECONFIG with a text naming the bad setting; QUEUE_ENOMEM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_set.h"

/* number - a decimal setting in [min, max]; NULL or "" gives def */
static int number(const char *s, unsigned long min, unsigned long max, unsigned long def,
		  unsigned long *v)
{
	char *end;

	if (!s || !*s) {
		*v = def;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || *end || *v < min || *v > max ? -1 : 0;
}

/* trimmed - a copy of path without trailing slashes ("/" stays "/") */
static char *trimmed(const char *path)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	return strndup(path, len);
}

static enum queue_status nomem(struct queue_set *set, struct queue_err *err)
{
	queue_set_free(set);
	return queue_errset(err, QUEUE_ENOMEM, ENOMEM, "cannot list queues");
}

enum queue_status queue_set_make(struct queue_set *set, const char *queuedir, const char *base,
				 const char *count, const char *start, struct queue_err *err)
{
	unsigned long n, first, i;

	memset(set, 0, sizeof *set);
	if (queuedir && *queuedir) {
		const char *slash;
		char *path;

		if (!(set->v = calloc(1, sizeof *set->v)) || !(path = trimmed(queuedir)))
			return nomem(set, err);
		set->n = 1;
		set->v[0].path = path;
		slash = strrchr(path, '/');
		set->v[0].name = strdup(slash && slash[1] ? slash + 1 : path);
		if (!set->v[0].name)
			return nomem(set, err);
		return QUEUE_OK;
	}
	if (number(count, 1, QUEUE_COUNT_MAX, QUEUE_COUNT_DEFAULT, &n) < 0)
		return queue_errset(err, QUEUE_ECONFIG, 0, "bad queue count \"%s\" (1 to %u)",
				    count, QUEUE_COUNT_MAX);
	if (number(start, 0, 1000000, QUEUE_START_DEFAULT, &first) < 0)
		return queue_errset(err, QUEUE_ECONFIG, 0, "bad first queue number \"%s\"", start);
	if (!base || !*base)
		base = QUEUE_BASE_DEFAULT;
	if (!(set->base = trimmed(base)) || !(set->v = calloc(n, sizeof *set->v)))
		return nomem(set, err);
	for (i = 0; i < n; i++) {
		struct queue_set_entry *q = &set->v[set->n++];
		const char *sep = strcmp(set->base, "/") ? "/" : "";

		if (asprintf(&q->name, "queue%lu", first + i) < 0) {
			q->name = NULL;
			return nomem(set, err);
		}
		if (asprintf(&q->path, "%s%s%s", set->base, sep, q->name) < 0) {
			q->path = NULL;
			return nomem(set, err);
		}
	}
	return QUEUE_OK;
}

static const char *either(const char *opt, const char *env)
{
	return opt ? opt : getenv(env);
}

enum queue_status queue_set_env(struct queue_set *set, const struct queue_set_opts *opt,
				struct queue_err *err)
{
	const char *queuedir = opt->queuedir;

	/* an explicit -b, -c or -S asks for the numbered queues */
	if (!queuedir && !opt->base && !opt->count && !opt->start)
		queuedir = getenv("QUEUEDIR");
	return queue_set_make(set, queuedir, either(opt->base, "QUEUE_BASE"),
			      either(opt->count, "QUEUE_COUNT"), either(opt->start, "QUEUE_START"),
			      err);
}

void queue_set_free(struct queue_set *set)
{
	unsigned i;

	for (i = 0; i < set->n; i++) {
		free(set->v[i].name);
		free(set->v[i].path);
	}
	free(set->v);
	free(set->base);
	memset(set, 0, sizeof *set);
}
