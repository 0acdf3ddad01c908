// Instruction stubs of the tsc guest (SysV ABI).
        .text
        .globl tsc_read_cr4, tsc_write_cr4, tsc_rdtsc_pair
tsc_read_cr4:                           // () -> UInt64
        mov     %cr4, %rax
        ret
tsc_write_cr4:                          // (UInt64)
        mov     %rdi, %cr4
        ret
// (out: *UInt64[2]): two back-to-back RDTSCs, nothing between them.
tsc_rdtsc_pair:
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %rax, %r8
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %r8, (%rdi)
        mov     %rax, 8(%rdi)
        ret
