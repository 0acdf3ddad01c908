import Foundation
import Synchronization

@testable import Harness

/// One step of a fake machine's life.
enum FakeStep: Sendable {
  /// Writes text to the console.
  case write(String)
  /// Writes `count` bytes of `byte` in chunks of 4 KiB (a flood).
  case flood(count: Int)
  /// Waits.
  case wait(Duration)
  /// Stops the machine by itself.
  case stop(MachineStop)
  /// Does nothing more until destroyed.
  case hang
}

/// What a fake machine does: its steps, and optionally a console log that
/// its backend hands over at the end.
struct FakeScript: Sendable {
  var steps: [FakeStep]
  var consoleLog: [UInt8]? = nil
}

/// What the fake backend saw, across all its machines.
final class FakeLedger: Sendable {
  struct State {
    var created: [String] = []
    var started: [String] = []
    var destroyed: [String] = []
    var running = 0
    var peak = 0
    var controlCalls = 0
  }
  let state = Mutex(State())
  var snapshot: State { state.withLock { $0 } }
}

/// A backend without QEMU: machines follow a script chosen per request, so
/// the engine, the judge and the scheduler are tested in milliseconds.
struct FakeBackend: MachineBackend {
  var host: HostKey = .local
  var ledger = FakeLedger()
  /// vCPU positions the control channel reports (nil: no control channel).
  var positions: [VcpuPosition]? = nil
  var script: @Sendable (MachineRequest) -> FakeScript

  func create(_ request: MachineRequest) async throws -> any BackendMachine {
    let name = request.guest + "|" + request.settings.guestArguments.joined(separator: " ")
    ledger.state.withLock { $0.created.append(name) }
    return FakeMachine(name: name, script: script(request), ledger: ledger, positions: positions)
  }
}

final class FakeMachine: BackendMachine {
  let events: AsyncStream<MachineEvent>
  private let feed: AsyncStream<MachineEvent>.Continuation
  let name: String
  let script: FakeScript
  let ledger: FakeLedger
  let positions: [VcpuPosition]?
  private let state = Mutex<(task: Task<Void, Never>?, gone: Bool)>((nil, false))

  init(name: String, script: FakeScript, ledger: FakeLedger, positions: [VcpuPosition]?) {
    (events, feed) = AsyncStream.makeStream(of: MachineEvent.self)
    self.name = name
    self.script = script
    self.ledger = ledger
    self.positions = positions
  }

  var control: (any MachineControl)? { positions.map { FakeControl(positions: $0, ledger: ledger) } }
  var drainAfterStop: Duration { .zero }

  func start() async throws -> Int32? {
    ledger.state.withLock { state in
      state.started.append(name)
      state.running += 1
      state.peak = max(state.peak, state.running)
    }
    let (feed, steps) = (feed, script.steps)
    let task = Task { [self] in
      for step in steps {
        if Task.isCancelled { return }
        switch step {
        case .write(let text): feed.yield(.console(Array(text.utf8)))
        case .flood(let count):
          let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 4096)
          for _ in 0..<(count / 4096) where !Task.isCancelled { feed.yield(.console(chunk)) }
        case .wait(let duration): try? await Task.sleep(for: duration)
        case .stop(let stop):
          guard end() else { return }
          feed.yield(.consoleEnded)
          feed.yield(.stopped(stop))
          feed.finish()
          return
        case .hang:
          try? await Task.sleep(for: .seconds(3600))
        }
      }
    }
    state.withLock { $0.task = task }
    return 4242
  }

  /// Marks the machine gone; false when it was already.
  private func end() -> Bool {
    let first = state.withLock { state -> Bool in
      if state.gone { return false }
      state.gone = true
      return true
    }
    if first { ledger.state.withLock { $0.running -= 1 } }
    return first
  }

  func destroy() async {
    guard end() else { return }
    ledger.state.withLock { $0.destroyed.append(name) }
    state.withLock { $0.task }?.cancel()
    feed.yield(.stopped(.signaled(SIGKILL)))
    feed.finish()
  }

  func finish(_ run: EngineSummary) async -> MachineReport {
    MachineReport(
      details: .other(name: "fake", remarks: ["fake machine \(name)"]),
      consoleLog: script.consoleLog)
  }
}

struct FakeControl: MachineControl {
  var positions: [VcpuPosition]
  var ledger: FakeLedger

  func execute(_ command: String, arguments: String?) async throws -> String { "{}" }

  func triage(architecture: Architecture) async -> TriageCapture {
    ledger.state.withLock { $0.controlCalls += 1 }
    return TriageCapture(positions: positions, transcript: ["-> stop", "<- {}"])
  }
}

/// KTAP text a guest writes.
enum FakeGuest {
  /// A whole run: one test per entry (its one check passes or fails) and
  /// the exit line (status 0 when all pass, else 1).
  static func ktap(_ tests: [(String, Bool)], guest: String = "fake") -> String {
    var lines = ["KTAP version 1", "# guest: \(guest)", "1..\(tests.count)"]
    for (index, (name, ok)) in tests.enumerated() {
      lines += [
        "    KTAP version 1", "    # Subtest: \(name)",
        "    \(ok ? "ok" : "not ok") 1 check # @Fake/Fake.swift:\(10 + index)",
        "\(ok ? "ok" : "not ok") \(index + 1) \(name)",
      ]
    }
    let failed = tests.filter { !$0.1 }.count
    lines.append("# Totals: pass:\(tests.count - failed) fail:\(failed) skip:0")
    lines.append("# EXIT: STATUS=\(failed == 0 ? 0 : 1)")
    return lines.joined(separator: "\n") + "\n"
  }

  /// The steps of a guest that writes `text` and stops as x86_64 QEMU does
  /// after an isa-debug-exit with `status`.
  static func exits(_ text: String, status: Int) -> [FakeStep] {
    [.write(text), .stop(.exited(QemuCommand.debugExitCode(forStatus: status)))]
  }
}
