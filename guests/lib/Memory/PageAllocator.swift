/// Book-keeping of one area, stored in the allocator's state memory.
struct PageAreaRecord {
  var present: Bool
  var basePfn: UInt
  var usablePfn: UInt
  var topPfn: UInt
  var metadata: UnsafeMutablePointer<UInt8>?
  var freePages: UInt
  var allocatedPages: UInt
  var reservedPages: UInt
  /// Largest `m` (at most `maxOrder`) with `basePfn` and `topPfn` both
  /// multiples of 2^m: every naturally aligned block of order `m` or less
  /// that holds a page of the area lies inside `[basePfn, topPfn)`, so a
  /// merge below that order needs no range check for its buddy's byte
  /// (the bytes of metadata pages never match a free head).
  var mergeLimit: Int

  static var empty: PageAreaRecord {
    PageAreaRecord(
      present: false, basePfn: 0, usablePfn: 0, topPfn: 0, metadata: nil,
      freePages: 0, allocatedPages: 0, reservedPages: 0, mergeLimit: 0)
  }
}

/// Fixed part of the allocator state.
struct PageAllocatorHeader {
  var layout: AreaLayout
  /// Number of single pages freed (or unreserved) whose merge is still
  /// pending; their entries are in the pending array. See `settle()`.
  var pendingCount: Int
  /// The page `takePending` last handed out after checking its buddies, as
  /// long as nothing else changed the free lists or metadata since (0:
  /// none): freeing it again and taking it back needs no new check.
  var verifiedPfn: UInt
  /// Bit `i` set: area `i` is present (initialised).
  var presentAreas: UInt
  /// The single page a split left for list 0 without linking it, as
  /// `pfn << 2 | area` (0: none). See `takeSplitHalf(areas:)`.
  var splitHalf: UInt
}

/// A buddy page allocator over up to four physical memory areas.
///
/// ## Model
/// * Pages are 4 KiB. Blocks are `2^order` pages (`order` in
///   `0...maxOrder`), naturally aligned in physical memory, and never cross
///   an area. Physical memory must be identity mapped: a block's address is
///   its physical address.
/// * Each area keeps one metadata byte per page *inside the area*: the first
///   pages of the area hold the bytes and are marked unusable. A byte holds
///   the block order, the block state (free, allocated, reserved, metadata)
///   and a "block head" bit; only the first page of a block has the head bit
///   and only its byte is authoritative.
/// * Free blocks are on per-area, per-order intrusive circular
///   doubly-linked lists whose nodes (the addresses of the next and previous
///   nodes) live in the free blocks themselves: a page has one 16-byte node
///   per order (at byte 32 + 16 x order) and a flag byte per order saying
///   whether that node is linked (its first 24 bytes); each list's head
///   node lives in the allocator's state
///   memory. Merged buddies are not unlinked at once: their nodes stay
///   linked but stale until met at the front of a list, or until their page
///   is handed out or linked again at that order (see
///   PageAllocator+FreeLists.swift). The valid entries of every list are the
///   same, in the same order, as with eager unlinking.
/// * The allocator's own state (lock, area records, list heads) lives in
///   `stateByteCount` bytes of caller-provided memory (`init(stateMemory:layout:)`)
///   or in the first page of a memory range (`bootstrap(layout:basePfn:topPfn:)`).
///   No heap is needed.
/// * Merging is exact: no two free buddies are ever seen unmerged. Freeing
///   or unreserving a single page marks it free at once (counters are exact)
///   but leaves its merge pending; up to `pendingCapacity` pending pages are
///   merged together, in the order they were freed, by the first call that
///   needs the merged state, so every caller sees exactly what merging each
///   page at once would give. A single-page allocation that would get the
///   only pending page back from the merged state takes it without merging
///   and splitting again (see `takePending(areas:)`). Likewise the single
///   page a single-page allocation splits off last is linked only when a
///   call needs it linked; the next single-page allocation takes it
///   unlinked (see `takeSplitHalf(areas:)`).
///
/// `PageAllocator` is a small copyable handle (a few pointers); copies refer
/// to the same allocator and every method is non-mutating and protected by
/// a `SpinLock`, so one allocator can be shared by several CPUs.
///
/// ## Costs
/// `allocate`, `memalign` and `free` cost O(maxOrder x areas), amortized: a
/// call may first merge a batch of up to `pendingCapacity` pending pages,
/// each merged once, and an allocation unlinks the stale nodes it meets
/// (each stale node is unlinked once; a merge leaves at most one) and scans
/// the metadata bytes of the block it hands out (2^order bytes, 8 at a
/// time). Merging touches metadata bytes only. `reserve` and
/// `unreserve` cost O(pages x maxOrder). `validate` walks all metadata.
public struct PageAllocator: @unchecked Sendable {
  /// log2 of the page size.
  public static var pageShift: UInt { 12 }
  /// Page size in bytes (4 KiB).
  public static var pageSize: UInt { 1 << pageShift }
  /// Largest block order: blocks of up to 2^20 pages (4 GiB).
  public static var maxOrder: Int { 20 }
  /// Maximum number of areas.
  public static var maxAreas: Int { 4 }

  static var orderCount: Int { maxOrder + 1 }
  /// Bytes of one list node: the next and the previous node's address.
  static var nodeSize: UInt { 16 }

  // Metadata byte encoding.
  static var orderBits: UInt8 { 0x1F }
  static var stateBits: UInt8 { 0x60 }
  static var stateAllocated: UInt8 { 0x00 }
  static var stateFree: UInt8 { 0x20 }
  static var stateReserved: UInt8 { 0x40 }
  static var stateMetadata: UInt8 { 0x60 }
  static var headBit: UInt8 { 0x80 }
  /// Byte of a page whose merge is pending: a free head (so a second free is
  /// a double free) whose order field (31) matches no block, so merging an
  /// earlier pending page never takes it for a free buddy.
  static var pendingByte: UInt8 { headBit | stateFree | orderBits }

