/*
 * client_wire.c - the wire protocol between sluice-queue and sluiced.
 *
 *	The request is one datagram-like sendmsg on a stream socket: the magic,
 *	"KEY=VALUE\0" pairs of the qmail-smtpd environment the policy may use,
 *	and fds 0 and 1 as SCM_RIGHTS.  The daemon learns uid and pid from
 *	SO_PEERCRED, never from the payload.  The daemon's go-ahead before the
 *	request is one byte; the reply is 'R' code plain fd len text.  See
 *	client.h.
 *
 * DIAGNOSTICS
 *	-1 with errno from the socket calls; EPROTO for a malformed frame,
 *	whose fds (if any came) are closed before returning.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

int wire_send_request(int sock, const int fds[2], const char *payload, size_t len)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	ssize_t w;

	memset(u.buf, 0, sizeof u.buf);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), fds, 2 * sizeof(int));
	do
		w = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	if ((size_t)w != len) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

ssize_t wire_recv_request(int sock, int fds[2], char *buf, size_t cap)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	struct cmsghdr *c;
	ssize_t r;

	fds[0] = fds[1] = -1;
	do
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int), i;
			int got[4];

			if (n > 4)
				n = 4;	/* the control buffer holds 4 at most */
			memcpy(got, CMSG_DATA(c), n * sizeof(int));
			for (i = 0; i < n; i++) {
				if (i < 2 && fds[i] < 0)
					fds[i] = got[i];
				else
					close(got[i]);	/* more than we asked for */
			}
		}
	}
	if (r == 0 || (mh.msg_flags & MSG_CTRUNC) || r < 4 || memcmp(buf, WIRE_MAGIC, 4) ||
	    fds[0] < 0 || fds[1] < 0) {
		/* a frame we refuse keeps none of the fds that came with it:
		 * the caller never sees them, so only we can close them */
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0) {
				close(fds[i]);
				fds[i] = -1;
			}
		if (r == 0)
			return 0;
		errno = EPROTO;
		return -1;
	}
	return r;
}

size_t wire_reply_encode(const struct wire_reply *r, char *buf)
{
	size_t len = r->len;

	buf[0] = 'R';
	buf[1] = (char)r->code;
	buf[2] = (char)r->plain;
	buf[3] = (char)r->fd;
	buf[4] = (char)len;
	memcpy(buf + 5, r->text, len);
	return 5 + len;
}

int wire_reply_decode(const char *buf, size_t len, struct wire_reply *r)
{
	if (len < 5)
		return 0;
	if (buf[0] != 'R')
		return -1;
	r->code = (uint8_t)buf[1];
	r->plain = (uint8_t)buf[2];
	r->fd = (int8_t)buf[3];
	r->len = (uint8_t)buf[4];
	if (len < 5 + (size_t)r->len)
		return 0;
	memcpy(r->text, buf + 5, r->len);
	r->text[r->len] = 0;
	return 1;
}

static const char *const passed_env[] = {
	"TCPREMOTEIP", "TCPREMOTEHOST", "TCPREMOTEINFO", "TCPLOCALIP", "RELAYCLIENT",
	"PROTO", "SMTPAUTHUSER", "TCPREMOTEPORT",
};

size_t wire_env(char *buf, size_t cap)
{
	size_t n = 4, i;

	memcpy(buf, WIRE_MAGIC, 4);
	for (i = 0; i < sizeof passed_env / sizeof passed_env[0]; i++) {
		const char *v = getenv(passed_env[i]);
		size_t k = strlen(passed_env[i]), vl;

		if (!v)
			continue;
		vl = strnlen(v, 512);
		if (n + k + 1 + vl + 1 > cap)
			break;
		memcpy(buf + n, passed_env[i], k);
		buf[n + k] = '=';
		memcpy(buf + n + k + 1, v, vl);
		buf[n + k + 1 + vl] = 0;
		n += k + 1 + vl + 1;
	}
	return n;
}

const char *wire_env_get(const char *p, size_t len, const char *key)
{
	size_t k = strlen(key), i = 4;

	while (i < len) {
		const char *e = p + i;
		size_t el = strnlen(e, len - i);

		if (el > k && !memcmp(e, key, k) && e[k] == '=')
			return e + k + 1;
		i += el + 1;
	}
	return NULL;
}
