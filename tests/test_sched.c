/* test_sched.c - the scheduler: spawning, spreading over threads, stealing,
 * yielding, what survives a migration (errno, FP control state), hand-off
 * of a blocked thread's P, running out of stack memory, goro_main,
 * goro_id/goro_num_goroutine, goro_sleep, goro_maxprocs (and lowering it
 * under running goroutines), goro_lock_thread (and a locked goroutine whose
 * P was handed off), thread creation failing (GORO_TESTING fail point; the
 * fatal case in a child process, see gt_run_child).
 *
 * Order is asserted with counters and logs, not wall-clock; the few timing
 * bounds (hand-off latency, sleep overshoot) are scaled by gt_scale().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setenv, sched_getaffinity, ... (tests build as -std=c11) */
#endif
#include "common.h"

#include <dirent.h>
#include <fenv.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* ---- child processes (see gt_run_child) --------------------------------- */

#define CHILD_ENV "GT_SCHED_CHILD"

#ifdef GORO_TESTING
static void child_thread_start_fails(void);
#endif

static const gt_child_body child_bodies[] = {
#ifdef GORO_TESTING
    {"thread_start_fails", child_thread_start_fails},
#endif
    {NULL, NULL},
};

__attribute__((constructor)) static void child_entry(void)
{
    gt_child_dispatch(CHILD_ENV, child_bodies);
}

/* ---- environment set before the runtime starts (Criterion .init) ------- */

static void env_migrate(void)
{
    /* Yields go through the global queue, and the scheduler passes a G
     * that was last on this M back a few times for another M to take:
     * migrations become likely (the tests also keep every P busy, as an
     * idle M wakes too slowly to take it). */
    setenv("GORO_DEBUG", "migrate", 1);
    setenv("GORO_MAXPROCS", "4", 1);
}

/* ---- million ------------------------------------------------------------ */

#define MILLION 1000000
#define WAVE 10000

/* How many the million tests spawn: a million, but a tenth of that under
 * Valgrind (scripts/valgrind.sh), where each goroutine's start is checked
 * the same way after the first waves, and a million took 35 to 98 s. */
static long million(void)
{
    return gt_valgrind() ? MILLION / 10 : MILLION;
}

static char *mflags;
static _Atomic long mcount;

static void mark(void *arg)
{
    size_t i = (uintptr_t)arg;
    mflags[i] = 1;
    atomic_fetch_add_explicit(&mcount, 1, memory_order_release);
}

/* Spawns million() mark() goroutines in waves, waiting for each wave to run
 * (from a goroutine the wait yields; from a thread it sleeps). */
static void spawn_million(void *arg)
{
    (void)arg;
    int64_t deadline = goro_now() + gt_ms(60000);
    for (long base = 0; base < million(); base += WAVE) {
        for (long i = base; i < base + WAVE; i++) {
            int e = goro_go(mark, (void *)(uintptr_t)i);
            if (!gt_check(e == 0, "goro_go #%ld: %d", i, e))
                return;
        }
        if (!gt_check(gt_wait_count(&mcount, base + WAVE, deadline - goro_now()),
                      "wave at %ld: only %ld ran", base, atomic_load(&mcount)))
            return;
    }
}

static void check_million(void)
{
    gt_assert_no_failures();
    cr_assert_eq(atomic_load_explicit(&mcount, memory_order_acquire), million());
    char *zero = memchr(mflags, 0, million());
    cr_assert_null(zero, "goroutine %td never ran", zero - mflags);
    free(mflags);
}

Test(sched, million_from_goroutine, .timeout = GT_TIMEOUT(40))
{
    mflags = calloc(million(), 1);
    cr_assert_not_null(mflags);
    cr_assert_eq(goro_main(spawn_million, NULL), 0);
    check_million();
    gt_quiesce();
}

Test(sched, million_from_thread, .timeout = GT_TIMEOUT(40))
{
    mflags = calloc(million(), 1);
    cr_assert_not_null(mflags);
    spawn_million(NULL);
    check_million();
    gt_quiesce();
}

/* ---- spreading over threads and stealing -------------------------------- */

static gt_tset tset = GT_TSET_INIT;
static _Atomic long tdone;

static void spin_and_record(void *arg)
{
    gt_spin((int64_t)(intptr_t)arg);
    gt_tset_add(&tset, gt_self());
    atomic_fetch_add_explicit(&tdone, 1, memory_order_release);
}

Test(sched, spread_threads, .timeout = GT_TIMEOUT(30))
{
    if (gt_ncpu() < 2)
        cr_skip_test("one CPU");
    int nprocs = goro_maxprocs(0);
    int64_t deadline = goro_now() + gt_ms(10000);
    long spawned = 0;

    /* Waves of CPU-bound goroutines, 4 per P, until every P's thread has
     * run one (or time runs out). */
    while (gt_tset_count(&tset) < nprocs && goro_now() < deadline) {
        for (int i = 0; i < 4 * nprocs; i++, spawned++)
            cr_assert_eq(goro_go(spin_and_record, (void *)(intptr_t)(500 * GORO_MICROSECOND)), 0);
        cr_assert(gt_wait_count(&tdone, spawned, gt_ms(10000)));
    }
    cr_assert_geq(gt_tset_count(&tset), nprocs, "%d Ps but goroutines ran on %d threads",
                  nprocs, gt_tset_count(&tset));
    gt_quiesce();
}

#define NSTEAL 10000

static void steal_spawner(void *arg)
{
    (void)arg;
    for (int i = 0; i < NSTEAL; i++)
        if (!gt_check(goro_go(spin_and_record, (void *)(intptr_t)(20 * GORO_MICROSECOND)) == 0,
                      "goro_go failed"))
            return;
    gt_check(gt_wait_count(&tdone, NSTEAL, gt_ms(20000)), "only %ld of %d ran",
             atomic_load(&tdone), NSTEAL);
}

Test(sched, steal, .timeout = GT_TIMEOUT(30))
{
    /* One goroutine queues everything on its own P: the others must take
     * work from it (or from the global queue it overflows into). */
    if (goro_maxprocs(0) < 2)
        goro_maxprocs(2);
    cr_assert_eq(goro_main(steal_spawner, NULL), 0);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&tdone), NSTEAL);
    cr_assert_gt(gt_tset_count(&tset), 1, "10,000 CPU-bound goroutines all ran on one thread");
    gt_quiesce();
}

/* ---- yield -------------------------------------------------------------- */

#define NALT 1000

static int alt_log[2 * NALT];
static _Atomic int alt_len;
static _Atomic long alt_done;

static void alternate(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < NALT; i++) {
        alt_log[atomic_fetch_add(&alt_len, 1)] = id;
        goro_yield();
    }
    atomic_fetch_add_explicit(&alt_done, 1, memory_order_release);
}

static void alternate_main(void *arg)
{
    (void)arg;
    if (!gt_check(goro_go(alternate, (void *)1) == 0 && goro_go(alternate, (void *)2) == 0,
                  "goro_go failed"))
        return;
    gt_check(gt_wait_count(&alt_done, 2, gt_ms(10000)), "alternating goroutines stuck");
}

