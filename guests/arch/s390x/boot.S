// s390x bring-up for QEMU `-kernel`: CPU 0 starts at the ELF entry 0x10000
// with PSW mask 0x0000000180000000 (64-bit addressing, DAT off, every
// interruption masked) and prefix 0. The boot code clears .bss, turns on the
// AFP and vector registers (swiftc targets z13 and uses vector
// instructions), leaves only the service-signal external subclass enabled
// in CR0 (for SCLP), installs the new PSWs in the lowcore and calls the
// Swift entry `s390_boot_main()`.
//
// Lowcore offsets used (real addresses, relative to the prefix):
//   0x086 external-interruption code    0x08c program ILC, 0x08e code
//   0x0a8 translation-exception address 0x130 external old PSW
//   0x150 program old PSW               0x1a0..0x1ff new PSWs
//   0x200 program-check register save   0x280 resume PSW
//   0x2c8 armed catchException frame    0x2d8 secondary CPU argument
//   0x2e0 secondary CPU stack top       0x2f0 program-check stack top
//   0x300..0x31f last caught exception (Exceptions.swift)
//   (0x280 on are this runtime's own, per CPU through prefixing)

#define PSW_MASK_64        0x0000000180000000
#define PSW_MASK_DISABLED_WAIT 0x0002000180000000

        .section .text.boot, "ax"
        .globl _start
_start:
        jg      s390_start                   // keep this page free for QEMU

        .text
s390_start:
        // Clear .bss (the boot stack lives there) with MVCLE.
        larl    %r0, __bss_start
        larl    %r1, __bss_end
        sgr     %r1, %r0
        lghi    %r4, 0
        lghi    %r5, 0
1:      mvcle   %r0, %r4, 0
        jo      1b

        larl    %r15, boot_stack_top
        aghi    %r15, -160
        lghi    %r0, 0
        stg     %r0, 0(%r15)                 // back chain: end of stack

        brasl   %r14, s390_setup_cpu

        larl    %r1, exception_stack_top
        stg     %r1, 0x2f0                   // this CPU's program-check stack
        lghi    %r0, 0
        stg     %r0, 0x2c8                   // no catchException armed
        brasl   %r14, s390_install_new_psws

        brasl   %r14, s390_boot_main
        j       s390_disabled_wait

// Per-CPU control state: CR0 with AFP (bit 45), vector enablement (bit 46)
// and, of the external subclass masks (bits 48-63), only service signal
// (bit 54).
        .globl s390_setup_cpu
s390_setup_cpu:
        aghi    %r15, -8
        stctg   %c0, %c0, 0(%r15)
        lg      %r0, 0(%r15)
        nill    %r0, 0x0000                  // clear bits 48-63
        oilh    %r0, 0x0006                  // bits 45, 46: AFP, vector
        oill    %r0, 0x0200                  // bit 54: service signal
        stg     %r0, 0(%r15)
        lctlg   %c0, %c0, 0(%r15)
        aghi    %r15, 8
        br      %r14

// Writes the new PSWs of this CPU's lowcore: program check and external
// interruption go to their handlers, everything else (restart, SVC,
// machine check, I/O) is unexpected and stops the machine.
        .globl s390_install_new_psws
s390_install_new_psws:
        llihl   %r0, 0x0000
        iihf    %r0, 0x00000001
        iilf    %r0, 0x80000000              // r0 = PSW_MASK_64
        stg     %r0, 0x1b0
        larl    %r1, s390_external_entry
        stg     %r1, 0x1b8
        stg     %r0, 0x1d0
        larl    %r1, s390_program_entry
        stg     %r1, 0x1d8
        larl    %r1, s390_unexpected_entry
        stg     %r0, 0x1a0
        stg     %r1, 0x1a8
        stg     %r0, 0x1c0
        stg     %r1, 0x1c8
        stg     %r0, 0x1e0
        stg     %r1, 0x1e8
        stg     %r0, 0x1f0
        stg     %r1, 0x1f8
        br      %r14

// External interruption: only the service signal is enabled, and only
// while a CPU waits for an SCLP request in `s390_wait_service_signal`.
// Resume there with the wait and external-mask bits of the old PSW cleared.
s390_external_entry:
        ni      0x131, 0xfd                  // clear the wait bit (14)
        ni      0x130, 0xfe                  // clear the external mask (7)
        lpswe   0x130

// Program check: save the registers, switch to this CPU's program-check
// stack, build a `ProgramCheckFrame` and call the Swift handler, which may
// rewrite the frame (PSW, registers) to resume elsewhere.
//   frame: r0..r15 (0..127), PSW (128..143), code (144), ILC (152), TEA (160)
s390_program_entry:
        stmg    %r0, %r15, 0x200
        lg      %r15, 0x2f0
        aghi    %r15, -(176 + 160)
        mvc     160(128, %r15), 0x200
        mvc     288(16, %r15), 0x150
        llgh    %r0, 0x8e
        stg     %r0, 304(%r15)
        llgh    %r0, 0x8c
        stg     %r0, 312(%r15)
        lg      %r0, 0xa8
        stg     %r0, 320(%r15)
        lghi    %r0, 0
        stg     %r0, 0(%r15)
        la      %r2, 160(%r15)
        brasl   %r14, s390_program_check_handler
        la      %r1, 160(%r15)
        mvc     0x280(16), 128(%r1)
        lmg     %r0, %r15, 0(%r1)
        lpswe   0x280

s390_unexpected_entry:
        j       s390_disabled_wait

// Stops this CPU in a disabled wait: QEMU reports a guest panic and, with
// `-action panic=exit-failure`, exits with status 1.
        .globl s390_disabled_wait
s390_disabled_wait:
        larl    %r1, disabled_wait_psw
        lpswe   0(%r1)

        .section .rodata
        .balign 8
disabled_wait_psw:
        .quad   PSW_MASK_DISABLED_WAIT
        .quad   0xdead

        .section .bss
        .balign 4096
        .space  65536
        .globl boot_stack_top
boot_stack_top:
        .space  16384
exception_stack_top:
