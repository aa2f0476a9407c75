/* chan.c - channels (Go: runtime/chan.go).
 *
 * Invariants, under c->lock:
 *   - at least one of sendq and recvq is empty (except for a select waiting
 *     to send and receive on the same channel);
 *   - count > 0 implies recvq is empty: a receiver never waits while data
 *     is buffered;
 *   - count < cap implies sendq is empty: a sender never waits while there
 *     is room;
 *   - once closed, both queues are empty and stay so.
 * Waiters are sudogs on the waiting G's own stack; a waker dequeues one,
 * copies the element straight to (or from) the waiter's memory, sets
 * success, and readies the G after unlocking.  Nothing is allocated on any
 * path but goro_chan_make.
 *
 * Lifetimes: every public call checks c->life first (chan.h), so a use of
 * a released channel, a send included, dies at once with the channel's
 * creation site instead of hanging or corrupting memory.
 *
 * Lock order: channel locks by address (select.c), then timer heap and
 * scheduler locks (the table: docs/internals.md, "Lock order").
 *
 * Happens-before edges for ThreadSanitizer (the Go memory model):
 *   - direct hand-off: the waiter releases its sudog before parking and
 *     acquires it after waking; the waker acquires it, copies, releases it.
 *     That orders sender before receiver and, for unbuffered channels,
 *     receiver before the sender's return, as Go promises.
 *   - buffered: both sides acquire the slot's address before touching it
 *     and release it after, so the k-th receive happens before the
 *     (k+cap)-th send completes, and each send before its receive.
 *   - close releases the channel; a receive that returns because of the
 *     close acquires it.
 */
#include "chan.h"
#include "sanitizer.h"

#include <stdlib.h>
#include <string.h>

#if defined(GORO_ASAN)
void __asan_poison_memory_region(void const volatile *addr, size_t size);
#endif

/* ---- wait queues -------------------------------------------------------- */

void goro__waitq_enqueue(goro__waitq *q, goro__sudog *sg)
{
    goro__sudog *first = atomic_load_explicit(&q->first, memory_order_relaxed);

    sg->next = NULL;
    sg->prev = q->last;
    sg->inq = true;
    if (first)
        q->last->next = sg;
    else
        atomic_store_explicit(&q->first, sg, memory_order_relaxed);
    q->last = sg;
}

void goro__waitq_remove(goro__waitq *q, goro__sudog *sg)
{
    if (!sg->inq)
        return;
    if (sg->prev)
        sg->prev->next = sg->next;
    else
        atomic_store_explicit(&q->first, sg->next, memory_order_relaxed);
    if (sg->next)
        sg->next->prev = sg->prev;
    else
        q->last = sg->prev;
    sg->next = sg->prev = NULL;
    sg->inq = false;
}

goro__sudog *goro__waitq_dequeue(goro__waitq *q)
{
    goro__sudog *sg;

    while ((sg = atomic_load_explicit(&q->first, memory_order_relaxed))) {
        goro__waitq_remove(q, sg);
        /* Claim a select's (or fd wait's) G; if another case, its timeout
         * or its fd already did, this waiter is stale: the G will find it
         * unlinked (runtime.h, claimable waits). */
        if (sg->is_select && !goro__claim(sg->g, sg->sel_seq, (uintptr_t)sg))
            continue;
        return sg;
    }
    return NULL;
}

/* ---- object lifetimes (see chan.h) ------------------------------------------
 * The quarantine is a ring under one lock, touched only when an object is
 * freed, never on a channel operation.  It holds at most LIFE_QUARANTINE
 * objects of bounded size: a channel's buffer above CHAN_INLINE_BUF bytes
 * is allocated apart and freed at once, so a ring of channels holds a few
 * hundred KiB at most.  Objects still in the ring at exit are reachable
 * from it, so leak checkers do not count them. */

#define LIFE_QUARANTINE 256
#define CHAN_INLINE_BUF 256

static struct {
    goro__lock lock;            /* a leaf: lock order: docs/internals.md, "Lock order" */
    size_t next;                /* protected by lock, as the ring */
    struct {
        void *p;
        size_t size;
    } ring[LIFE_QUARANTINE];
} quarantine = {.lock = GORO_LOCK_INIT};

