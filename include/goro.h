/**
 * @file goro.h
 * @brief Go's concurrency model for C: the whole public API.
 *
 * goro runs goroutines on an M:N work-stealing scheduler: `GORO_MAXPROCS`
 * processors (one per CPU by default), each with its own run queue, executed
 * by a small pool of OS threads.  Blocking calls park the calling goroutine,
 * never its thread; the same calls made from a plain OS thread (main()
 * included) block that thread.  The runtime starts itself on first use and
 * needs no init or teardown call.
 *
 * Conventions (pthreads):
 *   - functions return 0 or a positive errno value, except the I/O calls,
 *     which return a count or fd, or a negative errno value (see @ref grp_io);
 *   - constructors return NULL and set errno;
 *   - durations and times are `int64_t` nanoseconds (#GORO_SECOND, goro_now());
 *   - a plain thread's first wait in goro allocates a small record for the
 *     thread; where that finds no memory, a call that can return an error
 *     number returns ENOMEM.
 *
 * Sections: @ref grp_version, @ref grp_time, @ref grp_sched, @ref grp_chan,
 * @ref grp_select, @ref grp_typed, @ref grp_timer, @ref grp_ctx,
 * @ref grp_signal, @ref grp_sync, @ref grp_group, @ref grp_io,
 * @ref grp_bubble, @ref grp_diag.
 */
/**
 * @mainpage API reference
 *
 * goro gives C programs goroutines on an M:N scheduler, channels, select,
 * timers, sync primitives, contexts, error groups, signal relays and a
 * network poller, with Go's semantics and Go's vocabulary.
 *
 * This reference is generated from the doc comments of `include/goro.h`,
 * the only public header.  Start with the file's conventions (goro.h), then
 * the sections:
 *   - @ref grp_sched : goro_go(), goro_main(), goro_sleep(), goro_maxprocs()
 *   - @ref grp_chan and @ref grp_typed : goro_chan_make(), GORO_CHAN_TYPE()
 *   - @ref grp_select : goro_select(), GORO_SELECT()
 *   - @ref grp_timer, @ref grp_time : goro_timer_make(), goro_now()
 *   - @ref grp_ctx : cancellation, deadlines and values
 *   - @ref grp_sync : mutexes, waitgroups, once, conditions, semaphores
 *   - @ref grp_group : errgroup with a concurrency limit
 *   - @ref grp_io : reads, writes, sockets and goro_blocking()
 *   - @ref grp_signal, @ref grp_diag : signal relays, dumps, statistics
 *   - @ref grp_bubble : goro_bubble_run(), tests of timing code on a fake
 *     clock
 *
 * Every entry names its Go equivalent; docs/guide.md is the tutorial and
 * docs/internals.md explains the runtime.
 */
#ifndef GORO_H
#define GORO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @cond GORO_PRIVATE */
#if defined(GORO_BUILDING) && defined(__GNUC__)
#define GORO_API __attribute__((visibility("default")))
#else
#define GORO_API
#endif
/** @endcond */

/**
 * @defgroup grp_version Version
 * @brief The header's and the library's version.
 *
 * 0.x: a minor release may change the API; patch releases do not.
 * @{
 */

/** Major version of this header. */
#define GORO_VERSION_MAJOR 0
/** Minor version of this header. */
#define GORO_VERSION_MINOR 2
/** Patch version of this header. */
#define GORO_VERSION_PATCH 0
/** The version this header belongs to as one number.
 * It is major * 10000 + minor * 100 + patch (0.2.0 is 200), for a
 * preprocessor test such as `GORO_VERSION >= 200`. */
#define GORO_VERSION                                                           \
    (GORO_VERSION_MAJOR * 10000 + GORO_VERSION_MINOR * 100 + GORO_VERSION_PATCH)

/** Returns the version of the goro library running the program.
 * It is encoded as #GORO_VERSION is, and differs from it when a program
 * compiled against one version's header runs on another version's shared
 * library:
 * @code
 * if (goro_version() / 100 != GORO_VERSION / 100) ... // another 0.x
 * @endcode
 * @return the library's version number (200 for 0.2.0).
 * @go `runtime.Version()`, as a number. */
GORO_API int goro_version(void);

/** @} */

/**
 * @defgroup grp_time Durations and the clock
 * @brief Nanosecond durations and the monotonic clock.
 *
 * All times are `int64_t` nanoseconds; deadlines are absolute goro_now()
 * values.
 * @go package time (`time.Duration`, the monotonic part of `time.Now()`).
 * @{
 */

/** One nanosecond. @go `time.Nanosecond`. */
#define GORO_NANOSECOND  ((int64_t)1)
/** One microsecond in nanoseconds. @go `time.Microsecond`. */
#define GORO_MICROSECOND ((int64_t)1000)
/** One millisecond in nanoseconds. @go `time.Millisecond`. */
#define GORO_MILLISECOND ((int64_t)1000000)
/** One second in nanoseconds. @go `time.Second`. */
#define GORO_SECOND      ((int64_t)1000000000)
/** One minute in nanoseconds. @go `time.Minute`. */
#define GORO_MINUTE      ((int64_t)60000000000)
/** One hour in nanoseconds. @go `time.Hour`. */
#define GORO_HOUR        ((int64_t)3600000000000)

/** Returns the monotonic clock (`CLOCK_MONOTONIC`) in nanoseconds.
 * Deadlines taken by goro (goro_case_deadline(), the `_deadline` calls) are
 * on this clock.  Inside a bubble (goro_bubble_run()) it returns the
 * bubble's fake clock instead (see @ref grp_bubble).
 * @return nanoseconds since an arbitrary fixed point; inside a bubble,
 *   nanoseconds since the Unix epoch on the bubble's clock.
 * @go the monotonic reading inside `time.Now()`. */
GORO_API int64_t goro_now(void);

/** @} */

/**
 * @defgroup grp_sched Goroutines and the scheduler
 * @brief Starting goroutines, yielding, sleeping, processors and threads.
 *
 * A goroutine is a function running on its own small stack (256 KiB of
 * address space by default, of which only the pages touched are committed).
 * Goroutines are cheap: a parked one costs a few KiB, and a million of them
 * fit on an ordinary machine.  They migrate between OS threads, but only at
 * blocking points (a channel operation, goro_yield(), goro_sleep(), ...): a
 * `__thread` variable may hold another thread's value after any blocking
 * call.  errno is saved and restored per goroutine, yet compiled code may
 * read it through the address of the thread it ran on before the call, so
 * goro reports errors in return values (see @ref grp_io).
 *
 * Signals and child processes.  goro's threads run with the signal mask of
 * the thread that started the runtime (its first goro call), less SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS, which they never block.  So a
 * child started from a goroutine or a goro_blocking() call (posix_spawn, fork
 * then exec) starts with the application's mask, as with Go's os/exec, and
 * a signal sent to the process still finds a thread after main has called
 * pthread_exit.  A handler may run on any of goro's threads, on the running
 * goroutine's stack unless installed with `SA_ONSTACK`; a goroutine that
 * changes its thread's mask must restore it before it next blocks.
 * fork() without exec: the child has only the forking thread, none of
 * goro's, so between fork and exec call only async-signal-safe functions.
 * There, any goro call that needs the runtime (starting, switching or
 * ending a goroutine, a plain thread's wait) prints "fatal error: goro:
 * runtime used in a child of fork() ..." and aborts; Go does not support
 * fork without exec either.
 * @go the go statement, package runtime.
 * @{
 */

/** Spawn attributes for goro_go_attr().
 * Zero-initialise and set what you need:
 * @code
 * goro_attr a = { .stack_size = 1 << 20, .name = "reader" };
 * @endcode */
typedef struct goro_attr {
    /** Bytes of stack address space, 0 for the default (`GORO_STACK_SIZE`
     * or 256 KiB).  Rounded up to whole pages; at least 16 KiB, at most
     * 1 GiB. */
    size_t stack_size;
    /** A name shown in goro_dump(); kept by pointer, so use a string that
     * outlives the goroutine (a literal).  NULL for none. */
    const char *name;
} goro_attr;

/** Starts fn(arg) in a new goroutine and returns at once.
 * fn returns void and takes one pointer, of any pointer type: arg is
 * checked against it as in the call fn(arg), so a worker may be declared
 * `void worker(struct job *)` and started as `goro_go(worker, &job)`
 * without casts, and an argument of another pointer type is a compile
 * error (incompatible pointer types: an error in C++ and with -Werror).
 * Neither fn nor arg is evaluated twice.  This is a macro that also records
 * the call site (file, line, function) for goro_dump() and crash messages.
 *
 * A goroutine goro_go() accepted always runs: when no OS thread can be
 * created to run it (`RLIMIT_NPROC`, a seccomp filter), it waits queued
 * while the runtime retries, and runs once a thread starts; if runnable
 * goroutines wait with no thread to run them for 10 s, the process aborts
 * with "fatal error: cannot create an OS thread to run goroutines: ...".
 * @param fn the function to run, `void fn(T *)`; not NULL.
 * @param arg its argument, a `T *` (or NULL).
 * @return 0; ENOMEM when no stack could be mapped; EINVAL when fn is NULL.
 * @own arg stays the caller's: keep what it points to alive until fn is
 * done with it.
 * @go `go fn(arg)` (Go aborts at the first failed thread creation). */
#define goro_go(fn, arg) goro_go_attr(NULL, fn, arg)

/** goro_go() with attributes.
 * @param attr stack size and name (see goro_attr); NULL for defaults.  Read
 *        during the call; the name is kept by pointer.
 * @param fn the function to run, `void fn(T *)`; not NULL.
 * @param arg its argument, a `T *` (or NULL).
 * @return as goro_go(), and EINVAL for a stack_size above 1 GiB.
 * @go `go fn(arg)`. */
