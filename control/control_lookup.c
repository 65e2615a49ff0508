/*
 * control_lookup.c - one message's policy.
 *
 *	Per recipient, simscan's order: start from all-off, apply the default
 *	line, then the sender's entries (when they count: options.sender),
 *	then the recipient's: its domain, then its local part's prefixes
 *	split on '-', shortest first, then the whole address.  Each entry
 *	overwrites only what it names; the last writer wins.  regex= entries
 *	accumulate over every entry met, as in simscan.
 *
 *	Then one decision for the message (simcontrol(5), MULTIPLE
 *	RECIPIENTS): the scanners are the union of every recipient's; the
 *	action for a verdict kind is the strictest among the recipients that
 *	asked for a scanner able to give that verdict (among all of them when
 *	none did); the spam threshold is the lowest and the spam size limit
 *	the highest among recipients with a spam scanner; spamuser,
 *	quarantine and queue apply when every recipient concerned agrees.
 *	With one recipient this is exactly simscan's result.
 *
 *	Addresses are lowercased (ASCII), split at the last '@' (the one
 *	qmail routes by); an address without one, or longer than
 *	CONTROL_ADDR_MAX, has no entries; at most CONTROL_PREFIX_MAX keys are
 *	tried per local part, so a hostile "a-a-a-...-a" costs no more than
 *	an ordinary address.
 *
 *	Nothing is allocated unless more lists or patterns apply than the
 *	result holds inline; the CDB is read through a copy of its handle on
 *	the stack, so lookups in one snapshot may run on many threads.
 *
 * DIAGNOSTICS
 *	-1 when growing the result's lists failed (out of memory): the
 *	caller should defer the message.
 */
#include <stdlib.h>
#include <string.h>

#include "control_int.h"

/* One recipient's settings after its entries: UNSET/has flags mean "the
 * daemon's default". */
struct rs {
	unsigned scan;
	uint8_t action[CONTROL_NVERDICTS];
	int spam_relay, has_hits, has_size, has_attach;
	double hits;
	uint64_t size;
	const char *spamuser, *quarantine;
	int queue;
	const struct control_list *attach;
};

/* "all recipients agree" values */
struct agree {
	int state;		/* 0 none seen, 1 one value, 2 they differ */
	const char *s;
	int n;
};

struct merge {
	unsigned scan;
	uint8_t all[CONTROL_NVERDICTS], conc[CONTROL_NVERDICTS];
	int any[CONTROL_NVERDICTS];
	int spam_any, hits_set, required, size_none;
	double hits;
	uint64_t size;
	struct agree spamuser, quarantine, queue;
};

/* The domains already looked up for this message: mail to many recipients
 * mostly goes to a few domains, and each CDB probe is a cache miss or two. */
#define MEMO 8
#define MEMO_KEY 256
struct memo {
	size_t len;
	const struct control_pval *pv;	/* NULL: no entry */
	unsigned keypos;
	int users;			/* the domain has user keys */
	char key[MEMO_KEY];
};

struct lk {
	struct control_policy *p;
	struct cdb c;
	struct control_result *out;
	int oom;
	unsigned nmemo, next;
	struct memo memo[MEMO];
};

void control_result_init(struct control_result *r)
{
	memset(r, 0, sizeof *r);
	r->queue = -1;
}

void control_result_fini(struct control_result *r)
{
	control_policy_unref(r->policy);
	free(r->list_heap);
	free(r->regex_heap);
	control_result_init(r);
}

/* reset - a fresh result, keeping the heap arrays for reuse */
static void reset(struct control_result *r)
{
	const struct control_list **lh = r->list_heap;
	const struct control_regex **rh = r->regex_heap;
	size_t lc = r->list_cap, rc = r->regex_cap;

	control_policy_unref(r->policy);
	memset(r, 0, offsetof(struct control_result, policy));
	r->policy = NULL;
	r->queue = -1;
	r->list_heap = lh;
	r->regex_heap = rh;
	r->list_cap = lc;
	r->regex_cap = rc;
	r->nnoted = 0;
}

