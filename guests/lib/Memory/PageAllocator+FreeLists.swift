// Free lists with lazy removal of absorbed blocks.
//
// A free block of order k is on list k through a node of 16 bytes (next and
// previous node address) at byte `32 + 16 * k` of its first page: every page
// has a separate node per order (`slot(_:_:)`), and the page's first 24
// bytes are its link flags: byte k is 1 if the page's node of order k is
// linked, 0 if not (`linkFlag`, `linkMask`). One byte per order lets a
// node be marked linked with a single store, without reading the page.
//
// When two buddies merge, neither is unlinked from its list: the absorbed
// block's node stays linked but is *stale*, because its page's metadata byte
// no longer says "free head of this list's order" (it now says "interior of
// a free block with link flags" (`dirtyByte`), or "free head of a larger
// order"). Merging therefore reads and writes metadata bytes only, never the
// absorbed blocks' pages or their list neighbours' pages (cold cache lines
// and, on a large area, TLB misses). Stale nodes are removed when they are
// found at the front of a list by an allocation or a query (which reads the
// node anyway), and whenever their page stops being free memory or gets a
// node of the same order pushed again:
//
// * before a page is handed out (allocated or reserved), every linked node
//   of the page is unlinked (`purgeBlock`): handed-out memory never holds a
//   list node;
// * before a node is pushed, a stale node of the same page and order is
//   unlinked first (`link`), so the push puts the block at the front of its
//   list exactly as removing it at merge time would have.
//
// The valid entries of every list are thus the same blocks in the same order
// as with eager removal, and so is every block handed out.
//
// Invariants: a page with a linked node is a free block head
// (`freeHead(k)`) or a non-head page of a free block marked `dirtyByte`; both
// have valid link flags. Every other page (allocated, reserved, pending,
// non-head marked 0) has no linked node and its first bytes are not ours.
// Every linked node of a page has an order no larger than the free block
// containing the page, and only a free head's own order is equal to it: a
// page linked at order k was a head of order k, and it stops being one only
// by merging into a larger block (nodes up to k) or by a split that links
// it again at a smaller order (which first unlinks a stale node of that
// order). So the head of a block that merging just made has no node of the
// block's order, and `linkMerged` marks it linked without reading the page.
extension PageAllocator {
  /// Metadata byte of a non-head page of a free block whose link flags are
  /// valid (it may have stale nodes linked). Head bit clear, so every
  /// head-bit check treats it as an interior page like 0.
  static var dirtyByte: UInt8 { stateFree }

  /// Metadata byte of a free block head of `order`.
  @inline(__always)
  static func freeHead(_ order: Int) -> UInt8 {
    headBit | stateFree | UInt8(truncatingIfNeeded: order)
  }

  /// Address of page `pfn`'s list node for `order` (after its link flags).
  @inline(__always)
  static func slot(_ pfn: UInt, _ order: Int) -> UInt {
    (pfn &<< pageShift) &+ 32 &+ (UInt(truncatingIfNeeded: order) &<< 4)
  }

  /// Mask of the orders whose node of page `pfn` is linked (valid for free
  /// heads and `dirtyByte` pages only), gathered from its 24 flag bytes.
  @inline(__always)
  static func linkMask(_ pfn: UInt) -> UInt {
    let page = UnsafeRawPointer(bitPattern: pfn &<< pageShift).unsafelyUnwrapped
    let low = UInt64(littleEndian: page.load(as: UInt64.self))
    let middle = UInt64(littleEndian: page.load(fromByteOffset: 8, as: UInt64.self))
    let high = UInt64(littleEndian: page.load(fromByteOffset: 16, as: UInt64.self))
    let flags = gatherFlags(low) | gatherFlags(middle) &<< 8 | gatherFlags(high) &<< 16
    return UInt(truncatingIfNeeded: flags)
  }

  /// The eight flag bytes (each 0 or 1) of `word` (byte i at bits 8i...8i+7)
  /// as the bits 0...7 of the result: the product adds flag i at bit 56 + i,
  /// and no two terms meet below bit 64.
  @inline(__always)
  static func gatherFlags(_ word: UInt64) -> UInt64 {
    (word &* 0x0102_0408_1020_4080) &>> 56
  }

