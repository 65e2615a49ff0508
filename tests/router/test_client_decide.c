/*
 * test_client_decide.c - router/client_decide.c: the one decision and the
 * one table of answers.
 *
 *	decide     every verdict kind x every action x SLUICE_TAG_CLEAN x
 *	           SLUICE_QUARANTINE_THEN x the deadline flag x rspamd's flags:
 *	           the action and status an oracle written from sluiced(8)'s
 *	           rules expects
 *	answers    every status x every custom-error convention: the exit code
 *	           (the plain one from qmail-queue's table, 82/88 with a text
 *	           only under a convention and only for a status with a text),
 *	           the letter (D for 11..40, Z otherwise) and the text
 *	texts      the names in the texts; an unnamed virus; a 600-byte name is
 *	           cut in the middle and the enhanced code survives; CR/LF in a
 *	           name never reach the reply
 *	queue      every queue status has qmail-queue's code for its step
 */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "router/client.h"

static const enum router_action all_actions[] = {
	ACTION_ACCEPT, ACTION_REJECT, ACTION_DEFER, ACTION_DROP, ACTION_TAG, ACTION_QUARANTINE,
};
#define NACT (sizeof all_actions / sizeof all_actions[0])

/* oracle - what sluiced(8) says happens (written apart from the code) */
static void oracle(enum scan_kind kind, enum router_action act, unsigned flags, int tag_clean,
		   enum router_action then, int timed_out, struct sq_decision *d)
{
	static const enum sq_status perm[] = {
		[SCAN_INFECTED] = SQ_PERM_VIRUS, [SCAN_BANNED] = SQ_PERM_BANNED,
		[SCAN_SPAM] = SQ_PERM_SPAM, [SCAN_LIMIT] = SQ_PERM_LIMIT,
	};
	static const enum sq_status temp[] = {
		[SCAN_INFECTED] = SQ_TEMP_VIRUS, [SCAN_BANNED] = SQ_TEMP_BANNED,
		[SCAN_SPAM] = SQ_TEMP_SPAM, [SCAN_LIMIT] = SQ_TEMP_LIMIT,
	};

	d->status = SQ_OK;
	d->action = ACTION_ACCEPT;
	if (kind == SCAN_CLEAN) {
		d->action = tag_clean ? ACTION_TAG : ACTION_ACCEPT;
		return;
	}
	if (kind == SCAN_ERROR) {
		if (act == ACTION_ACCEPT) {
			d->action = tag_clean ? ACTION_TAG : ACTION_ACCEPT;
		} else {
			d->action = ACTION_DEFER;
			d->status = timed_out ? SQ_TEMP_SCAN_TIMEOUT : SQ_TEMP_SCANNER;
		}
		return;
	}
	if (kind == SCAN_SPAM && (flags & SCAN_F_DEFER)) {
		d->action = ACTION_DEFER;
		d->status = SQ_TEMP_SPAM_FILTER;
		return;
	}
	if (kind == SCAN_SPAM && (flags & SCAN_F_TAG))
		act = ACTION_TAG;
	d->action = act;
	switch (act) {
	case ACTION_ACCEPT:
		d->action = tag_clean ? ACTION_TAG : ACTION_ACCEPT;
		break;
	case ACTION_TAG:
		break;
	case ACTION_REJECT:
		d->status = perm[kind];
		break;
	case ACTION_DEFER:
		d->status = temp[kind];
		break;
	case ACTION_DROP:
		d->status = SQ_DROPPED;
		break;
	case ACTION_QUARANTINE:
		d->status = then == ACTION_DROP ? SQ_DROPPED : perm[kind];
		break;
	}
}

