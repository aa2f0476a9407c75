/* signal.c - signals delivered to channels and signal contexts
 * (Go: package os/signal, the runtime's sigsend/signal_recv).
 *
 * One registry serves two kinds of watcher: a notified channel
 * (goro_signal_notify) and a signal context (goro_ctx_with_signals,
 * context.c).  Each registration is one struct sigreg with the mask of the
 * signals it wants.
 *
 * Delivery: an async-signal-safe handler records the signal in a pending
 * mask and wakes a watcher thread with a futex; the watcher takes the whole
 * mask, try-sends each pending signal's number to every channel that wants
 * it, then cancels every context that wants one.  The kernel may run the
 * handler on any thread that does not block the signal: the application's
 * own, or any of goro's, which run with the application's mask
 * (os_linux.c), so the signal is caught even after main has called
 * pthread_exit.  As in Go, a signal that arrives again before the watcher
 * took the first is counted once, and a channel with no room drops it:
 * delivery never blocks.
 *
 * Dispositions: users[s] counts the registrations that want signal s.  The
 * first one installs the handler and saves the previous disposition; the
 * last one to go restores it.  A signal still pending then finds nobody
 * and is dropped.
 *
 * Locking: sigs.lock protects the list, every registration's fields, users
 * and old.  Lock order: sigs.lock, then channel locks (the watcher
 * try-sends under it), then scheduler locks (docs/internals.md, "Lock
 * order").  Channel deliveries happen
 * under sigs.lock, so once goro_signal_stop has unlinked a channel's
 * registration no send to it can follow (Go: "When Stop returns, it is
 * guaranteed that c will receive no more signals").  Contexts are canceled
 * without it, one at a time: a cancel may free a context, which
 * unregisters (takes sigs.lock).  A context registration holds no
 * reference to its context (the context unregisters before it is freed);
 * the watcher takes one with goro__ctx_tryref under sigs.lock, and round
 * marks the registrations it already canceled in this pass.
 */
#include "runtime.h"
#include "chan.h"

#include <signal.h>
#include <stdarg.h>
#include <string.h>

#define MAX_SIG 64

struct sigreg {
    goro_ctx *ctx;              /* a signal context (no reference), or */
    goro_chan *ch;              /* a notified channel (one reference) */
    uint64_t mask;              /* bit s: signal s */
    uint64_t round;             /* last watcher round that canceled ctx */
    goro__list node;            /* on sigs.list */
};

static struct {
    goro__lock lock;            /* protects all but the atomics; lock order: docs/internals.md, "Lock order" */
    goro__list list;            /* of struct sigreg, newest first */
    int users[MAX_SIG];
    struct sigaction old[MAX_SIG];
    bool watcher;
    _Atomic int nregs;          /* registrations (read by sysmon) */
    _Atomic uint64_t pending;
    _Atomic uint32_t wake;
} sigs = {.lock = GORO_LOCK_INIT, .list = GORO_LIST_INIT(sigs.list)};

#define reg_of(n) goro__container_of(n, struct sigreg, node)

static void sig_handler(int sig)
{
    int e = errno;
    atomic_fetch_or(&sigs.pending, (uint64_t)1 << sig);
    atomic_store(&sigs.wake, 1);
    goro__futex_wake(&sigs.wake, 1);
    errno = e;
}

/* Try-sends each signal in pending to every channel that wants it, in
 * signal order; a full or closed channel misses it.  sigs.lock held. */
static void deliver_chans(uint64_t pending)
{
    goro__list_each(it, &sigs.list) {
        struct sigreg *r = reg_of(it);
        uint64_t m = r->ch ? r->mask & pending : 0;
        for (int s = 1; m; s++) {
            if (!(m >> s & 1))
                continue;
            m &= ~((uint64_t)1 << s);
            (void)goro_chan_try_send(r->ch, &s);
        }
    }
}

static void *sig_watcher(void *arg)
{
    uint64_t round = 0;

    (void)arg;
    /* Its sends and cancels never park: it needs no thread G, and with
     * one it would count as a thread that never waits in goro, hiding
     * every later deadlock. */
    goro__tls_runtime_thread = true;
    for (;;) {
        while (!atomic_exchange(&sigs.wake, 0))
            goro__futex_wait(&sigs.wake, 0, -1);
        uint64_t pending = atomic_exchange(&sigs.pending, 0);
        round++;
        goro__lock_acquire(&sigs.lock);
        deliver_chans(pending);
        goro__lock_release(&sigs.lock);
        /* One context at a time, never holding sigs.lock while canceling:
         * registrations are few. */
        for (;;) {
            goro_ctx *c = NULL;
            goro__lock_acquire(&sigs.lock);
            goro__list_each(it, &sigs.list) {
                struct sigreg *r = reg_of(it);
                if (r->ctx && (r->mask & pending) && r->round != round &&
                    goro__ctx_tryref(r->ctx)) {
                    r->round = round;
                    c = r->ctx;
                    break;
                }
            }
            goro__lock_release(&sigs.lock);
            if (!c)
                break;
            goro__ctx_signaled(c);
        }
    }
    return NULL;
}

int goro__signal_watch_count(void)
{
    return atomic_load_explicit(&sigs.nregs, memory_order_acquire);
}

