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
 *   - functions return 0 or a positive errno value, except the I/O calls,
 *     which return a count or fd, or a negative errno value (see I/O);
 *   - constructors return NULL and set errno;
 *   - durations and times are int64_t nanoseconds (GORO_SECOND, goro_now());
 *   - a plain thread's first wait in goro allocates a small record for the
 *     thread; where that finds no memory, a call that can return an error
 *     number returns ENOMEM.
 *
 * Sections: durations, goroutines, channels, select, timers, context,
 * signals, sync, groups, I/O, diagnostics.
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

#if defined(GORO_BUILDING) && defined(__GNUC__)
#define GORO_API __attribute__((visibility("default")))
#else
#define GORO_API
#endif

/* ------------------------------------------------------------------------
 * Version.  0.x: a minor release may change the API; patch releases do not.
 * ------------------------------------------------------------------------ */

#define GORO_VERSION_MAJOR 0
#define GORO_VERSION_MINOR 2
#define GORO_VERSION_PATCH 0
/* The version this header belongs to as one number, major * 10000 +
 * minor * 100 + patch (0.2.0 is 200), for #if GORO_VERSION >= ... */
#define GORO_VERSION                                                           \
    (GORO_VERSION_MAJOR * 10000 + GORO_VERSION_MINOR * 100 + GORO_VERSION_PATCH)

/* Returns the version of the goro library running the program, encoded as
 * GORO_VERSION is.  It differs from GORO_VERSION when a program compiled
 * against one version's header runs on another version's shared library:
 *   if (goro_version() / 100 != GORO_VERSION / 100) ... (another 0.x) */
