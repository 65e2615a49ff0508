/*
 * scan.h - the scan stage: typed verdicts and scanner backends.
 *
 * SUMMARY
 *	A scanner is a backend behind one small table of function pointers
 *	(struct scan_backend).  It reads a message through its fd (pread, never
 *	by path, never copied) under a deadline and returns a typed verdict.
 *	Backends: attach (banned attachment names, scan_attach.c), clamav
 *	(in-process libclamav, scan_clamav.c), exec (a QHPSI command run per
 *	message: the one backend whose scanner reads a path, scan_exec.c),
 *	null and test (scan_backend.c;
 *	"test" takes its verdict from an X-Sluice-Test: line in the message,
 *	for tests only).  Network backends, each talking to a pool of servers
 *	(scan_net.c: server lists, deadlines, failover, health, counters):
 *	clamd (INSTREAM or FILDES, scan_clamd.c), spamd (SPAMC/1.5,
 *	scan_spamd.c), rspamd (HTTP /checkv2 through libcurl, JSON through
 *	json-c, scan_rspamd.c).  scan/NETWORK.md is their design.
 *
 *	A backend is SCAN_CPU (it computes: runs on the pool's CPU workers,
 *	one per core) or SCAN_NET (it mostly waits on a server: runs on the
 *	pool's network threads, concurrently with the CPU scanners of the
 *	same message).
 *
 *	The table also carries what the daemon asks of a backend, so that it
 *	never tells backends apart by identity: flags (SCAN_B_NEEDS_PATH: exec
 *	alone), changed() for the reload timer (clamav: its signature
 *	directory) and version() for the X-Virus-Scanned header (clamav:
 *	libclamav's version).
 *
 *	Headers a scanner wants added when the message is tagged (X-Spam-*
 *	from spamd, rspamd's milter add_headers) travel apart from the fixed
 *	verdict: the runner gives each scanner a buffer (scan_input.hdr), and
 *	the job keeps (job->headers) those of the scanner whose verdict became
 *	the job's.  The job owns that buffer; it is valid until the job is
 *	reused or freed.
 *
 *	scan_verdict_merge() keeps the strictest of two verdicts:
 *	infected > banned > limit > spam > error > clean.
 *
 * DIAGNOSTICS
 *	init() and reload() return 0, or -1 with a text naming the file and the
 *	cause in the caller's buffer.  scan() always fills a verdict; a scanner
 *	that cannot decide returns SCAN_ERROR with the reason.
 */
#ifndef SLUICE_SCAN_H
#define SLUICE_SCAN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum scan_kind {		/* in increasing strictness */
	SCAN_CLEAN = 0,
	SCAN_ERROR,		/* scanner failed or timed out: defer or fail open */
	SCAN_SPAM,
	SCAN_LIMIT,		/* a limit hit or a structure no scanner could open:
				 * never clean; the admin's SLUICE_ON_LIMIT decides */
	SCAN_BANNED,
	SCAN_INFECTED,
};

/* Flags a spam scanner sets on a SCAN_SPAM verdict (rspamd's actions). */
#define SCAN_F_TAG	0x1	/* tag and accept, whatever SLUICE_ON_SPAM says */
#define SCAN_F_DEFER	0x2	/* answer 451: the scanner asks for a retry later */

struct scan_verdict {
	enum scan_kind kind;
	char name[256];		/* virus name, banned file name, or error reason */
	double score, required;	/* spam scanners */
	const char *scanner;	/* backend name that produced it (static string) */
	unsigned flags;		/* SCAN_F_* (spam verdicts only) */
};

/* Header lines a scanner asks for when the message is tagged: "Name: value\n"
 * each, header-safe (no CR, no NUL, continuation lines kept). */
#define SCAN_HEADERS_MAX 4096
struct scan_headers {
	size_t len;
	char buf[SCAN_HEADERS_MAX];
};

