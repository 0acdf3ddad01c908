import Foundation
import Harness
import Synchronization
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("QMP client") struct QmpClientTests {
  /// A connect that fails (QEMU has not made its socket yet: the migration
  /// and triage code retry exactly this) must close its socket once. A
  /// second close(2) closes whatever another thread opened under the same
  /// number in between: in `swift test` that was swift-subprocess's pidfd,
  /// and the process died ("FileDescriptor … is already closed").
  @Test func aFailedConnectClosesItsSocketOnce() throws {
    let missing = FileManager.default.temporaryDirectory
      .appendingPathComponent("no-qmp-\(UUID().uuidString)").path
    let stop = Atomic<Bool>(false)
    let stolen = Atomic<Int>(0)
    let opened = Atomic<Int>(0)
    // A neighbour that keeps opening descriptors and checks they stay open
    // until it closes them itself.
    let neighbour = Thread {
      while !stop.load(ordering: .relaxed) {
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { continue }
        opened.add(1, ordering: .relaxed)
        for _ in 0..<200 where fcntl(fd, F_GETFD) < 0 {
          stolen.add(1, ordering: .relaxed)
          break
        }
        if close(fd) != 0 && errno == EBADF { stolen.add(1, ordering: .relaxed) }
      }
    }
    neighbour.start()
    var failures = 0
    for _ in 0..<3000 {
      do {
        _ = try QmpClient(path: missing, timeout: .seconds(1))
      } catch {
        failures += 1
      }
    }
    stop.store(true, ordering: .relaxed)
    while !neighbour.isFinished { usleep(1000) }
    #expect(failures == 3000, "every connect to a missing socket fails")
    #expect(opened.load(ordering: .relaxed) > 0, "the neighbour ran")
    #expect(stolen.load(ordering: .relaxed) == 0, "descriptors of another thread were closed")
  }
}
