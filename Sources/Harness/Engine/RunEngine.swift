import GuestLib

/// Runs one machine of any backend to its end: feeds its console to the
/// KTAP parser and the timeline, keeps the output limits, enforces the
/// deadline, the silence timeout and the exit grace, reads the vCPUs'
/// positions through the control channel before it kills a guest that
/// would not end (timeout, output limit, exit grace), destroys
/// the machine on cancellation, and returns a backend-neutral record.
///
/// Event-driven: the loop wakes for each console chunk or lifecycle event,
/// for cancellation, and for one timer armed at the next instant a limit
/// can pass (no polling).
public struct RunEngine: Sendable {
  /// After the guest's exit line, the machine gets this long to stop.
  public var exitGrace: Duration = .seconds(5)
  /// After the harness destroyed a machine, how long its event stream may
  /// take to finish before the engine stops waiting.
  public var destroyGrace: Duration = .seconds(10)
  /// How long one live migration the guest asked for may take, from its
  /// request line to the destination running (the deadline still applies;
  /// the silence timeout does not while a migration runs).
  public var migrationTimeout: Duration = .seconds(60)

  /// An engine with the default graces.
  public init() {}

  /// A note when a backend's console log and the console stream disagree
  /// (the stream should be a prefix of the log); nil when they are equal.
  public static func compareConsole(streamed: [UInt8], logged: [UInt8]) -> RunNote? {
    ConsoleCapture.compare(streamed: streamed, logged: logged)
  }

  /// The timeout that has passed at `now`, given the deadline and the
  /// instant the silence timeout passes (nil: it does not apply). When
  /// both have passed (the engine woke late: a busy host stalled it), the
  /// one that passed first names the timeout.
  static func passedLimit(
    now: ContinuousClock.Instant, deadline: ContinuousClock.Instant,
    silence: ContinuousClock.Instant?
  ) -> TimeoutKind? {
    if let silence, now >= silence, silence <= deadline { return .silence }
    return now >= deadline ? .deadline : nil
  }

  private enum Input: Sendable {
    case event(MachineEvent)
    case eventsEnded
    case tick
    case cancelled
    case migrated(Result<MigrationHop, MigrationFailure>)
  }

  /// Creates a machine on `backend`, runs it and returns the record.
  ///
  /// `onStart` gets the machine's host process id once it runs (when it
  /// has one); `onSerial` each console chunk as it arrives. When the
  /// calling task is cancelled before the guest's exit line, the machine
  /// is destroyed and the record says `interrupted`. Throws when the
  /// machine cannot be created or started.
  public func run(
    _ backend: any MachineBackend, request: MachineRequest,
    onStart: (@Sendable (Int32) -> Void)? = nil,
    onSerial: (@Sendable ([UInt8]) -> Void)? = nil
  ) async throws -> RunRecord {
    let machine = try await backend.create(request)
    let start = ContinuousClock.now
    let pid: Int32?
    do {
      pid = try await machine.start()
    } catch {
      await machine.destroy()
      throw error
    }
    if let pid { onStart?(pid) }
    let (inputs, feed) = AsyncStream.makeStream(of: Input.self)
    let engine = self
    // Unstructured: the loop must outlive a cancellation (it reacts to it
    // by destroying the machine and still returns the record).
    let loop = Task {
      await engine.loop(
        machine: machine, request: request, start: start, inputs: inputs, feed: feed,
        onSerial: onSerial)
    }
    return await withTaskCancellationHandler {
      await loop.value
    } onCancel: {
      feed.yield(.cancelled)
    }
  }

