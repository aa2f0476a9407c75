/* syscall.c - the cost of announcing a blocking system call to the
 * scheduler (goro__syscall_enter/exit, Go: entersyscall/exitsyscall), the
 * latency of sysmon's hand-off of the P of a thread blocked in one, and
 * what sysmon's fast ticking costs while it lasts.
 *
 * goro only: the pair is internal (src/runtime.h), and Go has no switch to
 * run a system call without it.  For scale, Go's syscall.Syscall(getppid)
 * (which brackets the call the same way) is about as costly as the raw
 * call plus the pair measured here.
 *
 *   syscall [pairs]
 *
 * Prints, last, "syscall_pair ns_per_pair <v> ns". */
#define _GNU_SOURCE
#include "bench.h"

#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void goro__syscall_enter(void);
void goro__syscall_exit(void);

static long pairs = 10000000;
static double pair_ns, raw_ns, bracketed_ns;

static void thread_sleep(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / GORO_SECOND, .tv_nsec = ns % GORO_SECOND};
    /* The raw call: libc's nanosleep in a goroutine would park it (hook.c). */
    while (syscall(SYS_nanosleep, &ts, &ts) != 0)
        ;
}

/* ---- the pair, and a cheap call with and without it --------------------- */

static void costs(void *arg)
{
    goro_chan *done = arg;
    int64_t t0 = goro_now();
    for (long i = 0; i < pairs; i++) {
        goro__syscall_enter();
        __asm__ volatile("" ::: "memory");
        goro__syscall_exit();
    }
    pair_ns = (double)(goro_now() - t0) / (double)pairs;

    long n = pairs / 10;
    t0 = goro_now();
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    raw_ns = (double)(goro_now() - t0) / (double)n;
    t0 = goro_now();
    for (long i = 0; i < n; i++) {
        goro__syscall_enter();
        syscall(SYS_getppid);
        goro__syscall_exit();
    }
    bracketed_ns = (double)(goro_now() - t0) / (double)n;
    goro_chan_close(done);
}

/* ---- hand-off latency --------------------------------------------------- */

struct handoff {
    _Atomic int64_t entered, ran;
    goro_chan *done;
};

static void other(void *arg)
{
    struct handoff *h = arg;
    atomic_store(&h->ran, goro_now());
}

static void blocker(void *arg)
{
    struct handoff *h = arg;
    BENCH_OK(goro_go(other, h));
    atomic_store(&h->entered, goro_now());
    goro__syscall_enter();
    thread_sleep(5 * GORO_MILLISECOND);
    goro__syscall_exit();
    goro_chan_close(h->done);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- sysmon's cost while calls go on ------------------------------------ */

/* A goroutine making short calls for a second, announced or not, beside an
 * armed timer: announced, sysmon ticks every 20 us the whole time (a P in
 * a call, or calls since its last look, and a timer that may need a P).
 * The difference in process CPU time is sysmon's price (plus the pairs'). */
struct loop {
    bool bracket;
    long calls;
    goro_chan *done;
};

static void call_loop(void *arg)
{
    struct loop *l = arg;
    int64_t end = goro_now() + GORO_SECOND;
    while (goro_now() < end) {
        for (int i = 0; i < 100; i++) {
            if (l->bracket)
                goro__syscall_enter();
            syscall(SYS_getppid);
            if (l->bracket)
                goro__syscall_exit();
        }
        l->calls += 100;
    }
    goro_chan_close(l->done);
}

static void timer_holder(void *arg)
{
    (void)arg;
    goro_sleep(1500 * GORO_MILLISECOND);
}

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3 +
           (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
}

static double loop_second_cpu(bool bracket, long *calls)
{
    struct loop l = {.bracket = bracket, .done = bench_chan(0, 0)};
    BENCH_OK(goro_go(timer_holder, NULL));
    goro_sleep(10 * GORO_MILLISECOND);
    double c0 = cpu_ms();
    BENCH_OK(goro_go(call_loop, &l));
    goro_chan_recv(l.done, NULL);
    double c = cpu_ms() - c0;
    goro_chan_release(l.done);
    goro_sleep(600 * GORO_MILLISECOND); /* timer_holder ends */
    *calls = l.calls;
    return c;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        pairs = atol(argv[1]);
    goro_maxprocs(1);

    goro_chan *done = bench_chan(0, 0);
    BENCH_OK(goro_go(costs, done));
    goro_chan_recv(done, NULL);
    goro_chan_release(done);

    enum { TRIALS = 51 };
    int64_t lat[TRIALS];
    for (int i = 0; i < TRIALS; i++) {
        struct handoff h = {.done = bench_chan(0, 0)};
        BENCH_OK(goro_go(blocker, &h));
        goro_chan_recv(h.done, NULL);
        goro_chan_release(h.done);
        for (int k = 0; k < 1000 && !atomic_load(&h.ran); k++)
            goro_sleep(GORO_MILLISECOND); /* ran after the call, if at all */
        BENCH_CHECK(atomic_load(&h.ran) > 0, "the other goroutine never ran");
        lat[i] = atomic_load(&h.ran) - atomic_load(&h.entered);
        goro_sleep(GORO_MILLISECOND);
    }
    qsort(lat, TRIALS, sizeof lat[0], cmp64);

    long plain_calls, announced_calls;
    double plain_cpu = loop_second_cpu(false, &plain_calls);
    double announced_cpu = loop_second_cpu(true, &announced_calls);

    printf("getppid raw %.1f ns, bracketed %.1f ns\n", raw_ns, bracketed_ns);
    printf("handoff latency (GORO_MAXPROCS=1, %d trials): median %.1f us, p90 %.1f us, max %.1f us\n",
           TRIALS, lat[TRIALS / 2] / 1e3, lat[TRIALS * 9 / 10] / 1e3, lat[TRIALS - 1] / 1e3);
    printf("1 s of getppid calls beside a timer: unannounced %.0f ms CPU (%ld calls), "
           "announced %.0f ms CPU (%ld calls)\n",
           plain_cpu, plain_calls, announced_cpu, announced_calls);
    printf("syscall_handoff us_median %.1f us\n", lat[TRIALS / 2] / 1e3);
    printf("syscall_pair ns_per_pair %.2f ns\n", pair_ns);
    return 0;
}
