/*
 * scan_net.c - what the network scanners share: server lists, deadlines,
 *	failover, health, kept-open connections, counters.
 *
 * SUMMARY
 *	scan_servers_parse() reads a comma list of servers ("unix:/path",
 *	"host:port", "[v6addr]:port"; a host name is resolved once, at start).
 *	scan_servers_pick() chooses the next server round-robin: a server that
 *	failed rests for retry_ms (SLUICE_NET_RETRY), then the first job that
 *	picks it probes it (clamd's PING, ...) before using it; a server at
 *	its connection limit (SLUICE_NET_CONNS) is passed over, and when every
 *	untried one is at its limit the job waits for a slot until its
 *	deadline.  scan_servers_done() gives the slot back, counts the answer
 *	and its latency, or marks the server down.  A backend tries the
 *	servers in turn until one answers or its deadline passes: failover.
 *
 *	scan_net_connect/_write/_read/_sendfd do their I/O on non-blocking
 *	sockets, polling in slices of at most SLICE_MS so that a cancel (a
 *	decisive verdict elsewhere, the client gone) is seen soon and a
 *	deadline always holds, whatever the server does (a server stopped
 *	with SIGSTOP accepts connections in its kernel backlog and never
 *	answers: only the deadline ends that wait).
 *
 * DIAGNOSTICS
 *	Functions return -1 with errno; scan_net_why() words it.  A server
 *	going down and coming back is logged, one line each, on stderr
 *	(sluiced's log).
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "scan_int.h"
#include "queue/diag.h"

#define SLICE_MS 100
#define CONNECT_MS_DEFAULT 2000
#define CONNS_DEFAULT 16
#define RETRY_MS_DEFAULT 10000
#define PROBE_MS 1000		/* a probe's own limit, within the job's deadline */

const char *scan_net_why(int err)
{
	if (err == ETIMEDOUT)
		return "timed out";
	if (err == ECANCELED)
		return "cancelled";
	return strerror(err);
}

void scan_servers_init(struct scan_servers *set, const char *what, const struct scan_config *cfg)
{
	memset(set, 0, sizeof *set);
	pthread_mutex_init(&set->mu, NULL);
	pthread_cond_init(&set->cv, NULL);
	set->what = what;
	set->max_conns = cfg && cfg->net_conns ? cfg->net_conns : CONNS_DEFAULT;
	set->retry_ms = cfg && cfg->net_retry_ms ? cfg->net_retry_ms : RETRY_MS_DEFAULT;
	set->connect_ms = cfg && cfg->net_connect_ms ? cfg->net_connect_ms : CONNECT_MS_DEFAULT;
}

int scan_servers_add_name(struct scan_servers *set, const char *name)
{
	struct scan_server *s;

	if (set->n == SCAN_NET_SERVERS_MAX || strlen(name) >= sizeof set->srv[0].name)
		return -1;
	s = &set->srv[set->n++];
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", name);
	return 0;
}

/* parse_one - one "unix:/path", "host:port" or "[v6]:port" into s */
static int parse_one(struct scan_server *s, const char *spec, char *err, size_t errlen)
{
	char host[256], *colon;
	const char *port;
	struct addrinfo hints, *res;
	int rc;

	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)&s->addr;

		if (spec[5] != '/' || strlen(spec + 5) >= sizeof un->sun_path) {
			snprintf(err, errlen, "%s: want unix:/absolute/path (at most %zu bytes)", spec,
				 sizeof un->sun_path - 1);
			return -1;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, spec + 5, strlen(spec + 5) + 1);
		s->alen = sizeof *un;
		return 0;
	}
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host) {
			snprintf(err, errlen, "%s: want [IPv6 address]:port", spec);
			return -1;
		}
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = 0;
		port = close + 2;
	} else {
		if (!(colon = strrchr(spec, ':')) || (size_t)(colon - spec) >= sizeof host ||
		    colon == spec || memchr(spec, ':', (size_t)(colon - spec))) {
			snprintf(err, errlen, "%s: want unix:/path, host:port or [IPv6]:port", spec);
			return -1;
		}
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = 0;
		port = colon + 1;
	}
	if (!*port || strspn(port, "0123456789") != strlen(port) || atoi(port) < 1 ||
	    atoi(port) > 65535) {
		snprintf(err, errlen, "%s: bad port", spec);
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: cannot resolve %s: %s", spec, host, gai_strerror(rc));
		return -1;
	}
	memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
	s->alen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int scan_servers_parse(struct scan_servers *set, const char *list, char *err, size_t errlen)
{
	char *copy = strdup(list ? list : ""), *tok, *save;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (scan_servers_add_name(set, tok) < 0) {
			snprintf(err, errlen, "%s: more than %d servers, or a name too long", tok,
				 SCAN_NET_SERVERS_MAX);
			free(copy);
			return -1;
		}
		if (parse_one(&set->srv[set->n - 1], tok, err, errlen) < 0) {
			free(copy);
			return -1;
		}
	}
	free(copy);
	if (!set->n) {
		snprintf(err, errlen, "no server given");
		return -1;
	}
	return 0;
}

