import Foundation
import Harness
import LibvirtBackend
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
    let xml = DomainXML.make(name: "g<1>", kernel: "/tmp/a&b/guest.elf", settings: settings)
    #expect(xml.contains("<name>g&lt;1&gt;</name>"))
    #expect(xml.contains("<kernel>/tmp/a&amp;b/guest.elf</kernel>"))
    #expect(xml.contains("name=&lt;a&amp;b&gt; q=&apos;&quot;x&quot;&apos;"))
    #expect(xml.contains("<domain type='kvm'>"))
    #expect(xml.contains("<vcpu>2</vcpu>"))
    // Well formed: Foundation's parser reads it back.
    let parser = XMLParser(data: Data(xml.utf8))
    #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
  }

  @Test func s390xDomainUsesSCLPConsole() {
    let settings = LaunchSettings(architecture: .s390x, accelerator: .tcg)
    let xml = DomainXML.make(name: "s", kernel: "/k", settings: settings)
    #expect(xml.contains("machine='s390-ccw-virtio'"))
    #expect(xml.contains("<target type='sclp' port='0'/>"))
    #expect(xml.contains("<domain type='qemu'>"))
  }
}
