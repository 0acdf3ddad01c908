// The seed's allocators on real guest memory: areas and masks, fallback
// between areas, reserve/unreserve, memalign without waste, malloc with Swift
// arrays and objects on the page allocator, and the virtual allocator. The
// same source runs on x86_64 (areas LOWEST, LOW, HIGH, NORMAL) and s390x
// (LOW below 2 GiB, NORMAL); area checks of one machine are under `#if arch`.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("areas", areas),
  Test("masks", areaMasks),
  Test("fallback", fallbackBetweenAreas),
  Test("reserve", reserveAndUnreserve),
  Test("memalign", memalignWithoutWaste),
  Test("malloc", mallocOnPages),
  Test("virtual", virtualAllocator),
]

let mebibyte: UInt = 1 << 20
let gibibyte: UInt = 1 << 30

/// The guest's RAM as the harness asked for it (`harness.mem=`, MiB); 0
/// without it, which fails the checks that compare against it.
func ramBytes() -> UInt {
  UInt(BootInfo.arguments.integer("harness.mem") ?? 0) * mebibyte
}

/// The page allocator the runtime set up at boot. Only "areas" checks that
/// it exists; the other tests skip without it rather than fail again.
func bootPages() throws(TestStop) -> PageAllocator {
  guard let pages = GuestMemory.pages else { try skipTest("no page allocator (see areas)") }
  return pages
}

/// The address of `block`, 0 for nil: no block lies at 0 (a pointer is never
/// null), so a range check starting at 1 also checks that there is a block.
func blockAddress(_ block: UnsafeMutableRawPointer?) -> UInt {
  block.map { UInt(bitPattern: $0) } ?? 0
}

/// Checks the allocator's metadata walk; a failure notes what it found.
func expectConsistent(
  _ pages: PageAllocator, _ name: StaticString, file: StaticString = #fileID, line: UInt = #line
) {
  let problem = pages.validate()
  if let problem { note(problem) }
  expect(problem == nil, name, file: file, line: line)
}

#if arch(x86_64)
  /// The runtime's page tables (the virtual allocator's mapper).
  typealias PageTables = X86PageTables
  /// The area the reserve checks work in.
  let workArea: AreaMask = .x86Low
#elseif arch(s390x)
  typealias PageTables = S390PageTables
  let workArea: AreaMask = .s390xLow
#endif

/// Allocates blocks from `areas` until it fails, largest orders first,
/// chaining them through their first word; returns the chain and its pages.
func exhaust(_ pages: PageAllocator, areas: AreaMask) -> (UnsafeMutablePointer<UInt>?, UInt) {
  var head: UnsafeMutablePointer<UInt>?
  var count: UInt = 0
  var order = PageAllocator.maxOrder
  while order >= 0 {
    while let block = pages.allocate(order: order, areas: areas) {
      let link = block.assumingMemoryBound(to: UInt.self)
      link.pointee = head.map { UInt(bitPattern: $0) } ?? 0
      head = link
      count += 1 << UInt(order)
    }
    order -= 1
  }
  return (head, count)
}

/// Frees a chain made by `exhaust`; returns false if any free failed.
func release(_ pages: PageAllocator, _ chain: UnsafeMutablePointer<UInt>?) -> Bool {
  var next = chain
  var ok = true
  while let block = next {
    next = UnsafeMutablePointer<UInt>(bitPattern: block.pointee)
    if pages.free(UnsafeMutableRawPointer(block)) != nil { ok = false }
  }
  return ok
}

final class Node {
  var value: UInt64
  var next: Node?
  init(value: UInt64, next: Node?) {
    self.value = value
    self.next = next
  }
}

