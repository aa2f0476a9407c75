/* hook.c - goro's own read, write, poll, sleep, ...: blocking C libraries
 * (hiredis, libpq, libcurl's easy API) park their goroutine, not their
 * thread (Tencent's libco and libgo do the same).  The user's guide has
 * the table of every call and what it does (docs/guide.md, "Using
 * existing C libraries").
 *
 * How calls get here: libgoro.so and libgoro.a define read, write, ... with
 * default visibility.  The dynamic linker binds every unversioned or
 * versioned reference to the first definition in the global scope, which
 * is the executable's (libgoro.a linked in: the linker exports a symbol
 * that a shared library also defines) or libgoro.so's (it comes before
 * libc.so in the search order), so a read inside libhiredis.so lands here
 * too.  The C library's function is the next definition, found with
 * dlsym(RTLD_NEXT): a sanitizer's interceptor in front of the C library
 * when there is one, so the chain runs application -> (interceptor) ->
 * goro -> (interceptor) -> libc whichever comes first.  goro's own code
 * calls through those pointers (goro__sys_read, ..., runtime.h) and never
 * reaches an interposer.
 *
 * Who gets what:
 *   - a plain thread (no goroutine running on it), a kill switch set
 *     (GORO_HOOK=0), or a call that asks not to block (MSG_DONTWAIT, an
 *     fd the application made non-blocking): the C library's call, as is;
 *   - a goroutine on a socket, pipe, FIFO, eventfd, epoll fd or terminal
 *     (whatever epoll accepts): goro makes the fd non-blocking, tries the
 *     call, and on EAGAIN parks in the poller until the fd is ready or the
 *     socket's SO_RCVTIMEO/SO_SNDTIMEO deadline passes (then EAGAIN, as
 *     POSIX says; EINPROGRESS for connect);
 *   - a goroutine on a regular file, on stdin, stdout or stderr (shared
 *     with other processes: goro leaves their flags alone), or in a call
 *     that can block but has nothing to poll (open, fsync, waitpid, ...):
 *     the call, bracketed with goro__syscall_enter/exit so the scheduler
 *     can run others meanwhile.
 *
 * The application's view: O_NONBLOCK lives in the open file description,
 * so once goro set it every user of the fd sees it.  goro keeps, per fd
 * number, what the application asked for (struct hfd): F_GETFL reports
 * that, F_SETFL and FIONBIO record it (keeping the real flag set), a plain
 * thread's call on an fd that goro made non-blocking behind the
 * application's back waits in poll() as the blocking call would have
 * (thread_wait).  The record is made when goro first sees the fd (adopt,
 * from F_GETFL), or when a call that creates an fd returns one (socket,
 * accept, pipe, dup, ...), which also drops whatever a closed fd of the
 * same number left behind; close, dup2 and dup3 drop it and wake the
 * goroutines waiting on the fd (EBADF).  A file closed behind goro's back
 * (fclose and other closes inside the C library) is noticed when a
 * goroutine is about to park on its number: the record keeps the file's
 * device and inode, compared with fstat() there (stale).
 *
 * Concurrency: the record's fields are atomics, each written whole; a
 * reader may see a mix of two updates when two threads change one fd's
 * flags at once, which the application cannot order either.  Two
 * goroutines waiting on one fd in one direction: the poller keeps one
 * waiter per direction (netpoll.c), so the second polls every millisecond
 * or so (EBUSY below).  A shortcut: a waiter list per direction in
 * netpoll.c would let both park.
 *
 * errno: a goroutine may resume on another thread, so everything here
 * reads and writes errno through goro__errno_get/set after a park.  The
 * caller's compiled code may still read errno through an address it took
 * before the call; see the guide's caveats.
 */
#undef _FORTIFY_SOURCE /* the definitions below must not be inline wrappers */
#include "netpoll.h"
#include "sanitizer.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef GORO_HOOK
#define GORO_HOOK 0
#endif

#if !GORO_HOOK

/* ---- built without interposers: the C library's functions ---------------- */

#define GORO_SYS_DIRECT(ret, name, params, args) ret(*goro__sys_##name) params = (ret(*) params)name;
GORO_SYS_CALLS(GORO_SYS_DIRECT)
int (*goro__sys_fcntl)(int fd, int cmd, ...) = fcntl;
int (*goro__sys_ioctl)(int fd, unsigned long req, ...) = ioctl;
int (*goro__sys_open)(const char *path, int fl, ...) = open;
int (*goro__sys_openat)(int dir, const char *path, int fl, ...) = openat;

bool goro__hook_enabled(void)
{
    return false;
}

#else /* GORO_HOOK */

#define HOOK __attribute__((visibility("default")))

/* ---- the next definitions (dlsym(RTLD_NEXT)) ------------------------------ */

static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;
static _Atomic int hook_state;  /* 0: not resolved yet, 1: on, 2: off */

static void *find(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        static const char msg[] = "fatal error: goro: no C library definition of a call goro "
                                  "interposes (a fully static program?)\n";
        syscall(SYS_write, 2, msg, sizeof msg - 1);
        abort();
    }
    return p;
}

static void resolve_all(void);

static void resolve(void)
{
    pthread_once(&resolve_once, resolve_all);
}

/* Each pointer starts at a stub that resolves them all, then calls on. */
#define GORO_SYS_STUB(ret, name, params, args)                                  \
    static ret first_##name params                                              \
    {                                                                            \
        resolve();                                                               \
        return goro__sys_##name args;                                            \
    }                                                                            \
    ret(*goro__sys_##name) params = first_##name;
GORO_SYS_CALLS(GORO_SYS_STUB)

/* The variadic ones read their optional argument as a pointer, as the C
 * library's own fcntl and ioctl do; open's mode only when it has one. */
static int first_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    resolve();
    return goro__sys_fcntl(fd, cmd, arg);
}

static int first_ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    resolve();
    return goro__sys_ioctl(fd, req, arg);
}

#define NEEDS_MODE(fl) (((fl) & O_CREAT) || ((fl) & O_TMPFILE) == O_TMPFILE)

static int first_open(const char *path, int fl, ...)
{
    mode_t mode = 0;
    if (NEEDS_MODE(fl)) {
        va_list ap;
        va_start(ap, fl);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    resolve();
    return goro__sys_open(path, fl, mode);
}

static int first_openat(int dir, const char *path, int fl, ...)
{
    mode_t mode = 0;
    if (NEEDS_MODE(fl)) {
        va_list ap;
        va_start(ap, fl);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    resolve();
    return goro__sys_openat(dir, path, fl, mode);
}

int (*goro__sys_fcntl)(int fd, int cmd, ...) = first_fcntl;
int (*goro__sys_ioctl)(int fd, unsigned long req, ...) = first_ioctl;
int (*goro__sys_open)(const char *path, int fl, ...) = first_open;
int (*goro__sys_openat)(int dir, const char *path, int fl, ...) = first_openat;

/* The sanitizers' runtimes (libtsan, libasan, libubsan) open the executable
 * to symbolize a report (libbacktrace's open), holding their own locks,
 * which thread creation and the sleeps of goro's idle threads also take
 * under TSan.  Bracketed as a goroutine's open, the call could park the
 * reporting goroutine at syscall exit (its P taken, or its time slice
 * over) with those locks held, and every thread would wait for them: such
 * an open is the C library's, as is.  san_text holds the executable
 * segments of each runtime linked as a shared library (the default of
 * GCC and Clang); a runtime linked into the program itself cannot be told
 * apart from the program and gets no exception. */
#if defined(GORO_TSAN) || defined(GORO_ASAN)
#include <link.h>

#define SAN_TEXT_MAX 16
static struct {
    uintptr_t lo, hi;
} san_text[SAN_TEXT_MAX];
static int san_ntext;

static int san_segments(struct dl_phdr_info *info, size_t size, void *bases)
{
    (void)size;
    const void *const *b = bases;
    bool runtime = false;
    for (int i = 0; b[i]; i++)
        runtime |= (uintptr_t)b[i] == info->dlpi_addr;
    for (int i = 0; runtime && i < info->dlpi_phnum && san_ntext < SAN_TEXT_MAX; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            san_text[san_ntext].lo = info->dlpi_addr + ph->p_vaddr;
            san_text[san_ntext].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
            san_ntext++;
        }
    }
    return 0;
}

/* Finds the runtimes by a symbol each defines; resolve_all calls it once. */
static void san_find(void)
{
    static const char *const probes[] = {"__tsan_init", "__asan_init", "__ubsan_handle_add_overflow"};
    const void *bases[sizeof probes / sizeof *probes + 1] = {0};
    Dl_info self, in;
    int n = 0;
    if (!dladdr((void *)san_find, &self))
        return;
    for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) {
        void *sym = dlsym(RTLD_DEFAULT, probes[i]);
        if (sym && dladdr(sym, &in) && in.dli_fbase != self.dli_fbase)
            bases[n++] = in.dli_fbase;
    }
    if (n > 0)
        dl_iterate_phdr(san_segments, bases);
}

