import Foundation
import Testing
@testable import LensData
import _TestSupport

/// `.npz` archives written by numpy (`Tests/helpers/make_npz_fixtures.py`): `np.savez` (stored) and
/// `np.savez_compressed` (deflated), as a stack with labels and as one image per key, must read
/// back as numpy's float32 values; corrupt archives are errors naming the file.
@Suite struct NPZTests {
    // nonisolated(unsafe): written once by the lazy initialiser, read-only afterwards.
    nonisolated(unsafe) static let fixtures: (dir: String, list: [[String: Any]]) = {
        let dir = TestSupport.tempDir("npz")
        _ = try! TestSupport.pythonHelper("make_npz_fixtures.py", [dir])
        let data = try! Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json"))
        return (dir, try! JSONSerialization.jsonObject(with: data) as! [[String: Any]])
    }()

    static func path(_ name: String) -> String { fixtures.dir + "/" + name }

    @Test func everyArchiveMatchesNumpy() throws {
        var checked = 0
        for entry in Self.fixtures.list {
            let file = entry["file"] as! String
            let source = try SourceSpec(Self.path(file)).open()
            let npz = try #require(source as? NPZSource, "\(file)")
            let expected = entry["samples"] as! [[String: Any]]
            #expect(npz.count == expected.count, "\(file)")
            #expect((npz.stackKey != nil) == (entry["layout"] as! String == "stack"), "\(file)")
            for (i, e) in expected.enumerated() {
                let s = try npz.sample(at: i)
                #expect(s.id == e["id"] as! String)
                #expect(npz.id(at: i) == s.id)
                #expect(s.image.shape == e["shape"] as! [Int], "\(s.id)")
                #expect(s.image.pixels.map(\.bitPattern) == (e["bits"] as! [NSNumber]).map(\.uint32Value), "\(s.id)")
                #expect(s.label == (e["label"] as? Int), "\(s.id): label")
                #expect(npz.label(at: i) == s.label)
                #expect(s.target == (e["target"] as? Double), "\(s.id): target")
                checked += 1
            }
        }
        #expect(checked > 80)
    }

    @Test func storedAndCompressedMembersAreReadAsSuch() throws {
        let stored = try ZipArchive(path: Self.path("stack_stored.npz"))
        let compressed = try ZipArchive(path: Self.path("stack_compressed.npz"))
        #expect(stored.members.map(\.name) == ["x.npy", "y.npy", "targets.npy", "notes.npy"])
        #expect(stored.members.allSatisfy { $0.method == 0 })
        #expect(compressed.members.allSatisfy { $0.method == 8 })
        // The same array, either way.
        let a = try stored.contents(of: stored.member(named: "x.npy")!)
        let b = try compressed.contents(of: compressed.member(named: "x.npy")!)
        #expect(Array(a.buffer) == Array(b.buffer))
    }

    @Test func labelsAndClassNames() throws {
        let source = try NPZSource(path: Self.path("stack_stored.npz"), classNames: ["a", "b", "c"])
        #expect(source.classes == ["a", "b", "c"])
        #expect(source.summary.contains("stack x of 5 images"))
        // Keys named explicitly replace the defaults: `y` as regression targets, no labels.
        let renamed = try SourceSpec(Self.path("stack_stored.npz"), targets: "y").open()
        #expect(try renamed.sample(at: 1).target == 2)
        #expect(try renamed.sample(at: 1).label == 2, "y is still the default labels key")
    }

