/* queue.c — the waiting queue. All operations but queue_positions are O(1) or
 * O(topics); a re-queued session's insert is O(its distance from the nearer
 * end of its list). */
#include "queue.h"

#include <string.h>

void queue_init(struct queue *q, int topic_count, const int *priority)
{
    memset(q, 0, sizeof(*q));
    q->topic_count = topic_count;
    for (int i = 0; i < topic_count; i++)
        q->priority[i] = priority ? priority[i] : 0;
}

bool queue_before(const struct queue_entry *a, const struct queue_entry *b)
{
    return a->enqueued_ms < b->enqueued_ms || (a->enqueued_ms == b->enqueued_ms && a->seq < b->seq);
}

void queue_push(struct queue *q, struct queue_entry *e)
{
    if (e->queued || e->topic < 0 || e->topic >= q->topic_count)
        return;
    if (!e->seq)
        e->seq = ++q->next_seq;
    __typeof__(q->lists[0]) *l = &q->lists[e->topic];
    /* Ordered by enqueued_ms: a new arrival goes to the tail in O(1). A session
     * coming back from a transfer goes to its original place, found from the
     * nearer end: it waited already, so usually from the head, where a walk
     * from the tail would pass everyone waiting behind it. */
    struct queue_entry *after;
    if (l->head && e->enqueued_ms - l->head->enqueued_ms < l->tail->enqueued_ms - e->enqueued_ms) {
        after = NULL;
        for (struct queue_entry *x = l->head; x && queue_before(x, e); x = x->next)
            after = x;
    } else {
        after = l->tail;
        while (after && queue_before(e, after))
            after = after->prev;
    }
    e->prev = after;
    e->next = after ? after->next : l->head;
    if (e->next)
        e->next->prev = e;
    else
        l->tail = e;
    if (after)
        after->next = e;
    else
        l->head = e;
    l->len++;
    q->len++;
    e->queued = true;
    e->offered = false;
}

void queue_remove(struct queue *q, struct queue_entry *e)
{
    if (!e->queued)
        return;
    __typeof__(q->lists[0]) *l = &q->lists[e->topic];
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    l->len--;
    q->len--;
    e->next = e->prev = NULL;
    e->queued = false;
    e->offered = false;
}

struct queue_entry *queue_next(const struct queue *q, uint32_t topic_mask, bool skip_offered)
{
    return queue_next_ok(q, topic_mask, skip_offered, NULL, NULL);
}

struct queue_entry *queue_next_ok(const struct queue *q, uint32_t topic_mask, bool skip_offered,
                                  queue_ok_fn *ok, const void *arg)
{
    struct queue_entry *best = NULL;
    int best_prio = 0;
    for (int t = 0; t < q->topic_count; t++) {
        if (!(topic_mask & (1u << t)))
            continue;
        struct queue_entry *e = q->lists[t].head;
        while (e && ((skip_offered && e->offered) || (ok && !ok(e, arg))))
            e = e->next;
        if (!e)
            continue;
        if (!best || q->priority[t] > best_prio ||
            (q->priority[t] == best_prio && e->enqueued_ms < best->enqueued_ms)) {
            best = e;
            best_prio = q->priority[t];
        }
    }
    return best;
}

void queue_positions(const struct queue *q, void (*fn)(struct queue_entry *, uint32_t, void *),
                     void *arg)
{
    for (int t = 0; t < q->topic_count; t++) {
        uint32_t ahead = 0;
        for (int u = 0; u < q->topic_count; u++)
            if (q->priority[u] > q->priority[t])
                ahead += (uint32_t)q->lists[u].len;
        uint32_t pos = ahead;
        for (struct queue_entry *e = q->lists[t].head; e; e = e->next)
            fn(e, ++pos, arg);
    }
}

uint32_t queue_position(const struct queue *q, const struct queue_entry *e)
{
    if (!e->queued)
        return 0;
    uint32_t pos = 1;
    for (int u = 0; u < q->topic_count; u++)
        if (q->priority[u] > q->priority[e->topic])
            pos += (uint32_t)q->lists[u].len;
    for (const struct queue_entry *x = q->lists[e->topic].head; x && x != e; x = x->next)
        pos++;
    return pos;
}

size_t queue_topic_len(const struct queue *q, int t)
{
    return q->lists[t].len;
}

int64_t queue_topic_oldest_ms(const struct queue *q, int t)
{
    return q->lists[t].head ? q->lists[t].head->enqueued_ms : 0;
}
