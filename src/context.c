/* context.c - cancellation trees, deadlines, values and signal contexts
 * (Go: package context, signal.NotifyContext).
 *
 * A cancelable context ("cancel ctx": with_cancel, with_timeout,
 * with_deadline, with_signals) owns a done channel, an error and a list of
 * the cancelable contexts below it.  A value context owns only its key and
 * value; it forwards done/err/deadline to its parent and is skipped when a
 * child looks for the "canceler" whose list it joins.
 *
 * Locking: each cancel ctx's lock protects its err (also atomic, for cheap
 * reads), children list, and the list links of its children (sib_*,
 * in_list).  Two context locks are held at once only by a cancel, and
 * only parent before child: it keeps a node locked until the node's whole
 * subtree has ended (Go's cancelCtx.cancel), so a concurrent cancel of any
 * node in it waits, and returns with that node's subtree ended.  The walk
 * is O(subtree) and iterative (a chain 100,000 deep is fine); everything
 * that could take a lock upwards (freeing, detaching, deleting timers)
 * waits until the walk has released every lock (see cancel_tree).
 *
 * Lifetimes: see goro.h.  A child holds a reference to its parent; a
 * context leaves its canceler's list when canceled, so a long-lived parent's
 * list holds only live children.  The timer of a deadline context is
 * deleted (waiting out a running callback) before the context is freed.
 *
 * Signals: a signal context is a cancel ctx registered with signal.c,
 * whose watcher thread cancels it when one of its signals arrives; the
 * context unregisters before it is freed.
 */
#include "runtime.h"
#include "sanitizer.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum ctx_kind { CTX_BACKGROUND, CTX_CANCEL, CTX_VALUE };

struct goro_ctx {
    _Atomic size_t refs;
    enum ctx_kind kind;
    goro_ctx *parent;           /* holds a reference; NULL for background */

    /* cancel ctx */
    goro__lock lock;
    goro_chan *done;
    _Atomic int err;
    goro_ctx *children;         /* protected by lock */
    goro_ctx *canceler;         /* whose children list we joined, or NULL */
    goro_ctx *sib_next, *sib_prev; /* protected by canceler->lock */
    bool in_list;               /* protected by canceler->lock */
    goro_ctx *work_next;        /* the ended list of the cancel that ended it */
    goro_ctx *cursor;           /* next child to visit; lock held by that cancel */
    bool has_deadline;
    int64_t deadline;
    goro__timer timer;

    /* value ctx */
    const void *key;
    void *value;
};

static goro_ctx background = {.kind = CTX_BACKGROUND};

goro_ctx *goro_ctx_background(void)
{
    return &background;
}

static goro_ctx *or_background(goro_ctx *c)
{
    return c ? c : &background;
}

/* ---- references --------------------------------------------------------- */

static void detach(goro_ctx *c);

/* Drops a reference; the last one frees c and drops c's reference to its
 * parent, and so on up the chain: a loop, not recursion, since chains may
 * be as deep as the program likes. */
static void ctx_unref(goro_ctx *c)
{
    while (c && c->kind != CTX_BACKGROUND) {
        if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
            return;
        if (c->kind == CTX_CANCEL) {
            goro__timer_del(&c->timer);
            goro__signal_unwatch_ctx(c);
            detach(c);
            goro_chan_release(c->done);
        }
        goro_ctx *parent = c->parent;
        goro__free(c);
        c = parent;
    }
}

/* Takes a reference unless the count already reached zero (the context is
 * being freed).  Used on children found in a list. */
