import Foundation
import Testing

@testable import Harness

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// Hand-built matrix cells covering every verdict, a flaky retry and names
/// full of markup, and the report directory written from them.
enum ReportFixtures {
  static let passID = "selftest.x86_64.tcg.smp1.mem256M"
  static let failID = "selftest.x86_64.tcg.smp2.mem512M"
  static let crashID = "crash.x86_64.tcg.smp1.mem256M"
  static let timeoutID = "hang.x86_64.tcg.smp1.mem256M"
  static let skipID = "selftest.x86_64.kvm.smp1.mem256M"
  static let flakyID = "selftest.s390x.tcg.smp1.mem256M"
  static let nastyID = #"esc<&"'>.s390x.tcg.smp1.mem256M"#
  static let nastyGuest = #"esc<&"'>"#
  static let nastyCheck = #"compares <&"'> and ]]> safely"#
  static let nastyLog = "KTAP version 1\n# weird ]]> output \u{1B}[0m with <tags> & \u{0}nul\n"

  static let crashLine = "# CRASH: vector=14 (page fault) error=0x2 rip=0xffffffff80101234 cr2=0x0"

  static func result(
    guest: String, arch: Architecture = .x86_64, accel: Accelerator = .tcg, verdict: Verdict,
    reason: String = "", sections: [GuestSection] = [], crash: CrashRecord? = nil,
    protocolErrors: [String] = [], log: String? = nil, exitCode: Int32? = 1, seconds: Double = 1
  ) -> GuestResult {
    GuestResult(
      guest: guest, architecture: arch, accelerator: accel, verdict: verdict, reason: reason,
      sections: sections, crash: crash, protocolErrors: protocolErrors,
      serialLog: log ?? "KTAP version 1\n# guest: \(guest)\n1..\(sections.count)\n# EXIT: STATUS=0\n",
      qemuStderr: verdict == .crashed ? "qemu: terminating on signal 15\n" : "",
      command: verdict == .skipped
        ? []
        : ["qemu-system-\(arch)", "-nodefaults", "-accel", accel.rawValue, "-append", "harness.mem=256 harness.smp=1"],
      qemuExitCode: exitCode, duration: .milliseconds(Int64(seconds * 1000)),
      processID: verdict == .skipped ? nil : 4242)
  }

  static func check(
    _ section: String, _ number: Int, _ name: String, _ outcome: CheckOutcome = .passed,
    file: String = "Selftest/Memory.swift", line: Int = 10, diagnostics: [String] = []
  ) -> GuestCheck {
    GuestCheck(
      section: section, number: number, name: name, outcome: outcome,
      location: GuestSourceLocation(fileID: file, line: line), diagnostics: diagnostics)
  }

  static let sourcePaths = ["Selftest/Memory.swift": "guests/selftest/Memory.swift"]

  /// The hung cell's triage: CPU 0 symbolized, CPU 1 in assembly.
  static let hangPositions = [
    VcpuPosition(
      cpu: 0, pc: 0x10_1234, registers: ["RSP": "0x7ff0", "RFL": "0x246"],
      frames: [
        CrashFrame(
          address: 0x10_1234, function: "waitForAck()", file: "guests/selftest/Smp.swift", line: 120, column: 5)
      ]),
    VcpuPosition(cpu: 1, pc: 0x10_2000, registers: ["RSP": "0x8ff0"], symbol: "spin_forever"),
  ]

