/*
 * sluiced - the sluice daemon.  main() only reads the settings and runs.
 */
#include <stdio.h>
#include <string.h>

#include "router.h"

int main(int argc, char **argv)
{
	struct router_config c;
	char err[600];
	int rc;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		router_config_help();
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("sluiced 0.1.0\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "sluiced: unknown argument %s (settings come from the environment; see --help)\n",
			argv[1]);
		return 100;
	}
	if (router_envdir_start(err, sizeof err) < 0 || router_config_env(&c, err, sizeof err) < 0) {
		fprintf(stderr, "sluiced: fatal: %s\n", err);
		router_config_free(&c);
		return 111;
	}
	rc = router_run(&c);
	router_config_free(&c);
	return rc;
}