  // State memory layout: [lock][header][area records][list head nodes]
  // [pending array].
  static var headerOffset: Int { 16 }
  static var recordsOffset: Int {
    roundUp16(headerOffset + MemoryLayout<PageAllocatorHeader>.stride)
  }
  static var headsOffset: Int {
    roundUp16(recordsOffset + maxAreas * MemoryLayout<PageAreaRecord>.stride)
  }
  static func roundUp16(_ value: Int) -> Int { (value + 15) & ~15 }

  static var pendingOffset: Int { headsOffset + maxAreas * orderCount * Int(nodeSize) }
  /// Pending single-page merges kept before they are merged together. A
  /// batch lets `flushPending()` load every cold page the merges touch
  /// (absorbed buddies, their list neighbours) before writing any, so the
  /// cache and TLB misses overlap instead of following one another.
  static var pendingCapacity: Int { 32 }

  /// The table of `groupPattern(_:)` (three words per position 0...7),
  /// written by `init` so that a merge finds its pattern with three loads
  /// and no branch (see `mergeInGroupOfEight`).
  static var patternsOffset: Int { pendingOffset + pendingCapacity * MemoryLayout<UInt>.stride }

  /// The table of `interiorMasks(_:)` (two words per order 0...4), written
  /// by `init` so that `purgeInteriorInGroups` finds its masks with loads
  /// the compiler cannot turn back into branches on the order.
  static var interiorMasksOffset: Int { patternsOffset + 8 * 3 * MemoryLayout<UInt64>.stride }

  /// Bytes of state memory `init(stateMemory:layout:)` needs (well under
  /// one page).
  public static var stateByteCount: Int {
    interiorMasksOffset + 5 * 2 * MemoryLayout<UInt64>.stride
  }
  /// Required alignment of the state memory.
  public static var stateAlignment: Int { 16 }

  let state: UnsafeMutableRawPointer
  let records: UnsafeMutablePointer<PageAreaRecord>
  /// List head nodes, `orderCount` per area, `nodeSize` bytes each.
  let heads: UnsafeMutableRawPointer

  /// Creates an allocator with no areas, keeping its state in `stateMemory`
  /// (`stateByteCount` bytes aligned to `stateAlignment`, which must stay
  /// valid and must not be handed to the allocator as memory).
  public init(stateMemory: UnsafeMutableRawPointer, layout: AreaLayout) {
    _ = SpinLock(initializingAt: stateMemory)
    state = stateMemory
    let header = (stateMemory + PageAllocator.headerOffset)
      .bindMemory(to: PageAllocatorHeader.self, capacity: 1)
    header.initialize(
      to: PageAllocatorHeader(
        layout: layout, pendingCount: 0, verifiedPfn: 0, presentAreas: 0, splitHalf: 0))
    records = (stateMemory + PageAllocator.recordsOffset)
      .bindMemory(to: PageAreaRecord.self, capacity: PageAllocator.maxAreas)
    records.initialize(repeating: .empty, count: PageAllocator.maxAreas)
    heads = stateMemory + PageAllocator.headsOffset
    for position in 0..<8 {
      let pattern = PageAllocator.groupPattern(UInt(position))
      let entry = stateMemory + PageAllocator.patternsOffset + position * 24
      entry.storeBytes(of: pattern.mask, as: UInt64.self)
      entry.storeBytes(of: pattern.expected, toByteOffset: 8, as: UInt64.self)
      entry.storeBytes(of: pattern.keep, toByteOffset: 16, as: UInt64.self)
    }
    for order in 0...4 {
      let masks = PageAllocator.interiorMasks(order)
      let entry = stateMemory + PageAllocator.interiorMasksOffset + order * 16
      entry.storeBytes(of: masks.first, as: UInt64.self)
      entry.storeBytes(of: masks.second, toByteOffset: 8, as: UInt64.self)
    }
    let headCount = PageAllocator.maxAreas * PageAllocator.orderCount
    for index in 0..<headCount {
      // An empty list is a head node linked to itself.
      let node = UInt(bitPattern: heads) &+ UInt(index) &* PageAllocator.nodeSize
      PageAllocator.setNext(node, node)
      PageAllocator.setPrevious(node, node)
    }
  }

  /// Creates an allocator whose state occupies the first page of the
  /// physical range `[basePfn, topPfn)`, and adds the rest of the range with
  /// `addMemory(basePfn:topPfn:)`. Page frame 0 is never used (address 0 is
  /// not a valid pointer). Returns `nil` if no area could be initialised.
  public static func bootstrap(layout: AreaLayout, basePfn: UInt, topPfn: UInt) -> PageAllocator? {
    let base = basePfn == 0 ? 1 : basePfn
    guard topPfn > base + 1 else { return nil }
    let allocator = PageAllocator(stateMemory: pointer(pfn: base), layout: layout)
    guard allocator.addMemory(basePfn: base + 1, topPfn: topPfn) > 0 else { return nil }
    return allocator
  }

  /// The area layout this allocator was created with.
  public var layout: AreaLayout { header.pointee.layout }

  var header: UnsafeMutablePointer<PageAllocatorHeader> {
    (state + PageAllocator.headerOffset).assumingMemoryBound(to: PageAllocatorHeader.self)
  }

  var lock: SpinLock { SpinLock(existingAt: state) }

  /// Pending single pages, `pendingCount` of them in the order they were
  /// freed, each as `pfn << 2 | area`.
  @inline(__always)
  var pendingEntries: UnsafeMutablePointer<UInt> {
    (state + PageAllocator.pendingOffset).assumingMemoryBound(to: UInt.self)
  }

  /// Takes the lock and completes a pending single-page free (`settle()`),
  /// so the caller sees the exact, fully merged state.
  @inline(__always)
  func lockSettled() {
    lock.lock()
    settle()
  }

  // MARK: Adding memory

