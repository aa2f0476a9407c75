/* common.h - helpers shared by goro's Criterion suites.
 *
 * Criterion runs every test in a process of its own that has not started
 * the goro runtime yet, so a test (or its .init) may still set GORO_* in the
 * environment.  Tests follow three rules:
 *
 *   1. No cr_assert inside a goroutine or a thread other than the test's:
 *      a failing cr_assert longjmps to the test's own stack.  Record a
 *      failure with gt_check() instead; gt_quiesce() reports it.
 *   2. Time bounds are generous and multiplied by gt_scale()
 *      (GORO_TEST_TIMEOUT_SCALE: 1 normally, 3 under ASan, 4 under TSan, 10
 *      under qemu, 20 under Valgrind); Criterion's per-test .timeout takes
 *      GT_TIMEOUT(s), which scales the same way for sanitizer builds at
 *      compile time, and by a larger GORO_TEST_TIMEOUT_SCALE at run time.
 *   3. Every test ends with gt_quiesce() (or gt_join(), which waits for the
 *      goroutines gt_spawn started, then calls it): no goroutine may
 *      outlive it.
 *
 * Reading errno or the thread id after a switch: a goroutine may resume on
 * another thread after any blocking call, but errno's address
 * (__errno_location(), a const function) and pthread_self() (also const) may
 * be computed once per function and reused across the call.  gt_errno(),
 * gt_set_errno() and gt_self() are out-of-line and opaque to the optimiser,
 * so every call reads the thread pointer afresh.
 */
#ifndef GORO_TESTS_COMMON_H
#define GORO_TESTS_COMMON_H

/* Tests build as -std=c11: each defines _GNU_SOURCE before including this. */
#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE before including common.h"
#endif

#include <goro.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/internal/ordered-set.h>

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- sanitizers --------------------------------------------------------- */

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define GT_ASAN 1
#else
#define GT_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define GT_TSAN 1
#else
#define GT_TSAN 0
#endif

/* Compile-time factor for Criterion's .timeout, which must be a constant:
 * the same factors as GORO_TEST_TIMEOUT_SCALE's defaults.  A build may pass
 * -DGT_BUILD_SCALE=n (qemu). */
#ifndef GT_BUILD_SCALE
#if GT_TSAN
#define GT_BUILD_SCALE 4
#elif GT_ASAN
#define GT_BUILD_SCALE 3
#else
#define GT_BUILD_SCALE 1
#endif
#endif
#define GT_TIMEOUT(seconds) ((double)(seconds) * GT_BUILD_SCALE)

/* ---- opaque helpers (see the top of this file) -------------------------- */

#if defined(__GNUC__) && !defined(__clang__)
#define GT_OPAQUE __attribute__((noinline, noipa))
#else
#define GT_OPAQUE __attribute__((noinline))
#endif

/* The asm barrier keeps clang from inferring that these read no memory
 * (which would let it merge two calls around a switch). */
static GT_OPAQUE __attribute__((unused)) int gt_errno(void)
{
    __asm__ volatile("" ::: "memory");
    return errno;
}

static GT_OPAQUE __attribute__((unused)) void gt_set_errno(int e)
{
    __asm__ volatile("" ::: "memory");
    errno = e;
}

static GT_OPAQUE __attribute__((unused)) pthread_t gt_self(void)
{
    __asm__ volatile("" ::: "memory");
    return pthread_self();
}

/* ---- time --------------------------------------------------------------- */

/* GORO_TEST_TIMEOUT_SCALE, default 1.0; never below 1. */
static inline double gt_scale(void)
{
    static _Atomic double cached;
    double s = atomic_load_explicit(&cached, memory_order_relaxed);
    if (s == 0) {
        const char *v = getenv("GORO_TEST_TIMEOUT_SCALE");
        char *end;
        s = v && *v ? strtod(v, &end) : 1.0;
        if (!v || !*v || *end || !(s >= 1.0))
            s = 1.0;
        atomic_store_explicit(&cached, s, memory_order_relaxed);
    }
    return s;
}

