/*
 * Flags: storage, validation, versioning and the compiled per-environment
 * sets that OFREP evaluates (see flagstore.h).
 */
#include "change/flagstore.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <pthread.h>
#include <stdatomic.h>

#define MAX_ENVS 64

struct env_slot {
	char name[64];
	struct flag_env_ref *cur;
};

struct flagstore {
	struct store *store;
	const struct audit_signer *sg;
	struct tstore *tstore;
	pthread_mutex_t mu;
	struct env_slot envs[MAX_ENVS];
	int n_envs;
	int64_t gen; /* the flags' generation (store_gen_read) the slots were built after */
};

static bool name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

bool flagstore_env_valid(const char *env)
{
	return name_ok(env, 63);
}

bool flagstore_key_valid(const char *key)
{
	return name_ok(key, 255);
}

json_t *flagstore_def(struct store *s, const char *env, const char *key, int64_t version)
{
	char k[400];
	snprintf(k, sizeof(k), "%s/%s", env, key);
	struct vdoc d;
	struct buf ignore = BUF_INIT;
	json_t *def = NULL;
	if (!vdoc_get(s, "flag", k, version, &d, &ignore)) {
		if (!d.deleted)
			def = json_loadb(d.body, d.body_len, 0, NULL);
		vdoc_release(&d);
	}
	buf_release(&ignore);
	return def;
}

/* ---- composing an environment's flagd document -------------------------- */

struct compose_ctx {
	json_t *flags;
	size_t prefix_len;
	const char *skip_key;  /* leave this flag out (being replaced or deleted) */
	int rc;
};

static int compose_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct compose_ctx *c = ctx;
	const char *key = r->key + c->prefix_len;
	if (c->skip_key && !strcmp(key, c->skip_key))
		return 0;
	json_t *def = json_loadb(r->body, r->body_len, 0, NULL);
	if (!def) {
		c->rc = OODA_ECORRUPT;
		return 1;
	}
	json_object_set_new(c->flags, key, def);
	return 0;
}

/* The env's document from the store; optionally with one flag replaced (def) or removed (def NULL). */
static int compose(struct flagstore *f, const char *env, const char *key, const json_t *def, json_t **out,
		   struct buf *err)
{
	char prefix[80];
	snprintf(prefix, sizeof(prefix), "%s/", env);
	struct compose_ctx c = { .flags = json_object(), .prefix_len = strlen(prefix), .skip_key = key };
	int rc = vdoc_list(f->store, "flag", prefix, compose_row, &c);
	if (!rc)
		rc = c.rc;
	if (rc) {
		buf_addf(err, "reading the flags of environment %s failed", env);
		json_decref(c.flags);
		return rc;
	}
	if (key && def)
		json_object_set(c.flags, key, (json_t *)def);
	json_t *doc = json_object();
	json_object_set_new(doc, "flags", c.flags);
	struct vdoc meta;
	struct buf ignore = BUF_INIT;
	if (!vdoc_get(f->store, "flagset", env, 0, &meta, &ignore) && !meta.deleted) {
		json_t *m = json_loadb(meta.body, meta.body_len, 0, NULL);
		const char *k;
		json_t *v;
		json_object_foreach(m, k, v)
			if (!strcmp(k, "$evaluators") || !strcmp(k, "metadata"))
				json_object_set(doc, k, v);
		json_decref(m);
	}
	vdoc_release(&meta);
	buf_release(&ignore);
	*out = doc;
	return 0;
}

static int compile(const json_t *doc, unsigned options, struct flag_set **fs, struct buf *err)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	int rc = flag_set_load(text, strlen(text), options, fs, err);
	free(text);
	return rc;
}

/* ---- compiled sets ------------------------------------------------------ */

static void ref_put(struct flag_env_ref *r)
{
	if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
		flag_set_destroy(r->fs);
		free(r);
	}
}

void flagstore_release(struct flag_env_ref *r)
{
	ref_put(r);
}

