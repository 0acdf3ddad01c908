import GuestLib
import Testing

/// The guest's view of its command line.
@Suite("Boot arguments")
struct BootArgumentsTests {
  func withArguments<T>(_ text: String, _ body: (BootArguments) -> T) -> T {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBufferPointer { buffer in
      body(BootArguments(bytes: buffer.baseAddress, count: buffer.count))
    }
  }

  @Test func integersInDecimalAndHex() {
    withArguments("harness.mem=256  harness.smp=0x4 bad=12x harness.memx=9") { arguments in
      #expect(arguments.integer("harness.mem") == 256)
      #expect(arguments.integer("harness.smp") == 4)
      #expect(arguments.integer("bad") == nil)
      #expect(arguments.integer("missing") == nil)
    }
  }

  @Test func commaSeparatedItemsOfAValue() {
    withArguments("harness.smp=2 harness.cpu=qemu64,+x2apic,-svm x=+x2apicz") { arguments in
      #expect(arguments.value(of: "harness.cpu", hasItem: "+x2apic"))
      #expect(arguments.value(of: "harness.cpu", hasItem: "qemu64"))
      #expect(arguments.value(of: "harness.cpu", hasItem: "-svm"))
      #expect(!arguments.value(of: "harness.cpu", hasItem: "+x2api"))
      #expect(!arguments.value(of: "harness.cpu", hasItem: "x2apic"))
      #expect(!arguments.value(of: "x", hasItem: "+x2apic"))
      #expect(!arguments.value(of: "harness.smp", hasItem: "+x2apic"))
    }
    withArguments("harness.cpu=qemu64") { arguments in
      #expect(!arguments.value(of: "harness.cpu", hasItem: "+x2apic"))
    }
    #expect(!BootArguments.empty.value(of: "harness.cpu", hasItem: "+x2apic"))
  }
}
