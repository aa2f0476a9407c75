/* test_stack.c - goroutine stacks: overflow detection (guard pages and
 * canaries), many live stacks, and recycling (trimming) of deep stacks.
 *
 * Overflow tests are death tests run in a child process (see run_child), so
 * that the parent can read the child's stderr and check both the signal
 * (SIGABRT) and the message: "stack overflow in goroutine ... (created by
 * <func> at <file>:<line>; ... KiB guarded|canary-checked stack ...)".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setenv, sched_getaffinity, ... (tests build as -std=c11) */
#endif
#include "common.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* ---- death tests in a child process ------------------------------------ */

struct death {
    int status;
    char out[16384];
};

/* The child runs a fresh copy of this executable (fork, then execve of
 * /proc/self/exe, as Criterion starts its workers): a forked copy of a
 * threaded process may not start threads under TSan, and a fresh process
 * reads GORO_* anew.  GT_STACK_CHILD names the body; the constructor below
 * runs it before Criterion's main. */
#define CHILD_ENV "GT_STACK_CHILD"

/* Runs the body named name in a child with stderr on a pipe. */
static void run_child(const char *name, struct death *d)
{
    gt_run_child(CHILD_ENV, name, d->out, sizeof d->out, &d->status);
}

/* Asserts the child died of SIGABRT after printing our overflow report
 * naming this file as the creation site and the kind of stack; under ASan
 * a report of ASan's own is accepted when asan_ok. */
static void expect_overflow(struct death *d, const char *kind, bool asan_ok)
{
    if (GT_ASAN && asan_ok && strstr(d->out, "AddressSanitizer"))
        return;
    cr_assert(WIFSIGNALED(d->status) && WTERMSIG(d->status) == SIGABRT,
              "child %s %d, not killed by SIGABRT; stderr:\n%s",
              WIFSIGNALED(d->status) ? "killed by signal" : "exited with",
              WIFSIGNALED(d->status) ? WTERMSIG(d->status) : WEXITSTATUS(d->status), d->out);
    cr_assert_not_null(strstr(d->out, "stack overflow in goroutine"), "stderr:\n%s", d->out);
    cr_assert_not_null(strstr(d->out, "test_stack.c"), "no creation site in:\n%s", d->out);
    cr_assert_not_null(strstr(d->out, kind), "not a %s stack:\n%s", kind, d->out);
}

/* One volatile KiB per frame, without end. */
static int recurse_forever(int depth)
{
    volatile char buf[1024];
    buf[0] = (char)depth;
    buf[sizeof buf - 1] = (char)depth;
    if (depth == -1) /* never: keeps the compiler from proving endlessness */
        return buf[0];
    return recurse_forever(depth + 1) + buf[sizeof buf - 1];
}

static void overflow_forever(void *arg)
{
    (void)arg;
    recurse_forever(0);
}

/* depth frames of one KiB, then a switch at the deepest point. */
static int recurse_then_yield(int depth)
{
    volatile char buf[1024];
    buf[0] = (char)depth;
    buf[sizeof buf - 1] = (char)depth;
    if (depth <= 1) {
        goro_yield();
        return buf[0];
    }
    return recurse_then_yield(depth - 1) + buf[sizeof buf - 1];
}

static void overflow_shallow(void *arg)
{
    recurse_then_yield((int)(intptr_t)arg);
}

static void spawn_and_wait(void (*fn)(void *), void *arg)
{
    if (goro_go(fn, arg) != 0) {
        fprintf(stderr, "child: goro_go failed\n");
        _exit(3);
    }
    goro_sleep(20 * GORO_SECOND); /* the goroutine kills us first */
}

static void child_guarded(void)
{
    spawn_and_wait(overflow_forever, NULL);
}

static _Atomic bool dummy_ran;

static void dummy(void *arg)
{
    (void)arg;
    atomic_store(&dummy_ran, true);
}

/* With guards off, a chunk's slot 0 still has one (its floor): run a
 * goroutine first so that it takes slot 0 and leaves it cached, and the
 * goroutine under test gets slot 1, canary-protected. */
static void canary_setup(void)
{
    setenv("GORO_STACK_GUARD", "0", 1);
    setenv("GORO_MAXPROCS", "1", 1);
    if (goro_go(dummy, NULL) != 0)
        _exit(4);
    while (!atomic_load(&dummy_ran) || goro_num_goroutine() != 0)
        goro_sleep(GORO_MILLISECOND);
}

static void child_canary_deep(void)
{
    canary_setup();
    spawn_and_wait(overflow_forever, NULL);
}

static void child_canary_shallow(void)
{
    canary_setup();
    /* About 300 KiB of frames on a 256 KiB stack, then a switch: nothing
     * faulted (slot 0 below is mapped), the check at the switch must. */
    spawn_and_wait(overflow_shallow, (void *)(intptr_t)300);
}

