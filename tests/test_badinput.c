/* test_badinput.c - every public function of goro.h fed bad input: NULL
 * pointers and handles; zero, negative and huge sizes, counts and
 * durations; element sizes that are not the channel's; operations on
 * closed channels; and the misuse the header says is detected (fatal
 * errors run as death tests).  Each check asserts the documented result
 * exactly.  Use after free or release, a fatal error naming where the
 * object was made, is tried by test_typed's typed/released_* death tests,
 * not here.
 *
 * Most bodies run twice through both(): on the test's plain thread, then
 * in a goroutine, since every call must answer the same from either.  The
 * EXPECT* macros record failures with gt_check (rule 1 of common.h), so
 * they work in both places.
 *
 * Coverage: each public function, and the test that feeds it bad input.
 *
 *   goro_version                  diag_null (no input: it answers the
 *                                   header's GORO_VERSION)
 *   goro_now                      no input: nothing to get wrong
 *   goro_go, goro_go_attr,        go_bad_args (NULL fn, stack_size over
 *     goro_go_at                    1 GiB or SIZE_MAX, NULL call-site
 *                                   strings, tiny stack); enomem_fail_points
 *   goro_yield, goro_id,          no input: nothing to get wrong
 *     goro_num_goroutine
 *   goro_sleep                    sleep_nonpositive, sleep_huge_plain_thread,
 *                                   sleep_huge_goroutine
 *   goro_maxprocs                 maxprocs_out_of_range
 *   goro_main                     go_bad_args (NULL fn; EDEADLK in a goroutine)
 *   goro_lock_thread,             lock_thread_unbalanced
 *     goro_unlock_thread
 *   goro_chan_make                chan_make_sizes
 *   goro_chan_make_at             at_forms_null_site (NULL file, any line)
 *   goro_chan_elem_size,          chan_check_sizes
 *     goro_chan_check_size
 *   goro_chan_send_sized,         chan_sized_wrong_size (wrong sizes,
 *     goro_chan_recv_sized,         NULL, closed, signal channels)
 *     goro_chan_try_send_sized,
 *     goro_chan_try_recv_sized,
 *     GORO_SEND, GORO_RECV,
 *     GORO_TRY_SEND, GORO_TRY_RECV
 *   goro_chan_send, _recv,        chan_null, chan_null_elem, chan_closed,
 *     _try_send, _try_recv,         chan_close_wakes_waiters
 *     _close, _len, _cap
 *   goro_chan_retain, _release    chan_null, chan_release_keeps_waiters
 *   goro_case_recv, _recv_ok,     select_closed, select_null_channels (the
 *     _send, _default               constructors only build values; bad
 *                                   ones reach goro_select)
 *   goro_case_timeout,            select_durations
 *     goro_case_deadline
 *   goro_case_recv_sized,         select_sized_wrong_size
 *     _recv_ok_sized, _send_sized,
 *     GORO_CASE_RECV, _RECV_OK,
 *     GORO_CASE_SEND
 *   GORO_CHAN_TYPE's functions,   typed_null_and_closed (NULL typed
 *     goro_make, NAME_from          channels, overflowing and huge caps,
 *                                   closed); chan_check_sizes (NAME_from,
 *                                   NAME_chan); enomem_fail_points
 *   goro_select, GORO_SELECT      select_bad_cases, select_closed,
 *                                   select_null_channels, select_durations,
 *                                   select_no_cases_blocks_forever,
 *                                   enomem_fail_points
 *   goro_timer_make, _stop,       timer_bad_args
 *     _reset, _chan, _free
 *   goro_ticker_make, _stop,      ticker_bad_args
 *     _reset, _chan, _free
 *   goro_timer_make_at,           at_forms_null_site
 *     goro_ticker_make_at
 *   goro_after_func               after_func_bad_args (NULL fn, any ns;
 *                                   stop, reset, chan of a func timer);
 *                                   enomem_fail_points
 *   goro_ctx_background           ctx_null (background ignores cancel,
 *                                   retain and release)
 *   goro_ctx_with_cancel          ctx_null, ctx_ended_stays_ended
 *   goro_ctx_with_timeout,        ctx_durations
 *     goro_ctx_with_deadline
 *   goro_ctx_with_value           ctx_value_bad
 *   goro_ctx_with_signals         ctx_signals_bad, enomem_fail_points
 *   goro_ctx_cancel, _done,       ctx_null, ctx_ended_stays_ended
 *     _err, _deadline, _value,
 *     _retain, _release
 *   goro_ctx_with_cancel_at,      at_forms_null_site (NULL file; the
 *     _with_timeout_at,             signals form's bad lists)
 *     _with_deadline_at,
 *     _with_value_at,
 *     _with_signals_at
 *   goro_ctx_with_cancel_cause,   ctx_cause_bad (NULL, background, value
 *     goro_ctx_cancel_cause,        and without-cancel contexts, negative
 *     goro_ctx_cause                causes, ended contexts);
 *                                   enomem_fail_points
 *   goro_ctx_without_cancel       ctx_without_cancel_bad, enomem_fail_points
 *   goro_ctx_after_func,          ctx_after_func_bad_args (NULL fn and
 *     goro_ctx_after_func_stop,     handles, contexts that cannot end);
 *     goro_ctx_after_func_free      enomem_fail_points
 *   goro_mutex_lock, _trylock,    mutex_trylock_locked,
 *     _unlock                       mutex_unlock_unlocked_aborts
 *   goro_rwmutex_rlock, _runlock, rwmutex_*_aborts (four death tests)
 *     _lock, _unlock
 *   goro_waitgroup_add, _done,    waitgroup_bad_counts
 *     _wait
 *   goro_once_do                  no detectable misuse (its pointers must
 *                                   not be NULL: the Sync section says so)
 *   goro_cond_wait                cond_wait_unlocked_mutex_aborts
 *   goro_cond_signal, _broadcast  cond_no_waiters
 *   goro_sema_acquire,            sema_bad_counts
 *     _try_acquire, _release
 *   goro_group_make, _ctx,        group_bad_args, enomem_fail_points
 *     _set_limit, _go, _wait,
 *     _free
 *   goro_group_make_at            at_forms_null_site
 *   goro_group_go_at              group_go_at_bad_args
 *   goro_read, goro_write,        io_bad_fds, io_bad_args
 *     goro_accept, goro_connect,
 *     goro_fd_wait, goro_close,
 *     and their _deadline and
 *     _ctx forms
 *   goro_listen_tcp,              tcp_bad_addresses
 *     goro_dial_tcp
 *   goro_listen, goro_dial,       test_net.c: bad_input, unix_name_length,
 *     goro_recvfrom, _sendto        addr_format
 *     and their _deadline and
 *     _ctx forms, goro_sockname,
 *     _peername, goro_addr_format,
 *     _resolve
 *   goro_signal_notify,           test_signal.c: bad_arguments (NULL
 *     goro_signal_stop                channel, wrong element size, empty
 *                                   list, SIGKILL/SIGSTOP/out of range)
 *   goro_blocking                 blocking_null_fn
 *   goro_dump, goro_stats_get     diag_null, go_bad_args (a dump of NULL
 *                                   call-site strings)
 *
 * NULL passed to the sync functions is, as in pthreads, not checked (the
 * header says so), so it is not tried.
 */
#define _GNU_SOURCE
#include "common.h"

#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

/* goro_chan_make's ENOMEM check asks for more memory than the address space
 * holds; the sanitizers' allocators abort on such a request unless told to
 * return NULL, as malloc does. */
#if GT_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif
#if GT_TSAN
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

/* ---- checks ----------------------------------------------------------------- */

/* call returns want (an int, bool, size or -errno result). */
#define EXPECT(call, want)                                                     \
    do {                                                                       \
        long long got_ = (long long)(call);                                    \
        gt_check(got_ == (long long)(want), "%s: %lld, want %s (%lld)", #call, got_, #want, \
                 (long long)(want));                                           \
    } while (0)

