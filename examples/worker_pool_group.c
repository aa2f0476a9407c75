/* worker_pool_group.c - worker_pool.c again, with a goro_group instead of
 * the jobs and results channels (Go: golang.org/x/sync/errgroup with
 * SetLimit).  The group's limit is the pool size: goro_group_go waits for
 * a free slot, so at most 3 jobs run at once, and goro_group_wait returns
 * when all are done, with the first error if any.  Each job writes its
 * result into its own slot; wait makes those writes visible to main.
 * A job that fails would cancel the group's context, and the jobs still
 * waiting on it would give up early.
 *
 * Build and run: build/default/examples/worker_pool_group
 */
#include <goro.h>
#include <stdio.h>

#define NUM_JOBS 5
#define NUM_WORKERS 3

struct job {
    int id;
    int result;                 /* written by the task, read after wait */
};

static int work(goro_ctx *ctx, struct job *j)
{
    printf("job %d started\n", j->id);
    /* A second of work, unless the group is canceled first. */
    if (GORO_SELECT(goro_case_recv(goro_ctx_done(ctx), NULL), goro_case_timeout(GORO_SECOND)) == 0)
        return goro_ctx_err(ctx);
    j->result = j->id * 2;
    printf("job %d finished\n", j->id);
    return 0;
}

int main(void)
{
    struct job jobs[NUM_JOBS];
    int64_t start = goro_now();
    int sum = 0;
    goro_group *g = goro_group_make(NULL);

    if (!g) {
        perror("goro_group_make");
        return 1;
    }
    goro_group_set_limit(g, NUM_WORKERS);
    for (int i = 0; i < NUM_JOBS; i++) {
        jobs[i] = (struct job){.id = i + 1};
        goro_group_go(g, work, &jobs[i]); /* waits while 3 are running */
    }
    int err = goro_group_wait(g);
    goro_group_free(g);
    if (err) {
        fprintf(stderr, "a job failed: error %d\n", err);
        return 1;
    }
    for (int i = 0; i < NUM_JOBS; i++) {
        printf("result %d\n", jobs[i].result);
        sum += jobs[i].result;
    }
    printf("sum of results %d, took %.1f s\n", sum, (double)(goro_now() - start) / GORO_SECOND);
    return sum == 30 ? 0 : 1;
}