#define goro_go_attr(attr, fn, arg)                                            \
    (GORO__CHECK_CALL(void, (fn)(arg)),                                        \
     goro_go_at((attr), GORO__FN_CAST(void (*)(void *), fn), (void *)(arg),   \
                #fn, __FILE__, __LINE__, __func__))

/** @cond GORO_PRIVATE */
/* Private: compile-time checks behind goro_go and goro_group_go.
 * GORO__CHECK_CALL(R, call) fails to compile unless call (never evaluated)
 * is a valid call returning R.  GORO__FN_CAST converts a function pointer
 * through void (*)(void), which compilers accept without
 * -Wcast-function-type; the call through the converted pointer passes the
 * same pointer argument registers on every ABI goro supports. */
#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define GORO__CHECK_CALL(R, call)                                              \
    ((void)sizeof(struct {                                                     \
        _Static_assert(__builtin_types_compatible_p(__typeof__(call), R),      \
                       "goro: the function must return " #R);                  \
        int goro__unused;                                                      \
    }))
#elif !defined(__cplusplus) /* C99: a negative array size instead */
#define GORO__CHECK_CALL(R, call)                                              \
    ((void)sizeof(char[__builtin_types_compatible_p(__typeof__(call), R) ? 1 : -1]))
#else
#define GORO__CHECK_CALL(R, call)                                              \
    ((void)sizeof(goro__returns<R, decltype(call)>::ok))
#endif
#define GORO__FN_CAST(type, fn) ((type)(void (*)(void))(fn))
/** @endcond */

/** The function behind goro_go() and goro_go_attr().
 * Call it directly to pass a call site of your own.
 * @param attr attributes, or NULL for defaults (see goro_go_attr()).
 * @param fn the function to run; not NULL.
 * @param arg its argument.
 * @param entry fn's name as dumps show it, or NULL.
 * @param file the creation site's file, or NULL.
 * @param line the creation site's line.
 * @param func the creation site's function, or NULL.
 * @return 0; ENOMEM when no stack could be mapped; EINVAL when fn is NULL
 *         or the stack size is above 1 GiB.
 * @own the strings are kept by pointer: pass literals.
 * @go `go fn(arg)`. */
GORO_API int goro_go_at(const goro_attr *attr, void (*fn)(void *), void *arg, const char *entry,
                        const char *file, int line, const char *func);

/** Lets other goroutines run.
 * The caller stays runnable and resumes later, possibly on another thread.
 * On a plain thread it calls sched_yield().
 * @go `runtime.Gosched()`. */
GORO_API void goro_yield(void);

/** Parks the calling goroutine for at least ns nanoseconds.
 * A plain thread sleeps.  ns <= 0 returns at once.
 * @param ns the duration in nanoseconds.
 * @go `time.Sleep(ns)`. */
GORO_API void goro_sleep(int64_t ns);

/** Returns the calling goroutine's id.
 * @return 1, 2, ... (never reused), or 0 when called from a plain thread.
 * @go none public (the id in panic traces). */
GORO_API uint64_t goro_id(void);

/** Returns the number of goroutines that exist (running, runnable or
 * parked).
 * @return the count.
 * @go `runtime.NumGoroutine()`, less Go's main goroutine. */
GORO_API int goro_num_goroutine(void);

/** Sets or queries the number of processors (threads running goroutines at
 * once).
 * n is capped at #GORO_MAX_PROCS.  The initial value is `GORO_MAXPROCS`
 * from the environment, else the number of CPUs the process may run on.
 * Lowering it moves the goroutines queued on the processors it retires to
 * the others at once; a goroutine running on one keeps its thread until it
 * next blocks, yields or returns (goro cannot preempt it), so for that long
 * one more goroutine than n may run.
 * @param n the new number when n > 0; n <= 0 only queries.
 * @return the previous value.
 * @go `runtime.GOMAXPROCS(n)`. */
GORO_API int goro_maxprocs(int n);

/** The most processors goro_maxprocs() accepts. */
#define GORO_MAX_PROCS 256

/** Runs fn(arg) as a goroutine and blocks the calling thread until it
 * returns.
 * Handy as the body of main(), though main may also call every goro
 * function directly.
 * @param fn the function to run; not NULL.
 * @param arg its argument.
 * @return 0, or the error of goro_go(); EDEADLK when called from a
 *         goroutine (it would park on itself: call fn directly there).
 * @go the main goroutine. */
GORO_API int goro_main(void (*fn)(void *), void *arg);

/** Wires the calling goroutine to its current OS thread.
 * Until the matching goro_unlock_thread() it runs only there, and that
 * thread runs nothing else.  For C libraries with thread affinity (OpenGL,
 * some GUI toolkits, code keyed on thread-local state).  A locked goroutine
 * may block its thread in plain system calls like any other: the runtime
 * runs the rest elsewhere meanwhile.  Calls nest; no-op on a plain thread.
 * @go `runtime.LockOSThread()`. */
GORO_API void goro_lock_thread(void);

/** Undoes one goro_lock_thread().
 * A no-op when the goroutine is not locked or on a plain thread.
 * @go `runtime.UnlockOSThread()`. */
GORO_API void goro_unlock_thread(void);

/** @} */

/**
 * @defgroup grp_chan Channels
 * @brief Untyped channels: make, send, receive, close, references.
 *
 * A channel carries fixed-size elements, copied in and out by value.  An
 * unbuffered channel (cap 0) hands each element directly from a sender to a
 * receiver, and both wait for the other; a buffered one holds up to cap
 * elements.  Channels are reference counted: goro_chan_make() returns one
 * reference, goro_chan_retain() adds one, goro_chan_release() drops one,
 * and the last release frees the channel.  A goroutine blocked on a
 * channel holds a reference of its own while it waits.  Closing is not
 * releasing.
 *
 * Who holds a reference (the borrow-or-retain rule):
 *   1. goro_chan_make() (goro_make() for typed channels) returns one
 *      reference, owned by the caller; every reference is dropped by
 *      exactly one goro_chan_release().
 *   2. A goroutine handed a channel borrows the creator's reference when
 *      the creator outlives its use of it (the creator waits for it through
 *      a waitgroup, a group or a done channel before releasing).
 *   3. Otherwise retain before handing it over (goro_chan_retain(), then
 *      goro_go()), and the goroutine releases that reference when done.
 *   4. Channels borrowed from timers, tickers and contexts
 *      (goro_timer_chan(), goro_ctx_done(), ...) are owned by them; retain
 *      to keep one longer.
 *
 * Using a channel after its last reference is gone, or releasing it once
 * more, is a fatal error naming where it was made:
 * `fatal error: use of released channel (made at app.c:12)` (checked on
 * every call; the memory of a released channel stays readable for a while
 * to make the check possible, so the check is reliable for a use soon after
 * the release and best effort after that).
 *
 * A channel made inside a bubble (goro_bubble_run()) belongs to it:
 * sending, receiving, closing or selecting on it from outside the bubble
 * returns `EPERM` (`-EPERM` from goro_select()) and does nothing (Go
 * panics instead).
 * @go `chan T`, make, send and receive, close, len, cap.
 * @{
 */

/** A channel (opaque); see @ref grp_chan. @go `chan T`. */
typedef struct goro_chan goro_chan;

/** Creates a channel of elements of elem_size bytes with a buffer of cap
 * elements.
 * elem_size 0 makes a signal channel (Go's `chan struct{}`), whose element
 * pointers may be NULL.  A macro that records the call site for lifetime
 * errors; the library also exports a function of this name (no call site)
 * for callers that cannot use the macro.
 * @param elem_size the element size in bytes (0: a signal channel).
 * @param cap the buffer capacity in elements (0: unbuffered).
 * @return the channel, or NULL with errno EINVAL (elem_size * cap
 *         overflows) or ENOMEM.
 * @own the caller holds one reference; drop it with goro_chan_release().
 * @go `make(chan T, cap)`. */
#define goro_chan_make(elem_size, cap) goro_chan_make_at((elem_size), (cap), __FILE__, __LINE__)
/** @cond GORO_PRIVATE */
/** The exported function form of goro_chan_make() (no call site).
 * @param elem_size the element size in bytes.
 * @param cap the buffer capacity in elements.
 * @return as goro_chan_make(). */
GORO_API goro_chan *(goro_chan_make)(size_t elem_size, size_t cap);
/** @endcond */

/** The function behind goro_chan_make(), with an explicit creation site.
 * @param elem_size the element size in bytes (0: a signal channel).
 * @param cap the buffer capacity in elements (0: unbuffered).
 * @param file the creation site that lifetime errors print, or NULL.
 * @param line its line.
 * @return as goro_chan_make().
 * @own as goro_chan_make(); file is kept by pointer: pass a literal.
 * @go `make(chan T, cap)`. */
GORO_API goro_chan *goro_chan_make_at(size_t elem_size, size_t cap, const char *file, int line);

/** Returns the element size c was made with.
 * @param c the channel, or NULL.
 * @return the element size in bytes; 0 for NULL.
 * @go none: Go's channels are typed. */
GORO_API size_t goro_chan_elem_size(goro_chan *c);

/** Sends the element at elem, blocking until a receiver takes it or there
 * is room in the buffer.
 * elem_size bytes are copied from elem.
 * @param c the channel.
 * @param elem the element to copy in; may be NULL when the element size
 *        is 0.
 * @return 0; EPIPE if the channel is or becomes closed (the element was not
 *         sent); EINVAL for a NULL channel, or a NULL elem with elem_size >
 *         0; ENOMEM (plain threads, see goro.h's conventions).
 * @go `c <- v` (which panics on a closed channel). */
GORO_API int goro_chan_send(goro_chan *c, const void *elem);

/** Receives an element into elem, blocking until one is available.
 * Buffered elements are received in order even after close.
 * `while (goro_chan_recv(c, &v) == 0)` is Go's `for v := range c`.
 * @param c the channel.
 * @param elem where to copy the element; NULL discards it.
 * @return 0; EPIPE when the channel is closed and drained (elem is then
 *         zero-filled); EINVAL for a NULL channel; ENOMEM (plain threads).
 * @go `v, ok := <-c`. */
GORO_API int goro_chan_recv(goro_chan *c, void *elem);

/** goro_chan_send() that never blocks.
 * @param c the channel.
 * @param elem the element to copy in.
 * @return 0; EAGAIN when it would block; EPIPE, EINVAL as goro_chan_send().
 * @go `select { case c <- v: default: }`. */
GORO_API int goro_chan_try_send(goro_chan *c, const void *elem);

/** goro_chan_recv() that never blocks.
 * @param c the channel.
 * @param elem where to copy the element; NULL discards it.
 * @return 0; EAGAIN when nothing is ready; EPIPE, EINVAL as
 *         goro_chan_recv().
 * @go `select { case v := <-c: default: }`. */
GORO_API int goro_chan_try_recv(goro_chan *c, void *elem);

/** Closes the channel: no more sends.
 * Receivers drain the buffer, then get EPIPE.  Wakes every blocked
 * receiver (EPIPE) and sender (EPIPE).
 * @param c the channel.
 * @return 0; EPIPE if already closed; EINVAL for NULL.
 * @go `close(c)` (which panics on a closed channel). */
GORO_API int goro_chan_close(goro_chan *c);

/** Returns the number of elements buffered.
 * @param c the channel, or NULL.
 * @return the count; 0 for NULL.
 * @go `len(c)`. */
GORO_API size_t goro_chan_len(goro_chan *c);

/** Returns the buffer capacity.
 * @param c the channel, or NULL.
 * @return the capacity in elements; 0 for NULL or unbuffered.
 * @go `cap(c)`. */
GORO_API size_t goro_chan_cap(goro_chan *c);

/** Adds a reference to c.
 * @param c the channel, or NULL.
 * @return c (NULL stays NULL).
 * @own the caller holds one more reference, dropped by one
 *      goro_chan_release().
 * @go none: Go's garbage collector. */
GORO_API goro_chan *goro_chan_retain(goro_chan *c);

/** Drops a reference; the last one frees the channel.
 * Never blocks.  Releasing does not close: goroutines still blocked on the
 * channel keep it alive, and stay blocked until someone closes it through a
 * reference of their own.
 * @param c the channel; NULL is ignored.
 * @own releasing a channel whose last reference is already gone is a fatal
 *      error ("double release of channel").
 * @go none: Go's garbage collector. */
GORO_API void goro_chan_release(goro_chan *c);

/** goro_chan_send() that first checks the element size.
 * The size-checked forms serve code that keeps untyped channels: the
 * macros #GORO_SEND, #GORO_RECV, #GORO_TRY_SEND and #GORO_TRY_RECV pass
 * `sizeof *(p)`, so an untyped call cannot copy the wrong number of bytes:
 * @code
 * int v; GORO_SEND(c, &v); GORO_RECV(c, &v);
 * @endcode
 * Typed channels (GORO_CHAN_TYPE()) need none of this.
 * @param c the channel.
 * @param elem the element to copy in.
 * @param size the caller's element size; must equal the channel's.
 * @return as goro_chan_send(), and EINVAL (nothing copied, nothing waited
 *         for) when size differs.
 * @go `c <- v`. */
GORO_API int goro_chan_send_sized(goro_chan *c, const void *elem, size_t size);
/** goro_chan_recv() that first checks the element size.
 * @param c the channel.
 * @param elem where to copy the element; NULL discards it.
 * @param size the caller's element size; must equal the channel's.
 * @return as goro_chan_recv(), and EINVAL (nothing copied, nothing waited
 *         for) when size differs.
 * @go `v, ok := <-c`. */
GORO_API int goro_chan_recv_sized(goro_chan *c, void *elem, size_t size);
/** goro_chan_try_send() that first checks the element size.
 * @param c the channel.
 * @param elem the element to copy in.
 * @param size the caller's element size; must equal the channel's.
 * @return as goro_chan_try_send(), and EINVAL (nothing copied) when size
 *         differs.
 * @go `select { case c <- v: default: }`. */
GORO_API int goro_chan_try_send_sized(goro_chan *c, const void *elem, size_t size);
/** goro_chan_try_recv() that first checks the element size.
 * @param c the channel.
 * @param elem where to copy the element; NULL discards it.
 * @param size the caller's element size; must equal the channel's.
 * @return as goro_chan_try_recv(), and EINVAL (nothing copied) when size
 *         differs.
 * @go `select { case v := <-c: default: }`. */
GORO_API int goro_chan_try_recv_sized(goro_chan *c, void *elem, size_t size);
/** Size-checked goro_chan_send() of `*p`.
 * @param c the channel.
 * @param p a pointer to the element; its pointee's size is checked.
 * @return as goro_chan_send_sized(). */
#define GORO_SEND(c, p) goro_chan_send_sized((c), (p), sizeof *(p))
/** Size-checked goro_chan_recv() into `*p`.
 * @param c the channel.
 * @param p where to receive; its pointee's size is checked.
 * @return as goro_chan_recv_sized(). */
#define GORO_RECV(c, p) goro_chan_recv_sized((c), (p), sizeof *(p))
/** Size-checked goro_chan_try_send() of `*p`.
 * @param c the channel.
 * @param p a pointer to the element; its pointee's size is checked.
 * @return as goro_chan_try_send_sized(). */
#define GORO_TRY_SEND(c, p) goro_chan_try_send_sized((c), (p), sizeof *(p))
/** Size-checked goro_chan_try_recv() into `*p`.
 * @param c the channel.
 * @param p where to receive; its pointee's size is checked.
 * @return as goro_chan_try_recv_sized(). */
#define GORO_TRY_RECV(c, p) goro_chan_try_recv_sized((c), (p), sizeof *(p))

/** @} */

/**
 * @defgroup grp_select Select
 * @brief Waiting on several channel operations and timeouts at once.
 *
 * Cases are values built by the goro_case_* functions; goro_select() runs
 * one ready case, chosen uniformly at random among those ready, waiting
 * until one is, and returns its index.  A NULL channel's case is never
 * ready (Go's nil-channel idiom for switching a case off).
 * @code
 * int v;
 * switch (GORO_SELECT(goro_case_recv(jobs, &v),
 *                     goro_case_recv(goro_ctx_done(ctx), NULL),
 *                     goro_case_timeout(5 * GORO_SECOND))) {
 * case 0: ... v received ...; break;
 * case 1: ... canceled ...;   break;
 * case 2: ... timed out ...;  break;
 * }
 * @endcode
 * @go the select statement.
 * @{
 */

/** One case of a select.
 * Build with the goro_case_* functions; the fields are not part of the
 * API. */
typedef struct goro_case {
    /** @cond GORO_PRIVATE */
    int kind;
    goro_chan *c;
    void *elem;
    bool *ok;
    int64_t when;
    /** @endcond */
} goro_case;

/** A receive case.
 * If chosen because the channel is closed and drained, elem is
 * zero-filled.
 * @param c the channel; NULL makes a case that is never ready.
 * @param elem where to copy the element; NULL discards it.
 * @return the case.
 * @go `case v := <-c`. */
GORO_API goro_case goro_case_recv(goro_chan *c, void *elem);

/** A receive case that also reports whether a value was received.
 * @param c the channel; NULL makes a case that is never ready.
 * @param elem where to copy the element; NULL discards it.
 * @param ok set true when a value was received, false when the channel is
 *        closed and drained (elem then zero-filled); may be NULL.
 * @return the case.
 * @go `case v, ok := <-c`. */
GORO_API goro_case goro_case_recv_ok(goro_chan *c, void *elem, bool *ok);

/** A send case of the element at elem.
 * If chosen because the channel is closed, goro_select() returns -EPIPE
 * (Go panics).
 * @param c the channel; NULL makes a case that is never ready.
 * @param elem the element to copy in.
 * @return the case.
 * @go `case c <- v`. */
GORO_API goro_case goro_case_send(goro_chan *c, const void *elem);

/** A case ready ns nanoseconds after it is built.
 * Allocates nothing.
 * @param ns the delay; ns <= 0: ready at once.
 * @return the case.
 * @go `case <-time.After(ns)`. */
GORO_API goro_case goro_case_timeout(int64_t ns);

/** A case ready at an absolute time.
 * @param when the goro_now() time at which the case becomes ready.
 * @return the case.
 * @go `case <-time.After(time.Until(t))`. */
GORO_API goro_case goro_case_deadline(int64_t when);

/** A case chosen when no other case is ready, so the select never blocks.
 * @return the case.
 * @go `default:`. */
GORO_API goro_case goro_case_default(void);

/** Runs one of the n cases (see @ref grp_select).
 * n 0 with no case blocks forever, like Go's empty select.
 * @param cases the cases, built by the goro_case_* functions.
 * @param n how many.
 * @return the index of the case that ran; -EPIPE if the chosen case was a
 *         send on a closed channel; -EINVAL for NULL cases with n > 0, n
 *         above 65535, more than one default case, a send case with a NULL
 *         elem on a channel of elem_size > 0, or a case not built by
 *         goro_case_*; -ENOMEM if more than 64 cases, or a plain thread's
 *         first wait, need memory that is not there.
 * @go the select statement. */
GORO_API int goro_select(goro_case *cases, size_t n);

/** goro_select() over the listed cases: `GORO_SELECT(case0, case1, ...)`.
 * In C a compound literal array; in C++ (which has none) a function
 * template that copies the cases into a local array.
 * @param ... the cases, goro_case values.
 * @return as goro_select().
 * @go the select statement. */
#ifndef __cplusplus
#define GORO_SELECT(...)                                                       \
    goro_select((goro_case[]){__VA_ARGS__},                                    \
                sizeof((goro_case[]){__VA_ARGS__}) / sizeof(goro_case))
#else
#define GORO_SELECT(...) goro__select_cxx(__VA_ARGS__)
#endif

/** goro_case_recv() that checks the element size.
 * When c is not NULL and size is not its element size, the case is built
 * invalid and goro_select() returns -EINVAL before touching any channel.
 * The macros #GORO_CASE_RECV, #GORO_CASE_RECV_OK and #GORO_CASE_SEND pass
 * `sizeof *(p)`.
 * @param c the channel; NULL makes a case that is never ready.
 * @param elem where to copy the element; NULL discards it.
 * @param size the caller's element size.
 * @return the case.
 * @go `case v := <-c`. */
GORO_API goro_case goro_case_recv_sized(goro_chan *c, void *elem, size_t size);
/** goro_case_recv_ok() that checks the element size (see
 * goro_case_recv_sized()).
 * @param c the channel; NULL makes a case that is never ready.
 * @param elem where to copy the element; NULL discards it.
 * @param ok set true when a value was received, false when the channel is
 *        closed and drained; may be NULL.
 * @param size the caller's element size.
 * @return the case.
 * @go `case v, ok := <-c`. */
GORO_API goro_case goro_case_recv_ok_sized(goro_chan *c, void *elem, bool *ok, size_t size);
/** goro_case_send() that checks the element size (see
 * goro_case_recv_sized()).
 * @param c the channel; NULL makes a case that is never ready.
 * @param elem the element to copy in.
 * @param size the caller's element size.
 * @return the case.
 * @go `case c <- v`. */
GORO_API goro_case goro_case_send_sized(goro_chan *c, const void *elem, size_t size);
/** Size-checked receive case into `*p`.
 * @param c the channel.
 * @param p where to receive; its pointee's size is checked.
 * @return the case, as goro_case_recv_sized(). */
#define GORO_CASE_RECV(c, p) goro_case_recv_sized((c), (p), sizeof *(p))
/** Size-checked receive case into `*p`, with an ok flag.
 * @param c the channel.
 * @param p where to receive; its pointee's size is checked.
 * @param ok a `bool *` set as in goro_case_recv_ok(); may be NULL.
 * @return the case, as goro_case_recv_ok_sized(). */
#define GORO_CASE_RECV_OK(c, p, ok) goro_case_recv_ok_sized((c), (p), (ok), sizeof *(p))
/** Size-checked send case of `*p`.
 * @param c the channel.
 * @param p a pointer to the element; its pointee's size is checked.
 * @return the case, as goro_case_send_sized(). */
#define GORO_CASE_SEND(c, p) goro_case_send_sized((c), (p), sizeof *(p))

/** @} */

/**
 * @defgroup grp_typed Typed channels
 * @brief Channels of one element type, checked by the compiler.
 *
 * `GORO_CHAN_TYPE(name, T);` (at file scope, with its semicolon) declares a
 * channel type of elements of type T (any complete object type written as
 * one type name: use a typedef for arrays and function pointers) and its
 * operations, each a static inline call of the untyped function with
 * `sizeof(T)` filled in, so it costs nothing over the untyped call.
 * Channels of different types are distinct pointer types: passing one where
 * another is expected, or a pointer to the wrong element type, is a compile
 * error (incompatible pointer types: an error in C++ and in C with -Werror,
 * which goro's builds use).
 * @code
 * GORO_CHAN_TYPE(int_chan, int);
 *
 * int_chan *c = goro_make(int_chan, 16);
 * int_chan_send(c, j * 2);               // by value
 * int v;
 * while (int_chan_recv(c, &v) == 0) ...  // for v := range c
 * switch (GORO_SELECT(int_chan_case_recv(c, &v),
 *                     goro_case_recv(goro_ctx_done(ctx), NULL))) ...
 * int_chan_release(c);
 * @endcode
 * @go `chan T`.
 * @{
 */

/** Makes a channel of a type declared by GORO_CHAN_TYPE(), recording the
 * call site.
 * @param name the channel type's name given to GORO_CHAN_TYPE().
 * @param cap the buffer capacity in elements (0: unbuffered).
 * @return a `name *`, or NULL with errno EINVAL or ENOMEM, as
 *         goro_chan_make().
 * @own the caller holds one reference; drop it with `name_release`.
 * @go `make(chan T, cap)`. */
#define goro_make(name, cap) name##_make_at((cap), __FILE__, __LINE__)

/** Declares the channel type name, of elements of type T, and its
 * operations.
 * It defines, for name (n) and element type T:
 * @code
 * typedef struct n n;                     the channel type (opaque)
 * n *n_make_at(size_t cap, const char *file, int line);
 *                                  goro_chan_make_at(sizeof(T), cap, ...);
 *                                  call it as goro_make(n, cap), which
 *                                  records the caller's file and line
 * int n_send(n *c, T v);           goro_chan_send of v (converted to T as
 *                                  an assignment would)
 * int n_recv(n *c, T *v);          goro_chan_recv (v may be NULL)
 * bool n_recv_ok(n *c, T *v);      true when a value was received, false
 *                                  once c is closed and drained (or on
 *                                  any error): Go's v, ok := <-c
 * int n_try_send(n *c, T v);       goro_chan_try_send
 * int n_try_recv(n *c, T *v);      goro_chan_try_recv
 * int n_close(n *c);               goro_chan_close
 * size_t n_len(n *c), n_cap(n *c); goro_chan_len, goro_chan_cap
 * n *n_retain(n *c);               goro_chan_retain
 * void n_release(n *c);            goro_chan_release
 * goro_case n_case_recv(n *c, T *v);
 * goro_case n_case_recv_ok(n *c, T *v, bool *ok);
 * goro_case n_case_send(n *c, const T *v);
 *                                  goro_case_recv/_recv_ok/_send; they
 *                                  mix with any other goro_case
 * goro_chan *n_chan(n *c);         the untyped channel (the same object,
 *                                  no reference added)
 * n *n_from(goro_chan *c);         the typed view of an untyped channel
 *                                  (no reference added); NULL with errno
 *                                  EINVAL when c's element size is not
 *                                  sizeof(T); NULL for NULL
 * @endcode
 * Every function takes and returns what the untyped one does (see there).
 * A NULL `n *` is Go's nil channel: never ready in a select.
 * @param name the new channel type's name, also the prefix of its
 *        operations.
 * @param T the element type.
 * @own as for untyped channels: goro_make() returns one reference, dropped
 *      by one `n_release`.
 * @go `type name chan T`. */
#define GORO_CHAN_TYPE(name, T)                                                \
    typedef struct name name;                                                  \
    static inline __attribute__((unused)) name *name##_make_at(                \
        size_t cap, const char *file, int line)                                \
    {                                                                          \
        return (name *)goro_chan_make_at(sizeof(T), cap, file, line);          \
    }                                                                          \
    static inline __attribute__((unused)) goro_chan *name##_chan(name *c)      \
    {                                                                          \
        return (goro_chan *)c;                                                 \
    }                                                                          \
    static inline __attribute__((unused)) name *name##_from(goro_chan *c)      \
    {                                                                          \
        return (name *)goro_chan_check_size(c, sizeof(T));                    \
    }                                                                          \
    static inline __attribute__((unused)) int name##_send(name *c, T v)        \
    {                                                                          \
        return goro_chan_send((goro_chan *)c, &v);                             \
    }                                                                          \
    static inline __attribute__((unused)) int name##_recv(name *c, T *v)       \
    {                                                                          \
        return goro_chan_recv((goro_chan *)c, v);                              \
    }                                                                          \
    static inline __attribute__((unused)) bool name##_recv_ok(name *c, T *v)   \
    {                                                                          \
        return goro_chan_recv((goro_chan *)c, v) == 0;                         \
    }                                                                          \
    static inline __attribute__((unused)) int name##_try_send(name *c, T v)    \
    {                                                                          \
        return goro_chan_try_send((goro_chan *)c, &v);                         \
    }                                                                          \
    static inline __attribute__((unused)) int name##_try_recv(name *c, T *v)   \
    {                                                                          \
        return goro_chan_try_recv((goro_chan *)c, v);                          \
    }                                                                          \
    static inline __attribute__((unused)) int name##_close(name *c)            \
    {                                                                          \
        return goro_chan_close((goro_chan *)c);                                \
    }                                                                          \
    static inline __attribute__((unused)) size_t name##_len(name *c)           \
    {                                                                          \
        return goro_chan_len((goro_chan *)c);                                  \
    }                                                                          \
    static inline __attribute__((unused)) size_t name##_cap(name *c)           \
    {                                                                          \
        return goro_chan_cap((goro_chan *)c);                                  \
    }                                                                          \
    static inline __attribute__((unused)) name *name##_retain(name *c)         \
    {                                                                          \
        return (name *)goro_chan_retain((goro_chan *)c);                       \
    }                                                                          \
    static inline __attribute__((unused)) void name##_release(name *c)         \
    {                                                                          \
        goro_chan_release((goro_chan *)c);                                     \
    }                                                                          \
    static inline __attribute__((unused)) goro_case name##_case_recv(          \
        name *c, T *v)                                                         \
    {                                                                          \
        return goro_case_recv((goro_chan *)c, v);                              \
    }                                                                          \
    static inline __attribute__((unused)) goro_case name##_case_recv_ok(       \
        name *c, T *v, bool *ok)                                               \
    {                                                                          \
        return goro_case_recv_ok((goro_chan *)c, v, ok);                       \
    }                                                                          \
    static inline __attribute__((unused)) goro_case name##_case_send(          \
        name *c, const T *v)                                                   \
    {                                                                          \
        return goro_case_send((goro_chan *)c, v);                              \
    }                                                                          \
    struct name

