/*
 * control_action.c - names of actions, verdict kinds and scanners.
 *
 *	control_action_parse() takes the words of SLUICE_ON_* and simcontrol's
 *	action_*= (case-insensitive): reject, defer, tag, quarantine, drop,
 *	pass, and accept as another word for pass.
 */
#include <stdio.h>
#include <string.h>

#include "control_int.h"

static const char *const action_names[] = {
	[CONTROL_ACT_UNSET] = "default",
	[CONTROL_ACT_PASS] = "pass",
	[CONTROL_ACT_TAG] = "tag",
	[CONTROL_ACT_DROP] = "drop",
	[CONTROL_ACT_QUARANTINE] = "quarantine",
	[CONTROL_ACT_DEFER] = "defer",
	[CONTROL_ACT_REJECT] = "reject",
};

const char *control_action_name(enum control_action a)
{
	return (unsigned)a < sizeof action_names / sizeof action_names[0] ? action_names[a] : "?";
}

enum control_action control_action_parse(const char *s, size_t len)
{
	char w[16];
	size_t i;

	if (len >= sizeof w)
		return CONTROL_ACT_UNSET;
	for (i = 0; i < len; i++)
		w[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 'a' - 'A' : s[i]);
	w[len] = 0;
	if (!strcmp(w, "accept"))
		return CONTROL_ACT_PASS;
	for (i = CONTROL_ACT_PASS; i < sizeof action_names / sizeof action_names[0]; i++)
		if (!strcmp(w, action_names[i]))
			return (enum control_action)i;
	return CONTROL_ACT_UNSET;
}

const char *control_verdict_name(enum control_verdict v)
{
	static const char *const names[CONTROL_NVERDICTS] = {
		"virus", "banned", "spam", "limit", "error",
	};

	return (unsigned)v < CONTROL_NVERDICTS ? names[v] : "?";
}

char *control_scanners_text(unsigned scanners, char *buf, size_t cap)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ CONTROL_SCAN_CLAM, "clam" }, { CONTROL_SCAN_CLAMD, "clamd" },
		{ CONTROL_SCAN_ATTACH, "attach" }, { CONTROL_SCAN_QHPSI, "qhpsi" },
		{ CONTROL_SCAN_SPAM, "spam" }, { CONTROL_SCAN_RSPAMD, "rspamd" },
	};
	size_t i, n = 0;

	if (!cap)
		return buf;
	buf[0] = 0;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (scanners & names[i].bit) {
			int w = snprintf(buf + n, cap - n, "%s%s", n ? "," : "", names[i].name);

			if (w < 0 || (size_t)w >= cap - n)
				break;
			n += (size_t)w;
		}
	if (!n)
		snprintf(buf, cap, "none");
	return buf;
}
