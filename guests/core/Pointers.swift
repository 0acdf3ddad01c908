// Unsafe pointers: typed (`UnsafePointer`, `UnsafeMutablePointer`) and raw
// (`UnsafeRawPointer`, `UnsafeMutableRawPointer`), with bit-pattern
// conversions, loads and stores, binding, arithmetic and comparison.

/// What every pointer type has: its raw value.
public protocol _Pointer: Equatable, Comparable, Strideable, Sendable {
  var _rawValue: Builtin.RawPointer { get }
  init(_ _rawValue: Builtin.RawPointer)
}

extension _Pointer {
  /// A pointer to the address `bitPattern`, or nil for 0.
  @_transparent public init?(bitPattern: UInt) {
    if bitPattern == 0 { return nil }
    self.init(Builtin.inttoptr_Word(bitPattern._builtinWordValue))
  }
  /// A pointer to the address `bitPattern`, or nil for 0.
  @_transparent public init?(bitPattern: Int) {
    if bitPattern == 0 { return nil }
    self.init(Builtin.inttoptr_Word(bitPattern._builtinWordValue))
  }
  @_transparent public static func == (lhs: Self, rhs: Self) -> Bool {
    Bool(Builtin.cmp_eq_RawPointer(lhs._rawValue, rhs._rawValue))
  }
  @_transparent public static func < (lhs: Self, rhs: Self) -> Bool {
    Bool(Builtin.cmp_ult_RawPointer(lhs._rawValue, rhs._rawValue))
  }
  @_transparent @usableFromInline var _address: UInt {
    UInt(_builtinWord: Builtin.ptrtoint_Word(_rawValue))
  }
}

/// Used by the compiler for implicit pointer conversions of arguments.
@_transparent public func _convertPointerToPointerArgument<From: _Pointer, To: _Pointer>(
  _ from: From
) -> To {
  To(from._rawValue)
}
/// Used by the compiler for `&x` passed as a pointer argument.
@_transparent public func _convertInOutToPointerArgument<ToPointer: _Pointer>(
  _ from: Builtin.RawPointer
) -> ToPointer {
  ToPointer(from)
}

// MARK: - Typed pointers

/// A pointer to a value of type `Pointee` that is only read.
@frozen
public struct UnsafePointer<Pointee: ~Copyable>: Copyable, BitwiseCopyable {
  public let _rawValue: Builtin.RawPointer
  @_transparent public init(_ _rawValue: Builtin.RawPointer) { self._rawValue = _rawValue }
  /// The same address.
  @_transparent public init(_ other: UnsafeMutablePointer<Pointee>) { _rawValue = other._rawValue }
  /// The same address, or nil.
  @_transparent public init?(_ other: UnsafeMutablePointer<Pointee>?) {
    guard let other else { return nil }
    _rawValue = other._rawValue
  }
  /// The same address.
  @_transparent public init(_ other: UnsafePointer<Pointee>) { _rawValue = other._rawValue }
}

/// A pointer to a value of type `Pointee` that may be modified.
@frozen
public struct UnsafeMutablePointer<Pointee: ~Copyable>: Copyable, BitwiseCopyable {
  public let _rawValue: Builtin.RawPointer
  @_transparent public init(_ _rawValue: Builtin.RawPointer) { self._rawValue = _rawValue }
  /// The same address.
  @_transparent public init(mutating other: UnsafePointer<Pointee>) { _rawValue = other._rawValue }
  /// The same address, or nil.
  @_transparent public init?(mutating other: UnsafePointer<Pointee>?) {
    guard let other else { return nil }
    _rawValue = other._rawValue
  }
  /// The same address.
  @_transparent public init(_ other: UnsafeMutablePointer<Pointee>) { _rawValue = other._rawValue }
}

extension UnsafePointer: _Pointer, Equatable, Comparable, Strideable, Sendable
where Pointee: ~Copyable {}
extension UnsafeMutablePointer: _Pointer, Equatable, Comparable, Strideable, Sendable
where Pointee: ~Copyable {}

