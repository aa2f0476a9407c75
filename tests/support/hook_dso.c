/* hook_dso.c - a shared library of its own that calls read, write and
 * poll itself, as hiredis or libpq do: test_hook shows that these calls,
 * made from inside another shared object, reach goro's interposers too. */
#include <poll.h>
#include <unistd.h>

__attribute__((visibility("default"))) ssize_t hook_dso_read(int fd, void *buf, size_t n)
{
    return read(fd, buf, n);
}

__attribute__((visibility("default"))) ssize_t hook_dso_write(int fd, const void *buf, size_t n)
{
    return write(fd, buf, n);
}

__attribute__((visibility("default"))) int hook_dso_poll(struct pollfd *fds, nfds_t n, int ms)
{
    return poll(fds, n, ms);
}
