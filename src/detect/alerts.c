/*
 * The alerting core: signals in, alerts with a lifecycle out. The state
 * machine, grouping, inhibition and silences are drawn and specified in
 * alerts.h. Everything lives in memory under one mutex; each change that
 * matters (a transition, a change of inhibition or silencing, a silence)
 * is queued as a new version of a vdoc and written after the mutex is let
 * go, under a second mutex that keeps the versions in order.
 */
#include "detect/alerts.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/time.h"
#include "model/jsontime.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <sodium.h>
#include <xxhash.h>

#define GRAPH_REFRESH_NS (5 * OODA_NS_PER_SEC)
#define GRAPH_WINDOW_NS (15 * 60 * OODA_NS_PER_SEC)
#define GRAPH_MAX_VISITS 10000

struct alert {
	char fp[17];
	char *name, *service, *source;
	enum alert_severity severity;
	json_t *labels, *annotations, *evidence; /* owned; never NULL */
	json_t *transitions;                      /* array, oldest first */
	enum alert_state state;
	bool external, last_active;
	int64_t for_ns, keep_ns;
	int64_t created_ns, changed_ns, active_ns, fired_ns, resolved_ns, cleared_ns, last_signal_ns;
	char group[32];
	int64_t group_started_ns;
	char inhibited_by[17];
	char silenced_by[32];
};

/*
 * A silence matcher other than label=value (those live in silence.labels):
 * label!=value, label=~regex, label!~regex, as amtool writes them. A regex
 * is anchored at both ends as Alertmanager anchors it: ^(?:regex)$.
 */
enum matcher_op { MATCH_EQ, MATCH_NE, MATCH_RE, MATCH_NRE };

struct silence_matcher {
	char *label, *value;
	enum matcher_op op;
	pcre2_code *re; /* MATCH_RE and MATCH_NRE */
};

struct silence {
	char id[32];
	struct silence_matcher *m; /* owned; n_m of them */
	size_t n_m;
	char *name, *service, *creator, *reason;
	char *reported_by; /* a creator the client claimed, when it is not who was authenticated */
	json_t *labels; /* object of strings; never NULL */
	int64_t starts_ns, ends_ns, created_ns;
	bool deleted;
};

struct subscriber {
	alerts_subscriber_fn *fn;
	void *ctx;
};

struct alerts {
	pthread_mutex_t mu;       /* everything below */
	pthread_mutex_t flush_mu; /* keeps store writes in the order they were queued */
	struct store *store;
	const struct audit_signer *sg;
	struct live_signals *live;
	struct alert **v;
	size_t n, cap;
	json_t *index;            /* fingerprint → position in v */
	struct silence *sil;
	size_t n_sil;
	int64_t sil_gen;          /* the silences' generation (store_gen_read) sil was read at */
	json_t *adj;              /* caller → [callee…]: traced ∪ declared */
	json_t *traced;           /* the edges live signals (or alerts_set_graph_json) gave */
	json_t *declared;         /* the edges ooda.yaml declares (services[].dependencies) */
	int64_t graph_at_ns;
	int64_t now_ns;
	int64_t group_window_ns;
	json_t *queue;            /* vdoc writes waiting for flush() */
	int64_t dropped;
	/* subscribers, and the transitions waiting for the next tick to reach them */
	pthread_mutex_t notify_mu; /* one delivery at a time, so subscribers see transitions in order */
	struct subscriber subs[ALERTS_MAX_SUBSCRIBERS];
	size_t n_subs;
	struct pending_transition *pending;
	size_t n_pending, cap_pending;
	int64_t pending_dropped;
};

/* A transition copied out of the alert, waiting for notify() (the alert may change or go meanwhile). */
struct pending_transition {
	char fp[17];
	char *name, *service;
	json_t *labels;
	enum alert_severity severity;
	enum alert_state from, to;
	int64_t at_ns;
};

const char *alert_state_name(enum alert_state s)
{
	switch (s) {
	case ALERT_PENDING:
		return "pending";
	case ALERT_FIRING:
		return "firing";
	case ALERT_RESOLVED:
		return "resolved";
	default:
		return "inactive";
	}
}

static int state_parse(const char *s, enum alert_state *out)
{
	static const enum alert_state all[] = { ALERT_INACTIVE, ALERT_PENDING, ALERT_FIRING, ALERT_RESOLVED };
	for (size_t i = 0; i < 4; i++)
		if (!strcmp(s, alert_state_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	return OODA_EINVAL;
}

static json_t *dur_json(int64_t ns)
{
	char t[40];
	return json_string(ooda_duration_format(ns, t, sizeof(t)));
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* ---- fingerprints ------------------------------------------------------- */

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

void alerts_fingerprint(const char *name, const char *service, const json_t *labels, char out[17])
{
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, name ? name : "", strlen(name ? name : "") + 1);
	XXH3_64bits_update(st, service ? service : "", strlen(service ? service : "") + 1);
	size_t n = json_is_object(labels) ? json_object_size(labels) : 0;
	if (n) {
		const char **keys = xmalloc(n * sizeof(*keys));
		size_t k = 0;
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)labels, key, v) keys[k++] = key;
		qsort(keys, k, sizeof(*keys), cmp_str);
		for (size_t i = 0; i < k; i++) {
			const char *val = json_string_value(json_object_get(labels, keys[i]));
			XXH3_64bits_update(st, keys[i], strlen(keys[i]) + 1);
			XXH3_64bits_update(st, val ? val : "", strlen(val ? val : "") + 1);
		}
		free(keys);
	}
	snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(st));
	XXH3_freeState(st);
}

/* ---- the dependency graph ----------------------------------------------- */

/* True when from reaches to along caller→callee edges (from depends on to). */
static bool reaches(const json_t *adj, const char *from, const char *to)
{
	if (!adj || !from || !to)
		return false;
	json_t *seen = json_object(), *queue = json_array();
	json_array_append_new(queue, json_string(from));
	json_object_set_new(seen, from, json_true());
	bool found = false;
	for (size_t qi = 0; qi < json_array_size(queue) && qi < GRAPH_MAX_VISITS && !found; qi++) {
		const char *cur = json_string_value(json_array_get(queue, qi));
		size_t i;
		json_t *next;
		json_array_foreach(json_object_get(adj, cur), i, next) {
			const char *nx = json_string_value(next);
			if (!strcmp(nx, to)) {
				found = true;
				break;
			}
			if (!json_object_get(seen, nx)) {
				json_object_set_new(seen, nx, json_true());
				json_array_append(queue, next);
			}
		}
	}
	json_decref(seen);
	json_decref(queue);
	return found;
}

bool alerts_service_reaches(struct alerts *a, const char *from, const char *to)
{
	pthread_mutex_lock(&a->mu);
	bool r = reaches(a->adj, from, to);
	pthread_mutex_unlock(&a->mu);
	return r;
}

static bool related(const json_t *adj, const struct alert *x, const struct alert *y)
{
	if (!x->service || !y->service)
		return !x->service && !y->service && !strcmp(x->name, y->name);
	return !strcmp(x->service, y->service) || reaches(adj, x->service, y->service) ||
	       reaches(adj, y->service, x->service);
}

static json_t *graph_adjacency(const char *graph_json, struct buf *err)
{
	json_error_t je;
	json_t *g = json_loads(graph_json, 0, &je);
	if (!g) {
		buf_addf(err, "graph: invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
		return NULL;
	}
	json_t *adj = json_object();
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(g, "edges"), i, e) {
		const char *src = json_string_value(json_object_get(e, "source"));
		const char *dst = json_string_value(json_object_get(e, "target"));
		if (!src || !dst || !strcmp(src, dst))
			continue;
		json_t *l = json_object_get(adj, src);
		if (!l) {
			l = json_array();
			json_object_set_new(adj, src, l);
		}
		json_array_append_new(l, json_string(dst));
	}
	json_decref(g);
	return adj;
}

