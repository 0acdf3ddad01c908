import Foundation
import Testing

@testable import Harness

/// `--shard i/n` and `runner merge`.
@Suite("Sharding")
struct ShardingTests {
  static func cells(_ count: Int) -> [MatrixCell] {
    (0..<count).map { index in
      MatrixCell(
        guest: "g\(index)",
        settings: LaunchSettings(
          architecture: .x86_64, accelerator: index % 3 == 0 ? .kvm : .tcg, cpus: 1 + index % 4),
        groups: [])
    }
  }

  @Test(arguments: [1, 2, 3, 7])
  func shardsPartitionTheCellsInMatrixOrder(count: Int) {
    let cells = Self.cells(20)
    let shards = (1...count).map { Sharding.shard(cells, index: $0, of: count) }
    #expect(shards.flatMap { $0 }.map(\.id).sorted() == cells.map(\.id).sorted(), "every cell once")
    for shard in shards {
      let positions = shard.map { cell in cells.firstIndex { $0.id == cell.id }! }
      #expect(positions == positions.sorted(), "matrix order within a shard")
    }
    #expect(shards.map { $0.map(\.id) } == (1...count).map { Sharding.shard(cells, index: $0, of: count).map(\.id) })
  }

  @Test func timesBalanceTheShards() {
    let cells = Self.cells(6)
    // One long cell: it gets a shard of its own.
    let times = Dictionary(uniqueKeysWithValues: cells.map { ($0.id, $0.guest == "g4" ? 100.0 : 1.0) })
    let first = Sharding.shard(cells, index: 1, of: 2, times: times)
    let second = Sharding.shard(cells, index: 2, of: 2, times: times)
    #expect(first.map(\.guest) == ["g4"])
    #expect(second.count == 5)
  }

  /// Two shards of a real matrix, merged, equal the single run: same cells
  /// in the same order, same verdicts and checks, the same report files.
  @Test func mergedShardsEqualASingleRun() async throws {
    try await RunnerBinary.prebuild(["selftest", "core_semantics"])
    let dir = try RunnerBinary.scratch(
      config: "[defaults]\naccel = tcg\narch = x86_64 s390x\n[selftest]\n[core_semantics]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let config = ["--config", dir + "/guests.cfg"]
    let single = try await RunnerBinary.run(config + ["--report-dir", dir + "/single"])
    #expect(single.status == 0, "\(single.stdout)")
    for index in 1...2 {
      let shard = try await RunnerBinary.run(config + ["--shard", "\(index)/2", "--report-dir", dir + "/s\(index)"])
      #expect(shard.status == 0, "\(shard.stdout)\(shard.stderr)")
    }
    let merge = try await RunnerBinary.run([
      "merge", dir + "/s1", dir + "/s2", "--config", dir + "/guests.cfg", "--report-dir", dir + "/merged",
    ])
    #expect(merge.status == 0, "\(merge.stdout)\(merge.stderr)")
    let a = try RunComparison.load(dir + "/single")
    let b = try RunComparison.load(dir + "/merged")
    #expect(a.cells.map(\.id) == b.cells.map(\.id))
    #expect(a.cells.map(\.verdict) == b.cells.map(\.verdict))
    // The same checks with the same outcomes (guest times differ per boot).
    func outcomes(_ run: ResultsDocument) -> [[String]] {
      run.cells.map { $0.checks.map { "\($0.section) › \($0.name): \($0.outcome) @\($0.line ?? 0)" } }
    }
    #expect(outcomes(a) == outcomes(b))
    #expect(a.summary.cells == 4 && b.summary == a.summary.with(durationSeconds: b.summary.durationSeconds))
    let files = { (run: String) in
      Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/" + run).filter { !$0.hasPrefix(".") })
    }
    #expect(try files("single") == files("merged"))
    let twice = try await RunnerBinary.run(["merge", dir + "/s1", dir + "/s1", "--report-dir", dir + "/m2"])
    #expect(twice.status == 2 && twice.stderr.contains("is in both"))
  }
}

extension ResultsDocument.Summary {
  func with(durationSeconds: Double) -> Self {
    var copy = self
    copy.durationSeconds = durationSeconds
    return copy
  }
}
