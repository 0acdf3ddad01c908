import Foundation
import Harness

#if canImport(Glibc)
  import Glibc
#endif

/// A libvirt daemon of the harness's own, for running guests through
/// libvirt on this machine without touching the system's libvirt: its own
/// configuration, sockets, state, cache and logs under one directory, and
/// nothing written to `/etc/libvirt` or `/var/lib/libvirt`.
///
/// A daemon started as root is privileged and reads its configuration
/// from the fixed `/etc/libvirt`, keeps state in `/var/lib/libvirt` and
/// listens in `/run/libvirt`. This one therefore runs in a mount namespace
/// of its own in which those directories (and `/var/cache/libvirt`,
/// `/var/log/libvirt`, `/run/lock`) are bind mounts of subdirectories of
/// `stateDirectory`; outside it nothing changes. Clients reach it through
/// its socket (`qemu+unix:///system?socket=…`).
///
/// Its QEMU runs as the user who started it, as the bare QEMU backend's
/// does (no security labels, no ownership changes on payloads), and writes
/// its stdio to files (no virtlogd). It runs under `tini -s`, a subreaper:
/// libvirt reports a domain STOPPED only after its QEMU was reaped, and
/// this machine's PID 1 reaps orphans about every 2 s. It exits by itself
/// once it has had no client and no domain for `idleTimeout` seconds.
///
/// Measured on the 2-CPU development VM (libvirt 9.0, selftest x86_64 under
/// TCG, a C client timing virDomainCreateXML and the lifecycle events):
///
/// | backend                         | first connect | create | SHUTDOWN | STOPPED |
/// |---------------------------------|---------------|--------|----------|---------|
/// | private libvirtd, `tini -s`     | 0.1 s socket + 0.07 s | 0.5–1.1 s | +0.07–0.15 s | +0.22–0.25 s |
/// | private libvirtd without tini   | same          | 0.5–0.9 s | +0.1 s   | +1.2–2.0 s |
/// | `qemu:///embed?root=` (in-process) | 0.02–0.03 s | 0.46–1.0 s | +0.07–0.2 s | +1.2–1.8 s |
/// | `qemu:///session` (as `nobody`) | 0.09 s (auto-spawn) | 0.6–0.9 s | +0.1–0.2 s | +1.2–2.0 s |
///
/// (The first domain of a fresh cache pays the capabilities probe: 1.4 s
/// to 5.8 s; the cache stays in `stateDirectory`.) Through the harness
/// (`start()` + `connect()` from the test process): 0.13 s with no daemon
/// running, 0.01 s when it runs; `runner bench --backend libvirt`,
/// selftest create-to-verdict, 5 runs: x86_64 0.76–0.87 s (bare QEMU
/// 0.10–0.19 s), s390x 0.26–0.39 s (bare 0.03–0.06 s).
///
/// `qemu:///session` is not available to root at all: for uid 0 it is the
/// system daemon's socket. The embedded driver needs no daemon but in
/// libvirt 9.0 refuses AUTODESTROY ("not supported for embedded drivers
/// yet"), which the launcher relies on, has no storage driver, and its
/// QEMUs are orphans reaped late (STOPPED, and `virDomainDestroy` of a hung
/// guest, wait for that); making the test process a subreaper would mean
/// reaping other code's children. Hence this daemon for root, and
/// `qemu:///session` for other users.
public struct PrivateLibvirtd: Sendable {
  /// Everything of this daemon lives here.
  public let stateDirectory: String

  /// The default state directory (root's daemon of the harness).
  public static let defaultStateDirectory = "/tmp/swiftguest-libvirtd"

  /// The daemon's UNIX socket, as seen from outside its namespace.
  public var socketPath: String { stateDirectory + "/run/libvirt-sock" }

  /// The URI that reaches it.
  public var uri: String { "qemu+unix:///system?socket=\(socketPath)" }

  /// The directory of the harness's storage pool (payloads, console logs):
  /// not under a remapped directory, so that it has the same path for the
  /// daemon and for the harness.
  public var payloadDirectory: String { stateDirectory + "/payloads" }

  /// Who the daemon's QEMU runs as.
  public enum SecurityModel: Sendable {
    /// The invoking user, without security labels (the harness's default,
    /// like the bare QEMU backend).
    case invokingUser
    /// libvirt's standard model, as a system daemon has it: QEMU as
    /// `libvirt-qemu`, files labelled for it while a domain runs. The
    /// harness then treats the daemon like `qemu:///system` (payloads are
    /// uploaded into its pool); used to test that path.
    case standard
  }

