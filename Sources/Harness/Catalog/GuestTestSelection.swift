import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// `--test` patterns: which registered tests of which guests run. A pattern
/// is `guest/test` or `test` (any guest), each part a shell glob
/// (`selftest/exc*`, `*/memory map`). The guest receives its selection on
/// the command line (`harness.tests=0,3`: indices into its `guestTests`),
/// and the cell's expected plan becomes the selected names.
public struct GuestTestSelection: Sendable, Equatable {
  /// The patterns; empty selects every test.
  public var patterns: [String]
  /// Patterns of the selected tests that run with deliberately wrong
  /// expectations (`--mutate`; the guest receives `harness.mutate=<indices>`
  /// and none of their failures is a known failure).
  public var mutations: [String]

  /// A selection of `patterns`, with `mutations` mutated.
  public init(patterns: [String] = [], mutations: [String] = []) {
    self.patterns = patterns
    self.mutations = mutations
  }

  /// Whether test `test` of guest `guest` is selected.
  public func selects(guest: String, test: String) -> Bool {
    if patterns.isEmpty { return true }
    return patterns.contains { pattern in
      if let slash = pattern.firstIndex(of: "/") {
        return Self.glob(String(pattern[..<slash]), guest)
          && Self.glob(String(pattern[pattern.index(after: slash)...]), test)
      }
      return Self.glob(pattern, test)
    }
  }

  static func glob(_ pattern: String, _ text: String) -> Bool {
    fnmatch(pattern, text, 0) == 0
  }

  /// Cells with their expected tests filled in from the guests' sources;
  /// with patterns, only cells of guests that have a selected test, each
  /// told which tests to run. Patterns that select nothing are an error
  /// naming them and the available tests.
  public func apply(to cells: [MatrixCell], workspace: GuestWorkspace) throws -> [MatrixCell] {
    var catalogs: [String: [GuestTestDeclaration]] = [:]
    var programs: [String: GuestProgram] = [:]
    for program in try workspace.programs(includeNegative: true) { programs[program.name] = program }
    var result: [MatrixCell] = []
    var used = Set<String>()
    var usedMutations = Set<String>()
    for var cell in cells {
      guard let program = programs[cell.guest] else {
        result.append(cell)
        continue
      }
      let tests: [GuestTestDeclaration]
      if let known = catalogs[cell.guest] {
        tests = known
      } else {
        tests = try GuestTestCatalog.tests(of: program, in: workspace)
        catalogs[cell.guest] = tests
      }
      let chosen = tests.indices.filter { selects(guest: cell.guest, test: tests[$0].name) }
      for pattern in patterns
      where chosen.contains(where: { GuestTestSelection(patterns: [pattern]).selects(guest: cell.guest, test: tests[$0].name) }) {
        used.insert(pattern)
      }
      if chosen.isEmpty { continue }
      var mutated: [Int] = []
      for pattern in mutations {
        let matching = chosen.filter {
          GuestTestSelection(patterns: [pattern]).selects(guest: cell.guest, test: tests[$0].name)
        }
        if !matching.isEmpty { usedMutations.insert(pattern) }
        mutated += matching.filter { !mutated.contains($0) }
      }
      mutated.sort()
      cell.expectedTests = chosen.map { tests[$0].name }
      cell.settings.xfailTests = Set(
        chosen.filter { tests[$0].declaresXFail && !mutated.contains($0) }.map { tests[$0].name })
      if chosen.count < tests.count {
        cell.settings.guestArguments.append(
          "harness.tests=" + chosen.map(String.init).joined(separator: ","))
      }
      if !mutated.isEmpty {
        cell.settings.guestArguments.append(
          "harness.mutate=" + mutated.map(String.init).joined(separator: ","))
      }
      result.append(cell)
    }
    let unusedMutations = mutations.filter { !usedMutations.contains($0) }
    if !unusedMutations.isEmpty {
      throw HarnessError.layout(
        "--mutate \(unusedMutations.map { "'\($0)'" }.joined(separator: ", ")) selects no test of the selected cells (see `runner list --tests`)"
      )
    }
    let unused = patterns.filter { !used.contains($0) }
    if !unused.isEmpty {
      let available = catalogs.keys.sorted().flatMap { guest in
        catalogs[guest]!.map { "\(guest)/\($0.name)" }
      }
      throw HarnessError.layout(
        "--test \(unused.map { "'\($0)'" }.joined(separator: ", ")) selects no test of the selected cells; available: \(available.joined(separator: ", "))"
      )
    }
    return result
  }
}
