/*
 * Heartbeats (see heartbeat.h): the section parser, the pure state function,
 * and the in-memory table behind the API and the tick, written through to
 * versioned documents (kind "heartbeat", key NAME) on every ping and read
 * back when a name is first configured.
 */
#include "detect/heartbeat.h"
#include "audit/docwrite.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "model/jsontime.h"

#include <ctype.h>
#include <pthread.h>

#define REASSERT_NS (INT64_C(15) * 1000000000) /* tick re-sends an unchanged signal this often */

const char *heartbeat_state_name(enum heartbeat_state s)
{
	static const char *const names[] = { "never", "up", "late", "failed" };
	return (unsigned)s < 4 ? names[s] : "never";
}

enum heartbeat_state heartbeat_state_at(const struct heartbeat_spec *spec, const struct heartbeat_status *st,
					int64_t since_ns, int64_t now_ns, int64_t *due_ns)
{
	int64_t base = st->last_ok_ns ? st->last_ok_ns : since_ns;
	int64_t due = base + spec->every_ns + spec->grace_ns;
	if (due_ns)
		*due_ns = due;
	if (st->failed)
		return HEARTBEAT_FAILED;
	if (now_ns > due)
		return HEARTBEAT_LATE;
	return st->last_ok_ns ? HEARTBEAT_UP : HEARTBEAT_NEVER;
}

/* ---- parsing ------------------------------------------------------------- */

static int duration_of(const json_t *o, const char *key, const char *path, bool required, int64_t min,
		       int64_t *out, struct buf *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (required) {
			buf_addf(err, "%s.%s: is required (a duration like 5m)", path, key);
			return OODA_EINVAL;
		}
		return 0;
	}
	int64_t d = -1;
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < INT32_MAX)
		d = json_integer_value(v) * OODA_NS_PER_SEC;
	else if (json_is_string(v) && ooda_duration_parse(json_string_value(v), json_string_length(v), &d))
		d = -1;
	if (d < min || d > INT64_C(366) * 86400 * OODA_NS_PER_SEC) {
		char m[32];
		buf_addf(err, "%s.%s: must be a duration of at least %s (like 5m)", path, key,
			 ooda_duration_format(min, m, sizeof(m)));
		return OODA_EINVAL;
	}
	*out = d;
	return 0;
}

void heartbeat_specs_free(struct heartbeat_spec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].service);
	}
	free(v);
}

static int parse_one(const json_t *o, const char *path, struct heartbeat_spec *s, struct buf *err)
{
	/* which keys may appear is the config schema's (core/config.c) */
	if (!json_is_object(o)) {
		buf_addf(err, "%s: must be a mapping with name and every", path);
		return OODA_EINVAL;
	}
	const char *name = json_string_value(json_object_get(o, "name"));
	if (!name || !*name || strlen(name) > 128) {
		buf_addf(err, "%s.name: is required (1 to 128 characters)", path);
		return OODA_EINVAL;
	}
	for (const char *c = name; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.')) {
			buf_addf(err, "%s.name: may hold letters, digits, '-', '_' and '.' only", path);
			return OODA_EINVAL;
		}
	json_t *svc = json_object_get(o, "service");
	if (svc && !json_is_null(svc) && (!json_is_string(svc) || !json_string_length(svc))) {
		buf_addf(err, "%s.service: must be a service name", path);
		return OODA_EINVAL;
	}
	s->grace_ns = 0;
	s->severity = SEVERITY_PAGE;
	int rc = duration_of(o, "every", path, true, OODA_NS_PER_SEC, &s->every_ns, err);
	if (!rc)
		rc = duration_of(o, "grace", path, false, 0, &s->grace_ns, err);
	if (rc)
		return rc;
	json_t *sev = json_object_get(o, "severity");
	if (sev && !json_is_null(sev) && alert_severity_parse(json_string_value(sev), &s->severity)) {
		buf_addf(err, "%s.severity: must be page, ticket or info", path);
		return OODA_EINVAL;
	}
	s->name = xstrdup(name);
	s->service = json_is_string(svc) ? xstrdup(json_string_value(svc)) : NULL;
	return 0;
}

