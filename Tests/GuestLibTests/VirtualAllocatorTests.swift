import GuestLib
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// "Physical memory" backed by a shared memory file, so that pages can be
/// really mapped a second time at virtual addresses.
final class SharedPhysicalMemory: @unchecked Sendable {
  let fd: Int32
  let base: UnsafeMutableRawPointer
  let byteCount: Int

  init(megabytes: Int) throws {
    byteCount = megabytes << 20
    let name = "/tmp/guestlib-phys-\(getpid())-\(UInt.random(in: 0..<UInt.max))"
    fd = open(name, O_RDWR | O_CREAT | O_EXCL, 0o600)
    try #require(fd >= 0)
    unlink(name)
    try #require(ftruncate(fd, off_t(byteCount)) == 0)
    let mapped = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
    try #require(mapped != MAP_FAILED && mapped != nil)
    base = mapped!
  }

  deinit {
    munmap(base, byteCount)
    close(fd)
  }

  var address: UInt { UInt(bitPattern: base) }
}

/// A `PageMapper` over host memory: maps a virtual page to a physical page
/// by mapping the same file page at the virtual address (real aliasing).
final class HostPageMapper: PageMapper {
  let physical: SharedPhysicalMemory
  let virtualBase: UnsafeMutableRawPointer
  let virtualBytes: Int
  var table: [UInt: UInt] = [:]
  var mapCalls = 0
  var failAfter: Int? = nil

  init(physical: SharedPhysicalMemory, virtualMegabytes: Int) throws {
    self.physical = physical
    virtualBytes = virtualMegabytes << 20
    let reserved = mmap(nil, virtualBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    try #require(reserved != MAP_FAILED && reserved != nil)
    virtualBase = reserved!
  }

  deinit { munmap(virtualBase, virtualBytes) }

  var virtualAddress: UInt { UInt(bitPattern: virtualBase) }

  func map(virtual: UInt, physical address: UInt) -> Bool {
    mapCalls += 1
    if let limit = failAfter, mapCalls > limit { return false }
    guard table[virtual] == nil, address >= physical.address,
      address - physical.address < UInt(physical.byteCount)
    else { return false }
    let result = mmap(
      UnsafeMutableRawPointer(bitPattern: virtual), 4096, PROT_READ | PROT_WRITE,
      MAP_SHARED | MAP_FIXED, physical.fd, off_t(address - physical.address))
    guard result != MAP_FAILED else { return false }
    table[virtual] = address
    return true
  }

  func unmap(virtual: UInt) -> UInt? {
    guard let address = table.removeValue(forKey: virtual) else { return nil }
    _ = mmap(
      UnsafeMutableRawPointer(bitPattern: virtual), 4096, PROT_NONE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0)
    return address
  }

  func translate(_ virtual: UInt) -> UInt? {
    table[virtual & ~4095].map { $0 + (virtual & 4095) }
  }
}

/// A page allocator over shared physical memory plus a virtual allocator.
struct VirtualFixture {
  let physical: SharedPhysicalMemory
  let state: StateBuffer
  let pages: PageAllocator
  let mapper: HostPageMapper
  let virtual: VirtualAllocator<HostPageMapper>

  init(physicalMegabytes: Int = 8, virtualMegabytes: Int = 4) throws {
    physical = try SharedPhysicalMemory(megabytes: physicalMegabytes)
    state = StateBuffer()
    pages = PageAllocator(stateMemory: state.pointer, layout: .single)
    pages.addMemory(start: physical.address, end: physical.address + UInt(physical.byteCount))
    mapper = try HostPageMapper(physical: physical, virtualMegabytes: virtualMegabytes)
    virtual = try #require(
      VirtualAllocator(
        virtualBase: mapper.virtualAddress,
        virtualTop: mapper.virtualAddress + UInt(virtualMegabytes << 20), pages: pages, mapper: mapper))
  }
}

@Suite("VirtualAllocator")
struct VirtualAllocatorTests {
  @Test func onePageAllocationsUseNoMetadataPage() throws {
    let f = try VirtualFixture()
    let free0 = f.pages.totalCounts().free
    let p = try #require(f.virtual.allocate(size: 100))
    #expect(f.pages.totalCounts().free == free0 - 1, "one physical page, no header")
    #expect(f.virtual.usedPages == 1)
    #expect(f.virtual.allocationPages(p) == 1)
    let q = try #require(f.virtual.allocate(size: 4096))
    #expect(f.pages.totalCounts().free == free0 - 2)
    #expect(address(q) == address(p) + 4096, "adjacent single pages need no gap")
    // Data written through the virtual address is in the physical page.
    p.storeBytes(of: 0xDEAD_BEEF, as: UInt32.self)
    let phys = try #require(f.mapper.translate(address(p)))
    #expect(f.pages.blockInfo(at: phys)?.isFree == false)
    #expect(UnsafeRawPointer(bitPattern: phys)!.load(as: UInt32.self) == 0xDEAD_BEEF)
    #expect(f.virtual.free(p) == nil)
    #expect(f.virtual.free(q) == nil)
    #expect(f.pages.totalCounts().free == free0)
    #expect(f.mapper.table.isEmpty)
    expectValid(f.pages)
  }