  private struct State {
    var capture: ConsoleCapture
    var kill: HarnessKill?
    var killedAt: ContinuousClock.Instant?
    var stop: MachineStop?
    var stopBeforeKill = false
    var stoppedAt: ContinuousClock.Instant?
    var consoleEnded = false
    var interrupted = false
    var timeout: TimeoutKind?
    var triage: TriageCapture?
    /// Requests taken from the parser, and the migrations among them.
    var requestsTaken = 0
    var migrationRequests = 0
    /// A migration hop is under way.
    var migrating = false
    var migrationStartedAt: ContinuousClock.Instant?
    var migrations: [MigrationHop] = []
    var migrationFailure: MigrationFailure?
    /// NMIs injected on request, and pokes that failed.
    var nmis = 0
    var pokeFailures: [String] = []
    /// Resets made on request, and the one that failed.
    var resets: [MachineReset] = []
    var resetFailure: ResetFailure?
  }

  private func loop(
    machine: any BackendMachine, request: MachineRequest, start: ContinuousClock.Instant,
    inputs: AsyncStream<Input>, feed: AsyncStream<Input>.Continuation,
    onSerial: (@Sendable ([UInt8]) -> Void)?
  ) async -> RunRecord {
    let settings = request.settings
    let forward = Task {
      for await event in machine.events { feed.yield(.event(event)) }
      feed.yield(.eventsEnded)
    }
    var state = State(capture: ConsoleCapture(limit: settings.outputLimitBytes, start: start))
    var timer: Task<Void, Never>?
    var armedFor: ContinuousClock.Instant?
    /// Opens when the hop under way (if any) has returned.
    var hopReturned: OneShot?
    let drain = machine.drainAfterStop

    func destroy(_ reason: HarnessKill) async {
      guard state.kill == nil else { return }
      state.kill = reason
      state.killedAt = .now
      if case .timeout(let kind) = reason { state.timeout = kind }
      // Before the harness kills a guest that would not end by itself (a
      // hang, a flood, an exit line without a machine stop): where every
      // vCPU is.
      if reason.triaged, let control = machine.control {
        state.triage = await control.triage(architecture: settings.architecture)
      }
      await machine.destroy()
    }

    /// The next instant a limit can pass, given the state.
    func nextDue() -> ContinuousClock.Instant? {
      if let killedAt = state.killedAt { return killedAt + destroyGrace }
      if let stoppedAt = state.stoppedAt { return stoppedAt + drain }
      if let exitLineAt = state.capture.exitLineAt { return exitLineAt + exitGrace }
      var due = start + settings.timeout
      // Silence is the guest's: it counts from its first byte. Before that
      // the firmware runs, bounded by the deadline alone; during a
      // migration the guest waits (the migration has its own limit).
      if let last = state.capture.lastOutputAt, !state.migrating {
        due = min(due, last + settings.silenceTimeout)
      }
      if state.migrating, let began = state.migrationStartedAt {
        due = min(due, began + migrationTimeout)
      }
      return due
    }

    /// Applies the limits now; true when the run is over.
    func evaluate() async -> Bool {
      let now = ContinuousClock.now
      if let stoppedAt = state.stoppedAt {
        return drain == .zero || state.consoleEnded || now - stoppedAt >= drain
      }
      if let killedAt = state.killedAt { return now - killedAt >= destroyGrace }
      if let exitLineAt = state.capture.exitLineAt {
        // The exit line came but the machine did not stop.
        if now - exitLineAt >= exitGrace { await destroy(.exitGrace(exitGrace)) }
        return false
      }
      if state.migrating, let began = state.migrationStartedAt, now - began >= migrationTimeout,
        now - start < settings.timeout
      {
        // The backend did not answer in time: the engine's own bound.
        let failure = MigrationFailure(
          hop: state.migrationRequests,
          reason: "no completion within the migration timeout (\(RunNote.milliseconds(migrationTimeout)))")
        state.migrationFailure = failure
        await destroy(.migrationFailed(failure))
      } else if let kind = Self.passedLimit(
        now: now, deadline: start + settings.timeout,
        silence: state.migrating ? nil : state.capture.lastOutputAt.map { $0 + settings.silenceTimeout })
      {
        await destroy(.timeout(kind))
      }
      return false
    }

    func arm() {
      guard let due = nextDue() else { return }
      if let armed = armedFor, armed <= due, timer != nil { return }
      timer?.cancel()
      armedFor = due
      timer = Task {
        try? await Task.sleep(until: due, clock: .continuous)
        if !Task.isCancelled { feed.yield(.tick) }
      }
    }

    /// Serves the guest's requests in order: an NMI and a reset at once, a
    /// migration one at a time (the next request waits until the hop is
    /// done).
    func takeRequests() async {
      let requests = state.capture.parser.result.requests
      while !state.migrating, state.kill == nil, state.stop == nil,
        state.requestsTaken < requests.count
      {
        let request = requests[state.requestsTaken]
        state.requestsTaken += 1
        switch request {
        case .nmi:
          do {
            guard let control = machine.control else { throw QmpError("no control channel") }
            _ = try await control.execute("inject-nmi", arguments: nil)
            state.nmis += 1
          } catch {
            state.pokeFailures.append("inject-nmi \(state.nmis + 1): \(error)")
          }
        case .migrate:
          await startMigration()
        case .reset:
          await resetMachine()
        }
      }
    }

    /// Resets the machine as the guest asked; a backend that cannot, or a
    /// reset that fails, ends the run with a `ResetFailure`.
    func resetMachine() async {
      let number = state.resets.count + 1
      guard settings.reset, let resettable = machine as? any ResettableMachine else {
        let failure = ResetFailure(
          number: number,
          reason: settings.reset
            ? "the guest asked for a reset, and this backend cannot reset a machine"
            : "the guest asked for a reset in a cell that does not reset (no harness.reset=yes)")
        state.resetFailure = failure
        await destroy(.resetFailed(failure))
        return
      }
      let began = ContinuousClock.now
      do {
        try await resettable.reset()
      } catch {
        let failure = ResetFailure(number: number, reason: "\(error)")
        state.resetFailure = failure
        await destroy(.resetFailed(failure))
        return
      }
      state.resets.append(
        MachineReset(
          number: number, atMilliseconds: QemuMachine.milliseconds(began - start),
          milliseconds: QemuMachine.milliseconds(.now - began)))
      // The guest starts over: its silence counts from the reset on.
      state.capture.lastOutputAt = .now
    }

    /// Starts the migration the guest asked for.
    func startMigration() async {
      state.migrationRequests += 1
      let hop = state.migrationRequests
      guard settings.migrate, let migratable = machine as? any MigratableMachine else {
        let failure = MigrationFailure(
          hop: hop,
          reason: settings.migrate
            ? "this backend cannot migrate a machine"
            : "the guest asked to migrate in a cell that does not migrate (no harness.migrate=yes)")
        state.migrationFailure = failure
        await destroy(.migrationFailed(failure))
        return
      }
      state.migrating = true
      state.migrationStartedAt = .now
      let timeout = migrationTimeout
      let returned = OneShot()
      hopReturned = returned
      Task {
        feed.yield(.migrated(await migratable.migrate(hop: hop, timeout: timeout)))
        returned.open()
      }
    }

    arm()
    inputLoop: for await input in inputs {
      switch input {
      case .event(.console(let bytes)):
        onSerial?(bytes)
        if state.capture.consume(bytes, at: .now) && state.kill == nil {
          // Past the output limit: the guest is flooding its console.
          await destroy(.outputLimit)
        }
        await takeRequests()
      case .event(.consoleEnded):
        state.consoleEnded = true
      case .event(.stopped(let stop)):
        if state.stop == nil {
          state.stop = stop
          state.stopBeforeKill = state.kill == nil
          state.stoppedAt = .now
        }
      case .eventsEnded:
        break inputLoop
      case .tick:
        armedFor = nil
        timer = nil
      case .migrated(.success(let hop)):
        state.migrating = false
        guard state.kill == nil && state.stop == nil else { break }
        state.migrations.append(hop)
        // The guest was waiting: its silence counts from the hop on.
        state.capture.lastOutputAt = .now
        do {
          try await (machine as? any MigratableMachine)?.writeConsoleInput([KTAP.requestDone])
        } catch {
          let failure = MigrationFailure(
            hop: hop.number, reason: "the destination's console input: \(error)")
          state.migrationFailure = failure
          await destroy(.migrationFailed(failure))
        }
        await takeRequests()
      case .migrated(.failure(let failure)):
        state.migrating = false
        guard state.kill == nil && state.stop == nil else { break }
        state.migrationFailure = failure
        await destroy(.migrationFailed(failure))
      case .cancelled:
        // Ctrl-C: the machine must not outlive the run. After the exit
        // line the machine is stopping on its own (the grace bounds it); a
        // kill now could replace its exit status with a signal.
        if state.kill == nil && state.stop == nil && state.capture.exitLineAt == nil {
          state.interrupted = true
          await destroy(.interrupted)
        }
      }
      if await evaluate() { break }
      arm()
    }
    timer?.cancel()
    forward.cancel()
    // Whatever ended the loop, the machine does not outlive the run (a
    // no-op for a machine that is gone).
    await machine.destroy()
    // A hop still under way (a destination starting, a conversation with a
    // source now gone) returns before the run does: it ends any destination
    // it started once it sees the machine destroyed. Bounded like a kill.
    if let hopReturned { _ = await hopReturned.wait(within: destroyGrace) }
    let end = ContinuousClock.now
    let summary = EngineSummary(
      start: start, kill: state.kill, stop: state.stop, firstOutputAt: state.capture.firstOutputAt,
      exitLineAt: state.capture.exitLineAt, stoppedAt: state.stoppedAt,
      machineEnd: state.stopBeforeKill ? state.stop?.machineEnd : nil)
    let report = await machine.finish(summary)
    var notes: [RunNote] = []
    if let triage = state.triage {
      if !triage.hostThreads.isEmpty { notes.append(.hostThreads(triage.hostThreads)) }
      if !triage.transcript.isEmpty { notes.append(.monitorTranscript(triage.transcript)) }
    }
    notes += report.notes
    if !state.migrations.isEmpty { notes.append(.migrations(state.migrations)) }
    if state.nmis > 0 || !state.pokeFailures.isEmpty {
      notes.append(.pokes(nmis: state.nmis, failures: state.pokeFailures))
    }
    if !state.resets.isEmpty { notes.append(.resets(state.resets)) }
    var output = state.capture.finalLog
    var stream = state.capture.parser.finish()
    if var logged = report.consoleLog {
      // The backend's log has what QEMU wrote until the end: keep it to the
      // limit, as the stream was.
      if state.capture.limitHit { logged = Array(logged.prefix(settings.outputLimitBytes)) }
      let streamed = state.capture.log
      if let note = ConsoleCapture.compare(streamed: streamed, logged: logged) { notes.append(note) }
      if logged.count >= streamed.count && logged != streamed {
        output = logged
        var parser = KTAPParser()
        parser.consume(bytes: logged)
        stream = parser.finish()
      }
    }
    var record = RunRecord(
      stream: stream, serialLog: String(decoding: output, as: UTF8.self), timeout: state.timeout,
      duration: end - start, backend: report.details)
    // Bytes only a console log had carry no arrival time.
    record.timeline = state.capture.timeline
    record.interrupted = state.interrupted
    if state.capture.limitHit { record.outputLimitReached = settings.outputLimitBytes }
    // Only a stop the machine made before the harness acted is its own end.
    record.machineEnd = summary.machineEnd
    record.vcpuPositions = state.triage?.positions ?? []
    record.notes = notes
    record.migrations = state.migrations
    record.migrationFailure = state.migrationFailure
    record.resets = state.resets
    record.resetFailure = state.resetFailure
    return record
  }
}
