/* B6 mutex: 8 goroutines increment one counter under a goro_mutex,
 * 10,000,000 increments in all (1,250,000 each).  All Ps.  The counter is
 * checked at the end.  Metric: ns per increment (wall from the first spawn
 * until the last goroutine is done, / 10,000,000).
 * Go twin: bench/go/mutex. */
#include "bench.h"

#include <stdint.h>

#define TOTAL 10000000
#define WORKERS 8

static goro_mutex mu = GORO_MUTEX_INIT;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;
static int64_t counter;
static double ns;

static void incr(void *unused)
{
    (void)unused;
    for (int i = 0; i < TOTAL / WORKERS; i++) {
        goro_mutex_lock(&mu);
        counter++;
        goro_mutex_unlock(&mu);
    }
    BENCH_OK(goro_waitgroup_done(&wg));
}

static void body(void *unused)
{
    (void)unused;
    int64_t t0 = goro_now();
    BENCH_OK(goro_waitgroup_add(&wg, WORKERS));
    for (int i = 0; i < WORKERS; i++)
        BENCH_OK(goro_go(incr, NULL));
    goro_waitgroup_wait(&wg);
    ns = (double)(goro_now() - t0) / TOTAL;
}

int main(int argc, char **argv)
{
    int procs = bench_procs(argc, argv, 1);
    BENCH_OK(goro_main(body, NULL));
    BENCH_CHECK(counter == TOTAL, "counter %lld, want %d", (long long)counter, TOTAL);
    printf("mutex: %d goroutines, %d increments, %d Ps\n", WORKERS, TOTAL, procs);
    bench_report("mutex", "ns_per_increment", ns, "ns");
    return 0;
}
