import Foundation
import Testing

@testable import Harness

/// `runner diff` and the divergence view, on documents built from results
/// and on two real runs of the runner binary.
@Suite("Regression workflow")
struct RegressionTests {
  /// A cell of `guest` whose checks have the given outcomes (`true` passed).
  static func cell(
    _ guest: String, accel: Accelerator, verdict: Verdict = .passed, checks: [(String, Bool)],
    seconds: Double = 1
  ) -> ReportCell {
    let section = GuestSection(
      number: 1, name: "main",
      checks: checks.enumerated().map { index, check in
        GuestCheck(
          section: "main", number: index + 1, name: check.0, outcome: check.1 ? .passed : .failed,
          location: GuestSourceLocation(fileID: "\(guest)/G.swift", line: 10 + index), diagnostics: [])
      }, reportedOK: checks.allSatisfy(\.1))
    let result = GuestResult(
      guest: guest, architecture: .x86_64, accelerator: accel, verdict: verdict, reason: "",
      sections: [section], crash: nil, protocolErrors: [], serialLog: "", qemuStderr: "",
      command: [], qemuExitCode: 1, duration: .milliseconds(Int64(seconds * 1000)), processID: nil)
    return ReportCell(
      id: "\(guest).x86_64.\(accel.rawValue).smp1.mem256M", result: result, cpus: 1, memoryMiB: 256)
  }

  @Test func newFailuresFixedVerdictsCellsAndTimes() {
    let a = ResultsDocument([
      Self.cell("one", accel: .tcg, checks: [("x", true), ("y", false)], seconds: 1),
      Self.cell("gone", accel: .tcg, checks: [("z", true)]),
    ])
    let b = ResultsDocument([
      Self.cell("one", accel: .tcg, verdict: .failed, checks: [("x", false), ("y", true)], seconds: 3),
      Self.cell("new", accel: .tcg, verdict: .failed, checks: [("w", false)]),
    ])
    let diff = RunComparison(a, b)
    #expect(diff.newFailures.map(\.check) == ["main › x", "main › w"])
    #expect(diff.newFailures.first?.location == "one/G.swift:10")
    #expect(diff.fixed.map(\.check) == ["main › y"])
    #expect(diff.verdictChanges == [.init(cell: "one.x86_64.tcg.smp1.mem256M", before: "PASS", after: "FAIL")])
    #expect(diff.removedCells.map(\.cell) == ["gone.x86_64.tcg.smp1.mem256M"])
    #expect(diff.addedCells.map(\.cell) == ["new.x86_64.tcg.smp1.mem256M"])
    #expect(diff.slower.map(\.cell) == ["one.x86_64.tcg.smp1.mem256M"])
    #expect(diff.hasRegressions)
    #expect(diff.text("A", "B").contains("REGRESSED"))
    #expect(diff.html("A", "B").contains("<h2>New failures (2)</h2>"))
    #expect(!RunComparison(a, a).hasRegressions, "a run compared with itself did not regress")
  }

  @Test func acceleratorAxisCanBeLeftOutOfTheKey() {
    let a = ResultsDocument([Self.cell("one", accel: .tcg, checks: [("x", true)])])
    let b = ResultsDocument([Self.cell("one", accel: .kvm, checks: [("x", false)])])
    #expect(RunComparison(a, b).addedCells.count == 1, "by id the KVM cell is another cell")
    let across = RunComparison(a, b, ignoring: [.accel])
    #expect(across.addedCells.isEmpty)
    #expect(across.newFailures.map(\.cell) == ["one.x86_64.*.smp1.mem256M"])
  }

  @Test func divergencesAreChecksThatDifferOnlyByAccelerator() {
    let document = ResultsDocument([
      Self.cell("one", accel: .tcg, verdict: .failed, checks: [("same", true), ("differs", false)]),
      Self.cell("one", accel: .kvm, checks: [("same", true), ("differs", true), ("kvm only", true)]),
      Self.cell("alone", accel: .tcg, checks: [("a", false)]),
    ])
    let found = Divergence.find(in: document)
    #expect(found.map(\.check) == ["(verdict)", "main › differs", "main › kvm only"])
    #expect(found[1].outcomes == ["one.x86_64.tcg.smp1.mem256M": "failed", "one.x86_64.kvm.smp1.mem256M": "passed"])
    #expect(found[2].outcomes["one.x86_64.tcg.smp1.mem256M"] == "absent")
    #expect(document.divergences == found, "results.json carries them")
    #expect(HTMLReport.render([Self.cell("one", accel: .tcg, checks: [("d", false)]), Self.cell("one", accel: .kvm, checks: [("d", true)])]).contains("Divergences (1)"))
  }

