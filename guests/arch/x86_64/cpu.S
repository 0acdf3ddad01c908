// Instructions Swift cannot express: port I/O, control registers, halting,
// the exception "try" hook, and the C memory primitives (written here so the
// compiler cannot turn their loops back into calls to themselves).

        .text
        .code64

        .globl x86_outb, x86_outw, x86_outl, x86_inb
x86_outb:                               // (port: UInt16, value: UInt8)
        mov     %edi, %edx
        mov     %esi, %eax
        outb    %al, %dx
        ret
x86_outw:
        mov     %edi, %edx
        mov     %esi, %eax
        outw    %ax, %dx
        ret
x86_outl:
        mov     %edi, %edx
        mov     %esi, %eax
        outl    %eax, %dx
        ret
x86_inb:                                // (port: UInt16) -> UInt8
        mov     %edi, %edx
        xor     %eax, %eax
        inb     %dx, %al
        ret

        .globl x86_read_cr0, x86_read_cr2, x86_read_cr3, x86_read_cr4
x86_read_cr0:
        mov     %cr0, %rax
        ret
x86_read_cr2:
        mov     %cr2, %rax
        ret
x86_read_cr3:
        mov     %cr3, %rax
        ret
x86_read_cr4:
        mov     %cr4, %rax
        ret
        .globl x86_write_cr3
x86_write_cr3:
        mov     %rdi, %cr3
        ret
        .globl x86_invlpg
x86_invlpg:
        invlpg  (%rdi)
        ret

        .globl x86_rdtsc
x86_rdtsc:
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        ret

        .globl x86_rdmsr, x86_wrmsr
x86_rdmsr:                              // (msr: UInt32) -> UInt64
        mov     %edi, %ecx
        rdmsr
        shl     $32, %rdx
        or      %rdx, %rax
        ret
x86_wrmsr:                              // (msr: UInt32, value: UInt64)
        mov     %edi, %ecx
        mov     %rsi, %rax
        mov     %rsi, %rdx
        shr     $32, %rdx
        wrmsr
        ret

        .globl x86_cpuid
x86_cpuid:                              // (leaf, subleaf, out: *UInt32[4])
        push    %rbx
        mov     %edi, %eax
        mov     %esi, %ecx
        mov     %rdx, %r8
        cpuid
        mov     %eax, 0(%r8)
        mov     %ebx, 4(%r8)
        mov     %ecx, 8(%r8)
        mov     %edx, 12(%r8)
        pop     %rbx
        ret

        .globl x86_halt_forever, x86_pause, x86_ud2, x86_int3, x86_divide_error, x86_load
x86_halt_forever:
        cli
1:      hlt
        jmp     1b
x86_pause:
        pause
        ret
x86_ud2:
        ud2
        ret
x86_int3:
        int3
        ret
x86_divide_error:
        xor     %ecx, %ecx
        mov     $1, %eax
        xor     %edx, %edx
        div     %ecx
        ret
x86_load:                               // (address) -> UInt64, a plain load
        mov     (%rdi), %rax
        ret

        .globl x86_read_rsp
x86_read_rsp:
        lea     8(%rsp), %rax
        ret

// x86_try(body, context) -> UInt64: calls body(context). Returns 0 when it
// returns normally; when an exception hits while the try is armed, the
// handler resumes at x86_try_resume with rax = the value it chose. The armed
// stack pointer lives in this CPU's per-CPU block (%gs:24), so every CPU can
// have its own try.
        .globl x86_try, x86_try_resume
x86_try:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        sub     $8, %rsp                    // keep the call 16-byte aligned
        mov     %gs:24, %rax
        mov     %rax, (%rsp)                // nesting: remember the outer try
        mov     %rsp, %gs:24
        mov     %rdi, %rax
        mov     %rsi, %rdi
        call    *%rax
        xor     %eax, %eax
x86_try_resume:
        mov     (%rsp), %rdx
        mov     %rdx, %gs:24
        add     $8, %rsp
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        ret

        .globl memset, memcpy, memmove, memcmp, bcmp
memset:                                 // (dst, byte, count) -> dst
        mov     %rdi, %r9
        mov     %esi, %eax
        mov     %rdx, %rcx
        rep stosb
        mov     %r9, %rax
        ret
memcpy:                                 // (dst, src, count) -> dst
        mov     %rdi, %rax
        mov     %rdx, %rcx
        rep movsb
        ret
memmove:
        mov     %rdi, %rax
        mov     %rdx, %rcx
        cmp     %rsi, %rdi
        jbe     2f                          // dst <= src: copy forwards
        lea     -1(%rsi,%rcx), %rsi
        lea     -1(%rdi,%rcx), %rdi
        std
        rep movsb
        cld
        ret
2:      rep movsb
        ret
memcmp:                                 // (a, b, count) -> Int32
bcmp:
        xor     %eax, %eax
        test    %rdx, %rdx
        jz      4f