  /// Whether the link flag bytes of page `pfn` (flags valid) are 0 or 1,
  /// and 0 beyond order `maxOrder` (what `linkMask` relies on).
  static func linkFlagsWellFormed(_ pfn: UInt) -> Bool {
    let page = UnsafeRawPointer(bitPattern: pfn &<< pageShift).unsafelyUnwrapped
    for offset in 0..<24 {
      let flag = page.load(fromByteOffset: offset, as: UInt8.self)
      if flag > 1 || (flag != 0 && offset > maxOrder) { return false }
    }
    return true
  }

  /// Whether page `pfn`'s node of `order` is linked (flags valid).
  @inline(__always)
  static func linkFlag(_ pfn: UInt, _ order: Int) -> Bool {
    UnsafeRawPointer(bitPattern: pfn &<< pageShift).unsafelyUnwrapped
      .load(fromByteOffset: order, as: UInt8.self) != 0
  }

  /// Marks page `pfn`'s node of `order` linked or not (flags valid).
  @inline(__always)
  static func setLinkFlag(_ pfn: UInt, _ order: Int, _ linked: Bool) {
    UnsafeMutableRawPointer(bitPattern: pfn &<< pageShift).unsafelyUnwrapped
      .storeBytes(of: linked ? 1 : 0, toByteOffset: order, as: UInt8.self)
  }

  /// Writes the link flags of a page that had none (its bytes were not
  /// ours): only the node of `order` linked.
  @inline(__always)
  static func initialiseLinkFlags(_ pfn: UInt, _ order: Int) {
    let page = UnsafeMutableRawPointer(bitPattern: pfn &<< pageShift).unsafelyUnwrapped
    page.storeBytes(of: 0, as: UInt64.self)
    page.storeBytes(of: 0, toByteOffset: 8, as: UInt64.self)
    page.storeBytes(of: 0, toByteOffset: 16, as: UInt64.self)
    page.storeBytes(of: 1, toByteOffset: order, as: UInt8.self)
  }

  /// Whether page `pfn` (flags valid) has a linked node other than its
  /// node of `order`, which is linked: the three flag words added bytewise
  /// (no byte can carry: each is at most 3) equal that one flag alone.
  @inline(__always)
  static func hasOtherLinkFlags(_ pfn: UInt, _ order: Int) -> Bool {
    let page = UnsafeRawPointer(bitPattern: pfn &<< pageShift).unsafelyUnwrapped
    let sum = UInt64(littleEndian: page.load(as: UInt64.self))
      &+ UInt64(littleEndian: page.load(fromByteOffset: 8, as: UInt64.self))
      &+ UInt64(littleEndian: page.load(fromByteOffset: 16, as: UInt64.self))
    return sum != UInt64(1) &<< UInt64(truncatingIfNeeded: (order & 7) &<< 3)
  }

  /// Links the block at `pfn` at the front of list `order` of `area` (the
  /// caller writes its metadata byte). `hasMask`: the page's link flags are
  /// valid (a free head or a `dirtyByte` page); otherwise the page has no
  /// linked node. A stale node of the same order is unlinked first.
  @inline(__always)
  func link(_ area: Int, _ pfn: UInt, _ order: Int, hasMask: Bool) {
    PageAllocator.link(headNode(area, order), pfn, order, hasMask: hasMask)
  }

  /// `link(_:_:_:hasMask:)` given the list's head node.
  @inline(__always)
  static func link(_ head: UInt, _ pfn: UInt, _ order: Int, hasMask: Bool) {
    if hasMask {
      if linkFlag(pfn, order) { unlink(slot(pfn, order)) }
      setLinkFlag(pfn, order, true)
    } else {
      initialiseLinkFlags(pfn, order)
    }
    push(head, slot(pfn, order))
  }

