// Port I/O of every width, control registers, and the x87 / SSE
// instruction stubs the pci_fpu guest checks: each stub is the bare
// instruction sequence, so an exception lands on it and nothing else.

        .text
        .code64

        .globl pf_inl, pf_inw, pf_inb, pf_outl
pf_inl:                                 // (port) -> UInt32
        mov     %edi, %edx
        inl     %dx, %eax
        ret
pf_inw:                                 // (port) -> UInt16
        mov     %edi, %edx
        xor     %eax, %eax
        inw     %dx, %ax
        ret
pf_inb:                                 // (port) -> UInt8
        mov     %edi, %edx
        xor     %eax, %eax
        inb     %dx, %al
        ret
pf_outl:                                // (port, value)
        mov     %edi, %edx
        mov     %esi, %eax
        outl    %eax, %dx
        ret

        .globl pf_write_cr0, pf_write_cr4
pf_write_cr0:
        mov     %rdi, %cr0
        ret
pf_write_cr4:
        mov     %rdi, %cr4
        ret

// ---- x87 ----
        .globl pf_fninit, pf_fnstsw, pf_fnstcw, pf_fldcw, pf_ftag, pf_fnclex
pf_fninit:
        fninit
        ret
pf_fnstsw:                              // () -> FSW
        xor     %eax, %eax
        fnstsw  %ax
        ret
pf_fnstcw:                              // () -> FCW
        sub     $8, %rsp
        fnstcw  (%rsp)
        movzwl  (%rsp), %eax
        add     $8, %rsp
        ret
pf_fldcw:                               // (FCW)
        sub     $8, %rsp
        mov     %di, (%rsp)
        fldcw   (%rsp)
        add     $8, %rsp
        ret
pf_ftag:                                // () -> the full tag word (FNSTENV)
        sub     $40, %rsp
        fnstenv (%rsp)
        movzwl  8(%rsp), %eax
        fldenv  (%rsp)                  // FNSTENV masks exceptions: restore FCW
        add     $40, %rsp
        ret
pf_fnclex:
        fnclex
        ret

// pf_x87_int(a, b, op) -> Int64: ST(0) = a op b (fild both, one arithmetic
// instruction, fistp: the result rounded by FCW.RC). op 0 add, 1 sub, 2 mul,
// 3 div, 4 sqrt of a (b unused), 5 subr (b - a), 6 divr (b / a).
        .globl pf_x87_int
pf_x87_int:
        sub     $24, %rsp
        mov     %rdi, (%rsp)
        mov     %rsi, 8(%rsp)
        fildq   (%rsp)
        fildq   8(%rsp)
        cmp     $0, %edx
        jne     1f
        faddp
        jmp     9f
1:      cmp     $1, %edx
        jne     2f
        fsubrp                          // ST(1) - ST(0) = a - b (AT&T naming)
        jmp     9f
2:      cmp     $2, %edx
        jne     3f
        fmulp
        jmp     9f
3:      cmp     $3, %edx
        jne     4f
        fdivrp                          // ST(1) / ST(0) = a / b (AT&T naming)
        jmp     9f
4:      cmp     $4, %edx
        jne     5f
        fstp    %st(0)                  // drop b
        fsqrt
        jmp     9f
5:      cmp     $5, %edx
        jne     6f
        fsubp                           // ST(0) - ST(1) = b - a
        jmp     9f
6:      fdivp                           // ST(0) / ST(1) = b / a
9:      fistpq  16(%rsp)
        mov     16(%rsp), %rax
        add     $24, %rsp
        ret

// pf_x87_double(a, b, op) -> double bits of a op b (fldl both, fstpl); op as
// in pf_x87_int (0-3).
        .globl pf_x87_double
pf_x87_double:
        sub     $24, %rsp
        mov     %rdi, (%rsp)
        mov     %rsi, 8(%rsp)
        fldl    (%rsp)
        fldl    8(%rsp)
        cmp     $0, %edx
        jne     1f
        faddp
        jmp     9f
1:      cmp     $1, %edx
        jne     2f
        fsubrp
        jmp     9f
2:      cmp     $2, %edx
        jne     3f
        fmulp
        jmp     9f
3:      fdivrp
9:      fstpl   16(%rsp)
        mov     16(%rsp), %rax
        add     $24, %rsp
        ret

// pf_x87_constant(k) -> double bits of FLD1, FLDZ, FLDPI, FLDL2E, FLDL2T,
// FLDLG2, FLDLN2 (k = 0..6), rounded to double by FSTP m64.
        .globl pf_x87_constant
pf_x87_constant:
        sub     $8, %rsp
        cmp     $0, %edi
        jne     1f
        fld1
        jmp     9f
1:      cmp     $1, %edi
        jne     2f
        fldz
        jmp     9f
