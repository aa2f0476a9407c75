/* select.c - select (Go: runtime/select.go).
 *
 * goro_select(cases, n):
 *   1. Shuffle a poll order (uniform, Fisher-Yates) and sort a lock order by
 *      channel address, ties in poll order; disabled cases (NULL channel)
 *      take part in neither.
 *   2. Lock every channel in lock order (each once, even when it appears in
 *      several cases) and poll the cases in poll order; run the first ready
 *      one.  An expired timeout counts as ready.  Since every ready case is
 *      equally likely to come first, the choice is uniform among them.
 *   3. Nothing ready: with a default case, unlock and take it.  Otherwise
 *      enqueue one sudog per case (on this stack) in lock order, arm the timeout (the G's
 *      own embedded timer, so it allocates nothing) and park; the park
 *      unlocks all channels once the G is switched out.
 *   4. Woken: exactly one waker claimed the select (goro__claim, the
 *      claimable wait of runtime.h) and left its sudog in g->param, or
 *      GORO_WAKE_TIMEOUT (0) for the timeout.  Lock everything again and
 *      unlink the other sudogs.
 *
 * A waker that dequeues one of our sudogs after another case won fails the
 * claim and skips it (goro__waitq_dequeue); the sequence number makes a
 * timer from an earlier select fail the same way.
 */
#include "chan.h"
#include "sanitizer.h"

#include <stdlib.h>
#include <string.h>

enum { CASE_NONE = 0, CASE_RECV, CASE_SEND, CASE_TIMEOUT, CASE_DEFAULT };

#define SELECT_STACK_CASES 64

goro_case goro_case_recv(goro_chan *c, void *elem)
{
    return (goro_case){.kind = CASE_RECV, .c = c, .elem = elem};
}

goro_case goro_case_recv_ok(goro_chan *c, void *elem, bool *ok)
{
    return (goro_case){.kind = CASE_RECV, .c = c, .elem = elem, .ok = ok};
}

goro_case goro_case_send(goro_chan *c, const void *elem)
{
    return (goro_case){.kind = CASE_SEND, .c = c, .elem = (void *)elem};
}

/* A case of this kind makes goro_select return -EINVAL: what the sized
 * builders return for a size mismatch.  Not CASE_NONE, which is what a
 * zeroed case holds. */
#define CASE_BAD_SIZE 99

static goro_case sized(goro_case cs, size_t size)
{
    if (cs.c && goro_chan_elem_size(cs.c) != size)
        cs.kind = CASE_BAD_SIZE;
    return cs;
}

goro_case goro_case_recv_sized(goro_chan *c, void *elem, size_t size)
{
    return sized(goro_case_recv(c, elem), size);
}

goro_case goro_case_recv_ok_sized(goro_chan *c, void *elem, bool *ok, size_t size)
{
    return sized(goro_case_recv_ok(c, elem, ok), size);
}

goro_case goro_case_send_sized(goro_chan *c, const void *elem, size_t size)
{
    return sized(goro_case_send(c, elem), size);
}

goro_case goro_case_timeout(int64_t ns)
{
    return goro_case_deadline(goro__deadline_after(ns));
}

goro_case goro_case_deadline(int64_t when)
{
    /* INT64_MAX is select's "no timeout case": keep a deadline armed. */
    if (when > GORO__WHEN_MAX)
        when = GORO__WHEN_MAX;
    return (goro_case){.kind = CASE_TIMEOUT, .when = when};
}

goro_case goro_case_default(void)
{
    return (goro_case){.kind = CASE_DEFAULT};
}

/* Per-P random numbers would be nicer; a thread-local xorshift is enough
 * for shuffling and costs no lock. */
static uint32_t cheaprand(void)
{
    static __thread uint64_t x;
    if (unlikely(!x))
        x = goro__rand64() | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return (uint32_t)(x >> 32);
}

struct select_state {
    goro_case *cases;
    uint16_t *lockorder;
    size_t nlock;
    goro__g *g;
    int64_t when;               /* earliest timeout, INT64_MAX if none */
    _Atomic uint32_t parked;    /* set by the park's unlock, last */
};

static void lock_all(struct select_state *s)
{
    goro_chan *prev = NULL;
    for (size_t i = 0; i < s->nlock; i++) {
        goro_chan *c = s->cases[s->lockorder[i]].c;
        if (c != prev)
            goro__lock_acquire(&c->lock);
        prev = c;
    }
}

static void unlock_all(struct select_state *s)
{
    goro_chan *prev = NULL;
    for (size_t i = s->nlock; i-- > 0;) {
        goro_chan *c = s->cases[s->lockorder[i]].c;
        if (c != prev)
            goro__lock_release(&c->lock);
        prev = c;
    }
}

