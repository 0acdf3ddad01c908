/// The matrix of a workspace: its config parsed, checked against the guest
/// programs that exist, and expanded into cells.
public struct TestMatrix: Sendable {
  /// All cells in config order.
  public var cells: [MatrixCell]
  /// The config file it came from.
  public var configPath: String

  /// Loads `configs/guests.cfg` of `workspace` (or `configPath`).
  public static func load(workspace: GuestWorkspace, configPath: String? = nil) throws -> TestMatrix {
    let path = configPath ?? workspace.root + "/configs/guests.cfg"
    let declarations = try MatrixConfig.load(path)
    let programs = Set(try workspace.programs().map(\.name))
    for declaration in declarations where !programs.contains(declaration.guest) {
      throw ConfigError(
        file: path, line: declaration.line,
        message: "[\(declaration.guest)] names no guest program under guests/tests (have: \(programs.sorted().joined(separator: ", ")))")
    }
    let declared = Set(declarations.map(\.guest))
    if let missing = programs.subtracting(declared).sorted().first {
      throw ConfigError(
        file: path, line: 0,
        message: "guest program '\(missing)' has no [\(missing)] section, so it would never run")
    }
    return TestMatrix(cells: Matrix.cells(declarations), configPath: path)
  }

  /// The cells matching every given filter (nil/empty = no filter).
  public func select(
    guests: [String] = [], architectures: [Architecture] = [], accelerators: [Accelerator] = [],
    groups: [String] = [], idContains: String? = nil
  ) -> [MatrixCell] {
    cells.filter { cell in
      (guests.isEmpty || guests.contains(cell.guest))
        && (architectures.isEmpty || architectures.contains(cell.settings.architecture))
        && (accelerators.isEmpty || accelerators.contains(cell.settings.accelerator))
        && (groups.isEmpty || !Set(groups).isDisjoint(with: cell.groups))
        && (idContains.map { cell.id.contains($0) } ?? true)
    }
  }
}

extension GuestRunner {
  /// Runs one matrix cell: build, boot, judge, and hold the guest to the
  /// declared check count.
  public func run(_ cell: MatrixCell) async throws -> (Payload, GuestResult) {
    let program = try builder.workspace.program(named: cell.guest)
    let payload = try await builder.build(program, for: cell.settings.architecture)
    var result = try await run(payload, settings: cell.settings)
    if let expected = cell.expectedChecks, result.verdict == .passed, result.checks.count != expected {
      result.verdict = .protocolError
      result.reason = "guest made \(result.checks.count) checks; the matrix declares \(expected)"
    }
    return (payload, result)
  }
}
