/* test_context.c - cancellation trees, deadlines, values, background,
 * signal contexts, and the lifetimes behind them: a released child leaves
 * its parent's list (a long-lived parent does not accumulate children),
 * and canceling and releasing race safely from many goroutines.
 *
 * Derived from Go's context/context_test.go (TestWithCancel,
 * TestParentFinishesChild, TestChildFinishesFirst, TestDeadline,
 * TestTimeout, TestValues, TestCancelRemoves, TestSimultaneousCancels,
 * TestCause, TestCauseRace, TestWithoutCancel, TestAfterFunc*) and
 * os/signal's TestNotifyContext*.  Cancellation is synchronous in goro as
 * in Go: when goro_ctx_cancel returns, every descendant's done is closed,
 * so those checks need no waiting.  Memory bounds read RSS from
 * /proc/self/statm; under ASan, whose quarantine keeps freed memory
 * resident, use-after-free and LeakSanitizer are the check instead.
 */
#define _GNU_SOURCE
#include "common.h"

#include <signal.h>

#if GT_ASAN
#include <sanitizer/lsan_interface.h>
#endif

/* Every test of the suite starts with the runtime running, and with the
 * test's thread known to the deadlock detector (it has blocked in goro
 * once: see test_sync.c); the context_cold suite makes its calls before
 * anything started the runtime. */
static void start_runtime(void)
{
    goro_maxprocs(0);
    GORO_SELECT(goro_case_timeout(GORO_MILLISECOND)); /* blocks once */
}

TestSuite(context, .init = start_runtime);

/* ---- helpers ------------------------------------------------------------ */

static goro_ctx *mk_cancel(goro_ctx *parent)
{
    goro_ctx *c = goro_ctx_with_cancel(parent);
    cr_assert_not_null(c, "goro_ctx_with_cancel: errno %d", errno);
    return c;
}

/* Whether ctx's done channel is closed (never blocks). */
static bool is_done(goro_ctx *c)
{
    goro_chan *d = goro_ctx_done(c);
    return d && goro_chan_try_recv(d, NULL) == EPIPE;
}

/* Waits (bounded by timeout_ns) for ctx's done; returns whether it closed. */
static bool wait_done(goro_ctx *c, int64_t timeout_ns)
{
    return GORO_SELECT(goro_case_recv(goro_ctx_done(c), NULL), goro_case_timeout(timeout_ns)) == 0;
}

/* Under ASan, asserts that LeakSanitizer finds nothing unreachable now.
 * (A leak report at a worker's exit would not fail the test: Criterion
 * ignores the worker's exit status once the test has passed.) */
static void assert_no_leaks(void)
{
#if GT_ASAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks (report above)");
#endif
}

/* ---- background ---------------------------------------------------------- */

Test(context, background, .timeout = GT_TIMEOUT(10))
{
    goro_ctx *bg = goro_ctx_background();
    int64_t when = 123;
    static int key;

    cr_assert_not_null(bg);
    cr_assert_eq(goro_ctx_background(), bg);
    cr_assert_null(goro_ctx_done(bg));
    cr_assert_eq(goro_ctx_err(bg), 0);
    cr_assert(!goro_ctx_deadline(bg, &when));
    cr_assert_eq(when, 123, "deadline wrote *when without a deadline");
    cr_assert_null(goro_ctx_value(bg, &key));
    cr_assert_eq(goro_ctx_retain(bg), bg);
    goro_ctx_release(bg); /* no-ops */
    goro_ctx_cancel(bg);
    goro_ctx_cancel(NULL);
    goro_ctx_release(NULL);
    cr_assert_eq(goro_ctx_err(bg), 0, "background was canceled");

    /* Its done case is never ready: a select with a timeout times out. */
    int64_t t0 = goro_now();
    int r = GORO_SELECT(goro_case_recv(goro_ctx_done(bg), NULL),
                        goro_case_timeout(50 * GORO_MILLISECOND));
    cr_assert_eq(r, 1, "select chose %d", r);
    cr_assert_geq(goro_now() - t0, 50 * GORO_MILLISECOND);
    gt_quiesce();
}

/* The same select as the first goro call of a process: a program whose
 * main begins by waiting on a context with a timeout.  Nothing has started
 * the runtime, and with it the threads that run timers, so the timeout
 * case must start it (as goro_sleep and the timer constructors do). */
static void *watchdog(void *arg)
{
    (void)arg;
    sleep((unsigned)(2 * gt_scale()));
    fprintf(stderr, "select with a 50 ms timeout still blocked after %.0f s\n", 2 * gt_scale());
    abort();
}

Test(context_cold, background_select_timeout_first_call, .timeout = GT_TIMEOUT(10))
{
    pthread_t wd;
    cr_assert_eq(pthread_create(&wd, NULL, watchdog, NULL), 0);
    pthread_detach(wd);
    int r = GORO_SELECT(goro_case_recv(goro_ctx_done(goro_ctx_background()), NULL),
                        goro_case_timeout(50 * GORO_MILLISECOND));
    cr_assert_eq(r, 1, "select chose %d", r);
}

/* ---- cancel -------------------------------------------------------------- */

Test(context, cancel_basic, .timeout = GT_TIMEOUT(10))
{
    goro_ctx *c = mk_cancel(NULL);

    cr_assert_not_null(goro_ctx_done(c));
    cr_assert_eq(goro_ctx_done(c), goro_ctx_done(c));
    cr_assert_eq(goro_ctx_err(c), 0, "live context has an error");
    cr_assert(!is_done(c));
    cr_assert(!goro_ctx_deadline(c, NULL));
    goro_ctx_cancel(c);
    cr_assert(is_done(c));
    cr_assert_eq(goro_ctx_err(c), ECANCELED);
    goro_ctx_cancel(c); /* idempotent */
    cr_assert_eq(goro_ctx_err(c), ECANCELED);

    /* retain keeps it alive past the creator's release, which cancels. */
    goro_ctx *d = mk_cancel(NULL);
    cr_assert_eq(goro_ctx_retain(d), d);
    goro_ctx_release(d);
    cr_assert_eq(goro_ctx_err(d), ECANCELED, "release cancels");
    goro_ctx_release(d);
    goro_ctx_release(c);
    gt_quiesce();
}

Test(context, parent_cancels_child_not_reverse, .timeout = GT_TIMEOUT(10))
{
    static int key;
    goro_ctx *parent = mk_cancel(NULL);
    goro_ctx *child = mk_cancel(parent);
    goro_ctx *val = goro_ctx_with_value(child, &key, NULL);
    goro_ctx *grand = mk_cancel(val); /* joins child's list through the value */
    goro_ctx *sibling = mk_cancel(parent);

    cr_assert_not_null(val);
    cr_assert_eq(goro_ctx_done(val), goro_ctx_done(child), "a value ctx forwards done");

    /* The child's cancel reaches its subtree only. */
    goro_ctx_cancel(child);
    cr_assert_eq(goro_ctx_err(child), ECANCELED);
    cr_assert_eq(goro_ctx_err(val), ECANCELED);
    cr_assert_eq(goro_ctx_err(grand), ECANCELED);
    cr_assert(is_done(grand));
    cr_assert_eq(goro_ctx_err(parent), 0, "child cancel reached the parent");
    cr_assert_eq(goro_ctx_err(sibling), 0, "child cancel reached a sibling");
    cr_assert(!is_done(parent));

    /* The parent's reaches everything. */
    goro_ctx_cancel(parent);
    cr_assert_eq(goro_ctx_err(sibling), ECANCELED);
    cr_assert(is_done(sibling));

    /* A child of a canceled parent starts canceled, with its error. */
    goro_ctx *late = mk_cancel(parent);
    cr_assert_eq(goro_ctx_err(late), ECANCELED);
    cr_assert(is_done(late));

    goro_ctx_release(late);
    goro_ctx_release(sibling);
    goro_ctx_release(grand);
    goro_ctx_release(val);
    goro_ctx_release(child);
    goro_ctx_release(parent);
    gt_quiesce();
}

