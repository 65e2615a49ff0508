/*
 * sluice-qmqpd - the QMQP server: one message per connection, run by
 * tcpserver as qmail-qmqpd is (access by tcprules CDB).
 *
 *	Reads settings from the environment, serves the connection on fds 0
 *	and 1 (qmqp_server_run()), logs one line on fd 2, and exits as
 *	qmail-qmqpd does: 0 after a reply or when the client left, 100 for a
 *	malformed request, 111 for a request over the limits or out of time.
 *	A bad setting is logged and every request is answered "Zqq unable to
 *	read configuration (#4.3.0)".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmqp.h"

static const char usage[] =
	"usage: sluice-qmqpd   (run by tcpserver: the QMQP client on fds 0 and 1, log on fd 2)\n"
	"\n"
	"Environment:\n"
	"  SLUICE_QMQPD_MODE          daemon (default: hand each message to sluiced) or exec\n"
	"  SLUICE_SOCKET              sluiced's socket (default $QUEUE_BASE/sluiced.sock)\n"
	"  SLUICE_ACCEPT_TIMEOUT      seconds for sluiced to take the message (10)\n"
	"  SLUICE_QMQPD_TIMEOUT       seconds for one whole connection (3600)\n"
	"  SLUICE_QMQPD_IO_TIMEOUT    seconds without a byte from the client, or without\n"
	"                             progress writing to the queue program or the reply (1200)\n"
	"  QMAILQUEUE                 exec mode: the queue program (/var/qmail/bin/qmail-queue)\n"
	"  SLUICE_QMAIL_HOME          exec mode: its working directory (/var/qmail)\n"
	"  SLUICE_CUSTOM_ERROR        exec mode: none, notqmail (82, fd 6), simscan (82, fd 4)\n"
	"                             or indimail (88, ERROR_FD): where it writes a reject text\n"
	"  ERROR_FD                   exec mode, indimail convention: that fd (2)\n"
	"  TCPREMOTEHOST TCPREMOTEINFO TCPREMOTEIP TCPLOCALHOST TCPLOCALIP\n"
	"                             set by tcpserver: the Received line\n"
	"Exit codes: 0 answered (or the client left), 100 malformed request, 111 over a\n"
	"limit or out of time (no reply).  See sluice-qmqpd(8).\n";

static const char *env(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

/* secs - $name in seconds into *ms; 0, or -1 with err set */
static int secs(const char *name, uint64_t def, unsigned *ms, char *err, size_t errlen)
{
	uint64_t v;

	if (client_env_num(name, def, 1, 86400 * 7, &v, err, errlen) < 0)
		return -1;
	*ms = (unsigned)(v * 1000);
	return 0;
}

/* settings - cfg from the environment; 0, or -1 with err set */
static int settings(struct qmqp_server_cfg *cfg, char *path, size_t pathcap, char *err,
		    size_t errlen)
{
	const char *mode = env("SLUICE_QMQPD_MODE", "daemon");
	uint64_t efd;

	if (!strcmp(mode, "daemon"))
		cfg->qq.mode = QMQP_QQ_DAEMON;
	else if (!strcmp(mode, "exec"))
		cfg->qq.mode = QMQP_QQ_EXEC;
	else {
		snprintf(err, errlen, "SLUICE_QMQPD_MODE=%s: want daemon or exec", mode);
		return -1;
	}
	cfg->qq.socket = client_conn_path(path, pathcap);
	cfg->qq.program = env("QMAILQUEUE", "/var/qmail/bin/qmail-queue");
	cfg->qq.home = env("SLUICE_QMAIL_HOME", "/var/qmail");
	if (cfg->qq.mode == QMQP_QQ_EXEC && cfg->qq.program[0] != '/') {
		snprintf(err, errlen, "QMAILQUEUE=%s: want an absolute path", cfg->qq.program);
		return -1;
	}
	if (client_custom_parse(env("SLUICE_CUSTOM_ERROR", "none"), &cfg->qq.custom) < 0) {
		snprintf(err, errlen, "SLUICE_CUSTOM_ERROR=%s: want none, notqmail, simscan or "
			 "indimail", getenv("SLUICE_CUSTOM_ERROR"));
		return -1;
	}
	if (client_env_num("ERROR_FD", 2, 0, 127, &efd, err, errlen) < 0)
		return -1;
	cfg->qq.error_fd = (int)efd;
	if (secs("SLUICE_ACCEPT_TIMEOUT", 10, &cfg->qq.accept_ms, err, errlen) < 0 ||
	    secs("SLUICE_QMQPD_TIMEOUT", 3600, &cfg->timeout_ms, err, errlen) < 0 ||
	    secs("SLUICE_QMQPD_IO_TIMEOUT", 1200, &cfg->io_ms, err, errlen) < 0)
		return -1;
	cfg->qq.io_ms = cfg->io_ms;
	return 0;
}

int main(int argc, char **argv)
{
	struct qmqp_server_cfg cfg = { .in = 0, .out = 1 };
	struct qmqp_server_report rep;
	char path[4200], err[512];
	enum qmqp_served how;
	int64_t t0 = qmqp_now_ms();

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (settings(&cfg, path, sizeof path, err, sizeof err) < 0) {
		cfg.refuse = qmqp_reply_exit(QQ_CONFIG);
		cfg.refuse_why = err;
		if (!cfg.timeout_ms)
			cfg.timeout_ms = 3600000;
		if (!cfg.io_ms)
			cfg.io_ms = 1200000;
	}
	cfg.remotehost = getenv("TCPREMOTEHOST");
	cfg.remoteinfo = getenv("TCPREMOTEINFO");
	cfg.remoteip = getenv("TCPREMOTEIP");
	cfg.localhost = getenv("TCPLOCALHOST");
	cfg.localip = getenv("TCPLOCALIP");
	how = qmqp_server_run(&cfg, &rep);
	fprintf(stderr, "sluice-qmqpd: %s qp %lu: %s%s; %llu bytes, %u recipients, %lld ms%s%s\n",
		cfg.remoteip ? cfg.remoteip : "unknown", rep.qp,
		rep.answer[0] ? "answered " : "no reply", rep.answer,
		(unsigned long long)rep.bytes, rep.nrcpt, (long long)(qmqp_now_ms() - t0),
		rep.why[0] ? "; " : "", rep.why);
	switch (how) {
	case QMQP_ANSWERED:
	case QMQP_GONE:
		return 0;
	case QMQP_MALFORMED:
		return 100;
	case QMQP_LIMIT:
		break;
	}
	return 111;
}
