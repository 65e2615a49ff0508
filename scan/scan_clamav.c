/*
 * scan_clamav.c - the clamav backend: libclamav in-process.
 *
 * SUMMARY
 *	init() loads one engine from the signature directory (see
 *	scan_clamav_dbdir() in scan_int.h; the starter DB is compiled in as
 *	SLUICE_CLAMDB_DEFAULT), with every limit and CL_ENGINE_TMPDIR set
 *	before cl_engine_compile().  The compiled engine is shared read-only
 *	by every worker thread.
 *
 *	scan() takes a reference on the serving engine, scans the mess fd
 *	through clam_scandesc() (our one call into libclamav's scanner:
 *	libclamav 1.4 has no cl_scandesc_ex) and drops the reference.
 *
 *	reload() builds a new engine on the caller's thread, swaps it in
 *	under the lock and drops the old engine's "serving" reference; the
 *	old engine is freed by whoever drops its last reference: the reload
 *	itself when no scan holds it, else the worker finishing the last scan
 *	on it (once per reload; about 20 ms for 110k signatures).  Memory
 *	doubles while both exist.  A directory that fails to load leaves the
 *	old engine serving.  scan_clamav_changed() (the table's changed()) is
 *	for the daemon's timer.
 *
 *	Banned names in what libclamav unpacks.  With cfg->clamav_banned (the
 *	daemon sets it whenever "attach" is among the scanners) the banned
 *	list (cfg->banned, the same list and match as the attach backend) is
 *	applied inside libclamav's own unpacking, in the same scan:
 *	- clam_meta(): every member name an archive parser lists (zip, 7z,
 *	  rar, tar, cpio, cab, ...), before it is extracted, so an encrypted
 *	  or corrupt member's name counts too;
 *	- clam_inspect(): the name of every file libclamav scans, at any
 *	  depth (its own temp names excepted), and the names stored inside
 *	  the file where libclamav reports none or a cut one: a gzip's FNAME,
 *	  a TNEF stream's attachment names, a tar's long (pax, GNU) names and
 *	  an ISO image's Rock Ridge names (scan_embed.c), read from the
 *	  file's bytes.  An image with a UDF file system is a limit ("UDF
 *	  archive docs.iso names not checked"): neither libclamav nor
 *	  scan_embed.c reads UDF names, and Windows shows those first.
 *	A banned name gives SCAN_BANNED with the name; the scan goes on, so
 *	that a virus further on still makes the message infected (the stricter
 *	verdict, and the one the sender should hear about).  The MIME walker (scan_mime.c) stays for
 *	what libclamav does not name: header names under every decoding,
 *	begin lines in encoded text, gzip and TNEF in MIME parts.  The names
 *	of MIME parts themselves are left to it: libclamav hands them on with
 *	every character but letters, digits and dots replaced ("../run.cmd"
 *	becomes ".._run.cmd"), and the reject text should name the file as
 *	the recipient would see it.
 *
 *	Limits.  A libclamav limit (Heuristics.Limits.Exceeded.*: recursion,
 *	files, scan size, file size, scan time) gives SCAN_LIMIT with the
 *	limit in words, as a walker limit does; the daemon's SLUICE_ON_LIMIT
 *	decides.  So does an archive libclamav could not open: clam_inspect()
 *	and clam_meta() follow the tree of files (libclamav reports them depth
 *	first, each with its level), and an archive (zip, 7z, rar, tar, gzip,
 *	bzip2, xz, cab, arj, cpio, ...) that yielded neither a member name nor
 *	a file, or a tar cut before its end blocks, is "could not be opened":
 *	a truncated or corrupt archive, a 7z whose names are encrypted, or
 *	any rar when libclamav was built without unrar (Debian's: it tells a
 *	rar by its signature, then neither lists nor scans it).  With cfg->clamav_encrypted, an encrypted archive or document
 *	(libclamav's Heuristics.Encrypted.*) is SCAN_LIMIT too: nobody could
 *	look inside it.  The engine runs with libclamav's clean-file cache
 *	off (CL_ENGINE_DISABLE_CACHE): the cache answers for a file it has
 *	seen clean without opening it again, so a subtree once scanned clean
 *	on its own no longer counts towards the nesting of a message that
 *	holds it, and the same message could be SCAN_LIMIT on one try and
 *	clean on the next.  A verdict must depend on the message alone.
 *
 *	Deadline and cancel: libclamav calls clam_precache() before each
 *	file it scans (the message, each MIME part, each archive member); it
 *	stops the scan there once the deadline passed or cancel was set.  What
 *	runs between two such calls (decoding one part, scanning one file)
 *	runs to its end.  CL_ENGINE_MAX_SCANTIME is no substitute: it is one
 *	value per engine (never change an engine in use) and libclamav's MIME
 *	parser does not look at it (measured: 10 ms allowed, 1.3 s taken).
 *
 * DIAGNOSTICS
 *	init() and reload() return -1 with a text naming the directory, the
 *	libclamav error and libclamav's own messages (file and line).  scan()
 *	gives SCAN_ERROR with cl_strerror(), "deadline passed" or
 *	"cancelled"; SCAN_LIMIT with the limit in words ("MIME or archive
 *	nesting too deep (Heuristics.Limits.Exceeded.MaxRecursion)"); stats()
 *	counts scans, infected, banned, limits and errors.
 *	libclamav's warnings, and its errors that no text above carries, go
 *	to stderr as libclamav itself would print them.
 */
#include <clamav.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scan_int.h"
#include "scan_mime.h"

#ifndef SLUICE_CLAMDB_DEFAULT
#define SLUICE_CLAMDB_DEFAULT "/usr/share/sluice/db"
#endif

