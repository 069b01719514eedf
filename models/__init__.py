"""MediaPipe .tflite models shipped with talkcli (see NOTICE)."""
