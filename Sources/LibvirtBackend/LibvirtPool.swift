import Foundation
import Harness
import Synchronization

/// Several libvirt connections sharing one matrix: each cell goes to a host
/// that offers its architecture and accelerator (read from the host's
/// capabilities), within that host's CPU and memory budget. A host that
/// drops out mid-run is marked lost and its cells are re-queued elsewhere.
public final class LibvirtPool: @unchecked Sendable {
  /// One daemon and its budget.
  public struct Host: Sendable {
    public var connection: LibvirtConnection
    public var capacity: HostCapacity
    public var uri: String { connection.uri }
  }

  /// The hosts, in the order given.
  public let hosts: [Host]
  /// Daemons used only as destinations of live migrations (a private
  /// daemon's `migrationPeer`): no cell starts there, and their budget is
  /// not counted (the migrating cell's slot stays on the host it started on).
  public let migrationTargets: [LibvirtConnection]
  private let state: Mutex<(usedCPUs: [Int], usedMemory: [Int], lost: Set<Int>)>

  /// Connects to every URI; fails naming the first that cannot be reached.
  public convenience init(uris: [String]) throws {
    try self.init(connections: uris.map { try LibvirtConnection(uri: $0) })
  }

  /// A pool of open connections (e.g. one to a `PrivateLibvirtd`), with
  /// `migrationTargets` as further destinations of live migrations.
  public init(connections: [LibvirtConnection], migrationTargets: [LibvirtConnection] = []) throws {
    self.migrationTargets = migrationTargets
    var hosts: [Host] = []
    for connection in connections {
      hosts.append(Host(connection: connection, capacity: try connection.capacity()))
    }
    self.hosts = hosts
    state = Mutex((Array(repeating: 0, count: hosts.count), Array(repeating: 0, count: hosts.count), []))
  }

  /// URIs of hosts found lost so far.
  public var lostHosts: [String] { state.withLock { $0.lost }.sorted().map { hosts[$0].uri } }

  /// Whether some host offers `architecture` with `accelerator`.
  public func offers(_ architecture: Architecture, _ accelerator: Accelerator) -> Bool {
    hosts.contains { $0.capacity.accelerators[architecture]?.contains(accelerator) ?? false }
  }

  private func canRun(_ host: Int, _ settings: LaunchSettings) -> Bool {
    hosts[host].capacity.accelerators[settings.architecture]?.contains(settings.accelerator) ?? false
  }

  private struct NoHost: Error {}

  /// Takes a slot on a live host that can run `settings` now; nil if none
  /// is free now; throws when no live host can ever run it.
  private func acquire(_ settings: LaunchSettings) throws -> Int? {
    try state.withLock { state in
      let candidates = hosts.indices.filter { !state.lost.contains($0) && canRun($0, settings) }
      guard !candidates.isEmpty else { throw NoHost() }
      // The least loaded host (by share of its CPUs in use) that has room.
      var best: Int?
      for index in candidates {
        let fits =
          state.usedCPUs[index] == 0
          || (state.usedCPUs[index] + settings.cpus <= hosts[index].capacity.cpus
            && state.usedMemory[index] + settings.memoryMiB <= hosts[index].capacity.memoryMiB)
        guard fits else { continue }
        let load = Double(state.usedCPUs[index]) / Double(max(hosts[index].capacity.cpus, 1))
        if let current = best {
          let currentLoad =
            Double(state.usedCPUs[current]) / Double(max(hosts[current].capacity.cpus, 1))
          if load < currentLoad { best = index }
        } else {
          best = index
        }
      }
      if let index = best {
        state.usedCPUs[index] += settings.cpus
        state.usedMemory[index] += settings.memoryMiB
        return index
      }
      return nil
    }
  }

  private func release(_ host: Int, _ settings: LaunchSettings) {
    state.withLock { state in
      state.usedCPUs[host] -= settings.cpus
      state.usedMemory[host] -= settings.memoryMiB
    }
    wakeWaiters()
  }

  /// Cells waiting for room, woken (all of them, to try again) whenever
  /// room is given back: no polling.
  private let waiters = Mutex<[UInt64: CheckedContinuation<Void, Never>]>([:])
  private let nextWaiter = Mutex<UInt64>(0)

  private func wakeWaiters() {
    let woken = waiters.withLock { waiters in
      defer { waiters.removeAll() }
      return Array(waiters.values)
    }
    for waiter in woken { waiter.resume() }
  }