/* REFERENCE §6: libclamav's own defaults, used where the setting is 0 */
#define CLAM_MAX_SCANSIZE	(400ULL << 20)
#define CLAM_MAX_FILESIZE	(100ULL << 20)
#define CLAM_MAX_RECURSION	17
#define CLAM_MAX_FILES		10000
#define CLAM_MAX_SCANTIME_MS	120000

#define CLAM_LEVELS		64	/* of the file tree followed; MaxRecursion is less */

/* a limit was hit: libclamav reports it as a detection under this prefix */
#define CLAM_LIMIT_PREFIX	"Heuristics.Limits.Exceeded."
#define CLAM_ENCRYPTED_PREFIX	"Heuristics.Encrypted."

struct clam_engine {
	struct cl_engine *cl;
	unsigned refs;		/* scans on it, +1 while it is the serving one */
	unsigned sigs;
	time_t loaded;
};

struct clam_state {
	char *dbdir;
	char *tmpdir;
	uint64_t max_scansize, max_filesize;
	unsigned max_recursion, max_files, max_scantime_ms;
	struct attach_ban *ban;	/* NULL: banned names are the attach backend's alone */
	int encrypted;		/* an encrypted archive is SCAN_LIMIT */
	int libmime;		/* libclamav's mail parser for every message */

	pthread_mutex_t lock;	/* guards cur and every engine's refs */
	struct clam_engine *cur;

	pthread_mutex_t reload_lock;	/* one load at a time; guards the snapshot */
	struct cl_stat dbstat;	/* of the directory, taken before the last load */
	struct timespec dir_mtime;

	/* never behind a lock: stats must not wait for a reload */
	atomic_ulong reloads, reload_failures, scans, infected, banned, limits, errors;
	atomic_ulong walked, fallbacks;	/* scans done on the walker's path; sent down libclamav's */
};

/* What one scan hands libclamav's callbacks. */
struct clam_scanctx {
	int64_t deadline_ms;
	atomic_int *cancel;
	const char *stopped;	/* why clam_precache() stopped the scan */
	const struct attach_ban *ban;
	const struct scan_input *in;	/* its banned() is the message's policy */
	int banned;		/* a callback found a banned name */
	char name[sizeof ((struct scan_verdict *)0)->name];
	/* the files open above the current one, by level, and what they yielded */
	struct clam_level {
		char type[24];
		int archive, yielded;
		char name[64];
	} lvl[CLAM_LEVELS];
	int top;		/* the deepest open level; -1: none */
	char unopened[160];	/* the first archive nothing came out of */
	/* the walker's path: one message is several libclamav scans */
	unsigned long files;	/* files libclamav was about to scan, all scans */
	int leaf;		/* scanning a decoded MIME part: its name (level 0) is the walker's */
};

/* Where libclamav's error messages go while this thread loads or scans. */
struct clam_msgbuf {
	char text[512];
	size_t len;
};

static __thread struct clam_msgbuf *clam_capture;
static pthread_once_t clam_once = PTHREAD_ONCE_INIT;
static cl_error_t clam_init_rc;

/* clam_msg - libclamav's message hook (process-wide) */
static void clam_msg(enum cl_msg severity, const char *fullmsg, const char *msg, void *context)
{
	struct clam_msgbuf *cap = clam_capture;
	size_t n;

	if (cap == NULL || severity < CL_MSG_ERROR) {
		if (severity >= CL_MSG_WARN)
			fputs(fullmsg, stderr);
		return;
	}
	if (cap->len >= sizeof cap->text - 1)
		return;
	n = strcspn(msg, "\n");
	snprintf(cap->text + cap->len, sizeof cap->text - cap->len, "%s%.*s",
		 cap->len ? "; " : "", (int)n, msg);
	cap->len += strlen(cap->text + cap->len);
}

static void clam_global_init(void)
{
	clam_init_rc = cl_init(CL_INIT_DEFAULT);
	cl_set_clcb_msg(clam_msg);
}

/* clam_late - set ctx->stopped when the scan should stop now */
static int clam_late(struct clam_scanctx *ctx)
{
	if (ctx->cancel && *ctx->cancel)
		ctx->stopped = "cancelled";
	else if (ctx->deadline_ms && scan_now_ms() >= ctx->deadline_ms)
		ctx->stopped = "deadline passed";
	return ctx->stopped != NULL;
}

/*
 * clam_precache - called by libclamav before each file of a scan; CL_VIRUS
 * ends the scan at once (CL_BREAK would only skip this one file).
 * scan() tells this stop from a detection by ctx->stopped.
 */
static cl_error_t clam_precache(int fd, const char *type, void *context)
{
	struct clam_scanctx *ctx = context;

	return ctx && clam_late(ctx) ? CL_VIRUS : CL_CLEAN;
}

/* clam_ban_name - mime_name_fn: note the first banned name */
static int clam_ban_name(void *arg, const char *name, size_t len, enum mime_origin o)
{
	struct clam_scanctx *ctx = arg;

	if (ctx->banned || !scan_attach_banned_for(ctx->ban, ctx->in, name, len))
		return ctx->banned;
	ctx->banned = 1;
	scan_mime_printable(ctx->name, MIME_NAME_SHOWN + 1, name, len);
	return 1;
}

/* clam_no_name - mime_name_fn: names do not matter */
static int clam_no_name(void *arg, const char *name, size_t len, enum mime_origin o)
{
	return 0;
}

