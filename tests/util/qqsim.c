/*
 * qqsim - drive a QMAILQUEUE program exactly as qmail-smtpd does.
 *
 *	For each message: two pipes; fork; the child gets the message pipe on
 *	fd 0 and the envelope pipe on fd 1 (and, with -e FD, the write end of
 *	an error pipe on FD, as the custom-error patches give it), then execs
 *	the program.  The parent writes the message, closes fd 0's pipe, writes
 *	"F<sender>\0", "T<rcpt>\0"..., "\0", closes, and waits: exactly
 *	qmail-smtpd's qmail_open / qmail_put / qmail_from / qmail_to /
 *	qmail_close order.
 *
 *	Single mode prints one line per message:
 *	  exit <code> reply "<what qmail-smtpd answers>" text "<error fd text>" ms <ms>
 *	Load mode (-n N -k K) runs K concurrent sessions and prints
 *	  key=value figures: msgs, seconds, rate, p50_ms, p99_ms, cpu_ms_per_msg,
 *	  client_maxrss_kb, daemon_hwm_kb, exits{code:count}.
 *	With -v it first prints one line per message as its session reports it:
 *	  id <ID> exit <code>
 *	where ID is PREFIX-<session>-<n> with -i PREFIX, else <session>-<n>
 *	(session 0..K-1, n the message's number within its session).
 *
 * usage: qqsim -p PROGRAM [-m FILE | -s BYTES | -M DIR] [-f SENDER] [-r RCPT]...
 *	  [-E RAWENVFILE] [-a] [-e FD] [-n N -k K [-R RATE]] [-D DAEMONPID] [-w MS]
 *	  [-i PREFIX] [-u] [-v]
 *	-M DIR	the messages are the regular files of DIR (a corpus written by
 *		tests/bench/gen_corpus.py), read once at start, in name order;
 *		message n of session s is file (n * K + s) mod count, so the K
 *		sessions go through the corpus together, each file once before
 *		any repeats (-u is refused with -M)
 *	-R RATE	load mode: submit at most RATE messages a second in all, each
 *		session starting its n-th message no earlier than n * K / RATE
 *		seconds after the start (latency under a given load, not at
 *		the peak); the figures add "target_rate="
 *	-a	abort: close the envelope pipe before the final NUL (qmail-smtpd's cancel)
 *	-w MS	pause MS milliseconds in the middle of the message (a slow sender)
 *	-i PREFIX  put "X-Qqsim-Id: PREFIX-<session>-<n>" as the first header line
 *		of each message (single mode: PREFIX-0-0), so that each message
 *		found in a queue can be matched with the exit code its client saw
 *	-u	unique bodies: before each message, overwrite the 16 characters
 *		at the start of the first line of 60 or more base64 characters
 *		in the second half of the message (an attachment's line, or a
 *		line of the -s body) with hex digits no other message of this
 *		or any other run gets.  Real attachments differ from message to
 *		message; without -u libclamav's cache of clean files answers for
 *		a repeated attachment after its first scan (the benchmarks).
 *	-v	load mode: print the per-message lines above
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "router/client.h"

#define MAXRCPT 64

static const char *prog, *messfile, *envfile, *sender = "sender@example.org";
static const char *rcpts[MAXRCPT];
static int nrcpt, do_abort, errfd = -1, pause_ms, verbose;
static const char *id_prefix;
static long unique_off = -1;	/* -u: where the per-message stamp goes */
static size_t gen_size;
static char *msg;
static size_t msglen;
static const char *corpus_dir;	/* -M */
static const char **corpus;
static size_t *corpus_len, ncorpus;
static int nsessions = 1;
static double target_rate;	/* -R */

