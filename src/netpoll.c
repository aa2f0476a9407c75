/* netpoll.c - poll descriptors and fd waits (Go: runtime/netpoll.go).
 *
 * One goro__pd per fd number, allocated on first use and kept for the life
 * of the process (reused when the number is), in a two-level table that is
 * read without a lock.  A pd holds, for each direction, at most one waiting
 * G and a "ready" flag that remembers readiness nobody was waiting for
 * (edge-triggered events are not repeated).  The flag is a hint, not a
 * fact: a read or write since the edge may have used the readiness up, and
 * nothing clears the flag then (a clear after EAGAIN would race with a new
 * edge and lose it).  So goro__fd_wait returning 0 means "try the system
 * call": io.c's loops retry it and wait again on EAGAIN, and goro_fd_wait,
 * which has no system call of its own, asks poll() (Go: pdReady).
 *
 * A wait is a claimable wait (runtime.h): the waiting G opens one
 * (goro__claim_open), and whoever wakes it first - the poller (I/O ready),
 * goro_close (EBADF), its deadline's timer (ETIMEDOUT,
 * goro__claim_arm_timeout) or the close of a context's done channel
 * (goro__chan_close_wait_begin queues a waiter on it) - wins the claim and
 * leaves the reason in g->param; the losers leave no trace but a ready
 * flag.  A G may wait for both directions at once (fd_wait with
 * both events): it is then both the read and the write waiter.
 *
 * Locking: pd->lock protects the waiter and ready fields; lock order is pd,
 * then a done channel's lock, then timer heap and scheduler locks (the
 * table: docs/internals.md, "Lock order").
 *
 * A fd closed behind goro's back (a close inside the C library, or any
 * close with the interposers off, hook.c), whose number is then reused,
 * keeps a registration the kernel dropped: goro re-registers on EEXIST but
 * cannot notice a silent drop by itself.  close(2) is goro's own with the
 * interposers on (it calls goro__fd_close), and hook.c re-registers a
 * number it meets for the first time (goro__fd_rearm); without them, close
 * fds that goro waited on with goro_close.
 *
 * poll and select (hook.c) wait on many fds at once (goro__fd_wait_many):
 * the G is the waiter of every pd, under one claim.
 */
#include "netpoll.h"
#include "chan.h"
#include "sanitizer.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct goro__pd {
    goro__lock lock;            /* lock order: docs/internals.md, "Lock order" */
    int fd;
    bool registered;            /* in the poller (or known unpollable) */
    bool pollable;              /* false: regular file etc., always ready */
    bool closing;               /* goro_close in progress */
    bool rready, wready;
    goro__g *rg, *wg;           /* waiters, and their sequence numbers */
    uint64_t rseq, wseq;
};

#define PD_L1 1024
#define PD_L2 1024              /* fds up to 1M */

static _Atomic(goro__pd *) pd_table[PD_L1];
static pthread_once_t pd_once = PTHREAD_ONCE_INIT;
static _Atomic bool inited;
static _Atomic int waiters;             /* Gs parked on fds */
static _Atomic int polling;             /* Ms blocked in the poller */
static _Atomic int64_t last_poll;
static int init_err;

static void netpoll_init(void)
{
    goro__init();
    init_err = goro__netpoll_backend_init();
    atomic_store(&last_poll, goro__nanotime());
    if (!init_err)
        atomic_store_explicit(&inited, true, memory_order_release);
}

/* Returns the pd for fd, creating the table slot as needed; NULL with
 * errno EBADF/ENOMEM/poller's error. */
static goro__pd *pd_lookup(int fd)
{
    goro__pd *row;

    if (fd < 0 || fd >= PD_L1 * PD_L2) {
        errno = EBADF;
        return NULL;
    }
    pthread_once(&pd_once, netpoll_init);
    if (init_err) {
        errno = init_err;
        return NULL;
    }
    row = atomic_load_explicit(&pd_table[fd / PD_L2], memory_order_acquire);
    if (!row) {
        goro__pd *fresh = goro__calloc(PD_L2, sizeof *fresh);
        if (!fresh) {
            errno = ENOMEM;
            return NULL;
        }
        for (int i = 0; i < PD_L2; i++)
            fresh[i].fd = fd / PD_L2 * PD_L2 + i;
        if (atomic_compare_exchange_strong(&pd_table[fd / PD_L2], &row, fresh))
            row = fresh;
        else
            goro__free(fresh); /* another thread won */
    }
    return &row[fd % PD_L2];
}

