import GuestLib

/// Dynamic address translation for the virtual allocator: the runtime's own
/// tables, in the z/Architecture formats. The primary ASCE (CR1) designates
/// a region-third table (2048 entries of 2 GiB: virtual addresses below
/// 4 TiB); each valid entry points to a segment table (2048 entries of
/// 1 MiB), each valid segment entry to a page table (256 entries of 4 KiB).
/// RAM is identity mapped, so physical and virtual addresses of RAM agree
/// (lowcore, SCCB, stacks, allocator memory), and the virtual allocator's
/// range lies above it. Tables come from the page allocator.
public struct S390PageTables: PageMapper {
  /// The runtime's tables (one set for every CPU).
  public init() {}

  /// Entry bits: invalid region-third entry (I, TT=01), region-third entry
  /// type and length (TT=01, TL=3), invalid segment entry, invalid page.
  static let regionInvalid: UInt64 = 0x20 | 0x04
  static let regionValidBits: UInt64 = 0x04 | 0x03
  static let segmentInvalid: UInt64 = 0x20
  static let pageInvalid: UInt64 = 0x400
  /// ASCE bits: designation type region-third (DT=01), table length 3.
  static let asceBits: UInt64 = 0x04 | 0x03
  /// Virtual addresses this layout can translate.
  static let limit: UInt = 4 << 40

  nonisolated(unsafe) static var regionTable: UInt = 0
  /// A page-table half left over from the identity map (page tables are
  /// 2 KiB: two per page).
  nonisolated(unsafe) static var spareHalf: UInt = 0

  private static func table(_ address: UInt) -> UnsafeMutablePointer<UInt64> {
    UnsafeMutablePointer<UInt64>(bitPattern: address)!
  }

  /// A zeroed-by-pattern table of `entries` entries from the page allocator.
  private static func allocateTable(order: Int, fill: UInt64) -> UInt? {
    guard let pages = GuestMemory.pages, let block = pages.allocate(order: order) else {
      return nil
    }
    let entries = 512 << order
    block.bindMemory(to: UInt64.self, capacity: entries).initialize(repeating: fill, count: entries)
    return UInt(bitPattern: block)
  }

  /// A 2 KiB page table of invalid entries.
  private static func allocatePageTable() -> UInt? {
    if spareHalf != 0 {
      let half = spareHalf
      spareHalf = 0
      return half
    }
    guard let page = allocateTable(order: 0, fill: pageInvalid) else { return nil }
    spareHalf = page + 2048
    return page
  }

  /// The segment-table entry for `virtual`, creating the segment table when
  /// `create`.
  private static func segmentEntry(_ virtual: UInt, create: Bool) -> UnsafeMutablePointer<UInt64>? {
    guard regionTable != 0, virtual < limit else { return nil }
    let region = table(regionTable) + Int((virtual >> 31) & 0x7FF)
    if region.pointee & 0x20 != 0 {
      guard create, let segments = allocateTable(order: 2, fill: segmentInvalid) else { return nil }
      region.pointee = UInt64(segments) | regionValidBits
    }
    let segments = UInt(region.pointee & ~0xFFF)
    return table(segments) + Int((virtual >> 20) & 0x7FF)
  }

  /// The page-table entry for `virtual`, creating tables when `create`.
  private static func pageEntry(_ virtual: UInt, create: Bool) -> UnsafeMutablePointer<UInt64>? {
    guard let segment = segmentEntry(virtual, create: create) else { return nil }
    if segment.pointee & 0x20 != 0 {
      guard create, let pageTable = allocatePageTable() else { return nil }
      segment.pointee = UInt64(pageTable)
    }
    let pageTable = UInt(segment.pointee & ~0x7FF)
    return table(pageTable) + Int((virtual >> 12) & 0xFF)
  }

  /// Builds the tables with RAM identity mapped and turns DAT on (once).
  public static func enable(pages: PageAllocator) -> Bool {
    if regionTable != 0 { return true }
    guard let region = allocateTable(order: 2, fill: regionInvalid) else { return false }
    regionTable = region
    let top = (UInt(BootInfo.memoryBytes) + 0xFFFFF) & ~0xFFFFF
    var segment: UInt = 0
    while segment < top {
      guard let first = pageEntry(segment, create: true) else { return false }
      var index = 0
      while index < 256 {
        first[index] = UInt64(segment + UInt(index) << 12)
        index &+= 1
      }
      segment += 1 << 20
    }
    s390_enable_dat(UInt64(region) | asceBits)
    return true
  }

  public func map(virtual: UInt, physical: UInt) -> Bool {
    guard let entry = S390PageTables.pageEntry(virtual, create: true),
      entry.pointee & S390PageTables.pageInvalid != 0
    else { return false }
    entry.pointee = UInt64(physical & ~0xFFF)
    return true
  }

  public func unmap(virtual: UInt) -> UInt? {
    guard let entry = S390PageTables.pageEntry(virtual, create: false),
      entry.pointee & S390PageTables.pageInvalid == 0
    else { return nil }
    let physical = UInt(entry.pointee & ~0xFFF)
    // IPTE sets the invalid bit and purges the translation from every CPU.
    s390_ipte(UInt64(UInt(bitPattern: entry)), UInt64(virtual))
    entry.pointee = S390PageTables.pageInvalid
    return physical
  }

  public func translate(_ virtual: UInt) -> UInt? {
    guard let entry = S390PageTables.pageEntry(virtual, create: false),
      entry.pointee & S390PageTables.pageInvalid == 0
    else { return nil }
    return UInt(entry.pointee & ~0xFFF) | (virtual & 0xFFF)
  }
}
