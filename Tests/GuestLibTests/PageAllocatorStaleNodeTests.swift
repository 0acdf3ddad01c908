import GuestLib
import Testing

/// Lazy removal of merged blocks from the free lists: an absorbed buddy's
/// list node stays linked but stale until it is found at the front of a
/// list, its page is handed out, or its page gets a node of the same order
/// again. These tests check that this changes nothing a caller can see: the
/// same blocks in the same order as a buddy allocator that unlinks at once,
/// no list node in handed-out memory, no reserved page handed out, and a
/// full free still ends in maximal blocks.
@Suite("PageAllocator stale free-list nodes")
struct PageAllocatorStaleNodeTests {
  /// A plain buddy allocator over one area that unlinks merged blocks at
  /// once: free lists are arrays whose last element is the front.
  private struct EagerModel {
    enum State: Equatable { case free, allocated, reserved }
    let usable: UInt
    let top: UInt
    var lists: [[UInt]] = Array(repeating: [], count: PageAllocator.maxOrder + 1)
    var heads: [UInt: (order: Int, state: State)] = [:]

    init(usable: UInt, top: UInt) {
      self.usable = usable
      self.top = top
      // The maximal naturally aligned blocks, lowest first (as the area is
      // initialised).
      var pfn = usable
      while pfn < top {
        var order = 0
        while order < PageAllocator.maxOrder {
          let next = UInt(1) << UInt(order + 1)
          if pfn & (next - 1) != 0 || top - pfn < next { break }
          order += 1
        }
        push(pfn, order)
        pfn += UInt(1) << UInt(order)
      }
    }

    mutating func push(_ pfn: UInt, _ order: Int) {
      lists[order].append(pfn)
      heads[pfn] = (order, .free)
    }

    mutating func remove(_ pfn: UInt, _ order: Int) {
      lists[order].remove(at: lists[order].lastIndex(of: pfn)!)
      heads[pfn] = nil
    }

    mutating func allocate(_ order: Int) -> UInt? {
      for k in order...PageAllocator.maxOrder {
        guard let pfn = lists[k].last else { continue }
        remove(pfn, k)
        var size = k
        while size > order {
          size -= 1
          push(pfn + (UInt(1) << UInt(size)), size)
        }
        heads[pfn] = (order, .allocated)
        return pfn
      }
      return nil
    }

    mutating func insert(_ pfn: UInt, _ order: Int) {
      var start = pfn
      var k = order
      heads[pfn] = nil
      while k < PageAllocator.maxOrder {
        let buddy = start ^ (UInt(1) << UInt(k))
        guard buddy >= usable, buddy < top, let head = heads[buddy], head.order == k,
          head.state == .free
        else { break }
        remove(buddy, k)
        start = min(start, buddy)
        k += 1
      }
      push(start, k)
    }

    func containing(_ pfn: UInt) -> (start: UInt, order: Int)? {
      for k in 0...PageAllocator.maxOrder {
        let candidate = pfn & ~((UInt(1) << UInt(k)) - 1)
        if candidate < usable { return nil }
        if let head = heads[candidate], pfn - candidate < UInt(1) << UInt(head.order) {
          return (candidate, head.order)
        }
      }
      return nil
    }

    /// Reserves the single page `pfn` if it is free; whether it was.
    mutating func reserve(_ pfn: UInt) -> Bool {
      guard let block = containing(pfn), heads[block.start]?.state == .free else { return false }
      while true {
        let block = containing(pfn)!
        remove(block.start, block.order)
        if block.order == 0 {
          heads[pfn] = (0, .reserved)
          return true
        }
        let half = block.order - 1
        push(block.start + (UInt(1) << UInt(half)), half)
        push(block.start, half)
      }
    }
  }

  /// Writes a pattern over the first 512 bytes of every page of a block
  /// handed out, where list nodes live while a page is free: a node left
  /// linked there would break the lists (`validate` reports it).
  private func scribble(_ pfn: UInt, pages: UInt, _ tag: UInt) {
    Self.scribble(pfn, pages: pages, tag)
  }

  private static func scribble(_ pfn: UInt, pages: UInt, _ tag: UInt) {
    for page in 0..<pages {
      let base = UnsafeMutableRawPointer(bitPattern: (pfn + page) << 12)!
      for word in 0..<64 { base.storeBytes(of: tag &* 0x9E37_79B9 &+ UInt(word), toByteOffset: word * 8, as: UInt.self) }
    }
  }

