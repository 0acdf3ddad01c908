// Ring-3 support for test programs (with ring3.S): page tables for a user
// region built from a static pool, the user alias of the stub page, and
// r3_run to call a stub in ring 3. A program puts its stubs in section
// `.text.r3user` and lists their addresses in a `u_table` (see ring3.S).

#if arch(x86_64)
  @_extern(c, "r3_install") func r3_install() -> UInt64
  @_extern(c, "r3_run") func r3_run(_ index: Int, _ arg: UInt64, _ rflags: UInt64) -> UInt64
  @_extern(c, "r3_pt_pool_address") func r3_pt_pool_address() -> UInt64
  @_extern(c, "r3_user_stack_address") func r3_user_stack_address() -> UInt64
  @_extern(c, "r3_user_page_address") func r3_user_page_address() -> UInt64
  @_extern(c, "r3_field") func r3_field(_ index: Int) -> UInt64
  @_extern(c, "r3_set_user") func r3_set_user(_ code: UInt64, _ stackTop: UInt64)

  /// Loads the TSS copy whose I/O permission bitmap is `r3_io_bitmap`
  /// (ring3.S), so that ring-3 port accesses are checked against it.
  @_extern(c, "r3_load_io_tss") public func r3_load_io_tss()

  /// The user (ring-3) address of stub `index` of the program's `u_table`.
  @_extern(c, "r3_user_alias") public func r3_user_alias(_ index: Int) -> UInt64

  /// Page-table entry bits (SDM vol. 3 §4.5).
  public enum PTE {
    /// P: the entry maps something.
    public static let present: UInt64 = 1
    /// R/W: writes allowed.
    public static let writable: UInt64 = 2
    /// U/S: user-mode accesses allowed.
    public static let user: UInt64 = 4
    /// PWT: write-through.
    public static let writeThrough: UInt64 = 8
    /// PCD: cache disabled.
    public static let cacheDisable: UInt64 = 0x10
    /// A: set by the processor on an access.
    public static let accessed: UInt64 = 0x20
    /// D: set by the processor on a write (leaf entries).
    public static let dirty: UInt64 = 0x40
    /// PS: a large page (PDPTE / PDE).
    public static let large: UInt64 = 0x80
    /// G: global translation (leaf entries).
    public static let global: UInt64 = 0x100
    /// XD: instruction fetches not allowed (with EFER.NXE).
    public static let noExecute: UInt64 = 1 << 63
    /// The physical-address bits of an entry (51:12).
    public static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000
  }

  /// Test page tables under one PML4 slot, from ring3.S's 16-page pool.
  public enum TestTables {
    nonisolated(unsafe) static var used = 0

    /// The table an entry points to (its address bits as a pointer).
    public static func table(_ entry: UInt64) -> UnsafeMutablePointer<UInt64> {
      UnsafeMutablePointer<UInt64>(bitPattern: UInt(entry & PTE.addressMask))!
    }

    /// A zeroed page from the pool (traps when the 16 pages are used up).
    public static func newTable() -> UInt64 {
      precondition(used < 16, "page-table pool exhausted")
      let address = r3_pt_pool_address() + UInt64(used) * 4096
      used += 1
      let page = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address))!
      for index in 0..<512 { page[index] = 0 }
      return address
    }

    /// The entry for `va` at `level` (4 PML4E, 3 PDPTE, 2 PDE, 1 PTE),
    /// creating the tables above it with P | W | U.
    public static func entry(_ va: UInt64, level: Int) -> UnsafeMutablePointer<UInt64> {
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
    public static func map(_ va: UInt64, _ pa: UInt64, _ flags: UInt64) {
      entry(va, level: 1).pointee = pa | flags | PTE.present
      x86_invlpg(va)
    }
  }

  /// The user region: PML4 slot 4 (2 TiB), far from the identity map
  /// (slot 0) and the virtual heap (slot 2). Two code pages (r3_user_page
  /// and the next; linker.ld asserts the user code fits) and one stack page.
  let userCodeVA: UInt64 = 0x200_0000_0000
  let userStackVA: UInt64 = 0x200_0001_0000
  nonisolated(unsafe) var ring3Ready = false

  /// Installs the GDT/IDT copies and maps the stub pages and the stack
  /// (once); false when ring3.S could not install its tables.
  public func setUpRing3() -> Bool {
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

  /// The outcome of one ring-3 call.
  public struct Ring3Result {
    /// 0: returned; 100h | vector: faulted.
    public var status: UInt64
    /// The stub's return value (RAX).
    public var value: UInt64
    /// The exception vector when `faulted`.
    public var vector: UInt64 { status & 0xFF }
    /// Whether the call ended in an exception rather than a return.
    public var faulted: Bool { status != 0 }
    /// The exception's error code (0 for vectors without one).
    public var errorCode: UInt64
    /// The faulting RIP.
    public var rip: UInt64
    /// CR2 at the fault (page faults).
    public var faultAddress: UInt64
    /// The CS saved by the fault.
    public var cs: UInt64

    /// A result with every field given (e.g. a placeholder before a call).
    public init(
      status: UInt64, value: UInt64, errorCode: UInt64, rip: UInt64, faultAddress: UInt64,
      cs: UInt64
    ) {
      self.status = status
      self.value = value
      self.errorCode = errorCode
      self.rip = rip
      self.faultAddress = faultAddress
      self.cs = cs
    }
  }

  /// RFLAGS for ring 3: bit 1, IOPL as given, IF clear (no interrupt may
  /// arrive while the IDT copy is loaded).
  public func userFlags(iopl: UInt64 = 0) -> UInt64 { 0x2 | iopl << 12 }

  /// Runs stub `stub` of the program's `u_table` in ring 3 with `arg` in
  /// RDI and RFLAGS.IOPL = `iopl` (call `setUpRing3()` first).
  public func runUser(_ stub: Int, _ arg: UInt64 = 0, iopl: UInt64 = 0) -> Ring3Result {
    let status = r3_run(stub, arg, userFlags(iopl: iopl))
    return Ring3Result(
      status: status, value: r3_field(0), errorCode: r3_field(2), rip: r3_field(3),
      faultAddress: r3_field(4), cs: r3_field(5))
  }
#endif