static int build(struct flagstore *f, const char *env, struct flag_env_ref **out, struct buf *err)
{
	json_t *doc;
	int rc = compose(f, env, NULL, NULL, &doc, err);
	if (rc)
		return rc;
	struct flag_set *fs;
	/* stored flags were validated when written (a non-strict import may keep
	 * targeting that does not compile: it evaluates to PARSE_ERROR, as in flagd) */
	rc = compile(doc, 0, &fs, err);
	json_decref(doc);
	if (rc)
		return rc;
	struct flag_env_ref *r = xcalloc(1, sizeof(*r));
	r->fs = fs;
	r->refs = 1; /* the slot's reference */
	snprintf(r->env, sizeof(r->env), "%s", env);
	*out = r;
	return 0;
}

static struct env_slot *slot_find(struct flagstore *f, const char *env)
{
	for (int i = 0; i < f->n_envs; i++)
		if (!strcmp(f->envs[i].name, env))
			return &f->envs[i];
	return NULL;
}

int flagstore_acquire(struct flagstore *f, const char *env, struct flag_env_ref **out, struct buf *err)
{
	if (!flagstore_env_valid(env)) {
		buf_addf(err, "environment name %.80s is not valid: use letters, digits, '.', '_' or '-'", env);
		return OODA_EINVAL;
	}
	/*
	 * Another node may have changed a flag: when the flags' generation moved
	 * since the sets were built, every environment is built again (from the
	 * store, read after the generation) on its next use.
	 */
	int64_t gen = f->gen;
	struct flag_env_ref *dropped[MAX_ENVS];
	int n_dropped = 0;
	if (f->store)
		store_gen_read(f->store, STORE_GEN_FLAGS, &gen);
	pthread_mutex_lock(&f->mu);
	if (gen > f->gen) { /* generations only grow: an older read is no news */
		for (int i = 0; i < f->n_envs; i++)
			dropped[n_dropped++] = f->envs[i].cur;
		f->n_envs = 0;
		f->gen = gen;
	}
	struct env_slot *s = slot_find(f, env);
	int rc = 0;
	if (!s) {
		if (f->n_envs == MAX_ENVS) {
			buf_addf(err, "too many flag environments (at most %d)", MAX_ENVS);
			rc = OODA_ELIMIT;
		} else {
			struct flag_env_ref *r;
			rc = build(f, env, &r, err);
			if (!rc) {
				s = &f->envs[f->n_envs++];
				snprintf(s->name, sizeof(s->name), "%s", env);
				s->cur = r;
			}
		}
	}
	if (!rc) {
		atomic_fetch_add(&s->cur->refs, 1);
		*out = s->cur;
	}
	pthread_mutex_unlock(&f->mu);
	for (int i = 0; i < n_dropped; i++)
		ref_put(dropped[i]);
	return rc;
}

/* After a committed change: rebuild env and swap it in. */
static void refresh(struct flagstore *f, const char *env)
{
	struct flag_env_ref *r;
	struct buf err = BUF_INIT;
	if (build(f, env, &r, &err)) {
		log_error("flag environment %s could not be rebuilt: %s", env, err.data);
		buf_release(&err);
		return;
	}
	buf_release(&err);
	pthread_mutex_lock(&f->mu);
	struct env_slot *s = slot_find(f, env);
	struct flag_env_ref *old = NULL;
	if (s) {
		old = s->cur;
		s->cur = r;
	} else if (f->n_envs < MAX_ENVS) {
		s = &f->envs[f->n_envs++];
		snprintf(s->name, sizeof(s->name), "%s", env);
		s->cur = r;
	} else {
		old = r;
	}
	pthread_mutex_unlock(&f->mu);
	ref_put(old);
}

/* ---- writes ------------------------------------------------------------- */

static const char *flag_service(const json_t *def)
{
	const char *s = json_string_value(json_object_get(json_object_get(def, "metadata"), "service"));
	return s ? s : "flags";
}

