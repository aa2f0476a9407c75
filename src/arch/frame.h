/* frame.h - the saved-context layout shared by the switch assembly and C.
 *
 * goro__switch() (switch_<arch>.S) saves a context as a frame on that
 * context's own stack and keeps only the stack pointer.  To start a goroutine
 * we build such a frame by hand, so that the first switch to it "returns"
 * into goro__trampoline, which calls fn(arg).  The offsets below must match
 * the tables at the top of the assembly files.
 */
#ifndef GORO_ARCH_FRAME_H
#define GORO_ARCH_FRAME_H

#include <stdint.h>
#include <string.h>

/* Saves the running context's frame in *save_sp and resumes next_sp.
 * Opaque to the compiler (it is assembly), so no value lives in a register
 * across it except the callee-saved ones it restores. */
void goro__switch(void **save_sp, void *next_sp);

/* The first instructions of every goroutine (see the assembly). */
void goro__trampoline(void);

#if defined(__x86_64__)
#define GORO_FRAME_SIZE 64     /* bytes of saved frame, return address included */
#define GORO_FRAME_FPCTL 0     /* MXCSR (4 bytes) then x87 control word (2) */
#define GORO_FRAME_FN 32       /* r12: entry function */
#define GORO_FRAME_ARG 24      /* r13: its argument */
#define GORO_FRAME_RET 56      /* return address */
#elif defined(__aarch64__)
#define GORO_FRAME_SIZE 176
#define GORO_FRAME_FPCTL 160   /* FPCR */
#define GORO_FRAME_FN 0        /* x19 */
#define GORO_FRAME_ARG 8       /* x20 */
#define GORO_FRAME_RET 88      /* x30 */
#else
#error "goro: unsupported architecture (x86-64 and AArch64 are supported)"
#endif

/* Builds a fresh context below top (16-byte aligned) that will call
 * fn(arg) with a correctly aligned stack, and returns its stack pointer.
 * The FP control state is copied from the caller's, which is how threads
 * inherit it too. */
static inline void *goro__frame_init(void *top, void (*fn)(void *), void *arg)
{
    char *sp = (char *)top - GORO_FRAME_SIZE;
    uintptr_t v;

    memset(sp, 0, GORO_FRAME_SIZE);
#if defined(__x86_64__)
    uint32_t mxcsr;
    uint16_t fpcw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpcw));
    memcpy(sp + GORO_FRAME_FPCTL, &mxcsr, sizeof mxcsr);
    memcpy(sp + GORO_FRAME_FPCTL + 4, &fpcw, sizeof fpcw);
#else
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    memcpy(sp + GORO_FRAME_FPCTL, &fpcr, sizeof fpcr);
#endif
    v = (uintptr_t)fn;
    memcpy(sp + GORO_FRAME_FN, &v, sizeof v);
    v = (uintptr_t)arg;
    memcpy(sp + GORO_FRAME_ARG, &v, sizeof v);
    v = (uintptr_t)goro__trampoline;
    memcpy(sp + GORO_FRAME_RET, &v, sizeof v);
    return sp;
}

#endif /* GORO_ARCH_FRAME_H */
