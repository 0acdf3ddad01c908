/// The lines of a config file's bytes: UTF-8 text whose lines end in LF or
/// CRLF (a `\r` before the `\n` is dropped), an optional UTF-8 byte order
/// mark at the start skipped, and no control characters but tab.
enum ConfigText {
  /// The decoded lines, numbered from 1; errors name the file and the
  /// line (the whole file when it is too large).
  static func lines(_ input: [UInt8], file: String) throws -> [String] {
    guard input.count <= ConfigLimits.maxFileBytes else {
      throw ConfigError(
        file: file, line: 0,
        message: "the file is \(input.count) bytes; a config is at most \(ConfigLimits.maxFileBytes) bytes")
    }
    let start = input.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    var lines: [String] = []
    var number = 0
    var lineStart = start
    while lineStart <= input.count {
      number += 1
      var lineEnd = lineStart
      while lineEnd < input.count && input[lineEnd] != 0x0A { lineEnd += 1 }
      let next = lineEnd + 1
      if lineEnd > lineStart && input[lineEnd - 1] == 0x0D { lineEnd -= 1 }
      let line = input[lineStart..<lineEnd]
      if let offset = firstInvalidUTF8(line) {
        throw ConfigError(
          file: file, line: number,
          message: "invalid UTF-8 (byte 0x\(hex(line[line.startIndex + offset])) at byte \(offset + 1) of the line); a config is UTF-8 text")
      }
      let text = String(decoding: line, as: UTF8.self)
      var suspect = false
      for index in lineStart..<lineEnd {
        let byte = input[index]
        if byte < 0x20 || byte == 0x7F || byte == 0xC2 || byte == 0xEF {
          suspect = true
          break
        }
      }
      if suspect {
        var column = 0
        for scalar in text.unicodeScalars {
          column += 1
          if isControl(scalar) {
            let hint =
              scalar == "\r" ? "; lines end in LF or CRLF" : scalar == "\u{FEFF}" ? " (a byte order mark)" : ""
            throw ConfigError(
              file: file, line: number,
              message: "control character U+\(hex(scalar.value, digits: 4)) at column \(column)\(hint)")
          }
        }
      }
      lines.append(text)
      lineStart = next
    }
    return lines
  }

  /// `text` without leading and trailing whitespace.
  static func trimmed(_ text: Substring) -> String {
    var start = text.startIndex
    var end = text.endIndex
    while start < end, text[start].isWhitespace { start = text.index(after: start) }
    while end > start, text[text.index(before: end)].isWhitespace { end = text.index(before: end) }
    return String(text[start..<end])
  }

  /// C0 controls but tab, DEL, C1 controls, and a byte order mark past the
  /// start of the file.
  static func isControl(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x09: false
    case 0x00...0x1F, 0x7F...0x9F, 0xFEFF: true
    default: false
    }
  }

  /// The offset of the first byte of `bytes` that does not belong to a
  /// well-formed UTF-8 sequence (no overlong forms, no surrogates, nothing
  /// past U+10FFFF), or nil.
  static func firstInvalidUTF8(_ line: ArraySlice<UInt8>) -> Int? {
    let base = line.startIndex
    let count = line.count
    var index = 0
    while index < count {
      let lead = line[base + index]
      let length: Int
      var low: UInt8 = 0x80
      var high: UInt8 = 0xBF
      switch lead {
      case 0x00...0x7F:
        index += 1
        continue
      case 0xC2...0xDF: length = 2
      case 0xE0: length = 3; low = 0xA0
      case 0xE1...0xEC, 0xEE...0xEF: length = 3
      case 0xED: length = 3; high = 0x9F
      case 0xF0: length = 4; low = 0x90
      case 0xF1...0xF3: length = 4
      case 0xF4: length = 4; high = 0x8F
      default: return index
      }
      for position in 1..<length {
        guard index + position < count else { return index }
        let byte = line[base + index + position]
        let range = position == 1 ? low...high : 0x80...0xBF
        guard range.contains(byte) else { return index }
      }
      index += length
    }
    return nil
  }

  static func hex(_ value: some BinaryInteger, digits: Int = 2) -> String {
    let text = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, digits - text.count)) + text
  }
}
