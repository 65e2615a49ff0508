/*
 * router_policy.c - the POLICY stage: which scanners run on a message and
 * what each verdict does to it.
 *
 * SUMMARY
 *	router_policy_start() opens the control directory's policy
 *	(control/: simscan's simcontrol, simcontrol.cdb and ssattach) when it
 *	holds one; router_policy_reload() builds a new snapshot when those
 *	files changed (SIGHUP and the reload timer) and keeps the old one when
 *	the new one is broken; router_policy_stop() drops it.
 *
 *	router_policy_apply() fills a message's scanners, actions and
 *	per-message scan inputs.  Without a policy they are the daemon's
 *	settings.  With one, control_policy_lookup() gives the message's
 *	decision (simscan's lookup order, the recipients merged so that none
 *	loses what it asked for: simcontrol(5)), and:
 *	  scanners  the configured backends whose kind the result switches on
 *	            (clam= any ClamAV backend, clamd=, attach=, qhpsi= the exec
 *	            backend, spam= spamd or rspamd, rspamd=); null and test
 *	            always run; regex= adds the regex pseudo-scanner below
 *	  actions   the result's action per verdict kind
 *	  names     attach= and ssattach lists through scan_input's banned()
 *	            hook, for the attach walker and clamav's unpacked files
 *	  spam      spam_hits=, size_limit=, spamuser= into scan_input
 *	  quarantine=  the message's Maildir
 *	  queue=    router_policy_pin() at COMMIT: an action thread moves the
 *	            message into that queue before intd/ (queue_msg_move);
 *	            a queue out of service, a big copy across filesystems or
 *	            a spool keep it where it is (logged)
 *	The log line names the entries that applied.
 *
 *	The regex pseudo-scanner (a backend of the router's own, as it needs
 *	the message's result) matches every line of the message after the
 *	Received line with the result's regex= patterns, as simscan does; a
 *	match is a banned verdict naming the pattern (its entry is logged).
 *
 * DIAGNOSTICS
 *	router_policy_start() fails (-1, err) on a broken control file: the
 *	daemon does not start.  A broken file at reload is logged with its
 *	file and line, and the last good policy stays.  router_policy_apply()
 *	returns -1 when it answered the message itself (out of memory: 451).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "control/control.h"
#include "router_int.h"
#include "queue/diag.h"

/* What a configured backend is to the policy (by its name). */
static unsigned kind_of(const struct scan_backend *b)
{
	static const struct { const char *name; unsigned bits; } tab[] = {
		{ "clamav", CONTROL_SCAN_CLAM }, { "clamd", CONTROL_SCAN_CLAM | CONTROL_SCAN_CLAMD },
		{ "attach", CONTROL_SCAN_ATTACH }, { "exec", CONTROL_SCAN_QHPSI },
		{ "spamd", CONTROL_SCAN_SPAM }, { "rspamd", CONTROL_SCAN_SPAM | CONTROL_SCAN_RSPAMD },
	};
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (!strcmp(b->name, tab[i].name))
			return tab[i].bits;
	return 0;	/* null, test: not the policy's to switch */
}

static enum control_action to_control(enum router_action a)
{
	switch (a) {
	case ACTION_ACCEPT:
		return CONTROL_ACT_PASS;
	case ACTION_TAG:
		return CONTROL_ACT_TAG;
	case ACTION_DROP:
		return CONTROL_ACT_DROP;
	case ACTION_QUARANTINE:
		return CONTROL_ACT_QUARANTINE;
	case ACTION_DEFER:
		return CONTROL_ACT_DEFER;
	case ACTION_REJECT:
		break;
	}
	return CONTROL_ACT_REJECT;
}

static enum router_action from_control(enum control_action a)
{
	switch (a) {
	case CONTROL_ACT_UNSET:
	case CONTROL_ACT_PASS:
		return ACTION_ACCEPT;
	case CONTROL_ACT_TAG:
		return ACTION_TAG;
	case CONTROL_ACT_DROP:
		return ACTION_DROP;
	case CONTROL_ACT_QUARANTINE:
		return ACTION_QUARANTINE;
	case CONTROL_ACT_DEFER:
		return ACTION_DEFER;
	case CONTROL_ACT_REJECT:
		break;
	}
	return ACTION_REJECT;
}