int heartbeat_specs_parse(const json_t *section, struct heartbeat_spec **out, size_t *n, struct buf *err)
{
	*out = NULL;
	*n = 0;
	if (!section || json_is_null(section))
		return 0;
	if (!json_is_array(section)) {
		buf_adds(err, "heartbeats: must be a list of {name, every, grace}");
		return OODA_EINVAL;
	}
	size_t total = json_array_size(section);
	if (total > HEARTBEAT_MAX) {
		buf_addf(err, "heartbeats: at most %d", HEARTBEAT_MAX);
		return OODA_EINVAL;
	}
	struct heartbeat_spec *v = xcalloc(total ? total : 1, sizeof(*v));
	size_t i;
	json_t *o;
	json_array_foreach(section, i, o) {
		char path[48];
		snprintf(path, sizeof(path), "heartbeats[%zu]", i);
		int rc = parse_one(o, path, &v[i], err);
		for (size_t k = 0; !rc && k < i; k++)
			if (!strcmp(v[k].name, v[i].name)) {
				buf_addf(err, "%s.name: \"%s\" is already a heartbeat", path, v[i].name);
				rc = OODA_EINVAL;
			}
		if (rc) {
			heartbeat_specs_free(v, i + 1);
			return rc;
		}
	}
	*out = v;
	*n = total;
	return 0;
}

/* ---- the table ------------------------------------------------------------ */

struct hb {
	struct heartbeat_spec spec;
	struct heartbeat_status st;
	int64_t since_ns;            /* configured (or restored) at */
	enum heartbeat_state sent;   /* last state signalled */
	int64_t sent_ns;
	bool ever_sent;
};

struct heartbeats {
	pthread_mutex_t mu;
	struct hb *v;
	size_t n;
	struct store *store;
	const struct audit_signer *signer;
};

int heartbeats_create(struct store *s, const struct audit_signer *sg, struct heartbeats **out, struct buf *err)
{
	struct heartbeats *h = xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	h->store = s;
	h->signer = sg;
	*out = h;
	return 0;
}

void heartbeats_destroy(struct heartbeats *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].spec.name);
		free(h->v[i].spec.service);
	}
	free(h->v);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static void status_from_json(struct heartbeat_status *st, const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	memset(st, 0, sizeof(*st));
	st->duration_ms = -1;
	st->exit_code = -1;
	if (!j)
		return;
	st->last_ping_ns = json_integer_value(json_object_get(j, "last_ping_ns"));
	st->last_ok_ns = json_integer_value(json_object_get(j, "last_ok_ns"));
	st->last_start_ns = json_integer_value(json_object_get(j, "last_start_ns"));
	st->failed = json_is_true(json_object_get(j, "failed"));
	const char *m = json_string_value(json_object_get(j, "message"));
	snprintf(st->message, sizeof(st->message), "%s", m ? m : "");
	if (json_is_integer(json_object_get(j, "duration_ms")))
		st->duration_ms = json_integer_value(json_object_get(j, "duration_ms"));
	if (json_is_integer(json_object_get(j, "exit_code")))
		st->exit_code = (int)json_integer_value(json_object_get(j, "exit_code"));
	json_decref(j);
}

static char *status_to_json(const struct heartbeat_status *st)
{
	json_t *j = json_pack("{s:I, s:I, s:I, s:b, s:s}", "last_ping_ns", (json_int_t)st->last_ping_ns, "last_ok_ns",
			      (json_int_t)st->last_ok_ns, "last_start_ns", (json_int_t)st->last_start_ns, "failed",
			      st->failed, "message", st->message);
	if (st->duration_ms >= 0)
		json_object_set_new(j, "duration_ms", json_integer(st->duration_ms));
	if (st->exit_code >= 0)
		json_object_set_new(j, "exit_code", json_integer(st->exit_code));
	char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return t;
}

