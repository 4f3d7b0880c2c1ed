/* queue.h — young people waiting for a counsellor: one FIFO per topic, topics
 * ranked by priority. Entries are embedded in their session (no allocation). */
#ifndef LOTSE_QUEUE_H
#define LOTSE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct queue_entry {
    struct queue_entry *next, *prev;
    int topic;
    int64_t enqueued_ms;
    uint64_t seq; /* arrival order, given at the first push: breaks ties of enqueued_ms */
    bool queued;
    bool offered; /* offer mode: offered to a counsellor right now */
};

struct queue {
    int topic_count;
    int priority[CONFIG_MAX_TOPICS];
    struct {
        struct queue_entry *head, *tail;
        size_t len;
    } lists[CONFIG_MAX_TOPICS];
    size_t len;
    uint64_t next_seq;
};

/* Sets up an empty queue for topic_count topics with the given priorities. */
void queue_init(struct queue *q, int topic_count, const int *priority);

/* Puts e (e->topic and e->enqueued_ms set by the caller) into its topic's list,
 * ordered by enqueued_ms, then by arrival (a new arrival: at the tail; one that
 * comes back after a transfer or a resume: at its old place, also among
 * others queued in the same millisecond). */
void queue_push(struct queue *q, struct queue_entry *e);

/* a is taken before b of the same topic: it waited longer (enqueued_ms), or
 * came first within the millisecond. */
bool queue_before(const struct queue_entry *a, const struct queue_entry *b);

/* Removes e if queued; a no-op otherwise. */
void queue_remove(struct queue *q, struct queue_entry *e);

/* The entry a counsellor serving topic_mask (bit i = topic i) takes next: highest
 * priority first, then longest waiting; entries being offered are skipped when
 * skip_offered. NULL when none. */
struct queue_entry *queue_next(const struct queue *q, uint32_t topic_mask, bool skip_offered);
/* queue_next among the entries for which ok(e, arg) is true (the chats a
 * counsellor may take, chat_route.c); ok NULL: every entry. */
typedef bool queue_ok_fn(const struct queue_entry *e, const void *arg);
struct queue_entry *queue_next_ok(const struct queue *q, uint32_t topic_mask, bool skip_offered,
                                  queue_ok_fn *ok, const void *arg);

/* Calls fn for every queued entry with its position (1 = next): the entries ahead
 * in its topic plus every entry of a topic with higher priority. O(n). */
void queue_positions(const struct queue *q, void (*fn)(struct queue_entry *, uint32_t pos, void *arg),
                     void *arg);

/* The position of a queued entry as queue_positions counts it; 0 if not queued.
 * O(n). */
uint32_t queue_position(const struct queue *q, const struct queue_entry *e);

/* Waiting in topic t, and since when the oldest waits (0 when none). */
size_t queue_topic_len(const struct queue *q, int t);
int64_t queue_topic_oldest_ms(const struct queue *q, int t);

#endif