extension UnsafePointer where Pointee: ~Copyable {
  /// The value pointed to.
  public var pointee: Pointee {
    @_transparent unsafeAddress { self }
  }
  /// The value `i` elements away.
  public subscript(i: Int) -> Pointee {
    @_transparent unsafeAddress { self + i }
  }
  @_transparent public func advanced(by n: Int) -> UnsafePointer<Pointee> {
    UnsafePointer(
      Builtin.gep_Word(_rawValue, n._builtinWordValue, Pointee.self))
  }
  @_transparent public func distance(to end: UnsafePointer<Pointee>) -> Int {
    Int(bitPattern: end._address &- _address) / MemoryLayout<Pointee>.stride
  }
  @_transparent public static func + (lhs: UnsafePointer<Pointee>, rhs: Int) -> UnsafePointer<Pointee> {
    lhs.advanced(by: rhs)
  }
  @_transparent public static func + (lhs: Int, rhs: UnsafePointer<Pointee>) -> UnsafePointer<Pointee> {
    rhs.advanced(by: lhs)
  }
  @_transparent public static func - (lhs: UnsafePointer<Pointee>, rhs: Int) -> UnsafePointer<Pointee> {
    lhs.advanced(by: 0 - rhs)
  }
  @_transparent public static func - (lhs: UnsafePointer<Pointee>, rhs: UnsafePointer<Pointee>) -> Int {
    rhs.distance(to: lhs)
  }
  @_transparent public static func += (lhs: inout UnsafePointer<Pointee>, rhs: Int) { lhs = lhs + rhs }
  @_transparent public static func -= (lhs: inout UnsafePointer<Pointee>, rhs: Int) { lhs = lhs - rhs }
}

extension UnsafeMutablePointer where Pointee: ~Copyable {
  /// The value pointed to.
  public var pointee: Pointee {
    @_transparent unsafeAddress { UnsafePointer(self) }
    @_transparent nonmutating unsafeMutableAddress { self }
  }
  /// The value `i` elements away.
  public subscript(i: Int) -> Pointee {
    @_transparent unsafeAddress { UnsafePointer(self + i) }
    @_transparent nonmutating unsafeMutableAddress { self + i }
  }
  /// Initializes the uninitialized memory pointed to with `value`.
  @_transparent public func initialize(to value: consuming Pointee) {
    Builtin.initialize(value, _rawValue)
  }
  /// Moves the value out, leaving the memory uninitialized.
  @_transparent public func move() -> Pointee { Builtin.take(_rawValue) }
  /// Destroys `count` values, leaving the memory uninitialized.
  @inlinable @discardableResult
  public func deinitialize(count: Int) -> UnsafeMutableRawPointer {
    precondition(count >= 0, "UnsafeMutablePointer.deinitialize with negative count")
    Builtin.destroyArray(Pointee.self, _rawValue, count._builtinWordValue)
    return UnsafeMutableRawPointer(_rawValue)
  }
  @_transparent public func advanced(by n: Int) -> UnsafeMutablePointer<Pointee> {
    UnsafeMutablePointer(Builtin.gep_Word(_rawValue, n._builtinWordValue, Pointee.self))
  }
  @_transparent public func distance(to end: UnsafeMutablePointer<Pointee>) -> Int {
    Int(bitPattern: end._address &- _address) / MemoryLayout<Pointee>.stride
  }
  @_transparent public static func + (lhs: UnsafeMutablePointer<Pointee>, rhs: Int) -> UnsafeMutablePointer<Pointee> {
    lhs.advanced(by: rhs)
  }
  @_transparent public static func + (lhs: Int, rhs: UnsafeMutablePointer<Pointee>) -> UnsafeMutablePointer<Pointee> {
    rhs.advanced(by: lhs)
  }
  @_transparent public static func - (lhs: UnsafeMutablePointer<Pointee>, rhs: Int) -> UnsafeMutablePointer<Pointee> {
    lhs.advanced(by: 0 - rhs)
  }
  @_transparent public static func - (lhs: UnsafeMutablePointer<Pointee>, rhs: UnsafeMutablePointer<Pointee>) -> Int {
    rhs.distance(to: lhs)
  }
  @_transparent public static func += (lhs: inout UnsafeMutablePointer<Pointee>, rhs: Int) { lhs = lhs + rhs }
  @_transparent public static func -= (lhs: inout UnsafeMutablePointer<Pointee>, rhs: Int) { lhs = lhs - rhs }
}

extension UnsafeMutablePointer {
  /// Initializes `count` values with `repeatedValue`.
  @inlinable public func initialize(repeating repeatedValue: Pointee, count: Int) {
    precondition(count >= 0, "UnsafeMutablePointer.initialize(repeating:count:): negative count")
    var index = 0
    while index < count {
      Builtin.initialize(repeatedValue, (self + index)._rawValue)
      index = index &+ 1
    }
  }
  /// Replaces `count` values with those at `source`.
  @inlinable public func update(from source: UnsafePointer<Pointee>, count: Int) {
    var index = 0
    while index < count {
      self[index] = source[index]
      index = index &+ 1
    }
  }
}

