import GuestLib

/// The guest library's platform contract on the host: no exceptions (a
/// body runs plainly), one CPU unless a test says otherwise, the command
/// line a test sets, a clock that ticks 1000 ns per reading.
enum HostPlatform: GuestPlatform {
  nonisolated(unsafe) static var commandLine: [UInt8] = []
  nonisolated(unsafe) static var cpus = 1
  nonisolated(unsafe) static var clock: UInt64 = 0
  /// The reset record page, when a test gives the platform one.
  nonisolated(unsafe) static var resetPage: UnsafeMutableRawPointer? = nil
  /// Called on every clock reading (a test watches the guest wait).
  nonisolated(unsafe) static var onClock: (() -> Void)? = nil

  static func boot() {}

  static var arguments: BootArguments {
    // The bytes live as long as the test: `commandLine` is only replaced
    // between runs.
    commandLine.withUnsafeBufferPointer { BootArguments(bytes: $0.baseAddress, count: $0.count) }
  }

  static var cpuCount: Int { cpus }
  static var currentCPU: Int { 0 }

  static func nanoseconds() -> UInt64 {
    clock += 1000
    onClock?()
    return clock
  }

  static var resetRecordAddress: UInt? { resetPage.map { UInt(bitPattern: $0) } }

  static func hasFeature(_ feature: CPUFeature) -> Bool { feature.name.description == "x2apic" }

  static func catchException(
    _ body: @convention(c) (UnsafeMutableRawPointer?) -> Void, context: UnsafeMutableRawPointer?
  ) -> CaughtException? {
    body(context)
    return nil
  }

  static func exit(_ status: GuestStatus) -> Never { fatalError("exit \(status)") }

  /// Runs `tests` as guest `name` with `arguments` on the command line.
  @discardableResult
  static func run(_ name: StaticString, _ tests: [GuestLib.Test], arguments: String = "", cpus: Int = 1)
    -> GuestStatus
  {
    commandLine = Array(arguments.utf8)
    self.cpus = cpus
    clock = 0
    return runGuestTests(named: name, tests, on: HostPlatform.self)
  }
}

/// `text` up to and including its first line containing `marker`.
func cut(_ text: String, after marker: String) -> String {
  var kept: [Substring] = []
  for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
    kept.append(line)
    if line.contains(marker) { break }
  }
  return kept.joined(separator: "\n") + "\n"
}