  /// Who the daemon's QEMU runs as.
  public let securityModel: SecurityModel

  /// A daemon description for `stateDirectory` (nothing is started).
  public init(
    stateDirectory: String = Self.defaultStateDirectory, securityModel: SecurityModel = .invokingUser
  ) {
    self.stateDirectory = stateDirectory
    self.securityModel = securityModel
  }

  /// Opens a connection to the daemon (which must be running). With the
  /// standard security model the harness does not share files with its
  /// QEMU: payloads go up and console logs come back through the pool.
  public func connect() throws -> LibvirtConnection {
    try LibvirtConnection(
      uri: uri, payloadDirectory: payloadDirectory, sharesFiles: securityModel == .invokingUser)
  }

  /// The directories bind-mounted over the system's, by their name under
  /// `stateDirectory`.
  static let mounts: [(String, String)] = [
    ("etc", "/etc/libvirt"), ("run", "/run/libvirt"), ("lib", "/var/lib/libvirt"),
    ("cache", "/var/cache/libvirt"), ("log", "/var/log/libvirt"), ("lock", "/run/lock"),
  ]

  /// The daemon's qemu.conf: QEMU as the invoking user, as bare QEMU runs.
  static func qemuConf(user: String, group: String) -> String {
    """
    # Written by swift-guest-harness for its private libvirtd (PrivateLibvirtd);
    # read only by that daemon, inside its own mount namespace.
    user = "\(user)"
    group = "\(group)"
    dynamic_ownership = 0
    remember_owner = 0
    security_driver = "none"
    stdio_handler = "file"
    \(testDomainSettings)
    """
  }

  /// What a test domain does not need, in every qemu.conf of the private
  /// daemon: no cgroups of its own (no resource tuning or device ACLs are
  /// asked for; setting them up took 20-30 ms of every domain start) and
  /// no private /dev namespace for QEMU.
  static let testDomainSettings = """
    cgroup_controllers = [ ]
    namespaces = [ ]

    """

  /// libvirt's defaults but for stdio (files: no virtlogd to start).
  static let standardQemuConf = """
    # Written by swift-guest-harness for its private libvirtd (PrivateLibvirtd):
    # libvirt's standard security model; QEMU's stdio goes to files.
    stdio_handler = "file"
    \(testDomainSettings)
    """

  /// The daemon's libvirtd.conf. `host_uuid` is the daemon's own (derived
  /// from its state directory): libvirt refuses to migrate a domain between
  /// two daemons with the same host UUID, and both would otherwise read
  /// this machine's SMBIOS UUID.
  static func libvirtdConf(hostUUID: String) -> String {
    """
    # Written by swift-guest-harness for its private libvirtd (PrivateLibvirtd).
    unix_sock_rw_perms = "0700"
    unix_sock_ro_perms = "0700"
    unix_sock_admin_perms = "0700"
    log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
    host_uuid = "\(hostUUID)"

    """
  }

