/*
 * router_policy.c - the POLICY stage: which scanners run on a message and
 * what each verdict does to it.
 *
 * SUMMARY
 *	router_policy_apply() fills a message's scanners and actions (struct
 *	rmsg's act, scanners[], quarantine) from the daemon's settings.
 *
 * DIAGNOSTICS
 *	router_policy_apply() returns -1 when it answered the message itself.
 */
#include <string.h>

#include "router_int.h"

int router_policy_start(struct router *r, char *err, size_t errlen)
{
	(void)r;
	(void)err;
	(void)errlen;
	return 0;
}

void router_policy_stop(struct router *r)
{
	(void)r;
}

void router_policy_reload(struct router *r)
{
	(void)r;
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

int router_policy_apply(struct rmsg *m)
{
	defaults(m);
	return 0;
}

void router_policy_fini(struct rmsg *m)
{
	(void)m;
}