Test(sched, yield_alternates, .timeout = GT_TIMEOUT(20))
{
    goro_maxprocs(1);
    cr_assert_eq(goro_main(alternate_main, NULL), 0);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&alt_len), 2 * NALT);

    /* Skip the run of the first id (before the second started); from there
     * each entry differs from the previous one while both have iterations
     * left. */
    int left[3] = {0, NALT, NALT};
    int k = 0;
    while (k < 2 * NALT && alt_log[k] == alt_log[0])
        left[alt_log[k++]]--;
    cr_assert_lt(k, 2 * NALT, "only one goroutine ran");
    for (int i = k; i < 2 * NALT && left[1] > 0 && left[2] > 0; i++) {
        if (i > k)
            cr_assert_neq(alt_log[i], alt_log[i - 1],
                          "log[%d] = log[%d] = %d: goro_yield did not alternate", i, i - 1,
                          alt_log[i]);
        left[alt_log[i]]--;
    }
    gt_quiesce();
}

/* ---- errno across migrations -------------------------------------------- */

#define ERRNO_G 8
#define ERRNO_ROUNDS 200

static _Atomic long errno_moved;
static _Atomic long errno_done;
static _Atomic bool errno_stop;

/* Checks errno through gt_errno(): the compiler may keep errno's
 * thread-local address from before goro_yield() in a register, and after
 * the yield we may be on another thread (see common.h).  Runs at least
 * ERRNO_ROUNDS switches, and on (bounded by time) until some goroutine has
 * changed threads across one. */
static void errno_keeper(void *arg)
{
    int want = (int)(intptr_t)arg;
    int64_t deadline = goro_now() + gt_ms(5000);
    gt_set_errno(want);
    for (int k = 0; k < ERRNO_ROUNDS || (!atomic_load(&errno_moved) && goro_now() < deadline);
         k++) {
        pthread_t before = gt_self();
        gt_spin(10 * GORO_MICROSECOND); /* keep every P busy */
        if (k % 10 == 9)
            goro_sleep(GORO_MILLISECOND);
        else
            goro_yield();
        int got = gt_errno();
        if (!gt_check(got == want, "errno %d after switch %d, want %d", got, k, want))
            break;
        if (!pthread_equal(before, gt_self()))
            atomic_fetch_add(&errno_moved, 1);
    }
    atomic_fetch_add_explicit(&errno_done, 1, memory_order_release);
}

/* Sets errno to other values on the same threads meanwhile. */
static void errno_noise(void *arg)
{
    int v = (int)(intptr_t)arg;
    for (int k = 0; !atomic_load(&errno_stop); k++) {
        gt_set_errno(v + k);
        gt_spin(10 * GORO_MICROSECOND);
        goro_yield();
    }
    atomic_fetch_add_explicit(&errno_done, 1, memory_order_release);
}

Test(sched, errno_survives_migration, .init = env_migrate, .timeout = GT_TIMEOUT(20))
{
    cr_assert_geq(goro_maxprocs(0), 2);
    for (int i = 0; i < ERRNO_G; i++) {
        cr_assert_eq(goro_go(errno_keeper, (void *)(intptr_t)(4242 + i)), 0);
        cr_assert_eq(goro_go(errno_noise, (void *)(intptr_t)(10000 * (i + 1))), 0);
    }
    bool kept = gt_wait_count(&errno_done, ERRNO_G, gt_ms(15000));
    atomic_store(&errno_stop, true);
    cr_assert(kept, "errno keepers stuck");
    cr_assert(gt_wait_count(&errno_done, 2 * ERRNO_G, gt_ms(5000)));
    gt_assert_no_failures();
    cr_assert_gt(atomic_load(&errno_moved), 0, "no goroutine ever changed threads");
    gt_quiesce();
}

/* ---- hand-off of a blocked thread's P ----------------------------------- */

static _Atomic bool ho_a_started, ho_a_done, ho_b_ran_before_a_done;
static _Atomic int64_t ho_b_time;

/* A: blocks its thread in system calls (never parking) until B ran or the
 * hold time passed. */
static void ho_block_in_syscall(void *arg)
{
    int64_t end = goro_now() + (int64_t)(intptr_t)arg;
    atomic_store(&ho_a_started, true);
    while (!atomic_load(&ho_b_time) && goro_now() < end)
        usleep(1000);
    atomic_store(&ho_a_done, true);
}

/* A: the same in a loop that never yields. */
static void ho_block_in_loop(void *arg)
{
    int64_t end = goro_now() + (int64_t)(intptr_t)arg;
    atomic_store(&ho_a_started, true);
    while (!atomic_load(&ho_b_time) && goro_now() < end)
        ;
    atomic_store(&ho_a_done, true);
}

static void ho_b(void *arg)
{
    (void)arg;
    atomic_store(&ho_b_ran_before_a_done, !atomic_load(&ho_a_done));
    atomic_store(&ho_b_time, goro_now());
}

static bool flag_set(void *arg)
{
    return atomic_load((_Atomic bool *)arg);
}

static bool time_set(void *arg)
{
    return atomic_load((_Atomic int64_t *)arg) != 0;
}

/* With one P, A holds it and blocks its thread for up to 300 ms; B,
 * spawned next, must run on another thread (sysmon hands the P over after
 * 10 ms) rather than after A.  Returns B's latency. */
static int64_t handoff(void (*a)(void *))
{
    int64_t hold = gt_ms(300);
    atomic_store(&ho_a_started, false);
    atomic_store(&ho_a_done, false);
    atomic_store(&ho_b_time, 0);
    cr_assert_eq(goro_go(a, (void *)(intptr_t)hold), 0);
    cr_assert(gt_wait_until(flag_set, &ho_a_started, gt_ms(5000)), "A never started");
    int64_t t0 = goro_now();
    cr_assert_eq(goro_go(ho_b, NULL), 0);
    cr_assert(gt_wait_until(flag_set, &ho_a_done, hold + gt_ms(5000)), "A never finished");
    cr_assert(gt_wait_until(time_set, &ho_b_time, gt_ms(5000)), "B never ran");
    cr_assert(atomic_load(&ho_b_ran_before_a_done),
              "B ran only after A let its thread go (%.0f ms)", hold / 1e6);
    cr_assert(gt_wait_until(gt_no_goroutines, NULL, gt_ms(5000)));
    return atomic_load(&ho_b_time) - t0;
}

static _Atomic bool busy_done;

static void busy_60ms(void *arg)
{
    (void)arg;
    gt_spin(60 * GORO_MILLISECOND);
    atomic_store(&busy_done, true);
}

/* Makes the runtime busy for longer than sysmon's idle period (so sysmon
 * is polling), then idle for 3 ms: long enough for sysmon to notice and
 * start its idle sleep (sched.c, sysmon()). */
static void busy_then_idle(void)
{
    atomic_store(&busy_done, false);
    cr_assert_eq(goro_go(busy_60ms, NULL), 0);
    cr_assert(gt_wait_until(flag_set, &busy_done, gt_ms(5000)));
    cr_assert(gt_wait_until(gt_no_goroutines, NULL, gt_ms(5000)));
    goro_sleep(3 * GORO_MILLISECOND); /* a plain thread: sleeps, arms no timer */
}

/* B must run within 50 ms (scaled) of its spawn.  A loaded machine may
 * delay sysmon or the new thread once, so the median of three trials
 * counts: a hand-off slow by design is slow every time. */