  /// A random sequence's fixture: the allocator over one area beside the
  /// eager model, and the blocks and reserved pages the sequence holds.
  /// Each operation is made on both and checked to agree.
  private struct ModelledRun {
    let heap: TestHeap
    let bounds: PageAreaBounds
    var model: EagerModel
    var rng: SplitMix64
    var live: [(pfn: UInt, order: Int)] = []
    var reserved: [UInt] = []
    var allocator: PageAllocator { heap.allocator }

    init(megabytes: Int, seed: UInt64) throws {
      heap = TestHeap(megabytes: megabytes)
      bounds = try #require(heap.allocator.bounds(area: 0))
      model = EagerModel(usable: bounds.usablePfn, top: bounds.topPfn)
      rng = SplitMix64(seed: seed)
    }

    /// A block of `order` from both (the same one, or none from either);
    /// a block handed out is scribbled over.
    mutating func allocate(_ order: Int, step: Int) {
      let p = allocator.allocate(order: order).map { UInt(bitPattern: $0) >> 12 }
      #expect(p == model.allocate(order), "step \(step): allocate(order: \(order))")
      if let p {
        PageAllocatorStaleNodeTests.scribble(p, pages: UInt(1) << UInt(order), UInt(step))
        live.append((p, order))
      }
    }

    /// Frees the live block at `index` (none: nothing).
    mutating func free(at index: Int) {
      let block = live.remove(at: index)
      #expect(allocator.free(UnsafeMutableRawPointer(bitPattern: block.pfn << 12)!) == nil)
      model.insert(block.pfn, block.order)
    }

    /// Any page of the area.
    mutating func anyPfn() -> UInt {
      bounds.usablePfn + UInt(rng.below(Int(bounds.topPfn - bounds.usablePfn)))
    }

    /// Reserves page `pfn` in both: refused by both or by neither.
    mutating func reserve(_ pfn: UInt, step: Int, scribbling: Bool) {
      let refused = allocator.reserve(address: pfn << 12, pages: 1) != nil
      #expect(refused == !model.reserve(pfn), "step \(step): reserve")
      if !refused {
        if scribbling { PageAllocatorStaleNodeTests.scribble(pfn, pages: 1, UInt(step)) }
        reserved.append(pfn)
      }
    }

    /// Gives back a random reserved page (none: nothing).
    mutating func unreserveOne() {
      guard !reserved.isEmpty else { return }
      let pfn = reserved.remove(at: rng.below(reserved.count))
      #expect(allocator.unreserve(address: pfn << 12, pages: 1) == nil)
      model.heads[pfn] = nil
      model.insert(pfn, 0)
    }

    /// Every free list holds as many blocks as the model's.
    func listsMatch(_ model: EagerModel) -> Bool {
      (0...PageAllocator.maxOrder).allSatisfy {
        allocator.freeBlockCount(area: 0, order: $0) == UInt(model.lists[$0].count)
      }
    }
  }

