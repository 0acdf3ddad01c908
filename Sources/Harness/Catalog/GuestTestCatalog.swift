import Foundation

/// One registered test of a guest program, as its sources declare it.
public struct GuestTestDeclaration: Sendable, Hashable {
  /// The test's name (the string literal, unescaped).
  public var name: String
  /// The function it runs.
  public var function: String
  /// Its traits as written (`.requires(cpus: 2)`), in order.
  public var traits: [String]
  /// The file of the `guestTests` list (package-relative path).
  public var registrationFile: String
  /// The line of its `Test(…)` entry.
  public var registrationLine: Int
  /// Where its function is declared (package-relative path and line), when
  /// found in the program's files.
  public var functionFile: String?
  public var functionLine: Int?

  /// Whether one of its traits is a known failure (`.xfail(…)`).
  public var declaresXFail: Bool { traits.contains { $0.hasPrefix(".xfail(") } }

  /// `file:line` of the function, else of the registration.
  public var location: String {
    if let functionFile, let functionLine { return "\(functionFile):\(functionLine)" }
    return "\(registrationFile):\(registrationLine)"
  }
}

/// The registered tests of guest programs, read from their sources without
/// building or booting anything. A program lists its tests, in run order,
/// in one top-level constant (guests/lib/Testing/Test.swift):
///
/// ```swift
/// let guestTests = [
///   Test("arithmetic", arithmetic),
///   Test("x2apic", x2apic, .requires(cpus: 2), .xfail("…", when: .tcg)),
/// ]
/// ```
///
/// The same literal is what the guest runs (the builder's generated entry
/// passes `guestTests` to `runGuest`), so the host knows the plan (the
/// names, in order) before boot, and the judge catches a guest that stops
/// early or announces a different plan. The reader is strict: anything in
/// the list that is not `Test("literal", function, traits…)` is an error
/// naming its file and line, never a silently dropped test.
public enum GuestTestCatalog {
  /// The registered tests of `program`.
  public static func tests(of program: GuestProgram, in workspace: GuestWorkspace) throws
    -> [GuestTestDeclaration]
  {
    let files = workspace.swiftFiles(in: program.directory, recursive: true)
    var found: [(path: String, tests: [GuestTestDeclaration])] = []
    var sources: [(path: String, text: String)] = []
    for path in files {
      guard let data = FileManager.default.contents(atPath: path) else {
        throw HarnessError.layout("cannot read \(path)")
      }
      let text = String(decoding: data, as: UTF8.self)
      let relative = workspace.relativePath(path)
      sources.append((relative, text))
      if let tests = try parse(text, file: relative) { found.append((relative, tests)) }
    }
    guard let registry = found.first else {
      throw HarnessError.layout(
        "guest '\(program.name)' declares no tests: one file of \(workspace.relativePath(program.directory)) must have a top-level `let guestTests = [ Test(\"name\", function), … ]`"
      )
    }
    if found.count > 1 {
      throw HarnessError.layout(
        "guest '\(program.name)' declares `guestTests` twice: \(found.map(\.path).joined(separator: " and "))"
      )
    }
    var tests = registry.tests
    var seen: [String: Int] = [:]
    for test in tests {
      if let first = seen[test.name] {
        throw HarnessError.layout(
          "\(test.registrationFile):\(test.registrationLine): test name '\(test.name)' is already used at line \(first)"
        )
      }
      seen[test.name] = test.registrationLine
    }
    let declarations = functionDeclarations(in: sources)
    for index in tests.indices {
      if let (file, line) = declarations[tests[index].function] {
        tests[index].functionFile = file
        tests[index].functionLine = line
      }
    }
    return tests
  }

  /// Where each `func name(` is first declared at the start of a line
  /// (after modifiers) in `sources`: one pass over the lines (a catalog
  /// program has thousands of lines and dozens of tests; looking each test
  /// up in every line made listing the matrix take seconds).
  static func functionDeclarations(in sources: [(path: String, text: String)])
    -> [String: (String, Int)]
  {
    let modifiers = ["private ", "fileprivate ", "internal ", "public ", "@inline(never) "]
    var found: [String: (String, Int)] = [:]
    for (path, text) in sources {
      var number = 0
      for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        number += 1
        var rest = line.drop(while: { $0 == " " })
        if let modifier = modifiers.first(where: { rest.hasPrefix($0) }) {
          rest = rest.dropFirst(modifier.count)
        }
        guard rest.hasPrefix("func "), let open = rest.firstIndex(of: "(") else { continue }
        let name = String(rest[rest.index(rest.startIndex, offsetBy: 5)..<open])
        if found[name] == nil { found[name] = (path, number) }
      }
    }
    return found
  }

  /// The tests listed by `let guestTests = [ … ]` in `text`, or nil when
  /// the file has no such list. `file` names the file in errors.
  public static func parse(_ text: String, file: String) throws -> [GuestTestDeclaration]? {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard
      let start = lines.firstIndex(where: {
        $0.hasPrefix("let guestTests = [") || $0.hasPrefix("let guestTests: [Test] = [")
      })
    else {
      if let stray = lines.firstIndex(where: { $0.contains("guestTests") && $0.contains("let ") }) {
        throw HarnessError.layout(
          "\(file):\(stray + 1): write the test list as a top-level `let guestTests = [` (first column, the `[` on that line)"
        )
      }
      return nil
    }
    guard let end = lines[(start + 1)...].firstIndex(where: { $0.hasPrefix("]") }) else {
      throw HarnessError.layout(
        "\(file):\(start + 1): the `guestTests` list has no closing `]` in the first column")
    }
    let opening = lines[start]
    let afterBracket = String(opening[opening.index(after: opening.firstIndex(of: "[")!)...])
    var body: [(line: Int, text: String)] = [(start + 1, afterBracket)]
    for index in (start + 1)..<end { body.append((index + 1, lines[index])) }
    var reader = EntryReader(file: file, lines: body)
    return try reader.entries()
  }
}

