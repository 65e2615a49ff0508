/*
 * test_control_lookup.c - control/control_lookup.c: simscan's lookup
 *	order and sluice's one decision for several recipients.
 *
 *	golden      data/lookup-*.in hold a simcontrol (and ssattach, options)
 *	            and messages; the results, printed field by field, must
 *	            equal data/lookup-*.ref -- and must be the same whether the
 *	            policy comes from the text, from the CDB sluice-cdb makes
 *	            of it, or from a CDB built by tinycdb's own `cdb -c` from
 *	            the records simscanmk makes of that text (key = the first
 *	            token, lowercased; value = the rest of the line, lowercased
 *	            except on the default line; '#' lines become junk records)
 *	multi       a table of several-recipient messages: scanners are the
 *	            union, actions the strictest among the recipients a
 *	            verdict concerns, thresholds the strictest, strings only
 *	            when every recipient agrees
 *	hostile     a local part of 500 '-' separated words costs at most
 *	            CONTROL_PREFIX_MAX lookups and still finds the domain; an
 *	            over-long address and one without '@' find nothing; the
 *	            last '@' is the domain's
 *	reuse       one result through many lookups: the snapshot's reference
 *	            is dropped each time, the heap lists grow past the inline
 *	            room and are reused
 *
 *	SLUICE_GOLDEN_UPDATE=1 rewrites the .ref files from the text variant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "control.h"

static const struct control_defaults defs = {
	.scanners = CONTROL_SCAN_CLAM | CONTROL_SCAN_ATTACH,
	.action = { CONTROL_ACT_REJECT, CONTROL_ACT_REJECT, CONTROL_ACT_REJECT, CONTROL_ACT_REJECT,
		    CONTROL_ACT_DEFER },
};

struct text {
	char *s;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len)
			break;
		t->cap = t->cap * 2 + (size_t)n + 256;
		if (!(t->s = realloc(t->s, t->cap)))
			fail_msg("realloc");
	}
	t->len += (size_t)n;
}

static void collect(void *arg, int error, const char *line)
{
	put(arg, "%s: %s\n", error ? "error" : "warning", line);
}

/* print - a result, one field a line, for the .ref files */
static void print(struct text *t, const struct control_result *r)
{
	char sc[128];
	size_t i, j;
	unsigned v;

	put(t, "  scanners %s\n  actions", control_scanners_text(r->scanners, sc, sizeof sc));
	for (v = 0; v < CONTROL_NVERDICTS; v++)
		put(t, " %s=%s", control_verdict_name(v), control_action_name(r->action[v]));
	put(t, "\n  spam hits=%g required=%d size_limit=%llu user=%s\n", r->spam_hits,
	    r->spam_required, (unsigned long long)r->size_limit, r->spamuser ? r->spamuser : "-");
	put(t, "  quarantine=%s queue=%d\n", r->quarantine ? r->quarantine : "-", r->queue);
	put(t, "  attach");
	for (i = 0; i < r->nattach; i++) {
		put(t, " [");
		for (j = 0; j < r->attach[i]->n; j++)
			put(t, "%s%s", j ? " " : "", r->attach[i]->e[j].s);
		put(t, "]");
	}
	if (r->flags & CONTROL_R_ATTACH_DAEMON)
		put(t, " [daemon's]");
	put(t, "\n  regex");
	for (i = 0; i < r->nregex; i++)
		put(t, " /%s/", control_regex_pattern(r->regex[i]));
	put(t, "\n  flags%s%s%s%s\n", r->flags & CONTROL_R_NOPOLICY ? " nopolicy" : "",
	    r->flags & CONTROL_R_RELAY ? " relay" : "",
	    r->flags & CONTROL_R_SPAM_SKIPPED ? " spam-skipped" : "",
	    r->flags & CONTROL_R_TRUNCATED ? " truncated" : "");
	put(t, "  applied %s\n", r->napplied ? r->applied : "-");
}

struct golden {
	char *simcontrol, *ssattach;	/* NULL: no such file */
	enum control_sender sender;
	char **queries;
	size_t nq;
};

static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