static void expect_handoff(void (*a)(void *), bool after_idle)
{
    int64_t bound = gt_ms(50), lat[3];
    goro_maxprocs(1);
    for (int trial = 0; trial < 3; trial++) {
        if (after_idle)
            busy_then_idle();
        lat[trial] = handoff(a);
    }
    for (int i = 1; i < 3; i++) /* sort the three */
        for (int j = i; j > 0 && lat[j] < lat[j - 1]; j--) {
            int64_t t = lat[j];
            lat[j] = lat[j - 1];
            lat[j - 1] = t;
        }
    cr_assert_lt(lat[1], bound,
                 "B ran %.1f, %.1f and %.1f ms after its spawn in 3 trials; bound for the "
                 "median %.1f ms",
                 lat[0] / 1e6, lat[1] / 1e6, lat[2] / 1e6, bound / 1e6);
    gt_quiesce();
}

Test(sched, handoff_blocking_syscall, .timeout = GT_TIMEOUT(15))
{
    expect_handoff(ho_block_in_syscall, false);
}

Test(sched, handoff_busy_loop, .timeout = GT_TIMEOUT(15))
{
    expect_handoff(ho_block_in_loop, false);
}

/* The same after the runtime was busy, then idle: the hand-off must not
 * wait for the end of sysmon's idle sleep. */
Test(sched, handoff_after_idle_syscall, .timeout = GT_TIMEOUT(15))
{
    expect_handoff(ho_block_in_syscall, true);
}

Test(sched, handoff_after_idle_busy_loop, .timeout = GT_TIMEOUT(15))
{
    expect_handoff(ho_block_in_loop, true);
}

/* ---- running out of memory ---------------------------------------------- */

static _Atomic bool oom_release;
static _Atomic long oom_started, oom_finished;

static void oom_blocker(void *arg)
{
    (void)arg;
    atomic_fetch_add(&oom_started, 1);
    while (!atomic_load(&oom_release))
        goro_yield();
    atomic_fetch_add(&oom_finished, 1);
}

static long vmsize_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib < 0 ? -1 : kib * 1024;
}

/* The child's body; returns its exit status (0: pass) and says why not on
 * stderr. */
static int oom_child(void)
{
    struct rlimit old, lim;
    long n, spawned;
    int e = 0;

    goro_maxprocs(1);
    /* Start the M (and its thread, arena, altstack) before the limit. */
    if (goro_go(oom_blocker, NULL) != 0)
        return 10;
    if (!gt_wait_count(&oom_started, 1, gt_ms(5000)))
        return 11;
    if (getrlimit(RLIMIT_AS, &old) != 0)
        return 12;
    long vm = vmsize_bytes();
    if (vm < 0)
        return 13;
    lim.rlim_cur = (rlim_t)vm + (64u << 20);
    lim.rlim_max = old.rlim_max;
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_cur > lim.rlim_max)
        return 14;
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return 15;
    for (n = 0; n < 100000; n++) {
        e = goro_go(oom_blocker, NULL);
        if (e)
            break;
    }
    /* Raising the soft limit back up to the hard one is allowed. */
    lim.rlim_cur = old.rlim_cur;
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return 16;
    if (e != ENOMEM) {
        fprintf(stderr, "oom child: %ld goroutines spawned, last goro_go: %d\n", n, e);
        return 17;
    }
    spawned = n + 1;
    /* Memory is back: spawning works again, and everything runs. */
    for (int i = 0; i < 100; i++) {
        e = goro_go(oom_blocker, NULL);
        if (e) {
            fprintf(stderr, "oom child: goro_go after the limit was lifted: %d\n", e);
            return 18;
        }
    }
    spawned += 100;
    atomic_store(&oom_release, true);
    if (!gt_wait_count(&oom_finished, spawned, gt_ms(20000))) {
        fprintf(stderr, "oom child: %ld of %ld goroutines finished\n", atomic_load(&oom_finished),
                spawned);
        return 19;
    }
    if (!gt_wait_until(gt_no_goroutines, NULL, gt_ms(10000)))
        return 20;
    return 0;
}

Test(sched, oom, .timeout = GT_TIMEOUT(30))
{
    if (GT_ASAN || GT_TSAN)
        cr_skip_test("sanitizers reserve more address space than RLIMIT_AS allows");
    if (getenv("GORO_TEST_EMULATED"))
        cr_skip_test("under qemu-user, RLIMIT_AS starves the emulator itself");
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm((unsigned)(30 * gt_scale())); /* never outlive the test */
        _exit(oom_child()); /* no atexit handlers: they belong to Criterion */
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "oom child died of signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    cr_assert_eq(WEXITSTATUS(st), 0, "oom child failed at step %d", WEXITSTATUS(st));
}

/* ---- plain threads, goro_main, goro_go arguments ------------------------ */

#define PT_THREADS 8
#define PT_EACH 10000

static _Atomic long pt_count;

static void pt_inc(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&pt_count, 1, memory_order_relaxed);
}

static void *pt_spawner(void *arg)
{
    (void)arg;
    for (int i = 0; i < PT_EACH; i++)
        if (!gt_check(goro_go(pt_inc, NULL) == 0, "goro_go from a thread failed"))
            break;
    return NULL;
}

Test(sched, plain_threads_spawn, .timeout = GT_TIMEOUT(20))
{
    pthread_t t[PT_THREADS];
    for (int i = 0; i < PT_THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, pt_spawner, NULL), 0);
    for (int i = 0; i < PT_THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert(gt_wait_count(&pt_count, PT_THREADS * PT_EACH, gt_ms(10000)), "%ld of %d ran",
              atomic_load(&pt_count), PT_THREADS * PT_EACH);
    gt_quiesce();
}

static _Atomic bool main_fn_done;

static void main_fn(void *arg)
{
    goro_sleep(20 * GORO_MILLISECOND);
    atomic_store(&main_fn_done, arg == (void *)&main_fn_done);
}

Test(sched, goro_main_waits_for_fn, .timeout = GT_TIMEOUT(10))
{
    cr_assert_eq(goro_main(main_fn, (void *)&main_fn_done), 0);
    cr_assert(atomic_load(&main_fn_done), "goro_main returned before fn finished");
    cr_assert_eq(goro_main(NULL, NULL), EINVAL);
    gt_quiesce();
}

static void nothing(void *arg)
{
    (void)arg;
}

/* The first goro call of a process may be goro_main or goro_yield on a
 * plain thread: the runtime must create its thread-specific key before it
 * stores the thread's G there, not store it under key 0, which belongs to
 * whoever created a key first (in Criterion's worker, libgit2, whose exit
 * handler then frees goro's G). */
static void first_call_keeps_key0(void (*first)(void))
{
    pthread_key_t mine;
    cr_assert_eq(pthread_key_create(&mine, NULL), 0);
    if (mine == 0)
        pthread_setspecific(0, &mine); /* key 0 is ours: give it a value */
    void *before = pthread_getspecific(0);
    first();
    void *after = pthread_getspecific(0);
    pthread_setspecific(0, before); /* let key 0's owner find its own value at exit */
    cr_assert_eq(after, before, "goro stored %p under pthread key 0 (owner's value: %p)", after,
                 before);
    gt_quiesce();
}

static void call_goro_main(void)
{
    cr_assert_eq(goro_main(nothing, NULL), 0);
}

Test(sched, first_call_goro_main, .timeout = GT_TIMEOUT(10))
{
    first_call_keeps_key0(call_goro_main);
}

Test(sched, first_call_goro_yield, .timeout = GT_TIMEOUT(10))
{
    first_call_keeps_key0(goro_yield);
}

static void nested_main(void *arg)
{
    *(int *)arg = goro_main(pt_inc, NULL);
}

Test(sched, goro_main_in_goroutine, .timeout = GT_TIMEOUT(10))
{
    int r = -1;
    cr_assert_eq(goro_main(nested_main, &r), 0);
    cr_assert_eq(r, EDEADLK);
    gt_quiesce();
}

