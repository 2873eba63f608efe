"""The report writer: one list of blocks (doc.py) rendered to `report.md` and `report.html`,
plus the data behind it (`claims.json`, `data/<experiment>.csv`). Nothing in it depends on the
clock or the machine, so the same seed gives the same report."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from dlrmsim.reproduce import doc, jobmix, noise, paper, summaries
from dlrmsim.reproduce.doc import Block, Bullets, Heading, Image, Para, Table
from dlrmsim.reproduce.types import VERDICTS, ClaimResult, ExperimentResult, Settings

TITLE = "dlrmsim: the experiments of Acun et al. (HPCA 2021), reproduced by simulation"
METHOD_NOTES = {"fig5": noise, "fig9": jobmix}


def claims_table(results: Sequence[ClaimResult], brief: bool = False) -> Table:
    """The claims as a table; `brief` leaves out the statement and the method."""
    if brief:
        return Table(("claim", "verdict", "our numbers"),
                     tuple((r.claim.id, r.verdict.status, r.verdict.detail) for r in results))
    return Table(("claim", "source", "the paper says (our paraphrase)", "how we check",
                  "verdict", "our numbers"),
                 tuple((r.claim.id, r.claim.source, r.claim.statement, r.claim.method,
                        r.verdict.status, r.verdict.detail) for r in results))


def _tally(results: Sequence[ClaimResult]) -> str:
    counts = Counter(r.verdict.status for r in results)
    return ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)


def _intro(settings: Settings, results: Sequence[ClaimResult]) -> list[Block]:
    return [
        Heading(1, TITLE),
        Para(f"Mode **{settings.mode}** (seed {settings.seed}, {settings.iterations} simulated "
             f"iterations per worker, {settings.fig5_runs} runs for Figure 5, "
             f"{settings.fig9_jobs} sampled jobs for Figure 9). Every result is the simulator's "
             "prediction from the presets (analytic cost model, datasheet rates); none is "
             f"measured. The paper is {paper.PAPER}."),
        Para("How to read it: each section shows our figure, what the paper says (our "
             "paraphrase, with its section), our numbers, and the verdict of each claim. A "
             "verdict is computed from this run's rows with the stated method; **not compared** "
             "means the paper's value is not quoted here or the data was not produced. Paper "
             "numbers appear only where listed under *Paper values quoted*."),
        Heading(2, "Claims"),
        Para(f"{len(results)} claims: {_tally(results)}." + _why_failures(results)),
        claims_table(results),
    ]


def _why_failures(results: Sequence[ClaimResult]) -> str:
    failed = [r.claim.id for r in results if r.verdict.status == "fail"]
    if not failed:
        return ""
    return (f" Why {', '.join(failed)} fail, with the numbers behind each and what was tried, "
            "is written up in the repository's `docs/paper_findings.md`.")


def _experiment(result: ExperimentResult, claims: Sequence[ClaimResult]) -> list[Block]:
    exp = result.experiment
    blocks: list[Block] = [Heading(2, f"{exp.paper_ref}: {exp.title}")]
    blocks += [Image(f, f"Ours ({exp.paper_ref}): {Path(f).stem.replace('_', ' ')}")
               for f in result.figures]
    blocks.append(Para(f"**The paper.** {paper.STATEMENTS[exp.id]}"))
    if exp.id in METHOD_NOTES:
        method = METHOD_NOTES[exp.id]
        text = (method.__doc__ or "").strip()
        blocks.append(Para("**How we model it.** " + " ".join(text.split())))
        blocks.append(Table(("setting", "value", "what it is"), method.method_parameters()))
    blocks += [Para("**Our numbers.**"), summaries.SUMMARIES[exp.id](result.rows)]
    if exp.id == "table3":
        blocks += _table_iii_notes()
        blocks.append(summaries.accounting(result.rows))
    mine = [c for c in claims if c.claim.experiment == exp.id]
    if mine:
        blocks += [Para("**Claims.**"), claims_table(mine, brief=True)]
    return blocks


def _table_iii_notes() -> list[Block]:
    return [
        Para("**Power accounting.** Relative power efficiency = relative throughput x "
             "P_cpu / P_gpu, with power in units of one CPU server and one Big Basin = "
             f"{paper.POWER_RATIO.text()} ({paper.POWER_RATIO.source}). *all servers* counts "
             "every server of both setups, M3's remote parameter servers on the GPU side "
             "included; *gpu server only* leaves those out; *trainers only* counts CPU trainers "
             "against the Big Basin. The report uses **all servers**, which is what the "
             "simulator's power adds up (the last column of the table above must equal it). "
             "The last column says which accounting reproduces the paper's efficiency from its "
             "throughput within 5%, or that none does; it needs both paper values, and reads "
             f"*{paper.NOT_QUOTED}* while they are not quoted."),
    ]


def _quoted() -> list[Block]:
    rows = tuple(paper.quoted_values())
    return [Heading(2, "Paper values quoted"),
            Para("Every number of the paper this report uses, with its source. They are the "
                 "figures the project's design notes transcribe from the paper, and the presets "
                 "are built on (each preset names its source: `dlrmsim presets show NAME`); a "
                 f"value we do not know reliably is marked *{paper.NOT_QUOTED}* and compared "
                 "with nothing."),
            Table(("what", "value", "source"), rows),
            Bullets(("Claim statements are paraphrases of the sections named, not quotations.",
                     "Thresholds that turn words such as 'falls' or 'several times' into "
                     "numbers are ours and stated in each claim's method."))]


def blocks(settings: Settings, results: Sequence[ExperimentResult],
           claims: Sequence[ClaimResult]) -> list[Block]:
    out = _intro(settings, claims)
    for result in results:
        out += _experiment(result, claims)
    return out + _quoted()


def write(folder: Path, settings: Settings, results: Sequence[ExperimentResult],
          claims: Sequence[ClaimResult]) -> list[Path]:
    """Write report.md, report.html, claims.json and data/*.csv into `folder`."""
    content = blocks(settings, results, claims)
    paths = [folder / "report.md", folder / "report.html", folder / "claims.json"]
    paths[0].write_text(doc.to_markdown(content))
    paths[1].write_text(doc.to_html(content, TITLE))
    paths[2].write_text(json.dumps([c.to_dict() for c in claims], indent=2) + "\n")
    (folder / "data").mkdir(exist_ok=True)
    for result in results:
        paths.append(write_csv(folder / "data" / f"{result.experiment.id}.csv", result.rows))
    return paths


def write_csv(path: Path, rows: Sequence[dict[str, object]]) -> Path:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path
