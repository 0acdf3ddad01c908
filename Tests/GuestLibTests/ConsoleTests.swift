import GuestLib
import Testing

/// Bytes the test sink received (only this suite installs a sink).
nonisolated(unsafe) private var captured: [UInt8] = []

@Suite("Console", .serialized)
struct ConsoleTests {
  func capture(_ body: () -> Void) -> String {
    captured = []
    Console.sink = { captured.append($0) }
    defer { Console.sink = nil }
    body()
    return String(decoding: captured, as: UTF8.self)
  }

  @Test func crashRegistersComeEightToALineInFrameOrder() {
    let frame: [UInt64] = Array(0..<10).map { UInt64($0) * 0x11 }
    let text = capture {
      frame.withUnsafeBufferPointer { values in
        Console.writeCrashRegisters(" r0 r1  r2 r3 r4 r5 r6 r7 r8 r9 ", values.baseAddress!)
      }
    }
    let lines = text.split(separator: "\n").map(String.init)
    #expect(lines.count == 2)
    #expect(lines[0].hasPrefix("# CRASH: r0=0x0000000000000000 r1=0x0000000000000011 r2="))
    #expect(lines[0].split(separator: " ").count == 2 + 8)
    #expect(lines[1] == "# CRASH: r8=0x0000000000000088 r9=0x0000000000000099")
    #expect(text.hasSuffix("\n"))
  }

  @Test func noNamesWriteNothing() {
    let value: UInt64 = 1
    let text = capture { withUnsafePointer(to: value) { Console.writeCrashRegisters("  ", $0) } }
    #expect(text.isEmpty)
  }
}
