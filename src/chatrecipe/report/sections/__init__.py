"""Report sections: pure formatters that lay out results already computed by the stages, in one shape:

    {"title": str, "order": int, "text": str, "tables": [{"title", "columns", "rows", "note"}],
     "plots": ["relative/path.png"], "provenance": {...}, "warnings": [str], "metrics": {...},
     "anchor": "elo" (a stable id other sections link to), "links": [{"text", "href": "#elo"}]}

Evaluation formatters return `(section, per_model)`: the section the report shows, and the headline figures
(value with interval) per model that the cross-run leaderboard collects. The recipe's caveats become warnings right
under the numbers they qualify. Nothing here computes a metric or imports a stage: the report is rebuilt from files.
"""
