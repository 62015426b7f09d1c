/*
 * Four-eyes approvals. Rules in ooda.yaml (`approvals:`) name action
 * classes — rollback, migration.irreversible, flag.change — optionally
 * narrowed to an environment and, for flags, to tags in the flag's
 * metadata. A flag.change rule protects the flag, not a verb: its PUT,
 * DELETE and rollback are filed (flags_api.c), an import may not touch it. An action a rule covers is not performed; a request is filed
 * instead (who asked, why, what exactly, until when). Another person with
 * the approver role approves — and the stored action then runs, in the
 * requester's name, noting the approver — or rejects. The requester can
 * never decide their own request; requests expire.
 *
 *     pending ──approve (other person)──> approved ──action runs──> done | failed
 *        │──reject──> rejected
 *        └──expiry──> expired
 */
#include "change/change.h"
#include "change/rollout.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <sodium.h>

static bool tags_match(const json_t *rule_tags, const json_t *tags)
{
	if (!json_is_array(rule_tags))
		return true;
	size_t i, j;
	json_t *a, *b;
	json_array_foreach(rule_tags, i, a)
		json_array_foreach(tags, j, b)
			if (json_is_string(a) && json_is_string(b) && !strcmp(json_string_value(a), json_string_value(b)))
				return true;
	return false;
}

bool approval_required(struct change *c, const char *class, const char *env, const json_t *tags, int64_t *expires_ns)
{
	pthread_mutex_lock(&c->mu);
	bool hit = false;
	size_t i;
	json_t *r;
	json_array_foreach(c->approval_cfg, i, r) {
		const char *rc = json_string_value(json_object_get(r, "class"));
		const char *re = json_string_value(json_object_get(r, "env"));
		if (!rc || strcmp(rc, class) || (re && env && strcmp(re, env)))
			continue;
		if (!strcmp(class, "flag.change") && !tags_match(json_object_get(r, "tags"), tags))
			continue;
		const char *ex = json_string_value(json_object_get(r, "expires"));
		*expires_ns = 3600 * OODA_NS_PER_SEC;
		if (ex)
			ooda_duration_parse(ex, strlen(ex), expires_ns);
		hit = true;
		break;
	}
	pthread_mutex_unlock(&c->mu);
	return hit;
}

