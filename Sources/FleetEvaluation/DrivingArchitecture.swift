import DrivingSimulator
public import PolicyNetwork

extension PolicyArchitecture {
    /// The fleet's driving policy: one input per observation feature
    /// (`Observation.size` = 109, layout version 2), 8 experts of hidden width 128, top-2, one
    /// logit per `MetaAction`, GELU.
    ///
    /// It is ``PolicyArchitecture/standard`` with the input width of the
    /// simulator's observation, so a policy reads the observation vector as it
    /// is, with no projection layer to keep in step with the sensor layout.
    public static let driving = try! PolicyArchitecture(
        inputs: Observation.size, experts: 8, hidden: 128, topK: 2, actions: MetaAction.count, activation: .gelu)

    /// Checks that a policy of this shape can drive: it reads an observation and emits a meta-action.
    ///
    /// - Throws: ``EvaluationError/Code/incompatiblePolicy`` naming the field that does not fit.
    public func validateForDriving() throws(EvaluationError) {
        guard inputs == Observation.size else {
            throw EvaluationError(
                .incompatiblePolicy, "The policy reads \(inputs) inputs; the simulator's observation has \(Observation.size).",
                context: ["inputs": "\(inputs)"])
        }
        guard actions == MetaAction.count else {
            throw EvaluationError(
                .incompatiblePolicy, "The policy has \(actions) outputs; a driver chooses among \(MetaAction.count) meta-actions.",
                context: ["actions": "\(actions)"])
        }
    }
}
