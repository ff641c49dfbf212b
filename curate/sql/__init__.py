"""DuckDB SQL that every part may use: paths quoted so they read exactly their own file (`paths`), and
the checks that let a user's SELECT read without writing (`read_only`). Imports nothing but DuckDB and
`curate.errors`, so the read side (`curate.report`) and the stages share it without importing each other."""
