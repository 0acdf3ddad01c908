// 4-level paging as the Intel SDM vol. 3 ch. 4 and AMD APM vol. 2 ch. 5
// define it (issue 16, "paging"): accessed and dirty flags, R/W with
// CR0.WP, U/S from ring 3, execute-disable and the #PF I/D flag,
// reserved-bit faults (RSVD) incl. physical-address bits at and above
// MAXPHYADDR, 2 MiB and 1 GiB pages, INVLPG and CR3 loads against global
// pages, PCID/INVPCID, SMEP/SMAP/UMIP with STAC/CLAC where CPUID reports
// them (the `cpu = max` cells). The #PF error code (SDM §4.7): P bit 0,
// W/R bit 1, U/S bit 2, RSVD bit 3, I/D bit 4. Test mappings live in PML4
// slot 3, user code and stack in slot 4 (the runtime's UserSpace.swift,
// ring3.S).

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("not present", notPresent, .requires(arch: .x86_64)),
  Test("accessed and dirty", accessedDirty, .requires(arch: .x86_64)),
  Test("read-only and cr0.wp", readOnly, .requires(arch: .x86_64)),
  Test("no-execute", noExecute, .requires(arch: .x86_64)),
  Test(
    "reserved bits", reservedBits, .requires(arch: .x86_64),
    .xfail("measured: QEMU 7.2 TCG reports RSVD faults with P clear (error code 8h/Ah for 9h/Bh) and, without 1 GiB pages in CPUID, maps a PS PDPTE as a 1 GiB page", when: .tcg)),
  Test("2 mib pages", largePages, .requires(arch: .x86_64)),
  Test("1 gib pages", hugePages, .requires(arch: .x86_64)),
  Test("invlpg and cr3 reload", invlpgAndCR3, .requires(arch: .x86_64)),
  Test("global pages", globalPages, .requires(arch: .x86_64)),
  Test("pcid and invpcid", pcid, .requires(arch: .x86_64)),
  Test(
    "unsupported cr4 bits", unsupportedCR4Bits, .requires(arch: .x86_64),
    .xfail("measured: QEMU 7.2 TCG (qemu64) accepts CR4.PCIDE without CPUID PCID support (no #GP)", when: .tcg)),
  // Measured: QEMU 7.2 TCG (qemu64) never completes a MOV to CR4 that sets
  // SMEP, SMAP or UMIP without CPUID support (the vCPU stays on the MOV, no
  // exception, no output until the silence timeout): TCG cannot run it.
  Test("unsupported smep smap umip bits", unsupportedProtectionBits, .requires(arch: .x86_64), .requires(.kvm)),
  Test("smep", smep, .requires(arch: .x86_64)),
  // Measured: this host's nested KVM (PVM) reports SMAP but stops the guest
  // at CLAC ("KVM internal error. Suberror: 1"): TCG only.
  Test("smap", smap, .requires(arch: .x86_64), .requires(.tcg)),
  Test("user and supervisor from ring 3", userSupervisor, .requires(arch: .x86_64)),
  Test("umip", umip, .requires(arch: .x86_64)),
]

