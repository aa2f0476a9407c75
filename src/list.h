/* list.h - an intrusive, circular, doubly-linked list (as libuv's queue.h
 * or Linux's list.h).
 *
 * A list is a sentinel node; an element embeds a goro__list node and is
 * found from it with goro__container_of.  An empty list (and an unlinked
 * node) points at itself, so insert and unlink never test for an end.  A
 * list in static storage is initialised with GORO_LIST_INIT(itself), one
 * anywhere else with goro__list_init.  No locking: the owner's lock covers
 * the list and every node on it.
 *
 * Every doubly-linked list in the runtime is one of these: thread Gs
 * (goro__s.threadgs), a context's children, the signal registry, the
 * blocking pool's queue.  Three linked structures are deliberately not:
 *   - singly-linked stacks and queues that only push and pop at their
 *     ends (free Gs by schedlink, the global run queue, idle Ps and Ms,
 *     all Ms): one pointer per node, and no unlink from the middle;
 *   - a channel's wait queues (chan.h), whose first pointer the lock-free
 *     try_send/try_recv early-outs read atomically without the lock;
 *   - the sync types' wait lists (sync.c), which live in public structs
 *     initialised with {0} (GORO_MUTEX_INIT), where a sentinel cannot
 *     point at itself.
 */
#ifndef GORO_LIST_H
#define GORO_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct goro__list {
    struct goro__list *next, *prev;
} goro__list;

#define GORO_LIST_INIT(l) {&(l), &(l)}

/* The struct of type type whose member member is at ptr. */
#define goro__container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void goro__list_init(goro__list *l)
{
    l->next = l->prev = l;
}

static inline bool goro__list_empty(const goro__list *l)
{
    return l->next == l;
}

/* Links n (not on any list) in after at. */
static inline void goro__list_insert_after(goro__list *at, goro__list *n)
{
    n->prev = at;
    n->next = at->next;
    at->next->prev = n;
    at->next = n;
}

static inline void goro__list_push_front(goro__list *l, goro__list *n)
{
    goro__list_insert_after(l, n);
}

static inline void goro__list_push_back(goro__list *l, goro__list *n)
{
    goro__list_insert_after(l->prev, n);
}

/* Unlinks n from its list; n is then an empty list of its own. */
static inline void goro__list_unlink(goro__list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    goro__list_init(n);
}

/* Unlinks and returns the first node, or NULL when l is empty. */
static inline goro__list *goro__list_pop_front(goro__list *l)
{
    goro__list *n = l->next;
    if (n == l)
        return NULL;
    goro__list_unlink(n);
    return n;
}

/* for (goro__list *it = first; it != l; it = it->next); unlinking it in
 * the body is not allowed. */
#define goro__list_each(it, l) for (goro__list *it = (l)->next; it != (l); it = it->next)

#endif /* GORO_LIST_H */
