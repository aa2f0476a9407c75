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

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* ---- thread entries in dumps ---------------------------------------------
 * A plain thread blocked in goro has no entry function or creation site to
 * show; its entry says where the thread blocked in its own code instead:
 * "called from f+0x1c (app.c in app)", the first return address on its
 * stack, when it last blocked, that lies outside libgoro.
 *
 * goro__thread_g_blocking records the return addresses by walking the
 * frame-pointer chain (libgoro is built with frame pointers, so its own
 * frames, up to and including the public function the program called,
 * are chained; the last one's return address is the call site).  Beyond
 * that the program's frames may have no frame pointers and the chain is
 * garbage, so every load stays inside the thread's stack (its bounds are
 * read once per thread) and the walk stops at the first link that does
 * not go up the stack.  backtrace() would be exact but costs about 15
 * microseconds a call: too much on every block of a plain thread.
 *
 * Outside libgoro: when libgoro is a shared object, an address in another
 * object (dladdr).  When it is linked into the program, the program's own
 * symbol table (read from /proc/self/exe, mapped once and kept) names the
 * function around the address: libgoro's have the goro_ prefix (public,
 * internal, and their .cold parts) or are static functions of libgoro's
 * object files, whose symbol-table groups (one per object, opened by its
 * source file's name) hold goro__object_mark (runtime.h).  No list of
 * libgoro's files is kept.  A stripped program, or one whose objects were
 * merged by LTO, gets no "called from" line where that cannot be told. */

void goro__thread_g_blocking(goro__g *g)
{
    goro__thread_g *t = (goro__thread_g *)g;
    void **fp = __builtin_frame_address(0);
    int n = 0;

    if (unlikely(!t->stack_hi)) {
        pthread_attr_t a;
        void *lo;
        size_t size;
        t->stack_hi = 1; /* unknown: record nothing */
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            if (pthread_attr_getstack(&a, &lo, &size) == 0)
                t->stack_hi = (uintptr_t)lo + size;
            pthread_attr_destroy(&a);
        }
    }
    /* A frame record is {caller's frame pointer, return address} on both
     * x86-64 and AArch64. */
    while (n < GORO_THREAD_PCS && ((uintptr_t)fp & (sizeof(void *) - 1)) == 0 &&
           (uintptr_t)fp + 2 * sizeof(void *) <= t->stack_hi) {
        void **up = fp[0];
        if (!fp[1])
            break;
        t->pcs[n++] = fp[1];
        if (up <= fp)
            break;
        fp = up;
    }
    t->npcs = n;
}

#define MAX_SEGS 16

static struct {
    pthread_once_t once;
    uintptr_t bias;             /* the program's load bias */
    uintptr_t seg_lo[MAX_SEGS], seg_hi[MAX_SEGS]; /* its loaded segments */
    int nseg;
    bool goro_inside;           /* libgoro is part of the program */
    void *goro_base;            /* else libgoro's dli_fbase */
    const ElfW(Sym) *syms;      /* the program's symbol table, or NULL */
    size_t nsyms;
    const char *strs;
    size_t strsize;
    char path[256];             /* the program's file (/proc/self/exe) */
} prog = {.once = PTHREAD_ONCE_INIT};

static int first_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    prog.bias = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum && prog.nseg < MAX_SEGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD) {
            prog.seg_lo[prog.nseg] = info->dlpi_addr + ph->p_vaddr;
            prog.seg_hi[prog.nseg] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
            prog.nseg++;
        }
    }
    return 1; /* the program comes first: stop */
}

static bool in_program(uintptr_t pc)
{
    for (int i = 0; i < prog.nseg; i++)
        if (pc >= prog.seg_lo[i] && pc < prog.seg_hi[i])
            return true;
    return false;
}

/* Maps the program's file and finds its symbol table (checked bounds
 * throughout: a file that does not parse just has none). */
static void symtab_load(void)
{
    struct stat st;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(ElfW(Ehdr))) {
        close(fd);
        return;
    }
    size_t size = (size_t)st.st_size;
    const char *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shentsize != sizeof(ElfW(Shdr)) ||
        eh->e_shoff > size || eh->e_shnum > (size - eh->e_shoff) / sizeof(ElfW(Shdr)))
        goto none;
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(base + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
            continue;
        const ElfW(Shdr) *str = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
            str->sh_offset > size || str->sh_size > size - str->sh_offset || str->sh_size == 0)
            goto none;
        prog.syms = (const ElfW(Sym) *)(base + sh[i].sh_offset);
        prog.nsyms = sh[i].sh_size / sizeof(ElfW(Sym));
        prog.strs = base + str->sh_offset;
        prog.strsize = str->sh_size;
        return; /* kept mapped for later dumps */
    }
none:
    munmap((void *)base, size);
}

static void prog_init(void)
{
    Dl_info self;

    ssize_t n = readlink("/proc/self/exe", prog.path, sizeof prog.path - 1);
    prog.path[n > 0 ? n : 0] = 0;
    dl_iterate_phdr(first_object, NULL);
    prog.goro_inside = in_program((uintptr_t)&goro__thread_g_blocking);
    if (!prog.goro_inside && dladdr((void *)&goro__thread_g_blocking, &self))
        prog.goro_base = self.dli_fbase;
    symtab_load();
}

static const char *sym_name(const ElfW(Sym) *s)
{
    return s->st_name < prog.strsize ? prog.strs + s->st_name : "";
}

