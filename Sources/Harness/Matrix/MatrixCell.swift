/// One cell of the test matrix: a guest booted with one combination of axes.
public struct MatrixCell: Sendable, Hashable, CustomStringConvertible {
  /// The guest program name.
  public var guest: String
  /// The launch settings of this cell.
  public var settings: LaunchSettings
  /// Groups of the guest.
  public var groups: [String]
  /// Checks a complete run makes, if declared.
  public var expectedChecks: Int?

  /// The stable id: `guest.arch.accel.smpN.memM`, then `.cpu-MODEL` for a
  /// cell with a CPU model (`smp.x86_64.kvm.smp2.mem256M.cpu-qemu64,+x2apic`).
  public var id: String {
    "\(guest).\(settings.architecture).\(settings.accelerator).smp\(settings.cpus).mem\(Self.memoryLabel(settings.memoryMiB))"
      + (settings.cpuModel.map { ".cpu-\($0)" } ?? "")
  }

  /// `256M`, `8G`.
  public static func memoryLabel(_ mebibytes: Int) -> String {
    mebibytes % 1024 == 0 ? "\(mebibytes / 1024)G" : "\(mebibytes)M"
  }

  public var description: String { id }
}

/// The cross product of the declarations, minus excludes.
public enum Matrix {
  /// Every cell of `declarations`, in declaration order.
  public static func cells(_ declarations: [GuestDeclaration]) -> [MatrixCell] {
    var cells: [MatrixCell] = []
    for declaration in declarations {
      for architecture in declaration.architectures {
        let override = declaration.overrides[architecture] ?? [:]
        func words(_ key: String) -> [String]? { override[key]?.split(separator: " ").map(String.init) }
        let accelerators = words("accel")?.compactMap(Accelerator.init(rawValue:)) ?? declaration.accelerators
        let cpus = words("smp")?.compactMap { Int($0) } ?? declaration.cpus
        let memory = words("memory")?.compactMap(MatrixConfig.parseMemory) ?? declaration.memoryMiB
        let models = words("cpu")?.compactMap(MatrixConfig.parseCPUModel) ?? declaration.cpuModels
        let timeout = override["timeout"].flatMap { Int($0) } ?? declaration.timeoutSeconds
        let silence = override["silence"].flatMap { Int($0) } ?? declaration.silenceSeconds
        let qemuArguments = words("qemu_args") ?? declaration.qemuArguments
        let guestArguments = words("guest_args") ?? declaration.guestArguments
        let checks = override["checks"].flatMap { Int($0) } ?? declaration.expectedChecks
        func deadline(_ accelerator: Accelerator) -> Duration {
          let factor =
            override["\(accelerator.rawValue)_factor"].flatMap(MatrixConfig.parseFactor)
            ?? declaration.timeoutFactors[accelerator] ?? 1
          return .milliseconds(Int64((Double(timeout) * factor * 1000).rounded()))
        }
        for accelerator in accelerators {
          for cpuCount in cpus {
            for mebibytes in memory {
              for model in models {
                let axes = [
                  "arch": architecture.rawValue, "accel": accelerator.rawValue,
                  "smp": String(cpuCount), "memory": String(mebibytes), "cpu": model ?? "default",
                ]
                let excluded = declaration.excludes.contains { conditions in
                  conditions.allSatisfy { axes[$0.key] == $0.value }
                }
                if excluded { continue }
                cells.append(
                  MatrixCell(
                    guest: declaration.guest,
                    settings: LaunchSettings(
                      architecture: architecture, accelerator: accelerator, cpus: cpuCount,
                      memoryMiB: mebibytes, extraQemuArguments: qemuArguments,
                      guestArguments: guestArguments, timeout: deadline(accelerator),
                      silenceTimeout: .seconds(silence), cpuModel: model),
                    groups: declaration.groups, expectedChecks: checks))
              }
            }
          }
        }
      }
    }
    return cells
  }
}
