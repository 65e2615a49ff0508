/*
 * client_conn.c - a client's connection to sluiced's unix socket, shared by
 * sluice-queue and sluice-qmqpd.
 *
 *	The socket's path comes from the settings (control_settings_socket():
 *	$SLUICE_SOCKET, else $QUEUE_BASE/sluiced.sock).
 *	client_conn_open() connects within a
 *	timeout (a full listen backlog blocks connect(); SO_SNDTIMEO bounds
 *	that wait).  client_conn_wait() reads the ack or a whole reply
 *	(client.h's wire protocol) within a timeout.
 *
 * DIAGNOSTICS
 *	client_conn_open(): -1 with errno.  client_conn_wait(): the bytes
 *	read (fewer than wanted at EOF), or -2 when the time ran out.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

int client_conn_open(const char *path, long timeout)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout };
	int s;

	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;

		close(s);
		errno = e;
		return -1;
	}
	return s;
}

ssize_t client_conn_wait(int s, char *buf, size_t cap, size_t want, long timeout)
{
	time_t until = time(NULL) + timeout;
	size_t got = 0;
	struct wire_reply r;

	while (got < cap) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		long left = (long)(until - time(NULL));
		ssize_t n;

		if (left <= 0)
			return -2;
		if (poll(&p, 1, (int)(left > 1000 ? 1000000 : left * 1000)) <= 0)
			continue;
		n = read(s, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (ssize_t)got;
		got += (size_t)n;
		if (want && got >= want)
			return (ssize_t)got;
		if (!want && wire_reply_decode(buf, got, &r) != 0)
			return (ssize_t)got;
	}
	return (ssize_t)got;
}