  /// A slot on a host that can run `settings`, waiting until one is free;
  /// nil when no live host can ever run it. Throws `CancellationError`
  /// when the task is cancelled while waiting.
  private func slot(_ settings: LaunchSettings) async throws -> Int? {
    while true {
      let id = nextWaiter.withLock { id in
        id += 1
        return id
      }
      // Registered before trying, so that a release in between wakes it.
      var host: Int?
      var noHost = false
      await withTaskCancellationHandler {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
          waiters.withLock { $0[id] = continuation }
          do {
            host = try acquire(settings)
          } catch {
            noHost = true
          }
          if host != nil || noHost || Task.isCancelled {
            if let waiter = waiters.withLock({ $0.removeValue(forKey: id) }) { waiter.resume() }
          }
        }
      } onCancel: {
        if let waiter = waiters.withLock({ $0.removeValue(forKey: id) }) { waiter.resume() }
      }
      if let host {
        if Task.isCancelled {
          release(host, settings)
          throw CancellationError()
        }
        return host
      }
      if noHost { return nil }
      try Task.checkCancellation()
    }
  }

  /// A host is lost when its connection died.
  private func checkLost(_ host: Int) -> Bool {
    if hosts[host].connection.isAlive { return false }
    _ = state.withLock { $0.lost.insert(host) }
    return true
  }

  /// Content-addressed volume names of uploaded payloads.
  private let names = Mutex<[String: String]>([:])

  private func volumeName(_ payload: Payload) -> String {
    if let name = names.withLock({ $0[payload.bootImage] }) { return name }
    var hash = ContentHash()
    hash.update(Array(FileManager.default.contents(atPath: payload.bootImage) ?? Data()))
    let name = "\(payload.program.name)-\(payload.architecture)-\(hash.finalizeHex().prefix(20)).elf"
    names.withLock { $0[payload.bootImage] = name }
    return name
  }
}

extension LibvirtPool: GuestLauncher {
  public var checksAcceleratorAvailability: Bool { true }

  /// Cells live-migrate between the pool's daemons (hosts and migration
  /// targets): there must be two of them. libvirt does not migrate within
  /// one daemon.
  public var canMigrate: Bool { hosts.count + migrationTargets.count >= 2 }

  /// Domains reset on request (`LibvirtMachine.reset`).
  public var canReset: Bool { true }

  /// The pool places cells on its hosts and admits them itself.
  public var host: HostKey? { nil }

  /// `settings` as a domain runs them: without `harness.qemu=` unless the
  /// cell names its QEMU binary (`<emulator>`, verified locally). The
  /// daemon's default QEMU is not the one on the local PATH whose version
  /// the runner may know, and a guess is never passed.
  static func guestSettings(_ settings: LaunchSettings) -> LaunchSettings {
    var settings = settings
    if settings.qemuPath == nil { settings.qemuVersion = nil }
    return settings
  }

  /// Runs the payload on a host that offers its architecture and
  /// accelerator and has room; re-queues it when that host drops out.
  public func launch(
    _ payload: Payload, settings: LaunchSettings, onStart: (@Sendable (Int32) -> Void)?
  ) async throws -> LaunchOutcome {
    let settings = Self.guestSettings(settings)
    var requeued: [String] = []
    while true {
      guard let host = try await slot(settings) else {
        return .skipped(
          requeued.isEmpty
            ? "no libvirt host offers \(settings.architecture) with \(settings.accelerator)"
            : "every host that could run it dropped out (\(requeued.joined(separator: ", ")))")
      }
      defer { release(host, settings) }
      let connection = hosts[host].connection
      do {
        let path = try connection.payloadPath(localPath: payload.bootImage, name: volumeName(payload))
        let peers = hosts.map(\.connection) + migrationTargets
        let name = volumeName(payload)
        let backend = LibvirtHostBackend(
          connection: connection, peers: settings.migrate ? peers : [],
          stage: { destination in try destination.payloadPath(localPath: payload.bootImage, name: name) })
        var run = try await RunEngine().run(
          backend,
          request: MachineRequest(guest: payload.program.name, bootImage: path, settings: settings),
          onStart: onStart)
        if checkLost(host) {
          requeued.append(connection.uri)
          continue
        }
        if !requeued.isEmpty { run.notes.append(.requeued(after: requeued)) }
        run.notes.append(.ranOn(connection.uri))
        return .ran(run)
      } catch {
        if checkLost(host) {
          requeued.append(connection.uri)
          continue
        }
        throw error
      }
    }
  }
}