  /// Links the block that `mergeMetadata` just made (`start`, `order`,
  /// `hasMask` as it returned them). Its page has no node of `order` (see
  /// the invariants above), so marking the node linked is a store only:
  /// linking reads no cold page, and merges can be linked as they are made.
  @inline(__always)
  func linkMerged(_ area: Int, _ pfn: UInt, _ order: Int, hasMask: Bool) {
    if hasMask {
      assert(!PageAllocator.linkFlag(pfn, order), "merged head already linked at its order")
      PageAllocator.setLinkFlag(pfn, order, true)
    } else {
      PageAllocator.initialiseLinkFlags(pfn, order)
    }
    PageAllocator.push(headNode(area, order), PageAllocator.slot(pfn, order))
  }

  /// Unlinks the valid node of the free block head `pfn` of `order` and
  /// clears its flag (metadata unchanged).
  @inline(__always)
  func unlinkFree(_ pfn: UInt, _ order: Int) {
    PageAllocator.unlink(PageAllocator.slot(pfn, order))
    PageAllocator.setLinkFlag(pfn, order, false)
  }

  /// Unlinks every node of page `pfn` whose order is in `mask`.
  @inline(__always)
  static func unlinkNodes(_ pfn: UInt, _ mask: UInt) {
    var rest = mask
    while rest != 0 {
      unlink(slot(pfn, rest.trailingZeroBitCount))
      rest &= rest &- 1
    }
  }

  /// Before the pages `[pfn, pfn + 2^order)` are handed out: unlinks every
  /// node they hold. `pfn` was a free head (valid flags, its own node already
  /// unlinked); interior pages with flags are marked `dirtyByte` and are
  /// reset to 0 (the caller then writes the head byte).
  func purgeBlock(_ origin: UInt, _ pfn: UInt, _ order: Int) {
    let headMask = PageAllocator.linkMask(pfn)
    if headMask != 0 { PageAllocator.unlinkNodes(pfn, headMask) }
    if order != 0 { purgeInterior(origin, pfn, order) }
  }

  /// The interior part of `purgeBlock`: pages `pfn + 1 ..< pfn + 2^order`
  /// (`order` > 0). Their metadata bytes are read a word at a time (the
  /// head byte, at the lowest address, masked out): they are usually all 0.
  @inline(__always)
  func purgeInterior(_ origin: UInt, _ pfn: UInt, _ order: Int) {
    let bytes = UnsafeRawPointer(bitPattern: origin &+ pfn).unsafelyUnwrapped
    let any: Bool
    switch order {
    case 1: any = bytes.loadUnaligned(as: UInt16.self) & ~UInt16(0xFF).littleEndian != 0
    case 2: any = bytes.loadUnaligned(as: UInt32.self) & ~UInt32(0xFF).littleEndian != 0
    default:
      var bits = bytes.loadUnaligned(as: UInt64.self) & ~UInt64(0xFF).littleEndian
      let count = 1 &<< order
      var offset = 8
      while offset < count {
        bits |= bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset &+= 8
      }
      any = bits != 0
    }
    if any { purgeInteriorPages(origin, pfn, order) }
  }

  /// `purgeInterior` for an area whose `mergeLimit` is at least 4 (every
  /// aligned group of sixteen pages lies inside it, so the group's sixteen
  /// metadata bytes are two aligned words of the metadata), any `order`
  /// including 0. Blocks of orders 0 to 4, the common ones, are checked
  /// with the same two loads and two masks from `interiorMaskTable`, with
  /// no branch on the order: the `switch` of `purgeInterior` (and its
  /// `order != 0` test), taken on the order of each allocation, was
  /// mispredicted about 0.9 times per allocation of mixed orders 0 to 4
  /// (callgrind's branch simulation, alloc-bench row d). The masks come
  /// from memory because the compiler turned masks computed from the order
  /// back into branches.
  @inline(__always)
  func purgeInteriorInGroups(_ origin: UInt, _ pfn: UInt, _ order: Int) {
    let group = UnsafeRawPointer(bitPattern: origin &+ (pfn & ~15)).unsafelyUnwrapped
    // Byte i of `word` is page `(pfn & ~7) + i`, of `second` page
    // `(pfn & ~15) + 8 + i`. A block of order 3 or less lies in `word`; an
    // order-4 block (or larger) starts the group and has both words.
    let word = UInt64(littleEndian: group.load(fromByteOffset: Int(truncatingIfNeeded: pfn & 8), as: UInt64.self))
    let second = UInt64(littleEndian: group.load(fromByteOffset: 8, as: UInt64.self))
    let masks = interiorMaskTable + (order < 4 ? order : 4) &* 16
    let shift = UInt64(truncatingIfNeeded: (pfn & 7) &<< 3)
    var bits = word & masks.load(as: UInt64.self) &<< shift
      | second & masks.load(fromByteOffset: 8, as: UInt64.self)
    // Orders 5 and up: the groups after the first two.
    let count = 1 &<< order
    var offset = 16
    while offset < count {
      bits |= group.load(fromByteOffset: offset, as: UInt64.self)
      offset &+= 8
    }
    if bits != 0 { purgeInteriorPages(origin, pfn, order) }
  }

