/*
 * client_direct.c - direct mode: sluice-queue does qmail-queue's whole job.
 *
 *	client_direct_env() reads the settings through control/'s settings
 *	table, with the parser sluiced uses for the same variables: the queue
 *	(QUEUEDIR, else one of QUEUE_BASE/queue<N> chosen by pid), CONFSPLIT,
 *	SLUICE_SYNC, MIN_FREE, the QHPSI scanner (QHPSI, QHPSIARG1..3,
 *	QHPSIMINSIZE, QHPSIMAXSIZE, QHPSIRC, QHPSIRN), REJECTVIRUS,
 *	SLUICE_CUSTOM_ERROR and ERROR_FD.
 *	client_direct_run() reads fd 0 into the mess file behind the Received
 *	line, reads the envelope from fd 1, runs the QHPSI scanner on the mess
 *	file when configured, and commits: the same bytes on disk as stock
 *	qmail-queue.  It is the drop-in for small sites, the fallback when the
 *	daemon is unreachable, and the benchmarks' baseline.
 *
 * DIAGNOSTICS
 *	The return value is qmail-queue's exit code; one line on stderr says
 *	why when it is not 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "control/control.h"
#include "queue/diag.h"
#include "queue/queue_set.h"

#define QHPSI_TIMEOUT 300	/* seconds a QHPSI scanner may take (struct client_direct) */
#define QHPSI_WORDS 29		/* words of the QHPSI command line */

int client_direct_env(struct client_direct *d, char *err, size_t errlen)
{
	/* d's strings point into it: one message per process, and a second
	 * call (the tests) frees the first's */
	static struct control_settings s;
	static char path[4096];
	const struct control_value *v = s.v;
	struct queue_set set;

	memset(d, 0, sizeof *d);
	control_settings_free(&s);
	/* the settings table's parser, as sluiced reads the same variables */
	if (control_settings_read(&s, CONTROL_P_DIRECT, NULL, err, errlen) < 0)
		return -1;
	d->split = (unsigned)v[CONTROL_S_CONFSPLIT].u;
	if (queue_sync_parse(control_settings_word(&s, CONTROL_S_SLUICE_SYNC), &d->sync) < 0 ||
	    client_custom_parse(control_settings_word(&s, CONTROL_S_SLUICE_CUSTOM_ERROR),
				&d->custom) < 0) {
		snprintf(err, errlen, "the settings table and direct mode disagree");	/* a bug */
		return -1;
	}
	if (control_settings_queue_set(&s, &set, err, errlen) < 0)
		return -1;
	snprintf(path, sizeof path, "%s", set.v[(unsigned long)getpid() % set.n].path);
	queue_set_free(&set);
	d->queuedir = path;
	d->qhpsi = v[CONTROL_S_QHPSI].text;
	d->qhpsi_arg[0] = v[CONTROL_S_QHPSIARG1].text;
	d->qhpsi_arg[1] = v[CONTROL_S_QHPSIARG2].text;
	d->qhpsi_arg[2] = v[CONTROL_S_QHPSIARG3].text;
	d->qhpsi_min = (unsigned long)v[CONTROL_S_QHPSIMINSIZE].u;
	d->qhpsi_max = (unsigned long)v[CONTROL_S_QHPSIMAXSIZE].u;
	d->qhpsi_rc = (int)v[CONTROL_S_QHPSIRC].u;
	d->qhpsi_rn = (int)v[CONTROL_S_QHPSIRN].u;
	/* as the daemon's exec scanner refuses it: one exit code cannot mean
	 * both infected and clean */
	if (d->qhpsi && d->qhpsi_rc == d->qhpsi_rn) {
		snprintf(err, errlen, "QHPSIRC and QHPSIRN are both %d", d->qhpsi_rc);
		return -1;
	}
	d->min_free = v[CONTROL_S_MIN_FREE].u;
	/* REJECTVIRUS unset: reject, which is also sluiced's SLUICE_ON_VIRUS default */
	d->reject_virus = v[CONTROL_S_REJECTVIRUS].text ? (int)v[CONTROL_S_REJECTVIRUS].u : 1;
	d->error_fd = (int)v[CONTROL_S_ERROR_FD].u;
	return 0;
}

