import Testing

@testable import Harness

@Suite("Matrix config")
struct MatrixConfigTests {
  @Test func crossProductWithExcludesAndOverrides() throws {
    let text = """
      [defaults]
      arch = x86_64 s390x
      accel = tcg kvm
      timeout = 30

      [alloc]
      smp = 1 2
      memory = 256M 8G
      exclude = accel=kvm memory=8G
      accel@s390x = tcg
      timeout@s390x = 90
      groups = memory smp
      """
    let cells = Matrix.cells(try MatrixConfig.parse(text, file: "test.cfg"))
    // x86_64: 2 accel x 2 smp x 2 mem - (kvm, 8G) x 2 smp = 6; s390x: tcg only, 4.
    #expect(cells.count == 10)
    #expect(Set(cells.map(\.id)).count == 10)
    #expect(cells.contains { $0.id == "alloc.x86_64.kvm.smp2.mem256M" })
    #expect(!cells.contains { $0.id == "alloc.x86_64.kvm.smp1.mem8G" })
    #expect(cells.filter { $0.settings.architecture == .s390x }.allSatisfy {
      $0.settings.accelerator == .tcg && $0.settings.timeout == .seconds(90)
    })
    #expect(cells.first { $0.settings.architecture == .x86_64 }?.settings.timeout == .seconds(30))
    #expect(cells.allSatisfy { $0.groups == ["memory", "smp"] })
  }

  @Test(arguments: [
    ("[a]\nmemory = 12Q\n", 2, "'12Q' is not a memory size"),
    ("[a]\nfrobnicate = 1\n", 2, "unknown key 'frobnicate'"),
    ("[a]\narch = x86_64\n[a]\n", 3, "declared twice"),
    ("arch = x86_64\n", 1, "setting outside a [section]"),
    ("[a]\nexclude = vcpu=4\n", 2, "exclude takes axis=value"),
    ("[a]\n\ncpu = qemu64,x2apic\n", 3, "'qemu64,x2apic' is not a CPU model"),
    ("[a]\ncpu@x86_64 = qemu64;reboot\n", 2, "bad value 'qemu64;reboot' for 'cpu'"),
    ("[a]\ntimeout@arm = 3\n", 2, "unknown architecture 'arm'"),
    ("[a]\n\nsmp = 0\n", 3, "'0' is not a CPU count"),
    ("[a\n", 1, "malformed section header"),
  ])
  func errorsNameFileAndLine(text: String, line: Int, message: String) {
    #expect {
      _ = try MatrixConfig.parse(text, file: "configs/bad.cfg")
    } throws: { error in
      guard let error = error as? ConfigError else { return false }
      return error.file == "configs/bad.cfg" && error.line == line
        && error.description.hasPrefix("configs/bad.cfg:\(line): ")
        && error.message.contains(message)
    }
  }

  @Test func selectionFilters() throws {
    let text = "[a]\naccel = tcg kvm\ngroups = g1\n[b]\ngroups = g2\n"
    let matrix = TestMatrix(cells: Matrix.cells(try MatrixConfig.parse(text, file: "t")), configPath: "t")
    #expect(matrix.select(groups: ["g1"]).map(\.id) == ["a.x86_64.tcg.smp1.mem256M", "a.x86_64.kvm.smp1.mem256M"])
    #expect(matrix.select(accelerators: [.kvm]).map(\.guest) == ["a"])
    #expect(matrix.select(idContains: "b.").count == 1)
  }

  @Test func cpuModelAxisMakesItsOwnCells() throws {
    let text = """
      [smp]
      accel = tcg kvm
      smp = 1 4
      cpu = default qemu64,-x2apic
      exclude = accel=tcg cpu=qemu64,-x2apic
      exclude = smp=1 cpu=qemu64,-x2apic
      """
    let cells = Matrix.cells(try MatrixConfig.parse(text, file: "t"))
    #expect(cells.map(\.id) == [
      "smp.x86_64.tcg.smp1.mem256M", "smp.x86_64.tcg.smp4.mem256M",
      "smp.x86_64.kvm.smp1.mem256M", "smp.x86_64.kvm.smp4.mem256M",
      "smp.x86_64.kvm.smp4.mem256M.cpu-qemu64,-x2apic",
    ])
    let modelled = try #require(cells.last)
    #expect(modelled.settings.cpuModel == "qemu64,-x2apic")
    #expect(cells.dropLast().allSatisfy { $0.settings.cpuModel == nil })
    // The model reaches QEMU and the guest.
    let argv = QemuCommand.arguments(bootImage: "/g.elf", settings: modelled.settings)
    #expect(argv[argv.firstIndex(of: "-cpu")! + 1] == "qemu64,-x2apic")
    #expect(argv[argv.firstIndex(of: "-append")! + 1] == "harness.mem=256 harness.smp=4 harness.cpu=qemu64,-x2apic")
    #expect(!QemuCommand.arguments(bootImage: "/g.elf", settings: cells[0].settings).contains("-cpu"))
  }
}
