// Instructions under test for emulator_s390x. Every stub runs one
// instruction (or a short, fixed sequence) on its arguments (r2-r6) and
// returns the result in r2; `SAVECC` stores the condition code the
// instruction set in `emu_cc` (read with emu_last_cc). s390x ELF ABI: r6-r15
// are preserved.
        .machine "z15"

        .macro SAVECC
        ipm     %r0
        srl     %r0, 28
        larl    %r1, emu_cc
        st      %r0, 0(%r1)
        .endm

        .text
        .globl emu_last_cc
emu_last_cc:
        larl    %r1, emu_cc
        llgf    %r2, 0(%r1)
        br      %r14

// (a, b) -> a op b, register-register forms.
        .macro RR name, insn
        .globl emu_\name
emu_\name:
        \insn   %r2, %r3
        SAVECC
        br      %r14
        .endm
        RR ar, ar
        RR sr, sr
        RR alr, alr
        RR slr, slr
        RR agr, agr
        RR sgr, sgr
        RR algr, algr
        RR slgr, slgr
        RR nr, nr
        RR or, or
        RR xr, xr
        RR ngr, ngr
        RR msr, msr
        RR cr, cr
        RR clr, clr
        RR cgr, cgr
        RR clgr, clgr
        RR lcr, lcr
        RR lpr, lpr
        RR lnr, lnr
        RR ltr, ltr
        RR lcgr, lcgr
        RR lpgr, lpgr

// (a, b, carry/borrow cc in) -> ALCR/SLBR with the condition code set first.
        .macro RRC name, insn
        .globl emu_\name
emu_\name:
        sllg    %r4, %r4, 28
        spm     %r4
        \insn   %r2, %r3
        SAVECC
        br      %r14
        .endm
        RRC alcr, alcr
        RRC slbr, slbr

// (a, count) -> shifts with the count in the second-operand address.
        .macro SH name, insn
        .globl emu_\name
emu_\name:
        \insn   %r2, 0(%r3)
        SAVECC
        br      %r14
        .endm
        SH sla, sla
        SH sra, sra
        SH sll, sll
        SH srl, srl
        .macro SHG name, insn
        .globl emu_\name
emu_\name:
        \insn   %r2, %r2, 0(%r3)
        SAVECC
        br      %r14
        .endm
        SHG slag, slag
        SHG srag, srag
        SHG rll, rll
        SHG rllg, rllg

// emu_dr(dividend high, dividend low, divisor) -> remainder << 32 | quotient
        .globl emu_dr, emu_dlr
emu_dr:
        lr      %r0, %r2
        lr      %r1, %r3
        dr      %r0, %r4
        sllg    %r2, %r0, 32
        llgfr   %r1, %r1
        ogr     %r2, %r1
        br      %r14
emu_dlr:
        lr      %r0, %r2
        lr      %r1, %r3
        dlr     %r0, %r4
        sllg    %r2, %r0, 32
        llgfr   %r1, %r1
        ogr     %r2, %r1
        br      %r14

// Fixed-point overflow with the program-mask bit on (PSW bit 20): AR
// raises the interruption. emu_clear_program_mask() after it.
        .globl emu_ar_overflow_enabled, emu_clear_program_mask
emu_ar_overflow_enabled:
        llilh   %r0, 0x0800                  // program mask 1000: fixed-point overflow
        spm     %r0
        ar      %r2, %r3
        lhi     %r0, 0
        spm     %r0
        br      %r14
emu_clear_program_mask:
        lhi     %r0, 0
        spm     %r0
        br      %r14

// TM / TMLL: (byte or halfword value, mask) via EX into a template.
        .globl emu_tm, emu_tmll
emu_tm:                                      // (value byte, mask) -> cc
        aghi    %r15, -8
        stc     %r2, 0(%r15)
        lgr     %r1, %r3
        exrl    %r1, 1f
        SAVECC
        aghi    %r15, 8
        br      %r14
1:      tm      0(%r15), 0
emu_tmll:                                    // (value, mask) -> cc
        lgr     %r0, %r2                     // TMLL has its mask in the
        aghi    %r15, -8                     // immediate field, out of EX's
        lgr     %r1, %r3                     // reach: build "TMLL r0, mask"
        oilh    %r1, 0xa701                  // on the stack and execute it
        st      %r1, 0(%r15)
        lghi    %r1, 0
        ex      %r1, 0(%r15)
        SAVECC
        aghi    %r15, 8
        br      %r14

