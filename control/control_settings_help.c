/*
 * control_settings_help.c - the table in words: --help and the manual.
 *
 *	control_settings_help() prints "  NAME  meaning [default]" for the
 *	variables a program reads: sluiced's --help and sluice-queue's come
 *	from here, so they list what the parser reads and nothing else.
 *	control_settings_type_text(), _default_text(), _programs_text() and
 *	_effect_text() give the type with its range, the default as shown,
 *	the readers and when a change takes effect: the lines of each entry
 *	in sluice-control(5), which a test compares with the table.
 */
#include <stdio.h>
#include <string.h>

#include "control.h"

const char *control_settings_default_text(enum control_setting_id id)
{
	const struct control_setting *e = &control_settings_table[id];

	return e->derived ? e->derived : e->def ? e->def : "unset";
}

const char *control_settings_effect_text(enum control_setting_id id)
{
	const struct control_setting *e = &control_settings_table[id];

	if (!(e->programs & CONTROL_P_SLUICED))
		return "at each run";
	if (e->type == CONTROL_T_FILE)
		return "when it changes (every SLUICE_RELOAD_CHECK seconds, and on SIGHUP)";
	return e->live ? "on SIGHUP" : "at restart";
}

void control_settings_help(FILE *f, unsigned any, unsigned none)
{
	size_t i;

	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		const struct control_setting *e = &control_settings_table[i];

		if (e->type == CONTROL_T_FILE || !(e->programs & any) || (e->programs & none))
			continue;
		fprintf(f, "  %-22s %s [%s]\n", e->name, e->help,
			control_settings_default_text((enum control_setting_id)i));
	}
}

/* words_text - the words shown ("a, b, c"), synonyms and hidden ones left out */
static size_t words_text(const char *const *w, char *buf, size_t cap)
{
	size_t len = 0;

	for (; *w; w++)
		if (!strchr(*w, '=') && len < cap)
			len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", *w);
	return len;
}

char *control_settings_type_text(enum control_setting_id id, char *buf, size_t cap)
{
	static const char *const unit[] = {
		[CONTROL_T_NUMBER] = "number", [CONTROL_T_SECONDS] = "seconds",
		[CONTROL_T_BYTES] = "bytes",
	};
	const struct control_setting *e = &control_settings_table[id];
	size_t len;

	switch (e->type) {
	case CONTROL_T_NUMBER:
	case CONTROL_T_SECONDS:
	case CONTROL_T_BYTES:
		if (e->hi == UINT64_MAX)
			snprintf(buf, cap, "%s, %llu or more", unit[e->type], (unsigned long long)e->lo);
		else
			snprintf(buf, cap, "%s, %llu to %llu", unit[e->type], (unsigned long long)e->lo,
				 (unsigned long long)e->hi);
		break;
	case CONTROL_T_MODE:
		snprintf(buf, cap, "octal mode, at most %04llo", (unsigned long long)e->hi);
		break;
	case CONTROL_T_ENUM:
		len = (size_t)snprintf(buf, cap, "one of: ");
		if (len < cap)
			words_text(e->words, buf + len, cap - len);
		break;
	case CONTROL_T_SCORE:
		snprintf(buf, cap, "score, 0 or more, such as 5 or 20.1");
		break;
	case CONTROL_T_STRING:
		snprintf(buf, cap, "string");
		break;
	case CONTROL_T_PATH:
		snprintf(buf, cap, "path");
		break;
	case CONTROL_T_LIST:
		if (!e->words) {
			snprintf(buf, cap, "list");
			break;
		}
		len = (size_t)snprintf(buf, cap, "list of: ");
		if (len < cap)
			words_text(e->words, buf + len, cap - len);
		break;
	case CONTROL_T_FILE:
		snprintf(buf, cap, "control file");
		break;
	}
	return buf;
}

char *control_settings_programs_text(unsigned programs, char *buf, size_t cap)
{
	static const struct {
		unsigned p;
		const char *name;
	} prog[] = {
		{ CONTROL_P_SLUICED, "sluiced" },
		{ CONTROL_P_QUEUE, "sluice-queue" },
		{ CONTROL_P_DIRECT, "sluice-queue (direct mode)" },
		{ CONTROL_P_QMQPD, "sluice-qmqpd" },
		{ CONTROL_P_QSTAT, "sluice-qstat" },
		{ CONTROL_P_MKQUEUE, "sluice-mkqueue" },
		{ CONTROL_P_CDB, "sluice-cdb" },
	};
	size_t i, len = 0;

	buf[0] = 0;
	for (i = 0; i < sizeof prog / sizeof prog[0]; i++)
		if ((programs & prog[i].p) && len < cap)
			len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? ", " : "",
						prog[i].name);
	return buf;
}