Test(sched, go_invalid_args, .timeout = GT_TIMEOUT(10))
{
    goro_attr big = {.stack_size = (size_t)2 << 30};
    cr_assert_eq(goro_go((void (*)(void *))NULL, NULL), EINVAL);
    cr_assert_eq(goro_go_attr(&big, pt_inc, NULL), EINVAL);
    cr_assert_eq(goro_go_attr(NULL, (void (*)(void *))NULL, NULL), EINVAL);
    gt_quiesce();
}

/* Uses depth KiB of stack: one volatile KiB per frame. */
static int use_stack(int depth)
{
    volatile char buf[1024];
    buf[0] = (char)depth;
    buf[sizeof buf - 1] = (char)depth;
    if (depth <= 1)
        return buf[0];
    return use_stack(depth - 1) + buf[sizeof buf - 1];
}

static _Atomic int big_stack_sum;

static void big_stack_user(void *arg)
{
    atomic_store(&big_stack_sum, use_stack((int)(intptr_t)arg));
}

Test(sched, attr_stack_size, .timeout = GT_TIMEOUT(10))
{
    goro_attr a = {.stack_size = 1 << 20, .name = "deep"};
    cr_assert_eq(goro_go_attr(&a, big_stack_user, (void *)(intptr_t)512), 0);
    cr_assert(gt_wait_until(gt_no_goroutines, NULL, gt_ms(5000)));
    int want = 0;
    for (int d = 1; d <= 512; d++)
        want += (char)d;
    cr_assert_eq(atomic_load(&big_stack_sum), want);
    gt_quiesce();
}

/* ---- goro_id, goro_num_goroutine ---------------------------------------- */

#define NID 1000

static uint64_t ids[NID];
static _Atomic long ids_done;

static void record_id(void *arg)
{
    ids[(intptr_t)arg] = goro_id();
    atomic_fetch_add_explicit(&ids_done, 1, memory_order_release);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(sched, goro_id, .timeout = GT_TIMEOUT(10))
{
    cr_assert_eq(goro_id(), 0, "goro_id on a plain thread");
    for (int i = 0; i < NID; i++)
        cr_assert_eq(goro_go(record_id, (void *)(intptr_t)i), 0);
    cr_assert(gt_wait_count(&ids_done, NID, gt_ms(5000)));
    qsort(ids, NID, sizeof ids[0], cmp_u64);
    cr_assert_neq(ids[0], 0, "a goroutine has id 0");
    for (int i = 1; i < NID; i++)
        cr_assert_neq(ids[i], ids[i - 1], "two goroutines share id %llu",
                      (unsigned long long)ids[i]);
    gt_quiesce();
}

static _Atomic bool parked_release;
static _Atomic long parked_started;

static void sleep_until_released(void *arg)
{
    (void)arg;
    atomic_fetch_add(&parked_started, 1);
    while (!atomic_load(&parked_release))
        goro_sleep(20 * GORO_MILLISECOND);
}

Test(sched, num_goroutine_counts_parked, .timeout = GT_TIMEOUT(10))
{
    cr_assert_eq(goro_num_goroutine(), 0);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(goro_go(sleep_until_released, NULL), 0);
    int n = goro_num_goroutine();
    cr_assert_geq(n, 100, "100 goroutines just spawned, goro_num_goroutine() = %d", n);
    cr_assert(gt_wait_count(&parked_started, 100, gt_ms(5000)));
    goro_sleep(50 * GORO_MILLISECOND);
    n = goro_num_goroutine();
    atomic_store(&parked_release, true);
    cr_assert_eq(n, 100, "100 goroutines sleeping, goro_num_goroutine() = %d", n);
    gt_quiesce();
}

/* ---- goro_sleep ---------------------------------------------------------- */

#define NSLEEP 100

static _Atomic long sleep_done;

static void sleep_20ms(void *arg)
{
    (void)arg;
    int64_t t0 = goro_now();
    goro_sleep(20 * GORO_MILLISECOND);
    int64_t d = goro_now() - t0;
    gt_check(d >= 20 * GORO_MILLISECOND, "goro_sleep(20 ms) returned after %lld ns",
             (long long)d);
    gt_check(d <= 20 * GORO_MILLISECOND + gt_ms(200), "goro_sleep(20 ms) took %.1f ms",
             d / 1e6);
    atomic_fetch_add_explicit(&sleep_done, 1, memory_order_release);
}

Test(sched, sleep_duration, .timeout = GT_TIMEOUT(10))
{
    for (int i = 0; i < NSLEEP; i++)
        cr_assert_eq(goro_go(sleep_20ms, NULL), 0);
    cr_assert(gt_wait_count(&sleep_done, NSLEEP, gt_ms(5000)));
    gt_quiesce();
}

static void sleep_nothing(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        int64_t t0 = goro_now();
        goro_sleep(0);
        goro_sleep(-GORO_SECOND);
        goro_sleep(INT64_MIN);
        int64_t d = goro_now() - t0;
        if (!gt_check(d < gt_ms(20), "goro_sleep(<= 0) took %.3f ms", d / 1e6))
            break;
    }
}

Test(sched, sleep_nonpositive, .timeout = GT_TIMEOUT(10))
{
    cr_assert_eq(goro_main(sleep_nothing, NULL), 0);
    sleep_nothing(NULL); /* and on a plain thread */
    gt_quiesce();
}

/* On a plain thread goro_sleep is nanosleep: never short, and late only by
 * however long the thread then waits for a CPU.  On a loaded 2-core machine
 * that wait alone reached tens of ms, and the first call, which starts the
 * runtime, as much again; the upper bound leaves both out, so the 200 ms
 * (scaled) it keeps are for goro, far below what a unit error would give. */
Test(sched, sleep_plain_thread, .timeout = GT_TIMEOUT(10))
{
    goro_stats st;
    cr_assert_eq(goro_stats_get(&st), 0); /* starts the runtime before t0 */
    int64_t w0 = gt_cpu_wait(), t0 = goro_now();
    goro_sleep(20 * GORO_MILLISECOND);
    int64_t d = goro_now() - t0, w1 = gt_cpu_wait();
    int64_t waited = w0 >= 0 && w1 >= w0 ? w1 - w0 : 0;
    cr_assert_geq(d, 20 * GORO_MILLISECOND);
    cr_assert_leq(d - waited, 20 * GORO_MILLISECOND + gt_ms(200),
                  "slept %.1f ms, %.1f ms of them waiting for a CPU", (double)d / 1e6,
                  (double)waited / 1e6);
    gt_quiesce();
}

/* ---- goro_maxprocs ------------------------------------------------------- */

static _Atomic int mp_running, mp_max;
static _Atomic bool mp_slow;
static _Atomic long mp_done;

/* Spins 200 us counting how many spin at once.  A goroutine that took over
 * 5 ms (its thread was descheduled) may have let sysmon hand its P to
 * another thread, which legitimately runs more goroutines than Ps: such a
 * round is not counted. */
static void mp_spin(void *arg)
{
    (void)arg;
    int64_t t0 = goro_now();
    int n = atomic_fetch_add(&mp_running, 1) + 1;
    int m = atomic_load(&mp_max);
    while (n > m && !atomic_compare_exchange_weak(&mp_max, &m, n))
        ;
    gt_spin(200 * GORO_MICROSECOND);
    atomic_fetch_sub(&mp_running, 1);
    if (goro_now() - t0 > 5 * GORO_MILLISECOND)
        atomic_store(&mp_slow, true);
    atomic_fetch_add_explicit(&mp_done, 1, memory_order_release);
}

