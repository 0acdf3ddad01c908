// The ring-3 stubs of the usermode guest (section .text.r3user: linker.ld
// places them after the runtime ring3.S's user page) and its
// SYSCALL / SYSENTER entry points. Each stub starts with the instruction
// under test, so a fault's saved RIP is the stub's user address.

        .section .text.r3user, "ax"
u_read_cs:
        xor     %eax, %eax
        mov     %cs, %ax
        ret
u_read_ss:
        xor     %eax, %eax
        mov     %ss, %ax
        ret
u_pushf:
        pushfq
        pop     %rax
        ret
u_hlt:
        hlt
        ret
u_cli:
        cli
        ret
u_sti:
        sti
        ret
u_read_cr0:
        mov     %cr0, %rax
        ret
u_read_cr3:
        mov     %cr3, %rax
        ret
u_rdmsr:
        rdmsr
        ret
u_wrmsr:
        wrmsr
        ret
u_lgdt:
        lgdt    (%rsp)
        ret
u_lidt:
        lidt    (%rsp)
        ret
u_ltr:
        ltr     %di
        ret
u_lldt:
        lldt    %di
        ret
u_invlpg:
        invlpg  (%rsp)
        ret
u_wbinvd:
        wbinvd
        ret
u_invd:
        invd
        ret
u_clts:
        clts
        ret
u_read_dr7:
        mov     %dr7, %rax
        ret
u_rdpmc:
        rdpmc
        ret
u_swapgs:
        swapgs
        ret
u_sysret:
        sysretq
        ret
u_inb:                                  // (port) -> byte
        mov     %edi, %edx
        xor     %eax, %eax
        inb     %dx, %al
        ret
u_outb_inb:                             // (port << 8 | value) -> byte read back
        mov     %edi, %edx
        shr     $8, %edx
        mov     %edi, %eax
        outb    %al, %dx
        xor     %eax, %eax
        inb     %dx, %al
        ret
u_int0d:
        int     $0x0d
        ret
u_popf_iopl_if:                         // sets IOPL 3 and IF through POPFQ, returns RFLAGS
        pushfq
        pop     %rax
        or      $0x3200, %rax
        push    %rax
        popfq
        pushfq
        pop     %rax
        ret
u_syscall:                              // -> (SS << 16 | CS) after SYSRET
        syscall
        xor     %eax, %eax
        mov     %ss, %ax
        shl     $16, %eax
        xor     %ecx, %ecx
        mov     %cs, %cx
        or      %ecx, %eax
        ret
u_sysenter:                             // -> (SS << 16 | CS) after SYSEXIT
        lea     1f(%rip), %rdx
        mov     %rsp, %rcx
        sysenter
1:      xor     %eax, %eax
        mov     %ss, %ax
        shl     $16, %eax
        xor     %ecx, %ecx
        mov     %cs, %cx
        or      %ecx, %eax
        ret
u_rdtsc:
        rdtsc
        ret
u_inw:                                  // (port) -> word
        mov     %edi, %edx
        xor     %eax, %eax
        inw     %dx, %ax
        ret
u_inl:
        mov     %edi, %edx
        inl     %dx, %eax
        ret
u_read_mem:                             // (address) -> UInt64
        mov     (%rdi), %rax
        ret
u_write_mem:                            // (address)
        movq    $0x5A, (%rdi)
        ret
u_sgdt:
        sub     $16, %rsp
        sgdt    (%rsp)
        mov     2(%rsp), %rax
        add     $16, %rsp
        ret
u_stac:
        stac
        ret
u_call:                                 // (address): calls it
        call    *%rdi
        ret

        .section .rodata
        .balign 8
        .globl u_table
u_table:
        .quad u_read_cs, u_read_ss, u_pushf, u_hlt, u_cli, u_sti, u_read_cr0, u_read_cr3   // 0-7
        .quad u_rdmsr, u_wrmsr, u_lgdt, u_lidt, u_ltr, u_lldt, u_invlpg, u_wbinvd         // 8-15
        .quad u_invd, u_clts, u_read_dr7, u_rdpmc, u_swapgs, u_sysret, u_inb, u_outb_inb  // 16-23
        .quad u_int0d, u_popf_iopl_if, u_syscall, u_sysenter, u_rdtsc, u_inw, u_inl, u_read_mem // 24-31
        .quad u_write_mem, u_sgdt, u_stac, u_call                                         // 32-35

// ---- Ring-0 entry points of SYSCALL and SYSENTER. ----
        .section .data
        .balign 8
        .globl sys_rcx, sys_r11, sys_rflags, sys_cs, sys_ss, sys_mode, sys_entered
sys_rcx:     .quad 0
sys_r11:     .quad 0
sys_rflags:  .quad 0
sys_cs:      .quad 0
sys_ss:      .quad 0
sys_mode:    .quad 0                    // 1: return to a non-canonical RIP
sys_entered: .quad 0
        .section .bss
        .balign 16
sysenter_stack:
        .space 4096
sysenter_stack_top:

        .text
        .globl sys_syscall_entry, sys_sysenter_entry, sys_sysenter_stack_top
sys_syscall_entry:
        mov     %rcx, sys_rcx(%rip)
        mov     %r11, sys_r11(%rip)
        pushfq
        popq    sys_rflags(%rip)
        movq    $0, sys_cs(%rip)
        mov     %cs, sys_cs(%rip)
        movq    $0, sys_ss(%rip)
        mov     %ss, sys_ss(%rip)
        incq    sys_entered(%rip)
        cmpq    $1, sys_mode(%rip)
        jne     1f
        movabs  $0x0000800000001000, %rcx
1:      sysretq

sys_sysenter_entry:
        movq    $0, sys_cs(%rip)
        mov     %cs, sys_cs(%rip)
        movq    $0, sys_ss(%rip)
        mov     %ss, sys_ss(%rip)
        pushfq
        popq    sys_rflags(%rip)
        incq    sys_entered(%rip)
        sysexitq
sys_sysenter_stack_top:
        lea     sysenter_stack_top(%rip), %rax
        ret
        .globl sys_syscall_entry_address, sys_sysenter_entry_address
sys_syscall_entry_address:
        lea     sys_syscall_entry(%rip), %rax
        ret
sys_sysenter_entry_address:
        lea     sys_sysenter_entry(%rip), %rax
        ret
        .globl sys_field, sys_set_mode, r3_io_bitmap_address
sys_field:                              // rcx, r11, rflags, cs, ss, mode, entered
        lea     sys_rcx(%rip), %rax
        mov     (%rax,%rdi,8), %rax
        ret
sys_set_mode:
        mov     %rdi, sys_mode(%rip)
        ret
r3_io_bitmap_address:
        lea     r3_io_bitmap(%rip), %rax
        ret