static bool ctx_tryref(goro_ctx *c)
{
    size_t n = atomic_load_explicit(&c->refs, memory_order_relaxed);
    while (n != 0)
        if (atomic_compare_exchange_weak_explicit(&c->refs, &n, n + 1, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return true;
    return false;
}

goro_ctx *goro_ctx_retain(goro_ctx *c)
{
    if (c && c->kind != CTX_BACKGROUND)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

/* ---- cancellation ------------------------------------------------------- */

/* The nearest cancelable context at or above c, or NULL. */
static goro_ctx *canceler_of(goro_ctx *c)
{
    while (c && c->kind == CTX_VALUE)
        c = c->parent;
    return c && c->kind == CTX_CANCEL ? c : NULL;
}

/* Leaves the canceler's children list, if still in it. */
static void detach(goro_ctx *c)
{
    goro_ctx *p = c->canceler;
    if (!p)
        return;
    goro__lock_acquire(&p->lock);
    if (c->in_list) {
        if (c->sib_prev)
            c->sib_prev->sib_next = c->sib_next;
        else
            p->children = c->sib_next;
        if (c->sib_next)
            c->sib_next->sib_prev = c->sib_prev;
        c->in_list = false;
    }
    goro__lock_release(&p->lock);
}

/* Ends c (its lock held, its err still 0): err, then done closes. */
static void end_one(goro_ctx *c, int err)
{
    goro__hb_release(c);
    atomic_store_explicit(&c->err, err, memory_order_release);
    goro_chan_close(c->done);
}

/* Cancels root and its subtree with err.  skip_timer: called from root's
 * own timer callback, whose timer must not be deleted from inside it.
 *
 * Like Go's cancelCtx.cancel, a node's lock is held until its whole
 * subtree has ended, so a cancel that finds a node already ended (err set)
 * under its lock knows its descendants have ended too: a second
 * goro_ctx_cancel returns only when the first one's work is done.  The
 * walk is depth-first and iterative (a chain 100,000 deep is fine), holding
 * the locks of the path from root down to the current node: always parent
 * before child, the only order in which two context locks are ever held.
 * With the path's locks held nothing may take an ancestor's lock, so the
 * timer deletions and reference drops (which may free a context and detach
 * it from its canceler) wait on the ended list until every lock is
 * released.  A child whose count already reached zero is being freed and
 * waits in detach() for its parent's lock: nobody can see it, so the walk
 * skips it. */
static void cancel_tree(goro_ctx *root, int err, bool skip_timer)
{
    goro_ctx *c, *ended = NULL;

    if (root->kind != CTX_CANCEL)
        return;
    goro_ctx_retain(root);
    goro__lock_acquire(&root->lock);
    if (atomic_load_explicit(&root->err, memory_order_relaxed) != 0) {
        /* Ended, and (lock held by whoever ended it until then) its
         * subtree too. */
        goro__lock_release(&root->lock);
        detach(root);
        ctx_unref(root);
        return;
    }
    end_one(root, err);
    root->cursor = root->children;
    root->work_next = NULL;
    ended = root;
    c = root;
    while (c) {
        goro_ctx *ch = c->cursor;
        if (ch) {
            /* c's lock is held: its children list cannot change. */
            c->cursor = ch->sib_next;
            goro__lock_acquire(&ch->lock);
            if (atomic_load_explicit(&ch->err, memory_order_relaxed) == 0 && ctx_tryref(ch)) {
                end_one(ch, err);
                ch->cursor = ch->children;
                ch->work_next = ended; /* ours alone: we set its err */
                ended = ch;
                c = ch; /* descend, keeping ch's lock */
            } else {
                goro__lock_release(&ch->lock);
            }
            continue;
        }
        /* Every child of c has ended: they leave its list for good. */
        for (goro_ctx *k = c->children, *next; k; k = next) {
            next = k->sib_next;
            k->in_list = false;
            k->sib_next = k->sib_prev = NULL;
        }
        c->children = NULL;
        goro_ctx *up = c == root ? NULL : c->canceler; /* where we came from */
        goro__lock_release(&c->lock);
        c = up;
    }
    /* No lock held now.  The root was retained at the start, every other
     * ended node by ctx_tryref. */
    for (c = ended; c; c = c->work_next)
        if (c != root || !skip_timer)
            goro__timer_del(&c->timer);
    detach(root); /* while our reference keeps it alive */
    while (ended) {
        c = ended;
        ended = c->work_next;
        ctx_unref(c);
    }
}

void goro_ctx_cancel(goro_ctx *c)
{
    if (c)
        cancel_tree(c, ECANCELED, false);
}

void goro_ctx_release(goro_ctx *c)
{
    if (!c || c->kind == CTX_BACKGROUND)
        return;
    if (c->kind == CTX_CANCEL) {
        cancel_tree(c, ECANCELED, false);
        goro__signal_unwatch_ctx(c);
    }
    ctx_unref(c);
}

/* Joins the nearest cancelable ancestor's list, or inherits its error. */
static void propagate(goro_ctx *c)
{
    goro_ctx *p = canceler_of(c->parent);
    int err;

    if (!p)
        return;
    goro__lock_acquire(&p->lock);
    err = atomic_load_explicit(&p->err, memory_order_relaxed);
    if (!err) {
        c->canceler = p;
        c->sib_prev = NULL;
        c->sib_next = p->children;
        if (p->children)
            p->children->sib_prev = c;
        p->children = c;
        c->in_list = true;
    }
    goro__lock_release(&p->lock);
    if (err) {
        goro__hb_acquire(p);
        cancel_tree(c, err, false);
    }
}

/* ---- construction ------------------------------------------------------- */

static goro_ctx *ctx_new(goro_ctx *parent, enum ctx_kind kind)
{
    goro_ctx *c = goro__calloc(1, sizeof *c);

    goro__note_thread();
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&c->refs, 1);
    c->kind = kind;
    c->lock = (goro__lock)GORO_LOCK_INIT;
    if (kind == CTX_CANCEL) {
        c->done = goro_chan_make(0, 0);
        if (!c->done) {
            goro__free(c);
            errno = ENOMEM;
            return NULL;
        }
    }
    parent = or_background(parent);
    c->parent = goro_ctx_retain(parent);
    if (parent->kind == CTX_BACKGROUND)
        c->parent = NULL;
    return c;
}

goro_ctx *goro_ctx_with_cancel(goro_ctx *parent)
{
    goro_ctx *c = ctx_new(parent, CTX_CANCEL);
    if (c)
        propagate(c);
    return c;
}

static void deadline_fire(goro__timer *t)
{
    goro_ctx *c = (goro_ctx *)((char *)t - offsetof(goro_ctx, timer));
    cancel_tree(c, ETIMEDOUT, true);
}

goro_ctx *goro_ctx_with_deadline(goro_ctx *parent, int64_t when)
{
    int64_t pd;
    goro_ctx *c;

    /* A child's deadline never exceeds its parent's: if the parent ends
     * first, a plain cancel ctx behaves the same. */
    if (goro_ctx_deadline(parent, &pd) && pd <= when)
        return goro_ctx_with_cancel(parent);
    c = ctx_new(parent, CTX_CANCEL);
    if (!c)
        return NULL;
    c->has_deadline = true;
    c->deadline = when;
    c->timer.fn = deadline_fire;
    c->timer.when = when;
    propagate(c);
    if (atomic_load(&c->err))
        return c;
    goro__init(); /* timers need the scheduler's timer M */
    if (when <= goro_now() || goro__timer_add(&c->timer) != 0)
        cancel_tree(c, ETIMEDOUT, false); /* past, or no memory for a timer */
    return c;
}

goro_ctx *goro_ctx_with_timeout(goro_ctx *parent, int64_t ns)
{
    return goro_ctx_with_deadline(parent, goro__deadline_after(ns));
}

goro_ctx *goro_ctx_with_value(goro_ctx *parent, const void *key, void *value)
{
    goro_ctx *c;

    if (!key) {
        errno = EINVAL;
        return NULL;
    }
    c = ctx_new(parent, CTX_VALUE);
    if (c) {
        c->key = key;
        c->value = value;
    }
    return c;
}

/* ---- queries ------------------------------------------------------------ */

goro_chan *goro_ctx_done(goro_ctx *c)
{
    c = canceler_of(c);
    return c ? c->done : NULL;
}

int goro_ctx_err(goro_ctx *c)
{
    int err;

    c = canceler_of(c);
    if (!c)
        return 0;
    err = atomic_load_explicit(&c->err, memory_order_acquire);
    if (err)
        goro__hb_acquire(c);
    return err;
}

bool goro_ctx_deadline(goro_ctx *c, int64_t *when)
{
    for (; c; c = c->parent) {
        if (c->kind == CTX_CANCEL && c->has_deadline) {
            if (when)
                *when = c->deadline;
            return true;
        }
    }
    return false;
}

void *goro_ctx_value(goro_ctx *c, const void *key)
{
    for (; c; c = c->parent)
        if (c->kind == CTX_VALUE && c->key == key)
            return c->value;
    return NULL;
}

/* ---- signals (watched by signal.c) ------------------------------------- */

bool goro__ctx_tryref(goro_ctx *c)
{
    return ctx_tryref(c);
}

void goro__ctx_signaled(goro_ctx *c)
{
    cancel_tree(c, ECANCELED, false);
    ctx_unref(c);
}

goro_ctx *goro_ctx_with_signals(goro_ctx *parent, int sig, ...)
{
    uint64_t mask;
    goro_ctx *c;
    va_list ap;
    int e;

    va_start(ap, sig);
    e = goro__signal_mask(&mask, sig, ap);
    va_end(ap);
    if (e) {
        errno = e;
        return NULL;
    }
    c = goro_ctx_with_cancel(parent);
    if (!c)
        return NULL;
    e = goro__signal_watch_ctx(c, mask);
    if (e) {
        goro_ctx_release(c);
        errno = e;
        return NULL;
    }
    return c;
}