#if arch(x86_64)
  @_extern(c, "pg_pages_address") func pg_pages_address() -> UInt64
  @_extern(c, "pg_call") func pg_call(_ address: UInt64) -> UInt64
  @_extern(c, "pg_store") func pg_store(_ address: UInt64, _ value: UInt64)
  @_extern(c, "pg_write_cr0") func pg_write_cr0(_ value: UInt64)
  @_extern(c, "pg_write_cr3") func pg_write_cr3(_ value: UInt64)
  @_extern(c, "pg_write_cr4") func pg_write_cr4(_ value: UInt64)
  @_extern(c, "pg_stac") func pg_stac()
  @_extern(c, "pg_clac") func pg_clac()
  @_extern(c, "pg_cr4_swap") func pg_cr4_swap(_ value: UInt64) -> UInt64
  @_extern(c, "pg_invpcid") func pg_invpcid(_ type: UInt64, _ descriptor: UnsafePointer<UInt64>)

  /// The test region: PML4 slot 3 (1.5 TiB).
  let region: UInt64 = 0x180_0000_0000
  let efer: UInt32 = 0xC000_0080

  /// Data page `n` (0-7) of pg_pages: its physical (= identity) address.
  func page(_ n: Int) -> UInt64 { pg_pages_address() + UInt64(n) * 4096 }
  func va(_ n: Int) -> UInt64 { region + UInt64(n) * 4096 }

  func unmap(_ address: UInt64, level: Int = 1) {
    TestTables.entry(address, level: level).pointee = 0
    x86_invlpg(address)
  }

  /// MAXPHYADDR (CPUID 80000008h:EAX[7:0]).
  var maxPhysicalAddress: UInt64 {
    cpuid(0x8000_0000).eax >= 0x8000_0008 ? UInt64(cpuid(0x8000_0008).eax & 0xFF) : 36
  }
  var hasNX: Bool { cpuid(0x8000_0001).edx & 1 << 20 != 0 }
  var has1GPages: Bool { cpuid(0x8000_0001).edx & 1 << 26 != 0 }
  var leaf7: (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) { cpuid(0).eax >= 7 ? cpuid(7) : (0, 0, 0, 0) }

  /// Loads from `address` and returns the caught #PF (nil: no fault).
  func readFault(_ address: UInt64) -> CaughtException? { catchException { _ = x86_load(address) } }
  func writeFault(_ address: UInt64, _ value: UInt64 = 0x77) -> CaughtException? {
    catchException { pg_store(address, value) }
  }

  func notPresent() {
    unmap(va(0))
    let read = readFault(va(0))
    expectEqual(read?.vector ?? 0, 14, "a read of a not-present page raises #PF")
    expectEqual(read?.errorCode ?? 0xFF, 0, "error code 0: not present, read, supervisor")
    expectEqual(read?.faultAddress ?? 0, va(0), "CR2 holds the faulting linear address")
    let write = writeFault(va(0) + 8)
    expectEqual(write?.errorCode ?? 0xFF, 2, "error code 2: not present, write")
    expectEqual(write?.faultAddress ?? 0, va(0) + 8, "CR2 holds the exact byte address")
    // A not-present entry higher up: the PDE of a 2 MiB range with no table.
    let far = region + 0x2000_0000  // PDE 256 of the region's PD: empty
    expectEqual(readFault(far)?.errorCode ?? 0xFF, 0, "a not-present PDE also gives error code 0")
    // Present: the same address works once mapped.
    TestTables.map(va(0), page(0), PTE.writable)
    pg_store(page(0), 0x1122_3344)
    expectEqual(x86_load(va(0)), 0x1122_3344, "the mapped page reads what the identity map wrote")
    unmap(va(0))
  }

  func accessedDirty() {
    let pte = TestTables.entry(va(1), level: 1)
    let pde = TestTables.entry(va(1), level: 2)
    let pdpte = TestTables.entry(va(1), level: 3)
    let pml4e = TestTables.entry(va(1), level: 4)
    pte.pointee = page(1) | PTE.present | PTE.writable
    pde.pointee &= ~PTE.accessed
    pdpte.pointee &= ~PTE.accessed
    pml4e.pointee &= ~PTE.accessed
    x86_write_cr3(x86_read_cr3())  // flush cached walks
    expectBits(pte.pointee, clear: PTE.accessed | PTE.dirty, "a fresh PTE has A and D clear")
    _ = x86_load(va(1))
    expectBits(pte.pointee, set: PTE.accessed, "a read sets the PTE's accessed flag")
    expectBits(pte.pointee, clear: PTE.dirty, "a read leaves the PTE's dirty flag clear")
    expectBits(pde.pointee, set: PTE.accessed, "the walk sets the PDE's accessed flag")
    expectBits(pdpte.pointee, set: PTE.accessed, "the walk sets the PDPTE's accessed flag")
    expectBits(pml4e.pointee, set: PTE.accessed, "the walk sets the PML4E's accessed flag")
    pg_store(va(1), 1)
    expectBits(pte.pointee, set: PTE.dirty, "a write sets the PTE's dirty flag")
    expectBits(pde.pointee, clear: PTE.dirty, "a non-leaf entry has no dirty flag set")
    // Cleared again (with INVLPG), the next accesses set them again.
    pte.pointee &= ~(PTE.accessed | PTE.dirty)
    x86_invlpg(va(1))
    pg_store(va(1), 2)
    expectBits(pte.pointee, set: PTE.accessed | PTE.dirty, "a first write sets both A and D")
    // A faulting access sets neither (the write to a read-only page, CR0.WP).
    pte.pointee = page(1) | PTE.present
    x86_invlpg(va(1))
    let cr0 = x86_read_cr0()
    pg_write_cr0(cr0 | 1 << 16)
    expectEqual(writeFault(va(1))?.vector ?? 0, 14, "the write to the read-only page faults (CR0.WP)")
    pg_write_cr0(cr0)
    expectBits(pte.pointee, clear: PTE.dirty, "a write that faults does not set D")
    unmap(va(1))
    // 2 MiB page: D lives in the PDE.
    let large = region + 0x40_0000  // PDE 2 of the region's PD
    let largePDE = TestTables.entry(large, level: 2)
    largePDE.pointee = (page(0) & ~0x1F_FFFF) | PTE.present | PTE.writable | PTE.large
    x86_invlpg(large)
    _ = x86_load(large + (page(2) & 0x1F_FFFF))
    expectBits(largePDE.pointee, set: PTE.accessed, "a read sets A in a 2 MiB PDE")
    expectBits(largePDE.pointee, clear: PTE.dirty, "a read leaves D clear in a 2 MiB PDE")
    pg_store(large + (page(2) & 0x1F_FFFF), 3)
    expectBits(largePDE.pointee, set: PTE.dirty, "a write sets D in a 2 MiB PDE")
    unmap(large, level: 2)
  }

  func readOnly() {
    let cr0 = x86_read_cr0()
    TestTables.map(va(2), page(2), 0)
    expectNoException("a read-only page can be read") { _ = x86_load(va(2)) }
    // CR0.WP = 1: supervisor writes honour R/W (SDM §4.6.1).
    pg_write_cr0(cr0 | 1 << 16)
    let caught = writeFault(va(2), 0xAB)
    expectEqual(caught?.vector ?? 0, 14, "a supervisor write to a read-only page with CR0.WP raises #PF")
    expectEqual(caught?.errorCode ?? 0, 3, "error code 3: present, write, supervisor")
    expectEqual(caught?.faultAddress ?? 0, va(2), "CR2 is the page address")
    expectNotEqual(x86_load(page(2)), 0xAB, "the refused write did not land")
    // CR0.WP = 0: supervisor writes ignore R/W.
    pg_write_cr0(cr0 & ~(1 << 16))
    expectNoException("with CR0.WP clear a supervisor write to a read-only page runs") { pg_store(va(2), 0xAB) }
    expectEqual(x86_load(page(2)), 0xAB, "the write landed")
    pg_write_cr0(cr0)
    // R/W = 0 in a higher level makes the whole range read-only.
    TestTables.map(va(2), page(2), PTE.writable)
    let pde = TestTables.entry(va(2), level: 2)
    pg_write_cr0(cr0 | 1 << 16)
    pde.pointee &= ~PTE.writable
    x86_write_cr3(x86_read_cr3())
    expectEqual(writeFault(va(2))?.errorCode ?? 0, 3, "R/W clear in the PDE makes a writable PTE read-only")
    pde.pointee |= PTE.writable
    x86_write_cr3(x86_read_cr3())
    expectNoException("R/W set at every level: the write runs") { pg_store(va(2), 1) }
    pg_write_cr0(cr0)
    unmap(va(2))
  }

  /// MOV EAX, 1234ABCDh; RET.
  func writeReturnCode(_ address: UInt64) {
    let code: [UInt8] = [0xB8, 0xCD, 0xAB, 0x34, 0x12, 0xC3]
    let bytes = UnsafeMutablePointer<UInt8>(bitPattern: UInt(address))!
    for (index, byte) in code.enumerated() { bytes[index] = byte }
  }

  func noExecute() throws(TestStop) {
    guard hasNX else {
      expectException(vector: 13, "EFER.NXE without NX raises #GP") { _ = x86_wrmsr_swap(efer, x86_rdmsr(efer) | 1 << 11) }
      return
    }
    let saved = x86_rdmsr(efer)
    writeReturnCode(page(3))
    TestTables.map(va(3), page(3), 0)
    x86_wrmsr(efer, saved | 1 << 11)
    var result: UInt64 = 0
    expectNoException("code in a page without XD runs") { result = pg_call(va(3)) }
    expectEqual(result & 0xFFFF_FFFF, 0x1234_ABCD, "the code ran and returned its value")
    TestTables.map(va(3), page(3), PTE.noExecute)
    let caught = catchException { _ = pg_call(va(3)) }
    expectEqual(caught?.vector ?? 0, 14, "a fetch from an XD page raises #PF")
    expectEqual(caught?.errorCode ?? 0, 0x11, "error code 11h: present, instruction fetch (I/D)")
    expectEqual(caught?.faultAddress ?? 0, va(3), "CR2 is the fetched address")
    expectEqual(caught?.instruction ?? 0, va(3), "the saved RIP is the target, not the CALL")
    expectNoException("an XD page can still be read") { _ = x86_load(va(3)) }
    // XD in the PDE applies to the whole range.
    TestTables.map(va(3), page(3), 0)
    let pde = TestTables.entry(va(3), level: 2)
    pde.pointee |= PTE.noExecute
    x86_write_cr3(x86_read_cr3())
    expectEqual(catchException { _ = pg_call(va(3)) }?.errorCode ?? 0, 0x11, "XD in the PDE forbids fetches below it")
    pde.pointee &= ~PTE.noExecute
    // Fetch from a not-present page with NXE: I/D is set too.
    unmap(va(4))
    expectEqual(catchException { _ = pg_call(va(4)) }?.errorCode ?? 0, 0x10, "a fetch from a not-present page: error code 10h")
    x86_wrmsr(efer, saved)
    unmap(va(3))
  }

  func reservedBits() {
    let maxPhys = maxPhysicalAddress
    note("MAXPHYADDR", maxPhys)
    // Physical-address bits from MAXPHYADDR to 51 are reserved (§4.5).
    if maxPhys < 52 {
      for bit in [maxPhys, 51] {
        TestTables.map(va(5), page(5) | 1 << bit, PTE.writable)
        let read = readFault(va(5))
        expectEqual(read?.vector ?? 0, 14, "a PTE address bit at or above MAXPHYADDR raises #PF")
        expectEqual(read?.errorCode ?? 0, 0x9, "read: error code 9h (present, RSVD)")
        expectEqual(writeFault(va(5))?.errorCode ?? 0, 0xB, "write: error code Bh (present, write, RSVD)")
      }
    }
    // A 2 MiB PDE's bits 20:13 are reserved.
    let large = region + 0x60_0000
    let pde = TestTables.entry(large, level: 2)
    pde.pointee = (page(0) & ~0x1F_FFFF) | 1 << 13 | PTE.present | PTE.writable | PTE.large
    x86_invlpg(large)
    expectEqual(readFault(large)?.errorCode ?? 0, 0x9, "2 MiB PDE bit 13 set: RSVD fault")
    pde.pointee = 0
    x86_invlpg(large)
    // PS in a PML4E is reserved.
    let pml4e = TestTables.entry(va(5), level: 4)
    TestTables.map(va(5), page(5), PTE.writable)
    pml4e.pointee |= PTE.large
    x86_write_cr3(x86_read_cr3())
    expectEqual(readFault(va(5))?.errorCode ?? 0, 0x9, "PS in a PML4E: RSVD fault")
    pml4e.pointee &= ~PTE.large
    x86_write_cr3(x86_read_cr3())
    expectNoException("the same walk without the reserved bit works") { _ = x86_load(va(5)) }
    unmap(va(5))
    // With EFER.NXE = 0 bit 63 is reserved: any access is an RSVD fault.
    if hasNX {
      let saved = x86_rdmsr(efer)
      x86_wrmsr(efer, saved & ~(1 << 11))
      TestTables.map(va(3), page(3), PTE.noExecute)
      expectEqual(readFault(va(3))?.errorCode ?? 0, 0x9, "bit 63 with EFER.NXE clear: RSVD fault (error code 9h)")
      x86_wrmsr(efer, saved)
      unmap(va(3))
    }
    // 1 GiB pages: bits 29:13 of a PS PDPTE are reserved; without 1 GiB
    // pages PS in a PDPTE is reserved itself.
    let huge = region + 0x4000_0000
    let pdpte = TestTables.entry(huge, level: 3)
    pdpte.pointee = PTE.present | PTE.writable | PTE.large | (has1GPages ? 1 << 13 : 0)
    x86_invlpg(huge)
    expectEqual(readFault(huge)?.errorCode ?? 0, 0x9, "PDPTE with PS: RSVD fault for bit 13 (or PS itself without 1 GiB pages)")
    pdpte.pointee = 0
    x86_invlpg(huge)
  }

  func largePages() {
    // A 2 MiB page over the 2 MiB-aligned physical range that holds page(6).
    let base = page(6) & ~0x1F_FFFF
    let offset = page(6) - base
    let large = region + 0x80_0000
    let pde = TestTables.entry(large, level: 2)
    pde.pointee = base | PTE.present | PTE.writable | PTE.large
    x86_invlpg(large)
    pg_store(page(6), 0xFEED_F00D)
    expectEqual(x86_load(large + offset), 0xFEED_F00D, "a 2 MiB page maps its 2 MiB-aligned frame + the low 21 address bits")
    pg_store(large + offset + 8, 0xC0FFEE)
    expectEqual(x86_load(page(6) + 8), 0xC0FFEE, "a write through the 2 MiB page reaches the frame")
    // The low 21 bits of the address pass through: the byte at +1 too.
    expectEqual(x86_load(large + offset + 1) & 0xFF_FFFF, 0xFEED_F0, "byte offsets inside the 2 MiB page pass through")
    pde.pointee = 0
    x86_invlpg(large)
    expectEqual(readFault(large + offset)?.vector ?? 0, 14, "after the PDE is cleared and flushed the range faults")
  }

  func hugePages() throws(TestStop) {
    let huge = region + 0x4000_0000  // PDPT entry 1 of the region
    let pdpte = TestTables.entry(huge, level: 3)
    pdpte.pointee = 0 | PTE.present | PTE.writable | PTE.large
    x86_invlpg(huge)
    if has1GPages {
      pg_store(page(7), 0x1_0000_0001)
      expectEqual(x86_load(huge + page(7)), 0x1_0000_0001, "a 1 GiB page maps physical 0 + the low 30 address bits")
      pg_store(huge + page(7), 0x2_0000_0002)
      expectEqual(x86_load(page(7)), 0x2_0000_0002, "a write through the 1 GiB page reaches the frame")
      expectBits(pdpte.pointee, set: PTE.accessed | PTE.dirty, "A and D are set in the 1 GiB PDPTE")
    } else {
      pdpte.pointee = 0
      x86_invlpg(huge)
      try skipTest("no 1 GiB pages (CPUID 80000001h:EDX[26] clear): the PS-in-PDPTE fault is in 'reserved bits'")
    }
    pdpte.pointee = 0
    x86_invlpg(huge)
  }

  func invlpgAndCR3() {
    pg_store(page(0), 0xAAAA)
    pg_store(page(1), 0xBBBB)
    TestTables.map(va(6), page(0), PTE.writable)
    expectEqual(x86_load(va(6)), 0xAAAA, "mapped to page A")
    let pte = TestTables.entry(va(6), level: 1)
    pte.pointee = page(1) | PTE.present | PTE.writable
    x86_invlpg(va(6))
    expectEqual(x86_load(va(6)), 0xBBBB, "after INVLPG the new PTE (page B) is used")
    pte.pointee = page(0) | PTE.present | PTE.writable
    x86_write_cr3(x86_read_cr3())
    expectEqual(x86_load(va(6)), 0xAAAA, "after a CR3 load a non-global PTE change is seen")
    // INVLPG of a not-present or non-canonical address does not fault.
    expectNoException("INVLPG of an unmapped address runs") { x86_invlpg(va(7)) }
    expectNoException("INVLPG of a non-canonical address runs (no fault, SDM INVLPG)") { x86_invlpg(0x8000_0000_0000_0000) }
    unmap(va(6))
  }

  func globalPages() throws(TestStop) {
    guard cpuid(1).edx & 1 << 13 != 0 else { try skipTest("CPUID reports no PGE") }
    let cr4 = x86_read_cr4()
    pg_write_cr4(cr4 | 1 << 7)
    expectBits(x86_read_cr4(), set: 1 << 7, "CR4.PGE sets")
    pg_store(page(0), 0xAAAA)
    pg_store(page(1), 0xBBBB)
    TestTables.map(va(6), page(0), PTE.writable | PTE.global)
    expectEqual(x86_load(va(6)), 0xAAAA, "a global page reads its frame")
    let pte = TestTables.entry(va(6), level: 1)
    pte.pointee = page(1) | PTE.present | PTE.writable | PTE.global
    x86_invlpg(va(6))
    expectEqual(x86_load(va(6)), 0xBBBB, "INVLPG flushes a global translation")
    // Toggling CR4.PGE flushes every translation, global ones included.
    pte.pointee = page(0) | PTE.present | PTE.writable | PTE.global
    pg_write_cr4(cr4 & ~(1 << 7))
    pg_write_cr4(cr4 | 1 << 7)
    expectEqual(x86_load(va(6)), 0xAAAA, "clearing and setting CR4.PGE flushes global translations")
    pg_write_cr4(cr4)
    unmap(va(6))
    expectEqual(x86_read_cr4(), cr4, "CR4 restored")
  }

  func pcid() throws(TestStop) {
    let cr4 = x86_read_cr4()
    let cr3 = x86_read_cr3()
    let hasPCID = cpuid(1).ecx & 1 << 17 != 0
    let hasINVPCID = leaf7.ebx & 1 << 10 != 0
    guard hasPCID else { try skipTest("CPUID reports no PCID (see 'unsupported cr4 bits')") }
    // Setting PCIDE needs CR3[11:0] = 0 (SDM MOV CR).
    pg_write_cr3(cr3 | 1)
    expectException(vector: 13, "setting CR4.PCIDE with CR3[11:0] not 0 raises #GP") { pg_write_cr4(cr4 | 1 << 17) }
    pg_write_cr3(cr3)
    pg_write_cr4(cr4 | 1 << 17)
    expectBits(x86_read_cr4(), set: 1 << 17, "CR4.PCIDE sets with CR3[11:0] = 0")
    pg_write_cr3(cr3 | 5)
    expectEqual(x86_read_cr3() & 0xFFF, 5, "CR3[11:0] holds the PCID")
    // Bit 63 (no flush) is not stored.
    pg_write_cr3(cr3 | 5 | 1 << 63)
    expectEqual(x86_read_cr3() >> 63, 0, "CR3 bit 63 reads as 0")
    pg_write_cr3(cr3)
    expectException(vector: 13, "clearing CR4.PCIDE with a PCID is fine, but a second PCIDE write with CR3[11:0] != 0 is not") {
      pg_write_cr3(cr3 | 7)
      pg_write_cr4(cr4)
      pg_write_cr4(cr4 | 1 << 17)
    }
    pg_write_cr4(cr4 | 1 << 17)
    pg_write_cr3(cr3)
    if hasINVPCID {
      var descriptor: (UInt64, UInt64) = (0, va(6))
      pg_store(page(0), 0xAAAA)
      pg_store(page(1), 0xBBBB)
      TestTables.map(va(6), page(0), PTE.writable)
      _ = x86_load(va(6))
      TestTables.entry(va(6), level: 1).pointee = page(1) | PTE.present | PTE.writable
      withUnsafePointer(to: &descriptor) { pointer in
        pointer.withMemoryRebound(to: UInt64.self, capacity: 2) { d in
          expectNoException("INVPCID type 0 (address) runs") { pg_invpcid(0, d) }
          expectEqual(x86_load(va(6)), 0xBBBB, "INVPCID type 0 flushes the address in PCID 0")
          for type: UInt64 in 1...3 {
            expectNoException("INVPCID types 1-3 run") { pg_invpcid(type, d) }
          }
          expectException(vector: 13, "INVPCID type 4 raises #GP") { pg_invpcid(4, d) }
        }
      }
      descriptor.0 = 4096
      withUnsafePointer(to: &descriptor) { pointer in
        pointer.withMemoryRebound(to: UInt64.self, capacity: 2) { d in
          expectException(vector: 13, "INVPCID with a PCID above 4095 raises #GP") { pg_invpcid(0, d) }
        }
      }
      unmap(va(6))
    }
    pg_write_cr4(cr4)
    pg_write_cr3(cr3)
    expectEqual(x86_read_cr4(), cr4, "CR4 restored")
  }

  func unsupportedCR4Bits() throws(TestStop) {
    try probeCR4Bits(smepSmapUmip: false)
  }

  func unsupportedProtectionBits() throws(TestStop) {
    try probeCR4Bits(smepSmapUmip: true)
  }

  func probeCR4Bits(smepSmapUmip: Bool) throws(TestStop) {
    // A CR4 bit whose feature CPUID does not report is reserved: MOV to CR4
    // raises #GP (SDM §2.5). Probed with pg_cr4_swap, which puts the old
    // CR4 back at once if the write is accepted.
    let cr4 = x86_read_cr4()
    let probes: [(Bool, UInt64, StaticString)] = [
      (cpuid(1).ecx & 1 << 17 != 0, 1 << 17, "CR4.PCIDE without PCID raises #GP"),
      (leaf7.ebx & 1 << 7 != 0, 1 << 20, "CR4.SMEP without SMEP raises #GP"),
      (leaf7.ebx & 1 << 20 != 0, 1 << 21, "CR4.SMAP without SMAP raises #GP"),
      (leaf7.ecx & 1 << 2 != 0, 1 << 11, "CR4.UMIP without UMIP raises #GP"),
    ]
    var probed = 0
    for (supported, bit, name) in probes where !supported && (bit == 1 << 17) != smepSmapUmip {
      probed += 1
      expectException(vector: 13, name) { _ = pg_cr4_swap(cr4 | bit) }
    }
    if leaf7.ebx & 1 << 20 == 0 && !smepSmapUmip {
      probed += 1
      if Platform.arguments.value(of: "harness.accel", hasItem: "kvm") {
        // Measured: on this host's nested KVM (PVM) the #UD of STAC stops
        // the guest ("KVM internal error. Suberror: 1"): no result to check.
        skip("STAC without SMAP raises #UD", because: "this host's nested KVM (PVM) fails to emulate STAC's #UD (KVM internal error)")
      } else {
        expectException(vector: 6, "STAC without SMAP raises #UD") { pg_stac() }
      }
    }
    expectEqual(x86_read_cr4(), cr4, "CR4 unchanged")
    if probed == 0 { try skipTest("CPUID reports every feature probed") }
  }

  func smep() throws(TestStop) {
    let cr4 = x86_read_cr4()
    guard leaf7.ebx & 1 << 7 != 0 else { try skipTest("CPUID reports no SMEP") }
    writeReturnCode(page(3))
    TestTables.map(va(3), page(3), PTE.user)
    var result: UInt64 = 0
    expectNoException("supervisor code in a user page runs with SMEP clear") { result = pg_call(va(3)) }
    expectEqual(result & 0xFFFF_FFFF, 0x1234_ABCD, "it returned its value")
    pg_write_cr4(cr4 | 1 << 20)
    let caught = catchException { _ = pg_call(va(3)) }
    pg_write_cr4(cr4)
    expectEqual(caught?.vector ?? 0, 14, "with CR4.SMEP a supervisor fetch from a user page raises #PF")
    expectEqual(caught?.errorCode ?? 0, 0x11, "error code 11h: present, fetch, supervisor")
    expectEqual(caught?.faultAddress ?? 0, va(3), "CR2 is the fetched address")
    unmap(va(3))
  }

  func smap() throws(TestStop) {
    let cr4 = x86_read_cr4()
    guard leaf7.ebx & 1 << 20 != 0 else { try skipTest("CPUID reports no SMAP") }
    TestTables.map(va(4), page(4), PTE.user | PTE.writable)
    pg_write_cr4(cr4 | 1 << 21)
    pg_clac()
    let read = readFault(va(4))
    let write = writeFault(va(4))
    pg_stac()
    let readAC = readFault(va(4))
    let writeAC = writeFault(va(4))
    pg_clac()
    let again = readFault(va(4))
    pg_write_cr4(cr4)
    expectEqual(read?.vector ?? 0, 14, "with CR4.SMAP and AC clear a supervisor read of a user page raises #PF")
    expectEqual(read?.errorCode ?? 0, 1, "error code 1: present, read, supervisor")
    expectEqual(write?.errorCode ?? 0, 3, "a supervisor write: error code 3")
    expect(readAC == nil, "after STAC (AC set) the read is allowed")
    expect(writeAC == nil, "after STAC the write is allowed")
    expectEqual(again?.errorCode ?? 0, 1, "after CLAC the read faults again")
    expect(readFault(va(4)) == nil, "with CR4.SMAP clear the read is allowed")
    unmap(va(4))
  }

  /// Indices into u_table (paging.S).
  enum Stub {
    static let readMem = 0, writeMem = 1, sgdt = 2, stac = 3, smsw = 4
  }

  func userSupervisor() throws(TestStop) {
    try require(expect(setUpRing3(), "ring-3 GDT/IDT copies installed"))
    pg_store(page(5), 0x5555)
    TestTables.map(va(5), page(5), PTE.user | PTE.writable)
    let read = runUser(Stub.readMem, va(5))
    expectEqual(read.status, 0, "ring 3 reads a user page")
    expectEqual(read.value, 0x5555, "and gets its contents")
    expectEqual(runUser(Stub.writeMem, va(5)).status, 0, "ring 3 writes a writable user page")
    expectEqual(x86_load(page(5)), 0x5A, "the write landed")
    // Supervisor page (U/S = 0 in the PTE).
    TestTables.map(va(5), page(5), PTE.writable)
    let supervisor = runUser(Stub.readMem, va(5))
    expectEqual(supervisor.status, 0x100 | 14, "a ring-3 read of a supervisor page raises #PF")
    expectEqual(supervisor.errorCode, 0x5, "error code 5: present, read, user")
    expectEqual(supervisor.faultAddress, va(5), "CR2 is the address")
    expectEqual(runUser(Stub.writeMem, va(5)).errorCode, 0x7, "a ring-3 write: error code 7")
    // U/S = 0 in the PDE covers the PTE's U/S = 1.
    TestTables.map(va(5), page(5), PTE.user | PTE.writable)
    let pde = TestTables.entry(va(5), level: 2)
    pde.pointee &= ~PTE.user
    x86_write_cr3(x86_read_cr3())
    expectEqual(runUser(Stub.readMem, va(5)).errorCode, 0x5, "U/S clear in the PDE makes the page supervisor-only")
    pde.pointee |= PTE.user
    x86_write_cr3(x86_read_cr3())
    // Read-only user page: ring-3 writes fault whatever CR0.WP says.
    TestTables.map(va(5), page(5), PTE.user)
    let cr0 = x86_read_cr0()
    pg_write_cr0(cr0 & ~(1 << 16))
    expectEqual(runUser(Stub.writeMem, va(5)).errorCode, 0x7, "a ring-3 write to a read-only user page faults with CR0.WP clear")
    pg_write_cr0(cr0)
    // Not present from ring 3.
    unmap(va(5))
    let absent = runUser(Stub.readMem, va(5))
    expectEqual(absent.errorCode, 0x4, "a ring-3 read of a not-present page: error code 4")
    // STAC at CPL 3 is #UD (SDM STAC), where SMAP exists.
    if leaf7.ebx & 1 << 20 != 0 {
      expectEqual(runUser(Stub.stac).status, 0x100 | 6, "STAC at CPL 3 raises #UD")
    }
  }

  func umip() throws(TestStop) {
    try require(expect(setUpRing3(), "ring-3 GDT/IDT copies installed"))
    let cr4 = x86_read_cr4()
    expectEqual(runUser(Stub.sgdt).status, 0, "SGDT at CPL 3 runs with CR4.UMIP clear")
    guard leaf7.ecx & 1 << 2 != 0 else { try skipTest("CPUID reports no UMIP") }
    pg_write_cr4(cr4 | 1 << 11)
    let sgdt = runUser(Stub.sgdt)
    let smsw = runUser(Stub.smsw)
    pg_write_cr4(cr4)
    expectEqual(sgdt.status, 0x100 | 13, "SGDT at CPL 3 with CR4.UMIP raises #GP(0)")
    expectEqual(sgdt.errorCode, 0, "error code 0")
    expectEqual(smsw.status, 0x100 | 13, "SMSW at CPL 3 with CR4.UMIP raises #GP(0)")
    expectEqual(x86_read_cr4(), cr4, "CR4 restored")
  }
#endif
