/*
 * control_settings_diff.c - what a reload changes, and what it may change.
 *
 *	control_settings_diff() compares the settings a daemon runs with and
 *	a set read afresh, setting by setting, as the table knows them: a
 *	value is what it means (an unset setting with a default equals that
 *	default written out; numbers compare as numbers, words by index, so
 *	"0660" and "660" are one mode).  A live setting that changed is
 *	reported "NAME old -> new" and kept as next has it; any other is
 *	reported "NAME changed: takes effect at restart" and next gets a copy
 *	of the running value, so that next is a whole snapshot a running
 *	daemon can take as it is.
 *
 * DIAGNOSTICS
 *	-1 when a copy cannot be made (out of memory): next is then partly
 *	merged and must be dropped; msg is cut when it does not fit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

/* say - append "text" to msg, "; "-separated */
static void say(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *msg, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(msg);
	va_list ap;

	if (len && len + 2 < cap) {
		memcpy(msg + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	if (len < cap)
		vsnprintf(msg + len, cap - len, fmt, ap);
	va_end(ap);
}

static int numeric(enum control_stype t)
{
	return t == CONTROL_T_NUMBER || t == CONTROL_T_SECONDS || t == CONTROL_T_BYTES ||
	       t == CONTROL_T_MODE || t == CONTROL_T_ENUM || t == CONTROL_T_SCORE;
}

/* same - whether a and b mean the same for setting e */
static int same(const struct control_setting *e, const struct control_value *a,
		const struct control_value *b)
{
	if (numeric(e->type)) {
		/* Without a default an unset word means something of its own
		 * (REJECTVIRUS unset: SLUICE_ON_VIRUS decides); an unset
		 * number with a derived default holds the derived value (the
		 * caller puts it there: SLUICE_WORKERS, the processors). */
		if (!e->def && !a->text != !b->text && (e->type == CONTROL_T_ENUM || !e->derived))
			return 0;
		return e->type == CONTROL_T_SCORE ? a->d == b->d : a->u == b->u;
	}
	{
		const char *x = a->text ? a->text : e->def, *y = b->text ? b->text : e->def;

		return (!x && !y) || (x && y && !strcmp(x, y));
	}
}

/* show - the value as the log shows it */
static const char *show(const struct control_setting *e, const struct control_value *v, char *buf,
			size_t cap)
{
	switch (e->type) {
	case CONTROL_T_ENUM:
		if (!v->text && !e->def)
			return "(unset)";
		return e->words[v->u];
	case CONTROL_T_MODE:
		snprintf(buf, cap, "%04llo", (unsigned long long)v->u);
		return buf;
	case CONTROL_T_SCORE:
		snprintf(buf, cap, "%g", v->d);
		return buf;
	case CONTROL_T_NUMBER:
	case CONTROL_T_SECONDS:
	case CONTROL_T_BYTES:
		snprintf(buf, cap, "%llu", (unsigned long long)v->u);
		return buf;
	default:
		return v->text ? v->text : e->def ? e->def : "(unset)";
	}
}

int control_settings_live_changes(const struct control_settings *running,
				  const struct control_settings *next, unsigned programs)
{
	size_t i;
	int n = 0;

	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		const struct control_setting *e = &control_settings_table[i];

		if ((e->programs & programs) && e->type != CONTROL_T_FILE && e->live &&
		    !same(e, &running->v[i], &next->v[i]))
			n++;
	}
	return n;
}

int control_settings_diff(const struct control_settings *running, struct control_settings *next,
			  unsigned programs, char *msg, size_t cap)
{
	char a[64], b[64];
	size_t i;
	int n = 0;

	if (cap)
		msg[0] = 0;
	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		const struct control_setting *e = &control_settings_table[i];
		const struct control_value *old = &running->v[i];
		struct control_value *nv = &next->v[i];
		char *copy = NULL;

		if (!(e->programs & programs) || e->type == CONTROL_T_FILE || same(e, old, nv))
			continue;
		n++;
		if (e->live) {
			say(msg, cap, "%s %s -> %s", e->name, show(e, old, a, sizeof a),
			    show(e, nv, b, sizeof b));
			continue;
		}
		say(msg, cap, "%s changed: takes effect at restart", e->name);
		if (old->text && !(copy = strdup(old->text)))
			return -1;
		free((char *)nv->text);
		*nv = *old;
		nv->text = copy;
	}
	return n;
}
