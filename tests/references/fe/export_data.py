"""Export the two reference data sets to CSV for ``plm_reference.R``.

Run from the repository root:  .venv/bin/python tests/references/fe/export_data.py DIR
Grunfeld: statsmodels' 11-firm data without 'American Steel' (the 10 firms of Stata's
``webuse grunfeld``, 1935-1954). wagepan: linearmodels' ``wage_panel`` (Vella and Verbeek
1998; Wooldridge's WAGEPAN, 545 men, 1980-1987).
"""

import sys
from pathlib import Path

import statsmodels.api as sm
from linearmodels.datasets import wage_panel

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
grunfeld = sm.datasets.grunfeld.load_pandas().data
grunfeld = grunfeld[grunfeld.firm != "American Steel"].copy()
grunfeld["year"] = grunfeld["year"].astype(int)
grunfeld.to_csv(out / "grunfeld.csv", index=False, float_format="%.17g")
wage_panel.load().to_csv(out / "wagepan.csv", index=False, float_format="%.17g")