/* clam_tmpname - a name libclamav made up for a temp file: "clamav-<32 hex>.tmp" */
static int clam_tmpname(const char *s)
{
	size_t i;

	if (strncmp(s, "clamav-", 7) != 0)
		return 0;
	for (i = 7; i < 39; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return strcmp(s + 39, ".tmp") == 0;
}

/* clam_archive - a file type whose whole point is to hold files */
static int clam_archive(const char *type)
{
	static const char *const t[] = {
		"CL_TYPE_ZIP", "CL_TYPE_7Z", "CL_TYPE_RAR", "CL_TYPE_POSIX_TAR", "CL_TYPE_OLD_TAR",
		"CL_TYPE_GZ", "CL_TYPE_BZ", "CL_TYPE_XZ", "CL_TYPE_MSCAB", "CL_TYPE_ARJ",
		"CL_TYPE_CPIO_OLD", "CL_TYPE_CPIO_ODC", "CL_TYPE_CPIO_NEWC", "CL_TYPE_CPIO_CRC",
		"CL_TYPE_ALZ", "CL_TYPE_EGG", "CL_TYPE_LHA_LZH", "CL_TYPE_XAR",
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcmp(type, t[i]) == 0)
			return 1;
	return 0;
}

/* clam_unopened - note the first archive that could not be read */
static void clam_unopened(struct clam_scanctx *ctx, const char *type, const char *name, const char *how)
{
	if (ctx->unopened[0])
		return;
	if (strncmp(type, "CL_TYPE_", 8) == 0)
		type += 8;
	snprintf(ctx->unopened, sizeof ctx->unopened, "%s archive %s %s", type,
		 name && *name ? name : "(no name)", how);
}

/* clam_close - the files at level and deeper are done: did each archive yield? */
static void clam_close(struct clam_scanctx *ctx, int level)
{
	for (; ctx->top >= level && ctx->top >= 0; ctx->top--) {
		struct clam_level *l = &ctx->lvl[ctx->top];

		if (l->archive && !l->yielded)
			clam_unopened(ctx, l->type, l->name, "could not be opened");
	}
}

/* clam_open - a file at level: its parent yielded it */
static void clam_open(struct clam_scanctx *ctx, int level, const char *type, const char *name)
{
	struct clam_level *l;

	if (level < 0 || level >= CLAM_LEVELS)
		return;
	clam_close(ctx, level);
	if (level > 0 && ctx->top == level - 1)
		ctx->lvl[level - 1].yielded = 1;
	while (ctx->top < level - 1)	/* a level libclamav did not report: nothing to judge */
		memset(&ctx->lvl[++ctx->top], 0, sizeof ctx->lvl[0]);
	l = &ctx->lvl[++ctx->top];
	snprintf(l->type, sizeof l->type, "%s", type ? type : "");
	l->archive = type && clam_archive(type);
	l->yielded = 0;
	scan_mime_printable(l->name, sizeof l->name, name ? name : "", name ? strlen(name) : 0);
}

/*
 * clam_meta - called by libclamav's archive and mail parsers for each
 * member they list, before extracting it; CL_VIRUS stops the scan.
 */
static cl_error_t clam_meta(const char *container_type, unsigned long fsize_container,
			    const char *filename, unsigned long fsize_real, int is_encrypted,
			    unsigned int filepos_container, void *context)
{
	struct clam_scanctx *ctx = context;
	int i;

	if (ctx == NULL)
		return CL_CLEAN;
	for (i = ctx->top; i >= 0 && container_type; i--)	/* the container listed a member */
		if (strcmp(ctx->lvl[i].type, container_type) == 0) {
			ctx->lvl[i].yielded = 1;
			break;
		}
	if (ctx->ban == NULL || filename == NULL || (container_type && strcmp(container_type, "CL_TYPE_MAIL") == 0))
		return CL_CLEAN;	/* MIME part names are the walker's */
	clam_ban_name(ctx, filename, strlen(filename), MIME_NAME_EMBED);
	return CL_CLEAN;
}

/*
 * clam_inspect - called by libclamav for each file it is about to scan,
 * the message and everything unpacked from it, with the name its parent
 * gave it; CL_VIRUS stops the scan.
 */
static cl_error_t clam_inspect(int fd, const char *type, const char **ancestors, size_t parent_file_size,
			       const char *file_name, size_t file_size, const char *file_buffer,
			       uint32_t recursion_level, uint32_t layer_attributes, void *context)
{
	struct clam_scanctx *ctx = context;

	if (ctx == NULL)
		return CL_CLEAN;
	ctx->files++;
	clam_open(ctx, (int)recursion_level, type, file_name);
	if (file_buffer && type && (strcmp(type, "CL_TYPE_POSIX_TAR") == 0 || strcmp(type, "CL_TYPE_OLD_TAR") == 0)) {
		struct embed_tar t;	/* libclamav lists only the 100-byte name field */
		int stop;

		scan_embed_tar_init(&t);
		stop = scan_embed_tar(&t, (const unsigned char *)file_buffer, file_size,
				      ctx->ban ? clam_ban_name : clam_no_name, ctx);
		if (!stop && !t.done)
			clam_unopened(ctx, type, file_name, "cut short");
		scan_embed_tar_free(&t);
	}
	if (ctx->ban == NULL || ctx->banned)
		return CL_CLEAN;
	if (file_name && !clam_tmpname(file_name) && !(ctx->leaf && recursion_level == 0) &&
	    !(recursion_level > 0 && ctx->top >= 1 && strcmp(ctx->lvl[ctx->top - 1].type, "CL_TYPE_MAIL") == 0))
		clam_ban_name(ctx, file_name, strlen(file_name), MIME_NAME_EMBED);
	if (file_buffer == NULL || type == NULL)
		return CL_CLEAN;
	if (strcmp(type, "CL_TYPE_GZ") == 0)
		scan_embed_gzip((const unsigned char *)file_buffer, file_size, clam_ban_name, ctx);
	else if (strcmp(type, "CL_TYPE_TNEF") == 0) {
		struct embed_tnef t;

		scan_embed_tnef_init(&t);
		scan_embed_tnef(&t, (const unsigned char *)file_buffer, file_size, clam_ban_name, ctx);
		scan_embed_tnef_free(&t);
	} else if (file_size > 16 * 2048 + 6 && memcmp(file_buffer + 16 * 2048 + 1, "CD001", 5) == 0) {
		/* an ISO image: libclamav types it CL_TYPE_BINARY_DATA and finds the image inside */
		if (scan_embed_iso((const unsigned char *)file_buffer, file_size, clam_ban_name, ctx) == 2)
			clam_unopened(ctx, "CL_TYPE_ISO9660", file_name, "names not read whole (too many directories)");
	}
	/* UDF (what Windows reads first): nobody here reads its names */
	if (!ctx->banned && scan_embed_udf_is((const unsigned char *)file_buffer, file_size))
		clam_unopened(ctx, "CL_TYPE_UDF", file_name, "names not checked");
	return CL_CLEAN;
}

/* clam_has_db - whether dir holds a signature file libclamav would load */
static int clam_has_db(const char *dir)
{
	static const char *const ext[] = {
		".cvd", ".cld", ".cud", ".ndb", ".ndu", ".hdb", ".hdu", ".hsb", ".hsu",
		".mdb", ".mdu", ".msb", ".msu", ".ldb", ".ldu", ".cdb", ".cbc", ".yar",
		".yara", ".pdb", ".wdb", ".gdb", ".idb", ".fp", ".sfp",
	};
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (d == NULL)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name), i;

		for (i = 0; i < sizeof ext / sizeof ext[0] && !found; i++) {
			size_t el = strlen(ext[i]);

			found = len > el && strcmp(e->d_name + len - el, ext[i]) == 0;
		}
	}
	closedir(d);
	return found;
}

