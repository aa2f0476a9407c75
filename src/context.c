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
 * reads), children list, and the list links of its children (sib; a
 * context is in its canceler's list while sib is linked).  Two context locks are held at once only by a cancel, and
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
 * Every public entry checks c->life first (chan.h): a use after the last
 * release dies naming the context's creation site; the freed memory goes
 * through goro__life_free's quarantine.
 *
 * Causes (Go: WithCancelCause, Cause): a cancel ctx records a cause beside
 * its err, written under its lock before err's release store, so a reader
 * that sees err sees the cause.  A cancel passes one (err, cause) pair down
 * the whole subtree, and a child of an ended parent inherits the pair, so
 * a derived context's cause is the one that ended it; with no cause given,
 * the cause is err.
 *
 * Without-cancel contexts (Go: WithoutCancel) are a third kind: like a
 * value ctx they forward value lookups to their parent, but canceler_of and
 * the deadline walk stop at them, so nothing above cancels what is below.
 *
 * After-funcs (Go: context.AfterFunc): the stop handle is a cancel ctx of
 * its own, a child of the context, with after_fn set; it is never handed
 * out as a goro_ctx.  Being a child, it is canceled with its parent by the
 * ordinary walk, which then starts after_fn in a goroutine of its own.
 * after_state is the once of Go's afterFuncCtx: the first of that start
 * and goro_ctx_after_func_stop to move it from ARMED wins.  While armed in
 * a canceler's list the handle holds a second reference of its own (the
 * "registration"), dropped by the winner, so freeing the handle before the
 * context ends does not lose the call: the handle lives on, in the list,
 * until fn is started.  Without memory for the goroutine, the start is
 * retried from the handle's (otherwise unused) timer a millisecond later,
 * the registration reference moving to that timer.
 *
 * Signals: a signal context is a cancel ctx registered with signal.c,
 * whose watcher thread cancels it when one of its signals arrives; the
 * context unregisters before it is freed.
 */
#include "chan.h"
#include "sanitizer.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum ctx_kind { CTX_BACKGROUND, CTX_CANCEL, CTX_VALUE, CTX_WITHOUT_CANCEL };

/* after_state: the first to leave ARMED starts fn (cancel) or stops it. */
enum { AFTER_ARMED, AFTER_STARTED, AFTER_STOPPED };

struct goro_ctx {
    goro__life life;            /* first: see chan.h */
    _Atomic size_t refs;
    enum ctx_kind kind;
    goro_ctx *parent;           /* holds a reference; NULL for background */

    /* cancel ctx */
    goro__lock lock;            /* lock order: docs/internals.md, "Lock order" */
    goro_chan *done;
    _Atomic int err;
    goro__list children;        /* of children's sib; protected by lock */
    goro_ctx *canceler;         /* whose children list we joined, or NULL */
    goro__list sib;             /* on canceler->children; protected by
                                   canceler->lock; unlinked: not in it */
    goro_ctx *work_next;        /* the ended list of the cancel that ended it */
    goro__list *cursor;         /* next child to visit; lock held by that cancel */
    bool has_deadline;
    int64_t deadline;
    goro__timer timer;

    /* value ctx */
    const void *key;
    void *value;

    /* cancel ctx: the cause, written under lock before err (see above) */
    _Atomic int cause;

    /* after-func handle (a cancel ctx): fn and arg are set before it joins
     * a list and never change; after_state is the once. */
    void (*after_fn)(void *);
    void *after_arg;
    _Atomic int after_state;
};

static goro_ctx background = {
    .life = GORO_LIFE_INIT("context", NULL, 0),
    .kind = CTX_BACKGROUND,
};

/* The lifetime check of every public entry; NULL is background. */
static inline void check(goro_ctx *c)
{
    if (c)
        goro__life_check(&c->life);
}

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
        goro__life_free(c, sizeof *c);
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
    check(c);
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
    goro__list_unlink(&c->sib); /* a no-op when no longer in the list */
    goro__lock_release(&p->lock);
}

static void after_start(goro_ctx *c);

/* Ends c (its lock held, its err still 0): cause and err, then done
 * closes. */