/* Runs rounds of 8 * n spinners until one clean round reaches n at once;
 * returns the highest concurrency seen in a clean round. */
static int mp_measure(int n)
{
    int best = 0;
    int64_t deadline = goro_now() + gt_ms(5000);
    long total = atomic_load(&mp_done);
    do {
        atomic_store(&mp_max, 0);
        atomic_store(&mp_slow, false);
        for (int i = 0; i < 8 * n; i++, total++)
            cr_assert_eq(goro_go(mp_spin, NULL), 0);
        cr_assert(gt_wait_count(&mp_done, total, gt_ms(5000)),
                  "with %d Ps: %ld of %ld spinners finished; %d goroutines exist", n,
                  atomic_load(&mp_done), total, goro_num_goroutine());
        if (!atomic_load(&mp_slow) && atomic_load(&mp_max) > best)
            best = atomic_load(&mp_max);
    } while (best < n && goro_now() < deadline);
    return best;
}

Test(sched, maxprocs, .timeout = GT_TIMEOUT(30))
{
    int orig = goro_maxprocs(0);
    cr_assert_geq(orig, 1);
    cr_assert_eq(goro_maxprocs(0), orig, "a query changed the value");
    cr_assert_eq(goro_maxprocs(-5), orig);
    cr_assert_eq(goro_maxprocs(1), orig, "setting returns the previous value");
    cr_assert_eq(goro_maxprocs(0), 1);
    cr_assert_eq(mp_measure(1), 1, "more than one goroutine ran at once with one P");

    cr_assert_eq(goro_maxprocs(3), 1);
    int c = mp_measure(3);
    cr_assert_eq(c, 3, "with 3 Ps, at most %d goroutines ran at once", c);

    cr_assert_eq(goro_maxprocs(orig), 3);
    cr_assert_eq(goro_maxprocs(0), orig);
    c = mp_measure(orig);
    cr_assert_eq(c, orig, "back at %d Ps, at most %d goroutines ran at once", orig, c);
    gt_quiesce();
}

Test(sched, maxprocs_cap, .timeout = GT_TIMEOUT(10))
{
    int orig = goro_maxprocs(0);
    cr_assert_eq(goro_maxprocs(GORO_MAX_PROCS + 100), orig);
    cr_assert_eq(goro_maxprocs(0), GORO_MAX_PROCS, "n is capped at GORO_MAX_PROCS");
    cr_assert_eq(goro_maxprocs(orig), GORO_MAX_PROCS);
    cr_assert_eq(goro_maxprocs(0), orig);
    gt_quiesce();
}

/* Raising the count wakes an M (spinning) with one of the new Ps; lowering
 * it at once makes that M retire the P as it starts.  Work queued after
 * that must still find a thread. */
Test(sched, maxprocs_shrink_while_waking, .timeout = GT_TIMEOUT(20))
{
    int orig = goro_maxprocs(0);
    long want = 0;
    for (int round = 0; round < 50; round++) {
        goro_maxprocs(orig + 8);
        goro_maxprocs(orig);
        for (int i = 0; i < 16; i++, want++)
            cr_assert_eq(goro_go(pt_inc, NULL), 0);
        cr_assert(gt_wait_count(&pt_count, want, gt_ms(2000)),
                  "round %d: %ld goroutines spawned after goro_maxprocs(%d), goro_maxprocs(%d) "
                  "never ran",
                  round, want - atomic_load(&pt_count), orig + 8, orig);
    }
    gt_quiesce();
}

/* Ps taken from under goroutines that keep entering the runtime: two
 * ping-pong pairs (a channel operation, a switch and a ready each way) run
 * while the test's thread lowers the count to 1 and raises it again every
 * few hundred microseconds, and each lowering takes the retired Ps from
 * the Ms whose goroutines run on them, at whatever point they are (the
 * take must lose to an M inside the runtime with its P: p_take in
 * sched.c).  A P used by two Ms at once loses or duplicates queued
 * goroutines: a value out of order, a pair that never finishes, or the
 * runtime's own "not waiting" check. */
#define PT_ROUNDS 100000

struct pt_pair {
    goro_chan *ping, *pong;
    _Atomic long done;
};

static void pt_ponger(void *arg)
{
    struct pt_pair *pp = arg;
    long v;
    while (goro_chan_recv(pp->ping, &v) == 0) {
        gt_spin(GORO_MICROSECOND); /* some time outside the runtime too */
        v++;
        if (goro_chan_send(pp->pong, &v) != 0)
            break;
    }
}

static _Atomic bool pt_stop;

static void pt_pinger(void *arg)
{
    struct pt_pair *pp = arg;
    for (long i = 0; i < PT_ROUNDS || !atomic_load(&pt_stop); i++) {
        long v = i * 2;
        if (!gt_check(goro_chan_send(pp->ping, &v) == 0, "send %ld", i) ||
            !gt_check(goro_chan_recv(pp->pong, &v) == 0, "recv %ld", i) ||
            !gt_check(v == i * 2 + 1, "round %ld: got %ld", i, v))
            break;
    }
    goro_chan_close(pp->ping);
    atomic_store(&pp->done, 1);
}

/* Blocks its thread in the kernel where goro does not see it (a raw
 * nanosleep: no interposition, no system-call mark), 12 ms at a time, so
 * that sysmon takes its P (after 10 ms) while goro_maxprocs may be taking
 * the same P to retire it: of two takers only one may win.  The pairs run
 * on for 1.5 s meanwhile (sysmon takes a P only when work waits). */
#ifdef GORO_TESTING
extern void goro__test_take_delay(int64_t ns); /* fail point (sched.c) */
#else
/* The release library has no fail points: the takes race unstretched. */
static void goro__test_take_delay(int64_t ns)
{
    (void)ns;
}
#endif

static void pt_blocker(void *arg)
{
    (void)arg;
    while (!atomic_load(&pt_stop)) {
        struct timespec ts = {0, 12 * 1000 * 1000};
        syscall(SYS_nanosleep, &ts, NULL);
        goro_yield();
    }
}

/* Static, not on the test's stack: the pongers read it until they exit,
 * and gt_quiesce's goroutine count orders nothing for TSan. */
static struct pt_pair pairs[2];

static void p_taken(bool blockers)
{
    int orig = goro_maxprocs(0);
    long toggles = 0;
    int64_t end = goro_now() + (blockers ? 1500 * GORO_MILLISECOND : 0);

    atomic_store(&pt_stop, !blockers); /* the pairs stop after PT_ROUNDS */
    /* Each take lasts 200 us, so that sysmon's and goro_maxprocs' overlap. */
    goro__test_take_delay(blockers ? 200 * GORO_MICROSECOND : 0);
    for (int k = 0; blockers && k < 3; k++)
        gt_spawn(pt_blocker, NULL);
    for (int k = 0; k < 2; k++) {
        pairs[k].ping = gt_mkchan(sizeof(long), 0);
        pairs[k].pong = gt_mkchan(sizeof(long), 0);
        atomic_store(&pairs[k].done, 0);
        gt_spawn(pt_ponger, &pairs[k]);
        gt_spawn(pt_pinger, &pairs[k]);
    }
    while (!atomic_load(&pairs[0].done) || !atomic_load(&pairs[1].done)) {
        if (goro_now() >= end)
            atomic_store(&pt_stop, true);
        goro_maxprocs(1);
        goro_sleep(100 * GORO_MICROSECOND);
        goro_maxprocs(orig < 2 ? 2 : orig + 1);
        goro_sleep(200 * GORO_MICROSECOND);
        toggles++;
    }
    goro__test_take_delay(0);
    goro_maxprocs(orig);
    gt_quiesce();
    gt_assert_no_failures();
    cr_assert_gt(toggles, 10, "only %ld toggles", toggles);
    for (int k = 0; k < 2; k++) {
        goro_chan_release(pairs[k].ping);
        goro_chan_release(pairs[k].pong);
    }
}

