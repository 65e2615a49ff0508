/*
 * scan_mime.h - private to scan/: the streaming MIME walker behind the
 * attach backend, the header parameter decoding it uses, the zip lister,
 * and the attach backend's name matching (exposed for tests and fuzzing).
 *
 * SUMMARY
 *	scan_mime_walk() reads a message through its fd with pread() in fixed
 *	chunks and reports every attachment file name it finds through a
 *	callback: Content-Disposition filename= and Content-Type name=
 *	(quoted, RFC 2231, RFC 2047, in any charset folded to ASCII), names
 *	in uuencode and yEnc begin lines (also inside base64 and
 *	quoted-printable text parts), the member names of zip attachments
 *	(base64, quoted-printable, x-uuencode or uuencoded in text), gzip
 *	stored names and TNEF attachment names (scan_embed.c), and all of
 *	that again inside message/rfc822 parts, encoded or not.  Memory is
 *	bounded by struct mime_limits, never by the message size.
 *
 * DIAGNOSTICS
 *	The walker returns a status; a limit reached (depth, parts, a header
 *	field too long, a zip it cannot read) is no error: the walk goes on
 *	where it can and the result records the limit and why.  The attach
 *	backend turns a limit into SCAN_LIMIT.
 */
#ifndef SLUICE_SCAN_MIME_H
#define SLUICE_SCAN_MIME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scan.h"

/*
 * Defaults used where a limit is 0.  Nesting is counted as libclamav counts
 * it (measured with 1.4.6 and CL_ENGINE_MAX_RECURSION R): at most R + 1
 * multiparts nested inside one message, and message/rfc822 encapsulations
 * as files, one recursion level each, so at most R - 2 of them.  The walker
 * allows R + 1 multiparts and R encapsulations: never less than libclamav.
 */
#define MIME_RECURSION_DEFAULT	17	/* libclamav's MaxRecursion */
#define MIME_DEPTH_DEFAULT	(MIME_RECURSION_DEFAULT + 1)
#define MIME_MESSAGES_DEFAULT	MIME_RECURSION_DEFAULT
#define MIME_PARTS_DEFAULT	100000
#define MIME_HEADER_DEFAULT	16384	/* head and tail kept beyond it */
#define MIME_ZIP_DEFAULT	(8u << 20)
#define MIME_INNER_DEFAULT	(32u << 20)	/* an encoded message/rfc822, decoded */
#define MIME_CHUNK_DEFAULT	65536
#define MIME_CHUNK_MIN		256
#define MIME_BOUNDARY_MAX	998	/* RFC 2046 says 70; RFC 5322 lines end at 998 */
#define MIME_LINE_MAX		1024	/* of a decoded text line, for begin lines */
/*
 * A banned name in a verdict: at most this many characters, its head and
 * tail around "..." when longer, so that a reject text built around it
 * (qmail passes 254 bytes) still ends with its status code.
 */
#define MIME_NAME_SHOWN		100

enum mime_origin {
	MIME_NAME_HEADER,	/* filename= or name= parameter */
	MIME_NAME_UUENCODE,	/* "begin 644 name", "=ybegin ... name=", a BinHex header */
	MIME_NAME_ZIP,		/* zip member */
	MIME_NAME_EMBED,	/* gzip stored name, TNEF attachment name */
};

/* mime_name_fn - one name as decoded (any bytes, NUL included); non-zero stops the walk */
typedef int (*mime_name_fn)(void *ctx, const char *name, size_t len, enum mime_origin);

/*
 * mime_leaf_fn - the body of one leaf part (not a multipart, not a
 * message/rfc822), decoded, whole, when its part ends; name is the last
 * file name its header gave, made printable ("" if none); depth is the number
 * of multiparts around it.  Non-zero stops the walk.
 */
typedef int (*mime_leaf_fn)(void *ctx, const unsigned char *body, size_t len, const char *name,
			    unsigned depth);

struct mime_leaves {
	mime_leaf_fn fn;
	void *ctx;
	size_t max;		/* of one leaf held in memory; a longer one is not
				 * handed on and counts in mime_result.unwalked */
};

