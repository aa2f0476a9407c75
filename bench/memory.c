/* B7 memory: N goroutines (argument 1: 100000 or 1000000) each blocked
 * receiving from one unbuffered signal channel.  Measures the RSS growth
 * per goroutine (/proc/self/statm read before the first spawn and after all
 * are parked: goro_num_goroutine() has reached N + 1, the spawner included,
 * plus a 50 ms settle) and the spawn time (ms from the first spawn until the
 * last goroutine has arrived at its receive; each counts itself in on the
 * way, and the last one records the time).  Then closes the channel and
 * waits for all to finish (a goro_waitgroup).  All Ps.
 * Argument 2, "bytes" (default) or "spawn", picks which metric is printed
 * last (the one bench/run reads); both are always printed:
 *     memory_100k_spawn spawn_ms ... ms
 *     memory_100k_bytes bytes_per_goroutine ... B
 * Go twin: bench/go/memory. */
#include "bench.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

static long n;
static goro_chan *gate, *ready;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;
static _Atomic long arrived;
static int64_t t_last;
static double spawn_ms, bytes_per, teardown_ms;
static long alive;

static long rss_pages(void)
{
    long size = 0, rss = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    BENCH_CHECK(f != NULL, "cannot open /proc/self/statm");
    BENCH_CHECK(fscanf(f, "%ld %ld", &size, &rss) == 2, "cannot parse /proc/self/statm");
    fclose(f);
    return rss;
}

static void sleeper(void *unused)
{
    (void)unused;
    if (atomic_fetch_add_explicit(&arrived, 1, memory_order_acq_rel) + 1 == n) {
        t_last = goro_now();
        BENCH_OK(goro_chan_send(ready, NULL));
    }
    int e = goro_chan_recv(gate, NULL); /* parks until the close */
    BENCH_CHECK(e == EPIPE, "recv on the gate returned %d, want EPIPE", e);
    BENCH_OK(goro_waitgroup_done(&wg));
}

static void body(void *unused)
{
    (void)unused;
    gate = bench_chan(0, 0);
    ready = bench_chan(0, 1);
    long rss0 = rss_pages();
    BENCH_OK(goro_waitgroup_add(&wg, (int)n));
    int64_t t0 = goro_now();
    for (long i = 0; i < n; i++)
        BENCH_OK(goro_go(sleeper, NULL));
    BENCH_OK(goro_chan_recv(ready, NULL));
    spawn_ms = (double)(t_last - t0) / 1e6;
    while (goro_num_goroutine() < n + 1)
        goro_sleep(GORO_MILLISECOND);
    goro_sleep(50 * GORO_MILLISECOND); /* settle: the last one parks */
    alive = goro_num_goroutine();
    long rss1 = rss_pages();
    bytes_per = (double)(rss1 - rss0) * (double)sysconf(_SC_PAGESIZE) / (double)n;
    int64_t t1 = goro_now();
    BENCH_OK(goro_chan_close(gate));
    goro_waitgroup_wait(&wg);
    teardown_ms = (double)(goro_now() - t1) / 1e6;
    goro_chan_release(gate);
    goro_chan_release(ready);
}

int main(int argc, char **argv)
{
    n = argc > 1 ? atol(argv[1]) : 100000;
    const char *last = argc > 2 ? argv[2] : "bytes";
    BENCH_CHECK(n > 0 && n <= 100000000, "argument 1: goroutine count");
    BENCH_CHECK(strcmp(last, "bytes") == 0 || strcmp(last, "spawn") == 0,
                "argument 2: bytes or spawn");
    int procs = goro_maxprocs(0);
    BENCH_OK(goro_main(body, NULL));
    BENCH_CHECK(atomic_load(&arrived) == n, "%ld arrived, want %ld", atomic_load(&arrived), n);
    BENCH_CHECK(alive >= n + 1, "%ld goroutines alive, want %ld", alive, n + 1);
    char tag[32], bname[64], sname[64];
    if (n % 1000000 == 0)
        snprintf(tag, sizeof tag, "%ldm", n / 1000000);
    else if (n % 1000 == 0)
        snprintf(tag, sizeof tag, "%ldk", n / 1000);
    else
        snprintf(tag, sizeof tag, "%ld", n);
    snprintf(bname, sizeof bname, "memory_%s_bytes", tag);
    snprintf(sname, sizeof sname, "memory_%s_spawn", tag);
    printf("memory: %ld goroutines parked (%ld alive), %d Ps; close + wait %.1f ms\n", n, alive,
           procs, teardown_ms);
    if (strcmp(last, "bytes") == 0) {
        bench_report(sname, "spawn_ms", spawn_ms, "ms");
        bench_report(bname, "bytes_per_goroutine", bytes_per, "B");
    } else {
        bench_report(bname, "bytes_per_goroutine", bytes_per, "B");
        bench_report(sname, "spawn_ms", spawn_ms, "ms");
    }
    return 0;
}
