/* graceful_shutdown.h - the graceful_shutdown example's logic, callable
 * from a test (tests/test_graceful_shutdown.c). */
#ifndef GRACEFUL_SHUTDOWN_H
#define GRACEFUL_SHUTDOWN_H

#include <goro.h>
#include <stdint.h>
#include <stdio.h>

#define SHUTDOWN_WORKERS 4

/* Runs SHUTDOWN_WORKERS workers, each doing one step every 200 ms, under a
 * context that parent's cancel or timeout ns end; prints to out why each
 * stopped, and returns once all have.  steps (may be NULL) receives each
 * worker's step count.  Returns: ETIMEDOUT (the timeout), ECANCELED (parent
 * canceled), or ENOMEM. */
int shutdown_run(goro_ctx *parent, int64_t timeout, FILE *out, int steps[SHUTDOWN_WORKERS]);

#endif /* GRACEFUL_SHUTDOWN_H */
