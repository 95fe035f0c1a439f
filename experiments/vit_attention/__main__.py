"""``python -m experiments.vit_attention``: attention on the image grid of the shipped ViTs."""

import sys
from collections.abc import Iterator, Sequence

from experiments.vit_attention.config import JOB, Config
from mechscope.cli import execute


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.vit_attention"
) -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - the experiment's Result
    """Print accuracy, distance by layer, [CLS] on the object, and the verdicts."""
    from mechscope.core import mean_and_sem

    for name, findings in result.models.items():
        yield f"{name}: held-out accuracy {findings.accuracy:.3f} ± {findings.accuracy_se:.3f}"
        for row in findings.layer_rows():
            yield (
                f"  layer {row['layer']}: distance {row['distance_px']:.2f} px "
                f"(heads {row['distance_min']:.2f}-{row['distance_max']:.2f}; uniform "
                f"{row['uniform_px']:.2f}), [CLS] on object {row['cls_share']:.3f} ± "
                f"{row['cls_share_se']:.3f}, rollout {row['rollout_share']:.3f}, chance "
                f"{row['chance']:.3f}, lens accuracy {row['lens_accuracy']:.3f}, patching "
                f"object patches {row['object_patch_effect']:.3f} vs background "
                f"{row['background_patch_effect']:.3f}"
            )
        drop = findings.moved[:, 0] - findings.moved[:, 1]
        yield (
            f"  object moved: class log-prob falls by {float(drop.mean()):.3f} ± "
            f"{mean_and_sem(drop)[1]:.3f}, accuracy "
            f"{float(findings.moved[:, 2].mean()):.3f} -> {float(findings.moved[:, 3].mean()):.3f}"
        )
        for probe in (findings.class_probe, findings.side_probe):
            yield (
                f"  probe for the {probe.task} on [CLS] by boundary: "
                + " ".join(f"{float(a):.3f}" for a in probe.accuracy)
                + f" (control {float(probe.control.max()):.3f} at most, random init "
                + " ".join(f"{float(a):.3f}" for a in probe.random_init)
                + f", majority {probe.majority:.3f})"
            )
        for claim in findings.claims():
            yield f"  {claim['verdict']}: {claim['claim']} ({claim['measured']})"
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