GORO_API int goro_version(void);

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
 * Inside a bubble (goro_bubble_run) it returns the bubble's fake clock
 * instead: nanoseconds since the Unix epoch, starting at
 * 2000-01-01T00:00:00Z.
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
 * __thread variable may hold another thread's value after any blocking call.
 * errno is saved and restored per goroutine, yet compiled code may read it
 * through the address of the thread it ran on before the call, so goro
 * reports errors in return values (see I/O).
 *
 * Signals and child processes.  goro's threads run with the signal mask of
 * the thread that started the runtime (its first goro call), less SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS, which they never block.  So a
 * child started from a goroutine or a goro_blocking call (posix_spawn, fork
 * then exec) starts with the application's mask, as with Go's os/exec, and
 * a signal sent to the process still finds a thread after main has called
 * pthread_exit.  A handler may run on any of goro's threads, on the running
 * goroutine's stack unless installed with SA_ONSTACK; a goroutine that
 * changes its thread's mask must restore it before it next blocks.
 * fork() without exec: the child has only the forking thread, none of
 * goro's, so between fork and exec call only async-signal-safe functions.
 * There, any goro call that needs the runtime (starting, switching or
 * ending a goroutine, a plain thread's wait) prints "fatal error: goro:
 * runtime used in a child of fork() ..." and aborts; Go does not support
 * fork without exec either.
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

/* Starts fn(arg) in a new goroutine and returns at once.  fn returns void
 * and takes one pointer, of any pointer type: arg is checked against it as
 * in the call fn(arg), so a worker may be declared void worker(struct job *)
 * and started as goro_go(worker, &job) without casts, and an argument of
 * another pointer type is a compile error (incompatible pointer types: an
 * error in C++ and with -Werror).  Neither fn nor arg is evaluated twice.
 * This is a macro that also records the call site (file, line, function)
 * for goro_dump() and crash messages.
 * Returns: 0; ENOMEM when no stack could be mapped; EINVAL when fn is NULL.
 * A goroutine goro_go() accepted always runs: when no OS thread can be
 * created to run it (RLIMIT_NPROC, a seccomp filter), it waits queued while
 * the runtime retries, and runs once a thread starts; if runnable
 * goroutines wait with no thread to run them for 10 s, the process aborts
 * with "fatal error: cannot create an OS thread to run goroutines: ...".
 * Go: go fn(arg) (Go aborts at the first failed thread creation). */
#define goro_go(fn, arg) goro_go_attr(NULL, fn, arg)

/* goro_go() with attributes; attr may be NULL.
 * Returns: as goro_go(), and EINVAL for a stack_size above 1 GiB. */
#define goro_go_attr(attr, fn, arg)                                            \
    (GORO__CHECK_CALL(void, (fn)(arg)),                                        \
     goro_go_at((attr), GORO__FN_CAST(void (*)(void *), fn), (void *)(arg),   \
                #fn, __FILE__, __LINE__, __func__))

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

/* The function behind goro_go() and goro_go_attr(); call it directly to pass
 * a call site of your own: entry is fn's name as dumps show it, file, line
 * and func the creation site (the strings may be NULL, and are kept by
 * pointer: pass literals).
 * Returns: 0, ENOMEM, EINVAL. */
GORO_API int goro_go_at(const goro_attr *attr, void (*fn)(void *), void *arg, const char *entry,
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
 * environment, else the number of CPUs the process may run on.  Lowering it
 * moves the goroutines queued on the processors it retires to the others at
 * once; a goroutine running on one keeps its thread until it next blocks,
 * yields or returns (goro cannot preempt it), so for that long one more
 * goroutine than n may run.
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
 * on thread-local state).  A locked goroutine may block its thread in plain
 * system calls like any other: the runtime runs the rest elsewhere
 * meanwhile.  Calls nest; no-op on a plain thread.
 * Go: runtime.LockOSThread(). */
GORO_API void goro_lock_thread(void);

/* Undoes one goro_lock_thread(); a no-op when the goroutine is not locked
 * or on a plain thread.  Go: runtime.UnlockOSThread(). */
GORO_API void goro_unlock_thread(void);

/* ------------------------------------------------------------------------
 * Channels (Go: chan T, make, <-, close, len, cap).
 *
 * A channel carries fixed-size elements, copied in and out by value.  An
 * unbuffered channel (cap 0) hands each element directly from a sender to a
 * receiver, and both wait for the other; a buffered one holds up to cap
 * elements.  Channels are reference counted: goro_chan_make returns one
 * reference, goro_chan_retain adds one, goro_chan_release drops one, and the
 * last release frees the channel.  A goroutine blocked on a channel holds a
 * reference of its own while it waits.  Closing is not releasing.
 *
 * Who holds a reference (the borrow-or-retain rule):
 *   1. goro_chan_make (goro_make for typed channels) returns one reference,
 *      owned by the caller; every reference is dropped by exactly one
 *      goro_chan_release.
 *   2. A goroutine handed a channel borrows the creator's reference when
 *      the creator outlives its use of it (the creator waits for it through
 *      a waitgroup, a group or a done channel before releasing).
 *   3. Otherwise retain before handing it over (goro_chan_retain, then
 *      goro_go), and the goroutine releases that reference when done.
 *   4. Channels borrowed from timers, tickers and contexts (goro_timer_chan,
 *      goro_ctx_done, ...) are owned by them; retain to keep one longer.
 * Using a channel after its last reference is gone, or releasing it once
 * more, is a fatal error naming where it was made:
 *   fatal error: use of released channel (made at app.c:12)
 * (checked on every call; the memory of a released channel stays readable
 * for a while to make the check possible, so the check is reliable for a
 * use soon after the release and best effort after that).
 *
 * A channel made inside a bubble (goro_bubble_run) belongs to it: sending,
 * receiving, closing or selecting on it from outside the bubble returns
 * EPERM (-EPERM from goro_select) and does nothing.  Go panics instead.
 * ------------------------------------------------------------------------ */

typedef struct goro_chan goro_chan;

/* Creates a channel of elements of elem_size bytes with a buffer of cap
 * elements (0: unbuffered).  elem_size 0 makes a signal channel (Go's
 * chan struct{}), whose element pointers may be NULL.
 * Returns: the channel, or NULL with errno EINVAL (elem_size * cap
 * overflows) or ENOMEM.
 * Ownership: the caller holds one reference; drop it with goro_chan_release.
 * Go: make(chan T, cap). */
#define goro_chan_make(elem_size, cap) goro_chan_make_at((elem_size), (cap), __FILE__, __LINE__)
GORO_API goro_chan *(goro_chan_make)(size_t elem_size, size_t cap);

/* The function behind goro_chan_make(): file and line are the creation site
 * that lifetime errors print (kept by pointer: pass a literal; NULL for
 * none).  Returns: as goro_chan_make. */
GORO_API goro_chan *goro_chan_make_at(size_t elem_size, size_t cap, const char *file, int line);

/* Returns the element size c was made with (0 for NULL).  No Go
 * equivalent: Go's channels are typed. */
GORO_API size_t goro_chan_elem_size(goro_chan *c);

/* Sends the element at elem (elem_size bytes are copied), blocking until a
 * receiver takes it or there is room in the buffer.
 * Returns: 0; EPIPE if the channel is or becomes closed (the element was not
 * sent); EINVAL for a NULL channel, or a NULL elem with elem_size > 0;
 * ENOMEM (plain threads, see the conventions above).
 * Go: c <- v (which panics on a closed channel). */
GORO_API int goro_chan_send(goro_chan *c, const void *elem);

/* Receives an element into elem (NULL discards it), blocking until one is
 * available.  Buffered elements are received in order even after close.
 * Returns: 0; EPIPE when the channel is closed and drained (elem is then
 * zero-filled); EINVAL for a NULL channel; ENOMEM (plain threads).
 * `while (goro_chan_recv(c, &v) == 0)` is Go's `for v := range c`.
 * Go: v, ok := <-c. */
GORO_API int goro_chan_recv(goro_chan *c, void *elem);

/* goro_chan_send that never blocks.
 * Returns: 0; EAGAIN when it would block; EPIPE, EINVAL as goro_chan_send.
 * Go: select { case c <- v: default: }. */
GORO_API int goro_chan_try_send(goro_chan *c, const void *elem);

/* goro_chan_recv that never blocks.
 * Returns: 0; EAGAIN when nothing is ready; EPIPE, EINVAL as goro_chan_recv.
 * Go: select { case v := <-c: default: }. */
GORO_API int goro_chan_try_recv(goro_chan *c, void *elem);

/* Closes the channel: no more sends; receivers drain the buffer, then get
 * EPIPE.  Wakes every blocked receiver (EPIPE) and sender (EPIPE).
 * Returns: 0; EPIPE if already closed; EINVAL for NULL.  Go: close(c). */
GORO_API int goro_chan_close(goro_chan *c);

/* Returns the number of elements buffered (0 for NULL).  Go: len(c). */
GORO_API size_t goro_chan_len(goro_chan *c);

/* Returns the buffer capacity (0 for NULL or unbuffered).  Go: cap(c). */
GORO_API size_t goro_chan_cap(goro_chan *c);

/* Adds a reference to c and returns c (NULL stays NULL). */
GORO_API goro_chan *goro_chan_retain(goro_chan *c);

/* Drops a reference; the last one frees the channel (NULL is ignored).
 * Never blocks.  Releasing does not close: goroutines still blocked on the
 * channel keep it alive, and stay blocked until someone closes it through a
 * reference of their own.  Releasing a channel whose last reference is
 * already gone is a fatal error ("double release of channel"). */
GORO_API void goro_chan_release(goro_chan *c);

/* Size-checked forms: as the calls without _sized, but first check that
 * size is the channel's element size.  Returns: as those calls, and EINVAL
 * (nothing copied, nothing waited for) when size differs.  The macros
 * below pass sizeof *(p), so an untyped call cannot copy the wrong number
 * of bytes:
 *   int v; GORO_SEND(c, &v); GORO_RECV(c, &v);
 * Typed channels (GORO_CHAN_TYPE) need none of this; these are for code
 * that keeps untyped channels. */
GORO_API int goro_chan_send_sized(goro_chan *c, const void *elem, size_t size);
GORO_API int goro_chan_recv_sized(goro_chan *c, void *elem, size_t size);
GORO_API int goro_chan_try_send_sized(goro_chan *c, const void *elem, size_t size);
GORO_API int goro_chan_try_recv_sized(goro_chan *c, void *elem, size_t size);
#define GORO_SEND(c, p) goro_chan_send_sized((c), (p), sizeof *(p))
#define GORO_RECV(c, p) goro_chan_recv_sized((c), (p), sizeof *(p))
#define GORO_TRY_SEND(c, p) goro_chan_try_send_sized((c), (p), sizeof *(p))
#define GORO_TRY_RECV(c, p) goro_chan_try_recv_sized((c), (p), sizeof *(p))

/* ------------------------------------------------------------------------
 * Select (Go: the select statement).
 *
 * Cases are values built by the goro_case_* functions; goro_select runs one
 * ready case, chosen uniformly at random among those ready, waiting until
 * one is, and returns its index.  A NULL channel's case is never ready (Go's
 * nil-channel idiom for switching a case off).
 *
 *   int v;
 *   switch (GORO_SELECT(goro_case_recv(jobs, &v),
 *                       goro_case_recv(goro_ctx_done(ctx), NULL),
 *                       goro_case_timeout(5 * GORO_SECOND))) {
 *   case 0: ... v received ...; break;
 *   case 1: ... canceled ...;   break;
 *   case 2: ... timed out ...;  break;
 *   }
 * ------------------------------------------------------------------------ */

/* One case of a select.  Build with the goro_case_* functions; the fields
 * are not part of the API. */
typedef struct goro_case {
    int kind;
    goro_chan *c;
    void *elem;
    bool *ok;
    int64_t when;
} goro_case;

/* A receive into elem (NULL discards).  If chosen because the channel is
 * closed and drained, elem is zero-filled.  Go: case v := <-c. */
GORO_API goro_case goro_case_recv(goro_chan *c, void *elem);

/* A receive that also reports whether a value was received (*ok true) or
 * the channel is closed (*ok false, elem zero-filled); ok may be NULL.
 * Go: case v, ok := <-c. */
GORO_API goro_case goro_case_recv_ok(goro_chan *c, void *elem, bool *ok);

/* A send of the element at elem.  If chosen because the channel is closed,
 * goro_select returns -EPIPE (Go panics).  Go: case c <- v. */
GORO_API goro_case goro_case_send(goro_chan *c, const void *elem);

/* Ready ns nanoseconds after the case is built (ns <= 0: at once).
 * Allocates nothing.  Go: case <-time.After(ns). */
GORO_API goro_case goro_case_timeout(int64_t ns);

/* Ready at the absolute goro_now() time when.  Go: case <-time.After(time.Until(t)). */
GORO_API goro_case goro_case_deadline(int64_t when);

/* Chosen when no other case is ready, so the select never blocks.
 * Go: default. */
GORO_API goro_case goro_case_default(void);

/* Runs one of the n cases (see above).  n 0 with no case blocks forever,
 * like Go's empty select.
 * Returns: the index of the case that ran; -EPIPE if the chosen case was a
 * send on a closed channel; -EINVAL for NULL cases with n > 0, n above
 * 65535, more than one default case, a send case with a NULL elem on a
 * channel of elem_size > 0, or a case not built by goro_case_*; -ENOMEM if
 * more than 64 cases, or a plain thread's first wait, need memory that is
 * not there. */
GORO_API int goro_select(goro_case *cases, size_t n);

/* goro_select over the listed cases: GORO_SELECT(case0, case1, ...).  In C
 * a compound literal array; in C++ (which has none) a function template
 * that copies the cases into a local array. */
#ifndef __cplusplus
#define GORO_SELECT(...)                                                       \
    goro_select((goro_case[]){__VA_ARGS__},                                    \
                sizeof((goro_case[]){__VA_ARGS__}) / sizeof(goro_case))
#else
#define GORO_SELECT(...) goro__select_cxx(__VA_ARGS__)
#endif

/* Size-checked cases: when c is not NULL and size is not its element size,
 * the case is built invalid and goro_select returns -EINVAL before touching
 * any channel.  The macros pass sizeof *(p). */
GORO_API goro_case goro_case_recv_sized(goro_chan *c, void *elem, size_t size);
GORO_API goro_case goro_case_recv_ok_sized(goro_chan *c, void *elem, bool *ok, size_t size);
GORO_API goro_case goro_case_send_sized(goro_chan *c, const void *elem, size_t size);
#define GORO_CASE_RECV(c, p) goro_case_recv_sized((c), (p), sizeof *(p))
#define GORO_CASE_RECV_OK(c, p, ok) goro_case_recv_ok_sized((c), (p), (ok), sizeof *(p))
#define GORO_CASE_SEND(c, p) goro_case_send_sized((c), (p), sizeof *(p))

/* ------------------------------------------------------------------------
 * Typed channels (Go: chan T).
 *
 * GORO_CHAN_TYPE(name, T); (at file scope, with its semicolon) declares a
 * channel type of elements of type T
 * (any complete object type written as one type name: use a typedef for
 * arrays and function pointers) and its operations, each a static inline
 * call of the untyped function with sizeof(T) filled in, so it costs
 * nothing over the untyped call.  Channels of different types are distinct
 * pointer types: passing one where another is expected, or a pointer to
 * the wrong element type, is a compile error (incompatible pointer types:
 * an error in C++ and in C with -Werror, which goro's builds use).
 *
 *   GORO_CHAN_TYPE(int_chan, int);
 *
 *   int_chan *c = goro_make(int_chan, 16);
 *   int_chan_send(c, j * 2);               // by value
 *   int v;
 *   while (int_chan_recv(c, &v) == 0) ...  // for v := range c
 *   switch (GORO_SELECT(int_chan_case_recv(c, &v),
 *                       goro_case_recv(goro_ctx_done(ctx), NULL))) ...
 *   int_chan_release(c);
 *
 * It defines, for name (n) and element type T:
 *   typedef struct n n;                     the channel type (opaque)
 *   n *n_make_at(size_t cap, const char *file, int line);
 *                                    goro_chan_make_at(sizeof(T), cap, ...);
 *                                    call it as goro_make(n, cap), which
 *                                    records the caller's file and line
 *   int n_send(n *c, T v);           goro_chan_send of v (converted to T as
 *                                    an assignment would)
 *   int n_recv(n *c, T *v);          goro_chan_recv (v may be NULL)
 *   bool n_recv_ok(n *c, T *v);      true when a value was received, false
 *                                    once c is closed and drained (or on
 *                                    any error): Go's v, ok := <-c
 *   int n_try_send(n *c, T v);       goro_chan_try_send
 *   int n_try_recv(n *c, T *v);      goro_chan_try_recv
 *   int n_close(n *c);               goro_chan_close
 *   size_t n_len(n *c), n_cap(n *c); goro_chan_len, goro_chan_cap
 *   n *n_retain(n *c);               goro_chan_retain
 *   void n_release(n *c);            goro_chan_release
 *   goro_case n_case_recv(n *c, T *v);
 *   goro_case n_case_recv_ok(n *c, T *v, bool *ok);
 *   goro_case n_case_send(n *c, const T *v);
 *                                    goro_case_recv/_recv_ok/_send; they
 *                                    mix with any other goro_case
 *   goro_chan *n_chan(n *c);         the untyped channel (the same object,
 *                                    no reference added)
 *   n *n_from(goro_chan *c);         the typed view of an untyped channel
 *                                    (no reference added); NULL with errno
 *                                    EINVAL when c's element size is not
 *                                    sizeof(T); NULL for NULL
 * Every function takes and returns what the untyped one does (see there).
 * A NULL n * is Go's nil channel: never ready in a select.
 * ------------------------------------------------------------------------ */

/* Makes a channel of the type declared as name by GORO_CHAN_TYPE, with a
 * buffer of cap elements, recording the call site.  Go: make(chan T, cap). */
#define goro_make(name, cap) name##_make_at((cap), __FILE__, __LINE__)

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

/* Returns c when its element size is size (or c is NULL), else NULL with
 * errno EINVAL: an untyped channel checked before it is used as a channel
 * of size-byte elements.  The typed layer's NAME_from() is built on it. */
GORO_API goro_chan *goro_chan_check_size(goro_chan *c, size_t size);

/* ------------------------------------------------------------------------
 * Timers and tickers (Go: time.Timer, time.Ticker, with Go 1.23 semantics:
 * after Stop or Reset returns, no stale value is received).
 *
 * A timer's channel delivers the int64_t goro_now() time at which it fired;
 * a slow ticker receiver misses ticks rather than queueing them.
 * ------------------------------------------------------------------------ */

typedef struct goro_timer goro_timer;
typedef struct goro_ticker goro_ticker;

/* Starts a timer that fires once, ns nanoseconds from now (ns <= 0: at once).
 * Returns: the timer, or NULL with errno ENOMEM.
 * Ownership: free with goro_timer_free.  Go: time.NewTimer(ns). */
#define goro_timer_make(ns) goro_timer_make_at((ns), __FILE__, __LINE__)
GORO_API goro_timer *(goro_timer_make)(int64_t ns);
/* The function behind goro_timer_make(), with the creation site that
 * lifetime errors print (see goro_chan_make_at). */
GORO_API goro_timer *goro_timer_make_at(int64_t ns, const char *file, int line);

/* Stops the timer; its channel will deliver nothing until a reset.
 * Returns: true if this call stopped the timer before it fired (or before
 * its value was received), false if it had already been received or stopped,
 * or t is NULL.  Go: t.Stop(). */
GORO_API bool goro_timer_stop(goro_timer *t);

/* Stops the timer and starts it again to fire ns from now.
 * Returns: what goro_timer_stop would have returned.  Go: t.Reset(ns). */
GORO_API bool goro_timer_reset(goro_timer *t, int64_t ns);

/* Returns the timer's channel (of int64_t), borrowed: valid until
 * goro_timer_free; NULL for NULL and for a goro_after_func timer.
 * Go: t.C. */
GORO_API goro_chan *goro_timer_chan(goro_timer *t);

/* Stops and frees the timer (NULL is ignored).  Goroutines blocked on its
 * channel must be gone or hold a reference to the channel.  Any later use
 * of the timer, a second free included, is a fatal error ("use of released
 * timer (made at file:line)"). */
GORO_API void goro_timer_free(goro_timer *t);

/* Starts a func timer: ns nanoseconds from now (ns <= 0: at once) it starts
 * fn(arg) in a goroutine of its own, so fn may block.  It has no channel
 * (goro_timer_chan returns NULL); goro_timer_stop, goro_timer_reset and
 * goro_timer_free work on it as on any timer:
 *   - goro_timer_stop returns true if it prevented the call, false if fn
 *     was already started (stop does not wait for fn to return) or the
 *     timer was already stopped;
 *   - goro_timer_reset re-arms it, true if fn had not been started yet;
 *     after fn was started, a reset arms it to start fn once more.
 * As for every timer, calls of stop, reset and free on one timer must not
 * race each other: fn may reset its own timer only while its owner does
 * not call those at the same time.
 * Returns: the timer, or NULL with errno EINVAL (fn is NULL) or ENOMEM.
 * Ownership: free with goro_timer_free, which may be called while fn runs
 * (fn gets arg, not the timer); arg is the caller's to keep alive until fn
 * has used it.  Go: time.AfterFunc(ns, f). */
GORO_API goro_timer *goro_after_func(int64_t ns, void (*fn)(void *), void *arg);

/* Starts a ticker that fires every ns nanoseconds.
 * Returns: the ticker, or NULL with errno EINVAL (ns <= 0) or ENOMEM.
 * Go: time.NewTicker(ns). */
#define goro_ticker_make(ns) goro_ticker_make_at((ns), __FILE__, __LINE__)
GORO_API goro_ticker *(goro_ticker_make)(int64_t ns);
/* The function behind goro_ticker_make(), with the creation site. */
GORO_API goro_ticker *goro_ticker_make_at(int64_t ns, const char *file, int line);

/* Stops the ticker.  Returns: true if it was running (false for NULL).
 * Go: t.Stop(). */
GORO_API bool goro_ticker_stop(goro_ticker *t);

/* Restarts the ticker with period ns (> 0) from now.
 * Returns: true if it was running; false and nothing changes for ns <= 0
 * or a NULL ticker.  Go: t.Reset(ns). */
GORO_API bool goro_ticker_reset(goro_ticker *t, int64_t ns);

/* Returns the ticker's channel (of int64_t), borrowed; NULL for NULL.
 * Go: t.C. */
GORO_API goro_chan *goro_ticker_chan(goro_ticker *t);

/* Stops and frees the ticker (NULL is ignored).  A later use, or a second
 * free, is a fatal error, as for timers. */
GORO_API void goro_ticker_free(goro_ticker *t);

/* ------------------------------------------------------------------------
 * Context (Go: package context).
 *
 * A context carries a cancellation signal, a deadline and values down a
 * tree of calls and goroutines.  Canceling a context cancels every context
 * derived from it.  Contexts are reference counted: every goro_ctx_with_*
 * returns one reference, goro_ctx_retain adds one, goro_ctx_release drops
 * one.  A child holds a reference to its parent.
 *
 * goro_ctx_release also cancels the context (Go's `defer cancel()`): the
 * code that created a context releases it when it is done, and every
 * goroutine working under it sees done close.  So a goroutine handed a
 * context either borrows it (the creator outlives it, e.g. waits for it
 * through a waitgroup or group) or holds a retained reference and releases
 * it only when canceling is what it wants.
 *
 * Wherever goro takes a goro_ctx *, NULL stands for the background context.
 *
 * The constructors are macros that record their call site, which a use of
 * a context after its last release (or a release too many) prints as it
 * dies: "fatal error: use of released context (made at app.c:12)".  Each
 * has an _at function taking the site (file kept by pointer: a literal),
 * and the plain names remain exported functions for callers that cannot
 * use the macros.
 * ------------------------------------------------------------------------ */

typedef struct goro_ctx goro_ctx;

/* Returns the background context: never canceled, no deadline, no values;
 * its done channel is NULL.  retain/release on it do nothing.
 * Go: context.Background(). */
GORO_API goro_ctx *goro_ctx_background(void);

/* Returns a new context canceled by goro_ctx_cancel (or release) or when
 * parent is.  parent NULL means background.
 * Returns: the context, or NULL with errno ENOMEM.
 * Ownership: one reference for the caller.  Go: context.WithCancel(parent). */
#define goro_ctx_with_cancel(parent) goro_ctx_with_cancel_at((parent), __FILE__, __LINE__)
GORO_API goro_ctx *(goro_ctx_with_cancel)(goro_ctx *parent);
GORO_API goro_ctx *goro_ctx_with_cancel_at(goro_ctx *parent, const char *file, int line);

/* Like goro_ctx_with_cancel, and also canceled with ETIMEDOUT ns from now
 * (ns <= 0: at once, before it is returned).
 * Returns: the context, or NULL with errno ENOMEM.
 * Go: context.WithTimeout(parent, ns). */
#define goro_ctx_with_timeout(parent, ns)                                      \
    goro_ctx_with_timeout_at((parent), (ns), __FILE__, __LINE__)
GORO_API goro_ctx *(goro_ctx_with_timeout)(goro_ctx *parent, int64_t ns);
GORO_API goro_ctx *goro_ctx_with_timeout_at(goro_ctx *parent, int64_t ns, const char *file,
                                            int line);

/* Like goro_ctx_with_cancel, and also canceled with ETIMEDOUT at the
 * absolute goro_now() time when (at once if that has passed).  A child's
 * deadline never exceeds its parent's.
 * Returns: the context, or NULL with errno ENOMEM.
 * Go: context.WithDeadline(parent, t). */
#define goro_ctx_with_deadline(parent, when)                                   \
    goro_ctx_with_deadline_at((parent), (when), __FILE__, __LINE__)
GORO_API goro_ctx *(goro_ctx_with_deadline)(goro_ctx *parent, int64_t when);
GORO_API goro_ctx *goro_ctx_with_deadline_at(goro_ctx *parent, int64_t when, const char *file,
                                             int line);

/* Returns a context carrying value under key (compared by address), that
 * is canceled when parent is.  Returns: NULL with errno ENOMEM or EINVAL
 * (NULL key).  Go: context.WithValue(parent, key, value). */
#define goro_ctx_with_value(parent, key, value)                                \
    goro_ctx_with_value_at((parent), (key), (value), __FILE__, __LINE__)
GORO_API goro_ctx *(goro_ctx_with_value)(goro_ctx *parent, const void *key, void *value);
GORO_API goro_ctx *goro_ctx_with_value_at(goro_ctx *parent, const void *key, void *value,
                                          const char *file, int line);

/* Returns a context canceled (ECANCELED) when the process receives any of
 * the listed signals; the list ends with 0.  While the context lives, those
 * signals no longer have their previous effect (SIGINT no longer kills the
 * process); releasing it restores the previous dispositions of those no
 * notified channel wants (see Signals).  The signal is
 * caught on any thread that does not block it, goro's included (see
 * Goroutines: they run with the application's mask).
 * Returns: NULL with errno EINVAL (no signal, or a number that is not 1..63,
 * is SIGKILL or SIGSTOP, or is kept by the C library), ENOMEM, or EAGAIN
 * (the thread that watches for signals could not be started).
 * Go: signal.NotifyContext(parent, sig...). */
#define goro_ctx_with_signals(parent, ...)                                     \
    goro_ctx_with_signals_at(__FILE__, __LINE__, (parent), __VA_ARGS__)
GORO_API goro_ctx *(goro_ctx_with_signals)(goro_ctx *parent, int sig, ...);
/* The site comes first here, before the variadic signal list. */
GORO_API goro_ctx *goro_ctx_with_signals_at(const char *file, int line, goro_ctx *parent, int sig,
                                            ...);

/* Cancels ctx and all contexts derived from it: their done channels close
 * and their err becomes ECANCELED (unless they already ended).  When it
 * returns, every descendant has ended, even while another cancel of the
 * same subtree (a deadline firing, another goroutine) is under way: that
 * one is waited for.  Idempotent; NULL, background and value contexts
 * (which have no cancel of their own, as in Go) are ignored.
 * Go: the cancel function. */
GORO_API void goro_ctx_cancel(goro_ctx *ctx);

/* Returns ctx's done channel (borrowed: valid while ctx is), closed when
 * ctx is canceled; NULL for background, so a select case on it is never
 * ready.  Go: ctx.Done(). */
GORO_API goro_chan *goro_ctx_done(goro_ctx *ctx);

/* Returns 0 while ctx is live, ECANCELED once canceled, ETIMEDOUT once its
 * deadline passed.  Go: ctx.Err(). */
GORO_API int goro_ctx_err(goro_ctx *ctx);

/* Stores ctx's deadline in *when (if when is not NULL).
 * Returns: true if it has one.  Go: ctx.Deadline(). */
GORO_API bool goro_ctx_deadline(goro_ctx *ctx, int64_t *when);

/* Returns the value stored under key by the nearest goro_ctx_with_value in
 * ctx's chain, or NULL.  Go: ctx.Value(key). */
GORO_API void *goro_ctx_value(goro_ctx *ctx, const void *key);

/* Adds a reference and returns ctx. */
GORO_API goro_ctx *goro_ctx_retain(goro_ctx *ctx);

/* Cancels ctx (see above; a value context is not canceled) and drops one
 * reference; the last one frees it and drops its reference to the parent.
 * NULL is ignored; never parks (it may wait for a concurrent cancel of the
 * same subtree to finish, as goro_ctx_cancel does).  Releasing a context
 * whose last reference is gone is a fatal error ("double release of
 * context (made at file:line)"). */
GORO_API void goro_ctx_release(goro_ctx *ctx);

/* Returns a new context like goro_ctx_with_cancel's, meant to be canceled
 * with a cause by goro_ctx_cancel_cause (every cancelable context takes
 * one; this is Go's name for the pair).
 * Returns: the context, or NULL with errno ENOMEM.
 * Ownership: one reference for the caller.
 * Go: context.WithCancelCause(parent). */
GORO_API goro_ctx *goro_ctx_with_cancel_cause(goro_ctx *parent);

/* Cancels ctx like goro_ctx_cancel (its err becomes ECANCELED) and records
 * cause, an errno-style number, as the cause of ctx and of every context it
 * cancels; cause 0 records none (the cause is then the err).  If ctx has
 * already ended, nothing changes: the first cancel's cause stays.
 * Returns: 0; EINVAL when ctx is NULL, is not cancelable (background, a
 * value or without-cancel context) or cause is negative.
 * Go: the CancelCauseFunc, cancel(cause). */
GORO_API int goro_ctx_cancel_cause(goro_ctx *ctx, int cause);

/* Returns why ctx ended: the cause given to the goro_ctx_cancel_cause that
 * ended it or the ancestor it inherited its end from, else its err
 * (ECANCELED, ETIMEDOUT); 0 while ctx is live, and for background and
 * without-cancel contexts.  Go: context.Cause(ctx). */
GORO_API int goro_ctx_cause(goro_ctx *ctx);

/* Returns a context that carries parent's values but is never canceled:
 * no deadline, err 0, cause 0, done channel NULL, and contexts derived from
 * it end only by their own cancel or deadline.
 * Returns: the context, or NULL with errno ENOMEM.
 * Ownership: one reference for the caller; it holds one on parent.
 * Go: context.WithoutCancel(parent). */
GORO_API goro_ctx *goro_ctx_without_cancel(goro_ctx *parent);

/* The handle of a goro_ctx_after_func registration. */
typedef struct goro_ctx_stop goro_ctx_stop;

/* Arranges for fn(arg) to be started in a goroutine of its own once ctx is
 * done (canceled or past its deadline), at once if it already is; never
 * for a context that cannot end (background, without-cancel).  fn is
 * started at most once, and after ctx's err is set.
 * Returns: the stop handle, or NULL with errno EINVAL (fn is NULL) or
 * ENOMEM.
 * Ownership: the handle is the caller's, freed with
 * goro_ctx_after_func_free.  The registration holds a reference to ctx
 * until the handle is freed and fn was started or stopped, so the caller
 * need not keep ctx alive for it; arg is the caller's to keep alive until
 * fn has used it.  Go: context.AfterFunc(ctx, f). */
GORO_API goro_ctx_stop *goro_ctx_after_func(goro_ctx *ctx, void (*fn)(void *), void *arg);

/* Stops the registration: fn will not be started.  Does not wait for an
 * fn already started.
 * Returns: true if this call prevented fn from being started; false if fn
 * was already started, the registration already stopped, or h is NULL.
 * Go: the stop function returned by context.AfterFunc. */
GORO_API bool goro_ctx_after_func_stop(goro_ctx_stop *h);

/* Frees the handle (NULL is ignored); h must not be used after.  Does not
 * stop the registration: an fn not yet started is still started when ctx
 * ends (Go: dropping the stop function), so stop first to cancel the call.
 * Never blocks. */
GORO_API void goro_ctx_after_func_free(goro_ctx_stop *h);

/* ------------------------------------------------------------------------
 * Signals (Go: package os/signal).
 *
 * goro_signal_notify relays signals to a channel of int, as Go's
 * signal.Notify does to a chan os.Signal; goro_ctx_with_signals (Context)
 * cancels a context instead.  Both share one handler: it records the
 * signal and wakes a watcher thread, which delivers.  A signal is caught on
 * any thread that does not block it, goro's included (see Goroutines: they
 * run with the application's mask).  While any channel or signal context
 * wants a signal, that signal no longer has its previous effect (SIGINT no
 * longer kills the process); once none wants it, its previous disposition
 * is restored.
 *
 *   goro_chan *sigc = goro_chan_make(sizeof(int), 1);
 *   goro_signal_notify(sigc, SIGINT, SIGTERM, 0);
 *   int sig;
 *   goro_chan_recv(sigc, &sig);          ... sig is SIGINT or SIGTERM ...
 *   goro_signal_stop(sigc);
 *   goro_chan_release(sigc);
 * ------------------------------------------------------------------------ */

/* Relays the listed signals (the list ends with 0) to ch, whose elements
 * are ints: each arrival sends the signal's number.  Sending never blocks:
 * when ch has no room (a full buffer, or no receiver waiting on an
 * unbuffered one) the signal is dropped for ch, so give ch a buffer of at
 * least 1, as Go advises; a signal that arrives again before the first was
 * delivered is delivered once.  Several channels may be notified of one
 * signal, each gets it; calling again with the same ch adds signals to
 * those it gets.  A closed ch receives nothing.
 * Returns: 0; EINVAL for a NULL ch, a ch whose element size is not
 * sizeof(int), an empty list (Go relays every signal then), or a number
 * that is not 1..63, is SIGKILL or SIGSTOP, or is kept by the C library
 * (then nothing changed); ENOMEM; EAGAIN (the thread that watches for
 * signals could not be started).
 * Ownership: keeps a reference to ch until goro_signal_stop(ch).
 * Go: signal.Notify(c, sig...). */
GORO_API int goro_signal_notify(goro_chan *ch, int sig, ...);

/* Stops relaying signals to ch: when it returns, ch receives no more
 * signals, and each signal no channel or signal context wants any more
 * gets its previous disposition back.  Drops the reference
 * goro_signal_notify kept; a ch never notified is ignored.
 * Returns: 0; EINVAL for a NULL ch.  Go: signal.Stop(c). */
GORO_API int goro_signal_stop(goro_chan *ch);

/* ------------------------------------------------------------------------
 * Sync (Go: package sync, and golang.org/x/sync/semaphore).
 *
 * Each type has a static initializer and needs no destroy call.  All of
 * them park goroutines and block plain threads.  The fields are private.
 * As in pthreads, the pointers these functions take (the object, the
 * mutex of goro_cond_wait, the function of goro_once_do) must not be NULL:
 * nothing checks them.
 * For atomics use C11 <stdatomic.h> (docs/guide.md shows how).
 * ------------------------------------------------------------------------ */

/* Private: a queue of waiters under a small lock. */
typedef struct goro__waitlist {
    uint32_t lock;
    uint32_t count;
    void *head;
    void *tail;
} goro__waitlist;

/* A mutual-exclusion lock (Go: sync.Mutex).  Not recursive.  Fair enough
 * that no waiter starves: one that waited over 1 ms has the lock handed to
 * it directly (Go's starvation mode). */
typedef struct goro_mutex {
    int32_t state;
    goro__waitlist sema;
} goro_mutex;
#define GORO_MUTEX_INIT {0, {0, 0, NULL, NULL}}

/* Locks m, waiting as long as needed.  Go: m.Lock(). */
GORO_API void goro_mutex_lock(goro_mutex *m);
/* Returns: 0 if it locked m, EBUSY if m was locked.  Go: m.TryLock(). */
GORO_API int goro_mutex_trylock(goro_mutex *m);
/* Unlocks m; any goroutine or thread may unlock it.  Unlocking an unlocked
 * mutex is a fatal error (Go: "sync: unlock of unlocked mutex"). */
GORO_API void goro_mutex_unlock(goro_mutex *m);

/* A reader/writer lock (Go: sync.RWMutex).  A waiting writer blocks new
 * readers, so writers are not starved by a stream of readers. */
typedef struct goro_rwmutex {
    goro_mutex w;
    int32_t readers;            /* readers in, minus a bias while a writer waits */
    int32_t departing;          /* readers a waiting writer still waits for */
    goro__waitlist writer_sem;
    goro__waitlist reader_sem;
} goro_rwmutex;
#define GORO_RWMUTEX_INIT {GORO_MUTEX_INIT, 0, 0, {0, 0, NULL, NULL}, {0, 0, NULL, NULL}}

/* Go: rw.RLock(), rw.RUnlock(), rw.Lock(), rw.Unlock().  Read-unlocking an
 * rwmutex that no reader holds, or unlocking one that no writer holds, is
 * a fatal error (Go: "sync: RUnlock of unlocked RWMutex"). */
GORO_API void goro_rwmutex_rlock(goro_rwmutex *rw);
GORO_API void goro_rwmutex_runlock(goro_rwmutex *rw);
GORO_API void goro_rwmutex_lock(goro_rwmutex *rw);
GORO_API void goro_rwmutex_unlock(goro_rwmutex *rw);

/* Waits for a collection of goroutines to finish (Go: sync.WaitGroup). */
typedef struct goro_waitgroup {
    uint64_t state;             /* counter << 32 | waiters */
    goro__waitlist sema;
} goro_waitgroup;
#define GORO_WAITGROUP_INIT {0, {0, 0, NULL, NULL}}

/* Adds n (may be negative) to the counter; at zero, wakes every waiter.
 * Returns: 0; EINVAL if the counter would go negative or past INT_MAX (it
 * is left as it was: Go panics here).  Go: wg.Add(n). */
GORO_API int goro_waitgroup_add(goro_waitgroup *wg, int n);
/* goro_waitgroup_add(wg, -1).  Go: wg.Done(). */
GORO_API int goro_waitgroup_done(goro_waitgroup *wg);
/* Waits until the counter is zero.  Go: wg.Wait(). */
GORO_API void goro_waitgroup_wait(goro_waitgroup *wg);

/* Runs a function exactly once (Go: sync.Once). */
typedef struct goro_once {
    uint32_t done;
    goro_mutex m;
} goro_once;
#define GORO_ONCE_INIT {0, GORO_MUTEX_INIT}

/* Calls fn(arg) if no goro_once_do on once has called its function yet;
 * concurrent callers wait until that call returns.  Go: once.Do(f). */
GORO_API void goro_once_do(goro_once *once, void (*fn)(void *), void *arg);

/* A condition variable (Go: sync.Cond); used with a goro_mutex. */
typedef struct goro_cond {
    goro__waitlist waiters;
} goro_cond;
#define GORO_COND_INIT {{0, 0, NULL, NULL}}

/* Atomically unlocks m and waits for a signal or broadcast, then locks m
 * again before returning.  As in Go, wait in a loop on the condition.  m
 * must be locked: if it is not, the unlock is a fatal error, as in
 * goro_mutex_unlock.  Go: c.Wait(). */
GORO_API void goro_cond_wait(goro_cond *c, goro_mutex *m);
/* Wakes one waiter, if any.  Go: c.Signal(). */
GORO_API void goro_cond_signal(goro_cond *c);
/* Wakes every waiter.  Go: c.Broadcast(). */
GORO_API void goro_cond_broadcast(goro_cond *c);

/* A weighted semaphore of a fixed size (Go: x/sync/semaphore.Weighted).
 * Waiters are served in FIFO order: a large request is not starved by
 * small ones. */
typedef struct goro_sema {
    int64_t size;
    int64_t cur;
    goro__waitlist waiters;
} goro_sema;
#define GORO_SEMA_INIT(n) {(n), 0, {0, 0, NULL, NULL}}

/* Acquires n units, waiting until they are free.
 * Returns: 0; EINVAL if n < 0 or n > size (it could never succeed);
 * ENOMEM (plain threads, see the conventions at the top).
 * Go: s.Acquire(ctx, n). */
GORO_API int goro_sema_acquire(goro_sema *s, int64_t n);
/* Acquires n units without waiting.
 * Returns: 0; EAGAIN if they are not free; EINVAL for n < 0.
 * Go: s.TryAcquire(n). */
GORO_API int goro_sema_try_acquire(goro_sema *s, int64_t n);
/* Releases n units.  Returns: 0; EINVAL if n < 0 or more than held.
 * Go: s.Release(n). */
GORO_API int goro_sema_release(goro_sema *s, int64_t n);

/* ------------------------------------------------------------------------
 * Groups (Go: golang.org/x/sync/errgroup, with SetLimit).
 *
 * A group runs tasks in goroutines, waits for them all, and returns the
 * first error; the first error also cancels the group's context, so the
 * other tasks can stop early.  With a limit, goro_group_go waits for a free
 * slot: a worker pool in three calls.
 * ------------------------------------------------------------------------ */

typedef struct goro_group goro_group;

/* Creates a group whose context derives from parent (NULL: background).
 * Returns: the group, or NULL with errno ENOMEM.
 * Ownership: free with goro_group_free after goro_group_wait.
 * Go: errgroup.WithContext(parent). */
#define goro_group_make(parent) goro_group_make_at((parent), __FILE__, __LINE__)
GORO_API goro_group *(goro_group_make)(goro_ctx *parent);
/* The function behind goro_group_make(), with the creation site that
 * lifetime errors print; the group's context records the same site. */
GORO_API goro_group *goro_group_make_at(goro_ctx *parent, const char *file, int line);

/* Returns the group's context (borrowed: valid until goro_group_free),
 * canceled by the first task error or when goro_group_wait returns; NULL
 * for a NULL group. */
GORO_API goro_ctx *goro_group_ctx(goro_group *g);

/* Limits the tasks running at once to n (n <= 0: no limit, the default).
 * Call it before goro_group_go.  A NULL group is ignored.
 * Go: g.SetLimit(n). */
GORO_API void goro_group_set_limit(goro_group *g, int n);

/* Runs fn(ctx, arg) in a new goroutine, first waiting for a free slot when
 * a limit is set.  fn returns int, 0 or an error number, and takes the
 * group's context and one pointer of any pointer type, checked against arg
 * as in goro_go (int task(goro_ctx *ctx, struct job *j) is started as
 * goro_group_go(g, task, &job)).  A macro: dumps show the task as fn,
 * created at the caller's file and line.
 * Returns: 0; ENOMEM/EAGAIN when the goroutine could not be started (then
 * fn does not run); EINVAL for a NULL group or fn.  Go: g.Go(f). */
#define goro_group_go(g, fn, arg)                                              \
    (GORO__CHECK_CALL(int, (fn)((goro_ctx *)0, (arg))),                        \
     goro_group_go_at((g), GORO__FN_CAST(int (*)(goro_ctx *, void *), fn),    \
                      (void *)(arg), #fn, __FILE__, __LINE__, __func__))
GORO_API int(goro_group_go)(goro_group *g, int (*fn)(goro_ctx *ctx, void *arg), void *arg);

/* The function behind goro_group_go(): entry, file, line and func are what
 * dumps show for the task, as for goro_go_at (kept by pointer; may be NULL).
 * Returns: as goro_group_go. */
GORO_API int goro_group_go_at(goro_group *g, int (*fn)(goro_ctx *ctx, void *arg), void *arg,
                              const char *entry, const char *file, int line, const char *func);

/* Waits for every task started with goro_group_go, then cancels the
 * group's context.  Returns: the first non-zero error a task returned,
 * else 0; EINVAL for a NULL group.  Go: g.Wait(). */
GORO_API int goro_group_wait(goro_group *g);

/* Frees the group (NULL is ignored).  Call it after goro_group_wait.  A
 * later use of the group, a second free included, is a fatal error ("use
 * of released group (made at file:line)"). */
GORO_API void goro_group_free(goro_group *g);

/* ------------------------------------------------------------------------
 * I/O (Go: package net, os.File reads, and the runtime's network poller).
 *
 * These mirror their POSIX counterparts, with one difference: errors come
 * back in the return value, as a NEGATIVE errno value (-ETIMEDOUT,
 * -EBADF, ...), never as -1.  Test `r < 0` and use `-r`:
 *
 *     ssize_t n = goro_read_deadline(fd, buf, sizeof buf, deadline);
 *     if (n < 0 && -n == ETIMEDOUT) ...
 *
 * Why: these calls park the goroutine, which may resume on another thread,
 * and C compilers may read errno through an address computed before the
 * call (__errno_location is a const function): errno read after a call
 * here can be another thread's.  errno is also set to the same value, for
 * code that reads it right away on the thread it runs on, but only the
 * return value is reliable in optimised code.
 *
 * In a goroutine these calls park it until the fd is ready, never blocking
 * the thread; on a plain thread they block it.  An fd is made non-blocking
 * and registered with the poller on first use; close it with goro_close,
 * which also wakes goroutines waiting on it (-EBADF).  One goroutine at a
 * time may wait for each direction of an fd (another gets -EBUSY), as Go
 * serialises reads and writes on one net.Conn.  Regular files are always
 * "ready": their reads block the thread (use goro_blocking for slow
 * storage).
 *
 * Bounded forms take an absolute goro_now() deadline (_deadline:
 * -ETIMEDOUT; a negative deadline is none) or a context (_ctx: -ECANCELED
 * or -ETIMEDOUT, from its done channel and its deadline; NULL:
 * background).  A _deadline call tries its system call before it waits,
 * so one that can complete at once does, even past its deadline.
 *
 * Networks and addresses (goro_listen, goro_dial, goro_addr_resolve), as
 * Go's net.Dial and net.Listen take them:
 *   - "tcp", "tcp4", "tcp6" (stream) and "udp", "udp4", "udp6" (datagram):
 *     "host:port", "[v6addr]:port" or ":port" (listen: every interface,
 *     through the first address getaddrinfo gives, 0.0.0.0 with glibc,
 *     where Go binds a dual-stack [::]; dial: this host); a port is 1 to 5 decimal digits with a value up
 *     to 65535 (no sign, no space, no service name), else -EINVAL.  An IP
 *     literal of the other family than "tcp4"/"tcp6"/"udp4"/"udp6" asks
 *     for is -EAFNOSUPPORT.  Names resolve through goro_blocking.
 *   - "unix" (stream), "unixgram" (datagram), "unixpacket" (seqpacket): a
 *     filesystem path, or "@name" for a Linux abstract socket (no file).
 *     A name of 108 bytes (sizeof sun_path) or more is -EINVAL, as in Go.
 *     goro_listen("unix*", "") binds a fresh abstract name (autobind).
 *     The socket file of a path stays after goro_close: unlink it (Go's
 *     UnixListener removes it on Close).
 * Any other network, or a NULL one, is -EINVAL.
 * ------------------------------------------------------------------------ */

#define GORO_READ 1             /* goro_fd_wait: readable */
#define GORO_WRITE 2            /* goro_fd_wait: writable */

/* Reads up to n bytes, waiting until some are available.
 * Returns: bytes read (0 at end of file), or a negative errno value:
 * -EBADF (fd closed meanwhile), -EBUSY, -ETIMEDOUT, -ECANCELED, read's
 * errors.  Go: conn.Read. */
GORO_API ssize_t goro_read(int fd, void *buf, size_t n);
GORO_API ssize_t goro_read_deadline(int fd, void *buf, size_t n, int64_t deadline);
GORO_API ssize_t goro_read_ctx(goro_ctx *ctx, int fd, void *buf, size_t n);

/* Writes all n bytes, waiting as needed.  A closed peer gives -EPIPE,
 * never a SIGPIPE.
 * Returns: n, or a negative errno value (-EPIPE, -EBADF, -ETIMEDOUT,
 * -ECANCELED, write's errors; -EINVAL for n above SSIZE_MAX); on an error
 * after a partial write the bytes already written are lost to the caller
 * (as in Go, where the count comes with the error).  Go: conn.Write. */
GORO_API ssize_t goro_write(int fd, const void *buf, size_t n);
GORO_API ssize_t goro_write_deadline(int fd, const void *buf, size_t n, int64_t deadline);
GORO_API ssize_t goro_write_ctx(goro_ctx *ctx, int fd, const void *buf, size_t n);

/* Accepts a connection on listening socket fd; the new fd is non-blocking
 * and close-on-exec.
 * Returns: the fd (>= 0), or a negative errno value (-ETIMEDOUT,
 * -ECANCELED, -EBADF, accept4's errors).  Go: listener.Accept. */
GORO_API int goro_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
GORO_API int goro_accept_deadline(int fd, struct sockaddr *addr, socklen_t *addrlen,
                                  int64_t deadline);
GORO_API int goro_accept_ctx(goro_ctx *ctx, int fd, struct sockaddr *addr, socklen_t *addrlen);

/* Connects socket fd, waiting for the connection to complete.
 * Returns: 0, or a negative errno value (-ECONNREFUSED, -ETIMEDOUT,
 * -ECANCELED, ...; -EINVAL for a NULL addr or an addrlen too short to hold
 * a family). */
GORO_API int goro_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
GORO_API int goro_connect_ctx(goro_ctx *ctx, int fd, const struct sockaddr *addr,
                              socklen_t addrlen);

/* Waits until fd is ready for events (GORO_READ, GORO_WRITE or both) or the
 * absolute deadline passes (negative, e.g. -1: no deadline).  Ready means
 * ready now, as poll() would say (an error or hangup counts: the next call
 * reports it), never readiness that a read or write has since used up.
 * Returns: 0, or -ETIMEDOUT, -EBADF, -EBUSY, -EINVAL (events empty or with
 * other bits). */
GORO_API int goro_fd_wait(int fd, int events, int64_t deadline);

/* Closes fd, first waking goroutines waiting on it (they get -EBADF).
 * Returns: 0, or a negative errno value (-EBADF, close's errors).
 * Go: conn.Close. */
GORO_API int goro_close(int fd);

/* Receives one datagram (or, on a stream socket, some bytes) and, when
 * from is not NULL, its sender: *fromlen is the size of from on entry and
 * the sender address's length on return, as recvfrom's.  A datagram
 * longer than n is cut to n (the rest is lost, as Go's ReadFrom); an
 * empty datagram returns 0, which is not an end of file.
 * Returns: bytes received, or a negative errno value: -EINVAL (from
 * without fromlen, n above SSIZE_MAX), -EBADF, -EBUSY, -ETIMEDOUT,
 * -ECANCELED, recvfrom's errors (-ECONNREFUSED on a connected datagram
 * socket whose peer is gone).  Go: PacketConn.ReadFrom. */
GORO_API ssize_t goro_recvfrom(int fd, void *buf, size_t n, struct sockaddr *from,
                               socklen_t *fromlen);
GORO_API ssize_t goro_recvfrom_deadline(int fd, void *buf, size_t n, struct sockaddr *from,
                                        socklen_t *fromlen, int64_t deadline);
GORO_API ssize_t goro_recvfrom_ctx(goro_ctx *ctx, int fd, void *buf, size_t n,
                                   struct sockaddr *from, socklen_t *fromlen);

/* Sends one datagram of n bytes to address to (NULL with tolen 0: the
 * connected peer, as goro_dial gives), waiting while the socket's buffer
 * is full.  Never raises SIGPIPE.  One system call: on a stream socket
 * the count may be short (use goro_write there).
 * Returns: bytes sent, or a negative errno value: -EINVAL (to NULL with a
 * tolen, tolen too short for a family, n above SSIZE_MAX), -EMSGSIZE,
 * -EBADF, -EBUSY, -ETIMEDOUT, -ECANCELED, sendto's errors.
 * Go: PacketConn.WriteTo. */
GORO_API ssize_t goro_sendto(int fd, const void *buf, size_t n, const struct sockaddr *to,
                             socklen_t tolen);
GORO_API ssize_t goro_sendto_deadline(int fd, const void *buf, size_t n,
                                      const struct sockaddr *to, socklen_t tolen,
                                      int64_t deadline);
GORO_API ssize_t goro_sendto_ctx(goro_ctx *ctx, int fd, const void *buf, size_t n,
                                 const struct sockaddr *to, socklen_t tolen);

/* Creates a socket for network (see "Networks and addresses" above) bound
 * to addr: listening for the stream kinds ("tcp*", "unix", "unixpacket"),
 * only bound for the datagram kinds ("udp*", "unixgram"), whose fd then
 * takes goro_recvfrom and goro_sendto.  Port 0 picks a free port (see
 * goro_sockname).
 * Returns: the fd (non-blocking, close-on-exec), or a negative errno
 * value: -EINVAL (NULL or unknown network, NULL or malformed address,
 * unix name too long), -EAFNOSUPPORT, -EADDRINUSE, ...; a failed name
 * lookup gives -ENOENT, or the lookup's own system error (-EMFILE, ...).
 * Go: net.Listen(network, addr), net.ListenPacket(network, addr). */
GORO_API int goro_listen(const char *network, const char *addr);

/* Connects a socket of network to addr, trying each address the name
 * resolves to until one connects, bounded by ctx (NULL: background).  For
 * "udp*" and "unixgram" the socket is a connected datagram socket (no
 * packet is sent): goro_read/goro_write or goro_recvfrom/goro_sendto with
 * no address then talk to that peer only.  TCP connections have
 * TCP_NODELAY set, as Go's.  "" is no address to dial (-EINVAL).
 * Returns: the connected fd (non-blocking, close-on-exec), or a negative
 * errno value (as goro_listen, and as goro_connect: -ECONNREFUSED,
 * -ENOENT for a unix path with no socket, -EAGAIN for a unix listener
 * whose backlog is full (as Go), -ECANCELED, -ETIMEDOUT, ...).
 * Go: net.Dialer.DialContext(ctx, network, addr). */
GORO_API int goro_dial(goro_ctx *ctx, const char *network, const char *addr);

/* goro_listen("tcp", addr).  Go: net.Listen("tcp", addr). */
GORO_API int goro_listen_tcp(const char *addr);

/* goro_dial(ctx, "tcp", addr).  Go: net.Dialer.DialContext(ctx, "tcp", addr). */
GORO_API int goro_dial_tcp(goro_ctx *ctx, const char *addr);

/* Writes fd's local (goro_sockname) or remote (goro_peername) address to
 * buf as text, NUL-terminated: "127.0.0.1:43567", "[::1]:80" (an
 * IPv4-mapped IPv6 address as IPv4; a zone as "[fe80::1%eth0]:80"), a
 * unix path, "@name" for an abstract unix socket, "" for an unnamed one.
 * The text goes back through goro_addr_resolve and goro_dial.
 * Returns: the text's length (without the NUL), or a negative errno
 * value: -EINVAL (NULL buf, len 0), -ERANGE (buf too small; 64 bytes hold
 * any IP address, 110 any unix one), -EAFNOSUPPORT (another family),
 * getsockname's or getpeername's errors (-EBADF, -ENOTSOCK, -ENOTCONN).
 * Go: conn.LocalAddr().String(), conn.RemoteAddr().String(),
 * listener.Addr().String(). */
GORO_API int goro_sockname(int fd, char *buf, size_t len);
GORO_API int goro_peername(int fd, char *buf, size_t len);

/* Formats socket address sa (of length len, as from goro_recvfrom or
 * goro_accept) as goro_sockname does.
 * A len of 0 (recvfrom's length for an unnamed unix sender) gives "".
 * Returns: as goro_sockname; -EINVAL also for a NULL sa or a len too
 * short for its family.  Go: net.Addr's String. */
GORO_API int goro_addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t bufsz);

/* Resolves addr for network (see "Networks and addresses") to a socket
 * address in *ss and its length in *len, for goro_sendto, goro_connect or
 * bind: the first address a name resolves to; ":port" gives the
 * unspecified address (0.0.0.0 or ::); a unix name as goro_dial takes it.
 * Returns: 0, or a negative errno value: -EINVAL (NULL argument, unknown
 * network, malformed address, unix name too long or empty),
 * -EAFNOSUPPORT, -ENOENT (no such host), the lookup's system errors.
 * Go: net.ResolveTCPAddr, ResolveUDPAddr, ResolveUnixAddr. */
GORO_API int goro_addr_resolve(const char *network, const char *addr,
                               struct sockaddr_storage *ss, socklen_t *len);

/* Runs fn(arg) on a thread of goro's blocking-call pool and parks the
 * caller until it returns: for calls that block their thread (file I/O,
 * getaddrinfo, legacy libraries).  On a plain thread fn runs directly.
 * The pool starts threads as needed, up to GORO_BLOCKING_THREADS (read at
 * the first call; default 128), and keeps them.  Below that limit a call
 * never waits for a thread busy with another call: it gets an idle thread
 * or a new one, so calls may wait for each other (up to the limit of them
 * at once).  At the limit, calls queue in order and each runs when a pool
 * thread finishes its call; calls that wait for more calls than the limit
 * never return.  fn runs on another thread: errno it sets stays there (pass
 * results back through arg).
 * Returns: 0; EINVAL for a NULL fn; EAGAIN if no pool thread is free and
 * none could be started (then fn does not run) - positive values, as in
 * the rest of goro, not the I/O calls' negative ones.
 * Go: what the runtime does around a blocking system call. */
GORO_API int goro_blocking(void (*fn)(void *), void *arg);

/* ------------------------------------------------------------------------
 * Bubbles (Go: testing/synctest).
 * ------------------------------------------------------------------------ */

/**
 * @defgroup grp_bubble Bubbles: testing timing code on a fake clock
 *
 * A bubble runs a function and every goroutine it starts, transitively, in
 * isolation on a fake clock, so that code full of timeouts, tickers and
 * sleeps can be tested in microseconds and with exact times.
 *
 * The clock starts at 2000-01-01T00:00:00Z (goro_now() returns nanoseconds
 * since the Unix epoch inside a bubble; the environment variable
 * GORO_BUBBLE_EPOCH sets another start, as seconds since the Unix epoch or
 * as YYYY-MM-DDTHH:MM:SSZ).  It never moves on its own: when every
 * goroutine of the bubble is durably blocked, it jumps straight to the
 * earliest timer of the bubble and fires it.  Timers, tickers, goro_sleep,
 * goro_now, goro_after_func, select timeouts, context deadlines and
 * timeouts, and the deadlines of the _deadline I/O calls all use the fake
 * clock inside a bubble.
 *
 * A goroutine of the bubble is durably blocked when only the bubble can
 * wake it: blocked on a channel made in the bubble (send, receive, or a
 * select all of whose channels are the bubble's), in goro_sleep or on a
 * timer, on a goro_cond, goro_waitgroup or goro_sema, on a goro_mutex held by
 * a goroutine of the bubble, or in goro_bubble_wait.  A goroutine blocked
 * on I/O (the poller), in goro_blocking, on a channel made outside the
 * bubble, on a mutex held outside it, or on a goro_rwmutex (as in Go) is
 * not: the clock waits for it, since something outside may wake it.
 *
 * Rules: a channel made in a bubble belongs to it (EPERM outside, see
 * Channels).  Timers left armed when the bubble ends never fire.  When
 * every goroutine is durably blocked and no timer is set, the bubble is
 * deadlocked: a message and the dump of its goroutines go to stderr, and
 * goro_bubble_run returns EDEADLK; its goroutines stay blocked forever
 * (they and what they hold are leaked).  A ticker whose channel nobody
 * reads counts as a deadlock too once it has fired 100000 times in a row
 * without waking anyone.
 * @{
 */

/**
 * Runs fn(arg) in a new goroutine inside a new bubble, and waits until
 * that goroutine and every goroutine of the bubble have exited.  Callable
 * from a plain thread (main) or from a goroutine outside any bubble;
 * several bubbles may run at once, each with its own clock.
 * @param fn  the function to run; NULL is refused.
 * @param arg passed to fn.
 * @return 0 once every goroutine of the bubble has exited; EINVAL for a
 *   NULL fn; EPERM when called inside a bubble (bubbles do not nest);
 *   ENOMEM; EDEADLK when the bubble deadlocked (reported on stderr; its
 *   goroutines are left blocked).
 * Go: synctest.Test (synctest.Run).
 */
GORO_API int goro_bubble_run(void (*fn)(void *), void *arg);

/**
 * Waits until every other goroutine of the calling goroutine's bubble is
 * durably blocked (or has exited).  The clock does not move meanwhile: it
 * moves only when the caller, too, blocks.
 * @return 0; EPERM when the caller is not a goroutine of a bubble; EBUSY
 *   when another goroutine of the bubble is already in goro_bubble_wait.
 * Go: synctest.Wait.
 */
GORO_API int goro_bubble_wait(void);

/** @} */

/* ------------------------------------------------------------------------
 * Diagnostics (Go: runtime.Stack, the deadlock detector, GOTRACEBACK).
 *
 * When every goroutine is blocked, no timer, fd wait, blocking call,
 * signal context or notified channel can wake one, and every thread known
 * to goro (one that called into it and has not exited; there may be none
 * left, as after main's pthread_exit) waits in goro, the process prints
 * "fatal error: all goroutines are asleep - deadlock!" and the dump, and
 * aborts, once that has held for a quarter of a second (about a second in
 * practice: the monitor looks less often once the runtime is idle).  A
 * thread that has not yet called into goro is unknown to the detector;
 * GORO_DEADLOCK=0 turns it off (for programs fed by threads that may take
 * longer than that to make their first goro call).  GORO_TRACEBACK=1 makes SIGQUIT
 * (Ctrl-\) print the dump.
 * ------------------------------------------------------------------------ */

/* Writes one entry per goroutine and per blocked plain thread: id, state,
 * wait reason and for how long, entry function, name, creation site.
 * A NULL out is ignored.
 * Go: the goroutine section of a panic or SIGQUIT dump. */
GORO_API void goro_dump(FILE *out);

/* Runtime counters; see goro_stats_get. */
typedef struct goro_stats {
    int goroutines;             /* as goro_num_goroutine() */
    int procs;                  /* as goro_maxprocs(0) */
    int idle_procs;             /* Ps without work right now */
    int threads;                /* Ms (threads running goroutines) started */
    uint64_t steals;            /* goroutines moved by work stealing */
    uint64_t parks;             /* goroutines and threads parked so far */
    uint64_t stacks;            /* goroutine stacks mapped */
    uint64_t stacks_cached;     /* of which free, kept for reuse */
} goro_stats;

/* Fills *st.  Values are read without stopping the world: each is exact,
 * together they are a snapshot.  Returns: 0; EINVAL for NULL. */
GORO_API int goro_stats_get(goro_stats *st);

#ifdef __cplusplus
}

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
#endif

#endif /* GORO_H */
