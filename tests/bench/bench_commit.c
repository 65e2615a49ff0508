/*
 * bench_commit.c - commits per second of small messages on this disk, one
 * message per round of fsyncs against group commit.
 *
 * SYNOPSIS
 *	bench_commit [-d dir] [-n messages] [-r rounds] [-s bytes] [-t threads] [-F]
 *
 * DESCRIPTION
 *	Writes messages of -s bytes (4096) through the queue library into
 *	fresh queue trees under a temporary directory in -d ($TMPDIR, else
 *	/var/tmp), in these modes:
 *	  full/1    QUEUE_SYNC_FULL, one message per queue_commit()
 *	  full/16   QUEUE_SYNC_FULL, batches of 16 per queue_commit()
 *	  full/64   QUEUE_SYNC_FULL, batches of 64
 *	  data/1    QUEUE_SYNC_DATA, one per call: stock qmail-queue's fsyncs
 *	  full/16 and full/64 again with -t fsync helper threads (8, sluiced's
 *	            default SLUICE_FSYNC_THREADS; -t 0 leaves these out)
 *	Each mode commits -n messages (1000) per round, each run in a new queue
 *	tree and a new process (the fsync threads are process-wide).  -r rounds
 *	(15) run the modes in rotating order, so that noise from the rest of
 *	the machine hits every mode alike.
 *
 *	Printed per mode, as a Markdown table: the median, min and max
 *	messages per second over the rounds; the p50 and p99 latency of a
 *	message, from its queue_msg_begin() to the return of the queue_commit()
 *	that committed it, over all rounds; fsync calls per message; the
 *	median's ratio to full/1's median, and the median of the per-round
 *	ratios (each mode against full/1 of the same round: steadier when the
 *	disk's speed drifts).
 *
 *	A tmpfs makes fsync free and the figures meaningless: the filesystem
 *	type is printed, and tmpfs/ramfs are refused unless -F is given.
 *
 * DIAGNOSTICS
 *	Exit 1 with a message on any failure; the temporary tree is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"

#define SPLIT 23
#define MAX_BATCH 64

struct mode {
	const char *name;
	enum queue_sync sync;
	unsigned batch;
	int threaded;		/* uses the -t fsync helper threads */
	double *rate;		/* per round */
	double *ratio;		/* per round: rate / full-1's rate that round */
	double *lat;		/* per message, all rounds, seconds */
	size_t nlat;
	unsigned long fsyncs;
};

static struct mode modes[] = {
	{ .name = "full, batch 1", .sync = QUEUE_SYNC_FULL, .batch = 1 },
	{ .name = "full, batch 16", .sync = QUEUE_SYNC_FULL, .batch = 16 },
	{ .name = "full, batch 64", .sync = QUEUE_SYNC_FULL, .batch = 64 },
	{ .name = "data, batch 1 (stock qmail-queue)", .sync = QUEUE_SYNC_DATA, .batch = 1 },
	{ .name = "full, batch 16, fsync threads", .sync = QUEUE_SYNC_FULL, .batch = 16,
	  .threaded = 1 },
	{ .name = "full, batch 64, fsync threads", .sync = QUEUE_SYNC_FULL, .batch = 64,
	  .threaded = 1 },
};
static unsigned nmodes = sizeof modes / sizeof modes[0];

static char *topdir;
static int in_child;
static unsigned long nfsync;
static int (*real_fsync)(int);

static void cleanup(void);

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench_commit: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (in_child)
		_exit(1);	/* the parent cleans up */
	cleanup();
	exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		die("out of memory");
	return p;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* count_fsync - helper threads call it too */
static int count_fsync(int fd)
{
	__atomic_add_fetch(&nfsync, 1, __ATOMIC_RELAXED);
	return real_fsync(fd);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rmtree(const char *path)
{
	nftw(path, rm_one, 64, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	if (topdir) {
		rmtree(topdir);
		free(topdir);
		topdir = NULL;
	}
}

static void mkdir_or_die(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0)
		die("mkdir %s: %s", path, strerror(errno));
}

/* make_tree - the parts of a stock queue a writer touches */
static void make_tree(const char *q)
{
	static const char *const dirs[] = { "pid", "mess", "intd", "todo", "lock" };
	char path[4096 + 32];
	unsigned i;

	mkdir_or_die(q, 0750);
	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", q, dirs[i]);
		mkdir_or_die(path, 0750);
	}
	for (i = 0; i < SPLIT; i++) {
		snprintf(path, sizeof path, "%s/mess/%u", q, i);
		mkdir_or_die(path, 0750);
	}
	snprintf(path, sizeof path, "%s/lock/trigger", q);
	if (mkfifo(path, 0622) < 0)
		die("mkfifo %s: %s", path, strerror(errno));
}

