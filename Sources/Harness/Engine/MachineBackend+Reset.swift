extension MachineBackend {
  /// Whether the backend's machines reset on the guest's request
  /// (`ResettableMachine`); a cell with `reset = yes` on a backend that
  /// cannot is SKIP, never run.
  public var canReset: Bool { false }
}

extension GuestLauncher {
  /// Whether the launcher's machines reset on request (default: no).
  public var canReset: Bool { false }
}

/// A machine that can reset itself on the guest's request (`# harness:
/// reset`, guests/lib/Protocol/KTAPGrammar.swift). The reset is the
/// answer: nothing is written to the console input. A machine that is no
/// `ResettableMachine` cannot: the engine ends a run whose guest asks
/// with a `ResetFailure`, never leaving the guest waiting.
public protocol ResettableMachine: BackendMachine {
  /// Resets the machine once, as a warm reset (RAM kept; the firmware and
  /// the loader run again and the guest starts over from its entry), and
  /// leaves a reset the guest causes by itself as it was before (bare
  /// QEMU, `-no-reboot`: it ends QEMU). The console stream goes on.
  /// Throws when the machine could not be reset.
  func reset() async throws
}

/// One reset the harness made on the guest's request.
public struct MachineReset: Sendable, Hashable, Codable {
  /// The reset's number in the run, from 1.
  public var number: Int
  /// From the run's start to the reset's request to the backend, in
  /// milliseconds.
  public var atMilliseconds: Int
  /// How long the backend took to reset the machine (bare QEMU: the QMP
  /// conversation), in milliseconds.
  public var milliseconds: Int

  /// A reset.
  public init(number: Int, atMilliseconds: Int, milliseconds: Int) {
    self.number = number
    self.atMilliseconds = atMilliseconds
    self.milliseconds = milliseconds
  }

  /// `reset 1: at 812 ms (took 3 ms)`.
  public var summary: String {
    "reset \(number): at \(atMilliseconds) ms (took \(milliseconds) ms)"
  }
}

/// Why a reset the guest asked for did not happen.
public struct ResetFailure: Error, Sendable, Hashable, Codable, CustomStringConvertible {
  /// The reset's number, from 1.
  public var number: Int
  /// What went wrong, in words.
  public var reason: String

  /// A failure.
  public init(number: Int, reason: String) {
    self.number = number
    self.reason = reason
  }

  public var description: String { "reset \(number) failed: \(reason)" }
}

/// The monitor conversation of one reset the guest asked for, the same on
/// every backend (bare QEMU's QMP, libvirt's passthrough). The machine runs
/// with "a reset ends it" (`-no-reboot`, or libvirt's `on_reboot` destroy),
/// under which `system_reset` would end it too, so the reboot action is
/// `reset` for this one request (`set-action`, QEMU 6.0 and later) and
/// `shutdown` again before the guest runs: the vCPUs are stopped around it
/// (`stop` ... `cont`; after a reset while stopped QEMU is in `prelaunch`,
/// which `cont` leaves). Without the stop, a guest that resets itself at
/// once after the asked reset had the restored action come too late: seen
/// through libvirt, where the conversation takes 100 ms, as a second
/// request. QEMU decides between reset and shutdown when the request is
/// made, so the asked reset stays a reset.
public enum ResetConversation {
  /// The commands with their JSON arguments, in order.
  public static let commands: [(command: String, arguments: String?)] = [
    ("stop", nil),
    ("set-action", "{\"reboot\": \"reset\"}"),
    ("system_reset", nil),
    ("set-action", "{\"reboot\": \"shutdown\"}"),
    ("cont", nil),
  ]
}
