import ArgumentParser
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

  @Option(help: "libvirt URI for --backend libvirt (repeatable; default qemu:///system).")
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
      return try LibvirtPool(uris: connect.isEmpty ? ["qemu:///system"] : connect)
    } catch {
      throw ValidationError("--connect: \(error)")
    }
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
