import Foundation
import Harness

/// Domain XML for a matrix cell: direct kernel boot of the payload, the
/// cell's accelerator, vCPUs and memory, its guest arguments, a pty console
/// and a panic device. The console also goes to `consoleLog` when given
/// (QEMU's chardev log, which keeps the bytes a pty can drop). Every value
/// is escaped; nothing from the config is spliced into markup unescaped.
public enum DomainXML {
  /// Escapes text for XML content and attribute values (markup characters
  /// as entities, tab and newlines as character references, characters XML
  /// forbids dropped).
  public static func escape(_ text: String) -> String {
    MarkupEscaping.escape(text, attribute: true)
  }

  /// The guest command line libvirt passes to `-append`.
  public static func commandLine(_ settings: LaunchSettings) -> String { settings.commandLine }

  /// The `<cpu>` element for a QEMU-style model (`qemu64,+x2apic,-svm`):
  /// the named model exactly, `+f` features required, `-f` disabled; empty
  /// for the default model.
  public static func cpu(_ model: String?) -> String {
    guard let model else { return "" }
    let parts = model.split(separator: ",").map(String.init)
    guard let name = parts.first else { return "" }
    // QEMU's `max` (every feature the accelerator can offer) is libvirt's
    // `maximum` CPU mode, not a named model.
    var xml =
      name == "max"
      ? "<cpu mode='maximum' check='none'>"
      : "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>\(escape(name))</model>"
    for feature in parts.dropFirst() {
      let policy = feature.hasPrefix("-") ? "disable" : "require"
      let bare = feature.hasPrefix("+") || feature.hasPrefix("-") ? String(feature.dropFirst()) : feature
      xml += "<feature policy='\(policy)' name='\(escape(bare))'/>"
    }
    return xml + "</cpu>"
  }

  /// QEMU's qboot, when installed: x86_64 guests boot through it rather
  /// than SeaBIOS, as with bare QEMU (see QemuCommand: SeaBIOS under nested
  /// KVM takes seconds before the guest's first byte).
  static let qboot = "/usr/share/qemu/qboot.rom"

  static func firmware(_ settings: LaunchSettings) -> String {
    guard settings.architecture == .x86_64, FileManager.default.fileExists(atPath: qboot) else {
      return ""
    }
    return "<loader type='rom' readonly='yes'>\(escape(qboot))</loader>"
  }

  /// libvirt's namespace for QEMU command-line passthrough.
  static let qemuNamespace = "http://libvirt.org/schemas/domain/qemu/1.0"

  /// The cell's extra QEMU argv words (`qemu_args`) as libvirt's QEMU
  /// passthrough (`<qemu:commandline>`), so that a cell boots the same
  /// machine under libvirt as under bare QEMU; empty without them.
  public static func passthrough(_ settings: LaunchSettings) -> String {
    guard !settings.extraQemuArguments.isEmpty else { return "" }
    let words = settings.extraQemuArguments.map { "<qemu:arg value='\(escape($0))'/>" }
    return "<qemu:commandline>" + words.joined() + "</qemu:commandline>"
  }

  /// The XML of a transient domain named `name` booting `kernel`.
  public static func make(
    name: String, kernel: String, settings: LaunchSettings, consoleLog: String? = nil
  ) -> String {
    let log = consoleLog.map { "<log file='\(escape($0))' append='off'/>" } ?? ""
    let type = settings.accelerator == .kvm ? "kvm" : "qemu"
    let machine = escape(settings.machineType)
    var devices: [String]
    switch settings.architecture {
    case .x86_64:
      devices = [
        "<serial type='pty'>\(log)<target port='0'/></serial>",
        "<console type='pty'><target type='serial' port='0'/></console>",
        "<panic model='isa'><address type='isa' iobase='0x505'/></panic>",
      ]
    case .s390x:
      devices = ["<console type='pty'>\(log)<target type='sclp' port='0'/></console>"]
    }
    devices += ["<controller type='usb' model='none'/>", "<memballoon model='none'/>"]
    // A QEMU build of the matrix's qemu axis (the daemon's default otherwise).
    if let path = settings.qemuPath { devices.insert("<emulator>\(escape(path))</emulator>", at: 0) }
    return """
      <domain type='\(type)' xmlns:qemu='\(qemuNamespace)'>
        <name>\(escape(name))</name>
        <memory unit='MiB'>\(settings.memoryMiB)</memory>
        <vcpu>\(settings.cpus)</vcpu>\(cpu(settings.cpuModel))
        <os>
          <type arch='\(settings.architecture.rawValue)' machine='\(machine)'>hvm</type>
          \(firmware(settings))<kernel>\(escape(kernel))</kernel>
          <cmdline>\(escape(commandLine(settings)))</cmdline>
        </os>
        <features>\(settings.architecture == .x86_64 ? "<acpi/>" : "")</features>
        <on_poweroff>destroy</on_poweroff>
        <on_reboot>destroy</on_reboot>
        <on_crash>destroy</on_crash>
        <devices>
          \(devices.joined(separator: "\n      "))
        </devices>
        \(passthrough(settings))
      </domain>
      """
  }
}
