// External interruptions with a Swift hook (External.swift). Additive: the
// boot code's own external entry (boot.S) stays the default; a program
// installs this one on a CPU with External.install(), and CPUs started
// afterwards inherit it (Processors.start copies the new PSWs).
//
// Lowcore offsets used (real, so per CPU through prefixing):
//   0x080 external-interruption parameter  0x084 CPU address (signals)
//   0x086 external-interruption code       0x130 external old PSW
//   0x1b0 external new PSW                 0x600..0x67f register scratch
//   0x680..0x69f the ExternalInterruption record handed to the hook
        .machine z13

        .text
// Saves r0-r15 and v0-v31 on the interrupted stack (below its r15: the
// s390x ELF ABI keeps nothing there), calls
// s390_external_interruption(code, cpuAddress, parameter, &oldPSW), which
// may rewrite the old PSW, and resumes the interrupted code with it.
//   frame: save area (0..159), r0-r15 (160..287), v0-v31 (288..799),
//          old PSW (800..815)
        .globl s390_external_hook_entry
s390_external_hook_entry:
        stmg    %r0, %r15, 0x600
        aghi    %r15, -816
        nill    %r15, 0xfff8
        mvc     160(128, %r15), 0x600
        vstm    %v0, %v15, 288(%r15)
        vstm    %v16, %v31, 544(%r15)
        mvc     800(16, %r15), 0x130
        lghi    %r0, 0
        stg     %r0, 0(%r15)                 // back chain: end of stack
        llgh    %r2, 0x86
        llgh    %r3, 0x84
        llgf    %r4, 0x80
        la      %r5, 800(%r15)
        brasl   %r14, s390_external_interruption
        mvc     0x130(16), 800(%r15)
        vlm     %v0, %v15, 288(%r15)
        vlm     %v16, %v31, 544(%r15)
        lmg     %r0, %r15, 160(%r15)
        lpswe   0x130

// s390_external_install(): this CPU's external new PSW (64-bit addressing,
// every interruption masked) points at s390_external_hook_entry.
        .globl s390_external_install
s390_external_install:
        llihl   %r0, 0x0001
        iilf    %r0, 0x80000000
        stg     %r0, 0x1b0
        larl    %r1, s390_external_hook_entry
        stg     %r1, 0x1b8
        br      %r14

// s390_external_set_subclasses(mask) -> old: CR0 bits 48-63 (the external
// subclass masks) replaced by the low 16 bits of mask; returns the old ones.
        .globl s390_external_set_subclasses
s390_external_set_subclasses:
        aghi    %r15, -8
        stctg   %c0, %c0, 0(%r15)
        lg      %r0, 0(%r15)
        llghr   %r1, %r0
        nill    %r0, 0x0000
        llghr   %r2, %r2
        ogr     %r0, %r2
        stg     %r0, 0(%r15)
        lctlg   %c0, %c0, 0(%r15)
        lgr     %r2, %r1
        aghi    %r15, 8
        br      %r14

// s390_external_enable() / s390_external_disable(): PSW bit 7 (external
// mask) on / off with STOSM / STNSM; a pending, enabled interruption is
// taken right after the instruction.
        .globl s390_external_enable, s390_external_disable
s390_external_enable:
        aghi    %r15, -8
        stosm   0(%r15), 0x01
        aghi    %r15, 8
        br      %r14
s390_external_disable:
        aghi    %r15, -8
        stnsm   0(%r15), 0xfe
        aghi    %r15, 8
        br      %r14
