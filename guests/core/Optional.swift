/// A value or nothing.
@frozen
public enum Optional<Wrapped>: ExpressibleByNilLiteral {
  case none
  case some(Wrapped)

  @_transparent public init(_ some: Wrapped) { self = .some(some) }
  @_transparent public init(nilLiteral: ()) { self = .none }

  /// The wrapped value transformed by `transform`, or nil.
  @inlinable public func map<U>(_ transform: (Wrapped) throws -> U) rethrows -> U? {
    switch self {
    case .some(let y): return .some(try transform(y))
    case .none: return .none
    }
  }

  /// The optional result of `transform` on the wrapped value, or nil.
  @inlinable public func flatMap<U>(_ transform: (Wrapped) throws -> U?) rethrows -> U? {
    switch self {
    case .some(let y): return try transform(y)
    case .none: return .none
    }
  }

  /// The wrapped value without a check in optimized builds (as the
  /// standard library: a nil value is undefined behaviour there).
  @inlinable public var unsafelyUnwrapped: Wrapped {
    switch self {
    case .some(let x): return x
    case .none: Builtin.unreachable()
    }
  }

  /// Takes the value out, leaving nil.
  @inlinable public mutating func take() -> Wrapped? {
    let result = self
    self = nil
    return result
  }
}

extension Optional: Equatable where Wrapped: Equatable {
  @inlinable public static func == (lhs: Wrapped?, rhs: Wrapped?) -> Bool {
    switch (lhs, rhs) {
    case (let l?, let r?): return l == r
    case (nil, nil): return true
    default: return false
    }
  }
}

extension Optional: Sendable where Wrapped: Sendable {}
extension Optional: BitwiseCopyable where Wrapped: BitwiseCopyable {}

/// The type of `nil` in comparisons with optionals of any type.
@frozen public struct _OptionalNilComparisonType: ExpressibleByNilLiteral {
  @_transparent public init(nilLiteral: ()) {}

  @_transparent public static func ~= <T>(lhs: _OptionalNilComparisonType, rhs: T?) -> Bool {
    switch rhs {
    case .some: return false
    case .none: return true
    }
  }
}

extension Optional {
  @_transparent public static func == (lhs: Wrapped?, rhs: _OptionalNilComparisonType) -> Bool {
    switch lhs {
    case .some: return false
    case .none: return true
    }
  }
  @_transparent public static func != (lhs: Wrapped?, rhs: _OptionalNilComparisonType) -> Bool {
    switch lhs {
    case .some: return true
    case .none: return false
    }
  }
  @_transparent public static func == (lhs: _OptionalNilComparisonType, rhs: Wrapped?) -> Bool {
    switch rhs {
    case .some: return false
    case .none: return true
    }
  }
  @_transparent public static func != (lhs: _OptionalNilComparisonType, rhs: Wrapped?) -> Bool {
    switch rhs {
    case .some: return true
    case .none: return false
    }
  }
}

/// The wrapped value, or `defaultValue` when nil.
@_transparent public func ?? <T>(optional: T?, defaultValue: @autoclosure () throws -> T)
  rethrows -> T
{
  switch optional {
  case .some(let value): return value
  case .none: return try defaultValue()
  }
}

/// The optional, or `defaultValue` when nil.
@_transparent public func ?? <T>(optional: T?, defaultValue: @autoclosure () throws -> T?)
  rethrows -> T?
{
  switch optional {
  case .some(let value): return value
  case .none: return try defaultValue()
  }
}