// MARK: - Raw pointers

/// An untyped pointer for reading memory.
@frozen
public struct UnsafeRawPointer: _Pointer, BitwiseCopyable {
  public let _rawValue: Builtin.RawPointer
  @_transparent public init(_ _rawValue: Builtin.RawPointer) { self._rawValue = _rawValue }
  /// The address of a typed pointer.
  @_transparent public init<T: ~Copyable>(_ other: UnsafePointer<T>) { _rawValue = other._rawValue }
  @_transparent public init<T: ~Copyable>(_ other: UnsafeMutablePointer<T>) { _rawValue = other._rawValue }
  @_transparent public init(_ other: UnsafeMutableRawPointer) { _rawValue = other._rawValue }
  @_transparent public init(_ other: UnsafeRawPointer) { _rawValue = other._rawValue }
  @_transparent public init?<T: ~Copyable>(_ other: UnsafePointer<T>?) {
    guard let other else { return nil }
    _rawValue = other._rawValue
  }
  @_transparent public init?<T: ~Copyable>(_ other: UnsafeMutablePointer<T>?) {
    guard let other else { return nil }
    _rawValue = other._rawValue
  }
  @_transparent public init?(_ other: UnsafeMutableRawPointer?) {
    guard let other else { return nil }
    _rawValue = other._rawValue
  }
}

/// An untyped pointer for reading and writing memory.
@frozen
public struct UnsafeMutableRawPointer: _Pointer, BitwiseCopyable {
  public let _rawValue: Builtin.RawPointer
  @_transparent public init(_ _rawValue: Builtin.RawPointer) { self._rawValue = _rawValue }
  /// The address of a typed pointer.
  @_transparent public init<T: ~Copyable>(_ other: UnsafeMutablePointer<T>) { _rawValue = other._rawValue }
  @_transparent public init(mutating other: UnsafeRawPointer) { _rawValue = other._rawValue }
  @_transparent public init(_ other: UnsafeMutableRawPointer) { _rawValue = other._rawValue }
  @_transparent public init?<T: ~Copyable>(_ other: UnsafeMutablePointer<T>?) {
    guard let other else { return nil }
    _rawValue = other._rawValue
  }
  @_transparent public init?(mutating other: UnsafeRawPointer?) {
    guard let other else { return nil }
    _rawValue = other._rawValue
  }
}

extension UnsafeRawPointer {
  @_transparent public func advanced(by n: Int) -> UnsafeRawPointer {
    UnsafeRawPointer(Builtin.gepRaw_Word(_rawValue, n._builtinWordValue))
  }
  @_transparent public func distance(to end: UnsafeRawPointer) -> Int {
    Int(bitPattern: end._address &- _address)
  }
  @_transparent public static func + (lhs: UnsafeRawPointer, rhs: Int) -> UnsafeRawPointer { lhs.advanced(by: rhs) }
  @_transparent public static func + (lhs: Int, rhs: UnsafeRawPointer) -> UnsafeRawPointer { rhs.advanced(by: lhs) }
  @_transparent public static func - (lhs: UnsafeRawPointer, rhs: Int) -> UnsafeRawPointer { lhs.advanced(by: 0 - rhs) }
  @_transparent public static func - (lhs: UnsafeRawPointer, rhs: UnsafeRawPointer) -> Int { rhs.distance(to: lhs) }
  @_transparent public static func += (lhs: inout UnsafeRawPointer, rhs: Int) { lhs = lhs + rhs }

  /// Binds the memory to `type` and returns a typed pointer.
  @_transparent @discardableResult
  public func bindMemory<T: ~Copyable>(to type: T.Type, capacity count: Int) -> UnsafePointer<T> {
    Builtin.bindMemory(_rawValue, count._builtinWordValue, type)
    return UnsafePointer(_rawValue)
  }
  /// A typed pointer to memory already bound to `T`.
  @_transparent public func assumingMemoryBound<T: ~Copyable>(to: T.Type) -> UnsafePointer<T> {
    UnsafePointer(_rawValue)
  }
  /// Loads a `T` from the aligned address `self + offset`.
  @_transparent public func load<T>(fromByteOffset offset: Int = 0, as type: T.Type) -> T {
    Builtin.loadRaw((self + offset)._rawValue)
  }
  /// Loads a `T` from `self + offset`, which need not be aligned.
  @_transparent public func loadUnaligned<T>(fromByteOffset offset: Int = 0, as type: T.Type) -> T {
    _loadUnaligned((self + offset)._rawValue)
  }
}