  @Test(arguments: [31, 32, 33] as [UInt64])
  func handsOutWhatUnlinkingAtOnceWould(seed: UInt64) throws {
    var run = try ModelledRun(megabytes: 8, seed: seed)
    for step in 0..<8000 {
      // Phases that free much (many merges, so many stale nodes) alternate
      // with phases that allocate much (stale nodes met and purged).
      let freeing = (step / 500) % 2 == 1
      let choice = run.rng.below(100)
      if choice < (freeing ? 25 : 60) {
        run.allocate(run.rng.below(4), step: step)
      } else if choice < 92 {
        guard !run.live.isEmpty else { continue }
        run.free(at: run.rng.below(run.live.count))
      } else if choice < 96 {
        run.reserve(run.anyPfn(), step: step, scribbling: true)
      } else {
        run.unreserveOne()
      }
      if step % 250 == 0 {
        #expect(run.listsMatch(run.model), "step \(step): free lists")
        expectValid(run.allocator)
      }
    }
    let a = run.allocator
    for block in run.live { #expect(a.free(UnsafeMutableRawPointer(bitPattern: block.pfn << 12)!) == nil) }
    for pfn in run.reserved { #expect(a.unreserve(address: pfn << 12, pages: 1) == nil) }
    expectValid(a)
    let fresh = EagerModel(usable: run.bounds.usablePfn, top: run.bounds.topPfn)
    #expect(run.listsMatch(fresh), "maximal blocks again")
  }

  /// A block of order 1 to 4 handed out whose one stale interior node is
  /// its upper half's, at every aligned position of its group of sixteen
  /// pages (the purge reads the group's metadata as two words and masks
  /// the block's bytes, see `purgeInteriorInGroups`). Every other page is
  /// in an allocated block of the same order, so the metadata bytes around
  /// the block are 0 but for those blocks' heads: a mask at the wrong
  /// place, or one missing the group's second word, misses the stale node,
  /// which the overwrite then breaks (`validate`).
  @Test(arguments: [1, 2, 3, 4])
  func aBlocksStaleUpperHalfIsPurgedAtEveryPosition(order: Int) throws {
    let heap = TestHeap(megabytes: 2)
    let a = heap.allocator
    let size = UInt(1) << UInt(order)
    var count = 0
    for k in stride(from: order, through: 0, by: -1) {
      while a.allocate(order: k) != nil { count += 1 }
    }
    #expect(count > 16)
    let bounds = try #require(a.bounds(area: 0))
    let group = (bounds.usablePfn + 63) & ~15
    func pointer(_ pfn: UInt) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: pfn << 12)! }
    func pfn(_ pointer: UnsafeMutableRawPointer?) -> UInt? { pointer.map { UInt(bitPattern: $0) >> 12 } }
    for block in stride(from: group, to: group + 16, by: Int(size)) {
      // The block, the only free memory, as two allocated halves; the upper
      // half freed (linked), then the lower one (absorbing it).
      #expect(a.free(pointer(block)) == nil)
      #expect(pfn(a.allocate(order: order - 1)) == block)
      #expect(pfn(a.allocate(order: order - 1)) == block + size / 2)
      #expect(a.free(pointer(block + size / 2)) == nil)
      #expect(a.free(pointer(block)) == nil)
      #expect(pfn(a.allocate(order: order)) == block, "order \(order) at group position \(block - group)")
      scribble(block, pages: size, block)
      expectValid(a)
    }
    #expect(a.allocate(order: 0) == nil, "every page is allocated again")
  }

