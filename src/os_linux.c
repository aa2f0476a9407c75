/* os_linux.c - what goro needs from Linux: futexes, the clock, threads,
 * CPU count, mapping counts, the fault handler that turns a goroutine
 * stack overflow into one clear line, and what goro owes the process
 * around signal masks and fork() (Go: runtime/os_linux.go,
 * signal_unix.go).
 *
 * Signals: goro installs no handler for anything but SIGSEGV and SIGBUS, and
 * those only to recognise a goroutine stack overflow; every other fault is
 * passed to the handler that was there before (the default one, or a
 * sanitizer's).  Set GORO_SIGSEGV=0 to install nothing.  Each M runs with an
 * alternate signal stack, since an overflowing goroutine has no stack left
 * to run a handler on.
 *
 * Signal masks (Go: initSigmask, minit).  Every thread goro starts runs
 * with the application's signal mask: the mask of the thread that started
 * the runtime, captured once in goro__signals_init, less the synchronous
 * fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS), which a
 * thread must never block: a blocked SIGSEGV from a fault kills the process
 * without running the overflow reporter.  This is what user code sees,
 * since goroutines and goro_blocking calls run on those threads, and so what
 * children inherit: posix_spawn and fork+exec from a goroutine start the
 * child with the application's mask, as Go's os/exec does.  It is also why
 * a process-directed signal still finds a thread once main has called
 * pthread_exit.  The rejected design, goro's threads blocking every
 * asynchronous signal, left children with SIGTERM and SIGINT blocked and a
 * process whose main had exited deaf to every signal.  No runtime code
 * needs signals blocked: a handler that interrupts the runtime runs on the
 * interrupted stack (a goroutine's at least 16 KiB, or g0's), and returns;
 * the system calls the runtime makes retry on EINTR or treat it as a
 * spurious wake.  A goroutine that changes its thread's mask must put it
 * back before it next blocks, as with goro_lock_thread's thread state.
 *
 * fork() without exec (Go does not support it either): the child has only
 * the thread that called fork, none of the Ms, sysmon, the timer M or the
 * blocking pool, and runtime locks held by those threads stay locked.  A
 * pthread_atfork child handler sets goro__forked; every switch between
 * goroutines, every park of a plain thread, goro_go, every futex sleep and
 * every new runtime thread checks it (one load of a flag no one writes
 * outside a child) and ends the child with one line, rather than hanging
 * or running copies of the parent's goroutines.  fork followed directly by
 * exec is unaffected: the flag dies with the image.  posix_spawn, vfork and
 * _Fork run no atfork handler and need none.
 */
#include "runtime.h"
#include "sanitizer.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

int64_t goro__nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * GORO_SECOND + ts.tv_nsec;
}

/* ---- memory ------------------------------------------------------------ */

#ifdef GORO_TESTING
/* Fault injection (GORO_TESTING builds only): the countdown-th allocation
 * from now fails, then allocation works again.  -1: off. */
static _Atomic long fail_countdown = -1;
static _Atomic long alloc_seen;

GORO_API void goro__test_fail_alloc(long nth)
{
    atomic_store(&fail_countdown, nth);
}

GORO_API long goro__test_alloc_count(void)
{
    return atomic_load(&alloc_seen);
}

bool goro__alloc_fails(void)
{
    atomic_fetch_add_explicit(&alloc_seen, 1, memory_order_relaxed);
    if (atomic_load_explicit(&fail_countdown, memory_order_relaxed) < 0)
        return false;
    return atomic_fetch_sub(&fail_countdown, 1) == 0;
}

/* While on, every goro__thread_start fails with EAGAIN, as pthread_create
 * does at RLIMIT_NPROC. */
static _Atomic bool fail_threads;

GORO_API void goro__test_fail_threads(bool on)
{
    atomic_store(&fail_threads, on);
}

/* While non-zero, every thread goro__thread_start starts sleeps this many
 * nanoseconds before it runs: a loaded machine, where the kernel queues a
 * new thread behind every runnable one (measured: 260 ms on two busy
 * cores). */
static _Atomic int64_t delay_threads;

GORO_API void goro__test_delay_threads(int64_t ns)
{
    atomic_store(&delay_threads, ns);
}

struct delayed_start {
    void *(*fn)(void *);
    void *arg;
    int64_t until;
};

static void *delayed_start(void *arg)
{
    struct delayed_start d = *(struct delayed_start *)arg;
    struct timespec ts = {.tv_sec = d.until / GORO_SECOND, .tv_nsec = d.until % GORO_SECOND};

    free(arg);
    /* The raw call: hook.c's clock_nanosleep is for goroutines. */
    while (syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0 &&
           errno == EINTR)
        ;
    return d.fn(d.arg);
}
#endif

void *goro__malloc(size_t n)
{
    if (goro__alloc_fails())
        return NULL;
    goro__tsan_ignore_begin();
    void *p = malloc(n);
    goro__tsan_ignore_end();
    return p;
}

void *goro__calloc(size_t n, size_t size)
{
    if (goro__alloc_fails())
        return NULL;
    goro__tsan_ignore_begin();
    void *p = calloc(n, size);
    goro__tsan_ignore_end();
    return p;
}

void *goro__realloc(void *p, size_t n)
{
    if (goro__alloc_fails())
        return NULL;
    goro__tsan_ignore_begin();
    p = realloc(p, n);
    goro__tsan_ignore_end();
    return p;
}

void goro__free(void *p)
{
    goro__tsan_ignore_begin();
    free(p);
    goro__tsan_ignore_end();
}

/* ---- futex -------------------------------------------------------------- */

#if defined(GORO_TSAN)
/* Under TSan a raw futex wait must give pending signals a way in; see
 * goro__futex_wait. */
#define TSAN_SIGNAL_POLL (50 * GORO_MILLISECOND)
#endif

int goro__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline)
{
    struct timespec ts, *tsp = NULL;
    long r;
    int e;

    /* In a child of fork() nothing would ever wake us. */
    goro__fork_check();
#if defined(GORO_TSAN)
    /* TSan runs an asynchronous signal's handler only when the thread
     * next enters a function TSan intercepts (or is blocked in one).  A
     * raw futex wait is not one: the signal that interrupts it is only
     * noted, the wait restarts (or the caller's loop waits again), and on
     * an idle thread the handler would wait for ever.  Sleep at most
     * TSAN_SIGNAL_POLL at a time and pass through usleep(0), a blocking
     * call TSan intercepts, on the way out; the early return is a spurious
     * wake to the caller. */
    bool capped = false;
    int64_t poll_until = goro__nanotime() + TSAN_SIGNAL_POLL;
    if (deadline < 0 || deadline > poll_until) {
        deadline = poll_until;
        capped = true;
    }
#endif
    if (deadline >= 0) {
        /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. */
        ts.tv_sec = deadline / GORO_SECOND;
        ts.tv_nsec = deadline % GORO_SECOND;
        tsp = &ts;
    }
    r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, val, tsp,
                NULL, FUTEX_BITSET_MATCH_ANY);
    e = r == 0 ? 0 : errno;
#if defined(GORO_TSAN)
    usleep(0);
    if (capped && e == ETIMEDOUT)
        e = 0;
#endif
    return e;
}

void goro__futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

/* membarrier(2)'s private expedited barrier (Linux 4.14): a full memory
 * barrier in every running thread of this process, by IPI, for the rare
 * side of an asymmetric fence (p_take in sched.c).  Registered once; false
 * where the kernel, or Valgrind or an emulator in between, has no such
 * command or refuses it, and the callers then use locked instructions. */
