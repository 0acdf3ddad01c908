import Foundation
import Harness
import Testing

/// The host reads a guest's registered tests from its sources.
@Suite("GuestTestCatalog")
struct GuestTestCatalogTests {
  @Test func readsNamesFunctionsTraitsAndLines() throws {
    let source = """
      // header
      let guestTests = [
        Test("arithmetic", arithmetic),
        Test("memory map", memoryMap),  // a comment
        /* a block
           comment */
        Test("x2apic", x2apic, .requires(cpus: 2),
             .xfail("TCG, QEMU 7.2: \\"filtered\\"", when: .tcg)),
        Test("esc\\u{1B}]0;t\\u{07}", escapes)
      ]

      func arithmetic() {}
      """
    let tests = try #require(try GuestTestCatalog.parse(source, file: "g/G.swift"))
    #expect(tests.map(\.name) == ["arithmetic", "memory map", "x2apic", "esc\u{1B}]0;t\u{07}"])
    #expect(tests.map(\.function) == ["arithmetic", "memoryMap", "x2apic", "escapes"])
    #expect(tests.map(\.registrationLine) == [3, 4, 7, 9])
    #expect(tests[2].traits == [".requires(cpus: 2)", ".xfail(\"TCG, QEMU 7.2: \\\"filtered\\\"\", when: .tcg)"])
    #expect(tests[0].traits.isEmpty)
  }

  @Test func aFileWithoutAListHasNone() throws {
    #expect(try GuestTestCatalog.parse("func f() {}\n", file: "g/G.swift") == nil)
  }

