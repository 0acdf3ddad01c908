// Instructions Swift cannot express: the service call (SCLP), SIGP, the
// prefix and control registers, waiting, the exception "try" hook, lowcore
// access (Swift must never dereference addresses near 0: LLVM treats a
// null-based pointer as undefined behaviour), and the C memory primitives
// (written here so the compiler cannot turn their loops back into calls).

        .text

// s390_servc(command: UInt32, sccb: UInt64) -> UInt32 condition code.
// LLVM's assembler has no `servc`: RRE opcode 0xB220 with R1 = 2, R2 = 3.
        .globl s390_servc
s390_servc:
        .long   0xb2200023
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        br      %r14

// s390_wait_service_signal(): waits, enabled for external interruptions,
// until the service signal arrives (the SCLP request completed). The
// external handler returns here with the wait and external-mask bits
// cleared, so the caller continues disabled again.
        .globl s390_wait_service_signal
s390_wait_service_signal:
        epsw    %r0, %r1
        sllg    %r0, %r0, 32
        llgfr   %r1, %r1
        ogr     %r0, %r1
        oihh    %r0, 0x0102                  // external mask (7), wait (14)
        aghi    %r15, -16
        stg     %r0, 0(%r15)
        larl    %r1, 1f
        stg     %r1, 8(%r15)
        lpswe   0(%r15)
1:      aghi    %r15, 16
        br      %r14

// s390_sigp(cpu: UInt16, order: UInt8, parameter: UInt64, status: *UInt32)
//   -> UInt32 condition code; the status word is stored when cc == 1.
        .globl s390_sigp
s390_sigp:
        lgr     %r1, %r4                     // parameter (odd register of r0/r1)
        lghi    %r0, 0
        sigp    %r0, %r2, 0(%r3)
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        st      %r0, 0(%r5)
        br      %r14

// s390_cpu_address() -> UInt16
        .globl s390_cpu_address
s390_cpu_address:
        aghi    %r15, -8
        stap    0(%r15)
        llgh    %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14

// s390_stop_self(): SIGP STOP to this CPU; the last running CPU stopping
// ends QEMU with status 0. Retries while the order is busy.
        .globl s390_stop_self
s390_stop_self:
        aghi    %r15, -8
        stap    0(%r15)
        llgh    %r3, 0(%r15)
1:      lghi    %r1, 0
        sigp    %r0, %r3, 5
        j       1b

// s390_read_prefix() -> UInt64, s390_read_cr(n) for n in 0, 1, 13.
        .globl s390_read_prefix
s390_read_prefix:
        aghi    %r15, -8
        stpx    0(%r15)
        llgf    %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14

        .globl s390_read_cr0, s390_read_cr1
s390_read_cr0:
        aghi    %r15, -8
        stctg   %c0, %c0, 0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
s390_read_cr1:
        aghi    %r15, -8
        stctg   %c1, %c1, 0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14

// s390_enable_dat(asce: UInt64): loads the primary ASCE into CR1 and turns
// on DAT (PSW bit 5) in primary-space mode.
        .globl s390_enable_dat
s390_enable_dat:
        aghi    %r15, -8
        stg     %r2, 0(%r15)
        lctlg   %c1, %c1, 0(%r15)
        stosm   0(%r15), 0x04                // PSW bit 5 (DAT); old mask byte to scratch
        aghi    %r15, 8
        br      %r14

// s390_ipte(pte: UInt64 address of the entry, virtual: UInt64): invalidates
// a page-table entry and purges it from every CPU's TLB.
        .globl s390_ipte
s390_ipte:
        lgr     %r1, %r2
        nill    %r1, 0xf800                  // page-table origin (2 KiB aligned)
        ipte    %r1, %r3
        br      %r14

// s390_psw_mask() -> UInt64 (the current PSW mask, from EPSW).
        .globl s390_psw_mask
s390_psw_mask:
        epsw    %r0, %r1
        sllg    %r2, %r0, 32
        llgfr   %r1, %r1
        ogr     %r2, %r1
        br      %r14

// Deliberate program checks for the tests.
        .globl s390_operation_exception, s390_divide_exception, s390_load
s390_operation_exception:
        .word   0x0000                       // no such opcode
        br      %r14