static void die(const char *what)
{
	fprintf(stderr, "qqsim: %s: %s\n", what, strerror(errno));
	exit(100);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		die(path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		die(path);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void make_message(void)
{
	size_t i, n;
	static const char head[] = "From: sender@example.org\nTo: rcpt@example.net\n"
				   "Subject: test message\nMessage-Id: <qqsim@example.org>\n\n";

	if (messfile) {
		msg = slurp(messfile, &msglen);
		return;
	}
	if (corpus_dir) {
		struct dirent **ents;
		int ne = scandir(corpus_dir, &ents, NULL, alphasort), e;
		char path[4096];

		if (ne < 0)
			die(corpus_dir);
		corpus = calloc((size_t)ne + 1, sizeof *corpus);
		corpus_len = calloc((size_t)ne + 1, sizeof *corpus_len);
		for (e = 0; e < ne; e++) {
			struct stat sb;

			snprintf(path, sizeof path, "%s/%s", corpus_dir, ents[e]->d_name);
			if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
				/*
				 * mapped, not read: fork copies no page tables
				 * of a file mapping, so the RSS of the program
				 * (ru_maxrss of the pre-exec fork) stays its own
				 */
				int fd = open(path, O_RDONLY);
				void *p = fd < 0 ? MAP_FAILED
						 : mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

				if (p == MAP_FAILED)
					die(path);
				close(fd);
				corpus[ncorpus] = p;
				corpus_len[ncorpus] = (size_t)sb.st_size;
				ncorpus++;
			}
			free(ents[e]);
		}
		free(ents);
		if (!ncorpus) {
			fprintf(stderr, "qqsim: -M %s: no message there\n", corpus_dir);
			exit(100);
		}
		return;
	}
	n = gen_size ? gen_size : 4096;
	msg = malloc(n + sizeof head);
	memcpy(msg, head, sizeof head - 1);
	for (i = sizeof head - 1; i < n; i++)
		msg[i] = (i % 72 == 71) ? '\n' : (char)('a' + i % 26);
	if (n > sizeof head)
		msg[n - 1] = '\n';
	msglen = n > sizeof head - 1 ? n : sizeof head - 1;
}

static int b64char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* find_unique_off - -u's place: start of the first line of >= 60 base64
 * characters in the second half of the message, or -1 */
static long find_unique_off(void)
{
	size_t i = msglen / 2, j;

	while (i < msglen && msg[i] != '\n')
		i++;
	while (++i < msglen) {
		for (j = i; j < msglen && b64char(msg[j]); j++)
			;
		if (j - i >= 60 && j < msglen && (msg[j] == '\n' || msg[j] == '\r'))
			return (long)i;
		while (j < msglen && msg[j] != '\n')
			j++;
		i = j;
	}
	return -1;
}

/* stamp_unique - -u: make this message's bytes differ from every other's
 * (the process is a session of its own in load mode: msg is its copy) */
static void stamp_unique(int n)
{
	static unsigned long long start;
	unsigned long long x;
	char hex[17];

	if (unique_off < 0)
		return;
	if (!start) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		start = (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
	}
	x = (start ^ ((unsigned long long)getpid() << 40)) + (unsigned long long)n;
	x *= 0x9E3779B97F4A7C15ull;	/* spread, still one-to-one */
	snprintf(hex, sizeof hex, "%016llx", x);
	memcpy(msg + unique_off, hex, 16);
}

static int writeall(int fd, const char *p, size_t n)
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

/* msg_id - the id of message n of session s */
static void msg_id(char *buf, size_t cap, int s, int n)
{
	if (id_prefix)
		snprintf(buf, cap, "%s-%d-%d", id_prefix, s, n);
	else
		snprintf(buf, cap, "%d-%d", s, n);
}

/* one - submit message n of session s; returns the wait status, fills text */
static int one(int s, int n, char *text, size_t textcap)
{
	int pm[2], pe[2], perr[2] = { -1, -1 }, status;
	pid_t pid;
	char env[8192], idhdr[512];
	size_t elen = 0, idlen = 0;
	int i;

	if (id_prefix) {
		char id[400];

		msg_id(id, sizeof id, s, n);
		idlen = (size_t)snprintf(idhdr, sizeof idhdr, "X-Qqsim-Id: %s\n", id);
		if (idlen >= sizeof idhdr)
			idlen = sizeof idhdr - 1;
	}

	stamp_unique(n);
	if (ncorpus) {
		size_t at = ((size_t)n * (size_t)nsessions + (size_t)s) % ncorpus;

		msg = (char *)corpus[at];	/* only read: -u is refused with -M */
		msglen = corpus_len[at];
	}
	if (pipe(pm) < 0 || pipe(pe) < 0 || (errfd >= 0 && pipe(perr) < 0))
		die("pipe");
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		/* qmail-smtpd runs the queue program as qmaild with these fds */
		close(pm[1]);
		close(pe[1]);
		if (dup2(pm[0], 0) < 0 || dup2(pe[0], 1) < 0)
			_exit(120);
		if (errfd >= 0) {
			close(perr[0]);
			if (dup2(perr[1], errfd) < 0)
				_exit(120);
		}
		/* close the originals, never one of the fds just set up */
		if (pm[0] > 1 && pm[0] != errfd)
			close(pm[0]);
		if (pe[0] > 1 && pe[0] != errfd)
			close(pe[0]);
		if (errfd >= 0 && perr[1] != errfd && perr[1] > 1)
			close(perr[1]);
		execl(prog, prog, (char *)NULL);
		_exit(120);
	}
	close(pm[0]);
	close(pe[0]);
	if (errfd >= 0)
		close(perr[1]);
	if (idlen)
		writeall(pm[1], idhdr, idlen);
	if (pause_ms) {
		writeall(pm[1], msg, msglen / 2);
		usleep((useconds_t)pause_ms * 1000);
		writeall(pm[1], msg + msglen / 2, msglen - msglen / 2);
	} else
		writeall(pm[1], msg, msglen);	/* EPIPE when the program is gone */
	close(pm[1]);
	if (envfile) {
		char *e = slurp(envfile, &elen);

		writeall(pe[1], e, elen);
		free(e);
	} else {
		elen = (size_t)snprintf(env, sizeof env, "F%s", sender) + 1;
		for (i = 0; i < nrcpt; i++)
			elen += (size_t)snprintf(env + elen, sizeof env - elen, "T%s", rcpts[i]) + 1;
		if (!do_abort)
			env[elen++] = 0;
		else
			elen -= 1;	/* cut before the last record's NUL: an abort */
		writeall(pe[1], env, elen);
	}
	close(pe[1]);
	text[0] = 0;
	if (errfd >= 0) {
		size_t got = 0;
		ssize_t r;

		while (got + 1 < textcap && (r = read(perr[0], text + got, textcap - 1 - got)) > 0)
			got += (size_t)r;
		text[got] = 0;
		close(perr[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	return status;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static long hwm_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

/* What a session reports to the parent: one per message, then its rusage
 * (ms < 0: CPU time, code: max RSS).  Smaller than PIPE_BUF: atomic. */
struct rec {
	double ms;
	int code;
	int session, n;
};

/* load - K sessions, N messages in all; figures on stdout */
static int load(int n, int k, pid_t daemon)
{
	int p[2], i, exits[256] = { 0 }, got = 0;
	double t0 = now_ms(), *lat = calloc((size_t)n, sizeof *lat), cpu = 0;
	long maxrss = 0;

	/* close-on-exec: the program must not inherit the results pipe (it
	 * would sit on a low fd such as 4, where a custom-error text goes) */
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe");
	for (i = 0; i < k; i++) {
		int share = n / k + (i < n % k);

		if (fork() == 0) {
			struct rusage ru;
			char text[512];
			struct rec rec;
			int j;

			close(p[0]);
			memset(&rec, 0, sizeof rec);
			rec.session = i;
			for (j = 0; j < share; j++) {
				double s;

				if (target_rate > 0) {	/* -R: no earlier than planned */
					double due = t0 + (double)j * k * 1e3 / target_rate, w = due - now_ms();

					if (w > 0)
						usleep((useconds_t)(w * 1e3));
				}
				s = now_ms();
				int st = one(i, j, text, sizeof text);

				rec.ms = now_ms() - s;
				rec.code = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
				rec.n = j;
				if (write(p[1], &rec, sizeof rec) != sizeof rec)
					_exit(1);
			}
			getrusage(RUSAGE_CHILDREN, &ru);
			rec.ms = -(ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
				   ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3);
			rec.code = (int)ru.ru_maxrss;
			if (write(p[1], &rec, sizeof rec) != sizeof rec)
				_exit(1);
			_exit(0);
		}
	}
	close(p[1]);
	for (;;) {
		struct rec rec;
		ssize_t r = read(p[0], &rec, sizeof rec);

		if (r != sizeof rec)
			break;
		if (rec.ms < 0 || (rec.ms == 0 && rec.code > 255)) {
			cpu += -rec.ms;
			if (rec.code > maxrss)
				maxrss = rec.code;
			continue;
		}
		if (got < n)
			lat[got++] = rec.ms;
		exits[rec.code & 255]++;
		if (verbose) {
			char id[400];

			msg_id(id, sizeof id, rec.session, rec.n);
			printf("id %s exit %d\n", id, rec.code);
		}
	}
	while (wait(NULL) > 0)
		;
	{
		double secs = (now_ms() - t0) / 1e3;

		qsort(lat, (size_t)got, sizeof *lat, cmpd);
		printf("msgs=%d seconds=%.3f rate=%.1f p50_ms=%.2f p99_ms=%.2f cpu_ms_per_msg=%.3f "
		       "client_maxrss_kb=%ld daemon_hwm_kb=%ld ",
		       got, secs, got / secs, got ? lat[got / 2] : 0.0,
		       got ? lat[(int)(got * 0.99) < got ? (int)(got * 0.99) : got - 1] : 0.0,
		       got ? cpu / got : 0.0, maxrss, daemon > 0 ? hwm_kb(daemon) : -1L);
		if (target_rate > 0)
			printf("target_rate=%.1f ", target_rate);
		printf("exits=");
		for (i = 0; i < 256; i++)
			if (exits[i])
				printf("%d:%d,", i, exits[i]);
		printf("\n");
	}
	free(lat);
	return exits[0] == got ? 0 : 1;
}

int main(int argc, char **argv)
{
	int c, n = 0, k = 1;
	pid_t daemon = 0;

	while ((c = getopt(argc, argv, "p:m:M:s:f:r:E:ae:n:k:R:D:w:i:uvh")) != -1) {
		switch (c) {
		case 'p': prog = optarg; break;
		case 'M': corpus_dir = optarg; break;
		case 'R': target_rate = atof(optarg); break;
		case 'm': messfile = optarg; break;
		case 's': gen_size = strtoul(optarg, NULL, 10); break;
		case 'f': sender = optarg; break;
		case 'r': if (nrcpt < MAXRCPT) rcpts[nrcpt++] = optarg; break;
		case 'E': envfile = optarg; break;
		case 'a': do_abort = 1; break;
		case 'e': errfd = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 'k': k = atoi(optarg); break;
		case 'D': daemon = (pid_t)atol(optarg); break;
		case 'w': pause_ms = atoi(optarg); break;
		case 'i': id_prefix = optarg; break;
		case 'u': unique_off = 0; break;
		case 'v': verbose = 1; break;
		default:
			fprintf(stderr, "usage: qqsim -p PROGRAM [-m FILE|-s BYTES|-M DIR] [-f SENDER] [-r RCPT]... "
					"[-E ENVFILE] [-a] [-e FD] [-w MS] [-i PREFIX] [-u] "
					"[-n N -k K [-R RATE] -D PID [-v]]\n");
			return c == 'h' ? 0 : 100;
		}
	}
	if (!prog) {
		fprintf(stderr, "qqsim: -p PROGRAM is required\n");
		return 100;
	}
	if (!nrcpt)
		rcpts[nrcpt++] = "rcpt@example.net";
	if (corpus_dir && (messfile || unique_off == 0)) {
		fprintf(stderr, "qqsim: -M takes neither -m nor -u\n");
		return 100;
	}
	nsessions = n > 0 && k > 1 ? k : 1;
	signal(SIGPIPE, SIG_IGN);
	make_message();
	if (unique_off == 0 && (unique_off = find_unique_off()) < 0) {
		fprintf(stderr, "qqsim: -u: no line of 60 base64 characters in the second half "
				"of the message\n");
		return 100;
	}
	if (n > 0)
		return load(n, k < 1 ? 1 : k, daemon);
	{
		char text[512];
		double s = now_ms();
		int st = one(0, 0, text, sizeof text), code;

		code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		for (char *q = text; *q; q++)
			if (*q == '"' || *q == '\n')
				*q = '\'';
		{
			char reply[600];

			if ((code == 82 || code == 88) && strlen(text) > 2)
				snprintf(reply, sizeof reply, "%s %s", text[0] == 'D' ? "554" : "451",
					 text + 1);
			else
				snprintf(reply, sizeof reply, "%s",
					 code < 0 ? "451 qq crashed (#4.3.0)" : client_exit_reply(code));
			printf("exit %d reply \"%s\" text \"%s\" ms %.1f\n", code, reply, text,
			       now_ms() - s);
		}
		return code < 0 ? 100 : code;
	}
}