  /// Splits the physical page range `[basePfn, topPfn)` over the layout's
  /// areas and initialises every non-empty piece as an area. A piece is
  /// skipped if its area is already initialised or if it is too small to
  /// hold its metadata plus one page. Page frame 0 is never used.
  /// Returns the number of areas initialised.
  ///
  /// Each area is one contiguous range: add at most one range per area
  /// (e.g. the largest memory map entry that falls into it).
  @discardableResult
  public func addMemory(basePfn: UInt, topPfn: UInt) -> Int {
    let layout = self.layout
    var added = 0
    for area in 0..<layout.count {
      let low = basePfn > layout.basePfn(ofArea: area) ? basePfn : layout.basePfn(ofArea: area)
      let high = topPfn < layout.topPfn(ofArea: area) ? topPfn : layout.topPfn(ofArea: area)
      if low < high && initialiseArea(area, basePfn: low, topPfn: high) { added += 1 }
    }
    return added
  }

  /// Address-based form of `addMemory(basePfn:topPfn:)`: the range
  /// `[start, end)` is shrunk to whole pages.
  @discardableResult
  public func addMemory(start: UInt, end: UInt) -> Int {
    guard let base = MemoryMath.alignUp(start, PageAllocator.pageSize) else { return 0 }
    return addMemory(basePfn: base >> PageAllocator.pageShift, topPfn: end >> PageAllocator.pageShift)
  }

  /// Initialises area `area` over `[basePfn, topPfn)`, which must lie
  /// inside that area of the layout. Returns `false` (and changes nothing)
  /// if the area is already initialised, the range is outside the area, or
  /// it cannot hold its metadata plus one page.
  @discardableResult
  public func initialiseArea(_ area: Int, basePfn: UInt, topPfn: UInt) -> Bool {
    initialiseArea(area, basePfn: basePfn, topPfn: topPfn, excluding: { _ in false })
  }

  /// Sets up one area over `[basePfn, topPfn)` like
  /// `initialiseArea(_:basePfn:topPfn:)`, but every page for which
  /// `excluded(pfn)` is true (firmware holes, the running image, memory the
  /// early allocator handed out) starts as a reserved page instead of a free
  /// one: no free-list entry is ever written into it. Excluded pages must not
  /// be unreserved unless they really are RAM the guest may use.
  public func initialiseArea(
    _ area: Int, basePfn: UInt, topPfn: UInt, excluding excluded: (UInt) -> Bool
  ) -> Bool {
    let layout = self.layout
    guard area >= 0 && area < layout.count else { return false }
    let base = basePfn == 0 ? 1 : basePfn
    guard base < topPfn,
      base >= layout.basePfn(ofArea: area), topPfn <= layout.topPfn(ofArea: area),
      topPfn <= UInt.max >> PageAllocator.pageShift
    else { return false }
    let pageCount = topPfn - base
    let metadataPages = (pageCount + PageAllocator.pageSize - 1) >> PageAllocator.pageShift
    guard pageCount > metadataPages else { return false }
    for pfn in base..<(base + metadataPages) where excluded(pfn) { return false }

    lockSettled()
    defer { lock.unlock() }
    // Refuse overlaps with areas already present.
    for other in 0..<PageAllocator.maxAreas {
      let r = records[other]
      if r.present && (other == area || (base < r.topPfn && r.basePfn < topPfn)) { return false }
    }
    header.pointee.verifiedPfn = 0
    let metadata = PageAllocator.pointer(pfn: base).bindMemory(to: UInt8.self, capacity: Int(pageCount))
    metadata.initialize(repeating: 0, count: Int(pageCount))
    let usable = base + metadataPages
    for index in 0..<Int(metadataPages) {
      metadata[index] = PageAllocator.headBit | PageAllocator.stateMetadata
    }
    records[area] = PageAreaRecord(
      present: true, basePfn: base, usablePfn: usable, topPfn: topPfn, metadata: metadata,
      freePages: pageCount - metadataPages, allocatedPages: 0, reservedPages: 0,
      mergeLimit: min(PageAllocator.maxOrder, (base | topPfn).trailingZeroBitCount))
    header.pointee.presentAreas |= 1 << UInt(area)
    // Cover the usable range with maximal naturally aligned blocks that hold
    // no excluded page; excluded pages become reserved single pages.
    var pfn = usable
    while pfn < topPfn {
      if excluded(pfn) {
        metadata[Int(pfn - base)] =
          PageAllocator.headBit | PageAllocator.stateReserved
        records[area].freePages -= 1
        records[area].reservedPages += 1
        pfn += 1
        continue
      }
      var order = 0
      while order < PageAllocator.maxOrder {
        let next = UInt(1) << UInt(order + 1)
        if pfn & (next - 1) != 0 || topPfn - pfn < next { break }
        var clear = true
        var probe = pfn + (UInt(1) << UInt(order))
        while probe < pfn + next {
          if excluded(probe) {
            clear = false
            break
          }
          probe += 1
        }
        if !clear { break }
        order += 1
      }
      pushFree(area, pfn, order)
      pfn += UInt(1) << UInt(order)
    }
    return true
  }

  // MARK: Allocation

  /// Allocates a naturally aligned block of `2^order` pages from the allowed
  /// `areas`, trying them from the highest area number down to the lowest.
  /// A larger free block is split if needed; the unused halves go back to
  /// the free lists. Returns `nil` if no allowed area can satisfy the request
  /// or `order` is out of range.
  public func allocate(
    order: Int, areas: AreaMask = .any, flags: PageAllocationFlags = .none
  ) -> UnsafeMutableRawPointer? {
    guard order >= 0 && order <= PageAllocator.maxOrder else { return nil }
    return allocateBlock(order: order, searchOrder: order, areas: areas, flags: flags)
  }

  /// Allocates `pages` contiguous pages, rounded up to the next power of two
  /// (a block of order `ceil(log2(pages))`; the whole block is allocated and
  /// freed together). Returns `nil` for 0 pages or on failure.
  public func allocate(
    pages: UInt, areas: AreaMask = .any, flags: PageAllocationFlags = .none
  ) -> UnsafeMutableRawPointer? {
    guard pages > 0 else { return nil }
    return allocate(order: MemoryMath.ceilLog2(pages), areas: areas, flags: flags)
  }

