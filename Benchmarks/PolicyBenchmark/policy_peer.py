#!/usr/bin/env python3
"""PyTorch peer of the policy benchmark.

The same sparse mixture-of-experts policy as Swift's MoEPolicy, written the way
a PyTorch user would: router nn.Linear -> softmax -> topk, renormalized gates,
index-based dispatch (each expert runs on exactly the rows routed to it, results
index_add_-ed back), Switch-Transformer load-balancing loss, torch.optim.Adam.
Batch-1 inference runs under torch.inference_mode and evaluates only the top-k
experts. Prints one JSON object.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Expert(nn.Module):
    def __init__(self, inputs, hidden, actions, activation):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc2 = nn.Linear(hidden, actions)
        self.act = {"gelu": nn.GELU(), "relu": nn.ReLU(), "tanh": nn.Tanh()}[activation]

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class MoEPolicy(nn.Module):
    def __init__(self, inputs, experts, hidden, top_k, actions, activation):
        super().__init__()
        self.router = nn.Linear(inputs, experts)
        self.experts = nn.ModuleList(Expert(inputs, hidden, actions, activation) for _ in range(experts))
        self.top_k = top_k
        self.actions = actions

    def gates(self, x):
        probs = F.softmax(self.router(x), dim=-1)
        top_p, top_i = probs.topk(self.top_k, dim=-1)
        if self.top_k > 1:
            top_p = top_p / top_p.sum(dim=-1, keepdim=True)
        return probs, top_p, top_i

    def forward(self, x):
        batch = x.shape[0]
        probs, gates, chosen = self.gates(x)
        flat_expert = chosen.reshape(-1)
        flat_gate = gates.reshape(-1, 1)
        flat_sample = torch.arange(batch).repeat_interleave(self.top_k)
        out = x.new_zeros(batch, self.actions)
        for e, expert in enumerate(self.experts):
            slots = (flat_expert == e).nonzero(as_tuple=True)[0]
            if slots.numel() == 0:
                continue
            rows = flat_sample[slots]
            out.index_add_(0, rows, expert(x[rows]) * flat_gate[slots])
        load = torch.bincount(flat_expert, minlength=len(self.experts)).float() / flat_expert.numel()
        aux = len(self.experts) * (load * probs.mean(dim=0)).sum()
        return out, aux

    def act(self, x):
        """Batch-1 inference: only the chosen experts run."""
        _, gates, chosen = self.gates(x)
        out = None
        for slot in range(self.top_k):
            y = self.experts[int(chosen[0, slot])](x) * gates[0, slot]
            out = y if out is None else out + y
        return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--experts", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--top-k", type=int, default=2)
    parser.add_argument("--actions", type=int, default=6)
    parser.add_argument("--activation", default="gelu")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--latency-calls", type=int, default=5000)
    parser.add_argument("--aux-weight", type=float, default=0.01)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = MoEPolicy(args.inputs, args.experts, args.hidden, args.top_k, args.actions, args.activation)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [(torch.randn(args.batch, args.inputs), torch.randint(0, args.actions, (args.batch,))) for _ in range(8)]

    def step(i):
        x, y = batches[i % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        out, aux = model(x)
        loss = F.cross_entropy(out, y) + args.aux_weight * aux
        loss.backward()
        optimizer.step()

    for i in range(args.warmup):
        step(i)
    rates = []
    for _ in range(args.trials):
        start = time.perf_counter()
        for i in range(args.steps):
            step(i)
        rates.append(args.steps / (time.perf_counter() - start))

    observations = [torch.randn(1, args.inputs) for _ in range(64)]
    latencies = []
    with torch.inference_mode():
        for i in range(200):
            model.act(observations[i % 64])
        for i in range(args.latency_calls):
            x = observations[i % 64]
            start = time.perf_counter_ns()
            model.act(x)
            latencies.append(time.perf_counter_ns() - start)

    print(json.dumps({
        "torch": torch.__version__,
        "threads": args.threads,
        "train_steps_per_second": statistics.median(rates),
        "train_trials": rates,
        "latency_median_us": statistics.median(latencies) / 1000,
    }))


if __name__ == "__main__":
    main()