/* a->adj = a->traced ∪ a->declared. Holds mu. */
static void graph_merge_locked(struct alerts *a)
{
	json_t *adj = a->traced ? json_deep_copy(a->traced) : json_object();
	const char *src;
	json_t *targets;
	json_object_foreach(a->declared, src, targets) {
		json_t *l = json_object_get(adj, src);
		if (!l) {
			l = json_array();
			json_object_set_new(adj, src, l);
		}
		size_t i, k;
		json_t *t, *have;
		json_array_foreach(targets, i, t) {
			bool dup = false;
			json_array_foreach(l, k, have)
				dup = dup || json_equal(have, t);
			if (!dup)
				json_array_append(l, t);
		}
	}
	json_decref(a->adj);
	a->adj = adj;
}

/* Replaces the traced (declared false) or declared edges with those of graph_json. */
static int graph_set(struct alerts *a, const char *graph_json, bool declared, struct buf *err)
{
	json_t *adj = graph_adjacency(graph_json, err);
	if (!adj)
		return OODA_EPARSE;
	pthread_mutex_lock(&a->mu);
	json_t **slot = declared ? &a->declared : &a->traced;
	json_decref(*slot);
	*slot = adj;
	graph_merge_locked(a);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

int alerts_set_graph_json(struct alerts *a, const char *graph_json, struct buf *err)
{
	return graph_set(a, graph_json, false, err);
}

int alerts_set_declared_graph_json(struct alerts *a, const char *graph_json, struct buf *err)
{
	return graph_set(a, graph_json, true, err);
}

static int cmp_cstr(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

json_t *alerts_declared_edges(struct alerts *a)
{
	json_t *out = json_array();
	pthread_mutex_lock(&a->mu);
	const char **srcs = NULL;
	size_t n = json_object_size(a->declared), k = 0;
	if (n)
		srcs = xcalloc(n, sizeof(*srcs));
	const char *src;
	json_t *targets;
	json_object_foreach(a->declared, src, targets)
		if (srcs)
			srcs[k++] = src;
	if (k > 1)
		qsort(srcs, k, sizeof(*srcs), cmp_cstr);
	for (size_t i = 0; i < k; i++) {
		size_t j;
		json_t *t;
		json_array_foreach(json_object_get(a->declared, srcs[i]), j, t)
			json_array_append_new(out, json_pack("{s:s,s:O}", "source", srcs[i], "target", t));
	}
	pthread_mutex_unlock(&a->mu);
	free(srcs);
	return out;
}

/* ---- serialisation ------------------------------------------------------ */

static json_t *alert_json(const struct alert *al, bool transitions, bool for_store)
{
	bool notify = al->state == ALERT_FIRING && !al->inhibited_by[0] && !al->silenced_by[0];
	json_t *j = json_object();
	json_object_set_new(j, "fingerprint", json_string(al->fp));
	json_object_set_new(j, "name", json_string(al->name));
	json_object_set_new(j, "service", str_or_null(al->service));
	json_object_set_new(j, "source", json_string(al->source ? al->source : ""));
	json_object_set_new(j, "severity", json_string(alert_severity_name(al->severity)));
	json_object_set_new(j, "state", json_string(alert_state_name(al->state)));
	json_object_set_new(j, "notify", json_boolean(notify));
	json_object_set_new(j, "external", json_boolean(al->external));
	json_object_set(j, "labels", al->labels);
	json_object_set(j, "annotations", al->annotations);
	json_object_set(j, "evidence", al->evidence);
	json_object_set_new(j, "active_at", json_time_or_null(al->active_ns));
	json_object_set_new(j, "fired_at", json_time_or_null(al->fired_ns));
	json_object_set_new(j, "resolved_at", json_time_or_null(al->resolved_ns));
	json_object_set_new(j, "last_signal_at", json_time_or_null(al->last_signal_ns));
	json_object_set_new(j, "for", dur_json(al->for_ns));
	json_object_set_new(j, "keep_firing_for", dur_json(al->keep_ns));
	json_object_set_new(j, "group", str_or_null(al->group));
	json_object_set_new(j, "inhibited_by", str_or_null(al->inhibited_by));
	json_object_set_new(j, "silenced_by", str_or_null(al->silenced_by));
	if (transitions)
		json_object_set(j, "transitions", al->transitions);
	if (for_store)
		json_object_set_new(j, "ns", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "created",
						       (json_int_t)al->created_ns, "changed", (json_int_t)al->changed_ns,
						       "active", (json_int_t)al->active_ns, "fired",
						       (json_int_t)al->fired_ns, "resolved", (json_int_t)al->resolved_ns,
						       "cleared", (json_int_t)al->cleared_ns, "last_signal",
						       (json_int_t)al->last_signal_ns, "group_started",
						       (json_int_t)al->group_started_ns, "for", (json_int_t)al->for_ns,
						       "keep", (json_int_t)al->keep_ns, "last_active", al->last_active));
	return j;
}

static void alert_free(struct alert *al)
{
	if (!al)
		return;
	free(al->name);
	free(al->service);
	free(al->source);
	json_decref(al->labels);
	json_decref(al->annotations);
	json_decref(al->evidence);
	json_decref(al->transitions);
	free(al);
}

static json_t *obj_or_empty(json_t *v)
{
	return json_is_object(v) ? json_incref(v) : json_object();
}

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static struct alert *alert_from_json(json_t *j)
{
	const char *fp = json_string_value(json_object_get(j, "fingerprint"));
	const char *name = json_string_value(json_object_get(j, "name"));
	enum alert_state st;
	const char *sn = json_string_value(json_object_get(j, "state"));
	json_t *ns = json_object_get(j, "ns");
	if (!fp || strlen(fp) != 16 || !name || !sn || state_parse(sn, &st) || !json_is_object(ns))
		return NULL;
	struct alert *al = xcalloc(1, sizeof(*al));
	copy_str(al->fp, sizeof(al->fp), fp);
	al->name = xstrdup(name);
	al->service = xstrdup(json_string_value(json_object_get(j, "service")));
	al->source = xstrdup(json_string_value(json_object_get(j, "source")));
	alert_severity_parse(json_string_value(json_object_get(j, "severity")), &al->severity);
	al->labels = obj_or_empty(json_object_get(j, "labels"));
	al->annotations = obj_or_empty(json_object_get(j, "annotations"));
	al->evidence = obj_or_empty(json_object_get(j, "evidence"));
	json_t *tr = json_object_get(j, "transitions");
	al->transitions = json_is_array(tr) ? json_incref(tr) : json_array();
	al->state = st;
	al->external = json_is_true(json_object_get(j, "external"));
	al->created_ns = json_integer_value(json_object_get(ns, "created"));
	al->changed_ns = json_integer_value(json_object_get(ns, "changed"));
	al->active_ns = json_integer_value(json_object_get(ns, "active"));
	al->fired_ns = json_integer_value(json_object_get(ns, "fired"));
	al->resolved_ns = json_integer_value(json_object_get(ns, "resolved"));
	al->cleared_ns = json_integer_value(json_object_get(ns, "cleared"));
	al->last_signal_ns = json_integer_value(json_object_get(ns, "last_signal"));
	al->group_started_ns = json_integer_value(json_object_get(ns, "group_started"));
	al->for_ns = json_integer_value(json_object_get(ns, "for"));
	al->keep_ns = json_integer_value(json_object_get(ns, "keep"));
	al->last_active = json_is_true(json_object_get(ns, "last_active"));
	copy_str(al->group, sizeof(al->group), json_string_value(json_object_get(j, "group")));
	copy_str(al->inhibited_by, sizeof(al->inhibited_by), json_string_value(json_object_get(j, "inhibited_by")));
	copy_str(al->silenced_by, sizeof(al->silenced_by), json_string_value(json_object_get(j, "silenced_by")));
	return al;
}

/* ---- silence matchers: =, !=, =~, !~ ------------------------------------ */

#define MATCHER_MAX_STR 256
#define SILENCE_MAX_MATCHERS 64
#define MATCHER_MATCH_LIMIT 100000
#define MATCHER_DEPTH_LIMIT 1000

/* The operators, longest first so "=~" is not read as "=". */
static const struct {
	const char *text;
	enum matcher_op op;
} matcher_ops[] = {
	{ "=~", MATCH_RE }, { "!~", MATCH_NRE }, { "!=", MATCH_NE }, { "=", MATCH_EQ },
};

static pcre2_match_context *matcher_mctx;
static pthread_once_t matcher_mctx_once = PTHREAD_ONCE_INIT;

static void matcher_mctx_init(void)
{
	matcher_mctx = pcre2_match_context_create(NULL);
	if (matcher_mctx) {
		pcre2_set_match_limit(matcher_mctx, MATCHER_MATCH_LIMIT);
		pcre2_set_depth_limit(matcher_mctx, MATCHER_DEPTH_LIMIT);
	}
}

static void matcher_release(struct silence_matcher *m)
{
	free(m->label);
	free(m->value);
	pcre2_code_free(m->re);
	memset(m, 0, sizeof(*m));
}

/*
 * Parses "label OP value" (amtool's form; the value may be in double
 * quotes) into *m, compiling a regex as ^(?:value)$. OODA_EINVAL with the
 * reason in err.
 */
static int matcher_parse(const char *text, struct silence_matcher *m, struct buf *err)
{
	memset(m, 0, sizeof(*m));
	size_t len = strlen(text);
	size_t name_len = strcspn(text, "=!~");
	if (len > 2 * MATCHER_MAX_STR) {
		buf_addf(err, "longer than %d characters", 2 * MATCHER_MAX_STR);
		return OODA_EINVAL;
	}
	while (name_len && text[name_len - 1] == ' ')
		name_len--;
	size_t at = strcspn(text, "=!~");
	const char *op = text + at;
	size_t i = 0, n_ops = sizeof(matcher_ops) / sizeof(matcher_ops[0]);
	while (i < n_ops && strncmp(op, matcher_ops[i].text, strlen(matcher_ops[i].text)))
		i++;
	if (!name_len || i == n_ops) {
		buf_adds(err, "expected label=value, label!=value, label=~regex or label!~regex");
		return OODA_EINVAL;
	}
	const char *v = op + strlen(matcher_ops[i].text);
	while (*v == ' ')
		v++;
	size_t vlen = strlen(v);
	if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
		v++;
		vlen -= 2;
	}
	if (name_len > MATCHER_MAX_STR || vlen > MATCHER_MAX_STR) {
		buf_addf(err, "a label or value longer than %d characters", MATCHER_MAX_STR);
		return OODA_EINVAL;
	}
	m->op = matcher_ops[i].op;
	if (m->op == MATCH_RE || m->op == MATCH_NRE) {
		struct buf pat = BUF_INIT;
		buf_adds(&pat, "^(?:");
		buf_add(&pat, v, vlen);
		buf_adds(&pat, ")$");
		pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
		if (cc)
			pcre2_set_parens_nest_limit(cc, 32);
		int ec;
		PCRE2_SIZE off;
		m->re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len, 0, &ec, &off, cc);
		pcre2_compile_context_free(cc);
		buf_release(&pat);
		if (!m->re) {
			PCRE2_UCHAR msg[160];
			if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
				snprintf((char *)msg, sizeof(msg), "error %d", ec);
			buf_addf(err, "bad regular expression \"%.*s\": %s", (int)vlen, v, (const char *)msg);
			return OODA_EINVAL;
		}
	}
	m->label = xstrndup(text, name_len);
	m->value = xstrndup(v, vlen);
	return 0;
}