/* The pd for fd, registered with the poller and the fd non-blocking. */
static goro__pd *pd_get(int fd)
{
    goro__pd *pd = pd_lookup(fd);
    int e;

    if (!pd || likely(__atomic_load_n(&pd->registered, __ATOMIC_ACQUIRE)))
        return pd;
    goro__lock_acquire(&pd->lock);
    if (!pd->registered) {
        int fl = goro__sys_fcntl(fd, F_GETFL);
        if (fl < 0) {
            e = errno;
            goro__lock_release(&pd->lock);
            errno = e;
            return NULL;
        }
        e = goro__netpoll_backend_open(fd, pd);
        pd->pollable = e == 0;
        if (e && e != EPERM) {
            goro__lock_release(&pd->lock);
            errno = e;
            return NULL;
        }
        if (pd->pollable && !(fl & O_NONBLOCK))
            goro__sys_fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        pd->closing = false;
        pd->rready = pd->wready = false;
        __atomic_store_n(&pd->registered, true, __ATOMIC_RELEASE);
    }
    goro__lock_release(&pd->lock);
    return pd;
}

#if defined(GORO_TSAN)
void *goro__fd_sync(int fd)
{
    goro__pd *pd = pd_lookup(fd);
    return pd ? (void *)pd : (void *)&pd_table;
}
#endif

int goro__fd_prepare(int fd)
{
    goro__note_thread();
    return pd_get(fd) ? 0 : errno;
}

bool goro__fd_pollable(int fd)
{
    goro__pd *pd = pd_lookup(fd);
    bool yes;

    if (!pd || !__atomic_load_n(&pd->registered, __ATOMIC_ACQUIRE))
        return false;
    goro__lock_acquire(&pd->lock);
    yes = pd->registered && pd->pollable;
    goro__lock_release(&pd->lock);
    return yes;
}

bool goro__fd_blocks(int fd)
{
    goro__pd *pd = pd_lookup(fd);

    /* pollable is written before the release store of registered. */
    return pd && __atomic_load_n(&pd->registered, __ATOMIC_ACQUIRE) &&
           !__atomic_load_n(&pd->pollable, __ATOMIC_RELAXED);
}

void goro__netpoll_ready(goro__pd *pd, int mode)
{
    goro__g *wake[2] = {NULL, NULL};

    goro__lock_acquire(&pd->lock);
    /* A waiter whose claim fails was woken by something else (its deadline,
     * close, its context) and cleans up itself: the readiness is kept. */
    if (mode & GORO_PD_READ) {
        goro__g *g = pd->rg;
        if (g && goro__claim(g, pd->rseq, GORO_WAKE_IO))
            wake[0] = g;
        else
            pd->rready = true;
        pd->rg = NULL;
    }
    if (mode & GORO_PD_WRITE) {
        goro__g *g = pd->wg;
        if (g && g != wake[0] && goro__claim(g, pd->wseq, GORO_WAKE_IO))
            wake[1] = g;
        else
            pd->wready = true; /* incl. a G waiting both ways, just woken */
        pd->wg = NULL;
    }
    goro__lock_release(&pd->lock);
    for (int i = 0; i < 2; i++)
        if (wake[i])
            goro__ready(wake[i]);
}

/* Takes g off pd's waiter slots, where a waker that lost the claim (or
 * none) left it; pd->lock held. */
static void pd_unwait(goro__pd *pd, goro__g *g)
{
    if (pd->rg == g)
        pd->rg = NULL;
    if (pd->wg == g)
        pd->wg = NULL;
}

