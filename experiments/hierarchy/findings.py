"""The hierarchy findings page's numbers, read from a saved run (`docs/findings.py`)."""

import math
from typing import Any

from experiments.hierarchy.analysis import Hierarchy

PREFIX = {"SmolLM2": "s", "MiniLM": "m"}


def _profile_rows(result: Hierarchy, model: str) -> str:
    rows = []
    for r in result.profiles:
        if r["model"] != model:
            continue
        expected = (f"{r['expected']:.2f} [{r['expected_low']:.2f}, {r['expected_high']:.2f}]"
                    if "expected" in r else "-")  # fmt: skip
        random = (f"{r['random_peak_value']:.3f} at {r['random_peak']:.2f}"
                  if "random_peak_value" in r else "-")  # fmt: skip
        rows.append(f"| {r['what']} | {r['source']} | {r['peak']:.2f} | "
                    f"{r['tied_low']:.2f}-{r['tied_high']:.2f} | {r['peak_value']:.3f} | "
                    f"{expected} | {random} |")  # fmt: skip
    return "\n".join(rows)


def _dropping_rows(extra: dict[str, Any]) -> str:
    rows = []
    for name, v in extra.get("dropping", {}).items():
        single, cumulative, ks = v["single"], v["cumulative"], v["top_ks"]
        third = min(range(len(ks)), key=lambda i: abs(ks[i] - len(single) / 3))
        rows.append(f"| {name} | {v['intact']:.3f} | {v['most_needed']} "
                    f"({single[v['most_needed']]:.3f}) | {min(single):.3f}-{max(single):.3f} | "
                    f"{cumulative[0]:.3f} | {cumulative[third]:.3f} (top {ks[third]}) "
                    "|")  # fmt: skip
    return "\n".join(rows) or "| (not run) | | | | | |"


def _finetune_rows(extra: dict[str, Any]) -> str:
    rows = []
    for r in extra.get("finetune", []):
        cka = [r[k] for k in r if k.startswith("cka ")]
        rows.append(f"| {r['frozen']} | {r['accuracy']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                    f" | {r['min']:.3f}-{r['max']:.3f} | "
                    + " / ".join(f"{c:.2f}" for c in cka) + " |")  # fmt: skip
    return "\n".join(rows) or "| (not run) | | | |"


def _profile(result: Hierarchy, model: str, what: str, source: str | None = None) -> dict:
    return next(r for r in result.profiles if r["model"] == model and r["what"] == what
                and (source is None or r["source"] == source))  # fmt: skip


def _at(row: dict, index: int) -> str:
    return f"{row['values'][index]:.3f}"


def _verdict(result: Hierarchy, claim: int, model: str) -> str:
    return next((v["verdict"] for v in result.verdicts
                 if v["claim"] == claim and v["model"] == model), "-")  # fmt: skip


