/*
 * The ooda.yaml loader: walks the YAML document against the key table,
 * converting each scalar to its typed field and keeping stage sections as
 * nodes. Every error names the file, line, column and key path, so a bad
 * edit is found at once; a failed load leaves the caller's config unchanged.
 */
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

#define F(field) offsetof(struct config, field)

const struct config_key config_keys[] = {
	{ "server.listen", CFG_STRING, "127.0.0.1:4318", F(listen), 0, 0,
	  "Address and port to serve HTTP on. Binding a non-loopback address requires at least one API token." },
	{ "server.data_dir", CFG_STRING, "./ooda-data", F(data_dir), 0, 0,
	  "Directory holding the control-plane and telemetry databases, the audit signing key and backups." },
	{ "server.threads", CFG_INT, "8", F(threads), 1, 256,
	  "HTTP event-loop threads, and as many ingest workers (ingest requests wait for the disk there, not on an event loop)." },
	{ "server.max_connections", CFG_INT, "1024", F(max_connections), 1, 100000,
	  "Open connections accepted at once; further connections are refused." },
	{ "server.request_timeout", CFG_DURATION, "30s", F(request_timeout_ns), OODA_NS_PER_SEC, 3600 * OODA_NS_PER_SEC,
	  "Idle time after which a connection is closed." },
	{ "server.header_timeout", CFG_DURATION, "10s", F(header_timeout_ns), OODA_NS_PER_SEC, 3600 * OODA_NS_PER_SEC,
	  "The whole request head (request line and headers) must arrive within this; a connection still sending it is closed, however steadily it dribbles." },
	{ "server.min_body_rate", CFG_SIZE, "1KiB", F(min_body_rate), 0, INT64_C(1) << 30,
	  "Bytes per second a request body must average once server.header_timeout has passed; a slower upload is closed (0 = no bound)." },
	{ "server.max_connections_per_ip", CFG_INT, "0", F(max_connections_per_ip), 0, 100000,
	  "Open connections accepted from one client address (0 = no bound; leave 0 behind a proxy or load balancer)." },
	{ "limits.header_bytes", CFG_SIZE, "32KiB", F(header_limit), 4096, 1 << 20,
	  "Memory per connection for the request line and headers; larger headers get 431." },
	{ "limits.url_bytes", CFG_SIZE, "8KiB", F(url_limit), 1024, 64 * 1024,
	  "Longest URL (path and query) accepted; longer gets 414." },
	{ "limits.body_bytes_in_flight", CFG_SIZE, "256MiB", F(body_budget), 0, INT64_C(1) << 36,
	  "Bytes of request bodies held in memory at once across all connections (reserved from Content-Length when the head arrives, counted as chunked bodies grow, decompressed size included); beyond it requests get 503 with Retry-After (0 = no bound)." },
	{ "limits.api_body", CFG_SIZE, "1MiB", F(api_body_limit), 1024, INT64_C(1) << 30,
	  "Largest request body accepted on /api/v1 routes other than ingest; larger bodies get 413." },
	{ "limits.ingest_body", CFG_SIZE, "64MiB", F(ingest_body_limit), 1024, INT64_C(1) << 32,
	  "Largest (decompressed) body accepted on ingest routes; larger bodies get 413." },
	{ "log.level", CFG_STRING, "info", F(log_level), 0, 0,
	  "Level of ooda's own logs on stderr: debug, info, warn or error." },
	{ "audit.checkpoint_every", CFG_INT, "1000", F(audit_checkpoint_every), 0, 1000000,
	  "Write an Ed25519-signed checkpoint of the audit chain every N records (0 = only by time and on request). The key is created in the data dir." },
	{ "audit.checkpoint_interval", CFG_DURATION, "5m", F(audit_checkpoint_interval_ns), OODA_NS_PER_SEC, 86400 * OODA_NS_PER_SEC,
	  "Sign the audit chain head once the oldest unsigned record is this old, so a write is never long without a checkpoint (see operations.md)." },
	{ "retention.max_age", CFG_DURATION, "7d", F(retention_max_age_ns), 60 * OODA_NS_PER_SEC, INT64_C(9000000000000000000),
	  "Telemetry older than this is dropped, whole blocks at a time." },
	{ "retention.max_bytes", CFG_SIZE, "10GiB", F(retention_max_bytes), 1 << 20, INT64_MAX,
	  "Telemetry store size above which the oldest blocks are dropped." },
	{ "ingest.queue_bytes", CFG_SIZE, "256MiB", F(ingest_queue_bytes), 1 << 20, INT64_C(1) << 34,
	  "Bound of each ingest queue: request bodies waiting for an ingest worker, and decoded telemetry waiting for the writer; when full, ingest answers 429 with Retry-After." },
	{ "services", CFG_SECTION, NULL, 0, 0, 0, "Services, their owners, dependencies and probes (HTTP, TCP, DNS, exec with hysteresis; see docs/probes.md)." },
	{ "heartbeats", CFG_SECTION, NULL, 0, 0, 0, "Dead-man's switches for background jobs: {name, every, grace, service?} (see docs/probes.md)." },
	{ "slos", CFG_SECTION, NULL, 0, 0, 0, "Service level objectives and their burn-rate alerts (docs/slo.md): name, service, objective, window, budgeting, sli, alerts, min_events." },
	{ "alerts", CFG_SECTION, NULL, 0, 0, 0, "Alert rules, grouping, inhibition." },
	{ "anomalies", CFG_SECTION, NULL, 0, 0, 0, "Extra series watched by the anomaly detector: {name, expr (PromQL), interval, direction, threshold, severity} (see src/detect/watch.h, docs/alerts.md)." },
	{ "policies", CFG_SECTION, NULL, 0, 0, 0, "Remediation policies." },
	{ "approvals", CFG_SECTION, NULL, 0, 0, 0, "Four-eyes approval rules per action class." },
	{ "flags", CFG_SECTION, NULL, 0, 0, 0, "Feature flag environments and sources." },
	{ "deploy", CFG_SECTION, NULL, 0, 0, 0, "Deployment hooks and canary settings." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const type_names[] = { "string", "integer", "boolean", "duration", "size", "section" };

int config_parse_size(const char *s, int64_t *out)
{
	static const struct {
		const char *suffix;
		int64_t mult;
	} units[] = {
		{ "", 1 }, { "b", 1 }, { "k", 1000 }, { "kb", 1000 }, { "kib", 1024 },
		{ "m", 1000000 }, { "mb", 1000000 }, { "mib", 1 << 20 },
		{ "g", 1000000000 }, { "gb", 1000000000 }, { "gib", 1 << 30 },
		{ "t", INT64_C(1000000000000) }, { "tb", INT64_C(1000000000000) }, { "tib", INT64_C(1) << 40 },
	};
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return OODA_EINVAL;
	while (*end == ' ')
		end++;
	char suf[8];
	size_t n = strlen(end);
	if (n >= sizeof(suf))
		return OODA_EINVAL;
	for (size_t i = 0; i < n; i++)
		suf[i] = (char)tolower((unsigned char)end[i]);
	suf[n] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(suf, units[i].suffix)) {
			double r = v * (double)units[i].mult;
			if (r > 9.2e18)
				return OODA_EINVAL;
			*out = (int64_t)r;
			return 0;
		}
	}
	return OODA_EINVAL;
}

