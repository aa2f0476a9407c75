/* sched.c - the M:N scheduler (Go: runtime/proc.go).
 *
 * G, M and P are described in runtime.h.  Each M runs schedule() on its own
 * thread stack (g0).  A goroutine gives the CPU back only by switching out
 * (park, yield, exit).  When its P's queue has a next G, it switches
 * straight to it (G -> G', switch_away), and G' first finishes what the
 * goroutine asked for (runs the park's unlock function, requeues it,
 * recycles it: finish_direct); otherwise it switches to g0 (G -> g0 -> G'),
 * which does the same and then runs the scheduler.  Either way the request
 * is carried out after the switch, so a G's registers are saved before any
 * other thread can see it parked (Go: mcall/park_m).
 *
 * Finding work (findrunnable), in order: due timers of this P, this P's
 * runnext slot and local run queue (every 61st tick, and at the end of a
 * time slice, the global queue first, so it is not starved), the global
 * queue, then stealing half of a random victim's queue.  An M that finds
 * nothing gives its P back and sleeps on a futex.
 *
 * Time slices (Go: inheritTime, forcePreemptNS).  A G readied by a running
 * G goes to runnext and runs next, on this core: a request/response pair
 * hands the CPU back and forth that way, and would keep it for ever from
 * the Gs in the local queue behind it.  So a G taken from runnext inherits
 * the running time slice, and any other G starts a new one (slice_start
 * bumps p->slicetick).  sysmon watches slicetick; when one slice has lasted
 * TIMESLICE (10 ms) while Gs wait in the local or global queue, it sets
 * p->preempt.  The M reads the flag at its next switch (one relaxed load in
 * direct_next, the only cost on the ping-pong path), goes through g0, and
 * findrunnable sends the runnext G to the back of the local queue and looks
 * at the global queue first (slice_end).  A G that waits in a run queue, or
 * whose timer is due, so runs within about one time slice plus sysmon's
 * period, however busy the pairs in front of it.  The flag is advisory and
 * racy by design: a late or spurious one costs one trip through g0.
 *
 * Spinning (Go's wakep rule).  An M looking for work to steal is "spinning";
 * at most half the busy Ps have one.  Whoever makes a G runnable calls
 * wakep(), which starts an M only if a P is idle and no M spins: a spinning M
 * will find the new G itself, so a burst of readies wakes one thread, not a
 * herd.  The race to close: a spinning M gives up (nmspinning--) while a
 * producer queues a G and reads nmspinning.  The broken interleaving:
 *
 *      producer                         spinning M
 *      queue G (store tail)             (A) nmspinning-- (still 1 seen)
 *      (B) read nmspinning == 1         recheck queues: tail store not
 *      -> no wakep                          visible yet -> sleep
 *
 * leaves G stranded.  Both sides use sequentially consistent operations:
 * the producer's tail store (runq_put, (B)) and the M's decrement (A) are in
 * one total order with the loads that follow each, so either the producer
 * sees nmspinning == 0 and wakes someone, or the M's recheck sees the G.
 * The global queue's size counter gets the same treatment.
 *
 * Blocking threads (sysmon).  A goroutine may block its thread in a plain
 * system call or loop without ever parking.  sysmon, a thread of its own,
 * looks every 2 ms for a P that has run the same G for 10 ms while work
 * waits, takes that P (CAS on p->owner, see runtime.h) and hands it to
 * another M.  The blocked M finds out at its next runtime call and carries
 * on without a P until its G parks (Go: retake/handoffp for syscalls).  A
 * goroutine that announces a blocking call (goro__syscall_enter, see
 * "System calls") gets its P handed on within sysmon's fast period
 * (20 us) instead, and takes it back with one CAS when the call returns.  The
 * same CAS takes a P that goro_maxprocs() retired from the M still running
 * a G on it (p_take_retired), so that its queue moves at once; and sysmon
 * retries starting an M while work waits and none could be started
 * (newm_retry).
 *
 * Lock order: channel/primitive locks, then sched.lock, then the timer
 * heap and stack pool locks (the table: docs/internals.md, "Lock order").
 * Nothing is held across a switch.
 */
#include "runtime.h"
#include "arch/frame.h"
#include "list.h"
#include "sanitizer.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

goro__sched goro__s = {.lock = GORO_LOCK_INIT, .threadgs = GORO_LIST_INIT(goro__s.threadgs)};

__thread goro__m *goro__tls_m __attribute__((tls_model("initial-exec")));
__thread goro__g *goro__tls_thread_g __attribute__((tls_model("initial-exec")));
__thread bool goro__tls_runtime_thread __attribute__((tls_model("initial-exec")));
#define tls_m goro__tls_m
#define tls_thread_g goro__tls_thread_g

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static _Atomic bool inited;
static pthread_key_t thread_g_key;

#define SYSMON_PERIOD (2 * GORO_MILLISECOND)
#define SYSMON_IDLE_PERIOD (10 * GORO_MILLISECOND)
#define SYSMON_DEEP_PERIOD (1000 * GORO_MILLISECOND)
#define SYSMON_DEEP_AFTER 10 /* idle periods before the long sleep */
#define RETAKE_AFTER (10 * GORO_MILLISECOND)
#define RETAKE_PROBE (1 * GORO_MILLISECOND) /* see retake_running */
/* sysmon's period while some P is in a system call and other work exists
 * (Go: sysmon's 20 us), and its thread's timer slack, without which the
 * kernel may end each sleep up to 50 us late. */
#define SYSMON_SYSCALL_PERIOD (20 * GORO_MICROSECOND)
#define SYSMON_TIMER_SLACK (1 * GORO_MICROSECOND)
/* The time slice of a goroutine that makes system calls while Gs wait: its
 * calls' exits are safe points, so it can be shorter than TIMESLICE. */
#define SYSCALL_SLICE (1 * GORO_MILLISECOND)
/* sysmon keeps its fast period this long after it last saw a system call:
 * a goroutine that loops over calls is not always inside one when sysmon
 * looks, and its thread may be descheduled for milliseconds on a loaded
 * machine (Go keeps 20 us for 1 ms, then doubles the period). */
#define SYSCALL_LINGER (10 * GORO_MILLISECOND)
/* How long runnable goroutines may wait with no M to run them, because no
 * thread could be created, before that is a fatal error (shorter in test
 * builds, so the test of it is quick). */
#ifdef GORO_TESTING
#define NEWM_FATAL_AFTER (2000 * GORO_MILLISECOND)
#else
#define NEWM_FATAL_AFTER (10000 * GORO_MILLISECOND)
#endif
#define TIMESLICE (10 * GORO_MILLISECOND) /* Go: forcePreemptNS */
#define GOID_BATCH 16

static void schedule(goro__m *m) GORO_NORETURN;
static void wakep(void);
static void stopm(goro__m *m);

/* ---- current G and M ---------------------------------------------------- */

/* noipa: not inlined and not analysed across the call, so every call reads
 * the thread pointer afresh (see runtime.h). */
#if defined(__GNUC__) && !defined(__clang__)
#define GORO_NOIPA __attribute__((noipa))
#else
#define GORO_NOIPA GORO_NOINLINE
#endif

GORO_NOIPA goro__m *goro__getm(void)
{
    return tls_m;
}

static void thread_g_free(void *arg)
{
    goro__g *g = arg;
    goro__lock_acquire(&goro__s.threadg_lock);
    goro__list_unlink(&g->threadlink);
    goro__lock_release(&goro__s.threadg_lock);
    goro__free(g);
}

void goro__each_thread_g(void (*fn)(goro__g *, void *), void *arg)
{
    goro__lock_acquire(&goro__s.threadg_lock);
    goro__list_each(it, &goro__s.threadgs)
        fn(goro__container_of(it, goro__g, threadlink), arg);
    goro__lock_release(&goro__s.threadg_lock);
}

GORO_NOIPA goro__g *goro__getg(void)
{
    goro__m *m = tls_m;
    if (m)
        return m->curg;
    goro__g *g = tls_thread_g;
    if (likely(g))
        return g;
    g = goro__calloc(1, sizeof(goro__thread_g)); /* see runtime.h */
    if (!g)
        return NULL;
    g->is_thread = 1;
    g->magic = GORO_G_MAGIC;
    g->id = (uint64_t)gettid();
    atomic_init(&g->status, G_RUNNING);
    goro__init(); /* the key below and the deadlock check need it */
    tls_thread_g = g;
    pthread_setspecific(thread_g_key, g);
    goro__lock_acquire(&goro__s.threadg_lock);
    goro__list_push_front(&goro__s.threadgs, &g->threadlink);
    goro__lock_release(&goro__s.threadg_lock);
    return g;
}

/* errno through a fresh thread-pointer read: after a switch the goroutine
 * may be on another thread, and __errno_location() is a const function
 * whose result the compiler may reuse.  The location is cached per thread:
 * every switch saves and restores errno, and a call into libc for it was
 * 8% of a goro_yield. */
static __thread int *tls_errno __attribute__((tls_model("initial-exec")));

static inline int *errno_loc(void)
{
    int *loc = tls_errno;
    if (unlikely(!loc))
        loc = tls_errno = &errno;
    return loc;
}

GORO_NOIPA void goro__errno_set(int e)
{
    *errno_loc() = e;
}

GORO_NOIPA int goro__errno_get(void)
{
    return *errno_loc();
}

#define errno_set goro__errno_set

/* ---- P ownership -------------------------------------------------------- */

/* The runtime entry without a locked instruction (goro__asym, where
 * membarrier(2) works).  The holder's entry is a plain store of its
 * m->inuse and a load of p's owner word; its exit, a store of m->inuse.
 * A taker (sysmon taking the P of a goroutine that ran too long, or a
 * retired P) moves the owner word m -> m|TAKING by CAS, runs membarrier,
 * which puts a full barrier into every running thread of the process, and
 * only then reads m->inuse: if m's store of inuse came before that barrier
 * in m's program order, the taker sees it and gives the P back (m|TAKING
 * -> m); if not, m's load of the owner word comes after the barrier and
 * sees m|TAKING, and m waits for the taker's decision (the P back, or 0:
 * lost).  So the two never both believe they hold the P, as with Dekker's
 * two flags, with the fence paid by the rare side only.  The flag is the
 * M's, not the P's: an M that lost its P still stores it as it enters,
 * before it learns of the loss, and must not touch the new holder's.
 * While the owner word is m|TAKING the holder may not write it: its own
 * changes (releasep, retiring) are CASes that wait the decision out
 * (p_owner_clear).  Without membarrier (old kernels, some emulators) and
 * with GORO_DEBUG=casp, the entry is CAS(m -> m|1), as in runtime.h. */
/* Waits while a taker decides (it runs one system call meanwhile; on a
 * loaded machine its thread may wait for a CPU, so give ours up). */
static void p_taking_wait(int *spins)
{
    if (++*spins < 64)
        goro__cpu_relax();
    else
        sched_yield();
}

static GORO_NOINLINE goro__p *p_enter_slow(goro__m *m, goro__p *p)
{
    uintptr_t mine = (uintptr_t)m, o;
    int spins = 0;

    while ((o = atomic_load_explicit(&p->owner, memory_order_acquire)) == (mine | GORO_P_TAKING))
        p_taking_wait(&spins);
    if (o == mine)
        return p; /* the taker saw inuse and gave it back */
    atomic_store_explicit(&m->inuse, 0, memory_order_release);
    m->p = NULL;
    return NULL;
}

/* Takes m's P for a runtime operation from goroutine context; NULL if m has
 * none or lost it to sysmon (then m->p is cleared).  See runtime.h. */
static inline goro__p *p_enter(goro__m *m)
{
    goro__p *p = m->p;
    uintptr_t mine = (uintptr_t)m;

    if (!p)
        return NULL;
    if (likely(goro__asym)) {
        atomic_store_explicit(&m->inuse, 1, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst); /* the store before the load */
        if (likely(atomic_load_explicit(&p->owner, memory_order_acquire) == mine))
            return p;
        return p_enter_slow(m, p);
    }
    if (likely(atomic_compare_exchange_strong_explicit(&p->owner, &mine, (uintptr_t)m | GORO_P_BUSY,
                                                       memory_order_acquire,
                                                       memory_order_relaxed)))
        return p;
    m->p = NULL;
    return NULL;
}

