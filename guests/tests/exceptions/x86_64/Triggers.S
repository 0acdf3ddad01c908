// The exceptions program's triggers: each raises one exception at a
// labelled instruction, so the test can compare the saved RIP with the
// instruction (fault) or the one after it (trap). exc_label(i) returns the
// i-th address of exc_labels (the order of `Label` in Exceptions.swift).
// Also: descriptor-table and control-register access, and a probe handler
// that records the raw interrupt frame (for IST and #DF checks) and then
// resumes the running catchException like the runtime's handler does.

        .text
        .code64

.macro LABEL name
        .pushsection .rodata.exc_labels, "a"
        .quad   \name
        .popsection
.endm

        .pushsection .rodata.exc_labels, "a"
        .balign 8
exc_labels:
        .popsection

        .globl  exc_divide, exc_icebp, exc_int3, exc_int_3, exc_into, exc_ud2
        .globl  exc_lock_nop, exc_fwait, exc_fnop, exc_load, exc_store
        .globl  exc_load_ds, exc_load_ss, exc_rbp_load, exc_int_40, exc_int_41
        .globl  exc_x87_divide, exc_sse_divide, exc_lock_register
exc_divide:
        xor     %ecx, %ecx
        mov     $1, %eax
        xor     %edx, %edx
1:      div     %ecx
2:      ret
        LABEL   1b                      // 0: DIV
        LABEL   2b                      // 1: after it
exc_icebp:
1:      .byte   0xF1                    // INT1 / ICEBP
2:      ret
        LABEL   1b                      // 2
        LABEL   2b                      // 3
exc_int3:
1:      int3
2:      ret
        LABEL   1b                      // 4
        LABEL   2b                      // 5
exc_int_3:
1:      int     $3                      // CD 03
2:      ret
        LABEL   1b                      // 6
        LABEL   2b                      // 7
exc_into:
1:      .byte   0xCE                    // INTO: invalid in 64-bit mode
        ret
        LABEL   1b                      // 8
exc_ud2:
1:      ud2
        ret
        LABEL   1b                      // 9
exc_lock_nop:
1:      .byte   0xF0, 0x90              // LOCK NOP
        ret
        LABEL   1b                      // 10
exc_fwait:
1:      fwait
        ret
        LABEL   1b                      // 11
exc_fnop:
1:      fnop
        ret
        LABEL   1b                      // 12
exc_load:                               // (address) -> [address]
1:      mov     (%rdi), %rax
        ret
        LABEL   1b                      // 13
exc_store:                              // (address)
1:      movq    $1, (%rdi)
        ret
        LABEL   1b                      // 14
exc_load_ds:                            // (selector): DS = selector, then back to 0x10
1:      mov     %di, %ds
        mov     $0x10, %eax
        mov     %ax, %ds
        ret
        LABEL   1b                      // 15
exc_load_ss:                            // (selector)
1:      mov     %di, %ss
        mov     $0x10, %eax
        mov     %ax, %ss
        ret
        LABEL   1b                      // 16
exc_rbp_load:                           // (address): a load through RBP (stack segment)
        push    %rbp
        mov     %rdi, %rbp
1:      mov     0(%rbp), %rax
        pop     %rbp
        ret
        LABEL   1b                      // 17
exc_int_40:
1:      int     $0x40
        ret
        LABEL   1b                      // 18
exc_int_41:
1:      int     $0x41
        ret
        LABEL   1b                      // 19
exc_x87_divide:                         // 1 / 0 with ZE unmasked, then FWAIT
        sub     $16, %rsp
        fninit
        fnstcw  (%rsp)
        andw    $~0x04, (%rsp)          // unmask zero-divide (ZM, bit 2)
        fldcw   (%rsp)
        fld1
        fldz
        fdivrp                          // st(0) = 1 / 0: pending #Z
1:      fwait
        add     $16, %rsp
        ret
        LABEL   1b                      // 20
exc_sse_divide:                         // divss 1 / 0 with ZE unmasked (MXCSR.ZM, bit 9)
        sub     $16, %rsp
        movl    $0x1D80, (%rsp)
        ldmxcsr (%rsp)
        movl    $0x3F800000, (%rsp)     // 1.0f
        movss   (%rsp), %xmm0
        xorps   %xmm1, %xmm1
1:      divss   %xmm1, %xmm0
        add     $16, %rsp
        ret
        LABEL   1b                      // 21
exc_lock_register:
1:      .byte   0xF0, 0x01, 0xD8        // LOCK ADD %ebx, %eax (register destination)
        ret
        LABEL   1b                      // 22

        .globl  exc_label
