"""The ORCA Explorer web app: a Gradio page that drives `orca_engine.session` and draws its events."""