#ifdef GORO_TESTING
/* Test builds check the ownership protocol at every exit and release: the
 * P must still be m's, busy (a taker may be deciding, and must then decide
 * for m). */
static GORO_NOINLINE void p_exit_check(goro__m *m, goro__p *p)
{
    uintptr_t o = atomic_load_explicit(&p->owner, memory_order_relaxed) & ~GORO_P_TAKING;
    uintptr_t want = (uintptr_t)m | (goro__asym ? 0 : GORO_P_BUSY);

    if (o != want)
        goro__throw("P %d left by an M that no longer holds it (owner %#lx, want %#lx)", p->id,
                    (unsigned long)o, (unsigned long)want);
}
#endif

static inline void p_exit(goro__m *m, goro__p *p)
{
#ifdef GORO_TESTING
    p_exit_check(m, p);
#endif
    if (likely(goro__asym))
        atomic_store_explicit(&m->inuse, 0, memory_order_release);
    else
        atomic_store_explicit(&p->owner, (uintptr_t)m, memory_order_release);
}

/* The M in a P's owner word, without its flag bits. */
static inline goro__m *owner_m(uintptr_t owner)
{
    return (goro__m *)(owner & ~(GORO_P_BUSY | GORO_P_SYSCALL | GORO_P_TAKING));
}

/* Whether the holder of a P (owner, not 0) is inside the runtime with it,
 * or another taker is deciding (racy: for sysmon's looks; p_take
 * decides).  Ms are never freed once they run, so the holder's flag can
 * be read. */
static inline bool p_busy(uintptr_t owner)
{
    return (owner & (GORO_P_BUSY | GORO_P_TAKING)) ||
           (goro__asym && atomic_load_explicit(&owner_m(owner)->inuse, memory_order_relaxed));
}

#ifdef GORO_TESTING
/* Fault injection (GORO_TESTING builds only): while non-zero, an
 * asymmetric take (p_take) waits this many nanoseconds between parking the
 * owner word and its barrier, as a taker whose thread was preempted there,
 * so that tests can race two takers. */
static _Atomic int64_t take_delay;

GORO_API void goro__test_take_delay(int64_t ns)
{
    atomic_store(&take_delay, ns);
}
#endif

/* Takes p from the M whose goroutine runs on it or is in a system call
 * (owner m or m|2, as read by the caller), unless that M is inside the
 * runtime with it.  Returns whether p is now the caller's (owner 0).  In
 * a system call the holder changes the word only by CAS, and never enters
 * the runtime with it (goro__syscall_enter): one CAS decides. */
static bool p_take(goro__p *p, uintptr_t owner)
{
    if (owner & GORO_P_TAKING)
        return false; /* another taker decides (sysmon and goro_maxprocs) */
    if (!goro__asym || (owner & GORO_P_SYSCALL))
        return atomic_compare_exchange_strong(&p->owner, &owner, 0);
    if (!atomic_compare_exchange_strong(&p->owner, &owner, owner | GORO_P_TAKING))
        return false;
#ifdef GORO_TESTING
    int64_t d = atomic_load_explicit(&take_delay, memory_order_relaxed);
    if (d > 0) {
        struct timespec ts = {.tv_sec = d / GORO_SECOND, .tv_nsec = d % GORO_SECOND};
        goro__sys_nanosleep(&ts, NULL);
    }
#endif
    goro__membarrier();
    if (atomic_load_explicit(&owner_m(owner)->inuse, memory_order_acquire)) {
        atomic_store_explicit(&p->owner, owner, memory_order_release);
        return false;
    }
    atomic_store_explicit(&p->owner, 0, memory_order_release);
    return true;
}

/* The holder (or a taker that already took it) lets go of p's owner word,
 * waiting out a taker's decision first (see p_enter_slow). */
static void p_owner_clear(goro__p *p)
{
    uintptr_t o = atomic_load_explicit(&p->owner, memory_order_relaxed);
    int spins = 0;

    for (;;) {
        if (o & GORO_P_TAKING) {
            p_taking_wait(&spins);
            o = atomic_load_explicit(&p->owner, memory_order_relaxed);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&p->owner, &o, 0, memory_order_release,
                                                  memory_order_relaxed))
            return;
    }
}

/* The P to use for an operation by the caller, or NULL: on g0 the M already
 * holds its P busy; in a goroutine it enters it (*entered then says so). */
static inline goro__p *p_hold(goro__m *m, bool *entered)
{
    *entered = false;
    if (!m)
        return NULL;
    if (!m->curg || m->holding_p)
        return m->p;
    goro__p *p = p_enter(m);
    *entered = p != NULL;
    return p;
}

/* True once goro_maxprocs() lowered the count below p's id: p is to be
 * retired by whoever holds it (racy read; the holder re-checks under
 * sched.lock before it acts). */
static inline bool p_retired(goro__p *p)
{
    return p->id >= atomic_load_explicit(&goro__s.nprocs, memory_order_relaxed);
}

/* Wakes sysmon from its long idle sleep: a P is getting busy again, and
 * sysmon must watch it (hand-off of blocked Ps).  (D) pairs with (C) in
 * sysmon. */
static void sysmon_kick(void)
{
    if (atomic_load(&goro__s.sysmon_deep)) {
        atomic_store(&goro__s.sysmon_deep, 0);
        atomic_fetch_add(&goro__s.sysmon_wake, 1);
        goro__futex_wake(&goro__s.sysmon_wake, 1);
    }
}

/* sysmon sleeps long only while every P is idle and no timer is pending;
 * a timer armed during that sleep ends it, so that sysmon, back to its
 * 2 ms period, fires the timer once a millisecond overdue if the M meant
 * to fire it (the timer M, or the one kick starts) has not.  That M may be
 * a thread just created, which the kernel queues behind every runnable
 * thread of a loaded machine: such a one was measured to wait 260 ms for a
 * CPU, while sysmon, a sleeper, runs as soon as it is woken.  The broken
 * interleaving without the fences:
 *
 *      arming thread                    sysmon
 *                                       reads every heap: empty
 *      publishes t in a heap
 *      reads sysmon_deep == 0           stores sysmon_deep = 1
 *      -> no wake                       sleeps for a second
 *
 * (F) pairs with (E) in sysmon: either we see the flag and wake it, or its
 * second look at the heaps sees t. */
void goro__sysmon_timer_added(void)
{
    atomic_thread_fence(memory_order_seq_cst); /* (F) */
    sysmon_kick();
}

static void acquirep(goro__m *m, goro__p *p)
{
    sysmon_kick(); /* (D): after pidleget's seq_cst decrement of npidle */
    m->p = p;
    atomic_store_explicit(&p->status, P_RUNNING, memory_order_relaxed);
    if (goro__asym) {
        atomic_store_explicit(&m->inuse, 1, memory_order_relaxed);
        atomic_store_explicit(&p->owner, (uintptr_t)m, memory_order_release);
    } else {
        atomic_store_explicit(&p->owner, (uintptr_t)m | GORO_P_BUSY, memory_order_release);
    }
}

static goro__p *releasep(goro__m *m)
{
    goro__p *p = m->p;
    m->p = NULL;
    if (p) {
#ifdef GORO_TESTING
        p_exit_check(m, p);
#endif
        p_owner_clear(p);
    }
    return p;
}

/* ---- idle lists (sched.lock held) --------------------------------------- */

static void pidleput(goro__p *p)
{
    atomic_store_explicit(&p->status, P_IDLE, memory_order_relaxed);
    p->link = goro__s.pidle;
    goro__s.pidle = p;
    atomic_fetch_add(&goro__s.npidle, 1);
}

static goro__p *pidleget(void)
{
    goro__p *p = goro__s.pidle;
    if (p) {
        goro__s.pidle = p->link;
        atomic_fetch_sub(&goro__s.npidle, 1);
    }
    return p;
}

static void mput(goro__m *m)
{
    m->link = goro__s.midle;
    goro__s.midle = m;
    goro__s.nmidle++;
    m->idle = true;
}

static goro__m *mget(void)
{
    goro__m *m = goro__s.midle;
    if (m) {
        goro__s.midle = m->link;
        goro__s.nmidle--;
        m->idle = false;
    }
    return m;
}

static void munlink(goro__m *m)
{
    for (goro__m **pp = &goro__s.midle; *pp; pp = &(*pp)->link) {
        if (*pp == m) {
            *pp = m->link;
            goro__s.nmidle--;
            m->idle = false;
            return;
        }
    }
}

/* Wakes m from stopm.  The timer M may be blocked in the network poller
 * rather than on its futex: m sets polling, then checks park, then polls;
 * we set park, then check polling, both seq_cst, so either m sees park and
 * does not block, or we see polling and break the poll. */
void goro__m_wake(goro__m *m)
{
    atomic_store(&m->park, 1);
    goro__futex_wake(&m->park, 1);
    if (atomic_load(&m->polling))
        goro__netpoll_break();
}


/* ---- run queues (Go: runqput, runqget, runqgrab, runqsteal) ------------- */

/* The global run queue holds single Gs (from threads without a P) on a
 * list linked through the Gs, and the halves of full local queues as
 * arrays of G pointers.  Moving a batch then touches no G under the lock:
 * a G lives at the top of its stack, so by the time a batch is taken back
 * its Gs are mostly out of the cache, and walking a list of 128 of them
 * held the lock for 128 cache misses (B1 skynet spent 16% there). */
#define GBATCH (GORO_RUNQ_SIZE / 2 + 1)
#define GBATCH_SPARE 16

struct goro__gbatch {
    struct goro__gbatch *next;
    uint32_t head, n;           /* g[head..n) still queued */
    goro__g *g[GBATCH];
};

static void globrunq_put_list(goro__g *head, goro__g *tail, int n)
{
    goro__lock_acquire(&goro__s.lock);
    tail->schedlink = NULL;
    if (goro__s.runqtail)
        goro__s.runqtail->schedlink = head;
    else
        goro__s.runqhead = head;
    goro__s.runqtail = tail;
    /* seq_cst: pairs with the recheck in findrunnable (see top of file). */
    atomic_fetch_add(&goro__s.runqsize, n);
    goro__lock_release(&goro__s.lock);
}

static void globrunq_put(goro__g *g)
{
    globrunq_put_list(g, g, 1);
}

/* Queues gs[0..n) (n <= GBATCH) on the global queue as one batch. */
static void globrunq_put_array(goro__g **gs, uint32_t n)
{
    struct goro__gbatch *b;

    goro__lock_acquire(&goro__s.lock);
    b = goro__s.bfree;
    if (b) {
        goro__s.bfree = b->next;
        goro__s.nbfree--;
    } else {
        goro__lock_release(&goro__s.lock);
        b = goro__malloc(sizeof *b);
        if (!b) { /* no memory: link them through the Gs instead */
            for (uint32_t i = 0; i + 1 < n; i++)
                gs[i]->schedlink = gs[i + 1];
            globrunq_put_list(gs[0], gs[n - 1], (int)n);
            return;
        }
        goro__lock_acquire(&goro__s.lock);
    }
    /* The library is not instrumented, but TSan intercepts memcpy: a batch
     * recycled through bfree under sched.lock (invisible to TSan) would
     * look raced.  Hide the copy, as goro__malloc hides malloc. */
    goro__tsan_ignore_begin();
    memcpy(b->g, gs, n * sizeof *gs);
    goro__tsan_ignore_end();
    b->head = 0;
    b->n = n;
    b->next = NULL;
    if (goro__s.btail)
        goro__s.btail->next = b;
    else
        goro__s.bhead = b;
    goro__s.btail = b;
    atomic_fetch_add(&goro__s.runqsize, (int)n); /* seq_cst, as above */
    goro__lock_release(&goro__s.lock);
}

/* Takes a batch from the global queue into p; sched.lock held.  Returns one
 * G to run, or NULL.  max 0 means no limit beyond fairness. */
