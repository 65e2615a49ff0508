/*
 * queue_prom.c - the queue counts and sluiced's live figures in the
 * Prometheus text exposition format (version 0.0.4), for node_exporter's
 * textfile collector or any scraper.
 *
 *	queue_prom_new() / queue_prom_free() hold the families being built.
 *	queue_prom_counts() adds a queue's directory counts (or, given NULL,
 *	that it could not be counted); queue_prom_up() whether sluiced
 *	answered; queue_prom_stats() turns the stats socket's text into
 *	samples; queue_prom_write() prints each family once: "# HELP", "#
 *	TYPE", then its samples, families in the order first added.
 *
 *	The stats text is read line by line; a line is one of
 *	  - a known "key value" line (table below: name, type, help), the
 *	    verdict_<word> counters, the latency histogram (latency_hist_ms,
 *	    buckets of 2^i ms, and latency_sum_ms) and clamav's engine line;
 *	  - "key number": an untyped sample sluice_<key> (scanner counters
 *	    added later show up without a change here);
 *	  - "key_version text" or "key_engine text": an info sample
 *	    sluice_<key>_info{version="text"} 1;
 *	  - "kind name key value ...": a sample sluice_<kind>_<key>{kind="name"}
 *	    for each numeric value, the other pairs as labels of them all
 *	    (scanner pools and any kind added later); the keys of the queue
 *	    and remote (QMQP server) lines have names, types and help of
 *	    their own (tables below);
 *	  - anything else: left out, never an error.
 *	Names are made of [a-zA-Z0-9_] (other bytes become '_'); label values
 *	are escaped as the format wants.  A second sample with the same name
 *	and labels is dropped, so the output stays valid whatever sluiced says.
 *
 * DIAGNOSTICS
 *	queue_prom_write() returns -1 when the output could not be written.
 *	Out of memory while building, samples are left out (the allocation
 *	failure is not hidden behind a partial but valid-looking file: the
 *	writer then returns -1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_set.h"

struct sample {
	char *name;		/* family name plus _bucket/_sum/_count for histograms */
	char *labels;		/* "a=\"b\",c=\"d\"" or "" */
	char *value;
};

struct family {
	char *name, *type, *help;
	struct sample *v;
	size_t n;
};

struct queue_prom {
	struct family *v;
	size_t n;
	int nomem;
};

struct queue_prom *queue_prom_new(void)
{
	return calloc(1, sizeof(struct queue_prom));
}

void queue_prom_free(struct queue_prom *p)
{
	size_t i, j;

	if (!p)
		return;
	for (i = 0; i < p->n; i++) {
		for (j = 0; j < p->v[i].n; j++) {
			free(p->v[i].v[j].name);
			free(p->v[i].v[j].labels);
			free(p->v[i].v[j].value);
		}
		free(p->v[i].v);
		free(p->v[i].name);
		free(p->v[i].type);
		free(p->v[i].help);
	}
	free(p->v);
	free(p);
}

/* family - the family called name, made with type and help when new */
static struct family *family(struct queue_prom *p, const char *name, const char *type,
			     const char *help)
{
	struct family *f;
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].name, name))
			return &p->v[i];
	if (!(f = realloc(p->v, (p->n + 1) * sizeof *f))) {
		p->nomem = 1;
		return NULL;
	}
	p->v = f;
	f = &p->v[p->n];
	memset(f, 0, sizeof *f);
	f->name = strdup(name);
	f->type = strdup(type);
	f->help = strdup(help);
	if (!f->name || !f->type || !f->help) {
		free(f->name);
		free(f->type);
		free(f->help);
		p->nomem = 1;
		return NULL;
	}
	p->n++;
	return f;
}

/* add - a sample of family f; suffix "" or "_bucket" ...; a duplicate is dropped */
static void add(struct queue_prom *p, struct family *f, const char *suffix, const char *labels,
		const char *value)
{
	struct sample *s;
	char *name;
	size_t i;

	if (!f)
		return;
	if (asprintf(&name, "%s%s", f->name, suffix) < 0) {
		p->nomem = 1;
		return;
	}
	for (i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].name, name) && !strcmp(f->v[i].labels, labels)) {
			free(name);
			return;
		}
	if (!(s = realloc(f->v, (f->n + 1) * sizeof *s))) {
		free(name);
		p->nomem = 1;
		return;
	}
	f->v = s;
	s = &f->v[f->n];
	s->name = name;
	s->labels = strdup(labels);
	s->value = strdup(value);
	if (!s->labels || !s->value) {
		free(s->name);
		free(s->labels);
		free(s->value);
		p->nomem = 1;
		return;
	}
	f->n++;
}