  /// Allocates `size` bytes aligned to `alignment` bytes.
  ///
  /// The size is rounded up to whole pages and then to a power of two of
  /// pages (block order `ceil(log2(pages))`). The alignment is at least one
  /// page. A free block of order at least log2(alignment in pages) is taken
  /// and split down to the needed order, keeping its (aligned) first part;
  /// every other part goes back to the free lists, so no memory is lost.
  /// Returns `nil` if `alignment` is not a power of two, `size` is 0, the
  /// request is larger than the maximal block, or no memory is available.
  public func memalign(
    alignment: UInt, size: UInt, areas: AreaMask = .any, flags: PageAllocationFlags = .none
  ) -> UnsafeMutableRawPointer? {
    guard MemoryMath.isPowerOfTwo(alignment), size > 0,
      let order = PageAllocator.order(forBytes: size)
    else { return nil }
    let alignOrder = alignment <= PageAllocator.pageSize
      ? 0 : MemoryMath.ceilLog2(alignment >> PageAllocator.pageShift)
    guard alignOrder <= PageAllocator.maxOrder else { return nil }
    let searchOrder = alignOrder > order ? alignOrder : order
    return allocateBlock(order: order, searchOrder: searchOrder, areas: areas, flags: flags)
  }

  /// The block order used for an allocation of `bytes` bytes, or `nil` if
  /// `bytes` is 0 or larger than the maximal block.
  public static func order(forBytes bytes: UInt) -> Int? {
    guard bytes > 0 else { return nil }
    let pages = (bytes >> pageShift) + (bytes & (pageSize - 1) != 0 ? 1 : 0)
    let order = MemoryMath.ceilLog2(pages)
    return order <= maxOrder ? order : nil
  }

  @inline(__always)
  func allocateBlock(
    order: Int, searchOrder: Int, areas: AreaMask, flags: PageAllocationFlags
  ) -> UnsafeMutableRawPointer? {
    lock.lock()
    var found: UInt? = nil
    let pendingCount = header.pointee.pendingCount
    if header.pointee.splitHalf != 0 {
      if searchOrder == 0 && pendingCount == 0 { found = takeSplitHalf(areas: areas) }
      if found == nil { linkSplitHalf() }
    }
    if pendingCount != 0 {
      if pendingCount == 1 && searchOrder == 0 { found = takePending(areas: areas) }
      if found == nil { flushPending() }
    }
    // The allowed present areas, highest first.
    var candidates = found == nil ? UInt(areas.rawValue) & header.pointee.presentAreas : 0
    while candidates != 0 {
      let area = UInt.bitWidth &- 1 &- candidates.leadingZeroBitCount
      if let pfn = takeBlock(area, order: order, searchOrder: searchOrder) {
        found = pfn
        break
      }
      candidates &= ~(1 &<< UInt(truncatingIfNeeded: area))
    }
    lock.unlock()
    guard let pfn = found else { return nil }
    let pointer = PageAllocator.pointer(pfn: pfn)
    if flags.zeroes {
      MemoryMath.zero(pointer, count: PageAllocator.pageSize << UInt(order))
    }
    return pointer
  }

  /// Takes a free block of order >= `searchOrder` from `area`, splits it
  /// down to `order` keeping the first part and marks it allocated.
  @inline(__always)
  func takeBlock(_ area: Int, order: Int, searchOrder: Int) -> UInt? {
    let origin = metadataOrigin(area)
    var k = searchOrder
    var head = headNode(area, k)
    var pfn: UInt = 0
    while true {
      let node = PageAllocator.next(head)
      if node != head {
        // The front node is valid, or stale (then the stale run is dropped).
        pfn = node &>> PageAllocator.pageShift
        if PageAllocator.meta(origin, pfn) == PageAllocator.freeHead(k) { break }
        if let valid = dropStaleFront(area, origin, k) {
          pfn = valid
          break
        }
      }
      if k == PageAllocator.maxOrder { return nil }
      k &+= 1
      head &+= PageAllocator.nodeSize
    }
    header.pointee.verifiedPfn = 0
    PageAllocator.unlink(PageAllocator.slot(pfn, k))
    // The page is handed out: its other (stale) nodes are unlinked below.
    let staleMask = PageAllocator.hasOtherLinkFlags(pfn, k)
      ? PageAllocator.linkMask(pfn) & ~(1 &<< UInt(truncatingIfNeeded: k)) : 0
    while k > order {
      k &-= 1
      head &-= PageAllocator.nodeSize
      let half = pfn &+ (1 &<< UInt(truncatingIfNeeded: k))
      // An interior page of the block: 0, or `dirtyByte` with link flags.
      let hasFlags = PageAllocator.meta(origin, half) != 0
      if k == 0 && !hasFlags {
        // The single page next to a single page handed out: left unlinked
        // (nothing written into it) for the next call (`takeSplitHalf`).
        header.pointee.splitHalf = half &<< 2 | UInt(truncatingIfNeeded: area)
      } else {
        PageAllocator.link(head, half, k, hasMask: hasFlags)
      }
      PageAllocator.setMeta(origin, half, PageAllocator.freeHead(k))
    }
    if staleMask != 0 { PageAllocator.unlinkNodes(pfn, staleMask) }
    let record = records + area
    if order != 0 {
      if record.pointee.mergeLimit >= 4 {
        purgeInteriorInGroups(origin, pfn, order)
      } else {
        purgeInterior(origin, pfn, order)
      }
    }
    PageAllocator.setMeta(origin, pfn, PageAllocator.headBit | PageAllocator.stateAllocated | UInt8(truncatingIfNeeded: order))
    let pages: UInt = 1 &<< UInt(truncatingIfNeeded: order)
    record.pointee.freePages &-= pages
    record.pointee.allocatedPages &+= pages
    return pfn
  }

  // MARK: Freeing

