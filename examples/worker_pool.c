/* worker_pool.c - the classic worker pool: 3 workers take 5 jobs from a
 * jobs channel and send results on a results channel (Go by Example:
 * "Worker Pools").  Each job takes a second, so the whole run takes about
 * two seconds instead of five: the workers run concurrently.
 *
 * Build and run: ./scripts/demo.sh, or build/default/examples/worker_pool
 */
#include <goro.h>
#include <stdio.h>

#define NUM_JOBS 5
#define NUM_WORKERS 3

GORO_CHAN_TYPE(int_chan, int);

struct worker {
    int id;
    int_chan *jobs;             /* job numbers */
    int_chan *results;          /* job * 2 */
    goro_waitgroup *done;       /* main waits for every worker's exit */
};

static void worker(struct worker *w)
{
    int j;

    /* for j := range jobs */
    while (int_chan_recv(w->jobs, &j) == 0) {
        printf("worker %d started  job %d\n", w->id, j);
        goro_sleep(GORO_SECOND);
        printf("worker %d finished job %d\n", w->id, j);
        int_chan_send(w->results, j * 2);
    }
    goro_waitgroup_done(w->done);
}

int main(void)
{
    int_chan *jobs = goro_make(int_chan, NUM_JOBS);
    int_chan *results = goro_make(int_chan, NUM_JOBS);
    struct worker workers[NUM_WORKERS];
    goro_waitgroup done = GORO_WAITGROUP_INIT;
    int64_t start = goro_now();
    int sum = 0;

    if (!jobs || !results) {
        perror("goro_make");
        return 1;
    }
    for (int w = 0; w < NUM_WORKERS; w++) {
        workers[w] = (struct worker){.id = w + 1, .jobs = jobs, .results = results, .done = &done};
        goro_waitgroup_add(&done, 1);
        if (goro_go(worker, &workers[w]) != 0) {
            fprintf(stderr, "goro_go failed\n");
            return 1;
        }
    }
    for (int j = 1; j <= NUM_JOBS; j++)
        int_chan_send(jobs, j);
    int_chan_close(jobs); /* the workers' loops end once the jobs are drained */

    for (int i = 0; i < NUM_JOBS; i++) {
        int r;
        int_chan_recv(results, &r);
        printf("result %d\n", r);
        sum += r;
    }
    printf("sum of results %d, took %.1f s\n", sum, (double)(goro_now() - start) / GORO_SECOND);
    /* Unlike Go, C must not leave main while a worker may still run: the
     * workers read workers[] on main's stack and borrow main's channel
     * references, and exit() tears the process down under them.  The last
     * result can arrive before its worker has seen jobs closed. */
    goro_waitgroup_wait(&done);
    int_chan_release(jobs);
    int_chan_release(results);
    return sum == 30 ? 0 : 1;
}
