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
 *	for tests only).
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

struct scan_verdict {
	enum scan_kind kind;
	char name[256];		/* virus name, banned file name, or error reason */
	double score, required;	/* spam scanners */
	const char *scanner;	/* backend name that produced it (static string) */
};

/* What a scanner gets: the mess file and what is known of the message. */
struct scan_input {
	int fd;			/* mess file, read with pread(); offset 0 = Received line */
	off_t size;
	const char *sender;
	const char *const *rcpts;	/* NULL-terminated */
	int64_t deadline_ms;	/* CLOCK_MONOTONIC milliseconds; 0 = none */
	volatile int *cancel;	/* set non-zero when a decisive verdict made it moot */
	const char *path;	/* the mess file's path when known, else NULL (exec's %s) */
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
};

struct scan_backend {
	const char *name;
	int (*init)(void **state, const struct scan_config *, char *err, size_t errlen);
	void (*scan)(void *state, const struct scan_input *, struct scan_verdict *);
	int (*reload)(void *state, char *err, size_t errlen);	/* may be NULL */
	/* stats - append "key value\n" lines to buf; returns bytes written */
	size_t (*stats)(void *state, char *buf, size_t len);	/* may be NULL */
	void (*fini)(void *state);
};

extern const struct scan_backend scan_backend_null;
extern const struct scan_backend scan_backend_attach;
extern const struct scan_backend scan_backend_clamav;
extern const struct scan_backend scan_backend_exec;
extern const struct scan_backend scan_backend_test;	/* tests only: see scan_backend.c */

/* scan_backend_find - by name ("null", "attach", "clamav", "exec", "test"); NULL if unknown */
const struct scan_backend *scan_backend_find(const char *name);

void scan_verdict_set(struct scan_verdict *, enum scan_kind, const char *scanner,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* scan_verdict_merge - keep in *into the stricter of *into and *from */
void scan_verdict_merge(struct scan_verdict *into, const struct scan_verdict *from);
const char *scan_kind_name(enum scan_kind);

#define SCAN_BANNED_DEFAULT \
	".exe .com .bat .cmd .scr .pif .vbs .vbe .js .jse .wsf .wsh .hta .lnk .cpl .msi .msp .reg .ps1 .jar"

/*
 * The worker pool (scan_pool.c).  A job names the scanners to run, their
 * states, and the input; the pool fills job->verdict.  The job belongs to the
 * pool from scan_pool_submit() until scan_pool_done() hands it back.
 */
struct scan_job {
	struct scan_input in;
	const struct scan_backend *const *scanners;
	void *const *states;
	unsigned nscanners;
	int64_t scanner_timeout_ms;	/* each scanner's own limit; 0 = the message's only */
	struct scan_verdict verdict;
	volatile int cancel;
	void *owner;		/* the caller's context */
	struct scan_job *next;	/* pool's list link */
};

struct scan_pool;
/* scan_pool_new - start nthreads workers; notify(arg) runs (in a worker)
 * after each finished job */
struct scan_pool *scan_pool_new(unsigned nthreads, unsigned max_depth,
				void (*notify)(void *), void *arg);
/* scan_pool_submit - 0, or -1 when max_depth jobs already wait */
int scan_pool_submit(struct scan_pool *, struct scan_job *);
/* scan_pool_done - finished jobs, oldest first, linked by ->next */
struct scan_job *scan_pool_done(struct scan_pool *);
void scan_pool_load(struct scan_pool *, unsigned *waiting, unsigned *busy);
/* scan_pool_free - run what is queued, join the workers */
void scan_pool_free(struct scan_pool *);
/* scan_run - run a job's scanners in the calling thread (the pool's worker body) */
void scan_run(struct scan_job *);
/* scan_now_ms - CLOCK_MONOTONIC in milliseconds, the clock of every deadline */
int64_t scan_now_ms(void);

#endif