2:      cmp     $2, %edi
        jne     3f
        fldpi
        jmp     9f
3:      cmp     $3, %edi
        jne     4f
        fldl2e
        jmp     9f
4:      cmp     $4, %edi
        jne     5f
        fldl2t
        jmp     9f
5:      cmp     $5, %edi
        jne     6f
        fldlg2
        jmp     9f
6:      fldln2
9:      fstpl   (%rsp)
        mov     (%rsp), %rax
        add     $8, %rsp
        ret

// pf_x87_pending_invalid(): FSQRT of -1 with FCW.IM clear, then FWAIT: the
// pending unmasked invalid-operation exception is delivered (#MF with
// CR0.NE) at the FWAIT, pf_x87_fwait_site.
        .globl pf_x87_pending_invalid, pf_x87_fwait_site
pf_x87_pending_invalid:
        fld1
        fchs
        fsqrt
pf_x87_fwait_site:
        fwait
        fstp    %st(0)
        ret

// pf_x87_one(): a single x87 instruction (FLD1 then FSTP), for #NM probes.
        .globl pf_x87_one, pf_x87_one_site, pf_fwait
pf_x87_one:
pf_x87_one_site:
        fld1
        fstp    %st(0)
        ret
pf_fwait:
        fwait
        ret

// pf_x87_depth(n) -> FSW after pushing n values (FLD1 n times), then FNINIT.
        .globl pf_x87_push_status
pf_x87_push_status:
        mov     %edi, %ecx
        test    %ecx, %ecx
        jz      2f
1:      fld1
        dec     %ecx
        jnz     1b
2:      xor     %eax, %eax
        fnstsw  %ax
        ret

// ---- SSE (TCG only here: this host's nested KVM cannot run guest SSE) ----
        .globl pf_stmxcsr, pf_ldmxcsr, pf_sse_int, pf_sse_double, pf_sse_one, pf_sse_one_site
pf_stmxcsr:
        sub     $8, %rsp
        stmxcsr (%rsp)
        mov     (%rsp), %eax
        add     $8, %rsp
        ret
pf_ldmxcsr:
        sub     $8, %rsp
        mov     %edi, (%rsp)
        ldmxcsr (%rsp)
        add     $8, %rsp
        ret
// pf_sse_int(a, b, op) -> Int64: CVTSI2SD both, one scalar double op
// (0 add, 1 sub, 2 mul, 3 div, 4 sqrt of a), CVTSD2SI (rounded by MXCSR.RC).
pf_sse_int:
        cvtsi2sd %rdi, %xmm0
        cvtsi2sd %rsi, %xmm1
        cmp     $0, %edx
        jne     1f
        addsd   %xmm1, %xmm0
        jmp     9f
1:      cmp     $1, %edx
        jne     2f
        subsd   %xmm1, %xmm0
        jmp     9f
2:      cmp     $2, %edx
        jne     3f
        mulsd   %xmm1, %xmm0
        jmp     9f
3:      cmp     $3, %edx
        jne     4f
        divsd   %xmm1, %xmm0
        jmp     9f
4:      sqrtsd  %xmm0, %xmm0
9:      cvtsd2si %xmm0, %rax
        ret
// pf_sse_double(a, b, op) -> double bits of a op b (0-3 as above).
pf_sse_double:
        movq    %rdi, %xmm0
        movq    %rsi, %xmm1
        cmp     $0, %edx
        jne     1f
        addsd   %xmm1, %xmm0
        jmp     9f
1:      cmp     $1, %edx
        jne     2f
        subsd   %xmm1, %xmm0
        jmp     9f
2:      cmp     $2, %edx
        jne     3f
        mulsd   %xmm1, %xmm0
        jmp     9f
3:      divsd   %xmm1, %xmm0
9:      movq    %xmm0, %rax
        ret
// pf_sse_one(): one SSE instruction (XORPS), for #NM / #UD probes.
pf_sse_one:
pf_sse_one_site:
        xorps   %xmm0, %xmm0
        ret

// Addresses of the faulting instructions, for the saved-RIP checks.
        .globl pf_site_fwait, pf_site_x87_one, pf_site_sse_one
pf_site_fwait:
        lea     pf_x87_fwait_site(%rip), %rax
        ret
pf_site_x87_one:
        lea     pf_x87_one_site(%rip), %rax
        ret
pf_site_sse_one:
        lea     pf_sse_one_site(%rip), %rax
        ret

// pf_sse_divide_by_zero(): DIVSD 1.0 / 0.0 with whatever MXCSR holds.
        .globl pf_sse_divide_by_zero
pf_sse_divide_by_zero:
        mov     $0x3FF0000000000000, %rax
        movq    %rax, %xmm0
        xorpd   %xmm1, %xmm1
        divsd   %xmm1, %xmm0
        ret