/* call returns the pointer want. */
#define EXPECT_PTR(call, want)                                                 \
    do {                                                                       \
        const void *got_ = (const void *)(call);                               \
        gt_check(got_ == (const void *)(want), "%s: %p, want %s", #call, got_, #want); \
    } while (0)

/* A constructor: call returns NULL with errno want. */
#define EXPECT_NULL(call, want)                                                \
    do {                                                                       \
        gt_set_errno(0);                                                       \
        const void *got_ = (const void *)(call);                               \
        int e_ = gt_errno();                                                   \
        gt_check(!got_ && e_ == (want), "%s: %p errno %d, want NULL errno %s (%d)", #call, \
                 got_, e_, #want, (want));                                     \
    } while (0)

/* An I/O call: returns -want, and sets errno want as well (read at once,
 * through a fresh thread pointer: gt_errno). */
#define EXPECT_FAIL(call, want)                                                \
    do {                                                                       \
        gt_set_errno(0);                                                       \
        long long got_ = (long long)(call);                                    \
        int e_ = gt_errno();                                                   \
        gt_check(got_ == -(long long)(want) && e_ == (want),                   \
                 "%s: %lld errno %d (%s), want -%s", #call, got_, e_, strerror(e_), #want); \
    } while (0)

/* ---- running a body on a plain thread and in a goroutine ------------------- */

struct body {
    void (*fn)(void);
    goro_chan *done;
};

static void body_in_goroutine(void *arg)
{
    struct body *b = arg;
    b->fn();
    goro_chan_close(b->done);
}

/* Runs fn on the test's thread, then in a goroutine; then gt_quiesce(). */
static void both(void (*fn)(void))
{
    struct body b = {fn, NULL};

    fn();
    b.done = gt_mkchan(0, 0);
    gt_spawn(body_in_goroutine, &b);
    cr_assert_eq(goro_chan_recv(b.done, NULL), EPIPE);
    goro_chan_release(b.done);
    gt_quiesce();
}

/* Spawns fn(arg) from a body (no cr_assert: bodies run in goroutines too). */
static void spawn(void (*fn)(void *), void *arg)
{
    int e = goro_go(fn, arg);
    gt_check(e == 0, "goro_go: %d", e);
}

/* goro_chan_make for a body. */
static goro_chan *mkchan(size_t elem_size, size_t cap)
{
    goro_chan *c = goro_chan_make(elem_size, cap);
    gt_check(c != NULL, "goro_chan_make(%zu, %zu): errno %d", elem_size, cap, gt_errno());
    return c;
}

/* Bad durations: zero, negative and the most negative. */
static const int64_t nonpositive[] = {0, -1, INT64_MIN};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- child processes (see gt_run_child) ------------------------------------ */

#define CHILD_ENV "GT_BADINPUT_CHILD"

static _Atomic int child_woke;

static void *sleep_forever_thread(void *arg)
{
    (void)arg;
    goro_sleep(INT64_MAX);
    atomic_store(&child_woke, 1);
    return NULL;
}

static void sleep_forever_goroutine(void *arg)
{
    sleep_forever_thread(arg);
}

/* Sleeps INT64_MAX in a plain thread or a goroutine; exits 0 if it is
 * still asleep after a while, 3 if it woke. */
static void child_sleep_huge(bool in_goroutine)
{
    pthread_t t;
    if (in_goroutine) {
        if (goro_go(sleep_forever_goroutine, NULL) != 0)
            _exit(2);
    } else if (pthread_create(&t, NULL, sleep_forever_thread, NULL) != 0) {
        _exit(2);
    }
    goro_sleep(gt_ms(100));
    if (atomic_load(&child_woke)) {
        fprintf(stderr, "child: goro_sleep(INT64_MAX) returned\n");
        _exit(3);
    }
    _exit(0);
}

static void child_sleep_huge_thread(void)
{
    child_sleep_huge(false);
}

static void child_sleep_huge_goroutine(void)
{
    child_sleep_huge(true);
}

static void select_nothing(void *arg)
{
    (void)arg;
    goro_select(NULL, 0);
}

/* goro_select(NULL, 0) in a goroutine and on the main thread: nothing can
 * ever wake either, so the deadlock detector must abort the process. */
static void child_select_no_cases(void)
{
    if (goro_go(select_nothing, NULL) != 0)
        _exit(2);
    goro_select(NULL, 0);
}

static const gt_child_body child_bodies[] = {
    {"sleep_huge_thread", child_sleep_huge_thread},
    {"sleep_huge_goroutine", child_sleep_huge_goroutine},
    {"select_no_cases", child_select_no_cases},
    {NULL, NULL},
};

__attribute__((constructor)) static void child_entry(void)
{
    gt_child_dispatch(CHILD_ENV, child_bodies);
}

struct outcome {
    int status;
    char out[16384];
};

TestSuite(badinput);

/* ---- goroutines ----------------------------------------------------------- */

static _Atomic long ran;

static void bump(void *arg)
{
    atomic_fetch_add(&ran, 1);
    goro_waitgroup_done(arg);
}

struct parked {
    goro_chan *gate;
    goro_waitgroup wg;
};

static void park_until_closed(void *arg)
{
    struct parked *p = arg;
    goro_chan_recv(p->gate, NULL);
    goro_waitgroup_done(&p->wg);
}

static void go_body(void)
{
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_attr a = {0};
    long before = atomic_load(&ran);

    EXPECT(goro_go((void (*)(void *))NULL, NULL), EINVAL);
    EXPECT(goro_go_attr(NULL, (void (*)(void *))NULL, NULL), EINVAL);
    EXPECT(goro_go_attr(&a, (void (*)(void *))NULL, &wg), EINVAL);
    EXPECT(goro_go_at(NULL, NULL, NULL, "entry", "file", 1, "func"), EINVAL);
    a.stack_size = ((size_t)1 << 30) + 1;
    EXPECT(goro_go_attr(&a, bump, &wg), EINVAL);
    a.stack_size = SIZE_MAX;
    EXPECT(goro_go_attr(&a, bump, &wg), EINVAL);

    /* Sizes that are fine: rounded up to 16 KiB, or exactly the maximum. */
    static const size_t ok_sizes[] = {1, 4096, (size_t)1 << 30};
    for (size_t i = 0; i < NELEM(ok_sizes); i++) {
        a.stack_size = ok_sizes[i];
        goro_waitgroup_add(&wg, 1);
        int e = goro_go_attr(&a, bump, &wg);
        if (!gt_check(e == 0, "goro_go_attr(stack_size %zu): %d", ok_sizes[i], e))
            goro_waitgroup_done(&wg);
    }
    /* goro_go_at's call-site strings may be NULL, and the line anything. */
    goro_waitgroup_add(&wg, 1);
    EXPECT(goro_go_at(NULL, bump, &wg, NULL, NULL, -1, NULL), 0);
    goro_waitgroup_wait(&wg);
    EXPECT(atomic_load(&ran) - before, (long)NELEM(ok_sizes) + 1);

    /* ... and goro_dump prints such a goroutine. */
    struct parked pk = {.gate = mkchan(0, 0), .wg = GORO_WAITGROUP_INIT};
    goro_waitgroup_add(&pk.wg, 1);
    int e = goro_go_at(NULL, park_until_closed, &pk, NULL, NULL, INT_MIN, NULL);
    if (!gt_check(e == 0, "goro_go_at(NULL strings, INT_MIN): %d", e))
        goro_waitgroup_done(&pk.wg);
    gt_settle();
    FILE *sink = fopen("/dev/null", "w");
    gt_check(sink != NULL, "fopen /dev/null");
    if (sink) {
        goro_dump(sink);
        fclose(sink);
    }
    goro_chan_close(pk.gate);
    goro_waitgroup_wait(&pk.wg); /* it borrows the gate until it is done */
    goro_chan_release(pk.gate);

    EXPECT(goro_main(NULL, NULL), EINVAL);
    goro_waitgroup_add(&wg, 1);
    int want = goro_id() ? EDEADLK : 0; /* it would wait on itself */
    e = goro_main(bump, &wg);
    gt_check(e == want, "goro_main: %d, want %d", e, want);
    if (e)
        goro_waitgroup_done(&wg);
    goro_waitgroup_wait(&wg);
}

Test(badinput, go_bad_args, .timeout = GT_TIMEOUT(20))
{
    both(go_body);
}

static void sleep_body(void)
{
    for (size_t i = 0; i < NELEM(nonpositive); i++) {
        int64_t t0 = goro_now();
        goro_sleep(nonpositive[i]);
        int64_t took = goro_now() - t0;
        gt_check(took < gt_ms(1000), "goro_sleep(%lld) took %lld ns", (long long)nonpositive[i],
                 (long long)took);
    }
}

Test(badinput, sleep_nonpositive, .timeout = GT_TIMEOUT(10))
{
    both(sleep_body);
}

Test(badinput, sleep_huge_plain_thread, .timeout = GT_TIMEOUT(30))
{
    struct outcome o;
    gt_run_child(CHILD_ENV, "sleep_huge_thread", o.out, sizeof o.out, &o.status);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "child status %#x, stderr:\n%s",
              o.status, o.out);
}

/* A huge sleep in a goroutine: the deadline saturates instead of wrapping
 * negative (which woke the goroutine at once). */
Test(badinput, sleep_huge_goroutine, .timeout = GT_TIMEOUT(30))
{
    struct outcome o;
    gt_run_child(CHILD_ENV, "sleep_huge_goroutine", o.out, sizeof o.out, &o.status);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "child status %#x, stderr:\n%s",
              o.status, o.out);
}

/* n <= 0 only queries; n above GORO_MAX_PROCS is capped. */
Test(badinput, maxprocs_out_of_range, .timeout = GT_TIMEOUT(20))
{
    int prev = goro_maxprocs(0);
    cr_assert_gt(prev, 0);
    cr_assert_eq(goro_maxprocs(-1), prev);
    cr_assert_eq(goro_maxprocs(INT_MIN), prev);
    cr_assert_eq(goro_maxprocs(0), prev, "a query changed the value");
    cr_assert_eq(goro_maxprocs(INT_MAX), prev);
    cr_assert_eq(goro_maxprocs(0), GORO_MAX_PROCS);
    cr_assert_eq(goro_maxprocs(prev), GORO_MAX_PROCS);
    cr_assert_eq(goro_maxprocs(0), prev);
    gt_quiesce();
}

/* An unlock without a lock is a no-op (on a plain thread both are); the
 * calls still pair up afterwards, and the caller can still block. */
static void lock_thread_body(void)
{
    goro_unlock_thread();
    goro_unlock_thread();
    goro_lock_thread();
    goro_lock_thread();
    goro_unlock_thread();
    goro_unlock_thread();
    goro_unlock_thread();
    goro_sleep(GORO_MILLISECOND);
}

Test(badinput, lock_thread_unbalanced, .timeout = GT_TIMEOUT(10))
{
    both(lock_thread_body);
}

/* ---- channels ----------------------------------------------------------------- */

static void chan_make_body(void)
{
    static const struct {
        size_t elem, cap;
        int want; /* errno, or 0: a channel */
    } rows[] = {
        {SIZE_MAX, 1, EINVAL},                  /* elem_size * cap overflows */
        {SIZE_MAX, 2, EINVAL},
        {SIZE_MAX / 2 + 1, 2, EINVAL},
        {2, SIZE_MAX / 2 + 1, EINVAL},
        {1, SIZE_MAX, EINVAL},                  /* with the header, it overflows */
        {(size_t)1 << 32, (size_t)1 << 32, EINVAL},
        {1, (size_t)1 << 48, ENOMEM},           /* more than the address space */
        {(size_t)1 << 24, (size_t)1 << 24, ENOMEM},
        {0, 0, 0},
        {0, SIZE_MAX, 0},                       /* a signal channel's buffer is free */
        {SIZE_MAX, 0, 0},                       /* unbuffered: no buffer to overflow */
    };
    for (size_t i = 0; i < NELEM(rows); i++) {
        gt_set_errno(0);
        goro_chan *c = goro_chan_make(rows[i].elem, rows[i].cap);
        int e = gt_errno();
        if (rows[i].want) {
            gt_check(!c && e == rows[i].want, "goro_chan_make(%zu, %zu): %p errno %d, want %d",
                     rows[i].elem, rows[i].cap, (void *)c, e, rows[i].want);
        } else {
            gt_check(c != NULL, "goro_chan_make(%zu, %zu): errno %d", rows[i].elem,
                     rows[i].cap, e);
            EXPECT(goro_chan_cap(c), rows[i].cap);
            EXPECT(goro_chan_len(c), 0);
        }
        goro_chan_release(c);
    }
}

Test(badinput, chan_make_sizes, .timeout = GT_TIMEOUT(10))
{
    both(chan_make_body);
}

static void chan_null_body(void)
{
    int v = 7;
    EXPECT(goro_chan_send(NULL, &v), EINVAL);
    EXPECT(goro_chan_send(NULL, NULL), EINVAL);
    EXPECT(goro_chan_try_send(NULL, &v), EINVAL);
    EXPECT(goro_chan_try_send(NULL, NULL), EINVAL);
    EXPECT(goro_chan_recv(NULL, &v), EINVAL);
    EXPECT(goro_chan_recv(NULL, NULL), EINVAL);
    EXPECT(goro_chan_try_recv(NULL, &v), EINVAL);
    EXPECT(goro_chan_try_recv(NULL, NULL), EINVAL);
    EXPECT(v, 7); /* untouched */
    EXPECT(goro_chan_close(NULL), EINVAL);
    EXPECT(goro_chan_len(NULL), 0);
    EXPECT(goro_chan_cap(NULL), 0);
    EXPECT_PTR(goro_chan_retain(NULL), NULL);
    goro_chan_release(NULL);
}

Test(badinput, chan_null, .timeout = GT_TIMEOUT(10))
{
    both(chan_null_body);
}

/* A NULL elem is refused for elements of nonzero size and sends nothing;
 * a receive may always discard. */
static void chan_null_elem_body(void)
{
    static const size_t caps[] = {0, 1, 4};
    int v = 42;
    for (size_t i = 0; i < NELEM(caps); i++) {
        goro_chan *c = mkchan(sizeof(int), caps[i]);
        EXPECT(goro_chan_send(c, NULL), EINVAL);
        EXPECT(goro_chan_try_send(c, NULL), EINVAL);
        EXPECT(goro_chan_len(c), 0);
        EXPECT(goro_chan_try_recv(c, NULL), EAGAIN); /* nothing was sent */
        if (caps[i]) {
            EXPECT(goro_chan_send(c, &v), 0);
            EXPECT(goro_chan_recv(c, NULL), 0); /* discarded */
            EXPECT(goro_chan_len(c), 0);
        }
        goro_chan_release(c);
    }
    goro_chan *z = mkchan(0, 1); /* signal channel: NULL is the element */
    EXPECT(goro_chan_send(z, NULL), 0);
    EXPECT(goro_chan_try_send(z, NULL), EAGAIN);
    EXPECT(goro_chan_recv(z, NULL), 0);
    goro_chan_release(z);
}

Test(badinput, chan_null_elem, .timeout = GT_TIMEOUT(10))
{
    both(chan_null_elem_body);
}

/* Every operation on a closed channel, unbuffered and buffered (with an
 * element left in the buffer at close). */
static void chan_closed_body(void)
{
    static const size_t caps[] = {0, 2};
    for (size_t i = 0; i < NELEM(caps); i++) {
        goro_chan *c = mkchan(sizeof(int), caps[i]);
        int v = 5, r;
        if (caps[i])
            EXPECT(goro_chan_send(c, &v), 0);
        EXPECT(goro_chan_close(c), 0);
        EXPECT(goro_chan_close(c), EPIPE);
        EXPECT(goro_chan_send(c, &v), EPIPE);
        EXPECT(goro_chan_try_send(c, &v), EPIPE);
        EXPECT(goro_chan_send(c, NULL), EINVAL); /* argument checks come first */
        EXPECT(goro_chan_cap(c), caps[i]);
        if (caps[i]) {
            EXPECT(goro_chan_len(c), 1);
            r = -1;
            EXPECT(goro_chan_recv(c, &r), 0); /* buffered elements survive close */
            EXPECT(r, 5);
        }
        EXPECT(goro_chan_len(c), 0);
        r = -1;
        EXPECT(goro_chan_recv(c, &r), EPIPE);
        EXPECT(r, 0); /* zero-filled */
        r = -1;
        EXPECT(goro_chan_try_recv(c, &r), EPIPE);
        EXPECT(r, 0);
        EXPECT(goro_chan_recv(c, NULL), EPIPE);
        EXPECT(goro_chan_try_recv(c, NULL), EPIPE);
        goro_chan_release(c);
    }
}

Test(badinput, chan_closed, .timeout = GT_TIMEOUT(10))
{
    both(chan_closed_body);
}

struct blocked_ops {
    goro_chan *c;
    goro_waitgroup wg;
    _Atomic int send_err, recv_err, recv_val;
};

static void blocked_sender(void *arg)
{
    struct blocked_ops *b = arg;
    int v = 9;
    atomic_store(&b->send_err, goro_chan_send(b->c, &v));
    goro_waitgroup_done(&b->wg);
}

static void blocked_receiver(void *arg)
{
    struct blocked_ops *b = arg;
    int v = -1;
    atomic_store(&b->recv_err, goro_chan_recv(b->c, &v));
    atomic_store(&b->recv_val, v);
    goro_waitgroup_done(&b->wg);
}

/* Close wakes a blocked sender and a blocked receiver with EPIPE. */
static void close_wakes_body(void)
{
    struct blocked_ops s = {.c = mkchan(sizeof(int), 0), .wg = GORO_WAITGROUP_INIT};
    struct blocked_ops r = {.c = mkchan(sizeof(int), 0), .wg = GORO_WAITGROUP_INIT};
    goro_waitgroup_add(&s.wg, 1);
    spawn(blocked_sender, &s);
    goro_waitgroup_add(&r.wg, 1);
    spawn(blocked_receiver, &r);
    gt_settle();
    EXPECT(goro_chan_close(s.c), 0);
    EXPECT(goro_chan_close(r.c), 0);
    goro_waitgroup_wait(&s.wg);
    goro_waitgroup_wait(&r.wg);
    EXPECT(atomic_load(&s.send_err), EPIPE);
    EXPECT(atomic_load(&r.recv_err), EPIPE);
    EXPECT(atomic_load(&r.recv_val), 0);
    goro_chan_release(s.c);
    goro_chan_release(r.c);
}

Test(badinput, chan_close_wakes_waiters, .timeout = GT_TIMEOUT(10))
{
    both(close_wakes_body);
}

/* Releasing a reference does not close, and a blocked receiver keeps the
 * channel alive until it is closed through another reference. */
static void release_keeps_body(void)
{
    struct blocked_ops r = {.c = mkchan(sizeof(int), 0), .wg = GORO_WAITGROUP_INIT};
    goro_chan *mine = goro_chan_retain(r.c);
    EXPECT_PTR(mine, r.c);
    goro_waitgroup_add(&r.wg, 1);
    spawn(blocked_receiver, &r);
    gt_settle();
    goro_chan_release(r.c); /* the creator's reference: not a close */
    EXPECT(goro_chan_send(mine, &(int){1}), 0);
    goro_waitgroup_wait(&r.wg);
    EXPECT(atomic_load(&r.recv_err), 0);
    EXPECT(atomic_load(&r.recv_val), 1);
    EXPECT(goro_chan_close(mine), 0);
    goro_chan_release(mine);
}

Test(badinput, chan_release_keeps_waiters, .timeout = GT_TIMEOUT(10))
{
    both(release_keeps_body);
}

/* ---- select ------------------------------------------------------------------- */

static void select_bad_body(void)
{
    goro_chan *c = mkchan(sizeof(int), 1), *z = mkchan(0, 1);
    int v = 1;

    EXPECT(goro_select(NULL, 1), -EINVAL);
    EXPECT(goro_select(NULL, SIZE_MAX), -EINVAL);
    EXPECT(GORO_SELECT(goro_case_default(), goro_case_default()), -EINVAL);
    EXPECT(GORO_SELECT(goro_case_recv(c, &v), goro_case_default(), goro_case_default()),
           -EINVAL);
    EXPECT(GORO_SELECT(goro_case_send(c, NULL)), -EINVAL);
    EXPECT(GORO_SELECT(goro_case_send(c, NULL), goro_case_default()), -EINVAL);
    EXPECT(GORO_SELECT(goro_case_send(z, NULL)), 0); /* fine on a signal channel */
    EXPECT(GORO_SELECT(goro_case_send(NULL, NULL), goro_case_default()), 1); /* never ready */
    goro_case zeroed = {0}, garbage = {.kind = 12345};
    EXPECT(goro_select(&zeroed, 1), -EINVAL);
    EXPECT(goro_select(&garbage, 1), -EINVAL);

    /* More cases than the 16-bit case index holds; one fewer is fine. */
    size_t n = (size_t)UINT16_MAX + 1;
    goro_case *many = calloc(n, sizeof *many);
    gt_check(many != NULL, "calloc");
    if (many) {
        for (size_t i = 0; i < n; i++)
            many[i] = goro_case_recv(NULL, NULL);
        EXPECT(goro_select(many, n), -EINVAL);
        many[n - 2] = goro_case_default();
        EXPECT(goro_select(many, n - 1), (long long)(n - 2));
        free(many);
    }

    /* Nothing was left locked or enqueued: the channels still work. */
    EXPECT(goro_chan_len(c), 0);
    EXPECT(goro_chan_send(c, &v), 0);
    EXPECT(goro_chan_recv(c, &v), 0);
    EXPECT(goro_chan_recv(z, NULL), 0);
    goro_chan_release(c);
    goro_chan_release(z);
}

Test(badinput, select_bad_cases, .timeout = GT_TIMEOUT(20))
{
    both(select_bad_body);
}

/* Closed channels in select: a send case makes it return -EPIPE, receive
 * cases run with a zero-filled element and ok false. */
static void select_closed_body(void)
{
    goro_chan *c = mkchan(sizeof(int), 1);
    int v = 3;
    bool ok = true;

    EXPECT(goro_chan_close(c), 0);
    EXPECT(GORO_SELECT(goro_case_send(c, &v)), -EPIPE);
    EXPECT(GORO_SELECT(goro_case_send(c, &v), goro_case_default()), -EPIPE);
    EXPECT(GORO_SELECT(goro_case_send(c, NULL)), -EINVAL);
    EXPECT(GORO_SELECT(goro_case_default(), goro_case_recv(c, &v)), 1);
    EXPECT(v, 0);
    v = 3;
    EXPECT(GORO_SELECT(goro_case_recv_ok(c, &v, &ok)), 0);
    EXPECT(v, 0);
    EXPECT(ok, false);
    EXPECT(GORO_SELECT(goro_case_recv_ok(c, &v, NULL)), 0); /* ok may be NULL */
    EXPECT(GORO_SELECT(goro_case_recv_ok(c, NULL, NULL)), 0);
    EXPECT(GORO_SELECT(goro_case_recv(c, NULL)), 0);
    goro_chan_release(c);
}

Test(badinput, select_closed, .timeout = GT_TIMEOUT(10))
{
    both(select_closed_body);
}

/* Cases on NULL channels are never ready, in any position. */
static void select_null_body(void)
{
    int v = 0;
    bool ok = true;
    EXPECT(GORO_SELECT(goro_case_recv(NULL, &v), goro_case_send(NULL, &v),
                       goro_case_recv_ok(NULL, &v, &ok), goro_case_default()),
           3);
    EXPECT(ok, true);
    EXPECT(GORO_SELECT(goro_case_recv(NULL, &v), goro_case_timeout(0)), 1);
    EXPECT(GORO_SELECT(goro_case_send(NULL, NULL), goro_case_deadline(goro_now())), 1);
}

Test(badinput, select_null_channels, .timeout = GT_TIMEOUT(10))
{
    both(select_null_body);
}

/* Zero, negative and past times are ready at once; the largest ones never
 * (a default wins), so nothing overflows into the past. */
static void select_durations_body(void)
{
    goro_chan *never = mkchan(0, 0);
    for (size_t i = 0; i < NELEM(nonpositive); i++) {
        EXPECT(GORO_SELECT(goro_case_recv(never, NULL), goro_case_timeout(nonpositive[i])), 1);
        EXPECT(GORO_SELECT(goro_case_recv(never, NULL), goro_case_deadline(nonpositive[i])), 1);
    }
    EXPECT(GORO_SELECT(goro_case_deadline(goro_now() - 1)), 0);
    EXPECT(GORO_SELECT(goro_case_timeout(INT64_MAX), goro_case_default()), 1);
    EXPECT(GORO_SELECT(goro_case_timeout(INT64_MAX - 1), goro_case_default()), 1);
    EXPECT(GORO_SELECT(goro_case_deadline(INT64_MAX), goro_case_default()), 1);
    /* The earliest timeout wins, whatever else is there. */
    EXPECT(GORO_SELECT(goro_case_timeout(INT64_MAX), goro_case_timeout(INT64_MIN)), 1);
    goro_chan_release(never);
}

Test(badinput, select_durations, .timeout = GT_TIMEOUT(10))
{
    both(select_durations_body);
}

/* n 0 blocks forever: with nothing else to wake anyone, the deadlock
 * detector ends the process. */
Test(badinput, select_no_cases_blocks_forever, .timeout = GT_TIMEOUT(60))
{
    struct outcome o;
    gt_run_child(CHILD_ENV, "select_no_cases", o.out, sizeof o.out, &o.status);
    cr_assert(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGABRT,
              "child status %#x, stderr:\n%s", o.status, o.out);
    cr_assert(gt_matches(o.out, "^fatal error: all goroutines are asleep - deadlock!$"),
              "stderr:\n%s", o.out);
    cr_assert(gt_matches(o.out, "^goroutine [0-9]+ \\[select \\(no cases\\)\\]:$"), "stderr:\n%s",
              o.out);
}

/* ---- typed channels and size-checked calls ------------------------------------ */

GORO_CHAN_TYPE(int_chan, int);

/* goro_chan_elem_size, goro_chan_check_size and the typed layer's _from:
 * NULL answers 0 or NULL; a size that is not the element size is refused
 * with EINVAL. */
static void chan_sizes_body(void)
{
    goro_chan *c = mkchan(sizeof(int), 1), *z = mkchan(0, 0), *l = mkchan(sizeof(long long), 0);

    EXPECT(goro_chan_elem_size(NULL), 0);
    EXPECT(goro_chan_elem_size(c), sizeof(int));
    EXPECT(goro_chan_elem_size(z), 0);
    EXPECT_PTR(goro_chan_check_size(NULL, 0), NULL);
    EXPECT_PTR(goro_chan_check_size(NULL, sizeof(int)), NULL);
    EXPECT_PTR(goro_chan_check_size(NULL, SIZE_MAX), NULL);
    EXPECT_PTR(goro_chan_check_size(c, sizeof(int)), c);
    EXPECT_PTR(goro_chan_check_size(z, 0), z);
    static const size_t wrong[] = {0, 1, sizeof(int) - 1, sizeof(int) + 1, SIZE_MAX};
    for (size_t i = 0; i < NELEM(wrong); i++)
        EXPECT_NULL(goro_chan_check_size(c, wrong[i]), EINVAL);
    EXPECT_NULL(goro_chan_check_size(z, 1), EINVAL);
    EXPECT_NULL(goro_chan_check_size(z, SIZE_MAX), EINVAL);

    EXPECT_PTR(int_chan_from(NULL), NULL);
    EXPECT_PTR(int_chan_chan(int_chan_from(c)), c); /* the same object */
    EXPECT_NULL(int_chan_from(z), EINVAL);
    EXPECT_NULL(int_chan_from(l), EINVAL);
    EXPECT_PTR(int_chan_chan(NULL), NULL);

    /* A refused check changed nothing: c still works, one reference. */
    int v = 5;
    EXPECT(goro_chan_send(c, &v), 0);
    EXPECT(goro_chan_len(c), 1);
    goro_chan_release(c);
    goro_chan_release(z);
    goro_chan_release(l);
}

Test(badinput, chan_check_sizes, .timeout = GT_TIMEOUT(10))
{
    both(chan_sizes_body);
}

/* The _sized calls and the GORO_SEND family: a wrong size is EINVAL before
 * anything is copied or waited for (an unbuffered channel with no partner
 * would block otherwise), even on a closed channel; NULL is EINVAL as for
 * the unsized calls. */
static void chan_sized_body(void)
{
    static const size_t caps[] = {0, 2};
    static const size_t wrong[] = {0, sizeof(int) - 1, sizeof(int) + 1, SIZE_MAX};
    int v = 7;
    char ch = 'x';
    long long ll = 9;

    for (size_t i = 0; i < NELEM(wrong); i++) {
        EXPECT(goro_chan_send_sized(NULL, &v, wrong[i]), EINVAL);
        EXPECT(goro_chan_try_send_sized(NULL, &v, wrong[i]), EINVAL);
        EXPECT(goro_chan_recv_sized(NULL, &v, wrong[i]), EINVAL);
        EXPECT(goro_chan_try_recv_sized(NULL, &v, wrong[i]), EINVAL);
    }
    EXPECT(goro_chan_send_sized(NULL, NULL, sizeof(int)), EINVAL);
    EXPECT(goro_chan_recv_sized(NULL, NULL, sizeof(int)), EINVAL);
    EXPECT(GORO_SEND((goro_chan *)NULL, &v), EINVAL);
    EXPECT(GORO_RECV((goro_chan *)NULL, &v), EINVAL);
    EXPECT(GORO_TRY_SEND((goro_chan *)NULL, &v), EINVAL);
    EXPECT(GORO_TRY_RECV((goro_chan *)NULL, &v), EINVAL);
    EXPECT(v, 7);

    for (size_t k = 0; k < NELEM(caps); k++) {
        goro_chan *c = mkchan(sizeof(int), caps[k]);
        v = 7;
        for (size_t i = 0; i < NELEM(wrong); i++) {
            EXPECT(goro_chan_send_sized(c, &v, wrong[i]), EINVAL);
            EXPECT(goro_chan_try_send_sized(c, &v, wrong[i]), EINVAL);
            EXPECT(goro_chan_recv_sized(c, &v, wrong[i]), EINVAL);
            EXPECT(goro_chan_try_recv_sized(c, &v, wrong[i]), EINVAL);
        }
        EXPECT(GORO_SEND(c, &ch), EINVAL);
        EXPECT(GORO_SEND(c, &ll), EINVAL);
        EXPECT(GORO_TRY_SEND(c, &ll), EINVAL);
        EXPECT(GORO_RECV(c, &ll), EINVAL);
        EXPECT(GORO_TRY_RECV(c, &ch), EINVAL);
        EXPECT(goro_chan_send_sized(c, NULL, sizeof(int)), EINVAL);
        EXPECT(goro_chan_len(c), 0); /* nothing was sent */
        EXPECT(GORO_TRY_RECV(c, &v), EAGAIN);
        if (caps[k]) {
            /* A buffered element is not taken by a refused receive. */
            EXPECT(GORO_SEND(c, &v), 0);
            ll = 9;
            EXPECT(GORO_RECV(c, &ll), EINVAL);
            EXPECT(ll, 9);
            EXPECT(goro_chan_len(c), 1);
            int r = 0;
            EXPECT(GORO_RECV(c, &r), 0);
            EXPECT(r, 7);
        }
        /* Closed: the size is checked first. */
        EXPECT(goro_chan_close(c), 0);
        EXPECT(GORO_SEND(c, &ll), EINVAL);
        EXPECT(GORO_RECV(c, &ll), EINVAL);
        EXPECT(ll, 9);
        EXPECT(GORO_SEND(c, &v), EPIPE);
        EXPECT(GORO_TRY_SEND(c, &v), EPIPE);
        v = 7;
        EXPECT(GORO_RECV(c, &v), EPIPE);
        EXPECT(v, 0); /* zero-filled */
        v = 7;
        EXPECT(GORO_TRY_RECV(c, &v), EPIPE);
        EXPECT(v, 0);
        goro_chan_release(c);
    }

    /* A signal channel takes size 0 and NULL elements, refuses any other
     * size. */
    goro_chan *z = mkchan(0, 1);
    EXPECT(goro_chan_send_sized(z, NULL, 1), EINVAL);
    EXPECT(goro_chan_send_sized(z, &v, sizeof v), EINVAL);
    EXPECT(goro_chan_send_sized(z, NULL, 0), 0);
    EXPECT(goro_chan_try_send_sized(z, NULL, 0), EAGAIN);
    EXPECT(goro_chan_recv_sized(z, NULL, 1), EINVAL);
    EXPECT(goro_chan_len(z), 1);
    EXPECT(goro_chan_try_recv_sized(z, NULL, 0), 0);
    goro_chan_release(z);
}

Test(badinput, chan_sized_wrong_size, .timeout = GT_TIMEOUT(10))
{
    both(chan_sized_body);
}

/* Size-checked cases: a wrong size makes goro_select return -EINVAL before
 * it touches any channel, even with a default case or another case ready;
 * a NULL channel's case is never ready, whatever the size. */
static void select_sized_body(void)
{
    goro_chan *c = mkchan(sizeof(int), 1);
    int v = 4;
    long long ll = 9;
    bool ok = true;

    EXPECT(GORO_SELECT(GORO_CASE_RECV((goro_chan *)NULL, &ll),
                       goro_case_send_sized(NULL, &v, SIZE_MAX),
                       goro_case_recv_ok_sized(NULL, &v, &ok, 0), goro_case_default()),
           3);
    EXPECT(ok, true);

    EXPECT(goro_chan_send(c, &v), 0); /* c's receive is ready */
    EXPECT(GORO_SELECT(GORO_CASE_RECV(c, &ll)), -EINVAL);
    EXPECT(GORO_SELECT(GORO_CASE_RECV(c, &ll), goro_case_default()), -EINVAL);
    EXPECT(GORO_SELECT(goro_case_recv(c, &v), GORO_CASE_RECV_OK(c, &ll, &ok)), -EINVAL);
    EXPECT(GORO_SELECT(goro_case_recv_sized(c, NULL, 0), goro_case_default()), -EINVAL);
    EXPECT(GORO_SELECT(goro_case_recv_ok_sized(c, &v, NULL, SIZE_MAX)), -EINVAL);
    EXPECT(GORO_SELECT(goro_case_timeout(0), GORO_CASE_SEND(c, &ll)), -EINVAL);
    EXPECT(GORO_SELECT(goro_case_send_sized(c, &v, sizeof v + 1), goro_case_default()),
           -EINVAL);
    EXPECT(ll, 9);
    EXPECT(ok, true);
    EXPECT(goro_chan_len(c), 1); /* nothing received */

    /* The right size works; the buffered element is still there. */
    v = 0;
    EXPECT(GORO_SELECT(GORO_CASE_RECV_OK(c, &v, &ok)), 0);
    EXPECT(v, 4);
    EXPECT(ok, true);
    EXPECT(GORO_SELECT(GORO_CASE_SEND(c, &v)), 0);
    EXPECT(GORO_SELECT(GORO_CASE_RECV(c, &v)), 0);

    /* Closed: the size is still checked first. */
    EXPECT(goro_chan_close(c), 0);
    EXPECT(GORO_SELECT(GORO_CASE_SEND(c, &ll)), -EINVAL);
    EXPECT(GORO_SELECT(GORO_CASE_SEND(c, &v)), -EPIPE);
    EXPECT(GORO_SELECT(GORO_CASE_RECV_OK(c, &ll, &ok)), -EINVAL);
    EXPECT(GORO_SELECT(GORO_CASE_RECV_OK(c, &v, &ok)), 0);
    EXPECT(ok, false);
    goro_chan_release(c);
}

Test(badinput, select_sized_wrong_size, .timeout = GT_TIMEOUT(10))
{
    both(select_sized_body);
}

/* The typed layer answers what the untyped calls do: a NULL typed channel
 * is EINVAL, 0 or NULL, never ready in a select; goro_make refuses what
 * goro_chan_make refuses. */
static void typed_body(void)
{
    int v = 7;
    bool ok = true;

    EXPECT(int_chan_send(NULL, 1), EINVAL);
    EXPECT(int_chan_try_send(NULL, 1), EINVAL);
    EXPECT(int_chan_recv(NULL, &v), EINVAL);
    EXPECT(int_chan_recv(NULL, NULL), EINVAL);
    EXPECT(int_chan_try_recv(NULL, &v), EINVAL);
    EXPECT(int_chan_recv_ok(NULL, &v), false);
    EXPECT(v, 7);
    EXPECT(int_chan_close(NULL), EINVAL);
    EXPECT(int_chan_len(NULL), 0);
    EXPECT(int_chan_cap(NULL), 0);
    EXPECT_PTR(int_chan_retain(NULL), NULL);
    int_chan_release(NULL);
    EXPECT(GORO_SELECT(int_chan_case_recv(NULL, &v), int_chan_case_send(NULL, &v),
                       int_chan_case_recv_ok(NULL, &v, &ok), goro_case_default()),
           3);
    EXPECT(ok, true);

    EXPECT_NULL(goro_make(int_chan, SIZE_MAX), EINVAL); /* sizeof(int) * cap overflows */
    EXPECT_NULL(goro_make(int_chan, SIZE_MAX / 2), EINVAL);
    EXPECT_NULL(goro_make(int_chan, (size_t)1 << 48), ENOMEM);

    /* A closed typed channel: EPIPE, a zero-filled element, recv_ok false. */
    int_chan *c = goro_make(int_chan, 1);
    gt_check(c != NULL, "goro_make(int_chan, 1): errno %d", gt_errno());
    if (!c)
        return;
    EXPECT(int_chan_send(c, 3), 0);
    EXPECT(int_chan_close(c), 0);
    EXPECT(int_chan_close(c), EPIPE);
    EXPECT(int_chan_send(c, 4), EPIPE);
    EXPECT(int_chan_try_send(c, 4), EPIPE);
    EXPECT(int_chan_recv_ok(c, &v), true); /* buffered elements survive close */
    EXPECT(v, 3);
    EXPECT(int_chan_recv_ok(c, &v), false);
    EXPECT(v, 0);
    v = 7;
    EXPECT(int_chan_recv(c, &v), EPIPE);
    EXPECT(v, 0);
    EXPECT(int_chan_try_recv(c, NULL), EPIPE);
    EXPECT(GORO_SELECT(int_chan_case_send(c, &v)), -EPIPE);
    EXPECT(GORO_SELECT(int_chan_case_send(c, NULL)), -EINVAL); /* NULL elem, size 4 */
    int_chan_release(c);
}

Test(badinput, typed_null_and_closed, .timeout = GT_TIMEOUT(10))
{
    both(typed_body);
}

/* ---- timers and tickers ----------------------------------------------------------- */

/* Receives the fire time from t's channel; checks it is not in the future. */
static void expect_fired(goro_chan *c, const char *what)
{
    int64_t when = 0;
    int e = goro_chan_recv(c, &when);
    gt_check(e == 0 && when > 0 && when <= goro_now(), "%s: recv %d, fire time %lld", what, e,
             (long long)when);
}

static void timer_body(void)
{
    EXPECT(goro_timer_stop(NULL), false);
    EXPECT(goro_timer_reset(NULL, GORO_SECOND), false);
    EXPECT(goro_timer_reset(NULL, 0), false);
    EXPECT_PTR(goro_timer_chan(NULL), NULL);
    goro_timer_free(NULL);

    /* ns <= 0 fires at once. */
    for (size_t i = 0; i < NELEM(nonpositive); i++) {
        goro_timer *t = goro_timer_make(nonpositive[i]);
        gt_check(t != NULL, "goro_timer_make(%lld): errno %d", (long long)nonpositive[i],
                 gt_errno());
        if (!t)
            continue;
        expect_fired(goro_timer_chan(t), "goro_timer_make(<= 0)");
        EXPECT(goro_timer_stop(t), false); /* fired and received */
        goro_timer_free(t);
    }

    /* The largest ns does not overflow into "now". */
    goro_timer *t = goro_timer_make(INT64_MAX);
    gt_check(t != NULL, "goro_timer_make(INT64_MAX): errno %d", gt_errno());
    if (!t)
        return;
    gt_settle();
    EXPECT(goro_chan_try_recv(goro_timer_chan(t), NULL), EAGAIN);
    EXPECT(goro_timer_stop(t), true);
    EXPECT(goro_timer_stop(t), false); /* already stopped */
    for (size_t i = 0; i < NELEM(nonpositive); i++) {
        EXPECT(goro_timer_reset(t, nonpositive[i]), false);
        expect_fired(goro_timer_chan(t), "goro_timer_reset(<= 0)");
    }
    EXPECT(goro_timer_reset(t, INT64_MAX), false);
    gt_settle();
    EXPECT(goro_chan_try_recv(goro_timer_chan(t), NULL), EAGAIN);
    EXPECT(goro_timer_reset(t, INT64_MAX - 1), true);

    /* A reference taken on the channel keeps it valid after the free. */
    goro_chan *c = goro_chan_retain(goro_timer_chan(t));
    goro_timer_free(t);
    EXPECT(goro_chan_try_recv(c, NULL), EAGAIN);
    goro_chan_release(c);
}

Test(badinput, timer_bad_args, .timeout = GT_TIMEOUT(10))
{
    both(timer_body);
}

static void ticker_body(void)
{
    for (size_t i = 0; i < NELEM(nonpositive); i++)
        EXPECT_NULL(goro_ticker_make(nonpositive[i]), EINVAL);
    EXPECT(goro_ticker_stop(NULL), false);
    EXPECT(goro_ticker_reset(NULL, GORO_SECOND), false);
    EXPECT(goro_ticker_reset(NULL, 0), false);
    EXPECT_PTR(goro_ticker_chan(NULL), NULL);
    goro_ticker_free(NULL);

    goro_ticker *t = goro_ticker_make(INT64_MAX);
    gt_check(t != NULL, "goro_ticker_make(INT64_MAX): errno %d", gt_errno());
    if (!t)
        return;
    gt_settle();
    EXPECT(goro_chan_try_recv(goro_ticker_chan(t), NULL), EAGAIN);
    /* ns <= 0: false, and nothing changes: it is still running. */
    for (size_t i = 0; i < NELEM(nonpositive); i++)
        EXPECT(goro_ticker_reset(t, nonpositive[i]), false);
    EXPECT(goro_ticker_stop(t), true);
    EXPECT(goro_ticker_stop(t), false);
    /* ... and when stopped, it stays stopped. */
    EXPECT(goro_ticker_reset(t, -1), false);
    EXPECT(goro_ticker_stop(t), false);
    EXPECT(goro_ticker_reset(t, INT64_MAX), false);
    EXPECT(goro_ticker_stop(t), true);
    goro_ticker_free(t);
}

Test(badinput, ticker_bad_args, .timeout = GT_TIMEOUT(10))
{
    both(ticker_body);
}

/* A function that must never run (its argument may be gone by then). */
static _Atomic long never_count;

static void count_never(void *arg)
{
    (void)arg;
    atomic_fetch_add(&never_count, 1);
}

static void count_call(void *arg)
{
    atomic_fetch_add((_Atomic long *)arg, 1);
}

/* goro_after_func: a NULL fn is refused whatever ns is; ns <= 0 starts fn
 * at once; the largest ns does not overflow into "now"; the timer has no
 * channel, and stop/reset answer as the header says. */
static void after_func_body(void)
{
    static const int64_t any_ns[] = {0, -1, INT64_MIN, GORO_SECOND, INT64_MAX};
    _Atomic long calls = 0;
    long before_never = atomic_load(&never_count);

    for (size_t i = 0; i < NELEM(any_ns); i++) {
        EXPECT_NULL(goro_after_func(any_ns[i], (void (*)(void *))NULL, NULL), EINVAL);
        EXPECT_NULL(goro_after_func(any_ns[i], (void (*)(void *))NULL, &calls), EINVAL);
    }

    for (size_t i = 0; i < NELEM(nonpositive); i++) {
        long want = atomic_load(&calls) + 1;
        goro_timer *t = goro_after_func(nonpositive[i], count_call, &calls);
        gt_check(t != NULL, "goro_after_func(%lld): errno %d", (long long)nonpositive[i],
                 gt_errno());
        if (!t)
            continue;
        EXPECT_PTR(goro_timer_chan(t), NULL);
        gt_check(gt_wait_count(&calls, want, gt_ms(5000)), "goro_after_func(%lld): fn not run",
                 (long long)nonpositive[i]);
        EXPECT(goro_timer_stop(t), false); /* fn was started */
        goro_timer_free(t);
    }

    goro_timer *t = goro_after_func(INT64_MAX, count_never, NULL);
    gt_check(t != NULL, "goro_after_func(INT64_MAX): errno %d", gt_errno());
    if (!t)
        return;
    EXPECT_PTR(goro_timer_chan(t), NULL);
    EXPECT(goro_timer_reset(t, INT64_MAX - 1), true); /* not started yet */
    EXPECT(goro_timer_stop(t), true);
    EXPECT(goro_timer_stop(t), false); /* already stopped */
    EXPECT(goro_timer_reset(t, INT64_MAX), false);
    goro_timer_free(t); /* stops it: fn never runs */

    /* A func timer reset to <= 0 after a stop starts fn at once. */
    t = goro_after_func(INT64_MAX, count_call, &calls);
    gt_check(t != NULL, "goro_after_func(INT64_MAX): errno %d", gt_errno());
    if (!t)
        return;
    EXPECT(goro_timer_stop(t), true);
    long want = atomic_load(&calls) + 1;
    EXPECT(goro_timer_reset(t, -1), false);
    gt_check(gt_wait_count(&calls, want, gt_ms(5000)), "goro_timer_reset(-1): fn not run");
    goro_timer_free(t);

    gt_settle();
    EXPECT(atomic_load(&never_count), before_never);
}

Test(badinput, after_func_bad_args, .timeout = GT_TIMEOUT(10))
{
    both(after_func_body);
}

/* ---- context ------------------------------------------------------------------- */

static int key_a, key_b;

/* NULL is the background context everywhere; background ignores cancel,
 * retain and release. */
static void ctx_null_body(void)
{
    goro_ctx *bg = goro_ctx_background();
    int64_t when = 12345;

    gt_check(bg != NULL, "goro_ctx_background() is NULL");
    goro_ctx_cancel(NULL);
    goro_ctx_release(NULL);
    EXPECT_PTR(goro_ctx_retain(NULL), NULL);
    EXPECT_PTR(goro_ctx_done(NULL), NULL);
    EXPECT(goro_ctx_err(NULL), 0);
    EXPECT(goro_ctx_deadline(NULL, &when), false);
    EXPECT(goro_ctx_deadline(NULL, NULL), false);
    EXPECT(when, 12345); /* untouched */
    EXPECT_PTR(goro_ctx_value(NULL, &key_a), NULL);
    EXPECT_PTR(goro_ctx_value(NULL, NULL), NULL);

    EXPECT_PTR(goro_ctx_retain(bg), bg);
    goro_ctx_release(bg);
    goro_ctx_release(bg);
    goro_ctx_cancel(bg);
    EXPECT(goro_ctx_err(bg), 0);
    EXPECT_PTR(goro_ctx_done(bg), NULL);
    EXPECT(goro_ctx_deadline(bg, &when), false);

    goro_ctx *c = goro_ctx_with_cancel(NULL);
    gt_check(c != NULL, "goro_ctx_with_cancel(NULL): errno %d", gt_errno());
    EXPECT(goro_ctx_err(c), 0);
    EXPECT(goro_ctx_done(c) != NULL, true);
    EXPECT(goro_ctx_deadline(c, NULL), false);
    EXPECT_PTR(goro_ctx_value(c, NULL), NULL);
    goro_ctx_release(c);
}

Test(badinput, ctx_null, .timeout = GT_TIMEOUT(10))
{
    both(ctx_null_body);
}

/* Asserts c has ended with err, its done channel closed. */
static void expect_ended(goro_ctx *c, int err, const char *what)
{
    gt_check(c != NULL, "%s: NULL, errno %d", what, gt_errno());
    if (!c)
        return;
    int e = goro_ctx_err(c);
    int d = goro_chan_try_recv(goro_ctx_done(c), NULL);
    gt_check(e == err && d == EPIPE, "%s: err %d, done %d; want err %d, done EPIPE", what, e, d,
             err);
}

static void ctx_durations_body(void)
{
    int64_t when;

    for (size_t i = 0; i < NELEM(nonpositive); i++) {
        goro_ctx *c = goro_ctx_with_timeout(NULL, nonpositive[i]);
        expect_ended(c, ETIMEDOUT, "goro_ctx_with_timeout(<= 0)");
        goro_ctx_release(c);
        c = goro_ctx_with_deadline(NULL, nonpositive[i]);
        expect_ended(c, ETIMEDOUT, "goro_ctx_with_deadline(<= 0)");
        when = 1;
        EXPECT(goro_ctx_deadline(c, &when), true);
        EXPECT(when, nonpositive[i]);
        goro_ctx_release(c);
    }
    goro_ctx *c = goro_ctx_with_deadline(NULL, goro_now() - 1);
    expect_ended(c, ETIMEDOUT, "goro_ctx_with_deadline(past)");
    goro_ctx_release(c);

    /* The largest durations do not overflow into the past. */
    c = goro_ctx_with_timeout(NULL, INT64_MAX);
    gt_check(c != NULL, "goro_ctx_with_timeout(INT64_MAX)");
    EXPECT(goro_ctx_err(c), 0);
    EXPECT(goro_ctx_deadline(c, &when), true);
    EXPECT(when, INT64_MAX);
    EXPECT(goro_ctx_deadline(c, NULL), true);
    goro_ctx_release(c);
    c = goro_ctx_with_deadline(NULL, INT64_MAX);
    gt_check(c != NULL, "goro_ctx_with_deadline(INT64_MAX)");
    EXPECT(goro_ctx_err(c), 0);
    EXPECT(goro_chan_try_recv(goro_ctx_done(c), NULL), EAGAIN);
    goro_ctx_release(c);
}

Test(badinput, ctx_durations, .timeout = GT_TIMEOUT(10))
{
    both(ctx_durations_body);
}

static void ctx_value_body(void)
{
    int v = 1;
    EXPECT_NULL(goro_ctx_with_value(NULL, NULL, &v), EINVAL);
    EXPECT_NULL(goro_ctx_with_value(goro_ctx_background(), NULL, NULL), EINVAL);
    goro_ctx *c = goro_ctx_with_value(NULL, &key_a, &v);
    gt_check(c != NULL, "goro_ctx_with_value(NULL, &key, &v)");
    EXPECT_PTR(goro_ctx_value(c, &key_a), &v);
    EXPECT_PTR(goro_ctx_value(c, &key_b), NULL);
    EXPECT_PTR(goro_ctx_value(c, NULL), NULL);
    EXPECT_NULL(goro_ctx_with_value(c, NULL, &v), EINVAL);
    goro_ctx_release(c);
}

Test(badinput, ctx_value_bad, .timeout = GT_TIMEOUT(10))
{
    both(ctx_value_body);
}

static void ctx_signals_body(void)
{
    static const int bad[] = {SIGKILL, SIGSTOP, -1, INT_MIN, 64, 65, 1000, INT_MAX};
    void (*before)(int) = gt_handler_of(SIGUSR2);

    EXPECT_NULL(goro_ctx_with_signals(NULL, 0), EINVAL);
    EXPECT_NULL(goro_ctx_with_signals(goro_ctx_background(), 0), EINVAL);
    for (size_t i = 0; i < NELEM(bad); i++) {
        EXPECT_NULL(goro_ctx_with_signals(NULL, bad[i], 0), EINVAL);
        EXPECT_NULL(goro_ctx_with_signals(NULL, SIGUSR2, bad[i], 0), EINVAL);
    }
#ifdef __SIGRTMIN
    /* Numbers from the kernel's first real-time signal up to the C
     * library's SIGRTMIN are the library's own (glibc: 32 and 33). */
    for (int s = __SIGRTMIN; s < SIGRTMIN; s++) {
        EXPECT_NULL(goro_ctx_with_signals(NULL, s, 0), EINVAL);
        EXPECT_NULL(goro_ctx_with_signals(NULL, SIGUSR2, s, 0), EINVAL);
        EXPECT_NULL(goro_ctx_with_signals(NULL, s, SIGUSR2, 0), EINVAL);
    }
#endif
    gt_check(gt_handler_of(SIGUSR2) == before, "a refused call changed SIGUSR2's disposition");
}

Test(badinput, ctx_signals_bad, .timeout = GT_TIMEOUT(10))
{
    both(ctx_signals_body);
}

/* Cancel is idempotent and does not overwrite how a context ended; a child
 * of an ended context starts ended. */
static void ctx_ended_body(void)
{
    goro_ctx *c = goro_ctx_with_cancel(NULL);
    goro_ctx_cancel(c);
    goro_ctx_cancel(c);
    expect_ended(c, ECANCELED, "canceled twice");
    goro_ctx *child = goro_ctx_with_cancel(c);
    expect_ended(child, ECANCELED, "child of a canceled context");
    goro_ctx *vchild = goro_ctx_with_value(c, &key_a, NULL);
    EXPECT(goro_ctx_err(vchild), ECANCELED);
    goro_ctx *tchild = goro_ctx_with_timeout(c, GORO_SECOND);
    expect_ended(tchild, ECANCELED, "timeout child of a canceled context");
    goro_ctx_release(tchild);
    goro_ctx_release(vchild);
    goro_ctx_release(child);
    goro_ctx_release(c);

    c = goro_ctx_with_timeout(NULL, -1);
    goro_ctx_cancel(c);
    expect_ended(c, ETIMEDOUT, "timed out, then canceled");
    goro_ctx_release(c);
}

Test(badinput, ctx_ended_stays_ended, .timeout = GT_TIMEOUT(10))
{
    both(ctx_ended_body);
}

/* goro_ctx_cancel_cause: EINVAL for NULL, contexts with no cancel of their
 * own, and negative causes (which leave the context live); on an ended
 * context it changes nothing.  goro_ctx_cause: 0 for NULL, background,
 * live and without-cancel contexts. */
static void ctx_cause_body(void)
{
    static const int negative[] = {-1, -EIO, INT_MIN};
    int v = 1;

    EXPECT(goro_ctx_cause(NULL), 0);
    EXPECT(goro_ctx_cause(goro_ctx_background()), 0);
    EXPECT(goro_ctx_cancel_cause(NULL, EIO), EINVAL);
    EXPECT(goro_ctx_cancel_cause(NULL, 0), EINVAL);
    EXPECT(goro_ctx_cancel_cause(goro_ctx_background(), EIO), EINVAL);
    EXPECT(goro_ctx_err(goro_ctx_background()), 0);

    goro_ctx *c = goro_ctx_with_cancel_cause(NULL);
    gt_check(c != NULL, "goro_ctx_with_cancel_cause(NULL): errno %d", gt_errno());
    if (!c)
        return;
    goro_ctx *val = goro_ctx_with_value(c, &key_a, &v);
    goro_ctx *wo = goro_ctx_without_cancel(c);
    gt_check(val && wo, "value or without-cancel child: errno %d", gt_errno());
    if (!val || !wo)
        return;
    EXPECT(goro_ctx_cause(c), 0);
    for (size_t i = 0; i < NELEM(negative); i++)
        EXPECT(goro_ctx_cancel_cause(c, negative[i]), EINVAL);
    EXPECT(goro_ctx_cancel_cause(val, EIO), EINVAL);
    EXPECT(goro_ctx_cancel_cause(wo, EIO), EINVAL);
    EXPECT(goro_ctx_err(c), 0); /* none of those canceled anything */
    EXPECT(goro_chan_try_recv(goro_ctx_done(c), NULL), EAGAIN);
    EXPECT(goro_ctx_cause(c), 0);

    EXPECT(goro_ctx_cancel_cause(c, EIO), 0);
    expect_ended(c, ECANCELED, "goro_ctx_cancel_cause(EIO)");
    EXPECT(goro_ctx_cause(c), EIO);
    EXPECT(goro_ctx_err(val), ECANCELED);
    EXPECT(goro_ctx_cause(val), EIO); /* inherited through the value context */
    /* Ended: nothing changes, the first cause stays. */
    EXPECT(goro_ctx_cancel_cause(c, EPERM), 0);
    EXPECT(goro_ctx_cancel_cause(c, 0), 0);
    EXPECT(goro_ctx_cause(c), EIO);
    EXPECT(goro_ctx_cancel_cause(c, -1), EINVAL);
    EXPECT(goro_ctx_cause(c), EIO);
    goro_ctx_cancel(c);
    EXPECT(goro_ctx_cause(c), EIO);
    /* Without-cancel ignores its parent's end. */
    EXPECT(goro_ctx_err(wo), 0);
    EXPECT(goro_ctx_cause(wo), 0);
    goro_ctx *child = goro_ctx_with_cancel(c);
    expect_ended(child, ECANCELED, "child of a context canceled with a cause");
    EXPECT(goro_ctx_cause(child), EIO);
    goro_ctx_release(child);
    child = goro_ctx_with_cancel_cause(c);
    expect_ended(child, ECANCELED, "cancel-cause child of a context canceled with a cause");
    EXPECT(goro_ctx_cause(child), EIO);
    EXPECT(goro_ctx_cancel_cause(child, EPERM), 0); /* ended: the first cause stays */
    EXPECT(goro_ctx_cause(child), EIO);
    goro_ctx_release(child);
    goro_ctx_release(wo);
    goro_ctx_release(val);
    goro_ctx_release(c);

    /* Cause 0 records none: the cause is the err.  A cancel without a
     * cause, and a deadline, give the err as the cause too. */
    c = goro_ctx_with_cancel(NULL);
    EXPECT(goro_ctx_cancel_cause(c, 0), 0);
    expect_ended(c, ECANCELED, "goro_ctx_cancel_cause(0)");
    EXPECT(goro_ctx_cause(c), ECANCELED);
    goro_ctx_release(c);
    c = goro_ctx_with_cancel(NULL);
    goro_ctx_cancel(c);
    EXPECT(goro_ctx_cancel_cause(c, EIO), 0);
    EXPECT(goro_ctx_cause(c), ECANCELED);
    goro_ctx_release(c);
    c = goro_ctx_with_timeout(NULL, -1);
    EXPECT(goro_ctx_cancel_cause(c, EIO), 0);
    expect_ended(c, ETIMEDOUT, "timed out, then canceled with a cause");
    EXPECT(goro_ctx_cause(c), ETIMEDOUT);
    goro_ctx_release(c);

    /* Every cancelable context takes a cause: a timeout's, a group's. */
    c = goro_ctx_with_timeout(NULL, INT64_MAX);
    EXPECT(goro_ctx_cancel_cause(c, INT_MAX), 0);
    expect_ended(c, ECANCELED, "timeout context canceled with a cause");
    EXPECT(goro_ctx_cause(c), INT_MAX);
    goro_ctx_release(c);
    goro_group *g = goro_group_make(NULL);
    gt_check(g != NULL, "goro_group_make(NULL): errno %d", gt_errno());
    if (g) {
        EXPECT(goro_ctx_cancel_cause(goro_group_ctx(g), EIO), 0);
        EXPECT(goro_ctx_cause(goro_group_ctx(g)), EIO);
        EXPECT(goro_group_wait(g), 0);
        goro_group_free(g);
    }
}

Test(badinput, ctx_cause_bad, .timeout = GT_TIMEOUT(10))
{
    both(ctx_cause_body);
}

/* goro_ctx_without_cancel: of NULL, background, live and ended parents, it
 * is never canceled: no deadline, err and cause 0, done NULL; cancel and
 * release of it do not reach the parent. */
static void ctx_without_cancel_body(void)
{
    int v = 1;
    int64_t when = 12345;
    goro_ctx *ended = goro_ctx_with_timeout(NULL, -1);
    goro_ctx *dl = goro_ctx_with_deadline(NULL, INT64_MAX);
    goro_ctx *val = goro_ctx_with_value(ended, &key_a, &v);
    goro_ctx *parents[] = {NULL, goro_ctx_background(), ended, dl, val};

    gt_check(ended && dl && val, "parents: errno %d", gt_errno());
    if (!ended || !dl || !val)
        return;
    for (size_t i = 0; i < NELEM(parents); i++) {
        goro_ctx *w = goro_ctx_without_cancel(parents[i]);
        gt_check(w != NULL, "goro_ctx_without_cancel(parent %zu): errno %d", i, gt_errno());
        if (!w)
            continue;
        EXPECT(goro_ctx_err(w), 0);
        EXPECT(goro_ctx_cause(w), 0);
        EXPECT_PTR(goro_ctx_done(w), NULL);
        EXPECT(goro_ctx_deadline(w, &when), false);
        EXPECT(when, 12345);
        EXPECT_PTR(goro_ctx_value(w, &key_a), parents[i] == val ? &v : NULL);
        EXPECT_PTR(goro_ctx_value(w, NULL), NULL);
        goro_ctx_cancel(w);
        EXPECT(goro_ctx_err(w), 0);
        EXPECT(goro_ctx_cancel_cause(w, EIO), EINVAL);
        EXPECT(goro_ctx_err(w), 0);
        /* A child ends by its own cancel only. */
        goro_ctx *child = goro_ctx_with_cancel(w);
        gt_check(child != NULL, "goro_ctx_with_cancel(without-cancel): errno %d", gt_errno());
        EXPECT(goro_ctx_err(child), 0);
        EXPECT(goro_ctx_deadline(child, NULL), false);
        goro_ctx_cancel(child);
        expect_ended(child, ECANCELED, "child of a without-cancel context");
        goro_ctx_release(child);
        EXPECT_PTR(goro_ctx_retain(w), w);
        goro_ctx_release(w);
        goro_ctx_release(w);
    }
    EXPECT(goro_ctx_err(dl), 0); /* untouched by its children */
    goro_ctx_release(val);
    goro_ctx_release(dl);
    goro_ctx_release(ended);
}

Test(badinput, ctx_without_cancel_bad, .timeout = GT_TIMEOUT(10))
{
    both(ctx_without_cancel_body);
}

/* goro_ctx_after_func: a NULL fn is refused for any context (and starts
 * nothing); NULL handles are ignored; a context that cannot end never
 * starts fn; an ended one starts it at once; stop answers once. */
static void ctx_after_func_body(void)
{
    _Atomic long calls = 0;
    long before_never = atomic_load(&never_count);
    goro_ctx *live = goro_ctx_with_cancel(NULL);
    goro_ctx *ended = goro_ctx_with_timeout(NULL, -1);
    goro_ctx *wo = goro_ctx_without_cancel(live);
    gt_check(live && ended && wo, "contexts: errno %d", gt_errno());
    if (!live || !ended || !wo)
        return;
    goro_ctx *any[] = {NULL, goro_ctx_background(), live, ended, wo};

    EXPECT(goro_ctx_after_func_stop(NULL), false);
    goro_ctx_after_func_free(NULL);
    for (size_t i = 0; i < NELEM(any); i++)
        EXPECT_NULL(goro_ctx_after_func(any[i], (void (*)(void *))NULL, NULL), EINVAL);

    /* Contexts that cannot end: fn never starts, not even when the handle
     * is freed without a stop, or the without-cancel's parent ends. */
    goro_ctx *never_end[] = {NULL, goro_ctx_background(), wo};
    for (size_t i = 0; i < NELEM(never_end); i++) {
        goro_ctx_stop *h = goro_ctx_after_func(never_end[i], count_never, NULL);
        gt_check(h != NULL, "goro_ctx_after_func(never ends %zu): errno %d", i, gt_errno());
        goro_ctx_after_func_free(h);
    }
    goro_ctx_cancel(live); /* wo's parent ends; wo does not */
    /* A stop still prevents the call, once (Go: stop of an AfterFunc on
     * context.Background() returns true). */
    for (size_t i = 0; i < NELEM(never_end); i++) {
        goro_ctx_stop *h = goro_ctx_after_func(never_end[i], count_never, NULL);
        gt_check(h != NULL, "goro_ctx_after_func(never ends %zu): errno %d", i, gt_errno());
        EXPECT(goro_ctx_after_func_stop(h), true);
        EXPECT(goro_ctx_after_func_stop(h), false);
        goro_ctx_after_func_free(h);
    }

    /* Ended: started at once; stop then says it was too late, twice. */
    goro_ctx_stop *h = goro_ctx_after_func(ended, count_call, &calls);
    gt_check(h != NULL, "goro_ctx_after_func(ended): errno %d", gt_errno());
    gt_check(gt_wait_count(&calls, 1, gt_ms(5000)), "ended context: fn not run");
    EXPECT(goro_ctx_after_func_stop(h), false);
    EXPECT(goro_ctx_after_func_stop(h), false);
    goro_ctx_after_func_free(h);

    /* Live: the first stop prevents fn, the second is false; the context
     * ending afterwards starts nothing. */
    goro_ctx_release(live);
    live = goro_ctx_with_cancel(NULL);
    gt_check(live != NULL, "goro_ctx_with_cancel(NULL): errno %d", gt_errno());
    if (!live)
        return;
    h = goro_ctx_after_func(live, count_never, NULL);
    gt_check(h != NULL, "goro_ctx_after_func(live): errno %d", gt_errno());
    EXPECT(goro_ctx_after_func_stop(h), true);
    EXPECT(goro_ctx_after_func_stop(h), false);
    goro_ctx_after_func_free(h);

    /* Freed without a stop: fn is still started when the context ends. */
    h = goro_ctx_after_func(live, count_call, &calls);
    gt_check(h != NULL, "goro_ctx_after_func(live): errno %d", gt_errno());
    goro_ctx_after_func_free(h);
    goro_ctx_cancel(live);
    gt_check(gt_wait_count(&calls, 2, gt_ms(5000)), "freed handle: fn not run at cancel");

    goro_ctx_release(wo);
    goro_ctx_release(ended);
    goro_ctx_release(live);
    gt_settle();
    EXPECT(atomic_load(&calls), 2);
    EXPECT(atomic_load(&never_count), before_never);
}

Test(badinput, ctx_after_func_bad_args, .timeout = GT_TIMEOUT(10))
{
    both(ctx_after_func_body);
}

/* ---- sync ----------------------------------------------------------------------- */

static void mutex_body(void)
{
    goro_mutex m = GORO_MUTEX_INIT;
    EXPECT(goro_mutex_trylock(&m), 0);
    EXPECT(goro_mutex_trylock(&m), EBUSY);
    goro_mutex_unlock(&m);
    EXPECT(goro_mutex_trylock(&m), 0);
    goro_mutex_unlock(&m);
}

Test(badinput, mutex_trylock_locked, .timeout = GT_TIMEOUT(10))
{
    both(mutex_body);
}

/* The header's fatal errors (Go panics): each aborts the process. */
Test(badinput, mutex_unlock_unlocked_aborts, .signal = SIGABRT, .timeout = GT_TIMEOUT(10))
{
    goro_mutex m = GORO_MUTEX_INIT;
    goro_mutex_unlock(&m);
}

Test(badinput, rwmutex_runlock_unlocked_aborts, .signal = SIGABRT, .timeout = GT_TIMEOUT(10))
{
    goro_rwmutex rw = GORO_RWMUTEX_INIT;
    goro_rwmutex_runlock(&rw);
}

Test(badinput, rwmutex_runlock_write_locked_aborts, .signal = SIGABRT,
     .timeout = GT_TIMEOUT(10))
{
    goro_rwmutex rw = GORO_RWMUTEX_INIT;
    goro_rwmutex_lock(&rw);
    goro_rwmutex_runlock(&rw);
}

Test(badinput, rwmutex_unlock_unlocked_aborts, .signal = SIGABRT, .timeout = GT_TIMEOUT(10))
{
    goro_rwmutex rw = GORO_RWMUTEX_INIT;
    goro_rwmutex_unlock(&rw);
}

Test(badinput, rwmutex_unlock_read_locked_aborts, .signal = SIGABRT,
     .timeout = GT_TIMEOUT(10))
{
    goro_rwmutex rw = GORO_RWMUTEX_INIT;
    goro_rwmutex_rlock(&rw);
    goro_rwmutex_unlock(&rw);
}

Test(badinput, cond_wait_unlocked_mutex_aborts, .signal = SIGABRT, .timeout = GT_TIMEOUT(10))
{
    goro_cond c = GORO_COND_INIT;
    goro_mutex m = GORO_MUTEX_INIT;
    goro_cond_wait(&c, &m);
}

static void waitgroup_body(void)
{
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    EXPECT(goro_waitgroup_done(&wg), EINVAL);
    EXPECT(goro_waitgroup_add(&wg, -1), EINVAL);
    EXPECT(goro_waitgroup_add(&wg, INT_MIN), EINVAL);
    EXPECT(goro_waitgroup_add(&wg, 0), 0);
    goro_waitgroup_wait(&wg); /* still zero: returns at once */
    EXPECT(goro_waitgroup_add(&wg, INT_MAX), 0);
    EXPECT(goro_waitgroup_add(&wg, 1), EINVAL);      /* past INT_MAX */
    EXPECT(goro_waitgroup_add(&wg, INT_MAX), EINVAL);
    EXPECT(goro_waitgroup_add(&wg, INT_MIN), EINVAL); /* below zero */
    EXPECT(goro_waitgroup_add(&wg, -INT_MAX), 0);    /* left as it was: INT_MAX */
    goro_waitgroup_wait(&wg);
    EXPECT(goro_waitgroup_done(&wg), EINVAL);
}

Test(badinput, waitgroup_bad_counts, .timeout = GT_TIMEOUT(10))
{
    both(waitgroup_body);
}

static void sema_body(void)
{
    goro_sema s = GORO_SEMA_INIT(3);
    static const int64_t negative[] = {-1, INT64_MIN};

    for (size_t i = 0; i < NELEM(negative); i++) {
        EXPECT(goro_sema_acquire(&s, negative[i]), EINVAL);
        EXPECT(goro_sema_try_acquire(&s, negative[i]), EINVAL);
        EXPECT(goro_sema_release(&s, negative[i]), EINVAL);
    }
    EXPECT(goro_sema_acquire(&s, 4), EINVAL); /* more than the size: never */
    EXPECT(goro_sema_acquire(&s, INT64_MAX), EINVAL);
    EXPECT(goro_sema_try_acquire(&s, 4), EAGAIN);
    EXPECT(goro_sema_try_acquire(&s, INT64_MAX), EAGAIN);
    EXPECT(goro_sema_release(&s, 1), EINVAL); /* nothing held */
    EXPECT(goro_sema_release(&s, INT64_MAX), EINVAL);
    EXPECT(goro_sema_acquire(&s, 0), 0);
    EXPECT(goro_sema_try_acquire(&s, 0), 0);
    EXPECT(goro_sema_release(&s, 0), 0);
    EXPECT(goro_sema_acquire(&s, 3), 0);
    EXPECT(goro_sema_try_acquire(&s, 1), EAGAIN);
    EXPECT(goro_sema_release(&s, 4), EINVAL); /* 3 held */
    EXPECT(goro_sema_release(&s, 3), 0);
    EXPECT(goro_sema_try_acquire(&s, 3), 0); /* the refused calls changed nothing */
    EXPECT(goro_sema_release(&s, 3), 0);

    goro_sema empty = GORO_SEMA_INIT(0);
    EXPECT(goro_sema_acquire(&empty, 1), EINVAL);
    EXPECT(goro_sema_try_acquire(&empty, 1), EAGAIN);
    EXPECT(goro_sema_acquire(&empty, 0), 0);
    EXPECT(goro_sema_release(&empty, 1), EINVAL);
}

Test(badinput, sema_bad_counts, .timeout = GT_TIMEOUT(10))
{
    both(sema_body);
}

/* Signal and broadcast with nobody waiting are no-ops; a waiter that comes
 * later is woken as usual. */
struct cond_case {
    goro_cond c;
    goro_mutex m;
    bool ready;
    goro_waitgroup wg;
};

static void cond_waiter(void *arg)
{
    struct cond_case *k = arg;
    goro_mutex_lock(&k->m);
    while (!k->ready)
        goro_cond_wait(&k->c, &k->m);
    goro_mutex_unlock(&k->m);
    goro_waitgroup_done(&k->wg);
}

static void cond_body(void)
{
    struct cond_case k = {GORO_COND_INIT, GORO_MUTEX_INIT, false, GORO_WAITGROUP_INIT};
    goro_cond_signal(&k.c);
    goro_cond_broadcast(&k.c);
    goro_waitgroup_add(&k.wg, 1);
    spawn(cond_waiter, &k);
    gt_settle();
    goro_mutex_lock(&k.m);
    k.ready = true;
    goro_cond_broadcast(&k.c);
    goro_mutex_unlock(&k.m);
    goro_waitgroup_wait(&k.wg);
}

Test(badinput, cond_no_waiters, .timeout = GT_TIMEOUT(10))
{
    both(cond_body);
}

/* ---- groups --------------------------------------------------------------------- */

struct gate {
    goro_chan *open;
    _Atomic long running;
};

static int gated_task(goro_ctx *ctx, void *arg)
{
    struct gate *g = arg;
    (void)ctx;
    atomic_fetch_add(&g->running, 1);
    goro_chan_recv(g->open, NULL);
    return 0;
}

static int fail_task(goro_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    return EIO;
}

static void group_body(void)
{
    EXPECT_PTR(goro_group_ctx(NULL), NULL);
    goro_group_set_limit(NULL, 1);
    EXPECT(goro_group_go(NULL, fail_task, NULL), EINVAL);
    EXPECT(goro_group_wait(NULL), EINVAL);
    goro_group_free(NULL);

    goro_group *g = goro_group_make(NULL);
    gt_check(g != NULL, "goro_group_make(NULL): errno %d", gt_errno());
    if (!g)
        return;
    EXPECT(goro_group_go(g, (int (*)(goro_ctx *, void *))NULL, NULL), EINVAL);
    EXPECT(goro_group_ctx(g) != NULL, true);
    EXPECT(goro_group_wait(g), 0); /* nothing started */
    goro_group_free(g);

    /* A limit <= 0 is no limit: three tasks run at once (with a limit in
     * force, the second goro_group_go would wait forever). */
    static const int no_limit[] = {0, -1, INT_MIN};
    for (size_t i = 0; i < NELEM(no_limit); i++) {
        struct gate gate = {.open = mkchan(0, 0)};
        g = goro_group_make(NULL);
        gt_check(g != NULL, "goro_group_make");
        if (!g || !gate.open)
            return;
        goro_group_set_limit(g, no_limit[i]);
        for (int t = 0; t < 3; t++)
            EXPECT(goro_group_go(g, gated_task, &gate), 0);
        gt_check(gt_wait_count(&gate.running, 3, gt_ms(5000)), "limit %d: %ld tasks running",
                 no_limit[i], atomic_load(&gate.running));
        goro_chan_close(gate.open);
        EXPECT(goro_group_wait(g), 0);
        goro_group_free(g);
        goro_chan_release(gate.open);
    }

    /* A group of an ended parent starts canceled; its tasks still run. */
    goro_ctx *parent = goro_ctx_with_cancel(NULL);
    goro_ctx_cancel(parent);
    g = goro_group_make(parent);
    gt_check(g != NULL, "goro_group_make(canceled)");
    if (g) {
        EXPECT(goro_ctx_err(goro_group_ctx(g)), ECANCELED);
        EXPECT(goro_group_go(g, fail_task, NULL), 0);
        EXPECT(goro_group_wait(g), EIO);
        goro_group_free(g);
    }
    goro_ctx_release(parent);
}

Test(badinput, group_bad_args, .timeout = GT_TIMEOUT(20))
{
    both(group_body);
}

/* The _at functions behind the constructor macros: a NULL file (no site)
 * and any line are accepted, and bad arguments get the same answer as
 * through the macros. */
static void at_forms_body(void)
{
    int v = 1;

    EXPECT_NULL(goro_chan_make_at(SIZE_MAX, 2, NULL, 0), EINVAL);
    EXPECT_NULL(goro_chan_make_at(1, (size_t)1 << 48, NULL, -1), ENOMEM);
    EXPECT_NULL(goro_ticker_make_at(0, NULL, 0), EINVAL);
    EXPECT_NULL(goro_ticker_make_at(INT64_MIN, "f.c", INT_MIN), EINVAL);
    EXPECT_NULL(goro_ctx_with_value_at(NULL, NULL, &v, NULL, 0), EINVAL);
    EXPECT_NULL(goro_ctx_with_signals_at(NULL, 0, NULL, 0), EINVAL);
    EXPECT_NULL(goro_ctx_with_signals_at(NULL, 0, NULL, SIGKILL, 0), EINVAL);

    goro_chan *c = goro_chan_make_at(sizeof(int), 1, NULL, 0);
    gt_check(c != NULL, "goro_chan_make_at(NULL file): errno %d", gt_errno());
    EXPECT(goro_chan_send(c, &v), 0);
    EXPECT(goro_chan_cap(c), 1);
    goro_chan_release(c);
    c = goro_chan_make_at(0, 0, NULL, INT_MIN);
    gt_check(c != NULL, "goro_chan_make_at(0, 0, NULL, INT_MIN): errno %d", gt_errno());
    goro_chan_release(c);

    goro_timer *t = goro_timer_make_at(-1, NULL, 0);
    gt_check(t != NULL, "goro_timer_make_at(-1, NULL): errno %d", gt_errno());
    if (t) {
        expect_fired(goro_timer_chan(t), "goro_timer_make_at(-1)");
        goro_timer_free(t);
    }
    t = goro_timer_make_at(INT64_MAX, NULL, -1);
    gt_check(t != NULL, "goro_timer_make_at(INT64_MAX, NULL): errno %d", gt_errno());
    if (t) {
        EXPECT(goro_timer_stop(t), true);
        goro_timer_free(t);
    }
    goro_ticker *tk = goro_ticker_make_at(INT64_MAX, NULL, 0);
    gt_check(tk != NULL, "goro_ticker_make_at(INT64_MAX, NULL): errno %d", gt_errno());
    if (tk) {
        EXPECT(goro_ticker_stop(tk), true);
        goro_ticker_free(tk);
    }

    goro_ctx *cc = goro_ctx_with_cancel_at(NULL, NULL, 0);
    gt_check(cc != NULL, "goro_ctx_with_cancel_at(NULL, NULL): errno %d", gt_errno());
    EXPECT(goro_ctx_err(cc), 0);
    goro_ctx *to = goro_ctx_with_timeout_at(cc, INT64_MIN, NULL, 0);
    expect_ended(to, ETIMEDOUT, "goro_ctx_with_timeout_at(INT64_MIN, NULL file)");
    goro_ctx *dl = goro_ctx_with_deadline_at(cc, -1, NULL, 0);
    expect_ended(dl, ETIMEDOUT, "goro_ctx_with_deadline_at(-1, NULL file)");
    goro_ctx *val = goro_ctx_with_value_at(cc, &key_b, &v, NULL, 0);
    gt_check(val != NULL, "goro_ctx_with_value_at(NULL file): errno %d", gt_errno());
    EXPECT_PTR(goro_ctx_value(val, &key_b), &v);
    goro_ctx_release(val);
    goro_ctx_release(dl);
    goro_ctx_release(to);
    goro_ctx_release(cc);

    goro_group *g = goro_group_make_at(NULL, NULL, 0);
    gt_check(g != NULL, "goro_group_make_at(NULL, NULL): errno %d", gt_errno());
    if (g) {
        EXPECT(goro_ctx_err(goro_group_ctx(g)), 0);
        EXPECT(goro_group_wait(g), 0);
        goro_group_free(g);
    }
}

Test(badinput, at_forms_null_site, .timeout = GT_TIMEOUT(10))
{
    both(at_forms_body);
}

/* goro_group_go_at: EINVAL for a NULL group or fn, whatever the site; NULL
 * site strings are fine. */
static void group_go_at_body(void)
{
    EXPECT(goro_group_go_at(NULL, fail_task, NULL, "fail_task", "f.c", 1, "f"), EINVAL);
    EXPECT(goro_group_go_at(NULL, NULL, NULL, NULL, NULL, 0, NULL), EINVAL);
    goro_group *g = goro_group_make(NULL);
    gt_check(g != NULL, "goro_group_make(NULL): errno %d", gt_errno());
    if (!g)
        return;
    EXPECT(goro_group_go_at(g, NULL, NULL, "entry", "f.c", 1, "f"), EINVAL);
    EXPECT(goro_group_go_at(g, NULL, NULL, NULL, NULL, 0, NULL), EINVAL);
    EXPECT(goro_group_wait(g), 0); /* nothing was started */
    goro_group_free(g);

    g = goro_group_make(NULL);
    gt_check(g != NULL, "goro_group_make(NULL): errno %d", gt_errno());
    if (!g)
        return;
    EXPECT(goro_group_go_at(g, fail_task, NULL, NULL, NULL, INT_MIN, NULL), 0);
    EXPECT(goro_group_wait(g), EIO);
    goro_group_free(g);
}

Test(badinput, group_go_at_bad_args, .timeout = GT_TIMEOUT(10))
{
    both(group_go_at_body);
}

/* ---- I/O ----------------------------------------------------------------------- */

/* A loopback address with port (network order); 0: nothing listens. */
static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = port};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

