# Bad-input catalogue and fault tests (issue 5).
