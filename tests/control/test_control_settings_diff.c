/*
 * test_control_settings_diff.c - control/control_settings_diff.c: what a
 * reload changes and what it keeps.
 *
 *	same      a value compares by what it means: unset = its default
 *	          written out, "660" = "0660", a synonym = its word; unset
 *	          REJECTVIRUS differs from any value of it
 *	live      a changed live setting is "NAME old -> new" and next keeps it
 *	restart   a changed restart-only setting is "NAME changed: takes
 *	          effect at restart" and next gets a copy of the running
 *	          value (text and number; unset stays unset); compared again,
 *	          only the live changes remain
 *	readers   settings the given readers do not read are not compared
 *	message   changes "; "-separated, in table order; a small buffer is
 *	          cut, never overrun
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "control/control.h"

static const char *const used[] = {
	"SLUICE_ON_VIRUS", "SLUICE_ON_SPAM", "SLUICE_SOCKET_MODE", "SLUICE_WORKERS", "QHPSI",
	"REJECTVIRUS", "SLUICE_MODE", "SLUICE_QUARANTINE_THEN", "SLUICE_MAX_INFLIGHT",
	"SLUICE_SPAM_HITS", "SLUICE_SCANNERS", "SLUICE_READ_TIMEOUT",
};

static void clear(void)
{
	size_t i;

	for (i = 0; i < sizeof used / sizeof used[0]; i++)
		unsetenv(used[i]);
}

/* two - running from the environment as it is, then next after setting
 * the NULL-terminated NAME, VALUE pairs (VALUE NULL: unset) */
