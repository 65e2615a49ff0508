/*
 * diag.h - diagnostics and memory for every sluice program (queue/queue_diag.c).
 *
 * SUMMARY
 *	One line on stderr each, prefixed with the program's name (set once
 *	with diag_program(); multilog adds the time):
 *	  diag_info()    "sluiced: listening on ..."
 *	  diag_warn()    "sluiced: warning: ..."     the program carries on
 *	  diag_fatal()   "sluiced: fatal: ..."       an environment problem: the
 *	                 caller cleans up and exits with its temporary code
 *	  diag_die()     diag_fatal(), then exit(the program's fatal code)
 *	  diag_panic()   "sluiced: panic: ..."       a bug: abort()
 *	xmalloc(), xcalloc(), xrealloc() and xstrdup() never return NULL: out
 *	of memory is diag_die("out of memory").  For start-up and the tools
 *	only; a message's own allocations are answered (51 or 71) instead.
 *
 *	These live in queue/ because every program links it (sluice-queue
 *	links libc and queue/ only); they are named after what they do, not
 *	after the directory.
 */
#ifndef SLUICE_DIAG_H
#define SLUICE_DIAG_H

#include <stddef.h>

/* diag_program - the name lines start with, and diag_die()'s exit code */
void diag_program(const char *name, int fatal_exit);
/* diag_quiet - write nothing (a program whose stderr is someone's input) */
void diag_quiet(int);
const char *diag_name(void);

void diag_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void diag_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void diag_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void *xmalloc(size_t);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *, size_t);
char *xstrdup(const char *);

#endif