/* What a scanner gets: the mess file and what is known of the message. */
struct scan_input {
	int fd;			/* mess file, read with pread(); offset 0 = Received line */
	off_t size;
	const char *sender;
	const char *const *rcpts;	/* NULL-terminated */
	int64_t deadline_ms;	/* CLOCK_MONOTONIC milliseconds; 0 = none */
	atomic_int *cancel;	/* set non-zero when a decisive verdict made it moot */
	const char *path;	/* the mess file's path when known, else NULL (exec's %s) */
	/* what qmail-smtpd knew of the client (sluice-queue's environment) */
	const char *remote_ip;	/* TCPREMOTEIP, or NULL */
	const char *helo;	/* the client's HELO name when trusted (the router reads
				 * it from qmail-smtpd's Received line), or NULL */
	const char *auth_user;	/* SMTPAUTHUSER, or NULL */
	const char *queue_id;	/* "<queue>/<id>" for the scanners' logs, or NULL */
	int relayclient;	/* RELAYCLIENT was set: a local or trusted sender */
	int want_headers;	/* the message will be tagged: spam scanners fill hdr */
	struct scan_headers *hdr;	/* this scanner's header buffer, or NULL */
	/* the message's policy on attachment names (attach, and clamav's
	 * checks of what it unpacks): NULL, the backend's own SLUICE_BANNED;
	 * else called with each name as Windows would open it (path and
	 * trailing dots gone): 1 banned, 0 not, -1 the backend's own list
	 * decides */
	int (*banned)(void *arg, const char *name, size_t len);
	void *banned_arg;
	const void *policy;	/* opaque: for the router's own backends (regex=) */
	/* the message's policy for spam scanners (0 / NULL: their settings) */
	double spam_hits;	/* spam at a score >= this */
	uint64_t spam_maxsize;	/* larger messages are not checked */
	const char *spam_user;	/* spamd's User: */
};

/* Settings every backend may read; filled by the daemon from the environment. */
struct scan_config {
	const char *clamdb;	/* signature directory (SLUICE_CLAMDB) */
	const char *tmpdir;	/* CL_ENGINE_TMPDIR */
	uint64_t max_scansize, max_filesize;
	unsigned max_recursion, max_files, max_scantime_ms;
	const char *banned;	/* SLUICE_BANNED: ".exe .com ..." (space/colon separated) */
	unsigned attach_max_depth;	/* multiparts nested in one message; 0 = max_recursion + 1 */
	int clamav_banned;	/* clamav matches banned against every file it unpacks
				 * (the daemon sets it when attach is configured too) */
	int clamav_encrypted;	/* clamav: an encrypted archive is SCAN_LIMIT */
	int clamav_libmime;	/* clamav: libclamav's own mail parser reads every
				 * message (SLUICE_CLAMAV_MIME=libclamav); else the
				 * MIME walker's decoded parts, scanned from memory */
	/* exec backend: qmail's QHPSI settings (QHPSI, QHPSIARG1..3, ...) */
	const char *qhpsi;	/* command; NULL = unset */
	const char *qhpsi_arg[3];
	unsigned long qhpsi_min, qhpsi_max;	/* bytes; 0 = no bound */
	int qhpsi_rc, qhpsi_rn;	/* exit codes: infected (1), clean (0) */
	/* network scanners (scan/NETWORK.md) */
	const char *clamd;	/* SLUICE_CLAMD: "unix:/path,host:port,[v6]:port" */
	const char *spamd;	/* SLUICE_SPAMD: the same form */
	const char *rspamd;	/* SLUICE_RSPAMD: base URLs, comma-separated */
	unsigned net_connect_ms;	/* one connect attempt (0: 2000) */
	unsigned net_conns;	/* connections at once to one server (0: 16) */
	unsigned net_retry_ms;	/* a failed server rests this long (0: 10000) */
	int clamd_fildes;	/* pass the fd (FILDES) to clamd on a unix socket */
	uint64_t clamd_maxstream;	/* bytes streamed at most (0: 25 MiB, clamd's default) */
	const char *spamd_user;	/* User: header; "%r" = the first recipient; NULL: none */
	double spam_hits;	/* spamd: spam at score >= this; 0 = spamd's own required */
	uint64_t spam_maxsize;	/* spam scanners skip larger messages (0: 512000) */
	int spam_relayclient;	/* spamd checks relay clients too */
};

enum scan_class { SCAN_CPU = 0, SCAN_NET };

/* What a backend needs of the daemon (scan_backend.flags). */
#define SCAN_B_NEEDS_PATH 0x1	/* its scanner opens the mess file by path
				 * (scan_input.path); the others read the fd */

struct scan_backend {
	const char *name;
	enum scan_class class;	/* where the pool runs it */
	unsigned flags;		/* SCAN_B_* */
	int (*init)(void **state, const struct scan_config *, char *err, size_t errlen);
	void (*scan)(void *state, const struct scan_input *, struct scan_verdict *);
	int (*reload)(void *state, char *err, size_t errlen);	/* may be NULL */
	/* stats - append "key value\n" lines to buf; returns bytes written */
	size_t (*stats)(void *state, char *buf, size_t len);	/* may be NULL */
	/* changed - 1 when what init loaded changed on disk since the serving
	 * copy was loaded (a signature directory), so that a reload would pick
	 * it up; else 0.  Cheap: the daemon calls it from a timer.  NULL when
	 * the backend has nothing to watch. */
	int (*changed)(void *state);
	/* version - the engine's version for X-Virus-Scanned ("1.4.6") into buf,
	 * NUL-terminated, cut at cap; returns its length, 0 when unknown.  NULL
	 * when the backend has no engine of its own to name. */
	size_t (*version)(void *state, char *buf, size_t cap);
	void (*fini)(void *state);
};

