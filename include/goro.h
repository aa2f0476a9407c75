/* goro.h - Go's concurrency model for C.
 *
 * goro runs goroutines on an M:N work-stealing scheduler: GORO_MAXPROCS
 * processors (one per CPU by default), each with its own run queue, executed
 * by a small pool of OS threads.  Blocking calls park the calling goroutine,
 * never its thread; the same calls made from a plain OS thread (main()
 * included) block that thread.  The runtime starts itself on first use and
 * needs no init or teardown call.
 *
 * Conventions (pthreads):
 *   - functions return 0 or a positive errno value;
 *   - constructors return NULL and set errno;
 *   - durations and times are int64_t nanoseconds (GORO_SECOND, goro_now()).
 *
 * Sections: goroutines, time, diagnostics.
 */
#ifndef GORO_H
#define GORO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(GORO_BUILDING) && defined(__GNUC__)
#define GORO_API __attribute__((visibility("default")))
#else
#define GORO_API
#endif

/* ------------------------------------------------------------------------
 * Durations (Go: package time).  All times are int64_t nanoseconds.
 * ------------------------------------------------------------------------ */

#define GORO_NANOSECOND  ((int64_t)1)
#define GORO_MICROSECOND ((int64_t)1000)
#define GORO_MILLISECOND ((int64_t)1000000)
#define GORO_SECOND      ((int64_t)1000000000)
#define GORO_MINUTE      ((int64_t)60000000000)
#define GORO_HOUR        ((int64_t)3600000000000)

/* Returns the monotonic clock (CLOCK_MONOTONIC) in nanoseconds.  Deadlines
 * taken by goro (goro_case_deadline, goro_*_deadline) are on this clock.
 * Go: the monotonic reading inside time.Now(). */
GORO_API int64_t goro_now(void);

/* ------------------------------------------------------------------------
 * Goroutines (Go: the go statement, package runtime).
 *
 * A goroutine is a function running on its own small stack (256 KiB of
 * address space by default, of which only the pages touched are committed).
 * Goroutines are cheap: a parked one costs a few KiB, and a million of them
 * fit on an ordinary machine.  They migrate between OS threads, but only at
 * blocking points (a channel operation, goro_yield, goro_sleep, ...): a
 * __thread variable may hold another thread's value after any blocking call,
 * while errno is saved and restored per goroutine.
 * ------------------------------------------------------------------------ */

/* Spawn attributes for goro_go_attr().  Zero-initialise and set what you need:
 *   goro_attr a = { .stack_size = 1 << 20, .name = "reader" }; */
typedef struct goro_attr {
    /* Bytes of stack address space, 0 for the default (GORO_STACK_SIZE or
     * 256 KiB).  Rounded up to whole pages; at least 16 KiB, at most 1 GiB. */
    size_t stack_size;
    /* A name shown in goro_dump(); kept by pointer, so use a string that
     * outlives the goroutine (a literal).  NULL for none. */
    const char *name;
} goro_attr;

/* Starts fn(arg) in a new goroutine and returns at once.  This is a macro
 * that records the call site (file, line, function) for goro_dump() and
 * crash messages.
 * Returns: 0; ENOMEM when no stack could be mapped; EINVAL when fn is NULL.
 * Go: go fn(arg). */
#define goro_go(fn, arg) goro_go_at(NULL, (fn), (arg), __FILE__, __LINE__, __func__)

/* goro_go() with attributes; attr may be NULL.
 * Returns: as goro_go(), and EINVAL for a stack_size above 1 GiB. */
#define goro_go_attr(attr, fn, arg) goro_go_at((attr), (fn), (arg), __FILE__, __LINE__, __func__)

/* The function behind goro_go() and goro_go_attr(); call it directly to pass
 * a call site of your own (file, func may be NULL).
 * Returns: 0, ENOMEM, EINVAL. */
GORO_API int goro_go_at(const goro_attr *attr, void (*fn)(void *), void *arg,
                        const char *file, int line, const char *func);

/* Lets other goroutines run; the caller stays runnable and resumes later,
 * possibly on another thread.  On a plain thread it calls sched_yield().
 * Go: runtime.Gosched(). */
GORO_API void goro_yield(void);

/* Parks the calling goroutine for at least ns nanoseconds (a plain thread
 * sleeps).  ns <= 0 returns at once.  Go: time.Sleep(ns). */
GORO_API void goro_sleep(int64_t ns);

/* Returns the calling goroutine's id (1, 2, ...; never reused), or 0 when
 * called from a plain thread.  Go has no public equivalent. */
GORO_API uint64_t goro_id(void);

/* Returns the number of goroutines that exist (running, runnable or parked).
 * Go: runtime.NumGoroutine(), less Go's main goroutine. */
GORO_API int goro_num_goroutine(void);

/* Sets the number of processors (threads running goroutines at once) to n
 * when n > 0, and returns the previous value; n <= 0 only queries.  n is
 * capped at GORO_MAX_PROCS.  The initial value is GORO_MAXPROCS from the
 * environment, else the number of CPUs the process may run on.
 * Go: runtime.GOMAXPROCS(n). */
GORO_API int goro_maxprocs(int n);

/* The most processors goro_maxprocs() accepts. */
#define GORO_MAX_PROCS 256

/* Runs fn(arg) as a goroutine and blocks the calling thread until it returns.
 * Handy as the body of main(), though main may also call every goro function
 * directly.
 * Returns: 0, or the error of goro_go(); EDEADLK when called from a goroutine
 * (it would park on itself: call fn directly there). */
GORO_API int goro_main(void (*fn)(void *), void *arg);

/* Wires the calling goroutine to its current OS thread: until the matching
 * goro_unlock_thread() it runs only there, and that thread runs nothing else.
 * For C libraries with thread affinity (OpenGL, some GUI toolkits, code keyed
 * on thread-local state).  Calls nest; no-op on a plain thread.
 * Go: runtime.LockOSThread(). */
GORO_API void goro_lock_thread(void);

/* Undoes one goro_lock_thread().  Go: runtime.UnlockOSThread(). */
GORO_API void goro_unlock_thread(void);

#ifdef __cplusplus
}
#endif

#endif /* GORO_H */
