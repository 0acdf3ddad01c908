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

  /// Prepares the command line; the process starts with `start()`, its
  /// console pipe existing from the first instruction on.
  public func create(_ request: MachineRequest) async throws -> any BackendMachine {
    let settings = request.settings
    let socket = try QemuControl.socketPath()
    let argv =
      [settings.qemuExecutable]
      + QemuCommand.arguments(bootImage: request.bootImage, settings: settings)
      + ["-qmp", "unix:\(socket),server=on,wait=off"]
    return QemuMachine(argv: argv, guardPath: try await QemuGuard.executable(), socket: socket)
  }
}

/// One QEMU process.
final class QemuMachine: BackendMachine {
  let events: AsyncStream<MachineEvent>
  private let feed: AsyncStream<MachineEvent>.Continuation
  let argv: [String]
  let guardPath: String
  let socket: String

  private struct State {
    var pid: Int32 = 0
    var reaped = false
    var exitCode: Int32?
    var signal: Int32?
    var stderr = ""
  }
  private let state = Mutex(State())

  init(argv: [String], guardPath: String, socket: String) {
    (events, feed) = AsyncStream.makeStream(of: MachineEvent.self)
    self.argv = argv
    self.guardPath = guardPath
    self.socket = socket
  }

  var control: (any MachineControl)? {
    QmpControl(socket: socket, guardPID: state.withLock { $0.pid })
  }

  /// QEMU's exit is reported after its standard output ended.
  var drainAfterStop: Duration { .zero }

  func start() async throws -> Int32? {
    let lifeline = try QemuGuard.lifelineReadEnd()
    let (argv, guardPath, feed) = (argv, guardPath, feed)
    let started = StartSignal()
    return try await withCheckedThrowingContinuation { continuation in
      started.continuation.withLock { $0 = continuation }
      // Detached: the process lives until it stops or `destroy` kills it,
      // whatever happens to the task that started it.
      Task.detached { [self] in
        var options = PlatformOptions()
        options.processGroupID = 0
        do {
          let result: ExecutionResult<Void, SequenceOutput, StringOutput<UTF8>> =
            try await Subprocess.run(
              .path(FilePath(guardPath)), arguments: Arguments(argv),
              platformOptions: options,
              input: .fileDescriptor(
                FileDescriptor(rawValue: lifeline), closeAfterSpawningProcess: false),
              output: .sequence, error: .string(limit: 1 << 20)
            ) { execution in
              let pid = execution.processIdentifier.value
              state.withLock { $0.pid = pid }
              QemuProcessRegistry.register(pid)
              defer { QemuProcessRegistry.unregister(pid) }
              started.continuation.withLock { $0.take() }?.resume(returning: pid)
              for try await chunk in execution.standardOutput {
                feed.yield(.console(chunk.withUnsafeBytes { Array($0) }))
              }
              feed.yield(.consoleEnded)
            }
          let stop: MachineStop
          switch result.terminationStatus {
          case .exited(let code): stop = .exited(Int32(code))
          case .signaled(let value): stop = .signaled(Int32(value))
          }
          state.withLock { state in
            state.reaped = true
            state.stderr = result.standardError
            if case .exited(let code) = stop { state.exitCode = code }
            if case .signaled(let signal) = stop { state.signal = signal }
          }
          feed.yield(.stopped(stop))
        } catch {
          state.withLock { $0.reaped = true }
          if let continuation = started.continuation.withLock({ $0.take() }) {
            continuation.resume(
              throwing: HarnessError.launchFailed(argv[0], underlying: "\(error)"))
          } else {
            feed.yield(.stopped(.signaled(SIGKILL)))
          }
        }
        feed.finish()
      }
    }
  }

  func destroy() async {
    let pid = state.withLock { $0.reaped || $0.pid == 0 ? nil : $0.pid }
    if let pid { QemuGuard.stop(pid) }
  }

  func finish(_ run: EngineSummary) async -> MachineReport {
    unlink(socket)
    let state = state.withLock { $0 }
    return MachineReport(
      details: .qemu(
        QemuDetails(
          argv: argv, processID: state.pid, exitCode: state.exitCode, signal: state.signal,
          stderr: state.stderr)))
  }
}

/// Hands the process id (or the spawn error) to `start()` once.
private final class StartSignal: Sendable {
  let continuation = Mutex<CheckedContinuation<Int32?, any Error>?>(nil)
}

/// QMP on a bare QEMU's private socket.
struct QmpControl: MachineControl {
  let socket: String
  let guardPID: Int32

  func execute(_ command: String, arguments: String?) async throws -> String {
    let client = try QmpClient(path: socket, timeout: .seconds(2))
    return try client.execute(command, arguments: arguments)
  }

  func triage(architecture: Architecture) async -> TriageCapture {
    // Where QEMU's threads were (a vCPU spinning in the guest, or blocked
    // in the kernel), then every vCPU's registers.
    let threads = ProcessSnapshot.threads(of: QemuGuard.child(of: guardPID) ?? guardPID)
    let captured = VcpuTriage.capture(qmp: socket, architecture: architecture)
    return TriageCapture(
      positions: captured.positions, transcript: captured.transcript, hostThreads: threads)
  }
}