extern const struct scan_backend scan_backend_null;
extern const struct scan_backend scan_backend_attach;
extern const struct scan_backend scan_backend_clamav;
extern const struct scan_backend scan_backend_exec;
extern const struct scan_backend scan_backend_test;	/* tests only: see scan_backend.c */
extern const struct scan_backend scan_backend_clamd;
extern const struct scan_backend scan_backend_spamd;
extern const struct scan_backend scan_backend_rspamd;

/* scan_backend_find - by name ("null", "attach", "clamav", "exec", "clamd",
 * "spamd", "rspamd", "test"); NULL if unknown */
const struct scan_backend *scan_backend_find(const char *name);

void scan_verdict_set(struct scan_verdict *, enum scan_kind, const char *scanner,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* scan_verdict_merge - keep in *into the stricter of *into and *from; 1 when
 * *from was taken.  Between two spam verdicts: plain (the admin's action) >
 * SCAN_F_DEFER > SCAN_F_TAG. */
int scan_verdict_merge(struct scan_verdict *into, const struct scan_verdict *from);
/* scan_headers_add - append "name: value\n" made header-safe (CR, LF, NUL and
 * other controls but TAB become spaces; a value that would not fit whole is
 * left out); 0, or -1 when it did not fit */
int scan_headers_add(struct scan_headers *, const char *name, const char *value);
const char *scan_kind_name(enum scan_kind);

#define SCAN_BANNED_DEFAULT \
	".exe .com .bat .cmd .scr .pif .vbs .vbe .js .jse .wsf .wsh .hta .lnk .cpl .msi .msp .reg .ps1 .jar"

/*
 * The worker pool (scan_pool.c).  A job names the scanners to run, their
 * states, and the input; the pool fills job->verdict (and job->headers).
 * The job belongs to the pool from scan_pool_submit() until scan_pool_done()
 * hands it back.
 *
 * The pool runs a job as tasks: one for all its SCAN_CPU scanners, in order,
 * on a CPU worker; one per SCAN_NET scanner on a network thread.  They run
 * at once; each merges its verdict into the job as it ends; a decisive one
 * (banned, infected) sets job->cancel and the others stop.  The job is done
 * when its last task ends.
 */
#define SCAN_JOB_MAX 8		/* scanners in one job */

struct scan_task {		/* pool-private: one unit of work of a job */
	struct scan_job *job;
	unsigned first, last;	/* its scanners of class cls in [first, last), in order */
	enum scan_class cls;
	struct scan_task *next;
};

struct scan_job {
	struct scan_input in;
	const struct scan_backend *const *scanners;
	void *const *states;
	unsigned nscanners;
	int64_t scanner_timeout_ms;	/* each scanner's own limit; 0 = the message's only */
	struct scan_verdict verdict;
	struct scan_headers headers;	/* of the scanner that decided; see above */
	atomic_int cancel;
	void *owner;		/* the caller's context */
	struct scan_job *next;	/* pool's list link */
	/* the pool's, while it owns the job */
	struct scan_task task[SCAN_JOB_MAX + 1];	/* [0]: the CPU scanners; one per network scanner */
	unsigned tasks_left;	/* not finished */
	int started;		/* a worker took one of its tasks */
};

struct scan_pool;
/* scan_pool_new - start nthreads workers; notify(arg) runs (in a worker)
 * after each finished job */
struct scan_pool *scan_pool_new(unsigned nthreads, unsigned max_depth,
				void (*notify)(void *), void *arg);
/* scan_pool_net_threads - at most n network threads (default 64), started
 * as network tasks need them and kept; call before the first submit */
void scan_pool_net_threads(struct scan_pool *, unsigned n);
/* scan_pool_submit - 0, or -1 when max_depth jobs already wait (or the job
 * has more than SCAN_JOB_MAX scanners) */
int scan_pool_submit(struct scan_pool *, struct scan_job *);
/* scan_pool_done - finished jobs, oldest first, linked by ->next */
struct scan_job *scan_pool_done(struct scan_pool *);
void scan_pool_load(struct scan_pool *, unsigned *waiting, unsigned *busy);
/* scan_pool_free - run what is queued, join the workers */
void scan_pool_free(struct scan_pool *);
/* scan_run - run all a job's scanners in order in the calling thread (tests,
 * tools; the pool runs them as tasks instead) */
void scan_run(struct scan_job *);
/* scan_now_ms - CLOCK_MONOTONIC in milliseconds, the clock of every deadline */
int64_t scan_now_ms(void);

#endif
