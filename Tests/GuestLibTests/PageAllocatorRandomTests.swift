import GuestLib
import Testing

/// Host-side model of the pages of a `TestHeap`, used to check the allocator
/// against independent book-keeping.
private struct Model {
  enum Owner: UInt8 { case none, allocated, reserved }
  let basePfn: UInt
  var owners: [Owner]
  var live: [(address: UInt, order: Int, tag: UInt)] = []
  var reservedRanges: [(pfn: UInt, pages: UInt)] = []
  var allocatedPages: UInt = 0
  var reservedPages: UInt = 0

  init(basePfn: UInt, topPfn: UInt) {
    self.basePfn = basePfn
    owners = Array(repeating: .none, count: Int(topPfn - basePfn))
  }

  func index(_ pfn: UInt) -> Int { Int(pfn - basePfn) }
}

@Suite("PageAllocator random sequences")
struct PageAllocatorRandomTests {
  /// Runs `steps` random operations on `heap`, checking the allocator
  /// against the model after each one and validating every `validateEvery`.
  ///
  /// Every 500 steps it yields its thread: `swift test` runs the suites in
  /// parallel on one cooperative thread per CPU, and a loop that holds one
  /// for seconds stalls the tests that measure time (the run engine's).
  private func run(heap: TestHeap, seed: UInt64, steps: Int, validateEvery: Int, maxOrder: Int)
    async throws
  {
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    let total = a.totalCounts().total
    var rng = SplitMix64(seed: seed)
    var model = Model(basePfn: heap.memory.basePfn, topPfn: heap.memory.topPfn)
    var nextTag: UInt = 1

    func checkFresh(_ p: UnsafeMutableRawPointer, order: Int) throws {
      let pfn = address(p) >> 12
      let size = UInt(1) << UInt(order)
      #expect(pfn & (size - 1) == 0, "natural alignment")
      let area = try #require(a.area(containing: address(p)))
      let bounds = try #require(a.bounds(area: area))
      #expect(pfn >= bounds.usablePfn && pfn + size <= bounds.topPfn, "inside its area")
      for q in pfn..<(pfn + size) {
        #expect(model.owners[model.index(q)] == .none, "overlaps a live block or reserved page")
        model.owners[model.index(q)] = .allocated
      }
      // Tag the first and last words of every page to detect the allocator
      // writing into allocated memory or handing out overlapping blocks.
      for page in 0..<size {
        let base = p + Int(page << 12)
        base.storeBytes(of: nextTag, as: UInt.self)
        base.storeBytes(of: ~nextTag, toByteOffset: 4088, as: UInt.self)
      }
      model.live.append((address(p), order, nextTag))
      nextTag += 1
      model.allocatedPages += size
    }

    for step in 0..<steps {
      if step % 500 == 499 { await Task.yield() }
      let choice = rng.below(100)
      if choice < 40 {
        let order = rng.below(maxOrder + 1)
        if let p = a.allocate(order: order) { try checkFresh(p, order: order) }
      } else if choice < 45 {
        let order = rng.below(3)
        let alignOrder = order + rng.below(6)
        if let p = a.memalign(alignment: UInt(4096) << UInt(alignOrder), size: UInt(4096) << UInt(order)) {
          #expect(address(p) % (UInt(4096) << UInt(alignOrder)) == 0)
          try checkFresh(p, order: order)
        }
      } else if choice < 85 {
        guard !model.live.isEmpty else { continue }
        let index = rng.below(model.live.count)
        let block = model.live[index]
        model.live.swapAt(index, model.live.count - 1)
        model.live.removeLast()
        let size = UInt(1) << UInt(block.order)
        let p = UnsafeMutableRawPointer(bitPattern: block.address)!
        for page in 0..<size {
          let base = p + Int(page << 12)
          #expect(base.load(as: UInt.self) == block.tag, "allocated memory was overwritten")
          #expect(base.load(fromByteOffset: 4088, as: UInt.self) == ~block.tag)
        }
        #expect(a.blockInfo(at: block.address)?.order == block.order)
        #expect(a.free(p) == nil)
        if rng.below(20) == 0 { #expect(a.free(p) != nil, "double free detected") }
        for q in (block.address >> 12)..<((block.address >> 12) + size) {
          model.owners[model.index(q)] = .none
        }
        model.allocatedPages -= size
      } else if choice < 93 {
        // Reserve a random small range: must succeed iff all pages are free.
        let pages = UInt(1 + rng.below(9))
        let pfn = heap.memory.basePfn + UInt(rng.below(model.owners.count - Int(pages)))
        var expectFree = true
        for q in pfn..<(pfn + pages) {
          let area = a.area(containing: q << 12)
          let usable = area.flatMap { a.bounds(area: $0)?.usablePfn } ?? UInt.max
          if q < usable || model.owners[model.index(q)] != .none { expectFree = false }
        }
        let before = freeListSnapshot(a)
        let result = a.reserve(address: pfn << 12, pages: pages)
        #expect((result == nil) == expectFree, "reserve result \(String(describing: result))")
        if result == nil {
          for q in pfn..<(pfn + pages) { model.owners[model.index(q)] = .reserved }
          model.reservedRanges.append((pfn, pages))
          model.reservedPages += pages
        } else {
          #expect(freeListSnapshot(a) == before, "refused reserve changed nothing")
        }
      } else {
        // Unreserve all or part of a reserved range.
        guard !model.reservedRanges.isEmpty else { continue }
        let index = rng.below(model.reservedRanges.count)
        let range = model.reservedRanges[index]
        let skip = UInt(rng.below(Int(range.pages)))
        let count = UInt(1 + rng.below(Int(range.pages - skip)))
        #expect(a.unreserve(address: (range.pfn + skip) << 12, pages: count) == nil)
        for q in (range.pfn + skip)..<(range.pfn + skip + count) { model.owners[model.index(q)] = .none }
        model.reservedPages -= count
        model.reservedRanges.remove(at: index)
        if skip > 0 { model.reservedRanges.append((range.pfn, skip)) }
        if skip + count < range.pages {
          model.reservedRanges.append((range.pfn + skip + count, range.pages - skip - count))
        }
      }
      // Cheap invariants every step.
      let counts = a.totalCounts()
      #expect(counts.free + counts.allocated + counts.reserved == total)
      #expect(counts.allocated == model.allocatedPages)
      #expect(counts.reserved == model.reservedPages)
      if step % validateEvery == 0 { expectValid(a) }
      if counts.allocated != model.allocatedPages { return }  // avoid an avalanche of failures
    }
    expectValid(a)
    // Give everything back: the areas return to their maximal blocks.
    for block in model.live { #expect(a.free(UnsafeMutableRawPointer(bitPattern: block.address)!) == nil) }
    for range in model.reservedRanges { #expect(a.unreserve(address: range.pfn << 12, pages: range.pages) == nil) }
    #expect(a.totalCounts().free == total)
    #expect(freeListSnapshot(a) == initial, "after freeing everything the free lists equal the initial state")
    expectValid(a)
  }

  @Test(arguments: [1, 2, 3, 4] as [UInt64])
  func singleArea(seed: UInt64) async throws {
    try await run(heap: TestHeap(megabytes: 16), seed: seed, steps: 60_000, validateEvery: 500, maxOrder: 5)
  }

  @Test(arguments: [11, 12, 13, 14] as [UInt64])
  func fourAreas(seed: UInt64) async throws {
    try await run(heap: .fourAreas(megabytes: 16), seed: seed, steps: 60_000, validateEvery: 500, maxOrder: 6)
  }

  /// A small heap kept nearly full, so allocations fail and fall back often.
  @Test(arguments: [21, 22] as [UInt64])
  func nearlyFull(seed: UInt64) async throws {
    try await run(heap: .fourAreas(megabytes: 1), seed: seed, steps: 40_000, validateEvery: 50, maxOrder: 3)
  }
}
