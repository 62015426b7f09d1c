/*
 * Change-event decoding (see events.h): ooda's event JSON and CloudEvents
 * 1.0 in its structured, batch and binary modes, both ending in
 * change_event records. The kind table below is the one list of kinds.
 */
#include "ingest/events.h"

#include <ctype.h>
#include <strings.h>

#include "core/error.h"
#include "core/time.h"
#include "ingest/decode_util.h"
#include "ingest/jdom.h"
#include "ingest/purl.h"

static const char *const kinds[] = {
	"deploy", "rollback", "config", "flag", "migration", "scale", "incident", "custom", NULL,
};

/* CloudEvents type words → kind, first match wins (rollback before deploy). */
static const struct {
	const char *word, *kind;
} type_kinds[] = {
	{ "rollback", "rollback" }, { "rolledback", "rollback" }, { "deploy", "deploy" },
	{ "config", "config" },     { "flag", "flag" },           { "migration", "migration" },
	{ "scale", "scale" },       { "incident", "incident" },
};

static const char *kind_of(const char *s)
{
	for (size_t i = 0; s && kinds[i]; i++)
		if (!strcmp(s, kinds[i]))
			return kinds[i];
	return NULL;
}

static int parse_time(const struct jval *v, int64_t now_ns, int64_t *out)
{
	*out = now_ns;
	if (!v || v->type == J_NULL)
		return 0;
	if ((v->type != J_STR && v->type != J_NUM) || ooda_time_parse(v->s, v->len, out) != 0)
		return -1;
	return 0;
}

static const char *str_or_null(struct dec *d, const struct jval *v)
{
	if (!v || v->type != J_STR)
		return NULL;
	return v->s; /* the document lives in the batch arena already */
}

static int one_event(struct dec *d, const struct jval *o, size_t idx, int64_t now_ns)
{
	if (o->type != J_OBJ) {
		buf_addf(d->err, "event %zu: not a JSON object", idx);
		return OODA_EINVAL;
	}
	const struct jval *k = jdom_get(o, "kind", NULL);
	const char *kind = kind_of(jdom_str(k));
	if (!kind) {
		buf_addf(d->err, "event %zu: kind ", idx);
		if (k && k->type == J_STR)
			buf_add_json_str(d->err, k->s, k->len);
		else
			buf_adds(d->err, k ? "of the wrong type" : "missing");
		buf_adds(d->err, " is not one of deploy, rollback, config, flag, migration, scale, incident, custom");
		return OODA_EINVAL;
	}
	const char *svc = str_or_null(d, jdom_get(o, "service", NULL));
	if (!svc || !*svc) {
		buf_addf(d->err, "event %zu: service is required", idx);
		return OODA_EINVAL;
	}
	struct change_event ev = { 0 };
	if (parse_time(jdom_get(o, "time", NULL), now_ns, &ev.time_ns)) {
		buf_addf(d->err, "event %zu: time is not RFC 3339 or a unix timestamp", idx);
		return OODA_EINVAL;
	}
	ev.kind = kind;
	ev.service = svc;
	ev.environment = str_or_null(d, jdom_get(o, "environment", NULL));
	ev.version = str_or_null(d, jdom_get(o, "version", NULL));
	ev.actor = str_or_null(d, jdom_get(o, "actor", NULL));
	ev.description = str_or_null(d, jdom_get(o, "description", NULL));
	ev.id = str_or_null(d, jdom_get(o, "id", NULL));
	ev.source = "api";
	const struct jval *links = jdom_get(o, "links", NULL);
	if (links && links->type != J_NULL) {
		if (links->type != J_ARR) {
			buf_addf(d->err, "event %zu: links is not an array", idx);
			return OODA_EINVAL;
		}
		buf_reset(&d->scratch);
		jdom_write(&d->scratch, links);
		if (!(ev.links = dec_strndup(d, d->scratch.data, d->scratch.len)))
			return d->rc;
	}
	uint32_t cap = 0;
	const char *why = NULL;
	int rc = dec_json_attrs(d, jdom_get(o, "attributes", NULL), NULL, &ev.attrs, &cap, &why);
	if (rc == 1) {
		buf_addf(d->err, "event %zu: %s", idx, why);
		return OODA_EINVAL;
	}
	if (rc)
		return rc;
	struct change_event *out = dec_push_event(d);
	if (!out)
		return d->rc;
	*out = ev;
	return 0;
}

