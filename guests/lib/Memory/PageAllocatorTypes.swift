/// Errors returned by `PageAllocator` for invalid calls. An invalid call
/// never changes the allocator's state.
public enum PageAllocatorError: UInt8, Sendable, Equatable {
  /// The address is not page aligned.
  case misaligned
  /// The address (or part of the range) is outside every initialised area.
  case outsideAreas
  /// The address (or part of the range) is a page holding allocator metadata.
  case metadataPage
  /// The page is inside a block but is not its first page (this is also what
  /// a double free reports once the freed block was merged with its buddy).
  case notBlockStart
  /// The block is already free (double free).
  case doubleFree
  /// The page is reserved; reserved pages are returned with `unreserve`.
  case reservedPage
  /// A size, count or alignment argument is invalid (zero, not a power of
  /// two, too large or overflowing).
  case invalidArgument
  /// `reserve`: at least one page in the range is allocated or reserved.
  case rangeNotFree
  /// `unreserve`: at least one page in the range is not reserved.
  case rangeNotReserved
}

/// Options for page allocations.
public struct PageAllocationFlags: Sendable, Equatable {
  /// Raw flag bits.
  public let rawValue: UInt8

  /// Creates flags from raw bits.
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// Return the memory as it is (no zeroing).
  public static var none: PageAllocationFlags { PageAllocationFlags(rawValue: 0) }
  /// Fill the returned memory with zero bytes.
  public static var zero: PageAllocationFlags { PageAllocationFlags(rawValue: 1) }

  /// Whether the zero flag is set.
  public var zeroes: Bool { rawValue & 1 != 0 }
}

/// Page counts of one area (or of all areas added together).
///
/// `total` counts the usable pages (metadata pages excluded) and always
/// equals `free + allocated + reserved`.
public struct PageCounts: Sendable, Equatable {
  /// Usable pages (excluding metadata pages).
  public var total: UInt
  /// Pages in free blocks.
  public var free: UInt
  /// Pages in allocated blocks.
  public var allocated: UInt
  /// Reserved pages.
  public var reserved: UInt
  /// Pages holding the per-page metadata bytes.
  public var metadata: UInt

  /// Creates a set of counts.
  public init(total: UInt, free: UInt, allocated: UInt, reserved: UInt, metadata: UInt) {
    self.total = total
    self.free = free
    self.allocated = allocated
    self.reserved = reserved
    self.metadata = metadata
  }
}

/// Page frame bounds of one initialised area.
public struct PageAreaBounds: Sendable, Equatable {
  /// First page frame of the area (its metadata starts here).
  public var basePfn: UInt
  /// First page frame after the metadata pages (first allocatable page).
  public var usablePfn: UInt
  /// One past the last page frame of the area.
  public var topPfn: UInt
}

/// Small integer and memory helpers shared by the allocators.
enum MemoryMath {
  /// Rounds `value` up to a multiple of the power of two `alignment`;
  /// `nil` on overflow.
  @inline(__always)
  static func alignUp(_ value: UInt, _ alignment: UInt) -> UInt? {
    let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
    return overflow ? nil : sum & ~(alignment - 1)
  }

  /// Whether `value` is a non-zero power of two.
  @inline(__always)
  static func isPowerOfTwo(_ value: UInt) -> Bool {
    value != 0 && value & (value - 1) == 0
  }

  /// Smallest `k` with `1 << k >= value` (value >= 1).
  static func ceilLog2(_ value: UInt) -> Int {
    var k = 0
    while k < UInt.bitWidth - 1 && (UInt(1) << UInt(k)) < value { k += 1 }
    return k
  }

  /// Writes `count` zero bytes at `pointer`.
  static func zero(_ pointer: UnsafeMutableRawPointer, count: UInt) {
    let word = UInt(MemoryLayout<UInt>.size)
    var offset: UInt = 0
    let address = UInt(bitPattern: pointer)
    while offset < count && (address &+ offset) & (word - 1) != 0 {
      pointer.storeBytes(of: 0, toByteOffset: Int(offset), as: UInt8.self)
      offset += 1
    }
    while offset < count && count - offset >= word {
      pointer.storeBytes(of: 0, toByteOffset: Int(offset), as: UInt.self)
      offset += word
    }
    while offset < count {
      pointer.storeBytes(of: 0, toByteOffset: Int(offset), as: UInt8.self)
      offset += 1
    }
  }
}