const char *scan_clamav_dbdir(const char *cfgdir, const char *envdir, const char *sysdir,
			      const char *shipped)
{
	if (cfgdir && *cfgdir)
		return cfgdir;
	if (envdir && *envdir)
		return envdir;
	if (sysdir && *sysdir && clam_has_db(sysdir))
		return sysdir;
	return shipped;
}

/* clam_tmpdir - tmpfs when we may write there: decoded parts are temp files */
static const char *clam_tmpdir(void)
{
	struct stat st;

	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	return "/tmp";
}

static void clam_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void clam_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void clam_engine_free(struct clam_engine *e)
{
	cl_engine_free(e->cl);
	free(e);
}

/* clam_limits - every limit and the temp dir, on a fresh engine */
static cl_error_t clam_limits(struct clam_state *st, struct cl_engine *cl, const char **what)
{
	const struct {
		enum cl_engine_field field;
		const char *name;
		long long val;
	} num[] = {
		{ CL_ENGINE_MAX_SCANSIZE, "CL_ENGINE_MAX_SCANSIZE", (long long)st->max_scansize },
		{ CL_ENGINE_MAX_FILESIZE, "CL_ENGINE_MAX_FILESIZE", (long long)st->max_filesize },
		{ CL_ENGINE_MAX_RECURSION, "CL_ENGINE_MAX_RECURSION", st->max_recursion },
		{ CL_ENGINE_MAX_FILES, "CL_ENGINE_MAX_FILES", st->max_files },
		{ CL_ENGINE_MAX_SCANTIME, "CL_ENGINE_MAX_SCANTIME", st->max_scantime_ms },
	};
	cl_error_t rc;
	size_t i;

	for (i = 0; i < sizeof num / sizeof num[0]; i++)
		if ((rc = cl_engine_set_num(cl, num[i].field, num[i].val)) != CL_SUCCESS) {
			*what = num[i].name;
			return rc;
		}
	/* the verdict must not depend on what was scanned before: see the header */
	*what = "CL_ENGINE_DISABLE_CACHE";
	if ((rc = cl_engine_set_num(cl, CL_ENGINE_DISABLE_CACHE, 1)) != CL_SUCCESS)
		return rc;
	*what = "CL_ENGINE_TMPDIR";
	return cl_engine_set_str(cl, CL_ENGINE_TMPDIR, st->tmpdir);
}

/*
 * clam_snapshot - what scan_clamav_changed() compares against: the
 * directory's mtime and cl_statinidir().  Taken before a load, so that a
 * change during the load shows as a change later.
 */
static void clam_snapshot(const char *dir, struct cl_stat *dbstat, struct timespec *mtime)
{
	struct stat sb;

	memset(dbstat, 0, sizeof *dbstat);
	memset(mtime, 0, sizeof *mtime);
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return;		/* the load will say why */
	*mtime = sb.st_mtim;
	if (cl_statinidir(dir, dbstat) != CL_SUCCESS) {
		cl_statfree(dbstat);
		memset(dbstat, 0, sizeof *dbstat);
	}
}

/* clam_build - a compiled engine from st->dbdir, refs 1 */
static struct clam_engine *clam_build(struct clam_state *st, char *err, size_t errlen)
{
	struct clam_msgbuf msgs = { .len = 0 };
	struct clam_engine *e;
	const char *what = "cl_engine_new";
	struct stat sb;
	cl_error_t rc = CL_EMEM;

