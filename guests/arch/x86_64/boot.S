// x86_64 bring-up for QEMU `-kernel`: a Multiboot (v1) entry in 32-bit
// protected mode that builds identity page tables (2 MiB pages, 64 GiB),
// enables long mode, installs a GDT with a 64-bit TSS and an IDT whose
// exception gates all run on IST stacks (Swift code uses the red zone), and
// calls the Swift entry `x86_boot_main(magic, info)`.

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003            /* page-align modules, want memory info */
#define IDENTITY_GIB 64
#define PD_PAGES IDENTITY_GIB


// From 32-bit protected mode with paging off into long mode, the same on
// the boot CPU and on every AP: CR4 PAE | OSFXSR | OSXMMEXCPT, CR3 the
// identity map, EFER.LME, then CR0 PG | PE | MP without EM and TS, and a far
// jump through the 64-bit code selector to `target`.
.macro ENTER_LONG_MODE target
        mov     %cr4, %eax
        or      $((1 << 5) | (1 << 9) | (1 << 10)), %eax
        mov     %eax, %cr4
        mov     $page_map_l4, %eax
        mov     %eax, %cr3
        mov     $0xC0000080, %ecx
        rdmsr
        or      $(1 << 8), %eax
        wrmsr
        mov     %cr0, %eax
        and     $~((1 << 2) | (1 << 3)), %eax
        or      $((1 << 31) | (1 << 0) | (1 << 1)), %eax
        mov     %eax, %cr0
        ljmp    $0x08, $\target
.endm

// First thing in long mode: flat data segments, FS and GS null (their
// bases come from MSRs).
.macro LONG_MODE_DATA_SEGMENTS
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        xor     %ax, %ax
        mov     %ax, %fs
        mov     %ax, %gs
.endm

        .section .multiboot, "a"
        .balign 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .text.boot32, "ax"
        .code32
        .globl _start32
_start32:
        cli
        cld
        mov     %eax, boot_magic
        mov     %ebx, boot_info
        mov     $boot_stack_top, %esp

        // Own GDT, segments, LDTR and TR before long mode: VMX (KVM without
        // unrestricted guest, e.g. nested) cannot run a long-mode guest whose
        // TR still holds the loader's 16-bit state and would emulate instead.
        lgdt    gdt64_pointer
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     %ax, %fs
        mov     %ax, %gs
        ljmp    $0x28, $0f
0:      xor     %ax, %ax
        lldt    %ax
        mov     $tss64, %eax
        mov     $gdt64 + 0x18, %edi
        movw    $103, (%edi)                 // limit
        mov     %ax, 2(%edi)                 // base 15:0
        shr     $16, %eax
        mov     %al, 4(%edi)                 // base 23:16
        movb    $0x89, 5(%edi)               // present, TSS available
        movb    $0, 6(%edi)
        mov     %ah, 7(%edi)                 // base 31:24
        movl    $0, 8(%edi)                  // base 63:32
        movl    $0, 12(%edi)
        mov     $0x18, %ax
        ltr     %ax

        // PD entries: 2 MiB pages covering IDENTITY_GIB GiB.
        mov     $page_directories, %edi
        xor     %ecx, %ecx
1:      mov     %ecx, %eax
        shl     $21, %eax
        or      $0x83, %eax                 // present | writable | 2 MiB
        mov     %eax, (%edi,%ecx,8)
        mov     %ecx, %eax
        shr     $11, %eax
        mov     %eax, 4(%edi,%ecx,8)
        inc     %ecx
        cmp     $(PD_PAGES * 512), %ecx
        jne     1b

        // PDPT entries point at the page directories.
        mov     $page_dir_ptr, %edi
        xor     %ecx, %ecx
2:      mov     %ecx, %eax
        shl     $12, %eax
        add     $page_directories, %eax
        or      $0x3, %eax
        mov     %eax, (%edi,%ecx,8)
        movl    $0, 4(%edi,%ecx,8)
        inc     %ecx
        cmp     $PD_PAGES, %ecx
        jne     2b

        mov     $page_dir_ptr, %eax
        or      $0x3, %eax
        mov     %eax, page_map_l4

        ENTER_LONG_MODE long_mode_entry

        .code64
