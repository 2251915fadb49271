"""Start the ORCA Explorer web app (placeholder until the full UI lands)."""
import gradio as gr

with gr.Blocks(title="ORCA Explorer") as demo:
    gr.Markdown("# ORCA Explorer\nCross-modal fine-tuning, align then refine. The interactive flow is coming.")

if __name__ == "__main__":
    demo.launch()
