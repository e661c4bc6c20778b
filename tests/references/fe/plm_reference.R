# Reference results for sustain.fit_fe from R's plm (see README.md in this folder).
# Usage (from the repository root):
#   .venv/bin/python tests/references/fe/export_data.py /tmp/fe_ref
#   Rscript tests/references/fe/plm_reference.R /tmp/fe_ref tests/references/fe/plm_reference.csv \
#     > tests/references/fe/plm_reference.log 2>&1
suppressPackageStartupMessages({library(plm); library(sandwich); library(lmtest)})
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]; out_file <- args[2]
cat("R:", R.version.string, "\nplm:", format(packageVersion("plm")),
    "\nsandwich:", format(packageVersion("sandwich")), "\n\n")

grunfeld <- pdata.frame(read.csv(file.path(dir, "grunfeld.csv")), index = c("firm", "year"))
wagepan <- pdata.frame(read.csv(file.path(dir, "wagepan.csv")), index = c("nr", "year"))

rows <- list()
add <- function(case, model, vcov) {
  ct <- coeftest(model, vcov. = vcov)
  print(case); print(ct)
  rows[[case]] <<- data.frame(case = case, term = rownames(ct), estimate = ct[, 1],
                              std_error = ct[, 2], row.names = NULL)
}

g <- invest ~ value + capital
g_within <- plm(g, grunfeld, model = "within", effect = "individual")
g_twoway <- plm(g, grunfeld, model = "within", effect = "twoways")
g_random <- plm(g, grunfeld, model = "random", random.method = "swar")
g_between <- plm(g, grunfeld, model = "between")
g_fd <- plm(invest ~ value + capital - 1, grunfeld, model = "fd")  # linearmodels has no FD intercept
g_pooled <- plm(g, grunfeld, model = "pooling")
add("grunfeld_within", g_within, vcov(g_within))
add("grunfeld_within_cluster_hc0", g_within, vcovHC(g_within, type = "HC0", cluster = "group"))
add("grunfeld_within_cluster_hc1", g_within, vcovHC(g_within, type = "HC1", cluster = "group"))
add("grunfeld_within_white_hc0", g_within, vcovHC(g_within, method = "white1", type = "HC0"))
add("grunfeld_within_scc_hc0", g_within, vcovSCC(g_within, type = "HC0", maxlag = 2))
add("grunfeld_twoway", g_twoway, vcov(g_twoway))
add("grunfeld_twoway_cluster_hc0", g_twoway, vcovHC(g_twoway, type = "HC0", cluster = "group"))
add("grunfeld_random", g_random, vcov(g_random))
add("grunfeld_between", g_between, vcov(g_between))
add("grunfeld_fd", g_fd, vcov(g_fd))
add("grunfeld_pooled", g_pooled, vcov(g_pooled))
add("grunfeld_pooled_cluster_hc0", g_pooled, vcovHC(g_pooled, type = "HC0", cluster = "group"))
h <- phtest(g_within, g_random)
print(h)
rows[["grunfeld_hausman"]] <- data.frame(case = "grunfeld_hausman",
  term = c("statistic", "df", "p_value"),
  estimate = c(unname(h$statistic), unname(h$parameter), h$p.value), std_error = NA)
cat("Grunfeld within R2 (plm):", r.squared(g_within), "\n")

# Wooldridge, Introductory Econometrics, Example 14.4 (Table 14.2): wage equation on WAGEPAN
w_re <- lwage ~ educ + black + hisp + exper + expersq + married + union + factor(year)
w_fe <- lwage ~ expersq + married + union + factor(year)
w_pooled <- plm(w_re, wagepan, model = "pooling")
w_random <- plm(w_re, wagepan, model = "random", random.method = "swar")
w_within <- plm(w_fe, wagepan, model = "within", effect = "individual")
w_twoway <- plm(lwage ~ expersq + married + union, wagepan, model = "within", effect = "twoways")
add("wagepan_pooled", w_pooled, vcov(w_pooled))
add("wagepan_random", w_random, vcov(w_random))
add("wagepan_within", w_within, vcov(w_within))
add("wagepan_within_cluster_hc0", w_within, vcovHC(w_within, type = "HC0", cluster = "group"))
add("wagepan_twoway", w_twoway, vcov(w_twoway))
add("wagepan_twoway_cluster_hc0", w_twoway, vcovHC(w_twoway, type = "HC0", cluster = "group"))

out <- do.call(rbind, rows)
out$estimate <- sprintf("%.17g", out$estimate)
out$std_error <- ifelse(is.na(out$std_error), "", sprintf("%.17g", out$std_error))
write.csv(out, out_file, row.names = FALSE)
cat("\nwrote", nrow(out), "rows to", out_file, "\n")