/*
 * PUSH(name, type, inl, heap, cap, n, nin) - name(o, p): p into o's inline
 * array, then into the heap one (which, once used, holds every element);
 * pointers already there are not added again.  -1 when out of memory.
 */
#define PUSH(name, type, inl, heap, cap, cnt, nin) \
static int name(struct control_result *o, type p) \
{ \
	type *a = o->cnt > (nin) ? o->heap : o->inl; \
	size_t i; \
\
	for (i = 0; i < o->cnt; i++) \
		if (a[i] == p) \
			return 0; \
	if (o->cnt < (nin)) { \
		o->inl[o->cnt++] = p; \
		return 0; \
	} \
	if (o->cap <= o->cnt) { \
		size_t ncap = o->cnt * 2 > 16 ? o->cnt * 2 : 16; \
		type *h = realloc(o->heap, ncap * sizeof *h); \
\
		if (!h) \
			return -1; \
		o->heap = h; \
		o->cap = ncap; \
	} \
	if (o->cnt == (nin)) \
		memcpy(o->heap, o->inl, (nin) * sizeof *o->heap); \
	o->heap[o->cnt++] = p; \
	return 0; \
}
PUSH(push_regex, const struct control_regex *, regex_in, regex_heap, regex_cap, nregex,
     CONTROL_INLINE_REGEX)
PUSH(push_list, const struct control_list *, list_in, list_heap, list_cap, nattach,
     CONTROL_INLINE_LISTS)

static void add_regexes(struct lk *lk, const struct control_pval *pv)
{
	size_t i;

	for (i = 0; i < pv->nregex; i++)
		if (push_regex(lk->out, pv->regex[i]) < 0)
			lk->oom = 1;
}

static void add_list(struct lk *lk, const struct control_list *l)
{
	if (push_list(lk->out, l) < 0)
		lk->oom = 1;
}

/* note_applied - key (at keypos in the CDB, 0 for the default line) into
 * applied[] unless there already: a key's first record is the one found,
 * so equal keys have equal positions */
static void note_applied(struct control_result *o, unsigned keypos, const char *key, size_t klen)
{
	size_t have, i;

	o->hits++;
	if (o->flags & CONTROL_R_TRUNCATED)
		return;
	for (i = 0; i < o->nnoted; i++)
		if (o->noted[i] == keypos)
			return;
	if (!klen) {
		key = "(default)";
		klen = 9;
	}
	have = strlen(o->applied);
	if (o->nnoted < sizeof o->noted / sizeof o->noted[0]) {
		o->noted[o->nnoted++] = keypos;
	} else {		/* many short keys: compare the text */
		for (i = 0; i < have;) {
			size_t j = i;

			while (j < have && o->applied[j] != ',')
				j++;
			if (j - i == klen && !memcmp(o->applied + i, key, klen))
				return;
			i = j + 1;
		}
	}
	if (have + !!have + klen + 4 >= sizeof o->applied) {
		memcpy(o->applied + have, have ? ",..." : "...", have ? 5 : 4);
		o->flags |= CONTROL_R_TRUNCATED;
		return;
	}
	if (have)
		o->applied[have++] = ',';
	memcpy(o->applied + have, key, klen);
	o->applied[have + klen] = 0;
	o->napplied++;
}

