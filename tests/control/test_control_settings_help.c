/*
 * test_control_settings_help.c - control/control_settings_help.c, and the
 * manual it keeps true.
 *
 *	help      sluiced's --help lists each variable it reads once, in the
 *	          "  NAME  meaning [default]" form, and nothing else; sluice-
 *	          queue's direct-mode part leaves out what its first part has
 *	texts     type, default, readers and effect texts of a few entries
 *	manual    man/sluice-control.5 has one entry per setting of the table
 *	          (SETTINGS and CONTROL FILES), each with the table's meaning,
 *	          type, default, readers and when a change takes effect, and
 *	          no entry the table lacks; the variables the ENVIRONMENT
 *	          sections of sluiced(8) and sluice-queue(8) describe are
 *	          settings those programs read, and both pages point to
 *	          sluice-control(5)
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "control/control.h"

/* help_text - what control_settings_help(any, none) prints */
static char *help_text(unsigned any, unsigned none)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	control_settings_help(f, any, none);
	fclose(f);
	return buf;
}

/* listed - how many lines of text start with "  NAME " */
static int listed(const char *text, const char *name)
{
	char want[100];
	const char *p;
	int n = 0;

	snprintf(want, sizeof want, "  %s ", name);
	for (p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += !strncmp(p, want, strlen(want));
	return n;
}

static void test_help(void **unused)
{
	char *d = help_text(CONTROL_P_SLUICED, 0), *q = help_text(CONTROL_P_QUEUE, 0);
	char *dm = help_text(CONTROL_P_DIRECT, CONTROL_P_QUEUE);
	size_t i;

	for (i = 0; i < CONTROL_NSETTINGS; i++) {
		const struct control_setting *e = &control_settings_table[i];
		int want = e->type != CONTROL_T_FILE;

		if (listed(d, e->name) != (want && (e->programs & CONTROL_P_SLUICED)))
			fail_msg("sluiced's help lists %s %d times", e->name, listed(d, e->name));
		if (listed(q, e->name) != (want && (e->programs & CONTROL_P_QUEUE)))
			fail_msg("sluice-queue's help lists %s %d times", e->name, listed(q, e->name));
		if (listed(dm, e->name) !=
		    (want && (e->programs & CONTROL_P_DIRECT) && !(e->programs & CONTROL_P_QUEUE)))
			fail_msg("direct mode's help lists %s %d times", e->name, listed(dm, e->name));
	}
	assert_non_null(strstr(d, "  SLUICE_SYNC            flushes before the commit: full, data, "
				  "fs or none [full]\n"));
	assert_non_null(strstr(d, "  SLUICE_WORKERS         scan worker threads [the number of "
				  "processors online]\n"));
	assert_non_null(strstr(d, "  SLUICE_USER            user to become when started as root "
				  "(the queue owner) [unset]\n"));
	free(d);
	free(q);
	free(dm);
}

static void test_texts(void **unused)
{
	char buf[300];

	assert_string_equal(control_settings_type_text(CONTROL_S_SLUICE_BATCH, buf, sizeof buf),
			    "number, 1 to 64");
	assert_string_equal(control_settings_type_text(CONTROL_S_MIN_FREE, buf, sizeof buf),
			    "bytes, 0 or more");
	assert_string_equal(control_settings_type_text(CONTROL_S_SLUICE_READ_TIMEOUT, buf, sizeof buf),
			    "seconds, 1 to 604800");
	assert_string_equal(control_settings_type_text(CONTROL_S_SLUICE_SOCKET_MODE, buf, sizeof buf),
			    "octal mode, at most 0777");
	assert_string_equal(control_settings_type_text(CONTROL_S_SLUICE_QUARANTINE_THEN, buf,
						       sizeof buf), "one of: reject, drop");
	assert_string_equal(control_settings_type_text(CONTROL_S_SLUICE_SCANNERS, buf, sizeof buf),
			    "list of: clamav, attach, exec, clamd, spamd, rspamd, null");
	assert_string_equal(control_settings_type_text(CONTROL_S_SIMCONTROL, buf, sizeof buf),
			    "control file");
	assert_string_equal(control_settings_default_text(CONTROL_S_QHPSI), "unset");
	assert_string_equal(control_settings_default_text(CONTROL_S_SLUICE_SOCKET),
			    "$QUEUE_BASE/sluiced.sock");
	assert_string_equal(control_settings_effect_text(CONTROL_S_SLUICE_ON_SPAM), "on SIGHUP");
	assert_string_equal(control_settings_effect_text(CONTROL_S_SLUICE_SCANNERS), "at restart");
	assert_string_equal(control_settings_effect_text(CONTROL_S_SLUICE_TIMEOUT), "at each run");
	assert_string_equal(control_settings_programs_text(CONTROL_P_SLUICED | CONTROL_P_DIRECT |
							   CONTROL_P_CDB, buf, sizeof buf),
			    "sluiced, sluice-queue (direct mode), sluice-cdb");
}

/* ---------------------------------------------------------------- manual */

struct page {
	char **line;
	size_t n;
};

static void page_read(struct page *p, const char *name)
{
	char *text = tu_read(tu_path(SLUICE_SOURCE_DIR "/man", "%s", name), NULL), *s, *nl;

	if (!text)
		fail_msg("cannot read man/%s", name);
	p->line = NULL;
	p->n = 0;
	for (s = text; *s; s = nl + 1) {
		if (!(nl = strchr(s, '\n')))
			nl = s + strlen(s);
		p->line = realloc(p->line, (p->n + 1) * sizeof *p->line);
		p->line[p->n++] = strndup(s, (size_t)(nl - s));
		if (!*nl)
			break;
	}
	free(text);
}

static void page_free(struct page *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->line[i]);
	free(p->line);
}

