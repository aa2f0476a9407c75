/* traceback.c - fatal errors and goroutine dumps (Go: runtime/panic.go
 * throw, traceback.go).
 *
 * These run when something is already wrong (a broken invariant, a stack
 * overflow caught in a signal handler), so they write with write(2) into a
 * stack buffer and allocate nothing.  The dump walks every goroutine
 * without a lock or any other synchronisation (goro__stack_each_g: it reads
 * only G memory that is never unmapped, even while goroutines exit and
 * their stacks go away): it is a snapshot that may be slightly stale, never
 * a crash.  Only the list of plain threads' Gs is walked under its lock.
 */
#include "runtime.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const goro__wait_reason_str[WR_COUNT] = {
    [WR_NONE] = "",
    [WR_SLEEP] = "sleep",
    [WR_CHAN_RECV] = "chan receive",
    [WR_CHAN_SEND] = "chan send",
    [WR_SELECT] = "select",
    [WR_SELECT_NO_CASES] = "select (no cases)",
    [WR_MUTEX] = "mutex",
    [WR_RWMUTEX_R] = "rwmutex rlock",
    [WR_RWMUTEX_W] = "rwmutex lock",
    [WR_WAITGROUP] = "waitgroup wait",
    [WR_COND] = "cond wait",
    [WR_SEMA] = "semacquire",
    [WR_IO] = "IO wait",
    [WR_BLOCKING] = "blocking call",
    [WR_GORO_MAIN] = "goro_main",
    [WR_LOCKED_THREAD] = "locked to thread",
    [WR_BUBBLE_RUN] = "bubble run",
    [WR_BUBBLE_WAIT] = "bubble wait",
};

/* Where a dump goes: a file descriptor (write(2), async-signal-safe), or,
 * for a FILE with none (open_memstream, fopencookie), the FILE itself. */
struct sink {
    int fd;
    FILE *f;
};

