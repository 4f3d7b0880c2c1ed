/* rxbuf.c — receive buffers for messages that span several lws chunks, from
 * a free list. Only the service thread uses them, so no locking. */
#include "rxbuf.h"

#include <sodium.h>

#include "lotse/proto.h"
#include "mem.h"

/* ws.c gathers text and binary messages alike into one buffer. */
_Static_assert(LOTSE_MAX_TEXT_FRAME <= RXBUF_BYTES, "the largest text message fits a buffer");
_Static_assert(LOTSE_MAX_BINARY_FRAME <= RXBUF_BYTES, "the largest frame fits a buffer");

struct rxbuf {
    struct rxbuf *next;
};
static struct rxbuf *rx_free;
static size_t rx_cached;

uint8_t *rxbuf_get(void)
{
    if (rx_free) {
        struct rxbuf *b = rx_free;
        rx_free = b->next;
        rx_cached--;
        b->next = NULL; /* the only bytes of it not wiped by rxbuf_put */
        return (uint8_t *)b;
    }
    return mem_calloc(1, RXBUF_BYTES);
}

void rxbuf_put(uint8_t *buf, size_t used)
{
    if (!buf)
        return;
    sodium_memzero(buf, used);
    if (rx_cached >= 256) {
        mem_free(buf);
        return;
    }
    struct rxbuf *b = (struct rxbuf *)buf;
    b->next = rx_free;
    rx_free = b;
    rx_cached++;
}

void rxbuf_pool_drain(void)
{
    while (rx_free) {
        struct rxbuf *b = rx_free;
        rx_free = b->next;
        mem_free(b);
    }
    rx_cached = 0;
}
