import Foundation
import Harness
@testable import LibvirtBackend
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// The Swift layer over libvirt's C API, against libvirt's own test driver.
@Suite("libvirt wrapper (test:///default)")
struct LibvirtWrapperTests {
  @Test func opensTheTestDriverAndReadsCapacity() throws {
    let connection = try LibvirtConnection(uri: "test:///default")
    #expect(connection.isAlive)
    let capacity = try connection.capacity()
    #expect(capacity.cpus > 0)
    #expect(capacity.memoryMiB > 0)
    #expect(try connection.runningDomainNames().contains("test"))
  }

  @Test func badURIFailsWithLibvirtsMessage() {
    #expect {
      _ = try LibvirtConnection(uri: "nosuchdriver:///nowhere")
    } throws: { error in
      guard let error = error as? LibvirtError else { return false }
      return error.operation.contains("nosuchdriver:///nowhere") && !error.message.isEmpty
        && error.message != "unknown libvirt error"
    }
  }

  @Test func domainXMLEscapesEveryValue() throws {
    let settings = LaunchSettings(
      architecture: .x86_64, accelerator: .kvm, cpus: 2, memoryMiB: 512,
      guestArguments: ["name=<a&b>", "q='\"x\"'"])
    let xml = DomainXML.make(
      name: "g<1>", kernel: "/tmp/a&b/guest.elf", settings: settings, consoleLog: "/l/'x'.log")
    #expect(xml.contains("<name>g&lt;1&gt;</name>"))
    #expect(xml.contains("<kernel>/tmp/a&amp;b/guest.elf</kernel>"))
    #expect(xml.contains("name=&lt;a&amp;b&gt; q=&#39;&quot;x&quot;&#39;"))
    #expect(xml.contains("<domain type='kvm' xmlns:qemu="))
    #expect(!xml.contains("<qemu:commandline>"), "no passthrough without qemu_args")
    #expect(xml.contains("<vcpu>2</vcpu>"))
    #expect(xml.contains("<serial type='pty'><log file='/l/&#39;x&#39;.log' append='off'/>"))
    // Well formed: Foundation's parser reads it back.
    let parser = XMLParser(data: Data(xml.utf8))
    #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
  }

  @Test func s390xDomainUsesSCLPConsole() {
    let settings = LaunchSettings(architecture: .s390x, accelerator: .tcg)
    let xml = DomainXML.make(name: "s", kernel: "/k", settings: settings, consoleLog: "/c.log")
    #expect(xml.contains("machine='s390-ccw-virtio'"))
    #expect(xml.contains("<console type='pty'><log file='/c.log' append='off'/>"))
    #expect(xml.contains("<target type='sclp' port='0'/>"))
    #expect(xml.contains("<domain type='qemu' xmlns:qemu="))
  }

  @Test func qemuArgsReachQEMUThroughLibvirtsPassthrough() throws {
    let settings = LaunchSettings(
      architecture: .s390x, accelerator: .tcg,
      extraQemuArguments: ["-device", "diag288,id=watchdog0", "-object", "x,y='<&>'"])
    let xml = DomainXML.make(name: "s", kernel: "/k", settings: settings)
    #expect(
      xml.contains(
        "<qemu:commandline><qemu:arg value='-device'/><qemu:arg value='diag288,id=watchdog0'/>"
          + "<qemu:arg value='-object'/><qemu:arg value='x,y=&#39;&lt;&amp;&gt;&#39;'/></qemu:commandline>"
      ), "\(xml)")
    let parser = XMLParser(data: Data(xml.utf8))
    parser.shouldProcessNamespaces = true
    #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
  }

  @Test func consoleStreamIsComparedWithTheConsoleLog() {
    let log = Array("KTAP version 1\n# EXIT: STATUS=0\n".utf8)
    #expect(RunEngine.compareConsole(streamed: log, logged: log) == nil)
    let cut = RunEngine.compareConsole(streamed: Array(log.prefix(15)), logged: log)
    #expect(cut == .consoleStreamLostTail(bytes: log.count - 15))
    #expect(cut?.description == "the console stream lost the last \(log.count - 15) bytes; the console log has them")
    let other = RunEngine.compareConsole(streamed: Array("garbage".utf8), logged: log)
    #expect(other == .consoleStreamDiffers(streamed: 7, logged: log.count))
  }

  /// Only a local non-system daemon reads the harness's files in place; a
  /// system daemon (standard security model) and remote hosts get payloads
  /// uploaded and console logs downloaded through storage volumes.
  @Test func whichDaemonsShareTheHarnesssFiles() throws {
    #expect(LibvirtConnection.sharesFilesByDefault(uri: "qemu:///session"))
    #expect(LibvirtConnection.sharesFilesByDefault(uri: "test:///default"))
    #expect(!LibvirtConnection.sharesFilesByDefault(uri: "qemu:///system"))
    #expect(!LibvirtConnection.sharesFilesByDefault(uri: "qemu+unix:///system?socket=/x/libvirt-sock"))
    #expect(!LibvirtConnection.sharesFilesByDefault(uri: "qemu+tcp://10.0.0.2/system"))
    #expect(!LibvirtConnection.sharesFilesByDefault(uri: "qemu+ssh://host2/session"))
    let daemon = PrivateLibvirtd(stateDirectory: "/tmp/x")
    #expect(daemon.uri == "qemu+unix:///system?socket=/tmp/x/run/libvirt-sock")
    #expect(daemon.payloadDirectory == "/tmp/x/payloads")
    #expect(LibvirtConnection.defaultPayloadDirectory(for: "qemu:///system") == "/var/lib/libvirt/swiftguest-payloads")
    #expect(PrivateLibvirtd.quoted("/tmp/a b'c") == "'/tmp/a b'\\''c'")
    let conf = PrivateLibvirtd.qemuConf(user: "root", group: "root")
    #expect(conf.contains("user = \"root\"") && conf.contains("stdio_handler = \"file\""))
  }

  @Test func machineTypeBecomesTheOSTypeMachine() {
    var settings = LaunchSettings(architecture: .x86_64, accelerator: .kvm)
    #expect(DomainXML.make(name: "c", kernel: "/k", settings: settings).contains("<type arch='x86_64' machine='pc'>hvm</type>"))
    settings.machine = "q35"
    let xml = DomainXML.make(name: "c", kernel: "/k", settings: settings)
    #expect(xml.contains("<type arch='x86_64' machine='q35'>hvm</type>"))
    #expect(xml.contains("<cmdline>harness.mem=256 harness.smp=1 harness.machine=q35 harness.accel=kvm</cmdline>"))
    let s390x = LaunchSettings(architecture: .s390x, accelerator: .tcg)
    #expect(DomainXML.make(name: "c", kernel: "/k", settings: s390x).contains("machine='s390-ccw-virtio'"))
  }

  @Test func cpuModelBecomesACustomCPUElement() {
    #expect(DomainXML.cpu(nil) == "")
    #expect(
      DomainXML.cpu("qemu64,+x2apic,-svm")
        == "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model>"
        + "<feature policy='require' name='x2apic'/><feature policy='disable' name='svm'/></cpu>")
    // QEMU's `max` is libvirt's maximum mode (no model of that name exists).
    #expect(DomainXML.cpu("max") == "<cpu mode='maximum' check='none'></cpu>")
    #expect(
      DomainXML.cpu("max,-x2apic")
        == "<cpu mode='maximum' check='none'><feature policy='disable' name='x2apic'/></cpu>")
    var settings = LaunchSettings(
      architecture: .x86_64, accelerator: .kvm, cpus: 2, cpuModel: "qemu64,-x2apic")
    let xml = DomainXML.make(name: "c", kernel: "/k", settings: settings)
    #expect(xml.contains("<feature policy='disable' name='x2apic'/>"))
    #expect(xml.contains("<cmdline>harness.mem=256 harness.smp=2 harness.cpu=qemu64,-x2apic harness.accel=kvm</cmdline>"))
    // The QEMU version when known, and an allowed XPASS, as on bare QEMU.
    settings.qemuVersion = "7.2.22"
    settings.xpassAllowed = true
    #expect(
      DomainXML.make(name: "c", kernel: "/k", settings: settings).contains(
        "<cmdline>harness.mem=256 harness.smp=2 harness.cpu=qemu64,-x2apic harness.accel=kvm harness.qemu=7.2.22 harness.xpass=allow</cmdline>"))
    // The daemon's own QEMU: its version is not the local one's.
    #expect(LibvirtPool.guestSettings(settings).qemuVersion == nil)
    settings.qemuPath = "/opt/qemu/bin/qemu-system-x86_64"
    #expect(LibvirtPool.guestSettings(settings).qemuVersion == "7.2.22")
  }
}
