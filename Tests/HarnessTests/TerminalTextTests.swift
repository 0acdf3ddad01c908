import Foundation
import Testing

@testable import Harness

/// `TerminalText`: guest text made safe for a terminal.
@Suite("Terminal text")
struct TerminalTextTests {
  @Test func controlCharactersAreShownEscaped() {
    #expect(
      TerminalText.sanitized("a\u{1B}[31mb\r\u{07}\u{08}\t\n\u{7F}\u{9B}c\u{00}")
        == #"a\x1b[31mb\r\x07\x08\t\n\x7f\u{9b}c\x00"#)
    #expect(TerminalText.sanitized("\u{85}\u{80}\u{9F}") == #"\u{85}\u{80}\u{9f}"#)
    #expect(TerminalText.sanitized("left \u{202E}thgir\u{2066}") == #"left \u{202e}thgir\u{2066}"#)
  }

  @Test func ordinaryTextIsUnchanged() {
    for text in ["", "plain ASCII ~!@#$%^&*()", #"back\slash and "quotes""#, "héllo — ✓ 日本語 🙂 \u{A0}", "\u{FFFD}"] {
      #expect(TerminalText.sanitized(text) == text)
      #expect(TerminalText.sanitized(text, keepingNewlines: true) == text)
    }
  }

  @Test func blocksKeepTheirLineBreaks() {
    #expect(
      TerminalText.sanitized("one\r\ntwo\nthree\rfour\r", keepingNewlines: true)
        == "one\ntwo\nthree\\rfour\\r")
    #expect(TerminalText.sanitized("one\ntwo") == #"one\ntwo"#)
  }

  @Test func sanitizingTwiceChangesNothing() {
    for text in ["\u{1B}[2J\u{07}", "a\r\nb", "\u{9B}x\u{7F}", "ok"] {
      let once = TerminalText.sanitized(text)
      #expect(TerminalText.sanitized(once) == once)
      let block = TerminalText.sanitized(text, keepingNewlines: true)
      #expect(TerminalText.sanitized(block, keepingNewlines: true) == block)
    }
  }

  @Test func bytesThatAreNotUTF8AreShownAsHex() {
    #expect(TerminalText.sanitized(bytes: [0x61, 0xFF, 0xC3, 0x62, 0xE2, 0x82]) == #"a\xff\xc3b\xe2\x82"#)
    // Overlong form, surrogate, above U+10FFFF: not UTF-8.
    #expect(TerminalText.sanitized(bytes: [0xC0, 0x80]) == #"\xc0\x80"#)
    #expect(TerminalText.sanitized(bytes: [0xED, 0xA0, 0x80]) == #"\xed\xa0\x80"#)
    #expect(TerminalText.sanitized(bytes: [0xF4, 0x90, 0x80, 0x80]) == #"\xf4\x90\x80\x80"#)
    // Valid multi-byte text and C1 controls encoded in UTF-8.
    #expect(TerminalText.sanitized(bytes: Array("é✓🙂".utf8)) == "é✓🙂")
    #expect(TerminalText.sanitized(bytes: [0xC2, 0x9B, 0x1B]) == #"\u{9b}\x1b"#)
    #expect(TerminalText.sanitized(bytes: Array("a\r\nb".utf8), keepingNewlines: true) == "a\nb")
  }

  @Test func aStreamHoldsBackASequenceSplitBetweenChunks() {
    var stream = TerminalText.Stream(keepingNewlines: true)
    #expect(stream.feed([0x61, 0xC3]) == "a")
    #expect(stream.feed([0xA9, 0x0D]) == "é")
    #expect(stream.feed([0x0A, 0x1B]) == "\n\\x1b")
    #expect(stream.feed([0xE2, 0x9C]) == "")
    #expect(stream.finish() == #"\xe2\x9c"#)
    var carriage = TerminalText.Stream(keepingNewlines: true)
    #expect(carriage.feed([0x0D]) == "")
    #expect(carriage.feed([0x41]) == #"\rA"#)
  }

  @Test func noUnsafeScalarSurvivesRandomBytes() {
    var generator = SeededGenerator(seed: 0x5EED)
    for _ in 0..<2000 {
      let count = Int.random(in: 0...24, using: &generator)
      let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
      for keep in [false, true] {
        let text = TerminalText.sanitized(bytes: bytes, keepingNewlines: keep)
        let unsafe = text.unicodeScalars.filter { TerminalText.isUnsafe($0) && !(keep && $0 == "\n") }
        #expect(unsafe.isEmpty, "\(bytes) → \(text.debugDescription)")
        let decoded = TerminalText.sanitized(String(decoding: bytes, as: UTF8.self), keepingNewlines: keep)
        #expect(!decoded.unicodeScalars.contains { TerminalText.isUnsafe($0) && !(keep && $0 == "\n") })
      }
    }
  }

  /// xorshift64*: the same sequence on every run.
  struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
      state ^= state >> 12
      state ^= state << 25
      state ^= state >> 27
      return state &* 2_685_821_657_736_338_717
    }
  }
}

