/*
 * Change-event intake: deploys, rollbacks, config and flag changes,
 * migrations, scaling and incidents, posted as ooda's own JSON or as
 * CloudEvents 1.0 (structured, batch or binary mode), decoded into
 * change_event records that feed the timeline and root-cause ranking.
 * Pure functions: no I/O.
 */
#ifndef OODA_EVENTS_H
#define OODA_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/record.h"

/*
 * Decodes one event object or an array of them:
 * {kind, service, environment, version, actor, time, description,
 *  links: [...], attributes: {...}, id}. kind is one of deploy, rollback,
 * config, flag, migration, scale, incident, custom; service is required;
 * time (RFC 3339 or unix) defaults to now_ns; source is "api"; id stays
 * NULL when absent (the caller assigns one). Events are appended to batch
 * (arena set by the caller, owns all strings); body stays the caller's.
 *
 * Errors: OODA_EPARSE (invalid JSON; err has line and column), OODA_EINVAL
 * (a bad event; err names the array index and the field), OODA_ETOOBIG.
 * Nothing is all-or-nothing here: on error the batch must be dropped.
 */
int events_decode_json(const void *body, size_t len, int64_t now_ns, struct telemetry_batch *batch,
		       struct buf *err);

/*
 * Decodes a CloudEvent. With header NULL, body is structured mode
 * (application/cloudevents+json, one object) or batch mode
 * (application/cloudevents-batch+json, an array). Otherwise binary mode:
 * header(hctx, "ce-specversion") etc. give the attributes (NULL when
 * absent) and body is the data. specversion "1.0", id, source and type are
 * required. The type maps to a kind (…deploy… → deploy, rollback, config,
 * flag, migration, scale, incident, else custom); service comes from
 * data.service, the subject or the "service" extension; version, actor,
 * description and environment from data. A CDEvent (type dev.cdevents.*)
 * is read through its data model instead: its kind from the CDEvents table
 * in events.c, service, version and environment from data.subject (the
 * version from the artifactId package URL), the time from
 * data.context.timestamp when the CloudEvent has none (docs/change.md has
 * the rules). Everything in data is also kept as flattened attributes.
 * Ownership as above.
 *
 * Errors: OODA_EPARSE (invalid JSON), OODA_EINVAL (missing or bad
 * attribute, or a CDEvents field of the wrong type; err names its path,
 * e.g. "data.subject.id"), OODA_ETOOBIG.
 */
int events_decode_cloudevent(const void *body, size_t len,
			     const char *(*header)(void *ctx, const char *name), void *hctx,
			     int64_t now_ns, struct telemetry_batch *batch, struct buf *err);

#endif
