// The ring-3 stubs of the paging guest (section .text.r3user: linker.ld
// places them after the runtime ring3.S's user page), data
// pages for the test mappings, and the ring-0 helpers that touch them.

        .section .text.r3user, "ax"
u_read_mem:                             // (address) -> UInt64
        mov     (%rdi), %rax
        ret
u_write_mem:                            // (address) -> 0
        movq    $0x5A, (%rdi)
        xor     %eax, %eax
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
u_smsw:
        smsw    %eax
        ret

        .section .rodata
        .balign 8
        .globl u_table
u_table:
        .quad u_read_mem, u_write_mem, u_sgdt, u_stac, u_smsw

        .section .bss
        .balign 4096
        .globl pg_pages
pg_pages:
        .space 8 * 4096

        .text
        .globl pg_pages_address, pg_call, pg_store, pg_write_cr0, pg_write_cr4, pg_stac, pg_clac
        .globl pg_invpcid, pg_write_cr3
pg_pages_address:
        lea     pg_pages(%rip), %rax
        ret
pg_call:                                // (address) -> RAX of the code there
        call    *%rdi
        ret
pg_store:                               // (address, value): one 8-byte store
        mov     %rsi, (%rdi)
        ret
pg_write_cr0:
        mov     %rdi, %cr0
        ret
pg_write_cr4:
        mov     %rdi, %cr4
        ret
pg_write_cr3:
        mov     %rdi, %cr3
        ret
pg_stac:
        stac
        ret
pg_clac:
        clac
        ret
pg_invpcid:                             // (type, descriptor address)
        invpcid (%rsi), %rdi
        ret

// pg_cr4_swap(value) -> CR4 as read after writing value; the old CR4 is
// back before anything else runs (a CR4 bit the CPU should refuse but
// accepts cannot break the code after it). A faulting write changes nothing.
        .globl pg_cr4_swap
pg_cr4_swap:
        mov     %cr4, %rdx
        mov     %rdi, %cr4
        mov     %cr4, %rax
        mov     %rdx, %cr4
        ret