/* Every fd function on fds that cannot be open. */
static void io_bad_fds_body(void)
{
    static const int bad[] = {-1, INT_MIN, 1 << 20, INT_MAX};
    struct sockaddr_in sa = loopback(htons(1));
    const struct sockaddr *a = (const struct sockaddr *)&sa;
    char buf[4] = "abc";
    goro_ctx *bg = goro_ctx_background();

    for (size_t i = 0; i < NELEM(bad); i++) {
        int fd = bad[i];
        EXPECT_FAIL(goro_read(fd, buf, sizeof buf), EBADF);
        EXPECT_FAIL(goro_read_deadline(fd, buf, sizeof buf, -1), EBADF);
        EXPECT_FAIL(goro_read_ctx(NULL, fd, buf, sizeof buf), EBADF);
        EXPECT_FAIL(goro_write(fd, buf, sizeof buf), EBADF);
        EXPECT_FAIL(goro_write_deadline(fd, buf, sizeof buf, -1), EBADF);
        EXPECT_FAIL(goro_write_ctx(bg, fd, buf, sizeof buf), EBADF);
        EXPECT_FAIL(goro_accept(fd, NULL, NULL), EBADF);
        EXPECT_FAIL(goro_accept_deadline(fd, NULL, NULL, -1), EBADF);
        EXPECT_FAIL(goro_accept_ctx(NULL, fd, NULL, NULL), EBADF);
        EXPECT_FAIL(goro_connect(fd, a, sizeof sa), EBADF);
        EXPECT_FAIL(goro_connect_ctx(NULL, fd, a, sizeof sa), EBADF);
        EXPECT_FAIL(goro_fd_wait(fd, GORO_READ, -1), EBADF);
        EXPECT_FAIL(goro_fd_wait(fd, GORO_WRITE, 0), EBADF);
        EXPECT_FAIL(goro_close(fd), EBADF);
    }
}