extension UnsafeMutableRawPointer {
  @_transparent public func advanced(by n: Int) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(Builtin.gepRaw_Word(_rawValue, n._builtinWordValue))
  }
  @_transparent public func distance(to end: UnsafeMutableRawPointer) -> Int {
    Int(bitPattern: end._address &- _address)
  }
  @_transparent public static func + (lhs: UnsafeMutableRawPointer, rhs: Int) -> UnsafeMutableRawPointer { lhs.advanced(by: rhs) }
  @_transparent public static func + (lhs: Int, rhs: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer { rhs.advanced(by: lhs) }
  @_transparent public static func - (lhs: UnsafeMutableRawPointer, rhs: Int) -> UnsafeMutableRawPointer { lhs.advanced(by: 0 - rhs) }
  @_transparent public static func - (lhs: UnsafeMutableRawPointer, rhs: UnsafeMutableRawPointer) -> Int { rhs.distance(to: lhs) }
  @_transparent public static func += (lhs: inout UnsafeMutableRawPointer, rhs: Int) { lhs = lhs + rhs }

  /// Binds the memory to `type` and returns a typed pointer.
  @_transparent @discardableResult
  public func bindMemory<T: ~Copyable>(to type: T.Type, capacity count: Int) -> UnsafeMutablePointer<T> {
    Builtin.bindMemory(_rawValue, count._builtinWordValue, type)
    return UnsafeMutablePointer(_rawValue)
  }
  /// A typed pointer to memory already bound to `T`.
  @_transparent public func assumingMemoryBound<T: ~Copyable>(to: T.Type) -> UnsafeMutablePointer<T> {
    UnsafeMutablePointer(_rawValue)
  }
  /// Loads a `T` from the aligned address `self + offset`.
  @_transparent public func load<T>(fromByteOffset offset: Int = 0, as type: T.Type) -> T {
    Builtin.loadRaw((self + offset)._rawValue)
  }
  /// Loads a `T` from `self + offset`, which need not be aligned.
  @_transparent public func loadUnaligned<T>(fromByteOffset offset: Int = 0, as type: T.Type) -> T {
    _loadUnaligned((self + offset)._rawValue)
  }
  /// Stores the bytes of `value` at `self + offset` (no alignment needed).
  @_transparent public func storeBytes<T>(of value: T, toByteOffset offset: Int = 0, as type: T.Type) {
    var copy = value
    let source = Builtin.addressof(&copy)
    Builtin.int_memmove_RawPointer_RawPointer_Int64(
      (self + offset)._rawValue, source, Int64(MemoryLayout<T>.size)._value, false._value)
  }
  /// Initializes `count` bytes... as `T` values `repeating`.
  @inlinable @discardableResult
  public func initializeMemory<T>(as type: T.Type, repeating value: T, count: Int)
    -> UnsafeMutablePointer<T>
  {
    let typed = bindMemory(to: type, capacity: count)
    typed.initialize(repeating: value, count: count)
    return typed
  }
}

/// Loads a `T` from a possibly unaligned address by copying its bytes.
@_transparent @usableFromInline func _loadUnaligned<T>(_ source: Builtin.RawPointer) -> T {
  var value: T = Builtin.zeroInitializer()
  Builtin.int_memmove_RawPointer_RawPointer_Int64(
    Builtin.addressof(&value), source, Int64(MemoryLayout<T>.size)._value, false._value)
  return value
}

// The compiler requires these conversion intrinsics to exist before it
// allows any implicit pointer conversion. The core has no Array or String,
// so they can never be called: they take `Never`.
public func _convertMutableArrayToPointerArgument<FromElement, ToPointer: _Pointer>(
  _ a: Never, _ element: FromElement.Type
) -> ToPointer {}
public func _convertConstArrayToPointerArgument<FromElement, ToPointer: _Pointer>(
  _ arr: Never, _ element: FromElement.Type
) -> ToPointer {}
public func _convertConstStringToUTF8PointerArgument<ToPointer: _Pointer>(
  _ str: Never
) -> ToPointer {}
