/*
 * Rendering of the telemetry model shared by every reader: attributes as a
 * JSON object (the API's search and trace answers, stored change events).
 */
#include "model/record.h"
#include "core/buf.h"
#include "core/hex.h"

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