/* Whether the code at pc (a hook's return address) is a sanitizer's. */
static bool from_sanitizer(const void *pc)
{
    for (int i = 0; i < san_ntext; i++)
        if ((uintptr_t)pc >= san_text[i].lo && (uintptr_t)pc < san_text[i].hi)
            return true;
    return false;
}
#else
static void san_find(void)
{
}

static bool from_sanitizer(const void *pc)
{
    (void)pc;
    return false;
}
#endif

static void resolve_all(void)
{
#define GORO_SYS_FIND(ret, name, params, args) goro__sys_##name = (ret(*) params)find(#name);
    GORO_SYS_CALLS(GORO_SYS_FIND)
#undef GORO_SYS_FIND
    goro__sys_fcntl = (int (*)(int, int, ...))find("fcntl");
    goro__sys_ioctl = (int (*)(int, unsigned long, ...))find("ioctl");
    goro__sys_open = (int (*)(const char *, int, ...))find("open");
    goro__sys_openat = (int (*)(int, const char *, int, ...))find("openat");
    san_find();
    atomic_store_explicit(&hook_state, goro__env_bool("GORO_HOOK", true) ? 1 : 2,
                          memory_order_release);
}

/* Whether the interposers do anything (resolving the pointers first). */
static inline bool active(void)
{
    int s = atomic_load_explicit(&hook_state, memory_order_acquire);
    if (unlikely(s == 0)) {
        resolve();
        s = atomic_load_explicit(&hook_state, memory_order_acquire);
    }
    return s == 1;
}

bool goro__hook_enabled(void)
{
    return active();
}

/* Whether a goroutine runs on this thread (not g0, not a plain thread, not
 * a child of fork).  Read at entry, before anything parks. */
static inline bool in_goroutine(void)
{
    goro__m *m = goro__tls_m;
    return m && m->curg && !goro__forked;
}

/* ---- per-fd records ------------------------------------------------------- */

#define HF_KNOWN 1u    /* the record is valid */
#define HF_APP_NB 2u   /* the application asked for O_NONBLOCK */
#define HF_GORO_NB 4u  /* O_NONBLOCK is set for goro only: the application's view is blocking */
#define HF_POLL 8u     /* registered with goro's poller */
#define HF_FILE 16u    /* the poller refused it (regular file, ...): never EAGAIN */

struct hfd {
    _Atomic uint32_t flags;     /* HF_* */
    _Atomic uint32_t gen;       /* bumped whenever the record is dropped */
    _Atomic int64_t rcvtimeo;   /* SO_RCVTIMEO in ns, 0 for none */
    _Atomic int64_t sndtimeo;
    _Atomic uint64_t dev, ino;  /* the file the record is about (stale) */
};

#define HFD_L1 1024
#define HFD_L2 1024 /* fd numbers below 1M; larger ones are left to the C library */

static _Atomic(struct hfd *) hfd_table[HFD_L1];

/* The record of fd if its row exists, else NULL (never allocates). */
static inline struct hfd *hfd_peek(int fd)
{
    if ((unsigned)fd >= HFD_L1 * HFD_L2)
        return NULL;
    struct hfd *row = atomic_load_explicit(&hfd_table[fd / HFD_L2], memory_order_acquire);
    return row ? &row[fd % HFD_L2] : NULL;
}

/* The record of fd, allocating its row; NULL if fd is out of range or
 * memory is short (the fd is then left to the C library). */
static struct hfd *hfd_get(int fd)
{
    struct hfd *h = hfd_peek(fd);
    if (h || (unsigned)fd >= HFD_L1 * HFD_L2)
        return h;
    struct hfd *row = NULL, *fresh = goro__calloc(HFD_L2, sizeof *fresh);
    if (!fresh)
        return NULL;
    if (!atomic_compare_exchange_strong(&hfd_table[fd / HFD_L2], &row, fresh)) {
        goro__free(fresh); /* another thread won */
        fresh = row;
    }
    return &fresh[fd % HFD_L2];
}

static inline uint32_t hflags(struct hfd *h)
{
    return h ? atomic_load_explicit(&h->flags, memory_order_acquire) : 0;
}

/* Forgets fd's record and its poller registration (waking its waiters):
 * fd was closed, or its number now names another file. */
static void drop(int fd)
{
    struct hfd *h = hfd_peek(fd);
    if (h) {
        atomic_store(&h->flags, 0);
        atomic_store(&h->rcvtimeo, 0);
        atomic_store(&h->sndtimeo, 0);
        atomic_fetch_add(&h->gen, 1);
    }
    if (goro__netpoll_inited())
        goro__fd_forget(fd);
}

static void note_file(struct hfd *h, int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0) {
        atomic_store(&h->dev, (uint64_t)st.st_dev);
        atomic_store(&h->ino, (uint64_t)st.st_ino);
    }
}

static int64_t timeval_ns(const struct timeval *tv)
{
    if (tv->tv_sec < 0 || tv->tv_usec < 0)
        return 0;
    if (tv->tv_sec > INT64_MAX / GORO_SECOND - 1)
        return INT64_MAX / 2;
    return (int64_t)tv->tv_sec * GORO_SECOND + (int64_t)tv->tv_usec * 1000;
}

/* A socket's kernel-side timeouts, for a fd goro sees for the first time. */
static void note_timeouts(struct hfd *h, int fd)
{
    struct timeval tv;
    socklen_t len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0 && len == sizeof tv)
        atomic_store(&h->rcvtimeo, timeval_ns(&tv));
    len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0 && len == sizeof tv)
        atomic_store(&h->sndtimeo, timeval_ns(&tv));
}

/* A call just created fd: whatever was known about its number is stale.
 * app_nb: the application asked for O_NONBLOCK; goro_nb: goro set it. */
static void created(int fd, bool app_nb, bool goro_nb)
{
    struct hfd *h;

    if (fd < 0)
        return;
    drop(fd);
    if (!(h = hfd_get(fd)))
        return;
    note_file(h, fd);
    atomic_store(&h->flags, HF_KNOWN | (app_nb ? HF_APP_NB : 0) | (goro_nb ? HF_GORO_NB : 0));
}

/* dup and friends: to shares from's open file description, so its record
 * (flags but the registration, timeouts, file) is copied. */
