import Foundation

/// One Swift compile of the guests as an editor sees it: the module's
/// sources and the real swiftc command (absolute paths) that compiles them.
public struct GuestCompileCommand: Sendable, Equatable {
  /// The module: `GuestLib`, `GuestArch` or a program's name.
  public var module: String
  /// The module's Swift sources (a program's include its generated entry).
  public var files: [String]
  /// `swiftc` and its arguments.
  public var arguments: [String]

  /// The command `arguments` compiling `files` of `module`.
  public init(module: String, files: [String], arguments: [String]) {
    self.module = module
    self.files = files
    self.arguments = arguments
  }

  /// The same command with `-typecheck` instead of its outputs: checks the
  /// sources against the built modules and writes nothing.
  public var typecheckArguments: [String] {
    var result: [String] = []
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      index += 1
      switch argument {
      case "-c", "-emit-module": continue
      case "-o", "-emit-module-path": index += 1
      default: result.append(argument)
      }
    }
    return result + ["-typecheck"]
  }
}

/// `compile_commands.json` for the guests of one architecture, so that
/// SourceKit-LSP (or any clangd-style tool) indexes guests/ with the flags
/// the payload builder uses.
public enum EditorSetup {
  /// What `commands(builder:architecture:)` found.
  public struct Result: Sendable {
    /// GuestLib, GuestArch, then each program.
    public var commands: [GuestCompileCommand]
    /// Negative guests left out because they do not type-check for the
    /// architecture (they are written for the other one), with the first
    /// line of the compiler's complaint.
    public var leftOut: [(program: String, reason: String)]
  }

  /// The commands of `GuestLib`, `GuestArch` and the programs of
  /// `architecture`: those with matrix cells on it (configs/guests.cfg) and
  /// the negative guests that type-check for it. Builds the modules first
  /// (when not cached), since the commands import them.
  public static func commands(builder: PayloadBuilder, architecture: Architecture) async throws
    -> Result
  {
    let workspace = builder.workspace
    let matrix = try TestMatrix.load(workspace: workspace)
    var programs: [GuestProgram] = []
    for cell in matrix.cells where cell.settings.architecture == architecture {
      let program = try workspace.program(named: cell.guest)
      if !programs.contains(program) { programs.append(program) }
    }
    let negative = try workspace.programs(includeNegative: true).filter(\.isNegative)
    let all = try await builder.compileCommands(for: architecture, programs: programs + negative)
    var commands: [GuestCompileCommand] = []
    var leftOut: [(program: String, reason: String)] = []
    for command in all {
      if negative.contains(where: { $0.name == command.module }),
        let complaint = try await typecheckFailure(command, in: workspace.root)
      {
        leftOut.append((command.module, complaint))
        continue
      }
      commands.append(command)
    }
    return Result(commands: commands, leftOut: leftOut)
  }

  /// Runs the type-check variant of `command`; nil when it passes, else the
  /// compiler's first error line.
  public static func typecheckFailure(_ command: GuestCompileCommand, in directory: String)
    async throws -> String?
  {
    let arguments = command.typecheckArguments
    let outcome = try await ToolRunner.run(
      arguments[0], Array(arguments.dropFirst()), in: directory)
    guard outcome.exitCode != 0 else { return nil }
    let lines = outcome.output.split(separator: "\n")
    return String(
      lines.first(where: { $0.contains("error:") }) ?? lines.first ?? "exit \(outcome.exitCode)")
  }

  /// The JSON compilation database of `commands`: one entry per source file
  /// (`directory`, `file`, `arguments`), as SourceKit-LSP reads it.
  public static func compilationDatabase(_ commands: [GuestCompileCommand], directory: String)
    throws -> Data
  {
    struct Entry: Encodable {
      var directory: String
      var file: String
      var arguments: [String]
    }
    let entries = commands.flatMap { command in
      command.files.map { Entry(directory: directory, file: $0, arguments: command.arguments) }
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(entries)
  }
}

extension PayloadBuilder {
  /// The swiftc commands of `GuestLib`, `GuestArch` and `programs` for
  /// `architecture`, with absolute paths: the builder's own arguments, the
  /// modules imported from the cache (built first when missing), outputs
  /// and each program's generated entry under `<cache>/editor/<arch>/`.
  public func compileCommands(for architecture: Architecture, programs: [GuestProgram])
    async throws -> [GuestCompileCommand]
  {
    let keys = try moduleKeys(architecture)
    let modules = try await buildModules(
      architecture, keys: keys, guest: "(\(architecture) modules)")
    let editor = "\(cacheDirectory)/editor/\(architecture)"
    var commands: [GuestCompileCommand] = []
    let libraryOutput = editor + "/" + Self.libraryModule
    let runtimeOutput = editor + "/" + Self.runtimeModule
    for directory in [libraryOutput, runtimeOutput] {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    commands.append(
      GuestCompileCommand(
        module: Self.libraryModule, files: librarySources(),
        arguments: [toolchain.swiftc]
          + libraryArguments(architecture, core: modules.core, into: libraryOutput)))
    commands.append(
      GuestCompileCommand(
        module: Self.runtimeModule, files: runtimeSources(architecture),
        arguments: [toolchain.swiftc]
          + runtimeArguments(
            architecture, core: modules.core, library: modules.library, into: runtimeOutput)))
    for program in programs {
      let directory = editor + "/" + program.name
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      let entry = directory + "/" + GuestEntry.fileName
      let source = GuestEntry.source(for: program)
      if (try? String(contentsOfFile: entry, encoding: .utf8)) != source {
        try source.write(toFile: entry, atomically: true, encoding: .utf8)
      }
      commands.append(
        GuestCompileCommand(
          module: program.name, files: programSources(program) + [entry],
          arguments: [toolchain.swiftc]
            + programArguments(
              program, architecture, modules: modules, entry: entry, object: directory + "/guest.o")
        ))
    }
    return commands
  }
}
