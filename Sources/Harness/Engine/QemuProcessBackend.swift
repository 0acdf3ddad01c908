import Foundation
import Subprocess
import Synchronization

#if canImport(System)
  import System
#else
  import SystemPackage
#endif

/// Bare QEMU: a `qemu-system-*` child in its own process group, under the
/// guard that kills it if this process dies, with its serial console on
/// standard output and a QMP socket (in a private directory; never TCP) as
/// its control channel.
public struct QemuProcessBackend: MachineBackend {
  /// The backend.
  public init() {}

  public var host: HostKey { .local }

  /// Bare QEMU migrates to a fresh QEMU on this host.
  public var canMigrate: Bool { true }

  /// Bare QEMU resets on request (QMP `system_reset`).
  public var canReset: Bool { true }

  /// Prepares the command line; the process starts with `start()`, its
  /// console pipe existing from the first instruction on. A migrating cell
  /// (`settings.migrate`) also gets a console input (a FIFO next to the QMP
  /// socket, QEMU's standard input) and can migrate (`MigratableMachine`).
  public func create(_ request: MachineRequest) async throws -> any BackendMachine {
    let settings = request.settings
    let socket = try QemuControl.socketPath()
    let argv =
      [settings.qemuExecutable]
      + QemuCommand.arguments(bootImage: request.bootImage, settings: settings)
      + ["-qmp", "unix:\(socket),server=on,wait=off"]
    return QemuMachine(
      argv: argv, guardPath: try await QemuGuard.executable(), socket: socket,
      consoleInput: settings.migrate)
  }
}

/// One bare-QEMU machine: its QEMU process, and after a live migration the
/// destination's (one process at a time runs the guest; the console stream
/// continues from the destination).
final class QemuMachine: MigratableMachine {
  let events: AsyncStream<MachineEvent>
  let feed: AsyncStream<MachineEvent>.Continuation
  let argv: [String]
  let guardPath: String
  let socket: String
  let consoleInput: Bool

  struct State {
    /// The process running the guest (after a hop: the destination).
    var current: QemuProcess?
    /// Processes migrated away from (already destroyed).
    var retired: [QemuProcess] = []
    /// Set once the machine was destroyed: no destination starts after.
    var destroyed = false
  }
  let state = Mutex(State())

  init(argv: [String], guardPath: String, socket: String, consoleInput: Bool) {
    (events, feed) = AsyncStream.makeStream(of: MachineEvent.self)
    self.argv = argv
    self.guardPath = guardPath
    self.socket = socket
    self.consoleInput = consoleInput
  }

  var current: QemuProcess? { state.withLock { $0.current } }

  var control: (any MachineControl)? {
    guard let current else { return QmpControl(socket: socket, guardPID: 0) }
    return QmpControl(socket: current.socket, guardPID: current.pid)
  }

  /// QEMU's exit is reported after its standard output ended.
  var drainAfterStop: Duration { .zero }

  func start() async throws -> Int32? {
    let process = try QemuProcess(
      argv: argv, socket: socket, inputPath: consoleInput ? QemuProcess.inputPath(socket) : nil)
    state.withLock { $0.current = process }
    return try await process.launch(guardPath: guardPath, feed: feed, gate: nil)
  }

  func destroy() async {
    let processes = state.withLock { state in
      state.destroyed = true
      return [state.current].compactMap { $0 } + state.retired
    }
    for process in processes { process.stop() }
  }

  func finish(_ run: EngineSummary) async -> MachineReport {
    let (current, retired) = state.withLock { ($0.current, $0.retired) }
    let processes = retired + [current].compactMap { $0 }
    // The run ends once every QEMU it started is gone: a destination that
    // was still starting when the machine was destroyed was killed as soon
    // as it had a pid, and is reaped here (bounded: a process stuck in the
    // kernel must not hang the runner; its guard still ends it).
    let until = ContinuousClock.now + .seconds(10)
    for process in processes {
      _ = await process.waitUntilGone(within: max(until - .now, .zero))
    }
    for process in processes { process.cleanUp() }
    let snapshot = current?.snapshot ?? QemuProcess.Snapshot()
    // The source's messages (QEMU's own, on standard error) come first.
    let stderr = (retired.map(\.snapshot.stderr) + [snapshot.stderr]).filter { !$0.isEmpty }
      .joined(separator: "\n")
    return MachineReport(
      details: .qemu(
        QemuDetails(
          argv: current?.argv ?? argv, processID: snapshot.pid, exitCode: snapshot.exitCode,
          signal: snapshot.signal, stderr: stderr)))
  }

