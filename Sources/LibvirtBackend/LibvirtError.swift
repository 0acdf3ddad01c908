import CLibvirt

/// A libvirt call failed; `message` is libvirt's own text.
public struct LibvirtError: Error, CustomStringConvertible, Sendable {
  /// What the harness was doing.
  public var operation: String
  /// libvirt's error message (virGetLastError), or a fallback.
  public var message: String
  /// libvirt's error code (virErrorNumber), 0 when unknown.
  public var code: Int32

  public var description: String { "\(operation): \(message)" }

  /// An error described by the harness itself.
  public init(operation: String, message: String, code: Int32) {
    self.operation = operation
    self.message = message
    self.code = code
  }

  /// The error libvirt recorded for this thread.
  static func last(_ operation: String) -> LibvirtError {
    guard let error = virGetLastError() else {
      return LibvirtError(operation: operation, message: "unknown libvirt error", code: 0)
    }
    let message = error.pointee.message.map { String(cString: $0) } ?? "unknown libvirt error"
    return LibvirtError(operation: operation, message: message, code: error.pointee.code)
  }
}
