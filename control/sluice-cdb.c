/*
 * sluice-cdb - compile simcontrol into simcontrol.cdb (like simscanmk),
 *	check control files, dump a CDB back to text.  See sluice-cdb(8).
 *
 *	Exit codes: 0 done; 1 errors in the input (nothing written);
 *	100 usage; 111 a temporary problem (I/O: nothing written).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "queue/diag.h"

#define EXIT_ERRORS 1
#define EXIT_USAGE 100
#define EXIT_TEMP 111

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-cdb [-n] [-c DIR] [FILE ...]\n"
		"       sluice-cdb -d FILE.cdb\n"
		"       sluice-cdb --help | --version\n"
		"\n"
		"Compiles simcontrol into simcontrol.cdb atomically, as simscanmk does, after\n"
		"checking every line as sluiced would; checks ssattach.\n"
		"\n"
		"  (no FILE)  DIR/simcontrol -> DIR/simcontrol.cdb, and DIR/ssattach if it exists;\n"
		"             DIR is -c, else $SLUICE_CONTROL, else " CONTROL_DIR_DEFAULT "\n"
		"  FILE       a simcontrol text: FILE -> FILE.cdb; a file named ssattach: checked\n"
		"  -n         check only: report errors and warnings, write nothing\n"
		"  -d FILE    print a CDB's records as simcontrol lines (key:value)\n"
		"\n"
		"Errors and warnings name the file and line.  Exit codes: 0 done, 1 errors found\n"
		"(nothing written), 100 usage, 111 temporary failure (I/O; nothing written).\n"
		"See sluice-cdb(8), simcontrol(5), ssattach(5).\n");
}

static void diag(void *arg, int error, const char *line)
{
	(void)arg;
	diag_info("%s%s", error ? "" : "warning: ", line);
}

/* one - compile or check one file; an exit code */
static int one(const char *path, int check_only, const struct control_options *o)
{
	const char *base = strrchr(path, '/');
	char dst[4200], err[1024] = "";
	int r;

	base = base ? base + 1 : path;
	if (!strcmp(base, "ssattach")) {
		r = control_ssattach_check(path, o, err, sizeof err);
		if (r == 0)
			printf("sluice-cdb: %s: ok\n", path);
	} else {
		if (snprintf(dst, sizeof dst, "%s.cdb", path) >= (int)sizeof dst) {
			diag_info("%s: path too long", path);
			return EXIT_USAGE;
		}
		r = control_compile(path, dst, check_only, o, err, sizeof err);
		if (r == 0)
			printf("sluice-cdb: %s: %s\n", path, check_only ? "ok" : "compiled");
		if (r == 0 && !check_only)
			printf("sluice-cdb: wrote %s\n", dst);
	}
	if (r < 0) {
		diag_info("%s", err);
		return EXIT_TEMP;
	}
	return r ? EXIT_ERRORS : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct control_options o = { 0 };
	const char *dir = NULL, *dump = NULL;
	int check_only = 0, c, rc = 0, i;
	char err[1024];
	diag_program("sluice-cdb", 111);

	while ((c = getopt_long(argc, argv, "nc:d:", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			check_only = 1;
			break;
		case 'c':
			dir = optarg;
			break;
		case 'd':
			dump = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sluice-cdb %s\n", SLUICE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (dump) {
		if (optind < argc || check_only || dir) {
			usage(stderr);
			return EXIT_USAGE;
		}
		c = control_cdb_dump(dump, 1, err, sizeof err);
		if (c)
			diag_info("%s", err);
		return c < 0 ? EXIT_TEMP : c ? EXIT_ERRORS : 0;
	}
	if (control_options_env(&o, err, sizeof err) < 0) {
		diag_info("%s", err);
		return EXIT_USAGE;
	}
	if (dir)
		o.dir = dir;
	/* check all a daemon could be asked for: every feature applies,
	 * scanners and queue numbers are the daemon's to check */
	o.applies = CONTROL_APPLY_ALL;
	o.check_maildirs = 1;
	o.diag = diag;
	if (optind < argc) {
		if (dir) {
			usage(stderr);
			return EXIT_USAGE;
		}
		for (i = optind; i < argc; i++) {
			int r = one(argv[i], check_only, &o);

			if (r > rc)
				rc = r;
		}
		return rc;
	} else {
		char sc[4200], sa[4200];

		snprintf(sc, sizeof sc, "%s/simcontrol", o.dir);
		snprintf(sa, sizeof sa, "%s/ssattach", o.dir);
		rc = one(sc, check_only, &o);
		if (access(sa, F_OK) == 0) {
			int r = one(sa, check_only, &o);

			if (r > rc)
				rc = r;
		}
	}
	return rc;
}
