/*
 * control_parse.c - one simcontrol value ("clam=yes,spam=no,attach=.exe")
 *	into what it says.
 *
 *	control_pval_parse() reads the params separated by ',', spaces or
 *	tabs, each name=value, names case-insensitive, and checks every value
 *	(simcontrol(5) lists them).  simscan's own params keep their meaning;
 *	qmailqueue=, trophie= and avira= are accepted and ignored with a
 *	warning.  A param named twice in one value: the later one wins,
 *	except regex=, which accumulates as it does across entries.
 *
 *	control_listb_add()/control_listb_finish() build a list of banned
 *	name suffixes (attach= values split on ':', ssattach lines).
 *
 *	control_value_normalize() lowercases a value in place the way
 *	simscanmk does, except the values of quarantine=, qmailqueue= (paths)
 *	and regex= (whose meaning lowercasing could change: \S is not \s).
 *
 * DIAGNOSTICS
 *	Errors and warnings go through control_diag(), prefixed with the
 *	value's source ("file:line" or "file.cdb: key 'k'").
 *	control_pval_parse() returns NULL after an error, or when out of
 *	memory (an error too).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "control_int.h"

enum ptype {
	P_SCAN, P_ATTACH, P_PASSTHRU, P_RELAY, P_HITS, P_SIZE, P_SPAMUSER, P_REGEX,
	P_QUARANTINE, P_QUEUE, P_ACTION, P_IGNORED,
};

static const struct param {
	const char *name;
	enum ptype type;
	unsigned arg;
	const char *why;	/* P_IGNORED: the warning */
} params[] = {
	{ "clam", P_SCAN, CONTROL_SCAN_CLAM, NULL },
	{ "clamd", P_SCAN, CONTROL_SCAN_CLAMD, NULL },
	{ "qhpsi", P_SCAN, CONTROL_SCAN_QHPSI, NULL },
	{ "spam", P_SCAN, CONTROL_SCAN_SPAM, NULL },
	{ "rspamd", P_SCAN, CONTROL_SCAN_RSPAMD, NULL },
	{ "attach", P_ATTACH, CONTROL_SCAN_ATTACH, NULL },
	{ "spam_passthru", P_PASSTHRU, 0, NULL },
	{ "spam_relay", P_RELAY, 0, NULL },
	{ "spam_hits", P_HITS, 0, NULL },
	{ "size_limit", P_SIZE, 0, NULL },
	{ "spamuser", P_SPAMUSER, 0, NULL },
	{ "regex", P_REGEX, 0, NULL },
	{ "quarantine", P_QUARANTINE, 0, NULL },
	{ "queue", P_QUEUE, 0, NULL },
	{ "action_virus", P_ACTION, CONTROL_V_VIRUS, NULL },
	{ "action_banned", P_ACTION, CONTROL_V_BANNED, NULL },
	{ "action_spam", P_ACTION, CONTROL_V_SPAM, NULL },
	{ "action_limit", P_ACTION, CONTROL_V_LIMIT, NULL },
	{ "action_error", P_ACTION, CONTROL_V_ERROR, NULL },
	{ "qmailqueue", P_IGNORED, 0,
	  "ignored: sluiced commits into its own queues (queue= pins one)" },
	{ "trophie", P_IGNORED, 0, "ignored: sluice has no Trophie scanner" },
	{ "avira", P_IGNORED, 0, "ignored: sluice has no Avira scanner" },
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

static int is_sep(int c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

uint32_t control_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (len--) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

const char *control_shown(char *buf, size_t cap, const char *s, size_t len)
{
	size_t i, n = 0, max = cap > 68 ? 64 : cap - 4;

	for (i = 0; i < len && n < max; i++)
		buf[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = 0;
	return buf;
}

static int eqi(const char *s, size_t len, const char *word)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!word[i] || lower((unsigned char)s[i]) != word[i])
			return 0;
	return !word[len];
}

/* yesno - 1 yes, 0 no, -1 neither */
static int yesno(const char *v, size_t len)
{
	if (eqi(v, len, "yes"))
		return 1;
	if (eqi(v, len, "no"))
		return 0;
	return -1;
}

static int printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* parse_hits - a positive decimal "N" or "N.N" (simscan: atof) */
static int parse_hits(const char *v, size_t len, double *out)
{
	double x = 0, scale = 1;
	size_t i = 0, digits = 0;

	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++, digits++)
		x = x * 10 + (v[i] - '0');
	if (i < len && v[i] == '.')
		for (i++; i < len && v[i] >= '0' && v[i] <= '9'; i++, digits++)
			x += (v[i] - '0') * (scale /= 10);
	if (i != len || !digits || x <= 0 || x > 1e6)
		return -1;
	*out = x;
	return 0;
}

