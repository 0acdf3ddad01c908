import Foundation
import Harness
import Subprocess

#if canImport(System)
  import System
#else
  import SystemPackage
#endif

/// `runner bench --flood`: the runner's memory and report sizes while a
/// guest floods its console. Runs this same runner binary as a child on the
/// `flood` negative guest (x86_64 and s390x, check lines and one endless
/// line), with `SWIFTGUEST_PRINT_PEAK_RSS` so the child prints its own peak
/// RSS at exit. Prints numbers; asserts nothing.
enum FloodBenchmark {
  static func run(outputLimit: String?) async throws {
    let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    let scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("flood-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    Output.write(
      "flood benchmark: output limit \(outputLimit ?? "default (\(LaunchSettings.defaultOutputLimitBytes >> 20)M)"), check limit \(KTAPParser.maxChecks)"
    )
    Output.write("variant        wall s  runner peak RSS  reports (largest file)   logs   verdicts")
    for (name, guestArguments) in [("check lines", ""), ("endless line", "flood.line=1")] {
      let config = """
        [defaults]
        accel = tcg
        arch = x86_64 s390x
        [flood]
        \(guestArguments.isEmpty ? "" : "guest_args = \(guestArguments)")
        """
      let directory = scratch + "/" + name.replacingOccurrences(of: " ", with: "-")
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      try config.write(toFile: directory + "/guests.cfg", atomically: true, encoding: .utf8)
      var arguments = [
        "run", "--config", directory + "/guests.cfg", "--include-negative",
        "--report-dir", directory + "/run",
      ]
      if let outputLimit { arguments += ["--output-limit", outputLimit] }
      var environment = ProcessInfo.processInfo.environment
      environment["SWIFTGUEST_PRINT_PEAK_RSS"] = "1"
      let start = ContinuousClock.now
      let result = try await Subprocess.run(
        .path(FilePath(runner)), arguments: Arguments(arguments),
        environment: .custom(
          Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(rawValue: $0.key)!, $0.value) })),
        output: .string(limit: 1 << 20), error: .string(limit: 1 << 20))
      let wall = (ContinuousClock.now - start).seconds
      let peak = result.standardError.split(separator: "\n")
        .first { $0.hasPrefix("peak RSS: ") }
        .flatMap { Int($0.dropFirst(10).split(separator: " ").first ?? "") } ?? 0
      let reports = sizes(in: directory + "/run")
      let logs = sizes(in: directory + "/run/logs")
      let largest = reports.max { $0.value < $1.value }
      // The verdicts of the summary block (between its two summary lines).
      let summary = result.standardOutput.split(separator: "\n")
        .drop { !$0.hasPrefix("summary (matrix order):") }.dropFirst()
        .prefix { !$0.hasPrefix("summary:") }
      let verdicts = summary.map { $0.split(separator: " ").first.map(String.init) ?? "?" }
      Output.write(
        String(
          format: "%-13@ %7.2f  %11.1f MiB  %6.2f MiB (%@ %.2f MiB)  %6.2f MiB  %@",
          name as NSString, wall, Double(peak) / 1024, mib(reports.values.reduce(0, +)),
          (largest?.key ?? "-") as NSString, mib(largest?.value ?? 0),
          mib(logs.values.reduce(0, +)), verdicts.joined(separator: ",") as NSString))
    }
  }

  static func mib(_ bytes: Int) -> Double { Double(bytes) / 1_048_576 }

  /// Sizes of the regular files directly in `directory`.
  static func sizes(in directory: String) -> [String: Int] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    var result: [String: Int] = [:]
    for name in names {
      let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)
      if attributes?[.type] as? FileAttributeType == .typeRegular {
        result[name] = (attributes?[.size] as? NSNumber)?.intValue ?? 0
      }
    }
    return result
  }
}
