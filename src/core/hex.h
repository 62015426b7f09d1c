/*
 * Lower-case hexadecimal text of bytes and back: trace and span ids, audit
 * hashes, token and silence ids. The generic helper every layer shares, so
 * no stage borrows another's (the block store, the audit log and the
 * decoders each had their own).
 */
#ifndef OODA_HEX_H
#define OODA_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Hex of n bytes, lower case, into out (2n+1 bytes, NUL-terminated). */
void hex_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decodes exactly 2*n hex digits (either case) of s into out. Returns 0, or
 * -1 if len is not 2*n or a character is not a hex digit; out is then
 * partly written.
 */
int hex_decode(const char *s, size_t len, uint8_t *out, size_t n);

#endif
