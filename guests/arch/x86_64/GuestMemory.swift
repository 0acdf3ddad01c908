import GuestLib

/// The guest's memory allocators on x86_64, set up at boot from the
/// Multiboot memory map: the early allocator takes the RAM after the image,
/// hands what it did not use to the page allocator (areas LOWEST < 16 MiB,
/// LOW < 4 GiB, HIGH < 64 GiB, NORMAL), and the heap behind malloc/free
/// switches from the early allocator to the page allocator.
public enum GuestMemory {
  nonisolated(unsafe) public static var heap = GuestHeap<X86PageTables>()
  nonisolated(unsafe) public internal(set) static var pages: PageAllocator?
  nonisolated(unsafe) public internal(set) static var early: EarlyAllocator?

  /// The page that keeps the reset record across a machine reset
  /// (`GuestPlatform.resetRecordAddress`): conventional memory below the
  /// image, away from the real-mode IVT and BIOS data area (page 0), the
  /// SMP trampoline (the first free page below 1 MiB, page 1) and the
  /// Multiboot information QEMU's option ROM writes at 0x9000. The page
  /// allocator never hands it out. Measured under QEMU 7.2 with qboot, on
  /// `pc` and `q35`: the page keeps the reset record and the 3840 bytes
  /// after it across a QMP `system_reset`.
  public static let resetRecordPage: UInt = 0x8000

  /// Start of the virtual allocator's range: above the 64 GiB identity map.
  public static let virtualBase: UInt = 0x100_0000_0000
  /// Size of the virtual allocator's range.
  public static let virtualSize: UInt = 1 << 30

  static func setUp() {
    let map = BootInfo.memoryMap
    let imageStart = UInt(x86_image_start()) & ~4095
    let imageEnd = (UInt(x86_image_end()) + 4095) & ~4095
    var regionEnd: UInt = 0
    var index = 0
    while index < map.count {
      let region = map[index]
      if region.usable && UInt(region.base) <= imageEnd && imageEnd < UInt(region.end) {
        regionEnd = UInt(region.end) & ~4095
      }
      index &+= 1
    }
    guard regionEnd > imageEnd, let early = EarlyAllocator(base: imageEnd, top: regionEnd) else {
      return
    }
    self.early = early
    heap.useEarly(early)
    guard let state = early.memalign(alignment: 64, size: UInt(PageAllocator.stateByteCount))
    else { return }
    let remaining = early.takeRemainingPages()
    let pages = PageAllocator(stateMemory: state, layout: .x86_64)
    self.pages = pages
    // LOWEST covers all of the first 16 MiB, low memory included (the SMP
    // trampoline needs a page below 1 MiB); what is not RAM, the image and
    // what the early allocator handed out start as reserved pages.
    let lowestTop = min(AreaLayout.x86_64.topPfn(ofArea: 0), remaining.topPfn)
    _ = pages.initialiseArea(0, basePfn: 1, topPfn: lowestTop) { pfn in
      let address = pfn << 12
      if address >= imageStart && pfn < remaining.basePfn { return true }
      if address == resetRecordPage { return true }
      return !isUsable(address)
    }
    let lowestEnd = lowestTop << 12
    if remaining.topPfn << 12 > lowestEnd {
      _ = pages.addMemory(start: max(lowestEnd, remaining.basePfn << 12), end: remaining.topPfn << 12)
    }
    index = 0
    while index < map.count {
      let region = map[index]
      // RAM in other regions above the image's (e.g. above 4 GiB).
      if region.usable && UInt(region.base) > imageEnd {
        _ = pages.addMemory(start: UInt(region.base), end: UInt(region.end))
      }
      index &+= 1
    }
    heap.usePages(pages)
  }

  /// Whether the page at `address` lies wholly in usable RAM.
  public static func isUsable(_ address: UInt) -> Bool {
    let map = BootInfo.memoryMap
    var index = 0
    while index < map.count {
      let region = map[index]
      if region.usable && UInt(region.base) <= address && address + 4096 <= UInt(region.end) {
        return true
      }
      index &+= 1
    }
    return false
  }

  /// Switches malloc to the virtual allocator (creating it on first use).
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func enableVirtualHeap() -> Bool {
    heap.activateVirtual {
      guard let pages else { return nil }
      return VirtualAllocator(
        virtualBase: virtualBase, virtualTop: virtualBase + virtualSize, pages: pages,
        mapper: X86PageTables())
    }
  }
}
