extension VerdictJudge {
  /// The verdict of a cell whose expected outcome is a guest panic
  /// (`expect = panic`): PASS only when the machine itself panicked — bare
  /// x86_64 QEMU exits with 0 (pvpanic under `-action panic=shutdown`; no
  /// isa-debug-exit status gives 0), bare s390x QEMU with 1 (a disabled
  /// wait under `-action panic=exit-failure`), libvirt reports CRASHED —
  /// with no crash record, no exit line and no failed check. The limits,
  /// a migration or reset failure and timeouts read as in any cell.
  public static func judgePanic(_ run: RunRecord, architecture: Architecture) -> (Verdict, String) {
    let stream = run.stream
    if run.outputLimitReached != nil || run.timeout != nil || run.migrationFailure != nil
      || run.resetFailure != nil
    {
      let (verdict, reason) = judge(run, architecture: architecture)
      return (verdict, reason + " (the cell expected a guest panic)")
    }
    if stream.crash != nil {
      let (verdict, reason) = judge(run, architecture: architecture)
      return (verdict, reason + " (the cell expected a guest panic, not an exception)")
    }
    if let status = stream.exitStatus {
      return (.failed, "the cell expected a guest panic, but the guest wrote its exit line (status \(status))")
    }
    let panicked: Bool
    switch run.machineEnd {
    case .panicked: panicked = true
    case .exited(let code): panicked = code == (architecture == .x86_64 ? 0 : 1)
    case .poweredOff, nil: panicked = false
    }
    guard panicked else {
      let ended = run.machineEnd.map { "\($0)" } ?? "the harness ended the machine"
      return (.failed, "the cell expected a guest panic; the machine did not panic (\(ended))")
    }
    if !stream.sawHeader { return (.protocolError, "the guest panicked before its KTAP header") }
    if !stream.protocolErrors.isEmpty {
      return (.protocolError, stream.protocolErrors.joined(separator: "; "))
    }
    let failures = failureReasons(stream.sections.filter { $0.reportedOK != nil }, xpassAllowed: false)
    let open = stream.sections.filter { $0.reportedOK == nil }.flatMap(\.checks)
      .filter { $0.outcome == .failed }.count
    if !failures.isEmpty || open > 0 {
      let reasons = failures + (open > 0 ? ["\(open) checks failed before the panic"] : [])
      return (.failed, reasons.joined(separator: "; "))
    }
    return (.passed, "")
  }
}