/* label - append name="value" (escaped) to buf */
static void label(char *buf, size_t cap, const char *name, const char *value)
{
	size_t n = strlen(buf);

	n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s=\"", n ? "," : "", name);
	for (; *value && n + 3 < cap; value++) {
		if (*value == '\\' || *value == '"')
			buf[n++] = '\\', buf[n++] = *value;
		else if (*value == '\n')
			buf[n++] = '\\', buf[n++] = 'n';
		else
			buf[n++] = *value;
	}
	if (n + 2 <= cap) {
		buf[n++] = '"';
		buf[n] = 0;
	}
}

/* ident - s as a metric or label name part: [a-zA-Z0-9_], others as '_' */
static void ident(char *out, size_t cap, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < cap; i++)
		out[i] = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			 (s[i] >= '0' && s[i] <= '9') ? s[i] : '_';
	out[i] = 0;
}

/* numeric - a plain decimal number (sluiced prints nothing else) */
static int numeric(const char *s)
{
	char *end;

	if (!*s)
		return 0;
	errno = 0;
	(void)strtod(s, &end);
	return !errno && !*end && ((*s >= '0' && *s <= '9') || *s == '-' || *s == '.');
}

void queue_prom_counts(struct queue_prom *p, const char *queue, const struct queue_counts *n)
{
	char l[600] = "", v[32];

	label(l, sizeof l, "queue", queue);
	add(p, family(p, "sluice_queue_count_ok", "gauge",
		      "1 when the queue directory could be counted, else 0"), "", l, n ? "1" : "0");
	if (!n)
		return;
	snprintf(v, sizeof v, "%lu", n->mess);
	add(p, family(p, "sluice_queue_messages", "gauge",
		      "Messages in the queue (files under mess/), as qmail-qstat counts them"),
	    "", l, v);
	snprintf(v, sizeof v, "%lu", n->todo);
	add(p, family(p, "sluice_queue_todo_messages", "gauge",
		      "Messages not yet preprocessed by qmail-send (files under todo/)"), "", l, v);
	snprintf(v, sizeof v, "%lu", n->intd);
	add(p, family(p, "sluice_queue_intd_messages", "gauge",
		      "Messages being queued (files under intd/)"), "", l, v);
}

void queue_prom_up(struct queue_prom *p, int up)
{
	add(p, family(p, "sluice_up", "gauge", "1 when sluiced answered on its stats socket, else 0"),
	    "", "", up ? "1" : "0");
}

