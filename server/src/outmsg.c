/* outmsg.c — size-class free lists for outgoing frames. Only the service thread
 * uses them, so no locking. */
#include "outmsg.h"

#include <string.h>
#include <libwebsockets.h>
#include <sodium.h>

#include "lotse/proto.h"
#include "mem.h"

#define OUTMSG_HEAP 255
#define CLASS_COUNT 3
#define CACHE_MAX 8192 /* buffers kept per class; beyond that they are freed */

static const size_t class_size[CLASS_COUNT] = {
    LOTSE_FRAME_HEADER_BYTES + LOTSE_BUCKET_SMALL + LOTSE_AEAD_ABYTES,
    LOTSE_FRAME_HEADER_BYTES + LOTSE_BUCKET_MEDIUM + LOTSE_AEAD_ABYTES,
    LOTSE_FRAME_HEADER_BYTES + LOTSE_BUCKET_LARGE + LOTSE_AEAD_ABYTES,
};

static struct {
    struct outmsg *free;
    size_t cached;
} pool[CLASS_COUNT];

struct outmsg *outmsg_get(size_t len, bool binary)
{
    int cls = OUTMSG_HEAP;
    for (int i = 0; i < CLASS_COUNT; i++) {
        if (len <= class_size[i]) {
            cls = i;
            break;
        }
    }
    struct outmsg *m;
    if (cls != OUTMSG_HEAP && pool[cls].free) {
        m = pool[cls].free;
        pool[cls].free = m->next;
        pool[cls].cached--;
    } else {
        size_t cap = cls == OUTMSG_HEAP ? len : class_size[cls];
        m = mem_calloc(1, sizeof(*m) + LWS_PRE + cap);
        if (!m)
            return NULL;
    }
    m->next = NULL;
    m->len = (uint32_t)len;
    m->cls = (uint8_t)cls;
    m->binary = binary;
    return m;
}

unsigned char *outmsg_data(struct outmsg *m)
{
    return m->buf + LWS_PRE;
}

void outmsg_put(struct outmsg *m)
{
    if (!m)
        return;
    sodium_memzero(m->buf + LWS_PRE, m->len);
    if (m->cls == OUTMSG_HEAP || pool[m->cls].cached >= CACHE_MAX) {
        mem_free(m);
        return;
    }
    m->next = pool[m->cls].free;
    pool[m->cls].free = m;
    pool[m->cls].cached++;
}

void outmsg_pool_drain(void)
{
    for (int i = 0; i < CLASS_COUNT; i++) {
        while (pool[i].free) {
            struct outmsg *m = pool[i].free;
            pool[i].free = m->next;
            mem_free(m);
        }
        pool[i].cached = 0;
    }
}
