/// How the virtual machine itself ended, as observed by the harness
/// independently of the guest's console text. A guest's `# EXIT:` line is
/// only believed when the machine's own end agrees with it.
///
/// - bare QEMU, x86_64: QEMU exited on its own with the isa-debug-exit code
///   `2·status+1`;
/// - bare QEMU, s390x: QEMU exited on its own: 0 after the last CPU stopped
///   with SIGP STOP (status 0 or 1), 1 after a disabled wait, which is a
///   guest panic under `-action panic=exit-failure` (status 2);
/// - libvirt: the domain's lifecycle event: SHUTDOWN (ACPI power-off on
///   x86_64, all CPUs stopped on s390x) for status 0 or 1, CRASHED (pvpanic,
///   disabled wait) for status 2.
public enum MachineEnd: Sendable, Hashable, Codable, CustomStringConvertible {
  /// QEMU exited by itself with this code (bare QEMU).
  case exited(Int32)
  /// libvirt reported the guest shut down (SHUTDOWN event).
  case poweredOff
  /// libvirt reported a guest panic (CRASHED event).
  case panicked

  public var description: String {
    switch self {
    case .exited(let code): "QEMU exited with \(code)"
    case .poweredOff: "the domain powered off (SHUTDOWN event)"
    case .panicked: "the guest panicked (CRASHED event)"
    }
  }
}

