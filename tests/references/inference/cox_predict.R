# Survival predictions of Cox fits for covariate profiles, with R's survfit.coxph.
#
# Run from the repository root (uses the data exported for tests/references/survival):
#   Rscript tests/references/inference/cox_predict.R > tests/references/inference/cox_predict.log 2>&1
# Writes cox_predict.json next to this script (numbers with 17 significant digits).
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})
here <- "tests/references/inference"
read <- function(name) read.csv(file.path("tests/references/survival/data", paste0(name, ".csv")))
num17 <- function(x) {
  if (is.list(x)) return(lapply(x, num17))
  if (!is.numeric(x)) return(x)
  txt <- ifelse(is.na(x), "null", sprintf("%.17g", x))
  structure(if (length(x) == 1) txt else paste0("[", paste(txt, collapse = ", "), "]"), class = "json")
}
cat("R:", R.version.string, "\n")
cat("survival:", as.character(packageVersion("survival")), "\n")
cat("jsonlite:", as.character(packageVersion("jsonlite")), "\n\n")

cases <- list(
  rossi_efron = list(data = "rossi", formula = Surv(week, arrest) ~ fin + age + prio, ties = "efron",
                     sustain = list(formula = "fin + age + prio", start = NULL, stop = "week", event = "arrest"),
                     newdata = data.frame(fin = c(0, 1, 1), age = c(25, 30, 40), prio = c(3, 1, 0)),
                     times = c(5, 10, 30, 52), conf_type = "log"),
  rossi_breslow_loglog = list(data = "rossi", formula = Surv(week, arrest) ~ fin + age + prio, ties = "breslow",
                     sustain = list(formula = "fin + age + prio", start = NULL, stop = "week", event = "arrest"),
                     newdata = data.frame(fin = c(0, 1), age = c(20, 35), prio = c(5, 2)),
                     times = c(10, 30, 52), conf_type = "log-log"),
  heart_cluster = list(data = "heart", formula = Surv(start, stop, event) ~ age + year + surgery + transplant,
                     ties = "efron", cluster = "id",
                     sustain = list(formula = "age + year + surgery + transplant", start = "start", stop = "stop", event = "event"),
                     newdata = data.frame(age = c(-5, 5), year = c(3, 5), surgery = c(0, 1), transplant = c(1, 0)),
                     times = c(50, 200, 1000), conf_type = "log"),
  lung_strata = list(data = "lung", formula = Surv(time, status) ~ age + ph_ecog + strata(sex), ties = "efron",
                     strata = "sex",
                     sustain = list(formula = "age + ph_ecog", start = NULL, stop = "time", event = "status"),
                     newdata = data.frame(age = c(60, 70), ph_ecog = c(1, 2), sex = c(1, 2)),
                     times = c(100, 300, 500), conf_type = "plain")
)
out <- list()
for (name in names(cases)) {
  case <- cases[[name]]
  df <- read(case$data)
  if (is.null(case$cluster)) {
    fit <- coxph(case$formula, data = df, ties = case$ties)
  } else {
    fit <- coxph(case$formula, data = df, ties = case$ties, cluster = df[[case$cluster]])
  }
  rows <- list()
  for (i in seq_len(nrow(case$newdata))) {
    sf <- survfit(fit, newdata = case$newdata[i, , drop = FALSE], conf.type = case$conf_type)
    s <- summary(sf, times = case$times, extend = TRUE)
    rows[[i]] <- list(surv = s$surv, lower = s$lower, upper = s$upper, std_err = s$std.err)
  }
  cat("==", name, "\n"); print(fit); print(rows)
  out[[name]] <- list(
    data = paste0("tests/references/survival/data/", case$data, ".csv"),
    call = paste0("coxph(", paste(deparse(case$formula), collapse = ""), ", ties = '", case$ties, "'",
                  if (is.null(case$cluster)) "" else paste0(", cluster = ", case$cluster), "); ",
                  "summary(survfit(fit, newdata = row, conf.type = '", case$conf_type, "'), times = times)"),
    sustain = case$sustain, ties = case$ties, cluster = if (is.null(case$cluster)) NULL else case$cluster,
    strata = if (is.null(case$strata)) NULL else case$strata,
    newdata = as.list(case$newdata), times = case$times, conf_type = case$conf_type,
    coef = unname(coef(fit)), rows = rows
  )
}
writeLines(toJSON(num17(out), auto_unbox = TRUE, pretty = TRUE, null = "null", json_verbatim = TRUE),
           file.path(here, "cox_predict.json"))
