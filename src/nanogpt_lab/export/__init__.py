"""Export a run to Hugging Face GPT-2 (safetensors) or ONNX."""