exc_label:
        lea     exc_labels(%rip), %rax
        mov     (%rax,%rdi,8), %rax
        ret

        .globl  exc_x87_reset, exc_mxcsr_reset
exc_x87_reset:
        fnclex
        fninit
        ret
exc_mxcsr_reset:
        sub     $16, %rsp
        movl    $0x1F80, (%rsp)
        ldmxcsr (%rsp)
        add     $16, %rsp
        ret

        .globl  exc_sgdt, exc_lgdt, exc_sidt, exc_lidt, exc_str, exc_read_ss
        .globl  exc_write_cr0
exc_sgdt:
        sgdt    (%rdi)
        ret
exc_lgdt:
        lgdt    (%rdi)
        ret
exc_sidt:
        sidt    (%rdi)
        ret
exc_lidt:
        lidt    (%rdi)
        ret
exc_str:
        xor     %eax, %eax
        str     %ax
        ret
exc_read_ss:
        xor     %eax, %eax
        mov     %ss, %ax
        ret
exc_write_cr0:
        mov     %rdi, %cr0
        ret

// The probe: [0] vector, [1] error code, [2] RIP, [3] CS, [4] RFLAGS,
// [5] RSP, [6] SS of the frame, [7] the address of the error code slot
// (the handler's RSP after the CPU's pushes; for vectors without an
// error code the stub's 0 takes that slot), [8] hits.
        .globl  exc_probe_record, exc_probe_0, exc_probe_8
        .bss
        .balign 8
exc_probe_record:
        .space  9 * 8
        .text
exc_probe_0:
        pushq   $0
        pushq   $0
        jmp     exc_probe_common
exc_probe_8:
        pushq   $8
        jmp     exc_probe_common
        .globl  exc_probe_6, exc_probe_13, exc_probe_14, exc_probe_17
exc_probe_6:
        pushq   $0
        pushq   $6
        jmp     exc_probe_common
exc_probe_13:
        pushq   $13
        jmp     exc_probe_common
exc_probe_14:
        pushq   $14
        jmp     exc_probe_common
exc_probe_17:
        pushq   $17
        jmp     exc_probe_common
exc_probe_common:
        push    %rax
        push    %rdx
        lea     exc_probe_record(%rip), %rdx
        .irp    i, 0, 1, 2, 3, 4, 5, 6
        mov     16+8*\i(%rsp), %rax
        mov     %rax, 8*\i(%rdx)
        .endr
        lea     24(%rsp), %rax
        mov     %rax, 56(%rdx)
        incq    64(%rdx)
        // Resume the armed catchException (as x86_exception_handler does).
        lea     x86_try_resume(%rip), %rax
        mov     %rax, 32(%rsp)
        movq    $0x08, 40(%rsp)
        mov     %gs:24, %rax
        mov     %rax, 56(%rsp)
        movq    $0x10, 64(%rsp)
        pop     %rdx
        pop     %rax
        mov     $0x1FF, %eax
        add     $16, %rsp
        iretq

        .globl  exc_probe_address, exc_probe_0_address, exc_probe_8_address, exc_jump
exc_probe_address:
        lea     exc_probe_record(%rip), %rax
        ret
exc_probe_0_address:
        lea     exc_probe_0(%rip), %rax
        ret
exc_probe_8_address:
        lea     exc_probe_8(%rip), %rax
        ret
exc_jump:                               // continues at RDI
        jmp     *%rdi

// Ring 3: IRETQ to (rip, rsp, rflags) with the user selectors 0x163 (code)
// and 0x15B (data) of the test GDT. Comes back only through the probe.
        .globl  exc_enter_user, exc_probe_gate_addresses, exc_user_code, exc_user_code_size
exc_enter_user:
        pushq   $0x15B
        push    %rsi
        push    %rdx
        pushq   $0x163
        push    %rdi
        iretq
// (index) -> the probe stub for vector 6, 13, 14, 17 (index 0-3).
exc_probe_gate_addresses:
        lea     3f(%rip), %rax
        mov     (%rax,%rdi,8), %rax
        ret
        .section .rodata
        .balign 8
3:      .quad   exc_probe_6, exc_probe_13, exc_probe_14, exc_probe_17
        .text
// The user code template: an unaligned 4-byte load from the stack, then
// UD2 (the way back when the load does not fault).
exc_user_code:
        lea     exc_user_template(%rip), %rax
        ret
exc_user_code_size:
        mov     $(exc_user_template_end - exc_user_template), %eax
        ret
exc_user_template:
        movl    1(%rsp), %eax
        ud2
exc_user_template_end:
