/// Text from a guest (check and section names, diagnostics, crash records,
/// serial output, reasons that quote them) made safe to print on a
/// terminal or into a log: nothing the guest wrote can move the cursor,
/// clear the screen, set the window title, ring the bell or hide text.
///
/// Every C0 control character (U+0000–U+001F, including ESC, CR, BEL,
/// backspace and tab), DEL (U+007F), every C1 control character
/// (U+0080–U+009F, e.g. the one-character CSI U+009B) and the bidirectional
/// overrides and isolates (U+202A–U+202E, U+2066–U+2069, which reorder the
/// text around them) are shown escaped: `\n`, `\r`, `\t`, `\xNN` for the
/// other C0 characters and DEL, `\u{NN}` / `\u{NNNN}` for the rest. Bytes
/// that are not UTF-8 are shown as `\xNN` (`sanitized(bytes:)`) or, in a
/// `String` already decoded, as the replacement character U+FFFD. A
/// backslash stays as it is, so sanitizing is idempotent (sanitized text is
/// unchanged by a second pass) at the price that a guest's literal `\x1b`
/// looks like an escaped ESC.
public enum TerminalText {
  /// `text` as one safe line: every control character escaped, newlines
  /// included.
  public static func sanitized(_ text: String) -> String {
    sanitized(text, keepingNewlines: false)
  }

  /// `text` made safe; with `keepingNewlines` a line feed (and the carriage
  /// return of a CR LF pair) is kept as a line break, for multi-line blocks
  /// such as a serial log.
  public static func sanitized(_ text: String, keepingNewlines: Bool) -> String {
    guard needsEscaping(text) else { return text }
    var out = String.UnicodeScalarView()
    let scalars = Array(text.unicodeScalars)
    for (index, scalar) in scalars.enumerated() {
      if keepingNewlines {
        if scalar == "\n" {
          out.append(scalar)
          continue
        }
        if scalar == "\r", index + 1 < scalars.count, scalars[index + 1] == "\n" { continue }
      }
      append(scalar, to: &out)
    }
    return String(out)
  }

  /// Raw bytes (e.g. serial output) as safe text: UTF-8 decoded, each byte
  /// that is not part of valid UTF-8 shown as `\xNN`, control characters
  /// escaped as in `sanitized(_:keepingNewlines:)`.
  public static func sanitized(bytes: some Sequence<UInt8>, keepingNewlines: Bool = false) -> String {
    var stream = Stream(keepingNewlines: keepingNewlines)
    return stream.feed(bytes) + stream.finish()
  }

  /// Whether `scalar` is shown escaped.
  public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x00...0x1F, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069: true
    default: false
    }
  }

  /// Sanitizes a byte stream that arrives in chunks (a UTF-8 sequence may
  /// be split between two chunks; it is held back until complete).
  public struct Stream: Sendable {
    private let keepingNewlines: Bool
    private var pending: [UInt8] = []
    private var pendingCR = false

    /// A stream; with `keepingNewlines` line feeds (and CR LF) stay line breaks.
    public init(keepingNewlines: Bool) {
      self.keepingNewlines = keepingNewlines
    }

    /// The safe text for `bytes`, as far as it can be decoded yet.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> String {
      pending += bytes
      return drain(final: false)
    }

    /// The rest: an incomplete trailing sequence is shown as `\xNN` bytes.
    public mutating func finish() -> String {
      var text = drain(final: true)
      if pendingCR {
        text += "\\r"
        pendingCR = false
      }
      return text
    }

    private mutating func drain(final: Bool) -> String {
      var out = String.UnicodeScalarView()
      var index = 0
      while index < pending.count {
        let length = TerminalText.sequenceLength(pending, at: index)
        switch length {
        case .incomplete where !final:
          pending.removeFirst(index)
          return String(out)
        case .incomplete, .invalid:
          flushCR(&out)
          TerminalText.appendByte(pending[index], to: &out)
          index += 1
        case .valid(let count):
          let scalar = TerminalText.decode(pending[index..<(index + count)])
          index += count
          if keepingNewlines {
            if scalar == "\r" {
              flushCR(&out)
              pendingCR = true
              continue
            }
            if scalar == "\n" {
              pendingCR = false
              out.append(scalar)
              continue
            }
          }
          flushCR(&out)
          TerminalText.append(scalar, to: &out)
        }
      }
      pending.removeAll()
      return String(out)
    }

    private mutating func flushCR(_ out: inout String.UnicodeScalarView) {
      if pendingCR {
        out.append(contentsOf: "\\r".unicodeScalars)
        pendingCR = false
      }
    }
  }

  private static func needsEscaping(_ text: String) -> Bool {
    text.unicodeScalars.contains(where: isUnsafe)
  }

  private static func append(_ scalar: Unicode.Scalar, to out: inout String.UnicodeScalarView) {
    guard isUnsafe(scalar) else {
      out.append(scalar)
      return
    }
    let escaped: String
    switch scalar {
    case "\n": escaped = "\\n"
    case "\r": escaped = "\\r"
    case "\t": escaped = "\\t"
    default:
      if scalar.value <= 0x7F {
        escaped = "\\x" + hex(scalar.value, digits: 2)
      } else {
        escaped = "\\u{" + hex(scalar.value, digits: scalar.value > 0xFF ? 4 : 2) + "}"
      }
    }
    out.append(contentsOf: escaped.unicodeScalars)
  }

  private static func appendByte(_ byte: UInt8, to out: inout String.UnicodeScalarView) {
    out.append(contentsOf: ("\\x" + hex(UInt32(byte), digits: 2)).unicodeScalars)
  }

  private static func hex(_ value: UInt32, digits: Int) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: max(0, digits - text.count)) + text
  }

  private enum SequenceLength {
    case valid(Int)
    case incomplete
    case invalid
  }

  /// The length of the well-formed UTF-8 sequence at `index` (RFC 3629:
  /// no overlong forms, no surrogates, nothing above U+10FFFF).
  private static func sequenceLength(_ bytes: [UInt8], at index: Int) -> SequenceLength {
    let first = bytes[index]
    let count: Int
    var low: UInt8 = 0x80
    var high: UInt8 = 0xBF
    switch first {
    case 0x00...0x7F: return .valid(1)
    case 0xC2...0xDF: count = 2
    case 0xE0:
      count = 3
      low = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: count = 3
    case 0xED:
      count = 3
      high = 0x9F
    case 0xF0:
      count = 4
      low = 0x90
    case 0xF1...0xF3: count = 4
    case 0xF4:
      count = 4
      high = 0x8F
    default: return .invalid
    }
    for offset in 1..<count {
      guard index + offset < bytes.count else { return .incomplete }
      let byte = bytes[index + offset]
      let range = offset == 1 ? low...high : 0x80...0xBF
      if !range.contains(byte) { return .invalid }
    }
    return .valid(count)
  }

  private static func decode(_ bytes: ArraySlice<UInt8>) -> Unicode.Scalar {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    if case .scalarValue(let scalar) = decoder.decode(&iterator) { return scalar }
    return "\u{FFFD}"
  }
}