/* Goroutines blocked on done channels all wake on cancel. */
struct waiter {
    goro_ctx *ctx;
    goro_waitgroup *wg;
    _Atomic long *woke;
};

static void done_waiter(void *arg)
{
    struct waiter *w = arg;
    int e = goro_chan_recv(goro_ctx_done(w->ctx), NULL);
    gt_check(e == EPIPE, "recv on done: %d", e);
    gt_check(goro_ctx_err(w->ctx) == ECANCELED, "err %d", goro_ctx_err(w->ctx));
    atomic_fetch_add(w->woke, 1);
    goro_waitgroup_done(w->wg);
}

/* A wide tree: 100 children of the root, each with 100 children, and one
 * flat level of 10,000; goroutines wait on some leaves. */
Test(context, cancel_reaches_wide_tree, .timeout = GT_TIMEOUT(30))
{
    enum { FAN = 100, FLAT = 10000, WAITERS = 200 };
    static goro_ctx *mid[FAN], *leaf[FAN * FAN], *flat[FLAT];
    static struct waiter w[WAITERS];
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    _Atomic long woke = 0;
    goro_ctx *root = mk_cancel(NULL);

    for (int i = 0; i < FAN; i++) {
        mid[i] = mk_cancel(root);
        for (int j = 0; j < FAN; j++)
            leaf[i * FAN + j] = mk_cancel(mid[i]);
    }
    for (int i = 0; i < FLAT; i++)
        flat[i] = mk_cancel(root);
    goro_waitgroup_add(&wg, WAITERS);
    for (int i = 0; i < WAITERS; i++) {
        goro_ctx *c = i % 2 ? leaf[(i * 37) % (FAN * FAN)] : flat[(i * 53) % FLAT];
        w[i] = (struct waiter){c, &wg, &woke};
        gt_spawn(done_waiter, &w[i]);
    }
    goro_sleep(5 * GORO_MILLISECOND);
    cr_assert_eq(atomic_load(&woke), 0);

    goro_ctx_cancel(root);
    for (int i = 0; i < FAN; i++)
        cr_assert_eq(goro_ctx_err(mid[i]), ECANCELED);
    for (int i = 0; i < FAN * FAN; i++) {
        cr_assert_eq(goro_ctx_err(leaf[i]), ECANCELED, "leaf %d", i);
        cr_assert(is_done(leaf[i]), "leaf %d", i);
    }
    for (int i = 0; i < FLAT; i++) {
        cr_assert_eq(goro_ctx_err(flat[i]), ECANCELED, "flat %d", i);
        cr_assert(is_done(flat[i]), "flat %d", i);
    }
    goro_waitgroup_wait(&wg);
    cr_assert_eq(atomic_load(&woke), WAITERS);

    goro_ctx_release(root); /* the children keep it alive */
    for (int i = 0; i < FAN * FAN; i++)
        goro_ctx_release(leaf[i]);
    for (int i = 0; i < FAN; i++)
        goro_ctx_release(mid[i]);
    for (int i = 0; i < FLAT; i++)
        goro_ctx_release(flat[i]);
    gt_quiesce();
}

/* A chain 10,000 deep, built, canceled and freed inside a goroutine (on
 * its default stack): cancel from the middle stops there; cancel from
 * the root reaches the leaf; the last release frees the whole chain. */
enum { DEPTH = 10000 };
static goro_ctx *chain[DEPTH];

static void deep_chain(void *arg)
{
    goro_waitgroup *wg = arg;
    static int key;
    goro_ctx *leaf;

    chain[0] = goro_ctx_with_cancel(NULL);
    for (int i = 1; i < DEPTH; i++) {
        /* Every 100th link is a value context. */
        chain[i] = i % 100 ? goro_ctx_with_cancel(chain[i - 1])
                           : goro_ctx_with_value(chain[i - 1], &key, (void *)(intptr_t)i);
        if (!gt_check(chain[i], "link %d: errno %d", i, errno))
            goto out;
    }
    leaf = chain[DEPTH - 1];
    gt_check(goro_ctx_value(leaf, &key) == (void *)(intptr_t)(DEPTH - 100), "nearest value");

    goro_ctx_cancel(chain[DEPTH / 2 + 1]);
    gt_check(goro_ctx_err(leaf) == ECANCELED && is_done(leaf), "mid cancel missed the leaf");
    gt_check(goro_ctx_err(chain[DEPTH / 2 - 1]) == 0, "mid cancel went up");
    gt_check(goro_ctx_err(chain[0]) == 0, "mid cancel reached the root");

    goro_ctx_cancel(chain[0]);
    for (int i = 0; i < DEPTH; i++)
        if (!gt_check(goro_ctx_err(chain[i]) == ECANCELED, "link %d not canceled", i))
            break;

    /* Root first: each child keeps its parent, so the leaf's release
     * frees all 10,000. */
    for (int i = 0; i < DEPTH; i++)
        goro_ctx_release(chain[i]);
out:
    goro_waitgroup_done(wg);
}

Test(context, cancel_reaches_deep_chain, .timeout = GT_TIMEOUT(30))
{
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_waitgroup_add(&wg, 1);
    gt_spawn(deep_chain, &wg);
    goro_waitgroup_wait(&wg);
    gt_quiesce();
}

/* ---- deadlines ----------------------------------------------------------- */

/* Go's cancelCtx.cancel holds the parent's lock while it cancels the
 * children, so a second cancel of the same context returns only once the
 * whole subtree has ended.  Here one goroutine cancels a wide, two-level
 * tree; as soon as the root's done closes, the test cancels the root too
 * and then expects every descendant ended, across a few rounds. */
struct canceler_arg {
    goro_ctx *ctx;
};

static void cancel_it(void *arg)
{
    goro_ctx_cancel(((struct canceler_arg *)arg)->ctx);
}

Test(context, second_cancel_waits_for_subtree, .timeout = GT_TIMEOUT(60))
{
    enum { MID = 40, LEAF = 500, ROUNDS = 4 };
    static goro_ctx *mid[MID], *leaf[MID * LEAF];

    for (int r = 0; r < ROUNDS; r++) {
        goro_ctx *root = mk_cancel(NULL);
        struct canceler_arg a = {root};
        long live = 0;

        for (int i = 0; i < MID; i++) {
            mid[i] = mk_cancel(root);
            for (int j = 0; j < LEAF; j++)
                leaf[i * LEAF + j] = mk_cancel(mid[i]);
        }
        gt_spawn(cancel_it, &a);
        cr_assert(wait_done(root, 10 * GORO_SECOND));
        goro_ctx_cancel(root); /* ended already: must wait for the first */
        for (int i = 0; i < MID * LEAF; i++)
            live += goro_ctx_err(leaf[i]) == 0;
        for (int i = 0; i < MID; i++)
            live += goro_ctx_err(mid[i]) == 0;
        cr_assert_eq(live, 0, "round %d: %ld descendants still live after a second cancel",
                     r, live);
        for (int i = 0; i < MID * LEAF; i++)
            goro_ctx_release(leaf[i]);
        for (int i = 0; i < MID; i++)
            goro_ctx_release(mid[i]);
        goro_ctx_release(root);
    }
}

