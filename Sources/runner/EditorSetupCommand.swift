import ArgumentParser
import Foundation
import Harness

extension Runner {
  struct EditorSetupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "editor-setup",
      abstract: "Write compile_commands.json for the guests of one architecture (SourceKit-LSP).",
      discussion: """
        Builds the GuestLib and GuestArch modules of the architecture (when not cached) and \
        writes compile_commands.json at the package root: one entry per guest source file \
        with the real swiftc command of its module (GuestLib, GuestArch, each program with \
        cells on the architecture in configs/guests.cfg, and the negative guests that \
        type-check for it), absolute paths throughout. Run it again after switching \
        architectures or adding a guest.

        SourceKit-LSP prefers Package.swift to compile_commands.json in the same folder; to \
        index guests/ with these commands, set "defaultWorkspaceType": "compilationDatabase" \
        in .sourcekit-lsp/config.json (the host sources then lose their SwiftPM settings), or \
        open guests/ as a workspace of its own with this file in its search path.
        """)

    @Option(help: "The architecture whose flags and modules the commands use: x86_64, s390x.")
    var arch = "x86_64"

    @Option(help: "Where to write the file (default: compile_commands.json at the package root).")
    var output: String?

    func validate() throws {
      if Architecture(rawValue: arch) == nil {
        throw ValidationError("--arch: unknown architecture '\(arch)'; use x86_64 or s390x")
      }
    }

    func run() async throws {
      let architecture = Architecture(rawValue: arch)!
      let runner = try GuestRunner.forCurrentPackage()
      let root = runner.builder.workspace.root
      let result = try await EditorSetup.commands(
        builder: runner.builder, architecture: architecture)
      let path = output ?? root + "/compile_commands.json"
      try EditorSetup.compilationDatabase(result.commands, directory: root)
        .write(to: URL(fileURLWithPath: path))
      let files = result.commands.reduce(0) { $0 + $1.files.count }
      Output.write(
        "\(path): \(files) files in \(result.commands.count) modules for \(arch): "
          + result.commands.map(\.module).joined(separator: ", "))
      for (program, reason) in result.leftOut {
        Output.write(
          "  left out \(program) (does not type-check for \(arch)): \(TerminalText.sanitized(reason))"
        )
      }
    }
  }
}