// ICM / STCM with each of the 16 masks: emu_icm_M(register, address) and
// emu_stcm_M(register, address) -> stores into the 4 bytes at address.
        .irp m, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        .globl emu_icm_\m, emu_stcm_\m
emu_icm_\m:
        icm     %r2, \m, 0(%r3)
        SAVECC
        br      %r14
emu_stcm_\m:
        stcm    %r2, \m, 0(%r3)
        br      %r14
        .endr

// Storage-to-storage with the length through EXRL (length - 1 in r4):
// (destination, source, length - 1).
        .macro SS name, insn
        .globl emu_\name
emu_\name:
        lgr     %r1, %r4
        exrl    %r1, 1f
        SAVECC
        br      %r14
1:      \insn   0(1, %r2), 0(%r3)
        .endm
        SS mvc, mvc
        SS clc, clc
        SS xc, xc
        SS nc, nc
        SS oc, oc
        SS tr, tr
        SS mvn, mvn
        SS mvz, mvz

// emu_trt(operand, table, length - 1, out: [r1, r2]) -> cc; r1 starts as
// 0x1111 and r2 as 0x2222222222222222 to show what TRT replaced.
        .globl emu_trt
emu_trt:
        stmg    %r6, %r7, 48(%r15)
        lgr     %r7, %r2
        lgr     %r6, %r4
        lghi    %r1, 0x1111
        llihf   %r2, 0x22222222
        iilf    %r2, 0x22222222
        exrl    %r6, 1f
        stg     %r1, 0(%r5)                  // before SAVECC, which uses r1
        stg     %r2, 8(%r5)
        SAVECC
        lmg     %r6, %r7, 48(%r15)
        br      %r14
1:      trt     0(1, %r7), 0(%r3)

// emu_tre(regs: [addr, len], table, testByte) -> cc, regs updated
        .globl emu_tre
emu_tre:
        stmg    %r6, %r7, 48(%r15)
        lg      %r6, 0(%r2)
        lg      %r7, 8(%r2)
        lgr     %r0, %r4
1:      tre     %r6, %r3
        jo      1b
        SAVECC
        stg     %r6, 0(%r2)
        stg     %r7, 8(%r2)
        lmg     %r6, %r7, 48(%r15)
        br      %r14

// MVCL / MVCLE / CLCL / CLCLE on a register block
// regs: [r1 addr, r1 length, r2 addr, r2 length/pad] (+ pad in r3 for the
// E forms); the block is updated with the registers after the instruction.
        .globl emu_mvcl, emu_clcl, emu_mvcle, emu_clcle
emu_mvcl:
        stmg    %r6, %r9, 48(%r15)
        lmg     %r6, %r9, 0(%r2)
        mvcl    %r6, %r8
        SAVECC
        stmg    %r6, %r9, 0(%r2)
        lmg     %r6, %r9, 48(%r15)
        br      %r14
emu_clcl:
        stmg    %r6, %r9, 48(%r15)
        lmg     %r6, %r9, 0(%r2)
        clcl    %r6, %r8
        SAVECC
        stmg    %r6, %r9, 0(%r2)
        lmg     %r6, %r9, 48(%r15)
        br      %r14
emu_mvcle:
        stmg    %r6, %r9, 48(%r15)
        lmg     %r6, %r9, 0(%r2)
1:      mvcle   %r6, %r8, 0(%r3)
        jo      1b
        SAVECC
        stmg    %r6, %r9, 0(%r2)
        lmg     %r6, %r9, 48(%r15)
        br      %r14
emu_clcle:
        stmg    %r6, %r9, 48(%r15)
        lmg     %r6, %r9, 0(%r2)
1:      clcle   %r6, %r8, 0(%r3)
        jo      1b
        SAVECC
        stmg    %r6, %r9, 0(%r2)
        lmg     %r6, %r9, 48(%r15)
        br      %r14

// Compare and swap: (compare value, replacement, address) -> first operand
// register after the instruction.
        .globl emu_cs, emu_csg, emu_cds, emu_cdsg, emu_csst
emu_cs:
        cs      %r2, %r3, 0(%r4)
        SAVECC
        br      %r14
