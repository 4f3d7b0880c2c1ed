/* rxbuf.c — receive buffers for messages that span several lws chunks, from
 * a free list. Only the service thread uses them, so no locking. */
#include "rxbuf.h"

#include <sodium.h>

#include "lotse/proto.h"
#include "mem.h"

/* ws.c gathers text and binary messages alike into one buffer. */
_Static_assert(LOTSE_MAX_TEXT_FRAME <= RXBUF_BYTES, "the largest text message fits a buffer");
_Static_assert(LOTSE_MAX_BINARY_FRAME <= RXBUF_BYTES, "the largest frame fits a buffer");
_Static_assert(LOTSE_MAIL_FRAME_MAX <= RXBUF_LARGE_BYTES,
               "the largest MAIL frame fits a large buffer");
_Static_assert(LOTSE_MAIL_FRAME_MAX == LOTSE_FRAME_HEADER_BYTES + LOTSE_MAIL_ENVELOPE_MAX,
               "a MAIL frame is a header and one envelope");

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

/* The large pool: buffers given back stay cached, so at most RXBUF_LARGE_MAX
 * exist at any time. */
static struct rxbuf *large_free;
static size_t large_out;

uint8_t *rxbuf_get_large(void)
{
    if (large_out >= RXBUF_LARGE_MAX)
        return NULL;
    uint8_t *buf;
    if (large_free) {
        struct rxbuf *b = large_free;
        large_free = b->next;
        b->next = NULL;
        buf = (uint8_t *)b;
    } else {
        buf = mem_calloc(1, RXBUF_LARGE_BYTES);
        if (!buf)
            return NULL;
    }
    large_out++;
    return buf;
}

void rxbuf_put_large(uint8_t *buf, size_t used)
{
    if (!buf)
        return;
    sodium_memzero(buf, used);
    struct rxbuf *b = (struct rxbuf *)buf;
    b->next = large_free;
    large_free = b;
    large_out--;
}

bool rxbuf_large_available(void)
{
    return large_out < RXBUF_LARGE_MAX;
}

size_t rxbuf_large_out(void)
{
    return large_out;
}

void rxbuf_pool_drain(void)
{
    while (large_free) {
        struct rxbuf *b = large_free;
        large_free = b->next;
        mem_free(b);
    }
    while (rx_free) {
        struct rxbuf *b = rx_free;
        rx_free = b->next;
        mem_free(b);
    }
    rx_cached = 0;
}
