"""Built-in prompts: short English text with repeated words, punctuation and names.

Written for mechscope (no data set licence attached); used when a command gets no
``--prompts`` file. Each line mixes the features the head kinds look for: duplicate tokens,
punctuation, and phrases that recur later in the same prompt.
"""

from pathlib import Path

from mechscope.core.errors import PromptError

DEFAULT_PROMPTS = (
    "When Mary and John went to the store, John gave a drink to Mary.",
    "The cat sat on the mat, and the dog sat on the rug; both were happy.",
    "Alice wrote the report. Bob read the report, then Alice wrote another report.",
    "In 1969, the first people walked on the Moon; in 1972, the last ones left it.",
    'She said: "The train leaves at nine." He said: "The train leaves at ten."',
    "Red, green and blue are colours; red, green and blue light make white light.",
    "The river flows north. The river floods in spring. The river freezes in winter.",
    "def add(a, b):\n    return a + b\n\nprint(add(1, 2), add(3, 4))",
    "Paris is the capital of France, and Rome is the capital of Italy.",
    "If the test fails, fix the code; if the code is fixed, run the test again.",
    "Tom bought apples, pears and plums. Later, Tom ate the apples and the plums.",
    "The committee met on Monday, argued on Tuesday, and agreed on Wednesday.",
    "A small boat crossed the lake at dawn, and the same small boat returned at dusk.",
    "Numbers: one, two, three, four; again: one, two, three, four.",
    "The teacher asked the student a question, and the student asked the teacher another.",
    "Water boils at 100 degrees; ice melts at 0 degrees (at sea level, that is).",
)


def read_prompts(path: str | Path) -> list[str]:
    """One prompt per non-empty line of a UTF-8 text file.

    Raises:
        PromptError: the file cannot be read or has no non-empty line.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a BOM is not text
    except (OSError, UnicodeDecodeError) as error:
        raise PromptError(
            f"cannot read prompts from {path}: {error}; give a UTF-8 text file."
        ) from error
    prompts = [line for line in lines if line.strip()]
    if not prompts:
        raise PromptError(f"{path} has no prompts; write one prompt per line.")
    return prompts


PRONOUN_TEMPLATES = (
    "When {name} got home from work,",
    "{name} went to the store because",
    "{name} walked into the room. After a while,",
)
"""Prompts whose next word is likely a pronoun for ``{name}`` (gendered-pronoun prediction,
Mathwin et al. 2023, "Identifying a Preliminary Circuit for Predicting Gendered Pronouns in
GPT-2 Small"). On SmolLM2-135M the first gives a logit difference of +4.2 (16 of 16 names
right), the others about +0.8 to +1.0."""
FEMININE_NAMES = ("Mary", "Anna", "Sarah", "Emma", "Lisa", "Alice", "Julia", "Laura")
MASCULINE_NAMES = ("John", "David", "Michael", "James", "Robert", "Peter", "Thomas", "Daniel")


def pronoun_prompts(
    templates: tuple[str, ...] = PRONOUN_TEMPLATES,
) -> list[tuple[str, str]]:
    """Every template with every name: ``(prompt, pronoun)``, the pronoun ``"she"`` or ``"he"``.

    Raises:
        PromptError: a template without ``{name}``.
    """
    if not templates or any("{name}" not in t for t in templates):
        raise PromptError("every pronoun template needs a {name} field, e.g. '{name} said that'.")
    return [
        (template.format(name=name), pronoun)
        for template in templates
        for names, pronoun in ((FEMININE_NAMES, "she"), (MASCULINE_NAMES, "he"))
        for name in names
    ]