static int set_value(struct config *c, const struct config_key *k, const char *v, struct buf *err)
{
	char *field = (char *)c + k->offset;
	int64_t n = 0;
	switch (k->type) {
	case CFG_STRING: {
		char **sp = (char **)field;
		free(*sp);
		*sp = strdup(v);
		return 0;
	}
	case CFG_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
			n = 1;
		else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
			n = 0;
		else
			goto bad;
		*(int64_t *)field = n;
		return 0;
	case CFG_INT: {
		char *end;
		errno = 0;
		long long ll = strtoll(v, &end, 10);
		if (end == v || *end || errno)
			goto bad;
		n = ll;
		break;
	}
	case CFG_DURATION:
		if (ooda_duration_parse(v, strlen(v), &n))
			goto bad;
		break;
	case CFG_SIZE:
		if (config_parse_size(v, &n))
			goto bad;
		break;
	case CFG_SECTION:
		return 0;
	}
	if (n < k->min || n > k->max) {
		buf_addf(err, "%s: %s is out of range [%lld, %lld]", k->path, v, (long long)k->min,
			 (long long)k->max);
		return OODA_EINVAL;
	}
	*(int64_t *)field = n;
	return 0;
bad:
	buf_addf(err, "%s: expected a %s, got \"%s\"", k->path, type_names[k->type], v);
	if (k->type == CFG_DURATION)
		buf_adds(err, " (e.g. 30s, 5m, 1h30m)");
	else if (k->type == CFG_SIZE)
		buf_adds(err, " (e.g. 512KiB, 64MiB)");
	return OODA_EINVAL;
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	struct buf err = BUF_INIT;
	for (const struct config_key *k = config_keys; k->path; k++)
		if (k->type != CFG_SECTION)
			set_value(c, k, k->def, &err);
	buf_release(&err);
}

