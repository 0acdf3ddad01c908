import ArgumentParser
import Foundation
import Harness

extension Runner {
  struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Boot-to-verdict timings: per cell through the harness vs bare QEMU, or the whole matrix through the scheduler (--matrix).",
      discussion: """
        --matrix runs the selected cells through the parallel scheduler and prints the \
        wall time, the sum of QEMU times, and the runner's overhead, defined as the wall \
        time during which no QEMU of the run was alive (time the runner alone is on the \
        critical path: config, payloads, scheduling); then per-cell medians against the \
        same cells run as bare qemu-system commands one after another, and -j 1 vs -j 2. \
        Numbers only; nothing is asserted.

        With --backend libvirt (per cell only), the first column is create-to-verdict \
        through libvirt (transient domain, console stream, console log), against the \
        same cell as a bare qemu-system command.

        --process runs this runner as a whole process (`runner run -j 1` on the selection) \
        against the same cells as bare qemu-system commands one after another, and prints \
        the child's phases (start-up, arguments, matrix, baseline and QEMU versions, \
        metadata and run directory, cells, summary, reports, exit) as medians.

        `bench edit` measures the edit → build → boot → verdict loop of a guest writer.
        """,
      subcommands: [Edit.self])
    @OptionGroup var backend: BackendOptions
    @OptionGroup var selection: Selection

    @Option(help: "Runs per cell (per matrix run with --matrix).")
    var repeats: Int?

    @Flag(help: "Benchmark the selected matrix through the parallel scheduler.")
    var matrix = false

    @Flag(
      help: """
        Run this runner as a whole process (`runner run -j 1` on the selection) against \
        the same cells as bare qemu-system commands, and print where the difference goes \
        (the child's start-up, arguments, matrix, checks, cells, reports, exit).
        """)
    var process = false

    @Flag(
      help: """
        Run the runner itself on the 'flood' negative guest (check lines, and one endless \
        line) on both arches and print its peak RSS, the time to the verdict and the report \
        sizes (--output-limit applies).
        """)
    var flood = false

    func validate() throws {
      if let repeats, repeats < 1 { throw ValidationError("--repeats must be at least 1") }
      if process && (matrix || flood || backend.backend == .libvirt) {
        throw ValidationError("--process measures the runner against bare QEMU: not with --matrix, --flood or --backend libvirt")
      }
      if matrix && backend.backend == .libvirt {
        throw ValidationError("--matrix measures QEMU processes; use it without --backend libvirt")
      }
    }

    func run() async throws {
      if flood {
        try await FloodBenchmark.run(outputLimit: selection.outputLimit)
        return
      }
      let pool = try backend.pool()
      var (runner, cells) = try selection.cells(on: pool)
      if let pool { runner.launcher = try backend.readying(pool, for: cells) }
      guard !cells.isEmpty else { throw ValidationError("no matrix cell matches the selection") }
      if process {
        try await ProcessBenchmark.run(selection: selection, runner: runner, cells: cells, repeats: repeats ?? 10)
      } else if matrix {
        try await runMatrix(runner, cells, repeats: repeats ?? 3)
      } else {
        try await runPerCell(runner, cells, repeats: repeats ?? 10)
      }
    }

    static func ms(_ duration: Duration) -> String { String(format: "%9.1f", duration.seconds * 1000) }
    static func s(_ seconds: Double) -> String { String(format: "%.2f s", seconds) }

    func runPerCell(_ runner: GuestRunner, _ cells: [MatrixCell], repeats: Int) async throws {
      let through = backend.backend == .libvirt ? "libvirt ms" : "harness ms"
      Output.write("cell                                      \(through)   bare ms  overhead  runs  verdicts")
      for cell in cells {
        let m = try await BootBenchmark.measure(cell, runner: runner, repeats: repeats)
        let harness = m.harness.median
        let bare = m.bare.median
        let overhead = (harness - bare) / bare * 100
        let verdicts = Set(m.verdicts.map(\.rawValue)).sorted().joined(separator: ",")
        Output.write(
          "\(cell.id.padding(toLength: 40, withPad: " ", startingAt: 0))  \(Self.ms(harness))  \(Self.ms(bare))  "
            + String(format: "%7.1f%%", overhead) + "  \(repeats)    \(verdicts)")
      }
    }

    func runMatrix(_ runner: GuestRunner, _ cells: [MatrixCell], repeats: Int) async throws {
      // Build every payload first so that the timings are boots only.
      var payloads: [String: Payload] = [:]
      for cell in cells where payloads[cell.guest + "/\(cell.settings.architecture)"] == nil {
        let program = try runner.builder.workspace.program(named: cell.guest)
        payloads[cell.guest + "/\(cell.settings.architecture)"] = try await runner.builder.build(
          program, for: cell.settings.architecture)
      }
      let budget = HostResources.available()
      Output.write(
        "matrix bench: \(cells.count) cells, host budget \(budget), \(repeats) run\(repeats == 1 ? "" : "s") per configuration")

      // 1. The matrix once through the scheduler (default -j), then more
      //    runs for the per-cell medians.
      var runs: [BootBenchmark.ScheduledRun] = []
      for _ in 0..<repeats { runs.append(await BootBenchmark.scheduledRun(cells, runner: runner, jobs: nil)) }
      let first = runs[0].timeline
      Output.write(
        """

        scheduled run (no -j, resources only), first run:
          wall time                          \(Self.s(first.wallSeconds))
          sum of QEMU times                  \(Self.s(first.qemuSeconds))   (peak \(first.peakConcurrency) at once)
          time with ≥1 QEMU alive            \(Self.s(first.busySeconds))
          runner overhead (no QEMU alive)    \(Self.s(first.overheadSeconds))   (\(String(format: "%.1f", first.overheadSeconds / max(first.wallSeconds, 1e-9) * 100))% of wall)
          longest lane of QEMU time          \(Self.s(first.longestLaneSeconds))   (wall − lane = \(Self.s(first.wallSeconds - first.longestLaneSeconds)))
        """)
      let overheads = runs.map(\.timeline.overheadSeconds).sorted()
      let walls = runs.map(\.timeline.wallSeconds).sorted()
      Output.write(
        "  over \(repeats) runs: wall median \(Self.s(walls.median)), overhead median \(Self.s(overheads.median))")

      // 2. Per-cell medians vs bare QEMU, one after another.
      Output.write("\nper cell, median boot-to-verdict (scheduled) vs bare qemu-system (sequential):")
      Output.write("cell                                      scheduled ms   bare ms   ratio  verdicts")
      var bareSequentialTotals = Array(repeating: 0.0, count: repeats)
      for cell in cells {
        let payload = payloads[cell.guest + "/\(cell.settings.architecture)"]!
        let scheduled = runs.flatMap { $0.cellTimes[cell.id] ?? [] }
        var bare: [Duration] = []
        for index in 0..<repeats {
          if let time = try await BootBenchmark.bareRun(cell, payload: payload) {
            bare.append(time)
            bareSequentialTotals[index] += time.seconds
          }
        }
        let labels = Set(runs.compactMap { $0.labels[cell.id] }).sorted().joined(separator: ",")
        let h = scheduled.median
        let b = bare.median
        let ratio = b == .zero ? "     -" : String(format: "%6.2f", h / b)
        Output.write(
          "\(cell.id.padding(toLength: 40, withPad: " ", startingAt: 0))  \(Self.ms(h))    \(Self.ms(b))  \(ratio)  \(labels)")
      }
      let bareTotal = bareSequentialTotals.median
      let wallMedian = walls.median
      Output.write(
        """
        all cells as bare qemu-system commands one after another: median \(Self.s(bareTotal))
        scheduled matrix wall median \(Self.s(wallMedian)); ratio scheduled/bare-sequential \(String(format: "%.2f", wallMedian / max(bareTotal, 1e-9)))
        """)

      // 3. -j 1 vs -j 2, with where the CPUs went.
      var j1: [BootBenchmark.ScheduledRun] = []
      var j2: [BootBenchmark.ScheduledRun] = []
      for _ in 0..<repeats {
        j1.append(await BootBenchmark.scheduledRun(cells, runner: runner, jobs: 1))
        j2.append(await BootBenchmark.scheduledRun(cells, runner: runner, jobs: 2))
      }
      func medianOf(_ runs: [BootBenchmark.ScheduledRun], _ value: (BootBenchmark.ScheduledRun) -> Double) -> Double {
        runs.map(value).median
      }
      let m1 = medianOf(j1) { $0.timeline.wallSeconds }
      let m2 = medianOf(j2) { $0.timeline.wallSeconds }
      // A cell that needs more than half of the host's CPUs never shares it
      // with another cell, whatever -j says: its time is a floor of any run.
      let alone = cells.filter { $0.settings.cpus * 2 > budget.cpus }
      let aloneSeconds = alone.map { cell in
        j1.flatMap { $0.cellTimes[cell.id] ?? [] }.median.seconds
      }.reduce(0, +)
      Output.write(
        """

        -j 1 vs -j 2 (medians over \(repeats)): wall \(Self.s(m1)) vs \(Self.s(m2)); speed-up \(String(format: "%.2f", m1 / max(m2, 1e-9)))×
          CPU time, -j 1: runner \(Self.s(medianOf(j1) { $0.runnerCPUSeconds })), QEMU (and guards) \(Self.s(medianOf(j1) { $0.childCPUSeconds }))
          CPU time, -j 2: runner \(Self.s(medianOf(j2) { $0.runnerCPUSeconds })), QEMU (and guards) \(Self.s(medianOf(j2) { $0.childCPUSeconds }))
          -j 2 wall × \(budget.cpus) CPUs = \(Self.s(m2 * Double(budget.cpus))) of CPU capacity, of which used \(Self.s(medianOf(j2) { $0.runnerCPUSeconds + $0.childCPUSeconds }))
          \(alone.count) of \(cells.count) cells need more than half of the \(budget.cpus) CPUs and run alone at any -j: \(Self.s(aloneSeconds)) (at -j 1)
        """)
    }
  }
}