void goro__life_fail(const goro__life *l, const char *what)
{
    if (l->file)
        goro__throw("%s %s (made at %s:%d)", what, l->kind, l->file, l->line);
    goro__throw("%s %s", what, l->kind);
}

void goro__life_free(void *p, size_t size)
{
    goro__life *l = p;
    void *old;
    size_t oldsize;

    atomic_store_explicit(&l->state, GORO_LIFE_DEAD, memory_order_relaxed);
#if defined(GORO_ASAN)
    /* The state word stays readable for the check; the rest is poisoned,
     * so a stray read of the object inside goro is still reported. */
    __asan_poison_memory_region((char *)p + sizeof *l, size - sizeof *l);
#endif
    goro__lock_acquire(&quarantine.lock);
    size_t i = quarantine.next;
    old = quarantine.ring[i].p;
    oldsize = quarantine.ring[i].size;
    quarantine.ring[i].p = p;
    quarantine.ring[i].size = size;
    quarantine.next = (i + 1) % LIFE_QUARANTINE;
    goro__lock_release(&quarantine.lock);
    if (old) {
#if defined(GORO_ASAN)
        __asan_unpoison_memory_region(old, oldsize);
#endif
        (void)oldsize;
        goro__free(old);
    }
}

/* ---- construction and references ---------------------------------------- */

goro_chan *goro_chan_make_at(size_t elem_size, size_t cap, const char *file, int line)
{
    size_t bufsize;
    goro_chan *c;
    char *buf = NULL;

    goro__note_thread();

    if (elem_size && cap > (SIZE_MAX - sizeof *c) / elem_size) {
        errno = EINVAL;
        return NULL;
    }
    bufsize = elem_size * cap;
    if (bufsize > CHAN_INLINE_BUF) {
        buf = goro__malloc(bufsize);
        if (!buf) {
            errno = ENOMEM;
            return NULL;
        }
        c = goro__malloc(sizeof *c);
    } else {
        c = goro__malloc(sizeof *c + bufsize);
    }
    if (!c) {
        goro__free(buf);
        errno = ENOMEM;
        return NULL;
    }
    memset(c, 0, sizeof *c);
    c->life = (goro__life)GORO_LIFE_INIT("channel", file, line);
    atomic_init(&c->refs, 1);
    c->elemsize = elem_size;
    c->cap = cap;
    c->bubble = goro__bubble_cur_id();
    c->buf = buf ? buf : (char *)(c + 1);
    return c;
}

/* The exported symbol behind the goro_chan_make() macro, for callers built
 * against it as a function (bindings, older objects). */
goro_chan *(goro_chan_make)(size_t elem_size, size_t cap)
{
    return goro_chan_make_at(elem_size, cap, NULL, 0);
}

goro_chan *goro_chan_retain(goro_chan *c)
{
    if (c) {
        goro__life_check(&c->life);
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    }
    return c;
}

void goro__chan_free(goro_chan *c)
{
    size_t bufsize = c->elemsize * c->cap;
    if (bufsize > CHAN_INLINE_BUF) {
        goro__free(c->buf);
        bufsize = 0;
    }
    goro__life_free(c, sizeof *c + bufsize);
}

/* The last reference went: free c, unless a parked sender, receiver or
 * select still needs it (a close or a transfer woke it and it has yet to
 * leave, or nothing will ever wake it); then the last of them frees it
 * (wait_done, or a select's step 4).
 * Out of line, so that goro_chan_release stays a leaf without a frame. */
static GORO_NOINLINE void chan_last_ref(goro_chan *c)
{
    goro__lock_acquire(&c->lock);
    bool dead = c->waitrefs == 0;
    c->orphan = !dead;
    goro__lock_release(&c->lock);
    if (dead)
        goro__chan_free(c);
}

void goro_chan_release(goro_chan *c)
{
    if (!c)
        return;
    goro__life_check_release(&c->life);
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        chan_last_ref(c);
}

size_t goro_chan_len(goro_chan *c)
{
    if (!c)
        return 0;
    goro__life_check(&c->life);
    return atomic_load_explicit(&c->count, memory_order_relaxed);
}

size_t goro_chan_cap(goro_chan *c)
{
    if (!c)
        return 0;
    goro__life_check(&c->life);
    return c->cap;
}

size_t goro_chan_elem_size(goro_chan *c)
{
    if (!c)
        return 0;
    goro__life_check(&c->life);
    return c->elemsize;
}