Test(context, timeout_fires_near_deadline, .timeout = GT_TIMEOUT(20))
{
    const int64_t d = gt_ms(50); /* stretched where everything is slow (Valgrind) */
    int64_t t0 = goro_now(), when = 0;
    goro_ctx *c = goro_ctx_with_timeout(NULL, d);

    cr_assert_not_null(c);
    cr_assert(goro_ctx_deadline(c, &when));
    cr_assert_geq(when, t0 + d);
    cr_assert_leq(when, goro_now() + d);
    cr_assert_eq(goro_ctx_err(c), 0);

    cr_assert(wait_done(c, gt_ms(5000)), "deadline never fired");
    int64_t at = goro_now();
    cr_assert_eq(goro_ctx_err(c), ETIMEDOUT);
    cr_assert_geq(at, when, "fired %.3f ms early", (double)(when - at) / GORO_MILLISECOND);
    cr_assert_lt(at - when, gt_ms(100), "fired %.1f ms late", (double)(at - when) / GORO_MILLISECOND);

    /* Canceling after the deadline does not change the error. */
    goro_ctx_cancel(c);
    cr_assert_eq(goro_ctx_err(c), ETIMEDOUT);
    goro_ctx_release(c);
    gt_quiesce();
}

Test(context, deadline_past_and_far, .timeout = GT_TIMEOUT(10))
{
    goro_ctx *past = goro_ctx_with_deadline(NULL, goro_now() - GORO_SECOND);
    goro_ctx *zero = goro_ctx_with_timeout(NULL, 0);
    goro_ctx *far = goro_ctx_with_timeout(NULL, INT64_MAX); /* saturates */
    int64_t when;

    cr_assert(past && zero && far);
    cr_assert_eq(goro_ctx_err(past), ETIMEDOUT);
    cr_assert(is_done(past));
    cr_assert_eq(goro_ctx_err(zero), ETIMEDOUT);
    cr_assert_eq(goro_ctx_err(far), 0);
    cr_assert(goro_ctx_deadline(far, &when));
    cr_assert_eq(when, INT64_MAX);
    goro_ctx_cancel(far);
    cr_assert_eq(goro_ctx_err(far), ECANCELED, "cancel before the deadline");
    goro_ctx_release(past);
    goro_ctx_release(zero);
    goro_ctx_release(far);
    gt_quiesce();
}

Test(context, child_deadline_never_exceeds_parent, .timeout = GT_TIMEOUT(10))
{
    static int key;
    int64_t pd, d;
    goro_ctx *parent = goro_ctx_with_timeout(NULL, GORO_SECOND);
    cr_assert_not_null(parent);
    cr_assert(goro_ctx_deadline(parent, &pd));

    goro_ctx *later = goro_ctx_with_timeout(parent, 10 * GORO_SECOND);
    cr_assert(goro_ctx_deadline(later, &d));
    cr_assert_eq(d, pd, "child deadline %lld past the parent's %lld", (long long)d, (long long)pd);

    goro_ctx *abs_later = goro_ctx_with_deadline(parent, pd + 1);
    cr_assert(goro_ctx_deadline(abs_later, &d));
    cr_assert_eq(d, pd);

    goro_ctx *earlier = goro_ctx_with_deadline(parent, pd - 500 * GORO_MILLISECOND);
    cr_assert(goro_ctx_deadline(earlier, &d));
    cr_assert_eq(d, pd - 500 * GORO_MILLISECOND, "an earlier child deadline is kept");

    goro_ctx *val = goro_ctx_with_value(parent, &key, NULL);
    goro_ctx *plain = mk_cancel(val);
    cr_assert(goro_ctx_deadline(val, &d) && d == pd, "value ctx inherits the deadline");
    cr_assert(goro_ctx_deadline(plain, &d) && d == pd, "cancel ctx inherits the deadline");
    goro_ctx *under = goro_ctx_with_timeout(plain, GORO_HOUR);
    cr_assert(goro_ctx_deadline(under, &d) && d == pd, "grandchild capped by the grandparent");

    cr_assert(goro_ctx_deadline(earlier, NULL), "NULL when is allowed");
    goro_ctx_release(under);
    goro_ctx_release(plain);
    goro_ctx_release(val);
    goro_ctx_release(earlier);
    goro_ctx_release(abs_later);
    goro_ctx_release(later);
    goro_ctx_release(parent);
    gt_quiesce();
}

/* A parent's timeout reaches its children with ETIMEDOUT; a child's
 * timeout does not touch the parent. */
Test(context, timeout_propagates_down_only, .timeout = GT_TIMEOUT(20))
{
    goro_ctx *parent = goro_ctx_with_timeout(NULL, 30 * GORO_MILLISECOND);
    goro_ctx *child = mk_cancel(parent);
    goro_ctx *other = mk_cancel(NULL);
    goro_ctx *short_child = goro_ctx_with_timeout(other, GORO_MILLISECOND);

    cr_assert(parent && short_child);
    cr_assert(wait_done(short_child, gt_ms(5000)));
    cr_assert_eq(goro_ctx_err(short_child), ETIMEDOUT);
    cr_assert_eq(goro_ctx_err(other), 0, "child timeout reached the parent");

    cr_assert(wait_done(child, gt_ms(5000)));
    cr_assert_eq(goro_ctx_err(child), ETIMEDOUT, "inherits the parent's error");
    cr_assert_eq(goro_ctx_err(parent), ETIMEDOUT);
    goro_ctx *late = mk_cancel(parent);
    cr_assert_eq(goro_ctx_err(late), ETIMEDOUT);

    goro_ctx_release(late);
    goro_ctx_release(short_child);
    goro_ctx_release(other);
    goro_ctx_release(child);
    goro_ctx_release(parent);
    gt_quiesce();
}

/* ---- values -------------------------------------------------------------- */