/* The "key value" lines sluice-qstat knows by name. */
static const struct known {
	const char *key, *name, *type, *help, *label;	/* label: name="key" */
} known[] = {
	{ "inflight", "sluice_inflight_messages", "gauge", "Messages accepted by sluiced and not yet answered", NULL },
	{ "bytes_inflight", "sluice_inflight_bytes", "gauge", "Bytes of the messages in flight written so far", NULL },
	{ "accepted", "sluice_answers_total", "counter", "Messages answered, by outcome", "outcome" },
	{ "rejected", "sluice_answers_total", "counter", "", "outcome" },
	{ "deferred", "sluice_answers_total", "counter", "", "outcome" },
	{ "dropped", "sluice_answers_total", "counter", "", "outcome" },
	{ "failed", "sluice_answers_total", "counter", "", "outcome" },
	{ "bytes", "sluice_received_bytes_total", "counter", "Message bytes read from qmail-smtpd", NULL },
	{ "scan_waiting", "sluice_scan_queue_messages", "gauge", "Messages waiting in the scan queue", NULL },
	{ "scan_busy", "sluice_scan_busy_workers", "gauge", "Scan workers scanning now", NULL },
	{ "batches", "sluice_commit_rounds_total", "counter", "Commit rounds that synced messages", NULL },
	{ "batch_messages", "sluice_commit_round_messages_total", "counter", "Messages synced by commit rounds", NULL },
	{ "batch_max", "sluice_commit_round_max_messages", "gauge", "The most messages synced in one commit round", NULL },
	{ "latency_p50_ms", NULL, NULL, NULL, NULL },	/* the histogram has it */
	{ "latency_p99_ms", NULL, NULL, NULL, NULL },
	{ "latency_sum_ms", NULL, NULL, NULL, NULL },	/* with latency_hist_ms */
	{ "clamav_db", "sluice_clamav_database_info", "gauge", "The signature directory of the clamav scanner", "path" },
	{ "clamav_signatures", "sluice_clamav_signatures", "gauge", "Signatures in the loaded clamav engine", NULL },
	{ "clamav_loaded", "sluice_clamav_loaded_timestamp_seconds", "gauge", "When the clamav engine was loaded (Unix time)", NULL },
	{ "clamav_reloads", "sluice_clamav_reloads_total", "counter", "Reloads of the clamav signatures", NULL },
	{ "clamav_reload_failures", "sluice_clamav_reload_failures_total", "counter", "Reloads of the clamav signatures that failed", NULL },
	{ "clamav_scans", "sluice_clamav_scans_total", "counter", "Messages scanned by libclamav", NULL },
	{ "clamav_infected", "sluice_clamav_infected_total", "counter", "Messages libclamav found infected", NULL },
	{ "clamav_errors", "sluice_clamav_errors_total", "counter", "libclamav scans that failed", NULL },
	{ "clamav_mime", "sluice_clamav_mime_info", "gauge", "How the clamav scanner reads MIME parts (SLUICE_CLAMAV_MIME)", "mode" },
	{ "clamav_walked", "sluice_clamav_walked_total", "counter", "Messages whose decoded MIME parts libclamav scanned from memory", NULL },
	{ "clamav_fallbacks", "sluice_clamav_fallbacks_total", "counter", "Messages the walker sent down libclamav's own mail parser", NULL },
	{ "remote_waiting", "sluice_remote_waiting_messages", "gauge", "Messages waiting for a connection to a remote queue (SLUICE_QMQP_CONNS)", NULL },
	{ "remote_fallbacks", "sluice_remote_fallbacks_total", "counter", "Messages no remote queue took, committed to a local queue instead", NULL },
};

/* The "queue <name> key value ..." keys sluice-qstat knows. */
static const struct known queue_keys[] = {
	{ "inflight", "sluice_queue_inflight_messages", "gauge", "sluiced's messages in flight to the queue", NULL },
	{ "backlog", "sluice_queue_backlog_messages", "gauge", "todo/ + intd/ entries of the queue at sluiced's last check", NULL },
	{ "committed", "sluice_queue_committed_total", "counter", "Messages sluiced committed to the queue", NULL },
	{ "failed", "sluice_queue_failed_total", "counter", "Messages that failed in the queue", NULL },
	{ "down", "sluice_queue_down", "gauge", "1 while the queue has a down file", NULL },
	{ "send", "sluice_queue_send_running", "gauge", "1 when a qmail-send holds the queue's lock/sendmutex (SLUICE_REQUIRE_SEND=1)", NULL },
};

/* The "remote <server> key value ..." keys (remote queues: QMQP servers). */
static const struct known remote_keys[] = {
	{ "inflight", "sluice_remote_connections", "gauge", "Connections open to the remote queue's QMQP server", NULL },
	{ "sent", "sluice_remote_sent_total", "counter", "Messages the server accepted (K)", NULL },
	{ "temp", "sluice_remote_temp_failures_total", "counter", "Messages the server refused for now (Z)", NULL },
	{ "perm", "sluice_remote_perm_failures_total", "counter", "Messages the server refused for good (D)", NULL },
	{ "failed", "sluice_remote_failures_total", "counter", "Exchanges with the server that failed: connect refused or timed out, conversation broken", NULL },
	{ "latency_ms", "sluice_remote_latency_mean_milliseconds", "gauge", "Mean time from connect to the server's answer", NULL },
	{ "last_ms", "sluice_remote_latency_last_milliseconds", "gauge", "Time from connect to the server's last answer", NULL },
	{ "down", "sluice_remote_down", "gauge", "1 after the server failed, until it answers again", NULL },
	{ "slow", "sluice_remote_slow", "gauge", "1 while the server is avoided as slow (SLUICE_QMQP_SLOW)", NULL },
};