static void announce(struct flagstore *f, const char *env, const char *key, const json_t *def, int64_t version,
		     const char *what, const char *actor, const char *rationale)
{
	char desc[512], ver[32];
	snprintf(ver, sizeof(ver), "v%lld", (long long)version);
	snprintf(desc, sizeof(desc), "flag %s %s in %s (%s)%s%s", key, what, env, ver, rationale && *rationale ? ": " : "",
		 rationale ? rationale : "");
	struct buf err = BUF_INIT;
	if (vdoc_event(f->tstore, "flag", def ? flag_service(def) : "flags", env, ver, actor, desc, &err))
		log_error("flag change event not recorded: %s", err.data);
	buf_release(&err);
}

struct put_ctx {
	struct flagstore *f;
	struct flag_change *c;
	const char *body;
	bool deleted;
	const char *action;
};

static int put_tx(struct store *s, void *ctx, struct buf *err)
{
	struct put_ctx *p = ctx;
	char key[400], target[420];
	snprintf(key, sizeof(key), "%s/%s", p->c->env, p->c->key);
	snprintf(target, sizeof(target), "flag/%s", key);
	struct vdoc_write w = { .kind = "flag", .key = key, .body = p->body, .body_len = strlen(p->body),
				.deleted = p->deleted, .expect_version = p->c->expect_version, .actor = p->c->actor,
				.rationale = p->c->rationale, .action = p->action, .target = target };
	int rc = vdoc_put_tx(s, p->f->sg, &w, err);
	p->c->version = w.version;
	return rc;
}

static int check_names(struct flag_change *c, struct buf *err)
{
	if (!flagstore_env_valid(c->env)) {
		buf_addf(err, "environment name %.80s is not valid: use letters, digits, '.', '_' or '-'", c->env);
		return OODA_EINVAL;
	}
	if (!flagstore_key_valid(c->key)) {
		buf_addf(err, "flag key %.80s is not valid: use letters, digits, '.', '_' or '-' (at most 255)", c->key);
		return OODA_EINVAL;
	}
	return 0;
}

int flagstore_put(struct flagstore *f, struct flag_change *c, const json_t *def, struct buf *err)
{
	int rc = check_names(c, err);
	if (rc)
		return rc;
	if (!json_is_object(def)) {
		buf_adds(err, "a flag definition is a JSON object: {\"state\", \"variants\", \"defaultVariant\", \"targeting\"?}");
		return OODA_EINVAL;
	}
	/* validate in the context of the whole environment */
	json_t *doc;
	if ((rc = compose(f, c->env, c->key, def, &doc, err)))
		return rc;
	struct flag_set *fs;
	struct buf why = BUF_INIT;
	rc = compile(doc, FLAG_LOAD_STRICT, &fs, &why);
	json_decref(doc);
	if (rc) {
		buf_addf(err, "flag %s is not valid: %s", c->key, why.data);
		buf_release(&why);
		return OODA_EINVAL;
	}
	buf_release(&why);
	flag_set_destroy(fs);
	char *body = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
	struct put_ctx p = { f, c, body, false, "flag.put" };
	rc = store_write(f->store, put_tx, &p, err);
	free(body);
	if (!rc) {
		refresh(f, c->env);
		announce(f, c->env, c->key, def, c->version, "changed", c->actor, c->rationale);
	}
	return rc;
}

