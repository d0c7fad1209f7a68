"""The Gradio demo: `python app.py [--host 127.0.0.1] [--port 7860] [--model-dir DIR] [--share]`."""

from sketchrnn.cli import quiet_tensorflow_start

quiet_tensorflow_start()  # before TensorFlow is imported: only the demo's own output on stderr

from sketchrnn.demo import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
