/* switch_aarch64.S - goroutine context switch, AArch64 AAPCS64.
 *
 * void goro__switch(void **save_sp, void *next_sp)
 *   Saves the callee-saved state of the running context on its own stack,
 *   stores the resulting stack pointer in *save_sp, then loads next_sp and
 *   restores the state saved there.  "Returns" into the other context.
 *
 * Saved frame, from the saved stack pointer upwards (GORO_FRAME_* in frame.h):
 *
 *   offset  contents
 *   0       x19, x20
 *   16      x21, x22
 *   32      x23, x24
 *   48      x25, x26
 *   64      x27, x28
 *   80      x29 (frame pointer), x30 (link register: where it resumes)
 *   96      d8, d9        (low 64 bits of v8-v15 are callee-saved)
 *   112     d10, d11
 *   128     d12, d13
 *   144     d14, d15
 *   160     FPCR (rounding mode, flush-to-zero), 8 bytes
 *   168     padding, keeps sp 16-byte aligned
 *   176     (the caller's stack before its call to goro__switch)
 *
 * A new context is a frame built by goro__frame_init() (frame.h) whose x30 is
 * goro__trampoline, with the entry function in x19 and its argument in x20.
 */
#include "frame.h"

/* Registers are saved in pairs (stp/ldp): each pair must be adjacent. */
#if GORO_FRAME_X20 != GORO_FRAME_X19 + 8 || GORO_FRAME_X22 != GORO_FRAME_X21 + 8 || \
    GORO_FRAME_X24 != GORO_FRAME_X23 + 8 || GORO_FRAME_X26 != GORO_FRAME_X25 + 8 || \
    GORO_FRAME_X28 != GORO_FRAME_X27 + 8 || GORO_FRAME_X30 != GORO_FRAME_X29 + 8 || \
    GORO_FRAME_D9 != GORO_FRAME_D8 + 8 || GORO_FRAME_D11 != GORO_FRAME_D10 + 8 || \
    GORO_FRAME_D13 != GORO_FRAME_D12 + 8 || GORO_FRAME_D15 != GORO_FRAME_D14 + 8
#error "switch_aarch64.S: a register pair is not adjacent in frame.h"
#endif

    .text
    .globl  goro__switch
    .hidden goro__switch
    .type   goro__switch, %function
    .p2align 4
goro__switch:
    .cfi_startproc
    sub     sp, sp, #GORO_FRAME_SIZE    /* room for the frame */
    stp     x19, x20, [sp, #GORO_FRAME_X19] /* callee-saved general registers */
    stp     x21, x22, [sp, #GORO_FRAME_X21]
    stp     x23, x24, [sp, #GORO_FRAME_X23]
    stp     x25, x26, [sp, #GORO_FRAME_X25]
    stp     x27, x28, [sp, #GORO_FRAME_X27]
    stp     x29, x30, [sp, #GORO_FRAME_X29] /* frame pointer and return address */
    stp     d8, d9, [sp, #GORO_FRAME_D8] /* callee-saved FP registers */
    stp     d10, d11, [sp, #GORO_FRAME_D10]
    stp     d12, d13, [sp, #GORO_FRAME_D12]
    stp     d14, d15, [sp, #GORO_FRAME_D14]
    mrs     x10, fpcr                   /* FP control register, kept in x10 ... */
    str     x10, [sp, #GORO_FRAME_FPCR]
    mov     x9, sp                      /* *save_sp = our frame */
    str     x9, [x0]
    mov     sp, x1                      /* switch stacks: now on the next context */
    ldr     x9, [sp, #GORO_FRAME_FPCR]  /* ... to write its FPCR only when it */
    cmp     x9, x10                     /* differs: msr fpcr may serialise */
    b.eq    1f
    msr     fpcr, x9
1:
    ldp     x19, x20, [sp, #GORO_FRAME_X19] /* its callee-saved registers */
    ldp     x21, x22, [sp, #GORO_FRAME_X21]
    ldp     x23, x24, [sp, #GORO_FRAME_X23]
    ldp     x25, x26, [sp, #GORO_FRAME_X25]
    ldp     x27, x28, [sp, #GORO_FRAME_X27]
    ldp     x29, x30, [sp, #GORO_FRAME_X29]
    ldp     d8, d9, [sp, #GORO_FRAME_D8]
    ldp     d10, d11, [sp, #GORO_FRAME_D10]
    ldp     d12, d13, [sp, #GORO_FRAME_D12]
    ldp     d14, d15, [sp, #GORO_FRAME_D14]
    add     sp, sp, #GORO_FRAME_SIZE    /* drop the frame */
    ret                                 /* resume at x30 */
    .cfi_endproc
    .size   goro__switch, .-goro__switch

/* First code a new goroutine runs: goro__switch "returns" here with the entry
 * function in x19 and its argument in x20.  fn never returns; brk traps if it
 * does.  The undefined x30 ends unwinding here. */
    .globl  goro__trampoline
    .hidden goro__trampoline
    .type   goro__trampoline, %function
    .p2align 4
goro__trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov     x29, #0                     /* a zero frame pointer ends frame walks */
    mov     x0, x20                     /* fn's argument */
    blr     x19                         /* fn(arg): does not return */
    brk     #0
    .cfi_endproc
    .size   goro__trampoline, .-goro__trampoline

    .section .note.GNU-stack,"",%progbits