int flagstore_delete(struct flagstore *f, struct flag_change *c, struct buf *err)
{
	int rc = check_names(c, err);
	if (rc)
		return rc;
	char key[400];
	snprintf(key, sizeof(key), "%s/%s", c->env, c->key);
	struct vdoc cur;
	if ((rc = vdoc_get(f->store, "flag", key, 0, &cur, err)))
		return rc;
	bool gone = cur.deleted;
	json_t *def = json_loadb(cur.body, cur.body_len, 0, NULL);
	vdoc_release(&cur);
	if (gone) {
		json_decref(def);
		buf_addf(err, "flag %s does not exist in %s", c->key, c->env);
		return OODA_ENOTFOUND;
	}
	/* a flag another one $refs through evaluators is fine; flags do not reference flags */
	struct put_ctx p = { f, c, "{}", true, "flag.delete" };
	rc = store_write(f->store, put_tx, &p, err);
	if (!rc) {
		refresh(f, c->env);
		announce(f, c->env, c->key, def, c->version, "deleted", c->actor, c->rationale);
	}
	json_decref(def);
	return rc;
}

int flagstore_rollback(struct flagstore *f, struct flag_change *c, int64_t to, struct buf *err)
{
	int rc = check_names(c, err);
	if (rc)
		return rc;
	char key[400];
	snprintf(key, sizeof(key), "%s/%s", c->env, c->key);
	struct vdoc old;
	if ((rc = vdoc_get(f->store, "flag", key, to, &old, err)))
		return rc;
	if (old.deleted) {
		vdoc_release(&old);
		return flagstore_delete(f, c, err);
	}
	json_t *def = json_loadb(old.body, old.body_len, 0, NULL);
	vdoc_release(&old);
	char why[600];
	snprintf(why, sizeof(why), "rollback to v%lld%s%s", (long long)to, c->rationale && *c->rationale ? ": " : "",
		 c->rationale ? c->rationale : "");
	const char *orig = c->rationale;
	c->rationale = why;
	rc = flagstore_put(f, c, def, err);
	c->rationale = orig;
	json_decref(def);
	return rc;
}

struct import_ctx {
	struct flagstore *f;
	const char *env;
	json_t *flags;   /* the document's flags */
	json_t *meta;    /* {"$evaluators", "metadata"} */
	bool replace;
	const char *actor, *rationale;
	int changed;
	json_t *existing; /* key -> body text of current flags */
};

static int existing_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct import_ctx *c = ctx;
	json_object_set_new(c->existing, r->key + strlen(c->env) + 1, json_stringn(r->body, r->body_len));
	return 0;
}

static int import_tx(struct store *s, void *ctx, struct buf *err)
{
	struct import_ctx *c = ctx;
	const char *k;
	json_t *def;
	int rc = 0;
	json_object_foreach(c->flags, k, def) {
		char *body = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
		const char *prev = json_string_value(json_object_get(c->existing, k));
		if (!prev || strcmp(prev, body)) {
			struct flag_change ch = { .env = c->env, .key = k, .actor = c->actor, .rationale = c->rationale,
						  .expect_version = -1 };
			struct put_ctx p = { c->f, &ch, body, false, "flag.import" };
			rc = put_tx(s, &p, err);
			c->changed++;
		}
		free(body);
		if (rc)
			return rc;
	}
	if (c->replace) {
		json_t *v;
		json_object_foreach(c->existing, k, v) {
			if (json_object_get(c->flags, k))
				continue;
			struct flag_change ch = { .env = c->env, .key = k, .actor = c->actor, .rationale = c->rationale,
						  .expect_version = -1 };
			struct put_ctx p = { c->f, &ch, "{}", true, "flag.delete" };
			if ((rc = put_tx(s, &p, err)))
				return rc;
			c->changed++;
		}
	}
	char *mbody = json_dumps(c->meta, JSON_COMPACT | JSON_SORT_KEYS);
	struct vdoc cur;
	struct buf ignore = BUF_INIT;
	bool same = !vdoc_get(s, "flagset", c->env, 0, &cur, &ignore) && !strcmp(cur.body, mbody);
	if (!same && (json_object_size(c->meta) || cur.body)) {
		char target[100];
		snprintf(target, sizeof(target), "flagset/%s", c->env);
		struct vdoc_write w = { .kind = "flagset", .key = c->env, .body = mbody, .body_len = strlen(mbody),
					.expect_version = -1, .actor = c->actor, .rationale = c->rationale,
					.action = "flag.import", .target = target };
		rc = vdoc_put_tx(s, c->f->sg, &w, err);
	}
	vdoc_release(&cur);
	buf_release(&ignore);
	free(mbody);
	return rc;
}