  /// Frees a block returned by `allocate` or `memalign`; the block size
  /// comes from the metadata. The block is merged with its buddy while the
  /// buddy is a free block of the same order inside the area.
  ///
  /// Returns `nil` on success, or the reason the call was refused (the
  /// allocator is then unchanged).
  @discardableResult
  public func free(_ pointer: UnsafeMutableRawPointer) -> PageAllocatorError? {
    let address = UInt(bitPattern: pointer)
    guard address & (PageAllocator.pageSize &- 1) == 0 else { return .misaligned }
    let pfn = address &>> PageAllocator.pageShift
    lock.lock()
    // An allocated block head is one whatever merges are pending (they only
    // change free pages), so the success path need not settle; a refusal is
    // classified on the merged state, as if every merge had been done.
    let checked = checkAllocatedHead(pfn)
    // The common case, a single page joining a batch that is not full,
    // returns before any call (the compiler then saves registers only on
    // the other paths); everything else is `freeRest`.
    let count = header.pointee.pendingCount
    if checked.error == nil && checked.order == 0 && count != PageAllocator.pendingCapacity {
      let record = records + checked.area
      record.pointee.allocatedPages &-= 1
      record.pointee.freePages &+= 1
      PageAllocator.setMeta(metadataOrigin(checked.area), pfn, PageAllocator.pendingByte)
      pendingEntries[count] = pfn &<< 2 | UInt(truncatingIfNeeded: checked.area)
      header.pointee.pendingCount = count &+ 1
      lock.unlock()
      return nil
    }
    return freeRest(pfn, checked)
  }

  /// The rest of `free` (lock held; releases it): refusals, blocks of more
  /// than one page, and a single page when the batch is full.
  @inline(__always)
  func freeRest(
    _ pfn: UInt, _ firstCheck: (area: Int, order: Int, error: PageAllocatorError?)
  ) -> PageAllocatorError? {
    defer { lock.unlock() }
    var checked = firstCheck
    if checked.error != nil && header.pointee.pendingCount != 0 {
      settle()
      checked = checkAllocatedHead(pfn)
    }
    if let error = checked.error { return error }
    let area = checked.area
    let record = records + area
    let order = checked.order
    let pages: UInt = 1 &<< UInt(truncatingIfNeeded: order)
    record.pointee.allocatedPages &-= pages
    record.pointee.freePages &+= pages
    if order == 0 {
      addPending(area, pfn)
    } else {
      settle()
      insertCoalescing(area, pfn, order)
    }
    return nil
  }

  /// The area and order of the allocated block starting at `pfn`, or the
  /// reason `free` refuses it. Lock held.
  @inline(__always)
  func checkAllocatedHead(_ pfn: UInt) -> (area: Int, order: Int, error: PageAllocatorError?) {
    guard let area = areaIndex(containingPfn: pfn) else { return (0, 0, .outsideAreas) }
    if pfn < records[area].usablePfn { return (0, 0, .metadataPage) }
    let byte = PageAllocator.meta(metadataOrigin(area), pfn)
    let allocatedHead = PageAllocator.headBit | PageAllocator.stateAllocated
    if byte & (PageAllocator.headBit | PageAllocator.stateBits) != allocatedHead {
      if byte & PageAllocator.headBit == 0 { return (0, 0, .notBlockStart) }
      switch byte & PageAllocator.stateBits {
      case PageAllocator.stateFree: return (0, 0, .doubleFree)
      case PageAllocator.stateReserved: return (0, 0, .reservedPage)
      default: return (0, 0, .metadataPage)
      }
    }
    return (area, Int(truncatingIfNeeded: byte & PageAllocator.orderBits), nil)
  }

  // MARK: Pending single-page merges
  //
  // A freed (or unreserved) single page is marked pending at once (counters
  // are exact) but its merge with its buddies is left to `flushPending()`,
  // which merges up to `pendingCapacity` such pages in the order they were
  // freed. Every call but `counts`, `bounds`, `area(containing:)`, a
  // successful `free` and `unreserve` (which read nothing pending merges
  // affect) first completes them with `settle()`, so every caller sees the
  // fully merged state; the pending pages look allocated to the merges of
  // the pages before them (`pendingByte`), so the result is exactly that of
  // merging each page when it was freed. The one exception is a single-page
  // allocation that would get exactly the only pending page back from the
  // merged state (`takePending`), which then skips the merge and the
  // identical split that would undo it. The pattern "free a page, allocate
  // a page" (alloc-bench row (a)) is the common case.
  //
  // Why batches: a full batch is merged by one call, in one loop whose
  // merges touch metadata only and whose links store into the merged
  // blocks' pages without reading them (`linkMerged`), so the stores to
  // cold pages do not hold up the next merges.

  /// Completes the pending single-page merges (and links the split half).
  /// Lock held.
  @inline(__always)
  func settle() {
    if header.pointee.splitHalf != 0 { linkSplitHalf() }
    if header.pointee.pendingCount != 0 { flushPending() }
  }

  // MARK: The split half
  //
  // When an allocation of a single page splits a larger block, the last
  // half it splits off is a single page, which eager splitting links at the
  // front of list 0, where the next single-page allocation takes it at
  // once. That page is instead left unlinked (`splitHalf`; its metadata
  // byte already says free head of order 0, so counters and merges see it
  // as free): the next allocation that would take it takes it without a
  // list operation (`takeSplitHalf`), and every other call that reads or
  // changes the lists first links it (`linkSplitHalf`, from `settle()`,
  // `flushPending()` and the allocation path), at the front of list 0, as
  // eager splitting would have. A page never linked is never written by the
  // allocator, so allocating pages in a row does not write into (and wait
  // for) every other page. Only a page without link flags (metadata byte 0)
  // is left unlinked, so taking it needs no purge.

  /// Links the split half at the front of its list 0. Lock held.
  func linkSplitHalf() {
    let entry = header.pointee.splitHalf
    header.pointee.splitHalf = 0
    header.pointee.verifiedPfn = 0
    link(Int(truncatingIfNeeded: entry & 3), entry &>> 2, 0, hasMask: false)
  }

  /// Returns the split half as a single-page allocation from `areas` if that
  /// is what linking it and then allocating would return: its area is
  /// allowed and no allowed area above it has a free page (the allocation
  /// takes the highest allowed area with a free page, there the front of
  /// list 0, where the half would be). No merge may be pending. Otherwise
  /// returns `nil` and changes nothing. Lock held.
  /// Whether an area of `areas` above `area` (a higher index) is present
  /// and has a free page: a single-page allocation would take it first.
  /// Lock held.
  @inline(__always)
  func freePagesAbove(_ area: Int, in areas: AreaMask) -> Bool {
    var higher = UInt(areas.rawValue) & header.pointee.presentAreas
      & ~((2 &<< UInt(truncatingIfNeeded: area)) &- 1)
    while higher != 0 {
      if records[higher.trailingZeroBitCount].freePages != 0 { return true }
      higher &= higher &- 1
    }
    return false
  }

