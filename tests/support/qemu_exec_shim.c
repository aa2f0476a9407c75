/* qemu_exec_shim.c - lets Criterion's workers start under qemu-user.
 *
 * Why: Criterion (through BoxFort) runs every test in a worker that it makes
 * with fork() and execve("/proc/self/exe").  Under qemu-user that execve goes
 * to the host kernel, which cannot run an AArch64 ELF unless binfmt_misc has a
 * qemu handler registered (containers and CI runners usually have none): the
 * exec fails with ENOEXEC and Criterion prints "Could not spawn test
 * instance: Protocol error".  `--jobs 1` does not help; every test still
 * runs in a re-executed worker.
 *
 * What: this AArch64 shared object is LD_PRELOADed into the test (guest) and
 * replaces execve().  An exec of an AArch64 ELF becomes an exec of the host's
 * qemu (a host binary, which the kernel runs as usual) with the program
 * as its argument, and with argv[0] kept through qemu's -0 option.  All else
 * goes to the real execve.  qemu preserves the pid, so the parent's
 * waitpid() and BoxFort's handshake see the worker they forked.
 *
 * Environment, set by tests/CMakeLists.txt on each cross-built test:
 *   GORO_QEMU      absolute path of the host qemu-aarch64; the shim does
 *                  nothing when it is unset.
 *   QEMU_LD_PREFIX read by every qemu started (same as -L).
 *   QEMU_SET_ENV   read by every qemu started: it puts LD_PRELOAD (this
 *                  file) and LD_LIBRARY_PATH into the guest only.  The shim
 *                  strips both from the environment it hands to the host
 *                  qemu, whose own loader would otherwise try to preload an
 *                  AArch64 object.
 * Used only by the aarch64 preset; never part of the library. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* True when path names an ELF file for AArch64 (e_machine at offset 18). */
static int is_aarch64_elf(const char *path)
{
    unsigned char h[EI_NIDENT + 4];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    return n == (ssize_t)sizeof h && memcmp(h, ELFMAG, SELFMAG) == 0 &&
           (h[EI_NIDENT + 2] | h[EI_NIDENT + 3] << 8) == EM_AARCH64;
}

static int real_execve(const char *path, char *const argv[], char *const envp[])
{
    return (int)syscall(SYS_execve, path, argv, envp);
}

__attribute__((visibility("default")))
int execve(const char *path, char *const argv[], char *const envp[])
{
    const char *qemu = getenv("GORO_QEMU");
    if (qemu == NULL || qemu[0] == '\0')
        return real_execve(path, argv, envp);

    /* qemu answers readlink("/proc/self/exe") with the guest program; the
     * host qemu must be given that program, not "itself". */
    char self[PATH_MAX];
    if (strcmp(path, "/proc/self/exe") == 0) {
        ssize_t n = readlink(path, self, sizeof self - 1);
        if (n > 0) {
            self[n] = '\0';
            path = self;
        }
    }
    if (!is_aarch64_elf(path))
        return real_execve(path, argv, envp);

    size_t argc = 0, envc = 0;
    while (argv[argc] != NULL)
        argc++;
    while (envp != NULL && envp[envc] != NULL)
        envc++;
    /* qemu -0 ARGV0 PROGRAM ARGS... NULL */
    char **nargv = calloc(argc + 5, sizeof *nargv);
    char **nenvp = calloc(envc + 1, sizeof *nenvp);
    if (nargv == NULL || nenvp == NULL) {
        free(nargv);
        free(nenvp);
        errno = ENOMEM;
        return -1;
    }
    size_t i = 0;
    nargv[i++] = (char *)qemu;
    nargv[i++] = "-0";
    nargv[i++] = argc > 0 ? argv[0] : (char *)path;
    nargv[i++] = (char *)path;
    for (size_t k = 1; k < argc; k++)
        nargv[i++] = argv[k];
    size_t j = 0;
    for (size_t k = 0; k < envc; k++)
        if (strncmp(envp[k], "LD_PRELOAD=", 11) != 0 &&
            strncmp(envp[k], "LD_LIBRARY_PATH=", 16) != 0)
            nenvp[j++] = envp[k];

    int rc = real_execve(qemu, nargv, nenvp);
    int e = errno;
    free(nargv);
    free(nenvp);
    errno = e;
    return rc;
}