  /// Unlinks the nodes of the `dirtyByte` pages among `pfn + 1 ..< pfn + 2^order`
  /// and resets their bytes to 0.
  func purgeInteriorPages(_ origin: UInt, _ pfn: UInt, _ order: Int) {
    let end = pfn &+ (1 &<< UInt(truncatingIfNeeded: order))
    var page = pfn &+ 1
    while page < end {
      if PageAllocator.meta(origin, page) != 0 {
        PageAllocator.unlinkNodes(page, PageAllocator.linkMask(page))
        PageAllocator.setMeta(origin, page, 0)
      }
      page &+= 1
    }
  }

  /// The first valid block of list `order` of `area` (its page frame), or
  /// `nil` if the list holds none; stale nodes in front of it are unlinked.
  @inline(__always)
  func firstFree(_ area: Int, _ origin: UInt, _ order: Int) -> UInt? {
    let head = headNode(area, order)
    let node = PageAllocator.next(head)
    if node == head { return nil }
    if PageAllocator.meta(origin, node &>> PageAllocator.pageShift) == PageAllocator.freeHead(order) {
      return node &>> PageAllocator.pageShift
    }
    return dropStaleFront(area, origin, order)
  }

  /// Unlinks the run of stale nodes at the front of list `order` of `area`
  /// and returns the first valid block's page frame, or `nil`.
  func dropStaleFront(_ area: Int, _ origin: UInt, _ order: Int) -> UInt? {
    let head = headNode(area, order)
    let wanted = PageAllocator.freeHead(order)
    let bit: UInt = 1 &<< UInt(truncatingIfNeeded: order)
    var node = PageAllocator.next(head)
    while node != head {
      let pfn = node &>> PageAllocator.pageShift
      let byte = PageAllocator.meta(origin, pfn)
      if byte == wanted { break }
      let following = PageAllocator.next(node)
      let rest = PageAllocator.linkMask(pfn) & ~bit
      PageAllocator.setLinkFlag(pfn, order, false)
      if rest == 0 && byte == PageAllocator.dirtyByte { PageAllocator.setMeta(origin, pfn, 0) }
      node = following
    }
    PageAllocator.setNext(head, node)
    PageAllocator.setPrevious(node, head)
    return node == head ? nil : node &>> PageAllocator.pageShift
  }

  /// Marks `[pfn, pfn + 2^order)` (pages with no linked node) as a free
  /// block and pushes it on its list.
  func pushFree(_ area: Int, _ pfn: UInt, _ order: Int) {
    link(area, pfn, order, hasMask: false)
    setMeta(area, pfn, PageAllocator.freeHead(order))
  }

  /// Number of valid entries of list `order` of `area` (walks the list).
  func validEntryCount(_ area: Int, _ order: Int) -> UInt {
    let origin = metadataOrigin(area)
    let wanted = PageAllocator.freeHead(order)
    var count: UInt = 0
    let head = headNode(area, order)
    var node = PageAllocator.next(head)
    while node != head {
      if PageAllocator.meta(origin, node &>> PageAllocator.pageShift) == wanted { count += 1 }
      node = PageAllocator.next(node)
    }
    return count
  }
}