/* Criterion's per-test .timeout is a constant, GT_TIMEOUT(s) scaled by the
 * build's factor.  A run that sets a larger GORO_TEST_TIMEOUT_SCALE than the
 * build's (scripts/valgrind.sh: 20, for Valgrind's slowdown) stretches every
 * test's and suite's timeout by the ratio.  Criterion's own --timeout can
 * only shorten them.  The hook runs in Criterion's runner process before it
 * starts the first test; it reads the time limits from the tests' static
 * descriptions, so changing those is enough. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    double k = gt_scale() / GT_BUILD_SCALE;

    if (k <= 1)
        return;
    for (struct criterion_ordered_set_node *sn = set->suites->first; sn; sn = sn->next) {
        struct criterion_suite_set *ss = (void *)(sn + 1);
        if (ss->suite.data && ss->suite.data->timeout > 0)
            ss->suite.data->timeout *= k;
        if (!ss->tests)
            continue;
        for (struct criterion_ordered_set_node *tn = ss->tests->first; tn; tn = tn->next) {
            struct criterion_test *t = (void *)(tn + 1);
            if (t->data && t->data->timeout > 0)
                t->data->timeout *= k;
        }
    }
}

/* The run is under Valgrind (scripts/valgrind.sh), which runs one thread
 * of a process at a time: a test whose loop needs a thread switch per step
 * does fewer steps there. */
static inline bool gt_valgrind(void)
{
    return getenv("GORO_TEST_VALGRIND") != NULL;
}

/* ms milliseconds times gt_scale(), in nanoseconds. */
static inline int64_t gt_ms(double ms)
{
    return (int64_t)(ms * gt_scale() * (double)GORO_MILLISECOND);
}

/* Nanoseconds the calling thread has spent runnable but waiting for a CPU
 * (the second field of /proc/thread-self/schedstat), or -1 where the kernel
 * does not say.  An upper time bound that leaves this out measures goro
 * rather than how loaded the machine is. */
static inline int64_t gt_cpu_wait(void)
{
    unsigned long long run, wait;
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    int n = f ? fscanf(f, "%llu %llu", &run, &wait) : 0;

    if (f)
        fclose(f);
    return n == 2 ? (int64_t)wait : -1;
}

/* Spins (without yielding) for ns nanoseconds: CPU-bound work. */
static inline void gt_spin(int64_t ns)
{
    int64_t end = goro_now() + ns;
    while (goro_now() < end)
        ;
}

/* ---- failures recorded off the test's thread ---------------------------- */

static _Atomic int gt_failures;
static pthread_mutex_t gt_fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char gt_fail_msg[512];

static __attribute__((unused, format(printf, 3, 4))) void gt_fail_at(const char *file, int line,
                                                                     const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&gt_fail_lock);
    if (atomic_fetch_add(&gt_failures, 1) == 0) {
        int n = snprintf(gt_fail_msg, sizeof gt_fail_msg, "%s:%d: ", file, line);
        va_start(ap, fmt);
        vsnprintf(gt_fail_msg + n, sizeof gt_fail_msg - (size_t)n, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&gt_fail_lock);
}

/* Records a failure (from any goroutine or thread) when cond is false;
 * evaluates to cond. */
#define gt_check(cond, ...)                                                    \
    ((cond) ? true : (gt_fail_at(__FILE__, __LINE__, __VA_ARGS__), false))

/* Asserts, on the test's thread, that nothing was recorded by gt_check. */
static inline void gt_assert_no_failures(void)
{
    pthread_mutex_lock(&gt_fail_lock);
    int n = atomic_load(&gt_failures);
    char msg[sizeof gt_fail_msg];
    memcpy(msg, gt_fail_msg, sizeof msg);
    pthread_mutex_unlock(&gt_fail_lock);
    cr_assert_eq(n, 0, "%d check(s) failed off the test thread; first: %s", n, msg);
}

/* ---- waiting ------------------------------------------------------------ */

/* Polls cond(arg) until it holds or timeout_ns (already scaled by the
 * caller, see gt_ms) passes; returns its last value.  Works from a
 * goroutine (yields, then parks in goro_sleep) and from a plain thread
 * (goro_sleep sleeps the thread). */
static inline bool gt_wait_until(bool (*cond)(void *), void *arg, int64_t timeout_ns)
{
    int64_t deadline = goro_now() + timeout_ns;
    int64_t nap = 20 * GORO_MICROSECOND;
    for (int i = 0;; i++) {
        if (cond(arg))
            return true;
        if (goro_now() >= deadline)
            return cond(arg);
        if (i < 8) {
            goro_yield();
        } else {
            goro_sleep(nap);
            if (nap < GORO_MILLISECOND)
                nap *= 2;
        }
    }
}

struct gt_counter_goal {
    _Atomic long *counter;
    long goal;
};

static inline bool gt_counter_reached(void *arg)
{
    struct gt_counter_goal *c = arg;
    return atomic_load_explicit(c->counter, memory_order_acquire) >= c->goal;
}

/* Waits until *counter >= goal (bounded); returns whether it got there. */
static inline bool gt_wait_count(_Atomic long *counter, long goal, int64_t timeout_ns)
{
    struct gt_counter_goal c = {counter, goal};
    return gt_wait_until(gt_counter_reached, &c, timeout_ns);
}