void config_release(struct config *c)
{
	for (const struct config_key *k = config_keys; k->path; k++) {
		if (k->type == CFG_STRING) {
			char **sp = (char **)((char *)c + k->offset);
			free(*sp);
			*sp = NULL;
		}
	}
	free(c->path);
	if (c->doc)
		fy_document_destroy(c->doc);
	free(c->text);
	memset(c, 0, sizeof(*c));
}

/*
 * libfyaml exposes positions through tokens; a collection's position is
 * taken from its first scalar, which is where a reader's eye lands anyway.
 */
static const struct fy_mark *node_start(struct fy_node *n, int depth)
{
	if (!n || depth > 16)
		return NULL;
	if (fy_node_is_scalar(n)) {
		struct fy_token *t = fy_node_get_scalar_token(n);
		return t ? fy_token_start_mark(t) : NULL;
	}
	if (fy_node_is_mapping(n)) {
		void *it = NULL;
		struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
		return p ? node_start(fy_node_pair_key(p), depth + 1) : NULL;
	}
	void *it = NULL;
	return node_start(fy_node_sequence_iterate(n, &it), depth + 1);
}

static void mark(const char *name, struct fy_node *n, struct buf *err)
{
	const struct fy_mark *m = node_start(n, 0);
	if (m)
		buf_addf(err, "%s:%d:%d: ", name, m->line + 1, m->column + 1);
	else
		buf_addf(err, "%s: ", name);
}

void config_node_mark(const struct config *c, struct fy_node *node, struct buf *err)
{
	const struct fy_mark *m = node_start(node, 0);
	if (m)
		buf_addf(err, "%s:%d:%d", c->path ? c->path : "ooda.yaml", m->line + 1, m->column + 1);
	else
		buf_adds(err, c->path ? c->path : "ooda.yaml");
}

static const struct config_key *find_key(const char *path)
{
	for (const struct config_key *k = config_keys; k->path; k++)
		if (!strcmp(k->path, path))
			return k;
	return NULL;
}

/* Is path a proper prefix ("server") of some table key ("server.listen")? */
static bool is_group(const char *path)
{
	size_t n = strlen(path);
	for (const struct config_key *k = config_keys; k->path; k++)
		if (!strncmp(k->path, path, n) && k->path[n] == '.')
			return true;
	return false;
}

static int walk(struct config *c, const char *name, struct fy_node *map, const char *prefix,
		int depth, struct buf *err)
{
	if (depth > 8) {
		mark(name, map, err);
		buf_adds(err, "nesting too deep");
		return OODA_EINVAL;
	}
	void *iter = NULL;
	struct fy_node_pair *pair;
	while ((pair = fy_node_mapping_iterate(map, &iter))) {
		struct fy_node *kn = fy_node_pair_key(pair);
		struct fy_node *vn = fy_node_pair_value(pair);
		const char *ks = kn ? fy_node_get_scalar0(kn) : NULL;
		if (!ks) {
			mark(name, kn ? kn : map, err);
			buf_addf(err, "%s: keys must be plain strings", *prefix ? prefix : "(top)");
			return OODA_EINVAL;
		}
		char path[256];
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", ks);
		const struct config_key *k = find_key(path);
		if (k && k->type == CFG_SECTION)
			continue;
		if (k) {
			const char *v = vn && fy_node_is_scalar(vn) ? fy_node_get_scalar0(vn) : NULL;
			if (!v) {
				mark(name, vn ? vn : kn, err);
				buf_addf(err, "%s: expected a %s value", path, type_names[k->type]);
				return OODA_EINVAL;
			}
			struct buf detail = BUF_INIT;
			if (set_value(c, k, v, &detail)) {
				mark(name, vn, err);
				buf_add(err, detail.data, detail.len);
				buf_release(&detail);
				return OODA_EINVAL;
			}
			buf_release(&detail);
			continue;
		}
		if (is_group(path)) {
			if (!vn || !fy_node_is_mapping(vn)) {
				mark(name, vn ? vn : kn, err);
				buf_addf(err, "%s: expected a mapping", path);
				return OODA_EINVAL;
			}
			int rc = walk(c, name, vn, path, depth + 1, err);
			if (rc)
				return rc;
			continue;
		}
		mark(name, kn, err);
		buf_addf(err, "%s: unknown key", path);
		return OODA_EINVAL;
	}
	return 0;
}

