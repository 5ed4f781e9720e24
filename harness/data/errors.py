"""The one error type for bad input data: it names the file, the row (line number) and the field."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input. Printed as one paragraph without a traceback; the job stops before training."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None, field: str | None = None):
        where = ", ".join(p for p in (f"file {path}" if path else "", f"line {line}" if line else "",
                                      f"field '{field}'" if field else "") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.path, self.line, self.field = path, line, field
