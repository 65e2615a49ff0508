/*
 * control.h - per-domain and per-user policy from simscan's control files.
 *
 * SUMMARY
 *	A policy is an immutable, reference-counted snapshot of the control
 *	directory ($SLUICE_CONTROL, default /var/qmail/control): simscan's
 *	simcontrol.cdb (or, without it, the simcontrol text) and ssattach.
 *	control_policy_open() builds one and checks every entry; a lookup
 *	never changes it, so any number of threads may look up in one
 *	snapshot at once, and a reload builds a new snapshot while the old one
 *	lives on until its last reference is dropped.
 *
 *	control_policy_lookup() gives one message's policy: simscan's lookup
 *	order (the default line, then the sender's and each recipient's
 *	domain and local-part prefixes split on '-', last writer wins), done
 *	per recipient, and the recipients' results merged into one decision
 *	that never weakens what any recipient asked for (simcontrol(5),
 *	MULTIPLE RECIPIENTS).  It allocates nothing while the result's inline
 *	room suffices (CONTROL_INLINE_LISTS attach lists and
 *	CONTROL_INLINE_REGEX patterns; a reused result keeps what it grew),
 *	costs about half a microsecond per recipient against a cold
 *	100,000-entry CDB (BENCHMARKS.md), and takes a reference on the
 *	snapshot that the result keeps until control_result_fini() or the
 *	next lookup into it.
 *
 *	control_compile() turns a simcontrol text into simcontrol.cdb the way
 *	simscanmk does, atomically; control_cdb_dump() prints a CDB back as
 *	text.  sluice-cdb(8) is their command.
 *
 *	control_regex_scan() applies the regex= entries of a result to a
 *	message, line by line, as simscan does.
 *
 * DIAGNOSTICS
 *	open, reload and compile return NULL or -1 with the first error in
 *	the caller's buffer; every error and warning, one line each naming
 *	the file and line (or the CDB key), also goes to options->diag when
 *	set.  A snapshot is never half built: on any error nothing changes.
 */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONTROL_DIR_DEFAULT "/var/qmail/control"
#define CONTROL_ADDR_MAX 1024	/* longer addresses (qmail allows 1003) are not looked up */

/* What to do with a verdict, in increasing strictness (the multi-recipient
 * merge keeps the largest).  UNSET only appears inside the library. */
enum control_action {
	CONTROL_ACT_UNSET = 0,
	CONTROL_ACT_PASS,	/* deliver ("pass", also spelt "accept") */
	CONTROL_ACT_TAG,	/* deliver with verdict headers */
	CONTROL_ACT_DROP,	/* 250, delivered to nobody */
	CONTROL_ACT_QUARANTINE,	/* into the quarantine Maildir */
	CONTROL_ACT_DEFER,	/* 451 */
	CONTROL_ACT_REJECT,	/* 554 */
};

/* The verdict kinds an action is chosen for (scan.h's non-clean kinds). */
enum control_verdict {
	CONTROL_V_VIRUS = 0,
	CONTROL_V_BANNED,	/* banned attachment, or a regex= match */
	CONTROL_V_SPAM,
	CONTROL_V_LIMIT,
	CONTROL_V_ERROR,
	CONTROL_NVERDICTS
};

/* Scanners a policy switches on: the params clam=, clamd=, attach=,
 * qhpsi=, spam=, rspamd=.  CLAM is "ClamAV by whatever ClamAV backend the
 * daemon runs" (simscan's clam=yes ran clamdscan); SPAM is "the configured
 * spam backend". */
#define CONTROL_SCAN_CLAM	0x01u
#define CONTROL_SCAN_CLAMD	0x02u
#define CONTROL_SCAN_ATTACH	0x04u
#define CONTROL_SCAN_QHPSI	0x08u
#define CONTROL_SCAN_SPAM	0x10u
#define CONTROL_SCAN_RSPAMD	0x20u
#define CONTROL_SCAN_ALL	0x3fu
#define CONTROL_SCAN_VIRUS	(CONTROL_SCAN_CLAM | CONTROL_SCAN_CLAMD | CONTROL_SCAN_QHPSI)
#define CONTROL_SCAN_SPAMS	(CONTROL_SCAN_SPAM | CONTROL_SCAN_RSPAMD)

/* When the sender's entries take part in a lookup.  The envelope sender is
 * whatever the SMTP client wrote after MAIL FROM, so by default only a
 * relay client's (RELAYCLIENT set, or SMTP AUTH) sender counts; ALWAYS is
 * simscan's behaviour. */
enum control_sender {
	CONTROL_SENDER_RELAY = 0,
	CONTROL_SENDER_ALWAYS,
	CONTROL_SENDER_NEVER,
};

/* Features of a policy the caller may not apply yet (options.applies):
 * an entry that uses one the caller does not apply gives a warning at
 * every load, naming the file and line and what is left undone. */
