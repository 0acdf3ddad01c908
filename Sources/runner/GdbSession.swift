import ArgumentParser
import Foundation
import Harness
import Synchronization

/// Unbuffered standard output (live lines must not wait in a stdio buffer
/// when the output is a pipe). Text is sanitized with `TerminalText`
/// (line breaks kept): guest text never writes control characters.
enum Output {
  static func write(_ text: String, newline: Bool = true) {
    let safe = TerminalText.sanitized(text, keepingNewlines: true)
    FileHandle.standardOutput.write(Data((newline ? safe + "\n" : safe).utf8))
  }
}

/// The guest's serial bytes as they arrive, sanitized for the terminal
/// (a UTF-8 sequence split between two chunks is held back).
final class SerialEcho: Sendable {
  private let stream = Mutex(TerminalText.Stream(keepingNewlines: true))

  func write(_ bytes: some Sequence<UInt8>) {
    let text = stream.withLock { $0.feed(bytes) }
    if !text.isEmpty { FileHandle.standardOutput.write(Data(text.utf8)) }
  }

  func finish() {
    let text = stream.withLock { $0.finish() }
    if !text.isEmpty { FileHandle.standardOutput.write(Data(text.utf8)) }
  }
}

/// `runner run --gdb CELL`: boots one cell paused at its first instruction
/// with QEMU's gdb stub, prints how to attach, streams the serial output
/// and waits until QEMU exits (Ctrl-C kills it).
enum GdbSession {
  /// Runs the session; returns the exit status for the runner.
  static func run(_ cell: MatrixCell, runner: GuestRunner) async throws -> Int32 {
    let program = try runner.builder.workspace.program(named: cell.guest)
    let payload = try await runner.builder.build(program, for: cell.settings.architecture)
    let port = try freePort()
    var settings = cell.settings
    // No deadline: the person at the debugger decides.
    settings.timeout = .seconds(10 * 365 * 86_400)
    settings.silenceTimeout = settings.timeout
    settings.extraQemuArguments += ["-S", "-gdb", "tcp:127.0.0.1:\(port)"]
    let echo = SerialEcho()
    let request = MachineRequest(
      guest: payload.program.name, bootImage: payload.bootImage, settings: settings)
    let task = Task {
      try await RunEngine().run(
        QemuProcessBackend(), request: request, onSerial: { bytes in echo.write(bytes) })
    }
    Interrupts.install { _ in task.cancel() }
    // Print the commands only once the stub accepts connections.
    let clock = ContinuousClock()
    let patience = clock.now + .seconds(30)
    while !isListening(port: port) && clock.now < patience && Interrupts.signal == 0 {
      try? await Task.sleep(for: .milliseconds(20))
    }
    let elf = ReportText.shellQuote(payload.elf)
    Output.write(
      """
      \(cell.id): QEMU is paused at the first instruction; its gdb stub listens on 127.0.0.1:\(port).
      payload ELF (with symbols): \(payload.elf)
        gdb \(elf) -ex 'target remote :\(port)'
        lldb \(elf) -o 'gdb-remote \(port)'
      waiting for QEMU to exit (Ctrl-C kills it); serial output follows.
      """)
    var record = try await task.value
    echo.finish()
    if Interrupts.signal != 0 || record.interrupted {
      Output.write("\ninterrupted: QEMU (pid \(record.processID ?? 0)) was killed")
      return 128 + (Interrupts.signal == 0 ? SIGINT : Interrupts.signal)
    }
    // The same judge as every other run.
    await runner.symbolize(&record, elf: payload.elf)
    let judgment = VerdictJudge.judge(
      record, CellExpectations(settings: settings, expectedTests: cell.expectedTests))
    Output.write(
      "\n\(judgment.verdict) \(cell.id)" + (judgment.reason.isEmpty ? "" : " — \(judgment.reason)"))
    return judgment.verdict.isFailure ? 1 : 0
  }

  /// Whether a TCP socket listens on `port` (from /proc/net/tcp).
  static func isListening(port: Int) -> Bool {
    let suffix = ":" + String(format: "%04X", port)
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
      guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
      for line in text.split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ")
        if fields.count > 3, fields[1].hasSuffix(suffix), fields[3] == "0A" { return true }
      }
    }
    return false
  }

  /// A TCP port on 127.0.0.1 that nothing listens on right now.
  static func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError.launchFailed("socket", underlying: String(cString: strerror(errno))) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
        bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
      }
    }
    guard bound else { throw HarnessError.launchFailed("bind", underlying: String(cString: strerror(errno))) }
    return Int(UInt16(bigEndian: address.sin_port))
  }
}
