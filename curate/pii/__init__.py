"""PII redaction: detectors that propose candidates by pattern and keep them by check (`detectors`, with
the Luhn and IBAN checks in `checksums`), and the `pii` stage that counts and replaces them (`stage`)."""
