/*
 * control_policy.c - policy snapshots: build, share, replace.
 *
 *	control_policy_open() reads the control directory:
 *	  ssattach        the banned suffixes attach=yes uses (optional);
 *	  simcontrol.cdb  when it exists, the policy (as simscan reads it);
 *	  simcontrol      otherwise the policy, compiled in memory into the
 *	                  same CDB form (a memfd), so both take one path.
 *	When both simcontrol files exist the CDB wins, and a text newer than
 *	the CDB is a warning (run sluice-cdb).  Every entry is checked; any
 *	error fails the open and nothing is kept.
 *
 *	The snapshot is immutable after open and counted: _ref/_unref from
 *	any thread, the last _unref frees it (unmaps the CDB, frees the
 *	compiled patterns).  control_policy_changed() compares the three
 *	files' identities with those read; control_policy_reload() opens a
 *	new snapshot with the same options.  control_slot_*() publish the
 *	current snapshot to other threads.
 *
 * DIAGNOSTICS
 *	control_policy_open(): NULL with the first error ("file:line: what")
 *	in err; every line also through options->diag.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control_int.h"

static const char *const file_names[CONTROL_NFILES] = {
	[CONTROL_F_SIMCONTROL] = "simcontrol",
	[CONTROL_F_CDB] = "simcontrol.cdb",
	[CONTROL_F_SSATTACH] = "ssattach",
};

const struct control_envvar control_env_vars[] = {
	{ "SLUICE_CONTROL", CONTROL_DIR_DEFAULT,
	  "control directory: simcontrol(.cdb) and ssattach, per-domain policy" },
	{ "SLUICE_POLICY_SENDER", "relay",
	  "when the sender's simcontrol entries count: relay, always or never" },
};
const size_t control_env_nvars = sizeof control_env_vars / sizeof control_env_vars[0];

int control_options_env(struct control_options *o, char *err, size_t errlen)
{
	struct control_settings s;

	/* the settings table's parser: the same words and messages as sluiced */
	memset(&s, 0, sizeof s);
	s.v[CONTROL_S_SLUICE_CONTROL].text = control_settings_lookup(NULL, "SLUICE_CONTROL");
	if (control_settings_parse(CONTROL_S_SLUICE_POLICY_SENDER,
				   control_settings_lookup(NULL, "SLUICE_POLICY_SENDER"),
				   &s.v[CONTROL_S_SLUICE_POLICY_SENDER], err, errlen) < 0)
		return -1;
	control_settings_options(&s, o);	/* s's texts are the environment's: not freed */
	return 0;
}

static void path_of(char *buf, size_t cap, const struct control_policy *p, int f)
{
	snprintf(buf, cap, "%s/%s", p->dir, file_names[f]);
}

static void policy_free(struct control_policy *p)
{
	size_t i;

	if (p->have_cdb)
		cdb_free(&p->cdb);
	for (i = 0; i < p->nregexes; i++)
		regfree(&p->regexes[i]->re);
	free(p->regexes);
	free(p->values.e);
	free(p->udom);
	control_arena_free(&p->arena);
	free(p->dir);
	free(p);
}

