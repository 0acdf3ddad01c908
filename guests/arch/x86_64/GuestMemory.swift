/// The guest's memory allocators on x86_64, set up at boot from the
/// Multiboot memory map: the early allocator takes the RAM after the image,
/// hands what it did not use to the page allocator (areas LOWEST < 16 MiB,
/// LOW < 4 GiB, HIGH < 64 GiB, NORMAL), and the heap behind malloc/free
/// switches from the early allocator to the page allocator.
enum GuestMemory {
  nonisolated(unsafe) static var heap = GuestHeap<X86PageTables>()
  nonisolated(unsafe) static var pages: PageAllocator?
  nonisolated(unsafe) static var early: EarlyAllocator?

  /// Start of the virtual allocator's range: above the 64 GiB identity map.
  static let virtualBase: UInt = 0x100_0000_0000
  /// Size of the virtual allocator's range.
  static let virtualSize: UInt = 1 << 30

  static func setUp() {
    let map = BootInfo.memoryMap
    let imageEnd = (UInt(x86_image_end()) + 4095) & ~4095
    var index = 0
    while index < map.count {
      let region = map[index]
      if region.usable && UInt(region.base) <= imageEnd && imageEnd < UInt(region.end) {
        early = EarlyAllocator(base: imageEnd, top: UInt(region.end) & ~4095)
      }
      index &+= 1
    }
    guard let early else { return }
    heap.useEarly(early)
    let remaining = early.takeRemainingPages()
    guard let pages = PageAllocator.bootstrap(
      layout: .x86_64, basePfn: remaining.basePfn, topPfn: remaining.topPfn)
    else { return }
    self.pages = pages
    index = 0
    while index < map.count {
      let region = map[index]
      // RAM above the image's region (e.g. above 4 GiB); low memory below
      // 1 MiB stays out of the allocator.
      if region.usable && UInt(region.base) > imageEnd {
        _ = pages.addMemory(start: UInt(region.base), end: UInt(region.end))
      }
      index &+= 1
    }
    heap.usePages(pages)
  }

  /// Switches malloc to the virtual allocator (creating it on first use).
  static func enableVirtualHeap() -> Bool {
    if heap.virtual == nil {
      guard let pages,
        let allocator = VirtualAllocator(
          virtualBase: virtualBase, virtualTop: virtualBase + virtualSize, pages: pages,
          mapper: X86PageTables())
      else { return false }
      heap.useVirtual(allocator)
      return true
    }
    return heap.activate(.virtual)
  }
}
