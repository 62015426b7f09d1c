/*
 * The ingest doors: OTLP/HTTP (/v1/logs, /v1/traces, /v1/metrics, protobuf
 * or JSON), Prometheus remote-write (/api/v1/write), NDJSON logs
 * (/api/v1/logs) and change events (/api/v1/events, plain JSON or
 * CloudEvents structured, batch and binary mode). Each handler decodes the
 * body into a batch in the request's arena, hands it to the telemetry store
 * and answers only once the records are durable. OTLP errors and partial
 * success are written in the request's own content type, as OTLP/HTTP asks.
 */
#include <strings.h>

#include "api/api.h"
#include "api/handlers.h"
#include "api/prom_shared.h"
#include "detect/logclass.h"
#include "core/log.h"
#include "core/time.h"
#include "change/change.h"
#include "ingest/events.h"
#include "ingest/ndjson.h"
#include "ingest/otlp.h"
#include "ingest/remote_write.h"
#include "store/tstore.h"

#include <sodium.h>

enum otlp_kind { OTLP_LOGS, OTLP_TRACES, OTLP_METRICS };

static const char *const otlp_rejected_json[] = { "rejectedLogRecords", "rejectedSpans", "rejectedDataPoints" };

/* Media type without parameters, compared case-insensitively. */
static bool content_type_is(struct http_request *req, const char *want)
{
	const char *ct = http_header(req, "Content-Type");
	if (!ct)
		return false;
	size_t n = strlen(want);
	return !strncasecmp(ct, want, n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

static void pb_varint(struct buf *b, uint64_t v)
{
	while (v >= 0x80) {
		buf_addch(b, (char)(v | 0x80));
		v >>= 7;
	}
	buf_addch(b, (char)v);
}

/* google.rpc.Status { code = 1; message = 2 } or its JSON form. */
static int otlp_error(struct http_response *res, bool json, int status, int rpc_code, const char *msg)
{
	buf_reset(&res->body);
	res->status = status;
	if (json) {
		res->content_type = "application/json";
		buf_addf(&res->body, "{\"code\":%d,\"message\":", rpc_code);
		buf_add_json_str(&res->body, msg, strlen(msg));
		buf_addch(&res->body, '}');
	} else {
		res->content_type = "application/x-protobuf";
		buf_addch(&res->body, 0x08);
		pb_varint(&res->body, (uint64_t)rpc_code);
		size_t n = strlen(msg);
		buf_addch(&res->body, 0x12);
		pb_varint(&res->body, n);
		buf_add(&res->body, msg, n);
	}
	if (status == 429 || status == 503)
		http_set_header(res, "Retry-After", "1");
	return 0;
}

static int rpc_code_for(int status)
{
	switch (status) {
	case 400: return 3;  /* INVALID_ARGUMENT */
	case 401: return 16; /* UNAUTHENTICATED */
	case 403: return 7;  /* PERMISSION_DENIED */
	case 413: return 8;  /* RESOURCE_EXHAUSTED */
	case 429: return 8;
	case 503: return 14; /* UNAVAILABLE */
	default: return 13;  /* INTERNAL */
	}
}

static int store_batch(struct http_request *req, struct telemetry_batch *b)
{
	struct daemon *d = api_daemon(req);
	int rc = tstore_append(d->tstore, b, &req->err);
	if (!rc && b->n_logs && d->logclass)
		logclass_publish(d->logclass, b); /* several nodes: for every node's pattern miners */
	return rc;
}

static int otlp_ingest(struct http_request *req, struct http_response *res, enum otlp_kind kind)
{
	bool json;
	if (content_type_is(req, "application/x-protobuf") || content_type_is(req, "application/protobuf"))
		json = false;
	else if (content_type_is(req, "application/json"))
		json = true;
	else {
		const char *ct = http_header(req, "Content-Type");
		buf_addf(&req->err, "Content-Type %s is not accepted here: send application/x-protobuf or application/json",
			 ct ? ct : "(none)");
		return OODA_EUNSUPPORTED;
	}
	struct telemetry_batch b = { .arena = &req->arena };
	int64_t now = ooda_now_ns();
	int rc = kind == OTLP_LOGS ? otlp_decode_logs(req->body, req->body_len, json, now, &b, &req->err) :
		 kind == OTLP_TRACES ? otlp_decode_traces(req->body, req->body_len, json, now, &b, &req->err) :
				       otlp_decode_metrics(req->body, req->body_len, json, now, &b, &req->err);
	if (rc) {
		int status = ooda_http_status(rc);
		return otlp_error(res, json, status, rpc_code_for(status), req->err.data);
	}
	rc = store_batch(req, &b);
	if (rc) {
		int status = ooda_http_status(rc);
		if (status != 429)
			status = 503;
		return otlp_error(res, json, status, rpc_code_for(status), req->err.data);
	}
	if (kind == OTLP_METRICS)
		prom_shared_exemplars_add(api_daemon(req), &b);
	res->status = 200;
	buf_reset(&res->body);
	const char *msg = b.reject_msg ? b.reject_msg : "some records were rejected";
	if (json) {
		res->content_type = "application/json";
		if (b.rejected) {
			buf_addf(&res->body, "{\"partialSuccess\":{\"%s\":\"%zu\",\"errorMessage\":",
				 otlp_rejected_json[kind], b.rejected);
			buf_add_json_str(&res->body, msg, strlen(msg));
			buf_adds(&res->body, "}}");
		} else {
			buf_adds(&res->body, "{}");
		}
	} else {
		res->content_type = "application/x-protobuf";
		if (b.rejected) {
			struct buf inner = BUF_INIT;
			buf_addch(&inner, 0x08);
			pb_varint(&inner, b.rejected);
			size_t n = strlen(msg);
			buf_addch(&inner, 0x12);
			pb_varint(&inner, n);
			buf_add(&inner, msg, n);
			buf_addch(&res->body, 0x0a);
			pb_varint(&res->body, inner.len);
			buf_add(&res->body, inner.data, inner.len);
			buf_release(&inner);
		}
	}
	return 0;
}

int api_otlp_logs(struct http_request *req, struct http_response *res)
{
	return otlp_ingest(req, res, OTLP_LOGS);
}

int api_otlp_traces(struct http_request *req, struct http_response *res)
{
	return otlp_ingest(req, res, OTLP_TRACES);
}

int api_otlp_metrics(struct http_request *req, struct http_response *res)
{
	return otlp_ingest(req, res, OTLP_METRICS);
}

int api_remote_write(struct http_request *req, struct http_response *res)
{
	if (!content_type_is(req, "application/x-protobuf")) {
		const char *ct = http_header(req, "Content-Type");
		buf_addf(&req->err, "remote-write needs Content-Type application/x-protobuf (snappy-compressed WriteRequest), not %s",
			 ct ? ct : "(none)");
		return OODA_EUNSUPPORTED;
	}
	const char *enc = http_header(req, "Content-Encoding");
	if (enc && strcasecmp(enc, "snappy")) {
		buf_addf(&req->err, "remote-write bodies are snappy-compressed; Content-Encoding %s is not supported", enc);
		return OODA_EUNSUPPORTED;
	}
	struct telemetry_batch b = { .arena = &req->arena };
	struct rw_metadata *meta;
	size_t n_meta;
	int rc = remote_write_decode_meta(req->body, req->body_len, &b, &meta, &n_meta, &req->err);
	if (rc)
		return rc == OODA_ETOOBIG || rc == OODA_ENOMEM ? rc : OODA_EINVAL; /* 413 or 503: the body may be fine */
	if ((rc = store_batch(req, &b)))
		return rc;
	prom_shared_metadata_set(api_daemon(req), meta, n_meta);
	res->status = 204;
	return 0;
}

int api_ndjson_logs(struct http_request *req, struct http_response *res)
{
	if (!content_type_is(req, "application/x-ndjson") && !content_type_is(req, "application/jsonl") &&
	    !content_type_is(req, "application/json-seq") && !content_type_is(req, "text/plain")) {
		const char *ct = http_header(req, "Content-Type");
		buf_addf(&req->err, "send one JSON object per line with Content-Type application/x-ndjson, not %s",
			 ct ? ct : "(none)");
		return OODA_EUNSUPPORTED;
	}
	struct telemetry_batch b = { .arena = &req->arena };
	struct buf report = BUF_INIT;
	int rc = ndjson_decode_logs(req->body, req->body_len, ooda_now_ns(), &b, &report, &req->err);
	if (!rc)
		rc = store_batch(req, &b);
	if (!rc) {
		buf_addf(&res->body, "{\"accepted\":%zu,\"rejected\":%zu,\"errors\":%s}", b.n_logs, b.rejected,
			 report.len ? report.data : "[]");
		res->status = b.n_logs || !b.rejected ? 200 : 400;
	}
	buf_release(&report);
	return rc;
}

struct hdr_ctx {
	struct http_request *req;
};

static const char *ce_header(void *ctx, const char *name)
{
	return http_header(((struct hdr_ctx *)ctx)->req, name);
}

/*
 * Before anything is stored: an environment-scoped token's events are of its
 * environment (filled in when unnamed, 403 when another is named), and the
 * actor is who the server authenticated; a different claimed actor is kept
 * as the attribute reported_by.
 */
static int events_own(struct http_request *req, struct telemetry_batch *b)
{
	for (size_t i = 0; i < b->n_events; i++) {
		struct change_event *e = &b->events[i];
		if (req->who.env[0] && !e->environment)
			e->environment = req->who.env;
		int rc = api_env_allowed(req, e->environment);
		if (rc) {
			buf_addf(&req->err, " (event %zu); nothing was stored", i);
			return rc;
		}
		const char *claimed = e->actor;
		e->actor = api_actor(req, claimed);
		if (claimed && strcmp(claimed, e->actor)) {
			struct attr *v = arena_alloc(&req->arena, (e->attrs.n + 1) * sizeof(*v));
			if (e->attrs.n)
				memcpy(v, e->attrs.v, e->attrs.n * sizeof(*v));
			v[e->attrs.n] = (struct attr){ .key = "reported_by", .type = ATTR_STR,
						       .len = (uint32_t)strlen(claimed), .s = claimed };
			e->attrs.v = v;
			e->attrs.n++;
		}
	}
	return 0;
}

int api_events_post(struct http_request *req, struct http_response *res)
{
	struct telemetry_batch b = { .arena = &req->arena };
	int64_t now = ooda_now_ns();
	int rc;
	struct hdr_ctx hc = { req };
	if (content_type_is(req, "application/cloudevents+json") ||
	    content_type_is(req, "application/cloudevents-batch+json")) {
		rc = events_decode_cloudevent(req->body, req->body_len, NULL, NULL, now, &b, &req->err);
	} else if (http_header(req, "ce-specversion")) {
		rc = events_decode_cloudevent(req->body, req->body_len, ce_header, &hc, now, &b, &req->err);
	} else if (content_type_is(req, "application/json")) {
		rc = events_decode_json(req->body, req->body_len, now, &b, &req->err);
	} else {
		const char *ct = http_header(req, "Content-Type");
		buf_addf(&req->err, "send application/json, application/cloudevents+json, or CloudEvents binary mode (ce-* headers); got %s",
			 ct ? ct : "(none)");
		return OODA_EUNSUPPORTED;
	}
	if (rc)
		return rc == OODA_EPARSE ? OODA_EINVAL : rc;
	if (!b.n_events) {
		buf_adds(&req->err, "the body holds no event");
		return OODA_EINVAL;
	}
	if ((rc = events_own(req, &b)))
		return rc;
	for (size_t i = 0; i < b.n_events; i++)
		if (!b.events[i].id || !*b.events[i].id)
			b.events[i].id = arena_printf(&req->arena, "ev_%016llx%08x", (unsigned long long)now,
						      randombytes_random());
	if ((rc = store_batch(req, &b)))
		return rc;
	/* a CDEvents "service deployed" or "service upgraded" also enters the deploy registry, with the actor its event has */
	json_t *deploys = json_array();
	for (size_t i = 0; i < b.n_events; i++) {
		const struct change_event *e = &b.events[i];
		const char *type = NULL, *artifact = NULL, *claimed = NULL;
		for (uint32_t k = 0; k < e->attrs.n; k++) {
			const struct attr *t = &e->attrs.v[k];
			if (t->type != ATTR_STR)
				continue;
			if (!strcmp(t->key, "cloudevents.type"))
				type = t->s;
			else if (!strcmp(t->key, "artifact") || !strcmp(t->key, "artifactId") ||
				 !strcmp(t->key, "subject.content.artifactId"))
				artifact = t->s;
			else if (!strcmp(t->key, "reported_by"))
				claimed = t->s;
		}
		if (!type || !e->service || !e->version ||
		    (strncasecmp(type, "dev.cdevents.service.deployed", 29) &&
		     strncasecmp(type, "dev.cdevents.service.upgraded", 29)))
			continue;
		struct deploy_req r = { .service = e->service, .env = e->environment ? e->environment : "default",
					.version = e->version, .artifact = artifact, .actor = e->actor,
					.deployed_by = claimed, .note = e->description, .no_event = true };
		struct buf derr = BUF_INIT;
		if (!deploy_record(&api_daemon(req)->change, &r, &derr))
			json_array_append_new(deploys, json_string(r.id));
		else
			log_warn("CDEvent %s not recorded as a deploy: %s", e->id ? e->id : "", derr.data);
		buf_release(&derr);
	}
	buf_addf(&res->body, "{\"accepted\":%zu,\"ids\":[", b.n_events);
	for (size_t i = 0; i < b.n_events; i++) {
		if (i)
			buf_addch(&res->body, ',');
		const char *id = b.events[i].id ? b.events[i].id : "";
		buf_add_json_str(&res->body, id, strlen(id));
	}
	char *dj = json_dumps(deploys, JSON_COMPACT);
	buf_addf(&res->body, "],\"deploys\":%s}", dj);
	free(dj);
	json_decref(deploys);
	res->status = 202;
	return 0;
}

int api_events_list(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	struct tstore_event_filter f = {
		.service = http_query(req, "service"),
		.kind = http_query(req, "kind"),
		.environment = http_query(req, "env"),
	};
	int rc = req->who.env[0] && f.environment ? api_env_allowed(req, f.environment) : 0;
	if (req->who.env[0])
		f.environment = req->who.env;
	if (!rc)
		rc = api_query_time(req, "from", &f.from_ns);
	if (rc == OODA_ENOTFOUND)
		rc = api_query_time(req, "since", &f.from_ns);
	if (rc == OODA_ENOTFOUND)
		rc = 0, f.from_ns = 0;
	if (!rc) {
		rc = api_query_time(req, "to", &f.to_ns);
		if (rc == OODA_ENOTFOUND)
			rc = 0, f.to_ns = 0;
	}
	if (!rc)
		rc = api_query_limit(req, "limit", 100, 10000, &f.limit);
	if (rc)
		return rc;
	buf_adds(&res->body, "{\"events\":");
	rc = tstore_events_json(d->tstore, &f, &res->body, &req->err);
	buf_adds(&res->body, "}");
	return rc;
}
