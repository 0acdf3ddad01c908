import GuestLib
import Testing

/// The merge fast path for a single page: when its buddies of orders 0, 1
/// and 2 are all free, the page merges to order 3 with one read and write
/// of its group of eight metadata bytes, then goes on page by page. Areas
/// whose bounds are not multiples of eight pages take the page-by-page
/// path only. Every position in the group, freed or unreserved last, must
/// end in the maximal blocks, and a reserved page in the group must stop
/// the merge and never be handed out.
@Suite("PageAllocator group-of-eight merge")
struct PageAllocatorGroupMergeTests {
  /// An allocator over `pages` pages of host memory, starting `skip` pages
  /// into a buffer aligned to 32 MiB (`skip` not a multiple of 8: the
  /// area's bounds are not multiples of eight pages).
  private struct Heap {
    let memory: HostMemory
    let state = StateBuffer()
    let allocator: PageAllocator
    init(skip: UInt) {
      memory = HostMemory(byteCount: 4 << 20, alignment: 1 << 25)
      allocator = PageAllocator(stateMemory: state.pointer, layout: .single)
      allocator.addMemory(basePfn: memory.basePfn + skip, topPfn: memory.topPfn - skip)
    }
  }

  private func pointer(_ pfn: UInt) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(bitPattern: pfn << 12)!
  }

  /// Allocates every page one at a time and returns them, with the first
  /// aligned group of eight that lies in the area after its first 64 pages.
  private func takeEverything(_ a: PageAllocator) throws -> (pages: [UInt], group: UInt) {
    var pages: [UInt] = []
    while let p = a.allocate(order: 0) { pages.append(UInt(bitPattern: p) >> 12) }
    #expect(UInt(pages.count) == a.totalCounts().total)
    let bounds = try #require(a.bounds(area: 0))
    return (pages, (bounds.usablePfn + 64) & ~7)
  }

  @Test(arguments: [0, 3] as [UInt], [false, true])
  func everyPositionFreedLastEndsInMaximalBlocks(skip: UInt, unreserveLast: Bool) throws {
    for position in 0..<UInt(8) {
      let heap = Heap(skip: skip)
      let a = heap.allocator
      let initial = freeListSnapshot(a)
      let (pages, group) = try takeEverything(a)
      let last = group + position
      var rng = SplitMix64(seed: 100 + UInt64(position))
      var others = pages.filter { $0 != last }
      for i in stride(from: others.count - 1, to: 0, by: -1) { others.swapAt(i, rng.below(i + 1)) }
      if unreserveLast {
        #expect(a.free(pointer(last)) == nil)
        #expect(a.reserve(address: last << 12, pages: 1) == nil)
      }
      for pfn in others { #expect(a.free(pointer(pfn)) == nil) }
      // Every other page of the group is free: the last page's buddies of
      // orders 0, 1 and 2 are free blocks.
      #expect(a.blockInfo(at: (last ^ 1) << 12)?.isFree == true)
      if unreserveLast {
        #expect(a.unreserve(address: last << 12, pages: 1) == nil)
      } else {
        #expect(a.free(pointer(last)) == nil)
      }
      #expect(freeListSnapshot(a) == initial, "skip \(skip), position \(position): maximal blocks")
      #expect(a.blockInfo(at: last << 12) == nil || position == 0, "position \(position): merged away")
      expectValid(a)
    }
  }

  @Test(arguments: [0, 3] as [UInt])
  func aReservedPageInTheGroupStopsTheMergeAndIsNeverHandedOut(skip: UInt) throws {
    for position in 0..<UInt(8) {
      for reservedPosition in 0..<UInt(8) where reservedPosition != position {
        let heap = Heap(skip: skip)
        let a = heap.allocator
        let initial = freeListSnapshot(a)
        let (pages, group) = try takeEverything(a)
        let last = group + position
        let reserved = group + reservedPosition
        #expect(a.free(pointer(reserved)) == nil)
        #expect(a.reserve(address: reserved << 12, pages: 1) == nil)
        for pfn in pages where pfn != last && pfn != reserved { #expect(a.free(pointer(pfn)) == nil) }
        #expect(a.free(pointer(last)) == nil)
        // The group cannot be one block of order 3 or more.
        let head = try #require(a.blockInfo(at: group << 12))
        #expect(head.order < 3, "group not merged")
        expectValid(a)
        var handedOut = Set<UInt>()
        while let p = a.allocate(order: 0) {
          let pfn = UInt(bitPattern: p) >> 12
          #expect(pfn != reserved, "handed out the reserved page")
          #expect(handedOut.insert(pfn).inserted, "handed out twice")
        }
        #expect(UInt(handedOut.count) == a.totalCounts().total - 1)
        for pfn in handedOut { #expect(a.free(pointer(pfn)) == nil) }
        #expect(a.unreserve(address: reserved << 12, pages: 1) == nil)
        #expect(freeListSnapshot(a) == initial, "maximal blocks again")
        expectValid(a)
      }
    }
  }
}