func areas() throws(TestStop) {
  let pages = try require(GuestMemory.pages, "page allocator is set up at boot")
  let memory = ramBytes()
  #if arch(x86_64)
    let lowest = try require(pages.bounds(area: 0), "LOWEST area exists")
    expect(lowest.topPfn << 12, .lessOrEqual, 16 * mebibyte, "LOWEST ends at or below 16 MiB")
    expect(pages.bounds(area: 1) != nil, "LOW area exists")
    if memory > 4 * gibibyte {
      let high = try require(pages.bounds(area: 2), "HIGH area exists with more than 4 GiB")
      expect(high.basePfn << 12, .greaterOrEqual, 4 * gibibyte, "HIGH starts at or above 4 GiB")
    } else {
      expect(pages.bounds(area: 2) == nil, "no HIGH area with less than 4 GiB")
      expect(pages.counts(area: 2) == nil, "no HIGH page counts with less than 4 GiB")
    }
    expect(pages.bounds(area: 3) == nil, "no NORMAL area below 64 GiB of RAM")
  #elseif arch(s390x)
    let low = try require(pages.bounds(area: 0), "LOW area exists")
    expect(low.topPfn << 12, .lessOrEqual, 2 * gibibyte, "LOW ends at or below 2 GiB")
    expect(pages.layout == .s390x, "allocator uses the s390x layout (LOW, NORMAL)")
    if memory > 2 * gibibyte {
      let normal = try require(pages.bounds(area: 1), "NORMAL area exists with more than 2 GiB")
      expect(normal.basePfn << 12, .greaterOrEqual, 2 * gibibyte, "NORMAL starts at or above 2 GiB")
    } else {
      expect(pages.bounds(area: 1) == nil, "no NORMAL area with 2 GiB or less")
      expect(pages.counts(area: 1) == nil, "no NORMAL page counts with 2 GiB or less")
    }
    expect(pages.bounds(area: 2) == nil && pages.bounds(area: 3) == nil, "no third or fourth area")
  #endif
  let total = pages.totalCounts()
  expect(total.free > 0 && total.free <= total.total, "free pages counted")
  // At most the RAM, at least half of it less 8 MiB (image, firmware, holes).
  let floor = memory / 2 > 8 * mebibyte ? memory / 2 - 8 * mebibyte : 0
  expect(total.total << 12, in: floor...memory, "areas cover the RAM")
  expectConsistent(pages, "metadata consistent after boot")
}

func areaMasks() throws(TestStop) {
  let pages = try bootPages()
  let memory = ramBytes()
  #if arch(x86_64)
    let lowest = pages.allocate(order: 0, areas: .dma24)
    expect(blockAddress(lowest), in: 1..<16 * mebibyte, "DMA24 page lies below 16 MiB")
    let low = pages.allocate(order: 3, areas: .x86Low)
    expect(blockAddress(low), in: 16 * mebibyte..<4 * gibibyte, "LOW block lies in [16 MiB, 4 GiB)")
    expectBits(blockAddress(low), clear: 8 * 4096 - 1, "order-3 block is naturally aligned")
    let dma32 = pages.allocate(order: 0, areas: .dma32)
    expect(blockAddress(dma32), in: 1..<4 * gibibyte, "DMA32 page lies below 4 GiB")
    let any = pages.allocate(order: 0)
    if memory > 4 * gibibyte {
      let high = pages.allocate(order: 5, areas: .x86High)
      expect(
        blockAddress(high), in: 4 * gibibyte..<64 * gibibyte, "HIGH block lies in [4 GiB, 64 GiB)")
      expect(
        blockAddress(any), .greaterOrEqual, 4 * gibibyte, "default mask prefers the highest area")
      expect(high.map { pages.free($0) == nil } ?? false, "HIGH block freed")
    } else {
      expect(
        pages.allocate(order: 0, areas: .x86High) == nil, "HIGH mask fails without HIGH memory")
      expect(
        pages.largestFreeOrder(areas: .x86High) == nil, "no free HIGH block without HIGH memory")
      expect(
        blockAddress(any), .greaterOrEqual, 16 * mebibyte, "default mask prefers LOW over LOWEST")
    }
    var freed = true
    for block in [lowest, low, dma32, any] {
      if let block, pages.free(block) != nil { freed = false }
    }
    expect(freed, "every block freed")
  #elseif arch(s390x)
    let low = pages.allocate(order: 3, areas: .s390xLow)
    expect(blockAddress(low), in: 1..<2 * gibibyte, "LOW block lies below 2 GiB")
    expectBits(blockAddress(low), clear: 8 * 4096 - 1, "order-3 block is naturally aligned")
    let dma31 = pages.allocate(order: 0, areas: .dma31)
    expect(blockAddress(dma31), in: 1..<2 * gibibyte, "DMA31 page lies below 2 GiB")
    let any = pages.allocate(order: 0)
    if memory > 2 * gibibyte {
      let normal = pages.allocate(order: 5, areas: .s390xNormal)
      expect(
        blockAddress(normal), in: 2 * gibibyte..<memory, "NORMAL block lies in [2 GiB, RAM top)")
      expect(blockAddress(any), .greaterOrEqual, 2 * gibibyte, "default mask prefers NORMAL")
      expect(normal.map { pages.free($0) == nil } ?? false, "NORMAL block freed")
    } else {
      expect(
        pages.allocate(order: 0, areas: .s390xNormal) == nil,
        "NORMAL mask fails without NORMAL memory")
      expect(
        pages.largestFreeOrder(areas: .s390xNormal) == nil,
        "no free NORMAL block without NORMAL memory")
      expect(blockAddress(any), in: 1..<2 * gibibyte, "default mask falls back to LOW")
    }
    var freed = true
    for block in [low, dma31, any] {
      if let block, pages.free(block) != nil { freed = false }
    }
    expect(freed, "every block freed")
  #endif
  expect(
    pages.free(UnsafeMutableRawPointer(bitPattern: 64 * gibibyte + 4096)!) == .outsideAreas,
    "freeing an address outside every area is refused")
}

