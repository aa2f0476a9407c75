/* io.c - goroutine-friendly I/O on file descriptors (Go: internal/poll,
 * net).  Every call tries the system call first and waits in the poller
 * (netpoll.c) only on EAGAIN, so a ready fd costs one system call.  An fd
 * the poller cannot watch (a regular file) blocks the thread instead: its
 * calls are bracketed by goro__syscall_enter/exit, so that sysmon may hand
 * the P to another thread while one lasts (sched.c, "System calls").
 *
 * Errors: every public call here returns its error as a negative errno
 * value (-ETIMEDOUT), never as -1 plus errno.  A goroutine resumes on
 * another thread after it parks, and the caller's compiled code may read
 * errno through an address it computed before the call (glibc declares
 * __errno_location const, so compilers hoist it): errno is then another
 * thread's, wrong about half the time under load.  A return value cannot
 * be misread that way.  errno is set too, through goro__errno_set (a fresh
 * thread pointer), as a convenience for callers that read it at once
 * through a fresh address; inside, errno is read only through
 * goro__errno_get, right after the failing system call.
 *
 * SIGPIPE: writes to sockets use send(MSG_NOSIGNAL).  For other fds (pipes)
 * a write to a closed reader raises SIGPIPE at the writing thread, so
 * SIGPIPE is blocked around the write and consumed if the write raised it,
 * on goro's threads as on plain ones: goro's threads run with the
 * application's signal mask (os_linux.c), which children inherit, so they
 * cannot simply keep SIGPIPE blocked.
 *
 * Networks: goro_listen and goro_dial map Go's network names (a table,
 * `networks`) to a family and socket type; IP networks resolve through
 * getaddrinfo on the blocking pool and try each address in turn, unix ones
 * build a sockaddr_un Go's way (unix_addr: '@' for abstract names, the
 * 108-byte limit).  Datagrams move with one recvfrom or sendto each, never
 * in pieces.  Addresses print as Go's net.Addr String methods do
 * (goro_addr_format), so the text goes back through goro_addr_resolve.
 * Shortcut: "tcp"/"udp" on ":port" binds the first address getaddrinfo
 * gives (0.0.0.0 in glibc's default order), where Go binds a dual-stack
 * [::]; pass "[::]:port" for IPv6.
 */
#include "netpoll.h"
#include "sanitizer.h"

#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stddef.h>
#include <sys/un.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* TSan: an fd's I/O happens before its goro_close (Go's Close waits for
 * operations in flight; here the goroutines woken by the close never touch
 * the fd again), so a close that interrupts a reader is not a race. */
#define io_done(fd) goro__hb_release(goro__fd_sync(fd))

/* The error return of every call here: -e, with errno e as a courtesy. */
static ssize_t fail(int e)
{
    goro__errno_set(e);
    return -(ssize_t)e;
}

/* The deadline and done channel of ctx, for the waits below. */
static void ctx_bounds(goro_ctx *ctx, int64_t *deadline, goro_chan **done)
{
    int64_t d;
    *deadline = goro_ctx_deadline(ctx, &d) ? d : -1;
    *done = goro_ctx_done(ctx);
}

/* Maps a wait's ECANCELED to the context's own error. */
static int wait_err(goro_ctx *ctx, int e)
{
    if (ctx && (e == ECANCELED || e == ETIMEDOUT)) {
        int ce = goro_ctx_err(ctx);
        if (ce)
            return ce;
    }
    return e;
}

/* ---- the I/O loop (Go: internal/poll's FD.Read, FD.Write, FD.Accept) ----- */

/* One attempt of a system call on a non-blocking fd: the call's result
 * (>= 0), or its errno negated, read on this thread right after the call
 * (-EINTR asks for another attempt at once).  arg holds the arguments, and
 * whatever progress the attempt made, for the next attempt. */
typedef ssize_t io_attempt(int fd, void *arg);

/* The one loop behind every call here that may wait for readiness: tries
 * attempt, and on EAGAIN parks until fd is ready for mode (GORO_PD_READ or
 * GORO_PD_WRITE), the deadline (< 0: none) passes or done closes; ctx's
 * error ends it before each attempt.  Returns: the attempt's result, or a
 * negative errno value (ETIMEDOUT, ECANCELED, or ctx's error). */