static void duplicated(int from, int to)
{
    struct hfd *f = hfd_peek(from), *t;

    if (to < 0)
        return;
    drop(to);
    if (!f || !(hflags(f) & HF_KNOWN) || !(t = hfd_get(to)))
        return;
    atomic_store(&t->rcvtimeo, atomic_load(&f->rcvtimeo));
    atomic_store(&t->sndtimeo, atomic_load(&f->sndtimeo));
    atomic_store(&t->dev, atomic_load(&f->dev));
    atomic_store(&t->ino, atomic_load(&f->ino));
    atomic_store(&t->flags, hflags(f) & (HF_KNOWN | HF_APP_NB | HF_GORO_NB));
}

/* Sets the application's view of O_NONBLOCK.  If goro keeps the fd
 * non-blocking, the application's blocking view becomes HF_GORO_NB. */
static void set_app_nb(struct hfd *h, bool nb, bool goro_keeps)
{
    uint32_t f = hflags(h), want;
    do {
        want = (f | HF_KNOWN) & ~(HF_APP_NB | HF_GORO_NB);
        if (nb)
            want |= HF_APP_NB;
        else if (goro_keeps)
            want |= HF_GORO_NB;
    } while (!atomic_compare_exchange_weak(&h->flags, &f, want));
}

/* The record of fd for a goroutine about to wait on it: made from the
 * fd's flags if new, and registered with the poller (and so made
 * non-blocking) unless the application itself made it non-blocking.
 * NULL: fd is not open, is out of range, or goro cannot take it (the
 * caller then makes the plain call, which reports or blocks as libc's). */
static struct hfd *adopt(int fd)
{
    struct hfd *h = hfd_get(fd);
    uint32_t f = hflags(h);
    bool fresh = false;

    if (!h)
        return NULL;
    if (!(f & HF_KNOWN)) {
        struct stat st;
        int fl;
        if (fstat(fd, &st) != 0 || (fl = goro__sys_fcntl(fd, F_GETFL)) < 0)
            return NULL;
        atomic_store(&h->dev, (uint64_t)st.st_dev);
        atomic_store(&h->ino, (uint64_t)st.st_ino);
        if (S_ISSOCK(st.st_mode))
            note_timeouts(h, fd);
        f = HF_KNOWN | (fl & O_NONBLOCK ? HF_APP_NB : 0);
        /* stdin, stdout and stderr are shared with other processes (the
         * shell, a parent reading a pipe) and with stdio's own writes,
         * which goro does not see: they stay as they are, handed off. */
        if (fd <= STDERR_FILENO)
            f |= HF_FILE;
        atomic_store(&h->flags, f);
        fresh = true;
    }
    if (!(f & (HF_POLL | HF_FILE | HF_APP_NB))) {
        /* A fd new to this record may carry a registration from an earlier
         * file of the same number: register afresh. */
        if ((fresh ? goro__fd_rearm(fd) : goro__fd_prepare(fd)) != 0)
            return NULL;
        if (goro__fd_pollable(fd)) {
            int fl = goro__sys_fcntl(fd, F_GETFL);
            if (fl >= 0 && !(fl & O_NONBLOCK))
                goro__sys_fcntl(fd, F_SETFL, fl | O_NONBLOCK);
            atomic_fetch_or(&h->flags, HF_POLL | HF_GORO_NB);
        } else {
            atomic_fetch_or(&h->flags, HF_FILE);
        }
    }
    return h;
}

/* Whether h describes another file than fd now names (fd closed behind
 * goro's back and its number reused).  If so the record is dropped. */
static bool stale(int fd, struct hfd *h)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return false; /* the call itself will say EBADF */
    if ((uint64_t)st.st_ino == atomic_load(&h->ino) && (uint64_t)st.st_dev == atomic_load(&h->dev))
        return false;
    drop(fd);
    return true;
}

/* Whether a call on fd needs more than the C library's function: a
 * goroutine calls, or goro made fd non-blocking behind the caller's back. */
static inline bool hooked(int fd)
{
    return active() && (in_goroutine() || (hflags(hfd_peek(fd)) & HF_GORO_NB));
}

/* ---- the wait loops --------------------------------------------------------- */

/* One try of a call on a non-blocking fd: its result, or -1 with errno. */
typedef ssize_t attempt_fn(int fd, void *arg);

static ssize_t fail(int e)
{
    goro__errno_set(e);
    return -1;
}

/* Sleeps a little, for a wait the poller cannot take (EBUSY): 50 us, then
 * doubling up to 5 ms.  False once the deadline (< 0: none) has passed. */
static bool backoff(int *step, int64_t deadline)
{
    int64_t ns = (int64_t)50000 << (*step < 7 ? (*step)++ : 7);
    if (ns > 5 * GORO_MILLISECOND)
        ns = 5 * GORO_MILLISECOND;
    if (deadline >= 0) {
        int64_t left = deadline - goro_now();
        if (left <= 0)
            return false;
        if (ns > left)
            ns = left;
    }
    goro_sleep(ns);
    return true;
}

static int64_t timeout_of(struct hfd *h, int mode)
{
    return atomic_load(mode == GORO_PD_READ ? &h->rcvtimeo : &h->sndtimeo);
}

/* A goroutine's blocking call: tries, and parks on EAGAIN. */
static ssize_t park_loop(int fd, struct hfd *h, int mode, attempt_fn *attempt, void *arg)
{
    int64_t deadline = -1;
    uint32_t gen = atomic_load(&h->gen);
    bool checked = false;
    int step = 0;

    for (;;) {
        ssize_t r = attempt(fd, arg);
        goro__hb_release(goro__fd_sync(fd)); /* see goro_close in io.c */
        if (r >= 0)
            return r;
        int e = goro__errno_get();
        if (e != EAGAIN && e != EWOULDBLOCK)
            return fail(e);
        if (atomic_load(&h->gen) != gen)
            return fail(EBADF);
        if (!checked) {
            checked = true;
            if (stale(fd, h)) {
                if (!(h = adopt(fd)))
                    return fail(EAGAIN);
                gen = atomic_load(&h->gen);
            }
        }
        /* The application may have made it non-blocking meanwhile. */
        if (!(hflags(h) & HF_GORO_NB))
            return fail(EAGAIN);
        if (deadline < 0 && timeout_of(h, mode) > 0)
            deadline = goro_now() + timeout_of(h, mode);
        goro__hb_release(goro__fd_sync(fd)); /* stale's fstat, too */
        e = goro__fd_wait(fd, mode, deadline, NULL);
        if (atomic_load(&h->gen) != gen)
            e = EBADF;
        if (e == ETIMEDOUT)
            return fail(EAGAIN);
        if (e == EBUSY) {
            if (!backoff(&step, deadline))
                return fail(EAGAIN);
        } else if (e) {
            return fail(e);
        }
    }
}

/* Waits in poll() on a plain thread: the fd is non-blocking only for goro.
 * Returns 0 (try again), or an errno value (EAGAIN once the deadline passed). */
static int thread_wait(int fd, int mode, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = mode == GORO_PD_READ ? POLLIN : POLLOUT};
    int ms = -1;

    if (deadline >= 0) {
        int64_t left = deadline - goro_now();
        if (left <= 0)
            return EAGAIN;
        ms = (int)((left + GORO_MILLISECOND - 1) / GORO_MILLISECOND);
    }
    if (goro__sys_poll(&p, 1, ms) < 0 && errno != EINTR)
        return errno;
    return 0;
}

/* A plain thread's blocking call on a fd goro made non-blocking. */
static ssize_t thread_loop(int fd, struct hfd *h, int mode, attempt_fn *attempt, void *arg)
{
    int64_t deadline = -1;

    for (;;) {
        ssize_t r = attempt(fd, arg);
        if (r >= 0)
            return r;
        int e = errno;
        if ((e != EAGAIN && e != EWOULDBLOCK) || !(hflags(h) & HF_GORO_NB) || stale(fd, h))
            return fail(e);
        if (deadline < 0 && timeout_of(h, mode) > 0)
            deadline = goro_now() + timeout_of(h, mode);
        if ((e = thread_wait(fd, mode, deadline)))
            return fail(e);
    }
}

