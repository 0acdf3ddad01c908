import Foundation
import Harness
import Testing

/// Proof that every test of the catalog programs (config group `catalog`)
/// can fail: each program's first TCG cell runs once as it is and once with
/// every test mutated (`--mutate`: each check compares its measurement with
/// a wrong value, or the opposite of its expectation). A test is seen
/// failing when it has a failed or known-failed check in the first run, or
/// fails in the second; one that made checks and passes both could not
/// have failed.
enum CatalogMutation {
  static var cases: [GuestCase] {
    guard let matrix = try? TestMatrix.load(workspace: GuestCatalog.runner.builder.workspace)
    else { return [] }
    var seen = Set<String>()
    var cells: [MatrixCell] = []
    for cell in matrix.cells
    where cell.groups.contains("catalog") && cell.settings.accelerator == .tcg
      && !seen.contains(cell.guest)
    {
      seen.insert(cell.guest)
      cells.append(cell)
    }
    let mutated = try? GuestTestSelection(
      patterns: cells.map { $0.guest + "/*" }, mutations: cells.map { $0.guest + "/*" }
    ).apply(to: cells, workspace: GuestCatalog.runner.builder.workspace)
    return (mutated ?? []).map(GuestCase.init)
  }
}

@Suite("Catalog mutation")
struct CatalogMutationTests {
  @Test func theCatalogGroupIsNotEmpty() {
    #expect(CatalogMutation.cases.count >= 2)
    #expect(
      CatalogMutation.cases.allSatisfy {
        $0.cell.settings.guestArguments.contains { $0.hasPrefix("harness.mutate=0,") }
      })
  }

  @Test("every test that checks something is seen failing", arguments: CatalogMutation.cases)
  func everyTestIsSeenFailing(_ guestCase: GuestCase) async throws {
    let cell = guestCase.cell
    // A test whose checks fail today (a known failure on this accelerator)
    // has shown that it can fail; under mutation its checks may pass (a
    // wrong expectation of a wrong value can be right). Every other test
    // must fail under mutation.
    var plain = cell
    plain.settings.guestArguments.removeAll { $0.hasPrefix("harness.mutate=") }
    let (_, normal) = try await GuestCatalog.runner.run(plain)
    let failingToday = Set(
      normal.sections.filter { section in
        section.checks.contains {
          if case .xfailed = $0.outcome { return true }
          return $0.outcome == .failed
        }
      }.map(\.name))
    let (_, result) = try await GuestCatalog.runner.run(cell)
    #expect(result.verdict == .failed, "\(cell.id): \(result.verdict) \(result.reason)")
    var failedTests = 0
    for section in result.sections {
      let ran = section.checks.filter {
        if case .skipped = $0.outcome { return false }
        return true
      }
      if ran.isEmpty || failingToday.contains(section.name) { continue }
      #expect(
        section.status == .failed,
        "\(cell.id): test '\(section.name)' made \(ran.count) checks and passed with wrong expectations: they cannot fail"
      )
      #expect(
        ran.contains { $0.diagnostics.contains { $0.contains("mutated") } },
        "\(cell.id): test '\(section.name)' has no check that failed by mutation")
      if section.status == .failed { failedTests += 1 }
    }
    #expect(failedTests > 0, "\(cell.id): no test failed under mutation")
  }
}