/* Parks g in its claimable wait, published on poll descriptors whose locks
 * unlockf releases (storing 1 to *parked last), and returns why it was
 * woken (g->param), with the deadline's timer stopped. */
static uintptr_t park_io(void (*unlockf)(void *), void *arg, _Atomic uint32_t *parked, goro__g *g,
                         int64_t deadline)
{
    atomic_fetch_add(&waiters, 1);
    goro__park(unlockf, arg, WR_IO);
    goro__park_wait_unlocked(parked);
    atomic_fetch_sub(&waiters, 1);
    uintptr_t why = g->param;
    if (deadline >= 0)
        goro__timer_del(&g->timer);
    return why;
}

struct fd_park {
    goro__pd *pd;
    goro_chan *done;            /* locked while parking, if not NULL */
    goro__g *g;
    int64_t deadline;
    _Atomic uint32_t parked;    /* see goro__park_wait_unlocked */
};

static void fd_park_unlock(void *arg)
{
    struct fd_park *fp = arg;
    if (fp->deadline >= 0)
        goro__claim_arm_timeout(fp->g, fp->deadline);
    goro__pd *pd = fp->pd;
    if (fp->done)
        goro__chan_unlock(fp->done);
    atomic_store_explicit(&fp->parked, 1, memory_order_release); /* last touch of fp */
    goro__lock_release(&pd->lock);
}

int goro__fd_wait(int fd, int modes, int64_t deadline, goro_chan *done)
{
    goro__pd *pd = pd_get(fd);
    goro__g *g;
    goro__sudog sg;
    struct fd_park fp;
    uintptr_t why;
    uint64_t seq;

    if (!pd)
        return errno;
    if (!pd->pollable)
        return 0; /* regular files and the like never block in the poller's sense */
    g = goro__getg();
    if (!g)
        return ENOMEM;

    goro__lock_acquire(&pd->lock);
    if (pd->closing) {
        goro__lock_release(&pd->lock);
        return EBADF;
    }
    if ((modes & GORO_PD_READ) && pd->rready) {
        pd->rready = false;
        goro__lock_release(&pd->lock);
        return 0;
    }
    if ((modes & GORO_PD_WRITE) && pd->wready) {
        pd->wready = false;
        goro__lock_release(&pd->lock);
        return 0;
    }
    if (((modes & GORO_PD_READ) && pd->rg) || ((modes & GORO_PD_WRITE) && pd->wg)) {
        goro__lock_release(&pd->lock);
        return EBUSY; /* one waiter per direction */
    }
    if (deadline >= 0 && deadline <= goro_now()) {
        goro__lock_release(&pd->lock);
        return ETIMEDOUT;
    }
    seq = goro__claim_open(g);
    if (modes & GORO_PD_READ) {
        pd->rg = g;
        pd->rseq = seq;
    }
    if (modes & GORO_PD_WRITE) {
        pd->wg = g;
        pd->wseq = seq;
    }
    fp = (struct fd_park){.pd = pd, .g = g, .deadline = deadline};
    if (done) {
        /* Leaves done locked until the park: see goro__chan_close_wait_begin. */
        if (!goro__chan_close_wait_begin(done, &sg, g, seq)) {
            pd_unwait(pd, g);
            goro__lock_release(&pd->lock);
            return ECANCELED;
        }
        fp.done = done;
    }
    why = park_io(fd_park_unlock, &fp, &fp.parked, g, deadline);

    /* Woken: undo what the other wakers could still find. */
    if (done)
        goro__chan_close_wait_end(done, &sg);
    goro__lock_acquire(&pd->lock);
    pd_unwait(pd, g);
    goro__lock_release(&pd->lock);

    switch (why) {
    case GORO_WAKE_IO:
        return 0;
    case GORO_WAKE_TIMEOUT:
        return ETIMEDOUT;
    case GORO_WAKE_CLOSED:
        return EBADF;
    default:
        return ECANCELED; /* the context's done channel closed */
    }
}

