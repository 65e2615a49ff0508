/*
 * scan_mime.h - private to scan/: the streaming MIME walker behind the
 * attach backend, the header parameter decoding it uses, the zip lister,
 * and the attach backend's name matching (exposed for tests and fuzzing).
 *
 * SUMMARY
 *	scan_mime_walk() reads a message through its fd with pread() in fixed
 *	chunks and reports every attachment file name it finds through a
 *	callback: Content-Disposition filename= and Content-Type name=
 *	(quoted, RFC 2231, RFC 2047), names in uuencode and yEnc begin lines,
 *	and the member names of zip attachments.  Memory is bounded by
 *	struct mime_limits, never by the message size.
 *
 * DIAGNOSTICS
 *	The walker returns a status; a limit reached (depth, parts, a header
 *	field too long, a zip it cannot read) is no error: the walk goes on
 *	where it can and the result records the limit and why.
 */
#ifndef SLUICE_SCAN_MIME_H
#define SLUICE_SCAN_MIME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scan.h"

/* Defaults used where a limit is 0. */
#define MIME_DEPTH_DEFAULT	16
#define MIME_PARTS_DEFAULT	10000
#define MIME_HEADER_DEFAULT	8192
#define MIME_ZIP_DEFAULT	(8u << 20)
#define MIME_CHUNK_DEFAULT	65536
#define MIME_CHUNK_MIN		256
#define MIME_BOUNDARY_MAX	200	/* RFC 2046 says 70 */

enum mime_origin {
	MIME_NAME_HEADER,	/* filename= or name= parameter */
	MIME_NAME_UUENCODE,	/* "begin 644 name" or "=ybegin ... name=" */
	MIME_NAME_ZIP,		/* zip member */
};

/* mime_name_fn - one name as decoded (any bytes, NUL included); non-zero stops the walk */
typedef int (*mime_name_fn)(void *ctx, const char *name, size_t len, enum mime_origin);

struct mime_limits {
	unsigned max_depth;	/* multipart and message/rfc822 nesting */
	unsigned max_parts;	/* body parts and encapsulated messages */
	size_t max_header;	/* one unfolded Content-* field */
	size_t max_zip;		/* decoded tail of a zip attachment kept */
	size_t chunk;		/* pread() size, also the longest line piece */
	int64_t deadline_ms;	/* CLOCK_MONOTONIC; 0 = none */
	volatile int *cancel;	/* checked every chunk */
};

enum mime_status {
	MIME_OK,		/* walked to the end (limits may have been reached) */
	MIME_STOPPED,		/* the callback asked to stop */
	MIME_EIO,		/* read error; result.err holds errno */
	MIME_ENOMEM,
	MIME_DEADLINE,
	MIME_CANCELLED,
};

#define MIME_LIMIT_DEPTH	0x01
#define MIME_LIMIT_PARTS	0x02
#define MIME_LIMIT_HEADER	0x04
#define MIME_LIMIT_ZIP		0x08
#define MIME_LIMIT_BOUNDARY	0x10

struct mime_result {
	unsigned limits;	/* MIME_LIMIT_* reached */
	char why[160];		/* the first limit reached, in words */
	unsigned parts;		/* parts started */
	unsigned names;		/* names reported */
	int err;		/* errno with MIME_EIO */
};

/* scan_mime_walk - walk the first size bytes of fd; res may be NULL */
enum mime_status scan_mime_walk(int fd, off_t size, const struct mime_limits *,
				mime_name_fn, void *ctx, struct mime_result *res);
/* scan_mime_walk_mem - the same over a buffer (tests, fuzzing) */
enum mime_status scan_mime_walk_mem(const void *buf, size_t len, const struct mime_limits *,
				    mime_name_fn, void *ctx, struct mime_result *res);
/* scan_mime_printable - in as printable ASCII ('?' for the rest), head...tail if long */
size_t scan_mime_printable(char *out, size_t outlen, const char *in, size_t len);

/* scan_mime_param.c - Content-* field values */

/* scan_mime_ctype - type and subtype, lowercased; both "" when missing */
void scan_mime_ctype(const char *val, size_t len, char *type, size_t tlen,
		     char *sub, size_t slen);
/* scan_mime_token - the leading token (e.g. a transfer encoding), lowercased */
void scan_mime_token(const char *val, size_t len, char *out, size_t outlen);
typedef int (*mime_value_fn)(void *ctx, const char *val, size_t len);
/*
 * scan_mime_param - call fn with every value of parameter attr: each plain
 * attr=value (unquoted; also the raw quoted text when it held a backslash)
 * and the RFC 2231 value assembled from attr*=, attr*N=, attr*N*=.  With
 * decode, RFC 2047 encoded words in values are decoded too.  scratch must
 * hold 2 * len + 2 bytes.  Returns non-zero when fn did.
 */
int scan_mime_param(const char *val, size_t len, const char *attr, int decode,
		    char *scratch, mime_value_fn fn, void *ctx);
/* scan_mime_2047 - decode encoded words of in into out (>= len bytes); returns length */
size_t scan_mime_2047(const char *in, size_t len, char *out);

/* scan_mime_body.c - what the walker does with body lines */

struct mime_b64 {		/* streaming base64 decoder state */
	uint32_t acc;
	unsigned n;
};
/* scan_mime_b64 - decode in (any junk skipped) into out (>= len * 3 / 4 + 3); returns bytes */
size_t scan_mime_b64(struct mime_b64 *, const char *in, size_t len, unsigned char *out);
/* scan_mime_begin - a uuencode or yEnc begin line: the file name it announces */
int scan_mime_begin(const char *line, size_t len, const char **name, size_t *nlen);

struct mime_tail {		/* the last cap bytes of a stream */
	unsigned char *buf;
	size_t cap, max, len, head;	/* head: oldest byte once full */
	uint64_t total;
};
/* scan_mime_tail_add - append; -1 when out of memory */
int scan_mime_tail_add(struct mime_tail *, const unsigned char *p, size_t n);
/* scan_mime_tail_flat - put the kept bytes in order at buf; returns len */
size_t scan_mime_tail_flat(struct mime_tail *);
void scan_mime_tail_free(struct mime_tail *);

/* scan_zip.c - member names of a zip archive */

enum zip_status {
	ZIP_OK,
	ZIP_STOPPED,		/* the callback asked to stop */
	ZIP_NO_CDIR,		/* no central directory found (local headers still listed) */
	ZIP_CDIR_OUTSIDE,	/* it begins before the bytes kept */
	ZIP_CORRUPT,		/* central directory unreadable (local headers still listed) */
};

/*
 * scan_zip_names - list the names of the zip whose last len bytes are buf,
 * total bytes long (total >= len): central directory entries, their Info-ZIP
 * Unicode path fields, and every local file header found in buf.
 */
enum zip_status scan_zip_names(const unsigned char *buf, size_t len, uint64_t total,
			       mime_name_fn, void *ctx);
const char *scan_zip_strerror(enum zip_status);

/* scan_attach.c - banned names */

struct attach_ban;
/* scan_attach_ban_parse - the list (space, tab, comma, colon, newline separated); NULL if no memory */
struct attach_ban *scan_attach_ban_parse(const char *list);
void scan_attach_ban_free(struct attach_ban *);
/* scan_attach_banned - does name (as decoded) match the list once normalised? */
int scan_attach_banned(const struct attach_ban *, const char *name, size_t len);

#endif