/* diag - the control library's warnings and errors, one log line each */
static void diag(void *arg, int error, const char *line)
{
	(void)arg;
	diag_info("%s: policy: %s", error ? "error" : "warning", line);
}

int router_policy_start(struct router *r, char *err, size_t errlen)
{
	const struct router_config *c = r->cfg;
	struct control_options o = c->policy;	/* SLUICE_CONTROL, SLUICE_POLICY_SENDER */
	char e[512];
	unsigned i;

	o.applies = CONTROL_APPLY_REGEX | CONTROL_APPLY_QUARANTINE | CONTROL_APPLY_SPAMUSER;
	/* queue=N must name one of QUEUE_BASE/queue<START..START+COUNT-1>;
	 * with a single QUEUEDIR it does not apply (the load says so) */
	if (c->set.base && c->set.n && sscanf(c->set.v[0].name, "queue%u", &o.queue_first) == 1) {
		o.queue_count = c->set.n;
		o.applies |= CONTROL_APPLY_QUEUE;
	}
	o.available = 0;
	for (i = 0; i < c->nscanners; i++)
		o.available |= kind_of(c->scanners[i]);
	/* a policy may switch on only what runs here (with no scanner but
	 * null or test, 0: nothing is checked, and nothing would run) */
	o.check_maildirs = 1;
	o.diag = diag;
	o.diag_arg = r;
	snprintf(r->policy_dir, sizeof r->policy_dir, "%s", o.dir ? o.dir : CONTROL_DIR_DEFAULT);
	if (!(r->policy = control_policy_open(&o, e, sizeof e))) {
		snprintf(err, errlen, "policy: %s", e);
		return -1;
	}
	if (!strcmp(control_policy_source(r->policy), "none") && !control_policy_scanners(r->policy)) {
		/* nothing in the control directory applies: the settings rule */
		diag_info("policy: none in %s (no simcontrol, simcontrol.cdb or "
			"ssattach): the daemon's settings apply to every message",
			o.dir ? o.dir : CONTROL_DIR_DEFAULT);
	} else
		diag_info("policy: %s in %s", control_policy_source(r->policy),
			o.dir ? o.dir : CONTROL_DIR_DEFAULT);
	return 0;
}

void router_policy_stop(struct router *r)
{
	if (r->policy)
		control_policy_unref(r->policy);
	r->policy = NULL;
}

/* files_sig - what the control files look like now (stat of each) */
static void files_sig(const struct router *r, struct stat sig[3])
{
	static const char *const name[] = { "simcontrol", "simcontrol.cdb", "ssattach" };
	char path[4200];
	unsigned i;

	for (i = 0; i < 3; i++) {
		memset(&sig[i], 0, sizeof sig[i]);
		snprintf(path, sizeof path, "%s/%s", r->policy_dir, name[i]);
		if (stat(path, &sig[i]) < 0)
			memset(&sig[i], 0, sizeof sig[i]);
	}
}

static int same_sig(const struct stat a[3], const struct stat b[3])
{
	unsigned i;

	for (i = 0; i < 3; i++)
		if (a[i].st_dev != b[i].st_dev || a[i].st_ino != b[i].st_ino || a[i].st_size != b[i].st_size ||
		    a[i].st_mtim.tv_sec != b[i].st_mtim.tv_sec || a[i].st_mtim.tv_nsec != b[i].st_mtim.tv_nsec)
			return 0;
	return 1;
}