static const struct jval *parse_doc(struct telemetry_batch *batch, const void *body, size_t len,
				    const char *what, struct buf *err)
{
	struct buf jerr = BUF_INIT;
	const struct jval *root = jdom_parse(batch->arena, body, len, &jerr);
	if (!root && err)
		buf_addf(err, "%s: %s", what, jerr.data);
	buf_release(&jerr);
	return root;
}

int events_decode_json(const void *body, size_t len, int64_t now_ns, struct telemetry_batch *batch,
		       struct buf *err)
{
	const struct jval *root = parse_doc(batch, body, len, "change events", err);
	if (!root)
		return OODA_EPARSE;
	struct buf sink = BUF_INIT;
	struct dec d;
	dec_init(&d, batch, err ? err : &sink);
	int rc = 0;
	if (root->type == J_ARR) {
		size_t i = 0;
		for (const struct jval *e = root->child; e && !rc; e = e->next, i++)
			rc = one_event(&d, e, i, now_ns);
	} else {
		rc = one_event(&d, root, 0, now_ns);
	}
	dec_release(&d);
	buf_release(&sink);
	return rc;
}

/* ---- CloudEvents ---- */

/*
 * CDEvents (cdevents.dev) types, dev.cdevents.<subject>.<predicate> with an
 * optional ".<spec version>" suffix, → ooda's change kind. Why each kind is
 * the closest one is in docs/change.md. Other dev.cdevents types are custom.
 */
static const struct {
	const char *type, *kind;
} cdevent_kinds[] = {
	{ "service.deployed", "deploy" },      { "service.upgraded", "deploy" },
	{ "service.rolledback", "rollback" },  { "service.removed", "scale" },
	{ "environment.created", "config" },   { "environment.modified", "config" },
	{ "environment.deleted", "config" },   { "change.merged", "custom" },
	{ "pipelinerun.finished", "custom" },  { "incident.detected", "incident" },
	{ "incident.reported", "incident" },   { "incident.resolved", "incident" },
};

#define CDEVENTS_PREFIX "dev.cdevents."

struct ce_attrs {
	const char *specversion, *id, *source, *type, *time, *subject, *service;
};

static const char *ce_kind(const char *type)
{
	char low[256];
	size_t n = strlen(type);
	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)type[i]);
	low[n] = '\0';
	if (!strncmp(low, CDEVENTS_PREFIX, strlen(CDEVENTS_PREFIX))) {
		const char *t = low + strlen(CDEVENTS_PREFIX);
		for (size_t i = 0; i < sizeof(cdevent_kinds) / sizeof(cdevent_kinds[0]); i++) {
			size_t k = strlen(cdevent_kinds[i].type);
			if (!strncmp(t, cdevent_kinds[i].type, k) && (t[k] == '\0' || t[k] == '.'))
				return cdevent_kinds[i].kind;
		}
		return "custom";
	}
	for (size_t i = 0; i < sizeof(type_kinds) / sizeof(type_kinds[0]); i++)
		if (strstr(low, type_kinds[i].word))
			return type_kinds[i].kind;
	return "custom";
}

/* What a CDEvent's data model names; NULL when it does not say. */
struct cdevent {
	const char *service, *environment, *version, *timestamp;
};

/* obj.key as a string: 0 with *out NULL when absent or null, OODA_EINVAL naming path when not a string. */
static int cd_str(struct dec *d, size_t idx, const struct jval *obj, const char *key, const char *path,
		  const char **out)
{
	*out = NULL;
	const struct jval *v = jdom_get(obj, key, NULL);
	if (!v || v->type == J_NULL)
		return 0;
	if (v->type != J_STR) {
		buf_addf(d->err, "cloudevent %zu: %s is not a string", idx, path);
		return OODA_EINVAL;
	}
	*out = v->s;
	return 0;
}

