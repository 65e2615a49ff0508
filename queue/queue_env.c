/*
 * queue_env.c - read an envelope with qmail-queue's rules, incrementally.
 *
 *	The input is what qmail-smtpd writes on fd 1 after the message:
 *	"F<sender>\0", then "T<rcpt>\0" for each recipient, then "\0".  The
 *	output in env->buf is the intd/ body stock qmail-queue writes:
 *	"u<uid>\0p<pid>\0F<sender>\0T<rcpt>\0..." (no final empty record).
 *
 *	Rules, as qmail-queue applies them while it reads:
 *	  first record not F, later record not T (or Q)   QUEUE_EFORMAT (91)
 *	  an address of 1003 bytes without its NUL        QUEUE_EADDR   (11)
 *	  EOF before the final NUL                        QUEUE_EREAD   (54)
 *	s/qmail's "Q<anything>\0" record ends the recipient list (only the final
 *	NUL may follow) and sets env->noscan; it is not copied to intd/.
 *
 *	queue_env_feed() takes any split of the input; bytes after the final
 *	NUL are ignored, as qmail-queue ignores them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_int.h"

enum { S_FIRST, S_SENDER, S_TYPE, S_RCPT, S_Q, S_QEND, S_DONE };

static int put(struct queue_env *env, char c)
{
	if (env->len == env->cap) {
		size_t cap = env->cap ? env->cap * 2 : 256;
		char *p;

		if (cap > QUEUE_ENV_MAX)
			cap = QUEUE_ENV_MAX;
		if (env->len == cap || !(p = realloc(env->buf, cap)))
			return -1;
		env->buf = p;
		env->cap = cap;
	}
	env->buf[env->len++] = c;
	return 0;
}

static int puts_(struct queue_env *env, const char *s)
{
	do
		if (put(env, *s) < 0)
			return -1;
	while (*s++);
	return 0;
}

void queue_env_init(struct queue_env *env, uid_t uid, unsigned long pid)
{
	char tmp[32];

	memset(env, 0, sizeof *env);
	snprintf(tmp, sizeof tmp, "u%lu", (unsigned long)uid);
	puts_(env, tmp);
	snprintf(tmp, sizeof tmp, "p%lu", pid);
	puts_(env, tmp);
	env->sender_off = env->len + 1;
	env->state = S_FIRST;
}

enum queue_status queue_env_feed(struct queue_env *env, const char *p, size_t n, size_t *used)
{
	size_t i;

	for (i = 0; i < n && env->state != S_DONE; i++) {
		char c = p[i];

		switch (env->state) {
		case S_FIRST:
			if (c != 'F')
				goto format;
			if (put(env, c) < 0)
				goto nomem;
			env->addrlen = 0;
			env->state = S_SENDER;
			break;
		case S_SENDER:
		case S_RCPT:
			if (put(env, c) < 0)
				goto nomem;
			if (c == 0) {
				if (env->state == S_RCPT)
					env->nrcpt++;
				env->state = S_TYPE;
			} else if (++env->addrlen >= QUEUE_ADDR_MAX) {
				*used = i + 1;
				return QUEUE_EADDR;
			}
			break;
		case S_TYPE:
			env->addrlen = 0;
			if (c == 0)
				env->state = S_DONE;
			else if (c == 'T') {
				if (put(env, c) < 0)
					goto nomem;
				env->state = S_RCPT;
			} else if (c == 'Q') {
				env->noscan = 1;
				env->state = S_Q;
			} else
				goto format;
			break;
		case S_Q:
			if (c == 0)
				env->state = S_QEND;
			else if (++env->addrlen >= QUEUE_ADDR_MAX) {
				*used = i + 1;
				return QUEUE_EADDR;
			}
			break;
		case S_QEND:
			if (c != 0)
				goto format;
			env->state = S_DONE;
			break;
		}
	}
	*used = i;
	return env->state == S_DONE ? QUEUE_OK : QUEUE_AGAIN;
format:
	*used = i + 1;
	return QUEUE_EFORMAT;
nomem:
	*used = i;
	return QUEUE_ENOMEM;
}

enum queue_status queue_env_eof(const struct queue_env *env)
{
	return env->state == S_DONE ? QUEUE_OK : QUEUE_EREAD;
}

const char *queue_env_sender(const struct queue_env *env)
{
	if (env->len <= env->sender_off)
		return NULL;
	return env->buf + env->sender_off;
}

const char *queue_env_rcpt(const struct queue_env *env, const char *prev)
{
	const char *end = env->buf + env->len, *p;

	if (!prev)
		prev = queue_env_sender(env);
	if (!prev)
		return NULL;
	p = prev + strlen(prev) + 1;
	if (p >= end || *p != 'T')
		return NULL;
	return p + 1;
}

void queue_env_free(struct queue_env *env)
{
	free(env->buf);
	memset(env, 0, sizeof *env);
}