Test(badinput, io_bad_fds, .timeout = GT_TIMEOUT(10))
{
    both(io_bad_fds_body);
}

struct reader {
    int fd;
    int64_t deadline;
    _Atomic long r;
    _Atomic int done;
    goro_waitgroup wg;
};

static void read_with_deadline(void *arg)
{
    struct reader *rd = arg;
    char b;
    atomic_store(&rd->r, (long)goro_read_deadline(rd->fd, &b, 1, rd->deadline));
    atomic_store(&rd->done, 1);
    goro_waitgroup_done(&rd->wg);
}

/* Fills the pipe's buffer behind fd. */
static void fill(int fd)
{
    static char chunk[4096];
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    while (write(fd, chunk, sizeof chunk) > 0)
        ;
}

static void io_bad_args_body(void)
{
    int p[2], q[2], r[2];
    char b[16] = {0};
    goro_ctx *canceled = goro_ctx_with_cancel(NULL), *expired = goro_ctx_with_timeout(NULL, -1);
    goro_ctx_cancel(canceled);

    if (!gt_check(pipe2(p, O_CLOEXEC) == 0 && pipe2(q, O_CLOEXEC) == 0 &&
                      pipe2(r, O_CLOEXEC) == 0,
                  "pipe2"))
        return;

    /* Events: empty, or bits that are not GORO_READ/GORO_WRITE. */
    static const int bad_events[] = {0, 4, -1, GORO_READ | 4, INT_MIN};
    for (size_t i = 0; i < NELEM(bad_events); i++)
        EXPECT_FAIL(goro_fd_wait(p[0], bad_events[i], -1), EINVAL);

    /* Zero bytes: done at once, even with nothing to read. */
    EXPECT(goro_read(p[0], b, 0), 0);
    EXPECT(goro_write(p[1], b, 0), 0);
    EXPECT(goro_write(p[1], NULL, 0), 0);

    /* Deadlines in the past on an empty pipe. */
    EXPECT_FAIL(goro_read_deadline(p[0], b, 1, 0), ETIMEDOUT);
    EXPECT_FAIL(goro_read_deadline(p[0], b, 1, goro_now() - 1), ETIMEDOUT);
    EXPECT_FAIL(goro_fd_wait(p[0], GORO_READ, 0), ETIMEDOUT);
    /* Ended contexts. */
    EXPECT_FAIL(goro_read_ctx(canceled, p[0], b, 1), ECANCELED);
    EXPECT_FAIL(goro_read_ctx(expired, p[0], b, 1), ETIMEDOUT);
    EXPECT_FAIL(goro_write_ctx(canceled, p[1], "x", 1), ECANCELED);
    EXPECT_FAIL(goro_write_ctx(expired, p[1], "x", 1), ETIMEDOUT);

    /* Bad buffers: the system call's EFAULT. */
    EXPECT_FAIL(goro_write(p[1], NULL, 1), EFAULT);
    EXPECT(goro_write(p[1], "xy", 2), 2);
    EXPECT_FAIL(goro_read(p[0], NULL, 1), EFAULT);
    /* Ready data is read even past the deadline, and with a NULL ctx. */
    EXPECT(goro_read_deadline(p[0], b, 1, 0), 1);
    EXPECT(goro_read_ctx(NULL, p[0], b, sizeof b), 1);
    EXPECT(goro_fd_wait(p[1], GORO_WRITE, 0), 0);

    /* A negative deadline is none: the read waits for data. */
    struct reader rd = {.fd = p[0], .deadline = -5, .wg = GORO_WAITGROUP_INIT};
    goro_waitgroup_add(&rd.wg, 1);
    spawn(read_with_deadline, &rd);
    gt_settle();
    EXPECT(atomic_load(&rd.done), 0);
    EXPECT(goro_write(p[1], "z", 1), 1);
    goro_waitgroup_wait(&rd.wg);
    EXPECT(atomic_load(&rd.r), 1);

    /* A full pipe: writes time out or see the context. */
    fill(r[1]);
    EXPECT_FAIL(goro_write_deadline(r[1], "x", 1, 0), ETIMEDOUT);
    EXPECT_FAIL(goro_write_deadline(r[1], "x", 1, goro_now() - 1), ETIMEDOUT);
    EXPECT_FAIL(goro_fd_wait(r[1], GORO_WRITE, 0), ETIMEDOUT);
    EXPECT_FAIL(goro_write_ctx(expired, r[1], "x", 1), ETIMEDOUT);

    /* A closed reader: EPIPE, and no SIGPIPE ends the process. */
    EXPECT(goro_close(q[0]), 0);
    EXPECT_FAIL(goro_write(q[1], "x", 1), EPIPE);

    /* Socket calls on a pipe; a socket that is not listening. */
    struct sockaddr_in sa = loopback(htons(1));
    EXPECT_FAIL(goro_accept(p[0], NULL, NULL), ENOTSOCK);
    EXPECT_FAIL(goro_connect(p[0], (struct sockaddr *)&sa, sizeof sa), ENOTSOCK);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gt_check(s >= 0, "socket");
    EXPECT_FAIL(goro_accept(s, NULL, NULL), EINVAL);
    EXPECT_FAIL(goro_connect(s, NULL, 0), EINVAL);
    EXPECT(goro_close(s), 0);

    /* A listener with nobody connecting. */
    int l = goro_listen_tcp("127.0.0.1:0");
    gt_check(l >= 0, "goro_listen_tcp: %d", l);
    struct sockaddr_in la;
    socklen_t len = sizeof la;
    gt_check(getsockname(l, (struct sockaddr *)&la, &len) == 0, "getsockname");
    EXPECT_FAIL(goro_accept_deadline(l, NULL, NULL, 0), ETIMEDOUT);
    EXPECT_FAIL(goro_accept_ctx(canceled, l, NULL, NULL), ECANCELED);
    EXPECT_FAIL(goro_accept_ctx(expired, l, NULL, NULL), ETIMEDOUT);
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_FAIL(goro_connect_ctx(canceled, s, (struct sockaddr *)&la, len), ECANCELED);
    EXPECT(goro_close(s), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(la.sin_port));
    EXPECT_FAIL(goro_dial_tcp(canceled, addr), ECANCELED);
    EXPECT(goro_close(l), 0);
    /* Nobody listens there now. */
    EXPECT_FAIL(goro_dial_tcp(NULL, addr), ECONNREFUSED);

    goro_close(p[0]);
    goro_close(p[1]);
    goro_close(q[1]);
    goro_close(r[0]);
    goro_close(r[1]);
    goro_ctx_release(canceled);
    goro_ctx_release(expired);
}