/* The end of a call that a goroutine made after goro__syscall_enter():
 * the call returned r, and e is errno read right after it.  Leaves the
 * bracket (goro__syscall_exit), then, when the call failed, sets e again
 * through goro__errno_set (see errno at the top).  Returns r.  Callers
 * pass errno as e: syscall_done(r, errno) right after the call. */
static ssize_t syscall_done(ssize_t r, int e)
{
    goro__syscall_exit();
    if (r < 0)
        goro__errno_set(e);
    return r;
}

/* A call that blocks and cannot wait in the poller, from a goroutine. */
static ssize_t handoff(int fd, attempt_fn *attempt, void *arg)
{
    goro__syscall_enter();
    ssize_t r = attempt(fd, arg);
    return syscall_done(r, errno);
}

/* Blocking semantics for attempt on fd in mode (GORO_PD_READ or _WRITE):
 * the one entry of read, write, recv, send, accept and their variants,
 * once hooked(fd) said yes.  nonblock: the call itself asks not to block. */
static ssize_t blocking(int fd, int mode, bool nonblock, attempt_fn *attempt, void *arg)
{
    struct hfd *h;

    if (!in_goroutine()) {
        h = hfd_peek(fd);
        if (nonblock || !(hflags(h) & HF_GORO_NB))
            return attempt(fd, arg);
        return thread_loop(fd, h, mode, attempt, arg);
    }
    if (!(h = adopt(fd)))
        return attempt(fd, arg);
    uint32_t f = hflags(h);
    if (f & HF_FILE)
        return handoff(fd, attempt, arg);
    if (nonblock || (f & HF_APP_NB))
        return attempt(fd, arg);
    return park_loop(fd, h, mode, attempt, arg);
}

/* ---- read, write and friends -------------------------------------------- */

struct io_args {
    union {
        void *buf;
        const void *cbuf;
        const struct iovec *iov;
        struct msghdr *msg;
        const struct msghdr *cmsg;
    };
    size_t n;
    int flags;
    struct sockaddr *addr;      /* recvfrom's, sendto's (const) */
    socklen_t *addrlen;
    socklen_t tolen;
    size_t done;                /* what a write (or MSG_WAITALL read) did so far */
};

static ssize_t read_try(int fd, void *arg)
{
    struct io_args *a = arg;
    return goro__sys_read(fd, a->buf, a->n);
}

HOOK ssize_t read(int fd, void *buf, size_t n)
{
    if (!hooked(fd))
        return goro__sys_read(fd, buf, n);
    return blocking(fd, GORO_PD_READ, false, read_try, &(struct io_args){.buf = buf, .n = n});
}

/* A blocking write writes everything (or stops at an error or timeout,
 * returning what it wrote): each try goes on from a->done. */
static ssize_t write_try(int fd, void *arg)
{
    struct io_args *a = arg;
    while (a->done < a->n) {
        ssize_t r = goro__sys_write(fd, (const char *)a->cbuf + a->done, a->n - a->done);
        if (r < 0)
            return -1;
        a->done += (size_t)r;
    }
    return (ssize_t)a->done;
}

/* The result of a write-like call that may have made progress before it
 * failed: the progress, as the blocking call would return it. */
static ssize_t progress(ssize_t r, const struct io_args *a)
{
    return r < 0 && a->done > 0 ? (ssize_t)a->done : r;
}

HOOK ssize_t write(int fd, const void *buf, size_t n)
{
    if (!hooked(fd))
        return goro__sys_write(fd, buf, n);
    struct io_args a = {.cbuf = buf, .n = n};
    return progress(blocking(fd, GORO_PD_WRITE, false, write_try, &a), &a);
}

static ssize_t readv_try(int fd, void *arg)
{
    struct io_args *a = arg;
    return goro__sys_readv(fd, a->iov, (int)a->n);
}

HOOK ssize_t readv(int fd, const struct iovec *iov, int n)
{
    if (!hooked(fd))
        return goro__sys_readv(fd, iov, n);
    return blocking(fd, GORO_PD_READ, false, readv_try,
                    &(struct io_args){.iov = iov, .n = (size_t)n});
}

/* An iovec array with the first `skip` bytes cut off, in tmp (n entries
 * at most) or a fresh allocation; *cnt gets its length. */
static struct iovec *iov_skip(const struct iovec *iov, int n, size_t skip, struct iovec *tmp,
                              int tmpn, int *cnt)
{
    int i = 0;
    while (i < n && skip >= iov[i].iov_len)
        skip -= iov[i++].iov_len;
    struct iovec *out = n - i <= tmpn ? tmp : goro__malloc((size_t)(n - i) * sizeof *out);
    if (!out)
        return NULL;
    for (int j = i; j < n; j++)
        out[j - i] = iov[j];
    if (n - i > 0) {
        out[0].iov_base = (char *)out[0].iov_base + skip;
        out[0].iov_len -= skip;
    }
    *cnt = n - i;
    return out;
}

static size_t iov_total(const struct iovec *iov, int n)
{
    size_t t = 0;
    for (int i = 0; i < n; i++)
        t += iov[i].iov_len;
    return t;
}

/* writev and sendmsg on a stream: what is left after a->done bytes. */
static ssize_t writev_try(int fd, void *arg)
{
    struct io_args *a = arg;
    size_t total = iov_total(a->iov, (int)a->n);
    while (a->done < total || total == 0) {
        struct iovec tmp[8], *v;
        int cnt;
        ssize_t r;
        if (a->done == 0) {
            r = goro__sys_writev(fd, a->iov, (int)a->n);
        } else {
            if (!(v = iov_skip(a->iov, (int)a->n, a->done, tmp, 8, &cnt)))
                return fail(ENOMEM);
            r = goro__sys_writev(fd, v, cnt);
            if (v != tmp)
                goro__free(v);
        }
        if (r < 0)
            return -1;
        a->done += (size_t)r;
        if (total == 0)
            break;
    }
    return (ssize_t)a->done;
}

HOOK ssize_t writev(int fd, const struct iovec *iov, int n)
{
    if (!hooked(fd) || n < 0)
        return goro__sys_writev(fd, iov, n);
    struct io_args a = {.iov = iov, .n = (size_t)n};
    return progress(blocking(fd, GORO_PD_WRITE, false, writev_try, &a), &a);
}

/* recv and recvfrom: MSG_WAITALL gathers until the buffer is full, the
 * peer shuts down, or an error or timeout (returning what came). */
static ssize_t recv_try(int fd, void *arg)
{
    struct io_args *a = arg;
    if (!(a->flags & MSG_WAITALL))
        return goro__sys_recvfrom(fd, a->buf, a->n, a->flags, a->addr, a->addrlen);
    while (a->done < a->n) {
        ssize_t r = goro__sys_recvfrom(fd, (char *)a->buf + a->done, a->n - a->done, a->flags,
                                       a->addr, a->addrlen);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        a->done += (size_t)r;
    }
    return (ssize_t)a->done;
}

/* recv is recvfrom without an address (sa and addrlen NULL). */
static ssize_t recv_common(int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
                           socklen_t *addrlen)
{
    if (!hooked(fd))
        return sa ? goro__sys_recvfrom(fd, buf, n, flags, sa, addrlen)
                  : goro__sys_recv(fd, buf, n, flags);
    struct io_args a = {.buf = buf, .n = n, .flags = flags, .addr = sa, .addrlen = addrlen};
    return progress(blocking(fd, GORO_PD_READ, flags & MSG_DONTWAIT, recv_try, &a), &a);
}

HOOK ssize_t recvfrom(int fd, void *buf, size_t n, int flags, __SOCKADDR_ARG addr,
                      socklen_t *restrict addrlen)
{
    return recv_common(fd, buf, n, flags, addr.__sockaddr__, addrlen);
}