void control_policy_ref(struct control_policy *p)
{
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void control_policy_unref(struct control_policy *p)
{
	if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		policy_free(p);
}

/* map_fd - the snapshot's CDB from an open fd (which stays the caller's) */
static int map_fd(struct control_build *b, int fd, const char *path)
{
	if (cdb_init(&b->p->cdb, fd) < 0) {
		control_diag(b, 1, "%s: not a CDB file: %s", path,
			     errno == EPROTO ? "too short or damaged" : strerror(errno));
		return -1;
	}
	b->p->cdb.cdb_fd = -1;	/* the mapping outlives the fd */
	b->p->have_cdb = 1;
	return 0;
}

static int load_cdb_file(struct control_build *b, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		control_diag(b, 1, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		control_diag(b, 1, "%s: %s", path, S_ISREG(st.st_mode) ? strerror(errno)
							: "not a regular file");
		close(fd);
		return -1;
	}
	b->p->ids[CONTROL_F_CDB] = (struct control_fileid){ 1, st.st_dev, st.st_ino, st.st_size,
							    st.st_mtim, st.st_ctim };
	r = map_fd(b, fd, path);
	close(fd);
	if (r < 0)
		return -1;
	b->p->src = CONTROL_SRC_CDB;
	return control_cdb_load(b, path, NULL, 0) < 0 ? -1 : 1;
}

/*
 * control_policy_text - the snapshot's policy from a simcontrol text:
 *	records, an in-memory CDB of them (a memfd), loaded as a CDB file is,
 *	with the records' line numbers for diagnostics.  The records point
 *	into text; *recs is the caller's to free.
 */
int control_policy_text(struct control_build *b, const char *path, char *text, size_t len,
			struct control_rec **recs, size_t *n)
{
	int r = -1, fd = -1;

	b->p->src = CONTROL_SRC_TEXT;
	if (control_text_records(b, path, text, len, recs, n) < 0)
		goto out;
	if (b->errors) {	/* still check the good lines' values: every error at once */
		char src[4300];
		size_t i;

		for (i = 0; i < *n; i++) {
			snprintf(src, sizeof src, "%s:%u", path, (*recs)[i].line);
			control_pval_parse(b, (*recs)[i].val, (*recs)[i].vlen, src);
		}
		goto out;
	}
	if ((fd = memfd_create("simcontrol", MFD_CLOEXEC)) < 0 ||
	    control_cdb_write_fd(fd, *recs, *n) < 0) {
		control_diag(b, 1, "%s: cannot build the in-memory CDB: %s", path, strerror(errno));
		goto out;
	}
	if (map_fd(b, fd, path) < 0)
		goto out;
	r = control_cdb_load(b, path, *recs, *n) < 0 ? -1 : 1;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static int load_text(struct control_build *b, const char *path)
{
	struct control_rec *recs = NULL;
	size_t len, n = 0;
	char *text, why[512];
	int r = control_file_read(path, &text, &len, &b->p->ids[CONTROL_F_SIMCONTROL], why,
				  sizeof why);

	if (r < 0) {
		control_diag(b, 1, "%s", why);
		return -1;
	}
	if (r == 0)
		return 0;
	r = control_policy_text(b, path, text, len, &recs, &n);
	free(recs);
	free(text);
	return r;
}

static int load_ssattach(struct control_build *b, const char *path)
{
	size_t len;
	char *text, why[512];
	int r = control_file_read(path, &text, &len, &b->p->ids[CONTROL_F_SSATTACH], why,
				  sizeof why);

	if (r < 0) {
		control_diag(b, 1, "%s", why);
		return -1;
	}
	if (r == 0)
		return 0;
	b->p->ssattach = control_ssattach_parse(b, path, text, len);
	free(text);
	return b->p->ssattach ? 1 : -1;
}

struct control_policy *control_policy_new(const struct control_options *opt)
{
	struct control_policy *p = calloc(1, sizeof *p);

	if (!p || !(p->dir = strdup(opt->dir ? opt->dir : CONTROL_DIR_DEFAULT))) {
		free(p);
		return NULL;
	}
	atomic_init(&p->refs, 1);
	p->opt = *opt;
	p->opt.dir = p->dir;
	return p;
}

struct control_policy *control_policy_open(const struct control_options *opt, char *err,
					   size_t errlen)
{
	struct control_policy *p = control_policy_new(opt);
	struct control_build b = { .p = p, .err = err, .errlen = errlen };
	struct control_fileid text;
	char path[4200];

	if (err && errlen)
		*err = 0;
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b.opt = &p->opt;
	{
		struct stat st;

		if (stat(p->dir, &st) < 0 && errno == ENOENT)
			control_diag(&b, 0, "%s: no such directory: no policy, the daemon's own "
				     "settings apply", p->dir);
		else if (stat(p->dir, &st) == 0 && !S_ISDIR(st.st_mode))
			control_diag(&b, 1, "%s: not a directory", p->dir);
		if (b.errors)
			goto fail;
	}
	path_of(path, sizeof path, p, CONTROL_F_SSATTACH);
	if (load_ssattach(&b, path) < 0)
		goto fail;
	path_of(path, sizeof path, p, CONTROL_F_CDB);
	switch (load_cdb_file(&b, path)) {
	case -1:
		goto fail;
	case 1:		/* the CDB wins, as in simscan; the text only for a warning */
		path_of(path, sizeof path, p, CONTROL_F_SIMCONTROL);
		control_fileid_stat(path, &text);
		p->ids[CONTROL_F_SIMCONTROL] = text;
		if (text.exists && (text.mtime.tv_sec > p->ids[CONTROL_F_CDB].mtime.tv_sec ||
				    (text.mtime.tv_sec == p->ids[CONTROL_F_CDB].mtime.tv_sec &&
				     text.mtime.tv_nsec > p->ids[CONTROL_F_CDB].mtime.tv_nsec)))
			control_diag(&b, 0, "%s is newer than %s.cdb, which is what is used: run "
				     "sluice-cdb", path, path);
		break;
	default:
		path_of(path, sizeof path, p, CONTROL_F_SIMCONTROL);
		if (load_text(&b, path) < 0)
			goto fail;
	}
	if (p->src != CONTROL_SRC_NONE && !p->def && !b.errors)
		control_diag(&b, 0, "%s/%s has no default line (':...'): a message with no entry for "
			     "any of its addresses is not scanned at all", p->dir,
			     file_names[p->src == CONTROL_SRC_CDB ? CONTROL_F_CDB : CONTROL_F_SIMCONTROL]);
	if (b.errors)
		goto fail;
	control_diag_end(&b);
	return p;
fail:
	if (!b.errors)
		control_diag(&b, 1, "%s: failed", p->dir);
	control_diag_end(&b);
	policy_free(p);
	return NULL;
}

struct control_policy *control_policy_reload(const struct control_policy *old, char *err,
					     size_t errlen)
{
	return control_policy_open(&old->opt, err, errlen);
}

int control_policy_changed(const struct control_policy *p)
{
	struct control_fileid id;
	char path[4200];
	int f;

	for (f = 0; f < CONTROL_NFILES; f++) {
		path_of(path, sizeof path, p, f);
		control_fileid_stat(path, &id);
		if (!control_fileid_same(&id, &p->ids[f]))
			return 1;
	}
	return 0;
}

const char *control_policy_source(const struct control_policy *p)
{
	return p->src == CONTROL_SRC_CDB ? "simcontrol.cdb"
	       : p->src == CONTROL_SRC_TEXT ? "simcontrol" : "none";
}

unsigned control_policy_scanners(const struct control_policy *p)
{
	return p->scan_union;
}

void control_slot_init(struct control_slot *s, struct control_policy *p)
{
	pthread_mutex_init(&s->lock, NULL);
	s->cur = p;
}

struct control_policy *control_slot_get(struct control_slot *s)
{
	struct control_policy *p;

	pthread_mutex_lock(&s->lock);
	if ((p = s->cur))
		control_policy_ref(p);
	pthread_mutex_unlock(&s->lock);
	return p;
}

void control_slot_set(struct control_slot *s, struct control_policy *p)
{
	struct control_policy *old;

	pthread_mutex_lock(&s->lock);
	old = s->cur;
	s->cur = p;
	pthread_mutex_unlock(&s->lock);
	control_policy_unref(old);	/* outside the lock: it may free the snapshot */
}

void control_slot_fini(struct control_slot *s)
{
	control_policy_unref(s->cur);
	s->cur = NULL;
	pthread_mutex_destroy(&s->lock);
}
