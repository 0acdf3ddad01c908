import ArgumentParser
import Foundation
import Harness

extension Runner.Bench {
  struct Edit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "edit",
      abstract:
        "Edit-to-verdict timings: cold build of every guest, then edit → build → boot → verdict.",
      discussion: """
        Copies the workspace's guests/ and configs/ into a temporary directory (your files \
        are never touched) with an empty payload cache, builds every payload of the matrix \
        for both architectures (cold build, printed in seconds with each boot image's size), \
        then per architecture appends a comment line to a file of the guest (default: \
        selftest) and measures edit → build → boot (TCG) → verdict, several times, and \
        prints the median and minimum. `--guest` (once) and `--arch` of bench choose the \
        guest and the architectures. Numbers only; nothing is asserted.
        """)

    @ParentCommand var bench: Runner.Bench

    @Option(help: "Edit-to-verdict runs per architecture.")
    var runs = 5

    @Option(help: "Payloads built at once in the cold build (default: one per CPU).")
    var jobs: Int?

    @Flag(help: "Print each round's build steps and their times.")
    var verbose = false

    func validate() throws {
      if runs < 1 { throw ValidationError("--runs must be at least 1") }
      if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
      if bench.selection.guests.count > 1 {
        throw ValidationError("bench edit edits one guest: give --guest once (default: selftest)")
      }
      for name in bench.selection.arch where Architecture(rawValue: name) == nil {
        throw ValidationError("--arch: unknown architecture '\(name)'; use x86_64 or s390x")
      }
    }

    func run() async throws {
      let arch = bench.selection.arch
      try await EditBenchmark(
        runs: runs, guest: bench.selection.guests.first ?? "selftest",
        architectures: arch.isEmpty ? Architecture.allCases : arch.compactMap(Architecture.init),
        jobs: jobs ?? max(ProcessInfo.processInfo.activeProcessorCount, 1), verbose: verbose
      ).run()
    }
  }
}

/// `runner bench edit`: how long a guest writer waits for a verdict after
/// editing a test file, on a private copy of the workspace.
struct EditBenchmark {
  var runs: Int
  var guest: String
  var architectures: [Architecture]
  var jobs: Int
  var verbose: Bool

  func run() async throws {
    let real = try GuestWorkspace.locate()
    let scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("edit-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    for directory in ["guests", "configs"] {
      try FileManager.default.copyItem(
        atPath: real.root + "/" + directory, toPath: scratch + "/" + directory)
    }
    let workspace = try GuestWorkspace(root: scratch)
    let runner = GuestRunner(
      builder: PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find()))
    let matrix = try TestMatrix.load(workspace: workspace)
    Output.write("edit benchmark on a copy of \(real.root)/guests and configs in \(scratch)")

    // 1. Cold build: every payload of the matrix, `jobs` at once.
    var pairs: [(GuestProgram, Architecture)] = []
    for cell in matrix.cells where architectures.contains(cell.settings.architecture) {
      let program = try workspace.program(named: cell.guest)
      if !pairs.contains(where: { $0.0 == program && $0.1 == cell.settings.architecture }) {
        pairs.append((program, cell.settings.architecture))
      }
    }
    let clock = ContinuousClock()
    let start = clock.now
    var payloads: [Payload] = []
    try await withThrowingTaskGroup(of: Payload.self) { group in
      var next = 0
      func add() {
        let (program, architecture) = pairs[next]
        next += 1
        group.addTask { try await runner.builder.build(program, for: architecture) }
      }
      while next < min(jobs, pairs.count) { add() }
      while let payload = try await group.next() {
        payloads.append(payload)
        if next < pairs.count { add() }
      }
    }
    let cold = (clock.now - start).seconds
    Output.write(
      "cold build: \(payloads.count) payloads (\(architectures.map(\.rawValue).joined(separator: ", "))), \(jobs) at once: \(String(format: "%.2f s", cold))"
    )
    Output.write("  boot image bytes:")
    for payload in payloads.sorted(by: {
      ($0.architecture.rawValue, $0.program.name) < ($1.architecture.rawValue, $1.program.name)
    }) {
      Output.write(
        "    \(payload.architecture.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(payload.program.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(payload.bootImageSize)"
      )
    }

    // 2. Per architecture: edit, build, boot under TCG, verdict.
    let program = try workspace.program(named: guest)
    let names =
      (FileManager.default.enumerator(atPath: program.directory)?.allObjects as? [String]) ?? []
    guard
      let file = names.filter({ $0.hasSuffix(".swift") }).sorted().first.map({
        program.directory + "/" + $0
      })
    else {
      throw ValidationError("guest '\(guest)' has no Swift file")
    }
    Output.write(
      "\nedit → verdict: a comment line appended to \(guest)/\(URL(fileURLWithPath: file).lastPathComponent), \(runs) runs per architecture"
    )
    Output.write("arch      median s   min s   build median s   boot+verdict median s   verdicts")
    var round = 0
    for architecture in architectures {
      guard
        let cell = matrix.cells.first(where: {
          $0.guest == guest && $0.settings.architecture == architecture
            && $0.settings.accelerator == .tcg
        })
      else {
        Output.write("\(architecture.rawValue): no TCG cell of \(guest) in the matrix")
        continue
      }
      var totals: [Double] = []
      var builds: [Double] = []
      var boots: [Double] = []
      var verdicts: Set<String> = []
      for _ in 0..<runs {
        round += 1
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("// edited by runner bench edit, round \(round)\n".utf8))
        try handle.close()
        let logged = runner.builder.log.steps.count
        let begin = clock.now
        let payload = try await runner.builder.build(program, for: architecture)
        let built = clock.now
        let result = try await runner.run(payload, settings: cell.settings)
        let end = clock.now
        totals.append((end - begin).seconds)
        builds.append((built - begin).seconds)
        boots.append((end - built).seconds)
        verdicts.insert(result.verdict.rawValue)
        if verbose {
          let steps = runner.builder.log.steps.suffix(from: logged)
          Output.write(
            "  \(architecture.rawValue) round \(round): "
              + String(format: "build %.2f s (", (built - begin).seconds)
              + steps.map { "\($0.step) " + String(format: "%.2f", $0.seconds) }.joined(
                separator: ", ")
              + String(format: "), boot and verdict %.2f s", (end - built).seconds))
        }
      }
      Output.write(
        architecture.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
          + String(
            format: "  %8.2f  %6.2f  %15.2f  %22.2f   ", totals.median, totals.min() ?? 0,
            builds.median, boots.median)
          + verdicts.sorted().joined(separator: ","))
    }
  }
}
