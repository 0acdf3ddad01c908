// The instructions under test of the emulator program, each in a stub of
// its own so that nothing but the instruction sits between the RFLAGS the
// test chose (POPF) and the RFLAGS it reads back (PUSHF). The stubs of the
// table share one signature (SysV): stub(a, b, flagsIn, flagsOut*, extra)
// -> RAX, reached through emu_call(index, a, b, flagsIn, flagsOut*, extra);
// the order of emu_table is the order of `Stub` in Emulator.swift (four
// entries per operation: widths 8, 16, 32, 64; emu_none where a width does
// not exist).

        .text
        .code64

// rax = a, rsi = b, rcx = b (CL for counts), r8 = extra, r9 = flagsOut*;
// the caller's RFLAGS are saved on the stack and come back at the end.
.macro BEGIN name
        .pushsection .rodata.emu_table, "a"
        .quad   \name\()_\@
        .popsection
\name\()_\@:
        mov     %rcx, %r9
        mov     %rsi, %rcx
        mov     %rdi, %rax
        pushfq
        push    %rdx
        popfq
.endm
.macro END
        pushfq
        pop     (%r9)
        popfq
        ret
.endm
.macro NONE
        .pushsection .rodata.emu_table, "a"
        .quad   emu_none
        .popsection
.endm

// Two operands, register destination RAX, source RSI.
.macro BIN op
        BEGIN   emu_\op\()_8
        \op     %sil, %al
        END
        BEGIN   emu_\op\()_16
        \op     %si, %ax
        END
        BEGIN   emu_\op\()_32
        \op     %esi, %eax
        END
        BEGIN   emu_\op\()_64
        \op     %rsi, %rax
        END
.endm
// The same without an 8-bit form.
.macro BIN16 op
        NONE
        BEGIN   emu_\op\()_16
        \op     %si, %ax
        END
        BEGIN   emu_\op\()_32
        \op     %esi, %eax
        END
        BEGIN   emu_\op\()_64
        \op     %rsi, %rax
        END
.endm
// One operand, RAX.
.macro UN op
        BEGIN   emu_\op\()_8
        \op     %al
        END
        BEGIN   emu_\op\()_16
        \op     %ax
        END
        BEGIN   emu_\op\()_32
        \op     %eax
        END
        BEGIN   emu_\op\()_64
        \op     %rax
        END
.endm
// Shift or rotate RAX by CL (= b).
.macro SH op
        BEGIN   emu_\op\()_8
        \op     %cl, %al
        END
        BEGIN   emu_\op\()_16
        \op     %cl, %ax
        END
        BEGIN   emu_\op\()_32
        \op     %cl, %eax
        END
        BEGIN   emu_\op\()_64
        \op     %cl, %rax
        END
.endm
// Double shift: RAX by CL = extra, filling from RSI.
.macro DSH op
        NONE
        BEGIN   emu_\op\()_16
        mov     %r8, %rcx
        \op     %cl, %si, %ax
        END
        BEGIN   emu_\op\()_32
        mov     %r8, %rcx
        \op     %cl, %esi, %eax
        END
        BEGIN   emu_\op\()_64
        mov     %r8, %rcx
        \op     %cl, %rsi, %rax
        END
.endm
// One-operand multiply and divide. extra points at two quadwords: [0] the
// high half of the dividend in (RDX), [1] RDX out. 8-bit: AX in and out.
.macro MULDIV op
        BEGIN   emu_\op\()_8
        \op     %sil
        END
        BEGIN   emu_\op\()_16
        mov     (%r8), %rdx
        \op     %si
        mov     %rdx, 8(%r8)
        END
        BEGIN   emu_\op\()_32
        mov     (%r8), %rdx
        \op     %esi
        mov     %rdx, 8(%r8)
        END
        BEGIN   emu_\op\()_64
        mov     (%r8), %rdx
        \op     %rsi
        mov     %rdx, 8(%r8)
        END
.endm
// Bit test on memory at RDI (= a) with the bit offset in RSI (= b).
.macro BTM op
        NONE
        BEGIN   emu_\op\()m_16
        \op     %si, (%rdi)
        END
        BEGIN   emu_\op\()m_32
        \op     %esi, (%rdi)
        END
        BEGIN   emu_\op\()m_64
        \op     %rsi, (%rdi)
        END
