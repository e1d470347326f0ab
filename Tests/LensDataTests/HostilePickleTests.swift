import Foundation
import Testing
@testable import LensData
import _TestSupport

/// Pickles built to break the reader rather than to run code: values nested 100,000 deep, memo
/// chains, lists that hold themselves. Each must end in a `LensDataError` (or a clean read), never
/// in a stack overflow while the values are freed or in an exponential walk.
///
/// A regression here crashes the test process (that is the bug); `HostileInputCLITests` runs the
/// same files through the binary in a child process, where a crash is reported as a failure.
@Suite struct HostilePickleTests {
    let dir = TestSupport.tempDir("pickle")

    @Test func tupleNestedAHundredThousandDeep() throws {
        let path = HostileFiles.write(HostileFiles.deepTuple(100_000), in: dir, name: "tuple1.npy")
        expectError(path, containing: "nest deeper than 1000")
    }

    @Test func listsNestedByMarkAndByAppend() throws {
        let byMark = HostileFiles.write(HostileFiles.deepListByMark(99_000), in: dir, name: "marks.npy")
        expectError(byMark, containing: "nest deeper than 1000")
        let byAppend = HostileFiles.write(HostileFiles.deepListByAppend(99_000), in: dir, name: "appends.npy")
        expectError(byAppend, containing: "nest deeper than 1000")
    }

    /// Lists nested through the memo, each appended to while it is still shallow, so no depth
    /// record sees the real depth (300,000): the load finishes, and freeing it must still be flat.
    @Test func memoChainThatHidesItsDepth() throws {
        let path = HostileFiles.write(HostileFiles.memoChain(300_000), in: dir, name: "memo.npy")
        expectError(path, containing: "no numeric array")
        let tuples = HostileFiles.write(HostileFiles.memoTupleChain(300_000), in: dir, name: "memo-tuples.npy")
        expectError(tuples, containing: "nest deeper than 1000")
    }

    /// A list holding itself 2,000 times, four levels down: visiting every path would take 2000^8
    /// steps; each list is visited once.
    @Test func selfReferencingListsAreWalkedOnce() throws {
        let path = HostileFiles.write(HostileFiles.selfReferencingList(copies: 2000), in: dir, name: "self.npy")
        let start = ContinuousClock.now
        expectError(path, containing: "no numeric array")
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    /// Right at the limit reads; one level more is refused.
    @Test func nestingLimitIsExact() throws {
        let ok = HostileFiles.write(HostileFiles.nestedImage(depth: StrictUnpickler.maxNesting), in: dir, name: "ok.npy")
        #expect(try NPYFile.readImage(path: ok).image.pixels == [0, 1, 2, 3])
        let deep = HostileFiles.write(HostileFiles.nestedImage(depth: StrictUnpickler.maxNesting + 1), in: dir, name: "deep.npy")
        expectError(deep, containing: "nest deeper than 1000")
    }

    func expectError(_ path: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try NPYFile.readImage(path: path)
            Issue.record("expected an error for \(path)", sourceLocation: sourceLocation)
        } catch let e as LensDataError {
            #expect(e.message.contains(text), "message was: \(e.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }
}
