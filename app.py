"""Start the ORCA Explorer web app: build the UI and launch it (locally, or as a Hugging Face Space)."""
from app.ui import build_ui, launch_options

demo = build_ui()

if __name__ == "__main__":
    demo.launch(**launch_options())
