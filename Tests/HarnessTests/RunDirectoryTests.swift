import Foundation
import Subprocess
import Testing

@testable import Harness

#if canImport(System)
  import System
#else
  import SystemPackage
#endif

/// The runner's report directory through the built binary: it replaces only
/// directories it created, one runner uses a directory at a time, and write
/// errors name the path and the reason in words.
@Suite("Run directory", .serialized)
struct RunDirectoryTests {
  static let config = "[defaults]\naccel = tcg\n[selftest]\narch = x86_64\n"

  /// Everything observable about `path` and below it (never following a
  /// symbolic link): type, mode, size, contents (SHA-256), link target,
  /// device number.
  static func snapshot(_ path: String) -> [String] {
    var info = stat()
    guard lstat(path, &info) == 0 else { return ["\(path): missing"] }
    let head = "\(path): mode \(String(info.st_mode, radix: 8)) size \(info.st_size) rdev \(info.st_rdev)"
    switch info.st_mode & S_IFMT {
    case S_IFREG:
      var digest = ContentHash()
      digest.update(FileManager.default.contents(atPath: path) ?? Data())
      return [head + " sha256 \(digest.finalizeHex())"]
    case S_IFLNK:
      return [head + " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")]
    case S_IFDIR:
      let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
      return [head + " dir"] + names.flatMap { snapshot(path + "/" + $0) }
    default:
      return [head]
    }
  }

  static func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
  }

  /// Runs the runner on `reportDir` and checks that it refused: exit 2, a
  /// message with the path (`named`, if it is normalized) and `why`;
  /// `reportDir`, `<reportDir>.previous`, `<reportDir>.lock` and
  /// `alsoUntouched` byte-identical (a missing one still missing: no lock
  /// file is created beside a refused path).
  static func expectRefused(
    _ reportDir: String, named: String? = nil, in dir: String, why: String, alsoUntouched: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation
  ) async throws {
    let name = named ?? reportDir
    let watched = [reportDir, name + ".previous", name + ".lock"] + alsoUntouched
    let before = watched.map(snapshot)
    let run = try await RunnerBinary.run(["--config", dir + "/guests.cfg", "--report-dir", reportDir])
    #expect(run.status == 2, "\(run.stdout)\n\(run.stderr)", sourceLocation: sourceLocation)
    #expect(run.stderr.contains("--report-dir \(name): "), "\(run.stderr)", sourceLocation: sourceLocation)
    #expect(run.stderr.contains(why), "\(run.stderr)", sourceLocation: sourceLocation)
    #expect(run.stderr.contains("left untouched"), "\(run.stderr)", sourceLocation: sourceLocation)
    #expect(watched.map(snapshot) == before, "left untouched", sourceLocation: sourceLocation)
    #expect(!run.stdout.contains("running "), "no cell ran", sourceLocation: sourceLocation)
  }

  @Test func aFileIsRefusedAndLeftUntouched() async throws {
    let dir = try RunnerBinary.scratch(config: Self.config)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Data("the user's precious notes\n".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
    try await Self.expectRefused(dir + "/notes.txt", in: dir, why: "is a file, not a run directory")
    // Twice: nothing is moved aside on the first and deleted on the second.
    try await Self.expectRefused(dir + "/notes.txt", in: dir, why: "is a file, not a run directory")
  }

  @Test(.enabled(if: geteuid() == 0, "mknod needs root"))
  func aCharacterDeviceLikeDevNullIsRefused() async throws {
    let dir = try RunnerBinary.scratch(config: Self.config)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // The same device as /dev/null (1, 3), in the scratch directory.
    #expect(mknod(dir + "/null", S_IFCHR | 0o666, 0x103) == 0, "mknod: \(errno)")
    try await Self.expectRefused(dir + "/null", in: dir, why: "is a character device, not a run directory")
  }

  @Test func aNamedPipeIsRefused() async throws {
    let dir = try RunnerBinary.scratch(config: Self.config)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect(mkfifo(dir + "/pipe", 0o644) == 0)
    try await Self.expectRefused(dir + "/pipe", in: dir, why: "is a named pipe, not a run directory")
  }

  @Test func aDirectoryWithOtherContentsIsRefused() async throws {
    let dir = try RunnerBinary.scratch(config: Self.config)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try FileManager.default.createDirectory(atPath: dir + "/home/src", withIntermediateDirectories: true)
    try Data("code".utf8).write(to: URL(fileURLWithPath: dir + "/home/src/main.swift"))
    try await Self.expectRefused(
      dir + "/home", in: dir, why: "is a directory the runner did not create (no .swiftguest-run marker")
    // With a trailing slash, the same.
    try await Self.expectRefused(
      dir + "/home/", named: dir + "/home", in: dir, why: "is a directory the runner did not create")
  }

  @Test func aRunOfAnOlderRunnerIsReplacedButNotWithOtherFilesInIt() async throws {
    let dir = try RunnerBinary.scratch(config: Self.config)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // Only what a runner before the marker wrote: taken as a run.
    let manager = FileManager.default
    for old in ["old", "mixed"] {
      try manager.createDirectory(atPath: "\(dir)/\(old)/logs", withIntermediateDirectories: true)
      for file in ["results.json", "index.html", "results-x86_64.ktap", "logs/a.log", "logs/a.cmdline"] {
        try Data("old \(file)".utf8).write(to: URL(fileURLWithPath: "\(dir)/\(old)/\(file)"))
      }
    }
    let before = Self.snapshot(dir + "/old").map { $0.replacing(dir + "/old", with: "") }
    let run = try await RunnerBinary.run(["--config", dir + "/guests.cfg", "--report-dir", dir + "/old"])
    #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
    #expect(
      Self.snapshot(dir + "/old.previous").map { $0.replacing(dir + "/old.previous", with: "") } == before,
      "moved aside whole")
    #expect(Self.exists(dir + "/old/.swiftguest-run"))
    // With a file of someone else's in it: refused, with a hint.
    try Data("mine".utf8).write(to: URL(fileURLWithPath: dir + "/mixed/notes.txt"))
    try await Self.expectRefused(dir + "/mixed", in: dir, why: "touch \(dir)/mixed/.swiftguest-run")
  }

  @Test func symbolicLinksAreRefused() async throws {
    let dir = try RunnerBinary.scratch(config: Self.config)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/file"))
    try FileManager.default.createSymbolicLink(atPath: dir + "/to-file", withDestinationPath: dir + "/file")
    try FileManager.default.createSymbolicLink(atPath: dir + "/to-null", withDestinationPath: "/dev/null")
    let null = Self.snapshot("/dev/null")
    try await Self.expectRefused(
      dir + "/to-file", in: dir, why: "is a symbolic link (to \(dir)/file)", alsoUntouched: [dir + "/file"])
    try await Self.expectRefused(dir + "/to-null", in: dir, why: "is a symbolic link (to /dev/null)")
    #expect(Self.snapshot("/dev/null") == null)
  }

  @Test func aForeignPreviousIsNotDeleted() async throws {
    let dir = try RunnerBinary.scratch(config: Self.config)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let first = try await RunnerBinary.run(["--config", dir + "/guests.cfg", "--report-dir", dir + "/run"])
    #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
    #expect(Self.exists(dir + "/run/.swiftguest-run"), "the runner marks what it creates")
    try Data("not a run".utf8).write(to: URL(fileURLWithPath: dir + "/run.previous"))
    try await Self.expectRefused(
      dir + "/run", in: dir, why: "\(dir)/run.previous, where the previous run is kept, is a file",
      alsoUntouched: [dir + "/run.previous"])
  }

  @Test func ownRunsRotateAndAnEmptyDirectoryIsAdopted() async throws {
    let dir = try RunnerBinary.scratch(config: Self.config)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let reportDir = dir + "/run"
    try FileManager.default.createDirectory(atPath: reportDir, withIntermediateDirectories: false)
    var ids: [String] = []
    for memory in ["256M", "512M", "768M"] {
      try "[defaults]\naccel = tcg\n[selftest]\narch = x86_64\nmemory = \(memory)\n".write(
        toFile: dir + "/guests.cfg", atomically: true, encoding: .utf8)
      let run = try await RunnerBinary.run(["--config", dir + "/guests.cfg", "--report-dir", reportDir])
      #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
      ids.append("selftest.x86_64.tcg.smp1.mem\(memory)")
    }
    func cells(_ path: String) throws -> [String] {
      let json = try Data(contentsOf: URL(fileURLWithPath: path + "/results.json"))
      return try JSONDecoder().decode(ResultsDocument.self, from: json).cells.map(\.id)
    }
    #expect(try cells(reportDir) == [ids[2]])
    #expect(try cells(reportDir + ".previous") == [ids[1]], "the run before; the first one was deleted")
    #expect(Self.exists(reportDir + "/.swiftguest-run") && Self.exists(reportDir + ".previous/.swiftguest-run"))
    let lock = try String(contentsOfFile: reportDir + ".lock", encoding: .utf8)
    #expect(lock.hasPrefix("swiftguest runner lock\npid "))
  }

  @Test func aSecondRunnerWaitsForTheFirstAndNothingIsMixed() async throws {
    try await RunnerBinary.prebuild(["hang", "selftest"])
    let token = "harness.testtoken=\(UInt32.random(in: 1...UInt32.max))"
    let dir = try RunnerBinary.scratch(
      config: "[defaults]\naccel = tcg\nguest_args = \(token)\n[hang]\ntimeout = 600\nsilence = 600\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try "[defaults]\naccel = tcg\n[selftest]\narch = x86_64\n".write(
      toFile: dir + "/second.cfg", atomically: true, encoding: .utf8)
    let reportDir = dir + "/run"
    let second = ["--config", dir + "/second.cfg", "--report-dir", reportDir]
    let secondErr = dir + "/second.stderr"
    let firstRun = try await RunnerBinary.interact([
      "--config", dir + "/guests.cfg", "--include-negative", "--report-dir", reportDir,
    ]) { output, pid in
      let booted = try await RunnerBinary.wait(seconds: 120) {
        RunnerBinary.processes(containing: token).count == 1
      }
      #expect(booted, "the first runner's QEMU runs: \(output())")
      // --no-wait: refused at once, naming the runner that has it.
      let refused = try await RunnerBinary.run(second + ["--no-wait"])
      #expect(refused.status == 2, "\(refused.stdout)\n\(refused.stderr)")
      #expect(
        refused.stderr.contains("--report-dir \(reportDir): is in use by the runner (pid \(pid))"), "\(refused.stderr)")
      // Without it: the second runner waits, and says so.
      let runner = try RunnerBinary.path()
      let command = ([runner] + second).map(ReportText.shellQuote).joined(separator: " ")
        + " 2>" + ReportText.shellQuote(secondErr)
      let waiter = Task {
        try await Subprocess.run(
          .path("/bin/sh"), arguments: ["-c", command], workingDirectory: FilePath(RunnerBinary.root),
          output: .string(limit: 1 << 20), error: .discarded)
      }
      let waiting = try await RunnerBinary.wait(seconds: 60) {
        ((try? String(contentsOfFile: secondErr, encoding: .utf8)) ?? "")
          .contains("waiting for the runner (pid \(pid)) that uses \(reportDir)")
      }
      #expect(waiting, "\((try? String(contentsOfFile: secondErr, encoding: .utf8)) ?? "")")
      try await Task.sleep(for: .seconds(1))
      #expect(!FileManager.default.fileExists(atPath: reportDir + ".previous"), "the waiter touched nothing yet")
      kill(pid, SIGINT)
      let result = try await waiter.value
      #expect(RunnerBinary.status(result.terminationStatus) == 0, "\(result.standardOutput)")
      #expect(result.standardOutput.contains("PASS     selftest.x86_64.tcg.smp1.mem256M"))
    }
    #expect(firstRun.status == 130, "\(firstRun.stdout)\n\(firstRun.stderr)")
    func cells(_ path: String) throws -> [String] {
      let json = try Data(contentsOf: URL(fileURLWithPath: path + "/results.json"))
      return try JSONDecoder().decode(ResultsDocument.self, from: json).cells.map(\.id)
    }
    // Each run's reports whole, in its own directory.
    #expect(try cells(reportDir) == ["selftest.x86_64.tcg.smp1.mem256M"])
    #expect(try cells(reportDir + ".previous") == ["hang.x86_64.tcg.smp1.mem256M"])
    let logs = try FileManager.default.contentsOfDirectory(atPath: reportDir + "/logs")
    #expect(logs.allSatisfy { $0.hasPrefix("selftest.") }, "\(logs)")
  }
}

