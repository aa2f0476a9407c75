/* runtime.h - goro's data model: G, M, P, the scheduler, and the contracts
 * between the files that implement them (Go: runtime/runtime2.go).
 *
 *   G  a goroutine: saved stack pointer, stack, state, wait reason.  A G lives
 *      at the top of its own stack (stack.c), so spawning allocates nothing
 *      beyond a recycled stack.  A plain OS thread that blocks in goro gets a
 *      "thread G" (is_thread) whose state word doubles as a futex, so every
 *      wait queue holds Gs and every primitive is written once.
 *   M  an OS thread that runs goroutines.  Its own pthread stack is "g0": the
 *      scheduler loop runs there.  A goroutine that parks, yields or exits
 *      switches straight to the next G of its P's queue when there is one
 *      (G -> G', which then finishes its predecessor's request), else to
 *      g0 (G -> g0 -> G'); see switch_away in sched.c.
 *   P  the right to run goroutines; goro_maxprocs() of them.  A P owns a
 *      local run queue, a runnext slot and caches.  An M runs user code only
 *      while it holds a P, except after sysmon took the P away from an M whose
 *      goroutine blocked its thread (see "P ownership" below).
 *
 * G states and who owns the G (its stack and fields) in each:
 *   G_IDLE      in a free cache (per-P or global) or never used: the cache.
 *   G_RUNNABLE  in a run queue or a runnext slot: whoever dequeues it.
 *   G_RUNNING   executing on an M: that M (and the G's own code).
 *   G_WAITING   parked: the wait queue that holds it; only goro__ready()
 *               moves it on, called by the one waker that took it off its
 *               queue (or won its claim) under the lock its park released.
 *   G_DEAD      returned from its function; whoever runs next on its M
 *               (g0 or the next G) recycles it.
 *
 * P ownership: p->owner is (uintptr_t)m for the M that holds it, with bit 0
 * (GORO_P_BUSY) set while that M is inside the runtime using the P (run
 * queue, caches), and bit 1 (GORO_P_SYSCALL) set while its goroutine is in
 * a system call that may block the thread (goro__syscall_enter).  The
 * holder enters the runtime with CAS(m -> m|1) and leaves with a store of
 * m; it enters a system call with CAS(m -> m|2) and leaves it with
 * CAS(m|2 -> m).  sysmon may take a P only by CAS(m -> 0) or CAS(m|2 -> 0),
 * so it never takes one in use (and so may goro_maxprocs(), retiring a P).
 * An M whose CAS fails has lost its P (it was handed to another thread
 * while its goroutine blocked, or retired) and carries on without one.
 * Where the kernel has membarrier(2), the runtime entry and exit cost no
 * locked instruction: the holder marks m->inuse instead of the busy bit,
 * and a taker parks the owner word at m|4 (GORO_P_TAKING) and runs a
 * process-wide barrier before it reads that mark (see "P ownership" in
 * sched.c).  See p_enter() and "System calls" in sched.c.
 */
#ifndef GORO_RUNTIME_H
#define GORO_RUNTIME_H

#include "goro.h"
#include "list.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define GORO_HIDDEN __attribute__((visibility("hidden")))

/* One in every object file of the library, all of which include this
 * header: in a static link, where libgoro's code is part of the program,
 * the symbol table's per-file groups that hold it are libgoro's files
 * (traceback.c tells libgoro's functions from the program's by it, so a
 * new source file needs nothing more). */
__attribute__((used)) static const char goro__object_mark = 0;
#define GORO_NOINLINE __attribute__((noinline))
#define GORO_NORETURN __attribute__((noreturn))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Tells the CPU we are spinning (x86 pause, AArch64 yield). */
static inline void goro__cpu_relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

#define GORO_P_BUSY ((uintptr_t)1)    /* p->owner: the M uses the P in the runtime */
#define GORO_P_SYSCALL ((uintptr_t)2) /* p->owner: the M's G is in a system call */
#define GORO_P_TAKING ((uintptr_t)4)  /* p->owner: a taker decides (p_take) */

typedef struct goro__g goro__g;
typedef struct goro__m goro__m;
typedef struct goro__p goro__p;

/* ---- fatal errors ------------------------------------------------------- */

/* Broken invariant: prints "fatal error: <msg>" and the goroutine dump, then
 * aborts.  Never compiled out. */
GORO_HIDDEN GORO_NORETURN void goro__throw(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#define GORO_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (unlikely(!(cond)))                                                 \
            goro__throw(__VA_ARGS__);                                          \
    } while (0)

/* ---- OS layer (os_linux.c) ---------------------------------------------- */

/* Waits while *addr == val, at most until the absolute monotonic time
 * deadline (< 0: no deadline).  Returns 0, ETIMEDOUT, or EAGAIN/EINTR
 * (callers re-check their condition in a loop). */
GORO_HIDDEN int goro__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline);
/* Wakes up to n threads waiting on addr. */
GORO_HIDDEN void goro__futex_wake(_Atomic uint32_t *addr, int n);
/* The private expedited membarrier: goro__membarrier_init registers it and
 * returns whether it works; goro__membarrier runs one (os_linux.c). */
GORO_HIDDEN bool goro__membarrier_init(void);
GORO_HIDDEN void goro__membarrier(void);
GORO_HIDDEN int goro__ncpu(void);
/* CLOCK_MONOTONIC in nanoseconds: the real clock, for the runtime's own
 * bookkeeping.  goro_now() is this clock too, except inside a bubble,
 * where it is the bubble's fake clock (bubble.c). */
GORO_HIDDEN int64_t goro__nanotime(void);
/* Starts a detached thread with the given stack size (0: default). */
GORO_HIDDEN int goro__thread_start(void *(*fn)(void *), void *arg, size_t stack_size);
/* Sets the calling thread's timer slack (how late the kernel may end its
 * timed sleeps, 50 us by default) to ns; best effort. */
GORO_HIDDEN void goro__timer_slack(long ns);
/* Captures the application's signal mask (the calling thread's) for the
 * threads goro starts, registers the fork() child handler, and installs the
 * SIGSEGV/SIGBUS handler that reports goroutine stack overflows. */
GORO_HIDDEN void goro__signals_init(void);
GORO_HIDDEN int goro__sigaltstack_init(void);
/* True only in a child of fork() made after the runtime started, where
 * none of its threads exist (os_linux.c). */
