/// A string known at compile time: a pointer to its UTF-8 bytes (with a
/// terminating NUL) and their count. Only the subset with a pointer
/// representation (no single-scalar form) is provided.
@frozen
public struct StaticString: Sendable, BitwiseCopyable, _ExpressibleByBuiltinStringLiteral,
  ExpressibleByStringLiteral
{
  @usableFromInline var _startPtrOrData: Builtin.Word
  @usableFromInline var _utf8CodeUnitCount: Builtin.Word
  @usableFromInline var _flags: Builtin.Int8

  /// An empty string.
  @_transparent public init() { self = "" }

  @_transparent public init(
    _builtinStringLiteral start: Builtin.RawPointer, utf8CodeUnitCount: Builtin.Word,
    isASCII: Builtin.Int1
  ) {
    _startPtrOrData = Builtin.ptrtoint_Word(start)
    _utf8CodeUnitCount = utf8CodeUnitCount
    _flags = Bool(isASCII) ? (0x2 as UInt8)._value : (0x0 as UInt8)._value
  }
  @_transparent public init(
    _builtinExtendedGraphemeClusterLiteral start: Builtin.RawPointer,
    utf8CodeUnitCount: Builtin.Word, isASCII: Builtin.Int1
  ) {
    self.init(_builtinStringLiteral: start, utf8CodeUnitCount: utf8CodeUnitCount, isASCII: isASCII)
  }
  @_transparent public init(_builtinUnicodeScalarLiteral value: Builtin.Int32) {
    // Single-scalar literals without a pointer are not supported by this
    // subset; the compiler uses the grapheme/string forms for text literals.
    Builtin.int_trap()
  }
  @_transparent public init(stringLiteral value: StaticString) { self = value }
  @_transparent public init(extendedGraphemeClusterLiteral value: StaticString) { self = value }
  @_transparent public init(unicodeScalarLiteral value: StaticString) { self = value }

  /// The first UTF-8 byte.
  public var utf8Start: UnsafePointer<UInt8> {
    @_transparent get { UnsafePointer(Builtin.inttoptr_Word(_startPtrOrData)) }
  }
  /// The number of UTF-8 bytes (without the NUL).
  public var utf8CodeUnitCount: Int { @_transparent get { Int(_builtinWord: _utf8CodeUnitCount) } }
  /// Whether every byte is ASCII.
  public var isASCII: Bool { @_transparent get { UInt8(_flags) & 0x2 != 0 } }
  /// Always true here: every static string of this subset has a pointer.
  public var hasPointerRepresentation: Bool { @_transparent get { true } }
  /// The raw start pointer.
  public var unsafeRawPointer: Builtin.RawPointer {
    @_transparent get { Builtin.inttoptr_Word(_startPtrOrData) }
  }
}
