/// Errors of the host pipeline. Each names the file, tool or argument at fault.
public enum HarnessError: Error, CustomStringConvertible, Sendable {
  /// A required tool is not installed or not found.
  case toolNotFound(String, hint: String)
  /// Compiling, assembling or linking a guest failed; `output` holds the
  /// tool's diagnostics (with the guest file:line of a compile error).
  case buildFailed(guest: String, step: String, command: [String], output: String)
  /// The package layout is not as expected.
  case layout(String)
  /// A guest test program does not exist.
  case unknownGuest(String, available: [String])
  /// A process could not be started.
  case launchFailed(String, underlying: String)
  /// A QEMU build of the `qemu` axis is missing or not a QEMU.
  case qemuBuild(String)

  public var description: String {
    switch self {
    case .toolNotFound(let tool, let hint):
      "tool not found: \(tool) (\(hint))"
    case .buildFailed(let guest, let step, let command, let output):
      "building guest '\(guest)' failed at \(step):\n$ \(command.joined(separator: " "))\n\(output)"
    case .layout(let message):
      "package layout: \(message)"
    case .unknownGuest(let name, let available):
      "unknown guest '\(name)'; available: \(available.joined(separator: ", "))"
    case .launchFailed(let what, let underlying):
      "could not start \(what): \(underlying)"
    case .qemuBuild(let message):
      message
    }
  }
}