s390_divide_exception:                       // 1 / 0 with DSGR
        lghi    %r1, 1
        lghi    %r0, 0
        dsgr    %r0, %r0
        br      %r14
s390_load:                                   // (address) -> UInt64
        lg      %r2, 0(%r2)
        br      %r14
        .globl s390_specification_exception
s390_specification_exception:               // LPSWE of a PSW at an odd address
        larl    %r1, odd_psw
        lpswe   1(%r1)
        br      %r14

        .globl s390_read_sp
s390_read_sp:
        lgr     %r2, %r15
        br      %r14

// Lowcore access by real address (0..8 KiB), for the Swift side.
        .globl s390_lowcore_load64, s390_lowcore_store64, s390_lowcore_load16
s390_lowcore_load64:
        lg      %r2, 0(%r2)
        br      %r14
s390_lowcore_store64:
        stg     %r3, 0(%r2)
        br      %r14
s390_lowcore_load16:
        llgh    %r2, 0(%r2)
        br      %r14

// s390_copy_lowcore(destination): copies this CPU's new PSWs (0x1a0-0x1ff)
// and the program-check stack slot into another CPU's lowcore.
        .globl s390_copy_lowcore_psws
s390_copy_lowcore_psws:
        mvc     0x1a0(96, %r2), 0x1a0
        br      %r14

// s390_secondary_entry: where SIGP RESTART starts another CPU (its restart
// new PSW points here). Its lowcore holds the stack top (0x2e0) and the
// argument (0x2d8) for `s390_secondary_main`.
        .globl s390_secondary_entry
s390_secondary_entry:
        lg      %r15, 0x2e0
        aghi    %r15, -160
        lghi    %r0, 0
        stg     %r0, 0(%r15)
        brasl   %r14, s390_setup_cpu
        lg      %r2, 0x2d8
        brasl   %r14, s390_secondary_main
        j       s390_stop_self

// s390_try(body, context) -> UInt64: calls body(context). Returns 0 when it
// returns normally; when a program check hits while the try is armed, the
// handler resumes at s390_try_resume with r15 = the try frame and r2 = the
// value it chose. The armed frame is kept per CPU, in lowcore slot 0x2c8.
        .globl s390_try, s390_try_resume
s390_try:
        stmg    %r6, %r15, 48(%r15)
        lgr     %r1, %r15
        aghi    %r15, -(160 + 80)
        stg     %r1, 0(%r15)
        std     %f8, 160(%r15)
        std     %f9, 168(%r15)
        std     %f10, 176(%r15)
        std     %f11, 184(%r15)
        std     %f12, 192(%r15)
        std     %f13, 200(%r15)
        std     %f14, 208(%r15)
        std     %f15, 216(%r15)
        lg      %r0, 0x2c8
        stg     %r0, 224(%r15)               // nesting: the outer try
        stg     %r15, 0x2c8
        lgr     %r1, %r2
        lgr     %r2, %r3
        basr    %r14, %r1
        lghi    %r2, 0
s390_try_resume:
        lg      %r0, 224(%r15)
        stg     %r0, 0x2c8
        ld      %f8, 160(%r15)
        ld      %f9, 168(%r15)
        ld      %f10, 176(%r15)
        ld      %f11, 184(%r15)
        ld      %f12, 192(%r15)
        ld      %f13, 200(%r15)
        ld      %f14, 208(%r15)
        ld      %f15, 216(%r15)
        lmg     %r6, %r15, 240 + 48(%r15)
        br      %r14

        .globl s390_try_resume_address, s390_try_armed_sp, s390_image_end
s390_try_resume_address:
        larl    %r2, s390_try_resume
        br      %r14
s390_try_armed_sp:
        lg      %r2, 0x2c8
        br      %r14
s390_image_end:
        larl    %r2, __image_end
        br      %r14

// C memory primitives. MVCLE is interruptible (cc 3: continue).
        .globl memset, memcpy, memmove, memcmp, bcmp
memset:                                      // (dst, byte, count) -> dst
        lgr     %r0, %r2
        lgr     %r1, %r4
        lghi    %r4, 0
        lghi    %r5, 0
1:      mvcle   %r0, %r4, 0(%r3)
        jo      1b
        br      %r14
