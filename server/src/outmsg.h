/* outmsg.h — buffers for frames waiting to be written to a connection.
 *
 * Relayed frames come in three sizes (the padding buckets), so buffers come from
 * per-size free lists: in steady state relaying a frame allocates nothing. Each
 * buffer has LWS_PRE bytes of headroom in front of the data, as lws_write needs. */
#ifndef LOTSE_OUTMSG_H
#define LOTSE_OUTMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outmsg {
    struct outmsg *next;
    uint32_t len;   /* bytes of data */
    uint8_t cls;    /* size class, or OUTMSG_HEAP */
    bool binary;
    unsigned char buf[]; /* LWS_PRE headroom, then data */
};

/* A buffer that holds len data bytes, or NULL (out of memory). */
struct outmsg *outmsg_get(size_t len, bool binary);

/* The data area of m (after the headroom). */
unsigned char *outmsg_data(struct outmsg *m);

/* Returns m to its free list (or frees it); NULL is ignored. The data is wiped
 * first: it may have been ciphertext. */
void outmsg_put(struct outmsg *m);

/* Frees every cached buffer (shutdown, tests). */
void outmsg_pool_drain(void);

#endif
