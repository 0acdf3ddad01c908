import GuestLib
import Testing

@Suite("PageAllocator basics")
struct PageAllocatorBasicTests {
  @Test func metadataLivesInsideTheArea() throws {
    let heap = TestHeap(megabytes: 16)
    let a = heap.allocator
    let bounds = try #require(a.bounds(area: 0))
    let pages = heap.memory.topPfn - heap.memory.basePfn
    #expect(bounds.basePfn == heap.memory.basePfn)
    #expect(bounds.topPfn == heap.memory.topPfn)
    #expect(bounds.usablePfn - bounds.basePfn == (pages + 4095) / 4096)
    let counts = try #require(a.counts(area: 0))
    #expect(counts.total == pages - counts.metadata)
    #expect(counts.free == counts.total)
    #expect(counts.allocated == 0 && counts.reserved == 0)
    #expect(a.free(heap.memory.base) == .metadataPage)
    #expect(a.reserve(address: heap.memory.address, pages: 1) == .metadataPage)
    // Initially the usable range is tiled by maximal aligned blocks: 4096
    // pages minus 1 metadata page = 1+2+4+...+2048 pages.
    for order in 0...11 { #expect(a.freeBlockCount(area: 0, order: order) == 1) }
    #expect(a.freeBlockCount(area: 0, order: 12) == 0)
    expectValid(a)
  }

  @Test func everyOrderAllocatesAndFrees() throws {
    let heap = TestHeap(megabytes: 16)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    let total = a.totalCounts()
    for order in 0...11 {
      let p = try #require(a.allocate(order: order), "order \(order)")
      let size = UInt(4096) << UInt(order)
      #expect(address(p) % size == 0, "natural alignment for order \(order)")
      #expect(address(p) >= heap.memory.address + 4096)
      #expect(address(p) + size <= heap.memory.address + UInt(heap.memory.byteCount))
      #expect(a.totalCounts().allocated == UInt(1) << UInt(order))
      #expect(a.blockInfo(at: address(p))?.order == order)
      expectValid(a)
      #expect(a.free(p) == nil)
      #expect(a.totalCounts() == total)
      #expect(freeListSnapshot(a) == initial)
      expectValid(a)
    }
    #expect(a.allocate(order: 12) == nil, "no 4096-page block exists")
    #expect(a.allocate(order: -1) == nil)
    #expect(a.allocate(order: PageAllocator.maxOrder + 1) == nil)
    #expect(a.allocate(pages: 0) == nil)
    let three = try #require(a.allocate(pages: 3))
    #expect(a.blockInfo(at: address(three))?.order == 2, "3 pages round up to order 2")
    a.free(three)
    #expect(freeListSnapshot(a) == initial)
  }

  @Test func splittingPutsUnusedHalvesOnFreeLists() throws {
    let heap = TestHeap(megabytes: 16)
    let a = heap.allocator
    // Take the order-0 ... order-10 blocks away, leaving only the 2048-page block.
    var taken: [UnsafeMutableRawPointer] = []
    for order in 0...10 { taken.append(try #require(a.allocate(order: order))) }
    for order in 0...10 { #expect(a.freeBlockCount(area: 0, order: order) == 0) }
    let p = try #require(a.allocate(order: 0))
    #expect(a.freeBlockCount(area: 0, order: 11) == 0)
    for order in 0...10 {
      #expect(a.freeBlockCount(area: 0, order: order) == 1, "one split half of order \(order)")
    }
    // The page kept is the first page of the split 2048-page block.
    #expect(address(p) % (4096 << 11) == 0)
    expectValid(a)
    #expect(a.free(p) == nil)
    #expect(a.freeBlockCount(area: 0, order: 11) == 1, "halves merged back")
    for q in taken { #expect(a.free(q) == nil) }
    expectValid(a)
  }

  @Test func buddiesCoalesceOnlyWhenBothFree() throws {
    let heap = TestHeap(megabytes: 16)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    // Empty the small lists so the next two pages are buddies from one split.
    var taken: [UnsafeMutableRawPointer] = []
    for order in 0...2 { taken.append(try #require(a.allocate(order: order))) }
    let beforePair = freeListSnapshot(a)
    let x = try #require(a.allocate(order: 0))
    let y = try #require(a.allocate(order: 0))
    #expect(address(x) ^ address(y) == 4096, "x and y are buddies")
    let beforeOrder0 = a.freeBlockCount(area: 0, order: 0)
    #expect(a.free(x) == nil)
    #expect(a.freeBlockCount(area: 0, order: 0) == beforeOrder0 + 1, "no merge while buddy in use")
    #expect(a.blockInfo(at: address(x))?.isFree == true)
    #expect(a.blockInfo(at: address(x))?.order == 0)
    #expect(a.free(y) == nil)
    #expect(a.blockInfo(at: address(y)) == nil || address(y) < address(x), "upper buddy absorbed")
    #expect(freeListSnapshot(a) == beforePair, "merged upward into the block they came from")
    expectValid(a)
    for q in taken { a.free(q) }
    #expect(freeListSnapshot(a) == initial)
  }

  @Test func zeroFlagClearsMemory() throws {
    let heap = TestHeap(megabytes: 16)
    let a = heap.allocator
    let p = try #require(a.allocate(order: 3))
    p.initializeMemory(as: UInt8.self, repeating: 0xA5, count: 8 * 4096)
    a.free(p)
    let q = try #require(a.allocate(order: 3, flags: .zero))
    #expect(q == p)
    let bytes = UnsafeBufferPointer(start: q.assumingMemoryBound(to: UInt8.self), count: 8 * 4096)
    #expect(bytes.allSatisfy { $0 == 0 })
    a.free(q)
  }

  @Test func memalignLargeAlignmentWastesNothing() throws {
    let heap = TestHeap(megabytes: 64, alignment: 1 << 26)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    let freeBefore = a.totalCounts().free
    var blocks: [UnsafeMutableRawPointer] = []
    for _ in 0..<20 {
      let p = try #require(a.memalign(alignment: 2 << 20, size: 4096))
      #expect(address(p) % (2 << 20) == 0)
      #expect(a.blockInfo(at: address(p))?.order == 0)
      blocks.append(p)
      #expect(a.totalCounts().free == freeBefore - UInt(blocks.count), "exactly one page used")
    }
    #expect(Set(blocks.map { address($0) }).count == blocks.count)
    expectValid(a)
    // Odd sizes round up to a power of two of pages.
    let odd = try #require(a.memalign(alignment: 1 << 16, size: 5 * 4096 + 1))
    #expect(address(odd) % (1 << 16) == 0)
    #expect(a.blockInfo(at: address(odd))?.order == 3)
    #expect(a.totalCounts().free == freeBefore - 20 - 8)
    a.free(odd)
    for p in blocks { #expect(a.free(p) == nil) }
    #expect(a.totalCounts().free == freeBefore)
    #expect(freeListSnapshot(a) == initial)
    // Bad alignments and sizes.
    #expect(a.memalign(alignment: 0, size: 4096) == nil)
    #expect(a.memalign(alignment: 3 << 12, size: 4096) == nil)
    #expect(a.memalign(alignment: 4096, size: 0) == nil)
    #expect(a.memalign(alignment: 1 << 60, size: 4096) == nil)
    #expect(a.memalign(alignment: 4096, size: UInt.max) == nil)
    // Small alignments are page alignment.
    let small = try #require(a.memalign(alignment: 8, size: 1))
    #expect(address(small) % 4096 == 0)
    a.free(small)
    #expect(freeListSnapshot(a) == initial)
    expectValid(a)
  }

  @Test func exhaustionReturnsNilAndEverythingComesBack() throws {
    let heap = TestHeap(megabytes: 4, alignment: 1 << 22)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    let total = a.totalCounts().total
    var pages: [UnsafeMutableRawPointer] = []
    while let p = a.allocate(order: 0) { pages.append(p) }
    #expect(UInt(pages.count) == total)
    #expect(a.totalCounts().free == 0)
    #expect(a.memalign(alignment: 4096, size: 1) == nil)
    expectValid(a)
    var rng = SplitMix64(seed: 7)
    pages.shuffle(using: &rng)
    for p in pages { #expect(a.free(p) == nil) }
    #expect(freeListSnapshot(a) == initial)
    #expect(a.allocate(order: 9) != nil, "largest block available again after random-order frees")
    expectValid(a)
  }

  @Test func bootstrapKeepsStateInFirstPage() throws {
    let memory = HostMemory(byteCount: 8 << 20, alignment: 1 << 23)
    let a = try #require(
      PageAllocator.bootstrap(layout: .single, basePfn: memory.basePfn, topPfn: memory.topPfn))
    let bounds = try #require(a.bounds(area: 0))
    #expect(bounds.basePfn == memory.basePfn + 1)
    #expect(a.area(containing: memory.address) == nil)
    #expect(a.free(memory.base) == .outsideAreas)
    let p = try #require(a.allocate(order: 4))
    #expect(a.free(p) == nil)
    expectValid(a)
    #expect(PageAllocator.bootstrap(layout: .single, basePfn: memory.basePfn, topPfn: memory.basePfn + 2) == nil)
  }

  @Test func tooSmallPiecesAndDuplicateAreasAreSkipped() throws {
    let memory = HostMemory(byteCount: 1 << 20, alignment: 1 << 20)
    let state = StateBuffer()
    let a = PageAllocator(stateMemory: state.pointer, layout: .single)
    #expect(a.addMemory(basePfn: memory.basePfn, topPfn: memory.basePfn + 1) == 0, "metadata only")
    #expect(a.bounds(area: 0) == nil)
    #expect(a.addMemory(basePfn: memory.basePfn, topPfn: memory.basePfn + 2) == 1)
    #expect(a.counts(area: 0)?.total == 1)
    #expect(a.addMemory(basePfn: memory.basePfn + 4, topPfn: memory.topPfn) == 0, "area 0 already present")
    #expect(a.initialiseArea(3, basePfn: memory.basePfn + 4, topPfn: memory.topPfn) == false)
    let p = try #require(a.allocate(order: 0))
    #expect(a.allocate(order: 0) == nil)
    a.free(p)
    expectValid(a)
  }
}

@Suite("PageAllocator areas")
struct PageAllocatorAreaTests {
  @Test func layoutArithmeticX86AndS390x() {
    let x86 = AreaLayout.x86_64
    #expect(x86.count == 4)
    let cases: [(UInt, Int)] = [
      (0, 0), ((16 << 20) - 1, 0), (16 << 20, 1), ((4 << 30) - 1, 1), (4 << 30, 2),
      ((64 << 30) - 1, 2), (64 << 30, 3), (UInt.max, 3),
    ]
    for (addr, area) in cases { #expect(x86.area(containingAddress: addr) == area, "x86 \(addr)") }
    #expect(x86.basePfn(ofArea: 1) == (16 << 20) >> 12)
    #expect(x86.topPfn(ofArea: 2) == (64 << 30) >> 12)
    #expect(x86.topPfn(ofArea: 3) == UInt.max)
    let s390 = AreaLayout.s390x
    #expect(s390.count == 2)
    #expect(s390.area(containingAddress: (2 << 30) - 1) == 0)
    #expect(s390.area(containingAddress: 2 << 30) == 1)
    #expect(s390.topPfn(ofArea: 1) == UInt.max)
    #expect(AreaLayout.single.area(containingAddress: UInt.max) == 0)
    #expect(AreaLayout(areaCount: 0) == nil)
    #expect(AreaLayout(areaCount: 5) == nil)
    #expect(AreaLayout(areaCount: 2, boundaries: (4097, 0, 0)) == nil, "misaligned")
    #expect(AreaLayout(areaCount: 2, boundaries: (0, 0, 0)) == nil, "area 1 at 0")
    #expect(AreaLayout(areaCount: 3, boundaries: (8192, 4096, 0)) == nil, "not increasing")
    #expect(AreaLayout(areaCount: 3, boundaries: (4096, 8192, 0)) != nil)
  }

  @Test func masks() {
    #expect(AreaMask.dma32.contains(area: 0) && AreaMask.dma32.contains(area: 1))
    #expect(!AreaMask.dma32.contains(area: 2) && !AreaMask.dma32.contains(area: 3))
    #expect(AreaMask.dma24 == .x86Lowest)
    #expect(AreaMask.dma31 == .s390xLow)
    #expect(AreaMask.s390xNormal == .area(1))
    for area in 0..<4 { #expect(AreaMask.any.contains(area: area)) }
    #expect(!AreaMask.none.contains(area: 0))
    #expect((AreaMask.x86High | .x86Normal) & .x86High == .x86High)
  }

  @Test func addMemorySplitsOverAreas() throws {
    let heap = TestHeap.fourAreas(megabytes: 16)
    let a = heap.allocator
    let quarterPages = UInt(4 << 20) >> 12
    for area in 0..<4 {
      let bounds = try #require(a.bounds(area: area))
      #expect(bounds.basePfn == heap.memory.basePfn + UInt(area) * quarterPages)
      #expect(bounds.topPfn == bounds.basePfn + quarterPages)
      #expect(bounds.usablePfn == bounds.basePfn + 1)
      #expect(a.counts(area: area)?.total == quarterPages - 1)
    }
    #expect(a.totalCounts().total == 4 * (quarterPages - 1))
    expectValid(a)
  }

  @Test func areasAreTriedFromHighestDownAndMasksAreObeyed() throws {
    let heap = TestHeap.fourAreas(megabytes: 16)
    let a = heap.allocator
    func areaOf(_ p: UnsafeMutableRawPointer?) -> Int? { a.area(containing: address(p)) }
    let initial = freeListSnapshot(a)
    var live: [UnsafeMutableRawPointer] = []
    // .any: area 3 first, until it is full.
    let perArea = Int(a.counts(area: 3)!.total)
    for _ in 0..<perArea {
      let p = try #require(a.allocate(order: 0))
      #expect(areaOf(p) == 3)
      live.append(p)
    }
    let next = try #require(a.allocate(order: 0))
    #expect(areaOf(next) == 2, "falls back to the next lower area")
    live.append(next)
    // A mask of areas 0 and 1 prefers area 1.
    let low = try #require(a.allocate(order: 2, areas: .area(0) | .area(1)))
    #expect(areaOf(low) == 1)
    live.append(low)
    #expect(areaOf(a.allocate(order: 0, areas: .area(0)).map { p in live.append(p); return p }) == 0)
    // Area 3 only: exhausted.
    #expect(a.allocate(order: 0, areas: .area(3)) == nil)
    #expect(a.memalign(alignment: 1 << 16, size: 4096, areas: .area(3)) == nil)
    #expect(a.allocate(order: 0, areas: .none) == nil)
    // A block larger than any free block of the allowed areas fails only
    // after all of them were tried.
    #expect(a.allocate(order: 10, areas: .area(3) | .area(2)) == nil)
    #expect(areaOf(a.allocate(order: 9, areas: .area(3) | .area(2)).map { p in live.append(p); return p }) == 2)
    expectValid(a)
    for p in live { #expect(a.free(p) == nil) }
    #expect(freeListSnapshot(a) == initial)
    expectValid(a)
  }

  @Test func blocksNeverCrossAreas() throws {
    // Areas are 3 MiB (not a power of two) so boundary blocks are small.
    let memory = HostMemory(byteCount: 12 << 20, alignment: 1 << 24)
    let state = StateBuffer()
    let m = memory.address
    let layout = try #require(
      AreaLayout(areaCount: 4, boundaries: (m + (3 << 20), m + (6 << 20), m + (9 << 20))))
    let a = PageAllocator(stateMemory: state.pointer, layout: layout)
    #expect(a.addMemory(basePfn: memory.basePfn, topPfn: memory.topPfn) == 4)
    var live: [(UnsafeMutableRawPointer, Int)] = []
    var rng = SplitMix64(seed: 99)
    for _ in 0..<2000 {
      let order = rng.below(6)
      guard let p = a.allocate(order: order) else { continue }
      let area = try #require(a.area(containing: address(p)))
      let bounds = try #require(a.bounds(area: area))
      let first = address(p) >> 12
      #expect(first >= bounds.usablePfn && first + (UInt(1) << UInt(order)) <= bounds.topPfn)
      live.append((p, order))
    }
    expectValid(a)
    for (p, _) in live { a.free(p) }
    expectValid(a)
  }

  /// The real x86_64 layout with memory mapped at the real boundaries
  /// (16 MiB and 64 GiB) in the test process.
  @Test func realX86LayoutAtRealAddresses() throws {
    let mb: UInt = 1 << 20
    guard let low = HostMemory(fixedAt: 12 * mb, byteCount: Int(8 * mb)),
      let high = HostMemory(fixedAt: (64 << 30) - 4 * mb, byteCount: Int(8 * mb))
    else {
      withKnownIssue("cannot map memory at the real boundary addresses") { Issue.record("mmap") }
      return
    }
    let state = StateBuffer()
    let a = PageAllocator(stateMemory: state.pointer, layout: .x86_64)
    #expect(a.addMemory(start: low.address, end: low.address + 8 * mb) == 2)
    #expect(a.addMemory(start: high.address, end: high.address + 8 * mb) == 2)
    #expect(a.bounds(area: 0)?.topPfn == (16 * mb) >> 12)
    #expect(a.bounds(area: 1)?.basePfn == (16 * mb) >> 12)
    #expect(a.bounds(area: 2)?.topPfn == (64 << 30) >> 12)
    #expect(a.bounds(area: 3)?.basePfn == (64 << 30) >> 12)
    let dma24 = try #require(a.allocate(order: 2, areas: .dma24))
    #expect(address(dma24) < 16 * mb)
    let dma32 = try #require(a.allocate(order: 2, areas: .dma32))
    #expect(address(dma32) >= 16 * mb && address(dma32) < 4 << 30, "LOW preferred over LOWEST")
    let any = try #require(a.allocate(order: 2))
    #expect(address(any) >= 64 << 30, "NORMAL preferred")
    let highOnly = try #require(a.allocate(order: 0, areas: .x86High))
    #expect(address(highOnly) < 64 << 30 && address(highOnly) >= 4 << 30)
    for p in [dma24, dma32, any, highOnly] { #expect(a.free(p) == nil) }
    // Nothing may cross the 16 MiB boundary: the largest block below it ends there.
    let big = try #require(a.memalign(alignment: 2 * mb, size: 2 * mb, areas: .dma24))
    #expect(address(big) + 2 * mb <= 16 * mb)
    a.free(big)
    expectValid(a)
  }

  @Test func realS390xLayoutAtRealAddresses() throws {
    let mb: UInt = 1 << 20
    guard let memory = HostMemory(fixedAt: (2 << 30) - 4 * mb, byteCount: Int(8 * mb)) else {
      withKnownIssue("cannot map memory at 2 GiB") { Issue.record("mmap") }
      return
    }
    let state = StateBuffer()
    let a = PageAllocator(stateMemory: state.pointer, layout: .s390x)
    #expect(a.addMemory(basePfn: memory.basePfn, topPfn: memory.topPfn) == 2)
    let low = try #require(a.allocate(order: 0, areas: .dma31))
    #expect(address(low) < 2 << 30)
    let normal = try #require(a.allocate(order: 0))
    #expect(address(normal) >= 2 << 30)
    a.free(low)
    a.free(normal)
    // Filling NORMAL makes .any fall back to LOW.
    var live: [UnsafeMutableRawPointer] = []
    while let p = a.allocate(order: 0, areas: .s390xNormal) { live.append(p) }
    let fallback = try #require(a.allocate(order: 0))
    #expect(address(fallback) < 2 << 30)
    live.append(fallback)
    for p in live { a.free(p) }
    expectValid(a)
  }
}

@Suite("PageAllocator reserve and bad calls")
struct PageAllocatorReserveTests {
  @Test func reserveAndUnreserveAllOrNothing() throws {
    let heap = TestHeap.fourAreas(megabytes: 16)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    let m = heap.memory.address
    // A range crossing into area 2 hits its metadata page: refused.
    #expect(a.reserve(address: m + (8 << 20) - 5 * 4096, pages: 11) == .metadataPage)
    #expect(freeListSnapshot(a) == initial)
    #expect(a.totalCounts().reserved == 0)
    // Odd range ending at the top of area 1 (m + 8 MiB).
    let start = m + (8 << 20) - 11 * 4096
    #expect(a.reserve(address: start, pages: 11) == nil)
    #expect(a.totalCounts().reserved == 11)
    #expect(a.counts(area: 1)?.reserved == 11)
    #expect(a.counts(area: 2)?.reserved == 0)
    #expect(a.isReserved(address: start, pages: 11))
    expectValid(a)
    // Already reserved: refused, nothing changes.
    let snapshot = freeListSnapshot(a)
    #expect(a.reserve(address: start - 4096, pages: 2) == .rangeNotFree)
    #expect(freeListSnapshot(a) == snapshot)
    #expect(a.totalCounts().reserved == 11)
    // Reserved pages cannot be freed or allocated.
    #expect(a.free(UnsafeMutableRawPointer(bitPattern: start)!) == .reservedPage)
    // Partial unreserve of the middle, then a range that is partly free is refused.
    #expect(a.unreserve(address: start + 3 * 4096, pages: 4) == nil)
    #expect(a.totalCounts().reserved == 7)
    #expect(!a.isReserved(address: start, pages: 11))
    #expect(a.isReserved(address: start, pages: 3))
    expectValid(a)
    let snapshot2 = freeListSnapshot(a)
    #expect(a.unreserve(address: start, pages: 11) == .rangeNotReserved)
    #expect(freeListSnapshot(a) == snapshot2)
    #expect(a.totalCounts().reserved == 7)
    #expect(a.unreserve(address: start, pages: 3) == nil)
    #expect(a.unreserve(address: start + 7 * 4096, pages: 4) == nil)
    #expect(a.totalCounts().reserved == 0)
    #expect(freeListSnapshot(a) == initial, "everything coalesced back")
    expectValid(a)
  }

  @Test func reserveRefusedWhenAnyPageAllocated() throws {
    let heap = TestHeap(megabytes: 16)
    let a = heap.allocator
    let p = try #require(a.memalign(alignment: 1 << 20, size: 4 * 4096))
    #expect(address(p) % (1 << 20) == 0)
    let snapshot = freeListSnapshot(a)
    let counts = a.totalCounts()
    // Range of 64 pages containing the allocated block somewhere in the middle.
    let start = address(p) - 17 * 4096
    #expect(a.reserve(address: start, pages: 64) == .rangeNotFree)
    #expect(freeListSnapshot(a) == snapshot)
    #expect(a.totalCounts() == counts)
    // Just before the block: fine.
    #expect(a.reserve(address: start, pages: 17) == nil)
    #expect(a.reserve(address: address(p) + 4 * 4096, pages: 9) == nil)
    #expect(a.totalCounts().reserved == 26)
    expectValid(a)
    // Allocations never return reserved pages.
    var live: [UnsafeMutableRawPointer] = []
    while let q = a.allocate(order: 0) {
      #expect(!a.isReserved(address: address(q), pages: 1))
      live.append(q)
    }
    #expect(UInt(live.count) == a.totalCounts().total - 26 - 4)
    for q in live { a.free(q) }
    #expect(a.unreserve(address: start, pages: 17) == nil)
    #expect(a.unreserve(address: address(p) + 4 * 4096, pages: 9) == nil)
    a.free(p)
    expectValid(a)
  }

  @Test func reserveEveryFreePageOfABlockOneByOne() throws {
    let heap = TestHeap(megabytes: 4, alignment: 1 << 22)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    let bounds = try #require(a.bounds(area: 0))
    var rng = SplitMix64(seed: 3)
    var pfns = Array(bounds.usablePfn..<bounds.topPfn)
    pfns.shuffle(using: &rng)
    for pfn in pfns { #expect(a.reserve(address: pfn << 12, pages: 1) == nil) }
    #expect(a.totalCounts().free == 0)
    #expect(a.allocate(order: 0) == nil)
    expectValid(a)
    pfns.shuffle(using: &rng)
    for pfn in pfns { #expect(a.unreserve(address: pfn << 12, pages: 1) == nil) }
    #expect(freeListSnapshot(a) == initial)
    expectValid(a)
  }

  @Test func badCallsReturnErrorsAndChangeNothing() throws {
    let heap = TestHeap(megabytes: 16)
    let a = heap.allocator
    let block = try #require(a.allocate(order: 3))
    let other = try #require(a.allocate(order: 0))
    let reservedAddress = address(other) + 64 * 4096
    #expect(a.reserve(address: reservedAddress, pages: 2) == nil)
    let snapshot = freeListSnapshot(a)
    let counts = a.totalCounts()
    func ptr(_ address: UInt) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: address)! }
    let outside = HostMemory(byteCount: 4096, alignment: 4096)
    #expect(a.free(block + 8) == .misaligned)
    #expect(a.free(block + 4096) == .notBlockStart, "interior page")
    #expect(a.free(outside.base) == .outsideAreas)
    #expect(a.free(heap.memory.base) == .metadataPage)
    #expect(a.free(ptr(reservedAddress)) == .reservedPage)
    #expect(a.free(ptr(reservedAddress + 4096)) == .reservedPage)
    let freeHead = ptr(heap.memory.address + 512 * 4096)
    #expect(a.blockInfo(at: address(freeHead))?.isFree == true)
    #expect(a.free(freeHead) == .doubleFree, "free block")
    #expect(a.reserve(address: address(block) + 1, pages: 1) == .misaligned)
    #expect(a.reserve(address: address(block), pages: 0) == .invalidArgument)
    #expect(a.reserve(address: UInt.max & ~4095, pages: 2) == .invalidArgument, "overflow")
    #expect(a.reserve(address: outside.address, pages: 1) == .outsideAreas)
    #expect(a.reserve(address: heap.memory.address + UInt(heap.memory.byteCount) - 4096, pages: 2) == .outsideAreas)
    #expect(a.reserve(address: address(block) + 4096, pages: 1) == .rangeNotFree)
    #expect(a.unreserve(address: address(block), pages: 1) == .rangeNotReserved)
    #expect(a.unreserve(address: reservedAddress, pages: 3) == .rangeNotReserved)
    #expect(a.unreserve(address: heap.memory.address, pages: 1) == .metadataPage)
    #expect(a.unreserve(address: outside.address, pages: 1) == .outsideAreas)
    #expect(a.unreserve(address: 12, pages: 1) == .misaligned)
    #expect(freeListSnapshot(a) == snapshot)
    #expect(a.totalCounts() == counts)
    expectValid(a)
    // Double free of a block that was then merged with its buddy.
    #expect(a.free(block) == nil)
    let again = a.free(block)
    #expect(again == .doubleFree || again == .notBlockStart)
    #expect(a.free(other) == nil)
    #expect(a.free(other) != nil)
    expectValid(a)
    #expect(a.unreserve(address: reservedAddress, pages: 2) == nil)
    expectValid(a)
  }
}
