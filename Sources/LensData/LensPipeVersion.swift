/// The version of lenspipe, printed by `lenspipe --version` and recorded in what lenspipe writes
/// (`lenspipe.json`, checkpoint metadata), so an output says which tool made it.
public enum LensPipeVersion {
    public static let current = "0.5.0"
}
