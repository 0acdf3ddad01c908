// The minimal `Synchronization` module that goes with the core module: the
// `Atomic` subset the guest library uses, source-compatible with the
// standard library's. Every operation is sequentially consistent, which is
// at least as strong as any ordering a caller asks for (on s390x the
// interlocked instructions serialize anyway).

import Swift

/// A type that `Atomic` can hold: integers of 8 to 64 bits, and Bool.
public protocol AtomicRepresentable {
  /// The value as a 64-bit pattern (zero-extended).
  var _atomicBits: UInt64 { get }
  /// The value from a pattern made by `_atomicBits`.
  static func _fromAtomicBits(_ bits: UInt64) -> Self
}

extension UInt32: AtomicRepresentable {
  public var _atomicBits: UInt64 { UInt64(self) }
  public static func _fromAtomicBits(_ bits: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: bits) }
}
extension Int32: AtomicRepresentable {
  public var _atomicBits: UInt64 { UInt64(UInt32(bitPattern: self)) }
  public static func _fromAtomicBits(_ bits: UInt64) -> Int32 { Int32(truncatingIfNeeded: bits) }
}
extension UInt64: AtomicRepresentable {
  public var _atomicBits: UInt64 { self }
  public static func _fromAtomicBits(_ bits: UInt64) -> UInt64 { bits }
}
extension Int64: AtomicRepresentable {
  public var _atomicBits: UInt64 { UInt64(bitPattern: self) }
  public static func _fromAtomicBits(_ bits: UInt64) -> Int64 { Int64(bitPattern: bits) }
}
extension UInt: AtomicRepresentable {
  public var _atomicBits: UInt64 { UInt64(self) }
  public static func _fromAtomicBits(_ bits: UInt64) -> UInt { UInt(bits) }
}
extension Int: AtomicRepresentable {
  public var _atomicBits: UInt64 { UInt64(bitPattern: Int64(self)) }
  public static func _fromAtomicBits(_ bits: UInt64) -> Int { Int(Int64(bitPattern: bits)) }
}

/// Orderings of atomic loads.
@frozen public struct AtomicLoadOrdering: Sendable {
  @usableFromInline let _rawValue: UInt8
  @_transparent @usableFromInline init(_ raw: UInt8) { _rawValue = raw }
  public static var relaxed: AtomicLoadOrdering { AtomicLoadOrdering(0) }
  public static var acquiring: AtomicLoadOrdering { AtomicLoadOrdering(2) }
  public static var sequentiallyConsistent: AtomicLoadOrdering { AtomicLoadOrdering(5) }
}
/// Orderings of atomic stores.
@frozen public struct AtomicStoreOrdering: Sendable {
  @usableFromInline let _rawValue: UInt8
  @_transparent @usableFromInline init(_ raw: UInt8) { _rawValue = raw }
  public static var relaxed: AtomicStoreOrdering { AtomicStoreOrdering(0) }
  public static var releasing: AtomicStoreOrdering { AtomicStoreOrdering(3) }
  public static var sequentiallyConsistent: AtomicStoreOrdering { AtomicStoreOrdering(5) }
}
/// Orderings of atomic read-modify-write operations.
@frozen public struct AtomicUpdateOrdering: Sendable {
  @usableFromInline let _rawValue: UInt8
  @_transparent @usableFromInline init(_ raw: UInt8) { _rawValue = raw }
  public static var relaxed: AtomicUpdateOrdering { AtomicUpdateOrdering(0) }
  public static var acquiring: AtomicUpdateOrdering { AtomicUpdateOrdering(2) }
  public static var releasing: AtomicUpdateOrdering { AtomicUpdateOrdering(3) }
  public static var acquiringAndReleasing: AtomicUpdateOrdering { AtomicUpdateOrdering(4) }
  public static var sequentiallyConsistent: AtomicUpdateOrdering { AtomicUpdateOrdering(5) }
}

/// A value that is read and written atomically, at a stable address.
@frozen
@_rawLayout(like: Value, movesAsLike)
public struct Atomic<Value: AtomicRepresentable>: ~Copyable, @unchecked Sendable {
  @_transparent @usableFromInline var _address: Builtin.RawPointer { Builtin.unprotectedAddressOfBorrow(self) }

  /// A new atomic holding `initialValue`.
  @_transparent public init(_ initialValue: consuming Value) {
    _store(Builtin.addressOfRawLayout(self), initialValue._atomicBits, MemoryLayout<Value>.size)
  }

