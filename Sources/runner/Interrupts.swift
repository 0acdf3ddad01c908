import Dispatch
import Foundation
import Harness
import Synchronization

/// SIGINT/SIGTERM/SIGHUP handling for the runner (a closed terminal or SSH
/// session is an interrupt like Ctrl-C): the first signal kills every
/// QEMU process group at once and calls the installed handler (which
/// cancels the run so that it can report what finished); a second one
/// exits immediately.
enum Interrupts {
  /// Kept alive for the life of the process; only appended to by
  /// `install`, which the runner calls from its main task.
  nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
  private static let received = Atomic<Int32>(0)

  /// The first signal received (0: none).
  static var signal: Int32 { received.load(ordering: .relaxed) }

  /// Installs the handlers; `handler` runs once, on the first signal.
  static func install(_ handler: @escaping @Sendable (Int32) -> Void) {
    for number in [SIGINT, SIGTERM, SIGHUP] {
      Foundation.signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler {
        let (first, _) = received.compareExchange(
          expected: 0, desired: number, ordering: .relaxed)
        if first {
          // Cancel first, so that a run whose QEMU dies from the kill below
          // is seen as interrupted, not as a guest that crashed.
          handler(number)
          QemuProcessRegistry.killAll()
        } else {
          QemuProcessRegistry.killAll()
          FileHandle.standardError.write(Data("\nsecond interrupt: exiting now\n".utf8))
          Foundation.exit(128 + number)
        }
      }
      source.resume()
      sources.append(source)
    }
  }
}
