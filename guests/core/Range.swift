/// A half-open interval `lower..<upper`.
@frozen
public struct Range<Bound: Comparable> {
  /// The first value in the range.
  public let lowerBound: Bound
  /// The first value past the range.
  public let upperBound: Bound

  @_transparent public init(uncheckedBounds bounds: (lower: Bound, upper: Bound)) {
    lowerBound = bounds.lower
    upperBound = bounds.upper
  }

  /// Whether `value` lies in the range.
  @_transparent public func contains(_ value: Bound) -> Bool {
    lowerBound <= value && value < upperBound
  }
  /// Whether the range holds no values.
  public var isEmpty: Bool { @_transparent get { lowerBound == upperBound } }

  @_transparent public static func ~= (pattern: Range<Bound>, value: Bound) -> Bool {
    pattern.contains(value)
  }
}

/// A closed interval `lower...upper`.
@frozen
public struct ClosedRange<Bound: Comparable> {
  /// The first value in the range.
  public let lowerBound: Bound
  /// The last value in the range.
  public let upperBound: Bound

  @_transparent public init(uncheckedBounds bounds: (lower: Bound, upper: Bound)) {
    lowerBound = bounds.lower
    upperBound = bounds.upper
  }

  /// Whether `value` lies in the range.
  @_transparent public func contains(_ value: Bound) -> Bool {
    lowerBound <= value && value <= upperBound
  }

  @_transparent public static func ~= (pattern: ClosedRange<Bound>, value: Bound) -> Bool {
    pattern.contains(value)
  }
}

extension Comparable {
  /// The half-open range from `minimum` up to, not including, `maximum`.
  @_transparent public static func ..< (minimum: Self, maximum: Self) -> Range<Self> {
    precondition(minimum <= maximum, "Range requires lowerBound <= upperBound")
    return Range(uncheckedBounds: (lower: minimum, upper: maximum))
  }
  /// The closed range from `minimum` through `maximum`.
  @_transparent public static func ... (minimum: Self, maximum: Self) -> ClosedRange<Self> {
    precondition(minimum <= maximum, "Range requires lowerBound <= upperBound")
    return ClosedRange(uncheckedBounds: (lower: minimum, upper: maximum))
  }
}

extension Range: Sequence where Bound: Strideable, Bound.Stride: SignedInteger {
  public typealias Element = Bound

  /// Iterates from the lower bound up to the upper bound.
  @frozen public struct Iterator: IteratorProtocol {
    @usableFromInline var current: Bound
    @usableFromInline let end: Bound

    @_transparent @usableFromInline init(current: Bound, end: Bound) {
      self.current = current
      self.end = end
    }

    @inlinable public mutating func next() -> Bound? {
      if current == end { return nil }
      let value = current
      current = current.advanced(by: 1)
      return value
    }
  }

  @inlinable public func makeIterator() -> Iterator {
    Iterator(current: lowerBound, end: upperBound)
  }

  /// The number of values in the range.
  public var count: Int { @inlinable get { Int(lowerBound.distance(to: upperBound)) } }
}

extension ClosedRange: Sequence where Bound: Strideable, Bound.Stride: SignedInteger {
  public typealias Element = Bound

  /// Iterates from the lower bound through the upper bound.
  @frozen public struct Iterator: IteratorProtocol {
    @usableFromInline var current: Bound
    @usableFromInline let last: Bound
    @usableFromInline var done: Bool

    @_transparent @usableFromInline init(current: Bound, last: Bound) {
      self.current = current
      self.last = last
      self.done = false
    }

    @inlinable public mutating func next() -> Bound? {
      if done { return nil }
      let value = current
      if current == last { done = true } else { current = current.advanced(by: 1) }
      return value
    }
  }

  @inlinable public func makeIterator() -> Iterator {
    Iterator(current: lowerBound, last: upperBound)
  }
}

extension Range: Equatable where Bound: Equatable {}
extension ClosedRange: Equatable where Bound: Equatable {}
extension Range: Sendable where Bound: Sendable {}
extension ClosedRange: Sendable where Bound: Sendable {}
