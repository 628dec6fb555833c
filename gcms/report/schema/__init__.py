"""JSON Schema of the report JSON (report.schema.json)."""