/* obj.key as an object, under the same rules as cd_str. */
static int cd_obj(struct dec *d, size_t idx, const struct jval *obj, const char *key, const char *path,
		  const struct jval **out)
{
	*out = NULL;
	const struct jval *v = jdom_get(obj, key, NULL);
	if (!v || v->type == J_NULL)
		return 0;
	if (v->type != J_OBJ) {
		buf_addf(d->err, "cloudevent %zu: %s is not an object", idx, path);
		return OODA_EINVAL;
	}
	*out = v;
	return 0;
}

/*
 * A package URL field: its name and version into *name and *version (arena
 * copies), or OODA_EINVAL naming path when it does not parse.
 */
static int cd_purl(struct dec *d, size_t idx, const struct jval *v, const char *path, const char **name,
		   const char **version)
{
	struct purl p;
	struct buf why = BUF_INIT;
	int rc = purl_parse(v->s, v->len, &p, &why);
	if (rc) {
		buf_addf(d->err, "cloudevent %zu: %s is not a package URL (%s)", idx, path, why.data);
		buf_release(&why);
		return OODA_EINVAL;
	}
	buf_release(&why);
	if (!(*name = dec_strndup(d, p.name, strlen(p.name))))
		return d->rc;
	if (p.version && !(*version = dec_strndup(d, p.version, strlen(p.version))))
		return d->rc;
	return 0;
}

/*
 * Reads the CDEvents data model (data.context, data.subject) of a
 * dev.cdevents.* event of subject word subj (n bytes). Only the fields ooda
 * uses are checked; each of the wrong type is refused naming its path.
 * Where the service comes from depends on the subject: a service names
 * itself (subject.id, else the artifactId purl's name), an environment
 * event is its environment's (content.name, else subject.id), a pipeline
 * run its pipeline's, a change its repository's, an incident its
 * content.service.id; any other subject is its artifactId purl's name, else
 * subject.id (the purl's name when subject.id is a package URL).
 */
static int cdevent_read(struct dec *d, size_t idx, const char *subj, size_t n, const struct jval *data,
			struct cdevent *cd)
{
	memset(cd, 0, sizeof(*cd));
	const struct jval *ctx, *sub, *content, *env, *repo, *art;
	const char *sid, *s1 = NULL, *s2 = NULL, *pname = NULL, *pver = NULL;
	int rc;
	if ((rc = cd_obj(d, idx, data, "context", "data.context", &ctx)) ||
	    (rc = cd_str(d, idx, ctx, "timestamp", "data.context.timestamp", &cd->timestamp)) ||
	    (rc = cd_obj(d, idx, data, "subject", "data.subject", &sub)) ||
	    (rc = cd_str(d, idx, sub, "id", "data.subject.id", &sid)) ||
	    (rc = cd_obj(d, idx, sub, "content", "data.subject.content", &content)))
		return rc;
	if (dec_eq(subj, n, "environment")) {
		cd->environment = sid;
		if ((rc = cd_str(d, idx, content, "name", "data.subject.content.name", &s1)))
			return rc;
	} else if (dec_eq(subj, n, "pipelinerun")) {
		if ((rc = cd_str(d, idx, content, "pipelineName", "data.subject.content.pipelineName", &s1)))
			return rc;
	} else if (dec_eq(subj, n, "change")) {
		if ((rc = cd_obj(d, idx, content, "repository", "data.subject.content.repository", &repo)) ||
		    (rc = cd_str(d, idx, repo, "name", "data.subject.content.repository.name", &s1)) ||
		    (rc = cd_str(d, idx, repo, "id", "data.subject.content.repository.id", &s2)))
			return rc;
	} else {
		const char *env_id;
		if ((rc = cd_obj(d, idx, content, "environment", "data.subject.content.environment", &env)) ||
		    (rc = cd_str(d, idx, env, "id", "data.subject.content.environment.id", &env_id)))
			return rc;
		cd->environment = env_id;
		const struct jval *svc;
		if (dec_eq(subj, n, "incident") &&
		    ((rc = cd_obj(d, idx, content, "service", "data.subject.content.service", &svc)) ||
		     (rc = cd_str(d, idx, svc, "id", "data.subject.content.service.id", &s1))))
			return rc;
		const char *artifact;
		if ((rc = cd_str(d, idx, content, "artifactId", "data.subject.content.artifactId", &artifact)))
			return rc;
		art = jdom_get(content, "artifactId", NULL);
		if (artifact && (rc = cd_purl(d, idx, art, "data.subject.content.artifactId", &pname, &pver)))
			return rc;
		if (!dec_eq(subj, n, "service") && sid && !strncmp(sid, "pkg:", 4)) {
			const char *iname = NULL, *iver = NULL;
			if ((rc = cd_purl(d, idx, jdom_get(sub, "id", NULL), "data.subject.id", &iname, &iver)))
				return rc;
			sid = iname;
			if (!pver)
				pver = iver;
		}
		s2 = pname;
	}
	cd->version = pver;
	cd->service = s1 && *s1 ? s1 : s2 && *s2 ? s2 : sid;
	if (dec_eq(subj, n, "service") && sid && *sid)
		cd->service = sid;
	return 0;
}