func fallbackBetweenAreas() throws(TestStop) {
  let pages = try bootPages()
  let before = pages.totalCounts()
  #if arch(x86_64)
    let (chain, taken) = exhaust(pages, areas: .x86Low)
    expect(taken, .greater, 0, "LOW area handed out blocks")
    expect(pages.allocate(order: 0, areas: .x86Low) == nil, "LOW area is exhausted")
    let fallback = pages.allocate(order: 0, areas: .dma32)
    expect(
      blockAddress(fallback), in: 1..<16 * mebibyte, "DMA32 falls back to LOWEST when LOW is full")
    if let fallback { _ = pages.free(fallback) }
    expect(release(pages, chain), "every exhausted block freed")
    let after = pages.totalCounts()
    expectEqual(after.free, before.free, "free pages back to the start")
    expect(pages.largestFreeOrder(areas: .x86Low) != nil, "LOW coalesced into large blocks again")
  #elseif arch(s390x)
    // The highest area present is exhausted; the default mask then falls
    // back to LOW (with NORMAL) or finds nothing (LOW only).
    let hasNormal = pages.bounds(area: 1) != nil
    let target: AreaMask = hasNormal ? .s390xNormal : .s390xLow
    let (chain, taken) = exhaust(pages, areas: target)
    expect(taken, .greater, 0, "highest area handed out blocks")
    expect(pages.allocate(order: 0, areas: target) == nil, "highest area is exhausted")
    let fallback = pages.allocate(order: 0)
    if hasNormal {
      expect(
        blockAddress(fallback), in: 1..<2 * gibibyte,
        "default mask falls back to LOW when NORMAL is full")
    } else {
      expect(fallback == nil, "nothing left once LOW, the only area, is full")
    }
    if let fallback { _ = pages.free(fallback) }
    expect(release(pages, chain), "every exhausted block freed")
    let after = pages.totalCounts()
    expectEqual(after.free, before.free, "free pages back to the start")
    expect(pages.largestFreeOrder(areas: target) != nil, "area coalesced into large blocks again")
  #endif
  expectConsistent(pages, "metadata consistent after exhaust and free")
}

func reserveAndUnreserve() throws(TestStop) {
  let pages = try bootPages()
  let before = pages.totalCounts()
  let block = try require(pages.allocate(order: 4, areas: workArea), "block to reserve inside")
  let base = UInt(bitPattern: block)
  _ = pages.free(block)
  expect(
    pages.reserve(address: base + 3 * 4096, pages: 5) == nil,
    "reserve 5 free pages at an odd address")
  expectEqual(pages.totalCounts().reserved, before.reserved + 5, "5 pages reserved")
  expect(pages.reserve(address: base + 6 * 4096, pages: 4) != nil, "overlapping reserve refused")
  expectEqual(
    pages.totalCounts().reserved, before.reserved + 5, "refused reserve changed nothing")
  let taken = try require(
    pages.allocate(order: 0, areas: workArea), "page for the all-or-nothing test")
  expect(
    pages.reserve(address: UInt(bitPattern: taken), pages: 1) != nil,
    "reserving an allocated page is refused")
  _ = pages.free(taken)
  expect(pages.unreserve(address: base + 3 * 4096, pages: 2) == nil, "unreserve part of the range")
  expect(pages.unreserve(address: base + 5 * 4096, pages: 3) == nil, "unreserve the rest")
  let after = pages.totalCounts()
  expectEqual(after.reserved, before.reserved, "nothing stays reserved")
  expectEqual(after.free, before.free, "all pages free again")
  expectConsistent(pages, "metadata consistent after reserve/unreserve")
}

func memalignWithoutWaste() throws(TestStop) {
  let pages = try bootPages()
  let before = pages.totalCounts().free
  let block = try require(
    pages.memalign(alignment: 2 * mebibyte, size: 4096), "memalign(2 MiB, 4 KiB) succeeds")
  expectBits(UInt(bitPattern: block), clear: 2 * mebibyte - 1, "block is 2 MiB aligned")
  expectEqual(before - pages.totalCounts().free, 1, "exactly one page used: nothing wasted")
  _ = pages.free(block)
  expectEqual(pages.totalCounts().free, before, "page returned")
  expect(
    pages.memalign(alignment: 3 * 4096, size: 4096) == nil, "non power-of-two alignment refused")
}

