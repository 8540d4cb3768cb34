"""``imcombine ... project=yes``: one output per input, IRAF's matching output lists.

With ``project=yes`` IRAF combines each input image along its highest axis and writes
one output per input, so ``output`` and every product name (``sigmas=``, ``bpmasks=``,
...) are lists of as many names as there are inputs: ``@file`` lists or comma lists.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from ._errors import CLIError

__all__ = ["output_list", "projected_calls"]


def output_list(token: str, n: int, what: str) -> list[str]:
    """The ``n`` names of an output list: ``@file`` (one name a line) or ``a,b,c``."""
    from ._inputs import read_list_file

    names = read_list_file(token[1:]) if token.startswith("@") else [t.strip() for t in token.split(",") if t.strip()]
    if len(names) != n:
        raise CLIError(f"{what}: project=yes writes one image per input: give {n} names (a comma list or "
                       f"@file), got {len(names)}")
    return names


def projected_calls(call: Any, info: Any) -> list[tuple[Any, Any]]:
    """One (task call, input info) per input image of a ``project=yes`` call."""
    from ._check import InputInfo

    n = info.n
    outputs = output_list(call.output, n, "output")
    products = {k: output_list(v, n, f"{k}=") for k, v in call.products.items()}
    if "headers" in products:
        raise CLIError("headers=: not available with project=yes (each output has one input image)")
    runs = []
    for i in range(n):
        sub = replace(call, inputs=[info.paths[i]], output=outputs[i],
                      products={k: v[i] for k, v in products.items()})
        runs.append((sub, InputInfo(paths=[info.paths[i]], frames=[info.frames[i]], shape=info.frames[i].shape)))
    names = [os.path.abspath(o) for o in outputs]
    if len(set(names)) != len(names):
        raise CLIError("output: project=yes needs a different output name for every input")
    return runs