/* Runs once the G is switched out (goro__park's unlockf), on another
 * stack: s lives on the parked G's stack.  Once the timer is armed it may
 * fire and wake the G at once, so the G waits for s->parked before it
 * leaves the select (goro__park_wait_unlocked) and s stays valid until
 * our last store. */
static void select_park_unlock(void *arg)
{
    struct select_state *s = arg;
    if (s->when != INT64_MAX)
        goro__claim_arm_timeout(s->g, s->when);
    unlock_all(s);
    atomic_store_explicit(&s->parked, 1, memory_order_release);
}

static void sort_lockorder(goro_case *cases, uint16_t *order, size_t n)
{
    /* Insertion sort (stable, see goro_select): selects have a handful of
     * cases. */
    for (size_t i = 1; i < n; i++) {
        uint16_t k = order[i];
        size_t j = i;
        while (j > 0 && (uintptr_t)cases[order[j - 1]].c > (uintptr_t)cases[k].c) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
}

/* Finishes a receive on a closed, drained channel. */
static void recv_closed(goro_case *cs)
{
    goro__hb_acquire(cs->c);
    if (cs->c->elemsize && cs->elem)
        memset(cs->elem, 0, cs->c->elemsize);
    if (cs->ok)
        *cs->ok = false;
}

/* Tries case i with every lock held.  Returns 1 if it ran (locks are then
 * all released), 0 if not ready, -EPIPE for a send on a closed channel
 * (locks released). */
static int try_case(struct select_state *s, size_t i, int64_t *now)
{
    goro_case *cs = &s->cases[i];
    goro_chan *c = cs->c;
    goro__sudog *sg;

    switch (cs->kind) {
    case CASE_RECV: {
        if ((sg = goro__waitq_dequeue(&c->sendq))) {
            goro__g *g = sg->g;
            goro__chan_recv_copy(c, sg, cs->elem);
            if (cs->ok)
                *cs->ok = true;
            unlock_all(s);
            goro__ready(g);
            return 1;
        }
        if (atomic_load_explicit(&c->count, memory_order_relaxed) > 0) {
            goro__chan_buf_take(c, cs->elem);
            if (cs->ok)
                *cs->ok = true;
            unlock_all(s);
            return 1;
        }
        if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
            unlock_all(s);
            recv_closed(cs);
            return 1;
        }
        return 0;
    }
    case CASE_SEND: {
        if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
            unlock_all(s);
            return -EPIPE;
        }
        if ((sg = goro__waitq_dequeue(&c->recvq))) {
            goro__g *g = sg->g;
            goro__chan_send_copy(c, sg, cs->elem);
            unlock_all(s);
            goro__ready(g);
            return 1;
        }
        if (atomic_load_explicit(&c->count, memory_order_relaxed) < c->cap) {
            goro__chan_buf_put(c, cs->elem);
            unlock_all(s);
            return 1;
        }
        return 0;
    }
    case CASE_TIMEOUT:
        if (*now == 0)
            *now = goro_now();
        if (cs->when <= *now) {
            unlock_all(s);
            return 1;
        }
        return 0;
    }
    return 0;
}

