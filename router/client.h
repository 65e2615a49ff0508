/*
 * client.h - what sluice-queue and sluiced share: qmail-queue exit codes,
 * the one status-to-exit-code table, the wire protocol between them, and
 * direct mode (sluice-queue doing qmail-queue's job itself).
 *
 * SUMMARY
 *	client_exit_code() maps a queue status to qmail-queue's exit code;
 *	client_exit_reply() is what qmail-smtpd answers for an exit code.
 *	wire_*() frame the request (fds 0 and 1 by SCM_RIGHTS plus a few
 *	environment variables), the ack and the reply.
 *	client_conn_*() connect to sluiced and wait for its answers.
 *	client_direct() queues a message from fds 0 and 1 like qmail-queue.
 *	client_reject_text() sanitises a custom reject text.
 *
 *	This library links libc, queue/ and control/'s settings only:
 *	sluice-queue runs once per message and its start-up cost is on every
 *	message's path.  Settings come through control/'s settings table.
 */
#ifndef SLUICE_CLIENT_H
#define SLUICE_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "queue/queue.h"
#include "scan/scan.h"

/* qmail-queue exit codes (REFERENCE §2) */
enum {
	QQ_OK = 0,
	QQ_ADDR = 11,		/* 554 envelope address too long */
	QQ_PERM = 31,		/* 554 mail server permanently rejected message */
	QQ_NOMEM = 51,
	QQ_TIMEOUT = 52,
	QQ_WRITE = 53,
	QQ_READ = 54,
	QQ_CONFIG = 55,
	QQ_NET = 56,
	QQ_HOME = 61,
	QQ_PID = 63,
	QQ_MESS = 64,
	QQ_INTD = 65,
	QQ_TODO = 66,
	QQ_TEMP = 71,		/* 451 mail server temporarily rejected message */
	QQ_BUG = 81,
	QQ_CUSTOM = 82,		/* custom text on fd 6 (notqmail) or fd 4 (simscan) */
	QQ_CUSTOM_INDI = 88,	/* custom text on ERROR_FD (IndiMail) */
	QQ_FORMAT = 91,
};

/* What to do with a message after its scan. */
enum router_action {
	ACTION_ACCEPT,		/* commit */
	ACTION_REJECT,		/* 554 (31, or the custom text) */
	ACTION_DEFER,		/* 451 (71) */
	ACTION_DROP,		/* 250, nothing delivered */
	ACTION_TAG,		/* commit with verdict headers added */
	ACTION_QUARANTINE,	/* into the quarantine Maildir, then SLUICE_QUARANTINE_THEN */
};

/*
 * How a message ends, inside (client_decide.c).  client_answer() is the one
 * place a status becomes an exit code (and a custom text): the table is in
 * man/sluice-queue.8.
 */
enum sq_status {
	SQ_OK,			/* committed: 0 */
	SQ_DROPPED,		/* accepted, delivered to nobody: 0 */
	SQ_PERM_VIRUS,		/* refused for a verdict: 31 + text */
	SQ_PERM_BANNED,
	SQ_PERM_SPAM,
	SQ_PERM_LIMIT,
	SQ_TEMP_VIRUS,		/* the same verdicts deferred (action defer): 71 + text */
	SQ_TEMP_BANNED,
	SQ_TEMP_SPAM,
	SQ_TEMP_LIMIT,
	SQ_TEMP_SPAM_FILTER,	/* the spam filter asks for a retry (rspamd's soft reject) */
	SQ_TEMP_SCANNER,	/* a scanner failed: 71 + text */
	SQ_TEMP_SCAN_TIMEOUT,	/* the scan deadline passed */
	SQ_TEMP_QUARANTINE,	/* quarantine asked for and impossible */
	SQ_TEMP_POLICY,		/* the policy lookup failed (out of memory) */
	SQ_TEMP_BUSY,		/* no queue, a limit, shutdown, the client went away: 71 */
	SQ_PERM_REMOTE,		/* a remote queue answered D: 31 + its text */
	SQ_TEMP_REMOTE,		/* ... Z: 71 + its text */
	SQ_TEMP_CONN_TIMEOUT,	/* 72: connection to the remote queue timed out */
	SQ_TEMP_CONN_REFUSED,	/* 73: ... refused */
	SQ_TEMP_CONN_BROKEN,	/* 74: communication with it failed */
	SQ_TEMP_NOMEM,		/* 51 */
	SQ_TEMP_TIMEOUT,	/* 52: qmail-smtpd sent nothing in time */
	SQ_TEMP_DISK,		/* 53: write error, disk full, MIN_FREE */
	SQ_TEMP_READ,		/* 54: read error, envelope cut short */
	SQ_TEMP_CONFIG,		/* 55 */
	SQ_TEMP_HOME,		/* 61 */
	SQ_TEMP_PID,		/* 63 */
	SQ_TEMP_MESS,		/* 64 */
	SQ_TEMP_INTD,		/* 65 */
	SQ_TEMP_TODO,		/* 66 */
	SQ_PERM_ADDR,		/* 11: envelope address too long */
	SQ_BUG_FORMAT,		/* 91: envelope record of the wrong type */
	SQ_BUG,			/* 81 */
	SQ_NSTATUS
};