void goro__fd_forget(int fd)
{
    goro__pd *pd = pd_lookup(fd);
    goro__g *wake[2] = {NULL, NULL};

    if (!pd || !__atomic_load_n(&pd->registered, __ATOMIC_ACQUIRE))
        return;
    goro__lock_acquire(&pd->lock);
    pd->closing = true;
    if (pd->rg && goro__claim(pd->rg, pd->rseq, GORO_WAKE_CLOSED))
        wake[0] = pd->rg;
    if (pd->wg && pd->wg != pd->rg && goro__claim(pd->wg, pd->wseq, GORO_WAKE_CLOSED))
        wake[1] = pd->wg;
    pd->rg = pd->wg = NULL;
    if (pd->pollable && pd->registered)
        goro__netpoll_backend_close(fd);
    __atomic_store_n(&pd->registered, false, __ATOMIC_RELEASE);
    goro__lock_release(&pd->lock);
    for (int i = 0; i < 2; i++)
        if (wake[i])
            goro__ready(wake[i]);
}

int goro__fd_close(int fd)
{
    goro__fd_forget(fd);
    return goro__sys_close(fd) == 0 ? 0 : errno;
}

int goro__fd_rearm(int fd)
{
    goro__pd *pd = pd_lookup(fd);
    int e = 0;

    if (!pd)
        return errno;
    if (!__atomic_load_n(&pd->registered, __ATOMIC_ACQUIRE))
        return pd_get(fd) ? 0 : errno;
    goro__lock_acquire(&pd->lock);
    /* Registered before: add it again.  For a live registration this is a
     * no-op (EEXIST, then a modify); for one the kernel dropped when an
     * earlier file with this number was closed, it is the registration. */
    if (pd->registered && pd->pollable)
        e = goro__netpoll_backend_open(fd, pd);
    goro__lock_release(&pd->lock);
    return e;
}

/* ---- waiting for any of several fds (poll, select) ----------------------- */

struct many_park {
    goro__pd **pds;
    int n;
    goro__g *g;
    int64_t deadline;
    _Atomic uint32_t parked;    /* see goro__park_wait_unlocked */
};

static void many_park_unlock(void *arg)
{
    struct many_park *mp = arg;
    goro__pd **pds = mp->pds;
    int n = mp->n;

    if (mp->deadline >= 0)
        goro__claim_arm_timeout(mp->g, mp->deadline);
    atomic_store_explicit(&mp->parked, 1, memory_order_release); /* last touch of mp */
    for (int i = n - 1; i >= 0; i--)
        goro__lock_release(&pds[i]->lock);
}

static int pd_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (goro__pd *const *)a, y = (uintptr_t) * (goro__pd *const *)b;
    return x < y ? -1 : x > y;
}

/* Locks are taken in address order (the only place that holds more than
 * one pd lock), so two such waits cannot deadlock; the G is published in
 * every pd under its lock and parks with all of them held, as select does
 * with channel locks: a waker that claims it finds it parked.  pds (the
 * caller's array, sorted here, duplicates merged) must stay valid until
 * this returns; modes[i] belongs to fds[i]. */
