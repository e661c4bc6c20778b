"""Published panel-regression output used as reference numbers, with provenance.

Each entry keeps the command that produced the numbers, the software, the source where they
are printed and the numbers *as printed* (strings, so that the test derives its tolerance from
the printed digits: half a unit in the last printed place). ``sustain_call`` is the call that
must reproduce them; the data sets are those of ``export_data.py``.
"""

STATA_XTREG_FE_GRUNFELD = {
    "cmdline": "webuse grunfeld; xtset company year; xtreg invest mvalue kstock, fe",
    "software": "Stata 16 (StataMP-64), run through the R package RStata",
    "source": (
        "Wang Shao, 'Rstudio中编辑R、Python与Stata' (blog post, 2020-12-31), a public "
        "R Markdown page whose knitted output prints this xtreg table; found through the "
        "code-search corpus (document id 6852662399)."
    ),
    "sample": "10 firms, 1935-1954, N = 200 (statsmodels' grunfeld without American Steel)",
    "storage": (
        "grunfeld.dta stores invest, mvalue and kstock as float (single precision); the "
        "test rounds the data to float32 as Stata holds them, which reproduces the printed "
        "_cons (-58.74393; -58.743939 with double-precision data)"
    ),
    "sustain_call": (
        "fit_fe(grunfeld, 'invest ~ 1 + value + capital', effects='firm')  "
        "# mvalue = value, kstock = capital; '1 +' asks for Stata's _cons"
    ),
    "params": {"value": ".1101238", "capital": ".3100653", "Intercept": "-58.74393"},
    "bse": {"value": ".0118567", "capital": ".0173545", "Intercept": "12.45369"},
    "r2": {"r2_within": "0.7668", "r2_between": "0.8194", "r2_overall": "0.8060"},
    "df_resid": 188,
}

STATA_XTREG_RE_GRUNFELD = {
    "cmdline": "webuse grunfeld; xtset company year; xtreg invest mvalue kstock, re",
    "software": "Stata (xtreg, re: Swamy-Arora GLS)",
    "source": (
        "No printed Stata log of this command was found in the sources available offline. "
        "The standard errors and variance components below are the values quoted as Stata's "
        "output for this command in a third-party test suite found through the code-search "
        "corpus (document id 70317249377: 'standard errors 28.8989 / .0104927 / .0171805', "
        "'sigma_u 84.20095', 'sigma_e 52.767964'). Coefficients are checked at full precision "
        "against R plm's Swamy-Arora estimator in plm_reference.csv, which is the same "
        "estimator on a balanced panel."
    ),
    "sample": "10 firms, 1935-1954, N = 200",
    "sustain_call": "fit_fe(grunfeld, 'invest ~ value + capital', estimator='random')",
    "bse": {"Intercept": "28.8989", "value": ".0104927", "capital": ".0171805"},
    "stats": {"sigma_u": "84.20095", "sigma_e": "52.767964"},
}

WOOLDRIDGE_EXAMPLE_14_4 = {
    "cmdline": (
        "lwage on educ black hisp exper expersq married union and year dummies: pooled OLS, "
        "random effects, fixed effects (educ, black, hisp, exper drop out)"
    ),
    "software": "textbook table",
    "source": (
        "Wooldridge, Introductory Econometrics: A Modern Approach, Example 14.4, Table 14.2 "
        "'Three Different Estimators of a Wage Equation' (WAGEPAN data, 545 men, 1980-1987); "
        "linearmodels ships the data as datasets.wage_panel"
    ),
    "sustain_calls": {
        "pooled": (
            "fit_fe(wagepan, 'lwage ~ educ + black + hisp + exper + expersq + married + "
            "union + C(year)', estimator='pooled')"
        ),
        "random": (
            "fit_fe(wagepan, 'lwage ~ educ + black + hisp + exper + expersq + married + "
            "union + C(year)', estimator='random')"
        ),
        "within": "fit_fe(wagepan, 'lwage ~ expersq + married + union + C(year)', effects='nr')",
    },
    "params": {
        "pooled": {
            "educ": ".091",
            "black": "-.139",
            "hisp": ".016",
            "exper": ".067",
            "expersq": "-.0024",
            "married": ".108",
            "union": ".182",
        },
        "random": {
            "educ": ".092",
            "black": "-.139",
            "hisp": ".022",
            "exper": ".106",
            "expersq": "-.0047",
            "married": ".064",
            "union": ".106",
        },
        "within": {"expersq": "-.0052", "married": ".047", "union": ".080"},
    },
    "bse": {
        "pooled": {
            "educ": ".005",
            "black": ".024",
            "hisp": ".021",
            "exper": ".014",
            "expersq": ".0008",
            "married": ".016",
            "union": ".017",
        },
        "random": {
            "educ": ".011",
            "black": ".048",
            "hisp": ".043",
            "exper": ".015",
            "expersq": ".0007",
            "married": ".017",
            "union": ".018",
        },
        "within": {"expersq": ".0007", "married": ".018", "union": ".019"},
    },
}