/* Asks guard about every flag the import would change; OODA_ECONFLICT naming the first it refuses. */
static int import_guard(struct import_ctx *c, flag_guard_fn guard, void *guard_ctx, struct buf *err)
{
	const char *k;
	json_t *def, *prev;
	int rc = 0;
	json_object_foreach(c->flags, k, def) {
		char *body = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
		const char *text = json_string_value(json_object_get(c->existing, k));
		json_t *before = text ? json_loads(text, 0, NULL) : NULL;
		if ((!text || strcmp(text, body)) && guard(guard_ctx, k, before, def))
			rc = OODA_ECONFLICT;
		json_decref(before);
		free(body);
		if (rc) {
			buf_addf(err, "flag %s in %s is protected by an approval rule (flag.change), so an import may not "
				      "change it; change it with PUT /api/v1/flags/%s, which files an approval request",
				 k, c->env, k);
			return rc;
		}
	}
	/* new $evaluators change every flag that $refs them without a new version of that flag */
	struct vdoc cur;
	struct buf ignore = BUF_INIT;
	json_t *meta = NULL;
	if (!vdoc_get(c->f->store, "flagset", c->env, 0, &cur, &ignore)) {
		if (!cur.deleted)
			meta = json_loadb(cur.body, cur.body_len, 0, NULL);
		vdoc_release(&cur);
	}
	buf_release(&ignore);
	const json_t *was = json_object_get(meta, "$evaluators"), *will = json_object_get(c->meta, "$evaluators");
	bool evaluators_change = !(was ? will && json_equal(was, will) : !will || !json_object_size(will));
	json_decref(meta);
	json_object_foreach(c->existing, k, prev) {
		if (!evaluators_change || !strstr(json_string_value(prev), "\"$ref\""))
			continue;
		json_t *before = json_loads(json_string_value(prev), 0, NULL);
		bool no = guard(guard_ctx, k, before, before);
		json_decref(before);
		if (no) {
			buf_addf(err, "flag %s in %s is protected by an approval rule (flag.change) and uses $evaluators "
				      "this import would change; import without changing $evaluators",
				 k, c->env);
			return OODA_ECONFLICT;
		}
	}
	if (!c->replace)
		return 0;
	json_object_foreach(c->existing, k, prev) {
		if (json_object_get(c->flags, k))
			continue;
		json_t *before = json_loads(json_string_value(prev), 0, NULL);
		bool no = guard(guard_ctx, k, before, NULL);
		json_decref(before);
		if (no) {
			buf_addf(err, "flag %s in %s is protected by an approval rule (flag.change), so replace=true may "
				      "not delete it; delete it with DELETE /api/v1/flags/%s, which files an approval request",
				 k, c->env, k);
			return OODA_ECONFLICT;
		}
	}
	return 0;
}