  /// The current value.
  @_transparent public func load(ordering: AtomicLoadOrdering) -> Value {
    Value._fromAtomicBits(_load(_address, MemoryLayout<Value>.size))
  }

  /// Replaces the value.
  @_transparent public func store(_ desired: consuming Value, ordering: AtomicStoreOrdering) {
    _store(_address, desired._atomicBits, MemoryLayout<Value>.size)
  }

  /// Replaces the value and returns the previous one.
  @_transparent public func exchange(_ desired: consuming Value, ordering: AtomicUpdateOrdering)
    -> Value
  {
    let wanted = desired._atomicBits
    var current = _load(_address, MemoryLayout<Value>.size)
    while true {
      let (exchanged, original) = _compareExchange(
        _address, current, wanted, MemoryLayout<Value>.size)
      if exchanged { return Value._fromAtomicBits(original) }
      current = original
    }
  }

  /// Replaces the value with `desired` if it equals `expected`.
  @_transparent public func compareExchange(
    expected: consuming Value, desired: consuming Value, ordering: AtomicUpdateOrdering
  ) -> (exchanged: Bool, original: Value) {
    let (exchanged, original) = _compareExchange(
      _address, expected._atomicBits, desired._atomicBits, MemoryLayout<Value>.size)
    return (exchanged, Value._fromAtomicBits(original))
  }

  /// Replaces the value with `desired` if it equals `expected`.
  @_transparent public func compareExchange(
    expected: consuming Value, desired: consuming Value,
    successOrdering: AtomicUpdateOrdering, failureOrdering: AtomicLoadOrdering
  ) -> (exchanged: Bool, original: Value) {
    compareExchange(expected: expected, desired: desired, ordering: successOrdering)
  }
}

extension Atomic where Value: FixedWidthInteger {
  /// Adds `operand` with wrapping; returns the old and the new value.
  @_transparent @discardableResult
  public func wrappingAdd(_ operand: Value, ordering: AtomicUpdateOrdering)
    -> (oldValue: Value, newValue: Value)
  {
    var current = load(ordering: .relaxed)
    while true {
      let next = Value._fromAtomicBits(current._atomicBits &+ operand._atomicBits)
      let (exchanged, original) = compareExchange(expected: current, desired: next, ordering: ordering)
      if exchanged { return (original, next) }
      current = original
    }
  }

  /// Subtracts `operand` with wrapping; returns the old and the new value.
  @_transparent @discardableResult
  public func wrappingSubtract(_ operand: Value, ordering: AtomicUpdateOrdering)
    -> (oldValue: Value, newValue: Value)
  {
    var current = load(ordering: .relaxed)
    while true {
      let next = Value._fromAtomicBits(current._atomicBits &- operand._atomicBits)
      let (exchanged, original) = compareExchange(expected: current, desired: next, ordering: ordering)
      if exchanged { return (original, next) }
      current = original
    }
  }
}

@_transparent @usableFromInline func _load(_ address: Builtin.RawPointer, _ size: Int) -> UInt64 {
  if size == 8 { return UInt64(Builtin.atomicload_seqcst_Int64(address)) }
  return UInt64(UInt32(Builtin.atomicload_seqcst_Int32(address)))
}

@_transparent @usableFromInline func _store(
  _ address: Builtin.RawPointer, _ bits: UInt64, _ size: Int
) {
  if size == 8 {
    Builtin.atomicstore_seqcst_Int64(address, bits._value)
  } else {
    Builtin.atomicstore_seqcst_Int32(address, UInt32(truncatingIfNeeded: bits)._value)
  }
}

@_transparent @usableFromInline func _compareExchange(
  _ address: Builtin.RawPointer, _ expected: UInt64, _ desired: UInt64, _ size: Int
) -> (Bool, UInt64) {
  if size == 8 {
    let (old, won) = Builtin.cmpxchg_seqcst_seqcst_Int64(address, expected._value, desired._value)
    return (Bool(won), UInt64(old))
  }
  let (old, won) = Builtin.cmpxchg_seqcst_seqcst_Int32(
    address, UInt32(truncatingIfNeeded: expected)._value,
    UInt32(truncatingIfNeeded: desired)._value)
  return (Bool(won), UInt64(UInt32(old)))
}
