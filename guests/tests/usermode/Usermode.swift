// Ring 3 as the architecture defines it (issue 16, "usermode"): entering it
// with IRETQ (SDM vol. 3 §6.14, vol. 2 IRET), the protection checks that
// keep privileged instructions to CPL 0 (SDM vol. 3 §5.9, each
// instruction's #GP(0) "if the current privilege level is not 0"), IOPL and
// the TSS I/O permission bitmap (SDM vol. 1 §19.5), and the fast system
// calls: SYSCALL/SYSRET (SDM vol. 2B, APM vol. 2 §6.1.1) incl. a
// non-canonical return address, and SYSENTER/SYSEXIT, which AMD defines as
// #UD in long mode (APM vol. 3 SYSENTER) and Intel allows (SDM vol. 2B).
// The ring-3 machinery (GDT/IDT/TSS copies, user mappings) is the
// runtime's: guests/arch/x86_64/ring3.S and UserSpace.swift.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test(
    "iretq to ring 3", iretqToRing3, .requires(arch: .x86_64),
    .xfail("measured: this host's nested KVM (PVM) shows ring 3 CS 33h and SS 2Bh (not the GDT's 153h/15Bh), RFLAGS.IF 1 and IOPL 0 whatever IRETQ loaded", when: .kvm)),
  Test("privileged instructions", privilegedInstructions, .requires(arch: .x86_64)),
  Test(
    "int through a dpl-0 gate", softwareInterruptGate, .requires(arch: .x86_64),
    .xfail("measured: QEMU 7.2 TCG gives error code D2h (vector * 16 + 2, the 16-byte gate offset) instead of 6Ah (vector * 8 + 2)", when: .tcg),
    .xfail("measured: this host's nested KVM (PVM) raises #UD, not #GP, for INT 0Dh at CPL 3 (INT n from ring 3 is #UD there)", when: .kvm)),
  Test(
    "iopl", ioPrivilegeLevel, .requires(arch: .x86_64),
    .xfail("measured: this host's nested KVM (PVM) ignores IOPL 3 at CPL 3: IN/OUT/CLI raise #GP(0)", when: .kvm)),
  Test(
    "tss io bitmap", ioBitmap, .requires(arch: .x86_64),
    .xfail("measured: this host's nested KVM (PVM) consults the I/O bitmap with IOPL 3 (IN 80h raises #GP(0))", when: .kvm)),
  Test(
    "syscall and sysret", syscallSysret, .requires(arch: .x86_64),
    .xfail("measured: this host's nested KVM (PVM): SYSCALL at CPL 3 raises #PF (error 0) at the LSTAR entry with a ring-3 CS; the entry never runs in ring 0", when: .kvm)),
  Test(
    "syscall disabled", syscallDisabled, .requires(arch: .x86_64),
    .xfail("measured: this host's nested KVM (PVM): SYSCALL with EFER.SCE clear raises #PF at LSTAR, not #UD", when: .kvm)),
  Test(
    "sysret non-canonical", sysretNonCanonical, .requires(arch: .x86_64),
    .xfail("measured: this host's nested KVM (PVM): the SYSCALL already faults (#PF at LSTAR), SYSRET is never reached", when: .kvm)),
  Test("sysenter", sysenter, .requires(arch: .x86_64)),
]

