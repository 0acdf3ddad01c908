/// State of an `EarlyAllocator`, kept in memory owned by the allocator.
struct EarlyAllocatorState {
  var start: UInt
  var next: UInt
  var top: UInt
  var minimumAlignment: UInt
}

/// A bump allocator over a physical range `[base, top)`, for use during
/// boot before the page allocator is set up.
///
/// Every returned address is aligned to at least the allocator's minimum
/// alignment, which it enforces itself. Memory is never given back:
/// `free` is a documented no-op. When the page allocator is brought up,
/// `takeRemainingPages()` hands it the unused (page-aligned) rest of the
/// range and ends bump allocation.
///
/// Like `PageAllocator`, this is a copyable handle to state kept in memory
/// (by default the first bytes of the range), protected by a `SpinLock`.
public struct EarlyAllocator: @unchecked Sendable {
  static var stateOffset: Int { 16 }
  /// Bytes of state memory needed by `init(stateMemory:base:top:minimumAlignment:)`.
  public static var stateByteCount: Int { stateOffset + MemoryLayout<EarlyAllocatorState>.stride }

  let memory: UnsafeMutableRawPointer

  /// Creates an allocator over `[base, top)` with its state in
  /// `stateMemory` (`stateByteCount` bytes, 16-byte aligned, outside the
  /// range). Returns `nil` if `minimumAlignment` is not a power of two or
  /// the range is empty. Address 0 is never returned.
  public init?(stateMemory: UnsafeMutableRawPointer, base: UInt, top: UInt, minimumAlignment: UInt = 16) {
    guard MemoryMath.isPowerOfTwo(minimumAlignment), base < top else { return nil }
    let start = base == 0 ? minimumAlignment : base
    guard start < top else { return nil }
    _ = SpinLock(initializingAt: stateMemory)
    (stateMemory + EarlyAllocator.stateOffset).bindMemory(to: EarlyAllocatorState.self, capacity: 1)
      .initialize(to: EarlyAllocatorState(
        start: start, next: start, top: top, minimumAlignment: minimumAlignment))
    memory = stateMemory
  }

  /// Creates an allocator over `[base, top)` keeping its state in the first
  /// `stateByteCount` bytes of the (16-byte aligned) range; allocations
  /// start after it. Returns `nil` if the range is too small or
  /// `minimumAlignment` is not a power of two.
  public init?(base: UInt, top: UInt, minimumAlignment: UInt = 16) {
    guard let aligned = MemoryMath.alignUp(base == 0 ? 16 : base, 16),
      aligned < top, top - aligned > UInt(EarlyAllocator.stateByteCount),
      let raw = UnsafeMutableRawPointer(bitPattern: aligned)
    else { return nil }
    self.init(
      stateMemory: raw, base: aligned + UInt(EarlyAllocator.stateByteCount), top: top,
      minimumAlignment: minimumAlignment)
  }

  var lock: SpinLock { SpinLock(existingAt: memory) }
  var state: UnsafeMutablePointer<EarlyAllocatorState> {
    (memory + EarlyAllocator.stateOffset).assumingMemoryBound(to: EarlyAllocatorState.self)
  }

  /// The minimum alignment of every allocation.
  public var minimumAlignment: UInt { state.pointee.minimumAlignment }

  /// Allocates `size` bytes aligned to the minimum alignment; `nil` if
  /// `size` is 0 or the range is exhausted.
  public func allocate(size: UInt) -> UnsafeMutableRawPointer? {
    memalign(alignment: 1, size: size)
  }

  /// Allocates `size` bytes aligned to `alignment` (raised to the minimum
  /// alignment). Returns `nil` if `alignment` is not a power of two, `size`
  /// is 0 or the range is exhausted.
  public func memalign(alignment: UInt, size: UInt) -> UnsafeMutableRawPointer? {
    guard MemoryMath.isPowerOfTwo(alignment), size > 0 else { return nil }
    lock.lock()
    defer { lock.unlock() }
    let minimum = state.pointee.minimumAlignment
    let effective = alignment > minimum ? alignment : minimum
    guard let address = MemoryMath.alignUp(state.pointee.next, effective),
      address < state.pointee.top, state.pointee.top - address >= size
    else { return nil }
    state.pointee.next = address + size
    return UnsafeMutableRawPointer(bitPattern: address)
  }

  /// Does nothing: the early allocator cannot free memory.
  public func free(_ pointer: UnsafeMutableRawPointer?) {}

  /// The still unused part `[base, top)` of the range.
  public var remainingRange: (base: UInt, top: UInt) {
    lock.lock()
    defer { lock.unlock() }
    return (state.pointee.next, state.pointee.top)
  }

  /// Ends bump allocation and returns the unused part of the range shrunk
  /// to whole pages, as page frame numbers `[basePfn, topPfn)` for
  /// `PageAllocator.addMemory(basePfn:topPfn:)` (empty if no whole page is
  /// left). Later allocations fail.
  public func takeRemainingPages() -> (basePfn: UInt, topPfn: UInt) {
    lock.lock()
    defer { lock.unlock() }
    let top = state.pointee.top
    let base = MemoryMath.alignUp(state.pointee.next, PageAllocator.pageSize) ?? top
    state.pointee.top = state.pointee.next
    let basePfn = base >> PageAllocator.pageShift
    let topPfn = top >> PageAllocator.pageShift
    return basePfn < topPfn ? (basePfn, topPfn) : (basePfn, basePfn)
  }

  /// Bytes handed out so far (alignment padding included).
  public var usedBytes: UInt {
    lock.lock()
    defer { lock.unlock() }
    return state.pointee.next - state.pointee.start
  }

  /// Whether `pointer` lies in the part of the range handed out so far.
  public func owns(_ pointer: UnsafeMutableRawPointer) -> Bool {
    let address = UInt(bitPattern: pointer)
    lock.lock()
    defer { lock.unlock() }
    return address >= state.pointee.start && address < state.pointee.next
  }
}
