/*
 * router_run.c - start, serve, stop.
 *
 *	router_run(): open every queue and recover what a previous run left
 *	(queue_recover), bind the message and stats sockets (mode and group
 *	from the settings), drop to SLUICE_USER when started as root, start
 *	the scanners, the scan pool and the sync thread, run the loop until
 *	SIGTERM has drained the messages in flight, then stop the threads.
 *
 * DIAGNOSTICS
 *	Returns 111 (daemontools' "temporary failure") when it cannot start,
 *	with one line on stderr naming the file and the cause.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "router_int.h"
#include "queue/diag.h"

void router_loop_init(struct router *r);
void router_loop_fini(struct router *r);

/*
 * listen_on - bind a unix socket at path with its mode, owner and group,
 * never following a link: a user who can write to path's directory (the
 * queue owner can: the default socket lives in QUEUE_BASE) could otherwise
 * swap our socket for a symlink between bind() and a chmod()/chown() by
 * name and have root change the link's target.  The mode comes from the
 * umask at bind() (no chmod at all); owner and group are set with
 * AT_SYMLINK_NOFOLLOW, which changes a planted link itself, never its
 * target.  Returns the listening socket, -1 on error, -2 when a running
 * daemon answers on path.
 */
static int listen_on(const char *path, mode_t mode, uid_t uid, gid_t gid, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[4096];
	const char *base = strrchr(path, '/');
	int s, dfd = -1, e;
	mode_t old;

	if (strlen(path) >= sizeof sa.sun_path) {
		diag_fatal("socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/* a socket that answers (or whose backlog is full: EAGAIN) belongs to a running daemon: never steal it;
	 * one that refuses is a dead daemon's leftover */
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0 || errno == EAGAIN) {
		diag_fatal("%s: another sluiced is running", path);
		close(s);
		return -2;
	}
	close(s);
	snprintf(dir, sizeof dir, "%.*s", base ? (int)(base - path) : 1, base ? path : ".");
	if (!*dir)
		strcpy(dir, "/");
	base = base ? base + 1 : path;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		s = -1;
		goto fail;
	}
	unlinkat(dfd, base, 0);	/* a dead daemon's socket; never follows a link */
	old = umask((mode_t)(~mode & 0777));	/* the mode from birth */
	e = bind(s, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (e < 0 || listen(s, backlog) < 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	     fchownat(dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0))
		goto fail;
	close(dfd);
	return s;
fail:
	e = errno;
	diag_fatal("cannot listen on %s: %s", path, strerror(e));
	if (s >= 0)
		close(s);
	if (dfd >= 0)
		close(dfd);
	errno = e;
	return -1;
}

/*
 * fd_budget - raise the open files limit to what the limits need, and
 * derive the default in-flight limit from it.  A message in flight holds
 * up to FDS_PER_MSG descriptors (the connection, the two pipes, the mess
 * and intd files, the scanner's dup, an exec scanner's pipes); each queue
 * holds its directories; the rest is a margin for the scanners' own files,
 * the stats socket and libraries.  Running out is the daemon's own
 * pressure, never a queue's fault (router_loop.c).
 */
#define FDS_PER_MSG 8
static void fd_budget(struct router_config *c, unsigned nq)
{
	unsigned reserve = 32 + nq * (c->split + 6) + c->workers * 4 + c->fsync_threads;
	rlim_t want = reserve + (rlim_t)FDS_PER_MSG *
		(c->max_inflight_set ? c->max_inflight : ROUTER_INFLIGHT_DEFAULT);
	struct rlimit rl, was;
	unsigned fit;
	char raised[64] = "";

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	was = rl;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		struct rlimit up = { want, want };	/* root may raise the hard limit */

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	if (rl.rlim_cur < want || rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		if (rl.rlim_cur < was.rlim_cur)
			rl.rlim_cur = was.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl = was;
	}
	fit = rl.rlim_cur > reserve + FDS_PER_MSG ? (unsigned)((rl.rlim_cur - reserve) / FDS_PER_MSG) : 1;
	if (!c->max_inflight_set)
		c->max_inflight = c->max_inflight_auto = fit < ROUTER_INFLIGHT_DEFAULT ? fit
										 : ROUTER_INFLIGHT_DEFAULT;
	if (rl.rlim_cur != was.rlim_cur)
		snprintf(raised, sizeof raised, " (raised from %llu)", (unsigned long long)was.rlim_cur);
	diag_info("open files limit %llu%s; in-flight limit %u%s",
		(unsigned long long)rl.rlim_cur, raised, c->max_inflight,
		c->max_inflight_set ? " (SLUICE_MAX_INFLIGHT)"
		: fit < ROUTER_INFLIGHT_DEFAULT ? " (derived from it)" : "");
	if (c->max_inflight_set && c->max_inflight > fit)
		diag_warn("SLUICE_MAX_INFLIGHT=%u needs about %llu open files, "
			"the limit is %llu: messages beyond %u may be deferred (71)", c->max_inflight,
			(unsigned long long)want, (unsigned long long)rl.rlim_cur, fit);
}

static int drop_privileges(const struct router_config *c)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if (!c->user) {
		diag_fatal("started as root without SLUICE_USER "
			"(the queue owner, usually qmailq)");
		return -1;
	}
	if (!(pw = getpwnam(c->user))) {
		diag_fatal("SLUICE_USER=%s: no such user", c->user);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		diag_fatal("cannot become %s: %s", c->user, strerror(errno));
		return -1;
	}
	return 0;
}

/* make_quarantine - the Maildir, made by the user the daemon runs as */
static int make_quarantine(const struct router_config *c)
{
	static const char *const sub[] = { "", "/tmp", "/new", "/cur" };
	char path[4200];
	unsigned i;

	for (i = 0; c->quarantine && i < 4; i++) {
		snprintf(path, sizeof path, "%s%s", c->quarantine, sub[i]);
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			diag_fatal("cannot create quarantine %s: %s", path,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int open_queues(struct router *r)
{
	unsigned i;

	r->nq = r->cfg->set.n;
	r->queues = xcalloc(r->nq, sizeof *r->queues);	/* at start: no memory is fatal */
	for (i = 0; i < r->nq; i++) {
		struct rqueue *q = &r->queues[i];
		struct queue_err e;
		unsigned kept = 0, removed = 0;

		q->name = r->cfg->set.v[i].name;
		if (queue_open(&q->q, r->cfg->set.v[i].path, r->cfg->split, &e) != QUEUE_OK ||
		    queue_recover(&q->q, &kept, &removed, &e) != QUEUE_OK) {
			diag_fatal("%s (create it with sluice-mkqueue)", e.text);
			return -1;
		}
		if (kept || removed)
			diag_info("%s: recovery: %u committed markers cleared, "
				"%u unfinished messages removed", q->name, kept, removed);
	}
	router_health(r);
	return 0;
}

int router_run(struct router_config *c)
{
	struct router r;
	char err[600];
	unsigned i;
	int rc = 111;
	struct passwd *pw;
	uid_t owner = (uid_t)-1;

	memset(&r, 0, sizeof r);
	r.cfg = c;
	r.lsock = r.ssock = -1;
	signal(SIGPIPE, SIG_IGN);
	/* inherited SIG_IGN would make the kernel reap the exec scanner's
	 * children before its waitpid() sees their status */
	signal(SIGCHLD, SIG_DFL);
	queue_uids_load(&r.uids, c->passwd);
	fd_budget(c, c->set.n);
	if (geteuid() == 0 && c->user && (pw = getpwnam(c->user)))
		owner = pw->pw_uid;	/* the daemon's user owns its sockets */
	if ((r.lsock = listen_on(c->socket_path, c->socket_mode, owner, c->socket_gid, 1024)) < 0) {
		r.lsock = -1;
		return 111;	/* nothing of ours to clean up */
	}
	if ((r.ssock = listen_on(c->stats_path, c->stats_mode, owner, c->socket_gid, 16)) < 0) {
		r.ssock = -1;
		goto out;
	}
	if (drop_privileges(c) < 0 || make_quarantine(c) < 0 || open_queues(&r) < 0)
		goto out;
	/* Not ev_default_loop(): the default loop installs a SIGCHLD handler
	 * that reaps every child, and the exec scanner's workers must get
	 * their own child's status from waitpid() (else ECHILD: an infected
	 * verdict lost).  Signals work on any one loop. */
	if (!(r.loop = ev_loop_new(EVFLAG_AUTO))) {
		diag_fatal("cannot start libev");
		goto out;
	}
	if (router_scan_start(&r, err, sizeof err) < 0) {
		diag_fatal("%s", err);
		goto out;
	}
	if (router_policy_start(&r, err, sizeof err) < 0) {
		diag_fatal("%s", err);
		router_scan_stop(&r);
		goto out;
	}
	if (router_remote_start(&r, err, sizeof err) < 0) {
		diag_fatal("%s", err);
		router_policy_stop(&r);
		router_scan_stop(&r);
		goto out;
	}
	/* the watchers first: the sync and health threads wake the loop
	 * through its ev_async watchers */
	router_loop_init(&r);
	if (queue_fsync_threads(c->fsync_threads) < 0)
		diag_warn("fewer than %u fsync threads started", c->fsync_threads);
	if (router_sync_start(&r) != 0) {
		diag_fatal("cannot start the sync thread");
		router_scan_stop(&r);
		goto out;
	}
	if (router_health_start(&r) != 0) {
		diag_fatal("cannot start the health thread");
		router_sync_stop(&r);
		router_scan_stop(&r);
		goto out;
	}
	diag_info("listening on %s; %u queues; %u scanners; %u workers; sync %s",
		c->socket_path, r.nq, c->nscanners, c->nscanners ? c->workers : 0,
		c->sync == QUEUE_SYNC_FULL ? "full" : c->sync == QUEUE_SYNC_DATA ? "data"
		: c->sync == QUEUE_SYNC_FS ? "fs" : "none");
	for (i = 0; i < r.nremote; i++)
		diag_info("remote queue %s", r.remotes[i].addr.name);
	if (r.nremote)
		diag_info("remote queues take %s; the local queues are %s",
			c->local_spool ? "every message" : "SLUICE_QMQP_WEIGHT of the messages",
			c->local_spool ? "spools only (SLUICE_LOCAL_QUEUES=spool)"
				       : "queues and the failover");
	ev_run(r.loop, 0);
	router_health_stop(&r);
	router_sync_stop(&r);
	router_scan_stop(&r);
	router_policy_stop(&r);
	router_loop_fini(&r);
	ev_loop_destroy(r.loop);
	diag_info("stopped: accepted %lu rejected %lu deferred %lu failed %lu",
		r.st.accepted, r.st.rejected, r.st.deferred, r.st.failed);
	rc = 0;
out:
	if (r.lsock >= 0)
		close(r.lsock);
	unlink(c->socket_path);
	if (r.ssock >= 0) {
		close(r.ssock);
		unlink(c->stats_path);
	}
	router_remote_stop(&r);
	for (i = 0; r.queues && i < r.nq; i++)
		queue_close(&r.queues[i].q);
	free(r.queues);
	/* the snapshots SIGHUP swapped in (c, the first, is the caller's) */
	for (i = 0; i < r.nretired; i++)
		if (r.retired[i] != c)
			router_config_unref(r.retired[i]);
	if (r.cfg != c)
		router_config_unref(r.cfg);
	free(r.retired);
	return rc;
}
