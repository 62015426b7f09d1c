/*
 * flagd flag sets: loading and validating a flag-definition document,
 * compiling targeting once per flag, and evaluating flags with flagd's
 * semantics, plus flagd's custom JsonLogic operators (fractional, sem_ver,
 * starts_with, ends_with) registered as hooks. A loaded set is immutable;
 * evaluation reads it and keeps its own state on the stack, so one set
 * serves many threads.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <xxhash.h>

#include "change/flag.h"
#include "change/jsonlogic.h"
#include "change/murmur3.h"
#include "core/arena.h"
#include "core/error.h"

/* ---- flagd custom operators ---- */

static bool val_str(const struct jl_val *v, char *tmp, size_t cap, const char **s, size_t *len)
{
	if (v->kind == JL_STR) {
		*s = v->str.s;
		*len = v->str.len;
		return true;
	}
	if (v->kind == JL_NUM) {
		*len = jl_format_number(v->n, tmp, cap);
		*s = tmp;
		return true;
	}
	return false;
}

/* fractional: [bucketBy?, [variant, weight?], ...] → the chosen variant, or
 * null when the arguments do not allow a choice. */
static int op_fractional(struct jl_eval *ev, const struct jl_val *args, size_t nargs,
			 struct jl_val *out, void *user)
{
	const char *key = NULL;
	size_t keylen = 0, first = 0;
	char stackbuf[256];

	*out = (struct jl_val){ .kind = JL_NULL };
	if (nargs == 0)
		return 0;
	if (args[0].kind == JL_STR) {
		key = args[0].str.s;
		keylen = args[0].str.len;
		first = 1;
	} else {
		if (args[0].kind == JL_NULL)
			first = 1;
		const json_t *tk = ev->data ? json_object_get(ev->data, "targetingKey") : NULL;
		if (!json_is_string(tk))
			return 0;
		size_t fl = ev->flag_key ? strlen(ev->flag_key) : 0, tl = json_string_length(tk);
		char *k = fl + tl <= sizeof(stackbuf) ? stackbuf : jl_alloc(ev, fl + tl);
		if (!k)
			return 0;
		if (fl)
			memcpy(k, ev->flag_key, fl);
		memcpy(k + fl, json_string_value(tk), tl);
		key = k;
		keylen = fl + tl;
	}
	if (first >= nargs)
		return 0;

	uint64_t total = 0;
	for (size_t i = first; i < nargs; i++) {
		const struct jl_val *b = &args[i];
		if (b->kind != JL_ARR && b->kind != JL_JSON)
			return 0;
		struct jl_val name, w = { .kind = JL_NUM, .n = 1 };
		if (b->kind == JL_ARR) {
			if (b->arr.n < 1 || b->arr.n > 2)
				return 0;
			name = b->arr.items[0];
			if (b->arr.n == 2)
				w = b->arr.items[1];
		} else {
			size_t n = json_is_array(b->json) ? json_array_size(b->json) : 0;
			if (n < 1 || n > 2)
				return 0;
			name = jl_from_json(json_array_get(b->json, 0));
			if (n == 2)
				w = jl_from_json(json_array_get(b->json, 1));
		}
		if (name.kind != JL_STR && name.kind != JL_BOOL)
			return 0;
		if (w.kind != JL_NUM || w.n != w.n)
			return 0;
		if (w.n > 0)
			total += w.n > 2147483647.0 ? 2147483647u : (uint64_t)w.n;
	}
	if (total == 0 || total > UINT32_MAX)
		return 0;

	uint32_t hash = murmur3_x86_32(key, keylen, 0);
	uint64_t bucket = ((uint64_t)hash * total) >> 32, cum = 0;
	for (size_t i = first; i < nargs; i++) {
		const struct jl_val *b = &args[i];
		struct jl_val name, w = { .kind = JL_NUM, .n = 1 };
		size_t n = b->kind == JL_ARR ? b->arr.n : json_array_size(b->json);
		if (b->kind == JL_ARR) {
			name = b->arr.items[0];
			if (n == 2)
				w = b->arr.items[1];
		} else {
			name = jl_from_json(json_array_get(b->json, 0));
			if (n == 2)
				w = jl_from_json(json_array_get(b->json, 1));
		}
		if (w.n > 0)
			cum += w.n > 2147483647.0 ? 2147483647u : (uint64_t)w.n;
		if (bucket < cum) {
			*out = name;
			return 0;
		}
	}
	return 0;
}