  static var cells: [ReportCell] {
    let passSections = [
      GuestSection(
        number: 1, name: "memory",
        checks: [check("memory", 1, "page allocator"), check("memory", 2, "heap grows")], reportedOK: true),
      GuestSection(
        number: 2, name: "smp",
        checks: [check("smp", 1, "second CPU online", .skipped(reason: "only one CPU"))], reportedOK: true),
    ]
    let failSections = [
      GuestSection(
        number: 1, name: "memory",
        checks: [
          check("memory", 1, "page allocator"),
          check(
            "memory", 2, "heap grows", .failed, line: 42,
            diagnostics: ["expected: 4096", "actual: 0"]),
        ], reportedOK: false)
    ]
    let crashSections = [
      GuestSection(
        number: 1, name: "paging", checks: [check("paging", 1, "identity map", file: "Crash/Paging.swift")],
        reportedOK: nil)
    ]
    let nastySections = [
      GuestSection(
        number: 1, name: "escaping & <markup>",
        checks: [check("escaping & <markup>", 1, nastyCheck, file: "Esc/Main.swift", line: 7)],
        reportedOK: true)
    ]
    return [
      ReportCell(
        id: passID, result: result(guest: "selftest", verdict: .passed, sections: passSections, seconds: 2.5),
        cpus: 1, memoryMiB: 256, sourcePaths: sourcePaths),
      ReportCell(
        id: failID,
        result: result(
          guest: "selftest", verdict: .failed, reason: "1 check failed", sections: failSections,
          exitCode: 3, seconds: 3.25),
        cpus: 2, memoryMiB: 512, sourcePaths: sourcePaths),
      ReportCell(
        id: crashID,
        result: result(
          guest: "crash", verdict: .crashed, reason: "the guest reported a CPU exception (vector 14)",
          sections: crashSections,
          crash: CrashRecord(lines: [crashLine], fields: ["vector": "14", "rip": "0xffffffff80101234"]),
          log: "KTAP version 1\n1..1\n    KTAP version 1\n    1..2\n    ok 1 identity map\n\(crashLine)\n",
          seconds: 0.8),
        cpus: 1, memoryMiB: 256),
      ReportCell(
        id: timeoutID,
        result: {
          var hung = result(
            guest: "hang", verdict: .timedOut, reason: "no serial output for 30 s; QEMU was killed",
            exitCode: nil, seconds: 30)
          hung.vcpuPositions = hangPositions
          return hung
        }(),
        cpus: 2, memoryMiB: 256),
      ReportCell(
        id: skipID,
        result: result(
          guest: "selftest", accel: .kvm, verdict: .skipped, reason: "KVM unavailable: /dev/kvm does not exist",
          log: "", exitCode: nil, seconds: 0),
        cpus: 1, memoryMiB: 256),
      ReportCell(
        id: flakyID,
        result: result(guest: "selftest", arch: .s390x, verdict: .passed, sections: passSections, seconds: 6),
        cpus: 1, memoryMiB: 256, attempts: 2, flaky: true, sourcePaths: sourcePaths),
      ReportCell(
        id: nastyID,
        result: result(
          guest: nastyGuest, arch: .s390x, verdict: .protocolError,
          reason: #"unexpected line "<garbage> & ]]>""#, sections: nastySections,
          protocolErrors: ["serial line 2: <not KTAP> & 'quoted' \"double\""], log: nastyLog, seconds: 1.5),
        cpus: 1, memoryMiB: 256),
    ]
  }

  /// Writes the fixtures' report into a fresh directory, runs `body`, then
  /// removes the directory.
  static func withReport<T>(_ body: (String, [String]) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("report-tests-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let written = try ReportSet.write(cells: cells, to: directory)
    return try body(directory, written)
  }

  static func read(_ directory: String, _ name: String) throws -> String {
    try String(contentsOfFile: (directory as NSString).appendingPathComponent(name), encoding: .utf8)
  }

  static func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
  }
}

@Suite("Report writers")
struct ReportTests {
  /// The hand-made fixed-point text is what `%.Nf` prints.
  @Test func fixedDecimalsMatchPrintf() {
    var generator = SystemRandomNumberGenerator()
    for places in 0...6 {
      for _ in 0..<5_000 {
        let magnitude = [1e-3, 1.0, 1e3, 1e6][Int.random(in: 0..<4, using: &generator)]
        let value = Double.random(in: -magnitude...magnitude, using: &generator)
        #expect(ReportText.fixed(value, places: places) == String(format: "%.\(places)f", value))
      }
    }
    #expect(ReportText.fixed(0, places: 3) == "0.000")
    #expect(ReportText.fixed(1.2345, places: 2) == "1.23")
    #expect(ReportText.fixed(0.0996, places: 3) == "0.100")
    #expect(ReportText.fixed(59.96, places: 1) == "60.0")
    #expect(ReportText.fixed(-2.5, places: 0) == "-3")
    #expect(ReportText.fixed(7, places: 6) == "7.000000")
    #expect(ReportText.fixed(.nan, places: 2) == "nan")
    #expect(ReportText.fixed(1e30, places: 1) == String(format: "%.1f", 1e30))
  }