Test(sched, p_taken_while_entering, .timeout = GT_TIMEOUT(60))
{
    p_taken(false);
}

Test(sched, p_taken_by_two_takers, .timeout = GT_TIMEOUT(60))
{
    p_taken(true);
}

/* ---- the runtime's own lock ---------------------------------------------- */

#ifdef GORO_TESTING
/* goro__lock (src/runtime.h): one 32-bit word.  Where membarrier(2) works
 * its release is a plain byte store, and a sleeper's membarrier keeps the
 * release from missing it; elsewhere (GORO_DEBUG=casp: test_sched_casp)
 * the release is a locked and.  Four threads take the lock by turns on
 * two cores, holding it now and then across a sleep, so that the others
 * spin out and sleep on the word: every increment counted, never two
 * holders, no sleeper left behind (a lost wake hangs the test). */
typedef struct {
    _Atomic uint32_t state;
} test_lock;
extern void goro__test_lock_acquire(test_lock *l);
extern void goro__test_lock_release(test_lock *l);
extern long goro__test_lock_sleeps(void);
extern bool goro__test_lock_asym(void);

#define LOCK_THREADS 4

/* Under lk_lock.  The runtime's locks are invisible to ThreadSanitizer
 * (runtime.h), so these are relaxed atomics read and written apart, not
 * incremented in one instruction: two holders at once still lose counts. */
static test_lock lk_lock;
static _Atomic long lk_count;
static _Atomic int lk_inside;
static _Atomic long lk_overlaps;
static long lk_rounds;

#define LK_GET(v) atomic_load_explicit(&(v), memory_order_relaxed)
#define LK_SET(v, x) atomic_store_explicit(&(v), (x), memory_order_relaxed)

static void *lk_worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < lk_rounds; i++) {
        goro__test_lock_acquire(&lk_lock);
        int inside = LK_GET(lk_inside);
        if (inside != 0)
            atomic_fetch_add(&lk_overlaps, 1);
        LK_SET(lk_inside, inside + 1);
        LK_SET(lk_count, LK_GET(lk_count) + 1);
        if (i % 2000 == 0)
            usleep(200);        /* the others spin out and sleep */
        LK_SET(lk_inside, LK_GET(lk_inside) - 1);
        goro__test_lock_release(&lk_lock);
    }
    return NULL;
}

Test(sched, runtime_lock_excludes_and_wakes, .timeout = GT_TIMEOUT(60))
{
    pthread_t t[LOCK_THREADS];
    const char *debug = getenv("GORO_DEBUG");
    bool casp = debug && strstr(debug, "casp");

    goro_maxprocs(0); /* the runtime is up: goro__asym is final */
    lk_rounds = gt_valgrind() ? 10000 : 100000;
    long sleeps0 = goro__test_lock_sleeps();
    for (int i = 0; i < LOCK_THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, lk_worker, NULL), 0);
    for (int i = 0; i < LOCK_THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(LK_GET(lk_count), LOCK_THREADS * lk_rounds, "%ld increments, want %ld",
                 LK_GET(lk_count), LOCK_THREADS * lk_rounds);
    cr_assert_eq(atomic_load(&lk_overlaps), 0, "two holders at once %ld times",
                 atomic_load(&lk_overlaps));
    cr_assert_gt(goro__test_lock_sleeps() - sleeps0, 0, "no acquire ever slept");
    cr_assert_eq(atomic_load(&lk_lock.state), 0, "the word is %#x after the last release",
                 (unsigned)atomic_load(&lk_lock.state));
    if (casp)
        cr_assert(!goro__test_lock_asym(), "GORO_DEBUG=casp: releases must be locked");
}
#endif

/* ---- goro_lock_thread ---------------------------------------------------- */

static _Atomic bool lt_stop;
static _Atomic long lt_ticks, lt_done, lt_moved_after_unlock;
static _Atomic long lt_ticks_while_locked;

static void lt_ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&lt_stop)) {
        atomic_fetch_add(&lt_ticks, 1);
        gt_spin(10 * GORO_MICROSECOND); /* keep every P busy */
        goro_yield();
    }
    atomic_fetch_add_explicit(&lt_done, 1, memory_order_release);
}

/* Switches 100 times (yield and sleep) and checks the thread never
 * changes; returns false (recorded) if it did. */
static bool lt_stays(pthread_t home, const char *phase)
{
    for (int k = 0; k < 100; k++) {
        if (k % 4 == 3)
            goro_sleep(GORO_MILLISECOND);
        else
            goro_yield();
        if (!gt_check(pthread_equal(gt_self(), home), "%s: moved threads at switch %d", phase,
                      k))
            return false;
    }
    return true;
}

static void lt_locked(void *arg)
{
    (void)arg;
    goro_lock_thread();
    pthread_t home = gt_self();
    long t0 = atomic_load(&lt_ticks);
    if (lt_stays(home, "locked")) {
        goro_lock_thread(); /* nested */
        goro_unlock_thread();
        if (lt_stays(home, "still locked after one of two unlocks")) {
            atomic_store(&lt_ticks_while_locked, atomic_load(&lt_ticks) - t0);
            goro_unlock_thread();
            goro_unlock_thread(); /* an extra unlock is ignored */
            /* GORO_DEBUG=migrate and busy Ps: unlocked, it moves soon. */
            int64_t deadline = goro_now() + gt_ms(5000);
            while (goro_now() < deadline) {
                goro_yield();
                if (!pthread_equal(gt_self(), home)) {
                    atomic_store(&lt_moved_after_unlock, 1);
                    break;
                }
            }
        }
    }
    atomic_store(&lt_stop, true);
    atomic_fetch_add_explicit(&lt_done, 1, memory_order_release);
}

Test(sched, lock_thread, .init = env_migrate, .timeout = GT_TIMEOUT(20))
{
    goro_lock_thread(); /* no-ops on a plain thread */
    goro_unlock_thread();
    goro_unlock_thread();
    for (int i = 0; i < 4; i++)
        cr_assert_eq(goro_go(lt_ticker, NULL), 0);
    cr_assert_eq(goro_go(lt_locked, NULL), 0);
    cr_assert(gt_wait_count(&lt_done, 5, gt_ms(15000)), "locked goroutine or tickers stuck");
    gt_assert_no_failures();
    cr_assert_gt(atomic_load(&lt_ticks_while_locked), 0,
                 "other goroutines did not run while one was locked");
    cr_assert(atomic_load(&lt_moved_after_unlock), "never migrated after unlocking");
    gt_quiesce();
}

/* A locked goroutine blocks its thread in a plain system call while other
 * work waits, so sysmon hands its P to another thread; then it parks.  Its
 * thread must wait for it without a P, get one back when it is readied, and
 * go on parking and waking on that thread, round after round. */
#define LH_ROUNDS 5

