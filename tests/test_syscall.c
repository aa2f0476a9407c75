/* test_syscall.c - system calls that block their thread: goro__syscall_enter
 * and goro__syscall_exit (Go: entersyscall, exitsyscall), sysmon's hand-off
 * of a P whose thread is in one, and the calls in goro that use them.
 *
 * The bracket is internal (src/runtime.h): the libc interposition and
 * io.c call it.  These tests declare it themselves.  Timing bounds are
 * well below sysmon's 10 ms rule for threads that block without saying
 * so, which is what a P stuck in a system call got before. */
#define _GNU_SOURCE
#include "common.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>

void goro__syscall_enter(void);
void goro__syscall_exit(void);
void goro__syscall_exit_any(void);

static void one_proc(void)
{
    setenv("GORO_MAXPROCS", "1", 1);
}

static bool flag_set(void *arg)
{
    return atomic_load((_Atomic bool *)arg);
}

/* Sleeps the thread (not the goroutine) for ns: a blocking system call. */
static void thread_sleep(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / GORO_SECOND, .tv_nsec = ns % GORO_SECOND};
    /* The raw call: libc's nanosleep in a goroutine would park it (hook.c). */
    while (syscall(SYS_nanosleep, &ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Whether the machine has more than two runnable threads per CPU: then a
 * thread waits milliseconds for a core after each wake-up, and bounds of
 * a millisecond or so measure the machine, not goro.  The timing bounds
 * below are checked only when it is not; everything else always is. */
static bool machine_busy(void)
{
    double load = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    bool busy = f && fscanf(f, "%lf", &load) == 1 && load > 2.0 * sysconf(_SC_NPROCESSORS_ONLN);
    if (f)
        fclose(f);
    return busy;
}

static void sort3(int64_t *v)
{
    for (int i = 1; i < 3; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            int64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

/* ---- a long call does not hold the only P ------------------------------- */

struct blocker {
    int64_t hold;               /* how long the call blocks */
    _Atomic int64_t entered;    /* goro_now() at enter */
    _Atomic int64_t other_ran;  /* goro_now() when the other G ran */
    _Atomic int64_t exited;     /* goro_now() after exit */
    _Atomic bool done;
    pthread_t thread_before, thread_after;
    int errno_after;
};

static void other(void *arg)
{
    struct blocker *b = arg;
    atomic_store(&b->other_ran, goro_now());
}

static void blocker(void *arg)
{
    struct blocker *b = arg;
    gt_check(goro_go(other, b) == 0, "spawn");
    b->thread_before = gt_self();
    atomic_store(&b->entered, goro_now());
    goro__syscall_enter();
    thread_sleep(b->hold);
    gt_set_errno(EIO);
    goro__syscall_exit();
    b->errno_after = gt_errno();
    b->thread_after = gt_self();
    atomic_store(&b->exited, goro_now());
    atomic_store(&b->done, true);
}

/* One P.  The blocker spawns another G (into its P's queue) and blocks for
 * 50 ms in a bracketed call; the other G must run during the call, a tick
 * or two of sysmon after it began (before, sysmon's 10 ms rule for
 * blocked threads took it).  Median of three: a loaded machine may delay
 * sysmon once. */
Test(syscall, blocking_call_lets_others_run, .init = one_proc, .timeout = GT_TIMEOUT(20))
{
    int64_t lat[3];
    for (int trial = 0; trial < 3; trial++) {
        struct blocker b = {.hold = 50 * GORO_MILLISECOND};
        cr_assert_eq(goro_go(blocker, &b), 0);
        cr_assert(gt_wait_until(flag_set, &b.done, gt_ms(5000)), "blocker never finished");
        cr_assert(gt_wait_until(gt_no_goroutines, NULL, gt_ms(5000)));
        int64_t ran = atomic_load(&b.other_ran);
        cr_assert(ran != 0, "the other goroutine never ran");
        cr_assert_lt(ran, atomic_load(&b.exited), "the other goroutine ran only after the call");
        lat[trial] = ran - atomic_load(&b.entered);
        cr_assert_eq(b.errno_after, EIO, "errno after exit: %d", b.errno_after);
        cr_assert(pthread_equal(b.thread_before, b.thread_after),
                  "the goroutine changed thread inside the bracket");
    }
    sort3(lat);
    if (!machine_busy())
        cr_assert_lt(lat[1], gt_ms(8), "the other G ran %.2f, %.2f, %.2f ms into the call",
                     lat[0] / 1e6, lat[1] / 1e6, lat[2] / 1e6);
    gt_quiesce();
}

/* ---- exit after the P was handed off ------------------------------------ */

static _Atomic bool spin_started, spin_done;
static _Atomic int64_t spin_start;

static void spinner(void *arg)
{
    (void)arg;
    atomic_store(&spin_started, true);
    atomic_store(&spin_start, goro_now());
    gt_spin(8 * GORO_MILLISECOND); /* holds the P, never parks (< 10 ms:
                                       sysmon would take it) */
    atomic_store(&spin_done, true);
}

struct resumer {
    _Atomic bool done;
    bool spin_done_at_exit;
    bool same_thread;
    int errno_after;
    long sum;
};

static void resumer(void *arg)
{
    struct resumer *r = arg;
    long sum = 0;
    gt_check(goro_go(spinner, NULL) == 0, "spawn");
    pthread_t before = gt_self();
    goro__syscall_enter();
    /* The spinner takes the P (handed off) and keeps it past our call. */
    for (int i = 0; i < 20000 && !atomic_load(&spin_started); i++)
        thread_sleep(100 * GORO_MICROSECOND);
    gt_set_errno(ENOSPC);
    goro__syscall_exit(); /* no P free: waits on this thread for one */
    r->errno_after = gt_errno();
    /* Either the spinner ended and let the P go, or (a loaded machine
     * delayed this thread) sysmon's 10 ms rule took it from the spinner. */
    r->spin_done_at_exit = atomic_load(&spin_done) ||
                           goro_now() - atomic_load(&spin_start) >= 9 * GORO_MILLISECOND;
    r->same_thread = pthread_equal(before, gt_self());
    for (int i = 1; i <= 100; i++) { /* carries on normally, parks too */
        sum += i;
        if (i % 10 == 0)
            goro_yield();
    }
    goro_sleep(GORO_MILLISECOND);
    r->sum = sum;
    atomic_store(&r->done, true);
}

/* One P.  The call's P goes to the spinner, which holds it for 8 ms; the
 * exit finds no idle P, requeues the G and waits on its thread; the
 * spinner ends, the G gets a P back and continues, with its errno and on
 * its thread. */
Test(syscall, exit_after_handoff_waits_for_p, .init = one_proc, .timeout = GT_TIMEOUT(20))
{
    struct resumer r = {0};
    atomic_store(&spin_started, false);
    atomic_store(&spin_done, false);
    cr_assert_eq(goro_go(resumer, &r), 0);
    cr_assert(gt_wait_until(flag_set, &r.done, gt_ms(5000)), "the goroutine never resumed");
    cr_assert(atomic_load(&spin_started), "the spinner never ran during the call");
    cr_assert(r.spin_done_at_exit, "exit ran on without a P while the spinner held it");
    cr_assert(r.same_thread, "the goroutine changed thread inside the bracket");
    cr_assert_eq(r.errno_after, ENOSPC, "errno after exit: %d", r.errno_after);
    cr_assert_eq(r.sum, 5050);
    gt_quiesce();
}

struct any {
    _Atomic bool done;
    int errno_after;
    long sum;
};

static void any_resumer(void *arg)
{
    struct any *a = arg;
    gt_check(goro_go(spinner, NULL) == 0, "spawn");
    goro__syscall_enter();
    for (int i = 0; i < 20000 && !atomic_load(&spin_started); i++)
        thread_sleep(100 * GORO_MICROSECOND);
    gt_set_errno(EROFS);
    goro__syscall_exit_any(); /* no P free: queued, may resume elsewhere */
    a->errno_after = gt_errno();
    for (int i = 1; i <= 100; i++)
        a->sum += i;
    goro_sleep(GORO_MILLISECOND);
    atomic_store(&a->done, true);
}

/* goro's own callers' exit (io.c): the same, but the goroutine may resume
 * on another thread, as in Go. */
Test(syscall, exit_any_after_handoff, .init = one_proc, .timeout = GT_TIMEOUT(20))
{
    struct any a = {0};
    atomic_store(&spin_started, false);
    atomic_store(&spin_done, false);
    cr_assert_eq(goro_go(any_resumer, &a), 0);
    cr_assert(gt_wait_until(flag_set, &a.done, gt_ms(5000)), "the goroutine never resumed");
    cr_assert(atomic_load(&spin_started), "the spinner never ran during the call");
    cr_assert_eq(a.errno_after, EROFS, "errno after exit: %d", a.errno_after);
    cr_assert_eq(a.sum, 5050);
    gt_quiesce();
}

/* One P.  The other G runs and ends during the call, leaving the P idle:
 * the exit takes it from the idle list. */
Test(syscall, exit_after_handoff_takes_idle_p, .init = one_proc, .timeout = GT_TIMEOUT(20))
{
    struct blocker b = {.hold = 20 * GORO_MILLISECOND};
    cr_assert_eq(goro_go(blocker, &b), 0);
    cr_assert(gt_wait_until(flag_set, &b.done, gt_ms(5000)), "blocker never finished");
    cr_assert(atomic_load(&b.other_ran) != 0);
    cr_assert_eq(b.errno_after, EIO);
    cr_assert(pthread_equal(b.thread_before, b.thread_after));
    gt_quiesce();
}

/* ---- errno, nesting, plain threads -------------------------------------- */

struct fast {
    int e1, e2, e3;
    _Atomic bool done;
};

static void fast_pairs(void *arg)
{
    struct fast *f = arg;
    gt_set_errno(EAGAIN);
    goro__syscall_enter();
    gt_set_errno(EBADF);
    goro__syscall_exit();
    f->e1 = gt_errno();
    /* Nested: only the outermost pair marks the P. */
    goro__syscall_enter();
    goro__syscall_enter();
    gt_set_errno(ENOENT);
    goro__syscall_exit();
    f->e2 = gt_errno();
    goro__syscall_exit();
    f->e3 = gt_errno();
    goro_sleep(GORO_MILLISECOND); /* may park again after the bracket */
    atomic_store(&f->done, true);
}

Test(syscall, errno_preserved_and_nesting, .init = one_proc, .timeout = GT_TIMEOUT(10))
{
    struct fast f = {0};
    cr_assert_eq(goro_go(fast_pairs, &f), 0);
    cr_assert(gt_wait_until(flag_set, &f.done, gt_ms(5000)));
    cr_assert_eq(f.e1, EBADF);
    cr_assert_eq(f.e2, ENOENT);
    cr_assert_eq(f.e3, ENOENT);
    gt_quiesce();
}

/* Before the runtime starts and on a plain thread: no-ops, errno kept,
 * and an unpaired exit is ignored (no goroutine to check it against). */
Test(syscall, plain_thread_noop, .timeout = GT_TIMEOUT(10))
{
    errno = EPIPE;
    goro__syscall_enter(); /* runtime not started yet */
    goro__syscall_exit();
    cr_assert_eq(errno, EPIPE);
    goro_sleep(GORO_MILLISECOND); /* starts the runtime */
    goro__syscall_enter();
    errno = EINTR;
    goro__syscall_exit();
    goro__syscall_exit();
    cr_assert_eq(errno, EINTR);
    gt_quiesce();
}

static void unpaired_exit(void *arg)
{
    (void)arg;
    goro__syscall_exit();
}

Test(syscall, unpaired_exit_aborts, .signal = SIGABRT, .timeout = GT_TIMEOUT(10))
{
    cr_assert_eq(goro_go(unpaired_exit, NULL), 0);
    goro_sleep(gt_ms(5000));
}

static void park_inside(void *arg)
{
    (void)arg;
    goro__syscall_enter();
    goro_sleep(GORO_MILLISECOND);
}

Test(syscall, park_inside_bracket_aborts, .signal = SIGABRT, .timeout = GT_TIMEOUT(10))
{
    cr_assert_eq(goro_go(park_inside, NULL), 0);
    goro_sleep(gt_ms(5000));
}

/* ---- a loop of short file reads does not hold up a ticker --------------- */

#define TICKS 100
#define TICK (3 * GORO_MILLISECOND)

static _Atomic bool reading;
static _Atomic long nreads;

struct ticker {
    int64_t late[TICKS];
    _Atomic bool started, done;
};

static void ticker(void *arg)
{
    struct ticker *t = arg;
    atomic_store(&t->started, true);
    int64_t next = goro_now() + TICK;
    for (int i = 0; i < TICKS; i++) {
        goro_sleep(next - goro_now());
        int64_t now = goro_now();
        t->late[i] = now - next;
        next += TICK;
        if (next < now)
            next = now + TICK;
    }
    atomic_store(&t->done, true);
}

static int tmp_file(size_t size)
{
    char path[] = "/tmp/goro_syscall_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    for (size_t n = 0; n < size; n += sizeof buf)
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
            return -1;
    return fd;
}

struct reader {
    int fd;
    bool use_goro_read;
    _Atomic bool done; /* its reads happen before the test closes fd */
};

/* Reads the file over and over, 4 KiB at a time, never parking. */
static void reader(void *arg)
{
    struct reader *r = arg;
    char buf[4096];
    while (atomic_load(&reading)) {
        ssize_t n;
        if (r->use_goro_read) {
            n = goro_read(r->fd, buf, sizeof buf);
        } else {
            goro__syscall_enter();
            n = read(r->fd, buf, sizeof buf);
            goro__syscall_exit();
        }
        if (n == 0)
            lseek(r->fd, 0, SEEK_SET);
        else if (!gt_check(n > 0, "read: %zd", n))
            break;
        atomic_fetch_add_explicit(&nreads, 1, memory_order_relaxed);
    }
    atomic_store(&r->done, true);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

enum { MODE_ALONE, MODE_READ, MODE_GORO_READ };

/* One trial: the ticker's 100 ticks, alone or beside the reader.  Returns
 * the 90th percentile of their lateness and, in *max, the largest. */
static int64_t ticker_trial(int fd, int mode, int64_t *max)
{
    struct reader r = {.fd = fd, .use_goro_read = mode == MODE_GORO_READ};
    struct ticker *t = calloc(1, sizeof *t);
    cr_assert(t);
    atomic_store(&reading, true);
    atomic_store(&nreads, 0);
    /* The ticker first: started after the reader, it would wait for the
     * P before its first tick is timed. */
    cr_assert_eq(goro_go(ticker, t), 0);
    cr_assert(gt_wait_until(flag_set, &t->started, gt_ms(5000)), "ticker never started");
    if (mode != MODE_ALONE)
        cr_assert_eq(goro_go(reader, &r), 0);
    cr_assert(gt_wait_until(flag_set, &t->done, gt_ms(10000)), "ticker never finished");
    atomic_store(&reading, false);
    if (mode != MODE_ALONE)
        cr_assert(gt_wait_until(flag_set, &r.done, gt_ms(5000)), "reader never stopped");
    cr_assert(gt_wait_until(gt_no_goroutines, NULL, gt_ms(5000)));
    if (mode != MODE_ALONE)
        cr_assert_gt(atomic_load(&nreads), 1000, "the reader hardly ran: %ld reads",
                     atomic_load(&nreads));
    qsort(t->late, TICKS, sizeof t->late[0], cmp64);
    int64_t p90 = t->late[TICKS * 9 / 10];
    *max = t->late[TICKS - 1];
    free(t);
    return p90;
}

/* One P.  Before, the reader kept the P until sysmon's 10 ms rule took it
 * (the first tick 8 to 12 ms late, every time); now sysmon asks it to
 * yield at its next call's exit once a timer of its P is due.  The ticker
 * runs alone, then beside the reader: the reader may add at most 1 ms to
 * the 90th percentile of its lateness and 5 ms to the largest.  The
 * machine's own noise shows in both runs of a pair, and only ever adds
 * lateness, so the best of five pairs counts. */
static void read_loop_vs_ticker(int mode)
{
    /* Beside the reader each late tick waits for two thread wake-ups (the
     * reader's yield and the hand-back), so on a machine with several
     * runnable threads per core the run queue alone costs milliseconds. */
    bool timed = !machine_busy(); /* else: one pair, untimed */
    int fd = tmp_file(1 << 20);
    cr_assert(fd >= 0, "temporary file: %s", strerror(errno));
    int64_t p90[2], max[2];
    int trial;
    for (trial = 0; trial < 5; trial++) {
        p90[0] = ticker_trial(fd, MODE_ALONE, &max[0]);
        p90[1] = ticker_trial(fd, mode, &max[1]);
        if (getenv("GT_DEBUG"))
            printf("alone %.2f/%.2f reader %.2f/%.2f\n", p90[0] / 1e6, max[0] / 1e6,
                   p90[1] / 1e6, max[1] / 1e6);
        if (!timed || (p90[1] < p90[0] + gt_ms(1) && max[1] < max[0] + gt_ms(5)))
            break;
    }
    close(fd);
    if (timed)
        cr_assert_lt(trial, 5,
                     "ticks late by (90th percentile / max) in the last of 5 trials: alone "
                     "%.2f / %.2f ms, beside the reader %.2f / %.2f ms",
                     p90[0] / 1e6, max[0] / 1e6, p90[1] / 1e6, max[1] / 1e6);
    gt_quiesce();
}

Test(syscall, file_read_loop_does_not_delay_ticker, .init = one_proc, .timeout = GT_TIMEOUT(30))
{
    read_loop_vs_ticker(MODE_READ);
}

/* The same through goro_read, which brackets a regular file's reads. */
Test(syscall, goro_read_file_loop_does_not_delay_ticker, .init = one_proc,
     .timeout = GT_TIMEOUT(30))
{
    read_loop_vs_ticker(MODE_GORO_READ);
}

/* ---- many calls at once ------------------------------------------------- */

#define MANY 64

static _Atomic long many_done;

static void many_sleeper(void *arg)
{
    (void)arg;
    goro__syscall_enter();
    thread_sleep(30 * GORO_MILLISECOND);
    goro__syscall_exit();
    goro_yield();
    atomic_fetch_add(&many_done, 1);
}

/* Two Ps, 64 goroutines in 30 ms calls at once: each call's P is handed
 * on within sysmon's fast period, so the calls overlap (with a hand-off
 * after 10 ms each, the wave took 320 ms and more), and every one
 * finishes.  The threads are about one per call
 * blocked at once; a second wave reuses them. */
Test(syscall, many_calls_two_procs, .timeout = GT_TIMEOUT(30))
{
    goro_maxprocs(2);
    int base = gt_thread_count();
    int after[2];
    for (int wave = 0; wave < 2; wave++) {
        atomic_store(&many_done, 0);
        int64_t t0 = goro_now();
        for (int i = 0; i < MANY; i++)
            cr_assert_eq(goro_go(many_sleeper, NULL), 0);
        cr_assert(gt_wait_count(&many_done, MANY, gt_ms(10000)), "%ld of %d finished",
                  atomic_load(&many_done), MANY);
        int64_t took = goro_now() - t0;
        if (!machine_busy())
            cr_assert_lt(took, gt_ms(250), "wave %d took %.1f ms", wave, took / 1e6);
        cr_assert(gt_wait_until(gt_no_goroutines, NULL, gt_ms(5000)));
        after[wave] = gt_thread_count();
        cr_assert_leq(after[wave], base + MANY + 8, "threads: %d before, %d after wave %d", base,
                      after[wave], wave);
    }
    cr_assert_leq(after[1], after[0] + MANY / 4, "the second wave started threads: %d then %d",
                  after[0], after[1]);
    gt_quiesce();
}
