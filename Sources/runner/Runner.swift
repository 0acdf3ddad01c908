import ArgumentParser
import Foundation
import Harness

/// `swift run runner`: runs the test matrix in configs/ and reports.
///
/// Exit status: 0 every cell passed (SKIP and FLAKY allowed), 1 a cell
/// failed (FAIL, CRASH, TIMEOUT, PROTOCOL-ERROR, or its payload did not
/// build) or a log or report could not be written, 2 usage or
/// configuration error (including a refused or busy report directory),
/// 130 interrupted (Ctrl-C).
@main
struct Runner: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "runner",
    abstract: "Build bare-metal Swift guests, boot them in QEMU and report every check.",
    discussion: """
      Exit status: 0 all cells passed (skipped and flaky cells allowed); 1 a cell \
      failed, crashed, timed out, broke the protocol or did not build, or a log or \
      report could not be written; 2 usage or configuration error (including a report \
      directory that is refused, or in use with --no-wait); 130 interrupted.
      """,
    subcommands: [
      Run.self, List.self, Bench.self, Diff.self, BaselineCommand.self, Merge.self, FuzzConfig.self,
      EditorSetupCommand.self,
    ],
    defaultSubcommand: Run.self)

  /// Usage and configuration errors.
  static let usageExitCode: Int32 = 2

  /// Parses, runs, and maps errors to the documented exit statuses
  /// (ArgumentParser would use 64 for usage errors).
  static func main() async {
    PhaseTrace.mark("start-up")
    if ProcessInfo.processInfo.environment["SWIFTGUEST_PRINT_PEAK_RSS"] != nil {
      // For `bench --flood`: the runner's own peak memory, measured at exit.
      atexit { FileHandle.standardError.write(Data("peak RSS: \(PeakMemory.kibibytes()) KiB\n".utf8)) }
    }
    do {
      var command = try parseAsRoot()
      if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      if let message = usageError(error) {
        FileHandle.standardError.write(Data((TerminalText.sanitized(message, keepingNewlines: true) + "\n").utf8))
        Foundation.exit(usageExitCode)
      }
      if let message = runError(error) {
        FileHandle.standardError.write(Data((TerminalText.sanitized(message, keepingNewlines: true) + "\n").utf8))
        Foundation.exit(1)
      }
      exit(withError: error)
    }
  }

  /// The message of an error of the run itself (exit status 1), printed
  /// sanitized: build and launch failures (compiler output may quote guest
  /// text), report files that could not be written.
  static func runError(_ error: any Error) -> String? {
    switch error {
    case let error as HarnessError: return "error: \(error)"
    case let error as ReportError: return "error: \(error)"
    default: return nil
    }
  }

  /// The message of an error that is a usage or configuration error.
  static func usageError(_ error: any Error) -> String? {
    switch error {
    case let error as ConfigError: return "error: \(error)"
    case let error as RunDirectoryError: return "error: \(error)"
    case let error as HarnessError:
      switch error {
      case .layout, .unknownGuest, .toolNotFound, .qemuBuild: return "error: \(error)"
      case .buildFailed, .launchFailed: return nil
      }
    default:
      if exitCode(for: error) == .validationFailure { return fullMessage(for: error) }
      return nil
    }
  }
}

