// Hypercall instructions for the paravirt guest: each takes the hypercall
// number in RAX and arguments in RBX, RCX, RDX, RSI (KVM's ABI) and
// returns RAX.
        .text
        .code64
        .globl pv_vmcall, pv_vmmcall
pv_vmcall:                              // (nr, a0, a1, a2) -> RAX
        push    %rbx
        mov     %rdi, %rax
        mov     %rsi, %rbx
        mov     %rcx, %r8
        mov     %rdx, %rcx
        mov     %r8, %rdx
        xor     %esi, %esi
        vmcall
        pop     %rbx
        ret
pv_vmmcall:
        push    %rbx
        mov     %rdi, %rax
        mov     %rsi, %rbx
        mov     %rcx, %r8
        mov     %rdx, %rcx
        mov     %r8, %rdx
        xor     %esi, %esi
        vmmcall
        pop     %rbx
        ret
