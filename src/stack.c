/* stack.c - goroutine stacks (Go: runtime/stack.go, but fixed-size stacks).
 *
 * A stack is a slot of address space (256 KiB by default, GORO_STACK_SIZE or
 * goro_attr.stack_size) committed lazily by the kernel as it is touched.  The
 * G lives at the top of its own slot, so a parked goroutine whose frames are
 * shallow costs a single resident page, G included:
 *
 *      slot base                                               slot top
 *      | guard page |  stack, grows down  <-- sp  | G | canary zone |
 *        (guarded)    stack_lo            stack_hi       (64 bytes: the
 *                                                         canary of the
 *                                                         slot above)
 *
 * Default-size slots are carved, in address order and only when first
 * needed, from chunks of 64 slots mapped with one mmap; non-default sizes get
 * a mapping of their own.  Dead Gs keep their stacks and go to the P's cache
 * (up to 64), then to a global pool; chunks are never unmapped.
 *
 * A non-default-size stack is unmapped when its goroutine exits, so its G
 * does not live on it: it comes from a slab of headers (SLAB_GS a slab),
 * and slabs are never freed.  Dumps and the fault handler walk every slot
 * of every chunk and every header of every slab without a lock, reading
 * only memory that stays mapped: a G that exits under their feet is seen
 * stale or skipped (G_IDLE), never read after its memory went away.  A
 * list of the live headers, unlinked under pool.lock, would not do: the
 * fault handler cannot take that lock (it may interrupt its holder), and
 * a walker holding a pointer into an unmapped stack faults.  The cost is
 * the headers' memory (under 1 KiB each): that of the most non-default
 * goroutines alive at once, kept until exit (and reused).
 *
 * What protects each stack from overflow.  On Linux 6.13 and later a guard
 * page is a page-table marker (madvise MADV_GUARD_INSTALL): it costs no
 * mapping, so every slot gets one.  A new chunk gets its 64 guards in one
 * process_madvise call, made outside the pool lock by whoever carves its
 * first slot (about 0.5 us a slot, against 1 us for one madvise call a
 * slot and several for mprotect, whose mapping splits also slow every
 * later page fault).  Elsewhere a PROT_NONE guard page splits a
 * mapping in two, and Linux caps mappings per process (vm.max_map_count,
 * 65,530 by default), so guards are rationed:
 *   1. While the budget lasts (a quarter of the mappings left when the
 *      runtime started), every slot of a new chunk gets a guard page: an
 *      overflow faults at once and the fault handler (os_linux.c) names the
 *      goroutine.  Non-default-size stacks are always guarded.
 *   2. Past the budget, chunks are unguarded but for slot 0, whose guard is
 *      the chunk's floor.  Each other slot is protected by a canary word that
 *      sits just below its stack_lo, in the top page of the slot below
 *      (resident already, since that slot's G lives there, so the canary costs
 *      no memory).  It is checked at every switch away from the goroutine,
 *      together with the saved stack pointer; a deeper overflow runs into the
 *      chunk floor's guard or the neighbours' canaries and G magic.  Either
 *      way the process aborts naming the overflowing goroutine.  The hole: a
 *      deep excursion that returns before the next switch may scribble on the
 *      neighbour's frames before the canary is checked; GORO_STACK_SIZE buys
 *      headroom where that matters.
 *
 * Trimming: a G records the lowest stack pointer seen at its switches;
 * when a G whose stack went deeper than 64 KiB is recycled, the pages below
 * the top 32 KiB are returned with madvise(MADV_DONTNEED).  Depth reached and
 * left between two switches is not seen (a possible improvement: mincore()
 * sampling when stacks move to the global pool).
 *
 * Locking: pool.lock protects the global pool, the carving cursors and the
 * free headers of non-default stacks; the chunk and slab lists are
 * append-only and read without a lock (fault handler, dumps).  P caches are
 * touched by the owner only.
 */
#include "runtime.h"
#include "sanitizer.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif

#define CHUNK_SLOTS 64
#define CANARY_ZONE 64
#define CANARY_VALUE 0x5354414b2d4f4b21ULL /* "STAK-OK!" */
#define TRIM_DEPTH (64 * 1024)
#define TRIM_KEEP (32 * 1024)
#define MIN_STACK (16 * 1024)
#define MAX_STACK ((size_t)1 << 30)
#define DEFAULT_STACK (256 * 1024)

typedef struct goro__stack_chunk {
    char *base;
    size_t slot_size;
    bool guarded;                            /* every slot has a guard page */
    _Atomic bool preguarded;                 /* ... all installed (light guards) */
    _Atomic int carved;                      /* slots handed out so far (their G
                                                is valid once its magic is set) */
    struct goro__stack_chunk *_Atomic next;  /* append-only list */
} goro__stack_chunk;

/* Headers (Gs) of non-default-size stacks, SLAB_GS to a slab.  Slabs are
 * zeroed when made and never freed: a walker may read any header of any
 * slab at any time. */
#define SLAB_GS 32

typedef struct goro__g_slab {
    goro__g g[SLAB_GS];
    int carved;                              /* headers handed out (pool.lock) */
    struct goro__g_slab *_Atomic next;       /* append-only list */
} goro__g_slab;

static struct {
    goro__lock lock;            /* a leaf: lock order: docs/internals.md, "Lock order" */
    goro__g *free;              /* global pool of dead default-size Gs */
    int nfree;
    goro__stack_chunk *cur;     /* chunk being carved */
    goro__g *hfree;             /* free non-default-size headers, by schedlink */
    goro__g_slab *hcur;         /* header slab being carved */
    int nothers;                /* live non-default-size stacks */
    _Atomic(goro__g_slab *) slabs; /* all header slabs, read without the lock */
    long guard_budget;          /* guarded slots we may still create */
    bool light_guards;          /* guard pages are page-table markers */
    _Atomic(goro__stack_chunk *) chunks;
    size_t slot_size;
    size_t page;
} pool = {.lock = GORO_LOCK_INIT};

size_t goro__stack_default_size(void)
{
    return pool.slot_size;
}

static size_t round_page(size_t n)
{
    return (n + pool.page - 1) & ~(pool.page - 1);
}

/* Whether MADV_GUARD_INSTALL exists and really guards: an emulator may
 * accept the advice and ignore it, so a pipe must then refuse to read the
 * page (EFAULT). */
