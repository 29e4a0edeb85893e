#!/usr/bin/env python3
"""Flower peer of the federated-averaging benchmark.

The same workload as `fedavg-benchmark`, written the way a Flower user would
write it: Flower's simulation engine (Ray backend, one CPU per client, two
CPUs in all), a ServerApp running `flwr.serverapp.strategy.FedAvg` for R
rounds over C clients, and a ClientApp that loads the global state dict into
the PyTorch MoE policy of `Benchmarks/PolicyBenchmark/policy_peer.py`, takes
S Adam steps (lr 1e-3) of batch B on its own data and returns its state dict.
Every client trains every parameter and ships the whole model both ways,
which is what FedAvg in Flower does.

Bytes are counted as Flower puts a message on the wire: every message is
deflated into content-addressed objects (message, record dict, array record,
arrays, array chunks) and each node pulls or pushes that object tree, so a
message costs the sum of its objects' deflated sizes. The ndarray payload
alone (the `Array.data` bytes, numpy's serialization) is reported too.

Each client's data (S × B rows of 76 standard-normal features, labels from a
fixed random linear teacher, the features shifted per client so the split is
not IID) is made once per worker process from the client's seed, not inside
the timed rounds. An untimed warm-up of two rounds starts Ray's client actors
and counts the bytes (every round ships the same shapes; deflating each
message to count it would otherwise add to the time). Timed: R rounds inside
the ServerApp (`strategy.start`), repeated `--repetitions` times in the same
simulation with a fresh model; the median is reported. Prints one JSON object.
"""
import argparse
import functools
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
POLICY_PEER = os.path.join(HERE, "..", "PolicyBenchmark")
sys.path.insert(0, POLICY_PEER)
# Ray's workers start from this environment: they import the model module too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [POLICY_PEER, HERE, os.environ.get("PYTHONPATH")]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import flwr  # noqa: E402
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402
from flwr.serverapp import Grid, ServerApp  # noqa: E402
from flwr.serverapp.strategy import FedAvg  # noqa: E402
from flwr.simulation import run_simulation  # noqa: E402
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects  # noqa: E402

from policy_peer import MoEPolicy  # noqa: E402