/* The program's function symbol around pc, or -1. */
static long sym_find(uintptr_t pc)
{
    uintptr_t a = pc - prog.bias;

    for (size_t i = 0; i < prog.nsyms; i++) {
        const ElfW(Sym) *s = &prog.syms[i];
        if (ELF64_ST_TYPE(s->st_info) == STT_FUNC && s->st_value && a >= s->st_value &&
            a < s->st_value + (s->st_size ? s->st_size : 1))
            return (long)i;
    }
    return -1;
}

/* For local symbol i: the name of its object's source file (its group's
 * STT_FILE), and whether that group is one of libgoro's. */
static const char *sym_group(size_t i, bool *goro)
{
    size_t f = i;
    const char *file = NULL;

    while (f > 0 && ELF64_ST_TYPE(prog.syms[f].st_info) != STT_FILE)
        f--;
    if (ELF64_ST_TYPE(prog.syms[f].st_info) == STT_FILE)
        file = sym_name(&prog.syms[f]);
    *goro = false;
    for (size_t j = f + 1; j < prog.nsyms && ELF64_ST_TYPE(prog.syms[j].st_info) != STT_FILE &&
                           ELF64_ST_BIND(prog.syms[j].st_info) == STB_LOCAL;
         j++)
        if (strcmp(sym_name(&prog.syms[j]), "goro__object_mark") == 0)
            *goro = true;
    return file && *file ? file : NULL;
}

/* What is known of return address pc: in libgoro, or where. */
struct frame {
    bool known;                 /* goro says whether it is libgoro's */
    bool goro;
    const char *func;           /* may be NULL */
    uintptr_t off;              /* pc - func, or pc - object base */
    const char *file;           /* source file, may be NULL */
    const char *object;         /* the object's file name, may be NULL */
};

static struct frame frame_of(void *ret)
{
    uintptr_t pc = (uintptr_t)ret - 1; /* inside the call, not after it */
    struct frame fr = {0};
    Dl_info di;

    if (dladdr((void *)pc, &di)) {
        fr.object = di.dli_fname;
        fr.off = (uintptr_t)ret - (uintptr_t)di.dli_fbase;
        if (di.dli_sname) {
            fr.func = di.dli_sname;
            fr.off = (uintptr_t)ret - (uintptr_t)di.dli_saddr;
        }
        if (!prog.goro_inside) {
            fr.known = true;
            fr.goro = di.dli_fbase == prog.goro_base;
        }
    }
    if (in_program(pc) && prog.path[0])
        fr.object = prog.path; /* not argv[0], which may have been changed */
    if (in_program(pc) && prog.syms) {
        long i = sym_find(pc);
        if (i >= 0) {
            const ElfW(Sym) *s = &prog.syms[i];
            bool group_goro = false;
            fr.func = sym_name(s);
            fr.off = (uintptr_t)ret - (prog.bias + s->st_value);
            if (ELF64_ST_BIND(s->st_info) == STB_LOCAL)
                fr.file = sym_group((size_t)i, &group_goro);
            if (prog.goro_inside) {
                fr.known = true;
                fr.goro = strncmp(fr.func, "goro_", 5) == 0 || group_goro;
            }
        }
    }
    if (!fr.object || !*fr.object)
        fr.object = program_invocation_name;
    return fr;
}

static const char *base_name(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path ? path : "?";
}

/* "\tcalled from f+0x1c (app.c in app)\n" for thread G g, or nothing. */
static int called_from(goro__g *g, char *line, size_t size)
{
    goro__thread_g *t = (goro__thread_g *)g;
    int n = t->npcs < GORO_THREAD_PCS ? t->npcs : GORO_THREAD_PCS;
    bool seen_goro = false;

    pthread_once(&prog.once, prog_init);
    for (int i = 0; i < n; i++) {
        struct frame fr = frame_of(t->pcs[i]);
        if (!fr.known)
            return 0; /* cannot tell: say nothing rather than guess */
        if (fr.goro) {
            seen_goro = true;
            continue;
        }
        if (!seen_goro)
            return 0; /* the first frame is libgoro's own: something is off */
        const char *obj = base_name(fr.object);
        if (fr.func && fr.file)
            return snprintf(line, size, "\tcalled from %s+0x%lx (%s in %s)\n", fr.func,
                            (unsigned long)fr.off, base_name(fr.file), obj);
        if (fr.func)
            return snprintf(line, size, "\tcalled from %s+0x%lx (%s)\n", fr.func,
                            (unsigned long)fr.off, obj);
        return snprintf(line, size, "\tcalled from %p (%s+0x%lx)\n", t->pcs[i], obj,
                        (unsigned long)fr.off);
    }
    return 0;
}

static void dump_thread(goro__g *g, void *arg)
{
    const struct sink *fd = arg;
    char line[512];
    uint32_t st = atomic_load_explicit(&g->status, memory_order_relaxed);
    int n;

    if (st != G_WAITING)
        return; /* a thread outside goro: nothing to say */
    n = snprintf(line, sizeof line, "thread %llu [%s]:\n\tplain thread blocked in goro\n",
                 (unsigned long long)g->id,
                 g->wait_reason < WR_COUNT ? goro__wait_reason_str[g->wait_reason] : "?");
    if (n > 0)
        write_all(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    n = called_from(g, line, sizeof line);
    if (n > 0)
        write_all(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    write_all(fd, "\n", 1);
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
