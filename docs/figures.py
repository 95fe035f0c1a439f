"""Draw the concept pages' figures: run each command on the shipped model, photograph its report.

    .venv/bin/python docs/figures.py      (or: make figures)

Each command writes its report (the same page a user gets) into a temporary directory, and
headless Chromium, with no network, saves the top of the page as ``docs/images/NAME.png``.
The images are committed; rerun this after changing a report.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mechscope.cli import main
from mechscope.data import dataset_dir

IMAGES = Path(__file__).parent / "images"
EWT = dataset_dir("ud_english_ewt")
COMMANDS = {
    "demo": ["demo"],
    "probe": [
        "probe",
        "minilm",
        "--train",
        str(EWT / "en_ewt-ud-train.conllu"),
        "--eval",
        str(EWT / "en_ewt-ud-dev.conllu"),
        "--tasks",
        "upos",
        "deprel",
        "--max-train-sentences",
        "400",
        "--max-eval-sentences",
        "150",
    ],
    "vit-attention": [
        "reproduce",
        "vit-attention",
        "--models",
        "vit-shapes",
        "--n-images",
        "200",
        "--n-patching",
        "12",
        "--examples",
        "1",
        "--n-probe-train",
        "300",
    ],
    "heads": ["heads", "induction-2l", "--verify", "induction"],
    "patch": ["patch", "induction-2l", "--task", "copy-name"],
    "lens": ["lens", "induction-2l", "--prompt", "def f(x): return f(x)", "--target", ")"],
    "circuits": ["circuits", "induction-2l"],
    "diagnose": ["diagnose", "induction-2l"],
    "train": ["train", "--steps", "300", "--eval-every", "50", "--checkpoint-every", "300",
              "--icl-windows", "64"],  # fmt: skip
}
"""Image name -> the command line (``--out`` is added)."""
WINDOW = "1200,1400"


def photograph(page: Path, image: Path) -> None:
    """The top ``WINDOW`` of ``page`` as a PNG, scripts run (virtual time) before the shot."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("headless Chromium not found (apt install chromium)")
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={WINDOW}", "--virtual-time-budget=10000",
         f"--screenshot={image}", page.as_uri()],
        check=True, capture_output=True,
    )  # fmt: skip


def draw() -> None:
    """Every figure of `COMMANDS` into `IMAGES`."""
    IMAGES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, argv in COMMANDS.items():
            out = Path(tmp) / name
            if main([*argv, "--out", str(out)]) != 0:
                sys.exit(f"{' '.join(argv)} failed")
            photograph(out / "report.html", IMAGES / f"{name}.png")
            sys.stdout.write(f"docs/images/{name}.png\n")


if __name__ == "__main__":
    draw()
