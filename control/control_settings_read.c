/*
 * control_settings_read.c - settings parsed as the table says.
 *
 *	control_settings_lookup() is the one place a setting's text comes
 *	from: the SLUICE_ENVDIR directory as read now when given, else the
 *	environment (for a name the directory set at start: the environment
 *	from before).  An empty value is unset everywhere.
 *
 *	control_settings_parse() checks one text against its entry: numbers
 *	are plain decimals within the entry's range (" 5", "+5", "-1", "12x",
 *	"0x10", an overflow are errors naming the variable and the range,
 *	never a silent default), modes octal, ENUM values one of the words
 *	(exactly: "Reject" and "reject " are errors), LIST items among the
 *	words when the entry has them, a SCORE a decimal fraction.
 *	control_settings_read() does it for every setting a program reads
 *	and keeps copies of the texts.
 *
 *	control_settings_unknown() names the files of a settings directory
 *	that look like settings and are none (a misspelt name is otherwise
 *	ignored in silence).
 *
 *	control_settings_queue_set(), _socket() and _options() derive what
 *	several programs need alike: the queue list, the daemon's socket, the
 *	policy's options.
 *
 * DIAGNOSTICS
 *	-1 with one line in err: "NAME=value: want a number from 1 to 64",
 *	"NAME=value: want full, data, fs or none", ...; or "out of memory".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "queue/queue_set.h"

const char *control_settings_lookup(const struct control_env *src, const char *name)
{
	const struct queue_envvar *e;
	const char *s;

	if (src && (e = queue_envdir_lookup(src->envdir, name)))
		s = e->value;
	else if (src && (e = queue_envdir_lookup(src->before, name)))
		s = e->value;
	else
		s = getenv(name);
	return s && *s ? s : NULL;
}

/* word_len - the length of word w before its '=' (synonym mark), if any */
static size_t word_len(const char *w)
{
	const char *eq = strchr(w, '=');

	return eq ? (size_t)(eq - w) : strlen(w);
}

/* word_index - the index of the word s[0..len) of words, a synonym
 * resolved to its word; -1 when none */
static int word_index(const char *const *words, const char *s, size_t len)
{
	int i, j;

	for (i = 0; words[i]; i++) {
		const char *w = words[i], *eq = strchr(w, '=');

		if (word_len(w) != len || memcmp(w, s, len))
			continue;
		if (!eq || !eq[1])
			return i;
		for (j = 0; words[j]; j++)	/* "w=t": t's index */
			if (!strcmp(words[j], eq + 1))
				return j;
		return -1;
	}
	return -1;
}

/* want_words - "a, b or c": the words shown (no synonyms, no hidden ones) */
static void want_words(const char *const *words, char *buf, size_t cap)
{
	size_t n = 0, i, k, len = 0;

	for (i = 0; words[i]; i++)
		n += !strchr(words[i], '=');
	buf[0] = 0;
	for (i = 0, k = 0; words[i]; i++) {
		if (strchr(words[i], '='))
			continue;
		k++;
		if (len < cap)
			len += (size_t)snprintf(buf + len, cap - len, "%s%s",
						k == 1 ? "" : k == n ? " or " : ", ", words[i]);
	}
}

static int parse_number(const struct control_setting *e, const char *s, struct control_value *out,
			char *err, size_t errlen)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || errno == ERANGE || *end || v < e->lo || v > e->hi) {
		snprintf(err, errlen, "%s=%s: want a number from %llu to %llu", e->name, s,
			 (unsigned long long)e->lo, (unsigned long long)e->hi);
		return -1;
	}
	out->u = v;
	return 0;
}

static int parse_mode(const struct control_setting *e, const char *s, struct control_value *out,
		      char *err, size_t errlen)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 8);
	if (*s < '0' || *s > '7' || errno == ERANGE || *end || v > e->hi) {
		snprintf(err, errlen, "%s=%s: want an octal mode", e->name, s);
		return -1;
	}
	out->u = v;
	return 0;
}

static int parse_score(const struct control_setting *e, const char *s, struct control_value *out,
		       char *err, size_t errlen)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	/* digits and a dot only: no sign, blank, exponent, hex, inf or nan */
	if (strspn(s, "0123456789.") != strlen(s) || end == s || *end || !(d >= 0 && d < 1e9)) {
		snprintf(err, errlen, "%s=%s: want a score such as 5 or 20.1", e->name, s);
		return -1;
	}
	out->d = d;
	return 0;
}

static int parse_enum(const struct control_setting *e, const char *s, struct control_value *out,
		      char *err, size_t errlen)
{
	char want[300];
	int i = word_index(e->words, s, strlen(s));

	if (i < 0) {
		want_words(e->words, want, sizeof want);
		snprintf(err, errlen, "%s=%s: want %s", e->name, s, want);
		return -1;
	}
	out->u = (uint64_t)i;
	return 0;
}

/* parse_list - items separated by commas, blanks or colons, each one of
 * the words when the entry has them */
static int parse_list(const struct control_setting *e, const char *s, char *err, size_t errlen)
{
	static const char sep[] = ", \t:";
	char want[300];
	size_t n;

	if (!e->words)
		return 0;
	for (s += strspn(s, sep); *s; s += n, s += strspn(s, sep)) {
		n = strcspn(s, sep);
		if (word_index(e->words, s, n) < 0) {
			want_words(e->words, want, sizeof want);
			snprintf(err, errlen, "%s: unknown %.*s; want %s", e->name, (int)n, s, want);
			return -1;
		}
	}
	return 0;
}

