"""The beian command line and the embedded server that runs the system on one machine."""