static goro__g *globrunq_get(goro__p *p, int max);

/* Moves half of p's local queue plus g to the global queue, when the local
 * queue is full.  Returns false if thieves raced us (then retry the put). */
static bool runq_put_slow(goro__p *p, goro__g *g, uint32_t h, uint32_t t)
{
    goro__g *batch[GBATCH];
    uint32_t n = (t - h) / 2;

    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(&p->runq[(h + i) % GORO_RUNQ_SIZE], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + n, memory_order_release,
                                                 memory_order_relaxed))
        return false;
    batch[n] = g;
    globrunq_put_array(batch, n + 1);
    return true;
}

/* Queues g at the tail of p (owner only).  fence: a seq_cst store for (B),
 * which pairs with (A) in findrunnable so that a G queued as the last
 * spinning M gives up is seen by it or by the caller's wakep; without, a
 * release store, where the caller's P stays busy and will run g itself (a
 * yield).  The two stores are spelled out: given a memory order that is
 * not a constant, the compiler emits the seq_cst exchange for both, which
 * was a fifth of a yield's time. */
static void runq_put_tail(goro__p *p, goro__g *g, bool fence)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
        if (t - h < GORO_RUNQ_SIZE) {
            atomic_store_explicit(&p->runq[t % GORO_RUNQ_SIZE], g, memory_order_relaxed);
            if (fence)
                atomic_store_explicit(&p->runqtail, t + 1, memory_order_seq_cst);
            else
                atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);
            return;
        }
        if (runq_put_slow(p, g, h, t))
            return;
    }
}

/* Queues g on p (owner only).  next: put it in runnext, so that it runs
 * next, and kick whatever was there to the tail. */
static void runq_put(goro__p *p, goro__g *g, bool next)
{
    if (next) {
        /* One P: the locked exchange guards against thieves, and there is
         * no other P to steal.  Thieves only ever take runnext (a CAS of the
         * G they saw to NULL) and only the owner stores a G there, so an
         * empty runnext stays empty until we fill it: a release store will
         * do.  With more Ps the exchange stays, for its full fence: it
         * orders the store before wakep's loads, against a spinning M that
         * gives up ((A) in findrunnable), as (B) does for the tail.  Should
         * goro_maxprocs raise the count meanwhile, the G still runs here
         * next; only its early steal may be missed. */
        if (atomic_load_explicit(&goro__s.nprocs, memory_order_relaxed) == 1 &&
            !atomic_load_explicit(&p->runnext, memory_order_relaxed)) {
            atomic_store_explicit(&p->runnext, g, memory_order_release);
            return;
        }
        g = atomic_exchange_explicit(&p->runnext, g, memory_order_acq_rel);
        if (!g)
            return;
    }
    runq_put_tail(p, g, true); /* (B) */
}

/* Starts loading the G at p's queue head into the cache: it is likely the
 * next to run, and a queued G has usually gone cold (it sits at the top of
 * its stack, one page or more from any other).  A stale slot is harmless:
 * a prefetch never faults. */
static inline void runq_prefetch(goro__p *p, uint32_t h)
{
    if (h != atomic_load_explicit(&p->runqtail, memory_order_relaxed)) {
        const char *n = (const char *)atomic_load_explicit(&p->runq[h % GORO_RUNQ_SIZE],
                                                           memory_order_relaxed);
        __builtin_prefetch(n);
        __builtin_prefetch(n + 64);
    }
}

/* A G starts a new time slice on p (owner only): sysmon times slices by
 * watching slicetick change (see "Time slices" at the top of the file). */
static inline void slice_start(goro__p *p)
{
    atomic_store_explicit(&p->slicetick, p->slicetick + 1, memory_order_relaxed);
}

/* Dequeues from p (owner only): runnext first, then the head.  A G from
 * runnext inherits the running time slice; one from the head starts a new
 * one, counted here (Go: runqget's inheritTime).  Every G dequeued is
 * about to run, but for p_retire's drain, where the count is harmless. */
static goro__g *runq_get(goro__p *p)
{
    goro__g *g = atomic_load_explicit(&p->runnext, memory_order_relaxed);
    if (g && atomic_compare_exchange_strong_explicit(&p->runnext, &g, NULL, memory_order_acquire,
                                                     memory_order_relaxed)) {
        runq_prefetch(p, atomic_load_explicit(&p->runqhead, memory_order_relaxed));
        return g;
    }
    for (;;) {
        uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
        if (t == h)
            return NULL;
        g = atomic_load_explicit(&p->runq[h % GORO_RUNQ_SIZE], memory_order_relaxed);
        /* The slot is valid if head did not move: the owner reuses a slot
         * only after head has passed it. */
        if (atomic_compare_exchange_weak_explicit(&p->runqhead, &h, h + 1, memory_order_release,
                                                  memory_order_relaxed)) {
            runq_prefetch(p, h + 1);
            slice_start(p);
            return g;
        }
    }
}

bool goro__runqs_empty(void)
{
    int nallp = atomic_load(&goro__s.nallp); /* retired Ps too, until drained */
    if (atomic_load(&goro__s.runqsize) > 0)
        return false;
    for (int i = 0; i < nallp; i++) {
        goro__p *p = goro__s.allp[i];
        if (p && (atomic_load(&p->runqhead) != atomic_load(&p->runqtail) ||
                  atomic_load(&p->runnext)))
            return false;
    }
    return true;
}

static bool runq_empty(goro__p *p)
{
    uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_seq_cst);
    uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_seq_cst);
    return h == t && !atomic_load_explicit(&p->runnext, memory_order_seq_cst);
}

/* Takes half of victim's queue into batch (at most GORO_RUNQ_SIZE / 2).
 * Proof sketch: we read head, tail, then the slots, and commit by CAS on
 * head; if the CAS succeeds no one consumed those slots in between, and the
 * owner cannot have overwritten them, since it writes only beyond tail and
 * the ring holds at most GORO_RUNQ_SIZE entries past head. */
static uint32_t runq_grab(goro__p *victim, goro__g **batch, bool steal_next)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&victim->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&victim->runqtail, memory_order_acquire);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (!steal_next)
                return 0;
            goro__g *next = atomic_load_explicit(&victim->runnext, memory_order_acquire);
            if (!next)
                return 0;
            /* The owner is likely about to run it (a ping-pong pair, or a
             * producer about to block on a full channel): give it a moment
             * rather than split the pair across cores, where they would
             * contend for the same locks.  Go sleeps 3 us here too; Linux
             * rounds that up by its timer slack, which is the point. */
            if (atomic_load_explicit(&victim->status, memory_order_relaxed) == P_RUNNING) {
                struct timespec ts = {0, 3000};
                goro__sys_nanosleep(&ts, NULL);
            }
            if (!atomic_compare_exchange_strong_explicit(&victim->runnext, &next, NULL,
                                                         memory_order_acquire,
                                                         memory_order_relaxed))
                continue;
            batch[0] = next;
            return 1;
        }
        if (n > GORO_RUNQ_SIZE / 2)
            continue; /* read an inconsistent head/tail pair */
        for (uint32_t i = 0; i < n; i++)
            batch[i] = atomic_load_explicit(&victim->runq[(h + i) % GORO_RUNQ_SIZE],
                                            memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&victim->runqhead, &h, h + n,
                                                    memory_order_release, memory_order_relaxed))
            return n;
    }
}

/* Steals from victim into p (whose queue is empty); returns one G to run. */
static goro__g *runq_steal(goro__p *p, goro__p *victim, bool steal_next)
{
    goro__g *batch[GORO_RUNQ_SIZE / 2];
    uint32_t n = runq_grab(victim, batch, steal_next);

    if (n == 0)
        return NULL;
    atomic_fetch_add_explicit(&p->nsteal, n, memory_order_relaxed);
    for (uint32_t i = 1; i < n; i++)
        runq_put(p, batch[i], false);
    return batch[0];
}

/* Moves everything queued on p, runnext first, to the global queue; returns
 * how many Gs moved.  Safe from any thread (a retired P's queue, drained by
 * whoever retires it): it takes the Gs as a thief does, by CAS, and never
 * waits for runnext's owner. */
static int p_drain(goro__p *p)
{
    goro__g *batch[GBATCH];
    uint32_t n = 0, k;
    int total = 0;
    goro__g *next = atomic_exchange_explicit(&p->runnext, NULL, memory_order_acq_rel);

    if (next)
        batch[n++] = next;
    do {
        k = runq_grab(p, batch + n, false); /* at most GBATCH - 1 */
        n += k;
        if (n > 0)
            globrunq_put_array(batch, n);
        total += (int)n;
        n = 0;
    } while (k > 0);
    return total;
}

/* Takes up to n Gs from the global lists into out; sched.lock held.
 * Single Gs and batches take turns going first, so neither starves. */
static int globrunq_take(goro__g **out, int n)
{
    int got = 0;

    for (int pass = 0; pass < 2 && got < n; pass++) {
        if (goro__s.take_single == (pass == 0)) {
            while (got < n && goro__s.runqhead) {
                out[got++] = goro__s.runqhead;
                goro__s.runqhead = goro__s.runqhead->schedlink;
            }
            if (!goro__s.runqhead)
                goro__s.runqtail = NULL;
        } else {
            struct goro__gbatch *b;
            while (got < n && (b = goro__s.bhead)) {
                uint32_t k = b->n - b->head;
                if (k > (uint32_t)(n - got))
                    k = (uint32_t)(n - got);
                goro__tsan_ignore_begin(); /* see globrunq_put_array */
                memcpy(out + got, b->g + b->head, k * sizeof *out);
                goro__tsan_ignore_end();
                got += (int)k;
                b->head += k;
                if (b->head < b->n)
                    break;
                goro__s.bhead = b->next;
                if (!goro__s.bhead)
                    goro__s.btail = NULL;
                if (goro__s.nbfree < GBATCH_SPARE) {
                    b->next = goro__s.bfree;
                    goro__s.bfree = b;
                    goro__s.nbfree++;
                } else {
                    goro__free(b); /* a free-list pop, not worth unlocking for */
                }
            }
        }
    }
    goro__s.take_single = !goro__s.take_single;
    return got;
}

static goro__g *globrunq_get(goro__p *p, int max)
{
    int size = atomic_load_explicit(&goro__s.runqsize, memory_order_relaxed);
    int nprocs = atomic_load_explicit(&goro__s.nprocs, memory_order_relaxed);
    goro__g *gs[GORO_RUNQ_SIZE / 2];
    int n;

    if (size == 0)
        return NULL;
    n = size / nprocs + 1;
    if (n > size)
        n = size;
    if (max > 0 && n > max)
        n = max;
    if (n > GORO_RUNQ_SIZE / 2)
        n = GORO_RUNQ_SIZE / 2;
    n = globrunq_take(gs, n);
    atomic_fetch_sub(&goro__s.runqsize, n);
    for (int i = 1; i < n; i++)
        runq_put(p, gs[i], false);
    return n > 0 ? gs[0] : NULL;
}

/* ---- starting and stopping Ms ------------------------------------------- */

static void *mstart(void *arg);

/* Thread creation can fail (RLIMIT_NPROC, a seccomp filter, no memory).
 * startm then gives the P back to the idle list, records when the failures
 * began, and wakes sysmon, which retries while runnable work waits on idle
 * Ps and throws once no M at all could run it for NEWM_FATAL_AFTER (see
 * newm_retry).  A thread started clears the record. */
static _Atomic int64_t newm_failing_since; /* 0: no failure outstanding */
static _Atomic int newm_errno;

static void newm_failed(int e)
{
    int64_t none = 0;

    atomic_store(&newm_errno, e);
    atomic_compare_exchange_strong(&newm_failing_since, &none, goro__nanotime());
    sysmon_kick();
}

/* Runs p on an idle M, or a new one (Go: startm).  p NULL: take an idle P,
 * and give up if there is none.  spinning: the M starts out spinning (the
 * caller counted it in nmspinning). */