static const char *fs_name(unsigned long type)
{
	switch (type) {
	case 0xEF53: return "ext2/3/4";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x2FC12FC1: return "zfs";
	case 0x01021994: return "tmpfs";
	case 0x858458F6: return "ramfs";
	case 0x794C7630: return "overlayfs";
	case 0x6969: return "nfs";
	case 0xF2F52010: return "f2fs";
	case 0x65735546: return "fuse";
	default: return "unknown";
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* median - sorts v */
static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* pct - the p-th percentile (nearest rank) of a sorted array */
static double pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* loadavg - the first line of /proc/loadavg */
static char *loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(buf, len, "?\n");
	if (f) {
		if (!fgets(buf, (int)len, f))
			snprintf(buf, len, "?\n");
		fclose(f);
	}
	return buf;
}

struct input {
	const char *body, *env;
	size_t blen, elen;
	unsigned n, threads;
};

/* commit_all - in the child: n messages into the queue at path; fills lat[] */
static double commit_all(const struct mode *md, const char *path, const struct input *in,
			 double *lat)
{
	static struct queue_msg msg[MAX_BATCH];
	struct queue_msg *v[MAX_BATCH];
	double t_begin[MAX_BATCH], t0, elapsed;
	char rcv[QUEUE_RECEIVED_MAX];
	struct queue_uids uids = { (uid_t)-1, getuid(), (uid_t)-1 };
	struct queue q;
	struct queue_err e;
	unsigned done = 0, i;
	size_t rlen;

	if (queue_open(&q, path, SPLIT, &e) != QUEUE_OK)
		die("%s", e.text);
	/* the tree's creation and the last run's removal are not timed */
	if (syncfs(q.dirfd) < 0)
		die("syncfs %s: %s", path, strerror(errno));
	if (md->threaded && queue_fsync_threads(in->threads) < 0)
		die("cannot start %u fsync threads", in->threads);
	real_fsync = queue_sys.fsync;
	queue_sys.fsync = count_fsync;
	t0 = now();
	while (done < in->n) {
		unsigned b = md->batch < in->n - done ? md->batch : in->n - done;
		double t;

		for (i = 0; i < b; i++) {
			t_begin[i] = now();
			rlen = queue_received(rcv, sizeof rcv, (unsigned long)getpid(), getuid(), &uids,
					      time(NULL));
			if (queue_msg_begin(&q, &msg[i], &e) != QUEUE_OK ||
			    queue_msg_write(&msg[i], rcv, rlen, &e) != QUEUE_OK ||
			    queue_msg_write(&msg[i], in->body, in->blen, &e) != QUEUE_OK ||
			    queue_msg_intd(&msg[i], in->env, in->elen, &e) != QUEUE_OK)
				die("%s", e.text);
			v[i] = &msg[i];
		}
		if (queue_commit(v, b, md->sync, 0) != b) {
			for (i = 0; i < b; i++)
				if (msg[i].err.status != QUEUE_OK)
					die("%s", msg[i].err.text);
			die("commit failed");
		}
		t = now();
		for (i = 0; i < b; i++)
			lat[done + i] = t - t_begin[i];
		done += b;
	}
	elapsed = now() - t0;
	queue_close(&q);
	return (double)in->n / elapsed;
}

static void readall(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("lost a run's results");
		p += r;
		len -= (size_t)r;
	}
}

static void writeall(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("cannot report results: %s", strerror(errno));
		p += w;
		len -= (size_t)w;
	}
}

