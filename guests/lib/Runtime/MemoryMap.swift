/// One range of guest-physical memory reported by the firmware or loader.
public struct MemoryRegion {
  /// First byte of the region.
  public var base: UInt64
  /// Length in bytes.
  public var length: UInt64
  /// Whether it is RAM the guest may use.
  public var usable: Bool

  /// A region.
  public init(base: UInt64, length: UInt64, usable: Bool) {
    self.base = base
    self.length = length
    self.usable = usable
  }

  /// One past the last byte.
  public var end: UInt64 { base &+ length }
}

/// A fixed-capacity list of memory regions kept in storage the runtime
/// provides (no heap exists when it is filled).
public struct MemoryMap {
  private let storage: UnsafeMutablePointer<MemoryRegion>
  /// How many regions fit.
  public let capacity: Int
  /// How many regions are stored.
  public private(set) var count = 0

  /// A map over `capacity` regions at `storage`.
  public init(storage: UnsafeMutablePointer<MemoryRegion>, capacity: Int) {
    self.storage = storage
    self.capacity = capacity
  }

  /// Adds a region; returns false when the map is full.
  @discardableResult
  public mutating func append(_ region: MemoryRegion) -> Bool {
    guard count < capacity else { return false }
    (storage + count).initialize(to: region)
    count &+= 1
    return true
  }

  /// The region at `index`.
  public subscript(index: Int) -> MemoryRegion {
    precondition(index >= 0 && index < count, "memory map index out of range")
    return storage[index]
  }

  /// Bytes of usable RAM over all regions.
  public var usableBytes: UInt64 {
    var total: UInt64 = 0
    var index = 0
    while index < count {
      if storage[index].usable { total &+= storage[index].length }
      index &+= 1
    }
    return total
  }

  /// One past the highest usable byte.
  public var usableTop: UInt64 {
    var top: UInt64 = 0
    var index = 0
    while index < count {
      if storage[index].usable && storage[index].end > top { top = storage[index].end }
      index &+= 1
    }
    return top
  }

  /// Whether any two usable regions overlap.
  public var hasOverlaps: Bool {
    var i = 0
    while i < count {
      var j = i &+ 1
      while j < count {
        let a = storage[i]
        let b = storage[j]
        if a.usable && b.usable && a.base < b.end && b.base < a.end { return true }
        j &+= 1
      }
      i &+= 1
    }
    return false
  }
}