GORO_HIDDEN extern bool goro__forked;
GORO_HIDDEN GORO_NORETURN void goro__fork_fatal(void);
/* Ends a child of fork() that needs the runtime with one clear line.  One
 * load of a flag that is never written outside such a child. */
static inline void goro__fork_check(void)
{
    if (unlikely(goro__forked))
        goro__fork_fatal();
}
/* Number of memory mappings the process has now, and the kernel's limit. */
GORO_HIDDEN long goro__map_count(void);
GORO_HIDDEN long goro__map_count_max(void);
GORO_HIDDEN uint64_t goro__rand64(void);

/* ---- memory (os_linux.c) ------------------------------------------------ */

/* malloc, calloc, realloc and free for the runtime's own structures: the
 * same, but hidden from ThreadSanitizer (see sanitizer.h). */
GORO_HIDDEN void *goro__malloc(size_t n);
GORO_HIDDEN void *goro__calloc(size_t n, size_t size);
GORO_HIDDEN void *goro__realloc(void *p, size_t n);
GORO_HIDDEN void goro__free(void *p);

/* GORO_TESTING builds: true when fault injection says this allocation (or
 * stack mapping) must fail.  Otherwise constant false. */
#ifdef GORO_TESTING
GORO_HIDDEN bool goro__alloc_fails(void);
#else
#define goro__alloc_fails() false
#endif

/* ---- lock: a futex mutex invisible to ThreadSanitizer ------------------- */

/* Runtime-internal mutex: one 32-bit futex word, with a short spin.  Not
 * pthread_mutex: sanitizers would see its happens-before edges and hide
 * real races between goroutines that merely share runtime locks.  Never
 * held across a park.
 *
 * The word: byte 0 is the lock (0 free, 1 held); bits 16-31 count the
 * threads asleep on the word (futex) or about to be.  Taking it is a CAS;
 * a sleeper counts itself (a locked add) and sleeps while the word is
 * unchanged.  Releasing it must see every sleeper counted before:
 *   - where membarrier(2) works (goro__asym), the release is a plain
 *     byte store and a load of the count: a sleeper runs membarrier
 *     between counting itself and its last look at the lock, so either its
 *     look sees the release or the releaser's load sees its count (the
 *     asymmetric fence of "P ownership" in sched.c);
 *   - elsewhere (old kernels, Valgrind, GORO_DEBUG=casp) the release clears
 *     byte 0 with a locked and, which orders it with the count. */
typedef struct goro__lock {
    _Atomic uint32_t state; /* byte 0: held; bits 16-31: sleepers */
} goro__lock;
/* Every goro__lock has a place in one table, docs/internals.md, "Lock
 * order", with what it protects; each lock's definition points there. */

#define GORO_LOCK_INIT {0}
#define GORO_LOCK_HELD 1u
#define GORO_LOCK_SLEEPER (1u << 16)

/* Whether membarrier(2) works and GORO_DEBUG=casp is off: the asymmetric
 * fences of the runtime entry ("P ownership" in sched.c) and of
 * goro__lock_release.  Fixed before any lock is taken (a constructor in
 * os_linux.c). */
GORO_HIDDEN extern bool goro__asym;

GORO_HIDDEN void goro__lock_slow(goro__lock *l);

static inline void goro__lock_acquire(goro__lock *l)
{
    uint32_t z = 0;
    if (likely(atomic_compare_exchange_strong_explicit(&l->state, &z, GORO_LOCK_HELD,
                                                       memory_order_acquire,
                                                       memory_order_relaxed)))
        return;
    goro__lock_slow(l);
}

static inline void goro__lock_release(goro__lock *l)
{
    uint32_t sleepers;
    if (likely(goro__asym)) {
        /* Byte 0 alone, and the count's half-word alone: the load does not
         * overlap the store, so it need not wait for it (membarrier on
         * the sleeper's side orders the two). */
        atomic_store_explicit((_Atomic uint8_t *)(void *)&l->state, 0, memory_order_release);
        sleepers = atomic_load_explicit((_Atomic uint16_t *)(void *)((char *)&l->state + 2),
                                        memory_order_relaxed);
    } else {
        sleepers = atomic_fetch_and_explicit(&l->state, ~GORO_LOCK_HELD, memory_order_release) >> 16;
    }
    if (unlikely(sleepers != 0))
        goro__futex_wake(&l->state, 1); /* the woken one counts itself out */
}

/* ---- timers (timer.c) --------------------------------------------------- */

/* A timer in a P's heap.  Embedded in its owner (a G sleeping, a
 * goro_timer), so arming one allocates nothing.
 *
 * home is the heap the timer was last added to; that heap's lock protects
 * index.  A timer is re-homed only while it is in no heap (see
 * goro__timer_add), and moved between heaps only with both locks held. */
typedef struct goro__timer {
    int64_t when;              /* absolute monotonic deadline */
    void (*fn)(struct goro__timer *); /* runs on whichever thread fires it */
    _Atomic(struct goro__timers *) home;
    size_t index;              /* heap slot + 1; 0 when not in the heap */
    _Atomic int running;       /* callbacks of it in progress */
} goro__timer;

/* A P's timers: a 4-ary min-heap of deadlines under its own lock (Go:
 * p.timers).  Each entry keeps its timer's deadline beside the pointer. */
typedef struct goro__timers {
    goro__lock lock;                /* lock order: docs/internals.md, "Lock order" */
    struct goro__timer_entry *heap; /* heap[0] is the earliest */
    size_t len, cap;
    _Atomic int64_t next;           /* heap[0].when, or INT64_MAX */
} goro__timers;

/* Adds t (not already armed) to the heap of the caller's P, or of some P
 * when the caller holds none.  Returns 0 or ENOMEM. */
GORO_HIDDEN int goro__timer_add(goro__timer *t);
/* Removes t if armed; returns true if it was (and so will not fire).
 * Returns only once no callback of t is running (unless called from it). */
GORO_HIDDEN bool goro__timer_del(goro__timer *t);
/* From inside t's callback, before handing t's owner back (readying the G
 * t is embedded in): the run is over for the owner, which may free or
 * re-arm t as soon as it runs, so t is not touched again.  No-op
 * elsewhere. */