static void startm(goro__p *p, bool spinning)
{
    goro__m *m;

    goro__lock_acquire(&goro__s.lock);
    if (!p) {
        p = pidleget();
        if (!p) {
            goro__lock_release(&goro__s.lock);
            if (spinning)
                atomic_fetch_sub(&goro__s.nmspinning, 1);
            return;
        }
    }
    m = mget();
    if (m) {
        m->spinning = spinning;
        m->nextp = p;
        goro__lock_release(&goro__s.lock);
        goro__m_wake(m);
        return;
    }
    int id = goro__s.mcount++;
    goro__lock_release(&goro__s.lock);

    m = goro__calloc(1, sizeof *m);
    int e = ENOMEM;
    if (m) {
        m->id = id;
        m->spinning = spinning;
        m->nextp = p;
        m->alllink = atomic_load(&goro__s.allm);
        e = goro__thread_start(mstart, m, 0);
        if (e == 0) {
            /* Only this thread (startm callers hold no lock) and sysmon's
             * readers: publish with a CAS loop. */
            while (!atomic_compare_exchange_weak(&goro__s.allm, &m->alllink, m))
                ;
            if (atomic_load_explicit(&newm_failing_since, memory_order_relaxed))
                atomic_store(&newm_failing_since, 0);
            return;
        }
        goro__free(m);
    }
    /* No thread: give the P back.  Work queued stays queued for the Ms
     * that exist; if there are none, sysmon retries (newm_retry). */
    goro__lock_acquire(&goro__s.lock);
    pidleput(p);
    goro__lock_release(&goro__s.lock);
    if (spinning)
        atomic_fetch_sub(&goro__s.nmspinning, 1);
    newm_failed(e);
}

/* Wakes an idle P if there is one and no M is spinning (Go: wakep). */
static void wakep(void)
{
    int zero = 0;

    if (atomic_load(&goro__s.npidle) == 0)
        return;
    if (atomic_load(&goro__s.nmspinning) != 0 ||
        !atomic_compare_exchange_strong(&goro__s.nmspinning, &zero, 1))
        return;
    startm(NULL, true);
}

void goro__wakep(void)
{
    wakep();
}

static bool p_has_work(goro__p *p)
{
    return !runq_empty(p) || atomic_load(&goro__s.runqsize) > 0 ||
           goro__timers_next() <= goro__nanotime();
}

static bool p_retire_held(goro__p *p);

/* Gives away p, which no M holds: to a new M if it has work, else to the
 * idle list (Go: handoffp).  A retired P is retired instead: its queue goes
 * to the global queue, for the Ms of the live Ps. */
static void handoffp(goro__p *p)
{
    if (unlikely(p_retired(p)) && p_retire_held(p)) {
        wakep();
        return;
    }
    if (!runq_empty(p)) {
        startm(p, false);
        return;
    }
    goro__lock_acquire(&goro__s.lock);
    if (atomic_load(&goro__s.runqsize) > 0) {
        goro__lock_release(&goro__s.lock);
        startm(p, false);
        return;
    }
    pidleput(p);
    goro__lock_release(&goro__s.lock);
}

/* Sleeps until another thread hands this M a P (m->nextp).  While it sleeps,
 * the first idle M (the timer M) also waits for the earliest timer of any
 * P, blocked in the network poller once there is one, so that one wait
 * covers "next timer or next I/O".  A timer added earlier than it sleeps
 * wakes it; one added while no M sleeps here starts an M that comes here
 * to become the timer M (kick in timer.c).  When it wakes on its own it
 * takes an idle P and fires the due timers on it, so the Gs they wake go
 * to a local run queue (Go fires timers only on a P too).  If every P is
 * busy, each fires its own timers as it schedules; the timer M then fires
 * only those a millisecond overdue (a P stuck in long-running code),
 * without a P, and does not wake again before another millisecond has
 * passed. */
static void stopm(goro__m *m)
{
    int64_t not_before = 0; /* earliest timed wake after finding all Ps busy */

    for (;;) {
        int64_t next, now;
        bool timed = false;
        goro__p *p;

        bool poll = goro__netpoll_inited();
        goro__lock_acquire(&goro__s.lock);
        next = goro__timers_next();
        if (next < not_before)
            next = not_before;
        if ((next != INT64_MAX || poll) && !goro__s.timer_m) {
            goro__s.timer_m = m;
            atomic_store(&goro__s.timer_m_until, next);
            timed = true;
        }
        atomic_store_explicit(&m->park, 0, memory_order_relaxed);
        mput(m);
        goro__lock_release(&goro__s.lock);

        if (timed && poll) {
            atomic_store(&m->polling, 1);
            if (!atomic_load(&m->park))
                goro__netpoll(next == INT64_MAX ? -1 : next);
            atomic_store(&m->polling, 0);
        } else {
            while (!atomic_load_explicit(&m->park, memory_order_acquire))
                if (goro__futex_wait(&m->park, 0, timed ? next : -1) == ETIMEDOUT)
                    break;
        }

        goro__lock_acquire(&goro__s.lock);
        if (goro__s.timer_m == m) {
            goro__s.timer_m = NULL;
            atomic_store(&goro__s.timer_m_until, INT64_MAX);
        }
        if (m->idle)
            munlink(m);
        p = m->nextp;
        m->nextp = NULL;
        goro__lock_release(&goro__s.lock);
        if (p) {
            acquirep(m, p);
            return;
        }
        /* Timed out, polled, or a spurious wake.  Gs readied by the poller
         * went to the global queue. */
        now = goro__nanotime();
        goro__lock_acquire(&goro__s.lock);
        bool due = goro__timers_next() <= now;
        if ((due || atomic_load(&goro__s.runqsize) > 0) && (p = pidleget())) {
            goro__lock_release(&goro__s.lock);
            acquirep(m, p);
            goro__timers_run_all(now);
            return;
        }
        goro__lock_release(&goro__s.lock);
        if (due) {
            goro__timers_run_all(now - GORO_MILLISECOND);
            not_before = now + GORO_MILLISECOND;
        } else {
            not_before = 0; /* nothing due yet: woken early, e.g. by kick */
        }
    }
}

/* ---- finding work ------------------------------------------------------- */

static void reset_spinning(goro__m *m)
{
    m->spinning = false;
    /* We found work and stop spinning: if we were the last spinner, another
     * M should look for more (Go: resetspinning). */
    if (atomic_fetch_sub(&goro__s.nmspinning, 1) == 1)
        wakep();
}

static uint64_t p_rand(goro__p *p)
{
    uint64_t x = p->rand;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return p->rand = x;
}

/* Retires p after goro_maxprocs() lowered the count below its id: its
 * queue goes to the global queue, its caches to the global pool, its timers
 * to a live P, and it becomes P_DEAD, owned by no one.  The caller holds p
 * alone: as its M, busy (m|1), or having taken it from its M by CAS to 0
 * (p_take_retired).  Returns false, with p still the caller's, when the
 * count was raised above p's id again meanwhile. */
static bool p_retire_held(goro__p *p)
{
    int n;

    p_drain(p);
    goro__stack_flush(p);
    goro__lock_acquire(&goro__s.lock);
    n = atomic_load(&goro__s.nprocs);
    if (p->id < n) {
        goro__lock_release(&goro__s.lock); /* raised again meanwhile */
        return false;
    }
    p_owner_clear(p);
    atomic_store(&p->status, P_DEAD);
    /* Under sched.lock, as goro_maxprocs does: n cannot change under us,
     * and n <= p->id, so the target is a live P other than p. */
    goro__timers_move(&p->timers, &goro__s.allp[p->id % n]->timers);
    goro__lock_release(&goro__s.lock);
    goro__timers_kick();
    return true;
}

/* Takes retired p from the M whose goroutine runs on it, as sysmon takes
 * the P of a blocked thread (CAS of the owner word from m to 0), and
 * retires it.  The goroutine runs on without a P until it next parks,
 * yields or exits; its M then sleeps (execute).  Goro cannot preempt it:
 * until then it still occupies its thread, so one goroutine more than the
 * new count may run at once.  Nothing is done when p is idle, dead, in
 * transit to an M (owner 0), or in use inside the runtime (owner m|1): its
 * M then retires it itself when it next schedules, and if it runs a G
 * instead, sysmon calls this again.  Returns whether p was taken. */
static bool p_take_retired(goro__p *p)
{
    uintptr_t owner = atomic_load_explicit(&p->owner, memory_order_acquire);

    if (owner == 0 || p_busy(owner) || atomic_load(&p->status) != P_RUNNING ||
        !p_take(p, owner))
        return false;
    if (!p_retire_held(p)) {
        handoffp(p); /* the count went up again: a live P, with no M */
        return true;
    }
    wakep(); /* for what its queue held */
    return true;
}

/* Retires m's P when m finds it retired as it schedules. */
static void p_retire(goro__m *m, goro__p *p)
{
    if (!p_retire_held(p))
        return;
    m->p = NULL;
    if (m->spinning) {
        /* We were counted as spinning (woken by wakep for this P): stop,
         * or wakep would believe someone still looks for work. */
        m->spinning = false;
        atomic_fetch_sub(&goro__s.nmspinning, 1);
    }
    wakep();
    stopm(m);
}

/* Fires p's due timers: the Gs they wake go to p's run queue. */
static void run_timers(goro__p *p)
{
    if (goro__timers_next_of(&p->timers) != INT64_MAX)
        goro__timers_run(&p->timers, goro__nanotime());
}

/* The time slice running on p is over (sysmon set p->preempt): the G in
 * runnext would inherit it, so it goes to the back of the queue instead,
 * behind the Gs that have waited there.  Returns whether it was over. */
static bool slice_end(goro__p *p)
{
    goro__g *g;

    if (likely(!atomic_load_explicit(&p->preempt, memory_order_relaxed)))
        return false;
    atomic_store_explicit(&p->preempt, 0, memory_order_relaxed);
    g = atomic_exchange_explicit(&p->runnext, NULL, memory_order_acquire);
    if (g)
        runq_put_tail(p, g, false); /* p stays busy: no wakep */
    return true;
}

/* Returns the next G for m, blocking until there is one; *fresh says
 * whether it must start a new time slice (it came from anywhere but the
 * local queue, where runq_get counts slices).  m holds its P (busy) on
 * entry and on return (Go: findrunnable + schedule). */
static goro__g *findrunnable(goro__m *m, bool *fresh)
{
    goro__p *p;
    goro__g *g;
    bool over;

    *fresh = true;
top:
    p = m->p;
    if (unlikely(p->id >= atomic_load_explicit(&goro__s.nprocs, memory_order_relaxed))) {
        p_retire(m, p);
        goto top;
    }
    run_timers(p);
    over = slice_end(p);
    p->schedtick++;
    if ((p->schedtick % 61 == 0 || over) &&
        atomic_load_explicit(&goro__s.runqsize, memory_order_relaxed) > 0) {
        goro__lock_acquire(&goro__s.lock);
        g = globrunq_get(p, 1);
        goro__lock_release(&goro__s.lock);
        if (g)
            return g;
    }
    if ((g = runq_get(p))) {
        *fresh = false;
        return g;
    }
    if (atomic_load_explicit(&goro__s.runqsize, memory_order_relaxed) > 0) {
        goro__lock_acquire(&goro__s.lock);
        g = globrunq_get(p, 0);
        goro__lock_release(&goro__s.lock);
        if (g)
            return g;
    }

    /* Ready fds, without blocking, if no M is blocked polling already. */
    if (goro__netpoll_pending() && !goro__netpoll_blocked() && goro__netpoll(0) > 0 &&
        (g = runq_get(p)))
        return g;

    /* Steal.  Limit spinners to half the busy Ps. */
    int nprocs = atomic_load(&goro__s.nprocs);
    if (!m->spinning) {
        if (2 * atomic_load(&goro__s.nmspinning) >= nprocs - atomic_load(&goro__s.npidle))
            goto stop;
        m->spinning = true;
        atomic_fetch_add(&goro__s.nmspinning, 1);
    }
    for (int round = 0; round < 4; round++) {
        int start = (int)(p_rand(p) % (uint64_t)nprocs);
        for (int i = 0; i < nprocs; i++) {
            goro__p *v = goro__s.allp[(start + i) % nprocs];
            if (!v || v == p)
                continue;
            if ((g = runq_steal(p, v, round == 3)))
                return g;
            /* Last round: fire v's due timers here, its M being busy
             * (Go: stealWork). */
            if (round == 3 && goro__timers_next_of(&v->timers) != INT64_MAX &&
                goro__timers_run(&v->timers, goro__nanotime()) > 0 && (g = runq_get(p)))
                return g;
        }
    }

stop:
    goro__lock_acquire(&goro__s.lock);
    if ((g = globrunq_get(p, 0))) {
        goro__lock_release(&goro__s.lock);
        return g;
    }
    releasep(m);
    pidleput(p);
    goro__lock_release(&goro__s.lock);

    if (m->spinning) {
        m->spinning = false;
        /* (A): seq_cst, pairs with (B) in runq_put. */
        atomic_fetch_sub(&goro__s.nmspinning, 1);
        bool work = atomic_load(&goro__s.runqsize) > 0;
        for (int i = 0; !work && i < nprocs; i++)
            work = goro__s.allp[i] && !runq_empty(goro__s.allp[i]);
        if (work) {
            goro__lock_acquire(&goro__s.lock);
            p = pidleget();
            goro__lock_release(&goro__s.lock);
            if (p) {
                acquirep(m, p);
                m->spinning = true;
                atomic_fetch_add(&goro__s.nmspinning, 1);
                goto top;
            }
        }
    }
    stopm(m);
    goto top;
}