void scan_servers_free(struct scan_servers *set)
{
	unsigned i, k;

	for (i = 0; i < set->n; i++)
		for (k = 0; k < set->srv[i].nidle; k++)
			close(set->srv[i].idle[k]);
	pthread_mutex_destroy(&set->mu);
	pthread_cond_destroy(&set->cv);
}

struct scan_server *scan_servers_pick(struct scan_servers *set, unsigned long long *tried,
				      int64_t deadline, atomic_int *cancel, char *why,
				      size_t whylen)
{
	pthread_mutex_lock(&set->mu);
	for (;;) {
		int64_t now = scan_now_ms();
		struct scan_server *s = NULL;
		unsigned k, i = 0, busy = 0, resting = 0;

		if (cancel && *cancel) {
			snprintf(why, whylen, "cancelled");
			break;
		}
		if (deadline && now >= deadline) {
			snprintf(why, whylen, "deadline passed before a %s server answered", set->what);
			break;
		}
		for (k = 0; k < set->n; k++) {
			i = (set->rr + k) % set->n;
			if (*tried & (1ULL << i))
				continue;
			if (set->srv[i].probing || (set->srv[i].down && now < set->srv[i].down_until)) {
				resting++;
				continue;
			}
			if (set->srv[i].conns >= set->max_conns) {
				busy++;
				continue;
			}
			s = &set->srv[i];
			break;
		}
		if (s) {
			set->rr = i + 1;
			*tried |= 1ULL << i;
			s->conns++;
			if (!s->down) {
				pthread_mutex_unlock(&set->mu);
				return s;
			}
			/* its rest is over: does it answer again? */
			s->probing = 1;
			pthread_mutex_unlock(&set->mu);
			{
				int64_t until = scan_now_ms() + PROBE_MS;
				int up = set->probe ? set->probe(set->ctx, s, deadline && deadline < until
								   ? deadline : until) == 0 : 1;

				pthread_mutex_lock(&set->mu);
				s->probing = 0;
				if (up) {
					s->down = 0;
					diag_info("%s server %s answers again", set->what,
						s->name);
					pthread_mutex_unlock(&set->mu);
					return s;
				}
				s->conns--;
				s->down_until = scan_now_ms() + set->retry_ms;
				pthread_cond_broadcast(&set->cv);
				snprintf(why, whylen, "%s server %s still down", set->what, s->name);
				continue;
			}
		}
		if (!busy) {
			if (resting && !*why)
				snprintf(why, whylen, "every %s server is down", set->what);
			else if (!*why)
				snprintf(why, whylen, "no %s server left to try", set->what);
			break;
		}
		/* every untried server is at its connection limit: wait for a slot */
		{
			struct timespec ts;
			int64_t until = now + SLICE_MS;

			if (deadline && deadline < until)
				until = deadline;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (until - now) / 1000;
			ts.tv_nsec += ((until - now) % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&set->cv, &set->mu, &ts);
		}
	}
	pthread_mutex_unlock(&set->mu);
	return NULL;
}

void scan_servers_done(struct scan_servers *set, struct scan_server *s, int ok, int64_t ms,
		       const char *cause)
{
	pthread_mutex_lock(&set->mu);
	s->conns--;
	if (ok) {
		s->ok++;
		s->lat_sum_ms += ms > 0 ? (unsigned long)ms : 0;
		s->lat_n++;
	} else {
		s->failed++;
		if (!s->down)
			diag_warn("%s server %s failed (%s): resting %u ms",
				set->what, s->name, cause ? cause : "?", set->retry_ms);
		s->down = 1;
		s->down_until = scan_now_ms() + set->retry_ms;
		/* its kept-open connections are of no use any more */
		while (s->nidle)
			close(s->idle[--s->nidle]);
	}
	pthread_cond_broadcast(&set->cv);
	pthread_mutex_unlock(&set->mu);
}