/* Under IndiMail's convention with ERROR_FD=2 qmail-smtpd reads fd 2 to EOF
 * as the reject text: a log line there would become part of the answer. */
static int stderr_is_text;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (stderr_is_text)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	diag_info("%s", buf);
}

static int fail(struct queue_msg *m, struct queue_err *e)
{
	say("%s", e->text);
	if (m)
		queue_msg_abort(m);
	return client_exit_code(e->status);
}

/* Whether the convention's fd was open when we started: later our own queue
 * directory fds may take that number, and must never receive the text. */
static int custom_fd_open = -1;

static int reject(const struct client_direct *d, enum sq_status st, const char *name, double score)
{
	struct wire_reply r;

	client_answer(&r, st, name, score, d->custom, d->error_fd);
	if (!custom_fd_open)
		r.fd = -1;
	return client_deliver_reply(&r);
}

/* actions - direct mode's: REJECTVIRUS for a virus (IndiMail: 0 tag, 1
 * reject, 2 drop), a scanner failure deferred, as QHPSI does */
static void actions(const struct client_direct *d, struct sq_actions *a)
{
	memset(a, 0, sizeof *a);
	a->on_virus = d->reject_virus == 0 ? ACTION_TAG : d->reject_virus == 2 ? ACTION_DROP
										 : ACTION_REJECT;
	a->on_banned = a->on_spam = a->on_limit = ACTION_REJECT;
	a->on_error = ACTION_DEFER;
	a->quarantine_then = ACTION_REJECT;
}

/*
 * scan - the QHPSI scanner on the mess file: the daemon's exec backend
 *	(scan/scan_exec.c), the same decision (client_decide) and the same
 *	answers (client_answer).  -1 when the message goes on to its commit
 *	(clean, or tagged here); else the exit code, the message to be removed.
 */
static int scan(const struct client_direct *d, struct queue_msg *m, size_t rlen,
		const struct queue_env *env, const char *messpath, struct sq_decision *dec)
{
	struct scan_config sc;
	struct scan_verdict v;
	struct sq_actions a;
	struct queue_err e;
	const char *rcpts[2] = { NULL, NULL };
	char err[512], hdr[1024];
	void *st = NULL;
	size_t hlen;
	unsigned forged;
	struct scan_input in = {
		.fd = m->fd, .size = m->size, .path = messpath, .sender = queue_env_sender(env),
		.rcpts = rcpts,
		.deadline_ms = scan_now_ms() + (int64_t)(d->qhpsi_timeout ? d->qhpsi_timeout : QHPSI_TIMEOUT) * 1000,
	};

	rcpts[0] = queue_env_rcpt(env, NULL);
	memset(&sc, 0, sizeof sc);
	sc.qhpsi = d->qhpsi;
	memcpy(sc.qhpsi_arg, d->qhpsi_arg, sizeof sc.qhpsi_arg);
	sc.qhpsi_min = d->qhpsi_min;
	sc.qhpsi_max = d->qhpsi_max;
	sc.qhpsi_rc = d->qhpsi_rc;
	sc.qhpsi_rn = d->qhpsi_rn;
	if (scan_backend_exec.init(&st, &sc, err, sizeof err) < 0) {
		say("QHPSI: %s", err);
		return client_status_exit(SQ_TEMP_CONFIG);
	}
	memset(&v, 0, sizeof v);
	scan_backend_exec.scan(st, &in, &v);
	scan_backend_exec.fini(st);
	actions(d, &a);
	client_decide(&a, &v, 0, dec);
	if (v.kind == SCAN_ERROR)
		say("QHPSI: %s", v.name);
	switch (dec->action) {
	case ACTION_ACCEPT:
		return -1;
	case ACTION_TAG:
		hlen = client_tag_headers(hdr, sizeof hdr, &v, "sluice " SLUICE_VERSION " (exec)", NULL);
		/* the sender's own X-QHPSI, X-Spam-* ... go: client_tag.c */
		if (hlen && client_tag(m, (off_t)rlen, hdr, hlen, &forged, &e) != QUEUE_OK) {
			say("%s", e.text);
			return client_status_exit(client_queue_status(e.status));
		}
		return -1;
	default:
		return reject(d, dec->status, v.name, v.score);
	}
}

