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
 *	The settings (control_settings*.c, built on their own as the
 *	sluice_settings library: libc and queue/ only, so that sluice-queue
 *	and sluice-qmqpd link it) are one table of every setting of every
 *	sluice program: environment variables (with SLUICE_ENVDIR, an
 *	envdir(8) directory, over them) and the policy's control files.  One
 *	parser, driven by the table, reads them for sluiced, sluice-queue (its
 *	daemon and direct modes), sluice-qmqpd and sluice-cdb; --help and
 *	sluice-control(5) list the same table; control_settings_diff() tells
 *	what a reload changes and keeps restart-only values as they run.
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
#include <stdio.h>
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

/*
 * Settings: the table.  Every setting of every program, with where it comes
 * from, its type, default, meaning, readers, and whether a running sluiced
 * applies a change on SIGHUP.  Indexed by enum control_setting_id, whose
 * names are the variables' (CONTROL_S_<NAME>; the control files
 * CONTROL_S_SIMCONTROL, _SIMCONTROL_CDB, _SSATTACH).
 */
enum control_stype {
	CONTROL_T_NUMBER,	/* plain decimal in [lo, hi] */
	CONTROL_T_SECONDS,	/* the same, a number of seconds */
	CONTROL_T_BYTES,	/* the same, a number of bytes */
	CONTROL_T_MODE,		/* a file mode in octal, at most hi */
	CONTROL_T_ENUM,		/* one of words */
	CONTROL_T_SCORE,	/* a decimal fraction, 0 or more and below 10^9 */
	CONTROL_T_STRING,
	CONTROL_T_PATH,
	CONTROL_T_LIST,		/* items separated by commas, blanks or colons */
	CONTROL_T_FILE,		/* a control file in $SLUICE_CONTROL, not a variable */
};

/* The programs that read a setting. */
#define CONTROL_P_SLUICED	0x01u
#define CONTROL_P_QUEUE		0x02u	/* sluice-queue, at every run */
#define CONTROL_P_DIRECT	0x04u	/* sluice-queue in direct mode */
#define CONTROL_P_QMQPD		0x08u
#define CONTROL_P_QSTAT		0x10u
#define CONTROL_P_MKQUEUE	0x20u
#define CONTROL_P_CDB		0x40u
#define CONTROL_P_ALL		0x7fu

struct control_setting {
	const char *name;
	enum control_stype type;
	unsigned programs;	/* CONTROL_P_* */
	int live;		/* sluiced applies a change on SIGHUP; 0: at restart */
	uint64_t lo, hi;	/* numbers: the range; MODE: hi is the largest mode */
	/* ENUM: the words, a value is its word's index; LIST: the items
	 * allowed (NULL: any).  NULL-terminated.  "w=t" makes w a synonym of
	 * the word t, "w=" allows w without naming it in help or errors. */
	const char *const *words;
	const char *def;	/* the default as the admin would write it; NULL: none */
	const char *derived;	/* how the default is derived, shown in its place; NULL: def */
	const char *help;	/* one line */
};