struct semver {
	uint64_t v[3];
	const char *pre;
	size_t prelen;
};

static bool semver_parse(const char *s, size_t len, struct semver *sv)
{
	if (len && (s[0] == 'v' || s[0] == 'V'))
		s++, len--;
	const char *plus = memchr(s, '+', len);
	if (plus)
		len = (size_t)(plus - s);
	const char *dash = memchr(s, '-', len);
	size_t core = dash ? (size_t)(dash - s) : len;
	sv->pre = dash ? dash + 1 : NULL;
	sv->prelen = dash ? len - core - 1 : 0;
	if (dash) {
		if (!sv->prelen)
			return false;
		size_t idl = 0;
		for (size_t i = 0; i <= sv->prelen; i++) {
			if (i == sv->prelen || sv->pre[i] == '.') {
				if (!idl)
					return false;
				idl = 0;
				continue;
			}
			char c = sv->pre[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
				return false;
			idl++;
		}
	}
	int part = 0;
	size_t digits = 0;
	sv->v[0] = sv->v[1] = sv->v[2] = 0;
	for (size_t i = 0; i <= core; i++) {
		if (i == core || s[i] == '.') {
			if (!digits)
				return false;
			digits = 0;
			if (i < core && ++part > 2)
				return false;
			continue;
		}
		if (s[i] < '0' || s[i] > '9' || ++digits > 18)
			return false;
		sv->v[part] = sv->v[part] * 10 + (uint64_t)(s[i] - '0');
	}
	return core > 0;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

static int semver_cmp(const struct semver *a, const struct semver *b)
{
	for (int i = 0; i < 3; i++)
		if (a->v[i] != b->v[i])
			return a->v[i] < b->v[i] ? -1 : 1;
	if (!a->pre || !b->pre)
		return a->pre ? -1 : b->pre ? 1 : 0;
	const char *p = a->pre, *pe = a->pre + a->prelen, *q = b->pre, *qe = b->pre + b->prelen;
	while (p < pe && q < qe) {
		const char *pd = memchr(p, '.', (size_t)(pe - p)), *qd = memchr(q, '.', (size_t)(qe - q));
		size_t pl = (size_t)((pd ? pd : pe) - p), ql = (size_t)((qd ? qd : qe) - q);
		bool pn = all_digits(p, pl), qn = all_digits(q, ql);
		int c;
		if (pn && qn) {
			c = pl != ql ? (pl < ql ? -1 : 1) : memcmp(p, q, pl);
		} else if (pn != qn) {
			c = pn ? -1 : 1;
		} else {
			c = memcmp(p, q, pl < ql ? pl : ql);
			if (!c && pl != ql)
				c = pl < ql ? -1 : 1;
		}
		if (c)
			return c < 0 ? -1 : 1;
		p += pl + (pd ? 1 : 0);
		q += ql + (qd ? 1 : 0);
		if (!pd || !qd) {
			if (pd || qd)
				return pd ? 1 : -1;
			return 0;
		}
	}
	return 0;
}

static int op_sem_ver(struct jl_eval *ev, const struct jl_val *args, size_t nargs, struct jl_val *out,
		      void *user)
{
	char t1[40], t2[40];
	const char *vs, *ts;
	size_t vl, tl;
	struct semver a, b;
	*out = (struct jl_val){ .kind = JL_NULL };
	if (nargs != 3 || args[1].kind != JL_STR)
		return 0;
	if (!val_str(&args[0], t1, sizeof(t1), &vs, &vl) || !val_str(&args[2], t2, sizeof(t2), &ts, &tl))
		return 0;
	if (!semver_parse(vs, vl, &a) || !semver_parse(ts, tl, &b))
		return 0;
	const char *op = args[1].str.s;
	size_t ol = args[1].str.len;
	int c = semver_cmp(&a, &b);
	bool r;
#define OPIS(lit) (ol == sizeof(lit) - 1 && !memcmp(op, lit, ol))
	if (OPIS("="))
		r = c == 0;
	else if (OPIS("!="))
		r = c != 0;
	else if (OPIS("<"))
		r = c < 0;
	else if (OPIS("<="))
		r = c <= 0;
	else if (OPIS(">"))
		r = c > 0;
	else if (OPIS(">="))
		r = c >= 0;
	else if (OPIS("^"))
		r = a.v[0] == b.v[0];
	else if (OPIS("~"))
		r = a.v[0] == b.v[0] && a.v[1] == b.v[1];
	else
		return 0;
#undef OPIS
	*out = (struct jl_val){ .kind = JL_BOOL, .b = r };
	return 0;
}

static int op_affix(const struct jl_val *args, size_t nargs, struct jl_val *out, bool prefix)
{
	*out = (struct jl_val){ .kind = JL_NULL };
	if (nargs != 2 || args[0].kind != JL_STR || args[1].kind != JL_STR)
		return 0;
	const struct jl_val *s = &args[0], *a = &args[1];
	bool r = a->str.len <= s->str.len &&
		 !memcmp(prefix ? s->str.s : s->str.s + s->str.len - a->str.len, a->str.s, a->str.len);
	*out = (struct jl_val){ .kind = JL_BOOL, .b = r };
	return 0;
}

static int op_starts_with(struct jl_eval *ev, const struct jl_val *args, size_t nargs,
			  struct jl_val *out, void *user)
{
	return op_affix(args, nargs, out, true);
}

static int op_ends_with(struct jl_eval *ev, const struct jl_val *args, size_t nargs,
			struct jl_val *out, void *user)
{
	return op_affix(args, nargs, out, false);
}

static struct jl_registry *flagd_reg;
static pthread_once_t flagd_once = PTHREAD_ONCE_INIT;

static void flagd_registry_init(void)
{
	flagd_reg = jl_registry_create();
	jl_registry_add(flagd_reg, "fractional", op_fractional, NULL);
	jl_registry_add(flagd_reg, "sem_ver", op_sem_ver, NULL);
	jl_registry_add(flagd_reg, "starts_with", op_starts_with, NULL);
	jl_registry_add(flagd_reg, "ends_with", op_ends_with, NULL);
}

const struct jl_registry *flagd_registry(void)
{
	pthread_once(&flagd_once, flagd_registry_init);
	return flagd_reg;
}

/* ---- the flag set ---- */

struct variant {
	const char *name;
	size_t len;
	const json_t *value;
};

struct flag {
	const char *key;
	const json_t *json;
	bool enabled;
	enum flag_type type; /* BOOLEAN, STRING, FLOAT (any number) or OBJECT */
	struct variant *variants;
	size_t nvariants;
	int default_idx; /* -1: none, the caller's default applies */
	struct jl_rule *targeting; /* NULL: no targeting */
	const char *parse_error;   /* targeting that did not compile */
	json_t *metadata;          /* merged, owned */
};

struct flag_set {
	json_t *doc;
	json_t *metadata;
	struct flag *flags; /* sorted by key */
	size_t n;
	uint32_t *index; /* open addressing: flag index + 1, 0 = empty */
	size_t icap;
	struct arena mem;
	char etag[24];
};

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static const struct flag *find_flag(const struct flag_set *fs, const char *key)
{
	if (!fs->icap)
		return NULL;
	size_t mask = fs->icap - 1;
	for (size_t i = (size_t)key_hash(key) & mask;; i = (i + 1) & mask) {
		uint32_t slot = fs->index[i];
		if (!slot)
			return NULL;
		if (!strcmp(fs->flags[slot - 1].key, key))
			return &fs->flags[slot - 1];
	}
}

static enum flag_type class_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_TRUE:
	case JSON_FALSE:
		return FLAG_TYPE_BOOLEAN;
	case JSON_STRING:
		return FLAG_TYPE_STRING;
	case JSON_INTEGER:
	case JSON_REAL:
		return FLAG_TYPE_FLOAT;
	case JSON_OBJECT:
		return FLAG_TYPE_OBJECT;
	default:
		return FLAG_TYPE_ANY;
	}
}