static void test_decide(void **unused)
{
	static const enum scan_kind kinds[] = {
		SCAN_CLEAN, SCAN_ERROR, SCAN_SPAM, SCAN_LIMIT, SCAN_BANNED, SCAN_INFECTED,
	};
	static const unsigned flagsets[] = { 0, SCAN_F_TAG, SCAN_F_DEFER };
	static const enum router_action thens[] = { ACTION_REJECT, ACTION_DROP };
	unsigned k, a, f, t, q, to, cases = 0;

	for (k = 0; k < 6; k++)
		for (a = 0; a < NACT; a++)
			for (f = 0; f < 3; f++)
				for (t = 0; t < 2; t++)
					for (q = 0; q < 2; q++)
						for (to = 0; to < 2; to++) {
							struct sq_actions acts = {
								.on_virus = all_actions[a], .on_banned = all_actions[a],
								.on_spam = all_actions[a], .on_limit = all_actions[a],
								.on_error = all_actions[a], .quarantine_then = thens[q],
								.tag_clean = (int)t,
							};
							struct scan_verdict v;
							struct sq_decision got, want;

							if (kinds[k] == SCAN_ERROR && all_actions[a] != ACTION_ACCEPT &&
							    all_actions[a] != ACTION_DEFER)
								continue;	/* SLUICE_ON_ERROR: defer or accept */
							if (flagsets[f] && kinds[k] != SCAN_SPAM)
								continue;	/* flags only come with spam */
							scan_verdict_set(&v, kinds[k], "x", "name");
							v.flags = flagsets[f];
							client_decide(&acts, &v, (int)to, &got);
							oracle(kinds[k], all_actions[a], flagsets[f], (int)t, thens[q],
							       (int)to, &want);
							if (got.action != want.action || got.status != want.status)
								fail_msg("%s, action %s, flags %u, tag_clean %u, then %s, "
									 "timed out %u: got %s/%s, want %s/%s",
									 scan_kind_name(kinds[k]),
									 client_action_word(all_actions[a]), flagsets[f], t,
									 client_action_word(thens[q]), to,
									 client_action_word(got.action),
									 client_status_word(got.status),
									 client_action_word(want.action),
									 client_status_word(want.status));
							cases++;
						}
	assert_true(cases > 300);
}

static void test_answers(void **unused)
{
	static const enum client_custom convs[] = {
		CUSTOM_NONE, CUSTOM_NOTQMAIL, CUSTOM_SIMSCAN, CUSTOM_INDIMAIL,
	};
	static const int conv_code[] = { 0, 82, 82, 88 }, conv_fd[] = { -1, 6, 4, 5 };
	unsigned c;
	int st;

	for (st = 0; st < SQ_NSTATUS; st++)
		for (c = 0; c < 4; c++) {
			struct wire_reply r;
			char text[300];
			int plain = client_status_exit((enum sq_status)st);
			size_t tl = client_status_text((enum sq_status)st, "Eicar-Test", 7.5, text, sizeof text);

			client_answer(&r, (enum sq_status)st, "Eicar-Test", 7.5, convs[c], 5);
			assert_int_equal(r.plain, plain);
			if (convs[c] == CUSTOM_NONE || tl == 0 || plain == 0) {
				assert_int_equal(r.code, plain);
				assert_int_equal(r.fd, -1);
				assert_int_equal(r.len, 0);
				continue;
			}
			assert_int_equal(r.code, conv_code[c]);
			assert_int_equal(r.fd, conv_fd[c]);
			assert_int_equal(r.text[0], plain >= 11 && plain <= 40 ? 'D' : 'Z');
			assert_int_equal(r.len, tl + 1);
			assert_memory_equal(r.text + 1, text, tl);
			/* the enhanced code matches: 5.x.x for 554, 4.x.x for 451
			 * (a remote queue's text is passed on as it came) */
			if (st != SQ_PERM_REMOTE && st != SQ_TEMP_REMOTE)
				assert_non_null(strstr(text, plain >= 11 && plain <= 40 ? "(#5." : "(#4."));
		}
	/* the plain codes of qmail-queue's table */
	assert_int_equal(client_status_exit(SQ_OK), 0);
	assert_int_equal(client_status_exit(SQ_DROPPED), 0);
	assert_int_equal(client_status_exit(SQ_PERM_VIRUS), 31);
	assert_int_equal(client_status_exit(SQ_PERM_LIMIT), 31);
	assert_int_equal(client_status_exit(SQ_TEMP_VIRUS), 71);
	assert_int_equal(client_status_exit(SQ_TEMP_SCANNER), 71);
	assert_int_equal(client_status_exit(SQ_TEMP_BUSY), 71);
	assert_int_equal(client_status_exit(SQ_TEMP_TIMEOUT), 52);
	assert_int_equal(client_status_exit(SQ_TEMP_READ), 54);
	assert_int_equal(client_status_exit(SQ_TEMP_CONN_TIMEOUT), 72);
	assert_int_equal(client_status_exit(SQ_TEMP_CONN_REFUSED), 73);
	assert_int_equal(client_status_exit(SQ_TEMP_CONN_BROKEN), 74);
	assert_int_equal(client_status_exit(SQ_PERM_ADDR), 11);
	assert_int_equal(client_status_exit(SQ_BUG_FORMAT), 91);
	assert_int_equal(client_status_exit((enum sq_status)SQ_NSTATUS), 81);
	assert_int_equal(client_status_exit((enum sq_status)-1), 81);
}

