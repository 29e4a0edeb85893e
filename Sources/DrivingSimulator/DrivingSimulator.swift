enum DrivingSimulatorNamespace {}
