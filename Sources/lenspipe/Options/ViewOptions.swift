import ArgumentParser
import Foundation
import PairSampler

/// The view recipe and its common overrides; shared by `preview` and `bench augment`.
struct ViewOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A view recipe JSON file (fields as in docs/views.md; unlisted fields keep their defaults).",
                               valueName: "recipe.json"))
    var recipe: String?

    @Option(help: "Side of the global views (default 64).")
    var globalSize: Int?

    @Option(help: "Side of the local views (default 32).")
    var localSize: Int?

    @Option(help: "Number of local views (default 4).")
    var localViews: Int?

    @Flag(help: "Turn rejection sampling off (plain random crops), to compare.")
    var noRejection = false

    func validate() throws {
        if let g = globalSize, !(2...4096).contains(g) { throw ValidationError("--global-size must be 2...4096") }
        if let l = localSize, !(2...4096).contains(l) { throw ValidationError("--local-size must be 2...4096") }
        if let n = localViews, !(0...64).contains(n) { throw ValidationError("--local-views must be 0...64") }
    }

    /// The recipe: defaults, then the file, then the flags.
    func resolve() throws -> ViewRecipe {
        var r = ViewRecipe()
        if let recipe {
            guard let data = FileManager.default.contents(atPath: recipe) else { throw ValidationError("cannot read recipe \(recipe)") }
            do { r = try JSONDecoder().decode(ViewRecipe.self, from: data) } catch {
                throw ValidationError("\(recipe): not a valid view recipe: \(error)")
            }
        }
        if let g = globalSize { for i in r.global.indices { r.global[i].size = g } }
        if let l = localSize { r.local.size = l }
        if let n = localViews { r.local.count = n }
        if noRejection { r.rejection = false }
        do { try r.validate() } catch { throw ValidationError("recipe: \(error)") }
        return r
    }
}
