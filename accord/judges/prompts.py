"""Versioned prompt templates for LLM judges, and the delimiting of the text being judged.

A template is a TOML file (shipped ones live in ``accord/judges/prompts/``, named
``<name>-v<version>.toml``) with keys ``name``, ``version``, ``fields`` (the placeholders it
uses), ``system`` and ``user`` (the two messages, with ``$field`` placeholders in the manner of
:class:`string.Template`), and optionally ``examples``: a list of ``{user, assistant}`` tables
shown as earlier turns of the conversation (few-shot examples, taken literally; small models
follow an answer format they have seen far more reliably than one they were told).
Its :attr:`PromptTemplate.id` (``name-vN+sha``) goes into every judge signature and cache
key, so editing a template without bumping its version still changes them.

Every value filled in is HTML-escaped (``&``, ``<``, ``>``) before substitution, and the
templates put data between tags (``<translation>...</translation>``). A system output therefore
cannot close its own tag, and the answer parsers in :mod:`accord.judges.parsing` ignore
whatever stands between tags, so an output that contains "Score: 100" or "[[A]]" cannot decide
its own verdict.
"""

from __future__ import annotations

import hashlib
import html
import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path

from accord.errors import ConfigError

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"

# Tags that delimit data in the shipped templates; the parsers strip their contents from answers.
DATA_TAGS = ("source", "reference", "translation", "conversation", "reply_a", "reply_b")

Messages = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PromptTemplate:
    """A judge prompt: a system and a user message with ``$field`` placeholders.

    Attributes:
        name: the template's name, e.g. ``"gemba-da"``.
        version: its version string; bump it whenever the wording changes.
        fields: the placeholders every :meth:`render` call must fill.
        system: the system message template.
        user: the user message template.
        sha: the first 8 hex digits of the sha256 of the file's bytes.
        examples: ``(user, assistant)`` turns shown before the user message, verbatim.
    """

    name: str
    version: str
    fields: tuple[str, ...]
    system: str
    user: str
    sha: str
    examples: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        """``name-vVERSION+SHA``: what signatures and cache keys record about the template."""
        return f"{self.name}-v{self.version}+{self.sha}"

    def render(self, **values: str) -> Messages:
        """The ``(role, content)`` messages with every field filled with escaped text.

        Raises:
            ConfigError: a field of the template was not given, or an unknown one was.
        """
        missing = [f for f in self.fields if f not in values]
        unknown = [f for f in values if f not in self.fields]
        if missing or unknown:
            raise ConfigError(
                f"prompt {self.id}: expected fields {', '.join(self.fields)}; "
                f"missing {missing or 'none'}, unknown {unknown or 'none'}"
            )
        escaped = {k: escape(v) for k, v in values.items()}
        turns: list[tuple[str, str]] = []
        for user, assistant in self.examples:
            turns += [("user", user), ("assistant", assistant)]
        return (
            ("system", string.Template(self.system).substitute(escaped)),
            *turns,
            ("user", string.Template(self.user).substitute(escaped)),
        )


def escape(text: str) -> str:
    """HTML-escape ``&``, ``<`` and ``>`` so that data cannot open or close a tag."""
    if not isinstance(text, str):
        raise TypeError(f"prompt values must be strings, got {type(text).__name__}")
    return html.escape(text, quote=False)


_TEMPLATE_KEYS = {"name", "version", "fields", "system", "user"}


def load_prompt(name_or_path: str | Path) -> PromptTemplate:
    """Load a template by shipped id (``"gemba-da-v1"``) or from a TOML file path.

    Raises:
        ConfigError: no such shipped template or file, invalid TOML, missing keys, or a
            placeholder in a message that ``fields`` does not declare.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = PROMPT_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        shipped = sorted(p.stem for p in PROMPT_DIR.glob("*.toml"))
        raise ConfigError(
            f"prompt {str(name_or_path)!r}: no such file or shipped template; shipped: "
            f"{', '.join(shipped)}"
        )
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML prompt template: {exc}") from None
    missing = _TEMPLATE_KEYS - set(data)
    if missing:
        raise ConfigError(f"{path}: prompt template lacks key(s) {', '.join(sorted(missing))}")
    fields = tuple(str(f) for f in data["fields"])
    for key in ("system", "user"):
        used = _placeholders(str(data[key]))
        undeclared = used - set(fields)
        if undeclared:
            raise ConfigError(
                f"{path}: {key} message uses placeholder(s) {', '.join(sorted(undeclared))} "
                f"not listed in fields"
            )
    examples = data.get("examples", [])
    if not isinstance(examples, list) or any(
        not isinstance(e, dict) or set(e) != {"user", "assistant"} for e in examples
    ):
        raise ConfigError(f"{path}: examples must be a list of tables with keys user and "
                          f"assistant")
    return PromptTemplate(
        examples=tuple((str(e["user"]), str(e["assistant"])) for e in examples),
        name=str(data["name"]),
        version=str(data["version"]),
        fields=fields,
        system=str(data["system"]),
        user=str(data["user"]),
        sha=hashlib.sha256(raw).hexdigest()[:8],
    )


def _placeholders(template: str) -> set[str]:
    names = set()
    for match in string.Template.pattern.finditer(template):
        name = match.group("named") or match.group("braced")
        if name:
            names.add(name)
    return names


def strip_data(text: str, tags: tuple[str, ...] = DATA_TAGS) -> str:
    """``text`` with every ``<tag>...</tag>`` region of the data tags blanked out.

    Each character of a region becomes a space (newlines stay), so the result has the length
    of ``text`` and positions carry over.

    An opening tag with no closing tag removes everything after it: an answer that starts to
    quote an output and never closes the quote must not have the quote parsed as its verdict.
    """
    names = "|".join(re.escape(t) for t in tags)
    closed = re.compile(rf"<\s*({names})\s*>.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
    unclosed = re.compile(rf"<\s*({names})\s*>.*\Z", re.IGNORECASE | re.DOTALL)
    for pattern in (closed, unclosed):
        text = pattern.sub(_blank, text)
    return text


def _blank(match: re.Match[str]) -> str:
    # Same length, so that positions in the stripped text are positions in the answer (the
    # token log-probabilities of a score are found by its position).
    return re.sub(r"[^\n]", " ", match.group(0))


def messages_as_dicts(messages: Messages) -> list[dict[str, str]]:
    """The messages in the chat-completions form ``[{"role": ..., "content": ...}]``."""
    return [{"role": role, "content": content} for role, content in messages]