int goro__fd_wait_many(const int *fds, const int *modes, int n, int64_t deadline)
{
    goro__pd *small[16], **pds = small;
    int *pmodes, m = 0, e = 0;
    goro__g *g = goro__getg();
    struct many_park mp;
    uintptr_t why;

    if (!g)
        return ENOMEM;
    if (n > 16 && !(pds = goro__malloc((size_t)n * sizeof *pds)))
        return ENOMEM;
    for (int i = 0; i < n; i++) {
        goro__pd *pd = pd_get(fds[i]);
        if (!pd) {
            e = errno;
            goto out;
        }
        if (!pd->pollable)
            goto out; /* a regular file is always ready */
        /* The mode rides in the pointer's low bits (pds are aligned). */
        pds[m++] = (goro__pd *)((uintptr_t)pd | (uintptr_t)modes[i]);
    }
    qsort(pds, (size_t)m, sizeof *pds, pd_cmp);
    /* Merge duplicates (same pd, any modes) and unpack: modes go to a
     * parallel array on the G's stack, small enough (ints) for n <= 16. */
    int small_modes[16];
    pmodes = m > 16 ? goro__malloc((size_t)m * sizeof *pmodes) : small_modes;
    if (!pmodes) {
        e = ENOMEM;
        goto out;
    }
    int k = 0;
    for (int i = 0; i < m; i++) {
        goro__pd *pd = (goro__pd *)((uintptr_t)pds[i] & ~(uintptr_t)3);
        int md = (int)((uintptr_t)pds[i] & 3);
        if (k > 0 && pds[k - 1] == pd) {
            pmodes[k - 1] |= md;
            continue;
        }
        pds[k] = pd;
        pmodes[k++] = md;
    }
    m = k;
    if (deadline >= 0 && deadline <= goro_now()) {
        e = ETIMEDOUT;
        goto out_modes;
    }

    for (int i = 0; i < m; i++)
        goro__lock_acquire(&pds[i]->lock);
    for (int i = 0; i < m; i++) {
        goro__pd *pd = pds[i];
        bool ready = ((pmodes[i] & GORO_PD_READ) && pd->rready) ||
                     ((pmodes[i] & GORO_PD_WRITE) && pd->wready);
        if (pd->closing || ready || ((pmodes[i] & GORO_PD_READ) && pd->rg) ||
            ((pmodes[i] & GORO_PD_WRITE) && pd->wg)) {
            e = pd->closing ? EBADF : ready ? 0 : EBUSY;
            if (ready) {
                if (pmodes[i] & GORO_PD_READ)
                    pd->rready = false;
                if (pmodes[i] & GORO_PD_WRITE)
                    pd->wready = false;
            }
            for (int j = m - 1; j >= 0; j--)
                goro__lock_release(&pds[j]->lock);
            goto out_modes;
        }
    }
    uint64_t seq = goro__claim_open(g);
    for (int i = 0; i < m; i++) {
        if (pmodes[i] & GORO_PD_READ) {
            pds[i]->rg = g;
            pds[i]->rseq = seq;
        }
        if (pmodes[i] & GORO_PD_WRITE) {
            pds[i]->wg = g;
            pds[i]->wseq = seq;
        }
    }
    mp = (struct many_park){.pds = pds, .n = m, .g = g, .deadline = deadline};
    why = park_io(many_park_unlock, &mp, &mp.parked, g, deadline);
    for (int i = 0; i < m; i++) {
        goro__lock_acquire(&pds[i]->lock);
        pd_unwait(pds[i], g);
        goro__lock_release(&pds[i]->lock);
    }
    e = why == GORO_WAKE_IO ? 0 : why == GORO_WAKE_CLOSED ? EBADF : ETIMEDOUT;
out_modes:
    if (pmodes != small_modes)
        goro__free(pmodes);
out:
    if (pds != small)
        goro__free(pds);
    return e;
}

/* ---- for the scheduler -------------------------------------------------- */

bool goro__netpoll_pending(void)
{
    return atomic_load_explicit(&inited, memory_order_acquire) &&
           atomic_load_explicit(&waiters, memory_order_relaxed) > 0;
}

bool goro__netpoll_inited(void)
{
    return atomic_load_explicit(&inited, memory_order_acquire);
}

int goro__netpoll(int64_t deadline)
{
    int n;

    if (!goro__netpoll_inited())
        return 0;
    if (deadline != 0)
        atomic_fetch_add(&polling, 1);
    n = goro__netpoll_backend_wait(deadline);
    if (deadline != 0)
        atomic_fetch_sub(&polling, 1);
    atomic_store_explicit(&last_poll, goro__nanotime(), memory_order_relaxed);
    return n;
}

bool goro__netpoll_blocked(void)
{
    return atomic_load_explicit(&polling, memory_order_relaxed) > 0;
}

int64_t goro__netpoll_last(void)
{
    return atomic_load_explicit(&last_poll, memory_order_relaxed);
}

void goro__netpoll_break(void)
{
    if (goro__netpoll_inited())
        goro__netpoll_backend_break();
}
