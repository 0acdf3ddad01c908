import GuestLib
import Testing

/// `harness.mutate=`: the listed tests compare every measurement with a
/// wrong expectation, so a check that can fail does.
extension ConsoleTests {
  static var mutationTests: [GuestLib.Test] {
    [
    GuestLib.Test("kept", { expectEqual(UInt64(7), 7, "untouched") }),
    GuestLib.Test(
      "mutated",
      {
        expectEqual(UInt64(7), 7, "equal")
        expectNotEqual(UInt64(7), 8, "not equal")
        expectBits(UInt8(0b0101), set: 0b0001, "bits set")
        expectBits(UInt8(0b0101), clear: 0b0010, "bits clear")
        expectBits(UInt8(0b0101), masked: 0b0110, equal: 0b0100, "masked")
        expect(UInt64(3), .lessOrEqual, 5, "ordering")
        expect(UInt64(3), in: 1...5, "range")
        expect(true, "boolean")
        // 7 == 6 ^ 1: a check that was wrong all along passes under mutation.
        expectEqual(UInt64(7), 6, "already wrong")
      }),
    GuestLib.Test(
      "known failure", { expectEqual(UInt64(1), 2, "wrong twice") },
      .xfail("a known failure is not one under mutation", when: .always)),
    ]
  }

  @Test func mutatedTestsCompareWithWrongExpectations() {
    let plain = capture { HostPlatform.run("mutation", Self.mutationTests) }
    #expect(!plain.contains("# mutated"))
    #expect(plain.contains("not ok 9 already wrong"))
    #expect(plain.contains("# XFAIL a known failure"))

    let text = capture {
      HostPlatform.run("mutation", Self.mutationTests, arguments: "harness.mutate=1,2")
    }
    let lines = text.split(separator: "\n").map { $0.trimmingPrefix(while: { $0 == " " }) }
    func result(_ name: String) -> Substring? {
      lines.first { $0.hasSuffix(" " + name) || $0.contains(" " + name + " #") }
    }
    #expect(result("untouched")?.hasPrefix("ok 1") == true, "test 0 is not mutated")
    for name in [
      "equal", "not equal", "bits set", "bits clear", "masked", "ordering", "range", "boolean",
    ] {
      #expect(result(name)?.hasPrefix("not ok") == true, "\(name) fails under mutation")
    }
    #expect(result("already wrong")?.hasPrefix("ok") == true)
    #expect(result("wrong twice")?.hasPrefix("not ok") == true)
    #expect(!text.contains("XFAIL"), "mutated failures are never known failures")
    #expect(text.contains("# mutated: expected 6, got 7"), "\(text)")
    #expect(text.contains("# mutated (expectation inverted): not "))
    #expect(text.contains("not ok 2 mutated"))
    #expect(text.contains("not ok 3 known failure"))
  }
}