#define CONTROL_APPLY_REGEX	0x01u	/* regex=: the caller runs control_regex_scan() */
#define CONTROL_APPLY_QUARANTINE 0x02u	/* quarantine=: a Maildir per entry */
#define CONTROL_APPLY_QUEUE	0x04u	/* queue=: pin to a queue */
#define CONTROL_APPLY_SPAMUSER	0x08u	/* spamuser= */
#define CONTROL_APPLY_ALL	0x0fu

struct control_options {
	const char *dir;		/* control directory; NULL: CONTROL_DIR_DEFAULT */
	enum control_sender sender;
	unsigned applies;		/* CONTROL_APPLY_* the caller implements */
	unsigned available;		/* CONTROL_SCAN_* the caller can run; 0: not checked.
					 * An entry switching on a virus scanner or attach
					 * that is not available is an error, a spam
					 * scanner a warning. */
	unsigned queue_first, queue_count;	/* queue= must be in range; count 0: not checked */
	int check_maildirs;		/* quarantine= must name an existing Maildir */
	/* diag - one line per warning (error 0) or error (error 1), as found */
	void (*diag)(void *arg, int error, const char *line);
	void *diag_arg;
};

/* control_options_env - options from the environment: SLUICE_CONTROL,
 * SLUICE_POLICY_SENDER (relay | always | never); -1 with the cause in err */
int control_options_env(struct control_options *, char *err, size_t errlen);

/* The variables control_options_env() reads, for the daemon's --help. */
struct control_envvar {
	const char *name, *def, *help;
};
extern const struct control_envvar control_env_vars[];
extern const size_t control_env_nvars;

struct control_policy;

/* control_policy_open - a snapshot of the control directory (one reference) */
struct control_policy *control_policy_open(const struct control_options *, char *err,
					   size_t errlen);
void control_policy_ref(struct control_policy *);
/* control_policy_unref - drop a reference; the last one frees the snapshot */
void control_policy_unref(struct control_policy *);
/* control_policy_changed - 1 when simcontrol, simcontrol.cdb or ssattach
 * differs from what the snapshot was built from (appeared, went, or another
 * file, size or time), else 0.  Three stat() calls. */
int control_policy_changed(const struct control_policy *);
/* control_policy_reload - a new snapshot with old's options, or NULL with
 * the error (file:line) in err: the caller keeps using old */
struct control_policy *control_policy_reload(const struct control_policy *old, char *err,
					     size_t errlen);
/* control_policy_source - "simcontrol.cdb", "simcontrol", or "none" */
const char *control_policy_source(const struct control_policy *);
/* control_policy_scanners - union of the scanners any entry switches on */
unsigned control_policy_scanners(const struct control_policy *);

/*
 * A slot publishes the current snapshot to threads that look up while
 * another thread reloads: get() takes a reference under a mutex, set()
 * swaps and drops the slot's reference to the old snapshot (which lives
 * on in whoever still holds one).
 */
struct control_slot {
	pthread_mutex_t lock;
	struct control_policy *cur;
};
void control_slot_init(struct control_slot *, struct control_policy *);	/* takes the reference */
struct control_policy *control_slot_get(struct control_slot *);	/* new reference */
void control_slot_set(struct control_slot *, struct control_policy *);	/* takes the reference */
void control_slot_fini(struct control_slot *);

/* One message, as sluiced has it after reading the envelope. */
struct control_msg {
	const char *sender;		/* "" for the null sender */
	const char *const *rcpts;	/* NULL-terminated, envelope order */
	int relayclient;		/* RELAYCLIENT is set (even empty) */
	const char *auth_user;		/* SMTPAUTHUSER (or SMTP_AUTH_USER); NULL or "" if none.
					 * Not TCPREMOTEINFO: tcpserver fills that from an
					 * ident lookup the client answers itself. */
};

/* What the daemon does without a policy entry saying otherwise. */
struct control_defaults {
	unsigned scanners;		/* CONTROL_SCAN_* run when there is no simcontrol at all */
	enum control_action action[CONTROL_NVERDICTS];
	double spam_hits;		/* > 0: spam at this score; 0: the scanner's own threshold */
	uint64_t size_limit;		/* bytes; larger messages get no spam check; 0: none */
};

/* A list of banned name suffixes (ssattach, or one attach= value). */
struct control_list {
	size_t n;
	const struct control_suffix {
		const char *s;		/* lowercased, NUL-terminated */
		size_t len;
	} *e;
	const char *source;		/* "ssattach" or "simcontrol:12" */
};

/* One regex= pattern, compiled (POSIX extended, case-insensitive). */
struct control_regex;
const char *control_regex_pattern(const struct control_regex *);
const char *control_regex_source(const struct control_regex *);	/* "simcontrol:12" */

#define CONTROL_R_NOPOLICY	0x01u	/* no simcontrol: the daemon's settings, ssattach only */
#define CONTROL_R_RELAY		0x02u	/* a relay client (RELAYCLIENT or SMTP AUTH) */
#define CONTROL_R_SPAM_SKIPPED	0x04u	/* spam scanning switched off for a relay client */
#define CONTROL_R_ATTACH_DAEMON	0x08u	/* some recipient's attach list is the daemon's own
					 * (SLUICE_BANNED): no ssattach and no attach= list */
