"""curate: curate text corpora for language-model pretraining, and measure what curation buys."""

__version__ = "0.1.0"
