/// Which allocator a `GuestHeap` currently takes new allocations from.
public enum HeapBackend: UInt8, Sendable, Equatable {
  /// No allocator: every allocation fails.
  case none
  /// The boot-time bump allocator.
  case early
  /// The page allocator (page-granular allocations).
  case pages
  /// The virtual allocator.
  case virtual
}

/// What `GuestHeap.free` did with a pointer.
public enum HeapFreeResult: UInt8, Sendable, Equatable {
  /// The memory was returned to its allocator.
  case freed
  /// Nothing to do: a null pointer, or memory of the early allocator (which
  /// cannot free).
  case ignored
  /// The pointer belongs to no allocator, or its allocator refused it
  /// (double free, not the start of an allocation, ...).
  case invalid
}

/// The malloc layer: `malloc`, `calloc`, `memalign` and `free` on top of
/// whichever lower allocator is active.
///
/// The heap keeps no size metadata of its own; sizes are known by the lower
/// allocators. New allocations come from the active backend (switchable at
/// run time); `free` routes a pointer to the allocator that owns it, by
/// address: the virtual range of the virtual allocator, then the areas of
/// the page allocator, then the used part of the early allocator (ignored,
/// it cannot free).
///
/// * early backend: bump allocation, alignment at least the early
///   allocator's minimum alignment, never freed;
/// * pages backend: page-granular, a size is rounded up to `2^order` pages
///   (see `PageAllocator.memalign`);
/// * virtual backend: page-granular virtual memory (see `VirtualAllocator`).
///
/// A guest without virtual memory uses `GuestHeap<NoPageMapper>`.
public struct GuestHeap<Mapper: PageMapper> {
  /// The active backend for new allocations.
  public private(set) var backend: HeapBackend
  /// The early allocator, once registered.
  public private(set) var early: EarlyAllocator?
  /// The page allocator, once registered.
  public private(set) var pages: PageAllocator?
  /// The virtual allocator, once registered.
  public private(set) var virtual: VirtualAllocator<Mapper>?
  /// Areas the pages backend allocates from.
  public var pageAreas: AreaMask

  /// Creates a heap with no backend (all allocations fail).
  public init() {
    backend = .none
    early = nil
    pages = nil
    virtual = nil
    pageAreas = .any
  }

  /// Registers `allocator` and makes the early backend active.
  public mutating func useEarly(_ allocator: EarlyAllocator) {
    early = allocator
    backend = .early
  }

  /// Registers `allocator` and makes the pages backend active. Pointers
  /// previously returned by the early allocator stay valid (and are ignored
  /// by `free`).
  public mutating func usePages(_ allocator: PageAllocator, areas: AreaMask = .any) {
    pages = allocator
    pageAreas = areas
    backend = .pages
  }

  /// Registers `allocator` (and its page allocator) and makes the virtual
  /// backend active.
  public mutating func useVirtual(_ allocator: VirtualAllocator<Mapper>) {
    virtual = allocator
    if pages == nil { pages = allocator.pages }
    backend = .virtual
  }

  /// Makes the virtual backend active, creating it with `make` the first
  /// time; `false` (and nothing changed) when `make` gives none.
  public mutating func activateVirtual(creatingWith make: () -> VirtualAllocator<Mapper>?) -> Bool {
    if virtual != nil { return activate(.virtual) }
    guard let allocator = make() else { return false }
    useVirtual(allocator)
    return true
  }

  /// Makes a previously registered backend active again; returns `false`
  /// (and changes nothing) if that backend was never registered.
  @discardableResult
  public mutating func activate(_ newBackend: HeapBackend) -> Bool {
    switch newBackend {
    case .none: break
    case .early: if early == nil { return false }
    case .pages: if pages == nil { return false }
    case .virtual: if virtual == nil { return false }
    }
    backend = newBackend
    return true
  }

  /// Allocates `size` bytes (alignment: 16 bytes or more); `nil` if `size`
  /// is 0 or memory is exhausted.
  public func malloc(_ size: UInt) -> UnsafeMutableRawPointer? {
    memalign(alignment: 16, size: size)
  }

  /// Allocates `count * size` zeroed bytes; `nil` if the product overflows,
  /// is 0, or memory is exhausted.
  public func calloc(count: UInt, size: UInt) -> UnsafeMutableRawPointer? {
    let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
    guard !overflow, let pointer = memalign(alignment: 16, size: bytes) else { return nil }
    MemoryMath.zero(pointer, count: bytes)
    return pointer
  }

  /// Allocates `size` bytes aligned to `alignment` (a power of two) from the
  /// active backend; `nil` on a bad alignment, a zero size or exhaustion.
  public func memalign(alignment: UInt, size: UInt) -> UnsafeMutableRawPointer? {
    guard MemoryMath.isPowerOfTwo(alignment), size > 0 else { return nil }
    switch backend {
    case .none:
      return nil
    case .early:
      return early?.memalign(alignment: alignment, size: size)
    case .pages:
      return pages?.memalign(alignment: alignment, size: size, areas: pageAreas)
    case .virtual:
      return virtual?.memalign(alignment: alignment, size: size)
    }
  }

  /// Frees `pointer` through the allocator that owns it (whatever the
  /// active backend is). See `HeapFreeResult`.
  @discardableResult
  public func free(_ pointer: UnsafeMutableRawPointer?) -> HeapFreeResult {
    guard let pointer else { return .ignored }
    if let virtual, virtual.owns(pointer) {
      return virtual.free(pointer) == nil ? .freed : .invalid
    }
    if let pages, pages.area(containing: UInt(bitPattern: pointer)) != nil {
      return pages.free(pointer) == nil ? .freed : .invalid
    }
    if let early, early.owns(pointer) { return .ignored }
    return .invalid
  }
}

extension GuestHeap: @unchecked Sendable where Mapper: Sendable {}