int goro__signal_mask(uint64_t *mask, int sig, va_list ap)
{
    uint64_t m = 0;

    for (int s = sig; s != 0; s = va_arg(ap, int)) {
        if (s < 1 || s >= MAX_SIG || s == SIGKILL || s == SIGSTOP)
            return EINVAL;
        m |= (uint64_t)1 << s;
    }
    if (!m)
        return EINVAL;
    *mask = m;
    return 0;
}

/* Drops one use of each signal in mask, restoring the previous disposition
 * of those nobody uses any more; sigs.lock held. */
static void signals_put(uint64_t mask)
{
    for (int s = 1; s < MAX_SIG; s++)
        if ((mask >> s & 1) && --sigs.users[s] == 0)
            sigaction(s, &sigs.old[s], NULL);
}

/* Takes one use of each signal in mask, installing the handler for those
 * nobody used yet; sigs.lock held.  Returns: 0; EINVAL, having taken
 * nothing, when a number is one the C library keeps for itself (glibc: 32
 * and 33, below SIGRTMIN), which sigaction refuses. */
static int signals_get(uint64_t mask)
{
    for (int s = 1; s < MAX_SIG; s++) {
        if (!(mask >> s & 1) || sigs.users[s]++ > 0)
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = sig_handler;
        /* SA_ONSTACK: it may interrupt a goroutine, on whatever thread the
         * kernel picks; the M's alternate stack spares the goroutine's. */
        sa.sa_flags = SA_RESTART | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(s, &sa, &sigs.old[s]) != 0) {
            sigs.users[s]--;
            signals_put(mask & (((uint64_t)1 << s) - 1));
            return EINVAL;
        }
    }
    return 0;
}

/* Starts the watcher thread unless it runs; sigs.lock held.
 * Returns: 0 or EAGAIN. */
static int watcher_start(void)
{
    if (sigs.watcher)
        return 0;
    if (goro__thread_start(sig_watcher, NULL, 64 * 1024) != 0)
        return EAGAIN;
    sigs.watcher = true;
    return 0;
}

static void reg_link(struct sigreg *r)
{
    goro__list_push_front(&sigs.list, &r->node);
    atomic_fetch_add_explicit(&sigs.nregs, 1, memory_order_release);
}

/* Unlinks the registration of ctx c or channel ch and gives back its
 * signals; sigs.lock held.  Returns it (to free), or NULL. */
static struct sigreg *reg_unlink(goro_ctx *c, goro_chan *ch)
{
    goro__list_each(it, &sigs.list) {
        struct sigreg *r = reg_of(it);
        if ((c && r->ctx == c) || (ch && r->ch == ch)) {
            goro__list_unlink(&r->node); /* and return at once */
            signals_put(r->mask);
            atomic_fetch_sub_explicit(&sigs.nregs, 1, memory_order_release);
            return r;
        }
    }
    return NULL;
}

int goro__signal_watch_ctx(goro_ctx *c, uint64_t mask)
{
    struct sigreg *r = goro__calloc(1, sizeof *r);
    int e;

    if (!r)
        return ENOMEM;
    r->ctx = c;
    r->mask = mask;
    goro__init(); /* the watcher gets the application's signal mask from it */
    goro__lock_acquire(&sigs.lock);
    e = watcher_start();
    if (!e)
        e = signals_get(mask);
    if (!e)
        reg_link(r);
    goro__lock_release(&sigs.lock);
    if (e)
        goro__free(r);
    return e;
}

void goro__signal_unwatch_ctx(goro_ctx *c)
{
    goro__lock_acquire(&sigs.lock);
    struct sigreg *r = reg_unlink(c, NULL);
    goro__lock_release(&sigs.lock);
    goro__free(r);
}

int goro_signal_notify(goro_chan *ch, int sig, ...)
{
    struct sigreg *r, *fresh;
    uint64_t mask;
    va_list ap;
    int e;

    va_start(ap, sig);
    e = goro__signal_mask(&mask, sig, ap);
    va_end(ap);
    if (e || !ch || ch->elemsize != sizeof(int))
        return EINVAL;
    /* Allocated up front, outside the lock; unused when ch is already
     * registered. */
    fresh = goro__calloc(1, sizeof *fresh);
    if (!fresh)
        return ENOMEM;
    goro__init(); /* the watcher gets the application's signal mask from it */
    goro__lock_acquire(&sigs.lock);
    r = NULL;
    goro__list_each(it, &sigs.list)
        if (reg_of(it)->ch == ch) {
            r = reg_of(it);
            break;
        }
    e = watcher_start();
    if (!e)
        e = signals_get(mask & ~(r ? r->mask : 0)); /* only the new ones */
    if (!e) {
        if (r) {
            r->mask |= mask;
        } else {
            fresh->ch = goro_chan_retain(ch);
            fresh->mask = mask;
            reg_link(fresh);
            fresh = NULL;
        }
    }
    goro__lock_release(&sigs.lock);
    goro__free(fresh);
    return e;
}

int goro_signal_stop(goro_chan *ch)
{
    struct sigreg *r;

    if (!ch)
        return EINVAL;
    goro__lock_acquire(&sigs.lock);
    r = reg_unlink(NULL, ch);
    goro__lock_release(&sigs.lock);
    if (r) {
        goro_chan_release(r->ch);
        goro__free(r);
    }
    return 0;
}
