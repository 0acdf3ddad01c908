// The apic guest's NMI entry: the runtime treats vector 2 as an exception;
// this program points IDT entry 2 (shared by every CPU, its IST kept) at
// its own stub, which counts the NMI in Swift and returns with IRETQ.
        .text
        .globl apic_install_nmi
apic_install_nmi:                       // ()
        sub     $16, %rsp
        sidt    (%rsp)
        mov     2(%rsp), %rdx           // IDT base
        add     $16, %rsp
        lea     apic_nmi_entry(%rip), %rax
        mov     %ax, 32(%rdx)           // entry 2: offset 15:0
        shr     $16, %rax
        mov     %ax, 38(%rdx)           // offset 31:16
        shr     $16, %rax
        mov     %eax, 40(%rdx)          // offset 63:32
        ret

apic_nmi_entry:
        push    %rax
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        cld
        call    apic_nmi_handler
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rax
        iretq