static void apply(struct rs *r, const struct control_pval *pv)
{
	unsigned v;

	r->scan = (r->scan & ~pv->scan_set) | pv->scan_on;
	for (v = 0; v < CONTROL_NVERDICTS; v++)
		if (pv->action[v] == CONTROL_ACT_RESET)
			r->action[v] = CONTROL_ACT_UNSET;
		else if (pv->action[v])
			r->action[v] = pv->action[v];
	if (pv->has & PV_RELAY)
		r->spam_relay = pv->spam_relay;
	if (pv->has & PV_HITS) {
		r->has_hits = 1;
		r->hits = pv->spam_hits;
	}
	if (pv->has & PV_SIZE) {
		r->has_size = 1;
		r->size = pv->size_limit;
	}
	if (pv->has & PV_SPAMUSER)
		r->spamuser = pv->spamuser;
	if (pv->has & PV_QUARANTINE)
		r->quarantine = pv->quarantine;
	if (pv->has & PV_QUEUE)
		r->queue = pv->queue;
	if (pv->has & PV_ATTACH) {
		r->attach = pv->attach;
		r->has_attach = 1;
	}
}

static void found(struct lk *lk, struct rs *r, const struct control_pval *pv, unsigned keypos,
		  const char *key, size_t klen)
{
	note_applied(lk->out, keypos, key, klen);
	add_regexes(lk, pv);
	apply(r, pv);
}

/* probe - the entry of a key, or NULL */
static const struct control_pval *probe(struct lk *lk, const char *key, size_t klen,
					unsigned *keypos)
{
	if (cdb_find(&lk->c, key, (unsigned)klen) <= 0)
		return NULL;
	*keypos = cdb_keypos(&lk->c);
	/* NULL cannot happen: every value was parsed at open */
	return control_cdb_pval(lk->p, cdb_getdata(&lk->c), cdb_datalen(&lk->c));
}

static void hit(struct lk *lk, struct rs *r, const char *key, size_t klen)
{
	const struct control_pval *pv;
	unsigned keypos;

	if ((pv = probe(lk, key, klen, &keypos)))
		found(lk, r, pv, keypos, key, klen);
}

/* hit_domain - hit() through the message's memo of domains; 1 when
 * the domain has user keys (so the user lookups are worth making) */
static int hit_domain(struct lk *lk, struct rs *r, const char *key, size_t klen)
{
	struct memo *m;
	unsigned i, keypos = 0;
	const struct control_pval *pv;
	int users;

	for (i = 0; i < lk->nmemo; i++)
		if (lk->memo[i].len == klen && !memcmp(lk->memo[i].key, key, klen)) {
			if (lk->memo[i].pv)
				found(lk, r, lk->memo[i].pv, lk->memo[i].keypos, key, klen);
			return lk->memo[i].users;
		}
	pv = probe(lk, key, klen, &keypos);
	users = control_udom_has(lk->p, key, klen);
	if (klen < MEMO_KEY) {
		m = &lk->memo[lk->nmemo < MEMO ? lk->nmemo++ : lk->next++ % MEMO];
		m->len = klen;
		memcpy(m->key, key, klen);
		m->pv = pv;
		m->keypos = keypos;
		m->users = users;
	}
	if (pv)
		found(lk, r, pv, keypos, key, klen);
	return users;
}

/* address - the entries of one address, in simscan's order */
static void address(struct lk *lk, struct rs *r, const char *addr)
{
	char buf[CONTROL_ADDR_MAX + 1], key[2 * CONTROL_ADDR_MAX + 2];
	size_t len = addr ? strnlen(addr, CONTROL_ADDR_MAX + 1) : 0, i, at, tries = 0;

	if (!len || len > CONTROL_ADDR_MAX)
		return;
	for (i = 0, at = len; i < len; i++) {
		char c = addr[i];

		buf[i] = (char)(c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c);
		if (c == '@')
			at = i;
	}
	if (at == len || at == 0 || at + 1 == len)
		return;		/* no '@', no local part or no domain */
	if (!hit_domain(lk, r, buf + at + 1, len - at - 1))
		return;		/* no user@ keys at this domain */
	for (i = 1; i < at && tries < CONTROL_PREFIX_MAX - 1; i++)
		if (buf[i] == '-') {	/* "test" of test-list-owner, then "test-list" */
			memcpy(key, buf, i);
			memcpy(key + i, buf + at, len - at);
			hit(lk, r, key, i + len - at);
			tries++;
		}
	hit(lk, r, buf, len);
}

