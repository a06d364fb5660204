"""Monthly recorded-crime forecasts with prediction intervals and rolling-origin back-tests.

* :mod:`.series` — checking a monthly series (gaps, length, structural breaks);
* :mod:`.methods` — seasonal naive, ETS(A,Ad,A), SARIMA airline model, ensemble (vectorised
  across series and origins) and their statsmodels references;
* :mod:`.backtest` — rolling-origin back-tests: MASE, sMAPE, interval coverage;
* :mod:`.outlook` — :func:`forecast_with_accuracy`, a forecast with its back-test.
"""

from guardian.analysis.forecast.backtest import (
    BacktestResult,
    backtest_origins,
    mase_scale,
    rolling_origin_backtest,
    smape,
)
from guardian.analysis.forecast.methods import (
    FAST_METHODS,
    LABELS,
    LEVELS,
    METHODS,
    Predictions,
    predict,
)
from guardian.analysis.forecast.outlook import ForecastResult, forecast_with_accuracy
from guardian.analysis.forecast.series import (
    LOCKDOWNS_2020_21,
    MIN_TRAIN_MONTHS,
    BreakWindow,
    MonthlySeries,
    detect_breaks,
    prepare_series,
)

__all__ = [
    "FAST_METHODS", "LABELS", "LEVELS", "LOCKDOWNS_2020_21", "METHODS", "MIN_TRAIN_MONTHS",
    "BacktestResult", "BreakWindow", "ForecastResult", "MonthlySeries", "Predictions",
    "backtest_origins", "detect_breaks", "forecast_with_accuracy", "mase_scale", "predict",
    "prepare_series", "rolling_origin_backtest", "smape",
]
