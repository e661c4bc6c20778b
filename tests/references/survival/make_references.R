# Reference results for sustain's Cox and Kaplan-Meier code, computed with R's survival package.
#
# Run from the repository root after exporting the data (see README.md):
#   Rscript tests/references/survival/make_references.R > tests/references/survival/make_references.log 2>&1
# Writes coxph.json, survfit.json and hazard_glm.json next to this script (numbers with 17 significant digits).
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
  library(sandwich)
})
here <- "tests/references/survival"
read <- function(name) read.csv(file.path(here, "data", paste0(name, ".csv")))
# jsonlite prints at most 15 significant digits; write numbers with 17 (round-trip precision)
num17 <- function(x) {
  if (is.list(x)) return(lapply(x, num17))
  if (!is.numeric(x)) return(x)
  txt <- ifelse(is.na(x), "null", sprintf("%.17g", x))
  txt <- ifelse(is.infinite(x), "null", txt)
  structure(if (length(x) == 1) txt else paste0("[", paste(txt, collapse = ", "), "]"), class = "json")
}
to_json <- function(x) toJSON(num17(x), auto_unbox = TRUE, pretty = TRUE, na = "null", json_verbatim = TRUE)

cat("R:", R.version.string, "\n")
cat("survival:", as.character(packageVersion("survival")), "\n")
cat("jsonlite:", as.character(packageVersion("jsonlite")), "\n")
cat("sandwich:", as.character(packageVersion("sandwich")), "\n\n")

datasets <- list(rossi = read("rossi"), heart = read("heart"), recur = read("recur"), lung = read("lung"))
# provenance: the exported heart data are survival::heart
stopifnot(isTRUE(all.equal(datasets$heart[, c("start", "stop", "event", "age", "year", "surgery")],
                           survival::heart[, c("start", "stop", "event", "age", "year", "surgery")],
                           check.attributes = FALSE)))

# ---------------------------------------------------------------- coxph
cox_cases <- list(
  rossi_efron = list(data = "rossi", ties = "efron", cluster = NULL,
    formula = Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio),
  rossi_breslow = list(data = "rossi", ties = "breslow", cluster = NULL,
    formula = Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio),
  heart_efron_cluster = list(data = "heart", ties = "efron", cluster = "id",
    formula = Surv(start, stop, event) ~ age + year + surgery + transplant),
  heart_breslow_cluster = list(data = "heart", ties = "breslow", cluster = "id",
    formula = Surv(start, stop, event) ~ age + year + surgery + transplant),
  heart_strata_cluster = list(data = "heart", ties = "efron", cluster = "id",
    formula = Surv(start, stop, event) ~ age + year + transplant + strata(surgery)),
  recur_efron_cluster = list(data = "recur", ties = "efron", cluster = "ID",
    formula = Surv(TIME0, TIME1, CENSOR) ~ AGE + TREAT),
  recur_breslow_cluster = list(data = "recur", ties = "breslow", cluster = "ID",
    formula = Surv(TIME0, TIME1, CENSOR) ~ AGE + TREAT),
  lung_strata_efron = list(data = "lung", ties = "efron", cluster = NULL,
    formula = Surv(time, status) ~ age + ph_ecog + strata(sex)),
  lung_strata_breslow = list(data = "lung", ties = "breslow", cluster = NULL,
    formula = Surv(time, status) ~ age + ph_ecog + wt_loss + strata(sex))
)

cox_out <- list()
for (name in names(cox_cases)) {
  case <- cox_cases[[name]]
  df <- datasets[[case$data]]
  if (is.null(case$cluster)) {
    fit <- coxph(case$formula, data = df, ties = case$ties)
  } else {
    fit <- coxph(case$formula, data = df, ties = case$ties, cluster = df[[case$cluster]])
  }
  naive <- if (is.null(fit$naive.var)) fit$var else fit$naive.var
  call <- paste0("coxph(", paste(deparse(case$formula), collapse = ""), ", data = ", case$data,
                 ", ties = \"", case$ties, "\"",
                 if (is.null(case$cluster)) "" else paste0(", cluster = ", case$cluster), ")")
  cat("==== ", name, "\n", call, "\n", sep = "")
  print(summary(fit))
  cox_out[[name]] <- list(
    call = call, data = case$data, ties = case$ties,
    cluster = if (is.null(case$cluster)) NA else case$cluster,
    terms = names(coef(fit)), coef = unname(coef(fit)),
    se = unname(sqrt(diag(naive))),
    robust_se = if (is.null(fit$naive.var)) NA else unname(sqrt(diag(fit$var))),
    loglik_null = fit$loglik[1], loglik = fit$loglik[2],
    n = fit$n, nevent = fit$nevent, iter = fit$iter
  )
}
write(to_json(cox_out),
      file.path(here, "coxph.json"))

# ---------------------------------------------------------------- survfit (Kaplan-Meier)
km_cases <- list(
  heart_all_loglog = list(data = "heart", conf = "log-log", formula = Surv(start, stop, event) ~ 1),
  heart_surgery_loglog = list(data = "heart", conf = "log-log",
    formula = Surv(start, stop, event) ~ surgery),
  recur_treat_loglog = list(data = "recur", conf = "log-log",
    formula = Surv(TIME0, TIME1, CENSOR) ~ TREAT),
  rossi_fin_log = list(data = "rossi", conf = "log", formula = Surv(week, arrest) ~ fin),
  lung_sex_plain = list(data = "lung", conf = "plain", formula = Surv(time, status) ~ sex)
)
km_out <- list()
for (name in names(km_cases)) {
  case <- km_cases[[name]]
  df <- datasets[[case$data]]
  fit <- survfit(case$formula, data = df, conf.type = case$conf)
  call <- paste0("survfit(", paste(deparse(case$formula), collapse = ""), ", data = ", case$data,
                 ", conf.type = \"", case$conf, "\")")
  cat("==== ", name, "\n", call, "\n", sep = "")
  print(fit)
  strata <- if (is.null(fit$strata)) rep("all", length(fit$time)) else
    rep(sub(".*=", "", names(fit$strata)), fit$strata)
  tab <- summary(fit)$table
  if (is.null(dim(tab))) tab <- t(as.matrix(tab))
  km_out[[name]] <- list(
    call = call, data = case$data, conf_type = case$conf,
    group = strata, time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event,
    surv = fit$surv, std_err = fit$std.err, lower = fit$lower, upper = fit$upper,
    median_group = if (nrow(tab) == 1) "all" else sub(".*=", "", rownames(tab)),
    median = unname(tab[, "median"]),
    median_lower = unname(tab[, "0.95LCL"]), median_upper = unname(tab[, "0.95UCL"])
  )
}
write(to_json(km_out),
      file.path(here, "survfit.json"))

# ---------------------------------------------------------------- discrete-time hazard (glm)
# Rossi as person-weeks: one row per prisoner and week 1..week, event = arrest in the last week.
rossi <- datasets$rossi
pw <- rossi[rep(seq_len(nrow(rossi)), rossi$week), c("fin", "age", "prio")]
pw$id <- rep(seq_len(nrow(rossi)), rossi$week)
pw$t <- sequence(rossi$week)
pw$event <- as.integer(pw$t == rep(rossi$week, rossi$week) & rep(rossi$arrest, rossi$week) == 1)
glm_out <- list()
for (link in c("cloglog", "logit")) {
  # tight convergence: glm's default (epsilon = 1e-8) stops early enough that its standard
  # errors, computed from the weights of the previous iteration, differ in the 5th decimal
  fit <- glm(event ~ fin + age + prio + log(t), family = binomial(link = link), data = pw,
             control = glm.control(epsilon = 1e-14, maxit = 100))
  vc <- vcovCL(fit, cluster = ~id, type = "HC1")
  call <- paste0("glm(event ~ fin + age + prio + log(t), family = binomial(link = \"", link,
                 "\"), data = rossi_person_weeks, control = glm.control(epsilon = 1e-14, ",
                 "maxit = 100)); vcovCL(fit, cluster = ~id, type = \"HC1\")")
  cat("==== rossi_weeks_", link, "\n", call, "\n", sep = "")
  print(summary(fit)$coefficients)
  print(sqrt(diag(vc)))
  glm_out[[paste0("rossi_weeks_", link)]] <- list(
    call = call, link = link, terms = names(coef(fit)), coef = unname(coef(fit)),
    se = unname(sqrt(diag(vcov(fit)))), cluster_se = unname(sqrt(diag(vc))),
    loglik = as.numeric(logLik(fit)), aic = AIC(fit), n = nrow(pw), nevent = sum(pw$event),
    n_clusters = length(unique(pw$id))
  )
}
write(to_json(glm_out), file.path(here, "hazard_glm.json"))
cat("\nwritten coxph.json, survfit.json and hazard_glm.json\n")
