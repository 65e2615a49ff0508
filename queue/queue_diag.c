/*
 * queue_diag.c - diagnostics and memory for every sluice program: see diag.h.
 *
 *	A line is formatted whole and written with one write(2), so lines of
 *	several threads (sluiced's loop, sync and reload threads) never
 *	interleave within a line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"

static const char *prog = "sluice";
static int fatal_code = 111;
static int quiet;

void diag_quiet(int on)
{
	quiet = on;
}

void diag_program(const char *name, int fatal_exit)
{
	prog = name;
	fatal_code = fatal_exit;
}

const char *diag_name(void)
{
	return prog;
}

static void say(const char *level, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if (quiet)
		return;
	n = snprintf(line, sizeof line, "%s: %s", prog, level);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	(void)!write(2, line, (size_t)n);
}

#define SAY(level)                      \
	do {                            \
		va_list ap;             \
		int saved = errno;      \
		va_start(ap, fmt);      \
		say(level, fmt, ap);    \
		va_end(ap);             \
		errno = saved;          \
	} while (0)

void diag_info(const char *fmt, ...)
{
	SAY("");
}

void diag_warn(const char *fmt, ...)
{
	SAY("warning: ");
}

void diag_fatal(const char *fmt, ...)
{
	SAY("fatal: ");
}

void diag_die(const char *fmt, ...)
{
	SAY("fatal: ");
	exit(fatal_code);
}

void diag_panic(const char *fmt, ...)
{
	SAY("panic: ");
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		diag_die("out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		diag_die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);

	if (!p)
		diag_die("out of memory (%zu bytes)", n);
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		diag_die("out of memory (%zu bytes)", strlen(s) + 1);
	return p;
}
