# Reference numbers for tests/models/test_adversarial_references.py (independent review of fit_fe, hausman,
# fit_hazard, fit_cox, to_spells and kaplan_meier), computed with R on the data in data/.
# Run from the repository root:
#   .venv/bin/python tests/references/review/make_data.py
#   Rscript tests/references/review/review.R > tests/references/review/review.log 2>&1
# Writes review.json (numbers with 17 significant digits) and data/spells_{age,calendar}.csv.
# Nothing here uses sustain: at-risk rows, duration bands, spells, the random-effects variance
# components and first differences are computed from their definitions below.
suppressPackageStartupMessages({
  library(plm); library(sandwich); library(lmtest); library(survival); library(splines)
  library(jsonlite)
})
here <- "tests/references/review"
cat("R:", R.version.string, "\n")
for (p in c("plm", "sandwich", "lmtest", "survival", "jsonlite"))
  cat(p, ":", as.character(packageVersion(p)), "\n")
num17 <- function(x) {
  if (is.list(x)) return(lapply(x, num17))
  if (!is.numeric(x)) return(x)
  txt <- ifelse(is.na(x) | is.infinite(x), "null", sprintf("%.17g", x))
  structure(if (length(x) == 1) txt else paste0("[", paste(txt, collapse = ", "), "]"),
            class = "json")
}
out <- list()
se <- function(v) unname(sqrt(diag(v)))
keep <- function(name, call, coefs, ses, ...) {
  cat("\n==== ", name, "\n", call, "\n", sep = "")
  print(cbind(estimate = coefs, std_error = ses))
  extra <- list(...)
  if (length(extra)) str(extra)
  out[[name]] <<- c(list(call = call, terms = names(coefs), estimate = unname(coefs),
                         std_error = ses), extra)
}

# ------------------------------------------------------------------ fixed effects
fe <- read.csv(file.path(here, "data", "fe_panel.csv"))
pfe <- pdata.frame(fe, index = c("agency_id", "year"))
cc <- fe[complete.cases(fe[, c("quality", "hhi", "gov_share")]), ]
tw <- plm(quality ~ hhi + gov_share, pfe, model = "within", effect = "twoways")
keep("fe_twoway", "plm(quality ~ hhi + gov_share, model = 'within', effect = 'twoways'); vcov()",
     coef(tw), se(vcov(tw)), nobs = nobs(tw), df_resid = df.residual(tw))
lsdv <- lm(quality ~ hhi + gov_share + factor(agency_id) + factor(year), data = cc)
b <- coef(lsdv)[2:3]
keep("fe_twoway_cluster_agency", "vcovCL(lm LSDV, cluster = ~agency_id, type = 'HC1')",
     b, se(vcovCL(lsdv, cluster = ~agency_id, type = "HC1"))[2:3])
keep("fe_twoway_cluster_district", "vcovCL(lm LSDV, cluster = ~district, type = 'HC1')",
     b, se(vcovCL(lsdv, cluster = ~district, type = "HC1"))[2:3])
keep("fe_twoway_cluster_agency_year",
     "vcovCL(lm LSDV, cluster = ~agency_id + year, type = 'HC1', multi0 = FALSE)",
     b, se(vcovCL(lsdv, cluster = ~agency_id + year, type = "HC1", multi0 = FALSE)[2:3, 2:3]))
ow <- plm(quality ~ hhi + gov_share, pfe, model = "within", effect = "individual")
keep("fe_oneway_scc", "vcovSCC(plm oneway within, type = 'HC0', maxlag = 2)",
     coef(ow), se(vcovSCC(ow, type = "HC0", maxlag = 2)),
     nobs = nobs(ow), n_absorbed = length(unique(cc$agency_id)))
keep("fe_twoway_scc", "vcovSCC(plm twoways within, type = 'HC0', maxlag = 2)",
     coef(tw), se(vcovSCC(tw, type = "HC0", maxlag = 2)),
     nobs = nobs(tw), n_absorbed = length(unique(cc$agency_id)) + length(unique(cc$year)) - 1)