/* ---- switching ---------------------------------------------------------- */

/* g0 -> g.  Returns when g switches back to g0. */
static void switch_to_g(goro__m *m, goro__g *g)
{
    void *fake = NULL;

    goro__san_switch_begin(g->tsan_fiber, &fake, g->stack_lo,
                           (size_t)(g->stack_hi - g->stack_lo));
    goro__switch(&m->g0_sp, g->sp);
    goro__san_switch_end(fake);
}

static void finish(goro__m *m, goro__g *g, goro__p *p);

/* Completes a direct switch (see switch_away) in the context of the G that
 * was switched to: its predecessor's request is carried out here, with the
 * P still held busy. */
static inline void finish_direct(goro__m *m)
{
    goro__g *prev = m->finish_g;

    /* TSan: this thread's setup (its TLS, errno included) happened before
     * any goroutine runs on it; the sync object holds only that. */
    goro__hb_acquire(&m->tls_sync);

    if (!prev)
        return; /* we came from g0, which did it */
    m->finish_g = NULL;
    m->holding_p = true;
    finish(m, prev, m->p);
    m->holding_p = false;
    p_exit(m, m->p);
}

/* The local G to switch to directly from the running one, or NULL when g0
 * must step in: for locked threads, GORO_DEBUG=migrate, every 61st tick
 * (the global queue and timers get their turn in findrunnable), a retired
 * P (findrunnable retires it), at the end of a time slice (findrunnable
 * sends the runnext G to the back), or when the local queue is empty.  p is
 * held busy. */
static goro__g *direct_next(goro__m *m, goro__p *p)
{
    goro__g *next;

    if (m->lockedg || goro__s.debug_migrate || (p->schedtick + 1) % 61 == 0 ||
        unlikely(p_retired(p)) || atomic_load_explicit(&p->preempt, memory_order_relaxed))
        return NULL;
    next = runq_get(p);
    if (next && next->lockedm) {
        runq_put(p, next, true); /* g0 hands it to its thread */
        return NULL;
    }
    return next;
}

/* g gives up its M, asking for action (GA_PARK, GA_YIELD, GA_EXIT), and
 * returns when g is resumed, possibly on another thread.
 *
 * Fast path: switch straight to the next G of this P's queue, G -> G'.
 * The P stays busy (p->owner m|1) across the switch, and g's request is
 * carried out by G' right after it resumes (finish_direct): g's registers
 * are saved by then, so the park protocol holds as it does through g0.
 * Slow path: switch to g0, whose execute() carries out the request and runs
 * the scheduler. */
static void switch_away(goro__g *g, int action)
{
    goro__fork_check(); /* a child of fork() has no other goroutines' threads */
    if (unlikely(g->syscall_depth))
        goro__throw("goroutine %llu switched away inside a system call (goro__syscall_enter "
                    "without goro__syscall_exit)",
                    (unsigned long long)g->id);
    /* The canary lives in the top page of the slot below: start fetching it
     * now, so that finish()'s check after the switch does not stall on it. */
    if (g->canary)
        __builtin_prefetch((const void *)g->canary);
    goro__m *m = goro__getm();
    goro__p *p = p_enter(m);
    goro__g *next = p ? direct_next(m, p) : NULL;

    g->action = (uint8_t)action;
    if (next) {
        p->schedtick++;
        atomic_store_explicit(&p->schedtick_pub, p->schedtick, memory_order_relaxed);
        atomic_store_explicit(&next->status, G_RUNNING, memory_order_relaxed);
        next->m = m;
        next->last_m = m;
        m->curg = next;
        m->finish_g = g;
        goro__san_switch_begin(next->tsan_fiber, action == GA_EXIT ? NULL : &g->asan_fake_stack,
                               next->stack_lo, (size_t)(next->stack_hi - next->stack_lo));
        goro__switch(&g->sp, next->sp);
    } else {
        if (p)
            p_exit(m, p);
        goro__san_switch_begin(m->tsan_fiber, action == GA_EXIT ? NULL : &g->asan_fake_stack,
                               m->g0_stack_lo, m->g0_stack_size);
        goro__switch(&g->sp, m->g0_sp);
    }
    /* Resumed, by g0 or directly by another G, on this or another M. */
    goro__san_switch_end(g->asan_fake_stack);
    finish_direct(goro__getm());
}

/* First C code of every goroutine (called by goro__trampoline). */
static void gmain(void *arg) GORO_NORETURN;
static void gmain(void *arg)
{
    goro__g *g = arg;

    goro__san_switch_end(NULL);
    finish_direct(goro__getm());
    goro__hb_acquire(g); /* the spawn happens before the goroutine starts */
    g->fn(g->arg);
    if (unlikely(g->bubble))
        goro__hb_release(g->bubble); /* its work happens before goro_bubble_run returns */
    switch_away(g, GA_EXIT);
    goro__throw("dead goroutine %llu resumed", (unsigned long long)g->id);
}

/* Carries out what g asked for when it switched away (on g0 from execute,
 * or in the next G from finish_direct).  p: m's P, held busy, or NULL when
 * sysmon took it while g ran. */
static void finish(goro__m *m, goro__g *g, goro__p *p)
{
    goro__stack_check(g);
    /* A locked M sleeps on m->park until its G is handed back; arm it
     * before the G can be readied (unlockf, requeue below), or the wake
     * could come before stop_locked_m waits and be lost. */
    if (m->lockedg)
        atomic_store_explicit(&m->park, 0, memory_order_relaxed);

    switch (g->action) {
    case GA_PARK:
        atomic_store_explicit(&m->nparks, m->nparks + 1, memory_order_relaxed);
        atomic_store_explicit(&g->status, G_WAITING, memory_order_release);
        if (unlikely(g->bubble))
            goro__bubble_park(g); /* runs unlockf, and counts g blocked */
        else if (g->unlockf)
            g->unlockf(g->unlockarg);
        break;
    case GA_YIELD:
        atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
        /* Behind the local queue, or behind the global one when that holds
         * work, so a yielding loop cannot starve it (Go: goschedImpl).
         * GORO_DEBUG=migrate sends it to the global queue for another M to
         * take, when there is another P for one. */
        if (p && (!goro__s.debug_migrate || atomic_load(&goro__s.nprocs) == 1) && !m->lockedg &&
            atomic_load_explicit(&goro__s.runqsize, memory_order_relaxed) == 0) {
            runq_put_tail(p, g, false); /* p stays busy: no wakep */
        } else {
            globrunq_put(g);
            wakep();
        }
        break;
    case GA_PREEMPT:
        /* Behind everything queued: the Gs of this P's local queue, and
         * those its due timers wake, run first (see "System calls"). */
        atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
        globrunq_put(g);
        wakep();
        break;
    case GA_EXIT:
        atomic_store_explicit(&g->status, G_DEAD, memory_order_relaxed);
        if (m->lockedg == g)
            m->lockedg = NULL;
        g->lockedm = NULL;
        g->lock_count = 0;
        if (unlikely(g->bubble))
            goro__bubble_exit(g);
        if (p)
            atomic_store_explicit(&p->nexited, p->nexited + 1, memory_order_relaxed);
        else
            atomic_fetch_add(&goro__s.nexited_nop, 1);
        goro__stack_free(p, g);
        break;
    default:
        goro__throw("goroutine %llu switched away without an action",
                    (unsigned long long)g->id);
    }
}

/* Runs g on m until the scheduler is needed again, then finishes the
 * request of the G that switched back (g, or one g switched to directly).
 * fresh: g starts a new time slice (see findrunnable).  Returns with m
 * holding a P (busy) again, except on a locked M that lost its P while its
 * G ran: schedule() then waits for the G in stop_locked_m, which needs no P
 * (see "Locked threads" below). */
static void execute(goro__m *m, goro__g *g, bool fresh)
{
    goro__p *p = m->p;

    if (fresh)
        slice_start(p);
    atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
    g->m = m;
    g->last_m = m;
    m->curg = g;
    atomic_store_explicit(&p->schedtick_pub, p->schedtick, memory_order_relaxed);
    p_exit(m, p); /* from here sysmon may take the P */

    switch_to_g(m, g);

    g = m->curg; /* the G that came back to g0 */
    m->curg = NULL;
    p = p_enter(m); /* NULL: sysmon handed our P to another M */
    finish(m, g, p);
    if (!p && !m->lockedg)
        stopm(m);
}

/* ---- locked threads (Go: stoplockedm, startlockedm) --------------------- */

/* A locked M runs only its locked G.  While that G is not running the M
 * sleeps on m->park, holding no P and on no idle list: only the M that
 * finds the G runnable (start_locked_m) wakes it, handing it that M's P in
 * m->nextp.  So a locked M always gets its P back the same way, whether it
 * gave its P away here or sysmon took it while the G blocked the thread
 * (execute() then returns without a P and without calling stopm: on the
 * idle list the M could be woken for another P, which this function would
 * give away, and it would then resume with none). */

/* m's locked G is not running: give the P away, if m still has one, and
 * sleep until someone hands a P back with the locked G runnable. */
static void stop_locked_m(goro__m *m)
{
    goro__p *p = releasep(m);

    /* m->park was cleared in finish() before the G could be readied. */
    if (p)
        handoffp(p);
    while (!atomic_load_explicit(&m->park, memory_order_acquire))
        goro__futex_wait(&m->park, 0, -1);
    p = m->nextp;
    m->nextp = NULL;
    GORO_CHECK(p, "locked thread (M %d) woken without a P", m->id);
    acquirep(m, p);
}

/* g is locked to another M: hand it our P, and sleep. */
static void start_locked_m(goro__m *m, goro__g *g)
{
    goro__m *lm = g->lockedm;
    goro__p *p = releasep(m);

    lm->nextp = p;
    goro__m_wake(lm);
    stopm(m);
}

/* ---- the scheduler loop ------------------------------------------------- */

static void schedule(goro__m *m)
{
    for (;;) {
        goro__g *g;
        bool fresh = true;

        if (m->lockedg) {
            stop_locked_m(m);
            g = m->lockedg;
        } else {
            g = findrunnable(m, &fresh);
            if (m->spinning)
                reset_spinning(m);
            if (g->lockedm && g->lockedm != m) {
                start_locked_m(m, g);
                continue;
            }
            if (unlikely(goro__s.debug_migrate) && g->last_m == m &&
                atomic_load(&goro__s.nprocs) > 1 && g->migrate_skips < 3) {
                /* GORO_DEBUG=migrate: let another M take it. */
                g->migrate_skips++;
                globrunq_put(g);
                wakep();
                continue;
            }
            g->migrate_skips = 0;
        }
        execute(m, g, fresh);
    }
}

