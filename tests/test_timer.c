/* test_timer.c - the runtime's timer heap as goro_sleep sees it: sleepers
 * wake in deadline order (up to near ties) and never early, with many
 * sleepers at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setenv, sched_getaffinity, ... (tests build as -std=c11) */
#endif
#include "common.h"

/* ---- order --------------------------------------------------------------- */

#define NORDER 100

static int order_log[NORDER];
static _Atomic long order_len;  /* slots claimed in order_log */
static _Atomic long order_done; /* entries written (release) */
static _Atomic long order_late; /* sleepers that started after their deadline */
static int64_t order_base;

/* Sleeps until order_base + i ms (one deadline grid for all, so that the
 * order of the spawns does not matter), then logs i. */
static void order_sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    int64_t deadline = order_base + i * GORO_MILLISECOND;
    if (goro_now() >= deadline)
        atomic_fetch_add(&order_late, 1); /* the run cannot judge order */
    goro_sleep(deadline - goro_now());
    order_log[atomic_fetch_add(&order_len, 1)] = i;
    atomic_fetch_add_explicit(&order_done, 1, memory_order_release);
}

static void order_main(void *arg)
{
    int *perm = arg;
    for (int k = 0; k < NORDER; k++)
        gt_check(goro_go(order_sleeper, (void *)(intptr_t)perm[k]) == 0, "goro_go");
    gt_check(gt_wait_count(&order_done, NORDER, gt_ms(10000)), "sleepers stuck");
}

/* One run: spawns the sleepers in the order perm.  Returns -1 if some
 * sleeper started too late to judge, else the first inversion beyond tol
 * ms as "returned value before *later" (0 if none). */
static int order_run(const int *perm, int tol, int *later)
{
    atomic_store(&order_len, 0);
    atomic_store(&order_done, 0);
    atomic_store(&order_late, 0);
    order_base = goro_now() + gt_ms(20);
    cr_assert_eq(goro_main(order_main, (void *)perm), 0);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&order_done), NORDER);
    if (atomic_load(&order_late))
        return -1;
    for (int a = 0; a < NORDER; a++)
        for (int b = a + 1; b < NORDER; b++)
            if (order_log[a] - order_log[b] > tol) {
                *later = order_log[b];
                return order_log[a];
            }
    return 0;
}

/* Sleepers wake in deadline order, except that values within tol ms of each
 * other may swap: those woken in the same pass over the heap, or by threads
 * racing.  A late wake-up of the thread that fires timers (a loaded
 * machine) widens such a pass, so a run may be retried twice; a heap that
 * misorders does so every time. */
Test(timer, sleep_order, .timeout = GT_TIMEOUT(20))
{
    int perm[NORDER];
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int k = 0; k < NORDER; k++)
        perm[k] = k + 1;
    for (int k = NORDER - 1; k > 0; k--) { /* random spawn order */
        int j = (int)(gt_rand(&seed) % (uint64_t)(k + 1));
        int t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
    int tol = (int)(2 * gt_scale()), first = -1, second = 0;
    for (int attempt = 0; attempt < 3 && first != 0; attempt++)
        first = order_run(perm, tol, &second);
    cr_assert_neq(first, -1, "sleepers started after their deadlines in 3 runs of 3");
    cr_assert_eq(first, 0, "the %d ms sleeper woke before the %d ms one, in 3 runs of 3",
                 first, second);
    gt_quiesce();
}

/* ---- many sleepers, never early ------------------------------------------ */

#define NMANY 10000
#define MANY_ROUNDS 10

static _Atomic long many_done;

static void many_sleeper(void *arg)
{
    uint64_t seed = 0x2545F4914F6CDD1DULL ^ ((uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL);
    for (int r = 0; r < MANY_ROUNDS; r++) {
        int64_t d = (int64_t)(1 + gt_rand(&seed) % 50) * GORO_MILLISECOND;
        int64_t t0 = goro_now();
        goro_sleep(d);
        int64_t slept = goro_now() - t0;
        if (!gt_check(slept >= d, "goro_sleep(%lld ms) woke after %lld ns",
                      (long long)(d / GORO_MILLISECOND), (long long)slept))
            break;
    }
    atomic_fetch_add_explicit(&many_done, 1, memory_order_release);
}

Test(timer, many_sleepers, .timeout = GT_TIMEOUT(30))
{
    for (long i = 0; i < NMANY; i++)
        cr_assert_eq(goro_go(many_sleeper, (void *)(intptr_t)i), 0);
    cr_assert(gt_wait_count(&many_done, NMANY, gt_ms(20000)), "%ld of %d sleepers finished",
              atomic_load(&many_done), NMANY);
    gt_quiesce();
}