.endm
// Bit test with an immediate offset (masked to the operand size) on
// memory at RDI, offset 37 (beyond 16 and 32: 37 mod 16 = 5, mod 32 = 5).
.macro BTI op
        NONE
        BEGIN   emu_\op\()i_16
        \op\()w $37, (%rdi)
        END
        BEGIN   emu_\op\()i_32
        \op\()l $37, (%rdi)
        END
        BEGIN   emu_\op\()i_64
        \op\()q $37, (%rdi)
        END
.endm
// LOCK'd read-modify-write on memory at RDI: XADD and XCHG with RSI
// (returns the old memory value), CMPXCHG with accumulator = extra.
.macro LOCKED op
        BEGIN   emu_\op\()_8
        mov     %rsi, %rax
        lock \op %al, (%rdi)
        END
        BEGIN   emu_\op\()_16
        mov     %rsi, %rax
        lock \op %ax, (%rdi)
        END
        BEGIN   emu_\op\()_32
        mov     %rsi, %rax
        lock \op %eax, (%rdi)
        END
        BEGIN   emu_\op\()_64
        mov     %rsi, %rax
        lock \op %rax, (%rdi)
        END
.endm
.macro CMPX
        BEGIN   emu_cmpxchg_8
        mov     %r8, %rax
        lock cmpxchg %sil, (%rdi)
        END
        BEGIN   emu_cmpxchg_16
        mov     %r8, %rax
        lock cmpxchg %si, (%rdi)
        END
        BEGIN   emu_cmpxchg_32
        mov     %r8, %rax
        lock cmpxchg %esi, (%rdi)
        END
        BEGIN   emu_cmpxchg_64
        mov     %r8, %rax
        lock cmpxchg %rsi, (%rdi)
        END
.endm
// SETcc (8), CMOVcc 16/32/64 (RAX = a, source RSI) for one condition.
.macro CC cc
        BEGIN   emu_set\cc
        set\cc  %al
        END
        BEGIN   emu_cmov\cc\()_16
        cmov\cc %si, %ax
        END
        BEGIN   emu_cmov\cc\()_32
        cmov\cc %esi, %eax
        END
        BEGIN   emu_cmov\cc\()_64
        cmov\cc %rsi, %rax
        END
        BEGIN   emu_j\cc
        mov     $0, %eax
        j\cc    1f
        jmp     2f
1:      mov     $1, %eax
2:
        END
        NONE
        NONE
        NONE
.endm

        .pushsection .rodata.emu_table, "a"
        .balign 8
        .globl  emu_table
