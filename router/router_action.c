/*
 * router_action.c - the verdict actions that touch the disk: tag, quarantine.
 *
 *	Both run on an action thread (router_sync.c), never on the loop
 *	thread or the sync thread, whose commit rounds they would hold up.
 *
 *	router_tag() inserts the verdict headers (client_tag_headers: the
 *	same as direct mode's) right after qmail's Received line, in place,
 *	and removes the sender's own fields of the same names from the
 *	message's header block in the same rewrite (client_tag, shared with
 *	direct mode; m->forged counts them for the log line): the file is not
 *	committed yet, so a crash midway leaves an uncommitted message that
 *	recovery removes.  The envelope is untouched (u p F T only).
 *
 *	router_quarantine() stores the message in a Maildir: tmp/<unique>, an
 *	X-Sluice-Quarantine header carrying the envelope and the verdict, then
 *	the mess file's bytes, fsync, link into new/, fsync new/, and one
 *	tab-separated line in the quarantine log:
 *	  <unix time> TAB <queue> TAB <file> TAB <sender> TAB <rcpt,...> TAB <verdict> TAB <name>
 *
 * DIAGNOSTICS
 *	-1 with errno set and a text in the message's why[].
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "router_int.h"

#define CHUNK 65536

/* clean - a header-safe copy: printable ASCII, no CR/LF */
static void clean(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; s && *s && n + 1 < cap; s++)
		out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[n] = 0;
}

size_t router_tag_headers(const struct rmsg *m, char *buf, size_t cap)
{
	/* the deciding scanner's own headers too (X-Spam-* from spamd,
	 * rspamd's milter add_headers), unless the deadline decided: a late
	 * worker may still be writing them */
	return client_tag_headers(buf, cap, &m->v, m->r->scanned_by,
				  m->scan_timed_out ? "" : m->job.headers.buf);
}

int router_tag(struct rmsg *m)
{
	char hdr[1024 + SCAN_HEADERS_MAX];
	size_t hlen = router_tag_headers(m, hdr, sizeof hdr);
	struct queue_err e;

	if (!hlen)
		return 0;
	if (client_tag(&m->qm, (off_t)m->rlen, hdr, hlen, &m->forged, &e) != QUEUE_OK) {
		errno = e.errnum;
		return -1;
	}
	return 0;
}

/* copy_at - the first size bytes of from into to, starting at offset at */
static int copy_at(int from, int to, off_t size, off_t at)
{
	char *buf = malloc(CHUNK);
	off_t off = 0;

	if (!buf)
		return -1;
	while (off < size) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		if (queue_pread_full(from, buf, n, off) < 0 || queue_pwrite_full(to, buf, n, at + off) < 0) {
			free(buf);
			return -1;
		}
		off += (off_t)n;
	}
	free(buf);
	return 0;
}

int router_quarantine(struct rmsg *m)
{
	const struct router_config *c = router_cfg(m->r);	/* sync thread */
	const struct scan_verdict *v = &m->v;
	const char *maildir = m->quarantine;	/* the policy's, else SLUICE_QUARANTINE */
	static unsigned long seq;	/* sync thread only */
	char host[128], uniq[256], path[4600], dst[4600], hdr[4096], name[260], sender[1100];
	char line[8192];
	struct timeval tv;
	size_t hl, ll;
	unsigned i;
	int fd = -1, dfd = -1, lfd = -1, saved;

	if (!maildir) {
		snprintf(m->why, sizeof m->why, "quarantine asked for and no Maildir given "
			 "(SLUICE_QUARANTINE or the policy's quarantine=)");
		errno = ENOENT;
		return -1;
	}
	gettimeofday(&tv, NULL);
	if (gethostname(host, sizeof host) < 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = 0;
	for (char *p = host; *p; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
	snprintf(uniq, sizeof uniq, "%ld.M%ldP%ldQ%lu.%s", (long)tv.tv_sec, (long)tv.tv_usec,
		 (long)getpid(), ++seq, host);
	snprintf(path, sizeof path, "%s/tmp/%s", maildir, uniq);
	snprintf(dst, sizeof dst, "%s/new/%s", maildir, uniq);
	clean(name, sizeof name, v->name);
	clean(sender, sizeof sender, queue_env_sender(&m->env));
	hl = (size_t)snprintf(hdr, sizeof hdr, "X-Sluice-Quarantine: queue=%s; from=<%s>; verdict=%s; name=%s; to=",
			      m->rq->name, sender, scan_kind_name(v->kind), name);
	ll = (size_t)snprintf(line, sizeof line, "%ld\t%s\t%s\t%s\t", (long)tv.tv_sec, m->rq->name,
			      uniq, sender);
	for (i = 0; i < m->env.nrcpt && hl < sizeof hdr - 1100 && ll < sizeof line - 1100; i++) {
		char r[1100];

		clean(r, sizeof r, m->rcpts[i]);
		hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "%s<%s>", i ? "," : "", r);
		ll += (size_t)snprintf(line + ll, sizeof line - ll, "%s%s", i ? "," : "", r);
	}
	hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "\n");
	ll += (size_t)snprintf(line + ll, sizeof line - ll, "\t%s\t%s\n", scan_kind_name(v->kind), name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		goto fail;
	/* the header, then the mess file's bytes as they are */
	if (queue_pwrite_full(fd, hdr, hl, 0) < 0)
		goto fail;
	if (copy_at(m->qm.fd, fd, m->qm.size, (off_t)hl) < 0)
		goto fail;
	if (fsync(fd) < 0 || link(path, dst) < 0)
		goto fail;
	unlink(path);
	close(fd);
	fd = -1;
	snprintf(path, sizeof path, "%s/new", maildir);
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(dfd) < 0)
		goto fail;
	close(dfd);
	if ((lfd = open(c->quarantine_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) >= 0) {
		(void)!write(lfd, line, ll);	/* one write: one whole line */
		close(lfd);
	}
	snprintf(m->why + strlen(m->why), sizeof m->why - strlen(m->why), "; quarantined as %s",
		 uniq);
	return 0;
fail:
	saved = errno;
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	if (dfd >= 0)
		close(dfd);
	snprintf(m->why, sizeof m->why, "cannot quarantine into %s: %s", maildir,
		 strerror(saved));
	errno = saved;
	return -1;
}
