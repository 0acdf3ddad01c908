import Foundation
import Harness
import Synchronization

/// Boots a payload as a transient libvirt domain and reads its console:
/// the same protocol, parser and verdicts as bare QEMU. The domain starts
/// paused, its console stream is attached, and only then does it run, so no
/// output is lost at the start; AUTODESTROY ties it to the connection.
///
/// The console stream drives the run (progress, silence, the exit line);
/// the verdict comes from QEMU's console log when it could be read, because
/// a pty drops what its reader had not read yet when QEMU exits.
public enum LibvirtLauncher {
  /// After the guest's exit line, the domain gets this long to power off.
  static let exitGrace: Duration = .seconds(5)
  /// After the domain stopped, the stream gets this long to deliver its
  /// last bytes when there is no console log to read instead.
  static let drainWithoutLog: Duration = .milliseconds(500)

  private final class Shared: Sendable {
    struct State {
      var parser = KTAPParser()
      var log: [UInt8] = []
      var timeline = SerialTimeline()
      var lastOutput: ContinuousClock.Instant
      var firstOutputAt: ContinuousClock.Instant?
      var exitLineAt: ContinuousClock.Instant?
      var consoleEnded = false
      /// The output limit (or the check limit) was reached.
      var outputLimitHit = false
    }
    let state: Mutex<State>
    init(start: ContinuousClock.Instant) { state = Mutex(State(lastOutput: start)) }
  }

  /// A unique transient domain name for `guest`.
  public static func domainName(for guest: String) -> String {
    "swiftguest-\(guest)-\(UUID().uuidString.prefix(8).lowercased())"
  }