  func writeConsoleInput(_ bytes: [UInt8]) async throws {
    guard let current else { throw QmpError("the machine has no QEMU process") }
    try current.writeInput(bytes)
  }
}

/// One QEMU process of a machine: started through the guard, its console
/// on standard output (fed to the machine's event stream), optionally its
/// console input on standard input from a FIFO the harness writes.
final class QemuProcess: Sendable {
  let argv: [String]
  let socket: String
  let inputPath: String?
  /// The harness's end of the console input FIFO (read-write, so QEMU's
  /// open never blocks and never sees end of file).
  let inputDescriptor: Int32?

  struct Snapshot {
    var pid: Int32 = 0
    var reaped = false
    var exitCode: Int32?
    var signal: Int32?
    var stderr = ""
    /// Migrated away: its end is no stop of the machine.
    var retired = false
    /// `stop` was called before the process had a pid.
    var stopRequested = false
    /// `launch` started spawning it: `ended` opens once it is gone.
    var launched = false
  }
  private let state = Mutex(Snapshot())
  /// Resumed when the process's console ended and it was reaped.
  private let ended = OneShot()

  /// The console input FIFO of the machine whose QMP socket is `socket`
  /// (`qmp-N.sock` → `qmp-N.in`).
  static func inputPath(_ socket: String) -> String {
    (socket.hasSuffix(".sock") ? String(socket.dropLast(5)) : socket) + ".in"
  }

  init(argv: [String], socket: String, inputPath: String?) throws {
    self.argv = argv
    self.socket = socket
    self.inputPath = inputPath
    if let inputPath {
      unlink(inputPath)
      guard mkfifo(inputPath, 0o600) == 0 else {
        throw HarnessError.launchFailed(
          argv[0], underlying: "console input FIFO \(inputPath): \(String(cString: strerror(errno)))")
      }
      let descriptor = open(inputPath, O_RDWR | O_NONBLOCK | O_CLOEXEC)
      guard descriptor >= 0 else {
        throw HarnessError.launchFailed(
          argv[0], underlying: "console input FIFO \(inputPath): \(String(cString: strerror(errno)))")
      }
      inputDescriptor = descriptor
    } else {
      inputDescriptor = nil
    }
  }

  var snapshot: Snapshot { state.withLock { $0 } }
  var pid: Int32 { state.withLock { $0.pid } }

  /// Starts the process; its console bytes go to `feed` (after `gate`
  /// opened, when given), and unless it was retired by then, its console's
  /// end and its stop too (then `feed` finishes). Returns the guard's pid.
  func launch(
    guardPath: String, feed: AsyncStream<MachineEvent>.Continuation, gate: OneShot?
  ) async throws -> Int32? {
    let lifeline = try QemuGuard.lifelineReadEnd()
    let (argv, inputPath) = (argv, inputPath)
    let started = StartSignal()
    return try await withCheckedThrowingContinuation { continuation in
      started.continuation.withLock { $0 = continuation }
      state.withLock { $0.launched = true }
      // Detached: the process lives until it stops or `stop` kills it,
      // whatever happens to the task that started it.
      Task.detached { [self] in
        var options = PlatformOptions()
        options.processGroupID = 0
        let environment: Environment =
          inputPath.map { .inherit.updating(["QEMU_GUARD_STDIN": $0]) } ?? .inherit
        do {
          let result: ExecutionResult<Void, SequenceOutput, StringOutput<UTF8>> =
            try await Subprocess.run(
              .path(FilePath(guardPath)), arguments: Arguments(argv), environment: environment,
              platformOptions: options,
              input: .fileDescriptor(
                FileDescriptor(rawValue: lifeline), closeAfterSpawningProcess: false),
              output: .sequence, error: .string(limit: 1 << 20)
            ) { execution in
              let pid = execution.processIdentifier.value
              // A stop asked for while the process was being spawned.
              if state.withLock({ state in
                state.pid = pid
                return state.stopRequested
              }) {
                QemuGuard.stop(pid)
              }
              QemuProcessRegistry.register(pid)
              defer { QemuProcessRegistry.unregister(pid) }
              started.continuation.withLock { $0.take() }?.resume(returning: pid)
              var opened = gate == nil
              for try await chunk in execution.standardOutput {
                if !opened {
                  // A destination's bytes wait until the source's all went.
                  await gate?.wait()
                  opened = true
                }
                feed.yield(.console(chunk.withUnsafeBytes { Array($0) }))
              }
              if !state.withLock({ $0.retired }) { feed.yield(.consoleEnded) }
            }
          let stop: MachineStop
          switch result.terminationStatus {
          case .exited(let code): stop = .exited(Int32(code))
          case .signaled(let value): stop = .signaled(Int32(value))
          }
          let retired = state.withLock { state in
            state.reaped = true
            state.stderr = result.standardError
            if case .exited(let code) = stop { state.exitCode = code }
            if case .signaled(let signal) = stop { state.signal = signal }
            return state.retired
          }
          if !retired {
            feed.yield(.stopped(stop))
            feed.finish()
          }
        } catch {
          let retired = state.withLock { state in
            state.reaped = true
            return state.retired
          }
          if let continuation = started.continuation.withLock({ $0.take() }) {
            continuation.resume(
              throwing: HarnessError.launchFailed(argv[0], underlying: "\(error)"))
          } else if !retired {
            feed.yield(.stopped(.signaled(SIGKILL)))
            feed.finish()
          }
        }
        ended.open()
      }
    }
  }

