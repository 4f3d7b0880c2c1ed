/* rxbuf.h — receive buffers for a message that spans several lws chunks
 * (ws.c): idle connections hold none, and a free list spares an allocation
 * per message. The connection that took a buffer owns it until rxbuf_put. */
#ifndef LOTSE_RXBUF_H
#define LOTSE_RXBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lotse/mail.h"
#include "lotse/proto.h"

/* Bytes of a buffer: the largest text message (the largest frame fits too,
 * checked at compile time in rxbuf.c). */
#define RXBUF_BYTES LOTSE_MAX_TEXT_FRAME

/* A buffer of RXBUF_BYTES bytes from the free list; NULL when out of memory. */
uint8_t *rxbuf_get(void);

/* Returns a buffer; its first used bytes are wiped. NULL is ignored. */
void rxbuf_put(uint8_t *buf, size_t used);

/* MAIL frames (kind 3, up to LOTSE_MAIL_FRAME_MAX) gather in a large buffer of
 * their own; at most RXBUF_LARGE_MAX are out at once. */
#define RXBUF_LARGE_BYTES LOTSE_MAIL_FRAME_MAX
#define RXBUF_LARGE_MAX   32

/* A large buffer, or NULL when RXBUF_LARGE_MAX are out (the sender is told
 * "busy") or out of memory. */
uint8_t *rxbuf_get_large(void);

/* Returns a large buffer; its first used bytes are wiped. NULL is ignored. */
void rxbuf_put_large(uint8_t *buf, size_t used);

/* Whether rxbuf_get_large would find room now (a MAIL frame that arrives
 * whole in one chunk takes no buffer but is refused just the same). */
bool rxbuf_large_available(void);

/* Large buffers out now (metrics, tests). */
size_t rxbuf_large_out(void);

/* Frees every cached buffer (shutdown, tests). */
void rxbuf_pool_drain(void);

#endif
