/*
 * client_decide.c - the one decision and the one table of answers.
 *
 * SUMMARY
 *	client_decide() turns a scan verdict and a message's actions (the
 *	daemon's settings, or the per-domain policy's) into what happens to
 *	the message (enum router_action) and an internal status (enum
 *	sq_status).  Every way a message can end - committed, dropped,
 *	refused for a verdict, a scanner failure, a queue that failed, a
 *	client that went away - is a status, and client_answer() is the only
 *	place a status becomes qmail-queue's exit code and, under a
 *	custom-error convention, its text.  sluiced and direct mode both go
 *	through here, so the same message and settings get the same exit code
 *	and text from either.
 *
 *	client_queue_status() names the status of a failed queue operation
 *	(queue/'s enum queue_status: each step has qmail-queue's code).
 *
 *	The texts are simscan's (REFERENCE.md §5) with an enhanced status
 *	code, since qmail-smtpd adds none: 5.7.1 for a refusal, 4.7.1 when
 *	the same verdict is deferred, 4.3.0 for our own trouble.  A name that
 *	would push the code past the 254 bytes qmail-smtpd uses is shortened
 *	in the middle ("head...tail"), never the code at the end.
 *
 * DIAGNOSTICS
 *	None: every input has an answer.  A status out of range answers as
 *	SQ_BUG (81, "qq internal bug").
 */
#include <stdio.h>
#include <string.h>

#include "client.h"

/* The table: exit code, the custom text (NULL: the plain code only; "%s"
 * the virus, file or reason, or the remote server's text; "%.2f" the spam
 * score) and the word for the log and stats. */
static const struct {
	uint8_t plain;
	const char *text, *noname, *word;
} tab[SQ_NSTATUS] = {
	[SQ_OK] = { QQ_OK, NULL, NULL, "ok" },
	[SQ_DROPPED] = { QQ_OK, NULL, NULL, "dropped" },
	[SQ_PERM_VIRUS] = { QQ_PERM, "Your email was rejected because it contains the %s virus (#5.7.1)",
			    "Your email was rejected because it contains a virus (#5.7.1)", "virus" },
	[SQ_PERM_BANNED] = { QQ_PERM, "Your email was rejected because it contains a bad attachment: %s (#5.7.1)",
			     "Your email was rejected because it contains a bad attachment (#5.7.1)", "banned" },
	[SQ_PERM_SPAM] = { QQ_PERM, "Your email is considered spam (%.2f spam-hits) (#5.7.1)", NULL, "spam" },
	[SQ_PERM_LIMIT] = { QQ_PERM, "Your email was rejected because it could not be scanned: %s (#5.7.1)",
			    "Your email was rejected because it could not be scanned (#5.7.1)", "limit" },
	[SQ_TEMP_VIRUS] = { QQ_TEMP, "Your email was rejected because it contains the %s virus (#4.7.1)",
			    "Your email was rejected because it contains a virus (#4.7.1)", "virus" },
	[SQ_TEMP_BANNED] = { QQ_TEMP, "Your email was rejected because it contains a bad attachment: %s (#4.7.1)",
			     "Your email was rejected because it contains a bad attachment (#4.7.1)", "banned" },
	[SQ_TEMP_SPAM] = { QQ_TEMP, "Your email is considered spam (%.2f spam-hits) (#4.7.1)", NULL, "spam" },
	[SQ_TEMP_LIMIT] = { QQ_TEMP, "Your email was rejected because it could not be scanned: %s (#4.7.1)",
			    "Your email was rejected because it could not be scanned (#4.7.1)", "limit" },
	[SQ_TEMP_SPAM_FILTER] = { QQ_TEMP, "Message temporarily refused by the spam filter, try again later (#4.7.1)",
				  NULL, "spam" },
	[SQ_TEMP_SCANNER] = { QQ_TEMP, "Message could not be scanned, try again later (#4.3.0)", NULL, "error" },
	[SQ_TEMP_SCAN_TIMEOUT] = { QQ_TEMP, "Message could not be scanned in time, try again later (#4.3.0)",
				   NULL, "scan-timeout" },
	[SQ_TEMP_QUARANTINE] = { QQ_TEMP, "Message could not be quarantined, try again later (#4.3.0)",
				 NULL, "quarantine-failed" },
	[SQ_TEMP_POLICY] = { QQ_TEMP, "Message could not be checked against the local policy, try again later (#4.3.0)",
			     NULL, "error" },
	[SQ_TEMP_BUSY] = { QQ_TEMP, NULL, NULL, "busy" },
	[SQ_PERM_REMOTE] = { QQ_PERM, "%s", NULL, "remote" },
	[SQ_TEMP_REMOTE] = { QQ_TEMP, "%s", NULL, "remote" },
	[SQ_TEMP_CONN_TIMEOUT] = { 72, NULL, NULL, "remote" },
	[SQ_TEMP_CONN_REFUSED] = { 73, NULL, NULL, "remote" },
	[SQ_TEMP_CONN_BROKEN] = { 74, NULL, NULL, "remote" },
	[SQ_TEMP_NOMEM] = { QQ_NOMEM, NULL, NULL, "error" },
	[SQ_TEMP_TIMEOUT] = { QQ_TIMEOUT, NULL, NULL, "timeout" },
	[SQ_TEMP_DISK] = { QQ_WRITE, NULL, NULL, "error" },
	[SQ_TEMP_READ] = { QQ_READ, NULL, NULL, "error" },
	[SQ_TEMP_CONFIG] = { QQ_CONFIG, NULL, NULL, "error" },
	[SQ_TEMP_HOME] = { QQ_HOME, NULL, NULL, "error" },
	[SQ_TEMP_PID] = { QQ_PID, NULL, NULL, "error" },
	[SQ_TEMP_MESS] = { QQ_MESS, NULL, NULL, "error" },
	[SQ_TEMP_INTD] = { QQ_INTD, NULL, NULL, "error" },
	[SQ_TEMP_TODO] = { QQ_TODO, NULL, NULL, "error" },
	[SQ_PERM_ADDR] = { QQ_ADDR, NULL, NULL, "error" },
	[SQ_BUG_FORMAT] = { QQ_FORMAT, NULL, NULL, "error" },
	[SQ_BUG] = { QQ_BUG, NULL, NULL, "error" },
};

