// TEMPORARY: the writer API of guests/lib/Protocol/KTAPGrammar.swift, until
// that file lands. Same names and signatures.

/// Text of a name or reason: an optional prefix, static text and an
/// optional ` line N` suffix.
public struct KTAPText {
  public var prefix: StaticString?
  public var text: StaticString
  public var lineSuffix: UInt?
  public init(_ text: StaticString, prefix: StaticString? = nil, lineSuffix: UInt? = nil) {
    self.text = text
    self.prefix = prefix
    self.lineSuffix = lineSuffix
  }
  public var isEmpty: Bool {
    text.utf8CodeUnitCount == 0 && (prefix?.utf8CodeUnitCount ?? 0) == 0 && lineSuffix == nil
  }
}

public enum KTAPDirective { case skip, xfail, xpass }

public struct KTAPTrailer {
  public var fileID: StaticString?
  public var line: UInt
  public var cpu: Int?
  public var time: UInt64?
  public var duration: UInt64?
  public init(
    fileID: StaticString?, line: UInt, cpu: Int? = nil, time: UInt64? = nil,
    duration: UInt64? = nil
  ) {
    self.fileID = fileID
    self.line = line
    self.cpu = cpu
    self.time = time
    self.duration = duration
  }
}

public enum KTAPName {
  public static func write(_ name: StaticString) {
    let base = name.utf8Start
    var index = 0
    while index < name.utf8CodeUnitCount {
      if base[index] == 0x23 { Console.write("\u{FF03}") } else { Console.write(byte: base[index]) }
      index &+= 1
    }
  }
}

public enum KTAP {
  static func indent(_ depth: Int) {
    var level = 0
    while level < depth {
      Console.write("    ")
      level &+= 1
    }
  }
  static func writeText(_ text: KTAPText, escaped: Bool) {
    if let prefix = text.prefix {
      if escaped { KTAPName.write(prefix) } else { Console.write(prefix) }
    }
    if escaped { KTAPName.write(text.text) } else { Console.write(text.text) }
    if let line = text.lineSuffix {
      Console.write(" line ")
      Console.write(decimal: UInt64(line))
    }
  }
  public static func writeVersion(depth: Int) {
    Console.beginLine()
    indent(depth)
    Console.write("KTAP version 1")
    Console.endLine()
  }
  public static func writeGuestName(_ name: StaticString) {
    Console.beginLine()
    Console.write("# guest: ")
    Console.write(name)
    Console.endLine()
  }
  public static func writePlan(depth: Int, count: Int) {
    Console.beginLine()
    indent(depth)
    Console.write("1..")
    Console.write(decimal: UInt64(max(count, 0)))
    Console.endLine()
  }
  public static func writeSubtestHeader(depth: Int, name: StaticString) {
    Console.beginLine()
    indent(depth)
    Console.write("# Subtest: ")
    KTAPName.write(name)
    Console.endLine()
  }
  public static func writeResult(
    depth: Int, ok: Bool, number: Int, name: KTAPText, directive: KTAPDirective?,
    reason: KTAPText, trailer: KTAPTrailer
  ) {
    Console.beginLine()
    indent(depth)
    if !ok { Console.write("not ") }
    Console.write("ok ")
    Console.write(decimal: UInt64(number))
    Console.write(" ")
    writeText(name, escaped: true)
    let hasTrailer =
      trailer.fileID != nil || trailer.cpu != nil || trailer.time != nil || trailer.duration != nil
    if directive != nil || hasTrailer { Console.write(" #") }
    if let directive {
      switch directive {
      case .skip: Console.write(" SKIP")
      case .xfail: Console.write(" XFAIL")
      case .xpass: Console.write(" XPASS")
      }
      if !reason.isEmpty {
        Console.write(" ")
        writeText(reason, escaped: false)
      }
    }
    if let file = trailer.fileID {
      Console.write(" @")
      Console.write(file)
      Console.write(":")
      Console.write(decimal: UInt64(trailer.line))
    }
    if let cpu = trailer.cpu {
      Console.write(" cpu=")
      Console.write(decimal: UInt64(cpu))
    }
    if let time = trailer.time {
      Console.write(" t=")
      Console.write(decimal: time)
    }
    if let duration = trailer.duration {
      Console.write(" dt=")
      Console.write(decimal: duration)
    }
    Console.endLine()
  }
  public static func writeDiagnostic(depth: Int, _ text: StaticString) {
    beginDiagnostic(depth: depth)
    Console.write(text)
    endDiagnostic()
  }
  public static func beginDiagnostic(depth: Int) {
    Console.beginLine()
    indent(depth)
    Console.write("# ")
  }
  public static func endDiagnostic() { Console.endLine() }
  public static func writeTotals(passed: Int, failed: Int, skipped: Int, xfailed: Int, xpassed: Int)
  {
    Console.beginLine()
    Console.write("# Totals: pass:")
    Console.write(decimal: UInt64(passed))
    Console.write(" fail:")
    Console.write(decimal: UInt64(failed))
    Console.write(" skip:")
    Console.write(decimal: UInt64(skipped))
    Console.write(" xfail:")
    Console.write(decimal: UInt64(xfailed))
    Console.write(" xpass:")
    Console.write(decimal: UInt64(xpassed))
    Console.endLine()
  }
  public static func writeExit(status: Int) {
    Console.beginLine()
    Console.write("# EXIT: STATUS=")
    Console.write(decimal: UInt64(status))
    Console.endLine()
  }
  public static func writeCrashMarker(checkNumber: Int, testNumber: Int, testName: StaticString) {
    writeVersion(depth: 2)
    Console.beginLine()
    indent(2)
    Console.write("# Subtest: (crashed)")
    Console.endLine()
    writePlan(depth: 2, count: 1)
    writeResult(
      depth: 1, ok: false, number: checkNumber, name: KTAPText("(crashed)"), directive: nil,
      reason: KTAPText(""), trailer: KTAPTrailer(fileID: nil, line: 0))
    writeResult(
      depth: 0, ok: false, number: testNumber, name: KTAPText(testName), directive: nil,
      reason: KTAPText(""), trailer: KTAPTrailer(fileID: nil, line: 0))
  }
}
