# REML reference for tests/models/bayes/test_references.py.
# Data: linearmodels.datasets.wage_panel (Vella and Verbeek 1998; 545 men, 1980-1987),
# exported with: python -c "from linearmodels.datasets import wage_panel;
#   wage_panel.load().to_csv('wage_panel.csv', index=False)"
# Run: Rscript wage_panel_lmer.R wage_panel.csv > wage_panel_lmer.json
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
fit <- lmer(lwage ~ educ + black + hisp + exper + expersq + married + union + (1 | nr),
            data = d, REML = TRUE)
fe <- fixef(fit)
se <- sqrt(diag(as.matrix(vcov(fit))))
vc <- as.data.frame(VarCorr(fit))
cat("{\n")
cat(sprintf('  "software": "R %s, lme4 %s",\n', getRversion(), packageVersion("lme4")))
cat('  "call": "lmer(lwage ~ educ + black + hisp + exper + expersq + married + union + (1 | nr), REML = TRUE)",\n')
cat(sprintf('  "nobs": %d,\n', nobs(fit)))
cat('  "fixed": {\n')
nm <- names(fe); nm[nm == "(Intercept)"] <- "Intercept"
cat(paste(sprintf('    "%s": {"estimate": %.10g, "std_error": %.10g}', nm, fe, se), collapse = ",\n"))
cat("\n  },\n")
cat(sprintf('  "sd_nr": %.10g,\n', vc$sdcor[vc$grp == "nr"]))
cat(sprintf('  "sigma": %.10g\n', vc$sdcor[vc$grp == "Residual"]))
cat("}\n")