static enum sq_status valid(enum sq_status st)
{
	return (unsigned)st < SQ_NSTATUS && tab[st].word ? st : SQ_BUG;
}

int client_status_exit(enum sq_status st)
{
	return tab[valid(st)].plain;
}

const char *client_status_word(enum sq_status st)
{
	return tab[valid(st)].word;
}

int client_status_permanent(enum sq_status st)
{
	int code = client_status_exit(st);

	return code >= 11 && code <= 40;
}

enum sq_status client_queue_status(enum queue_status st)
{
	switch (st) {
	case QUEUE_OK:
		return SQ_OK;
	case QUEUE_ENOMEM:
		return SQ_TEMP_NOMEM;
	case QUEUE_EHOME:
	case QUEUE_ELAYOUT:
		return SQ_TEMP_HOME;
	case QUEUE_EPID:
		return SQ_TEMP_PID;
	case QUEUE_EMESS:
		return SQ_TEMP_MESS;
	case QUEUE_EINTD:
		return SQ_TEMP_INTD;
	case QUEUE_ETODO:
		return SQ_TEMP_TODO;
	case QUEUE_EWRITE:
	case QUEUE_ESPACE:
		return SQ_TEMP_DISK;
	case QUEUE_EREAD:
		return SQ_TEMP_READ;
	case QUEUE_EADDR:
		return SQ_PERM_ADDR;
	case QUEUE_EFORMAT:
		return SQ_BUG_FORMAT;
	case QUEUE_ECONFIG:
		return SQ_TEMP_CONFIG;
	case QUEUE_AGAIN:
	case QUEUE_EBUSY:
	case QUEUE_NSTATUS:
		break;
	}
	return SQ_BUG;
}

int client_exit_code(enum queue_status st)
{
	return client_status_exit(client_queue_status(st));
}

/* shorten - name cut to at most max bytes, its middle replaced by "..." */
static const char *shorten(const char *name, size_t max, char *buf, size_t cap)
{
	size_t len = strlen(name), head;

	if (len <= max || max < 8)
		return len <= max ? name : "";
	head = (max - 3) / 2;
	snprintf(buf, cap, "%.*s...%s", (int)head, name, name + len - (max - 3 - head));
	return buf;
}