GORO_HIDDEN void goro__timer_release(goro__timer *t);
/* Fires every timer of ts due at now; returns how many fired. */
GORO_HIDDEN int goro__timers_run(goro__timers *ts, int64_t now);
/* Fires every due timer of every P; returns how many fired. */
GORO_HIDDEN int goro__timers_run_all(int64_t now);
/* Moves every timer of from into to (a P retiring).  The timer M may have
 * missed them meanwhile: call goro__timers_kick after, without
 * goro__s.lock. */
GORO_HIDDEN void goro__timers_move(goro__timers *from, goro__timers *to);
/* Wakes the timer M if the earliest deadline is earlier than it sleeps. */
GORO_HIDDEN void goro__timers_kick(void);
/* True while a timer callback runs (it may be about to ready someone). */
GORO_HIDDEN bool goro__timers_running(void);
/* The earliest deadline of ts, INT64_MAX when empty (racy read). */
static inline int64_t goro__timers_next_of(goro__timers *ts)
{
    return atomic_load_explicit(&ts->next, memory_order_acquire);
}
/* The earliest deadline over every P (racy read). */
GORO_HIDDEN int64_t goro__timers_next(void);

/* The latest deadline a timer can have.  INT64_MAX itself means "no
 * timer" wherever a deadline is read (an empty heap's next, a select
 * without a timeout case), so goro__timer_add and select's timeout cases
 * keep a deadline at INT64_MAX one nanosecond earlier: still armed, still
 * seen by the deadlock detector (a timer, however far, is a way to wake
 * up), and it never fires.  Deadlines users see (goro_ctx_deadline) keep
 * INT64_MAX. */
#define GORO__WHEN_MAX (INT64_MAX - 1)

/* The deadline ns from now: now for ns <= 0, INT64_MAX instead of an
 * overflow. */
