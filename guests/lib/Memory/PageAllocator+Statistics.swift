extension PageAllocator {
  /// Page counts of `area`, or `nil` if the area is not initialised.
  public func counts(area: Int) -> PageCounts? {
    guard area >= 0 && area < PageAllocator.maxAreas else { return nil }
    lock.lock()
    defer { lock.unlock() }
    let r = records[area]
    guard r.present else { return nil }
    return PageCounts(
      total: r.topPfn - r.usablePfn, free: r.freePages, allocated: r.allocatedPages,
      reserved: r.reservedPages, metadata: r.usablePfn - r.basePfn)
  }

  /// Page counts of all areas added together.
  public func totalCounts() -> PageCounts {
    var sum = PageCounts(total: 0, free: 0, allocated: 0, reserved: 0, metadata: 0)
    for area in 0..<PageAllocator.maxAreas {
      if let c = counts(area: area) {
        sum.total += c.total
        sum.free += c.free
        sum.allocated += c.allocated
        sum.reserved += c.reserved
        sum.metadata += c.metadata
      }
    }
    return sum
  }

  /// Page frame bounds of `area`, or `nil` if it is not initialised.
  public func bounds(area: Int) -> PageAreaBounds? {
    guard area >= 0 && area < PageAllocator.maxAreas else { return nil }
    lock.lock()
    defer { lock.unlock() }
    let r = records[area]
    guard r.present else { return nil }
    return PageAreaBounds(basePfn: r.basePfn, usablePfn: r.usablePfn, topPfn: r.topPfn)
  }

  /// The initialised area whose range (metadata included) contains
  /// physical address `address`.
  public func area(containing address: UInt) -> Int? {
    lock.lock()
    defer { lock.unlock() }
    return areaIndex(containingPfn: address >> PageAllocator.pageShift)
  }

  /// Number of blocks on the free list of `order` in `area` (walks the list).
  public func freeBlockCount(area: Int, order: Int) -> UInt {
    guard area >= 0 && area < PageAllocator.maxAreas,
      order >= 0 && order <= PageAllocator.maxOrder
    else { return 0 }
    lockSettled()
    defer { lock.unlock() }
    return validEntryCount(area, order)
  }

  /// Largest order with a free block in any of `areas`, or `nil` if none.
  public func largestFreeOrder(areas: AreaMask = .any) -> Int? {
    lockSettled()
    defer { lock.unlock() }
    var order = PageAllocator.maxOrder
    while order >= 0 {
      for area in 0..<PageAllocator.maxAreas
      where areas.contains(area: area) && records[area].present
        && firstFree(area, metadataOrigin(area), order) != nil
      {
        return order
      }
      order -= 1
    }
    return nil
  }

  /// Order and state of the block starting at `address`, or `nil` if no
  /// block starts there (diagnostics and tests).
  public func blockInfo(at address: UInt) -> (order: Int, isFree: Bool, isReserved: Bool)? {
    guard address & (PageAllocator.pageSize - 1) == 0 else { return nil }
    let pfn = address >> PageAllocator.pageShift
    lockSettled()
    defer { lock.unlock() }
    guard let area = areaIndex(containingPfn: pfn), pfn >= records[area].usablePfn else {
      return nil
    }
    let byte = meta(area, pfn)
    guard byte & PageAllocator.headBit != 0 else { return nil }
    let state = byte & PageAllocator.stateBits
    return (Int(byte & PageAllocator.orderBits), state == PageAllocator.stateFree,
      state == PageAllocator.stateReserved)
  }

  /// Whether all metadata, free lists and counters are consistent
  /// (see `validate()`).
  public func checkInvariants() -> Bool { validate() == nil }

  /// Walks all metadata and free lists (slow; for tests and debugging) and
  /// returns a description of the first inconsistency, or `nil` if none:
  /// metadata pages are marked; the usable range is tiled by naturally
  /// aligned blocks inside the area whose interior pages carry no head bit;
  /// reserved blocks are single pages; no two free buddies of the same order
  /// are left unmerged; lists are well linked and acyclic; every list node
  /// lies in free memory of that area at its order's slot, its page's link
  /// flags (bytes 0...20 each 0 or 1, bytes 21...23 0) mark its order and
  /// every flag set has its node (so no node is left in handed-out
  /// memory); the valid entries (free heads of the list's order) together
  /// are every free block exactly once; counters match (free + allocated +
  /// reserved = total).
  public func validate() -> StaticString? {
    lockSettled()
    defer { lock.unlock() }
    for area in 0..<PageAllocator.maxAreas where records[area].present {
      if let problem = validateArea(area) { return problem }
    }
    return nil
  }

  func validateArea(_ area: Int) -> StaticString? {
    let r = records[area]
    guard r.basePfn < r.usablePfn, r.usablePfn < r.topPfn else { return "bad area bounds" }
    for pfn in r.basePfn..<r.usablePfn
    where meta(area, pfn) != PageAllocator.headBit | PageAllocator.stateMetadata {
      return "metadata page not marked"
    }
    var free: UInt = 0
    var allocated: UInt = 0
    var reserved: UInt = 0
    var freeBlocks: UInt = 0
    // Nodes the link flags of free pages claim are linked.
    var linkedNodes: UInt = 0
    var pfn = r.usablePfn
    while pfn < r.topPfn {
      let byte = meta(area, pfn)
      guard byte & PageAllocator.headBit != 0 else { return "missing block head" }
      let order = Int(byte & PageAllocator.orderBits)
      guard order <= PageAllocator.maxOrder else { return "order too large" }
      let size = UInt(1) << UInt(order)
      guard pfn & (size - 1) == 0 else { return "block not naturally aligned" }
      guard r.topPfn - pfn >= size else { return "block crosses area top" }
      let isFree = byte & PageAllocator.stateBits == PageAllocator.stateFree
      for offset in 1..<size {
        let inner = meta(area, pfn + offset)
        if inner & PageAllocator.headBit != 0 { return "head bit inside a block" }
        if inner == PageAllocator.dirtyByte && isFree {
          guard PageAllocator.linkFlagsWellFormed(pfn + offset) else {
            return "bad link flag bytes"
          }
          linkedNodes += UInt(PageAllocator.linkMask(pfn + offset).nonzeroBitCount)
        } else if inner != 0 {
          return "bad byte inside a block (or link flags outside free memory)"
        }
      }
      switch byte & PageAllocator.stateBits {
      case PageAllocator.stateFree:
        free += size
        freeBlocks += 1
        guard PageAllocator.linkFlagsWellFormed(pfn) else { return "bad link flag bytes" }
        linkedNodes += UInt(PageAllocator.linkMask(pfn).nonzeroBitCount)
        if order < PageAllocator.maxOrder {
          let buddy = pfn ^ size
          if buddy >= r.usablePfn && buddy < r.topPfn && r.topPfn - buddy >= size
            && meta(area, buddy) == byte
          {
            return "free buddies not merged"
          }
        }
      case PageAllocator.stateAllocated:
        allocated += size
      case PageAllocator.stateReserved:
        guard order == 0 else { return "reserved block larger than a page" }
        reserved += size
      default:
        return "metadata state in usable range"
      }
      pfn += size
    }
    guard free == r.freePages else { return "free counter mismatch" }
    guard allocated == r.allocatedPages else { return "allocated counter mismatch" }
    guard reserved == r.reservedPages else { return "reserved counter mismatch" }
    guard free + allocated + reserved == r.topPfn - r.usablePfn else { return "pages not conserved" }
    var listed: UInt = 0
    var nodes: UInt = 0
    for order in 0...PageAllocator.maxOrder {
      let head = headNode(area, order)
      let bit: UInt = 1 << UInt(order)
      var previous = head
      var node = PageAllocator.next(head)
      while node != head {
        nodes += 1
        guard nodes <= linkedNodes else { return "free lists too long (cycle, duplicate or unmasked node)" }
        let pfn = node >> PageAllocator.pageShift
        guard node == PageAllocator.slot(pfn, order) else { return "free-list node not at its order's slot" }
        guard pfn >= r.usablePfn && pfn < r.topPfn else { return "free-list entry outside area" }
        let byte = meta(area, pfn)
        if byte == PageAllocator.freeHead(order) {
          listed += 1
        } else if byte != PageAllocator.dirtyByte
          && byte & (PageAllocator.headBit | PageAllocator.stateBits)
            != PageAllocator.headBit | PageAllocator.stateFree
        {
          // A stale node is only allowed in free memory.
          return "free-list entry not in a free block"
        }
        guard PageAllocator.linkMask(pfn) & bit != 0 else {
          return "linked node missing from its page's link flags"
        }
        guard PageAllocator.previous(node) == previous else { return "free-list back link broken" }
        previous = node
        node = PageAllocator.next(node)
      }
      guard PageAllocator.previous(head) == previous else { return "free-list back link broken" }
    }
    guard nodes == linkedNodes else { return "link flags claim a node no list holds" }
    guard listed == freeBlocks else { return "free block missing from free lists" }
    return nil
  }
}
