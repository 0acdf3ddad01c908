extension PageAllocator {
  /// Removes the free pages `[address, address + pages * pageSize)` from the
  /// pool. The range may have any page alignment and length; free blocks
  /// overlapping its ends are split. (Every area begins with its metadata
  /// pages, so a range running into the next area is refused with
  /// `.metadataPage`.)
  ///
  /// All or nothing: if any page is outside the areas, holds metadata, or is
  /// allocated or already reserved, the call returns the reason and changes
  /// nothing. Returns `nil` on success. Cost: O(pages x maxOrder).
  @discardableResult
  public func reserve(address: UInt, pages: UInt) -> PageAllocatorError? {
    guard let (start, end) = PageAllocator.pageRange(address: address, pages: pages) else {
      return address & (PageAllocator.pageSize - 1) != 0 ? .misaligned : .invalidArgument
    }
    lockSettled()
    defer { lock.unlock() }
    // Check pass: every page must be in a free block.
    var pfn = start
    while pfn < end {
      guard let area = areaIndex(containingPfn: pfn) else { return .outsideAreas }
      if pfn < records[area].usablePfn { return .metadataPage }
      guard let block = blockContaining(area, pfn),
        meta(area, block.start) & PageAllocator.stateBits == PageAllocator.stateFree
      else { return .rangeNotFree }
      pfn = block.start + (UInt(1) << UInt(block.order))
    }
    // Apply pass: split blocks at the range ends, take whole blocks inside.
    header.pointee.verifiedPfn = 0
    pfn = start
    while pfn < end {
      let area = areaIndex(containingPfn: pfn).unsafelyUnwrapped
      let block = blockContaining(area, pfn).unsafelyUnwrapped
      let size = UInt(1) << UInt(block.order)
      let origin = metadataOrigin(area)
      unlinkFree(block.start, block.order)
      if block.start >= start && end - block.start >= size {
        // Handed out: no list node may stay in these pages.
        purgeBlock(origin, block.start, block.order)
        let reserved = PageAllocator.headBit | PageAllocator.stateReserved
        for offset in 0..<size { setMeta(area, block.start + offset, reserved) }
        records[area].freePages -= size
        records[area].reservedPages += size
        pfn = block.start + size
      } else {
        // Cannot be order 0: a one-page block containing pfn is inside the range.
        let half = block.order - 1
        let upper = block.start + (UInt(1) << UInt(half))
        link(area, upper, half, hasMask: PageAllocator.meta(origin, upper) != 0)
        setMeta(area, upper, PageAllocator.freeHead(half))
        link(area, block.start, half, hasMask: true)
        setMeta(area, block.start, PageAllocator.freeHead(half))
      }
    }
    return nil
  }

  /// Returns reserved pages `[address, address + pages * pageSize)` to the
  /// pool (all of a reserved range or any part of it). The pages become free
  /// and are merged with free buddies.
  ///
  /// All or nothing: if any page in the range is not reserved the call
  /// returns the reason and changes nothing. Returns `nil` on success.
  @discardableResult
  public func unreserve(address: UInt, pages: UInt) -> PageAllocatorError? {
    // One page (any page but the very last of the address space, which
    // `pageRange` refuses): one area lookup for the check and the update,
    // and none of the range path's work.
    let pfn = address &>> PageAllocator.pageShift
    if pages == 1 && address & (PageAllocator.pageSize &- 1) == 0 && pfn < UInt.max &>> PageAllocator.pageShift {
      return unreservePage(pfn)
    }
    return unreserveRange(address: address, pages: pages)
  }

  /// `unreserve` of the single page `pfn`.
  @inline(__always)
  func unreservePage(_ pfn: UInt) -> PageAllocatorError? {
    // Pending merges change only free pages, never a reserved one, so
    // neither the check nor queueing the page behind them needs to settle.
    // (No `defer`: a full batch is merged by a tail call, so the common
    // path makes no call and saves no registers.)
    lock.lock()
    guard let area = areaIndex(containingPfn: pfn) else {
      lock.unlock()
      return .outsideAreas
    }
    let record = records + area
    if pfn < record.pointee.usablePfn {
      lock.unlock()
      return .metadataPage
    }
    if meta(area, pfn) != PageAllocator.headBit | PageAllocator.stateReserved {
      lock.unlock()
      return .rangeNotReserved
    }
    record.pointee.reservedPages &-= 1
    record.pointee.freePages &+= 1
    let count = header.pointee.pendingCount
    if count == PageAllocator.pendingCapacity { return flushThenAddPendingAndUnlock(area, pfn) }
    PageAllocator.setMeta(metadataOrigin(area), pfn, PageAllocator.pendingByte)
    pendingEntries[count] = pfn &<< 2 | UInt(truncatingIfNeeded: area)
    header.pointee.pendingCount = count &+ 1
    lock.unlock()
    return nil
  }

  /// `addPending` when the batch is full, then releases the lock. Lock held.
  @inline(never)
  func flushThenAddPendingAndUnlock(_ area: Int, _ pfn: UInt) -> PageAllocatorError? {
    addPending(area, pfn)
    lock.unlock()
    return nil
  }

  /// `unreserve` of any range (checked and refused as a whole).
  @inline(never)
  func unreserveRange(address: UInt, pages: UInt) -> PageAllocatorError? {
    guard let (start, end) = PageAllocator.pageRange(address: address, pages: pages) else {
      return address & (PageAllocator.pageSize - 1) != 0 ? .misaligned : .invalidArgument
    }
    lock.lock()
    defer { lock.unlock() }
    for pfn in start..<end {
      guard let area = areaIndex(containingPfn: pfn) else { return .outsideAreas }
      if pfn < records[area].usablePfn { return .metadataPage }
      if meta(area, pfn) != PageAllocator.headBit | PageAllocator.stateReserved {
        return .rangeNotReserved
      }
    }
    for pfn in start..<end {
      let area = areaIndex(containingPfn: pfn).unsafelyUnwrapped
      records[area].reservedPages -= 1
      records[area].freePages += 1
      addPending(area, pfn)
    }
    return nil
  }

  /// Whether every page of `[address, address + pages * pageSize)` is
  /// reserved.
  public func isReserved(address: UInt, pages: UInt) -> Bool {
    guard let (start, end) = PageAllocator.pageRange(address: address, pages: pages) else {
      return false
    }
    lockSettled()
    defer { lock.unlock() }
    for pfn in start..<end {
      guard let area = areaIndex(containingPfn: pfn), pfn >= records[area].usablePfn,
        meta(area, pfn) == PageAllocator.headBit | PageAllocator.stateReserved
      else { return false }
    }
    return true
  }

  /// Page frame range of a reserve request, or `nil` if misaligned, empty
  /// or overflowing.
  static func pageRange(address: UInt, pages: UInt) -> (UInt, UInt)? {
    guard address & (pageSize - 1) == 0, pages > 0 else { return nil }
    let start = address >> pageShift
    let (end, overflow) = start.addingReportingOverflow(pages)
    guard !overflow, end <= UInt.max >> pageShift else { return nil }
    return (start, end)
  }

  /// The block (of any state) that contains usable page `pfn` of `area`,
  /// found from the head bits in O(maxOrder).
  func blockContaining(_ area: Int, _ pfn: UInt) -> (start: UInt, order: Int)? {
    let usable = records[area].usablePfn
    var k = 0
    while k <= PageAllocator.maxOrder {
      let candidate = pfn & ~((UInt(1) << UInt(k)) - 1)
      if candidate < usable { return nil }
      let byte = meta(area, candidate)
      if byte & PageAllocator.headBit != 0 {
        let order = Int(byte & PageAllocator.orderBits)
        if pfn - candidate < UInt(1) << UInt(order) { return (candidate, order) }
      }
      k += 1
    }
    return nil
  }
}
