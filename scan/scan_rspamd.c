/*
 * scan_rspamd.c - the rspamd backend: HTTP POST /checkv2, JSON reply.
 *
 * SUMMARY
 *	SLUICE_RSPAMD lists rspamd's normal workers as base URLs
 *	("http://127.0.0.1:11333,http://10.0.0.7:11333") or unix sockets
 *	("unix:/run/rspamd/normal.sock"); /checkv2 is appended to a URL that
 *	names no path.  scan_net.c picks, rests and probes them (GET /ping ->
 *	"pong").
 *
 *	HTTP is libcurl's, JSON is json-c's: both well-kept Debian libraries,
 *	so no HTTP or JSON parser of our own faces a server's bytes.  Each
 *	network thread keeps one curl easy handle (thread-specific data, freed
 *	at the thread's end): its connection cache keeps the connections to
 *	rspamd alive from one message to the next (rspamd speaks HTTP/1.1
 *	keep-alive), with no lock shared between threads.  The easy interface
 *	fits the pool: a network thread per check, blocked in curl's poll with
 *	CURLOPT_TIMEOUT_MS = what is left of the deadline, and a progress
 *	callback that aborts the transfer on a cancel.
 *
 *	Request headers: From (the envelope sender), Rcpt (one per
 *	recipient), IP (TCPREMOTEIP), Helo, Queue-Id, User (SMTPAUTHUSER);
 *	a value with a control character is left out.  The body is the mess
 *	file, read with pread() as curl asks for it.
 *
 *	The reply's action decides:
 *	  reject                         SCAN_SPAM (SLUICE_ON_SPAM decides)
 *	  soft reject                    SCAN_SPAM + SCAN_F_DEFER: 451
 *	  add header, rewrite subject    SCAN_SPAM + SCAN_F_TAG: accepted and
 *	                                 tagged with the milter block's
 *	                                 add_headers (or "X-Spam: Yes", what
 *	                                 rspamd's own proxy adds); the subject
 *	                                 is not rewritten
 *	  greylist                       clean: sluice keeps no greylisting
 *	                                 state, and rspamd without its redis
 *	                                 greylist module only means "a bit
 *	                                 suspicious" by score; deferring would
 *	                                 defer such mail for ever
 *	  no action                      clean
 *	  anything else, no action, not JSON: SCAN_ERROR (SLUICE_ON_ERROR)
 *	score and required_score go into the verdict; its name is rspamd's
 *	smtp_message, else the symbols that scored.
 *	Messages over SLUICE_SPAM_MAXSIZE are not checked (clean).
 *
 * DIAGNOSTICS
 *	SCAN_ERROR naming the server and curl's or the HTTP status' cause,
 *	once every server was tried.
 */
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan_int.h"

#define SCANNER "rspamd"
#define REPLY_MAX (1024 * 1024)
#define MAXSIZE_DEFAULT 512000

struct rspamd {
	struct scan_servers set;
	uint64_t maxsize;
	unsigned long spam, skipped, errors;	/* atomic */
};

enum { TRY_DONE, TRY_SERVER, TRY_OVER, TRY_TIMEOUT };

static pthread_key_t curl_key;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_free_handle(void *h)
{
	curl_easy_cleanup(h);
}

static void curl_setup(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK &&
		  pthread_key_create(&curl_key, curl_free_handle) == 0;
}

/* handle - this thread's easy handle (its connections stay alive), reset */
static CURL *handle(void)
{
	CURL *c = pthread_getspecific(curl_key);

	if (!c) {
		if (!(c = curl_easy_init()))
			return NULL;
		pthread_setspecific(curl_key, c);
	} else
		curl_easy_reset(c);	/* options only: live connections stay */
	return c;
}

/* ---------------------------------------------------------------- JSON */

/* add_value - one add_headers value: a string, {"value": s}, or an array */
static void add_value(struct scan_headers *h, const char *name, json_object *val)
{
	json_object *inner;
	size_t i;

	if (json_object_is_type(val, json_type_string))
		scan_headers_add(h, name, json_object_get_string(val));
	else if (json_object_is_type(val, json_type_object) &&
		 json_object_object_get_ex(val, "value", &inner) &&
		 json_object_is_type(inner, json_type_string))
		scan_headers_add(h, name, json_object_get_string(inner));
	else if (json_object_is_type(val, json_type_array))
		for (i = 0; i < json_object_array_length(val); i++)
			add_value(h, name, json_object_array_get_idx(val, i));
}