emu_csg:
        csg     %r2, %r3, 0(%r4)
        SAVECC
        br      %r14
// emu_cds(pair: [compare hi, lo, replace hi, lo], address): 32-bit halves
emu_cds:
        stmg    %r6, %r9, 48(%r15)
        lmg     %r6, %r9, 0(%r2)
        cds     %r6, %r8, 0(%r3)
        SAVECC
        stmg    %r6, %r9, 0(%r2)
        lmg     %r6, %r9, 48(%r15)
        br      %r14
emu_cdsg:
        stmg    %r6, %r9, 48(%r15)
        lmg     %r6, %r9, 0(%r2)
        cdsg    %r6, %r8, 0(%r3)
        SAVECC
        stmg    %r6, %r9, 0(%r2)
        lmg     %r6, %r9, 48(%r15)
        br      %r14
// emu_csst(compare value, first operand address, second operand address,
//          GR0 (fc/sc), parameter list) -> r3 register after
emu_csst:
        stmg    %r6, %r7, 48(%r15)
        lgr     %r7, %r2
        lgr     %r0, %r5
        lgr     %r1, %r6
        csst    0(%r3), 0(%r4), %r7
        SAVECC
        lgr     %r2, %r7
        lmg     %r6, %r7, 48(%r15)
        br      %r14

// Interlocked access: (address, operand) -> old value loaded into r1.
        .macro IA name, insn
        .globl emu_\name
emu_\name:
        \insn   %r2, %r3, 0(%r2)
        SAVECC
        br      %r14
        .endm
        IA laa, laa
        IA laal, laal
        IA lan, lan
        IA lao, lao
        IA lax, lax
        IA laag, laag
        IA lang, lang

// EX / EXRL: the target "MVI 0(r2), 0" gets its immediate (byte 1) ORed
// with bits 56-63 of the EX register: (address, byte).
        .globl emu_ex_mvi, emu_exrl_mvi, emu_ex_of_ex, emu_ex_r0
emu_ex_mvi:                                  // (address, byte) -> stores byte via MVI's I2
        lgr     %r1, %r3
        larl    %r4, 1f
        ex      %r1, 0(%r4)
        br      %r14
1:      mvi     0(%r2), 0
emu_exrl_mvi:
        lgr     %r1, %r3
        exrl    %r1, 1b
        br      %r14
emu_ex_r0:                                   // (address, byte): R1 = 0, no OR
        lgr     %r0, %r3
        exrl    %r0, 1b
        br      %r14
emu_ex_of_ex:                                // EX of EX: execute exception
        lghi    %r1, 0
        exrl    %r1, 2f
        br      %r14
2:      ex      %r0, 0(%r2)

// Decimal: CVD (value, address of 8 bytes), CVB (address) -> value,
// CVBG (address of 16 bytes) -> value, CVDG (value, address of 16 bytes).
        .globl emu_cvd, emu_cvb, emu_cvdg, emu_cvbg
emu_cvd:
        cvd     %r2, 0(%r3)
        br      %r14
emu_cvb:
        lghi    %r0, 0
        cvb     %r0, 0(%r2)
        llgfr   %r2, %r0
        br      %r14
emu_cvdg:
        cvdg    %r2, 0(%r3)
        br      %r14
emu_cvbg:
        cvbg    %r2, 0(%r2)
        br      %r14

// Two-length SS decimal instructions through EX: lengths packed as
// (L1 - 1) << 4 | (L2 - 1) in r4: (first, second, lengths).
        .macro SS2 name, insn
        .globl emu_\name
emu_\name:
        lgr     %r1, %r4
        exrl    %r1, 1f
        SAVECC
        br      %r14
1:      \insn   0(1, %r2), 0(1, %r3)
        .endm
        SS2 pack, pack
        SS2 unpk, unpk
        SS2 ap, ap
        SS2 sp, sp
        SS2 zap, zap
        SS2 cp, cp
        SS2 mp, mp
        SS2 dp, dp

// ED: (pattern, source, pattern length - 1) -> cc
        .globl emu_ed
emu_ed:
        lgr     %r1, %r4
        exrl    %r1, 1f
        SAVECC
        br      %r14
1:      ed      0(1, %r2), 0(%r3)

// emu_ap_overflow_enabled: AP with the decimal-overflow mask on.
        .globl emu_ap_overflow_enabled
