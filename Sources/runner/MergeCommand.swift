import ArgumentParser
import Foundation
import Harness

extension Runner {
  struct Merge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Combine the run directories of shards (--shard i/n) into one report set.",
      discussion: """
        Reads each directory's results.json and logs, puts the cells in matrix order \
        (of the default config, or --config), and writes index.html, junit*.xml, \
        results*.json, results-<arch>.ktap and logs/ into --report-dir, in the same \
        form as a single run. A cell id found in two shards is an error. Exit status: \
        0 no new failure (against the baseline, as a run), 1 otherwise, 2 usage error.
        """)

    @Argument(help: "The shards' run directories.")
    var shards: [String]

    @Option(help: "Where to write the merged reports (a run directory of the runner's own).")
    var reportDir: String = "runs/merged"

    @Option(help: "Matrix config whose order the cells follow (default: configs/guests.cfg).")
    var config: String?

    @Option(help: "Known failures (default: configs/baseline.cfg when it exists).")
    var baseline: String?

    func validate() throws {
      if shards.isEmpty { throw ValidationError("name at least one shard's run directory") }
    }

    func run() async throws {
      var order: [String] = []
      var root: String?
      if let workspace = try? GuestWorkspace.locate() {
        root = workspace.root
        if let matrix = try? TestMatrix.load(
          workspace: workspace, configPath: config, includeNegative: true, requireEveryGuest: false)
        {
          order = matrix.cells.map(\.id)
        }
      }
      let cells: [ReportCell]
      do {
        cells = try Sharding.merge(shards, order: order)
      } catch let error as ComparisonError {
        throw ValidationError(error.message)
      }
      let baselinePath = baseline ?? root.map { $0 + "/configs/baseline.cfg" }
      let known =
        try baselinePath.flatMap { path in
          FileManager.default.fileExists(atPath: path) ? try Harness.Baseline.load(path: path) : nil
        }
      let report = known?.classify(ResultsDocument(cells))
      let directory = try await RunDirectory.open(reportDir, wait: true) { message in
        FileHandle.standardError.write(Data((TerminalText.sanitized(message) + "\n").utf8))
      }
      // Every log file of every shard (attempts, timed logs, command lines).
      for shard in shards {
        let logs = shard + "/logs"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? [] {
          let target = directory.path + "/logs/" + name
          try? FileManager.default.removeItem(atPath: target)
          try FileManager.default.copyItem(atPath: logs + "/" + name, toPath: target)
        }
      }
      try directory.writeReports(cells, baseline: report)
      let failing = cells.filter { $0.result.verdict.isFailure }
      Output.write(
        "merged \(shards.count) shard\(shards.count == 1 ? "" : "s"): \(cells.count) cells, "
          + "\(failing.count) failing; reports: \(directory.path)/index.html, junit.xml, results.json")
      if let report {
        if !report.new.isEmpty { throw ExitCode(1) }
      } else if !failing.isEmpty {
        throw ExitCode(1)
      }
    }
  }
}
