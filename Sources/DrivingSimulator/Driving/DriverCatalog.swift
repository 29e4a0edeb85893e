/// The built-in drivers by name, for tools (`fleet-sim evaluate --driver teacher`).
public enum DriverCatalog {
    /// Names `make(_:)` understands.
    public static let names = ["teacher", "baseline", "idle"]

    /// A fresh driver, or nil for an unknown name.
    public static func make(_ name: String) -> (any Driver)? {
        switch name {
        case "teacher": TeacherDriver()
        case "baseline", "idm-mobil": BaselineDriver()
        case "idle": ConstantDriver(.idle)
        default: nil
        }
    }
}
