/* netpoll.h - the network poller's contract (Go: runtime/netpoll.go).
 *
 * netpoll.c keeps one poll descriptor (goro__pd) per file descriptor goro
 * has waited on: a read waiter, a write waiter and a "ready" flag for each
 * direction.  A backend (netpoll_epoll.c; chosen by CMake) implements the
 * five functions below.  Registration is edge-triggered and happens once per
 * fd, on first use; the backend reports readiness by calling
 * goro__netpoll_ready(pd, mode) for each event.
 *
 * Who polls: the scheduler's first idle M blocks in goro__netpoll() until
 * the next timer (it is the "timer M", sched.c: stopm); busy Ms poll
 * without blocking when they run out of local work (findrunnable); sysmon
 * polls when nobody has for 10 ms.  goro__netpoll_break() interrupts a
 * blocked poll: the scheduler calls it when it hands the polling M a P or an
 * earlier timer arrives.
 */
#ifndef GORO_NETPOLL_H
#define GORO_NETPOLL_H

#include "runtime.h"

#define GORO_PD_READ 1
#define GORO_PD_WRITE 2

typedef struct goro__pd goro__pd;

/* ---- backend (netpoll_epoll.c) ------------------------------------------ */

/* Creates the poller.  Returns 0 or an errno value. */
GORO_HIDDEN int goro__netpoll_backend_init(void);
/* Registers fd for edge-triggered read and write readiness, reporting pd.
 * Returns 0 or an errno value (EPERM: fd cannot be polled, e.g. a regular
 * file, which is always ready). */
GORO_HIDDEN int goro__netpoll_backend_open(int fd, goro__pd *pd);
/* Unregisters fd (before it is closed). */
GORO_HIDDEN void goro__netpoll_backend_close(int fd);
/* Waits for events until the absolute time deadline (< 0: forever, 0: do
 * not block), reporting each through goro__netpoll_ready().  Returns the
 * number of events, 0 on timeout or break. */
GORO_HIDDEN int goro__netpoll_backend_wait(int64_t deadline);
/* Makes a concurrent blocking goro__netpoll_backend_wait() return, or the
 * next one if none blocks yet; a wait that does not block (deadline 0),
 * concurrent or not, must not use the break up.  Async-signal safe, cheap
 * when called repeatedly. */
GORO_HIDDEN void goro__netpoll_backend_break(void);

/* ---- netpoll.c, for io.c ------------------------------------------------ */

/* Registers fd with the poller (once) and makes it non-blocking.
 * Returns 0 or an errno value. */
GORO_HIDDEN int goro__fd_prepare(int fd);
/* Parks until fd is ready for one of modes, the absolute time deadline
 * passes (< 0: none), done (a channel, may be NULL) is closed, or fd is
 * closed with goro__fd_close.  A fd that cannot be polled (a regular file)
 * is always ready.  0 may come from readiness recorded earlier and used up
 * since: the caller retries its system call (or polls) before trusting it.
 * Returns 0, ETIMEDOUT, ECANCELED (done closed), EBADF,
 * EBUSY (another goroutine already waits on fd in that direction), or an
 * error from registering fd. */
GORO_HIDDEN int goro__fd_wait(int fd, int modes, int64_t deadline, goro_chan *done);
/* Whether fd is registered with the poller (false for one it cannot poll,
 * such as a regular file, and for one goro has not waited on). */
GORO_HIDDEN bool goro__fd_pollable(int fd);
/* Whether fd was prepared (goro__fd_prepare) and found unpollable: its
 * system calls block the thread (a regular file), so callers bracket them
 * with goro__syscall_enter/exit.  Lock-free: a racing close and reopen of
 * the number can only cost one bracket too many or too few. */
GORO_HIDDEN bool goro__fd_blocks(int fd);
/* An address standing for fd in happens-before annotations (TSan builds
 * only; elsewhere the annotations compile away). */
#if defined(GORO_TSAN)
GORO_HIDDEN void *goro__fd_sync(int fd);
#else
#define goro__fd_sync(fd) ((void *)(intptr_t)(fd))
#endif
/* Wakes fd's waiters with EBADF, unregisters and closes fd.
 * Returns 0 or close's errno. */
GORO_HIDDEN int goro__fd_close(int fd);

/* Wakes fd's waiters with EBADF and unregisters fd, without closing it
 * (dup2 is about to replace it, or the number was closed behind goro's
 * back).  A no-op for a fd goro never registered. */
GORO_HIDDEN void goro__fd_forget(int fd);
/* As goro__fd_prepare, but registers fd with the backend again if goro
 * registered that number before: the kernel drops a registration when the
 * file is closed, which goro may not have seen (fclose, a close inside
 * the C library).  Returns 0 or an errno value. */
GORO_HIDDEN int goro__fd_rearm(int fd);
/* Parks until one of fds[0..n) is ready for its modes[i] (GORO_PD_READ,
 * GORO_PD_WRITE or both), or the absolute deadline passes (< 0: none).
 * Used by poll and select (hook.c), which ask the kernel afterwards which
 * fds are ready: as goro__fd_wait, 0 is a hint.  Returns 0 (also at once
 * when one fd cannot be polled, such as a regular file), ETIMEDOUT, EBADF
 * (one was closed with goro__fd_close), EBUSY (another G waits on one of
 * them in that direction), ENOMEM, or an error from registering. */
GORO_HIDDEN int goro__fd_wait_many(const int *fds, const int *modes, int n, int64_t deadline);

/* ---- netpoll.c, for the backend ----------------------------------------- */

/* fd became ready for mode (GORO_PD_READ | GORO_PD_WRITE); wakes the
 * waiter or remembers the readiness. */
GORO_HIDDEN void goro__netpoll_ready(goro__pd *pd, int mode);

#endif /* GORO_NETPOLL_H */