  @Test(arguments: [
    ("let guestTests = [\n  Test(name, f),\n]\n", "g/G.swift:2: a test name must be a string literal"),
    ("let guestTests = [\n  Test(\"a\\(x)\", f),\n]\n", "g/G.swift:2: a test name must be a plain literal"),
    ("let guestTests = [\n  Test(\"\", f),\n]\n", "g/G.swift:2: a test name must not be empty"),
    ("let guestTests = [\n  Test(\"a/b\", f),\n]\n", "g/G.swift:2: test name 'a/b' must not contain '/'"),
    ("let guestTests = [\n  Test(\"a\"),\n]\n", "g/G.swift:2: expected `,`"),
    ("let guestTests = [\n  Test(\"a\", f),\n", "g/G.swift:1: the `guestTests` list has no closing `]`"),
    ("let guestTests = [\n  foo(),\n]\n", "g/G.swift:2: expected `Test(`"),
    ("  let guestTests = [Test(\"a\", f)]\n", "g/G.swift:1: write the test list as a top-level"),
    ("let guestTests = [\n  Test(\"a, f),\n]\n", "g/G.swift:2: unterminated string literal"),
  ])
  func malformedListsNameTheirLine(source: String, message: String) {
    #expect {
      _ = try GuestTestCatalog.parse(source, file: "g/G.swift")
    } throws: { error in
      "\(error)".contains(message)
    }
  }

  @Test func duplicateNamesAndMissingListsAreErrors() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent(
      "catalog-\(UUID().uuidString)"
    ).path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let directory = root + "/guests/tests/demo"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: root + "/guests/lib", withIntermediateDirectories: true)
    let workspace = try GuestWorkspace(root: root)
    let program = GuestProgram(name: "demo", directory: directory, isNegative: false)
    try "func f() {}\n".write(toFile: directory + "/Demo.swift", atomically: true, encoding: .utf8)
    #expect(throws: HarnessError.self) { try GuestTestCatalog.tests(of: program, in: workspace) }
    try "let guestTests = [\n  Test(\"a\", f),\n  Test(\"a\", g),\n]\nfunc f() {}\n  func g() {}\n"
      .write(toFile: directory + "/Demo.swift", atomically: true, encoding: .utf8)
    #expect {
      try GuestTestCatalog.tests(of: program, in: workspace)
    } throws: { "\($0)".contains("guests/tests/demo/Demo.swift:3: test name 'a' is already used at line 2") }
    try "let guestTests = [\n  Test(\"a\", f),\n  Test(\"b\", g),\n]\n".write(
      toFile: directory + "/Demo.swift", atomically: true, encoding: .utf8)
    try "func f() {}\n\n  private func g() throws(TestStop) {}\n".write(
      toFile: directory + "/More.swift", atomically: true, encoding: .utf8)
    let tests = try GuestTestCatalog.tests(of: program, in: workspace)
    #expect(tests.map(\.location) == ["guests/tests/demo/More.swift:1", "guests/tests/demo/More.swift:3"])
  }

  @Test func patternsSelectByGuestAndTestGlobs() {
    let selection = GuestTestSelection(patterns: ["selftest/exc*", "memory map"])
    #expect(selection.selects(guest: "selftest", test: "exceptions"))
    #expect(!selection.selects(guest: "alloc", test: "exceptions"))
    #expect(selection.selects(guest: "alloc", test: "memory map"))
    #expect(!selection.selects(guest: "selftest", test: "arithmetic"))
    #expect(GuestTestSelection().selects(guest: "x", test: "y"))
  }

  /// Every guest of the package declares its tests; the matrix's cells
  /// carry them, and a selection passes indices to the guest.
  @Test func everyGuestDeclaresTestsAndSelectionsReachTheCommandLine() throws {
    let workspace = TestSupport.runner.builder.workspace
    for program in try workspace.programs(includeNegative: true) {
      let tests = try GuestTestCatalog.tests(of: program, in: workspace)
      #expect(!tests.isEmpty, "\(program.name) has no tests")
      for test in tests {
        #expect(test.functionLine != nil, "\(program.name)/\(test.name): function \(test.function) not found")
      }
    }
    let matrix = try TestMatrix.load(workspace: workspace)
    for cell in matrix.cells {
      #expect(cell.expectedTests?.isEmpty == false, "\(cell.id) has no expected tests")
    }
    let selftest = matrix.cells.filter { $0.guest == "selftest" }
    let all = try #require(selftest.first?.expectedTests)
    let chosen = try GuestTestSelection(patterns: ["selftest/\(all[1])"]).apply(
      to: matrix.cells, workspace: workspace)
    #expect(Set(chosen.map(\.guest)) == ["selftest"])
    for cell in chosen {
      #expect(cell.expectedTests == [all[1]])
      #expect(cell.settings.guestArguments.contains("harness.tests=1"))
    }
    #expect(throws: HarnessError.self) {
      try GuestTestSelection(patterns: ["selftest/no such test"]).apply(
        to: matrix.cells, workspace: workspace)
    }
  }
}

@Suite("GuestSourceText")
struct GuestSourceTextTests {
  static let source = """
    func modes() {
      expectEqual(apic.mode, 0x1f, "mode")
      try require(expect(used, .lessOrEqual,
                         total, "fits"))
      expectException(vector: 6, "ud2") { x86_ud2() }
      let x = 1
      expect(name == "a(b", "paren in a string")
    }
    """

  @Test func callsAreCutAtTheirClosingParenthesis() {
    #expect(GuestSourceText.call(onLine: 2, of: Self.source) == "expectEqual(apic.mode, 0x1f, \"mode\")")
    #expect(
      GuestSourceText.call(onLine: 3, of: Self.source)
        == "try require(expect(used, .lessOrEqual, total, \"fits\"))")
    #expect(
      GuestSourceText.call(onLine: 5, of: Self.source)
        == "expectException(vector: 6, \"ud2\") { x86_ud2() }")
    #expect(GuestSourceText.call(onLine: 6, of: Self.source) == nil)
    #expect(GuestSourceText.call(onLine: 7, of: Self.source) == "expect(name == \"a(b\", \"paren in a string\")")
    #expect(GuestSourceText.call(onLine: 99, of: Self.source) == nil)
  }
}
