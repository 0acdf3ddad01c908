import Foundation
import Harness

#if canImport(Glibc)
  import Glibc
#endif

/// Destroys a domain that libvirt cannot tie to the connection when the
/// process that started it dies, whatever ends that process.
///
/// A domain is normally created AUTODESTROY: the daemon destroys it when
/// the runner's connection closes. libvirt refuses to live-migrate such a
/// domain, so a migrating cell's domain is created without it, and this
/// guard stands in: a small bash script whose standard input is the runner's
/// lifeline pipe (`QemuGuard.lifelineReadEnd`, whose write end only this
/// process holds). When the runner dies the kernel closes that end, the
/// shell reads end-of-file and runs `virsh destroy` for the domain on every
/// daemon it may have migrated to. After a normal run the guard is killed
/// before it does anything.
final class DomainGuard: @unchecked Sendable {
  /// The guard's process id.
  let processID: pid_t

  /// The shell script: close every inherited descriptor but stdio (a
  /// copy of a pipe's write end would keep it from ever reading
  /// end-of-file), wait for end-of-file on standard input, then destroy
  /// domain `$1` on each URI that follows.
  static let script = """
    for fd in /proc/$$/fd/*; do
      fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    while read -r _; do :; done
    name=$1; shift
    for uri in "$@"; do virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1; done
    """

  /// Starts a guard for domain `name` on the daemons `uris`; `lifeline` is
  /// the pipe end it waits on (default: this process's lifeline).
  init(name: String, uris: [String], lifeline: Int32? = nil) throws {
    let input = try lifeline ?? QemuGuard.lifelineReadEnd()
    // bash: dash stops at `exec 10>&-` (one-digit descriptors only).
    let arguments = ["/bin/bash", "-c", Self.script, "swiftguest-domain-guard", name] + uris
    let pid = try ProcessSpawn.spawn(
      arguments, input: .descriptor(input), output: nil, operation: "domain guard")
    processID = pid
  }

  /// Ends the guard without it destroying anything (the run ended normally)
  /// and reaps it.
  func release() {
    kill(processID, SIGKILL)
    var status: Int32 = 0
    while waitpid(processID, &status, 0) < 0 && errno == EINTR {}
  }

  /// Waits for the guard to end by itself (tests: after its lifeline
  /// closed) and reaps it; false when it still runs after `timeout`.
  func waitForEnd(timeout: Duration) -> Bool {
    let deadline = ContinuousClock.now + timeout
    var status: Int32 = 0
    while ContinuousClock.now < deadline {
      let reaped = waitpid(processID, &status, WNOHANG)
      if reaped == processID { return true }
      usleep(20_000)
    }
    return false
  }
}