static inline bool gt_no_goroutines(void *arg)
{
    (void)arg;
    return goro_num_goroutine() == 0;
}

/* The end of every test: waits (at most 10 s, scaled) until no goroutine is
 * left, then asserts that, and that no goroutine recorded a failure. */
static inline void gt_quiesce(void)
{
    bool done = gt_wait_until(gt_no_goroutines, NULL, gt_ms(10000));
    gt_assert_no_failures();
    cr_assert(done, "goroutines left at the end of the test: %d", goro_num_goroutine());
}

/* ---- a set of thread ids ------------------------------------------------ */

#define GT_TSET_MAX 1024

typedef struct gt_tset {
    pthread_mutex_t lock;
    int n;
    pthread_t ids[GT_TSET_MAX];
} gt_tset;

#define GT_TSET_INIT {PTHREAD_MUTEX_INITIALIZER, 0, {0}}

static inline void gt_tset_add(gt_tset *s, pthread_t t)
{
    pthread_mutex_lock(&s->lock);
    int i;
    for (i = 0; i < s->n; i++)
        if (pthread_equal(s->ids[i], t))
            break;
    if (i == s->n && s->n < GT_TSET_MAX)
        s->ids[s->n++] = t;
    pthread_mutex_unlock(&s->lock);
}

static inline int gt_tset_count(gt_tset *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ---- misc --------------------------------------------------------------- */

/* CPUs this process may run on. */
static inline int gt_ncpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* The process's thread count (/proc/self/status), or -1. */
static inline int gt_thread_count(void)
{
    char line[256];
    int n = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* How many goroutines (and plain threads blocked in goro) goro_dump shows
 * in state (e.g. "IO wait"), or -1 when there is no dump to read. */
static inline int gt_in_state(const char *state)
{
    char *text = NULL, pat[64];
    size_t len = 0;
    int n = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return -1;
    goro_dump(f);
    fclose(f);
    snprintf(pat, sizeof pat, "[%s", state);
    for (char *p = text; (p = strstr(p, pat)); p++)
        n++;
    free(text);
    return n;
}

/* The process's resident set in bytes (/proc/self/statm), or -1. */
static inline long gt_rss_bytes(void)
{
    long size, resident;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    int n = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    return n == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

/* A connected AF_UNIX stream pair, close-on-exec, asserting success (test
 * thread only). */
static inline void gt_socketpair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair: %s",
                 strerror(errno));
}

/* The message for an I/O call's result: its negated errno, or none. */
static inline const char *gt_err_str(long r)
{
    return r < 0 ? strerror((int)-r) : "no error";
}

/* Whether the POSIX extended regular expression pattern matches somewhere
 * in text, with ^ and $ at every line's ends (REG_NEWLINE); a bad pattern
 * fails the test (test thread only). */
static inline bool gt_matches(const char *text, const char *pattern)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE), 0, "bad regex %s", pattern);
    bool ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* Installs fn as sig's handler (no flags, nothing masked), asserting
 * success (test thread only). */
static inline void gt_install_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(sig, &sa, NULL), 0);
}

/* sig's handler now. */
static inline void (*gt_handler_of(int sig))(int)
{
    struct sigaction sa;
    sigaction(sig, NULL, &sa);
    return sa.sa_handler;
}

/* xorshift64*, for per-goroutine pseudo-random numbers. */
static inline uint64_t gt_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ---- starting goroutines ---------------------------------------------------- */

/* Every goroutine started through gt_go() or gt_spawn() is counted in this
 * file's waitgroup, gt_running(); gt_join() waits for them through it,
 * whose done -> wait edge makes their results visible to the test (and to
 * TSan: polling goro_num_goroutine() is no such edge), then quiesces.  The
 * waitgroup is a function's static, so a file that never waits on it has
 * no unused variable. */
static inline goro_waitgroup *gt_running(void)
{
    static goro_waitgroup running = GORO_WAITGROUP_INIT;
    return &running;
}

struct gt_trampoline {
    void (*fn)(void *);
    void *arg;
};

static inline void gt_trampoline(void *p)
{
    struct gt_trampoline t = *(struct gt_trampoline *)p;
    free(p);
    t.fn(t.arg);
    goro_waitgroup_done(gt_running());
}

/* goro_go, counted in gt_running(); from any goroutine or thread.
 * Returns 0 or goro_go's error (ENOMEM when the count cannot be kept). */