void router_policy_reload(struct router *r)
{
	struct control_policy *n;
	struct stat now[3];
	char e[512];

	if (!r->policy || !control_policy_changed(r->policy))
		return;
	files_sig(r, now);
	if (r->policy_failed && same_sig(now, r->policy_bad))
		return;	/* the broken files it already said so about */
	if (!(n = control_policy_reload(r->policy, e, sizeof e))) {
		diag_warn("policy not reloaded, the last good one serves: %s", e);
		memcpy(r->policy_bad, now, sizeof now);
		r->policy_failed = 1;
		return;
	}
	r->policy_failed = 0;
	/* messages in flight keep the snapshot their result references */
	control_policy_unref(r->policy);
	r->policy = n;
	diag_info("policy reloaded: %s", control_policy_source(n));
}

/* defaults - the daemon's own settings for m */
static void defaults(struct rmsg *m)
{
	const struct router *r = m->r;
	const struct router_config *c = r->cfg;
	unsigned i;

	m->act.on_virus = c->on_virus;
	m->act.on_banned = c->on_banned;
	m->act.on_spam = c->on_spam;
	m->act.on_limit = c->on_limit;
	m->act.on_error = c->on_error;
	m->act.quarantine_then = c->quarantine_then;
	m->act.tag_clean = c->tag_clean;
	m->quarantine = c->quarantine;
	m->nscanners = c->nscanners;
	for (i = 0; i < c->nscanners; i++) {
		m->scanners[i] = c->scanners[i];
		m->states[i] = r->states[i];
	}
}

/* banned - scan_input's hook: the message's attach lists */
static int banned(void *arg, const char *name, size_t len)
{
	const struct rmsg *m = arg;

	if (!(m->pol->scanners & CONTROL_SCAN_ATTACH) && !(m->pol->flags & CONTROL_R_NOPOLICY))
		return 0;
	if (control_result_banned(m->pol, name, len))
		return 1;
	return (m->pol->flags & CONTROL_R_ATTACH_DAEMON) ? -1 : 0;
}

/* The regex pseudo-scanner. */
struct regex_input {
	const struct control_result *pol;
	off_t skip;		/* the Received line */
	const struct scan_input *in;
};

static int regex_stop(void *arg)
{
	const struct scan_input *in = arg;

	return (in->cancel && *in->cancel) || (in->deadline_ms && scan_now_ms() >= in->deadline_ms);
}

static int regex_init(void **state, const struct scan_config *cfg, char *err, size_t errlen)
{
	*state = NULL;
	return 0;
}

static void regex_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	const struct rmsg *m = in->policy;
	const struct control_regex *hit = NULL;
	int rc;

	rc = control_regex_scan(m->pol, in->fd, (off_t)m->rlen, in->size - (off_t)m->rlen, regex_stop,
				(void *)in, &hit);
	if (rc > 0) {
		/* the name is in the sender's reply: the pattern, not where the
		 * admin keeps it */
		scan_verdict_set(v, SCAN_BANNED, "regex", "regex %s", control_regex_pattern(hit));
		diag_info("policy: %s matches the regex= of %s",
			m->queue_id[0] ? m->queue_id : "a message", control_regex_source(hit));
	}
	else if (rc < 0)
		scan_verdict_set(v, SCAN_ERROR, "regex", "regex: %s", regex_stop((void *)in)
				 ? "deadline passed or cancelled" : strerror(errno));
	else
		scan_verdict_set(v, SCAN_CLEAN, "regex", NULL);
}

static void regex_fini(void *state)
{
}

static const struct scan_backend backend_regex = {
	.name = "regex", .init = regex_init, .scan = regex_scan, .fini = regex_fini,
};

