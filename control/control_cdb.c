/*
 * control_cdb.c - simcontrol.cdb: writing it, loading it into a snapshot,
 *	dumping it as text.
 *
 *	The format is simscanmk's: one record per simcontrol line, the key
 *	the lowercased address or domain ("" for the default line), the value
 *	the text after the first ':'.  simscan and tinycdb find the first
 *	record of a key, so a later duplicate is dead; the writer never makes
 *	one.
 *
 *	control_cdb_write() is atomic like every CDB build should be: a temp
 *	file beside dst (O_EXCL, 0644), cdb_make, fsync, rename over dst,
 *	fsync of the directory.  On failure the temp file is removed and dst
 *	is as it was.
 *
 *	control_cdb_load() walks every record of the snapshot's mapped CDB,
 *	parses each distinct value once (control_pval_parse) and indexes the
 *	values by their bytes, so that a lookup goes key -> CDB record ->
 *	value bytes -> parsed entry with no parsing at message time.
 *	Unreachable records (a key with capitals or blanks, which no
 *	lowercased address can match, or a duplicate) are warnings.  The
 *	domains of user keys (user@domain) go in a set of 64-bit hashes, so
 *	that a lookup tries no user keys at a domain that has none (a
 *	collision only costs a needless probe, never a missed entry).
 *
 * DIAGNOSTICS
 *	control_cdb_write(): -1 with the file and errno's text in err.
 *	control_cdb_load(): -1 after an error reported through control_diag()
 *	(a corrupt CDB, a bad value).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control_int.h"

int control_cdb_write_fd(int fd, const struct control_rec *recs, size_t n)
{
	struct cdb_make cm;
	size_t i;
	int e;

	if (cdb_make_start(&cm, fd) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (cdb_make_add(&cm, recs[i].key, (unsigned)recs[i].klen, recs[i].val,
				 (unsigned)recs[i].vlen) < 0) {
			e = errno;
			cdb_make_finish(&cm);	/* frees what cdb_make holds */
			errno = e;
			return -1;
		}
	return cdb_make_finish(&cm);
}

