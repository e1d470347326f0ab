import Foundation
import Testing
import _TestSupport

/// Issue 36, items 10 and 14: numbers on the command line that would overflow, allocate without end or
/// run forever are refused up front (exit 64, the argument named), before any file is read.
@Suite struct HostileNumbersTests {
    @Test(arguments: [
        (["train", "x", "-o", "y", "--epochs", "1e300"], "--epochs"), (["train", "x", "-o", "y", "--epochs", "inf"], "--epochs"),
        (["train", "x", "-o", "y", "--minutes", "inf"], "--minutes"), (["train", "x", "-o", "y", "--minutes", "1e300"], "--minutes"),
        (["finetune", "c", "s", "--task", "classify", "--image-size", "100000"], "--image-size"),
        (["finetune", "c", "s", "--task", "classify", "--epochs", "1e300"], "--epochs"),
        (["preview", "x", "-o", "p.png", "--global-size", "4096"], "M pixels"), (["preview", "x", "-o", "p.png", "--pairs", "100000"], "--pairs"),
        (["demo", "--count", "100000000"], "--count"),
        (["bench", "train", "--window", "0"], "window"), (["bench", "train", "--patch", "0"], "patch"), (["bench", "train", "--dim", "100000"], "dim"),
        (["bench", "train", "--batch", "1000000"], "--batch"), (["bench", "train", "--local-views", "100000"], "--local-views"),
        (["bench", "crop", "--size", "0"], "--size"), (["bench", "crop", "--size", "100000"], "--size"),
    ])
    func refusedUpFront(arguments: [String], names: String) throws {
        let r = try TestSupport.lenspipe(arguments, timeout: 30)
        #expect(r.status == 64, "\(arguments): exit \(r.status), \(r.stderr)")
        #expect(r.stderr.contains(names), "\(arguments): \(r.stderr)")
    }
}