  /// Two real runs of the flaky guest: passing (attempt 2 forced on its
  /// command line), then failing (the runner's first attempt): `runner
  /// diff` names the check, its source line, and exits 1.
  @Test func diffOfTwoRealRunsShowsADeliberateRegression() async throws {
    try await RunnerBinary.prebuild(["flaky"])
    let good = try RunnerBinary.scratch(
      config: "[defaults]\naccel = tcg\n[flaky]\nguest_args = harness.attempt=2\n")
    let bad = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[flaky]\n")
    defer {
      try? FileManager.default.removeItem(atPath: good)
      try? FileManager.default.removeItem(atPath: bad)
    }
    let first = try await RunnerBinary.run([
      "--config", good + "/guests.cfg", "--include-negative", "--report-dir", good + "/run",
    ])
    #expect(first.status == 0, "\(first.stdout)")
    // Every report says what the run ran on.
    let metadata = try #require(try RunComparison.load(good + "/run").metadata)
    #expect(metadata.qemu.map(\.arch) == ["x86_64"])
    #expect(metadata.qemu.first?.version.hasPrefix("QEMU emulator version") == true)
    #expect(!metadata.kernel.isEmpty && metadata.commit?.count == 40)
    let junit = try String(contentsOfFile: good + "/run/junit.xml", encoding: .utf8)
    #expect(junit.contains("name=\"qemu.x86_64\"") && junit.contains("name=\"host.kernel\""))
    let html = try String(contentsOfFile: good + "/run/index.html", encoding: .utf8)
    #expect(html.contains("<dt>host.kvm</dt>"))
    let second = try await RunnerBinary.run([
      "--config", bad + "/guests.cfg", "--include-negative", "--report-dir", bad + "/run",
    ])
    #expect(second.status == 1)
    let diff = try await RunnerBinary.run([
      "diff", good + "/run", bad + "/run", "--json", bad + "/diff.json", "--html", bad + "/diff.html",
    ])
    #expect(diff.status == 1, "\(diff.stdout)\(diff.stderr)")
    #expect(diff.stdout.contains("new failures (1):"))
    #expect(diff.stdout.contains("depends on the attempt › passes except on the first attempt"))
    let flaky = try TestSupport.runner.builder.workspace.program(named: "flaky").directory + "/Flaky.swift"
    let line = try #require(try TestSupport.lines(in: flaky, containing: "EXPECT-FAIL").first)
    #expect(diff.stdout.contains("guests/negative/flaky/Flaky.swift:\(line)"))
    #expect(diff.stdout.contains("PASS → FAIL"))
    let json = try JSONDecoder().decode(
      RunComparison.self, from: Data(contentsOf: URL(fileURLWithPath: bad + "/diff.json")))
    #expect(json.newFailures.count == 1)
    let same = try await RunnerBinary.run(["diff", good + "/run", good + "/run"])
    #expect(same.status == 0 && same.stdout.contains("no regression"))
    let missing = try await RunnerBinary.run(["diff", good + "/nothing", good + "/run"])
    #expect(missing.status == 2 && missing.stderr.contains("nothing: no results.json"))
  }
}

/// The `qemu` axis with a second "build" (Tests/Fixtures/qemu-build-b: the
/// system QEMU that always gives the guest 384 MiB): cells per build, the
/// divergence it causes, versions in the reports, and clear errors for a
/// build that is missing or not a QEMU.
@Suite("QEMU builds")
struct QemuBuildTests {
  static var fixture: String { RunnerBinary.root + "/Tests/Fixtures/qemu-build-b" }

