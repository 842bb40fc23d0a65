"""The ablation table of issue 13: the paper's claims measured on the billiards world's ground truth.

`python -m benchmarks.ablations --budget small|full --seeds 3 --studies ... --out DIR` (see __main__.py);
studies.py says what is measured, runner.py trains and measures, report.py writes the table, the
statements and the pictures.
"""
