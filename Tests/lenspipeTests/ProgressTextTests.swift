import Testing
@testable import lenspipe

/// The progress line's text and the bytes that draw it.
@Suite struct ProgressTextTests {
    /// What a terminal shows after `bytes`: `\r` moves to column 0, `ESC [K` erases to the end of
    /// the line, other characters overwrite.
    static func screen(_ bytes: String) -> String {
        var line: [Character] = [], col = 0
        var rest = Substring(bytes)
        while let c = rest.first {
            if rest.hasPrefix("\u{1B}[K") { line.removeSubrange(min(col, line.count)...); rest = rest.dropFirst(3); continue }
            rest = rest.dropFirst()
            if c == "\r" { col = 0; continue }
            if col < line.count { line[col] = c } else { line.append(c) }
            col += 1
        }
        return String(line)
    }

    @Test func durations() {
        #expect(ProgressText.duration(0) == "0s")
        #expect(ProgressText.duration(45) == "45s")
        #expect(ProgressText.duration(59.6) == "1m00s")
        #expect(ProgressText.duration(185) == "3m05s")
        #expect(ProgressText.duration(3599) == "59m59s")
        #expect(ProgressText.duration(3720) == "1h02m")
        #expect(ProgressText.duration(100_000) == "27h46m")
        #expect(ProgressText.duration(.infinity) == "?")
        #expect(ProgressText.duration(.nan) == "?")
    }

    @Test func lineShowsRateAndAReadableETA() {
        #expect(ProgressText.line("inspect", done: 100, total: 10_000, elapsed: 10) == "inspect: 100/10000 (10/s, ETA 16m30s)")
        #expect(ProgressText.line("crop", done: 50, total: 100, elapsed: 1) == "crop: 50/100 (50/s, ETA 1s)")
        #expect(ProgressText.line("crop", done: 0, total: 100, elapsed: 0) == "crop: 0/100 (0/s, ETA 0s)")
    }

    @Test func aShortLineAfterALongOneLeavesNoJunk() {
        let long = ProgressText.line("preprocess", done: 1234, total: 100_000, elapsed: 1234)  // ETA 27h26m
        let short = ProgressText.line("preprocess", done: 99_999, total: 100_000, elapsed: 99_999)  // ETA 1s
        #expect(long == "preprocess: 1234/100000 (1/s, ETA 27h26m)")
        #expect(long.count > short.count)
        let bytes = ProgressText.frame(long, terminal: true) + ProgressText.frame(short, terminal: true)
        #expect(bytes == "\r" + long + "\u{1B}[K" + "\r" + short + "\u{1B}[K")
        #expect(Self.screen(bytes) == short)
        // Without the erase, the tail of the long line would stay on screen.
        #expect(Self.screen("\r" + long + "\r" + short) != short)
        #expect(ProgressText.frame(short, terminal: false) == short + "\n")
    }
}