/// File-system errors in words.
@Suite("File error text")
struct FileErrorTextTests {
  @Test func errnoInWords() {
    #expect(FileErrorText.reason(errno: EROFS) == "read-only file system")
    #expect(FileErrorText.reason(errno: ENOSPC) == "no space left on device")
    #expect(FileErrorText.reason(errno: EACCES) == "permission denied")
    #expect(FileErrorText.reason(errno: ENOTDIR) == "not a directory")
    #expect(FileErrorText.reason(errno: EISDIR) == "is a directory")
  }

  @Test func foundationErrorsInWordsWithoutNumbers() throws {
    let underlying = NSError(domain: NSPOSIXErrorDomain, code: Int(EROFS))
    let wrapped = CocoaError(.fileWriteVolumeReadOnly, userInfo: [NSUnderlyingErrorKey: underlying])
    #expect(FileErrorText.reason(wrapped) == "read-only file system")
    #expect(FileErrorText.reason(CocoaError(.fileWriteOutOfSpace)) == "no space left on device")
    #expect(FileErrorText.reason(CocoaError(.fileWriteNoPermission)) == "permission denied")
    #expect(FileErrorText.reason(POSIXError(.ENOSPC)) == "no space left on device")
    #expect(FileErrorText.reason(CocoaError(.featureUnsupported)) == "file system error")
    // A real failure: a file where a directory should be.
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fet-\(UUID().uuidString)").path
    try Data("x".utf8).write(to: URL(fileURLWithPath: scratch))
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    do {
      try FileManager.default.createDirectory(atPath: scratch + "/sub", withIntermediateDirectories: true)
      Issue.record("creating a directory under a file succeeded")
    } catch {
      let problem = FileProblem(path: scratch + "/sub", error: error)
      #expect(problem.description == scratch + "/sub: not a directory")
    }
  }

  @Test func aReportFileThatCannotBeWrittenDoesNotStopTheOthers() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fet-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // A directory where junit.xml would go: that file cannot be written.
    try FileManager.default.createDirectory(atPath: directory + "/junit.xml/x", withIntermediateDirectories: true)
    let result = GuestResult(
      guest: "g", architecture: .x86_64, accelerator: .tcg, verdict: .passed, reason: "", sections: [],
      crash: nil, protocolErrors: [], serialLog: "log\n", qemuStderr: "", command: [],
      qemuExitCode: 1, duration: .seconds(1), processID: nil)
    let cells = [ReportCell(id: "g.x86_64", result: result, cpus: 1, memoryMiB: 256)]
    do {
      try ReportSet.write(cells: cells, to: directory)
      Issue.record("writing over a directory succeeded")
    } catch let error as ReportError {
      guard case .writeFailed(let problems) = error else {
        Issue.record("unexpected \(error)")
        return
      }
      #expect(problems.map(\.path) == [directory + "/junit.xml"])
      #expect(problems.first?.reason == "is a directory" || problems.first?.reason == "directory not empty", "\(problems)")
      #expect(!"\(error)".contains("Cocoa") && !"\(error)".contains("Code="), "\(error)")
    }
    for name in ["results.json", "index.html", "junit-x86_64.xml", "logs/g.x86_64.log"] {
      #expect(FileManager.default.fileExists(atPath: directory + "/" + name), "\(name) was written")
    }
  }
}
