/*
 * Internals shared by the block writer (tblock_write.c) and reader
 * (tblock.c): the column numbering, the OTB2 storage order, the token
 * characters and hash mix both sides must agree on, and the per-thread
 * zstd decompression context. Nothing outside those two files includes
 * this.
 */
#ifndef OODA_TBLOCK_IMPL_H
#define OODA_TBLOCK_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <zstd.h>

#include "store/tblock.h"

enum col { C_DICT, C_TIME, C_TIME2, C_U8, C_STR, C_BODY, C_IDS, C_NUM, C_RES, C_ATTR, C_COUNT };

/* OTB2 storage order: what counting reads first, bodies and ids last. */
static const uint8_t v2_order[C_COUNT] = { C_TIME, C_U8, C_RES, C_DICT, C_ATTR, C_STR, C_TIME2, C_NUM, C_IDS, C_BODY };

static inline bool tok_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c >= 0x80;
}

static inline uint64_t tok_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The calling thread's zstd decompression context, created on first use and
 * freed when the thread exits; NULL if zstd could not allocate one. */
ZSTD_DCtx *tblock_dctx(void);

#endif
