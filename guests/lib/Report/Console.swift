/// The byte sink a guest runtime installs for its console (COM1 on x86_64,
/// SCLP on s390x). Host builds install one that captures bytes for tests.
public typealias ConsoleSink = @convention(c) (UInt8) -> Void

/// Text output without `String`: static text, decimal and hexadecimal
/// numbers. Every protocol line is written between `beginLine()` and
/// `endLine()` so that, once several CPUs print, a line is never torn.
public enum Console {
  /// Where bytes go; `nil` drops them (before the runtime set up a console).
  nonisolated(unsafe) public static var sink: ConsoleSink?

  /// The console input a runtime installs (COM1's receiver on x86_64, SCLP
  /// read event data on s390x): the next byte the host sent, or -1 when
  /// none is waiting. Polled; `nil` before the runtime set it up.
  nonisolated(unsafe) public static var source: (@convention(c) () -> Int32)?

  /// Hooks a runtime may set to serialise whole lines across CPUs.
  nonisolated(unsafe) public static var lineLock: (@convention(c) () -> Void)?
  /// Releases what `lineLock` took.
  nonisolated(unsafe) public static var lineUnlock: (@convention(c) () -> Void)?

  /// Starts a line: takes the line lock when one is installed.
  @inline(never)
  public static func beginLine() { lineLock?() }

  /// Ends a line with a newline and releases the line lock.
  @inline(never)
  public static func endLine() {
    write(byte: 10)
    lineUnlock?()
  }

  /// Writes one byte.
  public static func write(byte: UInt8) { sink?(byte) }

  /// Writes static text (UTF-8 bytes as they are).
  public static func write(_ text: StaticString) {
    let base = text.utf8Start
    var index = 0
    while index < text.utf8CodeUnitCount {
      write(byte: base[index])
      index &+= 1
    }
  }

  /// Writes a NUL-terminated byte string, at most `limit` bytes.
  public static func write(cString: UnsafePointer<UInt8>, limit: Int = 4096) {
    var index = 0
    while index < limit && cString[index] != 0 {
      write(byte: cString[index])
      index &+= 1
    }
  }

  /// Writes an unsigned decimal number.
  public static func write(decimal value: UInt64) {
    if value >= 10 { write(decimal: value / 10) }
    write(byte: 48 &+ UInt8(truncatingIfNeeded: value % 10))
  }

  /// Writes a signed decimal number.
  public static func write(signed value: Int64) {
    if value < 0 {
      write(byte: 45)
      write(decimal: UInt64(bitPattern: 0 &- value))
    } else {
      write(decimal: UInt64(value))
    }
  }

  /// Writes `0x` and `digits` hexadecimal digits (all 16 by default).
  public static func write(hex value: UInt64, digits: Int = 16) {
    write(byte: 48)
    write(byte: 120)
    var shift = (digits &- 1) &* 4
    while shift >= 0 {
      let nibble = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 0xF)
      write(byte: nibble < 10 ? 48 &+ nibble : 87 &+ nibble)
      shift &-= 4
    }
  }

  /// Writes ` name=0x…` (16 hexadecimal digits), as in crash records.
  public static func write(field name: StaticString, hex value: UInt64) {
    write(" ")
    write(name)
    write("=")
    write(hex: value)
  }

  /// Writes the register lines of a crash record: `# CRASH:` and eight
  /// ` name=0x…` fields to a line. `names` lists the registers separated by
  /// spaces; `values` holds one value per name, in that order (a saved
  /// register frame, read in place).
  public static func writeCrashRegisters(_ names: StaticString, _ values: UnsafePointer<UInt64>) {
    let text = names.utf8Start
    let count = names.utf8CodeUnitCount
    var index = 0
    var field = 0
    while index < count {
      while index < count && text[index] == 32 { index &+= 1 }
      if index >= count { break }
      if field % 8 == 0 {
        if field > 0 { endLine() }
        beginLine()
        write("# CRASH:")
      }
      write(byte: 32)
      while index < count && text[index] != 32 {
        write(byte: text[index])
        index &+= 1
      }
      write(byte: 61)
      write(hex: values[field])
      field &+= 1
    }
    if field > 0 { endLine() }
  }

  /// Writes a whole diagnostic line `# <text>`.
  public static func diagnostic(_ text: StaticString) {
    beginLine()
    write("# ")
    write(text)
    endLine()
  }
}