  /// Ends the process at once (no-op once it is gone).
  func stop() {
    let pid = state.withLock { state -> Int32? in
      state.stopRequested = true
      return state.reaped || state.pid == 0 ? nil : state.pid
    }
    if let pid { QemuGuard.stop(pid) }
  }

  /// Waits until the process was reaped (at once for one never launched);
  /// false when `limit` passed first.
  func waitUntilGone(within limit: Duration) async -> Bool {
    guard state.withLock({ $0.launched }) else { return true }
    return await ended.wait(within: limit)
  }

  /// Marks the process migrated away, ends it and waits until its console
  /// was read to the end and it was reaped.
  func retire() async {
    state.withLock { $0.retired = true }
    stop()
    await ended.wait()
  }

  /// Writes `bytes` to the console input.
  func writeInput(_ bytes: [UInt8]) throws {
    guard let inputDescriptor else { throw QmpError("this machine has no console input") }
    var sent = 0
    while sent < bytes.count {
      let written = bytes[sent...].withUnsafeBytes { write(inputDescriptor, $0.baseAddress, $0.count) }
      if written < 0 && errno == EINTR { continue }
      guard written > 0 else {
        throw QmpError("console input: \(String(cString: strerror(errno)))")
      }
      sent += written
    }
  }

  /// Removes the sockets and the FIFO.
  func cleanUp() {
    unlink(socket)
    if let inputPath { unlink(inputPath) }
    if let inputDescriptor { close(inputDescriptor) }
  }
}

/// Hands the process id (or the spawn error) to `start()` once.
private final class StartSignal: Sendable {
  let continuation = Mutex<CheckedContinuation<Int32?, any Error>?>(nil)
}

/// A one-time signal many tasks can wait for.
final class OneShot: Sendable {
  private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

  /// Waits until `open()` was called (returns at once after).
  func wait() async {
    await withCheckedContinuation { continuation in
      let resumeNow = state.withLock { state -> Bool in
        if state.open { return true }
        state.waiters.append(continuation)
        return false
      }
      if resumeNow { continuation.resume() }
    }
  }

  /// Whether `open()` was called.
  var isOpen: Bool { state.withLock { $0.open } }

  /// Waits until `open()` was called or `limit` passed; true when it was
  /// opened. (A waiter left behind by the limit stays parked until `open`.)
  func wait(within limit: Duration) async -> Bool {
    if isOpen { return true }
    let either = OneShot()
    Task { [self] in
      await wait()
      either.open()
    }
    let timer = Task {
      try? await Task.sleep(for: limit)
      either.open()
    }
    await either.wait()
    timer.cancel()
    return isOpen
  }

  /// Lets every waiter, present and future, go on.
  func open() {
    let waiters = state.withLock { state in
      state.open = true
      defer { state.waiters = [] }
      return state.waiters
    }
    for waiter in waiters { waiter.resume() }
  }
}

/// QMP on a bare QEMU's private socket.
struct QmpControl: MachineControl {
  let socket: String
  let guardPID: Int32

  func execute(_ command: String, arguments: String?) async throws -> String {
    let socket = socket
    return try await BlockingWork.run {
      let client = try QmpClient(path: socket, timeout: .seconds(2))
      return try client.execute(command, arguments: arguments)
    }
  }

  func triage(architecture: Architecture) async -> TriageCapture {
    let (socket, guardPID) = (socket, guardPID)
    return await BlockingWork.run {
      // Where QEMU's threads were (a vCPU spinning in the guest, or blocked
      // in the kernel), then every vCPU's registers.
      let threads = ProcessSnapshot.threads(of: QemuGuard.child(of: guardPID) ?? guardPID)
      let captured = VcpuTriage.capture(qmp: socket, architecture: architecture)
      return TriageCapture(
        positions: captured.positions, transcript: captured.transcript, hostThreads: threads)
    }
  }
}