/** Checks an untyped channel's element size before it is used as a channel
 * of size-byte elements.
 * The typed layer's `name_from` is built on it.
 * @param c the channel, or NULL.
 * @param size the expected element size in bytes.
 * @return c when its element size is size (or c is NULL), else NULL with
 *         errno EINVAL.
 * @own no reference is added.
 * @go a type assertion to `chan T`. */
GORO_API goro_chan *goro_chan_check_size(goro_chan *c, size_t size);

/** @} */

/**
 * @defgroup grp_timer Timers and tickers
 * @brief One-shot timers, function timers and periodic tickers.
 *
 * With Go 1.23 semantics: after a stop or reset returns, no stale value is
 * received.  A timer's channel delivers the `int64_t` goro_now() time at
 * which it fired; a slow ticker receiver misses ticks rather than queueing
 * them.
 * @go `time.Timer`, `time.Ticker`, `time.AfterFunc`.
 * @{
 */

/** A timer (opaque). @go `*time.Timer`. */
typedef struct goro_timer goro_timer;
/** A ticker (opaque). @go `*time.Ticker`. */
typedef struct goro_ticker goro_ticker;

/** Starts a timer that fires once, ns nanoseconds from now.
 * A macro that records the call site for lifetime errors; the library also
 * exports a function of this name (no call site).
 * @param ns the delay; ns <= 0: at once.
 * @return the timer, or NULL with errno ENOMEM.
 * @own free with goro_timer_free().
 * @go `time.NewTimer(ns)`. */