HOOK ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    return recv_common(fd, buf, n, flags, NULL, NULL);
}

static ssize_t recvmsg_try(int fd, void *arg)
{
    struct io_args *a = arg;
    return goro__sys_recvmsg(fd, a->msg, a->flags);
}

HOOK ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    if (!hooked(fd))
        return goro__sys_recvmsg(fd, msg, flags);
    return blocking(fd, GORO_PD_READ, flags & MSG_DONTWAIT, recvmsg_try,
                    &(struct io_args){.msg = msg, .flags = flags});
}

/* send and sendto: as write, going on after a partial send (on a stream;
 * a datagram goes whole or not at all). */
static ssize_t send_try(int fd, void *arg)
{
    struct io_args *a = arg;
    do {
        ssize_t r = goro__sys_sendto(fd, (const char *)a->cbuf + a->done, a->n - a->done,
                                     a->flags, a->addr, a->tolen);
        if (r < 0)
            return -1;
        a->done += (size_t)r;
    } while (a->done < a->n);
    return (ssize_t)a->done;
}

/* send is sendto without an address (sa NULL). */
static ssize_t send_common(int fd, const void *buf, size_t n, int flags,
                           const struct sockaddr *sa, socklen_t tolen)
{
    if (!hooked(fd))
        return sa ? goro__sys_sendto(fd, buf, n, flags, sa, tolen)
                  : goro__sys_send(fd, buf, n, flags);
    struct io_args a = {.cbuf = buf, .n = n, .flags = flags, .addr = (struct sockaddr *)sa,
                        .tolen = tolen};
    return progress(blocking(fd, GORO_PD_WRITE, flags & MSG_DONTWAIT, send_try, &a), &a);
}

HOOK ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG to,
                    socklen_t tolen)
{
    return send_common(fd, buf, n, flags, to.__sockaddr__, tolen);
}

HOOK ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    return send_common(fd, buf, n, flags, NULL, 0);
}

/* sendmsg: the first try sends the whole message; after a partial send
 * (a stream) the rest goes without the control data, already sent. */
static ssize_t sendmsg_try(int fd, void *arg)
{
    struct io_args *a = arg;
    size_t total = iov_total(a->cmsg->msg_iov, (int)a->cmsg->msg_iovlen);
    do {
        struct msghdr m = *a->cmsg;
        struct iovec tmp[8], *v = NULL;
        int cnt;
        if (a->done > 0) {
            if (!(v = iov_skip(m.msg_iov, (int)m.msg_iovlen, a->done, tmp, 8, &cnt)))
                return fail(ENOMEM);
            m.msg_iov = v;
            m.msg_iovlen = (size_t)cnt;
            m.msg_control = NULL;
            m.msg_controllen = 0;
        }
        ssize_t r = goro__sys_sendmsg(fd, &m, a->flags);
        if (v && v != tmp)
            goro__free(v);
        if (r < 0)
            return -1;
        a->done += (size_t)r;
    } while (a->done < total);
    return (ssize_t)a->done;
}

HOOK ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (!hooked(fd) || !msg)
        return goro__sys_sendmsg(fd, msg, flags);
    struct io_args a = {.cmsg = msg, .flags = flags};
    return progress(blocking(fd, GORO_PD_WRITE, flags & MSG_DONTWAIT, sendmsg_try, &a), &a);
}

/* pread and pwrite work on files only: handed off in a goroutine. */
static ssize_t pread_try(int fd, void *arg)
{
    struct io_args *a = arg;
    return goro__sys_pread(fd, a->buf, a->n, (off_t)a->done);
}

HOOK ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    if (!active() || !in_goroutine())
        return goro__sys_pread(fd, buf, n, off);
    return handoff(fd, pread_try, &(struct io_args){.buf = buf, .n = n, .done = (size_t)off});
}

HOOK ssize_t pread64(int fd, void *buf, size_t n, off_t off) __attribute__((alias("pread")));

static ssize_t pwrite_try(int fd, void *arg)
{
    struct io_args *a = arg;
    return goro__sys_pwrite(fd, a->cbuf, a->n, (off_t)a->done);
}

HOOK ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (!active() || !in_goroutine())
        return goro__sys_pwrite(fd, buf, n, off);
    return handoff(fd, pwrite_try, &(struct io_args){.cbuf = buf, .n = n, .done = (size_t)off});
}

HOOK ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) __attribute__((alias("pwrite")));

/* ---- accept, connect -------------------------------------------------------- */

static ssize_t accept_try(int fd, void *arg)
{
    struct io_args *a = arg;
    return goro__sys_accept4(fd, a->addr, a->addrlen, a->flags);
}

static int accept_hook(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (!hooked(fd)) {
        int r = goro__sys_accept4(fd, addr, len, flags);
        if (r >= 0 && active())
            created(r, flags & SOCK_NONBLOCK, false);
        return r;
    }
    /* In a goroutine the new socket is made non-blocking at once. */
    bool g = in_goroutine();
    struct io_args a = {.addr = addr, .addrlen = len, .flags = flags | (g ? SOCK_NONBLOCK : 0)};
    int r = (int)blocking(fd, GORO_PD_READ, false, accept_try, &a);
    if (r >= 0)
        created(r, flags & SOCK_NONBLOCK, g && !(flags & SOCK_NONBLOCK));
    return r;
}

HOOK int accept(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
    return accept_hook(fd, addr.__sockaddr__, len, 0);
}

HOOK int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len, int flags)
{
    return accept_hook(fd, addr.__sockaddr__, len, flags);
}

/* The outcome of a connect in progress once fd is writable: 0 connected,
 * EAGAIN not yet (a readiness left from before connect), or its error. */
static int connect_outcome(int fd)
{
    int e = 0;
    socklen_t elen = sizeof e;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
        return errno;
    if (e)
        return e;
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
        return 0;
    return errno == ENOTCONN ? EAGAIN : errno;
}

/* POSIX: a blocking connect that times out (SO_SNDTIMEO) fails with
 * EINPROGRESS and goes on in the background. */
HOOK int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    const struct sockaddr *sa = addr.__sockaddr__;
    struct hfd *h;
    int64_t deadline = -1;
    int e, step = 0;

    if (!hooked(fd))
        return goro__sys_connect(fd, sa, len);
    if (!in_goroutine()) {
        /* A plain thread, on a socket non-blocking only for goro. */
        h = hfd_peek(fd);
        if (goro__sys_connect(fd, sa, len) == 0)
            return 0;
        if ((e = errno) != EINPROGRESS)
            return (int)fail(e);
        if (timeout_of(h, GORO_PD_WRITE) > 0)
            deadline = goro_now() + timeout_of(h, GORO_PD_WRITE);
        for (;;) {
            if ((e = thread_wait(fd, GORO_PD_WRITE, deadline)))
                return (int)fail(e == EAGAIN ? EINPROGRESS : e);
            if ((e = connect_outcome(fd)) != EAGAIN)
                return e ? (int)fail(e) : 0;
        }
    }
    h = adopt(fd);
    if (!h || (hflags(h) & (HF_APP_NB | HF_FILE)))
        return goro__sys_connect(fd, sa, len);
    uint32_t gen = atomic_load(&h->gen);
    if (goro__sys_connect(fd, sa, len) == 0)
        return 0;
    if ((e = goro__errno_get()) != EINPROGRESS)
        return (int)fail(e);
    if (timeout_of(h, GORO_PD_WRITE) > 0)
        deadline = goro_now() + timeout_of(h, GORO_PD_WRITE);
    for (;;) {
        e = goro__fd_wait(fd, GORO_PD_WRITE, deadline, NULL);
        if (atomic_load(&h->gen) != gen)
            return (int)fail(EBADF);
        if (e == ETIMEDOUT)
            return (int)fail(EINPROGRESS);
        if (e == EBUSY) {
            if (!backoff(&step, deadline))
                return (int)fail(EINPROGRESS);
        } else if (e) {
            return (int)fail(e);
        }
        if ((e = connect_outcome(fd)) != EAGAIN)
            return e ? (int)fail(e) : 0;
    }
}