/* Beyond the mprotect guard budget (a quarter of vm.max_map_count, about
 * 8,000 slots by default): many parked goroutines first, then the overflow
 * in a slot carved after them. */
#define NLATE 12000

static void park_long(void *arg)
{
    (void)arg;
    goro_sleep(60 * GORO_SECOND);
}

static void child_late_slot(void)
{
    setenv("GORO_MAXPROCS", "1", 1);
    for (int i = 0; i < NLATE; i++)
        if (goro_go(park_long, NULL) != 0)
            _exit(4);
    while (goro_num_goroutine() < NLATE)
        goro_sleep(GORO_MILLISECOND);
    spawn_and_wait(overflow_forever, NULL);
}


/* ---- the fault handler's walk while custom-size stacks are unmapped ----- */

/* A fault that is not a stack overflow still makes goro's handler look for
 * a guard page owner among all stacks before passing the fault on.  Here
 * the program's own handler (installed before goro's, so goro chains to
 * it) recovers from faults on a PROT_NONE page with siglongjmp, thousands
 * of times, while goroutines with a non-default stack size start and exit:
 * goro's walk must never fault itself (the program's handler would then
 * see another address). */
#define WALK_FAULTS 20000
#define WALK_CHURNERS 4
#define WALK_LIVE 256

static sigjmp_buf walk_jmp;
static char *walk_page;
static _Atomic bool walk_stop;
static _Atomic long walk_live, walk_churners_done;

static void walk_user_handler(int sig, siginfo_t *si, void *uc)
{
    static const char msg[] = "child: fault at an unexpected address\n";
    (void)sig;
    (void)uc;
    if ((char *)si->si_addr != walk_page) {
        ssize_t r = write(2, msg, sizeof msg - 1);
        (void)r;
        _exit(5);
    }
    siglongjmp(walk_jmp, 1);
}

static void walk_child(void *arg)
{
    (void)arg;
    if (atomic_load_explicit(&walk_live, memory_order_relaxed) & 1)
        goro_yield();
    atomic_fetch_sub(&walk_live, 1);
}

static void walk_churner(void *arg)
{
    goro_attr a = {.stack_size = (size_t)(uintptr_t)arg};

    while (!atomic_load(&walk_stop)) {
        if (atomic_load(&walk_live) >= WALK_LIVE) {
            goro_yield();
            continue;
        }
        atomic_fetch_add(&walk_live, 1);
        if (goro_go_attr(&a, walk_child, NULL) != 0) {
            fprintf(stderr, "child: goro_go_attr failed\n");
            _exit(4);
        }
    }
    atomic_fetch_add(&walk_churners_done, 1);
}

static void child_fault_walk(void)
{
    struct sigaction sa;
    volatile long faults = 0;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = walk_user_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0)
        _exit(3);
    walk_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (walk_page == MAP_FAILED)
        _exit(3);
    /* The first goro call installs goro's handler over ours. */
    for (int i = 0; i < WALK_CHURNERS; i++)
        if (goro_go(walk_churner, (void *)(uintptr_t)((64u + 16u * (unsigned)i) << 10)) != 0)
            _exit(4);
    int64_t deadline = goro_now() + gt_ms(4000);
    while (faults < WALK_FAULTS && goro_now() < deadline) {
        if (sigsetjmp(walk_jmp, 1) == 0)
            *(volatile char *)walk_page = 1; /* faults; the handler jumps back */
        faults = faults + 1;
    }
    atomic_store(&walk_stop, true);
    while (atomic_load(&walk_churners_done) < WALK_CHURNERS || goro_num_goroutine() != 0)
        goro_sleep(GORO_MILLISECOND);
    fprintf(stderr, "child: %ld faults handled\n", (long)faults);
    _exit(0);
}

static const gt_child_body child_bodies[] = {
    {"fault_walk", child_fault_walk},
    {"guarded", child_guarded},
    {"late_slot", child_late_slot},
    {"canary_deep", child_canary_deep},
    {"canary_shallow", child_canary_shallow},
    {NULL, NULL},
};

__attribute__((constructor)) static void child_entry(void)
{
    gt_child_dispatch(CHILD_ENV, child_bodies);
}

static _Atomic int blocked_faults;
static _Atomic bool mask_checked;

static void check_fault_mask(void *arg)
{
    (void)arg;
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    sigset_t s;
    pthread_sigmask(SIG_SETMASK, NULL, &s);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        if (sigismember(&s, faults[i]))
            atomic_fetch_or(&blocked_faults, 1 << faults[i]);
    atomic_store(&mask_checked, true);
}

static bool flag_set(void *arg)
{
    return atomic_load((_Atomic bool *)arg);
}

