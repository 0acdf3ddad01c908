/// Errors returned by `VirtualAllocator.free` for invalid calls. An invalid
/// call changes nothing.
public enum VirtualAllocatorError: UInt8, Sendable, Equatable {
  /// The address is not page aligned.
  case misaligned
  /// The address is outside the allocator's virtual range.
  case outsideRange
  /// The page is not in use (for example a double free).
  case notAllocated
  /// The page is in use but is not the first page of an allocation.
  case notAllocationStart
  /// The header page of a multi-page allocation does not match the
  /// allocator's records.
  case corruptedMetadata
}

/// State of a `VirtualAllocator`, at the start of its metadata block.
struct VirtualAllocatorState {
  var basePage: UInt
  var pageCount: UInt
  var hint: UInt
  var usedPages: UInt
  var allocations: UInt
  var metadataAddress: UInt
  var metadataOrder: Int
  var areas: AreaMask
}

/// Allocates virtually contiguous memory in `[virtualBase, virtualTop)`,
/// backed by single physical pages from a `PageAllocator` and mapped with a
/// `PageMapper`.
///
/// ## Metadata
/// The allocator keeps a 2-bit tag per virtual page (free, header, first
/// page, following page) in one block taken from the page allocator at
/// creation. As in kvm-unit-tests, allocation sizes are kept by this
/// allocator, not by the malloc layer:
/// * an allocation of one page needs no extra page: its tag says "first
///   page" and the previous page is not a header, so its size is one page;
/// * an allocation of more than one page gets ONE extra virtual page, mapped
///   just before the returned address, whose last 16 bytes hold the page
///   count and a magic value (checked against the tags on free).
///
/// Virtual space is handed out first-fit from a "lowest possibly free page"
/// hint, so freed ranges are reused. `allocate`/`free` cost O(pages mapped)
/// plus the first-fit scan.
///
/// Like `PageAllocator`, this is a copyable handle (state pointer, page
/// allocator handle, mapper value) protected by its own `SpinLock`; it calls
/// the page allocator and the mapper with that lock held.
public struct VirtualAllocator<Mapper: PageMapper> {
  static var stateOffset: Int { 16 }
  static var tagsOffset: Int {
    (stateOffset + MemoryLayout<VirtualAllocatorState>.stride + 15) & ~15
  }
  static var pagesPerWord: UInt { 32 }
  static var tagFree: UInt64 { 0 }
  static var tagHeader: UInt64 { 1 }
  static var tagStart: UInt64 { 2 }
  static var tagBody: UInt64 { 3 }
  /// Magic value stored in the header page of multi-page allocations.
  public static var headerMagic: UInt { 0x5641_4C4C }

  let memory: UnsafeMutableRawPointer
  /// The page allocator providing physical pages (and this allocator's
  /// metadata block).
  public let pages: PageAllocator
  /// The mapper used to map and unmap virtual pages.
  public let mapper: Mapper

  /// Creates an allocator for the virtual range `[virtualBase, virtualTop)`
  /// (page aligned, non-empty, not starting at 0). Its tag table (2 bits per
  /// virtual page) is allocated from `pages`; backing pages are taken from
  /// `areas`. Returns `nil` on invalid arguments or if the metadata block
  /// cannot be allocated.
  public init?(
    virtualBase: UInt, virtualTop: UInt, pages: PageAllocator, mapper: Mapper,
    areas: AreaMask = .any
  ) {
    let mask = PageAllocator.pageSize - 1
    guard virtualBase != 0, virtualBase < virtualTop,
      virtualBase & mask == 0, virtualTop & mask == 0
    else { return nil }
    let pageCount = (virtualTop - virtualBase) >> PageAllocator.pageShift
    let words = (pageCount + VirtualAllocator.pagesPerWord - 1) / VirtualAllocator.pagesPerWord
    let bytes = UInt(VirtualAllocator.tagsOffset) + words * 8
    guard let order = PageAllocator.order(forBytes: bytes),
      let block = pages.allocate(order: order, areas: areas, flags: .zero)
    else { return nil }
    _ = SpinLock(initializingAt: block)
    (block + VirtualAllocator.stateOffset).bindMemory(to: VirtualAllocatorState.self, capacity: 1)
      .initialize(to: VirtualAllocatorState(
        basePage: virtualBase >> PageAllocator.pageShift, pageCount: pageCount, hint: 0,
        usedPages: 0, allocations: 0, metadataAddress: UInt(bitPattern: block),
        metadataOrder: order, areas: areas))
    (block + VirtualAllocator.tagsOffset).bindMemory(to: UInt64.self, capacity: Int(words))
    memory = block
    self.pages = pages
    self.mapper = mapper
  }

