/*
 * sluice-queue - the QMAILQUEUE program: hand fd 0 and fd 1 to sluiced.
 *
 *	Connects to $SLUICE_SOCKET (default $QUEUE_BASE/sluiced.sock), waits
 *	within SLUICE_ACCEPT_TIMEOUT seconds for the daemon's go-ahead (sent
 *	once it admits the connection), then passes fds 0 and 1 with
 *	SCM_RIGHTS and closes its own copies (so that a dead daemon means
 *	EPIPE for qmail-smtpd, never a hang), waits for the reply within
 *	SLUICE_TIMEOUT, writes a custom reject text where the reply says, and
 *	exits with the reply's code.  No daemon, or no go-ahead in time: exit
 *	71 (the fds were never passed, so qmail-smtpd's writes fail at once),
 *	or direct mode when SLUICE_FALLBACK=direct.
 *	fd 0 or 1 not open: exit 54 at once, as qmail-queue's reads would fail.
 *	SLUICE_MODE=direct does qmail-queue's job in this process.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "control/control.h"
#include "queue/diag.h"

/* usage - from the settings table: what this program reads, and nothing else */
static void usage(void)
{
	printf("usage: sluice-queue   (run by qmail-smtpd as QMAILQUEUE; message on fd 0, "
	       "envelope on fd 1)\n\nEnvironment (default in brackets):\n");
	control_settings_help(stdout, CONTROL_P_QUEUE, 0);
	printf("Direct mode (SLUICE_MODE=direct, or SLUICE_FALLBACK=direct without a daemon):\n");
	control_settings_help(stdout, CONTROL_P_DIRECT, CONTROL_P_QUEUE);
	printf("Exit codes are qmail-queue's; see sluice-queue(8) and sluice-control(5).\n");
}

static void on_alarm(int sig)
{
	(void)sig;
	_exit(client_status_exit(SQ_TEMP_TIMEOUT));	/* a table lookup: async-signal-safe */
}

static int direct(void)
{
	struct client_direct d;
	char err[512];

	if (client_direct_env(&d, err, sizeof err) < 0) {
		diag_info("%s", err);
		return client_status_exit(SQ_TEMP_CONFIG);
	}
	return client_direct_run(&d);
}

/* group_name - gid's name from /etc/group (no NSS: this program is static),
 * else its number */