size_t client_status_text(enum sq_status st, const char *name, double score, char *out, size_t cap)
{
	const char *fmt = tab[valid(st)].text;
	char cut[300];
	size_t room;
	int n;

	if (!cap)
		return 0;
	out[0] = 0;
	if (!fmt)
		return 0;
	if (strstr(fmt, "%.2f"))
		n = snprintf(out, cap, fmt, score);
	else if (strstr(fmt, "%s")) {
		if ((!name || !*name) && tab[valid(st)].noname)
			n = snprintf(out, cap, "%s", tab[valid(st)].noname);
		else {
			/* qmail-smtpd uses 254 bytes of the text: keep the code */
			room = CLIENT_TEXT_MAX - (strlen(fmt) - 2);
			n = snprintf(out, cap, fmt, shorten(name ? name : "", room, cut, sizeof cut));
		}
	} else
		n = snprintf(out, cap, "%s", fmt);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void client_answer(struct wire_reply *r, enum sq_status st, const char *name, double score,
		   enum client_custom custom, int error_fd)
{
	char text[CLIENT_TEXT_MAX + 64];

	client_status_text(st, name, score, text, sizeof text);
	client_reply_make(r, client_status_exit(st), custom, error_fd, text);
}

/* refused - the status of a verdict refused by action act (reject or defer) */
static enum sq_status refused(enum scan_kind kind, int permanent)
{
	switch (kind) {
	case SCAN_INFECTED:
		return permanent ? SQ_PERM_VIRUS : SQ_TEMP_VIRUS;
	case SCAN_BANNED:
		return permanent ? SQ_PERM_BANNED : SQ_TEMP_BANNED;
	case SCAN_SPAM:
		return permanent ? SQ_PERM_SPAM : SQ_TEMP_SPAM;
	case SCAN_LIMIT:
		return permanent ? SQ_PERM_LIMIT : SQ_TEMP_LIMIT;
	case SCAN_ERROR:
	case SCAN_CLEAN:
		break;
	}
	return SQ_TEMP_SCANNER;
}

/*
 * client_decide - one message's fate:
 *	clean                 accept (tag with SLUICE_TAG_CLEAN)
 *	error or timeout      on_error: accept (tagged as clean mail is) or
 *	                      defer (SQ_TEMP_SCANNER / SQ_TEMP_SCAN_TIMEOUT)
 *	virus/banned/spam/limit  the kind's action: accept (tagged as clean
 *	                      mail is), tag, reject (SQ_PERM_*), defer
 *	                      (SQ_TEMP_*), drop (SQ_DROPPED), quarantine (then
 *	                      SQ_DROPPED or SQ_PERM_* after it, by
 *	                      quarantine_then)
 *	spam with SCAN_F_TAG  tag, whatever on_spam says (rspamd's add header)
 *	spam with SCAN_F_DEFER  defer, SQ_TEMP_SPAM_FILTER (rspamd's soft reject)
 */
void client_decide(const struct sq_actions *a, const struct scan_verdict *v, int timed_out,
		   struct sq_decision *d)
{
	enum router_action act = ACTION_ACCEPT;

	d->status = SQ_OK;
	switch (v->kind) {
	case SCAN_CLEAN:
		break;
	case SCAN_ERROR:
		act = a->on_error == ACTION_ACCEPT ? ACTION_ACCEPT : ACTION_DEFER;
		if (act == ACTION_DEFER)
			d->status = timed_out ? SQ_TEMP_SCAN_TIMEOUT : SQ_TEMP_SCANNER;
		break;
	case SCAN_INFECTED:
	case SCAN_BANNED:
	case SCAN_SPAM:
	case SCAN_LIMIT:
		act = v->kind == SCAN_INFECTED ? a->on_virus : v->kind == SCAN_BANNED ? a->on_banned
		    : v->kind == SCAN_SPAM ? a->on_spam : a->on_limit;
		if (v->kind == SCAN_SPAM && (v->flags & SCAN_F_TAG))
			act = ACTION_TAG;
		if (v->kind == SCAN_SPAM && (v->flags & SCAN_F_DEFER)) {
			act = ACTION_DEFER;
			d->status = SQ_TEMP_SPAM_FILTER;
			break;
		}
		if (act == ACTION_REJECT || act == ACTION_DEFER)
			d->status = refused(v->kind, act == ACTION_REJECT);
		else if (act == ACTION_DROP)
			d->status = SQ_DROPPED;
		else if (act == ACTION_QUARANTINE)
			d->status = a->quarantine_then == ACTION_DROP ? SQ_DROPPED : refused(v->kind, 1);
		break;
	}
	if (act == ACTION_ACCEPT && a->tag_clean)
		act = ACTION_TAG;
	d->action = act;
}

/* header - a header-safe copy: printable ASCII, no CR/LF */
static void header(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; s && *s && n + 1 < cap; s++)
		out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[n] = 0;
}

size_t client_tag_headers(char *buf, size_t cap, const struct scan_verdict *v,
			  const char *scanned_by, const char *extra)
{
	char name[260];
	int n;

	header(name, sizeof name, v->name);
	n = snprintf(buf, cap, "X-QHPSI: %s\nX-Sluice-Verdict: %s%s%s\nX-Virus-Scanned: %s\n%s",
		     v->kind == SCAN_INFECTED ? "Virus found" : "clean", scan_kind_name(v->kind),
		     *name ? " " : "", name, scanned_by, extra ? extra : "");
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

const char *client_action_word(enum router_action act)
{
	static const char *const w[] = {
		[ACTION_ACCEPT] = "accept", [ACTION_REJECT] = "reject", [ACTION_DEFER] = "defer",
		[ACTION_DROP] = "drop", [ACTION_TAG] = "tag", [ACTION_QUARANTINE] = "quarantine",
	};

	return (unsigned)act < sizeof w / sizeof w[0] ? w[act] : "?";
}
