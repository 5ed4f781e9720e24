"""Tools that measure the harness itself (not part of the package a user imports):

    python -m bench.harness_vs_plain     # `make bench`: harness vs plain TRL, reference cache, scaling
"""