static void test_texts(void **unused)
{
	char t[400], name[601];
	struct wire_reply r;

	client_status_text(SQ_PERM_VIRUS, "Eicar-Test-Signature", 0, t, sizeof t);
	assert_string_equal(t, "Your email was rejected because it contains the Eicar-Test-Signature virus (#5.7.1)");
	client_status_text(SQ_PERM_VIRUS, "", 0, t, sizeof t);
	assert_string_equal(t, "Your email was rejected because it contains a virus (#5.7.1)");
	client_status_text(SQ_PERM_VIRUS, NULL, 0, t, sizeof t);
	assert_string_equal(t, "Your email was rejected because it contains a virus (#5.7.1)");
	client_status_text(SQ_TEMP_VIRUS, "X", 0, t, sizeof t);
	assert_string_equal(t, "Your email was rejected because it contains the X virus (#4.7.1)");
	client_status_text(SQ_PERM_BANNED, "invoice.pdf.exe", 0, t, sizeof t);
	assert_string_equal(t, "Your email was rejected because it contains a bad attachment: invoice.pdf.exe (#5.7.1)");
	client_status_text(SQ_PERM_SPAM, NULL, 1002.7, t, sizeof t);
	assert_string_equal(t, "Your email is considered spam (1002.70 spam-hits) (#5.7.1)");
	client_status_text(SQ_PERM_LIMIT, "MIME nesting deeper than 18", 0, t, sizeof t);
	assert_string_equal(t, "Your email was rejected because it could not be scanned: MIME nesting deeper than 18 (#5.7.1)");
	client_status_text(SQ_TEMP_SCAN_TIMEOUT, NULL, 0, t, sizeof t);
	assert_string_equal(t, "Message could not be scanned in time, try again later (#4.3.0)");
	assert_int_equal(client_status_text(SQ_OK, "x", 0, t, sizeof t), 0);
	assert_int_equal(client_status_text(SQ_TEMP_BUSY, "x", 0, t, sizeof t), 0);
	client_status_text(SQ_PERM_REMOTE, "sorry, no mailbox here by that name (#5.1.1)", 0, t, sizeof t);
	assert_string_equal(t, "sorry, no mailbox here by that name (#5.1.1)");

	/* a long name: cut in the middle, the code kept, within 254 bytes */
	memset(name, 'a', 300);
	memset(name + 300, 'z', 300);
	name[600] = 0;
	client_answer(&r, SQ_PERM_BANNED, name, 0, CUSTOM_NOTQMAIL, 2);
	assert_true(r.len <= CLIENT_TEXT_MAX + 1);
	r.text[r.len] = 0;
	assert_non_null(strstr(r.text, "aaa...zzz"));
	assert_non_null(strstr(r.text, "zzz (#5.7.1)"));
	assert_int_equal(strlen(r.text + r.len - 9), 9);
	assert_string_equal(r.text + r.len - 9, " (#5.7.1)");

	/* CR and LF in a name never reach qmail-smtpd */
	client_answer(&r, SQ_PERM_VIRUS, "Evil\r\n250 ok", 0, CUSTOM_SIMSCAN, 2);
	assert_null(memchr(r.text, '\r', r.len));
	assert_null(memchr(r.text, '\n', r.len));
}

static void test_queue(void **unused)
{
	static const struct { enum queue_status q; int code; } tab[] = {
		{ QUEUE_OK, 0 }, { QUEUE_ENOMEM, 51 }, { QUEUE_EHOME, 61 }, { QUEUE_ELAYOUT, 61 },
		{ QUEUE_EPID, 63 }, { QUEUE_EMESS, 64 }, { QUEUE_EINTD, 65 }, { QUEUE_ETODO, 66 },
		{ QUEUE_EWRITE, 53 }, { QUEUE_ESPACE, 53 }, { QUEUE_EREAD, 54 }, { QUEUE_EADDR, 11 },
		{ QUEUE_EFORMAT, 91 }, { QUEUE_ECONFIG, 55 }, { QUEUE_AGAIN, 81 }, { QUEUE_EBUSY, 81 },
	};
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		assert_int_equal(client_exit_code(tab[i].q), tab[i].code);
		assert_int_equal(client_status_exit(client_queue_status(tab[i].q)), tab[i].code);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_texts),
		cmocka_unit_test(test_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