Test(context, values_resolve_through_chain, .timeout = GT_TIMEOUT(10))
{
    static int k1, k2, k3;
    int a = 1, b = 2, c = 3;

    goro_ctx *v1 = goro_ctx_with_value(NULL, &k1, &a);
    goro_ctx *cc = mk_cancel(v1);
    goro_ctx *v2 = goro_ctx_with_value(cc, &k2, &b);
    goro_ctx *v3 = goro_ctx_with_value(v2, &k1, &c); /* shadows k1 */
    goro_ctx *tc = goro_ctx_with_timeout(v3, GORO_HOUR);
    cr_assert(v1 && v2 && v3 && tc);

    cr_assert_eq(goro_ctx_value(v1, &k1), &a);
    cr_assert_eq(goro_ctx_value(cc, &k1), &a, "through a cancel ctx");
    cr_assert_eq(goro_ctx_value(v2, &k1), &a);
    cr_assert_eq(goro_ctx_value(v2, &k2), &b);
    cr_assert_eq(goro_ctx_value(v3, &k1), &c, "shadowed");
    cr_assert_eq(goro_ctx_value(tc, &k1), &c);
    cr_assert_eq(goro_ctx_value(tc, &k2), &b);
    cr_assert_null(goro_ctx_value(tc, &k3), "missing key");
    cr_assert_null(goro_ctx_value(v1, &k2), "set below, not above");
    cr_assert_null(goro_ctx_value(tc, NULL));

    /* A value ctx of background has no done channel and never ends. */
    cr_assert_null(goro_ctx_done(v1));
    cr_assert_eq(goro_ctx_err(v1), 0);
    cr_assert(!goro_ctx_deadline(v1, NULL));

    /* Keys compare by address, values may be NULL. */
    goro_ctx *vn = goro_ctx_with_value(tc, &k3, NULL);
    cr_assert_not_null(vn);
    cr_assert_null(goro_ctx_value(vn, &k3));

    gt_set_errno(0);
    cr_assert_null(goro_ctx_with_value(tc, NULL, &a), "NULL key");
    cr_assert_eq(gt_errno(), EINVAL);

    goro_ctx_release(vn);
    goro_ctx_release(tc);
    goro_ctx_release(v3);
    goro_ctx_release(v2);
    goro_ctx_release(cc);
    goro_ctx_release(v1);
    gt_quiesce();
}

/* ---- signals ------------------------------------------------------------- */

static volatile sig_atomic_t my_sigint, my_sigusr1;

static void count_sigint(int sig)
{
    (void)sig;
    my_sigint++;
}

static void count_sigusr1(int sig)
{
    (void)sig;
    my_sigusr1++;
}

Test(context, signals_cancel_and_restore, .timeout = GT_TIMEOUT(20))
{
    gt_install_handler(SIGINT, count_sigint);
    my_sigint = 0;

    goro_ctx *c = goro_ctx_with_signals(NULL, SIGINT, 0);
    cr_assert_not_null(c, "errno %d", errno);
    cr_assert_eq(goro_ctx_err(c), 0);
    cr_assert_neq(gt_handler_of(SIGINT), count_sigint, "SIGINT not taken over");

    raise(SIGINT);
    cr_assert(wait_done(c, gt_ms(5000)), "SIGINT did not cancel the context");
    cr_assert_eq(goro_ctx_err(c), ECANCELED);
    cr_assert_eq(my_sigint, 0, "the previous handler ran while the context lived");
    raise(SIGINT); /* still ours while c lives: swallowed */
    goro_sleep(10 * GORO_MILLISECOND);
    cr_assert_eq(my_sigint, 0);

    goro_ctx_release(c);
    cr_assert_eq(gt_handler_of(SIGINT), count_sigint, "previous handler not restored");
    raise(SIGINT);
    cr_assert_eq(my_sigint, 1, "previous handler not called after release");
    gt_quiesce();
}

/* Two contexts share SIGINT: the disposition comes back only when the
 * last one goes; a signal cancels only the contexts that asked for it. */
Test(context, signals_shared_and_selective, .timeout = GT_TIMEOUT(20))
{
    gt_install_handler(SIGINT, count_sigint);
    gt_install_handler(SIGUSR1, count_sigusr1);
    my_sigint = my_sigusr1 = 0;

    goro_ctx *parent = mk_cancel(NULL);
    goro_ctx *a = goro_ctx_with_signals(parent, SIGINT, 0);
    goro_ctx *b = goro_ctx_with_signals(NULL, SIGINT, SIGUSR1, 0);
    goro_ctx *a_child = mk_cancel(a);
    cr_assert(a && b);

    raise(SIGUSR1);
    cr_assert(wait_done(b, gt_ms(5000)), "SIGUSR1 did not cancel b");
    goro_sleep(10 * GORO_MILLISECOND);
    cr_assert_eq(goro_ctx_err(a), 0, "SIGUSR1 canceled a, which asked for SIGINT only");

    goro_ctx_release(b); /* SIGUSR1 restored, SIGINT still held by a */
    cr_assert_eq(gt_handler_of(SIGUSR1), count_sigusr1);
    cr_assert_neq(gt_handler_of(SIGINT), count_sigint);
    raise(SIGINT);
    cr_assert(wait_done(a_child, gt_ms(5000)), "SIGINT did not cancel a's child");
    cr_assert_eq(goro_ctx_err(a), ECANCELED);
    cr_assert_eq(goro_ctx_err(parent), 0, "a signal context's cancel went up");
    cr_assert_eq(my_sigint, 0);

    goro_ctx_release(a_child);
    goro_ctx_release(a);
    cr_assert_eq(gt_handler_of(SIGINT), count_sigint);
    raise(SIGINT);
    raise(SIGUSR1);
    cr_assert_eq(my_sigint, 1);
    cr_assert_eq(my_sigusr1, 1);

    /* A parent's cancel reaches a signal context too. */
    goro_ctx *s = goro_ctx_with_signals(parent, SIGUSR1, 0);
    cr_assert_not_null(s);
    goro_ctx_cancel(parent);
    cr_assert_eq(goro_ctx_err(s), ECANCELED);
    goro_ctx_release(s);
    cr_assert_eq(gt_handler_of(SIGUSR1), count_sigusr1);
    goro_ctx_release(parent);
    gt_quiesce();
}

Test(context, signals_bad_arguments, .timeout = GT_TIMEOUT(10))
{
    static const int bad[] = {SIGKILL, SIGSTOP, -1, 64, 1000};

    gt_set_errno(0);
    cr_assert_null(goro_ctx_with_signals(NULL, 0), "no signals");
    cr_assert_eq(gt_errno(), EINVAL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gt_set_errno(0);
        cr_assert_null(goro_ctx_with_signals(NULL, bad[i], 0), "signal %d", bad[i]);
        cr_assert_eq(gt_errno(), EINVAL, "signal %d", bad[i]);
        gt_set_errno(0);
        cr_assert_null(goro_ctx_with_signals(NULL, SIGUSR2, bad[i], 0), "signal %d second", bad[i]);
        cr_assert_eq(gt_errno(), EINVAL);
    }
    cr_assert_eq(gt_handler_of(SIGUSR2), SIG_DFL, "a failed call changed a disposition");
    gt_quiesce();
}

/* ---- lifetimes: release detaches ----------------------------------------- */

/* Creates and releases (optionally canceling first) n children of parent;
 * every 8th is a deadline child, so its timer is deleted too. */
static void churn(goro_ctx *parent, long n, bool cancel_first)
{
    static int key;
    for (long i = 0; i < n; i++) {
        goro_ctx *c;
        if (i % 8 == 7)
            c = goro_ctx_with_timeout(parent, GORO_HOUR);
        else if (i % 8 == 3)
            c = goro_ctx_with_value(parent, &key, NULL);
        else
            c = goro_ctx_with_cancel(parent);
        cr_assert_not_null(c, "child %ld: errno %d", i, errno);
        if (cancel_first)
            goro_ctx_cancel(c);
        goro_ctx_release(c);
    }
}

