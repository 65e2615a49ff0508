/*
 * scan_int.h - private to scan/ and its tests.
 *
 *	One section per source file; add yours, do not reorder the others.
 */
#ifndef SLUICE_SCAN_INT_H
#define SLUICE_SCAN_INT_H

#include "scan.h"

/* scan_clamav.c */

#define SCAN_CLAMAV_SYSDB "/var/lib/clamav"	/* freshclam's directory */

/*
 * scan_clamav_changed - 1 when the signature directory changed since the
 * serving engine was loaded (cl_statchkdir, plus the directory's own mtime
 * so that added and removed files count too), else 0.  Cheap: meant for a
 * timer (the daemon's, through scan_backend_clamav.changed).  0 as well
 * while a reload is running.
 */
int scan_clamav_changed(void *state);

/*
 * scan_clamav_dbdir - the signature directory init uses: cfgdir, else
 * envdir (SLUICE_CLAMDB), else sysdir when it holds a database, else
 * shipped (the starter DB).  Empty strings count as unset.
 */
const char *scan_clamav_dbdir(const char *cfgdir, const char *envdir, const char *sysdir,
			      const char *shipped);

/*
 * scan_attach.c, scan_mime.c, scan_mime_param.c, scan_mime_body.c,
 * scan_zip.c, scan_embed.c: the MIME walker, zip lister, gzip/TNEF/tar name
 * readers and banned-name match have their
 * own private header, scan_mime.h (also used by tests/fuzz).
 */

/* scan_net.c: what the network backends share */

#include <pthread.h>
#include <sys/socket.h>

#define SCAN_NET_SERVERS_MAX 32	/* servers of one backend */
#define SCAN_NET_IDLE_MAX 8	/* kept-open connections per server */
#define SCAN_NET_IDLE_MS 20000	/* older idle connections are closed, not reused */

struct scan_server {
	char name[512];		/* as configured: "unix:/path", "host:port", a URL */
	struct sockaddr_storage addr;	/* ss_family 0: no address (a URL) */
	socklen_t alen;
	/* the rest under the set's lock */
	int down;		/* failed; rests until down_until, then a probe */
	int probing;		/* a thread probes it now */
	int64_t down_until;	/* ms */
	unsigned conns;		/* connections in use now */
	unsigned long ok, failed, lat_sum_ms, lat_n;
	int idle[SCAN_NET_IDLE_MAX];	/* kept-open connections, newest last */
	int64_t idle_since[SCAN_NET_IDLE_MAX];
	unsigned nidle;
};

struct scan_servers {
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* a connection slot came free */
	const char *what;	/* "clamd", "spamd", "rspamd": for logs and stats */
	struct scan_server srv[SCAN_NET_SERVERS_MAX];
	unsigned n, rr;
	unsigned max_conns, retry_ms, connect_ms;
	/* probe - does the server answer (clamd PING, spamd PING, rspamd
	 * /ping)?  0 yes, -1 no; called without the lock */
	int (*probe)(void *ctx, struct scan_server *, int64_t deadline);
	void *ctx;
	unsigned long scans;	/* messages the backend was asked about (atomic) */
};

/* scan_servers_init - an empty set with the limits of cfg (0s: defaults) */
void scan_servers_init(struct scan_servers *, const char *what, const struct scan_config *cfg);
/* scan_servers_parse - add each of a comma list: "unix:/path", "host:port",
 * "[v6addr]:port" (names resolved once, here); -1 with the cause in err */
int scan_servers_parse(struct scan_servers *, const char *list, char *err, size_t errlen);
/* scan_servers_add_name - a server known by name only (an URL); -1 if full */
int scan_servers_add_name(struct scan_servers *, const char *name);
void scan_servers_free(struct scan_servers *);
/*
 * scan_servers_pick - the next server to try, round-robin: not in *tried
 * (one bit per server; set here), not resting after a failure, under its
 * connection limit; one whose rest is over is probed first.  Waits for a
 * connection slot until the deadline.  Reserves a slot: give it back with
 * scan_servers_done().  NULL when none is left, with the cause in why.
 */
