import ArgumentParser
import Foundation
import Harness
import LibvirtBackend

/// How guests boot: bare QEMU processes, or libvirt domains on one or more
/// daemons. Shared by `run` and `bench`.
struct BackendOptions: ParsableArguments {
  enum Backend: String, ExpressibleByArgument, CaseIterable {
    case qemu, libvirt
  }

  @Option(help: "Boot guests as bare QEMU processes or through libvirt.")
  var backend: Backend = .qemu

  @Option(
    help: """
      libvirt URI for --backend libvirt (repeatable). Default: as root, a \
      private libvirtd of the harness's own (started on demand, nothing of \
      the system's libvirt touched); as a user, qemu:///session. \
      qemu:///system is used only when named.
      """)
  var connect: [String] = []

  func validate() throws {
    if !connect.isEmpty && backend != .libvirt {
      throw ValidationError("--connect needs --backend libvirt")
    }
  }

  /// The connected libvirt hosts for `--backend libvirt`, nil for QEMU.
  func pool() throws -> LibvirtPool? {
    guard backend == .libvirt else { return nil }
    do {
      if !connect.isEmpty { return try LibvirtPool(uris: connect) }
      return try LibvirtPool(connections: [try Self.defaultConnection()])
    } catch {
      throw ValidationError("--connect: \(error)")
    }
  }

  /// `pool` ready for `cells`: when one of them live-migrates and the pool
  /// is the default private daemon alone, that daemon's migration peer (a
  /// second private libvirtd with its own host UUID; libvirt migrates only
  /// between daemons) is started and added as a migration destination.
  /// With `--connect` the named daemons migrate to each other.
  func readying(_ pool: LibvirtPool, for cells: [MatrixCell]) throws -> LibvirtPool {
    guard connect.isEmpty, geteuid() == 0, pool.migrationTargets.isEmpty,
      cells.contains(where: \.settings.migrate)
    else { return pool }
    do {
      let peer = try PrivateLibvirtd().migrationPeer.start().connect()
      return try LibvirtPool(connections: pool.hosts.map(\.connection), migrationTargets: [peer])
    } catch {
      throw ValidationError("the private libvirtd's migration peer: \(error)")
    }
  }

  /// The local daemon used without `--connect`: one that needs no change
  /// to the system's libvirt. `qemu:///session` auto-spawns a user's own
  /// daemon; for root that URI is the system daemon, so root gets the
  /// harness's private libvirtd (see `PrivateLibvirtd`).
  static func defaultConnection() throws -> LibvirtConnection {
    if geteuid() != 0 { return try LibvirtConnection(uri: "qemu:///session") }
    return try PrivateLibvirtd().start().connect()
  }
}

extension Selection {
  /// The selected cells for a run on `pool` (nil: bare QEMU here):
  /// `--accel auto` then asks the libvirt hosts' capabilities for KVM, not
  /// this machine's /dev/kvm.
  func cells(on pool: LibvirtPool?) throws -> (GuestRunner, [MatrixCell]) {
    guard let pool else { return try cells() }
    return try cells(kvmUsable: { pool.offers($0, .kvm) })
  }
}