#define CLIENT_TEXT_MAX 254	/* bytes of a custom text qmail-smtpd uses, after the letter */

/* A message's actions: the daemon's settings, or its policy's. */
struct sq_actions {
	enum router_action on_virus, on_banned, on_spam, on_limit;
	enum router_action on_error;	/* ACTION_DEFER or ACTION_ACCEPT */
	enum router_action quarantine_then;	/* ACTION_REJECT or ACTION_DROP */
	int tag_clean;		/* headers on accepted mail too */
};

struct sq_decision {
	enum router_action action;	/* accept, tag and quarantine go on to the disk */
	enum sq_status status;	/* the answer: at once, or after the commit/quarantine */
};

/* client_decide - verdict (+ whether the scan deadline passed) -> decision */
void client_decide(const struct sq_actions *, const struct scan_verdict *, int timed_out,
		   struct sq_decision *);
/* client_queue_status - a failed queue operation's status (each step its code) */
enum sq_status client_queue_status(enum queue_status);
/* client_status_exit - the plain exit code; _word - the log's word; _permanent - 11..40 */
int client_status_exit(enum sq_status);
const char *client_status_word(enum sq_status);
int client_status_permanent(enum sq_status);
/* client_status_text - the custom text (name: virus, file, reason or remote
 * text; score: spam); "" when the status has none.  Returns its length. */
size_t client_status_text(enum sq_status, const char *name, double score, char *out, size_t cap);
const char *client_action_word(enum router_action);
/* client_tag_headers - the lines a tagged message gets after qmail's
 * Received line: X-QHPSI as IndiMail writes it, X-Sluice-Verdict,
 * X-Virus-Scanned: <scanned_by>, then extra (a scanner's own, header-safe);
 * 0 when they do not fit */
size_t client_tag_headers(char *buf, size_t cap, const struct scan_verdict *, const char *scanned_by,
			  const char *extra);
/* client_tag - insert the tag lines hdr (NUL-terminated, hlen bytes) at
 * offset at of the uncommitted mess file, removing in the same rewrite the
 * message's own fields that client_tag_forged() names; *removed: how many */
enum queue_status client_tag(struct queue_msg *, off_t at, const char *hdr, size_t hlen,
			     unsigned *removed, struct queue_err *);
/* client_tag_forged - 1 when a field of the message named name (len bytes)
 * must go from a tagged message: X-Spam, X-Spam-*, X-Spamd-*, X-Rspamd-*,
 * X-Sluice-*, X-QHPSI, X-Virus-Scanned, and any X- name of a line of the
 * NUL-terminated inserted set (client_tag.c) */
int client_tag_forged(void *inserted, const char *name, size_t len);
/* client_exit_code - client_status_exit(client_queue_status(st)) */
int client_exit_code(enum queue_status);
const char *client_exit_reply(int code);

/* Custom reject text conventions; an installation picks one. */
enum client_custom {
	CUSTOM_NONE,		/* plain 31 / 71 */
	CUSTOM_NOTQMAIL,	/* exit 82, text on fd 6 */
	CUSTOM_SIMSCAN,		/* exit 82, text on fd 4 */
	CUSTOM_INDIMAIL,	/* exit 88, text on ERROR_FD (default 2) */
};
int client_custom_parse(const char *, enum client_custom *);

/* client_reject_text - "D<text>" (permanent) or "Z<text>" (temporary) into
 * out: no CR, LF or NUL, at most 254 bytes after the letter.  Returns length. */
