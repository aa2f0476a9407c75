/* B10 timers: 100,000 goroutines each goro_sleep a pseudo-random 1-100 ms,
 * 10 times.  Goroutine i draws its durations from splitmix64 seeded with i
 * (the Go twin uses the same generator, so both sides sleep exactly the
 * same).  Each sleep's lateness (measured duration minus requested) goes
 * into a preallocated array.  All Ps.
 * Argument "p99" (default) or "wall" picks the metric printed last:
 *     timers_wall wall_ms ... ms          (first spawn until all are done;
 *                                          the ideal, printed above it, is the
 *                                          largest per-goroutine sum of sleeps)
 *     timers_p99 p99_lateness_us ... us
 * Go twin: bench/go/timers. */
#include "bench.h"

#include <stdint.h>

#define G 100000
#define SLEEPS 10
#define GOLDEN 0x9E3779B97F4A7C15ULL

static int64_t lat[(size_t)G * SLEEPS]; /* ns late, per sleep */
static goro_waitgroup wg = GORO_WAITGROUP_INIT;
static double wall_ms;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += GOLDEN);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int64_t sleep_ms(uint64_t *s) { return 1 + (int64_t)(splitmix64(s) % 100); }

static void sleeper(void *arg)
{
    uint64_t i = (uint64_t)(uintptr_t)arg, s = i;
    for (int k = 0; k < SLEEPS; k++) {
        int64_t d = sleep_ms(&s) * GORO_MILLISECOND;
        int64_t t = goro_now();
        goro_sleep(d);
        lat[i * SLEEPS + k] = goro_now() - t - d;
    }
    BENCH_OK(goro_waitgroup_done(&wg));
}

static void body(void *unused)
{
    (void)unused;
    BENCH_OK(goro_waitgroup_add(&wg, G));
    int64_t t0 = goro_now();
    for (uintptr_t i = 0; i < G; i++)
        BENCH_OK(goro_go(sleeper, (void *)i));
    goro_waitgroup_wait(&wg);
    wall_ms = (double)(goro_now() - t0) / 1e6;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The value at quantile q (0..1] of the sorted array: the ceil(q*n)-th. */
static double quantile_us(const int64_t *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);
    return (double)v[k > 0 ? k - 1 : 0] / 1e3;
}

int main(int argc, char **argv)
{
    const char *last = argc > 1 ? argv[1] : "p99";
    BENCH_CHECK(strcmp(last, "p99") == 0 || strcmp(last, "wall") == 0, "argument: p99 or wall");
    int64_t ideal = 0, total = 0;
    for (uint64_t i = 0; i < G; i++) {
        uint64_t s = i;
        int64_t sum = 0;
        for (int k = 0; k < SLEEPS; k++)
            sum += sleep_ms(&s);
        total += sum;
        if (sum > ideal)
            ideal = sum;
    }
    int procs = goro_maxprocs(0);
    BENCH_OK(goro_main(body, NULL));
    size_t n = (size_t)G * SLEEPS;
    qsort(lat, n, sizeof lat[0], cmp64);
    BENCH_CHECK(lat[0] >= 0, "a sleep returned %lld ns early", (long long)-lat[0]);
    printf("timers: %d goroutines x %d sleeps of 1-100 ms (%lld ms in all), %d Ps\n", G, SLEEPS,
           (long long)total, procs);
    printf("timers: lateness p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
           quantile_us(lat, n, 0.50), quantile_us(lat, n, 0.90), quantile_us(lat, n, 0.99),
           quantile_us(lat, n, 0.999), (double)lat[n - 1] / 1e3);
    printf("timers: wall %.1f ms, ideal %lld ms (+%.1f ms)\n", wall_ms, (long long)ideal,
           wall_ms - (double)ideal);
    if (strcmp(last, "wall") == 0)
        bench_report("timers_wall", "wall_ms", wall_ms, "ms");
    else
        bench_report("timers_p99", "p99_lateness_us", quantile_us(lat, n, 0.99), "us");
    return 0;
}