Test(badinput, io_bad_args, .timeout = GT_TIMEOUT(20))
{
    both(io_bad_args_body);
}

static void tcp_addresses_body(void)
{
    char long_host[300], long_port[48];
    memset(long_host, 'h', sizeof long_host);
    memcpy(long_host + sizeof long_host - 4, ":80", 4);
    memset(long_port, '8', sizeof long_port);
    memcpy(long_port, "127.0.0.1:", 10);
    long_port[sizeof long_port - 1] = 0;
    const char *bad[] = {
        "",
        ":",
        "nocolon",
        "127.0.0.1",
        "127.0.0.1:",
        "::1:80",                             /* IPv6 without brackets */
        "[::1]",
        "[::1",
        "[::1]80",
        "127.0.0.1:65536",                    /* ports are 16 bits */
        "127.0.0.1:99999",
        "127.0.0.1:99999999999999999999999",
        "127.0.0.1:-1",
        "127.0.0.1:no-such-service",
        "127.0.0.1:http",                     /* ports are numbers, not services */
        /* Ports are 1-5 decimal digits, nothing else: strtoul (inside
         * getaddrinfo) would skip the space and take the sign. */
        "127.0.0.1:+99999",
        "127.0.0.1: 99999",
        "127.0.0.1: 100000",
        "127.0.0.1:+80",
        "127.0.0.1:+0",
        "127.0.0.1:-0",
        "127.0.0.1: 0",
        "127.0.0.1:\t0",
        "127.0.0.1:0 ",
        "127.0.0.1:0x50",
        "127.0.0.1:8 0",
        "127.0.0.1:000000",                   /* six digits */
        "127.0.0.1:100000",
        "127.0.0.1:4294967296",               /* 2^32: 0 modulo 2^16 */
        "[::1]:+80",
        ": 80",
        ":+0",
        long_host,
        long_port,
    };
    EXPECT_FAIL(goro_listen_tcp(NULL), EINVAL);
    EXPECT_FAIL(goro_dial_tcp(NULL, NULL), EINVAL);
    for (size_t i = 0; i < NELEM(bad); i++) {
        int fd = goro_listen_tcp(bad[i]);
        gt_check(fd == -EINVAL, "goro_listen_tcp(\"%.40s\"): %d, want -EINVAL", bad[i], fd);
        if (fd >= 0)
            goro_close(fd);
        fd = goro_dial_tcp(NULL, bad[i]);
        gt_check(fd == -EINVAL, "goro_dial_tcp(\"%.40s\"): %d, want -EINVAL", bad[i], fd);
        if (fd >= 0)
            goro_close(fd);
    }
}

