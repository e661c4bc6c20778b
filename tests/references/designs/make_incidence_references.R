# Cumulative-incidence references for sustain (tests/models/survival/test_incidence.py).
# Run from tests/references/designs/:
#   Rscript make_incidence_references.R > make_incidence_references.log 2>&1
# Software: R 4.2.2, survival 3.5-3, cmprsk 2.2-11 (Debian bookworm packages r-base-core,
# r-cran-survival, r-cran-cmprsk). Data: export_incidence_data.py (the example data set).
library(survival)
library(cmprsk)
sessionInfo()

causes <- c("closed", "deregistered", "lost_contracts", "merged")
as_state <- function(x) factor(ifelse(is.na(x) | x == "", "censor", x), levels = c("censor", causes))

tidy <- function(fit, label) {
  states <- fit$states
  out <- list()
  strata <- if (is.null(fit$strata)) rep(label, length(fit$time)) else
    rep(sub(".*=", "", names(fit$strata)), fit$strata)
  for (k in causes) {
    j <- match(k, states)
    out[[k]] <- data.frame(group = strata, cause = k, time = fit$time,
                           estimate = fit$pstate[, j], std_error = fit$std.err[, j],
                           lower = fit$lower[, j], upper = fit$upper[, j])
  }
  do.call(rbind, out)
}
write <- function(x, file) write.csv(x, file, row.names = FALSE, quote = TRUE)
options(digits = 17)

# 1. delayed entry: age-scale agency-year spells, influence summed by agency (id)
sp <- read.csv("incidence_spells.csv", stringsAsFactors = FALSE, na.strings = "")
sp$state <- as_state(sp$exit_reason)
fit <- survfit(Surv(start, stop, state) ~ 1, data = sp, id = agency_id)
print(fit)
write(tidy(fit, "all"), "aj_delayed_R.csv")
fit_g <- survfit(Surv(start, stop, state) ~ origin, data = sp, id = agency_id)
write(tidy(fit_g, NA), "aj_delayed_by_origin_R.csv")

# 2. right-censored (no delayed entry): one row per agency
rc <- read.csv("incidence_right_censored.csv", stringsAsFactors = FALSE, na.strings = "")
rc$state <- as_state(rc$cause)
fit_rc <- survfit(Surv(time, state) ~ 1, data = rc, id = agency_id)
write(tidy(fit_rc, "all"), "aj_right_censored_R.csv")

# 3. Gray's test between origins, one per cause (cmprsk::cuminc)
code <- as.integer(rc$state) - 1L  # 0 censored, 1..4 causes in the order of `causes`
ci <- cuminc(rc$time, code, group = rc$origin, cencode = 0)
tests <- data.frame(cause = causes, stat = ci$Tests[, "stat"], pvalue = ci$Tests[, "pv"],
                    df = ci$Tests[, "df"])
print(tests)
write(tests, "gray_R.csv")