  /// A run-directory file is replaced whole, leaves no temporary file, and
  /// a failure names the errno and leaves the old file as it was.
  @Test func reportFilesAreReplacedWholeWithoutLeftovers() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("report-file-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/results.json"
    try ReportFile.write("first", to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "first")
    let large = String(repeating: "0123456789abcdef", count: 1 << 16)
    try ReportFile.write(large, to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == large)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["results.json"])
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o644 & ~Int(umask(umask(0))))
    // Into a missing directory: ENOENT, nothing created.
    #expect(throws: POSIXError(.ENOENT)) { try ReportFile.write("x", to: directory + "/no/such/file") }
    // Over a directory: the rename fails, the temporary file is removed.
    try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: false)
    #expect(throws: POSIXError.self) { try ReportFile.write("x", to: directory + "/logs") }
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["logs", "results.json"])
    #expect(try String(contentsOfFile: path, encoding: .utf8) == large)
  }

  /// The hand-made UTC timestamps are what `ISO8601DateFormatter` makes.
  @Test func utcTimestampsMatchISO8601DateFormatter() {
    let withZone = ISO8601DateFormatter()
    let withoutZone = ISO8601DateFormatter()
    withoutZone.timeZone = TimeZone(identifier: "UTC")
    withoutZone.formatOptions = [.withFullDate, .withTime, .withDashSeparatorInDate, .withColonSeparatorInTime]
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<2_000 {
      let date = Date(timeIntervalSince1970: Double.random(in: 0..<4_102_444_800, using: &generator))
      #expect(ReportText.utcTimestamp(date) == withZone.string(from: date))
      #expect(ReportText.utcTimestamp(date, zoneDesignator: false) == withoutZone.string(from: date))
    }
    #expect(ReportText.utcTimestamp(Date(timeIntervalSince1970: 1_796_220_000.9)) == "2026-12-02T14:00:00Z")
    #expect(ReportText.utcTimestamp(Date(timeIntervalSince1970: 0.2), zoneDesignator: false) == "1970-01-01T00:00:00")
  }

  typealias F = ReportFixtures

  @Test func writesEveryFileAndLog() throws {
    try F.withReport { directory, written in
      let names = written.map { String($0.dropFirst(directory.count + 1)) }
      let expected: Set<String> = [
        "junit-x86_64.xml", "results-x86_64.ktap", "results-x86_64.json",
        "junit-s390x.xml", "results-s390x.ktap", "results-s390x.json",
        "junit.xml", "results.json", "index.html",
        "logs/\(F.passID).log", "logs/\(F.failID).log", "logs/\(F.crashID).log",
        "logs/\(F.timeoutID).log", "logs/\(F.skipID).log", "logs/\(F.flakyID).log",
        "logs/esc_____.s390x.tcg.smp1.mem256M.log",
      ]
      #expect(Set(names) == expected)
      #expect(names.count == expected.count)
      for path in written {
        #expect(FileManager.default.fileExists(atPath: path), "missing \(path)")
      }
      let crashLog = try F.read(directory, "logs/\(F.crashID).log")
      #expect(crashLog.contains(F.crashLine))
      let nastyLog = try F.read(directory, "logs/esc_____.s390x.tcg.smp1.mem256M.log")
      #expect(nastyLog == F.nastyLog)
    }
  }

  #if canImport(FoundationXML) || os(macOS)
    @Test func junitIsWellFormedWithOneTestcasePerCheck() throws {
      try F.withReport { directory, _ in
        let document = try XMLDocument(xmlString: try F.read(directory, "junit.xml"), options: [])
        let root = try #require(document.rootElement())
        #expect(root.name == "testsuites")
        let suites = root.elements(forName: "testsuite")
        #expect(suites.map { $0.attribute(forName: "name")?.stringValue } == F.cells.map(\.id))

        let cases = try document.nodes(forXPath: "//testcase").compactMap { $0 as? XMLElement }
        let checkCount = F.cells.reduce(0) { $0 + $1.result.checks.count }
        let verdictCases = cases.filter { $0.attribute(forName: "name")?.stringValue == "(guest verdict)" }
        // CRASH, TIMEOUT, PROTOCOL-ERROR (errors) and SKIP.
        #expect(verdictCases.count == 4)
        #expect(cases.count == checkCount + 4)
        #expect(root.attribute(forName: "tests")?.stringValue == "\(checkCount + 4)")
        #expect(root.attribute(forName: "errors")?.stringValue == "3")
        #expect(root.attribute(forName: "failures")?.stringValue == "1")

        // The failed check: classname, name, mapped file and line, body.
        let failures = try document.nodes(forXPath: "//failure").compactMap { $0 as? XMLElement }
        #expect(failures.count == 1)
        let failure = try #require(failures.first)
        let failedCase = try #require(failure.parent as? XMLElement)
        #expect(failedCase.attribute(forName: "classname")?.stringValue == "selftest · x86_64 · tcg")
        #expect(failedCase.attribute(forName: "name")?.stringValue == "memory › heap grows")
        #expect(failedCase.attribute(forName: "file")?.stringValue == "guests/selftest/Memory.swift")
        #expect(failedCase.attribute(forName: "line")?.stringValue == "42")
        let body = failure.stringValue ?? ""
        #expect(body.contains("guests/selftest/Memory.swift:42"))
        #expect(body.contains("expected: 4096") && body.contains("actual: 0"))
        #expect(failure.attribute(forName: "message")?.stringValue?.contains("heap grows") == true)

        // Suite counts of the failing cell.
        let failSuite = try #require(suites.first { $0.attribute(forName: "name")?.stringValue == F.failID })
        #expect(failSuite.attribute(forName: "failures")?.stringValue == "1")
        #expect(failSuite.attribute(forName: "tests")?.stringValue == "2")
        #expect(failSuite.attribute(forName: "time")?.stringValue == "3.250")

        // Crash verdict: an error with the crash record.
        let errors = try document.nodes(forXPath: "//error").compactMap { $0 as? XMLElement }
        #expect(Set(errors.compactMap { $0.attribute(forName: "type")?.stringValue }) == ["CRASH", "TIMEOUT", "PROTOCOL-ERROR"])
        let crash = try #require(errors.first { $0.attribute(forName: "type")?.stringValue == "CRASH" })
        #expect(crash.attribute(forName: "message")?.stringValue == "the guest reported a CPU exception (vector 14)")
        #expect(crash.stringValue?.contains(F.crashLine) == true)

        // KVM skip: a skipped verdict testcase with the reason.
        let skipSuite = try #require(suites.first { $0.attribute(forName: "name")?.stringValue == F.skipID })
        #expect(skipSuite.attribute(forName: "skipped")?.stringValue == "1")
        let skipped = try #require(skipSuite.elements(forName: "testcase").first?.elements(forName: "skipped").first)
        #expect(skipped.attribute(forName: "message")?.stringValue == "KVM unavailable: /dev/kvm does not exist")
        // The skipped check.
        let passSuite = try #require(suites.first { $0.attribute(forName: "name")?.stringValue == F.passID })
        #expect(passSuite.attribute(forName: "skipped")?.stringValue == "1")

        // Flaky: property and system-out note.
        let flakySuite = try #require(suites.first { $0.attribute(forName: "name")?.stringValue == F.flakyID })
        let properties = flakySuite.elements(forName: "properties").first?.elements(forName: "property") ?? []
        let flakyProperty = properties.first { $0.attribute(forName: "name")?.stringValue == "flaky" }
        #expect(flakyProperty?.attribute(forName: "value")?.stringValue == "true")
        #expect(flakySuite.elements(forName: "system-out").first?.stringValue?.hasPrefix("FLAKY:") == true)

        // Markup in names, messages and the log survives the round trip.
        let nastySuite = try #require(suites.first { $0.attribute(forName: "name")?.stringValue == F.nastyID })
        let nastyCase = try #require(nastySuite.elements(forName: "testcase").first)
        #expect(nastyCase.attribute(forName: "name")?.stringValue == "escaping & <markup> › \(F.nastyCheck)")
        #expect(nastyCase.attribute(forName: "classname")?.stringValue == "\(F.nastyGuest) · s390x · tcg")
        let out = try #require(nastySuite.elements(forName: "system-out").first?.stringValue)
        #expect(out == "KTAP version 1\n# weird ]]> output [0m with <tags> & nul\n")
      }
    }
  #endif

  @Test func junitPerArchitectureHoldsOnlyThatArchitecture() throws {
    try F.withReport { directory, _ in
      let x86 = try F.read(directory, "junit-x86_64.xml")
      let s390x = try F.read(directory, "junit-s390x.xml")
      #expect(F.occurrences(of: "<testsuite ", in: x86) == 5)
      #expect(F.occurrences(of: "<testsuite ", in: s390x) == 2)
      #expect(!x86.contains(F.flakyID))
      #expect(s390x.contains(F.flakyID))
      // Parses with the event parser too (available everywhere).
      for text in [x86, s390x] {
        let parser = XMLParser(data: Data(text.utf8))
        #expect(parser.parse(), "XMLParser: \(String(describing: parser.parserError))")
      }
    }
  }

  @Test func jsonFollowsTheSchema() throws {
    try F.withReport { directory, _ in
      let data = try Data(contentsOf: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("results.json")))
      let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
      #expect(root["schema"] as? String == "swift-guest-harness/results/v1")
      #expect(root["architectures"] as? [String] == ["x86_64", "s390x"])
      let summary = try #require(root["summary"] as? [String: Any])
      #expect(summary["cells"] as? Int == 7)
      #expect(summary["passed"] as? Int == 1)
      #expect(summary["flaky"] as? Int == 1)
      #expect(summary["failed"] as? Int == 1)
      #expect(summary["crashed"] as? Int == 1)
      #expect(summary["timedOut"] as? Int == 1)
      #expect(summary["protocolErrors"] as? Int == 1)
      #expect(summary["skipped"] as? Int == 1)
      #expect(summary["ok"] as? Bool == false)
      #expect(summary["interrupted"] as? Int == 0)

      let cells = try #require(root["cells"] as? [[String: Any]])
      #expect(cells.map { $0["id"] as? String } == F.cells.map(\.id))
      let byID = Dictionary(uniqueKeysWithValues: cells.map { ($0["id"] as! String, $0) })
      #expect(byID[F.passID]?["verdict"] as? String == "PASS")
      #expect(byID[F.failID]?["verdict"] as? String == "FAIL")
      #expect(byID[F.crashID]?["verdict"] as? String == "CRASH")
      #expect(byID[F.timeoutID]?["verdict"] as? String == "TIMEOUT")
      #expect(byID[F.skipID]?["verdict"] as? String == "SKIP")
      #expect(byID[F.flakyID]?["verdict"] as? String == "PASS")
      #expect(byID[F.flakyID]?["flaky"] as? Bool == true)
      #expect(byID[F.flakyID]?["attempts"] as? Int == 2)
      #expect(byID[F.nastyID]?["verdict"] as? String == "PROTOCOL-ERROR")

      let expectedKeys: Set<String> = [
        "id", "guest", "arch", "accel", "cpus", "memoryMiB", "cpuModel", "machine", "qemu", "verdict", "reason", "durationSeconds",
        "attempts", "flaky", "interrupted", "qemuExitCode", "command", "crash", "protocolErrors",
        "tests", "checks", "logPath",
      ]
      for cell in cells {
        let extra: Set<String> = cell["id"] as? String == F.timeoutID ? ["vcpus"] : []
        #expect(Set(cell.keys) == expectedKeys.union(extra))
      }

      let fail = try #require(byID[F.failID])
      #expect(fail["cpus"] as? Int == 2)
      #expect(fail["memoryMiB"] as? Int == 512)
      #expect(fail["cpuModel"] is NSNull, "null for the default CPU model")
      #expect(fail["durationSeconds"] as? Double == 3.25)
      #expect(fail["qemuExitCode"] as? Int == 3)
      #expect(fail["logPath"] as? String == "logs/\(F.failID).log")
      #expect((fail["command"] as? [String])?.first == "qemu-system-x86_64")
      #expect(fail["crash"] is NSNull)
      let checks = try #require(fail["checks"] as? [[String: Any]])
      #expect(checks.count == 2)
      let failed = try #require(checks.first { $0["outcome"] as? String == "failed" })
      #expect(failed["section"] as? String == "memory")
      #expect(failed["number"] as? Int == 2)
      #expect(failed["name"] as? String == "heap grows")
      #expect(failed["file"] as? String == "guests/selftest/Memory.swift")
      #expect(failed["fileID"] as? String == "Selftest/Memory.swift")
      #expect(failed["line"] as? Int == 42)
      #expect(failed["skipReason"] is NSNull)
      #expect(failed["diagnostics"] as? [String] == ["expected: 4096", "actual: 0"])

      let skippedCheck = try #require((byID[F.passID]?["checks"] as? [[String: Any]])?.last)
      #expect(skippedCheck["outcome"] as? String == "skipped")
      #expect(skippedCheck["skipReason"] as? String == "only one CPU")

      let crash = try #require(byID[F.crashID]?["crash"] as? [String: Any])
      #expect(crash["lines"] as? [String] == [F.crashLine])
      #expect((crash["fields"] as? [String: String])?["vector"] == "14")
      #expect(byID[F.timeoutID]?["qemuExitCode"] is NSNull)

      // The per-architecture file, and decoding into the DTO.
      let s390xData = try Data(contentsOf: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("results-s390x.json")))
      let s390x = try JSONDecoder().decode(ResultsDocument.self, from: s390xData)
      #expect(s390x.schema == JSONReport.schema)
      #expect(s390x.architectures == ["s390x"])
      #expect(s390x.cells.map(\.id) == [F.flakyID, F.nastyID])
      #expect(s390x == ResultsDocument(F.cells.filter { $0.result.architecture == .s390x }))
    }
  }

  /// Hang triage is a field of every report, not only words in the reason.
  @Test func timeoutCellsCarryEveryVcpuPosition() throws {
    try F.withReport { directory, _ in
      let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/results.json"))
      let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
      let cells = try #require(root["cells"] as? [[String: Any]])
      let hung = try #require(cells.first { $0["id"] as? String == F.timeoutID })
      let vcpus = try #require(hung["vcpus"] as? [[String: Any]])
      #expect(vcpus.map { $0["cpu"] as? Int } == [0, 1])
      #expect(vcpus.map { $0["pc"] as? String } == ["0x101234", "0x102000"])
      let location = try #require(vcpus[0]["location"] as? [String: Any])
      #expect(location["file"] as? String == "guests/selftest/Smp.swift")
      #expect(location["line"] as? Int == 120)
      #expect(location["function"] as? String == "waitForAck()")
      #expect(vcpus[1]["location"] is NSNull)
      #expect(vcpus[1]["symbol"] as? String == "spin_forever")
      #expect((vcpus[0]["registers"] as? [String: String])?["RSP"] == "0x7ff0")
      #expect(
        vcpus.map { $0["summary"] as? String } == [
          "CPU 0 stuck at guests/selftest/Smp.swift:120 in waitForAck()",
          "CPU 1 stuck at 0x102000 in spin_forever",
        ])
      // Decoding gives the same document back.
      let document = try JSONDecoder().decode(ResultsDocument.self, from: data)
      #expect(document.cells.first { $0.id == F.timeoutID }?.vcpus?.count == 2)
      #expect(document.cells.filter { $0.vcpus != nil }.count == 1)

      let junit = try F.read(directory, "junit.xml")
      #expect(
        junit.contains(
          #"<property name="vcpu.0" value="CPU 0 stuck at guests/selftest/Smp.swift:120 in waitForAck()"/>"#))
      #expect(junit.contains(#"<property name="vcpu.1" value="CPU 1 stuck at 0x102000 in spin_forever"/>"#))
      #expect(
        junit.contains(
          "CPU 0 stuck at guests/selftest/Smp.swift:120 in waitForAck() (pc 0x101234, RFL=0x246, RSP=0x7ff0)"))
      #expect(F.occurrences(of: "vcpu.", in: junit) == 2, "only the hung cell has positions")

      let html = try F.read(directory, "index.html")
      #expect(F.occurrences(of: "<table class=\"vcpus\">", in: html) == 1)
      #expect(html.contains("<code>waitForAck()</code> at <code>guests/selftest/Smp.swift:120</code>"))
      #expect(html.contains("<td>1</td><td><code>0x102000</code></td><td><code>spin_forever</code></td>"))
    }
  }

  /// The command a user re-runs leaves out the harness's own monitor
  /// (its socket directory is gone once the runner exits), nothing else.
  @Test func theReproducerDropsOnlyTheHarnesssMonitor() {
    let argv = [
      "qemu-system-x86_64", "-m", "256", "-qmp", "unix:/tmp/swiftguest-qmp-0-42/qmp-1.sock,server=on,wait=off",
      "-qmp", "unix:/home/me/my.sock,server=on", "-append", "harness.smp=1",
    ]
    #expect(
      ReportText.reproducer(argv) == [
        "qemu-system-x86_64", "-m", "256", "-qmp", "unix:/home/me/my.sock,server=on", "-append", "harness.smp=1",
      ])
    #expect(ReportText.reproducer(["-qmp"]) == ["-qmp"])
  }

  @Test func jsonIsStable() throws {
    #expect(try JSONReport.render(F.cells) == JSONReport.render(F.cells))
  }

  @Test func ktapHasPlanAndResults() throws {
    try F.withReport { directory, _ in
      let x86 = try F.read(directory, "results-x86_64.ktap").split(separator: "\n").map(String.init)
      #expect(x86.first == "KTAP version 1")
      #expect(x86.contains("1..5"))
      let topLevel = x86.filter { $0.hasPrefix("ok ") || $0.hasPrefix("not ok ") }
      #expect(topLevel == [
        "ok 1 \(F.passID)",
        "not ok 2 \(F.failID)",
        "not ok 3 \(F.crashID)",
        "not ok 4 \(F.timeoutID)",
        "ok 5 \(F.skipID) # SKIP KVM unavailable: /dev/kvm does not exist",
      ])
      // Nested: the failed check and its section, with diagnostics.
      #expect(x86.contains("        not ok 2 heap grows"))
      #expect(x86.contains("        # guests/selftest/Memory.swift:42"))
      #expect(x86.contains("        # expected: 4096"))
      #expect(x86.contains("    not ok 1 memory"))
      #expect(x86.contains("        ok 1 second CPU online # SKIP only one CPU"))
      #expect(x86.contains("    # verdict: CRASH: the guest reported a CPU exception (vector 14)"))
      #expect(x86.contains("    " + F.crashLine))

      let s390x = try F.read(directory, "results-s390x.ktap").split(separator: "\n").map(String.init)
      #expect(s390x.contains("1..2"))
      #expect(s390x.contains("ok 1 \(F.flakyID)"))
      #expect(s390x.contains("not ok 2 \(F.nastyID)"))
      #expect(s390x.contains { $0.contains("FLAKY") })
    }
  }

  @Test func ktapNamesFollowTheNameRule() {
    // No '#' (a directive would start there), no escapes kunit_parser rejects.
    #expect(KTAPReport.name("a # SKIP b\nc") == "a ＃ SKIP b c")
    #expect(KTAPReport.name(#"x\y"#) == #"x\y"#)
  }

  @Test func htmlHasTheGridDetailsAndLogLinks() throws {
    try F.withReport { directory, _ in
      let html = try F.read(directory, "index.html")
      #expect(F.occurrences(of: "<div class=\"cell verdict-", in: html) == F.cells.count)
      #expect(F.occurrences(of: "data-cell-id=", in: html) == F.cells.count)
      for id in F.cells.map(\.id) {
        #expect(html.contains("data-cell-id=\"\(MarkupEscaping.escape(id, attribute: true))\""), "no grid cell for \(id)")
      }
      for status in ["pass", "fail", "crash", "timeout", "protocol-error", "skip", "flaky"] {
        #expect(html.contains("<div class=\"cell verdict-\(status)\""), "no \(status) cell")
      }
      // Combinations a guest did not run are empty boxes, not cells.
      #expect(html.contains("<div class=\"cell empty\""))
      // The failing cell: anchor from the grid, detail section with the
      // failed check's location and the link to its serial log.
      #expect(html.contains("<a href=\"#cell-\(F.failID)\">"))
      let detail = try #require(section(F.failID, in: html))
      #expect(detail.contains("<a class=\"log-link\" href=\"logs/\(F.failID).log\">serial log</a>"))
      #expect(detail.contains("guests/selftest/Memory.swift:42"))
      #expect(detail.contains("expected: 4096"))
      #expect(detail.contains("qemu-system-x86_64 -nodefaults"))
      let crash = try #require(section(F.crashID, in: html))
      #expect(crash.contains(F.crashLine))
      // Timing bar: the slowest cell (30 s) fills it.
      #expect(html.contains("class=\"timing-bar\" style=\"width: 100.0%\""))
      // Nothing from the guest got through unescaped.
      #expect(!html.contains("<&"))
      #expect(!html.contains("<garbage>"))
      #expect(!html.contains("<not KTAP>"))
      #expect(!html.contains("\u{1B}"))
      #expect(html.contains("esc&lt;&amp;&quot;&#39;&gt;"))
      #expect(!html.contains("<script"))
      #expect(!html.contains("http://") && !html.contains("https://"))
    }
  }

  /// The detail section of a cell (`<section id="cell-<id>"> … </section>`).
  func section(_ id: String, in html: String) -> String? {
    guard let start = html.range(of: "<section id=\"cell-\(id)\"") else { return nil }
    guard let end = html.range(of: "</section>", range: start.upperBound..<html.endIndex) else { return nil }
    return String(html[start.lowerBound..<end.upperBound])
  }

  @Test func escaping() {
    #expect(MarkupEscaping.escape(#"a<&"'>b"#) == "a&lt;&amp;&quot;&#39;&gt;b")
    #expect(MarkupEscaping.escape("x\u{0}\u{1B}\u{7}y\u{FFFE}") == "xy")
    #expect(MarkupEscaping.escape("a\tb\nc") == "a\tb\nc")
    #expect(MarkupEscaping.escape("a\tb\nc", attribute: true) == "a&#9;b&#10;c")
    #expect(MarkupEscaping.escape("é😀") == "é😀")
    #expect(MarkupEscaping.cdata("a]]>b") == "<![CDATA[a]]]]><![CDATA[>b]]>")
    #expect(MarkupEscaping.cdata("]]>]]>") == "<![CDATA[]]]]><![CDATA[>]]]]><![CDATA[>]]>")
    #expect(MarkupEscaping.stripForbidden("ok\u{8}") == "ok")
  }

  @Test func rejectsDuplicateIDsAndUnsafeLogPaths() {
    var cells = Array(F.cells.prefix(2))
    cells[1].id = cells[0].id
    #expect(throws: ReportError.duplicateCellID(F.passID)) {
      try ReportSet.write(cells: cells, to: "/nonexistent/never-written")
    }
    var escaping = Array(F.cells.prefix(1))
    escaping[0].logPath = "../outside.log"
    #expect(throws: ReportError.invalidLogPath(cellID: F.passID, path: "../outside.log")) {
      try ReportSet.write(cells: escaping, to: "/nonexistent/never-written")
    }
    var same = Array(F.cells.prefix(2))
    same[0].logPath = "logs/x.log"
    same[1].logPath = "logs/x.log"
    #expect(throws: ReportError.duplicateLogPath("logs/x.log")) {
      try ReportSet.write(cells: same, to: "/nonexistent/never-written")
    }
  }

  @Test func customLogPathIsUsedEverywhere() throws {
    var cells = Array(F.cells.prefix(2))
    cells[1].logPath = "serial/fail run.log"
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let written = try ReportSet.write(cells: cells, to: directory)
    #expect(written.contains((directory as NSString).appendingPathComponent("serial/fail run.log")))
    let html = try F.read(directory, "index.html")
    #expect(html.contains("href=\"serial/fail%20run.log\""))
    #expect(try F.read(directory, "results.json").contains("\"logPath\" : \"serial/fail run.log\""))
  }

  @Test func emptyReportIsValid() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let written = try ReportSet.write(cells: [], to: directory)
    #expect(Set(written.map { ($0 as NSString).lastPathComponent }) == ["junit.xml", "results.json", "index.html"])
    let parser = XMLParser(data: Data(try F.read(directory, "junit.xml").utf8))
    #expect(parser.parse())
  }

  /// Renders `index.html` in headless Chromium and checks the DOM it built.
  @Test(.timeLimit(.minutes(2))) func htmlRendersInHeadlessChromium() async throws {
    guard let chromium = Chromium.find() else {
      Issue.record(
        """
        Chromium is not installed, so the HTML report cannot be checked in a browser. \
        Install it (Debian: `apt-get update && apt-get install -y chromium`) or point \
        CHROMIUM_PATH at a Chromium/Chrome binary.
        """)
      return
    }
    // REPORT_OUTPUT_DIR keeps the fixture report for a look; else a temporary directory.
    let kept = ProcessInfo.processInfo.environment["REPORT_OUTPUT_DIR"]
    let directory = kept ?? FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)").path
    defer { if kept == nil { try? FileManager.default.removeItem(atPath: directory) } }
    try ReportSet.write(cells: F.cells, to: directory)
    let page = URL(fileURLWithPath: (directory as NSString).appendingPathComponent("index.html")).absoluteString

    let dom = try await Chromium.run(chromium, arguments: ["--dump-dom", page], timeout: 90)
    #expect(dom.contains("</html>"), "Chromium printed no DOM")
    #expect(F.occurrences(of: "class=\"cell verdict-", in: dom) == F.cells.count)
    #expect(F.occurrences(of: "class=\"cell empty\"", in: dom) > 0)
    let detail = try #require(section(F.failID, in: dom), "no detail section for the failing cell in the DOM")
    #expect(detail.contains("href=\"logs/\(F.failID).log\""))
    #expect(detail.contains("class=\"log-link\""))

    // For looking at the page: REPORT_SCREENSHOT=/tmp/report.png swift test …
    // (REPORT_SCREENSHOT_SIZE=1280,2400 for more of the page).
    let environment = ProcessInfo.processInfo.environment
    if let screenshot = environment["REPORT_SCREENSHOT"] {
      let size = environment["REPORT_SCREENSHOT_SIZE"] ?? "1280,900"
      _ = try await Chromium.run(
        chromium, arguments: ["--screenshot=\(screenshot)", "--window-size=\(size)", "--hide-scrollbars", page],
        timeout: 90)
      #expect(FileManager.default.fileExists(atPath: screenshot))
    }
  }
}