wls <- lm(quality ~ hhi + gov_share + factor(agency_id) + factor(year), data = cc, weights = w)
keep("fe_twoway_weighted", "lm(LSDV, weights = w); vcov()", coef(wls)[2:3], se(vcov(wls))[2:3])
keep("fe_twoway_weighted_cluster", "vcovCL(lm(LSDV, weights = w), cluster = ~agency_id, type = 'HC1')",
     coef(wls)[2:3], se(vcovCL(wls, cluster = ~agency_id, type = "HC1"))[2:3])
tier <- lm(quality ~ hhi + factor(main_tier) + factor(agency_id), data = fe)
keep("fe_oneway_main_tier", "lm(quality ~ hhi + factor(main_tier) + factor(agency_id)); vcov()",
     coef(tier)[2:4], se(vcov(tier))[2:4], nobs = nobs(tier))
# redundant effect dummies, counted by their rank: agency effects with district x year effects
# (agencies nested in districts: one connected group per district) and a panel whose agencies
# fall into two groups observed in disjoint years
cc$district_year <- paste0(cc$district, cc$year)
dy <- lm(quality ~ hhi + gov_share + factor(agency_id) + factor(district_year), data = cc)
keep("fe_agency_district_year", "lm(quality ~ hhi + gov_share + factor(agency_id) + factor(district_year)); vcov()",
     coef(dy)[2:3], se(vcov(dy))[2:3], df_resid = df.residual(dy), rank = dy$rank)
keep("fe_agency_district_year_cluster", "vcovCL(same lm, cluster = ~agency_id, type = 'HC1')",
     coef(dy)[2:3], se(vcovCL(dy, cluster = ~agency_id, type = "HC1")[2:3, 2:3]))
disc <- read.csv(file.path(here, "data", "disconnected_panel.csv"))
dc <- lm(y ~ x + factor(agency_id) + factor(year), data = disc)
keep("fe_disconnected", "lm(y ~ x + factor(agency_id) + factor(year)) on two unconnected groups; vcov()",
     coef(dc)[2], se(vcov(dc))[2], df_resid = df.residual(dc),
     plm_df_resid = df.residual(plm(y ~ x, pdata.frame(disc, index = c("agency_id", "year")),
                                    model = "within", effect = "twoways")))
# first differences between adjacent years of an agency (never across a gap), no constant
s <- cc[order(cc$agency_id, cc$year), ]
lagged <- s[c(NA, seq_len(nrow(s) - 1)), ]
adjacent <- !is.na(lagged$agency_id) & lagged$agency_id == s$agency_id & s$year - lagged$year == 1
d <- data.frame(dq = s$quality - lagged$quality, dh = s$hhi - lagged$hhi,
                dg = s$gov_share - lagged$gov_share)[adjacent, ]
fd <- lm(dq ~ 0 + dh + dg, data = d)
keep("fe_first_difference", "lm(diff(quality) ~ 0 + diff(hhi) + diff(gov_share)) over adjacent years",
     setNames(coef(fd), c("hhi", "gov_share")), se(vcov(fd)), nobs = nrow(d))
# random effects, Stata's xtreg, re default (Swamy-Arora with the harmonic mean of T_i,
# [XT] xtreg Methods and formulas), written out: sigma_e from the within regression,
# sigma_u from the between regression of agency means, then GLS on quasi-demeaned data
k <- 2
n <- nrow(cc); ids <- cc$agency_id; t_i <- as.vector(table(ids)[ids]); N <- length(unique(ids))
sigma2_e <- sum(residuals(ow)^2) / (n - N - k)
means <- aggregate(cc[, c("quality", "hhi", "gov_share")], by = list(id = ids), FUN = mean)
between <- lm(quality ~ hhi + gov_share, data = means)
t_bar <- N / sum(1 / as.vector(table(ids)))
sigma2_u <- max(0, sum(residuals(between)^2) / (N - k - 1) - sigma2_e / t_bar)
theta <- 1 - sqrt(sigma2_e / (t_i * sigma2_u + sigma2_e))
m <- means[match(ids, means$id), ]
gls <- lm(I(quality - theta * m$quality) ~ 0 + I(1 - theta) + I(hhi - theta * m$hhi) +
            I(gov_share - theta * m$gov_share), data = cc)
keep("fe_random_stata", "GLS with Stata's xtreg, re variance components (written out)",
     setNames(coef(gls), c("Intercept", "hhi", "gov_share")), se(vcov(gls)),
     sigma_u = sqrt(sigma2_u), sigma_e = sqrt(sigma2_e))
