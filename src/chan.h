/* chan.h - the channel's data model, shared by chan.c and select.c
 * (Go: hchan in runtime/chan.go). */
#ifndef GORO_CHAN_H
#define GORO_CHAN_H

#include "runtime.h"

/* A queue of waiting Gs, FIFO.  first is atomic only so that the lock-free
 * early-outs may peek at it; it is written under the channel lock. */
typedef struct goro__waitq {
    _Atomic(goro__sudog *) first;
    goro__sudog *last;
} goro__waitq;

/* ---- object lifetimes ----------------------------------------------------
 * Channels, contexts, timers, tickers and groups start with a goro__life:
 * a state word, live until the object is freed, and the creation site.
 * Every public call on such an object checks the state word first (one
 * load of a line the call reads anyway, and a predicted branch), so a use
 * after the last release, or a second release, is a fatal error naming the
 * object and its creation site (Go throws for a close of a closed channel
 * the same way).  For the check to read valid memory, goro__life_free does
 * not free at once: the object is marked dead and kept in a quarantine
 * ring of the last LIFE_QUARANTINE freed objects, poisoned for ASan except
 * the goro__life itself, and freed when it leaves the ring.  So the check
 * is certain for a use soon after the release (what a test or a typical
 * bug does) and best effort later, when the memory may have been reused. */
enum { GORO_LIFE_LIVE = 0x6576696cu /* "live" */, GORO_LIFE_DEAD = 0x64616564u /* "dead" */ };

typedef struct goro__life {
    _Atomic uint32_t state;     /* GORO_LIFE_LIVE or GORO_LIFE_DEAD */
    int line;                   /* creation site; file NULL: unknown */
    const char *file;
    const char *kind;           /* "channel", "context", ...: what errors say */
} goro__life;

#define GORO_LIFE_INIT(kind, file, line) {GORO_LIFE_LIVE, (line), (file), (kind)}

/* Prints "fatal error: <what> <kind> (made at file:line)" and aborts. */
GORO_HIDDEN GORO_NORETURN __attribute__((cold)) void goro__life_fail(const goro__life *l,
                                                                      const char *what);

/* The check at the top of every public call: "use of released <kind>". */
static inline void goro__life_check(const goro__life *l)
{
    if (unlikely(atomic_load_explicit(&l->state, memory_order_relaxed) != GORO_LIFE_LIVE))
        goro__life_fail(l, "use of released");
}

/* The check at the top of a release or free: "double release of <kind>". */
static inline void goro__life_check_release(const goro__life *l)
{
    if (unlikely(atomic_load_explicit(&l->state, memory_order_relaxed) != GORO_LIFE_LIVE))
        goro__life_fail(l, "double release of");
}

/* Marks the object at p (size bytes, starting with its goro__life) dead
 * and frees it later (see above).  In place of goro__free. */
GORO_HIDDEN void goro__life_free(void *p, size_t size);

struct goro_chan {
    goro__life life;            /* first: see above */
    goro__lock lock;            /* lock order: docs/internals.md, "Lock order" */
    _Atomic size_t refs;
    size_t elemsize;
    size_t cap;
    uint64_t bubble;            /* id of the bubble it was made in, 0 if
                                 * none (immutable); only that bubble may
                                 * use it (bubble.c) */
    char *buf;                  /* cap * elemsize bytes: after the struct up
                                 * to CHAN_INLINE_BUF bytes, else its own
                                 * allocation, freed at the last release */

    /* protected by lock (atomic for the lock-free early-outs and len) */
    _Atomic size_t count;       /* elements in buf */
    _Atomic uint32_t closed;
    size_t sendx;               /* next slot to send into */
    size_t recvx;               /* next slot to receive from */
    goro__waitq recvq;
    goro__waitq sendq;
    size_t waitrefs;            /* parked senders, receivers and select
                                 * cases (see wait_on in chan.c) */
    bool orphan;                /* refs reached 0 while waitrefs was not:
                                 * the last waiter to leave frees it */
};

/* Queue operations; c->lock held. */
GORO_HIDDEN void goro__waitq_enqueue(goro__waitq *q, goro__sudog *sg);
GORO_HIDDEN void goro__waitq_remove(goro__waitq *q, goro__sudog *sg);
/* Dequeues the first waiter that can still be woken: a select's waiter
 * whose select another case already won is dropped (Go: waitq.dequeue). */
GORO_HIDDEN goro__sudog *goro__waitq_dequeue(goro__waitq *q);

/* The four transfers, shared by chan.c and select.c; c->lock held, and
 * left held (the caller unlocks, then readies sg->g where there is one).
 *   send_copy: into the parked receiver sg.
 *   recv_copy: from the parked sender sg (directly, or through the full
 *              buffer's head, the sender's element going to its tail).
 *   buf_put / buf_take: append to / take from the buffer (room / data
 *              known to be there).
 * elem may be NULL where a receive discards. */
/* Frees c, whose last reference and last waiter are gone. */
GORO_HIDDEN void goro__chan_free(goro_chan *c);

/* A parked waiter (plain or select) leaves c: uncounts it from
 * c->waitrefs, c->lock held.  True when c is then the caller's to free
 * (goro__chan_free, after releasing the lock): its last reference went
 * while waiters remained. */
static inline bool goro__chan_unwait(goro_chan *c)
{
    return --c->waitrefs == 0 && c->orphan;
}
GORO_HIDDEN void goro__chan_send_copy(goro_chan *c, goro__sudog *sg, const void *elem);
GORO_HIDDEN void goro__chan_recv_copy(goro_chan *c, goro__sudog *sg, void *elem);
GORO_HIDDEN void goro__chan_buf_put(goro_chan *c, const void *elem);
GORO_HIDDEN void goro__chan_buf_take(goro_chan *c, void *elem);

/* Closes c without the bubble check of goro_chan_close: for the runtime's
 * own channels (a context's done, closed by whoever cancels it). */
GORO_HIDDEN int goro__chan_close(goro_chan *c);

/* A claimable wait on a channel's close, for waits that are not selects
 * but may be cut short by a closed channel (netpoll.c: an fd wait and its
 * context's done channel).  sg joins c's receive queue as a select's
 * discarding receive case would: a close (or a send) claims g's wait seq
 * with sg in g->param.
 *   goro__chan_close_wait_begin: locks c; if c is closed, unlocks it and
 *     returns false with nothing queued; else queues sg, takes a reference
 *     to c for it, and returns true with c->lock still held, so that no
 *     closer can find the G before it has parked: the caller's park unlock
 *     function releases it with goro__chan_unlock.
 *   goro__chan_close_wait_end: once woken, takes sg off c's queue if it is
 *     still there and drops the reference. */
GORO_HIDDEN bool goro__chan_close_wait_begin(goro_chan *c, goro__sudog *sg, goro__g *g,
                                             uint64_t seq);
GORO_HIDDEN void goro__chan_unlock(goro_chan *c);
GORO_HIDDEN void goro__chan_close_wait_end(goro_chan *c, goro__sudog *sg);

/* Buffered slot i. */
static inline char *goro__chan_slot(goro_chan *c, size_t i)
{
    return c->buf + i * c->elemsize;
}

#endif /* GORO_CHAN_H */