	if (stat(st->dbdir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		clam_err(err, errlen, "clamav database %s: %s (set SLUICE_CLAMDB to a signature "
			 "directory)", st->dbdir,
			 access(st->dbdir, F_OK) < 0 ? strerror(errno) : "not a directory");
		return NULL;
	}
	clam_capture = &msgs;
	if ((e = calloc(1, sizeof *e)) == NULL || (e->cl = cl_engine_new()) == NULL)
		goto fail;
	if ((rc = clam_limits(st, e->cl, &what)) != CL_SUCCESS)
		goto fail;
	cl_engine_set_clcb_pre_cache(e->cl, clam_precache);
	cl_engine_set_clcb_meta(e->cl, clam_meta);
	cl_engine_set_clcb_file_inspection(e->cl, clam_inspect);
	what = "cl_load";
	if ((rc = cl_load(st->dbdir, e->cl, &e->sigs, CL_DB_STDOPT)) != CL_SUCCESS)
		goto fail;
	if (e->sigs == 0) {
		clam_capture = NULL;
		clam_err(err, errlen, "clamav database %s: no signatures (set SLUICE_CLAMDB to a "
			 "signature directory)", st->dbdir);
		goto fail_quiet;
	}
	what = "cl_engine_compile";
	if ((rc = cl_engine_compile(e->cl)) != CL_SUCCESS)
		goto fail;
	clam_capture = NULL;
	e->refs = 1;
	e->loaded = time(NULL);
	return e;

fail:
	clam_capture = NULL;
	clam_err(err, errlen, "clamav database %s: %s: %s%s%s%s", st->dbdir, what, cl_strerror(rc),
		 msgs.len ? " (" : "", msgs.text, msgs.len ? ")" : "");
fail_quiet:
	if (e && e->cl)
		cl_engine_free(e->cl);
	free(e);
	return NULL;
}

static struct clam_engine *clam_acquire(struct clam_state *st)
{
	struct clam_engine *e;

	pthread_mutex_lock(&st->lock);
	e = st->cur;
	e->refs++;
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* clam_release - drop a reference; the last one frees, outside the lock */
static void clam_release(struct clam_state *st, struct clam_engine *e)
{
	unsigned left;

	pthread_mutex_lock(&st->lock);
	left = --e->refs;
	pthread_mutex_unlock(&st->lock);
	if (left == 0)
		clam_engine_free(e);
}

/*
 * clam_scandesc - our one call into libclamav's scanner.
 *
 * cl_scandesc() reads the file from offset 0 whatever the fd's offset,
 * but it moves that offset (measured with 1.4.6: it is left at 0).  The
 * router and the other scanners share the fd's open file description, so
 * libclamav gets one of its own through /proc/self/fd; without /proc it
 * gets the shared fd, which is still right for users of pread().
 *
 * Options: every parser; heuristic alerts on, as clamd's HeuristicAlerts
 * default (no false alarm on the clean corpus of the tests), and of the
 * heuristic classes only EXCEEDS_MAX (clamd's AlertExceedsMax, off there).
 * Without it a message that hits a limit (size, recursion, file count,
 * scan time) is silently CL_CLEAN, even when the unscanned rest holds a
 * virus (measured: a 10 ms MAX_SCANTIME lets EICAR in the last of 2,000
 * parts through).  With it, the scan goes on past the limit where it can,
 * a real detection still wins, and clamav_scan() turns the limit's name
 * into SCAN_LIMIT.  With encrypted, CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE and
 * _DOC as well.
 */
static struct cl_scan_options clam_options(int encrypted, unsigned parse)
{
	struct cl_scan_options opts = {
		.general = CL_SCAN_GENERAL_HEURISTICS,
		.parse = parse,
		.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX |
			     (encrypted ? CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE | CL_SCAN_HEURISTIC_ENCRYPTED_DOC : 0),
	};

