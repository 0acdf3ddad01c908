/// How physical memory is split into page allocator areas (memory pools).
///
/// A layout is a value: up to `PageAllocator.maxAreas` areas, numbered from 0
/// (lowest physical addresses) upward. Area 0 starts at address 0, area `i`
/// (for `i > 0`) starts at its boundary, and each area ends where the next
/// one begins; the last area extends to the top of the address space.
///
/// Allocations try the allowed areas from the highest number down to the
/// lowest, so low (DMA-capable) memory is kept for callers that need it.
public struct AreaLayout: Sendable, Equatable {
  /// Number of areas in this layout (1...4).
  public let count: Int
  // Start page frame numbers of areas 1, 2 and 3 (unused entries: UInt.max).
  let start1: UInt
  let start2: UInt
  let start3: UInt

  /// Creates a layout of `areaCount` areas whose areas 1, 2 and 3 start at
  /// the physical addresses in `boundaries` (entries beyond `areaCount - 1`
  /// are ignored). Boundaries must be non-zero, page aligned and strictly
  /// increasing; returns `nil` otherwise or if `areaCount` is not in 1...4.
  public init?(areaCount: Int, boundaries: (UInt, UInt, UInt) = (0, 0, 0)) {
    guard areaCount >= 1 && areaCount <= PageAllocator.maxAreas else { return nil }
    var starts: (UInt, UInt, UInt) = (UInt.max, UInt.max, UInt.max)
    var previous: UInt = 0
    for index in 1..<areaCount {
      let address: UInt
      switch index {
      case 1: address = boundaries.0
      case 2: address = boundaries.1
      default: address = boundaries.2
      }
      guard address & (PageAllocator.pageSize - 1) == 0 else { return nil }
      let pfn = address >> PageAllocator.pageShift
      guard pfn > previous else { return nil }
      previous = pfn
      switch index {
      case 1: starts.0 = pfn
      case 2: starts.1 = pfn
      default: starts.2 = pfn
      }
    }
    count = areaCount
    start1 = starts.0
    start2 = starts.1
    start3 = starts.2
  }

  /// One area covering all of memory.
  public static var single: AreaLayout { AreaLayout(areaCount: 1)! }

  /// The x86_64 layout: area 0 LOWEST (below 16 MiB), 1 LOW (below 4 GiB),
  /// 2 HIGH (below 64 GiB), 3 NORMAL (everything above).
  public static var x86_64: AreaLayout {
    AreaLayout(areaCount: 4, boundaries: (16 << 20, 4 << 30, 64 << 30))!
  }

  /// The s390x layout: area 0 LOW (below 2 GiB), 1 NORMAL (the rest).
  public static var s390x: AreaLayout {
    AreaLayout(areaCount: 2, boundaries: (2 << 30, 0, 0))!
  }

  /// First page frame number of `area` (0 for area 0).
  public func basePfn(ofArea area: Int) -> UInt {
    switch area {
    case 0: return 0
    case 1: return start1
    case 2: return start2
    default: return start3
    }
  }

  /// One past the last page frame number of `area`; `UInt.max` for the last
  /// area (unbounded).
  public func topPfn(ofArea area: Int) -> UInt {
    area + 1 >= count ? UInt.max : basePfn(ofArea: area + 1)
  }

  /// The area containing page frame `pfn`.
  public func area(containingPfn pfn: UInt) -> Int {
    var area = count - 1
    while area > 0 && pfn < basePfn(ofArea: area) { area -= 1 }
    return area
  }

  /// The area containing physical address `address`.
  public func area(containingAddress address: UInt) -> Int {
    area(containingPfn: address >> PageAllocator.pageShift)
  }
}

/// A set of page allocator areas, used to restrict where an allocation may
/// come from. Bit `i` stands for area `i` of the allocator's `AreaLayout`.
public struct AreaMask: Sendable, Equatable {
  /// Bit `i` set: area `i` allowed.
  public let rawValue: UInt8

  /// Creates a mask from raw bits.
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// A mask containing only `area`.
  public static func area(_ area: Int) -> AreaMask {
    AreaMask(rawValue: UInt8(truncatingIfNeeded: 1 << area))
  }

  /// Every area.
  public static var any: AreaMask { AreaMask(rawValue: 0x0F) }
  /// No area.
  public static var none: AreaMask { AreaMask(rawValue: 0) }

  /// x86_64 LOWEST area (below 16 MiB).
  public static var x86Lowest: AreaMask { .area(0) }
  /// x86_64 LOW area (16 MiB up to 4 GiB).
  public static var x86Low: AreaMask { .area(1) }
  /// x86_64 HIGH area (4 GiB up to 64 GiB).
  public static var x86High: AreaMask { .area(2) }
  /// x86_64 NORMAL area (above 64 GiB).
  public static var x86Normal: AreaMask { .area(3) }
  /// Memory reachable with 24-bit DMA (x86_64: LOWEST).
  public static var dma24: AreaMask { .x86Lowest }
  /// Memory reachable with 32-bit DMA (x86_64: LOWEST and LOW).
  public static var dma32: AreaMask { .x86Lowest | .x86Low }
  /// s390x LOW area (below 2 GiB).
  public static var s390xLow: AreaMask { .area(0) }
  /// s390x NORMAL area (2 GiB and above).
  public static var s390xNormal: AreaMask { .area(1) }
  /// Memory addressable with 31 bits (s390x: LOW).
  public static var dma31: AreaMask { .s390xLow }

  /// Whether area `area` is in the set.
  public func contains(area: Int) -> Bool {
    area >= 0 && area < 8 && (rawValue >> UInt8(area)) & 1 != 0
  }

  /// Union of two masks.
  public static func | (lhs: AreaMask, rhs: AreaMask) -> AreaMask {
    AreaMask(rawValue: lhs.rawValue | rhs.rawValue)
  }

  /// Intersection of two masks.
  public static func & (lhs: AreaMask, rhs: AreaMask) -> AreaMask {
    AreaMask(rawValue: lhs.rawValue & rhs.rawValue)
  }
}