/* "label!=value" as amtool writes it; caller json_decref's. */
static json_t *matcher_json(const struct silence_matcher *m)
{
	const char *op = "=";
	for (size_t i = 0; i < sizeof(matcher_ops) / sizeof(matcher_ops[0]); i++)
		if (matcher_ops[i].op == m->op)
			op = matcher_ops[i].text;
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s%s%s", m->label, op, m->value);
	json_t *j = json_stringn(b.data, b.len);
	buf_release(&b);
	return j;
}

/* Alertmanager's rule: a label the alert lacks has the empty value. */
static bool matcher_matches(const struct silence_matcher *m, const char *have)
{
	have = have ? have : "";
	if (m->op == MATCH_EQ)
		return !strcmp(have, m->value);
	if (m->op == MATCH_NE)
		return strcmp(have, m->value) != 0;
	pthread_once(&matcher_mctx_once, matcher_mctx_init);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(m->re, NULL);
	int rc = md ? pcre2_match(m->re, (PCRE2_SPTR)have, strlen(have), 0, 0, md, matcher_mctx) : -1;
	pcre2_match_data_free(md);
	bool hit = rc >= 0; /* an error (a match limit hit) counts as no match */
	return m->op == MATCH_RE ? hit : !hit;
}

static json_t *silence_json(const struct silence *s, int64_t now_ns, bool for_store)
{
	json_t *j = json_object();
	json_object_set_new(j, "id", json_string(s->id));
	json_object_set_new(j, "name", str_or_null(s->name));
	json_object_set_new(j, "service", str_or_null(s->service));
	json_object_set(j, "labels", s->labels);
	json_t *ms = json_array();
	for (size_t i = 0; i < s->n_m; i++)
		json_array_append_new(ms, matcher_json(&s->m[i]));
	json_object_set_new(j, "matchers", ms);
	json_object_set_new(j, "starts_at", json_time_or_null(s->starts_ns));
	json_object_set_new(j, "ends_at", json_time_or_null(s->ends_ns));
	json_object_set_new(j, "created_at", json_time_or_null(s->created_ns));
	json_object_set_new(j, "creator", json_string(s->creator ? s->creator : ""));
	if (s->reported_by)
		json_object_set_new(j, "reported_by", json_string(s->reported_by));
	json_object_set_new(j, "reason", json_string(s->reason ? s->reason : ""));
	json_object_set_new(j, "deleted", json_boolean(s->deleted));
	if (for_store)
		json_object_set_new(j, "ns", json_pack("{s:I,s:I,s:I}", "starts", (json_int_t)s->starts_ns, "ends",
						       (json_int_t)s->ends_ns, "created", (json_int_t)s->created_ns));
	else
		json_object_set_new(j, "active",
				    json_boolean(!s->deleted && now_ns >= s->starts_ns && now_ns < s->ends_ns));
	return j;
}

static void silence_release(struct silence *s)
{
	free(s->name);
	free(s->service);
	free(s->creator);
	free(s->reported_by);
	free(s->reason);
	json_decref(s->labels);
	for (size_t i = 0; i < s->n_m; i++)
		matcher_release(&s->m[i]);
	free(s->m);
	s->m = NULL;
	s->n_m = 0;
}

/* ---- persistence -------------------------------------------------------- */

/* Queues a new version of kind/key (called with mu held). */
static void enqueue(struct alerts *a, const char *kind, const char *key, json_t *body, bool deleted,
		    const char *action, const char *actor, const char *why)
{
	if (!a->store) {
		json_decref(body);
		return;
	}
	char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(body);
	json_t *w = json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:s}", "kind", kind, "key", key, "body", text ? text : "{}",
			      "deleted", deleted, "action", action, "actor", actor, "rationale", why ? why : "");
	free(text);
	json_array_append_new(a->queue, w);
}

static const char *actor_of(const struct alert *al)
{
	return al->external && al->source && *al->source ? al->source : "engine:alerts";
}

static void persist(struct alerts *a, const struct alert *al, const char *action, const char *why)
{
	enqueue(a, "alert", al->fp, alert_json(al, true, true), false, action, actor_of(al), why);
}

struct flush_ctx {
	json_t *items;
	const struct audit_signer *sg;
};

