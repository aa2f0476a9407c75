/* frame.h - the saved-context layout shared by the switch assembly and C.
 *
 * goro__switch() (switch_<arch>.S) saves a context as a frame on that
 * context's own stack and keeps only the stack pointer.  To start a goroutine
 * we build such a frame by hand, so that the first switch to it "returns"
 * into goro__trampoline, which calls fn(arg).
 *
 * The GORO_FRAME_* offsets below are the one definition of that layout: the
 * assembly files include this header (they are preprocessed .S files) and
 * address every slot through them, struct goro__frame is the C view and is
 * pinned to them by the _Static_asserts below, and the gdb extension
 * (tools/gdb/goro-gdb.py) reads the offsets of struct goro__frame from the
 * debug information.  The tables at the top of the assembly files describe
 * the same layout in words.  Only the preprocessor part is visible to the
 * assembler (__ASSEMBLER__).
 */
#ifndef GORO_ARCH_FRAME_H
#define GORO_ARCH_FRAME_H

#if defined(__x86_64__)
#define GORO_FRAME_MXCSR 0     /* SSE control/status word, 4 bytes */
#define GORO_FRAME_FPCW 4      /* x87 control word, 2 bytes (then 2 padding) */
#define GORO_FRAME_R15 8
#define GORO_FRAME_R14 16
#define GORO_FRAME_R13 24      /* a new context: the entry function's argument */
#define GORO_FRAME_R12 32      /* a new context: the entry function */
#define GORO_FRAME_RBX 40
#define GORO_FRAME_RBP 48
#define GORO_FRAME_RET 56      /* return address: where the context resumes */
#define GORO_FRAME_SIZE 64     /* bytes of saved frame, return address included */
#elif defined(__aarch64__)
#define GORO_FRAME_X19 0       /* a new context: the entry function */
#define GORO_FRAME_X20 8       /* a new context: its argument */
#define GORO_FRAME_X21 16
#define GORO_FRAME_X22 24
#define GORO_FRAME_X23 32
#define GORO_FRAME_X24 40
#define GORO_FRAME_X25 48
#define GORO_FRAME_X26 56
#define GORO_FRAME_X27 64
#define GORO_FRAME_X28 72
#define GORO_FRAME_X29 80      /* frame pointer */
#define GORO_FRAME_X30 88      /* link register: where the context resumes */
#define GORO_FRAME_D8 96       /* low 64 bits of v8-v15 are callee-saved */
#define GORO_FRAME_D9 104
#define GORO_FRAME_D10 112
#define GORO_FRAME_D11 120
#define GORO_FRAME_D12 128
#define GORO_FRAME_D13 136
#define GORO_FRAME_D14 144
#define GORO_FRAME_D15 152
#define GORO_FRAME_FPCR 160    /* 8 bytes, then 8 padding (sp stays 16-aligned) */
#define GORO_FRAME_SIZE 176
#define GORO_FRAME_RET GORO_FRAME_X30
#else
#error "goro: unsupported architecture (x86-64 and AArch64 are supported)"
#endif

#ifndef __ASSEMBLER__

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The C view of a saved frame: field names are the register names gdb uses
 * (the gdb extension loads each callee-saved register from its field), ret
 * is the resume address. */
