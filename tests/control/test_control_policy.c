/*
 * test_control_policy.c - control/control_policy.c: snapshots, change
 *	detection, reload, the slot.
 *
 *	start       a broken file at start is a failure naming file:line;
 *	            a missing directory is no policy (the daemon's settings)
 *	changed     0 while nothing changed; 1 after the text is edited, the
 *	            CDB replaced, ssattach created or removed
 *	reload      a good new file gives a new snapshot; a broken one gives
 *	            NULL with file:line and the old snapshot goes on answering
 *	            as before; a result outlives the snapshot it came from
 *	            being replaced and dropped
 *	threads     a thread looks up without pause through the slot while
 *	            this one rewrites simcontrol.cdb (sluice-cdb's atomic
 *	            rename), reloads and swaps, 150 times, with broken
 *	            generations in between (a bad text the compiler refuses, a
 *	            garbage CDB renamed into place the reload refuses): every
 *	            result is of one generation (default line and domain line
 *	            agree, the attach list read after the swap too), the
 *	            generations never go back, and no broken one is ever seen
 *	env         SLUICE_CONTROL and SLUICE_POLICY_SENDER
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "control.h"

static const struct control_defaults defs = {
	.action = { CONTROL_ACT_REJECT, CONTROL_ACT_REJECT, CONTROL_ACT_REJECT, CONTROL_ACT_REJECT,
		    CONTROL_ACT_DEFER },
};

static void put(const char *path, const char *text)
{
	tu_write(path, text, strlen(text));
}

/* later - bump a file's mtime, as an edit a second later would */
static void later(const char *path)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec += 5;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static int queue_of(struct control_policy *p, const char *rcpt)
{
	const char *rc[] = { rcpt, NULL };
	struct control_msg m = { .sender = "", .rcpts = rc };
	struct control_result r;
	int q;

	control_result_init(&r);
	assert_int_equal(control_policy_lookup(p, &m, &defs, &r), 0);
	q = r.queue;
	control_result_fini(&r);
	return q;
}

static void test_start(void **state)
{
	char *dir = tu_tmpdir("policy"), err[1024];
	struct control_options o = { .dir = dir, .applies = CONTROL_APPLY_ALL };
	struct control_policy *p;

	put(tu_path(dir, "simcontrol"), ":clam=yes\nx.example:clam=noo\n");
	assert_null(control_policy_open(&o, err, sizeof err));
	assert_non_null(strstr(err, "/simcontrol:2: bad value 'noo'"));
	/* a control directory that does not exist: no policy */
	o.dir = tu_path(dir, "nonexistent");
	p = control_policy_open(&o, err, sizeof err);
	assert_non_null(p);
	assert_string_equal(control_policy_source(p), "none");
	control_policy_unref(p);
	/* an unreadable file is an error, not "no file" */
	o.dir = dir;
	unlink(tu_path(dir, "simcontrol"));
	assert_int_equal(mkdir(tu_path(dir, "simcontrol"), 0700), 0);
	assert_null(control_policy_open(&o, err, sizeof err));
	assert_non_null(strstr(err, "simcontrol: not a regular file"));
	tu_rmtree(dir);
	free(dir);
}

static void test_changed(void **state)
{
	char *dir = tu_tmpdir("policy"), err[1024];
	struct control_options o = { .dir = dir, .applies = CONTROL_APPLY_ALL };
	struct control_policy *p;

	put(tu_path(dir, "simcontrol"), ":queue=1\n");
	p = control_policy_open(&o, err, sizeof err);
	assert_non_null(p);
	assert_int_equal(control_policy_changed(p), 0);
	assert_int_equal(control_policy_changed(p), 0);
	later(tu_path(dir, "simcontrol"));	/* touched */
	assert_int_equal(control_policy_changed(p), 1);
	control_policy_unref(p);

	p = control_policy_open(&o, err, sizeof err);
	put(tu_path(dir, "ssattach"), ".exe\n");	/* appears */
	assert_int_equal(control_policy_changed(p), 1);
	control_policy_unref(p);

	p = control_policy_open(&o, err, sizeof err);
	assert_int_equal(control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"),
					 0, &o, err, sizeof err), 0);
	assert_int_equal(control_policy_changed(p), 1);	/* the CDB appears */
	control_policy_unref(p);

	p = control_policy_open(&o, err, sizeof err);
	assert_string_equal(control_policy_source(p), "simcontrol.cdb");
	assert_int_equal(control_policy_changed(p), 0);
	assert_int_equal(control_compile(tu_path(dir, "simcontrol"), tu_path(dir, "simcontrol.cdb"),
					 0, &o, err, sizeof err), 0);
	assert_int_equal(control_policy_changed(p), 1);	/* replaced (a new inode) */
	control_policy_unref(p);

	p = control_policy_open(&o, err, sizeof err);
	unlink(tu_path(dir, "ssattach"));
	assert_int_equal(control_policy_changed(p), 1);	/* gone */
	control_policy_unref(p);
	tu_rmtree(dir);
	free(dir);
}

