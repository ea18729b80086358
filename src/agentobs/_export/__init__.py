"""The export layer: the pipeline configure() builds, exporters, local files, OTLP JSON,
scrubbing, span processors and the Langfuse exporter."""
