// Buffer pointers: a start address and a count. A minimal subset (base
// address, count, element access); the compiler also requires these types
// to exist before it allows implicit pointer conversions.

/// A view of `count` values of type `Element` starting at `baseAddress`.
@frozen
public struct UnsafeBufferPointer<Element> {
  /// The first element, or nil for an empty buffer.
  public let baseAddress: UnsafePointer<Element>?
  /// The number of elements.
  public let count: Int

  @inlinable public init(start: UnsafePointer<Element>?, count: Int) {
    precondition(count >= 0, "UnsafeBufferPointer with negative count")
    precondition(count == 0 || start != nil, "UnsafeBufferPointer has a nil start and nonzero count")
    baseAddress = start
    self.count = count
  }

  /// The element at `i`.
  @inlinable public subscript(i: Int) -> Element {
    precondition(i >= 0 && i < count, "Index out of range")
    return baseAddress.unsafelyUnwrapped[i]
  }
}

/// A mutable view of `count` values of type `Element`.
@frozen
public struct UnsafeMutableBufferPointer<Element> {
  /// The first element, or nil for an empty buffer.
  public let baseAddress: UnsafeMutablePointer<Element>?
  /// The number of elements.
  public let count: Int

  @inlinable public init(start: UnsafeMutablePointer<Element>?, count: Int) {
    precondition(count >= 0, "UnsafeMutableBufferPointer with negative count")
    precondition(count == 0 || start != nil, "UnsafeMutableBufferPointer has a nil start and nonzero count")
    baseAddress = start
    self.count = count
  }

  /// The element at `i`.
  @inlinable public subscript(i: Int) -> Element {
    get {
      precondition(i >= 0 && i < count, "Index out of range")
      return baseAddress.unsafelyUnwrapped[i]
    }
    nonmutating set {
      precondition(i >= 0 && i < count, "Index out of range")
      baseAddress.unsafelyUnwrapped[i] = newValue
    }
  }
}

/// A view of `count` bytes starting at `baseAddress`.
@frozen
public struct UnsafeRawBufferPointer {
  /// The first byte, or nil for an empty buffer.
  public let baseAddress: UnsafeRawPointer?
  /// The number of bytes.
  public let count: Int

  @inlinable public init(start: UnsafeRawPointer?, count: Int) {
    precondition(count >= 0, "UnsafeRawBufferPointer with negative count")
    precondition(count == 0 || start != nil, "UnsafeRawBufferPointer has a nil start and nonzero count")
    baseAddress = start
    self.count = count
  }

  /// The byte at `i`.
  @inlinable public subscript(i: Int) -> UInt8 {
    precondition(i >= 0 && i < count, "Index out of range")
    return baseAddress.unsafelyUnwrapped.load(fromByteOffset: i, as: UInt8.self)
  }
}

/// A mutable view of `count` bytes starting at `baseAddress`.
@frozen
public struct UnsafeMutableRawBufferPointer {
  /// The first byte, or nil for an empty buffer.
  public let baseAddress: UnsafeMutableRawPointer?
  /// The number of bytes.
  public let count: Int

  @inlinable public init(start: UnsafeMutableRawPointer?, count: Int) {
    precondition(count >= 0, "UnsafeMutableRawBufferPointer with negative count")
    precondition(count == 0 || start != nil, "UnsafeMutableRawBufferPointer has a nil start and nonzero count")
    baseAddress = start
    self.count = count
  }

  /// The byte at `i`.
  @inlinable public subscript(i: Int) -> UInt8 {
    get {
      precondition(i >= 0 && i < count, "Index out of range")
      return baseAddress.unsafelyUnwrapped.load(fromByteOffset: i, as: UInt8.self)
    }
    nonmutating set {
      precondition(i >= 0 && i < count, "Index out of range")
      baseAddress.unsafelyUnwrapped.storeBytes(of: newValue, toByteOffset: i, as: UInt8.self)
    }
  }
}
