import Foundation

/// Finding a program the way a shell does: a name is looked up in `PATH`,
/// a path (anything with a `/`) is taken as it is.
enum ExecutableSearch {
  /// The executable `nameOrPath` names, or nil when `PATH` has no such
  /// executable file.
  static func resolve(
    _ nameOrPath: String, environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> String? {
    if nameOrPath.contains("/") { return nameOrPath }
    return (environment["PATH"] ?? "/usr/bin").split(separator: ":").map { "\($0)/\(nameOrPath)" }
      .first { FileManager.default.isExecutableFile(atPath: $0) }
  }
}
