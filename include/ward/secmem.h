/*
 * Guarded memory for short-lived secrets, fast enough for every request of
 * the key service: blocks come from libsodium's sodium_malloc (locked in RAM,
 * guard pages, excluded from core dumps) and are kept, wiped, in per-size
 * pools for reuse instead of being unmapped, because sodium_malloc and
 * sodium_free cost several system calls each and serialise threads on the
 * process's memory map.
 *
 * Thread safety: both functions may be called from any thread.
 */
#ifndef WARD_SECMEM_H
#define WARD_SECMEM_H

#include <stddef.h>

#include "ward/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * At least n bytes of guarded memory (contents unspecified), or NULL if out
 * of memory. Free with ward_secmem_free, never with free or sodium_free.
 */
WARD_EXPORT void *ward_secmem_alloc(size_t n);

/* Wipes the n bytes asked for and returns the block to its pool. Accepts NULL. */
WARD_EXPORT void ward_secmem_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