static void test_reload(void **state)
{
	char *dir = tu_tmpdir("policy"), err[1024];
	struct control_options o = { .dir = dir, .applies = CONTROL_APPLY_ALL };
	struct control_policy *p, *np;
	struct control_result kept;
	const char *rc[] = { "a@x.example", NULL };
	struct control_msg m = { .sender = "", .rcpts = rc };

	put(tu_path(dir, "simcontrol"), ":queue=1\nx.example:attach=.one\n");
	p = control_policy_open(&o, err, sizeof err);
	assert_non_null(p);
	control_result_init(&kept);
	assert_int_equal(control_policy_lookup(p, &m, &defs, &kept), 0);

	put(tu_path(dir, "simcontrol"), ":queue=2\nx.example:attach=.two\n");
	later(tu_path(dir, "simcontrol"));
	assert_int_equal(control_policy_changed(p), 1);
	np = control_policy_reload(p, err, sizeof err);
	assert_non_null(np);
	control_policy_unref(p);	/* the daemon's swap: kept still holds it */
	p = np;
	assert_int_equal(queue_of(p, "a@x.example"), 2);
	assert_int_equal(kept.queue, 1);
	assert_string_equal(kept.attach[0]->e[0].s, ".one");	/* still valid */

	put(tu_path(dir, "simcontrol"), ":queue=3\nx.example:attach=.three,clam=sometimes\n");
	later(tu_path(dir, "simcontrol"));
	assert_int_equal(control_policy_changed(p), 1);
	assert_null(control_policy_reload(p, err, sizeof err));
	assert_non_null(strstr(err, "/simcontrol:2: bad value 'sometimes' for clam="));
	assert_int_equal(queue_of(p, "a@x.example"), 2);	/* the last good policy */
	control_result_fini(&kept);	/* drops the first snapshot's last reference */
	control_policy_unref(p);
	tu_rmtree(dir);
	free(dir);
}

#define GENERATIONS 150

struct shared {
	struct control_slot slot;
	atomic_int stop;
	atomic_long lookups;
	atomic_int bad;
	int seen_max;
	char why[512];
};

static void *looker(void *arg)
{
	struct shared *s = arg;
	const char *rc[] = { "a@gen.example", "b@gen.example", NULL };
	struct control_msg m = { .sender = "", .rcpts = rc };
	struct control_result r;
	int last = 0;

	control_result_init(&r);
	while (!atomic_load(&s->stop)) {
		struct control_policy *p = control_slot_get(&s->slot);
		int gen;
		char want[32];

		if (control_policy_lookup(p, &m, &defs, &r) < 0) {
			snprintf(s->why, sizeof s->why, "lookup failed");
			atomic_store(&s->bad, 1);
		}
		control_policy_unref(p);	/* r keeps the snapshot alive */
		gen = r.queue;
		if ((unsigned)atomic_fetch_add(&s->lookups, 1) % 64 == 0)
			usleep(50);	/* let a swap happen while r is held */
		snprintf(want, sizeof want, ".g%d", gen);
		if (gen < 1 || gen < last || (int)r.spam_hits != gen || r.nattach != 1 ||
		    strcmp(r.attach[0]->e[0].s, want) || strcmp(r.applied, "(default),gen.example") ||
		    gen % 10 == 5) {
			snprintf(s->why, sizeof s->why,
				 "torn or broken: queue %d hits %g attach %s applied %s (last %d)", gen,
				 r.spam_hits, r.nattach ? r.attach[0]->e[0].s : "-", r.applied, last);
			atomic_store(&s->bad, 1);
			break;
		}
		last = gen;
	}
	s->seen_max = last;
	control_result_fini(&r);
	return NULL;
}

