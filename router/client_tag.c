/*
 * client_tag.c - a tagged message's rewrite: sluice's header lines in,
 * the sender's lines of the same names out.
 *
 *	client_tag() inserts the tag lines (client_tag_headers: X-QHPSI,
 *	X-Sluice-Verdict, X-Virus-Scanned, then the deciding scanner's own)
 *	right after qmail's Received line and, in the same rewrite of the
 *	uncommitted mess file (queue_insert_strip), removes from the message's
 *	own header block every field a downstream filter could take for ours:
 *	client_tag_forged() names them.  sluiced (router_tag) and direct mode
 *	share it; a tagged message relayed over QMQP (router_remote.c) is sent
 *	without the same fields (queue_insert_fields, client_tag_forged).
 *
 *	The names, case-insensitive:
 *	  X-Spam, X-Spam-*      SpamAssassin's (X-Spam-Flag, -Status, -Level,
 *	                        -Report, -Checker-Version, ...); rspamd's X-Spam
 *	  X-Spamd-*             rspamd's X-Spamd-Result, X-Spamd-Bar
 *	  X-Rspamd-*            rspamd's X-Rspamd-Server, -Queue-Id, -Action ...
 *	  X-Sluice-*            sluice's own (X-Sluice-Verdict, -Quarantine)
 *	  X-QHPSI, X-Virus-Scanned   the other two lines sluice adds
 *	  any other X- name a line of the inserted set has (rspamd's
 *	  milter_headers can be set to add e.g. X-Virus)
 *	A name outside "X-" from the scanner's lines (Authentication-Results,
 *	say) is not removed: such a field can carry other hosts' results.
 *
 * DIAGNOSTICS
 *	queue_insert_strip()'s status and text.
 */
#include <string.h>
#include <strings.h>

#include "client.h"

/* has - name (len bytes) is one of the fields of the header lines in set */
static int has(const char *set, const char *name, size_t len)
{
	const char *p = set;

	while (p && *p) {
		const char *colon = strchr(p, ':'), *eol = strchr(p, '\n');

		if (*p != ' ' && *p != '\t' && colon && (!eol || colon < eol) &&
		    (size_t)(colon - p) == len && !strncasecmp(p, name, len))
			return 1;
		p = eol ? eol + 1 : NULL;
	}
	return 0;
}

int client_tag_forged(void *inserted, const char *name, size_t len)
{
	static const char *const exact[] = { "X-Spam", "X-QHPSI", "X-Virus-Scanned" };
	static const char *const family[] = { "X-Spam-", "X-Spamd-", "X-Rspamd-", "X-Sluice-" };
	size_t i;

	for (i = 0; i < sizeof exact / sizeof exact[0]; i++)
		if (len == strlen(exact[i]) && !strncasecmp(name, exact[i], len))
			return 1;
	for (i = 0; i < sizeof family / sizeof family[0]; i++)
		if (len >= strlen(family[i]) && !strncasecmp(name, family[i], strlen(family[i])))
			return 1;
	return len > 2 && !strncasecmp(name, "X-", 2) && has(inserted, name, len);
}

enum queue_status client_tag(struct queue_msg *m, off_t at, const char *hdr, size_t hlen,
			     unsigned *removed, struct queue_err *e)
{
	return queue_insert_strip(m, at, hdr, hlen, client_tag_forged, (void *)hdr, removed, e);
}