/* symbols - the names of the symbols that scored, comma-separated */
static void symbols(json_object *root, char *out, size_t cap)
{
	json_object *syms;
	size_t n = 0;

	out[0] = 0;
	if (!json_object_object_get_ex(root, "symbols", &syms) ||
	    !json_object_is_type(syms, json_type_object))
		return;
	json_object_object_foreach(syms, key, val) {
		json_object *sc;
		double score = 0;

		if (json_object_object_get_ex(val, "score", &sc))
			score = json_object_get_double(sc);
		if (score == 0 && strcmp(key, "GTUBE"))
			continue;
		if (n + strlen(key) + 2 >= cap)
			break;
		n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", key);
	}
}

int scan_rspamd_json(const char *json, size_t len, struct scan_verdict *v, struct scan_headers *h)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *root, *o, *milter;
	const char *action;
	double score = 0, required = 0;
	char name[200] = "";
	unsigned flags = 0;
	enum scan_kind kind;

	if (!tok) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "out of memory");
		return -1;
	}
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "action", &o) || !json_object_is_type(o, json_type_string)) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "rspamd: a reply with no action: \"%.80s\"",
				 json);
		json_object_put(root);
		json_tokener_free(tok);
		return -1;
	}
	action = json_object_get_string(o);
	if (json_object_object_get_ex(root, "score", &o))
		score = json_object_get_double(o);
	if (json_object_object_get_ex(root, "required_score", &o))
		required = json_object_get_double(o);
	if (!strcmp(action, "reject"))
		kind = SCAN_SPAM;
	else if (!strcmp(action, "soft reject"))
		kind = SCAN_SPAM, flags = SCAN_F_DEFER;
	else if (!strcmp(action, "add header") || !strcmp(action, "rewrite subject"))
		kind = SCAN_SPAM, flags = SCAN_F_TAG;
	else if (!strcmp(action, "greylist") || !strcmp(action, "no action"))
		kind = SCAN_CLEAN;
	else {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "rspamd: unknown action \"%.60s\"", action);
		json_object_put(root);
		json_tokener_free(tok);
		return -1;
	}
	if (json_object_object_get_ex(root, "messages", &o) &&
	    json_object_object_get_ex(o, "smtp_message", &o) && json_object_is_type(o, json_type_string))
		snprintf(name, sizeof name, "%s", json_object_get_string(o));
	else
		symbols(root, name, sizeof name);
	scan_verdict_set(v, kind, SCANNER, "%s %.2f/%.2f%s%s", action, score, required,
			 *name ? " " : "", name);
	v->score = score;
	v->required = required;
	v->flags = flags;
	if (h) {
		json_object *add;

		if (json_object_object_get_ex(root, "milter", &milter) &&
		    json_object_object_get_ex(milter, "add_headers", &add) &&
		    json_object_is_type(add, json_type_object)) {
			json_object_object_foreach(add, key, val)
				add_value(h, key, val);
		}
		if (kind == SCAN_SPAM && !h->len)
			scan_headers_add(h, "X-Spam", "Yes");
	}
	json_object_put(root);
	json_tokener_free(tok);
	return 0;
}

/* ---------------------------------------------------------------- HTTP */

struct body {
	int fd;
	off_t off, size;
};

static size_t read_body(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t want = size * nmemb;
	ssize_t r;

	if ((off_t)want > b->size - b->off)
		want = (size_t)(b->size - b->off);
	if (!want)
		return 0;
	if ((r = scan_net_pread(b->fd, buf, want, b->off)) <= 0)
		return CURL_READFUNC_ABORT;
	b->off += r;
	return (size_t)r;
}

struct reply {
	char *buf;
	size_t len;
};

static size_t write_reply(char *data, size_t size, size_t nmemb, void *arg)
{
	struct reply *r = arg;
	size_t n = size * nmemb;

	if (r->len + n > REPLY_MAX - 1)
		return 0;	/* too large: curl fails the transfer */
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	r->buf[r->len] = 0;
	return n;
}

static int progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	atomic_int *cancel = arg;

	return cancel && *cancel;	/* non-zero aborts the transfer */
}