size_t client_reject_text(char *out, size_t cap, int permanent, const char *text);

/*
 * Wire protocol on the daemon's unix socket.
 *	go       'G' from the daemon once it has admitted the connection (it
 *	         accepts only while under its limits): only then does the
 *	         client pass its fds, so that a client that gives up while it
 *	         waits in the listen backlog still holds the only copies of
 *	         qmail-smtpd's pipes, and its exit frees qmail-smtpd at once
 *	request  "SLQ2" then "KEY=VALUE\0" pairs, with fds 0 and 1 attached
 *	reply    'R' code plain fd len text[len]
 *	         code: exit code to use when fd (-1: none) is open, after
 *	         writing text there; plain: exit code otherwise.
 */
#define WIRE_MAGIC "SLQ2"
#define WIRE_REQ_MAX 4096
#define WIRE_GO 'G'

struct wire_reply {
	uint8_t code, plain;
	int8_t fd;
	uint8_t len;
	char text[256];
};

/* wire_send_request - one sendmsg with the payload and both fds; 0 or -1 */
int wire_send_request(int sock, const int fds[2], const char *payload, size_t len);
/* wire_recv_request - one recvmsg; returns payload length, fds[] set (or -1 each) */
ssize_t wire_recv_request(int sock, int fds[2], char *buf, size_t cap);
/* wire_reply_encode - into buf (>= 5 + 255); returns length */
size_t wire_reply_encode(const struct wire_reply *, char *buf);
/* wire_reply_decode - 1 when buf[0..len) holds a whole reply, 0 if short, -1 bad */
int wire_reply_decode(const char *buf, size_t len, struct wire_reply *);
/* client_conn_open - connect to the daemon's socket within timeout seconds;
 * the socket, or -1 with errno */
int client_conn_open(const char *path, long timeout);
/* client_conn_wait - read until want bytes (want 0: until buf holds a whole
 * reply) or EOF, within timeout seconds; bytes read, or -2 on timeout */
ssize_t client_conn_wait(int s, char *buf, size_t cap, size_t want, long timeout);
/* wire_env - the qmail-smtpd environment variables passed to the daemon */
size_t wire_env(char *buf, size_t cap);
/* wire_env_get - look KEY up in a received payload (after the magic) */
const char *wire_env_get(const char *payload, size_t len, const char *key);

/*
 * Direct mode: the whole job in this process, as stock qmail-queue does it,
 * with an optional QHPSI scanner run on the mess file before the commit.
 */
struct client_direct {
	const char *queuedir;	/* queue to write into */
	unsigned split;
	enum queue_sync sync;
	const char *qhpsi;	/* QHPSI command, NULL for none */
	const char *qhpsi_arg[3];
	unsigned long qhpsi_min, qhpsi_max;	/* 0 = no limit */
	int qhpsi_rc, qhpsi_rn;	/* infected / clean exit codes */
	unsigned qhpsi_timeout;	/* seconds the scanner may take; 0 = QHPSI_TIMEOUT (300) */
	int reject_virus;	/* REJECTVIRUS: 0 accept, 1 reject, 2 drop */
	uint64_t min_free;	/* MIN_FREE: bytes the queue must keep free (53 below) */
	enum client_custom custom;
	int error_fd;		/* for CUSTOM_INDIMAIL */
	const char *passwd;	/* for the Received line's users; NULL = /etc/passwd */
};
/* client_reply_make - reply with exit code plain (31, 71, 0, ...) and, under a
 * custom-error convention, the text on that convention's fd */
void client_reply_make(struct wire_reply *, int plain, enum client_custom, int error_fd,
		       const char *text);
/* client_answer - the reply for a status: its exit code, and its text on the
 * convention's fd (name and score as client_status_text() takes them) */
void client_answer(struct wire_reply *, enum sq_status, const char *name, double score,
		   enum client_custom, int error_fd);
/* client_deliver_reply - write the text if its fd is open; the exit code to use */
int client_deliver_reply(const struct wire_reply *);

/* client_direct_env - fill from the environment; -1 with a message in err */
int client_direct_env(struct client_direct *, char *err, size_t errlen);
/* client_direct_run - queue fd 0 + fd 1; returns the process exit code */
int client_direct_run(const struct client_direct *);

#endif
