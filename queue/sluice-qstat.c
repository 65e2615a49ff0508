/*
 * sluice-qstat - qmail-qstat for the queues sluice writes to.
 *
 * SYNOPSIS
 *	sluice-qstat [--json | --live] [-b base] [-c count] [-S start] [-d queuedir]
 *
 * DESCRIPTION
 *	For each queue (the same set sluice-mkqueue lays out) and in total,
 *	prints qmail-qstat's two figures: "messages in queue: N" (files under
 *	mess/) and "messages in queue but not yet preprocessed: N" (todo/),
 *	prefixed by the queue's name; with one QUEUEDIR, exactly qmail-qstat's
 *	two lines.  --json adds intd/.  Counting is queue_count(): directory
 *	listings only.  --live also prints sluiced's live figures, read from its
 *	stats socket ($SLUICE_STATS_SOCKET, else $SLUICE_SOCKET.stats, else
 *	$QUEUE_BASE/sluiced.sock.stats).  See man/sluice-qstat.8.
 *
 * DIAGNOSTICS
 *	A queue that cannot be counted is named on stderr with the cause and
 *	left out of the figures; the others are still printed, and the exit
 *	code is 1.  Exit 2 for bad usage.
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

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

static const char usage_text[] =
	"usage: sluice-qstat [--json | --live] [-b base] [-c count] [-S start] [-d queuedir]\n"
	"  --json       one JSON object instead of qmail-qstat's lines\n"
	"  --live       also sluiced's live figures (in flight, verdicts, batches, latency)\n"
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

/* print_live - sluiced's "key value" lines, prefixed "sluiced: "; -1 when
 * the daemon does not answer */
static int print_live(void)
{
	const char *s = getenv("SLUICE_STATS_SOCKET"), *sock = getenv("SLUICE_SOCKET");
	const char *base = getenv("QUEUE_BASE");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[16384], *line, *save;
	size_t got = 0;
	ssize_t n;
	int fd;

	if (s && *s)
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s);
	else if (sock && *sock)
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s.stats", sock);
	else
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sluiced.sock.stats",
			 base && *base ? base : QUEUE_BASE_DEFAULT);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		fprintf(stderr, "sluice-qstat: sluiced does not answer on %s: %s\n", sa.sun_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	shutdown(fd, SHUT_WR);	/* no command: the figures */
	while (got + 1 < sizeof buf && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("sluiced: %s\n", line);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "live", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct queue_set_opts opts = { NULL, NULL, NULL, NULL };
	struct queue_counts total = { 0, 0, 0 };
	struct queue_set set;
	struct queue_err err;
	struct result *r;
	unsigned i;
	int json = 0, live = 0, rc = 0, c;

	while ((c = getopt_long(argc, argv, "b:c:S:d:", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'l': live = 1; break;
		case 'b': opts.base = optarg; break;
		case 'c': opts.count = optarg; break;
		case 'S': opts.start = optarg; break;
		case 'd': opts.queuedir = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': puts("sluice-qstat " SLUICE_VERSION); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (optind != argc || (json && live)) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (queue_set_env(&set, &opts, &err) != QUEUE_OK) {
		fprintf(stderr, "sluice-qstat: %s\n", err.text);
		return err.status == QUEUE_ECONFIG ? 2 : 1;
	}
	if (!(r = calloc(set.n, sizeof *r))) {
		fprintf(stderr, "sluice-qstat: out of memory\n");
		queue_set_free(&set);
		return 1;
	}
	for (i = 0; i < set.n; i++) {
		r[i].status = queue_count(set.v[i].path, &r[i].n, &r[i].err);
		if (r[i].status != QUEUE_OK) {
			fprintf(stderr, "sluice-qstat: %s\n", r[i].err.text);
			rc = 1;
			continue;
		}
		total.mess += r[i].n.mess;
		total.todo += r[i].n.todo;
		total.intd += r[i].n.intd;
	}
	if (json)
		print_json(&set, r, &total);
	else
		print_text(&set, r, &total);
	if (live && print_live() < 0)
		rc = 1;
	free(r);
	queue_set_free(&set);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "sluice-qstat: cannot write output: %s\n", strerror(errno));
		rc = 1;
	}
	return rc;
}
