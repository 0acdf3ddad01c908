import Foundation
import Subprocess
import Synchronization

#if canImport(System)
  import System
#else
  import SystemPackage
#endif

/// How a QEMU run ended.
public struct QemuRun: Sendable {
  /// The parsed serial stream.
  public var stream: ParsedStream
  /// The raw serial output.
  public var serialLog: String
  /// QEMU's standard error.
  public var stderr: String
  /// Exit code, or nil when QEMU was ended by a signal.
  public var exitCode: Int32?
  /// The signal that ended QEMU, if any.
  public var signal: Int32?
  /// Which limit ended the run, if one did.
  public var timeout: TimeoutKind?
  /// Wall time from start to exit.
  public var duration: Duration
  /// argv, executable first.
  public var command: [String]
  /// Process id QEMU had (its process group id too).
  public var processID: Int32
  /// Whether the run was cut short because its task was cancelled (Ctrl-C):
  /// QEMU's process group was killed and the verdict means nothing.
  public var interrupted: Bool = false
  /// Remarks of the backend that belong in the verdict's reason (e.g. a
  /// libvirt host dropped out and the cell was re-queued).
  public var notes: [String] = []
  /// Set when the backend could not run the cell here at all (SKIP).
  public var skipReason: String? = nil
  /// When the serial output arrived.
  public var timeline = SerialTimeline()
  /// How the machine itself ended, when it ended on its own (nil: the
  /// harness had to kill it, or it never stopped). See `MachineEnd`.
  public var machineEnd: MachineEnd? = nil
  /// The output limit (bytes) when the serial output passed it and QEMU
  /// was killed for it; nil otherwise.
  public var outputLimitReached: Int? = nil
  /// Where each vCPU was when a timeout made the harness kill QEMU (read
  /// through QMP just before; not yet symbolized).
  public var vcpuPositions: [VcpuPosition] = []
}

/// The QEMU process groups this process has started and not yet reaped, so
/// that an interrupt handler can kill every one of them synchronously.
public enum QemuProcessRegistry {
  private static let state = Mutex<(groups: Set<Int32>, closed: Bool)>(([], false))

  /// Process group ids of the QEMU processes running now.
  public static var running: Set<Int32> { state.withLock { $0.groups } }

  /// Records a started group; kills it at once when `killAll` ran already.
  static func register(_ group: Int32) {
    let closed = state.withLock { state in
      state.groups.insert(group)
      return state.closed
    }
    if closed { QemuGuard.stop(group) }
  }

  /// Forgets a group whose leader has exited.
  static func unregister(_ group: Int32) {
    _ = state.withLock { $0.groups.remove(group) }
  }

  /// Sends SIGKILL to every registered QEMU process group. With
  /// `refuseNew`, groups registered afterwards are killed as they start
  /// (for an interrupted run). Safe to call from any thread.
  public static func killAll(refuseNew: Bool = true) {
    let groups = state.withLock { state in
      if refuseNew { state.closed = true }
      return state.groups
    }
    for group in groups { QemuGuard.stop(group) }
  }
}

/// Sizes the launcher keeps to.
public enum QemuLauncherLimits {
  /// Bytes of serial output kept after the output limit was reached.
  public static let keptTail = 16 << 10
}

/// The limit that ended a run.
public enum TimeoutKind: String, Sendable, Codable {
  /// The overall deadline.
  case deadline
  /// No serial output for the silence timeout.
  case silence
}

/// Starts QEMU as a child in its own process group, streams its serial
/// output (stdout) into a `KTAPParser`, and enforces the deadline and the
/// silence timeout by killing the whole process group.
public enum QemuLauncher {
  /// After the guest's exit line, QEMU gets this long to exit on its own.
  static let exitGrace: Duration = .seconds(5)

  private final class LaunchState: Sendable {
    let shared: Mutex<Shared>
    let pid = Atomic<Int32>(0)
    init(start: ContinuousClock.Instant) { shared = Mutex(Shared(lastOutput: start)) }
  }

  private struct Shared {
    var parser = KTAPParser()
    var log: [UInt8] = []
    var timeline = SerialTimeline()
    /// QEMU's threads when a timeout killed it.
    var snapshot: [String] = []
    /// The vCPUs' positions and the QMP transcript, read before that kill.
    var positions: [VcpuPosition] = []
    var monitor: [String] = []
    var lastOutput: ContinuousClock.Instant
    var timeout: TimeoutKind?
    var exitLineAt: ContinuousClock.Instant?
    var readerDone = false
    var interrupted = false
    /// The harness killed QEMU (timeout, exit grace, output limit,
    /// interrupt): its end says nothing about the guest.
    var killedByHarness = false
    /// Serial bytes received in all (the log keeps at most the limit).
    var received = 0
    /// The last bytes received after the output limit was reached.
    var tail: [UInt8] = []
    var outputLimitHit = false
  }

