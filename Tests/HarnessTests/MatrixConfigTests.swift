import Foundation
import Testing

@testable import Harness

/// The checkout's configs/guests.cfg.
let guestsConfigPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("configs/guests.cfg").path

/// The error `text` gets as `configs/bad.cfg`, or nil when it parses.
func configError(_ text: String) -> ConfigError? {
  configError(bytes: Array(text.utf8))
}

func configError(bytes: [UInt8]) -> ConfigError? {
  do {
    _ = try MatrixConfig.parse(bytes: bytes, file: "configs/bad.cfg")
    return nil
  } catch {
    return error as? ConfigError
  }
}

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
    ("[a]\ncpu@x86_64 = qemu64;reboot\n", 2, "bad value 'qemu64;reboot' for 'cpu' on x86_64"),
    ("[a]\ntimeout@arm = 3\n", 2, "unknown architecture 'arm'"),
    ("[a]\n\nsmp = 0\n", 3, "'0' is not a CPU count"),
    ("[a\n", 1, "malformed section header"),
    // Overflow and QEMU's bounds, plain keys and overrides alike.
    ("[a]\nmemory = 99999999999999999G\n", 2, "'99999999999999999G' is too large"),
    ("[a]\nmemory = 99999999999999999999999\n", 2, "is too large"),
    ("[a]\nmemory = 1T\n", 2, "at most 1009G"),
    ("[a]\narch = s390x\nmemory = 65T\n", 3, "at most 64T"),
    ("[a]\nmemory@s390x = 65T\n", 2, "bad value '65T' for 'memory' on s390x"),
    ("[a]\nmemory = 8M\n", 2, "less than the 16M"),
    ("[a]\nmemory = 1500K\n", 2, "not a whole number of MiB"),
    ("[a]\ntimeout = 99999999999999999\n", 2, "more than one day"),
    ("[a]\ntimeout = 99999999999999999999999\n", 2, "more than one day"),
    ("[a]\nsilence@s390x = 86401\n", 2, "bad value '86401' for 'silence' on s390x"),
    ("[a]\ntimeout = 0\n", 2, "not a positive integer number of seconds"),
    ("[a]\ntimeout = 1 2\n", 2, "'timeout' takes one number"),
    ("[a]\ntimeout = 86400\ntcg_factor = 2\n", 3, "a deadline is 1 s to one day"),
    ("[a]\ntimeout = 10\ntcg_factor@x86_64 = 0.01\n", 3, "a deadline is 1 s to one day"),
    ("[a]\ntcg_factor = 1e3\n", 2, "'1e3' is not a positive number"),
    ("[a]\ntcg_factor = inf\n", 2, "'inf' is not a positive number"),
    ("[a]\nkvm_factor = 1001\n", 2, "too large a factor"),
    ("[a]\nsmp@s390x = 100000\n", 2, "bad value '100000' for 'smp' on s390x"),
    ("[a]\narch = s390x\nsmp = 249\n", 3, "at most 248"),
    ("[a]\nsmp = 256\n", 2, "at most 255"),
    ("[a]\nsmp = 99999999999999999999\n", 2, "too many"),
    ("[a]\nsmp = -1\n", 2, "'-1' is not a CPU count"),
    ("[a]\nsmp = 1 01\n", 2, "listed twice"),
    ("[a]\nmemory = 1G 1024M\n", 2, "listed twice"),
    // The check count of earlier versions is gone: the plan comes from the sources.
    ("[a]\narch = s390x\nchecks = 21\n", 3, "checks is gone: the plan is derived from the guest's registered tests"),
    ("[defaults]\nchecks@s390x = 22\n", 2, "checks is gone"),
    ("[a]\nxpass = yes\n", 2, "'yes' is not fail or allow"),
    ("[a]\nxpass = allow fail\n", 2, "'xpass' takes one value"),
    // QEMU refuses an s390x command line past its kernel parameter area.
    ("[a]\narch = x86_64 s390x\nguest_args = \(String(repeating: "x", count: 900))\n", 3, "at most 896"),
    ("[a]\narch = s390x\n\nguest_args@s390x = \(String(repeating: "y=1 ", count: 210))\n", 4, "at most 896"),
    // The first mistake in the file is the one reported.
    ("[a]\nmemory = 12Q\nsmp = 0\n", 2, "'12Q' is not a memory size"),
    ("[defaults]\ntimeout = x\n[a]\nsilence@s390x = y\n", 2, "'x' is not a positive integer"),
    // An override for an architecture the guest does not run on is checked too.
    ("[a]\narch = x86_64\nsmp@s390x = 300\n", 3, "bad value '300' for 'smp' on s390x"),
    ("[defaults]\nmemory@s390x = 12Q\n", 2, "bad value '12Q' for 'memory' on s390x"),
    ("[a]\nmemory@ = 1G\n", 2, "unknown architecture ''"),
    ("[a]\nmemory@s390x@x86_64 = 1G\n", 2, "unknown architecture 's390x@x86_64'"),
    ("[defaults]\nsmp = 1\nsmp = 2\n", 3, "set twice in [defaults]"),
    ("[a.b]\n", 1, "a name is 1-64 letters"),
    ("[a]\nexclude = memory=lots\n", 2, "'lots' is not a value of the memory axis"),
    ("[a]\nexclude = smp=1 smp=2\n", 2, "'smp' appears twice"),
    ("[a]\nsmp = \(Array(1...200).map(String.init).joined(separator: " "))\nmemory = \((16...80).map { "\($0)M" }.joined(separator: " "))\n", 1, "expands to 13000 cells"),
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
    #expect(argv[argv.firstIndex(of: "-append")! + 1] == "harness.mem=256 harness.smp=4 harness.cpu=qemu64,-x2apic harness.accel=kvm")
    #expect(!QemuCommand.arguments(bootImage: "/g.elf", settings: cells[0].settings).contains("-cpu"))
  }

  @Test func machineAxisMakesItsOwnCells() throws {
    let text = """
      [platform]
      accel = tcg kvm
      machine = pc q35
      exclude = accel=kvm machine=pc
      """
    let cells = Matrix.cells(try MatrixConfig.parse(text, file: "t"))
    #expect(cells.map(\.id) == [
      "platform.x86_64.tcg.smp1.mem256M.machine-pc", "platform.x86_64.tcg.smp1.mem256M.machine-q35",
      "platform.x86_64.kvm.smp1.mem256M.machine-q35",
    ])
    #expect(cells.map(\.settings.machine) == ["pc", "q35", "q35"])
    // The type reaches QEMU and the guest.
    let argv = QemuCommand.arguments(bootImage: "/g.elf", settings: cells[1].settings)
    #expect(argv[argv.firstIndex(of: "-machine")! + 1] == "q35")
    #expect(argv.filter { $0 == "-machine" }.count == 1)
    #expect(argv[argv.firstIndex(of: "-append")! + 1] == "harness.mem=256 harness.smp=1 harness.machine=q35 harness.accel=tcg")
    // Without the axis: one cell, the id unchanged, the architecture's own type.
    let plain = Matrix.cells(try MatrixConfig.parse("[a]\narch = x86_64 s390x\nmachine@s390x = default\n", file: "t"))
    #expect(plain.map(\.id) == ["a.x86_64.tcg.smp1.mem256M", "a.s390x.tcg.smp1.mem256M"])
    #expect(plain.allSatisfy { $0.settings.machine == nil })
    let x86 = QemuCommand.arguments(bootImage: "/g.elf", settings: plain[0].settings)
    #expect(x86[x86.firstIndex(of: "-machine")! + 1] == "pc")
    #expect(!x86[x86.firstIndex(of: "-append")! + 1].contains("harness.machine"))
    let s390x = QemuCommand.arguments(bootImage: "/g.elf", settings: plain[1].settings)
    #expect(s390x[s390x.firstIndex(of: "-machine")! + 1] == "s390-ccw-virtio")
    // `default` is a value of its own next to the named types.
    let both = Matrix.cells(try MatrixConfig.parse("[a]\nmachine = default q35\nexclude = machine=default\n", file: "t"))
    #expect(both.map(\.id) == ["a.x86_64.tcg.smp1.mem256M.machine-q35"])
  }

  @Test(arguments: [
    ("[a]\nmachine = q45\n", 2, "'q45' is not a machine type of x86_64 (default, pc, q35)"),
    ("[a]\narch = s390x\nmachine = q35\n", 3, "'q35' is not a machine type of s390x"),
    ("[a]\nmachine@x86_64 = s390-ccw-virtio\n", 2, "bad value 's390-ccw-virtio' for 'machine' on x86_64"),
    ("[defaults]\nmachine = pc pc\n", 2, "'pc' is listed twice"),
    ("[a]\nmachine =\n", 2, "'machine' has no value"),
    ("[a]\nexclude = machine=isapc\n", 2, "'isapc' is not a value of the machine axis"),
  ])
  func badMachineNamesFileAndLine(text: String, line: Int, message: String) {
    let error = configError(text)
    #expect(error?.file == "configs/bad.cfg")
    #expect(error?.line == line)
    #expect(error?.description.hasPrefix("configs/bad.cfg:\(line): ") == true)
    #expect(error?.message.contains(message) == true, "\(String(describing: error))")
  }

  @Test func qemuBoundsAreAcceptedUpToTheLimit() throws {
    let text = """
      [a]
      arch = x86_64 s390x
      smp = 255
      smp@s390x = 248
      memory = 16M 1009G
      memory@s390x = 16M 64T
      timeout = 86400
      silence = 86400
      """
    let cells = Matrix.cells(try MatrixConfig.parse(text, file: "t"))
    #expect(cells.map(\.id) == [
      "a.x86_64.tcg.smp255.mem16M", "a.x86_64.tcg.smp255.mem1009G",
      "a.s390x.tcg.smp248.mem16M", "a.s390x.tcg.smp248.mem65536G",
    ])
    #expect(cells.allSatisfy { $0.settings.timeout == .seconds(86400) })
  }

  @Test func longGuestArgumentsAreFineOnX86ButNotOnS390x() throws {
    let words = String(repeating: "y=1 ", count: 220)
    #expect(configError("[a]\narch = x86_64\nguest_args = \(words)\n") == nil)
    #expect(configError("[a]\narch = s390x\nguest_args = \(String(repeating: "y=1 ", count: 100))\n") == nil)
    #expect(configError("[a]\narch = s390x\nguest_args = \(words)\n")?.line == 3)
  }

  @Test func overridesGoThroughTheSameParserAsPlainKeys() throws {
    // The same bad value is refused under both spellings, for the same reason.
    for (plain, override) in [
      ("smp = 100000", "smp@s390x = 100000"), ("memory = 99999999999999999G", "memory@s390x = 99999999999999999G"),
      ("timeout = 99999999999999999", "timeout@s390x = 99999999999999999"), ("accel = qemu", "accel@s390x = qemu"),
      ("output_limit = 1K", "output_limit@s390x = 1K"), ("xpass = maybe", "xpass@s390x = maybe"),
    ] {
      let base = try #require(configError("[a]\narch = s390x\n\(plain)\n"), "\(plain)")
      let arch = try #require(configError("[a]\narch = s390x\n\(override)\n"), "\(override)")
      #expect(base.line == 3 && arch.line == 3)
      #expect(arch.message.hasPrefix("bad value"))
      #expect(arch.message.contains(base.message.replacingOccurrences(of: " (in '\(plain.prefix { $0 != " " })')", with: "")))
    }
    // A valid override replaces the plain key for its architecture only.
    let cells = Matrix.cells(try MatrixConfig.parse("[a]\narch = x86_64 s390x\nsmp = 2\nsmp@s390x = 248\n", file: "t"))
    #expect(cells.map(\.settings.cpus) == [2, 248])
  }

  @Test func xpassIsFailByDefaultAndAllowReachesTheGuestCommandLine() throws {
    let text = "[a]\narch = x86_64 s390x\nxpass@s390x = allow\n[b]\nxpass = fail\n"
    let cells = Matrix.cells(try MatrixConfig.parse(text, file: "t"))
    #expect(cells.map(\.settings.xpassAllowed) == [false, true, false])
    #expect(!cells[0].settings.commandLine.contains("harness.xpass"))
    #expect(cells[1].settings.commandLine == "harness.mem=256 harness.smp=1 harness.accel=tcg harness.xpass=allow")
    #expect(cells.allSatisfy { $0.expectedTests == nil }, "the sources, not the config, give the tests")
    // harness.xpass=allow counts against the s390x command line budget.
    let room = ConfigLimits.s390xCommandLineBytes - ConfigLimits.commandLineReserveBytes
      - ConfigLimits.qemuVersionReserveBytes - "harness.mem=256 harness.smp=1 harness.accel=tcg ".utf8.count
      - 1  // the space before harness.attempt=
    let fits = String(repeating: "y", count: room)
    #expect(configError("[a]\narch = s390x\nguest_args = \(fits)\n") == nil)
    #expect(configError("[a]\narch = s390x\nguest_args = \(fits)y\n")?.line == 3)
    #expect(configError("[a]\narch = s390x\nxpass = allow\nguest_args = \(fits)\n")?.line == 4)
  }

  @Test func guestCommandLineNamesAccelQemuVersionAndXpass() {
    var settings = LaunchSettings(architecture: .s390x, accelerator: .kvm, cpus: 2, memoryMiB: 512, guestArguments: ["x=1"])
    #expect(settings.commandLine == "harness.mem=512 harness.smp=2 harness.accel=kvm x=1")
    settings.qemuVersion = "7.2.22"
    settings.xpassAllowed = true
    settings.cpuModel = "max"
    #expect(
      settings.commandLine
        == "harness.mem=512 harness.smp=2 harness.cpu=max harness.accel=kvm harness.qemu=7.2.22 harness.xpass=allow x=1")
  }

  @Test func qemuVersionsAreParsedAndCachedPerBinaryState() throws {
    #expect(QemuVersions.version(fromFirstLine: "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)") == "7.2.22")
    #expect(QemuVersions.version(fromFirstLine: "QEMU emulator version 8.0") == "8.0.0")
    #expect(QemuVersions.version(fromFirstLine: "QEMU emulator version 10.1.50 (v10.1.0-1234-gabc)") == "10.1.50")
    #expect(QemuVersions.version(fromFirstLine: "QEMU emulator version x") == nil)
    #expect(QemuVersions.version(fromFirstLine: "something else 7.2.0") == nil)
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qemu-versions-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let binary = directory.appendingPathComponent("qemu-system-x86_64").path
    try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: binary))
    let cache = QemuVersions()
    #expect(cache.version(of: binary) == nil, "unknown: nothing, never a guess")
    cache.record("QEMU emulator version 9.1.2", for: binary)
    #expect(cache.version(of: binary) == "9.1.2")
    // A rebuilt binary (other size) is asked again.
    try Data("#!/bin/sh\nexit 0\n".utf8).write(to: URL(fileURLWithPath: binary))
    #expect(cache.version(of: binary) == nil)
  }

  @Test func qemuVersionsPersistAcrossProcessesUntilTheBinaryChanges() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("qemu-versions-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let binary = directory.appendingPathComponent("qemu-system-s390x").path
    try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: binary))
    let cacheDirectory = directory.appendingPathComponent("cache").path

    let first = QemuVersions()
    first.persist(in: cacheDirectory)
    first.record("QEMU emulator version 9.1.2", for: binary)
    #expect(FileManager.default.fileExists(atPath: cacheDirectory + "/" + QemuVersions.fileName))
    // Another process (a new cache on the same directory) knows the answer.
    let second = QemuVersions()
    #expect(second.version(of: binary) == nil, "not persisted: not known")
    second.persist(in: cacheDirectory)
    #expect(second.version(of: binary) == "9.1.2")
    // The same size, but rewritten (a new modification/change time): asked again.
    usleep(10_000)
    try Data("#!/bin/ksh".utf8).write(to: URL(fileURLWithPath: binary))
    let third = QemuVersions()
    third.persist(in: cacheDirectory)
    #expect(third.version(of: binary) == nil)
    // A malformed file is ignored, and rewritten by the next answer.
    try Data("{not json".utf8).write(to: URL(fileURLWithPath: cacheDirectory + "/" + QemuVersions.fileName))
    let fourth = QemuVersions()
    fourth.persist(in: cacheDirectory)
    #expect(fourth.version(of: binary) == nil)
    fourth.record("QEMU emulator version 10.0.0", for: binary)
    let fifth = QemuVersions()
    fifth.persist(in: cacheDirectory)
    #expect(fifth.version(of: binary) == "10.0.0")
    // An answer about a binary that is gone is dropped at the next record.
    let other = directory.appendingPathComponent("qemu-system-x86_64").path
    try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: other))
    fifth.record("QEMU emulator version 8.2.0", for: other)
    let stored = { try String(contentsOfFile: cacheDirectory + "/" + QemuVersions.fileName, encoding: .utf8) }
    #expect(try stored().contains("qemu-system-s390x"))
    try FileManager.default.removeItem(atPath: binary)
    fifth.record("QEMU emulator version 8.2.1", for: other)
    #expect(try !stored().contains("qemu-system-s390x"), "the gone binary's answer was dropped")
    #expect(try stored().contains("8.2.1"))
  }

  @Test func outputLimitIsParsedAndCarriedIntoEveryCell() throws {
    let plain = Matrix.cells(try MatrixConfig.parse("[a]\narch = x86_64 s390x\n", file: "t"))
    #expect(plain.allSatisfy { $0.settings.outputLimitBytes == LaunchSettings.defaultOutputLimitBytes })
    #expect(LaunchSettings.defaultOutputLimitBytes == 4 << 20)
    let text = """
      [defaults]
      output_limit = 64K
      [a]
      arch = x86_64 s390x
      output_limit@s390x = 1G
      [b]
      output_limit = 4096
      [c]
      output_limit = 8m
      """
    let cells = Matrix.cells(try MatrixConfig.parse(text, file: "t"))
    let limits = Dictionary(cells.map { ("\($0.guest).\($0.settings.architecture)", $0.settings.outputLimitBytes) }) { a, _ in a }
    #expect(limits == ["a.x86_64": 64 << 10, "a.s390x": 1 << 30, "b.x86_64": 4096, "c.x86_64": 8 << 20])
    for (value, message) in [
      ("1K", "out of bounds"), ("4095", "out of bounds"), ("2G", "out of bounds"), ("0", "out of bounds"),
      ("99999999999999999999T", "too large"), ("9999999999999999T", "too large"), ("4M 8M", "takes one size"),
      ("lots", "is not a size"), ("-4M", "is not a size"), ("", "has no value"),
    ] {
      let error = try #require(configError("[a]\n\noutput_limit = \(value)\n"), "\(value)")
      #expect(error.line == 3 && error.message.contains(message), "\(value): \(error)")
    }
  }

  @Test func crlfFilesParseLikeLFFiles() throws {
    let text = try String(contentsOfFile: guestsConfigPath, encoding: .utf8)
    let lf = Matrix.cells(try MatrixConfig.parse(text, file: "guests.cfg"))
    let crlf = Matrix.cells(try MatrixConfig.parse(text.replacingOccurrences(of: "\n", with: "\r\n"), file: "guests.cfg"))
    #expect(!lf.isEmpty)
    #expect(crlf == lf)
    // A byte order mark at the start is skipped.
    let bom = Matrix.cells(try MatrixConfig.parse(bytes: [0xEF, 0xBB, 0xBF] + Array(text.utf8), file: "guests.cfg"))
    #expect(bom == lf)
    // A lone CR is refused at its line.
    let lone = try #require(configError("[a]\nsmp = 1\r2\n"))
    #expect(lone.line == 2 && lone.message.contains("U+000D") && lone.message.contains("LF or CRLF"))
    #expect(lone.description.hasPrefix("configs/bad.cfg:2: "))
  }

  @Test func invalidUTF8NamesTheFileAndLine() throws {
    let error = try #require(configError(bytes: Array("[a]\ngroups = ok\ngroups2 = ".utf8) + [0xFF, 0x41] + [0x0A]))
    #expect(error.line == 3 && error.message.contains("invalid UTF-8") && error.message.contains("0xFF"))
    #expect(error.description.hasPrefix("configs/bad.cfg:3: "))
    // Overlong forms, surrogates and truncated sequences are invalid too.
    for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
      let error = try #require(configError(bytes: Array("[a]\n#".utf8) + bad), "\(bad)")
      #expect(error.line == 2 && error.message.contains("invalid UTF-8"))
    }
    // Through load(): the path and the line.
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("utf8-\(UUID().uuidString).cfg").path
    try Data(Array("[a]\n\nmemory = 256".utf8) + [0xC3, 0x28] + Array("M\n".utf8)).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(throws: ConfigError.self) { _ = try MatrixConfig.load(path) }
    do {
      _ = try MatrixConfig.load(path)
    } catch let error as ConfigError {
      #expect(error.description.hasPrefix("\(path):3: invalid UTF-8"))
    }
    // Valid non-ASCII text is fine where words are free.
    #expect(configError("[a]\ngroups = café 😀\n") == nil)
    // Control characters are refused with their line.
    #expect(configError("[a]\nguest_args = a\u{0}b\n")?.line == 2)
  }

  @Test func wholeFileErrorsNameTheFile() throws {
    let missing = "/nonexistent/\(UUID().uuidString).cfg"
    do {
      _ = try MatrixConfig.load(missing)
      Issue.record("a missing file loaded")
    } catch let error as ConfigError {
      #expect(error.line == 0 && error.description.hasPrefix("\(missing): cannot read"))
    }
    let large = configError(bytes: Array(repeating: UInt8(ascii: "#"), count: ConfigLimits.maxFileBytes + 1))
    #expect(large?.line == 0 && large?.description.hasPrefix("configs/bad.cfg: the file is") == true)
  }

  /// Inputs near the 1 MiB file limit end quickly, refused at a line.
  @Test func pathologicalConfigsAreRefusedQuickly() throws {
    let clock = ContinuousClock()
    let start = clock.now
    let guests = (0..<1001).map { "[g\($0)]\n" }.joined()
    #expect(configError(guests).map { $0.line == 1001 && $0.message.contains("more than 1000 guest sections") } == true)
    let excludes = "[a]\n" + String(repeating: "exclude = smp=1\n", count: 1001)
    #expect(configError(excludes).map { $0.line == 1002 && $0.message.contains("more than 1000 exclude lines") } == true)
    let smp = (1...100).map(String.init).joined(separator: " ")
    let memory = (16...115).map { "\($0)M" }.joined(separator: " ")
    let big = (0..<11).map { "[g\($0)]\nsmp = \(smp)\nmemory = \(memory)\n" }.joined()
    #expect(configError(big).map { $0.line == 31 && $0.message.contains("more than 100000 cells") } == true)
    #expect(clock.now - start < .seconds(20))
  }

  @Test func guestsConfigStillParses() throws {
    let cells = Matrix.cells(try MatrixConfig.load(guestsConfigPath))
    #expect(cells.contains { $0.id == "alloc.s390x.tcg.smp1.mem4G" })
    #expect(cells.contains { $0.id == "smp.x86_64.kvm.smp4.mem256M.cpu-qemu64,-x2apic" })
    // alloc: timeout 180 s, × kvm_factor 3 under KVM; silence 300 s.
    let alloc = cells.filter { $0.guest == "alloc" }
    #expect(alloc.filter { $0.settings.accelerator == .tcg }.allSatisfy { $0.settings.timeout == .seconds(180) })
    #expect(alloc.filter { $0.settings.accelerator == .kvm }.allSatisfy { $0.settings.timeout == .seconds(540) })
    #expect(alloc.allSatisfy { $0.settings.silenceTimeout == .seconds(300) })
    #expect(cells.allSatisfy { $0.settings.outputLimitBytes == LaunchSettings.defaultOutputLimitBytes })
  }
}