emu_ap_overflow_enabled:
        llilh   %r0, 0x0400                  // program mask 0100: decimal overflow
        spm     %r0
        lgr     %r1, %r4
        exrl    %r1, 1f
        lhi     %r0, 0
        spm     %r0
        br      %r14
1:      ap      0(1, %r2), 0(1, %r3)

// RISBG family: emu_<insn>_<n>(r1 value, r2 value) for the immediate sets
// listed in the Swift table (same order).
        .macro RSB name, insn, i3, i4, i5
        .globl emu_\name
emu_\name:
        \insn   %r2, %r3, \i3, \i4, \i5
        SAVECC
        br      %r14
        .endm
        RSB risbg_0, risbg, 0, 63, 0
        RSB risbg_1, risbg, 32, 63, 0
        RSB risbg_2, risbg, 0, 31, 32
        RSB risbg_3, risbg, 56, 7, 8
        RSB risbg_4, risbg, 40, 47, 60
        RSB risbg_5, risbg, 60, 131, 4      // zero remaining bits
        RSB risbg_6, risbg, 0, 128, 1       // zero, bit 0 only
        RSB risbg_7, risbg, 48, 143, 16
        RSB risbgn_0, risbgn, 8, 23, 12
        RSB risbgn_1, risbgn, 62, 129, 63
        RSB rnsbg_0, rnsbg, 0, 63, 0
        RSB rnsbg_1, rnsbg, 32, 47, 16
        RSB rnsbg_2, rnsbg, 128+8, 15, 8    // test only
        RSB rosbg_0, rosbg, 0, 63, 0
        RSB rosbg_1, rosbg, 56, 63, 56
        RSB rosbg_2, rosbg, 128+40, 7, 0    // test only, wrapping range
        RSB rxsbg_0, rxsbg, 0, 63, 0
        RSB rxsbg_1, rxsbg, 16, 31, 32
        RSB rxsbg_2, rxsbg, 128+0, 63, 1    // test only
        RSB risbhg_0, risbhg, 0, 31, 32
        RSB risbhg_1, risbhg, 8, 128+15, 0
        RSB risblg_0, risblg, 32, 63, 0
        RSB risblg_1, risblg, 40, 128+55, 8

// Compare and branch: emu_<insn>_<mask>(a, b) -> 1 when the branch is
// taken. Immediate forms compare with the immediate 10 (and 200 for the
// logical forms).
        .macro CB name, insn, m
        .globl emu_\name\()_\m
emu_\name\()_\m:
        \insn   %r2, %r3, \m, 1f
        lghi    %r2, 0
        br      %r14
1:      lghi    %r2, 1
        br      %r14
        .endm
        .macro CBI name, insn, m, imm
        .globl emu_\name\()_\m
emu_\name\()_\m:
        \insn   %r2, \imm, \m, 1f
        lghi    %r2, 0
        br      %r14
1:      lghi    %r2, 1
        br      %r14
        .endm
        .irp m, 2,4,6,8,10,12,14
        CB crj, crj, \m
        CB cgrj, cgrj, \m
        CB clrj, clrj, \m
        CB clgrj, clgrj, \m
        CBI cij, cij, \m, -10
        CBI clij, clij, \m, 200
        CBI cgij, cgij, \m, -10
        CBI clgij, clgij, \m, 200
        .endr

// Compare and trap: CRT with mask 8 (equal) and CLGIT with mask 2 (high).
        .globl emu_crt_eq, emu_clgit_high
emu_crt_eq:
        crte    %r2, %r3
        br      %r14
emu_clgit_high:
        clgith  %r2, 100
        br      %r14

        .globl emu_buffer_address
emu_buffer_address:
        larl    %r2, emu_buffer
        br      %r14

        .data
        .balign 8
emu_cc:
        .long   0

        .section .bss
        .balign 4096
emu_buffer:                                  // operands of the storage tests
        .space  65536

// Direct (not executed) forms, to tell an instruction missing from an EX
// problem: AP 0(3,r2),0(2,r3) and ED 0(13,r2),0(r3).
        .text
        .globl emu_ap_direct, emu_ed_direct
emu_ap_direct:
        ap      0(3, %r2), 0(2, %r3)
        SAVECC
        br      %r14
emu_ed_direct:
        ed      0(13, %r2), 0(%r3)
        SAVECC
        br      %r14
