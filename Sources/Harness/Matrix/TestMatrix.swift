/// The matrix of a workspace: its config parsed, checked against the guest
/// programs that exist, and expanded into cells.
public struct TestMatrix: Sendable {
  /// All cells in config order.
  public var cells: [MatrixCell]
  /// The config file it came from.
  public var configPath: String

  /// Loads `configs/guests.cfg` of `workspace` (or `configPath`).
  ///
  /// Sections must name programs under `guests/tests`; with
  /// `includeNegative` they may also name the negative guests under
  /// `guests/negative` (which need no section). The default config must
  /// declare every program under `guests/tests`; an explicit `configPath`
  /// may declare a subset unless `requireEveryGuest` says otherwise.
  ///
  /// With `derivingTests` false the cells come without their plans
  /// (`expectedTests`), for a caller that selects some cells and derives
  /// theirs with `GuestTestSelection.apply` (reading every guest's sources
  /// took 70 ms of each runner start with the full matrix).
  public static func load(
    workspace: GuestWorkspace, configPath: String? = nil, includeNegative: Bool = false,
    requireEveryGuest: Bool? = nil, derivingTests: Bool = true
  ) throws -> TestMatrix {
    let path = configPath ?? workspace.root + "/configs/guests.cfg"
    let declarations = try MatrixConfig.load(path)
    let programs = Set(try workspace.programs().map(\.name))
    let allowed = Set(try workspace.programs(includeNegative: includeNegative).map(\.name))
    for declaration in declarations where !allowed.contains(declaration.guest) {
      let place = includeNegative ? "guests/tests or guests/negative" : "guests/tests"
      let hint =
        !includeNegative && (try? workspace.program(named: declaration.guest))?.isNegative == true
        ? "; it is a negative guest: pass --include-negative" : ""
      throw ConfigError(
        file: path, line: declaration.line,
        message: "[\(declaration.guest)] names no guest program under \(place) (have: \(allowed.sorted().joined(separator: ", ")))\(hint)")
    }
    let declared = Set(declarations.map(\.guest))
    if requireEveryGuest ?? (configPath == nil), let missing = programs.subtracting(declared).sorted().first {
      throw ConfigError(
        file: path, line: 0,
        message: "guest program '\(missing)' has no [\(missing)] section, so it would never run")
    }
    // Each cell's plan comes from its guest's sources (`guestTests`).
    let all = Matrix.cells(declarations)
    let cells = derivingTests ? try GuestTestSelection().apply(to: all, workspace: workspace) : all
    return TestMatrix(cells: cells, configPath: path)
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
  /// tests its sources declare (`expectedTests`).
  public func run(_ cell: MatrixCell) async throws -> (Payload, GuestResult) {
    let program = try builder.workspace.program(named: cell.guest)
    let payload = try await builder.build(program, for: cell.settings.architecture)
    return (payload, try await run(cell, payload: payload))
  }

  /// Boots one matrix cell from its built payload and holds the guest to
  /// the tests its sources declare (`MatrixCell.expectedTests`). `attempt`
  /// (1-based) is passed to the guest as `harness.attempt=<n>` when given.
  public func run(
    _ cell: MatrixCell, payload: Payload, attempt: Int? = nil,
    onStart: (@Sendable (Int32) -> Void)? = nil, admitted: Bool = false
  ) async throws -> GuestResult {
    var settings = cell.settings
    if let attempt { settings.guestArguments.append("harness.attempt=\(attempt)") }
    return try await run(
      payload, settings: settings, expectedTests: cell.expectedTests, onStart: onStart,
      admitted: admitted)
  }
}
