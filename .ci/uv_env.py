"""Print ``export UV_...`` lines that give uv the package sources pip is configured with.

uv installs the same versions as pip (``unsafe-best-match``: the best version across every
index, as pip chooses) several times faster, but it does not read pip's configuration. Here
pip's find-links, extra indexes and constraints (``pip config list``, which includes the
``PIP_*`` environment) are passed on; with none configured uv uses PyPI, as pip would.
"""

import shlex
import subprocess
import sys

UV_NAMES = {
    "find-links": "UV_FIND_LINKS",
    "extra-index-url": "UV_EXTRA_INDEX_URL",
    "index-url": "UV_INDEX_URL",
    "constraint": "UV_CONSTRAINT",
}


def main() -> None:
    """Read ``pip config list`` and print the matching uv environment."""
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    values: dict[str, str] = {}
    from_environment: set[str] = set()
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        scope, _, option = key.rpartition(".")
        if option not in UV_NAMES or not value or UV_NAMES[option] in from_environment:
            continue  # a PIP_* variable overrides pip's files, as in pip
        values[UV_NAMES[option]] = value.strip("'\"")
        if scope == ":env:":
            from_environment.add(UV_NAMES[option])
    values["UV_INDEX_STRATEGY"] = "unsafe-best-match"
    for name, value in values.items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
