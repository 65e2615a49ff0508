/*
 * control_compile.c - simcontrol text to simcontrol.cdb, as simscanmk
 *	does, and the checks sluice-cdb runs.
 *
 *	control_compile() checks the text with the daemon's own code (every
 *	line, every value, every pattern compiled; unlike the daemon's load,
 *	each line's value on its own, so each line gets its diagnostics), and
 *	only when all of it is right writes the CDB through
 *	control_cdb_write(): one record per line, key lowercased, value
 *	normalised (control_value_normalize), duplicates left out.  So a file
 *	the compiler accepts is a file the daemon accepts.
 *
 *	control_ssattach_check() reads ssattach as the daemon does.
 *
 * DIAGNOSTICS
 *	0 done; 1 the input has errors (each through options->diag, the
 *	first also in err), nothing written; -1 an I/O error (err names the
 *	file), nothing written or, if the final directory fsync failed, the
 *	new CDB in place.
 */
#include <stdio.h>
#include <stdlib.h>

#include "control_int.h"

int control_compile(const char *src, const char *dst, int check_only,
		    const struct control_options *opt, char *err, size_t errlen)
{
	struct control_policy *p = control_policy_new(opt);
	struct control_build b = { .p = p, .opt = opt, .err = err, .errlen = errlen };
	struct control_fileid id;
	struct control_rec *recs = NULL;
	size_t len, n = 0, i;
	char *text = NULL, where[4300];
	int r, def = 0;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r = control_file_read(src, &text, &len, &id, err, errlen);
	if (r <= 0) {
		if (r == 0)
			control_diag(&b, 1, "%s: no such file", src);
		control_policy_unref(p);
		return r < 0 ? -1 : 1;
	}
	/* the daemon's checks, line by line: records, then every value */
	if (control_text_records(&b, src, text, len, &recs, &n) < 0) {
		r = -1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		snprintf(where, sizeof where, "%s:%u", src, recs[i].line);
		control_pval_parse(&b, recs[i].val, recs[i].vlen, where);
		def |= recs[i].klen == 0;
	}
	if (!def && !b.errors)
		control_diag(&b, 0, "%s has no default line (':...'): a message with no entry for "
			     "any of its addresses is not scanned at all", src);
	control_diag_end(&b);
	if (b.errors)
		r = 1;
	else if (check_only)
		r = 0;
	else
		r = control_cdb_write(dst, recs, n, err, errlen);
out:
	free(recs);
	free(text);
	control_policy_unref(p);
	return r;
}

int control_ssattach_check(const char *path, const struct control_options *opt, char *err,
			   size_t errlen)
{
	struct control_policy *p = control_policy_new(opt);
	struct control_build b = { .p = p, .opt = opt, .err = err, .errlen = errlen };
	struct control_fileid id;
	size_t len;
	char *text;
	int r;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r = control_file_read(path, &text, &len, &id, err, errlen);
	if (r <= 0) {
		if (r == 0)
			control_diag(&b, 1, "%s: no such file", path);
		control_policy_unref(p);
		return r < 0 ? -1 : 1;
	}
	r = control_ssattach_parse(&b, path, text, len) && !b.errors ? 0 : 1;
	control_diag_end(&b);
	free(text);
	control_policy_unref(p);
	return r;
}