/* parse_in - sections %simcontrol %ssattach %options %lookup */
static void parse_in(const char *text, struct golden *g)
{
	const char *p = text;
	struct text cur = { 0 };
	int sect = 0;		/* 1 simcontrol, 2 ssattach, 3 options, 4 lookup */

	memset(g, 0, sizeof *g);
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (!nl && !n)
			break;
		if (n && p[0] == '%') {
			if (sect == 1)
				g->simcontrol = cur.s ? cur.s : strdup("");
			if (sect == 2)
				g->ssattach = cur.s ? cur.s : strdup("");
			if (sect <= 2)
				cur = (struct text){ 0 };
			sect = !strncmp(p, "%simcontrol", 11) ? 1 : !strncmp(p, "%ssattach", 9) ? 2
			       : !strncmp(p, "%options", 8) ? 3 : !strncmp(p, "%lookup", 7) ? 4 : -1;
			assert_int_not_equal(sect, -1);
		} else if (sect == 1 || sect == 2) {
			put(&cur, "%.*s\n", (int)n, p);
		} else if (sect == 3 && n) {
			if (!strncmp(p, "sender=always", n))
				g->sender = CONTROL_SENDER_ALWAYS;
			else if (!strncmp(p, "sender=never", n))
				g->sender = CONTROL_SENDER_NEVER;
			else
				fail_msg("bad option line %.*s", (int)n, p);
		} else if (sect == 4 && n && p[0] != '#') {
			g->queries = realloc(g->queries, (g->nq + 1) * sizeof *g->queries);
			g->queries[g->nq++] = dupn(p, n);
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	if (sect == 1)
		g->simcontrol = cur.s ? cur.s : strdup("");
	if (sect == 2)
		g->ssattach = cur.s ? cur.s : strdup("");
}

/* query - "SENDER RCPT... [+relay] [+auth=USER]", "<>" the null sender */
static void query(struct text *out, struct control_policy *p, char *q, struct control_result *r)
{
	const char *rcpts[64], *sender = NULL, *auth = NULL;
	struct control_msg m = { 0 };
	size_t n = 0;
	char *tok, *save;

	put(out, "> %s\n", q);
	for (tok = strtok_r(q, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (tok[0] == '#')
			break;
		if (!strcmp(tok, "+relay"))
			m.relayclient = 1;
		else if (!strncmp(tok, "+auth=", 6))
			auth = tok + 6;
		else if (!sender)
			sender = strcmp(tok, "<>") ? tok : "";
		else
			rcpts[n++] = tok;
		assert_true(n < 63);
	}
	rcpts[n] = NULL;
	m.sender = sender;
	m.rcpts = rcpts;
	m.auth_user = auth;
	assert_int_equal(control_policy_lookup(p, &m, &defs, r), 0);
	print(out, r);
}

/* simscanmk_records - what simscanmk puts in the CDB for this text, in
 * tinycdb's native input format (+klen,vlen:key->value) */
static void simscanmk_records(const char *text, struct text *out)
{
	char *copy = strdup(text), *line, *save;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char buf[4000], *key, *data, *ts, *c;

		snprintf(buf, sizeof buf, "%s", line);
		if (buf[0] == ':') {
			key = "";
			data = strtok_r(buf + 1, "\r\n", &ts);
		} else {
			if (!(key = strtok_r(buf, ":\n\t\r #", &ts)))
				continue;
			data = strtok_r(NULL, "\r\n", &ts);
			for (c = key; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			for (c = data; c && *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		}
		if (!data)
			data = "";
		put(out, "+%zu,%zu:%s->%s\n", strlen(key), strlen(data), key, data);
	}
	put(out, "\n");
	free(copy);
}

enum variant { V_TEXT, V_COMPILED, V_CDBTOOL };

static char *run_variant(const struct golden *g, enum variant v, struct text *diags)
{
	char *dir = tu_tmpdir("lookup"), err[1024];
	struct control_options o = { .dir = dir, .sender = g->sender, .applies = CONTROL_APPLY_ALL,
				     .diag = collect, .diag_arg = diags };
	struct control_result r;
	struct control_policy *p;
	struct text out = { 0 };
	size_t i;

	if (g->ssattach)
		tu_write(tu_path(dir, "ssattach"), g->ssattach, strlen(g->ssattach));
	if (g->simcontrol) {
		tu_write(tu_path(dir, "simcontrol"), g->simcontrol, strlen(g->simcontrol));
		if (v == V_COMPILED)
			assert_int_equal(control_compile(tu_path(dir, "simcontrol"),
							 tu_path(dir, "simcontrol.cdb"), 0, &o, err,
							 sizeof err), 0);
		if (v == V_CDBTOOL) {
			struct text recs = { 0 };
			char cmd[8192];

			simscanmk_records(g->simcontrol, &recs);
			tu_write(tu_path(dir, "records"), recs.s, recs.len);
			free(recs.s);
			unlink(tu_path(dir, "simcontrol"));
			snprintf(cmd, sizeof cmd, "cdb -c '%s/simcontrol.cdb' '%s/records'", dir, dir);
			if (system(cmd) != 0)
				fail_msg("`%s` failed: is tinycdb's cdb installed (services/install-deps)?",
					 cmd);
		}
	}
	p = control_policy_open(&o, err, sizeof err);
	if (!p)
		fail_msg("open (%d): %s\n%s", v, err, diags->s ? diags->s : "");
	control_result_init(&r);
	for (i = 0; i < g->nq; i++) {
		char *q = strdup(g->queries[i]);

		query(&out, p, q, &r);
		free(q);
	}
	control_result_fini(&r);
	control_policy_unref(p);
	tu_rmtree(dir);
	free(dir);
	return out.s ? out.s : strdup("");
}

static void golden(const char *name)
{
	char in[4096], ref[4096];
	struct golden g;
	char *text, *want, *got[3];
	int v;

	snprintf(in, sizeof in, "%s/%s.in", TEST_DATA_DIR, name);
	snprintf(ref, sizeof ref, "%s/%s.ref", TEST_DATA_DIR, name);
	if (!(text = tu_read(in, NULL)))
		fail_msg("%s missing", in);
	parse_in(text, &g);
	for (v = V_TEXT; v <= V_CDBTOOL; v++) {
		struct text diags = { 0 };

		if (v != V_TEXT && !g.simcontrol) {
			got[v] = strdup(got[V_TEXT]);
			continue;
		}
		got[v] = run_variant(&g, (enum variant)v, &diags);
		free(diags.s);
	}
	if (getenv("SLUICE_GOLDEN_UPDATE"))
		tu_write(ref, got[V_TEXT], strlen(got[V_TEXT]));
	if (!(want = tu_read(ref, NULL)))
		fail_msg("%s missing", ref);
	for (v = V_TEXT; v <= V_CDBTOOL; v++)
		if (strcmp(got[v], want)) {
			char path[4096];

			snprintf(path, sizeof path, "/tmp/sluice-%s.%d.out", name, v);
			tu_write(path, got[v], strlen(got[v]));
			fail_msg("%s: variant %s differs from %s (got: %s)", name,
				 v == V_TEXT ? "text" : v == V_COMPILED ? "sluice-cdb" : "cdb -c", ref,
				 path);
		}
	for (v = V_TEXT; v <= V_CDBTOOL; v++)
		free(got[v]);
	free(want);
	free(text);
	for (size_t i = 0; i < g.nq; i++)
		free(g.queries[i]);
	free(g.queries);
	free(g.simcontrol);
	free(g.ssattach);
}

static void test_golden_simscan(void **state)
{
	golden("lookup-simscan");
}

static void test_golden_prefix(void **state)
{
	golden("lookup-prefix");
}

static void test_golden_several(void **state)
{
	golden("lookup-several");
}

static void test_golden_sender(void **state)
{
	golden("lookup-sender");
}

static void test_golden_sender_always(void **state)
{
	golden("lookup-sender-always");
}

static void test_golden_attach(void **state)
{
	golden("lookup-attach");
}

static void test_golden_nodefault(void **state)
{
	golden("lookup-nodefault");
}

static void test_golden_nopolicy(void **state)
{
	golden("lookup-nopolicy");
}

static void test_golden_relay(void **state)
{
	golden("lookup-relay");
}

static void test_golden_regex(void **state)
{
	golden("lookup-regex");
}

/* A policy from lines, in a temp dir that *dirp names. */
static struct control_policy *policy(const char *text, char **dirp)
{
	char *dir = tu_tmpdir("multi"), err[1024];
	struct control_options o = { .dir = dir, .applies = CONTROL_APPLY_ALL };
	struct control_policy *p;

	tu_write(tu_path(dir, "simcontrol"), text, strlen(text));
	if (!(p = control_policy_open(&o, err, sizeof err)))
		fail_msg("open: %s", err);
	*dirp = dir;
	return p;
}

static void drop(struct control_policy *p, char *dir)
{
	control_policy_unref(p);
	tu_rmtree(dir);
	free(dir);
}

static const char multi_policy[] =
	":clam=yes,attach=no,spam=no\n"
	"noscan.example:clam=no\n"
	"tagvirus.example:action_virus=tag\n"
	"quar.example:action_virus=quarantine,quarantine=/q/a\n"
	"quar2.example:action_virus=quarantine,quarantine=/q/b\n"
	"spam5.example:spam=yes,spam_hits=5,size_limit=100000,spamuser=five\n"
	"spam9.example:spam=yes,spam_hits=9,size_limit=0,spamuser=nine\n"
	"spamtag.example:spam=yes,spam_passthru=yes\n"
	"spamrej.example:spam=no,action_spam=reject\n"
	"attach.example:attach=.exe:.com\n"
	"attach2.example:attach=.zip\n"
	"q1.example:queue=1\n"
	"q2.example:queue=2\n"
	"err.example:action_error=pass\n";

static const struct multi_row {
	const char *rcpts[4];
	unsigned scanners;
	enum control_action virus, spam, error;
	double hits;
	int required;
	uint64_t size;
	const char *spamuser, *quarantine;
	int queue;
	size_t nattach;
} multi[] = {
	/* one recipient: exactly its own settings */
	{ { "a@noscan.example" }, 0, CONTROL_ACT_REJECT, CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1,
	  0, NULL, NULL, -1, 0 },
	/* clam=no for one recipient never switches clam off for another
	 * (simscan's last writer would: noscan.example comes last) */
	{ { "a@plain.example", "b@noscan.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_REJECT,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
	/* the strictest virus action among those who scan for viruses */
	{ { "a@tagvirus.example", "b@plain.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_REJECT,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
	{ { "a@tagvirus.example", "b@quar.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_QUARANTINE,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
	/* ... but a recipient who scans nothing does not make it stricter */
	{ { "a@tagvirus.example", "b@noscan.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_TAG,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
	/* quarantine Maildir: only when they agree */
	{ { "a@quar.example", "b@quar.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_QUARANTINE,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, "/q/a", -1, 0 },
	{ { "a@quar.example", "b@quar2.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_QUARANTINE,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
	{ { "a@quar.example", "b@plain.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_REJECT,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
	/* spam: lowest threshold, highest size limit (0 = none wins), user
	 * only when the same */
	{ { "a@spam5.example" }, CONTROL_SCAN_CLAM | CONTROL_SCAN_SPAM, CONTROL_ACT_REJECT,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 5, 0, 100000, "five", NULL, -1, 0 },
	{ { "a@spam5.example", "b@spam9.example" }, CONTROL_SCAN_CLAM | CONTROL_SCAN_SPAM,
	  CONTROL_ACT_REJECT, CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 5, 0, 0, NULL, NULL, -1, 0 },
	/* a spam recipient without a threshold of its own keeps the scanner's */
	{ { "a@spam9.example", "b@spamtag.example" }, CONTROL_SCAN_CLAM | CONTROL_SCAN_SPAM,
	  CONTROL_ACT_REJECT, CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 9, 1, 0, NULL, NULL, -1, 0 },
	/* spam action: only recipients with a spam scanner count: spamrej
	 * says reject but scans no spam, so spamtag's tag stands */
	{ { "a@spamtag.example", "b@spamrej.example" }, CONTROL_SCAN_CLAM | CONTROL_SCAN_SPAM,
	  CONTROL_ACT_REJECT, CONTROL_ACT_TAG, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
	{ { "a@spamtag.example", "b@spam5.example" }, CONTROL_SCAN_CLAM | CONTROL_SCAN_SPAM,
	  CONTROL_ACT_REJECT, CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 5, 1, 0, NULL, NULL, -1, 0 },
	/* attach lists: the union */
	{ { "a@attach.example", "b@attach2.example", "c@plain.example" },
	  CONTROL_SCAN_CLAM | CONTROL_SCAN_ATTACH, CONTROL_ACT_REJECT, CONTROL_ACT_REJECT,
	  CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 2 },
	{ { "a@attach.example", "b@attach.example" }, CONTROL_SCAN_CLAM | CONTROL_SCAN_ATTACH,
	  CONTROL_ACT_REJECT, CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 1 },
	/* queue pin: only when they agree */
	{ { "a@q1.example", "b@q1.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_REJECT,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, 1, 0 },
	{ { "a@q1.example", "b@q2.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_REJECT,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
	{ { "a@q1.example", "b@plain.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_REJECT,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
	/* error: defer beats pass */
	{ { "a@err.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_REJECT, CONTROL_ACT_REJECT,
	  CONTROL_ACT_PASS, 0, 1, 0, NULL, NULL, -1, 0 },
	{ { "a@err.example", "b@plain.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_REJECT,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
	/* the order of the recipients does not matter */
	{ { "b@plain.example", "a@err.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_REJECT,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
	{ { "b@noscan.example", "a@tagvirus.example" }, CONTROL_SCAN_CLAM, CONTROL_ACT_TAG,
	  CONTROL_ACT_REJECT, CONTROL_ACT_DEFER, 0, 1, 0, NULL, NULL, -1, 0 },
};

static void test_multi(void **state)
{
	char *dir;
	struct control_policy *p = policy(multi_policy, &dir);
	struct control_result r;
	size_t i;

	control_result_init(&r);
	for (i = 0; i < sizeof multi / sizeof multi[0]; i++) {
		const struct multi_row *w = &multi[i];
		struct control_msg m = { .sender = "x@outside.example", .rcpts = w->rcpts };

		print_message("row %zu: %s %s\n", i, w->rcpts[0], w->rcpts[1] ? w->rcpts[1] : "");
		assert_int_equal(control_policy_lookup(p, &m, &defs, &r), 0);
		assert_int_equal(r.scanners, w->scanners);
		assert_int_equal(r.action[CONTROL_V_VIRUS], w->virus);
		assert_int_equal(r.action[CONTROL_V_SPAM], w->spam);
		assert_int_equal(r.action[CONTROL_V_ERROR], w->error);
		assert_true(r.spam_hits == w->hits);
		assert_int_equal(r.spam_required, w->required);
		assert_int_equal(r.size_limit, w->size);
		if (w->spamuser)
			assert_string_equal(r.spamuser, w->spamuser);
		else
			assert_null(r.spamuser);
		if (w->quarantine)
			assert_string_equal(r.quarantine, w->quarantine);
		else
			assert_null(r.quarantine);
		assert_int_equal(r.queue, w->queue);
		assert_int_equal(r.nattach, w->nattach);
	}
	control_result_fini(&r);
	drop(p, dir);
}

/* is_spam and banned follow the merged thresholds and lists */
static void test_helpers(void **state)
{
	char *dir;
	struct control_policy *p = policy(multi_policy, &dir);
	const char *rc[] = { "a@spam5.example", "b@spamtag.example", "c@attach.example",
			     "d@attach2.example", NULL };
	struct control_msg m = { .sender = "", .rcpts = rc };
	struct control_result r;

	control_result_init(&r);
	assert_int_equal(control_policy_lookup(p, &m, &defs, &r), 0);
	assert_true(control_result_is_spam(&r, 5.0, 0));
	assert_false(control_result_is_spam(&r, 4.9, 0));
	assert_true(control_result_is_spam(&r, 1.0, 1));	/* spamtag: the scanner's own */
	assert_string_equal(control_result_banned(&r, "Invoice.PDF.EXE", 15), ".exe");
	assert_string_equal(control_result_banned(&r, "a.zip", 5), ".zip");
	assert_null(control_result_banned(&r, "a.exe.txt", 9));
	assert_null(control_result_banned(&r, "x", 1));
	control_result_fini(&r);
	drop(p, dir);
}

static void test_hostile(void **state)
{
	char *dir, *local, *addr;
	struct control_policy *p;
	struct control_result r;
	size_t i, n = 0;

	/* every '-' prefix of the hostile address has an entry: the cap shows */
	p = policy(":clam=no\nevil.example:queue=7\nx@evil.example:queue=1\n"
		   "x-x@evil.example:queue=2\nx-x-x-x-x-x-x-x-x-x-x-x-x-x-x@evil.example:queue=15\n"
		   "x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x@evil.example:queue=16\n"
		   "b.example:queue=3\na@b@c.example:queue=9\n", &dir);
	local = malloc(1001);
	for (i = 0; i < 500; i++) {
		local[n++] = 'x';
		local[n++] = '-';
	}
	local[n - 1] = 0;
	if (asprintf(&addr, "%s@evil.example", local) < 0)
		fail_msg("asprintf");
	assert_true(strlen(addr) <= CONTROL_ADDR_MAX);
	control_result_init(&r);
	{
		const char *rc[] = { addr, NULL };
		struct control_msg m = { .sender = "", .rcpts = rc };

		assert_int_equal(control_policy_lookup(p, &m, &defs, &r), 0);
		/* 15 prefixes are looked up: x, x-x, ... up to 15 words; the 16th
		 * word's prefix is never tried */
		assert_int_equal(r.queue, 15);
		assert_int_equal(r.napplied, 5);
	}
	{
		char *longaddr = malloc(CONTROL_ADDR_MAX + 40);
		const char *rc[] = { longaddr, "nodomain", "@b.example", "a@", "a@b@c.example", NULL };
		struct control_msg m = { .sender = "", .rcpts = rc };

		memset(longaddr, 'a', CONTROL_ADDR_MAX + 1);
		strcpy(longaddr + CONTROL_ADDR_MAX + 1, "@b.example");
		assert_int_equal(control_policy_lookup(p, &m, &defs, &r), 0);
		/* only a@b@c.example matched: its domain (c.example: no entry)
		 * and its whole address; never b.example */
		assert_string_equal(r.applied, "(default),a@b@c.example");
		free(longaddr);
	}
	control_result_fini(&r);
	free(addr);
	free(local);
	drop(p, dir);
}

static void test_reuse(void **state)
{
	struct text t = { 0 };
	char *dir;
	struct control_policy *p;
	struct control_result r;
	const char *rc[41];
	char names[40][64];
	int i, round;

	put(&t, ":clam=yes\n");
	for (i = 0; i < 40; i++) {
		put(&t, "d%d.some-longer-domain.example:attach=.x%d,regex=x%d\n", i, i, i);
		snprintf(names[i], sizeof names[i], "u@d%d.some-longer-domain.example", i);
		rc[i] = names[i];
	}
	rc[40] = NULL;
	p = policy(t.s, &dir);
	control_result_init(&r);
	for (round = 0; round < 3; round++) {
		struct control_msg m = { .sender = "", .rcpts = rc };

		assert_int_equal(control_policy_lookup(p, &m, &defs, &r), 0);
		assert_int_equal(r.nattach, 40);
		assert_int_equal(r.nregex, 40);
		assert_string_equal(control_regex_pattern(r.regex[39]), "x39");
		assert_string_equal(r.attach[39]->e[0].s, ".x39");
		assert_true(r.flags & CONTROL_R_TRUNCATED);
		/* a small one after a big one: back to the inline room */
		rc[2] = NULL;
		assert_int_equal(control_policy_lookup(p, &m, &defs, &r), 0);
		assert_int_equal(r.nattach, 2);
		assert_string_equal(r.attach[1]->e[0].s, ".x1");
		rc[2] = names[2];
	}
	control_result_fini(&r);
	control_result_fini(&r);	/* twice is harmless */
	drop(p, dir);
	free(t.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_simscan),
		cmocka_unit_test(test_golden_prefix),
		cmocka_unit_test(test_golden_several),
		cmocka_unit_test(test_golden_sender),
		cmocka_unit_test(test_golden_sender_always),
		cmocka_unit_test(test_golden_attach),
		cmocka_unit_test(test_golden_nodefault),
		cmocka_unit_test(test_golden_nopolicy),
		cmocka_unit_test(test_golden_relay),
		cmocka_unit_test(test_golden_regex),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_reuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
