import Testing

@testable import Harness

/// An exit the harness did not see is not an exit: the guest's exit line
/// must agree with how the machine itself ended.
@Suite("Machine end and output limits")
struct MachineEndTests {
  static let passing = """
    KTAP version 1
    # guest: demo
    1..1
        KTAP version 1
        # Subtest: only
        ok 1 one # @Demo/Demo.swift:10
    ok 1 only
    # Totals: pass:1 fail:0 skip:0
    # EXIT: STATUS=0

    """

  func run(_ text: String = passing, end: MachineEnd?, signal: Int32? = nil) -> RunRecord {
    var parser = KTAPParser()
    parser.consume(bytes: Array(text.utf8))
    var run = RunRecord(
      stream: parser.finish(), serialLog: text, stderr: "", exitCode: nil, signal: signal,
      timeout: nil, duration: .zero, command: [], processID: 0)
    run.machineEnd = end
    return run
  }

  @Test(arguments: Architecture.allCases)
  func consoleSuccessWithoutAMachineEndIsProtocolError(architecture: Architecture) {
    let (verdict, reason) = VerdictJudge.judge(
      run(end: nil, signal: 9), architecture: architecture)
    #expect(verdict == .protocolError)
    #expect(reason.contains("exit line printed but the machine never stopped"))
  }

  @Test func x86IsaDebugExitCodeMustMatch() {
    #expect(VerdictJudge.judge(run(end: .exited(1)), architecture: .x86_64).0 == .passed)
    #expect(VerdictJudge.judge(run(end: .exited(0)), architecture: .x86_64).0 == .protocolError)
    #expect(VerdictJudge.judge(run(end: .exited(3)), architecture: .x86_64).0 == .protocolError)
  }

  @Test func s390xStopIsZeroAndPanicIsOne() {
    #expect(VerdictJudge.judge(run(end: .exited(0)), architecture: .s390x).0 == .passed)
    let (verdict, reason) = VerdictJudge.judge(run(end: .exited(1)), architecture: .s390x)
    #expect(verdict == .protocolError)
    #expect(reason.contains("QEMU exit code 1 does not match exit status 0 (expected 0)"))
  }

  @Test(arguments: Architecture.allCases)
  func libvirtEventsMustMatch(architecture: Architecture) {
    #expect(VerdictJudge.judge(run(end: .poweredOff), architecture: architecture).0 == .passed)
    let (verdict, reason) = VerdictJudge.judge(run(end: .panicked), architecture: architecture)
    #expect(verdict == .protocolError)
    #expect(reason.contains("panicked"))
  }

  @Test func outputLimitIsProtocolErrorWhateverTheConsoleSays() {
    var flooded = run(end: .exited(1))
    flooded.outputLimitReached = 4096
    let (verdict, reason) = VerdictJudge.judge(flooded, architecture: .x86_64)
    #expect(verdict == .protocolError)
    #expect(reason.contains("output limit"))
  }

  @Test func endlessLineIsCutAndReported() {
    var parser = KTAPParser()
    let long = [UInt8](repeating: UInt8(ascii: "x"), count: LaunchSettings.maxLineBytes * 3)
    parser.consume(bytes: Array("KTAP version 1\n".utf8) + long + [10])
    let stream = parser.finish()
    #expect(
      stream.protocolErrors.contains {
        $0.contains("line longer than \(LaunchSettings.maxLineBytes) bytes")
          && $0.contains("\(LaunchSettings.maxLineBytes * 2) bytes cut")
      }, "\(stream.protocolErrors)")
  }
}

/// Hang triage's reading of QEMU's `info registers -a`.
@Suite("vCPU triage")
struct VcpuTriageTests {
  @Test func parsesX86AndS390xRegisterDumps() {
    let x86 = "\r\nCPU#0\r\nRAX=0 RBX=2\r\nRSI=0 RDI=0 RBP=0 RSP=000000000010fff0\r\nRIP=00000000001073f1 RFL=00000002 [-------] CPL=0\r\nCR0=80000013 CR2=0000000000000abc CR3=000000000010c000\r\nCPU#1\r\nEIP=0000fff0 EFL=00000002\r\n"
    let positions = VcpuTriage.parse(x86, architecture: .x86_64)
    #expect(positions.map(\.cpu) == [0, 1])
    #expect(positions.map(\.pc) == [0x1073f1, 0xfff0])
    #expect(positions[0].registers["CR2"] == "0000000000000abc")
    // RSP is printed on the line above RIP; it belongs to the same CPU.
    #expect(positions[0].registers["RSP"] == "000000000010fff0")
    #expect(positions[1].registers["RSP"] == nil)
    let s390x = "CPU#0\nPSW=mask 0000000180000000 addr 0000000000011a2e cc 00\nR00=0\nR12=1 R13=2 R14=00000000000114ba R15=3\nCPU#1\nPSW=mask 0000000000000000 addr 0000000000000000 cc 00\n"
    let z = VcpuTriage.parse(s390x, architecture: .s390x)
    #expect(z.map(\.pc) == [0x11a2e, 0])
    #expect(z[1].summary == "CPU 1 stuck at 0x0")
    // R14, a leaf function's return address, is kept for the caller.
    #expect(z.map(\.returnAddress) == [0x114ba, nil])
  }

  /// x86_64's return address of a leaf helper is the word at RSP, read as
  /// the stuck CPU sees memory.
  @Test func theStackWordIsReadAsThatCPU() {
    let position = VcpuPosition(cpu: 1, pc: 0x1000, registers: ["RSP": "0000000000152cd0"])
    #expect(VcpuTriage.stackWordCommand(position) == "x /1gx 0x0000000000152cd0")
    #expect(VcpuTriage.stackWordCommand(VcpuPosition(cpu: 0, pc: 0, registers: [:])) == nil)
    #expect(
      QmpClient.humanArguments("x /1gx 0x10", cpu: 1) == #"{"command-line": "x /1gx 0x10", "cpu-index": 1}"#)
    #expect(QmpClient.humanArguments("info registers -a") == #"{"command-line": "info registers -a"}"#)
    #expect(VcpuTriage.parseMemoryWord("0000000000152cd0: 0x0000000000109abc\r\n") == 0x109abc)
    #expect(VcpuTriage.parseMemoryWord("Cannot access memory\r\n") == nil)
  }

  /// In an assembly helper the summary names the caller's line and the
  /// helper; without a caller, the helper and the address.
  @Test func aHelpersCallerNamesTheGuestLine() {
    var position = VcpuPosition(cpu: 0, pc: 0x1affc, registers: [:], symbol: "s390_store_clock")
    #expect(position.summary == "CPU 0 stuck at 0x1affc in s390_store_clock")
    position.caller = [
      CrashFrame(address: 0x114b9, function: "waitForAck()", file: "guests/tests/smp/Smp.swift", line: 120, column: 3)
    ]
    #expect(position.summary == "CPU 0 stuck at guests/tests/smp/Smp.swift:120 in waitForAck() (in s390_store_clock)")
  }
}