static int parse_u64(const char *v, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (!len)
		return -1;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9' || x > (max - (uint64_t)(v[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

static int is_maildir(const char *path)
{
	static const char *const sub[] = { "new", "cur", "tmp" };
	char p[4200];
	struct stat st;
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", path, sub[i]);
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			return 0;
	}
	return 1;
}

int control_listb_add(struct control_build *b, struct control_listb *l, const char *s, size_t len,
		      const char *source)
{
	char shown[80];
	char *copy;
	size_t i;

	if (!len) {
		control_diag(b, 1, "%s: empty name suffix in a list (simscan bans every attachment "
			     "with it): remove the stray ':'", source);
		return -1;
	}
	if (len > 255 || !printable(s, len) || memchr(s, '/', len)) {
		control_diag(b, 1, "%s: bad name suffix '%s' (at most 255 printable bytes, no '/')",
			     source, control_shown(shown, sizeof shown, s, len));
		return -1;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct control_suffix *e = realloc(l->e, cap * sizeof *e);

		if (!e) {
			control_diag(b, 1, "%s: out of memory", source);
			return -1;
		}
		l->e = e;
		l->cap = cap;
	}
	if (!(copy = control_arena_alloc(&b->p->arena, len + 1))) {
		control_diag(b, 1, "%s: out of memory", source);
		return -1;
	}
	for (i = 0; i < len; i++)
		copy[i] = (char)lower((unsigned char)s[i]);
	copy[len] = 0;
	l->e[l->n].s = copy;
	l->e[l->n++].len = len;
	return 0;
}

const struct control_list *control_listb_finish(struct control_build *b, struct control_listb *l,
						const char *source)
{
	struct control_list *list = control_arena_alloc(&b->p->arena, sizeof *list);
	struct control_suffix *e = control_arena_alloc(&b->p->arena, (l->n + 1) * sizeof *e);

	if (!list || !e || !(list->source = control_arena_strndup(&b->p->arena, source,
								  strlen(source)))) {
		control_diag(b, 1, "%s: out of memory", source);
		free(l->e);
		return NULL;
	}
	if (l->n)
		memcpy(e, l->e, l->n * sizeof *e);
	list->n = l->n;
	list->e = e;
	free(l->e);
	l->e = NULL;
	l->n = l->cap = 0;
	return list;
}

/* split_colon - each ':'-separated piece of v through add(); -1 if any failed */
static const struct control_list *attach_list(struct control_build *b, const char *v, size_t len,
					      const char *source)
{
	struct control_listb l = { 0 };
	size_t i = 0, start;
	int bad = 0;

	if (len)
		for (;;) {
			for (start = i; i < len && v[i] != ':'; i++)
				;
			if (control_listb_add(b, &l, v + start, i - start, source) < 0)
				bad = 1;
			if (i++ == len)
				break;
		}
	if (bad) {
		free(l.e);
		return NULL;
	}
	return control_listb_finish(b, &l, source);
}