#if os(Linux)
/// A tmpfs mounted for one test (needs root, or CAP_SYS_ADMIN).
enum Tmpfs {
  /// Whether tmpfs can be mounted here (tried once).
  static let available: Bool = {
    let probe = FileManager.default.temporaryDirectory.appendingPathComponent("tmpfs-probe-\(getpid())").path
    guard mkdir(probe, 0o755) == 0 else { return false }
    defer { rmdir(probe) }
    guard Glibc.mount("tmpfs", probe, "tmpfs", 0, "size=16k") == 0 else { return false }
    umount2(probe, Int32(MNT_DETACH))
    return true
  }()

  /// Mounts a tmpfs of `size` at `path` (created), read-only if asked.
  static func mount(at path: String, size: String, readOnly: Bool = false) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    let flags: UInt = readOnly ? 1 : 0  // MS_RDONLY
    guard Glibc.mount("tmpfs", path, "tmpfs", flags, "size=\(size)") == 0 else {
      throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
    }
  }

  static func unmount(_ path: String) {
    umount2(path, Int32(MNT_DETACH))
  }

  /// Fills the file system holding `directory` (a file written until
  /// there is no space left).
  static func fill(_ directory: String) {
    let descriptor = open(directory + "/filler", O_WRONLY | O_CREAT, 0o644)
    guard descriptor >= 0 else { return }
    defer { close(descriptor) }
    let block = [UInt8](repeating: 0, count: 4096)
    while block.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) > 0 {}
  }
}