static int flush_tx(struct store *s, void *ctx, struct buf *err)
{
	struct flush_ctx *f = ctx;
	size_t i;
	json_t *it;
	json_array_foreach(f->items, i, it) {
		const char *kind = json_string_value(json_object_get(it, "kind"));
		const char *key = json_string_value(json_object_get(it, "key"));
		const char *body = json_string_value(json_object_get(it, "body"));
		char target[96];
		snprintf(target, sizeof(target), "%s/%s", kind, key);
		struct vdoc_write w = { .kind = kind, .key = key, .body = body, .body_len = strlen(body),
					.deleted = json_is_true(json_object_get(it, "deleted")), .expect_version = -1,
					.actor = json_string_value(json_object_get(it, "actor")),
					.rationale = json_string_value(json_object_get(it, "rationale")),
					.action = json_string_value(json_object_get(it, "action")), .target = target };
		int rc = vdoc_put_tx(s, f->sg, &w, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int flush(struct alerts *a, struct buf *err)
{
	if (!a->store)
		return 0;
	pthread_mutex_lock(&a->flush_mu);
	pthread_mutex_lock(&a->mu);
	json_t *items = a->queue;
	a->queue = json_array();
	pthread_mutex_unlock(&a->mu);
	int rc = 0;
	if (json_array_size(items)) {
		struct flush_ctx f = { items, a->sg };
		struct buf tmp = BUF_INIT;
		rc = store_write(a->store, flush_tx, &f, err ? err : &tmp);
		if (rc)
			log_error("alerts: %zu changes not stored: %s", json_array_size(items), err ? err->data : tmp.data);
		buf_release(&tmp);
	}
	pthread_mutex_unlock(&a->flush_mu);
	json_decref(items);
	return rc;
}

/* ---- the table of alerts ------------------------------------------------ */

static struct alert *find(struct alerts *a, const char *fp)
{
	json_t *i = json_object_get(a->index, fp);
	return i ? a->v[json_integer_value(i)] : NULL;
}

static void remove_at(struct alerts *a, size_t i)
{
	json_object_del(a->index, a->v[i]->fp);
	alert_free(a->v[i]);
	a->v[i] = a->v[--a->n];
	if (i < a->n)
		json_object_set_new(a->index, a->v[i]->fp, json_integer((json_int_t)i));
}

/* Makes room by forgetting the oldest resolved or inactive alert (it stays in the store). */
static bool make_room(struct alerts *a)
{
	if (a->n < ALERTS_MAX)
		return true;
	size_t best = a->n;
	for (size_t i = 0; i < a->n; i++) {
		const struct alert *al = a->v[i];
		if ((al->state == ALERT_RESOLVED || al->state == ALERT_INACTIVE) &&
		    (best == a->n || al->changed_ns < a->v[best]->changed_ns))
			best = i;
	}
	if (best == a->n)
		return false;
	remove_at(a, best);
	return true;
}

static void insert(struct alerts *a, struct alert *al)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	json_object_set_new(a->index, al->fp, json_integer((json_int_t)a->n));
	a->v[a->n++] = al;
}

/* ---- transitions -------------------------------------------------------- */

static void pending_release(struct pending_transition *p)
{
	free(p->name);
	free(p->service);
	json_decref(p->labels);
}

/* Keeps a copy of one transition for the subscribers (called with mu held). */
static void pending_add(struct alerts *a, const struct alert *al, enum alert_state to, int64_t at)
{
	if (!a->n_subs)
		return;
	if (a->n_pending == ALERTS_MAX_PENDING_TRANSITIONS) {
		/* nobody ticks: forget the oldest rather than grow without bound */
		pending_release(&a->pending[0]);
		memmove(a->pending, a->pending + 1, (a->n_pending - 1) * sizeof(*a->pending));
		a->n_pending--;
		if (a->pending_dropped++ % 1000 == 0)
			log_warn("alerts: %d transitions wait for subscribers; dropping the oldest",
				 ALERTS_MAX_PENDING_TRANSITIONS);
	}
	if (a->n_pending == a->cap_pending) {
		size_t cap = a->cap_pending ? a->cap_pending * 2 : 16;
		struct pending_transition *v = xrealloc(a->pending, cap * sizeof(*v));
		a->pending = v;
		a->cap_pending = cap;
	}
	struct pending_transition *p = &a->pending[a->n_pending++];
	copy_str(p->fp, sizeof(p->fp), al->fp);
	p->name = xstrdup(al->name);
	p->service = xstrdup(al->service);
	p->labels = json_deep_copy(al->labels);
	p->severity = al->severity;
	p->from = al->state;
	p->to = to;
	p->at_ns = at;
}

static void transition(struct alerts *a, struct alert *al, enum alert_state to, int64_t at, const char *why)
{
	pending_add(a, al, to, at);

	char t[40];
	json_t *tr = json_pack("{s:s,s:s,s:s,s:I,s:s}", "from", alert_state_name(al->state), "to",
			       alert_state_name(to), "at", ooda_time_format(at, t, sizeof(t)), "at_ns", (json_int_t)at,
			       "reason", why);
	json_object_set(tr, "evidence", al->evidence);
	json_array_append_new(al->transitions, tr);
	while (json_array_size(al->transitions) > ALERTS_MAX_TRANSITIONS)
		json_array_remove(al->transitions, 0);
	al->state = to;
	al->changed_ns = at;
}

/* An alert's label, with alertname and service standing for its name and service; NULL when it has none. */
static const char *alert_label(const struct alert *al, const char *k)
{
	const char *have = json_string_value(json_object_get(al->labels, k));
	if (!have && !strcmp(k, "alertname"))
		have = al->name;
	if (!have && !strcmp(k, "service"))
		have = al->service;
	return have;
}

static bool silence_matches(const struct silence *s, const struct alert *al, int64_t now)
{
	if (s->deleted || now < s->starts_ns || now >= s->ends_ns)
		return false;
	if (s->name && strcmp(s->name, al->name))
		return false;
	if (s->service && (!al->service || strcmp(s->service, al->service)))
		return false;
	const char *k;
	json_t *v;
	json_object_foreach(s->labels, k, v) {
		const char *have = alert_label(al, k);
		if (!have || strcmp(have, json_string_value(v)))
			return false;
	}
	for (size_t i = 0; i < s->n_m; i++)
		if (!matcher_matches(&s->m[i], alert_label(al, s->m[i].label)))
			return false;
	return true;
}

/* Sets silenced_by from the silences active at now; true when it changed. */
static bool apply_silences(struct alerts *a, struct alert *al, int64_t now)
{
	const char *by = "";
	for (size_t i = 0; i < a->n_sil; i++)
		if (silence_matches(&a->sil[i], al, now)) {
			by = a->sil[i].id;
			break;
		}
	if (!strcmp(by, al->silenced_by))
		return false;
	copy_str(al->silenced_by, sizeof(al->silenced_by), by);
	return true;
}

static void assign_group(struct alerts *a, struct alert *al, int64_t at)
{
	const struct alert *best = NULL;
	for (size_t i = 0; i < a->n; i++) {
		const struct alert *o = a->v[i];
		if (o == al || o->state != ALERT_FIRING || !o->group[0] || at - o->group_started_ns > a->group_window_ns ||
		    o->group_started_ns > at)
			continue;
		if ((!best || o->group_started_ns > best->group_started_ns) && related(a->adj, al, o))
			best = o;
	}
	if (best) {
		copy_str(al->group, sizeof(al->group), best->group);
		al->group_started_ns = best->group_started_ns;
		return;
	}
	char seed[64];
	int n = snprintf(seed, sizeof(seed), "%s/%lld", al->fp, (long long)at);
	snprintf(al->group, sizeof(al->group), "grp_%016llx", (unsigned long long)XXH3_64bits(seed, (size_t)n));
	al->group_started_ns = at;
}

static int cmp_fired(const void *x, const void *y)
{
	const struct alert *a = *(const struct alert *const *)x, *b = *(const struct alert *const *)y;
	if (a->fired_ns != b->fired_ns)
		return a->fired_ns < b->fired_ns ? -1 : 1;
	return strcmp(a->fp, b->fp);
}

/*
 * Recomputes inhibited_by for every firing alert: Y is inhibited by the
 * first X (in firing order, strictly before Y) on another service that Y's
 * service depends on. Persists the alerts whose inhibition changed.
 */
static void apply_inhibition(struct alerts *a)
{
	struct alert **f = xmalloc((a->n + 1) * sizeof(*f));
	size_t nf = 0;
	for (size_t i = 0; i < a->n; i++) {
		struct alert *al = a->v[i];
		if (al->state == ALERT_FIRING)
			f[nf++] = al;
		else if (al->inhibited_by[0])
			al->inhibited_by[0] = '\0';
	}
	qsort(f, nf, sizeof(*f), cmp_fired);
	for (size_t i = 0; i < nf; i++) {
		struct alert *y = f[i];
		const char *by = "";
		for (size_t k = 0; k < i && y->service; k++) {
			const struct alert *x = f[k];
			if (x->service && strcmp(x->service, y->service) && reaches(a->adj, y->service, x->service)) {
				by = x->fp;
				break;
			}
		}
		if (strcmp(by, y->inhibited_by)) {
			char why[160];
			if (*by)
				snprintf(why, sizeof(why), "inhibited: %s depends on a service already alerting (%s)",
					 y->service, by);
			else
				snprintf(why, sizeof(why), "no longer inhibited");
			copy_str(y->inhibited_by, sizeof(y->inhibited_by), by);
			persist(a, y, *by ? "alert.inhibited" : "alert.uninhibited", why);
		}
	}
	free(f);
}

static void fire(struct alerts *a, struct alert *al, int64_t at, const char *why)
{
	transition(a, al, ALERT_FIRING, at, why);
	al->fired_ns = at;
	al->resolved_ns = 0;
	al->cleared_ns = 0;
	assign_group(a, al, at);
	apply_silences(a, al, a->now_ns > at ? a->now_ns : at);
	persist(a, al, "alert.firing", why);
}

static void resolve(struct alerts *a, struct alert *al, int64_t at, const char *why)
{
	transition(a, al, ALERT_RESOLVED, at, why);
	al->resolved_ns = at;
	al->cleared_ns = 0;
	al->inhibited_by[0] = '\0';
	persist(a, al, "alert.resolved", why);
}

static void deactivate(struct alerts *a, struct alert *al, int64_t at, const char *why)
{
	transition(a, al, ALERT_INACTIVE, at, why);
	al->active_ns = 0;
	persist(a, al, "alert.inactive", why);
}

static struct alert *alert_new(const char *fp, const struct alert_signal *s)
{
	struct alert *al = xcalloc(1, sizeof(*al));
	copy_str(al->fp, sizeof(al->fp), fp);
	al->name = xstrdup(s->name);
	al->service = s->service && *s->service ? xstrdup(s->service) : NULL;
	al->labels = json_is_object(s->labels) ? json_deep_copy(s->labels) : json_object();
	al->annotations = json_object();
	al->evidence = json_object();
	al->transitions = json_array();
	al->state = ALERT_INACTIVE;
	al->created_ns = s->at_ns;
	return al;
}

static void on_signal(struct alerts *a, const struct alert_signal *s)
{
	if (!s || !s->name || !*s->name)
		return;
	char fp[17];
	alerts_fingerprint(s->name, s->service && *s->service ? s->service : NULL, s->labels, fp);
	struct alert *al = find(a, fp);
	if (!al) {
		if (!s->active)
			return;
		if (!make_room(a)) {
			if (a->dropped++ % 1000 == 0)
				log_warn("alerts: %d alerts are open; dropping new alert %s", ALERTS_MAX, s->name);
			return;
		}
		al = alert_new(fp, s);
		insert(a, al);
	}
	free(al->source);
	al->source = xstrdup(s->source);
	al->severity = s->severity;
	al->external = s->external;
	al->for_ns = s->for_ns > 0 ? s->for_ns : 0;
	al->keep_ns = s->keep_firing_for_ns > 0 ? s->keep_firing_for_ns : 0;
	if (json_is_object(s->annotations)) {
		json_decref(al->annotations);
		al->annotations = json_deep_copy(s->annotations);
	}
	if (json_is_object(s->evidence)) {
		json_decref(al->evidence);
		al->evidence = json_deep_copy(s->evidence);
	}
	al->last_signal_ns = s->at_ns;
	al->last_active = s->active;
	char why[160];
	if (s->active) {
		al->cleared_ns = 0;
		switch (al->state) {
		case ALERT_INACTIVE:
		case ALERT_RESOLVED:
			al->active_ns = s->since_ns > 0 && s->since_ns < s->at_ns ? s->since_ns : s->at_ns;
			if (s->external || al->for_ns == 0) {
				fire(a, al, s->at_ns, s->external ? "reported firing" : "condition holds");
			} else {
				char d[32];
				snprintf(why, sizeof(why), "condition holds; fires if it holds for %s",
					 ooda_duration_format(al->for_ns, d, sizeof(d)));
				transition(a, al, ALERT_PENDING, s->at_ns, why);
				persist(a, al, "alert.pending", why);
			}
			break;
		case ALERT_PENDING:
			if (s->at_ns - al->active_ns >= al->for_ns)
				fire(a, al, s->at_ns, "condition held for the for duration");
			break;
		default:
			break;
		}
		return;
	}
	switch (al->state) {
	case ALERT_PENDING:
		deactivate(a, al, s->at_ns, "condition cleared before the for duration");
		break;
	case ALERT_FIRING:
		if (s->external || al->keep_ns == 0)
			resolve(a, al, s->at_ns, s->external ? "reported resolved" : "condition cleared");
		else if (!al->cleared_ns)
			al->cleared_ns = s->at_ns;
		break;
	default:
		break;
	}
}

void alerts_signal(struct alerts *a, const struct alert_signal *s)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	on_signal(a, s);
	pthread_mutex_unlock(&a->mu);
	flush(a, NULL);
}

static void sink_signal(void *ctx, const struct alert_signal *s)
{
	alerts_signal(ctx, s);
}

struct alert_sink alerts_sink(struct alerts *a)
{
	return (struct alert_sink){ .signal = sink_signal, .ctx = a };
}

static void refresh_graph(struct alerts *a, int64_t now_ns)
{
	if (!a->live || (a->graph_at_ns && now_ns - a->graph_at_ns < GRAPH_REFRESH_NS && now_ns >= a->graph_at_ns))
		return;
	a->graph_at_ns = now_ns;
	struct buf g = BUF_INIT, err = BUF_INIT;
	if (!live_graph_json(a->live, now_ns, GRAPH_WINDOW_NS, &g, &err))
		alerts_set_graph_json(a, g.data, &err);
	buf_release(&g);
	buf_release(&err);
}

/* Hands the transitions in due to every subscriber, in order, with mu not held; frees due. */
static void notify(struct alerts *a, struct pending_transition *due, size_t n)
{
	pthread_mutex_lock(&a->notify_mu);
	pthread_mutex_lock(&a->mu);
	size_t n_subs = a->n_subs;
	struct subscriber subs[ALERTS_MAX_SUBSCRIBERS];
	memcpy(subs, a->subs, n_subs * sizeof(subs[0]));
	pthread_mutex_unlock(&a->mu);
	for (size_t i = 0; i < n; i++) {
		const struct pending_transition *p = &due[i];
		struct alert_transition t = { .fingerprint = p->fp, .name = p->name, .service = p->service,
					      .labels = p->labels, .severity = p->severity, .from = p->from,
					      .to = p->to, .at_ns = p->at_ns };
		for (size_t k = 0; k < n_subs; k++)
			subs[k].fn(subs[k].ctx, &t);
	}
	pthread_mutex_unlock(&a->notify_mu);
	for (size_t i = 0; i < n; i++)
		pending_release(&due[i]);
	free(due);
}

int alerts_subscribe(struct alerts *a, alerts_subscriber_fn *fn, void *ctx)
{
	pthread_mutex_lock(&a->mu);
	int rc = OODA_ELIMIT;
	if (a->n_subs < ALERTS_MAX_SUBSCRIBERS) {
		a->subs[a->n_subs].fn = fn;
		a->subs[a->n_subs].ctx = ctx;
		a->n_subs++;
		rc = 0;
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int64_t alerts_next_due(struct alerts *a)
{
	if (!a)
		return 0;
	int64_t due = 0;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->n; i++) {
		const struct alert *al = a->v[i];
		int64_t t = 0;
		if (al->state == ALERT_PENDING && al->last_active)
			t = al->active_ns + al->for_ns;
		else if (al->state == ALERT_FIRING && al->cleared_ns)
			t = al->cleared_ns + al->keep_ns;
		if (t && (!due || t < due))
			due = t;
	}
	pthread_mutex_unlock(&a->mu);
	return due;
}

static void silences_follow(struct alerts *a);

void alerts_tick(struct alerts *a, int64_t now_ns)
{
	if (!a)
		return;
	silences_follow(a);
	refresh_graph(a, now_ns);
	pthread_mutex_lock(&a->mu);
	if (now_ns > a->now_ns)
		a->now_ns = now_ns;
	for (size_t i = 0; i < a->n; i++) {
		struct alert *al = a->v[i];
		bool stale = !al->external && now_ns - al->last_signal_ns >= ALERTS_STALE_NS;
		if (al->state == ALERT_PENDING) {
			if (stale)
				deactivate(a, al, now_ns, "no signal for 10 minutes");
			else if (al->last_active && now_ns - al->active_ns >= al->for_ns)
				fire(a, al, now_ns, "condition held for the for duration");
		} else if (al->state == ALERT_FIRING) {
			if (al->cleared_ns && now_ns - al->cleared_ns >= al->keep_ns)
				resolve(a, al, now_ns, "condition cleared for the keep_firing_for duration");
			else if (stale)
				resolve(a, al, now_ns, "no signal for 10 minutes");
		}
	}
	apply_inhibition(a);
	for (size_t i = 0; i < a->n; i++) {
		struct alert *al = a->v[i];
		if (al->state != ALERT_FIRING && al->state != ALERT_PENDING) {
			al->silenced_by[0] = '\0';
			continue;
		}
		if (apply_silences(a, al, now_ns)) {
			char why[96];
			snprintf(why, sizeof(why), al->silenced_by[0] ? "silenced by %s" : "no longer silenced%s",
				 al->silenced_by);
			persist(a, al, al->silenced_by[0] ? "alert.silenced" : "alert.unsilenced", why);
		}
	}
	struct pending_transition *due = a->pending;
	size_t n_due = a->n_pending;
	a->pending = NULL;
	a->n_pending = a->cap_pending = 0;
	pthread_mutex_unlock(&a->mu);
	flush(a, NULL); /* every transition in due is stored (or its failure logged) before anyone hears of it */
	notify(a, due, n_due);
}

void alerts_set_group_window(struct alerts *a, int64_t window_ns)
{
	pthread_mutex_lock(&a->mu);
	a->group_window_ns = window_ns > 0 ? window_ns : ALERTS_DEFAULT_GROUP_WINDOW_NS;
	pthread_mutex_unlock(&a->mu);
}

/* ---- create, load, destroy ---------------------------------------------- */

static int load_alert(void *ctx, const void *row)
{
	struct alerts *a = ctx;
	const struct doc_row *r = row;
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	struct alert *al = j ? alert_from_json(j) : NULL;
	json_decref(j);
	if (!al || find(a, al->fp) || !make_room(a)) {
		alert_free(al);
		return 0;
	}
	insert(a, al);
	return 0;
}

static int load_silence(void *ctx, const void *row)
{
	struct alerts *a = ctx;
	const struct doc_row *r = row;
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	const char *id = json_string_value(json_object_get(j, "id"));
	json_t *ns = json_object_get(j, "ns");
	if (id && json_is_object(ns) && a->n_sil < ALERTS_MAX_SILENCES) {
		struct silence *s = &a->sil[a->n_sil++];
		memset(s, 0, sizeof(*s));
		copy_str(s->id, sizeof(s->id), id);
		s->name = xstrdup(json_string_value(json_object_get(j, "name")));
		s->service = xstrdup(json_string_value(json_object_get(j, "service")));
		s->creator = xstrdup(json_string_value(json_object_get(j, "creator")));
		s->reported_by = xstrdup(json_string_value(json_object_get(j, "reported_by")));
		s->reason = xstrdup(json_string_value(json_object_get(j, "reason")));
		s->labels = obj_or_empty(json_object_get(j, "labels"));
		json_t *ms = json_object_get(j, "matchers");
		size_t i;
		json_t *mv;
		if (json_array_size(ms))
			s->m = xcalloc(json_array_size(ms), sizeof(*s->m));
		json_array_foreach(ms, i, mv) {
			struct buf why = BUF_INIT;
			if (json_is_string(mv) && !matcher_parse(json_string_value(mv), &s->m[s->n_m], &why))
				s->n_m++;
			else
				log_warn("alerts: silence %s: matcher %zu not loaded: %s", s->id, i, why.data);
			buf_release(&why);
		}
		s->starts_ns = json_integer_value(json_object_get(ns, "starts"));
		s->ends_ns = json_integer_value(json_object_get(ns, "ends"));
		s->created_ns = json_integer_value(json_object_get(ns, "created"));
		s->deleted = r->deleted || json_is_true(json_object_get(j, "deleted"));
	}
	json_decref(j);
	return 0;
}

/*
 * Silences made or ended through another node (several nodes on one
 * PostgreSQL) move the silences' generation: when it moved since the
 * silences in memory were read, read them again, so the leader's next tick
 * applies them and every node lists them. The generation is read first, so
 * the copy is at least that new; on failure the silences in memory stay.
 */
static void silences_follow(struct alerts *a)
{
	int64_t gen;
	if (!a->store || store_gen_read(a->store, STORE_GEN_SILENCES, &gen))
		return;
	pthread_mutex_lock(&a->mu);
	if (gen > a->sil_gen) { /* generations only grow: an older read is no news */
		struct silence *old = a->sil;
		size_t n_old = a->n_sil;
		a->sil = xcalloc(ALERTS_MAX_SILENCES, sizeof(*a->sil));
		a->n_sil = 0;
		int rc = vdoc_list(a->store, "silence", "", load_silence, a);
		struct silence *drop = old;
		size_t n_drop = n_old;
		if (rc) {
			log_warn("alerts: silences not read again: %s", ooda_strerror(rc));
			drop = a->sil;
			n_drop = a->n_sil;
			a->sil = old;
			a->n_sil = n_old;
		} else {
			a->sil_gen = gen;
		}
		for (size_t i = 0; i < n_drop; i++)
			silence_release(&drop[i]);
		free(drop);
	}
	pthread_mutex_unlock(&a->mu);
}

int alerts_create(struct store *s, const struct audit_signer *sg, struct live_signals *live, struct alerts **out,
		  struct buf *err)
{
	struct alerts *a = xcalloc(1, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->flush_mu, NULL);
	pthread_mutex_init(&a->notify_mu, NULL);
	a->store = s;
	a->sg = sg;
	a->live = live;
	a->index = json_object();
	a->queue = json_array();
	a->adj = json_object();
	a->group_window_ns = ALERTS_DEFAULT_GROUP_WINDOW_NS;
	a->sil = xcalloc(ALERTS_MAX_SILENCES, sizeof(*a->sil));
	if (s) {
		int rc = store_gen_read(s, STORE_GEN_SILENCES, &a->sil_gen);
		if (!rc)
			rc = vdoc_list(s, "alert", "", load_alert, a);
		if (!rc)
			rc = vdoc_list(s, "silence", "", load_silence, a);
		if (rc) {
			buf_addf(err, "loading alerts and silences: %s", ooda_strerror(rc));
			alerts_destroy(a);
			return rc;
		}
	}
	*out = a;
	return 0;
}

int alerts_reload(struct alerts *a, struct buf *err)
{
	if (!a || !a->store)
		return 0;
	flush(a, NULL);
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->n; i++)
		alert_free(a->v[i]);
	a->n = 0;
	json_object_clear(a->index);
	for (size_t i = 0; i < a->n_sil; i++)
		silence_release(&a->sil[i]);
	a->n_sil = 0;
	int rc = store_gen_read(a->store, STORE_GEN_SILENCES, &a->sil_gen);
	if (!rc)
		rc = vdoc_list(a->store, "alert", "", load_alert, a);
	if (!rc)
		rc = vdoc_list(a->store, "silence", "", load_silence, a);
	size_t n = a->n;
	pthread_mutex_unlock(&a->mu);
	if (rc)
		buf_addf(err, "reloading alerts and silences: %s", ooda_strerror(rc));
	else
		log_info("alerts: %zu alerts read again from the store", n);
	return rc;
}

void alerts_destroy(struct alerts *a)
{
	if (!a)
		return;
	flush(a, NULL);
	for (size_t i = 0; i < a->n; i++)
		alert_free(a->v[i]);
	free(a->v);
	for (size_t i = 0; i < a->n_sil; i++)
		silence_release(&a->sil[i]);
	free(a->sil);
	json_decref(a->index);
	json_decref(a->queue);
	json_decref(a->adj);
	json_decref(a->traced);
	json_decref(a->declared);
	for (size_t i = 0; i < a->n_pending; i++)
		pending_release(&a->pending[i]);
	free(a->pending);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->flush_mu);
	pthread_mutex_destroy(&a->notify_mu);
	free(a);
}

