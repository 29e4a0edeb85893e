extension World {
    /// The latency expressed in observation frames.
    var latencyInFrames: Int {
        guard environment.latency > 0, observationPeriod > 0 else { return 0 }
        return min(Int((environment.latency / observationPeriod).rounded()), 20)
    }

    /// Writes what the ego's sensors deliver now into `observation` (see `Observation` for the layout).
    ///
    /// Draws noise and dropout from the world's own generator, so a replay from
    /// a snapshot sees the same frames. With latency the frame produced now is
    /// queued and the one produced `latency` ago is delivered.
    public mutating func observe(into observation: inout Observation) {
        let delay = latencyInFrames
        if delay == 0 {
            writeFrame(into: &observation.values)
            return
        }
        let size = Observation.size
        if latencyFrames.count != (delay + 1) * size {
            latencyFrames = [Float](repeating: 0, count: (delay + 1) * size)
            latencyFrameCount = 0
        }
        writeFrame(into: &observation.values)
        // Queue the fresh frame; deliver the oldest once the queue is full.
        if latencyFrameCount <= delay {
            let slot = latencyFrameCount * size
            for k in 0..<size { latencyFrames[slot + k] = observation.values[k] }
            latencyFrameCount += 1
        } else {
            latencyFrames.withUnsafeMutableBufferPointer { frames in
                for k in 0..<(delay * size) { frames[k] = frames[k + size] }
                for k in 0..<size { frames[delay * size + k] = observation.values[k] }
            }
        }
        for k in 0..<size { observation.values[k] = latencyFrames[k] }
    }

    /// Fills one fresh frame (no latency).
    mutating func writeFrame(into values: inout [Float]) {
        let ego = actors[0]
        let road = self.road
        let environment = self.environment
        @inline(__always) func norm(_ value: Double, _ scale: Double) -> Float {
            Float(clamp(value / scale, -1, 1))
        }
        let lane = max(ego.lane, 0)
        values[0] = norm(ego.speed, Observation.speedScale)
        values[1] = norm(ego.lateralSpeed, Observation.lateralSpeedScale)
        values[2] = norm(ego.heading, Observation.headingScale)
        values[3] = norm(ego.d - road.laneCentre(lane), road.laneWidth / 2)
        values[4] = norm(ego.acceleration, Observation.accelerationScale)
        values[5] = norm(controller.targetSpeed, Observation.speedScale)
        values[6] = norm(road.speedLimit(at: ego.s), Observation.speedScale)
        values[7] = Float(clamp(Double(controller.targetLane - lane), -1, 1))
        let l = Observation.laneOffset
        values[l] = road.isOpen(lane: lane + 1, at: ego.s) ? 1 : 0
        values[l + 1] = road.isOpen(lane: lane - 1, at: ego.s) ? 1 : 0
        let end = road.distanceToLaneEnd(lane: lane, from: ego.s)
        values[l + 2] = end.isFinite ? Float(min(end / Observation.distanceScale, 1)) : 1
        values[l + 3] = norm(road.curvature(at: ego.s) * Observation.curvatureScale, 1)
        values[l + 4] = norm(road.sharpestCurvature(from: ego.s, over: 150) * Observation.curvatureScale, 1)
        values[l + 5] = road.laneCount > 1 ? Float(Double(lane) / Double(road.laneCount - 1)) : 0
        let feltGrip = min(clamp(frictionEstimate, 0, 1.2) * standardGravity, World.egoMaxGrip)
        values[l + 7] = Float(min(road.advisorySpeed(from: ego.s, grip: feltGrip) / Observation.speedScale, 1))
        let e = Observation.environmentOffset
        values[e] = Float(clamp(frictionEstimate, 0, 1))
        values[e + 1] = Float(min(environment.visibility / Observation.distanceScale, 1))
        values[e + 2] = Float(min(environment.sensorNoise / Observation.noiseScale, 1))
        values[e + 3] = Float(clamp(environment.dropout, 0, 1))
        values[e + 4] = Float(min(environment.latency / Observation.latencyScale, 1))
        writeVehicles(into: &values)
        // Time-to-collision from what was observed (noise included), anticipating as a planner does.
        let ttc = Observation.corridorTimeToCollision(values, egoLength: ego.length, laneWidth: road.laneWidth, anticipating: true)
        values[l + 6] = ttc.isFinite ? Float(min(ttc / Observation.timeScale, 1)) : 1
    }

    /// The K nearest visible actors, noisy and with dropout, nearest first.
    mutating func writeVehicles(into values: inout [Float]) {
        let slots = Observation.vehicleSlots
        let features = Observation.vehicleFeatures
        let ego = actors[0]
        let range = min(environment.visibility, Environment.sensorRange)
        let noise = environment.sensorNoise
        let dropout = environment.dropout
        let occupancy = self.occupancy
        let laneCount = road.laneCount
        var generator = sensorGenerator
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: slots) { nearest in
            withUnsafeTemporaryAllocation(of: Double.self, capacity: slots) { distances in
                var found = 0
                actors.withUnsafeBufferPointer { actors in
                    @inline(__always) func consider(_ index: Int32) -> Bool {
                        let other = actors[Int(index)]
                        let ds = other.s - ego.s, dd = other.d - ego.d
                        if abs(ds) > range { return false }
                        let distance = (ds * ds + dd * dd).squareRoot()
                        if index == 0 || distance > range { return true }
                        if found == slots && distance >= distances[slots - 1] { return true }
                        var k = min(found, slots - 1)
                        while k > 0 && distances[k - 1] > distance {
                            distances[k] = distances[k - 1]
                            nearest[k] = nearest[k - 1]
                            k -= 1
                        }
                        distances[k] = distance
                        nearest[k] = index
                        if found < slots { found += 1 }
                        return true
                    }
                    for lane in -1..<laneCount {
                        let r = occupancy.range(of: lane)
                        let start = occupancy.firstPosition(in: lane, after: ego.s, actors: actors)
                        var p = start
                        var taken = 0
                        while p < r.upperBound && taken < slots && consider(occupancy.order[p]) {
                            p += 1
                            taken += 1
                        }
                        p = start - 1
                        taken = 0
                        while p >= r.lowerBound && taken < slots + 1 && consider(occupancy.order[p]) {
                            p -= 1
                            taken += 1
                        }
                    }
                }
                // The tracker's first frame: a car's perception has been running before
                // an episode (or a replayed capture) begins, so every object in range is
                // detected once, with noise, and nothing starts out dropped.
                let firstFrame = tracks.count != actors.count
                if firstFrame {
                    tracks = [SensorTrack?](repeating: nil, count: actors.count)
                }
                let now = time
                var row = 0
                for k in 0..<found {
                    let index = Int(nearest[k])
                    let other = actors[index]
                    var track: SensorTrack
                    var age = 0.0
                    if !firstFrame && dropout > 0 && generator.unit() < dropout {
                        // Missed in this frame: the tracker coasts on its last detection.
                        guard let last = tracks[index], now - last.time <= Observation.maximumTrackAge + 1e-9 else { continue }
                        age = now - last.time
                        track = last.predicted(after: age)
                    } else {
                        var x = other.s - ego.s, y = other.d - ego.d
                        var vx = other.longitudinalSpeed - ego.longitudinalSpeed
                        var acceleration = other.acceleration
                        if noise > 0 {
                            x += noise * generator.gaussian()
                            y += 0.25 * noise * generator.gaussian()
                            vx += 0.5 * noise * generator.gaussian()
                            acceleration += 0.5 * noise * generator.gaussian()
                        }
                        track = SensorTrack(
                            time: now, s: ego.s + x, d: ego.d + y, speed: vx + ego.longitudinalSpeed,
                            lateralSpeed: other.lateralSpeed, heading: other.heading, acceleration: acceleration,
                            length: other.length, width: other.width,
                            kind: other.kind == .pedestrian ? 1 : (other.kind.isStatic || other.crashed ? 0.5 : 0))
                        tracks[index] = track
                    }
                    let base = Observation.vehiclesOffset + row * features
                    values[base] = 1
                    values[base + 1] = Float(clamp((track.s - ego.s) / Observation.xScale, -1, 1))
                    values[base + 2] = Float(clamp((track.d - ego.d) / Observation.yScale, -1, 1))
                    values[base + 3] = Float(clamp((track.speed - ego.longitudinalSpeed) / Observation.speedScale, -1, 1))
                    values[base + 4] = Float(clamp((track.lateralSpeed - ego.lateralSpeed) / Observation.lateralSpeedScale, -1, 1))
                    values[base + 5] = Float(clamp(track.heading / Observation.headingScale, -1, 1))
                    values[base + 6] = track.kind
                    values[base + 7] = Float(clamp(track.length / Observation.lengthScale, 0, 1))
                    values[base + 8] = Float(clamp(track.width / Observation.widthScale, 0, 1))
                    values[base + 9] = Float(clamp(track.acceleration / Observation.accelerationScale, -1, 1))
                    values[base + 10] = Float(clamp(age / Observation.maximumTrackAge, 0, 1))
                    row += 1
                }
                for r in row..<slots {
                    let base = Observation.vehiclesOffset + r * features
                    for f in 0..<features { values[base + f] = 0 }
                }
            }
        }
        sensorGenerator = generator
    }
}