#define goro_timer_make(ns) goro_timer_make_at((ns), __FILE__, __LINE__)
/** @cond GORO_PRIVATE */
/** The exported function form of goro_timer_make() (no call site).
 * @param ns the delay.
 * @return as goro_timer_make(). */
GORO_API goro_timer *(goro_timer_make)(int64_t ns);
/** @endcond */
/** The function behind goro_timer_make(), with an explicit creation site.
 * @param ns the delay; ns <= 0: at once.
 * @param file the creation site that lifetime errors print, or NULL.
 * @param line its line.
 * @return as goro_timer_make().
 * @own as goro_timer_make(); file is kept by pointer: pass a literal.
 * @go `time.NewTimer(ns)`. */
GORO_API goro_timer *goro_timer_make_at(int64_t ns, const char *file, int line);

/** Stops the timer; its channel will deliver nothing until a reset.
 * @param t the timer, or NULL.
 * @return true if this call stopped the timer before it fired (or before
 *         its value was received), false if it had already been received
 *         or stopped, or t is NULL.
 * @go `t.Stop()`. */
GORO_API bool goro_timer_stop(goro_timer *t);

/** Stops the timer and starts it again to fire ns from now.
 * @param t the timer, or NULL.
 * @param ns the new delay; ns <= 0: at once.
 * @return what goro_timer_stop() would have returned.
 * @go `t.Reset(ns)`. */
GORO_API bool goro_timer_reset(goro_timer *t, int64_t ns);

/** Returns the timer's channel, of `int64_t` fire times.
 * @param t the timer, or NULL.
 * @return the channel; NULL for NULL and for a goro_after_func() timer.
 * @own borrowed: valid until goro_timer_free(); retain it to keep it
 *      longer.
 * @go `t.C`. */
GORO_API goro_chan *goro_timer_chan(goro_timer *t);

/** Stops and frees the timer.
 * Goroutines blocked on its channel must be gone or hold a reference to
 * the channel.
 * @param t the timer; NULL is ignored.
 * @own any later use of the timer, a second free included, is a fatal error
 *      ("use of released timer (made at file:line)").
 * @go none: Go's garbage collector (after `t.Stop()`). */
GORO_API void goro_timer_free(goro_timer *t);

/** Starts a func timer: ns nanoseconds from now it starts fn(arg) in a
 * goroutine of its own, so fn may block.
 * It has no channel (goro_timer_chan() returns NULL); goro_timer_stop(),
 * goro_timer_reset() and goro_timer_free() work on it as on any timer:
 *   - goro_timer_stop() returns true if it prevented the call, false if fn
 *     was already started (stop does not wait for fn to return) or the
 *     timer was already stopped;
 *   - goro_timer_reset() re-arms it, true if fn had not been started yet;
 *     after fn was started, a reset arms it to start fn once more.
 *
 * As for every timer, calls of stop, reset and free on one timer must not
 * race each other: fn may reset its own timer only while its owner does
 * not call those at the same time.
 * @param ns the delay; ns <= 0: at once.
 * @param fn the function to start; not NULL.
 * @param arg its argument.
 * @return the timer, or NULL with errno EINVAL (fn is NULL) or ENOMEM.
 * @own free with goro_timer_free(), which may be called while fn runs (fn
 *      gets arg, not the timer); arg is the caller's to keep alive until fn
 *      has used it.
 * @go `time.AfterFunc(ns, f)`. */
GORO_API goro_timer *goro_after_func(int64_t ns, void (*fn)(void *), void *arg);

/** Starts a ticker that fires every ns nanoseconds.
 * A macro that records the call site; the library also exports a function
 * of this name (no call site).
 * @param ns the period; must be > 0.
 * @return the ticker, or NULL with errno EINVAL (ns <= 0) or ENOMEM.
 * @own free with goro_ticker_free().
 * @go `time.NewTicker(ns)`. */
#define goro_ticker_make(ns) goro_ticker_make_at((ns), __FILE__, __LINE__)
/** @cond GORO_PRIVATE */
/** The exported function form of goro_ticker_make() (no call site).
 * @param ns the period.
 * @return as goro_ticker_make(). */
GORO_API goro_ticker *(goro_ticker_make)(int64_t ns);
/** @endcond */
/** The function behind goro_ticker_make(), with an explicit creation site.
 * @param ns the period; must be > 0.
 * @param file the creation site that lifetime errors print, or NULL.
 * @param line its line.
 * @return as goro_ticker_make().
 * @own as goro_ticker_make(); file is kept by pointer: pass a literal.
 * @go `time.NewTicker(ns)`. */
GORO_API goro_ticker *goro_ticker_make_at(int64_t ns, const char *file, int line);

/** Stops the ticker.
 * @param t the ticker, or NULL.
 * @return true if it was running; false for NULL.
 * @go `t.Stop()`. */
GORO_API bool goro_ticker_stop(goro_ticker *t);

/** Restarts the ticker with period ns from now.
 * @param t the ticker, or NULL.
 * @param ns the new period; must be > 0.
 * @return true if it was running; false and nothing changes for ns <= 0
 *         or a NULL ticker.
 * @go `t.Reset(ns)`. */
GORO_API bool goro_ticker_reset(goro_ticker *t, int64_t ns);

/** Returns the ticker's channel, of `int64_t` tick times.
 * @param t the ticker, or NULL.
 * @return the channel; NULL for NULL.
 * @own borrowed: valid until goro_ticker_free().
 * @go `t.C`. */
GORO_API goro_chan *goro_ticker_chan(goro_ticker *t);

/** Stops and frees the ticker.
 * @param t the ticker; NULL is ignored.
 * @own a later use, or a second free, is a fatal error, as for timers.
 * @go none: Go's garbage collector (after `t.Stop()`). */
GORO_API void goro_ticker_free(goro_ticker *t);

/** @} */

/**
 * @defgroup grp_ctx Context
 * @brief Cancellation, deadlines and values carried down a call tree.
 *
 * A context carries a cancellation signal, a deadline and values down a
 * tree of calls and goroutines.  Canceling a context cancels every context
 * derived from it.  Contexts are reference counted: every goro_ctx_with_*
 * returns one reference, goro_ctx_retain() adds one, goro_ctx_release()
 * drops one.  A child holds a reference to its parent.
 *
 * goro_ctx_release() also cancels the context (Go's `defer cancel()`): the
 * code that created a context releases it when it is done, and every
 * goroutine working under it sees done close.  So a goroutine handed a
 * context either borrows it (the creator outlives it, e.g. waits for it
 * through a waitgroup or group) or holds a retained reference and releases
 * it only when canceling is what it wants.
 *
 * Wherever goro takes a `goro_ctx *`, NULL stands for the background
 * context.
 *
 * The constructors are macros that record their call site, which a use of
 * a context after its last release (or a release too many) prints as it
 * dies: "fatal error: use of released context (made at app.c:12)".  Each
 * has an `_at` function taking the site (file kept by pointer: a literal),
 * and the plain names remain exported functions for callers that cannot
 * use the macros.
 * @go package context.
 * @{
 */

/** A context (opaque). @go `context.Context`. */
typedef struct goro_ctx goro_ctx;

/** Returns the background context: never canceled, no deadline, no values.
 * Its done channel is NULL.  retain and release on it do nothing.
 * @return the background context.
 * @go `context.Background()`. */
GORO_API goro_ctx *goro_ctx_background(void);

/** Returns a new context canceled by goro_ctx_cancel() (or release) or when
 * parent is.
 * @param parent the parent; NULL means background.
 * @return the context, or NULL with errno ENOMEM.
 * @own one reference for the caller; goro_ctx_release() cancels and drops
 *      it.
 * @go `context.WithCancel(parent)`. */
#define goro_ctx_with_cancel(parent) goro_ctx_with_cancel_at((parent), __FILE__, __LINE__)
/** @cond GORO_PRIVATE */
/** The exported function form of goro_ctx_with_cancel() (no call site).
 * @param parent the parent; NULL means background.
 * @return as goro_ctx_with_cancel(). */
GORO_API goro_ctx *(goro_ctx_with_cancel)(goro_ctx *parent);
/** @endcond */
/** The function behind goro_ctx_with_cancel(), with an explicit creation
 * site.
 * @param parent the parent; NULL means background.
 * @param file the creation site that lifetime errors print, or NULL.
 * @param line its line.
 * @return as goro_ctx_with_cancel().
 * @own as goro_ctx_with_cancel(); file is kept by pointer.
 * @go `context.WithCancel(parent)`. */
GORO_API goro_ctx *goro_ctx_with_cancel_at(goro_ctx *parent, const char *file, int line);

/** Like goro_ctx_with_cancel(), and also canceled with ETIMEDOUT ns from
 * now.
 * @param parent the parent; NULL means background.
 * @param ns the timeout; ns <= 0: canceled at once, before it is returned.
 * @return the context, or NULL with errno ENOMEM.
 * @own one reference for the caller.
 * @go `context.WithTimeout(parent, ns)`. */
#define goro_ctx_with_timeout(parent, ns)                                      \
    goro_ctx_with_timeout_at((parent), (ns), __FILE__, __LINE__)
/** @cond GORO_PRIVATE */
/** The exported function form of goro_ctx_with_timeout() (no call site).
 * @param parent the parent.
 * @param ns the timeout.
 * @return as goro_ctx_with_timeout(). */
GORO_API goro_ctx *(goro_ctx_with_timeout)(goro_ctx *parent, int64_t ns);
/** @endcond */
/** The function behind goro_ctx_with_timeout(), with an explicit creation
 * site.
 * @param parent the parent; NULL means background.
 * @param ns the timeout; ns <= 0: canceled at once.
 * @param file the creation site that lifetime errors print, or NULL.
 * @param line its line.
 * @return as goro_ctx_with_timeout().
 * @own as goro_ctx_with_timeout(); file is kept by pointer.
 * @go `context.WithTimeout(parent, ns)`. */
GORO_API goro_ctx *goro_ctx_with_timeout_at(goro_ctx *parent, int64_t ns, const char *file,
                                            int line);

/** Like goro_ctx_with_cancel(), and also canceled with ETIMEDOUT at an
 * absolute time.
 * A child's deadline never exceeds its parent's.
 * @param parent the parent; NULL means background.
 * @param when the goro_now() deadline (at once if that has passed).
 * @return the context, or NULL with errno ENOMEM.
 * @own one reference for the caller.
 * @go `context.WithDeadline(parent, t)`. */
#define goro_ctx_with_deadline(parent, when)                                   \
    goro_ctx_with_deadline_at((parent), (when), __FILE__, __LINE__)
/** @cond GORO_PRIVATE */
/** The exported function form of goro_ctx_with_deadline() (no call site).
 * @param parent the parent.
 * @param when the deadline.
 * @return as goro_ctx_with_deadline(). */
GORO_API goro_ctx *(goro_ctx_with_deadline)(goro_ctx *parent, int64_t when);
/** @endcond */
/** The function behind goro_ctx_with_deadline(), with an explicit creation
 * site.
 * @param parent the parent; NULL means background.
 * @param when the goro_now() deadline.
 * @param file the creation site that lifetime errors print, or NULL.
 * @param line its line.
 * @return as goro_ctx_with_deadline().
 * @own as goro_ctx_with_deadline(); file is kept by pointer.
 * @go `context.WithDeadline(parent, t)`. */
GORO_API goro_ctx *goro_ctx_with_deadline_at(goro_ctx *parent, int64_t when, const char *file,
                                             int line);

/** Returns a context carrying value under key, canceled when parent is.
 * @param parent the parent; NULL means background.
 * @param key the key, compared by address; not NULL.
 * @param value the value, kept by pointer.
 * @return the context, or NULL with errno ENOMEM or EINVAL (NULL key).
 * @own one reference for the caller; value stays the caller's to keep
 *      alive while the context may be asked for it.
 * @go `context.WithValue(parent, key, value)`. */
#define goro_ctx_with_value(parent, key, value)                                \
    goro_ctx_with_value_at((parent), (key), (value), __FILE__, __LINE__)
/** @cond GORO_PRIVATE */
/** The exported function form of goro_ctx_with_value() (no call site).
 * @param parent the parent.
 * @param key the key.
 * @param value the value.
 * @return as goro_ctx_with_value(). */
