/*
 * MurmurHash3, x86 32-bit variant: the hash flagd's `fractional` operator
 * buckets users with. Written from the published algorithm; the change
 * stage uses it to split traffic between flag variants deterministically.
 */
#ifndef OODA_MURMUR3_H
#define OODA_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

/* Hashes len bytes of data with seed. data may be NULL only when len is 0. */
uint32_t murmur3_x86_32(const void *data, size_t len, uint32_t seed);

#endif
