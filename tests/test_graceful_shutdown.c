/* test_graceful_shutdown.c - the graceful_shutdown example's timeout path
 * (examples/graceful_shutdown.c, built here without its main), run inside
 * a bubble: the 3 s shutdown timeout passes on the fake clock, exactly,
 * in a few milliseconds of real time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open_memstream (tests build as -std=c11) */
#endif
#include "common.h"
#include "graceful_shutdown.h"

#include <time.h>

static int64_t real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * GORO_SECOND + ts.tv_nsec;
}

struct run {
    FILE *out;
    int err;
    int64_t fake_elapsed;
    int steps[SHUTDOWN_WORKERS];
};

static void timeout_path(void *arg)
{
    struct run *r = arg;
    int64_t t0 = goro_now();
    r->err = shutdown_run(NULL, 3 * GORO_SECOND, r->out, r->steps);
    r->fake_elapsed = goro_now() - t0;
}

Test(graceful_shutdown, three_second_timeout_on_the_fake_clock, .timeout = GT_TIMEOUT(30))
{
    char *text = NULL;
    size_t len = 0;
    struct run r = {.out = open_memstream(&text, &len)};
    cr_assert_not_null(r.out);

    int64_t t0 = real_now();
    cr_assert_eq(goro_bubble_run(timeout_path, &r), 0);
    int64_t real = real_now() - t0;
    fclose(r.out);

    cr_assert_eq(r.err, ETIMEDOUT, "shutdown_run: %d", r.err);
    cr_assert_eq(r.fake_elapsed, 3 * GORO_SECOND, "fake elapsed %lld ns",
                 (long long)r.fake_elapsed);
    cr_assert_lt(real, (int64_t)(100 * GORO_MILLISECOND * gt_scale()), "real time %lld us",
                 (long long)(real / GORO_MICROSECOND));
    /* A step every 200 ms for 3 s: 14, or 15 when the tick due at 3 s wins
     * the select against the deadline due at the same instant. */
    for (int i = 0; i < SHUTDOWN_WORKERS; i++)
        cr_assert(r.steps[i] == 14 || r.steps[i] == 15, "worker %d: %d steps", i + 1,
                  r.steps[i]);
    cr_assert(strstr(text, "main: shutting down: context deadline exceeded\n") != NULL, "%s",
              text);
    cr_assert(strstr(text, "main: all workers stopped cleanly\n") != NULL, "%s", text);
    int stopped = 0;
    for (const char *p = text; (p = strstr(p, "steps: context deadline exceeded\n")); p++)
        stopped++;
    cr_assert_eq(stopped, SHUTDOWN_WORKERS, "%s", text);
    free(text);
    gt_quiesce();
}