enum control_setting_id {
	/* queues */
	CONTROL_S_QUEUE_BASE, CONTROL_S_QUEUE_COUNT, CONTROL_S_QUEUE_START, CONTROL_S_QUEUEDIR,
	CONTROL_S_CONFSPLIT,
	/* sockets, user, the settings directory */
	CONTROL_S_SLUICE_SOCKET, CONTROL_S_SLUICE_STATS_SOCKET, CONTROL_S_SLUICE_SOCKET_MODE,
	CONTROL_S_SLUICE_STATS_MODE, CONTROL_S_SLUICE_SOCKET_GROUP, CONTROL_S_SLUICE_USER,
	CONTROL_S_SLUICE_ENVDIR,
	/* limits and time-outs */
	CONTROL_S_SLUICE_MAX_INFLIGHT, CONTROL_S_SLUICE_MAX_BYTES, CONTROL_S_SLUICE_SCAN_QUEUE,
	CONTROL_S_SLUICE_WORKERS, CONTROL_S_SLUICE_READ_TIMEOUT, CONTROL_S_SLUICE_MESSAGE_TIMEOUT,
	CONTROL_S_SLUICE_SCAN_TIMEOUT, CONTROL_S_SLUICE_SCANNER_TIMEOUT,
	CONTROL_S_SLUICE_DRAIN_TIMEOUT, CONTROL_S_SLUICE_RELOAD_CHECK,
	/* commit and queue choice */
	CONTROL_S_SLUICE_SYNC, CONTROL_S_SLUICE_BATCH, CONTROL_S_SLUICE_FSYNC_THREADS,
	CONTROL_S_MIN_FREE, CONTROL_S_SLUICE_REQUIRE_SEND, CONTROL_S_SLUICE_MAX_BACKLOG,
	/* remote queues (QMQP servers) */
	CONTROL_S_SLUICE_QMQP, CONTROL_S_SLUICE_QMQP_WEIGHT, CONTROL_S_SLUICE_LOCAL_QUEUES,
	CONTROL_S_SLUICE_QMQP_CONNS, CONTROL_S_SLUICE_QMQP_CONNECT_TIMEOUT,
	CONTROL_S_SLUICE_QMQP_IO_TIMEOUT, CONTROL_S_SLUICE_QMQP_TIMEOUT, CONTROL_S_SLUICE_QMQP_RETRY,
	CONTROL_S_SLUICE_QMQP_SLOW,
	/* scanning and verdicts */
	CONTROL_S_SLUICE_SCANNERS, CONTROL_S_SLUICE_ON_VIRUS, CONTROL_S_SLUICE_ON_BANNED,
	CONTROL_S_SLUICE_ON_SPAM, CONTROL_S_SLUICE_ON_LIMIT, CONTROL_S_SLUICE_ON_ERROR,
	CONTROL_S_REJECTVIRUS, CONTROL_S_SLUICE_TAG_CLEAN, CONTROL_S_SLUICE_QUARANTINE,
	CONTROL_S_SLUICE_QUARANTINE_LOG, CONTROL_S_SLUICE_QUARANTINE_THEN,
	CONTROL_S_SLUICE_CUSTOM_ERROR, CONTROL_S_ERROR_FD,
	/* the scanners */
	CONTROL_S_SLUICE_CLAMDB, CONTROL_S_SLUICE_BANNED, CONTROL_S_SLUICE_ENCRYPTED,
	CONTROL_S_SLUICE_CLAMAV_MIME,
	CONTROL_S_QHPSI, CONTROL_S_QHPSIARG1, CONTROL_S_QHPSIARG2, CONTROL_S_QHPSIARG3,
	CONTROL_S_QHPSIMINSIZE, CONTROL_S_QHPSIMAXSIZE, CONTROL_S_QHPSIRC, CONTROL_S_QHPSIRN,
	CONTROL_S_SLUICE_CLAMD, CONTROL_S_SLUICE_CLAMD_FILDES, CONTROL_S_SLUICE_CLAMD_MAXSTREAM,
	CONTROL_S_SLUICE_SPAMD, CONTROL_S_SLUICE_SPAMD_USER, CONTROL_S_SLUICE_SPAM_HITS,
	CONTROL_S_SLUICE_SPAM_MAXSIZE, CONTROL_S_SLUICE_SPAM_RELAYCLIENT, CONTROL_S_SLUICE_RSPAMD,
	CONTROL_S_SLUICE_NET_THREADS, CONTROL_S_SLUICE_NET_CONNS,
	CONTROL_S_SLUICE_NET_CONNECT_TIMEOUT, CONTROL_S_SLUICE_NET_RETRY,
	/* the policy */
	CONTROL_S_SLUICE_CONTROL, CONTROL_S_SLUICE_POLICY_SENDER,
	/* sluice-queue */
	CONTROL_S_SLUICE_MODE, CONTROL_S_SLUICE_FALLBACK, CONTROL_S_SLUICE_ACCEPT_TIMEOUT,
	CONTROL_S_SLUICE_TIMEOUT,
	/* sluice-qmqpd */
	CONTROL_S_SLUICE_QMQPD_MODE, CONTROL_S_SLUICE_QMQPD_TIMEOUT,
	CONTROL_S_SLUICE_QMQPD_IO_TIMEOUT, CONTROL_S_QMAILQUEUE, CONTROL_S_SLUICE_QMAIL_HOME,
	/* control files of the policy (simcontrol(5), ssattach(5)) */
	CONTROL_S_SIMCONTROL, CONTROL_S_SIMCONTROL_CDB, CONTROL_S_SSATTACH,
	CONTROL_NSETTINGS
};

extern const struct control_setting control_settings_table[CONTROL_NSETTINGS];

/* control_settings_find - the entry named name (variable or control file), or NULL */
const struct control_setting *control_settings_find(const char *name);

/* One setting's value.  text is NULL when the setting is unset (or empty:
 * an empty value counts as unset everywhere).  Numbers (NUMBER, SECONDS,
 * BYTES, MODE) are in u, an ENUM's word index too, a SCORE in d; unset,
 * they hold the default's value (0 when there is none). */
struct control_value {
	const char *text;
	uint64_t u;
	double d;
};

