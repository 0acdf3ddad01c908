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
    var lastOutput: ContinuousClock.Instant
    var timeout: TimeoutKind?
    var exitLineAt: ContinuousClock.Instant?
  }

  private enum Task { case reader, watchdog }

  /// Boots `bootImage` with `settings` and waits until QEMU is gone.
  public static func run(bootImage: String, settings: LaunchSettings) async throws -> QemuRun {
    let executable = settings.architecture.qemuBinary
    let arguments = QemuCommand.arguments(bootImage: bootImage, settings: settings)
    var options = PlatformOptions()
    options.processGroupID = 0
    let start = ContinuousClock.now
    let launch = LaunchState(start: start)
    let result: ExecutionResult<Void, SequenceOutput, StringOutput<UTF8>>
    do {
      result = try await Subprocess.run(
        .name(executable), arguments: Arguments(arguments), platformOptions: options,
        input: .none, output: .sequence, error: .string(limit: 1 << 20)
      ) { execution in
        launch.pid.store(execution.processIdentifier.value, ordering: .relaxed)
        try await withThrowingTaskGroup(of: Task.self) { group in
          group.addTask {
            for try await chunk in execution.standardOutput {
              chunk.withUnsafeBytes { raw in
                let bytes = Array(raw)
                launch.shared.withLock { state in
                  state.log += bytes
                  state.parser.consume(bytes: bytes)
                  state.lastOutput = .now
                  if state.exitLineAt == nil && state.parser.result.exitStatus != nil {
                    state.exitLineAt = .now
                  }
                }
              }
            }
            return .reader
          }
          group.addTask {
            while !Swift.Task.isCancelled {
              try? await Swift.Task.sleep(for: .milliseconds(50))
              let now = ContinuousClock.now
              let kill: Bool = launch.shared.withLock { state in
                if let exitLineAt = state.exitLineAt {
                  return now - exitLineAt > exitGrace
                }
                if now - start > settings.timeout {
                  state.timeout = .deadline
                } else if now - state.lastOutput > settings.silenceTimeout {
                  state.timeout = .silence
                }
                return state.timeout != nil
              }
              if kill {
                try? execution.send(signal: .kill, toProcessGroup: true)
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
      (state.parser.finish(), String(decoding: state.log, as: UTF8.self), state.timeout)
    }
    return QemuRun(
      stream: final.0, serialLog: final.1, stderr: result.standardError,
      exitCode: exitCode, signal: signal, timeout: final.2, duration: duration,
      command: [executable] + arguments, processID: launch.pid.load(ordering: .relaxed))
  }
}