static const struct known *lookup(const struct known *t, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(t[i].key, key))
			return &t[i];
	return NULL;
}

/* seconds - ms as a decimal number of seconds, exactly */
static void seconds(char *buf, size_t cap, unsigned long long ms)
{
	snprintf(buf, cap, "%llu.%03llu", ms / 1000, ms % 1000);
}

/* histogram - latency_hist_ms's counts as cumulative buckets in seconds */
static void histogram(struct queue_prom *p, char *counts, const char *sum_ms)
{
	struct family *f = family(p, "sluice_answer_latency_seconds", "histogram",
				  "Time from a client's connection to sluiced's answer");
	unsigned long long total = 0;
	char *save, *w, l[64], v[32];
	unsigned i = 0;
	char *words[64];
	unsigned n = 0;

	for (w = strtok_r(counts, " ", &save); w && n < 64; w = strtok_r(NULL, " ", &save)) {
		if (!numeric(w))
			return;	/* not a histogram we know */
		words[n++] = w;
	}
	if (!n)
		return;
	for (i = 0; i < n; i++) {
		total += strtoull(words[i], NULL, 10);
		l[0] = 0;
		if (i + 1 < n) {
			char le[32];

			/* bucket i: answered in less than 2^i ms; exact in seconds */
			seconds(le, sizeof le, 1ULL << i);
			label(l, sizeof l, "le", le);
		} else
			label(l, sizeof l, "le", "+Inf");
		snprintf(v, sizeof v, "%llu", total);
		add(p, f, "_bucket", l, v);
	}
	if (sum_ms) {
		seconds(v, sizeof v, strtoull(sum_ms, NULL, 10));
		add(p, f, "_sum", "", v);
	}
	snprintf(v, sizeof v, "%llu", total);
	add(p, f, "_count", "", v);
}

/* line_kind - "kind name key value ...": one sample per numeric value */
static void line_kind(struct queue_prom *p, char **w, unsigned n)
{
	char kind[64], key[64], lname[64], name[160], help[200], labels[1024] = "";
	/* the kinds whose keys have names, types and help of their own */
	const struct known *keys = !strcmp(w[0], "queue") ? queue_keys
				 : !strcmp(w[0], "remote") ? remote_keys : NULL;
	const size_t nkeys = keys == queue_keys ? sizeof queue_keys / sizeof queue_keys[0]
			   : sizeof remote_keys / sizeof remote_keys[0];
	unsigned i;

	ident(kind, sizeof kind, w[0], strlen(w[0]));
	label(labels, sizeof labels, kind, w[1]);
	for (i = 2; i + 1 < n; i += 2)
		if (!numeric(w[i + 1])) {
			ident(lname, sizeof lname, w[i], strlen(w[i]));
			if (strcmp(lname, kind) && strcmp(lname, "le"))
				label(labels, sizeof labels, lname, w[i + 1]);
		}
	for (i = 2; i + 1 < n; i += 2) {
		const struct known *k = keys ? lookup(keys, nkeys, w[i]) : NULL;

		if (!numeric(w[i + 1]))
			continue;
		if (k) {
			add(p, family(p, k->name, k->type, k->help), "", labels, w[i + 1]);
			continue;
		}
		ident(key, sizeof key, w[i], strlen(w[i]));
		snprintf(name, sizeof name, "sluice_%s_%s", kind, key);
		snprintf(help, sizeof help, "sluiced's \"%s <name> %s\" figure", kind, key);
		add(p, family(p, name, "untyped", help), "", labels, w[i + 1]);
	}
}