struct mime_limits {
	unsigned max_depth;	/* multipart nesting inside one message */
	unsigned max_messages;	/* message/rfc822 nesting */
	unsigned max_parts;	/* body parts and encapsulated messages */
	size_t max_header;	/* one unfolded Content-* field (head and tail kept) */
	size_t max_zip;		/* decoded tail of a zip attachment kept */
	size_t max_inner;	/* an encoded message/rfc822 part, decoded */
	size_t chunk;		/* pread() size, also the longest line piece */
	int64_t deadline_ms;	/* CLOCK_MONOTONIC; 0 = none */
	atomic_int *cancel;	/* checked every chunk */
	const struct mime_leaves *leaves;	/* NULL: bodies are not collected */
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
#define MIME_LIMIT_MESSAGES	0x20
#define MIME_LIMIT_CTE		0x40	/* conflicting transfer encodings */
#define MIME_LIMIT_EMBED	0x80	/* a TNEF stream or encoded message not read whole */

struct mime_result {
	unsigned limits;	/* MIME_LIMIT_* reached */
	char why[160];		/* the first limit reached, in words */
	unsigned parts;		/* parts started */
	unsigned names;		/* names reported */
	/*
	 * With leaves: content no leaf carried, so that the leaves alone do
	 * not show the whole message: files in text bodies (uuencode, yEnc,
	 * begin-base64), message/rfc822 and message/partial parts, leaves
	 * longer than leaves->max.
	 */
	unsigned unwalked;
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
/* scan_mime_utf7 - RFC 2152 UTF-7 in place, folded to ASCII ('?' for the rest); returns length */
size_t scan_mime_utf7(char *s, size_t len);

/* scan_mime_body.c - what the walker does with body lines */

struct mime_b64 {		/* streaming base64 decoder state */
	uint32_t acc;
	unsigned n;
};
/* scan_mime_b64 - decode in (any junk skipped) into out (>= len * 3 / 4 + 3); returns bytes */
size_t scan_mime_b64(struct mime_b64 *, const char *in, size_t len, unsigned char *out);
/* scan_mime_b64_end - the bytes an unpadded last quantum holds (at most 2) */
size_t scan_mime_b64_end(struct mime_b64 *, unsigned char *out);
/*
 * scan_mime_begin - a uuencode or yEnc begin line: the file name it
 * announces; returns 0 (no begin line), 1 (uuencode), 2 (begin-base64) or
 * 3 (yEnc)
 */
int scan_mime_begin(const char *line, size_t len, const char **name, size_t *nlen);
/* scan_mime_uu - one uuencoded line into out (>= len bytes); returns bytes */
size_t scan_mime_uu(const char *in, size_t len, unsigned char *out);
struct mime_qp {		/* streaming quoted-printable decoder state */
	char pend[3];		/* an '=' and what followed it, not yet decoded */
	unsigned npend;
};
/* scan_mime_qp - decode one line piece (eol: it ends the line) into out (>= len + 3) */
size_t scan_mime_qp(struct mime_qp *, const char *in, size_t len, int eol, unsigned char *out);

struct mime_hqx {		/* BinHex 4.0 six-bit decoder state */
	uint32_t acc;
	unsigned n;
	int end;		/* the closing ':' was seen */
};
#define MIME_HQX_MARK	"(This file must be converted with BinHex"
/*
 * scan_mime_hqx - decode a piece of BinHex 4.0 text (the part after the
 * opening ':') into out (>= len * 3 / 4 + 3): the run-length coded bytes,
 * not yet expanded; blanks are skipped, the closing ':' or any other
 * character outside the alphabet sets end.  Returns bytes.
 */
size_t scan_mime_hqx(struct mime_hqx *, const char *in, size_t len, unsigned char *out);

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

/* scan_embed.c - names stored inside gzip and TNEF */

/* scan_embed_gzip - the FNAME of a gzip header: 1 reported, 0 none, -1 need more bytes */
int scan_embed_gzip(const unsigned char *p, size_t n, mime_name_fn fn, void *ctx);

#define EMBED_TNEF_KEEP	(256u << 10)	/* of one naming attribute */
struct embed_tnef {		/* streaming TNEF reader state */
	unsigned char hdr[9];
	unsigned hlen;
	int started, done, want, limit;
	uint32_t id, len;
	uint64_t pos;
	unsigned char *keep;
	size_t kept;
	unsigned long attrs;
};
void scan_embed_tnef_init(struct embed_tnef *);
/* scan_embed_tnef - feed n more bytes; non-zero when fn asked to stop */
int scan_embed_tnef(struct embed_tnef *, const unsigned char *p, size_t n, mime_name_fn fn, void *ctx);
/* scan_embed_tnef_end - 0 when the stream (if TNEF) was read whole, -1 when names may be missed */
int scan_embed_tnef_end(struct embed_tnef *);
void scan_embed_tnef_free(struct embed_tnef *);

struct embed_tar {		/* streaming tar reader state */
	unsigned char hdr[512];
	size_t hlen;
	uint64_t skip, data;	/* bytes of member data left; the member's size */
	int kind, done, limit;
	unsigned char *keep;	/* a GNU long name or a pax header */
	size_t kept;
	unsigned long members;
};
void scan_embed_tar_init(struct embed_tar *);
/* scan_embed_tar - feed n more bytes; non-zero when fn asked to stop */
int scan_embed_tar(struct embed_tar *, const unsigned char *p, size_t n, mime_name_fn fn, void *ctx);
void scan_embed_tar_free(struct embed_tar *);
/* scan_embed_iso - the Rock Ridge names of the ISO 9660 image img[0..n): 0 done, 1 fn stopped, 2 not read whole */
int scan_embed_iso(const unsigned char *img, size_t n, mime_name_fn fn, void *ctx);
/* scan_embed_udf_is - does the image img[0..n) carry a UDF file system? */
int scan_embed_udf_is(const unsigned char *img, size_t n);
/* scan_embed_tar_is - do the first n bytes look like a ustar archive? */
int scan_embed_tar_is(const unsigned char *p, size_t n);

/* scan_attach.c - banned names */

struct attach_ban;
/* scan_attach_ban_parse - the list (space, tab, comma, colon, newline separated); NULL if no memory */
struct attach_ban *scan_attach_ban_parse(const char *list);
void scan_attach_ban_free(struct attach_ban *);
/* scan_attach_banned - does name (as decoded) match the list once normalised? */
int scan_attach_banned(const struct attach_ban *, const char *name, size_t len);
/* scan_attach_banned_for - the same for one message: its policy's
 * in->banned when set (-1 from it: the list decides), else the list */
int scan_attach_banned_for(const struct attach_ban *, const struct scan_input *, const char *name,
			   size_t len);

#endif