static void agree(struct agree *a, const char *s, int n)
{
	if (a->state == 0) {
		a->state = 1;
		a->s = s;
		a->n = n;
	} else if (a->state == 1 && (a->n != n || (a->s != s && (!a->s || !s || strcmp(a->s, s)))))
		a->state = 2;
}

static enum control_action def_action(const struct control_defaults *d, unsigned v)
{
	if (d->action[v] != CONTROL_ACT_UNSET)
		return d->action[v];
	return v == CONTROL_V_ERROR ? CONTROL_ACT_DEFER : CONTROL_ACT_REJECT;
}

/* verdict kinds a set of scanners can give (regex= matches are BANNED,
 * handled when the merge ends) */
static int concerned(unsigned v, unsigned scan)
{
	switch (v) {
	case CONTROL_V_VIRUS:
		return !!(scan & CONTROL_SCAN_VIRUS);
	case CONTROL_V_BANNED:
		return !!(scan & CONTROL_SCAN_ATTACH);
	case CONTROL_V_SPAM:
		return !!(scan & CONTROL_SCAN_SPAMS);
	default:
		return scan != 0;
	}
}

static void merge_one(struct lk *lk, struct merge *m, const struct rs *r,
		      const struct control_defaults *d, int relay)
{
	unsigned scan = r->scan, v;

	if (relay && (scan & CONTROL_SCAN_SPAMS) && r->spam_relay != 1) {
		scan &= ~CONTROL_SCAN_SPAMS;	/* simscan: no spam check for RELAYCLIENT */
		lk->out->flags |= CONTROL_R_SPAM_SKIPPED;
	}
	m->scan |= scan;
	for (v = 0; v < CONTROL_NVERDICTS; v++) {
		uint8_t a = r->action[v] ? r->action[v] : (uint8_t)def_action(d, v);

		if (a > m->all[v])
			m->all[v] = a;
		if (concerned(v, scan)) {
			m->any[v] = 1;
			if (a > m->conc[v])
				m->conc[v] = a;
		}
	}
	if (scan & CONTROL_SCAN_SPAMS) {
		double h = r->has_hits ? r->hits : d->spam_hits;
		uint64_t s = r->has_size ? r->size : d->size_limit;

		m->spam_any = 1;
		if (h > 0) {
			if (!m->hits_set || h < m->hits)
				m->hits = h;
			m->hits_set = 1;
		} else {
			m->required = 1;
		}
		if (!s)
			m->size_none = 1;
		else if (s > m->size)
			m->size = s;
		agree(&m->spamuser, r->spamuser, 0);
	}
	agree(&m->quarantine, r->quarantine, 0);
	agree(&m->queue, NULL, r->queue);
	if (scan & CONTROL_SCAN_ATTACH) {
		const struct control_list *l = r->has_attach ? r->attach : lk->p->ssattach;

		if (l)
			add_list(lk, l);
		else
			lk->out->flags |= CONTROL_R_ATTACH_DAEMON;
	}
}

static void finish(struct lk *lk, const struct merge *m, const struct control_defaults *d)
{
	struct control_result *o = lk->out;
	unsigned v;

	o->scanners = m->scan;
	for (v = 0; v < CONTROL_NVERDICTS; v++) {
		/* a regex= match is a BANNED verdict for everyone, and the
		 * limits and errors of that check concern everyone too */
		int everyone = o->nregex && v != CONTROL_V_VIRUS && v != CONTROL_V_SPAM;

		o->action[v] = (enum control_action)(m->any[v] && !everyone ? m->conc[v] : m->all[v]);
	}
	if (m->spam_any) {
		o->spam_hits = m->hits_set ? m->hits : 0;
		o->spam_required = m->required || !m->hits_set;
		o->size_limit = m->size_none ? 0 : m->size;
		o->spamuser = m->spamuser.state == 1 ? m->spamuser.s : NULL;
	} else {
		o->spam_hits = d->spam_hits > 0 ? d->spam_hits : 0;
		o->spam_required = !(d->spam_hits > 0);
		o->size_limit = d->size_limit;
	}
	o->quarantine = m->quarantine.state == 1 ? m->quarantine.s : NULL;
	o->queue = m->queue.state == 1 ? m->queue.n : -1;
}