static void two(struct control_settings *running, struct control_settings *next, ...)
{
	char err[300];
	va_list ap;
	const char *n, *v;

	assert_int_equal(control_settings_read(running, CONTROL_P_ALL, NULL, err, sizeof err), 0);
	va_start(ap, next);
	while ((n = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		if (v)
			setenv(n, v, 1);
		else
			unsetenv(n);
	}
	va_end(ap);
	assert_int_equal(control_settings_read(next, CONTROL_P_ALL, NULL, err, sizeof err), 0);
}

static void done(struct control_settings *a, struct control_settings *b)
{
	control_settings_free(a);
	control_settings_free(b);
	clear();
}

static void test_same(void **unused)
{
	struct control_settings r, n;
	char msg[1000];

	clear();
	two(&r, &n, NULL);
	assert_int_equal(control_settings_diff(&r, &n, CONTROL_P_ALL, msg, sizeof msg), 0);
	assert_string_equal(msg, "");
	done(&r, &n);
	/* unset = the default; "660" = "0660"; a synonym = its word */
	setenv("SLUICE_SOCKET_MODE", "0660", 1);
	setenv("SLUICE_QUARANTINE_THEN", "drop", 1);
	setenv("SLUICE_SCANNERS", "clamav,attach", 1);
	two(&r, &n, "SLUICE_ON_VIRUS", "reject", "SLUICE_SOCKET_MODE", "660",
	    "SLUICE_QUARANTINE_THEN", "accept", "SLUICE_SPAM_HITS", "0.0", "SLUICE_SCANNERS", NULL,
	    NULL);
	assert_int_equal(control_settings_diff(&r, &n, CONTROL_P_ALL, msg, sizeof msg), 0);
	assert_string_equal(msg, "");
	done(&r, &n);
	/* REJECTVIRUS has no default: unset means SLUICE_ON_VIRUS decides */
	two(&r, &n, "REJECTVIRUS", "1", NULL);
	assert_int_equal(control_settings_diff(&r, &n, CONTROL_P_ALL, msg, sizeof msg), 1);
	assert_string_equal(msg, "REJECTVIRUS (unset) -> 1");
	done(&r, &n);
}

static void test_live_restart(void **unused)
{
	struct control_settings r, n, again;
	char msg[1000], err[300];
	const char *kept;

	clear();
	setenv("SLUICE_ON_VIRUS", "defer", 1);
	setenv("QHPSI", "/bin/scan-a", 1);
	two(&r, &n, "SLUICE_ON_VIRUS", "tag", "SLUICE_READ_TIMEOUT", "30", "SLUICE_WORKERS", "13",
	    "QHPSI", "/bin/scan-b", "SLUICE_SPAM_HITS", "7.5", NULL);
	assert_int_equal(control_settings_diff(&r, &n, CONTROL_P_SLUICED, msg, sizeof msg), 5);
	/* table order: time-outs, verdicts, then the scanners' */
	assert_string_equal(msg, "SLUICE_WORKERS changed: takes effect at restart; "
				 "SLUICE_READ_TIMEOUT 1200 -> 30; SLUICE_ON_VIRUS defer -> tag; "
				 "QHPSI changed: takes effect at restart; "
				 "SLUICE_SPAM_HITS changed: takes effect at restart");
	/* live: next's own */
	assert_int_equal(n.v[CONTROL_S_SLUICE_READ_TIMEOUT].u, 30);
	assert_string_equal(control_settings_word(&n, CONTROL_S_SLUICE_ON_VIRUS), "tag");
	/* restart-only: the running values, copied */
	assert_null(n.v[CONTROL_S_SLUICE_WORKERS].text);
	assert_int_equal(n.v[CONTROL_S_SLUICE_WORKERS].u, r.v[CONTROL_S_SLUICE_WORKERS].u);
	kept = n.v[CONTROL_S_QHPSI].text;
	assert_string_equal(kept, "/bin/scan-a");
	assert_ptr_not_equal(kept, r.v[CONTROL_S_QHPSI].text);
	assert_true(n.v[CONTROL_S_SLUICE_SPAM_HITS].d == 0);
	/* compared again: only the live changes are left, and merging them
	 * once more changes nothing */
	assert_int_equal(control_settings_diff(&r, &n, CONTROL_P_SLUICED, msg, sizeof msg), 2);
	assert_string_equal(msg, "SLUICE_READ_TIMEOUT 1200 -> 30; SLUICE_ON_VIRUS defer -> tag");
	assert_int_equal(control_settings_diff(&n, &n, CONTROL_P_SLUICED, msg, sizeof msg), 0);
	/* what the environment says now, against the merged next: the
	 * restart-only changes are still pending */
	assert_int_equal(control_settings_read(&again, CONTROL_P_ALL, NULL, err, sizeof err), 0);
	assert_int_equal(control_settings_diff(&n, &again, CONTROL_P_SLUICED, msg, sizeof msg), 3);
	control_settings_free(&again);
	done(&r, &n);
	/* a restart-only setting set at start and unset now: unset stays set */
	setenv("QHPSI", "/bin/scan-a", 1);
	two(&r, &n, "QHPSI", NULL, NULL);
	assert_int_equal(control_settings_diff(&r, &n, CONTROL_P_SLUICED, msg, sizeof msg), 1);
	assert_string_equal(n.v[CONTROL_S_QHPSI].text, "/bin/scan-a");
	done(&r, &n);
	/* and the other way round */
	two(&r, &n, "QHPSI", "/bin/scan-b", NULL);
	assert_int_equal(control_settings_diff(&r, &n, CONTROL_P_SLUICED, msg, sizeof msg), 1);
	assert_null(n.v[CONTROL_S_QHPSI].text);
	done(&r, &n);
}

static void test_readers(void **unused)
{
	struct control_settings r, n;
	char msg[1000];

	clear();
	/* sluice-queue's SLUICE_MODE is nothing to sluiced */
	two(&r, &n, "SLUICE_MODE", "direct", NULL);
	assert_int_equal(control_settings_diff(&r, &n, CONTROL_P_SLUICED, msg, sizeof msg), 0);
	assert_int_equal(control_settings_diff(&r, &n, CONTROL_P_QUEUE, msg, sizeof msg), 1);
	assert_string_equal(msg, "SLUICE_MODE changed: takes effect at restart");
	done(&r, &n);
}

static void test_message(void **unused)
{
	struct control_settings r, n;
	char msg[24];

	clear();
	two(&r, &n, "SLUICE_ON_VIRUS", "tag", "SLUICE_ON_SPAM", "drop", "SLUICE_MAX_INFLIGHT", "9",
	    NULL);
	memset(msg, 'x', sizeof msg);
	assert_int_equal(control_settings_diff(&r, &n, CONTROL_P_SLUICED, msg, 20), 3);
	assert_int_equal(strlen(msg), 19);
	assert_int_equal(msg[20], 'x');	/* not written past the size given */
	assert_memory_equal(msg, "SLUICE_MAX_INFLIGHT", 19);
	done(&r, &n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_live_restart),
		cmocka_unit_test(test_readers),
		cmocka_unit_test(test_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