static void rss_bounded_churn(bool cancel_first)
{
    enum { N = 1000000 };
    goro_ctx *parent = mk_cancel(NULL);
    static int vkey;
    goro_ctx *vparent = goro_ctx_with_value(parent, &vkey, NULL);

    churn(parent, 10000, cancel_first); /* warm up the allocator */
    long before = gt_rss_bytes();
    churn(parent, N / 2, cancel_first);
    churn(vparent, N / 2, cancel_first);
    long after = gt_rss_bytes();
    if (!GT_ASAN) /* ASan's quarantine keeps up to 256 MB of freed memory */
        cr_assert_lt(after - before, 50L << 20, "RSS grew by %ld MB over %d children",
                     (after - before) >> 20, N);

    /* The parent still works: a new child sees its cancel. */
    goro_ctx *c = mk_cancel(vparent);
    int64_t t0 = goro_now();
    goro_ctx_cancel(parent);
    int64_t dt = goro_now() - t0;
    cr_assert_eq(goro_ctx_err(c), ECANCELED);
    cr_assert(is_done(c));
    /* With a million children left in its list, it would take long (and
     * touch freed memory: ASan says so). */
    cr_assert_lt(dt, gt_ms(50), "canceling the parent took %.1f ms", (double)dt / GORO_MILLISECOND);
    goro_ctx_release(c);
    goro_ctx_release(vparent);
    goro_ctx_release(parent);
    gt_quiesce();
    assert_no_leaks();
}

Test(context, release_detaches_from_parent, .timeout = GT_TIMEOUT(120))
{
    rss_bounded_churn(false);
}

Test(context, cancel_release_cycles, .timeout = GT_TIMEOUT(120))
{
    rss_bounded_churn(true);
}

/* ---- stress: cancel the parent while children come and go ---------------- */

struct stress {
    goro_ctx *parent;           /* borrowed: the test outlives the workers */
    _Atomic bool canceled;      /* set after goro_ctx_cancel(parent) returned */
    goro_waitgroup wg;
};

static void stress_worker(void *arg)
{
    struct stress *s = arg;
    static int key;
    goro_ctx *kept[16];
    int nkept = 0;
    uint64_t rnd = goro_id() * 0x9E3779B97F4A7C15ULL | 1;

    for (int i = 0; i < 64; i++) {
        goro_ctx *c, *g;
        switch (gt_rand(&rnd) % 5) {
        case 0: /* create, release */
            c = goro_ctx_with_cancel(s->parent);
            if (!gt_check(c, "with_cancel"))
                break;
            goro_ctx_release(c);
            break;
        case 1: /* a short timeout, maybe waited for */
            c = goro_ctx_with_timeout(s->parent, (int64_t)(gt_rand(&rnd) % 200) * GORO_MICROSECOND);
            if (!gt_check(c, "with_timeout"))
                break;
            if (i % 4 == 0)
                gt_check(wait_done(c, gt_ms(5000)), "timeout never fired");
            goro_ctx_release(c);
            break;
        case 2: /* a grandchild through a value, canceled from the middle */
            c = goro_ctx_with_value(s->parent, &key, s);
            if (!gt_check(c, "with_value"))
                break;
            g = goro_ctx_with_cancel(c);
            if (gt_check(g, "with_cancel")) {
                goro_ctx *gg = goro_ctx_with_cancel(g);
                goro_ctx_cancel(g);
                gt_check(gg && goro_ctx_err(gg) == ECANCELED, "grandchild not canceled");
                gt_check(goro_ctx_value(gg, &key) == s, "value");
                goro_ctx_release(gg);
                goro_ctx_release(g);
            }
            goro_ctx_release(c);
            break;
        case 3: /* keep it until the end */
            c = goro_ctx_with_cancel(s->parent);
            if (!gt_check(c, "with_cancel"))
                break;
            if (nkept < 16)
                kept[nkept++] = c;
            else
                goro_ctx_release(c);
            break;
        default:
            goro_yield();
            break;
        }
    }
    bool canceled = atomic_load(&s->canceled);
    for (int i = 0; i < nkept; i++) {
        if (canceled)
            gt_check(goro_ctx_err(kept[i]) == ECANCELED && is_done(kept[i]),
                     "a child outlived its parent's cancel");
        goro_ctx_release(kept[i]);
    }
    goro_waitgroup_done(&s->wg);
}

static void stress_canceler(void *arg)
{
    struct stress *s = arg;
    uint64_t rnd = goro_id() | 1;
    for (int n = (int)(gt_rand(&rnd) % 64); n > 0; n--)
        goro_yield();
    goro_ctx_cancel(s->parent);
    atomic_store(&s->canceled, true);
    goro_waitgroup_done(&s->wg);
}

static void *stress_thread(void *arg)
{
    stress_worker(arg);
    return NULL;
}

Test(context, stress_cancel_vs_release, .timeout = GT_TIMEOUT(120))
{
    enum { ROUNDS = 200, WORKERS = 8 };
    for (int r = 0; r < ROUNDS; r++) {
        struct stress s = {.parent = mk_cancel(NULL), .wg = GORO_WAITGROUP_INIT};
        pthread_t th;

        goro_waitgroup_add(&s.wg, WORKERS + 2);
        for (int i = 0; i < WORKERS; i++)
            gt_spawn(stress_worker, &s);
        gt_spawn(stress_canceler, &s);
        cr_assert_eq(pthread_create(&th, NULL, stress_thread, &s), 0);
        pthread_join(th, NULL); /* first: see test_sync.c on plain threads */
        goro_waitgroup_wait(&s.wg);
        cr_assert_eq(goro_ctx_err(s.parent), ECANCELED);
        goro_ctx_release(s.parent);
        gt_assert_no_failures();
    }
    gt_quiesce();
    assert_no_leaks();
}

/* ---- causes (goro_ctx_cancel_cause, goro_ctx_cause) ------------------------ */

/* Derived from Go's TestCause, TestCauseRace, TestWithCancelCanceledParent
 * and TestWithCancelSimultaneouslyCanceledParent.  Causes are errno
 * values; Go's "parentCause" is EPIPE here, "childCause" ECONNRESET,
 * "finishedEarly" EOVERFLOW. */
#define P_CAUSE EPIPE
#define C_CAUSE ECONNRESET
#define F_CAUSE EOVERFLOW

static void check_cause(const char *name, goro_ctx *c, int err, int cause)
{
    cr_expect_eq(goro_ctx_err(c), err, "%s: err %d, want %d", name, goro_ctx_err(c), err);
    cr_expect_eq(goro_ctx_cause(c), cause, "%s: cause %d, want %d", name, goro_ctx_cause(c),
                 cause);
}

static goro_ctx *mk_cause(goro_ctx *parent)
{
    goro_ctx *c = goro_ctx_with_cancel_cause(parent);
    cr_assert_not_null(c, "goro_ctx_with_cancel_cause: errno %d", errno);
    return c;
}