#define CONTROL_R_TRUNCATED	0x10u	/* applied[] was cut ("...") */

#define CONTROL_INLINE_LISTS 8
#define CONTROL_INLINE_REGEX 8

struct control_result {
	unsigned scanners;		/* CONTROL_SCAN_* to run */
	enum control_action action[CONTROL_NVERDICTS];	/* never UNSET */
	double spam_hits;		/* > 0: spam when the score reaches it */
	int spam_required;		/* also spam when the scanner's own threshold says so */
	uint64_t size_limit;		/* no spam check above this many bytes; 0: none */
	const char *spamuser;		/* NULL: the spam scanner's default user */
	const char *quarantine;		/* a Maildir; NULL: the daemon's SLUICE_QUARANTINE */
	int queue;			/* pinned queue number, or -1 */
	unsigned flags;			/* CONTROL_R_* */
	size_t nattach;			/* banned-suffix lists to check, their union */
	const struct control_list *const *attach;
	size_t nregex;			/* patterns every line of the message is matched with */
	const struct control_regex *const *regex;
	unsigned hits;			/* entries that matched (an entry met twice: twice) */
	unsigned napplied;		/* distinct entries in applied[] */
	char applied[512];		/* "(default),example.com,joe@example.com" */
	/* private */
	struct control_policy *policy;	/* the reference the pointers above live in */
	const struct control_list *list_in[CONTROL_INLINE_LISTS], **list_heap;
	const struct control_regex *regex_in[CONTROL_INLINE_REGEX], **regex_heap;
	size_t list_cap, regex_cap;
	unsigned noted[64], nnoted;	/* CDB positions of the keys in applied[] */
};

void control_result_init(struct control_result *);
/* control_result_fini - free what a lookup allocated, drop its reference */
void control_result_fini(struct control_result *);

/*
 * control_policy_lookup - one message's policy into out (init'ed once,
 * reusable: a lookup into it first drops what the last one held).  0, or
 * -1 when growing out's lists of attach lists or patterns failed (out of
 * memory): out is then incomplete and the caller defers the message.
 */
int control_policy_lookup(struct control_policy *, const struct control_msg *,
			  const struct control_defaults *, struct control_result *out);

/* control_result_is_spam - the spam decision under out's thresholds */
int control_result_is_spam(const struct control_result *, double score, int scanner_says_spam);
/* control_result_banned - the first suffix of any attach list that name
 * ends with (case-insensitive), or NULL */
const char *control_result_banned(const struct control_result *, const char *name, size_t len);

const char *control_action_name(enum control_action);
/* control_action_parse - "reject" ... "pass"/"accept"; UNSET if unknown */
enum control_action control_action_parse(const char *s, size_t len);
const char *control_verdict_name(enum control_verdict);
/* control_scanners_text - "clam,attach" into buf; returns buf */
char *control_scanners_text(unsigned scanners, char *buf, size_t cap);

/*
 * control_regex_scan - simscan's regex= check: every line of the file
 * [off, off+size) (LF-separated, a CR before it dropped) is matched with
 * every pattern of the result.  Lines longer than 8 KiB are matched in
 * 8 KiB windows overlapping by 1 KiB.  stop(arg), when given, is asked
 * every 16 KiB; non-zero ends the scan.  1 with *hit set on a match, 0 on
 * none, -1 on a read error or a stop (errno set).
 */
int control_regex_scan(const struct control_result *, int fd, off_t off, off_t size,
		       int (*stop)(void *), void *arg, const struct control_regex **hit);
/* control_regex_match - one line against the result's patterns; line[len]
 * must be readable, best a NUL (checking tools' regexec reads up to one) */
const struct control_regex *control_regex_match(const struct control_result *, const char *line,
						size_t len);

/*
 * control_compile - check the simcontrol text at src and, unless
 * check_only, write its CDB at dst atomically (temp file in dst's
 * directory, fsync, rename, fsync of the directory).  0 on success; 1 when
 * src has errors (each reported through options->diag; nothing written);
 * -1 on an I/O error (err says which file; nothing left behind, dst
 * untouched).
 */
int control_compile(const char *src, const char *dst, int check_only,
		    const struct control_options *, char *err, size_t errlen);
/* control_ssattach_check - 0, or 1 with each error reported, -1 on I/O error */
int control_ssattach_check(const char *path, const struct control_options *, char *err,
			   size_t errlen);
/* control_cdb_dump - a CDB's records as "key:value" lines on fd in file
 * order (the key "" as ":value"); 0; 1 when the file is no CDB, is
 * damaged or holds a record no simcontrol line can express; -1 on an I/O
 * error; the cause in err */
int control_cdb_dump(const char *path, int fd, char *err, size_t errlen);

#endif
