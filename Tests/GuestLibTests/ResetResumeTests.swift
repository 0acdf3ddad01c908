import GuestLib
import Testing

@testable import Harness

extension ConsoleTests {
  /// The guest writer across a reset, on the host: the first boot's text
  /// up to its request line, the reset record page as it was then (RAM
  /// survives a reset), and a second boot that takes the record and
  /// continues the run. The harness parses both boots as one run and,
  /// given the reset it made, passes it.
  @Test func theWriterContinuesTheRunInTheTestThatAskedAfterAReset() {
    let page = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
    defer { page.deallocate() }
    page.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
    HostPlatform.resetPage = page
    defer {
      HostPlatform.resetPage = nil
      HostPlatform.onClock = nil
    }
    var kept: [UInt8]? = nil
    // The reset: the page as it was once the record was written; the
    // guest's wait then ends at once (its clock jumps past the bound).
    HostPlatform.onClock = {
      if kept == nil, page.load(as: UInt64.self) != 0 {
        kept = Array(UnsafeRawBufferPointer(start: page, count: 4096))
        HostPlatform.clock += 60_000_000_000
      }
    }
    var boots = 0
    let tests = [
      GuestLib.Test("one") { expect(true, "first") },
      GuestLib.Test("asks") {
        if !GuestReset.resumed {
          expectEqual(GuestReset.count, 0, "before the reset")
          _ = requestReset()
          return
        }
        expectEqual(GuestReset.count, 1, "after the reset")
      },
      GuestLib.Test("three") { expect(!GuestReset.resumed, "not resumed") },
    ]
    let first = capture {
      boots += 1
      HostPlatform.run("resets", tests, arguments: "harness.reset=yes")
    }
    // The machine resets at the request line: nothing after it is written.
    let before = cut(first, after: "# harness: reset")
    #expect(kept != nil, "the first boot wrote its record before its request line")
    kept?.withUnsafeBytes { page.copyMemory(from: $0.baseAddress!, byteCount: 4096) }
    HostPlatform.onClock = nil
    let second = capture {
      boots += 1
      HostPlatform.run("resets", tests, arguments: "harness.reset=yes")
    }
    #expect(boots == 2)
    #expect(page.load(as: UInt64.self) == 0, "the second boot took the record")
    #expect(
      second.hasPrefix(
        "KTAP version 1\n# guest: resets\n1..3\n    KTAP version 1\n    # Subtest: asks\n"),
      "\(second)")
    var parser = KTAPParser()
    parser.consume(bytes: Array((before + second).utf8))
    let stream = parser.finish()
    #expect(stream.protocolErrors.isEmpty, "\(stream.protocolErrors)\n\(before + second)")
    #expect(stream.resumes == 1)
    #expect(stream.sections.map(\.name) == ["one", "asks", "three"])
    #expect(
      stream.sections.map { $0.checks.map(\.name) } == [
        ["first"], ["before the reset", "after the reset"], ["not resumed"],
      ])
    #expect(second.contains("# Totals: pass:4 fail:0"), "\(second)")
    var run = RunRecord(
      stream: stream, serialLog: before + second, stderr: "", exitCode: 0, signal: nil,
      timeout: nil, duration: .seconds(1), command: [], processID: 1)
    run.machineEnd = .exited(0)
    run.resets = [MachineReset(number: 1, atMilliseconds: 1, milliseconds: 1)]
    #expect(VerdictJudge.judge(run, architecture: .s390x) == (.passed, ""))
    run.resets = []
    #expect(VerdictJudge.judge(run, architecture: .s390x).0 == .protocolError)
  }

  @Test func aResetIsNotAskedForInACellThatDoesNotReset() {
    let page = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
    defer { page.deallocate() }
    page.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
    HostPlatform.resetPage = page
    defer { HostPlatform.resetPage = nil }
    var refusal: ResetRefusal?
    let text = capture {
      HostPlatform.run(
        "no-reset",
        [
          GuestLib.Test("asks") {
            refusal = requestReset()
            expect(true, "went on")
          }
        ])
    }
    #expect(refusal == .notAllowed)
    #expect(!text.contains("harness: reset"))
    #expect(page.load(as: UInt64.self) == 0, "no record written")
  }
}
