/// What `migrate()` did.
public enum MigrationResult: Equatable {
  /// The machine was live-migrated; the guest runs on the destination.
  case migrated
  /// The cell does not migrate (no `harness.migrate=yes`) or the runtime
  /// has no console input: nothing happened.
  case notMigrated
}

/// Asks the harness to live-migrate the machine and returns once the guest
/// runs on the destination (`.migrated`), or at once with `.notMigrated`
/// in a cell that does not migrate, so a test can skip instead of hanging.
/// Call it any number of times, from one CPU at a time.
///
/// On the wire (guests/lib/Protocol/KTAPGrammar.swift): the request line
/// `# harness: migrate`, then the harness writes `KTAP.requestDone` to the
/// console input once the destination runs. While it waits the guest must
/// write nothing (other CPUs too): the harness moves the console from the
/// source to the destination QEMU. If the migration fails the harness ends
/// the run; this call then never returns.
@inline(never)
public func migrate() -> MigrationResult {
  guard guestRunState.migrates, let source = Console.source else { return .notMigrated }
  // Whatever the input held before is no answer to this request.
  while source() >= 0 {}
  KTAP.writeRequest(.migrate, depth: guestRunState.inTest ? checkDepth : 0)
  while source() != Int32(KTAP.requestDone) {}
  return .migrated
}

/// Asks the harness to inject an NMI (`# harness: nmi`; QMP `inject-nmi`,
/// which QEMU delivers to every x86 CPU through its local APIC's LINT1).
/// Returns at once: the NMI itself is the answer, so the caller waits for
/// its handler with a bound of its own.
@inline(never)
public func requestNMI() {
  KTAP.writeRequest(.nmi, depth: guestRunState.inTest ? checkDepth : 0)
}