struct scan_server *scan_servers_pick(struct scan_servers *, unsigned long long *tried,
				      int64_t deadline, atomic_int *cancel, char *why,
				      size_t whylen);
/* scan_servers_done - the slot back; ok: the server answered (latency ms
 * counted), else it is marked down for retry_ms and cause logged */
void scan_servers_done(struct scan_servers *, struct scan_server *, int ok, int64_t ms,
		       const char *cause);
/* scan_servers_idle_get - a kept-open connection to s, or -1 */
int scan_servers_idle_get(struct scan_servers *, struct scan_server *);
/* scan_servers_idle_put - keep fd open for the next job; 0, or -1 (full: the
 * caller closes it) */
int scan_servers_idle_put(struct scan_servers *, struct scan_server *, int fd);
/* scan_servers_stats - "<what>_scans N", one "<what>_server NAME ok N failed N
 * latency_ms N down 0|1" per server, "<what>_down N" */
size_t scan_servers_stats(struct scan_servers *, char *buf, size_t len);

/* scan_net_connect - a non-blocking stream socket connected to s within
 * connect_ms and the deadline; -1 with errno (ETIMEDOUT, ECANCELED, ...) */
int scan_net_connect(const struct scan_server *, unsigned connect_ms, int64_t deadline,
		     atomic_int *cancel);
/* scan_net_write - all of buf, or -1 with errno (ETIMEDOUT at the deadline,
 * ECANCELED on cancel, EPIPE/ECONNRESET when the peer went away) */
int scan_net_write(int fd, const void *buf, size_t len, int64_t deadline, atomic_int *cancel);
/* scan_net_read - what is there, at least one byte: >0, 0 at EOF, -1 with errno */
ssize_t scan_net_read(int fd, void *buf, size_t cap, int64_t deadline, atomic_int *cancel);
/* scan_net_sendfd - one byte with fd attached (SCM_RIGHTS); 0 or -1 */
int scan_net_sendfd(int sock, int fd, int64_t deadline, atomic_int *cancel);
/* scan_net_pread - up to len bytes of the message at off: >= 0, or -1 */
ssize_t scan_net_pread(int fd, void *buf, size_t len, off_t off);
/* scan_net_why - "timed out" / "cancelled" / strerror for an errno */
const char *scan_net_why(int err);

/* scan_clamd.c: the reply parser, for tests */
/* scan_clamd_reply - a clamd reply (session id prefix, "stream: " or
 * "fd[N]: " path, then OK / NAME FOUND / TEXT ERROR) into v; -1 when it is
 * none of these (v says error) */
int scan_clamd_reply(const char *reply, struct scan_verdict *v);

/* scan_spamd.c: the reply parser, for tests */
struct scan_spamd_reply {
	int code;		/* SPAMD/1.x <code>: 0 = EX_OK */
	char msg[64];		/* its text (EX_OK, EX_PROTOCOL, ...) */
	int have_spam;		/* a Spam: header came */
	int spam;		/* True / Yes */
	double score, required;
	const char *body;	/* after the blank line (SYMBOLS, HEADERS, PROCESS) */
	size_t body_len;
};
/* scan_spamd_parse - a whole spamd reply; 0, or -1 when it is not one */
int scan_spamd_parse(const char *buf, size_t len, struct scan_spamd_reply *);
/* scan_spamd_headers - the X-Spam-* header lines (folded ones whole) of a
 * message's header section into h */
void scan_spamd_headers(const char *msg, size_t len, struct scan_headers *h);

/* scan_rspamd.c: the JSON mapping, for tests */
/* scan_rspamd_json - an rspamd /checkv2 reply into v (and its milter
 * add_headers into h, when h); -1 when it is not a reply (v says error) */
int scan_rspamd_json(const char *json, size_t len, struct scan_verdict *v, struct scan_headers *h);

#endif