static int add_regex(struct control_build *b, const char *v, size_t len, const char *source,
		     const struct control_regex ***list, size_t *n)
{
	struct control_policy *p = b->p;
	struct control_regex *r;
	char shown[80], why[160];
	int rc;

	if (!len) {
		control_diag(b, 1, "%s: empty regex (it would match every line): remove the stray ':'",
			     source);
		return -1;
	}
	if (!printable(v, len)) {
		control_diag(b, 1, "%s: regex '%s' has control characters", source,
			     control_shown(shown, sizeof shown, v, len));
		return -1;
	}
	if (!(r = control_arena_alloc(&p->arena, sizeof *r)) ||
	    !(r->pattern = control_arena_strndup(&p->arena, v, len)) ||
	    !(r->source = control_arena_strndup(&p->arena, source, strlen(source))))
		goto nomem;
	if ((rc = regcomp(&r->re, r->pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB))) {
		regerror(rc, &r->re, why, sizeof why);
		control_diag(b, 1, "%s: bad regex '%s': %s", source,
			     control_shown(shown, sizeof shown, v, len), why);
		return -1;
	}
	if (p->nregexes == p->regexes_cap) {
		size_t cap = p->regexes_cap ? p->regexes_cap * 2 : 16;
		struct control_regex **a = realloc(p->regexes, cap * sizeof *a);

		if (!a) {
			regfree(&r->re);
			goto nomem;
		}
		p->regexes = a;
		p->regexes_cap = cap;
	}
	p->regexes[p->nregexes++] = r;
	{
		const struct control_regex **a = realloc(*list, (*n + 1) * sizeof *a);

		if (!a)
			goto nomem;
		a[(*n)++] = r;
		*list = a;
	}
	return 0;
nomem:
	control_diag(b, 1, "%s: out of memory", source);
	return -1;
}

static int regex_list(struct control_build *b, const char *v, size_t len, const char *source,
		      const struct control_regex ***list, size_t *n)
{
	size_t i = 0, start;
	int bad = 0;

	for (;;) {
		for (start = i; i < len && v[i] != ':'; i++)
			;
		if (add_regex(b, v + start, i - start, source, list, n) < 0)
			bad = 1;
		if (i++ >= len)
			break;
	}
	return bad ? -1 : 0;
}

