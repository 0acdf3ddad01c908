import GuestLib
import Testing

/// Batched pending merges: single pages freed or unreserved in a row are
/// merged together later (up to a batch), in the order they were freed.
/// These tests check that no caller can tell the difference from merging
/// each page at once.
@Suite("PageAllocator batched merges")
struct PageAllocatorBatchTests {
  /// Frees (or unreserves) many single pages in random order on two
  /// identical heaps; the second is settled after every call, the first only
  /// at the end. Free lists, and every block handed out afterwards, must be
  /// the same.
  @Test(arguments: [(UInt64(11), false), (UInt64(12), true)])
  func batchesEqualMergingAtOnce(seed: UInt64, unreserving: Bool) throws {
    let lazyHeap = TestHeap(megabytes: 8)
    let eagerHeap = TestHeap(megabytes: 8)
    let a = lazyHeap.allocator
    let b = eagerHeap.allocator
    var offsets: [UInt] = []
    if unreserving {
      let bounds = try #require(a.bounds(area: 0))
      var rng = SplitMix64(seed: seed)
      var chosen = Set<UInt>()
      while chosen.count < 300 {
        chosen.insert((bounds.usablePfn + UInt(rng.below(Int(bounds.topPfn - bounds.usablePfn)))) << 12)
      }
      offsets = chosen.map { $0 - lazyHeap.memory.address }
      for offset in offsets {
        #expect(a.reserve(address: lazyHeap.memory.address + offset, pages: 1) == nil)
        #expect(b.reserve(address: eagerHeap.memory.address + offset, pages: 1) == nil)
      }
    } else {
      while let p = a.allocate(order: 0) {
        let q = try #require(b.allocate(order: 0))
        #expect(address(p) - lazyHeap.memory.address == address(q) - eagerHeap.memory.address)
        offsets.append(address(p) - lazyHeap.memory.address)
      }
      var rng = SplitMix64(seed: seed)
      for i in stride(from: offsets.count - 1, to: 0, by: -1) { offsets.swapAt(i, rng.below(i + 1)) }
    }
    for offset in offsets {
      if unreserving {
        #expect(a.unreserve(address: lazyHeap.memory.address + offset, pages: 1) == nil)
        #expect(b.unreserve(address: eagerHeap.memory.address + offset, pages: 1) == nil)
      } else {
        #expect(a.free(UnsafeMutableRawPointer(bitPattern: lazyHeap.memory.address + offset)!) == nil)
        #expect(b.free(UnsafeMutableRawPointer(bitPattern: eagerHeap.memory.address + offset)!) == nil)
      }
      _ = b.largestFreeOrder()  // settles b
      // Counters are exact while merges are pending.
      #expect(a.totalCounts() == b.totalCounts())
    }
    #expect(freeListSnapshot(a) == freeListSnapshot(b))
    #expect(a.totalCounts().free == a.totalCounts().total, "everything free again")
    expectValid(a)
    // Same blocks handed out afterwards, in the same order.
    var rng = SplitMix64(seed: seed &+ 100)
    for _ in 0..<200 {
      let order = rng.below(4)
      let p = a.allocate(order: order)
      let q = b.allocate(order: order)
      #expect(address(p) &- lazyHeap.memory.address == address(q) &- eagerHeap.memory.address)
    }
    expectValid(a)
  }

  /// A full free in random order, never settled between frees, ends in the
  /// maximal blocks of a fresh area.
  @Test func fullFreeInBatchesEndsInMaximalBlocks() throws {
    let heap = TestHeap(megabytes: 16)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    var pages: [UnsafeMutableRawPointer] = []
    while let p = a.allocate(order: 0) { pages.append(p) }
    var rng = SplitMix64(seed: 21)
    for i in stride(from: pages.count - 1, to: 0, by: -1) { pages.swapAt(i, rng.below(i + 1)) }
    for p in pages { #expect(a.free(p) == nil) }
    #expect(a.totalCounts().free == a.totalCounts().total)
    #expect(freeListSnapshot(a) == initial)
    expectValid(a)
  }

  /// Pending pages keep reserved pages out of every allocation, and bad
  /// calls on pending pages are refused as the merged state would refuse
  /// them, with the state intact.
  @Test func pendingPagesNeverHandOutReservedPagesAndRefuseBadCalls() throws {
    let heap = TestHeap(megabytes: 4)
    let a = heap.allocator
    var pages: [UnsafeMutableRawPointer] = []
    while let p = a.allocate(order: 0) { pages.append(p) }
    // Reserve nothing yet: free every other page (no two are buddies, so
    // nothing merges), then a bad call on each kind of pending page.
    let evens = stride(from: 0, to: pages.count, by: 2).map { pages[$0] }
    let odds = stride(from: 1, to: pages.count, by: 2).map { pages[$0] }
    for p in evens { #expect(a.free(p) == nil) }
    let before = a.totalCounts()
    #expect(a.free(evens[0]) == .doubleFree)
    #expect(a.unreserve(address: address(evens[1]), pages: 1) == .rangeNotReserved)
    #expect(a.totalCounts() == before)
    expectValid(a)
    // Reserve some pending (now merged) free pages, free the rest in one go
    // without settling, and check no reserved page is ever handed out.
    let reserved = Set(evens.prefix(40).map { address($0) })
    for page in reserved { #expect(a.reserve(address: page, pages: 1) == nil) }
    for p in odds { #expect(a.free(p) == nil) }
    #expect(a.free(UnsafeMutableRawPointer(bitPattern: reserved.first!)!) == .reservedPage)
    var handed = Set<UInt>()
    var rng = SplitMix64(seed: 5)
    var calls = 0
    while let p = a.allocate(order: rng.below(3)) {
      calls += 1
      #expect(!reserved.contains(address(p)))
      #expect(!handed.contains(address(p)))
      handed.insert(address(p))
      // Free every third block again straight away (a pending page or a
      // block merged at once), keeping batches in flight.
      if calls % 3 == 0 {
        #expect(a.free(p) == nil)
        handed.remove(address(p))
      }
    }
    for page in handed { #expect(a.free(UnsafeMutableRawPointer(bitPattern: page)!) == nil) }
    for page in reserved { #expect(a.unreserve(address: page, pages: 1) == nil) }
    #expect(a.totalCounts().free == a.totalCounts().total)
    expectValid(a)
  }
}
