"""Export the public data sets used by the R references to CSV (run from the repository root).

The data ship with lifelines (``lifelines.datasets``); most of them originate in R's survival
package. Column names with dots are renamed with underscores so that the same names work in
R and in Python formulas. Run::

    .venv/bin/python tests/references/survival/export_data.py

and then ``Rscript tests/references/survival/make_references.R`` (see README.md).
"""

from __future__ import annotations

from pathlib import Path

import lifelines
from lifelines import datasets

OUT = Path(__file__).resolve().parent / "data"


def main() -> None:
    """Write rossi, heart, recur and lung to ``data/*.csv``."""
    OUT.mkdir(exist_ok=True)
    frames = {
        # Rossi et al. (1980) recidivism: one row per released prisoner, weekly times (many ties)
        "rossi": datasets.load_rossi(),
        # Stanford heart transplant, counting-process form (R: survival::heart)
        "heart": datasets.load_stanford_heart_transplants(),
        # Recurrent soreness episodes (Hosmer, Lemeshow and May), counting-process form
        "recur": datasets.load_recur(),
        # NCCTG lung cancer (R: survival::lung with status recoded 0/1)
        "lung": datasets.load_lung(),
    }
    for name, frame in frames.items():
        frame = frame.rename(columns=lambda c: c.replace(".", "_"))
        frame.to_csv(OUT / f"{name}.csv", index=False)
    (OUT / "VERSION.txt").write_text(f"exported from lifelines {lifelines.__version__}\n")


if __name__ == "__main__":
    main()
