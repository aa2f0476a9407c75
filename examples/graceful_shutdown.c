/* graceful_shutdown.c - workers run under a context that Ctrl-C, SIGTERM
 * or a timeout cancels; each worker notices, finishes its current step,
 * reports why it stopped, and main waits for all of them before exiting.
 *
 * Run it and press Ctrl-C, or wait for the timeout (default 3 s; pass a
 * number of milliseconds to change it).  Go: signal.NotifyContext,
 * context.WithTimeout, sync.WaitGroup.
 *
 * The logic is shutdown_run() (graceful_shutdown.h), so that a test can
 * drive it: tests/test_graceful_shutdown.c builds this file with
 * GRACEFUL_SHUTDOWN_NO_MAIN and runs the 3 s timeout path inside a bubble
 * (goro_bubble_run), on a fake clock, in a few milliseconds.
 */
#include "graceful_shutdown.h"

#include <goro.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct worker {
    int id;
    goro_ctx *ctx;              /* borrowed: shutdown_run outlives the workers */
    goro_waitgroup *wg;
    FILE *out;
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
            fprintf(w->out, "worker %d: stopping after %d steps: %s\n", w->id, w->steps,
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

int shutdown_run(goro_ctx *parent, int64_t timeout, FILE *out, int steps[SHUTDOWN_WORKERS])
{
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    struct worker workers[SHUTDOWN_WORKERS];

    goro_ctx *ctx = goro_ctx_with_timeout(parent, timeout);
    if (!ctx)
        return errno;
    fprintf(out, "running %d workers; press Ctrl-C to stop (timeout %lld ms)\n",
            SHUTDOWN_WORKERS, (long long)(timeout / GORO_MILLISECOND));
    for (int i = 0; i < SHUTDOWN_WORKERS; i++) {
        workers[i] = (struct worker){.id = i + 1, .ctx = ctx, .wg = &wg, .out = out};
        goro_waitgroup_add(&wg, 1);
        goro_go(worker, &workers[i]);
    }

    goro_chan_recv(goro_ctx_done(ctx), NULL);
    int err = goro_ctx_err(ctx);
    fprintf(out, "main: shutting down: %s\n",
            err == ETIMEDOUT ? "context deadline exceeded" : "context canceled");
    goro_waitgroup_wait(&wg); /* every worker has stopped */
    fprintf(out, "main: all workers stopped cleanly\n");
    for (int i = 0; steps && i < SHUTDOWN_WORKERS; i++)
        steps[i] = workers[i].steps;
    goro_ctx_release(ctx);
    return err;
}

#ifndef GRACEFUL_SHUTDOWN_NO_MAIN
int main(int argc, char **argv)
{
    int64_t timeout = (argc > 1 ? atoll(argv[1]) : 3000) * GORO_MILLISECOND;

    /* Ctrl-C or SIGTERM cancel the context; so does the timeout. */
    goro_ctx *sig = goro_ctx_with_signals(NULL, SIGINT, SIGTERM, 0);
    if (!sig) {
        perror("goro_ctx_with_signals");
        return 1;
    }
    int err = shutdown_run(sig, timeout, stdout, NULL);
    goro_ctx_release(sig); /* restores the previous SIGINT/SIGTERM handling */
    if (err != ETIMEDOUT && err != ECANCELED) {
        fprintf(stderr, "shutdown_run: %s\n", strerror(err));
        return 1;
    }
    return 0;
}
#endif