int client_direct_run(const struct client_direct *d)
{
	static char buf[65536];
	static struct queue q;	/* static: reachable until exit (one message per process) */
	struct queue_msg m, *mp = &m;
	static struct queue_env env;	/* static, like q */
	struct queue_uids uids;
	struct queue_err e;
	char recv[QUEUE_RECEIVED_MAX], messpath[4200];
	size_t rlen, used;
	enum queue_status st;
	ssize_t r;

	{
		struct wire_reply probe;

		client_reply_make(&probe, QQ_PERM, d->custom, d->error_fd, "x");
		custom_fd_open = probe.fd >= 0 && fcntl(probe.fd, F_GETFD) >= 0;
		stderr_is_text = probe.fd == 2;
	}
	if (queue_open(&q, d->queuedir, d->split, &e) != QUEUE_OK)
		return fail(NULL, &e);
	if (d->min_free) {
		struct statvfs sv;

		if (fstatvfs(q.dirfd, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < d->min_free) {
			queue_errset(&e, QUEUE_ESPACE, 0, "%s: less than MIN_FREE=%llu bytes free",
				     d->queuedir, (unsigned long long)d->min_free);
			return fail(NULL, &e);
		}
	}
	queue_uids_load(&uids, d->passwd);
	rlen = queue_received(recv, sizeof recv, (unsigned long)getpid(), getuid(), &uids,
			      time(NULL));
	if (queue_msg_begin(&q, &m, &e) != QUEUE_OK)
		return fail(NULL, &e);
	if (queue_msg_write(&m, recv, rlen, &e) != QUEUE_OK)
		return fail(&m, &e);
	for (;;) {
		r = read(0, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			queue_errset(&e, QUEUE_EREAD, errno, "cannot read the message");
			return fail(&m, &e);
		}
		if (r == 0)
			break;
		if (queue_msg_write(&m, buf, (size_t)r, &e) != QUEUE_OK)
			return fail(&m, &e);
	}
	queue_env_init(&env, getuid(), (unsigned long)getpid());
	for (st = QUEUE_AGAIN; st == QUEUE_AGAIN;) {
		r = read(1, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			queue_errset(&e, QUEUE_EREAD, errno, "cannot read the envelope");
			return fail(&m, &e);
		}
		st = r ? queue_env_feed(&env, buf, (size_t)r, &used) : queue_env_eof(&env);
	}
	if (st != QUEUE_OK) {
		queue_errset(&e, st, 0, "%s", st == QUEUE_EREAD ? "envelope cut short: message aborted"
					  : st == QUEUE_EADDR ? "envelope address too long"
					  : st == QUEUE_EFORMAT ? "envelope record of the wrong type"
					  : "envelope too large");
		return fail(&m, &e);
	}
	snprintf(messpath, sizeof messpath, "%s/mess/%lu/%lu", q.path,
		 (unsigned long)m.id % q.split, (unsigned long)m.id);
	if (d->qhpsi && !env.noscan) {
		struct sq_decision dec;
		int rc = scan(d, &m, rlen, &env, messpath, &dec);

		if (rc >= 0) {
			queue_msg_abort(&m);
			return rc;
		}
	}
	if (queue_msg_intd(&m, env.buf, env.len, &e) != QUEUE_OK)
		return fail(&m, &e);
	queue_env_free(&env);
	if (queue_commit(&mp, 1, d->sync, 0) != 1)
		return fail(NULL, &m.err);
	return QQ_OK;
}
