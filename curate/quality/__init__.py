"""Quality: heuristic signals, fastText language ID, trainable fastText quality classifiers, filters."""