/// Reads `Test("name", function, traits…),` entries character by character:
/// string literals (with Swift's escapes, no interpolation), parentheses,
/// comments.
private struct EntryReader {
  let file: String
  /// Characters with their 1-based line numbers.
  var characters: [(Character, Int)] = []
  var position = 0

  init(file: String, lines: [(line: Int, text: String)]) {
    self.file = file
    for (line, text) in lines {
      for character in text { characters.append((character, line)) }
      characters.append(("\n", line))
    }
  }

  var line: Int { position < characters.count ? characters[position].1 : (characters.last?.1 ?? 0) }

  func fail(_ message: String, at line: Int? = nil) -> HarnessError {
    HarnessError.layout("\(file):\(line ?? self.line): \(message)")
  }

  func peek(_ offset: Int = 0) -> Character? {
    position + offset < characters.count ? characters[position + offset].0 : nil
  }

  /// Skips spaces, newlines and comments.
  mutating func skipBlank() throws {
    while let character = peek() {
      if character == " " || character == "\n" || character == "\t" {
        position += 1
      } else if character == "/" && peek(1) == "/" {
        while let next = peek(), next != "\n" { position += 1 }
      } else if character == "/" && peek(1) == "*" {
        let opened = line
        position += 2
        while peek() != nil && !(peek() == "*" && peek(1) == "/") { position += 1 }
        guard peek() != nil else { throw fail("unterminated comment", at: opened) }
        position += 2
      } else {
        return
      }
    }
  }

  mutating func expect(_ text: String) throws {
    for character in text {
      guard peek() == character else {
        throw fail(
          "expected `\(text)` in the guestTests list (each entry is `Test(\"name\", function, traits…),`)"
        )
      }
      position += 1
    }
  }

  mutating func entries() throws -> [GuestTestDeclaration] {
    var result: [GuestTestDeclaration] = []
    while true {
      try skipBlank()
      guard peek() != nil else { return result }
      let entryLine = line
      try expect("Test(")
      try skipBlank()
      let name = try stringLiteral()
      guard !name.isEmpty else { throw fail("a test name must not be empty", at: entryLine) }
      guard !name.contains("\n"), !name.contains("/") else {
        throw fail("test name '\(name)' must not contain '/' or a newline", at: entryLine)
      }
      try skipBlank()
      try expect(",")
      try skipBlank()
      let function = identifier()
      guard !function.isEmpty else {
        throw fail("after the name, give the test's function (`Test(\"\(name)\", function)`)")
      }
      var traits: [String] = []
      try skipBlank()
      while peek() == "," {
        position += 1
        try skipBlank()
        if peek() == ")" { break }
        traits.append(try traitExpression())
        try skipBlank()
      }
      try expect(")")
      try skipBlank()
      if peek() == "," { position += 1 }
      result.append(
        GuestTestDeclaration(
          name: name, function: function, traits: traits, registrationFile: file,
          registrationLine: entryLine))
    }
  }

  mutating func identifier() -> String {
    var text = ""
    while let character = peek(), character.isLetter || character.isNumber || character == "_"
      || character == "."
    {
      text.append(character)
      position += 1
    }
    return text
  }

  /// One trait: text up to the next top-level `,` or `)`.
  mutating func traitExpression() throws -> String {
    var depth = 0
    var text = ""
    let started = line
    while let character = peek() {
      if character == "\"" {
        let literal = try stringLiteral()
        text += "\"" + literal.replacingOccurrences(of: "\"", with: "\\\"") + "\""
        continue
      }
      if depth == 0 && (character == "," || character == ")") { break }
      if character == "(" { depth += 1 }
      if character == ")" { depth -= 1 }
      if character == "\n" {
        text.append(" ")
      } else {
        text.append(character)
      }
      position += 1
    }
    guard peek() != nil else { throw fail("unterminated trait", at: started) }
    return text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
  }

  /// A `"…"` literal with Swift's escapes; interpolation is refused.
  mutating func stringLiteral() throws -> String {
    let started = line
    guard peek() == "\"" else { throw fail("a test name must be a string literal") }
    position += 1
    var text = ""
    while let character = peek() {
      position += 1
      switch character {
      case "\"":
        return text
      case "\n":
        throw fail("unterminated string literal", at: started)
      case "\\":
        guard let escaped = peek() else { throw fail("unterminated string literal", at: started) }
        position += 1
        switch escaped {
        case "n": text.append("\n")
        case "t": text.append("\t")
        case "r": text.append("\r")
        case "0": text.append("\0")
        case "\\", "\"", "'": text.append(escaped)
        case "u":
          try expect("{")
          var digits = ""
          while let digit = peek(), digit != "}" {
            digits.append(digit)
            position += 1
          }
          try expect("}")
          guard let value = UInt32(digits, radix: 16), let scalar = Unicode.Scalar(value) else {
            throw fail("bad \\u{\(digits)} escape")
          }
          text.unicodeScalars.append(scalar)
        case "(":
          throw fail("a test name must be a plain literal, without interpolation", at: started)
        default:
          throw fail("unknown escape \\\(escaped) in a string literal", at: started)
        }
      default:
        text.append(character)
      }
    }
    throw fail("unterminated string literal", at: started)
  }
}

extension GuestWorkspace {
  /// `path` relative to the package root.
  func relativePath(_ path: String) -> String { Self.relativePath(path, root: root) }

  /// `path` relative to `root` when it lies below it, else unchanged.
  public static func relativePath(_ path: String, root: String) -> String {
    path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
  }
}
