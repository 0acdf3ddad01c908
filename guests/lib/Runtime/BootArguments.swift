/// The guest's command line (QEMU `-append`), a copy kept by the runtime:
/// space-separated `key=value` words. The host passes, among others,
/// `harness.mem=<MiB>` and `harness.smp=<CPUs>`.
public struct BootArguments {
  private let bytes: UnsafePointer<UInt8>?
  /// Length in bytes.
  public let count: Int

  /// Arguments over `count` bytes at `bytes`.
  public init(bytes: UnsafePointer<UInt8>?, count: Int) {
    self.bytes = bytes
    self.count = bytes == nil ? 0 : count
  }

  /// Empty arguments.
  public static var empty: BootArguments { BootArguments(bytes: nil, count: 0) }

  /// The unsigned decimal (or `0x` hexadecimal) value of `key=`, if present
  /// and well formed.
  public func integer(_ key: StaticString) -> UInt64? {
    guard let bytes, let (start, length) = value(of: key) else { return nil }
    return BootArguments.parseInteger(bytes + start, length)
  }

  /// Whether the value of `key=` has `item` among its comma-separated
  /// items: `harness.cpu=qemu64,+x2apic` has `+x2apic`.
  public func value(of key: StaticString, hasItem item: StaticString) -> Bool {
    guard let bytes, let (start, length) = value(of: key) else { return false }
    let itemBytes = item.utf8Start
    let itemCount = item.utf8CodeUnitCount
    var from = start
    let end = start + length
    while from <= end {
      var to = from
      while to < end && bytes[to] != 44 { to &+= 1 }
      if to - from == itemCount {
        var same = true
        var k = 0
        while k < itemCount {
          if bytes[from + k] != itemBytes[k] { same = false; break }
          k &+= 1
        }
        if same { return true }
      }
      from = to &+ 1
    }
    return false
  }

  /// Whether the comma-separated unsigned numbers of `key=` include
  /// `number`: `harness.tests=0,3` contains 3. Nil when `key=` is absent.
  public func integerList(_ key: StaticString, contains number: UInt64) -> Bool? {
    guard let bytes, let (start, length) = value(of: key) else { return nil }
    var from = start
    let end = start + length
    while from < end {
      var to = from
      while to < end && bytes[to] != 44 { to &+= 1 }
      if BootArguments.parseInteger(bytes + from, to - from) == number { return true }
      from = to &+ 1
    }
    return false
  }

  /// The `MAJOR.MINOR[.MICRO]` version in `key=`: `harness.qemu=7.2.0`.
  public func version(_ key: StaticString) -> (major: Int, minor: Int)? {
    guard let bytes, let (start, length) = value(of: key) else { return nil }
    var dot = start
    while dot < start + length && bytes[dot] != 46 { dot &+= 1 }
    guard dot < start + length, let major = BootArguments.parseInteger(bytes + start, dot - start)
    else { return nil }
    var end = dot + 1
    while end < start + length && bytes[end] != 46 { end &+= 1 }
    guard let minor = BootArguments.parseInteger(bytes + dot + 1, end - dot - 1) else { return nil }
    return (Int(major), Int(minor))
  }

  /// Offset and length of the value of the first `key=` word.
  private func value(of key: StaticString) -> (Int, Int)? {
    guard let bytes else { return nil }
    let keyBytes = key.utf8Start
    let keyCount = key.utf8CodeUnitCount
    var start = 0
    while start < count {
      while start < count && bytes[start] == 32 { start &+= 1 }
      var end = start
      while end < count && bytes[end] != 32 { end &+= 1 }
      if end - start > keyCount && bytes[start + keyCount] == 61 {
        var same = true
        var k = 0
        while k < keyCount {
          if bytes[start + k] != keyBytes[k] { same = false; break }
          k &+= 1
        }
        if same { return (start + keyCount + 1, end - start - keyCount - 1) }
      }
      start = end
    }
    return nil
  }

  /// Parses decimal or `0x` hexadecimal digits; nil on anything else.
  static func parseInteger(_ digits: UnsafePointer<UInt8>, _ length: Int) -> UInt64? {
    guard length > 0 else { return nil }
    var index = 0
    var radix: UInt64 = 10
    if length > 2 && digits[0] == 48 && (digits[1] == 120 || digits[1] == 88) {
      radix = 16
      index = 2
    }
    var value: UInt64 = 0
    while index < length {
      let c = digits[index]
      var digit: UInt64
      if c >= 48 && c <= 57 {
        digit = UInt64(c - 48)
      } else if radix == 16 && c >= 97 && c <= 102 {
        digit = UInt64(c - 87)
      } else if radix == 16 && c >= 65 && c <= 70 {
        digit = UInt64(c - 55)
      } else {
        return nil
      }
      let (scaled, o1) = value.multipliedReportingOverflow(by: radix)
      let (sum, o2) = scaled.addingReportingOverflow(digit)
      if o1 || o2 { return nil }
      value = sum
      index &+= 1
    }
    return value
  }
}
