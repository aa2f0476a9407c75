/* netpoll_epoll.c - the epoll backend of the network poller (Go:
 * runtime/netpoll_epoll.go).  The contract is in netpoll.h.
 *
 * One epoll instance; each fd is added once with EPOLLIN | EPOLLOUT |
 * EPOLLRDHUP | EPOLLET and its goro__pd as the event's data.  An eventfd in
 * the set (level-triggered, data NULL) breaks a blocked wait; a flag keeps
 * repeated breaks from writing it more than once per wait.  Only a blocking
 * wait reads the eventfd (Go: netpoll's "only read the 8-byte integer if
 * blocking").  The broken interleaving otherwise:
 *
 *      timer M (blocking wait)      breaker        other M (poll, timeout 0)
 *      epoll_wait, asleep
 *                                   write eventfd
 *      woken, not yet run                          epoll_wait: eventfd
 *                                                  reads it
 *      the kernel finds nothing
 *      ready: asleep again, until
 *      the old deadline
 *
 * A non-blocking poll leaves the eventfd readable: the blocked wait (or the
 * next one) reads it and returns.
 *
 * Deadlines: epoll_pwait2 takes a nanosecond timeout (Linux 5.11); on older
 * kernels epoll_wait's millisecond timeout is rounded up, so a timer may
 * fire up to a millisecond late, never early.
 */
#include "netpoll.h"
#include "sanitizer.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 128

static int epfd = -1;
static int breakfd = -1;
static _Atomic uint32_t break_pending;
static _Atomic bool have_pwait2 = true;

/* Under TSan the poller's own fds (epfd, breakfd) are used from whichever
 * thread polls or breaks, with the runtime's invisible synchronisation in
 * between: keep those system calls out of TSan's view, as the rest of the
 * runtime is. */
static int backend_init(void)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return errno;
    breakfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (breakfd < 0) {
        int e = errno;
        goro__sys_close(epfd);
        epfd = -1;
        return e;
    }
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev) != 0) {
        int e = errno;
        goro__sys_close(breakfd);
        goro__sys_close(epfd);
        epfd = breakfd = -1;
        return e;
    }
    return 0;
}

static int backend_open(int fd, goro__pd *pd)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = pd};

    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    if (errno == EEXIST) /* still registered from an earlier use of fd */
        return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : errno;
    return errno;
}

static void backend_close(int fd)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void backend_break(void)
{
    uint64_t one = 1;
    if (atomic_exchange(&break_pending, 1) == 0) {
        ssize_t r = goro__sys_write(breakfd, &one, sizeof one);
        (void)r; /* EAGAIN: the counter is already non-zero, which is enough */
    }
}

static int wait_events(struct epoll_event *evs, int64_t deadline)
{
    int64_t now, left;

    if (deadline == 0)
        return goro__sys_epoll_wait(epfd, evs, MAX_EVENTS, 0);
    if (deadline < 0)
        return goro__sys_epoll_wait(epfd, evs, MAX_EVENTS, -1);
    now = goro__nanotime();
    left = deadline > now ? deadline - now : 0;
#if defined(SYS_epoll_pwait2)
    if (atomic_load_explicit(&have_pwait2, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = left / GORO_SECOND, .tv_nsec = left % GORO_SECOND};
        long r = syscall(SYS_epoll_pwait2, epfd, evs, MAX_EVENTS, &ts, NULL, 0);
        if (r >= 0 || errno != ENOSYS)
            return (int)r;
        atomic_store(&have_pwait2, false);
    }
#endif
    int64_t ms = (left + GORO_MILLISECOND - 1) / GORO_MILLISECOND;
    return goro__sys_epoll_wait(epfd, evs, MAX_EVENTS, ms > INT32_MAX ? INT32_MAX : (int)ms);
}

int goro__netpoll_backend_wait(int64_t deadline)
{
    struct epoll_event evs[MAX_EVENTS];
    int n, count = 0;

    goro__tsan_ignore_begin();
    n = wait_events(evs, deadline);
    goro__tsan_ignore_end();

    for (int i = 0; i < n; i++) {
        goro__pd *pd = evs[i].data.ptr;
        uint32_t e = evs[i].events;
        int mode = 0;

        if (!pd) {
            uint64_t v;
            if (deadline == 0)
                continue; /* the break is for a blocked wait: see above */
            goro__tsan_ignore_begin();
            ssize_t r = goro__sys_read(breakfd, &v, sizeof v);
            goro__tsan_ignore_end();
            (void)r;
            atomic_store(&break_pending, 0);
            continue;
        }
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            mode |= GORO_PD_READ;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            mode |= GORO_PD_WRITE;
        goro__netpoll_ready(pd, mode);
        count++;
    }
    return count;
}

/* ---- entry points: the system calls above, out of TSan's view ------------ */

int goro__netpoll_backend_init(void)
{
    goro__tsan_ignore_begin();
    int e = backend_init();
    goro__tsan_ignore_end();
    return e;
}

int goro__netpoll_backend_open(int fd, goro__pd *pd)
{
    goro__tsan_ignore_begin();
    int e = backend_open(fd, pd);
    goro__tsan_ignore_end();
    return e;
}

void goro__netpoll_backend_close(int fd)
{
    goro__tsan_ignore_begin();
    backend_close(fd);
    goro__tsan_ignore_end();
}

void goro__netpoll_backend_break(void)
{
    goro__tsan_ignore_begin();
    backend_break();
    goro__tsan_ignore_end();
}