static ssize_t io_until(goro_ctx *ctx, int fd, int mode, int64_t deadline, goro_chan *done,
                        io_attempt *attempt, void *arg)
{
    int e = goro__fd_prepare(fd);
    if (e)
        return fail(e);
    /* A regular file's calls block the thread: announce them, so that
     * sysmon may hand the P on (sched.c, "System calls"). */
    bool blocks = goro__fd_blocks(fd);
    for (;;) {
        if (ctx && (e = goro_ctx_err(ctx)))
            return fail(e);
        if (blocks)
            goro__syscall_enter();
        ssize_t r = attempt(fd, arg);
        if (blocks)
            goro__syscall_exit_any(); /* errno is read in attempt */
        io_done(fd);
        if (r >= 0)
            return r;
        e = (int)-r;
        if (e == EINTR)
            continue;
        if (e != EAGAIN && e != EWOULDBLOCK)
            return fail(e);
        e = goro__fd_wait(fd, mode, deadline, done);
        if (e)
            return fail(wait_err(ctx, e));
    }
}

/* The attempt's result, or -errno of the call just made. */
static ssize_t result(ssize_t r)
{
    return r >= 0 ? r : -(ssize_t)goro__errno_get();
}

/* ---- read ---------------------------------------------------------------- */

struct buf_args {
    void *buf;
    size_t n;
};

static ssize_t read_attempt(int fd, void *arg)
{
    struct buf_args *a = arg;
    return result(goro__sys_read(fd, a->buf, a->n));
}

static ssize_t read_until(goro_ctx *ctx, int fd, void *buf, size_t n, int64_t deadline,
                          goro_chan *done)
{
    return io_until(ctx, fd, GORO_PD_READ, deadline, done, read_attempt,
                    &(struct buf_args){buf, n});
}

ssize_t goro_read(int fd, void *buf, size_t n)
{
    return read_until(NULL, fd, buf, n, -1, NULL);
}

ssize_t goro_read_deadline(int fd, void *buf, size_t n, int64_t deadline)
{
    return read_until(NULL, fd, buf, n, deadline, NULL);
}

ssize_t goro_read_ctx(goro_ctx *ctx, int fd, void *buf, size_t n)
{
    int64_t deadline;
    goro_chan *done;
    ctx_bounds(ctx, &deadline, &done);
    return read_until(ctx, fd, buf, n, deadline, done);
}

/* ---- write --------------------------------------------------------------- */

/* One write attempt without SIGPIPE.  *sock caches whether fd is a socket
 * (1), not one (0), or unknown (-1). */