static int ce_event(struct dec *d, const struct ce_attrs *a, const struct jval *data, size_t idx,
		    int64_t now_ns)
{
	static const char *const req_names[] = { "specversion", "id", "source", "type" };
	const char *req[] = { a->specversion, a->id, a->source, a->type };
	for (size_t i = 0; i < 4; i++) {
		if (!req[i] || !*req[i]) {
			buf_addf(d->err, "cloudevent %zu: %s is required", idx, req_names[i]);
			return OODA_EINVAL;
		}
	}
	if (strcmp(a->specversion, "1.0") != 0) {
		buf_addf(d->err, "cloudevent %zu: specversion \"%.32s\" is not 1.0", idx, a->specversion);
		return OODA_EINVAL;
	}
	struct change_event ev = { 0 };
	ev.time_ns = now_ns;
	if (a->time && *a->time && ooda_time_parse(a->time, strlen(a->time), &ev.time_ns)) {
		buf_addf(d->err, "cloudevent %zu: time is not RFC 3339", idx);
		return OODA_EINVAL;
	}
	if (data && data->type != J_OBJ)
		data = NULL;
	ev.kind = ce_kind(a->type);
	struct cdevent cd = { 0 };
	size_t pre = strlen(CDEVENTS_PREFIX);
	if (data && !strncasecmp(a->type, CDEVENTS_PREFIX, pre)) {
		const char *subj = a->type + pre;
		int rc = cdevent_read(d, idx, subj, strcspn(subj, "."), data, &cd);
		if (rc)
			return rc;
		if ((!a->time || !*a->time) && cd.timestamp &&
		    ooda_time_parse(cd.timestamp, strlen(cd.timestamp), &ev.time_ns)) {
			buf_addf(d->err, "cloudevent %zu: data.context.timestamp is not RFC 3339", idx);
			return OODA_EINVAL;
		}
	}
	/* ooda's own field first, then what the CDEvent says, then the envelope */
	const char *svc = str_or_null(d, jdom_get(data, "service", NULL));
	const char *order[] = { cd.service ? a->service : a->subject, cd.service, cd.service ? a->subject : a->service };
	for (size_t i = 0; i < 3 && (!svc || !*svc); i++)
		svc = order[i];
	if (!svc || !*svc) {
		buf_addf(d->err,
			 "cloudevent %zu: no service (data.service, a CDEvent's data.subject.id, the subject attribute "
			 "or the service extension)",
			 idx);
		return OODA_EINVAL;
	}
	ev.id = a->id;
	ev.source = a->source;
	ev.service = svc;
	ev.version = str_or_null(d, jdom_get(data, "version", NULL));
	if (!ev.version)
		ev.version = cd.version;
	ev.actor = str_or_null(d, jdom_get(data, "actor", NULL));
	ev.description = str_or_null(d, jdom_get(data, "description", NULL));
	ev.environment = str_or_null(d, jdom_get(data, "environment", NULL));
	if (!ev.environment)
		ev.environment = cd.environment;
	const struct jval *links = jdom_get(data, "links", NULL);
	if (links && links->type == J_ARR) {
		buf_reset(&d->scratch);
		jdom_write(&d->scratch, links);
		if (!(ev.links = dec_strndup(d, d->scratch.data, d->scratch.len)))
			return d->rc;
	}
	uint32_t cap = 0;
	struct attr *t = dec_push_attr(d, &ev.attrs, &cap);
	if (!t)
		return d->rc;
	t->key = "cloudevents.type";
	t->type = ATTR_STR;
	t->s = a->type;
	t->len = (uint32_t)strlen(a->type);
	static const char *const used[] = {
		"service", "version", "actor", "description", "environment", "links", NULL,
	};
	const char *why = NULL;
	int rc = dec_json_attrs(d, data, used, &ev.attrs, &cap, &why);
	if (rc == 1) {
		buf_addf(d->err, "cloudevent %zu: %s", idx, why);
		return OODA_EINVAL;
	}
	if (rc)
		return rc;
	struct change_event *out = dec_push_event(d);
	if (!out)
		return d->rc;
	*out = ev;
	return 0;
}

