/// Which of a checkpoint's two networks a command reads: the EMA teacher (DINO's and EsViT's choice
/// for evaluation, and lenspipe's default) or the student.
public enum NetworkChoice: String, Codable, Sendable, CaseIterable {
    case teacher, student

    /// That network's parameters in `trainer`.
    public func arena(of trainer: EsViTTrainer) -> ParameterArena { self == .student ? trainer.student : trainer.teacher }
}