/* one - a single name=value into pv; -1 after an error */
static int one(struct control_build *b, struct control_pval *pv, const char *name, size_t nlen,
	       const char *v, size_t vlen, const char *source, const struct control_regex ***rx,
	       size_t *nrx)
{
	const struct param *pm = NULL;
	char shown[80], shown2[80];
	enum control_action act;
	uint64_t u;
	size_t i;
	int yn;

	for (i = 0; i < sizeof params / sizeof params[0]; i++)
		if (eqi(name, nlen, params[i].name)) {
			pm = &params[i];
			break;
		}
	if (!pm) {
		control_diag(b, 1, "%s: unknown parameter '%s'", source,
			     control_shown(shown, sizeof shown, name, nlen));
		return -1;
	}
#define BAD(want) do { \
		control_diag(b, 1, "%s: bad value '%s' for %s= (want %s)", source, \
			     control_shown(shown2, sizeof shown2, v, vlen), pm->name, want); \
		return -1; \
	} while (0)
	switch (pm->type) {
	case P_SCAN:
		if ((yn = yesno(v, vlen)) < 0)
			BAD("yes or no");
		pv->scan_set |= pm->arg;
		pv->scan_on = yn ? pv->scan_on | pm->arg : pv->scan_on & ~pm->arg;
		break;
	case P_ATTACH:
		/* yes/no switch the attach scanner; anything else is simscan's
		 * list, which replaces the list and switches the scanner on
		 * when it is not empty */
		pv->scan_set |= CONTROL_SCAN_ATTACH;
		if ((yn = yesno(v, vlen)) >= 0) {
			pv->scan_on = yn ? pv->scan_on | CONTROL_SCAN_ATTACH
					 : pv->scan_on & ~CONTROL_SCAN_ATTACH;
			break;
		}
		if (!vlen)
			control_diag(b, 0, "%s: attach= with an empty list switches attach scanning "
				     "off (simscan bans every attachment with it)", source);
		if (!(pv->attach = attach_list(b, v, vlen, source)))
			return -1;
		pv->has |= PV_ATTACH;
		pv->scan_on = pv->attach->n ? pv->scan_on | CONTROL_SCAN_ATTACH
					    : pv->scan_on & ~CONTROL_SCAN_ATTACH;
		break;
	case P_PASSTHRU:
		/* simscan: deliver spam (with spamc's headers) instead of
		 * rejecting it; here action_spam=tag, and "no" gives the
		 * decision back to the daemon's SLUICE_ON_SPAM */
		if ((yn = yesno(v, vlen)) < 0)
			BAD("yes or no");
		pv->action[CONTROL_V_SPAM] = yn ? CONTROL_ACT_TAG : CONTROL_ACT_RESET;
		break;
	case P_RELAY:
		if ((yn = yesno(v, vlen)) < 0)
			BAD("yes or no");
		pv->has |= PV_RELAY;
		pv->spam_relay = yn;
		break;
	case P_HITS:
		if (parse_hits(v, vlen, &pv->spam_hits) < 0)
			BAD("a score above 0, like 5 or 20.1");
		pv->has |= PV_HITS;
		break;
	case P_SIZE:
		if (parse_u64(v, vlen, UINT64_MAX / 2, &pv->size_limit) < 0)
			BAD("bytes, 0 for no limit");
		pv->has |= PV_SIZE;
		break;
	case P_SPAMUSER:
		if (!vlen || vlen > 255 || !printable(v, vlen) || memchr(v, '/', vlen))
			BAD("a user name");
		if (!(pv->spamuser = control_arena_strndup(&b->p->arena, v, vlen)))
			goto nomem;
		pv->has |= PV_SPAMUSER;
		pv->uses |= CONTROL_APPLY_SPAMUSER;
		break;
	case P_REGEX:
		if (regex_list(b, v, vlen, source, rx, nrx) < 0)
			return -1;
		pv->uses |= CONTROL_APPLY_REGEX;
		break;
	case P_QUARANTINE:
		if (vlen < 2 || vlen > 4000 || v[0] != '/' || !printable(v, vlen))
			BAD("the absolute path of a Maildir");
		if (!(pv->quarantine = control_arena_strndup(&b->p->arena, v, vlen)))
			goto nomem;
		if (b->opt->check_maildirs && !is_maildir(pv->quarantine)) {
			control_diag(b, 1, "%s: quarantine=%s is not a Maildir (new/ cur/ tmp/)",
				     source, pv->quarantine);
			return -1;
		}
		pv->has |= PV_QUARANTINE;
		pv->uses |= CONTROL_APPLY_QUARANTINE;
		break;
	case P_QUEUE:
		if (parse_u64(v, vlen, 1000000, &u) < 0)
			BAD("a queue number");
		if (b->opt->queue_count &&
		    (u < b->opt->queue_first || u >= (uint64_t)b->opt->queue_first + b->opt->queue_count)) {
			control_diag(b, 1, "%s: queue=%llu is not one of the queues %u..%u", source,
				     (unsigned long long)u, b->opt->queue_first,
				     b->opt->queue_first + b->opt->queue_count - 1);
			return -1;
		}
		pv->queue = (int)u;
		pv->has |= PV_QUEUE;
		pv->uses |= CONTROL_APPLY_QUEUE;
		break;
	case P_ACTION:
		act = control_action_parse(v, vlen);
		if (pm->arg == CONTROL_V_ERROR && act != CONTROL_ACT_DEFER && act != CONTROL_ACT_PASS &&
		    act != CONTROL_ACT_UNSET)
			BAD("defer or pass: a scanner failure is never a reason to reject for good");
		if (act == CONTROL_ACT_UNSET)
			BAD(pm->arg == CONTROL_V_ERROR ? "defer or pass"
				: "reject, defer, tag, quarantine, drop or pass");
		pv->action[pm->arg] = (uint8_t)act;
		break;
	case P_IGNORED:
		control_diag(b, 0, "%s: %s= %s", source, pm->name, pm->why);
		break;
	}
	return 0;