/* run - one mode, one round, in a child process and a fresh queue tree */
static void run(struct mode *md, unsigned round, const struct input *in)
{
	char path[4096];
	double rate;
	unsigned long fs;
	int p[2], status;
	pid_t pid;

	snprintf(path, sizeof path, "%s/r%u-%ld", topdir, round, (long)(md - modes));
	make_tree(path);
	if (pipe(p) < 0)
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		double *lat;

		in_child = 1;
		close(p[0]);
		lat = xcalloc(in->n, sizeof(double));
		nfsync = 0;
		rate = commit_all(md, path, in, lat);
		fs = __atomic_load_n(&nfsync, __ATOMIC_RELAXED);
		writeall(p[1], &rate, sizeof rate);
		writeall(p[1], &fs, sizeof fs);
		writeall(p[1], lat, in->n * sizeof(double));
		_exit(0);
	}
	close(p[1]);
	readall(p[0], &rate, sizeof rate);
	readall(p[0], &fs, sizeof fs);
	readall(p[0], md->lat + md->nlat, in->n * sizeof(double));
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("run of \"%s\" failed", md->name);
	md->nlat += in->n;
	md->rate[round] = rate;
	md->fsyncs += fs;
	rmtree(path);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_commit [-d dir] [-n messages] [-r rounds] [-s bytes] "
			"[-t threads] [-F]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR");
	unsigned rounds = 15, r, k;
	size_t size = 4096, i;
	int force = 0, c;
	char *body, env[256], load0[128], load1[128];
	struct input in = { .n = 1000, .threads = 8 };
	struct statfs sfs;
	struct utsname un;
	double base;

	if (!dir || !*dir)
		dir = "/var/tmp";
	while ((c = getopt(argc, argv, "d:n:r:s:t:F")) != -1)
		switch (c) {
		case 'd': dir = optarg; break;
		case 'n': in.n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': rounds = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': size = strtoul(optarg, NULL, 10); break;
		case 't': in.threads = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'F': force = 1; break;
		default: usage();
		}
	if (optind != argc || in.n == 0 || rounds == 0 || size == 0 || in.threads > 64)
		usage();
	if (in.threads == 0)
		nmodes = 4;	/* the threaded modes are the last two */

	if (statfs(dir, &sfs) < 0)
		die("statfs %s: %s", dir, strerror(errno));
	if ((sfs.f_type == 0x01021994 || sfs.f_type == 0x858458F6) && !force)
		die("%s is on %s: fsync costs nothing there; use -d on a disk (or -F)", dir,
		    fs_name((unsigned long)sfs.f_type));
	if (asprintf(&topdir, "%s/sluice-bench-XXXXXX", dir) < 0 || !mkdtemp(topdir))
		die("mkdtemp in %s: %s", dir, strerror(errno));

	/* a 4 KB message: headers, then lines of 72 characters */
	body = xcalloc(1, size + 1);
	i = (size_t)snprintf(body, size + 1,
			     "From: sender@example.com\nTo: rcpt@example.org\nSubject: bench\n\n");
	for (; i < size; i++)
		body[i] = (i % 73 == 72 || i == size - 1) ? '\n' : (char)('a' + i % 26);
	in.body = body;
	in.blen = size;
	in.env = env;
	in.elen = (size_t)snprintf(env, sizeof env, "u%lu%cp%lu%cFsender@example.com%cTrcpt@example.org",
				   (unsigned long)getuid(), 0, (unsigned long)getpid(), 0, 0) + 1;

	for (k = 0; k < nmodes; k++) {
		modes[k].rate = xcalloc(rounds, sizeof(double));
		modes[k].ratio = xcalloc(rounds, sizeof(double));
		modes[k].lat = xcalloc((size_t)rounds * in.n, sizeof(double));
	}

	uname(&un);
	loadavg(load0, sizeof load0);
	printf("bench_commit -d %s -n %u -r %u -s %zu -t %u\n", dir, in.n, rounds, size, in.threads);
	printf("queue in %s: %s (f_type 0x%lx), %ld CPUs, %s %s\n", topdir,
	       fs_name((unsigned long)sfs.f_type), (unsigned long)sfs.f_type,
	       sysconf(_SC_NPROCESSORS_ONLN), un.sysname, un.release);
	printf("%u messages of %zu bytes per mode and round, %u rounds, modes rotating, "
	       "fsync threads %u\n\n", in.n, size, rounds, in.threads);
	fflush(stdout);

	for (r = 0; r < rounds; r++) {
		for (k = 0; k < nmodes; k++)
			run(&modes[(r + k) % nmodes], r, &in);
		fprintf(stderr, "round %u/%u:", r + 1, rounds);
		for (k = 0; k < nmodes; k++) {
			modes[k].ratio[r] = modes[k].rate[r] / modes[0].rate[r];
			fprintf(stderr, " %.0f", modes[k].rate[r]);
		}
		fprintf(stderr, " msgs/s\n");
	}

	printf("| mode | msgs/s median | min | max | p50 ms | p99 ms | fsyncs/msg "
	       "| median / full-1 median | median of per-round ratios |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	base = median(modes[0].rate, rounds);
	for (k = 0; k < nmodes; k++) {
		struct mode *md = &modes[k];
		double med = median(md->rate, rounds);

		qsort(md->lat, md->nlat, sizeof(double), cmp_double);
		printf("| %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.2fx | %.2fx |\n", md->name,
		       med, md->rate[0], md->rate[rounds - 1], pct(md->lat, md->nlat, 50) * 1e3,
		       pct(md->lat, md->nlat, 99) * 1e3,
		       (double)md->fsyncs / ((double)rounds * in.n), med / base,
		       median(md->ratio, rounds));
	}
	printf("\nload average before: %s", load0);
	printf("load average after:  %s", loadavg(load1, sizeof load1));
	for (k = 0; k < nmodes; k++) {
		free(modes[k].rate);
		free(modes[k].ratio);
		free(modes[k].lat);
	}
	free(body);
	cleanup();
	return 0;
}
