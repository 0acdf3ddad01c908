// Ring-3 support for this program (with x86_64/ring3.S; the same as
// usermode's copy): page tables for
// a user region built from a static pool, the user alias of the stub page,
// and r3_run to call a stub in ring 3.

import GuestArch
import GuestLib

#if arch(x86_64)
  @_extern(c, "r3_install") func r3_install() -> UInt64
  @_extern(c, "r3_uninstall") func r3_uninstall()
  @_extern(c, "r3_load_io_tss") func r3_load_io_tss()
  @_extern(c, "r3_run") func r3_run(_ index: Int, _ arg: UInt64, _ rflags: UInt64) -> UInt64
  @_extern(c, "r3_user_alias") func r3_user_alias(_ index: Int) -> UInt64
  @_extern(c, "r3_pt_pool_address") func r3_pt_pool_address() -> UInt64
  @_extern(c, "r3_user_stack_address") func r3_user_stack_address() -> UInt64
  @_extern(c, "r3_user_page_address") func r3_user_page_address() -> UInt64
  @_extern(c, "r3_gdt_address") func r3_gdt_address() -> UInt64

  @_extern(c, "r3_field") func r3_field(_ index: Int) -> UInt64

  /// Page-table entry bits (SDM vol. 3 §4.5).
  enum PTE {
    static let present: UInt64 = 1
    static let writable: UInt64 = 2
    static let user: UInt64 = 4
    static let writeThrough: UInt64 = 8
    static let cacheDisable: UInt64 = 0x10
    static let accessed: UInt64 = 0x20
    static let dirty: UInt64 = 0x40
    static let large: UInt64 = 0x80
    static let global: UInt64 = 0x100
    static let noExecute: UInt64 = 1 << 63
    static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000
  }

  /// Test page tables under one PML4 slot, from ring3.S's 16-page pool.
  enum TestTables {
    nonisolated(unsafe) static var used = 0

    static func table(_ entry: UInt64) -> UnsafeMutablePointer<UInt64> {
      UnsafeMutablePointer<UInt64>(bitPattern: UInt(entry & PTE.addressMask))!
    }

    static func newTable() -> UInt64 {
      precondition(used < 16, "page-table pool exhausted")
      let address = r3_pt_pool_address() + UInt64(used) * 4096
      used += 1
      let page = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address))!
      for index in 0..<512 { page[index] = 0 }
      return address
    }

    /// The entry for `va` at `level` (4 PML4E, 3 PDPTE, 2 PDE, 1 PTE),
    /// creating the tables above it with P | W | U.
    static func entry(_ va: UInt64, level: Int) -> UnsafeMutablePointer<UInt64> {
      var table = table(x86_read_cr3())
      var current = 4
      while true {
        let index = Int((va >> (12 + 9 * UInt64(current - 1))) & 511)
        if current == level { return table + index }
        if table[index] & PTE.present == 0 || table[index] & PTE.large != 0 {
          table[index] = newTable() | PTE.present | PTE.writable | PTE.user
        }
        table = TestTables.table(table[index])
        current -= 1
      }
    }

    /// Maps the 4 KiB page `va` to `pa` with `flags` (P added) and flushes it.
    static func map(_ va: UInt64, _ pa: UInt64, _ flags: UInt64) {
      entry(va, level: 1).pointee = pa | flags | PTE.present
      x86_invlpg(va)
    }
  }

  /// The user region: PML4 slot 4 (2 TiB), far from the identity map
  /// (slot 0) and the virtual heap (slot 2).
  let userCodeVA: UInt64 = 0x200_0000_0000
  let userStackVA: UInt64 = 0x200_0001_0000
  nonisolated(unsafe) var ring3Ready = false

  /// Installs the GDT/IDT copies and maps the stub pages and the stack
  /// (once).
  func setUpRing3() -> Bool {
    if ring3Ready { return true }
    guard r3_install() == 0 else { return false }
    let code = r3_user_page_address()
    TestTables.map(userCodeVA, code, PTE.user)
    TestTables.map(userCodeVA + 4096, code + 4096, PTE.user)
    TestTables.map(userStackVA, r3_user_stack_address(), PTE.user | PTE.writable)
    r3_set_user(userCodeVA, userStackVA + 4096 - 64)
    ring3Ready = true
    return true
  }

  @_extern(c, "r3_set_user") func r3_set_user(_ code: UInt64, _ stackTop: UInt64)

  /// The outcome of one ring-3 call.
  struct Ring3Result {
    /// 0: returned; 100h | vector: faulted.
    var status: UInt64
    var value: UInt64
    var vector: UInt64 { status & 0xFF }
    var faulted: Bool { status != 0 }
    var errorCode: UInt64
    var rip: UInt64
    var faultAddress: UInt64
    var cs: UInt64
  }

  /// RFLAGS for ring 3: bit 1, IOPL as given, IF clear (no interrupt may
  /// arrive while the IDT copy is loaded).
  func userFlags(iopl: UInt64 = 0) -> UInt64 { 0x2 | iopl << 12 }

  func runUser(_ stub: Int, _ arg: UInt64 = 0, iopl: UInt64 = 0) -> Ring3Result {
    let status = r3_run(stub, arg, userFlags(iopl: iopl))
    return Ring3Result(
      status: status, value: r3_field(0), errorCode: r3_field(2), rip: r3_field(3),
      faultAddress: r3_field(4), cs: r3_field(5))
  }
#endif