static int load_doc(struct config *c, const char *name, struct fy_document *doc, struct fy_diag *diag,
		    struct buf *err)
{
	if (!doc) {
		void *it = NULL;
		struct fy_diag_error *e = diag ? fy_diag_errors_iterate(diag, &it) : NULL;
		if (e)
			buf_addf(err, "%s:%d:%d: %s", name, e->line + 1, e->column + 1, e->msg);
		else
			buf_addf(err, "%s: not valid YAML", name);
		return OODA_EINVAL;
	}
	struct fy_node *root = fy_document_root(doc);
	struct config next;
	config_init(&next);
	int rc = 0;
	if (root && !fy_node_is_mapping(root)) {
		mark(name, root, err);
		buf_adds(err, "the top level must be a mapping of keys");
		rc = OODA_EINVAL;
	} else if (root) {
		rc = walk(&next, name, root, "", 0, err);
	}
	if (rc) {
		config_release(&next);
		fy_document_destroy(doc);
		return rc;
	}
	next.doc = doc;
	next.path = strdup(name);
	if (ooda_log_level_parse(next.log_level) < 0) {
		buf_addf(err, "%s: log.level: expected debug, info, warn or error, got \"%s\"", name,
			 next.log_level);
		config_release(&next);
		return OODA_EINVAL;
	}
	config_release(c);
	*c = next;
	return 0;
}

static struct fy_diag *diag_new(void)
{
	struct fy_diag_cfg dcfg;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = NULL;
	dcfg.colorize = false;
	struct fy_diag *diag = fy_diag_create(&dcfg);
	if (diag)
		fy_diag_set_collect_errors(diag, true);
	return diag;
}

int config_load(struct config *c, const char *path, struct buf *err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		buf_addf(err, "%s: cannot open: %s", path, strerror(errno));
		return OODA_EIO;
	}
	struct buf text = BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_add(&text, chunk, n);
		if (text.len > 16 << 20) {
			fclose(f);
			buf_release(&text);
			buf_addf(err, "%s: larger than 16 MiB", path);
			return OODA_ETOOBIG;
		}
	}
	fclose(f);
	int rc = config_load_string(c, path, text.data, text.len, err);
	buf_release(&text);
	return rc;
}

/*
 * libfyaml 0.7 (Debian 12) can crash or loop on some malformed documents.
 * Configuration loads are rare, so each text is first parsed in a forked
 * child with an alarm: if the child dies or hangs, the load fails with a
 * clear error and the daemon (and its old configuration) is untouched.
 */
static int yaml_probe(const char *name, const char *text, size_t len, struct buf *err)
{
	pid_t pid = fork();
	if (pid < 0)
		return 0; /* cannot probe: parse in-process as before */
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		alarm(5);
		struct fy_parse_cfg pcfg = { .flags = FYPCF_QUIET };
		struct fy_document *doc = fy_document_build_from_string(&pcfg, text, len);
		if (doc)
			fy_document_destroy(doc);
		_exit(0);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		buf_addf(err, "%s:1:1: the YAML parser %s on this file; look for unusual constructs "
			      "(tabs in indentation, stray '?' or '!' indicators)",
			 name, WTERMSIG(status) == SIGALRM ? "did not finish" : "failed");
		return OODA_EINVAL;
	}
	return 0;
}

