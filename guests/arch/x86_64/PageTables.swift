import GuestLib

/// The x86_64 4-level page tables the boot code built (identity map of the
/// first 64 GiB with 2 MiB pages), extended with 4 KiB mappings for the
/// virtual allocator. Missing tables come from the page allocator.
public struct X86PageTables: PageMapper {
  /// The tables of the running CPU (CR3).
  public init() {}

  private static let present: UInt64 = 1
  private static let writable: UInt64 = 2
  private static let huge: UInt64 = 0x80
  private static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000

  private static func table(_ entry: UInt64) -> UnsafeMutablePointer<UInt64> {
    UnsafeMutablePointer<UInt64>(bitPattern: UInt(entry & addressMask))!
  }

  /// The page-table entry for `virtual`, creating tables when `create`.
  private func leaf(_ virtual: UInt, create: Bool) -> UnsafeMutablePointer<UInt64>? {
    var table = X86PageTables.table(x86_read_cr3())
    var shift: UInt = 39
    while shift > 12 {
      let index = Int((virtual >> shift) & 511)
      var entry = table[index]
      if entry & X86PageTables.present == 0 {
        guard create, let pages = GuestMemory.pages,
          let page = pages.allocate(order: 0, flags: .zero)
        else { return nil }
        entry = UInt64(UInt(bitPattern: page)) | X86PageTables.present | X86PageTables.writable
        table[index] = entry
      }
      if entry & X86PageTables.huge != 0 { return nil }
      table = X86PageTables.table(entry)
      shift -= 9
    }
    return table + Int((virtual >> 12) & 511)
  }

  public func map(virtual: UInt, physical: UInt) -> Bool {
    guard let entry = leaf(virtual, create: true), entry.pointee & X86PageTables.present == 0
    else { return false }
    entry.pointee = UInt64(physical) | X86PageTables.present | X86PageTables.writable
    return true
  }

  public func unmap(virtual: UInt) -> UInt? {
    guard let entry = leaf(virtual, create: false), entry.pointee & X86PageTables.present != 0
    else { return nil }
    let physical = UInt(entry.pointee & X86PageTables.addressMask)
    entry.pointee = 0
    x86_invlpg(UInt64(virtual))
    return physical
  }

  public func translate(_ virtual: UInt) -> UInt? {
    guard let entry = leaf(virtual, create: false), entry.pointee & X86PageTables.present != 0
    else { return nil }
    return UInt(entry.pointee & X86PageTables.addressMask) | (virtual & 0xFFF)
  }
}