static void end_one(goro_ctx *c, int err, int cause)
{
    goro__hb_release(c);
    atomic_store_explicit(&c->cause, cause ? cause : err, memory_order_relaxed);
    atomic_store_explicit(&c->err, err, memory_order_release);
    goro__chan_close(c->done); /* whoever cancels, in a bubble or not */
}

/* Cancels root and its subtree with err and cause (0: the cause is err).
 * skip_timer: called from root's own timer callback, whose timer must not
 * be deleted from inside it.
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
static void cancel_tree_cause(goro_ctx *root, int err, int cause, bool skip_timer)
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
    end_one(root, err, cause);
    root->cursor = root->children.next;
    root->work_next = NULL;
    ended = root;
    c = root;
    while (c) {
        if (c->cursor != &c->children) {
            goro_ctx *ch = goro__container_of(c->cursor, goro_ctx, sib);
            /* c's lock is held: its children list cannot change. */
            c->cursor = c->cursor->next;
            goro__lock_acquire(&ch->lock);
            if (atomic_load_explicit(&ch->err, memory_order_relaxed) == 0 && ctx_tryref(ch)) {
                end_one(ch, err, cause);
                ch->cursor = ch->children.next;
                ch->work_next = ended; /* ours alone: we set its err */
                ended = ch;
                c = ch; /* descend, keeping ch's lock */
            } else {
                goro__lock_release(&ch->lock);
            }
            continue;
        }
        /* Every child of c has ended: they leave its list for good. */
        while (goro__list_pop_front(&c->children))
            ;
        goro_ctx *up = c == root ? NULL : c->canceler; /* where we came from */
        goro__lock_release(&c->lock);
        c = up;
    }
    /* No lock held now.  The root was retained at the start, every other
     * ended node by ctx_tryref. */
    for (c = ended; c; c = c->work_next) {
        if (c != root || !skip_timer)
            goro__timer_del(&c->timer);
        if (c->after_fn)
            after_start(c); /* our reference keeps c alive */
    }
    detach(root); /* while our reference keeps it alive */
    while (ended) {
        c = ended;
        ended = c->work_next;
        ctx_unref(c);
    }
}

static void cancel_tree(goro_ctx *root, int err, bool skip_timer)
{
    cancel_tree_cause(root, err, 0, skip_timer);
}

void goro_ctx_cancel(goro_ctx *c)
{
    check(c);
    if (c)
        cancel_tree(c, ECANCELED, false);
}

void goro_ctx_release(goro_ctx *c)
{
    if (!c)
        return;
    goro__life_check_release(&c->life);
    if (c->kind == CTX_BACKGROUND)
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
    int err, cause = 0;

    if (!p)
        return;
    goro__lock_acquire(&p->lock);
    err = atomic_load_explicit(&p->err, memory_order_relaxed);
    if (err)
        cause = atomic_load_explicit(&p->cause, memory_order_relaxed);
    if (!err) {
        c->canceler = p;
        goro__list_push_front(&p->children, &c->sib);
    }
    goro__lock_release(&p->lock);
    if (err) {
        goro__hb_acquire(p);
        cancel_tree_cause(c, err, cause, false);
    }
}

/* ---- construction ------------------------------------------------------- */