void queue_prom_stats(struct queue_prom *p, const char *text)
{
	char *copy = strdup(text ? text : ""), *line, *save, *hist = NULL, sumbuf[32];
	const char *sum = NULL;

	if (!copy) {
		p->nomem = 1;
		return;
	}
	/* the histogram's sum may come on a later line: find it first */
	for (line = copy; (line = strstr(line, "latency_sum_ms ")); line++)
		if (line == copy || line[-1] == '\n') {
			size_t l = strcspn(line + 15, "\n");

			snprintf(sumbuf, sizeof sumbuf, "%.*s", (int)(l < 31 ? l : 31), line + 15);
			sum = numeric(sumbuf) ? sumbuf : NULL;
			break;
		}
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *w[64], *ws, *t, name[160], help[200], l[1024];
		const struct known *k;
		unsigned n = 0;
		size_t klen;

		if (!strncmp(line, "latency_hist_ms ", 16)) {
			hist = line + 16;
			continue;
		}
		/* "key text" lines: the first word, then the rest of the line */
		klen = strcspn(line, " ");
		if (!line[klen] || !klen)
			continue;
		if (!strncmp(line, "clamav_engine ", 14)) {
			l[0] = 0;
			label(l, sizeof l, "version", line + 14);
			add(p, family(p, "sluice_clamav_engine_info", "gauge",
				      "The libclamav version of the clamav scanner"), "", l, "1");
			continue;
		}
		if (!strncmp(line, "verdict_", 8) && numeric(line + klen + 1)) {
			l[0] = 0;
			line[klen] = 0;
			label(l, sizeof l, "verdict", line + 8);
			add(p, family(p, "sluice_verdicts_total", "counter",
				      "Messages answered, by the verdict word of the log line"),
			    "", l, line + klen + 1);
			continue;
		}
		line[klen] = 0;
		if ((k = lookup(known, sizeof known / sizeof known[0], line))) {
			const char *value = line + klen + 1;

			if (!k->name)
				continue;
			l[0] = 0;
			if (k->label && !strcmp(k->label, "outcome"))
				label(l, sizeof l, "outcome", k->key);
			else if (k->label) {
				label(l, sizeof l, k->label, value);
				value = "1";
			}
			if (numeric(value))
				add(p, family(p, k->name, k->type, *k->help ? k->help :
					      "Messages answered, by outcome"), "", l, value);
			continue;
		}
		if (numeric(line + klen + 1)) {
			ident(name + 7, sizeof name - 7, line, klen);
			memcpy(name, "sluice_", 7);
			snprintf(help, sizeof help, "sluiced's \"%s\" figure", line);
			add(p, family(p, name, "untyped", help), "", "", line + klen + 1);
			continue;
		}
		if (klen > 8 && (!strcmp(line + klen - 8, "_version") ||
				 !strcmp(line + klen - 7, "_engine"))) {
			snprintf(name, sizeof name, "sluice_%s_info", line);
			ident(name, sizeof name, name, strlen(name));
			snprintf(help, sizeof help, "sluiced's \"%s\"", line);
			l[0] = 0;
			label(l, sizeof l, "version", line + klen + 1);
			add(p, family(p, name, "gauge", help), "", l, "1");
			continue;
		}
		/* "kind name key value ...": an even number of words, 4 or more */
		line[klen] = ' ';
		for (t = strtok_r(line, " ", &ws); t && n < 64; t = strtok_r(NULL, " ", &ws))
			w[n++] = t;
		if (n >= 4 && n % 2 == 0)
			line_kind(p, w, n);
	}
	if (hist)
		histogram(p, hist, sum);
	free(copy);
}

/* help_escape - HELP text: backslash and newline escaped */
static void help_escape(FILE *f, const char *s)
{
	for (; *s; s++)
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			putc(*s, f);
}

int queue_prom_write(struct queue_prom *p, FILE *f)
{
	size_t i, j;

	for (i = 0; i < p->n; i++) {
		const struct family *fa = &p->v[i];

		if (!fa->n)
			continue;
		fprintf(f, "# HELP %s ", fa->name);
		help_escape(f, fa->help);
		fprintf(f, "\n# TYPE %s %s\n", fa->name, fa->type);
		for (j = 0; j < fa->n; j++)
			fprintf(f, "%s%s%s%s %s\n", fa->v[j].name, *fa->v[j].labels ? "{" : "",
				fa->v[j].labels, *fa->v[j].labels ? "}" : "", fa->v[j].value);
	}
	return p->nomem || ferror(f) ? -1 : 0;
}
