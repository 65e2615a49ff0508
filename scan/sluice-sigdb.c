/*
 * sluice-sigdb.c - write a synthetic ClamAV signature database.
 *
 * SYNOPSIS
 *	sluice-sigdb -o DIR [-H N] [-B M] [-s SEED]
 *	sluice-sigdb --help | --version
 *
 * DESCRIPTION
 *	Writes into DIR (made if missing) the EICAR signatures sluice ships
 *	(sluice-eicar.ndb, sluice-eicar.hdb: the same bytes as scan/db), plus
 *	N hash signatures (sluice-synth.hdb: random MD5, random size, names
 *	Sluice.Synth.H<n>) and M body signatures (sluice-synth.ndb: 16 to 32
 *	random bytes, target 0 or 4 (mail), names Sluice.Synth.B<n>).  The
 *	same SEED gives the same files.  Random bytes do not occur in real
 *	mail, so the synthetic signatures only add size and work, never
 *	detections.  A count of 0 removes that synthetic file.
 *
 *	Each file is written to a temporary name libclamav does not load,
 *	fsync'ed and renamed, so a daemon polling DIR sees whole files only.
 *
 *	Links libc only.  Exit 0 on success, 1 on an error (named on
 *	stderr), 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "sluice-sigdb"
#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif
#define MAX_COUNT 100000000ULL

/* EICAR test file, hex, for the body signature */
#define EICAR_HEX \
	"58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d" \
	"5354414e444152442d414e544956495255532d544553542d46494c452124482b482a"

static const char eicar_ndb[] = "Sluice.Test.EICAR:0:*:" EICAR_HEX "\n";

/* MD5:size of the EICAR file alone, with LF, and with CRLF */
static const char eicar_hdb[] =
	"44d88612fea8a8f36de82e1278abb02f:68:Sluice.Test.EICAR.Hash\n"
	"69630e4574ec6798239b091cda43dca0:69:Sluice.Test.EICAR.Hash\n"
	"e7e5fa40569514ec442bbdf755d89c2f:70:Sluice.Test.EICAR.Hash\n";

static const char usage[] =
	"usage: " PROG " -o DIR [-H N] [-B M] [-s SEED]\n"
	"Write a ClamAV signature directory for sluice's tests and benchmarks:\n"
	"  -o, --output DIR  directory to write (made if missing)\n"
	"  -H, --hash N      N random hash signatures, sluice-synth.hdb (default 0)\n"
	"  -B, --body M      M random body signatures, sluice-synth.ndb (default 0)\n"
	"  -s, --seed SEED   random seed; the same seed gives the same files (default 1)\n"
	"  -h, --help        this text\n"
	"  -V, --version     the version\n"
	"The EICAR signatures (sluice-eicar.ndb, sluice-eicar.hdb) are always written.\n";

/* splitmix64: small, fast, and the same on every platform */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void put_hex(FILE *f, uint64_t *seed, unsigned bytes)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t r = 0;
	unsigned i;

	for (i = 0; i < bytes; i++) {
		if (i % 8 == 0)
			r = rnd(seed);
		putc(hex[(r >> 4) & 15], f);
		putc(hex[r & 15], f);
		r >>= 8;
	}
}

static void synth_hdb(FILE *f, unsigned long long n, uint64_t *seed)
{
	unsigned long long i;

	for (i = 1; i <= n; i++) {
		put_hex(f, seed, 16);
		/* sizes from 1 KiB to 4 MiB, as attachments are */
		fprintf(f, ":%" PRIu64 ":Sluice.Synth.H%llu\n", 1024 + rnd(seed) % (4u << 20), i);
	}
}

static void synth_ndb(FILE *f, unsigned long long n, uint64_t *seed)
{
	unsigned long long i;

	for (i = 1; i <= n; i++) {
		uint64_t r = rnd(seed);

		fprintf(f, "Sluice.Synth.B%llu:%d:*:", i, r & 1 ? 4 : 0);
		put_hex(f, seed, 16 + (unsigned)(r >> 8) % 17);
		putc('\n', f);
	}
}

/* write_file - DIR/.NAME.tmp, fsync, rename to DIR/NAME; 0 or -1 (reported) */
static int write_file(const char *dir, const char *name, const char *text,
		      void (*gen)(FILE *, unsigned long long, uint64_t *),
		      unsigned long long n, uint64_t *seed)
{
	char tmp[4096], path[4096];
	FILE *f;
	int fd;

	if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= (int)sizeof tmp ||
	    snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
		fprintf(stderr, PROG ": %s: path too long\n", dir);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, PROG ": create %s: %s\n", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (text)
		fputs(text, f);
	if (gen)
		gen(f, n, seed);
	if (fflush(f) != 0 || ferror(f) || fsync(fd) < 0) {
		fprintf(stderr, PROG ": write %s: %s\n", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		fprintf(stderr, PROG ": rename %s to %s: %s\n", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* remove_file - a synthetic file asked with a count of 0 */
static int remove_file(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (unlink(path) < 0 && errno != ENOENT) {
		fprintf(stderr, PROG ": remove %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int number(const char *opt, const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (*s == '-' || *s == 0 || *end || errno || *out > max) {
		fprintf(stderr, PROG ": %s: not a number up to %llu: %s\n", opt, max, s);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "hash", required_argument, NULL, 'H' },
		{ "body", required_argument, NULL, 'B' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long nhash = 0, nbody = 0, seedval = 1;
	const char *dir = NULL;
	uint64_t hseed, bseed;
	int c, dfd, rc = 0;

	while ((c = getopt_long(argc, argv, "o:H:B:s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			dir = optarg;
			break;
		case 'H':
			if (number("-H", optarg, MAX_COUNT, &nhash) < 0)
				return 2;
			break;
		case 'B':
			if (number("-B", optarg, MAX_COUNT, &nbody) < 0)
				return 2;
			break;
		case 's':
			if (number("-s", optarg, UINT64_MAX, &seedval) < 0)
				return 2;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			puts(PROG " " SLUICE_VERSION);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (dir == NULL || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, PROG ": mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	/* two streams, so that -B does not change the hash file and -H the body file */
	hseed = seedval;
	bseed = seedval ^ 0x5a5a5a5a5a5a5a5aULL;
	if (write_file(dir, "sluice-eicar.ndb", eicar_ndb, NULL, 0, NULL) < 0 ||
	    write_file(dir, "sluice-eicar.hdb", eicar_hdb, NULL, 0, NULL) < 0)
		rc = 1;
	else if (nhash ? write_file(dir, "sluice-synth.hdb", NULL, synth_hdb, nhash, &hseed) < 0
		 : remove_file(dir, "sluice-synth.hdb") < 0)
		rc = 1;
	else if (nbody ? write_file(dir, "sluice-synth.ndb", NULL, synth_ndb, nbody, &bseed) < 0
		 : remove_file(dir, "sluice-synth.ndb") < 0)
		rc = 1;
	/* make the renames durable */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(dfd) < 0 && rc == 0) {
			fprintf(stderr, PROG ": fsync %s: %s\n", dir, strerror(errno));
			rc = 1;
		}
		close(dfd);
	}
	return rc;
}
