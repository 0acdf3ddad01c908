import GuestLib

/// The guest's memory allocators on s390x, set up at boot from the memory
/// size SCLP reported: the early allocator takes the RAM after the image,
/// hands what it did not use to the page allocator (areas LOW < 2 GiB and
/// NORMAL), and the heap behind malloc/free switches from the early
/// allocator to the page allocator.
public enum GuestMemory {
  nonisolated(unsafe) public static var heap = GuestHeap<S390PageTables>()
  nonisolated(unsafe) public internal(set) static var pages: PageAllocator?
  nonisolated(unsafe) public internal(set) static var early: EarlyAllocator?

  /// Start of the virtual allocator's range: above every identity-mapped
  /// RAM address (S390PageTables maps RAM 1:1 below `identityLimit`).
  public static let virtualBase: UInt = 0x100_0000_0000
  /// Size of the virtual allocator's range.
  public static let virtualSize: UInt = 1 << 30

  static func setUp() {
    let map = BootInfo.memoryMap
    guard map.count > 0 else { return }
    let region = map[0]
    early = EarlyAllocator(base: UInt(region.base), top: UInt(region.end) & ~4095)
    guard let early else { return }
    heap.useEarly(early)
    let remaining = early.takeRemainingPages()
    guard let pages = PageAllocator.bootstrap(
      layout: .s390x, basePfn: remaining.basePfn, topPfn: remaining.topPfn)
    else { return }
    self.pages = pages
    heap.usePages(pages)
  }

  /// Switches malloc to the virtual allocator (creating it on first use,
  /// which turns on dynamic address translation).
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func enableVirtualHeap() -> Bool {
    heap.activateVirtual {
      guard let pages, S390PageTables.enable(pages: pages) else { return nil }
      return VirtualAllocator(
        virtualBase: virtualBase, virtualTop: virtualBase + virtualSize, pages: pages,
        mapper: S390PageTables())
    }
  }
}
