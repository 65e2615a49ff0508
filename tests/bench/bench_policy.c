/*
 * bench_policy - policy lookups per second against a big simcontrol.cdb.
 *
 *	bench_policy [-e ENTRIES] [-n LOOKUPS] [-r ROUNDS] [-d DIR]
 *
 *	Writes a simcontrol of ENTRIES entries (100000): the default line,
 *	domains d<N>.example and users u<N>@d<M>.example, with values drawn
 *	from a pool of a dozen (some with attach lists, one with a regex),
 *	compiles it with control_compile() (as sluice-cdb does) into a temp
 *	dir under DIR ($TMPDIR, else /tmp), opens the snapshot from the CDB,
 *	and times control_policy_lookup() for messages of 1, 10 and 100
 *	recipients: a third at listed domains, a third at listed users (half
 *	with an extension: u7-list@...), a third at unlisted domains; a
 *	relay client's sender now and then; and 100 recipients at only 5
 *	domains, as most mail to many recipients is.  Each round runs LOOKUPS lookups
 *	(20000) per recipient count, in an order rotated every round; the
 *	figures are the median, min and max of ROUNDS (7) rounds, plus the
 *	mean number of entries that matched (so a lookup that finds nothing
 *	cannot pass for a fast one).  Rates are lookups per second of the
 *	thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that on a shared
 *	machine the time spent waiting for a CPU does not count; cpu_share is
 *	that CPU time over the wall-clock time of the same runs.  One result
 *	is reused throughout, as the daemon would.  Prints the compile and load times and the load's
 *	growth of the resident set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/control.h"

#define POOL 512

static const char *const values[] = {
	"clam=yes,spam=yes",
	"clam=no,spam=yes,spam_hits=6.5",
	"clam=yes,spam=no,attach=.exe:.com:.scr",
	"clam=yes,attach=yes,action_virus=quarantine",
	"spam=yes,spam_passthru=yes",
	"spam_hits=4,size_limit=500000",
	"attach=.zip:.rar:.7z,action_banned=tag",
	"clam=yes,spam=yes,spamuser=filter",
	"queue=2",
	"action_spam=quarantine,spam=yes",
	"regex=^subject.*lottery",
	"clam=no",
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* cpu - this thread's CPU time: on a shared machine the time the
 * lookups ran, not the time they waited for a CPU */
