import GuestLib
import Testing

/// The single-page fast path: a freed page's merge stays pending until the
/// next call, and a single-page allocation may take the page straight back
/// when that is exactly what the merged state would give. These tests check
/// that no caller can tell the difference.
@Suite("PageAllocator single-page fast path")
struct PageAllocatorFastPathTests {
  /// Outcome of one operation, with addresses relative to the heap base.
  private enum Outcome: Equatable {
    case allocated(UInt?)
    case freed(PageAllocatorError?)
    case reserved(PageAllocatorError?)
  }

  /// Runs the same random operations on two identical heaps; after every
  /// operation the second allocator is made to settle (through a query that
  /// completes a pending free), the first is not. Every result, and the free
  /// lists whenever they are compared, must be the same.
  @Test(arguments: [(UInt64(1), false), (UInt64(2), true), (UInt64(3), false), (UInt64(4), true)])
  func behavesLikeTheAlwaysSettledAllocator(seed: UInt64, fourAreas: Bool) throws {
    let fast = fourAreas ? TestHeap.fourAreas() : TestHeap(megabytes: 16)
    let settled = fourAreas ? TestHeap.fourAreas() : TestHeap(megabytes: 16)
    let a = fast.allocator
    let b = settled.allocator
    var rng = SplitMix64(seed: seed)
    var live: [UInt] = []  // offsets of live blocks
    var reserved: [UInt] = []  // offsets of reserved single pages
    var lastFreed: UInt? = nil
    let pageCount = UInt(fast.memory.byteCount >> 12)
    let masks: [AreaMask] = [.any, .area(0), .area(1), .area(2), .area(3), .area(0) | .area(2)]

    func pointer(_ heap: TestHeap, _ offset: UInt) -> UnsafeMutableRawPointer {
      UnsafeMutableRawPointer(bitPattern: heap.memory.address + offset)!
    }
    func offset(_ heap: TestHeap, _ p: UnsafeMutableRawPointer?) -> UInt? {
      p.map { address($0) - heap.memory.address }
    }
    func both(_ body: (TestHeap, PageAllocator) -> Outcome) -> Outcome {
      let first = body(fast, a)
      let second = body(settled, b)
      _ = b.largestFreeOrder()  // settles b
      #expect(first == second)
      return first
    }

    for step in 0..<6000 {
      let choice = rng.below(100)
      let mask = fourAreas ? masks[rng.below(masks.count)] : .any
      switch choice {
      case 0..<35:
        // Free one live block, sometimes followed at once by a page allocation.
        guard !live.isEmpty else { continue }
        let index = rng.below(live.count)
        let block = live.remove(at: index)
        let outcome = both { heap, allocator in .freed(allocator.free(pointer(heap, block))) }
        #expect(outcome == .freed(nil))
        lastFreed = block
      case 35..<75:
        // One page, through allocate or memalign (same fast path).
        let viaMemalign = rng.below(4) == 0
        let outcome = both { heap, allocator in
          let p = viaMemalign
            ? allocator.memalign(alignment: 4096, size: 4096, areas: mask)
            : allocator.allocate(order: 0, areas: mask)
          return .allocated(offset(heap, p))
        }
        if case .allocated(let block?) = outcome { live.append(block) }
      case 75..<85:
        let order = 1 + rng.below(4)
        let outcome = both { heap, allocator in
          .allocated(offset(heap, allocator.allocate(order: order, areas: mask)))
        }
        if case .allocated(let block?) = outcome { live.append(block) }
      case 85..<90:
        // Double free of the page freed last, or a free of a page that may
        // have been absorbed by a merge: the same error from both.
        guard let block = lastFreed else { continue }
        let target = rng.below(2) == 0 ? block : block ^ 4096
        let outcome = both { heap, allocator in .freed(allocator.free(pointer(heap, target))) }
        if outcome == .freed(nil) {
          // The buddy was a live block after all.
          #expect(live.contains(target))
          live.removeAll { $0 == target }
        }
      case 90..<96:
        // Reserve a random page (often one just freed, or its buddy).
        let target: UInt
        if let block = lastFreed, rng.below(2) == 0 {
          target = rng.below(2) == 0 ? block : block ^ 4096
        } else {
          target = UInt(rng.below(Int(pageCount))) << 12
        }
        let outcome = both { heap, allocator in
          .reserved(allocator.reserve(address: heap.memory.address + target, pages: 1))
        }
        if outcome == .reserved(nil) { reserved.append(target) }
      default:
        guard !reserved.isEmpty else { continue }
        let target = reserved.remove(at: rng.below(reserved.count))
        let outcome = both { heap, allocator in
          .reserved(allocator.unreserve(address: heap.memory.address + target, pages: 1))
        }
        #expect(outcome == .reserved(nil))
      }
      if step % 97 == 0 {
        #expect(freeListSnapshot(a) == freeListSnapshot(b), "step \(step)")
        #expect(a.totalCounts() == b.totalCounts())
      }
    }
    expectValid(a)
    expectValid(b)
    for block in live {
      #expect(a.free(pointer(fast, block)) == nil)
      #expect(b.free(pointer(settled, block)) == nil)
    }
    for page in reserved {
      #expect(a.unreserve(address: fast.memory.address + page, pages: 1) == nil)
      #expect(b.unreserve(address: settled.memory.address + page, pages: 1) == nil)
    }
    #expect(freeListSnapshot(a) == freeListSnapshot(b))
    expectValid(a)
  }