static inline int64_t goro__deadline_after(int64_t ns)
{
    int64_t now = goro_now();
    if (ns <= 0)
        return now;
    return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

/* ---- waiters ------------------------------------------------------------ */

/* A G waiting in a channel queue (Go: sudog).  Lives on the waiting G's
 * stack for the duration of the wait; one per case for a select.  All
 * fields but g are protected by the lock of the channel it is queued on. */
typedef struct goro__sudog {
    goro__g *g;
    struct goro__sudog *next, *prev;
    void *elem;                 /* data to send, or where to receive */
    struct goro_chan *c;
    uint64_t sel_seq;           /* select: the wait it belongs to (goro__claim) */
    int index;                  /* select: case index */
    bool is_select;
    bool inq;                   /* linked in c's queue */
    bool success;               /* woken by a communication, not by close */
} goro__sudog;

/* ---- G ------------------------------------------------------------------ */

enum goro__gstatus {
    G_IDLE = 0,
    G_RUNNABLE,
    G_RUNNING,
    G_WAITING,
    G_DEAD,
};

/* What a goroutine asks to be done once it is switched out: by g0, or by
 * the G it switched to directly (finish in sched.c). */
enum goro__gaction {
    GA_NONE = 0,
    GA_PARK,   /* run unlockf, then leave the G waiting */
    GA_YIELD,  /* requeue the G */
    GA_EXIT,   /* recycle the G */
    GA_PREEMPT, /* requeue the G on the global queue (a system call's exit) */
};

/* Why a G waits: printed by dumps, so each string is unique. */
enum goro__wait_reason {
    WR_NONE = 0,
    WR_SLEEP,
    WR_CHAN_RECV,
    WR_CHAN_SEND,
    WR_SELECT,
    WR_SELECT_NO_CASES,
    WR_MUTEX,
    WR_RWMUTEX_R,
    WR_RWMUTEX_W,
    WR_WAITGROUP,
    WR_COND,
    WR_SEMA,
    WR_IO,
    WR_BLOCKING,
    WR_GORO_MAIN,
    WR_LOCKED_THREAD,
    WR_BUBBLE_RUN,
    WR_BUBBLE_WAIT,
    WR_COUNT
};

GORO_HIDDEN extern const char *const goro__wait_reason_str[WR_COUNT];

#define GORO_G_MAGIC 0x676f726f2d472121ULL /* "goro-G!!" */

struct goro__g {
    void *sp;                   /* saved stack pointer while switched out */
    _Atomic uint32_t status;    /* enum goro__gstatus; a futex for thread Gs */
    uint8_t is_thread;          /* a plain thread's G: parks on a futex */
    uint8_t action;             /* enum goro__gaction, read by finish() */
    uint8_t wait_reason;        /* enum goro__wait_reason */
    uint8_t guarded;            /* stack has a PROT_NONE guard page below it */
    uint64_t id;                /* 0 for thread Gs */
    uint64_t magic;             /* GORO_G_MAGIC; checked at every switch */

    /* Parking: set by the G before it switches out, used by finish(). */
    void (*unlockf)(void *);
    void *unlockarg;
    int saved_errno;
    int64_t wait_since;         /* goro_now() when it parked (dumps) */
    uintptr_t param;            /* value a waker leaves for the G */
    /* Claimable waits (select, fd waits): see "claimable waits" below. */
    _Atomic uint64_t sel_state; /* 2*seq waiting, 2*seq+1 claimed */
    uint64_t sel_seq;           /* seq of the current (or last) wait */

    /* Scheduling. */
    goro__g *schedlink;         /* global run queue or free lists */
    goro__m *m;                 /* the M running it, while G_RUNNING */
    goro__m *lockedm;           /* goro_lock_thread() */
    int lock_count;
    goro__m *last_m;            /* GORO_DEBUG=migrate */
    int migrate_skips;
    /* System calls (goro__syscall_enter): nesting depth, and the P marked
     * GORO_P_SYSCALL by the outermost enter (NULL if it marked none).
     * Written only by the G itself (or a signal handler on its thread,
     * whose enter/exit pairs nest inside). */
    int syscall_depth;
    goro__p *syscall_p;
    goro__timer timer;          /* goro_sleep(), and timed waits */

    /* Bubbles (bubble.c).  bubble is set at spawn and cleared at exit;
     * bubble_blocked is protected by the bubble's lock; bubble_foreign is
     * written by the G itself before it parks. */
    struct goro__bubble *bubble;
    bool bubble_blocked;        /* counted durably blocked */
    bool bubble_foreign;        /* this wait involves an object outside it */

    /* Entry and creation site. */
    void (*fn)(void *);
    void *arg;
    const char *entry;          /* fn's name, from the goro_go macro */
    const char *file;
    const char *func;
    const char *name;
    int line;

    /* Stack: [stack_lo, stack_hi) is usable.  A default-size stack's G sits
     * just above it; a non-default size's G is a header in memory that is
     * never unmapped (stack.c). */
    char *stack_lo;
    char *stack_hi;
    char *sp_min;               /* lowest saved sp seen (trim heuristic) */
    _Atomic uint64_t *canary;   /* word below stack_lo, NULL if guarded */
    size_t slot_size;           /* whole slot: guard + stack (+ G) */
    struct goro__stack_chunk *chunk; /* NULL for a non-default size */
    unsigned vg_stack_id;       /* Valgrind's id for the stack */
    goro__list threadlink;      /* thread Gs: on goro__s.threadgs */

    /* Sanitizers. */
    void *tsan_fiber;
    void *asan_fake_stack;
};

/* A plain thread's G, as goro__getg allocates it: the G, then the return
 * addresses of the thread's stack when it last blocked in goro, so that a
 * dump can name where it blocked in its own code (traceback.c). */
#define GORO_THREAD_PCS 16
typedef struct goro__thread_g {
    goro__g g;                  /* first: a goro__g * is a goro__thread_g * */
    int npcs;
    void *pcs[GORO_THREAD_PCS];
    uintptr_t stack_hi;         /* top of the thread's stack; 0: not known yet */
} goro__thread_g;

/* Records where thread G g is about to block (goro__park, before g is
 * marked waiting): a walk of the frame-pointer chain, a few loads. */
GORO_HIDDEN void goro__thread_g_blocking(goro__g *g);

/* ---- P ------------------------------------------------------------------ */

#ifdef GORO_TESTING
#define GORO_RUNQ_SIZE 16      /* small, so overflow and steal paths run */
#else
#define GORO_RUNQ_SIZE 256
#endif
#define GORO_GCACHE_MAX 64     /* Gs (with stacks) kept per P */

enum goro__pstatus { P_IDLE = 0, P_RUNNING, P_DEAD };

struct goro__p {
    int id;
    _Atomic int status;             /* enum goro__pstatus (protected by sched lock
                                       for transitions to/from idle) */
    _Atomic uintptr_t owner;        /* see "P ownership" above */
    goro__p *link;                  /* idle list (sched lock) */

    /* Run queue: a bounded ring.  Owner pushes at tail and pops at head;
     * thieves take from head by CAS (Go: runq in runtime2.go). */
    _Atomic uint32_t runqhead;
    _Atomic uint32_t runqtail;
    _Atomic(goro__g *) runq[GORO_RUNQ_SIZE];
    _Atomic(goro__g *) runnext;
    goro__timers timers;            /* timers armed on this P */

    /* Owner only. */
    uint32_t schedtick;             /* incremented at every schedule */
    _Atomic uint32_t schedtick_pub; /* same, published for sysmon */
    _Atomic uint32_t slicetick;     /* incremented at every new time slice
                                       (written by the owner, read by sysmon) */
    _Atomic uint32_t preempt;       /* sysmon: the time slice is over */
    _Atomic uint32_t syscalltick;   /* incremented at every system call
                                       entered (written by the holder, read
                                       by sysmon) */
    goro__g *gfree;                 /* free Gs with default stacks */
    int ngfree;
    uint64_t goid_next, goid_end;   /* batch of goroutine ids */
    uint64_t rand;                  /* xorshift state */
    _Atomic int64_t ncreated;       /* goroutines spawned on this P */
    _Atomic int64_t nexited;        /* goroutines that exited on this P */
    _Atomic uint64_t nsteal;        /* goroutines stolen by this P */

    /* Sysmon only. */
    uint32_t sysmon_tick;
    int64_t sysmon_when;
    uintptr_t sysmon_probe_owner; /* retake_running's probe: the owner, */
    int64_t sysmon_probe_when;    /* when it began (0: none), */
    int64_t sysmon_probe_cpu;     /* and the owner's CPU time then */
    uint32_t sysmon_slicetick;
    int64_t sysmon_slice_when;
    uint32_t sysmon_syscalltick;
    int64_t sysmon_syscall_when;
};

/* ---- M ------------------------------------------------------------------ */

struct goro__m {
    void *g0_sp;                /* g0's saved stack pointer while a G runs */
    goro__g *curg;              /* G running on this M, NULL on g0 */
    goro__p *p;                 /* P held, or NULL */
    _Atomic uint8_t inuse;      /* inside the runtime with p (goro__asym;
                                 * written by this M only: p_enter) */
    goro__p *nextp;             /* P handed to us while we slept */
    goro__g *lockedg;           /* goro_lock_thread() */
    goro__m *link;              /* idle list (sched lock) */
    bool spinning;              /* looking for work without any */
    bool idle;                  /* on the idle list */
    _Atomic uint32_t park;      /* futex: 1 when woken */
    _Atomic uint32_t polling;   /* blocked in the network poller */
    int id;
    int tid;                    /* the thread's kernel id, and */
    clockid_t cpuclock;         /* its CPU-time clock: for sysmon (retake_running) */
    bool has_cpuclock;
    void *tsan_fiber;           /* g0's fiber */
    char *g0_stack_lo;          /* ASan needs g0's stack bounds */
    size_t g0_stack_size;
    goro__m *alllink;           /* all Ms, append-only (sysmon, stats) */
    goro__g *finish_g;          /* switched away from directly: see finish() */
    bool holding_p;             /* runtime code holds m->p busy in G context */
    char tls_sync;              /* TSan: released once by g0 at thread start */
    _Atomic uint64_t nparks;    /* Gs parked by this M (stats, deadlock) */
};

/* ---- scheduler (sched.c) ------------------------------------------------ */

typedef struct goro__sched {
    goro__lock lock;            /* protects the fields down to runqsize;
                                 * lock order: docs/internals.md, "Lock order" */
    goro__p *pidle;
    goro__m *midle;
    int nmidle;
    int mcount;                 /* Ms created */
    goro__g *runqhead;          /* global run queue: single Gs, linked */
    goro__g *runqtail;
    struct goro__gbatch *bhead; /* global run queue: batches of G pointers */
    struct goro__gbatch *btail;
    struct goro__gbatch *bfree; /* spare batches */
    int nbfree;
    bool take_single;           /* which kind globrunq_get tries first */
    goro__m *timer_m;           /* the idle M sleeping until the next timer */

    _Atomic int runqsize;
    _Atomic int npidle;
    _Atomic int nmspinning;
    _Atomic int nprocs;
    _Atomic int64_t nthread_created; /* goroutines spawned from plain threads */
    _Atomic int64_t timer_m_until;   /* when timer_m wakes; INT64_MAX if none */
    _Atomic uint64_t goidgen;
    _Atomic uint64_t nparks;         /* thread Gs parked (goroutines: per M) */
    _Atomic(goro__m *) allm;         /* list of all Ms */
    goro__lock threadg_lock;         /* protects threadgs (dumps); a leaf in
                                        the lock order (docs/internals.md) */
    goro__list threadgs;             /* thread Gs, by threadlink */
    _Atomic int64_t nexited_nop;     /* goroutines that exited on an M without P */
    _Atomic int64_t coarse_now;      /* goro_now(), refreshed by sysmon */
    _Atomic uint32_t sysmon_wake;    /* futex: sysmon sleeps on it */
    _Atomic uint32_t sysmon_deep;    /* sysmon in its long idle sleep */
    _Atomic uint32_t sysmon_syscall_kick; /* sysmon sleeps long and saw no
                                        system call lately: the next
                                        goro__syscall_enter wakes it */
    bool debug_migrate;
    int ncpu;
    _Atomic int nallp;               /* allp[0..nallp) exist (Ps never die) */
    goro__p *allp[GORO_MAX_PROCS];
} goro__sched;

GORO_HIDDEN extern goro__sched goro__s;

/* Wakes m, sleeping in stopm on its futex or in the network poller. */
GORO_HIDDEN void goro__m_wake(goro__m *m);
/* Starts an M looking for work if a P is idle and no M spins already
 * (Go: wakep).  Any thread, no lock held. */
GORO_HIDDEN void goro__wakep(void);
/* A timer was just published in a heap: wakes sysmon if it is in its long
 * idle sleep, which it takes only while no timer is pending.  Any thread,
 * no lock held. */
GORO_HIDDEN void goro__sysmon_timer_added(void);

/* The running thread's M (NULL on a plain thread) and thread G (NULL until
 * it first calls goro): read through goro__getm/getg, except below. */
extern __thread goro__m *goro__tls_m __attribute__((tls_model("initial-exec")));
extern __thread goro__g *goro__tls_thread_g __attribute__((tls_model("initial-exec")));
/* Set by goro's own plain threads that call public functions which never
 * park (the signal watcher's sends and cancels): they stay unknown to the
 * deadlock detector, which would otherwise wait for them forever. */
extern __thread bool goro__tls_runtime_thread __attribute__((tls_model("initial-exec")));

/* Starts the runtime if needed (idempotent, thread-safe). */
GORO_HIDDEN void goro__init(void);

/* The running G: a goroutine, or the calling plain thread's thread G
 * (allocated on first use; NULL if that fails).  Never inlined: compilers
 * may keep a thread-local address across a call, and the caller may have
 * moved to another thread since. */
GORO_HIDDEN GORO_NOINLINE goro__g *goro__getg(void);

/* Makes the calling plain thread known to goro (the deadlock detector only
 * declares a deadlock when every known thread waits in goro).  Called at
 * the public entry points; one thread-local read when already known. */
static inline void goro__note_thread(void)
{
    if (unlikely(!goro__tls_m && !goro__tls_thread_g && !goro__tls_runtime_thread))
        (void)goro__getg();
}
/* The M of the calling thread, NULL on a plain thread.  Not inlined either. */
GORO_HIDDEN GORO_NOINLINE goro__m *goro__getm(void);

/* errno of the calling thread, read or written through a fresh thread
 * pointer.  Functions that may park between two uses of errno must use
 * these: the compiler may keep errno's address (that of the thread the G
 * ran on before parking) across the call. */
GORO_HIDDEN GORO_NOINLINE int goro__errno_get(void);
GORO_HIDDEN GORO_NOINLINE void goro__errno_set(int e);
/* Requests queued or running in goro_blocking's pool. */
GORO_HIDDEN int goro__blocking_outstanding(void);

/* Parks the calling G: switches out, and whoever runs next on the M (g0,
 * or the next G, first thing) runs unlockf(arg) (so a waker can never
 * resume a G whose registers are not saved), and
 * returns once goro__ready() was called on it.  Before calling, the G must
 * be published in some wait queue under a lock that unlockf releases.  On a
 * plain thread the G is a thread G: it runs unlockf and sleeps on a futex.
 * Go: gopark. */
GORO_HIDDEN void goro__park(void (*unlockf)(void *), void *arg, enum goro__wait_reason reason);

/* Makes a parked G runnable; the caller must have taken it off its wait
 * queue.  From a goroutine it goes to this P's runnext (it runs next, on
 * this core), from elsewhere to the global queue.  Go: goready. */
GORO_HIDDEN void goro__ready(goro__g *g);

/* ---- claimable waits ----------------------------------------------------
 * A G that waits for the first of several events (a select's cases and
 * timeout; an fd's readiness, its close, its deadline and a context's done
 * channel) is woken by exactly one of them: each waker claims the wait
 * before touching the G, and only the winner readies it (Go: selectDone,
 * the CAS in sudog dequeue).  g->sel_state is 2*seq while the G waits in
 * its wait number seq (g->sel_seq) and 2*seq+1 once claimed; a waker names
 * the wait it found (the seq recorded beside the G in its queue: a sudog's
 * sel_seq, a poll descriptor's rseq/wseq), so a late waker from an earlier
 * wait fails its CAS and leaves no trace.
 *
 *   waiter                               waker
 *   seq = goro__claim_open(g)
 *   publish (g, seq) in queues (locked)
 *   goro__park(unlock the queues)        find (g, seq) in a queue (locked)
 *                                        if goro__claim(g, seq, why):
 *                                            unlock, goro__ready(g)
 *   woken: why = g->param; take (g, seq) out of every other queue
 *
 * Only the winner writes g->param and the G's data (after its CAS), and
 * the G reads them once readied, which orders them (goro__ready).  A claim
 * never blocks, so it may be made under any lock. */

/* Why a G parked in a claimable wait was woken, as left in g->param by
 * the waker that won the claim; any other value is the sudog of the
 * channel case that won. */
#define GORO_WAKE_TIMEOUT 0
#define GORO_WAKE_IO 1
#define GORO_WAKE_CLOSED 2

/* Opens a new claimable wait for g (the running G), before it is published
 * anywhere: returns its sequence number.  g->param starts as
 * GORO_WAKE_TIMEOUT. */
static inline uint64_t goro__claim_open(goro__g *g)
{
    uint64_t seq = ++g->sel_seq;
    atomic_store_explicit(&g->sel_state, 2 * seq, memory_order_relaxed);
    g->param = GORO_WAKE_TIMEOUT;
    return seq;
}

/* Claims g's wait number seq for why (left in g->param).  Returns true if
 * this caller won; the winner, and only it, readies g. */
static inline bool goro__claim(goro__g *g, uint64_t seq, uintptr_t why)
{
    uint64_t want = 2 * seq;
    if (!atomic_compare_exchange_strong_explicit(&g->sel_state, &want, want + 1,
                                                 memory_order_acq_rel, memory_order_relaxed))
        return false;
    g->param = why;
    return true;
}

/* Arms g's own timer (g->timer) to claim g's current wait with
 * GORO_WAKE_TIMEOUT at when and ready it; without memory for the timer,
 * claims it at once.  Called from the park's unlock function, with the
 * wait published, so the G may be readied before this returns.  Once
 * woken, the G calls goro__timer_del(&g->timer) before its next wait
 * (timer.c). */
GORO_HIDDEN void goro__claim_arm_timeout(goro__g *g, int64_t when);

/* ---- network poller (netpoll.c), for the scheduler ---------------------- */

/* True once the poller exists and some G waits on an fd. */
GORO_HIDDEN bool goro__netpoll_pending(void);
GORO_HIDDEN bool goro__netpoll_inited(void);
/* Polls until deadline (< 0 forever, 0 not at all), readying the Gs whose
 * fds are ready; returns the number of events. */
GORO_HIDDEN int goro__netpoll(int64_t deadline);
/* True while some M is blocked in goro__netpoll. */
GORO_HIDDEN bool goro__netpoll_blocked(void);
/* When goro__netpoll last returned. */
GORO_HIDDEN int64_t goro__netpoll_last(void);
/* Makes a blocked goro__netpoll return. */
GORO_HIDDEN void goro__netpoll_break(void);

/* For park unlock functions whose argument lives on the parking G's
 * stack and that may wake the G themselves (arming its timer): the unlock
 * function stores 1 to *flag (release) as its last access to that memory,
 * and the G, once resumed, calls this before letting the memory go.  The
 * wait is a few instructions long: the unlock function is already running. */
static inline void goro__park_wait_unlocked(_Atomic uint32_t *flag)
{
    while (!atomic_load_explicit(flag, memory_order_acquire))
        goro__cpu_relax();
}

/* Yields from the runtime (goro_yield's body); also used by tests. */
GORO_HIDDEN void goro__gosched(void);

/* System calls that may block the thread and cannot go through the poller
 * (a regular file's read or write, open, fsync, waitpid, flock...) are
 * bracketed by these two (Go: entersyscall, exitsyscall).  Between them the
 * goroutine keeps its P, but the P is marked GORO_P_SYSCALL, and sysmon
 * hands it to another thread once the call has lasted one of its fast
 * ticks (tens of microseconds) while other work waits.  exit takes the P
 * back with one CAS if nobody took it; otherwise it takes an idle P, or
 * waits on the same thread until a P is handed to it (the goroutine never
 * changes thread inside the bracket, so the caller's errno address and
 * thread-local state stay valid).  errno is preserved across exit.
 *
 * Cheap: enter is one thread-local read, a counter store and a CAS; exit a
 * CAS and one load.  No-ops on a plain thread, on g0, in runtime code that
 * holds the P, and before the runtime starts.  Pairs nest: only the
 * outermost marks the P.  An exit without its enter is a fatal error; a
 * goroutine must not park (channel, sleep...) between the two (fatal too).
 * Async signals: a handler may call them (an interposed write() in a
 * handler), since its pairs nest inside the interrupted code's, and a
 * handler that interrupts the runtime finds the P busy and marks nothing;
 * but a handler must not reach exit's slow path by itself, so handlers
 * should not make long blocking calls. */
GORO_HIDDEN void goro__syscall_enter(void);
GORO_HIDDEN void goro__syscall_exit(void);
/* The same exit for goro's own callers, which read errno only through
 * goro__errno_get and keep no thread-local state across the call (io.c):
 * the goroutine may resume on another thread, so a yield at the exit
 * switches to the waiting goroutine on this thread (no thread wake-up),
 * and a lost P is waited for as Go does (the G on the global queue, the
 * M asleep). */
GORO_HIDDEN void goro__syscall_exit_any(void);

/* ---- stacks (stack.c) --------------------------------------------------- */

/* Allocates a G with a stack of size bytes (0: default), from p's cache
 * when p is not NULL.  Returns NULL with errno ENOMEM or EINVAL. */
GORO_HIDDEN goro__g *goro__stack_alloc(goro__p *p, size_t size);
/* Returns a dead G and its stack to p's cache (p may be NULL). */
GORO_HIDDEN void goro__stack_free(goro__p *p, goro__g *g);
/* Moves p's whole cache to the global pool (P being retired). */
GORO_HIDDEN void goro__stack_flush(goro__p *p);
/* Checks g's stack after it switched out; aborts on overflow. */
GORO_HIDDEN void goro__stack_check(goro__g *g);
/* If addr lies in a goroutine stack's guard area, returns the G that owns
 * that stack (the one that overflowed); else NULL.  Signal-safe. */
GORO_HIDDEN goro__g *goro__stack_guard_owner(const void *addr);
/* Calls fn for every live goroutine (dumps).  Racy by design, but safe
 * against goroutines exiting meanwhile: takes no lock, reads no memory
 * that may be unmapped.  Signal-safe. */
GORO_HIDDEN void goro__stack_each_g(void (*fn)(goro__g *, void *), void *arg);
GORO_HIDDEN size_t goro__stack_default_size(void);
GORO_HIDDEN void goro__stack_init(void);

/* ---- the C library's own calls (hook.c) --------------------------------- */

/* goro interposes read, write, poll, sleep and the rest (hook.c, and
 * docs/guide.md, "Using existing C libraries"), so that blocking C code
 * parks its goroutine instead of its thread.  goro's own code must never
 * reach those interposers: it calls the C library through these pointers,
 * which hold the next definition after goro's (dlsym(RTLD_NEXT): the C
 * library's, or a sanitizer's interceptor in front of it).  Each starts as
 * a stub that looks all of them up on first use, so they work from any
 * constructor.  Built with GORO_HOOK off, they point at the C library's
 * functions directly.  Exception: the TSan build's usleep(0) in sched.c
 * and os_linux.c stays a plain call, so that TSan's interceptor sees it. */
#define GORO_SYS_CALLS(X)                                                        \
    X(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n))                \
    X(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n))         \
    X(ssize_t, readv, (int fd, const struct iovec *iov, int n), (fd, iov, n))    \
    X(ssize_t, writev, (int fd, const struct iovec *iov, int n), (fd, iov, n))   \
    X(ssize_t, pread, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off)) \
    X(ssize_t, pwrite, (int fd, const void *buf, size_t n, off_t off), (fd, buf, n, off)) \
    X(ssize_t, recv, (int fd, void *buf, size_t n, int fl), (fd, buf, n, fl))    \
    X(ssize_t, recvfrom, (int fd, void *buf, size_t n, int fl, struct sockaddr *a, \
                          socklen_t *al), (fd, buf, n, fl, a, al))               \
    X(ssize_t, recvmsg, (int fd, struct msghdr *m, int fl), (fd, m, fl))         \
    X(ssize_t, send, (int fd, const void *buf, size_t n, int fl), (fd, buf, n, fl)) \
    X(ssize_t, sendto, (int fd, const void *buf, size_t n, int fl,               \
                        const struct sockaddr *a, socklen_t al), (fd, buf, n, fl, a, al)) \
    X(ssize_t, sendmsg, (int fd, const struct msghdr *m, int fl), (fd, m, fl))   \
    X(int, accept, (int fd, struct sockaddr *a, socklen_t *al), (fd, a, al))     \
    X(int, accept4, (int fd, struct sockaddr *a, socklen_t *al, int fl), (fd, a, al, fl)) \
    X(int, connect, (int fd, const struct sockaddr *a, socklen_t al), (fd, a, al)) \
    X(int, poll, (struct pollfd *fds, nfds_t n, int ms), (fds, n, ms))           \
    X(int, ppoll, (struct pollfd *fds, nfds_t n, const struct timespec *ts,      \
                   const sigset_t *mask), (fds, n, ts, mask))                    \
    X(int, select, (int n, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv), \
      (n, r, w, x, tv))                                                          \
    X(int, pselect, (int n, fd_set *r, fd_set *w, fd_set *x, const struct timespec *ts, \
                     const sigset_t *mask), (n, r, w, x, ts, mask))              \
    X(unsigned, sleep, (unsigned s), (s))                                        \
    X(int, usleep, (useconds_t us), (us))                                        \
    X(int, nanosleep, (const struct timespec *req, struct timespec *rem), (req, rem)) \
    X(int, clock_nanosleep, (clockid_t c, int fl, const struct timespec *req,    \
                             struct timespec *rem), (c, fl, req, rem))           \
    X(int, epoll_wait, (int ep, struct epoll_event *ev, int n, int ms), (ep, ev, n, ms)) \
    X(int, epoll_pwait, (int ep, struct epoll_event *ev, int n, int ms,          \
                         const sigset_t *mask), (ep, ev, n, ms, mask))           \
    X(int, getaddrinfo, (const char *node, const char *svc, const struct addrinfo *h, \
                         struct addrinfo **res), (node, svc, h, res))            \
    X(int, setsockopt, (int fd, int lvl, int opt, const void *v, socklen_t vl),  \
      (fd, lvl, opt, v, vl))                                                     \
    X(int, close, (int fd), (fd))                                                \
    X(int, dup, (int fd), (fd))                                                  \
    X(int, dup2, (int fd, int to), (fd, to))                                     \
    X(int, dup3, (int fd, int to, int fl), (fd, to, fl))                         \
    X(int, socket, (int dom, int type, int proto), (dom, type, proto))           \
    X(int, socketpair, (int dom, int type, int proto, int sv[2]), (dom, type, proto, sv)) \
    X(int, pipe, (int p[2]), (p))                                                \
    X(int, pipe2, (int p[2], int fl), (p, fl))                                   \
    X(int, fsync, (int fd), (fd))                                                \
    X(int, fdatasync, (int fd), (fd))                                            \
    X(int, flock, (int fd, int op), (fd, op))                                    \
    X(pid_t, waitpid, (pid_t pid, int *st, int opt), (pid, st, opt))

