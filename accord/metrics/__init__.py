"""Metrics: the Metric interface, the registry, and accord's built-in metrics.

Built-ins are registered by name with the class's import path, so importing this package
imports no heavy dependency; a metric's module is imported when the metric is created.
"""

from accord.metrics.base import (
    Metric,
    create_metric,
    metric_class,
    metric_names,
    register_builtin,
    register_metric,
)

for _name, _target in {
    # objective match
    "exact_match": "accord.metrics.objective:ExactMatch",
    "numeric_match": "accord.metrics.objective:NumericMatch",
    # lexical overlap (sacrebleu, rouge-score)
    "bleu": "accord.metrics.lexical:BLEU",
    "chrf": "accord.metrics.lexical:ChrF",
    "ter": "accord.metrics.lexical:TER",
    "rouge1": "accord.metrics.lexical:Rouge1",
    "rouge2": "accord.metrics.lexical:Rouge2",
    "rougeL": "accord.metrics.lexical:RougeL",
    "length_ratio": "accord.metrics.objective:LengthRatio",
    "length": "accord.metrics.objective:ResponseLength",
    # embedding similarity and learned regressors (extra: neural)
    "bertscore": "accord.metrics.neural:BERTScore",
    "comet": "accord.metrics.neural:COMET",
    # LLM-as-judge (extra: judges)
    "judge-da": "accord.judges.metrics:DirectAssessmentJudge",
    "judge-da-qe": "accord.judges.metrics:DirectAssessmentQEJudge",
    "judge-mqm": "accord.judges.metrics:MQMJudge",
}.items():
    register_builtin(_name, _target)

__all__ = [
    "Metric",
    "create_metric",
    "metric_class",
    "metric_names",
    "register_builtin",
    "register_metric",
]