/// Write errors of the run directory, on real read-only and full file
/// systems (tmpfs mounts; unmounted in every path).
@Suite("Run directory write errors", .serialized, .enabled(if: Tmpfs.available, "needs tmpfs mounts (root)"))
struct RunDirectoryWriteErrorTests {
  @Test func aReadOnlyFileSystemIsNamedInWords() async throws {
    let dir = try RunnerBinary.scratch(config: RunDirectoryTests.config)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let mount = dir + "/ro"
    try Tmpfs.mount(at: mount, size: "64k", readOnly: true)
    defer { Tmpfs.unmount(mount) }
    let run = try await RunnerBinary.run(["--config", dir + "/guests.cfg", "--report-dir", mount + "/run"])
    #expect(run.status == 2, "\(run.stdout)\n\(run.stderr)")
    #expect(run.stderr.contains("--report-dir \(mount)/run: "), "\(run.stderr)")
    #expect(run.stderr.contains("\(mount)/run.lock: read-only file system"), "\(run.stderr)")
    #expect(!(run.stdout + run.stderr).contains("Cocoa") && !(run.stdout + run.stderr).contains("Code="))
  }

  @Test func aFullFileSystemMakesTheCellAnErrorNamingEachFile() async throws {
    try await RunnerBinary.prebuild(["selftest"])
    let dir = try RunnerBinary.scratch(config: RunDirectoryTests.config)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let mount = dir + "/full"
    try Tmpfs.mount(at: mount, size: "1m")
    defer { Tmpfs.unmount(mount) }
    let arguments = ["--config", dir + "/guests.cfg", "--report-dir", mount + "/run"]
    let roomy = try await RunnerBinary.run(arguments)
    #expect(roomy.status == 0, "\(roomy.stdout)\n\(roomy.stderr)")
    Tmpfs.fill(mount)
    // The run directory is still rotated and created (renames, directories
    // and the empty marker need no space), then every write fails.
    let full = try await RunnerBinary.run(arguments)
    let all = full.stdout + full.stderr
    #expect(full.status == 1, "\(all)")
    let log = "\(mount)/run/logs/selftest.x86_64.tcg.smp1.mem256M.log"
    let cellLine = try #require(
      full.stdout.split(separator: "\n").first { $0.hasPrefix("PASS     selftest.x86_64.tcg.smp1.mem256M") }, "\(all)")
    #expect(!cellLine.isEmpty)
    #expect(full.stdout.contains("    error: log not written: \(log): no space left on device"), "\(all)")
    #expect(full.stdout.contains("ERROR: 3 log files not written (no space left on device)"), "\(all)")
    #expect(full.stdout.contains("logs not written for 1 cell"), "\(all)")
    #expect(full.stderr.contains("error: the reports were not all written"), "\(all)")
    #expect(full.stderr.contains("\(mount)/run/results.json: no space left on device"), "\(all)")
    #expect(!all.contains("Cocoa") && !all.contains("Code="), "\(all)")
    // The previous run is intact.
    let previous = try String(contentsOfFile: "\(mount)/run.previous/logs/selftest.x86_64.tcg.smp1.mem256M.log", encoding: .utf8)
    #expect(previous.contains("# EXIT: STATUS=0"))
  }
}
#endif
