"""Recognition of real digits: photos, scans and drawings -> MNIST-format images -> predictions.

    digit = mnistlab.preprocess("photo_of_a_7.jpg")      # (28, 28) uint8, white ink on black, centred
    results = mnistlab.predict("runs/2026-11-23-fastcnn", ["photo_of_a_7.jpg"])

Pictures are decoded and brought to MNIST's format by mnistlab.pictures (images, preprocess). Modules:
predict, refuser (not a digit), segment and read (numbers), export and onnx_conversion (ONNX / SavedModel
files), serving_engine (the fastest runtime for serving), server (REST API and drawing page, static/).
"""
