/* tick.h — the one-second timer wheel: modules that need time register a hook
 * with their own state; server.c's libev timer only turns the wheel. Hooks run
 * in ascending order (the schedule is in server/src/README.md), so that what
 * one hook changes (a session ended) is pushed by a later one in the same
 * second. A native libev timer, not an lws_sul: on libev, lws 4.1.6 does not
 * reliably arm timers scheduled from inside a callback. */
#ifndef LOTSE_TICK_H
#define LOTSE_TICK_H

#include <stdint.h>

#include "list.h"

struct hub;

struct tick_hook {
    int order;                                   /* lower runs first */
    void (*fn)(struct hub *hub, int64_t now_ms); /* once a second */
    struct list_link link;
};

struct tick {
    struct list hooks; /* by order; the hooks belong to their modules */
};

/* Adds h (owned by its module, static for the process) to the wheel. */
static inline void tick_add(struct tick *t, struct tick_hook *h)
{
    LIST_FOREACH_SAFE (&t->hooks, it, nx) {
        struct tick_hook *o = LIST_ENTRY(it, struct tick_hook, link);
        if (o->order > h->order) {
            list_insert_before(&t->hooks, it, &h->link);
            return;
        }
    }
    list_insert_tail(&t->hooks, &h->link);
}

/* Takes h off the wheel (a hook that is not on it is left alone). */
static inline void tick_remove(struct tick *t, struct tick_hook *h)
{
    list_unlink(&t->hooks, &h->link);
}

/* Runs every hook once, in order. */
static inline void tick_run(struct tick *t, struct hub *hub, int64_t now_ms)
{
    LIST_FOREACH_SAFE (&t->hooks, it, nx)
        LIST_ENTRY(it, struct tick_hook, link)->fn(hub, now_ms);
}

#endif