emu_table:
        .popsection

        BIN     add             // 0
        BIN     adc
        BIN     sub
        BIN     sbb
        BIN     cmp
        BIN     and             // 5
        BIN     or
        BIN     xor
        BIN     test
        BIN     xadd
        UN      neg             // 10
        UN      not
        UN      inc
        UN      dec
        MULDIV  mul             // 14
        MULDIV  imul
        MULDIV  div
        MULDIV  idiv
        BIN16   imul            // 18: two operands
        // three operands: imm8 -3 and imm16/imm32 0x4321
        NONE
        BEGIN   emu_imul3s_16
        imul    $-3, %si, %ax
        END
        BEGIN   emu_imul3s_32
        imul    $-3, %esi, %eax
        END
        BEGIN   emu_imul3s_64
        imul    $-3, %rsi, %rax
        END
        NONE
        BEGIN   emu_imul3w_16
        imul    $0x4321, %si, %ax
        END
        BEGIN   emu_imul3w_32
        imul    $0x4321, %esi, %eax
        END
        BEGIN   emu_imul3w_64
        imul    $0x4321, %rsi, %rax
        END
        SH      shl             // 23
        SH      shr
        SH      sar             // 25
        SH      rol
        SH      ror
        SH      rcl
        SH      rcr
        DSH     shld            // 30
        DSH     shrd
        BIN16   bt
        BIN16   bts
        BIN16   btr
        BIN16   btc             // 35
        BTM     bt
        BTM     bts
        BTM     btr
        BTM     btc
        BTI     bt              // 40
        BTI     bts
        BTI     btr
        BTI     btc
        BIN16   bsf
        BIN16   bsr             // 45
        BIN16   lzcnt
        BIN16   tzcnt
        BIN16   popcnt
        // 49: BSWAP 32/64 (16-bit BSWAP is undefined in the SDM: not tested)
        NONE
        NONE
        BEGIN   emu_bswap_32
        bswap   %eax
        END
        BEGIN   emu_bswap_64
        bswap   %rax
        END
        // 50: MOVBE load from RDI
        NONE
        BEGIN   emu_movbe_16
        movbe   (%rdi), %ax
        END
        BEGIN   emu_movbe_32
        movbe   (%rdi), %eax
        END
        BEGIN   emu_movbe_64
        movbe   (%rdi), %rax
        END
        LOCKED  xadd            // 51
        // 52: XCHG with memory (LOCK implied)
        BEGIN   emu_xchgm_8
        mov     %rsi, %rax
        xchg    %al, (%rdi)
        END
        BEGIN   emu_xchgm_16
        mov     %rsi, %rax
        xchg    %ax, (%rdi)
        END
        BEGIN   emu_xchgm_32
        mov     %rsi, %rax
        xchg    %eax, (%rdi)
        END
        BEGIN   emu_xchgm_64
        mov     %rsi, %rax
        xchg    %rax, (%rdi)
        END
        CMPX                    // 53
        // 54: LAHF (AH out), SAHF (AH = a), 8-bit slots only
        BEGIN   emu_lahf
        mov     $0, %eax
        lahf
        shr     $8, %eax
        END
        BEGIN   emu_sahf
        mov     %al, %ah                // MOV leaves the flags alone
        sahf
        END
        NONE
        NONE
        CC      o               // 56: two entries (8 slots) per condition
        CC      no
        CC      b
        CC      ae
        CC      e               // 60
        CC      ne
        CC      be
        CC      a
        CC      s
        CC      ns
        CC      p
        CC      np
        CC      l
        CC      ge
        CC      le
        CC      g

emu_none:
        ud2
        ret

        .globl emu_call
emu_call:                               // (index, a, b, flagsIn, flagsOut*, extra)
        lea     emu_table(%rip), %rax
        mov     (%rax,%rdi,8), %rax
        mov     %rsi, %rdi
        mov     %rdx, %rsi
        mov     %rcx, %rdx
        mov     %r8, %rcx
        mov     %r9, %r8
        jmp     *%rax

// CMPXCHG8B / CMPXCHG16B (LOCK) at RDI: (p, expected*, replacement*,
// flagsIn, flagsOut*) -> ZF in the flags, EDX:EAX / RDX:RAX back in expected.
        .globl emu_cmpxchg8b, emu_cmpxchg16b
emu_cmpxchg8b:
        push    %rbx
        mov     %rdx, %r10
        mov     %rsi, %r11
        pushfq
        mov     (%r11), %eax
        mov     4(%r11), %edx
        mov     (%r10), %ebx
        push    %rcx
        mov     4(%r10), %ecx
        popfq
        lock cmpxchg8b (%rdi)
        pushfq
        pop     (%r8)
        mov     %eax, (%r11)
        mov     %edx, 4(%r11)
        popfq
        pop     %rbx
        ret
emu_cmpxchg16b:
        push    %rbx
        mov     %rdx, %r10
        mov     %rsi, %r11
        pushfq
        mov     (%r11), %rax
        mov     8(%r11), %rdx
        mov     (%r10), %rbx
        push    %rcx
        mov     8(%r10), %rcx
        popfq
        lock cmpxchg16b (%rdi)
        pushfq
        pop     (%r8)
        mov     %rax, (%r11)
        mov     %rdx, 8(%r11)
        popfq
        pop     %rbx
        ret

// String instructions on a register block at RDI: [0] RDI, [8] RSI,
// [16] RCX, [24] RAX, [32] RFLAGS in and out (DF included).
.macro STR name, insn:vararg
        .globl  emu_str_\name