GORO_API goro_ctx *(goro_ctx_with_value)(goro_ctx *parent, const void *key, void *value);
/** @endcond */
/** The function behind goro_ctx_with_value(), with an explicit creation
 * site.
 * @param parent the parent; NULL means background.
 * @param key the key, compared by address; not NULL.
 * @param value the value, kept by pointer.
 * @param file the creation site that lifetime errors print, or NULL.
 * @param line its line.
 * @return as goro_ctx_with_value().
 * @own as goro_ctx_with_value(); file is kept by pointer.
 * @go `context.WithValue(parent, key, value)`. */
GORO_API goro_ctx *goro_ctx_with_value_at(goro_ctx *parent, const void *key, void *value,
                                          const char *file, int line);

/** Returns a context canceled (ECANCELED) when the process receives any of
 * the listed signals.
 * While the context lives, those signals no longer have their previous
 * effect (SIGINT no longer kills the process); releasing it restores the
 * previous dispositions of those no notified channel wants (see
 * @ref grp_signal).  The signal is caught on any thread that does not block
 * it, goro's included (see @ref grp_sched, where they run with the
 * application's mask).
 * @param parent the parent; NULL means background.
 * @param ... the signal numbers, ending with 0.
 * @return the context, or NULL with errno EINVAL (no signal, or a number
 *         that is not 1..63, is SIGKILL or SIGSTOP, or is kept by the C
 *         library), ENOMEM, or EAGAIN (the thread that watches for signals
 *         could not be started).
 * @own one reference for the caller.
 * @go `signal.NotifyContext(parent, sig...)`. */
#define goro_ctx_with_signals(parent, ...)                                     \
    goro_ctx_with_signals_at(__FILE__, __LINE__, (parent), __VA_ARGS__)
/** @cond GORO_PRIVATE */
/** The exported function form of goro_ctx_with_signals() (no call site).
 * @param parent the parent.
 * @param sig the first signal.
 * @param ... more signals, ending with 0.
 * @return as goro_ctx_with_signals(). */
GORO_API goro_ctx *(goro_ctx_with_signals)(goro_ctx *parent, int sig, ...);
/** @endcond */
/** The function behind goro_ctx_with_signals(), with an explicit creation
 * site.
 * The site comes first here, before the variadic signal list.
 * @param file the creation site that lifetime errors print, or NULL.
 * @param line its line.
 * @param parent the parent; NULL means background.
 * @param sig the first signal number (0 for none: EINVAL).
 * @param ... more signal numbers, ending with 0.
 * @return as goro_ctx_with_signals().
 * @own as goro_ctx_with_signals(); file is kept by pointer.
 * @go `signal.NotifyContext(parent, sig...)`. */
GORO_API goro_ctx *goro_ctx_with_signals_at(const char *file, int line, goro_ctx *parent, int sig,
                                            ...);

/** Cancels ctx and all contexts derived from it.
 * Their done channels close and their err becomes ECANCELED (unless they
 * already ended).  When it returns, every descendant has ended, even while
 * another cancel of the same subtree (a deadline firing, another goroutine)
 * is under way: that one is waited for.  Idempotent; NULL, background and
 * value contexts (which have no cancel of their own, as in Go) are ignored.
 * @param ctx the context.
 * @go the cancel function. */
GORO_API void goro_ctx_cancel(goro_ctx *ctx);

/** Returns ctx's done channel, closed when ctx is canceled.
 * @param ctx the context.
 * @return the channel; NULL for background, so a select case on it is
 *         never ready.
 * @own borrowed: valid while ctx is.
 * @go `ctx.Done()`. */
GORO_API goro_chan *goro_ctx_done(goro_ctx *ctx);

/** Returns why ctx ended, if it has.
 * @param ctx the context.
 * @return 0 while ctx is live, ECANCELED once canceled, ETIMEDOUT once its
 *         deadline passed.
 * @go `ctx.Err()`. */
GORO_API int goro_ctx_err(goro_ctx *ctx);

/** Reports ctx's deadline.
 * @param ctx the context.
 * @param when where to store the goro_now() deadline; may be NULL.
 * @return true if ctx has a deadline.
 * @go `ctx.Deadline()`. */
GORO_API bool goro_ctx_deadline(goro_ctx *ctx, int64_t *when);

/** Looks up a value in ctx's chain.
 * @param ctx the context.
 * @param key the key, compared by address.
 * @return the value stored under key by the nearest goro_ctx_with_value()
 *         in ctx's chain, or NULL.
 * @go `ctx.Value(key)`. */
GORO_API void *goro_ctx_value(goro_ctx *ctx, const void *key);

/** Adds a reference to ctx.
 * @param ctx the context.
 * @return ctx.
 * @own the caller holds one more reference, dropped (with a cancel) by one
 *      goro_ctx_release().
 * @go none: Go's garbage collector. */
GORO_API goro_ctx *goro_ctx_retain(goro_ctx *ctx);

/** Cancels ctx and drops one reference.
 * A value context is not canceled.  The last reference frees it and drops
 * its reference to the parent.  Never parks (it may wait for a concurrent
 * cancel of the same subtree to finish, as goro_ctx_cancel() does).
 * @param ctx the context; NULL is ignored.
 * @own releasing a context whose last reference is gone is a fatal error
 *      ("double release of context (made at file:line)").
 * @go `defer cancel()`. */
GORO_API void goro_ctx_release(goro_ctx *ctx);

/** Returns a new context like goro_ctx_with_cancel()'s, meant to be
 * canceled with a cause by goro_ctx_cancel_cause().
 * Every cancelable context takes a cause; this is Go's name for the pair.
 * @param parent the parent; NULL means background.
 * @return the context, or NULL with errno ENOMEM.
 * @own one reference for the caller.
 * @go `context.WithCancelCause(parent)`. */
GORO_API goro_ctx *goro_ctx_with_cancel_cause(goro_ctx *parent);

/** Cancels ctx like goro_ctx_cancel() and records a cause.
 * ctx's err becomes ECANCELED; cause becomes the cause of ctx and of every
 * context it cancels.  If ctx has already ended, nothing changes: the first
 * cancel's cause stays.
 * @param ctx the context to cancel.
 * @param cause an errno-style number; 0 records none (the cause is then the
 *        err).
 * @return 0; EINVAL when ctx is NULL, is not cancelable (background, a
 *         value or without-cancel context) or cause is negative.
 * @go the CancelCauseFunc, `cancel(cause)`. */
GORO_API int goro_ctx_cancel_cause(goro_ctx *ctx, int cause);

/** Returns why ctx ended, with the cause given at cancel.
 * @param ctx the context.
 * @return the cause given to the goro_ctx_cancel_cause() that ended ctx or
 *         the ancestor it inherited its end from, else its err (ECANCELED,
 *         ETIMEDOUT); 0 while ctx is live, and for background and
 *         without-cancel contexts.
 * @go `context.Cause(ctx)`. */
GORO_API int goro_ctx_cause(goro_ctx *ctx);

/** Returns a context that carries parent's values but is never canceled.
 * It has no deadline, err 0, cause 0, done channel NULL, and contexts
 * derived from it end only by their own cancel or deadline.
 * @param parent the parent; NULL means background.
 * @return the context, or NULL with errno ENOMEM.
 * @own one reference for the caller; it holds one on parent.
 * @go `context.WithoutCancel(parent)`. */
GORO_API goro_ctx *goro_ctx_without_cancel(goro_ctx *parent);

/** The handle of a goro_ctx_after_func() registration (opaque).
 * @go the stop function returned by `context.AfterFunc`. */
typedef struct goro_ctx_stop goro_ctx_stop;

/** Arranges for fn(arg) to be started in a goroutine of its own once ctx is
 * done.
 * Done means canceled or past its deadline; at once if it already is; never
 * for a context that cannot end (background, without-cancel).  fn is
 * started at most once, and after ctx's err is set.
 * @param ctx the context to watch.
 * @param fn the function to start; not NULL.
 * @param arg its argument.
 * @return the stop handle, or NULL with errno EINVAL (fn is NULL) or
 *         ENOMEM.
 * @own the handle is the caller's, freed with goro_ctx_after_func_free().
 *      The registration holds a reference to ctx until the handle is freed
 *      and fn was started or stopped, so the caller need not keep ctx alive
 *      for it; arg is the caller's to keep alive until fn has used it.
 * @go `context.AfterFunc(ctx, f)`. */
GORO_API goro_ctx_stop *goro_ctx_after_func(goro_ctx *ctx, void (*fn)(void *), void *arg);

/** Stops the registration: fn will not be started.
 * Does not wait for an fn already started.
 * @param h the handle, or NULL.
 * @return true if this call prevented fn from being started; false if fn
 *         was already started, the registration already stopped, or h is
 *         NULL.
 * @go the stop function returned by `context.AfterFunc`. */
GORO_API bool goro_ctx_after_func_stop(goro_ctx_stop *h);

/** Frees the handle.
 * Does not stop the registration: an fn not yet started is still started
 * when ctx ends (Go: dropping the stop function), so stop first to cancel
 * the call.  Never blocks.
 * @param h the handle; NULL is ignored.
 * @own h must not be used after.
 * @go dropping the stop function. */
GORO_API void goro_ctx_after_func_free(goro_ctx_stop *h);

/** @} */

/**
 * @defgroup grp_signal Signals
 * @brief Relaying signals to channels.
 *
 * goro_signal_notify() relays signals to a channel of int, as Go's
 * signal.Notify does to a chan os.Signal; goro_ctx_with_signals() (see
 * @ref grp_ctx) cancels a context instead.  Both share one handler: it
 * records the signal and wakes a watcher thread, which delivers.  A signal
 * is caught on any thread that does not block it, goro's included (see
 * @ref grp_sched, where they run with the application's mask).  While any channel
 * or signal context wants a signal, that signal no longer has its previous
 * effect (SIGINT no longer kills the process); once none wants it, its
 * previous disposition is restored.
 * @code
 * goro_chan *sigc = goro_chan_make(sizeof(int), 1);
 * goro_signal_notify(sigc, SIGINT, SIGTERM, 0);
 * int sig;
 * goro_chan_recv(sigc, &sig);          // sig is SIGINT or SIGTERM
 * goro_signal_stop(sigc);
 * goro_chan_release(sigc);
 * @endcode
 * @go package os/signal.
 * @{
 */

/** Relays the listed signals to ch, whose elements are ints.
 * Each arrival sends the signal's number.  Sending never blocks: when ch
 * has no room (a full buffer, or no receiver waiting on an unbuffered one)
 * the signal is dropped for ch, so give ch a buffer of at least 1, as Go
 * advises; a signal that arrives again before the first was delivered is
 * delivered once.  Several channels may be notified of one signal, each
 * gets it; calling again with the same ch adds signals to those it gets.  A
 * closed ch receives nothing.
 * @param ch a channel of elements of `sizeof(int)`.
 * @param sig the first signal number.
 * @param ... more signal numbers, ending with 0.
 * @return 0; EINVAL for a NULL ch, a ch whose element size is not
 *         `sizeof(int)`, an empty list (Go relays every signal then), or a
 *         number that is not 1..63, is SIGKILL or SIGSTOP, or is kept by
 *         the C library (then nothing changed); ENOMEM; EAGAIN (the thread
 *         that watches for signals could not be started).
 * @own keeps a reference to ch until goro_signal_stop(ch).
 * @go `signal.Notify(c, sig...)`. */
GORO_API int goro_signal_notify(goro_chan *ch, int sig, ...);

/** Stops relaying signals to ch.
 * When it returns, ch receives no more signals, and each signal no channel
 * or signal context wants any more gets its previous disposition back.  A
 * ch never notified is ignored.
 * @param ch the channel.
 * @return 0; EINVAL for a NULL ch.
 * @own drops the reference goro_signal_notify() kept.
 * @go `signal.Stop(c)`. */
GORO_API int goro_signal_stop(goro_chan *ch);

/** @} */

/**
 * @defgroup grp_sync Sync
 * @brief Mutexes, reader/writer locks, waitgroups, once, conditions and
 * semaphores.
 *
 * Each type has a static initializer and needs no destroy call.  All of
 * them park goroutines and block plain threads.  The fields are private.
 * As in pthreads, the pointers these functions take (the object, the
 * mutex of goro_cond_wait(), the function of goro_once_do()) must not be
 * NULL: nothing checks them.  For atomics use C11 `stdatomic.h`
 * (docs/guide.md shows how).
 * @go package sync, and golang.org/x/sync/semaphore.
 * @{
 */

/** @cond GORO_PRIVATE */
/* Private: a queue of waiters under a small lock. */
typedef struct goro__waitlist {
    uint32_t lock;
    uint32_t count;
    void *head;
    void *tail;
} goro__waitlist;
/** @endcond */

/** A mutual-exclusion lock.
 * Not recursive.  Fair enough that no waiter starves: one that waited over
 * 1 ms has the lock handed to it directly (Go's starvation mode).
 * Initialise with #GORO_MUTEX_INIT (or zero it).
 * @go `sync.Mutex`. */
