import Foundation
import Subprocess

#if canImport(System)
  import System
#else
  import SystemPackage
#endif

/// Runs a tool to completion and collects its output (the only place the
/// payload builder starts processes).
enum ToolRunner {
  struct Outcome: Sendable {
    var exitCode: Int32
    var output: String
  }

  static func run(_ executable: String, _ arguments: [String], in directory: String? = nil)
    async throws -> Outcome
  {
    do {
      let result = try await Subprocess.run(
        .path(FilePath(executable)), arguments: Arguments(arguments),
        workingDirectory: directory.map { FilePath($0) },
        output: .string(limit: 4 << 20), error: .string(limit: 4 << 20))
      let code: Int32
      switch result.terminationStatus {
      case .exited(let value): code = Int32(value)
      case .signaled(let signal): code = 128 + Int32(signal)
      }
      let text = result.standardOutput + result.standardError
      return Outcome(exitCode: code, output: text)
    } catch {
      throw HarnessError.launchFailed(executable, underlying: "\(error)")
    }
  }
}