/* header - append "Name: value" when value is a header-safe string */
static int header(struct curl_slist **list, const char *name, const char *value)
{
	char line[1200];
	const char *p;
	struct curl_slist *n;

	if (!value)
		return 0;
	for (p = value; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	if (snprintf(line, sizeof line, "%s: %s", name, value) >= (int)sizeof line)
		return 0;
	if (!(n = curl_slist_append(*list, line)))
		return -1;
	*list = n;
	return 0;
}

/* url_of - the server's /checkv2 (or /ping) URL; unix: servers via socket */
static void url_of(CURL *c, const struct scan_server *s, const char *path, char *url, size_t cap)
{
	const char *slash;

	if (!strncmp(s->name, "unix:", 5)) {
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, s->name + 5);
		snprintf(url, cap, "http://localhost%s", path);
		return;
	}
	slash = strstr(s->name, "://");
	slash = strchr(slash ? slash + 3 : s->name, '/');
	if (!slash || !slash[1])
		snprintf(url, cap, "%.*s%s", (int)(slash ? slash - s->name : (int)strlen(s->name)),
			 s->name, path);
	else
		snprintf(url, cap, "%s", s->name);	/* a path given: used as it is */
}

static void common_opts(CURL *c, const struct scan_servers *set, int64_t deadline,
			atomic_int *cancel)
{
	int64_t left = deadline ? deadline - scan_now_ms() : 0;

	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)set->connect_ms);
	if (deadline)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(left > 1 ? left : 1));
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)cancel);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
}

/* rspamd_probe - GET /ping: "pong"? */
static int rspamd_probe(void *ctx, struct scan_server *s, int64_t deadline)
{
	struct rspamd *st = ctx;
	char url[700], *buf = malloc(REPLY_MAX);
	struct reply r = { buf, 0 };
	CURL *c = handle();
	long code = 0;
	int ok;

	if (!buf || !c) {
		free(buf);
		return -1;
	}
	url_of(c, s, "/ping", url, sizeof url);
	if (strstr(url, "/checkv2"))
		snprintf(strstr(url, "/checkv2"), 6, "/ping");
	curl_easy_setopt(c, CURLOPT_URL, url);
	common_opts(c, &st->set, deadline, NULL);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_reply);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	buf[0] = 0;
	ok = curl_easy_perform(c) == CURLE_OK &&
	     curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200 &&
	     strstr(buf, "pong");
	free(buf);
	return ok ? 0 : -1;
}

static int try_one(struct rspamd *st, struct scan_server *s, const struct scan_input *in,
		   struct scan_verdict *v, char *why, size_t whylen, char *buf)
{
	CURL *c = handle();
	struct curl_slist *hl = NULL;
	struct body b = { in->fd, 0, in->size };
	struct reply r = { buf, 0 };
	char url[700], errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	long code = 0;
	unsigned i;
	int bad = 0;

	if (!c) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "cannot make a curl handle");
		return TRY_OVER;
	}
	url_of(c, s, "/checkv2", url, sizeof url);
	bad |= header(&hl, "From", in->sender);
	for (i = 0; in->rcpts && in->rcpts[i]; i++)
		bad |= header(&hl, "Rcpt", in->rcpts[i]);
	bad |= header(&hl, "IP", in->remote_ip);
	bad |= header(&hl, "Helo", in->helo);
	bad |= header(&hl, "Queue-Id", in->queue_id);
	bad |= header(&hl, "User", in->auth_user);
	bad |= header(&hl, "Expect", "");	/* no 100-continue round trip */
	if (bad) {
		curl_slist_free_all(hl);
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "out of memory");
		return TRY_OVER;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	common_opts(c, &st->set, in->deadline_ms, in->cancel);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)in->size);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
	curl_easy_setopt(c, CURLOPT_READDATA, &b);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_reply);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	buf[0] = 0;
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	/* the handle outlives this call: nothing of ours may stay set on it */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hl);
	if (rc == CURLE_ABORTED_BY_CALLBACK && in->cancel && *in->cancel) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "rspamd %s: cancelled", s->name);
		return TRY_OVER;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT && in->deadline_ms && scan_now_ms() >= in->deadline_ms - 5) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "rspamd %s: timed out", s->name);
		snprintf(why, whylen, "%s", v->name);
		return TRY_TIMEOUT;
	}
	if (rc == CURLE_READ_ERROR || rc == CURLE_ABORTED_BY_CALLBACK) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "cannot read the message");
		return TRY_OVER;
	}
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "rspamd %s: %s", s->name, *errbuf ? errbuf : curl_easy_strerror(rc));
		return TRY_SERVER;
	}
	if (code != 200) {
		snprintf(why, whylen, "rspamd %s: HTTP status %ld", s->name, code);
		return TRY_SERVER;
	}
	if (scan_rspamd_json(buf, r.len, v, in->hdr) < 0) {
		snprintf(why, whylen, "rspamd %s: %s", s->name, v->name);
		return TRY_SERVER;
	}
	return TRY_DONE;
}

