"""Token counts: tokenizers read from files on this machine (`tokenizer`) and the `token_count` stage
(`stage`)."""