  @Test func pingPongReusesThePageAndEndsMaximal() throws {
    let heap = TestHeap(megabytes: 16)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    let first = try #require(a.allocate(order: 0))
    #expect(a.free(first) == nil)
    for _ in 0..<1000 {
      let p = try #require(a.allocate(order: 0))
      #expect(p == first, "the merged state hands out the same page")
      #expect(a.free(p) == nil)
    }
    #expect(a.blockInfo(at: address(first))?.isFree == true)
    #expect(freeListSnapshot(a) == initial, "maximal blocks again")
    #expect(a.totalCounts().allocated == 0)
    expectValid(a)
  }

  @Test func pendingPageErrorsAreThoseOfTheMergedState() throws {
    let heap = TestHeap(megabytes: 16)
    let a = heap.allocator
    // Empty the small lists so the next two pages are buddies from one split.
    for order in 0...2 { _ = try #require(a.allocate(order: order)) }
    let x = try #require(a.allocate(order: 0))
    let y = try #require(a.allocate(order: 0))
    #expect(address(x) ^ address(y) == 4096)
    let lower = address(x) < address(y) ? x : y
    let upper = address(x) < address(y) ? y : x
    #expect(a.free(y) == nil)
    #expect(a.free(x) == nil)  // pending: would merge with y
    #expect(a.free(upper) == .notBlockStart, "absorbed into the merged block")
    #expect(a.free(lower) == .doubleFree)
    expectValid(a)
  }

  @Test func neverHandsOutAReservedPage() throws {
    let heap = TestHeap(megabytes: 4)
    let a = heap.allocator
    // The first page's buddy is the metadata page: take it, so the next page
    // comes from a split and has a free buddy.
    let first = try #require(a.allocate(order: 0))
    let p = try #require(a.allocate(order: 0))
    #expect(a.blockInfo(at: address(p) ^ 4096)?.isFree == true)
    #expect(a.free(p) == nil)  // pending
    // Reserve the pending page itself and its buddy: both are free.
    #expect(a.reserve(address: address(p), pages: 1) == nil)
    #expect(a.reserve(address: address(p) ^ 4096, pages: 1) == nil)
    #expect(a.free(p) == .reservedPage)
    var pages: Set<UInt> = []
    while let q = a.allocate(order: 0) {
      // Free and allocate again on the way: the page taken back (through the
      // fast path or not) must not be reserved either.
      #expect(a.free(q) == nil)
      let again = try #require(a.allocate(order: 0))
      #expect(a.blockInfo(at: address(again))?.isReserved == false)
      #expect(!pages.contains(address(again)))
      pages.insert(address(again))
    }
    #expect(!pages.contains(address(p)) && !pages.contains(address(p) ^ 4096))
    #expect(UInt(pages.count) == a.totalCounts().total - 3)
    for page in pages { #expect(a.free(UnsafeMutableRawPointer(bitPattern: page)!) == nil) }
    #expect(a.free(first) == nil)
    #expect(a.unreserve(address: address(p), pages: 1) == nil)
    #expect(a.unreserve(address: address(p) ^ 4096, pages: 1) == nil)
    #expect(a.totalCounts().free == a.totalCounts().total)
    expectValid(a)
  }

  @Test func randomFullFreeEndsInMaximalBlocks() throws {
    let heap = TestHeap(megabytes: 16)
    let a = heap.allocator
    let initial = freeListSnapshot(a)
    let largest = try #require(a.largestFreeOrder())
    var pages: [UnsafeMutableRawPointer] = []
    while let p = a.allocate(order: 0) { pages.append(p) }
    #expect(UInt(pages.count) == a.totalCounts().total)
    var rng = SplitMix64(seed: 7)
    for i in stride(from: pages.count - 1, to: 0, by: -1) { pages.swapAt(i, rng.below(i + 1)) }
    for p in pages { #expect(a.free(p) == nil) }
    #expect(freeListSnapshot(a) == initial)
    let big = try #require(a.allocate(order: largest))
    #expect(a.free(big) == nil)
    expectValid(a)
  }
}