Test(context, cause_table, .timeout = GT_TIMEOUT(10))
{
    goro_ctx *p, *c, *v;

    check_cause("background", goro_ctx_background(), 0, 0);
    check_cause("NULL", NULL, 0, 0);

    c = mk_cancel(NULL);
    check_cause("live", c, 0, 0);
    goro_ctx_cancel(c);
    check_cause("with_cancel", c, ECANCELED, ECANCELED);
    goro_ctx_release(c);

    c = mk_cause(NULL);
    cr_assert_eq(goro_ctx_cancel_cause(c, P_CAUSE), 0);
    check_cause("with_cancel_cause", c, ECANCELED, P_CAUSE);
    cr_assert_eq(goro_ctx_cancel_cause(c, C_CAUSE), 0, "second cancel");
    check_cause("first cause stays", c, ECANCELED, P_CAUSE);
    goro_ctx_release(c);

    c = mk_cause(NULL);
    cr_assert_eq(goro_ctx_cancel_cause(c, 0), 0);
    check_cause("cause 0", c, ECANCELED, ECANCELED);
    goro_ctx_release(c);

    p = mk_cause(NULL);
    c = mk_cause(p);
    goro_ctx_cancel_cause(p, P_CAUSE);
    goro_ctx_cancel_cause(c, C_CAUSE);
    check_cause("parent cause before child", c, ECANCELED, P_CAUSE);
    goro_ctx_release(c);
    goro_ctx_release(p);

    p = mk_cause(NULL);
    c = mk_cause(p);
    goro_ctx_cancel_cause(c, C_CAUSE);
    goro_ctx_cancel_cause(p, P_CAUSE);
    check_cause("parent cause after child", c, ECANCELED, C_CAUSE);
    check_cause("parent after child: parent", p, ECANCELED, P_CAUSE);
    goro_ctx_release(c);
    goro_ctx_release(p);

    p = mk_cause(NULL);
    c = mk_cancel(p);
    goro_ctx_cancel_cause(p, P_CAUSE);
    goro_ctx_cancel(c);
    check_cause("parent cause before nil", c, ECANCELED, P_CAUSE);
    goro_ctx_release(c);
    goro_ctx_release(p);

    p = mk_cause(NULL);
    c = mk_cancel(p);
    goro_ctx_cancel(c);
    goro_ctx_cancel_cause(p, P_CAUSE);
    check_cause("parent cause after nil", c, ECANCELED, ECANCELED);
    goro_ctx_release(c);
    goro_ctx_release(p);

    p = mk_cancel(NULL);
    c = mk_cause(p);
    goro_ctx_cancel(p);
    goro_ctx_cancel_cause(c, C_CAUSE);
    check_cause("child cause after nil", c, ECANCELED, ECANCELED);
    goro_ctx_release(c);
    goro_ctx_release(p);

    p = mk_cancel(NULL);
    c = mk_cause(p);
    goro_ctx_cancel_cause(c, C_CAUSE);
    goro_ctx_cancel(p);
    check_cause("child cause before nil", c, ECANCELED, C_CAUSE);
    goro_ctx_release(c);
    goro_ctx_release(p);

    c = goro_ctx_with_timeout(NULL, 0);
    cr_assert_not_null(c);
    check_cause("timeout", c, ETIMEDOUT, ETIMEDOUT);
    goro_ctx_cancel_cause(c, F_CAUSE);
    check_cause("timeout, then a cause", c, ETIMEDOUT, ETIMEDOUT);
    goro_ctx_release(c);

    c = goro_ctx_with_timeout(NULL, GORO_HOUR);
    cr_assert_not_null(c);
    goro_ctx_cancel(c);
    check_cause("timeout canceled", c, ECANCELED, ECANCELED);
    goro_ctx_release(c);

    p = mk_cause(NULL);
    c = goro_ctx_with_timeout(p, 0);
    cr_assert_not_null(c);
    goro_ctx_cancel_cause(p, F_CAUSE);
    check_cause("timeout stacked", c, ETIMEDOUT, ETIMEDOUT);
    goro_ctx_release(c);
    goro_ctx_release(p);

    p = mk_cause(NULL);
    c = goro_ctx_with_timeout(p, GORO_HOUR);
    cr_assert_not_null(c);
    goro_ctx_cancel_cause(p, F_CAUSE);
    check_cause("timeout stacked canceled", c, ECANCELED, F_CAUSE);
    goro_ctx_release(c);
    goro_ctx_release(p);

    /* A value context answers for the canceler above it. */
    static int key;
    p = mk_cause(NULL);
    v = goro_ctx_with_value(p, &key, NULL);
    cr_assert_not_null(v);
    goro_ctx_cancel_cause(p, P_CAUSE);
    check_cause("value over cause", v, ECANCELED, P_CAUSE);

    /* Go's TestWithCancelCanceledParent: a child made after the parent
     * ended inherits err and cause, through a value context too. */
    c = mk_cancel(v);
    cr_assert(is_done(c), "child of an ended parent not done at once");
    check_cause("child of canceled parent", c, ECANCELED, P_CAUSE);
    goro_ctx_release(c);
    goro_ctx_release(v);
    goro_ctx_release(p);

    c = goro_ctx_without_cancel(NULL);
    cr_assert_not_null(c);
    check_cause("without_cancel", c, 0, 0);
    goro_ctx_release(c);

    p = mk_cause(NULL);
    c = goro_ctx_without_cancel(p);
    cr_assert_not_null(c);
    goro_ctx_cancel_cause(p, F_CAUSE);
    check_cause("without_cancel canceled", c, 0, 0);
    goro_ctx_release(c);
    goro_ctx_release(p);

    p = goro_ctx_with_timeout(NULL, 0);
    cr_assert_not_null(p);
    c = goro_ctx_without_cancel(p);
    cr_assert_not_null(c);
    check_cause("without_cancel timeout", c, 0, 0);
    goro_ctx_release(c);
    goro_ctx_release(p);
    gt_quiesce();
}

Test(context, cancel_cause_bad_input, .timeout = GT_TIMEOUT(10))
{
    static int key;
    goro_ctx *c = mk_cause(NULL);
    goro_ctx *v = goro_ctx_with_value(c, &key, NULL);
    goro_ctx *w = goro_ctx_without_cancel(c);
    cr_assert(v && w);

    cr_assert_eq(goro_ctx_cancel_cause(NULL, P_CAUSE), EINVAL);
    cr_assert_eq(goro_ctx_cancel_cause(goro_ctx_background(), P_CAUSE), EINVAL);
    cr_assert_eq(goro_ctx_cancel_cause(v, P_CAUSE), EINVAL, "a value context");
    cr_assert_eq(goro_ctx_cancel_cause(w, P_CAUSE), EINVAL, "a without-cancel context");
    cr_assert_eq(goro_ctx_cancel_cause(c, -1), EINVAL, "a negative cause");
    cr_assert_eq(goro_ctx_err(c), 0, "a refused cancel canceled");
    /* Every cancelable kind takes a cause. */
    goro_ctx *t = goro_ctx_with_timeout(c, GORO_HOUR);
    cr_assert_not_null(t);
    cr_assert_eq(goro_ctx_cancel_cause(t, C_CAUSE), 0);
    check_cause("timeout ctx with a cause", t, ECANCELED, C_CAUSE);
    cr_assert_eq(goro_ctx_err(c), 0, "a child's cancel reached its parent");
    goro_ctx_release(t);
    goro_ctx_release(w);
    goro_ctx_release(v);
    goro_ctx_release(c);
    gt_quiesce();
}

/* Go's TestCauseRace: poll the cause, not done, so that only the cause's
 * own synchronisation orders the read (TSan checks it). */
static void cancel_with_cause(void *arg)
{
    goro_ctx_cancel_cause(arg, P_CAUSE);
}