long_mode_entry:
        LONG_MODE_DATA_SEGMENTS
        mov     $boot_stack_top, %rsp

        // GS base: the boot CPU's per-CPU block (see PerCPU.swift).
        lea     percpu_boot(%rip), %rax
        mov     %rax, percpu_boot(%rip)      // self pointer at offset 0
        mov     %rax, %rdx
        shr     $32, %rdx
        mov     $0xC0000101, %ecx
        wrmsr

        call    x86_install_tss
        call    x86_install_idt

        mov     boot_magic, %edi
        mov     boot_info, %esi
        call    x86_boot_main
3:      cli
        hlt
        jmp     3b

// Sets the IST stacks in the TSS loaded before long mode: IST1 serves every
// exception, IST2 is a separate stack for #DF.
x86_install_tss:
        lea     exception_stack_top(%rip), %rax
        mov     %rax, tss64 + 36(%rip)
        lea     double_fault_stack_top(%rip), %rax
        mov     %rax, tss64 + 44(%rip)
        lea     interrupt_stack_top(%rip), %rax
        mov     %rax, tss64 + 52(%rip)
        movw    $104, tss64 + 102(%rip)      // I/O map base: none
        ret

// Builds 256 interrupt gates and loads the IDT: exceptions on IST1 (#DF on
// IST2), external interrupts and IPIs on IST3 -- every entry switches stacks,
// so the interrupted code's red zone survives.
x86_install_idt:
        lea     idt64(%rip), %rdi
        lea     isr_stub_table(%rip), %rsi
        xor     %ecx, %ecx
4:      mov     (%rsi,%rcx,8), %rax
        mov     %rcx, %rdx
        shl     $4, %rdx
        add     %rdi, %rdx
        mov     %ax, (%rdx)                  // offset 15:0
        movw    $0x08, 2(%rdx)               // code selector
        movb    $1, 4(%rdx)                  // IST1
        cmp     $8, %ecx
        jne     5f
        movb    $2, 4(%rdx)                  // #DF: IST2
5:      cmp     $32, %ecx
        jb      6f
        movb    $3, 4(%rdx)                  // interrupts: IST3
6:      movb    $0x8E, 5(%rdx)               // present, interrupt gate
        shr     $16, %rax
        mov     %ax, 6(%rdx)                 // offset 31:16
        shr     $16, %rax
        mov     %eax, 8(%rdx)                // offset 63:32
        movl    $0, 12(%rdx)
        inc     %ecx
        cmp     $256, %ecx
        jne     4b
        lidt    idt64_pointer(%rip)
        ret

        .section .rodata.isr, "a"
        .balign 8
        .globl  isr_stub_table
isr_stub_table:
        .text

// Exception entry stubs: every frame has [vector, error code] below the
// hardware frame; vectors without an error code push 0.
.macro ISR_NOERR n
        .pushsection .rodata.isr, "a"
        .quad   isr_\n
        .popsection
isr_\n:
        pushq   $0
        pushq   $\n
        jmp     isr_common
.endm
.macro ISR_ERR n
        .pushsection .rodata.isr, "a"
        .quad   isr_\n
        .popsection
isr_\n:
        pushq   $\n
        jmp     isr_common
.endm

        ISR_NOERR 0
        ISR_NOERR 1
        ISR_NOERR 2
        ISR_NOERR 3
        ISR_NOERR 4
        ISR_NOERR 5
        ISR_NOERR 6
        ISR_NOERR 7
        ISR_ERR   8
        ISR_NOERR 9
        ISR_ERR   10
        ISR_ERR   11
        ISR_ERR   12
        ISR_ERR   13
        ISR_ERR   14
        ISR_NOERR 15
        ISR_NOERR 16
        ISR_ERR   17
        ISR_NOERR 18
        ISR_NOERR 19
        ISR_NOERR 20
        ISR_ERR   21
        ISR_NOERR 22
        ISR_NOERR 23
        ISR_NOERR 24
        ISR_NOERR 25
        ISR_NOERR 26
        ISR_NOERR 27
        ISR_NOERR 28
        ISR_ERR   29
        ISR_ERR   30
        ISR_NOERR 31
        .set    vector, 32
        .rept   224
        .pushsection .rodata.isr, "a"
        .quad   7f
        .popsection