int router_policy_apply(struct rmsg *m)
{
	struct router *r = m->r;
	const struct router_config *c = r->cfg;
	struct control_defaults d;
	struct control_msg cm;
	struct control_result *p;
	unsigned i, n = 0;

	defaults(m);
	if (!r->policy)
		return 0;
	if (!m->pol) {
		if (!(m->pol = malloc(sizeof *m->pol))) {
			msg_finish(m, SQ_TEMP_POLICY, "error", NULL, "no memory for the policy lookup");
			return -1;
		}
		control_result_init(m->pol);
	}
	p = m->pol;
	memset(&d, 0, sizeof d);
	for (i = 0; i < c->nscanners; i++)
		d.scanners |= kind_of(c->scanners[i]);
	d.action[CONTROL_V_VIRUS] = to_control(c->on_virus);
	d.action[CONTROL_V_BANNED] = to_control(c->on_banned);
	d.action[CONTROL_V_SPAM] = to_control(c->on_spam);
	d.action[CONTROL_V_LIMIT] = to_control(c->on_limit);
	d.action[CONTROL_V_ERROR] = to_control(c->on_error);
	d.spam_hits = c->scan.spam_hits;
	d.size_limit = c->scan.spam_maxsize;
	cm.sender = queue_env_sender(&m->env);
	cm.rcpts = m->rcpts;
	cm.relayclient = wire_env_get(m->payload, m->payload_len, "RELAYCLIENT") != NULL;
	cm.auth_user = wire_env_get(m->payload, m->payload_len, "SMTPAUTHUSER");
	if (control_policy_lookup(r->policy, &cm, &d, p) < 0) {
		msg_finish(m, SQ_TEMP_POLICY, "error", NULL, "no memory for the policy lookup");
		return -1;
	}
	if (p->flags & CONTROL_R_NOPOLICY)
		return 0;	/* no simcontrol: the settings, and ssattach's list (below) */
	m->act.on_virus = from_control(p->action[CONTROL_V_VIRUS]);
	m->act.on_banned = from_control(p->action[CONTROL_V_BANNED]);
	m->act.on_spam = from_control(p->action[CONTROL_V_SPAM]);
	m->act.on_limit = from_control(p->action[CONTROL_V_LIMIT]);
	m->act.on_error = p->action[CONTROL_V_ERROR] == CONTROL_ACT_PASS ? ACTION_ACCEPT : ACTION_DEFER;
	if (p->quarantine)
		m->quarantine = p->quarantine;
	for (i = 0; i < c->nscanners; i++) {
		unsigned k = kind_of(c->scanners[i]);

		/* a ClamAV backend runs for clam=; clamd also for clamd= */
		if (k && !(k & p->scanners))
			continue;
		m->scanners[n] = c->scanners[i];
		m->states[n++] = r->states[i];
	}
	if (p->nregex) {
		if (n == ROUTER_MAX_SCANNERS) {	/* never skip a ban the admin wrote */
			msg_finish(m, SQ_TEMP_POLICY, "error", NULL,
				   "regex= needs one scanner more than a message may run");
			return -1;
		}
		m->scanners[n] = &backend_regex;
		m->states[n++] = NULL;
	}
	m->nscanners = n;
	return 0;
}

/* router_policy_input - the policy's part of a scan job's input */
void router_policy_input(struct rmsg *m, struct scan_input *in)
{
	if (!m->pol)
		return;
	in->banned = banned;
	in->banned_arg = m;
	in->policy = m;
	if (m->pol->flags & CONTROL_R_NOPOLICY)
		return;	/* only ssattach's list: the spam settings are the daemon's */
	in->spam_hits = m->pol->spam_hits;
	in->spam_maxsize = m->pol->size_limit;
	in->spam_user = m->pol->spamuser;
	in->relayclient = 0;	/* the policy already chose the spam scanners for relay clients */
}

static struct rqueue *queue_named(struct router *r, int n)
{
	char name[32];
	unsigned i;

	snprintf(name, sizeof name, "queue%d", n);
	for (i = 0; i < r->nq; i++)
		if (!strcmp(r->queues[i].name, name))
			return &r->queues[i];
	return NULL;
}

