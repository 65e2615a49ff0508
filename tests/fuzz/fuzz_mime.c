/*
 * fuzz_mime.c - libFuzzer target for the attach backend's MIME walker
 * (scan/scan_mime*.c, scan/scan_zip.c, scan/scan_embed.c) and its name
 * matching.
 *
 *	The first byte picks the chunk size and small limits, so that line
 *	pieces, header truncation (head and tail kept), the multipart and
 *	message nesting limits, the zip tail and the decoded inner message
 *	all get their edges exercised; the rest is the message.  Every name reported
 *	is copied to a buffer of exactly its size (ASan checks the walker
 *	handed out valid memory), bounded by what the limits allow, matched
 *	against the default banned list and made printable.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/scan_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* scan_attach.c's one outside need, so the target stays free of libclamav */
void scan_verdict_set(struct scan_verdict *v, enum scan_kind kind, const char *scanner,
		      const char *fmt, ...)
{
	va_list ap;

	v->kind = kind;
	v->scanner = scanner;
	v->name[0] = 0;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(v->name, sizeof v->name, fmt, ap);
		va_end(ap);
	}
}

struct ctx {
	const struct mime_limits *lim;
	struct attach_ban *ban;
	size_t size;
	unsigned names;
};

static int on_name(void *arg, const char *name, size_t len, enum mime_origin o)
{
	struct ctx *c = arg;
	char *copy = malloc(len ? len : 1), out[256];
	size_t max = o == MIME_NAME_HEADER ? c->lim->max_header
		   : o == MIME_NAME_UUENCODE ? (c->lim->chunk > MIME_LINE_MAX ? c->lim->chunk : MIME_LINE_MAX)
		   : o == MIME_NAME_EMBED ? EMBED_TNEF_KEEP : 65535;

	if (!copy)
		abort();
	memcpy(copy, name, len);
	if (len > max || len > c->size)
		abort();	/* a name larger than any limit allows */
	if (o != MIME_NAME_HEADER && o != MIME_NAME_UUENCODE && o != MIME_NAME_ZIP && o != MIME_NAME_EMBED)
		abort();
	scan_attach_banned(c->ban, copy, len);
	if (scan_mime_printable(out, sizeof out, copy, len) >= sizeof out)
		abort();
	free(copy);
	return ++c->names > 100000;	/* the walker stops when told */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[4] = { MIME_CHUNK_MIN, 1000, 4096, MIME_CHUNK_DEFAULT };
	static struct attach_ban *ban;
	struct mime_limits lim = { 0 };
	struct mime_result res;
	struct ctx c;
	unsigned sel;
	enum mime_status st;

	if (!ban && !(ban = scan_attach_ban_parse(SCAN_BANNED_DEFAULT)))
		abort();
	if (!size)
		return 0;
	sel = data[0];
	data++;
	size--;
	lim.chunk = chunks[sel & 3];
	lim.max_depth = sel & 4 ? 3 : MIME_DEPTH_DEFAULT;
	lim.max_messages = sel & 4 ? 2 : MIME_MESSAGES_DEFAULT;
	lim.max_inner = sel & 64 ? 100 : 1u << 20;
	lim.max_parts = sel & 8 ? 5 : MIME_PARTS_DEFAULT;
	lim.max_header = sel & 16 ? 300 : MIME_HEADER_DEFAULT;
	lim.max_zip = sel & 32 ? 200 : 1u << 20;
	c = (struct ctx){ &lim, ban, size, 0 };
	st = scan_mime_walk_mem(data, size, &lim, on_name, &c, &res);
	if (st != MIME_OK && st != MIME_STOPPED)
		abort();	/* no deadline, no cancel, memory is ample */
	/* an encoded message is walked on its own: one more part each, at most */
	if (res.names != c.names || res.parts > lim.max_parts + 1 + lim.max_messages ||
	    strlen(res.why) >= sizeof res.why)
		abort();
	if (!res.limits != !*res.why)
		abort();
	return 0;
}