int heartbeats_configure(struct heartbeats *h, const json_t *section, bool apply, struct buf *err)
{
	struct heartbeat_spec *specs;
	size_t n;
	int rc = heartbeat_specs_parse(section, &specs, &n, err);
	if (rc || !apply) {
		if (!rc)
			heartbeat_specs_free(specs, n);
		return rc;
	}
	int64_t now = ooda_now_ns();
	struct hb *nv = xcalloc(n ? n : 1, sizeof(*nv));
	/* load persisted pings outside the lock: the store may block */
	for (size_t i = 0; i < n; i++) {
		nv[i].spec = specs[i];
		nv[i].since_ns = now;
		nv[i].st.duration_ms = -1;
		nv[i].st.exit_code = -1;
		struct vdoc d;
		struct buf e = BUF_INIT;
		if (h->store && !vdoc_get(h->store, "heartbeat", specs[i].name, 0, &d, &e)) {
			if (!d.deleted)
				status_from_json(&nv[i].st, d.body, d.body_len);
			vdoc_release(&d);
		}
		buf_release(&e);
	}
	free(specs); /* the strings moved into nv */
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < h->n; k++)
			if (h->v[k].spec.name && !strcmp(h->v[k].spec.name, nv[i].spec.name)) {
				/* known name: keep what this process saw (newer than the store's copy or equal) */
				nv[i].st = h->v[k].st;
				nv[i].since_ns = h->v[k].since_ns;
				nv[i].sent = h->v[k].sent;
				nv[i].sent_ns = h->v[k].sent_ns;
				nv[i].ever_sent = h->v[k].ever_sent;
			}
	struct hb *old = h->v;
	size_t old_n = h->n;
	h->v = nv;
	h->n = n;
	pthread_mutex_unlock(&h->mu);
	for (size_t k = 0; k < old_n; k++) {
		free(old[k].spec.name);
		free(old[k].spec.service);
	}
	free(old);
	return 0;
}

static struct hb *find(struct heartbeats *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->v[i].spec.name, name))
			return &h->v[i];
	return NULL;
}

int heartbeat_ping(struct heartbeats *h, const char *name, const struct heartbeat_ping *p, int64_t now_ns,
		   struct buf *err)
{
	const char *status = p->status && *p->status ? p->status : (p->exit_code > 0 ? "fail" : "ok");
	bool start = !strcmp(status, "start");
	bool failed = !strcmp(status, "fail") || !strcmp(status, "failed") || !strcmp(status, "failure");
	if (!start && !failed && strcmp(status, "ok") && strcmp(status, "success")) {
		buf_addf(err, "status must be ok, fail or start, not \"%s\"", status);
		return OODA_EINVAL;
	}
	pthread_mutex_lock(&h->mu);
	struct hb *b = find(h, name);
	if (!b) {
		pthread_mutex_unlock(&h->mu);
		buf_addf(err, "no heartbeat \"%s\" in ooda.yaml", name);
		return OODA_ENOTFOUND;
	}
	struct heartbeat_status *st = &b->st;
	st->last_ping_ns = now_ns;
	if (start) {
		st->last_start_ns = now_ns;
	} else {
		st->failed = failed;
		if (!failed)
			st->last_ok_ns = now_ns;
		snprintf(st->message, sizeof(st->message), "%s", p->message ? p->message : "");
		st->duration_ms = p->duration_ms;
		st->exit_code = p->exit_code;
	}
	char *body = status_to_json(st);
	pthread_mutex_unlock(&h->mu);
	int rc = 0;
	if (h->store && h->signer) {
		char target[160];
		snprintf(target, sizeof(target), "heartbeat/%s", name);
		struct vdoc_write w = { .kind = "heartbeat", .key = name, .body = body, .body_len = strlen(body),
					.expect_version = -1, .actor = p->actor ? p->actor : "anonymous",
					.rationale = start ? "start" : failed ? "fail" : "ok", .action = "heartbeat.ping",
					.target = target };
		rc = vdoc_put(h->store, h->signer, &w, err);
	}
	free(body);
	return rc;
}

/* Holds mu. */
static json_t *hb_json(const struct hb *b, int64_t now)
{
	int64_t due;
	enum heartbeat_state s = heartbeat_state_at(&b->spec, &b->st, b->since_ns, now, &due);
	char e[32], g[32];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", b->spec.name, "state", heartbeat_state_name(s),
			      "every", ooda_duration_format(b->spec.every_ns, e, sizeof(e)), "grace",
			      ooda_duration_format(b->spec.grace_ns, g, sizeof(g)), "severity",
			      alert_severity_name(b->spec.severity));
	json_object_set_new(o, "service", b->spec.service ? json_string(b->spec.service) : json_null());
	const struct { const char *k; int64_t v; } times[] = {
		{ "last_ping", b->st.last_ping_ns }, { "last_ok", b->st.last_ok_ns }, { "last_start", b->st.last_start_ns }
	};
	for (int i = 0; i < 3; i++)
		json_object_set_new(o, times[i].k, json_time_or_null(times[i].v));
	json_object_set_new(o, "next_due", json_time(due));
	json_object_set_new(o, "message", json_string(b->st.message));
	json_object_set_new(o, "duration_ms", b->st.duration_ms >= 0 ? json_integer(b->st.duration_ms) : json_null());
	json_object_set_new(o, "exit_code", b->st.exit_code >= 0 ? json_integer(b->st.exit_code) : json_null());
	return o;
}

