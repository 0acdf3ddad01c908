import Foundation
import Harness
import Synchronization

/// The runner's output while cells run.
///
/// On a terminal (stdout is a TTY) one status line — cells running,
/// passed, failed, skipped per architecture, elapsed time, ETA — is
/// redrawn in place, and finished cells are printed as lines above it.
/// Otherwise (CI logs, pipes) every finished cell is one plain line and no
/// escape code is written. All text it is given (cell lines, guest serial
/// logs with `--verbose`, build errors) goes through
/// `TerminalText.sanitized(_:keepingNewlines:)`: the only control
/// characters on its output are its own (line breaks and, on a terminal,
/// the status line's).
final class LiveConsole: Sendable {
  private struct State {
    var progress: RunProgress
    var statusShown = false
    var stopped = false
  }

  let isTerminal: Bool
  private let verbose: Bool
  private let start: ContinuousClock.Instant
  private let state: Mutex<State>
  private let lines: @Sendable (CellOutcome) -> [String]

  init(
    total: Int, isTerminal: Bool, verbose: Bool,
    lines: @escaping @Sendable (CellOutcome) -> [String]
  ) {
    self.isTerminal = isTerminal
    self.verbose = verbose
    self.lines = lines
    start = .now
    state = Mutex(State(progress: RunProgress(total: total)))
  }

  /// Whether standard output is a terminal.
  static var stdoutIsTerminal: Bool { isatty(1) == 1 }

  /// Redraws the status line twice a second until `stop` (terminal only).
  func startTicking() {
    guard isTerminal else { return }
    Task.detached { [self] in
      while true {
        try? await Task.sleep(for: .milliseconds(500))
        let go = state.withLock { state -> Bool in
          guard !state.stopped else { return false }
          write(redraw(&state, text: ""))
          return true
        }
        if !go { break }
      }
    }
  }

  /// Takes a scheduler event.
  func handle(_ event: SchedulerEvent) {
    state.withLock { state in
      state.progress.record(event)
      var text = ""
      switch event {
      case .cellFinished(let outcome):
        text = lines(outcome).joined(separator: "\n") + "\n"
        if verbose, let log = outcome.result?.serialLog, !log.isEmpty {
          text += log + (log.hasSuffix("\n") ? "" : "\n")
        }
      case .attemptFailed(_, let cell, let attempt, let result):
        text = "RETRY    \(cell.id)  attempt \(attempt) was \(result.verdict)"
          + (result.reason.isEmpty ? "" : " — \(result.reason)") + "\n"
      case .buildFinished(let guest, let architecture, let error?):
        text = "ERROR    building \(guest) for \(architecture) failed:\n\(error)\n"
      case .buildStarted, .buildFinished, .cellStarted:
        break
      }
      text = TerminalText.sanitized(text, keepingNewlines: true)
      if isTerminal {
        if !text.isEmpty || !state.statusShown { write(redraw(&state, text: text)) }
      } else if !text.isEmpty {
        write(text)
      }
    }
  }

  /// Removes the status line; nothing is drawn afterwards.
  func stop() {
    state.withLock { state in
      state.stopped = true
      if isTerminal && state.statusShown {
        write("\r\u{1B}[2K")
        state.statusShown = false
      }
    }
  }

  /// Prints text above the status line (or plainly), sanitized.
  func print(_ text: String) {
    let text = TerminalText.sanitized(text, keepingNewlines: true)
    state.withLock { state in
      if isTerminal && !state.stopped {
        write(redraw(&state, text: text + "\n"))
      } else {
        write(text + "\n")
      }
    }
  }

  private func redraw(_ state: inout State, text: String) -> String {
    guard !state.stopped else { return text }
    state.statusShown = true
    let line = state.progress.statusLine(
      elapsedSeconds: (ContinuousClock.now - start).seconds, width: Self.terminalWidth() - 1)
    return "\r\u{1B}[2K" + text + "\u{1B}[7m" + line + "\u{1B}[0m"
  }

  private func write(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
  }

  static func terminalWidth() -> Int {
    var size = winsize()
    if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 10 { return Int(size.ws_col) }
    return 100
  }
}