	return opts;
}

static cl_error_t clam_scandesc(const struct cl_engine *cl, int fd, struct clam_scanctx *ctx,
				int encrypted, unsigned parse, const char **virname, unsigned long *scanned)
{
	struct cl_scan_options opts = clam_options(encrypted, parse);
	char path[40];
	int own;
	cl_error_t rc;

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	own = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	*scanned = 0;
	rc = cl_scandesc_callback(own >= 0 ? own : fd, NULL, virname, scanned, cl, &opts, ctx);
	if (own >= 0)
		close(own);
	return rc;
}

/* clam_limit_name - a Heuristics.Limits.Exceeded.* or (with encrypted) Heuristics.Encrypted.* name */
static int clam_limit_name(const char *virname, int encrypted)
{
	return virname && (strncmp(virname, CLAM_LIMIT_PREFIX, sizeof CLAM_LIMIT_PREFIX - 1) == 0 ||
			   (encrypted && strncmp(virname, CLAM_ENCRYPTED_PREFIX, sizeof CLAM_ENCRYPTED_PREFIX - 1) == 0));
}

/*
 * The walker's path (the default; SLUICE_CLAMAV_MIME=libclamav turns it
 * off).  libclamav's mail parser writes every MIME part of every message to
 * a temp file in a temp directory of its own, then scans the files: on a
 * 4 KB multipart/alternative message that is most of the scan's cost.  The
 * MIME walker (scan_mime.c) decodes the same parts in memory; libclamav then
 * scans each decoded leaf from memory (cl_fmap_open_memory) with every
 * parser on, as it would scan the temp file, and the message itself once
 * with the mail parser off: its raw bytes, as libclamav also matches them
 * when it parses the mail.  Whatever the leaves do not carry whole sends the
 * message down libclamav's own path instead (CLAM_FALLBACK): a walker limit,
 * a file inside a text body (uuencode, yEnc, begin-base64, BinHex), a
 * message/rfc822 or message/partial part, a leaf over CLAM_LEAF_MAX, a
 * walk that failed.  libclamav's limits hold for the message as a whole:
 * the bytes scanned and the files met are added up over the scans
 * (MaxScanSize, MaxFiles), and a leaf's limit does not stop the other leaves,
 * so that a virus further on still wins, as in one scan.
 */
#define CLAM_LEAF_MAX	(8u << 20)	/* of one decoded leaf held in memory */
#define CLAM_FALLBACK	((cl_error_t)-1)
#define CLAM_BINHEX	"(This file must be converted with BinHex"

struct clam_walkctx {
	struct clam_state *st;
	const struct cl_engine *cl;
	struct clam_scanctx *ctx;
	uint64_t scanned;	/* bytes, over every scan of the message */
	cl_error_t rc;		/* CL_VIRUS (a detection), an error, else CL_CLEAN */
	const char *virname;	/* with CL_VIRUS */
	const char *limit;	/* the first limit or encrypted name met */
	int fallback;
};

/* clam_result - fold one scan's result in; non-zero: stop scanning */
static int clam_result(struct clam_walkctx *wc, cl_error_t rc, const char *virname, unsigned long scanned)
{
	wc->scanned += (uint64_t)scanned * CL_COUNT_PRECISION;
	if (wc->ctx->stopped)
		return 1;
	if (rc == CL_VIRUS && clam_limit_name(virname, wc->st->encrypted)) {
		if (!wc->limit)
			wc->limit = virname;
	} else if (rc != CL_CLEAN) {
		wc->rc = rc;
		wc->virname = virname;
		return 1;
	}
	/* the message's budgets: spent, nothing more is scanned (as libclamav stops) */
	if (wc->scanned > wc->st->max_scansize || wc->ctx->files > wc->st->max_files) {
		if (!wc->limit)
			wc->limit = wc->scanned > wc->st->max_scansize ? CLAM_LIMIT_PREFIX "MaxScanSize"
								       : CLAM_LIMIT_PREFIX "MaxFiles";
		return 1;
	}
	return 0;
}

/*
 * clam_leaf - mime_leaf_fn: scan one decoded leaf from memory, under the
 * name libclamav's mail parser would give its temp file: every character but
 * letters, digits and dots made '_'
 */
static int clam_leaf(void *arg, const unsigned char *body, size_t len, const char *name, unsigned depth)
{
	struct clam_walkctx *wc = arg;
	struct cl_scan_options opts = clam_options(wc->st->encrypted, ~0u);
	const char *virname = NULL;
	unsigned long scanned = 0;
	char shown[64];
	size_t i;
	cl_fmap_t *map;
	cl_error_t rc;

	(void)depth;
	for (i = 0; name[i] && i < sizeof shown - 1; i++)
		shown[i] = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
			   (name[i] >= '0' && name[i] <= '9') || name[i] == '.' ? name[i] : '_';
	shown[i] = 0;
	if (len == 0)
		return 0;
	if (memmem(body, len, CLAM_BINHEX, sizeof CLAM_BINHEX - 1)) {
		wc->fallback = 1;	/* libclamav's mail parser decodes BinHex in text */
		return 1;
	}
	if ((map = cl_fmap_open_memory(body, len)) == NULL) {
		wc->rc = CL_EMEM;
		return 1;
	}
	wc->ctx->leaf = 1;
	rc = cl_scanmap_callback(map, *shown ? shown : NULL, &virname, &scanned, wc->cl, &opts, wc->ctx);
	wc->ctx->leaf = 0;
	cl_fmap_close(map);
	clam_close(wc->ctx, 0);
	return clam_result(wc, rc, virname, scanned);
}

/*
 * clam_walk - the walker's path: CLAM_FALLBACK when libclamav's own mail
 * parser must read the message, else what one scan would return
 */
static cl_error_t clam_walk(struct clam_state *st, const struct cl_engine *cl, const struct scan_input *in,
			    struct clam_scanctx *ctx, const char **virname)
{
	struct clam_walkctx wc = { .st = st, .cl = cl, .ctx = ctx, .rc = CL_CLEAN };
	struct mime_leaves leaves = { .fn = clam_leaf, .ctx = &wc, .max = CLAM_LEAF_MAX };
	struct mime_limits lim = { .max_depth = st->max_recursion + 1, .max_messages = st->max_recursion,
				   .deadline_ms = in->deadline_ms, .cancel = in->cancel, .leaves = &leaves };
	struct mime_result res;
	enum mime_status ms;
	off_t size = in->size;
	struct stat sb;

	if (size <= 0)		/* not given: the whole file, as libclamav reads it */
		size = fstat(in->fd, &sb) == 0 ? sb.st_size : 0;
	ms = scan_mime_walk(in->fd, size, &lim, clam_no_name, NULL, &res);
	if (ctx->stopped || wc.rc != CL_CLEAN) {
		*virname = wc.virname;
		return wc.rc;
	}
	if (wc.limit && ms == MIME_STOPPED) {	/* a budget spent: see clam_result() */
		*virname = wc.limit;
		return CL_VIRUS;
	}
	if ((ms != MIME_OK && ms != MIME_STOPPED) || wc.fallback || res.limits || res.unwalked)
		return CLAM_FALLBACK;
	{			/* the raw bytes, as libclamav matches them beside its mail parser */
		const char *vn = NULL;
		unsigned long scanned;
		cl_error_t rc = clam_scandesc(cl, in->fd, ctx, st->encrypted, ~0u & ~(unsigned)CL_SCAN_PARSE_MAIL,
					      &vn, &scanned);

		clam_close(ctx, 0);
		clam_result(&wc, rc, vn, scanned);
	}
	*virname = wc.rc == CL_VIRUS ? wc.virname : wc.limit;
	return wc.rc != CL_CLEAN ? wc.rc : wc.limit ? CL_VIRUS : CL_CLEAN;
}

/* clam_limit_words - what a Heuristics.Limits.Exceeded.<what> means */
static const char *clam_limit_words(const char *virname)
{
	static const struct {
		const char *what, *words;
	} w[] = {
		{ "MaxRecursion", "MIME or archive nesting too deep" },
		{ "MaxFiles", "too many files inside" },
		{ "MaxScanSize", "too much to unpack" },
		{ "MaxFileSize", "a file inside too large" },
		{ "MaxScanTime", "took too long to scan" },
	};
	const char *what = virname + sizeof CLAM_LIMIT_PREFIX - 1;
	size_t i;

	for (i = 0; i < sizeof w / sizeof w[0]; i++)
		if (strncmp(what, w[i].what, strlen(w[i].what)) == 0)
			return w[i].words;
	return "a scan limit reached";
}

static void clamav_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	struct clam_state *st = state;
	struct clam_scanctx ctx = { .deadline_ms = in->deadline_ms, .cancel = in->cancel, .ban = st->ban, .in = in,
				    .top = -1 };
	struct clam_msgbuf msgs = { .len = 0 };
	struct clam_engine *e;
	const char *virname = NULL;
	cl_error_t rc;
	int limit, encrypted;

