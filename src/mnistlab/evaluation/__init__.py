"""Evaluation of trained models: metrics, pictures, the HTML report and the runs leaderboard.

`mnistlab.evaluate(target)` (in `api`) is the entry point; `metrics`, `plots`, `feature_maps`, `report`
and `leaderboard` each hold one concept.
"""
