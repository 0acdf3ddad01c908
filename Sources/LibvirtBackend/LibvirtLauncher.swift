import Foundation
import Harness
import Synchronization

/// Boots a payload as a transient libvirt domain and reads its console:
/// the same protocol, parser and verdicts as bare QEMU. The domain starts
/// paused, its console stream is attached, and only then does it run, so no
/// output is lost; AUTODESTROY ties it to the connection.
public enum LibvirtLauncher {
  /// After the guest's exit line, the domain gets this long to stop.
  static let exitGrace: Duration = .seconds(5)

  private final class Shared: Sendable {
    struct State {
      var parser = KTAPParser()
      var log: [UInt8] = []
      var lastOutput: ContinuousClock.Instant
      var exitLineAt: ContinuousClock.Instant?
      var consoleEnded = false
    }
    let state: Mutex<State>
    init(start: ContinuousClock.Instant) { state = Mutex(State(lastOutput: start)) }
  }

  /// A unique transient domain name for `guest`.
  public static func domainName(for guest: String) -> String {
    "swiftguest-\(guest)-\(UUID().uuidString.prefix(8).lowercased())"
  }

  /// Runs `bootImage` (a path the daemon can read) with `settings`.
  public static func run(
    guest: String, bootImage: String, settings: LaunchSettings, connection: LibvirtConnection
  ) async throws -> QemuRun {
    let name = domainName(for: guest)
    let xml = DomainXML.make(name: name, kernel: bootImage, settings: settings)
    let start = ContinuousClock.now
    let shared = Shared(start: start)
    let watch = try LifecycleWatch(connection: connection, domainName: name)
    defer { watch.cancel() }
    let domain = try connection.createPausedTransientDomain(xml)
    defer { domain.destroy() }
    let console = try domain.openConsole(
      onData: { bytes in
        shared.state.withLock { state in
          state.log += bytes
          state.parser.consume(bytes: bytes)
          state.lastOutput = .now
          if state.exitLineAt == nil && state.parser.result.exitStatus != nil {
            state.exitLineAt = .now
          }
        }
      },
      onEnd: { shared.state.withLock { $0.consoleEnded = true } })
    defer { console.close() }
    try domain.resume()
    var timeout: TimeoutKind?
    var stoppedAt: ContinuousClock.Instant?
    while true {
      try? await Task.sleep(for: .milliseconds(20))
      let now = ContinuousClock.now
      let (exitLineAt, lastOutput, consoleEnded) = shared.state.withLock {
        ($0.exitLineAt, $0.lastOutput, $0.consoleEnded)
      }
      if watch.stopped || domain.isCertainlyInactive || !connection.isAlive {
        // Let the console drain what the guest wrote last.
        if stoppedAt == nil { stoppedAt = now }
        if consoleEnded || now - stoppedAt! > .milliseconds(500) { break }
        continue
      }
      if Task.isCancelled { break }
      if let exitLineAt {
        if now - exitLineAt > exitGrace { break }
        continue
      }
      if now - start > settings.timeout {
        timeout = .deadline
        break
      }
      if now - lastOutput > settings.silenceTimeout {
        timeout = .silence
        break
      }
    }
    domain.destroy()
    let duration = ContinuousClock.now - start
    let (stream, log) = shared.state.withLock { state in
      (state.parser.finish(), String(decoding: state.log, as: UTF8.self))
    }
    var notes: [String] = ["libvirt \(connection.uri) domain \(name)"]
    let stopDelay = stoppedAt.map { "\($0 - start)" } ?? "never"
    notes.append("events: \(watch.events.map { "\($0.event)/\($0.detail)" }.joined(separator: ",")) stopped at \(stopDelay)")
    if watch.crashed { notes.append("libvirt: the guest panicked (CRASHED event)") }
    if watch.shutdown { notes.append("libvirt: the guest powered off (SHUTDOWN event)") }
    return QemuRun(
      stream: stream, serialLog: log, stderr: notes.joined(separator: "\n"), exitCode: nil,
      signal: nil, timeout: timeout, duration: duration,
      command: ["virDomainCreateXML", connection.uri, xml], processID: 0)
  }
}
