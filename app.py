"""The Gradio demo: `python app.py [--host 127.0.0.1] [--port 7860] [--model-dir DIR] [--share]`."""

from sketchrnn.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
