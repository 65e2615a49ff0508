/*
 * tu_server.c - start and stop the real clamd, spamd and rspamd of the
 * network scanners' tests; temp message files.  See testutil.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

int tu_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		fail_msg("tu_free_port: %s", strerror(errno));
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

pid_t tu_spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		setsid();
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int try_connect(struct sockaddr *a, socklen_t al, int ms)
{
	struct timespec tick = { 0, 20 * 1000000L };
	int i;

	for (i = 0; i < ms / 20; i++) {
		int fd = socket(a->sa_family, SOCK_STREAM, 0);

		if (fd >= 0 && connect(fd, a, al) == 0) {
			close(fd);
			return 0;
		}
		if (fd >= 0)
			close(fd);
		nanosleep(&tick, NULL);
	}
	return -1;
}

int tu_wait_unix(const char *path, int ms)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	return try_connect((struct sockaddr *)&a, sizeof a, ms);
}

int tu_wait_tcp(int port, int ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return try_connect((struct sockaddr *)&a, sizeof a, ms);
}

void tu_stop(pid_t pid)
{
	struct timespec tick = { 0, 20 * 1000000L };
	int i, st;

	if (pid <= 0)
		return;
	kill(-pid, SIGCONT);	/* a test may have stopped its group */
	kill(pid, SIGTERM);
	for (i = 0; i < 250; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return;
		nanosleep(&tick, NULL);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, &st, 0);
}

int tu_tmpmsg(const void *data, size_t len)
{
	char path[] = "/tmp/sluice-msg.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		fail_msg("mkstemp: %s", strerror(errno));
	unlink(path);
	if (len && write(fd, data, len) != (ssize_t)len)
		fail_msg("write: %s", strerror(errno));
	return fd;
}