/* The settings a program read: values it owns (control_settings_free). */
struct control_settings {
	struct control_value v[CONTROL_NSETTINGS];
	unsigned programs;	/* read for these readers (CONTROL_P_*) */
};

/* Where values are looked up: the environment, with an envdir(8) directory
 * over it.  before holds, for the names the directory set at start, the
 * environment's values from before (so that a file removed since gives
 * back the environment's value, not the one the directory had put there). */
struct queue_envdir;
struct control_env {
	const struct queue_envdir *envdir;	/* consulted first; NULL: none */
	const struct queue_envdir *before;	/* NULL: none */
};

/* control_settings_lookup - name's value through src (NULL: the environment
 * alone); NULL when unset or empty */
const char *control_settings_lookup(const struct control_env *src, const char *name);

/* control_settings_parse - text as setting id (NULL or "": unset, the
 * default); 0, or -1 with "NAME=text: want ..." in err.  out->text is text
 * itself, not a copy. */
int control_settings_parse(enum control_setting_id, const char *text, struct control_value *out,
			   char *err, size_t errlen);

/* control_settings_read - every setting some reader in programs reads, from
 * src (NULL: the environment); the others are left unset, at their
 * defaults.  0, or -1 with the first bad value named in err (nothing kept). */
int control_settings_read(struct control_settings *, unsigned programs,
			  const struct control_env *src, char *err, size_t errlen);
void control_settings_free(struct control_settings *);

/* control_settings_unknown - the names in ed that look like a setting of
 * sluice (SLUICE_*, QHPSI*) and are none: a typo the parser would never
 * see.  Space-separated into buf (cut to fit); how many. */
size_t control_settings_unknown(const struct queue_envdir *ed, char *buf, size_t cap);

/* control_settings_text - the value as given, else the default (NULL: none) */
const char *control_settings_text(const struct control_settings *, enum control_setting_id);
/* control_settings_word - an ENUM's word (a synonym given as its word) */
const char *control_settings_word(const struct control_settings *, enum control_setting_id);

/*
 * control_settings_diff - what changed from running to next among the
 *	settings readers in programs read, "; "-separated into msg: "NAME old
 *	-> new" for a live setting, "NAME changed: takes effect at restart"
 *	for the others, whose values in next are then replaced by copies of
 *	running's (so next is what a running daemon can take).  The number of
 *	changes, or -1 when out of memory (next then half merged: drop it).
 */
/* control_settings_live_changes - how many live settings of programs differ */
int control_settings_live_changes(const struct control_settings *running,
				  const struct control_settings *next, unsigned programs);
int control_settings_diff(const struct control_settings *running, struct control_settings *next,
			  unsigned programs, char *msg, size_t cap);

/* control_settings_help - "  NAME  help [default]" for each variable some
 * reader in any reads and none in none does */
void control_settings_help(FILE *, unsigned any, unsigned none);
/* control_settings_type_text - "number, 1 to 64", "one of: full, data, fs,
 * none", ... into buf; returns buf */
char *control_settings_type_text(enum control_setting_id, char *buf, size_t cap);
/* control_settings_default_text - the default as the table shows it ("unset" for none) */
const char *control_settings_default_text(enum control_setting_id);
/* control_settings_effect_text - when a change takes effect: "on SIGHUP"
 * (a live setting of sluiced), "at restart" (sluiced's others), "at each
 * run" (read only by programs that run per message or per command) */
const char *control_settings_effect_text(enum control_setting_id);
/* control_settings_programs_text - "sluiced, sluice-queue (direct mode)" into buf */
char *control_settings_programs_text(unsigned programs, char *buf, size_t cap);

/* What several programs derive alike from the settings. */
struct queue_set;
/* control_settings_queue_set - the queues: QUEUEDIR, else QUEUE_BASE/queue<N>
 * for QUEUE_COUNT queues from QUEUE_START; 0, or -1 with err */
int control_settings_queue_set(const struct control_settings *, struct queue_set *, char *err,
			       size_t errlen);
/* control_settings_socket - SLUICE_SOCKET, else QUEUE_BASE/sluiced.sock, into buf */
const char *control_settings_socket(const struct control_settings *, char *buf, size_t cap);
/* control_settings_options - the policy's options (dir, sender) from the
 * settings; the other fields are left as they are.  dir points into s. */
void control_settings_options(const struct control_settings *s, struct control_options *);

/* control_options_env - options from the environment: SLUICE_CONTROL,
 * SLUICE_POLICY_SENDER (relay | always | never), parsed as the settings
 * table says; -1 with the cause in err */
int control_options_env(struct control_options *, char *err, size_t errlen);

/* The variables control_options_env() reads (the table's entries for
 * them, in a form of their own kept for older callers). */
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