/// Finding and running headless Chromium.
enum Chromium {
  /// `$CHROMIUM_PATH`, else the first of the usual names on `$PATH`.
  static func find() -> String? {
    let environment = ProcessInfo.processInfo.environment
    if let path = environment["CHROMIUM_PATH"], FileManager.default.isExecutableFile(atPath: path) {
      return path
    }
    let directories = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
    for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
      for directory in directories {
        let path = (directory as NSString).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: path) { return path }
      }
    }
    return nil
  }

  /// Runs Chromium headless with `arguments` (and a throwaway profile) and
  /// returns its standard output; throws when it exceeds `timeout` seconds.
  static func run(_ executable: String, arguments: [String], timeout: Double) async throws -> String {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let profile = (scratch as NSString).appendingPathComponent("chromium-profile")
    let outputPath = (scratch as NSString).appendingPathComponent("chromium-stdout.txt")
    let errorPath = (scratch as NSString).appendingPathComponent("chromium-stderr.txt")
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))

    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
      "--no-default-browser-check", "--user-data-dir=\(profile)",
    ] + arguments
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline {
      try await Task.sleep(for: .milliseconds(100))
    }
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
      throw ChromiumError(message: "Chromium did not finish within \(Int(timeout)) s")
    }
    try output.close()
    try errors.close()
    let text = try String(contentsOfFile: outputPath, encoding: .utf8)
    if process.terminationStatus != 0 {
      let stderr = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
      throw ChromiumError(message: "Chromium exited with \(process.terminationStatus): \(stderr.suffix(2000))")
    }
    return text
  }

  struct ChromiumError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
  }
}