bool goro__membarrier_init(void)
{
    long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

    return q >= 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
           (q & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) &&
           syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 &&
           syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

void goro__membarrier(void)
{
    /* Cannot fail once registered (the kernel keeps the registration for
     * the process's life, forks aside, where goro has no threads). */
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        goro__throw("membarrier: %s", strerror(errno));
}

bool goro__asym;

/* Fixes goro__asym before the program's main runs, so before any
 * goro__lock is taken (loaded with dlopen: before the library's first
 * call); the membarrier registration serves p_take (sched.c) too. */
__attribute__((constructor)) static void asym_init(void)
{
    goro__asym = !goro__env_contains("GORO_DEBUG", "casp") && goro__membarrier_init();
}

#ifdef GORO_TESTING
/* For tests (GORO_TESTING builds only): the lock itself, out of line, and
 * how many times a contended acquire went to sleep. */
static _Atomic long lock_sleeps;

GORO_API void goro__test_lock_acquire(goro__lock *l)
{
    goro__lock_acquire(l);
}

GORO_API void goro__test_lock_release(goro__lock *l)
{
    goro__lock_release(l);
}

GORO_API long goro__test_lock_sleeps(void)
{
    return atomic_load(&lock_sleeps);
}

GORO_API bool goro__test_lock_asym(void)
{
    return goro__asym;
}
#endif

/* Contended path of goro__lock_acquire (the word's layout: runtime.h).
 * Spin a little first: runtime critical sections are a few dozen
 * instructions, far shorter than a futex round trip.  Then give the CPU
 * away once before sleeping: on a contended lock that lets the holder run
 * a batch of operations with the line in its own cache instead of handing
 * it back and forth (Go: lock2). */
void goro__lock_slow(goro__lock *l)
{
    uint32_t c;

    for (int round = 0; round < 5; round++) {
        for (;;) {
            c = atomic_load_explicit(&l->state, memory_order_relaxed);
            if (c & GORO_LOCK_HELD)
                break;
            if (atomic_compare_exchange_weak_explicit(&l->state, &c, c | GORO_LOCK_HELD,
                                                      memory_order_acquire,
                                                      memory_order_relaxed))
                return;
        }
        if (round < 4) {
            for (int i = 0; i < 30; i++)
                goro__cpu_relax();
        } else {
            sched_yield();
        }
    }
    /* Count ourselves, then (asymmetric releases) make every release from
     * before the count visible, or our count visible to every release
     * after it: membarrier.  Sleep only while the word still shows the
     * lock held with our count in it. */
    atomic_fetch_add_explicit(&l->state, GORO_LOCK_SLEEPER, memory_order_relaxed);
    if (goro__asym)
        goro__membarrier();
    for (;;) {
        c = atomic_load_explicit(&l->state, memory_order_relaxed);
        if (!(c & GORO_LOCK_HELD)) {
            if (atomic_compare_exchange_weak_explicit(&l->state, &c,
                                                      (c | GORO_LOCK_HELD) - GORO_LOCK_SLEEPER,
                                                      memory_order_acquire,
                                                      memory_order_relaxed))
                return;
            continue;
        }
#ifdef GORO_TESTING
        atomic_fetch_add_explicit(&lock_sleeps, 1, memory_order_relaxed);
#endif
        goro__futex_wait(&l->state, c, -1);
    }
}

/* ---- machine facts ------------------------------------------------------ */

int goro__ncpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* ---- signal masks and fork ------------------------------------------------ */

/* The mask goro's threads run with (see the top of this file): written once
 * by goro__signals_init, under the runtime's init once, before the first
 * goro__thread_start; read-only after. */
static sigset_t thread_mask;

bool goro__forked;

void goro__fork_fatal(void)
{
    static const char msg[] =
        "fatal error: goro: runtime used in a child of fork() (only the forking thread is "
        "copied: no goroutine or timer can run here; call exec, or only async-signal-safe "
        "functions, after fork)\n";
    ssize_t r = goro__sys_write(2, msg, sizeof msg - 1);
    (void)r;
    /* No goroutine dump: it takes locks that a thread the child lacks may
     * hold.  abort() must not re-enter a handler that would hide the line. */
    signal(SIGABRT, SIG_DFL);
    abort();
}

/* pthread_atfork child handler: runs in the child, single-threaded. */
static void fork_child(void)
{
    goro__forked = true;
}

/* Captures the application's mask from the thread starting the runtime,
 * and registers the fork handler. */
static void proc_init(void)
{
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};

    pthread_sigmask(SIG_SETMASK, NULL, &thread_mask);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&thread_mask, faults[i]);
    if (pthread_atfork(NULL, NULL, fork_child) != 0)
        goro__throw("goro: pthread_atfork failed");
}

void goro__timer_slack(long ns)
{
    (void)prctl(PR_SET_TIMERSLACK, (unsigned long)ns, 0, 0, 0); /* best effort */
}

