import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// `posix_spawn` for the backend's helper processes (the private daemon's
/// launcher, a domain guard): not Foundation's `Process`, whose reaping did
/// not work inside the test process; the caller reaps.
enum ProcessSpawn {
  /// Where a child's standard input comes from.
  enum Input {
    /// `/dev/null`.
    case null
    /// A copy of this descriptor.
    case descriptor(Int32)
  }

  /// Starts `arguments` (the first is the executable's path) with `input`
  /// as standard input and stdout and stderr to `output` (truncated;
  /// `/dev/null` when nil). Returns the child's pid; throws naming
  /// `operation`.
  static func spawn(_ arguments: [String], input: Input, output: String?, operation: String) throws
    -> pid_t
  {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    switch input {
    case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    case .descriptor(let descriptor): posix_spawn_file_actions_adddup2(&actions, descriptor, 0)
    }
    posix_spawn_file_actions_addopen(
      &actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var argv = arguments.map { strdup($0) } + [nil]
    defer { for argument in argv { free(argument) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
    guard spawned == 0 else {
      throw LibvirtError(
        operation: operation, message: "posix_spawn \(arguments[0]): \(String(cString: strerror(spawned)))",
        code: 0)
    }
    return pid
  }
}