/* ---- views -------------------------------------------------------------- */

static int cmp_listing(const void *x, const void *y)
{
	const struct alert *a = *(const struct alert *const *)x, *b = *(const struct alert *const *)y;
	bool fa = a->state == ALERT_FIRING, fb = b->state == ALERT_FIRING;
	if (fa != fb)
		return fa ? -1 : 1;
	if (a->changed_ns != b->changed_ns)
		return a->changed_ns > b->changed_ns ? -1 : 1;
	return strcmp(a->fp, b->fp);
}

static void dump_into(struct buf *out, json_t *j)
{
	char *t = json_dumps(j, JSON_COMPACT);
	buf_adds(out, t ? t : "null");
	free(t);
	json_decref(j);
}

int alerts_list_json(struct alerts *a, const char *state, struct buf *out, struct buf *err)
{
	enum alert_state want = ALERT_FIRING;
	bool all = state && !strcmp(state, "all");
	if (state && !all && state_parse(state, &want)) {
		buf_addf(err, "state must be firing, pending, resolved, inactive or all, not \"%s\"", state);
		return OODA_EINVAL;
	}
	pthread_mutex_lock(&a->mu);
	struct alert **sel = xmalloc((a->n + 1) * sizeof(*sel));
	size_t n = 0;
	for (size_t i = 0; i < a->n; i++)
		if (all || a->v[i]->state == want)
			sel[n++] = a->v[i];
	qsort(sel, n, sizeof(*sel), cmp_listing);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, alert_json(sel[i], false, false));
	pthread_mutex_unlock(&a->mu);
	free(sel);
	dump_into(out, json_pack("{s:o}", "alerts", arr));
	return 0;
}

