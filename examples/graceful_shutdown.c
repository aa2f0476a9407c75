/* graceful_shutdown.c - workers run under a context that Ctrl-C, SIGTERM
 * or a timeout cancels; each worker notices, finishes its current step,
 * reports why it stopped, and main waits for all of them before exiting.
 *
 * Run it and press Ctrl-C, or wait for the timeout (default 3 s; pass a
 * number of milliseconds to change it).  Go: signal.NotifyContext,
 * context.WithTimeout, sync.WaitGroup.
 */
#include <goro.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUM_WORKERS 4

struct worker {
    int id;
    goro_ctx *ctx;              /* borrowed: main outlives the workers */
    goro_waitgroup *wg;
    int steps;
};

static void worker(struct worker *w)
{
    goro_ticker *tick = goro_ticker_make(200 * GORO_MILLISECOND);

    for (;;) {
        int64_t t;
        switch (GORO_SELECT(goro_case_recv(goro_ctx_done(w->ctx), NULL),
                            goro_case_recv(goro_ticker_chan(tick), &t))) {
        case 0: {
            int err = goro_ctx_err(w->ctx);
            printf("worker %d: stopping after %d steps: %s\n", w->id, w->steps,
                   err == ETIMEDOUT ? "context deadline exceeded" : "context canceled");
            goro_ticker_free(tick);
            goro_waitgroup_done(w->wg);
            return;
        }
        case 1:
            w->steps++; /* one unit of work */
            break;
        }
    }
}

int main(int argc, char **argv)
{
    int64_t timeout = (argc > 1 ? atoll(argv[1]) : 3000) * GORO_MILLISECOND;
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    struct worker workers[NUM_WORKERS];

    /* Ctrl-C or SIGTERM cancel the context; so does the timeout. */
    goro_ctx *sig = goro_ctx_with_signals(NULL, SIGINT, SIGTERM, 0);
    goro_ctx *ctx = goro_ctx_with_timeout(sig, timeout);
    if (!sig || !ctx) {
        perror("goro_ctx");
        return 1;
    }
    printf("running %d workers; press Ctrl-C to stop (timeout %lld ms)\n", NUM_WORKERS,
           (long long)(timeout / GORO_MILLISECOND));
    for (int i = 0; i < NUM_WORKERS; i++) {
        workers[i] = (struct worker){.id = i + 1, .ctx = ctx, .wg = &wg};
        goro_waitgroup_add(&wg, 1);
        goro_go(worker, &workers[i]);
    }

    goro_chan_recv(goro_ctx_done(ctx), NULL);
    printf("main: shutting down: %s\n",
           goro_ctx_err(ctx) == ETIMEDOUT ? "context deadline exceeded" : "context canceled");
    goro_waitgroup_wait(&wg); /* every worker has stopped */
    printf("main: all workers stopped cleanly\n");
    goro_ctx_release(ctx);
    goro_ctx_release(sig); /* restores the previous SIGINT/SIGTERM handling */
    return 0;
}
