// Running a stub under a PSW of the caller's choice (problem state, a PSW
// key, PER, DAT) and coming back in the caller's own state: the stub ends
// with SUPERVISOR CALL (normal end) or takes a program interruption; either
// one returns from `s390_run_psw` with what the interruption stored in the
// lowcore. While the stub runs, this CPU's SVC and program new PSWs point
// here (the runtime's are put back before returning).
//
// Block (u64 words; see RunPSW.swift):
//   0 PSW mask, 8 PSW address, 16..143 r0-r15 loaded before the PSW
//   144 result: program-interruption code, or 0x10000 | SVC number
//   152 old PSW (mask, address), 168..295 r0-r15 at the interruption
//   296..359 copy of lowcore 0x80-0xbf (ILC, codes, DXC, PER, TEID)
//   360 return PSW, 376 saved SVC new PSW, 392 saved program new PSW,
//   408 CR0 at entry (put back before returning)
// Lowcore scratch of this CPU: 0x3e0 PSW to load, 0x3f0 block, 0x3f8 r15.

        .text
        .globl s390_run_psw
s390_run_psw:                                // (block) -> code
        stmg    %r6, %r15, 48(%r15)
        stg     %r15, 0x3f8
        stg     %r2, 0x3f0
        stctg   %c0, %c0, 408(%r2)           // CR0 comes back as it was
        epsw    %r0, %r1                     // return PSW: the current mask
        sllg    %r0, %r0, 32
        llgfr   %r1, %r1
        ogr     %r0, %r1
        stg     %r0, 360(%r2)
        larl    %r1, 9f
        stg     %r1, 368(%r2)
        mvc     376(16, %r2), 0x1c0          // keep the runtime's new PSWs
        mvc     392(16, %r2), 0x1d0
        llihl   %r0, 0x0000
        iihf    %r0, 0x00000001
        iilf    %r0, 0x80000000              // 64-bit, supervisor, DAT off
        stg     %r0, 0x1c0
        stg     %r0, 0x1d0
        larl    %r1, run_svc_entry
        stg     %r1, 0x1c8
        larl    %r1, run_program_entry
        stg     %r1, 0x1d8
        mvc     0x3e0(16), 0(%r2)
        lgr     %r1, %r2
        lmg     %r0, %r15, 16(%r1)
        lpswe   0x3e0

run_svc_entry:
        stmg    %r0, %r15, 0x200
        lg      %r1, 0x3f0
        llgh    %r0, 0x8a
        oilh    %r0, 0x0001
        stg     %r0, 144(%r1)
        mvc     152(16, %r1), 0x140
        j       8f
run_program_entry:
        stmg    %r0, %r15, 0x200
        lg      %r1, 0x3f0
        llgh    %r0, 0x8e
        stg     %r0, 144(%r1)
        mvc     152(16, %r1), 0x150
8:      lctlg   %c0, %c0, 408(%r1)           // first: CR0 may protect low storage
        mvc     168(128, %r1), 0x200
        mvc     296(64, %r1), 0x80
        mvc     0x1c0(16), 376(%r1)
        mvc     0x1d0(16), 392(%r1)
        mvc     0x3e0(16), 360(%r1)
        lpswe   0x3e0
9:      lg      %r15, 0x3f8
        lg      %r1, 0x3f0
        lg      %r2, 144(%r1)
        lmg     %r6, %r15, 48(%r15)
        br      %r14

// s390_load_control(n, value): LCTLG of control register n (0-15).
        .globl s390_load_control, s390_store_control
s390_load_control:
        aghi    %r15, -8
        stg     %r3, 0(%r15)
        nill    %r2, 0x000f
        lgr     %r1, %r2
        sll     %r1, 4
        or      %r1, %r2                     // R1 = R3 = n
        exrl    %r1, 1f
        aghi    %r15, 8
        br      %r14
1:      lctlg   %c0, %c0, 0(%r15)
// s390_store_control(n) -> value: STCTG of control register n.
s390_store_control:
        aghi    %r15, -8
        nill    %r2, 0x000f
        lgr     %r1, %r2
        sll     %r1, 4
        or      %r1, %r2
        exrl    %r1, 2f
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
2:      stctg   %c0, %c0, 0(%r15)

// s390_run_block() -> the block RunPSW uses (one; RunPSW runs on one CPU
// at a time).
        .globl s390_run_block
s390_run_block:
        larl    %r2, run_block
        br      %r14
        .section .bss
        .balign 8
run_block:
        .space  416