static goro_ctx *ctx_new(goro_ctx *parent, enum ctx_kind kind, const char *file, int line)
{
    goro_ctx *c;

    goro__note_thread();
    check(parent);
    c = goro__calloc(1, sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->life = (goro__life)GORO_LIFE_INIT("context", file, line);
    atomic_init(&c->refs, 1);
    c->kind = kind;
    c->lock = (goro__lock)GORO_LOCK_INIT;
    goro__list_init(&c->children);
    goro__list_init(&c->sib);
    if (kind == CTX_CANCEL) {
        c->done = goro_chan_make_at(0, 0, file, line);
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

goro_ctx *goro_ctx_with_cancel_at(goro_ctx *parent, const char *file, int line)
{
    goro_ctx *c = ctx_new(parent, CTX_CANCEL, file, line);
    if (c)
        propagate(c);
    return c;
}

static void deadline_fire(goro__timer *t)
{
    goro_ctx *c = (goro_ctx *)((char *)t - offsetof(goro_ctx, timer));
    cancel_tree(c, ETIMEDOUT, true);
}

goro_ctx *goro_ctx_with_deadline_at(goro_ctx *parent, int64_t when, const char *file, int line)
{
    int64_t pd;
    goro_ctx *c;

    /* A child's deadline never exceeds its parent's: if the parent ends
     * first, a plain cancel ctx behaves the same. */
    if (goro_ctx_deadline(parent, &pd) && pd <= when)
        return goro_ctx_with_cancel_at(parent, file, line);
    c = ctx_new(parent, CTX_CANCEL, file, line);
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

goro_ctx *goro_ctx_with_timeout_at(goro_ctx *parent, int64_t ns, const char *file, int line)
{
    return goro_ctx_with_deadline_at(parent, goro__deadline_after(ns), file, line);
}

goro_ctx *goro_ctx_with_value_at(goro_ctx *parent, const void *key, void *value, const char *file,
                                 int line)
{
    goro_ctx *c;

    if (!key) {
        errno = EINVAL;
        return NULL;
    }
    c = ctx_new(parent, CTX_VALUE, file, line);
    if (c) {
        c->key = key;
        c->value = value;
    }
    return c;
}

/* The exported symbols behind the constructor macros of goro.h. */
goro_ctx *(goro_ctx_with_cancel)(goro_ctx *parent)
{
    return goro_ctx_with_cancel_at(parent, NULL, 0);
}

goro_ctx *(goro_ctx_with_deadline)(goro_ctx *parent, int64_t when)
{
    return goro_ctx_with_deadline_at(parent, when, NULL, 0);
}

goro_ctx *(goro_ctx_with_timeout)(goro_ctx *parent, int64_t ns)
{
    return goro_ctx_with_timeout_at(parent, ns, NULL, 0);
}

goro_ctx *(goro_ctx_with_value)(goro_ctx *parent, const void *key, void *value)
{
    return goro_ctx_with_value_at(parent, key, value, NULL, 0);
}

/* ---- queries ------------------------------------------------------------ */

goro_chan *goro_ctx_done(goro_ctx *c)
{
    check(c);
    c = canceler_of(c);
    return c ? c->done : NULL;
}

int goro_ctx_err(goro_ctx *c)
{
    int err;

    check(c);
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
    check(c);
    for (; c && c->kind != CTX_WITHOUT_CANCEL; c = c->parent) {
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
    check(c);
    for (; c; c = c->parent)
        if (c->kind == CTX_VALUE && c->key == key)
            return c->value;
    return NULL;
}

/* ---- causes and without-cancel ------------------------------------------ */

goro_ctx *goro_ctx_with_cancel_cause(goro_ctx *parent)
{
    return goro_ctx_with_cancel_at(parent, NULL, 0);
}

int goro_ctx_cancel_cause(goro_ctx *c, int cause)
{
    if (!c || c->kind != CTX_CANCEL || cause < 0)
        return EINVAL;
    cancel_tree_cause(c, ECANCELED, cause, false);
    return 0;
}

int goro_ctx_cause(goro_ctx *c)
{
    int err;

    c = canceler_of(c);
    if (!c)
        return 0;
    err = atomic_load_explicit(&c->err, memory_order_acquire);
    if (!err)
        return 0;
    goro__hb_acquire(c);
    /* Written before err's release store, which our acquire load saw. */
    return atomic_load_explicit(&c->cause, memory_order_relaxed);
}

goro_ctx *goro_ctx_without_cancel(goro_ctx *parent)
{
    return ctx_new(parent, CTX_WITHOUT_CANCEL, NULL, 0);
}

/* ---- after-funcs --------------------------------------------------------- */

/* The handle is the internal context itself; struct goro_ctx_stop is never
 * defined, so nothing is ever read through that type. */
static goro_ctx *handle_ctx(goro_ctx_stop *h)
{
    return (goro_ctx *)h;
}

/* Starts c's fn in a goroutine, or arms the retry timer; takes over the
 * registration reference (dropped once the goroutine exists). */
static void after_spawn(goro_ctx *c)
{
    if (goro_go_at(NULL, c->after_fn, c->after_arg, "goro_ctx_after_func", NULL, 0, NULL) == 0) {
        /* Maybe the last reference when called from the retry timer's
         * callback: freeing c deletes that timer from inside its own
         * callback, which goro__timer_del allows. */
        ctx_unref(c);
        return;
    }
    c->timer.when = goro_now() + GORO_MILLISECOND;
    goro__hb_release(c); /* the retry may run on another thread */
    if (goro__timer_add(&c->timer) != 0)
        goro__throw("goro: out of memory starting a goro_ctx_after_func goroutine");
}

static void after_retry(goro__timer *t)
{
    goro_ctx *c = (goro_ctx *)((char *)t - offsetof(goro_ctx, timer));
    goro__hb_acquire(c); /* pairs with the release in after_spawn */
    after_spawn(c);
}

/* c was just canceled (by cancel_tree, which holds a reference): start fn
 * unless a stop came first.  Go: afterFuncCtx.cancel. */
static void after_start(goro_ctx *c)
{
    int armed = AFTER_ARMED;

    if (!atomic_compare_exchange_strong_explicit(&c->after_state, &armed, AFTER_STARTED,
                                                 memory_order_acq_rel, memory_order_acquire))
        return;
    goro__hb_acquire(c); /* pairs with the release in goro_ctx_after_func */
    c->timer.fn = after_retry;
    after_spawn(c);
}

goro_ctx_stop *goro_ctx_after_func(goro_ctx *ctx, void (*fn)(void *), void *arg)
{
    goro_ctx *c;

    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    c = ctx_new(ctx, CTX_CANCEL, NULL, 0);
    if (!c)
        return NULL;
    c->after_fn = fn;
    c->after_arg = arg;
    goro__hb_release(c); /* registering happens before fn: after_start */
    /* A context that can end gets the registration reference, dropped by
     * whoever leaves ARMED; one that never ends (background, below a
     * without-cancel) would only leak it: there, the handle's own
     * reference is the only one. */
    if (canceler_of(c->parent))
        atomic_store_explicit(&c->refs, 2, memory_order_relaxed);
    propagate(c); /* ctx already done: starts fn now */
    return (goro_ctx_stop *)c;
}

bool goro_ctx_after_func_stop(goro_ctx_stop *h)
{
    goro_ctx *c = handle_ctx(h);
    int armed = AFTER_ARMED;

    if (!c || !atomic_compare_exchange_strong_explicit(&c->after_state, &armed, AFTER_STOPPED,
                                                       memory_order_acq_rel,
                                                       memory_order_acquire))
        return false;
    cancel_tree(c, ECANCELED, false); /* leaves the parent's list */
    if (canceler_of(c->parent))
        ctx_unref(c); /* the registration reference; the caller's remains */
    return true;
}

void goro_ctx_after_func_free(goro_ctx_stop *h)
{
    /* Not a release: that would cancel, and so start fn. */
    if (h)
        ctx_unref(handle_ctx(h));
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

static goro_ctx *with_signals(const char *file, int line, goro_ctx *parent, int sig, va_list ap)
{
    uint64_t mask;
    goro_ctx *c;
    int e = goro__signal_mask(&mask, sig, ap);

    if (e) {
        errno = e;
        return NULL;
    }
    c = goro_ctx_with_cancel_at(parent, file, line);
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

goro_ctx *goro_ctx_with_signals_at(const char *file, int line, goro_ctx *parent, int sig, ...)
{
    va_list ap;
    va_start(ap, sig);
    goro_ctx *c = with_signals(file, line, parent, sig, ap);
    va_end(ap);
    return c;
}

/* The exported symbol behind the goro_ctx_with_signals() macro. */
goro_ctx *(goro_ctx_with_signals)(goro_ctx *parent, int sig, ...)
{
    va_list ap;
    va_start(ap, sig);
    goro_ctx *c = with_signals(NULL, 0, parent, sig, ap);
    va_end(ap);
    return c;
}
