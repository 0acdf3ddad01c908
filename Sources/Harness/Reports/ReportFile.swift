import Foundation

/// Writes the files of a run directory (reports and logs): the whole text
/// to a temporary file beside the target, then renamed over it, so that a
/// reader (or a runner killed midway) sees the old file or the new one,
/// never a part of it.
///
/// Unlike `Data.write(to:options: .atomic)` it does not `fsync`: a run's
/// reports need not outlive a power loss, and each fsync took about 3 ms on
/// this host's ext4 `/tmp` while the disk was busy, a dozen of them per run
/// (the user's own files, such as a baseline, are still written with
/// Foundation's atomic write).
public enum ReportFile {
  /// Replaces `path` with `text` (UTF-8); throws a `POSIXError`.
  public static func write(_ text: String, to path: String) throws {
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { String(path[..<$0]) } ?? "."
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    let temporary = "\(directory)/.\(name).\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard descriptor >= 0 else { throw error(errno) }
    var failure: Int32?
    var bytes = text
    bytes.withUTF8 { buffer in
      var offset = 0
      while offset < buffer.count {
        let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
        if written < 0 {
          if errno == EINTR { continue }
          failure = errno
          return
        }
        offset += written
      }
    }
    if close(descriptor) != 0 && failure == nil { failure = errno }
    if failure == nil && rename(temporary, path) != 0 { failure = errno }
    if let failure {
      unlink(temporary)
      throw error(failure)
    }
  }

  private static func error(_ code: Int32) -> POSIXError {
    POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
  }
}
