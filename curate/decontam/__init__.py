"""Benchmark decontamination: an exact index of the evaluation sets' word n-grams (`index`), built once per
run and memory-mapped by the workers, and the `decontaminate` stage that flags, removes or redacts the
documents that share n-grams with them (`stage`)."""
