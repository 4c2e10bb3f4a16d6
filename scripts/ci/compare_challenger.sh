#!/usr/bin/env bash
# dev -> test: score the challenger (VOLCAST_CI_CHALLENGER, default the @challenger alias)
# against the live @champion on the same window (`volcast compare`), write the CML comment
# (comparison table + forecast-vs-realized PNG, then the `volcast report` markdown summary) to
# VOLCAST_CI_REPORT_DIR (default reports/ci),
# post it on the pull request when VOLCAST_CML_COMMENT=1 (`cml comment create`), and exit
# non-zero when the challenger is worse (9) or the comparison failed (its own code).
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
: "${MLFLOW_TRACKING_URI:?MLFLOW_TRACKING_URI must name the MLflow server of the team}"
out="${VOLCAST_CI_REPORT_DIR:-reports/ci}"
status=0
volcast compare --symbol "$ci_symbol" --interval "$ci_interval" --config "$ci_config" \
  --challenger "${VOLCAST_CI_CHALLENGER:-challenger}" --output-dir "$out" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 9 ]; then
  echo "compare_challenger: the comparison itself failed (exit $status); no comment" >&2
  exit "$status"
fi
comment=("$out"/comparison_*.md)
# below the verdict, the series' `volcast report` summary (data, quality gate, backtest with
# Diebold-Mariano tests, promotions, drift and loss); its HTML is kept with the artefacts
if volcast report --symbol "$ci_symbol" --interval "$ci_interval" --config "$ci_config" \
  --output "$out/report.html" --markdown "$out/report.md"; then
  { printf '\n---\n\n'; cat "$out/report.md"; } >>"${comment[0]}"
else
  echo "compare_challenger: volcast report failed; the comment has the comparison only" >&2
fi
output comment "${comment[0]}"
if [ "${VOLCAST_CML_COMMENT:-0}" = 1 ]; then
  cml comment create --publish "${comment[0]}"
fi
exit "$status"
