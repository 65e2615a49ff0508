/*
 * control_file.c - the text control files: simcontrol and ssattach.
 *
 *	control_file_read() reads a whole file and its identity (device,
 *	inode, size, times); when the file changes while it is read (edited
 *	in place) it reads again, so a load never sees half an edit.
 *
 *	control_text_records() splits a simcontrol text into key:value
 *	records.  Blank lines and lines starting with '#' are skipped
 *	(simscanmk turns the latter into junk records); leading blanks are
 *	skipped; a line starting with ':' is the default (key "").  The key
 *	is what comes before the first ':' and is lowercased, the value is
 *	the rest without surrounding blanks, normalised as simscanmk does
 *	(control_value_normalize()).  A key seen before is a warning and the
 *	later line is left out: simscan's CDB lookup finds the first record.
 *
 *	control_ssattach_parse() reads ssattach: name suffixes, one a line
 *	(more on a line, separated by blanks or ':', are taken too: simscan
 *	took only the first, and every ban the admin wrote applies here),
 *	'#' lines are comments.
 *
 * DIAGNOSTICS
 *	control_file_read(): 1 read, 0 no such file, -1 with the cause in
 *	err.  The parsers report "file:line: ..." through control_diag() and
 *	return -1 only when out of memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control_int.h"

static void id_from(struct control_fileid *id, const struct stat *st)
{
	id->exists = 1;
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

void control_fileid_stat(const char *path, struct control_fileid *id)
{
	struct stat st;

	memset(id, 0, sizeof *id);
	if (stat(path, &st) == 0)
		id_from(id, &st);
}

int control_fileid_same(const struct control_fileid *a, const struct control_fileid *b)
{
	if (a->exists != b->exists)
		return 0;
	return !a->exists ||
	       (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
		a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
		a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec);
}

int control_file_read(const char *path, char **out, size_t *outlen, struct control_fileid *id,
		      char *err, size_t errlen)
{
	int tries;

	*out = NULL;
	*outlen = 0;
	memset(id, 0, sizeof *id);
	for (tries = 0; tries < 5; tries++) {
		struct stat st, st2;
		size_t len = 0, cap;
		char *buf;
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		struct control_fileid a, b;

		if (fd < 0) {
			if (errno == ENOENT)
				return 0;
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
			return -1;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s: %s", path,
				 S_ISREG(st.st_mode) ? strerror(errno) : "not a regular file");
			close(fd);
			return -1;
		}
		if ((uint64_t)st.st_size > CONTROL_FILE_MAX) {
			snprintf(err, errlen, "%s: larger than %u bytes", path, CONTROL_FILE_MAX);
			close(fd);
			return -1;
		}
		cap = (size_t)st.st_size + 4096;
		if (!(buf = malloc(cap + 1))) {
			snprintf(err, errlen, "%s: out of memory", path);
			close(fd);
			return -1;
		}
		for (;;) {
			ssize_t r;

			if (len == cap) {
				char *nb;

				if (cap >= CONTROL_FILE_MAX || !(nb = realloc(buf, cap * 2 + 1))) {
					free(buf);
					close(fd);
					snprintf(err, errlen, "%s: too large or out of memory", path);
					return -1;
				}
				buf = nb;
				cap *= 2;
			}
			r = read(fd, buf + len, cap - len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
				free(buf);
				close(fd);
				return -1;
			}
			if (r == 0)
				break;
			len += (size_t)r;
		}
		if (fstat(fd, &st2) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		close(fd);
		id_from(&a, &st);
		id_from(&b, &st2);
		if (control_fileid_same(&a, &b) && (off_t)len == st2.st_size) {
			buf[len] = 0;
			*out = buf;
			*outlen = len;
			*id = b;
			return 1;
		}
		free(buf);	/* written to while we read: again */
		usleep(10000);
	}
	snprintf(err, errlen, "%s: keeps changing while it is read", path);
	return -1;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

static int blank(int c)
{
	return c == ' ' || c == '\t';
}

/* A set of keys seen so far: index+1 of the record, 0 = free. */
struct keyset {
	size_t cap;
	uint32_t *slot;
};

int control_text_records(struct control_build *b, const char *path, char *text, size_t len,
			 struct control_rec **out, size_t *nout)
{
	struct control_rec *recs = NULL;
	struct keyset ks = { 0 };
	size_t n = 0, cap = 0, pos = 0, nlines = 1, i;
	unsigned line = 0;
	char shown[80];