/// Selection of matrix cells shared by the subcommands.
struct Selection: ParsableArguments {
  enum AcceleratorChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, all, tcg, kvm
  }

  @Option(help: "Matrix config file (default: configs/guests.cfg).")
  var config: String?

  @Flag(
    help: """
      Allow the config to name the negative guests under guests/negative (which fail on \
      purpose; used to test the harness).
      """)
  var includeNegative = false

  @Option(
    help: """
      auto: KVM where /dev/kvm works and the arch matches (with --backend libvirt: where a \
      host offers KVM for the arch), else TCG (one run per cell); \
      all: every accelerator the matrix lists (KVM cells SKIP where unavailable); tcg; kvm.
      """)
  var accel: AcceleratorChoice = .auto

  @Option(help: "Only this architecture (repeatable): x86_64, s390x.")
  var arch: [String] = []

  @Option(name: .customLong("guest"), help: "Only this guest (repeatable).")
  var guests: [String] = []

  @Option(help: "Only guests in this group (repeatable).")
  var group: [String] = []

  @Option(help: "Only cells whose id contains this text.")
  var filter: String?

  @Option(
    name: .customLong("test"),
    help: ArgumentHelp(
      "Only these registered tests (repeatable): GUEST/TEST or TEST, shell globs (selftest/exceptions, 'alloc/*free*'). The guest runs just those; `runner list --tests` shows them.",
      valueName: "guest/test"))
  var tests: [String] = []

  @Option(
    name: .customLong("mutate"),
    help: ArgumentHelp(
      "Run these registered tests (GUEST/TEST or TEST globs, as --test) with deliberately wrong expectations, to prove their checks can fail: each check compares its measurement with a wrong value (or the opposite of its expectation). Their cells fail; a mutated test that still passes cannot fail.",
      valueName: "guest/test"))
  var mutate: [String] = []

  @Option(
    help: ArgumentHelp(
      "Run only shard I of N of the selected cells (1-based): a deterministic split balanced by cell time; `runner merge` combines the shards' run directories.",
      valueName: "i/n"))
  var shard: String?

  @Option(help: "A results.json (or run directory) whose cell times balance --shard (default: estimates).")
  var shardTimes: String?

  /// `--shard` as (index, count).
  func shardSpec() throws -> (Int, Int)? {
    guard let shard else { return nil }
    let parts = shard.split(separator: "/").map { Int($0) }
    guard parts.count == 2, let index = parts[0], let count = parts[1], count >= 1, count <= 1000,
      (1...count).contains(index)
    else {
      throw ValidationError("--shard: '\(shard)' is not I/N with 1 ≤ I ≤ N ≤ 1000 (e.g. 2/3)")
    }
    return (index, count)
  }

  @Option(
    help: ArgumentHelp(
      "Also run every cell on this QEMU build (repeatable): NAME=LOCATION, a QEMU build directory holding qemu-system-<arch>, or a binary path with {arch}. Overrides the config's qemu_builds location of NAME.",
      valueName: "name=location"))
  var qemu: [String] = []

  /// `--qemu` as (name, location) pairs.
  func qemuBuilds() throws -> [(name: String, location: String)] {
    try qemu.map { word in
      let pair = word.split(separator: "=", maxSplits: 1).map(String.init)
      guard pair.count == 2, !pair[1].isEmpty, pair[0] != LaunchSettings.systemQemu,
        !pair[0].isEmpty, pair[0].count <= 32,
        pair[0].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
      else {
        throw ValidationError(
          "--qemu: '\(word)' is not NAME=LOCATION (a name of letters, digits, '_', '-' other than 'system', and a QEMU build directory or binary path)")
      }
      return (pair[0], pair[1])
    }
  }

  @Option(
    help: ArgumentHelp(
      "Most serial output kept per cell (bytes, or with K/M/G); past it QEMU is killed and the cell is PROTOCOL-ERROR. Overrides the config's output_limit.",
      valueName: "size"))
  var outputLimit: String?

  /// `--output-limit` in bytes (4K to 1G).
  func outputLimitBytes() throws -> Int? {
    guard let outputLimit else { return nil }
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    var digits = Substring(outputLimit.uppercased())
    var unit = 1
    if let last = digits.last, let value = units[last] {
      unit = value
      digits = digits.dropLast()
    }
    guard let number = Int(digits), number > 0 else {
      throw ValidationError("--output-limit: '\(outputLimit)' is not a size (e.g. 4M, 65536)")
    }
    let (bytes, overflow) = number.multipliedReportingOverflow(by: unit)
    guard !overflow, bytes >= 4 << 10, bytes <= 1 << 30 else {
      throw ValidationError("--output-limit: '\(outputLimit)' must be between 4K and 1G")
    }
    return bytes
  }

  /// The selected cells. `kvmUsable` decides `--accel auto` per
  /// architecture (default: this machine's /dev/kvm).
  func cells(kvmUsable: ((Architecture) -> Bool)? = nil) throws -> (GuestRunner, [MatrixCell]) {
    let kvmUsable =
      kvmUsable ?? { KVMAvailability.unavailableReason(for: $0) == nil }
    let architectures = try arch.map { name in
      guard let value = Architecture(rawValue: name) else {
        throw ValidationError("--arch: unknown architecture '\(name)'; use x86_64 or s390x")
      }
      return value
    }
    let runner = try GuestRunner.forCurrentPackage()
    // The selected cells' plans are derived below (GuestTestSelection).
    let matrix = try TestMatrix.load(
      workspace: runner.builder.workspace, configPath: config, includeNegative: includeNegative,
      derivingTests: false)
    for guest in guests where !matrix.cells.contains(where: { $0.guest == guest }) {
      throw ValidationError("--guest: '\(guest)' is not in \(matrix.configPath)")
    }
    var cells = matrix.select(
      guests: guests, architectures: architectures, groups: group, idContains: filter)
    switch accel {
    case .all: break
    case .tcg: cells = cells.filter { $0.settings.accelerator == .tcg }
    case .kvm: cells = cells.filter { $0.settings.accelerator == .kvm }
    case .auto:
      // Per (guest, arch, smp, memory): KVM when usable, TCG otherwise.
      cells = cells.filter { cell in
        let wanted: Accelerator = kvmUsable(cell.settings.architecture) ? .kvm : .tcg
        if cell.settings.accelerator == wanted { return true }
        // Keep the other one only when the matrix does not list the wanted
        // one (compared by axes: the deadlines differ by accelerator factor).
        return !matrix.cells.contains { other in
          other.guest == cell.guest && other.settings.accelerator == wanted
            && other.settings.architecture == cell.settings.architecture
            && other.settings.cpus == cell.settings.cpus
            && other.settings.memoryMiB == cell.settings.memoryMiB
            && other.settings.cpuModel == cell.settings.cpuModel
            && other.settings.machine == cell.settings.machine
        }
      }
    }
    cells = try GuestTestSelection(patterns: tests, mutations: mutate).apply(
      to: cells, workspace: runner.builder.workspace)
    cells = try QemuBuilds.resolve(cells, adding: try qemuBuilds())
    if let (index, count) = try shardSpec() {
      cells = Sharding.shard(
        cells, index: index, of: count, times: shardTimes.map(Sharding.times(from:)) ?? [:])
    }
    if let limit = try outputLimitBytes() {
      for index in cells.indices { cells[index].settings.outputLimitBytes = limit }
    }
    return (runner, cells)
  }
}

extension Runner {
  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print every selected matrix cell id, or with --tests every registered test.")
    @OptionGroup var selection: Selection

    @Flag(
      help: "Print the selected guests' registered tests (name, source location, traits) from their sources, without building or booting.")
    var tests = false

    func run() async throws {
      let (runner, cells) = try selection.cells(kvmUsable: tests ? { _ in false } : nil)
      guard tests else {
        for cell in cells { print(cell.id) }
        return
      }
      let workspace = runner.builder.workspace
      var seen = Set<String>()
      for cell in cells where seen.insert(cell.guest).inserted {
        let program = try workspace.program(named: cell.guest)
        let declared = try GuestTestCatalog.tests(of: program, in: workspace)
        let selected = Set(cell.expectedTests ?? declared.map(\.name))
        for test in declared where selected.contains(test.name) {
          let traits = test.traits.isEmpty ? "" : "  " + test.traits.joined(separator: ", ")
          print("\(cell.guest)/\(test.name)\t\(test.location)\(traits)")
        }
      }
    }
  }
}

/// This process's peak resident set size (`VmHWM` in /proc/self/status).
enum PeakMemory {
  static func kibibytes() -> Int {
    guard let data = FileManager.default.contents(atPath: "/proc/self/status") else { return 0 }
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n")
    where line.hasPrefix("VmHWM:") {
      return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    return 0
  }
}