static double cpu(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static unsigned long rnd_state = 88172645463325252ul;

static unsigned long rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void rmdir_all(const char *dir)
{
	char p[4200];

	snprintf(p, sizeof p, "%s/simcontrol", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/simcontrol.cdb", dir);
	unlink(p);
	rmdir(dir);
}

struct msgs {
	const char **rcpts;	/* POOL messages of n recipients, each NULL-terminated */
	const char *sender[POOL];
	int relay[POOL];
	size_t n;
};

/* address - a recipient; with few > 0, at one of `few` domains only */
static char *address(unsigned long entries, unsigned long few)
{
	unsigned long ndom = entries * 7 / 10, r = rnd() % 3, d = rnd() % (ndom ? ndom : 1);

	if (few) {
		char buf[128];

		snprintf(buf, sizeof buf, "user%lu@d%lu.example", rnd() % 100000, rnd() % few);
		return strdup(buf);
	}
	char buf[128];

	if (r == 0)
		snprintf(buf, sizeof buf, "someone@d%lu.example", d);
	else if (r == 1)	/* users u<i>@d<i % ndom>: see the generator */
		snprintf(buf, sizeof buf, rnd() & 1 ? "u%lu@d%lu.example" : "u%lu-list@d%lu.example",
			 d % (entries - ndom), (d % (entries - ndom)) % ndom);
	else
		snprintf(buf, sizeof buf, "x%lu@unlisted%lu.example", rnd() % 1000, d);
	return strdup(buf);
}

static void make_msgs(struct msgs *m, size_t n, unsigned long entries, unsigned long few)
{
	size_t i, j;

	m->n = n;
	m->rcpts = malloc(POOL * (n + 1) * sizeof *m->rcpts);
	for (i = 0; i < POOL; i++) {
		for (j = 0; j < n; j++)
			m->rcpts[i * (n + 1) + j] = address(entries, few);
		m->rcpts[i * (n + 1) + n] = NULL;
		m->relay[i] = rnd() % 8 == 0;
		m->sender[i] = m->relay[i] ? address(entries, 0) : "bounce@outside.example";
	}
}

int main(int argc, char **argv)
{
	unsigned long entries = 100000, lookups = 20000, rounds = 7, i;
	const char *base = getenv("TMPDIR");
	static const size_t sizes[] = { 1, 10, 100, 100 };
	static const unsigned long few[] = { 0, 0, 0, 5 };	/* the last: 5 domains */
	enum { NS = sizeof sizes / sizeof sizes[0] };
	struct msgs msgs[NS];
	double rate[NS][64], applied[NS] = { 0 }, busy[NS] = { 0 }, wall[NS] = { 0 }, t0, t1;
	struct control_options o = { .applies = CONTROL_APPLY_ALL };
	struct control_defaults d = { .scanners = CONTROL_SCAN_CLAM | CONTROL_SCAN_ATTACH };
	struct control_policy *p;
	struct control_result r;
	char dir[4096], path[4200], cdb[4200], err[1024];
	FILE *f;
	long rss0;
	int c;

	while ((c = getopt(argc, argv, "e:n:r:d:")) != -1) {
		switch (c) {
		case 'e':
			entries = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			lookups = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			base = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench_policy [-e ENTRIES] [-n LOOKUPS] [-r ROUNDS] "
					"[-d DIR]\n");
			return 2;
		}
	}
	if (entries < 10 || !lookups || !rounds || rounds > 64) {
		fprintf(stderr, "bench_policy: need ENTRIES >= 10, LOOKUPS >= 1, 1 <= ROUNDS <= 64\n");
		return 2;
	}
	snprintf(dir, sizeof dir, "%s/bench-policy-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench_policy: mkdtemp %s: %s\n", dir, strerror(errno));
		return 111;
	}
	snprintf(path, sizeof path, "%s/simcontrol", dir);
	snprintf(cdb, sizeof cdb, "%s/simcontrol.cdb", dir);
	if (!(f = fopen(path, "w"))) {
		fprintf(stderr, "bench_policy: %s: %s\n", path, strerror(errno));
		return 111;
	}
	/* 70 % domains d0..d(ndom-1), 30 % users u<i>@d<i % ndom> */
	fprintf(f, ":clam=yes,attach=yes,spam=yes,spam_hits=8\n");
	{
		unsigned long ndom = entries * 7 / 10;

		for (i = 0; i < ndom; i++)
			fprintf(f, "d%lu.example:%s\n", i, values[rnd() % 12]);
		for (i = 0; i + ndom + 1 < entries; i++)
			fprintf(f, "u%lu@d%lu.example:%s\n", i, i % ndom, values[rnd() % 12]);
	}
	fclose(f);
	o.dir = dir;
	t0 = now();
	if (control_compile(path, cdb, 0, &o, err, sizeof err) != 0) {
		fprintf(stderr, "bench_policy: compile: %s\n", err);
		return 111;
	}
	t1 = now();
	unlink(path);		/* the CDB is what is read */
	rss0 = rss_kb();
	if (!(p = control_policy_open(&o, err, sizeof err))) {
		fprintf(stderr, "bench_policy: open: %s\n", err);
		return 111;
	}
	printf("entries=%lu compile_ms=%.1f load_ms=%.1f load_rss_kb=%ld source=%s\n", entries,
	       (t1 - t0) * 1e3, (now() - t1) * 1e3, rss_kb() - rss0, control_policy_source(p));
	for (i = 0; i < NS; i++)
		make_msgs(&msgs[i], sizes[i], entries, few[i]);
	control_result_init(&r);
	for (i = 0; i < rounds; i++) {
		size_t k;

		for (k = 0; k < NS; k++) {
			size_t s = (k + i) % NS, q;
			struct msgs *m = &msgs[s];
			unsigned long hits = 0;
			double start = cpu(), wstart = now();

			for (q = 0; q < lookups; q++) {
				size_t at = q % POOL;
				struct control_msg msg = { .sender = m->sender[at],
							   .rcpts = &m->rcpts[at * (m->n + 1)],
							   .relayclient = m->relay[at] };

				if (control_policy_lookup(p, &msg, &d, &r) < 0) {
					fprintf(stderr, "bench_policy: lookup failed\n");
					return 111;
				}
				hits += r.hits;
			}
			rate[s][i] = (double)lookups / (cpu() - start);
			busy[s] += cpu() - start;
			wall[s] += now() - wstart;
			applied[s] += (double)hits / (double)lookups;
		}
	}
	for (i = 0; i < NS; i++) {
		double sorted[64], med;

		memcpy(sorted, rate[i], rounds * sizeof sorted[0]);
		qsort(sorted, rounds, sizeof sorted[0], cmp);
		med = rounds % 2 ? sorted[rounds / 2] : (sorted[rounds / 2 - 1] + sorted[rounds / 2]) / 2;
		printf("rcpts=%zu%s lookups_per_s median=%.0f min=%.0f max=%.0f us_per_lookup=%.2f "
		       "ns_per_rcpt=%.0f matched_per_lookup=%.2f rounds=%lu cpu_share=%.2f\n",
		       sizes[i], few[i] ? "@5domains" : "", med, sorted[0], sorted[rounds - 1],
		       1e6 / med, 1e9 / med / (double)sizes[i], applied[i] / (double)rounds, rounds,
		       wall[i] > 0 ? busy[i] / wall[i] : 0);
	}
	control_result_fini(&r);
	control_policy_unref(p);
	for (i = 0; i < NS; i++) {
		size_t k;

		for (k = 0; k < POOL * (msgs[i].n + 1); k++)
			free((char *)msgs[i].rcpts[k]);
		for (k = 0; k < POOL; k++)
			if (msgs[i].relay[k])
				free((char *)msgs[i].sender[k]);
		free(msgs[i].rcpts);
	}
	rmdir_all(dir);
	return 0;
}