  /// A single-page allocation that splits a block leaves the single page
  /// split off last unlinked until the next call that needs it linked (the
  /// split half): single-page allocations, larger ones, frees (of its buddy
  /// too), list queries, reservations and unreservations in any order must
  /// see exactly what linking it at once gives.
  @Test(arguments: [61, 62] as [UInt64])
  func singlePagesSplitOffMatchEagerSplitting(seed: UInt64) throws {
    var run = try ModelledRun(megabytes: 4, seed: seed)
    for step in 0..<6000 {
      let choice = run.rng.below(100)
      if choice < 55 {
        run.allocate(choice < 45 ? 0 : 1 + run.rng.below(3), step: step)
      } else if choice < 83 {
        guard !run.live.isEmpty else { continue }
        // Often the newest block: the split half's buddy, or the half.
        run.free(at: run.rng.below(2) == 0 ? run.live.count - 1 : run.rng.below(run.live.count))
      } else if choice < 91 {
        let order = run.rng.below(3)
        #expect(
          run.allocator.freeBlockCount(area: 0, order: order) == UInt(run.model.lists[order].count),
          "step \(step): list \(order)")
      } else if choice < 96 {
        // Often the page after the newest block: the split half.
        let anywhere = run.anyPfn()
        let pfn = run.rng.below(2) == 0 && !run.live.isEmpty ? run.live[run.live.count - 1].pfn + 1 : anywhere
        run.reserve(pfn, step: step, scribbling: false)
      } else {
        run.unreserveOne()
      }
      if step % 200 == 0 { expectValid(run.allocator) }
    }
    expectValid(run.allocator)
  }

  /// The split half is taken only where the allocation would take a page:
  /// not by an allocation restricted to other areas, nor while an allowed
  /// area above it has free pages; a double free of it is refused.
  @Test func theSplitHalfIsTakenOnlyFromItsAreaWhenThatIsTheHighestWithFreePages() throws {
    let heap = TestHeap.fourAreas()
    let a = heap.allocator
    // Each area begins (after its metadata page) with a single page, then
    // blocks of orders 1, 2, ...: take the single pages of areas 3 and 2,
    // so that the next allocation in each splits an order-1 block.
    let single3 = try #require(a.allocate(order: 0))
    let single2 = try #require(a.allocate(order: 0, areas: .area(2)))
    let first = try #require(a.allocate(order: 0))
    #expect(a.area(containing: address(first)) == 3, "allocations start in the highest area")
    #expect(address(first) == address(single3) + 4096)
    // The page after `first` is now the split half, in area 3: an
    // allocation from area 2 only must not take it.
    let lower = try #require(a.allocate(order: 0, areas: .area(2)))
    #expect(address(lower) == address(single2) + 4096)
    // Area 2 now has the split half; with area 3 allowed and free, the
    // allocation comes from area 3 (the front of its list 0: its half).
    let again = try #require(a.allocate(order: 0, areas: .area(2) | .area(3)))
    #expect(address(again) == address(first) + 4096)
    let fromTwo = try #require(a.allocate(order: 0, areas: .area(2)))
    #expect(address(fromTwo) == address(lower) + 4096)
    // A new split half is free: freeing it is a double free.
    let next = try #require(a.allocate(order: 0))
    #expect(a.free(UnsafeMutableRawPointer(bitPattern: address(next) + 4096)!) == .doubleFree)
    #expect(address(try #require(a.allocate(order: 0))) == address(next) + 4096)
    expectValid(a)
    #expect(a.counts(area: 3)?.allocated == 5)
    #expect(a.counts(area: 2)?.allocated == 3)
  }

  /// After a random full free (every merge leaves a stale node), allocating
  /// every page meets and purges them all: it hands out every usable page
  /// but the reserved ones exactly once, with no node left in them, and
  /// freeing everything again ends in the maximal blocks.
  @Test func allocatingAfterAFullFreeNeverHandsOutAReservedPage() throws {
    let heap = TestHeap(megabytes: 8)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    let total = a.totalCounts().total
    var pages: [UInt] = []
    while let p = a.allocate(order: 0) { pages.append(UInt(bitPattern: p)) }
    #expect(UInt(pages.count) == total)
    var rng = SplitMix64(seed: 41)
    for i in stride(from: pages.count - 1, to: 0, by: -1) { pages.swapAt(i, rng.below(i + 1)) }
    for p in pages { #expect(a.free(UnsafeMutableRawPointer(bitPattern: p)!) == nil) }
    #expect(freeListSnapshot(a) == initial)
    expectValid(a)
    // Reserve random pages: each splits a block full of stale nodes.
    var reserved = Set<UInt>()
    for _ in 0..<40 {
      let p = pages[rng.below(pages.count)]
      if a.reserve(address: p, pages: 1) == nil { reserved.insert(p) }
    }
    #expect(reserved.count > 30)
    expectValid(a)
    var handedOut = Set<UInt>()
    var blocks: [UInt] = []
    while true {
      let order = rng.below(2)
      guard let p = a.allocate(order: order) else { break }
      let address = UInt(bitPattern: p)
      blocks.append(address)
      for page in 0..<(UInt(1) << UInt(order)) {
        let pageAddress = address + page << 12
        #expect(!reserved.contains(pageAddress), "handed out a reserved page")
        #expect(handedOut.insert(pageAddress).inserted, "handed out twice")
      }
      scribble(address >> 12, pages: UInt(1) << UInt(order), 7)
    }
    // Only single pages are left when no order-0 or order-1 block is.
    while let p = a.allocate(order: 0) {
      blocks.append(UInt(bitPattern: p))
      #expect(!reserved.contains(UInt(bitPattern: p)), "handed out a reserved page")
      #expect(handedOut.insert(UInt(bitPattern: p)).inserted, "handed out twice")
    }
    #expect(UInt(handedOut.count) + UInt(reserved.count) == total)
    expectValid(a)
    for p in blocks { #expect(a.free(UnsafeMutableRawPointer(bitPattern: p)!) == nil) }
    for p in reserved { #expect(a.unreserve(address: p, pages: 1) == nil) }
    #expect(freeListSnapshot(a) == initial, "maximal blocks again")
    expectValid(a)
  }
}
