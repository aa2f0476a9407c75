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

struct goro_chan {
    goro__lock lock;
    _Atomic size_t refs;
    size_t elemsize;
    size_t cap;
    char *buf;                  /* cap * elemsize bytes, after the struct */

    /* protected by lock (atomic for the lock-free early-outs and len) */
    _Atomic size_t count;       /* elements in buf */
    _Atomic uint32_t closed;
    size_t sendx;               /* next slot to send into */
    size_t recvx;               /* next slot to receive from */
    goro__waitq recvq;
    goro__waitq sendq;
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
GORO_HIDDEN void goro__chan_send_copy(goro_chan *c, goro__sudog *sg, const void *elem);
GORO_HIDDEN void goro__chan_recv_copy(goro_chan *c, goro__sudog *sg, void *elem);
GORO_HIDDEN void goro__chan_buf_put(goro_chan *c, const void *elem);
GORO_HIDDEN void goro__chan_buf_take(goro_chan *c, void *elem);

/* Buffered slot i. */
static inline char *goro__chan_slot(goro_chan *c, size_t i)
{
    return c->buf + i * c->elemsize;
}

#endif /* GORO_CHAN_H */
