import Testing
@testable import MiniTrain

/// The DINO heads read their tensors at offsets resolved once from the layout (as the backbone and the
/// pixel decoder do): each offset is where the arena keeps the tensor of that name, for one and two
/// decoder stages and with no decoder.
@Suite struct HeadOffsetTests {
    @Test(arguments: [(false, 1), (true, 1), (true, 2)])
    func headOffsetsAreTheArenasOwn(decoder: Bool, stages: Int) {
        var config = EsViTConfig.tiny
        config.pixelDecoder = decoder
        config.decoderStages = stages
        let network = EsViTNetwork(config: config)
        let arena = network.makeArena()
        for head in [network.head, network.headDense] {
            let expected = [("mlp.0.weight", head.w0), ("mlp.0.bias", head.b0), ("mlp.2.weight", head.w2), ("mlp.2.bias", head.b2),
                            ("mlp.4.weight", head.w4), ("mlp.4.bias", head.b4), ("last_layer.weight_g", head.g), ("last_layer.weight_v", head.v)]
            for (name, offset) in expected {
                #expect(arena.tensor(head.name + "." + name).offset == offset, "\(head.name).\(name)")
            }
            let last = arena.tensor(head.name + ".last_layer.weight_v")
            #expect(head.end == last.offset + last.count)
        }
        if let d = network.decoder { #expect(arena.tensor("mask_token").offset == d.maskToken) }
    }
}
