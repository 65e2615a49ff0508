/*
 * test_control_settings.c - control/control_settings.c: the table itself.
 *
 *	complete   every id has an entry: a name (the id's own spelling for
 *	           a variable), a meaning, readers, a known type; names are
 *	           unique; control_settings_find() finds each
 *	types      ranges are ordered; every default parses as its own type
 *	           and lies in its range; ENUM and LIST words are set, and
 *	           each synonym names a word of the same entry
 *	live       only settings sluiced reads are live; control files are
 *	           read from no variable
 *	queue      the queue defaults are queue/'s (QUEUE_BASE_DEFAULT, 5, 1,
 *	           23, QUEUE_COUNT_MAX, QUEUE_SPLIT_MAX)
 *	policy     control_env_vars[] (control_options_env()'s list) says what
 *	           the table says
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "control/control.h"
#include "queue/queue_set.h"

static const struct control_setting *E(size_t i)
{
	return &control_settings_table[i];
}

static void test_complete(void **unused)
{
	size_t i, j;

	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		const struct control_setting *e = E(i);

		if (!e->name)
			fail_msg("setting %zu has no entry", i);
		if (!e->help || !*e->help || !e->programs || (e->programs & ~CONTROL_P_ALL))
			fail_msg("%s: no meaning or no reader", e->name);
		if (e->type > CONTROL_T_FILE)
			fail_msg("%s: type %d", e->name, (int)e->type);
		if (e->type != CONTROL_T_FILE)
			for (j = 0; e->name[j]; j++)
				if (!isupper((unsigned char)e->name[j]) && !isdigit((unsigned char)e->name[j]) &&
				    e->name[j] != '_')
					fail_msg("variable %s: not a variable's name", e->name);
		for (j = 0; j < i; j++)
			if (!strcmp(e->name, E(j)->name))
				fail_msg("%s twice", e->name);
		assert_ptr_equal(control_settings_find(e->name), e);
		/* one line: --help and the manual print it as such */
		if (strchr(e->help, '\n') || (e->derived && strchr(e->derived, '\n')))
			fail_msg("%s: more than one line", e->name);
	}
	assert_null(control_settings_find("SLUICE_NO_SUCH_SETTING"));
	assert_null(control_settings_find(""));
	/* the ids spell the names (the table builds one from the other) */
	assert_string_equal(E(CONTROL_S_QUEUE_BASE)->name, "QUEUE_BASE");
	assert_string_equal(E(CONTROL_S_SLUICE_NET_RETRY)->name, "SLUICE_NET_RETRY");
	assert_string_equal(E(CONTROL_S_SLUICE_QMAIL_HOME)->name, "SLUICE_QMAIL_HOME");
	assert_string_equal(E(CONTROL_S_SIMCONTROL_CDB)->name, "simcontrol.cdb");
	assert_string_equal(E(CONTROL_S_SSATTACH)->name, "ssattach");
}

static int numeric(enum control_stype t)
{
	return t == CONTROL_T_NUMBER || t == CONTROL_T_SECONDS || t == CONTROL_T_BYTES;
}