static int ce_structured(struct dec *d, const struct jval *o, size_t idx, int64_t now_ns)
{
	if (o->type != J_OBJ) {
		buf_addf(d->err, "cloudevent %zu: not a JSON object", idx);
		return OODA_EINVAL;
	}
	struct ce_attrs a = {
		.specversion = jdom_str(jdom_get(o, "specversion", NULL)),
		.id = jdom_str(jdom_get(o, "id", NULL)),
		.source = jdom_str(jdom_get(o, "source", NULL)),
		.type = jdom_str(jdom_get(o, "type", NULL)),
		.time = jdom_str(jdom_get(o, "time", NULL)),
		.subject = jdom_str(jdom_get(o, "subject", NULL)),
		.service = jdom_str(jdom_get(o, "service", NULL)),
	};
	return ce_event(d, &a, jdom_get(o, "data", NULL), idx, now_ns);
}

static const char *ce_header(struct dec *d, const char *(*header)(void *, const char *), void *hctx,
			     const char *name)
{
	const char *v = header(hctx, name);
	if (!v)
		return NULL;
	size_t n = strnlen(v, DECODE_MAX_ATTR_LEN + 1);
	if (n > DECODE_MAX_ATTR_LEN)
		return NULL;
	return dec_strndup(d, v, n);
}

int events_decode_cloudevent(const void *body, size_t len,
			     const char *(*header)(void *ctx, const char *name), void *hctx,
			     int64_t now_ns, struct telemetry_batch *batch, struct buf *err)
{
	struct buf sink = BUF_INIT;
	struct dec d;
	dec_init(&d, batch, err ? err : &sink);
	int rc = 0;
	if (!header) {
		const struct jval *root = parse_doc(batch, body, len, "cloudevents", err);
		if (!root) {
			rc = OODA_EPARSE;
		} else if (root->type == J_ARR) {
			size_t i = 0;
			for (const struct jval *e = root->child; e && !rc; e = e->next, i++)
				rc = ce_structured(&d, e, i, now_ns);
		} else {
			rc = ce_structured(&d, root, 0, now_ns);
		}
	} else {
		struct ce_attrs a = {
			.specversion = ce_header(&d, header, hctx, "ce-specversion"),
			.id = ce_header(&d, header, hctx, "ce-id"),
			.source = ce_header(&d, header, hctx, "ce-source"),
			.type = ce_header(&d, header, hctx, "ce-type"),
			.time = ce_header(&d, header, hctx, "ce-time"),
			.subject = ce_header(&d, header, hctx, "ce-subject"),
			.service = ce_header(&d, header, hctx, "ce-service"),
		};
		const struct jval *data = NULL;
		if (len) {
			/* data that is not JSON is not ours to read; the attributes still count */
			data = jdom_parse(batch->arena, body, len, NULL);
		}
		rc = d.rc ? d.rc : ce_event(&d, &a, data, 0, now_ns);
	}
	dec_release(&d);
	buf_release(&sink);
	return rc;
}