swar <- plm(quality ~ hhi + gov_share, pfe, model = "random", random.method = "swar")
keep("fe_random_plm_swar", "plm(model = 'random', random.method = 'swar') (Baltagi-Chang: xtreg, re sa)",
     setNames(coef(swar), c("Intercept", "hhi", "gov_share")), se(vcov(swar)))
# Hausman on a balanced panel where V_FE - V_RE is indefinite
hp <- pdata.frame(read.csv(file.path(here, "data", "hausman_panel.csv")), index = c("agency_id", "year"))
h_fe <- plm(y ~ x1 + x2, hp, model = "within")
h_re <- plm(y ~ x1 + x2, hp, model = "random", random.method = "swar")
h <- phtest(h_fe, h_re)  # plm reports abs(d' solve(V_FE - V_RE) d) with df = k
print(h)
dv <- vcov(h_fe) - vcov(h_re)[2:3, 2:3]
out[["hausman_indefinite"]] <- list(call = "phtest(plm within, plm random swar)",
  statistic = unname(h$statistic), df = unname(h$parameter), p_value = h$p.value,
  eigenvalues = eigen(dv)$values, fe = unname(coef(h_fe)), re = unname(coef(h_re)[2:3]))
print(eigen(dv)$values)

# ------------------------------------------------------------------ discrete-time hazard
hz <- read.csv(file.path(here, "data", "hazard_panel.csv"))
hz <- hz[order(hz$agency_id, hz$year), ]
before <- ave(hz$exit, hz$agency_id, FUN = function(e) cumsum(e) - e)
risk <- hz[before == 0, ]
cat("\nhazard rows at risk:", nrow(risk), "of", nrow(hz), "\n")
# duration bands: walking up the ages, a band closes once it has an exit and a survivor;
# trailing ages that never get there join the last band
ages <- sort(unique(risk$age)); bands <- list(); lo <- NA; ne <- 0; ns <- 0
for (a in ages) {
  if (is.na(lo)) lo <- a
  ne <- ne + sum(risk$exit[risk$age == a]); ns <- ns + sum(risk$exit[risk$age == a] == 0)
  if (ne >= 1 && ns >= 1) { bands[[length(bands) + 1]] <- c(lo, a); lo <- NA; ne <- 0; ns <- 0 }
}
if (!is.na(lo)) bands[[length(bands)]][2] <- max(ages)
upper <- sapply(bands, `[`, 2)
risk$band <- factor(findInterval(risk$age, upper, left.open = TRUE) + 1)
band_names <- sapply(bands, function(b) if (b[1] == b[2]) sprintf("age[%g]", b[1]) else sprintf("age[%g-%g]", b[1], b[2]))
ctl <- glm.control(epsilon = 1e-14, maxit = 100)
for (link in c("cloglog", "logit")) {
  g <- glm(exit ~ hhi + log_revenue + factor(district) + band, family = binomial(link = link),
           data = risk, control = ctl)
  keep(paste0("hazard_dummies_", link),
       sprintf("glm(exit ~ hhi + log_revenue + factor(district) + band, binomial('%s')); vcovCL(cluster = ~agency_id, type = 'HC1')", link),
       coef(g), se(vcovCL(g, cluster = ~agency_id, type = "HC1")),
       model_se = se(vcov(g)), loglik = as.numeric(logLik(g)), nobs = nobs(g),
       n_events = sum(risk$exit), bands = band_names)
}
g <- glm(exit ~ hhi + log_revenue + bs(age, df = 4), family = binomial(link = "cloglog"),
         data = risk, control = ctl)
keep("hazard_spline_cloglog", "glm(exit ~ hhi + log_revenue + bs(age, df = 4), binomial('cloglog')); vcovCL(HC1)",
     coef(g), se(vcovCL(g, cluster = ~agency_id, type = "HC1")), loglik = as.numeric(logLik(g)))
g <- glm(exit ~ hhi + log_revenue, family = binomial(link = "logit"), data = risk, control = ctl)
keep("hazard_none_logit_model_se", "glm(exit ~ hhi + log_revenue, binomial('logit')); vcov()",
     coef(g), se(vcov(g)), loglik = as.numeric(logLik(g)))

