"""carepath's benchmark harness (``python -m bench``; see BENCHMARKS.md).

One module per figure: ``history`` (1: completion cost vs case history, against raw Spiff from
``spiff_baseline``), ``throughput`` (2: completions per second against raw commits), ``returns``
(3: CIN census and Annex A at 100,000 children, run by ``returns_worker``), ``packcheck`` (4: pack
check time). ``cases`` drives wt2023 cases through the real store and builds long histories;
``records_bulk`` writes many records fast; ``profiles`` writes cProfile text for missed targets;
``common`` holds settings, databases, statistics and the machine description.
"""