/* The overflow report needs the fault handler to run on the goroutine's
 * thread.  A synchronous fault whose signal is blocked is not delivered:
 * the kernel resets the action to the default and kills the process. */
Test(stack, fault_signals_unblocked, .timeout = GT_TIMEOUT(10))
{
    cr_assert_eq(goro_go(check_fault_mask, NULL), 0);
    cr_assert(gt_wait_until(flag_set, &mask_checked, gt_ms(5000)));
    int b = atomic_load(&blocked_faults);
    cr_assert_eq(b, 0, "goroutines run with synchronous fault signals blocked:%s%s%s%s",
                 b & (1 << SIGSEGV) ? " SIGSEGV" : "", b & (1 << SIGBUS) ? " SIGBUS" : "",
                 b & (1 << SIGFPE) ? " SIGFPE" : "", b & (1 << SIGILL) ? " SIGILL" : "");
    gt_quiesce();
}

Test(stack, overflow_guarded, .timeout = GT_TIMEOUT(30))
{
    struct death d;
    run_child("guarded", &d);
    expect_overflow(&d, "guarded", true);
}

/* Whether this kernel has guard regions (Linux 6.13, MADV_GUARD_INSTALL)
 * that really refuse access (an emulator may ignore the advice). */
static bool kernel_guard_regions(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int fd[2];
    bool ok = false;
    cr_assert_neq(mem, MAP_FAILED);
    if (madvise(mem, (size_t)page, 102 /* MADV_GUARD_INSTALL */) == 0 && pipe(fd) == 0) {
        ok = write(fd[1], mem, 1) < 0 && errno == EFAULT;
        close(fd[0]);
        close(fd[1]);
    }
    munmap(mem, (size_t)page);
    return ok;
}

/* With guard regions every slot is guarded, however many stacks exist;
 * without, a slot past the budget is canary-checked.  Either way the
 * overflow is reported. */
Test(stack, overflow_past_guard_budget, .timeout = GT_TIMEOUT(60))
{
    struct death d;
    if (GT_TSAN)
        cr_skip("12,000 TSan fibers");
    run_child("late_slot", &d);
    expect_overflow(&d, kernel_guard_regions() ? "guarded" : "canary-checked", true);
}

Test(stack, overflow_canary_deep, .timeout = GT_TIMEOUT(30))
{
    struct death d;
    run_child("canary_deep", &d);
    expect_overflow(&d, "canary-checked", true);
}

Test(stack, overflow_canary_shallow, .timeout = GT_TIMEOUT(30))
{
    struct death d;
    run_child("canary_shallow", &d);
    expect_overflow(&d, "canary-checked", true);
}

/* The same shallow excursion on a stack big enough for it is fine. */
Test(stack, deep_but_within_stack, .timeout = GT_TIMEOUT(10))
{
    goro_attr a = {.stack_size = 1 << 20};
    cr_assert_eq(goro_go_attr(&a, overflow_shallow, (void *)(intptr_t)300), 0);
    gt_quiesce();
}

/* ---- many live stacks ---------------------------------------------------- */

/* ThreadSanitizer makes every stack a fiber, and allows 8128 of them. */
#define NLIVE (GT_TSAN ? 4000 : 100000)

static _Atomic long live_started, live_finished;
static _Atomic bool live_release;

static void live_wait(void *arg)
{
    int64_t nap = (int64_t)(intptr_t)arg;
    atomic_fetch_add(&live_started, 1);
    while (!atomic_load(&live_release))
        goro_sleep(nap);
    atomic_fetch_add_explicit(&live_finished, 1, memory_order_release);
}

/* 100,000 parked goroutines: more stacks than the mprotect guard budget of
 * the default vm.max_map_count (65530) allows, so most are canary-checked
 * unless the kernel has guard regions (4,000 under TSan, see NLIVE). */
Test(stack, hundred_thousand_live, .timeout = GT_TIMEOUT(60))
{
    int64_t nap = gt_ms(500);
    for (long i = 0; i < NLIVE; i++) {
        int e = goro_go(live_wait, (void *)(intptr_t)nap);
        if (e) {
            atomic_store(&live_release, true);
            cr_assert_fail("goro_go #%ld: %s", i, strerror(e));
        }
    }
    bool started = gt_wait_count(&live_started, NLIVE, gt_ms(30000));
    int n = goro_num_goroutine();
    atomic_store(&live_release, true);
    cr_assert(started, "%ld of %d goroutines started", atomic_load(&live_started), NLIVE);
    cr_assert_geq(n, NLIVE, "goro_num_goroutine() = %d with %d alive", n, NLIVE);
    cr_assert(gt_wait_count(&live_finished, NLIVE, nap + gt_ms(30000)));
    gt_quiesce();
}

/* ---- recycling deep stacks ----------------------------------------------- */

