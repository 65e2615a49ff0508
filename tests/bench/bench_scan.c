/*
 * bench_scan - the raw engine rate: libclamav scans per second, nothing else.
 *
 * SYNOPSIS
 *	bench_scan {-f MESSAGE | -F DIR} [-D DBDIR] [-t THREADS] [-s SECONDS | -n SCANS]
 *		   [-d WORKDIR] [-V header|part] [-M walker|libclamav] [-a]
 *
 * DESCRIPTION
 *	Loads the signature directory DBDIR (default: what sluiced would load,
 *	SLUICE_CLAMDB and so on) through the daemon's own clamav backend
 *	(scan_backend_clamav: same limits, same CL_ENGINE_TMPDIR, same scan
 *	options, same cl_scandesc wrapper), then runs THREADS threads (default:
 *	the number of cores, sluiced's default SLUICE_WORKERS), each scanning
 *	its own copy of MESSAGE in a loop, for SECONDS (default 5) or until
 *	SCANS scans in all.  No queue, no socket, no client: this is the ceiling
 *	issue 4 compares the daemon's scanning throughput with.
 *
 *	Each copy is a mess file as the daemon writes it: a qmail Received line
 *	and then MESSAGE, in a file under WORKDIR ($TMPDIR, else /var/tmp;
 *	removed at once, kept open).  Before each scan the Received line's
 *	number is rewritten (same length), so no two scans see the same bytes
 *	and libclamav's clean-file cache (an MD5 of each file it scans) cannot
 *	answer for the whole message.  That is what the daemon sees from qqsim:
 *	the same message behind a different Received line each time.
 *	-V part also rewrites 16 characters at the start of a long base64 (or
 *	plain) line in the second half of the message, so that the decoded
 *	attachment differs too, as in real mail: without it libclamav's cache
 *	answers for the attachment after its first scan.
 *
 *	-F DIR scans the messages of a corpus (tests/bench/gen_corpus.py) in
 *	turn instead: each thread writes a mess file per message first, then
 *	cycles through them, thread t starting at message t.
 *	-M sets SLUICE_CLAMAV_MIME (default walker): how the clamav backend
 *	reads MIME parts.  -a runs the attach backend too, after clamav, as
 *	sluiced does with SLUICE_SCANNERS="clamav attach" (clamav then also
 *	applies the banned list to what it unpacks).
 *
 *	Prints one line of key=value figures:
 *	  scans seconds rate threads cpu_ms_per_scan load_ms maxrss_kb clean other vary
 *	(rate in scans per second over the wall clock; CPU of the whole process
 *	during the timed loop).
 *
 * DIAGNOSTICS
 *	Exit 1 with a message when the engine does not load or a file cannot be
 *	written; exit 2 on a usage error.  A verdict other than clean counts in
 *	"other" (the synthetic DB detects nothing in clean mail) and the exit
 *	code is 1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scan/scan.h"

#define RECV_FMT "Received: (qmail %010lu invoked by uid %lu); 22 Nov 2025 03:00:00 -0000\n"
#define STAMP_LEN 16

static const struct scan_backend *be = &scan_backend_clamav;
static void *state, *astate;
static int with_attach;
static char *msg;
static size_t msglen;
static char **corpus;		/* -F: the messages */
static size_t *corpus_len, ncorpus;
static long part_off = -1;	/* -V part: where to stamp inside the body */
static const char *workdir;
static double seconds = 5;
static long max_scans;
static atomic_long started, clean, other;
static pthread_barrier_t ready;
static double t_stop;

/* die - "bench_scan: WHAT[ ARG]: strerror(errno)", exit 1 */
static void die(const char *what, const char *arg)
{
	fprintf(stderr, "bench_scan: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "",
		strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
	       ru.ru_stime.tv_usec / 1e3;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	char *buf;

	if (!f || fstat(fileno(f), &sb) < 0)
		die("read", path);
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf || fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size)
		die("read", path);
	fclose(f);
	*len = (size_t)sb.st_size;
	return buf;
}

static int b64char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* find_part - start of the first line of >= 60 base64-alphabet characters
 * in the second half of the message (an attachment's, or a plain body's) */