#define GORO_SYS_DECLARE(ret, name, params, args) GORO_HIDDEN extern ret(*goro__sys_##name) params;
GORO_SYS_CALLS(GORO_SYS_DECLARE)
#undef GORO_SYS_DECLARE
/* The variadic ones: fcntl and ioctl take one more argument, open and
 * openat a mode. */
GORO_HIDDEN extern int (*goro__sys_fcntl)(int fd, int cmd, ...);
GORO_HIDDEN extern int (*goro__sys_ioctl)(int fd, unsigned long req, ...);
GORO_HIDDEN extern int (*goro__sys_open)(const char *path, int fl, ...);
GORO_HIDDEN extern int (*goro__sys_openat)(int dir, const char *path, int fl, ...);

/* Whether the interposers are in force (built with GORO_HOOK and not
 * turned off with GORO_HOOK=0). */
GORO_HIDDEN bool goro__hook_enabled(void);

/* ---- environment (env.c) ------------------------------------------------ */

/* The runtime's environment variables (all listed in docs/internals.md,
 * "Environment").  Unset or empty: def.  See env.c for each syntax. */
/* Base-10 integer; def when it is outside [min, max]. */
GORO_HIDDEN long long goro__env_int(const char *name, long long def, long long min, long long max);
/* Byte count, optionally with a k/K or m/M suffix; def outside [min, max]. */
GORO_HIDDEN size_t goro__env_size(const char *name, size_t def, size_t min, size_t max);
/* "0" is false, any other value true. */
GORO_HIDDEN bool goro__env_bool(const char *name, bool def);
/* Whether the value contains word. */
GORO_HIDDEN bool goro__env_contains(const char *name, const char *word);