  func takeSplitHalf(areas: AreaMask) -> UInt? {
    let entry = header.pointee.splitHalf
    let area = Int(truncatingIfNeeded: entry & 3)
    guard areas.contains(area: area), !freePagesAbove(area, in: areas) else { return nil }
    let pfn = entry &>> 2
    header.pointee.splitHalf = 0
    header.pointee.verifiedPfn = 0
    setMeta(area, pfn, PageAllocator.headBit | PageAllocator.stateAllocated)
    let record = records + area
    record.pointee.freePages &-= 1
    record.pointee.allocatedPages &+= 1
    return pfn
  }

  /// Marks the single page `pfn` of `area` pending (its counters are the
  /// caller's job), first merging a full batch. Lock held.
  @inline(__always)
  func addPending(_ area: Int, _ pfn: UInt) {
    var count = header.pointee.pendingCount
    if count == PageAllocator.pendingCapacity {
      flushPending()
      count = 0
    }
    PageAllocator.setMeta(metadataOrigin(area), pfn, PageAllocator.pendingByte)
    pendingEntries[count] = pfn &<< 2 | UInt(truncatingIfNeeded: area)
    header.pointee.pendingCount = count &+ 1
  }

  /// Merges every pending page, in the order they were freed. Lock held.
  ///
  /// Each page is merged in the metadata (which is all merging reads and
  /// writes, see `mergeMetadata`) and its merged block linked at once
  /// (`linkMerged`), which writes the block's page and the list but reads
  /// no cold page; so the merges do not wait for those stores.
  func flushPending() {
    // The split half is older than every pending page and may be merged.
    if header.pointee.splitHalf != 0 { linkSplitHalf() }
    let count = header.pointee.pendingCount
    let entries = pendingEntries
    header.pointee.pendingCount = 0
    header.pointee.verifiedPfn = 0
    var index = 0
    while index < count {
      let entry = entries[index]
      let area = Int(truncatingIfNeeded: entry & 3)
      let merged = mergeMetadata(area, entry &>> 2, 0)
      linkMerged(area, merged.start, merged.order, hasMask: merged.hasMask)
      index &+= 1
    }
  }

  /// Returns the only pending page as a single-page allocation from `areas`, if
  /// that is exactly what merging it and then allocating one page would
  /// return, and leaves the state exactly as that pair of steps would: the
  /// allocation takes the highest allowed area with a free page, there the
  /// smallest free block, the first on its list, and keeps its first page.
  /// That is the pending page's merged block `B` when every buddy the page
  /// would absorb is the only block on its list and lies above the page (so
  /// merging empties those lists, `B` starts at the page, and splitting
  /// `B` pushes the same buddies back). Otherwise returns `nil` and changes
  /// nothing. Lock held.
  func takePending(areas: AreaMask) -> UInt? {
    let entry = pendingEntries[0]
    let pfn = entry &>> 2
    let area = Int(truncatingIfNeeded: entry & 3)
    guard areas.contains(area: area) else { return nil }
    // An allowed present area above it with a free page would be taken first.
    guard !freePagesAbove(area, in: areas) else { return nil }
    let record = records + area
    let usable = record.pointee.usablePfn
    let span = record.pointee.topPfn &- usable
    let origin = metadataOrigin(area)
    if pfn != header.pointee.verifiedPfn {
      var k = 0
      var head = headNode(area, 0)
      var wanted = PageAllocator.headBit | PageAllocator.stateFree
      while k < PageAllocator.maxOrder {
        let size: UInt = 1 &<< UInt(truncatingIfNeeded: k)
        let buddy = pfn ^ size
        if buddy &- usable >= span || PageAllocator.meta(origin, buddy) != wanted { break }
        // The buddy is free, so its list is not empty: it must be its only
        // entry, and the merged block must keep starting at the page.
        if pfn & size != 0 || PageAllocator.next(head) != PageAllocator.previous(head) { return nil }
        k &+= 1
        head &+= PageAllocator.nodeSize
        wanted &+= 1
      }
      header.pointee.verifiedPfn = pfn
    }
    header.pointee.pendingCount = 0
    PageAllocator.setMeta(origin, pfn, PageAllocator.headBit | PageAllocator.stateAllocated)
    record.pointee.freePages &-= 1
    record.pointee.allocatedPages &+= 1
    return pfn
  }

  /// Puts the block `[pfn, pfn + 2^order)` (handed-out pages: no linked
  /// node) on the free lists, merging it with its buddies as far as
  /// possible. Counters are the caller's job.
  @inline(__always)
  func insertCoalescing(_ area: Int, _ pfn: UInt, _ order: Int) {
    header.pointee.verifiedPfn = 0
    let merged = mergeMetadata(area, pfn, order)
    linkMerged(area, merged.start, merged.order, hasMask: merged.hasMask)
  }