func mallocOnPages() throws(TestStop) {
  let pages = try bootPages()
  let before = pages.totalCounts().free
  do {
    var arrays: [[UInt64]] = []
    var row: UInt64 = 0
    while row < 200 {
      var values: [UInt64] = []
      var column: UInt64 = 0
      while column < 100 {
        values.append(row &* 1000 &+ column)
        column += 1
      }
      arrays.append(values)
      row += 1
    }
    var sum: UInt64 = 0
    for values in arrays { for value in values { sum &+= value } }
    let columnSums: UInt64 = 200 * 4950  // 200 rows of 0+1+...+99
    let rowSums: UInt64 = 100 * 1000 * 19900  // 100 columns of 1000 * (0+...+199)
    expectEqual(sum, columnSums + rowSums, "Swift arrays keep their values")
    var list: Node? = nil
    var index: UInt64 = 0
    while index < 500 {
      list = Node(value: index, next: list)
      index += 1
    }
    var total: UInt64 = 0
    var cursor = list
    while let node = cursor {
      total &+= node.value
      cursor = node.next
    }
    expectEqual(total, 499 * 500 / 2, "Swift objects keep their values")
    expect(pages.totalCounts().free, .less, before, "Swift storage came from the page allocator")
  }
  expectEqual(pages.totalCounts().free, before, "releasing Swift storage frees every page")
  let zeroed = GuestMemory.heap.calloc(count: 512, size: 8)
  var allZero = zeroed != nil
  if let zeroed {
    let words = zeroed.assumingMemoryBound(to: UInt64.self)
    var i = 0
    while i < 512 {
      if words[i] != 0 { allZero = false }
      i += 1
    }
    _ = GuestMemory.heap.free(zeroed)
  }
  expect(allZero, "calloc returns zeroed memory")
  expect(GuestMemory.heap.calloc(count: UInt.max / 2, size: 4) == nil, "calloc overflow refused")
}

func virtualAllocator() throws(TestStop) {
  let pages = try bootPages()
  try require(GuestMemory.enableVirtualHeap(), "virtual allocator enabled")
  let warm = GuestMemory.heap.malloc(4096)
  if let warm { _ = GuestMemory.heap.free(warm) }
  let before = pages.totalCounts().free
  let one = GuestMemory.heap.malloc(100)
  expectEqual(before - pages.totalCounts().free, 1, "a one-page allocation uses no metadata page")
  let mid = pages.totalCounts().free
  let three = GuestMemory.heap.malloc(3 * 4096)
  expectEqual(mid - pages.totalCounts().free, 4, "a three-page allocation uses one metadata page")
  let address = blockAddress(three)
  expect(
    address, in: GuestMemory.virtualBase..<GuestMemory.virtualBase + GuestMemory.virtualSize,
    "allocation lies in the virtual range")
  if let three {
    let words = three.assumingMemoryBound(to: UInt64.self)
    var i = 0
    while i < 3 * 512 {
      words[i] = UInt64(i) &* 0x9E37_79B9
      i += 1
    }
    var intact = true
    i = 0
    while i < 3 * 512 {
      if words[i] != UInt64(i) &* 0x9E37_79B9 { intact = false }
      i += 1
    }
    expect(intact, "virtual pages hold their data")
    // Unmapped: .max, which fails the comparison too.
    let physical = PageTables().translate(address + 4096) ?? .max
    expect(physical, .less, 64 * gibibyte, "virtual page maps to RAM")
    expect(GuestMemory.heap.free(three) == .freed, "three-page allocation freed")
  }
  if let one { expect(GuestMemory.heap.free(one) == .freed, "one-page allocation freed") }
  expectEqual(pages.totalCounts().free, before, "virtual frees give every page back")
  expect(PageTables().translate(address) == nil, "freed virtual page is unmapped")
  expect(GuestMemory.heap.activate(.pages), "heap switched back to the page allocator")
  #if arch(s390x)
    // DAT is on: touching the freed page is a page-translation exception
    // whose translation-exception address names the page. Only now, with
    // the page heap active again: exception tests allocate (their closure
    // contexts), and the virtual heap, first-fit, would map that very page.
    let fault = expectException(
      vector: 0x11, "access to a freed virtual page raises a page-translation exception"
    ) {
      _ = s390_load(UInt64(address))
    }
    expectBits(
      fault?.faultAddress ?? 0, masked: ~0xFFF, equal: UInt64(address),
      "translation-exception address names the page")
  #endif
  expectConsistent(pages, "metadata consistent at the end")
}
