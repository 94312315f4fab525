"""Rewrite the MyST a lesson uses into markdown JupyterLab renders.

The book renders MyST directives and roles; JupyterLab shows them as raw text.
For the generated notebooks, each construct the lessons use becomes plain
markdown: an exercise a bold heading with the book's number, a dropdown a
`<details>` block (static, author-written HTML), an admonition a quote, a
`{doc}` reference a link the generator resolves (to the sibling notebook, where
the page is a lesson), other references their text, and the gated solution
markers nothing at all. Glued numbers are filled in from the notebook's own
outputs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Mapping

# ::::{name} argument \n :option: value \n body \n :::: (colon fences of 3+; the closing fence matches the opening).
_DIRECTIVE = re.compile(
    r"^(?P<fence>:{3,})\{(?P<name>[\w-]+)\}[ \t]*(?P<arg>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$\n?",
    re.DOTALL | re.MULTILINE,
)
_OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>[^\n]*)\n?", re.MULTILINE)
_GLUE = re.compile(r"\{glue(?::text)?\}`(?P<key>[\w.-]+)(?::(?P<spec>[^`]+))?`")
_XREF = re.compile(r"\{(?P<role>doc|ref|numref)\}`(?:(?P<text>[^<`]+?)\s*<(?P<to>[^>`]+)>|(?P<target>[^`]+))`")
# Resolves a {doc} reference, `(target, text or None)`, into markdown; the generator knows where pages are.
Linker = Callable[[str, "str | None"], str]
_ADMONITIONS = {"note": "Note", "tip": "Tip", "warning": "Warning", "important": "Important", "caution": "Caution",
                "attention": "Attention", "seealso": "See also", "hint": "Hint"}


def _split_options(body: str) -> tuple[dict[str, str], str]:
    options: dict[str, str] = {}
    while (match := _OPTION.match(body)) is not None:
        options[match["key"]] = match["value"].strip()
        body = body[match.end():]
    return options, body.strip("\n")


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def _render(name: str, arg: str, body: str, exercise_titles: Mapping[str, str], link: Linker | None) -> str:
    options, body = _split_options(body)
    body = to_jupyter(body, exercise_titles, link)
    if name in ("solution-start", "solution-end", "exercise-end"):
        return ""
    if name in ("exercise", "exercise-start"):
        title = exercise_titles.get(options.get("label", ""), "Exercise")
        heading = f"**{title}**" + (f": {arg.strip()}" if arg.strip() else "")
        return f"{heading}\n\n{body}\n"
    if name == "dropdown":
        return f"<details>\n<summary>{arg.strip() or 'Show'}</summary>\n\n{body}\n\n</details>\n"
    if name in _ADMONITIONS or name == "admonition":
        title = arg.strip() if name == "admonition" else _ADMONITIONS[name]
        return _quote(f"**{title}**\n\n{body}") + "\n"
    raise ValueError(f"the MyST directive {{{name}}} has no Jupyter rendering; add one in faultfirst/build/myst.py")


def _reference(match: re.Match[str], link: Linker | None) -> str:
    text = " ".join(match["text"].split()) if match["text"] else None
    if match["role"] == "doc" and link is not None:
        return link((match["to"] or match["target"]).strip(), text)
    return text or match["target"].strip()


def to_jupyter(markdown: str, exercise_titles: Mapping[str, str], link: Linker | None = None) -> str:
    """The markdown of one cell, with MyST directives made plain and `{doc}` references made links by `link`
    (their text, without one)."""
    markdown = _DIRECTIVE.sub(lambda m: _render(m["name"], m["arg"], m["body"], exercise_titles, link), markdown)
    markdown = _XREF.sub(lambda m: _reference(m, link), markdown)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip("\n")


def fill_glue(markdown: str, lookup: Callable[[str], str]) -> str:
    """Replace `{glue:text}`key:spec`` with the glued value (its text/plain repr), formatted by spec."""
    def value(match: re.Match[str]) -> str:
        text = lookup(match["key"])
        spec = match["spec"]
        if not spec:
            return text
        try:
            return format(ast.literal_eval(text), spec)
        except (ValueError, SyntaxError) as err:
            raise ValueError(f"glued value {match['key']!r} = {text} cannot take the format {spec!r}") from err
    return _GLUE.sub(value, markdown)


def _exercises(markdown: str) -> Iterator[dict[str, str]]:
    for match in _DIRECTIVE.finditer(markdown):
        if match["name"] in ("exercise", "exercise-start"):
            options, _ = _split_options(match["body"])
            if "label" not in options:
                raise ValueError("every {exercise} needs a :label: (its check is found by that label)")
            yield options


def exercise_labels(markdown: str) -> list[str]:
    """The labels of the exercises a markdown cell states, in order."""
    return [options["label"] for options in _exercises(markdown)]


def numbered_exercise_labels(markdown: str) -> list[str]:
    """The labels of the exercises the book numbers, in order (sphinx-exercise skips those marked `:nonumber:`)."""
    return [options["label"] for options in _exercises(markdown) if "nonumber" not in options]
