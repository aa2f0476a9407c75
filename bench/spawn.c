/* spawn (not in docs/benchmarks.md's list): spawn and complete 1,000,000 goroutines.
 * Argument "waves" (default): from a goroutine, 100 waves of 10,000, each
 * wave waited for before the next; "all": one goroutine spawns all
 * 1,000,000, then waits.  Each goroutine adds its index to a sum and
 * decrements a counter; the one that brings it to 0 signals a done channel
 * (a hand-made WaitGroup; the Go twin does exactly the same).  All Ps.
 * Metric: wall ms.  Go twin: bench/go/spawn. */
#include "bench.h"

#include <stdatomic.h>
#include <stdint.h>

#define TOTAL 1000000
#define WAVE 10000

static goro_chan *done;
static _Atomic int64_t pending, sum;
static double ms;
static int wave;

static void child(void *arg)
{
    atomic_fetch_add_explicit(&sum, (int64_t)(intptr_t)arg, memory_order_relaxed);
    if (atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel) == 1)
        BENCH_OK(goro_chan_send(done, NULL));
}

static void body(void *unused)
{
    (void)unused;
    done = bench_chan(0, 1);
    int64_t t0 = goro_now();
    for (int base = 0; base < TOTAL; base += wave) {
        atomic_store(&pending, wave);
        for (int i = base; i < base + wave; i++)
            BENCH_OK(goro_go(child, (void *)(intptr_t)i));
        BENCH_OK(goro_chan_recv(done, NULL));
    }
    ms = (double)(goro_now() - t0) / 1e6;
    goro_chan_release(done);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "waves";
    if (strcmp(mode, "waves") == 0)
        wave = WAVE;
    else if (strcmp(mode, "all") == 0)
        wave = TOTAL;
    else
        BENCH_CHECK(0, "argument: waves or all");
    int procs = goro_maxprocs(0);
    char name[64];
    BENCH_OK(goro_main(body, NULL));
    BENCH_CHECK(atomic_load(&sum) == (int64_t)TOTAL * (TOTAL - 1) / 2, "sum %lld",
                (long long)atomic_load(&sum));
    snprintf(name, sizeof name, "spawn_%s", mode);
    printf("spawn: %d goroutines in waves of %d, %d Ps\n", TOTAL, wave, procs);
    bench_report(name, "wall_ms", ms, "ms");
    return 0;
}
