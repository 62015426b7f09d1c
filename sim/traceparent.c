/*
 * W3C traceparent parsing and formatting (https://www.w3.org/TR/trace-context/),
 * and the small random source the simulator uses for ids and jitter. Every
 * simulated call writes the header with traceparent_format and every service
 * reads it back with traceparent_parse, which is where the spans of one request
 * get their common trace id and their parent links.
 */
#include "traceparent.h"

#include "core/error.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case is not allowed by the spec */
}

/* Decodes exactly 2*n lower-case hex digits from s into out; -1 on a bad digit. */
static int hex_lower(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

bool trace_id_is_zero(const uint8_t *id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (id[i])
			return false;
	return true;
}

int traceparent_parse(const char *s, size_t len, struct trace_ctx *out)
{
	uint8_t version, flags;
	struct trace_ctx c;

	if (!s || len < TRACEPARENT_LEN)
		return OODA_EINVAL;
	if (hex_lower(s, &version, 1) < 0 || version == 0xff)
		return OODA_EINVAL;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-')
		return OODA_EINVAL;
	if (hex_lower(s + 3, c.trace_id, 16) < 0 || hex_lower(s + 36, c.span_id, 8) < 0 ||
	    hex_lower(s + 53, &flags, 1) < 0)
		return OODA_EINVAL;
	if (version == 0 && len != TRACEPARENT_LEN)
		return OODA_EINVAL;
	if (version > 0 && len > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != '-')
		return OODA_EINVAL;
	if (trace_id_is_zero(c.trace_id, 16) || trace_id_is_zero(c.span_id, 8))
		return OODA_EINVAL;
	c.flags = flags;
	*out = c;
	return 0;
}

static void hex_put(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
}

char *traceparent_format(const struct trace_ctx *ctx, char *out)
{
	memcpy(out, "00-", 3);
	hex_put(ctx->trace_id, 16, out + 3);
	out[35] = '-';
	hex_put(ctx->span_id, 8, out + 36);
	out[52] = '-';
	hex_put(&ctx->flags, 1, out + 53);
	out[TRACEPARENT_LEN] = '\0';
	return out;
}

uint64_t sim_rand64(uint64_t *state)
{
	uint64_t x = *state ? *state : UINT64_C(0x9e3779b97f4a7c15);
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

double sim_rand01(uint64_t *state)
{
	return (double)(sim_rand64(state) >> 11) * (1.0 / 9007199254740992.0);
}

void trace_id_random(uint8_t *id, size_t n, uint64_t *rng)
{
	do {
		for (size_t i = 0; i < n; i += 8) {
			uint64_t r = sim_rand64(rng);
			for (size_t j = 0; j < 8 && i + j < n; j++)
				id[i + j] = (uint8_t)(r >> (8 * j));
		}
	} while (trace_id_is_zero(id, n));
}