int goro__thread_start(void *(*fn)(void *), void *arg, size_t stack_size)
{
    pthread_attr_t attr;
    pthread_t tid;
    sigset_t old;
    int e;

    goro__fork_check(); /* a child of fork() may not start threads (TSan) */
#ifdef GORO_TESTING
    if (atomic_load(&fail_threads))
        return EAGAIN;
    int64_t delay = atomic_load(&delay_threads);
    if (delay > 0) {
        struct delayed_start *d = malloc(sizeof *d); /* not counted as goro's */
        if (!d)
            return EAGAIN;
        *d = (struct delayed_start){.fn = fn, .arg = arg, .until = goro__nanotime() + delay};
        fn = delayed_start;
        arg = d;
    }
#endif
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (stack_size)
        pthread_attr_setstacksize(&attr, stack_size);
    /* The new thread inherits the creator's mask: hand it the application's
     * (whatever the creating thread's own is now), then put ours back. */
    pthread_sigmask(SIG_SETMASK, &thread_mask, &old);
    e = pthread_create(&tid, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
#ifdef GORO_TESTING
    if (e != 0 && fn == delayed_start)
        free(arg);
#endif
    return e;
}

static long read_long_file(const char *path, long dflt)
{
    char buf[64];
    int fd = goro__sys_open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dflt;
    ssize_t n = goro__sys_read(fd, buf, sizeof buf - 1);
    goro__sys_close(fd);
    if (n <= 0)
        return dflt;
    buf[n] = 0;
    return strtol(buf, NULL, 10);
}

long goro__map_count_max(void)
{
    return read_long_file("/proc/sys/vm/max_map_count", 65530);
}

long goro__map_count(void)
{
    char buf[8192];
    long lines = 0;
    ssize_t n;
    int fd = goro__sys_open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1000; /* a generous guess */
    while ((n = goro__sys_read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    goro__sys_close(fd);
    return lines;
}

uint64_t goro__rand64(void)
{
    /* splitmix64 over a shared counter: seeds per-P generators. */
    static _Atomic uint64_t state = 0x9e3779b97f4a7c15ULL;
    uint64_t z = atomic_fetch_add_explicit(&state, 0x9e3779b97f4a7c15ULL, memory_order_relaxed);
    z ^= (uint64_t)goro__nanotime();
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- fault handler ------------------------------------------------------ */

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction old_segv, old_bus;
static bool signals_installed;

int goro__sigaltstack_init(void)
{
    stack_t ss;
    if (!signals_installed)
        return 0;
    /* Mapped, not malloc'd: it lives as long as its thread, which goro
     * never joins, and leak checkers would call a heap block lost. */
    ss.ss_sp = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ss.ss_sp == MAP_FAILED)
        return ENOMEM;
    ss.ss_size = ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        int e = errno;
        munmap(ss.ss_sp, ALTSTACK_SIZE);
        return e;
    }
    return 0;
}

static uintptr_t fault_sp(void *uc_)
{
    ucontext_t *uc = uc_;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.sp;
#endif
}

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
    goro__m *m = goro__getm();
    goro__g *g = m ? m->curg : NULL;
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;

    /* The running goroutine's stack pointer below its stack: it overflowed,
     * whether it hit a guard page or ran through unguarded neighbours. */
    if (g && g->magic == GORO_G_MAGIC && fault_sp(uc) < (uintptr_t)g->stack_lo &&
        fault_sp(uc) + (1u << 30) > (uintptr_t)g->stack_lo)
        goro__stack_overflow(g);
    /* A fault in some stack's guard: its owner overflowed. */
    g = goro__stack_guard_owner(si->si_addr);
    if (g)
        goro__stack_overflow(g);

    /* Not ours: hand the fault to whoever handled it before us. */
    if (old->sa_flags & SA_SIGINFO) {
        old->sa_sigaction(sig, si, uc);
    } else if (old->sa_handler == SIG_IGN || old->sa_handler == SIG_DFL) {
        /* Restore the previous disposition and return: the faulting
         * instruction runs again and the fault takes its usual course. */
        sigaction(sig, old, NULL);
    } else {
        old->sa_handler(sig);
    }
}

/* GORO_TRACEBACK=1: SIGQUIT dumps the goroutines, then quits as it would
 * have (Go: GOTRACEBACK and SIGQUIT). */
static void quit_handler(int sig)
{
    static const char msg[] = "SIGQUIT: quit\n\n";
    ssize_t r = goro__sys_write(2, msg, sizeof msg - 1);
    (void)r;
    goro__dump_fd(2);
    signal(sig, SIG_DFL);
    raise(sig);
}

void goro__signals_init(void)
{
    struct sigaction sa;

    proc_init();

    if (goro__env_bool("GORO_TRACEBACK", false)) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = quit_handler;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGQUIT, &sa, NULL);
    }

    if (!goro__env_bool("GORO_SIGSEGV", true))
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fault_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) != 0)
        return;
    sigaction(SIGBUS, &sa, &old_bus);
    signals_installed = true;
}