memcpy:                                      // (dst, src, count) -> dst
        lgr     %r0, %r2
        lgr     %r1, %r4
        lgr     %r5, %r4
        lgr     %r4, %r3
2:      mvcle   %r0, %r4, 0
        jo      2b
        br      %r14
memmove:                                     // overlapping copy, bytewise
        ltgr    %r4, %r4
        jz      5f
        clgr    %r2, %r3
        jle     4f                           // dst <= src: forwards
        lgr     %r1, %r3
        agr     %r1, %r4
        clgr    %r2, %r1
        jhe     4f                           // no overlap: forwards
3:      aghi    %r4, -1                      // backwards
        llgc    %r0, 0(%r4, %r3)
        stc     %r0, 0(%r4, %r2)
        ltgr    %r4, %r4
        jnz     3b
        br      %r14
4:      lghi    %r1, 0
6:      llgc    %r0, 0(%r1, %r3)
        stc     %r0, 0(%r1, %r2)
        aghi    %r1, 1
        clgr    %r1, %r4
        jl      6b
5:      br      %r14
memcmp:                                      // (a, b, count) -> Int32
bcmp:
        ltgr    %r4, %r4
        jz      8f
7:      llgc    %r0, 0(%r2)
        llgc    %r1, 0(%r3)
        sgr     %r0, %r1
        jnz     9f
        la      %r2, 1(%r2)
        la      %r3, 1(%r3)
        brctg   %r4, 7b
8:      lghi    %r2, 0
        br      %r14
9:      lgfr    %r2, %r0
        br      %r14

// Names the Swift runtime reserves are forwarded to the guest_* functions.
        .globl malloc, free, posix_memalign
malloc:
        jg      guest_malloc
free:
        jg      guest_free
posix_memalign:
        jg      guest_posix_memalign

        .section .rodata
        .balign 8
odd_psw:
        .quad   0, 0, 0

        .data
        .balign 8
// The console line lock word (see Console.swift of this runtime).
        .globl s390_console_lock
s390_console_lock:
        .quad   0

        .text
        .globl s390_secondary_entry_address, s390_sccb_address, s390_boot_storage_address
        .globl s390_console_lock_address
s390_console_lock_address:
        larl    %r2, s390_console_lock
        br      %r14
s390_secondary_entry_address:
        larl    %r2, s390_secondary_entry
        br      %r14
s390_sccb_address:
        larl    %r2, sclp_sccb
        br      %r14
s390_boot_storage_address:
        larl    %r2, boot_storage
        br      %r14

        .section .bss
// The SCLP control block: page aligned (so within one page, 8-byte
// aligned), in the image (above 8 KiB, below 2 GiB, never a prefix area).
        .balign 4096
sclp_sccb:
        .space  4096
// Copies of the boot information (memory map, command line).
boot_storage:
        .space  8192

        .text
        .globl s390_store_clock
s390_store_clock:                            // () -> UInt64 TOD clock
        aghi    %r15, -8
        stck    0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14

// _swift_embedded_invoke_heap_object_destroy(object): calls the destroyer
// in the object's metadata (second word) with the object as Swift's self
// (swiftself is r10 on SystemZ; r2 gets it too).
        .text
        .globl _swift_embedded_invoke_heap_object_destroy
_swift_embedded_invoke_heap_object_destroy:
        stmg    %r10, %r15, 80(%r15)
        lgr     %r10, %r2
        lg      %r1, 0(%r2)
        lg      %r1, 8(%r1)
        lgr     %r0, %r15
        aghi    %r15, -160
        stg     %r0, 0(%r15)
        basr    %r14, %r1
        lmg     %r10, %r15, 160 + 80(%r15)
        br      %r14

// s390_stfle(list: *UInt64 (8-byte aligned), doublewords: UInt64) -> UInt64
// STORE FACILITY LIST EXTENDED: stores at most `doublewords` doublewords of
// facility bits at `list` and returns how many the machine has.
        .text
        .globl s390_stfle
s390_stfle:
        aghi    %r3, -1
        lgr     %r0, %r3
        stfle   0(%r2)
        llgcr   %r2, %r0
        aghi    %r2, 1
        br      %r14