  var lock: SpinLock { SpinLock(existingAt: memory) }
  var state: UnsafeMutablePointer<VirtualAllocatorState> {
    (memory + VirtualAllocator.stateOffset).assumingMemoryBound(to: VirtualAllocatorState.self)
  }
  var tags: UnsafeMutablePointer<UInt64> {
    (memory + VirtualAllocator.tagsOffset).assumingMemoryBound(to: UInt64.self)
  }

  /// First virtual address of the range.
  public var virtualBase: UInt { state.pointee.basePage << PageAllocator.pageShift }
  /// One past the last virtual address of the range.
  public var virtualTop: UInt {
    (state.pointee.basePage + state.pointee.pageCount) << PageAllocator.pageShift
  }
  /// Pages of the page allocator used for this allocator's own tag table.
  public var metadataPages: UInt { UInt(1) << UInt(state.pointee.metadataOrder) }

  /// Virtual pages in use (header pages included); each is backed by one
  /// physical page.
  public var usedPages: UInt {
    lock.lock()
    defer { lock.unlock() }
    return state.pointee.usedPages
  }

  /// Number of live allocations.
  public var liveAllocations: UInt {
    lock.lock()
    defer { lock.unlock() }
    return state.pointee.allocations
  }

  /// Whether `pointer` lies inside the virtual range.
  public func owns(_ pointer: UnsafeMutableRawPointer) -> Bool {
    let address = UInt(bitPattern: pointer)
    return address >= virtualBase && address < virtualTop
  }

  /// Allocates `size` bytes of virtually contiguous memory aligned to
  /// `alignment` (at least one page). Allocations of more than one page use
  /// one extra header page. Returns `nil` if `alignment` is not a power of
  /// two, `size` is 0, or virtual space, physical pages or mappings run out
  /// (everything taken so far is then given back).
  public func memalign(
    alignment: UInt, size: UInt, flags: PageAllocationFlags = .none
  ) -> UnsafeMutableRawPointer? {
    guard MemoryMath.isPowerOfTwo(alignment), size > 0,
      let rounded = MemoryMath.alignUp(size, PageAllocator.pageSize)
    else { return nil }
    let count = rounded >> PageAllocator.pageShift
    let headerPages: UInt = count > 1 ? 1 : 0
    let total = count + headerPages
    let alignPages = alignment > PageAllocator.pageSize ? alignment >> PageAllocator.pageShift : 1
    lock.lock()
    defer { lock.unlock() }
    guard let first = findRun(total: total, headerPages: headerPages, alignPages: alignPages) else {
      return nil
    }
    if headerPages == 1 {
      setTag(first, VirtualAllocator.tagHeader)
      setTag(first + 1, VirtualAllocator.tagStart)
      for index in (first + 2)..<(first + total) { setTag(index, VirtualAllocator.tagBody) }
    } else {
      setTag(first, VirtualAllocator.tagStart)
    }
    if state.pointee.hint == first { state.pointee.hint = first + total }
    state.pointee.usedPages += total
    state.pointee.allocations += 1
    let areas = state.pointee.areas
    for index in 0..<total {
      let virtual = address(ofPage: first + index)
      guard let physical = pages.allocate(order: 0, areas: areas, flags: flags) else {
        release(first: first, total: total, mapped: index)
        return nil
      }
      if !mapper.map(virtual: virtual, physical: UInt(bitPattern: physical)) {
        pages.free(physical)
        release(first: first, total: total, mapped: index)
        return nil
      }
    }
    let data = address(ofPage: first + headerPages)
    if headerPages == 1 {
      let header = UnsafeMutableRawPointer(bitPattern: data - 16).unsafelyUnwrapped
      header.storeBytes(of: count, toByteOffset: 0, as: UInt.self)
      header.storeBytes(of: VirtualAllocator.headerMagic, toByteOffset: 8, as: UInt.self)
    }
    return UnsafeMutableRawPointer(bitPattern: data)
  }

  /// Allocates `size` bytes, page aligned (see `memalign`).
  public func allocate(size: UInt, flags: PageAllocationFlags = .none) -> UnsafeMutableRawPointer? {
    memalign(alignment: PageAllocator.pageSize, size: size, flags: flags)
  }

  /// Frees an allocation: unmaps its pages (and its header page) and gives
  /// the physical pages back to the page allocator. Returns `nil` on
  /// success or why the call was refused (nothing is changed then).
  @discardableResult
  public func free(_ pointer: UnsafeMutableRawPointer) -> VirtualAllocatorError? {
    let address = UInt(bitPattern: pointer)
    guard address & (PageAllocator.pageSize - 1) == 0 else { return .misaligned }
    guard owns(pointer) else { return .outsideRange }
    lock.lock()
    defer { lock.unlock() }
    let page = (address >> PageAllocator.pageShift) - state.pointee.basePage
    guard let (first, total) = extent(ofAllocationAt: page) else {
      return errorFor(page: page)
    }
    release(first: first, total: total, mapped: total)
    return nil
  }