static void write_all(const struct sink *k, const char *s, size_t n)
{
    int fd = k->fd;

    if (fd < 0) {
        if (k->f)
            fwrite(s, 1, n, k->f);
        return;
    }
    while (n > 0) {
        ssize_t w = goro__sys_write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static const char *state_str(uint32_t st)
{
    switch (st) {
    case G_RUNNABLE: return "runnable";
    case G_RUNNING: return "running";
    case G_WAITING: return "waiting";
    case G_DEAD: return "dead";
    default: return "idle";
    }
}

static void dump_one(goro__g *g, void *arg)
{
    const struct sink *fd = arg;
    char line[512];
    uint32_t st = atomic_load_explicit(&g->status, memory_order_relaxed);
    int n;

    if (st == G_WAITING) {
        const char *why = g->wait_reason < WR_COUNT ? goro__wait_reason_str[g->wait_reason] : "?";
        int64_t mins = (atomic_load_explicit(&goro__s.coarse_now, memory_order_relaxed) -
                        g->wait_since) / GORO_MINUTE;
        if (mins > 0)
            n = snprintf(line, sizeof line, "goroutine %llu [%s, %lld minutes]:\n",
                         (unsigned long long)g->id, why, (long long)mins);
        else
            n = snprintf(line, sizeof line, "goroutine %llu [%s]:\n", (unsigned long long)g->id,
                         why);
    } else {
        n = snprintf(line, sizeof line, "goroutine %llu [%s]:\n", (unsigned long long)g->id,
                     state_str(st));
    }
    if (n > 0)
        write_all(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    if (g->entry)
        n = snprintf(line, sizeof line, "\t%s(0x%lx)%s%s%s\n", g->entry, (unsigned long)(uintptr_t)g->arg,
                     g->name ? " \"" : "", g->name ? g->name : "", g->name ? "\"" : "");
    else
        n = snprintf(line, sizeof line, "\tentry %p(0x%lx)%s%s%s\n", (void *)(uintptr_t)g->fn,
                     (unsigned long)(uintptr_t)g->arg,
                     g->name ? " \"" : "", g->name ? g->name : "", g->name ? "\"" : "");
    if (n > 0)
        write_all(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    n = snprintf(line, sizeof line, "\tcreated by %s at %s:%d\n\n", g->func ? g->func : "?",
                 g->file ? g->file : "?", g->line);
    if (n > 0)
        write_all(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void goro__dump_g(goro__g *g, int fd)
{
    dump_one(g, &(struct sink){fd, NULL});
}

void goro__dump_fd(int fd)
{
    goro__stack_each_g(dump_one, &(struct sink){fd, NULL});
}

static void dump_thread(goro__g *g, void *arg);

void goro__throw(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n = snprintf(buf, sizeof buf, "fatal error: ");

    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 2, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 3)
        n = (int)sizeof buf - 3;
    buf[n++] = '\n';
    buf[n++] = '\n';
    const struct sink err = {2, NULL};
    write_all(&err, buf, (size_t)n);
    goro__dump_fd(2);
    goro__each_thread_g(dump_thread, (void *)&err);
    abort();
}

void goro__stack_overflow(goro__g *g)
{
    char buf[512];
    size_t size = (size_t)(g->stack_hi - g->stack_lo);
    int n = snprintf(buf, sizeof buf,
                     "fatal error: stack overflow in goroutine %llu%s%s%s (created by %s at "
                     "%s:%d; %zu KiB %s stack; raise GORO_STACK_SIZE or goro_attr.stack_size)\n",
                     (unsigned long long)g->id, g->name ? " (" : "", g->name ? g->name : "",
                     g->name ? ")" : "", g->func ? g->func : "?", g->file ? g->file : "?", g->line,
                     size >> 10, g->guarded ? "guarded" : "canary-checked");
    if (n > 0)
        write_all(&(struct sink){2, NULL}, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    /* abort() must not re-enter a handler that would hide the message. */
    signal(SIGABRT, SIG_DFL);
    abort();
}

/* ---- thread entries in dumps --------------------------------------------- */

static void dump_thread(goro__g *g, void *arg)
{
    const struct sink *fd = arg;
    char line[256];
    uint32_t st = atomic_load_explicit(&g->status, memory_order_relaxed);
    int n;

    if (st != G_WAITING)
        return; /* a thread outside goro: nothing to say */
    n = snprintf(line, sizeof line, "thread %llu [%s]:\n\tplain thread blocked in goro\n\n",
                 (unsigned long long)g->id,
                 g->wait_reason < WR_COUNT ? goro__wait_reason_str[g->wait_reason] : "?");
    if (n > 0)
        write_all(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void goro_dump(FILE *out)
{
    if (!out)
        return;
    fflush(out);
    struct sink k = {fileno(out), out};
    goro__stack_each_g(dump_one, &k);
    goro__each_thread_g(dump_thread, &k);
}

/* ---- stats --------------------------------------------------------------- */

int goro_stats_get(goro_stats *st)
{
    if (!st)
        return EINVAL;
    goro__init();
    memset(st, 0, sizeof *st);
    st->goroutines = goro_num_goroutine();
    st->procs = atomic_load(&goro__s.nprocs);
    st->idle_procs = atomic_load(&goro__s.npidle);
    st->parks = atomic_load(&goro__s.nparks);
    for (goro__m *m = atomic_load(&goro__s.allm); m; m = m->alllink) {
        st->threads++;
        st->parks += atomic_load_explicit(&m->nparks, memory_order_relaxed);
    }
    for (int i = 0; i < GORO_MAX_PROCS && goro__s.allp[i]; i++)
        st->steals += atomic_load_explicit(&goro__s.allp[i]->nsteal, memory_order_relaxed);
    goro__stack_stats(&st->stacks, &st->stacks_cached);
    return 0;
}

/* ---- deadlock detection (Go: checkdead) ----------------------------------- */

static void count_waiting(goro__g *g, void *arg)
{
    int *tw = arg;
    tw[0]++;
    if (atomic_load_explicit(&g->status, memory_order_acquire) == G_WAITING)
        tw[1]++;
}

/* Called by sysmon while every P is idle.  Declares a deadlock only when the
 * picture is the same at five checks in a row with no park in between, and
 * has held for a quarter of a second: a wake-up in flight between our racy
 * reads is never mistaken for one, and a plain thread that is starting (it
 * is unknown until it first calls goro) gets time to show up.  sysmon
 * checks every 10 ms for its first 100 ms of idleness, then every second,
 * so a real deadlock is reported about a second after it forms. */
#define DEADLOCK_HOLD (250 * GORO_MILLISECOND)

void goro__deadlock_check(void)
{
    static int enabled = -1;
    static uint64_t last_parks = UINT64_MAX;
    uint64_t parks;
    bool dead;

    if (enabled < 0)
        enabled = goro__env_bool("GORO_DEADLOCK", true);
    if (!enabled)
        return;
    int threads = 0, waiting = 0;
    {
        /* A thread G counts as asleep only while its status says so: one
         * already readied but not yet scheduled by the kernel is awake. */
        int tw[2] = {0, 0};
        goro__each_thread_g(count_waiting, tw);
        threads = tw[0];
        waiting = tw[1];
    }
    /* Goroutines with no known thread left (the threads that started them
     * have exited, main included, through pthread_exit) deadlock too. */
    dead = (threads > 0 || goro_num_goroutine() > 0) && waiting == threads &&
           goro__runqs_empty() &&
           goro__timers_next() == INT64_MAX && !goro__timers_running() &&
           !goro__netpoll_pending() && goro__blocking_outstanding() == 0 &&
           goro__signal_watch_count() == 0 && !goro__bubbles_advancing();
    parks = atomic_load(&goro__s.nparks);
    for (goro__m *m = atomic_load(&goro__s.allm); dead && m; m = m->alllink) {
        if (m->curg)
            dead = false; /* a goroutine runs (perhaps in a system call) */
        parks += atomic_load_explicit(&m->nparks, memory_order_relaxed);
    }
    if (!dead) {
        last_parks = UINT64_MAX;
        return;
    }
    /* Declare it only after the same picture at five checks in a row,
     * held for DEADLOCK_HOLD (see above). */
    static int same;
    static int64_t since;
    if (parks != last_parks) {
        last_parks = parks; /* look again next time */
        same = 0;
        since = goro__nanotime();
        return;
    }
    if (++same < 4 || goro__nanotime() - since < DEADLOCK_HOLD)
        return;
    goro__throw("all goroutines are asleep - deadlock!");
}
