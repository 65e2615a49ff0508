/*
 * sluice-qmqpd - the QMQP server: one message per connection, run by
 * tcpserver as qmail-qmqpd is (access by tcprules CDB).
 *
 *	Reads settings from the environment (control/'s settings table), serves the connection on fds 0
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

#include "control/control.h"
#include "qmqp.h"
#include "queue/diag.h"

/* usage - from the settings table: what this program reads */
static void usage(void)
{
	printf("usage: sluice-qmqpd   (run by tcpserver: the QMQP client on fds 0 and 1, log on "
	       "fd 2)\n\nEnvironment (default in brackets):\n");
	control_settings_help(stdout, CONTROL_P_QMQPD, 0);
	printf("  TCPREMOTEHOST TCPREMOTEINFO TCPREMOTEIP TCPLOCALHOST TCPLOCALIP\n"
	       "                         set by tcpserver: the Received line\n"
	       "Exit codes: 0 answered (or the client left), 100 malformed request, 111 over a\n"
	       "limit or out of time (no reply).  See sluice-qmqpd(8) and sluice-control(5).\n");
}

/* settings - cfg from the environment, as the settings table says; 0, or
 * -1 with err set.  cfg's strings point into set. */
static int settings(struct qmqp_server_cfg *cfg, struct control_settings *set, char *path,
		    size_t pathcap, char *err, size_t errlen)
{
	const struct control_value *v = set->v;

	if (control_settings_read(set, CONTROL_P_QMQPD, NULL, err, errlen) < 0)
		return -1;
	cfg->qq.mode = !strcmp(control_settings_word(set, CONTROL_S_SLUICE_QMQPD_MODE), "exec")
			       ? QMQP_QQ_EXEC : QMQP_QQ_DAEMON;
	cfg->qq.socket = control_settings_socket(set, path, pathcap);
	cfg->qq.program = control_settings_text(set, CONTROL_S_QMAILQUEUE);
	cfg->qq.home = control_settings_text(set, CONTROL_S_SLUICE_QMAIL_HOME);
	if (cfg->qq.mode == QMQP_QQ_EXEC && cfg->qq.program[0] != '/') {
		snprintf(err, errlen, "QMAILQUEUE=%s: want an absolute path", cfg->qq.program);
		return -1;
	}
	if (client_custom_parse(control_settings_word(set, CONTROL_S_SLUICE_CUSTOM_ERROR),
				&cfg->qq.custom) < 0) {
		snprintf(err, errlen, "the settings table and sluice-qmqpd disagree");	/* a bug */
		return -1;
	}
	cfg->qq.error_fd = (int)v[CONTROL_S_ERROR_FD].u;
	cfg->qq.accept_ms = (unsigned)v[CONTROL_S_SLUICE_ACCEPT_TIMEOUT].u * 1000;
	cfg->timeout_ms = (unsigned)v[CONTROL_S_SLUICE_QMQPD_TIMEOUT].u * 1000;
	cfg->io_ms = (unsigned)v[CONTROL_S_SLUICE_QMQPD_IO_TIMEOUT].u * 1000;
	cfg->qq.io_ms = cfg->io_ms;
	return 0;
}

int main(int argc, char **argv)
{
	struct qmqp_server_cfg cfg = { .in = 0, .out = 1 };
	struct control_settings set;
	struct qmqp_server_report rep;
	char path[4200], err[512];
	enum qmqp_served how;
	int64_t t0 = qmqp_now_ms();
	diag_program("sluice-qmqpd", 111);

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage();
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (settings(&cfg, &set, path, sizeof path, err, sizeof err) < 0) {
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
	diag_info("%s qp %lu: %s%s; %llu bytes, %u recipients, %lld ms%s%s",
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
