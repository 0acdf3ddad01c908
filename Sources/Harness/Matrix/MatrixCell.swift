/// One cell of the test matrix: a guest booted with one combination of axes.
public struct MatrixCell: Sendable, Hashable, CustomStringConvertible {
  /// The guest program name.
  public var guest: String
  /// The launch settings of this cell.
  public var settings: LaunchSettings
  /// Groups of the guest.
  public var groups: [String]
  /// The names of the tests the guest's sources register for this cell,
  /// in registry order (the selected ones, when the run filters tests); nil
  /// when unknown. When set, the guest's top-level plan must announce
  /// exactly these tests, in this order (a PROTOCOL-ERROR otherwise): the
  /// plan is derived from the sources, never typed into the config.
  public var expectedTests: [String]?

  /// A cell of `guest` with `settings`.
  public init(guest: String, settings: LaunchSettings, groups: [String] = [], expectedTests: [String]? = nil) {
    self.guest = guest
    self.settings = settings
    self.groups = groups
    self.expectedTests = expectedTests
  }

  /// The stable id: `guest.arch.accel.smpN.memM`, then `.cpu-MODEL` for a
  /// cell with a CPU model (`smp.x86_64.kvm.smp2.mem256M.cpu-qemu64,+x2apic`),
  /// `.machine-TYPE` for a cell with a machine type (`.machine-q35`),
  /// `.qemu-NAME` for a cell on a QEMU build other than `system`, and
  /// `.migrate` for a cell that live-migrates its guest on request.
  public var id: String {
    "\(guest).\(settings.architecture).\(settings.accelerator).smp\(settings.cpus).mem\(Self.memoryLabel(settings.memoryMiB))"
      + (settings.cpuModel.map { ".cpu-\($0)" } ?? "")
      + (settings.machine.map { ".machine-\($0)" } ?? "")
      + (settings.qemuBuild == LaunchSettings.systemQemu ? "" : ".qemu-\(settings.qemuBuild)")
      + (settings.migrate ? ".migrate" : "")
  }

  /// Where a cell's QEMU build is: the matrix's `qemu_builds` location.
  public var qemuLocation: String?

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
        guard let axes = declaration.settings[architecture] else { continue }
        for accelerator in axes.accelerators {
          for cpuCount in axes.cpus {
            for mebibytes in axes.memoryMiB {
              for model in axes.cpuModels {
               for machine in axes.machines {
               for build in axes.qemuBuilds {
                let values = [
                  "arch": architecture.rawValue, "accel": accelerator.rawValue,
                  "smp": String(cpuCount), "memory": String(mebibytes), "cpu": model ?? "default",
                  "machine": machine ?? "default", "qemu": build,
                ]
                let excluded = declaration.excludes.contains { conditions in
                  conditions.allSatisfy { values[$0.key] == $0.value }
                }
                if excluded { continue }
                var settings = LaunchSettings(
                  architecture: architecture, accelerator: accelerator, cpus: cpuCount,
                  memoryMiB: mebibytes, extraQemuArguments: axes.qemuArguments,
                  guestArguments: axes.guestArguments,
                  timeout: axes.deadlines[accelerator] ?? .seconds(axes.timeoutSeconds),
                  silenceTimeout: .seconds(axes.silenceSeconds), cpuModel: model)
                settings.outputLimitBytes = axes.outputLimitBytes
                settings.qemuBuild = build
                settings.machine = machine
                settings.xpassAllowed = axes.xpassAllowed
                settings.migrate = axes.migrate
                settings.reset = axes.reset
                settings.expectPanic = axes.expectPanic
                var cell = MatrixCell(
                  guest: declaration.guest, settings: settings, groups: declaration.groups)
                cell.qemuLocation = axes.qemuLocations[build]
                cells.append(cell)
               }
               }
              }
            }
          }
        }
      }
    }
    return cells
  }
}