static bool light_guards_work(void)
{
    char *mem = mmap(NULL, pool.page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int fd[2];
    bool ok = false;

    if (mem == MAP_FAILED)
        return false;
    if (madvise(mem, pool.page, MADV_GUARD_INSTALL) == 0 && goro__sys_pipe(fd) == 0) {
        ok = goro__sys_write(fd[1], mem, 1) < 0 && errno == EFAULT;
        goro__sys_close(fd[0]);
        goro__sys_close(fd[1]);
    }
    munmap(mem, pool.page);
    return ok;
}

void goro__stack_init(void)
{
    size_t size = goro__env_size("GORO_STACK_SIZE", DEFAULT_STACK, MIN_STACK, MAX_STACK);
    long left;

    pool.page = (size_t)sysconf(_SC_PAGESIZE);
    pool.slot_size = round_page(size);

    /* Each guarded slot costs two mappings (guard + stack).  Leave three
     * quarters of what is left to the application. */
    left = goro__map_count_max() - goro__map_count();
    pool.guard_budget = left > 0 ? left / 4 / 2 : 0;
    pool.light_guards = light_guards_work();
    if (!goro__env_bool("GORO_STACK_GUARD", true)) {
        pool.guard_budget = 0;
        pool.light_guards = false;
    }
}

/* Makes the page at addr a guard page. */
static int guard_page(void *addr)
{
    if (pool.light_guards)
        return madvise(addr, pool.page, MADV_GUARD_INSTALL);
    return mprotect(addr, pool.page, PROT_NONE);
}

/* mmap for stacks; under TSan the new range starts with clean shadow
 * rather than as written by whichever goroutine happened to map it. */
static void *map_stack(size_t len)
{
    if (goro__alloc_fails())
        return MAP_FAILED;
    goro__tsan_ignore_begin();
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    goro__tsan_ignore_end();
    return mem;
}

/* Initialises g for the stack [lo, hi) of a slot of size bytes. */
static goro__g *g_init(goro__g *g, char *lo, char *hi, size_t size, bool guarded,
                       goro__stack_chunk *chunk)
{
    memset(g, 0, sizeof *g);
    g->stack_hi = (char *)((uintptr_t)hi & ~(uintptr_t)15);
    g->stack_lo = lo;
    g->guarded = guarded;
    g->slot_size = size;
    g->chunk = chunk;
    if (!guarded) {
        /* The canary lives in the top of the slot below, already resident. */
        g->canary = (_Atomic uint64_t *)(lo - sizeof(uint64_t));
        atomic_store_explicit(g->canary, CANARY_VALUE, memory_order_relaxed);
    }
    g->sp_min = g->stack_hi;
    g->vg_stack_id = goro__valgrind_stack_register(g->stack_lo, g->stack_hi);
#if defined(GORO_TSAN)
    g->tsan_fiber = __tsan_create_fiber(0);
#endif
    /* Last: walkers (dumps, the fault handler) take a G with its magic as
     * initialised. */
    __atomic_store_n(&g->magic, GORO_G_MAGIC, __ATOMIC_RELEASE);
    return g;
}

/* Lays out a G at the top of the chunk slot [base, base + size). */
static goro__g *slot_init(char *base, size_t size, bool guarded, goro__stack_chunk *chunk)
{
    uintptr_t top = (uintptr_t)base + size - CANARY_ZONE;
    goro__g *g = (goro__g *)((top - sizeof(goro__g)) & ~(uintptr_t)63);

    return g_init(g, base + (guarded ? pool.page : 0), (char *)g, size, guarded, chunk);
}

/* Installs the guard page of every slot of a new chunk in one call; false
 * if the kernel cannot (then each slot installs its own when carved).  The
 * pidfd is opened per chunk rather than kept: a program may close every
 * descriptor it did not open, and a number reused for another process's
 * pidfd must never be advised. */
static bool guard_chunk(char *base, size_t slot_size)
{
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
    struct iovec iov[CHUNK_SLOTS];
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    long r;

    if (pidfd < 0)
        return false;
    for (int i = 0; i < CHUNK_SLOTS; i++)
        iov[i] = (struct iovec){base + (size_t)i * slot_size, pool.page};
    r = syscall(SYS_process_madvise, pidfd, iov, CHUNK_SLOTS, MADV_GUARD_INSTALL, 0);
    goro__sys_close(pidfd);
    return r == (long)(CHUNK_SLOTS * pool.page);
#else
    (void)base;
    (void)slot_size;
    return false;
#endif
}

/* Reserves the next default-size slot, mapping a new chunk if needed;
 * pool.lock held.  Touches no slot memory: the page fault of a fresh slot
 * happens in carve_init, outside the lock, so a spawning P does not keep
 * the other Ps waiting for the pool meanwhile. */
static bool reserve(goro__stack_chunk **cp, int *ip)
{
    goro__stack_chunk *c = pool.cur;
    int i;

    if (!c || atomic_load_explicit(&c->carved, memory_order_relaxed) == CHUNK_SLOTS) {
        size_t len = pool.slot_size * CHUNK_SLOTS;
        void *mem = map_stack(len);
        if (mem == MAP_FAILED)
            return false;
        c = goro__malloc(sizeof *c);
        if (!c) {
            munmap(mem, len);
            return false;
        }
        c->base = mem;
        c->slot_size = pool.slot_size;
        c->guarded = pool.light_guards || pool.guard_budget >= CHUNK_SLOTS;
        if (c->guarded && !pool.light_guards)
            pool.guard_budget -= CHUNK_SLOTS;
        atomic_init(&c->preguarded, false);
        atomic_init(&c->carved, 0);
        atomic_init(&c->next, atomic_load(&pool.chunks));
        atomic_store_explicit(&pool.chunks, c, memory_order_release);
        pool.cur = c;
    }
    i = atomic_load_explicit(&c->carved, memory_order_relaxed);
    atomic_store_explicit(&c->carved, i + 1, memory_order_release);
    *cp = c;
    *ip = i;
    return true;
}

/* Installs the guard page of slot i of c.  With guard regions, whoever
 * carves slot 0 installs the whole chunk's in one call, without the pool
 * lock; a slot carved before that call is over installs its own
 * (installing a guard twice is harmless). */
static bool slot_guard(goro__stack_chunk *c, int i, char *slot)
{
    if (pool.light_guards) {
        if (i == 0 && guard_chunk(c->base, c->slot_size)) {
            atomic_store_explicit(&c->preguarded, true, memory_order_release);
            return true;
        }
        if (atomic_load_explicit(&c->preguarded, memory_order_acquire))
            return true;
    }
    return guard_page(slot) == 0;
}

/* Initialises reserved slot i of c; no lock held. */
static goro__g *carve_init(goro__stack_chunk *c, int i)
{
    char *slot = c->base + (size_t)i * c->slot_size;
    /* Slot 0 is always guarded: below it there is no slot to hold a canary. */
    bool guarded = c->guarded || i == 0;

    if (guarded && !slot_guard(c, i, slot))
        return NULL; /* the slot stays reserved and unused */
    return slot_init(slot, c->slot_size, guarded, c);
}

/* The G of slot i of c if it was initialised (dumps, fault handler). */
static goro__g *slot_g(goro__stack_chunk *c, size_t i)
{
    uintptr_t top = (uintptr_t)c->base + (i + 1) * c->slot_size - CANARY_ZONE;
    goro__g *g = (goro__g *)((top - sizeof(goro__g)) & ~(uintptr_t)63);
    return __atomic_load_n(&g->magic, __ATOMIC_ACQUIRE) == GORO_G_MAGIC ? g : NULL;
}

/* A free header for a non-default-size stack; pool.lock held.  From the
 * free list, else carved from the current slab, else from a new slab,
 * zeroed (status G_IDLE: walkers skip it) before it is published. */
static goro__g *header_get(void)
{
    goro__g_slab *s = pool.hcur;
    goro__g *g = pool.hfree;

    if (g) {
        pool.hfree = g->schedlink;
        return g;
    }
    if (!s || s->carved == SLAB_GS) {
        s = goro__calloc(1, sizeof *s);
        if (!s)
            return NULL;
        atomic_init(&s->next, atomic_load(&pool.slabs));
        atomic_store_explicit(&pool.slabs, s, memory_order_release);
        pool.hcur = s;
    }
    return &s->g[s->carved++];
}

/* A G whose stack has a size of its own: a mapping of guard page and
 * stack, and a header from the slabs. */
static goro__g *alloc_other(size_t size)
{
    size_t len = round_page(size);
    char *mem = map_stack(len);
    goro__g *g;

    if (mem == MAP_FAILED)
        return NULL;
    if (guard_page(mem) != 0) {
        munmap(mem, len);
        return NULL;
    }
    goro__lock_acquire(&pool.lock);
    g = header_get();
    if (g)
        pool.nothers++;
    goro__lock_release(&pool.lock);
    if (!g) {
        munmap(mem, len);
        return NULL;
    }
    return g_init(g, mem + pool.page, mem + len, len, true, NULL);
}

/* Unmaps the stack of a non-default-size G and frees its header.  g is
 * G_IDLE already: from here on walkers skip it, and one that read its
 * status just before still reads a header that stays mapped. */
static void free_other(goro__g *g)
{
    goro__valgrind_stack_deregister(g->vg_stack_id);
#if defined(GORO_TSAN)
    __tsan_destroy_fiber(g->tsan_fiber);
#endif
#if defined(GORO_ASAN)
    /* Frames of the dead goroutine never returned: clear their poison, or
     * the next mapping at this address (a stack, or any of the program's)
     * inherits it. */
    __asan_unpoison_memory_region(g->stack_lo, (size_t)(g->stack_hi - g->stack_lo));
#endif
    munmap(g->stack_lo - pool.page, g->slot_size);
    goro__lock_acquire(&pool.lock);
    g->schedlink = pool.hfree;
    pool.hfree = g;
    pool.nothers--;
    goro__lock_release(&pool.lock);
}

/* Clears what a previous goroutine left in a recycled G. */
static goro__g *reuse(goro__g *g)
{
#if defined(GORO_ASAN)
    /* Frames of the dead goroutine never returned: clear their poison. */
    __asan_unpoison_memory_region(g->stack_lo, (size_t)(g->stack_hi - g->stack_lo));
#endif
    g->schedlink = NULL;
    return g;
}

goro__g *goro__stack_alloc(goro__p *p, size_t size)
{
    goro__g *g;

    if (size > MAX_STACK) {
        errno = EINVAL;
        return NULL;
    }
    if (size && round_page(size < MIN_STACK ? MIN_STACK : size) != pool.slot_size) {
        g = alloc_other(size < MIN_STACK ? MIN_STACK : size);
        if (!g)
            errno = ENOMEM;
        return g;
    }
    if (p && p->gfree) {
        g = p->gfree;
        p->gfree = g->schedlink;
        p->ngfree--;
        return reuse(g);
    }
    goro__lock_acquire(&pool.lock);
    if (pool.free) {
        /* Refill the P's cache by half while we hold the lock. */
        g = pool.free;
        pool.free = g->schedlink;
        pool.nfree--;
        while (p && pool.free && p->ngfree < GORO_GCACHE_MAX / 2) {
            goro__g *h = pool.free;
            pool.free = h->schedlink;
            pool.nfree--;
            h->schedlink = p->gfree;
            p->gfree = h;
            p->ngfree++;
        }
        goro__lock_release(&pool.lock);
        return reuse(g);
    }
    goro__stack_chunk *c = NULL;
    int i = 0;
    bool ok = reserve(&c, &i);
    goro__lock_release(&pool.lock);
    g = ok ? carve_init(c, i) : NULL;
    if (!g)
        errno = ENOMEM;
    return g;
}

static void trim(goro__g *g)
{
    if (g->stack_hi - g->sp_min > TRIM_DEPTH) {
        uintptr_t hi = ((uintptr_t)g->stack_hi - TRIM_KEEP) & ~(uintptr_t)(pool.page - 1);
        madvise(g->stack_lo, hi - (uintptr_t)g->stack_lo, MADV_DONTNEED);
    }
    g->sp_min = g->stack_hi;
}

void goro__stack_free(goro__p *p, goro__g *g)
{
    /* Release: a walker that sees G_IDLE skips g (free_other relies on it). */
    atomic_store_explicit(&g->status, G_IDLE, memory_order_release);
    trim(g);
    if (!g->chunk) {
        free_other(g);
        return;
    }
    if (p) {
        g->schedlink = p->gfree;
        p->gfree = g;
        if (++p->ngfree <= GORO_GCACHE_MAX)
            return;
        /* Cache full: move half of it to the global pool. */
        goro__g *head = NULL;
        int n = 0;
        while (p->ngfree > GORO_GCACHE_MAX / 2) {
            goro__g *h = p->gfree;
            p->gfree = h->schedlink;
            p->ngfree--;
            h->schedlink = head;
            head = h;
            n++;
        }
        goro__lock_acquire(&pool.lock);
        while (head) {
            goro__g *h = head;
            head = h->schedlink;
            h->schedlink = pool.free;
            pool.free = h;
        }
        pool.nfree += n;
        goro__lock_release(&pool.lock);
        return;
    }
    goro__lock_acquire(&pool.lock);
    g->schedlink = pool.free;
    pool.free = g;
    pool.nfree++;
    goro__lock_release(&pool.lock);
}

void goro__stack_flush(goro__p *p)
{
    while (p->gfree) {
        goro__g *g = p->gfree;
        p->gfree = g->schedlink;
        p->ngfree--;
        goro__stack_free(NULL, g);
    }
}

void goro__stack_check(goro__g *g)
{
    if (unlikely(g->magic != GORO_G_MAGIC))
        goro__throw("goroutine header at %p overwritten (a stack overflow of the "
                    "goroutine below it?)", (void *)g);
    if (unlikely((char *)g->sp < g->stack_lo ||
                 (g->canary && atomic_load_explicit(g->canary, memory_order_relaxed) != CANARY_VALUE)))
        goro__stack_overflow(g);
    if ((char *)g->sp < g->sp_min)
        g->sp_min = g->sp;
}

goro__g *goro__stack_guard_owner(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;

    for (goro__stack_chunk *c = atomic_load(&pool.chunks); c; c = atomic_load(&c->next)) {
        uintptr_t base = (uintptr_t)c->base;
        if (a < base || a >= base + c->slot_size * CHUNK_SLOTS)
            continue;
        size_t i = (a - base) / c->slot_size;
        uintptr_t slot = base + i * c->slot_size;
        if ((c->guarded || i == 0) && a < slot + pool.page &&
            (int)i < atomic_load_explicit(&c->carved, memory_order_acquire))
            return slot_g(c, i);
        return NULL;
    }
    /* Non-default stacks: their headers, without the lock (we may be in a
     * signal handler, perhaps interrupting a holder of pool.lock).  Headers
     * are never unmapped, so reading one is always safe; a free one is
     * G_IDLE and its stale bounds are not looked at. */
    for (goro__g_slab *s = atomic_load(&pool.slabs); s; s = atomic_load(&s->next))
        for (int i = 0; i < SLAB_GS; i++) {
            goro__g *g = &s->g[i];
            if (atomic_load_explicit(&g->status, memory_order_acquire) != G_IDLE &&
                a >= (uintptr_t)g->stack_lo - pool.page && a < (uintptr_t)g->stack_lo)
                return g;
        }
    return NULL;
}

void goro__stack_stats(uint64_t *total, uint64_t *cached)
{
    uint64_t t = 0, c;
    for (goro__stack_chunk *ch = atomic_load(&pool.chunks); ch; ch = atomic_load(&ch->next))
        t += (uint64_t)atomic_load_explicit(&ch->carved, memory_order_relaxed);
    goro__lock_acquire(&pool.lock);
    c = (uint64_t)pool.nfree;
    t += (uint64_t)pool.nothers;
    goro__lock_release(&pool.lock);
    for (int i = 0; i < GORO_MAX_PROCS && goro__s.allp[i]; i++)
        c += (uint64_t)__atomic_load_n(&goro__s.allp[i]->ngfree, __ATOMIC_RELAXED);
    *total = t;
    *cached = c;
}

void goro__stack_each_g(void (*fn)(goro__g *, void *), void *arg)
{
    for (goro__stack_chunk *c = atomic_load(&pool.chunks); c; c = atomic_load(&c->next)) {
        int n = atomic_load_explicit(&c->carved, memory_order_acquire);
        for (int i = 0; i < n; i++) {
            goro__g *g = slot_g(c, (size_t)i);
            if (!g)
                continue; /* reserved, not initialised yet */
            uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
            if (st != G_IDLE && st != G_DEAD)
                fn(g, arg);
        }
    }
    /* Non-default stacks: every header of every slab; see
     * goro__stack_guard_owner for why this needs no lock. */
    for (goro__g_slab *s = atomic_load(&pool.slabs); s; s = atomic_load(&s->next))
        for (int i = 0; i < SLAB_GS; i++) {
            uint32_t st = atomic_load_explicit(&s->g[i].status, memory_order_acquire);
            if (st != G_IDLE && st != G_DEAD)
                fn(&s->g[i], arg);
        }
}
