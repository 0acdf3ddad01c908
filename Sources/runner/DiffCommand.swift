import ArgumentParser
import Foundation
import Harness

extension Runner {
  struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Compare two runs: new failures, fixed checks, verdict, cell, flaky and time changes.",
      discussion: """
        RUN_A and RUN_B are run directories (or their results.json). Cells are matched \
        by id; --ignore-axis accel compares runs made under different accelerators \
        (cell keys then show the axis as *). Exit status: 0 no regression; 1 a new \
        failure, a cell that passed and now does not, or a cell that is gone; 2 usage \
        error (e.g. no results.json).
        """)

    @Argument(help: "The earlier run (a run directory or its results.json).")
    var runA: String

    @Argument(help: "The later run.")
    var runB: String

    @Option(help: "Leave this axis out of the cell key (repeatable): accel, cpu, qemu.")
    var ignoreAxis: [String] = []

    @Option(help: "Report a cell as slower/faster when its time changes by this factor.")
    var timeRatio: Double = 1.5

    @Option(help: "... and by at least this many seconds.")
    var minimumSeconds: Double = 0.5

    @Option(help: "Also write the comparison as JSON to this file.")
    var json: String?

    @Option(help: "Also write the comparison as an HTML page to this file.")
    var html: String?

    func validate() throws {
      for axis in ignoreAxis where CellAxis(rawValue: axis) == nil {
        throw ValidationError("--ignore-axis: unknown axis '\(axis)'; use accel, cpu or qemu")
      }
      if !(timeRatio > 1) { throw ValidationError("--time-ratio must be greater than 1") }
      if !(minimumSeconds >= 0) { throw ValidationError("--minimum-seconds must be 0 or more") }
    }

    func run() async throws {
      let a: ResultsDocument
      let b: ResultsDocument
      do {
        a = try RunComparison.load(runA)
        b = try RunComparison.load(runB)
      } catch let error as ComparisonError {
        throw ValidationError(error.message)
      }
      let comparison = RunComparison(
        a, b, ignoring: Set(ignoreAxis.compactMap(CellAxis.init)), timeRatio: timeRatio,
        minimumSeconds: minimumSeconds)
      Output.write(comparison.text(runA, runB))
      if let json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(comparison).write(to: URL(fileURLWithPath: json))
      }
      if let html {
        try Data(comparison.html(runA, runB).utf8).write(to: URL(fileURLWithPath: html))
      }
      if comparison.hasRegressions { throw ExitCode(1) }
    }
  }
}