static void *mstart(void *arg)
{
    goro__m *m = arg;
    goro__p *p;

    tls_m = m;
    m->tid = (int)gettid();
    m->has_cpuclock = pthread_getcpuclockid(pthread_self(), &m->cpuclock) == 0;
    goro__sigaltstack_init();
    goro__san_thread_start(&m->tsan_fiber, &m->g0_stack_lo, &m->g0_stack_size);
    goro__hb_release(&m->tls_sync); /* once: see finish_direct */
    p = m->nextp;
    m->nextp = NULL;
    acquirep(m, p);
    schedule(m);
}

/* ---- system calls (Go: entersyscall, exitsyscall, exitsyscall0) --------- */

/* A goroutine about to make a system call that may block its thread (a
 * regular file's read, open, fsync, waitpid...) keeps its P but marks it
 * GORO_P_SYSCALL: CAS(owner m -> m|2).  sysmon watches such Ps every
 * SYSMON_SYSCALL_PERIOD; one whose syscalltick has not moved for a whole
 * period (the same call is still in progress) while something else needs
 * a P is taken by CAS(m|2 -> 0) and handed to another M (retake_syscall).
 * The call's return takes the P back by CAS(m|2 -> m): one CAS on a line
 * the M already owns, the fast path.  If the CAS fails, sysmon (or
 * goro_maxprocs) took the P: exit_slow takes an idle P if there is one,
 * else requeues the G and waits for a P on this same thread.
 *
 * Why the CAS pair is enough.  The owner word has one writer at a time
 * for each transition: the M moves m <-> m|2 and m <-> m|1, sysmon moves
 * m|2 -> 0 (and m -> 0), all by CAS (the M's m|1 -> m store happens only
 * while sysmon cannot CAS, since it never takes m|1).  So exactly one of
 * "the M's exit CAS" and "sysmon's take CAS" succeeds for each call: the
 * P is never held by two Ms, and never lost.
 *
 * syscalltick is stored before the enter CAS, which releases it: sysmon
 * loads the owner (acquire) and then the tick, so when it sees m|2 it sees
 * this call's tick, and a call entered just after an earlier one it saw
 * is never mistaken for that one (which would hand off a fresh call).
 *
 * Where goro differs from Go: the G never changes thread inside the
 * bracket.  The caller is C code around a libc call, and may hold the
 * address of errno or of other thread-local data across it (compilers
 * hoist __errno_location()), or a thread-affine lock.  So the slow path
 * locks the G to its M for the wait (as goro_lock_thread does) and the
 * locked-thread hand-back (start_locked_m) brings the P to this thread.
 *
 * Preemption at the exit: a goroutine that loops over short calls (reading
 * a file from the page cache) never leaves its P for sysmon to take, and
 * never switches.  sysmon sets p->preempt when such a P has due timers,
 * and the exit yields (on this thread, as above): the call's return is a
 * safe point, as it is in Go.  The exit's only cost for this is one load. */

/* Requeues g (running on m, possibly without a P) and returns once g runs
 * again, on m: g is locked to m meanwhile unless it already was, so some M
 * that dequeues it hands m its P (start_locked_m), and m, with no P, waits
 * in stop_locked_m.  Go: exitsyscall0 and goschedImpl, keeping the thread. */
static void resched_on_thread(goro__m *m, goro__g *g)
{
    bool temp = g->lockedm == NULL;

    if (temp) {
        g->lockedm = m;
        m->lockedg = g;
    }
    goro__gosched();
    GORO_CHECK(goro__getm() == m, "goroutine %llu left its thread in a system call",
               (unsigned long long)g->id);
    if (temp) {
        m->lockedg = NULL;
        g->lockedm = NULL;
    }
}

/* Requeues g on the global queue, where any M may take it (Go:
 * exitsyscall0, and goschedImpl after exitsyscall's preemption check).
 * With m's P still held, the Gs of its local queue and those its due
 * timers wake run first, on this thread; without one, m sleeps (execute). */
static void resched_any(goro__g *g)
{
    int e = goro__errno_get();
    switch_away(g, GA_PREEMPT);
    errno_set(e);
}

/* The system call's P was taken while it ran: take an idle P, or wait for
 * one (Go: exitsyscall's slow path). */
static GORO_NOINLINE void exit_slow(goro__m *m, goro__g *g, bool keep_thread)
{
    goro__p *p = NULL;

    m->p = NULL; /* another M holds it now, or it was retired */
    if (atomic_load(&goro__s.npidle) > 0) {
        goro__lock_acquire(&goro__s.lock);
        p = pidleget();
        goro__lock_release(&goro__s.lock);
    }
    if (p) {
        acquirep(m, p); /* busy (m|1): release it to this G's use */
        p_exit(m, p);
        return;
    }
    if (keep_thread)
        resched_on_thread(m, g);
    else
        resched_any(g);
}

