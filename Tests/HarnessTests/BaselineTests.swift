import Foundation
import Testing

@testable import Harness

/// Known failures: parsing (errors with file and line), classification
/// (known, new, fixed), `baseline --update`, and the runner's exit status.
@Suite("Baselines")
struct BaselineTests {
  static let text = """
    # comment
    cell = one.x86_64.tcg.*
    check = main › x
    reason = QEMU 7.2 TCG gets x wrong
    link = https://example.invalid/1

    cell = *.kvm.*
    check = (verdict) TIMEOUT
    reason = nested KVM is slow here
    """

  @Test func parsesEntriesWithTheirLines() throws {
    let baseline = try Baseline.parse(Self.text, path: "b.cfg")
    #expect(baseline.entries.count == 2)
    #expect(baseline.entries[0].line == 2 && baseline.entries[1].line == 7)
    #expect(baseline.entries[0].link == "https://example.invalid/1")
    #expect(baseline.entries[1].matches(cellID: "a.x86_64.kvm.smp1.mem256M", key: "(verdict) TIMEOUT"))
  }

  @Test(arguments: [
    ("cell = a\ncheck = b\n", "b.cfg:1: baseline entry without 'reason ='"),
    ("cell = a\nreason = r\ncheck = b\ncheck = c\n", "b.cfg:4: 'check' given twice"),
    ("cell = a\nnonsense\n", "b.cfg:2: expected 'key = value'"),
    ("cell = a\ncheck = b\nreason = r\ncolour = red\n", "b.cfg:4: unknown baseline key 'colour'"),
  ])
  func errorsNameFileAndLine(text: String, message: String) {
    #expect {
      try Baseline.parse(text, path: "b.cfg")
    } throws: { error in
      "\(error)".hasPrefix(message)
    }
  }

  @Test func classifiesKnownNewAndFixed() throws {
    let baseline = try Baseline.parse(Self.text, path: "b.cfg")
    let document = ResultsDocument([
      RegressionTests.cell("one", accel: .tcg, verdict: .failed, checks: [("x", false), ("y", false)]),
      RegressionTests.cell("two", accel: .kvm, checks: [("z", true)]),
    ])
    let report = baseline.classify(document)
    #expect(report.known.map(\.check) == ["main › x"])
    #expect(report.known.first?.entry?.reason == "QEMU 7.2 TCG gets x wrong")
    #expect(report.new.map(\.check) == ["main › y"])
    #expect(report.fixed.map(\.line) == [7], "the KVM cell ran and did not time out")
    #expect(report.cellsWithNewFailures == ["one.x86_64.tcg.smp1.mem256M"])
  }

  @Test func updateAppendsUncoveredFailuresAndPrunesFixedOnes() throws {
    let baseline = try Baseline.parse(Self.text, path: "b.cfg")
    let document = ResultsDocument([
      RegressionTests.cell("one", accel: .tcg, verdict: .failed, checks: [("x", false), ("y", false)]),
      RegressionTests.cell("two", accel: .kvm, checks: [("z", true)]),
    ])
    let (text, added, removed) = Baseline.updated(
      baseline, existingText: Self.text, with: document, pruning: true)
    #expect(added == 1 && removed == 1)
    let reread = try Baseline.parse(text, path: "b.cfg")
    #expect(reread.entries.map(\.check) == ["main › x", "main › y"])
    #expect(reread.entries[1].reason.hasPrefix("TODO"))
    #expect(reread.classify(document).new.isEmpty)
  }

  /// The flaky guest fails on the runner's first attempt: with a baseline
  /// naming that check the run passes (known), without it fails (new); an
  /// entry for a check that passes is fixed, and --fail-on-fixed fails.
  @Test func runnerExitStatusFollowsTheBaseline() async throws {
    try await RunnerBinary.prebuild(["flaky", "selftest"])
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[flaky]\n[selftest]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let known = """
      cell = flaky.*
      check = depends on the attempt › passes except on the first attempt
      reason = fails on purpose on the first attempt
      """
    try known.write(toFile: dir + "/known.cfg", atomically: true, encoding: .utf8)
    let common = ["--config", dir + "/guests.cfg", "--include-negative", "--report-dir", dir + "/run"]
    let withBaseline = try await RunnerBinary.run(common + ["--baseline", dir + "/known.cfg"])
    #expect(withBaseline.status == 0, "\(withBaseline.stdout)")
    #expect(withBaseline.stdout.contains("1 known failure, 0 new, 0 fixed"))
    let document = try RunComparison.load(dir + "/run")
    #expect(document.baseline?.known.count == 1)
    let without = try await RunnerBinary.run(common + ["--no-baseline"])
    #expect(without.status == 1)

    let fixed = known + "\n\ncell = selftest.*\ncheck = *\nreason = was broken once\n"
    try fixed.write(toFile: dir + "/fixed.cfg", atomically: true, encoding: .utf8)
    let lenient = try await RunnerBinary.run(common + ["--baseline", dir + "/fixed.cfg"])
    #expect(lenient.status == 0)
    #expect(lenient.stdout.contains("FIXED  selftest.*"))
    let strict = try await RunnerBinary.run(common + ["--baseline", dir + "/fixed.cfg", "--fail-on-fixed"])
    #expect(strict.status == 1)

    let update = try await RunnerBinary.run([
      "baseline", "--from", dir + "/run", "--baseline", dir + "/new.cfg", "--update",
    ])
    #expect(update.status == 0, "\(update.stdout)\(update.stderr)")
    let written = try Baseline.load(path: dir + "/new.cfg")
    #expect(written.entries.map(\.check) == ["depends on the attempt › passes except on the first attempt"])
  }
}

extension BaselineTests {
  /// A divergence is baselined like a failure: `(divergence) check`.
  @Test func divergencesCanBeBaselined() throws {
    let document = ResultsDocument([
      RegressionTests.cell("one", accel: .tcg, verdict: .failed, checks: [("x", false), ("y", true)]),
      RegressionTests.cell("one", accel: .kvm, checks: [("x", true), ("y", true)]),
    ])
    let baseline = try Baseline.parse(
      """
      cell = one.x86_64.*.smp1.mem256M
      check = (divergence) main › x
      reason = TCG gets x wrong, KVM does not
      """, path: "b.cfg")
    let report = baseline.classify(document)
    #expect(report.knownDivergences.map(\.check) == ["(divergence) main › x"])
    #expect(report.newDivergences.map(\.check) == ["(divergence) (verdict)"])
    #expect(report.fixed.isEmpty, "the entry matched a divergence")
    #expect(report.new.map(\.check) == ["main › x"], "the failure itself is still new")
    let (text, added, _) = Baseline.updated(baseline, existingText: "", with: document, pruning: false)
    #expect(added == 2 && text.contains("check = (divergence) (verdict)"))
  }
}