int flagstore_import(struct flagstore *f, const char *env, const char *json, size_t len, bool replace,
		     bool strict, const char *actor, const char *rationale, flag_guard_fn guard, void *guard_ctx,
		     int *changed, struct buf *err)
{
	if (!flagstore_env_valid(env)) {
		buf_addf(err, "environment name %.80s is not valid", env);
		return OODA_EINVAL;
	}
	struct flag_set *fs;
	struct buf why = BUF_INIT;
	if (flag_set_load(json, len, strict ? FLAG_LOAD_STRICT : 0, &fs, &why)) {
		buf_addf(err, "not a valid flagd document: %s%s", why.data,
			 strict ? " (?strict=false keeps such flags; they evaluate to PARSE_ERROR)" : "");
		buf_release(&why);
		return OODA_EINVAL;
	}
	buf_release(&why);
	json_t *doc = json_loadb(json, len, 0, NULL);
	struct import_ctx c = { .f = f, .env = env, .replace = replace, .actor = actor, .rationale = rationale,
				.flags = json_object(), .meta = json_object(), .existing = json_object() };
	/* flags as a map, or as an array of {key, …} */
	json_t *flags = json_object_get(doc, "flags");
	for (size_t i = 0; i < flag_set_count(fs); i++) {
		const char *key = flag_set_key(fs, i);
		if (!flagstore_key_valid(key)) {
			buf_addf(err, "flag key %.80s is not valid: use letters, digits, '.', '_' or '-'", key);
			flag_set_destroy(fs);
			json_decref(doc);
			json_decref(c.flags);
			json_decref(c.meta);
			json_decref(c.existing);
			return OODA_EINVAL;
		}
		json_t *def = json_is_object(flags) ? json_deep_copy(json_object_get(flags, key)) : NULL;
		if (!def) {
			size_t j;
			json_t *item;
			json_array_foreach(flags, j, item)
				if (json_is_string(json_object_get(item, "key")) &&
				    !strcmp(json_string_value(json_object_get(item, "key")), key)) {
					def = json_deep_copy(item);
					json_object_del(def, "key");
				}
		}
		if (def)
			json_object_set_new(c.flags, key, def);
	}
	flag_set_destroy(fs);
	if (json_object_get(doc, "$evaluators"))
		json_object_set(c.meta, "$evaluators", json_object_get(doc, "$evaluators"));
	if (json_object_get(doc, "metadata"))
		json_object_set(c.meta, "metadata", json_object_get(doc, "metadata"));
	char prefix[80];
	snprintf(prefix, sizeof(prefix), "%s/", env);
	int rc = vdoc_list(f->store, "flag", prefix, existing_row, &c);
	if (!rc && guard)
		rc = import_guard(&c, guard, guard_ctx, err);
	if (!rc)
		rc = store_write(f->store, import_tx, &c, err);
	if (!rc) {
		refresh(f, env);
		*changed = c.changed;
		if (c.changed) {
			char desc[300];
			snprintf(desc, sizeof(desc), "%d flags imported into %s%s%s", c.changed, env,
				 rationale && *rationale ? ": " : "", rationale ? rationale : "");
			struct buf e2 = BUF_INIT;
			vdoc_event(f->tstore, "flag", "flags", env, NULL, actor, desc, &e2);
			buf_release(&e2);
		}
	}
	json_decref(doc);
	json_decref(c.flags);
	json_decref(c.meta);
	json_decref(c.existing);
	return rc;
}

int flagstore_export(struct flagstore *f, const char *env, json_t **out, struct buf *err)
{
	json_t *doc;
	int rc = compose(f, env, NULL, NULL, &doc, err);
	if (rc)
		return rc;
	json_object_set_new(doc, "$schema", json_string("https://flagd.dev/schema/v0/flags.json"));
	*out = doc;
	return 0;
}

struct kill_ctx {
	struct flagstore *f;
	const char *env, *key, *service;
	int64_t since_ns;
	const char *actor, *rationale;
	json_t *victims; /* key -> new definition */
	int rc;
};

static int kill_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct kill_ctx *c = ctx;
	const char *key = r->key + strlen(c->env) + 1;
	json_t *def = json_loadb(r->body, r->body_len, 0, NULL);
	if (!def)
		return 0;
	bool pick = c->key ? !strcmp(key, c->key) :
			     !strcmp(flag_service(def), c->service) && r->time_ns >= c->since_ns;
	const char *state = json_string_value(json_object_get(def, "state"));
	if (pick && (!state || strcmp(state, "DISABLED"))) {
		json_object_set_new(def, "state", json_string("DISABLED"));
		json_object_set(c->victims, key, def);
	}
	json_decref(def);
	return 0;
}

