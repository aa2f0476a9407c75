/* race.c - a data race and two fixes (Go: the counter example behind
 * `go run -race`).
 *
 * Two goroutines each add 1 to a shared counter a million times.  With a
 * plain long the increments race: each is a load, an add and a store, and
 * two goroutines running at once on two threads overwrite each other's
 * updates, so the total comes out short (on a machine with more than one
 * CPU).  Guarding the counter with a goro_mutex, or making it an
 * _Atomic long incremented with atomic_fetch_add, gives exactly 2000000.
 *
 *   race          all three versions
 *   race racy     only the racy one
 *   race fixed    only the mutex and atomic ones
 *
 * Build with the tsan preset and the racy version is reported:
 *   cmake --preset tsan && cmake --build --preset tsan && build/tsan/examples/race racy
 *   WARNING: ThreadSanitizer: data race ...
 */
#include <goro.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define INCREMENTS 1000000L

/* volatile only keeps the compiler from turning the loop into one add of
 * a million: every increment stays a separate load and store, as in Go.
 * It does not make the increments atomic. */
static volatile long racy_counter;

static goro_mutex mu = GORO_MUTEX_INIT;
static long guarded_counter;            /* protected by mu */

static _Atomic long atomic_counter;

struct worker {
    goro_chan *start;           /* closed by run_two: go */
    _Atomic int arrived;        /* workers past start */
    goro_waitgroup *wg;
};

/* Returns once both workers are running, so that they really run at the
 * same time, on two threads.  A goroutine keeps its thread until it
 * blocks, so without this the first could finish its million increments
 * before the second starts.  The partner is meanwhile picked up by another
 * processor; with only one CPU that never happens, and we give up after
 * 100 ms. */
static void start_together(struct worker *w)
{
    goro_chan_recv(w->start, NULL);
    atomic_fetch_add(&w->arrived, 1);
    int64_t give_up = goro_now() + 100 * GORO_MILLISECOND;
    while (atomic_load(&w->arrived) < 2 && goro_now() < give_up)
        ;
}

static void racy(struct worker *w)
{
    start_together(w);
    for (long i = 0; i < INCREMENTS; i++)
        racy_counter++; /* data race */
    goro_waitgroup_done(w->wg);
}

static void with_mutex(struct worker *w)
{
    start_together(w);
    for (long i = 0; i < INCREMENTS; i++) {
        goro_mutex_lock(&mu);
        guarded_counter++;
        goro_mutex_unlock(&mu);
    }
    goro_waitgroup_done(w->wg);
}

static void with_atomic(struct worker *w)
{
    start_together(w);
    for (long i = 0; i < INCREMENTS; i++)
        atomic_fetch_add_explicit(&atomic_counter, 1, memory_order_relaxed);
    goro_waitgroup_done(w->wg);
}

/* Runs fn in two goroutines at once and waits for both. */
static void run_two(void (*fn)(struct worker *))
{
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    struct worker w = {goro_chan_make(0, 0), 0, &wg};

    goro_waitgroup_add(&wg, 2);
    goro_go(fn, &w);
    goro_go(fn, &w);
    goro_chan_close(w.start); /* go */
    goro_waitgroup_wait(&wg);
    goro_chan_release(w.start);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    bool all = strcmp(mode, "all") == 0;
    long want = 2 * INCREMENTS;

    if (!all && strcmp(mode, "racy") != 0 && strcmp(mode, "fixed") != 0) {
        fprintf(stderr, "usage: %s [racy|fixed]\n", argv[0]);
        return 2;
    }
    if (all || strcmp(mode, "racy") == 0) {
        run_two(racy);
        printf("racy:   counter = %ld (want %ld, lost %ld updates)\n", racy_counter, want,
               want - racy_counter);
    }
    if (all || strcmp(mode, "fixed") == 0) {
        run_two(with_mutex);
        goro_mutex_lock(&mu);
        printf("mutex:  counter = %ld (want %ld)\n", guarded_counter, want);
        goro_mutex_unlock(&mu);

        run_two(with_atomic);
        printf("atomic: counter = %ld (want %ld)\n", atomic_load(&atomic_counter), want);
        if (guarded_counter != want || atomic_load(&atomic_counter) != want)
            return 1;
    }
    return 0;
}