goro_chan *goro_chan_check_size(goro_chan *c, size_t size)
{
    if (c && goro_chan_elem_size(c) != size) {
        errno = EINVAL;
        return NULL;
    }
    return c;
}

/* ---- transfers ---------------------------------------------------------- */

static inline void copy_elem(goro_chan *c, void *dst, const void *src)
{
    if (c->elemsize && dst)
        memcpy(dst, src, c->elemsize);
}

static inline void zero_elem(goro_chan *c, void *dst)
{
    if (c->elemsize && dst)
        memset(dst, 0, c->elemsize);
}

static void unlock_chan(void *c)
{
    goro__lock_release(&((goro_chan *)c)->lock);
}

/* sg's waiter has what it waited for: a plain send or receive (wait_on)
 * returns without touching c again, so its hold on c ends here. */
static inline void waiter_done(goro_chan *c, goro__sudog *sg)
{
    sg->success = true;
    if (!sg->is_select)
        c->waitrefs--;
}

void goro__chan_send_copy(goro_chan *c, goro__sudog *sg, const void *elem)
{
    goro__hb_acquire(sg);
    copy_elem(c, sg->elem, elem);
    goro__hb_release(sg);
    waiter_done(c, sg);
}

void goro__chan_recv_copy(goro_chan *c, goro__sudog *sg, void *elem)
{
    goro__hb_acquire(sg);
    if (c->cap == 0) {
        copy_elem(c, elem, sg->elem);
    } else {
        /* The buffer is full: take its head, and put the sender's element
         * at the tail, which is the same slot since the ring is full. */
        char *slot = goro__chan_slot(c, c->recvx);
        goro__hb_acquire(slot);
        copy_elem(c, elem, slot);
        copy_elem(c, slot, sg->elem);
        goro__hb_release(slot);
        if (++c->recvx == c->cap)
            c->recvx = 0;
        c->sendx = c->recvx;
    }
    goro__hb_release(sg);
    waiter_done(c, sg);
}