# ------------------------------------------------------------------ spells, Cox and Kaplan-Meier
spells <- list(
  age = data.frame(agency_id = risk$agency_id, year = risk$year, start = risk$age,
                   stop = risk$age + 1, event = risk$exit, hhi = risk$hhi,
                   log_revenue = risk$log_revenue, district = risk$district),
  calendar = data.frame(agency_id = risk$agency_id, year = risk$year,
                        start = risk$year - min(risk$year), stop = risk$year - min(risk$year) + 1,
                        event = risk$exit, hhi = risk$hhi, log_revenue = risk$log_revenue,
                        district = risk$district))
for (scale in names(spells)) {
  sp <- spells[[scale]]
  write.csv(sp, file.path(here, "data", sprintf("spells_%s.csv", scale)), row.names = FALSE)
  cat("\n", scale, ": rows starting at another row's event time:",
      sum(sp$start %in% sp$stop[sp$event == 1]), "\n")
  for (ties in c("efron", "breslow")) {
    f <- coxph(Surv(start, stop, event) ~ hhi + log_revenue + strata(district), data = sp,
               ties = ties, cluster = agency_id)
    keep(sprintf("cox_%s_%s_strata_cluster", scale, ties),
         sprintf("coxph(Surv(start, stop, event) ~ hhi + log_revenue + strata(district), ties = '%s', cluster = agency_id)", ties),
         coef(f), se(f$var), naive_se = se(f$naive.var), loglik = f$loglik[2],
         loglik_null = f$loglik[1], nobs = f$n, n_events = f$nevent)
  }
}
f <- coxph(Surv(start, stop, event) ~ hhi + log_revenue + factor(district), data = spells$calendar,
           cluster = agency_id)
keep("cox_calendar_efron_district_cluster",
     "coxph(Surv(start, stop, event) ~ hhi + log_revenue + factor(district), cluster = agency_id)",
     coef(f), se(f$var), naive_se = se(f$naive.var), loglik = f$loglik[2])
sep <- read.csv(file.path(here, "data", "separation.csv"))
f <- withCallingHandlers(coxph(Surv(start, stop, event) ~ x + sep, data = sep),
                         warning = function(w) { cat("R warning:", conditionMessage(w), "\n"); invokeRestart("muffleWarning") })
keep("cox_separation", "coxph(Surv(start, stop, event) ~ x + sep) (warns: beta may be infinite)",
     coef(f), se(f$var), loglik = f$loglik[2], loglik_null = f$loglik[1])

km_cases <- list(
  km_age_district_loglog = list(data = "age", by = "district", conf = "log-log"),
  km_calendar_all_log = list(data = "calendar", by = NULL, conf = "log"),
  km_age_all_plain = list(data = "age", by = NULL, conf = "plain"))
for (name in names(km_cases)) {
  case <- km_cases[[name]]; sp <- spells[[case$data]]
  form <- if (is.null(case$by)) Surv(start, stop, event) ~ 1 else
    as.formula(paste("Surv(start, stop, event) ~", case$by))
  f <- survfit(form, data = sp, conf.type = case$conf)
  call <- sprintf("survfit(%s, data = spells_%s, conf.type = '%s')", deparse(form), case$data, case$conf)
  cat("\n==== ", name, "\n", call, "\n", sep = ""); print(f)
  group <- if (is.null(f$strata)) rep("all", length(f$time)) else rep(sub(".*=", "", names(f$strata)), f$strata)
  tab <- summary(f)$table; if (is.null(dim(tab))) tab <- t(as.matrix(tab))
  out[[name]] <- list(call = call, group = group, time = f$time, n_risk = f$n.risk,
    n_event = f$n.event, surv = f$surv, std_err = f$std.err, lower = f$lower, upper = f$upper,
    median_group = if (nrow(tab) == 1) "all" else sub(".*=", "", rownames(tab)),
    median = unname(tab[, "median"]), median_lower = unname(tab[, "0.95LCL"]),
    median_upper = unname(tab[, "0.95UCL"]))
}
write(toJSON(num17(out), auto_unbox = TRUE, pretty = TRUE, na = "null", json_verbatim = TRUE),
      file.path(here, "review.json"))
cat("\nwrote review.json with", length(out), "cases\n")
