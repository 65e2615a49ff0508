/*
 * test_router_scan.c - router/router_scan.c: what the router asks of the
 *	scanners goes through the backend table only (scan/scan.h).
 *
 *	start      router_scan_start() initialises each backend; the mess
 *	           file's path is made only when a backend's flags say
 *	           SCAN_B_NEEDS_PATH; X-Virus-Scanned names every backend with
 *	           the version() of those that have one, one header-safe word
 *	           (a version carrying CR LF and a second header is cut)
 *	check      the reload timer reloads when a backend's changed() says
 *	           so, and not when none does or a backend has no changed()
 *	real       with the real clamav and attach backends the header is
 *	           "sluice <v> (clamav <libclamav's version>, attach)"
 *
 *	Fake backends stand in for scanners here; the scanners themselves
 *	are tested in tests/scan.
 */
#include <clamav.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "router/router_int.h"

static struct {
	int inits, finis, reloads;
	int changed;		/* what fake_changed answers */
	int changed_calls;
	const char *version;
} fk;

static int fake_init(void **state, const struct scan_config *c, char *err, size_t errlen)
{
	(void)c, (void)err, (void)errlen;
	fk.inits++;
	*state = &fk;
	return 0;
}

static void fake_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	(void)state, (void)in;
	scan_verdict_set(v, SCAN_CLEAN, "fake", "clean");
}

static int fake_reload(void *state, char *err, size_t errlen)
{
	(void)state, (void)err, (void)errlen;
	__atomic_add_fetch(&fk.reloads, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int fake_changed(void *state)
{
	assert_ptr_equal(state, &fk);
	fk.changed_calls++;
	return fk.changed;
}

static size_t fake_version(void *state, char *buf, size_t cap)
{
	(void)state;
	return (size_t)snprintf(buf, cap, "%s", fk.version);
}

static void fake_fini(void *state)
{
	(void)state;
	fk.finis++;
}

/* engine: has a version and something to watch */
static const struct scan_backend engine = {
	.name = "engine", .init = fake_init, .scan = fake_scan, .reload = fake_reload,
	.changed = fake_changed, .version = fake_version, .fini = fake_fini,
};
/* pathy: needs the path, nothing else */
static const struct scan_backend pathy = {
	.name = "pathy", .flags = SCAN_B_NEEDS_PATH, .init = fake_init, .scan = fake_scan,
	.fini = fake_fini,
};
/* plain: none of it */
static const struct scan_backend plain = {
	.name = "plain", .init = fake_init, .scan = fake_scan, .reload = fake_reload,
	.fini = fake_fini,
};

struct fx {
	struct router r;
	struct router_config c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	memset(&fk, 0, sizeof fk);
	fk.version = "9.8.7";
	f->c.workers = 1;
	f->c.scan_depth = 4;
	f->c.net_threads = 1;
	f->r.cfg = &f->c;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void start(struct fx *f, const struct scan_backend *const *b, unsigned n)
{
	char err[600] = "";
	unsigned i;

	f->c.nscanners = n;
	for (i = 0; i < n; i++)
		f->c.scanners[i] = b[i];
	if (router_scan_start(&f->r, err, sizeof err) < 0)
		fail_msg("router_scan_start: %s", err);
}

/* reloads_after - the reload thread's count once it is done (5 s at most) */
static int reloads_after(struct fx *f)
{
	int k;

	for (k = 0; k < 500 && __atomic_load_n(&f->r.reloading, __ATOMIC_ACQUIRE); k++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&f->r.reloading, __ATOMIC_ACQUIRE), 0);
	return __atomic_load_n(&fk.reloads, __ATOMIC_SEQ_CST);
}

static void test_start(void **state)
{
	struct fx *f = *state;
	static const struct scan_backend *const set[] = { &engine, &plain };
	char want[256];

	start(f, set, 2);
	assert_int_equal(fk.inits, 2);
	assert_int_equal(f->r.want_path, 0);	/* no backend reads a path */
	snprintf(want, sizeof want, "sluice %s (engine 9.8.7, plain)", SLUICE_VERSION);
	assert_string_equal(f->r.scanned_by, want);
	router_scan_stop(&f->r);
	assert_int_equal(fk.finis, 2);
}

static void test_start_path(void **state)
{
	struct fx *f = *state;
	static const struct scan_backend *const set[] = { &plain, &pathy };
	char want[256];

	start(f, set, 2);
	assert_int_equal(f->r.want_path, 1);
	snprintf(want, sizeof want, "sluice %s (plain, pathy)", SLUICE_VERSION);
	assert_string_equal(f->r.scanned_by, want);
	router_scan_stop(&f->r);
}

/* test_version_word - the header gets one word of printable ASCII */
static void test_version_word(void **state)
{
	struct fx *f = *state;
	static const struct scan_backend *const set[] = { &engine };
	char want[256];

	fk.version = "1.2\r\nX-Injected: yes";
	start(f, set, 1);
	snprintf(want, sizeof want, "sluice %s (engine 1.2)", SLUICE_VERSION);
	assert_string_equal(f->r.scanned_by, want);
	router_scan_stop(&f->r);

	memset(&f->r, 0, sizeof f->r);
	f->r.cfg = &f->c;
	fk.version = "";	/* unknown: the name alone */
	start(f, set, 1);
	snprintf(want, sizeof want, "sluice %s (engine)", SLUICE_VERSION);
	assert_string_equal(f->r.scanned_by, want);
	router_scan_stop(&f->r);
}

static void test_check(void **state)
{
	struct fx *f = *state;
	static const struct scan_backend *const set[] = { &plain, &engine };

	start(f, set, 2);
	fk.changed = 0;
	router_scan_check(&f->r);
	assert_int_equal(fk.changed_calls, 1);
	assert_int_equal(reloads_after(f), 0);
	fk.changed = 1;
	router_scan_check(&f->r);
	assert_int_equal(fk.changed_calls, 2);
	/* every backend with a reload() is reloaded: plain and engine */
	assert_int_equal(reloads_after(f), 2);
	router_scan_stop(&f->r);
}

static void test_check_nothing_to_watch(void **state)
{
	struct fx *f = *state;
	static const struct scan_backend *const set[] = { &plain, &pathy };

	start(f, set, 2);
	router_scan_check(&f->r);
	assert_int_equal(reloads_after(f), 0);
	router_scan_stop(&f->r);
}

/* test_real - the header with the real clamav and attach backends */
static void test_real(void **state)
{
	struct fx *f = *state;
	const struct scan_backend *set[] = { scan_backend_find("clamav"), scan_backend_find("attach") };
	char want[256];

	f->c.scan.clamdb = SLUICE_SOURCE_DIR "/scan/db";
	f->c.scan.banned = SCAN_BANNED_DEFAULT;
	start(f, set, 2);
	snprintf(want, sizeof want, "sluice %s (clamav %s, attach)", SLUICE_VERSION, cl_retver());
	assert_string_equal(f->r.scanned_by, want);
	assert_int_equal(f->r.want_path, 0);
	router_scan_check(&f->r);	/* the DB did not change: no reload */
	assert_int_equal(__atomic_load_n(&f->r.reloading, __ATOMIC_ACQUIRE), 0);
	router_scan_stop(&f->r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_word, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_nothing_to_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