static long find_part(void)
{
	size_t i = msglen / 2;

	while (i < msglen && msg[i] != '\n')
		i++;
	while (++i < msglen) {
		size_t j = i;

		while (j < msglen && b64char(msg[j]))
			j++;
		if (j - i >= 60 && j < msglen && (msg[j] == '\n' || msg[j] == '\r'))
			return (long)i;
		while (j < msglen && msg[j] != '\n')
			j++;
		i = j;
	}
	return -1;
}

/* copy_file - a mess file under workdir: Received line + message, unlinked */
static int copy_msg(const char *m, size_t mlen, size_t *recvlen)
{
	char path[4096], recv[256];
	int fd;
	size_t n;

	snprintf(path, sizeof path, "%s/bench_scan.XXXXXX", workdir);
	if ((fd = mkstemp(path)) < 0)
		die("mkstemp", path);
	unlink(path);
	n = (size_t)snprintf(recv, sizeof recv, RECV_FMT, 0UL, (unsigned long)getuid());
	if (pwrite(fd, recv, n, 0) != (ssize_t)n || pwrite(fd, m, mlen, (off_t)n) != (ssize_t)mlen)
		die("write", path);
	*recvlen = n;
	return fd;
}

/* stamp - make copy number seq differ from every other scan's bytes */
static void stamp(int fd, size_t recvlen, unsigned long seq)
{
	char recv[256], hex[STAMP_LEN + 1];
	size_t n = (size_t)snprintf(recv, sizeof recv, RECV_FMT, seq % 10000000000UL,
				    (unsigned long)getuid());

	if (n != recvlen || pwrite(fd, recv, n, 0) != (ssize_t)n)
		die("rewrite of the Received line", NULL);
	if (part_off >= 0) {
		snprintf(hex, sizeof hex, "%016lx", seq * 0x9E3779B97F4A7C15UL);
		if (pwrite(fd, hex, STAMP_LEN, (off_t)(recvlen + (size_t)part_off)) != STAMP_LEN)
			die("stamping the body", NULL);
	}
}

static void *worker(void *arg)
{
	unsigned long id = (unsigned long)(size_t)arg, i = 0;
	size_t recvlen, nf = ncorpus ? ncorpus : 1, k;
	int *fds = calloc(nf, sizeof *fds);
	off_t *sizes = calloc(nf, sizeof *sizes);

	if (!fds || !sizes)
		die("calloc", NULL);
	for (k = 0; k < nf; k++) {
		struct stat sb;

		fds[k] = ncorpus ? copy_msg(corpus[k], corpus_len[k], &recvlen) : copy_msg(msg, msglen, &recvlen);
		if (fstat(fds[k], &sb) < 0)
			die("fstat", NULL);
		sizes[k] = sb.st_size;
	}
	pthread_barrier_wait(&ready);	/* every copy written */
	pthread_barrier_wait(&ready);	/* t_stop set */
	for (k = id % nf;; k = (k + 1) % nf) {
		struct scan_input in = { .fd = fds[k], .size = sizes[k] };
		struct scan_verdict v;

		if (max_scans ? atomic_fetch_add(&started, 1) >= max_scans : now() >= t_stop)
			break;
		stamp(fds[k], recvlen, id * 1000000000UL + ++i);
		memset(&v, 0, sizeof v);
		be->scan(state, &in, &v);
		if (with_attach && v.kind == SCAN_CLEAN) {
			memset(&v, 0, sizeof v);
			scan_backend_attach.scan(astate, &in, &v);
		}
		if (v.kind == SCAN_CLEAN)
			atomic_fetch_add(&clean, 1);
		else {
			if (atomic_fetch_add(&other, 1) == 0)
				fprintf(stderr, "bench_scan: verdict %s %s\n", scan_kind_name(v.kind),
					v.name);
		}
	}
	for (k = 0; k < nf; k++)
		close(fds[k]);
	free(fds);
	free(sizes);
	return NULL;
}