PARAMETERS = 85_656


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--local-steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--inputs", type=int, default=76)
    parser.add_argument("--experts", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--top-k", type=int, default=2)
    parser.add_argument("--actions", type=int, default=6)
    parser.add_argument("--aux-weight", type=float, default=0.01)
    return parser.parse_args()


# Ray's workers import this module by name (functions defined in __main__ would
# be pickled by value, losing the per-worker data cache), so the options reach
# them through the environment rather than argv.
ARGS = argparse.Namespace(**json.loads(os.environ.get("FEDAVG_PEER_OPTIONS", "{}")))


def make_model():
    return MoEPolicy(ARGS.inputs, ARGS.experts, ARGS.hidden, ARGS.top_k, ARGS.actions, "gelu")


@functools.lru_cache(maxsize=None)
def client_data(partition):
    """Client `partition`'s rows, the same every round and in every worker."""
    generator = torch.Generator().manual_seed(1_000 + partition)
    rows = ARGS.local_steps * ARGS.batch
    shift = torch.randn(ARGS.inputs, generator=torch.Generator().manual_seed(partition))
    x = torch.randn(rows, ARGS.inputs, generator=generator) + shift
    teacher = torch.randn(ARGS.inputs, ARGS.actions, generator=torch.Generator().manual_seed(7))
    return x, (x @ teacher).argmax(dim=1)


def wire_bytes(message):
    """Bytes of the object tree a node pulls or pushes for `message`."""
    return sum(len(obj.deflate()) for obj in get_all_nested_objects(message).values())


def payload_bytes(record):
    return sum(len(array.data) for array in record["arrays"].values())


client_app = ClientApp()


@client_app.train()
def train(msg: Message, context: Context):
    torch.set_num_threads(1)
    x, y = client_data(int(context.node_config["partition-id"]))
    model = make_model()
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(x.shape[0])
    model.train()
    for step in range(ARGS.local_steps):
        rows = order[step * ARGS.batch:(step + 1) * ARGS.batch]
        optimizer.zero_grad(set_to_none=True)
        out, aux = model(x[rows])
        loss = F.cross_entropy(out, y[rows]) + ARGS.aux_weight * aux
        loss.backward()
        optimizer.step()
    content = RecordDict({
        "arrays": ArrayRecord(model.state_dict()),
        "metrics": MetricRecord({"num-examples": x.shape[0], "loss": loss.item()}),
    })
    return Message(content=content, reply_to=msg)


class CountingFedAvg(FedAvg):
    """FedAvg that records, per round, the bytes of every train message and
    reply (when `counting`) and the round's wall time."""

    def __init__(self, counting, **kwargs):
        super().__init__(**kwargs)
        self.counting = counting
        self.rounds = []

    def configure_train(self, server_round, arrays, config, grid):
        messages = list(super().configure_train(server_round, arrays, config, grid))
        record = {"clients": len(messages)}
        if self.counting:
            record["down_wire"] = sum(wire_bytes(m) for m in messages)
            record["down_payload"] = sum(payload_bytes(m.content) for m in messages)
        record["start"] = time.perf_counter()
        self.rounds.append(record)
        return messages

    def aggregate_train(self, server_round, replies):
        replies = [m for m in replies if not m.has_error()]
        record = self.rounds[-1]
        record["seconds"] = time.perf_counter() - record.pop("start")
        record["replies"] = len(replies)
        if self.counting:
            record["up_wire"] = sum(wire_bytes(m) for m in replies)
            record["up_payload"] = sum(payload_bytes(m.content) for m in replies)
        return super().aggregate_train(server_round, replies)


RESULT = {}
server_app = ServerApp()


def federated_averaging(grid, rounds, counting):
    """R rounds of FedAvg over every client from a fresh model: (seconds, strategy, result)."""
    torch.manual_seed(1)
    model = make_model()
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS, "not the default policy's size"
    strategy = CountingFedAvg(
        counting, fraction_train=1.0, fraction_evaluate=0.0,
        min_train_nodes=ARGS.clients, min_available_nodes=ARGS.clients)
    start = time.perf_counter()
    result = strategy.start(
        grid=grid, initial_arrays=ArrayRecord(model.state_dict()), num_rounds=rounds,
        train_config=ConfigRecord({"lr": 1e-3}))
    return time.perf_counter() - start, strategy, result


@server_app.main()
def main(grid: Grid, context: Context):
    # Untimed: starts Ray's client actors and counts the bytes of two rounds
    # (every round ships the same shapes). Counting deflates every message, so
    # it stays out of the timed repetitions.
    warmup, counted, _ = federated_averaging(grid, 2, counting=True)
    times, round_seconds, replies = [], [], []
    for _ in range(ARGS.repetitions):
        seconds, strategy, result = federated_averaging(grid, ARGS.rounds, counting=False)
        times.append(seconds)
        round_seconds.append([r["seconds"] for r in strategy.rounds])
        replies += [r["replies"] for r in strategy.rounds]
    RESULT.update(
        seconds=times, warmup_seconds=warmup, rounds=counted.rounds, round_seconds=round_seconds,
        replies=min(replies), final_loss=result.train_metrics_clientapp.get(ARGS.rounds, {}).get("loss"))


def run():
    total = time.perf_counter()
    run_simulation(
        server_app=server_app, client_app=client_app, num_supernodes=ARGS.clients,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": ARGS.cpus, "num_gpus": 0, "include_dashboard": False},
        })
    total = time.perf_counter() - total
    if "seconds" not in RESULT:
        sys.exit("the ServerApp did not finish (see the log above)")
    rounds = RESULT["rounds"]
    per_round = lambda key: statistics.mean(r[key] for r in rounds)  # noqa: E731
    print(json.dumps({
        "flwr": flwr.__version__,
        "torch": torch.__version__,
        "ray": __import__("ray").__version__,
        "parameters": PARAMETERS,
        "clients": ARGS.clients, "rounds": ARGS.rounds, "local_steps": ARGS.local_steps, "batch": ARGS.batch,
        "seconds_median": statistics.median(RESULT["seconds"]),
        "seconds": RESULT["seconds"],
        "simulation_seconds": total,
        "warmup_seconds": RESULT["warmup_seconds"],
        "round_seconds": RESULT["round_seconds"],
        "bytes_up_per_round": per_round("up_wire"),
        "bytes_down_per_round": per_round("down_wire"),
        "payload_up_per_round": per_round("up_payload"),
        "payload_down_per_round": per_round("down_payload"),
        "fewest_replies_in_a_timed_round": RESULT["replies"],
        "final_loss": RESULT["final_loss"],
    }))


if __name__ == "__main__":
    os.environ["FEDAVG_PEER_OPTIONS"] = json.dumps(vars(parse()))
    import flower_peer  # this file again, under its module name (see ARGS)

    flower_peer.run()
