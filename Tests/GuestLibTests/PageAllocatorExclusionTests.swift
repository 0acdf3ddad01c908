import GuestLib
import Testing

/// An area initialised with excluded pages (firmware holes, the running
/// image): they start reserved, no free-list entry is written into them,
/// and nothing handed out overlaps them.
@Suite("PageAllocator excluded pages")
struct PageAllocatorExclusionTests {
  @Test func excludedPagesStartReservedAndAreNeverHandedOut() throws {
    let memory = HostMemory(byteCount: 4 << 20, alignment: 1 << 22)
    let state = StateBuffer()
    let allocator = PageAllocator(stateMemory: state.pointer, layout: .single)
    let base = memory.basePfn
    // A hole of 37 pages at an odd place and two single pages.
    let hole = (base + 300)..<(base + 337)
    let singles: Set<UInt> = [base + 5, base + 1000]
    // Fill excluded pages with a pattern: initialisation must not write there.
    for pfn in Array(hole) + Array(singles) {
      UnsafeMutableRawPointer(bitPattern: pfn << 12)!
        .initializeMemory(as: UInt8.self, repeating: 0xA5, count: 4096)
    }
    let excluded: (UInt) -> Bool = { hole.contains($0) || singles.contains($0) }
    #expect(allocator.initialiseArea(0, basePfn: base, topPfn: memory.topPfn, excluding: excluded))
    #expect(allocator.validate() == nil)
    let counts = try #require(allocator.counts(area: 0))
    #expect(counts.reserved == UInt(hole.count + singles.count))
    for pfn in Array(hole) + Array(singles) {
      let bytes = UnsafeRawPointer(bitPattern: pfn << 12)!.assumingMemoryBound(to: UInt8.self)
      #expect((0..<4096).allSatisfy { bytes[$0] == 0xA5 }, "page \(pfn - base) untouched")
      #expect(allocator.isReserved(address: pfn << 12, pages: 1))
    }
    // Everything that can be allocated avoids the excluded pages.
    var blocks: [UnsafeMutableRawPointer] = []
    while let page = allocator.allocate(order: 0) {
      #expect(!excluded(UInt(bitPattern: page) >> 12))
      blocks.append(page)
    }
    #expect(UInt(blocks.count) == counts.free)
    for block in blocks { #expect(allocator.free(block) == nil) }
    #expect(allocator.validate() == nil)
    // A single excluded page can be given back and then coalesces.
    #expect(allocator.unreserve(address: (base + 1000) << 12, pages: 1) == nil)
    #expect(allocator.counts(area: 0)?.reserved == UInt(hole.count + 1))
    #expect(allocator.validate() == nil)
  }

  @Test func excludedMetadataPageIsRefused() {
    let memory = HostMemory(byteCount: 1 << 20, alignment: 1 << 20)
    let state = StateBuffer()
    let allocator = PageAllocator(stateMemory: state.pointer, layout: .single)
    let base = memory.basePfn
    #expect(!allocator.initialiseArea(0, basePfn: base, topPfn: memory.topPfn) { $0 == base })
    #expect(allocator.counts(area: 0) == nil)
  }
}