/*
 * router_policy_pin - queue=N: the message is to be committed in queueN.
 *	Its mess file is in the queue chosen when it started (before the
 *	envelope named its recipients): m->pin asks the sync thread to move it
 *	(queue_msg_move, before intd/).  A pinned message is committed
 *	locally, never relayed to a remote queue, moved or not.  Not moved,
 *	and the log says why: a queue out of service now (down, failing, short
 *	of space, over its backlog, no qmail-send: delivered from where it is
 *	rather than deferred), a message over ROUTER_PIN_COPY_MAX that would
 *	be copied across filesystems (the copy would hold one of the two
 *	action threads, which tag and quarantine every queue's messages), and
 *	local queues that are only spools for a remote queue.  With a single
 *	QUEUEDIR queue= does not apply at all
 *	(router_policy_start said so once).  A scan the deadline decided does
 *	not stop the move: a late worker reads its own dup of the fd.
 */
void router_policy_pin(struct rmsg *m)
{
	struct router *r = m->r;
	struct rqueue *q;
	struct stat a, b;
	int n;

	if (!m->pol || (m->pol->flags & CONTROL_R_NOPOLICY) || m->pol->queue < 0 ||
	    m->action == ACTION_QUARANTINE || !r->cfg->set.base)
		return;
	n = m->pol->queue;
	if (r->cfg->local_spool) {
		snprintf(m->pin_note, sizeof m->pin_note,
			 "queue%d-ignored(SLUICE_LOCAL_QUEUES=spool)", n);
		return;
	}
	m->remote = 0;
	if (!(q = queue_named(r, n))) {	/* not after the policy's range check */
		snprintf(m->pin_note, sizeof m->pin_note, "queue%d-unknown", n);
		return;
	}
	if (q == m->rq) {
		snprintf(m->pin_note, sizeof m->pin_note, "%s", q->name);
		return;
	}
	if (!router_queue_usable(r, q)) {
		snprintf(m->pin_note, sizeof m->pin_note, "%s-unavailable(kept-in-%s)", q->name,
			 m->rq->name);
		return;
	}
	if (m->qm.size > ROUTER_PIN_COPY_MAX && fstat(m->qm.fd, &a) == 0 &&
	    fstat(q->q.pidfd, &b) == 0 && a.st_dev != b.st_dev) {
		snprintf(m->pin_note, sizeof m->pin_note, "%s-not-moved(copy-over-%d-MB,kept-in-%s)",
			 q->name, ROUTER_PIN_COPY_MAX >> 20, m->rq->name);
		return;
	}
	m->pin = q;
	snprintf(m->pin_note, sizeof m->pin_note, "%s(from-%s/%lu)", q->name, m->rq->name,
		 (unsigned long)m->qm.id);
}

/* router_policy_pinned - back from the sync thread: m counts in the queue
 * it is in now; a move that failed in the pinned queue (not for want of
 * descriptors or memory) takes that queue out for a moment, as any write
 * error does */
void router_policy_pinned(struct rmsg *m)
{
	const struct queue_err *e = &m->pin_err;
	char where[4096 + 2];

	if (!m->pin)
		return;
	if (m->pin_failed) {
		snprintf(m->pin_note, sizeof m->pin_note, "%s-not-moved(%s,kept-in-%s)",
			 m->pin->name, e->text, m->rq->name);
		for (char *p = m->pin_note; *p; p++)
			if (*p == ' ')
				*p = '_';
		snprintf(where, sizeof where, "%s/", m->pin->q.path);
		if (e->errnum != EMFILE && e->errnum != ENFILE && e->errnum != ENOMEM &&
		    strstr(e->text, where))
			router_queue_failed(m->r, m->pin);
	} else {
		m->rq->inflight--;
		m->rq = m->pin;
		m->rq->inflight++;
	}
	m->pin = NULL;
}

/* router_policy_applied - the entries that applied, for the log, or NULL */
const char *router_policy_applied(const struct rmsg *m)
{
	return m->pol && !(m->pol->flags & CONTROL_R_NOPOLICY) && m->pol->applied[0]
	       ? m->pol->applied : NULL;
}

void router_policy_fini(struct rmsg *m)
{
	if (m->pol) {
		control_result_fini(m->pol);
		free(m->pol);
		m->pol = NULL;
	}
}
