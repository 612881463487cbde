/* FNV-1a, 64 bits, as 16 lowercase hex digits: the compiled-bundle entry's checksum and file
 * name (lib/compiled/format.ts fnv1a64). One definition for the runner (monitor/entry.c),
 * which checks entries, and the addon, which seals them: a cold create hashed ~20 KB in
 * JavaScript that had not been compiled yet (~2-3 ms); the two must never disagree. */
#ifndef LAUNCH_FNV_H
#define LAUNCH_FNV_H

#include <stddef.h>
#include <stdint.h>

static inline void lc_fnv1a64(const void *data, size_t len, char out[17]) {
  static const char hex[] = "0123456789abcdef";
  const uint8_t *p = (const uint8_t *)data;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  for (int i = 15; i >= 0; i--, h >>= 4) out[i] = hex[h & 15];
  out[16] = 0;
}

#endif
