import Foundation

/// Whether KVM can be used for guests of an architecture on this host.
public enum KVMAvailability {
  /// nil when usable, otherwise the reason it is not.
  public static func unavailableReason(for architecture: Architecture) -> String? {
    guard architecture.matchesHost else {
      return "KVM runs only guests of the host's architecture"
    }
    let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
    guard fd >= 0 else {
      return "/dev/kvm is not usable: \(String(cString: strerror(errno)))"
    }
    close(fd)
    return nil
  }
}