  /// Size in pages of the allocation starting at `pointer` (header page not
  /// counted), or `nil` if no allocation starts there.
  public func allocationPages(_ pointer: UnsafeMutableRawPointer) -> UInt? {
    let address = UInt(bitPattern: pointer)
    guard address & (PageAllocator.pageSize - 1) == 0, owns(pointer) else { return nil }
    lock.lock()
    defer { lock.unlock() }
    let page = (address >> PageAllocator.pageShift) - state.pointee.basePage
    guard let (first, total) = extent(ofAllocationAt: page) else { return nil }
    return first == page ? total : total - 1
  }

  // MARK: Helpers (lock held)

  func address(ofPage index: UInt) -> UInt {
    (state.pointee.basePage + index) << PageAllocator.pageShift
  }

  func tag(_ index: UInt) -> UInt64 {
    let shift = UInt64((index % VirtualAllocator.pagesPerWord) * 2)
    return (tags[Int(index / VirtualAllocator.pagesPerWord)] >> shift) & 3
  }

  func setTag(_ index: UInt, _ value: UInt64) {
    let shift = UInt64((index % VirtualAllocator.pagesPerWord) * 2)
    let word = Int(index / VirtualAllocator.pagesPerWord)
    tags[word] = (tags[word] & ~(3 << shift)) | (value << shift)
  }

  /// First-fit search from the hint for `total` free pages whose page
  /// `headerPages` is aligned to `alignPages` virtual pages.
  func findRun(total: UInt, headerPages: UInt, alignPages: UInt) -> UInt? {
    let count = state.pointee.pageCount
    let base = state.pointee.basePage
    var first = state.pointee.hint
    while true {
      guard let aligned = MemoryMath.alignUp(base + first + headerPages, alignPages) else {
        return nil
      }
      first = aligned - base - headerPages
      guard first < count, count - first >= total else { return nil }
      var index = first
      while index < first + total && tag(index) == VirtualAllocator.tagFree { index += 1 }
      if index == first + total { return first }
      first = index + 1
    }
  }

  /// Start page and page count (header included) of the allocation whose
  /// data starts at virtual page `page`, checked against the tags and header.
  func extent(ofAllocationAt page: UInt) -> (UInt, UInt)? {
    guard tag(page) == VirtualAllocator.tagStart else { return nil }
    let next = page + 1
    let hasHeader = page > 0 && tag(page - 1) == VirtualAllocator.tagHeader
    if !hasHeader {
      // A one-page allocation is never followed by a body page.
      if next < state.pointee.pageCount && tag(next) == VirtualAllocator.tagBody { return nil }
      return (page, 1)
    }
    let header = UnsafeMutableRawPointer(bitPattern: address(ofPage: page) - 16).unsafelyUnwrapped
    let count = header.load(fromByteOffset: 0, as: UInt.self)
    guard header.load(fromByteOffset: 8, as: UInt.self) == VirtualAllocator.headerMagic,
      count >= 2, count <= state.pointee.pageCount - page
    else { return nil }
    for index in next..<(page + count) where tag(index) != VirtualAllocator.tagBody { return nil }
    if page + count < state.pointee.pageCount && tag(page + count) == VirtualAllocator.tagBody {
      return nil
    }
    return (page - 1, count + 1)
  }

  func errorFor(page: UInt) -> VirtualAllocatorError {
    switch tag(page) {
    case VirtualAllocator.tagFree: return .notAllocated
    case VirtualAllocator.tagStart: return .corruptedMetadata
    default: return .notAllocationStart
    }
  }

  /// Unmaps the first `mapped` pages of a run (freeing their physical
  /// pages) and marks the whole run free.
  func release(first: UInt, total: UInt, mapped: UInt) {
    if mapped > 0 {
      for index in 0..<mapped {
        if let physical = mapper.unmap(virtual: address(ofPage: first + index)),
          let pointer = UnsafeMutableRawPointer(bitPattern: physical)
        {
          pages.free(pointer)
        }
      }
    }
    for index in first..<(first + total) { setTag(index, VirtualAllocator.tagFree) }
    state.pointee.usedPages -= total
    state.pointee.allocations -= 1
    if first < state.pointee.hint { state.pointee.hint = first }
  }
}

extension VirtualAllocator: @unchecked Sendable where Mapper: Sendable {}
