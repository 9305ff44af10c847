"""Seeds derived from a run's seed and a named purpose.

Every random stream of the project (weight initialisers, program samples,
search, evaluation subsets, ...) takes its seed from here, so nothing that ran
earlier in the process (data preparation, another experiment, a user's own
code) moves it: Keras initialisers without a seed draw one from Python's
global ``random`` state, which TFDS preparation consumes.
"""

import hashlib


def derive_seed(seed: int, *purpose) -> int:
    """A seed in ``[0, 2**31)`` for ``purpose`` (names, indices) under the run's ``seed``.

    Stable across processes and platforms (Python's ``hash`` of a string is
    salted per process, so it is not used).

    >>> derive_seed(0, "bank", "expand") == derive_seed(0, "bank", "expand")
    True
    >>> derive_seed(0, "bank", "expand") != derive_seed(1, "bank", "expand")
    True
    """
    text = "/".join(str(part) for part in (int(seed), *purpose))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF
