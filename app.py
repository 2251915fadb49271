"""Start the ORCA Explorer web app: build the UI and launch it (locally, or as a Hugging Face Space)."""
import os

if os.environ.get("SPACES_ZERO_GPU"):  # a ZeroGPU Space: `spaces` must come before torch touches CUDA
    import spaces  # noqa: F401

from app.ui import build_ui, launch_options

demo = build_ui()

if __name__ == "__main__":
    demo.launch(**launch_options())
