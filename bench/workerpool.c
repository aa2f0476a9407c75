/* B8 workerpool: the worker pool of the guide (docs/guide.md, section 3):
 * a jobs channel of cap 100 and a results channel of cap 100, one worker
 * per P (goro_maxprocs(0)); a producer goroutine sends jobs 1..1,000,000
 * and closes the jobs channel; each worker ranges over the jobs and sends
 * j*2; the spawner receives the 1,000,000 results and checks their sum.
 * All Ps.  Metric: jobs per second (throughput: higher is better).
 * Go twin: bench/go/workerpool. */
#include "bench.h"

#include <stdint.h>

#define JOBS 1000000
#define CAP 100

static goro_chan *jobs, *results;
static int64_t sum;
static double jobs_per_s;
static int nworkers;
static goro_waitgroup wg = GORO_WAITGROUP_INIT; /* the workers have returned */

static void worker(void *unused)
{
    (void)unused;
    int64_t j;
    while (goro_chan_recv(jobs, &j) == 0) { /* for j := range jobs */
        int64_t r = j * 2;
        BENCH_OK(goro_chan_send(results, &r));
    }
    goro_waitgroup_done(&wg);
}

static void producer(void *unused)
{
    (void)unused;
    for (int64_t j = 1; j <= JOBS; j++)
        BENCH_OK(goro_chan_send(jobs, &j));
    BENCH_OK(goro_chan_close(jobs));
}

static void body(void *unused)
{
    (void)unused;
    jobs = bench_chan(sizeof(int64_t), CAP);
    results = bench_chan(sizeof(int64_t), CAP);
    nworkers = goro_maxprocs(0);
    int64_t t0 = goro_now();
    goro_waitgroup_add(&wg, nworkers);
    for (int w = 0; w < nworkers; w++)
        BENCH_OK(goro_go(worker, NULL));
    BENCH_OK(goro_go(producer, NULL));
    for (int i = 0; i < JOBS; i++) {
        int64_t r;
        BENCH_OK(goro_chan_recv(results, &r));
        sum += r;
    }
    jobs_per_s = JOBS / ((double)(goro_now() - t0) / 1e9);
    /* The workers borrow jobs and results: a worker that sent the last
     * result still calls goro_chan_recv(jobs) to see it closed. */
    goro_waitgroup_wait(&wg);
    goro_chan_release(jobs);
    goro_chan_release(results);
}

int main(int argc, char **argv)
{
    int procs = bench_procs(argc, argv, 1);
    BENCH_OK(goro_main(body, NULL));
    BENCH_CHECK(sum == (int64_t)JOBS * (JOBS + 1), "sum %lld, want %lld", (long long)sum,
                (long long)JOBS * (JOBS + 1));
    printf("workerpool: %d jobs, %d workers, %d Ps\n", JOBS, nworkers, procs);
    bench_report("workerpool", "jobs_per_s", jobs_per_s, "jobs/s");
    return 0;
}