int alerts_get_json(struct alerts *a, const char *fingerprint, struct buf *out, struct buf *err)
{
	pthread_mutex_lock(&a->mu);
	struct alert *al = fingerprint ? find(a, fingerprint) : NULL;
	json_t *j = al ? alert_json(al, true, false) : NULL;
	pthread_mutex_unlock(&a->mu);
	if (!j && a->store && fingerprint) {
		/* forgotten from memory but still stored */
		struct vdoc d;
		struct buf ignore = BUF_INIT;
		if (!vdoc_get(a->store, "alert", fingerprint, 0, &d, &ignore)) {
			json_t *sj = json_loadb(d.body, d.body_len, 0, NULL);
			if (json_is_object(sj)) {
				json_object_del(sj, "ns");
				j = sj;
			} else {
				json_decref(sj);
			}
			vdoc_release(&d);
		}
		buf_release(&ignore);
	}
	if (!j) {
		buf_addf(err, "no alert with fingerprint \"%s\"", fingerprint ? fingerprint : "");
		return OODA_ENOTFOUND;
	}
	dump_into(out, j);
	return 0;
}

int alerts_state(struct alerts *a, const char *fingerprint, enum alert_state *state, bool *notify)
{
	pthread_mutex_lock(&a->mu);
	struct alert *al = find(a, fingerprint);
	if (al) {
		*state = al->state;
		*notify = al->state == ALERT_FIRING && !al->inhibited_by[0] && !al->silenced_by[0];
	}
	pthread_mutex_unlock(&a->mu);
	return al ? 0 : OODA_ENOTFOUND;
}

