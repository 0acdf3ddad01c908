import ArgumentParser
import Foundation
import Harness

extension Runner {
  struct BaselineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "baseline",
      abstract: "Classify a finished run against the known failures, or write them (--update).",
      discussion: """
        Reads RUN's results.json (default runs/latest) and prints its new, known and \
        fixed failures against the baseline (default configs/baseline.cfg). --update \
        appends an entry for every failure no entry covers, with the reason \
        'TODO: why this fails (fill in)' for a person to replace; --prune also removes \
        the entries that no longer fail. Exit status: 0, or 1 when RUN has new failures \
        and --update was not given; 2 usage or baseline syntax error.
        """)

    @Option(help: "The run directory (or its results.json).")
    var from: String = "runs/latest"

    @Option(help: "The baseline file.")
    var baseline: String = "configs/baseline.cfg"

    @Flag(help: "Append the run's uncovered failures to the baseline.")
    var update = false

    @Flag(help: "With --update: remove entries that no longer fail.")
    var prune = false

    func run() async throws {
      let document: ResultsDocument
      do {
        document = try RunComparison.load(from)
      } catch let error as ComparisonError {
        throw ValidationError(error.message)
      }
      let exists = FileManager.default.fileExists(atPath: baseline)
      let current = exists ? try Baseline.load(path: baseline) : nil
      if !update {
        let report = (current ?? Harness.Baseline(path: baseline, entries: [])).classify(document)
        Output.write(TerminalText.sanitized(report.text, keepingNewlines: true))
        if !report.new.isEmpty { throw ExitCode(1) }
        return
      }
      let text = exists ? (try String(contentsOfFile: baseline, encoding: .utf8)) : ""
      let (updated, added, removed) = Harness.Baseline.updated(
        current, existingText: text, with: document, pruning: prune)
      do {
        try Data(updated.utf8).write(to: URL(fileURLWithPath: baseline), options: .atomic)
      } catch {
        throw ValidationError("--baseline: cannot write \(baseline): \(FileErrorText.reason(error))")
      }
      // The file written must read back.
      _ = try Harness.Baseline.load(path: baseline)
      Output.write(
        "baseline \(baseline): \(added) entr\(added == 1 ? "y" : "ies") added"
          + (prune ? ", \(removed) removed" : "") + "; fill in every 'TODO' reason")
    }
  }
}