Test(context, cause_race, .timeout = GT_TIMEOUT(20))
{
    for (int i = 0; i < 100; i++) {
        goro_ctx *c = mk_cause(NULL);
        goro_ctx *child = mk_cancel(c);
        gt_spawn(cancel_with_cause, c);
        int cause;
        while ((cause = goro_ctx_cause(child)) == 0)
            goro_yield();
        cr_assert_eq(cause, P_CAUSE, "round %d", i);
        cr_assert_eq(goro_ctx_err(child), ECANCELED);
        gt_quiesce();
        goro_ctx_release(child);
        goro_ctx_release(c);
    }
    gt_quiesce();
}

/* Go's TestWithCancelSimultaneouslyCanceledParent. */
Test(context, cause_simultaneous_parent_cancel, .timeout = GT_TIMEOUT(20))
{
    for (int i = 0; i < 100; i++) {
        goro_ctx *p = mk_cause(NULL);
        gt_spawn(cancel_with_cause, p);
        goro_ctx *c = mk_cancel(p);
        cr_assert(wait_done(c, gt_ms(5000)));
        check_cause("simultaneous", c, ECANCELED, P_CAUSE);
        gt_quiesce();
        goro_ctx_release(c);
        goro_ctx_release(p);
    }
}

/* ---- without-cancel ---------------------------------------------------------- */

/* Go's TestWithoutCancel, and what derives from it. */
Test(context, without_cancel, .timeout = GT_TIMEOUT(10))
{
    static int key, val;
    int64_t when = 7;
    goro_ctx *p = goro_ctx_with_timeout(NULL, GORO_HOUR);
    cr_assert_not_null(p);
    goro_ctx *v = goro_ctx_with_value(p, &key, &val);
    cr_assert_not_null(v);
    goro_ctx *w = goro_ctx_without_cancel(v);
    cr_assert_not_null(w);
    goro_ctx_release(v); /* w holds v */

    cr_assert(!goro_ctx_deadline(w, &when), "without_cancel has its parent's deadline");
    cr_assert_eq(when, 7);
    cr_assert_null(goro_ctx_done(w));
    cr_assert_eq(goro_ctx_err(w), 0);
    cr_assert_eq(goro_ctx_value(w, &key), &val, "values do not pass through");

    /* Below it: a child ends by its own cancel, never by p's. */
    goro_ctx *c = mk_cancel(w);
    goro_ctx *d = goro_ctx_with_timeout(w, GORO_HOUR);
    cr_assert_not_null(d);
    goro_ctx_cancel(p);
    cr_assert(!is_done(c), "canceling above without_cancel reached below it");
    cr_assert_eq(goro_ctx_err(w), 0);
    cr_assert_eq(goro_ctx_value(c, &key), &val);
    goro_ctx_release(p); /* w keeps the chain alive */
    cr_assert_eq(goro_ctx_value(w, &key), &val);
    goro_ctx_cancel(c);
    cr_assert(is_done(c));
    cr_assert(!is_done(d));
    cr_assert(goro_ctx_deadline(d, NULL), "a child's own deadline");
    goro_ctx_release(d);
    goro_ctx_release(c);
    goro_ctx_release(w);
    /* Over background, and retain/release. */
    w = goro_ctx_without_cancel(NULL);
    cr_assert_not_null(w);
    cr_assert_eq(goro_ctx_retain(w), w);
    goro_ctx_release(w);
    goro_ctx_cancel(w); /* ignored */
    cr_assert_eq(goro_ctx_err(w), 0);
    goro_ctx_release(w);
    assert_no_leaks();
    gt_quiesce();
}

/* ---- after-funcs (goro_ctx_after_func) ---------------------------------------- */

/* Derived from Go's TestAfterFuncCalledAfterCancel, ...CalledAfterTimeout,
 * ...CalledImmediately, ...NotCalledAfterStop, ...CalledAsynchronously and
 * ...MultipleStopCalls. */

struct after_arg {
    goro_ctx *ctx;              /* borrowed: checked to have ended */
    goro_chan *c;               /* fn sends (blocking) its goroutine id here */
    _Atomic long calls;
};

static void after_fn(void *p)
{
    struct after_arg *a = p;
    uint64_t id = goro_id();
    atomic_fetch_add(&a->calls, 1);
    if (a->ctx)
        gt_check(goro_ctx_err(a->ctx) != 0, "fn started before ctx ended");
    if (a->c)
        goro_chan_send(a->c, &id);
}

static goro_ctx_stop *mk_after(goro_ctx *ctx, struct after_arg *a)
{
    goro_ctx_stop *h = goro_ctx_after_func(ctx, after_fn, a);
    cr_assert_not_null(h, "goro_ctx_after_func: errno %d", errno);
    return h;
}

/* Receives fn's goroutine id within limit. */
static bool after_called(struct after_arg *a, int64_t limit)
{
    uint64_t id = 0;
    int r = GORO_SELECT(goro_case_recv(a->c, &id), goro_case_timeout(limit));
    return r == 0 && id != 0;
}

Test(context, after_func_called_after_cancel, .timeout = GT_TIMEOUT(10))
{
    goro_ctx *c = mk_cancel(NULL);
    struct after_arg a = {.ctx = c, .c = goro_chan_make(sizeof(uint64_t), 0)};
    cr_assert_not_null(a.c);
    goro_ctx_stop *h = mk_after(c, &a);
    cr_assert(!after_called(&a, 20 * GORO_MILLISECOND), "fn called before ctx ended");
    goro_ctx_cancel(c);
    cr_assert(after_called(&a, gt_ms(5000)), "fn not called after cancel");
    cr_assert(!goro_ctx_after_func_stop(h), "stop after fn started returned true");
    goro_ctx_after_func_free(h);
    goro_ctx_release(c);
    gt_quiesce();
    cr_assert_eq(atomic_load(&a.calls), 1);
    goro_chan_release(a.c);
    assert_no_leaks();
}

Test(context, after_func_called_after_timeout, .timeout = GT_TIMEOUT(10))
{
    goro_ctx *c = goro_ctx_with_timeout(NULL, 20 * GORO_MILLISECOND);
    cr_assert_not_null(c);
    struct after_arg a = {.ctx = c, .c = goro_chan_make(sizeof(uint64_t), 0)};
    cr_assert_not_null(a.c);
    goro_ctx_stop *h = mk_after(c, &a);
    cr_assert(after_called(&a, gt_ms(5000)), "fn not called after the deadline");
    cr_assert_eq(goro_ctx_err(c), ETIMEDOUT);
    goro_ctx_after_func_free(h);
    goro_ctx_release(c);
    gt_quiesce();
    goro_chan_release(a.c);
}

Test(context, after_func_called_immediately, .timeout = GT_TIMEOUT(10))
{
    static int key;
    goro_ctx *c = mk_cancel(NULL);
    goro_ctx_cancel(c);
    goro_ctx *v = goro_ctx_with_value(c, &key, NULL); /* through a value ctx */
    cr_assert_not_null(v);
    struct after_arg a = {.ctx = v, .c = goro_chan_make(sizeof(uint64_t), 0)};
    cr_assert_not_null(a.c);
    goro_ctx_stop *h = mk_after(v, &a);
    cr_assert(after_called(&a, gt_ms(5000)), "fn not called for an ended context");
    cr_assert(!goro_ctx_after_func_stop(h));
    goro_ctx_after_func_free(h);
    goro_ctx_release(v);
    goro_ctx_release(c);
    gt_quiesce();
    goro_chan_release(a.c);
}

