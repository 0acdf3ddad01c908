/// A guest architecture the harness builds payloads for and boots.
public enum Architecture: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
  case x86_64
  case s390x

  /// The Embedded Swift target triple.
  public var targetTriple: String {
    switch self {
    case .x86_64: "x86_64-unknown-none-elf"
    case .s390x: "s390x-unknown-none-elf"
    }
  }

  /// The QEMU system emulator for this architecture.
  public var qemuBinary: String { "qemu-system-\(rawValue)" }

  /// The QEMU machine type a cell without a `machine` axis value boots.
  public var defaultMachine: String {
    switch self {
    case .x86_64: "pc"
    case .s390x: "s390-ccw-virtio"
    }
  }

  /// The machine types the `machine` axis accepts: the runtime boots on
  /// each (x86_64: i440FX `pc` and Q35 `q35`; s390x has one).
  public var machines: [String] {
    switch self {
    case .x86_64: ["pc", "q35"]
    case .s390x: ["s390-ccw-virtio"]
    }
  }

  /// The directory under `guests/arch` holding the runtime.
  public var runtimeDirectory: String { rawValue }

  /// Whether this host can run it under KVM (same architecture as the host).
  public var matchesHost: Bool {
    #if arch(x86_64)
      self == .x86_64
    #elseif arch(s390x)
      self == .s390x
    #else
      false
    #endif
  }

  public var description: String { rawValue }
}

/// How QEMU executes the guest.
public enum Accelerator: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
  /// QEMU's software emulation.
  case tcg
  /// Hardware virtualization through `/dev/kvm`.
  case kvm

  public var description: String { rawValue }
}