#define NRECYCLE 100000
#define RECYCLE_WAVE (GT_TSAN ? 2000 : 8000)
#define RECYCLE_DEPTH 100 /* KiB of frames */

/* Where each goroutine's stack was: its entry frame and its deepest one. */
static uintptr_t rc_top[NRECYCLE], rc_low[NRECYCLE];
static _Atomic long rc_done;

static int recurse_then_sleep(int depth, long i)
{
    volatile char buf[1024];
    buf[0] = (char)depth;
    buf[sizeof buf - 1] = (char)depth;
    if (depth <= 1) {
        rc_low[i] = (uintptr_t)buf;
        goro_sleep(5 * GORO_MILLISECOND); /* park at depth: the runtime sees it */
        return buf[0];
    }
    return recurse_then_sleep(depth - 1, i) + buf[sizeof buf - 1];
}

static void deep_user(void *arg)
{
    long i = (long)(intptr_t)arg;
    volatile char mark = 0;
    rc_top[i] = (uintptr_t)&mark;
    recurse_then_sleep(RECYCLE_DEPTH, i);
    atomic_fetch_add_explicit(&rc_done, 1, memory_order_release);
}

static int cmp_uptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* 100,000 goroutines in waves of 8,000 each use 100 KiB of stack, park at
 * that depth, and finish.  Their stacks are recycled, and a recycled stack
 * gives back what lies below its top 32 KiB: the deep parts of every stack
 * are no longer resident, and RSS stays far below 8,000 x 100 KiB. */
Test(stack, recycling_trims, .timeout = GT_TIMEOUT(60))
{
    long page = sysconf(_SC_PAGESIZE);
    for (long base = 0; base < NRECYCLE; base += RECYCLE_WAVE) {
        long end = base + RECYCLE_WAVE < NRECYCLE ? base + RECYCLE_WAVE : NRECYCLE;
        for (long i = base; i < end; i++)
            cr_assert_eq(goro_go(deep_user, (void *)(intptr_t)i), 0);
        cr_assert(gt_wait_count(&rc_done, end, gt_ms(20000)), "wave at %ld stuck", base);
    }
    cr_assert(gt_wait_until(gt_no_goroutines, NULL, gt_ms(5000)));

    /* Each distinct stack once (by its entry frame), then count its pages
     * that are still resident more than 40 KiB below that frame. */
    static uintptr_t tops[NRECYCLE], lows[NRECYCLE];
    long nslots = 0, resident = 0, checked = 0;
    for (long i = 0; i < NRECYCLE; i++)
        tops[i] = rc_top[i];
    qsort(tops, NRECYCLE, sizeof tops[0], cmp_uptr);
    for (long i = 0; i < NRECYCLE; i++)
        if (i == 0 || tops[i] != tops[i - 1])
            tops[nslots++] = tops[i];
    for (long s = 0; s < nslots; s++)
        lows[s] = tops[s];
    for (long i = 0; i < NRECYCLE; i++) {
        uintptr_t *t = bsearch(&rc_top[i], tops, (size_t)nslots, sizeof tops[0], cmp_uptr);
        cr_assert_not_null(t);
        long s = t - tops;
        if (rc_low[i] < lows[s])
            lows[s] = rc_low[i];
    }
    for (long s = 0; s < nslots; s++) {
        uintptr_t lo = (lows[s] + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
        uintptr_t hi = (tops[s] - 40 * 1024) & ~(uintptr_t)(page - 1);
        if (hi <= lo)
            continue;
        unsigned char vec[256];
        size_t npages = (hi - lo) / (uintptr_t)page;
        cr_assert_leq(npages, sizeof vec);
        cr_assert_eq(mincore((void *)lo, hi - lo, vec), 0, "mincore: %s", strerror(errno));
        for (size_t k = 0; k < npages; k++)
            resident += vec[k] & 1;
        checked += (long)npages;
    }
    cr_assert_gt(checked, 0);
    cr_assert_leq(resident, checked / 100,
                  "%ld of %ld stack pages deep in %ld recycled stacks are still resident",
                  resident, checked, nslots);
    if (!GT_ASAN && !GT_TSAN) { /* sanitizer shadow memory would count too */
        long rss = gt_rss_bytes();
        cr_assert_lt(rss, 500L << 20, "RSS %ld MiB after the goroutines finished", rss >> 20);
    }
    gt_quiesce();
}

Test(stack, fault_walk_while_custom_stacks_exit, .timeout = GT_TIMEOUT(60))
{
    struct death d;
    run_child("fault_walk", &d);
    cr_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0, "child status %#x; stderr:\n%s",
              d.status, d.out);
    long n = 0;
    const char *p = strstr(d.out, "child: ");
    cr_assert(p && sscanf(p, "child: %ld faults handled", &n) == 1 && n >= 100, "stderr:\n%s",
              d.out);
}