int alerts_groups_json(struct alerts *a, bool all, struct buf *out, struct buf *err)
{
	json_t *groups = json_object(), *order = json_array();
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->n; i++) {
		const struct alert *al = a->v[i];
		if (!al->group[0])
			continue;
		json_t *g = json_object_get(groups, al->group);
		if (!g) {
			g = json_pack("{s:s,s:o,s:I,s:s,s:[],s:[]}", "id", al->group, "started",
				      json_time_or_null(al->group_started_ns), "started_ns", (json_int_t)al->group_started_ns,
				      "state", "resolved", "services", "alerts");
			json_object_set_new(groups, al->group, g);
			json_array_append(order, g);
		}
		if (al->state == ALERT_FIRING)
			json_object_set_new(g, "state", json_string("firing"));
		json_t *svcs = json_object_get(g, "services");
		if (al->service) {
			bool seen = false;
			size_t k;
			json_t *sv;
			json_array_foreach(svcs, k, sv) seen |= !strcmp(json_string_value(sv), al->service);
			if (!seen)
				json_array_append_new(svcs, json_string(al->service));
		}
		bool notify = al->state == ALERT_FIRING && !al->inhibited_by[0] && !al->silenced_by[0];
		json_array_append_new(json_object_get(g, "alerts"),
				      json_pack("{s:s,s:s,s:o,s:s,s:b,s:o}", "fingerprint", al->fp, "name", al->name,
						"service", str_or_null(al->service), "state",
						alert_state_name(al->state), "notify", notify, "inhibited_by",
						str_or_null(al->inhibited_by)));
	}
	pthread_mutex_unlock(&a->mu);
	json_t *res = json_array();
	/* newest first: a selection sort over a short list */
	while (json_array_size(order)) {
		size_t best = 0;
		for (size_t i = 1; i < json_array_size(order); i++)
			if (json_integer_value(json_object_get(json_array_get(order, i), "started_ns")) >
			    json_integer_value(json_object_get(json_array_get(order, best), "started_ns")))
				best = i;
		json_t *g = json_incref(json_array_get(order, best));
		json_array_remove(order, best);
		json_object_del(g, "started_ns");
		if (all || !strcmp(json_string_value(json_object_get(g, "state")), "firing"))
			json_array_append(res, g);
		json_decref(g);
	}
	json_decref(order);
	json_decref(groups);
	dump_into(out, json_pack("{s:o}", "groups", res));
	return 0;
}

/* ---- silences ----------------------------------------------------------- */

#define SILENCE_MAX_STR 256

