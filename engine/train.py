"""Train the network by full-batch gradient descent and record the run.

One epoch looks at all samples once: it computes the loss E and the mean
gradient at the current parameters, then takes one step

    parameter <- parameter - learning_rate * dE/d(parameter).

The loss recorded for epoch e is the loss *before* that epoch's step, and a
snapshot of epoch e holds the parameters before the step and the gradients at
them. No files are read or written here: the result is a `Run` value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.config import Settings
from engine.network import backward, forward, loss_and_gradient


class TrainingDiverged(Exception):
    """The loss or a parameter stopped being a finite number."""


@dataclass(frozen=True)
class Snapshot:
    """The state at the start of one epoch: its loss, parameters and gradients."""

    epoch: int
    loss: float
    params: tuple[float, ...]
    grads: tuple[float, ...]


@dataclass(frozen=True)
class Run:
    """A whole training run: the loss of every epoch, the snapshots, the end result."""

    settings: Settings
    param_names: tuple[str, ...]
    losses: tuple[float, ...]
    snapshots: tuple[Snapshot, ...]
    final_params: tuple[float, ...]
    final_loss: float

    @property
    def initial(self) -> Snapshot:
        """The snapshot of epoch 1: the starting parameters."""
        return self.snapshots[0]

    def named(self, values) -> dict[str, float]:
        """Pair each parameter name with its value."""
        return dict(zip(self.param_names, (float(v) for v in values)))


def snapshot_epochs(epochs: int, every: int) -> list[int]:
    """Epoch 1, every `every`-th epoch, and the last epoch."""
    return sorted({1, *range(every, epochs + 1, every), epochs})


def check_finite(loss: float, values: np.ndarray, epoch: int, settings: Settings) -> None:
    """Stop with a clear message once the loss or a parameter is not a finite number."""
    if not (math.isfinite(loss) and np.all(np.isfinite(values))):
        raise TrainingDiverged(
            f"train: the numbers stopped being finite at epoch {epoch}; "
            f"try a smaller train.learning_rate (now {settings.learning_rate})"
        )


def train(settings: Settings) -> Run:
    """Run gradient descent as the settings say and return every loss and snapshot."""
    return train_side_by_side([settings])[0]


def train_side_by_side(runs: list[Settings], tick=None) -> list[Run]:
    """Train networks that differ only in their starting values, all at once.

    The first network is the lesson's: if its numbers stop being finite the
    build stops. The others (random starts to compare with) may fail; their
    runs then end with a loss that is not a finite number. `tick(epoch)`, if
    given, hears of the progress every thousand epochs.
    """
    settings = runs[0]
    network = settings.network
    x, y = np.asarray(settings.points, dtype=float).T
    # One row of parameters per network: W and B get a leading axis, one entry each.
    W, B = network.unpack([[value for _, value in each.init] for each in runs])
    keep = set(snapshot_epochs(settings.epochs, settings.display_every))
    losses, snapshots = [], [[] for _ in runs]
    n = len(y)
    # Overflow is allowed here: the lesson's loss is checked every epoch and
    # check_finite says in words what went wrong; a random start may fail quietly.
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, settings.epochs + 1):
            a = forward(W, B, x)
            miss = y[:, None] - a[-1]                  # y_k - y-hat_k, one column per network
            loss = (miss * miss).sum(axis=(-2, -1)) / n  # E of each network, before the step
            if not math.isfinite(loss[0]):
                check_finite(float(loss[0]), loss[:1], epoch, settings)
            dW, dB, _ = backward(W, a, y)
            losses.append(loss)
            if epoch in keep:
                params, grads = network.pack(W, B), network.pack(dW, dB)
                for r in range(len(runs)):
                    snapshots[r].append(Snapshot(epoch, float(loss[r]), tuple(params[r].tolist()),
                                                 tuple(grads[r].tolist())))
            for l in range(1, network.depth + 1):    # one step downhill for every parameter
                W[l] = W[l] - settings.learning_rate * dW[l]
                B[l] = B[l] - settings.learning_rate * dB[l]
            if tick and (epoch % 1000 == 0 or epoch == settings.epochs):
                tick(epoch)
    final = network.pack(W, B)
    losses = np.array(losses)
    done = []
    for r, each in enumerate(runs):
        with np.errstate(over="ignore", invalid="ignore"):
            final_loss, _ = loss_and_gradient(network, final[r], settings.points)
        if r == 0:
            check_finite(final_loss, final[r], settings.epochs, settings)
        done.append(Run(each, network.param_names, tuple(losses[:, r].tolist()), tuple(snapshots[r]),
                        tuple(final[r].tolist()), final_loss))
    return done


def run_record(run: Run) -> dict:
    """The run as plain data, in the shape of `data/run.json`."""
    return {
        "settings": run.settings.as_dict(),
        "param_names": list(run.param_names),
        "loss": list(run.losses),
        "snapshots": [
            {"epoch": s.epoch, "loss": s.loss,
             "params": run.named(s.params), "grads": run.named(s.grads)}
            for s in run.snapshots
        ],
        "final": {"params": run.named(run.final_params), "loss": run.final_loss},
    }


# The shape of `run_record`'s answer, written as engine.cache.fits reads it.
RECORD = {"settings": dict, "param_names": [str], "loss": [float],
          "snapshots": [{"epoch": int, "loss": float, "params": {str: float}, "grads": {str: float}}],
          "final": {"params": {str: float}, "loss": float}}


def run_from_record(record: dict, settings: Settings) -> Run:
    """The run that `run_record` wrote, trained with `settings`; ValueError if it cannot be such a run.

    `record` must have the shape RECORD already: this checks what the settings fix.
    """
    names = settings.network.param_names
    if (record["settings"] != settings.as_dict() or record["param_names"] != list(names)
            or len(record["loss"]) != settings.epochs
            or [s["epoch"] for s in record["snapshots"]] != snapshot_epochs(settings.epochs, settings.display_every)
            or any(named.keys() != set(names) for s in record["snapshots"] for named in (s["params"], s["grads"]))
            or record["final"]["params"].keys() != set(names)):
        raise ValueError("not the record of a run with these settings")

    def values(named: dict[str, float]) -> tuple[float, ...]:
        """The parameters' values in the lesson's order."""
        return tuple(named[name] for name in names)

    snapshots = tuple(Snapshot(s["epoch"], s["loss"], values(s["params"]), values(s["grads"]))
                      for s in record["snapshots"])
    return Run(settings, names, tuple(record["loss"]), snapshots, values(record["final"]["params"]),
               record["final"]["loss"])