/* ---- poll, select, epoll_wait ------------------------------------------------ */

static int64_t deadline_ms(int ms)
{
    return ms < 0 ? -1 : goro_now() + (int64_t)ms * GORO_MILLISECOND;
}

static int64_t deadline_ts(const struct timespec *ts)
{
    if (!ts)
        return -1;
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= GORO_SECOND)
        return -2; /* invalid: the C library reports it */
    if (ts->tv_sec > INT64_MAX / GORO_SECOND - 1)
        return -1;
    return goro_now() + (int64_t)ts->tv_sec * GORO_SECOND + ts->tv_nsec;
}

/* Milliseconds left until deadline (< 0: none), rounded up, for a call
 * handed off to the C library. */
static int ms_left(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - goro_now();
    if (left <= 0)
        return 0;
    left = (left + GORO_MILLISECOND - 1) / GORO_MILLISECOND;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* poll from a goroutine (deadline < 0: none): asks the kernel, parks on
 * all of the fds at once until one is ready, asks again. */
static int poll_park(struct pollfd *fds, nfds_t n, int64_t deadline)
{
    int small_fds[16], small_modes[16], *pf = small_fds, *pm = small_modes, k = 0, r, step = 0;

    if ((r = goro__sys_poll(fds, n, 0)) != 0)
        return r;
    if (n > 16) {
        pf = goro__malloc(n * sizeof *pf);
        pm = goro__malloc(n * sizeof *pm);
        if (!pf || !pm) {
            r = -2;
            goto out;
        }
    }
    for (nfds_t i = 0; i < n; i++) {
        if (fds[i].fd < 0)
            continue;
        struct hfd *h = adopt(fds[i].fd);
        if (!h || (hflags(h) & HF_FILE)) {
            r = -2; /* goro cannot wait on it: the C library must */
            goto out;
        }
        short ev = fds[i].events;
        int mode = (ev & (POLLOUT | POLLWRNORM | POLLWRBAND) ? GORO_PD_WRITE : 0) |
                   (ev & (POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND | POLLRDHUP) ? GORO_PD_READ : 0);
        pf[k] = fds[i].fd;
        pm[k++] = mode ? mode : GORO_PD_READ; /* errors and hangups only */
    }
    if (k == 0) {
        /* No fd (poll(NULL, 0, ms), or all negative): a sleep. */
        while (deadline < 0 || goro_now() < deadline)
            goro_sleep(deadline < 0 ? GORO_SECOND * 3600 : deadline - goro_now());
        goto out;
    }
    for (;;) {
        int e = goro__fd_wait_many(pf, pm, k, deadline);
        if ((r = goro__sys_poll(fds, n, 0)) != 0)
            break;
        if (deadline >= 0 && goro_now() >= deadline)
            break;
        if (e == EBUSY) {
            if (!backoff(&step, deadline))
                break;
        } else if (e && e != EBADF && e != ETIMEDOUT) {
            r = -2;
            break;
        }
    }
out:
    if (pf != small_fds)
        goro__free(pf);
    if (pm != small_modes)
        goro__free(pm);
    if (r == -2) {
        /* Hand the rest of the wait to the C library. */
        goro__syscall_enter();
        r = goro__sys_poll(fds, n, ms_left(deadline));
        r = (int)syscall_done(r, errno);
    }
    return r;
}

HOOK int poll(struct pollfd *fds, nfds_t n, int ms)
{
    if (!active() || !in_goroutine() || ms == 0)
        return goro__sys_poll(fds, n, ms);
    return poll_park(fds, n, deadline_ms(ms));
}

HOOK int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
    int64_t deadline;
    if (!active() || !in_goroutine() || (deadline = deadline_ts(ts)) == -2)
        return goro__sys_ppoll(fds, n, ts, mask);
    if (mask) {
        /* A signal mask for the wait belongs to a thread: hand it off. */
        goro__syscall_enter();
        int r = goro__sys_ppoll(fds, n, ts, mask);
        return (int)syscall_done(r, errno);
    }
    return poll_park(fds, n, deadline);
}

/* select through poll: what is asked in r, w, x (readable, writable,
 * exceptional: POLLPRI) becomes one pollfd per fd, and back. */
static int select_park(int nfds, fd_set *rs, fd_set *ws, fd_set *xs, int64_t deadline)
{
    struct pollfd small[16], *p = small;
    int n = 0, r, count = 0;

    for (int fd = 0; fd < nfds; fd++)
        n += (rs && FD_ISSET(fd, rs)) || (ws && FD_ISSET(fd, ws)) || (xs && FD_ISSET(fd, xs));
    if (n > 16 && !(p = goro__malloc((size_t)n * sizeof *p)))
        return (int)fail(ENOMEM);
    n = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = (short)((rs && FD_ISSET(fd, rs) ? POLLIN : 0) |
                           (ws && FD_ISSET(fd, ws) ? POLLOUT : 0) |
                           (xs && FD_ISSET(fd, xs) ? POLLPRI : 0));
        if (ev)
            p[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    r = poll_park(p, (nfds_t)n, deadline);
    if (r > 0) {
        for (int i = 0; i < n; i++)
            if (p[i].revents & POLLNVAL) {
                r = (int)fail(EBADF);
                goto out;
            }
        if (rs)
            FD_ZERO(rs);
        if (ws)
            FD_ZERO(ws);
        if (xs)
            FD_ZERO(xs);
        for (int i = 0; i < n; i++) {
            short ev = p[i].events, re = p[i].revents;
            if ((ev & POLLIN) && (re & (POLLIN | POLLHUP | POLLERR)))
                FD_SET(p[i].fd, rs), count++;
            if ((ev & POLLOUT) && (re & (POLLOUT | POLLERR)))
                FD_SET(p[i].fd, ws), count++;
            if ((ev & POLLPRI) && (re & POLLPRI))
                FD_SET(p[i].fd, xs), count++;
        }
        r = count;
    } else if (r == 0) {
        if (rs)
            FD_ZERO(rs);
        if (ws)
            FD_ZERO(ws);
        if (xs)
            FD_ZERO(xs);
    }
out:
    if (p != small)
        goro__free(p);
    return r;
}

HOOK int select(int nfds, fd_set *rs, fd_set *ws, fd_set *xs, struct timeval *tv)
{
    if (!active() || !in_goroutine() || nfds < 0 || nfds > FD_SETSIZE ||
        (tv && (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)) ||
        (tv && tv->tv_sec == 0 && tv->tv_usec == 0))
        return goro__sys_select(nfds, rs, ws, xs, tv);
    int64_t deadline = tv ? goro_now() + timeval_ns(tv) : -1;
    int r = select_park(nfds, rs, ws, xs, deadline);
    if (tv && r >= 0) {
        /* Linux leaves the time not slept in tv. */
        int64_t left = deadline - goro_now();
        if (left < 0)
            left = 0;
        tv->tv_sec = left / GORO_SECOND;
        tv->tv_usec = left % GORO_SECOND / 1000;
    }
    return r;
}

HOOK int pselect(int nfds, fd_set *rs, fd_set *ws, fd_set *xs, const struct timespec *ts,
                 const sigset_t *mask)
{
    int64_t deadline;
    if (!active() || !in_goroutine() || nfds < 0 || nfds > FD_SETSIZE ||
        (deadline = deadline_ts(ts)) == -2 || (ts && ts->tv_sec == 0 && ts->tv_nsec == 0))
        return goro__sys_pselect(nfds, rs, ws, xs, ts, mask);
    if (mask) {
        goro__syscall_enter();
        int r = goro__sys_pselect(nfds, rs, ws, xs, ts, mask);
        return (int)syscall_done(r, errno);
    }
    return select_park(nfds, rs, ws, xs, deadline);
}

/* epoll_wait on a library's own epoll fd: the epoll fd is readable while
 * it has events, so goro's poller waits for that. */
static int epoll_park(int ep, struct epoll_event *ev, int n, int64_t deadline)
{
    int r, e, step = 0;
    struct hfd *h;

    if ((r = goro__sys_epoll_wait(ep, ev, n, 0)) != 0)
        return r;
    if (!(h = adopt(ep)) || (hflags(h) & HF_FILE)) {
        goro__syscall_enter();
        r = goro__sys_epoll_wait(ep, ev, n, ms_left(deadline));
        return (int)syscall_done(r, errno);
    }
    for (;;) {
        e = goro__fd_wait(ep, GORO_PD_READ, deadline, NULL);
        if ((r = goro__sys_epoll_wait(ep, ev, n, 0)) != 0)
            return r;
        if (e == ETIMEDOUT || (deadline >= 0 && goro_now() >= deadline))
            return 0;
        if (e == EBUSY) {
            if (!backoff(&step, deadline))
                return 0;
        } else if (e) {
            return (int)fail(e);
        }
    }
}

HOOK int epoll_wait(int ep, struct epoll_event *ev, int n, int ms)
{
    if (!active() || !in_goroutine() || ms == 0 || n <= 0 || !ev)
        return goro__sys_epoll_wait(ep, ev, n, ms);
    return epoll_park(ep, ev, n, deadline_ms(ms));
}

HOOK int epoll_pwait(int ep, struct epoll_event *ev, int n, int ms, const sigset_t *mask)
{
    if (!active() || !in_goroutine() || ms == 0 || n <= 0 || !ev)
        return goro__sys_epoll_pwait(ep, ev, n, ms, mask);
    if (mask) {
        goro__syscall_enter();
        int r = goro__sys_epoll_pwait(ep, ev, n, ms, mask);
        return (int)syscall_done(r, errno);
    }
    return epoll_park(ep, ev, n, deadline_ms(ms));
}

/* ---- sleeping ------------------------------------------------------------------ */

/* A zero-length sleep stays the C library's (it yields the thread; the
 * TSan build's usleep(0) relies on reaching the interceptor). */
HOOK int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!active() || !in_goroutine() || !req || req->tv_nsec < 0 || req->tv_nsec >= GORO_SECOND ||
        req->tv_sec < 0 || (req->tv_sec == 0 && req->tv_nsec == 0))
        return goro__sys_nanosleep(req, rem);
    int64_t d = deadline_ts(req);
    goro_sleep(d < 0 ? INT64_MAX / 2 : d - goro_now());
    return 0;
}

