"""The application: command line, configuration, the runner that builds the stages, the streaming
pipeline, distributed runs and interrupt handling."""