  /// Merges the block `[pfn, pfn + 2^order)` (handed-out pages: no linked
  /// node) with its free buddies as far as possible in the metadata, and
  /// marks the merged block a free head; the caller then links it with
  /// `link(_:_:_:hasMask:)`. An absorbed buddy is not unlinked: its node
  /// goes stale (see PageAllocator+FreeLists.swift), so merging reads and
  /// writes metadata bytes only. `hasMask`: whether the merged block's page
  /// has link flags (it is an absorbed buddy's, not the inserted block's).
  ///
  /// Every absorbed buddy head becomes `dirtyByte` (it keeps its flags), the
  /// inserted block's page becomes 0 unless it stays the head, and the
  /// merged head gets its free-head byte. A single page whose three
  /// smallest buddies are all free is merged to order 3 with one 8-byte
  /// read and write of its group's metadata (`mergeGroupOfEight`).
  @inline(__always)
  func mergeMetadata(_ area: Int, _ pfn: UInt, _ order: Int) -> (start: UInt, order: Int, hasMask: Bool) {
    let record = records + area
    let usable = record.pointee.usablePfn
    let span = record.pointee.topPfn &- usable
    let origin = metadataOrigin(area)
    var start = pfn
    // Loop state: the buddy's expected byte (whose low bits are the order)
    // and the block size; the merged block's start is `start & buddy`.
    var wanted = PageAllocator.freeHead(order)
    var size: UInt = 1 &<< UInt(truncatingIfNeeded: order)
    let limit = record.pointee.mergeLimit
    merging: do {
      if order == 0 && limit >= 3 {
        let levels = PageAllocator.mergeInGroupOfEight(origin, pfn, groupPatterns)
        if levels == 0 { break merging }
        if levels == 3 {
          start = pfn & ~7
          wanted = PageAllocator.freeHead(3)
          if limit >= 6 {
            // Orders 3, 4 and 5 unrolled (constant sizes and bytes).
            var buddy = start ^ 8
            if PageAllocator.meta(origin, buddy) != wanted { break merging }
            PageAllocator.setMeta(origin, buddy, PageAllocator.dirtyByte)
            start &= buddy
            wanted = PageAllocator.freeHead(4)
            buddy = start ^ 16
            if PageAllocator.meta(origin, buddy) != wanted { break merging }
            PageAllocator.setMeta(origin, buddy, PageAllocator.dirtyByte)
            start &= buddy
            wanted = PageAllocator.freeHead(5)
            buddy = start ^ 32
            if PageAllocator.meta(origin, buddy) != wanted { break merging }
            PageAllocator.setMeta(origin, buddy, PageAllocator.dirtyByte)
            start &= buddy
            wanted = PageAllocator.freeHead(6)
            size = 64
          } else {
            size = 8
          }
        } else {
          size = 2
          start = pfn & ~1
          wanted = PageAllocator.freeHead(1)
        }
      }
      // Below `mergeLimit` every buddy's byte is inside the metadata.
      let unchecked = PageAllocator.freeHead(limit)
      while wanted < unchecked {
        let buddy = start ^ size
        if PageAllocator.meta(origin, buddy) != wanted { break merging }
        PageAllocator.setMeta(origin, buddy, PageAllocator.dirtyByte)
        start &= buddy
        size &+= size
        wanted &+= 1
      }
      let end = PageAllocator.freeHead(PageAllocator.maxOrder)
      while wanted < end {
        let buddy = start ^ size
        // A buddy below the usable range or at/after the top is not a block
        // of this area; a free head inside it is a whole block of the area.
        if buddy &- usable >= span || PageAllocator.meta(origin, buddy) != wanted { break }
        PageAllocator.setMeta(origin, buddy, PageAllocator.dirtyByte)
        start &= buddy
        size &+= size
        wanted &+= 1
      }
    }
    if start != pfn { PageAllocator.setMeta(origin, pfn, 0) }
    PageAllocator.setMeta(origin, start, wanted)
    return (start, Int(truncatingIfNeeded: wanted & PageAllocator.orderBits), start != pfn)
  }

  /// Merges the single page `pfn` with its free buddies of orders 0, 1 and
  /// 2 using one read of its aligned group of eight metadata bytes, and
  /// returns the number of levels merged: 0 (the order-0 buddy is not
  /// free: nothing changed), 3 (all three are free: the group's word is
  /// written once, the buddy heads become `dirtyByte` and the page's own
  /// byte 0; the caller writes the head byte of the group's first page) or
  /// 1 (otherwise: only the order-0 buddy becomes `dirtyByte`; the caller
  /// goes on from order 1). The group must lie inside the area's metadata
  /// (`mergeLimit` at least 3; bytes of metadata pages never match a free
  /// head). `patterns`: the table of `groupPattern(_:)` in the state memory
  /// (`groupPatterns`).
  @inline(__always)
  static func mergeInGroupOfEight(_ origin: UInt, _ pfn: UInt, _ patterns: UnsafeRawPointer) -> Int {
    let group = pfn & ~7
    let bytes = UnsafeMutableRawPointer(bitPattern: origin &+ group).unsafelyUnwrapped
    // Byte i of the word is the byte of page `group + i` on either endianness.
    let word = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
    let position = pfn & 7
    let buddyShift = UInt64(truncatingIfNeeded: (position ^ 1) &<< 3)
    if UInt8(truncatingIfNeeded: word &>> buddyShift) != freeHead(0) { return 0 }
    // A table lookup, not the switch: its jump table's indirect branch,
    // taken on the page's position in its group, mispredicted most of the
    // time (callgrind's branch simulation: 0.87 per unreserved page).
    let entry = patterns + Int(truncatingIfNeeded: position &* 24)
    let mask = entry.load(as: UInt64.self)
    let expected = entry.load(fromByteOffset: 8, as: UInt64.self)
    if word & mask == expected {
      let keep = entry.load(fromByteOffset: 16, as: UInt64.self)
      bytes.storeBytes(of: (word & keep).littleEndian, as: UInt64.self)
      return 3
    }
    setMeta(origin, pfn ^ 1, dirtyByte)
    return 1
  }

  /// For a page at position `position` (0...7) of its group of eight: the
  /// bytes of its buddies of orders 0, 1 and 2 (`mask`), their values when
  /// they are free heads of those orders (`expected`), and the mask that
  /// turns those three bytes into `dirtyByte` and the page's own into 0
  /// (`keep`). Byte i is page `group + i`. `init` copies these into the
  /// state memory (`groupPatterns`), where merges look them up.
  static func groupPattern(_ position: UInt) -> (mask: UInt64, expected: UInt64, keep: UInt64) {
    switch position {
    case 0: return (0x0000_00FF_00FF_FF00, 0x0000_00A2_00A1_A000, 0xFFFF_FF20_FF20_2000)
    case 1: return (0x0000_00FF_00FF_00FF, 0x0000_00A2_00A1_00A0, 0xFFFF_FF20_FF20_0020)
    case 2: return (0x0000_00FF_FF00_00FF, 0x0000_00A2_A000_00A1, 0xFFFF_FF20_2000_FF20)
    case 3: return (0x0000_00FF_00FF_00FF, 0x0000_00A2_00A0_00A1, 0xFFFF_FF20_0020_FF20)
    case 4: return (0x00FF_FF00_0000_00FF, 0x00A1_A000_0000_00A2, 0xFF20_2000_FFFF_FF20)
    case 5: return (0x00FF_00FF_0000_00FF, 0x00A1_00A0_0000_00A2, 0xFF20_0020_FFFF_FF20)
    case 6: return (0xFF00_00FF_0000_00FF, 0xA000_00A1_0000_00A2, 0x2000_FF20_FFFF_FF20)
    default: return (0x00FF_00FF_0000_00FF, 0x00A0_00A1_0000_00A2, 0x0020_FF20_FFFF_FF20)
    }
  }