/* value_default - the value of e when unset */
static void value_default(const struct control_setting *e, struct control_value *out)
{
	char err[8];

	memset(out, 0, sizeof *out);
	if (e->def && e->type != CONTROL_T_STRING && e->type != CONTROL_T_PATH &&
	    e->type != CONTROL_T_LIST && e->type != CONTROL_T_FILE)
		control_settings_parse((enum control_setting_id)(e - control_settings_table), e->def,
				       out, err, sizeof err);	/* the table's tests check it parses */
	out->text = NULL;
}

int control_settings_parse(enum control_setting_id id, const char *text, struct control_value *out,
			   char *err, size_t errlen)
{
	const struct control_setting *e = &control_settings_table[id];

	if (!text || !*text) {
		value_default(e, out);
		return 0;
	}
	memset(out, 0, sizeof *out);
	out->text = text;
	switch (e->type) {
	case CONTROL_T_NUMBER:
	case CONTROL_T_SECONDS:
	case CONTROL_T_BYTES:
		return parse_number(e, text, out, err, errlen);
	case CONTROL_T_MODE:
		return parse_mode(e, text, out, err, errlen);
	case CONTROL_T_ENUM:
		return parse_enum(e, text, out, err, errlen);
	case CONTROL_T_SCORE:
		return parse_score(e, text, out, err, errlen);
	case CONTROL_T_LIST:
		return parse_list(e, text, err, errlen);
	case CONTROL_T_STRING:
	case CONTROL_T_PATH:
	case CONTROL_T_FILE:
		break;
	}
	return 0;
}

void control_settings_free(struct control_settings *s)
{
	size_t i;

	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		free((char *)s->v[i].text);
		s->v[i].text = NULL;
	}
}

int control_settings_read(struct control_settings *s, unsigned programs,
			  const struct control_env *src, char *err, size_t errlen)
{
	size_t i;

	memset(s, 0, sizeof *s);
	s->programs = programs;
	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		const struct control_setting *e = &control_settings_table[i];
		const char *text = NULL;

		if ((e->programs & programs) && e->type != CONTROL_T_FILE)
			text = control_settings_lookup(src, e->name);
		if (control_settings_parse((enum control_setting_id)i, text, &s->v[i], err, errlen) < 0)
			goto fail;
		if (text && !(s->v[i].text = strdup(text))) {
			snprintf(err, errlen, "%s: out of memory", e->name);
			goto fail;
		}
	}
	return 0;
fail:
	s->v[i].text = NULL;	/* points into the environment, not ours */
	control_settings_free(s);
	return -1;
}

size_t control_settings_unknown(const struct queue_envdir *ed, char *buf, size_t cap)
{
	const struct control_setting *e;
	size_t i, n = 0, len = 0;

	if (cap)
		buf[0] = 0;
	for (i = 0; ed && i < ed->n; i++) {
		const char *name = ed->v[i].name;

		if (strncmp(name, "SLUICE_", 7) && strncmp(name, "QHPSI", 5))
			continue;
		if ((e = control_settings_find(name)) && e->type != CONTROL_T_FILE)
			continue;
		n++;
		if (len < cap)
			len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? " " : "", name);
	}
	return n;
}

const char *control_settings_text(const struct control_settings *s, enum control_setting_id id)
{
	return s->v[id].text ? s->v[id].text : control_settings_table[id].def;
}

const char *control_settings_word(const struct control_settings *s, enum control_setting_id id)
{
	const struct control_setting *e = &control_settings_table[id];

	if (e->type != CONTROL_T_ENUM || (!s->v[id].text && !e->def))
		return NULL;
	return e->words[s->v[id].u];
}

int control_settings_queue_set(const struct control_settings *s, struct queue_set *set, char *err,
			       size_t errlen)
{
	struct queue_err qe;

	/* the numbers were checked against the same bounds queue_set_make() has */
	if (queue_set_make(set, s->v[CONTROL_S_QUEUEDIR].text, s->v[CONTROL_S_QUEUE_BASE].text,
			   s->v[CONTROL_S_QUEUE_COUNT].text, s->v[CONTROL_S_QUEUE_START].text,
			   &qe) != QUEUE_OK) {
		snprintf(err, errlen, "%s", qe.text);
		return -1;
	}
	return 0;
}

const char *control_settings_socket(const struct control_settings *s, char *buf, size_t cap)
{
	if (s->v[CONTROL_S_SLUICE_SOCKET].text)
		snprintf(buf, cap, "%s", s->v[CONTROL_S_SLUICE_SOCKET].text);
	else
		snprintf(buf, cap, "%s/sluiced.sock", control_settings_text(s, CONTROL_S_QUEUE_BASE));
	return buf;
}

void control_settings_options(const struct control_settings *s, struct control_options *o)
{
	static const enum control_sender sender[] = {	/* by the word's index */
		CONTROL_SENDER_RELAY, CONTROL_SENDER_ALWAYS, CONTROL_SENDER_NEVER,
	};

	o->dir = control_settings_text(s, CONTROL_S_SLUICE_CONTROL);
	o->sender = sender[s->v[CONTROL_S_SLUICE_POLICY_SENDER].u];
}