/* A flag's tags as a JSON array (new reference): flagd metadata values are scalars, so "a,b" lists tags. */
static json_t *flag_tags(const json_t *def)
{
	json_t *tags = json_object_get(json_object_get(def, "metadata"), "tags");
	if (!json_is_string(tags))
		return json_incref(tags);
	json_t *list = json_array();
	const char *p = json_string_value(tags);
	while (*p) {
		size_t n = strcspn(p, ",");
		json_array_append_new(list, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return list;
}

bool approval_flag_protected(struct change *c, const char *env, const json_t *before, const json_t *after,
			     int64_t *expires_ns)
{
	const json_t *defs[2] = { before, after };
	for (int i = 0; i < 2; i++) {
		if (!defs[i])
			continue;
		json_t *tags = flag_tags(defs[i]);
		bool hit = approval_required(c, "flag.change", env, tags, expires_ns);
		json_decref(tags);
		if (hit)
			return true;
	}
	return false;
}

static int save(struct change *c, const char *id, json_t *a, int64_t expect, const char *actor, const char *action,
		const char *rationale, struct buf *err)
{
	char *body = json_dumps(a, JSON_COMPACT);
	char target[80];
	snprintf(target, sizeof(target), "approval/%s", id);
	struct vdoc_write w = { .kind = "approval", .key = id, .body = body, .body_len = strlen(body),
				.expect_version = expect, .actor = actor, .rationale = rationale ? rationale : "",
				.action = action, .target = target };
	int rc = vdoc_put(c->store, c->sg, &w, err);
	free(body);
	return rc;
}

int approval_request(struct change *c, const char *class, const char *env, json_t *action, const char *actor,
		     const char *rationale, int64_t expires_ns, char id[48], struct buf *err)
{
	int64_t now = ooda_now_ns();
	snprintf(id, 48, "ap-%013llx-%04x", (unsigned long long)(now / 1000000), randombytes_uniform(65536));
	char when[40], until[40];
	ooda_time_format(now, when, sizeof(when));
	ooda_time_format(now + expires_ns, until, sizeof(until));
	json_t *a = json_pack("{s:s, s:s, s:s?, s:O, s:s, s:s, s:s, s:s, s:s, s:I}", "id", id, "class", class, "env", env,
			      "action", action, "requester", actor, "rationale", rationale ? rationale : "", "status",
			      "pending", "requested", when, "expires", until, "expires_unix_nano",
			      (json_int_t)(now + expires_ns));
	int rc = save(c, id, a, 0, actor, "approval.request", rationale, err);
	json_decref(a);
	return rc;
}

/*
 * The approved actions, each performed in the requester's name with a
 * rationale that names the approver. out gets ,"key":value members.
 */
static int perform_rollback(struct change *c, json_t *act, const char *requester, const char *why, struct buf *out,
			    struct buf *err)
{
	char run[48], ap[48];
	json_t *plan;
	const char *dep = json_string_value(json_object_get(act, "deploy"));
	bool allow = json_is_true(json_object_get(act, "allow_irreversible"));
	int rc = rollback_plan(c, dep, allow, &plan, err);
	if (rc)
		return rc;
	json_decref(plan);
	rc = rollback_start(c, dep, allow, true, requester, why, run, ap, err);
	if (!rc)
		buf_addf(out, ",\"run\":\"%s\"", run);
	return rc;
}

static int perform_flag(struct change *c, json_t *act, const char *requester, const char *why, struct buf *out,
			struct buf *err)
{
	const char *type = json_string_value(json_object_get(act, "type"));
	struct flag_change ch = { .env = json_string_value(json_object_get(act, "env")),
				  .key = json_string_value(json_object_get(act, "key")), .actor = requester,
				  .rationale = why, .expect_version = -1 };
	int rc;
	if (!strcmp(type, "flag.put"))
		rc = flagstore_put(c->flags, &ch, json_object_get(act, "definition"), err);
	else if (!strcmp(type, "flag.delete"))
		rc = flagstore_delete(c->flags, &ch, err);
	else
		rc = flagstore_rollback(c->flags, &ch, json_integer_value(json_object_get(act, "to")), err);
	if (!rc)
		buf_addf(out, ",\"flag_version\":%lld", (long long)ch.version);
	return rc;
}

/* A rollout step that waited for this approval starts, as the approver's decision. */
static int perform_rollout(struct change *c, json_t *act, const char *requester, const char *why, struct buf *out,
			   struct buf *err)
{
	(void)requester;
	(void)why;
	(void)out;
	return rollout_decided(c, json_string_value(json_object_get(act, "rollout")), true,
			       json_string_value(json_object_get(act, "approver")), err);
}

/* A rejected rollout step aborts the rollout. */
static void reject_rollout(struct change *c, json_t *act, const char *decider)
{
	struct buf err = BUF_INIT;
	rollout_decided(c, json_string_value(json_object_get(act, "rollout")), false, decider, &err);
	buf_release(&err);
}

static const struct {
	const char *type;
	int (*fn)(struct change *c, json_t *act, const char *requester, const char *why, struct buf *out,
		  struct buf *err);
	void (*rejected)(struct change *c, json_t *act, const char *decider); /* NULL: a rejection does nothing */
} performers[] = {
	{ "rollback", perform_rollback, NULL },
	{ "flag.put", perform_flag, NULL },
	{ "flag.delete", perform_flag, NULL },
	{ "flag.rollback", perform_flag, NULL },
	{ "rollout.promote", perform_rollout, reject_rollout },
};

/* Tells the action's owner that a request was rejected, when it wants to know. */
static void rejected(struct change *c, json_t *a, const char *decider)
{
	json_t *act = json_object_get(a, "action");
	const char *type = json_string_value(json_object_get(act, "type"));
	for (size_t i = 0; type && i < sizeof(performers) / sizeof(performers[0]); i++)
		if (!strcmp(performers[i].type, type) && performers[i].rejected)
			performers[i].rejected(c, act, decider);
}

static bool is_own_type(const char *type)
{
	for (size_t i = 0; type && i < sizeof(performers) / sizeof(performers[0]); i++)
		if (!strcmp(performers[i].type, type))
			return true;
	return false;
}

/* Performs an approved action in the requester's name. */
static int perform(struct change *c, json_t *a, const char *approver, struct buf *out, struct buf *err)
{
	json_t *act = json_object_get(a, "action");
	const char *type = json_string_value(json_object_get(act, "type"));
	const char *requester = json_string_value(json_object_get(a, "requester"));
	char why[600];
	snprintf(why, sizeof(why), "%s (approved by %s)", json_string_value(json_object_get(a, "rationale")), approver);
	json_object_set_new(act, "approver", json_string(approver));
	for (size_t i = 0; type && i < sizeof(performers) / sizeof(performers[0]); i++)
		if (!strcmp(performers[i].type, type))
			return performers[i].fn(c, act, requester, why, out, err);
	if (type && c->perform_ext)
		return c->perform_ext(c->perform_ext_ctx, act, true, approver,
				      json_string_value(json_object_get(a, "decision_rationale")), out, err);
	buf_addf(err, "approved action of unknown type %s", type ? type : "(none)");
	return OODA_EINTERNAL;
}

int approval_decide(struct change *c, const char *id, bool approve, const char *actor, const char *rationale,
		    struct buf *out, struct buf *err)
{
	struct vdoc d;
	int rc = vdoc_get(c->store, "approval", id, 0, &d, err);
	if (rc)
		return rc;
	json_t *a = json_loadb(d.body, d.body_len, 0, NULL);
	int64_t ver = d.version;
	vdoc_release(&d);
	const char *status = json_string_value(json_object_get(a, "status"));
	const char *requester = json_string_value(json_object_get(a, "requester"));
	if (strcmp(status, "pending")) {
		buf_addf(err, "approval %s is already %s", id, status);
		rc = OODA_ECONFLICT;
	} else if (json_integer_value(json_object_get(a, "expires_unix_nano")) < ooda_now_ns()) {
		json_object_set_new(a, "status", json_string("expired"));
		save(c, id, a, ver, "engine:approvals", "approval.expire", "expired before a decision", err);
		buf_reset(err);
		buf_addf(err, "approval %s expired at %s", id, json_string_value(json_object_get(a, "expires")));
		rc = OODA_EGONE;
	} else if (!strcmp(requester, actor)) {
		buf_addf(err, "%s asked for this and cannot also %s it: another approver must decide", actor,
			 approve ? "approve" : "reject");
		rc = OODA_EFORBIDDEN;
	}
	if (rc) {
		json_decref(a);
		return rc;
	}
	char when[40];
	ooda_time_format(ooda_now_ns(), when, sizeof(when));
	json_object_set_new(a, "status", json_string(approve ? "approved" : "rejected"));
	json_object_set_new(a, "decided_by", json_string(actor));
	json_object_set_new(a, "decided", json_string(when));
	json_object_set_new(a, "decision_rationale", json_string(rationale ? rationale : ""));
	/* the decision is saved first: a stale concurrent decision gets 412 */
	if ((rc = save(c, id, a, ver, actor, approve ? "approval.approve" : "approval.reject", rationale, err))) {
		json_decref(a);
		return rc;
	}
	buf_addf(out, "{\"id\":\"%s\",\"status\":\"%s\"", id, approve ? "approved" : "rejected");
	if (approve) {
		struct buf res = BUF_INIT;
		int arc = perform(c, a, actor, &res, err);
		json_object_set_new(a, "status", json_string(arc ? "failed" : "done"));
		if (arc)
			json_object_set_new(a, "error", json_string(err->data));
		struct buf e2 = BUF_INIT;
		save(c, id, a, ver + 1, actor, "approval.performed", arc ? err->data : "action performed", &e2);
		buf_release(&e2);
		buf_adds(out, res.data);
		if (arc) {
			buf_adds(out, ",\"error\":");
			buf_add_json_str(out, err->data, err->len);
			buf_reset(err);
		}
		buf_release(&res);
	} else if (c->perform_ext && !is_own_type(json_string_value(json_object_get(json_object_get(a, "action"), "type")))) {
		/* the owner of the action learns of the rejection */
		struct buf res = BUF_INIT, e2 = BUF_INIT;
		if (c->perform_ext(c->perform_ext_ctx, json_object_get(a, "action"), false, actor, rationale, &res, &e2))
			log_warn("approval %s: rejection not passed on: %s", id, e2.data);
		buf_release(&res);
		buf_release(&e2);
	} else {
		rejected(c, a, actor);
	}
	buf_addch(out, '}');
	json_decref(a);
	return 0;
}

struct list_ctx {
	struct buf *out;
	const char *status, *env;
	int n;
	int64_t now;
};

static int list_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct list_ctx *l = ctx;
	json_t *a = json_loadb(r->body, r->body_len, 0, NULL);
	if (!a)
		return 0;
	const char *st = json_string_value(json_object_get(a, "status"));
	if (st && !strcmp(st, "pending") && json_integer_value(json_object_get(a, "expires_unix_nano")) < l->now)
		json_object_set_new(a, "status", json_string("expired"));
	st = json_string_value(json_object_get(a, "status"));
	const char *env = json_string_value(json_object_get(a, "env"));
	if (l->env && (!env || strcmp(env, l->env))) {
		json_decref(a);
		return 0;
	}
	if (!l->status || !strcmp(l->status, "all") || (st && !strcmp(st, l->status))) {
		char *t = json_dumps(a, JSON_COMPACT);
		buf_addf(l->out, "%s%s", l->n++ ? "," : "", t);
		free(t);
	}
	json_decref(a);
	return 0;
}

int approval_list_json(struct change *c, const char *status, const char *env, struct buf *out, struct buf *err)
{
	struct list_ctx l = { out, status, env, 0, ooda_now_ns() };
	buf_adds(out, "{\"approvals\":[");
	int rc = vdoc_list(c->store, "approval", "", list_row, &l);
	buf_adds(out, "]}");
	if (rc)
		buf_adds(err, "reading approvals failed");
	return rc;
}