  @Test func secondBuildRunsEveryCellAndItsDivergenceIsListed() async throws {
    try await RunnerBinary.prebuild(["selftest"])
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[selftest]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try await RunnerBinary.run([
      "--config", dir + "/guests.cfg", "--report-dir", dir + "/run", "--qemu", "b=\(Self.fixture)",
    ])
    #expect(run.status == 1, "build B fails the RAM check: \(run.stdout)")
    #expect(run.stdout.contains("PASS           selftest.x86_64.tcg.smp1.mem256M  "))
    #expect(run.stdout.contains("FAIL           selftest.x86_64.tcg.smp1.mem256M.qemu-b"))
    #expect(
      run.stdout.contains(
        "selftest.x86_64.tcg.smp1.mem256M.qemu-*  memory map › usable RAM matches -m  selftest.x86_64.tcg.smp1.mem256M=passed, selftest.x86_64.tcg.smp1.mem256M.qemu-b=failed"
      ))
    let document = try RunComparison.load(dir + "/run")
    #expect(document.cells.map(\.qemu) == ["system", "b"])
    let builds = try #require(document.metadata?.qemu)
    #expect(builds.map(\.build) == ["system", "b"])
    #expect(builds.last?.path == Self.fixture + "/qemu-system-x86_64")
    #expect(builds.allSatisfy { $0.version.hasPrefix("QEMU emulator version") })
    #expect(document.divergences?.contains { $0.check == "memory map › usable RAM matches -m" } == true)
  }

  @Test(arguments: [
    ("x=/nonexistent/qemu", "QEMU build 'x': /nonexistent/qemu is not an executable file"),
    ("x=/bin/true", "QEMU build 'x': /bin/true is not a QEMU"),
    ("system=/bin/true", "--qemu: 'system=/bin/true' is not NAME=LOCATION"),
  ])
  func badBuildIsAUsageErrorBeforeAnyCellRuns(argument: String, message: String) async throws {
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[selftest]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try await RunnerBinary.run([
      "--config", dir + "/guests.cfg", "--report-dir", dir + "/run", "--qemu", argument,
    ])
    #expect(run.status == 2)
    #expect(run.stderr.contains(message), "\(run.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/run/results.json"), "no cell ran")
  }

  @Test func configNamesBuildsAndTheirLocations() throws {
    let text = """
      [defaults]
      accel = tcg
      qemu_builds = b=\(Self.fixture) c=/opt/qemu-{arch}
      [selftest]
      arch = x86_64 s390x
      qemu = system b
      qemu@s390x = c
      exclude = qemu=b smp=2
      """
    let cells = Matrix.cells(try MatrixConfig.parse(text, file: "q.cfg"))
    #expect(cells.map(\.id) == [
      "selftest.x86_64.tcg.smp1.mem256M", "selftest.x86_64.tcg.smp1.mem256M.qemu-b",
      "selftest.s390x.tcg.smp1.mem256M.qemu-c",
    ])
    #expect(cells[1].qemuLocation == Self.fixture)
    #expect(QemuBuilds.binary(at: "/opt/qemu-{arch}", for: .s390x) == "/opt/qemu-s390x")
    let resolved = try QemuBuilds.resolve(Array(cells.prefix(2)), adding: [])
    #expect(resolved[1].settings.qemuExecutable == Self.fixture + "/qemu-system-x86_64")
    #expect {
      try QemuBuilds.resolve(Array(cells.suffix(1)), adding: [])
    } throws: { "\($0)".contains("/opt/qemu-s390x is not an executable file") }
    #expect {
      try MatrixConfig.parse("[defaults]\nqemu_builds = system=/x\n[selftest]\n", file: "q.cfg")
    } throws: { "\($0)".hasPrefix("q.cfg:2:") }
    #expect {
      try MatrixConfig.parse("[selftest]\nqemu = sys.tem\n", file: "q.cfg")
    } throws: { "\($0)".hasPrefix("q.cfg:2:") }
  }
}

/// The report's second edition: matrix per architecture with markers, the
/// per-cell timeline, guest notes and per-check time, log line and source.
@Suite("HTML report, second edition")
struct HTMLSecondEditionTests {
  @Test func timelineNotesChecksAndMarkers() throws {
    let log = """
      KTAP version 1
      # guest: one
      1..1
          KTAP version 1
          # Subtest: main
          # bring-up ns 1234
          ok 1 x # @one/G.swift:10
          not ok 2 y # @one/G.swift:11
      not ok 1 main
      # EXIT: STATUS=1

      """
    var tcg = RegressionTests.cell("one", accel: .tcg, verdict: .failed, checks: [("x", true), ("y", false)])
    tcg.result.serialLog = log
    tcg.result.sections[0].checks[0].diagnostics = ["bring-up ns 1234"]
    var timeline = SerialTimeline()
    var offset = 0
    for (index, line) in log.split(separator: "\n").enumerated() {
      offset += line.utf8.count + 1
      timeline.record(endOffset: offset, at: .milliseconds(100 + 50 * index))
    }
    tcg.result.timeline = timeline
    let kvm = RegressionTests.cell("one", accel: .kvm, checks: [("x", true), ("y", true)])
    let baseline = try Baseline.parse(
      "cell = nothing\ncheck = *\nreason = r\n", path: "b.cfg"
    ).classify(ResultsDocument([tcg, kvm]))
    let html = HTMLReport.render([tcg, kvm], layout: ReportLayout([tcg, kvm]), baseline: baseline)
    #expect(html.contains("<caption>x86_64</caption>"))
    #expect(html.contains("<span class=\"marker marker-new\">new</span>"))
    #expect(html.contains("<span class=\"marker marker-divergent\">diverges</span>"))
    #expect(html.contains("<div class=\"timeline\""))
    #expect(html.contains("<span>first byte 100 ms</span>"))
    #expect(html.contains("<span>exit line 550 ms</span>"))
    #expect(html.contains("bring-up ns 1234"))
    #expect(html.contains("title=\"line 7 of the serial log\">line 7</a>"))
    #expect(html.contains("<td class=\"check-time\">50 ms</td>"))
  }
}