static void no_policy(struct lk *lk, const struct control_defaults *d, int relay)
{
	struct control_result *o = lk->out;
	unsigned v;

	o->flags |= CONTROL_R_NOPOLICY;
	o->scanners = d->scanners;
	if (relay && (o->scanners & CONTROL_SCAN_SPAMS)) {
		o->scanners &= ~CONTROL_SCAN_SPAMS;
		o->flags |= CONTROL_R_SPAM_SKIPPED;
	}
	for (v = 0; v < CONTROL_NVERDICTS; v++)
		o->action[v] = def_action(d, v);
	o->spam_hits = d->spam_hits > 0 ? d->spam_hits : 0;
	o->spam_required = !(d->spam_hits > 0);
	o->size_limit = d->size_limit;
	if (o->scanners & CONTROL_SCAN_ATTACH) {
		if (lk->p->ssattach)
			add_list(lk, lk->p->ssattach);
		else
			o->flags |= CONTROL_R_ATTACH_DAEMON;
	}
}

int control_policy_lookup(struct control_policy *p, const struct control_msg *msg,
			  const struct control_defaults *d, struct control_result *out)
{
	struct lk lk = { .p = p, .c = p->cdb, .out = out };
	int relay = msg->relayclient || (msg->auth_user && *msg->auth_user);
	struct merge m;
	struct rs base, r;
	size_t i;

	reset(out);
	control_policy_ref(p);
	out->policy = p;
	if (relay)
		out->flags |= CONTROL_R_RELAY;
	if (p->src == CONTROL_SRC_NONE) {
		no_policy(&lk, d, relay);
	} else {
		memset(&m, 0, sizeof m);
		memset(&base, 0, sizeof base);
		base.queue = -1;
		if (p->def) {
			note_applied(out, 0, "", 0);
			add_regexes(&lk, p->def);
			apply(&base, p->def);
		}
		if (p->opt.sender == CONTROL_SENDER_ALWAYS ||
		    (p->opt.sender == CONTROL_SENDER_RELAY && relay))
			address(&lk, &base, msg->sender);
		for (i = 0; msg->rcpts && msg->rcpts[i]; i++) {
			r = base;
			address(&lk, &r, msg->rcpts[i]);
			merge_one(&lk, &m, &r, d, relay);
		}
		if (!i)
			merge_one(&lk, &m, &base, d, relay);
		finish(&lk, &m, d);
	}
	out->attach = out->nattach > CONTROL_INLINE_LISTS ? out->list_heap : out->list_in;
	out->regex = out->nregex > CONTROL_INLINE_REGEX ? out->regex_heap : out->regex_in;
	return lk.oom ? -1 : 0;
}

int control_result_is_spam(const struct control_result *r, double score, int scanner_says_spam)
{
	return (r->spam_hits > 0 && score >= r->spam_hits) ||
	       (r->spam_required && scanner_says_spam);
}

const char *control_result_banned(const struct control_result *r, const char *name, size_t len)
{
	size_t i, j, k;

	for (i = 0; i < r->nattach; i++) {
		const struct control_list *l = r->attach[i];

		for (j = 0; j < l->n; j++) {
			const char *s = l->e[j].s;
			size_t sl = l->e[j].len;

			if (sl > len)
				continue;
			for (k = 0; k < sl; k++) {
				char c = name[len - sl + k];

				if ((c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c) != s[k])
					break;
			}
			if (k == sl)
				return s;
		}
	}
	return NULL;
}