typedef struct goro_mutex {
    /** @cond GORO_PRIVATE */
    int32_t state;
    goro__waitlist sema;
    /** @endcond */
} goro_mutex;
/** Static initializer of an unlocked goro_mutex. */
#define GORO_MUTEX_INIT {0, {0, 0, NULL, NULL}}

/** Locks m, waiting as long as needed.
 * @param m the mutex.
 * @go `m.Lock()`. */
GORO_API void goro_mutex_lock(goro_mutex *m);
/** Locks m if it is free, without waiting.
 * @param m the mutex.
 * @return 0 if it locked m, EBUSY if m was locked.
 * @go `m.TryLock()`. */
GORO_API int goro_mutex_trylock(goro_mutex *m);
/** Unlocks m; any goroutine or thread may unlock it.
 * Unlocking an unlocked mutex is a fatal error (Go: "sync: unlock of
 * unlocked mutex").
 * @param m the mutex.
 * @go `m.Unlock()`. */
GORO_API void goro_mutex_unlock(goro_mutex *m);

/** A reader/writer lock.
 * A waiting writer blocks new readers, so writers are not starved by a
 * stream of readers.  Initialise with #GORO_RWMUTEX_INIT (or zero it).
 * @go `sync.RWMutex`. */
typedef struct goro_rwmutex {
    /** @cond GORO_PRIVATE */
    goro_mutex w;
    int32_t readers;            /* readers in, minus a bias while a writer waits */
    int32_t departing;          /* readers a waiting writer still waits for */
    goro__waitlist writer_sem;
    goro__waitlist reader_sem;
    /** @endcond */
} goro_rwmutex;
/** Static initializer of an unlocked goro_rwmutex. */
#define GORO_RWMUTEX_INIT {GORO_MUTEX_INIT, 0, 0, {0, 0, NULL, NULL}, {0, 0, NULL, NULL}}

/** Locks rw for reading, waiting while a writer holds or waits for it.
 * @param rw the lock.
 * @go `rw.RLock()`. */
GORO_API void goro_rwmutex_rlock(goro_rwmutex *rw);
/** Undoes one goro_rwmutex_rlock().
 * Read-unlocking an rwmutex that no reader holds is a fatal error (Go:
 * "sync: RUnlock of unlocked RWMutex").
 * @param rw the lock.
 * @go `rw.RUnlock()`. */
GORO_API void goro_rwmutex_runlock(goro_rwmutex *rw);
/** Locks rw for writing, waiting for every reader and writer to leave.
 * @param rw the lock.
 * @go `rw.Lock()`. */
GORO_API void goro_rwmutex_lock(goro_rwmutex *rw);
/** Undoes goro_rwmutex_lock().
 * Unlocking an rwmutex that no writer holds is a fatal error (Go: "sync:
 * Unlock of unlocked RWMutex").
 * @param rw the lock.
 * @go `rw.Unlock()`. */
GORO_API void goro_rwmutex_unlock(goro_rwmutex *rw);

/** Waits for a collection of goroutines to finish.
 * Initialise with #GORO_WAITGROUP_INIT (or zero it).
 * @go `sync.WaitGroup`. */
typedef struct goro_waitgroup {
    /** @cond GORO_PRIVATE */
    uint64_t state;             /* counter << 32 | waiters */
    goro__waitlist sema;
    /** @endcond */
} goro_waitgroup;
/** Static initializer of a goro_waitgroup with a zero counter. */
#define GORO_WAITGROUP_INIT {0, {0, 0, NULL, NULL}}

/** Adds n to the counter; at zero, wakes every waiter.
 * @param wg the waitgroup.
 * @param n the amount, may be negative.
 * @return 0; EINVAL if the counter would go negative or past INT_MAX (it
 *         is left as it was: Go panics here).
 * @go `wg.Add(n)`. */
GORO_API int goro_waitgroup_add(goro_waitgroup *wg, int n);
/** goro_waitgroup_add(wg, -1).
 * @param wg the waitgroup.
 * @return as goro_waitgroup_add(): 0, or EINVAL when the counter is 0.
 * @go `wg.Done()`. */
GORO_API int goro_waitgroup_done(goro_waitgroup *wg);
/** Waits until the counter is zero.
 * @param wg the waitgroup.
 * @go `wg.Wait()`. */
GORO_API void goro_waitgroup_wait(goro_waitgroup *wg);

/** Runs a function exactly once.
 * Initialise with #GORO_ONCE_INIT (or zero it).
 * @go `sync.Once`. */
typedef struct goro_once {
    /** @cond GORO_PRIVATE */
    uint32_t done;
    goro_mutex m;
    /** @endcond */
} goro_once;
/** Static initializer of a goro_once that has not run. */
#define GORO_ONCE_INIT {0, GORO_MUTEX_INIT}

/** Calls fn(arg) if no goro_once_do() on once has called its function yet.
 * Concurrent callers wait until that call returns.
 * @param once the once.
 * @param fn the function; not NULL.
 * @param arg its argument.
 * @go `once.Do(f)`. */
GORO_API void goro_once_do(goro_once *once, void (*fn)(void *), void *arg);

/** A condition variable, used with a goro_mutex.
 * Initialise with #GORO_COND_INIT (or zero it).
 * @go `sync.Cond`. */
typedef struct goro_cond {
    /** @cond GORO_PRIVATE */
    goro__waitlist waiters;
    /** @endcond */
} goro_cond;
/** Static initializer of a goro_cond. */
#define GORO_COND_INIT {{0, 0, NULL, NULL}}

/** Atomically unlocks m and waits for a signal or broadcast, then locks m
 * again before returning.
 * As in Go, wait in a loop on the condition.  m must be locked: if it is
 * not, the unlock is a fatal error, as in goro_mutex_unlock().
 * @param c the condition.
 * @param m the locked mutex.
 * @go `c.Wait()`. */
GORO_API void goro_cond_wait(goro_cond *c, goro_mutex *m);
/** Wakes one waiter, if any.
 * @param c the condition.
 * @go `c.Signal()`. */
GORO_API void goro_cond_signal(goro_cond *c);
/** Wakes every waiter.
 * @param c the condition.
 * @go `c.Broadcast()`. */
GORO_API void goro_cond_broadcast(goro_cond *c);

/** A weighted semaphore of a fixed size.
 * Waiters are served in FIFO order: a large request is not starved by
 * small ones.  Initialise with GORO_SEMA_INIT().
 * @go `semaphore.Weighted` (golang.org/x/sync/semaphore). */
typedef struct goro_sema {
    /** @cond GORO_PRIVATE */
    int64_t size;
    int64_t cur;
    goro__waitlist waiters;
    /** @endcond */
} goro_sema;
/** Static initializer of a goro_sema with n units, none held.
 * @param n the size. */
#define GORO_SEMA_INIT(n) {(n), 0, {0, 0, NULL, NULL}}

/** Acquires n units, waiting until they are free.
 * @param s the semaphore.
 * @param n the units, 0 to the size.
 * @return 0; EINVAL if n < 0 or n > size (it could never succeed); ENOMEM
 *         (plain threads, see goro.h's conventions).
 * @go `s.Acquire(ctx, n)`. */
GORO_API int goro_sema_acquire(goro_sema *s, int64_t n);
/** Acquires n units without waiting.
 * @param s the semaphore.
 * @param n the units.
 * @return 0; EAGAIN if they are not free or other callers wait (FIFO);
 *         EINVAL for n < 0.
 * @go `s.TryAcquire(n)`. */
GORO_API int goro_sema_try_acquire(goro_sema *s, int64_t n);
/** Releases n units.
 * @param s the semaphore.
 * @param n the units.
 * @return 0; EINVAL if n < 0 or more than held.
 * @go `s.Release(n)`. */
GORO_API int goro_sema_release(goro_sema *s, int64_t n);

/** @} */

/**
 * @defgroup grp_group Groups
 * @brief Running tasks together and collecting the first error.
 *
 * A group runs tasks in goroutines, waits for them all, and returns the
 * first error; the first error also cancels the group's context, so the
 * other tasks can stop early.  With a limit, goro_group_go() waits for a
 * free slot: a worker pool in three calls.
 * @go golang.org/x/sync/errgroup, with SetLimit.
 * @{
 */

/** A group (opaque). @go `*errgroup.Group`. */
typedef struct goro_group goro_group;

/** Creates a group whose context derives from parent.
 * A macro that records the call site; the library also exports a function
 * of this name (no call site).
 * @param parent the parent context; NULL means background.
 * @return the group, or NULL with errno ENOMEM.
 * @own free with goro_group_free() after goro_group_wait().
 * @go `errgroup.WithContext(parent)`. */
#define goro_group_make(parent) goro_group_make_at((parent), __FILE__, __LINE__)
/** @cond GORO_PRIVATE */
/** The exported function form of goro_group_make() (no call site).
 * @param parent the parent context.
 * @return as goro_group_make(). */
GORO_API goro_group *(goro_group_make)(goro_ctx *parent);
/** @endcond */
/** The function behind goro_group_make(), with an explicit creation site.
 * The group's context records the same site.
 * @param parent the parent context; NULL means background.
 * @param file the creation site that lifetime errors print, or NULL.
 * @param line its line.
 * @return as goro_group_make().
 * @own as goro_group_make(); file is kept by pointer.
 * @go `errgroup.WithContext(parent)`. */
GORO_API goro_group *goro_group_make_at(goro_ctx *parent, const char *file, int line);

/** Returns the group's context.
 * It is canceled by the first task error or when goro_group_wait() returns.
 * @param g the group, or NULL.
 * @return the context; NULL for a NULL group.
 * @own borrowed: valid until goro_group_free().
 * @go the ctx returned by `errgroup.WithContext`. */
GORO_API goro_ctx *goro_group_ctx(goro_group *g);

/** Limits the tasks running at once to n.
 * Call it before goro_group_go().
 * @param g the group; NULL is ignored.
 * @param n the limit; n <= 0: no limit, the default.
 * @go `g.SetLimit(n)`. */
GORO_API void goro_group_set_limit(goro_group *g, int n);

/** Runs fn(ctx, arg) in a new goroutine, first waiting for a free slot when
 * a limit is set.
 * fn returns int, 0 or an error number, and takes the group's context and
 * one pointer of any pointer type, checked against arg as in goro_go()
 * (`int task(goro_ctx *ctx, struct job *j)` is started as
 * `goro_group_go(g, task, &job)`).  A macro: dumps show the task as fn,
 * created at the caller's file and line; the library also exports a
 * function of this name.
 * @param g the group.
 * @param fn the task, `int fn(goro_ctx *, T *)`.
 * @param arg its argument, a `T *`.
 * @return 0; ENOMEM or EAGAIN when the goroutine could not be started (then
 *         fn does not run); EINVAL for a NULL group or fn.
 * @own arg stays the caller's: keep it alive until goro_group_wait().
 * @go `g.Go(f)`. */
