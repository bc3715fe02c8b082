"""Type stubs of ebmc (the native module `ebmc._native`, re-exported)."""

import os
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
Array = npt.NDArray[np.float64]

class EbmcError(Exception):
    """A diagnostic of the compiler, or a failure of a run."""

    code: Optional[str]
    """The code of the first error, such as "E0101"; None for a run's failure."""
    rendered: str
    """The report as `ebmc check` prints it, without colour (also `str(error)`)."""

class Model:
    """A compiled model. Arguments named after variables take a value of the variable's
    declared shape, or a batch of them along a leading axis: one native call per batch."""

    @property
    def name(self) -> str: ...
    @property
    def variables(self) -> Dict[str, Tuple[str, str]]:
        """name → (role, type), in declaration order."""
    @property
    def seed(self) -> int:
        """The training seed: the `train` clause's, or the last `fit`'s."""
    def energy(self, **vars: ArrayLike) -> Union[float, Array]:
        """The energy at a point (every input, output and latent; params default to
        `weights`), or an array of one energy per row of a batch. Equal to `ebmc eval` to
        rounding (bit for bit when compiled with `strict=True`)."""
    def grad(self, **vars: ArrayLike) -> Dict[str, np.ndarray]:
        """The gradient of the energy with respect to every param and every real output and
        latent, as `ebmc eval` reports it (bit for bit when compiled with `strict=True`);
        batched when the point is."""
    def infer(self, **inputs: ArrayLike) -> Dict[str, np.ndarray]:
        """The model's inference at every input: each output and each latent of an `infer`
        group, in the data's units (`class`/`sign` values as integers)."""
    def sample(
        self,
        n: int,
        *,
        steps: Optional[int] = None,
        step: Optional[float] = None,
        seed: Optional[int] = None,
        **inputs: ArrayLike,
    ) -> Dict[str, np.ndarray]:
        """`n` samples from p ∝ exp(−βE) at the inputs (model units, as `energy`): shape
        (n, …), or (rows, n, …) for a batch. A model whose `infer` samples (`langevin`, `hmc`,
        `gibbs`) draws that group's variables with its compiled sampler, as `ebmc sample`
        does (`steps`, `step` override its steps or sweeps and its rate). Otherwise every
        output and latent: discrete ones exactly over every answer, real ones by `steps`
        (1000) steps of Langevin dynamics of size `step` (0.01); a model with both is
        refused."""
    def fit(
        self,
        data: Optional[Union[str, os.PathLike[str]]] = None,
        *,
        epochs: Optional[int] = None,
        seed: Optional[int] = None,
        **arrays: ArrayLike,
    ) -> List[float]:
        """Trains from fresh params as `ebmc run --seed SEED` does (bit for bit), on the
        model's `data`, another CSV file with the same columns, or arrays by variable name
        (all rows train). Returns the mean loss of each epoch."""
    @property
    def weights(self) -> Dict[str, np.ndarray]:
        """The params, name → array; assign a dict to replace some of them."""
    @weights.setter
    def weights(self, value: Dict[str, ArrayLike]) -> None: ...
    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Writes the params as `ebmc run --save` does."""
    def load(self, path: Union[str, os.PathLike[str]]) -> None:
        """Reads params written by `save` or `ebmc run --save`."""

def compile(
    source_or_path: Union[str, os.PathLike[str]],
    model: Optional[str] = None,
    *,
    strict: bool = False,
    **consts: int,
) -> Model:
    """Compiles source text, or a `.ebm` file (a path-like object, or a string naming an
    existing file or ending in `.ebm`). Keyword arguments bind consts of the source to whole
    numbers (`D=64` for `const D = features` or `const D = 1`); `features`, `targets` and
    `classes` consts not given are read from the model's `data` clause. `energy` and `grad`
    run the native code training runs; with `strict=True` they run `ebmc eval`'s strict code
    instead, its numbers bit for bit, slower. Diagnostics raise `EbmcError`."""
