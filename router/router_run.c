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
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "router_int.h"

void router_loop_init(struct router *r);

static int listen_on(const char *path, const struct router_config *c, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uid_t owner = (uid_t)-1;
	int s;

	/* Started as root, the sockets belong to SLUICE_USER, the user the
	 * daemon becomes: with mode 0660 that user (qmailq, who may run
	 * sluice-qstat) and the socket's group (qmail-smtpd's) can connect. */
	if (geteuid() == 0 && c->user) {
		struct passwd *pw = getpwnam(c->user);

		if (pw)
			owner = pw->pw_uid;
	}
	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "sluiced: fatal: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/* a socket that answers (or whose backlog is full: EAGAIN) belongs to a running daemon: never steal it;
	 * one that refuses is a dead daemon's leftover */
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0 || errno == EAGAIN) {
		fprintf(stderr, "sluiced: fatal: %s: another sluiced is running\n", path);
		close(s);
		return -2;
	}
	close(s);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	unlink(path);
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, backlog) < 0 ||
	    chmod(path, c->socket_mode) < 0 ||
	    ((owner != (uid_t)-1 || c->socket_gid != (gid_t)-1) &&
	     chown(path, owner, c->socket_gid) < 0)) {
		fprintf(stderr, "sluiced: fatal: cannot listen on %s: %s\n", path, strerror(errno));
		close(s);
		return -1;
	}
	return s;
}

static int drop_privileges(const struct router_config *c)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if (!c->user) {
		fprintf(stderr, "sluiced: fatal: started as root without SLUICE_USER "
			"(the queue owner, usually qmailq)\n");
		return -1;
	}
	if (!(pw = getpwnam(c->user))) {
		fprintf(stderr, "sluiced: fatal: SLUICE_USER=%s: no such user\n", c->user);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "sluiced: fatal: cannot become %s: %s\n", c->user, strerror(errno));
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
			fprintf(stderr, "sluiced: fatal: cannot create quarantine %s: %s\n", path,
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
	if (!(r->queues = calloc(r->nq, sizeof *r->queues)))
		return -1;
	for (i = 0; i < r->nq; i++) {
		struct rqueue *q = &r->queues[i];
		struct queue_err e;
		unsigned kept = 0, removed = 0;

		q->name = r->cfg->set.v[i].name;
		if (queue_open(&q->q, r->cfg->set.v[i].path, r->cfg->split, &e) != QUEUE_OK ||
		    queue_recover(&q->q, &kept, &removed, &e) != QUEUE_OK) {
			fprintf(stderr, "sluiced: fatal: %s (create it with sluice-mkqueue)\n", e.text);
			return -1;
		}
		if (kept || removed)
			fprintf(stderr, "sluiced: %s: recovery: %u committed markers cleared, "
				"%u unfinished messages removed\n", q->name, kept, removed);
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

	memset(&r, 0, sizeof r);
	r.cfg = c;
	r.lsock = r.ssock = -1;
	signal(SIGPIPE, SIG_IGN);
	queue_uids_load(&r.uids, c->passwd);
	if ((r.lsock = listen_on(c->socket_path, c, 1024)) < 0) {
		r.lsock = -1;
		return 111;	/* nothing of ours to clean up */
	}
	if ((r.ssock = listen_on(c->stats_path, c, 16)) < 0) {
		r.ssock = -1;
		goto out;
	}
	if (drop_privileges(c) < 0 || make_quarantine(c) < 0 || open_queues(&r) < 0)
		goto out;
	if (!(r.loop = ev_default_loop(EVFLAG_AUTO))) {
		fprintf(stderr, "sluiced: fatal: cannot start libev\n");
		goto out;
	}
	if (router_scan_start(&r, err, sizeof err) < 0) {
		fprintf(stderr, "sluiced: fatal: %s\n", err);
		goto out;
	}
	if (queue_fsync_threads(c->fsync_threads) < 0)
		fprintf(stderr, "sluiced: warning: fewer than %u fsync threads started\n", c->fsync_threads);
	if (router_sync_start(&r) != 0) {
		fprintf(stderr, "sluiced: fatal: cannot start the sync thread\n");
		router_scan_stop(&r);
		goto out;
	}
	if (router_health_start(&r) != 0) {
		fprintf(stderr, "sluiced: fatal: cannot start the health thread\n");
		router_sync_stop(&r);
		router_scan_stop(&r);
		goto out;
	}
	router_loop_init(&r);
	fprintf(stderr, "sluiced: listening on %s; %u queues; %u scanners; %u workers; sync %s\n",
		c->socket_path, r.nq, c->nscanners, c->nscanners ? c->workers : 0,
		c->sync == QUEUE_SYNC_FULL ? "full" : c->sync == QUEUE_SYNC_DATA ? "data"
		: c->sync == QUEUE_SYNC_FS ? "fs" : "none");
	ev_run(r.loop, 0);
	router_health_stop(&r);
	router_sync_stop(&r);
	router_scan_stop(&r);
	fprintf(stderr, "sluiced: stopped: accepted %lu rejected %lu deferred %lu failed %lu\n",
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
	for (i = 0; r.queues && i < r.nq; i++)
		queue_close(&r.queues[i].q);
	free(r.queues);
	return rc;
}
