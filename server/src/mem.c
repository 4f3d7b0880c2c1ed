/* mem.c — allocation wrapper: overflow-checked, zeroing, and a wiping free. */
#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

void *mem_calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0)
        n = size = 1;
    return calloc(n, size);
}

void *mem_realloc(void *p, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    return realloc(p, bytes ? bytes : 1);
}

void mem_free(void *p)
{
    free(p);
}

void mem_free_secret(void *p, size_t len)
{
    if (!p)
        return;
    sodium_memzero(p, len);
    free(p);
}

char *mem_strdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy = mem_calloc(1, len);
    if (copy)
        memcpy(copy, s, len);
    return copy;
}