  @Test func multiPageAllocationsUseExactlyOneHeaderPage() throws {
    let f = try VirtualFixture()
    let free0 = f.pages.totalCounts().free
    for pages in [2, 3, 17] as [UInt] {
      let p = try #require(f.virtual.allocate(size: pages * 4096 - 1))
      #expect(f.pages.totalCounts().free == free0 - pages - 1, "\(pages) pages + 1 header")
      #expect(f.virtual.allocationPages(p) == pages)
      #expect(f.mapper.translate(address(p) - 4096) != nil, "header page mapped just before")
      #expect((p - 16).load(as: UInt.self) == pages)
      // Whole range usable.
      for page in 0..<Int(pages) { (p + page * 4096).storeBytes(of: UInt(page), as: UInt.self) }
      for page in 0..<Int(pages) { #expect((p + page * 4096).load(as: UInt.self) == UInt(page)) }
      #expect(f.virtual.free(p + 4096) == .notAllocationStart)
      #expect(f.virtual.free(p - 4096) == .notAllocationStart, "header page")
      #expect(f.virtual.free(p) == nil)
      #expect(f.pages.totalCounts().free == free0)
    }
    #expect(f.virtual.liveAllocations == 0)
    expectValid(f.pages)
  }

  @Test func alignmentAndReuseOfFreedRanges() throws {
    let f = try VirtualFixture()
    let a = try #require(f.virtual.memalign(alignment: 1 << 16, size: 4096))
    #expect(address(a) % (1 << 16) == 0)
    let b = try #require(f.virtual.memalign(alignment: 1 << 16, size: 3 * 4096))
    #expect(address(b) % (1 << 16) == 0)
    let c = try #require(f.virtual.allocate(size: 5 * 4096))
    #expect(f.virtual.free(b) == nil)
    let d = try #require(f.virtual.memalign(alignment: 1 << 16, size: 2 * 4096))
    #expect(d == b, "freed range reused first-fit")
    #expect(f.virtual.memalign(alignment: 3 << 12, size: 4096) == nil)
    #expect(f.virtual.allocate(size: 0) == nil)
    for p in [a, c, d] { #expect(f.virtual.free(p) == nil) }
    #expect(f.virtual.usedPages == 0)
  }

  @Test func exhaustionAndMapperFailureRollBack() throws {
    let f = try VirtualFixture(physicalMegabytes: 8, virtualMegabytes: 1)
    let free0 = f.pages.totalCounts().free
    #expect(f.virtual.allocate(size: 256 * 4096) == nil, "needs 257 pages of a 256-page range")
    #expect(f.pages.totalCounts().free == free0)
    let big = try #require(f.virtual.allocate(size: 255 * 4096))
    #expect(f.virtual.allocate(size: 1) == nil)
    #expect(f.virtual.free(big) == nil)
    // The mapper fails on the third map: everything is given back.
    f.mapper.mapCalls = 0
    f.mapper.failAfter = 2
    #expect(f.virtual.allocate(size: 4 * 4096) == nil)
    #expect(f.pages.totalCounts().free == free0)
    #expect(f.mapper.table.isEmpty)
    #expect(f.virtual.usedPages == 0 && f.virtual.liveAllocations == 0)
    f.mapper.failAfter = nil
    let again = try #require(f.virtual.allocate(size: 4 * 4096))
    #expect(f.virtual.free(again) == nil)
    expectValid(f.pages)
  }

  @Test func badFreesAreRefused() throws {
    let f = try VirtualFixture()
    let p = try #require(f.virtual.allocate(size: 4096))
    let q = try #require(f.virtual.allocate(size: 2 * 4096))
    let used = f.virtual.usedPages
    #expect(f.virtual.free(p + 8) == .misaligned)
    #expect(f.virtual.free(UnsafeMutableRawPointer(bitPattern: f.virtual.virtualTop)!) == .outsideRange)
    #expect(f.virtual.free(UnsafeMutableRawPointer(bitPattern: f.virtual.virtualTop + (1 << 20))!) == .outsideRange)
    #expect(f.virtual.free(q + 8192) == .notAllocated)
    // A forged header is detected.
    (q - 8).storeBytes(of: 0, as: UInt.self)
    #expect(f.virtual.free(q) == .corruptedMetadata)
    (q - 8).storeBytes(of: VirtualAllocator<HostPageMapper>.headerMagic, as: UInt.self)
    #expect(f.virtual.usedPages == used)
    #expect(f.virtual.free(p) == nil)
    #expect(f.virtual.free(p) == .notAllocated, "double free")
    #expect(f.virtual.free(q) == nil)
    #expect(f.virtual.usedPages == 0)
  }

  @Test func randomVirtualAllocations() throws {
    let f = try VirtualFixture(physicalMegabytes: 8, virtualMegabytes: 8)
    let free0 = f.pages.totalCounts().free
    var rng = SplitMix64(seed: 5)
    var live: [(UnsafeMutableRawPointer, UInt, UInt)] = []
    var expectedPhysical: UInt = 0
    for step in 0..<4000 {
      if rng.below(2) == 0 || live.isEmpty {
        let pages = UInt(1 + rng.below(rng.below(4) == 0 ? 12 : 2))
        if let p = f.virtual.allocate(size: pages * 4096) {
          p.storeBytes(of: UInt(step), as: UInt.self)
          live.append((p, pages, UInt(step)))
          expectedPhysical += pages + (pages > 1 ? 1 : 0)
        }
      } else {
        let index = rng.below(live.count)
        let (p, pages, tag) = live.remove(at: index)
        #expect(p.load(as: UInt.self) == tag)
        #expect(f.virtual.allocationPages(p) == pages)
        #expect(f.virtual.free(p) == nil)
        expectedPhysical -= pages + (pages > 1 ? 1 : 0)
      }
      #expect(f.pages.totalCounts().free == free0 - expectedPhysical)
      #expect(f.virtual.usedPages == expectedPhysical)
    }
    for (p, _, _) in live { #expect(f.virtual.free(p) == nil) }
    #expect(f.pages.totalCounts().free == free0)
    expectValid(f.pages)
  }
}
