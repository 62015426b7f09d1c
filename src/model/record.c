/*
 * Rendering of the telemetry model shared by every reader: attributes as a
 * JSON object (the API's search and trace answers, stored change events);
 * the peer a client span names.
 */
#include "model/record.h"
#include "core/buf.h"
#include "core/hex.h"

#include <string.h>

static void attr_value_json(struct buf *b, const struct attr *t)
{
	switch (t->type) {
	case ATTR_INT:
		buf_addf(b, "%lld", (long long)t->i);
		break;
	case ATTR_DOUBLE:
		if (t->d != t->d || t->d > 1.7e308 || t->d < -1.7e308)
			buf_adds(b, "null");
		else
			buf_addf(b, "%.17g", t->d);
		break;
	case ATTR_BOOL:
		buf_adds(b, t->b ? "true" : "false");
		break;
	case ATTR_JSON:
		buf_add(b, t->s, t->len);
		break;
	case ATTR_BYTES: {
		char hex[2 * 256 + 1];
		size_t n = t->len < 256 ? t->len : 256;
		hex_encode((const uint8_t *)t->s, n, hex);
		buf_add_json_str(b, hex, 2 * n);
		break;
	}
	default:
		buf_add_json_str(b, t->s, t->len);
	}
}

void record_attrs_json(struct buf *b, const struct attrs *a)
{
	buf_addch(b, '{');
	for (uint32_t i = 0; i < a->n; i++) {
		if (i)
			buf_addch(b, ',');
		buf_add_json_str(b, a->v[i].key, strlen(a->v[i].key));
		buf_addch(b, ':');
		attr_value_json(b, &a->v[i]);
	}
	buf_addch(b, '}');
}


const char *span_client_peer(const struct span *sp, size_t *len, bool *db)
{
	static const char *const keys[] = { "peer.service", "server.address", "net.peer.name", "db.system.name",
					    "db.system" };
	enum { NKEYS = sizeof(keys) / sizeof(keys[0]) };
	const struct attr *found[NKEYS] = { 0 };
	for (uint32_t i = 0; i < sp->attrs.n; i++) {
		const struct attr *a = &sp->attrs.v[i];
		if (!a->key || a->type != ATTR_STR || !a->s || a->len == 0)
			continue;
		for (int j = 0; j < NKEYS; j++) {
			if (!found[j] && !strcmp(a->key, keys[j])) {
				found[j] = a;
				break;
			}
		}
	}
	*db = found[3] || found[4];
	for (int j = 0; j < NKEYS; j++) {
		if (found[j]) {
			*len = found[j]->len;
			return found[j]->s;
		}
	}
	return NULL;
}
