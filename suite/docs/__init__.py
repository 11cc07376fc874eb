"""Documentation generated from the suite itself (tables computed, never typed by hand).

:mod:`suite.docs.blocks` rewrites a marked block of a Markdown page and checks that a committed
page is current; :mod:`suite.docs.mapping_bias` computes the bias table of the mapping
sequences (``python -m suite.docs.mapping_bias docs/mapping-bias.md``).
"""