#undef BAD
nomem:
	control_diag(b, 1, "%s: out of memory", source);
	return -1;
}

const struct control_pval *control_pval_parse(struct control_build *b, const char *v, size_t len,
					      const char *source)
{
	const struct control_regex **rx = NULL;
	struct control_pval pv, *out;
	char shown[80];
	size_t i = 0, nrx = 0;
	int bad = 0;

	memset(&pv, 0, sizeof pv);
	pv.queue = -1;
	while (i < len) {
		size_t start, eq;

		while (i < len && is_sep((unsigned char)v[i]))
			i++;
		if (i == len)
			break;
		for (start = i; i < len && !is_sep((unsigned char)v[i]); i++)
			;
		for (eq = start; eq < i && v[eq] != '='; eq++)
			;
		if (eq == i || eq == start) {
			control_diag(b, !b->lenient, "%s: malformed parameter '%s' (want name=value)%s",
				     source, control_shown(shown, sizeof shown, v + start, i - start),
				     b->lenient ? ": ignored, as simscan ignores it (simscanmk makes "
						  "such records of '#' lines)" : "");
			bad |= !b->lenient;
			continue;
		}
		if (one(b, &pv, v + start, eq - start, v + eq + 1, i - eq - 1, source, &rx, &nrx) < 0)
			bad = 1;
	}
	if (!bad && b->opt->available) {
		unsigned missing = pv.scan_on & ~b->opt->available;
		char names[128];

		if (missing & ~CONTROL_SCAN_SPAMS) {
			control_diag(b, 1, "%s: switches on %s, which this daemon does not run "
				     "(the mail would go unscanned)", source,
				     control_scanners_text(missing & ~CONTROL_SCAN_SPAMS, names,
							   sizeof names));
			bad = 1;
		} else if (missing) {
			control_diag(b, 0, "%s: switches on %s, which this daemon does not run: "
				     "no spam check for these recipients", source,
				     control_scanners_text(missing, names, sizeof names));
		}
	}
	if (!bad && (pv.uses & ~b->opt->applies)) {
		unsigned u = pv.uses & ~b->opt->applies;

		if (u & CONTROL_APPLY_REGEX)
			control_diag(b, 0, "%s: regex= is NOT applied by this program: messages it "
				     "matches are delivered", source);
		if (u & CONTROL_APPLY_QUARANTINE)
			control_diag(b, 0, "%s: quarantine= is not applied by this program: "
				     "quarantined mail goes to the daemon's Maildir", source);
		if (u & CONTROL_APPLY_QUEUE)
			control_diag(b, 0, "%s: queue= is not applied by this program: "
				     "the queue is chosen as for any message", source);
		if (u & CONTROL_APPLY_SPAMUSER)
			control_diag(b, 0, "%s: spamuser= is not applied by this program", source);
	}
	if (bad || !(out = control_arena_alloc(&b->p->arena, sizeof *out))) {
		if (!bad)
			control_diag(b, 1, "%s: out of memory", source);
		free(rx);
		return NULL;
	}
	if (nrx) {
		const struct control_regex **a = control_arena_alloc(&b->p->arena, nrx * sizeof *a);

		if (!a) {
			control_diag(b, 1, "%s: out of memory", source);
			free(rx);
			return NULL;
		}
		memcpy(a, rx, nrx * sizeof *a);
		pv.regex = a;
		pv.nregex = nrx;
	}
	free(rx);
	*out = pv;
	return out;
}

void control_value_normalize(char *v, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start, eq;
		int keep;

		while (i < len && is_sep((unsigned char)v[i]))
			i++;
		for (start = i; i < len && !is_sep((unsigned char)v[i]); i++)
			;
		for (eq = start; eq < i && v[eq] != '='; eq++)
			;
		keep = eq < i && (eqi(v + start, eq - start, "quarantine") ||
				  eqi(v + start, eq - start, "qmailqueue") ||
				  eqi(v + start, eq - start, "regex"));
		for (; start < (keep ? eq : i); start++)
			v[start] = (char)lower((unsigned char)v[start]);
	}
}