enum flag_type flag_type_of(const json_t *v)
{
	enum flag_type t = class_of(v);
	if (t == FLAG_TYPE_FLOAT) {
		double d = json_number_value(v);
		if (json_is_integer(v) || (fabs(d) < 9007199254740992.0 && d == trunc(d)))
			return FLAG_TYPE_INTEGER;
	}
	return t;
}

static const char *type_name(enum flag_type t)
{
	static const char *names[] = { "any", "boolean", "string", "integer", "number", "object" };
	return names[t];
}

static int check_metadata(const json_t *m, const char *where, struct buf *err)
{
	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m)) {
		buf_addf(err, "%s/metadata: must be an object", where);
		return OODA_EINVAL;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)m, k, v) {
		if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v)) {
			buf_addf(err, "%s/metadata/%s: must be a string, number or boolean", where, k);
			return OODA_EINVAL;
		}
	}
	return 0;
}

static int load_flag(struct flag_set *fs, struct flag *f, const char *key, const json_t *j,
		     const json_t *evaluators, unsigned options, struct buf *err)
{
	char where[300];
	snprintf(where, sizeof(where), "flag \"%s\": /flags/%s", key, key);
	f->key = arena_strdup(&fs->mem, key);
	f->json = j;
	f->default_idx = -1;
	if (!json_is_object(j)) {
		buf_addf(err, "%s: must be an object", where);
		return OODA_EINVAL;
	}
	const json_t *state = json_object_get(j, "state");
	if (!json_is_string(state) ||
	    (strcmp(json_string_value(state), "ENABLED") && strcmp(json_string_value(state), "DISABLED"))) {
		buf_addf(err, "%s/state: must be \"ENABLED\" or \"DISABLED\"", where);
		return OODA_EINVAL;
	}
	f->enabled = !strcmp(json_string_value(state), "ENABLED");

	const json_t *vars = json_object_get(j, "variants");
	if (!json_is_object(vars) || json_object_size(vars) == 0) {
		buf_addf(err, "%s/variants: must be an object with at least one variant", where);
		return OODA_EINVAL;
	}
	f->nvariants = json_object_size(vars);
	f->variants = arena_zalloc(&fs->mem, f->nvariants * sizeof(*f->variants));
	size_t i = 0;
	const char *vk;
	json_t *vv;
	json_object_foreach((json_t *)vars, vk, vv) {
		enum flag_type t = class_of(vv);
		if (!*vk) {
			buf_addf(err, "%s/variants: a variant name must not be empty", where);
			return OODA_EINVAL;
		}
		if (t == FLAG_TYPE_ANY) {
			buf_addf(err, "%s/variants/%s: must be a boolean, string, number or object", where, vk);
			return OODA_EINVAL;
		}
		if (i && t != f->type) {
			buf_addf(err, "%s/variants/%s: is a %s but variant \"%s\" is a %s; all variants must share one type",
				 where, vk, type_name(t), f->variants[0].name, type_name(f->type));
			return OODA_EINVAL;
		}
		f->type = t;
		f->variants[i].name = arena_strdup(&fs->mem, vk);
		f->variants[i].len = strlen(vk);
		f->variants[i].value = vv;
		i++;
	}

	const json_t *dv = json_object_get(j, "defaultVariant");
	if (dv && !json_is_null(dv)) {
		if (!json_is_string(dv)) {
			buf_addf(err, "%s/defaultVariant: must be a string or null", where);
			return OODA_EINVAL;
		}
		for (size_t k = 0; k < f->nvariants; k++)
			if (!strcmp(f->variants[k].name, json_string_value(dv)))
				f->default_idx = (int)k;
		if (f->default_idx < 0) {
			buf_addf(err, "%s/defaultVariant: \"%s\" is not one of the variants", where,
				 json_string_value(dv));
			return OODA_EINVAL;
		}
	}

	int rc = check_metadata(json_object_get(j, "metadata"), where, err);
	if (rc)
		return rc;
	f->metadata = json_deep_copy(fs->metadata);
	if (json_is_object(json_object_get(j, "metadata")))
		json_object_update(f->metadata, json_object_get(j, "metadata"));

	const json_t *t = json_object_get(j, "targeting");
	if (t && !json_is_null(t)) {
		if (!json_is_object(t)) {
			buf_addf(err, "%s/targeting: must be an object (a JsonLogic rule)", where);
			return OODA_EINVAL;
		}
		if (json_object_size(t) == 0)
			return 0;
		char tw[320];
		snprintf(tw, sizeof(tw), "%s/targeting", where);
		struct buf cerr = BUF_INIT;
		rc = jl_compile(t, flagd_registry(), evaluators, tw, &f->targeting, &cerr);
		if (rc) {
			if (options & FLAG_LOAD_STRICT) {
				buf_add(err, cerr.data, cerr.len);
				buf_release(&cerr);
				/* a document past the compiler's bounds is bad input, not a server limit */
				return rc == OODA_ELIMIT ? OODA_EINVAL : rc;
			}
			f->parse_error = arena_strdup(&fs->mem, cerr.data);
			buf_release(&cerr);
		}
	}
	return 0;
}