int heartbeats_json(struct heartbeats *h, const char *name, int64_t now_ns, struct buf *out, struct buf *err)
{
	json_t *j = NULL;
	pthread_mutex_lock(&h->mu);
	if (!name) {
		json_t *arr = json_array();
		for (size_t i = 0; i < h->n; i++)
			json_array_append_new(arr, hb_json(&h->v[i], now_ns));
		j = json_pack("{s:o}", "heartbeats", arr);
	} else {
		struct hb *b = find(h, name);
		j = b ? hb_json(b, now_ns) : NULL;
	}
	pthread_mutex_unlock(&h->mu);
	if (!j) {
		buf_addf(err, "no heartbeat \"%s\" in ooda.yaml", name);
		return OODA_ENOTFOUND;
	}
	char *t = json_dumps(j, JSON_COMPACT);
	buf_adds(out, t);
	free(t);
	json_decref(j);
	return 0;
}

void heartbeats_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct heartbeats *h = ctx;
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->n; i++) {
		struct hb *b = &h->v[i];
		enum heartbeat_state s = heartbeat_state_at(&b->spec, &b->st, b->since_ns, now_ns, NULL);
		if (b->ever_sent && s == b->sent && now_ns - b->sent_ns < REASSERT_NS)
			continue;
		b->ever_sent = true;
		b->sent = s;
		b->sent_ns = now_ns;
		if (!sink || !sink->signal)
			continue;
		json_t *ev = hb_json(b, now_ns);
		struct buf name = BUF_INIT, summary = BUF_INIT;
		buf_addf(&name, "heartbeat:%s", b->spec.name);
		if (s == HEARTBEAT_FAILED)
			buf_addf(&summary, "job %s reported failure%s%s", b->spec.name, b->st.message[0] ? ": " : "",
				 b->st.message);
		else if (s == HEARTBEAT_LATE)
			buf_addf(&summary, "job %s has not reported in its interval plus grace", b->spec.name);
		else
			buf_addf(&summary, "job %s is %s", b->spec.name, heartbeat_state_name(s));
		json_t *ann = json_pack("{s:s}", "summary", summary.data);
		struct alert_signal sig = {
			.source = "heartbeat",
			.name = name.data,
			.service = b->spec.service,
			.severity = b->spec.severity,
			.annotations = ann,
			.evidence = ev,
			.active = s == HEARTBEAT_LATE || s == HEARTBEAT_FAILED,
			.at_ns = now_ns,
		};
		alert_emit(sink, &sig);
		json_decref(ev);
		json_decref(ann);
		buf_release(&name);
		buf_release(&summary);
	}
	pthread_mutex_unlock(&h->mu);
}

int64_t heartbeats_next_due(struct heartbeats *h)
{
	if (!h)
		return 0;
	int64_t first = 0;
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->n; i++) {
		const struct hb *b = &h->v[i];
		if (b->st.failed)
			continue; /* active until an ok ping, whatever the clock */
		int64_t due = 0;
		heartbeat_state_at(&b->spec, &b->st, b->since_ns, 0, &due);
		due++; /* late is strictly past due */
		if (b->ever_sent && b->sent == HEARTBEAT_LATE && b->sent_ns >= due)
			continue; /* this lateness is signalled already */
		if (!first || due < first)
			first = due;
	}
	pthread_mutex_unlock(&h->mu);
	return first;
}

int heartbeat_config_check(const char *section_json, struct buf *err)
{
	json_t *j = json_loads(section_json, JSON_DECODE_ANY, NULL);
	struct heartbeat_spec *v = NULL;
	size_t n = 0;
	int rc = heartbeat_specs_parse(json_is_null(j) ? NULL : j, &v, &n, err);
	heartbeat_specs_free(v, n);
	json_decref(j);
	return rc;
}
