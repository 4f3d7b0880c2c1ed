/* hold.c — frames for a party that is away. The frames move between the send
 * queue and the hold as they are (pooled outmsg buffers), without a copy. */
#include "hold.h"

#include <errno.h>
#include <string.h>

#include "conn.h"
#include "counsellor.h"
#include "hub.h"
#include "lotse/proto.h"
#include "outmsg.h"
#include "session.h"

static int hold_append(struct hub *hub, struct session *s, int dir, struct outmsg *m)
{
    const struct config *cfg = hub->cfg;
    struct hold *h = &s->hold[dir];
    if (h->count >= (uint32_t)cfg->hold_max_frames ||
        h->bytes + m->len > (size_t)cfg->hold_max_bytes ||
        hub->hold_total_bytes + m->len > (uint64_t)cfg->hold_total_bytes)
        return -ENOBUFS;
    m->next = NULL;
    if (h->tail)
        h->tail->next = m;
    else
        h->head = m;
    h->tail = m;
    h->count++;
    h->bytes += m->len;
    hub->hold_total_bytes += m->len;
    hub->stats.frames_held++;
    return 0;
}

int hold_push(struct hub *hub, struct session *s, int dir, const uint8_t *frame, size_t len)
{
    struct outmsg *m = outmsg_get(len, true);
    if (!m)
        return -ENOMEM;
    memcpy(outmsg_data(m), frame, len);
    int rc = hold_append(hub, s, dir, m);
    if (rc)
        outmsg_put(m);
    return rc;
}

void hold_send_all(struct hub *hub, struct hold *h, struct conn *c)
{
    while (h->head) {
        struct outmsg *m = h->head;
        h->head = m->next;
        hub->hold_total_bytes -= m->len;
        if (c)
            conn_send(c, outmsg_data(m), m->len, true);
        outmsg_put(m);
    }
    h->tail = NULL;
    h->count = 0;
    h->bytes = 0;
}

void hold_drop_all(struct hub *hub, struct hold *h)
{
    hold_send_all(hub, h, NULL);
}

void hold_flush(struct hub *hub, struct session *s, int dir, struct conn *c)
{
    hold_send_all(hub, &s->hold[dir], c);
}

void hold_clear(struct hub *hub, struct session *s, int dir)
{
    hold_drop_all(hub, &s->hold[dir]);
}

void hold_adopt_queue(struct hub *hub, struct conn *c)
{
    struct outmsg *m = c->sq_head;
    c->sq_head = c->sq_tail = NULL;
    c->sq_count = 0;
    c->sq_bytes = 0;
    while (m) {
        struct outmsg *next = m->next;
        struct session *s = NULL;
        int dir = c->role == ROLE_YOUNG ? HOLD_TO_YOUNG : HOLD_TO_COUNSELLOR;
        if (m->binary && m->len >= LOTSE_FRAME_HEADER_BYTES)
            s = session_find(hub->sessions, outmsg_data(m) + 4);
        bool ours =
            s && (dir == HOLD_TO_YOUNG ? s->young == c : s->counsellor && s->counsellor->conn == c);
        if (!ours || hold_append(hub, s, dir, m) != 0)
            outmsg_put(m);
        m = next;
    }
}