void goro__syscall_enter(void)
{
    goro__m *m = tls_m; /* read afresh: this function is never inlined */
    goro__g *g;
    goro__p *p;
    uintptr_t mine;

    if (!m || !(g = m->curg))
        return; /* a plain thread, g0, or the runtime not started */
    if (g->syscall_depth++ > 0)
        return; /* nested: the outermost pair marks the P */
    g->syscall_p = NULL;
    p = m->p;
    if (!p || m->holding_p ||
        (goro__asym && atomic_load_explicit(&m->inuse, memory_order_relaxed)))
        return; /* no P, or the runtime holds it busy (m|1, or inuse) */
    /* Before the CAS, which releases it to sysmon (see above). */
    atomic_store_explicit(&p->syscalltick,
                          atomic_load_explicit(&p->syscalltick, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    mine = (uintptr_t)m;
    if (likely(atomic_compare_exchange_strong_explicit(&p->owner, &mine, mine | GORO_P_SYSCALL,
                                                       memory_order_release,
                                                       memory_order_relaxed))) {
        g->syscall_p = p;
        /* sysmon is in a long sleep (idle, or no call seen lately): wake
         * it, once, so that it starts watching within its fast period.
         * Best effort: a flag set just after this load costs one period. */
        if (unlikely(atomic_load_explicit(&goro__s.sysmon_syscall_kick, memory_order_relaxed)) &&
            atomic_exchange(&goro__s.sysmon_syscall_kick, 0)) {
            atomic_fetch_add(&goro__s.sysmon_wake, 1);
            goro__futex_wake(&goro__s.sysmon_wake, 1);
        }
    }
    /* Else the P was taken before the call (sysmon, goro_maxprocs) or is
     * busy in the runtime a signal handler interrupted: mark nothing; the
     * next runtime entry finds the P gone (p_enter). */
}

static inline void syscall_exit(bool keep_thread)
{
    goro__m *m = tls_m;
    goro__g *g;
    goro__p *p;
    uintptr_t in;

    if (!m || !(g = m->curg))
        return;
    if (unlikely(g->syscall_depth <= 0))
        goro__throw("goro__syscall_exit without goro__syscall_enter (goroutine %llu)",
                    (unsigned long long)g->id);
    if (g->syscall_depth > 1) {
        g->syscall_depth--;
        return;
    }
    p = g->syscall_p;
    if (!p) {
        g->syscall_depth = 0;
        return;
    }
    in = (uintptr_t)m | GORO_P_SYSCALL;
    if (likely(atomic_compare_exchange_strong_explicit(&p->owner, &in, (uintptr_t)m,
                                                       memory_order_acquire,
                                                       memory_order_relaxed))) {
        g->syscall_p = NULL;
        g->syscall_depth = 0;
        if (likely(!atomic_load_explicit(&p->preempt, memory_order_relaxed)))
            return;
        /* sysmon asks for the P (its timers are due).  Clear the flag: the
         * M that gets the P must not take the global queue, where this G
         * goes, before the Gs those timers wake (findrunnable). */
        atomic_store_explicit(&p->preempt, 0, memory_order_relaxed);
        int e = goro__errno_get();
        if (keep_thread)
            resched_on_thread(m, g);
        else
            resched_any(g);
        errno_set(e);
        return;
    }
    /* Out of the bracket before switching (switch_away checks), and after
     * the CAS: a signal handler that interrupts the exit nests inside. */
    int e = goro__errno_get();
    g->syscall_p = NULL;
    g->syscall_depth = 0;
    exit_slow(m, g, keep_thread);
    errno_set(e);
}

void goro__syscall_exit(void)
{
    syscall_exit(true);
}

void goro__syscall_exit_any(void)
{
    syscall_exit(false);
}

/* ---- sysmon ------------------------------------------------------------- */

/* Whether a P taken from a system call would find something to do that
 * no other M is there for: no P is idle and no M spins, and Gs wait in
 * the global queue, a timer is armed, or a goroutine waits for an fd (Go:
 * retake's "nmspinning + npidle > 0" test). */
static bool syscall_work_elsewhere(void)
{
    if (atomic_load(&goro__s.npidle) > 0 || atomic_load(&goro__s.nmspinning) > 0)
        return false;
    return atomic_load(&goro__s.runqsize) > 0 || goro__timers_next() != INT64_MAX ||
           goro__netpoll_pending();
}

/* CPU time m's thread has used, in ns; -1 if unknown. */
static int64_t m_cputime(goro__m *m)
{
    struct timespec ts;
    if (!m->has_cpuclock || clock_gettime(m->cpuclock, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * GORO_SECOND + ts.tv_nsec;
}

/* Whether m's thread is runnable (running, or waiting for a CPU) rather than
 * blocked in the kernel: the state letter of /proc/self/task/TID/stat, the
 * first field after the command's closing parenthesis.  false if unknown. */
static bool m_runnable(goro__m *m)
{
    char path[48], buf[256];
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/self/task/%d/stat", m->tid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return false;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    char *c = strrchr(buf, ')');
    return c && c[1] == ' ' && c[2] == 'R';
}

/* p's M (owner) has run one goroutine for RETAKE_AFTER while work waits.
 * Whether to take p from it.  Yes if the goroutine keeps its thread busy
 * (a long loop) or blocked in the kernel (a call it did not announce): a
 * new M then runs p's work.  No if the thread has hardly run because the
 * machine's CPUs are all taken (more runnable threads than CPUs): it is
 * runnable, waiting for a CPU, and a new thread would wait in the same
 * kernel run queue; each such hand-off would only add a thread (under a
 * loaded machine they piled up to several times the Ps), while other Ps
 * steal p's queued work anyway.  Telling the cases apart takes a probe
 * of at least RETAKE_PROBE: the thread's CPU time over it, and then, if
 * that was under an eighth, whether the thread is runnable.  A starved
 * thread gets a new RETAKE_AFTER.  Unknown (no CPU clock, no /proc):
 * take it, as before the probe.  Sysmon only; the Ms never go away, so
 * reading one after its P was taken is safe. */
static bool retake_running(goro__p *p, uintptr_t owner, int64_t now)
{
    goro__m *m = owner_m(owner);
    int64_t cpu = m_cputime(m);

    if (cpu < 0)
        return true;
    if (p->sysmon_probe_when == 0 || p->sysmon_probe_owner != owner) {
        p->sysmon_probe_owner = owner;
        p->sysmon_probe_when = now;
        p->sysmon_probe_cpu = cpu;
        return false;
    }
    int64_t span = now - p->sysmon_probe_when;
    if (span < RETAKE_PROBE)
        return false;
    p->sysmon_probe_when = 0;
    if ((cpu - p->sysmon_probe_cpu) * 8 >= span || !m_runnable(m))
        return true;
    p->sysmon_when = now; /* starved: a new RETAKE_AFTER */
    return false;
}

/* Gives away p, taken from an M in a system call: to an M, which runs its
 * work, fires its timers and polls, or to the idle list when there is
 * nothing at all to do (Go: handoffp). */
static void syscall_handoff(goro__p *p)
{
    if (!p_retired(p) && (goro__timers_next() != INT64_MAX || goro__netpoll_pending())) {
        startm(p, false);
        return;
    }
    handoffp(p);
}

/* p's M is in a system call (owner m|2, read as owner).  Hands p to
 * another M when that call has lasted one sysmon period (p's syscalltick
 * unchanged since the last look) and p's queue holds Gs or something else
 * needs a P, or when it has lasted RETAKE_AFTER in any case (Go: retake's
 * _Psyscall case).  moved: the tick changed since the last look. */
static void retake_syscall(goro__p *p, uintptr_t owner, bool moved, int64_t now)
{
    if (moved)
        return; /* a new call: give it one period */
    if (runq_empty(p) && now - p->sysmon_syscall_when < RETAKE_AFTER &&
        !syscall_work_elsewhere())
        return;
    /* Fails if the call returned meanwhile: then p is its M's again. */
    if (atomic_compare_exchange_strong(&p->owner, &owner, 0))
        syscall_handoff(p);
}

/* Takes Ps from Ms whose goroutine has held them for RETAKE_AFTER without
 * switching while other work waits, and from Ms in a system call (see
 * retake_syscall), and hands them to other Ms.  Retired Ps still held by
 * an M (goro_maxprocs() could not take them: their M was inside the
 * runtime) are taken at once.  *syscalls: some P is in a system call, or
 * its M made one since the last look (sysmon then ticks fast).  Returns
 * whether some retired P is still held (sysmon keeps looking). */
static bool retake(int64_t now, bool *syscalls)
{
    int nprocs = atomic_load(&goro__s.nprocs);
    int nallp = atomic_load(&goro__s.nallp);
    bool retiring = false;

    *syscalls = false;

    for (int i = nprocs; i < nallp; i++) {
        goro__p *p = goro__s.allp[i];
        if (p && atomic_load(&p->status) == P_RUNNING && !p_take_retired(p))
            retiring = true;
    }

    for (int i = 0; i < nprocs; i++) {
        goro__p *p = goro__s.allp[i];
        if (!p)
            continue;
        uintptr_t owner = atomic_load_explicit(&p->owner, memory_order_acquire);
        /* After the owner: see "System calls" for the order. */
        uint32_t stick = atomic_load_explicit(&p->syscalltick, memory_order_relaxed);
        bool moved = stick != p->sysmon_syscalltick;
        if (moved) {
            p->sysmon_syscalltick = stick;
            p->sysmon_syscall_when = now;
        }
        if (moved || (owner & GORO_P_SYSCALL)) {
            *syscalls = true;
            /* A goroutine that loops over short calls keeps p and never
             * switches: ask it to yield at its next exit when p's timers
             * are due, or when Gs have waited for SYSCALL_SLICE (a timer
             * fired elsewhere, overdue, readies its G to the global
             * queue).  See "System calls". */
            if (owner != 0 && (goro__timers_next_of(&p->timers) <= now ||
                               (now - p->sysmon_slice_when >= SYSCALL_SLICE &&
                                (atomic_load_explicit(&p->runqhead, memory_order_relaxed) !=
                                     atomic_load_explicit(&p->runqtail, memory_order_relaxed) ||
                                 atomic_load_explicit(&goro__s.runqsize, memory_order_relaxed) > 0))))
                atomic_store_explicit(&p->preempt, 1, memory_order_relaxed);
        }
        if (owner & GORO_P_SYSCALL) {
            retake_syscall(p, owner, moved, now);
            continue;
        }
        uint32_t tick = atomic_load_explicit(&p->schedtick_pub, memory_order_relaxed);
        if (owner == 0 || p_busy(owner) || tick != p->sysmon_tick) {
            p->sysmon_tick = tick;
            p->sysmon_when = now;
            p->sysmon_probe_when = 0;
            continue;
        }
        if (now - p->sysmon_when < RETAKE_AFTER || !p_has_work(p) ||
            !retake_running(p, owner, now))
            continue;
        if (p_take(p, owner)) {
            p->sysmon_when = now;
            startm(p, false);
        }
    }
    return retiring;
}

/* Runnable work waits while a P is idle and no M spins to find it: the
 * start of an M for it failed (startm).  Retries through wakep (an idle M,
 * or a new thread).  While the work waits with every P idle, no M at all
 * can run it: once that has lasted NEWM_FATAL_AFTER since thread creation
 * began failing, throws rather than hang.  Returns whether work waits
 * (sysmon keeps looking every period). */
static bool newm_retry(int64_t now)
{
    int nprocs = atomic_load(&goro__s.nprocs);
    bool work = atomic_load(&goro__s.runqsize) > 0;

    for (int i = 0; !work && i < nprocs; i++) {
        goro__p *p = goro__s.allp[i];
        work = p && atomic_load(&p->status) == P_IDLE && !runq_empty(p);
    }
    if (!work || atomic_load(&goro__s.npidle) == 0 || atomic_load(&goro__s.nmspinning) > 0) {
        if (atomic_load_explicit(&newm_failing_since, memory_order_relaxed))
            atomic_store(&newm_failing_since, 0); /* an M is on it: not stuck */
        return false;
    }
    wakep();
    int64_t since = atomic_load(&newm_failing_since);
    if (since == 0)
        return true;
    if (atomic_load(&goro__s.npidle) < atomic_load(&goro__s.nprocs)) {
        atomic_store(&newm_failing_since, now); /* an M holds a P: it will come */
        return true;
    }
    if (now - since >= NEWM_FATAL_AFTER) {
        int e = atomic_load(&newm_errno);
        goro__throw("cannot create an OS thread to run goroutines: %s (errno %d); runnable "
                    "goroutines waited %lld ms with no thread to run them (RLIMIT_NPROC, "
                    "ulimit -u?)",
                    strerror(e), e, (long long)((now - since) / GORO_MILLISECOND));
    }
    return true;
}

/* Ends time slices that have lasted TIMESLICE while other Gs wait for p's
 * M: sets p->preempt, which the M reads at its next switch (direct_next,
 * findrunnable).  Preemption is cooperative: a G that never switches is
 * dealt with by retake instead.  Go: sysmon's preemptone after
 * forcePreemptNS. */
static void preempt_slices(int64_t now)
{
    int nprocs = atomic_load(&goro__s.nprocs);

    for (int i = 0; i < nprocs; i++) {
        goro__p *p = goro__s.allp[i];
        if (!p)
            continue;
        uint32_t tick = atomic_load_explicit(&p->slicetick, memory_order_relaxed);
        if (tick != p->sysmon_slicetick ||
            atomic_load_explicit(&p->owner, memory_order_relaxed) == 0) {
            p->sysmon_slicetick = tick;
            p->sysmon_slice_when = now;
            continue;
        }
        if (now - p->sysmon_slice_when < TIMESLICE)
            continue;
        /* Someone waits: in p's queue (not runnext: the slice's heir) or
         * in the global one. */
        if (atomic_load_explicit(&p->runqhead, memory_order_relaxed) !=
                atomic_load_explicit(&p->runqtail, memory_order_relaxed) ||
            atomic_load_explicit(&goro__s.runqsize, memory_order_relaxed) > 0) {
            atomic_store_explicit(&p->preempt, 1, memory_order_relaxed);
            p->sysmon_slice_when = now; /* once per slice */
        }
    }
}

/* sysmon wakes every 2 ms while a P is busy, every 20 us while a P was in
 * a system call within the last SYSCALL_LINGER and something else could
 * use a P (see "System calls"), every 10 ms while all are idle (the
 * deadlock check runs then; sooner a millisecond after a timer is due),
 * and after 100 ms of idleness with no timer pending sleeps until a P gets
 * busy again (acquirep kicks it), a timer is armed
 * (goro__sysmon_timer_added) or a second passes. */
static void *sysmon(void *arg)
{
    int idle_rounds = 0;
    bool watch = false;    /* a retired P still held, or work no M runs */
    bool syscalls = false; /* a P in a system call at the last look */
    int64_t syscalls_seen = INT64_MIN / 2; /* when that was last true */

    (void)arg;
    goro__timer_slack(SYSMON_TIMER_SLACK);
    for (;;) {
        int64_t now = goro__nanotime();
        bool all_idle = atomic_load(&goro__s.npidle) == atomic_load(&goro__s.nprocs) && !watch;
        int64_t next = goro__timers_next();
        bool idle = all_idle && next == INT64_MAX;
        int64_t period = SYSMON_PERIOD;
        uint32_t seen = atomic_load(&goro__s.sysmon_wake);

        idle_rounds = idle ? idle_rounds + 1 : 0;
        if (idle_rounds > SYSMON_DEEP_AFTER) {
            /* (C): announce the long sleep, then look again, so that a P
             * getting busy either sees the flag or is seen here; (E) the
             * same for a timer armed (goro__sysmon_timer_added). */
            atomic_store(&goro__s.sysmon_deep, 1);
            atomic_thread_fence(memory_order_seq_cst); /* (E) */
            if (atomic_load(&goro__s.npidle) == atomic_load(&goro__s.nprocs) &&
                goro__timers_next() == INT64_MAX)
                period = SYSMON_DEEP_PERIOD;
        } else if (idle) {
            period = SYSMON_IDLE_PERIOD;
        } else if (now - syscalls_seen < SYSCALL_LINGER &&
                   (goro__timers_next() != INT64_MAX || !goro__runqs_empty() ||
                    goro__netpoll_pending())) {
            /* A call may block its P while something could use it. */
            period = SYSMON_SYSCALL_PERIOD;
        } else if (all_idle && next - now > SYSMON_PERIOD) {
            /* Every P idle and a timer pending, which the timer M sleeps
             * until: look a millisecond after it is due (to fire it if
             * that M has not), or after an idle period, not every 2 ms
             * (Go: sysmon sleeps until timeSleepUntil). */
            period = next - now; /* not next + 1 ms: next may be near INT64_MAX */
            period = period < SYSMON_IDLE_PERIOD - GORO_MILLISECOND ? period + GORO_MILLISECOND
                                                                    : SYSMON_IDLE_PERIOD;
        }
        /* The next call entered wakes us if we sleep long for want of
         * calls seen (every P idle, or none lately); not when calls go on
         * and only work is lacking, or each would wake us. */
        atomic_store_explicit(&goro__s.sysmon_syscall_kick,
                              period > SYSMON_SYSCALL_PERIOD &&
                                  (idle || now - syscalls_seen >= SYSCALL_LINGER),
                              memory_order_relaxed);
        goro__futex_wait(&goro__s.sysmon_wake, seen, now + period);
        atomic_store_explicit(&goro__s.sysmon_syscall_kick, 0, memory_order_relaxed);
        atomic_store(&goro__s.sysmon_deep, 0);
        now = goro__nanotime();
        atomic_store_explicit(&goro__s.coarse_now, now, memory_order_relaxed);
        /* Timers overdue by a millisecond: every M is stuck or busy. */
        if (goro__timers_next() <= now - GORO_MILLISECOND) {
            goro__timers_run_all(now);
            wakep();
        }
        /* Nobody polled for 10 ms: every M is busy.  Poll for them. */
        if (goro__netpoll_pending() && !goro__netpoll_blocked() &&
            now - goro__netpoll_last() > RETAKE_AFTER)
            goro__netpoll(0);
        watch = retake(now, &syscalls);
        if (syscalls)
            syscalls_seen = now;
        watch |= newm_retry(now);
        preempt_slices(now);
        if (atomic_load(&goro__s.npidle) == atomic_load(&goro__s.nprocs))
            goro__deadlock_check();
    }
    return NULL;
}

/* ---- initialisation ----------------------------------------------------- */

static goro__p *p_new(int id)
{
    goro__p *p = goro__calloc(1, sizeof *p);
    if (!p)
        goro__throw("out of memory allocating P %d", id);
    p->id = id;
    p->rand = goro__rand64() | 1;
    atomic_store(&p->timers.next, INT64_MAX);
    return p;
}

static void init(void)
{
    int n;

    goro__s.ncpu = goro__ncpu();
    n = (int)goro__env_int("GORO_MAXPROCS", goro__s.ncpu, 1, GORO_MAX_PROCS);

    if (n > GORO_MAX_PROCS)
        n = GORO_MAX_PROCS;
    pthread_key_create(&thread_g_key, thread_g_free);
    goro__stack_init();
    goro__signals_init();
    goro__s.debug_migrate = goro__env_contains("GORO_DEBUG", "migrate");
    atomic_store(&goro__s.timer_m_until, INT64_MAX);
    atomic_store(&goro__s.coarse_now, goro__nanotime());
    goro__lock_acquire(&goro__s.lock);
    for (int i = n - 1; i >= 0; i--) {
        goro__s.allp[i] = p_new(i);
        pidleput(goro__s.allp[i]);
    }
    atomic_store(&goro__s.nallp, n);
    atomic_store(&goro__s.nprocs, n);
    goro__lock_release(&goro__s.lock);
    if (goro__thread_start(sysmon, NULL, 256 * 1024) != 0)
        goro__throw("cannot start the sysmon thread");
    atomic_store_explicit(&inited, true, memory_order_release);
}

void goro__init(void)
{
    if (likely(atomic_load_explicit(&inited, memory_order_acquire)))
        return;
    pthread_once(&init_once, init);
}

/* ---- park / ready ------------------------------------------------------- */

void goro__park(void (*unlockf)(void *), void *arg, enum goro__wait_reason reason)
{
    goro__g *g = goro__getg();
    int e = goro__errno_get();

    if (unlikely(g->bubble))
        goro__hb_release(g->bubble); /* what it did happens before goro_bubble_wait returns */
    g->wait_reason = (uint8_t)reason;
    g->wait_since = atomic_load_explicit(&goro__s.coarse_now, memory_order_relaxed);
    if (g->is_thread) {
        goro__fork_check(); /* nothing could wake it in a child of fork() */
        atomic_fetch_add_explicit(&goro__s.nparks, 1, memory_order_relaxed);
        goro__thread_g_blocking(g);
        atomic_store_explicit(&g->status, G_WAITING, memory_order_relaxed);
        if (unlockf)
            unlockf(arg);
        while (atomic_load_explicit(&g->status, memory_order_acquire) == G_WAITING) {
#if defined(GORO_TSAN)
            /* TSan delivers an asynchronous signal (Ctrl-C for a signal
             * context) only when the thread next enters a function it
             * intercepts; a raw futex wait never does.  Look up now and
             * then, through one it intercepts. */
            goro__futex_wait(&g->status, G_WAITING, goro__nanotime() + 20 * GORO_MILLISECOND);
            usleep(0);
#else
            goro__futex_wait(&g->status, G_WAITING, -1);
#endif
        }
        atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
        errno_set(e);
        return;
    }
    g->unlockf = unlockf;
    g->unlockarg = arg;
    switch_away(g, GA_PARK);
    errno_set(e);
}

/* Queues a runnable g: on the caller's P when it has one (runnext: it runs
 * next), else on the global queue; then makes sure some M will run it. */
static void runq_ready(goro__g *g, bool next)
{
    goro__m *m = goro__getm();
    bool entered;
    goro__p *p = goro__s.debug_migrate ? NULL : p_hold(m, &entered);

    if (p) {
        runq_put(p, g, next && m->curg);
        if (entered)
            p_exit(m, p);
    } else {
        globrunq_put(g);
    }
    wakep();
}

void goro__ready(goro__g *g)
{
    /* A waiting G has exactly one waker: whoever dequeued its sudog under
     * the channel (or other) lock, claimed its select, or fired its timer.
     * G_WAITING was stored before that lock was released (finish), and no
     * one else writes the status of a waiting G, so a check and a release
     * store do what a locked compare-and-swap did, at no locked cost.  The
     * release orders the waker's copy into the G's memory before the G can
     * be seen runnable (a plain thread reads the status with acquire). */
    uint32_t st = atomic_load_explicit(&g->status, memory_order_relaxed);
    if (unlikely(st != G_WAITING))
        goro__throw("goro__ready: goroutine %llu is not waiting (status %u)",
                    (unsigned long long)g->id, st);
    if (unlikely(g->bubble))
        goro__bubble_ready(g); /* counted running before it can run */
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_release);
    if (g->is_thread) {
        goro__futex_wake(&g->status, 1);
        return;
    }
    runq_ready(g, true);
}

void goro__gosched(void)
{
    goro__g *g = goro__getg();
    if (!g || g->is_thread) {
        sched_yield();
        return;
    }
    int e = goro__errno_get();
    switch_away(g, GA_YIELD);
    errno_set(e);
}

/* ---- public API --------------------------------------------------------- */

int goro_go_at(const goro_attr *attr, void (*fn)(void *), void *arg, const char *entry,
               const char *file, int line, const char *func)
{
    goro__m *m;
    goro__p *p;
    goro__g *g;
    bool entered;

    if (!fn)
        return EINVAL;
    goro__fork_check(); /* no thread would run it in a child of fork() */
    goro__init();
    goro__note_thread();
    m = goro__getm();
    p = p_hold(m, &entered);
    g = goro__stack_alloc(p, attr ? attr->stack_size : 0);
    if (!g) {
        int e = errno;
        if (entered)
            p_exit(m, p);
        return e;
    }
    g->fn = fn;
    g->arg = arg;
    g->entry = entry;
    g->file = file;
    g->line = line;
    g->func = func;
    g->name = attr ? attr->name : NULL;
    g->lockedm = NULL;
    g->lock_count = 0;
    g->migrate_skips = 0;
    g->bubble = NULL;
    if (unlikely(atomic_load_explicit(&goro__bubbles_live, memory_order_relaxed)))
        goro__bubble_spawn(g); /* joins the caller's bubble, if any */
    g->sp = goro__frame_init(g->stack_hi, gmain, g);
    if (p) {
        if (p->goid_next == p->goid_end) {
            p->goid_next = atomic_fetch_add(&goro__s.goidgen, GOID_BATCH) + 1;
            p->goid_end = p->goid_next + GOID_BATCH;
        }
        g->id = p->goid_next++;
    } else {
        g->id = atomic_fetch_add(&goro__s.goidgen, 1) + 1;
    }
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
    goro__hb_release(g); /* pairs with the acquire in gmain */
    if (p) {
        atomic_store_explicit(&p->ncreated, p->ncreated + 1, memory_order_relaxed);
        runq_put(p, g, m->curg != NULL);
        if (entered)
            p_exit(m, p);
    } else {
        atomic_fetch_add(&goro__s.nthread_created, 1);
        globrunq_put(g);
    }
    wakep();
    return 0;
}

void goro_yield(void)
{
    goro__gosched();
}

static void sleep_wake(goro__timer *t)
{
    goro__g *g = goro__container_of(t, goro__g, timer);
    goro__timer_release(t); /* g may exit and free its stack once readied */
    goro__ready(g);
}

static void sleep_arm(void *arg)
{
    goro__g *g = arg;
    /* Runs on g0 after the switch: the timer cannot fire before the G is
     * parked.  Without memory for the heap, wake at once. */
    if (goro__timer_add(&g->timer) != 0)
        goro__ready(g);
}

void goro_sleep(int64_t ns)
{
    goro__g *g;

    if (ns <= 0)
        return;
    goro__init();
    g = goro__getm() ? goro__getg() : NULL;
    if (!g) {
        struct timespec ts = {.tv_sec = ns / GORO_SECOND, .tv_nsec = ns % GORO_SECOND};
        while (goro__sys_nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        return;
    }
    g->timer.when = goro__deadline_after(ns);
    g->timer.fn = sleep_wake;
    goro__park(sleep_arm, g, WR_SLEEP);
}

uint64_t goro_id(void)
{
    goro__m *m = goro__getm();
    return m && m->curg ? m->curg->id : 0;
}

int goro_num_goroutine(void)
{
    int64_t n;

    goro__init();
    n = atomic_load(&goro__s.nthread_created) - atomic_load(&goro__s.nexited_nop);
    for (int i = 0; i < GORO_MAX_PROCS; i++) {
        goro__p *p = goro__s.allp[i];
        if (!p)
            break;
        n += atomic_load_explicit(&p->ncreated, memory_order_relaxed) -
             atomic_load_explicit(&p->nexited, memory_order_relaxed);
    }
    return n < 0 ? 0 : (int)n;
}

int goro_maxprocs(int n)
{
    int prev;

    goro__init();
    goro__lock_acquire(&goro__s.lock);
    prev = atomic_load(&goro__s.nprocs);
    if (n <= 0) {
        goro__lock_release(&goro__s.lock);
        return prev;
    }
    if (n > GORO_MAX_PROCS)
        n = GORO_MAX_PROCS;
    if (n > prev) {
        for (int i = prev; i < n; i++) {
            goro__p *p = goro__s.allp[i];
            if (!p) {
                p = goro__s.allp[i] = p_new(i);
                atomic_store(&goro__s.nallp, i + 1);
                pidleput(p);
            } else if (atomic_load(&p->status) == P_DEAD) {
                pidleput(p);
            }
        }
    } else if (n < prev) {
        /* Idle Ps beyond n die now; running ones when their M next
         * schedules (p_retire). */
        for (goro__p **pp = &goro__s.pidle; *pp;) {
            goro__p *p = *pp;
            if (p->id >= n) {
                *pp = p->link;
                atomic_fetch_sub(&goro__s.npidle, 1);
                atomic_store(&p->status, P_DEAD);
                goro__stack_flush(p);
                goro__timers_move(&p->timers, &goro__s.allp[p->id % n]->timers);
            } else {
                pp = &p->link;
            }
        }
    }
    atomic_store(&goro__s.nprocs, n);
    goro__lock_release(&goro__s.lock);
    if (n < prev) {
        goro__timers_kick(); /* the dead Ps' timers moved */
        /* Running Ps beyond n: take each from its M now, so that what is
         * queued on it runs elsewhere rather than after the goroutine on
         * it lets go, which a CPU-bound one may never do.  Those this
         * misses (in use inside the runtime) retire as their M schedules,
         * or sysmon takes them. */
        for (int i = n; i < prev; i++)
            p_take_retired(goro__s.allp[i]);
        sysmon_kick();
    }
    wakep();
    return prev;
}

struct main_call {
    void (*fn)(void *);
    void *arg;
    goro__lock lock;            /* a leaf: lock order: docs/internals.md, "Lock order" */
    bool done;
    goro__g *waiter;
};

static void main_call_run(void *arg)
{
    struct main_call *mc = arg;
    goro__g *w;

    mc->fn(mc->arg);
    goro__hb_release(mc);
    goro__lock_acquire(&mc->lock);
    mc->done = true;
    w = mc->waiter;
    goro__lock_release(&mc->lock);
    if (w)
        goro__ready(w); /* mc may be gone after this: do not touch it */
}

static void unlock_fn(void *l)
{
    goro__lock_release(l);
}

int goro_main(void (*fn)(void *), void *arg)
{
    struct main_call mc = {.fn = fn, .arg = arg, .lock = GORO_LOCK_INIT};
    goro__m *m = goro__getm();
    goro__g *self;
    int e;

    if (!fn)
        return EINVAL;
    if (m && m->curg)
        return EDEADLK;
    self = goro__getg();
    if (!self)
        return ENOMEM;
    e = goro_go(main_call_run, &mc);
    if (e)
        return e;
    goro__lock_acquire(&mc.lock);
    if (!mc.done) {
        mc.waiter = self;
        goro__park(unlock_fn, &mc.lock, WR_GORO_MAIN);
    } else {
        goro__lock_release(&mc.lock);
    }
    goro__hb_acquire(&mc);
    return 0;
}

void goro_lock_thread(void)
{
    goro__m *m = goro__getm();
    goro__g *g = m ? m->curg : NULL;

    if (!g)
        return;
    if (g->lock_count++ == 0) {
        g->lockedm = m;
        m->lockedg = g;
    }
}

void goro_unlock_thread(void)
{
    goro__m *m = goro__getm();
    goro__g *g = m ? m->curg : NULL;

    if (!g || g->lock_count == 0)
        return;
    if (--g->lock_count == 0) {
        m->lockedg = NULL;
        g->lockedm = NULL;
    }
}
