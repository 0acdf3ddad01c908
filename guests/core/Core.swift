// The minimal Swift core module for targets whose toolchain ships no
// Embedded Swift standard library (s390x with Swift 6.3). It is compiled with
// `-parse-stdlib -module-name Swift` and is a strict, source-compatible subset
// of the standard library: code that compiles against it compiles against the
// real one and behaves the same. Every `Builtin` use of the guests lives here.

/// The empty tuple.
public typealias Void = ()

/// The protocol every class type conforms to.
public typealias AnyObject = Builtin.AnyObject

/// A function that never returns.
@frozen public enum Never {}

/// Marker for values that may cross concurrency domains.
@_marker public protocol Sendable {}
/// Marker for types that can be copied bit by bit.
@_marker public protocol BitwiseCopyable {}
/// Marker protocol of the standard library (`_BitwiseCopyable` spelling).
public typealias _BitwiseCopyable = BitwiseCopyable

// C type names (clang's importer and `@_cdecl` need them).
public typealias CChar = Int8
public typealias CSignedChar = Int8
public typealias CUnsignedChar = UInt8
public typealias CShort = Int16
public typealias CUnsignedShort = UInt16
public typealias CInt = Int32
public typealias CUnsignedInt = UInt32
public typealias CLong = Int
public typealias CUnsignedLong = UInt
public typealias CLongLong = Int64
public typealias CUnsignedLongLong = UInt64
public typealias CBool = Bool

/// The default type of an integer literal.
public typealias IntegerLiteralType = Int
/// The default type of a Boolean literal.
public typealias BooleanLiteralType = Bool

/// Whether the target stores the most significant byte first.
@_transparent public var _isBigEndian: Bool {
  #if _endian(big)
    return true
  #else
    return false
  #endif
}

// MARK: - Literals

public protocol _ExpressibleByBuiltinIntegerLiteral {
  init(_builtinIntegerLiteral value: Builtin.IntLiteral)
}
/// A type that can be initialized with an integer literal.
public protocol ExpressibleByIntegerLiteral {
  associatedtype IntegerLiteralType: _ExpressibleByBuiltinIntegerLiteral
  init(integerLiteral value: IntegerLiteralType)
}
public protocol _ExpressibleByBuiltinBooleanLiteral {
  init(_builtinBooleanLiteral value: Builtin.Int1)
}
/// A type that can be initialized with `true` or `false`.
public protocol ExpressibleByBooleanLiteral {
  associatedtype BooleanLiteralType: _ExpressibleByBuiltinBooleanLiteral
  init(booleanLiteral value: BooleanLiteralType)
}
/// A type that can be initialized with `nil`.
public protocol ExpressibleByNilLiteral {
  init(nilLiteral: ())
}
public protocol _ExpressibleByBuiltinUnicodeScalarLiteral {
  init(_builtinUnicodeScalarLiteral value: Builtin.Int32)
}
/// A type that can be initialized with a one-scalar string literal.
public protocol ExpressibleByUnicodeScalarLiteral {
  associatedtype UnicodeScalarLiteralType: _ExpressibleByBuiltinUnicodeScalarLiteral
  init(unicodeScalarLiteral value: UnicodeScalarLiteralType)
}
public protocol _ExpressibleByBuiltinExtendedGraphemeClusterLiteral:
  _ExpressibleByBuiltinUnicodeScalarLiteral
{
  init(
    _builtinExtendedGraphemeClusterLiteral start: Builtin.RawPointer,
    utf8CodeUnitCount: Builtin.Word, isASCII: Builtin.Int1)
}
/// A type that can be initialized with a one-character string literal.
public protocol ExpressibleByExtendedGraphemeClusterLiteral: ExpressibleByUnicodeScalarLiteral {
  associatedtype ExtendedGraphemeClusterLiteralType:
    _ExpressibleByBuiltinExtendedGraphemeClusterLiteral
  init(extendedGraphemeClusterLiteral value: ExtendedGraphemeClusterLiteralType)
}
public protocol _ExpressibleByBuiltinStringLiteral:
  _ExpressibleByBuiltinExtendedGraphemeClusterLiteral
{
  init(
    _builtinStringLiteral start: Builtin.RawPointer, utf8CodeUnitCount: Builtin.Word,
    isASCII: Builtin.Int1)
}
/// A type that can be initialized with a string literal.
public protocol ExpressibleByStringLiteral: ExpressibleByExtendedGraphemeClusterLiteral {
  associatedtype StringLiteralType: _ExpressibleByBuiltinStringLiteral
  init(stringLiteral value: StringLiteralType)
}

// MARK: - Bool

/// A Boolean value.
@frozen
public struct Bool: Sendable, BitwiseCopyable, Equatable, _ExpressibleByBuiltinBooleanLiteral,
  ExpressibleByBooleanLiteral
{
  public var _value: Builtin.Int1

  @_transparent public init() { _value = Builtin.trunc_Int8_Int1(UInt8(0)._value) }
  @_transparent public init(_ v: Builtin.Int1) { _value = v }
  @_transparent public init(_builtinBooleanLiteral value: Builtin.Int1) { _value = value }
  @_transparent public init(booleanLiteral value: Bool) { self = value }
  @_transparent public init(_ value: Bool) { self = value }

  /// Used by the compiler for conditions.
  @_transparent public func _getBuiltinLogicValue() -> Builtin.Int1 { _value }

  @_transparent public static prefix func ! (a: Bool) -> Bool {
    Bool(Builtin.xor_Int1(a._value, true._value))
  }
  @_transparent public static func == (lhs: Bool, rhs: Bool) -> Bool {
    Bool(Builtin.cmp_eq_Int1(lhs._value, rhs._value))
  }
  @_transparent public static func && (lhs: Bool, rhs: @autoclosure () throws -> Bool) rethrows
    -> Bool
  {
    lhs ? try rhs() : false
  }
  @_transparent public static func || (lhs: Bool, rhs: @autoclosure () throws -> Bool) rethrows
    -> Bool
  {
    lhs ? true : try rhs()
  }
  /// Flips the value.
  @_transparent public mutating func toggle() { self = !self }
}

// MARK: - Equatable, Comparable

/// A type whose values can be compared for equality.
public protocol Equatable {
  static func == (lhs: Self, rhs: Self) -> Bool
}
extension Equatable {
  @_transparent public static func != (lhs: Self, rhs: Self) -> Bool { !(lhs == rhs) }
}
/// Pattern matching of `case` values by equality.
@_transparent public func ~= <T: Equatable>(a: T, b: T) -> Bool { a == b }

/// A type whose values are ordered.
public protocol Comparable: Equatable {
  static func < (lhs: Self, rhs: Self) -> Bool
  static func <= (lhs: Self, rhs: Self) -> Bool
  static func >= (lhs: Self, rhs: Self) -> Bool
  static func > (lhs: Self, rhs: Self) -> Bool
}
extension Comparable {
  @_transparent public static func > (lhs: Self, rhs: Self) -> Bool { rhs < lhs }
  @_transparent public static func <= (lhs: Self, rhs: Self) -> Bool { !(rhs < lhs) }
  @_transparent public static func >= (lhs: Self, rhs: Self) -> Bool { !(lhs < rhs) }
}

/// The lesser of two values (the first when equal).
@inlinable public func min<T: Comparable>(_ x: T, _ y: T) -> T { y < x ? y : x }
/// The greater of two values (the second when equal).
@inlinable public func max<T: Comparable>(_ x: T, _ y: T) -> T { y >= x ? y : x }

/// A type with a raw value it converts to and from.
public protocol RawRepresentable<RawValue> {
  associatedtype RawValue
  init?(rawValue: RawValue)
  var rawValue: RawValue { get }
}
@inlinable public func == <T: RawRepresentable>(lhs: T, rhs: T) -> Bool
where T.RawValue: Equatable { lhs.rawValue == rhs.rawValue }
@inlinable public func != <T: RawRepresentable>(lhs: T, rhs: T) -> Bool
where T.RawValue: Equatable { lhs.rawValue != rhs.rawValue }

// MARK: - Sequences

/// A type that produces the elements of a sequence one by one.
public protocol IteratorProtocol<Element> {
  associatedtype Element
  mutating func next() -> Element?
}
/// A sequence that `for`-`in` can iterate.
public protocol Sequence<Element> {
  associatedtype Element
  associatedtype Iterator: IteratorProtocol where Iterator.Element == Element
  func makeIterator() -> Iterator
}
/// A type whose values are a distance apart.
public protocol Strideable<Stride>: Comparable {
  associatedtype Stride: Comparable
  func distance(to other: Self) -> Stride
  func advanced(by n: Stride) -> Self
}

// MARK: - Errors and traps

/// A type representing an error that can be thrown.
public protocol Error: Sendable {}

@usableFromInline @_extern(c, "putchar") func _corePutchar(_ c: Int32) -> Int32

@usableFromInline func _coreWrite(_ text: StaticString) {
  var index = 0
  let base = text.utf8Start
  while index < text.utf8CodeUnitCount {
    _ = _corePutchar(Int32(_truncatingBits: UInt(base[index])._lowWord))
    index = index &+ 1
  }
}

@usableFromInline func _coreWrite(decimal value: UInt) {
  if value >= 10 { _coreWrite(decimal: value / 10) }
  _ = _corePutchar(Int32(_truncatingBits: value % 10 + 48))
}

/// Prints `prefix: message` with the location and stops (a trap).
@inline(never) @usableFromInline
func _fatalErrorMessage(
  _ prefix: StaticString, _ message: StaticString, file: StaticString, line: UInt
) -> Never {
  _coreWrite(prefix)
  _coreWrite(": ")
  _coreWrite(message)
  _coreWrite(" at ")
  _coreWrite(file)
  _coreWrite(":")
  _coreWrite(decimal: line)
  _coreWrite("\n")
  Builtin.int_trap()
}

/// Whether the client is built without optimization (-Onone): checks print
/// their message before trapping, as the standard library's do.
@_transparent public func _isDebugAssertConfiguration() -> Bool {
  Int32(Builtin.assert_configuration()) == 0
}
/// Whether the client is built with -O/-Osize (checks trap without message).
@_transparent public func _isReleaseAssertConfiguration() -> Bool {
  Int32(Builtin.assert_configuration()) == 1
}

/// Stops the program with a message.
@_transparent public func fatalError(
  _ message: @autoclosure () -> StaticString = StaticString(),
  file: StaticString = #file, line: UInt = #line
) -> Never {
  _fatalErrorMessage("Fatal error", message(), file: file, line: line)
}

/// Checks a condition that must hold; stops the program when it does not.
/// Like the standard library: with -Onone the failure prints its message,
/// with -O/-Osize it traps silently, with -Ounchecked it is not checked.
@_transparent public func precondition(
  _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> StaticString = StaticString(),
  file: StaticString = #file, line: UInt = #line
) {
  if _isDebugAssertConfiguration() {
    if !condition() { _fatalErrorMessage("Precondition failed", message(), file: file, line: line) }
  } else if _isReleaseAssertConfiguration() {
    Builtin.condfail_message(
      (!condition())._value, StaticString("precondition failure").unsafeRawPointer)
  }
}

/// Stops the program: a precondition that cannot hold (message with
/// -Onone only, as `precondition`).
@_transparent public func preconditionFailure(
  _ message: @autoclosure () -> StaticString = StaticString(),
  file: StaticString = #file, line: UInt = #line
) -> Never {
  if _isDebugAssertConfiguration() {
    _fatalErrorMessage("Fatal error", message(), file: file, line: line)
  }
  Builtin.int_trap()
}

/// Checks a condition in -Onone builds only, as the standard library.
@_transparent public func assert(
  _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> StaticString = StaticString(),
  file: StaticString = #file, line: UInt = #line
) {
  if _isDebugAssertConfiguration() && !condition() {
    _fatalErrorMessage("Assertion failed", message(), file: file, line: line)
  }
}

/// Called by the compiler when `!` finds nil.
@inline(never) @usableFromInline
func _diagnoseUnexpectedNilOptional(
  _filenameStart: Builtin.RawPointer, _filenameLength: Builtin.Word,
  _filenameIsASCII: Builtin.Int1, _line: Builtin.Word, _isImplicitUnwrap: Builtin.Int1
) {
  _coreWrite("Fatal error: Unexpectedly found nil while unwrapping an Optional value at ")
  _coreWrite(
    StaticString(
      _builtinStringLiteral: _filenameStart, utf8CodeUnitCount: _filenameLength,
      isASCII: _filenameIsASCII))
  _coreWrite(":")
  _coreWrite(decimal: UInt(_builtinWord: _line))
  _coreWrite("\n")
  Builtin.int_trap()
}

// MARK: - Memory layout

/// Size, stride and alignment of a type.
@frozen public enum MemoryLayout<T: ~Copyable>: ~Copyable {
  /// Bytes a value occupies, without trailing padding.
  public static var size: Int { @_transparent get { Int(_builtinWord: Builtin.sizeof(T.self)) } }
  /// Bytes from one element to the next in an array.
  public static var stride: Int {
    @_transparent get { Int(_builtinWord: Builtin.strideof(T.self)) }
  }
  /// Required alignment in bytes.
  public static var alignment: Int {
    @_transparent get { Int(_builtinWord: Builtin.alignof(T.self)) }
  }
  @_transparent public static func size(ofValue value: borrowing T) -> Int { size }
  @_transparent public static func stride(ofValue value: borrowing T) -> Int { stride }
  @_transparent public static func alignment(ofValue value: borrowing T) -> Int { alignment }
}

/// Reinterprets the bits of `x` as a value of type `type` of the same size.
@_transparent public func unsafeBitCast<T, U>(_ x: T, to type: U.Type) -> U {
  precondition(MemoryLayout<T>.size == MemoryLayout<U>.size, "can't unsafeBitCast between types of different sizes")
  return Builtin.reinterpretCast(x)
}

/// Keeps `x` alive until this point.
@_transparent public func withExtendedLifetime<T, Result>(
  _ x: borrowing T, _ body: () throws -> Result
) rethrows -> Result {
  defer { _fixLifetime(x) }
  return try body()
}
@_transparent public func _fixLifetime<T>(_ x: borrowing T) { Builtin.fixLifetime(x) }

/// A type that can be initialized with a floating-point literal (no type
/// of this core conforms: floating point is not part of the subset).
public protocol ExpressibleByFloatLiteral {
  associatedtype FloatLiteralType
  init(floatLiteral value: FloatLiteralType)
}

/// The hook the compiler calls before every typed `throw` (the stdlib's is
/// for debuggers; here nothing watches). Without it SILGen crashes on any
/// `throw`, and the test API's `require` throws `TestStop`.
@_alwaysEmitIntoClient
public func _willThrowTyped<E: Error>(_ error: E) {}
