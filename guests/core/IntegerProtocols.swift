// The integer protocols, reduced to what generic guest code needs. Every
// integer type of the core is at most 64 bits wide, so a value is fully
// described by its sign-extended low word (`_lowWord`) and `isSigned`.

/// An integer of any width (here: at most 64 bits).
public protocol BinaryInteger: Comparable, ExpressibleByIntegerLiteral, Strideable, Sendable {
  /// Whether the type can represent negative values.
  static var isSigned: Bool { get }
  /// The low 64 bits of the value, sign-extended for signed types.
  var _lowWord: UInt { get }
  /// The number of bits in the representation.
  var bitWidth: Int { get }
  /// The number of trailing zero bits.
  var trailingZeroBitCount: Int { get }
  /// Creates a value from the low bits of `bits`.
  init(_truncatingBits bits: UInt)
}
/// An integer that may be negative.
public protocol SignedInteger: BinaryInteger {}
/// An integer that is never negative.
public protocol UnsignedInteger: BinaryInteger {}
/// An integer of a fixed bit width.
public protocol FixedWidthInteger: BinaryInteger {
  static var bitWidth: Int { get }
  static var max: Self { get }
  static var min: Self { get }
  var leadingZeroBitCount: Int { get }
  var nonzeroBitCount: Int { get }
}

/// A shift count taken from any integer: its magnitude (saturated) and sign.
@frozen @usableFromInline struct _ShiftCount {
  @usableFromInline var magnitude: UInt
  @usableFromInline var negative: Bool

  @_transparent @usableFromInline init<T: BinaryInteger>(_ count: T) {
    let word = count._lowWord
    if T.isSigned && Int(_truncatingBits: word) < 0 {
      negative = true
      magnitude = 0 &- word
    } else {
      negative = false
      magnitude = word
    }
  }
}

extension BinaryInteger {
  /// Whether the value is below zero (as a 64-bit quantity).
  @_transparent @usableFromInline var _isNegative: Bool {
    Self.isSigned && Int(_truncatingBits: _lowWord) < 0
  }

  /// Creates a value from the low bits of `source` (wrapping).
  @_transparent public init<T: BinaryInteger>(truncatingIfNeeded source: T) {
    self.init(_truncatingBits: source._lowWord)
  }

  /// Whether `source` is representable in `Self`.
  @_transparent @usableFromInline static func _fits<T: BinaryInteger>(_ source: T) -> Bool {
    let converted = Self(_truncatingBits: source._lowWord)
    return converted._lowWord == source._lowWord && converted._isNegative == source._isNegative
  }

  /// Creates a value equal to `source`; traps when it is not representable.
  @_transparent public init<T: BinaryInteger>(_ source: T) {
    Builtin.condfail_message(
      (!Self._fits(source))._value,
      StaticString("Not enough bits to represent the passed value").unsafeRawPointer)
    self.init(_truncatingBits: source._lowWord)
  }

  /// Creates a value equal to `source`, or nil when it is not representable.
  @_transparent public init?<T: BinaryInteger>(exactly source: T) {
    guard Self._fits(source) else { return nil }
    self.init(_truncatingBits: source._lowWord)
  }

  /// `source` limited to the range of `Self`.
  @inlinable public init<T: BinaryInteger>(clamping source: T) where Self: FixedWidthInteger {
    if Self._fits(source) {
      self.init(_truncatingBits: source._lowWord)
    } else if source._isNegative {
      self = Self.min
    } else {
      self = Self.max
    }
  }

  /// Whether the value is zero.
  @_transparent @usableFromInline var _isZero: Bool { _lowWord == 0 }

  /// -1, 0 or 1.
  @inlinable public func signum() -> Self {
    _isNegative ? Self(_truncatingBits: 0 &- 1) : (_isZero ? 0 : 1)
  }
}

extension Int {
  /// The bits of a pointer's address as a signed integer.
  @_transparent public init<P: _Pointer>(bitPattern pointer: P?) {
    if let pointer { self.init(_builtinWord: Builtin.ptrtoint_Word(pointer._rawValue)) } else { self = 0 }
  }
}
extension UInt {
  /// The address of a pointer.
  @_transparent public init<P: _Pointer>(bitPattern pointer: P?) {
    if let pointer { self.init(_builtinWord: Builtin.ptrtoint_Word(pointer._rawValue)) } else { self = 0 }
  }
}