  /// This daemon's host UUID: a version-4-shaped UUID from the SHA-256 of
  /// its state directory (stable across restarts, distinct per directory).
  public var hostUUID: String {
    var hash = ContentHash()
    hash.update(Array("swiftguest-libvirtd:\(stateDirectory)".utf8))
    var hex = Array(hash.finalizeHex().prefix(32))
    hex[12] = "4"  // version 4
    hex[16] = Array("89ab")[Int(String(hex[16]), radix: 16)! & 3]  // RFC 4122 variant
    let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex[$0]) }
    return parts.joined(separator: "-")
  }

  /// A second private daemon beside this one (state in `<dir>-peer`, its
  /// own host UUID): the destination of live migrations on this machine,
  /// since libvirt does not migrate a domain within one daemon.
  public var migrationPeer: PrivateLibvirtd {
    PrivateLibvirtd(stateDirectory: stateDirectory + "-peer", securityModel: securityModel)
  }

  /// Why this machine cannot run the daemon, or nil.
  public static func unavailableReason() -> String? {
    if geteuid() != 0 {
      return "a private libvirtd needs root (a mount namespace); as a user, use qemu:///session"
    }
    for tool in ["/usr/sbin/libvirtd", "/usr/bin/unshare", "/usr/bin/setsid"]
    where !FileManager.default.isExecutableFile(atPath: tool) {
      return "\(tool) is missing (scripts/setup.sh installs it)"
    }
    return nil
  }

  /// Starts the daemon unless one already answers on its socket, and
  /// returns when it accepts connections. Safe to call from several
  /// processes at once (a lock file serializes the start).
  @discardableResult
  public func start(idleTimeout: Int = 30) throws -> PrivateLibvirtd {
    if let reason = Self.unavailableReason() {
      throw LibvirtError(operation: "private libvirtd", message: reason, code: 0)
    }
    let files = FileManager.default
    try files.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
    let lock = open(stateDirectory + "/start.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
    guard lock >= 0 else {
      throw LibvirtError(operation: "private libvirtd", message: "cannot open its lock file", code: 0)
    }
    defer { close(lock) }
    flock(lock, LOCK_EX)
    defer { flock(lock, LOCK_UN) }
    if answers() { return self }

    for (name, _) in Self.mounts {
      try files.createDirectory(atPath: "\(stateDirectory)/\(name)", withIntermediateDirectories: true)
    }
    try files.createDirectory(atPath: payloadDirectory, withIntermediateDirectories: true)
    let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "root"
    let group = getgrgid(getegid()).map { String(cString: $0.pointee.gr_name) } ?? "root"
    let conf =
      securityModel == .invokingUser
      ? Self.qemuConf(user: user, group: group) : Self.standardQemuConf
    try conf.write(
      toFile: stateDirectory + "/etc/qemu.conf", atomically: true, encoding: .utf8)
    try Self.libvirtdConf(hostUUID: hostUUID).write(
      toFile: stateDirectory + "/etc/libvirtd.conf", atomically: true, encoding: .utf8)
    try? files.removeItem(atPath: socketPath)

    // Mount points must exist; an empty directory is all that is created
    // outside the namespace. The bind mounts stay inside it.
    var script = """
      for fd in /proc/$$/fd/*; do
        fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
      done
      set -e

      """
    for (name, target) in Self.mounts {
      script += "mkdir -p \(target) && mount --bind \(Self.quoted("\(stateDirectory)/\(name)")) \(target)\n"
    }
    let tini = files.isExecutableFile(atPath: "/usr/bin/tini") ? "/usr/bin/tini -s -- " : ""
    script +=
      "exec \(tini)/usr/sbin/libvirtd --timeout \(idleTimeout) "
      + "-f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid\n"
    // setsid --fork: the daemon is not this process's child and outlives
    // it. Spawned with posix_spawn and reaped here by its pid (not through
    // Foundation's Process, whose reaping did not work inside the test
    // process); the script closes every descriptor but stdio first.
    let output = stateDirectory + "/daemon.out"
    let arguments = [
      "/usr/bin/setsid", "--fork", "/usr/bin/unshare", "--mount", "--propagation", "private",
      "/bin/bash", "-c", script,
    ]
    let pid = try ProcessSpawn.spawn(arguments, input: .null, output: output, operation: "private libvirtd")
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}

    let deadline = ContinuousClock.now + .seconds(20)
    var lastError = "no socket"
    while ContinuousClock.now < deadline {
      if FileManager.default.fileExists(atPath: socketPath) {
        do {
          _ = try LibvirtConnection(uri: uri, payloadDirectory: payloadDirectory)
          return self
        } catch {
          lastError = "\(error)"
        }
      }
      usleep(20_000)
    }
    let log = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    throw LibvirtError(
      operation: "private libvirtd in \(stateDirectory)",
      message: "did not answer on \(socketPath) within 20 s (\(lastError)) \(log.suffix(800))",
      code: 0)
  }

  /// `text` as one single-quoted shell word.
  static func quoted(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  /// Whether a daemon answers on the socket now.
  func answers() -> Bool {
    guard FileManager.default.fileExists(atPath: socketPath) else { return false }
    return (try? LibvirtConnection(uri: uri, payloadDirectory: payloadDirectory)) != nil
  }

  /// The daemon's process id, from its pid file, when it runs.
  public var processID: Int32? {
    guard let text = try? String(contentsOfFile: stateDirectory + "/run/libvirtd.pid", encoding: .utf8),
      let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0
    else { return nil }
    return pid
  }
}