int scan_servers_idle_get(struct scan_servers *set, struct scan_server *s)
{
	int fd = -1;
	int64_t now = scan_now_ms();

	pthread_mutex_lock(&set->mu);
	while (s->nidle) {
		s->nidle--;
		if (now - s->idle_since[s->nidle] < SCAN_NET_IDLE_MS) {
			fd = s->idle[s->nidle];
			break;
		}
		close(s->idle[s->nidle]);	/* the server may have closed it by now */
	}
	pthread_mutex_unlock(&set->mu);
	return fd;
}

int scan_servers_idle_put(struct scan_servers *set, struct scan_server *s, int fd)
{
	int rc = -1;

	pthread_mutex_lock(&set->mu);
	if (s->nidle < SCAN_NET_IDLE_MAX && !s->down) {
		s->idle[s->nidle] = fd;
		s->idle_since[s->nidle++] = scan_now_ms();
		rc = 0;
	}
	pthread_mutex_unlock(&set->mu);
	return rc;
}

size_t scan_servers_stats(struct scan_servers *set, char *buf, size_t len)
{
	size_t n = 0;
	unsigned i, down = 0;
	int w;

	pthread_mutex_lock(&set->mu);
	w = snprintf(buf, len, "%s_scans %lu\n", set->what,
		     __atomic_load_n(&set->scans, __ATOMIC_RELAXED));
	n = w < 0 ? 0 : (size_t)w < len ? (size_t)w : len ? len - 1 : 0;
	for (i = 0; i < set->n && n + 1 < len; i++) {
		const struct scan_server *s = &set->srv[i];

		down += s->down;
		w = snprintf(buf + n, len - n, "%s_server %s ok %lu failed %lu latency_ms %lu down %d\n",
			     set->what, s->name, s->ok, s->failed,
			     s->lat_n ? s->lat_sum_ms / s->lat_n : 0UL, s->down);
		n += w < 0 ? 0 : (size_t)w < len - n ? (size_t)w : len - n - 1;
	}
	if (n + 1 < len) {
		w = snprintf(buf + n, len - n, "%s_down %u\n", set->what, down);
		n += w < 0 ? 0 : (size_t)w < len - n ? (size_t)w : len - n - 1;
	}
	pthread_mutex_unlock(&set->mu);
	return n;
}

/* wait_fd - until fd is ready for ev, the deadline, or a cancel */
static int wait_fd(int fd, short ev, int64_t deadline, atomic_int *cancel)
{
	for (;;) {
		int64_t now = scan_now_ms(), slice = SLICE_MS;
		struct pollfd p = { .fd = fd, .events = ev };
		int r;

		if (cancel && *cancel) {
			errno = ECANCELED;
			return -1;
		}
		if (deadline) {
			if (now >= deadline) {
				errno = ETIMEDOUT;
				return -1;
			}
			if (deadline - now < slice)
				slice = deadline - now;
		}
		r = poll(&p, 1, (int)slice);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int scan_net_connect(const struct scan_server *s, unsigned connect_ms, int64_t deadline,
		     atomic_int *cancel)
{
	int64_t until = scan_now_ms() + (connect_ms ? connect_ms : CONNECT_MS_DEFAULT);
	int fd, e = 0;
	socklen_t el = sizeof e;

	if (deadline && deadline < until)
		until = deadline;
	if (!s->addr.ss_family) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if ((fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&s->addr, s->alen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR)
		goto fail;
	if (wait_fd(fd, POLLOUT, until, cancel) < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		goto fail;
	if (e) {
		errno = e;
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int scan_net_write(int fd, const void *buf, size_t len, int64_t deadline, atomic_int *cancel)
{
	const char *p = buf;

	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline, cancel) < 0)
			return -1;
	}
	return 0;
}

ssize_t scan_net_read(int fd, void *buf, size_t cap, int64_t deadline, atomic_int *cancel)
{
	for (;;) {
		ssize_t r = recv(fd, buf, cap, MSG_DONTWAIT);

		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(fd, POLLIN, deadline, cancel) < 0)
			return -1;
	}
}

int scan_net_sendfd(int sock, int fd, int64_t deadline, atomic_int *cancel)
{
	char byte = 0, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			     .msg_controllen = sizeof ctl };
	struct cmsghdr *c;

	memset(ctl, 0, sizeof ctl);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	for (;;) {
		ssize_t w = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w == 1)
			return 0;
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(sock, POLLOUT, deadline, cancel) < 0)
			return -1;
	}
}

ssize_t scan_net_pread(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, (char *)buf + got, len - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}