/* The edges of the port syntax that are valid: leading zeros up to five
 * digits ("00000" is port 0: a free one). */
static void tcp_good_ports_body(void)
{
    static const char *good[] = {"127.0.0.1:00000", "127.0.0.1:0", ":00"};
    for (size_t i = 0; i < NELEM(good); i++) {
        int fd = goro_listen_tcp(good[i]);
        if (gt_check(fd >= 0, "goro_listen_tcp(\"%s\"): %d", good[i], fd))
            goro_close(fd);
    }
}

Test(badinput, tcp_bad_addresses, .timeout = GT_TIMEOUT(20))
{
    both(tcp_addresses_body);
    both(tcp_good_ports_body);
}

static void blocking_body(void)
{
    EXPECT(goro_blocking(NULL, NULL), EINVAL);
    EXPECT(goro_blocking(NULL, &(int){0}), EINVAL);
}

Test(badinput, blocking_null_fn, .timeout = GT_TIMEOUT(10))
{
    both(blocking_body);
}

/* ---- diagnostics ------------------------------------------------------------------ */

static void diag_body(void)
{
    goro_dump(NULL);
    EXPECT(goro_stats_get(NULL), EINVAL);
    EXPECT(goro_version(), GORO_VERSION); /* the header this test was built with */
}

