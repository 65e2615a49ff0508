/*
 * control_int.h - the policy snapshot's insides, shared by control_*.c.
 */
#ifndef SLUICE_CONTROL_INT_H
#define SLUICE_CONTROL_INT_H

#include <regex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cdb.h>

#include "control.h"

#define CONTROL_ACT_RESET 0x7f	/* in a pval: "back to the daemon's default" */
#define CONTROL_PREFIX_MAX 16	/* lookups per local part: 15 '-' prefixes + the whole */
#define CONTROL_DIAG_MAX 100	/* diagnostic lines per load, then a count */
#define CONTROL_FILE_MAX (256u << 20)	/* a bigger control file is refused */
#define CONTROL_KEY_MAX CONTROL_ADDR_MAX
#define CONTROL_VALUE_MAX 65536

/* Arena: the snapshot's small objects, freed at once. */
struct control_arena {
	struct control_chunk *head;
	size_t left;
	char *next;
};
void *control_arena_alloc(struct control_arena *, size_t);
char *control_arena_strndup(struct control_arena *, const char *, size_t);
void control_arena_free(struct control_arena *);

struct control_regex {
	regex_t re;
	const char *pattern;
	const char *source;
};

/* What one entry (one simcontrol value) says.  Fields not named are left
 * as the earlier writers set them. */
#define PV_HITS		0x01u
#define PV_SIZE		0x02u
#define PV_SPAMUSER	0x04u
#define PV_QUARANTINE	0x08u
#define PV_QUEUE	0x10u
#define PV_ATTACH	0x20u	/* attach=LIST: the list is replaced */
#define PV_RELAY	0x40u	/* spam_relay= */
struct control_pval {
	unsigned scan_set, scan_on;	/* scanners named, and which of them are on */
	uint8_t action[CONTROL_NVERDICTS];	/* UNSET: not named; CONTROL_ACT_RESET */
	unsigned has;			/* PV_* */
	int spam_relay;
	double spam_hits;
	uint64_t size_limit;
	const char *spamuser, *quarantine;
	int queue;
	const struct control_list *attach;
	size_t nregex;
	const struct control_regex *const *regex;
	unsigned uses;			/* CONTROL_APPLY_* this entry needs */
};

/* Values are deduplicated: many keys share a few distinct values. */
struct control_vent {
	uint32_t hash, len;
	const char *text;		/* into the CDB's memory */
	const struct control_pval *pv;	/* NULL: failed to parse (load fails) */
};
struct control_vtab {
	size_t cap, n;			/* cap a power of two */
	struct control_vent *e;
};

struct control_fileid {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

enum control_source { CONTROL_SRC_NONE, CONTROL_SRC_TEXT, CONTROL_SRC_CDB };
enum { CONTROL_F_SIMCONTROL, CONTROL_F_CDB, CONTROL_F_SSATTACH, CONTROL_NFILES };

struct control_policy {
	atomic_uint refs;
	struct control_options opt;	/* opt.dir points at dir[] */
	char *dir;
	enum control_source src;
	struct cdb cdb;			/* mmap'ed; a lookup works on a copy of it */
	int have_cdb;
	const struct control_pval *def;	/* the default line (key ""), or NULL */
	const struct control_list *ssattach;	/* NULL: no ssattach file */
	struct control_vtab values;
	struct control_arena arena;
	struct control_regex **regexes;	/* every compiled pattern, for regfree */
	size_t nregexes, regexes_cap;
	struct control_fileid ids[CONTROL_NFILES];
	unsigned scan_union;
	uint64_t *udom;			/* hashes of the domains with user keys */
	size_t udom_cap, nudom;
};

/* A load in progress: where diagnostics go and how many errors so far. */
struct control_build {
	struct control_policy *p;	/* the snapshot being built (arena, regexes) */
	const struct control_options *opt;
	unsigned errors, warnings, lines;
	int lenient;			/* a CDB file: a param without '=' is junk simscanmk
					 * made of a '#' line; simscan skips it, so we warn */
	char *err;			/* the first error */
	size_t errlen;
};
void control_diag(struct control_build *, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void control_diag_end(struct control_build *);
/* control_shown - s[0..len) printable and at most 64 bytes, for a diagnostic */
const char *control_shown(char *buf, size_t cap, const char *s, size_t len);

/* A key:value record of a simcontrol text, into its buffer. */
struct control_rec {
	char *key, *val;
	size_t klen, vlen;
	unsigned line;
};

/* control_policy.c */
struct control_policy *control_policy_new(const struct control_options *);
int control_policy_text(struct control_build *, const char *path, char *text, size_t len,
			struct control_rec **recs, size_t *n);

/* control_parse.c */
const struct control_pval *control_pval_parse(struct control_build *, const char *v, size_t len,
					      const char *source);
/* Building a suffix list (attach= value, ssattach) */
struct control_listb {
	struct control_suffix *e;
	size_t n, cap;
};
int control_listb_add(struct control_build *, struct control_listb *, const char *s, size_t len,
		      const char *source);
const struct control_list *control_listb_finish(struct control_build *, struct control_listb *,
						const char *source);
void control_value_normalize(char *v, size_t len);
uint32_t control_hash(const char *s, size_t len);

/* control_file.c */
int control_file_read(const char *path, char **buf, size_t *len, struct control_fileid *id,
		      char *err, size_t errlen);
void control_fileid_stat(const char *path, struct control_fileid *);
int control_fileid_same(const struct control_fileid *, const struct control_fileid *);
int control_text_records(struct control_build *, const char *path, char *text, size_t len,
			 struct control_rec **out, size_t *nout);
const struct control_list *control_ssattach_parse(struct control_build *, const char *path,
						  char *text, size_t len);

/* control_cdb.c */
int control_cdb_write_fd(int fd, const struct control_rec *, size_t n);
int control_cdb_write(const char *dst, const struct control_rec *, size_t n, char *err,
		      size_t errlen);
int control_cdb_load(struct control_build *, const char *path, const struct control_rec *recs,
		     size_t nrecs);
const struct control_pval *control_cdb_pval(const struct control_policy *, const char *v,
					    unsigned vlen);
uint64_t control_hash64(const char *s, size_t len);
/* control_udom_has - 1 if some key is user@domain (or a hash collision) */
int control_udom_has(const struct control_policy *, const char *domain, size_t len);

#endif
