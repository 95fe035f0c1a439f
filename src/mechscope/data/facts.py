"""Factual completions with one-word answers: the logit-lens prompt set (nostalgebraist 2020).

Each fact is a prompt and the word that completes it, with its leading space (so it is one
token for most BPE vocabularies). Relations: capitals, languages, currencies, continents,
landmarks and assorted world knowledge. Which of them a model answers (and which answers are
single tokens for its tokenizer) is decided by the caller and reported.
"""

from typing import NamedTuple


class Fact(NamedTuple):
    """A prompt, the answer that completes it, and the relation it tests."""

    prompt: str
    answer: str
    relation: str


_CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid",
    "Japan": "Tokyo", "Russia": "Moscow", "England": "London", "Egypt": "Cairo",
    "Greece": "Athens", "Austria": "Vienna", "Portugal": "Lisbon", "Ireland": "Dublin",
    "Norway": "Oslo", "Poland": "Warsaw", "Hungary": "Budapest", "China": "Beijing",
    "Thailand": "Bangkok", "Kenya": "Nairobi", "Peru": "Lima", "Cuba": "Havana",
    "Sweden": "Stockholm", "Denmark": "Copenhagen", "Finland": "Helsinki", "Turkey": "Ankara",
}  # fmt: skip
_LANGUAGES = {
    "France": "French", "Germany": "German", "Italy": "Italian", "Spain": "Spanish",
    "Japan": "Japanese", "Russia": "Russian", "Greece": "Greek", "Portugal": "Portuguese",
    "China": "Chinese", "Poland": "Polish", "Sweden": "Swedish", "Turkey": "Turkish",
}  # fmt: skip
_CURRENCIES = {
    "Japan": "yen", "the United Kingdom": "pound", "Russia": "ruble", "India": "rupee",
    "China": "yuan", "Mexico": "peso", "Germany": "euro", "Switzerland": "franc",
}  # fmt: skip
_CONTINENTS = {
    "Japan": "Asia", "Kenya": "Africa", "Brazil": "South", "France": "Europe",
    "Egypt": "Africa", "Canada": "North", "Australia": "Australia", "Germany": "Europe",
}  # fmt: skip
_OTHER = [
    ("The Eiffel Tower is located in the city of", "Paris", "landmark"),
    ("The Colosseum is located in the city of", "Rome", "landmark"),
    ("The Statue of Liberty is located in the city of New", "York", "landmark"),
    ("The Great Wall is located in", "China", "landmark"),
    ("The largest planet in the solar system is", "Jupiter", "science"),
    ("Water freezes at zero degrees", "Celsius", "science"),
    ("The chemical symbol for gold is", "Au", "science"),
    ("The first man to walk on the moon was Neil", "Armstrong", "person"),
    ("The theory of relativity was developed by Albert", "Einstein", "person"),
    ("Romeo and Juliet was written by William", "Shakespeare", "person"),
    ("The Mona Lisa was painted by Leonardo da", "Vinci", "person"),
    ("A week has seven", "days", "common"),
    ("The opposite of hot is", "cold", "common"),
    ("Monday, Tuesday, Wednesday,", "Thursday", "common"),
]

FACTS: tuple[Fact, ...] = (
    *(Fact(f"The capital of {c} is", f" {a}", "capital") for c, a in _CAPITALS.items()),
    *(Fact(f"The official language of {c} is", f" {a}", "language")
      for c, a in _LANGUAGES.items()),
    *(Fact(f"The currency of {c} is the", f" {a}", "currency") for c, a in _CURRENCIES.items()),
    *(Fact(f"{c} is a country in the continent of", f" {a}", "continent")
      for c, a in _CONTINENTS.items()),
    *(Fact(p, f" {a}", r) for p, a, r in _OTHER),
)  # fmt: skip
"""66 facts over 8 relations."""
