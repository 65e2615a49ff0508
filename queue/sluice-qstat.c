/*
 * sluice-qstat - qmail-qstat and qmail-qread for the queues sluice writes to,
 * and sluiced's live figures.
 *
 * SYNOPSIS
 *	sluice-qstat [--json | --live | --prometheus | --list] [-C confdir]
 *		     [-b base] [-c count] [-S start] [-d queuedir]
 *
 * DESCRIPTION
 *	First the installed settings: the envdir(8) directory sluiced reads
 *	(-C, else $SLUICE_ENVDIR, else SLUICE_CONFDIR_DEFAULT when it exists;
 *	queue_envdir_find), put into the environment; then the queues from
 *	the options over that environment (queue_set_env).
 *	For each queue and in total, prints qmail-qstat's two figures:
 *	"messages in queue: N" (files under mess/) and "messages in queue but
 *	not yet preprocessed: N" (todo/), prefixed by the queue's name; with
 *	one QUEUEDIR, exactly qmail-qstat's two lines.  --json adds intd/.
 *	Counting is queue_count(): directory listings only.  --live also
 *	prints sluiced's live figures, read from its stats socket
 *	($SLUICE_STATS_SOCKET, else $SLUICE_SOCKET.stats, else
 *	$QUEUE_BASE/sluiced.sock.stats).  --prometheus prints the counts and
 *	the live figures in Prometheus's text format (queue_prom_*).  --list
 *	lists every message as qmail-qread does (queue_list), each line
 *	prefixed by the queue's name unless there is one QUEUEDIR.
 *	See man/sluice-qstat.8.
 *
 * DIAGNOSTICS
 *	A queue that cannot be counted is named on stderr with the cause and
 *	left out of the figures; the others are still printed, and the exit
 *	code is 1 (with --prometheus it is a sample, sluice_queue_count_ok 0,
 *	and a daemon that does not answer is sluice_up 0: exit 0 so that the
 *	file is still replaced).  Exit 2 for bad usage or a bad setting.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
	"usage: sluice-qstat [--json | --live | --prometheus | --list] [-C confdir]\n"
	"                    [-b base] [-c count] [-S start] [-d queuedir]\n"
	"  --json       one JSON object instead of qmail-qstat's lines\n"
	"  --live       also sluiced's live figures (in flight, verdicts, batches, latency)\n"
	"  --prometheus the counts and the live figures in Prometheus's text format\n"
	"  --list       every message, as qmail-qread lists them\n"
	"  -C confdir   the installed settings (default $SLUICE_ENVDIR, else "
	SLUICE_CONFDIR_DEFAULT " if it exists; '' for none)\n"
	"  -b base      queues are base/queue<N> (default $QUEUE_BASE or "
	QUEUE_BASE_DEFAULT ")\n"
	"  -c count     number of queues (default $QUEUE_COUNT or 5)\n"
	"  -S start     first queue number (default $QUEUE_START or 1)\n"
	"  -d queuedir  only this queue (default $QUEUEDIR when no -b -c -S)\n";

struct result {
	enum queue_status status;
	struct queue_counts n;
	struct queue_err err;
};

/* json_str - s as a JSON string */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void json_counts(const struct queue_counts *n)
{
	printf("\"messages\":%lu,\"todo\":%lu,\"intd\":%lu", n->mess, n->todo, n->intd);
}

static void print_json(const struct queue_set *set, const struct result *r,
		       const struct queue_counts *total)
{
	unsigned i;

	fputs("{\"queues\":[", stdout);
	for (i = 0; i < set->n; i++) {
		printf("%s{\"name\":", i ? "," : "");
		json_str(set->v[i].name);
		fputs(",\"path\":", stdout);
		json_str(set->v[i].path);
		if (r[i].status == QUEUE_OK) {
			putchar(',');
			json_counts(&r[i].n);
		} else {
			fputs(",\"error\":", stdout);
			json_str(r[i].err.text);
		}
		putchar('}');
	}
	fputs("],\"total\":{", stdout);
	json_counts(total);
	fputs("}}\n", stdout);
}

static void print_text(const struct queue_set *set, const struct result *r,
		       const struct queue_counts *total)
{
	unsigned i;

	if (!set->base) {
		/* one QUEUEDIR: exactly qmail-qstat's output */
		if (r[0].status == QUEUE_OK)
			printf("messages in queue: %lu\n"
			       "messages in queue but not yet preprocessed: %lu\n",
			       r[0].n.mess, r[0].n.todo);
		return;
	}
	for (i = 0; i < set->n; i++)
		if (r[i].status == QUEUE_OK)
			printf("%s: messages in queue: %lu\n"
			       "%s: messages in queue but not yet preprocessed: %lu\n",
			       set->v[i].name, r[i].n.mess, set->v[i].name, r[i].n.todo);
	printf("total: messages in queue: %lu\n"
	       "total: messages in queue but not yet preprocessed: %lu\n",
	       total->mess, total->todo);
}

/* stats_path - where sluiced answers its live figures; base is -b's (or
 * the environment's) queue base, NULL for one queuedir */
static const char *stats_base;

