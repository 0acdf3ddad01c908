/// Where the same guest, run under different accelerators (TCG and KVM) —
/// or, later, different QEMU builds — in one run, disagrees with itself:
/// the checks (and cell verdicts) whose outcome differs between cells that
/// differ only in that axis. Emulator and hypervisor bugs show exactly
/// there.
public struct Divergence: Codable, Sendable, Equatable {
  /// The cells compared: their key with the varying axis as `*`.
  public var cells: String
  /// The check key (`section › name`), or `(verdict)` for the cells'
  /// verdicts.
  public var check: String
  /// Outcome per cell id (`passed`, `failed`, `skipped`, `absent`, or the
  /// verdict).
  public var outcomes: [String: String]

  /// The divergences of `document` across the accelerator and across the
  /// QEMU build.
  public static func find(in document: ResultsDocument) -> [Divergence] {
    find(in: document, across: .accel) + find(in: document, across: .qemu)
  }

  /// The divergences of `document` across `axis`. Cells that were skipped as a whole (e.g. KVM
  /// unavailable) have nothing to compare and are left out.
  public static func find(in document: ResultsDocument, across axis: CellAxis)
    -> [Divergence]
  {
    var groups: [String: [ResultsDocument.Cell]] = [:]
    var order: [String] = []
    for cell in document.cells where cell.verdict != "SKIP" {
      let key = cell.key(ignoring: [axis])
      if groups[key] == nil { order.append(key) }
      groups[key, default: []].append(cell)
    }
    var result: [Divergence] = []
    for key in order {
      let cells = groups[key]!
      guard cells.count > 1 else { continue }
      let verdicts = Dictionary(cells.map { ($0.id, $0.verdict) }, uniquingKeysWith: { f, _ in f })
      if Set(verdicts.values).count > 1 {
        result.append(Divergence(cells: key, check: "(verdict)", outcomes: verdicts))
      }
      var checkOrder: [String] = []
      var outcomes: [String: [String: String]] = [:]
      for cell in cells {
        for (check, value) in cell.keyedChecks {
          if outcomes[check] == nil { checkOrder.append(check) }
          outcomes[check, default: [:]][cell.id] = value.outcome
        }
      }
      for check in checkOrder {
        var perCell = outcomes[check]!
        for cell in cells where perCell[cell.id] == nil { perCell[cell.id] = "absent" }
        if Set(perCell.values).count > 1 {
          result.append(Divergence(cells: key, check: check, outcomes: perCell))
        }
      }
    }
    return result
  }

  /// One line: `cells  check  id=outcome, id=outcome`.
  public var line: String {
    "\(cells)  \(check)  "
      + outcomes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
  }
}
