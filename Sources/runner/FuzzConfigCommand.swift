import ArgumentParser
import Foundation
import Harness

extension Runner {
  /// `runner fuzz-config`: feeds the matrix config parser random and
  /// mutated configs and reports inputs/s and failures.
  struct FuzzConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "fuzz-config",
      abstract: "Fuzz the matrix config parser with random and mutated configs.",
      discussion: """
        Mutates the corpus (default: configs/guests.cfg) with byte flips, line \
        duplication/deletion, huge numbers, unicode and invalid UTF-8, empty values, \
        key@arch variants, random keys and CRLF, and checks that every input either \
        parses into cells within QEMU's bounds or fails with a config error naming the \
        file and a line. A trap ends the process: rerun with --show N to see input N. \
        Exit status 1 when an input failed the check.
        """)

    @Option(help: "Number of inputs.")
    var count = 100_000

    @Option(help: "Seed (the same seed and corpus give the same inputs).")
    var seed: UInt64 = 1

    @Option(help: "Corpus file (repeatable; default: configs/guests.cfg of the checkout), besides the built-in sample.")
    var corpus: [String] = []

    @Option(help: "Print input number N (escaped) and its check, then stop.")
    var show: Int?

    @Option(help: "Most failures to print.")
    var maxFailures = 10

    @Flag(help: "Print how often each kind of refusal came up (quoted values and numbers elided).")
    var stats = false

    func validate() throws {
      if count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() throws {
      var files = corpus
      if files.isEmpty, let workspace = try? GuestWorkspace.locate() {
        files = [workspace.root + "/configs/guests.cfg"]
      }
      let inputs = try files.map { path in
        guard let data = FileManager.default.contents(atPath: path) else {
          throw ValidationError("--corpus: cannot read '\(path)'")
        }
        return [UInt8](data)
      }
      // The built-in sample adds keys guests.cfg does not use (factors, output_limit).
      let fuzzer = ConfigFuzzer(seed: seed, corpus: inputs + [Array(ConfigFuzzer.sample.utf8)])
      if let show {
        let input = fuzzer.input(at: show)
        print(String(decoding: input, as: UTF8.self).debugDescription)
        print(ConfigFuzzer.check(input) ?? "ok")
        return
      }
      print("fuzz-config: \(count) inputs, seed \(seed), corpus \((files + ["built-in sample"]).joined(separator: " + "))")
      let clock = ContinuousClock()
      let start = clock.now
      var failures = 0
      var accepted = 0
      var kinds: [String: Int] = [:]
      for index in 0..<count {
        let input = fuzzer.input(at: index)
        switch ConfigFuzzer.evaluate(input) {
        case .accepted: accepted += 1
        case .refused(let error):
          if stats { kinds[Self.kind(of: error.message), default: 0] += 1 }
        case .failed(let failure):
          failures += 1
          if failures <= maxFailures {
            print("FAIL input \(index): \(failure)")
            print("  input: \(String(decoding: input.prefix(400), as: UTF8.self).debugDescription)")
          }
        }
      }
      let elapsed = clock.now - start
      let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
      print(
        String(
          format: "fuzz-config: %d inputs in %.2f s (%.0f inputs/s), %d accepted, %d refused, %d failures",
          count, seconds, Double(count) / seconds, accepted, count - accepted - failures, failures))
      if stats {
        for (kind, number) in kinds.sorted(by: { $0.value > $1.value }).prefix(200) {
          print(String(format: "%7d  ", number) + kind)
        }
        print("\(kinds.count) kinds of refusal")
      }
      if failures > 0 { throw ExitCode(1) }
    }

    /// A refusal message with quoted values and numbers elided.
    static func kind(of message: String) -> String {
      var result = ""
      var quoted = false
      for character in message {
        if character == "'" {
          quoted.toggle()
          if quoted { result += "'…'" }
        } else if !quoted {
          if character.isNumber {
            if !result.hasSuffix("N") { result += "N" }
          } else {
            result.append(character)
          }
        }
      }
      return result
    }
  }
}
