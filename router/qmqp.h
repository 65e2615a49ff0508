/*
 * qmqp.h - QMQP, qmail's protocol for queueing a message on another host
 * (REFERENCE §7): sluice-qmqpd's side of it, and the client sluiced uses
 * for remote queues.
 *
 * SUMMARY
 *	A request is ONE netstring holding netstring(message),
 *	netstring(sender) and one netstring per recipient; the reply is one
 *	netstring "K<text>" (queued), "Z<text>" (temporary failure) or
 *	"D<text>" (permanent failure).  A netstring is "<decimal length>:
 *	<bytes>,".
 *
 *	qmqp_request_*()   the server's push parser: bytes in as they arrive,
 *	                   events out (message data, sender, recipients, end)
 *	                   with qmail-qmqpd's limits; never the whole message
 *	                   in memory.
 *	qmqp_received()    qmail-qmqpd's Received line, byte for byte.
 *	qmqp_reply_*()     the reply texts qmail-qmqpd answers (one table from
 *	                   qmail-queue exit code to text), the netstring
 *	                   around them, and the client's strict reply parser.
 *	qmqp_qq_*()        the queue program behind sluice-qmqpd: sluiced over
 *	                   its socket, or an exec'd $QMAILQUEUE as
 *	                   qmail-qmqpd runs it.
 *	qmqp_server_run()  one whole connection of sluice-qmqpd.
 *	qmqp_addr_parse(), qmqp_client_*(), qmqp_send() - the client: one
 *	                   message from a mess file to a QMQP server, as a
 *	                   state machine driven by fd readiness (for an event
 *	                   loop) or blocking with deadlines (for a thread).
 *
 * DIAGNOSTICS
 *	Nothing here exits or prints.  The parser reports QMQP_EV_BAD /
 *	QMQP_EV_BIG with a reason; the client returns enum qmqp_status with
 *	a text; the server returns enum qmqp_served and fills a report the
 *	program logs.  Exit codes are chosen only by sluice-qmqpd's main().
 */
#ifndef SLUICE_QMQP_H
#define SLUICE_QMQP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "client.h"

#define QMQP_PORT 628
#define QMQP_LEN_MAX 200000000ull	/* qmail-qmqpd refuses longer lengths */
#define QMQP_ADDR_MAX 1000		/* an address this long or longer is refused */
#define QMQP_HEAD_MAX 100		/* bytes of the request's own "<len>:" */
#define QMQP_REPLY_MAX 1024		/* longest reply netstring payload we read */

/* qmqp_now_ms - CLOCK_MONOTONIC in milliseconds (sluiced's time base) */
int64_t qmqp_now_ms(void);

/*
 * The request parser.  qmqp_request_next() consumes bytes from buf and
 * returns the next event; *used says how many bytes it took (the caller
 * passes the rest in the next call).  QMQP_EV_MORE: everything was taken,
 * feed more.  Events come in this order:
 *	MESSAGE (size known) DATA... SENDER RCPT... END
 * or BAD / BIG at any point, after which the request is dead.  Event data
 * points into buf (DATA) or into the parser (SENDER, RCPT: NUL-terminated,
 * valid until the next call).  An address of QMQP_ADDR_MAX bytes or more,
 * or holding a NUL, comes with ok = 0 and is not returned.
 */
enum qmqp_event {
	QMQP_EV_MORE,
	QMQP_EV_MESSAGE,	/* ev.size: bytes of the message */
	QMQP_EV_DATA,		/* ev.data, ev.len: the next bytes of the message */
	QMQP_EV_SENDER,		/* the message is complete; ev.data the sender, ev.ok */
	QMQP_EV_RCPT,		/* ev.data a recipient, ev.ok */
	QMQP_EV_END,		/* the request's final comma */
	QMQP_EV_BAD,		/* malformed (qmail-qmqpd: exit 100, no reply); ev.why */
	QMQP_EV_BIG,		/* a length over QMQP_LEN_MAX (exit 111, no reply) */
};
struct qmqp_ev {
	const char *data;
	size_t len;
	uint64_t size;
	int ok;
	const char *why;
};
struct qmqp_request {
	int state;
	uint64_t left;		/* bytes of the outer netstring not yet read */
	uint64_t num;		/* the length being read, or bytes left of an item */
	unsigned digits;	/* bytes of the current length so far */
	unsigned naddr;		/* addresses seen: 0 = the sender is next */
	int addr_ok;
	size_t alen;
	char addr[QMQP_ADDR_MAX];
};
void qmqp_request_init(struct qmqp_request *);
enum qmqp_event qmqp_request_next(struct qmqp_request *, const char *buf, size_t len,
				  size_t *used, struct qmqp_ev *);