  // MARK: Helpers (lock held)

  @inline(__always)
  static func pointer(pfn: UInt) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(bitPattern: pfn &<< pageShift).unsafelyUnwrapped
  }

  /// For a block of order `order` (0...4; 4 stands for every larger
  /// order too) in an aligned group of sixteen pages: the mask of the
  /// block's non-head bytes in the word of its group of eight, for a block
  /// starting that word (byte i is page `pfn + i`; `purgeInteriorInGroups`
  /// shifts it to the block's position), and the mask of the block's bytes
  /// in the group's second word (an order-4 block's all eight, else none).
  static func interiorMasks(_ order: Int) -> (first: UInt64, second: UInt64) {
    switch order {
    case 0: return (0, 0)
    case 1: return (0xFF00, 0)
    case 2: return (0xFFFF_FF00, 0)
    case 3: return (0xFFFF_FFFF_FFFF_FF00, 0)
    default: return (0xFFFF_FFFF_FFFF_FF00, UInt64.max)
    }
  }

  /// The table of `interiorMasks(_:)` for orders 0...4 (first, second;
  /// 16 bytes per order) in the state memory.
  @inline(__always)
  var interiorMaskTable: UnsafeRawPointer {
    UnsafeRawPointer(state + PageAllocator.interiorMasksOffset)
  }

  /// The table of `groupPattern(_:)` for positions 0...7 (mask, expected,
  /// keep; 24 bytes per position) in the state memory.
  @inline(__always)
  var groupPatterns: UnsafeRawPointer {
    UnsafeRawPointer(state + PageAllocator.patternsOffset)
  }

  /// Address of the head node of the free list of `order` in `area`.
  @inline(__always)
  func headNode(_ area: Int, _ order: Int) -> UInt {
    UInt(bitPattern: heads)
      &+ UInt(truncatingIfNeeded: area &* PageAllocator.orderCount &+ order) &* PageAllocator.nodeSize
  }

  /// Address of the (possibly nonexistent) metadata byte of page frame 0 of
  /// `area`: the byte of `pfn` is at `origin + pfn` (wrapping arithmetic).
  @inline(__always)
  func metadataOrigin(_ area: Int) -> UInt {
    let record = records + area
    return UInt(bitPattern: record.pointee.metadata) &- record.pointee.basePfn
  }

  @inline(__always)
  static func meta(_ origin: UInt, _ pfn: UInt) -> UInt8 {
    UnsafePointer<UInt8>(bitPattern: origin &+ pfn).unsafelyUnwrapped.pointee
  }

  @inline(__always)
  static func setMeta(_ origin: UInt, _ pfn: UInt, _ value: UInt8) {
    UnsafeMutablePointer<UInt8>(bitPattern: origin &+ pfn).unsafelyUnwrapped.pointee = value
  }

  @inline(__always)
  func meta(_ area: Int, _ pfn: UInt) -> UInt8 {
    PageAllocator.meta(metadataOrigin(area), pfn)
  }

  @inline(__always)
  func setMeta(_ area: Int, _ pfn: UInt, _ value: UInt8) {
    PageAllocator.setMeta(metadataOrigin(area), pfn, value)
  }

  /// The present area whose range contains `pfn`. Areas lie inside their
  /// layout areas, so only the layout's area for `pfn` can contain it.
  @inline(__always)
  func areaIndex(containingPfn pfn: UInt) -> Int? {
    let area = layout.area(containingPfn: pfn)
    let record = records + area
    // One unsigned comparison checks both bounds, and presence too: an
    // absent area's record has `basePfn == topPfn` (both 0), an empty range.
    let base = record.pointee.basePfn
    guard pfn &- base < record.pointee.topPfn &- base else { return nil }
    return area
  }

  // Intrusive list nodes: the next node's address at offset 0, the previous
  // node's at offset 8.

  @inline(__always)
  static func next(_ node: UInt) -> UInt {
    UnsafeRawPointer(bitPattern: node).unsafelyUnwrapped.load(as: UInt.self)
  }

  @inline(__always)
  static func previous(_ node: UInt) -> UInt {
    UnsafeRawPointer(bitPattern: node).unsafelyUnwrapped.load(fromByteOffset: 8, as: UInt.self)
  }

  @inline(__always)
  static func setNext(_ node: UInt, _ value: UInt) {
    UnsafeMutableRawPointer(bitPattern: node).unsafelyUnwrapped.storeBytes(of: value, as: UInt.self)
  }

  @inline(__always)
  static func setPrevious(_ node: UInt, _ value: UInt) {
    UnsafeMutableRawPointer(bitPattern: node).unsafelyUnwrapped
      .storeBytes(of: value, toByteOffset: 8, as: UInt.self)
  }

  /// Links `node` at the front of the list whose head node is `head`.
  @inline(__always)
  static func push(_ head: UInt, _ node: UInt) {
    let first = next(head)
    setNext(node, first)
    setPrevious(node, head)
    setPrevious(first, node)
    setNext(head, node)
  }

  /// Unlinks `node` from its list.
  @inline(__always)
  static func unlink(_ node: UInt) {
    let following = next(node)
    let preceding = previous(node)
    setNext(preceding, following)
    setPrevious(following, preceding)
  }
}