static inline int gt_go(void (*fn)(void *), void *arg)
{
    struct gt_trampoline *t = malloc(sizeof *t);
    if (!t)
        return ENOMEM;
    *t = (struct gt_trampoline){fn, arg};
    goro_waitgroup_add(gt_running(), 1);
    int e = goro_go(gt_trampoline, t);
    if (e) {
        goro_waitgroup_done(gt_running());
        free(t);
    }
    return e;
}

/* gt_go, asserting success (test thread only). */
static inline void gt_spawn(void (*fn)(void *), void *arg)
{
    int e = gt_go(fn, arg);
    cr_assert_eq(e, 0, "goro_go: %d", e);
}

/* The end of a test that starts its goroutines through gt_spawn/gt_go:
 * waits for all of them, then gt_quiesce(). */
static inline void gt_join(void)
{
    goro_waitgroup_wait(gt_running());
    gt_quiesce();
}

/* ---- channel test helpers -------------------------------------------------- */

/* goro_chan_make, asserting success. */
static inline goro_chan *gt_mkchan(size_t elem_size, size_t cap)
{
    goro_chan *c = goro_chan_make(elem_size, cap);
    cr_assert_not_null(c, "goro_chan_make(%zu, %zu): errno %d", elem_size, cap, errno);
    return c;
}

/* Receives n signals from a zero-size channel (bounded by the test's
 * .timeout). */
static inline void gt_wait_signals(goro_chan *done, int n)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(goro_chan_recv(done, NULL), 0);
}

/* Gives goroutines that are about to block a chance to park (coverage
 * only; nothing depends on it). */
static inline void gt_settle(void)
{
    for (int i = 0; i < 10; i++)
        goro_yield();
    goro_sleep(2 * GORO_MILLISECOND);
}

static inline bool gt_all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* ---- child processes --------------------------------------------------------- */

/* Runs a fresh copy of this test executable (fork, then execve of
 * /proc/self/exe, as Criterion starts its workers: a forked copy of a
 * threaded process may not start threads under TSan, and a fresh process
 * reads GORO_* anew) with env_name=body in its environment; the test file's
 * constructor runs that body before Criterion's main.  Collects the
 * child's stderr (the start of it, up to outsz - 1 bytes) into out and how
 * it ended into *status.  No core file is written for an expected abort. */
extern char **environ;
static inline void gt_run_child(const char *env_name, const char *body, char *out, size_t outsz,
                                int *status)
{
    int pfd[2];
    size_t len = 0, nenv = 0;
    char marker[128];

    /* Under Valgrind (scripts/valgrind.sh), /proc/self/exe is Valgrind's
     * tool, not this executable: there is nothing right to re-execute. */
    if (gt_valgrind())
        cr_skip_test("a child process of the test binary cannot start under Valgrind");
    /* Everything the child needs is prepared before fork(): in the child
     * only async-signal-safe calls until execve. */
    snprintf(marker, sizeof marker, "%s=%s", env_name, body);
    while (environ[nenv])
        nenv++;
    char **env = calloc(nenv + 2, sizeof *env);
    cr_assert_not_null(env);
    memcpy(env, environ, nenv * sizeof *env);
    env[nenv] = marker;
    char *argv[] = {(char *)"goro-test-child", NULL};
    struct rlimit nocore = {0, 0};


    cr_assert_eq(pipe(pfd), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setrlimit(RLIMIT_CORE, &nocore);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execve("/proc/self/exe", argv, env);
        _exit(127);
    }
    free(env);
    close(pfd[1]);
    for (;;) {
        ssize_t n = read(pfd[0], out + len, outsz - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == outsz - 1) { /* keep draining, keep the start */
            char sink[4096];
            while (read(pfd[0], sink, sizeof sink) > 0)
                ;
            break;
        }
    }
    out[len] = 0;
    close(pfd[0]);
    cr_assert_eq(waitpid(pid, status, 0), pid);
}

/* A body a test file runs in a child process (gt_run_child). */
typedef struct {
    const char *name;
    void (*fn)(void);
} gt_child_body;

/* For a test file's constructor: when env_name names one of bodies (a list
 * ending in {NULL, NULL}), runs it in this process and exits, with an
 * alarm so that the child never outlives its test (a body may set a
 * shorter one); otherwise returns. */
static inline void gt_child_dispatch(const char *env_name, const gt_child_body *bodies)
{
    const char *which = getenv(env_name);
    if (!which)
        return;
    for (const gt_child_body *b = bodies; b->name; b++) {
        if (strcmp(b->name, which) == 0) {
            alarm((unsigned)(30 * gt_scale()));
            b->fn();
            fprintf(stderr, "child: body returned\n");
            _exit(0);
        }
    }
    fprintf(stderr, "child: no body named %s\n", which);
    _exit(2);
}

#endif /* GORO_TESTS_COMMON_H */