Test(badinput, diag_null, .timeout = GT_TIMEOUT(10))
{
    both(diag_body);
}

/* ---- ENOMEM through the fail points --------------------------------------------- */

#ifdef GORO_TESTING

/* Exported by GORO_TESTING builds (see test_faults.c). */
extern void goro__test_fail_alloc(long nth);

static void never_runs(void *arg)
{
    atomic_store((_Atomic int *)arg, 1);
}

static int never_runs_task(goro_ctx *ctx, void *arg)
{
    (void)ctx;
    never_runs(arg);
    return 0;
}

/* The calls whose first allocation is their own, made to fail: each
 * reports ENOMEM and leaves nothing half done. */
Test(badinput, enomem_fail_points, .timeout = GT_TIMEOUT(20))
{
    _Atomic int ran_fn = 0;
    goro_case cases[65];
    goro_group *g = goro_group_make(NULL);
    void (*before)(int) = gt_handler_of(SIGUSR2);

    cr_assert_not_null(g);
    for (size_t i = 0; i < NELEM(cases); i++)
        cases[i] = goro_case_recv(NULL, NULL);
    cases[64] = goro_case_default();
    cr_assert_eq(goro_select(cases, NELEM(cases)), 64); /* warm: this thread is known */

    goro__test_fail_alloc(0);
    int r = goro_select(cases, NELEM(cases)); /* more than 64 cases: heap arrays */
    goro__test_fail_alloc(-1);
    cr_assert_eq(r, -ENOMEM);

    goro__test_fail_alloc(0);
    int e = goro_group_go(g, never_runs_task, &ran_fn);
    goro__test_fail_alloc(-1);
    cr_assert_eq(e, ENOMEM);
    cr_assert_eq(goro_group_wait(g), 0);
    goro_group_free(g);

    goro_attr a = {.stack_size = 64 * 1024}; /* not the pool's size: its own mapping */
    goro__test_fail_alloc(0);
    e = goro_go_attr(&a, never_runs, &ran_fn);
    goro__test_fail_alloc(-1);
    cr_assert_eq(e, ENOMEM);

    goro__test_fail_alloc(0);
    gt_set_errno(0);
    goro_ctx *c = goro_ctx_with_signals(NULL, SIGUSR2, 0);
    e = gt_errno();
    goro__test_fail_alloc(-1);
    cr_assert_null(c);
    cr_assert_eq(e, ENOMEM);
    cr_assert_eq(gt_handler_of(SIGUSR2), before);

    /* The constructors added with the typed layer, cancel causes and
     * after-funcs; a refused after-func never calls fn. */
    goro_ctx *live = goro_ctx_with_cancel(NULL);
    cr_assert_not_null(live);
    goro__test_fail_alloc(0);
    gt_set_errno(0);
    c = goro_ctx_with_cancel_cause(live);
    e = gt_errno();
    goro__test_fail_alloc(-1);
    cr_assert(!c && e == ENOMEM, "goro_ctx_with_cancel_cause: %p errno %d", (void *)c, e);

    goro__test_fail_alloc(0);
    gt_set_errno(0);
    c = goro_ctx_without_cancel(live);
    e = gt_errno();
    goro__test_fail_alloc(-1);
    cr_assert(!c && e == ENOMEM, "goro_ctx_without_cancel: %p errno %d", (void *)c, e);

    goro__test_fail_alloc(0);
    gt_set_errno(0);
    goro_ctx_stop *h = goro_ctx_after_func(live, never_runs, &ran_fn);
    e = gt_errno();
    goro__test_fail_alloc(-1);
    cr_assert(!h && e == ENOMEM, "goro_ctx_after_func: %p errno %d", (void *)h, e);
    goro_ctx_release(live); /* ends live: nothing registered may run */

    goro__test_fail_alloc(0);
    gt_set_errno(0);
    goro_timer *t = goro_after_func(-1, never_runs, &ran_fn);
    e = gt_errno();
    goro__test_fail_alloc(-1);
    cr_assert(!t && e == ENOMEM, "goro_after_func: %p errno %d", (void *)t, e);

    goro__test_fail_alloc(0);
    gt_set_errno(0);
    int_chan *ic = goro_make(int_chan, 1);
    e = gt_errno();
    goro__test_fail_alloc(-1);
    cr_assert(!ic && e == ENOMEM, "goro_make(int_chan, 1): %p errno %d", (void *)ic, e);

    gt_quiesce();
    cr_assert_eq(atomic_load(&ran_fn), 0, "a function ran after its start failed");
}

#endif
