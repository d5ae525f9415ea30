"""D-GEX architectures: their names (job wildcards, method names), parameter count, and memory and runtime model.

rules/common.smk builds the grid and sizes training jobs with these; the trainer checks its device memory with them;
tables and figures parse method names with them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

LAYER_RANGE = (1, 10)
UNIT_RANGE = (1, 100_000)
DROPOUT_MAX = 0.9  # exclusive, as in the config schema
NAME_PATTERN = r"h\d+x\d+_d\d+"  # the {arch} wildcard
METHOD_PREFIX = "dgex_"  # a D-GEX method is dgex_<architecture name>, e.g. dgex_h3x9000_d25

# Job resources that cluster schedulers reserve (README, "Running on a cluster"), in MB and minutes.
TRAIN_BASE_MB = 3000  # Python, NumPy, TensorFlow (+ CUDA) of one training process
TRAIN_BASE_MIN = 10  # start-up, model selection, saving models and predictions
TRAIN_FLOPS = 2.0e12  # float32 FLOP/s assumed sustained by one GPU at batch size 200 (conservative)
RESOURCE_MARGIN = 1.3  # safety factor on every estimate


@dataclass(frozen=True)
class Architecture:
    """Hidden layers x units x dropout rate; the paper's grid is {1,2,3} x {3000,6000,9000} x {0,0.1,0.25}."""

    layers: int
    units: int
    dropout: float

    def __post_init__(self):
        if not (LAYER_RANGE[0] <= self.layers <= LAYER_RANGE[1]):
            raise ValueError(f"dgex.layers: hidden layer count {self.layers} is outside {list(LAYER_RANGE)}")
        if not (UNIT_RANGE[0] <= self.units <= UNIT_RANGE[1]):
            raise ValueError(f"dgex.units: hidden unit count {self.units} is outside {list(UNIT_RANGE)}")
        if not (0.0 <= self.dropout < DROPOUT_MAX):
            raise ValueError(f"dgex.dropout: rate {self.dropout} must be in [0, {DROPOUT_MAX})")
        if abs(self.dropout * 100 - round(self.dropout * 100)) > 1e-9:
            raise ValueError(f"dgex.dropout: {self.dropout} must be a whole percent (0.1, 0.25, ...): it names the "
                             f"job, e.g. _d25")

    @property
    def dropout_pct(self) -> int:
        """The dropout rate in percent, as names and tables show it."""
        return int(round(self.dropout * 100))

    @property
    def name(self) -> str:
        """Wildcard-safe name, e.g. h3x9000_d25 (dropout in percent)."""
        return f"h{self.layers}x{self.units}_d{self.dropout_pct:02d}"

    @property
    def method(self) -> str:
        """The method name of evaluations and tables, e.g. dgex_h3x9000_d25."""
        return METHOD_PREFIX + self.name

    @property
    def shape(self) -> str:
        """Layers x units, as the paper writes it: 3x9000."""
        return f"{self.layers}x{self.units}"

    @classmethod
    def parse(cls, name: str) -> "Architecture":
        """Inverse of `name`."""
        try:
            h, d = name[1:].split("_d")
            layers, units = h.split("x")
            return cls(int(layers), int(units), int(d) / 100.0)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"not an architecture name: {name!r} (expected like h1x3000_d10): {exc}") from exc

    @classmethod
    def from_method(cls, method: str) -> "Architecture | None":
        """The architecture of a D-GEX method name (dgex_h3x9000_d25), or None for any other method."""
        if not is_dgex(method):
            return None
        try:
            return cls.parse(method.removeprefix(METHOD_PREFIX))
        except ValueError:
            return None


def is_dgex(method: str) -> bool:
    """Whether a method name is a D-GEX architecture's."""
    return method.startswith(METHOD_PREFIX)


def grid(layers: list[int], units: list[int], dropouts: list[float]) -> list[Architecture]:
    """Every architecture of the configured grid (dgex.layers x dgex.units x dgex.dropout), in that order."""
    return [Architecture(n, u, d) for n in layers for u in units for d in dropouts]


def layer_sizes(n_in: int, n_out: int, arch: Architecture) -> list[int]:
    """Widths from the landmarks through the hidden layers to the targets."""
    return [n_in] + [arch.units] * arch.layers + [n_out]


def parameter_count(n_in: int, n_out: int, arch: Architecture) -> int:
    """Weights and biases of the network."""
    sizes = layer_sizes(n_in, n_out, arch)
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


# --------------------------------------------------------------------------- memory and runtime
def memory_estimate(n_in: int, n_out: int, arch: Architecture, batch_size: int, n_train: int, n_eval: int,
                    precision: str = "float32", eval_batch: int = 4096) -> dict[str, int]:
    """Bytes the training needs on its device, by item (the training and evaluation data stay on the device)."""
    P = parameter_count(n_in, n_out, arch)
    widths = layer_sizes(n_in, n_out, arch)[1:]
    half = precision != "float32"
    est = {
        "weights": 4 * P,
        "momentum": 4 * P,
        "gradients": 4 * P,
        # pre-activation, activation, dropout mask and gradient per layer for the batch (+ half copies)
        "activations": batch_size * sum(widths) * 4 * (4 + (1 if half else 0)),
        "training_data": 4 * n_train * (n_in + n_out),
        "evaluation": 4 * n_eval * (n_in + n_out) + 4 * eval_batch * (max(widths) + n_out) * 2,
    }
    if half:
        est["half_weights"] = 2 * P
    return est


def host_extra_bytes(n_in: int, n_out: int, arch: Architecture) -> int:
    """Host memory beside the device: the two best-model copies and one checkpoint buffer."""
    return 4 * parameter_count(n_in, n_out, arch) * 4


@dataclass(frozen=True)
class TrainingJob:
    """The sizes of one D-GEX training job (one architecture, one target part) that set its cluster resources."""

    arch: Architecture
    n_in: int  # landmarks
    n_out: int  # targets of the part
    n_train: int  # training profiles
    n_eval: int  # profiles evaluated every epoch (training monitor and evaluation splits)

    @property
    def n_params(self) -> int:
        return parameter_count(self.n_in, self.n_out, self.arch)

    def host_memory_mb(self, input_mb: float, attempt: int = 1) -> int:
        """Host memory: runtime, loaded matrices, device copies of its data, model state (grows with each retry)."""
        data = 2 * 4 * (self.n_train + self.n_eval) * (self.n_in + self.n_out)  # landmark/target copies in NumPy and TF
        model = 7 * 4 * self.n_params  # weights, momentum, gradients, two best models, checkpoint, save buffer
        need = TRAIN_BASE_MB + input_mb + (data + model) / 2**20
        return int(math.ceil(need * RESOURCE_MARGIN * attempt / 100) * 100)

    def runtime_min(self, epochs: int, attempt: int = 1) -> int:
        """Wall time: its epochs' SGD (6 FLOPs per parameter and profile) and evaluations (2 per parameter and profile)."""
        epoch_s = (6 * self.n_params * self.n_train + 2 * self.n_params * self.n_eval) / TRAIN_FLOPS
        minutes = TRAIN_BASE_MIN + epochs * epoch_s / 60
        return int(math.ceil(minutes * RESOURCE_MARGIN * attempt))
