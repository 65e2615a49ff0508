/*
 * sluice-mkqueue - create or repair the qmail queue trees sluice writes to.
 *
 * SYNOPSIS
 *	sluice-mkqueue [-nq] [-s split] [-C confdir] [-b base] [-c count] [-S start]
 *		       [-d queuedir]
 *
 * DESCRIPTION
 *	Reads the installed settings as sluice-qstat does (queue_envdir_*),
 *	then lays out $QUEUE_BASE/queue<N> for N = QUEUE_START ...
 *	QUEUE_START+QUEUE_COUNT-1, or the one $QUEUEDIR, with the stock
 *	layout, owners and modes (queue_layout_make()), creating the base
 *	directory when missing.  Prints each change and a summary per queue;
 *	-n only prints what it would change.  See man/sluice-mkqueue.8.
 *
 * DIAGNOSTICS
 *	Exit 0 when every tree is right, 1 when any could not be made right
 *	(the message names the path and the cause), 2 for bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "queue.h"
#include "queue_set.h"
#include "queue/diag.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif
#ifndef SLUICE_CONFDIR_DEFAULT
#define SLUICE_CONFDIR_DEFAULT "/etc/sluice"
#endif

static const char usage_text[] =
	"usage: sluice-mkqueue [-nq] [-s split] [-C confdir] [-b base] [-c count] [-S start]\n"
	"                      [-d queuedir]\n"
	"  -C confdir   the installed settings (default $SLUICE_ENVDIR, else "
	SLUICE_CONFDIR_DEFAULT " if it exists; '' for none)\n"
	"  -s split     split subdirectories (default $CONFSPLIT or 23)\n"
	"  -n           dry run: print what would change, change nothing\n"
	"  -b base      queues are base/queue<N> (default $QUEUE_BASE or "
	QUEUE_BASE_DEFAULT ")\n"
	"  -c count     number of queues (default $QUEUE_COUNT or 5)\n"
	"  -S start     first queue number (default $QUEUE_START or 1)\n"
	"  -d queuedir  only this queue (default $QUEUEDIR when no -b -c -S)\n"
	"  -q           quiet: print errors only\n";

static void say_line(void *ctx, const char *line)
{
	puts(line);
}

/* make_base - the directory holding the queues; 0, or -1 after a message */
static int make_base(const char *base, int dry_run, int quiet)
{
	struct stat st;

	if (stat(base, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		diag_info("%s: exists and is not a directory", base);
		return -1;
	}
	if (errno != ENOENT) {
		diag_info("cannot inspect %s: %s", base, strerror(errno));
		return -1;
	}
	if (!quiet)
		printf("create directory %s\n", base);
	if (!dry_run && mkdir(base, 0755) < 0) {
		diag_info("cannot create directory %s: %s", base,
			strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct queue_set_opts opts = { NULL, NULL, NULL, NULL };
	struct queue_set set;
	struct queue_owners own;
	struct queue_err err;
	const char *confopt = NULL, *conf;
	unsigned split = 0, i;
	int dry_run = 0, quiet = 0, rc = 0, c;
	diag_program("sluice-mkqueue", 111);

	while ((c = getopt_long(argc, argv, "ns:b:c:S:d:qC:", longopts, NULL)) != -1) {
		switch (c) {
		case 'C': confopt = optarg; break;
		case 'n': dry_run = 1; break;
		case 'q': quiet = 1; break;
		case 'b': opts.base = optarg; break;
		case 'c': opts.count = optarg; break;
		case 'S': opts.start = optarg; break;
		case 'd': opts.queuedir = optarg; break;
		case 's': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*optarg < '0' || *optarg > '9' || *end || v < 1 || v > QUEUE_SPLIT_MAX) {
				diag_info("bad split \"%s\" (1 to %u)",
					optarg, QUEUE_SPLIT_MAX);
				return 2;
			}
			split = (unsigned)v;
			break;
		}
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': puts("sluice-mkqueue " SLUICE_VERSION); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (optind != argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	if ((conf = queue_envdir_find(confopt, SLUICE_CONFDIR_DEFAULT)) &&
	    queue_envdir_apply(conf, &err) != QUEUE_OK) {
		diag_info("%s", err.text);
		return 2;
	}
	if (!split) {	/* after the settings: CONFSPLIT may be one */
		const char *cs = getenv("CONFSPLIT");
		char *end;

		split = queue_split_default();
		/* a typo must not lay out queues with a split qmail-send does not use */
		if (cs && *cs && (*cs < '0' || *cs > '9' || strtoul(cs, &end, 10) != split || *end)) {
			diag_info("CONFSPLIT=%s: want a number from 1 to %u", cs,
				QUEUE_SPLIT_MAX);
			return 2;
		}
	}
	if (queue_set_env(&set, &opts, &err) != QUEUE_OK) {
		diag_info("%s", err.text);
		return err.status == QUEUE_ECONFIG ? 2 : 1;
	}
	queue_owners_load(&own, NULL, NULL);
	if (own.fallback && !quiet)
		diag_info("users qmailq/qmails/qmailr or group qmail not "
			"found; using uid %lu gid %lu", (unsigned long)own.qmailq,
			(unsigned long)own.qmail);
	if (set.base && make_base(set.base, dry_run, quiet) < 0) {
		queue_set_free(&set);
		return 1;
	}
	for (i = 0; i < set.n; i++) {
		struct queue_layout_report rep = { 0, 0, quiet ? NULL : say_line, NULL };
		if (queue_layout_make(set.v[i].path, split, &own, dry_run, &rep, &err) != QUEUE_OK) {
			fflush(stdout);
			diag_info("%s", err.text);
			rc = 1;
		}
		if (!quiet)
			printf(dry_run ? "%s: would create %u, would fix %u\n"
				       : "%s: created %u, fixed %u\n",
			       set.v[i].name, rep.created, rep.fixed);
	}
	queue_set_free(&set);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		diag_info("cannot write output: %s", strerror(errno));
		rc = 1;
	}
	return rc;
}