/* field - line i is "<label>: <value>." after a .br at i - 1; the value */
static const char *field(const struct page *p, size_t i, const char *label, const char *entry)
{
	static char value[1000];
	size_t len = strlen(label), vlen;

	if (i >= p->n || i < 1 || strcmp(p->line[i - 1], ".br") || strncmp(p->line[i], label, len) ||
	    strncmp(p->line[i] + len, ": ", 2))
		fail_msg("sluice-control.5: %s: line %zu should be \".br\" then \"%s: ...\"", entry, i,
			 label);
	vlen = strlen(p->line[i] + len + 2);
	if (!vlen || p->line[i][len + 2 + vlen - 1] != '.')
		fail_msg("sluice-control.5: %s: \"%s\" does not end with a period", entry, p->line[i]);
	snprintf(value, sizeof value, "%.*s", (int)vlen - 1, p->line[i] + len + 2);
	return value;
}

static void test_manual(void **unused)
{
	struct page p;
	int seen[CONTROL_NSETTINGS] = { 0 }, in = 0;
	size_t i, k, entries = 0;
	char buf[1000];

	page_read(&p, "sluice-control.5");
	for (i = 0; i < p.n; i++) {
		const struct control_setting *e;
		enum control_setting_id id;
		const char *name;

		if (!strncmp(p.line[i], ".SH ", 4)) {
			in = !strcmp(p.line[i], ".SH SETTINGS") || !strcmp(p.line[i], ".SH CONTROL FILES");
			continue;
		}
		if (!in || strcmp(p.line[i], ".TP") || i + 7 >= p.n)
			continue;
		if (strncmp(p.line[i + 1], ".B ", 3))
			fail_msg("sluice-control.5 line %zu: an entry's .TP without \".B NAME\"", i + 2);
		name = p.line[i + 1] + 3;
		if (!(e = control_settings_find(name)))
			fail_msg("sluice-control.5 describes %s, which the table does not have", name);
		id = (enum control_setting_id)(e - control_settings_table);
		if (seen[id]++)
			fail_msg("sluice-control.5 describes %s twice", name);
		entries++;
		/* the meaning, as the table words it, as a sentence */
		snprintf(buf, sizeof buf, "%c%s.", toupper((unsigned char)e->help[0]), e->help + 1);
		if (strcmp(p.line[i + 2], buf))
			fail_msg("sluice-control.5: %s: meaning \"%s\", the table's \"%s\"", name,
				 p.line[i + 2], buf);
		k = i + 4;
		if (strcmp(field(&p, k, "Type", name), control_settings_type_text(id, buf, sizeof buf)))
			fail_msg("sluice-control.5: %s: type \"%s\", the table's \"%s\"", name,
				 field(&p, k, "Type", name), buf);
		k += 2;
		if (strcmp(field(&p, k, "Default", name), control_settings_default_text(id)))
			fail_msg("sluice-control.5: %s: default \"%s\", the table's \"%s\"", name,
				 field(&p, k, "Default", name), control_settings_default_text(id));
		k += 2;
		if (strcmp(field(&p, k, "Read by", name),
			   control_settings_programs_text(e->programs, buf, sizeof buf)))
			fail_msg("sluice-control.5: %s: read by \"%s\", the table's \"%s\"", name,
				 field(&p, k, "Read by", name), buf);
		k += 2;
		if (strcmp(field(&p, k, "Takes effect", name), control_settings_effect_text(id)))
			fail_msg("sluice-control.5: %s: takes effect \"%s\", the table's \"%s\"", name,
				 field(&p, k, "Takes effect", name), control_settings_effect_text(id));
		i = k;
	}
	for (i = 0; i < CONTROL_NSETTINGS; i++)
		if (!seen[i])
			fail_msg("sluice-control.5 does not describe %s", control_settings_table[i].name);
	print_message("sluice-control.5: %zu entries, as the table has them\n", entries);
	page_free(&p);
}

/* env_names - the ".TP / .B NAME" entries of page's ENVIRONMENT section
 * that name a variable must be settings some reader in programs reads; and
 * the page names sluice-control(5) */
static void env_names(const char *page, unsigned programs)
{
	struct page p;
	int in = 0, refers = 0;
	size_t i, n = 0;

	page_read(&p, page);
	for (i = 0; i + 1 < p.n; i++) {
		const struct control_setting *e;
		const char *name;

		refers |= !strcmp(p.line[i], ".BR sluice-control (5)") ||
			  !strcmp(p.line[i], ".BR sluice-control (5),") ||
			  !strcmp(p.line[i], ".BR sluice-control (5).");
		if (!strncmp(p.line[i], ".SH ", 4))
			in = !strcmp(p.line[i], ".SH ENVIRONMENT");
		if (!in || strcmp(p.line[i], ".TP") || strncmp(p.line[i + 1], ".B ", 3))
			continue;
		name = p.line[i + 1] + 3;
		if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(name))
			continue;	/* a scanner, a word: not a variable */
		if (!(e = control_settings_find(name)) || !(e->programs & programs))
			fail_msg("%s documents %s, which it does not read", page, name);
		n++;
	}
	refers |= !strcmp(p.line[p.n - 1], ".BR sluice-control (5)");
	if (!refers)
		fail_msg("%s does not point to sluice-control(5)", page);
	if (n < 5)
		fail_msg("%s: %zu variables in ENVIRONMENT: not parsed", page, n);
	page_free(&p);
}

static void test_other_pages(void **unused)
{
	env_names("sluiced.8", CONTROL_P_SLUICED);
	env_names("sluice-queue.8", CONTROL_P_QUEUE | CONTROL_P_DIRECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_texts),
		cmocka_unit_test(test_manual),
		cmocka_unit_test(test_other_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