	atomic_fetch_add_explicit(&st->scans, 1, memory_order_relaxed);
	if (clam_late(&ctx)) {
		scan_verdict_set(v, SCAN_ERROR, "clamav", "%s", ctx.stopped);
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
		return;
	}
	e = clam_acquire(st);
	clam_capture = &msgs;
	rc = st->libmime ? CLAM_FALLBACK : clam_walk(st, e->cl, in, &ctx, &virname);
	if (!st->libmime)
		atomic_fetch_add_explicit(rc == CLAM_FALLBACK ? &st->fallbacks : &st->walked, 1,
					  memory_order_relaxed);
	if (rc == CLAM_FALLBACK) {
		struct clam_scanctx fresh = { .deadline_ms = in->deadline_ms, .cancel = in->cancel,
					      .ban = st->ban, .in = in, .top = -1 };
		unsigned long scanned;

		ctx = fresh;	/* what the leaves found is found again */
		msgs.len = 0;
		virname = NULL;
		rc = clam_scandesc(e->cl, in->fd, &ctx, st->encrypted, ~0u, &virname, &scanned);
	}
	clam_capture = NULL;
	clam_close(&ctx, 0);
	/* virname points into the engine: copy it before the release */
	limit = rc == CL_VIRUS && virname &&
		strncmp(virname, CLAM_LIMIT_PREFIX, sizeof CLAM_LIMIT_PREFIX - 1) == 0;
	encrypted = rc == CL_VIRUS && virname && st->encrypted &&
		    strncmp(virname, CLAM_ENCRYPTED_PREFIX, sizeof CLAM_ENCRYPTED_PREFIX - 1) == 0;
	/* strictest first: infected, banned, limit */
	if (ctx.stopped)
		scan_verdict_set(v, SCAN_ERROR, "clamav", "%s", ctx.stopped);
	else if (rc == CL_VIRUS && !limit && !encrypted)
		scan_verdict_set(v, SCAN_INFECTED, "clamav", "%s", virname ? virname : "unknown");
	else if (ctx.banned)
		scan_verdict_set(v, SCAN_BANNED, "clamav", "%s", ctx.name);
	else if (limit)
		scan_verdict_set(v, SCAN_LIMIT, "clamav", "%s (%s)", clam_limit_words(virname), virname);
	else if (encrypted)
		scan_verdict_set(v, SCAN_LIMIT, "clamav", "encrypted, cannot be opened (%s)", virname);
	else if (rc == CL_CLEAN && ctx.unopened[0])
		scan_verdict_set(v, SCAN_LIMIT, "clamav", "%s", ctx.unopened);
	else if (rc == CL_CLEAN)
		scan_verdict_set(v, SCAN_CLEAN, "clamav", NULL);
	else {
		scan_verdict_set(v, SCAN_ERROR, "clamav", "%s%s%s%s", cl_strerror(rc),
				 msgs.len ? " (" : "", msgs.text, msgs.len ? ")" : "");
		msgs.len = 0;
	}
	clam_release(st, e);
	if (msgs.len)		/* not in the verdict: print them as libclamav would */
		fprintf(stderr, "LibClamAV Error: %s\n", msgs.text);
	if (v->kind == SCAN_INFECTED)
		atomic_fetch_add_explicit(&st->infected, 1, memory_order_relaxed);
	else if (v->kind == SCAN_BANNED)
		atomic_fetch_add_explicit(&st->banned, 1, memory_order_relaxed);
	else if (v->kind == SCAN_LIMIT)
		atomic_fetch_add_explicit(&st->limits, 1, memory_order_relaxed);
	else if (v->kind == SCAN_ERROR)
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
}

static int clamav_init(void **state, const struct scan_config *cfg, char *err, size_t errlen)
{
	struct clam_state *st;
	const char *dir, *tmp;

	*state = NULL;
	pthread_once(&clam_once, clam_global_init);
	if (clam_init_rc != CL_SUCCESS) {
		clam_err(err, errlen, "cl_init: %s", cl_strerror(clam_init_rc));
		return -1;
	}
	dir = scan_clamav_dbdir(cfg->clamdb, getenv("SLUICE_CLAMDB"), SCAN_CLAMAV_SYSDB,
				SLUICE_CLAMDB_DEFAULT);
	tmp = cfg->tmpdir && *cfg->tmpdir ? cfg->tmpdir : clam_tmpdir();
	if (access(tmp, W_OK | X_OK) < 0) {
		clam_err(err, errlen, "clamav temp dir %s: %s", tmp, strerror(errno));
		return -1;
	}
	if ((st = calloc(1, sizeof *st)) == NULL || (st->dbdir = strdup(dir)) == NULL ||
	    (st->tmpdir = strdup(tmp)) == NULL) {
		clam_err(err, errlen, "clamav: out of memory");
		goto fail;
	}
	st->max_scansize = cfg->max_scansize ? cfg->max_scansize : CLAM_MAX_SCANSIZE;
	st->max_filesize = cfg->max_filesize ? cfg->max_filesize : CLAM_MAX_FILESIZE;
	st->max_recursion = cfg->max_recursion ? cfg->max_recursion : CLAM_MAX_RECURSION;
	st->max_files = cfg->max_files ? cfg->max_files : CLAM_MAX_FILES;
	st->max_scantime_ms = cfg->max_scantime_ms ? cfg->max_scantime_ms : CLAM_MAX_SCANTIME_MS;
	st->encrypted = cfg->clamav_encrypted;
	st->libmime = cfg->clamav_libmime;
	if (cfg->clamav_banned &&
	    (st->ban = scan_attach_ban_parse(cfg->banned && *cfg->banned ? cfg->banned : SCAN_BANNED_DEFAULT)) == NULL) {
		clam_err(err, errlen, "clamav: out of memory");
		goto fail;
	}
	clam_snapshot(st->dbdir, &st->dbstat, &st->dir_mtime);
	if ((st->cur = clam_build(st, err, errlen)) == NULL) {
		cl_statfree(&st->dbstat);
		goto fail;
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->reload_lock, NULL);
	*state = st;
	return 0;

fail:
	if (st) {
		scan_attach_ban_free(st->ban);
		free(st->dbdir);
		free(st->tmpdir);
	}
	free(st);
	return -1;
}

/*
 * clamav_reload - build, then swap.  A failed build keeps the old engine
 * and still takes the new snapshot: the timer then waits for the next
 * change instead of retrying a broken directory on every tick.
 */
static int clamav_reload(void *state, char *err, size_t errlen)
{
	struct clam_state *st = state;
	struct clam_engine *e, *old;
	unsigned left;

	pthread_mutex_lock(&st->reload_lock);
	cl_statfree(&st->dbstat);
	clam_snapshot(st->dbdir, &st->dbstat, &st->dir_mtime);
	if ((e = clam_build(st, err, errlen)) == NULL) {
		atomic_fetch_add(&st->reload_failures, 1);
		pthread_mutex_unlock(&st->reload_lock);
		return -1;
	}
	pthread_mutex_lock(&st->lock);
	old = st->cur;
	st->cur = e;
	left = --old->refs;
	pthread_mutex_unlock(&st->lock);
	if (left == 0)
		clam_engine_free(old);
	atomic_fetch_add(&st->reloads, 1);
	pthread_mutex_unlock(&st->reload_lock);
	return 0;
}

int scan_clamav_changed(void *state)
{
	struct clam_state *st = state;
	struct stat sb;
	int changed;

	if (pthread_mutex_trylock(&st->reload_lock) != 0)
		return 0;
	/* cl_statchkdir misses removed files and sub-second edits (REFERENCE §6) */
	if (stat(st->dbdir, &sb) < 0)
		changed = st->dir_mtime.tv_sec || st->dir_mtime.tv_nsec;	/* it was there */
	else
		changed = sb.st_mtim.tv_sec != st->dir_mtime.tv_sec ||
		    sb.st_mtim.tv_nsec != st->dir_mtime.tv_nsec ||
		    (st->dbstat.dir && cl_statchkdir(&st->dbstat) == 1);
	pthread_mutex_unlock(&st->reload_lock);
	return changed;
}

/* clamav_stats - one "key value" line per figure, cut at len */
static size_t clamav_stats(void *state, char *buf, size_t len)
{
	struct clam_state *st = state;
	unsigned sigs;
	long loaded;
	unsigned long reloads, failures;
	int n;

	pthread_mutex_lock(&st->lock);
	sigs = st->cur->sigs;
	loaded = (long)st->cur->loaded;
	pthread_mutex_unlock(&st->lock);
	reloads = atomic_load(&st->reloads);
	failures = atomic_load(&st->reload_failures);
	n = snprintf(buf, len,
		     "clamav_engine %s\nclamav_db %s\nclamav_signatures %u\nclamav_loaded %ld\n"
		     "clamav_reloads %lu\nclamav_reload_failures %lu\nclamav_scans %lu\n"
		     "clamav_infected %lu\nclamav_banned %lu\nclamav_limits %lu\nclamav_errors %lu\n"
		     "clamav_mime %s\nclamav_walked %lu\nclamav_fallbacks %lu\n",
		     cl_retver(), st->dbdir, sigs, loaded, reloads, failures,
		     atomic_load(&st->scans), atomic_load(&st->infected), atomic_load(&st->banned),
		     atomic_load(&st->limits), atomic_load(&st->errors), st->libmime ? "libclamav" : "walker",
		     atomic_load(&st->walked), atomic_load(&st->fallbacks));
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len ? len - 1 : 0;
}

/* clamav_version - libclamav's version, as its stats' clamav_engine line */
static size_t clamav_version(void *state, char *buf, size_t cap)
{
	int n;

	(void)state;
	if (!cap)
		return 0;
	n = snprintf(buf, cap, "%s", cl_retver());
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* clamav_fini - only once no scan runs: the serving engine goes with it */
static void clamav_fini(void *state)
{
	struct clam_state *st = state;

	if (st == NULL)
		return;
	clam_release(st, st->cur);
	cl_statfree(&st->dbstat);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->reload_lock);
	scan_attach_ban_free(st->ban);
	free(st->dbdir);
	free(st->tmpdir);
	free(st);
}

const struct scan_backend scan_backend_clamav = {
	.name = "clamav",
	.init = clamav_init,
	.scan = clamav_scan,
	.reload = clamav_reload,
	.stats = clamav_stats,
	.changed = scan_clamav_changed,
	.version = clamav_version,
	.fini = clamav_fini,
};
