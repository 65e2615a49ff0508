/*
 * control_settings.c - the table of every setting of every sluice program.
 *
 *	control_settings_table[] holds, for each environment variable (read
 *	with SLUICE_ENVDIR over the environment where sluiced reads it) and
 *	each control file of the policy: its type and range, its default and
 *	how that is derived when it is, one line of meaning, the programs
 *	that read it, and whether a running sluiced applies a change on
 *	SIGHUP (live) or at its next start.  Everything else follows from it:
 *	the parser (control_settings_read.c), what a reload reports and keeps
 *	(control_settings_diff.c), sluiced's and sluice-queue's --help and
 *	the entries of sluice-control(5) (control_settings_help.c; a test
 *	compares the page with the table).
 *
 *	control_settings_find() looks an entry up by name.
 *
 *	The live flag says what sluiced applies today: limits, time-outs,
 *	verdict actions, the custom-error convention.  Whatever shapes
 *	threads, sockets, queues, scanners or the commit is built once at
 *	start and waits for a restart.
 */
#include <string.h>

#include "control.h"

static const char *const w_sync[] = { "full", "data", "fs", "none", NULL };
static const char *const w_action[] = { "reject", "defer", "drop", "accept", "tag", "quarantine",
					NULL };
static const char *const w_on_error[] = { "defer", "accept", NULL };
static const char *const w_rejectvirus[] = { "0", "1", "2", NULL };
static const char *const w_then[] = { "reject", "drop", "accept=drop", NULL };
static const char *const w_custom[] = { "none", "notqmail", "simscan", "indimail", NULL };
static const char *const w_encrypted[] = { "pass", "limit", NULL };
static const char *const w_clamav_mime[] = { "walker", "libclamav", NULL };
static const char *const w_scanners[] = { "clamav", "attach", "exec", "clamd", "spamd", "rspamd",
					  "null", "test=", NULL };
static const char *const w_sender[] = { "relay", "always", "never", NULL };
static const char *const w_mode[] = { "daemon", "direct", NULL };
static const char *const w_fallback[] = { "none", "direct", NULL };
static const char *const w_qmqpd_mode[] = { "daemon", "exec", NULL };
static const char *const w_local[] = { "queue", "spool", NULL };

#define S(id, ...) [CONTROL_S_##id] = { .name = #id, __VA_ARGS__ }
#define NUM(l, h) .type = CONTROL_T_NUMBER, .lo = (l), .hi = (h)
#define SECS(l, h) .type = CONTROL_T_SECONDS, .lo = (l), .hi = (h)
#define BYTES(l, h) .type = CONTROL_T_BYTES, .lo = (l), .hi = (h)
#define MODE .type = CONTROL_T_MODE, .hi = 0777
#define ENUM(w) .type = CONTROL_T_ENUM, .words = (w)
#define LIST(w) .type = CONTROL_T_LIST, .words = (w)
#define STRING .type = CONTROL_T_STRING
#define PATH .type = CONTROL_T_PATH
#define CFILE .type = CONTROL_T_FILE

#define D CONTROL_P_SLUICED
#define Q CONTROL_P_QUEUE
#define DM CONTROL_P_DIRECT
#define M CONTROL_P_QMQPD
#define T CONTROL_P_QSTAT
#define K CONTROL_P_MKQUEUE
#define C CONTROL_P_CDB
#define LIVE .live = 1
#define MAX64 UINT64_MAX