static _Atomic bool lh_pending_ran;
static _Atomic long lh_done;

static void lh_pending(void *arg)
{
    int v = 1;
    atomic_store(&lh_pending_ran, true);
    goro_sleep(GORO_MILLISECOND); /* so that the receive below parks */
    gt_check(goro_chan_send(arg, &v) == 0, "send failed");
}

static bool lh_home(pthread_t home, int round, const char *after)
{
    return gt_check(pthread_equal(gt_self(), home), "round %d: moved threads after %s", round,
                    after);
}

static void lh_locked(void *arg)
{
    goro_chan *c = arg;

    goro_lock_thread();
    pthread_t home = gt_self();
    for (int r = 0; r < LH_ROUNDS; r++) {
        int v = 0;
        atomic_store(&lh_pending_ran, false);
        if (!gt_check(goro_go(lh_pending, c) == 0, "goro_go failed"))
            break;
        /* Block the thread, calling nothing of goro's, until the pending
         * goroutine ran: with one P, on another thread that sysmon gave
         * this thread's P to. */
        int64_t end = goro_now() + gt_ms(5000);
        while (!atomic_load(&lh_pending_ran) && goro_now() < end)
            usleep(1000);
        if (!gt_check(atomic_load(&lh_pending_ran), "round %d: no hand-off", r))
            break;
        goro_sleep(GORO_MILLISECOND);
        if (!lh_home(home, r, "a sleep"))
            break;
        if (!gt_check(goro_chan_recv(c, &v) == 0 && v == 1, "round %d: receive", r) ||
            !lh_home(home, r, "a receive"))
            break;
        goro_yield();
        if (!lh_home(home, r, "a yield"))
            break;
    }
    goro_unlock_thread();
    atomic_fetch_add_explicit(&lh_done, 1, memory_order_release);
}

Test(sched, lock_thread_after_handoff, .timeout = GT_TIMEOUT(30))
{
    int orig = goro_maxprocs(1);
    goro_chan *c = goro_chan_make(sizeof(int), 0);
    cr_assert_not_null(c);
    cr_assert_eq(goro_go(lh_locked, c), 0);
    cr_assert(gt_wait_count(&lh_done, 1, gt_ms(20000)), "the locked goroutine is stuck");
    gt_quiesce();
    goro_chan_release(c);
    goro_maxprocs(orig);
}

/* ---- lowering goro_maxprocs under running goroutines --------------------- */

/* Two CPU-bound goroutines hold both Ps, each with 4 goroutines queued on
 * its P.  Lowering the count to one retires one of those Ps while its
 * goroutine runs on: what was queued there must still run promptly (moved
 * to the global queue), not wait for the spinner to let go. */
#define MS_QUEUED 4

static _Atomic long ms_spinning, ms_queued, ms_ran;
static _Atomic bool ms_release;

static void ms_worker(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&ms_ran, 1, memory_order_release);
}

static void ms_spinner(void *arg)
{
    (void)arg;
    int64_t end = goro_now() + gt_ms(20000);
    /* Both spinning at once: on the two Ps. */
    atomic_fetch_add(&ms_spinning, 1);
    while (atomic_load(&ms_spinning) < 2 && goro_now() < end)
        ;
    for (int i = 0; i < MS_QUEUED; i++)
        gt_check(goro_go(ms_worker, NULL) == 0, "goro_go failed");
    atomic_fetch_add(&ms_queued, MS_QUEUED);
    while (!atomic_load(&ms_release) && goro_now() < end)
        ;
}

Test(sched, maxprocs_shrink_moves_queued, .timeout = GT_TIMEOUT(30))
{
    int orig = goro_maxprocs(2);
    cr_assert_eq(goro_go(ms_spinner, NULL), 0);
    cr_assert_eq(goro_go(ms_spinner, NULL), 0);
    cr_assert(gt_wait_count(&ms_queued, 2 * MS_QUEUED, gt_ms(10000)), "spinners never queued");
    cr_assert_eq(goro_maxprocs(1), 2);
    bool ran = gt_wait_count(&ms_ran, 2 * MS_QUEUED, gt_ms(3000));
    long n = atomic_load(&ms_ran);
    atomic_store(&ms_release, true);
    cr_assert(ran, "after goro_maxprocs(2 -> 1), %ld of %d queued goroutines ran in 3 s", n,
              2 * MS_QUEUED);
    cr_assert(gt_wait_until(gt_no_goroutines, NULL, gt_ms(10000)), "spinners never ended");
    /* The retired P is gone for good: one goroutine at a time again. */
    cr_assert_eq(mp_measure(1), 1, "more than one goroutine ran at once after the shrink");
    gt_quiesce();
    goro_maxprocs(orig);
}

/* ---- thread creation failing --------------------------------------------- */

#ifdef GORO_TESTING
/* Exported by GORO_TESTING builds: while on, every thread start fails with
 * EAGAIN (src/os_linux.c, "Fault injection"). */
extern void goro__test_fail_threads(bool on);

static _Atomic long tf_ran;

static void tf_run(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&tf_ran, 1, memory_order_release);
}

/* The runtime has no M yet and cannot start one: the goroutine waits, and
 * runs as soon as threads can be created again. */
Test(sched, thread_start_fails_then_recovers, .timeout = GT_TIMEOUT(30))
{
    goro_maxprocs(0); /* starts the runtime (sysmon), but no M */
    goro__test_fail_threads(true);
    cr_assert_eq(goro_go(tf_run, NULL), 0);
    goro_sleep(100 * GORO_MILLISECOND); /* sysmon retries meanwhile, and fails */
    long early = atomic_load(&tf_ran);
    goro__test_fail_threads(false);
    cr_assert_eq(early, 0, "a goroutine ran with no thread to run it");
    cr_assert(gt_wait_count(&tf_ran, 1, gt_ms(5000)),
              "the goroutine never ran after thread creation worked again");
    gt_quiesce();
}

/* Threads cannot be created for good while main waits for a goroutine:
 * a fatal error naming the cause, not a silent hang (child process). */
static void tf_close(void *arg)
{
    goro_chan_close(arg);
}

static void child_thread_start_fails(void)
{
    goro_maxprocs(0);
    goro__test_fail_threads(true);
    goro_chan *c = goro_chan_make(0, 0);
    if (!c || goro_go(tf_close, c) != 0)
        _exit(3);
    goro_chan_recv(c, NULL); /* must not return: no thread will run the close */
    _exit(4);
}

Test(sched, thread_start_fails_for_good, .timeout = GT_TIMEOUT(60))
{
    static char out[32768];
    int status;
    gt_run_child(CHILD_ENV, "thread_start_fails", out, sizeof out, &status);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "child ended with status %#x, not SIGABRT; stderr:\n%s", status, out);
    cr_assert_not_null(strstr(out, "fatal error: cannot create an OS thread to run goroutines"),
                       "stderr:\n%s", out);
}
#else
Test(sched, thread_start_fails, .disabled = true) {}
#endif

/* ---- floating-point control state ---------------------------------------- */

#define FP_ROUNDS 300

static _Atomic long fp_done;

static void fp_upward(void *arg)
{
    (void)arg;
    fesetround(FE_UPWARD);
    for (int k = 0; k < FP_ROUNDS; k++) {
        if (k % 50 == 49)
            goro_sleep(GORO_MILLISECOND);
        else
            goro_yield();
        int r = fegetround();
        if (!gt_check(r == FE_UPWARD, "rounding mode %#x after switch %d, want FE_UPWARD", r, k))
            break;
    }
    fesetround(FE_TONEAREST);
    atomic_fetch_add_explicit(&fp_done, 1, memory_order_release);
}