def _discussion(result: Hierarchy) -> dict[str, str]:
    """The numbers the discussion quotes."""
    out: dict[str, str] = {}
    for model, p in PREFIX.items():
        for claim in range(1, 8):
            out[f"{p}_v{claim}"] = _verdict(result, claim, model)
        upos = _profile(result, model, "part of speech (UPOS probe)", "GUM")
        out[f"{p}_upos_exp"] = (f"{upos['expected']:.2f} [{upos['expected_low']:.2f}, "
                                f"{upos['expected_high']:.2f}]")  # fmt: skip
        out[f"{p}_upos_first"], out[f"{p}_upos_peak"] = _at(upos, 0), f"{upos['peak_value']:.3f}"
        mean = _profile(result, model, "sentiment (SST-2, mean pooled)")
        out[f"{p}_sent_first"], out[f"{p}_sent_peak"] = _at(mean, 0), f"{mean['peak_value']:.3f}"
        out[f"{p}_sent_random"] = f"{mean.get('random_peak_value', math.nan):.3f}"
        entity = _profile(result, model, "entity type (probe)")
        out[f"{p}_entity_peak"] = f"{entity['peak_value']:.3f}"
        out[f"{p}_entity_random"] = f"{entity.get('random_peak_value', math.nan):.3f}"
        out[f"{p}_entity_random_at"] = f"{entity.get('random_peak', math.nan):.2f}"
        out[f"{p}_sent_exp"] = (f"{mean['expected']:.2f} [{mean['expected_low']:.2f}, "
                                f"{mean['expected_high']:.2f}]")  # fmt: skip
        extra = result.extras.get(model, {})
        best = extra.get("coref_best", ["-", float("nan"), "-", float("nan"), 0])
        out[f"{p}_coref_head"], out[f"{p}_coref_acc"] = best[0], f"{best[1]:.3f}"
        out[f"{p}_coref_pron_head"], out[f"{p}_coref_pron_acc"] = best[2], f"{best[3]:.3f}"
        out[f"{p}_coref_mentions"] = str(best[4])
        retrieval = _profile(result, model, "coreference (mention retrieval)")
        out[f"{p}_retrieval_peak"] = f"{retrieval['peak_value']:.3f}"
        out[f"{p}_retrieval_at"] = f"{retrieval['peak']:.2f}"
        out[f"{p}_retrieval_last"] = _at(retrieval, -1)
        spread = extra.get("mention_distributions")
        if spread is not None:
            values = spread["separation"]
            peak = max(range(len(values)), key=values.__getitem__)
            out[f"{p}_sep_peak"], out[f"{p}_sep_last"] = f"{values[peak]:.3f}", f"{values[-1]:.3f}"
            out[f"{p}_sep_at"] = f"{spread['depth'][peak]:.2f}"
            out[f"{p}_sep_first"] = f"{values[0]:.3f}"
    last = _profile(result, "SmolLM2", "sentiment (SST-2, last pooled)")
    out["s_sent_last_first"], out["s_sent_last_peak"] = _at(last, 0), f"{last['peak_value']:.3f}"
    out["s_sent_last_at"] = f"{last['peak']:.2f}"
    out["s_sent_last_exp"] = (f"{last['expected']:.2f} [{last['expected_low']:.2f}, "
                              f"{last['expected_high']:.2f}]")  # fmt: skip
    lens = _profile(result, "SmolLM2", "sentiment completion (logit lens, good - bad)")
    out["s_lens_forms"], out["s_lens_final"] = f"{lens['forms_at']:.2f}", _at(lens, -1)
    facts = _profile(result, "SmolLM2", "fact answer (logit lens top-1)")
    out["s_facts_final"], out["s_facts_before"] = _at(facts, -1), _at(facts, -2)
    out["s_facts_n"] = str(facts["n"])
    dla = _profile(result, "SmolLM2", "sentiment completion (DLA per block)")
    order = sorted(range(len(dla["values"])), key=lambda i: -dla["values"][i])[:3]
    out["s_dla_blocks"] = ", ".join(f"{i} ({dla['values'][i]:+.2f})" for i in sorted(order))
    out["s_verify"] = result.extras.get("SmolLM2", {}).get("verify_coreference", "-")
    out["s_sink_peak"] = (
        f"{_profile(result, 'SmolLM2', 'attention: sink (first token)')['peak']:.2f}"
    )
    out["s_local_peak"] = f"{_profile(result, 'SmolLM2', 'attention: local window')['peak']:.2f}"
    composition = result.extras.get("SmolLM2", {}).get("induction", {})
    out["s_induction_heads"] = ", ".join(h for h, _ in composition.get("induction", []))
    out["s_previous_heads"] = ", ".join(h for h, _ in composition.get("previous", []))
    prefix = result.extras.get("MiniLM", {}).get("induction", {}).get("induction", [["-", 0.0]])
    out["m_prefix_best"] = f"{prefix[0][1]:.2f}"
    drop = result.extras.get("SmolLM2", {}).get("dropping", {})
    if drop:
        loss = drop["LM loss"]["single"]
        out["s_loss_intact"] = f"{drop['LM loss']['intact']:.2f}"
        out["s_loss_0"], out["s_loss_11"] = f"{loss[0]:.2f}", f"{loss[11]:.2f}"
        middle = loss[12:24]
        out["s_loss_middle"] = f"{min(middle):.2f}-{max(middle):.2f}"
        out["s_ioi_11"] = f"{drop['IOI logit diff']['single'][11]:.2f}"
        out["s_ioi_intact"] = f"{drop['IOI logit diff']['intact']:.2f}"
    tune = result.extras.get("MiniLM", {}).get("finetune", [])
    if tune:
        first, lastk = tune[0], tune[-1]
        out["m_tune_0"] = f"{first['accuracy']:.3f} [{first['ci_low']:.3f}, {first['ci_high']:.3f}]"
        out["m_tune_all"] = (f"{lastk['accuracy']:.3f} [{lastk['ci_low']:.3f}, "
                             f"{lastk['ci_high']:.3f}]")  # fmt: skip
        cka = [first[k] for k in first if k.startswith("cka ")]
        out["m_cka_first"], out["m_cka_last"] = f"{cka[1]:.2f}", f"{cka[-1]:.2f}"
    return out


def findings(result: Hierarchy) -> dict[str, str]:
    """Every number the page shows."""
    config = result.provenance.config
    values: dict[str, str] = {
        "verdicts": "\n".join(
            f"| {v['claim']}. {v['statement']} | {v['model']} | **{v['verdict']}** | "
            f"{v['evidence']} |" for v in result.verdicts),
        "train_sentences": str(config.get("train_sentences")),
        "eval_sentences": str(config.get("eval_sentences")),
        "sst2_train": str(config.get("sst2_train")),
        "sst2_eval": str(config.get("sst2_eval")),
        "coref_sentences": str(config.get("coref_sentences")),
        "attention_sentences": str(config.get("attention_sentences")),
        "dropping_sentences": str(config.get("dropping_sentences")),
        "finetune_train": str(config.get("finetune_train")),
        "finetune_eval": str(config.get("finetune_eval")),
        "finetune_seeds": str(len(config.get("finetune_seeds") or ())),
    }  # fmt: skip
    for model, p in PREFIX.items():
        extra = result.extras.get(model, {})
        values[f"{p}_profiles"] = _profile_rows(result, model)
        values[f"{p}_dropping"] = _dropping_rows(extra)
        values[f"{p}_finetune"] = _finetune_rows(extra)
        values[f"{p}_finetune_majority"] = f"{extra.get('finetune_majority', float('nan')):.3f}"
        coref = extra.get("coref_baselines", (float("nan"), float("nan")))
        values[f"{p}_nearest"], values[f"{p}_head_match"] = f"{coref[0]:.3f}", f"{coref[1]:.3f}"
    return values | _discussion(result)
