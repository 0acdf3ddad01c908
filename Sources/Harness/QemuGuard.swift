import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Keeps QEMU from outliving the process that started it, whatever ends
/// that process (`kill -9`, SIGHUP, a crash).
///
/// Every bare QEMU is started through `qemu-guard`, a tiny C program (the
/// one piece of C the launcher needs: Linux's `PR_SET_PDEATHSIG` fires when
/// the *thread* that forked dies, and Swift's cooperative threads come and
/// go, so it cannot be used from here). The guard forks QEMU into its own
/// process group and watches two things: QEMU's exit, which it passes on as
/// its own (the same exit code, or the same signal), and its standard
/// input, the read end of this process's *lifeline* pipe. The write end is
/// held only by this process (close-on-exec, so no other child inherits
/// it); when this process dies for any reason the kernel closes it, the
/// guard reads end-of-file and SIGKILLs its whole process group.
///
/// The guard is compiled once with the toolchain's clang and cached by the
/// SHA-256 of its source and the compiler's path.
public enum QemuGuard {
  /// The guard's source (C, Linux).
  static let source = #"""
    /* qemu-guard PROGRAM [ARG...]: runs PROGRAM in this process group and
       kills the group when standard input (the harness's lifeline pipe)
       reaches end of file. Exits as PROGRAM exited. Part of
       swift-guest-harness (Sources/Harness/QemuGuard.swift). */
    #define _GNU_SOURCE
    #include <errno.h>
    #include <fcntl.h>
    #include <poll.h>
    #include <signal.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/syscall.h>
    #include <sys/wait.h>
    #include <unistd.h>

    static int passOn(int status) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) {
        signal(WTERMSIG(status), SIG_DFL);
        raise(WTERMSIG(status));
      }
      return 128;
    }

    static volatile pid_t child;

    /* SIGTERM from the harness: end QEMU now; its exit is passed on. */
    static void stop(int signal) { (void)signal; if (child > 0) kill(child, SIGKILL); }

    int main(int argc, char **argv) {
      if (argc < 2) {
        fprintf(stderr, "usage: qemu-guard PROGRAM [ARG...]\n");
        return 127;
      }
      signal(SIGTERM, stop);
      child = fork();
      if (child < 0) {
        fprintf(stderr, "qemu-guard: fork: %s\n", strerror(errno));
        return 127;
      }
      if (child == 0) {
        /* QEMU's standard input: the console input FIFO the harness
           names in QEMU_GUARD_STDIN (it holds the FIFO open for writing),
           else nothing. */
        const char *input = getenv("QEMU_GUARD_STDIN");
        int null = open(input && *input ? input : "/dev/null", O_RDONLY | O_CLOEXEC);
        if (null >= 0) dup2(null, 0);
        execvp(argv[1], argv + 1);
        fprintf(stderr, "qemu-guard: cannot run %s: %s\n", argv[1], strerror(errno));
        _exit(127);
      }
      int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
      for (;;) {
        struct pollfd fds[2] = {{0, POLLIN, 0}, {pidfd, POLLIN, 0}};
        int ready = poll(fds, pidfd >= 0 ? 2 : 1, pidfd >= 0 ? -1 : 10);
        if (ready < 0 && errno != EINTR) break;
        int status;
        if (waitpid(child, &status, WNOHANG) == child) return passOn(status);
        if (ready > 0 && fds[0].revents) {
          char buffer[64];
          ssize_t got = read(0, buffer, sizeof buffer);
          if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) break;
        }
      }
      kill(-getpgrp(), SIGKILL); /* the harness is gone: so is its QEMU */
      return 137;
    }
    """#

  private static let state = Mutex<(path: String?, building: Bool)>((nil, false))
  private static let lifeline = Mutex<(read: Int32, write: Int32)?>(nil)

  /// The read end of this process's lifeline pipe (created on first use).
  /// Give it to a guard as its standard input; never close it.
  public static func lifelineReadEnd() throws -> Int32 {
    try lifeline.withLock { ends in
      if let ends { return ends.read }
      var fds: [Int32] = [-1, -1]
      // (pipe2 is not visible from Swift; a fork on another thread between
      // these calls could only delay the guard's end-of-file until that
      // child exits.)
      guard Glibc.pipe(&fds) == 0, fcntl(fds[0], F_SETFD, FD_CLOEXEC) == 0,
        fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0
      else {
        throw HarnessError.launchFailed(
          "qemu-guard", underlying: "lifeline pipe: \(String(cString: strerror(errno)))")
      }
      ends = (fds[0], fds[1])
      return fds[0]
    }
  }

  /// The guard executable, compiled on first use into `cacheDirectory`
  /// (default: `.build/guests` of the package in the current directory, else
  /// `~/.cache/swift-guest-harness`).
  static func executable(cacheDirectory: String? = nil) async throws -> String {
    if let path = state.withLock({ $0.path }) { return path }
    let toolchain = try Toolchain.find()
    var hash = ContentHash()
    hash.update(field: source)
    hash.update(field: toolchain.clang)
    let key = hash.finalizeHex()
    let directory = cacheDirectory ?? defaultCacheDirectory()
    let path = "\(directory)/qemu-guard-\(key.prefix(16))"
    if !FileManager.default.isExecutableFile(atPath: path) {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true)
      let scratch = "\(path).\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
      try Data(source.utf8).write(to: URL(fileURLWithPath: scratch + ".c"))
      defer { try? FileManager.default.removeItem(atPath: scratch + ".c") }
      let outcome = try await ToolRunner.run(
        toolchain.clang, ["-O2", "-w", "-o", scratch, scratch + ".c"])
      guard outcome.exitCode == 0 else {
        try? FileManager.default.removeItem(atPath: scratch)
        throw HarnessError.launchFailed(
          "qemu-guard", underlying: "\(toolchain.clang) failed:\n\(outcome.output)")
      }
      // Atomic: a concurrent compile of the same source renames over it.
      guard rename(scratch, path) == 0 else {
        throw HarnessError.launchFailed(
          "qemu-guard", underlying: "rename to \(path): \(String(cString: strerror(errno)))")
      }
    }
    state.withLock { $0.path = path }
    return path
  }

  static func defaultCacheDirectory() -> String {
    if let workspace = try? GuestWorkspace.locate() { return workspace.root + "/.build/guests" }
    return NSHomeDirectory() + "/.cache/swift-guest-harness"
  }

  /// Kills the QEMU under the guard `guardPID` so that the guard reaps it
  /// and ends with the same signal: the whole process group is gone when
  /// the guard is, with no orphaned zombie left to a late-reaping PID 1.
  /// Before QEMU was forked, the group is killed instead.
  public static func stop(_ guardPID: Int32) {
    if let qemu = child(of: guardPID) {
      kill(qemu, SIGKILL)
    } else {
      kill(-guardPID, SIGKILL)
    }
  }

  /// QEMU's pid under the guard `guardPID` (its only child), if running.
  static func child(of guardPID: Int32) -> Int32? {
    guard
      let data = FileManager.default.contents(
        atPath: "/proc/\(guardPID)/task/\(guardPID)/children")
    else { return nil }
    return String(decoding: data, as: UTF8.self).split(separator: " ").compactMap { Int32($0) }
      .first
  }
}