/* qmqp_received - qmail-qmqpd's line (NULL fields as it defaults them):
 *	"Received: from <host> (<info>@<ip>)\n  by <local> with QMQP; <date>\n"
 * with every byte outside [A-Za-z0-9.@%+/=:[]-] as '?'.  Returns the length,
 * 0 if cap is too small (each field is cut at 256 bytes, so
 * QMQP_RECEIVED_MAX always does). */
#define QMQP_RECEIVED_MAX 1100
size_t qmqp_received(char *buf, size_t cap, const char *remotehost, const char *remoteinfo,
		     const char *remoteip, const char *local, time_t now);

/* qmqp_reply_exit - what qmail-qmqpd answers for a qmail-queue exit code:
 * "Zqq write error or disk full (#4.3.0)", ...; "" for 0 */
const char *qmqp_reply_exit(int code);
/* qmqp_reply_ok - "Kok <now> qp <qp>" into buf; returns the length */
size_t qmqp_reply_ok(char *buf, size_t cap, time_t now, unsigned long qp);
/* qmqp_reply_custom - a queue program's custom error text (exit 82 / 88)
 * as the reply: its first byte D or Z and more than 2 bytes (else 0),
 * CR, LF and other control bytes as spaces, at most 254 bytes of text */
size_t qmqp_reply_custom(char *out, size_t cap, const char *text, size_t len);
/* qmqp_reply_encode - "<len>:<result>," into out; 0 if cap is too small */
size_t qmqp_reply_encode(char *out, size_t cap, const char *result);

/*
 * Client side.
 */
enum qmqp_status {
	QMQP_OK,	/* K: the server queued the message */
	QMQP_TEMP,	/* Z: temporary refusal (qmail-qmqpc exits 71) */
	QMQP_PERM,	/* D: permanent refusal (31) */
	QMQP_ETIMEOUT,	/* the connection timed out (72) */
	QMQP_EREFUSED,	/* refused or unreachable (73) */
	QMQP_ECONV,	/* connected, then the conversation broke: an I/O error
			 * or timeout, EOF, or a reply that is not a K/Z/D
			 * netstring (74) */
	QMQP_EREAD,	/* the message file could not be read, or shrank (54) */
	QMQP_ESYS,	/* no socket or no memory here (56 / 51) */
};
/* qmqp_status_name - "ok", "temp", "perm", "timeout", "refused", ... */
const char *qmqp_status_name(enum qmqp_status);

struct qmqp_result {
	enum qmqp_status status;
	int errnum;		/* errno of the failing call, 0 if none */
	char text[256];		/* K/Z/D: the server's text after the letter, control
				 * bytes as '?'; else what failed, for the log */
};
/* qmqp_reply_decode - 1 when buf[0..len) starts with a whole reply
 * netstring (r->status QMQP_OK / TEMP / PERM and r->text set), 0 if more
 * is needed, -1 if it is not a reply (r->text says why) */
int qmqp_reply_decode(const char *buf, size_t len, struct qmqp_result *r);

/* A server: a numeric IPv4 or IPv6 address and a port.  No names: a DNS
 * lookup would block the caller, and qmail-qmqpc takes addresses only. */
struct qmqp_addr {
	struct sockaddr_storage sa;
	socklen_t salen;
	char name[64];		/* "192.0.2.7:628", "[2001:db8::7]:628" */
};
/* qmqp_addr_parse - "192.0.2.7", "192.0.2.7:6628", "2001:db8::7",
 * "[2001:db8::7]", "[2001:db8::7]:6628" (port 628 when none);
 * 0, or -1 with a reason in err */
int qmqp_addr_parse(const char *s, struct qmqp_addr *, char *err, size_t errlen);

