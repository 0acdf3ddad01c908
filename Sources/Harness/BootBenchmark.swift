import Foundation

/// Boot-to-verdict timing of matrix cells through the harness, compared
/// with the same QEMU command line run bare (output collected, nothing
/// parsed), so the harness's own overhead shows.
public enum BootBenchmark {
  /// Timings of one cell.
  public struct Measurement: Sendable {
    /// The cell id.
    public var id: String
    /// Harness runs: launch to verdict, each.
    public var harness: [Duration]
    /// Bare QEMU runs of the same argv, each.
    public var bare: [Duration]
    /// Verdicts seen (all should be PASS).
    public var verdicts: [Verdict]
  }

  /// Runs `cell` `repeats` times through the harness and bare.
  public static func measure(_ cell: MatrixCell, runner: GuestRunner, repeats: Int) async throws
    -> Measurement
  {
    let program = try runner.builder.workspace.program(named: cell.guest)
    let payload = try await runner.builder.build(program, for: cell.settings.architecture)
    var measurement = Measurement(id: cell.id, harness: [], bare: [], verdicts: [])
    for _ in 0..<repeats {
      let clock = ContinuousClock()
      let start = clock.now
      let result = try await runner.run(payload, settings: cell.settings)
      measurement.harness.append(clock.now - start)
      measurement.verdicts.append(result.verdict)
      let argv = QemuCommand.arguments(bootImage: payload.bootImage, settings: cell.settings)
      let bareStart = clock.now
      _ = try await ToolRunner.run(
        try executablePath(cell.settings.qemuExecutable), argv)
      measurement.bare.append(clock.now - bareStart)
    }
    return measurement
  }

  static func executablePath(_ name: String) throws -> String {
    guard let path = ExecutableSearch.resolve(name) else {
      throw HarnessError.toolNotFound(name, hint: "install QEMU (scripts/setup.sh)")
    }
    return path
  }
}

extension BootBenchmark {
  /// One scheduled run of a matrix: its timeline and every cell's
  /// launch-to-verdict times.
  public struct ScheduledRun: Sendable {
    /// `-j` used (nil: only resources limit).
    public var jobs: Int?
    /// Where the time went.
    public var timeline: RunTimeline
    /// Launch-to-verdict time of each cell's attempts, by cell id.
    public var cellTimes: [String: [Duration]]
    /// Final verdict label of each cell (`PASS`, `FLAKY`, ...), by cell id.
    public var labels: [String: String]
    /// CPU time (user + system) of this process, the runner, during the
    /// run: every thread of it, no child.
    public var runnerCPUSeconds: Double = 0
    /// CPU time of the children reaped during the run: the QEMU guards and
    /// their QEMUs (every QEMU thread).
    public var childCPUSeconds: Double = 0
  }

  /// User + system CPU seconds of `who` (`RUSAGE_SELF`, `RUSAGE_CHILDREN`).
  public static func cpuSeconds(_ who: Int32) -> Double {
    var usage = rusage()
    guard getrusage(__rusage_who_t(who), &usage) == 0 else { return 0 }
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
  }

  /// Runs `cells` once through the parallel scheduler (payloads are
  /// built first, outside the timing, so that every run measures boots).
  public static func scheduledRun(
    _ cells: [MatrixCell], runner: GuestRunner, jobs: Int?
  ) async -> ScheduledRun {
    let scheduler = MatrixScheduler(
      runner: runner, options: MatrixScheduler.Options(maxConcurrentCells: jobs))
    let (runnerBefore, childrenBefore) = (cpuSeconds(RUSAGE_SELF.rawValue), cpuSeconds(RUSAGE_CHILDREN.rawValue))
    let start = ContinuousClock.now
    let outcomes = await scheduler.run(cells)
    let end = ContinuousClock.now
    let (runnerAfter, childrenAfter) = (cpuSeconds(RUSAGE_SELF.rawValue), cpuSeconds(RUSAGE_CHILDREN.rawValue))
    var times: [String: [Duration]] = [:]
    var labels: [String: String] = [:]
    for outcome in outcomes {
      times[outcome.cell.id] = outcome.attemptIntervals.map { $0.upperBound - $0.lowerBound }
      labels[outcome.cell.id] = outcome.label
    }
    return ScheduledRun(
      jobs: jobs, timeline: RunTimeline(outcomes: outcomes, start: start, end: end),
      cellTimes: times, labels: labels, runnerCPUSeconds: runnerAfter - runnerBefore,
      childCPUSeconds: childrenAfter - childrenBefore)
  }

  /// Boots `cell` once as a bare `qemu-system-*` command with the argv the
  /// harness uses (output collected, nothing parsed) and returns its wall
  /// time; skipped (nil) for a KVM cell where KVM is unavailable and for a
  /// cell that migrates or resets its machine.
  public static func bareRun(_ cell: MatrixCell, payload: Payload) async throws -> Duration? {
    if cell.settings.accelerator == .kvm,
      KVMAvailability.unavailableReason(for: cell.settings.architecture) != nil
    {
      return nil
    }
    // A guest that asks to be migrated or reset waits for the harness's
    // answer on its console: no bare command runs it to the end.
    if cell.settings.migrate || cell.settings.reset { return nil }
    var settings = cell.settings
    settings.guestArguments.append("harness.attempt=1")
    let argv = QemuCommand.arguments(bootImage: payload.bootImage, settings: settings)
    let executable = try executablePath(settings.qemuExecutable)
    let clock = ContinuousClock()
    let start = clock.now
    _ = try await ToolRunner.run(executable, argv)
    return clock.now - start
  }
}
