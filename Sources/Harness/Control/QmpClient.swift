import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A minimal, blocking client of QEMU's machine protocol (QMP) over the Unix
/// socket every bare QEMU gets (`-qmp unix:PATH,server=on,wait=off`; never
/// TCP). Each call has a deadline; events QEMU sends in between are kept
/// in the transcript and skipped. The socket calls are the one unsafe piece.
public final class QmpClient {
  private let descriptor: Int32
  private var buffer: [UInt8] = []
  private let deadline: ContinuousClock.Instant
  /// Every line sent (`->`) and received (`<-`), for the cell's logs.
  public private(set) var transcript: [String] = []

  /// Connects to `path` and leaves capabilities negotiation done; every
  /// call must finish within `timeout` of now.
  public init(path: String, timeout: Duration) throws {
    deadline = .now + timeout
    descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw QmpError("socket: \(String(cString: strerror(errno)))") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    // No close(2) on the error paths: once every stored property is set,
    // a throwing init still runs deinit, which closes the socket. (Closing
    // it here too closed whatever descriptor another thread had opened
    // under the same number meanwhile.)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      throw QmpError("socket path too long: \(path)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (index, byte) in bytes.enumerated() { raw[index] = byte }
    }
    let connected = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else {
      let message = String(cString: strerror(errno))
      throw QmpError("connect \(path): \(message)")
    }
    _ = try readMessage()  // the greeting
    _ = try execute("qmp_capabilities")
  }

  deinit { if descriptor >= 0 { close(descriptor) } }

  /// Runs `command` with `arguments` (JSON object text, or nil) and returns
  /// the `return` value's JSON text; a QMP error is thrown.
  @discardableResult
  public func execute(_ command: String, arguments: String? = nil) throws -> String {
    let line = "{\"execute\": \"\(command)\"" + (arguments.map { ", \"arguments\": \($0)" } ?? "") + "}"
    transcript.append("-> " + line)
    let data = Array((line + "\n").utf8)
    var sent = 0
    while sent < data.count {
      let written = data[sent...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
      guard written > 0 else { throw QmpError("write: \(String(cString: strerror(errno)))") }
      sent += written
    }
    while true {
      let message = try readMessage()
      guard let object = try? JSONSerialization.jsonObject(with: Data(message.utf8)) as? [String: Any] else {
        throw QmpError("not a QMP message: \(message)")
      }
      if object["event"] != nil { continue }
      if let error = object["error"] as? [String: Any] {
        throw QmpError("\(command): \(error["desc"] as? String ?? message)")
      }
      if let value = object["return"] {
        if let text = value as? String { return text }
        let json = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])
        return String(decoding: json, as: UTF8.self)
      }
    }
  }

  /// Runs a human monitor command and returns its text output.
  public func human(_ commandLine: String, cpu: Int? = nil) throws -> String {
    try execute("human-monitor-command", arguments: Self.humanArguments(commandLine, cpu: cpu))
  }

  /// The arguments of `human-monitor-command` for `commandLine`, run as
  /// CPU `cpu` when given (`cpu-index`: its registers and page tables).
  public static func humanArguments(_ commandLine: String, cpu: Int? = nil) -> String {
    let escaped = String(
      decoding: (try? JSONSerialization.data(withJSONObject: commandLine, options: [.fragmentsAllowed, .withoutEscapingSlashes])) ?? Data(),
      as: UTF8.self)
    return "{\"command-line\": \(escaped)" + (cpu.map { ", \"cpu-index\": \($0)" } ?? "") + "}"
  }

  /// The next newline-terminated message, within the deadline.
  private func readMessage() throws -> String {
    while true {
      if let newline = buffer.firstIndex(of: 10) {
        let line = String(decoding: buffer[..<newline], as: UTF8.self)
        buffer.removeSubrange(...newline)
        transcript.append("<- " + (line.count > 2000 ? String(line.prefix(2000)) + "…" : line))
        return line
      }
      let left = deadline - .now
      guard left > .zero else { throw QmpError("no answer from QEMU's monitor in time") }
      var descriptorPoll = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
      let milliseconds = Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
      let ready = poll(&descriptorPoll, 1, milliseconds)
      if ready < 0 && errno == EINTR { continue }
      guard ready > 0 else { continue }
      var chunk = [UInt8](repeating: 0, count: 65536)
      let got = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      guard got > 0 else { throw QmpError("QEMU closed its monitor") }
      buffer += chunk[..<got]
    }
  }
}

/// A QMP failure, in words.
public struct QmpError: Error, CustomStringConvertible, Sendable {
  public var description: String
  init(_ description: String) { self.description = description }
}