static int kill_tx(struct store *s, void *ctx, struct buf *err)
{
	struct kill_ctx *c = ctx;
	const char *k;
	json_t *def;
	json_object_foreach(c->victims, k, def) {
		char *body = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
		struct flag_change ch = { .env = c->env, .key = k, .actor = c->actor, .rationale = c->rationale,
					  .expect_version = -1 };
		struct put_ctx p = { c->f, &ch, body, false, "flag.kill" };
		int rc = put_tx(s, &p, err);
		free(body);
		if (rc)
			return rc;
	}
	return 0;
}

int flagstore_kill(struct flagstore *f, const char *env, const char *key, const char *service, int64_t since_ns,
		   const char *actor, const char *rationale, struct buf *out, struct buf *err)
{
	if (!flagstore_env_valid(env) || (!key && !service)) {
		buf_adds(err, "the kill switch needs a valid environment and a flag key or a service");
		return OODA_EINVAL;
	}
	char prefix[80];
	snprintf(prefix, sizeof(prefix), "%s/", env);
	struct kill_ctx c = { f, env, key, service, since_ns, actor, rationale, json_object(), 0 };
	int rc = vdoc_list(f->store, "flag", prefix, kill_row, &c);
	if (!rc && key && !json_object_size(c.victims)) {
		char k[400];
		snprintf(k, sizeof(k), "%s/%s", env, key);
		struct vdoc cur;
		rc = vdoc_get(f->store, "flag", k, 0, &cur, err);
		if (!rc && cur.deleted) {
			buf_addf(err, "flag %s does not exist in %s", key, env);
			rc = OODA_ENOTFOUND;
		}
		vdoc_release(&cur);
	}
	if (!rc && json_object_size(c.victims))
		rc = store_write(f->store, kill_tx, &c, err);
	if (!rc) {
		buf_addch(out, '[');
		const char *k;
		json_t *def;
		int n = 0;
		json_object_foreach(c.victims, k, def) {
			buf_adds(out, n++ ? "," : "");
			buf_add_json_str(out, k, strlen(k));
		}
		buf_addch(out, ']');
		if (n) {
			refresh(f, env);
			char desc[400];
			snprintf(desc, sizeof(desc), "kill switch: %d flag%s disabled in %s%s%s", n, n == 1 ? "" : "s", env,
				 rationale && *rationale ? ": " : "", rationale ? rationale : "");
			struct buf e2 = BUF_INIT;
			vdoc_event(f->tstore, "flag", service ? service : "flags", env, NULL, actor, desc, &e2);
			buf_release(&e2);
		}
	}
	json_decref(c.victims);
	return rc;
}

struct snap_ctx {
	json_t *out;
	size_t prefix_len;
};

static int snap_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct snap_ctx *c = ctx;
	json_object_set_new(c->out, r->key + c->prefix_len, json_integer(r->version));
	return 0;
}

int flagstore_snapshot(struct flagstore *f, const char *env, json_t **out, struct buf *err)
{
	char prefix[80];
	snprintf(prefix, sizeof(prefix), "%s/", env);
	struct snap_ctx c = { json_object(), strlen(prefix) };
	int rc = vdoc_list(f->store, "flag", prefix, snap_row, &c);
	if (rc) {
		buf_addf(err, "reading the flags of %s failed", env);
		json_decref(c.out);
		return rc;
	}
	*out = c.out;
	return 0;
}

int flagstore_create(struct store *s, const struct audit_signer *sg, struct tstore *t, struct flagstore **out,
		     struct buf *err)
{
	(void)err;
	struct flagstore *f = xcalloc(1, sizeof(*f));
	f->store = s;
	f->sg = sg;
	f->tstore = t;
	pthread_mutex_init(&f->mu, NULL);
	*out = f;
	return 0;
}

void flagstore_destroy(struct flagstore *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n_envs; i++)
		ref_put(f->envs[i].cur);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