  /// Bytes of the tail kept after the output limit was reached.
  static let keptTail = QemuLauncherLimits.keptTail

  private enum Task { case reader, watchdog }

  /// Boots `bootImage` with `settings` and waits until QEMU is gone.
  ///
  /// `onStart` is called with QEMU's process id (= its process group id)
  /// once it runs; `onSerial` with each chunk of serial output as it
  /// arrives. When the calling task is cancelled, QEMU's process group is
  /// killed and the run returns with `interrupted` set.
  public static func run(
    bootImage: String, settings: LaunchSettings,
    onStart: (@Sendable (Int32) -> Void)? = nil,
    onSerial: (@Sendable ([UInt8]) -> Void)? = nil
  ) async throws -> QemuRun {
    let executable = settings.qemuExecutable
    // Every QEMU gets a QMP socket (a private directory; never TCP): the
    // harness reads the vCPUs' positions through it before a timeout kill.
    let monitorSocket = try QemuControl.socketPath()
    defer { unlink(monitorSocket) }
    let arguments =
      QemuCommand.arguments(bootImage: bootImage, settings: settings)
      + ["-qmp", "unix:\(monitorSocket),server=on,wait=off"]
    // QEMU runs under the guard, which kills it if this process dies.
    let guardPath = try await QemuGuard.executable()
    let lifeline = try QemuGuard.lifelineReadEnd()
    var options = PlatformOptions()
    options.processGroupID = 0
    // On cancellation Subprocess tears the child down: SIGTERM makes the
    // guard kill QEMU and reap it; the group kill is the fallback.
    options.teardownSequence = [
      // (QEMU's exit can take a while on a loaded host: freeing its guest
      // RAM; a group kill before the guard reaped it orphans a zombie.)
      .send(signal: .terminate, toProcessGroup: false, allowedDurationToNextStep: .seconds(5)),
      .send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .milliseconds(200)),
    ]
    let start = ContinuousClock.now
    let launch = LaunchState(start: start)
    let result: ExecutionResult<Void, SequenceOutput, StringOutput<UTF8>>
    do {
      result = try await Subprocess.run(
        .path(FilePath(guardPath)), arguments: Arguments([executable] + arguments),
        platformOptions: options,
        input: .fileDescriptor(FileDescriptor(rawValue: lifeline), closeAfterSpawningProcess: false),
        output: .sequence, error: .string(limit: 1 << 20)
      ) { execution in
        let pid = execution.processIdentifier.value
        launch.pid.store(pid, ordering: .relaxed)
        QemuProcessRegistry.register(pid)
        defer { QemuProcessRegistry.unregister(pid) }
        onStart?(pid)
        try await withThrowingTaskGroup(of: Task.self) { group in
          group.addTask {
            for try await chunk in execution.standardOutput {
              chunk.withUnsafeBytes { raw in
                let bytes = Array(raw)
                onSerial?(bytes)
                let overLimit = launch.shared.withLock { state -> Bool in
                  state.received += bytes.count
                  state.lastOutput = .now
                  if state.outputLimitHit {
                    // QEMU is being killed: keep only the tail.
                    state.tail += bytes
                    if state.tail.count > keptTail {
                      state.tail.removeFirst(state.tail.count - keptTail)
                    }
                    return false
                  }
                  var kept = bytes[...]
                  var justHit = false
                  let room = settings.outputLimitBytes - state.log.count
                  if kept.count > room {
                    state.tail = Array(kept.dropFirst(max(room, 0)).suffix(keptTail))
                    kept = kept.prefix(max(room, 0))
                    state.outputLimitHit = true
                    state.killedByHarness = true
                    justHit = true
                  }
                  state.log += kept
                  state.timeline.record(endOffset: state.log.count, at: .now - start)
                  state.parser.consume(bytes: kept)
                  if !state.outputLimitHit && state.parser.result.checkLimitReached {
                    state.outputLimitHit = true
                    state.killedByHarness = true
                    justHit = true
                  }
                  if state.exitLineAt == nil && state.parser.result.exitStatus != nil {
                    state.exitLineAt = .now
                  }
                  return justHit
                }
                if overLimit {
                  // Past the output limit: the guest is flooding its console.
                  QemuGuard.stop(pid)
                }
              }
            }
            launch.shared.withLock { $0.readerDone = true }
            return .reader
          }
          group.addTask {
            while true {
              try? await Swift.Task.sleep(for: .milliseconds(50))
              if Swift.Task.isCancelled {
                // Interrupted (Ctrl-C): the group must not outlive this call.
                let interrupted = launch.shared.withLock { state in
                  if !state.readerDone {
                    state.interrupted = true
                    state.killedByHarness = true
                  }
                  return state.interrupted
                }
                // After a normal end QEMU is exiting on its own; a kill now
                // could replace its isa-debug-exit status with a signal.
                if interrupted { QemuGuard.stop(pid) }
                break
              }
              let now = ContinuousClock.now
              let kill: Bool = launch.shared.withLock { state in
                if let exitLineAt = state.exitLineAt {
                  // The exit line came but the machine did not stop.
                  if now - exitLineAt > exitGrace { state.killedByHarness = true }
                  return state.killedByHarness
                }
                if now - start > settings.timeout {
                  state.timeout = .deadline
                } else if state.received > 0, now - state.lastOutput > settings.silenceTimeout {
                  // Silence is the guest's: it counts from its first byte.
                  // Before that the firmware runs (SeaBIOS under this
                  // host's nested KVM: ~4 s idle, past 30 s under load),
                  // bounded by the deadline alone.
                  state.timeout = .silence
                }
                if state.timeout != nil { state.killedByHarness = true }
                return state.timeout != nil
              }
              if kill {
                // Before the kill: where QEMU's threads were (a vCPU
                // spinning in the guest, or blocked in the kernel).
                let timedOut = launch.shared.withLock { $0.timeout != nil }
                if timedOut {
                  let threads = ProcessSnapshot.threads(of: QemuGuard.child(of: pid) ?? pid)
                  let triage = VcpuTriage.capture(qmp: monitorSocket, architecture: settings.architecture)
                  launch.shared.withLock {
                    $0.snapshot = threads
                    $0.positions = triage.positions
                    $0.monitor = triage.transcript
                  }
                }
                QemuGuard.stop(pid)
                break
              }
            }
            return .watchdog
          }
          while let finished = try await group.next() {
            if finished == .reader {
              group.cancelAll()
              break
            }
          }
        }
      }
    } catch {
      if Swift.Task.isCancelled {
        // Cancelled while starting or reading: Subprocess's teardown killed
        // the group; report an interrupted run rather than a launch error.
        // (No kill here: the process is reaped and its pid may be reused.)
        let pid = launch.pid.load(ordering: .relaxed)
        let final = launch.shared.withLock { state in
          (state.parser.finish(), String(decoding: state.log, as: UTF8.self), state.timeline)
        }
        var run = QemuRun(
          stream: final.0, serialLog: final.1, stderr: "", exitCode: nil, signal: SIGKILL,
          timeout: nil, duration: ContinuousClock.now - start,
          command: [executable] + arguments, processID: pid, interrupted: true)
        run.timeline = final.2
        return run
      }
      throw HarnessError.launchFailed(executable, underlying: "\(error)")
    }
    let duration = ContinuousClock.now - start
    var exitCode: Int32?
    var signal: Int32?
    switch result.terminationStatus {
    case .exited(let code): exitCode = Int32(code)
    case .signaled(let value): signal = Int32(value)
    }
    let final = launch.shared.withLock { state in
      var log = state.log
      if state.outputLimitHit {
        let dropped = state.received - state.log.count - state.tail.count
        log += Array(
          "\n[swift-guest-harness: output limit of \(settings.outputLimitBytes) bytes reached; QEMU killed; \(dropped) bytes dropped; the last \(state.tail.count) bytes follow]\n"
            .utf8)
        log += state.tail
      }
      return (
        state.parser.finish(), String(decoding: log, as: UTF8.self), state.timeout,
        state.interrupted || (Swift.Task.isCancelled && state.exitLineAt == nil && signal != nil),
        state.timeline, state.snapshot, state.killedByHarness, state.outputLimitHit,
        state.positions, state.monitor
      )
    }
    var threads =
      final.5.isEmpty
      ? "" : "\nQEMU threads when the timeout killed it:\n" + final.5.map { "  " + $0 }.joined(separator: "\n")
    if !final.9.isEmpty {
      threads += "\nQEMU monitor (QMP) before the kill:\n" + final.9.map { "  " + $0 }.joined(separator: "\n")
    }
    var run = QemuRun(
      stream: final.0, serialLog: final.1, stderr: result.standardError + threads,
      exitCode: exitCode, signal: signal, timeout: final.2, duration: duration,
      command: [executable] + arguments, processID: launch.pid.load(ordering: .relaxed),
      interrupted: final.3)
    run.timeline = final.4
    if final.7 { run.outputLimitReached = settings.outputLimitBytes }
    run.vcpuPositions = final.8
    // Only an exit QEMU made by itself is the machine's own end.
    if !final.6, let exitCode { run.machineEnd = .exited(exitCode) }
    return run
  }
}

/// The harness's private directory for QMP sockets: one per process, mode
/// 0700, under the temporary directory.
enum QemuControl {
  private static let counter = Mutex(0)

  /// A fresh socket path for one QEMU.
  static func socketPath() throws -> String {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("swiftguest-qmp-\(getuid())-\(getpid())").path
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let number = counter.withLock { value in
      value += 1
      return value
    }
    return "\(directory)/qmp-\(number).sock"
  }
}