Test(context, after_func_not_called_after_stop, .timeout = GT_TIMEOUT(10))
{
    goro_ctx *c = mk_cancel(NULL);
    struct after_arg a = {.ctx = c, .c = goro_chan_make(sizeof(uint64_t), 0)};
    cr_assert_not_null(a.c);
    goro_ctx_stop *h = mk_after(c, &a);
    cr_assert(goro_ctx_after_func_stop(h), "stop before ctx ended returned false");
    goro_ctx_cancel(c);
    cr_assert(!after_called(&a, 50 * GORO_MILLISECOND), "fn called after stop");
    cr_assert(!goro_ctx_after_func_stop(h), "stop returned true twice");
    goro_ctx_after_func_free(h);
    goro_ctx_release(c);
    gt_quiesce();
    cr_assert_eq(atomic_load(&a.calls), 0);
    goro_chan_release(a.c);
    assert_no_leaks();
}

/* Canceling does not wait for fn: fn blocks in an unbuffered send that
 * only this goroutine, after its cancel returned, receives. */
Test(context, after_func_called_asynchronously, .timeout = GT_TIMEOUT(10))
{
    goro_ctx *c = mk_cancel(NULL);
    struct after_arg a = {.ctx = c, .c = goro_chan_make(sizeof(uint64_t), 0)};
    cr_assert_not_null(a.c);
    goro_ctx_stop *h = mk_after(c, &a);
    goro_ctx_cancel(c);
    cr_assert(after_called(&a, gt_ms(5000)));
    goro_ctx_after_func_free(h);
    goro_ctx_release(c);
    gt_quiesce();
    goro_chan_release(a.c);
}

/* Contexts that never end never call fn; stop then returns true. */
Test(context, after_func_never_ending_context, .timeout = GT_TIMEOUT(10))
{
    struct after_arg a = {0};
    goro_ctx_stop *h = mk_after(NULL, &a);
    goro_ctx_stop *hb = mk_after(goro_ctx_background(), &a);
    goro_ctx *p = mk_cancel(NULL);
    goro_ctx *w = goro_ctx_without_cancel(p);
    cr_assert_not_null(w);
    goro_ctx_stop *hw = mk_after(w, &a);
    goro_ctx_release(p); /* cancels p, not w */
    goro_ctx_release(w);
    goro_sleep(20 * GORO_MILLISECOND);
    cr_assert_eq(atomic_load(&a.calls), 0);
    cr_assert(goro_ctx_after_func_stop(h));
    cr_assert(goro_ctx_after_func_stop(hw));
    goro_ctx_after_func_free(h);
    goro_ctx_after_func_free(hw);
    goro_ctx_after_func_free(hb); /* never stopped: freed all the same */
    assert_no_leaks();
    gt_quiesce();
}

Test(context, after_func_bad_input, .timeout = GT_TIMEOUT(10))
{
    goro_ctx *c = mk_cancel(NULL);
    gt_set_errno(0);
    cr_assert_null(goro_ctx_after_func(c, NULL, NULL));
    cr_assert_eq(gt_errno(), EINVAL);
    cr_assert(!goro_ctx_after_func_stop(NULL));
    goro_ctx_after_func_free(NULL);
    goro_ctx_release(c);
    gt_quiesce();
}

/* The retain rule: the registration holds the context, so the caller may
 * drop its own reference (here a value context's, which does not cancel)
 * and free the handle at once; fn still runs when the context ends, and
 * everything is freed then (ASan: no use after free, no leak). */
Test(context, after_func_outlives_caller_references, .timeout = GT_TIMEOUT(10))
{
    static int key;
    goro_ctx *p = mk_cancel(NULL);
    goro_ctx *v = goro_ctx_with_value(p, &key, NULL);
    cr_assert_not_null(v);
    struct after_arg a = {.c = goro_chan_make(sizeof(uint64_t), 0)};
    cr_assert_not_null(a.c);
    goro_ctx_stop *h = mk_after(v, &a);
    goro_ctx_release(v);
    goro_ctx_after_func_free(h); /* not a stop: fn is still due */
    cr_assert(!after_called(&a, 20 * GORO_MILLISECOND), "freeing the handle called fn");
    goro_ctx_release(p); /* cancels */
    cr_assert(after_called(&a, gt_ms(5000)), "fn not called after its handle was freed");
    gt_quiesce();
    goro_chan_release(a.c);
    assert_no_leaks();
}

/* Stop racing with cancel from another goroutine: exactly one wins each
 * round, so calls + successful stops == rounds; freeing the handle right
 * after, while the cancel may still be walking, is safe. */
#define AFTER_ROUNDS 2000
static _Atomic long after_stopped;

static void cancel_and_release(void *arg)
{
    goro_ctx_release(arg); /* cancels, and drops the reference it was given */
}

Test(context, stress_after_func_stop_vs_cancel, .timeout = GT_TIMEOUT(60))
{
    struct after_arg a = {0};
    uint64_t rng = 0x3c6ef372ULL;
    for (int i = 0; i < AFTER_ROUNDS; i++) {
        goro_ctx *c = mk_cancel(NULL);
        goro_ctx_stop *h = mk_after(c, &a);
        gt_spawn(cancel_and_release, goro_ctx_retain(c));
        gt_spin((int64_t)(gt_rand(&rng) % 20) * GORO_MICROSECOND);
        if (goro_ctx_after_func_stop(h))
            atomic_fetch_add(&after_stopped, 1);
        goro_ctx_after_func_free(h);
        goro_ctx_release(c);
        if (i % 64 == 0)
            gt_quiesce();
    }
    gt_quiesce();
    cr_assert_eq(atomic_load(&a.calls) + atomic_load(&after_stopped), AFTER_ROUNDS,
                 "%ld calls + %ld stops != %d rounds", atomic_load(&a.calls),
                 atomic_load(&after_stopped), AFTER_ROUNDS);
    assert_no_leaks();
}

#ifdef GORO_TESTING
/* GORO_TESTING builds: the nth following runtime allocation or stack
 * mapping fails once (see test_faults.c). */
extern void goro__test_fail_alloc(long nth);

/* No memory for fn's goroutine when the context ends: the start is retried
 * from the handle's timer, fn runs once all the same, and the handle,
 * freed before the retry, is freed by it (ASan: no use after free, no
 * leak).  This process has started no goroutine yet, so the spawn must map
 * a fresh stack, and that is the first allocation the cancel makes. */
Test(context, after_func_spawn_without_memory_retries, .timeout = GT_TIMEOUT(10))
{
    goro_ctx *c = mk_cancel(NULL);
    struct after_arg a = {.ctx = NULL, .c = goro_chan_make(sizeof(uint64_t), 0)};
    cr_assert_not_null(a.c);
    goro_ctx_stop *h = mk_after(c, &a);
    goro__test_fail_alloc(0);
    goro_ctx_cancel(c);
    goro__test_fail_alloc(-1);
    cr_assert(!goro_ctx_after_func_stop(h), "stop after the (retried) start returned true");
    goro_ctx_after_func_free(h);
    goro_ctx_release(c);
    cr_assert(after_called(&a, gt_ms(5000)), "fn lost when its goroutine found no memory");
    gt_quiesce();
    cr_assert_eq(atomic_load(&a.calls), 1);
    goro_chan_release(a.c);
    assert_no_leaks();
}
#endif