int goro_select(goro_case *cases, size_t n)
{
    uint16_t pollbuf[SELECT_STACK_CASES], lockbuf[SELECT_STACK_CASES];
    goro__sudog sgbuf[SELECT_STACK_CASES];
    uint16_t *pollorder = pollbuf, *lockorder = lockbuf;
    goro__sudog *sgs = sgbuf;
    struct select_state s = {.cases = cases, .when = INT64_MAX};
    size_t npoll = 0, nlock = 0, ndead = 0;
    int dflt = -1, ret;
    int64_t now = 0;
    goro__g *g;

    goro__note_thread();

    if (n > 0 && !cases)
        return -EINVAL;
    if (n > UINT16_MAX)
        return -EINVAL;
    if (n > SELECT_STACK_CASES) {
        void *mem = goro__malloc(n * (2 * sizeof(uint16_t) + sizeof(goro__sudog)));
        if (!mem)
            return -ENOMEM;
        sgs = mem;
        pollorder = (uint16_t *)(sgs + n);
        lockorder = pollorder + n;
    }

    /* 1. Validate; build the poll order (shuffled) and lock order. */
    for (size_t i = 0; i < n; i++) {
        goro_case *cs = &cases[i];
        switch (cs->kind) {
        case CASE_DEFAULT:
            if (dflt >= 0) {
                ret = -EINVAL;
                goto out;
            }
            dflt = (int)i;
            continue;
        case CASE_TIMEOUT:
            if (cs->when < s.when)
                s.when = cs->when;
            break;
        case CASE_SEND:
            if (cs->c) {
                goro__life_check(&cs->c->life);
                if (cs->c->elemsize && !cs->elem) {
                    ret = -EINVAL;
                    goto out;
                }
            }
            /* fallthrough */
        case CASE_RECV:
            if (!cs->c)
                continue; /* never ready */
            goro__life_check(&cs->c->life);
            if (unlikely(goro__bubble_check(cs->c->bubble))) {
                ret = -EPERM; /* a bubble's channel, used from outside it */
                goto out;
            }
            break;
        default:
            ret = -EINVAL; /* not built by goro_case_* */
            goto out;
        }
        size_t j = cheaprand() % (npoll + 1);
        pollorder[npoll] = pollorder[j];
        pollorder[j] = (uint16_t)i;
        npoll++;
    }
    /* The lock order is the poll order sorted by channel address, stably:
     * cases on one channel stay in poll order, and step 3 enqueues them in
     * lock order, so a waker that takes the first waiter of a channel
     * picks among a select's cases on it at random too (Go: selectgo's
     * heap sort of lockorder, seeded from pollorder).  Enqueued by index,
     * two sends on one channel would always deliver the first case. */
    nlock = 0;
    for (size_t k = 0; k < npoll; k++)
        if (cases[pollorder[k]].kind != CASE_TIMEOUT)
            lockorder[nlock++] = pollorder[k];
    sort_lockorder(cases, lockorder, nlock);
    s.lockorder = lockorder;
    s.nlock = nlock;

    /* 2. Poll. */
    lock_all(&s);
    for (size_t k = 0; k < npoll; k++) {
        int r = try_case(&s, pollorder[k], &now);
        if (r != 0) {
            ret = r < 0 ? r : pollorder[k];
            goto out;
        }
    }

    /* 3. Default, or wait on everything. */
    if (dflt >= 0) {
        unlock_all(&s);
        ret = dflt;
        goto out;
    }
    g = goro__getg();
    if (!g) {
        unlock_all(&s);
        ret = -ENOMEM;
        goto out;
    }
    s.g = g;
    uint64_t seq = goro__claim_open(g);
    for (size_t k = 0; k < nlock; k++) {
        size_t i = lockorder[k];
        goro_case *cs = &cases[i];
        goro__sudog *sg = &sgs[k];
        *sg = (goro__sudog){.g = g, .elem = cs->elem, .c = cs->c, .sel_seq = seq,
                            .index = (int)i, .is_select = true};
        goro__hb_release(sg);
        cs->c->waitrefs++; /* holds c while we wait (chan.c, wait_on) */
        goro__waitq_enqueue(cs->kind == CASE_RECV ? &cs->c->recvq : &cs->c->sendq, sg);
        goro__bubble_wait_on(g, cs->c->bubble); /* durable only on its own channels */
    }
    goro__park(select_park_unlock, &s,
               nlock == 0 && s.when == INT64_MAX ? WR_SELECT_NO_CASES : WR_SELECT);
    goro__park_wait_unlocked(&s.parked);

    /* 4. Woken by one case or the timeout.  Stop the timer first: once it
     * returns, no callback of this select can run (see goro__timer_del). */
    goro__sudog *won = (goro__sudog *)g->param;
    if (s.when != INT64_MAX)
        goro__timer_del(&g->timer);
    lock_all(&s);
    for (size_t k = 0; k < nlock; k++) {
        goro__sudog *sg = &sgs[k];
        goro_chan *c = sg->c;
        if (sg != won)
            goro__waitq_remove(cases[sg->index].kind == CASE_RECV ? &c->recvq : &c->sendq, sg);
        /* Our hold on c ends; if the last reference went meanwhile and we
         * are its last waiter, c is ours to free, after the locks and the
         * last read of the won case's channel (recv_closed).  sgs[0..ndead)
         * collect them: .c of a sudog is not read past this loop. */
        if (goro__chan_unwait(c))
            sgs[ndead++].c = c;
    }
    unlock_all(&s);

    if (!won) {
        /* The timeout: report the earliest timeout case. */
        ret = -1;
        for (size_t i = 0; i < n; i++)
            if (cases[i].kind == CASE_TIMEOUT && cases[i].when == s.when) {
                ret = (int)i;
                break;
            }
        goto out_release;
    }
    goro__hb_acquire(won);
    ret = won->index;
    if (cases[ret].kind == CASE_RECV) {
        if (won->success) {
            if (cases[ret].ok)
                *cases[ret].ok = true;
        } else {
            recv_closed(&cases[ret]);
        }
    } else if (!won->success) {
        ret = -EPIPE;
    }
out_release:
    for (size_t k = 0; k < ndead; k++)
        goro__chan_free(sgs[k].c);
out:
    if (sgs != sgbuf)
        goro__free(sgs);
    return ret;
}