  /// Runs `bootImage` (a path the daemon can read) with `settings`.
  ///
  /// The run's notes end with who ended the domain: the guest (SHUTDOWN or
  /// CRASHED event; `machineEnd` is then `.poweredOff` or `.panicked`) or
  /// the harness (interrupted, timeout, exit grace; `machineEnd` nil). When
  /// the calling task is cancelled (Ctrl-C) before the guest's exit line,
  /// the domain is destroyed and the run comes back with `interrupted` set.
  public static func run(
    guest: String, bootImage: String, settings: LaunchSettings, connection: LibvirtConnection
  ) async throws -> QemuRun {
    let name = domainName(for: guest)
    var notes: [String] = ["libvirt \(connection.uri) domain \(name)"]
    let logPath: String?
    do {
      logPath = try connection.consoleLogPath(domain: name)
    } catch {
      logPath = nil
      notes.append("no console log (the stream alone decides): \(error)")
    }
    let xml = DomainXML.make(name: name, kernel: bootImage, settings: settings, consoleLog: logPath)
    let start = ContinuousClock.now
    let shared = Shared(start: start)
    let watch = try LifecycleWatch(connection: connection, domainName: name)
    defer { watch.cancel() }
    let domain = try connection.createPausedTransientDomain(xml)
    var torndown = false
    defer { if !torndown { domain.destroy() } }
    let console = try domain.openConsole(
      onData: { bytes in
        shared.state.withLock { state in
          let now = ContinuousClock.now
          state.lastOutput = now
          if state.outputLimitHit { return }
          var kept = bytes[...]
          let room = settings.outputLimitBytes - state.log.count
          if kept.count > room {
            kept = kept.prefix(max(room, 0))
            state.outputLimitHit = true
          }
          state.log += kept
          state.timeline.record(endOffset: state.log.count, at: now - start)
          state.parser.consume(bytes: kept)
          if state.parser.result.checkLimitReached { state.outputLimitHit = true }
          if state.firstOutputAt == nil { state.firstOutputAt = now }
          if state.exitLineAt == nil && state.parser.result.exitStatus != nil {
            state.exitLineAt = now
          }
        }
      },
      onEnd: { shared.state.withLock { $0.consoleEnded = true } })
    defer { console.close() }
    try domain.resume()
    var timeout: TimeoutKind?
    var cancelled = false
    var interrupted = false
    var graceOver = false
    var outputLimitHit = false
    var stoppedAt: ContinuousClock.Instant?
    var polls = 0
    while true {
      try? await Task.sleep(for: .milliseconds(10))
      let now = ContinuousClock.now
      let (exitLineAt, lastOutput, consoleEnded, firstOutputAt, flooded) = shared.state.withLock {
        ($0.exitLineAt, $0.lastOutput, $0.consoleEnded, $0.firstOutputAt, $0.outputLimitHit)
      }
      if flooded {
        outputLimitHit = true
        break
      }
      // Done once libvirt saw the power-off or panic that follows the exit
      // line. (Checked first: calls on a domain libvirt is taking down
      // wait until it is gone.)
      if exitLineAt != nil && (watch.shutdown || watch.crashed) { break }
      polls += 1
      if watch.stopped || (polls % 25 == 0 && domain.isCertainlyInactive) || !connection.isAlive {
        if stoppedAt == nil { stoppedAt = now }
        // The log has every byte; without it, let the stream drain.
        if logPath != nil || consoleEnded || now - stoppedAt! > drainWithoutLog { break }
        continue
      }
      if Task.isCancelled {
        // Ctrl-C: the domain must not outlive this call, and the run means
        // nothing unless the guest had finished already.
        cancelled = true
        interrupted = exitLineAt == nil
        break
      }
      if let exitLineAt {
        if now - exitLineAt > exitGrace {
          graceOver = true
          break
        }
        continue
      }
      if now - start > settings.timeout {
        timeout = .deadline
        break
      }
      // Silence is the guest's: it counts from its first byte (before, the
      // firmware runs, bounded by the deadline).
      if firstOutputAt != nil, now - lastOutput > settings.silenceTimeout {
        timeout = .silence
        break
      }
    }
    // How the machine ended, fixed before the harness destroys anything
    // (a destroy can make QEMU report a host-caused shutdown of its own).
    let machineEnd = watch.machineEnd
    let ending: Ending
    if let machineEnd {
      ending = .guest(machineEnd)
    } else if cancelled {
      ending = .harness("interrupted")
    } else if outputLimitHit {
      ending = .harness("output limit")
    } else if let timeout {
      ending = .harness(timeout == .deadline ? "timeout (deadline)" : "timeout (silence)")
    } else if graceOver {
      ending = .harness(
        "exit grace (no power-off or panic \(Milliseconds.text(exitGrace)) after the exit line)")
    } else if !connection.isAlive {
      ending = .connectionLost
    } else {
      ending = .stoppedByItself
    }
    if machineEnd != nil {
      // libvirt is taking the domain down already.
      domain.destroyDetached()
    } else {
      domain.destroy()
    }
    torndown = true
    console.close()
    let (streamed, live, firstOutputAt, exitLineAt, timeline) = shared.state.withLock { state in
      (state.log, state.parser.finish(), state.firstOutputAt, state.exitLineAt, state.timeline)
    }
    var output = streamed
    var stream = live
    if logPath != nil {
      do {
        if var logged = try connection.takeConsoleLog(domain: name, path: logPath!) {
          // The file has what QEMU wrote until the destroy: keep it to the
          // limit, as the stream was.
          if outputLimitHit { logged = Array(logged.prefix(settings.outputLimitBytes)) }
          if let note = Self.compare(streamed: streamed, logged: logged) { notes.append(note) }
          if logged.count >= streamed.count {
            output = logged
            var parser = KTAPParser()
            parser.consume(bytes: logged)
            stream = parser.finish()
          }
        } else {
          notes.append("QEMU wrote no console log; the stream alone decides")
        }
      } catch {
        notes.append("console log unreadable (the stream alone decides): \(error)")
      }
    }
    let duration = ContinuousClock.now - start
    let timing = [
      firstOutputAt.map { "first output @\(Milliseconds.text($0 - start))" },
      exitLineAt.map { "exit line @\(Milliseconds.text($0 - start))" },
      stoppedAt.map { "seen stopped @\(Milliseconds.text($0 - start))" },
    ].compactMap { $0 }
    notes.append("events: \(watch.summary(since: start)); \(timing.joined(separator: ", "))")
    notes.append("libvirt: \(ending.note(events: watch))")
    var run = QemuRun(
      stream: stream, serialLog: String(decoding: output, as: UTF8.self),
      stderr: notes.joined(separator: "\n"), exitCode: nil, signal: nil, timeout: timeout,
      duration: duration, command: ["virDomainCreateXML", connection.uri, xml], processID: 0)
    // Bytes only the console log had carry no arrival time.
    run.timeline = timeline
    run.interrupted = interrupted
    if outputLimitHit { run.outputLimitReached = settings.outputLimitBytes }
    if case .guest(let end) = ending { run.machineEnd = end }
    return run
  }

  /// Who ended the domain.
  enum Ending {
    /// The guest: libvirt's SHUTDOWN or CRASHED event.
    case guest(MachineEnd)
    /// The domain stopped without a power-off or panic event (e.g. a reset
    /// under `<on_reboot>destroy`).
    case stoppedByItself
    /// The harness destroyed it, for this reason.
    case harness(String)
    /// The connection to the daemon died first.
    case connectionLost

    /// The lifecycle note for the run's notes.
    func note(events: LifecycleWatch) -> String {
      switch self {
      case .guest(.panicked): "the guest panicked (CRASHED event)"
      case .guest: "the guest powered off (SHUTDOWN event)"
      case .stoppedByItself:
        "the domain stopped by itself without a power-off or panic event"
          + (events.stopDetail.map { " (STOPPED/\($0))" } ?? "")
      case .harness(let reason): "destroyed by the harness: \(reason)"
      case .connectionLost: "the connection to the daemon was lost"
      }
    }
  }

  /// A note when the console stream and the console log disagree: the
  /// stream should be a prefix of the log.
  static func compare(streamed: [UInt8], logged: [UInt8]) -> String? {
    if streamed == logged { return nil }
    if logged.count > streamed.count && logged.starts(with: streamed) {
      return "the console stream lost the last \(logged.count - streamed.count) bytes; "
        + "the console log has them"
    }
    return "the console stream (\(streamed.count) bytes) and the console log "
      + "(\(logged.count) bytes) differ; the longer one decides"
  }
}