static int cmp_flag(const void *a, const void *b)
{
	return strcmp(((const struct flag *)a)->key, ((const struct flag *)b)->key);
}

void flag_set_destroy(struct flag_set *fs)
{
	if (!fs)
		return;
	for (size_t i = 0; i < fs->n; i++) {
		jl_rule_destroy(fs->flags[i].targeting);
		json_decref(fs->flags[i].metadata);
	}
	free(fs->flags);
	free(fs->index);
	json_decref(fs->metadata);
	json_decref(fs->doc);
	arena_release(&fs->mem);
	free(fs);
}

int flag_set_load(const char *json, size_t len, unsigned options, struct flag_set **out,
		  struct buf *err)
{
	*out = NULL;
	if (!json) {
		buf_adds(err, "flag definitions: no document");
		return OODA_EINVAL;
	}
	json_error_t je;
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		buf_addf(err, "flag definitions: line %d column %d: %s", je.line, je.column, je.text);
		return OODA_EPARSE;
	}
	struct flag_set *fs = xcalloc(1, sizeof(*fs));
	fs->doc = doc;
	arena_init(&fs->mem, 0);
	int rc = OODA_EINVAL;
	if (!json_is_object(doc)) {
		buf_adds(err, "flag definitions: the document must be a JSON object");
		goto fail;
	}
	const json_t *flags = json_object_get(doc, "flags");
	const json_t *evaluators = json_object_get(doc, "$evaluators");
	if (!json_is_object(flags) && !json_is_array(flags)) {
		buf_adds(err, "flag definitions: /flags must be an object (or an array of flags with keys)");
		goto fail;
	}
	if (evaluators && !json_is_object(evaluators)) {
		buf_adds(err, "flag definitions: /$evaluators must be an object");
		goto fail;
	}
	if ((rc = check_metadata(json_object_get(doc, "metadata"), "flag definitions: ", err)))
		goto fail;
	fs->metadata = json_is_object(json_object_get(doc, "metadata")) ?
			       json_deep_copy(json_object_get(doc, "metadata")) : json_object();

	size_t n = json_is_object(flags) ? json_object_size(flags) : json_array_size(flags);
	fs->flags = xcalloc(n ? n : 1, sizeof(*fs->flags));
	if (json_is_object(flags)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)flags, k, v) {
			if (!*k) {
				buf_adds(err, "flag definitions: /flags: a flag key must not be empty");
				rc = OODA_EINVAL;
				goto fail;
			}
			if ((rc = load_flag(fs, &fs->flags[fs->n++], k, v, evaluators, options, err)))
				goto fail;
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			const json_t *v = json_array_get(flags, i);
			const json_t *k = json_object_get(v, "key");
			if (!json_is_string(k) || !json_string_length(k)) {
				buf_addf(err, "flag definitions: /flags/%zu/key: must be a non-empty string", i);
				rc = OODA_EINVAL;
				goto fail;
			}
			if ((rc = load_flag(fs, &fs->flags[fs->n++], json_string_value(k), v, evaluators,
					    options, err)))
				goto fail;
		}
	}
	qsort(fs->flags, fs->n, sizeof(*fs->flags), cmp_flag);
	for (size_t i = 1; i < fs->n; i++) {
		if (!strcmp(fs->flags[i].key, fs->flags[i - 1].key)) {
			buf_addf(err, "flag \"%s\": defined twice", fs->flags[i].key);
			rc = OODA_EINVAL;
			goto fail;
		}
	}
	fs->icap = 8;
	while (fs->icap < fs->n * 2)
		fs->icap *= 2;
	fs->index = xcalloc(fs->icap, sizeof(*fs->index));
	for (size_t i = 0; i < fs->n; i++) {
		size_t s = (size_t)key_hash(fs->flags[i].key) & (fs->icap - 1);
		while (fs->index[s])
			s = (s + 1) & (fs->icap - 1);
		fs->index[s] = (uint32_t)(i + 1);
	}
	char *canon = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(fs->etag, sizeof(fs->etag), "\"%016llx\"",
		 (unsigned long long)XXH3_64bits(canon ? canon : "", canon ? strlen(canon) : 0));
	free(canon);
	*out = fs;
	return 0;