int control_cdb_write(const char *dst, const struct control_rec *recs, size_t n, char *err,
		      size_t errlen)
{
	char tmp[4200], dir[4200];
	int fd, dfd, tries;
	const char *step;

	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dst, (long)getpid()) >= (int)sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", dst);
		return -1;
	}
	snprintf(dir, sizeof dir, "%s", dst);
	for (tries = 0;; tries++) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd >= 0 || errno != EEXIST || tries)
			break;
		unlink(tmp);	/* left by an earlier run that had our pid */
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		return -1;
	}
	step = "write";
	if (fchmod(fd, 0644) < 0 || control_cdb_write_fd(fd, recs, n) < 0)
		goto fail;
	step = "fsync";
	if (fsync(fd) < 0)
		goto fail;
	step = "close";
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	step = "rename";
	if (rename(tmp, dst) < 0)
		goto fail;
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(dfd) < 0) {
		snprintf(err, errlen, "%s: cannot fsync the directory (the new file is in place): %s",
			 dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	close(dfd);
	return 0;
fail:
	snprintf(err, errlen, "%s: %s failed: %s", tmp, step, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

static int vtab_grow(struct control_vtab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256, i;
	struct control_vent *e = calloc(cap, sizeof *e);

	if (!e)
		return -1;
	for (i = 0; i < t->cap; i++) {
		size_t j;

		if (!t->e[i].text)
			continue;
		for (j = t->e[i].hash & (cap - 1); e[j].text; j = (j + 1) & (cap - 1))
			;
		e[j] = t->e[i];
	}
	free(t->e);
	t->e = e;
	t->cap = cap;
	return 0;
}

/* vtab_find - the slot of value v, or the free slot where it goes */
static struct control_vent *vtab_find(const struct control_vtab *t, const char *v, uint32_t len,
				      uint32_t h)
{
	size_t i;

	for (i = h & (t->cap - 1); t->e[i].text; i = (i + 1) & (t->cap - 1))
		if (t->e[i].hash == h && t->e[i].len == len && !memcmp(t->e[i].text, v, len))
			break;
	return &t->e[i];
}

uint64_t control_hash64(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull;	/* FNV-1a, 64 bits */

	while (len--) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ull;
	}
	return h ? h : 1;	/* 0 marks a free slot */
}

/* udom_add - the domain of a user key into the set of domains that have
 * user entries; -1 when out of memory */
static int udom_add(struct control_policy *p, const char *d, size_t len)
{
	uint64_t h = control_hash64(d, len);
	size_t i;

	if ((p->nudom + 1) * 2 > p->udom_cap) {
		size_t cap = p->udom_cap ? p->udom_cap * 2 : 1024, k;
		uint64_t *t = calloc(cap, sizeof *t);

		if (!t)
			return -1;
		for (k = 0; k < p->udom_cap; k++)
			if (p->udom[k]) {
				for (i = p->udom[k] & (cap - 1); t[i]; i = (i + 1) & (cap - 1))
					;
				t[i] = p->udom[k];
			}
		free(p->udom);
		p->udom = t;
		p->udom_cap = cap;
	}
	for (i = h & (p->udom_cap - 1); p->udom[i]; i = (i + 1) & (p->udom_cap - 1))
		if (p->udom[i] == h)
			return 0;
	p->udom[i] = h;
	p->nudom++;
	return 0;
}

int control_udom_has(const struct control_policy *p, const char *d, size_t len)
{
	uint64_t h;
	size_t i;

	if (!p->udom_cap)
		return 0;
	h = control_hash64(d, len);
	for (i = h & (p->udom_cap - 1); p->udom[i]; i = (i + 1) & (p->udom_cap - 1))
		if (p->udom[i] == h)
			return 1;
	return 0;
}

int control_cdb_load(struct control_build *b, const char *path, const struct control_rec *recs,
		     size_t nrecs)
{
	struct control_policy *p = b->p;
	unsigned pos, j = 0;
	char src[4300], shown[80];
	int r;

	if (!p->values.cap && vtab_grow(&p->values) < 0)
		goto nomem;
	b->lenient = !recs;
	cdb_seqinit(&pos, &p->cdb);
	while ((r = cdb_seqnext(&pos, &p->cdb)) > 0) {
		const char *k = cdb_getkey(&p->cdb), *v = cdb_getdata(&p->cdb);
		unsigned kl = cdb_keylen(&p->cdb), vl = cdb_datalen(&p->cdb);
		unsigned vpos = cdb_datapos(&p->cdb);
		struct control_vent *ve;
		uint32_t h;
		unsigned i;

		if (!k || !v) {
			control_diag(b, 1, "%s: corrupt CDB (record %u out of the file)", path, j + 1);
			return -1;
		}
		if (recs) {
			snprintf(src, sizeof src, "%s:%u", path, j < nrecs ? recs[j].line : 0);
		} else {
			struct cdb c = p->cdb;	/* cdb_find moves the found-record fields */

			snprintf(src, sizeof src, "%s: key '%s'", path,
				 kl ? control_shown(shown, sizeof shown, k, kl) : "");
			for (i = 0; i < kl; i++)
				if ((k[i] >= 'A' && k[i] <= 'Z') || (unsigned char)k[i] <= ' ')
					break;
			if (i < kl)
				control_diag(b, 0, "%s: capitals, blanks or control characters in "
					     "the key: no address can match it", src);
			if (cdb_find(&c, k, kl) <= 0) {	/* a damaged index: fail, never miss */
				control_diag(b, 1, "%s: corrupt CDB: the index does not find this "
					     "record", src);
				return -1;
			}
			if (cdb_datapos(&c) != vpos) {
				control_diag(b, 0, "%s: a duplicate of an earlier record: never used "
					     "(lookups find the first)", src);
				j++;
				continue;
			}
		}
		j++;
		{	/* a user key: its domain gets user lookups */
			const char *at = memrchr(k, '@', kl);

			if (at && udom_add(p, at + 1, kl - (size_t)(at + 1 - k)) < 0)
				goto nomem;
		}
		h = control_hash(v, vl);
		ve = vtab_find(&p->values, v, vl, h);
		if (!ve->text) {
			const struct control_pval *pv;

			if (vl > CONTROL_VALUE_MAX) {
				control_diag(b, 1, "%s: value longer than %u bytes", src,
					     CONTROL_VALUE_MAX);
				continue;
			}
			pv = control_pval_parse(b, v, vl, src);
			if ((p->values.n + 1) * 2 > p->values.cap) {
				if (vtab_grow(&p->values) < 0)
					goto nomem;
				ve = vtab_find(&p->values, v, vl, h);
			}
			ve->text = v;
			ve->len = vl;
			ve->hash = h;
			ve->pv = pv;
			p->values.n++;
			if (pv)
				p->scan_union |= pv->scan_on;
		}
		if (!kl && ve->pv)
			p->def = ve->pv;
	}
	if (r < 0) {
		control_diag(b, 1, "%s: corrupt CDB after record %u: %s", path, j, strerror(errno));
		return -1;
	}
	return b->errors ? -1 : 0;
nomem:
	control_diag(b, 1, "%s: out of memory", path);
	return -1;
}

/* the parsed entry of a value found in the CDB (lookup side) */
const struct control_pval *control_cdb_pval(const struct control_policy *p, const char *v,
					    unsigned vl)
{
	return vtab_find(&p->values, v, vl, control_hash(v, vl))->pv;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int control_cdb_dump(const char *path, int out, char *err, size_t errlen)
{
	struct cdb c;
	unsigned pos, n = 0;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r, bad = 1;

	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (cdb_init(&c, fd) < 0) {
		snprintf(err, errlen, "%s: not a CDB: %s", path,
			 errno == EPROTO ? "too short or damaged" : strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	cdb_seqinit(&pos, &c);
	while ((r = cdb_seqnext(&pos, &c)) > 0) {
		const char *k = cdb_getkey(&c), *v = cdb_getdata(&c);
		unsigned kl = cdb_keylen(&c), vl = cdb_datalen(&c);

		n++;
		if (!k || !v || memchr(k, ':', kl) || memchr(k, '\n', kl) || memchr(v, '\n', vl)) {
			snprintf(err, errlen, "%s: record %u: %s", path, n,
				 !k || !v ? "out of the file (corrupt)"
					  : "a ':' in the key or a newline: not simcontrol text");
			goto fail;
		}
		if (len + kl + vl + 2 > cap) {
			size_t ncap = (len + kl + vl + 2) * 2;
			char *nb = realloc(buf, ncap);

			if (!nb) {
				snprintf(err, errlen, "%s: out of memory", path);
				bad = -1;
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		memcpy(buf + len, k, kl);
		len += kl;
		buf[len++] = ':';
		memcpy(buf + len, v, vl);
		len += vl;
		buf[len++] = '\n';
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: corrupt after record %u: %s", path, n, strerror(errno));
		goto fail;
	}
	if (len && write_all(out, buf, len) < 0) {
		snprintf(err, errlen, "write error: %s", strerror(errno));
		bad = -1;
		goto fail;
	}
	free(buf);
	cdb_free(&c);
	return 0;
fail:
	free(buf);
	cdb_free(&c);
	return bad;
}
