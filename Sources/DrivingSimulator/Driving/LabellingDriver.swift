/// One visited state and the teacher's action for it: a DAgger training sample.
public struct LabelledSample: Sendable, Equatable {
    /// What the driver saw (`Observation.size` floats).
    public var observation: [Float]
    /// What the teacher would do in the true state.
    public var label: MetaAction
    /// What was actually executed.
    public var executed: MetaAction
}

/// Drives with a mixture of student and teacher and records the teacher's label at every decision (DAgger).
///
/// Why: a student trained only on the teacher's own trajectories never sees
/// its own mistakes. DAgger (Ross, Gordon & Bagnell 2011) lets the student
/// drive — with probability β the teacher's action is executed instead, so
/// early rounds stay near sensible states — and labels every state the
/// mixture visits with the teacher's action. The coin is a seeded generator,
/// so a labelled rollout is reproducible.
public struct LabellingDriver<Student: Driver>: Driver {
    public var student: Student
    public let teacher: TeacherDriver
    /// Probability of executing the teacher's action instead of the student's.
    public let beta: Double
    /// The samples recorded so far.
    public private(set) var samples: [LabelledSample] = []
    var generator: SeededGenerator

    public var name: String { student.name + "+dagger" }

    public init(student: Student, teacher: TeacherDriver = TeacherDriver(), beta: Double, seed: UInt64) {
        self.student = student
        self.teacher = teacher
        self.beta = beta
        self.generator = SeededGenerator(seed: seed)
    }

    public mutating func decide(_ observation: Observation, context: DriverContext) -> MetaAction {
        // With rules, the label is the best action they let through for what the student saw.
        let label = teacher.decide(world: context.world, decisionSteps: context.decisionSteps, observation: observation)
        let proposed = student.decide(observation, context: context)
        let executed = beta > 0 && generator.unit() < beta ? label : proposed
        samples.append(LabelledSample(observation: observation.values, label: label, executed: executed))
        return executed
    }
}

extension LabellingDriver: Sendable where Student: Sendable {}
