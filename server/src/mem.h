/* mem.h — the one allocation wrapper of lotse. */
#ifndef LOTSE_MEM_H
#define LOTSE_MEM_H

#include <stddef.h>

/* Returns zeroed memory of n * size bytes, or NULL (overflow or out of memory).
 * The caller owns it and releases it with mem_free(). */
void *mem_calloc(size_t n, size_t size);

/* Resizes p to n * size bytes (new tail not zeroed); NULL on failure, p untouched. */
void *mem_realloc(void *p, size_t n, size_t size);

/* Releases memory from mem_calloc/mem_realloc; NULL is ignored. */
void mem_free(void *p);

/* Wipes len bytes (sodium_memzero) and then releases p. For buffers that held
 * keys, tokens, passwords or ciphertext. */
void mem_free_secret(void *p, size_t len);

/* Copies s into fresh memory; NULL on failure. */
char *mem_strdup(const char *s);

#endif
