/*
 * sluiced - the sluice daemon.  main() only reads the settings and runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "queue/diag.h"

/*
 * warn_custom - a variable of another custom-error convention is a wrong
 * guess about the installation's qmail-smtpd, and sluiced would otherwise
 * ignore it in silence: say so once at start.  ERROR_FD belongs to
 * IndiMail's convention (exit 88) only; notqmail's text always goes to fd
 * 6 and simscan's to fd 4.
 */
static void warn_custom(const struct router_config *c)
{
	static const char *const name[] = {
		[CUSTOM_NONE] = "none", [CUSTOM_NOTQMAIL] = "notqmail",
		[CUSTOM_SIMSCAN] = "simscan", [CUSTOM_INDIMAIL] = "indimail",
	};
	const char *fd = getenv("ERROR_FD");

	if (!fd || !*fd || c->custom == CUSTOM_INDIMAIL)
		return;
	diag_warn("ERROR_FD=%s is ignored with SLUICE_CUSTOM_ERROR=%s "
		"(it is IndiMail's: exit 88, SLUICE_CUSTOM_ERROR=indimail); %s", fd,
		name[c->custom], c->custom == CUSTOM_NONE ? "senders get no custom text" :
		c->custom == CUSTOM_NOTQMAIL ? "the text goes to fd 6" : "the text goes to fd 4");
}

int main(int argc, char **argv)
{
	struct router_config c;
	char err[600];
	int rc;

	diag_program("sluiced", 111);
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		router_config_help();
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("sluiced 0.1.0\n");
		return 0;
	}
	if (argc > 1) {
		diag_info("unknown argument %s (settings come from the environment; see --help)",
			argv[1]);
		return 100;
	}
	if (router_envdir_start(err, sizeof err) < 0) {
		diag_fatal("%s", err);
		return 111;	/* nothing read yet: nothing to free */
	}
	if (router_config_env(&c, err, sizeof err) < 0) {
		diag_fatal("%s", err);
		router_config_free(&c);
		return 111;
	}
	warn_custom(&c);
	if (c.unknown[0])	/* a misspelt file: its setting would be ignored in silence */
		diag_warn("SLUICE_ENVDIR: %s: no such setting, ignored",
			c.unknown);
	rc = router_run(&c);
	router_config_free(&c);
	return rc;
}