void goro__chan_buf_put(goro_chan *c, const void *elem)
{
    char *slot = goro__chan_slot(c, c->sendx);
    goro__hb_acquire(slot);
    copy_elem(c, slot, elem);
    goro__hb_release(slot);
    if (++c->sendx == c->cap)
        c->sendx = 0;
    atomic_store_explicit(&c->count, atomic_load_explicit(&c->count, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

void goro__chan_buf_take(goro_chan *c, void *elem)
{
    char *slot = goro__chan_slot(c, c->recvx);
    goro__hb_acquire(slot);
    copy_elem(c, elem, slot);
    goro__hb_release(slot);
    if (++c->recvx == c->cap)
        c->recvx = 0;
    atomic_store_explicit(&c->count, atomic_load_explicit(&c->count, memory_order_relaxed) - 1,
                          memory_order_relaxed);
}

/* Parks the calling G on q with sg; c->lock held, released by the park.
 * Returns whether a peer completed the transfer; false after a close.
 *
 * The waiter holds c alive while it waits, even should the last reference
 * be released meanwhile: it counts itself in c->waitrefs, under c->lock,
 * where a reference would cost two locked instructions per wait.  A peer
 * that completes the transfer uncounts it (waiter_done), under the same
 * lock, as the waiter will not touch c again; a waiter woken by a close
 * still reads c, and leaves through wait_done.  A select's cases count
 * themselves the same way, and uncount themselves when the select takes
 * them off the queues after its wake (select.c, step 4), since it locks
 * every channel again there. */
static bool wait_on(goro_chan *c, goro__waitq *q, void *elem, enum goro__wait_reason why)
{
    goro__g *g = goro__getg();
    goro__sudog sg = {.g = g, .elem = elem, .c = c};

    c->waitrefs++;
    goro__hb_release(&sg);
    goro__waitq_enqueue(q, &sg);
    goro__bubble_wait_on(g, c->bubble);
    goro__park(unlock_chan, c, why);
    goro__hb_acquire(&sg);
    return sg.success;
}

/* A waiter that a close woke is done with c: the last of them frees an
 * orphaned c (see chan_last_ref). */
static void wait_done(goro_chan *c)
{
    goro__lock_acquire(&c->lock);
    bool dead = goro__chan_unwait(c);
    goro__lock_release(&c->lock);
    if (dead)
        goro__chan_free(c);
}

bool goro__chan_close_wait_begin(goro_chan *c, goro__sudog *sg, goro__g *g, uint64_t seq)
{
    goro__lock_acquire(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        goro__lock_release(&c->lock);
        return false;
    }
    *sg = (goro__sudog){.g = g, .c = c, .sel_seq = seq, .index = -1, .is_select = true};
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    goro__waitq_enqueue(&c->recvq, sg);
    return true;
}

void goro__chan_unlock(goro_chan *c)
{
    goro__lock_release(&c->lock);
}

void goro__chan_close_wait_end(goro_chan *c, goro__sudog *sg)
{
    goro__lock_acquire(&c->lock);
    goro__waitq_remove(&c->recvq, sg);
    goro__lock_release(&c->lock);
    goro_chan_release(c);
}

/* Nothing could be done at once: 0 if the caller may park, else the error
 * to return (EAGAIN for a try_ op; ENOMEM for a plain thread without
 * memory for its waiter), with c->lock released. */
static int cannot_wait(goro_chan *c, bool block)
{
    int e = !block ? EAGAIN : !goro__getg() ? ENOMEM : 0;
    if (e)
        goro__lock_release(&c->lock);
    return e;
}

/* The blocking and non-blocking send (Go: chansend). */
static int chan_send(goro_chan *c, const void *elem, bool block)
{
    goro__sudog *sg;

    goro__note_thread();

    if (unlikely(!c))
        return EINVAL;
    goro__life_check(&c->life);
    if (unlikely(!elem && c->elemsize))
        return EINVAL;
    int e = goro__bubble_check(c->bubble);
    if (unlikely(e))
        return e; /* a bubble's channel, used from outside it */

    /* Lock-free early-out for try_send on a full channel.  We read closed,
     * then fullness; each read is of one word.  A closed channel never goes
     * from "ready for sending" back to "not ready", so if we saw "not
     * closed" then "not ready", there was a moment between the two reads
     * when the channel was both open and full: returning EAGAIN is what a
     * locked check at that moment would have said. */
    if (!block && !atomic_load_explicit(&c->closed, memory_order_acquire) &&
        (c->cap == 0 ? atomic_load_explicit(&c->recvq.first, memory_order_acquire) == NULL
                     : atomic_load_explicit(&c->count, memory_order_acquire) == c->cap))
        return EAGAIN;

    goro__lock_acquire(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        goro__lock_release(&c->lock);
        return EPIPE;
    }
    if ((sg = goro__waitq_dequeue(&c->recvq))) {
        goro__g *g = sg->g;
        goro__chan_send_copy(c, sg, elem);
        goro__lock_release(&c->lock);
        goro__ready(g);
        return 0;
    }
    if (atomic_load_explicit(&c->count, memory_order_relaxed) < c->cap) {
        goro__chan_buf_put(c, elem);
        goro__lock_release(&c->lock);
        return 0;
    }
    e = cannot_wait(c, block);
    if (e)
        return e;
    if (wait_on(c, &c->sendq, (void *)elem, WR_CHAN_SEND))
        return 0;
    wait_done(c);
    return EPIPE;
}

/* The blocking and non-blocking receive (Go: chanrecv). */
static int chan_recv(goro_chan *c, void *elem, bool block)
{
    goro__sudog *sg;

    goro__note_thread();

    if (unlikely(!c))
        return EINVAL;
    goro__life_check(&c->life);
    int e = goro__bubble_check(c->bubble);
    if (unlikely(e))
        return e; /* a bubble's channel, used from outside it */

    /* Lock-free early-out for try_recv on an empty channel (Go's argument
     * again): "empty" then "not closed" means there was a moment when the
     * channel was empty and open, so EAGAIN.  If it was closed, check
     * emptiness again: data buffered before the close must still be
     * received, and an empty closed channel stays empty. */
    /* Acquire loads: the emptiness read must not be satisfied after the
     * closed read (weakly ordered machines), nor the second emptiness read
     * before it. */
    if (!block && (c->cap == 0 ? atomic_load_explicit(&c->sendq.first, memory_order_acquire) == NULL
                               : atomic_load_explicit(&c->count, memory_order_acquire) == 0)) {
        if (!atomic_load_explicit(&c->closed, memory_order_acquire))
            return EAGAIN;
        if (c->cap == 0 ? atomic_load_explicit(&c->sendq.first, memory_order_acquire) == NULL
                        : atomic_load_explicit(&c->count, memory_order_acquire) == 0) {
            goro__hb_acquire(c);
            zero_elem(c, elem);
            return EPIPE;
        }
    }

    goro__lock_acquire(&c->lock);
    size_t n = atomic_load_explicit(&c->count, memory_order_relaxed);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed) && n == 0) {
        goro__lock_release(&c->lock);
        goro__hb_acquire(c);
        zero_elem(c, elem);
        return EPIPE;
    }
    if ((sg = goro__waitq_dequeue(&c->sendq))) {
        goro__g *g = sg->g;
        goro__chan_recv_copy(c, sg, elem);
        goro__lock_release(&c->lock);
        goro__ready(g);
        return 0;
    }
    if (n > 0) {
        goro__chan_buf_take(c, elem);
        goro__lock_release(&c->lock);
        return 0;
    }
    e = cannot_wait(c, block);
    if (e)
        return e;
    if (wait_on(c, &c->recvq, elem, WR_CHAN_RECV))
        return 0;
    goro__hb_acquire(c);
    zero_elem(c, elem);
    wait_done(c);
    return EPIPE;
}

int goro_chan_send(goro_chan *c, const void *elem)
{
    return chan_send(c, elem, true);
}

int goro_chan_try_send(goro_chan *c, const void *elem)
{
    return chan_send(c, elem, false);
}

int goro_chan_recv(goro_chan *c, void *elem)
{
    return chan_recv(c, elem, true);
}

int goro_chan_try_recv(goro_chan *c, void *elem)
{
    return chan_recv(c, elem, false);
}

/* The size-checked forms: EINVAL before anything is copied or waited for. */
static inline bool size_ok(goro_chan *c, size_t size)
{
    return !c || goro_chan_elem_size(c) == size;
}

int goro_chan_send_sized(goro_chan *c, const void *elem, size_t size)
{
    return size_ok(c, size) ? chan_send(c, elem, true) : EINVAL;
}

int goro_chan_try_send_sized(goro_chan *c, const void *elem, size_t size)
{
    return size_ok(c, size) ? chan_send(c, elem, false) : EINVAL;
}

int goro_chan_recv_sized(goro_chan *c, void *elem, size_t size)
{
    return size_ok(c, size) ? chan_recv(c, elem, true) : EINVAL;
}

int goro_chan_try_recv_sized(goro_chan *c, void *elem, size_t size)
{
    return size_ok(c, size) ? chan_recv(c, elem, false) : EINVAL;
}

int goro_chan_close(goro_chan *c)
{
    if (c) {
        goro__life_check(&c->life);
        int e = goro__bubble_check(c->bubble);
        if (unlikely(e))
            return e; /* a bubble's channel, closed from outside it */
    }
    return goro__chan_close(c);
}

int goro__chan_close(goro_chan *c)
{
    goro__sudog *wake = NULL, *sg;

    goro__note_thread();

    if (!c)
        return EINVAL;
    goro__life_check(&c->life);
    goro__lock_acquire(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        goro__lock_release(&c->lock);
        return EPIPE;
    }
    goro__hb_release(c);
    atomic_store_explicit(&c->closed, 1, memory_order_release);
    /* Collect every waiter; ready them after the unlock.  Receivers get a
     * zero element, both sides success == false.  The chain reuses the
     * sudogs' next links, which the queues no longer need. */
    while ((sg = goro__waitq_dequeue(&c->recvq))) {
        goro__hb_acquire(sg); /* the zeroing is a write the receiver reads */
        zero_elem(c, sg->elem);
        goro__hb_release(sg);
        sg->success = false;
        sg->next = wake;
        wake = sg;
    }
    while ((sg = goro__waitq_dequeue(&c->sendq))) {
        goro__hb_release(sg);
        sg->success = false;
        sg->next = wake;
        wake = sg;
    }
    goro__lock_release(&c->lock);
    while (wake) {
        sg = wake;
        wake = sg->next;
        /* sg lives on its G's stack: read everything before readying. */
        goro__ready(sg->g);
    }
    return 0;
}
