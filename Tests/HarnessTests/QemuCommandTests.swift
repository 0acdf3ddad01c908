import Testing

@testable import Harness

@Suite struct QemuCommandTests {
  @Test func argumentsAreAnArrayWithSettings() {
    let settings = LaunchSettings(
      architecture: .x86_64, accelerator: .kvm, cpus: 4, memoryMiB: 8192,
      extraQemuArguments: ["-cpu", "max"], guestArguments: ["mode=fast path"])
    let argv = QemuCommand.arguments(bootImage: "/tmp/a b/guest.elf", settings: settings)
    #expect(argv.contains("/tmp/a b/guest.elf"))
    #expect(argv[argv.firstIndex(of: "-smp")! + 1] == "4")
    #expect(argv[argv.firstIndex(of: "-m")! + 1] == "8192")
    #expect(argv[argv.firstIndex(of: "-accel")! + 1] == "kvm")
    #expect(argv[argv.firstIndex(of: "-append")! + 1] == "harness.mem=8192 harness.smp=4 harness.accel=kvm mode=fast path")
    #expect(Array(argv.suffix(2)) == ["-cpu", "max"])
    #expect(QemuCommand.debugExitCode(forStatus: 2) == 5)
  }
}