#define goro_group_go(g, fn, arg)                                              \
    (GORO__CHECK_CALL(int, (fn)((goro_ctx *)0, (arg))),                        \
     goro_group_go_at((g), GORO__FN_CAST(int (*)(goro_ctx *, void *), fn),    \
                      (void *)(arg), #fn, __FILE__, __LINE__, __func__))
/** @cond GORO_PRIVATE */
/** The exported function form of goro_group_go() (no call site).
 * @param g the group.
 * @param fn the task.
 * @param arg its argument.
 * @return as goro_group_go(). */
GORO_API int(goro_group_go)(goro_group *g, int (*fn)(goro_ctx *ctx, void *arg), void *arg);
/** @endcond */

/** The function behind goro_group_go(), with an explicit call site.
 * entry, file, line and func are what dumps show for the task, as for
 * goro_go_at().
 * @param g the group.
 * @param fn the task; not NULL.
 * @param arg its argument.
 * @param entry the task's name as dumps show it, or NULL.
 * @param file the creation site's file, or NULL.
 * @param line the creation site's line.
 * @param func the creation site's function, or NULL.
 * @return as goro_group_go().
 * @own the strings are kept by pointer: pass literals.
 * @go `g.Go(f)`. */
GORO_API int goro_group_go_at(goro_group *g, int (*fn)(goro_ctx *ctx, void *arg), void *arg,
                              const char *entry, const char *file, int line, const char *func);

/** Waits for every task started with goro_group_go(), then cancels the
 * group's context.
 * @param g the group.
 * @return the first non-zero error a task returned, else 0; EINVAL for a
 *         NULL group.
 * @go `g.Wait()`. */
GORO_API int goro_group_wait(goro_group *g);

/** Frees the group.
 * Call it after goro_group_wait().
 * @param g the group; NULL is ignored.
 * @own a later use of the group, a second free included, is a fatal error
 *      ("use of released group (made at file:line)").
 * @go none: Go's garbage collector. */
GORO_API void goro_group_free(goro_group *g);

/** @} */

/**
 * @defgroup grp_io I/O
 * @brief Reads, writes and sockets that park the goroutine, not the thread.
 *
 * These mirror their POSIX counterparts, with one difference: errors come
 * back in the return value, as a NEGATIVE errno value (-ETIMEDOUT,
 * -EBADF, ...), never as -1.  Test `r < 0` and use `-r`:
 * @code
 * ssize_t n = goro_read_deadline(fd, buf, sizeof buf, deadline);
 * if (n < 0 && -n == ETIMEDOUT) ...
 * @endcode
 * Why: these calls park the goroutine, which may resume on another thread,
 * and C compilers may read errno through an address computed before the
 * call (`__errno_location` is a const function): errno read after a call
 * here can be another thread's.  errno is also set to the same value, for
 * code that reads it right away on the thread it runs on, but only the
 * return value is reliable in optimised code.
 *
 * In a goroutine these calls park it until the fd is ready, never blocking
 * the thread; on a plain thread they block it.  An fd is made non-blocking
 * and registered with the poller on first use; close it with goro_close(),
 * which also wakes goroutines waiting on it (-EBADF).  One goroutine at a
 * time may wait for each direction of an fd (another gets -EBUSY), as Go
 * serialises reads and writes on one net.Conn.  Regular files are always
 * "ready": their reads block the thread (use goro_blocking() for slow
 * storage).
 *
 * Bounded forms take an absolute goro_now() deadline (`_deadline`:
 * -ETIMEDOUT; a negative deadline is none) or a context (`_ctx`: -ECANCELED
 * or -ETIMEDOUT, from its done channel and its deadline; NULL:
 * background).  A `_deadline` call tries its system call before it waits,
 * so one that can complete at once does, even past its deadline.
 *
 * @anchor goro_networks
 * Networks and addresses (goro_listen(), goro_dial(), goro_addr_resolve()),
 * as Go's net.Dial and net.Listen take them:
 *   - "tcp", "tcp4", "tcp6" (stream) and "udp", "udp4", "udp6" (datagram):
 *     "host:port", "[v6addr]:port" or ":port" (listen: every interface,
 *     through the first address getaddrinfo gives, 0.0.0.0 with glibc,
 *     where Go binds a dual-stack [::]; dial: this host); a port is 1 to 5
 *     decimal digits with a value up to 65535 (no sign, no space, no
 *     service name), else -EINVAL.  An IP literal of the other family than
 *     "tcp4", "tcp6", "udp4" or "udp6" asks for is -EAFNOSUPPORT.  Names
 *     resolve through goro_blocking().
 *   - "unix" (stream), "unixgram" (datagram), "unixpacket" (seqpacket): a
 *     filesystem path, or "@name" for a Linux abstract socket (no file).
 *     A name of 108 bytes (sizeof sun_path) or more is -EINVAL, as in Go.
 *     `goro_listen("unix", "")` (and the other unix networks) binds a fresh
 *     abstract name (autobind).  The socket file of a path stays after
 *     goro_close(): unlink it (Go's UnixListener removes it on Close).
 *   - Any other network, or a NULL one, is -EINVAL.
 * @go package net, os.File reads, and the runtime's network poller.
 * @{
 */

/** goro_fd_wait() event: readable. */
#define GORO_READ 1
/** goro_fd_wait() event: writable. */
#define GORO_WRITE 2

/** Reads up to n bytes, waiting until some are available.
 * @param fd the file descriptor.
 * @param buf where to store the bytes.
 * @param n the most bytes to read.
 * @return bytes read (0 at end of file), or a negative errno value: -EBADF
 *         (fd closed meanwhile), -EBUSY (another goroutine reads fd),
 *         read's errors.
 * @go `conn.Read(buf)`. */
GORO_API ssize_t goro_read(int fd, void *buf, size_t n);
/** goro_read() bounded by an absolute deadline.
 * @param fd the file descriptor.
 * @param buf where to store the bytes.
 * @param n the most bytes to read.
 * @param deadline the goro_now() deadline; negative: none.
 * @return as goro_read(), and -ETIMEDOUT.
 * @go `conn.SetReadDeadline(t)` then `conn.Read(buf)`. */
GORO_API ssize_t goro_read_deadline(int fd, void *buf, size_t n, int64_t deadline);
/** goro_read() bounded by a context.
 * @param ctx the context; NULL means background.
 * @param fd the file descriptor.
 * @param buf where to store the bytes.
 * @param n the most bytes to read.
 * @return as goro_read(), and -ECANCELED or -ETIMEDOUT when ctx ends.
 * @go `conn.Read(buf)` with a deadline from ctx. */
GORO_API ssize_t goro_read_ctx(goro_ctx *ctx, int fd, void *buf, size_t n);

/** Writes all n bytes, waiting as needed.
 * A closed peer gives -EPIPE, never a SIGPIPE.
 * @param fd the file descriptor.
 * @param buf the bytes.
 * @param n how many.
 * @return n, or a negative errno value (-EPIPE, -EBADF, -EBUSY, write's
 *         errors; -EINVAL for n above `SSIZE_MAX`); on an error after a
 *         partial write the bytes already written are lost to the caller
 *         (as in Go, where the count comes with the error).
 * @go `conn.Write(buf)`. */
GORO_API ssize_t goro_write(int fd, const void *buf, size_t n);
/** goro_write() bounded by an absolute deadline.
 * @param fd the file descriptor.
 * @param buf the bytes.
 * @param n how many.
 * @param deadline the goro_now() deadline; negative: none.
 * @return as goro_write(), and -ETIMEDOUT.
 * @go `conn.SetWriteDeadline(t)` then `conn.Write(buf)`. */
GORO_API ssize_t goro_write_deadline(int fd, const void *buf, size_t n, int64_t deadline);
/** goro_write() bounded by a context.
 * @param ctx the context; NULL means background.
 * @param fd the file descriptor.
 * @param buf the bytes.
 * @param n how many.
 * @return as goro_write(), and -ECANCELED or -ETIMEDOUT when ctx ends.
 * @go `conn.Write(buf)` with a deadline from ctx. */
GORO_API ssize_t goro_write_ctx(goro_ctx *ctx, int fd, const void *buf, size_t n);

/** Accepts a connection on a listening socket.
 * The new fd is non-blocking and close-on-exec.
 * @param fd the listening socket.
 * @param addr where to store the peer's address, or NULL.
 * @param addrlen the size of addr on entry, the address's length on
 *        return, as accept's; NULL when addr is.
 * @return the new fd (>= 0), or a negative errno value (-EBADF, -EBUSY,
 *         accept4's errors).
 * @go `listener.Accept()`. */
GORO_API int goro_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
/** goro_accept() bounded by an absolute deadline.
 * @param fd the listening socket.
 * @param addr where to store the peer's address, or NULL.
 * @param addrlen as for goro_accept().
 * @param deadline the goro_now() deadline; negative: none.
 * @return as goro_accept(), and -ETIMEDOUT.
 * @go `listener.SetDeadline(t)` then `listener.Accept()`. */
GORO_API int goro_accept_deadline(int fd, struct sockaddr *addr, socklen_t *addrlen,
                                  int64_t deadline);
/** goro_accept() bounded by a context.
 * @param ctx the context; NULL means background.
 * @param fd the listening socket.
 * @param addr where to store the peer's address, or NULL.
 * @param addrlen as for goro_accept().
 * @return as goro_accept(), and -ECANCELED or -ETIMEDOUT when ctx ends.
 * @go `listener.Accept()` with a deadline from ctx. */
GORO_API int goro_accept_ctx(goro_ctx *ctx, int fd, struct sockaddr *addr, socklen_t *addrlen);

/** Connects socket fd, waiting for the connection to complete.
 * @param fd the socket.
 * @param addr the address to connect to.
 * @param addrlen its length.
 * @return 0, or a negative errno value (-ECONNREFUSED, -ETIMEDOUT from
 *         the kernel, -EBADF, -EBUSY, connect's errors; -EINVAL for a NULL addr or an addrlen too short to hold a
 *         family).
 * @go `net.Dial` on an existing socket. */
GORO_API int goro_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
/** goro_connect() bounded by a context.
 * @param ctx the context; NULL means background.
 * @param fd the socket.
 * @param addr the address to connect to.
 * @param addrlen its length.
 * @return as goro_connect(), and -ECANCELED or -ETIMEDOUT when ctx ends.
 * @go `net.Dialer.DialContext` on an existing socket. */
GORO_API int goro_connect_ctx(goro_ctx *ctx, int fd, const struct sockaddr *addr,
                              socklen_t addrlen);

/** Waits until fd is ready for events or the deadline passes.
 * Ready means ready now, as poll() would say (an error or hangup counts:
 * the next call reports it), never readiness that a read or write has since
 * used up.
 * @param fd the file descriptor.
 * @param events #GORO_READ, #GORO_WRITE or both.
 * @param deadline the goro_now() deadline; negative (for example -1): none.
 * @return 0, or -ETIMEDOUT, -EBADF, -EBUSY, -EINVAL (events empty or with
 *         other bits).
 * @go the runtime's netpoller wait (`pollDesc.wait`). */
GORO_API int goro_fd_wait(int fd, int events, int64_t deadline);

/** Closes fd, first waking goroutines waiting on it (they get -EBADF).
 * @param fd the file descriptor.
 * @return 0, or a negative errno value (-EBADF, close's errors).
 * @go `conn.Close()`. */
GORO_API int goro_close(int fd);

/** Receives one datagram (or, on a stream socket, some bytes) and its
 * sender.
 * A datagram longer than n is cut to n (the rest is lost, as Go's
 * ReadFrom); an empty datagram returns 0, which is not an end of file.
 * @param fd the socket.
 * @param buf where to store the bytes.
 * @param n the most bytes to receive.
 * @param from where to store the sender's address, or NULL.
 * @param fromlen the size of from on entry and the sender address's length
 *        on return, as recvfrom's; needed when from is not NULL.
 * @return bytes received, or a negative errno value: -EINVAL (from without
 *         fromlen, n above `SSIZE_MAX`), -EBADF, -EBUSY, recvfrom's errors
 *         (-ECONNREFUSED on a connected datagram socket whose peer is
 *         gone).
 * @go `PacketConn.ReadFrom(buf)`. */
GORO_API ssize_t goro_recvfrom(int fd, void *buf, size_t n, struct sockaddr *from,
                               socklen_t *fromlen);
/** goro_recvfrom() bounded by an absolute deadline.
 * @param fd the socket.
 * @param buf where to store the bytes.
 * @param n the most bytes to receive.
 * @param from where to store the sender's address, or NULL.
 * @param fromlen as for goro_recvfrom().
 * @param deadline the goro_now() deadline; negative: none.
 * @return as goro_recvfrom(), and -ETIMEDOUT.
 * @go `SetReadDeadline(t)` then `PacketConn.ReadFrom(buf)`. */
GORO_API ssize_t goro_recvfrom_deadline(int fd, void *buf, size_t n, struct sockaddr *from,
                                        socklen_t *fromlen, int64_t deadline);
/** goro_recvfrom() bounded by a context.
 * @param ctx the context; NULL means background.
 * @param fd the socket.
 * @param buf where to store the bytes.
 * @param n the most bytes to receive.
 * @param from where to store the sender's address, or NULL.
 * @param fromlen as for goro_recvfrom().
 * @return as goro_recvfrom(), and -ECANCELED or -ETIMEDOUT when ctx ends.
 * @go `PacketConn.ReadFrom(buf)` with a deadline from ctx. */
GORO_API ssize_t goro_recvfrom_ctx(goro_ctx *ctx, int fd, void *buf, size_t n,
                                   struct sockaddr *from, socklen_t *fromlen);

/** Sends one datagram of n bytes, waiting while the socket's buffer is
 * full.
 * Never raises SIGPIPE.  One system call: on a stream socket the count may
 * be short (use goro_write() there).
 * @param fd the socket.
 * @param buf the bytes.
 * @param n how many.
 * @param to the destination; NULL with tolen 0: the connected peer, as
 *        goro_dial() gives.
 * @param tolen the length of to.
 * @return bytes sent, or a negative errno value: -EINVAL (to NULL with a
 *         tolen, tolen too short for a family, n above `SSIZE_MAX`),
 *         -EMSGSIZE, -EBADF, -EBUSY, sendto's errors.
 * @go `PacketConn.WriteTo(buf, addr)`. */
GORO_API ssize_t goro_sendto(int fd, const void *buf, size_t n, const struct sockaddr *to,
                             socklen_t tolen);
/** goro_sendto() bounded by an absolute deadline.
 * @param fd the socket.
 * @param buf the bytes.
 * @param n how many.
 * @param to the destination, or NULL (see goro_sendto()).
 * @param tolen the length of to.
 * @param deadline the goro_now() deadline; negative: none.
 * @return as goro_sendto(), and -ETIMEDOUT.
 * @go `SetWriteDeadline(t)` then `PacketConn.WriteTo(buf, addr)`. */
GORO_API ssize_t goro_sendto_deadline(int fd, const void *buf, size_t n,
                                      const struct sockaddr *to, socklen_t tolen,
                                      int64_t deadline);
/** goro_sendto() bounded by a context.
 * @param ctx the context; NULL means background.
 * @param fd the socket.
 * @param buf the bytes.
 * @param n how many.
 * @param to the destination, or NULL (see goro_sendto()).
 * @param tolen the length of to.
 * @return as goro_sendto(), and -ECANCELED or -ETIMEDOUT when ctx ends.
 * @go `PacketConn.WriteTo(buf, addr)` with a deadline from ctx. */
GORO_API ssize_t goro_sendto_ctx(goro_ctx *ctx, int fd, const void *buf, size_t n,
                                 const struct sockaddr *to, socklen_t tolen);

/** Creates a socket for network bound to addr.
 * Listening for the stream kinds ("tcp*", "unix", "unixpacket"), only
 * bound for the datagram kinds ("udp*", "unixgram"), whose fd then takes
 * goro_recvfrom() and goro_sendto().  Port 0 picks a free port (see
 * goro_sockname()).
 * @param network the network (see @ref goro_networks "Networks and
 *        addresses").
 * @param addr the address to bind.
 * @return the fd (non-blocking, close-on-exec), or a negative errno value:
 *         -EINVAL (NULL or unknown network, NULL or malformed address, unix
 *         name too long), -EAFNOSUPPORT, -EADDRINUSE, ...; a failed name
 *         lookup gives -ENOENT, or the lookup's own system error (-EMFILE,
 *         ...).
 * @go `net.Listen(network, addr)`, `net.ListenPacket(network, addr)`. */
GORO_API int goro_listen(const char *network, const char *addr);

/** Connects a socket of network to addr, trying each address the name
 * resolves to until one connects.
 * For "udp*" and "unixgram" the socket is a connected datagram socket (no
 * packet is sent): goro_read() and goro_write(), or goro_recvfrom() and
 * goro_sendto() with no address, then talk to that peer only.  TCP
 * connections have `TCP_NODELAY` set, as Go's.
 * @param ctx bounds the whole dial; NULL means background.
 * @param network the network (see @ref goro_networks "Networks and
 *        addresses").
 * @param addr the address; an empty one is no address to dial (-EINVAL).
 * @return the connected fd (non-blocking, close-on-exec), or a negative
 *         errno value (as goro_listen(), and as goro_connect():
 *         -ECONNREFUSED, -ENOENT for a unix path with no socket, -EAGAIN
 *         for a unix listener whose backlog is full (as Go), -ECANCELED,
 *         -ETIMEDOUT, ...).
 * @go `net.Dialer.DialContext(ctx, network, addr)`. */
GORO_API int goro_dial(goro_ctx *ctx, const char *network, const char *addr);

/** goro_listen("tcp", addr).
 * @param addr the address to bind.
 * @return as goro_listen().
 * @go `net.Listen("tcp", addr)`. */
GORO_API int goro_listen_tcp(const char *addr);

/** goro_dial(ctx, "tcp", addr).
 * @param ctx bounds the dial; NULL means background.
 * @param addr the address.
 * @return as goro_dial().
 * @go `net.Dialer.DialContext(ctx, "tcp", addr)`. */
GORO_API int goro_dial_tcp(goro_ctx *ctx, const char *addr);

/** Writes fd's local address to buf as text, NUL-terminated.
 * The text is "127.0.0.1:43567", "[::1]:80" (an IPv4-mapped IPv6 address as
 * IPv4; a zone as `[fe80::1%eth0]:80`), a unix path, "@name" for an
 * abstract unix socket, "" for an unnamed one.  It goes back through
 * goro_addr_resolve() and goro_dial().
 * @param fd the socket.
 * @param buf where to write the text.
 * @param len the size of buf; 64 bytes hold any IP address, 110 any unix
 *        one.
 * @return the text's length (without the NUL), or a negative errno value:
 *         -EINVAL (NULL buf, len 0), -ERANGE (buf too small),
 *         -EAFNOSUPPORT (another family), getsockname's errors (-EBADF,
 *         -ENOTSOCK).
 * @go `conn.LocalAddr().String()`, `listener.Addr().String()`. */
GORO_API int goro_sockname(int fd, char *buf, size_t len);
/** Writes fd's remote address to buf as text, NUL-terminated, as
 * goro_sockname() does.
 * @param fd the connected socket.
 * @param buf where to write the text.
 * @param len the size of buf.
 * @return as goro_sockname(), with getpeername's errors (-EBADF, -ENOTSOCK,
 *         -ENOTCONN).
 * @go `conn.RemoteAddr().String()`. */
GORO_API int goro_peername(int fd, char *buf, size_t len);

/** Formats a socket address as goro_sockname() does.
 * A len of 0 (recvfrom's length for an unnamed unix sender) gives "".
 * @param sa the address, as from goro_recvfrom() or goro_accept().
 * @param len its length.
 * @param buf where to write the text.
 * @param bufsz the size of buf.
 * @return as goro_sockname(); -EINVAL also for a NULL sa or a len too short
 *         for its family.
 * @go `net.Addr`'s String. */
GORO_API int goro_addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t bufsz);

/** Resolves addr for network to a socket address.
 * For goro_sendto(), goro_connect() or bind: the first address a name
 * resolves to; ":port" gives the unspecified address (0.0.0.0 or ::); a
 * unix name as goro_dial() takes it.
 * @param network the network (see @ref goro_networks "Networks and
 *        addresses").
 * @param addr the address.
 * @param ss where to store the socket address.
 * @param len where to store its length.
 * @return 0, or a negative errno value: -EINVAL (NULL argument, unknown
 *         network, malformed address, unix name too long or empty),
 *         -EAFNOSUPPORT, -ENOENT (no such host), the lookup's system errors.
 * @go `net.ResolveTCPAddr`, `ResolveUDPAddr`, `ResolveUnixAddr`. */
GORO_API int goro_addr_resolve(const char *network, const char *addr,
                               struct sockaddr_storage *ss, socklen_t *len);

/** Runs fn(arg) on a thread of goro's blocking-call pool and parks the
 * caller until it returns.
 * For calls that block their thread (file I/O, getaddrinfo, legacy
 * libraries).  On a plain thread fn runs directly.  The pool starts threads
 * as needed, up to `GORO_BLOCKING_THREADS` (read at the first call; default
 * 128), and keeps them.  Below that limit a call never waits for a thread
 * busy with another call: it gets an idle thread or a new one, so calls may
 * wait for each other (up to the limit of them at once).  At the limit,
 * calls queue in order and each runs when a pool thread finishes its call;
 * calls that wait for more calls than the limit never return.  fn runs on
 * another thread: errno it sets stays there (pass results back through
 * arg).
 * @param fn the function; not NULL.
 * @param arg its argument.
 * @return 0; EINVAL for a NULL fn; EAGAIN if no pool thread is free and none
 *         could be started (then fn does not run).  Positive values, as in
 *         the rest of goro, not the I/O calls' negative ones.
 * @go what the runtime does around a blocking system call. */
GORO_API int goro_blocking(void (*fn)(void *), void *arg);

/** @} */

/**
 * @defgroup grp_bubble Bubbles
 * @brief Testing timing code on a fake clock, in isolation.
 *
 * A bubble runs a function and every goroutine it starts, transitively, in
 * isolation on a fake clock, so that code full of timeouts, tickers and
 * sleeps can be tested in microseconds and with exact times.
 *
 * The clock starts at 2000-01-01T00:00:00Z: inside a bubble goro_now()
 * returns nanoseconds since the Unix epoch, and the environment variable
 * `GORO_BUBBLE_EPOCH` sets another start, as seconds since the Unix epoch
 * or as `YYYY-MM-DDTHH:MM:SSZ`.  The clock never moves on its own: when
 * every goroutine of the bubble is durably blocked, it jumps straight to
 * the earliest timer of the bubble and fires it.  Timers, tickers,
 * goro_sleep(), goro_now(), goro_after_func(), select timeouts, context
 * deadlines and timeouts, and the deadlines of the `_deadline` I/O calls
 * all use the fake clock inside a bubble.
 *
 * A goroutine of the bubble is durably blocked when only the bubble can
 * wake it: blocked on a channel made in the bubble (send, receive, or a
 * select all of whose channels are the bubble's), in goro_sleep() or on a
 * timer, on a goro_cond, goro_waitgroup or goro_sema, on a goro_mutex held
 * by a goroutine of the bubble, or in goro_bubble_wait().  A goroutine
 * blocked on I/O (the poller), in goro_blocking(), on a channel made
 * outside the bubble, on a mutex held outside it, or on a goro_rwmutex (as
 * in Go) is not: the clock waits for it, since something outside may wake
 * it.  (Except a writer waiting for another writer of the same bubble: it
 * waits on the rwmutex's inner goro_mutex and counts as blocked on that.)
 *
 * Rules: a channel made in a bubble belongs to it (`EPERM` outside, see
 * @ref grp_chan).  Timers left armed when the bubble ends never fire.
 * When every goroutine is durably blocked and no timer is set, the bubble
 * is deadlocked: a message and the dump of its goroutines go to stderr,
 * and goro_bubble_run() returns `EDEADLK`; its goroutines stay blocked
 * forever (they and what they hold are leaked).  A ticker whose channel
 * nobody reads counts as a deadlock too once it has fired 100000 times in
 * a row without waking anyone.
 * @go package testing/synctest.
 * @{
 */

/** Runs fn(arg) in a new goroutine inside a new bubble, and waits until
 * that goroutine and every goroutine of the bubble have exited.
 * Callable from a plain thread (main) or from a goroutine outside any
 * bubble; several bubbles may run at once, each with its own clock.
 * @param fn  the function to run; NULL is refused.
 * @param arg passed to fn.
 * @return 0 once every goroutine of the bubble has exited; `EINVAL` for a
 *   NULL fn; `EPERM` when called inside a bubble (bubbles do not nest);
 *   `ENOMEM`; `EDEADLK` when the bubble deadlocked (reported on stderr; its
 *   goroutines are left blocked).
 * @go `synctest.Test` (`synctest.Run`). */
GORO_API int goro_bubble_run(void (*fn)(void *), void *arg);

/** Waits until every other goroutine of the caller's bubble is durably
 * blocked or has exited.  The clock does not move meanwhile: it moves only
 * once the caller, too, blocks.
 * @return 0; `EPERM` when the caller is not a goroutine of a bubble;
 *   `EBUSY` when another goroutine of the bubble is already in
 *   goro_bubble_wait().
 * @go `synctest.Wait()`. */
GORO_API int goro_bubble_wait(void);

/** @} */

/**
 * @defgroup grp_diag Diagnostics
 * @brief Goroutine dumps, runtime counters and the deadlock detector.
 *
 * When every goroutine is blocked, no timer, fd wait, blocking call,
 * signal context or notified channel can wake one, and every thread known
 * to goro (one that called into it and has not exited; there may be none
 * left, as after main's pthread_exit) waits in goro, the process prints
 * "fatal error: all goroutines are asleep - deadlock!" and the dump, and
 * aborts, once that has held for a quarter of a second (about a second in
 * practice: the monitor looks less often once the runtime is idle).  A
 * thread that has not yet called into goro is unknown to the detector;
 * `GORO_DEADLOCK=0` turns it off (for programs fed by threads that may take
 * longer than that to make their first goro call).  `GORO_TRACEBACK=1`
 * makes SIGQUIT (Ctrl-backslash on a terminal) print the dump.
 * @go runtime.Stack, the deadlock detector, GOTRACEBACK.
 * @{
 */

/** Writes one entry per goroutine and per blocked plain thread.
 * Each entry has the id, state, wait reason and for how long, entry
 * function, name and creation site; a plain thread's has the function of
 * its own that called into goro ("called from f+0x1c (app.c in app)",
 * when the symbol table tells it).
 * @param out the stream; NULL is ignored.
 * @go the goroutine section of a panic or SIGQUIT dump. */
GORO_API void goro_dump(FILE *out);

/** Runtime counters; see goro_stats_get().
 * @go `runtime.NumGoroutine`, `runtime.MemStats` in part. */
typedef struct goro_stats {
    int goroutines;             /**< as goro_num_goroutine() */
    int procs;                  /**< as goro_maxprocs(0) */
    int idle_procs;             /**< Ps without work right now */
    int threads;                /**< Ms (threads running goroutines) started */
    uint64_t steals;            /**< goroutines moved by work stealing */
    uint64_t parks;             /**< goroutines and threads parked so far */
    uint64_t stacks;            /**< goroutine stacks mapped */
    uint64_t stacks_cached;     /**< of which free, kept for reuse */
} goro_stats;

/** Fills *st with the runtime counters.
 * Values are read without stopping the world: each is exact, together they
 * are a snapshot.
 * @param st where to store the counters.
 * @return 0; EINVAL for NULL.
 * @go `runtime.ReadMemStats(&m)`, in spirit. */
GORO_API int goro_stats_get(goro_stats *st);

/** @} */

#ifdef __cplusplus
}

/** @cond GORO_PRIVATE */
/* GORO__CHECK_CALL in C++: goro__returns<R, T>::ok exists only when T is R. */
template <class R, class T> struct goro__returns;
template <class R> struct goro__returns<R, R> {
    static const int ok = 1;
};

/* GORO_SELECT in C++: the cases are copied into a local array (one more
 * element than there are cases, so that no case gives no zero-length
 * array).  Templates cannot have C linkage, hence outside extern "C". */
template <class... Cases> inline int goro__select_cxx(Cases... cases)
{
    goro_case a[sizeof...(Cases) + 1] = {cases...};
    return goro_select(a, sizeof...(Cases));
}
/** @endcond */
#endif

#endif /* GORO_H */