    @Test func mismatchedOrMissingCompanionsAreRefused() throws {
        #expect { try NPZSource(path: Self.path("stack_stored.npz"), targets: "notes") } throws: { error in
            let e = error as! LensDataError
            return e.path.hasSuffix("stack_stored.npz:notes") && e.message.contains("has 3 targets for 5 images")
        }
        #expect { try NPZSource(path: Self.path("stack_stored.npz"), labels: "targets") } throws: { error in
            (error as! LensDataError).message.contains("is not a class index")
        }
        #expect { try NPZSource(path: Self.path("stack_stored.npz"), labels: "nope") } throws: { error in
            (error as! LensDataError).message.contains("has no key nope")
        }
        #expect { try NPZSource(path: Self.path("keys_stored.npz"), labels: "first") } throws: { error in
            (error as! LensDataError).message.contains("no images key")
        }
    }

    @Test func aKeyHoldingAStackPointsAtTheStackLayout() throws {
        let source = try NPZSource(path: Self.path("keys_with_stack.npz"))
        #expect(source.count == 2)
        _ = try source.sample(at: 0)
        #expect { try source.sample(at: 1) } throws: { error in
            let e = error as! LensDataError
            return e.path.hasSuffix("keys_with_stack.npz:b") && e.message.contains("names it x")
        }
    }

    // MARK: - Corrupt archives

    static func mutated(_ name: String, as newName: String, _ change: (inout [UInt8]) -> Void) -> String {
        var bytes = [UInt8](try! Data(contentsOf: URL(fileURLWithPath: path(name))))
        change(&bytes)
        let dir = TestSupport.tempDir("npz-bad")
        return HostileFiles.write(bytes, in: dir, name: newName)
    }

    func expectRefused(_ file: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let s = try SourceSpec(file).open()
            for i in 0..<s.count { _ = try s.sample(at: i) }
            Issue.record("expected \(file) to be refused", sourceLocation: sourceLocation)
        } catch let e as LensDataError {
            #expect(e.path.hasPrefix(file), "path was \(e.path)", sourceLocation: sourceLocation)
            #expect(e.message.contains(text), "message was: \(e.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func truncatedArchivesAreRefused() {
        for cut in [30, 100, 600, 1200] {
            let file = Self.mutated("stack_compressed.npz", as: "cut\(cut).npz") { $0.removeLast($0.count - cut) }
            expectRefused(file, containing: "no end of central directory")
        }
        expectRefused(Self.mutated("stack_stored.npz", as: "empty.npz") { $0 = [] }, containing: "too short for a zip archive")
    }

    @Test func corruptDeflateDataIsRefused() throws {
        let archive = try ZipArchive(path: Self.path("big_compressed.npz"))
        let x = try #require(archive.member(named: "x.npy"))
        // Flip bytes in the middle of the deflate stream: zlib refuses it or the CRC does.
        let file = Self.mutated("big_compressed.npz", as: "flipped.npz") { b in
            for k in 0..<16 { b[x.dataOffset + x.compressedSize / 2 + k] ^= 0x5A }
        }
        do {
            _ = try SourceSpec(file).open()
            Issue.record("flipped deflate data opened")
        } catch let e as LensDataError {
            #expect(e.path == file + ":x.npy")
            #expect(e.message.contains("corrupt"), "message was: \(e.message)")
        }
    }

    @Test func directoryFieldsPointingOutsideTheFileAreRefused() throws {
        let archive = try ZipArchive(path: Self.path("keys_stored.npz"))
        let end = try ZipArchive.endRecord(archive.file.buffer, path: "")
        func le32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) { for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
        // The first entry's local header offset, then its compressed size, made to point past the directory.
        expectRefused(Self.mutated("keys_stored.npz", as: "offset.npz") { le32(&$0, end.directoryOffset + 42, 0x7FFF_0000) },
                      containing: "no local header")
        expectRefused(Self.mutated("keys_stored.npz", as: "size.npz") { le32(&$0, end.directoryOffset + 20, 0x7FFF_0000) },
                      containing: "past the start of the central directory")
        // The end record's directory offset past its own position.
        expectRefused(Self.mutated("keys_stored.npz", as: "dir.npz") { le32(&$0, end.recordOffset + 16, 0x7FFF_0000) },
                      containing: "does not end before the end record")
        // A declared inflated size deflate cannot reach.
        expectRefused(Self.mutated("keys_compressed.npz", as: "ratio.npz") { b in
            let e = try! ZipArchive.endRecord(b.withUnsafeBytes { UnsafeRawBufferPointer($0) }, path: "")
            le32(&b, e.directoryOffset + 24, 0x7000_0000)
        }, containing: "more than deflate can produce")
        // A member that is not a zip archive at all.
        expectRefused(HostileFiles.write(Array("not a zip file at all, but long enough".utf8), in: TestSupport.tempDir("npz-bad"), name: "text.npz"),
                      containing: "not a zip archive")
    }

    @Test func randomByteFlipsNeverCrash() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.path("keys_compressed.npz"))))
        let dir = TestSupport.tempDir("npz-fuzz")
        var rng = SplitMix(seed: 2024)
        var refused = 0
        for k in 0..<300 {
            var b = original
            for _ in 0..<(1 + Int(rng.next() % 4)) { b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1 + rng.next() % 255) }
            let file = HostileFiles.write(b, in: dir, name: "m\(k).npz")
            do {
                let s = try NPZSource(path: file)
                for i in 0..<s.count { _ = try? s.sample(at: i) }
            } catch is LensDataError {
                refused += 1
            }
        }
        #expect(refused > 0)
    }
}

/// A tiny deterministic generator for the fuzz loop.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