fail:
	flag_set_destroy(fs);
	return rc;
}

size_t flag_set_count(const struct flag_set *fs)
{
	return fs->n;
}

const char *flag_set_key(const struct flag_set *fs, size_t i)
{
	return i < fs->n ? fs->flags[i].key : NULL;
}

const json_t *flag_set_flag_json(const struct flag_set *fs, const char *key)
{
	const struct flag *f = find_flag(fs, key);
	return f ? f->json : NULL;
}

const json_t *flag_set_metadata(const struct flag_set *fs)
{
	return fs->metadata;
}

const char *flag_set_etag(const struct flag_set *fs)
{
	return fs->etag;
}

/* ---- evaluation ---- */

const char *flag_reason_name(enum flag_reason r)
{
	static const char *names[] = { "STATIC", "DEFAULT", "TARGETING_MATCH", "DISABLED", "ERROR" };
	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "UNKNOWN";
}

const char *flag_error_name(enum flag_error e)
{
	static const char *names[] = { "", "FLAG_NOT_FOUND", "PARSE_ERROR", "TYPE_MISMATCH",
				       "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL" };
	return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "GENERAL";
}

static void set_error(struct flag_result *out, enum flag_error e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_error(struct flag_result *out, enum flag_error e, const char *fmt, ...)
{
	va_list ap;
	out->reason = FLAG_REASON_ERROR;
	out->error = e;
	out->value = NULL;
	out->variant = NULL;
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
}

static void use_variant(struct flag_result *out, const struct flag *f, int idx)
{
	out->value = f->variants[idx].value;
	out->variant = f->variants[idx].name;
}

static void use_default(struct flag_result *out, const struct flag *f)
{
	out->reason = FLAG_REASON_DEFAULT;
	if (f->default_idx >= 0)
		use_variant(out, f, f->default_idx);
}

static void run_targeting(const struct flag *f, const json_t *context, long long ts,
			  struct flag_result *out)
{
	struct jl_eval ev;
	struct jl_val v;
	struct buf err = BUF_INIT;
	jl_eval_init(&ev, context);
	ev.flag_key = f->key;
	ev.timestamp = ts;
	int rc = jl_run(f->targeting, &ev, &v, &err);
	if (rc) {
		set_error(out, FLAG_ERROR_GENERAL, "flag \"%s\": targeting failed: %s", f->key, err.data);
		goto done;
	}
	const char *name;
	size_t len;
	if (v.kind == JL_NULL) {
		use_default(out, f);
		goto done;
	} else if (v.kind == JL_BOOL) {
		name = v.b ? "true" : "false";
		len = v.b ? 4 : 5;
	} else if (v.kind == JL_STR) {
		name = v.str.s;
		len = v.str.len;
	} else {
		set_error(out, FLAG_ERROR_GENERAL, "flag \"%s\": targeting returned a value that is not a variant name",
			  f->key);
		goto done;
	}
	for (size_t i = 0; i < f->nvariants; i++) {
		if (f->variants[i].len == len && !memcmp(f->variants[i].name, name, len)) {
			use_variant(out, f, (int)i);
			out->reason = FLAG_REASON_TARGETING_MATCH; /* a fractional split too, as flagd */
			goto done;
		}
	}
	set_error(out, FLAG_ERROR_GENERAL, "flag \"%s\": targeting returned variant \"%.*s\", which is not defined",
		  f->key, (int)(len > 64 ? 64 : len), name);
done:
	jl_eval_release(&ev);
	buf_release(&err);
}

static bool type_ok(const struct flag *f, const json_t *value, enum flag_type expected)
{
	switch (expected) {
	case FLAG_TYPE_ANY:
		return true;
	case FLAG_TYPE_INTEGER:
		if (f->type != FLAG_TYPE_FLOAT)
			return false;
		return !value || flag_type_of(value) == FLAG_TYPE_INTEGER;
	default:
		return f->type == expected;
	}
}

int flag_evaluate_at(const struct flag_set *fs, const char *key, const json_t *context,
		     enum flag_type expected, long long timestamp, struct flag_result *out)
{
	out->value = NULL;
	out->variant = NULL;
	out->error = FLAG_ERROR_NONE;
	out->message[0] = 0;
	out->metadata = fs->metadata;
	const struct flag *f = key ? find_flag(fs, key) : NULL;
	if (!f) {
		set_error(out, FLAG_ERROR_FLAG_NOT_FOUND, "flag \"%s\" not found", key ? key : "");
		return 0;
	}
	out->metadata = f->metadata;
	if (!f->enabled) {
		out->reason = FLAG_REASON_DISABLED;
	} else if (f->parse_error) {
		set_error(out, FLAG_ERROR_PARSE_ERROR, "%s", f->parse_error);
		return 0;
	} else if (context && !json_is_object(context)) {
		set_error(out, FLAG_ERROR_INVALID_CONTEXT, "the evaluation context must be a JSON object");
		return 0;
	} else if (!f->targeting) {
		if (f->default_idx >= 0) {
			out->reason = FLAG_REASON_STATIC;
			use_variant(out, f, f->default_idx);
		} else {
			out->reason = FLAG_REASON_DEFAULT;
		}
	} else {
		run_targeting(f, context, timestamp, out);
		if (out->reason == FLAG_REASON_ERROR)
			return 0;
	}
	if (!type_ok(f, out->value, expected))
		set_error(out, FLAG_ERROR_TYPE_MISMATCH, "flag \"%s\" is of type %s, not %s", f->key,
			  type_name(f->type), type_name(expected));
	return 0;
}

int flag_evaluate_typed(const struct flag_set *fs, const char *key, const json_t *context,
			enum flag_type expected, struct flag_result *out)
{
	return flag_evaluate_at(fs, key, context, expected, -1, out);
}

int flag_evaluate(const struct flag_set *fs, const char *key, const json_t *context,
		  struct flag_result *out)
{
	return flag_evaluate_at(fs, key, context, FLAG_TYPE_ANY, -1, out);
}