#if arch(x86_64)
  @_extern(c, "sys_syscall_entry_address") func sys_syscall_entry_address() -> UInt64
  @_extern(c, "sys_sysenter_entry_address") func sys_sysenter_entry_address() -> UInt64
  @_extern(c, "sys_sysenter_stack_top") func sys_sysenter_stack_top() -> UInt64
  @_extern(c, "sys_field") func sys_field(_ index: Int) -> UInt64
  @_extern(c, "sys_set_mode") func sys_set_mode(_ mode: UInt64)

  /// Indices into u_table (usermode.S).
  enum Stub {
    static let readCS = 0, readSS = 1, pushf = 2, hlt = 3, cli = 4, sti = 5, readCR0 = 6, readCR3 = 7
    static let rdmsr = 8, wrmsr = 9, lgdt = 10, lidt = 11, ltr = 12, lldt = 13, invlpg = 14, wbinvd = 15
    static let invd = 16, clts = 17, readDR7 = 18, rdpmc = 19, swapgs = 20, sysret = 21, inb = 22
    static let outbInb = 23, int0d = 24, popfIOPL = 25, syscall = 26, sysenter = 27, rdtsc = 28
    static let inw = 29, inl = 30
  }

  let userCS: UInt64 = 0x150 | 3
  let userSS: UInt64 = 0x158 | 3
  let efer: UInt32 = 0xC000_0080

  func ring3() throws(TestStop) {
    try require(expect(setUpRing3(), "ring-3 GDT/IDT copies installed"))
  }

  func iretqToRing3() throws(TestStop) {
    try ring3()
    let cs = runUser(Stub.readCS)
    expectEqual(cs.status, 0, "a ring-3 call returns (UD2 at the trampoline)")
    expectEqual(cs.value, userCS, "CS after IRETQ is the user code selector with RPL 3")
    expectEqual(cs.value & 3, 3, "CPL (CS.RPL) is 3")
    let ss = runUser(Stub.readSS)
    expectEqual(ss.value, userSS, "SS after IRETQ is the user data selector with RPL 3")
    let flags = runUser(Stub.pushf)
    expectEqual(flags.value & 0x3000, 0, "RFLAGS.IOPL is 0 as IRETQ loaded it")
    expectEqual(flags.value & 0x200, 0, "RFLAGS.IF is clear as IRETQ loaded it")
    expectBits(flags.value, set: 2, "RFLAGS bit 1 reads as 1")
    let iopl3 = runUser(Stub.pushf, iopl: 3)
    expectEqual(iopl3.value & 0x3000, 0x3000, "IRETQ from CPL 0 loads IOPL 3")
    // POPF at CPL 3 with IOPL 0 leaves IOPL and IF as they were (SDM POPF).
    let popf = runUser(Stub.popfIOPL)
    expectEqual(popf.status, 0, "POPF at CPL 3 does not fault")
    expectEqual(popf.value & 0x3000, 0, "POPF at CPL 3 cannot change IOPL")
    expectEqual(popf.value & 0x200, 0, "POPF at CPL 3 with IOPL 0 cannot change IF")
    // Back in ring 0 after each call.
    expectEqual(x86_read_cr0() & 1, 1, "back in ring 0 (CR0 readable)")
  }

  func privilegedInstructions() throws(TestStop) {
    try ring3()
    // Each raises #GP(0) at CPL 3; the saved RIP is the instruction (a
    // fault) and the saved CS is the user selector.
    let gp: [(Int, StaticString)] = [
      // (the IN stub first moves the port to DX and clears EAX: 4 bytes)
      (Stub.hlt, "HLT at CPL 3 raises #GP(0)"),
      (Stub.cli, "CLI at CPL 3 with IOPL 0 raises #GP(0)"),
      (Stub.sti, "STI at CPL 3 with IOPL 0 raises #GP(0)"),
      (Stub.readCR0, "MOV from CR0 at CPL 3 raises #GP(0)"),
      (Stub.readCR3, "MOV from CR3 at CPL 3 raises #GP(0)"),
      (Stub.rdmsr, "RDMSR at CPL 3 raises #GP(0)"),
      (Stub.wrmsr, "WRMSR at CPL 3 raises #GP(0)"),
      (Stub.lgdt, "LGDT at CPL 3 raises #GP(0)"),
      (Stub.lidt, "LIDT at CPL 3 raises #GP(0)"),
      (Stub.ltr, "LTR at CPL 3 raises #GP(0)"),
      (Stub.lldt, "LLDT at CPL 3 raises #GP(0)"),
      (Stub.invlpg, "INVLPG at CPL 3 raises #GP(0)"),
      (Stub.wbinvd, "WBINVD at CPL 3 raises #GP(0)"),
      (Stub.invd, "INVD at CPL 3 raises #GP(0)"),
      (Stub.clts, "CLTS at CPL 3 raises #GP(0)"),
      (Stub.readDR7, "MOV from DR7 at CPL 3 raises #GP(0)"),
      (Stub.rdpmc, "RDPMC at CPL 3 with CR4.PCE clear raises #GP(0)"),
      (Stub.sysret, "SYSRET at CPL 3 raises #GP(0)"),
      (Stub.inb, "IN at CPL 3 with IOPL 0 and no I/O map raises #GP(0)"),
    ]
    let savedEFER = x86_rdmsr(efer)
    x86_wrmsr(efer, savedEFER | 1)  // SCE: SYSRET's #GP(0) comes after its #UD check
    for (stub, name) in gp {
      let result = runUser(stub, 0x80)
      expectEqual(result.status, 0x100 | 13, name)
      expectEqual(result.errorCode, 0, "the #GP error code is 0")
      expectEqual(result.rip, r3_user_alias(stub) + (stub == Stub.inb ? 4 : 0), "#GP is a fault: saved RIP is the instruction")
      expectEqual(result.cs, userCS, "the fault's saved CS is the ring-3 selector")
    }
    x86_wrmsr(efer, savedEFER)
    // SWAPGS outside 64-bit CPL 0: #GP(0).
    let swapgs = runUser(Stub.swapgs)
    expectEqual(swapgs.status, 0x100 | 13, "SWAPGS at CPL 3 raises #GP(0)")
    // RDTSC is allowed at CPL 3 while CR4.TSD is clear.
    expectBits(x86_read_cr4(), clear: 1 << 2, "CR4.TSD is clear")
    expectEqual(runUser(Stub.rdtsc).status, 0, "RDTSC at CPL 3 with CR4.TSD clear runs")
  }

  func softwareInterruptGate() throws(TestStop) {
    try ring3()
    // INT n through a DPL-0 gate: #GP with a selector error code naming the
    // IDT entry: index n in bits 15:3, IDT flag bit 1 (SDM vol. 3 §6.13).
    let int0d = runUser(Stub.int0d)
    expectEqual(int0d.status, 0x100 | 13, "INT 0Dh through a DPL-0 gate raises #GP")
    expectEqual(int0d.errorCode, 0x0D << 3 | 2, "the error code names IDT entry 0Dh (6Ah)")
    expectEqual(int0d.rip, r3_user_alias(Stub.int0d), "the #GP's saved RIP is the INT instruction")
  }

  func ioPrivilegeLevel() throws(TestStop) {
    try ring3()
    // With IOPL = 3 (CPL <= IOPL) I/O instructions and CLI/STI are allowed
    // (SDM vol. 1 §19.5.1). COM1's scratch register (3FFh) holds a byte.
    for value: UInt64 in [0x5A, 0xA5, 0x00, 0xFF] {
      let result = runUser(Stub.outbInb, 0x3FF << 8 | value, iopl: 3)
      expectEqual(result.status, 0, "OUT/IN at CPL 3 with IOPL 3 run")
      expectEqual(result.value, value, "the UART scratch register reads back the byte written at CPL 3")
    }
    expectEqual(runUser(Stub.cli, iopl: 3).status, 0, "CLI at CPL 3 with IOPL 3 runs")
    let popf = runUser(Stub.popfIOPL, iopl: 3)
    expectEqual(popf.value & 0x200, 0x200, "POPF at CPL 3 with IOPL 3 sets IF")
    expectEqual(popf.value & 0x3000, 0x3000, "IOPL stays 3")
    // IOPL 2 < CPL 3: the check fails again.
    expectEqual(runUser(Stub.inb, 0x3FF, iopl: 2).status, 0x100 | 13, "IN at CPL 3 with IOPL 2 raises #GP(0)")
  }

  @_extern(c, "r3_io_bitmap_address") func r3_io_bitmap_address() -> UInt64

  func ioBitmap() throws(TestStop) {
    try ring3()
    r3_load_io_tss()
    let bitmap = UnsafeMutablePointer<UInt8>(bitPattern: UInt(r3_io_bitmap_address()))!
    for index in 0..<8192 { bitmap[index] = 0xFF }
    // Allow 3FFh (bit clear), deny 3FEh; 3F8h-3FBh allowed for a dword.
    func allow(_ port: Int) { bitmap[port >> 3] &= ~UInt8(1 << (port & 7)) }
    allow(0x3FF)
    allow(0x3F8)
    allow(0x3F9)
    allow(0x3FA)
    allow(0x3FB)
    // CPL > IOPL: the bitmap decides, one bit per byte accessed.
    let allowed = runUser(Stub.outbInb, 0x3FF << 8 | 0x3C)
    expectEqual(allowed.status, 0, "a port whose bitmap bit is clear is accessible at CPL 3, IOPL 0")
    expectEqual(allowed.value, 0x3C, "the access reached the device (scratch register)")
    let denied = runUser(Stub.inb, 0x3FE)
    expectEqual(denied.status, 0x100 | 13, "a port whose bitmap bit is set raises #GP(0)")
    expectEqual(denied.errorCode, 0, "the bitmap #GP error code is 0")
    expectEqual(runUser(Stub.inw, 0x3FE).status, 0x100 | 13, "a word access needs both bits clear (3FEh denied)")
    expectEqual(runUser(Stub.inw, 0x3F8).status, 0, "a word access with both bits clear runs")
    expectEqual(runUser(Stub.inl, 0x3F8).status, 0, "a dword access with four bits clear runs")
    expectEqual(runUser(Stub.inl, 0x3FC).status, 0x100 | 13, "a dword access with a set bit among its four raises #GP(0)")
    allow(0x3FE)
    expectEqual(runUser(Stub.inw, 0x3FE).status, 0, "after clearing 3FEh's bit the word access runs")
    // Ports past the map's end (the limit): the byte after the map is FFh.
    expectEqual(runUser(Stub.inb, 0x80).status, 0x100 | 13, "port 80h (bit set) raises #GP(0)")
    // With IOPL 3 the bitmap is not consulted.
    expectEqual(runUser(Stub.inb, 0x80, iopl: 3).status, 0, "with IOPL 3 the bitmap is not consulted")
  }

  func syscallSysret() throws(TestStop) {
    try ring3()
    let saved = (x86_rdmsr(efer), x86_rdmsr(0xC000_0081), x86_rdmsr(0xC000_0082), x86_rdmsr(0xC000_0084))
    // STAR[47:32] = 08h: SYSCALL CS 08h, SS 10h. STAR[63:48] = 140h:
    // SYSRET to 64-bit CS 150h | 3, SS 148h | 3. SFMASK clears DF, TF, AC
    // and bit 14 (NT).
    x86_wrmsr(0xC000_0081, 0x0140_0008 << 32)
    x86_wrmsr(0xC000_0082, sys_syscall_entry_address())
    x86_wrmsr(0xC000_0084, 0x4_4500)
    x86_wrmsr(efer, saved.0 | 1)
    sys_set_mode(0)
    let before = sys_field(6)
    let result = runUser(Stub.syscall, 0, iopl: 0)
    expectEqual(result.status, 0, "SYSCALL from ring 3 and SYSRET back complete")
    expectEqual(sys_field(6), before + 1, "the SYSCALL entry ran once")
    expectEqual(sys_field(3), 0x08, "SYSCALL loads CS from STAR[47:32]")
    expectEqual(sys_field(4), 0x10, "SYSCALL loads SS from STAR[47:32] + 8")
    expectEqual(sys_field(0), r3_user_alias(Stub.syscall) + 2, "RCX holds the address after SYSCALL")
    expectEqual(sys_field(1), userFlags(), "R11 holds the ring-3 RFLAGS")
    expectEqual(sys_field(2) & 0x4_4500, 0, "RFLAGS is masked by SFMASK in the kernel")
    expectEqual(result.value & 0xFFFF, 0x150 | 3, "SYSRET loads CS STAR[63:48] + 16 with RPL 3")
    expectEqual(result.value >> 16, 0x148 | 3, "SYSRET loads SS STAR[63:48] + 8 with RPL 3")
    x86_wrmsr(0xC000_0081, saved.1)
    x86_wrmsr(0xC000_0082, saved.2)
    x86_wrmsr(0xC000_0084, saved.3)
    x86_wrmsr(efer, saved.0)
  }

  func syscallDisabled() throws(TestStop) {
    try ring3()
    let saved = x86_rdmsr(efer)
    x86_wrmsr(efer, saved & ~1)
    let result = runUser(Stub.syscall)
    expectEqual(result.status, 0x100 | 6, "SYSCALL with EFER.SCE clear raises #UD")
    expectEqual(result.rip, r3_user_alias(Stub.syscall), "the #UD is on the SYSCALL")
    x86_wrmsr(efer, saved)
  }

  /// Intel (GenuineIntel) or AMD: SYSRET and SYSENTER differ.
  var isIntel: Bool { cpuid(0).ebx == 0x756E_6547 }

  func sysretNonCanonical() throws(TestStop) {
    try ring3()
    let saved = (x86_rdmsr(efer), x86_rdmsr(0xC000_0081), x86_rdmsr(0xC000_0082), x86_rdmsr(0xC000_0084))
    x86_wrmsr(0xC000_0081, 0x0140_0008 << 32)
    x86_wrmsr(0xC000_0082, sys_syscall_entry_address())
    x86_wrmsr(0xC000_0084, 0)
    x86_wrmsr(efer, saved.0 | 1)
    sys_set_mode(1)  // the kernel returns to 0000_8000_0000_1000h
    var result = Ring3Result(status: 0, value: 0, errorCode: 0, rip: 0, faultAddress: 0, cs: 0)
    let kernelFault = catchException { result = runUser(Stub.syscall) }
    sys_set_mode(0)
    if isIntel {
      // Intel: SYSRET checks RCX and raises #GP(0) at CPL 0 (SDM SYSRET).
      expectEqual(kernelFault?.vector ?? 0, 13, "Intel: SYSRET to a non-canonical RCX raises #GP in ring 0")
      expectEqual(kernelFault?.errorCode ?? 1, 0, "the #GP error code is 0")
    } else {
      // AMD: SYSRET completes; the fetch at the non-canonical RIP faults
      // in ring 3 (#GP(0), APM vol. 2 §6.1.1).
      expect(kernelFault == nil, "AMD: SYSRET itself does not fault in ring 0")
      expectEqual(result.status, 0x100 | 13, "AMD: the ring-3 fetch at the non-canonical RIP raises #GP")
      expectEqual(result.rip, 0x0000_8000_0000_1000, "the #GP's saved RIP is the non-canonical address")
    }
    x86_wrmsr(0xC000_0081, saved.1)
    x86_wrmsr(0xC000_0082, saved.2)
    x86_wrmsr(0xC000_0084, saved.3)
    x86_wrmsr(efer, saved.0)
  }

  func sysenter() throws(TestStop) {
    try ring3()
    let saved = (x86_rdmsr(0x174), x86_rdmsr(0x175), x86_rdmsr(0x176))
    // SYSENTER_CS = 130h: CS 130h, SS 138h; SYSEXIT64: CS 150h | 3, SS 158h | 3.
    x86_wrmsr(0x174, 0x130)
    x86_wrmsr(0x175, sys_sysenter_stack_top())
    x86_wrmsr(0x176, sys_sysenter_entry_address())
    let before = sys_field(6)
    let result = runUser(Stub.sysenter)
    if isIntel {
      expectEqual(result.status, 0, "Intel: SYSENTER/SYSEXIT work in 64-bit mode")
      expectEqual(sys_field(3), 0x130, "SYSENTER loads CS from IA32_SYSENTER_CS")
      expectEqual(sys_field(4), 0x138, "SYSENTER loads SS = SYSENTER_CS + 8")
      expectEqual(result.value & 0xFFFF, 0x150 | 3, "SYSEXIT (64-bit) loads CS SYSENTER_CS + 32 | 3")
      expectEqual(result.value >> 16, 0x158 | 3, "SYSEXIT (64-bit) loads SS SYSENTER_CS + 40 | 3")
    } else {
      // AMD: SYSENTER is invalid in long mode (APM vol. 3 SYSENTER: #UD).
      expectEqual(result.status, 0x100 | 6, "AMD: SYSENTER in long mode raises #UD")
      expectEqual(sys_field(6), before, "AMD: the SYSENTER entry point never ran")
    }
    x86_wrmsr(0x174, saved.0)
    x86_wrmsr(0x175, saved.1)
    x86_wrmsr(0x176, saved.2)
  }
#endif
