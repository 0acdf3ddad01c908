/// How expectations print values on diagnostic lines: small numbers in
/// decimal, others in hexadecimal with the decimal value after it, negative
/// numbers in decimal, Booleans as words.
public enum ValueText {
  /// Writes `value`: `7`, `0x1f (31)`, `-3`.
  public static func write<T: FixedWidthInteger>(_ value: T) {
    if T.isSigned && value < 0 {
      Console.write(signed: Int64(truncatingIfNeeded: value))
      return
    }
    let magnitude = UInt64(truncatingIfNeeded: value)
    if magnitude < 10 {
      Console.write(decimal: magnitude)
      return
    }
    writeHex(magnitude)
    Console.write(" (")
    Console.write(decimal: magnitude)
    Console.write(")")
  }

  /// Writes `true` or `false`.
  public static func write(_ value: Bool) {
    Console.write(value ? "true" : "false")
  }

  /// Writes `0x` and the hexadecimal digits of `value`, without leading zeros.
  public static func writeHex<T: FixedWidthInteger>(_ value: T) {
    let bits = UInt64(truncatingIfNeeded: value) & (T.bitWidth >= 64 ? ~0 : (1 << T.bitWidth) - 1)
    var digits = 1
    while digits < 16 && bits >> (4 * UInt64(digits)) != 0 { digits &+= 1 }
    Console.write(hex: bits, digits: digits)
  }
}