/* ---- signals (signal.c) ------------------------------------------------ */

/* Parses a 0-terminated list of signal numbers (sig, then ap) into *mask
 * (bit s: signal s).  Returns: 0; EINVAL for an empty list or a number that
 * is not 1..63 or is SIGKILL or SIGSTOP. */
GORO_HIDDEN int goro__signal_mask(uint64_t *mask, int sig, va_list ap);
/* Registers signal context c (a cancel ctx) for the signals in mask: the
 * watcher cancels it when one arrives.  Returns: 0; ENOMEM; EAGAIN (no
 * watcher thread); EINVAL (a number the C library keeps).  c must call
 * goro__signal_unwatch_ctx before it is freed (a no-op if never watched). */
GORO_HIDDEN int goro__signal_watch_ctx(goro_ctx *c, uint64_t mask);
GORO_HIDDEN void goro__signal_unwatch_ctx(goro_ctx *c);
/* For the watcher (context.c): takes a reference to c unless c is being
 * freed; cancels c with ECANCELED and drops that reference. */
GORO_HIDDEN bool goro__ctx_tryref(goro_ctx *c);
GORO_HIDDEN void goro__ctx_signaled(goro_ctx *c);

/* ---- bubbles (bubble.c) ------------------------------------------------ */

/* A bubble: goro_bubble_run's isolated group of goroutines with a fake
 * clock.  Everything about it lives in bubble.c; the rest of the runtime
 * calls the hooks below, each of which costs one predicted branch (on a
 * G field, or on the count of live bubbles) when no bubble is in play. */