static ssize_t write_once(int fd, const void *buf, size_t n, int *sock)
{
    ssize_t r;

    if (*sock != 0) {
        r = goro__sys_send(fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0 || goro__errno_get() != ENOTSOCK) {
            *sock = 1;
            return r;
        }
        *sock = 0;
    }
    /* Block SIGPIPE around the write, and consume one that this write
     * raised (POSIX: it is directed at this thread).  Nothing parks in
     * between: the goroutine stays on this thread. */
    sigset_t pipe, old, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    /* One pending from before can be there only if it was blocked before. */
    bool was_pending = false;
    if (sigismember(&old, SIGPIPE)) {
        sigpending(&pending);
        was_pending = sigismember(&pending, SIGPIPE);
    }
    r = goro__sys_write(fd, buf, n);
    int e = errno;
    if (r < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return r;
}

/* Writes what is left, until all of it is written or a write fails (on
 * EAGAIN the progress so far is kept for the next attempt). */
struct write_args {
    const char *p;
    size_t left;
    int sock;                   /* see write_once */
};

static ssize_t write_attempt(int fd, void *arg)
{
    struct write_args *a = arg;
    while (a->left > 0) {
        ssize_t r = write_once(fd, a->p, a->left, &a->sock);
        if (r < 0)
            return result(r);
        a->p += r;
        a->left -= (size_t)r;
    }
    return 0;
}

static ssize_t write_until(goro_ctx *ctx, int fd, const void *buf, size_t n, int64_t deadline,
                           goro_chan *done)
{
    /* n must fit the return value, or success would read as an error. */
    if (n > (size_t)SSIZE_MAX)
        return fail(EINVAL);
    ssize_t r = io_until(ctx, fd, GORO_PD_WRITE, deadline, done, write_attempt,
                         &(struct write_args){buf, n, -1});
    return r < 0 ? r : (ssize_t)n;
}

ssize_t goro_write(int fd, const void *buf, size_t n)
{
    return write_until(NULL, fd, buf, n, -1, NULL);
}

ssize_t goro_write_deadline(int fd, const void *buf, size_t n, int64_t deadline)
{
    return write_until(NULL, fd, buf, n, deadline, NULL);
}

ssize_t goro_write_ctx(goro_ctx *ctx, int fd, const void *buf, size_t n)
{
    int64_t deadline;
    goro_chan *done;
    ctx_bounds(ctx, &deadline, &done);
    return write_until(ctx, fd, buf, n, deadline, done);
}

/* ---- accept, connect, wait, close ---------------------------------------- */

struct accept_args {
    struct sockaddr *addr;
    socklen_t *len;
};

static ssize_t accept_attempt(int fd, void *arg)
{
    struct accept_args *a = arg;
    ssize_t r = result(goro__sys_accept4(fd, a->addr, a->len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    /* The connection went away before we took it: try the next. */
    return r == -ECONNABORTED ? -EINTR : r;
}

static int accept_until(goro_ctx *ctx, int fd, struct sockaddr *addr, socklen_t *len,
                        int64_t deadline, goro_chan *done)
{
    return (int)io_until(ctx, fd, GORO_PD_READ, deadline, done, accept_attempt,
                         &(struct accept_args){addr, len});
}

int goro_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return accept_until(NULL, fd, addr, len, -1, NULL);
}

int goro_accept_deadline(int fd, struct sockaddr *addr, socklen_t *len, int64_t deadline)
{
    return accept_until(NULL, fd, addr, len, deadline, NULL);
}

int goro_accept_ctx(goro_ctx *ctx, int fd, struct sockaddr *addr, socklen_t *len)
{
    int64_t deadline;
    goro_chan *done;
    ctx_bounds(ctx, &deadline, &done);
    return accept_until(ctx, fd, addr, len, deadline, done);
}

/* Connects fd.  Registration with the poller comes after connect(), as in
 * Go: an unconnected TCP socket reports EPOLLOUT|EPOLLHUP, and an edge
 * taken before connect() would read as "connected".  Writability can still
 * be stale (fd polled before), so success is confirmed with getpeername()
 * and the wait repeated on ENOTCONN. */
static int connect_until(goro_ctx *ctx, int fd, const struct sockaddr *addr, socklen_t len,
                         int64_t deadline, goro_chan *done)
{
    int e, fl = goro__sys_fcntl(fd, F_GETFL);
    socklen_t elen = sizeof e;
    struct sockaddr_storage peer;
    socklen_t plen;

    /* Checked here, not left to the kernel: an emulator reports EFAULT. */
    if (!addr || len < (socklen_t)sizeof(sa_family_t))
        return (int)fail(EINVAL);
    if (fl < 0)
        return (int)fail(goro__errno_get());
    if (!(fl & O_NONBLOCK) && goro__sys_fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return (int)fail(goro__errno_get());
    if (ctx && (e = goro_ctx_err(ctx)))
        return (int)fail(e);
    if (goro__sys_connect(fd, addr, len) == 0)
        return (e = goro__fd_prepare(fd)) ? (int)fail(e) : 0;
    e = goro__errno_get();
    /* EINTR: a non-blocking connect goes on in the background. */
    if (e != EINPROGRESS && e != EINTR)
        return (int)fail(e);
    if ((e = goro__fd_prepare(fd)))
        return (int)fail(e);
    for (;;) {
        /* In progress: writable means done; SO_ERROR says how it went. */
        e = goro__fd_wait(fd, GORO_PD_WRITE, deadline, done);
        if (e)
            return (int)fail(wait_err(ctx, e));
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
            return (int)fail(goro__errno_get());
        if (e)
            return (int)fail(e);
        plen = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
            return 0;
        e = goro__errno_get();
        if (e != ENOTCONN)
            return (int)fail(e);
    }
}

int goro_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    return connect_until(NULL, fd, addr, len, -1, NULL);
}

int goro_connect_ctx(goro_ctx *ctx, int fd, const struct sockaddr *addr, socklen_t len)
{
    int64_t deadline;
    goro_chan *done;
    ctx_bounds(ctx, &deadline, &done);
    return connect_until(ctx, fd, addr, len, deadline, done);
}

/* Whether fd is ready for poll_events (POLLIN/POLLOUT) right now: 1 yes (or
 * an error or hangup the caller's I/O will report), 0 no, or -EBADF. */
static int ready_now(int fd, short poll_events)
{
    struct pollfd pf = {.fd = fd, .events = poll_events};
    if (goro__sys_poll(&pf, 1, 0) <= 0)
        return 0;
    return pf.revents & POLLNVAL ? -EBADF : 1;
}

/* The poller is edge-triggered, so its word alone is wrong both ways:
 *   - an fd that is ready now, and whose edge an earlier wait consumed,
 *     sends no new event (a second wait on a readable socket would sleep);
 *   - readiness it recorded while nobody waited (netpoll.c: the ready
 *     flags) may since have been consumed by a read or filled up by a
 *     write, and a wait that trusted it would return "ready" at once.
 * So the kernel decides: poll(fd, 0) before parking, and again after every
 * wake-up, parking again when the fd is not ready after all.  Each round
 * either consumes a recorded readiness or waits for a fresh edge, so the
 * loop ends; an edge that comes between the poll and the park is recorded
 * and ends the next round.  (Go's pollDesc has the same stale pdReady; its
 * reads retry the system call, as read_until does here.) */
int goro_fd_wait(int fd, int events, int64_t deadline)
{
    int e, r;

    if (!(events & (GORO_READ | GORO_WRITE)) || (events & ~(GORO_READ | GORO_WRITE)))
        return (int)fail(EINVAL);
    short pe = (short)((events & GORO_READ ? POLLIN : 0) | (events & GORO_WRITE ? POLLOUT : 0));
    int modes = (events & GORO_READ ? GORO_PD_READ : 0) | (events & GORO_WRITE ? GORO_PD_WRITE : 0);
    for (;;) {
        if ((r = ready_now(fd, pe)) != 0)
            return r > 0 ? 0 : (int)fail(-r);
        e = goro__fd_wait(fd, modes, deadline, NULL);
        if (e)
            return (int)fail(e);
        if (!goro__fd_pollable(fd))
            return 0; /* a regular file: always ready, nothing to verify */
    }
}

int goro_close(int fd)
{
    int e;
    if (fd < 0)
        return (int)fail(EBADF);
    goro__hb_acquire(goro__fd_sync(fd));
    e = goro__fd_close(fd);
    return e ? (int)fail(e) : 0;
}

/* ---- datagrams: recvfrom, sendto ----------------------------------------- */

/* One datagram (or, on a stream socket, some bytes) and its sender.  A
 * datagram longer than n is cut to n, as Go's ReadFrom does; a zero-length
 * datagram returns 0, which is no end of file here. */
struct recvfrom_args {
    void *buf;
    size_t n;
    struct sockaddr *from;
    socklen_t *fromlen;
};

static ssize_t recvfrom_attempt(int fd, void *arg)
{
    struct recvfrom_args *a = arg;
    /* fromlen is value-result: a retry after EAGAIN passes it on untouched
     * (the kernel writes it only on success). */
    return result(goro__sys_recvfrom(fd, a->buf, a->n, 0, a->from, a->from ? a->fromlen : NULL));
}

static ssize_t recvfrom_until(goro_ctx *ctx, int fd, void *buf, size_t n, struct sockaddr *from,
                              socklen_t *fromlen, int64_t deadline, goro_chan *done)
{
    if (n > (size_t)SSIZE_MAX || (from && !fromlen))
        return fail(EINVAL);
    return io_until(ctx, fd, GORO_PD_READ, deadline, done, recvfrom_attempt,
                    &(struct recvfrom_args){buf, n, from, fromlen});
}

ssize_t goro_recvfrom(int fd, void *buf, size_t n, struct sockaddr *from, socklen_t *fromlen)
{
    return recvfrom_until(NULL, fd, buf, n, from, fromlen, -1, NULL);
}

ssize_t goro_recvfrom_deadline(int fd, void *buf, size_t n, struct sockaddr *from,
                               socklen_t *fromlen, int64_t deadline)
{
    return recvfrom_until(NULL, fd, buf, n, from, fromlen, deadline, NULL);
}

ssize_t goro_recvfrom_ctx(goro_ctx *ctx, int fd, void *buf, size_t n, struct sockaddr *from,
                          socklen_t *fromlen)
{
    int64_t deadline;
    goro_chan *done;
    ctx_bounds(ctx, &deadline, &done);
    return recvfrom_until(ctx, fd, buf, n, from, fromlen, deadline, done);
}

/* One sendto: a datagram goes whole or not at all, so there is no loop over
 * partial writes as in write_until (Go's WriteTo is one system call too). */
struct sendto_args {
    const void *buf;
    size_t n;
    const struct sockaddr *to;
    socklen_t tolen;
};

static ssize_t sendto_attempt(int fd, void *arg)
{
    struct sendto_args *a = arg;
    return result(goro__sys_sendto(fd, a->buf, a->n, MSG_NOSIGNAL, a->to, a->to ? a->tolen : 0));
}

static ssize_t sendto_until(goro_ctx *ctx, int fd, const void *buf, size_t n,
                            const struct sockaddr *to, socklen_t tolen, int64_t deadline,
                            goro_chan *done)
{
    if (n > (size_t)SSIZE_MAX || (!to && tolen) ||
        (to && tolen < (socklen_t)sizeof(sa_family_t)))
        return fail(EINVAL);
    return io_until(ctx, fd, GORO_PD_WRITE, deadline, done, sendto_attempt,
                    &(struct sendto_args){buf, n, to, tolen});
}

ssize_t goro_sendto(int fd, const void *buf, size_t n, const struct sockaddr *to, socklen_t tolen)
{
    return sendto_until(NULL, fd, buf, n, to, tolen, -1, NULL);
}

ssize_t goro_sendto_deadline(int fd, const void *buf, size_t n, const struct sockaddr *to,
                             socklen_t tolen, int64_t deadline)
{
    return sendto_until(NULL, fd, buf, n, to, tolen, deadline, NULL);
}

ssize_t goro_sendto_ctx(goro_ctx *ctx, int fd, const void *buf, size_t n,
                        const struct sockaddr *to, socklen_t tolen)
{
    int64_t deadline;
    goro_chan *done;
    ctx_bounds(ctx, &deadline, &done);
    return sendto_until(ctx, fd, buf, n, to, tolen, deadline, done);
}

/* ---- networks and addresses ---------------------------------------------- */

/* A network name, as Go's net.Dial and net.Listen take them. */
struct network {
    int family;                 /* AF_UNSPEC (tcp, udp), AF_INET, AF_INET6, AF_UNIX */
    int socktype;               /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
};

static const struct {
    const char *name;
    struct network net;
} networks[] = {
    {"tcp", {AF_UNSPEC, SOCK_STREAM}},     {"tcp4", {AF_INET, SOCK_STREAM}},
    {"tcp6", {AF_INET6, SOCK_STREAM}},     {"udp", {AF_UNSPEC, SOCK_DGRAM}},
    {"udp4", {AF_INET, SOCK_DGRAM}},       {"udp6", {AF_INET6, SOCK_DGRAM}},
    {"unix", {AF_UNIX, SOCK_STREAM}},      {"unixgram", {AF_UNIX, SOCK_DGRAM}},
    {"unixpacket", {AF_UNIX, SOCK_SEQPACKET}},
};

/* Returns 0 with *net set, or EINVAL for NULL or an unknown name. */
static int parse_network(const char *name, struct network *net)
{
    if (!name)
        return EINVAL;
    for (size_t i = 0; i < sizeof networks / sizeof networks[0]; i++)
        if (strcmp(name, networks[i].name) == 0) {
            *net = networks[i].net;
            return 0;
        }
    return EINVAL;
}

/* A port is 1 to 5 decimal digits with a value of at most 65535, and
 * nothing else: no sign, no space, no service name.  getaddrinfo would take
 * far more (strtoul's leading spaces and sign, values modulo 65536, names
 * from /etc/services), and bind a port nobody asked for. */
static bool valid_port(const char *port)
{
    size_t n = strlen(port);
    unsigned long v = 0;

    if (n < 1 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (port[i] < '0' || port[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(port[i] - '0');
    }
    return v <= 65535;
}

/* Splits "host:port", "[v6]:port" or ":port" into host (empty for any) and
 * port.  Returns 0 or EINVAL (a missing or malformed part, see valid_port). */
static int split_hostport(const char *addr, char *host, size_t hostsz, char *port, size_t portsz)
{
    const char *colon, *h = addr;
    size_t hl;

    if (!addr)
        return EINVAL;
    if (*addr == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':')
            return EINVAL;
        h = addr + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
            return EINVAL; /* no port, or an unbracketed IPv6 literal */
        hl = (size_t)(colon - addr);
    }
    if (hl >= hostsz || strlen(colon + 1) >= portsz || !valid_port(colon + 1))
        return EINVAL;
    memcpy(host, h, hl);
    host[hl] = 0;
    strcpy(port, colon + 1);
    return 0;
}

/* A unix socket address, Go's way (syscall.SockaddrUnix): a leading '@'
 * names an abstract socket (sun_path[0] is NUL, the rest is the name, no
 * terminator counted); otherwise a filesystem path, NUL-terminated.  Either
 * must leave sun_path room to spare: a name of sizeof sun_path (108) bytes
 * or more is EINVAL, as in Go.  "" is EINVAL, except where empty_ok (a
 * listener): then the length covers only the family and Linux binds the
 * socket to a fresh abstract name (autobind). */
static int unix_addr(const char *addr, bool empty_ok, struct sockaddr_un *sun, socklen_t *len)
{
    size_t n;

    if (!addr)
        return EINVAL;
    n = strlen(addr);
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    if (n == 0) {
        if (!empty_ok)
            return EINVAL;
        *len = (socklen_t)sizeof(sa_family_t);
        return 0;
    }
    if (n >= sizeof sun->sun_path)
        return EINVAL;
    memcpy(sun->sun_path, addr, n);
    if (addr[0] == '@') {
        sun->sun_path[0] = 0;
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

/* A name lookup, run by goro_blocking on a pool thread (or directly on a
 * plain thread).  getaddrinfo's EAI_SYSTEM leaves the reason in errno, and
 * that is the errno of the thread that ran it, not the caller's: err
 * carries it back.  res is set only when rc is 0. */
struct lookup {
    const char *host, *port;
    int flags, family, socktype;
    struct addrinfo *res;
    int rc;
    int err;                    /* errno after getaddrinfo, for EAI_SYSTEM */
};

#ifdef GORO_TESTING
/* Fault injection (GORO_TESTING builds only): the next lookup fails with
 * EAI_SYSTEM and errno err, set on the thread that runs it, as a real
 * getaddrinfo failure (EMFILE opening /etc/hosts, ...) would.  0: off. */
static _Atomic int lookup_fail_errno;

GORO_API void goro__test_fail_lookup(int err)
{
    atomic_store(&lookup_fail_errno, err);
}
#endif

static void do_lookup(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints = {.ai_family = l->family, .ai_socktype = l->socktype,
                             .ai_flags = l->flags | AI_NUMERICSERV};
#ifdef GORO_TESTING
    int inject = atomic_exchange(&lookup_fail_errno, 0);
    if (inject) {
        errno = inject;
        l->rc = EAI_SYSTEM;
        l->err = errno;
        return;
    }
#endif
    l->rc = goro__sys_getaddrinfo(l->host, l->port, &hints, &l->res);
    l->err = errno; /* this thread's: read before anything else runs here */
}

/* An IP literal of the other family than a "tcp4"/"tcp6"-style network
 * asks for: EAFNOSUPPORT, before any lookup (Go: "no suitable address"). */
static int literal_family_mismatch(const char *host, int family)
{
    struct in6_addr a;
    if (family == AF_INET && inet_pton(AF_INET6, host, &a) == 1)
        return EAFNOSUPPORT;
    if (family == AF_INET6 && inet_pton(AF_INET, host, &a) == 1)
        return EAFNOSUPPORT;
    return 0;
}

/* Resolves addr for an IP network through the blocking pool.  Returns 0
 * with *res set, or an errno value with *res NULL. */
static int resolve(const struct network *net, const char *addr, int flags, struct addrinfo **res)
{
    char host[256], port[32];
    struct lookup l = {.host = host, .port = port, .flags = flags, .family = net->family,
                       .socktype = net->socktype};
    int e = split_hostport(addr, host, sizeof host, port, sizeof port);

    *res = NULL;
    if (e)
        return e;
    if (!host[0])
        l.host = NULL;
    else if ((e = literal_family_mismatch(host, net->family)))
        return e;
    e = goro_blocking(do_lookup, &l);
    if (e)
        return e;
    switch (l.rc) {
    case 0:
        if (!l.res)
            return ENOENT; /* no address, though it said yes: nothing to walk */
        *res = l.res;
        return 0;
    case EAI_SYSTEM:
        return l.err ? l.err : EIO; /* never 0: that would read as success */
    case EAI_MEMORY:
        return ENOMEM;
    case EAI_SERVICE:
    case EAI_BADFLAGS:
        return EINVAL;
    default:
        return ENOENT; /* no such host */
    }
}

int goro_addr_resolve(const char *network, const char *addr, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    struct network net;
    struct addrinfo *res;
    int e;

    if (parse_network(network, &net) || !addr || !ss || !len)
        return (int)fail(EINVAL);
    if (net.family == AF_UNIX) {
        struct sockaddr_un sun;
        if ((e = unix_addr(addr, false, &sun, len)))
            return (int)fail(e);
        memset(ss, 0, sizeof *ss);
        memcpy(ss, &sun, *len);
        return 0;
    }
    /* AI_PASSIVE: ":port" is the unspecified address, as in Go. */
    if ((e = resolve(&net, addr, AI_PASSIVE, &res)))
        return (int)fail(e);
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Copies s into buf (size sz) and returns its length, or ERANGE negated
 * when it does not fit with its terminator. */
static int put_str(char *buf, size_t sz, const char *s, size_t n)
{
    if (n >= sz)
        return (int)fail(ERANGE);
    memcpy(buf, s, n);
    buf[n] = 0;
    return (int)n;
}

int goro_addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t bufsz)
{
    char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 16], ip[INET6_ADDRSTRLEN];
    int n;

    if (!sa || !buf || bufsz == 0)
        return (int)fail(EINVAL);
    /* No address at all: recvfrom's word for an unnamed unix sender. */
    if (len == 0)
        return put_str(buf, bufsz, "", 0);
    if (len < (socklen_t)sizeof(sa_family_t))
        return (int)fail(EINVAL);
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const void *)sa;
        if (len < (socklen_t)sizeof *in)
            return (int)fail(EINVAL);
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        n = snprintf(tmp, sizeof tmp, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
        return put_str(buf, bufsz, tmp, (size_t)n);
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        char zone[IF_NAMESIZE + 1] = "";
        if (len < (socklen_t)sizeof *in6)
            return (int)fail(EINVAL);
        /* Go prints an IPv4-mapped address as IPv4 (net.IP.String). */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof ip);
            n = snprintf(tmp, sizeof tmp, "%s:%u", ip, (unsigned)ntohs(in6->sin6_port));
            return put_str(buf, bufsz, tmp, (size_t)n);
        }
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        if (in6->sin6_scope_id) {
            char name[IF_NAMESIZE];
            zone[0] = '%';
            if (if_indextoname(in6->sin6_scope_id, name))
                snprintf(zone + 1, sizeof zone - 1, "%s", name);
            else
                snprintf(zone + 1, sizeof zone - 1, "%u", (unsigned)in6->sin6_scope_id);
        }
        n = snprintf(tmp, sizeof tmp, "[%s%s]:%u", ip, zone, (unsigned)ntohs(in6->sin6_port));
        return put_str(buf, bufsz, tmp, (size_t)n);
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const void *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t pl = len > (socklen_t)off ? (size_t)len - off : 0;
        if (pl > sizeof sun->sun_path)
            pl = sizeof sun->sun_path;
        if (pl == 0)
            return put_str(buf, bufsz, "", 0); /* unnamed */
        if (sun->sun_path[0] == 0) {
            /* Abstract: '@' and the name's bytes (Go writes it so). */
            if (pl >= bufsz)
                return (int)fail(ERANGE);
            buf[0] = '@';
            memcpy(buf + 1, sun->sun_path + 1, pl - 1);
            buf[pl] = 0;
            return (int)pl;
        }
        return put_str(buf, bufsz, sun->sun_path, strnlen(sun->sun_path, pl));
    }
    default:
        return (int)fail(EAFNOSUPPORT);
    }
}