/* One message: prefix, then bytes [off, end of file) of fd but for the skip
 * ranges, and its envelope.  The prefix (sluiced's verdict headers of a
 * tagged message, which a local queue gets inserted into the file) is sent
 * first, as part of the message; skip holds nskip pairs of offsets
 * [from, to), in order, not overlapping, within [off, end of file) (the
 * sender's own fields of the tag's names, which a local queue gets removed
 * from the file).  Both must stay valid until the exchange is over. */
struct qmqp_msg {
	int fd;			/* read with pread only: the offset is not moved */
	off_t off;		/* first byte of the file to send */
	const char *prefix;	/* NULL or prefix_len bytes sent before the file's */
	size_t prefix_len;
	const off_t *skip;	/* NULL or nskip pairs: byte ranges not sent */
	size_t nskip;
	const char *sender;	/* "" for a bounce */
	const char *const *rcpt;
	size_t nrcpt;
};
struct qmqp_limits {
	unsigned connect_ms;	/* 0: 10000, qmail-qmqpc's */
	unsigned io_ms;		/* each wait for the socket; 0: 60000, qmail-qmqpc's */
	int64_t deadline_ms;	/* qmqp_now_ms() time the whole exchange must end by; 0: none */
};

/*
 * The exchange as a state machine.  start() opens a non-blocking socket
 * and begins the connect; then, whenever c->fd is ready for what the last
 * call returned (QMQP_WANT_READ / QMQP_WANT_WRITE), or when
 * qmqp_client_deadline() has passed, call step().  QMQP_DONE: c->result
 * holds the outcome and the socket is closed.  Nothing blocks but pread()
 * of the message file.  qmqp_client_free() releases it in any state (an
 * unfinished exchange is cut: the server never sees the final comma, so
 * it queues nothing).
 */
enum qmqp_want {
	QMQP_DONE = 0,
	QMQP_WANT_READ = 1,
	QMQP_WANT_WRITE = 2,
};
struct qmqp_client {
	int fd;			/* the socket; -1 once done */
	struct qmqp_result result;
	/* private */
	int state;
	char server[64];	/* the address's name, for the texts */
	struct qmqp_limits lim;
	int64_t phase_end;	/* when the current wait times out */
	int msgfd;
	off_t pos, end;		/* the next and the last+1 byte of the file to send */
	const off_t *skip;	/* the message's skip ranges (qmqp_msg), the next at */
	size_t nskip, next_skip;	/* skip[2 * next_skip] */
	char *head;		/* "<outer len>:<message len>:" */
	size_t head_len, head_sent;
	const char *prefix;	/* the message's prefix (qmqp_msg) */
	size_t prefix_len, prefix_sent;
	char *tail;		/* ",<sender><rcpt>...," */
	size_t tail_len, tail_sent;
	char *chunk;		/* bytes of the file read and not yet sent */
	size_t chunk_len, chunk_sent;
	char reply[QMQP_REPLY_MAX + 32];
	size_t reply_len;
};
enum qmqp_want qmqp_client_start(struct qmqp_client *, const struct qmqp_addr *,
				 const struct qmqp_msg *, const struct qmqp_limits *, int64_t now_ms);
enum qmqp_want qmqp_client_step(struct qmqp_client *, int64_t now_ms);
int64_t qmqp_client_deadline(const struct qmqp_client *);
void qmqp_client_free(struct qmqp_client *);

/* qmqp_send - the whole exchange, blocking in poll() within the limits
 * (for a worker thread); the status, with the details in *r */
enum qmqp_status qmqp_send(const struct qmqp_addr *, const struct qmqp_msg *,
			   const struct qmqp_limits *, struct qmqp_result *);
/* qmqp_send_list - qmail-qmqpc's rule: the servers in turn until one
 * connects (ETIMEOUT / EREFUSED go on to the next); once connected its
 * answer is final.  With none left, the last connect failure. */
enum qmqp_status qmqp_send_list(const struct qmqp_addr *, size_t n, const struct qmqp_msg *,
				const struct qmqp_limits *, struct qmqp_result *);

