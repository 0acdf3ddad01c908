extension MachineBackend {
  /// Whether the backend's machines live-migrate on the guest's request
  /// (`MigratableMachine`); a cell with `migrate = yes` on a backend that
  /// cannot is SKIP, never run.
  public var canMigrate: Bool { false }
}

extension GuestLauncher {
  /// Whether the launcher's machines can live-migrate (default: no).
  public var canMigrate: Bool { false }
}

/// A machine that can live-migrate itself on the guest's request
/// (`# harness: migrate`, guests/lib/Protocol/KTAPGrammar.swift) and write
/// to the guest's console input.
///
/// The engine drives the state machine; the backend does one hop at a
/// time: it starts a destination machine, migrates into it, keeps one
/// continuous console stream (every byte of the source before any byte of
/// the destination, and no stop event from the source), and destroys the
/// source. The engine then writes `KTAP.requestDone` to the console input.
public protocol MigratableMachine: BackendMachine {
  /// Live-migrates the machine once (`hop` counts from 1), within
  /// `timeout`. On failure the machine may be left in any state; the
  /// engine destroys it.
  func migrate(hop: Int, timeout: Duration) async -> Result<MigrationHop, MigrationFailure>
  /// Writes `bytes` to the guest's console input (after a hop: the
  /// destination's).
  func writeConsoleInput(_ bytes: [UInt8]) async throws
}

/// One live migration of a run, as measured.
public struct MigrationHop: Sendable, Hashable, Codable {
  /// The hop's number in the run, from 1.
  public var number: Int
  /// How long the guest was stopped, as QEMU measured it (QMP
  /// `query-migrate` `downtime`), in milliseconds.
  public var downtimeMilliseconds: Int
  /// The migration's total time as QEMU measured it (`total-time`), in
  /// milliseconds.
  public var totalMilliseconds: Int
  /// From the guest's request line to the destination running, as the
  /// harness saw it (starting the destination included), in milliseconds.
  public var wallMilliseconds: Int
  /// RAM bytes transferred (`ram.transferred`), when QEMU said.
  public var transferredBytes: Int?

  /// A hop.
  public init(
    number: Int, downtimeMilliseconds: Int, totalMilliseconds: Int, wallMilliseconds: Int,
    transferredBytes: Int? = nil
  ) {
    self.number = number
    self.downtimeMilliseconds = downtimeMilliseconds
    self.totalMilliseconds = totalMilliseconds
    self.wallMilliseconds = wallMilliseconds
    self.transferredBytes = transferredBytes
  }

  /// `migration 1: downtime 12 ms, total 340 ms (harness 610 ms)`.
  public var summary: String {
    "migration \(number): downtime \(downtimeMilliseconds) ms, total \(totalMilliseconds) ms (harness \(wallMilliseconds) ms)"
  }
}

/// Why a migration hop failed.
public struct MigrationFailure: Error, Sendable, Hashable, Codable, CustomStringConvertible {
  /// The hop's number, from 1.
  public var hop: Int
  /// What went wrong, in words.
  public var reason: String

  /// A failure.
  public init(hop: Int, reason: String) {
    self.hop = hop
    self.reason = reason
  }

  public var description: String { "migration \(hop) failed: \(reason)" }
}