/* getsockname or getpeername, formatted. */
static int name_of(int fd, char *buf, size_t bufsz,
                   int (*get)(int, struct sockaddr *, socklen_t *))
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (!buf || bufsz == 0)
        return (int)fail(EINVAL);
    if (get(fd, (struct sockaddr *)&ss, &len) != 0)
        return (int)fail(goro__errno_get());
    return goro_addr_format((struct sockaddr *)&ss, len, buf, bufsz);
}

int goro_sockname(int fd, char *buf, size_t bufsz)
{
    return name_of(fd, buf, bufsz, getsockname);
}

int goro_peername(int fd, char *buf, size_t bufsz)
{
    return name_of(fd, buf, bufsz, getpeername);
}

/* ---- listen and dial ------------------------------------------------------- */

/* A socket of net's kind bound to sa (and listening, for stream kinds).
 * Returns the fd, or an errno value negated. */
static int bind_one(goro_ctx *ctx, const struct network *net, int family,
                    const struct sockaddr *sa, socklen_t len, int protocol)
{
    (void)ctx; /* binding never waits */
    int fd = goro__sys_socket(family, net->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol), e;

    if (fd < 0)
        return -goro__errno_get();
    /* As Go: listeners reuse a port in TIME_WAIT; datagram sockets do not
     * set it (two could then share a port). */
    if (family != AF_UNIX && net->socktype == SOCK_STREAM) {
        int one = 1;
        goro__sys_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (bind(fd, sa, len) != 0 ||
        (net->socktype != SOCK_DGRAM && listen(fd, SOMAXCONN) != 0)) {
        e = goro__errno_get();
        goro__sys_close(fd);
        return -e;
    }
    return fd;
}

/* A socket of net's kind connected to sa, bounded by ctx.  Returns the fd,
 * or an errno value negated. */
static int connect_one(goro_ctx *ctx, const struct network *net, int family,
                       const struct sockaddr *sa, socklen_t len, int protocol)
{
    int fd = goro__sys_socket(family, net->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol), r;

    if (fd < 0)
        return -goro__errno_get();
    r = ctx ? goro_connect_ctx(ctx, fd, sa, len) : goro_connect(fd, sa, len);
    if (r != 0) {
        goro_close(fd);
        return r;
    }
    if (family != AF_UNIX && net->socktype == SOCK_STREAM) {
        int one = 1; /* as Go's TCPConn, which sets no delay by default */
        goro__sys_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

/* One socket for one address: bind_one or connect_one.  Returns the fd,
 * or an errno value negated. */
typedef int addr_try(goro_ctx *ctx, const struct network *net, int family,
                     const struct sockaddr *sa, socklen_t len, int protocol);

/* goro_listen and goro_dial: parses network and addr, then tries each
 * address addr names, in getaddrinfo's order, until one works (Go: the
 * dialer's serial fallback).  A try that ends with the context (ECANCELED,
 * ETIMEDOUT) stops the walk.  passive: a listener's addresses (AI_PASSIVE;
 * "" for unix picks an abstract name). */
static int each_addr(goro_ctx *ctx, const char *network, const char *addr, bool passive,
                     addr_try *try)
{
    struct network net;
    struct addrinfo *res, *ai;
    int e, fd = -EINVAL;

    if (parse_network(network, &net) || !addr)
        return (int)fail(EINVAL);
    if (net.family == AF_UNIX) {
        struct sockaddr_un sun;
        socklen_t len;
        if ((e = unix_addr(addr, passive, &sun, &len)))
            return (int)fail(e);
        fd = try(ctx, &net, AF_UNIX, (struct sockaddr *)&sun, len, 0);
        return fd >= 0 ? fd : (int)fail(-fd);
    }
    if ((e = resolve(&net, addr, passive ? AI_PASSIVE : 0, &res)))
        return (int)fail(e);
    for (ai = res; ai; ai = ai->ai_next) {
        fd = try(ctx, &net, ai->ai_family, ai->ai_addr, ai->ai_addrlen, ai->ai_protocol);
        if (fd >= 0 || fd == -ECANCELED || fd == -ETIMEDOUT)
            break; /* made, or the context ended: try no other address */
    }
    freeaddrinfo(res);
    return fd >= 0 ? fd : (int)fail(-fd);
}

int goro_listen(const char *network, const char *addr)
{
    return each_addr(NULL, network, addr, true, bind_one);
}

int goro_dial(goro_ctx *ctx, const char *network, const char *addr)
{
    return each_addr(ctx, network, addr, false, connect_one);
}

int goro_listen_tcp(const char *addr)
{
    return goro_listen("tcp", addr);
}

int goro_dial_tcp(goro_ctx *ctx, const char *addr)
{
    return goro_dial(ctx, "tcp", addr);
}