static void rspamd_scan(void *state, const struct scan_input *in, struct scan_verdict *v)
{
	struct rspamd *st = state;
	unsigned long long tried = 0;
	char why[512] = "", *buf;

	__atomic_fetch_add(&st->set.scans, 1, __ATOMIC_RELAXED);
	if ((uint64_t)in->size > (in->spam_maxsize ? in->spam_maxsize : st->maxsize)) {
		scan_verdict_set(v, SCAN_CLEAN, SCANNER, "not checked: over SLUICE_SPAM_MAXSIZE");
		__atomic_fetch_add(&st->skipped, 1, __ATOMIC_RELAXED);
		return;
	}
	if (!(buf = malloc(REPLY_MAX))) {
		scan_verdict_set(v, SCAN_ERROR, SCANNER, "out of memory");
		return;
	}
	for (;;) {
		struct scan_server *s = scan_servers_pick(&st->set, &tried, in->deadline_ms, in->cancel,
							  why, sizeof why);
		int64_t t0 = scan_now_ms();
		int rc;

		if (!s) {
			scan_verdict_set(v, SCAN_ERROR, SCANNER, "%s", why);
			break;
		}
		if (in->hdr)
			in->hdr->len = 0, in->hdr->buf[0] = 0;
		rc = try_one(st, s, in, v, why, sizeof why, buf);
		scan_servers_done(&st->set, s, rc != TRY_SERVER && rc != TRY_TIMEOUT,
				  scan_now_ms() - t0, why);
		if (rc != TRY_SERVER)
			break;
	}
	free(buf);
	if (v->kind == SCAN_SPAM)
		__atomic_fetch_add(&st->spam, 1, __ATOMIC_RELAXED);
	else if (v->kind == SCAN_ERROR)
		__atomic_fetch_add(&st->errors, 1, __ATOMIC_RELAXED);
}

static int rspamd_init(void **state, const struct scan_config *cfg, char *err, size_t errlen)
{
	struct rspamd *st;
	char *copy, *tok, *save;

	*state = NULL;
	pthread_once(&curl_once, curl_setup);
	if (!curl_ok) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	if (!cfg->rspamd || !*cfg->rspamd) {
		snprintf(err, errlen, "SLUICE_RSPAMD names no server");
		return -1;
	}
	if (!(st = calloc(1, sizeof *st)) || !(copy = strdup(cfg->rspamd))) {
		free(st);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	scan_servers_init(&st->set, SCANNER, cfg);
	st->set.probe = rspamd_probe;
	st->set.ctx = st;
	st->maxsize = cfg->spam_maxsize ? cfg->spam_maxsize : MAXSIZE_DEFAULT;
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if ((strncmp(tok, "http://", 7) && strncmp(tok, "https://", 8) &&
		     strncmp(tok, "unix:/", 6)) || scan_servers_add_name(&st->set, tok) < 0) {
			snprintf(err, errlen, "SLUICE_RSPAMD: %s: want http://host:port[/path], "
				 "https://... or unix:/path (at most %d)", tok, SCAN_NET_SERVERS_MAX);
			free(copy);
			scan_servers_free(&st->set);
			free(st);
			return -1;
		}
	}
	free(copy);
	*state = st;
	return 0;
}

static size_t rspamd_stats(void *state, char *buf, size_t len)
{
	struct rspamd *st = state;
	size_t n = scan_servers_stats(&st->set, buf, len);
	int w;

	if (n + 1 >= len)
		return n;
	w = snprintf(buf + n, len - n, "rspamd_spam %lu\nrspamd_skipped %lu\nrspamd_errors %lu\n",
		     __atomic_load_n(&st->spam, __ATOMIC_RELAXED),
		     __atomic_load_n(&st->skipped, __ATOMIC_RELAXED),
		     __atomic_load_n(&st->errors, __ATOMIC_RELAXED));
	return n + (w < 0 ? 0 : (size_t)w < len - n ? (size_t)w : len - n - 1);
}

static void rspamd_fini(void *state)
{
	struct rspamd *st = state;

	if (!st)
		return;
	scan_servers_free(&st->set);
	free(st);
}

const struct scan_backend scan_backend_rspamd = {
	.name = SCANNER,
	.class = SCAN_NET,
	.init = rspamd_init,
	.scan = rspamd_scan,
	.stats = rspamd_stats,
	.fini = rspamd_fini,
};