static void test_threads(void **state)
{
	char *dir = tu_tmpdir("policy"), err[1024], text[256];
	struct control_options o = { .dir = dir, .applies = CONTROL_APPLY_ALL };
	struct shared s = { 0 };
	struct control_policy *p;
	pthread_t t;
	int gen, swaps = 0, refused = 0;
	long before;

	snprintf(text, sizeof text, ":clam=yes,queue=1\ngen.example:spam=yes,spam_hits=1,attach=.g1\n");
	put(tu_path(dir, "src"), text);
	assert_int_equal(control_compile(tu_path(dir, "src"), tu_path(dir, "simcontrol.cdb"), 0, &o,
					 err, sizeof err), 0);
	p = control_policy_open(&o, err, sizeof err);
	assert_non_null(p);
	control_slot_init(&s.slot, p);
	assert_int_equal(pthread_create(&t, NULL, looker, &s), 0);
	for (gen = 2; gen <= GENERATIONS && !atomic_load(&s.bad); gen++) {
		struct control_policy *cur = control_slot_get(&s.slot), *np;

		if (gen % 10 == 5) {
			/* broken generations: neither may ever be seen */
			snprintf(text, sizeof text, ":clam=yes,queue=%d\ngen.example:spam=yes,"
				 "spam_hits=%d,attach=.g%d,clam=broken\n", gen, gen, gen);
			put(tu_path(dir, "src"), text);
			assert_int_equal(control_compile(tu_path(dir, "src"),
							 tu_path(dir, "simcontrol.cdb"), 0, &o, err,
							 sizeof err), 1);
			put(tu_path(dir, "junk"), "this is not a cdb file");
			assert_int_equal(rename(tu_path(dir, "junk"), tu_path(dir, "simcontrol.cdb")), 0);
			assert_int_equal(control_policy_changed(cur), 1);
			assert_null(np = control_policy_reload(cur, err, sizeof err));
			assert_non_null(strstr(err, "simcontrol.cdb: not a CDB file"));
			refused++;
		} else {
			snprintf(text, sizeof text, ":clam=yes,queue=%d\ngen.example:spam=yes,"
				 "spam_hits=%d,attach=.g%d\n", gen, gen, gen);
			put(tu_path(dir, "src"), text);
			assert_int_equal(control_compile(tu_path(dir, "src"),
							 tu_path(dir, "simcontrol.cdb"), 0, &o, err,
							 sizeof err), 0);
			np = control_policy_reload(cur, err, sizeof err);
			if (!np)
				fail_msg("reload: %s", err);
			control_slot_set(&s.slot, np);
			swaps++;
		}
		control_policy_unref(cur);
		before = atomic_load(&s.lookups);
		while (atomic_load(&s.lookups) < before + 20 && !atomic_load(&s.bad))
			usleep(100);	/* the looker sees this generation */
	}
	atomic_store(&s.stop, 1);
	pthread_join(t, NULL);
	if (atomic_load(&s.bad))
		fail_msg("%s", s.why);
	print_message("%ld lookups, %d swaps, %d broken files refused, last generation seen %d\n",
		      atomic_load(&s.lookups), swaps, refused, s.seen_max);
	assert_int_equal(s.seen_max, GENERATIONS);
	assert_true(refused >= GENERATIONS / 10 - 1);
	control_slot_fini(&s.slot);
	tu_rmtree(dir);
	free(dir);
}

static void test_env(void **state)
{
	struct control_options o = { 0 };
	char err[256];

	unsetenv("SLUICE_CONTROL");
	unsetenv("SLUICE_POLICY_SENDER");
	assert_int_equal(control_options_env(&o, err, sizeof err), 0);
	assert_string_equal(o.dir, CONTROL_DIR_DEFAULT);
	assert_int_equal(o.sender, CONTROL_SENDER_RELAY);
	setenv("SLUICE_CONTROL", "/etc/sluice/control", 1);
	setenv("SLUICE_POLICY_SENDER", "always", 1);
	assert_int_equal(control_options_env(&o, err, sizeof err), 0);
	assert_string_equal(o.dir, "/etc/sluice/control");
	assert_int_equal(o.sender, CONTROL_SENDER_ALWAYS);
	setenv("SLUICE_POLICY_SENDER", "never", 1);
	assert_int_equal(control_options_env(&o, err, sizeof err), 0);
	assert_int_equal(o.sender, CONTROL_SENDER_NEVER);
	setenv("SLUICE_POLICY_SENDER", "sometimes", 1);
	assert_int_equal(control_options_env(&o, err, sizeof err), -1);
	assert_string_equal(err, "SLUICE_POLICY_SENDER=sometimes: want relay, always or never");
	assert_int_equal(control_env_nvars, 2);
	assert_string_equal(control_env_vars[0].name, "SLUICE_CONTROL");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_changed),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
