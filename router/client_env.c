/*
 * client_env.c - numeric settings from the environment, read strictly.
 *
 *	client_env_num() is the one parser of numeric variables for sluiced,
 *	sluice-queue and direct mode: unset or empty gives the default; plain
 *	decimals within [lo, hi] are taken; anything else (" 5", "+5", "-1",
 *	"12x", an overflow) is an error naming the variable, never a silent
 *	default.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "client.h"

int client_num_parse(const char *name, const char *s, uint64_t def, uint64_t lo, uint64_t hi,
		     uint64_t *out, char *err, size_t errlen)
{
	unsigned long long v;
	char *end;

	*out = def;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || errno == ERANGE || *end || v < lo || v > hi) {
		snprintf(err, errlen, "%s=%s: want a number from %llu to %llu", name, s,
			 (unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	*out = v;
	return 0;
}

int client_env_num(const char *name, uint64_t def, uint64_t lo, uint64_t hi, uint64_t *out,
		   char *err, size_t errlen)
{
	return client_num_parse(name, getenv(name), def, lo, hi, out, err, errlen);
}