int config_load_string(struct config *c, const char *name, const char *yaml, size_t len,
		       struct buf *err)
{
	struct fy_diag *diag = diag_new();
	struct fy_parse_cfg pcfg = {
		.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG,
		.diag = diag,
	};
	/* YAML directives (%YAML, %TAG) have no use in ooda.yaml, and libfyaml
	 * 0.7's directive scanner can loop on malformed ones: refuse them here. */
	int line = 1;
	bool at_line_start = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)yaml[i];
		if (at_line_start && ch == '%') {
			buf_addf(err, "%s:%d:1: YAML directives (lines starting with %%) are not accepted", name, line);
			if (diag)
				fy_diag_destroy(diag);
			return OODA_EINVAL;
		}
		/* every line break YAML 1.1 or 1.2 knows: LF, CR, NEL, LS, PS; and a BOM */
		bool brk = ch == '\n' || ch == '\r' ||
			   (ch == 0xc2 && i + 1 < len && (unsigned char)yaml[i + 1] == 0x85) ||
			   (ch == 0xe2 && i + 2 < len && (unsigned char)yaml[i + 1] == 0x80 &&
			    ((unsigned char)yaml[i + 2] == 0xa8 || (unsigned char)yaml[i + 2] == 0xa9));
		bool bom = i == 0 && ch == 0xef && len >= 3 && (unsigned char)yaml[1] == 0xbb &&
			   (unsigned char)yaml[2] == 0xbf;
		if (brk || bom) {
			if (ch == '\n')
				line++;
			i += ch == 0xc2 ? 1 : (ch == 0xe2 || bom) ? 2 : 0;
			at_line_start = true;
		} else {
			at_line_start = false;
		}
	}
	char *text = NULL;
	size_t k = 0;
	while (k < len && (yaml[k] == ' ' || yaml[k] == '\t' || yaml[k] == '\r' || yaml[k] == '\n'))
		k++;
	struct fy_document *doc = NULL;
	if (k == len) {
		doc = fy_document_create(&pcfg);
	} else {
		/* the document (and its diagnostics) point into the text: keep a copy
		 * that lives as long as the config does */
		text = malloc(len + 1);
		memcpy(text, yaml, len);
		text[len] = '\0';
		if (yaml_probe(name, text, len, err)) {
			free(text);
			if (diag)
				fy_diag_destroy(diag);
			return OODA_EINVAL;
		}
		doc = fy_document_build_from_string(&pcfg, text, len);
	}
	int rc = load_doc(c, name, doc, diag, err);
	if (diag)
		fy_diag_destroy(diag);
	if (rc)
		free(text);
	else
		c->text = text;
	return rc;
}

struct fy_node *config_section(const struct config *c, const char *name)
{
	if (!c->doc)
		return NULL;
	struct fy_node *root = fy_document_root(c->doc);
	if (!root || !fy_node_is_mapping(root))
		return NULL;
	return fy_node_mapping_lookup_by_string(root, name, FY_NT);
}

void config_docs_markdown(struct buf *out)
{
	buf_adds(out, "# ooda.yaml reference\n\n"
		      "Generated by `ooda docs config` from the key table in `src/core/config.c`;\n"
		      "a test fails when this file and the table disagree.\n\n"
		      "| key | type | default | description |\n|---|---|---|---|\n");
	for (const struct config_key *k = config_keys; k->path; k++)
		buf_addf(out, "| `%s` | %s | %s%s%s | %s |\n", k->path, type_names[k->type],
			 k->def ? "`" : "", k->def ? k->def : "—", k->def ? "`" : "", k->doc);
	buf_adds(out, "\nSizes take `KiB`, `MiB`, `GiB` (1024-based) or `KB`, `MB`, `GB`; durations take\n"
		      "`ms`, `s`, `m`, `h`, `d`, `w` and combinations such as `1h30m`.\n");
}

int config_yaml_to_json(const char *text, size_t len, char **json, struct buf *err)
{
	if (len > 16 << 20) {
		buf_adds(err, "YAML document larger than 16 MiB");
		return OODA_ETOOBIG;
	}
	if (yaml_probe("document", text, len, err))
		return OODA_EPARSE;
	struct fy_diag *diag = diag_new();
	struct fy_parse_cfg pcfg = { .flags = FYPCF_QUIET, .diag = diag };
	struct fy_document *doc = fy_document_build_from_string(&pcfg, text, len);
	int rc = 0;
	if (!doc || !fy_document_root(doc)) {
		struct fy_diag_error *e;
		void *it = NULL;
		if (diag && (e = fy_diag_errors_iterate(diag, &it)))
			buf_addf(err, "YAML error at line %d, column %d: %s", e->line + 1, e->column + 1, e->msg);
		else
			buf_adds(err, doc ? "the YAML document is empty" : "not a valid YAML document");
		rc = OODA_EPARSE;
	} else {
		*json = fy_emit_document_to_string(doc, FYECF_MODE_JSON_ONELINE | FYECF_NO_ENDING_NEWLINE);
		if (!*json) {
			buf_adds(err, "the YAML document cannot be expressed as JSON");
			rc = OODA_EPARSE;
		}
	}
	fy_document_destroy(doc);
	if (diag)
		fy_diag_destroy(diag);
	return rc;
}

char *config_section_json(const struct config *c, const char *name)
{
	struct fy_node *n = config_section(c, name);
	if (!n)
		return NULL;
	return fy_emit_node_to_string(n, FYECF_MODE_JSON_ONELINE | FYECF_NO_ENDING_NEWLINE);
}
