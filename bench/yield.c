/* B4 yield: 2 goroutines x 5,000,000 goro_yield() on 1 P (goro_maxprocs(1)).
 * Metric: ns per switch = wall / 10,000,000 yields.  The spawner waits on a
 * channel, so only the two yielders are runnable.
 * Go twin: bench/go/yield (runtime.GOMAXPROCS(1), runtime.Gosched()). */
#include "bench.h"

#include <stdint.h>

#define PER 5000000
#define NG 2

static goro_chan *done;
static int64_t counts[NG];
static double ns;

static void yielder(void *arg)
{
    int64_t *n = arg;
    for (int i = 0; i < PER; i++) {
        goro_yield();
        (*n)++;
    }
    BENCH_OK(goro_chan_send(done, NULL));
}

static void body(void *unused)
{
    (void)unused;
    done = bench_chan(0, 0);
    int64_t t0 = goro_now();
    for (int i = 0; i < NG; i++)
        BENCH_OK(goro_go(yielder, &counts[i]));
    for (int i = 0; i < NG; i++)
        BENCH_OK(goro_chan_recv(done, NULL));
    ns = (double)(goro_now() - t0) / ((double)NG * PER);
    goro_chan_release(done);
}

int main(void)
{
    goro_maxprocs(1);
    BENCH_OK(goro_main(body, NULL));
    for (int i = 0; i < NG; i++)
        BENCH_CHECK(counts[i] == PER, "yielder %d counted %lld, want %d", i,
                    (long long)counts[i], PER);
    printf("yield: %d goroutines x %d yields, 1 P\n", NG, PER);
    bench_report("yield", "ns_per_switch", ns, "ns");
    return 0;
}