7:      pushq   $0
        pushq   $vector
        jmp     isr_common
        .set    vector, vector + 1
        .endr

// Saves the general registers (layout = `ExceptionFrame` in Swift), calls
// the Swift handler with a pointer to them, restores and returns. The handler
// may rewrite the frame (rip, rsp, rax) to resume somewhere else.
isr_common:
        push    %rax
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %rbp
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, %rdi
        cld
        call    x86_exception_handler
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rbp
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        pop     %rax
        add     $16, %rsp
        iretq

        .section .data
        .balign 16
        .globl gdt64
gdt64:
        .quad 0                              // null
        .quad 0x00af9a000000ffff             // 0x08: 64-bit code
        .quad 0x00cf92000000ffff             // 0x10: data
        .quad 0, 0                           // 0x18: TSS (filled at boot)
        .quad 0x00cf9a000000ffff             // 0x28: 32-bit code (boot, AP start)
        .globl gdt64_ap_tss
gdt64_ap_tss:
        .space 16 * 16                       // 0x30 + 16 * n: TSS of CPU n + 1
gdt64_end:
        .balign 8
gdt64_pointer:
        .word gdt64_end - gdt64 - 1
        .quad gdt64
        .balign 8
        .globl idt64_pointer
idt64_pointer:
        .word 256 * 16 - 1
        .quad idt64

        .globl boot_magic, boot_info
boot_magic:
        .long 0
boot_info:
        .long 0

        .section .bss
        .balign 4096
page_map_l4:
        .space 4096
page_dir_ptr:
        .space 4096
page_directories:
        .space PD_PAGES * 4096
idt64:
        .space 256 * 16
        .balign 16
tss64:
        .space 104
        .balign 16
        .space 16384
boot_stack_top:
        .space 16384
exception_stack_top:
        .space 8192
double_fault_stack_top:
        .space 8192
interrupt_stack_top:
        .balign 64
        .globl percpu_boot
percpu_boot:
        .space 256

// Copies of the boot information (the loader's copy lies in memory the
// allocators will hand out).
        .globl x86_boot_storage
        .balign 4096
x86_boot_storage:
        .space 8192

// Application processor start. The boot CPU copies the real-mode part
// (ap_trampoline_start..end) to a page below 1 MiB that it reserved from the
// page allocator, fills ap_boot_* and sends INIT-SIPI-SIPI with that page's
// number as the vector. The AP then enters protected mode on the shared GDT,
// long mode on the shared page tables, loads its own stack, GS base (per-CPU
// block) and TSS (its own IST stacks) and calls x86_ap_main(cpu index).
        .section .text
        .code16
        .globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
        cli
        cld
        mov     %cs, %ax
        mov     %ax, %ds
        lgdtl   ap_gdt_pointer - ap_trampoline_start
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   *(ap_far_pointer - ap_trampoline_start)
        .balign 4
ap_gdt_pointer:
        .word   gdt64_end - gdt64 - 1
        .long   gdt64
ap_far_pointer:
        .long   ap_start32
        .word   0x28
ap_trampoline_end:

        .code32
ap_start32:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     %ax, %fs
        mov     %ax, %gs
        ENTER_LONG_MODE ap_long_mode

        .code64
ap_long_mode:
        LONG_MODE_DATA_SEGMENTS
        mov     ap_boot_gs(%rip), %rax
        mov     %rax, %rdx
        shr     $32, %rdx
        mov     $0xC0000101, %ecx
        wrmsr
        mov     ap_boot_stack(%rip), %rsp
        mov     ap_boot_tss(%rip), %ax
        ltr     %ax
        lidt    idt64_pointer(%rip)
        mov     ap_boot_index(%rip), %rdi
        call    x86_ap_main
8:      cli
        hlt
        jmp     8b

        .section .data
        .balign 8
        .globl ap_boot_gs, ap_boot_stack, ap_boot_tss, ap_boot_index, ap_trampoline_size
ap_trampoline_size:
        .quad ap_trampoline_end - ap_trampoline_start
ap_boot_gs:
        .quad 0
ap_boot_stack:
        .quad 0
ap_boot_tss:
        .quad 0
ap_boot_index:
        .quad 0
