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
