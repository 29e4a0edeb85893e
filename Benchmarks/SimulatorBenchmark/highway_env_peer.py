#!/usr/bin/env python3
"""highway-env peer for the simulator benchmark.

Runs highway-v0 with 50 vehicles on 4 lanes at a 15 Hz simulation frequency
(policy at 1 Hz, highway-env's default: one env step = 15 simulation steps),
always choosing IDLE, and prints one JSON object:
env steps per second, vehicle updates per second (vehicles on the road x
simulation steps), and the run length. Usage: highway_env_peer.py [seconds] [repeats]
"""
import json
import statistics
import sys
import time

try:
    import gymnasium as gym
    import highway_env  # noqa: F401  (registers the environments)
except ImportError as error:  # the Swift side reports the skip
    print(json.dumps({"error": f"highway-env not importable: {error}"}))
    sys.exit(0)


def measure(seconds):
    env = gym.make("highway-v0", config={
        "vehicles_count": 50,
        "lanes_count": 4,
        "simulation_frequency": 15,
        "policy_frequency": 1,
        "duration": 40,
        "offscreen_rendering": True,
    })
    env.reset(seed=0)
    idle = 1  # DiscreteMetaAction: 0 LANE_LEFT, 1 IDLE, 2 LANE_RIGHT, 3 FASTER, 4 SLOWER
    steps = 0
    updates = 0
    episode = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(idle)
        steps += 1
        updates += len(env.unwrapped.road.vehicles) * 15
        if terminated or truncated:
            episode += 1
            env.reset(seed=episode)
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed, updates / elapsed


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    runs = [measure(seconds) for _ in range(repeats)]
    print(json.dumps({
        "peer": "highway-env " + getattr(highway_env, "__version__", "?"),
        "env_steps_per_second": statistics.median(r[0] for r in runs),
        "vehicle_updates_per_second": statistics.median(r[1] for r in runs),
        "seconds_per_run": seconds,
        "runs": repeats,
    }))


if __name__ == "__main__":
    main()