static int opt_str(const json_t *req, const char *key, const char **out, struct buf *err)
{
	json_t *v = json_object_get(req, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > SILENCE_MAX_STR) {
		buf_addf(err, "%s: expected a non-empty string of at most %d characters", key, SILENCE_MAX_STR);
		return OODA_EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

static int opt_time(const json_t *req, const char *key, int64_t *out, struct buf *err)
{
	json_t *v = json_object_get(req, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || ooda_time_parse(json_string_value(v), json_string_length(v), out)) {
		buf_addf(err, "%s: expected an RFC 3339 time", key);
		return OODA_EINVAL;
	}
	return 0;
}

int alerts_silence_create(struct alerts *a, const json_t *req, const char *actor, int64_t now_ns, char id[32],
			  struct buf *err)
{
	if (!json_is_object(req)) {
		buf_adds(err, "a silence is a JSON object");
		return OODA_EINVAL;
	}
	const char *name, *service, *reason, *dur;
	int rc;
	if ((rc = opt_str(req, "name", &name, err)) || (rc = opt_str(req, "service", &service, err)) ||
	    (rc = opt_str(req, "reason", &reason, err)) || (rc = opt_str(req, "duration", &dur, err)))
		return rc;
	json_t *labels = json_object();
	json_t *lj = json_object_get(req, "labels"), *mj = json_object_get(req, "matchers");
	if (lj && !json_is_object(lj) && !json_is_null(lj)) {
		buf_adds(err, "labels: expected an object of label: value");
		rc = OODA_EINVAL;
	}
	const char *k;
	json_t *v;
	json_object_foreach(lj, k, v) {
		if (!json_is_string(v) || json_string_length(v) > SILENCE_MAX_STR || strlen(k) > SILENCE_MAX_STR) {
			buf_addf(err, "labels.%s: expected a string value", k);
			rc = OODA_EINVAL;
			break;
		}
		json_object_set(labels, k, v);
	}
	if (mj && !json_is_array(mj) && !json_is_null(mj)) {
		buf_adds(err, "matchers: expected a list of \"label=value\", \"label!=value\", \"label=~regex\" or \"label!~regex\"");
		rc = OODA_EINVAL;
	}
	if (!rc && json_array_size(mj) > SILENCE_MAX_MATCHERS) {
		buf_addf(err, "matchers: at most %d", SILENCE_MAX_MATCHERS);
		rc = OODA_EINVAL;
	}
	/* label=value joins labels (as before); the other operators, and label="", are kept as matchers */
	struct silence_matcher *ms = json_array_size(mj) ? xcalloc(json_array_size(mj), sizeof(*ms)) : NULL;
	size_t n_ms = 0, i;
	json_array_foreach(mj, i, v) {
		if (rc)
			break;
		struct buf why = BUF_INIT;
		if (!json_is_string(v) || matcher_parse(json_string_value(v), &ms[n_ms], &why)) {
			buf_addf(err, "matchers[%zu]: %s", i, why.len ? why.data : "expected a string");
			buf_release(&why);
			rc = OODA_EINVAL;
			break;
		}
		if (ms[n_ms].op == MATCH_EQ && *ms[n_ms].value) { /* k="" stays a matcher: it matches a missing label */
			json_object_set_new(labels, ms[n_ms].label, json_string(ms[n_ms].value));
			matcher_release(&ms[n_ms]);
		} else {
			n_ms++;
		}
	}
	int64_t starts = now_ns, ends = 0, d = 0;
	if (!rc && !(rc = opt_time(req, "starts_at", &starts, err)) && !(rc = opt_time(req, "ends_at", &ends, err))) {
		if (dur && (ooda_duration_parse(dur, strlen(dur), &d) || d <= 0)) {
			buf_addf(err, "duration: \"%s\" is not a positive duration like 2h", dur);
			rc = OODA_EINVAL;
		} else if (dur) {
			ends = starts + d;
		}
	}
	if (!rc && !name && !service && json_object_size(labels) == 0 && !n_ms) {
		buf_adds(err, "a silence needs at least one matcher: name, service or labels");
		rc = OODA_EINVAL;
	} else if (!rc && !ends) {
		buf_adds(err, "a silence needs an end: ends_at or duration");
		rc = OODA_EINVAL;
	} else if (!rc && ends <= starts) {
		buf_adds(err, "ends_at must be after starts_at");
		rc = OODA_EINVAL;
	} else if (!rc && ends <= now_ns) {
		buf_adds(err, "ends_at is in the past");
		rc = OODA_EINVAL;
	} else if (!rc && !reason) {
		buf_adds(err, "reason: say why this is silenced (it is audited)");
		rc = OODA_EINVAL;
	}
	if (rc) {
		json_decref(labels);
		for (size_t mi = 0; mi < n_ms; mi++)
			matcher_release(&ms[mi]);
		free(ms);
		return rc;
	}
	pthread_mutex_lock(&a->mu);
	/* make room by dropping silences that ended */
	for (size_t j = 0; j < a->n_sil;) {
		if (a->n_sil >= ALERTS_MAX_SILENCES && (a->sil[j].deleted || a->sil[j].ends_ns <= now_ns)) {
			silence_release(&a->sil[j]);
			a->sil[j] = a->sil[--a->n_sil];
		} else {
			j++;
		}
	}
	if (a->n_sil >= ALERTS_MAX_SILENCES) {
		pthread_mutex_unlock(&a->mu);
		json_decref(labels);
		for (size_t mi = 0; mi < n_ms; mi++)
			matcher_release(&ms[mi]);
		free(ms);
		buf_addf(err, "already %d active silences", ALERTS_MAX_SILENCES);
		return OODA_ELIMIT;
	}
	struct silence *s = &a->sil[a->n_sil++];
	memset(s, 0, sizeof(*s));
	uint8_t rnd[6];
	randombytes_buf(rnd, sizeof(rnd));
	char hex[13];
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(s->id, sizeof(s->id), "sil_%s", hex);
	s->name = xstrdup(name);
	s->service = xstrdup(service);
	s->labels = labels;
	s->m = ms;
	s->n_m = n_ms;
	s->starts_ns = starts;
	s->ends_ns = ends;
	s->created_ns = now_ns;
	s->creator = xstrdup(actor ? actor : "unknown");
	const char *claimed = json_string_value(json_object_get(req, "creator"));
	if (claimed && *claimed && strlen(claimed) <= 128 && strcmp(claimed, s->creator))
		s->reported_by = xstrdup(claimed);
	s->reason = xstrdup(reason);
	copy_str(id, 32, s->id);
	enqueue(a, "silence", s->id, silence_json(s, now_ns, true), false, "silence.create", s->creator, s->reason);
	pthread_mutex_unlock(&a->mu);
	return flush(a, err);
}

int alerts_silences_json(struct alerts *a, bool all, int64_t now_ns, struct buf *out)
{
	json_t *arr = json_array();
	silences_follow(a);
	pthread_mutex_lock(&a->mu);
	for (size_t i = a->n_sil; i-- > 0;) {
		const struct silence *s = &a->sil[i];
		if (all || (!s->deleted && s->ends_ns > now_ns))
			json_array_append_new(arr, silence_json(s, now_ns, false));
	}
	pthread_mutex_unlock(&a->mu);
	dump_into(out, json_pack("{s:o}", "silences", arr));
	return 0;
}

int alerts_silence_delete(struct alerts *a, const char *id, const char *actor, struct buf *err)
{
	int64_t now = ooda_now_ns();
	silences_follow(a);
	pthread_mutex_lock(&a->mu);
	struct silence *s = NULL;
	for (size_t i = 0; i < a->n_sil && id; i++)
		if (!strcmp(a->sil[i].id, id) && !a->sil[i].deleted)
			s = &a->sil[i];
	if (!s) {
		pthread_mutex_unlock(&a->mu);
		buf_addf(err, "no silence \"%s\"", id ? id : "");
		return OODA_ENOTFOUND;
	}
	s->deleted = true;
	if (s->ends_ns > now)
		s->ends_ns = now;
	enqueue(a, "silence", s->id, silence_json(s, now, true), true, "silence.delete", actor ? actor : "unknown",
		"silence ended early");
	pthread_mutex_unlock(&a->mu);
	return flush(a, err);
}

void alerts_metrics(struct alerts *a, struct buf *out)
{
	uint64_t by_state[4] = { 0 }, inhibited = 0, silenced = 0;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->n; i++) {
		const struct alert *al = a->v[i];
		if (al->state <= ALERT_RESOLVED)
			by_state[al->state]++;
		if (al->state == ALERT_FIRING && al->inhibited_by[0])
			inhibited++;
		if (al->state == ALERT_FIRING && al->silenced_by[0])
			silenced++;
	}
	size_t silences = a->n_sil;
	int64_t dropped = a->dropped;
	pthread_mutex_unlock(&a->mu);
	buf_adds(out, "# HELP ooda_alerts Alerts by state.\n# TYPE ooda_alerts gauge\n");
	for (int st = ALERT_INACTIVE; st <= ALERT_RESOLVED; st++)
		buf_addf(out, "ooda_alerts{state=\"%s\"} %llu\n", alert_state_name((enum alert_state)st),
			 (unsigned long long)by_state[st]);
	buf_addf(out,
		 "# HELP ooda_alerts_firing_inhibited Firing alerts inhibited by a firing dependency.\n"
		 "# TYPE ooda_alerts_firing_inhibited gauge\nooda_alerts_firing_inhibited %llu\n"
		 "# HELP ooda_alerts_firing_silenced Firing alerts matched by a silence.\n"
		 "# TYPE ooda_alerts_firing_silenced gauge\nooda_alerts_firing_silenced %llu\n"
		 "# HELP ooda_silences Silences known (active or not yet expired from memory).\n"
		 "# TYPE ooda_silences gauge\nooda_silences %zu\n"
		 "# HELP ooda_alert_writes_dropped_total Alert transitions that could not be queued for the store.\n"
		 "# TYPE ooda_alert_writes_dropped_total counter\nooda_alert_writes_dropped_total %lld\n",
		 (unsigned long long)inhibited, (unsigned long long)silenced, silences, (long long)dropped);
}
