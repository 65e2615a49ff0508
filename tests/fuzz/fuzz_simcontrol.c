/*
 * fuzz_simcontrol.c - libFuzzer target for control/: a simcontrol text,
 * then addresses, differentially.
 *
 *	The input is a simcontrol text, a line "%%", then one address a line
 *	(the first the sender).  The text is loaded as the daemon loads it,
 *	and when it loads, compiled the way sluice-cdb compiles it and that
 *	CDB loaded too; both snapshots must give the same result for the
 *	addresses, and the CDB dumped and compiled again must give the same
 *	bytes.  A text one path accepts and the other refuses, a result that
 *	differs, or a dump that does not round-trip aborts.  ASan checks the
 *	parsers and the lookup on hostile lines and addresses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], text_dir[80], cdb_dir[80];

static void put(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "w");

	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f))
		abort();
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	char *b = malloc(1 << 20);

	*n = f ? fread(b, 1, (1 << 20) - 1, f) : 0;
	if (f)
		fclose(f);
	b[*n] = 0;
	return b;
}

/* cleanup - the work dir, at exit (libFuzzer leaves through exit()) */
static void cleanup(void)
{
	static const char *const files[] = { "t/simcontrol", "c/simcontrol.cdb", "dump", "dump.cdb",
					     "t", "c", "" };
	char p[128];
	size_t i;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		if (remove(p) < 0 && !*files[i])
			rmdir(dir);
	}
}

/* show - the parts of a result a policy decides */
static void show(const struct control_result *r, char *buf, size_t cap)
{
	size_t n, i, j;

	n = (size_t)snprintf(buf, cap, "%x %d%d%d%d%d %g %d %llu %s %s %d %x %zu %zu %s|",
			     r->scanners, r->action[0], r->action[1], r->action[2], r->action[3],
			     r->action[4], r->spam_hits, r->spam_required,
			     (unsigned long long)r->size_limit, r->spamuser ? r->spamuser : "-",
			     r->quarantine ? r->quarantine : "-", r->queue, r->flags, r->nattach,
			     r->nregex, r->applied);
	for (i = 0; i < r->nattach && n < cap; i++)
		for (j = 0; j < r->attach[i]->n && n < cap; j++)
			n += (size_t)snprintf(buf + n, cap - n, "%s ", r->attach[i]->e[j].s);
	for (i = 0; i < r->nregex && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "/%s/", control_regex_pattern(r->regex[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct control_defaults d = {
		.scanners = CONTROL_SCAN_CLAM | CONTROL_SCAN_ATTACH,
		.action = { CONTROL_ACT_REJECT, CONTROL_ACT_REJECT, CONTROL_ACT_REJECT,
			    CONTROL_ACT_REJECT, CONTROL_ACT_DEFER },
	};
	struct control_options o = { .applies = CONTROL_APPLY_ALL, .sender = CONTROL_SENDER_ALWAYS };
	const char *sep = memmem(data, size, "\n%%\n", 4);
	size_t tlen = sep ? (size_t)(sep - (const char *)data) + 1 : size;
	char path[128], err[1024], a[4096], b[4096], *addrs, *rc[32], *save, *line;
	struct control_policy *pt, *pc;
	struct control_result rt, rcd;
	struct control_msg m = { 0 };
	int n = 0, c;

	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/fuzz-simcontrol-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		snprintf(text_dir, sizeof text_dir, "%s/t", dir);
		snprintf(cdb_dir, sizeof cdb_dir, "%s/c", dir);
		mkdir(text_dir, 0700);
		mkdir(cdb_dir, 0700);
		atexit(cleanup);
	}
	snprintf(path, sizeof path, "%s/simcontrol", text_dir);
	put(path, data, tlen);
	o.dir = text_dir;
	pt = control_policy_open(&o, err, sizeof err);
	o.dir = cdb_dir;
	{
		char cdb[128];

		snprintf(cdb, sizeof cdb, "%s/simcontrol.cdb", cdb_dir);
		c = control_compile(path, cdb, 0, &o, err, sizeof err);
	}
	if ((c == 0) != (pt != NULL))
		abort();	/* the compiler and the daemon disagree */
	if (!pt)
		return 0;
	pc = control_policy_open(&o, err, sizeof err);
	if (!pc)
		abort();	/* a CDB of ours the daemon refuses */

	addrs = malloc(size - tlen + 1);
	memcpy(addrs, data + tlen, size - tlen);
	addrs[size - tlen] = 0;
	for (line = strtok_r(addrs, "\n", &save); line && n < 31; line = strtok_r(NULL, "\n", &save))
		rc[n++] = line;
	rc[n] = NULL;
	m.sender = n ? rc[0] : "";
	m.rcpts = n > 1 ? (const char *const *)rc + 1 : (const char *const *)rc + n;
	m.relayclient = n & 1;
	control_result_init(&rt);
	control_result_init(&rcd);
	if (control_policy_lookup(pt, &m, &d, &rt) < 0 || control_policy_lookup(pc, &m, &d, &rcd) < 0)
		abort();
	show(&rt, a, sizeof a);
	show(&rcd, b, sizeof b);
	if (strcmp(a, b)) {
		fprintf(stderr, "text: %s\ncdb:  %s\n", a, b);
		abort();
	}
	control_result_fini(&rt);
	control_result_fini(&rcd);
	control_policy_unref(pt);
	control_policy_unref(pc);
	free(addrs);

	/* the dump is a simcontrol that compiles to the same bytes */
	{
		char cdb[128], dump[128], again[128];
		size_t n1, n2;
		char *x, *y;
		FILE *f;

		snprintf(cdb, sizeof cdb, "%s/simcontrol.cdb", cdb_dir);
		snprintf(dump, sizeof dump, "%s/dump", dir);
		snprintf(again, sizeof again, "%s/dump.cdb", dir);
		f = fopen(dump, "w");
		if (!f || control_cdb_dump(cdb, fileno(f), err, sizeof err) != 0)
			abort();
		fclose(f);
		o.dir = dir;
		o.diag = NULL;
		if (control_compile(dump, again, 0, &o, err, sizeof err) != 0)
			abort();
		x = slurp(cdb, &n1);
		y = slurp(again, &n2);
		if (n1 != n2 || memcmp(x, y, n1))
			abort();
		free(x);
		free(y);
	}
	return 0;
}
