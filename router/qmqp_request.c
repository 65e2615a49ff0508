/*
 * qmqp_request.c - the QMQP request, read as it arrives (sluice-qmqpd).
 *
 *	qmqp_request_next() is a push parser: it takes whatever bytes came
 *	from the network and returns one event at a time (see qmqp.h), so
 *	that the message streams into the queue program and is never held
 *	whole.  The rules are qmail-qmqpd's:
 *	- the request's own length takes at most 100 bytes with its colon;
 *	  every netstring inside must fit in what the request's length says
 *	  is left (one byte past it: the final comma);
 *	- a length over 200,000,000 is refused (QMQP_EV_BIG; qmail-qmqpd
 *	  checks before its last digit, so it lets up to 2,000,000,009 by);
 *	- the message and the sender are required, recipients may be none;
 *	- an address of 1000 bytes or more, or holding a NUL, is read over
 *	  and reported with ok = 0 (the caller answers "Dsorry, I can't
 *	  accept addresses like that (#5.1.3)" once the request is complete).
 *	Where qmail-qmqpd computes nonsense (a byte other than a digit in a
 *	length) the request is malformed here, as it is in the protocol.
 *
 * DIAGNOSTICS
 *	QMQP_EV_BAD with ev.why naming the fault; the parser then stays dead.
 */
#include <string.h>

#include "qmqp.h"

enum {
	S_OUTER_LEN,	/* the request's own "<len>:" */
	S_MSG_LEN,
	S_MSG_BODY,
	S_MSG_COMMA,
	S_ADDR_START,	/* a sender or recipient netstring, or the end */
	S_ADDR_LEN,
	S_ADDR_BODY,
	S_ADDR_COMMA,
	S_FINAL_COMMA,
	S_END,
	S_DEAD,
};

void qmqp_request_init(struct qmqp_request *q)
{
	memset(q, 0, sizeof *q);
	q->state = S_OUTER_LEN;
	q->left = QMQP_HEAD_MAX;
}

static enum qmqp_event bad(struct qmqp_request *q, struct qmqp_ev *ev, const char *why)
{
	q->state = S_DEAD;
	ev->why = why;
	return QMQP_EV_BAD;
}

/* digit - one byte of a length; 1 at its colon, 0 to go on, else the event */
static int digit(struct qmqp_request *q, char c, struct qmqp_ev *ev, enum qmqp_event *e)
{
	if (c == ':')
		return 1;
	if (c < '0' || c > '9') {
		*e = bad(q, ev, "a length holds a byte that is not a digit");
		return -1;
	}
	q->num = q->num * 10 + (uint64_t)(c - '0');
	q->digits++;
	if (q->num > QMQP_LEN_MAX) {
		q->state = S_DEAD;
		ev->why = "a length over 200000000";
		*e = QMQP_EV_BIG;
		return -1;
	}
	return 0;
}

enum qmqp_event qmqp_request_next(struct qmqp_request *q, const char *buf, size_t len,
				  size_t *used, struct qmqp_ev *ev)
{
	size_t i = 0;
	enum qmqp_event e;
	int r;

	memset(ev, 0, sizeof *ev);
	for (;;) {
		/* states that need no input */
		if (q->state == S_ADDR_START) {
			if (q->left == 0) {
				if (q->naddr == 0) {
					*used = i;
					return bad(q, ev, "the request ends without a sender");
				}
				q->state = S_FINAL_COMMA;
			} else {
				q->state = S_ADDR_LEN;
				q->num = 0;
				q->digits = 0;
			}
			continue;
		}
		if (q->state == S_END || q->state == S_DEAD) {
			*used = i;
			if (q->state == S_END)
				return QMQP_EV_END;
			ev->why = "the request was refused already";
			return QMQP_EV_BAD;
		}
		if (i == len) {
			*used = i;
			return QMQP_EV_MORE;
		}
		if (q->state == S_FINAL_COMMA) {
			/* the one byte past the request's length */
			*used = i + 1;
			if (buf[i] != ',')
				return bad(q, ev, "no comma at the end of the request");
			q->state = S_END;
			return QMQP_EV_END;
		}
		if (q->left == 0) {
			*used = i;
			return bad(q, ev, q->state == S_OUTER_LEN
					  ? "the request's length is longer than 99 digits"
					  : "a netstring runs past the end of the request");
		}
		switch (q->state) {
		case S_OUTER_LEN:
			q->left--;
			if ((r = digit(q, buf[i++], ev, &e)) < 0) {
				*used = i;
				return e;
			}
			if (r) {
				q->left = q->num;
				q->num = 0;
				q->digits = 0;
				q->state = S_MSG_LEN;
			}
			break;
		case S_MSG_LEN:
			q->left--;
			if ((r = digit(q, buf[i++], ev, &e)) < 0) {
				*used = i;
				return e;
			}
			if (q->num >= q->left) {	/* the item and its comma must fit */
				*used = i;
				return bad(q, ev, "the message runs past the end of the request");
			}
			if (r) {
				q->state = S_MSG_BODY;
				*used = i;
				ev->size = q->num;
				return QMQP_EV_MESSAGE;
			}
			break;
		case S_MSG_BODY: {
			size_t n = len - i;

			if (q->num == 0) {
				q->state = S_MSG_COMMA;
				break;
			}
			if ((uint64_t)n > q->num)
				n = (size_t)q->num;
			q->num -= n;
			q->left -= n;
			ev->data = buf + i;
			ev->len = n;
			*used = i + n;
			return QMQP_EV_DATA;
		}
		case S_MSG_COMMA:
		case S_ADDR_COMMA:
			q->left--;
			if (buf[i++] != ',') {
				*used = i;
				return bad(q, ev, q->state == S_MSG_COMMA
						  ? "no comma after the message"
						  : "no comma after an address");
			}
			if (q->state == S_MSG_COMMA) {
				q->state = S_ADDR_START;
				break;
			}
			*used = i;
			ev->ok = q->addr_ok && !memchr(q->addr, 0, q->alen);
			q->addr[ev->ok ? q->alen : 0] = 0;
			ev->data = q->addr;
			ev->len = ev->ok ? q->alen : 0;
			q->state = S_ADDR_START;
			return q->naddr++ == 0 ? QMQP_EV_SENDER : QMQP_EV_RCPT;
		case S_ADDR_LEN:
			q->left--;
			if ((r = digit(q, buf[i++], ev, &e)) < 0) {
				*used = i;
				return e;
			}
			if (q->num >= q->left) {
				*used = i;
				return bad(q, ev, "an address runs past the end of the request");
			}
			if (r) {
				q->addr_ok = q->num < QMQP_ADDR_MAX;
				q->alen = 0;
				q->state = S_ADDR_BODY;
			}
			break;
		case S_ADDR_BODY: {
			size_t n = len - i;

			if (q->num == 0) {
				q->state = S_ADDR_COMMA;
				break;
			}
			if ((uint64_t)n > q->num)
				n = (size_t)q->num;
			if (q->addr_ok)
				memcpy(q->addr + q->alen, buf + i, n);
			q->alen += q->addr_ok ? n : 0;
			q->num -= n;
			q->left -= n;
			i += n;
			break;
		}
		}
	}
}