typedef struct goro__bubble goro__bubble;

/* Live bubbles (those whose goroutines have not all exited). */
GORO_HIDDEN extern _Atomic int goro__bubbles_live;

/* The bubble of the calling code: the one whose timers are being fired
 * or whose goroutine is parking on this thread, else the running
 * goroutine's; NULL outside every bubble. */
GORO_HIDDEN goro__bubble *goro__bubble_cur_slow(void);
static inline goro__bubble *goro__bubble_cur(void)
{
    if (likely(atomic_load_explicit(&goro__bubbles_live, memory_order_relaxed) == 0))
        return NULL;
    return goro__bubble_cur_slow();
}
/* The unique id of b (0 for NULL): what channels and mutexes record, so
 * that an object outliving its bubble never matches a later one. */
GORO_HIDDEN uint64_t goro__bubble_id(const goro__bubble *b);
/* The id of the calling code's bubble, 0 outside every bubble. */
static inline uint64_t goro__bubble_cur_id(void)
{
    goro__bubble *b = goro__bubble_cur();
    return b ? goro__bubble_id(b) : 0;
}
/* EPERM if an object made in bubble id (0: outside every bubble) may not
 * be used here (from outside that bubble), else 0. */
static inline int goro__bubble_check(uint64_t id)
{
    if (likely(id == 0))
        return 0;
    return goro__bubble_cur_id() == id ? 0 : EPERM;
}
/* Before the running G parks on an object made in bubble id: a wait on an
 * object of another bubble, or of none, is not durable. */