3:      movzbl  (%rdi), %eax
        movzbl  (%rsi), %ecx
        sub     %ecx, %eax
        jnz     4f
        inc     %rdi
        inc     %rsi
        dec     %rdx
        jnz     3b
4:      ret


        .text
        .globl x86_image_end, x86_try_resume_address, x86_try_armed_rsp
x86_image_end:
        lea     __image_end(%rip), %rax
        ret
x86_try_resume_address:
        lea     x86_try_resume(%rip), %rax
        ret
x86_try_armed_rsp:
        mov     %gs:24, %rax
        ret
        .globl x86_boot_storage_address
x86_boot_storage_address:
        lea     x86_boot_storage(%rip), %rax
        ret

        .globl malloc, free, posix_memalign
malloc:
        jmp     guest_malloc
free:
        jmp     guest_free
posix_memalign:
        jmp     guest_posix_memalign

        .globl x86_percpu, x86_sti, x86_cli, x86_sti_hlt, x86_gdt_address
        .globl x86_ap_trampoline_start, x86_ap_trampoline_size
x86_percpu:                             // this CPU's per-CPU block
        mov     %gs:0, %rax
        ret
x86_sti:
        sti
        ret
x86_cli:
        cli
        ret
x86_sti_hlt:                            // enable interrupts and wait for one
        sti
        hlt
        cli
        ret
x86_gdt_address:
        lea     gdt64(%rip), %rax
        ret
x86_ap_trampoline_start:
        lea     ap_trampoline_start(%rip), %rax
        ret
x86_ap_trampoline_size:
        mov     ap_trampoline_size(%rip), %rax
        ret

        .globl x86_set_ap_boot
x86_set_ap_boot:                        // (gs, stack, tss selector, index)
        mov     %rdi, ap_boot_gs(%rip)
        mov     %rsi, ap_boot_stack(%rip)
        mov     %rdx, ap_boot_tss(%rip)
        mov     %rcx, ap_boot_index(%rip)
        ret
        .globl x86_image_start
x86_image_start:
        lea     __image_start(%rip), %rax
        ret

// MMIO with exactly one 32-bit access each (the compiler would narrow or
// merge plain loads and stores; the local APIC accepts only aligned dwords).
        .globl x86_mmio_read32, x86_mmio_write32
x86_mmio_read32:
        movl    (%rdi), %eax
        ret
x86_mmio_write32:
        movl    %esi, (%rdi)
        ret

// Instructions the msr and cpuid guests check against CPUID: each is the
// bare instruction, so a #UD lands on it and nothing else.
        .text
        .globl x86_rdtscp, x86_rdpid, x86_cmpxchg16b, x86_popcnt, x86_movbe_load, x86_rdrand
x86_rdtscp:                             // (aux: *UInt32) -> UInt64 TSC
        mov     %rdi, %r8
        rdtscp
        mov     %ecx, (%r8)
        shl     $32, %rdx
        or      %rdx, %rax
        ret
x86_rdpid:                              // () -> UInt64 (IA32_TSC_AUX)
        rdpid   %rax
        ret
x86_cmpxchg16b:                         // (p, cmpLo, cmpHi, newLo, newHi) -> 1 if swapped
        push    %rbx
        mov     %rsi, %rax
        mov     %rcx, %rbx
        mov     %r8, %rcx
        // rdx already holds cmpHi
        lock cmpxchg16b (%rdi)
        sete    %al
        movzbl  %al, %eax
        pop     %rbx
        ret
x86_popcnt:                             // (UInt64) -> UInt64
        popcnt  %rdi, %rax
        ret
x86_movbe_load:                         // (p: *UInt64) -> UInt64, byte-swapped
        movbe   (%rdi), %rax
        ret
x86_rdrand:                             // (out: *UInt64) -> UInt64 CF (1 = valid)
        xor     %eax, %eax
        rdrand  %rcx
        setc    %al
        mov     %rcx, (%rdi)
        ret

// x86_wrmsr_swap(msr, value) -> UInt64: writes value, reads the MSR back and
// writes the old value again before returning what it read, all without a
// call or a %gs access in between, so even GS_BASE or IA32_APIC_BASE can be
// probed: when the WRMSR faults nothing changed, when it is accepted the
// old value is back before any code depends on it.
        .globl x86_wrmsr_swap
x86_wrmsr_swap:
        mov     %edi, %ecx
        rdmsr
        mov     %eax, %r8d
        mov     %edx, %r9d
        mov     %rsi, %rax
        mov     %rsi, %rdx
        shr     $32, %rdx
        wrmsr
        rdmsr
        shl     $32, %rdx
        or      %rax, %rdx
        mov     %rdx, %r10
        mov     %r8d, %eax
        mov     %r9d, %edx
        wrmsr
        mov     %r10, %rax
        ret