const struct control_setting control_settings_table[CONTROL_NSETTINGS] = {
	/* queues */
	S(QUEUE_BASE, PATH, .programs = D | Q | DM | M | T | K, .def = "/var/qmail/queues",
	  .help = "directory holding the queues queue<N>"),
	S(QUEUE_COUNT, NUM(1, 1000), .programs = D | DM | T | K, .def = "5",
	  .help = "number of queues"),
	S(QUEUE_START, NUM(0, 1000000), .programs = D | DM | T | K, .def = "1",
	  .help = "number of the first queue"),
	S(QUEUEDIR, PATH, .programs = D | DM | T | K,
	  .help = "use this one queue instead of the numbered ones"),
	S(CONFSPLIT, NUM(1, 1000), .programs = D | DM | K, .def = "23",
	  .help = "split of the queues' mess/ directories (qmail's conf-split)"),
	/* sockets, user, the settings directory */
	S(SLUICE_SOCKET, PATH, .programs = D | Q | M | T, .derived = "$QUEUE_BASE/sluiced.sock",
	  .help = "socket sluice-queue connects to"),
	S(SLUICE_STATS_SOCKET, PATH, .programs = D | T, .derived = "$SLUICE_SOCKET.stats",
	  .help = "socket answering live figures"),
	S(SLUICE_SOCKET_MODE, MODE, .programs = D, .def = "0660",
	  .help = "mode of the message socket (octal)"),
	S(SLUICE_STATS_MODE, MODE, .programs = D, .def = "0660",
	  .help = "mode of the stats socket (octal)"),
	S(SLUICE_SOCKET_GROUP, STRING, .programs = D, .derived = "nofiles when started as root",
	  .help = "group of both sockets"),
	S(SLUICE_USER, STRING, .programs = D,
	  .help = "user to become when started as root (the queue owner)"),
	S(SLUICE_ENVDIR, PATH, .programs = D | T | K,
	  .derived = "unset; sluice-qstat and sluice-mkqueue: the installed settings",
	  .help = "envdir(8) directory read at start and again on SIGHUP"),
	/* limits and time-outs */
	S(SLUICE_MAX_INFLIGHT, NUM(1, 1000000), .programs = D, LIVE, .def = "512",
	  .derived = "512, fewer when the open files limit cannot hold them",
	  .help = "messages received and not yet answered"),
	S(SLUICE_MAX_BYTES, BYTES(1, MAX64), .programs = D, LIVE, .def = "1073741824",
	  .help = "bytes of such messages"),
	S(SLUICE_SCAN_QUEUE, NUM(1, 1000000), .programs = D, .def = "256",
	  .help = "messages waiting for a scan worker"),
	S(SLUICE_WORKERS, NUM(1, 256), .programs = D, .derived = "the number of processors online",
	  .help = "scan worker threads"),
	S(SLUICE_READ_TIMEOUT, SECS(1, 604800), .programs = D, LIVE, .def = "1200",
	  .help = "seconds without a byte from qmail-smtpd"),
	S(SLUICE_MESSAGE_TIMEOUT, SECS(1, 604800), .programs = D, LIVE, .def = "86400",
	  .help = "seconds for one whole message"),
	S(SLUICE_SCAN_TIMEOUT, SECS(1, 86400), .programs = D, LIVE, .def = "60",
	  .help = "seconds for all scanners of one message"),
	S(SLUICE_SCANNER_TIMEOUT, SECS(0, 86400), .programs = D, LIVE, .def = "0",
	  .help = "seconds for one scanner of one message (0: only SLUICE_SCAN_TIMEOUT)"),
	S(SLUICE_DRAIN_TIMEOUT, SECS(0, 86400), .programs = D, LIVE, .def = "60",
	  .help = "seconds SIGTERM waits for messages in flight (0: as long as they take)"),
	S(SLUICE_RELOAD_CHECK, SECS(0, 86400), .programs = D, .def = "60",
	  .help = "seconds between checks for a changed signature DB (0: never)"),
	/* commit and queue choice */
	S(SLUICE_SYNC, ENUM(w_sync), .programs = D | DM, .def = "full",
	  .help = "flushes before the commit: full, data, fs or none"),
	S(SLUICE_BATCH, NUM(1, 64), .programs = D, .def = "64",
	  .help = "messages per commit batch at most"),
	S(SLUICE_FSYNC_THREADS, NUM(0, 64), .programs = D, .def = "8",
	  .help = "threads issuing a batch's fsyncs at once (0: one after another)"),
	S(MIN_FREE, BYTES(0, MAX64), .programs = D | DM, LIVE, .def = "0",
	  .help = "bytes a queue's filesystem must keep free"),
	S(SLUICE_REQUIRE_SEND, NUM(0, 1), .programs = D, .def = "0",
	  .help = "1: skip a queue while no qmail-send holds its lock/sendmutex"),
	S(SLUICE_MAX_BACKLOG, NUM(1, MAX64), .programs = D, LIVE, .def = "100000",
	  .help = "todo + intd entries a queue may hold"),
	/* remote queues (router/router_remote.c) */
	S(SLUICE_QMQP, LIST(NULL), .programs = D,
	  .help = "QMQP servers taken as remote queues: 192.0.2.7[:port], [2001:db8::7]:port, "
		  "or the path of a qmqpservers file"),
	S(SLUICE_QMQP_WEIGHT, NUM(0, 100), .programs = D, LIVE, .def = "100",
	  .help = "percent of messages sent to a remote queue while a local one could take them too"),
	S(SLUICE_LOCAL_QUEUES, ENUM(w_local), .programs = D, .def = "queue",
	  .help = "queue (qmail queues, remote failover) or spool (edge relay: remote queues only)"),
	S(SLUICE_QMQP_CONNS, NUM(1, 10000), .programs = D, LIVE, .def = "16",
	  .help = "connections at once to one QMQP server"),
	S(SLUICE_QMQP_CONNECT_TIMEOUT, SECS(1, 3600), .programs = D, LIVE, .def = "10",
	  .help = "seconds for one connect to a QMQP server"),
	S(SLUICE_QMQP_IO_TIMEOUT, SECS(1, 86400), .programs = D, LIVE, .def = "60",
	  .help = "seconds of each wait for a QMQP server to take or answer"),
	S(SLUICE_QMQP_TIMEOUT, SECS(1, 86400), .programs = D, LIVE, .def = "300",
	  .help = "seconds for relaying one message, every server tried included"),
	S(SLUICE_QMQP_RETRY, SECS(1, 86400), .programs = D, LIVE, .def = "10",
	  .help = "seconds a failed or slow QMQP server rests before it is tried again"),
	S(SLUICE_QMQP_SLOW, NUM(0, 3600000), .programs = D, LIVE, .def = "5000",
	  .help = "milliseconds over which a QMQP server's answer makes it slow (0: never)"),
	/* scanning and verdicts */
	S(SLUICE_SCANNERS, LIST(w_scanners), .programs = D, .def = "clamav,attach",
	  .help = "scanners run on every message, in order (null: none)"),
	S(SLUICE_ON_VIRUS, ENUM(w_action), .programs = D, LIVE, .def = "reject",
	  .help = "what to do with a virus"),
	S(SLUICE_ON_BANNED, ENUM(w_action), .programs = D, LIVE, .def = "reject",
	  .help = "what to do with a banned attachment"),
	S(SLUICE_ON_SPAM, ENUM(w_action), .programs = D, LIVE, .def = "reject",
	  .help = "what to do with spam"),
	S(SLUICE_ON_LIMIT, ENUM(w_action), .programs = D, LIVE, .def = "reject",
	  .help = "what to do when a limit is hit or a structure cannot be opened"),
	S(SLUICE_ON_ERROR, ENUM(w_on_error), .programs = D, LIVE, .def = "defer",
	  .help = "what to do on a scanner failure or time-out"),
	S(REJECTVIRUS, ENUM(w_rejectvirus), .programs = D | DM, LIVE,
	  .derived = "unset: SLUICE_ON_VIRUS; direct mode: 1",
	  .help = "IndiMail's virus action: 0 accept, 1 reject, 2 drop; over SLUICE_ON_VIRUS"),
	S(SLUICE_TAG_CLEAN, NUM(0, 1), .programs = D, LIVE, .def = "0",
	  .help = "1: X-QHPSI and X-Virus-Scanned headers on clean mail too"),
	S(SLUICE_QUARANTINE, PATH, .programs = D,
	  .help = "Maildir for the quarantine action (made at start)"),
	S(SLUICE_QUARANTINE_LOG, PATH, .programs = D,
	  .derived = "$SLUICE_QUARANTINE/quarantine.log", .help = "tab-separated quarantine log"),
	S(SLUICE_QUARANTINE_THEN, ENUM(w_then), .programs = D, .def = "reject",
	  .help = "after quarantining: reject (554) or drop (250)"),
	S(SLUICE_CUSTOM_ERROR, ENUM(w_custom), .programs = D | DM | M, LIVE, .def = "none",
	  .help = "custom reject text: notqmail (82, fd 6), simscan (82, fd 4), indimail (88, ERROR_FD)"),
	S(ERROR_FD, NUM(0, 127), .programs = D | DM | M, LIVE, .def = "2",
	  .help = "fd of IndiMail's custom error text"),
	/* the scanners */
	S(SLUICE_CLAMDB, PATH, .programs = D,
	  .derived = "/var/lib/clamav when it holds a database, else sluice's starter DB",
	  .help = "signature directory of the clamav scanner"),
	S(SLUICE_BANNED, LIST(NULL), .programs = D,
	  .def = ".exe .com .bat .cmd .scr .pif .vbs .vbe .js .jse .wsf .wsh .hta .lnk .cpl .msi "
		 ".msp .reg .ps1 .jar",
	  .help = "banned attachment name suffixes (attach; clamav too when attach runs)"),
	S(SLUICE_ENCRYPTED, ENUM(w_encrypted), .programs = D, .def = "pass",
	  .help = "an encrypted archive (clamav scanner): pass, or limit (SLUICE_ON_LIMIT decides)"),
	S(SLUICE_CLAMAV_MIME, ENUM(w_clamav_mime), .programs = D, .def = "walker",
	  .help = "the clamav scanner's MIME parts: walker (decoded in memory) or libclamav (its mail parser, temp files)"),
	S(QHPSI, STRING, .programs = D | DM,
	  .help = "exec scanner command (%s: the message's path, else appended)"),
	S(QHPSIARG1, STRING, .programs = D | DM, .help = "first extra argument of the exec scanner"),
	S(QHPSIARG2, STRING, .programs = D | DM, .help = "second extra argument"),
	S(QHPSIARG3, STRING, .programs = D | DM, .help = "third extra argument"),
	S(QHPSIMINSIZE, BYTES(0, MAX64), .programs = D | DM, .def = "0",
	  .help = "exec scanner skips smaller messages (0: no bound)"),
	S(QHPSIMAXSIZE, BYTES(0, MAX64), .programs = D | DM, .def = "0",
	  .help = "exec scanner skips larger messages (0: no bound)"),
	S(QHPSIRC, NUM(0, 255), .programs = D | DM, .def = "1",
	  .help = "exec scanner's exit code for infected"),
	S(QHPSIRN, NUM(0, 255), .programs = D | DM, .def = "0",
	  .help = "exec scanner's exit code for clean (any other: failure)"),
	S(SLUICE_CLAMD, LIST(NULL), .programs = D,
	  .help = "clamd servers: unix:/path, host:port, [v6]:port"),
	S(SLUICE_CLAMD_FILDES, NUM(0, 1), .programs = D, .def = "0",
	  .help = "1: pass the message's fd to clamd on a unix socket (FILDES)"),
	S(SLUICE_CLAMD_MAXSTREAM, BYTES(1, MAX64), .programs = D, .def = "26214400",
	  .help = "bytes streamed to clamd at most; larger: a limit verdict"),
	S(SLUICE_SPAMD, LIST(NULL), .programs = D,
	  .help = "spamd servers: unix:/path, host:port, [v6]:port"),
	S(SLUICE_SPAMD_USER, STRING, .programs = D,
	  .help = "spamd's User: (%r: the first recipient; unset: none)"),
	S(SLUICE_SPAM_HITS, .type = CONTROL_T_SCORE, .programs = D, .def = "0",
	  .help = "spamd: spam at this score or more (0: spamd's required score)"),
	S(SLUICE_SPAM_MAXSIZE, BYTES(1, MAX64), .programs = D, .def = "512000",
	  .help = "spamd and rspamd skip larger messages"),
	S(SLUICE_SPAM_RELAYCLIENT, NUM(0, 1), .programs = D, .def = "0",
	  .help = "1: spamd checks relay clients (RELAYCLIENT set) too"),
	S(SLUICE_RSPAMD, LIST(NULL), .programs = D,
	  .help = "rspamd servers: http://host:port[/path] or unix:/path"),
	S(SLUICE_NET_THREADS, NUM(1, 1024), .programs = D, .def = "64",
	  .help = "threads for the network scanners (clamd, spamd, rspamd)"),
	S(SLUICE_NET_CONNS, NUM(1, 10000), .programs = D, .def = "16",
	  .help = "connections at once to one network scanner server"),
	S(SLUICE_NET_CONNECT_TIMEOUT, SECS(1, 3600), .programs = D, .def = "2",
	  .help = "seconds for one connect to a network scanner server"),
	S(SLUICE_NET_RETRY, SECS(1, 86400), .programs = D, .def = "10",
	  .help = "seconds a failed network scanner server rests before a probe"),
	/* the policy */
	S(SLUICE_CONTROL, PATH, .programs = D | C, .def = CONTROL_DIR_DEFAULT,
	  .help = "control directory: simcontrol(.cdb) and ssattach, per-domain policy"),
	S(SLUICE_POLICY_SENDER, ENUM(w_sender), .programs = D | C, .def = "relay",
	  .help = "when the sender's simcontrol entries count: relay, always or never"),
	/* sluice-queue */
	S(SLUICE_MODE, ENUM(w_mode), .programs = Q, .def = "daemon",
	  .help = "daemon, or direct: qmail-queue's job in this process"),
	S(SLUICE_FALLBACK, ENUM(w_fallback), .programs = Q, .def = "none",
	  .help = "without a daemon: none (exit 71) or direct"),
	S(SLUICE_ACCEPT_TIMEOUT, SECS(1, 604800), .programs = Q | M, .def = "10",
	  .help = "seconds to wait for the daemon to take the message"),
	S(SLUICE_TIMEOUT, SECS(1, 10000000), .programs = Q, .def = "86400",
	  .help = "seconds to wait for the verdict; then exit 52"),
	/* sluice-qmqpd */
	S(SLUICE_QMQPD_MODE, ENUM(w_qmqpd_mode), .programs = M, .def = "daemon",
	  .help = "daemon (hand each message to sluiced) or exec (run QMAILQUEUE)"),
	S(SLUICE_QMQPD_TIMEOUT, SECS(1, 604800), .programs = M, .def = "3600",
	  .help = "seconds for one whole connection"),
	S(SLUICE_QMQPD_IO_TIMEOUT, SECS(1, 604800), .programs = M, .def = "1200",
	  .help = "seconds without progress from the client, the queue program or the reply"),
	S(QMAILQUEUE, PATH, .programs = M, .def = "/var/qmail/bin/qmail-queue",
	  .help = "exec mode: the queue program (an absolute path)"),
	S(SLUICE_QMAIL_HOME, PATH, .programs = M, .def = "/var/qmail",
	  .help = "exec mode: its working directory"),
	/* control files */
	[CONTROL_S_SIMCONTROL] = { .name = "simcontrol", CFILE, .programs = D | C,
				   .derived = "$SLUICE_CONTROL/simcontrol",
				   .help = "per-domain and per-user policy, simscan's text form (simcontrol(5))" },
	[CONTROL_S_SIMCONTROL_CDB] = { .name = "simcontrol.cdb", CFILE, .programs = D | C,
				       .derived = "$SLUICE_CONTROL/simcontrol.cdb",
				       .help = "the same compiled by sluice-cdb; read instead of simcontrol" },
	[CONTROL_S_SSATTACH] = { .name = "ssattach", CFILE, .programs = D | C,
				 .derived = "$SLUICE_CONTROL/ssattach",
				 .help = "banned attachment suffixes of attach=yes entries (ssattach(5))" },
};

const struct control_setting *control_settings_find(const char *name)
{
	size_t i;

	for (i = 0; i < CONTROL_NSETTINGS; i++)
		if (!strcmp(control_settings_table[i].name, name))
			return &control_settings_table[i];
	return NULL;
}