static inline void goro__bubble_wait_on(goro__g *g, uint64_t id)
{
    if (unlikely(g->bubble) && goro__bubble_id(g->bubble) != id)
        g->bubble_foreign = true;
}
/* sched.c: g (in a bubble) is parking; runs g->unlockf in the bubble's
 * name and does the bubble's accounting around it.  On g0 or in the next
 * G (finish). */
GORO_HIDDEN void goro__bubble_park(goro__g *g);
/* sched.c: g (in a bubble) was readied (goro__ready, after its CAS). */
GORO_HIDDEN void goro__bubble_ready(goro__g *g);
/* sched.c: g is being spawned; joins the calling code's bubble if any. */
GORO_HIDDEN void goro__bubble_spawn(goro__g *g);
/* sched.c: g (in a bubble) has returned from its function. */
GORO_HIDDEN void goro__bubble_exit(goro__g *g);
/* timer.c: the heap a timer armed by the calling code goes to, NULL when
 * outside every bubble. */
GORO_HIDDEN goro__timers *goro__bubble_timers(void);
/* sync.c: a mutex was locked / unlocked; a G is about to wait for m.
 * goro__bubble_mutex_locked lists m under the caller's bubble and returns
 * that bubble's id (0: outside every bubble, or not listed).  With m's
 * wait list locked, goro__bubble_mutex_rewait counts a waiter g durably
 * blocked or not again for the holder's bubble id (see "Mutex holders" in
 * bubble.c); it returns g's bubble when that left it with no goroutine
 * running, for goro__bubble_idle once the wait list is unlocked. */
GORO_HIDDEN uint64_t goro__bubble_mutex_locked(const void *m);
GORO_HIDDEN void goro__bubble_mutex_unlocked(const void *m);
GORO_HIDDEN void goro__bubble_mutex_wait(goro__g *g, const void *m);
GORO_HIDDEN goro__bubble *goro__bubble_mutex_rewait(goro__g *g, uint64_t holder);
GORO_HIDDEN void goro__bubble_idle(goro__bubble *b);
/* traceback.c: true while some bubble fires its timers (its goroutines
 * may all look blocked meanwhile). */
GORO_HIDDEN bool goro__bubbles_advancing(void);
/* timer.c: drops every timer left in ts (a bubble ending): they never
 * fire, and deleting one later finds it in no heap. */
GORO_HIDDEN void goro__timers_clear(goro__timers *ts);
/* traceback.c: one goroutine's entry of a dump, to fd. */
GORO_HIDDEN void goro__dump_g(goro__g *g, int fd);

/* ---- diagnostics -------------------------------------------------------- */

/* Sysmon's deadlock check (traceback.c); aborts with Go's message when no
 * goroutine or known thread can ever run again. */
GORO_HIDDEN void goro__deadlock_check(void);
/* Registrations with signal.c (signal contexts, notified channels): while
 * there is one, a signal may still wake a goroutine. */
GORO_HIDDEN int goro__signal_watch_count(void);
/* Calls fn for each thread G (dumps). */
GORO_HIDDEN void goro__each_thread_g(void (*fn)(goro__g *, void *), void *arg);
/* Stack statistics (stack.c). */
GORO_HIDDEN void goro__stack_stats(uint64_t *total, uint64_t *cached);
/* True if every P's run queue and the global queue are empty. */
GORO_HIDDEN bool goro__runqs_empty(void);

/* Writes one line per goroutine to fd (async-signal-safe). */
GORO_HIDDEN void goro__dump_fd(int fd);
GORO_HIDDEN void goro__stack_overflow(goro__g *g) GORO_NORETURN;

#endif /* GORO_RUNTIME_H */