static void test_types(void **unused)
{
	size_t i, k;

	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		const struct control_setting *e = E(i);
		struct control_value v;
		char err[300];

		if (numeric(e->type) && e->lo > e->hi)
			fail_msg("%s: range %llu to %llu", e->name, (unsigned long long)e->lo,
				 (unsigned long long)e->hi);
		if (e->type == CONTROL_T_ENUM && (!e->words || !e->words[0]))
			fail_msg("%s: an ENUM without words", e->name);
		if (e->type != CONTROL_T_ENUM && e->type != CONTROL_T_LIST && e->words)
			fail_msg("%s: words on a %d", e->name, (int)e->type);
		for (k = 0; e->words && e->words[k]; k++) {
			const char *eq = strchr(e->words[k], '=');
			size_t t;

			if (!eq || !eq[1])
				continue;
			for (t = 0; e->words[t] && strcmp(e->words[t], eq + 1); t++)
				;
			if (!e->words[t])
				fail_msg("%s: synonym %s of no word", e->name, e->words[k]);
		}
		if (e->def) {
			err[0] = 0;
			if (control_settings_parse((enum control_setting_id)i, e->def, &v, err,
						   sizeof err) < 0)
				fail_msg("%s: the default \"%s\" does not parse: %s", e->name, e->def, err);
			if (numeric(e->type) && (v.u < e->lo || v.u > e->hi))
				fail_msg("%s: default outside its range", e->name);
			/* unset is the default's value */
			assert_int_equal(control_settings_parse((enum control_setting_id)i, NULL, &v, err,
								sizeof err), 0);
			assert_null(v.text);
		}
		/* a number without a default derives one */
		if (numeric(e->type) && !e->def && !e->derived)
			fail_msg("%s: a number with neither default nor derivation", e->name);
		if (e->type == CONTROL_T_FILE && (e->def || !e->derived))
			fail_msg("control file %s: its path is derived from SLUICE_CONTROL", e->name);
	}
}

static void test_live(void **unused)
{
	size_t i, live = 0, restart = 0;

	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		const struct control_setting *e = E(i);

		if (e->live && !(e->programs & CONTROL_P_SLUICED))
			fail_msg("%s: live, and sluiced does not read it", e->name);
		if (e->programs & CONTROL_P_SLUICED)
			e->live ? live++ : restart++;
	}
	/* what the daemon applies on SIGHUP, as sluiced(8) tells it */
	assert_true(E(CONTROL_S_SLUICE_MAX_INFLIGHT)->live);
	assert_true(E(CONTROL_S_SLUICE_ON_VIRUS)->live);
	assert_true(E(CONTROL_S_REJECTVIRUS)->live);
	assert_true(E(CONTROL_S_SLUICE_CUSTOM_ERROR)->live);
	assert_true(E(CONTROL_S_MIN_FREE)->live);
	assert_false(E(CONTROL_S_SLUICE_WORKERS)->live);
	assert_false(E(CONTROL_S_SLUICE_SYNC)->live);
	assert_false(E(CONTROL_S_SLUICE_SCANNERS)->live);
	assert_false(E(CONTROL_S_QUEUE_BASE)->live);
	print_message("%zu settings of sluiced: %zu live, %zu at restart\n", live + restart, live,
		      restart);
	assert_true(live >= 15 && restart >= 40);
}

static void test_queue(void **unused)
{
	char buf[32];

	assert_string_equal(E(CONTROL_S_QUEUE_BASE)->def, QUEUE_BASE_DEFAULT);
	snprintf(buf, sizeof buf, "%d", QUEUE_COUNT_DEFAULT);
	assert_string_equal(E(CONTROL_S_QUEUE_COUNT)->def, buf);
	snprintf(buf, sizeof buf, "%d", QUEUE_START_DEFAULT);
	assert_string_equal(E(CONTROL_S_QUEUE_START)->def, buf);
	snprintf(buf, sizeof buf, "%d", QUEUE_SPLIT_DEFAULT);
	assert_string_equal(E(CONTROL_S_CONFSPLIT)->def, buf);
	assert_int_equal(E(CONTROL_S_QUEUE_COUNT)->hi, QUEUE_COUNT_MAX);
	assert_int_equal(E(CONTROL_S_CONFSPLIT)->hi, QUEUE_SPLIT_MAX);
	assert_string_equal(E(CONTROL_S_SLUICE_CONTROL)->def, CONTROL_DIR_DEFAULT);
}

static void test_policy(void **unused)
{
	size_t i;

	assert_int_equal(control_env_nvars, 2);
	for (i = 0; i < control_env_nvars; i++) {
		const struct control_setting *e = control_settings_find(control_env_vars[i].name);

		assert_non_null(e);
		assert_string_equal(control_env_vars[i].def, e->def);
		assert_string_equal(control_env_vars[i].help, e->help);
		assert_true(e->programs & CONTROL_P_CDB);
		assert_true(e->programs & CONTROL_P_SLUICED);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_live),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