	*out = NULL;
	*nout = 0;
	for (i = 0; i < len; i++)
		nlines += text[i] == '\n';
	for (ks.cap = 16; ks.cap < nlines * 2; ks.cap *= 2)
		;
	if (!(ks.slot = calloc(ks.cap, sizeof *ks.slot)))
		goto nomem;
	while (pos < len) {
		char *l = text + pos, *nl = memchr(l, '\n', len - pos), *colon, *k, *v;
		size_t ll = nl ? (size_t)(nl - l) : len - pos, kl, vl;
		uint32_t h;

		pos += ll + 1;
		line++;
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (memchr(l, 0, ll)) {
			control_diag(b, 1, "%s:%u: NUL byte in the line", path, line);
			continue;
		}
		while (ll && blank((unsigned char)*l)) {
			l++;
			ll--;
		}
		while (ll && (blank((unsigned char)l[ll - 1]) || l[ll - 1] == '\r'))
			ll--;
		if (!ll || *l == '#')
			continue;
		if (!(colon = memchr(l, ':', ll))) {
			control_diag(b, 1, "%s:%u: malformed line: no ':' between key and value "
				     "('%s')", path, line, control_shown(shown, sizeof shown, l, ll));
			continue;
		}
		k = l;
		kl = (size_t)(colon - l);
		v = colon + 1;
		vl = ll - kl - 1;
		while (vl && blank((unsigned char)*v)) {
			v++;
			vl--;
		}
		for (i = 0; i < kl; i++) {
			unsigned char c = (unsigned char)k[i];

			if (c <= ' ' || c == 0x7f || c == '#' || c == ',' || c == '=')
				break;
			k[i] = (char)lower(c);
		}
		if (i < kl) {
			control_diag(b, 1, "%s:%u: malformed key '%s' (blanks, '#', ',', '=' or "
				     "control characters; is a ':' missing?)", path, line,
				     control_shown(shown, sizeof shown, k, kl));
			continue;
		}
		if (kl && (k[0] == '@' || k[kl - 1] == '@')) {
			control_diag(b, 1, "%s:%u: key '%s' is neither a domain nor user@domain", path,
				     line, control_shown(shown, sizeof shown, k, kl));
			continue;
		}
		if (kl > CONTROL_KEY_MAX || vl > CONTROL_VALUE_MAX) {
			control_diag(b, 1, "%s:%u: key or value too long (at most %u and %u bytes)",
				     path, line, CONTROL_KEY_MAX, CONTROL_VALUE_MAX);
			continue;
		}
		control_value_normalize(v, vl);
		h = control_hash(k, kl);
		for (i = h & (ks.cap - 1); ks.slot[i]; i = (i + 1) & (ks.cap - 1)) {
			const struct control_rec *r = &recs[ks.slot[i] - 1];

			if (r->klen == kl && !memcmp(r->key, k, kl))
				break;
		}
		if (ks.slot[i]) {
			control_diag(b, 0, "%s:%u: duplicate key '%s' (first at line %u): this line is "
				     "ignored, as simscan ignores it", path, line,
				     kl ? control_shown(shown, sizeof shown, k, kl) : ":",
				     recs[ks.slot[i] - 1].line);
			continue;
		}
		if (n == cap) {
			struct control_rec *nr;

			cap = cap ? cap * 2 : 64;
			if (!(nr = realloc(recs, cap * sizeof *nr)))
				goto nomem;
			recs = nr;
		}
		recs[n].key = k;
		recs[n].klen = kl;
		recs[n].val = v;
		recs[n].vlen = vl;
		recs[n].line = line;
		ks.slot[i] = (uint32_t)++n;
	}
	free(ks.slot);
	*out = recs;
	*nout = n;
	return 0;
nomem:
	free(ks.slot);
	free(recs);
	control_diag(b, 1, "%s: out of memory", path);
	return -1;
}

const struct control_list *control_ssattach_parse(struct control_build *b, const char *path,
						  char *text, size_t len)
{
	struct control_listb l = { 0 };
	size_t pos = 0;
	unsigned line = 0;
	char src[4200];
	int bad = 0;

	while (pos < len) {
		char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - s) : len - pos, i = 0;

		pos += ll + 1;
		line++;
		snprintf(src, sizeof src, "%s:%u", path, line);
		if (memchr(s, 0, ll)) {
			control_diag(b, 1, "%s: NUL byte in the line", src);
			bad = 1;
			continue;
		}
		while (i < ll && (blank((unsigned char)s[i]) || s[i] == '\r'))
			i++;
		if (i < ll && s[i] == '#')
			continue;
		while (i < ll) {
			size_t start;

			while (i < ll && (blank((unsigned char)s[i]) || s[i] == ':' || s[i] == '\r'))
				i++;
			for (start = i; i < ll && !blank((unsigned char)s[i]) && s[i] != ':' &&
			     s[i] != '\r'; i++)
				;
			if (i > start && control_listb_add(b, &l, s + start, i - start, src) < 0)
				bad = 1;
		}
	}
	if (bad) {
		free(l.e);
		return NULL;
	}
	return control_listb_finish(b, &l, path);
}
