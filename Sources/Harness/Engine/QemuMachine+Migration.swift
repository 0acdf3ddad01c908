import Foundation

/// Live migration of a bare QEMU to a fresh QEMU on this host: the same
/// binary and argv (its own QMP socket and console input, and `-incoming
/// defer`), QMP `migrate-incoming` on the destination, `migrate` on the
/// source over a Unix socket in the run directory, `query-migrate` until
/// `completed`, the destination running; then the source's console is read
/// to its end, the source destroyed, and the destination's console bytes
/// follow in the same stream.
extension QemuMachine {
  func migrate(hop: Int, timeout: Duration) async -> Result<MigrationHop, MigrationFailure> {
    let began = ContinuousClock.now
    func failure(_ reason: String) -> Result<MigrationHop, MigrationFailure> {
      .failure(MigrationFailure(hop: hop, reason: reason))
    }
    guard let source = current, !state.withLock({ $0.destroyed }) else {
      return failure("the machine is gone")
    }
    let base = socket.hasSuffix(".sock") ? String(socket.dropLast(5)) : socket
    let destinationSocket = "\(base)-hop\(hop).sock"
    let channel = "\(base)-hop\(hop).migrate"
    unlink(channel)
    let destination: QemuProcess
    do {
      destination = try QemuProcess(
        argv: Self.destinationArguments(source.argv, monitor: destinationSocket),
        socket: destinationSocket, inputPath: source.inputPath == nil ? nil : "\(base)-hop\(hop).in")
    } catch {
      return failure("\(error)")
    }
    // From here on `destroy` ends the destination too.
    let destroyed = state.withLock { state in
      state.retired.append(destination)
      return state.destroyed
    }
    guard !destroyed else { return failure("the machine was destroyed") }
    let gate = OneShot()
    do {
      _ = try await destination.launch(guardPath: guardPath, feed: feed, gate: gate)
    } catch {
      return failure("the destination QEMU did not start: \(error)")
    }
    if state.withLock({ $0.destroyed }) {
      destination.stop()
      return failure("the machine was destroyed")
    }
    let deadline = began + timeout
    let measured = await BlockingWork.run {
      Result { () throws(MigrationConversationError) in
        try QemuMigration.converse(
          source: source.socket, destination: destination, uri: "unix:\(channel)",
          deadline: deadline)
      }
    }
    unlink(channel)
    switch measured {
    case .failure(let error):
      destination.stop()
      let stderr = destination.snapshot.stderr.split(separator: "\n").last.map { " (destination: \($0))" } ?? ""
      return failure(error.description + stderr)
    case .success(var hopFigures):
      // The destination runs the guest now; the source's end is no stop.
      let destroyed = state.withLock { state in
        state.retired.removeAll { $0 === destination }
        state.retired.append(source)
        state.current = destination
        return state.destroyed
      }
      await source.retire()
      gate.open()
      if destroyed { destination.stop() }
      hopFigures.number = hop
      hopFigures.wallMilliseconds = Self.milliseconds(.now - began)
      return .success(hopFigures)
    }
  }

  /// The source's argv with its own QMP socket replaced by `monitor` and
  /// `-incoming defer` added.
  static func destinationArguments(_ argv: [String], monitor: String) -> [String] {
    var arguments = argv
    if let index = arguments.firstIndex(of: "-qmp"), index + 1 < arguments.count {
      arguments[index + 1] = "unix:\(monitor),server=on,wait=off"
    }
    return arguments + ["-incoming", "defer"]
  }

  static func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    return Int(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
  }
}

/// A failed step of the migration conversation, in words.
struct MigrationConversationError: Error, CustomStringConvertible {
  var description: String
}

/// The QMP side of one hop.
enum QemuMigration {
  /// How often `query-migrate` and `query-status` are asked while waiting.
  static let pollInterval: UInt32 = 10_000

  /// Connects to both monitors, migrates and waits for the destination to
  /// run; returns QEMU's figures (number and wall time left to the caller).
  static func converse(
    source sourceSocket: String, destination: QemuProcess, uri: String,
    deadline: ContinuousClock.Instant
  ) throws(MigrationConversationError) -> MigrationHop {
    func left() throws(MigrationConversationError) -> Duration {
      let left = deadline - .now
      guard left > .zero else {
        throw MigrationConversationError(description: "no completion within the migration timeout")
      }
      return left
    }
    func quoted(_ text: String) -> String {
      String(decoding: (try? JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed])) ?? Data(), as: UTF8.self)
    }
    // The destination's monitor exists once QEMU has parsed its argv.
    var target: QmpClient?
    while target == nil {
      if destination.snapshot.reaped {
        throw MigrationConversationError(description: "the destination QEMU exited before its monitor answered")
      }
      do {
        target = try QmpClient(path: destination.socket, timeout: try left())
      } catch let error as MigrationConversationError {
        throw error
      } catch {
        usleep(pollInterval)
      }
    }
    guard let target else { throw MigrationConversationError(description: "no destination monitor") }
    let origin: QmpClient
    do {
      origin = try QmpClient(path: sourceSocket, timeout: try left())
    } catch let error as MigrationConversationError {
      throw error
    } catch {
      throw MigrationConversationError(description: "the source's monitor: \(error)")
    }
    do {
      try target.execute("migrate-incoming", arguments: "{\"uri\": \(quoted(uri))}")
    } catch {
      throw MigrationConversationError(description: "destination migrate-incoming: \(error)")
    }
    do {
      // Unthrottled (QEMU's default is 32 MiB/s): both ends are local.
      try origin.execute(
        "migrate-set-parameters", arguments: "{\"max-bandwidth\": \(Int64(1) << 40)}")
      try origin.execute("migrate", arguments: "{\"uri\": \(quoted(uri))}")
    } catch {
      throw MigrationConversationError(description: "source migrate: \(error)")
    }
    var info: [String: Any] = [:]
    while true {
      _ = try left()
      do {
        let reply = try origin.execute("query-migrate")
        info = (try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any]) ?? [:]
      } catch {
        throw MigrationConversationError(description: "query-migrate: \(error)")
      }
      let status = info["status"] as? String ?? "none"
      if status == "completed" { break }
      if status == "failed" || status == "cancelled" {
        let why = info["error-desc"] as? String ?? status
        throw MigrationConversationError(description: "QEMU says \(status): \(why)")
      }
      usleep(pollInterval)
    }
    // The destination resumes the guest on its own once it has every page.
    while true {
      _ = try left()
      let reply: String
      do {
        reply = try target.execute("query-status")
      } catch {
        throw MigrationConversationError(description: "destination query-status: \(error)")
      }
      let status =
        (try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any])?["status"]
        as? String
      if status == "running" { break }
      if status != "inmigrate" && status != "paused" && status != "prelaunch" {
        throw MigrationConversationError(description: "destination status \(status ?? reply)")
      }
      usleep(pollInterval)
    }
    func integer(_ value: Any?) -> Int? { (value as? NSNumber)?.intValue }
    return MigrationHop(
      number: 0, downtimeMilliseconds: integer(info["downtime"]) ?? -1,
      totalMilliseconds: integer(info["total-time"]) ?? -1, wallMilliseconds: 0,
      transferredBytes: integer((info["ram"] as? [String: Any])?["transferred"]))
  }
}
