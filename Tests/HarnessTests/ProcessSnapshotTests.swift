import Foundation
import Testing

@testable import Harness

@Suite("Process snapshot")
struct ProcessSnapshotTests {
  @Test func statLinesWithSpacesAndParenthesesInTheName() throws {
    let stat = "4242 (CPU 0/KVM (x)) R 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0 1 0 100"
    let fields = try #require(ProcessSnapshot.parse(stat))
    #expect(fields.state == "R")
    #expect(fields.utime == 250 && fields.stime == 30)
    #expect(ProcessSnapshot.parse("garbage") == nil)
  }

  @Test func thisProcessHasThreads() {
    let threads = ProcessSnapshot.threads(of: getpid())
    #expect(!threads.isEmpty)
    #expect(threads.allSatisfy { $0.contains(" cpu=") && $0.contains(" wchan=") })
    #expect(ProcessSnapshot.threads(of: Int32.max).isEmpty)
  }
}
