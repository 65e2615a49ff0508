/*
 * control_arena.c - the snapshot's allocator and its diagnostics.
 *
 *	control_arena_alloc() hands out 16-byte aligned pieces of 64 KiB
 *	chunks (bigger requests get a chunk of their own); everything goes in
 *	control_arena_free().  control_diag() formats one diagnostic line,
 *	passes it to options->diag, keeps the first error in the build's
 *	buffer and stops passing lines after CONTROL_DIAG_MAX (the last one
 *	then says how many were left out, see control_diag_end()).
 *
 * DIAGNOSTICS
 *	control_arena_alloc() returns NULL when malloc() does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_int.h"

#define CHUNK 65536

struct control_chunk {
	struct control_chunk *next;
	max_align_t data[];
};

void *control_arena_alloc(struct control_arena *a, size_t n)
{
	struct control_chunk *c;
	size_t size;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n <= a->left) {
		p = a->next;
		a->next += n;
		a->left -= n;
		return p;
	}
	size = n > CHUNK / 4 ? n : CHUNK;
	if (!(c = malloc(sizeof *c + size)))
		return NULL;
	c->next = a->head;
	a->head = c;
	if (size == n)		/* a big piece: keep the current chunk's rest */
		return c->data;
	a->next = (char *)c->data + n;
	a->left = size - n;
	return c->data;
}

char *control_arena_strndup(struct control_arena *a, const char *s, size_t n)
{
	char *p = control_arena_alloc(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

void control_arena_free(struct control_arena *a)
{
	while (a->head) {
		struct control_chunk *c = a->head;

		a->head = c->next;
		free(c);
	}
	a->next = NULL;
	a->left = 0;
}

void control_diag(struct control_build *b, int error, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (error) {
		if (!b->errors++ && b->err && b->errlen)
			snprintf(b->err, b->errlen, "%s", line);
	} else {
		b->warnings++;
	}
	if (!b->opt->diag || ++b->lines > CONTROL_DIAG_MAX)
		return;
	b->opt->diag(b->opt->diag_arg, error, line);
}

/* control_diag_end - say how many lines were left out, once per load */
void control_diag_end(struct control_build *b)
{
	char line[128];

	if (b->opt->diag && b->lines > CONTROL_DIAG_MAX) {
		snprintf(line, sizeof line, "... and %u more diagnostics (%u errors, %u warnings in all)",
			 b->lines - CONTROL_DIAG_MAX, b->errors, b->warnings);
		b->opt->diag(b->opt->diag_arg, b->errors > 0, line);
	}
	if (b->errors > 1 && b->err && b->errlen) {
		size_t n = strlen(b->err);

		snprintf(b->err + n, b->errlen - n, " (and %u more errors)", b->errors - 1);
	}
}