#if defined(__x86_64__)
struct goro__frame {
    uint32_t mxcsr;
    uint16_t fpcw;
    uint16_t pad;
    uint64_t r15, r14, r13, r12, rbx, rbp;
    uint64_t ret;
};
_Static_assert(offsetof(struct goro__frame, mxcsr) == GORO_FRAME_MXCSR, "frame: mxcsr");
_Static_assert(offsetof(struct goro__frame, fpcw) == GORO_FRAME_FPCW, "frame: fpcw");
_Static_assert(offsetof(struct goro__frame, r15) == GORO_FRAME_R15, "frame: r15");
_Static_assert(offsetof(struct goro__frame, r14) == GORO_FRAME_R14, "frame: r14");
_Static_assert(offsetof(struct goro__frame, r13) == GORO_FRAME_R13, "frame: r13");
_Static_assert(offsetof(struct goro__frame, r12) == GORO_FRAME_R12, "frame: r12");
_Static_assert(offsetof(struct goro__frame, rbx) == GORO_FRAME_RBX, "frame: rbx");
_Static_assert(offsetof(struct goro__frame, rbp) == GORO_FRAME_RBP, "frame: rbp");
_Static_assert(offsetof(struct goro__frame, ret) == GORO_FRAME_RET, "frame: ret");
#else
struct goro__frame {
    uint64_t x19, x20, x21, x22, x23, x24, x25, x26, x27, x28;
    uint64_t x29;
    uint64_t ret; /* x30 */
    uint64_t d8, d9, d10, d11, d12, d13, d14, d15;
    uint64_t fpcr;
    uint64_t pad;
};
_Static_assert(offsetof(struct goro__frame, x19) == GORO_FRAME_X19, "frame: x19");
_Static_assert(offsetof(struct goro__frame, x20) == GORO_FRAME_X20, "frame: x20");
_Static_assert(offsetof(struct goro__frame, x21) == GORO_FRAME_X21, "frame: x21");
_Static_assert(offsetof(struct goro__frame, x22) == GORO_FRAME_X22, "frame: x22");
_Static_assert(offsetof(struct goro__frame, x23) == GORO_FRAME_X23, "frame: x23");
_Static_assert(offsetof(struct goro__frame, x24) == GORO_FRAME_X24, "frame: x24");
_Static_assert(offsetof(struct goro__frame, x25) == GORO_FRAME_X25, "frame: x25");
_Static_assert(offsetof(struct goro__frame, x26) == GORO_FRAME_X26, "frame: x26");
_Static_assert(offsetof(struct goro__frame, x27) == GORO_FRAME_X27, "frame: x27");
_Static_assert(offsetof(struct goro__frame, x28) == GORO_FRAME_X28, "frame: x28");
_Static_assert(offsetof(struct goro__frame, x29) == GORO_FRAME_X29, "frame: x29");
_Static_assert(offsetof(struct goro__frame, ret) == GORO_FRAME_X30, "frame: x30");
_Static_assert(offsetof(struct goro__frame, d8) == GORO_FRAME_D8, "frame: d8");
_Static_assert(offsetof(struct goro__frame, d9) == GORO_FRAME_D9, "frame: d9");
_Static_assert(offsetof(struct goro__frame, d10) == GORO_FRAME_D10, "frame: d10");
_Static_assert(offsetof(struct goro__frame, d11) == GORO_FRAME_D11, "frame: d11");
_Static_assert(offsetof(struct goro__frame, d12) == GORO_FRAME_D12, "frame: d12");
_Static_assert(offsetof(struct goro__frame, d13) == GORO_FRAME_D13, "frame: d13");
_Static_assert(offsetof(struct goro__frame, d14) == GORO_FRAME_D14, "frame: d14");
_Static_assert(offsetof(struct goro__frame, d15) == GORO_FRAME_D15, "frame: d15");
_Static_assert(offsetof(struct goro__frame, fpcr) == GORO_FRAME_FPCR, "frame: fpcr");
#endif
_Static_assert(sizeof(struct goro__frame) == GORO_FRAME_SIZE, "frame: size");
_Static_assert(GORO_FRAME_SIZE % 16 == 0, "frame: the saved sp stays 16-byte aligned");
_Static_assert(GORO_FRAME_RET + 8 <= GORO_FRAME_SIZE, "frame: return address inside");

/* Saves the running context's frame in *save_sp and resumes next_sp.
 * Opaque to the compiler (it is assembly), so no value lives in a register
 * across it except the callee-saved ones it restores. */
void goro__switch(void **save_sp, void *next_sp);

/* The first instructions of every goroutine (see the assembly). */
void goro__trampoline(void);

/* Builds a fresh context below top (16-byte aligned) that will call
 * fn(arg) with a correctly aligned stack, and returns its stack pointer.
 * The FP control state is copied from the caller's, which is how threads
 * inherit it too. */
static inline void *goro__frame_init(void *top, void (*fn)(void *), void *arg)
{
    struct goro__frame *f = (struct goro__frame *)((char *)top - GORO_FRAME_SIZE);

    memset(f, 0, sizeof *f);
#if defined(__x86_64__)
    __asm__ volatile("stmxcsr %0" : "=m"(f->mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(f->fpcw));
    f->r12 = (uintptr_t)fn;
    f->r13 = (uintptr_t)arg;
#else
    __asm__ volatile("mrs %0, fpcr" : "=r"(f->fpcr));
    f->x19 = (uintptr_t)fn;
    f->x20 = (uintptr_t)arg;
#endif
    f->ret = (uintptr_t)goro__trampoline;
    return f;
}

#endif /* !__ASSEMBLER__ */

#endif /* GORO_ARCH_FRAME_H */