HOOK int usleep(useconds_t us)
{
    if (!active() || !in_goroutine() || us == 0)
        return goro__sys_usleep(us);
    goro_sleep((int64_t)us * 1000);
    return 0;
}

HOOK unsigned sleep(unsigned s)
{
    if (!active() || !in_goroutine() || s == 0)
        return goro__sys_sleep(s);
    goro_sleep((int64_t)s * GORO_SECOND);
    return 0;
}

/* CLOCK_REALTIME and CLOCK_MONOTONIC (and CLOCK_BOOTTIME), relative or
 * absolute; other clocks and bad arguments go to the C library. */
HOOK int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
                         struct timespec *rem)
{
    struct timespec now;
    if (!active() || !in_goroutine() || !req || req->tv_nsec < 0 || req->tv_nsec >= GORO_SECOND ||
        req->tv_sec < 0 ||
        (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC && clk != CLOCK_BOOTTIME))
        return goro__sys_clock_nanosleep(clk, flags, req, rem);
    int64_t ns = (int64_t)req->tv_sec * GORO_SECOND + req->tv_nsec;
    if (req->tv_sec > INT64_MAX / GORO_SECOND - 1)
        ns = INT64_MAX / 2;
    if (flags & TIMER_ABSTIME) {
        clock_gettime(clk, &now);
        ns -= (int64_t)now.tv_sec * GORO_SECOND + now.tv_nsec;
    }
    if (ns > 0)
        goro_sleep(ns);
    return 0;
}

/* ---- getaddrinfo: on the blocking pool ----------------------------------------- */

struct gai {
    const char *node, *svc;
    const struct addrinfo *hints;
    struct addrinfo **res;
    int rc, err;
};

static void gai_run(void *arg)
{
    struct gai *a = arg;
    a->rc = goro__sys_getaddrinfo(a->node, a->svc, a->hints, a->res);
    a->err = errno; /* this thread's: EAI_SYSTEM's reason */
}

HOOK int getaddrinfo(const char *restrict node, const char *restrict svc,
                     const struct addrinfo *restrict hints, struct addrinfo **restrict res)
{
    if (!active() || !in_goroutine())
        return goro__sys_getaddrinfo(node, svc, hints, res);
    struct gai a = {.node = node, .svc = svc, .hints = hints, .res = res};
    if (goro_blocking(gai_run, &a) != 0)
        return goro__sys_getaddrinfo(node, svc, hints, res); /* no pool thread: block here */
    if (a.rc == EAI_SYSTEM)
        goro__errno_set(a.err);
    return a.rc;
}

/* ---- the application's view of an fd ------------------------------------------- */

static int fcntl_hook(int fd, int cmd, void *arg)
{
    struct hfd *h;
    uint32_t f;
    int r;

    if (!active())
        return goro__sys_fcntl(fd, cmd, arg);
    switch (cmd) {
    case F_GETFL:
        r = goro__sys_fcntl(fd, F_GETFL);
        f = hflags(hfd_peek(fd));
        if (r >= 0 && (f & HF_KNOWN))
            r = (r & ~O_NONBLOCK) | (f & HF_APP_NB ? O_NONBLOCK : 0);
        return r;
    case F_SETFL: {
        int fl = (int)(intptr_t)arg;
        h = hfd_peek(fd);
        f = hflags(h);
        /* goro keeps a fd it polls non-blocking; the application's wish
         * is recorded. */
        bool keep = f & (HF_POLL | HF_GORO_NB);
        r = goro__sys_fcntl(fd, F_SETFL, keep ? fl | O_NONBLOCK : fl);
        if (r == 0 && (f & HF_KNOWN))
            set_app_nb(h, fl & O_NONBLOCK, keep);
        return r;
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        r = goro__sys_fcntl(fd, cmd, arg);
        if (r >= 0)
            duplicated(fd, r);
        return r;
    default:
        return goro__sys_fcntl(fd, cmd, arg);
    }
}

HOOK int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_hook(fd, cmd, arg);
}

HOOK int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

HOOK int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (!active() || req != FIONBIO || !arg)
        return goro__sys_ioctl(fd, req, arg);
    struct hfd *h = hfd_peek(fd);
    uint32_t f = hflags(h);
    bool nb = *(int *)arg != 0, keep = f & (HF_POLL | HF_GORO_NB);
    if (keep && !nb) {
        set_app_nb(h, false, true); /* the real fd stays non-blocking */
        return 0;
    }
    int r = goro__sys_ioctl(fd, req, arg);
    if (r == 0 && (f & HF_KNOWN))
        set_app_nb(h, nb, keep);
    return r;
}

HOOK int setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
    int r = goro__sys_setsockopt(fd, level, opt, val, len);
    if (r != 0 || !active() || level != SOL_SOCKET || !val || len < sizeof(struct timeval))
        return r;
    if (opt == SO_RCVTIMEO || opt == SO_SNDTIMEO) {
        struct hfd *h = hfd_get(fd);
        if (h)
            atomic_store(opt == SO_RCVTIMEO ? &h->rcvtimeo : &h->sndtimeo,
                         timeval_ns((const struct timeval *)val));
    }
    return r;
}