static const char *group_name(gid_t gid, char *buf, size_t cap)
{
	FILE *f = fopen("/etc/group", "re");
	char line[1024];

	snprintf(buf, cap, "%lu", (unsigned long)gid);
	while (f && fgets(line, sizeof line, f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (c2 && strtoul(c2 + 1, NULL, 10) == gid && c2[1] >= '0' && c2[1] <= '9') {
			*c1 = 0;
			snprintf(buf, cap, "%s", line);
			break;
		}
	}
	if (f)
		fclose(f);
	return buf;
}

/*
 * denied_why - after EACCES, why, and what to do: the socket is meant for
 *	qmail-smtpd's group; a local user's qmail-inject with QMAILQUEUE set
 *	globally lands here.
 */
static const char *denied_why(const char *path, char *buf, size_t cap)
{
	gid_t groups[256];
	char name[64];
	struct stat st;
	int n, i;

	if (stat(path, &st) < 0) {
		snprintf(buf, cap, " (a directory on the way is closed to uid %lu; see sluice-queue(8))",
			 (unsigned long)geteuid());
		return buf;
	}
	n = getgroups(sizeof groups / sizeof groups[0], groups);
	for (i = 0; i < n && groups[i] != st.st_gid; i++)
		;
	if (st.st_gid == getegid() || (n > 0 && i < n))
		snprintf(buf, cap, " (socket mode %04o; see sluice-queue(8))",
			 (unsigned)(st.st_mode & 07777));
	else
		snprintf(buf, cap, " (uid %lu is not in group %s; local injection should use "
			 "qmail-queue, see sluice-queue(8))", (unsigned long)geteuid(),
			 group_name(st.st_gid, name, sizeof name));
	return buf;
}

int main(int argc, char **argv)
{
	char path[4200], req[WIRE_REQ_MAX], buf[512], err[512];
	const char *sock;
	struct control_settings set;
	long accept_timeout, timeout;
	int fds[2] = { 0, 1 }, s, direct_mode, fallback;
	struct wire_reply r;
	ssize_t n;
	size_t len;
	time_t t_start;
	long left;
	diag_program("sluice-queue", QQ_NOMEM);
	{
		/* IndiMail reads ERROR_FD (2 by default) to its end as the reply
		 * text when the exit is 88: no line of ours may land there */
		const char *ce = getenv("SLUICE_CUSTOM_ERROR"), *ef = getenv("ERROR_FD");

		if (ce && !strcmp(ce, "indimail") && (!ef || !*ef || !strcmp(ef, "2")))
			diag_quiet(1);
	}

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage();
		return 0;
	}
	/* the settings table's parser: a bad value names the variable and
	 * gives 451 qq unable to read configuration, never a silent default */
	if (control_settings_read(&set, CONTROL_P_QUEUE, NULL, err, sizeof err) < 0) {
		diag_info("%s", err);
		return client_status_exit(SQ_TEMP_CONFIG);
	}
	accept_timeout = (long)set.v[CONTROL_S_SLUICE_ACCEPT_TIMEOUT].u;
	timeout = (long)set.v[CONTROL_S_SLUICE_TIMEOUT].u;
	direct_mode = !strcmp(control_settings_word(&set, CONTROL_S_SLUICE_MODE), "direct");
	fallback = !strcmp(control_settings_word(&set, CONTROL_S_SLUICE_FALLBACK), "direct");
	sock = control_settings_socket(&set, path, sizeof path);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)timeout);
	/* Before anything can take their numbers: a closed fd 0 or 1 would
	 * otherwise be our own socket, sent to the daemon as the message. */
	if (fcntl(0, F_GETFL) < 0 || fcntl(1, F_GETFL) < 0) {
		diag_info("fd %d is not open: run me as qmail-smtpd runs "
			"qmail-queue (message on fd 0, envelope on fd 1)", fcntl(0, F_GETFL) < 0 ? 0 : 1);
		return client_status_exit(SQ_TEMP_READ);
	}
	if (direct_mode)
		return direct();

	t_start = time(NULL);
	if ((s = client_conn_open(sock, accept_timeout)) < 0) {
		int e = errno;
		char why[200] = "";

		if (e == EACCES)
			denied_why(sock, why, sizeof why);
		diag_info("cannot connect to %s: %s%s%s", sock, strerror(e),
			why, fallback ? "; queueing directly" : "");
		return fallback ? direct() : client_status_exit(SQ_TEMP_BUSY);
	}
	/* Over its limits the daemon does not accept: we wait in the listen
	 * backlog holding the fds ourselves, and giving up frees them. */
	left = accept_timeout - (long)(time(NULL) - t_start);	/* connect() may have waited */
	n = client_conn_wait(s, buf, 1, 1, left > 0 ? left : 1);
	if (n != 1 || buf[0] != WIRE_GO) {
		if (n == -2)
			diag_info("%s did not admit the message within %ld s "
				"(SLUICE_ACCEPT_TIMEOUT)%s", sock, accept_timeout,
				fallback ? "; queueing directly" : "");
		else
			diag_info("%s closed the connection before admitting the "
				"message%s", sock, fallback ? "; queueing directly" : "");
		close(s);
		return fallback ? direct() : client_status_exit(SQ_TEMP_BUSY);
	}
	len = wire_env(req, sizeof req);
	if (wire_send_request(s, fds, req, len) < 0) {
		diag_info("cannot pass the message to %s: %s", sock,
			strerror(errno));
		return fallback ? (close(s), direct()) : client_status_exit(SQ_TEMP_BUSY);
	}
	/* The daemon holds the pipes now; without our copies a dead daemon
	 * gives qmail-smtpd EPIPE instead of a full pipe it waits on. */
	close(0);
	close(1);
	n = client_conn_wait(s, buf, sizeof buf, 0, timeout);
	if (n <= 0 || wire_reply_decode(buf, (size_t)n, &r) != 1) {
		diag_info("%s closed the connection before its verdict", sock);
		return client_status_exit(SQ_TEMP_BUSY);
	}
	/* When the convention's fd was not open at exec, our socket may have
	 * taken its number (fd 2 closed: socket() returns 2): that fd is ours,
	 * not qmail-smtpd's, so the text must not go there - plain code. */
	if (r.fd == s)
		r.fd = -1;
	return client_deliver_reply(&r);
}
