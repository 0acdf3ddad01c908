import Foundation
import Testing

@testable import Harness

@Suite("Matrix config fuzz")
struct MatrixConfigFuzzTests {
  static func fuzzer(seed: UInt64) throws -> ConfigFuzzer {
    let corpus = try [UInt8](Data(contentsOf: URL(fileURLWithPath: guestsConfigPath)))
    return ConfigFuzzer(seed: seed, corpus: [corpus, Array(ConfigFuzzer.sample.utf8)])
  }

  /// A seeded sample small enough for every `swift test`: no trap, every
  /// error names the file and a line, every accepted cell within bounds.
  /// (It yields its thread every 50 inputs: the suites run in parallel on
  /// one cooperative thread per CPU, and the run engine's tests measure
  /// time.)
  @Test func seededSampleHoldsUp() async throws {
    let fuzzer = try Self.fuzzer(seed: 20_261_201)
    var accepted = 0
    var refused = 0
    var failures: [String] = []
    for index in 0..<3000 {
      if index % 50 == 49 { await Task.yield() }
      switch ConfigFuzzer.evaluate(fuzzer.input(at: index)) {
      case .accepted: accepted += 1
      case .refused: refused += 1
      case .failed(let failure): failures.append("input \(index): \(failure)")
      }
    }
    #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "\n"))")
    // The mix shows the mutations reach both sides of the parser.
    #expect(accepted > 100 && refused > 1000, "accepted \(accepted), refused \(refused)")
  }

  /// The inputs are fixed by the seed, so a failure is reproduced by index.
  @Test func inputsAreDeterministic() throws {
    let a = try Self.fuzzer(seed: 7)
    let b = try Self.fuzzer(seed: 7)
    #expect((0..<50).allSatisfy { a.input(at: $0) == b.input(at: $0) })
    #expect((0..<50).contains { a.input(at: $0) != (try? Self.fuzzer(seed: 8))?.input(at: $0) })
  }

  /// The judge itself: a good config is accepted, a bad one refused, and an
  /// error without a line of the input would count as a failure.
  @Test func judgeSeparatesTheOutcomes() {
    guard case .accepted(let cells) = ConfigFuzzer.evaluate(Array("[a]\naccel = tcg kvm\n".utf8)) else {
      Issue.record("a good config was not accepted")
      return
    }
    #expect(cells == 2)
    guard case .refused(let error) = ConfigFuzzer.evaluate(Array("[a]\nsmp@s390x = 100000\n".utf8)) else {
      Issue.record("a bad config was not refused")
      return
    }
    #expect(error.line == 2)
  }

  /// The large run, outside the default test budget:
  /// `FUZZ_CONFIG_COUNT=100000 swift test --filter MatrixConfigFuzz`
  /// (or `swift run runner fuzz-config --count 100000`).
  @Test(.enabled(if: ProcessInfo.processInfo.environment["FUZZ_CONFIG_COUNT"] != nil))
  func largeRun() throws {
    let environment = ProcessInfo.processInfo.environment
    let count = Int(environment["FUZZ_CONFIG_COUNT"] ?? "") ?? 100_000
    let seed = UInt64(environment["FUZZ_CONFIG_SEED"] ?? "") ?? 1
    let fuzzer = try Self.fuzzer(seed: seed)
    var failures: [String] = []
    for index in 0..<count {
      if let failure = ConfigFuzzer.check(fuzzer.input(at: index)) { failures.append("input \(index): \(failure)") }
    }
    #expect(failures.isEmpty, "\(failures.count) failures; first: \(failures.prefix(5).joined(separator: "\n"))")
  }
}