static void fp_default(void *arg)
{
    (void)arg;
    for (int k = 0; k < FP_ROUNDS; k++) {
        goro_yield();
        int r = fegetround();
        if (!gt_check(r == FE_TONEAREST, "another goroutine's rounding mode %#x leaked", r))
            break;
    }
    atomic_fetch_add_explicit(&fp_done, 1, memory_order_release);
}

Test(sched, fp_state, .init = env_migrate, .timeout = GT_TIMEOUT(20))
{
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(goro_go(fp_upward, NULL), 0);
        cr_assert_eq(goro_go(fp_default, NULL), 0);
    }
    cr_assert(gt_wait_count(&fp_done, 8, gt_ms(15000)));
    cr_assert_eq(fegetround(), FE_TONEAREST);
    gt_quiesce();
}

/* ---- fairness: time slices ------------------------------------------------ */

/* A request/response pair hands the CPU back and forth through runnext: each
 * send readies the partner into the slot the sender's P runs next, so the
 * pair alone could keep a P forever.  The partner inherits the time slice;
 * once a slice has lasted 10 ms while other work waits, the pair goes to
 * the back of the queue.  A sleeper and a yielder beside one pair per P
 * must keep running. */
static _Atomic int fair_stop;
static _Atomic long fair_rounds, fair_sleeps, fair_yields, fair_done;

static void fair_pong(void *arg)
{
    goro_chan **c = arg;
    long v;
    while (goro_chan_recv(c[0], &v) == 0)
        goro_chan_send(c[1], &v);
    atomic_fetch_add(&fair_done, 1);
}

static void fair_ping(void *arg)
{
    goro_chan **c = arg;
    long v = 0;
    while (!atomic_load_explicit(&fair_stop, memory_order_relaxed)) {
        goro_chan_send(c[0], &v);
        goro_chan_recv(c[1], &v);
        atomic_fetch_add_explicit(&fair_rounds, 1, memory_order_relaxed);
    }
    goro_chan_close(c[0]);
    atomic_fetch_add(&fair_done, 1);
}

static void fair_sleeper(void *arg)
{
    (void)arg;
    while (!atomic_load(&fair_stop)) {
        goro_sleep(GORO_MILLISECOND);
        atomic_fetch_add(&fair_sleeps, 1);
    }
    atomic_fetch_add(&fair_done, 1);
}

static void fair_yielder(void *arg)
{
    (void)arg;
    while (!atomic_load(&fair_stop)) {
        goro_yield();
        atomic_fetch_add(&fair_yields, 1);
    }
    atomic_fetch_add(&fair_done, 1);
}

Test(sched, chatty_pairs_do_not_starve_others, .timeout = GT_TIMEOUT(30))
{
    int npairs = goro_maxprocs(0);
    goro_chan *chans[GORO_MAX_PROCS][2];

    cr_assert_eq(goro_go(fair_sleeper, NULL), 0);
    cr_assert_eq(goro_go(fair_yielder, NULL), 0);
    for (int i = 0; i < npairs; i++) {
        chans[i][0] = gt_mkchan(sizeof(long), 0);
        chans[i][1] = gt_mkchan(sizeof(long), 0);
        cr_assert_eq(goro_go(fair_pong, chans[i]), 0);
        cr_assert_eq(goro_go(fair_ping, chans[i]), 0);
    }
    /* Let the pairs get going (the sleeper and yielder then sit in local
     * queues behind them), then count for a second. */
    goro_sleep(50 * GORO_MILLISECOND);
    long s0 = atomic_load(&fair_sleeps), y0 = atomic_load(&fair_yields);
    goro_sleep(GORO_SECOND);
    long s = atomic_load(&fair_sleeps) - s0, y = atomic_load(&fair_yields) - y0;
    long r = atomic_load(&fair_rounds);
    atomic_store(&fair_stop, 1);
    cr_assert(gt_wait_count(&fair_done, 2 + 2 * npairs, gt_ms(10000)),
              "goroutines did not stop: %ld of %d", atomic_load(&fair_done), 2 + 2 * npairs);
    for (int i = 0; i < npairs; i++) {
        goro_chan_release(chans[i][0]);
        goro_chan_release(chans[i][1]);
    }
    /* With 10 ms slices, about 90 of each; far fewer on a loaded machine. */
    cr_assert_geq(s, 10, "1 ms sleeper woke %ld times in 1 s beside %d pairs (%ld round trips)",
                  s, npairs, r);
    cr_assert_geq(y, 10, "yielder ran %ld times in 1 s beside %d pairs (%ld round trips)", y,
                  npairs, r);
    gt_quiesce();
}

/* ---- a machine short of CPUs -------------------------------------------- */

/* Every thread of the process (and so every thread it starts later) on
 * one CPU.  Twice over the list: a thread started during the first pass
 * inherited the old mask. */
static void pin_process(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    for (int pass = 0; pass < 2; pass++) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *e;
        cr_assert(d, "/proc/self/task: %s", strerror(errno));
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                sched_setaffinity(atoi(e->d_name), sizeof set, &set);
        closedir(d);
    }
}

static _Atomic bool starve_stop;
static _Atomic long starve_yields;

static void *starve_hog(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&starve_stop, memory_order_relaxed))
        ;
    return NULL;
}

static void starve_yielder(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&starve_stop, memory_order_relaxed)) {
        goro_yield();
        atomic_fetch_add_explicit(&starve_yields, 1, memory_order_relaxed);
    }
}

/* Four threads outside goro spin on the one CPU that all of the process
 * runs on, beside goroutines that keep two Ps' queues full.  goro's Ms
 * then spend most of their time runnable but waiting for the CPU, each
 * P's current goroutine unchanged for longer than sysmon's 10 ms.  That
 * is not a goroutine holding its thread: handing such a P to a new M adds
 * a thread that waits in the same run queue, so goro must not (when it
 * did, this test's count grew by 2 or 3 in the second, and a loaded run of
 * the libcurl suite reached 18 threads for 2 Ps). */
Test(sched, starved_threads_keep_their_ps, .timeout = GT_TIMEOUT(30))
{
    cpu_set_t mine;
    pthread_t hogs[4];
    goro_stats st;
    int cpu = 0;

    if (gt_valgrind())
        cr_skip_test("Valgrind runs one thread at a time: no run queue to wait in");
    goro_maxprocs(2);
    cr_assert_eq(sched_getaffinity(0, sizeof mine, &mine), 0);
    while (!CPU_ISSET(cpu, &mine))
        cpu++;
    for (int i = 0; i < 8; i++)
        gt_spawn(starve_yielder, NULL);
    goro_sleep(20 * GORO_MILLISECOND);
    pin_process(cpu);
    cr_assert_eq(goro_stats_get(&st), 0);
    int before = st.threads;
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&hogs[i], NULL, starve_hog, NULL), 0);
    goro_sleep(gt_ms(1000));
    cr_assert_eq(goro_stats_get(&st), 0);
    long yields = atomic_load(&starve_yields);
    atomic_store(&starve_stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(hogs[i], NULL);
    cr_assert_gt(yields, 0, "the goroutines never ran");
    cr_assert_leq(st.threads - before, 1,
                  "%d threads before the CPU ran short, %d after 1 s of it (%ld yields)",
                  before, st.threads, yields);
    gt_quiesce();
}