/*
 * sluice-qmqpd: the queue program behind a connection, as qmail.c's
 * qmail_open / qmail_put / qmail_from / qmail_to / qmail_fail /
 * qmail_close.  Writes into its pipes wait at most io_ms and never past
 * deadline_ms; a write that fails or times out marks it broken: the rest
 * is dropped, the envelope is never terminated, so nothing is queued.
 */
enum qmqp_qq_mode {
	QMQP_QQ_DAEMON,		/* sluiced over its socket (client.h's wire protocol) */
	QMQP_QQ_EXEC,		/* fork and exec $QMAILQUEUE, as qmail-qmqpd does */
};
struct qmqp_qq_cfg {
	enum qmqp_qq_mode mode;
	const char *socket;	/* daemon: sluiced's socket */
	unsigned accept_ms;	/* daemon: wait for its ack */
	const char *program;	/* exec: the queue program (absolute path) */
	const char *home;	/* exec: its working directory (qmail's home) */
	enum client_custom custom;	/* exec: where it writes a custom error text */
	int error_fd;		/* exec: the fd for CUSTOM_INDIMAIL */
	unsigned io_ms;
};
struct qmqp_qq {
	const struct qmqp_qq_cfg *cfg;
	int64_t deadline_ms;	/* set by the caller: the connection's end */
	int fdm, fde;		/* write ends of the message and envelope pipes */
	int sock;		/* daemon: the connection to sluiced */
	int errfd;		/* exec: read end of the custom-error pipe */
	pid_t pid;		/* exec: the queue program */
	unsigned long qp;	/* the "qp" of the K reply */
	int broken;		/* a write failed: what follows is dropped */
	int failed;		/* qmqp_qq_fail(): the envelope stays unterminated */
	char why[256];		/* the first problem, for the log */
};
/* qmqp_qq_open - start the queue program; -1 with q->why when it cannot be
 * reached (q is then closed and needs no qmqp_qq_close) */
int qmqp_qq_open(struct qmqp_qq *, const struct qmqp_qq_cfg *, int64_t deadline_ms);
void qmqp_qq_put(struct qmqp_qq *, const char *, size_t);
/* qmqp_qq_from - end of the message; the sender record */
void qmqp_qq_from(struct qmqp_qq *, const char *addr);
void qmqp_qq_to(struct qmqp_qq *, const char *addr);
void qmqp_qq_fail(struct qmqp_qq *);
/* qmqp_qq_close - terminate the envelope (unless failed), wait for the
 * outcome; the reply text into buf ("" = queued), as qmail-qmqpd words it */
const char *qmqp_qq_close(struct qmqp_qq *, char *buf, size_t cap);

/*
 * One connection of sluice-qmqpd: read the request from in, hand it to the
 * queue program as it arrives, answer on out.
 */
struct qmqp_server_cfg {
	int in, out;		/* the client (tcpserver: 0 and 1) */
	struct qmqp_qq_cfg qq;
	unsigned timeout_ms;	/* the whole connection (qmail-qmqpd: 3600 s) */
	unsigned io_ms;		/* without a byte from the client, or progress */
	/* when set, every request is read and answered with this text (a
	 * configuration error: "Zqq unable to read configuration (#4.3.0)");
	 * refuse_why goes to the log */
	const char *refuse, *refuse_why;
	/* the Received line's fields; NULL as qmail-qmqpd defaults them */
	const char *remotehost, *remoteinfo, *remoteip, *localhost, *localip;
};
enum qmqp_served {
	QMQP_ANSWERED,		/* a reply was sent (K, Z or D) */
	QMQP_MALFORMED,		/* bad request: no reply (qmail-qmqpd exits 100) */
	QMQP_LIMIT,		/* too long, too slow, or a reply we could not
				 * send: no reply (qmail-qmqpd exits 111) */
	QMQP_GONE,		/* the client left first (qmail-qmqpd exits 0) */
};
struct qmqp_server_report {
	char answer[300];	/* the reply's payload, "" when none was sent */
	char why[300];		/* what went wrong, "" when nothing did */
	uint64_t bytes;		/* message bytes received */
	unsigned nrcpt;
	unsigned long qp;
};
enum qmqp_served qmqp_server_run(const struct qmqp_server_cfg *, struct qmqp_server_report *);

#endif