/* ---- fds made and closed ----------------------------------------------------------- */

HOOK int close(int fd)
{
    if (!active() || fd < 0)
        return goro__sys_close(fd);
    if (goro__netpoll_inited())
        goro__hb_acquire(goro__fd_sync(fd)); /* see goro_close in io.c */
    drop(fd);
    if (!goro__netpoll_inited())
        return goro__sys_close(fd);
    int e = goro__fd_close(fd);
    return e ? (int)fail(e) : 0;
}

HOOK int dup(int fd)
{
    int r = goro__sys_dup(fd);
    if (r >= 0 && active())
        duplicated(fd, r);
    return r;
}

/* dup2 and dup3 close `to` first: its waiters wake with EBADF. */
HOOK int dup2(int fd, int to)
{
    if (!active() || fd == to)
        return goro__sys_dup2(fd, to);
    drop(to);
    int r = goro__sys_dup2(fd, to);
    if (r >= 0)
        duplicated(fd, r);
    return r;
}

HOOK int dup3(int fd, int to, int flags)
{
    if (!active() || fd == to)
        return goro__sys_dup3(fd, to, flags);
    drop(to);
    int r = goro__sys_dup3(fd, to, flags);
    if (r >= 0)
        duplicated(fd, r);
    return r;
}

HOOK int socket(int dom, int type, int proto)
{
    int r = goro__sys_socket(dom, type, proto);
    if (r >= 0 && active())
        created(r, type & SOCK_NONBLOCK, false);
    return r;
}

HOOK int socketpair(int dom, int type, int proto, int sv[2])
{
    int r = goro__sys_socketpair(dom, type, proto, sv);
    if (r == 0 && active()) {
        created(sv[0], type & SOCK_NONBLOCK, false);
        created(sv[1], type & SOCK_NONBLOCK, false);
    }
    return r;
}

HOOK int pipe2(int p[2], int flags)
{
    int r = goro__sys_pipe2(p, flags);
    if (r == 0 && active()) {
        created(p[0], flags & O_NONBLOCK, false);
        created(p[1], flags & O_NONBLOCK, false);
    }
    return r;
}

HOOK int pipe(int p[2])
{
    int r = goro__sys_pipe(p);
    if (r == 0 && active()) {
        created(p[0], false, false);
        created(p[1], false, false);
    }
    return r;
}

/* ---- calls handed off: files, locks, children ------------------------------------------ */

/* open and openat may block (a FIFO without a peer, NFS): handed off in a
 * goroutine.  The fd they return is new to goro. */
static int opened(int r)
{
    if (r >= 0 && active()) {
        drop(r);
    }
    return r;
}

#ifdef GORO_TESTING
/* For tests (GORO_TESTING builds only): opens made on a goroutine, and of
 * those the ones bracketed as a blocking call. */
static _Atomic unsigned long test_opens, test_opens_bracketed;

GORO_API void goro__test_open_counts(unsigned long *opens, unsigned long *bracketed)
{
    *opens = atomic_load(&test_opens);
    *bracketed = atomic_load(&test_opens_bracketed);
}
#define TEST_COUNT(c) atomic_fetch_add_explicit(&(c), 1, memory_order_relaxed)
#else
#define TEST_COUNT(c) ((void)0)
#endif

/* caller: the return address of the exported open or openat. */
static int open_hook(const void *caller, bool at, int dir, const char *path, int fl, mode_t mode)
{
    bool g = active() && in_goroutine();
    if (g)
        TEST_COUNT(test_opens);
    if (!g || from_sanitizer(caller))
        return opened(at ? goro__sys_openat(dir, path, fl, mode) : goro__sys_open(path, fl, mode));
    TEST_COUNT(test_opens_bracketed);
    goro__syscall_enter();
    int r = at ? goro__sys_openat(dir, path, fl, mode) : goro__sys_open(path, fl, mode);
    return opened((int)syscall_done(r, errno));
}

#define OPEN_MODE(fl, mode)                                                      \
    mode_t mode = 0;                                                             \
    if (NEEDS_MODE(fl)) {                                                        \
        va_list ap;                                                              \
        va_start(ap, fl);                                                        \
        mode = va_arg(ap, mode_t);                                               \
        va_end(ap);                                                              \
    }

HOOK int open(const char *path, int fl, ...)
{
    OPEN_MODE(fl, mode);
    return open_hook(__builtin_return_address(0), false, 0, path, fl, mode);
}

HOOK int open64(const char *path, int fl, ...) __attribute__((alias("open")));

HOOK int openat(int dir, const char *path, int fl, ...)
{
    OPEN_MODE(fl, mode);
    return open_hook(__builtin_return_address(0), true, dir, path, fl, mode);
}

HOOK int openat64(int dir, const char *path, int fl, ...) __attribute__((alias("openat")));

/* Calls that block without an fd to poll: handed off in a goroutine. */
#define HANDOFF(call, sys_call)                                                  \
    do {                                                                         \
        if (!active() || !in_goroutine())                                        \
            return sys_call;                                                     \
        goro__syscall_enter();                                                   \
        __typeof__(sys_call) r_ = sys_call;                                      \
        return (__typeof__(sys_call))syscall_done(r_, errno);                    \
    } while (0)

HOOK int fsync(int fd)
{
    HANDOFF(fsync, goro__sys_fsync(fd));
}

HOOK int fdatasync(int fd)
{
    HANDOFF(fdatasync, goro__sys_fdatasync(fd));
}

HOOK int flock(int fd, int op)
{
    if (op & LOCK_NB)
        return goro__sys_flock(fd, op);
    HANDOFF(flock, goro__sys_flock(fd, op));
}

HOOK pid_t waitpid(pid_t pid, int *status, int opt)
{
    if (opt & WNOHANG)
        return goro__sys_waitpid(pid, status, opt);
    HANDOFF(waitpid, goro__sys_waitpid(pid, status, opt));
}

HOOK pid_t wait(int *status)
{
    return waitpid(-1, status, 0);
}

/* ---- _FORTIFY_SOURCE's checked forms ------------------------------------------------ */

extern void __chk_fail(void) __attribute__((noreturn));

HOOK ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (n > buflen)
        __chk_fail();
    return read(fd, buf, n);
}

HOOK ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
    if (n > buflen)
        __chk_fail();
    return pread(fd, buf, n, off);
}

HOOK ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
    __attribute__((alias("__pread_chk")));

HOOK ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    if (n > buflen)
        __chk_fail();
    return recv(fd, buf, n, flags);
}

HOOK ssize_t __recvfrom_chk(int fd, void *restrict buf, size_t n, size_t buflen, int flags,
                            __SOCKADDR_ARG addr, socklen_t *restrict addrlen)
{
    if (n > buflen)
        __chk_fail();
    return recvfrom(fd, buf, n, flags, addr, addrlen);
}

HOOK int __poll_chk(struct pollfd *fds, nfds_t n, int ms, size_t fdslen)
{
    if (fdslen / sizeof *fds < n)
        __chk_fail();
    return poll(fds, n, ms);
}

HOOK int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                     const sigset_t *mask, size_t fdslen)
{
    if (fdslen / sizeof *fds < n)
        __chk_fail();
    return ppoll(fds, n, ts, mask);
}

HOOK int __open_2(const char *path, int fl)
{
    return open(path, fl);
}

HOOK int __open64_2(const char *path, int fl) __attribute__((alias("__open_2")));

HOOK int __openat_2(int dir, const char *path, int fl)
{
    return openat(dir, path, fl);
}

HOOK int __openat64_2(int dir, const char *path, int fl) __attribute__((alias("__openat_2")));

#endif /* GORO_HOOK */
