import GuestLib
import Testing

/// A free page keeps one flag byte per order (is its node of that order
/// linked?) in its first bytes, which are the caller's data while the page
/// is handed out. Pages freed, unreserved or split off with any content
/// there (all ones here: no flag byte may be taken as it was) must get
/// well-formed flags, and blocks that merging links without reading their
/// page must end in exactly the maximal blocks, in every list order a
/// buddy allocator unlinking at once would have.
@Suite("PageAllocator link flags")
struct PageAllocatorLinkFlagTests {
  /// Fills the first 512 bytes of `pages` pages at `pfn` with ones.
  private func fillWithOnes(_ pfn: UInt, pages: UInt) {
    for page in 0..<pages {
      let base = UnsafeMutableRawPointer(bitPattern: (pfn + page) << 12)!
      for word in 0..<64 { base.storeBytes(of: UInt.max, toByteOffset: word * 8, as: UInt.self) }
    }
  }

  @Test(arguments: [51, 52] as [UInt64])
  func pagesFreedWithAnyContentEndInMaximalBlocks(seed: UInt64) throws {
    let heap = TestHeap(megabytes: 4)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    var rng = SplitMix64(seed: seed)
    var blocks: [(pfn: UInt, order: Int)] = []
    while true {
      var order = rng.below(3)
      var pointer = a.allocate(order: order)
      if pointer == nil {
        order = 0
        pointer = a.allocate(order: 0)
      }
      guard let p = pointer else { break }
      let pfn = UInt(bitPattern: p) >> 12
      fillWithOnes(pfn, pages: UInt(1) << UInt(order))
      blocks.append((pfn, order))
    }
    for i in stride(from: blocks.count - 1, to: 0, by: -1) { blocks.swapAt(i, rng.below(i + 1)) }
    for (index, block) in blocks.enumerated() {
      #expect(a.free(UnsafeMutableRawPointer(bitPattern: block.pfn << 12)!) == nil)
      if index % 97 == 0 { expectValid(a) }
    }
    expectValid(a)
    #expect(freeListSnapshot(a) == initial, "maximal blocks again")
  }

  /// The alloc-bench row (e) pattern: random single pages reserved out of
  /// the maximal blocks (splitting them), filled with ones, then
  /// unreserved in another random order; each merges several levels and
  /// its merged block is linked at the head of an absorbed buddy.
  @Test func unreservedPagesWithAnyContentEndInMaximalBlocks() throws {
    let heap = TestHeap(megabytes: 4)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    let bounds = try #require(a.bounds(area: 0))
    var rng = SplitMix64(seed: 53)
    var chosen: [UInt] = []
    var seen = Set<UInt>()
    while chosen.count < 100 {
      let pfn = bounds.usablePfn + UInt(rng.below(Int(bounds.topPfn - bounds.usablePfn)))
      if seen.insert(pfn).inserted { chosen.append(pfn) }
    }
    for pfn in chosen {
      #expect(a.reserve(address: pfn << 12, pages: 1) == nil)
      fillWithOnes(pfn, pages: 1)
    }
    expectValid(a)
    for i in stride(from: chosen.count - 1, to: 0, by: -1) { chosen.swapAt(i, rng.below(i + 1)) }
    for (index, pfn) in chosen.enumerated() {
      #expect(a.unreserve(address: pfn << 12, pages: 1) == nil)
      if index % 9 == 0 { expectValid(a) }
    }
    expectValid(a)
    #expect(freeListSnapshot(a) == initial, "maximal blocks again")
    // Every page can be handed out again, and none twice.
    var pages = Set<UInt>()
    while let p = a.allocate(order: 0) { #expect(pages.insert(UInt(bitPattern: p)).inserted) }
    #expect(UInt(pages.count) == a.totalCounts().total)
  }
}