emu_str_\name:
        mov     %rdi, %r8
        pushfq
        mov     0(%r8), %rdi
        mov     8(%r8), %rsi
        mov     16(%r8), %rcx
        mov     24(%r8), %rax
        push    32(%r8)
        popfq
        \insn
        pushfq
        pop     32(%r8)
        mov     %rdi, 0(%r8)
        mov     %rsi, 8(%r8)
        mov     %rcx, 16(%r8)
        mov     %rax, 24(%r8)
        popfq
        ret
.endm
        STR     movsb, rep movsb
        STR     movsw, rep movsw
        STR     movsl, rep movsl
        STR     movsq, rep movsq
        STR     stosb, rep stosb
        STR     stosw, rep stosw
        STR     stosl, rep stosl
        STR     stosq, rep stosq
        STR     lodsb, lodsb
        STR     lodsq, lodsq
        STR     repe_cmpsb, repe cmpsb
        STR     repne_cmpsb, repne cmpsb
        STR     repe_scasb, repe scasb
        STR     repne_scasb, repne scasb
        STR     repe_cmpsl, repe cmpsl
        STR     repne_scasw, repne scasw

// ENTER size 24 with nesting level L, then LEAVE, on the real stack with
// RBP = a made-up outer frame (RDI). out (RSI): [0] RSP and [1] RBP after
// ENTER, [2 + i] the quadword at RBP - 8 i (i = 0...6), [9] RSP and [10]
// RBP after LEAVE, [11] RSP before ENTER.
.macro ENTERL level
        .globl  emu_enter_\level
emu_enter_\level:
        push    %rbp
        push    %rbx
        mov     %rsp, %rbx
        sub     $64, %rsp               // room between the frame and ours
        mov     %rsp, 88(%rsi)
        mov     %rdi, %rbp
        enter   $24, $\level
        mov     %rsp, 0(%rsi)
        mov     %rbp, 8(%rsi)
        .irp    i, 0, 1, 2, 3, 4, 5, 6
        mov     -8*\i(%rbp), %rax
        mov     %rax, 16+8*\i(%rsi)
        .endr
        leave
        mov     %rsp, 72(%rsi)
        mov     %rbp, 80(%rsi)
        mov     %rbx, %rsp
        pop     %rbx
        pop     %rbp
        ret
.endm
        ENTERL  0
        ENTERL  1
        ENTERL  2
        ENTERL  3
        ENTERL  6
        ENTERL  33

// Copies the code template [emu_code_start, emu_code_end) out for the page
// boundary tests: `movabs $0x1122334455667788, %rax; ret` (10 + 1 bytes).
        .globl  emu_code_start, emu_code_end, emu_code_size
emu_code_start:
        movabs  $0x1122334455667788, %rax
        ret
emu_code_end:
emu_code_size:
        mov     $(emu_code_end - emu_code_start), %eax
        ret
        .globl  emu_code_address
emu_code_address:
        lea     emu_code_start(%rip), %rax
        ret

// Self-modifying code, in a writable and executable section of its own:
// emu_smc_store(v) stores v into the immediate of the MOV that follows the
// store in the same instruction stream, then executes it (returns it).
// emu_smc_patch(v) rewrites the immediate of emu_smc_callee, a separate
// function, which the caller runs afterwards.
        .section .text.emu_smc, "awx"
        .globl  emu_smc_store, emu_smc_callee, emu_smc_patch
emu_smc_store:
        movl    %edi, 3f+1(%rip)
3:      mov     $0, %eax                // B8 imm32
        ret
emu_smc_callee:
4:      mov     $0x5A5A5A5A, %eax
        ret
emu_smc_patch:
        movl    %edi, 4b+1(%rip)
        ret

// A load of 8 bytes at RDI (may straddle pages).
        .text
        .globl  emu_load64
emu_load64:
        mov     (%rdi), %rax
        ret

// Calls the code at RDI (the page boundary copies).
        .globl  emu_jump
emu_jump:
        jmp     *%rdi

// RFLAGS of the caller.
        .globl  emu_read_flags
emu_read_flags:
        pushfq
        pop     %rax
        ret