/* load_corpus - every regular file of dir, in name order */
static void load_corpus(const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort), i;
	char path[4096];

	if (n < 0)
		die("scandir", dir);
	corpus = calloc((size_t)n + 1, sizeof *corpus);
	corpus_len = calloc((size_t)n + 1, sizeof *corpus_len);
	for (i = 0; i < n; i++) {
		struct stat sb;

		snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			corpus[ncorpus] = slurp(path, &corpus_len[ncorpus]);
			ncorpus++;
		}
		free(ents[i]);
	}
	free(ents);
	if (!ncorpus) {
		fprintf(stderr, "bench_scan: no message in %s\n", dir);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct scan_config cfg = { 0 };
	const char *file = NULL, *dir = NULL, *vary = "header", *mime = "walker";
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	char err[1024];
	double t0, c0, load_ms, secs, cpu;
	pthread_t *tid;
	struct rusage ru;
	long i, done;
	int c;

	workdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	while ((c = getopt(argc, argv, "f:F:D:t:s:n:d:V:M:ah")) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 'F': dir = optarg; break;
		case 'M': mime = optarg; break;
		case 'a': with_attach = 1; break;
		case 'D': cfg.clamdb = optarg; break;
		case 't': threads = atol(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'n': max_scans = atol(optarg); break;
		case 'd': workdir = optarg; break;
		case 'V': vary = optarg; break;
		default:
			fprintf(stderr, "usage: bench_scan {-f MESSAGE | -F DIR} [-D DBDIR] [-t THREADS] "
					"[-s SECONDS | -n SCANS] [-d WORKDIR] [-V header|part] "
					"[-M walker|libclamav] [-a]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!file == !dir || threads < 1 || threads > 256 || (strcmp(vary, "header") && strcmp(vary, "part")) ||
	    (strcmp(mime, "walker") && strcmp(mime, "libclamav")) || (dir && !strcmp(vary, "part"))) {
		fprintf(stderr, "bench_scan: want -f MESSAGE or -F DIR, 1 to 256 threads, -V header or "
				"part (not with -F), -M walker or libclamav\n");
		return 2;
	}
	cfg.clamav_libmime = !strcmp(mime, "libclamav");
	cfg.clamav_banned = with_attach;
	if (dir)
		load_corpus(dir);
	else
		msg = slurp(file, &msglen);
	if (!strcmp(vary, "part") && (part_off = find_part()) < 0) {
		fprintf(stderr, "bench_scan: -V part: no long base64 line in the second half of %s\n",
			file);
		return 2;
	}
	t0 = now();
	if (be->init(&state, &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "bench_scan: %s\n", err);
		return 1;
	}
	if (with_attach && scan_backend_attach.init(&astate, &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "bench_scan: attach: %s\n", err);
		return 1;
	}
	load_ms = (now() - t0) * 1e3;
	tid = calloc((size_t)threads, sizeof *tid);
	pthread_barrier_init(&ready, NULL, (unsigned)threads + 1);
	for (i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, worker, (void *)(size_t)i) != 0)
			die("pthread_create", NULL);
	pthread_barrier_wait(&ready);
	c0 = cpu_ms();
	t0 = now();
	t_stop = t0 + seconds;
	pthread_barrier_wait(&ready);
	for (i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	secs = now() - t0;
	cpu = cpu_ms() - c0;
	done = atomic_load(&clean) + atomic_load(&other);
	getrusage(RUSAGE_SELF, &ru);
	printf("scans=%ld seconds=%.3f rate=%.1f threads=%ld cpu_ms_per_scan=%.3f load_ms=%.0f "
	       "maxrss_kb=%ld clean=%ld other=%ld vary=%s mime=%s attach=%d messages=%zu\n",
	       done, secs, done / secs, threads, done ? cpu / (double)done : 0.0, load_ms,
	       ru.ru_maxrss, atomic_load(&clean), atomic_load(&other), vary, mime, with_attach,
	       ncorpus ? ncorpus : 1);
	be->fini(state);
	if (with_attach)
		scan_backend_attach.fini(astate);
	free(tid);
	free(msg);
	return atomic_load(&other) ? 1 : 0;
}
