/* list.h — one intrusive doubly-linked list for every hand-written list of the
 * service thread (pending, kill, staff, bulk, all connections). A zeroed list
 * is empty and a zeroed link is unlinked, so structs that lws or memset zero
 * need no set-up. The list owns nothing: its entries live in their own structs
 * and must be unlinked before they are freed. */
#ifndef LOTSE_LIST_H
#define LOTSE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_link {
    struct list_link *next, *prev;
};

struct list {
    struct list_link *head, *tail;
};

/* The struct of type that holds link as its member. */
#define LIST_ENTRY(link, type, member) ((type *)((char *)(link)-offsetof(type, member)))

/* Every link of l, head first; the loop body may unlink (or free) it. */
#define LIST_FOREACH_SAFE(l, it, nx)                                                               \
    for (struct list_link *it = (l)->head, *nx = (it) ? (it)->next : NULL; (it);                   \
         (it) = (nx), (nx) = (it) ? (it)->next : NULL)

/* Whether n is on l. */
static inline bool list_linked(const struct list *l, const struct list_link *n)
{
    return n->prev != NULL || l->head == n;
}

/* Puts n (not on any list) first on l. */
static inline void list_insert_head(struct list *l, struct list_link *n)
{
    n->prev = NULL;
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    else
        l->tail = n;
    l->head = n;
}

/* Puts n (not on any list) last on l. */
static inline void list_insert_tail(struct list *l, struct list_link *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

/* Puts n (not on any list) just before pos, which is on l. */
static inline void list_insert_before(struct list *l, struct list_link *pos, struct list_link *n)
{
    n->next = pos;
    n->prev = pos->prev;
    if (pos->prev)
        pos->prev->next = n;
    else
        l->head = n;
    pos->prev = n;
}

/* Takes n off l; a link that is not on l is left alone. */
static inline void list_unlink(struct list *l, struct list_link *n)
{
    if (!list_linked(l, n))
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->next = n->prev = NULL;
}

#endif
