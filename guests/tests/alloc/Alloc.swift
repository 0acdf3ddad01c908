// The seed's allocators on real guest memory: areas and masks, fallback
// between areas, reserve/unreserve, memalign without waste, malloc with Swift
// arrays and objects on the page allocator, and the virtual allocator. The
// same source runs on x86_64 (areas LOWEST, LOW, HIGH, NORMAL) and s390x
// (LOW below 2 GiB, NORMAL); area checks of one machine are under `#if arch`.

import GuestArch
import GuestLib

let mebibyte: UInt = 1 << 20
let gibibyte: UInt = 1 << 30

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

func guestMain() {
  plan("alloc", sections: 7)
  let memory = UInt(BootInfo.arguments.integer("harness.mem") ?? 0) * mebibyte
  guard let pages = GuestMemory.pages else {
    section("areas") { check(false, "page allocator is set up at boot") }
    return
  }

  section("areas") {
    check(true, "page allocator is set up at boot")
    #if arch(x86_64)
    let lowest = pages.bounds(area: 0)
    check(lowest != nil, "LOWEST area exists")
    check((lowest.map { $0.topPfn << 12 } ?? .max) <= 16 * mebibyte, "LOWEST ends at or below 16 MiB")
    check(pages.bounds(area: 1) != nil, "LOW area exists")
    if memory > 4 * gibibyte {
      let high = pages.bounds(area: 2)
      check(high != nil, "HIGH area exists with more than 4 GiB")
      check((high.map { $0.basePfn << 12 } ?? 0) >= 4 * gibibyte, "HIGH starts at or above 4 GiB")
    } else {
      check(pages.bounds(area: 2) == nil, "no HIGH area with less than 4 GiB")
      check(pages.counts(area: 2) == nil, "no HIGH page counts with less than 4 GiB")
    }
    check(pages.bounds(area: 3) == nil, "no NORMAL area below 64 GiB of RAM")
    #elseif arch(s390x)
    let low = pages.bounds(area: 0)
    check(low != nil, "LOW area exists")
    check((low.map { $0.topPfn << 12 } ?? .max) <= 2 * gibibyte, "LOW ends at or below 2 GiB")
    check(pages.layout == .s390x, "allocator uses the s390x layout (LOW, NORMAL)")
    if memory > 2 * gibibyte {
      let normal = pages.bounds(area: 1)
      check(normal != nil, "NORMAL area exists with more than 2 GiB")
      check((normal.map { $0.basePfn << 12 } ?? 0) >= 2 * gibibyte, "NORMAL starts at or above 2 GiB")
    } else {
      check(pages.bounds(area: 1) == nil, "no NORMAL area with 2 GiB or less")
      check(pages.counts(area: 1) == nil, "no NORMAL page counts with 2 GiB or less")
    }
    check(pages.bounds(area: 2) == nil && pages.bounds(area: 3) == nil, "no third or fourth area")
    #endif
    let total = pages.totalCounts()
    check(total.free > 0 && total.free <= total.total, "free pages counted")
    check(total.total << 12 <= memory && total.total << 12 + 8 * mebibyte >= memory / 2, "areas cover the RAM")
    check(pages.validate() == nil, "metadata consistent after boot")
  }

  section("masks") {
    #if arch(x86_64)
    let lowest = pages.allocate(order: 0, areas: .dma24)
    check(lowest != nil && UInt(bitPattern: lowest!) < 16 * mebibyte, "DMA24 page lies below 16 MiB")
    let low = pages.allocate(order: 3, areas: .x86Low)
    let lowAddress = low.map { UInt(bitPattern: $0) } ?? 0
    check(lowAddress >= 16 * mebibyte && lowAddress < 4 * gibibyte, "LOW block lies in [16 MiB, 4 GiB)")
    check(lowAddress & (8 * 4096 - 1) == 0, "order-3 block is naturally aligned")
    let dma32 = pages.allocate(order: 0, areas: .dma32)
    check(dma32 != nil && UInt(bitPattern: dma32!) < 4 * gibibyte, "DMA32 page lies below 4 GiB")
    let any = pages.allocate(order: 0)
    if memory > 4 * gibibyte {
      let high = pages.allocate(order: 5, areas: .x86High)
      let highAddress = high.map { UInt(bitPattern: $0) } ?? 0
      check(highAddress >= 4 * gibibyte && highAddress < 64 * gibibyte, "HIGH block lies in [4 GiB, 64 GiB)")
      check(any != nil && UInt(bitPattern: any!) >= 4 * gibibyte, "default mask prefers the highest area")
      check(high.map { pages.free($0) == nil } ?? false, "HIGH block freed")
    } else {
      check(pages.allocate(order: 0, areas: .x86High) == nil, "HIGH mask fails without HIGH memory")
      check(pages.largestFreeOrder(areas: .x86High) == nil, "no free HIGH block without HIGH memory")
      check(any != nil && UInt(bitPattern: any!) >= 16 * mebibyte, "default mask prefers LOW over LOWEST")
    }
    var freed = true
    for block in [lowest, low, dma32, any] {
      if let block, pages.free(block) != nil { freed = false }
    }
    check(freed, "every block freed")
    #elseif arch(s390x)
    let low = pages.allocate(order: 3, areas: .s390xLow)
    let lowAddress = low.map { UInt(bitPattern: $0) } ?? 0
    check(lowAddress != 0 && lowAddress < 2 * gibibyte, "LOW block lies below 2 GiB")
    check(lowAddress & (8 * 4096 - 1) == 0, "order-3 block is naturally aligned")
    let dma31 = pages.allocate(order: 0, areas: .dma31)
    check(dma31 != nil && UInt(bitPattern: dma31!) < 2 * gibibyte, "DMA31 page lies below 2 GiB")
    let any = pages.allocate(order: 0)
    if memory > 2 * gibibyte {
      let normal = pages.allocate(order: 5, areas: .s390xNormal)
      let normalAddress = normal.map { UInt(bitPattern: $0) } ?? 0
      check(normalAddress >= 2 * gibibyte && normalAddress < memory, "NORMAL block lies in [2 GiB, RAM top)")
      check(any != nil && UInt(bitPattern: any!) >= 2 * gibibyte, "default mask prefers NORMAL")
      check(normal.map { pages.free($0) == nil } ?? false, "NORMAL block freed")
    } else {
      check(pages.allocate(order: 0, areas: .s390xNormal) == nil, "NORMAL mask fails without NORMAL memory")
      check(pages.largestFreeOrder(areas: .s390xNormal) == nil, "no free NORMAL block without NORMAL memory")
      check(any != nil && UInt(bitPattern: any!) < 2 * gibibyte, "default mask falls back to LOW")
    }
    var freed = true
    for block in [low, dma31, any] {
      if let block, pages.free(block) != nil { freed = false }
    }
    check(freed, "every block freed")
    #endif
    check(pages.free(UnsafeMutableRawPointer(bitPattern: 64 * gibibyte + 4096)!) == .outsideAreas,
      "freeing an address outside every area is refused")
  }

  section("fallback") {
    let before = pages.totalCounts()
    #if arch(x86_64)
    let (chain, taken) = exhaust(pages, areas: .x86Low)
    check(taken > 0, "LOW area handed out blocks")
    check(pages.allocate(order: 0, areas: .x86Low) == nil, "LOW area is exhausted")
    let fallback = pages.allocate(order: 0, areas: .dma32)
    check(fallback != nil && UInt(bitPattern: fallback!) < 16 * mebibyte,
      "DMA32 falls back to LOWEST when LOW is full")
    if let fallback { _ = pages.free(fallback) }
    check(release(pages, chain), "every exhausted block freed")
    let after = pages.totalCounts()
    checkEqual(after.free, before.free, "free pages back to the start")
    check(pages.largestFreeOrder(areas: .x86Low) != nil, "LOW coalesced into large blocks again")
    #elseif arch(s390x)
    // The highest area present is exhausted; the default mask then falls
    // back to LOW (with NORMAL) or finds nothing (LOW only).
    let hasNormal = pages.bounds(area: 1) != nil
    let target: AreaMask = hasNormal ? .s390xNormal : .s390xLow
    let (chain, taken) = exhaust(pages, areas: target)
    check(taken > 0, "highest area handed out blocks")
    check(pages.allocate(order: 0, areas: target) == nil, "highest area is exhausted")
    let fallback = pages.allocate(order: 0)
    if hasNormal {
      check(fallback != nil && UInt(bitPattern: fallback!) < 2 * gibibyte,
        "default mask falls back to LOW when NORMAL is full")
    } else {
      check(fallback == nil, "nothing left once LOW, the only area, is full")
    }
    if let fallback { _ = pages.free(fallback) }
    check(release(pages, chain), "every exhausted block freed")
    let after = pages.totalCounts()
    checkEqual(after.free, before.free, "free pages back to the start")
    check(pages.largestFreeOrder(areas: target) != nil, "area coalesced into large blocks again")
    #endif
    check(pages.validate() == nil, "metadata consistent after exhaust and free")
  }

  section("reserve") {
    let before = pages.totalCounts()
    guard let block = pages.allocate(order: 4, areas: workArea) else {
      check(false, "block to reserve inside")
      return
    }
    let base = UInt(bitPattern: block)
    _ = pages.free(block)
    check(pages.reserve(address: base + 3 * 4096, pages: 5) == nil, "reserve 5 free pages at an odd address")
    checkEqual(pages.totalCounts().reserved, before.reserved + 5, "5 pages reserved")
    check(pages.reserve(address: base + 6 * 4096, pages: 4) != nil, "overlapping reserve refused")
    checkEqual(pages.totalCounts().reserved, before.reserved + 5, "refused reserve changed nothing")
    guard let taken = pages.allocate(order: 0, areas: workArea) else {
      check(false, "page for the all-or-nothing test")
      return
    }
    let takenAddress = UInt(bitPattern: taken)
    check(pages.reserve(address: takenAddress, pages: 1) != nil, "reserving an allocated page is refused")
    _ = pages.free(taken)
    check(pages.unreserve(address: base + 3 * 4096, pages: 2) == nil, "unreserve part of the range")
    check(pages.unreserve(address: base + 5 * 4096, pages: 3) == nil, "unreserve the rest")
    let after = pages.totalCounts()
    checkEqual(after.reserved, before.reserved, "nothing stays reserved")
    checkEqual(after.free, before.free, "all pages free again")
    check(pages.validate() == nil, "metadata consistent after reserve/unreserve")
  }

  section("memalign") {
    let before = pages.totalCounts().free
    let block = pages.memalign(alignment: 2 * mebibyte, size: 4096)
    check(block != nil, "memalign(2 MiB, 4 KiB) succeeds")
    check(UInt(bitPattern: block ?? UnsafeMutableRawPointer(bitPattern: 1)!) & (2 * mebibyte - 1) == 0,
      "block is 2 MiB aligned")
    checkEqual(before - pages.totalCounts().free, 1, "exactly one page used: nothing wasted")
    if let block { _ = pages.free(block) }
    checkEqual(pages.totalCounts().free, before, "page returned")
    check(pages.memalign(alignment: 3 * 4096, size: 4096) == nil, "non power-of-two alignment refused")
  }

  section("malloc") {
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
      checkEqual(sum, columnSums + rowSums, "Swift arrays keep their values")
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
      checkEqual(total, 499 * 500 / 2, "Swift objects keep their values")
      check(pages.totalCounts().free < before, "Swift storage came from the page allocator")
    }
    checkEqual(pages.totalCounts().free, before, "releasing Swift storage frees every page")
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
    check(allZero, "calloc returns zeroed memory")
    check(GuestMemory.heap.calloc(count: UInt.max / 2, size: 4) == nil, "calloc overflow refused")
  }

  section("virtual") {
    check(GuestMemory.enableVirtualHeap(), "virtual allocator enabled")
    let warm = GuestMemory.heap.malloc(4096)
    if let warm { _ = GuestMemory.heap.free(warm) }
    let before = pages.totalCounts().free
    let one = GuestMemory.heap.malloc(100)
    checkEqual(before - pages.totalCounts().free, 1, "a one-page allocation uses no metadata page")
    let mid = pages.totalCounts().free
    let three = GuestMemory.heap.malloc(3 * 4096)
    checkEqual(mid - pages.totalCounts().free, 4, "a three-page allocation uses one metadata page")
    let address = three.map { UInt(bitPattern: $0) } ?? 0
    check(address >= GuestMemory.virtualBase && address < GuestMemory.virtualBase + GuestMemory.virtualSize,
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
      check(intact, "virtual pages hold their data")
      let physical = PageTables().translate(address + 4096)
      check(physical != nil && physical! < 64 * gibibyte, "virtual page maps to RAM")
      check(GuestMemory.heap.free(three) == .freed, "three-page allocation freed")
    }
    if let one { check(GuestMemory.heap.free(one) == .freed, "one-page allocation freed") }
    checkEqual(pages.totalCounts().free, before, "virtual frees give every page back")
    check(PageTables().translate(address) == nil, "freed virtual page is unmapped")
    #if arch(s390x)
    // DAT is on: touching the freed page is a page-translation exception
    // whose translation-exception address names the page.
    let fault = catchException({ context in
      _ = s390_load(UInt64(UInt(bitPattern: context)))
    }, context: UnsafeMutableRawPointer(bitPattern: address))
    checkEqual(fault?.vector ?? 0xFF, 0x11, "access to a freed virtual page raises a page-translation exception")
    checkEqual((fault?.faultAddress ?? 0) & ~0xFFF, UInt64(address), "translation-exception address names the page")
    #endif
    check(GuestMemory.heap.activate(.pages), "heap switched back to the page allocator")
    check(pages.validate() == nil, "metadata consistent at the end")
  }
}
