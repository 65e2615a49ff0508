/*
 * fuzz_qmqp.c - libFuzzer target for the QMQP request parser
 * (router/qmqp_request.c) and the client's reply decoder
 * (router/qmqp_reply.c).
 *
 *	The first byte of the input is the size of the pieces the rest is fed
 *	in (1..256), as the network may cut it anywhere.  Checked on every
 *	input: no event takes more bytes than it was given; events come in
 *	protocol order, one MESSAGE at most, DATA only between MESSAGE and
 *	SENDER; the DATA bytes add up to the announced size once the sender
 *	arrives; an address reported ok is under 1000 bytes, NUL-free and
 *	NUL-terminated; after END, BAD or BIG nothing more is taken.  The
 *	reply decoder, given the same bytes, never reads past them and
 *	decides the same way on every longer prefix once it has decided.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/qmqp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void replies(const char *buf, size_t len)
{
	struct qmqp_result r, r2;
	size_t i;
	int d = 0, first = 0;

	for (i = 0; i <= len; i++) {
		memset(&r, 0, sizeof r);
		d = qmqp_reply_decode(buf, i, &r);
		if (d != 0 && !first) {
			first = d;
			r2 = r;
		} else if (first && d != first)
			abort();	/* once decided, a longer input says the same */
		else if (first == 1 && (r.status != r2.status || strcmp(r.text, r2.text)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmqp_request q;
	struct qmqp_ev ev;
	const char *p;
	size_t step, off = 0, end = 0, len;
	uint64_t announced = 0, got = 0;
	int stage = 0;	/* 0 head, 1 message, 2 addresses, 3 done */

	if (size < 1)
		return 0;
	step = (size_t)data[0] + 1;
	p = (const char *)data + 1;
	len = size - 1;
	replies(p, len);
	qmqp_request_init(&q);
	for (;;) {
		size_t used;
		enum qmqp_event e;

		if (off == end) {
			if (end == len)
				break;
			end = off + step < len ? off + step : len;
		}
		e = qmqp_request_next(&q, p + off, end - off, &used, &ev);
		if (used > end - off)
			abort();
		off += used;
		switch (e) {
		case QMQP_EV_MORE:
			if (off != end || stage == 3)
				abort();
			break;
		case QMQP_EV_MESSAGE:
			if (stage != 0 || ev.size > QMQP_LEN_MAX)
				abort();
			announced = ev.size;
			stage = 1;
			break;
		case QMQP_EV_DATA:
			if (stage != 1 || ev.len == 0 || ev.data < p + off - used ||
			    ev.data + ev.len > p + off)
				abort();
			got += ev.len;
			if (got > announced)
				abort();
			break;
		case QMQP_EV_SENDER:
		case QMQP_EV_RCPT:
			if ((e == QMQP_EV_SENDER) != (stage == 1) || stage == 0 || stage == 3)
				abort();
			if (e == QMQP_EV_SENDER && got != announced)
				abort();
			if (ev.ok && (ev.len >= QMQP_ADDR_MAX || strlen(ev.data) != ev.len))
				abort();
			if (!ev.ok && ev.len != 0)
				abort();
			stage = 2;
			break;
		case QMQP_EV_END:
			if (stage != 2)
				abort();
			/* nothing more is taken */
			if (qmqp_request_next(&q, p + off, end - off, &used, &ev) != QMQP_EV_END ||
			    used != 0)
				abort();
			return 0;
		case QMQP_EV_BAD:
		case QMQP_EV_BIG:
			if (!ev.why)
				abort();
			if (qmqp_request_next(&q, p + off, end - off, &used, &ev) != QMQP_EV_BAD ||
			    used != 0)
				abort();
			return 0;
		}
	}
	return 0;
}