static void stats_path(char *buf, size_t cap)
{
	const char *s = getenv("SLUICE_STATS_SOCKET"), *sock = getenv("SLUICE_SOCKET");
	const char *base = stats_base ? stats_base : getenv("QUEUE_BASE");

	if (s && *s)
		snprintf(buf, cap, "%s", s);
	else if (sock && *sock)
		snprintf(buf, cap, "%s.stats", sock);
	else
		snprintf(buf, cap, "%s/sluiced.sock.stats", base && *base ? base : QUEUE_BASE_DEFAULT);
}

/* fetch_live - sluiced's "key value" lines into buf; -1 after a message on
 * stderr when the daemon does not answer */
static int fetch_live(char *buf, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t got = 0;
	ssize_t n;
	int fd;

	stats_path(sa.sun_path, sizeof sa.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		diag_info("sluiced does not answer on %s: %s", sa.sun_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	shutdown(fd, SHUT_WR);	/* no command: the figures */
	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = 0;
	return 0;
}

/* print_live - the live figures, each line prefixed "sluiced: " */
static int print_live(void)
{
	char buf[65536], *line, *save;

	if (fetch_live(buf, sizeof buf) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("sluiced: %s\n", line);
	return 0;
}

/* print_prom - counts and live figures in Prometheus's text format */
static int print_prom(const struct queue_set *set, const struct result *r)
{
	struct queue_prom *p = queue_prom_new();
	static char buf[65536];
	unsigned i;
	int rc;

	if (!p)
		return -1;
	for (i = 0; i < set->n; i++)
		queue_prom_counts(p, set->v[i].name, r[i].status == QUEUE_OK ? &r[i].n : NULL);
	if (fetch_live(buf, sizeof buf) == 0) {
		queue_prom_up(p, 1);
		queue_prom_stats(p, buf);
	} else
		queue_prom_up(p, 0);
	rc = queue_prom_write(p, stdout);
	queue_prom_free(p);
	return rc;
}

struct list_ctx {
	const char *prefix;
};

static int list_one(void *ctx, const struct queue_item *it)
{
	queue_list_format(stdout, ((struct list_ctx *)ctx)->prefix, it);
	return ferror(stdout) ? 1 : 0;
}

/* print_list - every queue's messages; 1 when a queue could not be listed */
static int print_list(const struct queue_set *set)
{
	unsigned i;
	int rc = 0;

	for (i = 0; i < set->n; i++) {
		char prefix[300];
		struct list_ctx c = { prefix };
		struct queue_err err;
		int hidden = 0;

		snprintf(prefix, sizeof prefix, "%s%s", set->base ? set->v[i].name : "",
			 set->base ? ": " : "");
		if (queue_list(set->v[i].path, list_one, &c, &hidden, &err) != QUEUE_OK) {
			diag_info("%s", err.text);
			rc = 1;
		}
		if (hidden)
			diag_info("%s: info/ is not readable by this user (it is "
				"qmails'): messages qmail-send has preprocessed are listed without "
				"sender and recipients; run as root for all", set->v[i].path);
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "live", no_argument, NULL, 'l' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "list", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct queue_set_opts opts = { NULL, NULL, NULL, NULL };
	struct queue_counts total = { 0, 0, 0 };
	struct queue_set set;
	struct queue_err err;
	struct result *r;
	const char *confopt = NULL, *conf;
	unsigned i;
	int json = 0, live = 0, prom = 0, list = 0, rc = 0, c;
	diag_program("sluice-qstat", 111);

	while ((c = getopt_long(argc, argv, "b:c:S:d:C:", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'l': live = 1; break;
		case 'P': prom = 1; break;
		case 'L': list = 1; break;
		case 'b': opts.base = optarg; break;
		case 'c': opts.count = optarg; break;
		case 'S': opts.start = optarg; break;
		case 'd': opts.queuedir = optarg; break;
		case 'C': confopt = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': puts("sluice-qstat " SLUICE_VERSION); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (optind != argc || json + live + prom + list > 1) {
		fputs(usage_text, stderr);
		return 2;
	}
	if ((conf = queue_envdir_find(confopt, SLUICE_CONFDIR_DEFAULT)) &&
	    queue_envdir_apply(conf, &err) != QUEUE_OK) {
		diag_info("%s", err.text);
		return 2;
	}
	if (queue_set_env(&set, &opts, &err) != QUEUE_OK) {
		diag_info("%s", err.text);
		return err.status == QUEUE_ECONFIG ? 2 : 1;
	}
	stats_base = set.base;
	if (list) {
		rc = print_list(&set);
		queue_set_free(&set);
		goto out;
	}
	r = xcalloc(set.n, sizeof *r);
	for (i = 0; i < set.n; i++) {
		r[i].status = queue_count(set.v[i].path, &r[i].n, &r[i].err);
		if (r[i].status != QUEUE_OK) {
			diag_info("%s", r[i].err.text);
			rc = 1;
			continue;
		}
		total.mess += r[i].n.mess;
		total.todo += r[i].n.todo;
		total.intd += r[i].n.intd;
	}
	if (prom)
		rc = print_prom(&set, r) < 0 ? 1 : 0;
	else if (json)
		print_json(&set, r, &total);
	else
		print_text(&set, r, &total);
	if (live && print_live() < 0)
		rc = 1;
	free(r);
	queue_set_free(&set);
out:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		diag_info("cannot write output: %s", strerror(errno));
		rc = 1;
	}
	return rc;
}
